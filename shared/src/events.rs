//! The append-only event log, one hash chain per aggregate.
//!
//! Each event carries the SHA-256 of the event before it in the same aggregate, and its own hash
//! covers that link, so changing, removing or reordering any stored event breaks the chain from
//! that point on, which [`verify_chain`] finds. The log is the history of every mandate and plan
//! and, later, the source of the event feed.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::secrets::sha256_hex;

/// The `prev_hash` of an aggregate's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The mandate or plan id the event belongs to.
    pub aggregate_id: String,
    /// 1, 2, 3... within the aggregate, without gaps.
    pub seq: u64,
    /// What happened, `mandate.signed`.
    pub kind: String,
    pub at: DateTime<Utc>,
    /// Who did it: `operator`, `debtor` or `system`.
    pub actor: String,
    pub data: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an event's content and its link to the one before.
fn event_hash(
    aggregate_id: &str,
    seq: u64,
    kind: &str,
    at: DateTime<Utc>,
    actor: &str,
    data: &Value,
    prev_hash: &str,
) -> String {
    // serde_json writes object keys in sorted order (no `preserve_order`), so the same data
    // always gives the same text.
    let canonical = serde_json::json!([
        prev_hash,
        aggregate_id,
        seq,
        kind,
        at.to_rfc3339_opts(SecondsFormat::Micros, true),
        actor,
        data
    ]);
    sha256_hex(canonical.to_string())
}

impl Event {
    /// The next event of an aggregate whose last event is `previous` (`None` for the first).
    pub fn next(
        previous: Option<&Event>,
        aggregate_id: &str,
        kind: &str,
        at: DateTime<Utc>,
        actor: &str,
        data: Value,
    ) -> Event {
        Event::after(
            previous.map(Event::head).as_ref(),
            aggregate_id,
            kind,
            at,
            actor,
            data,
        )
    }
}

/// The last event of an aggregate, kept on the aggregate itself so the next event can be
/// chained without reading the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventHead {
    pub seq: u64,
    pub hash: String,
}

impl Event {
    /// This event as the head of its chain.
    pub fn head(&self) -> EventHead {
        EventHead {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }

    /// The next event after `head` (`None` for the first).
    pub fn after(
        head: Option<&EventHead>,
        aggregate_id: &str,
        kind: &str,
        at: DateTime<Utc>,
        actor: &str,
        data: Value,
    ) -> Event {
        let (seq, prev_hash) = match head {
            Some(h) => (h.seq + 1, h.hash.clone()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let hash = event_hash(aggregate_id, seq, kind, at, actor, &data, &prev_hash);
        Event {
            aggregate_id: aggregate_id.to_owned(),
            seq,
            kind: kind.to_owned(),
            at,
            actor: actor.to_owned(),
            data,
            prev_hash,
            hash,
        }
    }
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the event log of {aggregate_id} breaks at event {seq}: {reason}")]
pub struct ChainBroken {
    pub aggregate_id: String,
    pub seq: u64,
    pub reason: String,
}

/// Checks one aggregate's events, in order: sequence without gaps, each linked to the one
/// before, each hash matching its content.
pub fn verify_chain(events: &[Event]) -> Result<(), ChainBroken> {
    let mut previous_hash = GENESIS_HASH.to_owned();
    for (i, event) in events.iter().enumerate() {
        let broken = |reason: &str| ChainBroken {
            aggregate_id: event.aggregate_id.clone(),
            seq: event.seq,
            reason: reason.to_owned(),
        };
        if event.seq != i as u64 + 1 {
            return Err(broken("an event is missing or out of order"));
        }
        if event.prev_hash != previous_hash {
            return Err(broken("it does not link to the event before it"));
        }
        let expected = event_hash(
            &event.aggregate_id,
            event.seq,
            &event.kind,
            event.at,
            &event.actor,
            &event.data,
            &event.prev_hash,
        );
        if event.hash != expected {
            return Err(broken("its content was changed after it was written"));
        }
        previous_hash = event.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain() -> Vec<Event> {
        let at = DateTime::parse_from_rfc3339("2027-01-04T09:30:00Z")
            .unwrap()
            .to_utc();
        let first = Event::next(
            None,
            "mnd_1",
            "mandate.invited",
            at,
            "operator",
            json!({"plan": "pln_1"}),
        );
        let second = Event::next(
            Some(&first),
            "mnd_1",
            "mandate.signed",
            at,
            "debtor",
            json!({"ip_address": "203.0.113.7", "method": "click"}),
        );
        let third = Event::next(
            Some(&second),
            "mnd_1",
            "mandate.amended",
            at,
            "operator",
            json!({}),
        );
        vec![first, second, third]
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify_chain(&chain()), Ok(()));
    }

    #[test]
    fn changing_the_data_of_an_event_breaks_the_chain_at_that_event() {
        let mut events = chain();
        events[1].data = json!({"ip_address": "198.51.100.1", "method": "click"});

        let broken = verify_chain(&events).unwrap_err();

        assert_eq!(broken.seq, 2);
        assert!(broken.reason.contains("changed"));
    }

    #[test]
    fn recomputing_the_hash_of_a_changed_event_breaks_the_link_of_the_next() {
        let mut events = chain();
        let at = events[1].at;
        events[1] = Event::next(
            Some(&events[0]),
            "mnd_1",
            "mandate.signed",
            at,
            "debtor",
            json!({"forged": true}),
        );

        let broken = verify_chain(&events).unwrap_err();

        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("link"));
    }

    #[test]
    fn removing_or_reordering_events_breaks_the_chain() {
        let mut removed = chain();
        removed.remove(1);
        let mut reordered = chain();
        reordered.swap(1, 2);

        assert_eq!(verify_chain(&removed).unwrap_err().seq, 3);
        assert!(verify_chain(&reordered).is_err());
    }

    #[test]
    fn changing_the_time_or_actor_breaks_the_chain() {
        let mut events = chain();
        events[0].actor = "debtor".into();
        assert_eq!(verify_chain(&events).unwrap_err().seq, 1);

        let mut events = chain();
        events[2].at += chrono::Duration::seconds(1);
        assert_eq!(verify_chain(&events).unwrap_err().seq, 3);
    }
}
