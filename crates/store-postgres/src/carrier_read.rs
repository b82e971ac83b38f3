//! The read path on PostgreSQL: the read projection (one compact
//! [`InvoiceDetail`] per issued invoice) kept in `invoices.detail`
//! (migration 15), written by the append path's projection (and so by import
//! and sync), rebuilt from the ledger by the migration, and read with the
//! invoice rows in one query ([`PgStore::projected`]): a carrier's period,
//! and the public lookups.

use crate::PgStore;
use crate::bodies::Bodies;
use crate::error::DbError;
use crate::read::invoice_of;
use einvoice_core::ids::{InvoiceNumber, RandomNumber};
use einvoice_core::{Carrier, Period};
use einvoice_store::StoreError;
use einvoice_store::read_projection::{CarrierInvoice, InvoiceDetail, the_only};

/// Invoices whose detail one rebuild step reads from the ledger.
const REBUILD_CHUNK: i64 = 1_000;

/// Every SQL statement of the carrier read path.
pub(crate) mod sql {
    /// Issued invoices after a (seller, number) with their issuing entry's
    /// stored body and codec, in key order.
    pub(crate) const ISSUING_BODIES: &str = "SELECT i.seller, i.number, l.body, l.body_codec, l.seq \
         FROM invoices i JOIN ledger l ON l.origin = i.origin AND l.seq = i.seq \
         WHERE (i.seller, i.number) > ($1, $2) ORDER BY i.seller, i.number LIMIT $3";
    /// Write the details of a chunk, one array per column.
    pub(crate) const PUT_DETAILS: &str = "UPDATE invoices i SET detail = u.detail \
         FROM UNNEST($1::text[], $2::text[], $3::bytea[]) AS u(seller, number, detail) \
         WHERE i.seller = u.seller AND i.number = u.number";
    /// The invoice rows with their details, in the column order of
    /// `read::invoice_of`: the invoice row only (neither a body nor the
    /// ledger is read), then the detail.
    macro_rules! projected_select {
        () => {
            "SELECT seller, number, period, date, time, buyer, random, carrier_type, carrier_id, \
             npoban, total, status, allowance, ''::bytea, 0::bigint, origin, seq, NULL::bigint, \
             NULL::text, NULL::text, NULL::bytea, detail FROM invoices "
        };
    }
    /// A carrier's invoices of a period (index `invoices_by_carrier`).
    pub(crate) const CARRIER_ROWS: &str = concat!(
        projected_select!(),
        "WHERE carrier_type = $1 AND carrier_id = $2 AND period = $3 ORDER BY date, time, number"
    );
    /// Public lookup by number + random code (index `invoices_by_random`).
    pub(crate) const PUBLIC_BY_RANDOM: &str = concat!(
        projected_select!(),
        "WHERE number = $1 AND random = $2 LIMIT 2"
    );
    /// Public lookup by number + date, in the period's partition (index
    /// `invoices_by_draw`).
    pub(crate) const PUBLIC_BY_DATE: &str = concat!(
        projected_select!(),
        "WHERE period = $1 AND number = $2 AND date = $3 LIMIT 2"
    );
}

/// The detail column of an issued invoice from its canonical body (the
/// append path, and so import and sync; the rebuild).
pub(crate) fn detail_of(body: &[u8]) -> Result<Vec<u8>, DbError> {
    Ok(InvoiceDetail::from_body(body)?.encode())
}

/// Write every invoice's detail from its issuing entry's body in the
/// ledger (migration 15, in its transaction). Returns the rows written.
pub(crate) async fn rebuild(
    t: &deadpool_postgres::Transaction<'_>,
    bodies: &Bodies,
) -> Result<u64, DbError> {
    let (mut seller, mut number) = (String::new(), String::new());
    let mut n = 0u64;
    loop {
        let rows = t
            .query(sql::ISSUING_BODIES, &[&seller, &number, &REBUILD_CHUNK])
            .await?;
        let Some(last) = rows.last() else {
            return Ok(n);
        };
        (seller, number) = (last.try_get(0)?, last.try_get(1)?);
        let (mut sellers, mut numbers, mut details) = (Vec::new(), Vec::new(), Vec::new());
        for r in &rows {
            let s: String = r.try_get(0)?;
            let at = (s.as_str(), r.try_get::<_, i64>(4)?);
            let body = bodies
                .unpack(&**t, at, r.try_get(2)?, r.try_get(3)?)
                .await?;
            details.push(detail_of(&body)?);
            sellers.push(s);
            numbers.push(r.try_get::<_, String>(1)?);
        }
        n += t
            .execute(sql::PUT_DETAILS, &[&sellers, &numbers, &details])
            .await?;
    }
}

impl PgStore {
    /// The rows of one of the `sql` projected queries with their details:
    /// the one read function of the carrier queries and the public lookups.
    async fn projected(
        &self,
        query: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<CarrierInvoice>, StoreError> {
        self.run(|c| async move {
            let st = c.prepare_cached(query).await?;
            let mut out = Vec::new();
            for r in c.query(&st, params).await? {
                let (invoice, _, _) = invoice_of(&r)?;
                let detail: Option<Vec<u8>> = r.try_get(21)?;
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
        })
        .await
    }

    /// A carrier's invoices of a period with their details, in date, time
    /// and number order.
    pub(crate) async fn carrier_rows(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<CarrierInvoice>, StoreError> {
        let pk = crate::append::period_key(period).map_err(DbError::into_store)?;
        self.projected(sql::CARRIER_ROWS, &[&carrier.kind.code(), &carrier.id, &pk])
            .await
    }

    /// Public lookup by number and random code.
    pub(crate) async fn public_by_random(
        &self,
        number: InvoiceNumber,
        random: RandomNumber,
    ) -> Result<Option<CarrierInvoice>, StoreError> {
        let number = number.to_string();
        let rows = self
            .projected(sql::PUBLIC_BY_RANDOM, &[&number, &random.as_str()])
            .await?;
        Ok(the_only(rows))
    }

    /// Public lookup by number and date.
    pub(crate) async fn public_by_date(
        &self,
        number: InvoiceNumber,
        date: einvoice_core::time::Date,
    ) -> Result<Option<CarrierInvoice>, StoreError> {
        let Some(period) = Period::of_date(date) else {
            return Ok(None);
        };
        let pk = crate::append::period_key(period).map_err(DbError::into_store)?;
        let number = number.to_string();
        let date = einvoice_core::period::format_mig_date(date);
        let rows = self
            .projected(sql::PUBLIC_BY_DATE, &[&pk, &number, &date])
            .await?;
        Ok(the_only(rows))
    }
}
