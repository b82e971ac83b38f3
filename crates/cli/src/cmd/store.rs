//! `ledger verify|tail`, `migrate`, `export`, `import`.

use super::not_yet;
use anyhow::Context;
use clap::{Args, Subcommand};
use einvoice_store::Store;
use einvoice_store_sqlite::SqliteStore;
use std::io::Write;
use std::path::{Path, PathBuf};
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
        /// The origin (site id) whose chain to walk.
        #[arg(long, default_value = "main")]
        origin: String,
    },
    /// Follow new ledger entries in order.
    Tail {
        /// Data directory (SQLite).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Database URL (postgres://…).
        #[arg(long)]
        database: Option<String>,
        /// The origin (site id) to follow.
        #[arg(long, default_value = "main")]
        origin: String,
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Keep waiting for new entries.
        #[arg(long)]
        follow: bool,
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

/// Open the SQLite store of a data directory (`DIR/einvoice.db`), or refuse a
/// PostgreSQL URL until that backend lands.
pub fn open_sqlite(
    data: &Path,
    database: &Option<String>,
    site: &str,
) -> anyhow::Result<SqliteStore> {
    if database.is_some() {
        return Err(not_yet("--database (the PostgreSQL store)"));
    }
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    SqliteStore::open(&data.join("einvoice.db"), site).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A runtime for the async store API.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Run a `ledger` command.
pub fn ledger(c: LedgerCommand) -> anyhow::Result<ExitCode> {
    match c {
        LedgerCommand::Verify {
            data,
            database,
            origin,
        } => {
            let store = open_sqlite(&data, &database, &origin)?;
            let verdict = runtime()?
                .block_on(store.verify_ledger(&origin))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&verdict)?);
            Ok(match verdict.broken {
                None => ExitCode::SUCCESS,
                Some(b) => {
                    eprintln!(
                        "ledger {origin}: first broken link at entry {}: {} ({})",
                        b.seq, b.code, b.message
                    );
                    ExitCode::from(1)
                }
            })
        }
        LedgerCommand::Tail {
            data,
            database,
            origin,
            after,
            follow,
        } => {
            let store = open_sqlite(&data, &database, &origin)?;
            runtime()?.block_on(async move {
                let mut cursor = after;
                let mut out = std::io::stdout().lock();
                loop {
                    let batch = store
                        .entries(&origin, cursor, 1000)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    for e in &batch {
                        writeln!(out, "{}", serde_json::to_string(e)?)?;
                        cursor = e.seq;
                    }
                    out.flush()?;
                    if batch.is_empty() {
                        if !follow {
                            return Ok(ExitCode::SUCCESS);
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            })
        }
    }
}

/// Run `migrate`: create or upgrade the schema.
pub fn migrate(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    let _store = open_sqlite(&a.data, &a.database, "main")?;
    println!(
        "schema of {} is current",
        a.data.join("einvoice.db").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Run `export`.
pub fn export(_a: ExportArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet(
        "export (needs the verbatim entry apply path shared with site sync)",
    ))
}

/// Run `import`.
pub fn import(_a: ImportArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet(
        "import (needs the verbatim entry apply path shared with site sync)",
    ))
}
