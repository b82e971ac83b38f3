//! `sync status|verify`, and the sync side of `serve` ([`start`]): the peer
//! listener and the pull loop of `[sync]`.

use super::store_args::{Open, StoreArgs, runtime, with_store};
use anyhow::{Context, anyhow};
use clap::Subcommand;
use einvoice_store::Store;
use einvoice_sync::SyncConfig;
use einvoice_sync::feed::Heads;
use einvoice_sync::roots::{SiteRoots, first_root_disagreement};
use einvoice_sync::status::{SyncStatus, first_disagreement};
use std::process::ExitCode;
use std::time::Duration;

/// `einvoice sync …`
#[derive(Subcommand)]
pub enum SyncCommand {
    /// Per origin: sequence, head hash, entries and seconds behind each
    /// upstream, last error — from a store, or from a running site (`--url`).
    Status {
        /// Where the store is.
        #[command(flatten)]
        store: StoreArgs,
        /// This site's name (its origin) when reading a store.
        #[arg(long, default_value = "main")]
        site: String,
        /// A running site's base URL (reads `GET /v1/sync/status`) instead of a store.
        #[arg(long)]
        url: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 only if every site agrees on every origin's (sequence, head)
    /// it holds and on every period's root of resolved invoice states
    /// (`GET /v1/sync/roots`); name the first disagreement otherwise.
    Verify {
        /// A site's base URL (repeat for each site; at least two).
        #[arg(long = "url", required = true, num_args = 1)]
        urls: Vec<String>,
    },
}

/// Run a `sync` command.
pub fn sync(c: SyncCommand) -> anyhow::Result<ExitCode> {
    match c {
        SyncCommand::Status {
            store,
            site,
            url,
            json,
        } => runtime()?.block_on(async move {
            let status = match url {
                Some(u) => fetch_status(&u).await?,
                None => {
                    let store = store.open(&site, Open::Existing).await?;
                    let state = with_store!(&store, s => s.sync_state().await)
                        .map_err(|e| anyhow!("{e}"))?;
                    SyncStatus::of(&site, state)
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", status.to_text());
            }
            Ok(if status.origins.iter().any(|o| o.last_error.is_some()) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }),
        SyncCommand::Verify { urls } => runtime()?.block_on(async move {
            if urls.len() < 2 {
                return Err(anyhow!("SYNC_VERIFY: name at least two sites with --url"));
            }
            let mut sites = Vec::new();
            for u in &urls {
                let st = fetch_status(u).await?;
                let heads = st
                    .origins
                    .iter()
                    .filter(|o| o.seq > 0)
                    .map(|o| einvoice_store::OriginHead {
                        origin: o.origin.clone(),
                        seq: o.seq,
                        hash: o.head,
                        hlc: einvoice_store::Hlc(0),
                    })
                    .collect();
                sites.push((format!("{} ({u})", st.site), Heads { site: st.site, heads }));
            }
            if let Some(d) = first_disagreement(&sites) {
                eprintln!("SYNC_DISAGREE: {d}");
                return Ok(ExitCode::from(1));
            }
            let mut roots = Vec::new();
            for u in &urls {
                let r = fetch_roots(u).await?;
                roots.push((format!("{} ({u})", r.site), r));
            }
            if let Some(d) = first_root_disagreement(&roots) {
                eprintln!("SYNC_STATE_DISAGREE: {d}");
                return Ok(ExitCode::from(1));
            }
            let periods = roots.first().map_or(0, |(_, r)| r.periods.len());
            println!(
                "{} sites agree on every origin they hold and on the resolved invoice states of {periods} period(s)",
                sites.len()
            );
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// A running site's `GET /v1/sync/roots`.
async fn fetch_roots(url: &str) -> anyhow::Result<SiteRoots> {
    let u = format!("{}/v1/sync/roots", url.trim_end_matches('/'));
    let r = reqwest::get(&u).await.with_context(|| format!("GET {u}"))?;
    if !r.status().is_success() {
        return Err(anyhow!("GET {u}: HTTP {}", r.status()));
    }
    r.json()
        .await
        .with_context(|| format!("GET {u}: not period roots"))
}

/// A running site's `GET /v1/sync/status`.
pub(crate) async fn fetch_status(url: &str) -> anyhow::Result<SyncStatus> {
    let u = format!("{}/v1/sync/status", url.trim_end_matches('/'));
    let r = reqwest::get(&u).await.with_context(|| format!("GET {u}"))?;
    if !r.status().is_success() {
        return Err(anyhow!("GET {u}: HTTP {}", r.status()));
    }
    r.json()
        .await
        .with_context(|| format!("GET {u}: not a sync status"))
}

/// Start the sync side of a served site: the peer listener (`[sync] listen`,
/// serving `app` with mutual TLS) and the pull loop (`[sync] upstreams`),
/// which reports each new halt at a broken link to the site's SOC (`soc`)
/// and each page it cannot write to `failures` (the status route's), and
/// pulls the side records too, sealing them under `sealer` (this site's
/// master key). Configuration problems stop `serve` at start.
pub async fn start<S: Store>(
    cfg: &SyncConfig,
    store: S,
    sealer: einvoice_secrets::Sealer,
    app: axum::Router,
    soc: einvoice_server::soc::SecurityEvents,
    failures: einvoice_sync::pull::ApplyFailures,
) -> anyhow::Result<()> {
    if cfg.listen.is_none() && cfg.upstreams.is_empty() {
        return Ok(());
    }
    let tls = cfg.tls().ok_or_else(|| {
        anyhow!("SYNC_CONFIG: [sync] listen or upstreams need ca, cert and key (einvoice ca init / ca issue)")
    })?;
    if let Some(listen) = &cfg.listen {
        let server = einvoice_sync::ca::peer_server_config(&tls)?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen for peers on {listen}"))?;
        eprintln!(
            "einvoice: sync: peer listener https://{} (mutual TLS)",
            listener.local_addr()?
        );
        tokio::spawn(einvoice_server::sync_routes::serve_peer(
            listener,
            app,
            server,
            cfg.clone(),
            std::future::pending(),
        ));
    }
    if !cfg.upstreams.is_empty() {
        let client =
            einvoice_sync::ca::peer_client_idle(&tls, Duration::from_millis(cfg.read_timeout_ms))?;
        eprintln!("einvoice: sync: pulling from {}", cfg.upstreams.join(", "));
        let puller =
            einvoice_sync::pull::Puller::new(store, client, cfg.upstreams.clone(), cfg.page)
                .on_halt(Box::new(move |site, origin, halt| {
                    soc.sync_chain_break(site, origin, halt.seq, &halt.code)
                }))
                .apply_failures(failures)
                .with_records(sealer);
        tokio::spawn(puller.run(Duration::from_millis(cfg.interval_ms.max(10))));
    }
    Ok(())
}
