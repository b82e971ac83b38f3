//! The read side: ledger entries, invoices, tracks and issued numbers, and
//! the record documents. What the rows mean is `einvoice_store::stored`, the
//! chain rule `einvoice_store::ChainCheck`.

use crate::PgStore;
use crate::append::{hash_of, period_key, to_i64, to_u64};
use crate::bodies::Bodies;
use crate::error::DbError;
use einvoice_core::Period;
use einvoice_core::ids::{Carrier, InvoiceNumber, Ubn};
use einvoice_store::stored::{StoredEntryRef, StoredInvoice, corrupt, stored_track};
use einvoice_store::*;
use tokio_postgres::Row;

/// Every SQL statement of the read side, by query shape. The `EXPLAIN` test
/// (`src/explain_tests.rs`) runs these very strings.
pub(crate) mod sql {
    macro_rules! invoice_select {
        () => {
            "SELECT i.seller, i.number, i.period, i.date, i.time, i.buyer, i.random, i.carrier_type, \
             i.carrier_id, i.npoban, i.total, i.status, i.allowance, l.body, l.body_codec, \
             i.origin, i.seq, l.hlc, l.kind, l.key, l.hash \
             FROM invoices i LEFT JOIN ledger l ON l.origin = i.origin AND l.seq = i.seq "
        };
    }
    /// The summary columns of `invoice_select!` only: no body, no ledger row.
    macro_rules! summary_select {
        () => {
            "SELECT i.seller, i.number, i.period, i.date, i.time, i.buyer, i.random, i.carrier_type, \
             i.carrier_id, i.npoban, i.total, i.status, i.allowance, ''::bytea, 0::bigint, \
             i.origin, i.seq, NULL::bigint, NULL::text, NULL::text, NULL::bytea FROM invoices i "
        };
    }
    macro_rules! entry_select {
        () => {
            "SELECT origin, seq, hlc, kind, key, actor, body, prev_hash, hash, body_digest, withheld, body_codec FROM ledger "
        };
    }

