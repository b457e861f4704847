//! The browser harness itself, on a small form served by a throwaway axum server: that a real
//! headless Chromium fills, ticks, submits, reads, uses the keyboard, measures sideways
//! scrolling, saves screenshots and downloads, on a desktop and on a phone, and that it leaves
//! no process behind.

use std::time::Instant;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use tokio::net::TcpListener;
use tranche_tests::browser::{Browser, Viewport, artifacts_dir};

const FORM: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Harness form</title>
  <style>
    body { font-family: sans-serif; margin: 0 auto; max-width: 36rem; padding: 1rem; }
    label { display: block; margin-top: 1rem; }
    input[type=text] { box-sizing: border-box; width: 100%; font-size: 1rem; padding: .5rem; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
                       clip: rect(0 0 0 0); white-space: nowrap; }
    .fancy { display: inline-block; border: 2px solid #333; padding: .25rem .5rem; }
    button { margin-top: 1.5rem; font-size: 1.1rem; padding: .6rem 1.2rem; }
  </style>
</head>
<body>
  <h1>Sign the mandate</h1>
  <form method="post" action="/sign">
    <label>Account holder <input type="text" name="holder" autocomplete="name"></label>
    <label>IBAN <input type="text" name="iban" inputmode="text"></label>
    <label><input type="checkbox" name="consent"> I authorise the debits</label>
    <input type="checkbox" name="newsletter" id="newsletter" class="visually-hidden">
    <label for="newsletter" class="fancy">Send me news</label>
    <button type="submit">Sign</button>
  </form>
</body>
</html>"#;

const WIDE: &str = r#"<!doctype html>
<html><head><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><div id="banner" class="too wide" style="width: 800px">A banner wider than a phone</div>
</body></html>"#;

const TALL: &str = r#"<!doctype html>
<html><body style="margin: 0"><div style="height: 3000px; background: linear-gradient(#fff, #36c)">
Top</div><p id="bottom">Bottom</p></body></html>"#;

/// The width and height a PNG's header gives.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    (word(16), word(20))
}

/// Decodes an `application/x-www-form-urlencoded` body (the server's side of the form).
fn form_fields(body: &str) -> Vec<(String, String)> {
    fn decode(text: &str) -> String {
        let bytes = text.replace('+', " ").into_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && let Some(hex) = bytes.get(i + 1..i + 3)
                && let Ok(byte) = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or(""), 16)
            {
                out.push(byte);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

async fn sign(body: String) -> impl IntoResponse {
    let fields = form_fields(&body)
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ");
    let page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Signed</title></head><body><h1>Thank you</h1>
        <p id="result">{fields}</p><a id="receipt" href="/receipt.txt">Your receipt</a>
        </body></html>"#
    );
    (
        [(
            header::SET_COOKIE,
            "harness=cookie-from-the-browser; Path=/",
        )],
        Html(page),
    )
}

async fn language(headers: axum::http::HeaderMap) -> Html<String> {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("none");
    Html(format!(
        r#"<!doctype html><p id="header">{accept}</p>
        <p id="navigator"></p><script>
        document.getElementById('navigator').textContent = navigator.language;</script>"#
    ))
}

async fn receipt(headers: axum::http::HeaderMap) -> impl IntoResponse {
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("no cookie")
        .to_owned();
    (
        [(header::CONTENT_TYPE, "text/plain")],
        format!("receipt; {cookie}"),
    )
}

/// Serves the form on a free loopback port and returns its base address.
async fn serve() -> String {
    let app = Router::new()
        .route("/", get(|| async { Html(FORM) }))
        .route("/sign", axum::routing::post(sign))
        .route("/wide", get(|| async { Html(WIDE) }))
        .route("/tall", get(|| async { Html(TALL) }))
        .route("/receipt.txt", get(receipt))
        .route("/language", get(language));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("the bound address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the server runs") });
    format!("http://{addr}")
}

