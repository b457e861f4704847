//! `tranche demo`: the whole story of Tranche on a fresh data folder, told step by step in the
//! terminal.
//!
//! The demo plays the parts around the system and lets the system play its own. It starts the
//! real HTTP host in-process on a free loopback port, and then acts as the operator's
//! integration (every operator step is a call to the operator API, with reqwest), as the three
//! debtors (each opens the signing page and posts its form), as the scheduler (the daily job,
//! [`host::run_daily`], once for every day of the story) and as the creditor's bank (a
//! pain.002 status report, posted to `POST /v1/returns`). What it prints comes from the
//! host's answers, the daily job's reports and the files in the data folder; the only things it
//! makes up are its inputs: the creditor, the plans, the debtors' forms and the bank's answer.
//!
//! The host's clock is pinned to the story's day and moved forward with it, so weeks pass in a
//! few seconds; the data folder is kept, so the person watching can open the files and serve the
//! same data afterwards with `tranche serve --data <folder> --today <day>`.
//!
//! # The story
//!
//! 1. The host starts on the data folder, with an API key made for the run.
//! 2. A creditor is stored (`PUT /v1/creditors/acme`).
//! 3. Three plans are laid out and created: a consumer repayment plan (6 monthly), a business
//!    B2B instalment plan (4 monthly), and a consumer plan with a down payment (biweekly). All
//!    three start on the same day, three weeks in, so their first collections travel together.
//! 4. The debtors sign through the signing page.
//! 5. Days pass until the first collections are written into pain.008 files, and on to the day
//!    before their collection date.
//! 6. The bank rejects two collections of the first CORE file: one with AM04 (insufficient
//!    funds, re-presented) and one with MS02 (refused by the debtor: a person must call).
//! 7. Days pass until the AM04 re-presentation is in a file of its own and the other first
//!    collections have settled.
//! 8. What the operator sees: tasks, collections, plans, e-mails and the event feed.
//! 9. The operator agrees a new arrangement with the MS02 debtor: a dry run of a new calendar
//!    for the rest, the change itself (the plan leaves dunning), and the task closed.
//! 10. Where the files are.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Days, NaiveDate, Utc};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tranche_domain::calendar::roll_forward;
use tranche_domain::daily::DailyReport;
use tranche_domain::pain008::Pain008Version;
use tranche_domain::ports::Clock;

use crate::host::{self, HostError, ServeConfig};

/// The story's first day when none is given: a Monday after the EU consumer-credit rules apply.
pub fn default_first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 1, 4).expect("a valid date")
}

/// Days from the first day to the plans' first due date: past the creditor's 14 days of
/// pre-notification and its lead day, with room for holidays, and short enough to watch.
const DAYS_TO_FIRST_DUE_DATE: u64 = 21;

/// The most days either stretch of the story may take before the demo says the system did not
/// do what the story expects.
const MAX_DAYS_PER_STRETCH: u32 = 120;

/// Width of the text the demo prints.
const WIDTH: usize = 100;

/// What `tranche demo` is given.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The data folder; a new temporary folder (kept afterwards) when absent. A given folder must
    /// be empty or not exist yet, so a demo never mixes with real data.
    pub data: Option<PathBuf>,
    /// The story's first day; [`default_first_day`] is a good one.
    pub first_day: NaiveDate,
    /// How the person started `tranche` (its `argv[0]`, `target/release/tranche` under
    /// `cargo run`), so the commands the demo suggests at the end can be pasted as they are.
    pub program: String,
}

/// Why the demo stopped before the end of the story.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The host could not start, or the daily job failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The data folder given holds something already: the demo never writes into real data.
    #[error(
        "the demo needs an empty data folder, and {0} already holds files; name a new folder with \
         --data, or leave --data (and TRANCHE_DATA) out for a temporary one"
    )]
    FolderNotEmpty(PathBuf),
    /// A file or folder of the demo could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A request got no answer (the host stopped, or a handler failed before answering).
    #[error("{call}: the host did not answer: {source}")]
    Http {
        call: String,
        source: reqwest::Error,
    },
    /// The host refused a call the story needs.
    #[error("{call} answered {status}: {body}")]
    Api {
        call: String,
        status: StatusCode,
        body: String,
    },
    /// An answer is not in the shape the demo reads.
    #[error("{call} answered something the demo cannot read ({reason}): {body}")]
    Answer {
        call: String,
        reason: String,
        body: String,
    },
    /// The system did something other than what the story expects (no file written in
    /// months, a signing page without its form): the message says what.
    #[error("the story went off script: {0}")]
    Story(String),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Runs the whole story and prints it; the data folder stays for the person to explore.
pub async fn run(options: DemoOptions) -> Result<(), DemoError> {
    let data = prepare_folder(options.data)?;
    let clock = StoryClock::new(options.first_day);
    let listening = host::bind_with_clock(
        ServeConfig {
            addr: "127.0.0.1:0".parse().expect("a socket address"),
            data: data.clone(),
            today: Some(options.first_day),
            public_url: None,
            api_key: None,
            mail_from: None,
        },
        Arc::new(clock.clone()),
    )
    .await?;
    let api_key = listening
        .generated_api_key
        .clone()
        .ok_or_else(|| DemoError::Story("the host made no API key for the demo".to_owned()))?;
    let addr = listening.addr;
    let data = listening.data.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(listening.serve(async {
        let _ = stopped.await;
    }));

    let mut story = Story {
        api: Api {
            base_url: format!("http://{addr}"),
            key: api_key,
            client: reqwest::Client::builder()
                .user_agent(concat!("tranche-demo/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|source| DemoError::Http {
                    call: "building the HTTP client".to_owned(),
                    source,
                })?,
        },
        data,
        clock,
        next_day: options.first_day,
        quiet: None,
        plans: Vec::new(),
        seen_mails: BTreeSet::new(),
        collections: BTreeMap::new(),
        plan_statuses: BTreeMap::new(),
        bank_report: None,
        program: options.program,
    };
    let told = story.tell().await;

    drop(story);
    let _ = stop.send(());
    let served = server
        .await
        .map_err(|e| DemoError::Story(format!("the host stopped abnormally: {e}")))?;
    told?;
    served?;
    Ok(())
}

/// The data folder: the one given (which must be empty or new), or a new temporary one that is
/// kept after the demo.
fn prepare_folder(data: Option<PathBuf>) -> Result<PathBuf, DemoError> {
    match data {
        Some(folder) => {
            match std::fs::read_dir(&folder) {
                Ok(mut entries) => {
                    if entries.next().is_some() {
                        return Err(DemoError::FolderNotEmpty(folder));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&folder)(e)),
            }
            std::fs::create_dir_all(&folder).map_err(io_error(&folder))?;
            Ok(std::path::absolute(&folder).unwrap_or(folder))
        }
        None => {
            let temporary = std::env::temp_dir();
            let folder = tempfile::Builder::new()
                .prefix("tranche-demo-")
                .tempdir()
                .map_err(io_error(&temporary))?;
            Ok(folder.keep())
        }
    }
}

/// The host's clock during the demo: pinned to the story's day, which the demo moves forward.
/// The time of day is the real one, so timestamps still order events.
#[derive(Debug, Clone)]
struct StoryClock(Arc<Mutex<NaiveDate>>);

impl StoryClock {
    fn new(day: NaiveDate) -> Self {
        StoryClock(Arc::new(Mutex::new(day)))
    }

    fn set(&self, day: NaiveDate) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = day;
    }
}

impl Clock for StoryClock {
    fn now(&self) -> DateTime<Utc> {
        self.today().and_time(Utc::now().time()).and_utc()
    }

