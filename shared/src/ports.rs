//! The ports: what the use cases need from the outside world, as traits.
//!
//! Every port has an embedded adapter (`infra/local`) and an AWS adapter (`infra/aws`); one
//! conformance suite (`tests/src/conformance.rs`) runs against each, so both behave alike.
//! Writes that must not happen twice are conditional: they fail with
//! [`StoreError::ConditionFailed`] instead of overwriting.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::collection::{Batch, Collection, CollectionStatus, Task, TaskStatus};
use crate::creditor::{Creditor, CreditorId};
use crate::error::StoreError;
use crate::events::Event;
use crate::mandate::{Mandate, MandateId};
use crate::plan::{Plan, PlanId, PlanStatus, Scheme, SelfServiceToken, SigningToken};

#[async_trait]
pub trait CreditorStore: Send + Sync {
    /// Creates or replaces the creditor with this id.
    async fn put_creditor(&self, creditor: &Creditor) -> Result<(), StoreError>;
    async fn get_creditor(&self, id: &CreditorId) -> Result<Option<Creditor>, StoreError>;
}

/// Which plans a list call wants, one page at a time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanQuery {
    pub creditor_id: Option<CreditorId>,
    pub status: Option<PlanStatus>,
    /// The `next` cursor of the previous page; `None` for the first page.
    pub after: Option<String>,
    /// Page size, 1 to 500.
    pub limit: u32,
}