    /// One invoice by seller + number (no period: every partition's primary key is probed).
    pub(crate) const INVOICE_BY_NUMBER: &str =
        concat!(invoice_select!(), "WHERE i.seller = $1 AND i.number = $2");
    /// A seller's invoices in a period, paged by number (summaries: no body).
    pub(crate) const INVOICES_OF_SELLER: &str = concat!(
        summary_select!(),
        "WHERE i.seller = $1 AND i.period = $2 AND i.number > $3 ORDER BY i.number LIMIT $4"
    );
    /// Invoices on a carrier in a period.
    pub(crate) const INVOICES_ON_CARRIER: &str = concat!(
        invoice_select!(),
        "WHERE i.carrier_type = $1 AND i.carrier_id = $2 AND i.period = $3 ORDER BY i.date, i.time, i.number"
    );
    /// Issued numbers of a seller within a track range (blanks).
    pub(crate) const NUMBERS_IN_RANGE: &str = "SELECT number FROM invoices WHERE seller = $1 AND period = $2 \
         AND number >= $3 AND number <= $4 ORDER BY number";
    /// A seller's allocations in a period.
    pub(crate) const TRACKS_OF_SELLER: &str = "SELECT track, begin_no, end_no FROM tracks WHERE seller = $1 AND period = $2 \
         ORDER BY track, begin_no";
    /// Ledger entries of an origin after a sequence.
    pub(crate) const ENTRIES_AFTER: &str = concat!(
        entry_select!(),
        "WHERE origin = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    /// Every entry about one natural key.
    pub(crate) const ENTRIES_OF_KEY: &str =
        concat!(entry_select!(), "WHERE key = $1 ORDER BY hlc, origin, seq");
    /// Allowance entries naming one invoice.
    pub(crate) const ALLOWANCE_ENTRIES_OF_INVOICE: &str = concat!(
        entry_select!(),
        "WHERE key IN (SELECT 'allowance/' || seller || '/' || allowance FROM allowances \
         WHERE seller = $1 AND invoice = $2) ORDER BY hlc, origin, seq"
    );
    /// One record document.
    pub(crate) const RECORD: &str = "SELECT json FROM records WHERE space = $1 AND id = $2";
    /// Insert or replace a record document.
    pub(crate) const PUT_RECORD: &str = "INSERT INTO records (space, id, json) VALUES ($1, $2, $3) \
         ON CONFLICT (space, id) DO UPDATE SET json = excluded.json";
    /// The latest version of a period's winning numbers.
    pub(crate) const LATEST_WINNING: &str =
        "SELECT json FROM winning_numbers WHERE period = $1 ORDER BY version DESC LIMIT 1";
}

/// Rows per statement when walking a whole chain.
const VERIFY_CHUNK: i64 = 2_000;

/// The invoice and its issuing entry's columns from a row of
/// `sql::invoice_select!`, with the body as stored and its codec
/// ([`PgStore::views`] decodes it).
pub(crate) fn invoice_of(r: &Row) -> Result<(StoredInvoice, i64, Option<StoredEntryRef>), DbError> {
    let invoice = StoredInvoice {
        seller: r.try_get(0)?,
        number: r.try_get(1)?,
        period: i64::from(r.try_get::<_, i32>(2)?),
        date: r.try_get(3)?,
        time: r.try_get(4)?,
        buyer: r.try_get(5)?,
        random: r.try_get(6)?,
        carrier_type: r.try_get(7)?,
        carrier_id: r.try_get(8)?,
        npoban: r.try_get(9)?,
        total: r.try_get(10)?,
        status: r.try_get(11)?,
        allowance: r.try_get(12)?,
        body: r.try_get::<_, Option<Vec<u8>>>(13)?.unwrap_or_default(),
        origin: r.try_get(15)?,
        seq: to_u64(r.try_get(16)?)?,
    };
    let codec = r.try_get::<_, Option<i64>>(14)?.unwrap_or(0);
    let entry = match (
        r.try_get::<_, Option<i64>>(17)?,
        r.try_get::<_, Option<String>>(18)?,
        r.try_get::<_, Option<String>>(19)?,
        r.try_get::<_, Option<Vec<u8>>>(20)?,
    ) {
        (Some(hlc), Some(kind), Some(key), Some(hash)) => Some(StoredEntryRef {
            hlc: to_u64(hlc)?,
            kind,
            key,
            hash: hash_of(&hash)?,
        }),
        _ => None,
    };
    Ok((invoice, codec, entry))
}

/// A ledger row of `sql::entry_select!` with `body` as stored, and the
/// codec that stored it ([`decode_entries`] decodes it).
pub(crate) fn entry_of(r: &Row) -> Result<(LedgerEntry, i64), DbError> {
    let e = LedgerEntry {
        origin: r.try_get(0)?,
        seq: to_u64(r.try_get(1)?)?,
        hlc: Hlc(to_u64(r.try_get(2)?)?),
        kind: r.try_get(3)?,
        key: r.try_get(4)?,
        actor: r.try_get(5)?,
        body: r.try_get(6)?,
        prev_hash: hash_of(&r.try_get::<_, Vec<u8>>(7)?)?,
        hash: hash_of(&r.try_get::<_, Vec<u8>>(8)?)?,
        body_digest: r
            .try_get::<_, Option<Vec<u8>>>(9)?
            .map(|d| hash_of(&d))
            .transpose()?,
        withheld: r.try_get(10)?,
    };
    Ok((e, r.try_get(11)?))
}

/// The entries of `rows` (of `sql::entry_select!`) with their canonical
/// bodies. With `tolerant`, a body that does not decode stays as stored: it
/// cannot match its digest, so the chain check names the entry (verify);
/// otherwise it is [`StoreError::Corrupt`] naming the entry.
pub(crate) async fn decode_entries<C: tokio_postgres::GenericClient + Sync>(
    bodies: &Bodies,
    c: &C,
    rows: &[Row],
    tolerant: bool,
) -> Result<Vec<LedgerEntry>, DbError> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (mut e, codec) = entry_of(r)?;
        let at = (e.origin.as_str(), to_i64(e.seq)?);
        match bodies.unpack(c, at, e.body.clone(), codec).await {
            Ok(body) => e.body = body,
            Err(_) if tolerant => {}
            Err(err) => return Err(err),
        }
        out.push(e);
    }
    Ok(out)
}

