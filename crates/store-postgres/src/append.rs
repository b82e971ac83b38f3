//! The write path: the node's writer task (group commit) and the ledger
//! entries and projections it writes in one transaction per batch.

use crate::error::DbError;
use crate::{Job, MAX_BATCH, Shared};
use einvoice_core::validated::Delivery;
use einvoice_core::{Facts, Validated};
use einvoice_store::{
    AppendOutcome, EntryHash, Hlc, NewEntry, Receipt, Rejection, Scope, StoreError, hash_entry,
};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;

/// What one caller asked to append.
pub(crate) enum Request {
    /// Validated messages for sellers within `scope`.
    Messages {
        scope: Scope,
        actor: String,
        messages: Vec<Validated>,
    },
    /// One event entry (operator actions, carrier and draw events).
    Event(NewEntry),
}

impl Request {
    fn weight(&self) -> usize {
        match self {
            Self::Messages { messages, .. } => messages.len(),
            Self::Event(_) => 1,
        }
    }
}

/// What one request produced, before the commit.
enum Output {
    Messages(Vec<AppendOutcome>),
    Event(Receipt),
}

impl Job {
    fn input(&self) -> &Request {
        match self {
            Job::Append { input, .. } | Job::Event { input, .. } => input,
        }
    }

    fn deliver(self, result: Result<Output, StoreError>) {
        match (self, result) {
            (Job::Append { reply, .. }, Ok(Output::Messages(v))) => {
                let _ = reply.send(Ok(v));
            }
            (Job::Event { reply, .. }, Ok(Output::Event(r))) => {
                let _ = reply.send(Ok(r));
            }
            (Job::Append { reply, .. }, Err(e)) => {
                let _ = reply.send(Err(e));
            }
            (Job::Event { reply, .. }, Err(e)) => {
                let _ = reply.send(Err(e));
            }
            (Job::Append { reply, .. }, Ok(Output::Event(_))) => {
                let _ = reply.send(Err(StoreError::Backend("writer mixed up replies".into())));
            }
            (Job::Event { reply, .. }, Ok(Output::Messages(_))) => {
                let _ = reply.send(Err(StoreError::Backend("writer mixed up replies".into())));
            }
        }
    }
}

/// The node's writer task: take what is queued (up to [`MAX_BATCH`]
/// messages), commit it as one transaction, then answer every caller. Ends
/// when every [`crate::PgStore`] handle of the node is dropped.
pub(crate) async fn writer(shared: Arc<Shared>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut weight = first.input().weight();
        let mut jobs = vec![first];
        while weight < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => {
                    weight += j.input().weight();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let inputs: Vec<&Request> = jobs.iter().map(Job::input).collect();
        match commit(&shared, &inputs).await {
            Ok(outputs) => {
                for (job, out) in jobs.into_iter().zip(outputs) {
                    job.deliver(Ok(out));
                }
            }
            // One request's failure must not fail the others: run each alone.
            Err(e) if jobs.len() > 1 && !matches!(e, StoreError::Unavailable(_)) => {
                for job in jobs {
                    let result = commit(&shared, &[job.input()])
                        .await
                        .and_then(|mut v| v.pop().ok_or_else(|| backend("no output")));
                    job.deliver(result);
                }
            }
            Err(e) => {
                for job in jobs {
                    job.deliver(Err(e.clone()));
                }
            }
        }
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Run `inputs` in one transaction (retried as a whole on serialization
/// failures, deadlocks and writer races) and commit.
async fn commit(shared: &Shared, inputs: &[&Request]) -> Result<Vec<Output>, StoreError> {
    let site = shared.site.as_str();
    let known = &shared.partitions;
    let (outputs, created) = shared
        .run(true, |mut c| async move {
            let result = async {
                let t = c.transaction().await?;
                let mut w = Writer::begin(&t, site, known).await?;
                let mut outputs = Vec::with_capacity(inputs.len());
                for input in inputs {
                    outputs.push(w.run(input).await?);
                }
                w.finish().await?;
                let created = std::mem::take(&mut w.created);
                t.commit().await?;
                Ok::<_, DbError>((outputs, created))
            }
            .await;
            if let Err(e) = &result
                && e.code() == Some(&SqlState::CHECK_VIOLATION)
                && let Ok(mut k) = known.lock()
            {
                // "no partition of relation found for row": a partition this
                // node remembered was detached. Forget them all; the retry
                // creates what is missing.
                k.clear();
            }
            result
        })
        .await?;
    if let Ok(mut k) = known.lock() {
        k.extend(created);
    }
    Ok(outputs)
}

/// The chain head of this site's origin, read under its row lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: EntryHash,
    pub(crate) hlc: Hlc,
}

/// The table of a period's invoice partition.
pub(crate) fn partition_name(key: u32) -> String {
    format!("invoices_p{key}")
}

/// `CREATE TABLE IF NOT EXISTS` for a period's invoice partition. `key` is a
/// number (`Period::key`), so formatting it into SQL is safe.
pub(crate) fn create_partition_sql(key: u32) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF invoices FOR VALUES IN ({key})",
        partition_name(key)
    )
}

