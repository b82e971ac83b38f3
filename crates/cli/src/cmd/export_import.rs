//! `export` / `import`: move a whole site between stores through one export
//! file (its format and checks are in [`super::export_file`]).

use super::export_file;
use super::store_args::{Open, StoreArgs, runtime, with_store};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// `einvoice export`
#[derive(Args)]
pub struct ExportArgs {
    /// Where the store is.
    #[command(flatten)]
    pub store: StoreArgs,
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
    /// Where the store is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Export file to read.
    #[arg(long = "in")]
    pub input: PathBuf,
}

/// Run `export`: the whole site to one file.
pub fn export(a: ExportArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let site = a.site.as_deref().unwrap_or("main");
        let store = a.store.open(site, Open::Existing).await?;
        with_store!(&store, s => export_file::export(s, a.site.as_deref(), &a.out).await)
    })
}

/// Run `import`: an export file into an empty store, then verify it.
pub fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let file = export_file::read_file(&a.input)?;
    if let Err(m) = export_file::check_file(&file) {
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
        let store = a.store.open(&site, Open::Create).await?;
        with_store!(&store, s => export_file::import(s, file).await)
    })
}
