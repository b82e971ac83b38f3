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

/// The numbers column as the match reads it: each invoice number's 8 digits
/// (號碼, 0..=99,999,999) in a 27-bit decimal-split word
/// `(digits / 1000) << 10 | digits % 1000`, 4 bytes a row like the digits
/// themselves.
///
/// Every prize below the grand prize starts from the last 3 digits, so the
/// match's per-row test becomes a mask and a few compares instead of a
/// division by 1000 (which AVX2 has no instruction for); the encoding is
/// computed once, while the column is loaded and range-checked
/// ([`Snapshot::numbers`](crate::Snapshot::numbers)). The snapshot file keeps
/// plain digits (docs/DRAW.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HotColumn {
    words: Vec<u32>,
}

impl HotColumn {
    /// The word of an 8-digit number (`digits` must be below 100,000,000).
    #[inline]
    pub const fn encode(digits: u32) -> u32 {
        ((digits / 1000) << 10) | (digits % 1000)
    }

    /// The 8 digits of a word.
    #[inline]
    pub const fn decode(word: u32) -> u32 {
        (word >> 10) * 1000 + (word & 1023)
    }

    /// A column of the given numbers; `None` if one has more than 8 digits.
    pub fn from_digits(mut digits: Vec<u32>) -> Option<Self> {
        let mut max = 0;
        for d in &mut digits {
            max = max.max(*d);
            *d = Self::encode(*d);
        }
        (max < 100_000_000).then_some(Self { words: digits })
    }

    /// A column of already encoded words (from [`words`](Self::words)); `None`
    /// if one is not the word of an 8-digit number.
    pub fn from_words(words: Vec<u32>) -> Option<Self> {
        words
            .iter()
            .all(|&w| w & 1023 < 1000 && w >> 10 < 100_000)
            .then_some(Self { words })
    }

    /// Words the caller has already range-checked.
    pub(crate) fn from_checked_words(words: Vec<u32>) -> Self {
        Self { words }
    }

    /// The encoded words, one a row.
    pub fn words(&self) -> &[u32] {
        &self.words
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// No rows?
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The 8 digits of row `i`.
    pub fn digits(&self, i: usize) -> Option<u32> {
        self.words.get(i).map(|&w| Self::decode(w))
    }
}

/// The pre-filter of the match: can a number win anything? Every prize from
/// first to sixth needs the last 3 digits of a first-prize number, the
/// additional sixth is 3 digits, and the special and grand prizes need all 8
/// digits. On [`HotColumn`] words the last 3 digits are the low 10 bits, so
/// the ≤ 16 distinct "hot" suffixes are compared branch-free, 64 rows at a
/// time, and the compiler vectorises it; only the ~0.6 % of rows that pass get
/// the exact check ([`WinningNumbers::highest_prize`]).
#[derive(Debug, Clone)]
pub struct SuffixFilter {
    hot: [bool; 1000],
    /// Distinct hot suffixes, padded to 16 by repeating the first.
    suffixes: [u32; 16],
    distinct: usize,
    special: u32,
    grand: u32,
    /// Distinct last 3 digits of every winning number (first prizes,
    /// additional sixth, special and grand), padded to 18 by repeating the
    /// first: the AVX2 kernel's whole filter.
    wide: [u16; 18],
    wide_distinct: usize,
    /// The special and grand prize numbers as [`HotColumn`] words.
    special_word: u32,
    grand_word: u32,
    /// Each first-prize number as (last 3 digits, its first 5 digits modulo
    /// 10, 100, 1000, 10,000 and 100,000).
    firsts: Vec<(u32, [u32; 5])>,
    /// Per last 3 digits (1024 slots, so a word's low 10 bits index it
    /// without a bounds check failing): what a candidate ending in them can win.
    by_suffix: Box<[SuffixEntry; 1024]>,
}

/// What a candidate's last 3 digits say, so that its exact check does not
/// search: the one first-prize number ending in them (an index into
/// [`SuffixFilter::firsts`]) and flags.
#[derive(Debug, Clone, Copy, Default)]
struct SuffixEntry {
    first: u8,
    flags: u8,
}

impl SuffixEntry {
    /// A first-prize number ends in these digits.
    const FIRST: u8 = 1;
    /// More than one does (the exact check then looks at each).
    const SEVERAL: u8 = 2;
    /// An additional sixth prize is these digits.
    const ADDITIONAL: u8 = 4;
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
        let mut all = list.clone();
        all.extend([w.special % 1000, w.grand % 1000]);
        all.sort_unstable();
        all.dedup();
        // ≤ 16 + 2 values, each below 1000.
        let mut wide = [all.first().map_or(u16::MAX, |&v| v as u16); 18];
        for (s, v) in wide.iter_mut().zip(&all) {
            *s = *v as u16;
        }
        Self {
            hot,
            suffixes,
            distinct: list.len().min(16),
            wide,
            wide_distinct: all.len().min(18),
            special: w.special,
            grand: w.grand,
            special_word: HotColumn::encode(w.special),
            grand_word: HotColumn::encode(w.grand),
            firsts: w
                .first
                .iter()
                .map(|&f| (f % 1000, upper_suffixes(f / 1000)))
                .collect(),
            by_suffix: Box::new(Self::by_suffix(w)),
        }
    }

