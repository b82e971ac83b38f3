//! `site promote`: a standby becomes the main site.
//!
//! Per DESIGN.md each site appends to its own origin. A promoted standby
//! does not take over main's origin (main's chain stays exactly as the
//! standby holds it, and a main that comes back cannot fork it): it starts
//! accepting main-only operations on its OWN origin, after the last entry of
//! main it holds. The promotion itself is the first thing it records there:
//! a `SITE_PROMOTED` entry naming, per origin, the sequence and head hash it
//! held, so anyone can see what the new main continued from.

use super::store_args::{Open, StoreArgs, runtime, with_store};
use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use einvoice_server::config::FileConfig;
use einvoice_server::role::Role;
use einvoice_store::{NewEntry, Store, canonical_json};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Kind of the ledger entry a promotion appends to the promoted site's origin.
pub const SITE_PROMOTED: &str = "SITE_PROMOTED";

/// `einvoice site …`
#[derive(Subcommand)]
pub enum SiteCommand {
    /// Promote a standby to main: check every chain it holds (every body
    /// present), record the promotion in its own origin, rewrite `role` to
    /// `main` in its configuration file. Run it with the standby stopped,
    /// then start it again with the same configuration.
    Promote(PromoteArgs),
}

/// `einvoice site promote --data DIR [--database URL] [--config FILE]`
#[derive(Args)]
pub struct PromoteArgs {
    /// Where the standby's store is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The standby's configuration file (default `DIR/einvoice.toml`): it
    /// must say `role = "standby"`; `role` becomes `"main"` and `main_url`
    /// is removed, everything else (comments included) is kept.
    #[arg(long, env = "EINVOICE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Run a `site` command.
pub fn site(c: SiteCommand) -> anyhow::Result<ExitCode> {
    match c {
        SiteCommand::Promote(a) => promote(a),
    }
}

fn promote(a: PromoteArgs) -> anyhow::Result<ExitCode> {
    let path = a
        .config
        .clone()
        .unwrap_or_else(|| a.store.data.join("einvoice.toml"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("PROMOTE_NO_CONFIG: cannot read {}", path.display()))?;
    let cfg = FileConfig::from_toml(&text)?;
    if cfg.role != Role::Standby {
        bail!(
            "PROMOTE_NOT_STANDBY: {} says role = {:?}; only a standby is promoted",
            path.display(),
            cfg.role.as_str()
        );
    }
    let rewritten = promoted_config(&text)?;
    runtime()?.block_on(async move {
        let store = a.store.open(&cfg.site, Open::Existing).await?;
        let entry = with_store!(&store, s => record_promotion(s, &cfg.site).await)?;
        write_atomically(&path, &rewritten)?;
        println!(
            "{}",
            serde_json::to_string(&json!({
                "site": cfg.site,
                "role": "main",
                "config": path.display().to_string(),
                "entry": entry,
            }))?
        );
        eprintln!(
            "einvoice: site {:?} is now main; it appends main-only operations to its own origin. \
             Start it again with {}",
            cfg.site,
            path.display()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Check every origin the standby holds and append the `SITE_PROMOTED`
/// entry to its own origin; its receipt as JSON.
async fn record_promotion<S: Store>(s: &S, site: &str) -> anyhow::Result<serde_json::Value> {
    let mut holds = serde_json::Map::new();
    for origin in s.origins().await.map_err(|e| anyhow!("{e}"))? {
        let v = s.verify_ledger(&origin).await.map_err(|e| anyhow!("{e}"))?;
        if let Some(b) = &v.broken {
            bail!(
                "PROMOTE_CHAIN_BROKEN: origin {origin} breaks at entry {}: {} ({}); \
                 a standby with a broken chain is not promoted",
                b.seq,
                b.code,
                b.message
            );
        }
        if v.withheld > 0 {
            bail!(
                "PROMOTE_BODIES_WITHHELD: origin {origin} has {} entries whose body is withheld here; \
                 a main site needs every body (this is not a full standby copy)",
                v.withheld
            );
        }
        holds.insert(origin, json!({"seq": v.entries, "head": v.head.to_hex()}));
    }
    let body = canonical_json(&json!({
        "site": site,
        "role": "main",
        "previous_role": "standby",
        "holds": holds,
    }));
    let r = s
        .append_event(NewEntry {
            kind: SITE_PROMOTED.into(),
            key: format!("site/{site}"),
            actor: "system".into(),
            body,
        })
        .await
        .map_err(|e| anyhow!("{e}"))?;
    Ok(json!({"origin": r.origin, "seq": r.seq, "hash": r.hash.to_hex(), "holds": holds}))
}

/// The configuration text with `role = "main"` and without `main_url`,
/// everything else kept as written.
fn promoted_config(text: &str) -> anyhow::Result<String> {
    let mut doc: toml_edit::DocumentMut =
        text.parse().map_err(|e| anyhow!("CONFIG_INVALID: {e}"))?;
    doc["role"] = toml_edit::value(Role::Main.as_str());
    doc.remove("main_url");
    let out = doc.to_string();
    let check = FileConfig::from_toml(&out)?;
    if check.role != Role::Main {
        bail!("CONFIG_INVALID: the rewritten configuration does not say role = \"main\"");
    }
    Ok(out)
}

/// Replace `path` with `text` (a sibling temporary file renamed over it).
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("toml.promote");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rewrite_keeps_everything_but_role_and_main_url() {
        let text = "# the standby\nsite = \"standby\"\nrole = \"standby\" # until promoted\nmain_url = \"https://main.example\"\nlisten = \"127.0.0.1:9000\"\n";
        let out = promoted_config(text).expect("rewrite");
        assert!(out.contains("# the standby\nsite = \"standby\"\n"), "{out}");
        assert!(out.contains("role = \"main\""), "{out}");
        assert!(!out.contains("main_url"), "{out}");
        assert!(out.contains("listen = \"127.0.0.1:9000\""), "{out}");
    }
}
