//! The carrier read path on SQLite: the `invoice_detail` projection (one
//! compact [`InvoiceDetail`] per issued invoice, migration 6), written by the
//! append path's projection, rebuilt from the ledger, and read with the
//! invoice rows of a carrier's period in one query.

use crate::backend;
use crate::read::invoice_of;
use einvoice_core::{Carrier, Period};
use einvoice_store::StoreError;
use einvoice_store::read_projection::{CarrierInvoice, InvoiceDetail};
use rusqlite::{Connection, params};

/// Every SQL statement of the carrier read path.
pub(crate) mod sql {
    /// Write (or rewrite) one invoice's detail.
    pub(crate) const PUT_DETAIL: &str =
        "INSERT OR REPLACE INTO invoice_detail (seller, number, detail) VALUES (?1, ?2, ?3)";
    /// Forget every detail (the start of a rebuild).
    pub(crate) const CLEAR: &str = "DELETE FROM invoice_detail";
    /// Every issued invoice with its issuing entry's body, from the ledger.
    pub(crate) const ISSUING_BODIES: &str = "SELECT i.seller, i.number, l.body FROM invoices i \
         JOIN ledger l ON l.origin = i.origin AND l.seq = i.seq";
    /// A carrier's invoices of a period with their details, in the column
    /// order of `read::invoice_of`: the summary columns only (neither the
    /// body nor the ledger is read), then the detail.
    pub(crate) const CARRIER_ROWS: &str = "SELECT i.seller, i.number, i.period, i.date, i.time, \
         i.buyer, i.random, i.carrier_type, i.carrier_id, i.npoban, i.total, i.status, \
         i.allowance, X'', '', 0, NULL, NULL, NULL, NULL, d.detail FROM invoices i \
         LEFT JOIN invoice_detail d ON d.seller = i.seller AND d.number = i.number \
         WHERE i.carrier_type = ?1 AND i.carrier_id = ?2 AND i.period = ?3 \
         ORDER BY i.date, i.time, i.number";
}

/// Project one issued invoice's detail from its canonical body (the append
/// path, and so import; the rebuild).
pub(crate) fn project(
    c: &Connection,
    seller: &str,
    number: &str,
    body: &[u8],
) -> Result<(), StoreError> {
    let detail = InvoiceDetail::from_body(body)?.encode();
    c.prepare_cached(sql::PUT_DETAIL)
        .map_err(backend)?
        .execute(params![seller, number, detail])
        .map_err(backend)?;
    Ok(())
}

/// Rebuild `invoice_detail` from the ledger: every issued invoice's detail
/// from its issuing entry's body. Returns the number of rows written.
pub(crate) fn rebuild(c: &Connection) -> Result<u64, StoreError> {
    c.execute(sql::CLEAR, []).map_err(backend)?;
    let mut st = c.prepare(sql::ISSUING_BODIES).map_err(backend)?;
    let mut rows = st.query([]).map_err(backend)?;
    let mut n = 0u64;
    while let Some(r) = rows.next().map_err(backend)? {
        let seller: String = r.get(0).map_err(backend)?;
        let number: String = r.get(1).map_err(backend)?;
        let body: Vec<u8> = r.get(2).map_err(backend)?;
        project(c, &seller, &number, &body)?;
        n += 1;
    }
    Ok(n)
}

/// A carrier's invoices of a period with their details, in date, time and
/// number order.
pub(crate) fn carrier_invoice_rows(
    c: &Connection,
    carrier: &Carrier,
    period: Period,
) -> Result<Vec<CarrierInvoice>, StoreError> {
    let mut st = c.prepare_cached(sql::CARRIER_ROWS).map_err(backend)?;
    let rows = st
        .query_map(
            params![carrier.kind.code(), carrier.id, period.key()],
            |r| Ok((invoice_of(r)?.0, r.get::<_, Option<Vec<u8>>>(20)?)),
        )
        .map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        let (invoice, detail) = r.map_err(backend)?;
        let detail = detail.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "invoice {}/{} has no read projection (invoice_detail)",
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
