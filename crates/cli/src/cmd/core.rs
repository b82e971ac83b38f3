//! `validate`, `convert`, `prize`, `bench decode`.

use super::not_yet;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// `einvoice validate [--sandbox] [--json] FILE...`
#[derive(Args)]
pub struct ValidateArgs {
    /// Accept MOF's test identifiers (sandbox mode).
    #[arg(long)]
    pub sandbox: bool,
    /// One JSON object per file and line.
    #[arg(long)]
    pub json: bool,
    /// MIG 4.1 XML or JSON files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `einvoice convert FILE --to xml|json`
#[derive(Args)]
pub struct ConvertArgs {
    /// Input file (XML or JSON).
    pub file: PathBuf,
    /// Output form.
    #[arg(long, value_parser = ["xml", "json"])]
    pub to: String,
}

/// `einvoice prize --period P --numbers FILE [--json] NUMBER...`
#[derive(Args)]
pub struct PrizeArgs {
    /// Period, e.g. 11312.
    #[arg(long)]
    pub period: String,
    /// Winning numbers file (shape of winning-numbers.json).
    #[arg(long)]
    pub numbers: PathBuf,
    /// One JSON object per number and line.
    #[arg(long)]
    pub json: bool,
    /// Invoice numbers (AB12345678).
    #[arg(required = true)]
    pub invoices: Vec<String>,
}

/// `einvoice bench decode`
#[derive(Args)]
pub struct BenchDecodeArgs {
    /// Seconds per measurement round.
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Run `validate`.
pub fn validate(_a: ValidateArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("validate"))
}
/// Run `convert`.
pub fn convert(_a: ConvertArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("convert"))
}
/// Run `prize`.
pub fn prize(_a: PrizeArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("prize"))
}
/// Run `bench decode`.
pub fn bench_decode(_a: BenchDecodeArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("bench decode"))
}
