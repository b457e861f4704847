//! Test data for the stores: a creditor, plans, a mandate and a mandate's event log, loaded from
//! the JSON files in `tests/fixtures/store/` and varied by id, creditor and status.
//!
//! Every id a helper makes is random, so checks that share one store (a DynamoDB table under moto
//! serves every test of a run) never see each other's items.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tranche_domain::creditor::{Creditor, CreditorId};
use tranche_domain::events::Event;
use tranche_domain::mandate::{Mandate, MandateId};
use tranche_domain::plan::{Plan, PlanId, PlanStatus, SigningToken};
use tranche_domain::secrets::{random_id, random_reference, random_token, sha256_hex};

const CREDITOR_JSON: &str = include_str!("../fixtures/store/creditor.json");
const PLAN_JSON: &str = include_str!("../fixtures/store/plan.json");
const MANDATE_JSON: &str = include_str!("../fixtures/store/mandate.json");
const MANDATE_EVENTS_JSON: &str = include_str!("../fixtures/store/mandate-events.json");

/// A creditor id no other test uses (`cred_…`).
pub fn unique_creditor_id() -> CreditorId {
    CreditorId::parse(&random_id("cred")).expect("a random id is a valid creditor id")
}

/// A plan id no other test uses, shaped like the real ones (`pln_…`).
pub fn unique_plan_id() -> PlanId {
    PlanId(random_id("pln"))
}

/// A mandate id no other test uses, shaped like the real ones (`mnd_…`).
pub fn unique_mandate_id() -> MandateId {
    MandateId(random_id("mnd"))
}

/// A mandate reference no other test uses, shaped like the real ones (`ACME-` and 12 random
/// characters of the SEPA identifier set).
pub fn unique_mandate_reference() -> String {
    format!("ACME-{}", random_reference(12))
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
        mandate_id: plan.mandate_id.clone(),
    }
}

/// The fixture mandate (`tests/fixtures/store/mandate.json`: signed by e-mail code with its
/// document and evidence, amended once to another bank, version 1) under another id, creditor,
/// plan and a fresh reference. Every part of the body is filled in except the download link,
/// the e-mail code and the cancellation, so a round trip through a store covers nearly all of it.
pub fn mandate(id: &MandateId, creditor_id: &CreditorId, plan_id: &PlanId) -> Mandate {
    let mut mandate: Mandate =
        serde_json::from_str(MANDATE_JSON).expect("fixtures/store/mandate.json is a mandate");
    mandate.id = id.clone();
    mandate.reference = unique_mandate_reference();
    mandate.creditor_id = creditor_id.clone();
    mandate.plan_id = plan_id.clone();
    mandate
}

/// A mandate's event log for `aggregate_id`, chained with [`Event::next`] from the steps in
/// `tests/fixtures/store/mandate-events.json`: five events whose data holds what a careless
/// store mangles (non-ASCII text, quotes, backslashes and control characters, nulls, empty and
/// nested objects and lists, integers beyond 2^53 and at the ends of `u64` and `i64`) and whose
/// times carry microseconds, which the hashes cover.
pub fn event_chain(aggregate_id: &str) -> Vec<Event> {
    let steps: Vec<Value> = serde_json::from_str(MANDATE_EVENTS_JSON)
        .expect("fixtures/store/mandate-events.json is a list");
    let mut events: Vec<Event> = Vec::new();
    for step in steps {
        let text = |field: &str| {
            step[field]
                .as_str()
                .unwrap_or_else(|| panic!("every event step has a `{field}` text: {step}"))
                .to_owned()
        };
        let event = Event::next(
            events.last(),
            aggregate_id,
            &text("kind"),
            at(&text("at")),
            &text("actor"),
            step["data"].clone(),
        );
        events.push(event);
    }
    events
}
