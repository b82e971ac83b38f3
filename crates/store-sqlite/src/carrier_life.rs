//! The SQL of [`CarrierLifeStore`]: the NPO directory and donations of
//! carrier invoices. The decisions are `einvoice_store`'s
//! ([`decide_donation`]).

use crate::append::append_event;
use crate::{SqliteStore, backend};
use einvoice_core::LoveCode;
use einvoice_store::{
    CardIssuerRecord, CarrierLifeReplay, CarrierLifeStore, DonationOutcome, DonationRefusal,
    DonationRow, InvoiceDonation, LedgerEntry, NewEntry, NpoRecord, Receipt, StoreError,
    decide_donation, replay_carrier_life, stored::stored_ubn,
};
use rusqlite::{Connection, OptionalExtension, params};

mod sql {
    pub(super) const PUT_NPO: &str = "INSERT INTO npos (love_code, name, ubn) VALUES (?1, ?2, ?3) \
         ON CONFLICT (love_code) DO UPDATE SET name = excluded.name, ubn = excluded.ubn";
    pub(super) const NPO: &str = "SELECT love_code, name, ubn FROM npos WHERE love_code = ?1";
    pub(super) const FIND_NPOS: &str = "SELECT love_code, name, ubn FROM npos \
         WHERE substr(love_code, 1, length(?1)) = ?1 OR instr(lower(name), lower(?1)) > 0 \
         ORDER BY love_code LIMIT ?2";
    pub(super) const PUT_CARD_ISSUER: &str = "INSERT INTO card_issuers (bank_code, name, bins) \
         VALUES (?1, ?2, ?3) ON CONFLICT (bank_code) DO UPDATE SET name = excluded.name, bins = excluded.bins";
    pub(super) const CARD_ISSUERS: &str =
        "SELECT bank_code, name, bins FROM card_issuers ORDER BY bank_code";
    pub(super) const NPO_EXISTS: &str = "SELECT 1 FROM npos WHERE love_code = ?1";
    pub(super) const FROZEN: &str = "SELECT 1 FROM draw_freezes WHERE period = ?1";
    pub(super) const DONATION_ROWS: &str = "SELECT seller, date, status, buyer, npoban FROM invoices \
         WHERE carrier_type = ?1 AND carrier_id = ?2 AND period = ?3 AND number = ?4";
    pub(super) const SET_NPOBAN: &str =
        "UPDATE invoices SET npoban = ?1 WHERE seller = ?2 AND number = ?3 AND period = ?4";
}

fn npo_of_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn npo_record((code, name, ubn): (String, String, String)) -> Result<NpoRecord, StoreError> {
    Ok(NpoRecord {
        love_code: LoveCode::parse(&code)
            .map_err(|_| einvoice_store::stored::corrupt("love_code", &code))?,
        name,
        ubn: stored_ubn(&ubn)?,
    })
}

fn find_npos(c: &Connection, query: &str, limit: u32) -> Result<Vec<NpoRecord>, StoreError> {
    let mut st = c.prepare_cached(sql::FIND_NPOS).map_err(backend)?;
    let rows = st
        .query_map(params![query, limit], npo_of_row)
        .map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(npo_record(r.map_err(backend)?)?);
    }
    Ok(out)
}

impl CarrierLifeStore for SqliteStore {
    async fn put_npo(&self, npo: NpoRecord, entry: NewEntry) -> Result<Receipt, StoreError> {
        let site = self.inner.site.clone();
        self.write(move |t, head| {
            t.prepare_cached(sql::PUT_NPO)
                .map_err(backend)?
                .execute(params![npo.love_code.as_str(), npo.name, npo.ubn.as_str()])
                .map_err(backend)?;
            append_event(t, head, &site, &entry)
        })
        .await
    }

    async fn npo(&self, love_code: &LoveCode) -> Result<Option<NpoRecord>, StoreError> {
        let code = love_code.as_str().to_string();
        self.read(move |c| {
            c.prepare_cached(sql::NPO)
                .map_err(backend)?
                .query_row(params![code], npo_of_row)
                .optional()
                .map_err(backend)?
                .map(npo_record)
                .transpose()
        })
        .await
    }

    async fn find_npos(&self, query: &str, limit: u32) -> Result<Vec<NpoRecord>, StoreError> {
        let query = query.to_string();
        self.read(move |c| find_npos(c, &query, limit)).await
    }

