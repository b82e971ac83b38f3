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
mod kernel;
pub mod snapshot;
pub mod synth;

pub use error::{Error, Result};
pub use kernel::Kernel;
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
/// the kernels ([`Kernel`]) test the ≤ 16 distinct "hot" suffixes
/// branch-free, 64 rows at a time; only the ~0.5 % of rows that pass get the
/// exact check (the same answer as [`WinningNumbers::highest_prize`]).
#[derive(Debug, Clone)]
pub struct SuffixFilter {
    hot: [bool; 1000],
    /// The same as a 1024-bit bitmap (bit `s % 32` of word `s / 32`): the
    /// AVX-512 kernel's lookup table.
    hot_bits: [u32; 32],
    /// Distinct hot suffixes, padded to 16 by repeating the first: the
    /// portable kernel's compares.
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
        let mut hot_bits = [0u32; 32];
        for &s in &list {
            hot_bits[(s / 32) as usize] |= 1 << (s % 32);
        }
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
            hot_bits,
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

    /// [`SuffixFilter::candidate`] of a [`HotColumn`] word, branch-free.
    #[inline(always)]
    fn candidate_word(&self, w: u32) -> bool {
        let r = w & 1023;
        ((self.hot_bits[(r / 32) as usize] >> (r % 32)) & 1 == 1)
            | (w == self.special_word)
            | (w == self.grand_word)
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

/// The winners of a match, in column order, kept as the pieces the threads
/// produced (joining them would copy every hit once more).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hits {
    pieces: Vec<Vec<Hit>>,
    len: usize,
}

impl Hits {
    fn from_pieces(pieces: Vec<Vec<Hit>>) -> Self {
        let len = pieces.iter().map(Vec::len).sum();
        Self { pieces, len }
    }

    /// How many winners.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No winners?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The winners in column order.
    pub fn iter(&self) -> impl Iterator<Item = &Hit> + '_ {
        self.pieces.iter().flatten()
    }

    /// The winners in column order, in one vector.
    pub fn to_vec(&self) -> Vec<Hit> {
        let mut all = Vec::with_capacity(self.len);
        for piece in &self.pieces {
            all.extend_from_slice(piece);
        }
        all
    }
}

impl<'a> IntoIterator for &'a Hits {
    type Item = &'a Hit;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<Hit>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.pieces.iter().flatten()
    }
}

/// Rows a piece of work when the match runs on several threads: threads
/// take the next piece as they finish one, so a thread that loses its core
/// to other work (draw day is also the day of peak queries) holds up the
/// others by at most one piece (16 MiB of column) instead of half the column.
const PIECE: usize = 1 << 22;

/// Every invoice in `column` that wins a regular prize, in column order,
/// scanned on `threads` threads with the fastest [`Kernel`] this CPU runs.
pub fn match_prizes(column: &HotColumn, w: &WinningNumbers, threads: usize) -> Hits {
    match_prizes_with(Kernel::detect(), column, w, threads)
}

/// [`match_prizes`] with a chosen [`Kernel`] (one this CPU lacks falls back
/// to [`Kernel::Portable`]); the benchmarks compare them.
pub fn match_prizes_with(
    kernel: Kernel,
    column: &HotColumn,
    w: &WinningNumbers,
    threads: usize,
) -> Hits {
    match_in_pieces(kernel, column, w, threads, PIECE)
}

/// The match with pieces of `piece` rows (tests use small ones).
fn match_in_pieces(
    kernel: Kernel,
    column: &HotColumn,
    w: &WinningNumbers,
    threads: usize,
    piece: usize,
) -> Hits {
    let filter = SuffixFilter::new(w);
    let words = column.words();
    let piece = piece.max(1);
    let pieces = words.len().div_ceil(piece);
    let threads = threads.clamp(1, 64).min(pieces.max(1));
    // About 1 row in 200 wins (5 to 8 hot suffixes of 1000).
    let capacity = |rows: usize| rows / 150;
    if threads == 1 {
        let mut out = Vec::with_capacity(capacity(words.len()));
        kernel::scan(kernel, words, 0, &filter, &mut out);
        return Hits::from_pieces(vec![out]);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<Hit>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (filter, next) = (&filter, &next);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(rows) = words.chunks(piece).nth(i) else {
                            break;
                        };
                        let mut out = Vec::with_capacity(capacity(rows.len()));
                        kernel::scan(kernel, rows, (i * piece) as u64, filter, &mut out);
                        mine.push((i, out));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    Hits::from_pieces(done.into_iter().map(|(_, hits)| hits).collect())
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
            // The special and grand numbers inside full blocks (where the
            // vector kernels decide) and in the tail (where rows are checked
            // one by one).
            for at in [7, 64 * 5 + 31, 64 * 901 + 63, 150_000] {
                column[at] = w.special;
                column[at + 1] = w.grand;
            }
            column.push(w.special);
            column.push(w.grand);
            let hot = HotColumn::from_digits(column.clone()).expect("8 digits");
            let expected = brute(&column, &w);
            assert!(expected.iter().any(|h| h.prize == Prize::Special));
            for kernel in Kernel::available() {
                let got = match_in_pieces(kernel, &hot, &w, 2, 20_000).to_vec();
                assert_eq!(got, expected, "period {} kernel {kernel:?}", s("period"));
            }
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

        /// Every kernel this CPU runs (portable, AVX2, AVX-512) agrees with
        /// the reference, in order, on 1 to 3 threads taking pieces of any
        /// size; columns of up to two segments cover the segment and block
        /// boundaries.
        #[test]
        fn every_kernel_equals_the_reference(
            first in proptest::collection::vec(0u32..100_000_000, 1..=10),
            add in proptest::collection::vec(0u16..1000, 0..=6),
            seed in any::<u64>(),
            len in 0usize..9000,
            threads in 1usize..4,
            piece in 1usize..10_000,
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
                    match i % 97 {
                        5 => 106_725,   // the special prize
                        50 => 90_819_218, // the grand prize
                        _ if i % 3 == 0 => (r / m) * m + near % m,
                        _ => r,
                    }
                })
                .collect();
            let hot = HotColumn::from_digits(column.clone()).expect("8 digits");
            let expected = brute(&column, &w);
            for kernel in Kernel::available() {
                let got = match_in_pieces(kernel, &hot, &w, threads, piece).to_vec();
                prop_assert_eq!(&got, &expected, "kernel {:?}", kernel);
            }
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
            prop_assert_eq!(match_in_pieces(Kernel::detect(), &hot, &w, threads, 1).to_vec(), brute(&column, &w));
        }
    }
}
