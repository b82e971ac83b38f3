//! Synthetic eligible invoices, sorted as a snapshot wants them, for tests,
//! `draw synth` and benchmarks. Deterministic for a given seed.

use crate::snapshot::{EligibleInvoice, track_letters};

/// Shares of the synthetic population.
#[derive(Debug, Clone, Copy)]
pub struct SynthMix {
    /// Per mille of invoices on a carrier, not printed (MOF: ~64 % in 2025).
    pub carrier_permille: u64,
    /// Per mille donated (no carrier, not printed).
    pub donated_permille: u64,
}

impl Default for SynthMix {
    fn default() -> Self {
        Self {
            carrier_permille: 600,
            donated_permille: 20,
        }
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const BARCODE: &[u8; 39] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.+-";

/// A mobile-barcode carrier text (`3J0002:/XXXXXXX`) for pool index `i`.
pub fn carrier_text(i: u64) -> String {
    let mut s = String::from("3J0002:/");
    let mut x = i.wrapping_mul(0x9E37_79B9) % 39u64.pow(7);
    for _ in 0..7 {
        s.push(char::from(BARCODE[(x % 39) as usize]));
        x /= 39;
    }
    s
}

/// `n` invoices with strictly increasing (track, number), spread over all
/// 676 tracks, carriers drawn from a pool of `max(1, min(n/50, 5,000,000))`,
/// 1,000 love codes and 100,000 sellers.
pub fn invoices(n: u64, seed: u64, mix: SynthMix) -> impl Iterator<Item = EligibleInvoice> {
    let space: u64 = 676 * 100_000_000;
    // mean gap: half the space per invoice, so the last one lands near the middle
    let avg = (space / n.max(1) / 2).max(1);
    let carriers = (n / 50).clamp(1, 5_000_000);
    let mut rng = XorShift(seed | 1);
    let mut pos = 0u64;
    (0..n.min(space)).map(move |_| {
        let r = rng.next();
        // gap in 1..=2·avg−1 (mean avg), never past the space
        let gap = if avg > 1 { 1 + r % (2 * avg - 1) } else { 1 };
        pos = (pos + gap).min(space - 1); // never reached for n ≤ 33.8 e9
        let r2 = rng.next();
        let kind = r2 % 1000;
        let (carrier, npo, printed) = if kind < mix.carrier_permille {
            (Some(carrier_text((r2 >> 10) % carriers)), None, false)
        } else if kind < mix.carrier_permille + mix.donated_permille {
            (None, Some(format!("{}", 1000 + (r2 >> 10) % 1000)), false)
        } else {
            (None, None, true)
        };
        let seller = 10_000_000 + ((r2 >> 40) % 100_000) * 797;
        EligibleInvoice {
            track: track_letters((pos / 100_000_000) as u16).unwrap_or(*b"ZZ"),
            number: (pos % 100_000_000) as u32,
            seller_ubn: seller as u32,
            carrier,
            npo,
            printed,
        }
    })
}