pub(crate) fn to_i64(v: u64) -> Result<i64, DbError> {
    i64::try_from(v).map_err(|_| DbError::Store(StoreError::Corrupt(format!("{v} exceeds i64"))))
}

pub(crate) fn to_u64(v: i64) -> Result<u64, DbError> {
    u64::try_from(v).map_err(|_| DbError::Store(StoreError::Corrupt(format!("negative {v}"))))
}

pub(crate) fn period_key(p: einvoice_core::Period) -> Result<i32, DbError> {
    i32::try_from(p.key()).map_err(|_| {
        DbError::Store(StoreError::Corrupt(format!(
            "period key {} exceeds i32",
            p.key()
        )))
    })
}

pub(crate) fn hash_of(bytes: &[u8]) -> Result<EntryHash, DbError> {
    <[u8; 32]>::try_from(bytes).map(EntryHash).map_err(|_| {
        DbError::Store(StoreError::Corrupt(format!(
            "stored hash has {} bytes, not 32",
            bytes.len()
        )))
    })
}

const LOCK_HEAD: &str = "SELECT seq, hash, hlc FROM ledger_heads WHERE origin = $1 FOR UPDATE";
pub(crate) const INSERT_LEDGER: &str = "INSERT INTO ledger (origin, seq, hlc, kind, key, actor, body, prev_hash, hash, message) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
/// Idempotency: the message already accepted under (kind, natural key).
pub(crate) const EXISTING_MESSAGE: &str =
    "SELECT origin, seq, hlc, body, hash FROM ledger WHERE kind = $1 AND key = $2 AND message";
/// NUMBER_OUTSIDE_TRACK: is the number inside one of the seller's allocations?
pub(crate) const NUMBER_IN_TRACK: &str = "SELECT 1 FROM tracks WHERE seller = $1 AND period = $2 AND track = $3 \
     AND begin_no <= $4 AND end_no >= $4 LIMIT 1";
/// TRACK_OVERLAP: does a range overlap any allocation?
pub(crate) const TRACK_CLASH: &str = "SELECT seller FROM tracks WHERE period = $1 AND track = $2 \
     AND begin_no <= $4 AND end_no >= $3 LIMIT 1";
const HELD_FOR: &str = "SELECT status FROM held WHERE seller = $1 AND number = $2";
const INSERT_INVOICE: &str = "INSERT INTO invoices (seller, number, period, date, time, buyer, random, carrier_type, carrier_id, \
     npoban, total, status, body, origin, seq, allowance) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
     (SELECT coalesce(sum(amount), 0)::bigint FROM allowances WHERE seller = $1 AND invoice = $2 AND NOT cancelled))";
const REFRESH_ALLOWANCE: &str = "UPDATE invoices SET allowance = \
     (SELECT coalesce(sum(amount), 0)::bigint FROM allowances WHERE seller = $1 AND invoice = $2 AND NOT cancelled) \
     WHERE seller = $1 AND number = $2";

/// One batch's transaction, positioned at the locked chain head.
pub(crate) struct Writer<'a, 't> {
    pub(crate) t: &'a deadpool_postgres::Transaction<'t>,
    pub(crate) site: &'a str,
    pub(crate) head: Head,
    pub(crate) start_seq: u64,
    pub(crate) known: &'a Mutex<HashSet<u32>>,
    /// Partitions this transaction created (remembered after the commit).
    pub(crate) created: Vec<u32>,
}

