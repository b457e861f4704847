//! How fast, and in how much memory, a pain.008.001.08 of 10 000, 100 000 and 1 000 000
//! collections is written: by our streaming writer, by the `sepa` crate's builder and by
//! python-sepaxml, side by side.
//!
//! Run it with `cargo bench -p tranche-domain --bench pain008`. Each case runs in a child
//! process of its own (this binary again with `--case IMPLEMENTATION COUNT FILE`, or Python),
//! so the peak memory reported is that child's maximum resident set size, read with `wait4`.
//! Throughput is measured inside the child, from the first collection built to the file
//! flushed, so process start-up is left out; the Rust cases run three times and the fastest
//! run counts, since other work on the machine only ever slows a run down. Files go to a temporary folder through a
//! `BufWriter` and are deleted after each case.
//!
//! python-sepaxml is installed with pip into `target/bench-venv` when it is not there yet; if
//! that fails its cases are reported as skipped. The 1M case of the `sepa` crate or of Python
//! is skipped, with the reason, when the 100k case predicts more than 3 minutes or 4 GiB.
//! `PAIN008_BENCH_SIZES=10000,100000` limits the sizes. The targets reported against: at least
//! 3x the `sepa` crate's throughput, and under 32 MB peak memory at 1M for ours.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use chrono::NaiveDate;
use tranche_domain::creditor::PostalAddress;
use tranche_domain::identifiers::{Bic, CreditorIdentifier, Iban};
use tranche_domain::money::Amount;
use tranche_domain::pain008::{
    CreditorParty, DirectDebitTransaction, GroupHeader, Pain008Version, Pain008Writer,
    PaymentInformation, SequenceType,
};
use tranche_domain::plan::Scheme;

const SIZES: [u64; 3] = [10_000, 100_000, 1_000_000];
const TIME_LIMIT_SECONDS: f64 = 180.0;
const MEMORY_LIMIT_BYTES: u64 = 4 * 1024 * 1024 * 1024;
const OUR_MEMORY_TARGET_BYTES: u64 = 32_000_000;
const THROUGHPUT_TARGET: f64 = 3.0;
const SEPAXML_VERSION: &str = "2.7.0";
/// Runs per Rust case (and per baseline): the fastest counts. Python runs once, for time.
const RUST_RUNS: usize = 3;

/// The debtor accounts the collections cycle through (all valid, from several countries).
const IBANS: [&str; 8] = [
    "NL91ABNA0417164300",
    "DE02120300000000202051",
    "DE02100100100006820101",
    "FR1420041010050500013M02606",
    "AT611904300234573201",
    "BE68539007547034",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
];

/// The collections of every case, the same in the Python script: a tenth FRST, the rest RCUR;
/// every other debtor with a BIC; names and remittance text with umlauts to convert.
fn amount_cents(index: u64) -> i64 {
    1_000 + ((index * 7_919) % 100_000) as i64
}

fn debtor_name(index: u64) -> String {
    format!("Jürgen Müller-Lüdenscheidt {index}")
}

fn remittance(index: u64) -> String {
    format!(
        "Rate {} von 12, Plan {index:08}, Rechnung für März",
        index % 12 + 1
    )
}

fn end_to_end_id(index: u64) -> String {
    format!("E2E-{index:08}")
}

fn mandate_reference(index: u64) -> String {
    format!("TR-MANDATE-{index:08}")
}

const CREDITOR_NAME: &str = "Stadtwerke Müller & Söhne GmbH";
const CREDITOR_IBAN: &str = "DE89370400440532013000";
const CREDITOR_BIC: &str = "DEUTDEFF";
const CREDITOR_IDENTIFIER: &str = "DE98ZZZ09999999999";
const DEBTOR_BIC: &str = "COBADEFFXXX";

fn collection_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 7, 20).expect("a valid date")
}

fn signed_on() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 15).expect("a valid date")
}

/// The two blocks: FRST for the first tenth, RCUR for the rest.
fn blocks(count: u64) -> [(SequenceType, std::ops::Range<u64>); 2] {
    let first = count / 10;
    [
        (SequenceType::First, 0..first),
        (SequenceType::Recurrent, first..count),
    ]
}

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    if let Some(position) = arguments.iter().position(|a| a == "--case") {
        let case = &arguments[position + 1..];
        let (implementation, count, file) = (&case[0], &case[1], &case[2]);
        let count: u64 = count.parse().expect("a count");
        let started = Instant::now();
        let written = match implementation.as_str() {
            "ours" => write_ours(count, Path::new(file)),
            "sepa" => write_sepa_crate(count, Path::new(file)),
            "baseline" => build_only(count),
            other => panic!("unknown implementation {other}"),
        };
        let elapsed = started.elapsed().as_secs_f64();
        let bytes = written.expect("the file is written");
        println!("elapsed_seconds={elapsed:.6} bytes={bytes}");
        return;
    }
    run_all();
}

