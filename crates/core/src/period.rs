//! Invoice periods (期別): two calendar months, named by ROC year + closing even month.

use crate::error::Violation;
use crate::ids::clip;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Date, Month};

/// ROC year = Gregorian year − 1911.
pub const ROC_OFFSET: i32 = 1911;

/// A bi-monthly invoice period (期別), e.g. `11312` = November–December 2024.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Period {
    /// ROC year (1..=999).
    roc_year: u16,
    /// Closing even month (2, 4, .., 12).
    end_month: u8,
}

impl Period {
    /// Parse `YYYMM`: 3-digit ROC year + even closing month.
    pub fn parse(s: &str) -> Result<Self, Violation> {
        let bad = |why: &str| {
            Violation::new(
                "PERIOD_FORMAT",
                "",
                format!(
                    "a period is a 3-digit ROC year and an even closing month (e.g. 11312), got {:?}: {why}",
                    clip(s)
                ),
            )
        };
        if s.len() != 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("not 5 digits"));
        }
        let roc_year: u16 = s[..3].parse().map_err(|_| bad("year"))?;
        let end_month: u8 = s[3..].parse().map_err(|_| bad("month"))?;
        Self::new(roc_year, end_month)
            .ok_or_else(|| bad("month must be 02, 04, .., 12 and year at least 001"))
    }

    /// Build from ROC year and even closing month.
    pub fn new(roc_year: u16, end_month: u8) -> Option<Self> {
        ((1..=999).contains(&roc_year)
            && end_month.is_multiple_of(2)
            && (2..=12).contains(&end_month))
        .then_some(Self {
            roc_year,
            end_month,
        })
    }

    /// The period a Gregorian date falls in.
    pub fn of_date(d: Date) -> Option<Self> {
        let m = d.month() as u8;
        let y = d.year() - ROC_OFFSET;
        let y = u16::try_from(y).ok()?;
        Self::new(y, m + (m % 2))
    }

    /// ROC year.
    pub fn roc_year(&self) -> u16 {
        self.roc_year
    }
    /// Gregorian year.
    pub fn year(&self) -> i32 {
        i32::from(self.roc_year) + ROC_OFFSET
    }
    /// Closing (even) month, 2..=12.
    pub fn end_month(&self) -> u8 {
        self.end_month
    }
    /// First day of the period.
    pub fn first_day(&self) -> Date {
        date(self.year(), self.end_month - 1, 1)
    }
    /// Last day of the period.
    pub fn last_day(&self) -> Date {
        let m = month(self.end_month);
        date(self.year(), self.end_month, m.length(self.year()))
    }
    /// Does the date fall inside this period?
    pub fn contains(&self, d: Date) -> bool {
        self.first_day() <= d && d <= self.last_day()
    }
    /// The following period.
    pub fn next(&self) -> Option<Self> {
        if self.end_month == 12 {
            Self::new(self.roc_year + 1, 2)
        } else {
            Self::new(self.roc_year, self.end_month + 2)
        }
    }
    /// The preceding period.
    pub fn prev(&self) -> Option<Self> {
        if self.end_month == 2 {
            Self::new(self.roc_year.checked_sub(1)?, 12)
        } else {
            Self::new(self.roc_year, self.end_month - 2)
        }
    }
    /// Draw date: the 25th of the odd month after the period.
    pub fn draw_date(&self) -> Date {
        let (y, m) = add_months(self.year(), self.end_month, 1);
        date(y, m, 25)
    }
    /// Claim window: from the 6th of the month after the draw, for three months
    /// (to the 5th of the fourth month after the draw), inclusive.
    pub fn claim_window(&self) -> (Date, Date) {
        let (y, m) = add_months(self.year(), self.end_month, 2);
        let (y2, m2) = add_months(self.year(), self.end_month, 5);
        (date(y, m, 6), date(y2, m2, 5))
    }
    /// Sortable integer key, e.g. 11312.
    pub fn key(&self) -> u32 {
        u32::from(self.roc_year) * 100 + u32::from(self.end_month)
    }
}

fn month(m: u8) -> Month {
    Month::try_from(m).unwrap_or(Month::January)
}

