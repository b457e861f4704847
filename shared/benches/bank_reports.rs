//! How fast, and in how much memory, the bank report readers go through large files: a
//! camt.054.001.08 with 100 000 returns (batch-booked entries of 20 and single entries mixed,
//! among credit entries that give nothing) and a pain.002.001.10 with 100 000 transaction
//! rejects.
//!
//! Run it with `cargo bench -p tranche-domain --bench bank_reports`. The files are generated
//! into a temporary folder first. Each case runs in a child process of its own (this binary
//! again with `--case MODE FILE`), so the peak memory reported is that child's maximum resident
//! set size, read with `wait4`; an idle child is measured too, as the floor. Time is measured
//! inside the child around the read alone: `read_report` on the file already in memory (its
//! bytes count in the peak), and `read_report_path`, which streams the file from disk.
//! `BANK_REPORTS_BENCH_COUNT=10000` changes the number of items; `BANK_REPORTS_BENCH_DIR=folder`
//! writes the files there and keeps them.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use tranche_domain::bank_reports::{ReadLimits, read_report, read_report_path};

const DEFAULT_COUNT: u64 = 100_000;

/// Returns per batch-booked entry.
const BATCH_SIZE: u64 = 20;

const REASONS: [&str; 6] = ["AM04", "AC04", "MD06", "MS03", "MD01", "AC01"];

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    if let Some(position) = arguments.iter().position(|a| a == "--case") {
        let (mode, file) = (&arguments[position + 1], &arguments[position + 2]);
        run_case(mode, Path::new(file));
        return;
    }
    run_all();
}

/// One measured read, in this (child) process; prints what it found for the parent.
fn run_case(mode: &str, file: &Path) {
    let limits = ReadLimits {
        max_bytes: 1 << 30,
        ..ReadLimits::default()
    };
    let mut items: u64 = 0;
    let mut count = |_| items += 1;
    let (elapsed, bytes) = match mode {
        "idle" => (0.0, 0),
        "memory" => {
            let bytes = std::fs::read(file).expect("the file is readable");
            let started = Instant::now();
            read_report(&bytes, limits, &mut count).expect("the report is read");
            (started.elapsed().as_secs_f64(), bytes.len() as u64)
        }
        "streamed" => {
            let started = Instant::now();
            read_report_path(file, limits, &mut count).expect("the report is read");
            let elapsed = started.elapsed().as_secs_f64();
            (elapsed, std::fs::metadata(file).expect("metadata").len())
        }
        other => panic!("unknown mode {other}"),
    };
    println!("elapsed_seconds={elapsed:.6} items={items} bytes={bytes}");
}

fn run_all() {
    let count: u64 = std::env::var("BANK_REPORTS_BENCH_COUNT")
        .ok()
        .map(|text| {
            text.trim()
                .parse()
                .expect("BANK_REPORTS_BENCH_COUNT is a number")
        })
        .unwrap_or(DEFAULT_COUNT);
    let temporary = tempfile::tempdir().expect("a temporary folder");
    let folder = match std::env::var_os("BANK_REPORTS_BENCH_DIR") {
        Some(folder) => PathBuf::from(folder),
        None => temporary.path().to_owned(),
    };
    let camt = folder.join("camt054.xml");
    let pain = folder.join("pain002.xml");
    let started = Instant::now();
    write_camt054(count, &camt).expect("the camt.054 is written");
    write_pain002(count, &pain).expect("the pain.002 is written");
    println!(
        "{} items per file, generated in {:.1} s into {}",
        grouped(count),
        started.elapsed().as_secs_f64(),
        folder.display()
    );
    println!();
    println!(
        "{:<44} {:>9} {:>9} {:>10} {:>12} {:>10} {:>11}",
        "case", "file", "items", "seconds", "items/s", "MB/s", "peak RSS"
    );
    let idle = measure("idle", &camt).expect("the idle child runs");
    print_row("idle child (floor)", &idle);
    for (label, file) in [
        (
            format!("camt.054.001.08, {} returns", grouped(count)),
            &camt,
        ),
        (
            format!("pain.002.001.10, {} rejects", grouped(count)),
            &pain,
        ),
    ] {
        for mode in ["memory", "streamed"] {
            let case = format!("{label}, {mode}");
            match measure(mode, file) {
                Ok(measurement) => {
                    assert_eq!(measurement.items, count, "{case}: every item is read");
                    print_row(&case, &measurement);
                }
                Err(reason) => println!("{case:<44} failed: {reason}"),
            }
        }
    }
}