    async fn put_card_issuer(
        &self,
        issuer: CardIssuerRecord,
        entry: NewEntry,
    ) -> Result<Receipt, StoreError> {
        let site = self.inner.site.clone();
        self.write(move |t, head| {
            put_card_issuer(t, &issuer)?;
            append_event(t, head, &site, &entry)
        })
        .await
    }

    async fn card_issuers(&self) -> Result<Vec<CardIssuerRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(sql::CARD_ISSUERS).map_err(backend)?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for r in rows {
                let (code, name, bins) = r.map_err(backend)?;
                out.push(CardIssuerRecord::from_stored(&code, &name, &bins)?);
            }
            Ok(out)
        })
        .await
    }

    async fn donate_invoice(&self, d: InvoiceDonation) -> Result<DonationOutcome, StoreError> {
        let site = self.inner.site.clone();
        let Some(period) = d.period() else {
            return Ok(DonationOutcome::Refused(DonationRefusal::NotFound));
        };
        self.write(move |t, head| {
            let frozen = t
                .prepare_cached(sql::FROZEN)
                .map_err(backend)?
                .query_row(params![period.key()], |_| Ok(()))
                .optional()
                .map_err(backend)?
                .is_some();
            let known = t
                .prepare_cached(sql::NPO_EXISTS)
                .map_err(backend)?
                .query_row(params![d.love_code.as_str()], |_| Ok(()))
                .optional()
                .map_err(backend)?
                .is_some();
            let mut st = t.prepare_cached(sql::DONATION_ROWS).map_err(backend)?;
            let rows = st
                .query_map(
                    params![
                        d.carrier.kind.code(),
                        d.carrier.id,
                        period.key(),
                        d.number.to_string()
                    ],
                    |r| {
                        Ok(DonationRow {
                            seller: r.get(0)?,
                            date: r.get(1)?,
                            status: r.get(2)?,
                            buyer: r.get(3)?,
                            npoban: r.get(4)?,
                        })
                    },
                )
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            let (entry, seller) = match decide_donation(&d, &rows, frozen, known) {
                Ok(x) => x,
                Err(refusal) => return Ok(DonationOutcome::Refused(refusal)),
            };
            t.prepare_cached(sql::SET_NPOBAN)
                .map_err(backend)?
                .execute(params![
                    d.love_code.as_str(),
                    seller.as_str(),
                    d.number.to_string(),
                    period.key()
                ])
                .map_err(backend)?;
            let receipt = append_event(t, head, &site, &entry)?;
            Ok(DonationOutcome::Donated { receipt, seller })
        })
        .await
    }
}

fn put_card_issuer(c: &Connection, issuer: &CardIssuerRecord) -> Result<usize, StoreError> {
    c.prepare_cached(sql::PUT_CARD_ISSUER)
        .map_err(backend)?
        .execute(params![
            issuer.bank_code(),
            issuer.name(),
            issuer.bins_column()
        ])
        .map_err(backend)
}

/// The carrier-lifecycle replays of an import's entries (decoded on the caller's thread).
pub(crate) fn replays(entries: &[&LedgerEntry]) -> Result<Vec<CarrierLifeReplay>, StoreError> {
    entries
        .iter()
        .filter_map(|e| replay_carrier_life(e).transpose())
        .collect()
}

/// Put the replays of an import into the projections, after its entries.
pub(crate) fn apply_replays(
    t: &rusqlite::Transaction<'_>,
    replays: &[CarrierLifeReplay],
) -> Result<(), StoreError> {
    for r in replays {
        match r {
            CarrierLifeReplay::Npo(npo) => t
                .prepare_cached(sql::PUT_NPO)
                .map_err(backend)?
                .execute(params![npo.love_code.as_str(), npo.name, npo.ubn.as_str()])
                .map_err(backend)?,
            CarrierLifeReplay::Donation {
                seller,
                number,
                period,
                love_code,
            } => t
                .prepare_cached(sql::SET_NPOBAN)
                .map_err(backend)?
                .execute(params![
                    love_code.as_str(),
                    seller.as_str(),
                    number.to_string(),
                    period.key()
                ])
                .map_err(backend)?,
            CarrierLifeReplay::Carrier(c) => {
                crate::carrier_reg::put_credential(t, c)?;
                1
            }
            CarrierLifeReplay::Link(row) => {
                crate::carrier_agg::put_row(t, row)?;
                1
            }
            CarrierLifeReplay::CardIssuer(issuer) => put_card_issuer(t, issuer)?,
        };
    }
    Ok(())
}
