//! Every store port on one SQLite database: creditors, plans with their signing and self-service
//! tokens, mandates, collections, batches, tasks, events, idempotency keys and API key hashes.
//!
//! Each item is kept the way a DynamoDB item will be: the whole aggregate as JSON in a `body`
//! column, beside a few plain columns that exist only for the access paths (the partition and
//! sort keys, a GSI, a condition). SQL indexes stand in for the GSIs, so a query that is an index
//! scan here is a key query there, and a scan here would be a scan there too.
//!
//! Writes that must not happen twice are single conditional statements (a primary key, `WHERE
//! version = ?`, `WHERE used_at IS NULL`), never a read followed by a write, so two processes on
//! the same file (`tranche serve` and `tranche daily`) cannot both win.
//!
//! The schema is versioned with `PRAGMA user_version`: the `MIGRATIONS` list holds every step
//! from an empty file, and opening a file applies the steps it has not seen yet.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tranche_domain::collection::{Batch, Collection, Task, TaskStatus};
use tranche_domain::creditor::{Creditor, CreditorId};
use tranche_domain::daily::expiry_date;
use tranche_domain::error::StoreError;
use tranche_domain::events::Event;
use tranche_domain::mandate::{Mandate, MandateId};
use tranche_domain::plan::{Plan, PlanId, Scheme, SelfServiceToken, SigningToken};
use tranche_domain::ports::{
    ApiKeyStore, CollectionQuery, CollectionStore, CreditorStore, EventStore, IdempotencyRecord,
    IdempotencyStore, MandateStore, Page, PlanQuery, PlanStore, StoredResponse, TaskStore,
    TransactionalStore, Write,
};

use crate::files::on_blocking_pool;

/// The largest page a list call answers, whatever it asks for.
pub const MAX_PAGE_SIZE: u32 = 500;

/// How long a statement waits for another process's write lock before it gives up with
/// [`StoreError::Unavailable`]. Local writes take milliseconds, so five seconds means something is
/// stuck, not busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection: every statement of this module fits, so none is
/// compiled again on a hot path (a daily job makes several per plan).
const STATEMENT_CACHE: usize = 96;
/// The page size of a new database file: a plan's row (about 5 KiB of JSON) fits in one page
/// instead of spilling into two overflow pages of 4 KiB, so a daily job that rewrites 100k
/// plans logs and checkpoints one page for each instead of three.
const PAGE_BYTES: i64 = 8192;
/// The page cache, in KiB (SQLite's negative `cache_size`): the indexes a daily job of 100k
/// plans walks stay in memory instead of being read again from the OS for every page.
const CACHE_KIB: i64 = 64 * 1024;
/// Pages the write-ahead log grows to before a commit copies it back into the database file
/// (SQLite's default is 1 000, 4 MiB). A checkpoint writes each page once however often the
/// log holds it, so a longer log writes the hot index pages of a large daily job far fewer
/// times; every commit is still synced to the log first, so durability is the same.
const CHECKPOINT_PAGES: i64 = 16_384;
/// The size the log is cut back to after a checkpoint, so a large job leaves no large file.
const JOURNAL_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// Statements through the connection's cache of prepared statements: compiling a statement
/// costs more than running a small one.
trait CachedStatements {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl CachedStatements for Connection {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// The schema, one step per version: step `n` (from 0) takes `user_version` from `n` to `n + 1`.
/// A step is never edited once released; a change is a new step at the end.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE creditors (
    id   TEXT PRIMARY KEY,
    body TEXT NOT NULL
) STRICT;

CREATE TABLE plans (
    id          TEXT PRIMARY KEY,
    creditor_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL
) STRICT;
CREATE INDEX plans_by_creditor ON plans (creditor_id, id);
CREATE INDEX plans_by_creditor_status ON plans (creditor_id, status, id);
CREATE INDEX plans_by_status ON plans (status, id);

CREATE TABLE signing_tokens (
    token_hash TEXT PRIMARY KEY,
    plan_id    TEXT NOT NULL,
    -- Microseconds since the Unix epoch, so the expiry condition is an integer comparison.
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    body       TEXT NOT NULL
) STRICT;
CREATE INDEX signing_tokens_by_plan ON signing_tokens (plan_id);

CREATE TABLE idempotency_keys (
    key       TEXT PRIMARY KEY,
    completed INTEGER NOT NULL,
    body      TEXT NOT NULL
) STRICT;

CREATE TABLE api_keys (
    key_hash TEXT PRIMARY KEY
) STRICT;
"#,
    r#"
CREATE TABLE mandates (
    id                  TEXT PRIMARY KEY,
    creditor_id         TEXT NOT NULL,
    reference           TEXT NOT NULL,
    download_token_hash TEXT,
    version             INTEGER NOT NULL,
    body                TEXT NOT NULL,
    UNIQUE (creditor_id, reference)
) STRICT;
CREATE UNIQUE INDEX mandates_by_download_token ON mandates (download_token_hash)
    WHERE download_token_hash IS NOT NULL;

-- Append-only; `position` orders the whole log for the event feed.
CREATE TABLE events (
    position     INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_id TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    body         TEXT NOT NULL,
    UNIQUE (aggregate_id, seq)
) STRICT;
"#,
    r#"
-- The daily job's work list: plans with something due on or before a day.
ALTER TABLE plans ADD COLUMN next_action_on TEXT;
CREATE INDEX plans_by_next_action ON plans (next_action_on, id)
    WHERE next_action_on IS NOT NULL;

ALTER TABLE mandates ADD COLUMN expires_on TEXT;
CREATE INDEX mandates_by_expiry ON mandates (expires_on, id) WHERE expires_on IS NOT NULL;

CREATE TABLE collections (
    id              TEXT PRIMARY KEY,
    creditor_id     TEXT NOT NULL,
    scheme          TEXT NOT NULL,
    collection_date TEXT NOT NULL,
    status          TEXT NOT NULL,
    end_to_end_id   TEXT NOT NULL UNIQUE,
    version         INTEGER NOT NULL,
    body            TEXT NOT NULL
) STRICT;
CREATE INDEX collections_for_batch
    ON collections (creditor_id, scheme, collection_date, status, id);
CREATE INDEX collections_by_status_date ON collections (status, collection_date, id);
CREATE INDEX collections_by_date ON collections (collection_date, id);
CREATE INDEX collections_by_creditor ON collections (creditor_id, id);

CREATE TABLE batches (
    id              TEXT PRIMARY KEY,
    creditor_id     TEXT NOT NULL,
    scheme          TEXT NOT NULL,
    collection_date TEXT NOT NULL,
    round           INTEGER NOT NULL,
    part            INTEGER NOT NULL,
    body            TEXT NOT NULL,
    UNIQUE (creditor_id, scheme, collection_date, round, part)
) STRICT;
CREATE INDEX batches_by_creditor ON batches (creditor_id, id);

CREATE TABLE tasks (
    id     TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    body   TEXT NOT NULL
) STRICT;
CREATE INDEX tasks_by_status ON tasks (status, id);
"#,
    r#"
-- Bank reports name a batch; its collections are found through this column.
ALTER TABLE collections ADD COLUMN batch_id TEXT;
CREATE INDEX collections_by_batch ON collections (batch_id, id) WHERE batch_id IS NOT NULL;
"#,
    r#"
-- The debtors' self-service links: looked up by the hash of the token in the link.
CREATE TABLE self_service_tokens (
    token_hash TEXT PRIMARY KEY,
    plan_id    TEXT NOT NULL,
    body       TEXT NOT NULL
) STRICT;
"#,
    r#"
-- Batches are written in steps: a batch is open or sealed until its file is stored, and its
-- record is updated conditionally on its revision. Earlier batches are complete.
ALTER TABLE batches ADD COLUMN status TEXT NOT NULL DEFAULT 'complete';
ALTER TABLE batches ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE INDEX batches_unfinished ON batches (id) WHERE status <> 'complete';
"#,
];

