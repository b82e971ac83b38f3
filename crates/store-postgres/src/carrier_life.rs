//! The SQL of [`CarrierLifeStore`] on PostgreSQL: the NPO directory and
//! donations of carrier invoices (table in `migrations/0010_carrier_life.sql`).
//! The decisions are `einvoice_store`'s ([`decide_donation`]).

use crate::PgStore;
use crate::append::{append_event_in, period_key};
use crate::error::DbError;
use einvoice_core::LoveCode;
use einvoice_store::stored::{corrupt, stored_ubn};
use einvoice_store::{
    CardIssuerRecord, CarrierLifeReplay, CarrierLifeStore, DonationOutcome, DonationRefusal,
    DonationRow, InvoiceDonation, LedgerEntry, NewEntry, NpoRecord, Receipt, StoreError,
    decide_donation, replay_carrier_life,
};
use tokio_postgres::Row;

mod sql {
    pub(super) const PUT_NPO: &str = "INSERT INTO npos (love_code, name, ubn) VALUES ($1, $2, $3) \
         ON CONFLICT (love_code) DO UPDATE SET name = excluded.name, ubn = excluded.ubn";
    pub(super) const NPO: &str = "SELECT love_code, name, ubn FROM npos WHERE love_code = $1";
    pub(super) const FIND_NPOS: &str = "SELECT love_code, name, ubn FROM npos \
         WHERE left(love_code, length($1::text)) = $1::text OR strpos(lower(name), lower($1::text)) > 0 \
         ORDER BY love_code LIMIT $2";
    pub(super) const PUT_CARD_ISSUER: &str = "INSERT INTO card_issuers (bank_code, name, bins) \
         VALUES ($1, $2, $3) ON CONFLICT (bank_code) DO UPDATE SET name = excluded.name, bins = excluded.bins";
    pub(super) const CARD_ISSUERS: &str =
        "SELECT bank_code, name, bins FROM card_issuers ORDER BY bank_code";
    pub(super) const NPO_EXISTS: &str = "SELECT 1 FROM npos WHERE love_code = $1";
    pub(super) const FROZEN: &str = "SELECT 1 FROM draw_freezes WHERE period = $1 FOR SHARE";
    pub(super) const DONATION_ROWS: &str = "SELECT seller, date, status, buyer, npoban FROM invoices \
         WHERE carrier_type = $1 AND carrier_id = $2 AND period = $3 AND number = $4 FOR UPDATE";
    pub(super) const SET_NPOBAN: &str =
        "UPDATE invoices SET npoban = $1 WHERE seller = $2 AND number = $3 AND period = $4";
}

fn npo_record(r: &Row) -> Result<NpoRecord, DbError> {
    let code: String = r.try_get(0)?;
    let ubn: String = r.try_get(2)?;
    Ok(NpoRecord {
        love_code: LoveCode::parse(&code).map_err(|_| corrupt("love_code", &code))?,
        name: r.try_get(1)?,
        ubn: stored_ubn(&ubn)?,
    })
}

impl CarrierLifeStore for PgStore {
    async fn put_npo(&self, npo: NpoRecord, entry: NewEntry) -> Result<Receipt, StoreError> {
        let shared = self.shared();
        let (site, known) = (shared.site.as_str(), &shared.partitions);
        let (npo, entry) = (&npo, &entry);
        shared
            .run(true, |mut c| async move {
                let t = c.transaction().await?;
                t.execute(
                    sql::PUT_NPO,
                    &[&npo.love_code.as_str(), &npo.name, &npo.ubn.as_str()],
                )
                .await?;
                let receipt = append_event_in(&t, site, known, entry).await?;
                t.commit().await?;
                Ok(receipt)
            })
            .await
    }

