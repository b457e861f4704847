//! Figures for the return processor on the embedded store, printed, with only the counts
//! asserted:
//!
//! - 100 000 batched collections of one creditor (one per plan, each plan monthly with 12
//!   instalments, its first collection in one pain.008 file), and a bank file that fails every
//!   one of them with AM04 (insufficient funds, a soft failure: each instalment is re-presented
//!   later and its debtor e-mailed):
//!   - a camt.054.001.08 debit notification, half of its returns in entries of their own and
//!     half in batch-booked entries of 50;
//!   - a pain.002.001.10 status report rejecting every transaction of the file;
//! - for each, `returns::process_bank_file` (read, match, apply, dunning e-mails) on a fresh
//!   store: wall time, items per second and the peak memory (max RSS) of the process that ran
//!   it; then the same file again, which must apply nothing and count every item a duplicate;
//! - each case once more with the e-mails discarded instead of written to the outbox, which
//!   tells the store's share of the time from the mailer's.
//!
//! Setting up is not measured. One plan is created and signed through the use cases and the
//! daily job makes its first collection and batch file, in a scratch folder; the plan, its
//! mandate and its collection are then cloned with fresh ids, mandate reference, EndToEndId and
//! event chains into the measured store, a thousand writes per commit, with a batch record
//! that holds them all (its pain.008 file is not written: the return processor never reads
//! it). Each measured run is a child process (this binary, re-executed), so its peak memory is
//! its own; the parent reads it with `wait4`.
//!
//! Run with `cargo bench -p tranche-tests --bench returns`; `cargo bench -p tranche-local
//! --bench returns -- 10000` runs another size instead.

/// The allocator of the `tranche` binary, so the figures are those of the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use serde_json::{Value, json};
use tranche_domain::collection::{Batch, Collection, CollectionStatus};
use tranche_domain::creditor::CreditorId;
use tranche_domain::daily;
use tranche_domain::events::Event;
use tranche_domain::mandate::{Mandate, MandateId};
use tranche_domain::money::Amount;
use tranche_domain::plan::{Plan, PlanId};
use tranche_domain::ports::{Email, MailError, Mailer, Ports, Write};
use tranche_domain::returns;
use tranche_domain::secrets;
use tranche_domain::use_cases;
use tranche_local::host;
use tranche_tests::bank_files::{Reported, camt054_mixed, pain002_rejects};
use tranche_tests::bench::{
    ChildRun, CopyIds, RESULT_PREFIX, child_args, clone_signed, fixture, links, print_machine,
    rechain, run_child, sign_one_plan,
};

/// Returns per bank file when no size is given on the command line.
const DEFAULT_SIZE: usize = 100_000;
/// The goal: one bank file of 100 000 items read, matched and applied within this time.
const TARGET: Duration = Duration::from_secs(5);
/// Writes per transaction while the collections are set up.
const WRITES_PER_COMMIT: usize = 1_000;
/// Returns per batch-booked camt.054 entry, and single entries between two of them.
const BATCH_BOOKED: usize = 50;
/// The day the plan is created and signed on.
const SIGNED_ON: (i32, u32, u32) = (2027, 1, 4);

/// The two bank files measured.
const CASES: [&str; 2] = ["camt054", "pain002"];

