//! The carrier lifecycle's records and decisions, once for every backend:
//! the NPO directory (愛心碼, love codes) and the donation of a carrier
//! invoice after issue (發票捐贈, MOF `carrierInvDnt`).
//!
//! A donation is a ledger entry of kind [`DONATION`] (key
//! `donation/<seller>/<number>`), appended in the same transaction that
//! writes the love code into the invoice's projection (`npoban`), so the draw
//! carries it (an eligible row with a love code pays the NPO). Which donation
//! applies is decided by [`einvoice_core::donation::resolve_donation`];
//! [`decide_donation`] adds the store's refusals (unknown love code, period
//! closed) around it.

use crate::{LedgerEntry, NewEntry, Receipt, StoreError, canonical_json};
use einvoice_core::donation::{
    DonationEvent, DonationFacts, DonationTarget, codes, resolve_donation,
};
use einvoice_core::ids::CONSUMER_BUYER_ID;
use einvoice_core::period::format_mig_date;
use einvoice_core::time::Date;
use einvoice_core::{Carrier, InvoiceNumber, LoveCode, Period, Ubn};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::future::Future;

/// Ledger kind of a donation of a carrier invoice.
pub const DONATION: &str = "DONATION";
/// Ledger kind of a change to the NPO directory.
pub const NPO: &str = "NPO";

/// One NPO of the directory of love codes (愛心碼 / NPOBAN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NpoRecord {
    /// The love code (3–7 digits).
    pub love_code: LoveCode,
    /// The NPO's name (社福團體名稱).
    pub name: String,
    /// The NPO's UBN (統一編號).
    pub ubn: Ubn,
}

impl NpoRecord {
    /// The ledger entry recording this version of the NPO, by `actor`.
    pub fn ledger_entry(&self, actor: &str) -> NewEntry {
        NewEntry {
            kind: NPO.into(),
            key: format!("npo/{}", self.love_code.as_str()),
            actor: actor.into(),
            body: canonical_json(&json!({
                "love_code": self.love_code.as_str(),
                "name": self.name,
                "ubn": self.ubn.as_str(),
            })),
        }
    }
}

/// A citizen's request to donate one invoice of an authenticated carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDonation {
    /// The carrier the invoice is on (authenticated by the caller).
    pub carrier: Carrier,
    /// The invoice number.
    pub number: InvoiceNumber,
    /// The invoice date (MOF `invDate`).
    pub date: Date,
    /// The love code of the NPO.
    pub love_code: LoveCode,
    /// Who asks (`carrier:<type>:<id>`, `app:<appID>`).
    pub actor: String,
}

impl InvoiceDonation {
    /// The period the invoice date falls in.
    pub fn period(&self) -> Option<Period> {
        Period::of_date(self.date)
    }

    /// The invoice date as stored (`YYYYMMDD`).
    pub fn stored_date(&self) -> String {
        format_mig_date(self.date)
    }
}

/// The invoice row a backend reads for a donation (carrier, number and
/// period matched in SQL), in the stored text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonationRow {
    /// `seller`.
    pub seller: String,
    /// `date` (`YYYYMMDD`).
    pub date: String,
    /// `status` (`issued`, `cancelled`, `voided`).
    pub status: String,
    /// `buyer` (`0000000000` for consumers).
    pub buyer: String,
    /// `npoban`.
    pub npoban: Option<String>,
}

/// Why a donation was refused; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DonationRefusal {
    /// No invoice with this number and date on the carrier.
    NotFound,
    /// The invoice is cancelled, voided or has a business buyer.
    NotDonatable,
    /// The invoice is donated already (at issue or by an earlier donation).
    AlreadyDonated,
    /// The period is frozen for its draw (or drawn): too late.
    PeriodClosed,
    /// The love code is not in the NPO directory.
    UnknownLoveCode,
}

impl DonationRefusal {
    /// Stable code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "DONATION_INVOICE_NOT_FOUND",
            Self::NotDonatable => "DONATION_NOT_DONATABLE",
            Self::AlreadyDonated => "DONATION_ALREADY_DONATED",
            Self::PeriodClosed => "DONATION_PERIOD_CLOSED",
            Self::UnknownLoveCode => "LOVE_CODE_UNKNOWN",
        }
    }
}

/// The outcome of [`CarrierLifeStore::donate_invoice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DonationOutcome {
    /// Donated: the receipt of the [`DONATION`] entry and the invoice's seller.
    Donated {
        /// Receipt of the ledger entry.
        receipt: Receipt,
        /// The invoice's seller.
        seller: Ubn,
    },
    /// Refused; nothing was written.
    Refused(DonationRefusal),
}

