//! einvoice-analytics: the Uniform Invoice draw over a period's eligible
//! invoices.
//!
//! - [`snapshot`]: the period snapshot file (columnar, versioned) and its
//!   Merkle root.
//! - [`match_prizes`]: the regular-prize match over the snapshot's hot column,
//!   the invoices' 8-digit numbers as `u32`.
//! - [`cloud`]: the verifiable commit–reveal cloud-prize draw.
//! - [`draw`]: a period's draw directory (winners, report, manifest) and its
//!   verification.
//! - [`synth`], [`bench`]: synthetic snapshots and `bench draw`.
//!
//! `docs/DRAW.md` defines the file format and the draw byte by byte.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod cloud;
pub mod draw;
pub mod error;
pub mod snapshot;
pub mod synth;

pub use error::{Error, Result};
pub use snapshot::{EligibleInvoice, Snapshot, SnapshotWriter};

use einvoice_core::{Prize, WinningNumbers};

/// One winner of a regular prize: its position in the column and its highest prize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Hit {
    /// Index of the invoice in the snapshot column.
    pub index: u64,
    /// The 8 digits of its number.
    pub digits: u32,
    /// Highest prize.
    pub prize: Prize,
}

/// A 1000-entry table: can a number ending in these 3 digits win anything
/// besides the special and grand prizes? (Every prize from first to sixth
/// needs the last 3 digits of a first-prize number; the additional sixth is
/// 3 digits.) Filtering on it leaves ~0.5 % of invoices for the exact check.
#[derive(Debug, Clone)]
pub struct SuffixFilter {
    hot: [bool; 1000],
    special: u32,
    grand: u32,
}

impl SuffixFilter {
    /// Build the filter for a period's numbers.
    pub fn new(w: &WinningNumbers) -> Self {
        let mut hot = [false; 1000];
        for f in &w.first {
            hot[(f % 1000) as usize] = true;
        }
        for s in &w.additional_sixth {
            if let Some(slot) = hot.get_mut(usize::from(*s)) {
                *slot = true;
            }
        }
        Self {
            hot,
            special: w.special,
            grand: w.grand,
        }
    }

    /// Might `digits` win? (No false negatives.)
    #[inline]
    pub fn candidate(&self, digits: u32) -> bool {
        self.hot[(digits % 1000) as usize] || digits == self.special || digits == self.grand
    }
}

fn scan(
    column: &[u32],
    offset: u64,
    filter: &SuffixFilter,
    w: &WinningNumbers,
    out: &mut Vec<Hit>,
) {
    for (i, &d) in column.iter().enumerate() {
        if filter.candidate(d)
            && let Some(prize) = w.highest_prize(d)
        {
            out.push(Hit {
                index: offset + i as u64,
                digits: d,
                prize,
            });
        }
    }
}

/// Every invoice in `column` that wins a regular prize, in column order,
/// scanned on `threads` threads (each a contiguous slice).
pub fn match_prizes(column: &[u32], w: &WinningNumbers, threads: usize) -> Vec<Hit> {
    let filter = SuffixFilter::new(w);
    let threads = threads.clamp(1, 64);
    let chunk = column.len().div_ceil(threads).max(1);
    let mut parts: Vec<Vec<Hit>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = column
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                let filter = &filter;
                s.spawn(move || {
                    let mut out = Vec::new();
                    scan(part, (i * chunk) as u64, filter, w, &mut out);
                    out
                })
            })
            .collect();
        parts = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
    });
    parts.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use einvoice_core::Period;
    use proptest::prelude::*;

    fn numbers(special: &str, grand: &str, first: &[&str], add: &[&str]) -> WinningNumbers {
        WinningNumbers::parse(
            Period::parse("10802").expect("p"),
            special,
            grand,
            first,
            add,
        )
        .expect("numbers")
    }

    fn brute(column: &[u32], w: &WinningNumbers) -> Vec<Hit> {
        column
            .iter()
            .enumerate()
            .filter_map(|(i, &d)| {
                w.highest_prize(d).map(|prize| Hit {
                    index: i as u64,
                    digits: d,
                    prize,
                })
            })
            .collect()
    }

    /// Every real period in the fixtures, against random columns seeded with near-misses.
    #[test]
    fn equals_brute_force_on_real_winning_numbers() {
        let base = std::env::var_os("EINVOICE_FIXTURES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../../shared/fixtures")
            });
        let Ok(text) = std::fs::read(base.join("winning-numbers.json")) else {
            eprintln!(
                "skipped: fixtures not found at {}; set EINVOICE_FIXTURES",
                base.display()
            );
            return;
        };
        let doc: serde_json::Value = serde_json::from_slice(&text).expect("json");
        let periods = doc["periods"].as_array().expect("periods");
        assert!(periods.len() >= 12);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for p in periods {
            let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
            let list = |k: &str| -> Vec<String> {
                p[k].as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (first, add) = (list("first"), list("additional_sixth"));
            let fr: Vec<&str> = first.iter().map(String::as_str).collect();
            let ar: Vec<&str> = add.iter().map(String::as_str).collect();
            let w = WinningNumbers::parse(
                Period::parse(&s("period")).expect("period"),
                &s("special"),
                &s("grand"),
                &fr,
                &ar,
            )
            .expect("numbers");
            let mut column = Vec::with_capacity(200_000);
            for i in 0..200_000u32 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let r = (state % 100_000_000) as u32;
                // Every 50th invoice shares a suffix of random length with a first-prize number.
                let d = if i % 50 == 0 {
                    let f = w.first[(i as usize / 50) % w.first.len()];
                    let m = 10u32.pow(1 + (state % 8) as u32);
                    (r / m) * m + f % m
                } else {
                    r
                };
                column.push(d.min(99_999_999));
            }
            column.push(w.special);
            column.push(w.grand);
            let got = match_prizes(&column, &w, 2);
            assert_eq!(got, brute(&column, &w), "period {}", s("period"));
            assert!(got.iter().any(|h| h.prize == Prize::Special));
        }
    }

    proptest! {
        #[test]
        fn filter_has_no_false_negatives(d in 0u32..100_000_000, f in 0u32..100_000_000, add in 0u16..1000, threads in 1usize..5) {
            let w = numbers("00106725", "90819218", &[&format!("{f:08}")], &[&format!("{add:03}")]);
            let filter = SuffixFilter::new(&w);
            if w.highest_prize(d).is_some() {
                prop_assert!(filter.candidate(d));
            }
            let column = vec![d, f, d ^ 1, (d / 1000) * 1000 + f % 1000];
            prop_assert_eq!(match_prizes(&column, &w, threads), brute(&column, &w));
        }
    }
}
