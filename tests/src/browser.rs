//! `Browser`: a real headless Chromium, driven through ChromeDriver, for black-box tests of the
//! pages a person sees (the signing pages above all).
//!
//! Each [`Browser`] starts its own `chromedriver` on a free loopback port and its own Chromium
//! on a fresh, temporary profile, so tests may run in parallel. Dropping the `Browser` (also when
//! the test panics) ends the WebDriver session, kills ChromeDriver and every Chromium process it
//! started, and removes the profile.
//!
//! It needs Debian's `chromium` and `chromium-driver` packages (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`); `scripts/test.sh` installs them. Without them the constructors
//! panic with a message naming the packages: a browser test never skips silently.
//!
//! The helpers panic, with the selector and the page's address in the message, instead of
//! returning errors, so that tests read as what a person does:
//!
//! ```no_run
//! # async fn example(base_url: &str) {
//! use tranche_tests::browser::Browser;
//!
//! let browser = Browser::phone().await;
//! browser.goto(&format!("{base_url}/sign/abc")).await;
//! browser.fill("iban", "DE89 3704 0044 0532 0130 00").await;
//! browser.tick("consent").await;
//! browser.submit().await;
//! assert!(browser.page_text().await.contains("Thank you"));
//! browser.assert_no_horizontal_scroll().await;
//! browser.screenshot("signing-done-phone").await;
//! # }
//! ```
//!
//! Element look-ups wait up to [`WAIT`] for the element to appear. [`Browser::submit`] and
//! [`Browser::click_button`] also wait for the next page to load; [`Browser::click`] does not.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Debian's Chromium (package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Debian's ChromeDriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long element look-ups and page loads wait before the helper panics.
pub const WAIT: Duration = Duration::from_secs(10);

/// The flags Chromium needs on these machines: headless as root, no GPU, and no background
/// connections (the network is closed, so they would only fail and slow the start down).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
];

/// The language a browser asks pages in unless a test picks another ([`Browser::launch_in`]).
pub const DEFAULT_LANGUAGE: &str = "en-US";

/// The user agent of the phone: Chrome on Android, in the reduced form Chrome sends itself.
pub const PHONE_USER_AGENT: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36";

/// The size and kind of screen a [`Browser`] shows pages on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    /// Width in CSS pixels.
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
    /// Whether Chromium emulates a phone: touch, a mobile user agent, a device pixel ratio of 3
    /// and the page's `<meta name="viewport">` honoured.
    pub mobile: bool,
}

impl Viewport {
    /// A laptop screen: 1280×900.
    pub const DESKTOP: Viewport = Viewport {
        width: 1280,
        height: 900,
        mobile: false,
    };

    /// A current phone held upright: 390×844 CSS pixels at a pixel ratio of 3.
    pub const PHONE: Viewport = Viewport {
        width: 390,
        height: 844,
        mobile: true,
    };
}

/// A headless Chromium with its own ChromeDriver and profile. See the [module docs](self).
pub struct Browser {
    client: Client,
    viewport: Viewport,
    http: reqwest::Client,
    /// Dropped after `client`: ends the session, kills the processes, removes the profile.
    driver: Driver,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("viewport", &self.viewport)
            .field("chromedriver_port", &self.driver.port)
            .field("session", &self.driver.session)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// A desktop browser window of 1280×900.
    pub async fn desktop() -> Browser {
        Browser::launch(Viewport::DESKTOP).await
    }

    /// A phone: 390×844 CSS pixels, pixel ratio 3, touch and a mobile Chrome user agent, so the
    /// page's viewport meta tag is honoured as on a real phone.
    pub async fn phone() -> Browser {
        Browser::launch(Viewport::PHONE).await
    }

    /// A browser showing pages on `viewport`, in [`DEFAULT_LANGUAGE`]. Panics, naming the
    /// Debian packages, when Chromium or ChromeDriver is not installed, and with ChromeDriver's
    /// log when it cannot start.
    pub async fn launch(viewport: Viewport) -> Browser {
        Browser::launch_in(viewport, DEFAULT_LANGUAGE).await
    }

