//! Test data for the stores: a creditor and plans, loaded from the JSON files in
//! `tests/fixtures/store/` and varied by id, creditor and status.
//!
//! Every id a helper makes is random, so checks that share one store (a DynamoDB table under moto
//! serves every test of a run) never see each other's items.

use chrono::{DateTime, Utc};
use tranche_domain::creditor::{Creditor, CreditorId};
use tranche_domain::plan::{Plan, PlanId, PlanStatus, SigningToken};
use tranche_domain::secrets::{random_id, random_token, sha256_hex};

const CREDITOR_JSON: &str = include_str!("../fixtures/store/creditor.json");
const PLAN_JSON: &str = include_str!("../fixtures/store/plan.json");

/// A creditor id no other test uses (`cred_…`).
pub fn unique_creditor_id() -> CreditorId {
    CreditorId::parse(&random_id("cred")).expect("a random id is a valid creditor id")
}

/// A plan id no other test uses, shaped like the real ones (`pln_…`).
pub fn unique_plan_id() -> PlanId {
    PlanId(random_id("pln"))
}

/// The hash of a fresh random signing token, as the store keeps it.
pub fn unique_token_hash() -> String {
    sha256_hex(random_token())
}

/// An instant from its RFC 3339 text, for readable test timestamps.
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?} is not an RFC 3339 time: {e}"))
        .to_utc()
}

/// The fixture creditor (`tests/fixtures/store/creditor.json`) under another id.
pub fn creditor(id: &CreditorId) -> Creditor {
    let mut creditor: Creditor =
        serde_json::from_str(CREDITOR_JSON).expect("fixtures/store/creditor.json is a creditor");
    creditor.id = id.clone();
    creditor
}

/// The fixture plan (`tests/fixtures/store/plan.json`: three monthly instalments, awaiting
/// signature, version 1) under another id, creditor and status.
pub fn plan(id: &PlanId, creditor_id: &CreditorId, status: PlanStatus) -> Plan {
    let mut plan: Plan =
        serde_json::from_str(PLAN_JSON).expect("fixtures/store/plan.json is a plan");
    plan.id = id.clone();
    plan.creditor_id = creditor_id.clone();
    plan.status = status;
    plan
}

/// An unused signing token for `plan`, expiring when its signing link does.
pub fn signing_token(plan: &Plan) -> SigningToken {
    SigningToken {
        token_hash: unique_token_hash(),
        plan_id: plan.id.clone(),
        expires_at: plan.signing_expires_at,
        used_at: None,
    }
}
