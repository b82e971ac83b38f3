//! Quick timing of the regular-prize match against a sequential read of the
//! same column: `cargo run --release -p einvoice-analytics --example
//! match_kernel -- [N] [THREADS] [ROUNDS]`; prints the median and the best
//! round of each and their ratio.
use einvoice_analytics::bench::synthetic_column;
use einvoice_analytics::match_prizes;
use einvoice_core::{Period, WinningNumbers};
use std::time::Instant;

fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let (n, threads, rounds) = (arg(1, 100_000_000), arg(2, 2).max(1), arg(3, 9).max(1));
    let mut col = synthetic_column(n, 0x5EED);
    if std::env::var_os("NO_CANDIDATES").is_some() {
        // Every row ends in 999, which no winning number below does.
        let words = col.words().iter().map(|&w| (w & !1023) | 999).collect();
        col = einvoice_analytics::HotColumn::from_words(words).expect("words");
    }
    let w = WinningNumbers::parse(
        Period::parse("10802").expect("p"),
        "00106725",
        "90819218",
        &["13440631", "26650552", "09775722"],
        &["809", "264"],
    )
    .expect("w");
    let (mut reads, mut matches) = (Vec::new(), Vec::new());
    let mut hits = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let s: u64 = std::thread::scope(|sc| {
            let hs: Vec<_> = col
                .words()
                .chunks(n.div_ceil(threads).max(1))
                .map(|c| sc.spawn(move || c.iter().map(|&x| u64::from(x)).sum::<u64>()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        std::hint::black_box(s);
        reads.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        hits = match_prizes(&col, &w, threads).len();
        matches.push(t.elapsed().as_secs_f64());
    }
    reads.sort_by(f64::total_cmp);
    matches.sort_by(f64::total_cmp);
    let (rm, mm) = (reads[rounds / 2], matches[rounds / 2]);
    println!(
        "n {n} threads {threads}: read median {rm:.4} s best {:.4} s; match median {mm:.4} s best {:.4} s; ratio median {:.2} best {:.2}; hits {hits}",
        reads[0],
        matches[0],
        mm / rm,
        matches[0] / reads[0]
    );
}
