//! The draw on PostgreSQL: the eligibility freeze, frozen snapshots, winners
//! and bank accounts (tables in `migrations/0002_draw.sql`), and the outbox's
//! claims (leases added by `migrations/0003_outbox_lease.sql`).

use crate::PgStore;
use crate::append::{period_key, to_i64, to_u64};
use crate::error::DbError;
use einvoice_core::ids::CONSUMER_BUYER_ID;
use einvoice_core::{Carrier, Period};
use einvoice_store::*;
use tokio_postgres::Row;

/// Winner lines per `INSERT … SELECT FROM UNNEST(…)` statement.
const WINNER_CHUNK: usize = 5_000;

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, j: &str) -> Result<T, DbError> {
    serde_json::from_str(j).map_err(|e| DbError::Store(StoreError::Corrupt(format!("{what}: {e}"))))
}

fn json_of<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

const WINNER_COLUMNS: &str = "line, invoice_number, seller, prize, amount, payable, carrier, npo";

fn winner_of(r: &Row) -> Result<WinnerRecord, DbError> {
    Ok(WinnerRecord {
        line: to_u64(r.try_get(0)?)?,
        invoice_number: r.try_get(1)?,
        seller: r.try_get(2)?,
        prize: r.try_get(3)?,
        amount: r.try_get(4)?,
        payable: r.try_get(5)?,
        carrier: r.try_get(6)?,
        npo: r.try_get(7)?,
    })
}

