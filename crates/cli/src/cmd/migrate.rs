//! `migrate`: create or upgrade the store's schema.

use super::store_args::{AnyStore, Open, StoreArgs, runtime};
use anyhow::anyhow;
use clap::Args;
use std::process::ExitCode;

/// `einvoice migrate`
#[derive(Args)]
pub struct MigrateArgs {
    /// Where the store is.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Run `migrate`: create or upgrade the schema.
pub fn migrate(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        match a.store.open("main", Open::Create).await? {
            AnyStore::Sqlite(_) => println!(
                "schema of {} is current",
                a.store.data.join("einvoice.db").display()
            ),
            AnyStore::Pg(s) => println!(
                "PostgreSQL schema is current (version {})",
                s.schema_version().await.map_err(|e| anyhow!("{e}"))?
            ),
        }
        Ok(ExitCode::SUCCESS)
    })
}