    fn today(&self) -> NaiveDate {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The operator API as an integration calls it.
struct Api {
    base_url: String,
    key: String,
    client: reqwest::Client,
}

/// A request body.
enum Body<'a> {
    Empty,
    Json(&'a Value),
    Xml(Vec<u8>),
}

impl Api {
    /// One call with the API key; a 2xx answer read as `T`, anything else an error that says
    /// what the host answered.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Body<'_>,
    ) -> Result<T, DemoError> {
        let call = format!("{method} {path}");
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.key);
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::Xml(bytes) => request
                .header("content-type", "application/xml")
                .body(bytes),
        };
        let response = request.send().await.map_err(|source| DemoError::Http {
            call: call.clone(),
            source,
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|source| DemoError::Http {
            call: call.clone(),
            source,
        })?;
        if !status.is_success() {
            return Err(DemoError::Api {
                call,
                status,
                body: text,
            });
        }
        serde_json::from_str(&text).map_err(|e| DemoError::Answer {
            call,
            reason: e.to_string(),
            body: text,
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, DemoError> {
        self.call(Method::GET, path, Body::Empty).await
    }

    /// Every item of a paged list (`{items, next}`), following `next` to the end.
    async fn all_items<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, DemoError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let url = match &after {
                Some(cursor) => format!("{path}{separator}limit=500&after={cursor}"),
                None => format!("{path}{separator}limit=500"),
            };
            let page: ListPage<T> = self.get(&url).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// A page as the debtor's browser gets it (no API key).
    async fn browser(
        &self,
        method: Method,
        url: &str,
        form: Option<&[(&str, String)]>,
    ) -> Result<(StatusCode, String), DemoError> {
        let call = format!("{method} {url}");
        let mut request = self.client.request(method, url);
        if let Some(fields) = form {
            request = request.form(fields);
        }
        let response = request.send().await.map_err(|source| DemoError::Http {
            call: call.clone(),
            source,
        })?;
        let status = response.status();
        let html = response
            .text()
            .await
            .map_err(|source| DemoError::Http { call, source })?;
        Ok((status, html))
    }
}

// What the demo reads of the API's answers: only the fields it prints or needs.

#[derive(Debug, Deserialize)]
struct ListPage<T> {
    items: Vec<T>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CreditorView {
    id: String,
    name: String,
    creditor_identifier: String,
    iban: String,
    bic: Option<String>,
    pre_notification_days: u32,
    lead_days: u32,
    settlement_days: u32,
    first_sequence: String,
    pain008_version: String,
    signing_method: String,
    dunning: DunningView,
}

#[derive(Debug, Deserialize)]
struct DunningView {
    retry_after_days: u32,
    max_representations: u32,
    default_after_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
struct InstalmentView {
    seq: u32,
    due_date: NaiveDate,
    amount: String,
    kind: String,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct ComplianceView {
    status: String,
    summary: String,
}

#[derive(Debug, Deserialize)]
struct PreviewView {
    instalments: Vec<InstalmentView>,
    total: String,
    count: usize,
    first_due_date: NaiveDate,
    last_due_date: NaiveDate,
    earliest_due_date: NaiveDate,
    compliance: ComplianceView,
}

#[derive(Debug, Clone, Deserialize)]
struct DebtorView {
    name: String,
    email: String,
    #[serde(rename = "type")]
    debtor_type: String,
}

#[derive(Debug, Clone, Deserialize)]
struct PlanView {
    id: String,
    kind: String,
    status: String,
    #[serde(default)]
    status_reason: Option<String>,
    scheme: String,
    frequency: String,
    total: String,
    debtor: DebtorView,
    instalments: Vec<InstalmentView>,
    mandate_id: Option<String>,
    #[serde(default)]
    signing_url: Option<String>,
    compliance: ComplianceView,
}

#[derive(Debug, Deserialize)]
struct MandateView {
    reference: String,
    status: String,
    scheme: String,
    document_key: Option<String>,
    debtor: Option<MandateDebtorView>,
    signature: Option<SignatureView>,
}

#[derive(Debug, Deserialize)]
struct SignatureView {
    signer_name: String,
    signed_at: DateTime<Utc>,
    method: String,
    ip_address: String,
}

#[derive(Debug, Deserialize)]
struct MandateDebtorView {
    iban: String,
}

#[derive(Debug, Clone, Deserialize)]
struct CollectionView {
    id: String,
    plan_id: String,
    instalment_seq: u32,
    attempt: u32,
    end_to_end_id: String,
    amount: String,
    collection_date: NaiveDate,
    sequence_type: String,
    mandate_reference: String,
    status: String,
    status_reason: Option<String>,
    batch_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct BatchView {
    message_id: String,
    collection_date: NaiveDate,
    scheme: String,
    version: Pain008Version,
    file_key: String,
    number_of_transactions: u64,
    control_sum: String,
    payment_informations: Vec<PaymentInformationView>,
}

#[derive(Debug, Clone, Deserialize)]
struct PaymentInformationView {
    id: String,
    sequence_type: String,
}

#[derive(Debug, Deserialize)]
struct ReturnsView {
    format: Option<String>,
    message_id: Option<String>,
    file_key: String,
    items: u64,
    applied: u64,
    duplicates: u64,
    unmatched: u64,
    representations_scheduled: u64,
    tasks_opened: u64,
}

#[derive(Debug, Deserialize)]
struct TaskView {
    kind: String,
    title: String,
    detail: String,
}

#[derive(Debug, Deserialize)]
struct EventPage {
    events: Vec<EventView>,
    next: String,
}

#[derive(Debug, Deserialize)]
struct EventView {
    kind: String,
    aggregate_id: String,
}

/// One of the story's plans, as created.
#[derive(Debug, Clone)]
struct StoryPlan {
    id: String,
    mandate_id: String,
    debtor: String,
    signing_url: String,
    form: SigningForm,
}

/// What a debtor types into the signing form.
#[derive(Debug, Clone)]
struct SigningForm {
    name: &'static str,
    street: &'static str,
    building: &'static str,
    postcode: &'static str,
    town: &'static str,
    country: &'static str,
    iban: &'static str,
    signature_name: &'static str,
}

/// A plan request and its debtor's signing form.
struct PlanScript {
    request: Value,
    form: SigningForm,
}

/// The creditor the story collects for (the same as the README's example).
fn creditor_request() -> Value {
    json!({
        "name": "Acme Energie GmbH",
        "creditor_identifier": "DE98ZZZ09999999999",
        "iban": "DE89 3704 0044 0532 0130 00",
        "bic": "COBADEFFXXX",
        "address": {
            "street": "Hauptstraße",
            "building": "12",
            "postcode": "10115",
            "town": "Berlin",
            "country": "DE"
        },
        "email": "billing@acme-energie.example",
        "language": "de",
        "pre_notification_days": 14,
        "lead_days": 1,
        "branding": { "logo_url": "https://acme-energie.example/logo.png", "color": "#0A7E4F" }
    })
}

/// The three plans, all starting on `start`: a consumer repayment plan (6 monthly), a B2B
/// instalment plan of a business (4 monthly) and a consumer instalment plan with a down
/// payment on `start` (5 biweekly after it).
fn plan_scripts(start: NaiveDate) -> [PlanScript; 3] {
    [
        PlanScript {
            request: json!({
                "creditor_id": "acme",
                "kind": "repayment",
                "debtor": {
                    "name": "Jörg Müller",
                    "email": "joerg.mueller@example.org",
                    "language": "de",
                    "type": "consumer",
                    "address": { "street": "Lindenallee", "building": "3", "postcode": "50667",
                                 "town": "Köln", "country": "DE" }
                },
                "currency": "EUR",
                "total": "1000.00",
                "invoices": [
                    { "reference": "INV-2026-0042", "amount": "600.00" },
                    { "reference": "INV-2026-0057", "amount": "400.00" }
                ],
                "count": 6,
                "frequency": "monthly",
                "start_date": start,
                "rounding": "first",
                "scheme": "CORE"
            }),
            form: SigningForm {
                name: "Jörg Müller",
                street: "Lindenallee",
                building: "3",
                postcode: "50667",
                town: "Köln",
                country: "DE",
                iban: "DE44 5001 0517 5407 3249 31",
                signature_name: "Jörg Müller",
            },
        },
        PlanScript {
            request: json!({
                "creditor_id": "acme",
                "kind": "instalment",
                "debtor": {
                    "name": "Van Dijk Logistiek B.V.",
                    "email": "crediteuren@vandijk-logistiek.example",
                    "language": "nl",
                    "type": "business",
                    "address": { "street": "Havenstraat", "building": "21", "postcode": "3011 AB",
                                 "town": "Rotterdam", "country": "NL" }
                },
                "currency": "EUR",
                "total": "4800.00",
                "invoices": [ { "reference": "INV-2026-0311", "amount": "4800.00" } ],
                "count": 4,
                "frequency": "monthly",
                "start_date": start,
                "scheme": "B2B"
            }),
            form: SigningForm {
                name: "Van Dijk Logistiek B.V.",
                street: "Havenstraat",
                building: "21",
                postcode: "3011 AB",
                town: "Rotterdam",
                country: "NL",
                iban: "NL91ABNA0417164300",
                signature_name: "Sanne van Dijk",
            },
        },
        PlanScript {
            request: json!({
                "creditor_id": "acme",
                "kind": "instalment",
                "debtor": {
                    "name": "Camille Dubois",
                    "email": "camille.dubois@example.fr",
                    "language": "fr",
                    "type": "consumer",
                    "address": { "street": "Rue des Lilas", "building": "8", "postcode": "67000",
                                 "town": "Strasbourg", "country": "FR" }
                },
                "currency": "EUR",
                "total": "900.00",
                "invoices": [ { "reference": "INV-2027-0003", "amount": "900.00" } ],
                "count": 5,
                "frequency": "biweekly",
                "start_date": start,
                "down_payment": { "amount": "150.00" },
                "scheme": "CORE"
            }),
            form: SigningForm {
                name: "Camille Dubois",
                street: "Rue des Lilas",
                building: "8",
                postcode: "67000",
                town: "Strasbourg",
                country: "FR",
                iban: "FR14 2004 1010 0505 0001 3M02 606",
                signature_name: "Camille Dubois",
            },
        },
    ]
}

/// Which of the story's plans the bank refuses a first collection of, and why.
const AM04_PLAN: usize = 0;
const MS02_PLAN: usize = 2;

/// The story as it goes: the API, the day, what was printed last.
struct Story {
    api: Api,
    data: PathBuf,
    clock: StoryClock,
    /// The next day the daily job runs for.
    next_day: NaiveDate,
    /// Days the daily job had nothing to do, not printed yet.
    quiet: Option<(NaiveDate, NaiveDate)>,
    plans: Vec<StoryPlan>,
    /// Outbox files already printed.
    seen_mails: BTreeSet<String>,
    /// The collections as last printed, by id.
    collections: BTreeMap<String, CollectionView>,
    /// The plans' statuses as last printed, by id.
    plan_statuses: BTreeMap<String, String>,
    /// The bank file written in step 6.
    bank_report: Option<PathBuf>,
    /// How the person started `tranche`, for the commands suggested at the end.
    program: String,
}

impl Story {
    async fn tell(&mut self) -> Result<(), DemoError> {
        let first_day = self.next_day;
        println!(
            "Tranche demo: a creditor, three plans, their debtors and the creditor's bank, on a \
             fresh data folder, from {}.",
            weekday(first_day)
        );
        self.start()?;
        let creditor = self.creditor().await?;
        let start = roll_forward(first_day + Days::new(DAYS_TO_FIRST_DUE_DATE));
        self.create_plans(start).await?;
        self.sign().await?;
        let first_batches = self.until_first_files().await?;
        let rejected = self.bank_answers(&creditor, &first_batches).await?;
        self.until_representation(&first_batches, &rejected).await?;
        self.operator_view().await?;
        self.new_arrangement().await?;
        self.closing(first_day);
        Ok(())
    }

    /// Step 1.
    fn start(&mut self) -> Result<(), DemoError> {
        heading(
            1,
            "The host starts: host::bind_with_clock, served in this process",
        );
        fact(&format!("operator API  {}/v1", self.api.base_url));
        fact(&format!("data folder   {}", self.data.display()));
        fact(&format!(
            "API key       {} (made for this run, stored hashed)",
            self.api.key
        ));
        fact(&format!(
            "today         {} (the host's clock is pinned to the story's day)",
            weekday(self.next_day)
        ));
        Ok(())
    }

    /// Step 2.
    async fn creditor(&mut self) -> Result<CreditorView, DemoError> {
        heading(2, "A creditor: PUT /v1/creditors/acme");
        let creditor: CreditorView = self
            .api
            .call(
                Method::PUT,
                "/v1/creditors/acme",
                Body::Json(&creditor_request()),
            )
            .await?;
        fact(&format!(
            "{} ({}), creditor identifier {}",
            creditor.name, creditor.id, creditor.creditor_identifier
        ));
        fact(&format!(
            "collects into {}{}",
            creditor.iban,
            creditor
                .bic
                .as_deref()
                .map(|bic| format!(" ({bic})"))
                .unwrap_or_default()
        ));
        fact(&format!(
            "pre-notification {}, lead {}, settled after {} without a contrary report",
            count(creditor.pre_notification_days, "day", "days"),
            count(creditor.lead_days, "TARGET day", "TARGET days"),
            count(creditor.settlement_days, "TARGET day", "TARGET days")
        ));
        fact(&format!(
            "files {}, first collection {}, signing method {}",
            creditor.pain008_version, creditor.first_sequence, creditor.signing_method
        ));
        fact(&format!(
            "dunning: a soft failure is re-presented after {} (at most {}); a plan in dunning \
             defaults after {}",
            count(creditor.dunning.retry_after_days, "day", "days"),
            count(creditor.dunning.max_representations, "time", "times"),
            count(creditor.dunning.default_after_days, "day", "days")
        ));
        Ok(creditor)
    }

    /// Step 3.
    async fn create_plans(&mut self, start: NaiveDate) -> Result<(), DemoError> {
        heading(
            3,
            "Three plans: POST /v1/plans/preview, then POST /v1/plans",
        );
        let scripts = plan_scripts(start);

        let preview: PreviewView = self
            .api
            .call(
                Method::POST,
                "/v1/plans/preview",
                Body::Json(&scripts[0].request),
            )
            .await?;
        fact(&format!(
            "Preview of a repayment plan for {} (nothing is stored):",
            scripts[0].form.name
        ));
        for instalment in &preview.instalments {
            detail(&format!(
                "{:<3}  {}  {:>8}{}",
                format!("#{}", instalment.seq),
                weekday(instalment.due_date),
                instalment.amount,
                kind_note(&instalment.kind)
            ));
        }
        detail(&format!(
            "total {} in {} instalments, {} to {}; the earliest legal due date today is {}",
            preview.total,
            preview.count,
            preview.first_due_date,
            preview.last_due_date,
            preview.earliest_due_date
        ));
        detail(&format!("compliance: {}", preview.compliance.status));
        wrapped(&preview.compliance.summary, 9);

        for script in scripts {
            let plan: PlanView = self
                .api
                .call(Method::POST, "/v1/plans", Body::Json(&script.request))
                .await?;
            println!();
            fact(&format!("Plan {} ({})", plan.id, plan.status));
            detail(&format!(
                "{} <{}>, {} debtor: {} plan, {}, {} in {} {} instalments",
                plan.debtor.name,
                plan.debtor.email,
                plan.debtor.debtor_type,
                plan.kind,
                plan.scheme,
                plan.total,
                plan.instalments.len(),
                plan.frequency
            ));
            for line in instalment_rows(&plan.instalments) {
                detail(&line);
            }
            for down_payment in plan.instalments.iter().filter(|i| i.kind == "down_payment") {
                detail(&format!("#{} is a down payment", down_payment.seq));
            }
            detail(&format!("compliance: {}", plan.compliance.status));
            if plan.compliance.status == "inside_consumer_credit" {
                wrapped(&plan.compliance.summary, 9);
            }
            let signing_url = plan.signing_url.clone().ok_or_else(|| {
                DemoError::Story(format!("plan {} came without a signing link", plan.id))
            })?;
            detail(&format!("signing link (shown once): {signing_url}"));
            let mandate_id = plan.mandate_id.clone().ok_or_else(|| {
                DemoError::Story(format!("plan {} came without a mandate", plan.id))
            })?;
            self.plan_statuses
                .insert(plan.id.clone(), plan.status.clone());
            self.plans.push(StoryPlan {
                id: plan.id,
                mandate_id,
                debtor: plan.debtor.name,
                signing_url,
                form: script.form,
            });
        }
        self.print_mails()?;
        Ok(())
    }

    /// Step 4.
    async fn sign(&mut self) -> Result<(), DemoError> {
        heading(
            4,
            "The debtors sign: GET the signing link, then POST its form",
        );
        let plans = self.plans.clone();
        for plan in &plans {
            let (status, page) = self
                .api
                .browser(Method::GET, &plan.signing_url, None)
                .await?;
            if status != StatusCode::OK {
                return Err(DemoError::Story(format!(
                    "the signing page of plan {} answered {status}",
                    plan.id
                )));
            }
            let document = hidden_input(&page, "document").ok_or_else(|| {
                DemoError::Story(format!(
                    "the signing page of plan {} has no document fingerprint",
                    plan.id
                ))
            })?;
            let form = &plan.form;
            let fields: Vec<(&str, String)> = vec![
                ("name", form.name.to_owned()),
                ("street", form.street.to_owned()),
                ("building", form.building.to_owned()),
                ("postcode", form.postcode.to_owned()),
                ("town", form.town.to_owned()),
                ("country", form.country.to_owned()),
                ("iban", form.iban.to_owned()),
                ("bic", String::new()),
                ("signature_name", form.signature_name.to_owned()),
                ("accept", "yes".to_owned()),
                ("document", document),
                ("action", "sign".to_owned()),
            ];
            let (status, page) = self
                .api
                .browser(Method::POST, &plan.signing_url, Some(&fields))
                .await?;
            if status != StatusCode::OK {
                return Err(DemoError::Story(format!(
                    "signing plan {} answered {status}: {}",
                    plan.id,
                    page.chars().take(2000).collect::<String>()
                )));
            }
            let mandate: MandateView = self
                .api
                .get(&format!("/v1/mandates/{}", plan.mandate_id))
                .await?;
            fact(&format!(
                "{}: mandate {} ({}, {})",
                plan.debtor, mandate.reference, mandate.scheme, mandate.status
            ));
            if let Some(signature) = &mandate.signature {
                detail(&format!(
                    "signed by {} at {} UTC, method {}, from {}",
                    signature.signer_name,
                    signature.signed_at.format("%Y-%m-%d %H:%M:%S"),
                    signature.method,
                    signature.ip_address
                ));
            }
            if let Some(debtor) = &mandate.debtor {
                detail(&format!("debtor account {}", debtor.iban));
            }
            if let Some(key) = &mandate.document_key {
                detail(&format!(
                    "signed mandate PDF {}",
                    self.file_path(key).display()
                ));
            }
        }

        let mut signed = 0;
        let mut statuses = Vec::new();
        for plan in &plans {
            let view: PlanView = self.api.get(&format!("/v1/plans/{}", plan.id)).await?;
            let mandate: MandateView = self
                .api
                .get(&format!("/v1/mandates/{}", plan.mandate_id))
                .await?;
            if mandate.status == "signed" {
                signed += 1;
            }
            statuses.push(view.status.clone());
            self.plan_statuses.insert(view.id, view.status);
        }
        println!();
        fact(&format!(
            "{signed} plans signed; plan statuses now: {}",
            statuses.join(", ")
        ));
        self.print_mails()?;
        Ok(())
    }

    /// Step 5: days until the first files are written, and on to the day before their
    /// collection date. Answers the batches of the first files.
    async fn until_first_files(&mut self) -> Result<Vec<String>, DemoError> {
        heading(
            5,
            "The days pass: the daily job (host::run_daily) runs every morning",
        );
        let started = self.next_day;
        let batches = loop {
            let report = self.run_day().await?;
            if !report.batches_written.is_empty() {
                break report.batches_written;
            }
            if self.days_since(started) > MAX_DAYS_PER_STRETCH {
                return Err(DemoError::Story(format!(
                    "no collection was written into a file in {MAX_DAYS_PER_STRETCH} days"
                )));
            }
        };
        let first_date = self
            .collections
            .values()
            .filter(|c| c.batch_id.as_ref().is_some_and(|b| batches.contains(b)))
            .map(|c| c.collection_date)
            .min()
            .ok_or_else(|| DemoError::Story("the first files hold no collection".to_owned()))?;
        while self.next_day < first_date {
            self.run_day().await?;
        }
        self.flush_quiet();
        Ok(batches)
    }

    /// Step 6: the bank's status report on the first CORE file, applied through the API.
    /// Answers the collection rejected with AM04.
    async fn bank_answers(
        &mut self,
        creditor: &CreditorView,
        first_batches: &[String],
    ) -> Result<CollectionView, DemoError> {
        let day = self.next_day;
        self.clock.set(day);
        heading(
            6,
            &format!(
                "The bank answers on {}: a pain.002 status report, POST /v1/returns",
                weekday(day)
            ),
        );
        let refused_plans = [
            (
                &self.plans[AM04_PLAN],
                "AM04",
                "Insufficient funds on the debtor's account",
            ),
            (
                &self.plans[MS02_PLAN],
                "MS02",
                "Debit refused by the debtor",
            ),
        ];
        let mut refusals: Vec<Refusal> = Vec::new();
        for (plan, reason, text) in refused_plans {
            let collection = self
                .collections
                .values()
                .find(|c| {
                    c.plan_id == plan.id
                        && c.batch_id
                            .as_ref()
                            .is_some_and(|b| first_batches.contains(b))
                })
                .ok_or_else(|| {
                    DemoError::Story(format!(
                        "the first files hold no collection of {}'s plan",
                        plan.debtor
                    ))
                })?;
            refusals.push(Refusal {
                collection: collection.clone(),
                reason,
                text,
            });
        }
        let batch_id = refusals[0].collection.batch_id.clone().unwrap_or_default();
        if refusals
            .iter()
            .any(|r| r.collection.batch_id.as_deref() != Some(batch_id.as_str()))
        {
            return Err(DemoError::Story(
                "the two refused collections are in different files".to_owned(),
            ));
        }
        let batch: BatchView = self.api.get(&format!("/v1/batches/{batch_id}")).await?;
        // The bank's own message id: any text of up to 35 characters.
        let report_id: String = format!("STS-{}", batch.message_id)
            .chars()
            .take(35)
            .collect();
        let xml = status_report(&report_id, day, creditor.bic.as_deref(), &batch, &refusals)?;

        let folder = self.data.join("bank");
        std::fs::create_dir_all(&folder).map_err(io_error(&folder))?;
        let path = folder.join(format!("pain.002-{report_id}.xml"));
        std::fs::write(&path, &xml).map_err(io_error(&path))?;
        fact(&format!(
            "The bank reports on file {} ({} transactions) and rejects:",
            batch.message_id, batch.number_of_transactions
        ));
        for refusal in &refusals {
            let c = &refusal.collection;
            detail(&format!(
                "{} instalment {} ({}, EndToEndId {}): {} {}",
                self.debtor_of(&c.plan_id),
                c.instalment_seq,
                c.amount,
                c.end_to_end_id,
                refusal.reason,
                refusal.text
            ));
        }
        fact(&format!(
            "the report, as the bank sent it: {}",
            path.display()
        ));

        let answer: ReturnsView = self
            .api
            .call(Method::POST, "/v1/returns", Body::Xml(xml.into_bytes()))
            .await?;
        fact(&format!(
            "POST /v1/returns read it as {} {}:",
            answer.format.as_deref().unwrap_or("?"),
            answer.message_id.as_deref().unwrap_or("?")
        ));
        detail(&format!(
            "{}, {} applied, {} already applied, {} unmatched, {} scheduled, {} opened",
            count(answer.items, "item", "items"),
            answer.applied,
            answer.duplicates,
            answer.unmatched,
            count(
                answer.representations_scheduled,
                "re-presentation",
                "re-presentations"
            ),
            count(answer.tasks_opened, "task", "tasks")
        ));
        fact(&format!(
            "kept by the host as {}",
            self.file_path(&answer.file_key).display()
        ));
        fact("what the report changed:");
        self.print_changes(&[]).await?;
        self.print_mails()?;
        self.bank_report = Some(path);
        refusals
            .into_iter()
            .find(|r| r.reason == "AM04")
            .map(|r| r.collection)
            .ok_or_else(|| DemoError::Story("the report rejects nothing with AM04".to_owned()))
    }

    /// Step 7: days until the AM04 re-presentation of `rejected` is in a file and the other
    /// collections of the first files have settled.
    async fn until_representation(
        &mut self,
        first_batches: &[String],
        rejected: &CollectionView,
    ) -> Result<(), DemoError> {
        heading(7, "More days pass: the re-presentation, and settlement");
        let started = self.next_day;
        loop {
            let report = self.run_day().await?;
            if !report_is_quiet(&report)
                && self.first_files_settled(first_batches)
                && let Some(again) = self.representation_of(rejected)
            {
                self.flush_quiet();
                println!();
                fact(&format!(
                    "{}'s instalment {}, rejected with AM04, was re-presented: attempt {}, {} on \
                     {} ({}), EndToEndId {}, in batch {}",
                    self.debtor_of(&again.plan_id),
                    again.instalment_seq,
                    again.attempt,
                    again.amount,
                    weekday(again.collection_date),
                    again.sequence_type,
                    again.end_to_end_id,
                    again.batch_id.as_deref().unwrap_or("?")
                ));
                fact("every other collection of the first files has settled");
                return Ok(());
            }
            if self.days_since(started) > MAX_DAYS_PER_STRETCH {
                return Err(DemoError::Story(format!(
                    "the AM04 re-presentation was not written into a file in \
                     {MAX_DAYS_PER_STRETCH} days"
                )));
            }
        }
    }

    /// Whether every collection of the first files that the bank did not reject has settled.
    fn first_files_settled(&self, first_batches: &[String]) -> bool {
        self.collections
            .values()
            .filter(|c| {
                c.batch_id
                    .as_ref()
                    .is_some_and(|b| first_batches.contains(b))
            })
            .filter(|c| c.status != "rejected")
            .all(|c| c.status == "settled")
    }

    /// A later attempt at the instalment of `rejected`, once it is in a batch file.
    fn representation_of(&self, rejected: &CollectionView) -> Option<CollectionView> {
        self.collections
            .values()
            .find(|c| {
                c.plan_id == rejected.plan_id
                    && c.instalment_seq == rejected.instalment_seq
                    && c.attempt > rejected.attempt
                    && c.batch_id.is_some()
            })
            .cloned()
    }

    /// Step 9: the operator calls the debtor whose collection was refused (the plan in
    /// dunning), agrees two more instalments for the rest, checks the calendar with a dry run,
    /// makes the change and closes the task.
    async fn new_arrangement(&mut self) -> Result<(), DemoError> {
        heading(9, "A new arrangement for the plan in dunning");
        let in_dunning: Vec<Value> = self.api.all_items("/v1/plans?status=in_dunning").await?;
        let Some(plan) = in_dunning.first() else {
            return Err(DemoError::Story(
                "no plan is in dunning after the MS02 refusal".to_owned(),
            ));
        };
        let id = plan["id"].as_str().unwrap_or_default().to_owned();
        let open = plan["instalments"].as_array().map_or(0, |all| {
            all.iter()
                .filter(|i| {
                    matches!(
                        i["status"].as_str(),
                        Some("planned" | "notified" | "failed" | "retrying")
                    )
                })
                .count()
        });
        let today = self.clock.today();
        let start = roll_forward(today + Days::new(21));
        let body = json!({
            "count": open + 2,
            "start_date": start,
            "reason": "agreed on the phone: two more, smaller instalments",
        });
        let path = format!("/v1/plans/{id}/reschedule");
        let preview: Value = self
            .api
            .call(
                Method::POST,
                &format!("{path}?dry_run=true"),
                Body::Json(&body),
            )
            .await?;
        fact(&format!(
            "{} is {} with {} left; POST {path}?dry_run=true answers the new calendar, storing \
             nothing:",
            self.debtor_of(&id),
            plan["status"].as_str().unwrap_or("?"),
            plan["balance"]["remaining"].as_str().unwrap_or("?")
        ));
        for line in new_calendar(&preview) {
            detail(&line);
        }
        let changed: Value = self
            .api
            .call(Method::POST, &path, Body::Json(&body))
            .await?;
        let balance = &changed["balance"];
        fact(&format!(
            "POST {path}: the plan is {} again, version {}; collected {} + scheduled {} + \
             received outside {} + cancelled {} = total {}",
            changed["status"].as_str().unwrap_or("?"),
            changed["version"],
            balance["collected"].as_str().unwrap_or("?"),
            balance["scheduled"].as_str().unwrap_or("?"),
            balance["received_outside"].as_str().unwrap_or("?"),
            balance["cancelled"].as_str().unwrap_or("?"),
            balance["total"].as_str().unwrap_or("?")
        ));
        let tasks: Vec<Value> = self.api.all_items("/v1/tasks?status=open").await?;
        for task in tasks
            .iter()
            .filter(|t| t["plan_id"] == id.as_str() && t["kind"] == "call_customer")
        {
            let task_id = task["id"].as_str().unwrap_or_default();
            let _: Value = self
                .api
                .call(
                    Method::POST,
                    &format!("/v1/tasks/{task_id}/close"),
                    Body::Json(&json!({"outcome": "new plan agreed"})),
                )
                .await?;
            fact(&format!("task {task_id} closed: new plan agreed"));
        }
        for (_, mail) in self.new_mails()? {
            detail(&mail.line());
        }
        fact(&format!(
            "the debtor was e-mailed the new calendar; each of its instalments gets its own \
             pre-notification, with a self-service link to ask for a pause, a skip or smaller \
             instalments (GET /v1/plans/{id}/events shows plan.rescheduled, by the operator's key)"
        ));
        Ok(())
    }

    /// Step 8.
    async fn operator_view(&mut self) -> Result<(), DemoError> {
        let today = self.clock.today();
        heading(8, &format!("What the operator sees on {}", weekday(today)));

        let tasks: Vec<TaskView> = self.api.all_items("/v1/tasks?status=open").await?;
        fact(&format!("GET /v1/tasks?status=open: {} open", tasks.len()));
        for task in &tasks {
            detail(&format!("[{}] {}", task.kind, task.title));
            wrapped(&task.detail, 9);
        }

        let mut collections: Vec<CollectionView> = self.api.all_items("/v1/collections").await?;
        collections.sort_by(|a, b| {
            (
                a.collection_date,
                self.plan_index(&a.plan_id),
                a.instalment_seq,
                a.attempt,
            )
                .cmp(&(
                    b.collection_date,
                    self.plan_index(&b.plan_id),
                    b.instalment_seq,
                    b.attempt,
                ))
        });
        println!();
        fact(&format!(
            "GET /v1/collections: {} (each plan named by its debtor)",
            collections.len()
        ));
        let name_width = self
            .plans
            .iter()
            .map(|p| p.debtor.chars().count())
            .max()
            .unwrap_or(4);
        detail(&format!(
            "{:<name_width$}  {:>4}  {:>3}  {:<10}  {:>8}  {:<4}  {:<8}  reason",
            "plan", "inst", "try", "date", "amount", "seq", "status"
        ));
        for c in &collections {
            let row = format!(
                "{:<name_width$}  {:>4}  {:>3}  {:<10}  {:>8}  {:<4}  {:<8}  {}",
                self.debtor_of(&c.plan_id),
                c.instalment_seq,
                c.attempt,
                c.collection_date.to_string(),
                c.amount,
                c.sequence_type,
                c.status,
                c.status_reason.as_deref().unwrap_or("")
            );
            detail(row.trim_end());
        }

        println!();
        fact("The plans (GET /v1/plans/{id}):");
        let plans = self.plans.clone();
        for plan in &plans {
            let view: PlanView = self.api.get(&format!("/v1/plans/{}", plan.id)).await?;
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for instalment in &view.instalments {
                *counts
                    .entry(instalment.status.clone().unwrap_or_default())
                    .or_default() += 1;
            }
            let counts: Vec<String> = counts
                .iter()
                .map(|(status, n)| format!("{n} {status}"))
                .collect();
            detail(&format!(
                "{:<name_width$}  {:<12}  instalments: {}",
                plan.debtor,
                view.status,
                counts.join(", ")
            ));
            if let Some(reason) = &view.status_reason {
                wrapped(reason, 9);
            }
        }

        println!();
        let mails = read_outbox(&self.data.join("outbox"))?;
        fact(&format!(
            "The outbox ({}): {} e-mails",
            self.data.join("outbox").display(),
            mails.len()
        ));
        for (_, mail) in &mails {
            detail(&mail.line());
        }
        self.seen_mails = mails.into_iter().map(|(name, _)| name).collect();

        println!();
        let mut after = 0u64;
        let mut count = 0usize;
        let mut last: Vec<EventView> = Vec::new();
        loop {
            let page: EventPage = self
                .api
                .get(&format!("/v1/events?limit=500&after={after}"))
                .await?;
            if page.events.is_empty() {
                break;
            }
            count += page.events.len();
            last.extend(page.events);
            let keep = last.len().saturating_sub(5);
            last.drain(..keep);
            let next: u64 = page.next.parse().map_err(|_| DemoError::Answer {
                call: "GET /v1/events".to_owned(),
                reason: "next is not a number".to_owned(),
                body: page.next.clone(),
            })?;
            if next <= after {
                break;
            }
            after = next;
        }
        fact(&format!(
            "GET /v1/events: {count} events in the hash-chained log; the last {}:",
            last.len()
        ));
        for event in &last {
            detail(&format!("{:<24}  {}", event.kind, event.aggregate_id));
        }
        Ok(())
    }

    /// Step 9.
    fn closing(&self, first_day: NaiveDate) {
        let today = self.clock.today();
        heading(10, "Where everything is");
        fact(&format!(
            "The story spanned {}, {} to {}.",
            count((today - first_day).num_days() as u64 + 1, "day", "days"),
            weekday(first_day),
            weekday(today)
        ));
        fact(&format!("data folder    {}", self.data.display()));
        fact(&format!(
            "database       {}",
            self.data.join("tranche.sqlite3").display()
        ));
        let files = self.data.join("files");
        for (label, folder) in [
            ("pain.008 files", files.join("batches")),
            ("mandate PDFs", files.join("mandates")),
            ("bank reports", files.join("inbound")),
        ] {
            fact(&format!(
                "{label:<14} {} ({})",
                folder.display(),
                count(count_files(&folder) as u64, "file", "files")
            ));
        }
        if let Some(report) = &self.bank_report {
            fact(&format!("the pain.002   {}", report.display()));
        }
        let outbox = self.data.join("outbox");
        fact(&format!(
            "e-mails        {} ({})",
            outbox.display(),
            count(count_files(&outbox) as u64, ".eml file", ".eml files")
        ));
        println!();
        fact("Explore it through the API, as of the story's last day:");
        detail(&format!(
            "TRANCHE_API_KEY={} {} serve --data {} --today {today}",
            self.api.key,
            self.program,
            self.data.display()
        ));
        detail(&format!(
            "curl -s localhost:8080/v1/collections -H \"Authorization: Bearer {}\"",
            self.api.key
        ));
        fact("The daily job goes on from there:");
        detail(&format!(
            "{} daily --data {} --today {}",
            self.program,
            self.data.display(),
            today + Days::new(1)
        ));
    }

    /// Runs the daily job for the next day and prints what it did (a quiet day joins the run
    /// of quiet days printed as one line).
    async fn run_day(&mut self) -> Result<DailyReport, DemoError> {
        let day = self.next_day;
        self.clock.set(day);
        let report =
            host::run_daily(&self.data, Some(day), Some(self.api.base_url.clone()), None).await?;
        self.next_day = day + Days::new(1);
        let mails = self.new_mails()?;
        if report_is_quiet(&report) && mails.is_empty() {
            self.quiet = Some(match self.quiet {
                Some((from, _)) => (from, day),
                None => (day, day),
            });
            return Ok(report);
        }
        self.flush_quiet();
        fact(&format!("{}: {}", weekday(day), report_summary(&report)));
        self.print_changes(&report.batches_written).await?;
        for (_, mail) in mails {
            detail(&mail.line());
        }
        for problem in &report.problems {
            detail(&format!("problem: {problem}"));
        }
        Ok(report)
    }

    /// Prints the run of quiet days, if any.
    fn flush_quiet(&mut self) {
        if let Some((from, to)) = self.quiet.take() {
            let days = (to - from).num_days() + 1;
            if from == to {
                fact(&format!("{}: a quiet day, nothing due", weekday(from)));
            } else {
                fact(&format!(
                    "{} to {}: {days} quiet days, nothing due",
                    weekday(from),
                    weekday(to)
                ));
            }
        }
    }

    /// Prints the new batch files with their collections, and every collection and plan whose
    /// status changed since last printed.
    async fn print_changes(&mut self, batches: &[String]) -> Result<(), DemoError> {
        let mut now: Vec<CollectionView> = self.api.all_items("/v1/collections").await?;
        now.sort_by_key(|c| {
            (
                c.collection_date,
                self.plan_index(&c.plan_id),
                c.instalment_seq,
                c.attempt,
            )
        });
        for batch_id in batches {
            let batch: BatchView = self.api.get(&format!("/v1/batches/{batch_id}")).await?;
            let sequences: Vec<&str> = batch
                .payment_informations
                .iter()
                .map(|p| p.sequence_type.as_str())
                .collect();
            detail(&format!(
                "{} file {}: {} {}, {}, {} in total, collected {}",
                batch.version.message_name(),
                batch.message_id,
                batch.scheme,
                sequences.join("+"),
                count(batch.number_of_transactions, "transaction", "transactions"),
                batch.control_sum,
                weekday(batch.collection_date)
            ));
            detail(&format!("  {}", self.file_path(&batch.file_key).display()));
            for c in now
                .iter()
                .filter(|c| c.batch_id.as_deref() == Some(batch_id))
            {
                detail(&format!(
                    "  {} instalment {}{}: {} {}, EndToEndId {}, mandate {}",
                    self.debtor_of(&c.plan_id),
                    c.instalment_seq,
                    attempt_note(c.attempt),
                    c.amount,
                    c.sequence_type,
                    c.end_to_end_id,
                    c.mandate_reference
                ));
            }
        }
        for c in &now {
            let in_new_batch = c.batch_id.as_ref().is_some_and(|b| batches.contains(b));
            match self.collections.get(&c.id) {
                None if !in_new_batch => detail(&format!(
                    "new collection: {} instalment {}{}, {} on {}: {}",
                    self.debtor_of(&c.plan_id),
                    c.instalment_seq,
                    attempt_note(c.attempt),
                    c.amount,
                    c.collection_date,
                    c.status
                )),
                Some(before) if before.status != c.status => detail(&format!(
                    "collection {} instalment {}{} ({}): {} -> {}{}",
                    self.debtor_of(&c.plan_id),
                    c.instalment_seq,
                    attempt_note(c.attempt),
                    c.amount,
                    before.status,
                    c.status,
                    c.status_reason
                        .as_deref()
                        .map(|r| format!(", {r}"))
                        .unwrap_or_default()
                )),
                _ => {}
            }
        }
        self.collections = now.into_iter().map(|c| (c.id.clone(), c)).collect();

        let plans = self.plans.clone();
        for plan in &plans {
            let view: PlanView = self.api.get(&format!("/v1/plans/{}", plan.id)).await?;
            let before = self
                .plan_statuses
                .get(&plan.id)
                .cloned()
                .unwrap_or_default();
            if before != view.status {
                detail(&format!(
                    "plan of {}: {} -> {}",
                    plan.debtor, before, view.status
                ));
            }
            self.plan_statuses.insert(plan.id.clone(), view.status);
        }
        Ok(())
    }

    /// Prints the e-mails sent since last printed.
    fn print_mails(&mut self) -> Result<(), DemoError> {
        let mails = self.new_mails()?;
        if !mails.is_empty() {
            fact(&format!(
                "{} sent:",
                count(mails.len() as u64, "e-mail", "e-mails")
            ));
        }
        for (_, mail) in mails {
            detail(&mail.line());
        }
        Ok(())
    }

    /// The e-mails in the outbox not seen yet, oldest first; marks them seen.
    fn new_mails(&mut self) -> Result<Vec<(String, Mail)>, DemoError> {
        let mails: Vec<(String, Mail)> = read_outbox(&self.data.join("outbox"))?
            .into_iter()
            .filter(|(name, _)| !self.seen_mails.contains(name))
            .collect();
        self.seen_mails
            .extend(mails.iter().map(|(name, _)| name.clone()));
        Ok(mails)
    }

    fn days_since(&self, day: NaiveDate) -> u32 {
        u32::try_from((self.next_day - day).num_days()).unwrap_or(u32::MAX)
    }

    fn file_path(&self, key: &str) -> PathBuf {
        self.data.join("files").join(key)
    }

    fn debtor_of<'a>(&'a self, plan_id: &'a str) -> &'a str {
        self.plans
            .iter()
            .find(|p| p.id == plan_id)
            .map_or(plan_id, |p| p.debtor.as_str())
    }

    fn plan_index(&self, plan_id: &str) -> usize {
        self.plans
            .iter()
            .position(|p| p.id == plan_id)
            .unwrap_or(usize::MAX)
    }
}

/// A collection the bank refuses, and why.
#[derive(Debug, Clone)]
struct Refusal {
    collection: CollectionView,
    reason: &'static str,
    text: &'static str,
}

/// A pain.002.001.10 customer payment status report, as the creditor's bank sends it on the
/// morning of `day`, rejecting `refusals` of `batch` transaction by transaction. The group and
/// payment information statuses are left out (both are optional): each transaction carries its
/// own.
fn status_report(
    report_id: &str,
    day: NaiveDate,
    creditor_agent_bic: Option<&str>,
    batch: &BatchView,
    refusals: &[Refusal],
) -> Result<String, DemoError> {
    use quick_xml::escape::partial_escape as escape;

    let mut xml = String::new();
    let _ = write!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n\
         \x20 <CstmrPmtStsRpt>\n\
         \x20   <GrpHdr>\n\
         \x20     <MsgId>{}</MsgId>\n\
         \x20     <CreDtTm>{day}T07:30:00</CreDtTm>\n",
        escape(report_id)
    );
    if let Some(bic) = creditor_agent_bic {
        let _ = writeln!(
            xml,
            "      <CdtrAgt><FinInstnId><BICFI>{}</BICFI></FinInstnId></CdtrAgt>",
            escape(bic)
        );
    }
    let _ = write!(
        xml,
        "    </GrpHdr>\n\
         \x20   <OrgnlGrpInfAndSts>\n\
         \x20     <OrgnlMsgId>{}</OrgnlMsgId>\n\
         \x20     <OrgnlMsgNmId>{}</OrgnlMsgNmId>\n\
         \x20     <OrgnlNbOfTxs>{}</OrgnlNbOfTxs>\n\
         \x20     <OrgnlCtrlSum>{}</OrgnlCtrlSum>\n\
         \x20   </OrgnlGrpInfAndSts>\n",
        escape(&batch.message_id),
        batch.version.message_name(),
        batch.number_of_transactions,
        escape(&batch.control_sum)
    );

    let mut index = 0;
    for block in &batch.payment_informations {
        let refused: Vec<&Refusal> = refusals
            .iter()
            .filter(|r| r.collection.sequence_type == block.sequence_type)
            .collect();
        if refused.is_empty() {
            continue;
        }
        let _ = write!(
            xml,
            "    <OrgnlPmtInfAndSts>\n\
             \x20     <OrgnlPmtInfId>{}</OrgnlPmtInfId>\n",
            escape(&block.id)
        );
        for refusal in refused {
            index += 1;
            let c = &refusal.collection;
            let _ = write!(
                xml,
                "      <TxInfAndSts>\n\
                 \x20       <StsId>RJCT-{index}</StsId>\n\
                 \x20       <OrgnlEndToEndId>{}</OrgnlEndToEndId>\n\
                 \x20       <TxSts>RJCT</TxSts>\n\
                 \x20       <StsRsnInf>\n\
                 \x20         <Rsn><Cd>{}</Cd></Rsn>\n\
                 \x20         <AddtlInf>{}</AddtlInf>\n\
                 \x20       </StsRsnInf>\n\
                 \x20       <OrgnlTxRef>\n\
                 \x20         <Amt><InstdAmt Ccy=\"EUR\">{}</InstdAmt></Amt>\n\
                 \x20         <ReqdColltnDt>{}</ReqdColltnDt>\n\
                 \x20         <MndtRltdInf><MndtId>{}</MndtId></MndtRltdInf>\n\
                 \x20       </OrgnlTxRef>\n\
                 \x20     </TxInfAndSts>\n",
                escape(&c.end_to_end_id),
                escape(refusal.reason),
                escape(refusal.text),
                escape(&c.amount),
                c.collection_date,
                escape(&c.mandate_reference)
            );
        }
        xml.push_str("    </OrgnlPmtInfAndSts>\n");
    }
    if index != refusals.len() {
        return Err(DemoError::Story(format!(
            "batch {} has no payment information block for every refused collection",
            batch.message_id
        )));
    }
    xml.push_str("  </CstmrPmtStsRpt>\n</Document>\n");
    Ok(xml)
}

/// An e-mail of the outbox, as far as the demo prints it.
#[derive(Debug)]
struct Mail {
    to: String,
    subject: String,
    attachments: Vec<String>,
}

impl Mail {
    fn line(&self) -> String {
        let attachments = if self.attachments.is_empty() {
            String::new()
        } else {
            format!(" [attached: {}]", self.attachments.join(", "))
        };
        format!("e-mail to {}: {}{attachments}", self.to, self.subject)
    }
}

/// Every `.eml` file of the outbox folder, oldest first (the names start with the time).
fn read_outbox(folder: &Path) -> Result<Vec<(String, Mail)>, DemoError> {
    use mail_parser::MimeHeaders;

    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(folder)(e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".eml"))
        .collect();
    names.sort();
    let mut mails = Vec::new();
    for name in names {
        let path = folder.join(&name);
        let raw = std::fs::read(&path).map_err(io_error(&path))?;
        let Some(message) = mail_parser::MessageParser::default().parse(&raw) else {
            return Err(DemoError::Story(format!(
                "{} is not an e-mail the demo can read",
                path.display()
            )));
        };
        let to = message
            .to()
            .map(|to| {
                to.iter()
                    .filter_map(|a| a.address())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let mail = Mail {
            to,
            subject: message.subject().unwrap_or_default().to_owned(),
            attachments: message
                .attachments()
                .filter_map(|a| a.attachment_name().map(str::to_owned))
                .collect(),
        };
        mails.push((name, mail));
    }
    Ok(mails)
}

/// The value of a hidden input of an HTML page (`name="document" value="..."`).
fn hidden_input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Whether the daily job did nothing worth a line.
fn report_is_quiet(report: &DailyReport) -> bool {
    report.notices_sent == 0
        && report.collections_created == 0
        && report.collections_settled == 0
        && report.plans_completed == 0
        && report.plans_stopped == 0
        && report.plans_defaulted == 0
        && report.batches_written.is_empty()
        && report.mandates_expired == 0
        && report.expiry_warnings == 0
        && report.tasks_opened == 0
        && report.problems.is_empty()
}

/// The non-zero counts of a daily report, in words.
fn report_summary(report: &DailyReport) -> String {
    let counts = [
        (
            report.notices_sent,
            "pre-notification sent",
            "pre-notifications sent",
        ),
        (
            report.collections_created,
            "collection created",
            "collections created",
        ),
        (
            report.batches_written.len() as u64,
            "batch file written",
            "batch files written",
        ),
        (
            report.collections_settled,
            "collection settled",
            "collections settled",
        ),
        (report.plans_completed, "plan completed", "plans completed"),
        (report.plans_stopped, "plan stopped", "plans stopped"),
        (report.plans_defaulted, "plan defaulted", "plans defaulted"),
        (
            report.mandates_expired,
            "mandate expired",
            "mandates expired",
        ),
        (report.expiry_warnings, "expiry warning", "expiry warnings"),
        (report.tasks_opened, "task opened", "tasks opened"),
        (report.problems.len() as u64, "problem", "problems"),
    ];
    let said: Vec<String> = counts
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, singular, plural)| count(*n, singular, plural))
        .collect();
    if said.is_empty() {
        "e-mails only".to_owned()
    } else {
        said.join(", ")
    }
}

/// A plan's instalments, three to a line.
/// The open instalments of a plan answered by a plan action, one line each.
fn new_calendar(plan: &Value) -> Vec<String> {
    plan["instalments"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|i| i["status"] == "planned")
                .map(|i| {
                    format!(
                        "{:>3}  {}  {:>9}",
                        i["seq"].as_u64().unwrap_or_default(),
                        i["due_date"].as_str().unwrap_or("?"),
                        i["amount"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn instalment_rows(instalments: &[InstalmentView]) -> Vec<String> {
    let amount_width = instalments
        .iter()
        .map(|i| i.amount.len())
        .max()
        .unwrap_or(0);
    let cells: Vec<String> = instalments
        .iter()
        .map(|i| {
            format!(
                "{:<3} {} {:>amount_width$}",
                format!("#{}", i.seq),
                i.due_date,
                i.amount
            )
        })
        .collect();
    let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    cells
        .chunks(3)
        .map(|row| {
            row.iter()
                .map(|cell| format!("{cell:<width$}"))
                .collect::<Vec<_>>()
                .join("   ")
                .trim_end()
                .to_owned()
        })
        .collect()
}

fn kind_note(kind: &str) -> &'static str {
    if kind == "down_payment" {
        " (down payment)"
    } else {
        ""
    }
}

fn attempt_note(attempt: u32) -> String {
    if attempt > 1 {
        format!(" (attempt {attempt})")
    } else {
        String::new()
    }
}

/// `1 day`, `2 days`.
fn count(n: impl Into<u64>, singular: &str, plural: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// `Mon 2027-01-04`.
fn weekday(day: NaiveDate) -> String {
    day.format("%a %Y-%m-%d").to_string()
}

fn count_files(folder: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    entries
        .filter_map(|entry| entry.ok())
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                count_files(&path)
            } else {
                usize::from(!entry.file_name().to_string_lossy().starts_with('.'))
            }
        })
        .sum()
}

fn heading(number: u32, title: &str) {
    println!("\n{number}. {title}");
}

fn fact(text: &str) {
    println!("   {text}");
}

fn detail(text: &str) {
    println!("      {text}");
}

/// Prints `text` wrapped to the demo's width, each line indented by `indent` spaces.
fn wrapped(text: &str, indent: usize) {
    for line in wrap(text, WIDTH.saturating_sub(indent).max(40)) {
        println!("{:indent$}{line}", "");
    }
}

/// Splits `text` into lines of at most `width` characters, between words (a longer word gets a
/// line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use tranche_domain::identifiers::Iban;

    #[test]
    fn the_debtors_ibans_are_valid_and_all_different() {
        let start = default_first_day();
        let ibans: Vec<String> = plan_scripts(start)
            .iter()
            .map(|script| {
                Iban::parse(script.form.iban)
                    .unwrap_or_else(|e| panic!("{} is not a valid IBAN: {e:?}", script.form.iban))
                    .as_str()
                    .to_owned()
            })
            .collect();
        let creditor = Iban::parse(creditor_request()["iban"].as_str().expect("an IBAN"))
            .expect("the creditor's IBAN is valid");
        let distinct: BTreeSet<&str> = ibans
            .iter()
            .map(String::as_str)
            .chain([creditor.as_str()])
            .collect();
        assert_eq!(distinct.len(), 4);
    }

    #[test]
    fn the_story_clock_moves_with_the_story() {
        let clock = StoryClock::new(default_first_day());
        let later = default_first_day() + Days::new(30);
        clock.set(later);
        assert_eq!(clock.today(), later);
        assert_eq!(clock.now().date_naive(), later);
    }

    #[test]
    fn a_status_report_names_each_refused_transaction_with_its_reason() {
        let collection = |e2e: &str, amount: &str| CollectionView {
            id: format!("col_{e2e}"),
            plan_id: "pln_1".to_owned(),
            instalment_seq: 1,
            attempt: 1,
            end_to_end_id: e2e.to_owned(),
            amount: amount.to_owned(),
            collection_date: default_first_day(),
            sequence_type: "FRST".to_owned(),
            mandate_reference: "TR-<&>".to_owned(),
            status: "batched".to_owned(),
            status_reason: None,
            batch_id: Some("bat_m1".to_owned()),
        };
        let batch = BatchView {
            message_id: "M1".to_owned(),
            collection_date: default_first_day(),
            scheme: "CORE".to_owned(),
            version: Pain008Version::V08,
            file_key: "batches/acme/m1.xml".to_owned(),
            number_of_transactions: 2,
            control_sum: "266.70".to_owned(),
            payment_informations: vec![PaymentInformationView {
                id: "M1-1".to_owned(),
                sequence_type: "FRST".to_owned(),
            }],
        };
        let refusals = [
            Refusal {
                collection: collection("E1", "166.70"),
                reason: "AM04",
                text: "no money",
            },
            Refusal {
                collection: collection("E2", "100.00"),
                reason: "MS02",
                text: "refused",
            },
        ];

        let xml = status_report(
            "STS-M1",
            default_first_day(),
            Some("COBADEFFXXX"),
            &batch,
            &refusals,
        )
        .expect("a report");

        assert!(xml.contains("<OrgnlMsgId>M1</OrgnlMsgId>"));
        assert!(xml.contains("<OrgnlPmtInfId>M1-1</OrgnlPmtInfId>"));
        assert!(xml.contains("<OrgnlEndToEndId>E1</OrgnlEndToEndId>"));
        assert!(xml.contains("<Cd>AM04</Cd>"));
        assert!(xml.contains("<Cd>MS02</Cd>"));
        assert!(xml.contains("<MndtId>TR-&lt;&amp;&gt;</MndtId>"));
        assert_eq!(xml.matches("<TxSts>RJCT</TxSts>").count(), 2);
    }

    #[test]
    fn wrapping_keeps_every_word_and_the_width() {
        let text = "Outside consumer credit by Directive (EU) 2023/2225, Art. 2(2): a repayment plan \
                    defers a debt the debtor already owes.";
        let lines = wrap(text, 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30));
        assert_eq!(
            lines.join(" "),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
}