/// The baseline: the same collections built and dropped, nothing written. Its time is what
/// every case spends before its writer sees a collection.
fn build_only(count: u64) -> std::io::Result<u64> {
    let ibans: Vec<Iban> = IBANS
        .iter()
        .map(|t| Iban::parse(t).expect("valid"))
        .collect();
    let debtor_bic = Bic::parse(DEBTOR_BIC).expect("valid");
    let mut checksum = 0u64;
    for i in 0..count {
        let transaction = DirectDebitTransaction {
            end_to_end_id: end_to_end_id(i),
            amount: Amount::from_cents(amount_cents(i)).expect("positive"),
            mandate_reference: mandate_reference(i),
            mandate_signed_on: signed_on(),
            amendment: None,
            debtor_name: debtor_name(i),
            debtor_address: None,
            debtor_iban: ibans[(i % 8) as usize].clone(),
            debtor_bic: (i % 2 == 0).then(|| debtor_bic.clone()),
            remittance: remittance(i),
        };
        checksum += std::hint::black_box(&transaction).remittance.len() as u64;
    }
    std::hint::black_box(checksum);
    Ok(0)
}

/// Our writer: one collection built and written at a time.
fn write_ours(count: u64, path: &Path) -> std::io::Result<u64> {
    let ibans: Vec<Iban> = IBANS
        .iter()
        .map(|t| Iban::parse(t).expect("valid"))
        .collect();
    let debtor_bic = Bic::parse(DEBTOR_BIC).expect("valid");
    let creditor = CreditorParty {
        name: CREDITOR_NAME.to_owned(),
        address: Some(PostalAddress {
            street: "Hauptstraße".to_owned(),
            building: Some("12".to_owned()),
            postcode: "10115".to_owned(),
            town: "Berlin".to_owned(),
            country: "DE".to_owned(),
        }),
        iban: Iban::parse(CREDITOR_IBAN).expect("valid"),
        bic: Some(Bic::parse(CREDITOR_BIC).expect("valid")),
        creditor_identifier: CreditorIdentifier::parse(CREDITOR_IDENTIFIER).expect("valid"),
    };
    let header = GroupHeader {
        message_id: "BENCH-MSG-1".to_owned(),
        created_at: chrono::Utc::now(),
        initiating_party: CREDITOR_NAME.to_owned(),
        number_of_transactions: count,
        control_sum_cents: (0..count).map(amount_cents).sum(),
    };
    let file = BufWriter::new(File::create(path)?);
    let mut writer =
        Pain008Writer::start(file, Pain008Version::V08, &header).map_err(std::io::Error::other)?;
    for (index, (sequence_type, range)) in blocks(count).into_iter().enumerate() {
        if range.is_empty() {
            continue;
        }
        let info = PaymentInformation {
            payment_information_id: format!("BENCH-PMT-{index}"),
            scheme: Scheme::Core,
            sequence_type,
            collection_date: collection_date(),
            creditor: creditor.clone(),
            number_of_transactions: range.end - range.start,
            control_sum_cents: range.clone().map(amount_cents).sum(),
        };
        writer
            .start_payment_information(&info)
            .map_err(std::io::Error::other)?;
        for i in range {
            let transaction = DirectDebitTransaction {
                end_to_end_id: end_to_end_id(i),
                amount: Amount::from_cents(amount_cents(i)).expect("positive"),
                mandate_reference: mandate_reference(i),
                mandate_signed_on: signed_on(),
                amendment: None,
                debtor_name: debtor_name(i),
                debtor_address: None,
                debtor_iban: ibans[(i % 8) as usize].clone(),
                debtor_bic: (i % 2 == 0).then(|| debtor_bic.clone()),
                remittance: remittance(i),
            };
            writer
                .write_transaction(&transaction)
                .map_err(std::io::Error::other)?;
        }
        writer
            .end_payment_information()
            .map_err(std::io::Error::other)?;
    }
    let file = writer.finish().map_err(std::io::Error::other)?;
    let file = file.into_inner().map_err(|e| e.into_error())?;
    Ok(file.metadata()?.len())
}

