//! The verifiable cloud-invoice prize draw (雲端發票專屬獎).
//!
//! Commit–reveal: after the snapshot root is published the operator draws a
//! 32-byte [`Seed`] and publishes [`seed_commitment`]`(root, seed)`; the seed is
//! revealed with the results. Winners are a pure function of (seed, snapshot
//! root, draw parameters — period, the period's regular winning numbers, the
//! tiers and their counts, the eligibility rule): a ChaCha20 keystream
//! ([`Prf`]) keyed by [`prf_key`] drives a partial Fisher–Yates shuffle over the
//! positions of the cloud-eligible rows ([`sample`]); the first `c₁` picks win
//! the first tier, the next `c₂` the second, and so on. `docs/DRAW.md` gives
//! the byte-exact definition.

use crate::error::{Error, Result};
use crate::snapshot::{FLAG_PRINTED, NONE, Snapshot, hex, parse_hex32};
use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use einvoice_core::WinningNumbers;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Domain tag of the seed commitment.
pub const COMMIT_TAG: &[u8] = b"einvoice-draw-v1/commit\0";
/// Domain tag of the PRF key.
pub const KEY_TAG: &[u8] = b"einvoice-draw-v1/key\0";
/// Domain tag of the canonical draw parameters.
pub const PARAMS_TAG: &[u8] = b"einvoice-draw-v1/params\0";

/// The operator's secret 32-byte seed.
#[derive(Clone, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(..)")
    }
}

impl Seed {
    /// A fresh seed from the operating system's CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| Error::Input(format!("no system randomness: {e}")))?;
        Ok(Self(b))
    }
    /// Parse 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<Self> {
        parse_hex32(s)
            .map(Self)
            .ok_or_else(|| Error::Input("a seed is 64 hex digits".into()))
    }
    /// The seed as 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

/// `SHA-256(COMMIT_TAG ‖ root ‖ seed)`: binds the seed to one snapshot and hides it.
pub fn seed_commitment(root: &[u8; 32], seed: &Seed) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(COMMIT_TAG);
    h.update(root);
    h.update(seed.0);
    h.finalize().into()
}

/// One cloud-prize tier: amount per winner and number of winners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tier {
    /// NT$ per winner.
    pub amount: i64,
    /// Winners drawn.
    pub count: u64,
}

/// Everything besides seed and snapshot that decides the cloud winners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawParams {
    /// Period key, e.g. 11312.
    pub period: u32,
    /// The period's regular winning numbers (drawn in public after the
    /// commitment, so the operator cannot grind seeds against them).
    pub numbers: WinningNumbers,
    /// Cloud tiers, highest amount first.
    pub tiers: Vec<Tier>,
    /// Whether donated, unprinted invoices without a carrier take part.
    pub include_donated: bool,
}

impl DrawParams {
    /// Check the tiers (strictly decreasing positive amounts).
    pub fn check(&self) -> Result<()> {
        if self.tiers.iter().any(|t| t.amount <= 0)
            || self.tiers.windows(2).any(|w| w[0].amount <= w[1].amount)
        {
            return Err(Error::Input(
                "cloud tiers need positive amounts, highest first, all different".into(),
            ));
        }
        Ok(())
    }

    /// The canonical bytes hashed into the PRF key (see `docs/DRAW.md`).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut b = PARAMS_TAG.to_vec();
        let w = &self.numbers;
        b.extend_from_slice(&self.period.to_le_bytes());
        b.extend_from_slice(&w.special.to_le_bytes());
        b.extend_from_slice(&w.grand.to_le_bytes());
        b.extend_from_slice(&(w.first.len() as u32).to_le_bytes());
        for f in &w.first {
            b.extend_from_slice(&f.to_le_bytes());
        }
        b.extend_from_slice(&(w.additional_sixth.len() as u32).to_le_bytes());
        for a in &w.additional_sixth {
            b.extend_from_slice(&a.to_le_bytes());
        }
        b.push(u8::from(self.include_donated));
        b.extend_from_slice(&(self.tiers.len() as u32).to_le_bytes());
        for t in &self.tiers {
            b.extend_from_slice(&t.amount.to_le_bytes());
            b.extend_from_slice(&t.count.to_le_bytes());
        }
        b
    }
}