    /// A browser showing pages on `viewport` whose person reads `language` (such as `de-DE`):
    /// it is the browser's UI language, `navigator.language` and the first entry of the
    /// `Accept-Language` header it sends.
    pub async fn launch_in(viewport: Viewport, language: &str) -> Browser {
        for (program, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(program).exists(),
                "browser tests need Debian's package `{package}`, and {program} is missing: run \
                 `apt-get install -y chromium chromium-driver` as root (scripts/test.sh does)"
            );
        }
        let mut last_error = String::new();
        // A free port can be taken by another test between our probe and ChromeDriver's bind;
        // then ChromeDriver exits at once and we try another port.
        for _ in 0..3 {
            match Driver::start() {
                Ok(mut driver) => match driver.wait_until_ready().await {
                    Ok(()) => return Browser::connect(driver, viewport, language).await,
                    Err(error) => last_error = error,
                },
                Err(error) => last_error = error,
            }
        }
        panic!("chromedriver did not start: {last_error}");
    }

    async fn connect(mut driver: Driver, viewport: Viewport, language: &str) -> Browser {
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
        args.push(format!(
            "--window-size={},{}",
            viewport.width, viewport.height
        ));
        args.push(format!(
            "--user-data-dir={}",
            driver.profile.path().join("profile").display()
        ));
        args.push(format!("--lang={language}"));
        let mut options = json!({
            "binary": CHROMIUM,
            "args": args,
            "prefs": { "intl.accept_languages": language },
        });
        // Device metrics fix the page's viewport to exactly the size asked for: a headless
        // window of 1280×900 alone leaves only 1280×757 to the page, the rest being the
        // (invisible) browser frame.
        options["mobileEmulation"] = if viewport.mobile {
            json!({
                "deviceMetrics": {
                    "width": viewport.width,
                    "height": viewport.height,
                    "pixelRatio": 3,
                    "mobile": true,
                    "touch": true,
                },
                "userAgent": PHONE_USER_AGENT,
            })
        } else {
            json!({
                "deviceMetrics": {
                    "width": viewport.width,
                    "height": viewport.height,
                    "pixelRatio": 1,
                    "mobile": false,
                    "touch": false,
                },
            })
        };
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        // ChromeDriver listens on plain http on loopback: no TLS stack is needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "chromium did not start through chromedriver: {error}\n{}",
                    driver.log_tail()
                )
            });
        driver.session = client.session_id().await.expect("the session has an id");
        Browser {
            client,
            viewport,
            http: reqwest::Client::new(),
            driver,
        }
    }

    /// The fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The screen this browser shows pages on.
    pub fn viewport(&self) -> Viewport {
        self.viewport
    }

    /// ChromeDriver's process id, which is also the process group of every Chromium process it
    /// started: for checking that nothing is left behind.
    pub fn process_group(&self) -> u32 {
        self.driver.child.id()
    }

    /// Ends the session and stops ChromeDriver now, waiting for Chromium to quit. Dropping the
    /// `Browser` does the same; this only reports an error instead of ignoring it.
    pub async fn close(self) {
        let Browser {
            client, mut driver, ..
        } = self;
        client.close().await.expect("the browser session closes");
        driver.session = None;
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("cannot open {url}: {error}"));
    }

    /// The address of the page shown now.
    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the current address")
            .to_string()
    }

    /// The page's title.
    pub async fn title(&self) -> String {
        self.client.title().await.expect("the page title")
    }

    /// Finds the first element matching `css`, waiting up to [`WAIT`] for it.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => panic!(
                "no element matches `{css}` on {} after {WAIT:?}: {error}",
                self.url_for_message().await
            ),
        }
    }

    /// All elements matching `css` now (no waiting; possibly none).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("cannot look for `{css}`: {error}"))
    }

    /// Whether an element matching `css` is on the page now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        !self.find_all(css).await.is_empty()
    }

    /// Types `text` into a field, after clearing it. `field` is a field name (letters, digits,
    /// `_` and `-`: the element `[name="field"]`) or else a CSS selector.
    pub async fn fill(&self, field: &str, text: &str) {
        let css = field_selector(field);
        let element = self.find(&css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|error| panic!("cannot clear `{css}`: {error}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|error| panic!("cannot type into `{css}`: {error}"));
    }

    /// Picks the option whose value is `value` in a `<select>` (by name or CSS, as in
    /// [`Browser::fill`]).
    pub async fn select(&self, field: &str, value: &str) {
        let css = field_selector(field);
        self.find(&css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|error| panic!("cannot select {value:?} in `{css}`: {error}"));
    }

    /// Ticks a checkbox (by name or CSS, as in [`Browser::fill`]) by clicking it as a person
    /// would, or its label when the box itself is covered by styling. Does nothing if it is
    /// ticked already; panics if it is not ticked afterwards.
    pub async fn tick(&self, field: &str) {
        self.set_ticked(field, true).await;
    }

    /// Unticks a checkbox, like [`Browser::tick`].
    pub async fn untick(&self, field: &str) {
        self.set_ticked(field, false).await;
    }

    async fn set_ticked(&self, field: &str, ticked: bool) {
        let css = field_selector(field);
        let element = self.find(&css).await;
        if is_selected(&element, &css).await == ticked {
            return;
        }
        // A box hidden by styling (shrunk to a pixel, or covered) is clicked through its
        // label. Asking first saves ChromeDriver's slow failing click on it (about a second).
        let (_, _, width, height) = element
            .rectangle()
            .await
            .unwrap_or_else(|error| panic!("cannot measure `{css}`: {error}"));
        let tiny = width < 2.0 || height < 2.0;
        let clicked = if tiny {
            Err(format!("`{css}` is {width}×{height}px"))
        } else {
            match element.click().await {
                Ok(()) => Ok(()),
                Err(error) if is_covered(&error) => Err(error.to_string()),
                Err(error) => panic!("cannot click `{css}`: {error}"),
            }
        };
        if let Err(why) = clicked {
            let id = element.attr("id").await.ok().flatten().unwrap_or_default();
            let label = format!("label[for=\"{}\"]", css_escape(&id));
            match self.client.find(Locator::Css(&label)).await {
                Ok(label_element) if !id.is_empty() => label_element
                    .click()
                    .await
                    .unwrap_or_else(|e| panic!("cannot click `{label}`: {e}")),
                _ => panic!("cannot click `{css}` ({why}), and it has no label[for] to click"),
            }
        }
        assert_eq!(
            is_selected(&element, &css).await,
            ticked,
            "clicking `{css}` did not {} it",
            if ticked { "tick" } else { "untick" }
        );
    }

    /// Whether the checkbox or radio button (by name or CSS) is ticked.
    pub async fn is_ticked(&self, field: &str) -> bool {
        let css = field_selector(field);
        is_selected(&self.find(&css).await, &css).await
    }

    /// Clicks the first element matching `css`. Does not wait for a page it may load: use
    /// [`Browser::submit`] or [`Browser::click_button`] for that.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|error| panic!("cannot click `{css}`: {error}"));
    }

    /// Clicks the page's submit button and waits for the page the form leads to. Panics if no
    /// visible submit button or several are on the page (then use [`Browser::click_button`]),
    /// or if no new page loads (for a form the browser refuses to send, use [`Browser::click`]).
    pub async fn submit(&self) {
        let css = "button[type=submit], input[type=submit], form button:not([type])";
        let _ = self.find(css).await;
        let mut visible = Vec::new();
        for element in self.find_all(css).await {
            if element.is_displayed().await.unwrap_or(false) {
                visible.push(element);
            }
        }
        let [button] = visible.as_slice() else {
            panic!(
                "submit() needs exactly one visible submit button on {}, found {}: use \
                 click_button(text)",
                self.url_for_message().await,
                visible.len()
            );
        };
        self.click_and_wait_for_page(button, "the submit button")
            .await;
    }

    /// Clicks the button labelled `text` (a `<button>` by its text, an `<input type=submit>`
    /// or `<input type=button>` by its value; spaces are normalised) and waits for the page it
    /// leads to.
    pub async fn click_button(&self, text: &str) {
        let literal = xpath_literal(text);
        let xpath = format!(
            "//button[normalize-space(.)={literal}] | //input[(@type='submit' or \
             @type='button') and normalize-space(@value)={literal}]"
        );
        let button = match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&xpath))
            .await
        {
            Ok(button) => button,
            Err(error) => panic!(
                "no button labelled {text:?} on {}: {error}",
                self.url_for_message().await
            ),
        };
        self.click_and_wait_for_page(&button, &format!("the button {text:?}"))
            .await;
    }

    /// Clicks `element`, then waits until a new document has replaced the current one and has
    /// loaded: the old window object carries a mark that the new one lacks.
    async fn click_and_wait_for_page(&self, element: &Element, what: &str) {
        self.client
            .execute("window.__trancheHarnessOldPage = true;", vec![])
            .await
            .expect("the page runs scripts");
        element
            .click()
            .await
            .unwrap_or_else(|error| panic!("cannot click {what}: {error}"));
        let started = Instant::now();
        loop {
            let loaded = self
                .client
                .execute(
                    "return window.__trancheHarnessOldPage !== true \
                     && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            // While the old page unloads, scripts may fail: that is "not yet".
            if matches!(loaded, Ok(Value::Bool(true))) {
                return;
            }
            assert!(
                started.elapsed() < WAIT,
                "clicking {what} on {} loaded no new page within {WAIT:?}",
                self.url_for_message().await
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The visible text of the first element matching `css`, as a person reads it.
    pub async fn text_of(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|error| panic!("cannot read `{css}`: {error}"))
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> String {
        self.text_of("body").await
    }

    /// The page's HTML source as the browser holds it now.
    pub async fn html(&self) -> String {
        self.client.source().await.expect("the page source")
    }

    /// The attribute `attr` of the first element matching `css`, or `None` if it has none.
    pub async fn attribute(&self, css: &str, attr: &str) -> Option<String> {
        self.find(css)
            .await
            .attr(attr)
            .await
            .unwrap_or_else(|error| panic!("cannot read {attr} of `{css}`: {error}"))
    }

    /// The DOM property `prop` of the first element matching `css` (for a link's `href`, the
    /// absolute address), or `None`.
    pub async fn property(&self, css: &str, prop: &str) -> Option<String> {
        self.find(css)
            .await
            .prop(prop)
            .await
            .unwrap_or_else(|error| panic!("cannot read {prop} of `{css}`: {error}"))
    }

    /// Runs `script` in the page (a function body: `return …` gives the result) with
    /// `args` as `arguments`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("the script failed: {error}\n{script}"))
    }

    /// Saves what the screen shows now as `tests/artifacts/<name>.png` (the folder is created
    /// and git-ignored) and returns the file's path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        save_artifact(name, &png)
    }

    /// Saves the whole page, also what lies below the fold and beyond the right edge, as
    /// `tests/artifacts/<name>.png` and returns the file's path. WebDriver's own screenshots
    /// stop at the screen's edges, so this asks Chromium directly (DevTools'
    /// `Page.captureScreenshot` through ChromeDriver).
    pub async fn screenshot_full_page(&self, name: &str) -> PathBuf {
        let size = self
            .execute(
                "const root = document.documentElement; \
                 return [Math.max(root.scrollWidth, root.clientWidth), \
                         Math.max(root.scrollHeight, root.clientHeight)];",
                vec![],
            )
            .await;
        let session = self.driver.session.as_deref().expect("a session");
        let answer: Value = self
            .http
            .post(format!(
                "{}/session/{session}/goog/cdp/execute",
                self.driver.url()
            ))
            .json(&json!({
                "cmd": "Page.captureScreenshot",
                "params": {
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1 },
                },
            }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("chromedriver takes a full-page screenshot")
            .json()
            .await
            .expect("chromedriver answers with JSON");
        let data = answer["value"]["data"]
            .as_str()
            .unwrap_or_else(|| panic!("no screenshot in chromedriver's answer: {answer}"));
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("the screenshot is base64");
        save_artifact(name, &png)
    }

    /// Downloads `url` (absolute, or relative to the page shown) outside the browser but with
    /// the browser's cookies, as a person's download would, and returns the body. Panics
    /// unless the answer is a success.
    pub async fn fetch_bytes(&self, url: &str) -> Vec<u8> {
        let base = self
            .client
            .current_url()
            .await
            .expect("the current address");
        let url = base
            .join(url)
            .unwrap_or_else(|error| panic!("{url} is not an address: {error}"));
        let cookies = self
            .client
            .get_all_cookies()
            .await
            .expect("the browser's cookies")
            .iter()
            .map(|cookie| format!("{}={}", cookie.name(), cookie.value()))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = self.http.get(url.as_str());
        if !cookies.is_empty() {
            request = request.header(reqwest::header::COOKIE, cookies);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("cannot download {url}: {error}"));
        let status = response.status();
        assert!(status.is_success(), "downloading {url} answered {status}");
        response
            .bytes()
            .await
            .unwrap_or_else(|error| panic!("cannot read {url}: {error}"))
            .to_vec()
    }

    /// Downloads what the link matching `css` points to, like [`Browser::fetch_bytes`].
    pub async fn download(&self, css: &str) -> Vec<u8> {
        let href = self
            .property(css, "href")
            .await
            .unwrap_or_else(|| panic!("`{css}` has no href"));
        self.fetch_bytes(&href).await
    }

    /// How far the page is wider than the screen, in CSS pixels (0 when it fits), and the
    /// elements that stick out on the right.
    ///
    /// The screen's width is the layout viewport, `document.documentElement.clientWidth`, not
    /// `window.innerWidth`: a phone zooms out to fit a page that is too wide, and then
    /// `innerWidth` grows to the page's width (809 for an 800px banner on a 390px phone), so
    /// `scrollWidth <= innerWidth` would hold for the very page that fails on a phone.
    pub async fn horizontal_overflow(&self) -> (i64, Vec<String>) {
        let answer = self
            .execute(
                r#"
                const width = document.documentElement.clientWidth;
                const overflow = document.documentElement.scrollWidth - width;
                const culprits = [];
                for (const el of document.body ? document.body.querySelectorAll('*') : []) {
                    const box = el.getBoundingClientRect();
                    if (box.width > 0 && box.right + window.scrollX > width + 0.5) {
                        let what = el.tagName.toLowerCase();
                        if (el.id) what += '#' + el.id;
                        if (typeof el.className === 'string' && el.className.trim())
                            what += '.' + el.className.trim().split(/\s+/).join('.');
                        culprits.push(what + ' (right edge ' + Math.round(box.right) + ')');
                        if (culprits.length === 8) break;
                    }
                }
                return { overflow: overflow, culprits: culprits };
                "#,
                vec![],
            )
            .await;
        let overflow = answer["overflow"].as_i64().unwrap_or_default();
        let culprits = answer["culprits"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (overflow, culprits)
    }

    /// Panics if the page scrolls sideways (`scrollWidth` beyond the layout viewport's width;
    /// see [`Browser::horizontal_overflow`]), naming the elements that stick out.
    pub async fn assert_no_horizontal_scroll(&self) {
        let (overflow, culprits) = self.horizontal_overflow().await;
        assert!(
            overflow <= 0,
            "{} scrolls sideways by {overflow}px on a {}px wide screen; sticking out: {}",
            self.url_for_message().await,
            self.viewport.width,
            culprits.join(", ")
        );
    }

    /// Presses a key on the keyboard, as a person would on whatever has the focus.
    pub async fn press(&self, key: Key) {
        let value: char = key.into();
        let keys = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
        self.client
            .perform_actions(keys)
            .await
            .unwrap_or_else(|error| panic!("cannot press {key:?}: {error}"));
    }

    /// Types `text` on the keyboard into whatever has the focus.
    pub async fn type_text(&self, text: &str) {
        let mut keys = KeyActions::new("keyboard".to_owned());
        for value in text.chars() {
            keys = keys
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.client
            .perform_actions(keys)
            .await
            .unwrap_or_else(|error| panic!("cannot type {text:?}: {error}"));
    }

    /// Presses Tab and returns what has the focus then, as [`Browser::focused`] names it.
    pub async fn press_tab(&self) -> String {
        self.press(Key::Tab).await;
        self.focused().await
    }

    /// Presses Shift+Tab and returns what has the focus then.
    pub async fn press_shift_tab(&self) -> String {
        let shift: char = Key::Shift.into();
        let tab: char = Key::Tab.into();
        let keys = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: shift })
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab })
            .then(KeyAction::Up { value: shift });
        self.client
            .perform_actions(keys)
            .await
            .expect("Shift+Tab is pressed");
        self.focused().await
    }

    /// Presses Tab `count` times and returns what had the focus after each press: the page's
    /// keyboard order.
    pub async fn tab_order(&self, count: usize) -> Vec<String> {
        let mut order = Vec::with_capacity(count);
        for _ in 0..count {
            order.push(self.press_tab().await);
        }
        order
    }

    /// What has the keyboard focus: its `name` (`document.activeElement.name`) if it has one,
    /// else `tag#id`, else the tag and its text (`button:Sign`, `a:Download the mandate`);
    /// `body` when nothing has it.
    pub async fn focused(&self) -> String {
        let answer = self
            .execute(
                r#"
                const el = document.activeElement;
                if (!el) return 'body';
                if (el.name) return el.name;
                const tag = el.tagName.toLowerCase();
                if (el.id) return tag + '#' + el.id;
                const text = (el.innerText || el.value || '').trim().replace(/\s+/g, ' ');
                return text ? tag + ':' + text.slice(0, 60) : tag;
                "#,
                vec![],
            )
            .await;
        answer.as_str().unwrap_or_default().to_owned()
    }

    async fn url_for_message(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(_) => "the page".to_owned(),
        }
    }
}

