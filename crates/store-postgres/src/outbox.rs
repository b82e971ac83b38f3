//! The outbox on PostgreSQL: claims under a lease (added by
//! `migrations/0003_outbox_lease.sql`) and delivery marks. `draw.rs`
//! enqueues the winner notifications in a load's transaction.

use crate::PgStore;
use crate::error::DbError;
use einvoice_store::{OutboxItem, OutboxOutcome, StoreError, in_claim_order, outbox_lease_until};

/// Every SQL statement of the outbox.
pub(crate) mod sql {
    /// Lease due, unleased items: now, limit, worker, lease end.
    pub(crate) const CLAIM: &str = "WITH due AS MATERIALIZED ( \
         SELECT id FROM outbox \
         WHERE delivered_unix IS NULL AND next_unix <= $1 \
           AND (lease_until IS NULL OR lease_until <= $1) \
         ORDER BY next_unix, id LIMIT $2 \
         FOR UPDATE SKIP LOCKED) \
         UPDATE outbox o SET lease_owner = $3, lease_until = $4 \
         FROM due WHERE o.id = due.id \
         RETURNING o.id, o.kind, o.body, o.attempts, o.next_unix";
    /// A delivery by the lease holder: id, worker, when.
    pub(crate) const MARK_DELIVERED: &str = "UPDATE outbox SET delivered_unix = $3, lease_owner = NULL, lease_until = NULL \
         WHERE id = $1 AND lease_owner = $2 AND delivered_unix IS NULL";
    /// A failed attempt by the lease holder: id, worker, next attempt, error.
    pub(crate) const MARK_FAILED: &str = "UPDATE outbox SET attempts = attempts + 1, next_unix = $3, last_error = $4, \
         lease_owner = NULL, lease_until = NULL \
         WHERE id = $1 AND lease_owner = $2 AND delivered_unix IS NULL";
}

impl PgStore {
    /// Lease due, unleased items to `worker` in one statement. `FOR UPDATE
    /// SKIP LOCKED` passes over rows another node's claim is taking right
    /// now, and a row that claim has just leased fails the re-checked
    /// condition, so concurrent claims get disjoint items without waiting.
    /// The locked rows are a materialized CTE, evaluated once: as an
    /// `id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` sub-select the
    /// planner may re-run it per row, and each run skips the rows the
    /// statement has already updated, so `LIMIT` would not hold.
    pub(crate) async fn claim_outbox(
        &self,
        now_unix: i64,
        limit: u32,
        lease_secs: u32,
        worker: &str,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let lim = i64::from(limit);
        let until = outbox_lease_until(now_unix, lease_secs);
        self.run(|c| async move {
            let rows = c
                .query(sql::CLAIM, &[&now_unix, &lim, &worker, &until])
                .await?;
            let mut items = rows
                .iter()
                .map(|r| {
                    Ok(OutboxItem {
                        id: r.try_get(0)?,
                        kind: r.try_get(1)?,
                        body: r.try_get(2)?,
                        attempts: u32::try_from(r.try_get::<_, i32>(3)?).unwrap_or(0),
                        next_unix: r.try_get(4)?,
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            in_claim_order(&mut items);
            Ok(items)
        })
        .await
    }

    /// Record `worker`'s outcome of `id` and end its lease, if it holds it.
    pub(crate) async fn mark_outbox(
        &self,
        id: &str,
        worker: &str,
        outcome: OutboxOutcome,
    ) -> Result<bool, StoreError> {
        self.mark_leased((sql::MARK_DELIVERED, sql::MARK_FAILED), id, worker, outcome)
            .await
    }

    /// The lease-holder's outcome of `id` in a leased queue (the outbox,
    /// the mail outbox), through that queue's (delivered, failed)
    /// statements, which take (id, worker, at) and (id, worker, next,
    /// error); `false` when `worker` no longer holds the lease.
    pub(crate) async fn mark_leased(
        &self,
        (delivered, failed): (&'static str, &'static str),
        id: &str,
        worker: &str,
        outcome: OutboxOutcome,
    ) -> Result<bool, StoreError> {
        let outcome = &outcome;
        self.run(|c| async move {
            let n = match outcome {
                OutboxOutcome::Delivered { at_unix } => {
                    c.execute(delivered, &[&id, &worker, at_unix]).await?
                }
                OutboxOutcome::Failed { next_unix, error } => {
                    c.execute(failed, &[&id, &worker, next_unix, error]).await?
                }
            };
            Ok(n == 1)
        })
        .await
    }
}
