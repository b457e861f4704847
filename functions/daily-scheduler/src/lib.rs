//! The daily-scheduler function: the EventBridge schedule's daily event, mapped to the daily job
//! of `tranche_domain::daily` (settlement, pre-notifications, due instalments into collections,
//! batch files, mandate expiry). Locally, `tranche daily --today D` runs the same.
//!
//! The job takes its day from the clock port, never from the event: a late or repeated delivery
//! of the schedule's event runs the job for the day it actually is, and the job's conditional
//! writes make a second run of a day a no-op.

use tranche_domain::daily::{self, DailyReport};
use tranche_domain::ports::Ports;
use tranche_domain::signing::Links;
use tranche_domain::use_cases::UseCaseError;

/// Runs the daily job once.
pub async fn run(ports: &Ports, links: &Links) -> Result<DailyReport, UseCaseError> {
    daily::run_daily(ports, links).await
}
