//! `bench sync`: how fast a cloud site applies main's ledger, next to the
//! same backend's own append throughput measured in the same run, and how far
//! behind it stays while main ingests at a steady rate.
//!
//! Everything is real: two stores (SQLite files in a temporary folder, or two
//! fresh schemas of one PostgreSQL database), main's whole router on a peer
//! listener with mutual TLS under a CA made for the run, and the cloud's
//! [`Puller`] pulling over it — gzip feed pages, every link checked by the
//! store's `ChainCheck`, each page applied by `Store::apply_sync_page`
//! through the append path's projection.
//!
//! 1. **append**: `--entries` five-item invoices (the demo generator's
//!    F0401s, validated before timing) appended at main in batches of
//!    `--batch` (`append_per_s`);
//! 2. **apply**: the cloud pulls them all (`entries_per_s`, and `ratio` =
//!    `entries_per_s / append_per_s`); the cloud's copy must then verify and
//!    end at main's head, or the bench fails;
//! 3. **lag**: main ingests `--rate` invoices per second for `--seconds`
//!    (one batch every 10 ms) while the cloud pulls continuously; a batch's
//!    lag is the time from main's acknowledgement to the first moment the
//!    cloud holds its last entry (`lag_p50_ms`, `lag_p99_ms`).

use super::bench_load::{percentile, round};
use super::store_args::DatabaseUrl;
use anyhow::{Context, anyhow, bail};
use clap::Args;
use einvoice_core::{Period, Rules, Validated};
use einvoice_secrets::Sealer;
use einvoice_server::demo::{self, InvoiceGen, Plan};
use einvoice_server::{SiteOptions, router};
use einvoice_store::{Scope, Store};
use einvoice_store_postgres::PgStore;
use einvoice_store_sqlite::SqliteStore;
use einvoice_sync::SyncConfig;
use einvoice_sync::ca::{init_ca, issue_site, peer_client, peer_server_config};
use einvoice_sync::feed::MAX_PAGE;
use einvoice_sync::pull::Puller;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `einvoice bench sync`
#[derive(Args)]
pub struct BenchSyncArgs {
    /// Five-item invoices appended at main, then applied at the cloud site.
    #[arg(long, default_value_t = 100_000)]
    pub entries: u64,
    /// Invoices per append at main.
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// Invoices per second main ingests during the lag phase (0: no lag phase).
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// Seconds of the lag phase.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// PostgreSQL (`postgres://…` or `host=… dbname=…`): main and the cloud
    /// each in a fresh schema, dropped afterwards. SQLite in a temporary
    /// folder when absent.
    #[arg(long, value_name = "URL")]
    pub database: Option<DatabaseUrl>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
struct Report {
    store: &'static str,
    entries: u64,
    append_s: f64,
    append_per_s: f64,
    apply_s: f64,
    entries_applied: u64,
    entries_per_s: f64,
    ratio: f64,
    rate_target: u64,
    lag_invoices: u64,
    ingest_per_s: f64,
    lag_batches: usize,
    lag_p50_ms: f64,
    lag_p99_ms: f64,
    lag_max_ms: f64,
}

/// Five-item invoices `range` of the plan, validated (untimed).
fn invoices(generator: &InvoiceGen, range: std::ops::Range<u64>) -> anyhow::Result<Vec<Validated>> {
    let rules = Rules::production();
    range
        .map(|i| {
            let inv = generator.invoice(i);
            demo::validated(&inv.json, &rules).map_err(|e| anyhow!("{e}"))
        })
        .collect()
}

/// Append `msgs` at `s` in batches of `batch`; the last sequence number and
/// the acknowledgement time of each batch. Any refusal fails the bench.
async fn append_all<S: Store>(
    s: &S,
    msgs: Vec<Validated>,
    batch: usize,
) -> anyhow::Result<Vec<(u64, Instant)>> {
    let mut acks = Vec::new();
    let mut it = msgs.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<Validated> = it.by_ref().take(batch.max(1)).collect();
        acks.push(append_batch(s, chunk).await?);
    }
    Ok(acks)
}

async fn append_batch<S: Store>(s: &S, chunk: Vec<Validated>) -> anyhow::Result<(u64, Instant)> {
    let outcomes = s
        .append(&Scope::All, "bench", chunk)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let at = Instant::now();
    let mut last = 0;
    for o in outcomes {
        let r = o.map_err(|r| anyhow!("main refused a bench invoice: {r:?}"))?;
        if r.duplicate {
            bail!("main answered a bench invoice as a duplicate (the store was not empty)");
        }
        last = last.max(r.seq);
    }
    Ok((last, at))
}

/// Each batch's lag: from its acknowledgement to the first observation of
/// the cloud holding its last entry (`seen`: (time, cloud's seq of main),
/// in time order). Milliseconds, sorted; `None` for a batch never seen.
fn lags(acks: &[(u64, Instant)], seen: &[(Instant, u64)]) -> Option<Vec<f64>> {
    let mut out = Vec::with_capacity(acks.len());
    for (seq, at) in acks {
        let (t, _) = seen.iter().find(|(_, s)| s >= seq)?;
        out.push(t.saturating_duration_since(*at).as_secs_f64() * 1000.0);
    }
    out.sort_by(f64::total_cmp);
    Some(out)
}

