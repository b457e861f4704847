//! Every store port on DynamoDB: creditors, plans, signing tokens, mandates, collections,
//! batches, tasks, the event log, idempotency keys and API key hashes.
//!
//! Items mirror the rows of the embedded SQLite store: the whole aggregate as JSON in a `body`
//! string, beside the few plain attributes that exist only for a key, an index or a condition.
//! So both adapters read and write the same JSON, and the conformance suite holds them to the
//! same behaviour.
//!
//! # Tables and key schema
//!
//! Every table is on-demand (`PAY_PER_REQUEST`). The partition key of every table is the string
//! attribute `pk`; only `events` has a sort key. Every index is a GSI. The SAM template creates
//! the same tables; [`provision`] creates them for tests.
//!
//! | table (default name) | `pk` | sort key | GSIs: partition key / sort key (projection) |
//! |---|---|---|---|
//! | `tranche-creditors` | creditor id | | |
//! | `tranche-plans` | plan id | | `by_creditor`: `creditor_id` / `pk`; `by_creditor_status`: `creditor_status` (`<creditor>#<status>`) / `pk`; `by_status`: `status` / `pk`; `all`: `entity` (`plan`) / `pk`; `due`: `due_shard` / `due_key` (all keys only) |
//! | `tranche-mandates` | mandate id | | `expiring`: `expiry_shard` / `expiry_key` (keys only) |
//! | `tranche-collections` | collection id | | `by_end_to_end_id`: `end_to_end_id`; `by_batch`: `batch_id` / `pk`; `by_creditor`: `creditor_id` / `pk`; `by_status`: `status` / `pk`; `by_date`: `collection_date` / `pk`; `all`: `entity` / `pk`; `to_batch`: `batch_shard` / `pk`; `unsettled`: `unsettled_shard` / `unsettled_key` (all keys only) |
//! | `tranche-batches` | batch id | | `by_creditor`: `creditor_id` / `pk`; `all`: `entity` / `pk`; `rounds`: `batch_key` (`<creditor>#<scheme>#<date>`) / `round` (number); `unfinished`: `unfinished` (`batch`, only while the batch is open or sealed) / `pk` (all keys only) |
//! | `tranche-tasks` | task id | | `by_status`: `status` / `pk`; `all`: `entity` / `pk` (keys only) |
//! | `tranche-events` | aggregate id | `sk` (number): the event's `seq` | `feed`: `feed_bucket` / `position` (number) (all attributes) |
//! | `tranche-keys` | `token#<hash>`, `self-service#<hash>`, `idempotency#<key>`, `api-key#<hash>`, and the uniqueness guards `mandate-reference#<creditor>#<reference>`, `mandate-download#<hash>`, `batch-slot#<creditor>#<scheme>#<date>#<round>#<part>` | | |
//!
//! # Expiry
//!
//! The keys table has DynamoDB's time to live on the attribute [`TTL_ATTRIBUTE`] (`ttl`, epoch
//! seconds). The items that expire carry it: signing tokens, self-service tokens and mandate
//! download guards, [`KEPT_AFTER_EXPIRY_DAYS`] days after their link stops working. Nothing
//! reads `ttl`: an expired link is refused by its own expiry, whether DynamoDB has deleted the
//! item yet or not. Idempotency keys, API key hashes, mandate reference guards and batch slots
//! have no expiry and no `ttl`.
//!
//! # Sharded work lists
//!
//! The daily job's work lists (`due`, `expiring`, `unsettled`) and a batch's collections
//! (`to_batch`) are sparse GSIs whose partition key carries one of [`SHARDS`] shards, a stable
//! hash of the plan id (the mandate id for `expiring`): `due_shard = "07"`, `batch_shard =
//! "<creditor>#<scheme>#<date>#07"`. A million plans due on one day spread over 16 partitions
//! instead of meeting on one. An item is in a work list only while it needs work (a plan with a
//! `next_action_on`, a collection that is `scheduled`, or `batched`/`submitted`), so the lists
//! stay small, and no daily path scans a table.
//!
//! A work-list page walks the shards in order; its `next` cursor is opaque (the shard and the
//! last index key), and the items of one page are in id order, so a plan's collections are
//! together within a page as the daily job expects. Across pages the order is that of the
//! index, not of the ids. Changing [`SHARDS`] needs every item rewritten.
//!
//! Index pages carry keys only, and the bodies are then read from the table with consistent
//! `BatchGetItem`s, so a caller always gets the current version of an item (the daily job
//! updates what it reads, conditionally on its version); an item the index still lists but that
//! no longer matches is dropped from the page.
//!
//! # Conditions and transactions
//!
//! Every write that must not happen twice carries its condition in the same request
//! (`attribute_not_exists(pk)`, `version = :expected`, an unused and unexpired token), never a
//! read followed by a write. [`TransactionalStore::commit`] maps each [`Write`] to one or a few
//! items of one `TransactWriteItems` (a single item goes as a plain conditional write).
//!
//! **Limit:** DynamoDB takes at most [`MAX_TRANSACTION_ITEMS`] items in one transaction. The
//! port promises all-or-nothing for a commit of any size, which DynamoDB cannot give above that,
//! so a larger commit is refused with [`StoreError::Corrupt`] (a retry cannot help) and nothing
//! is written. [`DynamoStore::items_for`] tells how many items a list of writes takes.
//!
//! # The event feed
//!
//! The feed's positions come from a counter item (`pk = "#feed"`, `sk = 0` in `events`) that a
//! commit with events moves from the value it read to that value plus its events, conditionally,
//! in the same transaction as the events. So positions are gapless and in commit order; a commit
//! that loses the race for the counter reads it again and retries. The feed reads the `feed`
//! index and stops at the first missing position (an index that has not caught up yet), so a
//! reader never skips an event. The counter serialises every commit that appends events: about
//! as many per second as one item takes transactions, which is the event log's throughput limit.
//!
//! # Request counts
//!
//! Every request is counted by kind ([`RequestCounts`]), so a test can measure what one
//! instalment costs over its life.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tranche_domain::collection::{
    Batch, BatchStatus, Collection, CollectionStatus, Task, TaskStatus,
};
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

/// The largest page a list call answers, whatever it asks for (as the embedded store).
pub const MAX_PAGE_SIZE: u32 = 500;

/// How many partitions each work-list index spreads over.
pub const SHARDS: u32 = 16;

/// DynamoDB's limit on the items of one `TransactWriteItems`.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// How often a commit retries when it lost only a race (the feed counter moved, or another
/// transaction held an item); a lost condition is never retried.
const MAX_RACE_RETRIES: u32 = 25;

/// `by_end_to_end_id` queries in flight at once when a bank report's collections are looked up.
const CONCURRENT_QUERIES: usize = 16;

/// The keys table's time-to-live attribute (template.yaml's `TimeToLiveSpecification`): epoch
/// seconds, a Number, after which DynamoDB deletes the item (within a few days, not at once).
pub const TTL_ATTRIBUTE: &str = "ttl";

/// How long an item of an expired link stays before its `ttl`: for this long a debtor who opens
/// an old link is told it expired rather than that it is unknown.
pub const KEPT_AFTER_EXPIRY_DAYS: i64 = 30;

/// The events of one feed bucket: a bucket is one partition of the `feed` index.
const FEED_BUCKET_SIZE: u64 = 1000;

/// The feed counter's partition key in the events table; no aggregate id starts with `#`.
const FEED_COUNTER: &str = "#feed";

type Item = HashMap<String, AttributeValue>;

/// The table names. Every name can be set on its own; [`Tables::with_prefix`] names them all
/// after one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub creditors: String,
    pub plans: String,
    pub mandates: String,
    pub collections: String,
    pub batches: String,
    pub tasks: String,
    pub events: String,
    pub keys: String,
}

impl Tables {
    /// `<prefix>creditors`, `<prefix>plans`, ...: a test gives each run its own prefix.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            creditors: format!("{prefix}creditors"),
            plans: format!("{prefix}plans"),
            mandates: format!("{prefix}mandates"),
            collections: format!("{prefix}collections"),
            batches: format!("{prefix}batches"),
            tasks: format!("{prefix}tasks"),
            events: format!("{prefix}events"),
            keys: format!("{prefix}keys"),
        }
    }

    /// From the environment: `TRANCHE_TABLE_PREFIX` (default `tranche-`) names every table, and
    /// `TRANCHE_TABLE_CREDITORS`, `..._PLANS`, `..._MANDATES`, `..._COLLECTIONS`, `..._BATCHES`,
    /// `..._TASKS`, `..._EVENTS`, `..._KEYS` override single names (the SAM template passes the
    /// generated names this way).
    pub fn from_env() -> Self {
        let prefix = std::env::var("TRANCHE_TABLE_PREFIX").unwrap_or_else(|_| "tranche-".into());
        let mut tables = Self::with_prefix(&prefix);
        let overrides: [(&str, &mut String); 8] = [
            ("TRANCHE_TABLE_CREDITORS", &mut tables.creditors),
            ("TRANCHE_TABLE_PLANS", &mut tables.plans),
            ("TRANCHE_TABLE_MANDATES", &mut tables.mandates),
            ("TRANCHE_TABLE_COLLECTIONS", &mut tables.collections),
            ("TRANCHE_TABLE_BATCHES", &mut tables.batches),
            ("TRANCHE_TABLE_TASKS", &mut tables.tasks),
            ("TRANCHE_TABLE_EVENTS", &mut tables.events),
            ("TRANCHE_TABLE_KEYS", &mut tables.keys),
        ];
        for (variable, name) in overrides {
            if let Ok(value) = std::env::var(variable)
                && !value.is_empty()
            {
                *name = value;
            }
        }
        tables
    }
}

/// How many requests of each kind an adapter sent since it was made (or since [`reset`]).
/// Shared by clones of the store.
///
/// [`reset`]: RequestCounts::reset
#[derive(Debug, Default)]
pub struct RequestCounts {
    pub get_item: AtomicU64,
    pub batch_get_item: AtomicU64,
    pub query: AtomicU64,
    pub put_item: AtomicU64,
    pub update_item: AtomicU64,
    pub delete_item: AtomicU64,
    pub transact_write_items: AtomicU64,
    /// Items written by the write requests above (a transaction counts each of its items).
    pub items_written: AtomicU64,
    /// Write request units the table writes above are billed at on demand: one per started
    /// kilobyte of each item, twice in a transaction (see [`item_size`]).
    pub write_units: AtomicU64,
    /// Write request units of the index entries those writes put: one per `KEYS_ONLY` index
    /// the item is in (its entry is far below a kilobyte), the item's size for the `ALL` index.
    /// An upper bound for replaced items: an entry whose keys did not change costs nothing.
    pub index_write_units: AtomicU64,
    /// Read request units, in halves: a consistent read takes one per started 4 KB of each item
    /// read (a query: of all its items together, at least one), an index query half of that.
    pub read_half_units: AtomicU64,
}

