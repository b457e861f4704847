//! `tranche`: every Tranche function on one machine, with no cloud.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use tranche_local::demo::{self, DemoOptions};
use tranche_local::host::{self, ServeConfig};

#[derive(Debug, Parser)]
#[command(
    name = "tranche",
    version,
    about = "Repayment plans collected by SEPA Direct Debit, on one machine"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Common {
    /// The folder holding the database, the files S3 would hold and the e-mail outbox
    /// [default: .tranche; for demo, a new temporary folder]
    #[arg(long, global = true, env = "TRANCHE_DATA")]
    data: Option<PathBuf>,
    /// Pins the clock to this day (YYYY-MM-DD); the real date when absent (for demo: the
    /// story's first day, 2027-01-04 when absent).
    #[arg(long, global = true, value_parser = parse_day)]
    today: Option<NaiveDate>,
}

/// The data folder when `--data` is not given.
const DEFAULT_DATA: &str = ".tranche";

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the operator API (and, later, the signing pages) over HTTP.
    Serve {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080", env = "TRANCHE_ADDR")]
        addr: SocketAddr,
        /// Base of the links sent to debtors; http://<addr> when absent.
        #[arg(long, env = "TRANCHE_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Reads a bank file (pain.002, camt.054, camt.053, or a zip of one) and applies it: the
    /// local twin of a file dropped in the bank inbox.
    Returns {
        /// The bank file.
        file: PathBuf,
    },
    /// Runs the daily job once, as of today (or --today): settlement, pre-notifications,
    /// collections, pain.008 files, mandate expiry.
    Daily {
        /// Base of the links in e-mails to debtors.
        #[arg(long, env = "TRANCHE_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Tells the whole story on a fresh data folder, step by step: a creditor, three plans
    /// signed online, weeks of daily jobs, pain.008 files, a bank's rejects and their dunning.
    /// The data folder (which must be empty) is kept for exploring afterwards.
    Demo,
}

fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("\"{text}\" is not a date; write it as YYYY-MM-DD"))
}

/// mimalloc instead of glibc's malloc: see the workspace's Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo tells its own story on stdout; the host's routine log lines would drown it.
    let default_log = match cli.command {
        Command::Demo => "warn",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRANCHE_LOG")
                .unwrap_or_else(|_| default_log.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let data = || {
        cli.common
            .data
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA))
    };
    let result = match cli.command {
        Command::Serve { addr, public_url } => serve(ServeConfig {
            addr,
            data: data(),
            today: cli.common.today,
            public_url,
            api_key: std::env::var("TRANCHE_API_KEY").ok(),
            mail_from: std::env::var("TRANCHE_MAIL_FROM").ok(),
        })
        .await
        .map(|()| None),
        Command::Returns { file } => returns(&data(), &file, cli.common.today).await.map(Some),
        Command::Daily { public_url } => {
            daily(&data(), cli.common.today, public_url).await.map(Some)
        }
        Command::Demo => {
            return demo(DemoOptions {
                data: cli.common.data.clone(),
                first_day: cli.common.today.unwrap_or_else(demo::default_first_day),
                program: std::env::args()
                    .next()
                    .unwrap_or_else(|| "tranche".to_owned()),
            })
            .await;
        }
    };
    let result = match result {
        Ok(Some(code)) => return code,
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tranche: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: ServeConfig) -> Result<(), host::HostError> {
    let today = config.today;
    let listening = host::bind(config).await?;
    if let Some(key) = &listening.generated_api_key {
        println!(
            "No TRANCHE_API_KEY was set, so this run made one (shown once, stored hashed): {key}"
        );
    }
    println!("{}", listening.startup_line(today));
    listening
        .serve(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

/// Runs the daily job and prints what it did; exits 2 when something needs the operator.
async fn daily(
    data: &std::path::Path,
    today: Option<NaiveDate>,
    public_url: Option<String>,
) -> Result<ExitCode, host::HostError> {
    let report = host::run_daily(
        data,
        today,
        public_url,
        std::env::var("TRANCHE_MAIL_FROM").ok(),
    )
    .await?;
    let day = report.day.map(|d| d.to_string()).unwrap_or_default();
    println!(
        "{day}: {} pre-notifications, {} collections, {} batch files, {} settled, {} plans \
         completed, {} stopped, {} mandates expired, {} expiry warnings, {} tasks opened",
        report.notices_sent,
        report.collections_created,
        report.batches_written.len(),
        report.collections_settled,
        report.plans_completed,
        report.plans_stopped,
        report.mandates_expired,
        report.expiry_warnings,
        report.tasks_opened,
    );
    for batch in &report.batches_written {
        println!("  batch {batch}");
    }
    for problem in &report.problems {
        eprintln!("tranche daily: {problem}");
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Tells the whole story; a failure says where it stopped.
async fn demo(options: DemoOptions) -> ExitCode {
    match demo::run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tranche demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Applies a bank file and prints what it did.
async fn returns(
    data: &std::path::Path,
    file: &std::path::Path,
    today: Option<NaiveDate>,
) -> Result<ExitCode, host::HostError> {
    let report = host::process_returns(
        data,
        file,
        today,
        std::env::var("TRANCHE_PUBLIC_URL").ok(),
        std::env::var("TRANCHE_MAIL_FROM").ok(),
    )
    .await?;
    println!(
        "{}: {} items, {} applied, {} already applied, {} unmatched, {} re-presentations, {} tasks opened",
        report.message_id.as_deref().unwrap_or("?"),
        report.items,
        report.applied,
        report.duplicates,
        report.unmatched,
        report.representations_scheduled,
        report.tasks_opened
    );
    Ok(ExitCode::SUCCESS)
}
