//! Money and tax: integer NT$ amounts, exact decimals for quantities and prices.

use crate::error::Violation;
use crate::ids::clip;
pub use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An amount of New Taiwan dollars, whole dollars only (MIG amounts have no fraction
/// in NT$; TaxAmount has no fraction digits).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct Money(pub i64);

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);
    /// Parse a non-negative whole amount (a trailing `.0…` is accepted).
    pub fn parse(s: &str) -> Result<Self, Violation> {
        let d = parse_decimal(s)?;
        if d.is_sign_negative() && !d.is_zero() {
            return Err(Violation::new(
                "AMOUNT_NEGATIVE",
                "",
                format!("amounts are non-negative in MIG 4.1, got {}", clip(s)),
            ));
        }
        if d.fract() != Decimal::ZERO {
            return Err(Violation::new(
                "AMOUNT_FRACTION",
                "",
                format!(
                    "this amount is whole NT$ with no fraction digits, got {}",
                    clip(s)
                ),
            ));
        }
        i64::try_from(d).map(Money).map_err(|_| {
            Violation::new(
                "AMOUNT_RANGE",
                "",
                format!("amount out of range: {}", clip(s)),
            )
        })
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Parse an exact decimal (quantity, unit price, rate); never via `f64`.
pub fn parse_decimal(s: &str) -> Result<Decimal, Violation> {
    let bad = || {
        Violation::new(
            "DECIMAL_FORMAT",
            "",
            format!(
                "expected a plain decimal number such as 12 or 12.5, got {:?}",
                clip(s)
            ),
        )
    };
    // Plain decimal only: optional '-', digits, optional '.' digits. No exponent, no '+'.
    let body = s.strip_prefix('-').unwrap_or(s);
    let mut parts = body.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) || s.len() > 40 {
        return Err(bad());
    }
    s.parse::<Decimal>().map_err(|_| bad())
}

/// Round half up (四捨五入) to whole dollars; inputs here are non-negative.
pub fn round_half_up(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// Split a tax-inclusive B2C total into (sales ex-tax, tax) for filing:
/// tax = round(total / 1.05 × 0.05), sales = total − tax.
pub fn split_tax_inclusive(total: Money, rate: Decimal) -> (Money, Money) {
    let t = Decimal::from(total.0);
    let tax = round_half_up(t / (Decimal::ONE + rate) * rate);
    let tax = i64::try_from(tax).unwrap_or(0);
    (Money(total.0 - tax), Money(tax))
}

/// The standard business tax rate, 5 %.
pub fn standard_rate() -> Decimal {
    Decimal::new(5, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b2c_split_vectors() {
        // test-vectors.json b2c_tax_inclusive_split
        assert_eq!(
            split_tax_inclusive(Money(104), standard_rate()),
            (Money(99), Money(5))
        );
        assert_eq!(
            split_tax_inclusive(Money(1380), standard_rate()),
            (Money(1314), Money(66))
        );
        // QR example in the barcode spec: total 340 -> sales 324
        assert_eq!(
            split_tax_inclusive(Money(340), standard_rate()).0,
            Money(324)
        );
    }

    #[test]
    fn parse_money() {
        assert_eq!(Money::parse("17500").unwrap(), Money(17500));
        assert_eq!(Money::parse("10.00").unwrap(), Money(10));
        assert_eq!(Money::parse("10.5").unwrap_err().code, "AMOUNT_FRACTION");
        assert_eq!(Money::parse("-1").unwrap_err().code, "AMOUNT_NEGATIVE");
        assert_eq!(Money::parse("1e5").unwrap_err().code, "DECIMAL_FORMAT");
        assert_eq!(parse_decimal("0.05").unwrap(), Decimal::new(5, 2));
    }
}