/// A copy of [`RequestCounts`] at one moment, to compare before and after.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestCountsSnapshot {
    pub get_item: u64,
    pub batch_get_item: u64,
    pub query: u64,
    pub put_item: u64,
    pub update_item: u64,
    pub delete_item: u64,
    pub transact_write_items: u64,
    pub items_written: u64,
    pub write_units: u64,
    pub index_write_units: u64,
    pub read_half_units: u64,
}

impl RequestCountsSnapshot {
    /// Write requests: puts, updates, deletes and transactions.
    pub fn writes(&self) -> u64 {
        self.put_item + self.update_item + self.delete_item + self.transact_write_items
    }

    /// Read requests: gets, batch gets and queries.
    pub fn reads(&self) -> u64 {
        self.get_item + self.batch_get_item + self.query
    }

    /// Read request units, as DynamoDB bills them on demand.
    pub fn read_units(&self) -> f64 {
        self.read_half_units as f64 / 2.0
    }

    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &RequestCountsSnapshot) -> RequestCountsSnapshot {
        RequestCountsSnapshot {
            get_item: self.get_item - earlier.get_item,
            batch_get_item: self.batch_get_item - earlier.batch_get_item,
            query: self.query - earlier.query,
            put_item: self.put_item - earlier.put_item,
            update_item: self.update_item - earlier.update_item,
            delete_item: self.delete_item - earlier.delete_item,
            transact_write_items: self.transact_write_items - earlier.transact_write_items,
            items_written: self.items_written - earlier.items_written,
            write_units: self.write_units - earlier.write_units,
            index_write_units: self.index_write_units - earlier.index_write_units,
            read_half_units: self.read_half_units - earlier.read_half_units,
        }
    }
}

impl RequestCounts {
    pub fn snapshot(&self) -> RequestCountsSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RequestCountsSnapshot {
            get_item: get(&self.get_item),
            batch_get_item: get(&self.batch_get_item),
            query: get(&self.query),
            put_item: get(&self.put_item),
            update_item: get(&self.update_item),
            delete_item: get(&self.delete_item),
            transact_write_items: get(&self.transact_write_items),
            items_written: get(&self.items_written),
            write_units: get(&self.write_units),
            index_write_units: get(&self.index_write_units),
            read_half_units: get(&self.read_half_units),
        }
    }

    pub fn reset(&self) {
        for counter in [
            &self.get_item,
            &self.batch_get_item,
            &self.query,
            &self.put_item,
            &self.update_item,
            &self.delete_item,
            &self.transact_write_items,
            &self.items_written,
            &self.write_units,
            &self.index_write_units,
            &self.read_half_units,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What one table holds, as [`DynamoStore::stored_size`] measures it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredSize {
    pub table: String,
    pub items: u64,
    /// The items' billed size: their attributes plus 100 bytes each.
    pub item_bytes: u64,
    pub index_entries: u64,
    /// The index entries' billed size: their keys (or whole items) plus 100 bytes each.
    pub index_bytes: u64,
}

/// Every store port on DynamoDB. Cloning is cheap and shares the client and the counters.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Arc<Tables>,
    counts: Arc<RequestCounts>,
    /// Per table, its indexes' partition key attributes and whether they project every attribute:
    /// what a write costs in index entries.
    indexes: Arc<HashMap<String, Vec<(&'static str, bool)>>>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// Attribute helpers

/// The size DynamoDB bills an item at: the UTF-8 bytes of each attribute's name and value, a
/// number at one byte per two significant digits plus one, three bytes of overhead for a list
/// or a map and one for each of their elements.
fn item_size(item: &Item) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> u64 {
    let number = |text: &str| text.trim_start_matches('-').len().div_ceil(2) as u64 + 1;
    match value {
        AttributeValue::S(text) => text.len() as u64,
        AttributeValue::N(text) => number(text),
        AttributeValue::B(blob) => blob.as_ref().len() as u64,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<u64>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() as u64 + value_size(v))
                .sum::<u64>()
        }
        AttributeValue::Ss(set) => set.iter().map(|text| text.len() as u64).sum(),
        AttributeValue::Ns(set) => set.iter().map(|text| number(text)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|blob| blob.as_ref().len() as u64).sum(),
        _ => 1,
    }
}

/// Started units of `unit` bytes in `bytes`, at least one.
fn units_of(bytes: u64, unit: u64) -> u64 {
    bytes.div_ceil(unit).max(1)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk))])
}

/// Marks a keys-table item for deletion by DynamoDB's time to live, [`KEPT_AFTER_EXPIRY_DAYS`]
/// after the link it belongs to expires.
fn expire(item: &mut Item, expires_at: DateTime<Utc>) {
    let ttl = expires_at + chrono::Duration::days(KEPT_AFTER_EXPIRY_DAYS);
    item.insert(TTL_ATTRIBUTE.to_owned(), n(ttl.timestamp()));
}

fn string_attribute<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

fn number_attribute(item: &Item, name: &str) -> Option<u64> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

fn to_json<T: Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("{what} could not be written as JSON: {e}")))
}

fn from_json<T: DeserializeOwned>(what: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body)
        .map_err(|e| StoreError::Corrupt(format!("stored {what} is not valid: {e}")))
}

fn body_of<T: DeserializeOwned>(what: &str, item: &Item) -> Result<T, StoreError> {
    let body = string_attribute(item, "body")
        .ok_or_else(|| StoreError::Corrupt(format!("stored {what} has no body")))?;
    from_json(what, body)
}

/// A stable shard of an id (FNV-1a), the same in every build and process.
pub fn shard_of(id: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(SHARDS)) as u32
}

fn shard_name(shard: u32) -> String {
    format!("{shard:02}")
}

fn scheme_name(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Core => "CORE",
        Scheme::B2b => "B2B",
    }
}

fn task_status(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Open => "open",
        TaskStatus::Closed => "closed",
    }
}

/// Maps an SDK error: a failed condition is `ConditionFailed`; a request DynamoDB calls invalid
/// cannot pass on a retry (`Corrupt`); anything else (throttling, network, a missing table)
/// may (`Unavailable`).
fn sdk_error<E, R>(context: &str, error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = error.code().unwrap_or_default().to_owned();
    let message = error
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&error)));
    match code.as_str() {
        "ConditionalCheckFailedException" => {
            StoreError::ConditionFailed(format!("{context}: {message}"))
        }
        "ValidationException" => StoreError::Corrupt(format!("{context}: {code}: {message}")),
        _ => StoreError::Unavailable(format!("{context}: {code}: {message}")),
    }
}