    fn by_suffix(w: &WinningNumbers) -> [SuffixEntry; 1024] {
        let mut t = [SuffixEntry::default(); 1024];
        for (i, f) in w.first.iter().enumerate() {
            let e = &mut t[(f % 1000) as usize];
            if e.flags & SuffixEntry::FIRST != 0 {
                e.flags |= SuffixEntry::SEVERAL;
            }
            e.flags |= SuffixEntry::FIRST;
            // ≤ 10 first-prize numbers.
            e.first = i as u8;
        }
        for &a in &w.additional_sixth {
            if let Some(e) = t.get_mut(usize::from(a)) {
                e.flags |= SuffixEntry::ADDITIONAL;
            }
        }
        t
    }

    /// The highest prize of a number (same answer as
    /// [`WinningNumbers::highest_prize`], with the suffixes precomputed).
    #[inline]
    pub fn exact(&self, digits: u32) -> Option<Prize> {
        self.exact_word(HotColumn::encode(digits))
    }

    /// The highest prize of a [`HotColumn`] word. Candidates arrive in no
    /// order, so a branch on their digits would mostly be mispredicted: the
    /// last 3 digits index [`SuffixEntry`]s, the common suffix with the one
    /// first-prize number ending in them is counted with constant divisors,
    /// and the prize is looked up by rank.
    #[inline(always)]
    fn exact_word(&self, w: u32) -> Option<Prize> {
        if w == self.special_word {
            return Some(Prize::Special);
        }
        if w == self.grand_word {
            return Some(Prize::Grand);
        }
        let r = w & 1023;
        let e = self.by_suffix[r as usize];
        let up = upper_suffixes(w >> 10);
        // A longer common suffix implies every shorter one, so the count of
        // equal suffixes is the length beyond 3.
        let longer =
            |f: &[u32; 5]| -> u32 { up.iter().zip(f).map(|(a, b)| u32::from(a == b)).sum() };
        let rank = if e.flags & SuffixEntry::SEVERAL != 0 {
            self.firsts
                .iter()
                .filter(|(last3, _)| *last3 == r)
                .map(|(_, f)| 3 + longer(f))
                .max()
                .unwrap_or(0)
        } else {
            let via_first = self
                .firsts
                .get(usize::from(e.first))
                .map_or(0, |(_, f)| 3 + longer(f));
            let additional = u32::from(e.flags & SuffixEntry::ADDITIONAL != 0);
            if e.flags & SuffixEntry::FIRST != 0 {
                via_first
            } else {
                additional
            }
        };
        PRIZE_OF_RANK.get(rank as usize).copied().flatten()
    }

    /// Might the number with these 8 digits win? (No false negatives.)
    #[inline]
    pub fn candidate(&self, digits: u32) -> bool {
        self.hot[(digits % 1000) as usize] || digits == self.special || digits == self.grand
    }
}

/// The prize of each rank of [`SuffixFilter::exact_word`]: 0 none, 1 the
/// additional sixth, 3 to 8 the length of the suffix shared with a
/// first-prize number.
const PRIZE_OF_RANK: [Option<Prize>; 9] = [
    None,
    Some(Prize::AdditionalSixth),
    None,
    Some(Prize::Sixth),
    Some(Prize::Fifth),
    Some(Prize::Fourth),
    Some(Prize::Third),
    Some(Prize::Second),
    Some(Prize::First),
];

/// The first 5 digits (`upper` = digits / 1000) modulo 10 … 100,000: the
/// suffixes of 4 to 8 digits once the last 3 are known equal.
#[inline(always)]
fn upper_suffixes(upper: u32) -> [u32; 5] {
    [
        upper % 10,
        upper % 100,
        upper % 1000,
        upper % 10_000,
        upper % 100_000,
    ]
}