/// `SHA-256(KEY_TAG ‖ seed ‖ root ‖ SHA-256(params))`: the ChaCha20 key.
pub fn prf_key(seed: &Seed, root: &[u8; 32], params: &DrawParams) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(KEY_TAG);
    h.update(seed.0);
    h.update(root);
    h.update(Sha256::digest(params.canonical_bytes()));
    h.finalize().into()
}

/// The draw's pseudo-random function: the RFC 8439 ChaCha20 keystream (key =
/// [`prf_key`], 12-byte zero nonce, block counter from 0) read as successive
/// little-endian `u64`s.
pub struct Prf {
    cipher: ChaCha20,
    buf: Box<[u8; 4096]>,
    pos: usize,
}

impl Prf {
    /// Start the keystream.
    pub fn new(key: &[u8; 32]) -> Self {
        let nonce = [0u8; 12];
        Self {
            cipher: ChaCha20::new(&(*key).into(), &nonce.into()),
            buf: Box::new([0u8; 4096]),
            pos: 4096,
        }
    }

    /// The next 8 keystream bytes as a little-endian `u64`.
    pub fn next_u64(&mut self) -> u64 {
        if self.pos == self.buf.len() {
            self.buf.fill(0);
            self.cipher.apply_keystream(&mut self.buf[..]);
            self.pos = 0;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buf[self.pos..self.pos + 8]);
        self.pos += 8;
        u64::from_le_bytes(b)
    }

    /// Uniform in `0..n` (`n ≥ 1`) by rejection: with `t = 2⁶⁴ mod n`, draw
    /// `x` until `x ≥ t`, answer `x mod n`.
    pub fn below(&mut self, n: u64) -> u64 {
        let n = n.max(1);
        let t = n.wrapping_neg() % n;
        loop {
            let x = self.next_u64();
            if x >= t {
                return x % n;
            }
        }
    }
}

/// splitmix64's finaliser as a hasher for the sparse shuffle map (keys are
/// integers; no adversary chooses them).
#[derive(Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

/// The first `k` steps of a forward Fisher–Yates shuffle of `0..m` (virtual
/// array `A[i] = i`): at step `i`, `j = i + below(m − i)`, the pick is `A[j]`,
/// then `A[j] ← A[i]`. Returns the `min(k, m)` picks in order — distinct,
/// uniformly random. Memory grows with `k`, not `m`.
pub fn sample(prf: &mut Prf, m: u64, k: u64) -> Vec<u64> {
    let k = k.min(m);
    let mut moved: HashMap<u64, u64, BuildHasherDefault<Mix>> =
        HashMap::with_capacity_and_hasher((k as usize).min(1 << 24), Default::default());
    let mut out = Vec::with_capacity(k as usize);
    for i in 0..k {
        let j = i + prf.below(m - i);
        let ai = moved.remove(&i).unwrap_or(i);
        let aj = if j == i {
            ai
        } else {
            let aj = moved.get(&j).copied().unwrap_or(j);
            moved.insert(j, ai);
            aj
        };
        out.push(aj);
    }
    out
}

/// Whether a row takes part in the cloud draw: not printed, and on a carrier
/// (or donated, when `include_donated`).
#[inline]
pub fn is_cloud(flags: u8, carrier: u32, npo: u32, include_donated: bool) -> bool {
    flags & FLAG_PRINTED == 0 && (carrier != NONE || (include_donated && npo != NONE))
}

/// The cloud-eligible rows of a snapshot as a bitmap (bit `r` of word `r/64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Population {
    words: Vec<u64>,
    rows: u64,
    count: u64,
}

impl Population {
    /// From a bitmap over `rows` rows (bits past `rows` must be clear).
    pub fn from_words(words: Vec<u64>, rows: u64) -> Self {
        let count = words.iter().map(|w| u64::from(w.count_ones())).sum();
        Self { words, rows, count }
    }

    /// From one flag per row.
    pub fn from_bools(bits: impl IntoIterator<Item = bool>) -> Self {
        let (mut words, mut rows) = (Vec::new(), 0u64);
        for b in bits {
            if rows.is_multiple_of(64) {
                words.push(0);
            }
            if b && let Some(w) = words.last_mut() {
                *w |= 1 << (rows % 64);
            }
            rows += 1;
        }
        Self::from_words(words, rows)
    }