/// A version the caller bumped: the stored one must be this minus one.
fn expected_version(what: &str, id: &str, version: u64) -> Result<u64, StoreError> {
    version.checked_sub(1).ok_or_else(|| {
        StoreError::ConditionFailed(format!(
            "{what} {id} has version 0; an update must carry the stored version plus one"
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Items

/// One item operation of a commit, with what to say when its condition fails.
struct Operation {
    item: TransactWriteItem,
    /// The table and key, so two operations on one item are caught before DynamoDB refuses them.
    target: (String, String, Option<u64>),
    condition_failed: String,
    /// Whether it is the feed counter (whose lost race is retried).
    is_feed_counter: bool,
}

impl DynamoStore {
    /// The store on `client` and `tables`, with fresh request counters.
    pub fn new(client: Client, tables: Tables) -> Self {
        let indexes = table_specs(&tables)
            .into_iter()
            .map(|(table, _, indexes)| {
                let indexes = indexes
                    .iter()
                    .map(|index| (index.partition, index.all_attributes))
                    .collect();
                (table, indexes)
            })
            .collect();
        Self {
            client,
            tables: Arc::new(tables),
            counts: Arc::new(RequestCounts::default()),
            indexes: Arc::new(indexes),
        }
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The requests sent so far, by kind.
    pub fn request_counts(&self) -> &RequestCounts {
        &self.counts
    }

    /// What every table holds and the storage DynamoDB bills for it, table by table: each item
    /// at its size plus 100 bytes, and each index entry at its keys (the index's and the
    /// table's, or the whole item for an index projecting every attribute) plus 100 bytes.
    ///
    /// It scans every table: for measuring (the cost figures of the README) and for an operator
    /// sizing a deployment, never on a request or daily path.
    pub async fn stored_size(&self) -> Result<Vec<StoredSize>, StoreError> {
        let mut sizes = Vec::new();
        for (table, has_sort_key, indexes) in table_specs(&self.tables) {
            let mut size = StoredSize {
                table: table.clone(),
                ..StoredSize::default()
            };
            let mut start = None;
            loop {
                let page = self
                    .client
                    .scan()
                    .table_name(&table)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| sdk_error(&format!("scanning table {table}"), e))?;
                for item in page.items() {
                    let bytes = item_size(item);
                    size.items += 1;
                    size.item_bytes += bytes + 100;
                    let attribute = |name: &str| {
                        item.get(name)
                            .map_or(0, |value| name.len() as u64 + value_size(value))
                    };
                    let table_key =
                        attribute("pk") + if has_sort_key { attribute("sk") } else { 0 };
                    for index in indexes.iter().filter(|i| item.contains_key(i.partition)) {
                        size.index_entries += 1;
                        size.index_bytes += 100
                            + if index.all_attributes {
                                bytes
                            } else {
                                table_key
                                    + attribute(index.partition)
                                    + index.sort.as_ref().map_or(0, |(sort, _)| attribute(sort))
                            };
                    }
                }
                start = page.last_evaluated_key().cloned();
                if start.is_none() {
                    break;
                }
            }
            sizes.push(size);
        }
        Ok(sizes)
    }

    /// What writing one item costs: its table's write units (not yet doubled for a
    /// transaction) and its index entries' write units.
    fn write_cost(&self, item: &TransactWriteItem) -> (u64, u64) {
        let Some(put) = &item.put else {
            // An update, a delete or a condition check: here always of an item under a kilobyte
            // and in no index.
            return (1, 0);
        };
        self.put_cost(&put.table_name, &put.item)
    }

    fn put_cost(&self, table: &str, item: &Item) -> (u64, u64) {
        let size = item_size(item);
        let index_units = self.indexes.get(table).map_or(0, |indexes| {
            indexes
                .iter()
                .filter(|(partition, _)| item.contains_key(*partition))
                .map(|(_, all)| if *all { units_of(size, 1024) } else { 1 })
                .sum()
        });
        (units_of(size, 1024), index_units)
    }

    /// Counts one written item of cost `(units, index_units)`.
    fn count_write(&self, (units, index_units): (u64, u64), transactional: bool) {
        RequestCounts::add(&self.counts.items_written, 1);
        RequestCounts::add(
            &self.counts.write_units,
            if transactional { 2 * units } else { units },
        );
        RequestCounts::add(&self.counts.index_write_units, index_units);
    }

    /// Counts a read of `bytes` (at least one unit): consistent, or from an index.
    fn count_read(&self, bytes: u64, consistent: bool) {
        let units = units_of(bytes, 4096);
        RequestCounts::add(
            &self.counts.read_half_units,
            if consistent { 2 * units } else { units },
        );
    }

    fn plan_item(&self, plan: &Plan) -> Result<Item, StoreError> {
        let id = &plan.id.0;
        let mut item = key(id.clone());
        item.insert("entity".into(), s("plan"));
        item.insert("creditor_id".into(), s(plan.creditor_id.as_str()));
        item.insert("status".into(), s(plan.status.as_str()));
        item.insert(
            "creditor_status".into(),
            s(format!(
                "{}#{}",
                plan.creditor_id.as_str(),
                plan.status.as_str()
            )),
        );
        item.insert("version".into(), n(plan.version));
        item.insert("body".into(), s(to_json("the plan", plan)?));
        if let Some(day) = plan.next_action_on {
            item.insert("due_shard".into(), s(shard_name(shard_of(id))));
            item.insert("due_key".into(), s(format!("{day}#{id}")));
        }
        Ok(item)
    }

    fn mandate_item(&self, mandate: &Mandate) -> Result<Item, StoreError> {
        let id = &mandate.id.0;
        let mut item = key(id.clone());
        item.insert("creditor_id".into(), s(mandate.creditor_id.as_str()));
        item.insert("version".into(), n(mandate.version));
        item.insert("body".into(), s(to_json("the mandate", mandate)?));
        if let Some(day) = expiry_date(mandate) {
            item.insert("expiry_shard".into(), s(shard_name(shard_of(id))));
            item.insert("expiry_key".into(), s(format!("{day}#{id}")));
        }
        Ok(item)
    }

    fn collection_item(&self, collection: &Collection) -> Result<Item, StoreError> {
        let id = &collection.id;
        let creditor = collection.creditor_id.as_str();
        let scheme = scheme_name(collection.scheme);
        let date = collection.collection_date;
        let shard = shard_name(shard_of(&collection.plan_id.0));
        let mut item = key(id.clone());
        item.insert("entity".into(), s("collection"));
        item.insert("creditor_id".into(), s(creditor));
        item.insert("status".into(), s(collection.status.as_str()));
        item.insert("collection_date".into(), s(date.to_string()));
        item.insert("end_to_end_id".into(), s(collection.end_to_end_id.clone()));
        item.insert("version".into(), n(collection.version));
        item.insert("body".into(), s(to_json("the collection", collection)?));
        if let Some(batch_id) = &collection.batch_id {
            item.insert("batch_id".into(), s(batch_id.clone()));
        }
        match collection.status {
            CollectionStatus::Scheduled => {
                item.insert(
                    "batch_shard".into(),
                    s(format!("{creditor}#{scheme}#{date}#{shard}")),
                );
            }
            CollectionStatus::Batched | CollectionStatus::Submitted => {
                item.insert("unsettled_shard".into(), s(shard));
                item.insert("unsettled_key".into(), s(format!("{date}#{id}")));
            }
            _ => {}
        }
        Ok(item)
    }

    fn batch_item(&self, batch: &Batch) -> Result<Item, StoreError> {
        let mut item = key(batch.id.clone());
        item.insert("entity".into(), s("batch"));
        item.insert("creditor_id".into(), s(batch.creditor_id.as_str()));
        item.insert("batch_key".into(), s(batch_key(batch)));
        item.insert("round".into(), n(batch.round));
        item.insert("version".into(), n(batch.revision));
        item.insert("body".into(), s(to_json("the batch", batch)?));
        if batch.status != BatchStatus::Complete {
            // One partition for every unfinished batch: a sparse index that holds only the
            // few batches being written at the moment (or left by a crash).
            item.insert("unfinished".into(), s("batch"));
        }
        Ok(item)
    }

    fn put(
        &self,
        table: &str,
        item: Item,
        condition: &str,
        values: Option<Item>,
        condition_failed: String,
    ) -> Result<Operation, StoreError> {
        let pk = string_attribute(&item, "pk").unwrap_or_default().to_owned();
        let sk = number_attribute(&item, "sk");
        // Attribute names that are DynamoDB reserved words go through placeholders.
        let names: HashMap<String, String> = [("#version", "version"), ("#status", "status")]
            .into_iter()
            .filter(|(placeholder, _)| condition.contains(placeholder))
            .map(|(placeholder, name)| (placeholder.to_owned(), name.to_owned()))
            .collect();
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values(values)
            .build()
            .map_err(|e| StoreError::Corrupt(format!("building a put: {e}")))?;
        Ok(Operation {
            item: TransactWriteItem::builder().put(put).build(),
            target: (table.to_owned(), pk, sk),
            condition_failed,
            is_feed_counter: false,
        })
    }

    fn insert(&self, table: &str, item: Item, what: String) -> Result<Operation, StoreError> {
        self.put(
            table,
            item,
            "attribute_not_exists(pk)",
            None,
            format!("{what} exists already"),
        )
    }

    fn replace_at_version(
        &self,
        table: &str,
        item: Item,
        expected: u64,
        what: String,
    ) -> Result<Operation, StoreError> {
        self.put(
            table,
            item,
            "#version = :expected",
            Some(HashMap::from([(":expected".to_owned(), n(expected))])),
            format!(
                "{what} is not at version {expected}: it was changed meanwhile, or does not exist"
            ),
        )
    }

    fn delete_guard(&self, pk: String, owner: &str) -> Result<Operation, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.tables.keys)
            .set_key(Some(key(pk.clone())))
            .condition_expression("attribute_not_exists(pk) OR #owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .build()
            .map_err(|e| StoreError::Corrupt(format!("building a delete: {e}")))?;
        Ok(Operation {
            item: TransactWriteItem::builder().delete(delete).build(),
            target: (self.tables.keys.clone(), pk, None),
            condition_failed: format!("a key of {owner} belongs to another item"),
            is_feed_counter: false,
        })
    }

    fn put_guard(&self, pk: String, owner: &str, what: String) -> Result<Operation, StoreError> {
        self.put_expiring_guard(pk, owner, what, None)
    }

    /// A guard that DynamoDB may delete some time after `expires_at` (see [`expire`]).
    fn put_expiring_guard(
        &self,
        pk: String,
        owner: &str,
        what: String,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Operation, StoreError> {
        let mut item = key(pk);
        item.insert("owner".into(), s(owner));
        if let Some(at) = expires_at {
            expire(&mut item, at);
        }
        self.insert(&self.tables.keys.clone(), item, what)
    }

    fn use_token_update(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<Operation, StoreError> {
        let pk = format!("token#{token_hash}");
        let update = Update::builder()
            .table_name(&self.tables.keys)
            .set_key(Some(key(pk.clone())))
            .update_expression("SET used_at = :at, used_at_json = :at_json")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :at",
            )
            .expression_attribute_values(":at", n(at.timestamp_micros()))
            .expression_attribute_values(":at_json", s(to_json("the time of use", &at)?))
            .build()
            .map_err(|e| StoreError::Corrupt(format!("building an update: {e}")))?;
        Ok(Operation {
            item: TransactWriteItem::builder().update(update).build(),
            target: (self.tables.keys.clone(), pk, None),
            condition_failed: "the signing token is unknown, used or expired".to_owned(),
            is_feed_counter: false,
        })
    }

    /// The item operations of one write. `stored` holds the current items of the mandates the
    /// writes update (their old reference and download link are released).
    fn operations(
        &self,
        write: &Write,
        stored_mandates: &HashMap<String, Mandate>,
        position: &mut u64,
    ) -> Result<Vec<Operation>, StoreError> {
        let tables = &self.tables;
        Ok(match write {
            Write::InsertPlan(plan) => vec![self.insert(
                &tables.plans,
                self.plan_item(plan)?,
                format!("plan {}", plan.id),
            )?],
            Write::UpdatePlan(plan) => {
                let expected = expected_version("plan", &plan.id.0, plan.version)?;
                vec![self.replace_at_version(
                    &tables.plans,
                    self.plan_item(plan)?,
                    expected,
                    format!("plan {}", plan.id),
                )?]
            }
            Write::InsertMandate(mandate) => {
                let id = &mandate.id.0;
                let mut operations = vec![
                    self.insert(
                        &tables.mandates,
                        self.mandate_item(mandate)?,
                        format!("mandate {id}"),
                    )?,
                    self.put_guard(
                        reference_guard(mandate),
                        id,
                        format!(
                            "the reference {} of creditor {}",
                            mandate.reference, mandate.creditor_id
                        ),
                    )?,
                ];
                if let Some(hash) = &mandate.download_token_hash {
                    operations.push(self.put_expiring_guard(
                        download_guard(hash),
                        id,
                        "the download link".to_owned(),
                        mandate.download_expires_at,
                    )?);
                }
                operations
            }
            Write::UpdateMandate(mandate) => {
                let id = &mandate.id.0;
                let expected = expected_version("mandate", id, mandate.version)?;
                let stale = || {
                    StoreError::ConditionFailed(format!(
                        "mandate {id} is not at version {expected}: it was changed meanwhile, or \
                         does not exist"
                    ))
                };
                let stored = stored_mandates.get(id).ok_or_else(stale)?;
                if stored.version != expected {
                    return Err(stale());
                }
                let mut operations = vec![self.replace_at_version(
                    &tables.mandates,
                    self.mandate_item(mandate)?,
                    expected,
                    format!("mandate {id}"),
                )?];
                let (old, new) = (reference_guard(stored), reference_guard(mandate));
                if old != new {
                    operations.push(self.delete_guard(old, id)?);
                    operations.push(self.put_guard(
                        new,
                        id,
                        format!("the reference {} of creditor", mandate.reference),
                    )?);
                }
                if stored.download_token_hash != mandate.download_token_hash {
                    if let Some(old) = &stored.download_token_hash {
                        operations.push(self.delete_guard(download_guard(old), id)?);
                    }
                    if let Some(new) = &mandate.download_token_hash {
                        operations.push(self.put_expiring_guard(
                            download_guard(new),
                            id,
                            "the download link".to_owned(),
                            mandate.download_expires_at,
                        )?);
                    }
                }
                operations
            }
            Write::InsertSigningToken(token) => {
                let mut item = key(format!("token#{}", token.token_hash));
                item.insert("plan_id".into(), s(token.plan_id.0.clone()));
                item.insert("expires_at".into(), n(token.expires_at.timestamp_micros()));
                expire(&mut item, token.expires_at);
                item.insert("body".into(), s(to_json("the signing token", token)?));
                if let Some(used_at) = token.used_at {
                    item.insert("used_at".into(), n(used_at.timestamp_micros()));
                    item.insert(
                        "used_at_json".into(),
                        s(to_json("the time of use", &used_at)?),
                    );
                }
                vec![self.insert(
                    &tables.keys,
                    item,
                    format!("the signing token for plan {}", token.plan_id),
                )?]
            }
            Write::UseSigningToken { token_hash, at } => {
                vec![self.use_token_update(token_hash, *at)?]
            }
            Write::AppendEvent(event) => {
                *position += 1;
                let mut item = HashMap::from([
                    ("pk".to_owned(), s(event.aggregate_id.clone())),
                    ("sk".to_owned(), n(event.seq)),
                    ("position".to_owned(), n(*position)),
                    (
                        "feed_bucket".to_owned(),
                        s((*position / FEED_BUCKET_SIZE).to_string()),
                    ),
                ]);
                item.insert("body".into(), s(to_json("the event", event)?));
                vec![self.insert(
                    &tables.events,
                    item,
                    format!("event {} of {}", event.seq, event.aggregate_id),
                )?]
            }
            Write::InsertCollection(collection) => vec![self.insert(
                &tables.collections,
                self.collection_item(collection)?,
                format!("collection {}", collection.id),
            )?],
            Write::UpdateCollection(collection) => {
                let expected = expected_version("collection", &collection.id, collection.version)?;
                vec![self.replace_at_version(
                    &tables.collections,
                    self.collection_item(collection)?,
                    expected,
                    format!("collection {}", collection.id),
                )?]
            }
            Write::InsertBatch(batch) => vec![
                self.insert(
                    &tables.batches,
                    self.batch_item(batch)?,
                    format!("batch {}", batch.id),
                )?,
                self.put_guard(
                    format!(
                        "batch-slot#{}#{}#{}",
                        batch_key(batch),
                        batch.round,
                        batch.part
                    ),
                    &batch.id,
                    format!(
                        "round {} part {} of the batches of {}",
                        batch.round,
                        batch.part,
                        batch_key(batch)
                    ),
                )?,
            ],
            Write::UpdateBatch(batch) => {
                let expected = expected_version("batch", &batch.id, batch.revision)?;
                vec![self.replace_at_version(
                    &tables.batches,
                    self.batch_item(batch)?,
                    expected,
                    format!("batch {}", batch.id),
                )?]
            }
        })
    }

    /// How many DynamoDB items `writes` take in one transaction (guards and the feed counter
    /// included, an unchanged mandate reference not): at most [`MAX_TRANSACTION_ITEMS`] commit.
    pub fn items_for(writes: &[Write]) -> usize {
        let mut events = false;
        let mut count = 0;
        for write in writes {
            count += match write {
                Write::InsertMandate(m) => 2 + usize::from(m.download_token_hash.is_some()),
                // At most: the mandate, and its reference and link moved.
                Write::UpdateMandate(_) => 5,
                Write::InsertBatch(_) => 2,
                Write::AppendEvent(_) => {
                    events = true;
                    1
                }
                _ => 1,
            };
        }
        count + usize::from(events)
    }
}

fn reference_guard(mandate: &Mandate) -> String {
    format!(
        "mandate-reference#{}#{}",
        mandate.creditor_id.as_str(),
        mandate.reference
    )
}

/// The key of a debtor's self-service link in the keys table.
fn self_service_key(hash: &str) -> String {
    format!("self-service#{hash}")
}

fn download_guard(hash: &str) -> String {
    format!("mandate-download#{hash}")
}

fn batch_key(batch: &Batch) -> String {
    format!(
        "{}#{}#{}",
        batch.creditor_id.as_str(),
        scheme_name(batch.scheme),
        batch.collection_date
    )
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Which index rows a list wants, and how its cursor maps to DynamoDB's.
struct IndexQuery<'a> {
    table: &'a str,
    index: &'static str,
    partition_attribute: &'static str,
    partition_value: String,
    /// The index's sort key attribute; `pk` when the index is in id order.
    sort_attribute: &'static str,
    /// Only rows whose sort key is below this.
    sort_below: Option<String>,
}

impl DynamoStore {
    async fn get_item(
        &self,
        table: &str,
        key: Item,
        what: &str,
    ) -> Result<Option<Item>, StoreError> {
        RequestCounts::add(&self.counts.get_item, 1);
        let answer = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("reading {what}"), e))?;
        self.count_read(answer.item.as_ref().map_or(0, item_size), true);
        Ok(answer.item)
    }

    async fn get_body<T: DeserializeOwned>(
        &self,
        table: &str,
        pk: &str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.get_item(table, key(pk), what).await? {
            Some(item) => Ok(Some(body_of(what, &item)?)),
            None => Ok(None),
        }
    }

    /// The bodies of the items with these partition keys, as [`Self::batch_get`] reads them.
    async fn get_bodies<T: DeserializeOwned>(
        &self,
        table: &str,
        ids: &[String],
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.batch_get(table, ids)
            .await?
            .iter()
            .map(|item| {
                let id = string_attribute(item, "pk").unwrap_or_default();
                body_of(&format!("{what} {id}"), item)
            })
            .collect()
    }

    /// The items with these partition keys, read consistently, each once in the order of the
    /// first mention of its id; ids whose item is gone are left out. 100 keys per request (the
    /// most one `BatchGetItem` takes), and the keys DynamoDB leaves unprocessed asked again.
    async fn batch_get(&self, table: &str, ids: &[String]) -> Result<Vec<Item>, StoreError> {
        let unique: Vec<&String> = {
            let mut seen = HashSet::with_capacity(ids.len());
            ids.iter().filter(|id| seen.insert(*id)).collect()
        };
        let mut found: HashMap<String, Item> = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(100) {
            let keys: Vec<Item> = chunk.iter().map(|id| key(id.as_str())).collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Corrupt(format!("building a batch read: {e}")))?,
            );
            let mut round = 0u32;
            while let Some(keys) = request.take() {
                RequestCounts::add(&self.counts.batch_get_item, 1);
                let answer = self
                    .client
                    .batch_get_item()
                    .request_items(table, keys)
                    .send()
                    .await
                    .map_err(|e| sdk_error(&format!("reading items of {table}"), e))?;
                for item in answer
                    .responses
                    .unwrap_or_default()
                    .remove(table)
                    .unwrap_or_default()
                {
                    self.count_read(item_size(&item), true);
                    if let Some(pk) = string_attribute(&item, "pk") {
                        found.insert(pk.to_owned(), item);
                    }
                }
                request = answer
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(table))
                    .filter(|keys| !keys.keys.is_empty());
                if request.is_some() {
                    round += 1;
                    if round > 10 {
                        return Err(StoreError::Unavailable(format!(
                            "{table} left keys unread after {round} rounds"
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(20 << round.min(6))).await;
                }
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// Runs `query` for each of `keys`, [`CONCURRENT_QUERIES`] at a time (an index query takes
    /// one partition key), and answers what they found, in no particular order.
    async fn query_each<T, F, Found>(
        &self,
        keys: impl Iterator<Item = String>,
        what: &str,
        query: F,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        F: Fn(DynamoStore, String) -> Found,
        Found: Future<Output = Result<Option<T>, StoreError>> + Send + 'static,
    {
        let mut keys = keys;
        let mut running = tokio::task::JoinSet::new();
        let mut found = Vec::new();
        loop {
            while running.len() < CONCURRENT_QUERIES
                && let Some(key) = keys.next()
            {
                running.spawn(query(self.clone(), key));
            }
            let Some(joined) = running.join_next().await else {
                return Ok(found);
            };
            let answer = joined
                .map_err(|e| StoreError::Unavailable(format!("{what} did not finish: {e}")))??;
            found.extend(answer);
        }
    }

    /// A consistent query of one aggregate's events, oldest first, counted.
    fn events_of(
        &self,
        aggregate_id: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        RequestCounts::add(&self.counts.query, 1);
        self.client
            .query()
            .table_name(&self.tables.events)
            .key_condition_expression("pk = :aggregate")
            .expression_attribute_values(":aggregate", s(aggregate_id))
            .consistent_read(true)
    }

    /// The newest event of one aggregate, if it has any.
    async fn last_event(&self, aggregate_id: &str) -> Result<Option<Event>, StoreError> {
        let answer = self
            .events_of(aggregate_id)
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("reading the newest event of {aggregate_id}"), e))?;
        let items = answer.items.unwrap_or_default();
        self.count_read(items.iter().map(item_size).sum(), true);
        items.first().map(|item| body_of("event", item)).transpose()
    }

    /// The id of the collection the `by_end_to_end_id` index lists under `end_to_end_id`.
    async fn collection_id_by_end_to_end_id(
        &self,
        end_to_end_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let query = IndexQuery {
            table: &self.tables.collections,
            index: "by_end_to_end_id",
            partition_attribute: "end_to_end_id",
            partition_value: end_to_end_id.to_owned(),
            sort_attribute: "pk",
            sort_below: None,
        };
        let (rows, _) = self.query_index(&query, None, 1).await?;
        Ok(rows
            .first()
            .and_then(|row| string_attribute(row, "pk"))
            .map(str::to_owned))
    }

    /// Up to `want` index rows after `start` (an `ExclusiveStartKey`), and whether the index may
    /// hold more. Follows DynamoDB's own paging until it has `want` rows or the index ends.
    async fn query_index(
        &self,
        query: &IndexQuery<'_>,
        mut start: Option<Item>,
        want: usize,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let mut rows = Vec::new();
        loop {
            let mut condition = "#p = :p".to_owned();
            let mut request = self
                .client
                .query()
                .table_name(query.table)
                .index_name(query.index)
                .expression_attribute_names("#p", query.partition_attribute)
                .expression_attribute_values(":p", s(query.partition_value.clone()))
                .limit(i32::try_from(want - rows.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            if let Some(below) = &query.sort_below {
                condition.push_str(" AND #s < :below");
                request = request
                    .expression_attribute_names("#s", query.sort_attribute)
                    .expression_attribute_values(":below", s(below.clone()));
            }
            RequestCounts::add(&self.counts.query, 1);
            let answer = request
                .key_condition_expression(condition)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("querying {}.{}", query.table, query.index), e))?;
            let items = answer.items.unwrap_or_default();
            self.count_read(items.iter().map(item_size).sum(), false);
            rows.extend(items);
            match answer.last_evaluated_key {
                Some(last) if rows.len() < want => start = Some(last),
                Some(_) => return Ok((rows, true)),
                None => return Ok((rows, false)),
            }
        }
    }

    /// One page of an index in id order (its sort key is `pk`), with the bodies read from the
    /// table, keeping only those `keep` accepts. The cursor is the last id.
    async fn id_ordered_page<T: DeserializeOwned>(
        &self,
        query: IndexQuery<'_>,
        what: &str,
        after: Option<&str>,
        limit: u32,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Page<T>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE) as usize;
        let mut items: Vec<(String, T)> = Vec::new();
        let mut start = after.map(|after| {
            HashMap::from([
                ("pk".to_owned(), s(after)),
                (
                    query.partition_attribute.to_owned(),
                    s(query.partition_value.clone()),
                ),
            ])
        });
        loop {
            let (rows, more) = self
                .query_index(&query, start.take(), limit + 1 - items.len())
                .await?;
            let ids: Vec<String> = rows
                .iter()
                .filter_map(|row| string_attribute(row, "pk").map(str::to_owned))
                .collect();
            let last = ids.last().cloned();
            for item in self.batch_get(query.table, &ids).await? {
                let id = string_attribute(&item, "pk").unwrap_or_default().to_owned();
                let value: T = body_of(&format!("{what} {id}"), &item)?;
                if keep(&value) {
                    items.push((id, value));
                }
            }
            if items.len() > limit {
                items.truncate(limit);
                let next = items.last().map(|(id, _)| id.clone());
                return Ok(Page {
                    items: items.into_iter().map(|(_, v)| v).collect(),
                    next,
                });
            }
            match last {
                Some(last) if more => {
                    start = Some(HashMap::from([
                        ("pk".to_owned(), s(last)),
                        (
                            query.partition_attribute.to_owned(),
                            s(query.partition_value.clone()),
                        ),
                    ]));
                }
                _ => {
                    return Ok(Page {
                        items: items.into_iter().map(|(_, v)| v).collect(),
                        next: None,
                    });
                }
            }
        }
    }

    /// One page of a sharded work-list index: the shards in order, rows below `sort_below`,
    /// bodies read from the table and kept when `keep` accepts them, the page sorted by id. The
    /// cursor is `[shard, sort key, pk]` as JSON.
    #[allow(clippy::too_many_arguments)]
    async fn sharded_page<T: DeserializeOwned>(
        &self,
        table: &str,
        index: &'static str,
        shard_attribute: &'static str,
        shard_prefix: &str,
        sort_attribute: &'static str,
        sort_below: Option<String>,
        what: &str,
        after: Option<&str>,
        limit: u32,
        keep: impl Fn(&T) -> bool,
        id_of: impl Fn(&T) -> String,
    ) -> Result<Page<T>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE) as usize;
        let (first_shard, mut start) = match after {
            None => (0, None),
            Some(cursor) => {
                let (shard, sort, pk): (u32, String, String) = serde_json::from_str(cursor)
                    .map_err(|_| {
                        StoreError::Corrupt(format!(
                            "the cursor {cursor:?} was not made by this store"
                        ))
                    })?;
                let partition = format!("{shard_prefix}{}", shard_name(shard));
                let mut key = HashMap::from([
                    ("pk".to_owned(), s(pk)),
                    (shard_attribute.to_owned(), s(partition)),
                ]);
                if sort_attribute != "pk" {
                    key.insert(sort_attribute.to_owned(), s(sort));
                }
                (shard, Some(key))
            }
        };

        // Index rows, each with its shard, until one more than the page or the last shard.
        let mut rows: Vec<(u32, Item)> = Vec::new();
        for shard in first_shard..SHARDS {
            let query = IndexQuery {
                table,
                index,
                partition_attribute: shard_attribute,
                partition_value: format!("{shard_prefix}{}", shard_name(shard)),
                sort_attribute,
                sort_below: sort_below.clone(),
            };
            let (found, _) = self
                .query_index(&query, start.take(), limit + 1 - rows.len())
                .await?;
            rows.extend(found.into_iter().map(|row| (shard, row)));
            if rows.len() > limit {
                break;
            }
        }
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|(shard, row)| {
                let sort = string_attribute(row, sort_attribute).unwrap_or_default();
                let pk = string_attribute(row, "pk").unwrap_or_default();
                serde_json::json!([shard, sort, pk]).to_string()
            })
        } else {
            None
        };

        let ids: Vec<String> = rows
            .iter()
            .filter_map(|(_, row)| string_attribute(row, "pk").map(str::to_owned))
            .collect();
        let mut items = Vec::with_capacity(ids.len());
        for item in self.batch_get(table, &ids).await? {
            let id = string_attribute(&item, "pk").unwrap_or_default();
            let value: T = body_of(&format!("{what} {id}"), &item)?;
            if keep(&value) {
                items.push(value);
            }
        }
        items.sort_by_key(|item| id_of(item));
        Ok(Page { items, next })
    }
}

