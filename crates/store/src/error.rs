//! Store errors (the backend failed) and rejections (the message was refused).

use crate::entry::Receipt;
use einvoice_core::Violation;
use serde::Serialize;

/// The stable code of [`StoreError::BodyWithheld`].
pub const BODY_WITHHELD_CODE: &str = "BODY_WITHHELD";

/// The backend itself failed. Nothing was written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or timed out; retry later (HTTP 503 + Retry-After).
    #[error("STORE_UNAVAILABLE: {0}")]
    Unavailable(String),
    /// The stored data is inconsistent with the rules (a bug or tampering).
    #[error("STORE_CORRUPT: {0}")]
    Corrupt(String),
    /// Any other backend failure.
    #[error("STORE_BACKEND: {0}")]
    Backend(String),
    /// A ledger entry's body is withheld at this copy of the ledger (format
    /// v2) but this site's projections need it: a configuration error (the
    /// site's role or its upstream's body policy), not corruption.
    #[error("BODY_WITHHELD: {0}")]
    BodyWithheld(String),
}

impl StoreError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "STORE_UNAVAILABLE",
            Self::Corrupt(_) => "STORE_CORRUPT",
            Self::Backend(_) => "STORE_BACKEND",
            Self::BodyWithheld(_) => BODY_WITHHELD_CODE,
        }
    }
}

/// Why one message was refused by the store. Codes:
///
/// | code | meaning |
/// | --- | --- |
/// | `DUPLICATE_CONFLICT` | a different message with the same kind and natural key exists (`original` names it) |
/// | `TENANT_SCOPE` | the message's seller is outside the caller's scope |
/// | `NUMBER_OUTSIDE_TRACK` | the invoice number is not in a range allocated to the seller for its period |
/// | `TRACK_OVERLAP` | an allocation overlaps an existing one |
/// | `REFERENCE_UNKNOWN` | (reserved) a referenced entity does not exist |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code} at {field}: {message}")]
pub struct Rejection {
    /// Stable code.
    pub code: &'static str,
    /// Field path.
    pub field: String,
    /// A message a person can act on.
    pub message: String,
    /// The entry this one conflicts with, for `DUPLICATE_CONFLICT`.
    pub original: Option<Receipt>,
}

impl Rejection {
    /// A rejection without a referenced entry.
    pub fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            message: message.into(),
            original: None,
        }
    }
}

impl From<Rejection> for Violation {
    fn from(r: Rejection) -> Self {
        Violation::new(r.code, r.field, r.message)
    }
}