/// Decide a donation from what the backend read in its write transaction:
/// the invoice rows of the carrier with the number in the period, whether
/// the period is frozen for its draw and whether the love code is in the
/// directory. On success: the ledger entry to append and the seller whose
/// invoice takes the love code.
pub fn decide_donation(
    d: &InvoiceDonation,
    rows: &[DonationRow],
    period_frozen: bool,
    npo_known: bool,
) -> Result<(NewEntry, Ubn), DonationRefusal> {
    if !npo_known {
        return Err(DonationRefusal::UnknownLoveCode);
    }
    let date = d.stored_date();
    let row = rows
        .iter()
        .find(|r| r.date == date)
        .ok_or(DonationRefusal::NotFound)?;
    if period_frozen {
        return Err(DonationRefusal::PeriodClosed);
    }
    if row.status != "issued" {
        return Err(DonationRefusal::NotDonatable);
    }
    let seller = Ubn::parse(&row.seller).map_err(|_| DonationRefusal::NotFound)?;
    let donated_at_issue = match row.npoban.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => Some(LoveCode::parse(n).map_err(|_| DonationRefusal::AlreadyDonated)?),
        None => None,
    };
    let body = canonical_json(&json!({
        "carrier_type": d.carrier.kind.code(),
        "carrier_id": d.carrier.id,
        "seller": seller.as_str(),
        "number": d.number.to_string(),
        "date": date,
        "love_code": d.love_code.as_str(),
    }));
    let hash: [u8; 32] = Sha256::digest(&body).into();
    let target = DonationTarget {
        seller,
        number: d.number,
        carrier: Some(d.carrier.clone()),
        donated_at_issue,
        business_buyer: row.buyer != CONSUMER_BUYER_ID,
    };
    let event = DonationEvent {
        hash,
        facts: DonationFacts {
            seller,
            number: d.number,
            carrier: d.carrier.clone(),
            love_code: d.love_code.clone(),
        },
    };
    let resolution = resolve_donation(&target, &[event]);
    if resolution.applied != Some(hash) {
        return Err(match resolution.conflicts.first().map(|c| c.code) {
            Some(codes::DONATION_NOT_DONATABLE) => DonationRefusal::NotDonatable,
            Some(codes::DONATION_MISMATCH) => DonationRefusal::NotFound,
            _ => DonationRefusal::AlreadyDonated,
        });
    }
    let entry = NewEntry {
        kind: DONATION.into(),
        key: format!("donation/{}/{}", seller.as_str(), d.number),
        actor: d.actor.clone(),
        body,
    };
    Ok((entry, seller))
}

/// A carrier-lifecycle ledger entry put back into the projections when a
/// site is imported (the ledger is the truth: the NPO directory and the
/// donations are rebuilt from their entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarrierLifeReplay {
    /// An [`NPO`] entry: the directory row.
    Npo(NpoRecord),
    /// A [`DONATION`] entry: the love code of one invoice.
    Donation {
        /// The invoice's seller.
        seller: Ubn,
        /// The invoice number.
        number: InvoiceNumber,
        /// The invoice's period.
        period: Period,
        /// The love code.
        love_code: LoveCode,
    },
    /// A [`crate::CARRIER_REGISTERED`] or [`crate::CARRIER_VERIFICATION`]
    /// entry: the carrier's record (and, on registration, its contact).
    Carrier(crate::CarrierCredential),
    /// A [`crate::CARRIER_LINK`] entry: the row it writes where it
    /// supersedes the row held ([`crate::LinkRow::supersedes`]).
    Link(crate::LinkRow),
    /// A [`crate::CARD_ISSUER`] entry: the credit-card issuer directory row.
    CardIssuer(crate::CardIssuerRecord),
}