/// The `sepa` crate: every collection built into its builder, then written with `write_to`.
fn write_sepa_crate(count: u64, path: &Path) -> std::io::Result<u64> {
    let date = |d: NaiveDate| -> sepa::IsoDate { d.to_string().parse().expect("valid") };
    let ibans: Vec<sepa::Iban> = IBANS
        .iter()
        .map(|t| sepa::validate_iban(t).expect("valid"))
        .collect();
    let debtor_bic = sepa::validate_bic(DEBTOR_BIC).expect("valid");
    let creditor_iban = sepa::validate_iban(CREDITOR_IBAN).expect("valid");
    let creditor_identifier = sepa::validate_creditor_id(CREDITOR_IDENTIFIER).expect("valid");
    let creditor_address = sepa::PostalAddress::new("Berlin", "DE")
        .expect("valid")
        .street("Hauptstraße")
        .building_number("12")
        .post_code("10115");
    let mut builder = sepa::Pain008Builder::new(CREDITOR_NAME, "BENCH-MSG-1");
    for (index, (sequence_type, range)) in blocks(count).into_iter().enumerate() {
        if range.is_empty() {
            continue;
        }
        let group = sepa::DirectDebitGroup::new(
            CREDITOR_NAME,
            &creditor_iban,
            &creditor_identifier,
            date(collection_date()),
        )
        .payment_info_id(format!("BENCH-PMT-{index}"))
        .sequence_type(match sequence_type {
            SequenceType::First => sepa::SequenceType::Frst,
            _ => sepa::SequenceType::Rcur,
        })
        .creditor_bic(sepa::validate_bic(CREDITOR_BIC).expect("valid"))
        .creditor_address(creditor_address.clone())
        .add_entries(range.map(|i| {
            let entry = sepa::DirectDebitEntry::new(
                mandate_reference(i),
                date(signed_on()),
                debtor_name(i),
                ibans[(i % 8) as usize].clone(),
                amount_cents(i),
                end_to_end_id(i),
            )
            .with_description(remittance(i));
            if i % 2 == 0 {
                entry.with_bic(debtor_bic.clone())
            } else {
                entry
            }
        }));
        builder = builder.add_group(group);
    }
    let mut file = BufWriter::new(File::create(path)?);
    builder.write_to(&mut file).map_err(std::io::Error::other)?;
    file.flush()?;
    let file = file.into_inner().map_err(|e| e.into_error())?;
    Ok(file.metadata()?.len())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Implementation {
    Ours,
    SepaCrate,
    Python,
}

impl Implementation {
    const ALL: [Implementation; 3] = [
        Implementation::Ours,
        Implementation::SepaCrate,
        Implementation::Python,
    ];

    fn label(self) -> &'static str {
        match self {
            Implementation::Ours => "tranche Pain008Writer",
            Implementation::SepaCrate => "sepa 0.9.0 Pain008Builder",
            Implementation::Python => "python-sepaxml 2.7.0",
        }
    }
}

/// What one case measured.
#[derive(Debug, Clone, Copy)]
struct Measurement {
    seconds: f64,
    peak_rss_bytes: u64,
    file_bytes: u64,
}

impl Measurement {
    fn throughput(&self, count: u64) -> f64 {
        count as f64 / self.seconds
    }
}

enum Outcome {
    Measured(Measurement),
    Skipped(String),
}

