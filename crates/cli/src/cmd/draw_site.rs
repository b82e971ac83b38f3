//! The draw against a site's store: `draw freeze`, `draw run --data|--database`
//! and `draw payouts`. The steps are `einvoice_draw`'s; this file opens the
//! store, draws the progress and prints.

use super::draw::{on_event, period_of, progress_bar};
use anyhow::{Context, anyhow};
use einvoice_draw::{Event, SiteRun};
use einvoice_store_postgres::PgStore;
use einvoice_store_sqlite::SqliteStore;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Where the site's store is.
#[derive(Debug, Clone)]
pub struct SiteStore {
    /// Data directory (SQLite `DIR/einvoice.db`, master key).
    pub data: PathBuf,
    /// PostgreSQL URL instead of the data directory's SQLite file.
    pub database: Option<String>,
    /// Site id.
    pub site: String,
}

/// Run `$body` with `$s` bound to the site's store (SQLite or PostgreSQL).
macro_rules! with_store {
    ($at:expr, |$s:ident| $body:expr) => {{
        let at: &SiteStore = $at;
        match &at.database {
            Some(url) => {
                let $s = PgStore::connect(url, &at.site)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                $body
            }
            None => {
                std::fs::create_dir_all(&at.data)
                    .with_context(|| format!("cannot create {}", at.data.display()))?;
                let $s = SqliteStore::open(&at.data.join("einvoice.db"), &at.site)
                    .map_err(|e| anyhow!("{e}"))?;
                $body
            }
        }
    }};
}

/// Run `draw freeze` ([`einvoice_draw::freeze()`]) and print what it did.
pub fn freeze(at: &SiteStore, period: &str, out: &Path, operator: &str) -> anyhow::Result<()> {
    let p = period_of(period)?;
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} freezing {msg}: {pos} invoices {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(p.to_string());
    let on_page = |e: Event<'_>| {
        if let Event::Advance(n) = e {
            pb.inc(n);
        }
    };
    let frozen = super::store::runtime()?.block_on(async {
        with_store!(at, |s| anyhow::Ok(
            einvoice_draw::freeze(&s, p, out, operator, &on_page).await?
        ))
    });
    pb.finish_and_clear();
    let frozen = frozen?;
    println!(
        "{}",
        json!({
            "period": frozen.period.to_string(),
            "rows": frozen.rows,
            "snapshot_root": frozen.snapshot_root,
            "file": frozen.file,
            "already_frozen": frozen.already_frozen,
        })
    );
    Ok(())
}

/// Run `draw run` in site mode ([`einvoice_draw::run_on_site()`]) and print
/// what it did.
pub fn run(at: &SiteStore, r: &SiteRun<'_>) -> anyhow::Result<()> {
    let pb = progress_bar();
    let done = super::store::runtime()?.block_on(async {
        with_store!(at, |s| anyhow::Ok(
            einvoice_draw::run_on_site(&s, r, &on_event(&pb)).await?
        ))
    });
    pb.finish_and_clear();
    let done = done?;
    if done.already_loaded {
        eprintln!(
            "winners of {} were already loaded (identical); the store is unchanged",
            r.period
        );
    }
    let rep = &done.report;
    println!(
        "period {}: {} invoices, {} cloud-eligible, {} winner lines, NT${} payable; loaded into the store; written to {}",
        rep.period,
        rep.invoices,
        rep.cloud_eligible,
        rep.winners,
        rep.payable_amount,
        r.inputs.out.display()
    );
    Ok(())
}

/// Run `draw payouts` ([`einvoice_draw::payouts()`]) and print the totals.
pub fn payouts(at: &SiteStore, period: &str, out: &Path) -> anyhow::Result<()> {
    let p = period_of(period)?;
    let sealer = einvoice_draw::site_sealer(&at.data)?;
    let paid = super::store::runtime()?.block_on(async {
        with_store!(at, |s| anyhow::Ok(
            einvoice_draw::payouts(&s, p, out, &sealer).await?
        ))
    })?;
    println!(
        "{}",
        json!({
            "period": paid.period.to_string(),
            "totals": paid.totals_json(),
            "total_amount": paid.total_amount,
            "out": paid.out,
        })
    );
    Ok(())
}
