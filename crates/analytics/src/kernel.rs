//! The regular-prize match's inner loop, in three instruction sets.
//!
//! The column is walked in segments of [`SEGMENT`] rows, each in two
//! passes, neither with a branch that depends on the numbers:
//!
//! 1. **Filter.** Each 64-row block gives a 64-bit mask of the rows that
//!    may win ([`SuffixFilter`]), and the rows' offsets are appended to a
//!    candidate list: four slots are written whatever the mask holds and the
//!    list grows by the mask's population count (a block with more than four
//!    candidates, about one in 10,000, takes a short extra loop). About one
//!    block in three has a candidate, in no pattern, so a branch on "any
//!    candidate here?" would be mispredicted on most of those blocks; this
//!    way the pass runs at the speed of the memory.
//! 2. **Check.** Each candidate gets the exact check
//!    ([`SuffixFilter::exact_word`]); a hit is written whatever the outcome
//!    and kept by advancing the output count.
//!
//! The filter masks come from one of three kernels: AVX-512 (a 1024-bit
//! bitmap of the hot last-3-digit suffixes looked up with one permute per
//! 16 rows, and the special and grand prizes compared as whole words, so
//! their suffixes are not candidates), AVX2 (16-bit lanes compared with
//! every winning suffix) and portable Rust. The kernels differ only in how
//! many non-winning candidates they let through; all give the same winners
//! in column order, which the tests check against the reference.

use crate::{Hit, HotColumn, SuffixFilter};
use einvoice_core::Prize;

/// Call `scan_k::<K>(args)` with the smallest listed `K` that holds `n`
/// suffixes (the padded suffix arrays repeat their first entry, so a larger
/// `K` is still exact), else with the widest.
macro_rules! with_k {
    ($n:expr; [$($k:literal),+], $widest:literal; $f:ident $args:tt) => {{
        let n = $n;
        $(
            if n <= $k {
                return $f::<$k> $args;
            }
        )+
        $f::<$widest> $args
    }};
}

/// Rows a segment: the candidate offsets (`u16`) of a segment stay in the
/// L1 cache between the two passes.
const SEGMENT: usize = 4096;

/// Which filter kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust, any CPU.
    Portable,
    /// x86-64 with AVX2.
    Avx2,
    /// x86-64 with AVX-512 F.
    Avx512,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn detect() -> Self {
        Self::available()
            .last()
            .copied()
            .unwrap_or(Kernel::Portable)
    }

    /// Every kernel this CPU can run, slowest first.
    pub fn available() -> Vec<Self> {
        [Kernel::Portable, Kernel::Avx2, Kernel::Avx512]
            .into_iter()
            .filter(|k| k.runs_here())
            .collect()
    }

    /// Does this CPU have what the kernel needs? POPCNT and BMI1 (TZCNT)
    /// come with every AVX2 CPU made; the vector kernels count and walk
    /// candidate masks with them.
    pub fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let bits = std::arch::is_x86_feature_detected!("popcnt")
                && std::arch::is_x86_feature_detected!("bmi1");
            match self {
                Kernel::Portable => true,
                Kernel::Avx2 => bits && std::arch::is_x86_feature_detected!("avx2"),
                Kernel::Avx512 => bits && std::arch::is_x86_feature_detected!("avx512f"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Kernel::Portable
        }
    }
}

/// Scan `words` (row `offset` first) with `kernel`, appending the winners in
/// column order. A kernel this CPU lacks falls back to the portable one.
pub(crate) fn scan(
    kernel: Kernel,
    words: &[u32],
    offset: u64,
    f: &SuffixFilter,
    out: &mut Vec<Hit>,
) {
    #[cfg(target_arch = "x86_64")]
    if kernel.runs_here() {
        match kernel {
            Kernel::Avx512 => {
                // SAFETY: calling a `#[target_feature(enable =
                // "avx512f,popcnt,bmi1")]` function is sound exactly when the
                // CPU has those features, which `runs_here` just checked.
                #[allow(unsafe_code)]
                unsafe {
                    avx512::scan(words, offset, f, out)
                };
                return;
            }
            Kernel::Avx2 => {
                // SAFETY: as above, for AVX2, POPCNT and BMI1.
                #[allow(unsafe_code)]
                unsafe {
                    avx2::scan(words, offset, f, out)
                };
                return;
            }
            Kernel::Portable => {}
        }
    }
    let _ = kernel;
    portable::scan(words, offset, f, out);
}