    async fn npo(&self, love_code: &LoveCode) -> Result<Option<NpoRecord>, StoreError> {
        let code = love_code.as_str();
        self.run(|c| async move {
            match c.query_opt(sql::NPO, &[&code]).await? {
                Some(r) => Ok(Some(npo_record(&r)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn find_npos(&self, query: &str, limit: u32) -> Result<Vec<NpoRecord>, StoreError> {
        let limit = i64::from(limit);
        self.run(|c| async move {
            let rows = c.query(sql::FIND_NPOS, &[&query, &limit]).await?;
            rows.iter().map(npo_record).collect()
        })
        .await
    }

    async fn put_card_issuer(
        &self,
        issuer: CardIssuerRecord,
        entry: NewEntry,
    ) -> Result<Receipt, StoreError> {
        let shared = self.shared();
        let (site, known) = (shared.site.as_str(), &shared.partitions);
        let (issuer, entry) = (&issuer, &entry);
        shared
            .run(true, |mut c| async move {
                let t = c.transaction().await?;
                put_card_issuer(&t, issuer).await?;
                let receipt = append_event_in(&t, site, known, entry).await?;
                t.commit().await?;
                Ok(receipt)
            })
            .await
    }

    async fn card_issuers(&self) -> Result<Vec<CardIssuerRecord>, StoreError> {
        self.run(|c| async move {
            let rows = c.query(sql::CARD_ISSUERS, &[]).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let (code, name, bins): (String, String, String) =
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                out.push(CardIssuerRecord::from_stored(&code, &name, &bins)?);
            }
            Ok(out)
        })
        .await
    }

    async fn donate_invoice(&self, d: InvoiceDonation) -> Result<DonationOutcome, StoreError> {
        let Some(period) = d.period() else {
            return Ok(DonationOutcome::Refused(DonationRefusal::NotFound));
        };
        let pk = period_key(period).map_err(DbError::into_store)?;
        let shared = self.shared();
        let (site, known) = (shared.site.as_str(), &shared.partitions);
        let d = &d;
        let number = d.number.to_string();
        let number = number.as_str();
        shared
            .run(false, |mut c| async move {
                let t = c.transaction().await?;
                let frozen = t.query_opt(sql::FROZEN, &[&pk]).await?.is_some();
                let known_npo = t
                    .query_opt(sql::NPO_EXISTS, &[&d.love_code.as_str()])
                    .await?
                    .is_some();
                let rows = t
                    .query(
                        sql::DONATION_ROWS,
                        &[&d.carrier.kind.code(), &d.carrier.id, &pk, &number],
                    )
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(DonationRow {
                            seller: r.try_get(0)?,
                            date: r.try_get(1)?,
                            status: r.try_get(2)?,
                            buyer: r.try_get(3)?,
                            npoban: r.try_get(4)?,
                        })
                    })
                    .collect::<Result<Vec<_>, DbError>>()?;
                let (entry, seller) = match decide_donation(d, &rows, frozen, known_npo) {
                    Ok(x) => x,
                    Err(refusal) => return Ok(DonationOutcome::Refused(refusal)),
                };
                t.execute(
                    sql::SET_NPOBAN,
                    &[&d.love_code.as_str(), &seller.as_str(), &number, &pk],
                )
                .await?;
                let receipt = append_event_in(&t, site, known, &entry).await?;
                t.commit().await?;
                Ok(DonationOutcome::Donated { receipt, seller })
            })
            .await
    }
}

async fn put_card_issuer(
    t: &deadpool_postgres::Transaction<'_>,
    issuer: &CardIssuerRecord,
) -> Result<u64, DbError> {
    Ok(t.execute(
        sql::PUT_CARD_ISSUER,
        &[&issuer.bank_code(), &issuer.name(), &issuer.bins_column()],
    )
    .await?)
}

/// The carrier-lifecycle replays of an import's entries.
pub(crate) fn replays(entries: &[&LedgerEntry]) -> Result<Vec<CarrierLifeReplay>, StoreError> {
    entries
        .iter()
        .filter_map(|e| replay_carrier_life(e).transpose())
        .collect()
}

/// Put the replays of an import into the projections, after its entries.
pub(crate) async fn apply_replays(
    t: &deadpool_postgres::Transaction<'_>,
    replays: &[CarrierLifeReplay],
) -> Result<(), DbError> {
    for r in replays {
        match r {
            CarrierLifeReplay::Npo(npo) => {
                t.execute(
                    sql::PUT_NPO,
                    &[&npo.love_code.as_str(), &npo.name, &npo.ubn.as_str()],
                )
                .await?
            }
            CarrierLifeReplay::Donation {
                seller,
                number,
                period,
                love_code,
            } => {
                let pk = period_key(*period)?;
                t.execute(
                    sql::SET_NPOBAN,
                    &[
                        &love_code.as_str(),
                        &seller.as_str(),
                        &number.to_string(),
                        &pk,
                    ],
                )
                .await?
            }
            CarrierLifeReplay::Carrier(c) => {
                crate::carrier_reg::put_credential(t, c).await?;
                1
            }
            CarrierLifeReplay::Link(row) => {
                crate::carrier_agg::put_row(t, row).await?;
                1
            }
            CarrierLifeReplay::CardIssuer(issuer) => put_card_issuer(t, issuer).await?,
        };
    }
    Ok(())
}
