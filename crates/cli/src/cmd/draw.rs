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
}

/// Run a `draw` command.
pub fn draw(_c: DrawCommand) -> anyhow::Result<ExitCode> {
    Err(not_yet("draw"))
}
/// Run `bench draw`.
pub fn bench_draw(_a: BenchDrawArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("bench draw"))
}
