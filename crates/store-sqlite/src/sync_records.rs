//! The records feed on SQLite: bank accounts and API key revocations that
//! travelled with another origin's entries, stored with that origin's
//! records cursor in one write transaction (migration 14).

use crate::{SqliteStore, backend};
use einvoice_store::{StoreError, SyncRecords, refuse_own_origin};
use rusqlite::{OptionalExtension, params};

/// Every SQL statement of this module.
mod sql {
    /// An origin's records cursor.
    pub(super) const CURSOR: &str = "SELECT seq FROM sync_record_cursors WHERE origin = ?1";
    /// Move an origin's records cursor forward (never back).
    pub(super) const PUT_CURSOR: &str = "INSERT INTO sync_record_cursors (origin, seq) VALUES (?1, ?2) \
         ON CONFLICT (origin) DO UPDATE SET seq = max(seq, excluded.seq)";
    /// A travelling account, unless the stored one of its carrier is newer.
    pub(super) const PUT_ACCOUNT: &str = "INSERT INTO bank_accounts (carrier, json) VALUES (?1, ?2) \
         ON CONFLICT (carrier) DO UPDATE SET json = excluded.json \
         WHERE json_extract(excluded.json, '$.updated_unix') >= json_extract(bank_accounts.json, '$.updated_unix')";
    /// Disable an API key this site holds.
    pub(super) const REVOKE_KEY: &str = "UPDATE records SET json = json_set(json, '$.disabled', json('true')) \
         WHERE space = 'api_key' AND id = ?1";
}

/// See [`einvoice_store::Store::sync_records_cursor`].
pub(crate) async fn cursor(s: &SqliteStore, origin: &str) -> Result<u64, StoreError> {
    let origin = origin.to_string();
    s.read(move |c| {
        let seq: Option<i64> = c
            .prepare_cached(sql::CURSOR)
            .map_err(backend)?
            .query_row(params![origin], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        Ok(seq.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
    })
    .await
}

/// See [`einvoice_store::Store::apply_sync_records`].
pub(crate) async fn apply(
    s: &SqliteStore,
    origin: &str,
    upto: u64,
    records: SyncRecords,
) -> Result<(), StoreError> {
    refuse_own_origin(&s.inner.site, origin)?;
    let upto =
        i64::try_from(upto).map_err(|_| StoreError::Corrupt(format!("{upto} exceeds i64")))?;
    let origin = origin.to_string();
    s.write(move |t, _| {
        for a in &records.accounts {
            let json = serde_json::to_string(a).map_err(backend)?;
            t.prepare_cached(sql::PUT_ACCOUNT)
                .map_err(backend)?
                .execute(params![a.carrier, json])
                .map_err(backend)?;
        }
        for k in &records.revoked_keys {
            t.prepare_cached(sql::REVOKE_KEY)
                .map_err(backend)?
                .execute(params![k])
                .map_err(backend)?;
        }
        t.prepare_cached(sql::PUT_CURSOR)
            .map_err(backend)?
            .execute(params![origin, upto])
            .map_err(backend)?;
        Ok(())
    })
    .await
}
