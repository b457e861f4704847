//! `spawn_app`: the local host started in-process on a free loopback port, on a fresh data
//! folder and a pinned day, with one method per operator API call.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use mail_parser::MimeHeaders;
use reqwest::{Client, Method, Response};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tranche_local::host::{self, ServeConfig};

/// The day the tests' host believes it is, unless a test picks another: a Monday.
pub fn test_today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 1, 4).expect("a valid date")
}

/// The API key every test host accepts.
pub const TEST_API_KEY: &str = "tk_test_0123456789abcdef";

/// Loads a fixture from `tests/fixtures/`.
pub fn fixture(relative: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} cannot be read: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {} is not JSON: {e}", path.display()))
}

/// A creditor body that the API accepts.
pub fn creditor_body() -> Value {
    fixture("api/creditor-acme.json")
}

/// A plan request for creditor `acme` that the API accepts on [`test_today`].
pub fn plan_body() -> Value {
    fixture("api/plan-monthly-consumer.json")
}

/// A running host. Dropping it stops the server; the data folder lives as long as the
/// `TestApp` (or its restarted successor) does.
pub struct TestApp {
    pub base_url: String,
    pub data: PathBuf,
    pub today: NaiveDate,
    client: Client,
    /// Keeps the temporary data folder alive across restarts.
    _folder: Arc<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl TestApp {
    /// A host on a fresh data folder, today being [`test_today`].
    pub async fn spawn() -> TestApp {
        TestApp::spawn_on_day(test_today()).await
    }

    pub async fn spawn_on_day(today: NaiveDate) -> TestApp {
        let folder = Arc::new(tempfile::tempdir().expect("a temporary folder"));
        let data = folder.path().join("data");
        TestApp::start(folder, data, today).await
    }

    async fn start(folder: Arc<tempfile::TempDir>, data: PathBuf, today: NaiveDate) -> TestApp {
        let listening = host::bind(ServeConfig {
            addr: "127.0.0.1:0".parse().expect("a socket address"),
            data: data.clone(),
            today: Some(today),
            public_url: None,
            api_key: Some(TEST_API_KEY.to_owned()),
            mail_from: None,
        })
        .await
        .expect("the host starts");
        let base_url = format!("http://{}", listening.addr);
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            listening
                .serve(async {
                    let _ = stop.await;
                })
                .await
                .expect("the host serves");
        });
        TestApp {
            base_url,
            data,
            today,
            client: Client::new(),
            _folder: folder,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Stops the host and starts a new one on the same data folder, as a restart would.
    pub async fn restart(self) -> TestApp {
        let today = self.today;
        self.restart_on(today).await
    }

    /// Restarts the host on the same data with another day pinned: how a test moves in time.
    pub async fn restart_on(mut self, today: NaiveDate) -> TestApp {
        self.stop().await;
        TestApp::start(self._folder.clone(), self.data.clone(), today).await
    }

    async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the host stops cleanly");
        }
    }

    /// Any call, with the test API key.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        self.call_with_key(method, path, body, Some(TEST_API_KEY))
            .await
    }

    /// Any call, with the given key (or none).
    pub async fn call_with_key(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the host answers")
    }

    pub async fn put_creditor(&self, id: &str, body: &Value) -> Response {
        self.call(Method::PUT, &format!("/v1/creditors/{id}"), Some(body))
            .await
    }

    pub async fn get_creditor(&self, id: &str) -> Response {
        self.call(Method::GET, &format!("/v1/creditors/{id}"), None)
            .await
    }

    /// Stores the fixture creditor as `acme`.
    pub async fn given_creditor_acme(&self) {
        let response = self.put_creditor("acme", &creditor_body()).await;
        assert!(
            response.status().is_success(),
            "creditor refused: {}",
            response.text().await.unwrap_or_default()
        );
    }

    pub async fn preview_plan(&self, body: &Value) -> Response {
        self.call(Method::POST, "/v1/plans/preview", Some(body))
            .await
    }

    pub async fn create_plan(&self, body: &Value) -> Response {
        self.call(Method::POST, "/v1/plans", Some(body)).await
    }

    pub async fn create_plan_with_key(&self, body: &Value, idempotency_key: &str) -> Response {
        self.client
            .post(format!("{}/v1/plans", self.base_url))
            .bearer_auth(TEST_API_KEY)
            .header("Idempotency-Key", idempotency_key)
            .json(body)
            .send()
            .await
            .expect("the host answers")
    }

    /// Sends raw bytes as a plan request body (for malformed JSON).
    pub async fn create_plan_raw(&self, body: &str) -> Response {
        self.client
            .post(format!("{}/v1/plans", self.base_url))
            .bearer_auth(TEST_API_KEY)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("the host answers")
    }

    pub async fn get_plan(&self, id: &str) -> Response {
        self.call(Method::GET, &format!("/v1/plans/{id}"), None)
            .await
    }

    /// `GET /v1/plans?<query>`.
    pub async fn list_plans(&self, query: &str) -> Response {
        self.call(Method::GET, &format!("/v1/plans?{query}"), None)
            .await
    }

    /// Every plan id the list call answers, following the cursor to the end.
    pub async fn all_plan_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let query = match &after {
                Some(cursor) => format!("limit=500&after={cursor}"),
                None => "limit=500".to_owned(),
            };
            let page: Value = self
                .list_plans(&query)
                .await
                .json()
                .await
                .expect("a JSON page");
            for item in page["items"].as_array().expect("items") {
                ids.push(item["id"].as_str().expect("an id").to_owned());
            }
            match page["next"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => return ids,
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Reads a problem+json answer, checking its content type.
pub async fn problem(response: Response) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        content_type, "application/problem+json",
        "not a problem answer"
    );
    response.json().await.expect("a JSON problem")
}

