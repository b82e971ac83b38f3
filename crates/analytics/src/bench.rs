//! `einvoice bench draw`: the regular-prize match over N synthetic invoice
//! numbers, next to a plain sequential read of the same bytes in the same run.

use crate::match_prizes;
use einvoice_core::WinningNumbers;
use serde::Serialize;
use std::hint::black_box;
use std::time::Instant;

/// Figures of one run (medians of the rounds).
#[derive(Debug, Clone, Serialize)]
pub struct DrawBench {
    /// N.
    pub invoices: u64,
    /// Threads used for both measurements.
    pub threads: usize,
    /// Median seconds to match every invoice.
    pub match_s: f64,
    /// Median seconds for a sequential read (sum) of the same column.
    pub seq_read_s: f64,
    /// match_s / seq_read_s (1.0 = at memory bandwidth).
    pub match_vs_read: f64,
    /// Winners found.
    pub winners: u64,
    /// Cloud-prize draw: not built yet.
    pub cloud_draw_s: Option<f64>,
    /// DuckDB comparison: not built yet.
    pub duckdb_s: Option<f64>,
}

/// A column of `n` pseudo-random 8-digit numbers (xorshift; deterministic).
pub fn synthetic_column(n: usize, seed: u64) -> Vec<u32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 100_000_000) as u32
        })
        .collect()
}

fn sum_parallel(column: &[u32], threads: usize) -> u64 {
    let chunk = column.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let hs: Vec<_> = column
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|&x| u64::from(x)).sum::<u64>()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Run `rounds` alternating rounds of match and sequential read.
pub fn run(column: &[u32], w: &WinningNumbers, threads: usize, rounds: usize) -> DrawBench {
    let (mut m, mut r) = (Vec::new(), Vec::new());
    let mut winners = 0;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        black_box(sum_parallel(black_box(column), threads));
        r.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let hits = match_prizes(black_box(column), w, threads);
        m.push(t.elapsed().as_secs_f64());
        winners = hits.len() as u64;
    }
    let (match_s, seq_read_s) = (median(m), median(r));
    DrawBench {
        invoices: column.len() as u64,
        threads,
        match_s,
        seq_read_s,
        match_vs_read: if seq_read_s > 0.0 {
            match_s / seq_read_s
        } else {
            0.0
        },
        winners,
        cloud_draw_s: None,
        duckdb_s: None,
    }
}
