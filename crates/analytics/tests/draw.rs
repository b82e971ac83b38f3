//! The draw end to end: regular winners against a brute-force reference on
//! real past winning numbers, report totals, commit–reveal, byte-identical
//! re-runs, and properties of the cloud draw.

use einvoice_analytics::cloud::{self, Population, Seed, Tier};
use einvoice_analytics::draw::{self, DrawSpec, Event, Winner};
use einvoice_analytics::snapshot::{EligibleInvoice, Snapshot, SnapshotWriter};
use einvoice_analytics::{Error, synth};
use einvoice_core::{Period, Prize, PrizeTable, WinningNumbers};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

fn quiet(_: Event<'_>) {}

fn fixtures() -> Option<serde_json::Value> {
    let base = std::env::var_os("EINVOICE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    match std::fs::read(base.join("winning-numbers.json")) {
        Ok(b) => Some(serde_json::from_slice(&b).expect("json")),
        Err(_) => {
            eprintln!(
                "skipped: fixtures not found at {}; set EINVOICE_FIXTURES",
                base.display()
            );
            None
        }
    }
}

/// Period 10802's published numbers (also in the fixtures).
fn p10802() -> WinningNumbers {
    WinningNumbers::parse(
        Period::parse("10802").expect("p"),
        "00106725",
        "90819218",
        &["13440631", "26650552", "09775722"],
        &["809", "264"],
    )
    .expect("numbers")
}

/// Brute force over decimal strings, highest prize first.
fn reference(w: &WinningNumbers, n: u32) -> Option<Prize> {
    let s = format!("{n:08}");
    if s == format!("{:08}", w.special) {
        return Some(Prize::Special);
    }
    if s == format!("{:08}", w.grand) {
        return Some(Prize::Grand);
    }
    for (p, k) in [
        (Prize::First, 8),
        (Prize::Second, 7),
        (Prize::Third, 6),
        (Prize::Fourth, 5),
        (Prize::Fifth, 4),
        (Prize::Sixth, 3),
    ] {
        if w.first
            .iter()
            .any(|f| format!("{f:08}")[8 - k..] == s[8 - k..])
        {
            return Some(p);
        }
    }
    w.additional_sixth
        .iter()
        .any(|a| format!("{a:03}") == s[5..])
        .then_some(Prize::AdditionalSixth)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `n` invoices around the numbers of `w`: every 20th shares a random-length
/// suffix with a first-prize number; the special and grand numbers are in.
fn invoices_near(w: &WinningNumbers, n: usize, seed: u64) -> Vec<EligibleInvoice> {
    let mut rng = Rng(seed | 1);
    let mut keys = BTreeSet::new();
    keys.insert((*b"AA", w.special));
    keys.insert((*b"AB", w.grand));
    for i in 0..n {
        let r = (rng.next() % 100_000_000) as u32;
        let d = if i % 20 == 0 {
            let f = w.first[i / 20 % w.first.len()];
            let m = 10u32.pow(1 + (rng.next() % 8) as u32);
            (r / m) * m + f % m
        } else {
            r
        };
        let t = (rng.next() % 676) as u16;
        keys.insert(([b'A' + (t / 26) as u8, b'A' + (t % 26) as u8], d));
    }
    keys.into_iter()
        .map(|(track, number)| {
            let k = rng.next() % 10;
            EligibleInvoice {
                track,
                number,
                seller_ubn: 10_000_000 + (rng.next() % 50) as u32,
                carrier: (k < 6).then(|| format!("3J0002:/C{:06}", rng.next() % 500)),
                npo: (k == 6).then(|| format!("{}", 100 + rng.next() % 5)),
                printed: k > 6,
            }
        })
        .collect()
}

fn write_snapshot(path: &Path, period: u32, rpl: u32, rows: &[EligibleInvoice]) -> [u8; 32] {
    let f = File::create(path).expect("create");
    let mut w = SnapshotWriter::new(BufWriter::new(f), period, rpl).expect("writer");
    w.extend(rows).expect("rows");
    w.finish().expect("finish").root
}

fn small_table() -> PrizeTable {
    let mut t = PrizeTable::standard_2025();
    for (c, n) in t.cloud.iter_mut().zip([2, 10, 30, 200]) {
        c.count = n;
    }
    t
}

fn spec(w: WinningNumbers, seed: u8) -> DrawSpec {
    DrawSpec {
        numbers: w,
        table: small_table(),
        seed: Seed([seed; 32]),
        include_donated: true,
    }
}

fn winners(bytes: &[u8]) -> Vec<Winner> {
    std::str::from_utf8(bytes)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("winner"))
        .collect()
}

fn file<'a>(o: &'a draw::Outcome, name: &str) -> &'a [u8] {
    &o.files.iter().find(|f| f.0 == name).expect(name).1
}

