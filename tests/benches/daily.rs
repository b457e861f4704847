//! Figures for the daily job on the embedded SQLite store, printed, with only the counts
//! asserted:
//!
//! - for 10 000, 30 000 and 100 000 active plans of one creditor, each plan monthly with 12
//!   instalments, every plan due on the same days (the worst case: every plan acts on the same
//!   morning) and every instalment pre-notified by the signing confirmation;
//! - the first collection day: the wall time of `daily::run_daily`, plans per second, the
//!   collections created, the pain.008 files written, and the peak memory (max RSS) and CPU
//!   time of the process that ran it (the CPU time is the steadier figure on a busy machine);
//! - the same day again, which must create nothing;
//! - the settlement day (the creditor's settlement window, 5 TARGET days after the collection
//!   date), on which every collection settles;
//! - how the cost per plan grows from the smallest to the largest size.
//!
//! The plans are set up once per size in a fresh data folder, and not measured: one plan is
//! created and signed through the use cases, then cloned with fresh ids, mandate references and
//! event chains, and inserted a thousand writes per commit. Each measured run is a child process
//! (this binary, re-executed), so its peak memory is its own; the parent reads it with `wait4`.
//!
//! Run with `cargo bench -p tranche-tests --bench daily`; `cargo bench -p tranche-local --bench
//! daily -- 5000 20000` runs other sizes instead.

/// The allocator of the `tranche` binary, so the figures are those of the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::{Value, json};
use tranche_domain::calendar::add_target_days;
use tranche_domain::daily;
use tranche_domain::plan::{InstalmentStatus, PlanStatus};
use tranche_domain::ports::Write;
use tranche_domain::use_cases;
use tranche_local::host;
use tranche_tests::bench::{
    ChildRun, CopyIds, RESULT_PREFIX, child_args, clone_signed, fixture, links, print_machine,
    run_child, sign_one_plan,
};

/// Plan counts measured when none are given on the command line.
const SIZES: [usize; 3] = [10_000, 30_000, 100_000];
/// Writes per transaction while the plans are set up.
const WRITES_PER_COMMIT: usize = 1_000;
/// The goal: the daily job for 100 000 active plans within this time.
const TARGET: Duration = Duration::from_secs(10);
const TARGET_PLANS: usize = 100_000;
/// The day the plans are created and signed on.
const SIGNED_ON: (i32, u32, u32) = (2027, 1, 4);

fn main() {
    if let Some(args) = child_args() {
        child(&args);
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        SIZES.to_vec()
    } else {
        sizes
    };

    print_machine();
    let mut firsts = Vec::new();
    for &n in &sizes {
        firsts.push((n, measure(n)));
    }
    summarise(&firsts);
}

/// Sets up `n` plans and runs the three days on them; answers the first day's run.
fn measure(n: usize) -> ChildRun {
    println!("\n== {n} active plans ==");
    let folder = tempfile::tempdir().expect("a temporary data folder");
    let data = folder.path().to_str().expect("a UTF-8 temporary path");

    let setup = run_child(&["setup", &n.to_string(), data]);
    let days = &setup.result;
    println!(
        "setup (not measured): {:.1} s, peak memory {} MiB; instalment 1 due {}, collection \
         day {}, settlement day {}",
        days["seconds"].as_f64().unwrap(),
        setup.max_rss_kib / 1024,
        days["due"].as_str().unwrap(),
        days["collection_day"].as_str().unwrap(),
        days["settlement_day"].as_str().unwrap(),
    );
    let collection_day = days["collection_day"].as_str().unwrap().to_owned();
    let settlement_day = days["settlement_day"].as_str().unwrap().to_owned();
    let files_expected = n.div_ceil(days["max_per_file"].as_u64().unwrap() as usize);

    let first = run_child(&["run", &collection_day, data]);
    let report = &first.result;
    assert_eq!(report["collections_created"], json!(n), "{report}");
    assert_eq!(report["batches_written"], json!(files_expected), "{report}");
    assert_eq!(report["batch_files"], json!(files_expected), "{report}");
    assert_eq!(report["problems"], json!([]), "{report}");
    let seconds = report["seconds"].as_f64().unwrap();
    println!(
        "first collection day: {seconds:.2} s, {:.0} plans per second, {:.0} µs per plan, \
         {} collections created, {} pain.008 files written ({} MiB), peak memory {} MiB, {}",
        n as f64 / seconds,
        seconds * 1e6 / n as f64,
        report["collections_created"],
        report["batches_written"],
        report["batch_bytes"].as_u64().unwrap() / (1024 * 1024),
        first.max_rss_kib / 1024,
        first.cpu(),
    );

    let again = run_child(&["run", &collection_day, data]);
    let report = &again.result;
    assert_eq!(report["collections_created"], json!(0), "{report}");
    assert_eq!(report["batches_written"], json!(0), "{report}");
    assert_eq!(report["batch_files"], json!(files_expected), "{report}");
    println!(
        "same day again: {:.2} s, {} collections created, {} files written, peak memory {} MiB, \
         {}",
        report["seconds"].as_f64().unwrap(),
        report["collections_created"],
        report["batches_written"],
        again.max_rss_kib / 1024,
        again.cpu(),
    );

    let settle = run_child(&["run", &settlement_day, data]);
    let report = &settle.result;
    assert_eq!(report["collections_settled"], json!(n), "{report}");
    assert_eq!(report["collections_created"], json!(0), "{report}");
    let seconds = report["seconds"].as_f64().unwrap();
    println!(
        "settlement day: {seconds:.2} s, {:.0} collections per second, {} settled, peak \
         memory {} MiB, {}",
        n as f64 / seconds,
        report["collections_settled"],
        settle.max_rss_kib / 1024,
        settle.cpu(),
    );
    first
}