fn run_all() {
    let sizes: Vec<u64> = match std::env::var("PAIN008_BENCH_SIZES") {
        Ok(text) => text
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("PAIN008_BENCH_SIZES is a list of counts")
            })
            .collect(),
        Err(_) => SIZES.to_vec(),
    };
    let folder = tempfile::tempdir().expect("a temporary folder");
    let python = python_with_sepaxml();
    println!(
        "pain.008.001.08, FRST (a tenth) and RCUR collections per file; Rust cases best of \
         {RUST_RUNS} runs, Python one run; files in {}",
        folder.path().display()
    );
    if let Err(reason) = &python {
        println!("python-sepaxml cases skipped: {reason}");
    }
    println!();
    println!(
        "{:>12}  {:<26} {:>9} {:>14} {:>12} {:>12}",
        "collections", "implementation", "seconds", "collections/s", "peak RSS", "file"
    );

    let mut results: Vec<(u64, Implementation, Outcome)> = Vec::new();
    let mut baselines: Vec<(u64, Measurement)> = Vec::new();
    for &count in &sizes {
        let baseline = best_of(RUST_RUNS, || {
            let exe = std::env::current_exe().expect("the bench binary");
            let mut command = Command::new(exe);
            command
                .args(["--case", "baseline"])
                .arg(count.to_string())
                .arg("-");
            run_measured(command)
        });
        if let Ok(baseline) = baseline {
            baselines.push((count, baseline));
        }
        for implementation in Implementation::ALL {
            let outcome = match predicted_to_exceed_limits(&results, implementation, count) {
                Some(reason) => Outcome::Skipped(reason),
                None => {
                    let file = folder
                        .path()
                        .join(format!("{implementation:?}-{count}.xml"));
                    let outcome = match (&python, implementation) {
                        (Err(reason), Implementation::Python) => {
                            Outcome::Skipped(format!("python-sepaxml unavailable: {reason}"))
                        }
                        (Ok(python), Implementation::Python) => {
                            let mut command = Command::new(python);
                            command
                                .arg(concat!(
                                    env!("CARGO_MANIFEST_DIR"),
                                    "/benches/pain008_sepaxml.py"
                                ))
                                .arg(count.to_string())
                                .arg(&file);
                            measured(run_measured(command))
                        }
                        (_, rust) => {
                            let case = if rust == Implementation::Ours {
                                "ours"
                            } else {
                                "sepa"
                            };
                            measured(best_of(RUST_RUNS, || {
                                // The file of the run before is deleted here, outside the
                                // timing: truncating it inside would count its blocks' release.
                                let _ = std::fs::remove_file(&file);
                                let exe = std::env::current_exe().expect("the bench binary");
                                let mut command = Command::new(exe);
                                command
                                    .args(["--case", case])
                                    .arg(count.to_string())
                                    .arg(&file);
                                run_measured(command)
                            }))
                        }
                    };
                    let _ = std::fs::remove_file(&file);
                    outcome
                }
            };
            print_row(count, implementation, &outcome);
            results.push((count, implementation, outcome));
        }
    }

    println!();
    for &count in &sizes {
        let ours = find(&results, count, Implementation::Ours);
        let sepa = find(&results, count, Implementation::SepaCrate);
        let python = find(&results, count, Implementation::Python);
        if let Some(ours) = ours {
            let mut line = format!("{:>9}: ours", grouped(count));
            if let Some(sepa) = sepa {
                let ratio = ours.throughput(count) / sepa.throughput(count);
                line += &format!(
                    " {ratio:.1}x the sepa crate's throughput (target {THROUGHPUT_TARGET}x: {}), \
                     {:.1}x less memory;",
                    if ratio >= THROUGHPUT_TARGET {
                        "met"
                    } else {
                        "missed"
                    },
                    sepa.peak_rss_bytes as f64 / ours.peak_rss_bytes as f64
                );
            }
            if let Some(python) = python {
                line += &format!(
                    " {:.1}x python-sepaxml's throughput, {:.1}x less memory",
                    ours.throughput(count) / python.throughput(count),
                    python.peak_rss_bytes as f64 / ours.peak_rss_bytes as f64
                );
            }
            println!("{line}");
        }
    }
    println!();
    println!(
        "Every case first builds its collections (format! of ids, names and remittance, IBAN and \
         BIC clones); building them alone, for the writers' own share:"
    );
    for (count, baseline) in &baselines {
        let own = |m: Measurement| *count as f64 / (m.seconds - baseline.seconds).max(1e-9);
        let mut line = format!(
            "{:>9}: building {:.3} s;",
            grouped(*count),
            baseline.seconds
        );
        if let (Some(ours), Some(sepa)) = (
            find(&results, *count, Implementation::Ours),
            find(&results, *count, Implementation::SepaCrate),
        ) {
            line += &format!(
                " writing only: ours {} collections/s, the sepa crate {} collections/s ({:.1}x)",
                grouped(own(ours) as u64),
                grouped(own(sepa) as u64),
                own(ours) / own(sepa)
            );
        }
        println!("{line}");
    }
    if let Some(ours) = find(&results, 1_000_000, Implementation::Ours) {
        println!(
            "peak memory of ours at 1M: {} (target under {}: {})",
            megabytes(ours.peak_rss_bytes),
            megabytes(OUR_MEMORY_TARGET_BYTES),
            if ours.peak_rss_bytes < OUR_MEMORY_TARGET_BYTES {
                "met"
            } else {
                "missed"
            }
        );
    }
}

/// The fastest of `runs` runs (the least disturbed by whatever else the machine does), with
/// the largest peak memory seen.
fn best_of(
    runs: usize,
    mut run: impl FnMut() -> Result<Measurement, String>,
) -> Result<Measurement, String> {
    let mut best: Option<Measurement> = None;
    for _ in 0..runs {
        let measurement = run()?;
        best = Some(match best {
            None => measurement,
            Some(best) => Measurement {
                seconds: best.seconds.min(measurement.seconds),
                peak_rss_bytes: best.peak_rss_bytes.max(measurement.peak_rss_bytes),
                file_bytes: measurement.file_bytes,
            },
        });
    }
    best.ok_or_else(|| "no run".to_owned())
}