/// The store ports on one SQLite connection.
///
/// Every call runs on Tokio's blocking pool (`spawn_blocking`) and takes the connection's mutex
/// there; a commit on the multi-threaded runtime blocks in place instead (`block_in_place`,
/// which frees the worker's other tasks the same way), so its writes need not be copied. Most statements take microseconds, but a file shared with another process can make one
/// wait up to the busy timeout for that process's write lock, and an `fsync` on commit can take
/// milliseconds: neither should stall a runtime worker thread that serves HTTP requests. One
/// connection behind a mutex serialises this process's statements, which is more than fast
/// enough for one machine and keeps transactions simple. Cloning is cheap and shares the
/// connection.
#[derive(Clone)]
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    /// A second connection to the same file for the bulk reads of the daily job (its work
    /// lists and the plans and mandates of a page) and of the return processor (a chunk's
    /// collections, plans and mandates), so they run while a commit holds `connection`: in WAL
    /// mode a reader sees every transaction committed before its own began and never waits for
    /// the writer. The same connection as `connection` in memory.
    reader: Arc<Mutex<Connection>>,
    /// Where the database lives, `None` in memory; for messages only.
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it (and its folder) with the current schema
    /// when it does not exist, and migrating an older one. The file is in WAL mode, so another
    /// process reading it (the daily job beside the server) never waits for a writer, with
    /// `synchronous = FULL`, so a crash or a power cut never loses a committed write.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|e| {
                StoreError::Unavailable(format!(
                    "could not create the folder {} for the database: {e}",
                    folder.display()
                ))
            })?;
        }
        let context = |e| sqlite_error(&format!("opening {}", path.display()), e);
        let mut connection = Connection::open(path).map_err(context)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(context)?;
        // Only a new, empty file takes it; an existing one keeps the size it was made with.
        connection
            .pragma_update(None, "page_size", PAGE_BYTES)
            .map_err(context)?;
        let journal_mode: String = connection
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(context)?;
        if !journal_mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "{} could not be switched to WAL mode (it is in {journal_mode} mode)",
                path.display()
            )));
        }
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(context)?;
        tune(&connection).map_err(context)?;
        migrate(&mut connection)?;
        let reader = Connection::open(path).map_err(context)?;
        reader.busy_timeout(BUSY_TIMEOUT).map_err(context)?;
        tune(&reader).map_err(context)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            reader: Arc::new(Mutex::new(reader)),
            path: Some(path.to_owned()),
        })
    }

    /// A private database that lives as long as this store (and its clones): for tests and
    /// `tranche demo`, where nothing needs to survive the process.
    pub fn in_memory() -> Result<Self, StoreError> {
        let context = |e| sqlite_error("opening an in-memory database", e);
        let mut connection = Connection::open_in_memory().map_err(context)?;
        connection
            .pragma_update(None, "page_size", PAGE_BYTES)
            .map_err(context)?;
        tune(&connection).map_err(context)?;
        migrate(&mut connection)?;
        let connection = Arc::new(Mutex::new(connection));
        Ok(Self {
            reader: Arc::clone(&connection),
            connection,
            path: None,
        })
    }

    /// The schema version this build writes; a file with a higher one is refused.
    pub fn schema_version() -> u32 {
        MIGRATIONS.len() as u32
    }

    /// Runs `work` with the reading connection on the blocking pool, in one read transaction:
    /// what it reads in several statements is one snapshot of the committed data.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let reader = Arc::clone(&self.reader);
        on_blocking_pool("database", move || {
            let connection = reader.lock().unwrap_or_else(PoisonError::into_inner);
            let context = |e| sqlite_error("reading a snapshot", e);
            let snapshot = connection.unchecked_transaction().map_err(context)?;
            let read = work(&snapshot)?;
            snapshot.commit().map_err(context)?;
            Ok(read)
        })
        .await?
    }

    /// Runs `work` with the connection on the blocking pool. A panic inside `work` is resumed
    /// here, so it surfaces in the caller as it would without the thread hop.
    async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        on_blocking_pool("database", move || {
            // A panic while the lock was held cannot leave a transaction half-applied: rusqlite
            // rolls back an open transaction when it is dropped during unwinding.
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut connection)
        })
        .await?
    }
}

/// Settings of one connection that change its speed, never what it stores.
fn tune(connection: &Connection) -> rusqlite::Result<()> {
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    connection.pragma_update(None, "cache_size", -CACHE_KIB)?;
    connection.pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES)?;
    connection.pragma_update(None, "journal_size_limit", JOURNAL_LIMIT_BYTES)?;
    connection.pragma_update(None, "temp_store", "MEMORY")
}

/// Brings the schema to [`MIGRATIONS`]`.len()`, in one immediate transaction so that two
/// processes opening a new file at once do not both create it.
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let context = |e| sqlite_error("migrating the schema", e);
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(context)?;
    let current: u32 = transaction
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(context)?;
    let known = MIGRATIONS.len() as u32;
    if current > known {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {current}, but this build of tranche knows only up \
             to {known}; open it with the newer build that wrote it"
        )));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        transaction.execute_batch(sql).map_err(context)?;
        transaction
            .pragma_update(None, "user_version", step as u32 + 1)
            .map_err(context)?;
    }
    transaction.commit().map_err(context)
}

/// Maps a SQLite error to what callers branch on: a broken constraint is a failed condition,
/// a damaged file is corrupt, anything else (locked, disk full, I/O) may pass on a retry.
/// A versioned update in two statements. `narrow` also conditions on the indexed columns keeping
/// their values and leaves them out of its `SET` list, so SQLite rewrites none of their indexes;
/// when it changes nothing (those columns did change, or the row is not at the expected
/// version), `full` sets every column. Both carry the same version condition. Answers whether a
/// row was updated.
fn update_versioned(
    connection: &Connection,
    narrow: &str,
    full: &str,
    values: &[&dyn rusqlite::ToSql],
    context: impl Fn(rusqlite::Error) -> StoreError,
) -> Result<bool, StoreError> {
    let changed = connection
        .execute_cached(narrow, values)
        .map_err(&context)?;
    let changed = match changed {
        0 => connection.execute_cached(full, values).map_err(&context)?,
        changed => changed,
    };
    Ok(changed == 1)
}

fn sqlite_error(context: &str, error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => {
            StoreError::ConditionFailed(format!("{context}: {error}"))
        }
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Corrupt(format!("{context}: {error}"))
        }
        _ => StoreError::Unavailable(format!("{context}: {error}")),
    }
}

fn is_constraint_violation(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

fn to_json<T: Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("{what} could not be written as JSON: {e}")))
}

fn from_json<T: DeserializeOwned>(what: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body)
        .map_err(|e| StoreError::Corrupt(format!("stored {what} is not valid: {e}")))
}

/// An optimistic-lock version as SQLite's signed integer. No real version comes near the limit;
/// one that does can match no stored row, so its write fails its condition.
fn version_column(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| {
        StoreError::ConditionFailed(format!("version {version} is beyond any stored version"))
    })
}

