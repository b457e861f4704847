//! Errors shared by every layer: a field-level validation error and the store errors
//! callers branch on.

use serde::Serialize;

/// One wrong input field: `field` is the JSON path as the caller sent it (`debtor.email`,
/// `invoices[1].amount`), `message` says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What a store can fail with. Callers branch on `ConditionFailed` (the write would have
/// happened twice, or on a stale version); `Unavailable` is worth a retry, `Corrupt` is not.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the write's condition failed: {0}")]
    ConditionFailed(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("a stored item could not be read: {0}")]
    Corrupt(String),
}