/// What one case measured.
#[derive(Debug, Clone, Copy)]
struct Measurement {
    seconds: f64,
    items: u64,
    file_bytes: u64,
    peak_rss_bytes: u64,
}

/// Runs one case in a child process and reads its timing from its output and its peak memory
/// from `wait4`.
fn measure(mode: &str, file: &Path) -> Result<Measurement, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("--case")
        .arg(mode)
        .arg(file)
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
        items: field("items=")? as u64,
        file_bytes: field("bytes=")? as u64,
        // Linux reports ru_maxrss in kilobytes.
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
    })
}

fn print_row(case: &str, m: &Measurement) {
    let rate = |per_second: f64| {
        if m.seconds > 0.0 {
            per_second / m.seconds
        } else {
            0.0
        }
    };
    println!(
        "{:<44} {:>9} {:>9} {:>10.3} {:>12} {:>10.0} {:>11}",
        case,
        megabytes(m.file_bytes),
        grouped(m.items),
        m.seconds,
        grouped(rate(m.items as f64) as u64),
        rate(m.file_bytes as f64 / 1_000_000.0),
        megabytes(m.peak_rss_bytes)
    );
    let _ = std::io::stdout().flush();
}

/// A camt.054.001.08 notification with `count` returns: batch-booked entries of
/// [`BATCH_SIZE`] for three fifths of them, single entries for the rest, and a credit entry
/// (the collections) before every batch.
fn write_camt054(count: u64, path: &Path) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn>"#
    )?;
    writeln!(
        out,
        "<GrpHdr><MsgId>BENCH-C54-1</MsgId><CreDtTm>2026-07-24T06:00:00+02:00</CreDtTm></GrpHdr>"
    )?;
    writeln!(
        out,
        "<Ntfctn><Id>BENCH-C54-1-1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>"
    )?;
    let batched = count / 5 * 3 / BATCH_SIZE * BATCH_SIZE;
    let mut next = 0;
    while next < count {
        let size = if next < batched { BATCH_SIZE } else { 1 };
        let total: u64 = (next..next + size).map(amount_cents).sum();
        if size > 1 {
            writeln!(
                out,
                "<Ntry><Amt Ccy=\"EUR\">{}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
                 <BookgDt><Dt>2026-07-20</Dt></BookgDt><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>IDDT</Cd>\
                 <SubFmlyCd>ESDD</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><Btch>\
                 <PmtInfId>BENCH-PMT-{next}</PmtInfId><NbOfTxs>{size}</NbOfTxs></Btch></NtryDtls></Ntry>",
                euro(total * 3)
            )?;
        }
        write!(
            out,
            "<Ntry><Amt Ccy=\"EUR\">{}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
             <BookgDt><Dt>2026-07-24</Dt></BookgDt><ValDt><Dt>2026-07-20</Dt></ValDt>\
             <AcctSvcrRef>BENCH-RT-{next}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>IDDT</Cd>\
             <SubFmlyCd>UPDD</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls>",
            euro(total)
        )?;
        if size > 1 {
            write!(
                out,
                "<Btch><MsgId>BENCH-MSG-1</MsgId><PmtInfId>BENCH-PMT-{next}</PmtInfId>\
                 <NbOfTxs>{size}</NbOfTxs></Btch>"
            )?;
        }
        for index in next..next + size {
            writeln!(
                out,
                "\n<TxDtls><Refs><EndToEndId>BENCH-E2E-{index:08}</EndToEndId>\
                 <MndtId>BENCH-MANDATE-{index:08}</MndtId></Refs>\
                 <Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>DBIT</CdtDbtInd>\
                 <AmtDtls><InstdAmt><Amt Ccy=\"EUR\">{amount}</Amt></InstdAmt></AmtDtls>\
                 <RltdPties><Dbtr><Pty><Nm>Juergen Mueller-Luedenscheidt {index}</Nm></Pty></Dbtr>\
                 <DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct>\
                 <Cdtr><Pty><Nm>Stadtwerke Musterstadt GmbH</Nm><Id><PrvtId><Othr>\
                 <Id>DE98ZZZ09999999999</Id><SchmeNm><Prtry>SEPA</Prtry></SchmeNm></Othr></PrvtId>\
                 </Id></Pty></Cdtr></RltdPties>\
                 <RmtInf><Ustrd>Rate {rate} von 12, Plan {index:08}</Ustrd></RmtInf>\
                 <RltdDts><IntrBkSttlmDt>2026-07-20</IntrBkSttlmDt></RltdDts>\
                 <RtrInf><Rsn><Cd>{reason}</Cd></Rsn><AddtlInf>Rueckgabe {reason}</AddtlInf></RtrInf>\
                 </TxDtls>",
                amount = euro(amount_cents(index)),
                rate = index % 12 + 1,
                reason = REASONS[(index % REASONS.len() as u64) as usize],
            )?;
        }
        writeln!(out, "</NtryDtls></Ntry>")?;
        next += size;
    }
    writeln!(out, "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>")?;
    out.flush()
}

