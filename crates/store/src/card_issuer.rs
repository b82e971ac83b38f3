//! The credit-card issuer directory (信用卡載具發卡銀行): the banks whose
//! credit cards can be carriers, each with its bank code and the card BINs
//! (the first 6 or 8 digits of a card number) it issues. The MOF App API's
//! `creditCardBan` lists the banks and `cardBin` the BINs of one; an operator
//! maintains the list (`PUT /v1/ops/card-issuers/{bank_code}`), every change
//! a [`CARD_ISSUER`] ledger entry written with the row, rebuilt from the
//! entries on import like the NPO directory ([`crate::NpoRecord`]).
//!
//! The rules of a row are here once ([`CardIssuerRecord::new`]): a bank code
//! is 3 digits, a name 1–60 visible characters, 1–[`MAX_BINS`] distinct BINs
//! of 6 or 8 digits (kept sorted).

use crate::{LedgerEntry, NewEntry, StoreError, canonical_json};
use serde_json::json;

/// Ledger kind of a change to the credit-card issuer directory.
pub const CARD_ISSUER: &str = "CARD_ISSUER";
/// At most this many BINs per bank.
pub const MAX_BINS: usize = 100;

/// One bank of the credit-card issuer directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardIssuerRecord {
    bank_code: String,
    name: String,
    bins: Vec<String>,
}

/// Why a credit-card issuer row was refused: the text names the field, the
/// stable code is [`CardIssuerError::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardIssuerError {
    /// The bank code is not 3 digits.
    #[error("bank_code: a bank code is 3 digits")]
    BankCode,
    /// The name is empty, longer than 60 characters or has control characters.
    #[error("name: a bank name is 1-60 visible characters")]
    Name,
    /// A BIN is not 6 or 8 digits, is given twice, or there are none or too many.
    #[error("bins: 1-100 distinct card BINs of 6 or 8 digits")]
    Bins,
}

impl CardIssuerError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BankCode => "BANK_CODE",
            Self::Name => "CARD_ISSUER_NAME",
            Self::Bins => "CARD_BIN",
        }
    }
}

/// Is `s` a bank code (3 digits)?
pub fn is_bank_code(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_bin(s: &str) -> bool {
    (s.len() == 6 || s.len() == 8) && s.bytes().all(|b| b.is_ascii_digit())
}

impl CardIssuerRecord {
    /// A checked row: the bank code, the name (trimmed) and the BINs (sorted).
    pub fn new(
        bank_code: &str,
        name: &str,
        bins: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, CardIssuerError> {
        if !is_bank_code(bank_code) {
            return Err(CardIssuerError::BankCode);
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
            return Err(CardIssuerError::Name);
        }
        let mut bins: Vec<String> = bins.into_iter().map(Into::into).collect();
        let given = bins.len();
        bins.sort();
        bins.dedup();
        if bins.is_empty()
            || given > MAX_BINS
            || bins.len() != given
            || !bins.iter().all(|b| is_bin(b))
        {
            return Err(CardIssuerError::Bins);
        }
        Ok(Self {
            bank_code: bank_code.to_string(),
            name: name.to_string(),
            bins,
        })
    }

    /// The bank code (3 digits).
    pub fn bank_code(&self) -> &str {
        &self.bank_code
    }

    /// The bank's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The BINs, sorted.
    pub fn bins(&self) -> &[String] {
        &self.bins
    }

    /// The BINs as one column value (`,`-joined), how backends store them.
    pub fn bins_column(&self) -> String {
        self.bins.join(",")
    }

    /// A row read back from a backend (`bins` as [`Self::bins_column`]);
    /// anything that breaks the rules is `STORE_CORRUPT`.
    pub fn from_stored(bank_code: &str, name: &str, bins: &str) -> Result<Self, StoreError> {
        Self::new(bank_code, name, bins.split(','))
            .map_err(|e| StoreError::Corrupt(format!("card issuer {bank_code}: {e}")))
    }

    /// Does a card number (or its leading digits) start with one of the BINs?
    pub fn issues(&self, card_digits: &str) -> bool {
        self.bins
            .iter()
            .any(|b| card_digits.starts_with(b.as_str()))
    }

    /// The ledger entry recording this version of the row, by `actor`.
    pub fn ledger_entry(&self, actor: &str) -> NewEntry {
        NewEntry {
            kind: CARD_ISSUER.into(),
            key: format!("card-issuer/{}", self.bank_code),
            actor: actor.into(),
            body: canonical_json(&json!({
                "bank_code": self.bank_code,
                "name": self.name,
                "bins": self.bins,
            })),
        }
    }

    /// The row of a [`CARD_ISSUER`] entry (`None` for any other kind); a
    /// malformed body is `STORE_CORRUPT`.
    pub fn from_entry(e: &LedgerEntry) -> Result<Option<Self>, StoreError> {
        if e.kind != CARD_ISSUER || e.withheld {
            return Ok(None);
        }
        let bad = |what: &str| StoreError::Corrupt(format!("{} entry {}: {what}", e.kind, e.seq));
        let body: serde_json::Value =
            serde_json::from_slice(&e.body).map_err(|_| bad("not JSON"))?;
        let field = |k: &str| {
            body.get(k)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| bad(k))
        };
        let bins = body
            .get("bins")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| bad("bins"))?
            .iter()
            .map(|b| b.as_str().map(str::to_string).ok_or_else(|| bad("bins")))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(field("bank_code")?, field("name")?, bins)
            .map(Some)
            .map_err(|e| bad(e.code()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_checked_and_bins_sorted() {
        let r = CardIssuerRecord::new("822", " 中國信託 ", ["540520", "41476600"]).expect("row");
        assert_eq!(r.name(), "中國信託");
        assert_eq!(r.bins(), ["41476600", "540520"]);
        assert!(r.issues("5405201234567890"));
        assert!(!r.issues("5405211234567890"));
        let no: [&str; 0] = [];
        assert_eq!(
            CardIssuerRecord::new("82", "x", ["540520"]),
            Err(CardIssuerError::BankCode)
        );
        assert_eq!(
            CardIssuerRecord::new("822", "", ["540520"]),
            Err(CardIssuerError::Name)
        );
        assert_eq!(
            CardIssuerRecord::new("822", "x", no),
            Err(CardIssuerError::Bins)
        );
        assert_eq!(
            CardIssuerRecord::new("822", "x", ["5405"]),
            Err(CardIssuerError::Bins)
        );
        assert_eq!(
            CardIssuerRecord::new("822", "x", ["540520", "540520"]),
            Err(CardIssuerError::Bins)
        );
    }

    #[test]
    fn a_stored_row_reads_back() {
        let r = CardIssuerRecord::new("812", "台新銀行", ["404338", "552328"]).expect("row");
        let back = CardIssuerRecord::from_stored("812", "台新銀行", &r.bins_column());
        assert_eq!(back.ok(), Some(r));
        assert!(CardIssuerRecord::from_stored("812", "台新銀行", "40433").is_err());
    }
}