/// One page of a list. `next` is the cursor for the page after it, `None` on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[async_trait]
pub trait PlanStore: Send + Sync {
    /// Stores a new plan and its signing token together, or neither: `ConditionFailed` when the
    /// plan id or the token hash exists already.
    async fn insert_plan(&self, plan: &Plan, token: &SigningToken) -> Result<(), StoreError>;
    async fn get_plan(&self, id: &PlanId) -> Result<Option<Plan>, StoreError>;
    /// The plans with these ids, each once however often its id is given, in no particular
    /// order; ids that name no plan are left out. How a job that works through many plans reads
    /// them without one store call each; an adapter may split a long list into several reads.
    async fn get_plans(&self, ids: &[PlanId]) -> Result<Vec<Plan>, StoreError>;
    /// Replaces a plan whose stored version is `plan.version - 1` (the caller bumps the
    /// version); `ConditionFailed` when it is not, so a concurrent change is never lost.
    async fn update_plan(&self, plan: &Plan) -> Result<(), StoreError>;
    /// Plans in id order, filtered by creditor and status.
    async fn list_plans(&self, query: &PlanQuery) -> Result<Page<Plan>, StoreError>;
    async fn get_signing_token(&self, token_hash: &str)
    -> Result<Option<SigningToken>, StoreError>;
    /// Marks the token used at `at`; `ConditionFailed` when it is unknown, used or expired.
    async fn use_signing_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Plans whose `next_action_on` is on or before `day`, each once, in the order of the
    /// store's index (`next` is an opaque cursor): the daily job's work list, an index query (a
    /// sharded GSI in DynamoDB), never a scan.
    async fn plans_due_by(
        &self,
        day: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Plan>, StoreError>;
    /// Stores a debtor's self-service link (only the hash of its token); `ConditionFailed` when
    /// the hash exists already. One is written per pre-notification or dunning e-mail.
    async fn insert_self_service_token(&self, token: &SelfServiceToken) -> Result<(), StoreError>;
    /// Stores several self-service links at once: one per e-mail of a group of failure notices.
    /// `ConditionFailed` when a hash exists already; the tokens before it may then be stored.
    /// A store that can write them in one transaction does (SQLite: one disk sync for the lot,
    /// where one call per token would sync once per token); the default stores them one by one.
    async fn insert_self_service_tokens(
        &self,
        tokens: &[SelfServiceToken],
    ) -> Result<(), StoreError> {
        for token in tokens {
            self.insert_self_service_token(token).await?;
        }
        Ok(())
    }
    /// The self-service link with this token hash, expired or not (the caller checks
    /// `expires_at`); `None` when unknown.
    async fn get_self_service_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<SelfServiceToken>, StoreError>;
}

#[async_trait]
pub trait MandateStore: Send + Sync {
    async fn get_mandate(&self, id: &MandateId) -> Result<Option<Mandate>, StoreError>;
    /// The mandates with these ids, as [`PlanStore::get_plans`] answers plans.
    async fn get_mandates(&self, ids: &[MandateId]) -> Result<Vec<Mandate>, StoreError>;
    /// Mandates in use whose expiry date (36 months after their last collection, or their
    /// signature) is on or before `day`, in id order.
    async fn mandates_expiring_by(
        &self,
        day: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Mandate>, StoreError>;
    /// The mandate whose confirmation-page download link has this SHA-256.
    async fn get_mandate_by_download_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Mandate>, StoreError>;
}

/// Which collections a list call wants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CollectionQuery {
    pub creditor_id: Option<CreditorId>,
    pub status: Option<CollectionStatus>,
    pub collection_date: Option<NaiveDate>,
    pub after: Option<String>,
    pub limit: u32,
}

#[async_trait]
pub trait CollectionStore: Send + Sync {
    async fn get_collection(&self, id: &str) -> Result<Option<Collection>, StoreError>;
    /// The collection with this EndToEndId: how the bank's reports name it.
    async fn get_collection_by_end_to_end_id(
        &self,
        end_to_end_id: &str,
    ) -> Result<Option<Collection>, StoreError>;
    /// The collections with these EndToEndIds, each once however often its id is given, in no
    /// particular order; ids that name no collection are left out. How a bank report of many
    /// items is matched without one read per item; an adapter may split a long list into
    /// several reads.
    async fn get_collections_by_end_to_end_ids(
        &self,
        end_to_end_ids: &[String],
    ) -> Result<Vec<Collection>, StoreError>;
    /// The collections of one batch file, in id order.
    async fn collections_of_batch(
        &self,
        batch_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Collection>, StoreError>;
    /// The scheduled collections of one creditor, scheme and date, in id order: what the next
    /// batch file of that key holds.
    async fn scheduled_collections(
        &self,
        creditor_id: &CreditorId,
        scheme: Scheme,
        collection_date: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Collection>, StoreError>;
    /// Batched or submitted collections dated on or before `day`, each once, in the order of the
    /// store's index (`next` is an opaque cursor): the candidates for settlement.
    async fn unsettled_collections_by(
        &self,
        day: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Collection>, StoreError>;
    async fn list_collections(
        &self,
        query: &CollectionQuery,
    ) -> Result<Page<Collection>, StoreError>;
    async fn get_batch(&self, id: &str) -> Result<Option<Batch>, StoreError>;
    /// Batches in id order, optionally of one creditor.
    async fn list_batches(
        &self,
        creditor_id: Option<&CreditorId>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Batch>, StoreError>;
    /// Batches that are not complete (open or sealed), of every creditor, in id order: what a
    /// crashed or concurrent run of the batch generator left for the next run to finish. An
    /// index of only those batches in DynamoDB, so the list stays short.
    async fn unfinished_batches(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Batch>, StoreError>;
    /// How many batch rounds exist for one creditor, scheme and date.
    async fn batch_rounds(
        &self,
        creditor_id: &CreditorId,
        scheme: Scheme,
        collection_date: NaiveDate,
    ) -> Result<u32, StoreError>;
}

#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Opens the task unless one with its id exists; answers whether it was new.
    async fn open_task(&self, task: &Task) -> Result<bool, StoreError>;
    async fn get_task(&self, id: &str) -> Result<Option<Task>, StoreError>;
    /// Closes an open task with its outcome; `ConditionFailed` when it is not open.
    async fn close_task(&self, task: &Task) -> Result<(), StoreError>;
    async fn list_tasks(
        &self,
        status: Option<TaskStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Task>, StoreError>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// One aggregate's events, oldest first.
    async fn list_events(&self, aggregate_id: &str) -> Result<Vec<Event>, StoreError>;
    /// The newest event of each aggregate in `aggregate_ids` that has one, each once even when
    /// named twice, in no particular order: the heads to chain the next events of many
    /// aggregates onto, read at once instead of one whole list each.
    async fn last_events(&self, aggregate_ids: &[String]) -> Result<Vec<Event>, StoreError>;
    /// Every event of every aggregate in the order it was stored, after the position `after`
    /// (0 for the start): the event feed. Each event comes with its position, the cursor to
    /// continue from; positions only grow, so a reader never misses or double-counts one.
    async fn feed(&self, after: u64, limit: u32) -> Result<Vec<(u64, Event)>, StoreError>;
}

/// One write of a [`TransactionalStore::commit`]. Each carries its own condition: inserts fail
/// on an existing key, updates on a stored version (a batch's revision) other than `version - 1`, a token use on a
/// used or expired token, an event on an existing `(aggregate_id, seq)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    InsertPlan(Plan),
    UpdatePlan(Plan),
    InsertMandate(Mandate),
    UpdateMandate(Mandate),
    InsertSigningToken(SigningToken),
    UseSigningToken {
        token_hash: String,
        at: DateTime<Utc>,
    },
    AppendEvent(Event),
    InsertCollection(Collection),
    UpdateCollection(Collection),
    InsertBatch(Batch),
    /// Replaces a batch whose stored revision is `batch.revision - 1`.
    UpdateBatch(Batch),
}

/// Writes that belong together (a signature: the mandate, its plan, the token, the event) are
/// committed as one transaction: all of them, or none when any condition fails
/// (`ConditionFailed`). DynamoDB's TransactWriteItems and a SQLite transaction both do this.
#[async_trait]
pub trait TransactionalStore: Send + Sync {
    async fn commit(&self, writes: &[Write]) -> Result<(), StoreError>;

    /// Commits `writes` as [`commit`](Self::commit) does, taking them and giving them back: a
    /// store that commits on a thread of its own (SQLite) moves them there instead of copying
    /// them, and the caller's task goes on meanwhile.
    async fn commit_owned(&self, writes: Vec<Write>) -> (Vec<Write>, Result<(), StoreError>) {
        let committed = self.commit(&writes).await;
        (writes, committed)
    }

    /// Whether `writes` fit in one [`commit`](Self::commit). A store with bounded transactions
    /// (DynamoDB takes at most 100 items in one) answers false above its bound, so a caller that
    /// groups many units of work into one commit closes a group before it would be refused;
    /// a store whose transactions have no such bound (SQLite) keeps the default, true.
    fn fits_in_one_commit(&self, writes: &[Write]) -> bool {
        let _ = writes;
        true
    }
}

/// The first answer to a create call, kept so a repeat with the same `Idempotency-Key` gets it
/// again instead of creating a second thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The caller's key, scoped by operation (`POST /v1/plans:<key>`).
    pub key: String,
    /// SHA-256 of the request body: the same key with another body is a caller error.
    pub request_hash: String,
    /// `None` while the first request is still being processed.
    pub response: Option<StoredResponse>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `record.key` (with no response yet); `ConditionFailed` when the key is taken.
    async fn claim_idempotency_key(&self, record: &IdempotencyRecord) -> Result<(), StoreError>;
    async fn get_idempotency_record(
        &self,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Stores the answer of a claimed key.
    async fn complete_idempotency_key(
        &self,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;
    /// Gives a claimed key back when its request failed before anything was stored.
    async fn release_idempotency_key(&self, key: &str) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Registers the SHA-256 (hex) of an operator API key; registering it twice is harmless.
    async fn add_api_key_hash(&self, key_hash: &str) -> Result<(), StoreError>;
    async fn api_key_hash_exists(&self, key_hash: &str) -> Result<bool, StoreError>;
}

/// Where files go: pain.008 batches, mandate PDFs, bank reports (S3 in AWS, a folder locally).
#[async_trait]
pub trait FileStore: Send + Sync {
    async fn put_file(&self, key: &str, content_type: &str, bytes: &[u8])
    -> Result<(), StoreError>;
    /// Stores the file at `path` (a local temporary file) under `key` without reading it into
    /// memory: how batch files of any size are kept (S3 uploads it in parts).
    async fn put_file_from_path(
        &self,
        key: &str,
        content_type: &str,
        path: &std::path::Path,
    ) -> Result<(), StoreError>;
    async fn get_file(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Keys under `prefix`, sorted.
    async fn list_files(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
}

/// An e-mail, already rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("the e-mail could not be sent: {0}")]
pub struct MailError(pub String);

/// One address of an e-mail: `Name <local@domain>` or a bare `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

impl Mailbox {
    /// Splits `Name <address>` into its display name and address; a bare address has no name.
    /// Refuses line breaks and other control characters, which could otherwise smuggle extra
    /// headers into the message.
    pub fn parse(text: &str) -> Result<Self, MailError> {
        if text.chars().any(char::is_control) {
            return Err(MailError(
                "an e-mail address holds a control character".to_owned(),
            ));
        }
        let text = text.trim();
        let (name, address) = match text.strip_suffix('>').and_then(|t| t.rsplit_once('<')) {
            Some((name, address)) => {
                let name = name.trim().trim_matches('"').trim();
                ((!name.is_empty()).then(|| name.to_owned()), address.trim())
            }
            None => (None, text),
        };
        let well_formed = address
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
            && !address.contains(char::is_whitespace)
            && !address.contains(['<', '>']);
        if !well_formed {
            return Err(MailError(
                "an e-mail address is not of the form local@domain".to_owned(),
            ));
        }
        Ok(Self {
            name,
            address: address.to_owned(),
        })
    }
}

impl Email {
    /// What every mailer checks before sending: a recipient, a subject on one line, and every
    /// address well formed ([`Mailbox::parse`]). Answers the recipients, parsed.
    pub fn checked_recipients(&self) -> Result<Vec<Mailbox>, MailError> {
        if self.to.is_empty() {
            return Err(MailError("the e-mail has no recipient".to_owned()));
        }
        if self.subject.chars().any(|c| c == '\r' || c == '\n') {
            return Err(MailError("the subject holds a line break".to_owned()));
        }
        self.to.iter().map(|to| Mailbox::parse(to)).collect()
    }
}

/// E-mails in flight at once when a mailer sends several ([`Mailer::send_all`]): each is a call
/// to the mail service, so one after the other they would take most of a large bank file's time.
pub const CONCURRENT_SENDS: usize = 32;

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends the e-mail and answers its message id.
    async fn send(&self, email: &Email) -> Result<String, MailError>;

    /// Sends several e-mails and answers each one's outcome, in their order. By default
    /// [`CONCURRENT_SENDS`] at a time through [`Mailer::send`]; a mailer that can store many at
    /// the cost of one (the outbox: one disk flush) does so.
    async fn send_all(&self, emails: &[Email]) -> Vec<Result<String, MailError>> {
        use std::future::Future;
        use std::pin::Pin;
        use std::task::Poll;
        type Sending<'a> =
            Pin<Box<dyn Future<Output = (usize, Result<String, MailError>)> + Send + 'a>>;
        let mut outcomes: Vec<Option<Result<String, MailError>>> =
            emails.iter().map(|_| None).collect();
        let mut waiting = emails.iter().enumerate();
        let mut sending: Vec<Sending> = Vec::with_capacity(CONCURRENT_SENDS);
        std::future::poll_fn(|cx| {
            loop {
                while sending.len() < CONCURRENT_SENDS
                    && let Some((index, email)) = waiting.next()
                {
                    sending.push(Box::pin(async move { (index, self.send(email).await) }));
                }
                if sending.is_empty() {
                    // Nothing in flight after filling up: nothing is waiting either.
                    return Poll::Ready(());
                }
                let before = sending.len();
                sending.retain_mut(|send| match send.as_mut().poll(cx) {
                    Poll::Ready((index, outcome)) => {
                        outcomes[index] = Some(outcome);
                        false
                    }
                    Poll::Pending => true,
                });
                if sending.len() == before {
                    return Poll::Pending;
                }
            }
        })
        .await;
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(MailError("the e-mail was not sent".to_owned()))))
            .collect()
    }
}

/// "Now" and "today", injected so every test and every simulation chooses its day.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Today in the creditor's calendar.
    fn today(&self) -> NaiveDate;
}

/// The real clock. Today is the UTC date; the host runs in the creditors' time zone band.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn today(&self) -> NaiveDate {
        Utc::now().date_naive()
    }
}

/// A clock pinned to one day (the `--today` of the local host): the date never moves, the time
/// of day is the real one, so timestamps still order events.
#[derive(Debug, Clone, Copy)]
pub struct FixedDayClock(pub NaiveDate);

impl Clock for FixedDayClock {
    fn now(&self) -> DateTime<Utc> {
        let time = Utc::now().time();
        self.0.and_time(time).and_utc()
    }

