//! The body of a [`einvoice_store::WinningNumbersRecord`]: the numbers in the
//! shape of one record of `fixtures/winning-numbers.json`, the prize amounts
//! (by prize id, NT$; the standard table when absent) and, once approved, the
//! publication time.

use einvoice_core::{Money, Period, Prize, PrizeTable, Violation, WinningNumbers};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Winning numbers as stored and as entered by operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinningBody {
    /// Special prize number (特別獎), 8 digits.
    pub special: String,
    /// Grand prize number (特獎), 8 digits.
    pub grand: String,
    /// First-prize numbers (頭獎), 8 digits each.
    pub first: Vec<String>,
    /// Additional sixth-prize numbers (增開六獎), 3 digits each.
    #[serde(default)]
    pub additional_sixth: Vec<String>,
    /// Prize amounts by prize id (`special`, `grand`, …); the 2026 table when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amounts: Option<BTreeMap<String, i64>>,
    /// When the version was approved (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_unix: Option<i64>,
}

impl WinningBody {
    /// Read a stored body (extra keys such as `period` are ignored).
    pub fn from_value(v: &serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(v.clone())
    }

    /// The stored form, with the period for readers of the raw record.
    pub fn to_value(&self, period: Period) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(m) = v.as_object_mut() {
            m.insert(
                "period".into(),
                serde_json::Value::String(period.to_string()),
            );
        }
        v
    }

    /// Check the numbers (formats and counts) and the amounts.
    pub fn numbers(&self, period: Period) -> Result<WinningNumbers, Violation> {
        let first: Vec<&str> = self.first.iter().map(String::as_str).collect();
        let six: Vec<&str> = self.additional_sixth.iter().map(String::as_str).collect();
        let n = WinningNumbers::parse(period, &self.special, &self.grand, &first, &six)?;
        if let Some(a) = &self.amounts {
            for (id, amount) in a {
                if Prize::from_id(id).is_none() {
                    return Err(Violation::new(
                        "PRIZE_UNKNOWN",
                        "amounts",
                        format!(
                            "unknown prize id {id:?}: use special, grand, first, …, sixth, additional_sixth"
                        ),
                    ));
                }
                if *amount < 0 {
                    return Err(Violation::new(
                        "PRIZE_AMOUNT",
                        "amounts",
                        "prize amounts are not negative",
                    ));
                }
            }
        }
        Ok(n)
    }

    /// The prize table (獎金表) of these numbers: the table in force for
    /// `period` ([`PrizeTable::in_force`], cloud tiers included) with this
    /// body's regular amounts where it sets them.
    pub fn prize_table(&self, period: Period) -> PrizeTable {
        let mut t = PrizeTable::in_force(period);
        if let Some(a) = &self.amounts {
            for (id, amount) in a {
                if let Some(p) = Prize::from_id(id) {
                    t.amounts.insert(p, Money(*amount));
                }
            }
        }
        t
    }
}
