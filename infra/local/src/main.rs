//! `tranche`: every Tranche function on one machine, with no cloud.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
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
    /// The folder holding the database, the files S3 would hold and the e-mail outbox.
    #[arg(long, global = true, default_value = ".tranche", env = "TRANCHE_DATA")]
    data: PathBuf,
    /// Pins the clock to this day (YYYY-MM-DD); the real date when absent.
    #[arg(long, global = true, value_parser = parse_day)]
    today: Option<NaiveDate>,
}

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
    /// Runs the daily job once, as of today (or --today): settlement, pre-notifications,
    /// collections, pain.008 files, mandate expiry.
    Daily {
        /// Base of the links in e-mails to debtors.
        #[arg(long, env = "TRANCHE_PUBLIC_URL")]
        public_url: Option<String>,
    },
}

fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("\"{text}\" is not a date; write it as YYYY-MM-DD"))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRANCHE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { addr, public_url } => serve(ServeConfig {
            addr,
            data: cli.common.data,
            today: cli.common.today,
            public_url,
            api_key: std::env::var("TRANCHE_API_KEY").ok(),
            mail_from: std::env::var("TRANCHE_MAIL_FROM").ok(),
        })
        .await
        .map(|()| None),
        Command::Daily { public_url } => daily(&cli.common.data, cli.common.today, public_url)
            .await
            .map(Some),
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