/// A pain.002.001.10 rejecting `count` transactions, in batches of 10 000.
fn write_pain002(count: u64, path: &Path) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>"#
    )?;
    writeln!(
        out,
        "<GrpHdr><MsgId>BENCH-PSR-1</MsgId><CreDtTm>2026-07-21T07:00:00</CreDtTm></GrpHdr>\
         <OrgnlGrpInfAndSts><OrgnlMsgId>BENCH-MSG-1</OrgnlMsgId>\
         <OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>"
    )?;
    for (block, start) in (0..count).step_by(10_000).enumerate() {
        writeln!(
            out,
            "<OrgnlPmtInfAndSts><OrgnlPmtInfId>BENCH-PMT-{block}</OrgnlPmtInfId>\
             <PmtInfSts>PART</PmtInfSts><StsRsnInf><Rsn><Cd>MS03</Cd></Rsn></StsRsnInf>"
        )?;
        for index in start..(start + 10_000).min(count) {
            // Every fourth one inherits the batch's reason.
            let reason = if index.is_multiple_of(4) {
                String::new()
            } else {
                format!(
                    "<StsRsnInf><Rsn><Cd>{}</Cd></Rsn><AddtlInf>Abgelehnt</AddtlInf></StsRsnInf>",
                    REASONS[(index % REASONS.len() as u64) as usize]
                )
            };
            writeln!(
                out,
                "<TxInfAndSts><StsId>BENCH-STS-{index}</StsId>\
                 <OrgnlEndToEndId>BENCH-E2E-{index:08}</OrgnlEndToEndId><TxSts>RJCT</TxSts>{reason}\
                 <OrgnlTxRef><Amt><InstdAmt Ccy=\"EUR\">{}</InstdAmt></Amt>\
                 <ReqdColltnDt>2026-07-20</ReqdColltnDt>\
                 <MndtRltdInf><MndtId>BENCH-MANDATE-{index:08}</MndtId></MndtRltdInf>\
                 <Dbtr><Pty><Nm>Juergen Mueller-Luedenscheidt {index}</Nm></Pty></Dbtr>\
                 <DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct>\
                 </OrgnlTxRef></TxInfAndSts>",
                euro(amount_cents(index))
            )?;
        }
        writeln!(out, "</OrgnlPmtInfAndSts>")?;
    }
    writeln!(out, "</CstmrPmtStsRpt></Document>")?;
    out.flush()
}

fn amount_cents(index: u64) -> u64 {
    1_000 + (index * 7_919) % 100_000
}

fn euro(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
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
