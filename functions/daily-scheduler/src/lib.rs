//! The daily-scheduler function: the EventBridge schedule's daily event, mapped to the daily job
//! of `tranche_domain::daily` (settlement, pre-notifications, due instalments into collections,
//! batch files, mandate expiry). Locally, `tranche daily --today D` runs the same and writes
//! the batch files itself; in AWS the job asks the batch generator for them over the
//! batch-request queue.
//!
//! The job takes its day from the clock port, never from the event: a late or repeated delivery
//! of the schedule's event runs the job for the day it actually is, and the job's conditional
//! writes make a second run of a day a no-op.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::Value;
use tracing::{info, warn};
use tranche_domain::daily::{self, BatchRequests, DailyReport};
use tranche_domain::error::StoreError;
use tranche_domain::ports::Ports;
use tranche_domain::signing::Links;
use tranche_domain::use_cases::UseCaseError;

/// What this function builds besides the DynamoDB tables (its `main` and the in-process AWS tests
/// use it): it e-mails notices and dunning; asks the batch generator for files through SQS, so it
/// writes none.
#[cfg(feature = "wiring")]
pub const WIRING: tranche_lambda::Wiring = tranche_lambda::Wiring {
    function: "daily-scheduler",
    files: None,
    mailer: Some(tranche_lambda::ses_mailer),
    documents: None,
};

/// Runs the daily job once, writing the day's batch files itself (the local host).
pub async fn run(ports: &Ports, links: &Links) -> Result<DailyReport, UseCaseError> {
    daily::run_daily(ports, links).await
}

/// The Lambda handler: runs the daily job for the clock's today, handing the day's batch files
/// to the batch generator through `batch_requests` (the batch-request queue), and answers its
/// report, which Lambda keeps as the invocation's result. What needs the operator is in
/// `problems`, logged as a warning, and a task for the creditor's staff; it does not fail the
/// invocation, because running the job again would not fix it.
pub async fn handle_event(
    ports: &Ports,
    links: &Links,
    batch_requests: &dyn BatchRequests,
    event: &EventBridgeEvent<Value>,
) -> Result<DailyReport, UseCaseError> {
    info!(
        event_id = event.id.as_deref().unwrap_or("?"),
        source = %event.source,
        scheduled_for = ?event.time,
        "daily job starting"
    );
    let report = daily::run_daily_requesting(ports, links, batch_requests).await?;
    for problem in &report.problems {
        warn!(problem = %problem, "the daily job needs the operator");
    }
    Ok(report)
}

/// Whether a failed run may succeed when run again: only when a store was unavailable. The
/// job is safe to repeat either way; this decides how the failure is reported.
pub fn is_retryable(error: &UseCaseError) -> bool {
    matches!(error, UseCaseError::Store(StoreError::Unavailable(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unavailable_store_makes_a_failed_run_retryable() {
        assert!(is_retryable(&UseCaseError::Store(StoreError::Unavailable(
            "throttled".into()
        ))));
        assert!(!is_retryable(&UseCaseError::Store(StoreError::Corrupt(
            "bad item".into()
        ))));
        assert!(!is_retryable(&UseCaseError::Conflict("stale".into())));
    }
}