fn measured(result: Result<Measurement, String>) -> Outcome {
    match result {
        Ok(measurement) => Outcome::Measured(measurement),
        Err(reason) => Outcome::Skipped(format!("failed: {reason}")),
    }
}

fn find(
    results: &[(u64, Implementation, Outcome)],
    count: u64,
    implementation: Implementation,
) -> Option<Measurement> {
    results.iter().find_map(|(c, i, outcome)| match outcome {
        Outcome::Measured(m) if *c == count && *i == implementation => Some(*m),
        _ => None,
    })
}

/// Why a case of the `sepa` crate or Python would exceed 3 minutes or 4 GiB, extrapolated
/// linearly from the largest smaller case measured; `None` to run it.
fn predicted_to_exceed_limits(
    results: &[(u64, Implementation, Outcome)],
    implementation: Implementation,
    count: u64,
) -> Option<String> {
    if implementation == Implementation::Ours {
        return None;
    }
    let (measured_count, measurement) = results
        .iter()
        .filter_map(|(c, i, outcome)| match outcome {
            Outcome::Measured(m) if *i == implementation && *c < count => Some((*c, *m)),
            _ => None,
        })
        .max_by_key(|(c, _)| *c)?;
    let factor = count as f64 / measured_count as f64;
    let seconds = measurement.seconds * factor;
    let memory = measurement.peak_rss_bytes as f64 * factor;
    (seconds > TIME_LIMIT_SECONDS || memory > MEMORY_LIMIT_BYTES as f64).then(|| {
        format!(
            "skipped: the {} case took {:.1} s and {}, so {} would need about {:.0} s and {} \
             (limits: {:.0} s, {})",
            grouped(measured_count),
            measurement.seconds,
            megabytes(measurement.peak_rss_bytes),
            grouped(count),
            seconds,
            megabytes(memory as u64),
            TIME_LIMIT_SECONDS,
            megabytes(MEMORY_LIMIT_BYTES)
        )
    })
}

/// Runs one case in a child process and reads its own timing from its output and its peak
/// memory from `wait4`.
fn run_measured(mut command: Command) -> Result<Measurement, String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("could not start: {e}"))?;
    let mut output = String::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut output)
        .map_err(|e| format!("could not read its output: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (std has not waited on it), and both
    // pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if reaped != pid {
        return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("exited with status {status}; output: {output}"));
    }
    let field = |name: &str| -> Result<f64, String> {
        output
            .split_whitespace()
            .find_map(|part| part.strip_prefix(name))
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("no {name} in its output: {output}"))
    };
    Ok(Measurement {
        seconds: field("elapsed_seconds=")?,
        // Linux reports ru_maxrss in kilobytes.
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
        file_bytes: field("bytes=")? as u64,
    })
}

/// The Python of `target/bench-venv`, with sepaxml installed into it by pip when missing.
fn python_with_sepaxml() -> Result<PathBuf, String> {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .ancestors()
            .nth(3)
            .ok_or("the bench binary is not under target/")?
            .to_path_buf(),
    };
    let venv = target.join("bench-venv");
    let python = venv.join("bin/python");
    let has_sepaxml = |python: &Path| {
        Command::new(python)
            .args(["-c", "import sepaxml"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if python.is_file() && has_sepaxml(&python) {
        return Ok(python);
    }
    println!(
        "installing python-sepaxml {SEPAXML_VERSION} into {}",
        venv.display()
    );
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("python3 could not be run: {e}"))?;
    if !created.success() {
        return Err("python3 -m venv failed".to_owned());
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", &format!("sepaxml=={SEPAXML_VERSION}")])
        .status()
        .map_err(|e| format!("pip could not be run: {e}"))?;
    if !installed.success() || !has_sepaxml(&python) {
        return Err(format!("pip install sepaxml=={SEPAXML_VERSION} failed"));
    }
    Ok(python)
}

fn print_row(count: u64, implementation: Implementation, outcome: &Outcome) {
    match outcome {
        Outcome::Measured(m) => println!(
            "{:>12}  {:<26} {:>9.3} {:>14} {:>12} {:>12}",
            grouped(count),
            implementation.label(),
            m.seconds,
            grouped(m.throughput(count) as u64),
            megabytes(m.peak_rss_bytes),
            megabytes(m.file_bytes)
        ),
        Outcome::Skipped(reason) => println!(
            "{:>12}  {:<26} {reason}",
            grouped(count),
            implementation.label()
        ),
    }
    let _ = std::io::stdout().flush();
}

/// `1234567` as `1,234,567`.
fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}
