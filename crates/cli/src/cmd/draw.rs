//! `draw run|verify|report`, `bench draw`.

use super::not_yet;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `einvoice draw …`
#[derive(Subcommand)]
pub enum DrawCommand {
    /// Freeze the period's eligible invoices and find every winner.
    Run {
        /// Period, e.g. 11312.
        #[arg(long)]
        period: String,
    },
    /// Recompute the cloud-invoice winners from a snapshot and a seed.
    Verify {},
    /// Counts and amounts per prize.
    Report {},
}

/// `einvoice bench draw --invoices N [--json]`
#[derive(Args)]
pub struct BenchDrawArgs {
    /// Number of synthetic eligible invoices.
    #[arg(long, default_value_t = 100_000_000)]
    pub invoices: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Threads for the match and the baseline read.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Measurement rounds (medians are printed).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

/// Run a `draw` command.
pub fn draw(_c: DrawCommand) -> anyhow::Result<ExitCode> {
    Err(not_yet("draw"))
}
/// Run `bench draw`: the regular-prize match over N synthetic numbers (the
/// real 10802 winning numbers), next to a sequential read of the same column.
pub fn bench_draw(a: BenchDrawArgs) -> anyhow::Result<ExitCode> {
    let n = usize::try_from(a.invoices)?;
    let gib = a.invoices as f64 * 4.0 / (1u64 << 30) as f64;
    if !a.json {
        eprintln!("generating {n} synthetic invoice numbers ({gib:.1} GiB in memory)…");
    }
    let column = einvoice_analytics::bench::synthetic_column(n, 0x5EED);
    let period =
        einvoice_core::Period::parse("10802").map_err(|v| anyhow::anyhow!("{}", v.message))?;
    // Period 10802's published numbers.
    let w = einvoice_core::WinningNumbers::parse(
        period,
        "00106725",
        "90819218",
        &["13440631", "26650552", "09775722"],
        &["809", "264"],
    )
    .map_err(|v| anyhow::anyhow!("{}", v.message))?;
    let r = einvoice_analytics::bench::run(&column, &w, a.threads, a.rounds);
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "invoices: {}\nregular-prize match: {:.3} s (median of {}), {} winners\nsequential read of the same {:.2} GiB: {:.3} s\nmatch / read: {:.2}\ncloud draw: not built yet\nDuckDB: not built yet",
            r.invoices, r.match_s, a.rounds, r.winners, gib, r.seq_read_s, r.match_vs_read
        );
    }
    Ok(ExitCode::SUCCESS)
}
