//! The set-based path: a run of consecutive invoices (F0401 / A0101) is
//! looked up in one pipelined round trip (`UNNEST` over the run's arrays),
//! decided in memory in order, and written with one multi-row insert into
//! the ledger and one into the invoices.

use super::chain::{Head, Writer};
use super::columns::{hash_of, period_key, to_i64, to_u64};
use super::sql::{
    EXISTING_MESSAGES, HELD_FOR_ALL, INSERT_INVOICE_ROWS, INSERT_LEDGER_ROWS, NUMBERS_IN_TRACKS,
    UPDATE_HEAD,
};
use super::{Prepared, Prepped};
use crate::error::DbError;
use einvoice_core::Facts;
use einvoice_core::validated::InvoiceFacts;
use einvoice_store::append_rules::{InvoiceColumns, outside_track, seen_before, status_on_issue};
use einvoice_store::{
    AppendOutcome, EntryHash, Hlc, Receipt, StoreError, body_digest, hash_entry_v2,
};
use futures_util::future::try_join3;
use std::collections::HashMap;

impl<'a, 't> Writer<'a, 't> {
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
    pub(super) async fn flush(
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
            let origin: String = row.try_get(1)?;
            let seq: i64 = row.try_get(2)?;
            let body = self
                .unpack((origin.as_str(), seq), row.try_get(4)?, row.try_get(6)?)
                .await?;
            prior[i] = Some((
                Receipt {
                    origin,
                    seq: to_u64(seq)?,
                    hash: hash_of(&row.try_get::<_, Vec<u8>>(5)?)?,
                    hlc: Hlc(to_u64(row.try_get(3)?)?),
                    kind: kinds[i].to_string(),
                    key: keys[i].to_string(),
                    duplicate: true,
                },
                body,
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
                let digest = body_digest(body);
                let hash = hash_entry_v2(
                    &self.head.hash,
                    self.site,
                    seq,
                    hlc,
                    kind,
                    key,
                    x.actor,
                    &digest,
                );
                let link = (self.head.hash, hash, digest);
                rows.ledger(to_i64(seq)?, to_i64(hlc.0)?, x, link, self.pack(body)?);
                let detail = crate::carrier_read::detail_of(body)?;
                rows.invoice(x.f, held_for[i], numbers[i].clone(), periods[i], detail);
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
                    &rows.digest,
                    &rows.codec,
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
                    &rows.detail,
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
}

/// What a run of invoices needs to know from the database, as the server
/// sent it (rows keyed by 1-based position in the run).
pub(super) struct Lookups {
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
    pub(super) async fn prepare(t: &deadpool_postgres::Transaction<'_>) -> Result<(), DbError> {
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
    pub(super) async fn fetch(
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
pub(super) fn leading_run<'a>(inputs: &'a [Prepared<'a>]) -> Vec<Pending<'a>> {
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

/// An invoice of the pending run: where its outcome goes and what it is.
pub(super) struct Pending<'a> {
    /// Request index.
    pub(super) r: usize,
    /// Message index within the request.
    pub(super) m: usize,
    /// Who sent it.
    pub(super) actor: &'a str,
    /// The message, checked and encoded.
    pub(super) p: &'a Prepped<'a>,
    /// Its invoice facts (F0401 / A0101).
    pub(super) f: &'a InvoiceFacts,
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
    /// Bodies as stored (`codec`).
    body: Vec<Vec<u8>>,
    codec: Vec<i64>,
    prev: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    digest: Vec<Vec<u8>>,
    // invoices (seq shared with the ledger columns)
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
    /// The carrier read projection (`InvoiceDetail::encode`).
    detail: Vec<Vec<u8>>,
}

impl<'a> NewRows<'a> {
    /// The ledger row; `link` is (previous hash, entry hash, body digest),
    /// `stored` the body as stored and its codec.
    fn ledger(
        &mut self,
        seq: i64,
        hlc: i64,
        x: &Pending<'a>,
        (prev, hash, digest): (EntryHash, EntryHash, EntryHash),
        (stored, codec): (Vec<u8>, i64),
    ) {
        self.seq.push(seq);
        self.hlc.push(hlc);
        self.kind.push(x.p.kind);
        self.key.push(x.p.key.as_str());
        self.actor.push(x.actor);
        self.body.push(stored);
        self.codec.push(codec);
        self.prev.push(prev.0.to_vec());
        self.hash.push(hash.0.to_vec());
        self.digest.push(digest.0.to_vec());
    }

    /// The invoice row; `held` is (cancel held, void held) for its number.
    fn invoice(
        &mut self,
        f: &'a InvoiceFacts,
        held: (bool, bool),
        number: String,
        period: i32,
        detail: Vec<u8>,
    ) {
        self.detail.push(detail);
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
