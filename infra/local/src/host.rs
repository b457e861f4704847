//! The local host: every function of Tranche on one machine, on embedded storage.
//!
//! A data folder holds everything: `tranche.sqlite3` (every store), `files/` (what S3 would
//! hold) and `outbox/` (every e-mail as an `.eml` file). Nothing in it is lost when the process
//! stops. The clock is the real one, or pinned to a day with `--today` so simulations and
//! tests move through time without sleeping.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use tokio::net::TcpListener;
use tranche_domain::error::StoreError;
use tranche_domain::ports::{Clock, FixedDayClock, Ports, Services, SystemClock};
use tranche_domain::secrets;
use tranche_http::ApiState;

use crate::files::DiskFileStore;
use crate::outbox::OutboxMailer;
use crate::sqlite::SqliteStore;

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("the data folder {path} cannot be used: {source}")]
    DataFolder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the database in {path} cannot be opened: {source}")]
    Database { path: PathBuf, source: StoreError },
    #[error("the file store in {path} cannot be opened: {source}")]
    Files { path: PathBuf, source: StoreError },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the API key cannot be registered: {0}")]
    ApiKey(StoreError),
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("the daily job failed: {0}")]
    Daily(String),
    #[error("{0}")]
    Returns(String),
}

/// The clock for `--today`: pinned to that day, or the real one.
pub fn clock_for(today: Option<NaiveDate>) -> Arc<dyn Clock> {
    match today {
        Some(day) => Arc::new(FixedDayClock(day)),
        None => Arc::new(SystemClock),
    }
}

/// Opens (creating when needed) the data folder and every adapter in it.
pub fn open_ports(data: &Path, clock: Arc<dyn Clock>) -> Result<Ports, HostError> {
    let folder_error = |source| HostError::DataFolder {
        path: data.to_owned(),
        source,
    };
    std::fs::create_dir_all(data).map_err(folder_error)?;
    let database = data.join("tranche.sqlite3");
    let store = Arc::new(
        SqliteStore::open(&database).map_err(|source| HostError::Database {
            path: database.clone(),
            source,
        })?,
    );
    let files = DiskFileStore::open(&data.join("files")).map_err(|source| HostError::Files {
        path: data.join("files"),
        source,
    })?;
    let mailer = OutboxMailer::open(&data.join("outbox"), clock.clone())
        .map_err(|e| folder_error(std::io::Error::other(e.to_string())))?;
    Ok(Ports::on_store(
        store,
        Services {
            files: Arc::new(files),
            mailer: Arc::new(mailer),
            documents: Arc::new(tranche_mandate_signing::document::PdfRenderer),
            clock,
        },
    ))
}

/// Registers the operator API key (only its hash is stored). Without one, a new key is made
/// and answered so the caller can show it once.
pub async fn register_api_key(
    ports: &Ports,
    key: Option<&str>,
) -> Result<Option<String>, HostError> {
    let (key, generated) = match key.map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => (key.to_owned(), false),
        None => (format!("tk_{}", secrets::random_token()), true),
    };
    ports
        .api_keys
        .add_api_key_hash(&secrets::sha256_hex(&key))
        .await
        .map_err(HostError::ApiKey)?;
    Ok(generated.then_some(key))
}

/// Everything `tranche serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    pub data: PathBuf,
    pub today: Option<NaiveDate>,
    /// Base of the links sent to debtors; `http://<addr>` when absent.
    pub public_url: Option<String>,
    pub api_key: Option<String>,
    /// The sender of e-mails; [`DEFAULT_MAIL_FROM`] when absent.
    pub mail_from: Option<String>,
}

/// The sender of e-mails when none is configured. The outbox folder accepts any address; a real
/// mail service needs one it has verified.
pub const DEFAULT_MAIL_FROM: &str = "Tranche <noreply@tranche.invalid>";

