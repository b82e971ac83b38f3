//! Prize rules (統一發票給獎) as data per period.
//!
//! The regular prizes are decided by the 8 digits of the invoice number against the
//! period's winning numbers; amounts live in a per-period [`PrizeTable`] because they
//! change by decree. Cloud-invoice exclusive prizes (雲端發票專屬獎) are lists of full
//! invoice numbers drawn by the platform.

use crate::error::Violation;
use crate::ids::InvoiceNumber;
use crate::money::Money;
use crate::period::Period;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A regular prize, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prize {
    /// 特別獎: all 8 digits equal the special number.
    Special,
    /// 特獎: all 8 digits equal the grand number.
    Grand,
    /// 頭獎: all 8 digits equal a first-prize number.
    First,
    /// 二獎: last 7 digits of a first-prize number.
    Second,
    /// 三獎: last 6 digits.
    Third,
    /// 四獎: last 5 digits.
    Fourth,
    /// 五獎: last 4 digits.
    Fifth,
    /// 六獎: last 3 digits.
    Sixth,
    /// 增開六獎: last 3 digits equal an additional-sixth number.
    AdditionalSixth,
}

impl Prize {
    /// All prizes, highest first.
    pub const ALL: [Prize; 9] = [
        Self::Special,
        Self::Grand,
        Self::First,
        Self::Second,
        Self::Third,
        Self::Fourth,
        Self::Fifth,
        Self::Sixth,
        Self::AdditionalSixth,
    ];
    /// The stable prize id (`special`, `grand`, `first`, …, `additional_sixth`).
    pub fn id(&self) -> &'static str {
        match self {
            Self::Special => "special",
            Self::Grand => "grand",
            Self::First => "first",
            Self::Second => "second",
            Self::Third => "third",
            Self::Fourth => "fourth",
            Self::Fifth => "fifth",
            Self::Sixth => "sixth",
            Self::AdditionalSixth => "additional_sixth",
        }
    }
    /// Parse a prize id.
    pub fn from_id(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.id() == s)
    }
    /// For first..sixth: how many trailing digits must match a first-prize number.
    pub fn first_suffix_len(&self) -> Option<u32> {
        match self {
            Self::First => Some(8),
            Self::Second => Some(7),
            Self::Third => Some(6),
            Self::Fourth => Some(5),
            Self::Fifth => Some(4),
            Self::Sixth => Some(3),
            _ => None,
        }
    }
}

impl fmt::Display for Prize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Prize amounts for one period (NT$), plus the cloud-invoice prize sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrizeTable {
    /// Amount per regular prize.
    pub amounts: BTreeMap<Prize, Money>,
    /// Cloud-invoice exclusive prizes: (amount, number of winners), highest first.
    pub cloud: Vec<CloudPrize>,
}

/// One tier of cloud-invoice exclusive prizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudPrize {
    /// Amount per winner.
    pub amount: Money,
    /// Number of winners drawn.
    pub count: u64,
}

impl PrizeTable {
    /// The table in force for a period (the draw's default when no table is
    /// given): the 2026 table from period 11502 on, the 2025 table before
    /// (older periods had other cloud counts: pass their table explicitly).
    pub fn in_force(period: Period) -> Self {
        if period.roc_year() >= 115 {
            Self::standard_2026()
        } else {
            Self::standard_2025()
        }
    }

    /// The table in force since 2026 (regular amounts unchanged since 2011; cloud
    /// NT$500 tier raised to 3,850,000 sets).
    pub fn standard_2026() -> Self {
        let mut t = Self::standard_2025();
        if let Some(c) = t.cloud.iter_mut().find(|c| c.amount == Money(500)) {
            c.count = 3_850_000;
        }
        t
    }
    /// The 2025 table.
    pub fn standard_2025() -> Self {
        let amounts = [
            (Prize::Special, 10_000_000),
            (Prize::Grand, 2_000_000),
            (Prize::First, 200_000),
            (Prize::Second, 40_000),
            (Prize::Third, 10_000),
            (Prize::Fourth, 4_000),
            (Prize::Fifth, 1_000),
            (Prize::Sixth, 200),
            (Prize::AdditionalSixth, 200),
        ]
        .into_iter()
        .map(|(p, a)| (p, Money(a)))
        .collect();
        let cloud = [
            (1_000_000, 30),
            (2_000, 16_000),
            (800, 100_000),
            (500, 3_150_000),
        ]
        .into_iter()
        .map(|(a, c)| CloudPrize {
            amount: Money(a),
            count: c,
        })
        .collect();
        Self { amounts, cloud }
    }
    /// Amount of a regular prize (zero if the table omits it).
    pub fn amount(&self, p: Prize) -> Money {
        self.amounts.get(&p).copied().unwrap_or(Money::ZERO)
    }
}