mod portable {
    //! Plain Rust: the last 3 digits of 64 rows are compared with the `K`
    //! distinct hot suffixes and the whole words with the special and grand
    //! prizes into one flag byte a row (branch-free, so the compiler
    //! vectorises it), and the flags are packed into the block's mask 8 at a
    //! time with one multiply.

    use super::drive;
    use crate::{Hit, SuffixFilter};

    #[inline(always)]
    fn flags64<const K: usize>(block: &[u32; 64], hot: &[u32; K], f: &SuffixFilter) -> u64 {
        let mut flags = [0u8; 64];
        for (o, &w) in flags.iter_mut().zip(block) {
            let r = w & 1023;
            let mut hit = u8::from(w == f.special_word) | u8::from(w == f.grand_word);
            for &h in hot {
                hit |= u8::from(r == h);
            }
            *o = hit;
        }
        let mut m = 0u64;
        for (k, b) in flags.chunks_exact(8).enumerate() {
            let x = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            // Byte i (0 or 1) lands on bit 56 + i: no carries reach there.
            m |= (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
        }
        m
    }

    fn scan_k<const K: usize>(words: &[u32], offset: u64, f: &SuffixFilter, out: &mut Vec<Hit>) {
        let hot: [u32; K] = std::array::from_fn(|k| f.suffixes[k]);
        drive(words, offset, f, out, |block| flags64(block, &hot, f));
    }

    pub(super) fn scan(words: &[u32], offset: u64, f: &SuffixFilter, out: &mut Vec<Hit>) {
        with_k!(f.distinct; [1, 2, 3, 4, 5, 6, 8], 16; scan_k(words, offset, f, out));
    }
}

/// The two passes over each segment, with `mask64` as the filter (bit `i`
/// of its answer set when row `i` of the 64 may win; extra bits only cost
/// an exact check, a missing one loses a winner).
#[inline(always)]
fn drive(
    words: &[u32],
    offset: u64,
    f: &SuffixFilter,
    out: &mut Vec<Hit>,
    mut mask64: impl FnMut(&[u32; 64]) -> u64,
) {
    let empty = Hit {
        index: 0,
        digits: 0,
        prize: Prize::Sixth,
    };
    // 4 slots of slack for the unconditional writes past the count.
    let mut candidates = vec![0u16; SEGMENT + 4];
    let mut found = vec![empty; SEGMENT];
    for (s, segment) in words.chunks(SEGMENT).enumerate() {
        let base = offset + (s * SEGMENT) as u64;
        let mut n = 0;
        let mut at = 0u16;
        let mut blocks = segment.chunks_exact(64);
        for block in &mut blocks {
            if let Ok(block) = <&[u32; 64]>::try_from(block) {
                n = collect(mask64(block), at, &mut candidates, n);
            }
            at += 64;
        }
        for (i, &w) in blocks.remainder().iter().enumerate() {
            if f.candidate_word(w)
                && let Some(slot) = candidates.get_mut(n)
            {
                *slot = at + i as u16;
                n += 1;
            }
        }
        let mut kept = 0;
        for &c in candidates.iter().take(n) {
            let (Some(&w), Some(slot)) = (segment.get(usize::from(c)), found.get_mut(kept)) else {
                continue; // unreachable: offsets lie in the segment, kept ≤ n ≤ SEGMENT
            };
            let prize = f.exact_word(w);
            *slot = Hit {
                index: base + u64::from(c),
                digits: HotColumn::decode(w),
                prize: prize.unwrap_or(Prize::Sixth),
            };
            kept += usize::from(prize.is_some());
        }
        out.extend_from_slice(&found[..kept]);
    }
}

/// Append the offsets (`at` + bit index) of the set bits of `m` to
/// `candidates[n..]`, returning the new count. Four slots are written
/// whatever `m` holds (an empty mask writes `at + 64`, never counted).
#[inline(always)]
fn collect(mut m: u64, at: u16, candidates: &mut [u16], n: usize) -> usize {
    let count = m.count_ones() as usize;
    if let Some(slots) = candidates.get_mut(n..n + 4) {
        for slot in slots {
            *slot = at + m.trailing_zeros() as u16;
            m &= m.wrapping_sub(1);
        }
    }
    if count > 4 {
        for slot in candidates.iter_mut().skip(n + 4) {
            if m == 0 {
                break;
            }
            *slot = at + m.trailing_zeros() as u16;
            m &= m - 1;
        }
    }
    n + count
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! AVX2: 16 rows a step in 16-bit lanes. Each step loads two vectors of
    //! 8 words, keeps their low 10 bits (the last 3 digits), packs them into
    //! 16 `u16` and compares them with every winning suffix, special and
    //! grand included. Two steps are packed to bytes; the packs interleave
    //! per 128-bit lane (4-row groups 0, 2, 4, 6, 1, 3, 5, 7), which one
    //! dword permute undoes before the sign bits are taken.

    use super::drive;
    use crate::{Hit, SuffixFilter};
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_cmpeq_epi16, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_packs_epi16, _mm256_packus_epi32, _mm256_permutevar8x32_epi32,
        _mm256_set1_epi16, _mm256_set1_epi32, _mm256_setr_epi32,
    };

