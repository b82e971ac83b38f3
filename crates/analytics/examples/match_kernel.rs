//! Quick timing of the regular-prize match against a sequential read:
//! `cargo run --release -p einvoice-analytics --example match_kernel -- N`.
use einvoice_analytics::bench::synthetic_column;
use einvoice_analytics::match_prizes;
use einvoice_core::{Period, WinningNumbers};
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000_000);
    let col = synthetic_column(n, 0x5EED);
    let w = WinningNumbers::parse(
        Period::parse("10802").expect("p"),
        "00106725",
        "90819218",
        &["13440631", "26650552", "09775722"],
        &["809", "264"],
    )
    .expect("w");
    for _ in 0..5 {
        let t = Instant::now();
        let s: u64 = std::thread::scope(|sc| {
            let hs: Vec<_> = col
                .chunks(n.div_ceil(2))
                .map(|c| sc.spawn(move || c.iter().map(|&x| u64::from(x)).sum::<u64>()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        let read = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let hits = match_prizes(&col, &w, 2);
        let m = t.elapsed().as_secs_f64();
        println!(
            "read {read:.4} s  match {m:.4} s  ratio {:.2}  hits {} ({s})",
            m / read,
            hits.len()
        );
    }
}