/// How the first collection day's cost grows with the number of plans, and the target.
fn summarise(firsts: &[(usize, ChildRun)]) {
    println!("\n== first collection day, by size ==");
    let Some((smallest, base)) = firsts.first() else {
        return;
    };
    let per_plan = |n: usize, run: &ChildRun| run.result["seconds"].as_f64().unwrap() / n as f64;
    let base = per_plan(*smallest, base);
    for (n, run) in firsts {
        let cost = per_plan(*n, run);
        println!(
            "{n:>7} plans: {:>6.2} s, {:>5.0} µs per plan ({:.2}x the per-plan cost at {smallest}), \
             peak memory {} MiB, {}",
            run.result["seconds"].as_f64().unwrap(),
            cost * 1e6,
            cost / base,
            run.max_rss_kib / 1024,
            run.cpu(),
        );
    }
    if let Some((_, run)) = firsts.iter().find(|(n, _)| *n == TARGET_PLANS) {
        let seconds = run.result["seconds"].as_f64().unwrap();
        println!(
            "target: {TARGET_PLANS} plans within {} s: {} ({seconds:.2} s)",
            TARGET.as_secs(),
            if seconds <= TARGET.as_secs_f64() {
                "met"
            } else {
                "MISSED"
            }
        );
    }
}

/// The child's side: `setup <plans> <data>` or `run <day> <data>`.
fn child(args: &[String]) {
    let runtime = tokio::runtime::Runtime::new().expect("a Tokio runtime");
    let result = match args {
        [phase, n, data] if phase == "setup" => {
            runtime.block_on(set_up(Path::new(data), n.parse().expect("a plan count")))
        }
        [phase, day, data] if phase == "run" => {
            runtime.block_on(run_day(Path::new(data), day.parse().expect("a day")))
        }
        _ => panic!("unknown child arguments {args:?}"),
    };
    println!("{RESULT_PREFIX}{result}");
}

/// Runs the daily job for `day` on the data folder and answers its report.
async fn run_day(data: &Path, day: NaiveDate) -> Value {
    let ports = host::open_ports(data, host::clock_for(Some(day))).expect("the data folder");

    let started = Instant::now();
    let report = daily::run_daily(&ports, &links())
        .await
        .expect("the daily job");
    let seconds = started.elapsed().as_secs_f64();

    let files = ports
        .files
        .list_files("batches/")
        .await
        .expect("the batch files");
    let bytes: u64 = files
        .iter()
        .map(|key| std::fs::metadata(data.join("files").join(key)).map_or(0, |m| m.len()))
        .sum();
    json!({
        "seconds": seconds,
        "collections_created": report.collections_created,
        "collections_settled": report.collections_settled,
        "notices_sent": report.notices_sent,
        "batches_written": report.batches_written.len(),
        "batch_files": files.len(),
        "batch_bytes": bytes,
        "problems": report.problems,
    })
}

/// Stores the creditor and `n` signed plans; answers the days the measured runs are for.
async fn set_up(data: &Path, n: usize) -> Value {
    let started = Instant::now();
    let (year, month, day) = SIGNED_ON;
    let today = NaiveDate::from_ymd_opt(year, month, day).expect("a date");
    let ports = host::open_ports(data, host::clock_for(Some(today))).expect("the data folder");
    let links = links();

    let (creditor, _) = use_cases::put_creditor(&ports, "acme", &fixture("creditor-acme.json"))
        .await
        .expect("the creditor");
    let (plan, mandate) = sign_one_plan(&ports, &links).await;
    let plan_events = ports.events.list_events(&plan.id.0).await.expect("events");
    let mandate_events = ports
        .events
        .list_events(&mandate.id.0)
        .await
        .expect("events");

    // What every measured run relies on: an active plan, every instalment announced by the
    // signing, the work list pointing at the first collection day.
    let due = plan.instalments[0].due_date;
    let collection_day = daily::collection_day(due, creditor.lead_days);
    assert_eq!(plan.status, PlanStatus::Active);
    assert_eq!(plan.instalments.len(), 12);
    assert!(
        plan.instalments
            .iter()
            .all(|i| { i.status == InstalmentStatus::Notified && i.notified_on == Some(today) })
    );
    assert_eq!(plan.next_action_on, Some(collection_day));
    assert_eq!(
        daily::next_action_on(&plan, &creditor),
        Some(collection_day)
    );

    let mut writes = Vec::with_capacity(WRITES_PER_COMMIT + 8);
    for _ in 1..n {
        let ids = CopyIds::fresh(&creditor.mandate_reference_prefix);
        let copy = clone_signed(&ids, &plan, &mandate, &plan_events, &mandate_events, &[]);
        writes.push(Write::InsertPlan(copy.plan));
        writes.push(Write::InsertMandate(copy.mandate));
        writes.extend(copy.events.into_iter().map(Write::AppendEvent));
        if writes.len() >= WRITES_PER_COMMIT {
            ports.transactions.commit(&writes).await.expect("a commit");
            writes.clear();
        }
    }
    if !writes.is_empty() {
        ports.transactions.commit(&writes).await.expect("a commit");
    }

    json!({
        "seconds": started.elapsed().as_secs_f64(),
        "due": due,
        "collection_day": collection_day,
        "settlement_day": add_target_days(due, creditor.settlement_days),
        "max_per_file": creditor.max_transactions_per_file,
    })
}