impl PgStore {
    pub(crate) async fn draw_eligible(
        &self,
        period: Period,
        after: Option<EligibleCursor>,
        limit: u32,
    ) -> Result<Vec<EligibleRow>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        let (an, asel) = after.map_or((String::new(), String::new()), |c| (c.number, c.seller));
        let (an, asel, lim) = (an.as_str(), asel.as_str(), i64::from(limit));
        self.run(|c| async move {
            let st = c
                .prepare_cached(
                    "SELECT number, seller, carrier_type, carrier_id, npoban FROM invoices \
                     WHERE period = $1 AND status = 'issued' AND buyer = $2 AND (number, seller) > ($3, $4) \
                     ORDER BY number, seller LIMIT $5",
                )
                .await?;
            let rows = c
                .query(&st, &[&pk, &CONSUMER_BUYER_ID, &an, &asel, &lim])
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let ct: Option<String> = r.try_get(2)?;
                let cid: Option<String> = r.try_get(3)?;
                let carrier = match (ct, cid) {
                    (Some(t), Some(i)) if !t.is_empty() => Some(format!("{t}:{i}")),
                    _ => None,
                };
                let donated_to = r.try_get::<_, Option<String>>(4)?.filter(|n| !n.is_empty());
                let printed = carrier.is_none() && donated_to.is_none();
                out.push(EligibleRow {
                    number: r.try_get(0)?,
                    seller: r.try_get(1)?,
                    carrier,
                    donated_to,
                    printed,
                });
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn draw_put_freeze(&self, freeze: DrawFreeze) -> Result<DrawPut, StoreError> {
        let pk = period_key(freeze.period).map_err(DbError::into_store)?;
        let json = json_of(&freeze)?;
        let (json, freeze) = (json.as_str(), &freeze);
        self.shared()
            .run(true, |mut c| async move {
                let t = c.transaction().await?;
                let old = t
                    .query_opt(
                        "SELECT json FROM draw_freezes WHERE period = $1 FOR UPDATE",
                        &[&pk],
                    )
                    .await?;
                if let Some(row) = old {
                    let old: DrawFreeze = parse_json("draw freeze", &row.try_get::<_, String>(0)?)?;
                    return Ok(if old.root == freeze.root && old.rows == freeze.rows {
                        DrawPut::Unchanged
                    } else {
                        DrawPut::Conflict(format!(
                            "period {} was frozen by {} with root {} ({} rows)",
                            old.period, old.actor, old.root, old.rows
                        ))
                    });
                }
                t.execute(
                    "INSERT INTO draw_freezes (period, root, json) VALUES ($1, $2, $3)",
                    &[&pk, &freeze.root, &json],
                )
                .await?;
                t.commit().await?;
                Ok(DrawPut::Stored)
            })
            .await
    }

    pub(crate) async fn draw_get_freeze(
        &self,
        period: Period,
    ) -> Result<Option<DrawFreeze>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        self.run(|c| async move {
            match c
                .query_opt("SELECT json FROM draw_freezes WHERE period = $1", &[&pk])
                .await?
            {
                Some(r) => Ok(Some(parse_json(
                    "draw freeze",
                    &r.try_get::<_, String>(0)?,
                )?)),
                None => Ok(None),
            }
        })
        .await
    }

    pub(crate) async fn draw_put_winners(&self, load: WinnersLoad) -> Result<DrawPut, StoreError> {
        let pk = period_key(load.period).map_err(DbError::into_store)?;
        let digest = load.digest();
        let summary = WinnersSummary {
            period: load.period,
            lines: load.winners.len() as u64,
            payable: load.payable_total(),
            digest: digest.clone(),
            actor: load.actor.clone(),
        };
        let json = json_of(&summary)?;
        let notes = winner_notifications(&load);
        let (json, digest, load, notes) = (json.as_str(), digest.as_str(), &load, &notes);
        self.shared()
            .run(true, |mut c| async move {
                let t = c.transaction().await?;
                let old = t
                    .query_opt(
                        "SELECT json FROM draw_loads WHERE period = $1 FOR UPDATE",
                        &[&pk],
                    )
                    .await?;
                if let Some(row) = old {
                    let old: WinnersSummary =
                        parse_json("winners load", &row.try_get::<_, String>(0)?)?;
                    return Ok(if old.digest == digest {
                        DrawPut::Unchanged
                    } else {
                        DrawPut::Conflict(format!(
                            "period {} already has {} winner lines (NT${} payable, digest {}) loaded by {}",
                            old.period, old.lines, old.payable, old.digest, old.actor
                        ))
                    });
                }
                // The load row first: a concurrent load of the same period
                // waits on its key, fails, and is retried to find this one.
                t.execute(
                    "INSERT INTO draw_loads (period, digest, json) VALUES ($1, $2, $3)",
                    &[&pk, &digest, &json],
                )
                .await?;
                let st = t
                    .prepare(
                        "INSERT INTO winners (period, line, invoice_number, seller, prize, amount, payable, carrier, npo) \
                         SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[])",
                    )
                    .await?;
                for chunk in load.winners.chunks(WINNER_CHUNK) {
                    let line: Vec<i64> = chunk
                        .iter()
                        .map(|w| to_i64(w.line))
                        .collect::<Result<_, _>>()?;
                    let num: Vec<&str> = chunk.iter().map(|w| w.invoice_number.as_str()).collect();
                    let seller: Vec<&str> = chunk.iter().map(|w| w.seller.as_str()).collect();
                    let prize: Vec<&str> = chunk.iter().map(|w| w.prize.as_str()).collect();
                    let amount: Vec<i64> = chunk.iter().map(|w| w.amount).collect();
                    let payable: Vec<i64> = chunk.iter().map(|w| w.payable).collect();
                    let carrier: Vec<Option<&str>> =
                        chunk.iter().map(|w| w.carrier.as_deref()).collect();
                    let npo: Vec<Option<&str>> = chunk.iter().map(|w| w.npo.as_deref()).collect();
                    t.execute(
                        &st,
                        &[&pk, &line, &num, &seller, &prize, &amount, &payable, &carrier, &npo],
                    )
                    .await?;
                }
                // Notifications commit or roll back with the winners.
                let ob = t
                    .prepare(
                        "INSERT INTO outbox (id, kind, body) \
                         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) ON CONFLICT (id) DO NOTHING",
                    )
                    .await?;
                for chunk in notes.chunks(WINNER_CHUNK) {
                    let id: Vec<&str> = chunk.iter().map(|n| n.id.as_str()).collect();
                    let kind: Vec<&str> = chunk.iter().map(|n| n.kind.as_str()).collect();
                    let body: Vec<&str> = chunk.iter().map(|n| n.body.as_str()).collect();
                    t.execute(&ob, &[&id, &kind, &body]).await?;
                }
                t.commit().await?;
                Ok(DrawPut::Stored)
            })
            .await
    }

    /// Lease due, unleased items to `worker` in one statement. `FOR UPDATE
    /// SKIP LOCKED` passes over rows another node's claim is taking right
    /// now, and a row that claim has just leased fails the re-checked
    /// condition, so concurrent claims get disjoint items without waiting.
    /// The locked rows are a materialized CTE, evaluated once: as an
    /// `id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` sub-select the
    /// planner may re-run it per row, and each run skips the rows the
    /// statement has already updated, so `LIMIT` would not hold.
    pub(crate) async fn draw_outbox_claim(
        &self,
        now_unix: i64,
        limit: u32,
        lease_secs: u32,
        worker: &str,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let lim = i64::from(limit);
        let until = now_unix.saturating_add(i64::from(lease_secs.max(1)));
        self.run(|c| async move {
            let rows = c
                .query(
                    "WITH due AS MATERIALIZED ( \
                         SELECT id FROM outbox \
                         WHERE delivered_unix IS NULL AND next_unix <= $1 \
                           AND (lease_until IS NULL OR lease_until <= $1) \
                         ORDER BY next_unix, id LIMIT $2 \
                         FOR UPDATE SKIP LOCKED) \
                     UPDATE outbox o SET lease_owner = $3, lease_until = $4 \
                     FROM due WHERE o.id = due.id \
                     RETURNING o.id, o.kind, o.body, o.attempts, o.next_unix",
                    &[&now_unix, &lim, &worker, &until],
                )
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
            // RETURNING has no order of its own.
            items.sort_by(|a, b| (a.next_unix, &a.id).cmp(&(b.next_unix, &b.id)));
            Ok(items)
        })
        .await
    }

    /// Record `worker`'s outcome of `id` and end its lease, if it holds it.
    pub(crate) async fn draw_outbox_mark(
        &self,
        id: &str,
        worker: &str,
        outcome: OutboxOutcome,
    ) -> Result<bool, StoreError> {
        let outcome = &outcome;
        self.run(|c| async move {
            let n = match outcome {
                OutboxOutcome::Delivered { at_unix } => {
                    c.execute(
                        "UPDATE outbox SET delivered_unix = $3, lease_owner = NULL, lease_until = NULL \
                         WHERE id = $1 AND lease_owner = $2 AND delivered_unix IS NULL",
                        &[&id, &worker, at_unix],
                    )
                    .await?
                }
                OutboxOutcome::Failed { next_unix, error } => {
                    c.execute(
                        "UPDATE outbox SET attempts = attempts + 1, next_unix = $3, last_error = $4, \
                         lease_owner = NULL, lease_until = NULL \
                         WHERE id = $1 AND lease_owner = $2 AND delivered_unix IS NULL",
                        &[&id, &worker, next_unix, error],
                    )
                    .await?
                }
            };
            Ok(n == 1)
        })
        .await
    }

    pub(crate) async fn draw_winners_summary(
        &self,
        period: Period,
    ) -> Result<Option<WinnersSummary>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        self.run(|c| async move {
            match c
                .query_opt("SELECT json FROM draw_loads WHERE period = $1", &[&pk])
                .await?
            {
                Some(r) => Ok(Some(parse_json(
                    "winners load",
                    &r.try_get::<_, String>(0)?,
                )?)),
                None => Ok(None),
            }
        })
        .await
    }