/// `[name="field"]` for a plain field name, else `field` itself as CSS.
fn field_selector(field: &str) -> String {
    let plain = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("[name=\"{field}\"]")
    } else {
        field.to_owned()
    }
}

/// Escapes `"` and `\` for a quoted CSS attribute value.
fn css_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `text` as an XPath 1.0 string literal, quotes and all.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|part| format!("'{part}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

async fn is_selected(element: &Element, css: &str) -> bool {
    element
        .is_selected()
        .await
        .unwrap_or_else(|error| panic!("cannot tell whether `{css}` is ticked: {error}"))
}

/// Whether a click failed because something else covers the element.
fn is_covered(error: &CmdError) -> bool {
    let text = error.to_string();
    text.contains("intercepted") || text.contains("not interactable")
}

/// The folder screenshots go to: `tests/artifacts/` in the workspace.
pub fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts")
}

fn save_artifact(name: &str, png: &[u8]) -> PathBuf {
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    path
}

/// One `chromedriver` process in its own process group, with a temporary folder for its log,
/// Chromium's profile and Chromium's crash database. Dropping it (also on panic) ends the
/// session, kills the whole process group (ChromeDriver and every Chromium process it
/// started), reaps ChromeDriver and removes the folder.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
    /// Dropped last, after the processes that write into it are gone.
    profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Result<Driver, String> {
        let profile = tempfile::Builder::new()
            .prefix("tranche-browser-")
            .tempdir()
            .map_err(|error| format!("no temporary folder: {error}"))?;
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("no free port: {error}"))?
            .port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!(
                "--log-path={}",
                profile.path().join("chromedriver.log").display()
            ))
            // Chromium's crash handler and caches otherwise share the user's ~/.config.
            .env("XDG_CONFIG_HOME", profile.path().join("config"))
            .env("XDG_CACHE_HOME", profile.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .map_err(|error| format!("cannot run {CHROMEDRIVER}: {error}"))?;
        Ok(Driver {
            child,
            port,
            session: None,
            profile,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls `/status` until ChromeDriver says it is ready.
    async fn wait_until_ready(&mut self) -> Result<(), String> {
        let http = reqwest::Client::new();
        let status_url = format!("{}/status", self.url());
        let started = Instant::now();
        loop {
            if let Ok(Some(exit)) = self.child.try_wait() {
                return Err(format!(
                    "chromedriver on port {} exited ({exit})\n{}",
                    self.port,
                    self.log_tail()
                ));
            }
            if let Ok(response) = http
                .get(&status_url)
                .timeout(Duration::from_millis(500))
                .send()
                .await
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == Value::Bool(true)
            {
                return Ok(());
            }
            if started.elapsed() > WAIT {
                return Err(format!(
                    "chromedriver on port {} did not answer within {WAIT:?}\n{}",
                    self.port,
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The last lines of ChromeDriver's log, for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.profile.path().join("chromedriver.log"))
            .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!("chromedriver log (last lines):\n{tail}")
    }

    /// Ends the session with a plain blocking HTTP request, so that it works from `drop`
    /// whatever the async runtime is doing. ChromeDriver answers once Chromium has quit.
    fn delete_session(&self, session: &str) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Connection: close\r\nContent-Length: 0\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            // The answer's first bytes mean Chromium has quit; ChromeDriver may keep the
            // connection open after it, so do not wait for the end.
            let mut answer = [0u8; 512];
            let _ = stream.read(&mut answer);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.delete_session(&session);
        }
        // ChromeDriver leads its own process group (see `start`), and the Chromium processes
        // it starts stay in it: one signal ends them all, even those that outlived the session.
        if let Ok(group) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: `kill` only sends a signal; the group is ours, its leader not yet reaped.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_name_becomes_a_name_selector_and_anything_else_stays_css() {
        assert_eq!(field_selector("iban"), "[name=\"iban\"]");
        assert_eq!(field_selector("debtor-name_2"), "[name=\"debtor-name_2\"]");
        assert_eq!(field_selector("#iban"), "#iban");
        assert_eq!(field_selector("input[type=email]"), "input[type=email]");
    }

    #[test]
    fn xpath_literals_survive_quotes() {
        assert_eq!(xpath_literal("Sign"), "'Sign'");
        assert_eq!(xpath_literal("I'm sure"), "\"I'm sure\"");
        assert_eq!(xpath_literal(r#"a'b"c"#), r#"concat('a', "'", 'b"c')"#);
    }
}
