//! Reading projection rows back, once: how stored columns become
//! [`InvoiceSummary`] / [`InvoiceView`] values, and what a row that does not
//! parse is ([`StoreError::Corrupt`]). Backends fetch the columns; these
//! functions give them meaning.

use crate::entry::{EntryHash, Hlc, Receipt};
use crate::error::StoreError;
use crate::records::{InvoiceStatus, InvoiceSummary, InvoiceView};
use einvoice_core::Period;
use einvoice_core::ids::{
    BuyerId, CONSUMER_BUYER_ID, Carrier, CarrierType, CarrierTypes, IdPolicy, InvoiceNumber,
    RandomNumber, Track, Ubn,
};

/// A stored value that does not parse: the data is inconsistent with the rules.
pub fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("stored {what} {v:?} does not parse"))
}

/// A stored UBN. UBNs were validated on the way in (possibly under sandbox
/// rules); they are read back leniently.
pub fn stored_ubn(s: &str) -> Result<Ubn, StoreError> {
    Ubn::parse(s)
        .or_else(|_| Ubn::parse_with(s, &IdPolicy::sandbox()))
        .map_err(|_| corrupt("UBN", s))
}

/// A stored period key (`YYYMM`, ROC year and end month, e.g. `11402`).
pub fn stored_period(key: i64) -> Result<Period, StoreError> {
    u16::try_from(key / 100)
        .ok()
        .zip(u8::try_from(key % 100).ok())
        .and_then(|(y, m)| Period::new(y, m))
        .ok_or_else(|| corrupt("period", &key.to_string()))
}

/// A stored invoice number (`AB12345678`).
pub fn stored_invoice_number(s: &str) -> Result<InvoiceNumber, StoreError> {
    InvoiceNumber::parse(s).map_err(|_| corrupt("invoice number", s))
}

/// A stored track (two letters).
pub fn stored_track(s: &str) -> Result<Track, StoreError> {
    Track::parse(s).map_err(|_| corrupt("track", s))
}

/// The columns of one `invoices` row, as a backend fetches them.
#[derive(Debug, Clone)]
pub struct StoredInvoice {
    /// `seller`.
    pub seller: String,
    /// `number`.
    pub number: String,
    /// `period` key.
    pub period: i64,
    /// `date`, `YYYYMMDD`.
    pub date: String,
    /// `time`, `HH:MM:SS`.
    pub time: String,
    /// `buyer` (`0000000000` for consumers).
    pub buyer: String,
    /// `random` (RandomNumber).
    pub random: Option<String>,
    /// `carrier_type` (CarrierType).
    pub carrier_type: Option<String>,
    /// `carrier_id` (CarrierId1).
    pub carrier_id: Option<String>,
    /// `npoban` (love code).
    pub npoban: Option<String>,
    /// `total`, NT$.
    pub total: i64,
    /// `status`.
    pub status: String,
    /// `allowance`: net allowances, NT$.
    pub allowance: i64,
    /// `body`: the issuing message, canonical JSON (the issuing entry's body;
    /// empty where a query reads summaries only).
    pub body: Vec<u8>,
    /// `origin` of the issuing entry.
    pub origin: String,
    /// `seq` of the issuing entry.
    pub seq: u64,
}

/// The issuing entry's ledger columns (hlc, kind, key, hash), when found.
#[derive(Debug, Clone)]
pub struct StoredEntryRef {
    /// `hlc`.
    pub hlc: u64,
    /// `kind`.
    pub kind: String,
    /// `key`.
    pub key: String,
    /// `hash`.
    pub hash: EntryHash,
}

impl StoredInvoice {
    /// The summary of the row.
    pub fn summary(&self) -> Result<InvoiceSummary, StoreError> {
        let buyer = if self.buyer == CONSUMER_BUYER_ID {
            BuyerId::Consumer
        } else {
            BuyerId::Business(stored_ubn(&self.buyer)?)
        };
        let random = match &self.random {
            Some(r) => Some(RandomNumber::parse(r).map_err(|_| corrupt("random number", r))?),
            None => None,
        };
        let carrier = match (&self.carrier_type, &self.carrier_id) {
            (Some(t), Some(id)) => {
                let others = CarrierTypes::default();
                let kind = CarrierType::parse(t, &others).unwrap_or(CarrierType::Other(t.clone()));
                Some(Carrier {
                    kind,
                    id: id.clone(),
                })
            }
            _ => None,
        };
        let status = match self.status.as_str() {
            "issued" => InvoiceStatus::Issued,
            "cancelled" => InvoiceStatus::Cancelled,
            "voided" => InvoiceStatus::Voided,
            other => return Err(corrupt("status", other)),
        };
        Ok(InvoiceSummary {
            seller: stored_ubn(&self.seller)?,
            number: stored_invoice_number(&self.number)?,
            period: stored_period(self.period)?,
            date: self.date.clone(),
            time: self.time.clone(),
            buyer,
            random,
            carrier,
            donated_to: self.npoban.clone(),
            total: self.total,
            status,
        })
    }

    /// The view of the row, with the receipt of its issuing entry when the
    /// entry's columns were found.
    pub fn view(self, entry: Option<StoredEntryRef>) -> Result<InvoiceView, StoreError> {
        let summary = self.summary()?;
        let receipt = entry.map(|e| Receipt {
            origin: self.origin,
            seq: self.seq,
            hash: e.hash,
            hlc: Hlc(e.hlc),
            kind: e.kind,
            key: e.key,
            duplicate: false,
        });
        Ok(InvoiceView {
            summary,
            message: serde_json::from_slice(&self.body).ok(),
            allowance_total: self.allowance,
            receipt,
        })
    }
}
