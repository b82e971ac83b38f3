//! The draw against a site's store: `draw freeze`, `draw run --data|--database`
//! and `draw payouts`. The steps are `einvoice_draw`'s; this file opens the
//! store, draws the progress and prints.

use super::progress::{on_event, progress_bar};
use super::store_args::{Open, StoreArgs, runtime, with_store};
use einvoice_core::Period;
use einvoice_draw::{Event, SiteRun};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::Path;

/// Run `draw freeze` ([`einvoice_draw::freeze()`]) and print what it did.
pub fn freeze(
    at: &StoreArgs,
    site: &str,
    p: Period,
    out: &Path,
    operator: &str,
) -> anyhow::Result<()> {
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
    let frozen = runtime()?.block_on(async {
        let store = at.open(site, Open::Create).await?;
        with_store!(&store, s => anyhow::Ok(
            einvoice_draw::freeze(s, p, out, operator, &on_page).await?
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
pub fn run(at: &StoreArgs, site: &str, r: &SiteRun<'_>) -> anyhow::Result<()> {
    let pb = progress_bar();
    let done = runtime()?.block_on(async {
        let store = at.open(site, Open::Create).await?;
        with_store!(&store, s => anyhow::Ok(
            einvoice_draw::run_on_site(s, r, &on_event(&pb)).await?
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
pub fn payouts(at: &StoreArgs, site: &str, p: Period, out: &Path) -> anyhow::Result<()> {
    let sealer = einvoice_draw::site_sealer(&at.data)?;
    let paid = runtime()?.block_on(async {
        let store = at.open(site, Open::Create).await?;
        with_store!(&store, s => anyhow::Ok(
            einvoice_draw::payouts(s, p, out, &sealer).await?
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