/// Every function's routes on one router, as the local host serves them, with `GET /healthz`
/// and a problem+json answer for unknown routes.
pub fn app(state: ApiState) -> axum::Router {
    tranche_http::with_health_and_fallback(
        axum::Router::new()
            .merge(tranche_plan_creation::router(state.clone()))
            .merge(tranche_mandate_signing::router(state.clone()))
            .merge(tranche_return_processor::router(state.clone())),
    )
}

/// A host that is listening: where, on what data, with which generated key (if any).
pub struct Listening {
    pub addr: SocketAddr,
    pub data: PathBuf,
    pub generated_api_key: Option<String>,
    listener: TcpListener,
    app: axum::Router,
}

impl Listening {
    /// The line the host prints when it is ready.
    pub fn startup_line(&self, today: Option<NaiveDate>) -> String {
        let day = match today {
            Some(day) => format!("today pinned to {day}"),
            None => "real clock".to_owned(),
        };
        format!(
            "tranche is listening on http://{} with its data in {} ({day})",
            self.addr,
            self.data.display()
        )
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), HostError> {
        // With the peer address, so a signature's evidence records where it came from.
        let app = self
            .app
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(HostError::Serve)
    }
}

/// Opens the data, binds the address and builds the router; serving starts with
/// [`Listening::serve`].
pub async fn bind(config: ServeConfig) -> Result<Listening, HostError> {
    let clock = clock_for(config.today);
    bind_with_clock(config, clock).await
}

/// [`bind`] with the host's clock given rather than made from `config.today` (which is then
/// not read): for a caller that moves the day while the host runs, as `tranche demo` does.
pub async fn bind_with_clock(
    config: ServeConfig,
    clock: Arc<dyn Clock>,
) -> Result<Listening, HostError> {
    let data = std::path::absolute(&config.data).unwrap_or(config.data.clone());
    let ports = open_ports(&data, clock)?;
    let generated_api_key = register_api_key(&ports, config.api_key.as_deref()).await?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| HostError::Listen {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| HostError::Listen {
        addr: config.addr,
        source,
    })?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let app = app(ApiState {
        ports,
        public_url,
        mail_from: config
            .mail_from
            .clone()
            .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned()),
    });
    Ok(Listening {
        addr,
        data,
        generated_api_key,
        listener,
        app,
    })
}

/// Runs the daily job once on the data folder, as `tranche daily` does.
pub async fn run_daily(
    data: &Path,
    today: Option<NaiveDate>,
    public_url: Option<String>,
    mail_from: Option<String>,
) -> Result<tranche_domain::daily::DailyReport, HostError> {
    let data = std::path::absolute(data).unwrap_or(data.to_owned());
    let ports = open_ports(&data, clock_for(today))?;
    let links = tranche_domain::signing::Links {
        public_url: public_url.unwrap_or_else(|| "http://127.0.0.1:8080".to_owned()),
        mail_from: mail_from.unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned()),
    };
    tranche_daily_scheduler::run(&ports, &links)
        .await
        .map_err(|e| HostError::Daily(e.to_string()))
}

/// Reads and applies one bank file on the data folder, as `tranche returns FILE` does.
pub async fn process_returns(
    data: &Path,
    file: &Path,
    today: Option<NaiveDate>,
    public_url: Option<String>,
    mail_from: Option<String>,
) -> Result<tranche_domain::returns::ReturnsReport, HostError> {
    let bytes = std::fs::read(file).map_err(|source| HostError::DataFolder {
        path: file.to_owned(),
        source,
    })?;
    let data = std::path::absolute(data).unwrap_or(data.to_owned());
    let ports = open_ports(&data, clock_for(today))?;
    let links = tranche_domain::signing::Links {
        public_url: public_url.unwrap_or_else(|| "http://127.0.0.1:8080".to_owned()),
        mail_from: mail_from.unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned()),
    };
    tranche_return_processor::handle_bytes(&ports, &links, &bytes)
        .await
        .map_err(|e| HostError::Returns(e.to_string()))
}