// ---------------------------------------------------------------------------------------------
// Commit

impl DynamoStore {
    /// Sends the operations as one conditional write, or one transaction; answers whether the
    /// commit lost only a race worth retrying (the feed counter moved, a transaction conflict).
    async fn send_operations(&self, operations: Vec<Operation>) -> Result<bool, StoreError> {
        if operations.len() == 1 {
            let operation = operations.into_iter().next().expect("one operation");
            self.send_single(operation).await?;
            return Ok(false);
        }
        let costs: Vec<(u64, u64)> = operations
            .iter()
            .map(|o| self.write_cost(&o.item))
            .collect();
        let (items, explanations): (Vec<_>, Vec<_>) = operations
            .into_iter()
            .map(|o| (o.item, (o.condition_failed, o.is_feed_counter)))
            .unzip();
        RequestCounts::add(&self.counts.transact_write_items, 1);
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => {
                for cost in costs {
                    self.count_write(cost, true);
                }
                Ok(false)
            }
            Err(error) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                    error.as_service_error()
                {
                    let mut lost_race = false;
                    let mut failed = Vec::new();
                    for (reason, (explanation, is_counter)) in
                        cancelled.cancellation_reasons().iter().zip(&explanations)
                    {
                        match reason.code() {
                            Some("ConditionalCheckFailed") if *is_counter => lost_race = true,
                            Some("ConditionalCheckFailed") => failed.push(explanation.clone()),
                            Some("TransactionConflict") => lost_race = true,
                            _ => {}
                        }
                    }
                    if !failed.is_empty() {
                        return Err(StoreError::ConditionFailed(failed.join("; ")));
                    }
                    if lost_race {
                        return Ok(true);
                    }
                }
                if error.code() == Some("TransactionConflictException") {
                    return Ok(true);
                }
                Err(sdk_error("committing a transaction", error))
            }
        }
    }

    async fn send_single(&self, operation: Operation) -> Result<(), StoreError> {
        let cost = self.write_cost(&operation.item);
        let Operation {
            item,
            condition_failed,
            ..
        } = operation;
        let refused = |e: StoreError| match e {
            StoreError::ConditionFailed(_) => StoreError::ConditionFailed(condition_failed.clone()),
            other => other,
        };
        if let Some(put) = item.put {
            RequestCounts::add(&self.counts.put_item, 1);
            self.client
                .put_item()
                .table_name(put.table_name)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .send()
                .await
                .map_err(|e| refused(sdk_error("writing an item", e)))?;
        } else if let Some(update) = item.update {
            RequestCounts::add(&self.counts.update_item, 1);
            self.client
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .send()
                .await
                .map_err(|e| refused(sdk_error("updating an item", e)))?;
        } else if let Some(delete) = item.delete {
            RequestCounts::add(&self.counts.delete_item, 1);
            self.client
                .delete_item()
                .table_name(delete.table_name)
                .set_key(Some(delete.key))
                .set_condition_expression(delete.condition_expression)
                .set_expression_attribute_names(delete.expression_attribute_names)
                .set_expression_attribute_values(delete.expression_attribute_values)
                .send()
                .await
                .map_err(|e| refused(sdk_error("deleting an item", e)))?;
        } else {
            return Err(StoreError::Corrupt(
                "a single write is neither a put, an update nor a delete".to_owned(),
            ));
        }
        self.count_write(cost, false);
        Ok(())
    }

    /// The feed counter's value, 0 before the first event.
    async fn feed_position(&self) -> Result<u64, StoreError> {
        let item = self
            .get_item(
                &self.tables.events,
                HashMap::from([("pk".to_owned(), s(FEED_COUNTER)), ("sk".to_owned(), n(0))]),
                "the event feed counter",
            )
            .await?;
        Ok(item
            .as_ref()
            .and_then(|item| number_attribute(item, "last_position"))
            .unwrap_or(0))
    }

    fn feed_counter_update(&self, from: u64, to: u64) -> Result<Operation, StoreError> {
        let update = Update::builder()
            .table_name(&self.tables.events)
            .key("pk", s(FEED_COUNTER))
            .key("sk", n(0))
            .update_expression("SET last_position = :to")
            .condition_expression(if from == 0 {
                "attribute_not_exists(last_position) OR last_position = :from"
            } else {
                "last_position = :from"
            })
            .expression_attribute_values(":to", n(to))
            .expression_attribute_values(":from", n(from))
            .build()
            .map_err(|e| StoreError::Corrupt(format!("building an update: {e}")))?;
        Ok(Operation {
            item: TransactWriteItem::builder().update(update).build(),
            target: (self.tables.events.clone(), FEED_COUNTER.to_owned(), Some(0)),
            condition_failed: "the event feed moved meanwhile".to_owned(),
            is_feed_counter: true,
        })
    }

    /// A token whose use was refused: why, from its stored state.
    async fn explain_token_refusal(&self, token_hash: &str) -> StoreError {
        let item = self
            .get_item(
                &self.tables.keys,
                key(format!("token#{token_hash}")),
                "a signing token",
            )
            .await;
        let reason = match item {
            Ok(None) => "the signing token is unknown".to_owned(),
            Ok(Some(item)) => {
                let plan_id = string_attribute(&item, "plan_id").unwrap_or_default();
                if item.contains_key("used_at") {
                    format!("the signing token of plan {plan_id} was used already")
                } else {
                    format!("the signing token of plan {plan_id} expired")
                }
            }
            Err(e) => return e,
        };
        StoreError::ConditionFailed(reason)
    }
}