impl<'a, 't> Writer<'a, 't> {
    /// Lock this origin's head row (creating it on first use) and read the head.
    async fn begin(
        t: &'a deadpool_postgres::Transaction<'t>,
        site: &'a str,
        known: &'a Mutex<HashSet<u32>>,
    ) -> Result<Self, DbError> {
        let lock = t.prepare_cached(LOCK_HEAD).await?;
        let row = match t.query_opt(&lock, &[&site]).await? {
            Some(row) => row,
            None => {
                // First append of this origin in this database: start the head
                // at the ledger's last entry (normally none: genesis).
                let last = t
                    .query_opt(
                        "SELECT seq, hash, hlc FROM ledger WHERE origin = $1 ORDER BY seq DESC LIMIT 1",
                        &[&site],
                    )
                    .await?;
                let (seq, hash, hlc) = match last {
                    Some(r) => (
                        r.try_get::<_, i64>(0)?,
                        r.try_get::<_, Vec<u8>>(1)?,
                        r.try_get::<_, i64>(2)?,
                    ),
                    None => (0, EntryHash::GENESIS.0.to_vec(), 0),
                };
                t.execute(
                    "INSERT INTO ledger_heads (origin, seq, hash, hlc) VALUES ($1, $2, $3, $4) ON CONFLICT (origin) DO NOTHING",
                    &[&site, &seq, &hash, &hlc],
                )
                .await?;
                t.query_one(&lock, &[&site]).await?
            }
        };
        let head = Head {
            seq: to_u64(row.try_get(0)?)?,
            hash: hash_of(&row.try_get::<_, Vec<u8>>(1)?)?,
            hlc: Hlc(to_u64(row.try_get(2)?)?),
        };
        Ok(Self {
            t,
            site,
            head,
            start_seq: head.seq,
            known,
            created: Vec::new(),
        })
    }

    /// Move the head row to the last entry written.
    async fn finish(&mut self) -> Result<(), DbError> {
        if self.head.seq != self.start_seq {
            let st = self
                .t
                .prepare_cached(
                    "UPDATE ledger_heads SET seq = $2, hash = $3, hlc = $4 WHERE origin = $1",
                )
                .await?;
            self.t
                .execute(
                    &st,
                    &[
                        &self.site,
                        &to_i64(self.head.seq)?,
                        &&self.head.hash.0[..],
                        &to_i64(self.head.hlc.0)?,
                    ],
                )
                .await?;
        }
        Ok(())
    }

    async fn run(&mut self, input: &Request) -> Result<Output, DbError> {
        match input {
            Request::Messages {
                scope,
                actor,
                messages,
            } => {
                let mut out = Vec::with_capacity(messages.len());
                for m in messages {
                    out.push(self.append_one(scope, actor, m).await?);
                }
                Ok(Output::Messages(out))
            }
            Request::Event(e) => Ok(Output::Event(
                self.push(&e.kind, &e.key, &e.actor, &e.body, false).await?,
            )),
        }
    }

    /// Append one ledger row at the head and advance the head.
    async fn push(
        &mut self,
        kind: &str,
        key: &str,
        actor: &str,
        body: &[u8],
        message: bool,
    ) -> Result<Receipt, DbError> {
        let seq = self.head.seq + 1;
        let hlc = Hlc::now_after(self.head.hlc);
        let hash = hash_entry(&self.head.hash, self.site, seq, hlc, kind, key, actor, body);
        let st = self.t.prepare_cached(INSERT_LEDGER).await?;
        self.t
            .execute(
                &st,
                &[
                    &self.site,
                    &to_i64(seq)?,
                    &to_i64(hlc.0)?,
                    &kind,
                    &key,
                    &actor,
                    &body,
                    &&self.head.hash.0[..],
                    &&hash.0[..],
                    &message,
                ],
            )
            .await?;
        self.head = Head { seq, hash, hlc };
        Ok(Receipt {
            origin: self.site.to_string(),
            seq,
            hash,
            hlc,
            kind: kind.to_string(),
            key: key.to_string(),
            duplicate: false,
        })
    }

