//! `einvoice bench draw`: the regular-prize match over N synthetic invoice
//! numbers, the cloud-prize draw over their cloud share, a plain sequential
//! read of the same bytes, and (optionally) DuckDB computing the same regular
//! winners from the same numbers written as Parquet — all in the same run.

use crate::cloud::{self, Population, Tier};
use crate::{HotColumn, match_prizes};
use einvoice_core::{PrizeTable, WinningNumbers};
use serde::Serialize;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Figures of one run (medians of the rounds).
#[derive(Debug, Clone, Serialize)]
pub struct DrawBench {
    /// N.
    pub invoices: u64,
    /// Threads used for the match and the read.
    pub threads: usize,
    /// The match kernel this CPU ran (`Portable`, `Avx2`, `Avx512`).
    pub kernel: String,
    /// Median seconds to match every invoice.
    pub match_s: f64,
    /// Median seconds for a sequential read (sum) of the same column.
    pub seq_read_s: f64,
    /// match_s / seq_read_s (1.0 = at memory bandwidth).
    pub match_vs_read: f64,
    /// Regular winners found.
    pub winners: u64,
    /// Median seconds of the cloud draw (key, partial Fisher–Yates over the
    /// eligible positions, positions to rows) for the 2026 tiers.
    pub cloud_draw_s: f64,
    /// Cloud-eligible invoices (the population).
    pub cloud_eligible: u64,
    /// Cloud winners drawn.
    pub cloud_winners: u64,
    /// Seconds DuckDB took to compute the regular winners from Parquet; null
    /// when not measured (see `duckdb_reason`).
    pub duckdb_s: Option<f64>,
    /// Why DuckDB was not measured.
    pub duckdb_reason: Option<String>,
    /// Whether DuckDB found the same winners (count and row sum per prize).
    pub duckdb_same_winners: Option<bool>,
    /// DuckDB version used.
    pub duckdb_version: Option<String>,
}

/// What to run besides the match and the read.
#[derive(Debug, Clone)]
pub struct Options {
    /// Threads for the match and the read.
    pub threads: usize,
    /// Rounds (medians).
    pub rounds: usize,
    /// Per mille of rows in the cloud draw's population.
    pub cloud_permille: u64,
    /// The DuckDB script to run, if any (`$EINVOICE_PYTHON`, default `python3`).
    pub duckdb: Option<PathBuf>,
}

/// A column of `n` pseudo-random 8-digit numbers (xorshift; deterministic),
/// in the match's encoding.
pub fn synthetic_column(n: usize, seed: u64) -> HotColumn {
    let mut s = seed | 1;
    let words = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            HotColumn::encode((s % 100_000_000) as u32)
        })
        .collect();
    HotColumn::from_checked_words(words)
}

/// A population bitmap over `rows` rows with about `permille`/1000 of them set.
pub fn synthetic_population(rows: u64, permille: u64, seed: u64) -> Population {
    let mut s = seed | 1;
    let words = (0..rows.div_ceil(64))
        .map(|w| {
            let mut word = 0u64;
            for b in 0..64 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                if w * 64 + b < rows && s % 1000 < permille {
                    word |= 1 << b;
                }
            }
            word
        })
        .collect();
    Population::from_words(words, rows)
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