/// Decode an [`NPO`], [`DONATION`], carrier, [`crate::CARRIER_LINK`] or [`crate::CARD_ISSUER`] entry (`None` for any other kind); a
/// malformed body is `STORE_CORRUPT`. Backends apply the replays after
/// every entry of an import, so a donation finds its invoice whatever the
/// order of the origins.
pub fn replay_carrier_life(e: &LedgerEntry) -> Result<Option<CarrierLifeReplay>, StoreError> {
    if e.kind == crate::CARRIER_LINK {
        return Ok(crate::replay_link(e)?.map(CarrierLifeReplay::Link));
    }
    if e.kind == crate::CARD_ISSUER {
        return Ok(crate::CardIssuerRecord::from_entry(e)?.map(CarrierLifeReplay::CardIssuer));
    }
    let credential = e.kind == crate::CARRIER_REGISTERED || e.kind == crate::CARRIER_VERIFICATION;
    if e.kind != NPO && e.kind != DONATION && !credential {
        return Ok(None);
    }
    let bad = |what: &str| StoreError::Corrupt(format!("{} entry {}: {what}", e.kind, e.seq));
    if credential && e.withheld {
        // Only a digest travelled: nothing to project (the body stays at its origin).
        return Ok(None);
    }
    let body: serde_json::Value = serde_json::from_slice(&e.body).map_err(|_| bad("not JSON"))?;
    let field = |k: &str| {
        body.get(k)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| bad(k))
    };
    if credential {
        let kind = einvoice_core::CarrierType::parse(
            field("carrier_type")?,
            &einvoice_core::ids::CarrierTypes::default(),
        )
        .map_err(|_| bad("carrier_type"))?;
        let carrier = Carrier::parse(kind, field("carrier_id")?).map_err(|_| bad("carrier_id"))?;
        let contact = if e.kind == crate::CARRIER_REGISTERED {
            Some(crate::CarrierContact {
                carrier: carrier.clone(),
                email: field("email")?.to_string(),
                phone: field("phone")?.to_string(),
            })
        } else {
            None
        };
        return Ok(Some(CarrierLifeReplay::Carrier(crate::CarrierCredential {
            carrier,
            verification_hash: field("verification_hash")?.to_string(),
            contact,
        })));
    }
    let love_code = LoveCode::parse(field("love_code")?).map_err(|_| bad("love_code"))?;
    if e.kind == NPO {
        return Ok(Some(CarrierLifeReplay::Npo(NpoRecord {
            love_code,
            name: field("name")?.to_string(),
            ubn: Ubn::parse(field("ubn")?).map_err(|_| bad("ubn"))?,
        })));
    }
    let date = einvoice_core::period::parse_mig_date(field("date")?).map_err(|_| bad("date"))?;
    Ok(Some(CarrierLifeReplay::Donation {
        seller: Ubn::parse(field("seller")?).map_err(|_| bad("seller"))?,
        number: InvoiceNumber::parse(field("number")?).map_err(|_| bad("number"))?,
        period: Period::of_date(date).ok_or_else(|| bad("date"))?,
        love_code,
    }))
}

/// Find NPOs: a query of digits matches love codes starting with it; any
/// query matches names containing it (ASCII case-insensitive). Backends
/// implement this exact rule in SQL; [`npo_matches`] is the reference.
pub fn npo_matches(npo: &NpoRecord, query: &str) -> bool {
    npo.love_code.as_str().starts_with(query)
        || npo.name.to_lowercase().contains(&query.to_lowercase())
}

/// The carrier lifecycle's storage (a supertrait of [`crate::Store`], so
/// every backend has it). The SQL of each backend is in its
/// `carrier_life.rs`.
pub trait CarrierLifeStore: Send + Sync {
    /// Add or replace an NPO of the directory and append `entry` (see
    /// [`NpoRecord::ledger_entry`]) in one transaction.
    fn put_npo(
        &self,
        npo: NpoRecord,
        entry: NewEntry,
    ) -> impl Future<Output = Result<Receipt, StoreError>> + Send;

    /// The NPO of a love code.
    fn npo(
        &self,
        love_code: &LoveCode,
    ) -> impl Future<Output = Result<Option<NpoRecord>, StoreError>> + Send;

