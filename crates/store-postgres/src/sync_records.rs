//! The records feed on PostgreSQL: bank accounts and API key revocations
//! that travelled with another origin's entries, stored with that origin's
//! records cursor in one transaction (migration 14).

use crate::PgStore;
use crate::append::{to_i64, to_u64};
use einvoice_store::{StoreError, SyncRecords, refuse_own_origin};

/// Every SQL statement of this module.
mod sql {
    /// An origin's records cursor.
    pub(super) const CURSOR: &str = "SELECT seq FROM sync_record_cursors WHERE origin = $1";
    /// Move an origin's records cursor forward (never back).
    pub(super) const PUT_CURSOR: &str = "INSERT INTO sync_record_cursors (origin, seq) VALUES ($1, $2) \
         ON CONFLICT (origin) DO UPDATE SET seq = GREATEST(sync_record_cursors.seq, excluded.seq)";
    /// A travelling account, unless the stored one of its carrier is newer.
    pub(super) const PUT_ACCOUNT: &str = "INSERT INTO bank_accounts (carrier, json) VALUES ($1, $2) \
         ON CONFLICT (carrier) DO UPDATE SET json = excluded.json \
         WHERE (excluded.json::jsonb ->> 'updated_unix')::bigint >= (bank_accounts.json::jsonb ->> 'updated_unix')::bigint";
    /// Disable an API key this site holds.
    pub(super) const REVOKE_KEY: &str = "UPDATE records SET json = jsonb_set(json::jsonb, '{disabled}', 'true')::text \
         WHERE space = 'api_key' AND id = $1";
}

impl PgStore {
    /// See [`einvoice_store::Store::sync_records_cursor`].
    pub(crate) async fn records_cursor(&self, origin: &str) -> Result<u64, StoreError> {
        self.run(|c| async move {
            match c.query_opt(sql::CURSOR, &[&origin]).await? {
                Some(r) => Ok(to_u64(r.try_get(0)?)?),
                None => Ok(0),
            }
        })
        .await
    }

    /// See [`einvoice_store::Store::apply_sync_records`].
    pub(crate) async fn records_apply(
        &self,
        origin: &str,
        upto: u64,
        records: SyncRecords,
    ) -> Result<(), StoreError> {
        refuse_own_origin(&self.shared().site, origin)?;
        let rows: Vec<(String, String)> = records
            .accounts
            .iter()
            .map(|a| serde_json::to_string(a).map(|j| (a.carrier.clone(), j)))
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let (rows, revoked) = (&rows, &records.revoked_keys);
        self.run(|mut c| async move {
            let t = c.transaction().await?;
            for (carrier, json) in rows {
                t.execute(sql::PUT_ACCOUNT, &[carrier, json]).await?;
            }
            for k in revoked {
                t.execute(sql::REVOKE_KEY, &[k]).await?;
            }
            t.execute(sql::PUT_CURSOR, &[&origin, &to_i64(upto)?])
                .await?;
            t.commit().await?;
            Ok(())
        })
        .await
    }
}