/// Run `rounds` alternating rounds of match, sequential read and cloud draw,
/// then DuckDB once if asked.
pub fn run(column: &HotColumn, w: &WinningNumbers, o: &Options) -> DrawBench {
    let population = synthetic_population(column.len() as u64, o.cloud_permille, 0xC10D);
    let tiers: Vec<Tier> = PrizeTable::standard_2026()
        .cloud
        .iter()
        .map(|c| Tier {
            amount: c.amount.0,
            count: c.count,
        })
        .collect();
    let (mut m, mut r, mut c) = (Vec::new(), Vec::new(), Vec::new());
    let mut hits = crate::Hits::default();
    let mut cloud_winners = 0;
    for round in 0..o.rounds.max(1) {
        let t = Instant::now();
        black_box(sum_parallel(black_box(column.words()), o.threads));
        r.push(t.elapsed().as_secs_f64());
        // The previous round's winners are freed outside the timing.
        drop(std::mem::take(&mut hits));
        let t = Instant::now();
        hits = match_prizes(black_box(column), w, o.threads);
        m.push(t.elapsed().as_secs_f64());
        let key = [round as u8; 32];
        let t = Instant::now();
        cloud_winners = black_box(cloud::draw(&key, &population, &tiers)).len() as u64;
        c.push(t.elapsed().as_secs_f64());
    }
    let (match_s, seq_read_s) = (median(m), median(r));
    let mut b = DrawBench {
        invoices: column.len() as u64,
        threads: o.threads,
        kernel: format!("{:?}", crate::Kernel::detect()),
        match_s,
        seq_read_s,
        match_vs_read: if seq_read_s > 0.0 {
            match_s / seq_read_s
        } else {
            0.0
        },
        winners: hits.len() as u64,
        cloud_draw_s: median(c),
        cloud_eligible: population.len(),
        cloud_winners,
        duckdb_s: None,
        duckdb_reason: o
            .duckdb
            .is_none()
            .then(|| "not requested (pass --duckdb)".to_string()),
        duckdb_same_winners: None,
        duckdb_version: None,
    };
    if let Some(script) = &o.duckdb {
        let mut native: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for h in &hits {
            let e = native.entry(h.prize.id().to_string()).or_default();
            e.0 += 1;
            e.1 += h.index;
        }
        match duckdb(script, column, w, o.threads) {
            Ok(d) => {
                b.duckdb_s = Some(d.seconds);
                b.duckdb_same_winners = Some(d.per_prize == native);
                b.duckdb_version = Some(d.version);
            }
            Err(why) => b.duckdb_reason = Some(why),
        }
    }
    b
}

struct DuckResult {
    seconds: f64,
    version: String,
    per_prize: BTreeMap<String, (u64, u64)>,
}

/// Write the column as raw little-endian u32, let the script turn it into
/// Parquet (not timed) and time DuckDB's query over the Parquet file.
fn duckdb(
    script: &Path,
    column: &HotColumn,
    w: &WinningNumbers,
    threads: usize,
) -> Result<DuckResult, String> {
    let python = std::env::var("EINVOICE_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = std::env::temp_dir().join(format!("einvoice-duckdb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let raw = dir.join("numbers.u32");
    let result = (|| {
        {
            use std::io::Write;
            let f = std::fs::File::create(&raw).map_err(|e| e.to_string())?;
            let mut f = std::io::BufWriter::with_capacity(1 << 20, f);
            // DuckDB gets the plain 8 digits.
            for chunk in column.words().chunks(1 << 16) {
                let bytes: Vec<u8> = chunk
                    .iter()
                    .flat_map(|&x| HotColumn::decode(x).to_le_bytes())
                    .collect();
                f.write_all(&bytes).map_err(|e| e.to_string())?;
            }
            f.flush().map_err(|e| e.to_string())?;
        }
        let nums = serde_json::json!({
            "special": w.special, "grand": w.grand, "first": w.first,
            "additional_sixth": w.additional_sixth,
        });
        let out = std::process::Command::new(&python)
            .arg(script)
            .arg(&raw)
            .arg(dir.join("numbers.parquet"))
            .arg(nums.to_string())
            .arg(threads.to_string())
            .output()
            .map_err(|e| format!("cannot run {python}: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err.lines().last().unwrap_or("").trim().to_string();
            return Err(format!("{} failed: {last}", script.display()));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("the DuckDB script's output is not JSON: {e}"))?;
        if let Some(why) = v.get("unavailable").and_then(|x| x.as_str()) {
            return Err(why.to_string());
        }
        let seconds = v["duckdb_s"]
            .as_f64()
            .ok_or("the DuckDB script gave no duckdb_s")?;
        let mut per_prize = BTreeMap::new();
        if let Some(m) = v["per_prize"].as_object() {
            for (k, x) in m {
                per_prize.insert(
                    k.clone(),
                    (
                        x[0].as_u64().unwrap_or(u64::MAX),
                        x[1].as_u64().unwrap_or(u64::MAX),
                    ),
                );
            }
        }
        Ok(DuckResult {
            seconds,
            version: v["version"].as_str().unwrap_or("").to_string(),
            per_prize,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