fn main() {
    if let Some(args) = child_args() {
        child(&args);
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    print_machine();
    let n = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(DEFAULT_SIZE);

    let mut summary = Vec::new();
    for case in CASES {
        summary.extend(measure(case, n));
    }

    println!("\n== summary: {n} returns per file ==");
    for (label, run) in &summary {
        let seconds = run.result["seconds"].as_f64().unwrap();
        println!(
            "{label:<34} {seconds:>8.2} s {:>9.0} items/s  peak memory {:>5} MiB",
            n as f64 / seconds,
            run.max_rss_kib / 1024,
        );
    }
    for (label, run) in summary
        .iter()
        .filter(|(l, _)| l.ends_with("outbox, first run"))
    {
        let seconds = run.result["seconds"].as_f64().unwrap();
        println!(
            "target: {label} within {} s: {} ({seconds:.2} s)",
            TARGET.as_secs(),
            if seconds <= TARGET.as_secs_f64() {
                "met"
            } else {
                "MISSED"
            }
        );
    }
}

/// Sets up `n` batched collections and a bank file about them, then applies the file on
/// fresh copies of the store: with the outbox, again, and with the e-mails discarded.
fn measure(case: &str, n: usize) -> Vec<(String, ChildRun)> {
    println!("\n== {case}: {n} AM04 returns ==");
    let folder = tempfile::tempdir().expect("a temporary folder");
    let pristine = folder.path().join("pristine");
    let setup = run_child(&["setup", case, &n.to_string(), path_arg(&pristine)]);
    let prepared = &setup.result;
    println!(
        "setup (not measured): {:.1} s, peak memory {} MiB; bank file {} MiB, applied on {}",
        prepared["seconds"].as_f64().unwrap(),
        setup.max_rss_kib / 1024,
        prepared["file_bytes"].as_u64().unwrap() / (1024 * 1024),
        prepared["today"].as_str().unwrap(),
    );
    let today = prepared["today"].as_str().unwrap().to_owned();
    let file = pristine.join("bank-file.xml");

    let mut runs = Vec::new();
    for mailer in ["outbox", "discard"] {
        let data = folder.path().join(mailer);
        copy_folder(&pristine, &data);
        let args = ["run", path_arg(&data), path_arg(&file), &today, mailer];

        let first = run_child(&args);
        let report = &first.result;
        assert_eq!(report["items"], json!(n), "{report}");
        assert_eq!(report["applied"], json!(n), "{report}");
        assert_eq!(report["duplicates"], json!(0), "{report}");
        assert_eq!(report["unmatched"], json!(0), "{report}");
        assert_eq!(report["representations_scheduled"], json!(n), "{report}");
        let (written, discarded) = if mailer == "outbox" { (n, 0) } else { (0, n) };
        assert_eq!(report["emails"], json!(written), "{report}");
        assert_eq!(report["discarded"], json!(discarded), "{report}");
        print_run(&format!("{case}, {mailer}, first run"), n, &first);
        runs.push((format!("{case}, {mailer}, first run"), first));

        if mailer == "outbox" {
            let again = run_child(&args);
            let report = &again.result;
            assert_eq!(report["applied"], json!(0), "{report}");
            assert_eq!(report["duplicates"], json!(n), "{report}");
            assert_eq!(report["emails"], json!(n), "no second e-mail: {report}");
            print_run(&format!("{case}, {mailer}, same file again"), n, &again);
            runs.push((format!("{case}, {mailer}, same file again"), again));
        }
        std::fs::remove_dir_all(&data).expect("the copy is removed");
    }
    runs
}

fn print_run(label: &str, n: usize, run: &ChildRun) {
    let report = &run.result;
    let seconds = report["seconds"].as_f64().unwrap();
    println!(
        "{label}: {seconds:.2} s, {:.0} items per second, {:.0} µs per item, applied {}, \
         duplicates {}, e-mails in the outbox {}, peak memory {} MiB, {}",
        n as f64 / seconds,
        seconds * 1e6 / n as f64,
        report["applied"],
        report["duplicates"],
        report["emails"],
        run.max_rss_mib(),
        run.cpu(),
    );
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// Copies a data folder (the database with its WAL, the files, the outbox), which no process
/// has open.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the copy's folder");
    for entry in std::fs::read_dir(from).expect("the data folder") {
        let entry = entry.expect("a folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a copied file");
        }
    }
}

/// The child's side: `setup <case> <n> <data>` or `run <data> <file> <today> <mailer>`.
fn child(args: &[String]) {
    // Warnings (an e-mail not sent) go to stderr, which the parent passes through.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("a Tokio runtime");
    let result = match args {
        [phase, case, n, data] if phase == "setup" => {
            runtime.block_on(set_up(case, n.parse().expect("a size"), Path::new(data)))
        }
        [phase, data, file, today, mailer] if phase == "run" => runtime.block_on(apply_file(
            Path::new(data),
            Path::new(file),
            today.parse().expect("a day"),
            mailer == "discard",
        )),
        _ => panic!("unknown child arguments {args:?}"),
    };
    println!("{RESULT_PREFIX}{result}");
}

/// E-mails the discarding mailer was given.
static DISCARDED: AtomicU64 = AtomicU64::new(0);