    fn today(&self) -> NaiveDate {
        self.0
    }
}

/// Every port a use case may need, as shared trait objects.
#[derive(Clone)]
pub struct Ports {
    pub creditors: Arc<dyn CreditorStore>,
    pub plans: Arc<dyn PlanStore>,
    pub mandates: Arc<dyn MandateStore>,
    pub collections: Arc<dyn CollectionStore>,
    pub tasks: Arc<dyn TaskStore>,
    pub events: Arc<dyn EventStore>,
    pub transactions: Arc<dyn TransactionalStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub api_keys: Arc<dyn ApiKeyStore>,
    pub files: Arc<dyn FileStore>,
    pub mailer: Arc<dyn Mailer>,
    pub documents: Arc<dyn DocumentRenderer>,
    pub clock: Arc<dyn Clock>,
}

/// A store that keeps every kind of record behind the store ports, as the SQLite and DynamoDB
/// adapters each do.
pub trait Store:
    CreditorStore
    + PlanStore
    + MandateStore
    + CollectionStore
    + TaskStore
    + EventStore
    + TransactionalStore
    + IdempotencyStore
    + ApiKeyStore
    + 'static
{
}

impl<S> Store for S where
    S: CreditorStore
        + PlanStore
        + MandateStore
        + CollectionStore
        + TaskStore
        + EventStore
        + TransactionalStore
        + IdempotencyStore
        + ApiKeyStore
        + 'static
{
}

/// The ports that are not the store.
pub struct Services {
    pub files: Arc<dyn FileStore>,
    pub mailer: Arc<dyn Mailer>,
    pub documents: Arc<dyn DocumentRenderer>,
    pub clock: Arc<dyn Clock>,
}

impl Ports {
    /// Every store port on the one `store`, and `services` for the rest.
    pub fn on_store<S: Store>(store: Arc<S>, services: Services) -> Self {
        let Services {
            files,
            mailer,
            documents,
            clock,
        } = services;
        Self {
            creditors: store.clone(),
            plans: store.clone(),
            mandates: store.clone(),
            collections: store.clone(),
            tasks: store.clone(),
            events: store.clone(),
            transactions: store.clone(),
            idempotency: store.clone(),
            api_keys: store,
            files,
            mailer,
            documents,
            clock,
        }
    }
}

/// Renders the mandate document as a PDF (printpdf in the functions; kept behind a port so the
/// domain stays free of rendering crates).
pub trait DocumentRenderer: Send + Sync {
    /// The PDF's bytes. Fails only where no renderer is wired ([`NotWired`]).
    fn render_pdf(
        &self,
        document: &crate::document::MandateDocument,
    ) -> Result<Vec<u8>, StoreError>;
}

/// The file store, mailer or PDF renderer of a Lambda function that does not use it: each
/// function builds only the adapters its handlers reach, so its binary links no other (the
/// authorizer no S3, SES or PDF code). Every call fails with [`StoreError::Unavailable`] naming
/// the function and the port, so a use case reaching one shows up at once as a wiring mistake.
#[derive(Debug, Clone, Copy)]
pub struct NotWired {
    /// The function, as its log and the error name it.
    pub function: &'static str,
}

impl NotWired {
    fn error(&self, port: &str) -> StoreError {
        StoreError::Unavailable(format!(
            "the {} function has no {port} wired: the call belongs to another function, or \
             the function's wiring must add it",
            self.function
        ))
    }
}

#[async_trait]
impl FileStore for NotWired {
    async fn put_file(&self, _: &str, _: &str, _: &[u8]) -> Result<(), StoreError> {
        Err(self.error("file store"))
    }