/// The whole bench over a main store and an empty cloud store.
async fn run<S: Store>(main: S, cloud: S, dir: &Path, a: &BenchSyncArgs) -> anyhow::Result<Report> {
    let lag_invoices = a.rate.saturating_mul(a.seconds);
    let plan = Plan {
        period: Period::parse("11410").map_err(|v| anyhow!("{v}"))?,
        sellers: 50,
        invoices: a.entries + lag_invoices,
        seed: 0x5_1AC,
    };
    if !main.entries(main.site(), 0, 1).await?.is_empty()
        || !cloud.entries(main.site(), 0, 1).await?.is_empty()
    {
        bail!("the benchmark needs empty stores");
    }
    let sealer = Sealer::new(&Sealer::generate_key().map_err(|e| anyhow!("{e}"))?);
    let (sellers, _) = demo::provision(&main, &sealer, &plan, 1).await?;
    let generator = InvoiceGen::new(plan, sellers, plan.period.last_day());
    let first = invoices(&generator, 0..a.entries)?;
    let later = invoices(&generator, a.entries..a.entries + lag_invoices)?;

    // 1. main's own append throughput.
    let started = Instant::now();
    append_all(&main, first, a.batch).await?;
    let append_s = started.elapsed().as_secs_f64();

    // Main's router on a peer listener; the cloud pulls over mutual TLS.
    let ca = dir.join("ca");
    init_ca(&ca, "bench").map_err(|e| anyhow!("{e}"))?;
    let hosts = vec!["127.0.0.1".to_string()];
    let main_tls = issue_site(&ca, main.site(), &hosts).map_err(|e| anyhow!("{e}"))?;
    let cloud_tls = issue_site(&ca, cloud.site(), &hosts).map_err(|e| anyhow!("{e}"))?;
    let app = router(main.clone(), sealer, SiteOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("https://{}", listener.local_addr()?);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(einvoice_server::sync_routes::serve_peer(
        listener,
        app,
        peer_server_config(&main_tls).map_err(|e| anyhow!("{e}"))?,
        SyncConfig::default(),
        async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        },
    ));
    let client = peer_client(&cloud_tls).map_err(|e| anyhow!("{e}"))?;
    let puller = Arc::new(Puller::new(cloud.clone(), client, vec![url], MAX_PAGE));

    // 2. the cloud applies all of it.
    let main_head = main.verify_ledger(main.site()).await?;
    let started = Instant::now();
    let pulled = puller.pull_once().await.map_err(|e| anyhow!("{e}"))?;
    let apply_s = started.elapsed().as_secs_f64();
    let applied: u64 = pulled.iter().map(|p| p.applied).sum();
    if let Some(h) = pulled.iter().find_map(|p| p.halt.clone()) {
        bail!("the cloud halted main's origin: {}: {}", h.code, h.message);
    }
    check_copy(
        &cloud,
        main.site(),
        main_head.entries,
        main_head.head,
        applied,
    )
    .await?;

    // 3. lag while main ingests at a steady rate.
    let (mut acks, mut seen, mut ingest_s) = (Vec::new(), Vec::new(), 0.0);
    if lag_invoices > 0 {
        let running = Arc::new(AtomicBool::new(true));
        let observer = {
            let (puller, cloud, running) = (puller.clone(), cloud.clone(), running.clone());
            let origin = main.site().to_string();
            tokio::spawn(async move {
                let mut seen: Vec<(Instant, u64)> = Vec::new();
                while running.load(Ordering::Relaxed) {
                    puller.pull_once().await.map_err(|e| anyhow!("{e}"))?;
                    let head = cloud_head(&cloud, &origin).await?;
                    seen.push((Instant::now(), head));
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                anyhow::Ok(seen)
            })
        };
        let per_tick = (a.rate / 100).max(1) as usize;
        let mut it = later.into_iter().peekable();
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        while it.peek().is_some() {
            tick.tick().await;
            let chunk: Vec<Validated> = it.by_ref().take(per_tick).collect();
            acks.push(append_batch(&main, chunk).await?);
        }
        ingest_s = started.elapsed().as_secs_f64();
        let target = acks.last().map_or(0, |(s, _)| *s);
        let deadline = Instant::now() + Duration::from_secs(120);
        while cloud_head(&cloud, main.site()).await? < target {
            if Instant::now() > deadline {
                bail!("the cloud did not catch up with main within 120 s of the lag phase");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        running.store(false, Ordering::Relaxed);
        seen = observer
            .await
            .map_err(|e| anyhow!("the pulling task failed: {e}"))??;
        seen.push((Instant::now(), cloud_head(&cloud, main.site()).await?));
        let v = main.verify_ledger(main.site()).await?;
        check_copy(&cloud, main.site(), v.entries, v.head, v.entries).await?;
    }
    let _ = stop_tx.send(true);
    let lag = lags(&acks, &seen).ok_or_else(|| anyhow!("a batch was never seen at the cloud"))?;
    let entries_per_s = applied as f64 / apply_s.max(1e-9);
    let append_per_s = a.entries as f64 / append_s.max(1e-9);
    Ok(Report {
        store: "",
        entries: a.entries,
        append_s: round(append_s, 3),
        append_per_s: append_per_s.round(),
        apply_s: round(apply_s, 3),
        entries_applied: applied,
        entries_per_s: entries_per_s.round(),
        ratio: round(entries_per_s / append_per_s.max(1e-9), 3),
        rate_target: a.rate,
        lag_invoices,
        ingest_per_s: (lag_invoices as f64 / ingest_s.max(1e-9)).round(),
        lag_batches: acks.len(),
        lag_p50_ms: round(percentile(&lag, 0.5), 1),
        lag_p99_ms: round(percentile(&lag, 0.99), 1),
        lag_max_ms: round(lag.last().copied().unwrap_or(0.0), 1),
    })
}

/// The cloud's stored sequence of `origin`.
async fn cloud_head<S: Store>(cloud: &S, origin: &str) -> anyhow::Result<u64> {
    Ok(cloud
        .sync_state()
        .await?
        .into_iter()
        .find(|o| o.head.origin == origin)
        .map_or(0, |o| o.head.seq))
}

/// The cloud's copy of `origin` verifies, holds `entries` entries ending at
/// `head`, and the pull applied `applied` of them.
async fn check_copy<S: Store>(
    cloud: &S,
    origin: &str,
    entries: u64,
    head: einvoice_store::EntryHash,
    applied: u64,
) -> anyhow::Result<()> {
    if applied == 0 {
        bail!("the cloud applied nothing");
    }
    let v = cloud.verify_ledger(origin).await?;
    if let Some(b) = v.broken {
        bail!(
            "the cloud's copy of {origin} is broken at entry {}: {}",
            b.seq,
            b.code
        );
    }
    if v.entries != entries || v.head != head || applied != entries {
        bail!(
            "counts do not match: main holds {entries} entries of {origin}, the cloud {} (applied {applied}), heads {} and {}",
            v.entries,
            head,
            v.head
        );
    }
    Ok(())
}

async fn run_postgres(url: &str, dir: &Path, a: &BenchSyncArgs) -> anyhow::Result<Report> {
    let c = einvoice_store_postgres::tls::pg_connect_config(url).map_err(|e| anyhow!("{e}"))?;
    let (admin, conn) = c
        .config
        .connect(c.tls)
        .await
        .context("cannot connect to --database")?;
    let driver = tokio::spawn(conn);
    let schemas = [
        format!("bench_sync_main_{}", std::process::id()),
        format!("bench_sync_cloud_{}", std::process::id()),
    ];
    for s in &schemas {
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}"
            ))
            .await?;
    }
    let result = async {
        let main = PgStore::connect(
            &super::bench_winners::with_search_path(url, &schemas[0])?,
            "main",
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
        let cloud = PgStore::connect(
            &super::bench_winners::with_search_path(url, &schemas[1])?,
            "cloud-a",
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
        run(main, cloud, dir, a).await
    }
    .await;
    for s in &schemas {
        admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
            .await?;
    }
    drop(admin);
    let _ = driver.await;
    result
}

/// Run `bench sync`.
pub fn bench_sync(a: BenchSyncArgs) -> anyhow::Result<ExitCode> {
    if a.entries == 0 || a.batch == 0 {
        bail!("--entries and --batch must be positive");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut report = rt.block_on(async {
        match &a.database {
            None => {
                let open = |site: &str| {
                    SqliteStore::open(&dir.path().join(format!("{site}.db")), site)
                        .map_err(|e| anyhow!("{e}"))
                };
                run(open("main")?, open("cloud-a")?, dir.path(), &a).await
            }
            Some(url) => run_postgres(url.as_str(), dir.path(), &a).await,
        }
    })?;
    report.store = if a.database.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let r = &report;
        println!(
            "{}: {} five-item invoices appended at main in {:.2} s: {:.0} entries/s",
            r.store, r.entries, r.append_s, r.append_per_s
        );
        println!(
            "applied at the cloud (feed over mutual TLS, every link checked): {} entries in {:.2} s: {:.0} entries/s, ratio to append {:.3}",
            r.entries_applied, r.apply_s, r.entries_per_s, r.ratio
        );
        println!(
            "lag while main ingests {} invoices/s (achieved {:.0}/s, {} batches): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            r.rate_target, r.ingest_per_s, r.lag_batches, r.lag_p50_ms, r.lag_p99_ms, r.lag_max_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_lags_until_the_first_observation_that_holds_it() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let acks = [(10, ms(0)), (20, ms(10)), (30, ms(20))];
        let seen = [(ms(5), 5), (ms(15), 20), (ms(50), 30)];
        let l = lags(&acks, &seen).expect("all seen");
        let rounded: Vec<u64> = l.iter().map(|x| x.round() as u64).collect();
        assert_eq!(rounded, vec![5, 15, 30]);
        assert!(lags(&[(40, ms(0))], &seen).is_none());
    }
}