/// Fills, ticks and submits the form with the mouse, and checks what the server received.
async fn fill_tick_and_submit(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/")).await;
    assert_eq!(browser.title().await, "Harness form");
    browser.fill("holder", "Anna Müller").await;
    browser.fill("iban", "DE89 3704 0044 0532 0130 00").await;
    browser.tick("consent").await;
    // Hidden by styling: ticked through its label, as a person would.
    browser.tick("newsletter").await;
    assert!(browser.is_ticked("consent").await && browser.is_ticked("newsletter").await);
    browser.submit().await;

    assert_eq!(browser.current_url().await, format!("{base}/sign"));
    assert_eq!(
        browser.text_of("#result").await,
        "holder=Anna Müller; iban=DE89 3704 0044 0532 0130 00; consent=on; newsletter=on"
    );
    assert!(browser.page_text().await.starts_with("Thank you"));
    assert_eq!(
        browser.attribute("#receipt", "href").await.as_deref(),
        Some("/receipt.txt")
    );
    let receipt = browser.download("#receipt").await;
    assert_eq!(
        String::from_utf8(receipt).expect("text"),
        "receipt; harness=cookie-from-the-browser"
    );
}

#[tokio::test]
async fn a_desktop_browser_fills_ticks_and_submits_a_form_and_reads_the_answer() {
    let base = serve().await;
    let started = Instant::now();
    let browser = Browser::desktop().await;
    eprintln!("desktop browser started in {:?}", started.elapsed());

    fill_tick_and_submit(&browser, &base).await;
    let screen = browser
        .execute(
            "return [window.innerWidth, window.innerHeight, navigator.userAgent];",
            vec![],
        )
        .await;
    assert_eq!(screen[0], 1280);
    assert_eq!(screen[1], 900);
    assert!(!screen[2].as_str().unwrap().contains("Mobile"), "{screen}");
    let path = browser.screenshot("harness-desktop").await;
    assert!(path.starts_with(artifacts_dir()));
    let png = std::fs::read(&path).expect("the screenshot is saved");
    assert_eq!(png_size(&png), (1280, 900));

    browser.goto(&format!("{base}/")).await;
    browser.fill("[name=holder]", "Second Try").await;
    browser.tick("consent").await;
    browser.untick("consent").await;
    browser.click_button("Sign").await;
    assert_eq!(browser.text_of("#result").await, "holder=Second Try; iban=");
    browser.close().await;
    eprintln!("desktop test took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_phone_honours_the_viewport_meta_and_shows_the_form_without_sideways_scrolling() {
    let base = serve().await;
    let started = Instant::now();
    let browser = Browser::phone().await;
    eprintln!("phone browser started in {:?}", started.elapsed());
    assert_eq!(browser.viewport(), Viewport::PHONE);

    browser.goto(&format!("{base}/")).await;
    let screen = browser
        .execute(
            "return [window.innerWidth, window.devicePixelRatio, navigator.userAgent];",
            vec![],
        )
        .await;
    assert_eq!(screen[0], 390, "the page is laid out for the phone's width");
    assert_eq!(screen[1], 3);
    assert!(screen[2].as_str().unwrap().contains("Mobile"));
    browser.assert_no_horizontal_scroll().await;
    browser.screenshot("harness-phone-form").await;

    fill_tick_and_submit(&browser, &base).await;
    browser.assert_no_horizontal_scroll().await;
    browser.screenshot("harness-phone-signed").await;
    eprintln!("phone test took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_page_wider_than_the_phone_is_caught_with_the_element_that_sticks_out() {
    let base = serve().await;
    let browser = Browser::phone().await;
    browser.goto(&format!("{base}/wide")).await;

    // The phone zooms out to fit the page, so innerWidth grows with it: the harness must
    // measure against the layout viewport instead.
    let inner_width = browser.execute("return window.innerWidth;", vec![]).await;
    assert!(inner_width.as_i64().unwrap() > 800, "{inner_width}");
    let (overflow, culprits) = browser.horizontal_overflow().await;
    assert!(overflow >= 800 - 390, "{overflow}");
    assert!(
        culprits
            .iter()
            .any(|c| c.starts_with("div#banner.too.wide")),
        "{culprits:?}"
    );
}

#[tokio::test]
async fn a_full_page_screenshot_shows_what_lies_below_the_fold() {
    let base = serve().await;
    let browser = Browser::desktop().await;
    browser.goto(&format!("{base}/tall")).await;

    let screen = std::fs::read(browser.screenshot("harness-tall-screen").await).unwrap();
    assert_eq!(png_size(&screen), (1280, 900));
    let page = std::fs::read(browser.screenshot_full_page("harness-tall-page").await).unwrap();
    let (width, height) = png_size(&page);
    // The page's width: the screen's less the vertical scrollbar a tall page shows.
    assert!((1250..=1280).contains(&width), "{width}");
    assert!(height > 3000, "{height}");
}

#[tokio::test]
async fn the_keyboard_alone_reaches_every_field_in_order_and_submits_the_form() {
    let base = serve().await;
    let browser = Browser::desktop().await;
    browser.goto(&format!("{base}/")).await;

    assert_eq!(
        browser.tab_order(5).await,
        ["holder", "iban", "consent", "newsletter", "button:Sign"]
    );
    assert_eq!(browser.press_shift_tab().await, "newsletter");

    // Another address than the one shown: going to the same one again may restore where the
    // focus was, and the first Tab would then leave the page.
    browser.goto(&format!("{base}/?again")).await;
    assert_eq!(browser.press_tab().await, "holder");
    browser.type_text("Jan de Vries").await;
    assert_eq!(browser.press_tab().await, "iban");
    browser.type_text("NL91ABNA0417164300").await;
    assert_eq!(browser.press_tab().await, "consent");
    browser.press(fantoccini::key::Key::Space).await;
    assert!(browser.is_ticked("consent").await);
    browser.press(fantoccini::key::Key::Enter).await;

    assert_eq!(
        browser.text_of("#result").await,
        "holder=Jan de Vries; iban=NL91ABNA0417164300; consent=on"
    );
}

#[tokio::test]
async fn a_browser_asks_for_pages_in_the_language_the_test_picks() {
    let base = serve().await;
    let browser = Browser::launch_in(Viewport::PHONE, "de-DE").await;
    browser.goto(&format!("{base}/language")).await;

    assert!(browser.text_of("#header").await.starts_with("de-DE"));
    assert_eq!(browser.text_of("#navigator").await, "de-DE");
}

/// The processes in ChromeDriver's process group still alive (not zombies) once those that a
/// signal has just killed have had up to two seconds to die.
async fn survivors_in_group(group: u32) -> Vec<String> {
    let started = Instant::now();
    loop {
        let alive = live_processes_in_group(group);
        if alive.is_empty() || started.elapsed() > std::time::Duration::from_secs(2) {
            return alive;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The processes in ChromeDriver's process group that are alive now (not zombies).
fn live_processes_in_group(group: u32) -> Vec<String> {
    let mut alive = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let Ok(entry) = entry else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2) == Some(&group.to_string().as_str()) && fields[0] != "Z" {
            alive.push(format!("{head}) {}", fields[0]));
        }
    }
    alive
}

#[tokio::test]
async fn dropping_a_browser_ends_chromedriver_and_every_chromium_process() {
    let base = serve().await;
    let browser = Browser::desktop().await;
    browser.goto(&format!("{base}/")).await;
    let group = browser.process_group();
    assert!(
        live_processes_in_group(group).len() > 2,
        "chromedriver and chromium run"
    );

    drop(browser);
    assert_eq!(survivors_in_group(group).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_test_that_panics_still_ends_its_browser() {
    let base = serve().await;
    let (group_tx, group_rx) = tokio::sync::oneshot::channel();
    let failing = tokio::spawn(async move {
        let browser = Browser::phone().await;
        browser.goto(&format!("{base}/")).await;
        group_tx.send(browser.process_group()).expect("sent");
        panic!("this browser's test fails on purpose, to check the cleanup on panic");
    });
    assert!(failing.await.expect_err("the task panics").is_panic());
    let group = group_rx.await.expect("the browser started");
    assert_eq!(survivors_in_group(group).await, Vec::<String>::new());
}
