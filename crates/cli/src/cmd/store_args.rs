//! One way to name and open a site's store, for every command that touches one.
//!
//! - [`StoreArgs`]: the `--data DIR` / `--database URL` flags, flattened into a
//!   command's arguments (`#[command(flatten)] store: StoreArgs`).
//! - [`DatabaseUrl`]: the one rule for what `--database` (and
//!   `EINVOICE_DATABASE`, and the configuration file's `database`) may say:
//!   `postgres://…`, `postgresql://…` or a libpq `key=value` string such as
//!   `host=/run/postgresql dbname=einvoice` mean PostgreSQL; anything else is
//!   refused with `DATABASE_URL`.
//! - [`AnyStore`] and [`with_store!`]: the opened store of either backend, and
//!   a generic body run over the concrete one.
//!
//! A command that needs the store:
//!
//! ```ignore
//! #[derive(Args)]
//! struct FreezeArgs {
//!     #[command(flatten)]
//!     store: StoreArgs,
//!     #[arg(long, default_value = "main")]
//!     site: String,
//! }
//!
//! runtime()?.block_on(async {
//!     let store = a.store.open(&a.site, Open::Create).await?;
//!     with_store!(&store, s => freeze_on(s, period).await)
//! })
//! ```

use anyhow::{Context, anyhow, bail};
use clap::Args;
use einvoice_store_postgres::{PgOptions, PgStore};
use einvoice_store_sqlite::{MigrationEvent, SqliteStore};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where a command finds the site's store: the SQLite file of a data
/// directory (`DIR/einvoice.db`, next to the site's `master.key`), or a
/// PostgreSQL database named by `--database`. Flatten it into a command's
/// arguments with `#[command(flatten)]`.
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// Data directory (SQLite `DIR/einvoice.db`, the master key).
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// PostgreSQL instead of the data directory's SQLite file: `postgres://…`
    /// or `host=… dbname=…`.
    #[arg(long, env = "EINVOICE_DATABASE", value_name = "URL")]
    pub database: Option<DatabaseUrl>,
}

/// A PostgreSQL connection string that passed the one `--database` rule:
/// `postgres://…`, `postgresql://…`, or a libpq `key=value` string
/// (`host=/run/postgresql dbname=einvoice`). It may hold a password, so its
/// `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The connection string as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(..)")
    }
}

/// Why a `--database` value was refused (code `DATABASE_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrlRefused(String);

impl std::fmt::Display for DatabaseUrlRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DATABASE_URL: {:?} is neither a postgres:// URL nor a key=value connection string (leave --database out for SQLite in the data directory)",
            self.0
        )
    }
}

impl std::error::Error for DatabaseUrlRefused {}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlRefused;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_postgres_uri(s) || is_key_value(s) {
            Ok(Self(s.to_string()))
        } else {
            Err(DatabaseUrlRefused(s.to_string()))
        }
    }
}

/// Whether `url` is a PostgreSQL connection URI (`postgres://…` or
/// `postgresql://…`), as opposed to a libpq `key=value` string.
pub fn is_postgres_uri(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Whether `s` is a libpq `key=value` connection string: its first word is a
/// keyword (letters and `_`) followed by `=`.
fn is_key_value(s: &str) -> bool {
    s.split_whitespace().next().is_some_and(|word| {
        word.split_once('=').is_some_and(|(key, _)| {
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_')
        })
    })
}

/// How [`StoreArgs::open`] treats the target.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Open {
    /// Read an existing store: the SQLite file must exist; PostgreSQL is not migrated.
    Existing,
    /// Create (SQLite) or migrate (PostgreSQL) the schema if needed.
    Create,
}

/// A store of either backend (the trait is not object safe: its methods
/// return `impl Future`), dispatched with [`with_store!`].
pub enum AnyStore {
    /// SQLite in a data directory.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Pg(PgStore),
}

impl AnyStore {
    /// What the store is, for people: `PostgreSQL` or `SQLite in DIR`.
    pub fn describe(&self, data: &Path) -> String {
        match self {
            AnyStore::Sqlite(_) => format!("SQLite in {}", data.display()),
            AnyStore::Pg(_) => "PostgreSQL".to_string(),
        }
    }
}