    /// Read a snapshot's flags, carrier and love-code columns on `threads` threads.
    pub fn from_snapshot(s: &Snapshot, threads: usize, include_donated: bool) -> Result<Self> {
        let parts = s.map_leaves(threads, false, |l| {
            let mut words = vec![0u64; l.rows().div_ceil(64)];
            for j in 0..l.rows() {
                if is_cloud(l.flags(j), l.carrier(j), l.npo(j), include_donated) {
                    words[j / 64] |= 1 << (j % 64);
                }
            }
            Ok(words)
        })?;
        Ok(Self::from_words(parts.concat(), s.rows()))
    }

    /// Eligible rows (the population size `M`).
    pub fn len(&self) -> u64 {
        self.count
    }
    /// Whether no row is eligible.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Rows covered.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The row of each position (the `p`-th eligible row in row order, from 0),
    /// answered in the order asked; positions must be below [`Self::len`].
    pub fn rows_of(&self, positions: &[u64]) -> Vec<u64> {
        let mut order: Vec<(u64, usize)> =
            positions.iter().enumerate().map(|(i, &p)| (p, i)).collect();
        order.sort_unstable();
        let mut out = vec![u64::MAX; positions.len()];
        let (mut seen, mut w) = (0u64, 0usize);
        for (p, i) in order {
            while w < self.words.len() {
                let c = u64::from(self.words[w].count_ones());
                if seen + c > p {
                    break;
                }
                seen += c;
                w += 1;
            }
            let Some(&word) = self.words.get(w) else {
                break;
            };
            let mut bits = word;
            for _ in 0..(p - seen) {
                bits &= bits - 1;
            }
            out[i] = w as u64 * 64 + u64::from(bits.trailing_zeros());
        }
        out
    }
}

/// One cloud winner: the row and the tier (index into the tiers) it won.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloudWin {
    /// Snapshot row.
    pub row: u64,
    /// Tier index, 0 = highest.
    pub tier: usize,
}

/// Draw every tier from `population` with the keystream of `key`, in draw
/// order. If the population is smaller than the tiers' total, the lowest
/// tiers come up short.
pub fn draw(key: &[u8; 32], population: &Population, tiers: &[Tier]) -> Vec<CloudWin> {
    let total: u64 = tiers.iter().map(|t| t.count).sum();
    let mut prf = Prf::new(key);
    let picks = sample(&mut prf, population.len(), total);
    let rows = population.rows_of(&picks);
    let mut tier_of = tiers
        .iter()
        .enumerate()
        .flat_map(|(i, t)| std::iter::repeat_n(i, t.count as usize));
    rows.into_iter()
        .filter_map(|row| tier_of.next().map(|tier| CloudWin { row, tier }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8439_keystream() {
        // RFC 8439 appendix A.1, test vector #1: zero key, zero nonce, counter 0.
        let ks = "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
                  da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586";
        let mut prf = Prf::new(&[0u8; 32]);
        let got: Vec<u8> = (0..8).flat_map(|_| prf.next_u64().to_le_bytes()).collect();
        assert_eq!(hex(&got), ks.replace(' ', ""));
    }

    #[test]
    fn sample_is_a_permutation_prefix() {
        let mut prf = Prf::new(&[1u8; 32]);
        let mut s = sample(&mut prf, 100, 100);
        s.sort_unstable();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        let mut prf = Prf::new(&[1u8; 32]);
        assert_eq!(sample(&mut prf, 5, 10).len(), 5);
    }

    #[test]
    fn rows_of_selects() {
        let bits: Vec<bool> = (0..1000).map(|i| i % 3 == 0 || i == 999).collect();
        let p = Population::from_bools(bits.iter().copied());
        let rows: Vec<u64> = (0..1000u64).filter(|&i| bits[i as usize]).collect();
        assert_eq!(p.len(), rows.len() as u64);
        let asked = [5u64, 0, 333, 100, 5];
        let got = p.rows_of(&asked);
        for (a, g) in asked.iter().zip(got) {
            assert_eq!(rows[*a as usize], g);
        }
    }
}