#[test]
fn regular_winners_equal_brute_force_on_real_periods() {
    let Some(doc) = fixtures() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let periods = doc["periods"].as_array().expect("periods");
    assert!(periods.len() >= 12);
    let text = serde_json::to_vec(&doc).expect("json");
    for (k, p) in periods.iter().enumerate() {
        let period = Period::parse(p["period"].as_str().expect("period")).expect("period");
        let w = draw::parse_numbers(&text, period).expect("numbers");
        let rows = invoices_near(&w, 6_000, 11 + k as u64);
        let path = dir.path().join(format!("{period}.snap"));
        write_snapshot(&path, period.key(), 1024, &rows);
        let s = Snapshot::open(&path).expect("open");
        let out = draw::compute(&s, &spec(w.clone(), 1), None, 2, &quiet).expect("draw");
        let table = small_table();
        let got: Vec<(u64, String, i64)> = winners(file(&out, "winners.jsonl"))
            .into_iter()
            .filter(|x| !x.prize.starts_with("cloud_"))
            .map(|x| (x.row, x.prize, x.amount))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let want: Vec<(u64, String, i64)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                reference(&w, r.number).map(|p| (i as u64, p.id().to_string(), table.amount(p).0))
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(got, want, "period {period}");
        assert!(got.iter().any(|g| g.1 == "special") && got.iter().any(|g| g.1 == "grand"));
    }
}

#[test]
fn report_totals_are_sums_over_winners() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = p10802();
    let rows = invoices_near(&w, 20_000, 5);
    let path = dir.path().join("s.snap");
    write_snapshot(&path, 10802, 4096, &rows);
    let s = Snapshot::open(&path).expect("open");
    let out = draw::compute(&s, &spec(w, 9), None, 2, &quiet).expect("draw");
    let ws = winners(file(&out, "winners.jsonl"));
    let r: draw::Report = serde_json::from_slice(file(&out, "report.json")).expect("report");
    assert_eq!(r, out.report);
    assert_eq!(r.winners, ws.len() as u64);
    assert_eq!(r.total_amount, ws.iter().map(|x| x.amount).sum::<i64>());
    assert_eq!(r.payable_amount, ws.iter().map(|x| x.payable).sum::<i64>());
    assert_eq!(
        r.total_amount,
        r.prizes.iter().map(|p| p.total).sum::<i64>()
    );
    let mut per: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    for x in &ws {
        let e = per.entry(&x.prize).or_default();
        e.0 += 1;
        e.1 += x.amount;
    }
    for p in &r.prizes {
        let (c, t) = per.get(p.prize.as_str()).copied().unwrap_or_default();
        assert_eq!((p.count, p.total), (c, t), "{}", p.prize);
        assert_eq!(p.total, p.amount * p.count as i64);
        if let Some(sets) = p.sets {
            assert_eq!(p.count, sets, "population is large enough");
        }
    }
    // one payable line per winning invoice, its highest amount
    let mut best: BTreeMap<u64, i64> = BTreeMap::new();
    for x in &ws {
        let b = best.entry(x.row).or_default();
        *b = (*b).max(x.amount);
    }
    assert_eq!(r.payable_amount, best.values().sum::<i64>());
    // cloud winners are unprinted, on a carrier or donated
    for x in ws.iter().filter(|x| x.prize.starts_with("cloud_")) {
        let row = &rows[x.row as usize];
        assert!(!row.printed && (row.carrier.is_some() || row.npo.is_some()));
        assert_eq!(x.carrier, row.carrier);
        assert_eq!(x.npo, row.npo);
        assert_eq!(
            x.invoice_number,
            format!("{}{:08}", String::from_utf8_lossy(&row.track), row.number)
        );
    }
}

