//! Validation: field rules and cross-field rules, reporting every failure.
//!
//! [`validate`] turns a lexical [`Message`] into [`Validated`] typed facts, or
//! returns **every** [`Violation`] found (never just the first). It is pure and
//! total: no input makes it panic, amounts use checked integer arithmetic and
//! exact decimals.
//!
//! Field paths are MIG element names joined by `/`, with 1-based item indexes:
//! `Main/Seller/Identifier`, `Details/ProductItem[2]/Amount`.
//!
//! | code | rule |
//! | --- | --- |
//! | `FIELD_REQUIRED` | a required element is empty |
//! | `FIELD_TOO_LONG` | longer than the MIG allows (counted in characters) |
//! | `ENUM_VALUE` | not one of the values the MIG enumerates |
//! | `UBN_FORMAT`, `UBN_CHECKSUM`, `BUYER_ID_CONSUMER_FORM` | identifiers (see `ids`) |
//! | `INVOICE_NUMBER_FORMAT`, `RANDOM_NUMBER_FORMAT`, `TRACK_FORMAT`, `NUMBER_FORMAT` | numbers |
//! | `CARRIER_TYPE_UNKNOWN`, `CARRIER_ID_FORMAT`, `NPOBAN_FORMAT` | carriers and love codes |
//! | `DATE_FORMAT`, `TIME_FORMAT`, `PERIOD_FORMAT`, `DATE_RANGE` | dates, times, periods |
//! | `AMOUNT_NEGATIVE`, `AMOUNT_FRACTION`, `AMOUNT_RANGE`, `DECIMAL_FORMAT`, `CURRENCY_FORMAT` | amounts |
//! | `RANDOM_NUMBER_REQUIRED` | an F0401 needs its 4-digit random number |
//! | `CARRIER_INCOMPLETE` | CarrierType, CarrierId1 and CarrierId2 go together |
//! | `NPOBAN_REQUIRED` | DonateMark 1 needs an NPOBAN |
//! | `DONATION_NOT_B2C` | only a consumer's invoice can be donated |
//! | `DELIVERY_CONFLICT` | donated, on a carrier, printed: at most one applies (NPOBAN only when donated) |
//! | `DELIVERY_MISSING` | an unprinted B2C invoice must be on a carrier or donated |
//! | `ITEMS_REQUIRED`, `ITEMS_TOO_MANY` | 1–9999 items |
//! | `ITEM_AMOUNT_MISMATCH` | item Amount ≠ Quantity × UnitPrice (beyond half a dollar) |
//! | `ITEM_TAX_TYPE_MISMATCH` | an item's TaxType differs from the invoice's (unless the invoice is mixed, 9) |
//! | `ITEM_SUM_MISMATCH` | a sales bucket ≠ the sum of its items (rounded half up) |
//! | `TAX_RATE_MISMATCH` | TaxRate does not fit TaxType (1 and 9: the general rate; 2, 3: 0; 4: between 0 and 1) |
//! | `AMOUNT_BUCKET_MISMATCH` | sales in a bucket the TaxType excludes (e.g. zero-rated sales in SalesAmount) |
//! | `TAX_AMOUNT_MISMATCH` | B2B: TaxAmount ≠ round_half_up(SalesAmount × TaxRate); B2C: TaxAmount ≠ 0; zero/free: 0; allowance: ≠ Σ item Tax |
//! | `TOTAL_AMOUNT_MISMATCH` | TotalAmount ≠ Sales + FreeTax + ZeroTax + Tax (allowance: Σ item Amount) |
//! | `DATE_ORDER` | a cancel, void or allowance dated before the invoice it refers to |
//! | `RANGE_ORDER`, `RANGE_BOOKLET`, `RANGE_OUTSIDE`, `RANGE_OVERLAP`, `BOOKLET_COUNT_MISMATCH` | E0401/E0402/E0501 number ranges |
//!
//! Checks that need stored state (a number inside an allocated track, an
//! allowance against the original invoice's items, duplicates) are the
//! store's, with their own codes.

mod allowance;
mod ctx;
mod invoice;
mod track;

use crate::error::Violations;
use crate::ids::{CarrierTypes, IdPolicy};
use crate::model::Message;
use crate::money::Decimal;
use crate::validated::{Facts, Validated};
use ctx::Ctx;

/// Configuration of the rules (what a deployment may change without a code change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// UBN checksum rule and sandbox identifiers.
    pub ids: IdPolicy,
    /// Accepted carrier types besides 3J0002 and CQ0001.
    pub carrier_types: CarrierTypes,
    /// The general business tax rate (5 %).
    pub general_tax_rate: Decimal,
}

impl Default for Rules {
    fn default() -> Self {
        Self::production()
    }
}

impl Rules {
    /// Production rules.
    pub fn production() -> Self {
        Self {
            ids: IdPolicy::production(),
            carrier_types: CarrierTypes::default(),
            general_tax_rate: crate::money::standard_rate(),
        }
    }
    /// Sandbox rules: MOF test identifiers accepted.
    pub fn sandbox() -> Self {
        Self {
            ids: IdPolicy::sandbox(),
            ..Self::production()
        }
    }
}

/// Validate a message: all field and cross-field rules. Returns the typed facts, or
/// every violation found.
pub fn validate(msg: &Message, rules: &Rules) -> Result<Validated, Violations> {
    let mut cx = Ctx::new(rules);
    let facts: Option<Facts> = match msg {
        Message::F0401(inv) => invoice::invoice(&mut cx, inv, true).map(Facts::Invoice),
        Message::A0101(inv) => invoice::invoice(&mut cx, inv, false).map(Facts::Invoice),
        Message::F0501(c) => invoice::cancel(&mut cx, c).map(Facts::Cancel),
        Message::F0701(c) => invoice::void(&mut cx, c).map(Facts::Void),
        Message::G0401(a) => allowance::allowance(&mut cx, a).map(Facts::Allowance),
        Message::G0501(c) => allowance::cancel(&mut cx, c).map(Facts::CancelAllowance),
        Message::E0401(t) => track::branch_track(&mut cx, t).map(Facts::TrackAllocation),
        Message::E0402(b) => track::blank(&mut cx, b).map(Facts::Blank),
        Message::E0501(a) => track::assign(&mut cx, a).map(Facts::TrackAllocation),
    };
    match (facts, cx.finish()) {
        (Some(facts), None) => Ok(Validated {
            message: msg.clone(),
            facts,
        }),
        (_, Some(v)) => Err(v),
        (None, None) => {
            let mut v = Violations::new();
            v.push(crate::error::Violation::new(
                "VALIDATION_INCOMPLETE",
                "",
                "the message could not be validated",
            ));
            Err(v)
        }
    }
}

#[cfg(test)]
mod tests;