#[async_trait]
impl CreditorStore for SqliteStore {
    async fn put_creditor(&self, creditor: &Creditor) -> Result<(), StoreError> {
        let id = creditor.id.as_str().to_owned();
        let body = to_json("the creditor", creditor)?;
        self.run(move |connection| {
            connection
                .execute_cached(
                    "INSERT INTO creditors (id, body) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                    params![id, body],
                )
                .map_err(|e| sqlite_error(&format!("storing creditor {id}"), e))?;
            Ok(())
        })
        .await
    }

    async fn get_creditor(&self, id: &CreditorId) -> Result<Option<Creditor>, StoreError> {
        let id = id.as_str().to_owned();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row_cached("SELECT body FROM creditors WHERE id = ?1", [&id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(|e| sqlite_error(&format!("reading creditor {id}"), e))?;
            body.map(|body| from_json(&format!("creditor {id}"), &body))
                .transpose()
        })
        .await
    }
}

/// The query behind `list_plans`, with only the conditions the query asks for, so SQLite picks
/// the index made for that access path (an `OR ? IS NULL` condition would defeat it). It reads
/// one row more than the page, which tells whether a next page exists without a second query.
fn list_plans_statement(query: &PlanQuery, limit: u32) -> (String, Vec<Value>) {
    let mut sql = String::from("SELECT id, body FROM plans WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    if let Some(creditor_id) = &query.creditor_id {
        values.push(Value::Text(creditor_id.as_str().to_owned()));
        sql.push_str(&format!(" AND creditor_id = ?{}", values.len()));
    }
    if let Some(status) = query.status {
        values.push(Value::Text(status.as_str().to_owned()));
        sql.push_str(&format!(" AND status = ?{}", values.len()));
    }
    if let Some(after) = &query.after {
        values.push(Value::Text(after.clone()));
        sql.push_str(&format!(" AND id > ?{}", values.len()));
    }
    values.push(Value::Integer(i64::from(limit) + 1));
    sql.push_str(&format!(" ORDER BY id LIMIT ?{}", values.len()));
    (sql, values)
}

#[async_trait]
impl PlanStore for SqliteStore {
    async fn insert_plan(&self, plan: &Plan, token: &SigningToken) -> Result<(), StoreError> {
        self.commit(&[
            Write::InsertPlan(plan.clone()),
            Write::InsertSigningToken(token.clone()),
        ])
        .await
    }

    async fn get_plans(&self, ids: &[PlanId]) -> Result<Vec<Plan>, StoreError> {
        let keys: Vec<String> = ids.iter().map(|id| id.0.clone()).collect();
        self.read(move |connection| rows_by_keys(connection, "plans", "id", &keys))
            .await
    }

    async fn get_plan(&self, id: &PlanId) -> Result<Option<Plan>, StoreError> {
        let id = id.0.clone();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row_cached("SELECT body FROM plans WHERE id = ?1", [&id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(|e| sqlite_error(&format!("reading plan {id}"), e))?;
            body.map(|body| from_json(&format!("plan {id}"), &body))
                .transpose()
        })
        .await
    }

    async fn update_plan(&self, plan: &Plan) -> Result<(), StoreError> {
        self.commit(&[Write::UpdatePlan(plan.clone())]).await
    }

    async fn list_plans(&self, query: &PlanQuery) -> Result<Page<Plan>, StoreError> {
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let (sql, values) = list_plans_statement(query, limit);

        self.run(move |connection| {
            let context = |e| sqlite_error("listing plans", e);
            let mut statement = connection.prepare_cached(&sql).map_err(context)?;
            let rows = statement
                .query_map(rusqlite::params_from_iter(values), |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(context)?;
            let mut items = Vec::new();
            let mut has_more = false;
            for row in rows {
                let (id, body) = row.map_err(context)?;
                if items.len() == limit as usize {
                    has_more = true;
                    break;
                }
                items.push(from_json::<Plan>(&format!("plan {id}"), &body)?);
            }
            let next = if has_more {
                items.last().map(|plan| plan.id.0.clone())
            } else {
                None
            };
            Ok(Page { items, next })
        })
        .await
    }

    async fn get_signing_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<SigningToken>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row_cached(
                    "SELECT body FROM signing_tokens WHERE token_hash = ?1",
                    [&token_hash],
                    |row| row.get(0),
                )
                .optional()
                .map_err(|e| sqlite_error("reading a signing token", e))?;
            body.map(|body| from_json("signing token", &body))
                .transpose()
        })
        .await
    }

    async fn insert_self_service_token(&self, token: &SelfServiceToken) -> Result<(), StoreError> {
        let token = token.clone();
        self.run(move |connection| rows::insert_self_service_token(connection, &token))
            .await
    }

    /// All of them in one transaction, so one disk sync: none is stored when one fails.
    async fn insert_self_service_tokens(
        &self,
        tokens: &[SelfServiceToken],
    ) -> Result<(), StoreError> {
        let tokens = tokens.to_vec();
        self.run(move |connection| {
            let context = |e| sqlite_error("storing self-service tokens", e);
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(context)?;
            for token in &tokens {
                rows::insert_self_service_token(&transaction, token)?;
            }
            transaction.commit().map_err(context)
        })
        .await
    }

    async fn get_self_service_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<SelfServiceToken>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row(
                    "SELECT body FROM self_service_tokens WHERE token_hash = ?1",
                    [&token_hash],
                    |row| row.get(0),
                )
                .optional()
                .map_err(|e| sqlite_error("reading a self-service token", e))?;
            body.map(|body| from_json("self-service token", &body))
                .transpose()
        })
        .await
    }

    async fn use_signing_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let token_hash = token_hash.to_owned();
        self.run(move |connection| rows::use_signing_token(connection, &token_hash, at))
            .await
    }

    async fn plans_due_by(
        &self,
        day: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Plan>, StoreError> {
        // In the order of the index on (next_action_on, id), with a cursor of both: a page is a
        // range of the index, never a sort of every plan that is due.
        let mut values = vec![Value::Text(day.to_string())];
        let mut sql = String::from(
            "SELECT next_action_on || '|' || id, body FROM plans \
             WHERE next_action_on IS NOT NULL AND next_action_on <= ?1",
        );
        if let Some((date, id)) = after.map(split_cursor) {
            values.extend([Value::Text(date), Value::Text(id)]);
            sql.push_str(" AND (next_action_on, id) > (?2, ?3)");
        }
        sql.push_str(&format!(
            " ORDER BY next_action_on, id LIMIT ?{}",
            values.len() + 1
        ));
        self.read(move |connection| page_of(connection, "plans", &sql, values, limit))
            .await
    }
}

/// The writes of [`TransactionalStore::commit`] and of the single-item methods, each one
/// conditional statement on a connection or an open transaction.
mod rows {
    use super::*;
    use rusqlite::Connection;

    pub(super) fn conflict(e: rusqlite::Error, context: &str, what: String) -> StoreError {
        if is_constraint_violation(&e) {
            StoreError::ConditionFailed(what)
        } else {
            sqlite_error(context, e)
        }
    }

    pub fn insert_self_service_token(
        connection: &Connection,
        token: &SelfServiceToken,
    ) -> Result<(), StoreError> {
        let plan_id = &token.plan_id.0;
        connection
            .execute_cached(
                "INSERT INTO self_service_tokens (token_hash, plan_id, body) VALUES (?1, ?2, ?3)",
                params![
                    token.token_hash,
                    plan_id,
                    to_json("the self-service token", token)?
                ],
            )
            .map_err(|e| {
                conflict(
                    e,
                    &format!("inserting a self-service token of plan {plan_id}"),
                    format!("the self-service token hash for plan {plan_id} exists already"),
                )
            })?;
        Ok(())
    }

