//! Quick timing of the regular-prize match, with every kernel this CPU
//! runs, against a sequential read of the same column: `cargo run --release
//! -p einvoice-analytics --example match_kernel -- [N] [THREADS] [ROUNDS]`.
//! Rounds alternate read and matches; it prints the median and best round of
//! each and their ratio to the read. `NO_CANDIDATES=1` makes every row end
//! in 999, which no winning number below does (the filter alone).
use einvoice_analytics::bench::synthetic_column;
use einvoice_analytics::{Kernel, match_prizes_with};
use einvoice_core::{Period, WinningNumbers};
use std::hint::black_box;
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
    let kernels = Kernel::available();
    let mut reads = Vec::new();
    let mut matches = vec![Vec::new(); kernels.len()];
    let mut hits = vec![0; kernels.len()];
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
        black_box(s);
        reads.push(t.elapsed().as_secs_f64());
        for (k, &kernel) in kernels.iter().enumerate() {
            let t = Instant::now();
            let found = black_box(match_prizes_with(kernel, &col, &w, threads));
            matches[k].push(t.elapsed().as_secs_f64());
            hits[k] = found.len();
            drop(found);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0])
    };
    let (rm, rb) = median(&mut reads);
    println!("n {n} threads {threads} rounds {rounds}: read median {rm:.4} s best {rb:.4} s");
    for (k, kernel) in kernels.iter().enumerate() {
        let (mm, mb) = median(&mut matches[k]);
        println!(
            "  {kernel:?}: match median {mm:.4} s best {mb:.4} s; ratio median {:.2} best {:.2}; hits {}",
            mm / rm,
            mb / rb,
            hits[k]
        );
    }
}