#[async_trait]
impl TransactionalStore for DynamoStore {
    /// Whether `writes` take at most [`MAX_TRANSACTION_ITEMS`] items ([`DynamoStore::items_for`]):
    /// a larger commit is refused.
    fn fits_in_one_commit(&self, writes: &[Write]) -> bool {
        Self::items_for(writes) <= MAX_TRANSACTION_ITEMS
    }

    async fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let items = Self::items_for(writes);
        if items > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Corrupt(format!(
                "a commit of {} writes takes {items} DynamoDB items, more than the \
                 {MAX_TRANSACTION_ITEMS} one transaction can hold all-or-nothing; commit fewer \
                 writes at once",
                writes.len()
            )));
        }

        // The mandates an update replaces: their reference and download link may move.
        let mut stored_mandates = HashMap::new();
        for write in writes {
            if let Write::UpdateMandate(mandate) = write
                && let Some(stored) = self.get_mandate(&mandate.id).await?
            {
                stored_mandates.insert(mandate.id.0.clone(), stored);
            }
        }

        let has_events = writes.iter().any(|w| matches!(w, Write::AppendEvent(_)));
        for attempt in 0..=MAX_RACE_RETRIES {
            let first = if has_events {
                self.feed_position().await?
            } else {
                0
            };
            let mut position = first;
            let mut operations = Vec::new();
            for write in writes {
                operations.extend(self.operations(write, &stored_mandates, &mut position)?);
            }
            if has_events {
                operations.push(self.feed_counter_update(first, position)?);
            }
            let mut targets = HashSet::new();
            for operation in &operations {
                if !targets.insert(operation.target.clone()) {
                    return Err(StoreError::Corrupt(format!(
                        "a commit writes the item {:?} of {} twice, which one DynamoDB \
                         transaction cannot do; merge those writes",
                        operation.target.1, operation.target.0
                    )));
                }
            }

            let single_token_use = match writes {
                [Write::UseSigningToken { token_hash, .. }] => Some(token_hash.clone()),
                _ => None,
            };
            match self.send_operations(operations).await {
                Ok(false) => return Ok(()),
                Ok(true) => {
                    // Another commit won a race; wait a little, with jitter, and try again.
                    let jitter = u64::from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.subsec_nanos())
                            .unwrap_or(0)
                            % 20,
                    );
                    let pause = 5 * u64::from(attempt.min(8)) + jitter;
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(StoreError::ConditionFailed(reason)) => {
                    if let Some(token_hash) = single_token_use {
                        return Err(self.explain_token_refusal(&token_hash).await);
                    }
                    return Err(StoreError::ConditionFailed(reason));
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(format!(
            "the commit lost {MAX_RACE_RETRIES} races in a row for the same items; try again"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Ports

#[async_trait]
impl CreditorStore for DynamoStore {
    async fn put_creditor(&self, creditor: &Creditor) -> Result<(), StoreError> {
        let mut item = key(creditor.id.as_str());
        item.insert("body".into(), s(to_json("the creditor", creditor)?));
        let cost = self.put_cost(&self.tables.creditors, &item);
        RequestCounts::add(&self.counts.put_item, 1);
        self.client
            .put_item()
            .table_name(&self.tables.creditors)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error(&format!("storing creditor {}", creditor.id), e))?;
        self.count_write(cost, false);
        Ok(())
    }

    async fn get_creditor(&self, id: &CreditorId) -> Result<Option<Creditor>, StoreError> {
        self.get_body(
            &self.tables.creditors,
            id.as_str(),
            &format!("creditor {id}"),
        )
        .await
    }
}

#[async_trait]
impl PlanStore for DynamoStore {
    async fn insert_plan(&self, plan: &Plan, token: &SigningToken) -> Result<(), StoreError> {
        self.commit(&[
            Write::InsertPlan(plan.clone()),
            Write::InsertSigningToken(token.clone()),
        ])
        .await
    }

    async fn get_plan(&self, id: &PlanId) -> Result<Option<Plan>, StoreError> {
        self.get_body(&self.tables.plans, &id.0, &format!("plan {id}"))
            .await
    }

    async fn get_plans(&self, ids: &[PlanId]) -> Result<Vec<Plan>, StoreError> {
        let ids: Vec<String> = ids.iter().map(|id| id.0.clone()).collect();
        self.get_bodies(&self.tables.plans, &ids, "plan").await
    }

    async fn update_plan(&self, plan: &Plan) -> Result<(), StoreError> {
        self.commit(&[Write::UpdatePlan(plan.clone())]).await
    }

    async fn list_plans(&self, query: &PlanQuery) -> Result<Page<Plan>, StoreError> {
        let (index, partition_attribute, partition_value) = match (&query.creditor_id, query.status)
        {
            (Some(creditor), Some(status)) => (
                "by_creditor_status",
                "creditor_status",
                format!("{}#{}", creditor.as_str(), status.as_str()),
            ),
            (Some(creditor), None) => ("by_creditor", "creditor_id", creditor.as_str().to_owned()),
            (None, Some(status)) => ("by_status", "status", status.as_str().to_owned()),
            (None, None) => ("all", "entity", "plan".to_owned()),
        };
        let creditor = query.creditor_id.clone();
        let status = query.status;
        self.id_ordered_page(
            IndexQuery {
                table: &self.tables.plans,
                index,
                partition_attribute,
                partition_value,
                sort_attribute: "pk",
                sort_below: None,
            },
            "plan",
            query.after.as_deref(),
            query.limit,
            |plan: &Plan| {
                creditor.as_ref().is_none_or(|c| &plan.creditor_id == c)
                    && status.is_none_or(|s| plan.status == s)
            },
        )
        .await
    }

    async fn get_signing_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<SigningToken>, StoreError> {
        let Some(item) = self
            .get_item(
                &self.tables.keys,
                key(format!("token#{token_hash}")),
                "a signing token",
            )
            .await?
        else {
            return Ok(None);
        };
        let mut token: SigningToken = body_of("signing token", &item)?;
        if let Some(used_at) = string_attribute(&item, "used_at_json") {
            token.used_at = Some(from_json("signing token use", used_at)?);
        }
        Ok(Some(token))
    }

    async fn use_signing_token(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.commit(&[Write::UseSigningToken {
            token_hash: token_hash.to_owned(),
            at,
        }])
        .await
    }

    async fn plans_due_by(
        &self,
        day: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Plan>, StoreError> {
        self.sharded_page(
            &self.tables.plans,
            "due",
            "due_shard",
            "",
            "due_key",
            // `$` sorts right after `#`: every key of `day` is below it, none of a later day.
            Some(format!("{day}$")),
            "plan",
            after,
            limit,
            |plan: &Plan| plan.next_action_on.is_some_and(|d| d <= day),
            |plan| plan.id.0.clone(),
        )
        .await
    }

    async fn insert_self_service_token(&self, token: &SelfServiceToken) -> Result<(), StoreError> {
        let mut item = key(self_service_key(&token.token_hash));
        item.insert("plan_id".into(), s(token.plan_id.0.clone()));
        item.insert("expires_at".into(), n(token.expires_at.timestamp_micros()));
        expire(&mut item, token.expires_at);
        item.insert("body".into(), s(to_json("the self-service token", token)?));
        let insert = self.insert(
            &self.tables.keys,
            item,
            format!("the self-service token hash for plan {}", token.plan_id),
        )?;
        self.send_single(insert).await
    }

    async fn get_self_service_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<SelfServiceToken>, StoreError> {
        self.get_body(
            &self.tables.keys,
            &self_service_key(token_hash),
            "self-service token",
        )
        .await
    }
}

#[async_trait]
impl MandateStore for DynamoStore {
    async fn get_mandate(&self, id: &MandateId) -> Result<Option<Mandate>, StoreError> {
        self.get_body(&self.tables.mandates, &id.0, &format!("mandate {id}"))
            .await
    }

    async fn get_mandates(&self, ids: &[MandateId]) -> Result<Vec<Mandate>, StoreError> {
        let ids: Vec<String> = ids.iter().map(|id| id.0.clone()).collect();
        self.get_bodies(&self.tables.mandates, &ids, "mandate")
            .await
    }

    async fn mandates_expiring_by(
        &self,
        day: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Mandate>, StoreError> {
        self.sharded_page(
            &self.tables.mandates,
            "expiring",
            "expiry_shard",
            "",
            "expiry_key",
            Some(format!("{day}$")),
            "mandate",
            after,
            limit,
            |mandate: &Mandate| expiry_date(mandate).is_some_and(|d| d <= day),
            |mandate| mandate.id.0.clone(),
        )
        .await
    }

    async fn get_mandate_by_download_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Mandate>, StoreError> {
        let Some(guard) = self
            .get_item(
                &self.tables.keys,
                key(download_guard(token_hash)),
                "a mandate download link",
            )
            .await?
        else {
            return Ok(None);
        };
        let Some(owner) = string_attribute(&guard, "owner") else {
            return Ok(None);
        };
        let mandate = self.get_mandate(&MandateId(owner.to_owned())).await?;
        // The guard and the mandate change in one transaction; this only guards against a
        // mandate that moved its link between the two reads.
        Ok(mandate.filter(|m| m.download_token_hash.as_deref() == Some(token_hash)))
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn list_events(&self, aggregate_id: &str) -> Result<Vec<Event>, StoreError> {
        let mut events = Vec::new();
        let mut start = None;
        loop {
            let answer = self
                .events_of(aggregate_id)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("listing the events of {aggregate_id}"), e))?;
            let items = answer.items.unwrap_or_default();
            self.count_read(items.iter().map(item_size).sum(), true);
            for item in items {
                events.push(body_of("event", &item)?);
            }
            match answer.last_evaluated_key {
                Some(last) => start = Some(last),
                None => return Ok(events),
            }
        }
    }

    /// One query per distinct aggregate, newest first and limited to one item,
    /// [`CONCURRENT_QUERIES`] at a time.
    async fn last_events(&self, aggregate_ids: &[String]) -> Result<Vec<Event>, StoreError> {
        let wanted: HashSet<&String> = aggregate_ids.iter().collect();
        self.query_each(
            wanted.into_iter().cloned(),
            "a query for an event head",
            |store, id| async move { store.last_event(&id).await },
        )
        .await
    }

    async fn feed(&self, after: u64, limit: u32) -> Result<Vec<(u64, Event)>, StoreError> {
        let limit = u64::from(limit.clamp(1, MAX_PAGE_SIZE));
        let last = self.feed_position().await?.min(after.saturating_add(limit));
        let mut events: Vec<(u64, Event)> = Vec::new();
        let mut expected = after + 1;
        while expected <= last {
            let bucket = expected / FEED_BUCKET_SIZE;
            RequestCounts::add(&self.counts.query, 1);
            let answer = self
                .client
                .query()
                .table_name(&self.tables.events)
                .index_name("feed")
                .key_condition_expression(
                    "feed_bucket = :bucket AND #position BETWEEN :from AND :to",
                )
                .expression_attribute_names("#position", "position")
                .expression_attribute_values(":bucket", s(bucket.to_string()))
                .expression_attribute_values(":from", n(expected))
                .expression_attribute_values(":to", n(last))
                .send()
                .await
                .map_err(|e| sdk_error("reading the event feed", e))?;
            let items = answer.items.unwrap_or_default();
            self.count_read(items.iter().map(item_size).sum(), false);
            let mut found: BTreeMap<u64, Event> = BTreeMap::new();
            for item in items {
                if let Some(position) = number_attribute(&item, "position") {
                    found.insert(position, body_of("event", &item)?);
                }
            }
            let bucket_end = ((bucket + 1) * FEED_BUCKET_SIZE).min(last + 1);
            for position in expected..bucket_end {
                match found.remove(&position) {
                    Some(event) => events.push((position, event)),
                    // The index has not caught up yet: stop before the gap, never skip it.
                    None => return Ok(events),
                }
            }
            expected = bucket_end;
        }
        Ok(events)
    }
}

#[async_trait]
impl CollectionStore for DynamoStore {
    async fn get_collection(&self, id: &str) -> Result<Option<Collection>, StoreError> {
        self.get_body(&self.tables.collections, id, &format!("collection {id}"))
            .await
    }

    async fn get_collection_by_end_to_end_id(
        &self,
        end_to_end_id: &str,
    ) -> Result<Option<Collection>, StoreError> {
        let ids: Vec<String> = self
            .collection_id_by_end_to_end_id(end_to_end_id)
            .await?
            .into_iter()
            .collect();
        match self
            .batch_get(&self.tables.collections, &ids)
            .await?
            .first()
        {
            Some(item) => {
                let collection: Collection = body_of("collection", item)?;
                Ok((collection.end_to_end_id == end_to_end_id).then_some(collection))
            }
            None => Ok(None),
        }
    }

    /// One `by_end_to_end_id` query per distinct id, [`CONCURRENT_QUERIES`] at a time (an index
    /// query takes one partition key), then the bodies by consistent `BatchGetItem`s; a
    /// collection the index still lists under an id it no longer carries is left out.
    async fn get_collections_by_end_to_end_ids(
        &self,
        end_to_end_ids: &[String],
    ) -> Result<Vec<Collection>, StoreError> {
        let wanted: HashSet<&String> = end_to_end_ids.iter().collect();
        let ids = self
            .query_each(
                wanted.iter().map(|id| (*id).clone()),
                "a query by EndToEndId",
                |store, id| async move { store.collection_id_by_end_to_end_id(&id).await },
            )
            .await?;
        let collections: Vec<Collection> = self
            .get_bodies(&self.tables.collections, &ids, "collection")
            .await?;
        Ok(collections
            .into_iter()
            .filter(|c| wanted.contains(&c.end_to_end_id))
            .collect())
    }

    async fn collections_of_batch(
        &self,
        batch_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Collection>, StoreError> {
        let batch = batch_id.to_owned();
        self.id_ordered_page(
            IndexQuery {
                table: &self.tables.collections,
                index: "by_batch",
                partition_attribute: "batch_id",
                partition_value: batch_id.to_owned(),
                sort_attribute: "pk",
                sort_below: None,
            },
            "collection",
            after,
            limit,
            |c: &Collection| c.batch_id.as_deref() == Some(batch.as_str()),
        )
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
        let prefix = format!(
            "{}#{}#{collection_date}#",
            creditor_id.as_str(),
            scheme_name(scheme)
        );
        let creditor = creditor_id.clone();
        self.sharded_page(
            &self.tables.collections,
            "to_batch",
            "batch_shard",
            &prefix,
            "pk",
            None,
            "collection",
            after,
            limit,
            |c: &Collection| {
                c.status == CollectionStatus::Scheduled
                    && c.creditor_id == creditor
                    && c.scheme == scheme
                    && c.collection_date == collection_date
            },
            |c| c.id.clone(),
        )
        .await
    }

    async fn unsettled_collections_by(
        &self,
        day: NaiveDate,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Collection>, StoreError> {
        self.sharded_page(
            &self.tables.collections,
            "unsettled",
            "unsettled_shard",
            "",
            "unsettled_key",
            Some(format!("{day}$")),
            "collection",
            after,
            limit,
            |c: &Collection| {
                matches!(
                    c.status,
                    CollectionStatus::Batched | CollectionStatus::Submitted
                ) && c.collection_date <= day
            },
            |c| c.id.clone(),
        )
        .await
    }

    async fn list_collections(
        &self,
        query: &CollectionQuery,
    ) -> Result<Page<Collection>, StoreError> {
        let (index, partition_attribute, partition_value) =
            match (&query.creditor_id, query.status, query.collection_date) {
                (Some(creditor), _, _) => {
                    ("by_creditor", "creditor_id", creditor.as_str().to_owned())
                }
                (None, Some(status), _) => ("by_status", "status", status.as_str().to_owned()),
                (None, None, Some(date)) => ("by_date", "collection_date", date.to_string()),
                (None, None, None) => ("all", "entity", "collection".to_owned()),
            };
        let filter = query.clone();
        self.id_ordered_page(
            IndexQuery {
                table: &self.tables.collections,
                index,
                partition_attribute,
                partition_value,
                sort_attribute: "pk",
                sort_below: None,
            },
            "collection",
            query.after.as_deref(),
            query.limit,
            |c: &Collection| {
                filter
                    .creditor_id
                    .as_ref()
                    .is_none_or(|x| &c.creditor_id == x)
                    && filter.status.is_none_or(|x| c.status == x)
                    && filter
                        .collection_date
                        .is_none_or(|x| c.collection_date == x)
            },
        )
        .await
    }

    async fn get_batch(&self, id: &str) -> Result<Option<Batch>, StoreError> {
        self.get_body(&self.tables.batches, id, &format!("batch {id}"))
            .await
    }

    async fn list_batches(
        &self,
        creditor_id: Option<&CreditorId>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Batch>, StoreError> {
        let (index, partition_attribute, partition_value) = match creditor_id {
            Some(creditor) => ("by_creditor", "creditor_id", creditor.as_str().to_owned()),
            None => ("all", "entity", "batch".to_owned()),
        };
        self.id_ordered_page(
            IndexQuery {
                table: &self.tables.batches,
                index,
                partition_attribute,
                partition_value,
                sort_attribute: "pk",
                sort_below: None,
            },
            "batch",
            after,
            limit,
            |_: &Batch| true,
        )
        .await
    }

    async fn unfinished_batches(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Batch>, StoreError> {
        self.id_ordered_page(
            IndexQuery {
                table: &self.tables.batches,
                index: "unfinished",
                partition_attribute: "unfinished",
                partition_value: "batch".to_owned(),
                sort_attribute: "pk",
                sort_below: None,
            },
            "batch",
            after,
            limit,
            |batch: &Batch| batch.status != BatchStatus::Complete,
        )
        .await
    }

    async fn batch_rounds(
        &self,
        creditor_id: &CreditorId,
        scheme: Scheme,
        collection_date: NaiveDate,
    ) -> Result<u32, StoreError> {
        RequestCounts::add(&self.counts.query, 1);
        let answer = self
            .client
            .query()
            .table_name(&self.tables.batches)
            .index_name("rounds")
            .key_condition_expression("batch_key = :key")
            .expression_attribute_values(
                ":key",
                s(format!(
                    "{}#{}#{collection_date}",
                    creditor_id.as_str(),
                    scheme_name(scheme)
                )),
            )
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(|e| sdk_error("counting batch rounds", e))?;
        Ok(answer
            .items
            .unwrap_or_default()
            .first()
            .and_then(|item| number_attribute(item, "round"))
            .map_or(0, |round| round as u32))
    }
}

#[async_trait]
impl TaskStore for DynamoStore {
    async fn open_task(&self, task: &Task) -> Result<bool, StoreError> {
        let mut item = key(task.id.clone());
        item.insert("entity".into(), s("task"));
        item.insert("status".into(), s(task_status(task.status)));
        item.insert("body".into(), s(to_json("the task", task)?));
        let operation = self.insert(&self.tables.tasks, item, format!("task {}", task.id))?;
        match self.send_single(operation).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn get_task(&self, id: &str) -> Result<Option<Task>, StoreError> {
        self.get_body(&self.tables.tasks, id, &format!("task {id}"))
            .await
    }

    async fn close_task(&self, task: &Task) -> Result<(), StoreError> {
        let mut item = key(task.id.clone());
        item.insert("entity".into(), s("task"));
        item.insert("status".into(), s("closed"));
        item.insert("body".into(), s(to_json("the task", task)?));
        let operation = self.put(
            &self.tables.tasks,
            item,
            "#status = :open",
            Some(HashMap::from([(":open".to_owned(), s("open"))])),
            format!("task {} is not open", task.id),
        )?;
        self.send_single(operation).await
    }

    async fn list_tasks(
        &self,
        status: Option<TaskStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Task>, StoreError> {
        let (index, partition_attribute, partition_value) = match status {
            Some(status) => ("by_status", "status", task_status(status).to_owned()),
            None => ("all", "entity", "task".to_owned()),
        };
        self.id_ordered_page(
            IndexQuery {
                table: &self.tables.tasks,
                index,
                partition_attribute,
                partition_value,
                sort_attribute: "pk",
                sort_below: None,
            },
            "task",
            after,
            limit,
            |task: &Task| status.is_none_or(|s| task.status == s),
        )
        .await
    }
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim_idempotency_key(&self, record: &IdempotencyRecord) -> Result<(), StoreError> {
        let mut item = key(format!("idempotency#{}", record.key));
        item.insert(
            "completed".into(),
            AttributeValue::Bool(record.response.is_some()),
        );
        item.insert("body".into(), s(to_json("the idempotency record", record)?));
        let operation = self.insert(&self.tables.keys, item, "the idempotency key".to_owned())?;
        self.send_single(Operation {
            condition_failed: "the idempotency key is taken".to_owned(),
            ..operation
        })
        .await
    }

    async fn get_idempotency_record(
        &self,
        key_text: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let Some(item) = self
            .get_item(
                &self.tables.keys,
                key(format!("idempotency#{key_text}")),
                "an idempotency key",
            )
            .await?
        else {
            return Ok(None);
        };
        let mut record: IdempotencyRecord = body_of("idempotency record", &item)?;
        if let Some(response) = string_attribute(&item, "response") {
            record.response = Some(from_json("stored response", response)?);
        }
        Ok(Some(record))
    }

    /// Only a claimed key without an answer takes one: the first answer is the one every repeat
    /// gets.
    async fn complete_idempotency_key(
        &self,
        key_text: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        RequestCounts::add(&self.counts.update_item, 1);
        self.client
            .update_item()
            .table_name(&self.tables.keys)
            .set_key(Some(key(format!("idempotency#{key_text}"))))
            .update_expression("SET #completed = :true, #response = :response")
            .condition_expression("#completed = :false")
            .expression_attribute_names("#completed", "completed")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":response", s(to_json("the stored response", response)?))
            .send()
            .await
            .map_err(|e| match sdk_error("completing an idempotency key", e) {
                StoreError::ConditionFailed(_) => StoreError::ConditionFailed(
                    "the idempotency key is not claimed, or has its answer already".to_owned(),
                ),
                other => other,
            })?;
        self.count_write((1, 0), false);
        Ok(())
    }

    /// Releasing an unknown key does nothing; a completed key keeps its answer and the release
    /// fails its condition.
    async fn release_idempotency_key(&self, key_text: &str) -> Result<(), StoreError> {
        RequestCounts::add(&self.counts.delete_item, 1);
        self.client
            .delete_item()
            .table_name(&self.tables.keys)
            .set_key(Some(key(format!("idempotency#{key_text}"))))
            .condition_expression("attribute_not_exists(pk) OR #completed = :false")
            .expression_attribute_names("#completed", "completed")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await
            .map_err(|e| match sdk_error("releasing an idempotency key", e) {
                StoreError::ConditionFailed(_) => StoreError::ConditionFailed(
                    "the idempotency key has its answer already and is kept".to_owned(),
                ),
                other => other,
            })?;
        self.count_write((1, 0), false);
        Ok(())
    }
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn add_api_key_hash(&self, key_hash: &str) -> Result<(), StoreError> {
        RequestCounts::add(&self.counts.put_item, 1);
        self.client
            .put_item()
            .table_name(&self.tables.keys)
            .set_item(Some(key(format!("api-key#{key_hash}"))))
            .send()
            .await
            .map_err(|e| sdk_error("registering an API key", e))?;
        self.count_write((1, 0), false);
        Ok(())
    }

    async fn api_key_hash_exists(&self, key_hash: &str) -> Result<bool, StoreError> {
        Ok(self
            .get_item(
                &self.tables.keys,
                key(format!("api-key#{key_hash}")),
                "an API key",
            )
            .await?
            .is_some())
    }
}

// ---------------------------------------------------------------------------------------------
// Provisioning

/// One GSI: its name, partition and optional sort attribute, and whether it carries every
/// attribute (only `feed`: events never change) or keys only.
struct IndexSpec {
    name: &'static str,
    partition: &'static str,
    sort: Option<(&'static str, ScalarAttributeType)>,
    all_attributes: bool,
}

const fn keys_only(
    name: &'static str,
    partition: &'static str,
    sort: Option<&'static str>,
) -> IndexSpec {
    IndexSpec {
        name,
        partition,
        sort: match sort {
            Some(sort) => Some((sort, ScalarAttributeType::S)),
            None => None,
        },
        all_attributes: false,
    }
}

/// The key schema of every table, as the module documentation lists it.
fn table_specs(tables: &Tables) -> Vec<(String, bool, Vec<IndexSpec>)> {
    vec![
        (tables.creditors.clone(), false, vec![]),
        (
            tables.plans.clone(),
            false,
            vec![
                keys_only("by_creditor", "creditor_id", Some("pk")),
                keys_only("by_creditor_status", "creditor_status", Some("pk")),
                keys_only("by_status", "status", Some("pk")),
                keys_only("all", "entity", Some("pk")),
                keys_only("due", "due_shard", Some("due_key")),
            ],
        ),
        (
            tables.mandates.clone(),
            false,
            vec![keys_only("expiring", "expiry_shard", Some("expiry_key"))],
        ),
        (
            tables.collections.clone(),
            false,
            vec![
                keys_only("by_end_to_end_id", "end_to_end_id", None),
                keys_only("by_batch", "batch_id", Some("pk")),
                keys_only("by_creditor", "creditor_id", Some("pk")),
                keys_only("by_status", "status", Some("pk")),
                keys_only("by_date", "collection_date", Some("pk")),
                keys_only("all", "entity", Some("pk")),
                keys_only("to_batch", "batch_shard", Some("pk")),
                keys_only("unsettled", "unsettled_shard", Some("unsettled_key")),
            ],
        ),
        (
            tables.batches.clone(),
            false,
            vec![
                keys_only("by_creditor", "creditor_id", Some("pk")),
                keys_only("all", "entity", Some("pk")),
                IndexSpec {
                    name: "rounds",
                    partition: "batch_key",
                    sort: Some(("round", ScalarAttributeType::N)),
                    all_attributes: false,
                },
                keys_only("unfinished", "unfinished", Some("pk")),
            ],
        ),
        (
            tables.tasks.clone(),
            false,
            vec![
                keys_only("by_status", "status", Some("pk")),
                keys_only("all", "entity", Some("pk")),
            ],
        ),
        (
            tables.events.clone(),
            true,
            vec![IndexSpec {
                name: "feed",
                partition: "feed_bucket",
                sort: Some(("position", ScalarAttributeType::N)),
                all_attributes: true,
            }],
        ),
        (tables.keys.clone(), false, vec![]),
    ]
}

/// Creates every table of `tables` with its GSIs, on-demand, waits until they are active, and
/// turns on the keys table's time to live on [`TTL_ATTRIBUTE`]; tables that exist already are
/// left as they are. For tests and first set-ups: the SAM template creates the same tables in a
/// deployment.
pub async fn provision(client: &Client, tables: &Tables) -> Result<(), StoreError> {
    for (name, has_sort_key, indexes) in table_specs(tables) {
        let mut attributes: BTreeMap<&str, ScalarAttributeType> = BTreeMap::new();
        attributes.insert("pk", ScalarAttributeType::S);
        let mut request = client
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_element("pk", KeyType::Hash)?);
        if has_sort_key {
            attributes.insert("sk", ScalarAttributeType::N);
            request = request.key_schema(key_element("sk", KeyType::Range)?);
        }
        for index in &indexes {
            attributes.insert(index.partition, ScalarAttributeType::S);
            let mut builder = GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key_element(index.partition, KeyType::Hash)?)
                .projection(
                    Projection::builder()
                        .projection_type(if index.all_attributes {
                            ProjectionType::All
                        } else {
                            ProjectionType::KeysOnly
                        })
                        .build(),
                );
            if let Some((sort, kind)) = &index.sort {
                attributes.insert(sort, kind.clone());
                builder = builder.key_schema(key_element(sort, KeyType::Range)?);
            }
            request = request.global_secondary_indexes(
                builder
                    .build()
                    .map_err(|e| StoreError::Corrupt(format!("building an index: {e}")))?,
            );
        }
        for (attribute, kind) in attributes {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attribute)
                    .attribute_type(kind)
                    .build()
                    .map_err(|e| StoreError::Corrupt(format!("building an attribute: {e}")))?,
            );
        }
        match request.send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(sdk_error(&format!("creating table {name}"), e)),
        }
    }
    for (name, _, _) in table_specs(tables) {
        wait_until_active(client, &name).await?;
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(TTL_ATTRIBUTE)
        .enabled(true)
        .build()
        .map_err(|e| StoreError::Corrupt(format!("building a time to live: {e}")))?;
    match client
        .update_time_to_live()
        .table_name(&tables.keys)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Turning it on again answers "already enabled".
        Err(e) if e.code() == Some("ValidationException") => Ok(()),
        Err(e) => Err(sdk_error(
            &format!("turning on the time to live of {}", tables.keys),
            e,
        )),
    }
}

fn key_element(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| StoreError::Corrupt(format!("building a key schema: {e}")))
}

async fn wait_until_active(client: &Client, name: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::TableStatus;
    for _ in 0..120 {
        let answer = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("describing table {name}"), e))?;
        if answer.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::Unavailable(format!(
        "table {name} did not become active within a minute"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread_over_every_partition() {
        assert_eq!(shard_of("pln_a"), shard_of("pln_a"));
        let used: HashSet<u32> = (0..1000).map(|i| shard_of(&format!("pln_{i}"))).collect();
        assert_eq!(used.len(), SHARDS as usize);
    }

    #[test]
    fn a_day_bound_sorts_after_every_key_of_that_day_and_before_the_next() {
        let bound = "2027-03-01$";
        assert!("2027-03-01#pln_zzzz" < bound);
        assert!("2027-03-02#pln_0000" > bound);
    }
}