    /// NPOs matching `query` ([`npo_matches`]), by love code, at most `limit`.
    fn find_npos(
        &self,
        query: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<NpoRecord>, StoreError>> + Send;

    /// Add or replace a bank of the credit-card issuer directory and append
    /// `entry` (see [`crate::CardIssuerRecord::ledger_entry`]) in one transaction.
    fn put_card_issuer(
        &self,
        issuer: crate::CardIssuerRecord,
        entry: NewEntry,
    ) -> impl Future<Output = Result<Receipt, StoreError>> + Send;

    /// Every bank of the credit-card issuer directory, by bank code.
    fn card_issuers(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::CardIssuerRecord>, StoreError>> + Send;

    /// Donate an invoice of an authenticated carrier (decided by
    /// [`decide_donation`]): the [`DONATION`] entry and the invoice's love
    /// code in one transaction, or a refusal and nothing written.
    fn donate_invoice(
        &self,
        donation: InvoiceDonation,
    ) -> impl Future<Output = Result<DonationOutcome, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use einvoice_core::CarrierType;
    use einvoice_core::time::Month;

    fn donation() -> InvoiceDonation {
        InvoiceDonation {
            carrier: Carrier::parse(CarrierType::MobileBarcode, "/ABC+123").expect("carrier"),
            number: InvoiceNumber::parse("AB12345678").expect("number"),
            date: Date::from_calendar_date(2025, Month::March, 5).expect("date"),
            love_code: LoveCode::parse("919").expect("love code"),
            actor: "carrier:3J0002:/ABC+123".into(),
        }
    }

    fn row() -> DonationRow {
        DonationRow {
            seller: "04595257".into(),
            date: "20250305".into(),
            status: "issued".into(),
            buyer: CONSUMER_BUYER_ID.into(),
            npoban: None,
        }
    }

    #[test]
    fn an_issued_consumer_invoice_is_donated() {
        let (entry, seller) = decide_donation(&donation(), &[row()], false, true).expect("donated");
        assert_eq!(seller.as_str(), "04595257");
        assert_eq!(entry.kind, "DONATION");
        assert_eq!(entry.key, "donation/04595257/AB12345678");
        assert_eq!(
            String::from_utf8(entry.body).expect("utf8"),
            r#"{"carrier_id":"/ABC+123","carrier_type":"3J0002","date":"20250305","love_code":"919","number":"AB12345678","seller":"04595257"}"#
        );
    }

    #[test]
    fn donation_and_npo_entries_replay() {
        let (entry, _) = decide_donation(&donation(), &[row()], false, true).expect("donated");
        let as_stored = |e: NewEntry| LedgerEntry {
            origin: "main".into(),
            seq: 7,
            hlc: crate::Hlc(1),
            kind: e.kind,
            key: e.key,
            actor: e.actor,
            body: e.body,
            prev_hash: crate::EntryHash::GENESIS,
            hash: crate::EntryHash::GENESIS,
            body_digest: None,
            withheld: false,
        };
        assert_eq!(
            replay_carrier_life(&as_stored(entry)).expect("replay"),
            Some(CarrierLifeReplay::Donation {
                seller: Ubn::parse("04595257").expect("ubn"),
                number: InvoiceNumber::parse("AB12345678").expect("number"),
                period: Period::parse("11404").expect("period"),
                love_code: LoveCode::parse("919").expect("love code"),
            })
        );
        let npo = NpoRecord {
            love_code: LoveCode::parse("168").expect("love code"),
            name: "Fund".into(),
            ubn: Ubn::parse("12345676").expect("ubn"),
        };
        let e = as_stored(npo.ledger_entry("operator:alice"));
        assert_eq!(
            replay_carrier_life(&e).expect("replay"),
            Some(CarrierLifeReplay::Npo(npo))
        );
        let mut broken = e;
        broken.body = b"{}".to_vec();
        assert!(replay_carrier_life(&broken).is_err());
    }

    #[test]
    fn refusals() {
        let d = donation();
        let refused = |rows: &[DonationRow], frozen, known| {
            decide_donation(&d, rows, frozen, known).map(|_| ()).err()
        };
        assert_eq!(
            refused(&[row()], false, false),
            Some(DonationRefusal::UnknownLoveCode)
        );
        assert_eq!(refused(&[], false, true), Some(DonationRefusal::NotFound));
        let other_day = DonationRow {
            date: "20250306".into(),
            ..row()
        };
        assert_eq!(
            refused(&[other_day], false, true),
            Some(DonationRefusal::NotFound)
        );
        assert_eq!(
            refused(&[row()], true, true),
            Some(DonationRefusal::PeriodClosed)
        );
        let cancelled = DonationRow {
            status: "cancelled".into(),
            ..row()
        };
        assert_eq!(
            refused(&[cancelled], false, true),
            Some(DonationRefusal::NotDonatable)
        );
        let b2b = DonationRow {
            buyer: "04595257".into(),
            ..row()
        };
        assert_eq!(
            refused(&[b2b], false, true),
            Some(DonationRefusal::NotDonatable)
        );
        let donated = DonationRow {
            npoban: Some("168".into()),
            ..row()
        };
        assert_eq!(
            refused(&[donated], false, true),
            Some(DonationRefusal::AlreadyDonated)
        );
    }
}
