//! `ledger verify|tail`, `migrate`, `export`, `import`.

use super::not_yet;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `einvoice ledger …`
#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Walk the hash chain and report the first broken link.
    Verify {
        /// Data directory (SQLite) .
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Database URL (postgres://…) instead of the data directory.
        #[arg(long)]
        database: Option<String>,
    },
    /// Follow new ledger entries in order.
    Tail {
        /// Data directory (SQLite).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Database URL (postgres://…).
        #[arg(long)]
        database: Option<String>,
    },
}

/// `einvoice migrate`
#[derive(Args)]
pub struct MigrateArgs {
    /// Data directory (SQLite).
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Database URL (postgres://…).
    #[arg(long)]
    pub database: Option<String>,
}

/// `einvoice export`
#[derive(Args)]
pub struct ExportArgs {
    /// Data directory (SQLite).
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Database URL (postgres://…).
    #[arg(long)]
    pub database: Option<String>,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
}

/// `einvoice import`
#[derive(Args)]
pub struct ImportArgs {
    /// Data directory (SQLite).
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Database URL (postgres://…).
    #[arg(long)]
    pub database: Option<String>,
    /// Export file to read.
    #[arg(long = "in")]
    pub input: PathBuf,
}

/// Run a `ledger` command.
pub fn ledger(_c: LedgerCommand) -> anyhow::Result<ExitCode> {
    Err(not_yet("ledger"))
}
/// Run `migrate`.
pub fn migrate(_a: MigrateArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("migrate"))
}
/// Run `export`.
pub fn export(_a: ExportArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("export"))
}
/// Run `import`.
pub fn import(_a: ImportArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("import"))
}
