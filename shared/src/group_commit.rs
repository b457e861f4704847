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
//!
//! A store may bound what one transaction holds (DynamoDB: 100 items): a [`Group`] asks the
//! store ([`TransactionalStore::fits_in_one_commit`]) before it takes a unit, and a group that
//! would not fit is closed and committed first. A unit too large even alone makes a group of its
//! own, and its commit gets the store's error, as without grouping.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::Poll;

use tracing::debug;

use crate::error::StoreError;
use crate::ports::{TransactionalStore, Write};

/// One unit of a group commit.
pub trait Unit {
    /// The writes that must commit together, or not at all.
    fn writes(&self) -> &[Write];
    /// The same writes, for a group to move them beside the other units' while it commits
    /// (copying a plan's writes costs more than its commit's share of the transaction) and to
    /// hand them back after.
    fn writes_mut(&mut self) -> &mut Vec<Write>;
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

/// Units gathered for one commit, with their writes moved side by side, so that whether one
/// more unit fits is asked of the store without copying the group's writes. Every unit gets its
/// writes back when the group is committed.
#[derive(Debug)]
pub struct Group<U> {
    units: Vec<U>,
    writes: Vec<Write>,
    /// Where each unit's writes end in `writes`.
    ends: Vec<usize>,
}

impl<U> Default for Group<U> {
    fn default() -> Self {
        Group {
            units: Vec::new(),
            writes: Vec::new(),
            ends: Vec::new(),
        }
    }
}

impl<U: Unit> Group<U> {
    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Adds `unit` when its writes and the group's fit in one commit of `store`, and hands it
    /// back when they do not: the caller commits the group first. An empty group takes any
    /// unit, so a unit too large alone is committed alone and gets the store's error.
    pub fn push_if_fits(&mut self, store: &dyn TransactionalStore, mut unit: U) -> Result<(), U> {
        let before = self.writes.len();
        self.writes.append(unit.writes_mut());
        if self.units.is_empty() || store.fits_in_one_commit(&self.writes) {
            self.units.push(unit);
            self.ends.push(self.writes.len());
            Ok(())
        } else {
            *unit.writes_mut() = self.writes.split_off(before);
            Err(unit)
        }
    }

    /// Starts an empty group with `unit`, whatever its size: after [`Self::push_if_fits`] handed
    /// it back and the group was committed.
    pub fn start_with(&mut self, unit: U) {
        debug_assert!(self.is_empty(), "a group is started only when empty");
        self.push(unit);
    }

    fn push(&mut self, mut unit: U) {
        self.writes.append(unit.writes_mut());
        self.units.push(unit);
        self.ends.push(self.writes.len());
    }

    /// Commits the group as [`commit_group`] does, taking it: a future that can outlive the
    /// borrow of its caller's group.
    pub async fn commit_owned_group(
        self,
        store: &dyn TransactionalStore,
    ) -> Result<GroupOutcome<U>, StoreError> {
        self.commit_units(store).await
    }

    /// Commits the group as [`commit_group`] does, and leaves it empty.
    pub async fn commit(
        &mut self,
        store: &dyn TransactionalStore,
    ) -> Result<GroupOutcome<U>, StoreError> {
        let group = std::mem::take(self);
        group.commit_units(store).await
    }

    /// Gives every unit its writes back.
    fn into_units(self) -> Vec<U> {
        let Group {
            mut units,
            mut writes,
            ends,
        } = self;
        for index in (0..units.len()).rev() {
            let start = if index == 0 { 0 } else { ends[index - 1] };
            *units[index].writes_mut() = writes.split_off(start);
        }
        units
    }