/// Flags (0/1 per row) of the candidates among 64 [`HotColumn`] words,
/// comparing the low 10 bits (the last 3 digits) with the first `K` hot
/// suffixes and the whole word with the special and grand prizes.
/// Branch-free so it vectorises.
#[inline(always)]
fn flags64<const K: usize>(c: &[u32], f: &SuffixFilter, out: &mut [u8; 64]) {
    let hot: [u32; K] = std::array::from_fn(|k| f.suffixes[k]);
    for (o, &w) in out.iter_mut().zip(c) {
        let r = w & 1023;
        let mut hit = u8::from(w == f.special_word) | u8::from(w == f.grand_word);
        for h in hot {
            hit |= u8::from(r == h);
        }
        *o = hit;
    }
}

#[inline(always)]
fn scan_k<const K: usize>(words: &[u32], offset: u64, filter: &SuffixFilter, out: &mut Vec<Hit>) {
    let mut flags = [0u8; 64];
    let mut chunks = words.chunks_exact(64);
    let mut base = offset;
    for c in &mut chunks {
        flags64::<K>(c, filter, &mut flags);
        // About two blocks in three have no candidate at all: one OR over
        // the flags (two vector registers) skips them.
        if flags.iter().fold(0u8, |a, &b| a | b) == 0 {
            base += 64;
            continue;
        }
        for (k, b) in flags.chunks_exact(8).enumerate() {
            let mut word = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            while word != 0 {
                let i = k * 8 + (word.trailing_zeros() / 8) as usize;
                word &= word - 1;
                check(filter, base + i as u64, c[i], out);
            }
        }
        base += 64;
    }
    for (i, &w) in chunks.remainder().iter().enumerate() {
        if filter.candidate(HotColumn::decode(w)) {
            check(filter, base + i as u64, w, out);
        }
    }
}