/// A period's winning numbers (中獎號碼).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinningNumbers {
    /// The period drawn.
    pub period: Period,
    /// Special prize number (8 digits as a number).
    pub special: u32,
    /// Grand prize number.
    pub grand: u32,
    /// First-prize numbers (usually 3).
    pub first: Vec<u32>,
    /// Additional sixth-prize 3-digit numbers (none from 11102 on).
    pub additional_sixth: Vec<u16>,
}

fn eight_digits(field: &str, s: &str) -> Result<u32, Violation> {
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse()
            .map_err(|_| Violation::new("WINNING_NUMBER_FORMAT", field, "8 digits"))
    } else {
        Err(Violation::new(
            "WINNING_NUMBER_FORMAT",
            field,
            format!(
                "a winning number is exactly 8 digits, got {:?}",
                crate::ids::clip(s)
            ),
        ))
    }
}

impl WinningNumbers {
    /// Build from the text forms used by `winning-numbers.json` and the App API.
    pub fn parse(
        period: Period,
        special: &str,
        grand: &str,
        first: &[&str],
        additional_sixth: &[&str],
    ) -> Result<Self, Violation> {
        let special = eight_digits("special", special)?;
        let grand = eight_digits("grand", grand)?;
        if first.is_empty() || first.len() > 10 {
            return Err(Violation::new(
                "WINNING_NUMBER_FIRST_COUNT",
                "first",
                format!(
                    "1 to 10 first-prize numbers are needed, got {}",
                    first.len()
                ),
            ));
        }
        let first = first
            .iter()
            .map(|s| eight_digits("first", s))
            .collect::<Result<Vec<_>, _>>()?;
        if additional_sixth.len() > 6 {
            return Err(Violation::new(
                "WINNING_NUMBER_SIXTH_COUNT",
                "additional_sixth",
                "at most 6 additional sixth-prize numbers",
            ));
        }
        let additional_sixth = additional_sixth
            .iter()
            .map(|s| {
                if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) {
                    s.parse::<u16>().map_err(|_| {
                        Violation::new("WINNING_NUMBER_FORMAT", "additional_sixth", "3 digits")
                    })
                } else {
                    Err(Violation::new(
                        "WINNING_NUMBER_FORMAT",
                        "additional_sixth",
                        format!(
                            "an additional sixth-prize number is 3 digits, got {:?}",
                            crate::ids::clip(s)
                        ),
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            period,
            special,
            grand,
            first,
            additional_sixth,
        })
    }

    /// The highest regular prize won by an invoice whose 8 digits are `digits`
    /// (0..=99,999,999); `None` if it wins nothing.
    pub fn highest_prize(&self, digits: u32) -> Option<Prize> {
        if digits == self.special {
            return Some(Prize::Special);
        }
        if digits == self.grand {
            return Some(Prize::Grand);
        }
        // Longest common suffix with any first-prize number, in decimal digits.
        let mut best = 0u32;
        for &f in &self.first {
            let mut k = 0;
            let (mut a, mut b) = (digits, f);
            while k < 8 && a % 10 == b % 10 {
                k += 1;
                a /= 10;
                b /= 10;
            }
            best = best.max(k);
        }
        let by_suffix = match best {
            8 => Some(Prize::First),
            7 => Some(Prize::Second),
            6 => Some(Prize::Third),
            5 => Some(Prize::Fourth),
            4 => Some(Prize::Fifth),
            3 => Some(Prize::Sixth),
            _ => None,
        };
        if by_suffix.is_some() {
            return by_suffix;
        }
        let last3 = (digits % 1000) as u16;
        self.additional_sixth
            .contains(&last3)
            .then_some(Prize::AdditionalSixth)
    }

    /// The highest regular prize of an invoice number.
    pub fn prize_of(&self, n: &InvoiceNumber) -> Option<Prize> {
        self.highest_prize(n.number())
    }
}

/// Cloud-invoice exclusive prize winners of a period: full invoice numbers per tier.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CloudWinners {
    /// Per amount (NT$), the winning invoice numbers.
    pub tiers: BTreeMap<i64, BTreeSet<InvoiceNumber>>,
}

impl CloudWinners {
    /// The cloud prize amount an invoice number wins, if any (highest tier).
    pub fn prize_of(&self, n: &InvoiceNumber) -> Option<Money> {
        self.tiers
            .iter()
            .rev()
            .find(|(_, set)| set.contains(n))
            .map(|(a, _)| Money(*a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// MOF-RULES: NT$500 × 3,150,000 in 2025, 3,850,000 sets from 2026
    /// (3,966,030 cloud prizes a period); the switch is the first 2026 period.
    #[test]
    fn the_table_in_force_follows_the_period() {
        let sets = |p: &str| {
            let t = PrizeTable::in_force(Period::parse(p).expect("period"));
            let five_hundred = t
                .cloud
                .iter()
                .find(|c| c.amount == Money(500))
                .map(|c| c.count);
            (five_hundred, t.cloud.iter().map(|c| c.count).sum::<u64>())
        };
        assert_eq!(sets("11412").0, Some(3_150_000));
        assert_eq!(sets("11502"), (Some(3_850_000), 3_966_030));
        assert_eq!(sets("11612"), (Some(3_850_000), 3_966_030));
    }

    fn p10802() -> WinningNumbers {
        // winning-numbers.json, period 10802 (also the App API sample)
        WinningNumbers::parse(
            Period::parse("10802").unwrap(),
            "00106725",
            "90819218",
            &["13440631", "26650552", "09775722"],
            &["809", "264"],
        )
        .unwrap()
    }

    #[test]
    fn real_period_examples() {
        let w = p10802();
        assert_eq!(w.highest_prize(106725), Some(Prize::Special));
        assert_eq!(w.highest_prize(90819218), Some(Prize::Grand));
        assert_eq!(w.highest_prize(13440631), Some(Prize::First));
        assert_eq!(w.highest_prize(93440631), Some(Prize::Second));
        assert_eq!(w.highest_prize(99440631), Some(Prize::Third));
        assert_eq!(w.highest_prize(99940631), Some(Prize::Fourth));
        assert_eq!(w.highest_prize(99990631), Some(Prize::Fifth));
        assert_eq!(w.highest_prize(99999631), Some(Prize::Sixth));
        assert_eq!(w.highest_prize(12345809), Some(Prize::AdditionalSixth));
        assert_eq!(w.highest_prize(12345678), None);
        // the special number's suffix does not make a sixth prize
        assert_eq!(w.highest_prize(99999725), None);
    }

    /// Brute force: compare the decimal strings suffix by suffix, highest prize first.
    fn reference(w: &WinningNumbers, n: u32) -> Option<Prize> {
        let s = format!("{n:08}");
        if s == format!("{:08}", w.special) {
            return Some(Prize::Special);
        }
        if s == format!("{:08}", w.grand) {
            return Some(Prize::Grand);
        }
        for p in [
            Prize::First,
            Prize::Second,
            Prize::Third,
            Prize::Fourth,
            Prize::Fifth,
            Prize::Sixth,
        ] {
            let k = p.first_suffix_len().unwrap() as usize;
            if w.first
                .iter()
                .any(|f| format!("{f:08}")[8 - k..] == s[8 - k..])
            {
                return Some(p);
            }
        }
        if w.additional_sixth
            .iter()
            .any(|a| format!("{a:03}") == s[5..])
        {
            return Some(Prize::AdditionalSixth);
        }
        None
    }

    proptest! {
        #[test]
        fn matches_brute_force(
            special in 0u32..100_000_000,
            grand in 0u32..100_000_000,
            first in proptest::collection::vec(0u32..100_000_000, 1..4),
            add in proptest::collection::vec(0u16..1000, 0..3),
            // bias candidates towards near-misses of the first-prize numbers
            probes in proptest::collection::vec((0usize..3, 0u32..9, 0u32..100_000_000), 1..64),
        ) {
            let w = WinningNumbers {
                period: Period::parse("11312").unwrap(),
                special, grand, first: first.clone(), additional_sixth: add,
            };
            for (i, k, r) in probes {
                let f = first[i % first.len()];
                let m = 10u32.pow(k);
                let n = (r / m) * m + f % m; // shares at least k trailing digits
                prop_assert_eq!(w.highest_prize(n), reference(&w, n));
                prop_assert_eq!(w.highest_prize(r), reference(&w, r));
            }
        }
    }
}
