//! The outbox on SQLite: claims under a lease (added by
//! `migrations/0003_outbox_lease.sql`) and delivery marks. `draw.rs` enqueues the winner
//! notifications in a load's transaction.

use crate::{SqliteStore, backend};
use einvoice_store::{OutboxItem, OutboxOutcome, StoreError, in_claim_order, outbox_lease_until};
use rusqlite::params;

/// Every SQL statement of this module.
pub(crate) mod sql {
    /// Lease due, unleased items: now, limit, worker, lease end.
    pub(crate) const CLAIM: &str = "UPDATE outbox SET lease_owner = ?3, lease_until = ?4 WHERE id IN ( \
                     SELECT id FROM outbox \
                     WHERE delivered_unix IS NULL AND next_unix <= ?1 \
                       AND (lease_until IS NULL OR lease_until <= ?1) \
                     ORDER BY next_unix, id LIMIT ?2) \
                 RETURNING id, kind, body, attempts, next_unix";
    /// A delivery by the lease holder: id, worker, when.
    pub(crate) const MARK_DELIVERED: &str = "UPDATE outbox SET delivered_unix = ?3, lease_owner = NULL, lease_until = NULL \
                     WHERE id = ?1 AND lease_owner = ?2 AND delivered_unix IS NULL";
    /// A failed attempt by the lease holder: id, worker, next attempt, error.
    pub(crate) const MARK_FAILED: &str = "UPDATE outbox SET attempts = attempts + 1, next_unix = ?3, last_error = ?4, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE id = ?1 AND lease_owner = ?2 AND delivered_unix IS NULL";
}

/// Lease due, unleased items to `worker` in one write (the single writer
/// makes the claim atomic: no other claim runs between its read and update).
pub(crate) async fn outbox_claim(
    s: &SqliteStore,
    now_unix: i64,
    limit: u32,
    lease_secs: u32,
    worker: &str,
) -> Result<Vec<OutboxItem>, StoreError> {
    let worker = worker.to_string();
    let until = outbox_lease_until(now_unix, lease_secs);
    s.write(move |t, _| {
        let mut st = t.prepare_cached(sql::CLAIM).map_err(backend)?;
        let rows = st
            .query_map(params![now_unix, limit, worker, until], |r| {
                Ok(OutboxItem {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    body: r.get(2)?,
                    attempts: r.get(3)?,
                    next_unix: r.get(4)?,
                })
            })
            .map_err(backend)?;
        let mut items = rows.collect::<Result<Vec<_>, _>>().map_err(backend)?;
        in_claim_order(&mut items);
        Ok(items)
    })
    .await
}

/// Record `worker`'s outcome of `id` and end its lease, if it holds it.
pub(crate) async fn outbox_mark(
    s: &SqliteStore,
    id: &str,
    worker: &str,
    outcome: OutboxOutcome,
) -> Result<bool, StoreError> {
    mark_leased(
        s,
        (sql::MARK_DELIVERED, sql::MARK_FAILED),
        id,
        worker,
        outcome,
    )
    .await
}

/// The lease-holder's outcome of `id` in a leased queue (the outbox, the
/// mail outbox), through that queue's (delivered, failed) statements, which
/// take (id, worker, at) and (id, worker, next, error); `false` when
/// `worker` no longer holds the lease.
pub(crate) async fn mark_leased(
    s: &SqliteStore,
    (delivered, failed): (&'static str, &'static str),
    id: &str,
    worker: &str,
    outcome: OutboxOutcome,
) -> Result<bool, StoreError> {
    let (id, worker) = (id.to_string(), worker.to_string());
    s.write(move |t, _| {
        let n = match outcome {
            OutboxOutcome::Delivered { at_unix } => t
                .prepare_cached(delivered)
                .map_err(backend)?
                .execute(params![id, worker, at_unix]),
            OutboxOutcome::Failed { next_unix, error } => t
                .prepare_cached(failed)
                .map_err(backend)?
                .execute(params![id, worker, next_unix, error]),
        }
        .map_err(backend)?;
        Ok(n == 1)
    })
    .await
}
