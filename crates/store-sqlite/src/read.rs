//! The read side: ledger entries, invoices, tracks and issued numbers,
//! records. Plain functions over a read connection; what the rows mean is
//! `einvoice_store::stored`, the chain rule `einvoice_store::ChainCheck`.

use crate::backend;
use einvoice_core::ids::{InvoiceNumber, Ubn};
use einvoice_core::{Carrier, Period};
use einvoice_store::stored::{StoredEntryRef, StoredInvoice, stored_track};
use einvoice_store::*;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// Every SQL statement of the read side, by query shape.
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
             i.carrier_id, i.npoban, i.total, i.status, i.allowance, X'', 0, i.origin, i.seq, \
             NULL, NULL, NULL, NULL FROM invoices i "
        };
    }
    macro_rules! entry_select {
        () => {
            "SELECT origin, seq, hlc, kind, key, actor, body, prev_hash, hash, body_digest, withheld, body_codec FROM ledger "
        };
    }

    /// One invoice by seller + number.
    pub(crate) const INVOICE_BY_NUMBER: &str =
        concat!(invoice_select!(), "WHERE i.seller = ?1 AND i.number = ?2");
    /// A seller's invoices in a period, paged by number (summaries: no body).
    pub(crate) const INVOICES_OF_SELLER: &str = concat!(
        summary_select!(),
        "WHERE i.seller = ?1 AND i.period = ?2 AND i.number > ?3 ORDER BY i.number LIMIT ?4"
    );
    /// Invoices on a carrier in a period.
    pub(crate) const INVOICES_ON_CARRIER: &str = concat!(
        invoice_select!(),
        "WHERE i.carrier_type = ?1 AND i.carrier_id = ?2 AND i.period = ?3 ORDER BY i.date, i.time, i.number"
    );
    /// Issued numbers of a seller within a track range (blanks).
    pub(crate) const NUMBERS_IN_RANGE: &str = "SELECT number FROM invoices WHERE seller = ?1 AND period = ?2 \
         AND number >= ?3 AND number <= ?4 ORDER BY number";
    /// A seller's allocations in a period.
    pub(crate) const TRACKS_OF_SELLER: &str = "SELECT track, begin, end FROM tracks WHERE seller = ?1 AND period = ?2 ORDER BY track, begin";
    /// Ledger entries of an origin after a sequence.
    pub(crate) const ENTRIES_AFTER: &str = concat!(
        entry_select!(),
        "WHERE origin = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    );
    /// Every entry of an origin, in sequence order (the chain check).
    pub(crate) const ENTRIES_OF_ORIGIN: &str =
        concat!(entry_select!(), "WHERE origin = ?1 ORDER BY seq");
    /// Every entry about one natural key.
    pub(crate) const ENTRIES_OF_KEY: &str =
        concat!(entry_select!(), "WHERE key = ?1 ORDER BY hlc, origin, seq");
    /// Allowance entries naming one invoice.
    pub(crate) const ALLOWANCE_ENTRIES_OF_INVOICE: &str = concat!(
        entry_select!(),
        "WHERE key IN (SELECT 'allowance/' || seller || '/' || allowance FROM allowances \
         WHERE seller = ?1 AND invoice = ?2) ORDER BY hlc, origin, seq"
    );
    /// One record document.
    pub(crate) const RECORD: &str = "SELECT json FROM records WHERE space = ?1 AND id = ?2";
    /// Number of operator accounts.
    pub(crate) const OPERATOR_COUNT: &str = "SELECT count(*) FROM records WHERE space = 'operator'";
    /// The latest version of a period's winning numbers.
    pub(crate) const LATEST_WINNING: &str =
        "SELECT json FROM winning_numbers WHERE period = ?1 ORDER BY version DESC LIMIT 1";
    /// Readiness probe.
    pub(crate) const PING: &str = "SELECT 1";
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored hash; a column of the wrong length reads as zeros (the chain
/// check then names the entry).
pub(crate) fn hash_of(bytes: &[u8]) -> EntryHash {
    let mut h = [0u8; 32];
    if bytes.len() == 32 {
        h.copy_from_slice(bytes);
    }
    EntryHash(h)
}

/// The invoice and its issuing entry's columns from a row of
/// `sql::invoice_select!`. `body` is the body as stored (column 14 names its
/// codec): [`views`] decodes it.
pub(crate) fn invoice_of(r: &Row<'_>) -> rusqlite::Result<(StoredInvoice, Option<StoredEntryRef>)> {
    let invoice = StoredInvoice {
        seller: r.get(0)?,
        number: r.get(1)?,
        period: r.get(2)?,
        date: r.get(3)?,
        time: r.get(4)?,
        buyer: r.get(5)?,
        random: r.get(6)?,
        carrier_type: r.get(7)?,
        carrier_id: r.get(8)?,
        npoban: r.get(9)?,
        total: r.get(10)?,
        status: r.get(11)?,
        allowance: r.get(12)?,
        body: r.get::<_, Option<Vec<u8>>>(13)?.unwrap_or_default(),
        origin: r.get(15)?,
        seq: u64_of(r.get(16)?),
    };
    let entry = match (
        r.get::<_, Option<i64>>(17)?,
        r.get::<_, Option<String>>(18)?,
        r.get::<_, Option<String>>(19)?,
        r.get::<_, Option<Vec<u8>>>(20)?,
    ) {
        (Some(hlc), Some(kind), Some(key), Some(hash)) => Some(StoredEntryRef {
            hlc: u64_of(hlc),
            kind,
            key,
            hash: hash_of(&hash),
        }),
        _ => None,
    };
    Ok((invoice, entry))
}

fn views(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<InvoiceView>, StoreError> {
    let mut st = c.prepare_cached(sql).map_err(backend)?;
    let rows: Vec<_> = st
        .query_map(p, |r| {
            Ok((invoice_of(r)?, r.get::<_, Option<i64>>(14)?.unwrap_or(0)))
        })
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    rows.into_iter()
        .map(|((mut i, e), codec)| {
            i.body = crate::bodies::unpack(c, std::mem::take(&mut i.body), codec)?;
            i.view(e)
        })
        .collect()
}

/// A ledger row of `sql::entry_select!` with `body` as stored, and the
/// codec that stored it ([`entries_of`] decodes it).
pub(crate) fn entry_of(r: &Row<'_>) -> rusqlite::Result<(LedgerEntry, i64)> {
    let e = LedgerEntry {
        origin: r.get(0)?,
        seq: u64_of(r.get(1)?),
        hlc: Hlc(u64_of(r.get(2)?)),
        kind: r.get(3)?,
        key: r.get(4)?,
        actor: r.get(5)?,
        body: r.get(6)?,
        prev_hash: hash_of(&r.get::<_, Vec<u8>>(7)?),
        hash: hash_of(&r.get::<_, Vec<u8>>(8)?),
        body_digest: r.get::<_, Option<Vec<u8>>>(9)?.map(|d| hash_of(&d)),
        withheld: r.get::<_, i64>(10)? != 0,
    };
    Ok((e, r.get(11)?))
}

fn entries_of(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<LedgerEntry>, StoreError> {
    let mut st = c.prepare_cached(sql).map_err(backend)?;
    let rows = st.query_map(p, entry_of).map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        let (mut e, codec) = r.map_err(backend)?;
        e.body = crate::bodies::unpack(c, std::mem::take(&mut e.body), codec)?;
        out.push(e);
    }
    Ok(out)
}

pub(crate) fn entries(
    c: &Connection,
    origin: &str,
    after: u64,
    limit: u32,
) -> Result<Vec<LedgerEntry>, StoreError> {
    entries_of(c, sql::ENTRIES_AFTER, params![origin, i64_of(after), limit])
}

pub(crate) fn verify_ledger(c: &Connection, origin: &str) -> Result<LedgerVerdict, StoreError> {
    let mut st = c.prepare(sql::ENTRIES_OF_ORIGIN).map_err(backend)?;
    let mut rows = st.query(params![origin]).map_err(backend)?;
    let mut chain = ChainCheck::new(origin);
    while let Some(r) = rows.next().map_err(backend)? {
        let (mut e, codec) = entry_of(r).map_err(backend)?;
        // A body that does not decode stays as stored: it cannot match its
        // digest, so the chain check names the entry instead of the verify
        // failing as a whole.
        if let Ok(body) = crate::bodies::unpack(c, e.body.clone(), codec) {
            e.body = body;
        }
        if chain.push(&e).is_err() {
            break;
        }
    }
    Ok(chain.verdict())
}

pub(crate) fn invoice(
    c: &Connection,
    seller: Ubn,
    number: InvoiceNumber,
) -> Result<Option<InvoiceView>, StoreError> {
    let v = views(
        c,
        sql::INVOICE_BY_NUMBER,
        params![seller.as_str(), number.to_string()],
    )?;
    Ok(v.into_iter().next())
}

pub(crate) fn invoice_history(
    c: &Connection,
    seller: Ubn,
    number: InvoiceNumber,
) -> Result<Vec<LedgerEntry>, StoreError> {
    let key = einvoice_core::NaturalKey::Invoice { seller, number }.to_key_string();
    let mut out = entries_of(c, sql::ENTRIES_OF_KEY, params![key])?;
    out.extend(entries_of(
        c,
        sql::ALLOWANCE_ENTRIES_OF_INVOICE,
        params![seller.as_str(), number.to_string()],
    )?);
    out.sort_by(|a, b| (a.hlc, &a.origin, a.seq).cmp(&(b.hlc, &b.origin, b.seq)));
    Ok(out)
}

pub(crate) fn list_invoices(
    c: &Connection,
    seller: Ubn,
    period: Period,
    after: Option<InvoiceNumber>,
    limit: u32,
) -> Result<Vec<InvoiceSummary>, StoreError> {
    let after = after.map(|n| n.to_string()).unwrap_or_default();
    let v = views(
        c,
        sql::INVOICES_OF_SELLER,
        params![seller.as_str(), period.key(), after, limit],
    )?;
    Ok(v.into_iter().map(|x| x.summary).collect())
}

pub(crate) fn tracks(
    c: &Connection,
    seller: Ubn,
    period: Period,
) -> Result<Vec<TrackAllocation>, StoreError> {
    let mut st = c.prepare_cached(sql::TRACKS_OF_SELLER).map_err(backend)?;
    let rows = st
        .query_map(params![seller.as_str(), period.key()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, u32>(2)?,
            ))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        let (t, begin, end) = r.map_err(backend)?;
        out.push(TrackAllocation {
            seller,
            period,
            track: stored_track(&t)?,
            begin,
            end,
        });
    }
    Ok(out)
}

pub(crate) fn issued_numbers(
    c: &Connection,
    seller: Ubn,
    allocation: &TrackAllocation,
) -> Result<Vec<u32>, StoreError> {
    let (lo, hi) = allocation.number_bounds();
    let mut st = c.prepare_cached(sql::NUMBERS_IN_RANGE).map_err(backend)?;
    let rows = st
        .query_map(
            params![seller.as_str(), allocation.period.key(), lo, hi],
            |r| r.get::<_, String>(0),
        )
        .map_err(backend)?;
    let mut v = Vec::new();
    for r in rows {
        if let Ok(n) = InvoiceNumber::parse(&r.map_err(backend)?) {
            v.push(n.number());
        }
    }
    Ok(v)
}

pub(crate) fn carrier_invoices(
    c: &Connection,
    carrier: &Carrier,
    period: Period,
) -> Result<Vec<InvoiceView>, StoreError> {
    views(
        c,
        sql::INVOICES_ON_CARRIER,
        params![carrier.kind.code(), carrier.id, period.key()],
    )
}

/// One record document of `space`.
pub(crate) fn record<T: serde::de::DeserializeOwned>(
    c: &Connection,
    space: &str,
    id: &str,
) -> Result<Option<T>, StoreError> {
    let json: Option<String> = c
        .prepare_cached(sql::RECORD)
        .map_err(backend)?
        .query_row(params![space, id], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    json.map(|j| {
        serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(format!("{space}/{id}: {e}")))
    })
    .transpose()
}

pub(crate) fn operator_count(c: &Connection) -> Result<u64, StoreError> {
    let n: i64 = c
        .prepare_cached(sql::OPERATOR_COUNT)
        .map_err(backend)?
        .query_row([], |r| r.get(0))
        .map_err(backend)?;
    Ok(u64_of(n))
}

pub(crate) fn winning_numbers(
    c: &Connection,
    period: Period,
) -> Result<Option<WinningNumbersRecord>, StoreError> {
    let j: Option<String> = c
        .prepare_cached(sql::LATEST_WINNING)
        .map_err(backend)?
        .query_row(params![period.key()], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    j.map(|j| serde_json::from_str(&j).map_err(backend))
        .transpose()
}

pub(crate) fn ping(c: &Connection) -> Result<(), StoreError> {
    c.prepare_cached(sql::PING)
        .map_err(backend)?
        .query_row([], |_| Ok(()))
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}