    async fn put_file_from_path(
        &self,
        _: &str,
        _: &str,
        _: &std::path::Path,
    ) -> Result<(), StoreError> {
        Err(self.error("file store"))
    }

    async fn get_file(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(self.error("file store"))
    }

    async fn list_files(&self, _: &str) -> Result<Vec<String>, StoreError> {
        Err(self.error("file store"))
    }
}

#[async_trait]
impl Mailer for NotWired {
    async fn send(&self, _: &Email) -> Result<String, MailError> {
        Err(MailError(self.error("mailer").to_string()))
    }
}

impl DocumentRenderer for NotWired {
    fn render_pdf(&self, _: &crate::document::MandateDocument) -> Result<Vec<u8>, StoreError> {
        Err(self.error("PDF renderer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_not_wired_fails_every_call_naming_the_function_and_the_port() {
        let port = NotWired {
            function: "authorizer",
        };
        let files = port
            .get_file("batches/x.xml")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            files.contains("the authorizer function has no file store wired"),
            "{files}"
        );
        assert!(matches!(
            port.put_file("k", "text/plain", b"x").await,
            Err(StoreError::Unavailable(_))
        ));
        let email = Email {
            from: "a@b.example".into(),
            to: vec!["c@d.example".into()],
            subject: "s".into(),
            text_body: "t".into(),
            html_body: None,
            attachments: Vec::new(),
        };
        let mail = port.send(&email).await.unwrap_err().to_string();
        assert!(
            mail.contains("the authorizer function has no mailer wired"),
            "{mail}"
        );
    }

    /// A mailer that answers after a delay that shrinks along the list (the last e-mail is
    /// sent first) and refuses every e-mail whose subject says so, counting how many are in
    /// flight at once.
    struct SlowMailer {
        in_flight: std::sync::atomic::AtomicUsize,
        most: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl Mailer for SlowMailer {
        async fn send(&self, email: &Email) -> Result<String, MailError> {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.in_flight.fetch_add(1, SeqCst) + 1;
            self.most.fetch_max(now, SeqCst);
            let index: u64 = email.subject.trim_start_matches("refuse ").parse().unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200 - index)).await;
            self.in_flight.fetch_sub(1, SeqCst);
            if email.subject.starts_with("refuse") {
                return Err(MailError(format!("refused {index}")));
            }
            Ok(format!("id-{index}"))
        }
    }

