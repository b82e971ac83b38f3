//! Conversions between domain values and the column types they are stored
//! in; a value that does not fit is a corrupt store.

use crate::error::DbError;
use einvoice_store::{EntryHash, StoreError};

/// A sequence number or HLC as a `bigint` column.
pub(crate) fn to_i64(v: u64) -> Result<i64, DbError> {
    i64::try_from(v).map_err(|_| DbError::Store(StoreError::Corrupt(format!("{v} exceeds i64"))))
}

/// A `bigint` column as a sequence number or HLC.
pub(crate) fn to_u64(v: i64) -> Result<u64, DbError> {
    u64::try_from(v).map_err(|_| DbError::Store(StoreError::Corrupt(format!("negative {v}"))))
}

/// The `integer` column of an invoice period (期別), its `Period::key`.
pub(crate) fn period_key(p: einvoice_core::Period) -> Result<i32, DbError> {
    i32::try_from(p.key()).map_err(|_| {
        DbError::Store(StoreError::Corrupt(format!(
            "period key {} exceeds i32",
            p.key()
        )))
    })
}

/// A stored `bytea` entry hash as an [`EntryHash`].
pub(crate) fn hash_of(bytes: &[u8]) -> Result<EntryHash, DbError> {
    <[u8; 32]>::try_from(bytes).map(EntryHash).map_err(|_| {
        DbError::Store(StoreError::Corrupt(format!(
            "stored hash has {} bytes, not 32",
            bytes.len()
        )))
    })
}