/// Run `$body` with `$v` bound to the concrete store inside an [`AnyStore`]
/// (`with_store!(&store, s => s.verify_ledger("main").await)`; pass the
/// store by value to move it into the body).
macro_rules! with_store {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            $crate::cmd::store_args::AnyStore::Sqlite($v) => $body,
            $crate::cmd::store_args::AnyStore::Pg($v) => $body,
        }
    };
}
pub(crate) use with_store;

impl StoreArgs {
    /// Open the store as site `site`: PostgreSQL when `--database` is given,
    /// else SQLite in the data directory.
    pub async fn open(&self, site: &str, how: Open) -> anyhow::Result<AnyStore> {
        open(&self.data, self.database.as_ref(), site, how).await
    }

    /// The site's master key (`DIR/master.key`), created on first use: it
    /// stays in the data directory whichever backend holds the store.
    pub fn master_key(&self) -> anyhow::Result<[u8; 32]> {
        master_key(&self.data)
    }
}

/// The site's master key in data directory `data` (`DIR/master.key`, 32
/// bytes, 0600), created with the directory on first use.
pub fn master_key(data: &Path) -> anyhow::Result<[u8; 32]> {
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    einvoice_secrets::load_or_create_master_key(data).map_err(|e| anyhow!("{e}"))
}

/// Open the store named by `database` (PostgreSQL) or else the SQLite file of
/// `data` (`DIR/einvoice.db`), as site `site`.
pub async fn open(
    data: &Path,
    database: Option<&DatabaseUrl>,
    site: &str,
    how: Open,
) -> anyhow::Result<AnyStore> {
    match database {
        Some(url) => {
            let mut opts = PgOptions::new(url.as_str(), site);
            opts.migrate = how == Open::Create;
            Ok(AnyStore::Pg(
                PgStore::connect_with(opts)
                    .await
                    .map_err(|e| anyhow!("{e}"))?,
            ))
        }
        None => {
            let file = data.join("einvoice.db");
            if how == Open::Existing && !file.exists() {
                bail!(
                    "STORE_NOT_FOUND: {} does not exist (wrong --data?)",
                    file.display()
                );
            }
            open_sqlite(data, site).map(AnyStore::Sqlite)
        }
    }
}

/// The SQLite store of a data directory (`DIR/einvoice.db`), created with
/// the directory if needed. A migration that rewrote tables is followed by
/// reclaiming their space, with a line on stderr before and after.
fn open_sqlite(data: &Path, site: &str) -> anyhow::Result<SqliteStore> {
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let file = data.join("einvoice.db");
    let mut report = |e: MigrationEvent| match e {
        MigrationEvent::Reclaiming { applied, bytes } => eprintln!(
            "migrations {applied:?} rewrote tables of {}: reclaiming their space (VACUUM of {} MB; needs as much free disk)",
            file.display(),
            bytes / 1_000_000
        ),
        MigrationEvent::Reclaimed(r) => eprintln!(
            "reclaimed {} MB: {} is {} MB (was {} MB)",
            r.before.saturating_sub(r.after) / 1_000_000,
            file.display(),
            r.after / 1_000_000,
            r.before / 1_000_000
        ),
    };
    SqliteStore::open_reporting(&file, site, &mut report).map_err(|e| anyhow!("{e}"))
}

/// A runtime for the async store API.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_postgres() {
        for ok in [
            "postgres://u@localhost/db",
            "postgresql://u@localhost:5432/db",
            "host=/tmp dbname=x",
            "host=/run/postgresql port=5433 user=postgres dbname=einvoice",
            "dbname=einvoice",
        ] {
            assert!(ok.parse::<DatabaseUrl>().is_ok(), "{ok}");
        }
        for refused in [
            "mysql://x",
            "sqlite:data/einvoice.db",
            "data",
            "",
            "=x",
            "a b=c",
        ] {
            let e = refused.parse::<DatabaseUrl>().err().map(|e| e.to_string());
            assert!(
                e.as_deref()
                    .is_some_and(|m| m.starts_with("DATABASE_URL: ")),
                "{refused}: {e:?}"
            );
        }
    }

    #[test]
    fn the_url_is_not_printed_by_debug() {
        let u: DatabaseUrl = "postgres://u:secret@localhost/db".parse().expect("url");
        assert!(!format!("{u:?}").contains("secret"));
    }
}
