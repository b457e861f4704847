//! Crashes injected into the store and the file store, for the exactly-once tests: a run's
//! steps (commits and stored files alike) are numbered, and one of them fails, before it is done
//! or after it with its answer lost, as a process killed at that moment would leave things.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use tranche_domain::error::StoreError;
use tranche_domain::ports::{FileStore, Ports, TransactionalStore, Write};

/// Whether an injected crash comes before a step is done, or after it with the answer lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    Before,
    After,
}

/// Numbers the steps of a run and fails step `fail_at` (counted from 1; 0 fails none).
#[derive(Debug)]
pub struct Steps {
    taken: AtomicU32,
    fail_at: u32,
    crash: Crash,
}

impl Steps {
    pub fn new(fail_at: u32, crash: Crash) -> Arc<Steps> {
        Arc::new(Steps {
            taken: AtomicU32::new(0),
            fail_at,
            crash,
        })
    }

    /// Counts a step; answers whether it is the one to fail.
    fn fails(&self) -> bool {
        self.taken.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at
    }

    /// How many steps were taken so far.
    pub fn taken(&self) -> u32 {
        self.taken.load(Ordering::SeqCst)
    }

    /// Runs `step` unless it is the one to fail, then fails it as [`Crash`] says.
    async fn run<F>(&self, what: &str, step: F) -> Result<(), StoreError>
    where
        F: std::future::Future<Output = Result<(), StoreError>>,
    {
        if !self.fails() {
            return step.await;
        }
        match self.crash {
            Crash::Before => Err(crashed(&format!("before {what}"))),
            Crash::After => {
                step.await?;
                Err(crashed(&format!("after {what}, before its answer")))
            }
        }
    }
}

fn crashed(what: &str) -> StoreError {
    StoreError::Unavailable(format!("injected crash {what}"))
}

/// A store whose commits are steps. With `max_writes`, it also takes at most that many writes
/// in one commit (a larger commit is a test failure), as a store smaller than DynamoDB would;
/// without, it takes what the store beneath takes.
pub struct FaultyTransactions {
    pub inner: Arc<dyn TransactionalStore>,
    pub steps: Arc<Steps>,
    pub max_writes: Option<usize>,
}

#[async_trait]
impl TransactionalStore for FaultyTransactions {
    async fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        assert!(
            self.fits_in_one_commit(writes),
            "a commit of {} writes, more than the store takes",
            writes.len()
        );
        self.steps.run("a commit", self.inner.commit(writes)).await
    }

    fn fits_in_one_commit(&self, writes: &[Write]) -> bool {
        match self.max_writes {
            Some(max) => writes.len() <= max,
            None => self.inner.fits_in_one_commit(writes),
        }
    }
}

/// A file store whose stored batch files (`put_file_from_path`) are steps; other writes pass.
pub struct FaultyFiles {
    pub inner: Arc<dyn FileStore>,
    pub steps: Arc<Steps>,
}

#[async_trait]
impl FileStore for FaultyFiles {
    async fn put_file(
        &self,
        key: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.inner.put_file(key, content_type, bytes).await
    }

    async fn put_file_from_path(
        &self,
        key: &str,
        content_type: &str,
        path: &Path,
    ) -> Result<(), StoreError> {
        self.steps
            .run(
                "a file was stored",
                self.inner.put_file_from_path(key, content_type, path),
            )
            .await
    }

    async fn get_file(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get_file(key).await
    }

    async fn list_files(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_files(prefix).await
    }
}

/// `ports` with its commits and stored files as the numbered `steps`, commits of at most
/// `max_writes` writes when given.
pub fn faulty(ports: &Ports, steps: &Arc<Steps>, max_writes: Option<usize>) -> Ports {
    let mut faulty = ports.clone();
    faulty.transactions = Arc::new(FaultyTransactions {
        inner: ports.transactions.clone(),
        steps: steps.clone(),
        max_writes,
    });
    faulty.files = Arc::new(FaultyFiles {
        inner: ports.files.clone(),
        steps: steps.clone(),
    });
    faulty
}