    pub fn insert_plan(connection: &Connection, plan: &Plan) -> Result<(), StoreError> {
        let id = &plan.id.0;
        connection
            .execute_cached(
                "INSERT INTO plans (id, creditor_id, status, version, body, next_action_on)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    plan.creditor_id.as_str(),
                    plan.status.as_str(),
                    version_column(plan.version)?,
                    to_json("the plan", plan)?,
                    plan.next_action_on.map(|d| d.to_string())
                ],
            )
            .map_err(|e| {
                conflict(
                    e,
                    &format!("inserting plan {id}"),
                    format!("plan {id} exists already"),
                )
            })?;
        Ok(())
    }

    pub fn update_plan(connection: &Connection, plan: &Plan) -> Result<(), StoreError> {
        let id = &plan.id.0;
        let Some(expected) = plan.version.checked_sub(1) else {
            return Err(StoreError::ConditionFailed(format!(
                "plan {id} has version 0; an update must carry the stored version plus one"
            )));
        };
        let expected = version_column(expected)?;
        let values = params![
            plan.creditor_id.as_str(),
            plan.status.as_str(),
            version_column(plan.version)?,
            to_json("the plan", plan)?,
            id,
            expected,
            plan.next_action_on.map(|d| d.to_string())
        ];
        let context = |e| sqlite_error(&format!("updating plan {id}"), e);
        // Most updates keep the creditor and the status: leaving them out of the `SET` list
        // spares SQLite rewriting the three indexes on them. The same version condition holds
        // either way; when they did change, the full statement below makes the update.
        if update_versioned(
            connection,
            "UPDATE plans SET version = ?3, body = ?4, next_action_on = ?7
                 WHERE id = ?5 AND version = ?6 AND creditor_id = ?1 AND status = ?2",
            "UPDATE plans SET creditor_id = ?1, status = ?2, version = ?3, body = ?4,
                 next_action_on = ?7 WHERE id = ?5 AND version = ?6",
            values,
            context,
        )? {
            Ok(())
        } else {
            Err(StoreError::ConditionFailed(format!(
                "plan {id} is not at version {expected}: it was changed meanwhile, or does not \
                 exist"
            )))
        }
    }

    pub fn insert_signing_token(
        connection: &Connection,
        token: &SigningToken,
    ) -> Result<(), StoreError> {
        let plan_id = &token.plan_id.0;
        connection
            .execute_cached(
                "INSERT INTO signing_tokens (token_hash, plan_id, expires_at, used_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    token.token_hash,
                    plan_id,
                    token.expires_at.timestamp_micros(),
                    token.used_at.map(|at| at.timestamp_micros()),
                    to_json("the signing token", token)?
                ],
            )
            .map_err(|e| {
                conflict(
                    e,
                    &format!("inserting the signing token of plan {plan_id}"),
                    format!("the signing token for plan {plan_id} exists already"),
                )
            })?;
        Ok(())
    }

    pub fn use_signing_token(
        connection: &Connection,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at_micros = at.timestamp_micros();
        // The body carries `used_at` in the same JSON form serde gives every other timestamp.
        let at_json = to_json("the time of use", &at)?;
        let context = |e| sqlite_error("using a signing token", e);
        let changed = connection
            .execute_cached(
                "UPDATE signing_tokens
                 SET used_at = ?1, body = json_set(body, '$.used_at', json(?2))
                 WHERE token_hash = ?3 AND used_at IS NULL AND expires_at > ?1",
                params![at_micros, at_json, token_hash],
            )
            .map_err(context)?;
        if changed == 1 {
            return Ok(());
        }

        // The write has already been refused; this read only explains why.
        let state: Option<(bool, String)> = connection
            .query_row_cached(
                "SELECT used_at IS NOT NULL, plan_id FROM signing_tokens WHERE token_hash = ?1",
                [token_hash],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(context)?;
        let reason = match state {
            None => "the signing token is unknown".to_owned(),
            Some((true, plan_id)) => {
                format!("the signing token of plan {plan_id} was used already")
            }
            Some((false, plan_id)) => format!("the signing token of plan {plan_id} expired"),
        };
        Err(StoreError::ConditionFailed(reason))
    }

    pub fn insert_mandate(connection: &Connection, mandate: &Mandate) -> Result<(), StoreError> {
        let id = &mandate.id.0;
        connection
            .execute_cached(
                "INSERT INTO mandates
                 (id, creditor_id, reference, download_token_hash, version, body, expires_on)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    mandate.creditor_id.as_str(),
                    mandate.reference,
                    mandate.download_token_hash,
                    version_column(mandate.version)?,
                    to_json("the mandate", mandate)?,
                    expiry_date(mandate).map(|d| d.to_string())
                ],
            )
            .map_err(|e| {
                conflict(
                    e,
                    &format!("inserting mandate {id}"),
                    format!("mandate {id} or its reference exists already"),
                )
            })?;
        Ok(())
    }

    pub fn update_mandate(connection: &Connection, mandate: &Mandate) -> Result<(), StoreError> {
        let id = &mandate.id.0;
        let Some(expected) = mandate.version.checked_sub(1) else {
            return Err(StoreError::ConditionFailed(format!(
                "mandate {id} has version 0; an update must carry the stored version plus one"
            )));
        };
        let expected = version_column(expected)?;
        let values = params![
            mandate.reference,
            mandate.download_token_hash,
            version_column(mandate.version)?,
            to_json("the mandate", mandate)?,
            id,
            expected,
            expiry_date(mandate).map(|d| d.to_string())
        ];
        let context = |e| {
            conflict(
                e,
                &format!("updating mandate {id}"),
                format!("the reference or download link of mandate {id} is taken"),
            )
        };
        // As for plans: an update that keeps the reference and the download link leaves their
        // unique indexes alone; one that changes them takes the full statement.
        if update_versioned(
            connection,
            "UPDATE mandates SET version = ?3, body = ?4, expires_on = ?7
                 WHERE id = ?5 AND version = ?6 AND reference = ?1
                 AND download_token_hash IS ?2",
            "UPDATE mandates SET reference = ?1, download_token_hash = ?2, version = ?3,
                 body = ?4, expires_on = ?7 WHERE id = ?5 AND version = ?6",
            values,
            context,
        )? {
            Ok(())
        } else {
            Err(StoreError::ConditionFailed(format!(
                "mandate {id} is not at version {expected}: it was changed meanwhile, or does \
                 not exist"
            )))
        }
    }

    pub fn append_event(connection: &Connection, event: &Event) -> Result<(), StoreError> {
        let aggregate = &event.aggregate_id;
        let seq = version_column(event.seq)?;
        connection
            .execute_cached(
                "INSERT INTO events (aggregate_id, seq, body) VALUES (?1, ?2, ?3)",
                params![aggregate, seq, to_json("the event", event)?],
            )
            .map_err(|e| {
                conflict(
                    e,
                    &format!("appending event {seq} of {aggregate}"),
                    format!("event {seq} of {aggregate} exists already"),
                )
            })?;
        Ok(())
    }

    pub fn scheme_name(scheme: Scheme) -> &'static str {
        match scheme {
            Scheme::Core => "CORE",
            Scheme::B2b => "B2B",
        }
    }

    pub fn insert_collection(
        connection: &Connection,
        collection: &Collection,
    ) -> Result<(), StoreError> {
        let id = &collection.id;
        connection
            .execute_cached(
                "INSERT INTO collections
                 (id, creditor_id, scheme, collection_date, status, end_to_end_id, version, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    collection.creditor_id.as_str(),
                    scheme_name(collection.scheme),
                    collection.collection_date.to_string(),
                    collection.status.as_str(),
                    collection.end_to_end_id,
                    version_column(collection.version)?,
                    to_json("the collection", collection)?
                ],
            )
            .map_err(|e| {
                conflict(
                    e,
                    &format!("inserting collection {id}"),
                    format!("collection {id} (or its EndToEndId) exists already"),
                )
            })?;
        Ok(())
    }

    pub fn update_collection(
        connection: &Connection,
        collection: &Collection,
    ) -> Result<(), StoreError> {
        let id = &collection.id;
        let Some(expected) = collection.version.checked_sub(1) else {
            return Err(StoreError::ConditionFailed(format!(
                "collection {id} has version 0; an update must carry the stored version plus one"
            )));
        };
        let values = params![
            collection.collection_date.to_string(),
            collection.status.as_str(),
            version_column(collection.version)?,
            to_json("the collection", collection)?,
            id,
            version_column(expected)?,
            collection.batch_id
        ];
        let context = |e| sqlite_error(&format!("updating collection {id}"), e);
        // As for plans: a collection's date rarely moves, so the statement that keeps it leaves
        // the index by date alone; one that moves it takes the full statement.
        if update_versioned(
            connection,
            "UPDATE collections SET status = ?2, version = ?3, body = ?4, batch_id = ?7
                 WHERE id = ?5 AND version = ?6 AND collection_date = ?1",
            "UPDATE collections SET collection_date = ?1, status = ?2, version = ?3,
                 body = ?4, batch_id = ?7 WHERE id = ?5 AND version = ?6",
            values,
            context,
        )? {
            Ok(())
        } else {
            Err(StoreError::ConditionFailed(format!(
                "collection {id} is not at version {expected}: it was changed meanwhile, or \
                 does not exist"
            )))
        }
    }

    pub fn insert_batch(connection: &Connection, batch: &Batch) -> Result<(), StoreError> {
        let id = &batch.id;
        connection
            .execute_cached(
                "INSERT INTO batches (id, creditor_id, scheme, collection_date, round, part, body,
                 status, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    batch.creditor_id.as_str(),
                    scheme_name(batch.scheme),
                    batch.collection_date.to_string(),
                    batch.round,
                    batch.part,
                    to_json("the batch", batch)?,
                    batch.status.as_str(),
                    version_column(batch.revision)?
                ],
            )
            .map_err(|e| {
                conflict(
                    e,
                    &format!("inserting batch {id}"),
                    format!("batch {id} exists already"),
                )
            })?;
        Ok(())
    }

    pub fn update_batch(connection: &Connection, batch: &Batch) -> Result<(), StoreError> {
        let id = &batch.id;
        let Some(expected) = batch.revision.checked_sub(1) else {
            return Err(StoreError::ConditionFailed(format!(
                "batch {id} has revision 0; an update must carry the stored revision plus one"
            )));
        };
        let changed = connection
            .execute_cached(
                "UPDATE batches SET body = ?1, status = ?2, revision = ?3
                 WHERE id = ?4 AND revision = ?5",
                params![
                    to_json("the batch", batch)?,
                    batch.status.as_str(),
                    version_column(batch.revision)?,
                    id,
                    version_column(expected)?
                ],
            )
            .map_err(|e| sqlite_error(&format!("updating batch {id}"), e))?;
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::ConditionFailed(format!(
                "batch {id} is not at revision {expected}: it was changed meanwhile, or does \
                 not exist"
            )))
        }
    }

    pub fn apply(connection: &Connection, write: &Write) -> Result<(), StoreError> {
        match write {
            Write::InsertPlan(plan) => insert_plan(connection, plan),
            Write::UpdatePlan(plan) => update_plan(connection, plan),
            Write::InsertMandate(mandate) => insert_mandate(connection, mandate),
            Write::UpdateMandate(mandate) => update_mandate(connection, mandate),
            Write::InsertSigningToken(token) => insert_signing_token(connection, token),
            Write::UseSigningToken { token_hash, at } => {
                use_signing_token(connection, token_hash, *at)
            }
            Write::AppendEvent(event) => append_event(connection, event),
            Write::InsertCollection(collection) => insert_collection(connection, collection),
            Write::UpdateCollection(collection) => update_collection(connection, collection),
            Write::InsertBatch(batch) => insert_batch(connection, batch),
            Write::UpdateBatch(batch) => update_batch(connection, batch),
        }
    }
}