    #[inline]
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    fn load(c: &[u32; 8]) -> __m256i {
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
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    fn step<const K: usize>(a: &[u32; 8], b: &[u32; 8], hot: &[__m256i; K]) -> __m256i {
        let low = _mm256_set1_epi32(1023);
        let packed = _mm256_packus_epi32(
            _mm256_and_si256(load(a), low),
            _mm256_and_si256(load(b), low),
        );
        let mut eq = _mm256_cmpeq_epi16(packed, hot[0]);
        for h in &hot[1..] {
            eq = _mm256_or_si256(eq, _mm256_cmpeq_epi16(packed, *h));
        }
        eq
    }

    /// 32 rows: bit `i` set when row `i` may win.
    #[inline]
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    fn mask32<const K: usize>(c: &[[u32; 8]; 4], hot: &[__m256i; K]) -> u32 {
        let bytes = _mm256_packs_epi16(step(&c[0], &c[1], hot), step(&c[2], &c[3], hot));
        let rows = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_movemask_epi8(rows) as u32
    }

    #[target_feature(enable = "avx2,popcnt,bmi1")]
    fn scan_k<const K: usize>(words: &[u32], offset: u64, f: &SuffixFilter, out: &mut Vec<Hit>) {
        let hot: [__m256i; K] = std::array::from_fn(|k| _mm256_set1_epi16(f.wide[k] as i16));
        drive(words, offset, f, out, |block| {
            let (lo, hi) = block.as_chunks::<8>().0.split_at(4);
            let (Ok(lo), Ok(hi)) = (
                <&[[u32; 8]; 4]>::try_from(lo),
                <&[[u32; 8]; 4]>::try_from(hi),
            ) else {
                return u64::MAX; // unreachable: 64 words are 8 chunks of 8
            };
            u64::from(mask32(lo, &hot)) | (u64::from(mask32(hi, &hot)) << 32)
        });
    }

    /// Scan `words` (the caller has checked that the CPU has AVX2).
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    pub(super) fn scan(words: &[u32], offset: u64, f: &SuffixFilter, out: &mut Vec<Hit>) {
        with_k!(f.wide_distinct; [1, 2, 3, 4, 5, 6, 7, 8, 10], 18; scan_k(words, offset, f, out));
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    //! AVX-512 F: 16 rows a step in 32-bit lanes, with the mask in row
    //! order from the compare itself. The hot last-3-digit suffixes (first
    //! prizes and additional sixth) are a 1024-bit bitmap in two registers:
    //! a word's bits 5–9 pick one of its 32 dwords (`vpermt2d` reads only
    //! the low 5 index bits, so the word shifted right by 5 is the index)
    //! and bits 0–4 the bit in it. The special and grand prizes are compared
    //! as whole words, so no other number ending in their digits is a
    //! candidate.

    use super::drive;
    use crate::{Hit, SuffixFilter};
    use std::arch::x86_64::{
        __m512i, _mm512_and_si512, _mm512_cmpeq_epi32_mask, _mm512_loadu_si512,
        _mm512_permutex2var_epi32, _mm512_set1_epi32, _mm512_srli_epi32, _mm512_srlv_epi32,
        _mm512_test_epi32_mask,
    };

    #[inline]
    #[target_feature(enable = "avx512f,popcnt,bmi1")]
    fn load(c: &[u32; 16]) -> __m512i {
        // SAFETY: `c` is 16 readable, initialised u32 = 64 bytes;
        // `_mm512_loadu_si512` has no alignment requirement, and AVX-512 F
        // is enabled for this function (callers check it at run time).
        #[allow(unsafe_code)]
        unsafe {
            _mm512_loadu_si512(c.as_ptr().cast())
        }
    }

    /// Scan `words` (the caller has checked that the CPU has AVX-512 F).
    #[target_feature(enable = "avx512f,popcnt,bmi1")]
    pub(super) fn scan(words: &[u32], offset: u64, f: &SuffixFilter, out: &mut Vec<Hit>) {
        let (lo, hi) = f.hot_bits.split_at(16);
        let (Ok(lo), Ok(hi)) = (<&[u32; 16]>::try_from(lo), <&[u32; 16]>::try_from(hi)) else {
            return super::portable::scan(words, offset, f, out);
        };
        let (bits_lo, bits_hi) = (load(lo), load(hi));
        let special = _mm512_set1_epi32(f.special_word as i32);
        let grand = _mm512_set1_epi32(f.grand_word as i32);
        let (low5, one) = (_mm512_set1_epi32(31), _mm512_set1_epi32(1));
        let mask16 = |c: &[u32; 16]| -> u64 {
            let v = load(c);
            let dword = _mm512_permutex2var_epi32(bits_lo, _mm512_srli_epi32::<5>(v), bits_hi);
            let bit = _mm512_srlv_epi32(dword, _mm512_and_si512(v, low5));
            let m = _mm512_test_epi32_mask(bit, one)
                | _mm512_cmpeq_epi32_mask(v, special)
                | _mm512_cmpeq_epi32_mask(v, grand);
            u64::from(m)
        };
        drive(words, offset, f, out, |block| {
            let [a, b, c, d] = block.as_chunks::<16>().0 else {
                return u64::MAX; // unreachable: 64 words are 4 chunks of 16
            };
            mask16(a) | (mask16(b) << 16) | (mask16(c) << 32) | (mask16(d) << 48)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::collect;

    #[test]
    fn collect_lists_every_set_bit_in_order() {
        for m in [
            0u64,
            1,
            1 << 63,
            0b1011,
            0xF0F0,
            u64::MAX,
            0x8000_0000_0000_0001,
        ] {
            let mut c = vec![0u16; 64 + 4];
            let n = collect(m, 128, &mut c, 0);
            let want: Vec<u16> = (0..64)
                .filter(|i| m >> i & 1 == 1)
                .map(|i| 128 + i)
                .collect();
            assert_eq!(&c[..n], &want[..], "mask {m:#x}");
        }
        // Appending after earlier candidates keeps them.
        let mut c = vec![0u16; 8 + 4];
        let n = collect(0b101, 0, &mut c, 0);
        let n = collect(0b11, 64, &mut c, n);
        assert_eq!(&c[..n], &[0, 2, 64, 65]);
    }
}