#[inline(always)]
fn scan_portable(words: &[u32], offset: u64, filter: &SuffixFilter, out: &mut Vec<Hit>) {
    match filter.distinct {
        0 | 1 => scan_k::<1>(words, offset, filter, out),
        2 => scan_k::<2>(words, offset, filter, out),
        3 => scan_k::<3>(words, offset, filter, out),
        4 => scan_k::<4>(words, offset, filter, out),
        5 => scan_k::<5>(words, offset, filter, out),
        6 => scan_k::<6>(words, offset, filter, out),
        7 | 8 => scan_k::<8>(words, offset, filter, out),
        _ => scan_k::<16>(words, offset, filter, out),
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The AVX2 kernel: 64 rows a block, 16 a step in 16-bit lanes.
    //!
    //! Each step loads two vectors of 8 words, keeps their low 10 bits (the
    //! last 3 digits), packs them into one vector of 16 `u16` and compares it
    //! with every winning suffix (special and grand included, so the whole
    //! word is never compared in the vector loop). Two steps' results are
    //! packed to bytes and their sign bits taken: one bit per row, 32 rows a
    //! mask. The packs interleave per 128-bit lane, so a mask's nibbles hold
    //! rows 0–3, 8–11, 16–19, 24–27, 4–7, 12–15, 20–23, 28–31; [`row_order`]
    //! puts them back (only for the third of blocks that have a candidate).

    use super::{Hit, HotColumn, SuffixFilter};
    use einvoice_core::Prize;
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_cmpeq_epi16, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_packs_epi16, _mm256_packus_epi32, _mm256_set1_epi16,
        _mm256_set1_epi32, _mm256_setzero_si256,
    };

    #[inline]
    #[target_feature(enable = "avx2")]
    fn load(c: &[u32]) -> __m256i {
        let Ok(c) = <&[u32; 8]>::try_from(c) else {
            return _mm256_setzero_si256(); // unreachable: callers pass 8 words
        };
        // SAFETY: `c` is 8 readable, initialised u32 = 32 bytes;
        // `_mm256_loadu_si256` has no alignment requirement, and AVX2 is
        // enabled for this function (callers check it at run time).
        #[allow(unsafe_code)]
        unsafe {
            _mm256_loadu_si256(c.as_ptr().cast())
        }
    }

    /// 16 rows: a 16-bit lane of all ones where the row's last 3 digits
    /// are hot (lane order: rows 0–3, 8–11, 4–7, 12–15).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn step<const K: usize>(c: &[u32], hot: &[__m256i; K]) -> __m256i {
        let low = _mm256_set1_epi32(1023);
        let packed = _mm256_packus_epi32(
            _mm256_and_si256(load(&c[..8]), low),
            _mm256_and_si256(load(&c[8..16]), low),
        );
        let mut eq = _mm256_setzero_si256();
        for h in hot {
            eq = _mm256_or_si256(eq, _mm256_cmpeq_epi16(packed, *h));
        }
        eq
    }

    /// 32 rows: one bit a hot row, in the packs' nibble order.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mask32<const K: usize>(c: &[u32], hot: &[__m256i; K]) -> u32 {
        let bytes = _mm256_packs_epi16(step(&c[..16], hot), step(&c[16..32], hot));
        _mm256_movemask_epi8(bytes) as u32
    }

    /// Nibbles 0–3 of `m` are row groups 0, 2, 4, 6 and nibbles 4–7 groups
    /// 1, 3, 5, 7: interleave them so bit `i` is row `i`.
    #[inline]
    fn row_order(m: u32) -> u32 {
        let spread = |x: u32| {
            let x = (x | (x << 8)) & 0x00FF_00FF;
            (x | (x << 4)) & 0x0F0F_0F0F
        };
        spread(m & 0xFFFF) | (spread(m >> 16) << 4)
    }

    #[target_feature(enable = "avx2")]
    fn scan_k<const K: usize>(words: &[u32], offset: u64, f: &SuffixFilter, out: &mut Vec<Hit>) {
        let hot: [__m256i; K] = std::array::from_fn(|k| _mm256_set1_epi16(f.wide[k] as i16));
        let mut base = offset;
        let mut chunks = words.chunks_exact(64);
        let empty = Hit {
            index: 0,
            digits: 0,
            prize: Prize::Sixth,
        };
        let mut found = [empty; 64];
        for block in &mut chunks {
            let (lo, hi) = (mask32(&block[..32], &hot), mask32(&block[32..], &hot));
            if lo | hi == 0 {
                base += 64;
                continue;
            }
            let mut bits = u64::from(row_order(lo)) | (u64::from(row_order(hi)) << 32);
            // Every candidate is written; only winners advance `n` (no
            // branch on the candidate's digits).
            let mut n = 0;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let w = block[i];
                let prize = f.exact_word(w);
                found[n & 63] = Hit {
                    index: base + i as u64,
                    digits: HotColumn::decode(w),
                    prize: prize.unwrap_or(Prize::Sixth),
                };
                n += usize::from(prize.is_some());
            }
            out.extend_from_slice(&found[..n.min(64)]);
            base += 64;
        }
        for (i, &w) in chunks.remainder().iter().enumerate() {
            if f.candidate(HotColumn::decode(w)) {
                super::check(f, base + i as u64, w, out);
            }
        }
    }

    /// Scan `words` (the caller has checked that the CPU has AVX2).
    #[target_feature(enable = "avx2")]
    pub(super) fn scan(words: &[u32], offset: u64, f: &SuffixFilter, out: &mut Vec<Hit>) {
        match f.wide_distinct {
            0 | 1 => scan_k::<1>(words, offset, f, out),
            2 => scan_k::<2>(words, offset, f, out),
            3 => scan_k::<3>(words, offset, f, out),
            4 => scan_k::<4>(words, offset, f, out),
            5 => scan_k::<5>(words, offset, f, out),
            6 => scan_k::<6>(words, offset, f, out),
            7 => scan_k::<7>(words, offset, f, out),
            8 => scan_k::<8>(words, offset, f, out),
            9 | 10 => scan_k::<10>(words, offset, f, out),
            _ => scan_k::<18>(words, offset, f, out),
        }
    }

    #[cfg(test)]
    mod tests {
        /// Row groups 0–7 (4 rows each) arrive in nibbles as 0,2,4,6,1,3,5,7.
        #[test]
        fn row_order_undoes_the_pack_interleave() {
            let groups_in_nibble_order = [0u32, 2, 4, 6, 1, 3, 5, 7];
            for row in 0..32u32 {
                let (g, r) = (row / 4, row % 4);
                let nibble = groups_in_nibble_order
                    .iter()
                    .position(|&x| x == g)
                    .expect("group") as u32;
                assert_eq!(
                    super::row_order(1 << (nibble * 4 + r)),
                    1 << row,
                    "row {row}"
                );
            }
        }
    }
}

/// The exact check of one candidate word.
#[inline]
fn check(filter: &SuffixFilter, i: u64, w: u32, out: &mut Vec<Hit>) {
    if let Some(prize) = filter.exact_word(w) {
        out.push(Hit {
            index: i,
            digits: HotColumn::decode(w),
            prize,
        });
    }
}

fn scan(words: &[u32], offset: u64, filter: &SuffixFilter, out: &mut Vec<Hit>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: calling a `#[target_feature(enable = "avx2")]` function is
        // sound exactly when the CPU supports AVX2, which was just checked at
        // run time.
        #[allow(unsafe_code)]
        unsafe {
            avx2::scan(words, offset, filter, out)
        };
        return;
    }
    scan_portable(words, offset, filter, out)
}