#[async_trait]
impl TransactionalStore for SqliteStore {
    async fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        if blocking_in_place_is_allowed() {
            // The writes are borrowed, not copied: a daily job's group holds hundreds of plans
            // and mandates, and copying them cost more than a good part of their commit.
            return tokio::task::block_in_place(|| {
                let mut connection = self
                    .connection
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                commit_writes(&mut connection, writes)
            });
        }
        let writes = writes.to_vec();
        self.run(move |connection| commit_writes(connection, &writes))
            .await
    }

    /// On the blocking pool, the writes moved there and back: the caller's task goes on while
    /// the transaction runs (the daily job works out its next plans meanwhile).
    async fn commit_owned(&self, writes: Vec<Write>) -> (Vec<Write>, Result<(), StoreError>) {
        let connection = Arc::clone(&self.connection);
        let task = on_blocking_pool("database", move || {
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            let committed = commit_writes(&mut connection, &writes);
            (writes, committed)
        });
        // A cancelled task dropped the writes with it: nothing was committed.
        task.await
            .unwrap_or_else(|cancelled| (Vec::new(), Err(cancelled)))
    }
}

/// Whether this thread may block in place ([`tokio::task::block_in_place`]): on the
/// multi-threaded runtime, whose worker then hands its other tasks to the rest of the pool, as
/// [`SqliteStore::run`]'s hop to the blocking pool would leave them free. Not on the
/// current-thread runtime (the tests'), which has no other thread to hand them to.
fn blocking_in_place_is_allowed() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Applies `writes` in one immediate transaction: all of them, or none.
fn commit_writes(connection: &mut Connection, writes: &[Write]) -> Result<(), StoreError> {
    let context = |e| sqlite_error("committing a transaction", e);
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(context)?;
    for write in writes {
        // On an error the transaction is dropped unfinished, which rolls back every write
        // before it.
        rows::apply(&transaction, write)?;
    }
    transaction.commit().map_err(context)
}

#[async_trait]
impl MandateStore for SqliteStore {
    async fn get_mandates(&self, ids: &[MandateId]) -> Result<Vec<Mandate>, StoreError> {
        let keys: Vec<String> = ids.iter().map(|id| id.0.clone()).collect();
        self.read(move |connection| rows_by_keys(connection, "mandates", "id", &keys))
            .await
    }

    async fn get_mandate(&self, id: &MandateId) -> Result<Option<Mandate>, StoreError> {
        let id = id.0.clone();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row_cached("SELECT body FROM mandates WHERE id = ?1", [&id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(|e| sqlite_error(&format!("reading mandate {id}"), e))?;
            body.map(|body| from_json(&format!("mandate {id}"), &body))
                .transpose()
        })
        .await
    }