    pub(crate) async fn draw_winners(
        &self,
        period: Period,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<WinnerRecord>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        let after = match after {
            Some(a) => to_i64(a).map_err(DbError::into_store)?,
            None => -1,
        };
        let lim = i64::from(limit);
        self.run(|c| async move {
            let sql = format!(
                "SELECT {WINNER_COLUMNS} FROM winners WHERE period = $1 AND line > $2 ORDER BY line LIMIT $3"
            );
            let rows = c.query(sql.as_str(), &[&pk, &after, &lim]).await?;
            rows.iter().map(winner_of).collect()
        })
        .await
    }

    pub(crate) async fn draw_carrier_winnings(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<WinnerRecord>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        let key = carrier_key(carrier);
        let key = key.as_str();
        self.run(|c| async move {
            let sql = format!(
                "SELECT {WINNER_COLUMNS} FROM winners WHERE carrier = $1 AND period = $2 ORDER BY line"
            );
            let rows = c.query(sql.as_str(), &[&key, &pk]).await?;
            rows.iter().map(winner_of).collect()
        })
        .await
    }

    pub(crate) async fn draw_put_bank_account(
        &self,
        account: BankAccountRecord,
    ) -> Result<(), StoreError> {
        let json = json_of(&account)?;
        let (json, carrier) = (json.as_str(), account.carrier.as_str());
        self.run(|c| async move {
            c.execute(
                "INSERT INTO bank_accounts (carrier, json) VALUES ($1, $2) \
                 ON CONFLICT (carrier) DO UPDATE SET json = excluded.json",
                &[&carrier, &json],
            )
            .await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn draw_bank_account(
        &self,
        carrier: &str,
    ) -> Result<Option<BankAccountRecord>, StoreError> {
        self.run(|c| async move {
            match c
                .query_opt(
                    "SELECT json FROM bank_accounts WHERE carrier = $1",
                    &[&carrier],
                )
                .await?
            {
                Some(r) => Ok(Some(parse_json(
                    "bank account",
                    &r.try_get::<_, String>(0)?,
                )?)),
                None => Ok(None),
            }
        })
        .await
    }
}
