//! Synthetic winners for benchmarks: a national-size [`WinnersLoad`] shaped
//! like a real draw, and the run facts its `DRAW_WINNERS` entry records.

use einvoice_core::Period;
use einvoice_store::{DrawRunFacts, NewEntry, WinnerRecord, WinnersLoad};

/// A small deterministic generator (xorshift64*), so every run and both
/// backends load the same lines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `lines` synthetic winner lines of `period` in draw order, loaded by
/// `operator:bench`, shaped like a national draw: about 80% sixth prizes
/// (六獎), the rest higher regular prizes and cloud prizes (雲端發票專屬獎);
/// about 75% on mobile barcodes, 5% donated to an NPO, the rest printed; 2%
/// paid nothing (the invoice is paid a higher prize).
pub fn winners_load(period: Period, lines: u64, seed: u64) -> WinnersLoad {
    const PRIZES: [(&str, i64, u64); 6] = [
        ("sixth", 200, 800),
        ("fifth", 1_000, 60),
        ("fourth", 4_000, 20),
        ("cloud_500", 500, 80),
        ("cloud_800", 800, 30),
        ("cloud_2000", 2_000, 10),
    ];
    const BARCODE: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+-.";
    let mut rng = Rng(seed | 1);
    let winners = (0..lines)
        .map(|line| {
            let mut pick = rng.below(1000);
            let (prize, amount) = PRIZES
                .iter()
                .find(|(_, _, share)| {
                    let hit = pick < *share;
                    pick = pick.saturating_sub(*share);
                    hit
                })
                .map_or(("sixth", 200), |(p, a, _)| (*p, *a));
            let track: String = (0..2)
                .map(|_| char::from(b'A' + rng.below(26) as u8))
                .collect();
            let delivery = rng.below(100);
            let (carrier, npo) = match delivery {
                0..75 => {
                    let id: String = (0..7)
                        .map(|_| char::from(BARCODE[rng.below(BARCODE.len() as u64) as usize]))
                        .collect();
                    (Some(format!("3J0002:/{id}")), None)
                }
                75..80 => (None, Some(format!("{}", 100 + rng.below(9_999_900)))),
                _ => (None, None),
            };
            WinnerRecord {
                line,
                invoice_number: format!("{track}{:08}", rng.below(100_000_000)),
                seller: format!("{:08}", rng.below(100_000_000)),
                prize: prize.to_string(),
                amount,
                payable: if rng.below(100) < 2 { 0 } else { amount },
                carrier,
                npo,
            }
        })
        .collect();
    WinnersLoad {
        period,
        actor: "operator:bench".into(),
        winners,
    }
}

/// The `DRAW_WINNERS` entry of a synthetic load, through the store's one
/// builder ([`WinnersLoad::ledger_entry`]). The run facts are placeholders
/// (no snapshot was frozen): root all `00`, commitment all `11`, numbers
/// version 1 approved by `bob` — the values the store's conformance suite
/// uses, so the benchmark's entry is the body it always stored.
pub fn winners_entry(load: &WinnersLoad) -> NewEntry {
    let run = DrawRunFacts {
        snapshot_root: "00".repeat(32),
        commitment: "11".repeat(32),
        numbers_version: 1,
        numbers_approved_by: "bob".into(),
    };
    load.ledger_entry(&run, &load.digest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_lines_are_deterministic_ordered_and_mixed() {
        let p = Period::parse("11410").expect("period");
        let a = winners_load(p, 2_000, 7);
        assert_eq!(a, winners_load(p, 2_000, 7));
        assert!(a.check_lines().is_ok());
        let carriers = a.winners.iter().filter(|w| w.carrier.is_some()).count();
        let donated = a.winners.iter().filter(|w| w.npo.is_some()).count();
        assert!((1_300..1_700).contains(&carriers), "{carriers}");
        assert!((50..150).contains(&donated), "{donated}");
        assert!(
            a.winners
                .iter()
                .all(|w| w.invoice_number.len() == 10 && w.seller.len() == 8)
        );
    }

    #[test]
    fn the_entry_is_the_stores_draw_winners_entry_of_the_load() {
        let p = Period::parse("11410").expect("period");
        let load = winners_load(p, 50, 1);
        let entry = winners_entry(&load);
        assert!(einvoice_store::check_draw_entry(&entry, einvoice_store::DRAW_WINNERS, p).is_ok());
        assert_eq!(entry.actor, "operator:bench");
    }
}
