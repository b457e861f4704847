//! `spawn_app`: the local host started in-process on a free loopback port, on a fresh data
//! folder and a pinned day, with one method per operator API call.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
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
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        TestApp::start(self._folder.clone(), self.data.clone(), self.today).await
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
