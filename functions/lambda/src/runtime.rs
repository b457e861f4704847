//! The binaries' side: logs, ports, links, the source address, diagnostics.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use lambda_http::request::RequestContext;
use lambda_runtime::Diagnostic;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tranche_aws::Names;
pub use tranche_aws::{Wiring, s3_files, ses_mailer};
use tranche_domain::daily::BatchRequests;
use tranche_domain::ports::{Ports, SystemClock};
use tranche_domain::signing::Links;
use tranche_http::ApiState;

/// Why a binary could not start. It stops before taking its first event, and Lambda reports
/// the init error in the function's log.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A variable the function needs is missing or empty.
    #[error("the environment variable {0} must be set")]
    MissingVariable(&'static str),
    /// The AWS adapters could not be built from the environment.
    #[error("the AWS adapters cannot be built: {0}")]
    Adapters(String),
}

/// JSON log lines when the function's logging configuration asks for them (SAM's
/// `LoggingConfig: {LogFormat: JSON}` sets `AWS_LAMBDA_LOG_FORMAT=JSON`), at
/// `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`), INFO by default. Each line carries the span fields
/// the runtime adds: `requestId` and `xrayTraceId`.
///
/// The filter is tracing-subscriber's `Targets` (a level, or `target=level` directives), not
/// its regex-based `EnvFilter`, which lambda_runtime's own default subscriber would link into
/// every binary.
pub fn init_tracing() {
    use tracing_subscriber::prelude::*;

    let filter = log_filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let logs = tracing_subscriber::registry().with(filter);
    if json {
        logs.with(lines.json()).init();
    } else {
        logs.with(lines).init();
    }
}

/// The log filter of `AWS_LAMBDA_LOG_LEVEL` (Lambda's level: `TRACE` to `FATAL`, which has no
/// tracing level and means `ERROR`), else of `RUST_LOG` (a level or `target=level`
/// directives), else INFO. A value that does not parse means INFO, as in lambda_runtime.
pub fn log_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let info = Targets::new().with_default(LevelFilter::INFO);
    match (lambda_level, rust_log) {
        (Some(level), _) if level.eq_ignore_ascii_case("fatal") => {
            Targets::new().with_default(LevelFilter::ERROR)
        }
        (Some(level), _) => level
            .parse::<LevelFilter>()
            .map_or(info, |level| Targets::new().with_default(level)),
        (None, Some(directives)) => directives.parse().unwrap_or(info),
        (None, None) => info,
    }
}

fn required(name: &'static str) -> Result<String, StartError> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(StartError::MissingVariable(name))
}

/// Where links point and who sends e-mails: `TRANCHE_PUBLIC_URL` and `TRANCHE_MAIL_FROM`, both
/// required, because a signing link to the wrong host or a sender SES refuses would only show
/// up when a debtor or the bank is waiting.
pub fn links_from_env() -> Result<Links, StartError> {
    Ok(Links {
        public_url: required("TRANCHE_PUBLIC_URL")?
            .trim_end_matches('/')
            .to_owned(),
        mail_from: required("TRANCHE_MAIL_FROM")?,
    })
}

/// The ports of the function `wiring` describes, on AWS: the DynamoDB store and the adapters the
/// wiring names (S3, SES, the PDF renderer), built once, here, before the first event, and
/// reused by every invocation of the execution environment.
pub async fn ports_from_env(wiring: Wiring) -> Result<Ports, StartError> {
    let config = adapters::sdk_config().await?;
    wiring
        .ports(config, &Names::from_env(), Arc::new(SystemClock))
        .map_err(|e| StartError::Adapters(e.to_string()))
}

/// The batch-request queue (`TRANCHE_BATCH_QUEUE_URL`), through which the daily job asks the
/// batch generator for the day's files.
pub async fn batch_requests_from_env() -> Result<Box<dyn BatchRequests>, StartError> {
    let queue_url = Names::from_env()
        .queue_url
        .ok_or(StartError::MissingVariable("TRANCHE_BATCH_QUEUE_URL"))?;
    let config = adapters::sdk_config().await?;
    Ok(Box::new(tranche_aws::sqs_batch_queue(config, queue_url)))
}

