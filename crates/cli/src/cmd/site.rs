//! `serve`, `up`, `demo`, `admin`, `client`, `bench ingest`, `bench query`.

use super::not_yet;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `einvoice serve`
#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML).
    #[arg(long, env = "EINVOICE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `einvoice up [--data DIR] [--listen ADDR]`
#[derive(Args)]
pub struct UpArgs {
    /// Data directory.
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

/// `einvoice demo …`
#[derive(Subcommand)]
pub enum DemoCommand {
    /// Generate synthetic data at any scale.
    Seed {
        /// Data directory.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Number of invoices.
        #[arg(long, default_value_t = 10_000)]
        invoices: u64,
    },
}

/// `einvoice client …`
#[derive(Args)]
pub struct ClientArgs {
    /// Arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// `einvoice bench ingest`
#[derive(Args)]
pub struct BenchIngestArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Database URL (postgres://…); SQLite in a temporary folder when absent.
    #[arg(long)]
    pub database: Option<String>,
}

/// `einvoice bench query`
#[derive(Args)]
pub struct BenchQueryArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Run `serve`.
pub fn serve(_a: ServeArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("serve"))
}
/// Run `up`.
pub fn up(_a: UpArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("up"))
}
/// Run a `demo` command.
pub fn demo(_c: DemoCommand) -> anyhow::Result<ExitCode> {
    Err(not_yet("demo"))
}
/// Run a `client` command.
pub fn client(_a: ClientArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("client"))
}
/// Run `bench ingest`.
pub fn bench_ingest(_a: BenchIngestArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("bench ingest"))
}
/// Run `bench query`.
pub fn bench_query(_a: BenchQueryArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("bench query"))
}
