//! `ledger verify|tail`, `migrate`, `export`, `import`.

use super::site::is_postgres_url;
use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use einvoice_store::Store;
use einvoice_store_postgres::{PgOptions, PgStore};
use einvoice_store_sqlite::SqliteStore;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `einvoice ledger …`
#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Walk the hash chain and report the first broken link.
    Verify {
        /// Data directory (SQLite).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// PostgreSQL instead of the data directory: `postgres://…` or `host=… dbname=…`.
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
        /// PostgreSQL instead of the data directory: `postgres://…` or `host=… dbname=…`.
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
    /// PostgreSQL instead of the data directory: `postgres://…` or `host=… dbname=…`.
    #[arg(long)]
    pub database: Option<String>,
}

/// `einvoice export`
#[derive(Args)]
pub struct ExportArgs {
    /// Data directory (SQLite).
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// PostgreSQL instead of the data directory: `postgres://…` or `host=… dbname=…`.
    #[arg(long)]
    pub database: Option<String>,
    /// The site id recorded in the header (the `site` of its configuration);
    /// by default the ledger's only origin, or `main`.
    #[arg(long)]
    pub site: Option<String>,
    /// Output file (JSON Lines, written 0600 and atomically).
    #[arg(long)]
    pub out: PathBuf,
}

/// `einvoice import`
#[derive(Args)]
pub struct ImportArgs {
    /// Data directory (SQLite).
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// PostgreSQL instead of the data directory: `postgres://…` or `host=… dbname=…`.
    #[arg(long)]
    pub database: Option<String>,
    /// Export file to read.
    #[arg(long = "in")]
    pub input: PathBuf,
}

/// Open the SQLite store of a data directory (`DIR/einvoice.db`). Commands
/// that also accept `--database` go through [`open_store`].
pub fn open_sqlite(
    data: &Path,
    database: &Option<String>,
    site: &str,
) -> anyhow::Result<SqliteStore> {
    if database.is_some() {
        bail!("this command works on a SQLite data directory only (--data); drop --database");
    }
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    SqliteStore::open(&data.join("einvoice.db"), site).map_err(|e| anyhow!("{e}"))
}

/// A store of either backend (the trait is not object safe: its methods
/// return `impl Future`), dispatched with [`with_store!`].
pub enum AnyStore {
    /// SQLite in a data directory.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Pg(PgStore),
}

/// Run `$body` with `$v` bound to the concrete store inside an [`AnyStore`].
macro_rules! with_store {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            AnyStore::Sqlite($v) => $body,
            AnyStore::Pg($v) => $body,
        }
    };
}

/// How [`open_store`] treats the target.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Read an existing store: the SQLite file must exist; PostgreSQL is not migrated.
    Existing,
    /// Create (SQLite) or migrate (PostgreSQL) the schema if needed.
    Create,
}

/// Open the store named by `--database URL` (PostgreSQL) or else `--data DIR`
/// (SQLite, `DIR/einvoice.db`), as site `site`.
pub async fn open_store(
    data: &Path,
    database: &Option<String>,
    site: &str,
    how: Open,
) -> anyhow::Result<AnyStore> {
    match database {
        // postgres://… or a libpq key=value string (`host=/run/postgresql dbname=einvoice`).
        Some(url) if is_postgres_url(url) || url.contains('=') => {
            let mut opts = PgOptions::new(url, site);
            opts.migrate = how == Open::Create;
            Ok(AnyStore::Pg(
                PgStore::connect_with(opts)
                    .await
                    .map_err(|e| anyhow!("{e}"))?,
            ))
        }
        Some(other) => bail!(
            "DATABASE_URL: {other:?} is neither a postgres:// URL nor a key=value connection string (leave --database out for SQLite in the data directory)"
        ),
        None => {
            let file = data.join("einvoice.db");
            if how == Open::Existing && !file.exists() {
                bail!(
                    "STORE_NOT_FOUND: {} does not exist (wrong --data?)",
                    file.display()
                );
            }
            open_sqlite(data, &None, site).map(AnyStore::Sqlite)
        }
    }
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
        } => runtime()?.block_on(async move {
            let store = open_store(&data, &database, &origin, Open::Existing).await?;
            let verdict = with_store!(&store, s => s.verify_ledger(&origin).await)
                .map_err(|e| anyhow!("{e}"))?;
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
        }),
        LedgerCommand::Tail {
            data,
            database,
            origin,
            after,
            follow,
        } => runtime()?.block_on(async move {
            let store = open_store(&data, &database, &origin, Open::Existing).await?;
            with_store!(&store, s => tail(s, &origin, after, follow).await)
        }),
    }
}

/// Print `origin`'s entries after `after` as JSON lines; with `follow`, keep polling.
async fn tail<S: Store>(
    store: &S,
    origin: &str,
    after: u64,
    follow: bool,
) -> anyhow::Result<ExitCode> {
    let mut cursor = after;
    loop {
        let batch = store
            .entries(origin, cursor, 1000)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        {
            let mut out = std::io::stdout().lock();
            for e in &batch {
                writeln!(out, "{}", serde_json::to_string(e)?)?;
                cursor = e.seq;
            }
            out.flush()?;
        }
        if batch.is_empty() {
            if !follow {
                return Ok(ExitCode::SUCCESS);
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// Run `migrate`: create or upgrade the schema.
pub fn migrate(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        match open_store(&a.data, &a.database, "main", Open::Create).await? {
            AnyStore::Sqlite(_) => println!(
                "schema of {} is current",
                a.data.join("einvoice.db").display()
            ),
            AnyStore::Pg(s) => println!(
                "PostgreSQL schema is current (version {})",
                s.schema_version().await.map_err(|e| anyhow!("{e}"))?
            ),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Run `export`: the whole site to one file (see [`super::io`]).
pub fn export(a: ExportArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let site = a.site.as_deref().unwrap_or("main");
        let store = open_store(&a.data, &a.database, site, Open::Existing).await?;
        with_store!(&store, s => super::io::export(s, a.site.as_deref(), &a.out).await)
    })
}

/// Run `import`: an export file into an empty store, then verify it.
pub fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let file = super::io::read_file(&a.input)?;
    if let Err(m) = super::io::check_file(&file) {
        eprintln!(
            "import: {} is corrupt: origin {}, entry {}: {}; nothing imported",
            a.input.display(),
            m.origin,
            m.seq,
            m.what
        );
        return Ok(ExitCode::from(1));
    }
    runtime()?.block_on(async move {
        let site = file.header.site.clone();
        let store = open_store(&a.data, &a.database, &site, Open::Create).await?;
        with_store!(&store, s => super::io::import(s, file).await)
    })
}