    async fn mandates_expiring_by(
        &self,
        day: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Mandate>, StoreError> {
        let mut values = vec![Value::Text(day.to_string())];
        let sql = with_cursor(
            "SELECT id, body FROM mandates WHERE expires_on IS NOT NULL AND expires_on <= ?1"
                .to_owned(),
            &mut values,
            after,
        );
        self.run(move |connection| page_of(connection, "mandates", &sql, values, limit))
            .await
    }

    async fn get_mandate_by_download_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Mandate>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row_cached(
                    "SELECT body FROM mandates WHERE download_token_hash = ?1",
                    [&token_hash],
                    |row| row.get(0),
                )
                .optional()
                .map_err(|e| sqlite_error("reading a mandate by its download link", e))?;
            body.map(|body| from_json("mandate", &body)).transpose()
        })
        .await
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn feed(&self, after: u64, limit: u32) -> Result<Vec<(u64, Event)>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::from(limit.clamp(1, MAX_PAGE_SIZE));
        self.run(move |connection| {
            let context = |e| sqlite_error("reading the event feed", e);
            let mut statement = connection
                .prepare_cached(
                    "SELECT position, body FROM events WHERE position > ?1 ORDER BY position LIMIT ?2",
                )
                .map_err(context)?;
            let rows = statement
                .query_map(params![after, limit], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(context)?;
            let mut events = Vec::new();
            for row in rows {
                let (position, body) = row.map_err(context)?;
                events.push((position as u64, from_json("event", &body)?));
            }
            Ok(events)
        })
        .await
    }

    async fn list_events(&self, aggregate_id: &str) -> Result<Vec<Event>, StoreError> {
        let aggregate_id = aggregate_id.to_owned();
        self.run(move |connection| {
            let context = |e| sqlite_error(&format!("listing the events of {aggregate_id}"), e);
            let mut statement = connection
                .prepare_cached("SELECT body FROM events WHERE aggregate_id = ?1 ORDER BY seq")
                .map_err(context)?;
            let rows = statement
                .query_map([&aggregate_id], |row| row.get::<_, String>(0))
                .map_err(context)?;
            let mut events = Vec::new();
            for body in rows {
                events.push(from_json("event", &body.map_err(context)?)?);
            }
            Ok(events)
        })
        .await
    }

    async fn last_events(&self, aggregate_ids: &[String]) -> Result<Vec<Event>, StoreError> {
        let mut ids: Vec<String> = aggregate_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One step down the (aggregate_id, seq) index each, in one snapshot.
        self.read(move |connection| {
            let context = |e| sqlite_error("reading the newest events of aggregates", e);
            let mut statement = connection
                .prepare_cached(
                    "SELECT body FROM events WHERE aggregate_id = ?1 ORDER BY seq DESC LIMIT 1",
                )
                .map_err(context)?;
            let mut events = Vec::with_capacity(ids.len());
            for id in &ids {
                let body: Option<String> = statement
                    .query_row([id], |row| row.get(0))
                    .optional()
                    .map_err(context)?;
                if let Some(body) = body {
                    events.push(from_json("event", &body)?);
                }
            }
            Ok(events)
        })
        .await
    }
}

/// Runs a paged query whose last parameter is the row limit and whose rows are `(id, body)`,
/// answering one page and the cursor of the next.
fn page_of<T: DeserializeOwned>(
    connection: &Connection,
    what: &str,
    sql: &str,
    mut values: Vec<Value>,
    limit: u32,
) -> Result<Page<T>, StoreError> {
    let limit = limit.clamp(1, MAX_PAGE_SIZE);
    values.push(Value::Integer(i64::from(limit) + 1));
    let context = |e| sqlite_error(&format!("listing {what}"), e);
    let mut statement = connection.prepare_cached(sql).map_err(context)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(values), |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(context)?;
    let mut items = Vec::new();
    let mut last_id = None;
    let mut has_more = false;
    for row in rows {
        let (id, body) = row.map_err(context)?;
        if items.len() == limit as usize {
            has_more = true;
            break;
        }
        items.push(from_json::<T>(&format!("{what} {id}"), &body)?);
        last_id = Some(id);
    }
    Ok(Page {
        items,
        next: if has_more { last_id } else { None },
    })
}

/// The bodies of the rows of `table` whose `column` (a unique key) is one of `keys`, one
/// `IN (...)` query per [`MAX_PAGE_SIZE`] keys, all in one trip to the blocking pool; a key
/// given twice answers its row once.
fn rows_by_keys<T: DeserializeOwned>(
    connection: &Connection,
    table: &str,
    column: &str,
    keys: &[String],
) -> Result<Vec<T>, StoreError> {
    let context = |e| sqlite_error(&format!("reading {table} by {column}"), e);
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(MAX_PAGE_SIZE as usize) {
        let sql = format!(
            "SELECT {column}, body FROM {table} WHERE {column} IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        let mut statement = connection.prepare_cached(&sql).map_err(context)?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(chunk), |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(context)?;
        for row in rows {
            let (key, body) = row.map_err(context)?;
            found.push(from_json(&format!("{table} {key}"), &body)?);
        }
    }
    Ok(found)
}

/// Appends `AND id > ?` for a cursor and `ORDER BY id LIMIT ?` (the limit bound last, by
/// [`page_of`]) to a query.
fn with_cursor(mut sql: String, values: &mut Vec<Value>, after: Option<&str>) -> String {
    if let Some(after) = after {
        values.push(Value::Text(after.to_owned()));
        sql.push_str(&format!(" AND id > ?{}", values.len()));
    }
    sql.push_str(&format!(" ORDER BY id LIMIT ?{}", values.len() + 1));
    sql
}

/// The collection statuses that wait for settlement, in the order they are listed.
const UNSETTLED: [&str; 2] = ["batched", "submitted"];

/// A cursor of several keys, `first|rest`: its first key and the rest (empty when the cursor
/// holds one key).
fn split_cursor(cursor: &str) -> (String, String) {
    let (first, rest) = cursor.split_once('|').unwrap_or((cursor, ""));
    (first.to_owned(), rest.to_owned())
}

fn task_status(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Open => "open",
        TaskStatus::Closed => "closed",
    }
}

#[async_trait]
impl CollectionStore for SqliteStore {
    async fn get_collection_by_end_to_end_id(
        &self,
        end_to_end_id: &str,
    ) -> Result<Option<Collection>, StoreError> {
        let end_to_end_id = end_to_end_id.to_owned();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row_cached(
                    "SELECT body FROM collections WHERE end_to_end_id = ?1",
                    [&end_to_end_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(|e| sqlite_error("reading a collection by its EndToEndId", e))?;
            body.map(|body| from_json("collection", &body)).transpose()
        })
        .await
    }

    async fn get_collections_by_end_to_end_ids(
        &self,
        end_to_end_ids: &[String],
    ) -> Result<Vec<Collection>, StoreError> {
        let keys = end_to_end_ids.to_vec();
        self.read(move |connection| rows_by_keys(connection, "collections", "end_to_end_id", &keys))
            .await
    }