/// The state of an HTTP function: the ports of its `wiring` and the links of
/// [`links_from_env`].
pub async fn api_state_from_env(wiring: Wiring) -> Result<ApiState, StartError> {
    let links = links_from_env()?;
    Ok(ApiState {
        ports: ports_from_env(wiring).await?,
        public_url: links.public_url,
        mail_from: links.mail_from,
    })
}

/// The SDK configuration, read from the environment once per execution environment and shared
/// by every client the function builds.
mod adapters {
    use tokio::sync::OnceCell;
    use tranche_aws::SdkConfig;

    use super::StartError;

    static CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();

    pub(super) async fn sdk_config() -> Result<&'static SdkConfig, StartError> {
        CONFIG
            .get_or_try_init(|| async {
                tranche_aws::sdk_config().map_err(|e| StartError::Adapters(e.to_string()))
            })
            .await
    }
}

/// A router as an HTTP Lambda serves it: the request's source address, as API Gateway saw it,
/// becomes the router's `ConnectInfo`, exactly as the local host's socket peer does.
///
/// The signing evidence records where a signature came from. Behind API Gateway the handler
/// sees no socket, and the first `X-Forwarded-For` entry is whatever the client wrote there;
/// the request context's `sourceIp` is the address API Gateway itself accepted the connection
/// from.
pub fn with_source_address(router: axum::Router) -> axum::Router {
    router.layer(axum::middleware::map_request(insert_source_address))
}

async fn insert_source_address(mut request: Request) -> Request {
    if let Some(ip) = source_ip(&request) {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    request
}

/// The source IP API Gateway recorded in the request context (HTTP API, payload 2.0).
pub fn source_ip(request: &Request) -> Option<IpAddr> {
    match request.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref()?.parse().ok(),
        _ => None,
    }
}

/// An error as Lambda reports it: `error_type` says whether the same event may succeed when
/// delivered again (`Tranche.Retryable`) or never will (`Tranche.Permanent`), so the log line
/// and the failed-invocation metric tell an outage from bad input at a glance.
pub fn diagnostic(error: &dyn std::error::Error, retryable: bool) -> Diagnostic {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Diagnostic {
        error_type: if retryable {
            "Tranche.Retryable"
        } else {
            "Tranche.Permanent"
        }
        .to_owned(),
        error_message: message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_log_filter_takes_lambdas_level_first_then_rust_log_then_info() {
        use tracing::Level;
        let enabled =
            |filter: &Targets, target: &str, level: Level| filter.would_enable(target, &level);

        let debug = log_filter(Some("DEBUG"), Some("error"));
        assert!(enabled(&debug, "tranche_domain", Level::DEBUG));
        assert!(!enabled(&debug, "tranche_domain", Level::TRACE));

        let fatal = log_filter(Some("FATAL"), None);
        assert!(enabled(&fatal, "tranche_domain", Level::ERROR));
        assert!(!enabled(&fatal, "tranche_domain", Level::WARN));

        let directives = log_filter(None, Some("warn,tranche_domain=trace"));
        assert!(enabled(&directives, "tranche_domain::daily", Level::TRACE));
        assert!(!enabled(&directives, "aws_smithy_runtime", Level::INFO));
        assert!(enabled(&directives, "aws_smithy_runtime", Level::WARN));

        for unreadable in [
            log_filter(Some("loud"), None),
            log_filter(None, Some("=?")),
            log_filter(None, None),
        ] {
            assert!(enabled(&unreadable, "tranche_domain", Level::INFO));
            assert!(!enabled(&unreadable, "tranche_domain", Level::DEBUG));
        }
    }

    #[test]
    fn a_diagnostic_names_the_retry_class_and_the_whole_cause_chain() {
        let error = Outer(std::io::Error::other("inner"));

        let retryable = diagnostic(&error, true);
        let permanent = diagnostic(&error, false);

        assert_eq!(retryable.error_type, "Tranche.Retryable");
        assert_eq!(permanent.error_type, "Tranche.Permanent");
        assert_eq!(retryable.error_message, "outer: inner");
    }

    #[test]
    fn the_source_address_comes_from_the_api_gateway_request_context_not_the_header() {
        let request = lambda_http::request::from_str(include_str!(
            "../../../tests/fixtures/events/http-api-sign-post.json"
        ))
        .expect("the fixture is an HTTP API request");
        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, axum::body::Body::new(body));

        assert_eq!(source_ip(&request), Some("198.51.100.23".parse().unwrap()));
    }
}
