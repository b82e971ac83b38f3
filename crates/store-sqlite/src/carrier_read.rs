//! The read path on SQLite: the read projection (one compact
//! [`InvoiceDetail`] per issued invoice), kept in `invoices.detail`
//! (migration 12; `invoice_detail` before), written by the append path's
//! projection, rebuilt from the ledger (migrations 6 and 16), and read with
//! the invoice rows in one query of one table ([`projected_rows`]): a
//! carrier's period, and the public lookups.

use crate::backend;
use crate::read::invoice_of;
use einvoice_core::ids::{InvoiceNumber, RandomNumber};
use einvoice_core::{Carrier, Period};
use einvoice_store::StoreError;
use einvoice_store::read_projection::{CarrierInvoice, InvoiceDetail, the_only};
use rusqlite::{Connection, params};

/// Invoices whose detail one rebuild step reads from the ledger.
const REBUILD_CHUNK: i64 = 1_000;

/// Every SQL statement of the carrier read path.
pub(crate) mod sql {
    /// Write (or rewrite) one invoice's detail.
    pub(crate) const PUT_DETAIL: &str =
        "UPDATE invoices SET detail = ?3 WHERE seller = ?1 AND number = ?2";
    /// Forget every detail (the start of a rebuild).
    pub(crate) const CLEAR: &str = "UPDATE invoices SET detail = NULL";
    /// Issued invoices after a (seller, number) with their issuing entry's
    /// stored body and codec, from the ledger, in key order.
    pub(crate) const ISSUING_BODIES: &str = "SELECT i.seller, i.number, l.body, l.body_codec \
         FROM invoices i JOIN ledger l ON l.origin = i.origin AND l.seq = i.seq \
         WHERE (i.seller, i.number) > (?1, ?2) ORDER BY i.seller, i.number LIMIT ?3";
    /// The invoice rows with their details, in the column order of
    /// `read::invoice_of`: the invoice row only (neither a body nor the
    /// ledger is read), then the detail.
    macro_rules! projected_select {
        () => {
            "SELECT seller, number, period, date, time, buyer, random, carrier_type, carrier_id, \
             npoban, total, status, allowance, X'', 0, '', 0, NULL, NULL, NULL, NULL, detail \
             FROM invoices "
        };
    }
    /// A carrier's invoices of a period.
    pub(crate) const CARRIER_ROWS: &str = concat!(
        projected_select!(),
        "WHERE carrier_type = ?1 AND carrier_id = ?2 AND period = ?3 ORDER BY date, time, number"
    );
    /// Public lookup by number + random code (index `invoices_by_random`).
    pub(crate) const PUBLIC_BY_RANDOM: &str = concat!(
        projected_select!(),
        "WHERE number = ?1 AND random = ?2 LIMIT 2"
    );
    /// Public lookup by number + date (index `invoices_by_draw`).
    pub(crate) const PUBLIC_BY_DATE: &str = concat!(
        projected_select!(),
        "WHERE period = ?1 AND number = ?2 AND date = ?3 LIMIT 2"
    );
}

/// The detail column of an issued invoice from its canonical body (the
/// append path, and so import and sync; the rebuild).
pub(crate) fn detail_of(body: &[u8]) -> Result<Vec<u8>, StoreError> {
    Ok(InvoiceDetail::from_body(body)?.encode())
}

/// Rebuild every invoice's detail from the ledger: each issued invoice's
/// detail from its issuing entry's body. Returns the number of rows written.
pub(crate) fn rebuild(c: &Connection) -> Result<u64, StoreError> {
    c.execute(sql::CLEAR, []).map_err(backend)?;
    let (mut seller, mut number) = (String::new(), String::new());
    let mut n = 0u64;
    loop {
        let chunk: Vec<(String, String, Vec<u8>, i64)> = {
            let mut st = c.prepare_cached(sql::ISSUING_BODIES).map_err(backend)?;
            let rows = st
                .query_map(params![seller, number, REBUILD_CHUNK], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)?
        };
        let Some((s, num, _, _)) = chunk.last() else {
            return Ok(n);
        };
        (seller, number) = (s.clone(), num.clone());
        let mut put = c.prepare_cached(sql::PUT_DETAIL).map_err(backend)?;
        for (s, num, stored, codec) in chunk {
            let body = crate::bodies::unpack(c, stored, codec)?;
            put.execute(params![s, num, detail_of(&body)?])
                .map_err(backend)?;
            n += 1;
        }
    }
}

/// The rows of one of the `sql` projected queries with their details: the
/// one read function of the carrier queries and the public lookups.
fn projected_rows(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<CarrierInvoice>, StoreError> {
    let mut st = c.prepare_cached(sql).map_err(backend)?;
    let rows = st
        .query_map(p, |r| {
            Ok((invoice_of(r)?.0, r.get::<_, Option<Vec<u8>>>(21)?))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        let (invoice, detail) = r.map_err(backend)?;
        let detail = detail.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "invoice {}/{} has no read projection (invoices.detail)",
                invoice.seller, invoice.number
            ))
        })?;
        out.push(CarrierInvoice {
            summary: invoice.summary()?,
            allowance_total: invoice.allowance,
            detail: InvoiceDetail::decode(&detail)?,
        });
    }
    Ok(out)
}

/// A carrier's invoices of a period with their details, in date, time and
/// number order.
pub(crate) fn carrier_invoice_rows(
    c: &Connection,
    carrier: &Carrier,
    period: Period,
) -> Result<Vec<CarrierInvoice>, StoreError> {
    projected_rows(
        c,
        sql::CARRIER_ROWS,
        params![carrier.kind.code(), carrier.id, period.key()],
    )
}

/// Public lookup by number and random code.
pub(crate) fn lookup_invoice(
    c: &Connection,
    number: InvoiceNumber,
    random: RandomNumber,
) -> Result<Option<CarrierInvoice>, StoreError> {
    let rows = projected_rows(
        c,
        sql::PUBLIC_BY_RANDOM,
        params![number.to_string(), random.as_str()],
    )?;
    Ok(the_only(rows))
}

/// Public lookup by number and date.
pub(crate) fn lookup_invoice_by_date(
    c: &Connection,
    number: InvoiceNumber,
    date: einvoice_core::time::Date,
) -> Result<Option<CarrierInvoice>, StoreError> {
    let Some(period) = Period::of_date(date) else {
        return Ok(None);
    };
    let rows = projected_rows(
        c,
        sql::PUBLIC_BY_DATE,
        params![
            period.key(),
            number.to_string(),
            einvoice_core::period::format_mig_date(date)
        ],
    )?;
    Ok(the_only(rows))
}