fn date(y: i32, m: u8, d: u8) -> Date {
    Date::from_calendar_date(y, month(m), d).unwrap_or(Date::MIN)
}

fn add_months(y: i32, m: u8, k: u8) -> (i32, u8) {
    let z = i32::from(m) - 1 + i32::from(k);
    (y + z / 12, (z % 12) as u8 + 1)
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}{:02}", self.roc_year, self.end_month)
    }
}
impl TryFrom<String> for Period {
    type Error = Violation;
    fn try_from(s: String) -> Result<Self, Violation> {
        Self::parse(&s)
    }
}
impl From<Period> for String {
    fn from(p: Period) -> String {
        p.to_string()
    }
}

/// Parse a MIG date `yyyyMMdd` (Gregorian).
pub fn parse_mig_date(s: &str) -> Result<Date, Violation> {
    let bad = || {
        Violation::new(
            "DATE_FORMAT",
            "",
            format!(
                "a date is yyyyMMdd, a real Gregorian day (e.g. 20241201), got {:?}",
                clip(s)
            ),
        )
    };
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let y: i32 = s[..4].parse().map_err(|_| bad())?;
    let m: u8 = s[4..6].parse().map_err(|_| bad())?;
    let d: u8 = s[6..].parse().map_err(|_| bad())?;
    let m = Month::try_from(m).map_err(|_| bad())?;
    if y < 1912 {
        return Err(bad());
    }
    Date::from_calendar_date(y, m, d).map_err(|_| bad())
}

/// Format a date as MIG `yyyyMMdd`.
pub fn format_mig_date(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month() as u8, d.day())
}

/// Format a date as ROC `yyyMMdd` (QR code).
pub fn format_roc_date(d: Date) -> String {
    format!(
        "{:03}{:02}{:02}",
        d.year() - ROC_OFFSET,
        d.month() as u8,
        d.day()
    )
}

/// Parse a MIG time `HH:mm:ss`.
pub fn parse_mig_time(s: &str) -> Result<time::Time, Violation> {
    let bad = || {
        Violation::new(
            "TIME_FORMAT",
            "",
            format!("a time is HH:mm:ss (e.g. 09:00:00), got {:?}", clip(s)),
        )
    };
    let b = s.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u8, Violation> {
        let t = &s[r];
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    time::Time::from_hms(num(0..2)?, num(3..5)?, num(6..8)?).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn parse_and_bounds() {
        let p = Period::parse("11312").unwrap();
        assert_eq!(p.first_day(), date!(2024 - 11 - 01));
        assert_eq!(p.last_day(), date!(2024 - 12 - 31));
        assert_eq!(p.next().unwrap().to_string(), "11402");
        assert_eq!(Period::parse("11402").unwrap().prev().unwrap(), p);
        assert_eq!(
            Period::parse("11302").unwrap().last_day(),
            date!(2024 - 02 - 29)
        );
        assert!(Period::parse("11301").is_err());
        assert!(Period::parse("11314").is_err());
        assert!(Period::parse("1131").is_err());
    }

    #[test]
    fn draw_and_claim() {
        let p = Period::parse("11312").unwrap();
        assert_eq!(p.draw_date(), date!(2025 - 01 - 25));
        assert_eq!(
            p.claim_window(),
            (date!(2025 - 02 - 06), date!(2025 - 05 - 05))
        );
        let q = Period::parse("11306").unwrap();
        assert_eq!(q.draw_date(), date!(2024 - 07 - 25));
    }

    #[test]
    fn of_date() {
        assert_eq!(
            Period::of_date(date!(2024 - 12 - 01)).unwrap().to_string(),
            "11312"
        );
        assert_eq!(
            Period::of_date(date!(2024 - 01 - 31)).unwrap().to_string(),
            "11302"
        );
        assert_eq!(format_roc_date(date!(2013 - 05 - 23)), "1020523");
    }

    #[test]
    fn dates_and_times() {
        assert!(parse_mig_date("20240230").is_err());
        assert!(parse_mig_date("2024-02-03").is_err());
        assert_eq!(parse_mig_date("20240229").unwrap(), date!(2024 - 02 - 29));
        assert!(parse_mig_time("24:00:00").is_err());
        assert!(parse_mig_time("09:00:00").is_ok());
    }
}