/// The `field` names of a problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A plan's signing link and the ids behind it.
#[derive(Debug, Clone)]
pub struct SigningLink {
    pub url: String,
    pub plan_id: String,
    pub mandate_id: String,
}

/// A page as the debtor's browser gets it.
#[derive(Debug)]
pub struct Page {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Page {
    /// The page's text with the HTML entities it uses turned back into characters.
    pub fn text(&self) -> String {
        unescape(&self.html)
    }

    /// The error shown at a form field (`<p class="error" id="iban-error">`), if any.
    pub fn error_at(&self, field: &str) -> Option<String> {
        let marker = format!("id=\"{field}-error\">");
        let start = self.html.find(&marker)? + marker.len();
        let end = self.html[start..].find('<')? + start;
        Some(unescape(&self.html[start..end]))
    }

    /// The value of a hidden or text input.
    pub fn input_value(&self, name: &str) -> Option<String> {
        input_value(&self.html, name)
    }

    /// The confirmation page's PDF link.
    pub fn document_link(&self) -> Option<String> {
        let marker = "id=\"document-link\" href=\"";
        let start = self.html.find(marker)? + marker.len();
        let end = self.html[start..].find('"')? + start;
        Some(unescape(&self.html[start..end]))
    }
}

/// The value of the hidden or text input `name` in a signing page's `html`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

/// Undoes the escaping of the signing pages.
pub fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// An e-mail from the outbox folder.
#[derive(Debug)]
pub struct SentMail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    /// (file name, bytes)
    pub attachments: Vec<(String, Vec<u8>)>,
}

