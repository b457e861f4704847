//! Many units of work committed a group at a time: one transaction, and so one disk sync, per
//! group instead of per unit, with every unit's own conditions kept.
//!
//! A unit is the write set of one change that is right on its own: one plan's morning in the
//! daily job, one bank report item applied to one collection. A group's transaction fails as a
//! whole when any unit's condition fails; the group is then committed unit by unit, so a unit
//! that another process changed meanwhile does not hold back the others, and the units whose
//! own writes fail are handed back to the caller, who knows what that means for them.
//!
//! A group should not write one item (plan, mandate, collection) twice: the second write's
//! condition would rest on the version the first one makes, so the unit-by-unit retry could not
//! commit it alone, and DynamoDB refuses two operations on one item in a transaction anyway.
//! Callers keep units that touch the same item in separate groups.

use tracing::debug;

use crate::error::StoreError;
use crate::ports::{Ports, Write};

/// One unit of a group commit.
pub trait Unit {
    /// The writes that must commit together, or not at all.
    fn writes(&self) -> &[Write];
}

/// What became of the units of a group commit, each in the order given.
#[derive(Debug)]
pub struct GroupOutcome<U> {
    /// Units whose writes are stored.
    pub committed: Vec<U>,
    /// Units whose own writes failed a condition, with the store's reason: another process
    /// changed what they were built on. Nothing of them is stored.
    pub refused: Vec<(U, String)>,
}

/// Commits `group` in one transaction; when a condition fails, commits each unit on its own.
/// Errors other than a failed condition end the call: what was committed before stays, as
/// after a crash.
pub async fn commit_group<U: Unit>(
    ports: &Ports,
    group: Vec<U>,
) -> Result<GroupOutcome<U>, StoreError> {
    let writes: Vec<Write> = group
        .iter()
        .flat_map(|unit| unit.writes().iter().cloned())
        .collect();
    if writes.is_empty() {
        return Ok(GroupOutcome {
            committed: group,
            refused: Vec::new(),
        });
    }
    match ports.transactions.commit(&writes).await {
        Ok(()) => {
            return Ok(GroupOutcome {
                committed: group,
                refused: Vec::new(),
            });
        }
        Err(StoreError::ConditionFailed(reason)) => {
            debug!(units = group.len(), reason = %reason, "group refused, committing unit by unit");
        }
        Err(e) => return Err(e),
    }
    drop(writes);

    let mut outcome = GroupOutcome {
        committed: Vec::with_capacity(group.len()),
        refused: Vec::new(),
    };
    for unit in group {
        if unit.writes().is_empty() {
            outcome.committed.push(unit);
            continue;
        }
        match ports.transactions.commit(unit.writes()).await {
            Ok(()) => outcome.committed.push(unit),
            Err(StoreError::ConditionFailed(reason)) => outcome.refused.push((unit, reason)),
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

/// Commits `units` in groups of at most `group_size` with [`commit_group`].
pub async fn commit_in_groups<U: Unit>(
    ports: &Ports,
    units: Vec<U>,
    group_size: usize,
) -> Result<GroupOutcome<U>, StoreError> {
    let mut outcome = GroupOutcome {
        committed: Vec::with_capacity(units.len()),
        refused: Vec::new(),
    };
    let mut units = units.into_iter().peekable();
    while units.peek().is_some() {
        let group: Vec<U> = units.by_ref().take(group_size.max(1)).collect();
        let done = commit_group(ports, group).await?;
        outcome.committed.extend(done.committed);
        outcome.refused.extend(done.refused);
    }
    Ok(outcome)
}
