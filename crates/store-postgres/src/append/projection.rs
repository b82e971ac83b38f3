//! The projection writes of one accepted message: the invoice row (in its
//! period's partition), held cancels and voids, allowances and the invoices
//! they reduce, and track allocations.

use super::chain::Writer;
use super::columns::{period_key, to_i64};
use super::sql::{HELD_FOR, INSERT_INVOICE, REFRESH_ALLOWANCE, create_partition_sql};
use crate::error::DbError;
use einvoice_core::Facts;
use einvoice_store::Receipt;
use einvoice_store::append_rules::{
    InvoiceColumns, allowance_per_invoice, held_status, status_on_issue_of, track_ranges,
};

impl<'a, 't> Writer<'a, 't> {
    /// Make sure the invoice partition of a period exists in this transaction.
    pub(super) async fn ensure_partition(&mut self, key: u32) -> Result<(), DbError> {
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
                let detail = crate::carrier_read::detail_of(body)?;
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
                            &detail,
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