    async fn append_one(
        &mut self,
        scope: &Scope,
        actor: &str,
        v: &Validated,
    ) -> Result<AppendOutcome, DbError> {
        let seller = v.seller();
        if !scope.allows(&seller) {
            return Ok(Err(Rejection::new(
                "TENANT_SCOPE",
                "Seller",
                format!("this key may not act for seller {seller}"),
            )));
        }
        let kind = v.kind().as_str();
        let key = v.key().to_key_string();
        let body = einvoice_mig::canonical(&v.message);

        // Idempotency by (kind, natural key).
        let st = self.t.prepare_cached(EXISTING_MESSAGE).await?;
        if let Some(row) = self.t.query_opt(&st, &[&kind, &key]).await? {
            let old_body: Vec<u8> = row.try_get(3)?;
            let receipt = Receipt {
                origin: row.try_get(0)?,
                seq: to_u64(row.try_get(1)?)?,
                hash: hash_of(&row.try_get::<_, Vec<u8>>(4)?)?,
                hlc: Hlc(to_u64(row.try_get(2)?)?),
                kind: kind.to_string(),
                key: key.clone(),
                duplicate: true,
            };
            if old_body == body {
                return Ok(Ok(receipt));
            }
            let mut r = Rejection::new(
                "DUPLICATE_CONFLICT",
                "",
                format!(
                    "a different {kind} for {key} was already accepted as entry {}#{} ({}); send a cancel or void instead of a second version",
                    receipt.origin, receipt.seq, receipt.hash
                ),
            );
            r.original = Some(Receipt {
                duplicate: false,
                ..receipt
            });
            return Ok(Err(r));
        }

        match &v.facts {
            Facts::Invoice(f) => {
                let st = self.t.prepare_cached(NUMBER_IN_TRACK).await?;
                let inside = self
                    .t
                    .query_opt(
                        &st,
                        &[
                            &f.seller.as_str(),
                            &period_key(f.period)?,
                            &f.number.track().as_str(),
                            &i64::from(f.number.number()),
                        ],
                    )
                    .await?;
                if inside.is_none() {
                    return Ok(Err(Rejection::new(
                        "NUMBER_OUTSIDE_TRACK",
                        "Main/InvoiceNumber",
                        format!(
                            "{} is not in a range allocated to seller {} for period {}; allocate a track (E0401) first",
                            f.number, f.seller, f.period
                        ),
                    )));
                }
            }
            Facts::TrackAllocation(f) => {
                let st = self.t.prepare_cached(TRACK_CLASH).await?;
                for (b, e) in track_ranges(f) {
                    let clash = self
                        .t
                        .query_opt(
                            &st,
                            &[
                                &period_key(f.period)?,
                                &f.track.as_str(),
                                &i64::from(b),
                                &i64::from(e),
                            ],
                        )
                        .await?;
                    if let Some(row) = clash {
                        let owner: String = row.try_get(0)?;
                        return Ok(Err(Rejection::new(
                            "TRACK_OVERLAP",
                            "Details",
                            format!(
                                "{}{b:08}–{e:08} in period {} overlaps a range already allocated to {owner}",
                                f.track, f.period
                            ),
                        )));
                    }
                }
            }
            _ => {}
        }

        let receipt = self.push(kind, &key, actor, &body, true).await?;
        self.project(&receipt, &v.facts, &body).await?;
        Ok(Ok(receipt))
    }

    /// Make sure the invoice partition of a period exists in this transaction.
    async fn ensure_partition(&mut self, key: u32) -> Result<(), DbError> {
        let known = self.created.contains(&key)
            || self.known.lock().map(|k| k.contains(&key)).unwrap_or(false);
        if !known {
            self.t.batch_execute(&create_partition_sql(key)).await?;
            self.created.push(key);
        }
        Ok(())
    }

