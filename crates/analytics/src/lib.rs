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
#![deny(unsafe_code)]
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

/// The pre-filter of the match: can a number win anything? Every prize from
/// first to sixth needs the last 3 digits of a first-prize number, the
/// additional sixth is 3 digits, and the special and grand prizes need all 8
/// digits. The ≤ 16 distinct "hot" 3-digit suffixes are compared branch-free,
/// 64 numbers at a time, so the compiler vectorises it; only the ~0.5 % of
/// numbers that pass get the exact check ([`WinningNumbers::highest_prize`]).
#[derive(Debug, Clone)]
pub struct SuffixFilter {
    hot: [bool; 1000],
    /// Distinct hot suffixes, padded to 16 by repeating the first.
    suffixes: [u32; 16],
    distinct: usize,
    special: u32,
    grand: u32,
    /// (last 3 digits, number) of each first-prize number.
    firsts: Vec<(u32, u32)>,
    additional: Vec<u32>,
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
        let list: Vec<u32> = (0..1000u32).filter(|&i| hot[i as usize]).collect();
        // WinningNumbers allows ≤ 10 first + ≤ 6 additional: at most 16.
        let mut suffixes = [list.first().copied().unwrap_or(u32::MAX); 16];
        for (s, v) in suffixes.iter_mut().zip(&list) {
            *s = *v;
        }
        Self {
            hot,
            suffixes,
            distinct: list.len().min(16),
            special: w.special,
            grand: w.grand,
            firsts: w.first.iter().map(|&f| (f % 1000, f)).collect(),
            additional: w.additional_sixth.iter().map(|&a| u32::from(a)).collect(),
        }
    }

    /// The highest prize of a number (same answer as
    /// [`WinningNumbers::highest_prize`], with the suffixes precomputed).
    #[inline]
    pub fn exact(&self, d: u32) -> Option<Prize> {
        if d == self.special {
            return Some(Prize::Special);
        }
        if d == self.grand {
            return Some(Prize::Grand);
        }
        let r = d % 1000;
        // Longest common suffix (3..=8 digits) with a first-prize number that
        // shares the last 3; most candidates stop at the first comparison.
        let mut best = 0;
        for &(last3, f) in &self.firsts {
            if last3 == r {
                let (mut k, mut m) = (3, 10_000u32);
                while k < 8 && d % m == f % m {
                    k += 1;
                    m = m.saturating_mul(10);
                }
                best = best.max(k);
            }
        }
        match best {
            8 => Some(Prize::First),
            7 => Some(Prize::Second),
            6 => Some(Prize::Third),
            5 => Some(Prize::Fourth),
            4 => Some(Prize::Fifth),
            3 => Some(Prize::Sixth),
            _ => self
                .additional
                .contains(&r)
                .then_some(Prize::AdditionalSixth),
        }
    }

    /// Might `digits` win? (No false negatives.)
    #[inline]
    pub fn candidate(&self, digits: u32) -> bool {
        self.hot[(digits % 1000) as usize] || digits == self.special || digits == self.grand
    }
}

/// Flags (0/1 per number) of the candidates among 64 numbers, comparing the
/// last 3 digits with the first `K` hot suffixes. Branch-free so it vectorises.
#[inline(always)]
fn flags64<const K: usize>(c: &[u32], f: &SuffixFilter, out: &mut [u8; 64]) {
    let hot: [u32; K] = std::array::from_fn(|k| f.suffixes[k]);
    for (o, &d) in out.iter_mut().zip(c) {
        let r = d % 1000;
        let mut hit = u8::from(d == f.special) | u8::from(d == f.grand);
        for h in hot {
            hit |= u8::from(r == h);
        }
        *o = hit;
    }
}

#[inline(always)]
fn scan_k<const K: usize>(column: &[u32], offset: u64, filter: &SuffixFilter, out: &mut Vec<Hit>) {
    let mut flags = [0u8; 64];
    let mut chunks = column.chunks_exact(64);
    let mut base = offset;
    for c in &mut chunks {
        flags64::<K>(c, filter, &mut flags);
        for (k, b) in flags.chunks_exact(8).enumerate() {
            let mut word = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            while word != 0 {
                let i = k * 8 + (word.trailing_zeros() / 8) as usize;
                word &= word - 1;
                if let Some(prize) = filter.exact(c[i]) {
                    out.push(Hit {
                        index: base + i as u64,
                        digits: c[i],
                        prize,
                    });
                }
            }
        }
        base += 64;
    }
    for (i, &d) in chunks.remainder().iter().enumerate() {
        if filter.candidate(d)
            && let Some(prize) = filter.exact(d)
        {
            out.push(Hit {
                index: base + i as u64,
                digits: d,
                prize,
            });
        }
    }
}

#[inline(always)]
fn scan_portable(column: &[u32], offset: u64, filter: &SuffixFilter, out: &mut Vec<Hit>) {
    match filter.distinct {
        0 | 1 => scan_k::<1>(column, offset, filter, out),
        2 => scan_k::<2>(column, offset, filter, out),
        3 => scan_k::<3>(column, offset, filter, out),
        4 => scan_k::<4>(column, offset, filter, out),
        5 => scan_k::<5>(column, offset, filter, out),
        6 => scan_k::<6>(column, offset, filter, out),
        7 | 8 => scan_k::<8>(column, offset, filter, out),
        _ => scan_k::<16>(column, offset, filter, out),
    }
}

/// The same code compiled for AVX2 (8 lanes; about 2.5× the SSE2 baseline's
/// speed on the `% 1000` and the compares).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_avx2(column: &[u32], offset: u64, filter: &SuffixFilter, out: &mut Vec<Hit>) {
    scan_portable(column, offset, filter, out)
}

fn scan(column: &[u32], offset: u64, filter: &SuffixFilter, out: &mut Vec<Hit>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: calling a `#[target_feature(enable = "avx2")]` function is
        // sound exactly when the CPU supports AVX2, which was just checked at
        // run time; the function itself is safe code.
        #[allow(unsafe_code)]
        unsafe {
            scan_avx2(column, offset, filter, out)
        };
        return;
    }
    scan_portable(column, offset, filter, out)
}

/// Every invoice in `column` that wins a regular prize, in column order,
/// scanned on `threads` threads (each a contiguous slice).
pub fn match_prizes(column: &[u32], w: &WinningNumbers, threads: usize) -> Vec<Hit> {
    let filter = SuffixFilter::new(w);
    let threads = threads.clamp(1, 64);
    if threads == 1 {
        let mut out = Vec::new();
        scan(column, 0, &filter, &mut out);
        return out;
    }
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
                    scan(part, (i * chunk) as u64, filter, &mut out);
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