    /// Commits the group in one transaction; when a condition fails, each unit on its own.
    async fn commit_units(
        mut self,
        store: &dyn TransactionalStore,
    ) -> Result<GroupOutcome<U>, StoreError> {
        if self.writes.is_empty() {
            return Ok(GroupOutcome {
                committed: self.into_units(),
                refused: Vec::new(),
            });
        }
        let (writes, committed) = store.commit_owned(std::mem::take(&mut self.writes)).await;
        self.writes = writes;
        match committed {
            Ok(()) => {
                return Ok(GroupOutcome {
                    committed: self.into_units(),
                    refused: Vec::new(),
                });
            }
            Err(StoreError::ConditionFailed(reason)) => {
                debug!(units = self.units.len(), reason = %reason, "group refused, committing unit by unit");
            }
            Err(e) => return Err(e),
        }

        let group = self.into_units();
        let mut outcome = GroupOutcome {
            committed: Vec::with_capacity(group.len()),
            refused: Vec::new(),
        };
        for unit in group {
            if unit.writes().is_empty() {
                outcome.committed.push(unit);
                continue;
            }
            match store.commit(unit.writes()).await {
                Ok(()) => outcome.committed.push(unit),
                Err(StoreError::ConditionFailed(reason)) => outcome.refused.push((unit, reason)),
                Err(e) => return Err(e),
            }
        }
        Ok(outcome)
    }
}

/// Commits `group` in one transaction; when a condition fails, commits each unit on its own.
/// Errors other than a failed condition end the call: what was committed before stays, as
/// after a crash. The caller makes sure the group fits in one commit ([`Group`]).
pub async fn commit_group<U: Unit>(
    store: &dyn TransactionalStore,
    group: Vec<U>,
) -> Result<GroupOutcome<U>, StoreError> {
    let mut gathered = Group::default();
    for unit in group {
        gathered.push(unit);
    }
    gathered.commit_units(store).await
}

/// Commits `units` in groups of at most `group_size` with [`commit_group`], closing a group early
/// when the next unit would not fit in one commit of the store.
pub async fn commit_in_groups<U: Unit>(
    store: &dyn TransactionalStore,
    units: Vec<U>,
    group_size: usize,
) -> Result<GroupOutcome<U>, StoreError> {
    let mut outcome = GroupOutcome {
        committed: Vec::with_capacity(units.len()),
        refused: Vec::new(),
    };
    let mut group = Group::default();
    for unit in units {
        let unit = if group.len() >= group_size.max(1) {
            Err(unit)
        } else {
            group.push_if_fits(store, unit)
        };
        if let Err(unit) = unit {
            let done = group.commit(store).await?;
            outcome.committed.extend(done.committed);
            outcome.refused.extend(done.refused);
            group.start_with(unit);
        }
    }
    if !group.is_empty() {
        let done = group.commit(store).await?;
        outcome.committed.extend(done.committed);
        outcome.refused.extend(done.refused);
    }
    Ok(outcome)
}

/// A group's commit started and not waited for, so the caller reads and builds the next group
/// meanwhile: the first poll starts the store's commit (the embedded store runs it on a thread of
/// its own), [`Self::push_on`] lets it go on, [`Self::landed`] waits for its outcome. A store
/// whose commit goes on only while polled (DynamoDB's requests) gains nothing, and loses nothing.
pub struct InFlight<'a, T> {
    /// In a mutex only so that a value holding it can be `Sync` (a boxed future is not); it is
    /// reached through `&mut self` and never locked.
    commit: Mutex<Pin<Box<dyn Future<Output = T> + Send + 'a>>>,
    /// The ids of what the group writes (collections, plans, mandates) that later work may
    /// have read before the commit: such work waits for it to land and reads them again.
    pub keys: HashSet<String>,
}