    async fn collections_of_batch(
        &self,
        batch_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Collection>, StoreError> {
        let mut values = vec![Value::Text(batch_id.to_owned())];
        let sql = with_cursor(
            "SELECT id, body FROM collections WHERE batch_id = ?1".to_owned(),
            &mut values,
            after,
        );
        self.run(move |connection| page_of(connection, "collections", &sql, values, limit))
            .await
    }

    async fn get_collection(&self, id: &str) -> Result<Option<Collection>, StoreError> {
        let id = id.to_owned();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row_cached("SELECT body FROM collections WHERE id = ?1", [&id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(|e| sqlite_error(&format!("reading collection {id}"), e))?;
            body.map(|body| from_json(&format!("collection {id}"), &body))
                .transpose()
        })
        .await
    }

    async fn scheduled_collections(
        &self,
        creditor_id: &CreditorId,
        scheme: Scheme,
        collection_date: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Collection>, StoreError> {
        let mut values = vec![
            Value::Text(creditor_id.as_str().to_owned()),
            Value::Text(rows::scheme_name(scheme).to_owned()),
            Value::Text(collection_date.to_string()),
        ];
        let sql = with_cursor(
            "SELECT id, body FROM collections WHERE creditor_id = ?1 AND scheme = ?2 \
             AND collection_date = ?3 AND status = 'scheduled'"
                .to_owned(),
            &mut values,
            after,
        );
        self.run(move |connection| page_of(connection, "collections", &sql, values, limit))
            .await
    }

    async fn unsettled_collections_by(
        &self,
        day: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Collection>, StoreError> {
        // One status after the other, each a range of the index on (status, collection_date,
        // id), with a cursor of all three: a page never sorts every unsettled collection.
        let (status, rest) = match after.map(split_cursor) {
            Some((status, rest)) => (status, Some(rest)),
            None => (UNSETTLED[0].to_owned(), None),
        };
        let day = day.to_string();
        self.read(move |connection| {
            let mut rest = rest;
            let mut found = Page {
                items: Vec::new(),
                next: None,
            };
            for &status in UNSETTLED.iter().skip_while(|s| **s != status) {
                let mut values = vec![Value::Text(status.to_owned()), Value::Text(day.clone())];
                let mut sql = String::from(
                    "SELECT status || '|' || collection_date || '|' || id, body FROM collections \
                     WHERE status = ?1 AND collection_date <= ?2",
                );
                if let Some((date, id)) = rest.take().as_deref().map(split_cursor) {
                    values.extend([Value::Text(date), Value::Text(id)]);
                    sql.push_str(" AND (collection_date, id) > (?3, ?4)");
                }
                sql.push_str(&format!(
                    " ORDER BY collection_date, id LIMIT ?{}",
                    values.len() + 1
                ));
                let wanted = limit.saturating_sub(found.items.len() as u32);
                let page: Page<Collection> =
                    page_of(connection, "collections", &sql, values, wanted)?;
                found.items.extend(page.items);
                if page.next.is_some() {
                    found.next = page.next;
                    break;
                }
                if found.items.len() as u32 >= limit {
                    // This status is done; the next page starts at the next status.
                    found.next = UNSETTLED
                        .iter()
                        .skip_while(|s| **s != status)
                        .nth(1)
                        .map(|next| format!("{next}|"));
                    break;
                }
            }
            Ok(found)
        })
        .await
    }

    async fn list_collections(
        &self,
        query: &CollectionQuery,
    ) -> Result<Page<Collection>, StoreError> {
        let mut sql = String::from("SELECT id, body FROM collections WHERE 1 = 1");
        let mut values: Vec<Value> = Vec::new();
        if let Some(creditor_id) = &query.creditor_id {
            values.push(Value::Text(creditor_id.as_str().to_owned()));
            sql.push_str(&format!(" AND creditor_id = ?{}", values.len()));
        }
        if let Some(status) = query.status {
            values.push(Value::Text(status.as_str().to_owned()));
            sql.push_str(&format!(" AND status = ?{}", values.len()));
        }
        if let Some(date) = query.collection_date {
            values.push(Value::Text(date.to_string()));
            sql.push_str(&format!(" AND collection_date = ?{}", values.len()));
        }
        let sql = with_cursor(sql, &mut values, query.after.as_deref());
        let limit = query.limit;
        self.run(move |connection| page_of(connection, "collections", &sql, values, limit))
            .await
    }

    async fn get_batch(&self, id: &str) -> Result<Option<Batch>, StoreError> {
        let id = id.to_owned();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row_cached("SELECT body FROM batches WHERE id = ?1", [&id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(|e| sqlite_error(&format!("reading batch {id}"), e))?;
            body.map(|body| from_json(&format!("batch {id}"), &body))
                .transpose()
        })
        .await
    }

    async fn list_batches(
        &self,
        creditor_id: Option<&CreditorId>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Batch>, StoreError> {
        let mut sql = String::from("SELECT id, body FROM batches WHERE 1 = 1");
        let mut values: Vec<Value> = Vec::new();
        if let Some(creditor_id) = creditor_id {
            values.push(Value::Text(creditor_id.as_str().to_owned()));
            sql.push_str(&format!(" AND creditor_id = ?{}", values.len()));
        }
        let sql = with_cursor(sql, &mut values, after);
        self.run(move |connection| page_of(connection, "batches", &sql, values, limit))
            .await
    }

    async fn unfinished_batches(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Batch>, StoreError> {
        let mut values: Vec<Value> = Vec::new();
        let sql = with_cursor(
            "SELECT id, body FROM batches WHERE status <> 'complete'".to_owned(),
            &mut values,
            after,
        );
        self.run(move |connection| page_of(connection, "batches", &sql, values, limit))
            .await
    }

    async fn batch_rounds(
        &self,
        creditor_id: &CreditorId,
        scheme: Scheme,
        collection_date: NaiveDate,
    ) -> Result<u32, StoreError> {
        let creditor_id = creditor_id.as_str().to_owned();
        let scheme = rows::scheme_name(scheme);
        let date = collection_date.to_string();
        self.run(move |connection| {
            connection
                .query_row_cached(
                    "SELECT COALESCE(MAX(round), 0) FROM batches
                     WHERE creditor_id = ?1 AND scheme = ?2 AND collection_date = ?3",
                    params![creditor_id, scheme, date],
                    |row| row.get::<_, u32>(0),
                )
                .map_err(|e| sqlite_error("counting batch rounds", e))
        })
        .await
    }
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn get_task(&self, id: &str) -> Result<Option<Task>, StoreError> {
        let id = id.to_owned();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row_cached("SELECT body FROM tasks WHERE id = ?1", [&id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(|e| sqlite_error(&format!("reading task {id}"), e))?;
            body.map(|body| from_json(&format!("task {id}"), &body))
                .transpose()
        })
        .await
    }

    async fn close_task(&self, task: &Task) -> Result<(), StoreError> {
        let id = task.id.clone();
        let body = to_json("the task", task)?;
        self.run(move |connection| {
            let changed = connection
                .execute_cached(
                    "UPDATE tasks SET status = 'closed', body = ?1 WHERE id = ?2 AND status = 'open'",
                    params![body, id],
                )
                .map_err(|e| sqlite_error(&format!("closing task {id}"), e))?;
            if changed == 1 {
                Ok(())
            } else {
                Err(StoreError::ConditionFailed(format!("task {id} is not open")))
            }
        })
        .await
    }

    async fn open_task(&self, task: &Task) -> Result<bool, StoreError> {
        let id = task.id.clone();
        let status = task_status(task.status);
        let body = to_json("the task", task)?;
        self.run(move |connection| {
            let inserted = connection
                .execute_cached(
                    "INSERT INTO tasks (id, status, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO NOTHING",
                    params![id, status, body],
                )
                .map_err(|e| sqlite_error(&format!("opening task {id}"), e))?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn list_tasks(
        &self,
        status: Option<TaskStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Task>, StoreError> {
        let mut sql = String::from("SELECT id, body FROM tasks WHERE 1 = 1");
        let mut values: Vec<Value> = Vec::new();
        if let Some(status) = status {
            values.push(Value::Text(task_status(status).to_owned()));
            sql.push_str(&format!(" AND status = ?{}", values.len()));
        }
        let sql = with_cursor(sql, &mut values, after);
        self.run(move |connection| page_of(connection, "tasks", &sql, values, limit))
            .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn claim_idempotency_key(&self, record: &IdempotencyRecord) -> Result<(), StoreError> {
        let key = record.key.clone();
        let completed = record.response.is_some();
        let body = to_json("the idempotency record", record)?;
        self.run(move |connection| {
            connection
                .execute_cached(
                    "INSERT INTO idempotency_keys (key, completed, body) VALUES (?1, ?2, ?3)",
                    params![key, completed, body],
                )
                .map_err(|e| {
                    if is_constraint_violation(&e) {
                        StoreError::ConditionFailed("the idempotency key is taken".to_owned())
                    } else {
                        sqlite_error("claiming an idempotency key", e)
                    }
                })?;
            Ok(())
        })
        .await
    }

    async fn get_idempotency_record(
        &self,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let key = key.to_owned();
        self.run(move |connection| {
            let body: Option<String> = connection
                .query_row_cached(
                    "SELECT body FROM idempotency_keys WHERE key = ?1",
                    [&key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(|e| sqlite_error("reading an idempotency key", e))?;
            body.map(|body| from_json("idempotency record", &body))
                .transpose()
        })
        .await
    }

    /// Only a claimed key that has no answer yet takes one: the first answer is the one every
    /// repeat gets, so a second completion is refused rather than replacing it.
    async fn complete_idempotency_key(
        &self,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let key = key.to_owned();
        let response = to_json("the stored response", response)?;
        self.run(move |connection| {
            let changed = connection
                .execute_cached(
                    "UPDATE idempotency_keys
                     SET completed = 1, body = json_set(body, '$.response', json(?1))
                     WHERE key = ?2 AND completed = 0",
                    params![response, key],
                )
                .map_err(|e| sqlite_error("completing an idempotency key", e))?;
            if changed == 1 {
                Ok(())
            } else {
                Err(StoreError::ConditionFailed(
                    "the idempotency key is not claimed, or has its answer already".to_owned(),
                ))
            }
        })
        .await
    }

    /// Releasing an unknown key does nothing; a completed key keeps its answer and the release
    /// fails its condition, since its request did store something.
    async fn release_idempotency_key(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.run(move |connection| {
            let context = |e| sqlite_error("releasing an idempotency key", e);
            let changed = connection
                .execute_cached(
                    "DELETE FROM idempotency_keys WHERE key = ?1 AND completed = 0",
                    [&key],
                )
                .map_err(context)?;
            if changed == 1 {
                return Ok(());
            }
            // The delete has already been decided; this read only tells the two cases apart.
            let completed: Option<bool> = connection
                .query_row_cached(
                    "SELECT completed FROM idempotency_keys WHERE key = ?1",
                    [&key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(context)?;
            match completed {
                Some(true) => Err(StoreError::ConditionFailed(
                    "the idempotency key has its answer already and is kept".to_owned(),
                )),
                _ => Ok(()),
            }
        })
        .await
    }
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn add_api_key_hash(&self, key_hash: &str) -> Result<(), StoreError> {
        let key_hash = key_hash.to_owned();
        self.run(move |connection| {
            connection
                .execute_cached(
                    "INSERT INTO api_keys (key_hash) VALUES (?1) ON CONFLICT (key_hash) DO NOTHING",
                    [&key_hash],
                )
                .map_err(|e| sqlite_error("registering an API key", e))?;
            Ok(())
        })
        .await
    }

    async fn api_key_hash_exists(&self, key_hash: &str) -> Result<bool, StoreError> {
        let key_hash = key_hash.to_owned();
        self.run(move |connection| {
            connection
                .query_row_cached(
                    "SELECT EXISTS (SELECT 1 FROM api_keys WHERE key_hash = ?1)",
                    [&key_hash],
                    |row| row.get(0),
                )
                .map_err(|e| sqlite_error("checking an API key", e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_on_the_multi_threaded_runtime_blocks_in_place_and_keeps_its_conditions() {
        let store = SqliteStore::in_memory().unwrap();
        let event = Event::after(
            None,
            "pln_in_place",
            "plan.created",
            Utc::now(),
            "test",
            serde_json::json!({}),
        );

        assert!(blocking_in_place_is_allowed());
        store
            .commit(&[Write::AppendEvent(event.clone())])
            .await
            .unwrap();
        let again = store.commit(&[Write::AppendEvent(event)]).await;

        assert!(
            matches!(again, Err(StoreError::ConditionFailed(_))),
            "{again:?}"
        );
        assert_eq!(store.list_events("pln_in_place").await.unwrap().len(), 1);
    }

    #[test]
    fn a_new_file_gets_the_current_schema_version_in_wal_mode() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("nested").join("tranche.sqlite");

        let store = SqliteStore::open(&path).unwrap();

        let connection = store.connection.lock().unwrap();
        let version: u32 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        let mode: String = connection
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SqliteStore::schema_version());
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_new_file_has_8_kib_pages_and_an_older_file_keeps_its_own() {
        let folder = tempfile::tempdir().unwrap();
        let new = folder.path().join("new.sqlite");
        let older = folder.path().join("older.sqlite");
        {
            let connection = Connection::open(&older).unwrap();
            connection.pragma_update(None, "page_size", 4096).unwrap();
            connection
                .execute_batch(
                    "CREATE TABLE made_by_an_older_build (x); DROP TABLE made_by_an_older_build;",
                )
                .unwrap();
        }

        let page_size = |store: &SqliteStore| -> i64 {
            store
                .connection
                .lock()
                .unwrap()
                .pragma_query_value(None, "page_size", |row| row.get(0))
                .unwrap()
        };
        let new = SqliteStore::open(&new).unwrap();
        let older = SqliteStore::open(&older).unwrap();

        assert_eq!(page_size(&new), 8192);
        assert_eq!(page_size(&older), 4096);
        let version: u32 = older
            .connection
            .lock()
            .unwrap()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SqliteStore::schema_version());
    }

    #[test]
    fn reopening_a_file_does_not_apply_the_schema_again() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("tranche.sqlite");

        drop(SqliteStore::open(&path).unwrap());

        assert!(SqliteStore::open(&path).is_ok());
    }

    #[test]
    fn a_file_from_a_newer_build_is_refused_as_corrupt() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("tranche.sqlite");
        drop(SqliteStore::open(&path).unwrap());
        let connection = Connection::open(&path).unwrap();
        connection
            .pragma_update(None, "user_version", SqliteStore::schema_version() + 1)
            .unwrap();
        drop(connection);

        let error = SqliteStore::open(&path).unwrap_err();

        assert!(matches!(error, StoreError::Corrupt(_)), "{error}");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("tranche.sqlite");
        std::fs::write(
            &path,
            b"this is not a SQLite database, not even a small one",
        )
        .unwrap();

        assert!(SqliteStore::open(&path).is_err());
    }

    #[test]
    fn every_plan_list_walks_an_index_in_id_order_without_sorting() {
        let store = SqliteStore::in_memory().unwrap();
        let connection = store.connection.lock().unwrap();
        let creditor_id = CreditorId::parse("acme").unwrap();
        let status = tranche_domain::plan::PlanStatus::Active;
        for creditor_id in [None, Some(creditor_id)] {
            for status in [None, Some(status)] {
                for after in [None, Some("pln_a".to_owned())] {
                    let filtered = creditor_id.is_some() || status.is_some();
                    let query = PlanQuery {
                        creditor_id: creditor_id.clone(),
                        status,
                        after,
                        limit: 10,
                    };
                    let (sql, values) = list_plans_statement(&query, 10);

                    let mut statement = connection
                        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                        .unwrap();
                    let steps: Vec<String> = statement
                        .query_map(rusqlite::params_from_iter(values), |row| row.get(3))
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();

                    let plan = steps.join("; ");
                    assert!(!plan.contains("TEMP B-TREE"), "{sql} sorts: {plan}");
                    assert!(plan.contains("INDEX"), "{sql} reads no index: {plan}");
                    if filtered {
                        assert!(plan.starts_with("SEARCH"), "{sql} scans: {plan}");
                    }
                }
            }
        }
    }
}