#[test]
fn rerun_is_byte_identical_and_verify_names_the_first_difference() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = p10802();
    let rows = invoices_near(&w, 5_000, 8);
    let path = dir.path().join("s.snap");
    let root = write_snapshot(&path, 10802, 512, &rows);
    let s = Snapshot::open(&path).expect("open");
    let sp = spec(w, 3);
    let commit = cloud::seed_commitment(&root, &sp.seed);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o1 = draw::compute(&s, &sp, Some(commit), 1, &quiet).expect("draw 1");
    draw::write_dir(&a, &o1).expect("write");
    let o2 = draw::compute(&s, &sp, Some(commit), 2, &quiet).expect("draw 2");
    draw::write_dir(&b, &o2).expect("write");
    draw::write_dir(&b, &o2).expect("write again");
    for name in [
        "winners.csv",
        "winners.jsonl",
        "report.json",
        "manifest.json",
    ] {
        let (x, y) = (
            std::fs::read(a.join(name)).expect("a"),
            std::fs::read(b.join(name)).expect("b"),
        );
        assert!(x == y, "{name} differs between runs");
    }
    draw::verify(&s, &a, Some(commit), 2, &quiet).expect("verifies");
    // tamper with one winner line
    let csv = std::fs::read_to_string(a.join("winners.csv")).expect("csv");
    let mut lines: Vec<&str> = csv.lines().collect();
    let changed = format!("{}9", lines[3]);
    lines[3] = &changed;
    std::fs::write(a.join("winners.csv"), lines.join("\n") + "\n").expect("tamper");
    match draw::verify(&s, &a, Some(commit), 2, &quiet) {
        Err(Error::Mismatch(m)) => assert!(m.contains("winners.csv line 4"), "{m}"),
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn wrong_seed_is_rejected() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = p10802();
    let rows = invoices_near(&w, 2_000, 4);
    let path = dir.path().join("s.snap");
    let root = write_snapshot(&path, 10802, 512, &rows);
    let s = Snapshot::open(&path).expect("open");
    let good = spec(w.clone(), 1);
    let commit = cloud::seed_commitment(&root, &good.seed);
    // run: a seed that does not open the published commitment
    let bad = spec(w, 2);
    assert!(matches!(
        draw::compute(&s, &bad, Some(commit), 1, &quiet),
        Err(Error::Commitment(_))
    ));
    // verify: a manifest whose revealed seed was swapped
    let out = dir.path().join("d");
    draw::write_dir(
        &out,
        &draw::compute(&s, &good, Some(commit), 1, &quiet).expect("d"),
    )
    .expect("write");
    let m = std::fs::read_to_string(out.join("manifest.json")).expect("m");
    let swapped = m.replace(&good.seed.to_hex(), &Seed([2; 32]).to_hex());
    assert_ne!(m, swapped);
    std::fs::write(out.join("manifest.json"), swapped).expect("w");
    assert!(matches!(
        draw::verify(&s, &out, None, 1, &quiet),
        Err(Error::Commitment(_))
    ));
    // verify against a different published commitment
    std::fs::write(out.join("manifest.json"), m).expect("w");
    assert!(matches!(
        draw::verify(&s, &out, Some([0; 32]), 1, &quiet),
        Err(Error::Commitment(_))
    ));
    draw::verify(&s, &out, Some(commit), 1, &quiet).expect("the right one verifies");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Same key ⇒ same winners, whatever the leaf size and thread count;
    /// exactly min(total, M) distinct eligible rows, tiers filled in order.
    #[test]
    fn cloud_draw_is_deterministic_exact_and_chunking_independent(
        n in 0usize..3000,
        seed in any::<u64>(),
        key in any::<[u8; 32]>(),
        counts in proptest::collection::vec(0u64..400, 1..4),
        threads in 1usize..4,
    ) {
        let rows: Vec<EligibleInvoice> =
            synth::invoices(n as u64, seed, synth::SynthMix::default()).collect();
        let eligible: Vec<bool> =
            rows.iter().map(|r| !r.printed && (r.carrier.is_some() || r.npo.is_some())).collect();
        let tiers: Vec<Tier> = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| Tier { amount: 1_000_000 / (i as i64 + 1), count: c })
            .collect();
        let reference = cloud::draw(&key, &Population::from_bools(eligible.iter().copied()), &tiers);
        let dir = tempfile::tempdir().expect("tmp");
        for rpl in [64u32, 192, 65_536] {
            let path = dir.path().join(format!("{rpl}.snap"));
            write_snapshot(&path, 11312, rpl, &rows);
            let s = Snapshot::open(&path).expect("open");
            let pop = Population::from_snapshot(&s, threads, true).expect("pop");
            prop_assert_eq!(cloud::draw(&key, &pop, &tiers), reference.clone());
        }
        let m = eligible.iter().filter(|&&e| e).count() as u64;
        let total: u64 = counts.iter().sum();
        prop_assert_eq!(reference.len() as u64, total.min(m));
        let distinct: HashSet<u64> = reference.iter().map(|w| w.row).collect();
        prop_assert_eq!(distinct.len(), reference.len());
        prop_assert!(reference.iter().all(|w| eligible[w.row as usize]));
        prop_assert!(reference.windows(2).all(|p| p[0].tier <= p[1].tier));
        let mut filled = vec![0u64; tiers.len()];
        for w in &reference { filled[w.tier] += 1; }
        let mut left = m;
        for (t, f) in tiers.iter().zip(filled) {
            prop_assert_eq!(f, t.count.min(left));
            left -= f;
        }
        // a different key draws differently (unless there is no choice)
        if m > 20 && total > 5 && total < m {
            let mut other = key;
            other[0] ^= 1;
            prop_assert_ne!(cloud::draw(&other, &Population::from_bools(eligible.iter().copied()), &tiers), reference);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// The vectorised match (1–16 hot suffixes, any thread count, lengths
    /// that leave a remainder after the 64-number blocks) finds exactly the
    /// winners the decimal-string reference finds, in column order.
    #[test]
    fn match_equals_brute_force_for_any_numbers(
        special in 0u32..100_000_000,
        grand in 0u32..100_000_000,
        first in proptest::collection::vec(0u32..100_000_000, 1..=10),
        additional in proptest::collection::vec(0u16..1000, 0..=6),
        seed in any::<u64>(),
        len in 0usize..5000,
        threads in 1usize..5,
    ) {
        let f: Vec<String> = first.iter().map(|v| format!("{v:08}")).collect();
        let a: Vec<String> = additional.iter().map(|v| format!("{v:03}")).collect();
        let fr: Vec<&str> = f.iter().map(String::as_str).collect();
        let ar: Vec<&str> = a.iter().map(String::as_str).collect();
        let w = WinningNumbers::parse(
            Period::parse("11310").expect("p"),
            &format!("{special:08}"),
            &format!("{grand:08}"),
            &fr,
            &ar,
        )
        .expect("numbers");
        // Half the column is near a winning number so every prize occurs.
        let mut rng = Rng(seed);
        let column: Vec<u32> = (0..len)
            .map(|i| {
                let r = rng.next();
                if i % 2 == 0 {
                    (r % 100_000_000) as u32
                } else {
                    let base = match r % 4 {
                        0 => special,
                        1 => grand,
                        _ => first[(r as usize / 4) % first.len()],
                    };
                    let keep = 10u32.pow(((r >> 8) % 9) as u32);
                    let noise = ((r >> 16) % 100_000_000) as u32;
                    (noise / keep) * keep + base % keep
                }
            })
            .collect();
        let expected: Vec<(u64, Prize)> = column
            .iter()
            .enumerate()
            .filter_map(|(i, &d)| reference(&w, d).map(|p| (i as u64, p)))
            .collect();
        let hot = einvoice_analytics::HotColumn::from_digits(column.clone()).expect("8 digits");
        let got: Vec<(u64, Prize)> = einvoice_analytics::match_prizes(&hot, &w, threads)
            .iter()
            .map(|h| (h.index, h.prize))
            .collect();
        prop_assert_eq!(got, expected);
    }
}