impl<'a, T: Send + 'a> InFlight<'a, T> {
    /// Starts `commit`, of a group that writes `keys`.
    pub async fn start(commit: impl Future<Output = T> + Send + 'a, keys: HashSet<String>) -> Self {
        let mut flight = Self {
            commit: Mutex::new(Box::pin(commit)),
            keys,
        };
        flight.push_on().await;
        flight
    }

    /// Lets the commit go on as far as it can without waiting for it.
    pub async fn push_on(&mut self) {
        let commit = self
            .commit
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let ready = std::future::poll_fn(|cx| {
            Poll::Ready(match commit.as_mut().poll(cx) {
                Poll::Ready(outcome) => Some(outcome),
                Poll::Pending => None,
            })
        })
        .await;
        if let Some(outcome) = ready {
            // Kept for `landed`: a finished future is not polled again.
            *commit = Box::pin(std::future::ready(outcome));
        }
    }

    /// Whether the group writes `key`.
    pub fn writes(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// Waits for the commit and answers its outcome.
    pub async fn landed(self) -> T {
        self.commit
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use chrono::Utc;

    use super::*;

    /// A store whose transactions hold at most `bound` writes, as DynamoDB's hold 100 items: it
    /// refuses a larger commit, and keeps every commit it took.
    struct BoundedStore {
        bound: usize,
        commits: Mutex<Vec<Vec<Write>>>,
    }

    impl BoundedStore {
        fn new(bound: usize) -> Self {
            BoundedStore {
                bound,
                commits: Mutex::new(Vec::new()),
            }
        }

        /// The number of writes of each commit taken, in order.
        fn commit_sizes(&self) -> Vec<usize> {
            self.commits.lock().unwrap().iter().map(Vec::len).collect()
        }
    }

    #[async_trait]
    impl TransactionalStore for BoundedStore {
        async fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
            if !self.fits_in_one_commit(writes) {
                return Err(StoreError::Corrupt(format!(
                    "{} writes, more than {}",
                    writes.len(),
                    self.bound
                )));
            }
            self.commits.lock().unwrap().push(writes.to_vec());
            Ok(())
        }

        fn fits_in_one_commit(&self, writes: &[Write]) -> bool {
            writes.len() <= self.bound
        }
    }

    /// A unit of `size` token uses, named by `name`.
    #[derive(Debug)]
    struct TokenUses(Vec<Write>);

    impl TokenUses {
        fn new(name: &str, size: usize) -> Self {
            TokenUses(
                (0..size)
                    .map(|i| Write::UseSigningToken {
                        token_hash: format!("{name}-{i}"),
                        at: Utc::now(),
                    })
                    .collect(),
            )
        }
    }

    impl Unit for TokenUses {
        fn writes(&self) -> &[Write] {
            &self.0
        }

        fn writes_mut(&mut self) -> &mut Vec<Write> {
            &mut self.0
        }
    }

    fn units(sizes: &[usize]) -> Vec<TokenUses> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, size)| TokenUses::new(&format!("unit{i}"), *size))
            .collect()
    }

    #[tokio::test]
    async fn a_group_is_closed_before_the_unit_that_would_not_fit_in_the_stores_transaction() {
        let store = BoundedStore::new(5);

        let outcome = commit_in_groups(&store, units(&[2, 2, 2, 2, 3, 1]), 250)
            .await
            .unwrap();

        assert_eq!(store.commit_sizes(), [4, 4, 4]);
        assert_eq!(outcome.committed.len(), 6);
        assert!(outcome.refused.is_empty());
        let committed: Vec<Write> = store.commits.lock().unwrap().concat();
        let given: Vec<Write> = outcome
            .committed
            .iter()
            .flat_map(|u| u.0.iter().cloned())
            .collect();
        assert_eq!(committed, given, "every write once, in the order given");
    }

    #[tokio::test]
    async fn the_group_size_still_bounds_a_group_when_the_store_takes_more() {
        let store = BoundedStore::new(usize::MAX);

        commit_in_groups(&store, units(&[1, 1, 1, 1, 1]), 2)
            .await
            .unwrap();

        assert_eq!(store.commit_sizes(), [2, 2, 1]);
    }

    #[tokio::test]
    async fn a_unit_too_large_alone_is_committed_alone_and_gets_the_stores_error() {
        let store = BoundedStore::new(5);

        let result = commit_in_groups(&store, units(&[2, 2, 7, 1]), 250).await;

        assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
        assert_eq!(
            store.commit_sizes(),
            [4],
            "the units before it are committed"
        );
    }

    #[test]
    fn an_empty_group_takes_any_unit_and_a_full_one_hands_the_next_back() {
        let store = BoundedStore::new(3);
        let mut group = Group::default();

        assert!(group.push_if_fits(&store, TokenUses::new("big", 4)).is_ok());
        let refused = group.push_if_fits(&store, TokenUses::new("small", 1));

        assert_eq!(refused.map_err(|u| u.0.len()).unwrap_err(), 1);
        assert_eq!(group.len(), 1);
    }
}