pub(crate) fn carrier_id(c: &Carrier) -> String {
    format!("{}:{}", c.kind.code(), c.id)
}

fn json_of<T: serde::Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Store(StoreError::Backend(e.to_string())))
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, j: &str) -> Result<T, DbError> {
    serde_json::from_str(j).map_err(|e| DbError::Store(StoreError::Corrupt(format!("{what}: {e}"))))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl PgStore {
    pub(crate) async fn put_record<T: serde::Serialize + Sync>(
        &self,
        space: &str,
        id: &str,
        v: &T,
    ) -> Result<(), StoreError> {
        let json = json_of(v).map_err(DbError::into_store)?;
        let json = json.as_str();
        self.run(|c| async move {
            let st = c.prepare_cached(sql::PUT_RECORD).await?;
            c.execute(&st, &[&space, &id, &json]).await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn get_record<T: serde::de::DeserializeOwned + Send>(
        &self,
        space: &str,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        self.run(|c| async move {
            let st = c.prepare_cached(sql::RECORD).await?;
            match c.query_opt(&st, &[&space, &id]).await? {
                Some(row) => Ok(Some(parse_json(
                    &format!("{space}/{id}"),
                    &row.try_get::<_, String>(0)?,
                )?)),
                None => Ok(None),
            }
        })
        .await
    }

    pub(crate) async fn views(
        &self,
        query: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<InvoiceView>, StoreError> {
        let bodies = &self.shared().bodies;
        self.run(|c| async move {
            let st = c.prepare_cached(query).await?;
            let mut out = Vec::new();
            for r in c.query(&st, params).await? {
                let (mut invoice, codec, entry) = invoice_of(&r)?;
                if !invoice.body.is_empty() {
                    let at = (invoice.origin.as_str(), to_i64(invoice.seq)?);
                    let stored = std::mem::take(&mut invoice.body);
                    invoice.body = bodies.unpack(&**c, at, stored, codec).await?;
                }
                out.push(invoice.view(entry)?);
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn tracks_of(
        &self,
        seller: Ubn,
        period: Period,
    ) -> Result<Vec<TrackAllocation>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        self.run(|c| async move {
            let st = c.prepare_cached(sql::TRACKS_OF_SELLER).await?;
            let mut out = Vec::new();
            for r in c.query(&st, &[&seller.as_str(), &pk]).await? {
                let track = stored_track(&r.try_get::<_, String>(0)?).map_err(DbError::Store)?;
                let bound = |i: usize| -> Result<u32, DbError> {
                    let v: i64 = r.try_get(i)?;
                    u32::try_from(v)
                        .map_err(|_| DbError::Store(corrupt("track bound", &v.to_string())))
                };
                out.push(TrackAllocation {
                    seller,
                    period,
                    track,
                    begin: bound(1)?,
                    end: bound(2)?,
                });
            }
            Ok(out)
        })
        .await
    }
}

/// The reads (and the record writes) the [`Store`] implementation in
/// `store.rs` delegates to.
impl PgStore {
    pub(crate) async fn entries_after(
        &self,
        origin: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let after = to_i64(after).map_err(DbError::into_store)?;
        let limit = i64::from(limit);
        let bodies = &self.shared().bodies;
        self.run(|c| async move {
            let st = c.prepare_cached(sql::ENTRIES_AFTER).await?;
            let rows = c.query(&st, &[&origin, &after, &limit]).await?;
            decode_entries(bodies, &**c, &rows, false).await
        })
        .await
    }

    pub(crate) async fn verify_chain(&self, origin: &str) -> Result<LedgerVerdict, StoreError> {
        // The ledger is append-only: walking it in chunks (one statement
        // each, bounded by the statement timeout) sees one consistent prefix.
        let mut chain = ChainCheck::new(origin);
        let bodies = &self.shared().bodies;
        loop {
            let after = chain.entries();
            let chunk = self
                .run(|c| async move {
                    let st = c.prepare_cached(sql::ENTRIES_AFTER).await?;
                    let after = to_i64(after)?;
                    let rows = c.query(&st, &[&origin, &after, &VERIFY_CHUNK]).await?;
                    decode_entries(bodies, &**c, &rows, true).await
                })
                .await?;
            if chunk.is_empty() {
                break;
            }
            for e in &chunk {
                if chain.push(e).is_err() {
                    return Ok(chain.verdict());
                }
            }
        }
        Ok(chain.verdict())
    }

    pub(crate) async fn invoice_of_seller(
        &self,
        seller: Ubn,
        number: InvoiceNumber,
    ) -> Result<Option<InvoiceView>, StoreError> {
        let number = number.to_string();
        let v = self
            .views(sql::INVOICE_BY_NUMBER, &[&seller.as_str(), &number])
            .await?;
        Ok(v.into_iter().next())
    }

    pub(crate) async fn history_of_invoice(
        &self,
        seller: Ubn,
        number: InvoiceNumber,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let key = einvoice_core::NaturalKey::Invoice { seller, number }.to_key_string();
        let (key, number) = (key.as_str(), number.to_string());
        let number = number.as_str();
        let bodies = &self.shared().bodies;
        self.run(|c| async move {
            let st = c.prepare_cached(sql::ENTRIES_OF_KEY).await?;
            let rows = c.query(&st, &[&key]).await?;
            let mut out = decode_entries(bodies, &**c, &rows, false).await?;
            let st = c.prepare_cached(sql::ALLOWANCE_ENTRIES_OF_INVOICE).await?;
            let rows = c.query(&st, &[&seller.as_str(), &number]).await?;
            out.extend(decode_entries(bodies, &**c, &rows, false).await?);
            out.sort_by(|a, b| (a.hlc, &a.origin, a.seq).cmp(&(b.hlc, &b.origin, b.seq)));
            Ok(out)
        })
        .await
    }

    pub(crate) async fn invoices_of_seller(
        &self,
        seller: Ubn,
        period: Period,
        after: Option<InvoiceNumber>,
        limit: u32,
    ) -> Result<Vec<InvoiceSummary>, StoreError> {
        let after = after.map(|n| n.to_string()).unwrap_or_default();
        let pk = period_key(period).map_err(DbError::into_store)?;
        let limit = i64::from(limit);
        let v = self
            .views(
                sql::INVOICES_OF_SELLER,
                &[&seller.as_str(), &pk, &after, &limit],
            )
            .await?;
        Ok(v.into_iter().map(|x| x.summary).collect())
    }

    pub(crate) async fn issued_numbers_in(
        &self,
        seller: Ubn,
        allocation: &TrackAllocation,
    ) -> Result<Vec<u32>, StoreError> {
        let pk = period_key(allocation.period).map_err(DbError::into_store)?;
        let (lo, hi) = allocation.number_bounds();
        let (lo, hi) = (lo.as_str(), hi.as_str());
        self.run(|c| async move {
            let st = c.prepare_cached(sql::NUMBERS_IN_RANGE).await?;
            let mut v = Vec::new();
            for r in c.query(&st, &[&seller.as_str(), &pk, &lo, &hi]).await? {
                let s: String = r.try_get(0)?;
                if let Ok(n) = InvoiceNumber::parse(&s) {
                    v.push(n.number());
                }
            }
            Ok(v)
        })
        .await
    }

    pub(crate) async fn invoices_on_carrier(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<InvoiceView>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        self.views(
            sql::INVOICES_ON_CARRIER,
            &[&carrier.kind.code(), &carrier.id, &pk],
        )
        .await
    }

    pub(crate) async fn carrier_login(
        &self,
        carrier: &Carrier,
        attempt: LoginAttempt,
    ) -> Result<(), StoreError> {
        let id = carrier_key(carrier);
        let id = id.as_str();
        self.run(|mut c| async move {
            let t = c.transaction().await?;
            let row = t
                .query_opt(
                    "SELECT json FROM records WHERE space = 'carrier' AND id = $1 FOR UPDATE",
                    &[&id],
                )
                .await?;
            let Some(row) = row else { return Ok(()) };
            let mut rec: CarrierRecord =
                parse_json(&format!("carrier/{id}"), &row.try_get::<_, String>(0)?)?;
            rec.record_login(attempt);
            let json = json_of(&rec)?;
            t.execute(sql::PUT_RECORD, &[&"carrier", &id, &json])
                .await?;
            t.commit().await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn remember_nonce_once(
        &self,
        key_id: &str,
        nonce: &str,
        expires_unix: i64,
    ) -> Result<bool, StoreError> {
        let now = unix_now();
        self.run(|c| async move {
            let st = c
                .prepare_cached("DELETE FROM nonces WHERE expires < $1")
                .await?;
            c.execute(&st, &[&now]).await?;
            let st = c
                .prepare_cached(
                    "INSERT INTO nonces (key_id, nonce, expires) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .await?;
            Ok(c.execute(&st, &[&key_id, &nonce, &expires_unix]).await? == 1)
        })
        .await
    }

    pub(crate) async fn count_operators(&self) -> Result<u64, StoreError> {
        self.run(|c| async move {
            let n: i64 = c
                .query_one("SELECT count(*) FROM records WHERE space = 'operator'", &[])
                .await?
                .try_get(0)?;
            to_u64(n)
        })
        .await
    }

    pub(crate) async fn store_winning_numbers(
        &self,
        record: WinningNumbersRecord,
    ) -> Result<(), StoreError> {
        let pk = period_key(record.period).map_err(DbError::into_store)?;
        let version = i32::try_from(record.version)
            .map_err(|_| StoreError::Backend(format!("version {} too large", record.version)))?;
        let json = json_of(&record).map_err(DbError::into_store)?;
        let (json, record) = (json.as_str(), &record);
        self.run(|mut c| async move {
            let t = c.transaction().await?;
            let old = t
                .query_opt(
                    "SELECT json FROM winning_numbers WHERE period = $1 AND version = $2 FOR UPDATE",
                    &[&pk, &version],
                )
                .await?;
            if let Some(row) = old {
                let old: WinningNumbersRecord =
                    parse_json("winning numbers", &row.try_get::<_, String>(0)?)?;
                old.check_replace(record).map_err(DbError::Store)?;
            }
            t.execute(
                "INSERT INTO winning_numbers (period, version, json) VALUES ($1, $2, $3) \
                 ON CONFLICT (period, version) DO UPDATE SET json = excluded.json",
                &[&pk, &version, &json],
            )
            .await?;
            t.commit().await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn latest_winning_numbers(
        &self,
        period: Period,
    ) -> Result<Option<WinningNumbersRecord>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        self.run(|c| async move {
            let st = c.prepare_cached(sql::LATEST_WINNING).await?;
            match c.query_opt(&st, &[&pk]).await? {
                Some(row) => Ok(Some(parse_json(
                    "winning numbers",
                    &row.try_get::<_, String>(0)?,
                )?)),
                None => Ok(None),
            }
        })
        .await
    }

    pub(crate) async fn probe(&self) -> Result<(), StoreError> {
        self.run(|c| async move {
            c.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
        .map_err(|e| match e {
            StoreError::Backend(m) => StoreError::Unavailable(m),
            other => other,
        })
    }
}