    /// Update the projections for one accepted message.
    pub(crate) async fn project(
        &mut self,
        r: &Receipt,
        facts: &Facts,
        body: &[u8],
    ) -> Result<(), DbError> {
        match facts {
            Facts::Invoice(f) => {
                self.ensure_partition(f.period.key()).await?;
                let (seller, number) = (f.seller.as_str(), f.number.to_string());
                let st = self.t.prepare_cached(HELD_FOR).await?;
                let held: Vec<String> = self
                    .t
                    .query(&st, &[&seller, &number])
                    .await?
                    .iter()
                    .map(|row| row.try_get(0))
                    .collect::<Result<_, _>>()?;
                // A held cancel dominates a held void (see core::resolve).
                let status = if held.iter().any(|s| s == "cancelled") {
                    "cancelled"
                } else if held.iter().any(|s| s == "voided") {
                    "voided"
                } else {
                    "issued"
                };
                let (ct, cid, npo) = match &f.delivery {
                    Delivery::Carrier(c) => {
                        (Some(c.kind.code().to_string()), Some(c.id.clone()), None)
                    }
                    Delivery::Donated(l) => (None, None, Some(l.as_str().to_string())),
                    _ => (None, None, None),
                };
                let date = einvoice_core::period::format_mig_date(f.date);
                let time = format!(
                    "{:02}:{:02}:{:02}",
                    f.time.hour(),
                    f.time.minute(),
                    f.time.second()
                );
                let random = f.random.as_ref().map(|x| x.as_str().to_string());
                let st = self.t.prepare_cached(INSERT_INVOICE).await?;
                self.t
                    .execute(
                        &st,
                        &[
                            &seller,
                            &number,
                            &period_key(f.period)?,
                            &date,
                            &time,
                            &f.buyer.mig_str(),
                            &random,
                            &ct,
                            &cid,
                            &npo,
                            &f.total.0,
                            &status,
                            &body,
                            &r.origin,
                            &to_i64(r.seq)?,
                        ],
                    )
                    .await?;
            }
            Facts::Cancel(c) | Facts::Void(c) => {
                let cancel = matches!(facts, Facts::Cancel(_));
                let status = if cancel { "cancelled" } else { "voided" };
                let (seller, number) = (c.seller.as_str(), c.number.to_string());
                self.t
                    .execute(
                        "INSERT INTO held (seller, number, status) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        &[&seller, &number, &status],
                    )
                    .await?;
                // Cancel dominates void whatever the order.
                let sql = if cancel {
                    "UPDATE invoices SET status = 'cancelled' WHERE seller = $1 AND number = $2"
                } else {
                    "UPDATE invoices SET status = 'voided' WHERE seller = $1 AND number = $2 AND status = 'issued'"
                };
                self.t.execute(sql, &[&seller, &number]).await?;
            }
            Facts::Allowance(a) => {
                let mut per_invoice: std::collections::BTreeMap<String, i64> = Default::default();
                for it in &a.items {
                    let amount = einvoice_core::money::round_half_up(it.amount)
                        .try_into()
                        .unwrap_or(0i64)
                        .saturating_add(it.tax.0);
                    *per_invoice
                        .entry(it.original_number.to_string())
                        .or_default() += amount;
                }
                let seller = a.seller.as_str();
                for (inv, amount) in per_invoice {
                    self.t
                        .execute(
                            "INSERT INTO allowances (seller, allowance, invoice, amount) VALUES ($1, $2, $3, $4)",
                            &[&seller, &a.number, &inv, &amount],
                        )
                        .await?;
                    self.t.execute(REFRESH_ALLOWANCE, &[&seller, &inv]).await?;
                }
            }
            Facts::CancelAllowance(c) => {
                let seller = c.seller.as_str();
                let invoices: Vec<String> = self
                    .t
                    .query(
                        "UPDATE allowances SET cancelled = true WHERE seller = $1 AND allowance = $2 RETURNING invoice",
                        &[&seller, &c.number],
                    )
                    .await?
                    .iter()
                    .map(|row| row.try_get(0))
                    .collect::<Result<_, _>>()?;
                for inv in invoices {
                    self.t.execute(REFRESH_ALLOWANCE, &[&seller, &inv]).await?;
                }
            }
            Facts::TrackAllocation(f) => {
                for (b, e) in track_ranges(f) {
                    self.t
                        .execute(
                            "INSERT INTO tracks (seller, period, track, begin_no, end_no) VALUES ($1, $2, $3, $4, $5)",
                            &[
                                &f.seller.as_str(),
                                &period_key(f.period)?,
                                &f.track.as_str(),
                                &i64::from(b),
                                &i64::from(e),
                            ],
                        )
                        .await?;
                }
            }
            Facts::Blank(_) => {}
        }
        Ok(())
    }
}

fn track_ranges(f: &einvoice_core::validated::TrackRangeFacts) -> Vec<(u32, u32)> {
    if f.items.is_empty() {
        vec![(f.begin, f.end)]
    } else {
        f.items.iter().map(|(b, e, _)| (*b, *e)).collect()
    }
}
