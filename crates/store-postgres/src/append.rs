//! The write path: the node's writer task (group commit) and the ledger
//! entries and projections it writes in one transaction per batch.

#[cfg(test)]
mod explain_batch;

use crate::error::DbError;
use crate::{Job, MAX_BATCH, Shared};
use einvoice_core::validated::InvoiceFacts;
use einvoice_core::{Facts, Validated};
use einvoice_store::append_rules::{
    InvoiceColumns, allowance_per_invoice, held_status, outside_track, seen_before,
    status_on_issue, status_on_issue_of, track_overlap, track_ranges,
};
use einvoice_store::{
    AdmittedMessage, AppendOutcome, EntryHash, Hlc, NewEntry, Receipt, Rejection, StoreError,
    hash_entry,
};
use futures_util::future::{try_join, try_join3};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;

/// What one caller asked to append.
pub(crate) enum Request {
    /// Messages admitted by the caller's scope, or their rejections.
    Messages {
        actor: String,
        messages: Vec<Result<AdmittedMessage, Rejection>>,
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
    // Scope checks, natural keys and canonical bodies need no database:
    // computed once, before the transaction (and its retries).
    let prepared: Vec<Prepared<'_>> = inputs.iter().map(|r| prepare(r)).collect();
    let prepared = &prepared;
    let (outputs, created) = shared
        .run(true, |mut c| async move {
            let result = async {
                let t = c.transaction().await?;
                // Every statement prepared first, so that below the lock and
                // the lookups go out in this order, in one round trip.
                let (lock, _) = try_join(
                    async { Ok::<_, DbError>(t.prepare_cached(LOCK_HEAD).await?) },
                    Lookups::prepare(&t),
                )
                .await?;
                let lead = leading_run(prepared);
                // The server runs pipelined statements in order: the lookups
                // start (each with a fresh snapshot) only once the head row
                // is locked, so they see every commit before ours.
                let ((mut w, locked), pre) = try_join(
                    Writer::begin(&t, site, known, &lock),
                    Lookups::fetch(&t, &lead),
                )
                .await?;
                // Without a head row to lock, the lookups ran unlocked: redo them.
                let pre = if locked { Some(pre) } else { None };
                let outputs = w.run_all(prepared, pre).await?;
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

pub(crate) const LOCK_HEAD: &str =
    "SELECT seq, hash, hlc FROM ledger_heads WHERE origin = $1 FOR UPDATE";
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
/// Idempotency for a run: the messages already accepted under any of the
/// (kind, key) pairs `$1`, `$2`, by 1-based position in the arrays.
pub(crate) const EXISTING_MESSAGES: &str = "SELECT q.i, l.origin, l.seq, l.hlc, l.body, l.hash \
     FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS q(kind, key, i) \
     JOIN ledger l ON l.kind = q.kind AND l.key = q.key AND l.message";
/// NUMBER_OUTSIDE_TRACK for a run: the positions whose number lies inside
/// one of the seller's allocations.
pub(crate) const NUMBERS_IN_TRACKS: &str = "SELECT q.i \
     FROM UNNEST($1::text[], $2::integer[], $3::text[], $4::bigint[]) WITH ORDINALITY AS q(seller, period, track, no, i) \
     WHERE EXISTS (SELECT 1 FROM tracks t WHERE t.seller = q.seller AND t.period = q.period \
     AND t.track = q.track AND t.begin_no <= q.no AND t.end_no >= q.no)";
/// Held cancels / voids for a run's (seller, number) pairs, by position.
pub(crate) const HELD_FOR_ALL: &str = "SELECT q.i, h.status \
     FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS q(seller, number, i) \
     JOIN held h ON h.seller = q.seller AND h.number = q.number";
const INSERT_LEDGER_ROWS: &str = "INSERT INTO ledger (origin, seq, hlc, kind, key, actor, body, prev_hash, hash, message) \
     SELECT $1, u.seq, u.hlc, u.kind, u.key, u.actor, u.body, u.prev, u.hash, true \
     FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[], $9::bytea[]) \
     AS u(seq, hlc, kind, key, actor, body, prev, hash)";
const INSERT_INVOICE_ROWS: &str = "INSERT INTO invoices (seller, number, period, date, time, buyer, random, carrier_type, carrier_id, \
     npoban, total, status, body, origin, seq, allowance) \
     SELECT u.seller, u.number, u.period, u.date, u.time, u.buyer, u.random, u.ct, u.cid, u.npo, u.total, u.status, u.body, $1, u.seq, \
     (SELECT coalesce(sum(a.amount), 0)::bigint FROM allowances a WHERE a.seller = u.seller AND a.invoice = u.number AND NOT a.cancelled) \
     FROM UNNEST($2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
     $11::text[], $12::bigint[], $13::text[], $14::bytea[], $15::bigint[]) \
     AS u(seller, number, period, date, time, buyer, random, ct, cid, npo, total, status, body, seq)";
const UPDATE_HEAD: &str = "UPDATE ledger_heads SET seq = $2, hash = $3, hlc = $4 WHERE origin = $1";
const HELD_FOR: &str = "SELECT status FROM held WHERE seller = $1 AND number = $2";
const INSERT_INVOICE: &str = "INSERT INTO invoices (seller, number, period, date, time, buyer, random, carrier_type, carrier_id, \
     npoban, total, status, body, origin, seq, allowance) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
     (SELECT coalesce(sum(amount), 0)::bigint FROM allowances WHERE seller = $1 AND invoice = $2 AND NOT cancelled))";
const REFRESH_ALLOWANCE: &str = "UPDATE invoices SET allowance = \
     (SELECT coalesce(sum(amount), 0)::bigint FROM allowances WHERE seller = $1 AND invoice = $2 AND NOT cancelled) \
     WHERE seller = $1 AND number = $2";

/// Append one event entry inside `t`, the transaction of another write (a
/// draw freeze or winners load), so that both commit or neither: lock this
/// origin's head row (creating it on first use), push the entry through
/// [`Writer::push`] — the chain code of every append — and move the head.
/// The head row stays locked until `t` ends and every append of the origin
/// waits for it: call this last, just before the commit.
pub(crate) async fn append_event_in(
    t: &deadpool_postgres::Transaction<'_>,
    site: &str,
    known: &Mutex<HashSet<u32>>,
    entry: &NewEntry,
) -> Result<Receipt, DbError> {
    let lock = t.prepare_cached(LOCK_HEAD).await?;
    let (mut w, _) = Writer::begin(t, site, known, &lock).await?;
    let receipt = w
        .push(&entry.kind, &entry.key, &entry.actor, &entry.body, false)
        .await?;
    w.finish().await?;
    Ok(receipt)
}

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
    /// The flag is true when the first statement sent took the lock (the
    /// head row existed): statements pipelined behind it ran under the lock.
    pub(crate) async fn begin(
        t: &'a deadpool_postgres::Transaction<'t>,
        site: &'a str,
        known: &'a Mutex<HashSet<u32>>,
        lock: &tokio_postgres::Statement,
    ) -> Result<(Self, bool), DbError> {
        let mut locked = true;
        let row = match t.query_opt(lock, &[&site]).await? {
            Some(row) => row,
            None => {
                locked = false;
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
                t.query_one(lock, &[&site]).await?
            }
        };
        let head = Head {
            seq: to_u64(row.try_get(0)?)?,
            hash: hash_of(&row.try_get::<_, Vec<u8>>(1)?)?,
            hlc: Hlc(to_u64(row.try_get(2)?)?),
        };
        Ok((
            Self {
                t,
                site,
                head,
                start_seq: head.seq,
                known,
                created: Vec::new(),
            },
            locked,
        ))
    }

    /// Move the head row to the last entry written.
    pub(crate) async fn finish(&mut self) -> Result<(), DbError> {
        if self.head.seq != self.start_seq {
            let st = self.t.prepare_cached(UPDATE_HEAD).await?;
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

    /// Run every prepared request in order. Consecutive invoices (F0401 /
    /// A0101), across requests too, are handled set-based by
    /// [`Writer::flush`]; anything else flushes them first and then runs one
    /// message at a time, so every message sees exactly what the ones before
    /// it wrote, as if appended one by one.
    ///
    /// `pre` holds the lookups of the leading run (see [`leading_run`]),
    /// fetched under the lock together with it, when available.
    async fn run_all(
        &mut self,
        inputs: &[Prepared<'_>],
        mut pre: Option<Lookups>,
    ) -> Result<Vec<Output>, DbError> {
        let mut slots: Vec<Vec<Option<AppendOutcome>>> = inputs
            .iter()
            .map(|p| match p {
                Prepared::Messages { messages, .. } => messages.iter().map(|_| None).collect(),
                Prepared::Event(_) => Vec::new(),
            })
            .collect();
        let mut events: Vec<Option<Receipt>> = inputs.iter().map(|_| None).collect();
        let mut run: Vec<Pending<'_>> = Vec::new();
        for (r, input) in inputs.iter().enumerate() {
            match input {
                Prepared::Messages { actor, messages } => {
                    for (m, prepped) in messages.iter().enumerate() {
                        match prepped {
                            Err(rejection) => slots[r][m] = Some(Err(rejection.clone())),
                            Ok(p) => match &p.v.facts {
                                Facts::Invoice(f) => run.push(Pending { r, m, actor, p, f }),
                                _ => {
                                    self.flush(&mut run, &mut slots, pre.take(), false).await?;
                                    slots[r][m] = Some(self.append_one(actor, p).await?);
                                }
                            },
                        }
                    }
                }
                Prepared::Event(e) => {
                    self.flush(&mut run, &mut slots, pre.take(), false).await?;
                    events[r] = Some(self.push(&e.kind, &e.key, &e.actor, &e.body, false).await?);
                }
            }
        }
        self.flush(&mut run, &mut slots, pre.take(), true).await?;
        inputs
            .iter()
            .zip(slots)
            .zip(events)
            .map(|((input, slot), event)| match input {
                Prepared::Messages { .. } => slot
                    .into_iter()
                    .map(|o| o.ok_or_else(|| DbError::Store(backend("a message got no outcome"))))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Output::Messages),
                Prepared::Event(_) => event
                    .map(Output::Event)
                    .ok_or_else(|| DbError::Store(backend("an event got no receipt"))),
            })
            .collect()
    }

    /// Append a run of invoices set-based: one pipelined round trip reads
    /// what the run needs (earlier messages under the same keys, track
    /// checks, held cancels/voids), the outcomes are decided in order in
    /// memory (a key repeated inside the run sees its earlier occurrence),
    /// then one multi-row insert writes the ledger rows and one the invoices.
    /// Nothing else writes to the tables read here while a run is pending, so
    /// this is what appending the messages one by one would do.
    ///
    /// `pre` are this run's lookups when they were fetched ahead (ignored
    /// unless they cover exactly this run). With `last`, the head row is
    /// moved in the same round trip as the inserts.
    async fn flush(
        &mut self,
        run: &mut Vec<Pending<'_>>,
        slots: &mut [Vec<Option<AppendOutcome>>],
        pre: Option<Lookups>,
        last: bool,
    ) -> Result<(), DbError> {
        if run.is_empty() {
            return Ok(());
        }
        let run = std::mem::take(run);
        let n = run.len();
        let Lookups {
            existing,
            inside,
            held,
            ..
        } = match pre {
            Some(l) if l.n == n => l,
            _ => {
                Lookups::prepare(self.t).await?;
                Lookups::fetch(self.t, &run).await?
            }
        };
        let kinds: Vec<&str> = run.iter().map(|x| x.p.kind).collect();
        let keys: Vec<&str> = run.iter().map(|x| x.p.key.as_str()).collect();
        let numbers: Vec<String> = run.iter().map(|x| x.f.number.to_string()).collect();
        let periods: Vec<i32> = run
            .iter()
            .map(|x| period_key(x.f.period))
            .collect::<Result<_, _>>()?;
        let at = |i: i64| -> Result<usize, DbError> {
            i.checked_sub(1)
                .and_then(|i| usize::try_from(i).ok())
                .filter(|i| *i < n)
                .ok_or_else(|| DbError::Store(StoreError::Corrupt(format!("row index {i}"))))
        };
        let mut prior: Vec<Option<(Receipt, Vec<u8>)>> = run.iter().map(|_| None).collect();
        for row in &existing {
            let i = at(row.try_get(0)?)?;
            prior[i] = Some((
                Receipt {
                    origin: row.try_get(1)?,
                    seq: to_u64(row.try_get(2)?)?,
                    hash: hash_of(&row.try_get::<_, Vec<u8>>(5)?)?,
                    hlc: Hlc(to_u64(row.try_get(3)?)?),
                    kind: kinds[i].to_string(),
                    key: keys[i].to_string(),
                    duplicate: true,
                },
                row.try_get(4)?,
            ));
        }
        let mut in_track = vec![false; n];
        for row in &inside {
            in_track[at(row.try_get(0)?)?] = true;
        }
        // (cancel held, void held) per message.
        let mut held_for = vec![(false, false); n];
        for row in &held {
            let i = at(row.try_get(0)?)?;
            match row.try_get::<_, &str>(1)? {
                "cancelled" => held_for[i].0 = true,
                "voided" => held_for[i].1 = true,
                _ => {}
            }
        }

        let mut rows = NewRows::default();
        // Periods of the accepted invoices (their partitions must exist).
        let mut new_periods: Vec<u32> = Vec::new();
        // Accepted in this run: (kind, key) -> its receipt (duplicate: true) and body.
        let mut accepted: HashMap<(&str, &str), (Receipt, &[u8])> = HashMap::new();
        for (i, x) in run.iter().enumerate() {
            let (kind, key, body) = (x.p.kind, x.p.key.as_str(), x.p.body.as_slice());
            let earlier = accepted
                .get(&(kind, key))
                .map(|(r, b)| (r, *b))
                .or_else(|| prior[i].as_ref().map(|(r, b)| (r, b.as_slice())));
            let outcome = if let Some((receipt, old_body)) = earlier {
                seen_before(kind, key, receipt.clone(), old_body == body)
            } else if !in_track[i] {
                Err(outside_track(x.f))
            } else {
                let seq = self.head.seq + 1;
                let hlc = Hlc::now_after(self.head.hlc);
                let hash = hash_entry(
                    &self.head.hash,
                    self.site,
                    seq,
                    hlc,
                    kind,
                    key,
                    x.actor,
                    body,
                );
                rows.ledger(to_i64(seq)?, to_i64(hlc.0)?, x, self.head.hash, hash);
                rows.invoice(x.f, held_for[i], numbers[i].clone(), periods[i]);
                if !new_periods.contains(&x.f.period.key()) {
                    new_periods.push(x.f.period.key());
                }
                self.head = Head { seq, hash, hlc };
                let receipt = Receipt::appended(self.site, seq, hash, hlc, kind, key);
                accepted.insert(
                    (kind, key),
                    (
                        Receipt {
                            duplicate: true,
                            ..receipt.clone()
                        },
                        body,
                    ),
                );
                Ok(receipt)
            };
            slots[x.r][x.m] = Some(outcome);
        }
        if rows.seq.is_empty() {
            return Ok(());
        }
        for key in new_periods {
            self.ensure_partition(key).await?;
        }
        let (st_ledger, st_invoices, st_head) = try_join3(
            self.t.prepare_cached(INSERT_LEDGER_ROWS),
            self.t.prepare_cached(INSERT_INVOICE_ROWS),
            self.t.prepare_cached(UPDATE_HEAD),
        )
        .await?;
        let site = self.site;
        let (head_seq, head_hlc) = (to_i64(self.head.seq)?, to_i64(self.head.hlc.0)?);
        let head_hash = &self.head.hash.0[..];
        let move_head = async {
            if last {
                self.t
                    .execute(&st_head, &[&site, &head_seq, &head_hash, &head_hlc])
                    .await
            } else {
                Ok(0)
            }
        };
        try_join3(
            self.t.execute(
                &st_ledger,
                &[
                    &site,
                    &rows.seq,
                    &rows.hlc,
                    &rows.kind,
                    &rows.key,
                    &rows.actor,
                    &rows.body,
                    &rows.prev,
                    &rows.hash,
                ],
            ),
            self.t.execute(
                &st_invoices,
                &[
                    &site,
                    &rows.seller,
                    &rows.number,
                    &rows.period,
                    &rows.date,
                    &rows.time,
                    &rows.buyer,
                    &rows.random,
                    &rows.carrier_type,
                    &rows.carrier_id,
                    &rows.npoban,
                    &rows.total,
                    &rows.status,
                    &rows.body,
                    &rows.seq,
                ],
            ),
            move_head,
        )
        .await?;
        if last {
            // Moved already: nothing left for `finish`.
            self.start_seq = self.head.seq;
        }
        Ok(())
    }

    /// Append one ledger row at the head and advance the head.
    pub(crate) async fn push(
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
        Ok(Receipt::appended(self.site, seq, hash, hlc, kind, key))
    }

    /// Append one prepared message (in scope) the message-at-a-time way.
    async fn append_one(&mut self, actor: &str, p: &Prepped<'_>) -> Result<AppendOutcome, DbError> {
        let (v, kind, key, body) = (p.v, p.kind, p.key.clone(), &p.body);

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
            return Ok(seen_before(kind, &key, receipt, &old_body == body));
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
                    return Ok(Err(outside_track(f)));
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
                        return Ok(Err(track_overlap(f, b, e, &owner)));
                    }
                }
            }
            _ => {}
        }

        let receipt = self.push(kind, &key, actor, body, true).await?;
        self.project(&receipt, &v.facts, body).await?;
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
                let status = status_on_issue_of(held.iter().map(String::as_str));
                let cols = InvoiceColumns::of(f);
                let st = self.t.prepare_cached(INSERT_INVOICE).await?;
                self.t
                    .execute(
                        &st,
                        &[
                            &seller,
                            &number,
                            &period_key(f.period)?,
                            &cols.date,
                            &cols.time,
                            &cols.buyer,
                            &cols.random,
                            &cols.carrier_type,
                            &cols.carrier_id,
                            &cols.npoban,
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
                let status = held_status(cancel);
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
                let seller = a.seller.as_str();
                for (inv, amount) in allowance_per_invoice(a) {
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

/// What a run of invoices needs to know from the database, as the server
/// sent it (rows keyed by 1-based position in the run).
struct Lookups {
    /// Messages in the run the lookups were made for.
    n: usize,
    /// [`EXISTING_MESSAGES`] rows.
    existing: Vec<tokio_postgres::Row>,
    /// [`NUMBERS_IN_TRACKS`] rows.
    inside: Vec<tokio_postgres::Row>,
    /// [`HELD_FOR_ALL`] rows.
    held: Vec<tokio_postgres::Row>,
}

impl Lookups {
    /// Prepare (or find cached) the lookup statements.
    async fn prepare(t: &deadpool_postgres::Transaction<'_>) -> Result<(), DbError> {
        try_join3(
            t.prepare_cached(EXISTING_MESSAGES),
            t.prepare_cached(NUMBERS_IN_TRACKS),
            t.prepare_cached(HELD_FOR_ALL),
        )
        .await?;
        Ok(())
    }

    /// Run the three lookups for `run`, pipelined (nothing for an empty
    /// run). Sends them on the first poll when [`Lookups::prepare`] ran on
    /// this connection before.
    async fn fetch(
        t: &deadpool_postgres::Transaction<'_>,
        run: &[Pending<'_>],
    ) -> Result<Self, DbError> {
        let n = run.len();
        if n == 0 {
            return Ok(Self {
                n,
                existing: Vec::new(),
                inside: Vec::new(),
                held: Vec::new(),
            });
        }
        let kinds: Vec<&str> = run.iter().map(|x| x.p.kind).collect();
        let keys: Vec<&str> = run.iter().map(|x| x.p.key.as_str()).collect();
        let sellers: Vec<&str> = run.iter().map(|x| x.f.seller.as_str()).collect();
        let numbers: Vec<String> = run.iter().map(|x| x.f.number.to_string()).collect();
        let periods: Vec<i32> = run
            .iter()
            .map(|x| period_key(x.f.period))
            .collect::<Result<_, _>>()?;
        let tracks: Vec<String> = run
            .iter()
            .map(|x| x.f.number.track().as_str().to_string())
            .collect();
        let nos: Vec<i64> = run.iter().map(|x| i64::from(x.f.number.number())).collect();
        let (st_existing, st_inside, st_held) = try_join3(
            t.prepare_cached(EXISTING_MESSAGES),
            t.prepare_cached(NUMBERS_IN_TRACKS),
            t.prepare_cached(HELD_FOR_ALL),
        )
        .await?;
        let (existing, inside, held) = try_join3(
            t.query(&st_existing, &[&kinds, &keys]),
            t.query(&st_inside, &[&sellers, &periods, &tracks, &nos]),
            t.query(&st_held, &[&sellers, &numbers]),
        )
        .await?;
        Ok(Self {
            n,
            existing,
            inside,
            held,
        })
    }
}

/// The invoices (in scope) before the first other message or event of the
/// batch: the first run [`Writer::run_all`] flushes.
fn leading_run<'a>(inputs: &'a [Prepared<'a>]) -> Vec<Pending<'a>> {
    let mut run = Vec::new();
    for (r, input) in inputs.iter().enumerate() {
        let Prepared::Messages { actor, messages } = input else {
            return run;
        };
        for (m, prepped) in messages.iter().enumerate() {
            if let Ok(p) = prepped {
                let Facts::Invoice(f) = &p.v.facts else {
                    return run;
                };
                run.push(Pending { r, m, actor, p, f });
            }
        }
    }
    run
}

/// A message checked and encoded before the transaction.
struct Prepped<'a> {
    v: &'a Validated,
    kind: &'static str,
    key: String,
    body: Vec<u8>,
}

/// One request, prepared: messages outside the caller's scope are answered
/// already (`TENANT_SCOPE` needs no database).
enum Prepared<'a> {
    Messages {
        actor: &'a str,
        messages: Vec<Result<Prepped<'a>, Rejection>>,
    },
    Event(&'a NewEntry),
}

// `Rejection` is the trait's own type; its size is not ours to change.
#[allow(clippy::result_large_err)]
fn prepare(input: &Request) -> Prepared<'_> {
    match input {
        Request::Messages { actor, messages } => Prepared::Messages {
            actor,
            messages: messages
                .iter()
                .map(|m| {
                    let v = m.as_ref().map_err(Clone::clone)?.message();
                    Ok(Prepped {
                        v,
                        kind: v.kind().as_str(),
                        key: v.key().to_key_string(),
                        body: einvoice_mig::canonical(&v.message),
                    })
                })
                .collect(),
        },
        Request::Event(e) => Prepared::Event(e),
    }
}

/// An invoice of the pending run: where its outcome goes and what it is.
struct Pending<'a> {
    /// Request index.
    r: usize,
    /// Message index within the request.
    m: usize,
    actor: &'a str,
    p: &'a Prepped<'a>,
    f: &'a InvoiceFacts,
}

/// The rows a run appends, column by column (for `UNNEST`).
#[derive(Default)]
struct NewRows<'a> {
    // ledger
    seq: Vec<i64>,
    hlc: Vec<i64>,
    kind: Vec<&'a str>,
    key: Vec<&'a str>,
    actor: Vec<&'a str>,
    body: Vec<&'a [u8]>,
    prev: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    // invoices (body and seq shared with the ledger columns)
    seller: Vec<&'a str>,
    number: Vec<String>,
    period: Vec<i32>,
    date: Vec<String>,
    time: Vec<String>,
    buyer: Vec<String>,
    random: Vec<Option<String>>,
    carrier_type: Vec<Option<String>>,
    carrier_id: Vec<Option<String>>,
    npoban: Vec<Option<String>>,
    total: Vec<i64>,
    status: Vec<&'static str>,
}

impl<'a> NewRows<'a> {
    fn ledger(&mut self, seq: i64, hlc: i64, x: &Pending<'a>, prev: EntryHash, hash: EntryHash) {
        self.seq.push(seq);
        self.hlc.push(hlc);
        self.kind.push(x.p.kind);
        self.key.push(x.p.key.as_str());
        self.actor.push(x.actor);
        self.body.push(x.p.body.as_slice());
        self.prev.push(prev.0.to_vec());
        self.hash.push(hash.0.to_vec());
    }

    /// The invoice row; `held` is (cancel held, void held) for its number.
    fn invoice(&mut self, f: &'a InvoiceFacts, held: (bool, bool), number: String, period: i32) {
        let status = status_on_issue(held.0, held.1);
        let cols = InvoiceColumns::of(f);
        self.seller.push(f.seller.as_str());
        self.number.push(number);
        self.period.push(period);
        self.date.push(cols.date);
        self.time.push(cols.time);
        self.buyer.push(cols.buyer);
        self.random.push(cols.random);
        self.carrier_type.push(cols.carrier_type);
        self.carrier_id.push(cols.carrier_id);
        self.npoban.push(cols.npoban);
        self.total.push(f.total.0);
        self.status.push(status);
    }
}