/// A form as name/value pairs, in the order a browser sends them.
pub type FormFields = Vec<(&'static str, String)>;

/// The form fields of a valid signature, for the fixture plan's debtor.
pub fn valid_signature(document: &str) -> FormFields {
    vec![
        ("name", "Jörg Müller".into()),
        ("street", "Lindenallee".into()),
        ("building", "3".into()),
        ("postcode", "50667".into()),
        ("town", "Köln".into()),
        ("country", "DE".into()),
        ("iban", "de89 3704 0044 0532 0130 00".into()),
        ("bic", "".into()),
        ("signature_name", "Jörg Müller".into()),
        ("accept", "yes".into()),
        ("document", document.into()),
        ("action", "sign".into()),
    ]
}

/// Replaces (or adds) one field of a form.
pub fn with_field(mut fields: FormFields, name: &'static str, value: &str) -> FormFields {
    fields.retain(|(n, _)| *n != name);
    fields.push((name, value.to_owned()));
    fields
}

/// Removes one field of a form.
pub fn without_field(mut fields: FormFields, name: &str) -> FormFields {
    fields.retain(|(n, _)| *n != name);
    fields
}

impl TestApp {
    /// Creates a plan and answers its signing link.
    pub async fn given_plan(&self, body: &Value) -> SigningLink {
        let response = self.create_plan(body).await;
        let status = response.status();
        let plan: Value = response.json().await.expect("a JSON plan");
        assert_eq!(status, reqwest::StatusCode::CREATED, "plan refused: {plan}");
        SigningLink {
            url: plan["signing_url"]
                .as_str()
                .expect("a signing url")
                .to_owned(),
            plan_id: plan["id"].as_str().expect("an id").to_owned(),
            mandate_id: plan["mandate_id"]
                .as_str()
                .expect("a mandate id")
                .to_owned(),
        }
    }

    /// `url` on this host: a link made by an earlier host (before a restart, on another port)
    /// keeps its path.
    fn on_this_host(&self, url: &str) -> String {
        let path = match url.strip_prefix("http://") {
            Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => url,
        };
        format!("{}{path}", self.base_url)
    }

    /// A GET as a browser does it, with an optional `Accept-Language`.
    pub async fn open_page(&self, url: &str, accept_language: Option<&str>) -> Page {
        let mut request = self
            .client
            .get(self.on_this_host(url))
            .header("user-agent", "TrancheTest/1.0");
        if let Some(languages) = accept_language {
            request = request.header("accept-language", languages);
        }
        page(request.send().await.expect("the host answers")).await
    }

    /// A form POST as a browser does it.
    pub async fn post_form(&self, url: &str, fields: &[(&'static str, String)]) -> Page {
        let response = self
            .client
            .post(self.on_this_host(url))
            .header("user-agent", "TrancheTest/1.0")
            .form(fields)
            .send()
            .await
            .expect("the host answers");
        page(response).await
    }

    /// Opens the link and signs with the valid fixture data; answers the confirmation page.
    pub async fn sign(&self, link: &SigningLink) -> Page {
        let shown = self.open_page(&link.url, None).await;
        let document = shown
            .input_value("document")
            .expect("the page carries its hash");
        self.post_form(&link.url, &valid_signature(&document)).await
    }

    /// Raw bytes of a GET (a PDF).
    pub async fn download(&self, url: &str) -> (reqwest::StatusCode, String, Vec<u8>) {
        let response = self
            .client
            .get(self.on_this_host(url))
            .bearer_auth(TEST_API_KEY)
            .send()
            .await
            .expect("the host answers");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            status,
            content_type,
            response.bytes().await.unwrap_or_default().to_vec(),
        )
    }

    /// Every e-mail in the outbox, oldest first.
    pub fn outbox(&self) -> Vec<SentMail> {
        let folder = self.data.join("outbox");
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&folder) {
            Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(_) => return Vec::new(),
        };
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
            .iter()
            .map(|path| {
                let raw = std::fs::read(path).expect("an outbox file");
                let message = mail_parser::MessageParser::default()
                    .parse(&raw)
                    .expect("a parseable e-mail");
                SentMail {
                    to: message
                        .to()
                        .map(|to| {
                            to.iter()
                                .filter_map(|a| a.address().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                    subject: message.subject().unwrap_or_default().to_owned(),
                    text: message
                        .body_text(0)
                        .map(|t| t.into_owned())
                        .unwrap_or_default(),
                    attachments: message
                        .attachments()
                        .map(|a| {
                            (
                                a.attachment_name().unwrap_or_default().to_owned(),
                                a.contents().to_vec(),
                            )
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// `GET /v1/mandates/{id}` as JSON.
    pub async fn mandate(&self, id: &str) -> Value {
        self.call(Method::GET, &format!("/v1/mandates/{id}"), None)
            .await
            .json()
            .await
            .expect("a JSON mandate")
    }

    /// `GET /v1/plans/{id}` as JSON.
    pub async fn plan(&self, id: &str) -> Value {
        self.get_plan(id).await.json().await.expect("a JSON plan")
    }
}

async fn page(response: Response) -> Page {
    Page {
        status: response.status(),
        headers: response.headers().clone(),
        html: response.text().await.expect("a text body"),
    }
}

/// The text `pdftotext -layout` reads from a PDF; fails the test when poppler-utils is missing.
pub fn pdf_text(pdf: &[u8]) -> String {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = folder.path().join("document.pdf");
    std::fs::write(&path, pdf).expect("the PDF is written");
    let output = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs: install poppler-utils (apt-get install -y poppler-utils)");
    assert!(output.status.success(), "pdftotext failed on the PDF");
    String::from_utf8(output.stdout).expect("UTF-8 text")
}

impl TestApp {
    /// Creates a plan and signs it with the fixture debtor's data.
    pub async fn given_signed_plan(&self, body: &Value) -> SigningLink {
        let link = self.given_plan(body).await;
        let page = self.sign(&link).await;
        assert_eq!(
            page.status,
            reqwest::StatusCode::OK,
            "signing failed: {}",
            page.html
        );
        link
    }

    /// Runs the daily job on this host's data as of `day`, as `tranche daily --today` does.
    pub async fn daily(&self, day: NaiveDate) -> tranche_domain::daily::DailyReport {
        host::run_daily(&self.data, Some(day), Some(self.base_url.clone()), None)
            .await
            .expect("the daily job runs")
    }

    /// Every item of a paged list call (`/v1/collections?status=batched`), following `next`.
    pub async fn all_items(&self, path: &str) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let url = match &after {
                Some(cursor) => format!("{path}{separator}limit=500&after={cursor}"),
                None => format!("{path}{separator}limit=500"),
            };
            let response = self.call(Method::GET, &url, None).await;
            assert!(
                response.status().is_success(),
                "{url}: {}",
                response.status()
            );
            let page: Value = response.json().await.expect("a JSON page");
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => return items,
            }
        }
    }

    /// The pain.008 XML of a batch.
    pub async fn batch_file(&self, batch_id: &str) -> Vec<u8> {
        let (status, content_type, bytes) =
            self.download(&format!("/v1/batches/{batch_id}/file")).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        assert_eq!(content_type, "application/xml");
        bytes
    }
}

impl TestApp {
    /// `POST /v1/returns` with a bank file; answers the status and the JSON (summary or problem).
    pub async fn post_bank_file(&self, bytes: impl Into<Vec<u8>>) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/v1/returns", self.base_url))
            .bearer_auth(TEST_API_KEY)
            .header("content-type", "application/xml")
            .body(bytes.into())
            .send()
            .await
            .expect("the host answers");
        let status = response.status();
        (status, response.json().await.expect("a JSON answer"))
    }
}

impl TestApp {
    /// `POST /v1/plans/{plan_id}/{action}` (`action` may carry a query, `pause?dry_run=true`,
    /// or be `instalments/2/skip`).
    pub async fn plan_action(&self, plan_id: &str, action: &str, body: &Value) -> Response {
        self.call(
            Method::POST,
            &format!("/v1/plans/{plan_id}/{action}"),
            Some(body),
        )
        .await
    }

    /// The plan's history (`GET /v1/plans/{id}/events`).
    pub async fn plan_events(&self, plan_id: &str) -> Vec<Value> {
        let response = self
            .call(Method::GET, &format!("/v1/plans/{plan_id}/events"), None)
            .await;
        assert!(response.status().is_success(), "{}", response.status());
        let body: Value = response.json().await.expect("JSON events");
        body["events"].as_array().expect("events").clone()
    }
}