    #[tokio::test]
    async fn send_all_sends_through_send_a_bounded_number_at_once_and_answers_in_order() {
        let mailer = SlowMailer {
            in_flight: 0.into(),
            most: 0.into(),
        };
        let emails: Vec<Email> = (0..100u64)
            .map(|index| Email {
                from: "a@b.example".into(),
                to: vec!["c@d.example".into()],
                subject: if index % 7 == 3 {
                    format!("refuse {index}")
                } else {
                    index.to_string()
                },
                text_body: "t".into(),
                html_body: None,
                attachments: Vec::new(),
            })
            .collect();

        let outcomes = mailer.send_all(&emails).await;

        assert_eq!(outcomes.len(), emails.len());
        for (index, outcome) in outcomes.iter().enumerate() {
            match outcome {
                Ok(id) => assert_eq!(id, &format!("id-{index}")),
                Err(MailError(reason)) => {
                    assert_eq!(index % 7, 3, "e-mail {index} was refused");
                    assert_eq!(reason, &format!("refused {index}"));
                }
            }
        }
        assert_eq!(
            mailer.most.load(std::sync::atomic::Ordering::SeqCst),
            CONCURRENT_SENDS,
            "as many e-mails in flight at once as allowed, no more"
        );
        assert!(mailer.send_all(&[]).await.is_empty());
    }
}