/// A mailer that accepts every e-mail and keeps none, only counts them.
struct DiscardingMailer;

#[async_trait]
impl Mailer for DiscardingMailer {
    async fn send(&self, _email: &Email) -> Result<String, MailError> {
        DISCARDED.fetch_add(1, Ordering::Relaxed);
        Ok(secrets::random_id("msg"))
    }
}

/// Applies the bank file at `file` to the data folder on `today`; answers the report.
async fn apply_file(data: &Path, file: &Path, today: NaiveDate, discard_mail: bool) -> Value {
    let mut ports = host::open_ports(data, host::clock_for(Some(today))).expect("the data folder");
    if discard_mail {
        ports.mailer = Arc::new(DiscardingMailer);
    }
    let bytes = std::fs::read(file).expect("the bank file");

    let started = Instant::now();
    let report = returns::process_bank_file(&ports, &links(), &bytes)
        .await
        .expect("the bank file is applied");
    let seconds = started.elapsed().as_secs_f64();

    let emails = std::fs::read_dir(data.join("outbox"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    json!({
        "seconds": seconds,
        "items": report.items,
        "applied": report.applied,
        "duplicates": report.duplicates,
        "unmatched": report.unmatched,
        "representations_scheduled": report.representations_scheduled,
        "tasks_opened": report.tasks_opened,
        "emails": emails,
        "discarded": DISCARDED.load(Ordering::Relaxed),
    })
}

/// The stored state of one plan after its first collection was batched, to be cloned.
struct Template {
    /// The creditor's mandate reference prefix.
    reference_prefix: String,
    /// The day the daily job made the collection.
    collection_day: NaiveDate,
    plan: Plan,
    mandate: Mandate,
    collection: Collection,
    batch: Batch,
    plan_events: Vec<Event>,
    mandate_events: Vec<Event>,
    collection_events: Vec<Event>,
}

/// Stores the creditor, `n` plans with a batched first collection each and their batch, and
/// writes the bank file of `case` about them; answers the day to apply it on.
async fn set_up(case: &str, n: usize, data: &Path) -> Value {
    let started = Instant::now();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let template = template(scratch.path(), n).await;
    let collection_day = template.collection_day;
    let ports =
        host::open_ports(data, host::clock_for(Some(collection_day))).expect("the data folder");
    put_creditor(&ports, n).await;

    let mut batch = template.batch.clone();
    batch.number_of_transactions = n as u64;
    batch.control_sum =
        Amount::from_cents(template.collection.amount.cents() * n as i64).expect("a control sum");
    let mut writes = vec![Write::InsertBatch(batch)];
    let mut reported = Vec::with_capacity(n);
    for _ in 0..n {
        let (clone, clone_writes) = clone_collection(&template, &template.reference_prefix);
        reported.push(clone);
        writes.extend(clone_writes);
        if writes.len() >= WRITES_PER_COMMIT {
            ports.transactions.commit(&writes).await.expect("a commit");
            writes.clear();
        }
    }
    if !writes.is_empty() {
        ports.transactions.commit(&writes).await.expect("a commit");
    }

    let due = template.collection.collection_date;
    let (xml, today) = match case {
        "camt054" => {
            let booked = due + Days::new(2);
            (
                camt054_mixed("C54-BENCH-1", &reported, booked, BATCH_BOOKED),
                booked,
            )
        }
        "pain002" => (
            pain002_rejects("PSR-BENCH-1", &template.batch.message_id, &reported),
            collection_day + Days::new(1),
        ),
        _ => panic!("unknown case {case}"),
    };
    std::fs::write(data.join("bank-file.xml"), &xml).expect("the bank file");
    json!({
        "seconds": started.elapsed().as_secs_f64(),
        "today": today,
        "file_bytes": xml.len(),
    })
}

/// The creditor of the fixture, taking files as large as the benchmark.
async fn put_creditor(ports: &Ports, n: usize) {
    let mut body = fixture("creditor-acme.json");
    body["max_transactions_per_file"] = json!(n.max(1));
    use_cases::put_creditor(ports, "acme", &body)
        .await
        .expect("the creditor");
}

/// Signs one plan through the use cases and runs the daily job on its first collection day,
/// in `scratch`; answers what that left in the store.
async fn template(scratch: &Path, n: usize) -> Template {
    let (year, month, day) = SIGNED_ON;
    let signed_on = NaiveDate::from_ymd_opt(year, month, day).expect("a date");
    let ports = host::open_ports(scratch, host::clock_for(Some(signed_on))).expect("scratch");
    put_creditor(&ports, n).await;
    let creditor = ports
        .creditors
        .get_creditor(&CreditorId::parse("acme").expect("an id"))
        .await
        .expect("the creditor")
        .expect("a stored creditor");
    let (plan, _) = sign_one_plan(&ports, &links()).await;

    let collection_day = daily::collection_day(plan.instalments[0].due_date, creditor.lead_days);
    let ports = host::open_ports(scratch, host::clock_for(Some(collection_day))).expect("scratch");
    let report = daily::run_daily(&ports, &links())
        .await
        .expect("the daily job");
    assert_eq!(report.collections_created, 1, "{report:?}");
    assert_eq!(report.batches_written.len(), 1, "{report:?}");

    let plan = ports
        .plans
        .get_plan(&plan.id)
        .await
        .expect("the plan")
        .expect("a stored plan");
    let mandate_id = MandateId(plan.mandate_id.clone().expect("a mandate"));
    let mandate = ports
        .mandates
        .get_mandate(&mandate_id)
        .await
        .expect("the mandate")
        .expect("a stored mandate");
    let batch = ports
        .collections
        .get_batch(&report.batches_written[0])
        .await
        .expect("the batch")
        .expect("a stored batch");
    let collection = ports
        .collections
        .collections_of_batch(&batch.id, None, 10)
        .await
        .expect("the batch's collections")
        .items
        .remove(0);
    assert_eq!(collection.status, CollectionStatus::Batched);
    let events = |id: String| {
        let ports = ports.clone();
        async move { ports.events.list_events(&id).await.expect("events") }
    };
    Template {
        reference_prefix: creditor.mandate_reference_prefix.clone(),
        collection_day,
        plan_events: events(plan.id.0.clone()).await,
        mandate_events: events(mandate.id.0.clone()).await,
        collection_events: events(collection.id.clone()).await,
        plan,
        mandate,
        collection,
        batch,
    }
}

/// A copy of the template's plan, mandate and collection with fresh ids, mandate reference,
/// download link and EndToEndId, the signed document's hash recomputed and every event chain
/// rebuilt for the new ids: rows as signing and the daily job would have left them.
fn clone_collection(template: &Template, reference_prefix: &str) -> (Reported, Vec<Write>) {
    let Template {
        plan,
        mandate,
        collection,
        ..
    } = template;
    let ids = CopyIds::fresh(reference_prefix);
    let collection_id =
        Collection::id_for(&PlanId(ids.plan_id.clone()), collection.instalment_seq, 1);
    let end_to_end_id = format!("TR{}", secrets::random_reference(24));
    let copy = clone_signed(
        &ids,
        plan,
        mandate,
        &template.plan_events,
        &template.mandate_events,
        &[
            (collection.id.clone(), collection_id.clone()),
            (collection.end_to_end_id.clone(), end_to_end_id.clone()),
        ],
    );
    let collection_events = rechain(&template.collection_events, &collection_id, &copy.renames);

    let mut copy_collection = collection.clone();
    copy_collection.id = collection_id;
    copy_collection.plan_id = copy.plan.id.clone();
    copy_collection.mandate_id = copy.mandate.id.clone();
    copy_collection.end_to_end_id = end_to_end_id.clone();
    copy_collection.mandate_reference = ids.reference.clone();
    copy_collection.remittance = collection.remittance.replace(&plan.id.0, &ids.plan_id);
    copy_collection.event_head = collection_events.last().map(Event::head);

    let reported = Reported {
        end_to_end_id,
        amount: copy_collection.amount.to_string(),
        reason: "AM04".to_owned(),
        date: copy_collection.collection_date,
        mandate_reference: ids.reference,
    };
    let mut writes = vec![
        Write::InsertPlan(copy.plan),
        Write::InsertMandate(copy.mandate),
        Write::InsertCollection(copy_collection),
    ];
    writes.extend(
        copy.events
            .into_iter()
            .chain(collection_events)
            .map(Write::AppendEvent),
    );
    (reported, writes)
}
