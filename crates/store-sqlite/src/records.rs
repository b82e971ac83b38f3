//! Writes of the records kept besides the ledger: JSON documents of sellers,
//! keys, apps, operators, sessions and carriers; request nonces; versions of
//! the winning numbers.

use crate::backend;
use einvoice_store::{CarrierRecord, LoginAttempt, StoreError, WinningNumbersRecord};
use rusqlite::{OptionalExtension, Transaction, params};

/// Every SQL statement of the record writes.
pub(crate) mod sql {
    /// Insert or replace a record document.
    pub(crate) const PUT_RECORD: &str = "INSERT INTO records (space, id, json) VALUES (?1, ?2, ?3) \
         ON CONFLICT (space, id) DO UPDATE SET json = excluded.json";
    /// A carrier's record document, inside the writer's transaction.
    pub(crate) const CARRIER_RECORD: &str =
        "SELECT json FROM records WHERE space = 'carrier' AND id = ?1";
    /// Forget expired nonces.
    pub(crate) const FORGET_NONCES: &str = "DELETE FROM nonces WHERE expires < ?1";
    /// Remember a nonce (nothing if seen).
    pub(crate) const REMEMBER_NONCE: &str =
        "INSERT OR IGNORE INTO nonces (key_id, nonce, expires) VALUES (?1, ?2, ?3)";
    /// One version of a period's winning numbers.
    pub(crate) const WINNING_VERSION: &str =
        "SELECT json FROM winning_numbers WHERE period = ?1 AND version = ?2";
    /// Insert or replace one version of a period's winning numbers.
    pub(crate) const PUT_WINNING: &str = "INSERT INTO winning_numbers (period, version, json) VALUES (?1, ?2, ?3) \
         ON CONFLICT (period, version) DO UPDATE SET json = excluded.json";
}

/// Insert or replace the record `id` of `space`.
pub(crate) fn put_record<T: serde::Serialize>(
    t: &Transaction<'_>,
    space: &str,
    id: &str,
    v: &T,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(v).map_err(backend)?;
    t.prepare_cached(sql::PUT_RECORD)
        .map_err(backend)?
        .execute(params![space, id, json])
        .map_err(backend)?;
    Ok(())
}

/// Count a login attempt on the carrier record `id` (`type:id`), if registered.
pub(crate) fn record_carrier_login(
    t: &Transaction<'_>,
    id: &str,
    attempt: LoginAttempt,
) -> Result<(), StoreError> {
    let json: Option<String> = t
        .prepare_cached(sql::CARRIER_RECORD)
        .map_err(backend)?
        .query_row(params![id], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    let Some(json) = json else { return Ok(()) };
    let mut rec: CarrierRecord = serde_json::from_str(&json).map_err(backend)?;
    rec.record_login(attempt);
    put_record(t, "carrier", id, &rec)
}

/// Remember a request nonce; `false` if it was already seen.
pub(crate) fn remember_nonce(
    t: &Transaction<'_>,
    key_id: &str,
    nonce: &str,
    expires_unix: i64,
) -> Result<bool, StoreError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    t.prepare_cached(sql::FORGET_NONCES)
        .map_err(backend)?
        .execute(params![now])
        .map_err(backend)?;
    let added = t
        .prepare_cached(sql::REMEMBER_NONCE)
        .map_err(backend)?
        .execute(params![key_id, nonce, expires_unix])
        .map_err(backend)?;
    Ok(added == 1)
}

/// Store a version of a period's winning numbers, unless that version is published.
pub(crate) fn put_winning_numbers(
    t: &Transaction<'_>,
    record: &WinningNumbersRecord,
) -> Result<(), StoreError> {
    let stored: Option<String> = t
        .prepare_cached(sql::WINNING_VERSION)
        .map_err(backend)?
        .query_row(params![record.period.key(), record.version], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    if let Some(j) = stored {
        let old: WinningNumbersRecord = serde_json::from_str(&j).map_err(backend)?;
        old.check_replace(record)?;
    }
    let json = serde_json::to_string(record).map_err(backend)?;
    t.prepare_cached(sql::PUT_WINNING)
        .map_err(backend)?
        .execute(params![record.period.key(), record.version, json])
        .map_err(backend)?;
    Ok(())
}