/// Every invoice in `column` that wins a regular prize, in column order,
/// scanned on `threads` threads (each a contiguous slice).
pub fn match_prizes(column: &HotColumn, w: &WinningNumbers, threads: usize) -> Vec<Hit> {
    let filter = SuffixFilter::new(w);
    let words = column.words();
    let threads = threads.clamp(1, 64);
    if threads == 1 {
        let mut out = Vec::with_capacity(words.len() / 150);
        scan(words, 0, &filter, &mut out);
        return out;
    }
    let chunk = words.len().div_ceil(threads).max(1);
    let mut parts: Vec<Vec<Hit>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = words
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                let filter = &filter;
                s.spawn(move || {
                    // About 1 row in 200 wins (5 to 8 hot suffixes of 1000).
                    let mut out = Vec::with_capacity(part.len() / 150);
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
            let hot = HotColumn::from_digits(column.clone()).expect("8 digits");
            let got = match_prizes(&hot, &w, 2);
            assert_eq!(got, brute(&column, &w), "period {}", s("period"));
            assert!(got.iter().any(|h| h.prize == Prize::Special));
        }
    }

    #[test]
    fn hot_column_rejects_more_than_8_digits() {
        assert!(HotColumn::from_digits(vec![0, 99_999_999]).is_some());
        assert!(HotColumn::from_digits(vec![0, 100_000_000]).is_none());
        // The word of 12,345,678 is 12,345 << 10 | 678.
        assert_eq!(HotColumn::encode(12_345_678), (12_345 << 10) | 678);
        assert!(HotColumn::from_words(vec![(99_999 << 10) | 999]).is_some());
        assert!(HotColumn::from_words(vec![1000]).is_none());
        assert!(HotColumn::from_words(vec![100_000 << 10]).is_none());
    }

    proptest! {
        #[test]
        fn hot_words_round_trip_and_keep_the_last_3_digits(d in 0u32..100_000_000) {
            let w = HotColumn::encode(d);
            prop_assert_eq!(HotColumn::decode(w), d);
            prop_assert_eq!(w & 1023, d % 1000);
            prop_assert!(w < 1 << 27);
        }

        /// The portable kernel (what a CPU without AVX2 runs) and the
        /// dispatched one (AVX2 here) agree with the reference, in order.
        #[test]
        fn both_kernels_equal_the_reference(
            first in proptest::collection::vec(0u32..100_000_000, 1..=10),
            add in proptest::collection::vec(0u16..1000, 0..=6),
            seed in any::<u64>(),
            len in 0usize..3000,
        ) {
            let f: Vec<String> = first.iter().map(|v| format!("{v:08}")).collect();
            let a: Vec<String> = add.iter().map(|v| format!("{v:03}")).collect();
            let fr: Vec<&str> = f.iter().map(String::as_str).collect();
            let ar: Vec<&str> = a.iter().map(String::as_str).collect();
            let w = numbers("00106725", "90819218", &fr, &ar);
            let mut state = seed | 1;
            let column: Vec<u32> = (0..len)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let r = (state % 100_000_000) as u32;
                    let near = first[i % first.len()];
                    let m = 10u32.pow(1 + (state >> 40) as u32 % 8);
                    if i % 3 == 0 { (r / m) * m + near % m } else { r }
                })
                .collect();
            let hot = HotColumn::from_digits(column.clone()).expect("8 digits");
            let filter = SuffixFilter::new(&w);
            let mut portable = Vec::new();
            scan_portable(hot.words(), 0, &filter, &mut portable);
            let mut dispatched = Vec::new();
            scan(hot.words(), 0, &filter, &mut dispatched);
            let expected = brute(&column, &w);
            prop_assert_eq!(&portable, &expected);
            prop_assert_eq!(&dispatched, &expected);
        }

        #[test]
        fn filter_has_no_false_negatives(d in 0u32..100_000_000, f in 0u32..100_000_000, add in 0u16..1000, threads in 1usize..5) {
            let w = numbers("00106725", "90819218", &[&format!("{f:08}")], &[&format!("{add:03}")]);
            let filter = SuffixFilter::new(&w);
            if w.highest_prize(d).is_some() {
                prop_assert!(filter.candidate(d));
            }
            let column = vec![d, f, d ^ 1, (d / 1000) * 1000 + f % 1000];
            let hot = HotColumn::from_digits(column.clone()).expect("8 digits");
            prop_assert_eq!(match_prizes(&hot, &w, threads), brute(&column, &w));
        }
    }
}
