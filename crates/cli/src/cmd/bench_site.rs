//! `bench ingest` and `bench query`: the real HTTP API under load from a
//! load generator in the same process (its own runtime and threads), next to
//! baselines measured in the same run.

use super::bench_load::{open_loop, percentile, rt};
use super::client::SignedClient;
use super::store_args::DatabaseUrl;
use anyhow::{Context, anyhow, bail};
use clap::Args;
use einvoice_core::{InvoiceNumber, Period, Rules};
use einvoice_secrets::Sealer;
use einvoice_secrets::purpose;
use einvoice_server::demo::{self, InvoiceGen, Plan};
use einvoice_server::{Limits, SiteOptions, router, serve};
use einvoice_store::read_projection::CarrierInvoice;
use einvoice_store::{ApiKeyRecord, Scope, Store};
use einvoice_store_postgres::PgStore;
use einvoice_store_sqlite::SqliteStore;
use einvoice_store_sqlite::ceiling::{RawRow, raw_insert_ceiling};
use serde::Serialize;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `einvoice bench ingest`
#[derive(Args)]
pub struct BenchIngestArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// PostgreSQL (`postgres://…` or `host=… dbname=…`, the rule of every
    /// `--database`; never read from EINVOICE_DATABASE, so a bench cannot
    /// write into a site's database by accident); SQLite in a temporary
    /// folder when absent.
    #[arg(long, value_name = "URL")]
    pub database: Option<DatabaseUrl>,
    /// API nodes (each its own store connection pool) against the database; PostgreSQL only.
    #[arg(long, default_value_t = 2)]
    pub nodes: usize,
    /// Invoices submitted in the batched run.
    #[arg(long, default_value_t = 200_000)]
    pub invoices: u64,
    /// Invoices per batch.
    #[arg(long, default_value_t = 200)]
    pub batch: usize,
    /// Requests in flight in the batched run.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Invoices submitted one per request in the single run.
    #[arg(long, default_value_t = 20_000)]
    pub single: u64,
    /// Requests in flight in the single run.
    #[arg(long, default_value_t = 64)]
    pub single_concurrency: usize,
}

/// `einvoice bench query`
#[derive(Args)]
pub struct BenchQueryArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Invoices stored before querying.
    #[arg(long, default_value_t = 10_000_000)]
    pub invoices: u64,
    /// Target carrier queries per second (open loop).
    #[arg(long, default_value_t = 5_000)]
    pub rate: u64,
    /// Seconds of querying.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Carriers that log in and take turns querying (at most as many as the
    /// plan spreads invoices over).
    #[arg(long, default_value_t = 200)]
    pub carriers: u64,
    /// Keep the seeded data in this directory instead of a temporary one; a
    /// directory that holds this plan's invoices (same `--invoices`) is
    /// reused, one that lacks them is seeded (idempotently). SQLite only.
    #[arg(long, conflicts_with = "database")]
    pub data: Option<std::path::PathBuf>,
    /// PostgreSQL (`postgres://…` or `host=… dbname=…`; never read from
    /// EINVOICE_DATABASE): seed and query a site on it instead of SQLite. A
    /// database that holds this plan's invoices is reused, like `--data`.
    #[arg(long, value_name = "URL")]
    pub database: Option<DatabaseUrl>,
}

/// Outcome of one load run.
#[derive(Debug, Clone, Serialize)]
struct Run {
    requests: usize,
    invoices: u64,
    seconds: f64,
    invoices_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

/// Send every body with `concurrency` requests in flight; `per_request`
/// invoices per body; `ok(status, body)` says whether the answer is a success.
async fn drive(
    clients: Vec<SignedClient>,
    path: &'static str,
    bodies: Arc<Vec<Vec<u8>>>,
    per_request: u64,
    concurrency: usize,
    ok: fn(u16, &[u8]) -> bool,
) -> anyhow::Result<Run> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency.max(1) {
        let client = clients[t % clients.len()].clone();
        let (bodies, next) = (bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let t = Instant::now();
                match client
                    .send("POST", path, Some("application/json"), body.clone())
                    .await
                {
                    Ok((status, b)) if ok(status, &b.0) => {}
                    _ => errors += 1,
                }
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.map_err(|e| anyhow!("load task failed: {e}"))?;
        lat.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let invoices = bodies.len() as u64 * per_request;
    Ok(Run {
        requests: bodies.len(),
        invoices,
        seconds,
        invoices_per_s: invoices as f64 / seconds.max(1e-9),
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        errors,
    })
}

fn batch_ok(status: u16, body: &[u8]) -> bool {
    status == 200
        && serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["rejected"].as_u64())
            == Some(0)
}

fn created(status: u16, _: &[u8]) -> bool {
    status == 201
}

fn no_content(status: u16, _: &[u8]) -> bool {
    status == 204
}

/// Demo sellers on an empty store and one key for all of them.
async fn bench_site<S: Store>(
    store: &S,
    sealer: &Sealer,
    plan: &Plan,
) -> anyhow::Result<(Vec<demo::DemoSeller>, String, String)> {
    if !store.entries(store.site(), 0, 1).await?.is_empty() {
        bail!("the benchmark needs an empty store: its ledger already has entries");
    }
    let (sellers, _) = demo::provision(store, sealer, plan, 1).await?;
    let key_id = "Kbench".to_string();
    let secret = "bench-secret-0123456789abcdef".to_string();
    store
        .put_api_key(ApiKeyRecord {
            key_id: key_id.clone(),
            secret_sealed: sealer
                .seal(purpose::API_KEY, secret.as_bytes())
                .map_err(|e| anyhow!("{e}"))?,
            sellers: sellers.iter().map(|s| s.ubn).collect(),
            disabled: false,
            created_unix: 0,
        })
        .await?;
    Ok((sellers, key_id, secret))
}

fn unlimited() -> Limits {
    Limits {
        max_body_bytes: 64 * 1024 * 1024,
        seller_per_second: 1_000_000,
        seller_burst: 1_000_000,
        carrier_per_second: 1_000_000,
        carrier_burst: 1_000_000,
        ..Limits::default()
    }
}

/// Run `bench ingest`.
pub fn bench_ingest(a: BenchIngestArgs) -> anyhow::Result<ExitCode> {
    if a.batch == 0 || a.invoices == 0 {
        bail!("--batch and --invoices must be positive");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let period = Period::parse("11410").map_err(|v| anyhow!("{v}"))?;
    let total = a.invoices + a.single;
    let plan = Plan {
        period,
        sellers: 50,
        invoices: total,
        seed: 42,
    };
    let server_rt = rt(2, "bench-server")?;
    let sealer = Sealer::new(&Sealer::generate_key().map_err(|e| anyhow!("{e}"))?);
    let opts = SiteOptions {
        limits: unlimited(),
        noop_route: true,
        ..SiteOptions::default()
    };
    let (apps, (sellers, key_id, secret)) = match &a.database {
        None => server_rt.block_on(async {
            let store = SqliteStore::open(&dir.path().join("einvoice.db"), "main")
                .map_err(|e| anyhow!("{e}"))?;
            let site = bench_site(&store, &sealer, &plan).await?;
            anyhow::Ok((vec![router(store, sealer.clone(), opts.clone())], site))
        })?,
        Some(url) => server_rt.block_on(async {
            let mut stores = Vec::new();
            for _ in 0..a.nodes.max(1) {
                stores.push(
                    PgStore::connect(url.as_str(), "main")
                        .await
                        .map_err(|e| anyhow!("{e}"))?,
                );
            }
            let site = bench_site(&stores[0], &sealer, &plan).await?;
            let apps = stores
                .into_iter()
                .map(|s| router(s, sealer.clone(), opts.clone()))
                .collect::<Vec<_>>();
            anyhow::Ok((apps, site))
        })?,
    };
    // Bodies, generated before timing starts.
    let generator = InvoiceGen::new(plan, sellers, period.last_day());
    let rules = Rules::production();
    let mut rows: Vec<RawRow> = Vec::with_capacity(a.invoices as usize);
    let mut batches: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<serde_json::Value> = Vec::with_capacity(a.batch);
    for i in 0..a.invoices {
        let inv = generator.invoice(i);
        if i == 0 {
            demo::validated(&inv.json, &rules)?;
        }
        rows.push((
            inv.seller.to_string(),
            inv.number.clone(),
            serde_json::to_vec(&inv.json)?,
        ));
        current.push(inv.json);
        if current.len() == a.batch {
            batches.push(serde_json::to_vec(
                &serde_json::json!({"messages": std::mem::take(&mut current)}),
            )?);
        }
    }
    if !current.is_empty() {
        batches.push(serde_json::to_vec(
            &serde_json::json!({"messages": current}),
        )?);
    }
    let singles: Vec<Vec<u8>> = (a.invoices..total)
        .map(|i| serde_json::to_vec(&generator.invoice(i).json))
        .collect::<Result<_, _>>()?;
    let nodes = apps.len();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = std::thread::spawn(move || {
        server_rt.block_on(async move {
            let mut running = Vec::new();
            for app in apps {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let _ = ready_tx.send(listener.local_addr()?);
                let mut stop = stop_rx.clone();
                running.push(tokio::spawn(serve(listener, app, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })));
            }
            for r in running {
                r.await.map_err(std::io::Error::other)??;
            }
            std::io::Result::Ok(())
        })
    });
    let mut clients = Vec::new();
    for _ in 0..nodes {
        let addr = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .context("the bench server did not start")?;
        clients.push(SignedClient::new(
            &format!("http://{addr}"),
            &key_id,
            &secret,
            None,
        )?);
    }
    let client_rt = rt(2, "bench-load")?;
    let batches = Arc::new(batches);
    let batched = client_rt.block_on(drive(
        clients.clone(),
        "/v1/batches",
        batches.clone(),
        a.batch as u64,
        a.concurrency,
        batch_ok,
    ))?;
    let single = client_rt.block_on(drive(
        clients.clone(),
        "/v1/messages",
        Arc::new(singles),
        1,
        a.single_concurrency,
        created,
    ))?;
    let http = client_rt.block_on(drive(
        clients,
        "/v1/noop",
        batches,
        a.batch as u64,
        a.concurrency,
        no_content,
    ))?;
    let _ = stop_tx.send(true);
    server
        .join()
        .map_err(|_| anyhow!("the bench server panicked"))??;
    let storage = match &a.database {
        None => raw_insert_ceiling(&dir.path().join("ceiling.db"), &rows, a.batch)
            .map_err(|e| anyhow!("{e}"))?,
        Some(url) => client_rt
            .block_on(einvoice_store_postgres::ceiling::raw_copy_ceiling(
                url.as_str(),
                &rows,
                a.batch,
            ))
            .map_err(|e| anyhow!("{e}"))?,
    };
    let (store_name, ceiling_name) = match a.database {
        None => (
            "sqlite",
            "raw SQLite inserts, same rows, same batches, synchronous=FULL",
        ),
        Some(_) => ("postgres", "COPY of the same rows, same batches"),
    };
    let storage_per_s = rows.len() as f64 / storage.as_secs_f64().max(1e-9);
    let out = serde_json::json!({
        "store": store_name,
        "nodes": nodes,
        "invoice": "F0401, 5 items, JSON",
        "batch": a.batch,
        "concurrency": a.concurrency,
        "invoices": batched.invoices,
        "invoices_per_s": batched.invoices_per_s.round(),
        "p50_ms": (batched.p50_ms * 100.0).round() / 100.0,
        "p99_ms": (batched.p99_ms * 100.0).round() / 100.0,
        "errors": batched.errors,
        "single": single,
        "storage_ceiling_per_s": storage_per_s.round(),
        "http_ceiling_per_s": http.invoices_per_s.round(),
        "ratio_to_storage_ceiling": ((batched.invoices_per_s / storage_per_s) * 1000.0).round() / 1000.0,
        "ratio_to_http_ceiling": ((batched.invoices_per_s / http.invoices_per_s.max(1e-9)) * 1000.0).round() / 1000.0,
    });
    if a.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!("{store_name}, {nodes} node(s)");
        println!(
            "batched ({} per request, {} in flight): {:.0} invoices/s, p50 {:.2} ms, p99 {:.2} ms per request, {} errors",
            a.batch,
            a.concurrency,
            batched.invoices_per_s,
            batched.p50_ms,
            batched.p99_ms,
            batched.errors
        );
        println!(
            "single ({} in flight): {:.0} invoices/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            a.single_concurrency,
            single.invoices_per_s,
            single.p50_ms,
            single.p99_ms,
            single.errors
        );
        println!("storage ceiling ({ceiling_name}): {storage_per_s:.0} invoices/s");
        println!(
            "HTTP ceiling (no-op route, same bodies): {:.0} invoices/s",
            http.invoices_per_s
        );
        println!(
            "ratio to storage ceiling {:.3}, to HTTP ceiling {:.3}",
            batched.invoices_per_s / storage_per_s,
            batched.invoices_per_s / http.invoices_per_s.max(1e-9)
        );
    }
    Ok(if batched.errors + single.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Connections the query load generator keeps open at most.
const CONNECTIONS: usize = 256;

/// Run `bench query`.
pub fn bench_query(a: BenchQueryArgs) -> anyhow::Result<ExitCode> {
    let server_rt = rt(2, "bench-server")?;
    let mut result = match &a.database {
        None => {
            let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
            let dir = a.data.clone().unwrap_or_else(|| tmp.path().to_path_buf());
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("einvoice.db");
            let store = SqliteStore::open(&path, "main").map_err(|e| anyhow!("{e}"))?;
            let mut result = query_site(&a, store, server_rt, &dir.display().to_string())?;
            let f =
                einvoice_store_sqlite::footprint::footprint(&path).map_err(|e| anyhow!("{e}"))?;
            put_footprint(
                &mut result,
                "sqlite",
                f.total_bytes,
                &f.by_object,
                a.invoices,
            );
            result
        }
        Some(url) => {
            let store = server_rt
                .block_on(PgStore::connect(url.as_str(), "main"))
                .map_err(|e| anyhow!("{e}"))?;
            let mut result = query_site(&a, store, server_rt, "the database")?;
            let f = rt(1, "bench-footprint")?
                .block_on(einvoice_store_postgres::footprint::footprint(url.as_str()))
                .map_err(|e| anyhow!("{e}"))?;
            put_footprint(
                &mut result,
                "postgres",
                f.total_bytes,
                &f.by_object,
                a.invoices,
            );
            result
        }
    };
    result["seeded_per_s"] = result["seeding_s"]
        .as_f64()
        .map(|s| (a.invoices as f64 / s.max(1e-9)).round())
        .into();
    if a.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    Ok(query_verdict(&result))
}

/// The store's bytes on disk in `result` (`store`: which backend measured).
fn put_footprint(
    result: &mut serde_json::Value,
    store: &str,
    total: u64,
    by_object: &[(String, u64)],
    invoices: u64,
) {
    result["store"] = store.into();
    result["bytes_on_disk"] = total.into();
    result["bytes_per_invoice"] = (total as f64 / invoices.max(1) as f64).round().into();
    result["bytes_by_table"] = by_object
        .iter()
        .map(|(name, bytes)| (name.clone(), serde_json::Value::from(*bytes)))
        .collect::<serde_json::Map<_, _>>()
        .into();
}

/// Seed `store` with the plan's invoices unless they are there (`place`
/// names where, for the messages), serve it, and query it over HTTP from a
/// load generator of its own: the result without the footprint.
fn query_site<S: Store>(
    a: &BenchQueryArgs,
    store: S,
    server_rt: tokio::runtime::Runtime,
    place: &str,
) -> anyhow::Result<serde_json::Value> {
    let period = Period::parse("11410").map_err(|v| anyhow!("{v}"))?;
    let plan = Plan {
        period,
        sellers: 200,
        invoices: a.invoices,
        seed: 7,
    };
    let sealer = Sealer::new(&Sealer::generate_key().map_err(|e| anyhow!("{e}"))?);
    let logins = a.carriers.max(1);
    let mut seeding_s: Option<f64> = None;
    let (generator, code) = server_rt.block_on(async {
        let (sellers, creds) = demo::provision(&store, &sealer, &plan, logins).await?;
        let generator = InvoiceGen::new(plan, sellers, period.last_day());
        if invoices_present(&store, &generator, plan.invoices).await? {
            if !a.json {
                eprintln!("reusing the invoices already seeded in {place}");
            }
        } else {
            let bar = indicatif::ProgressBar::new(plan.invoices);
            let started = Instant::now();
            let stats = demo::seed_invoices(&store, &generator, 0..plan.invoices, 1000, |d| {
                bar.set_position(d)
            })
            .await?;
            bar.finish_and_clear();
            if stats.rejected > 0 {
                bail!(
                    "{place} holds invoices of another bench plan ({} of this plan's messages refused); \
                     use a fresh --data directory or database",
                    stats.rejected
                );
            }
            let secs = started.elapsed().as_secs_f64();
            seeding_s = Some(secs);
            if !a.json {
                eprintln!("seeded {} invoices in {secs:.1} s", plan.invoices);
            }
        }
        anyhow::Ok((generator, creds.carrier.verification_code))
    })?;
    let carriers = logins.min(generator.carrier_count());
    let expected = Arc::new(expected_per_carrier(&generator, plan.invoices, carriers));
    let read_paths = server_rt.block_on(compare_read_paths(&store, carriers, period))?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let opts = SiteOptions {
        limits: unlimited(),
        ..SiteOptions::default()
    };
    let app = router(store, sealer, opts);
    let server = std::thread::spawn(move || {
        server_rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let _ = ready_tx.send(listener.local_addr()?);
            serve(listener, app, async move {
                let _ = stop_rx.await;
            })
            .await
        })
    });
    let addr = ready_rx
        .recv_timeout(Duration::from_secs(10))
        .context("the bench server did not start")?;
    let base = format!("http://{addr}");
    let client_rt = rt(2, "bench-load")?;
    let result = client_rt.block_on(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(CONNECTIONS)
            .build()?;
        let mut tokens = Vec::new();
        for n in 0..carriers {
            let c = demo::demo_carrier(n);
            let r = http
                .post(format!("{base}/v1/carrier/login"))
                .json(&serde_json::json!({"carrier_type": "3J0002", "carrier_id": c.id, "verification_code": code}))
                .send()
                .await?;
            let v: serde_json::Value = r.json().await?;
            let t = v["token"].as_str().ok_or_else(|| anyhow!("login failed: {v}"))?;
            tokens.push(t.to_string());
        }
        let tokens = Arc::new(tokens);
        let url = Arc::new(format!("{base}/v1/carrier/invoices?period={period}"));
        // Open loop: one request every 1/rate seconds, whatever the answers do;
        // at most CONNECTIONS at once, latency counted from when each was due.
        let total = (a.rate * a.seconds) as usize;
        let started = Instant::now();
        let rows = Arc::new(AtomicUsize::new(0));
        let short = Arc::new(AtomicUsize::new(0));
        let answers = open_loop(a.rate as f64, total, CONNECTIONS, |i| {
            let (http, tokens, url, rows) = (http.clone(), tokens.clone(), url.clone(), rows.clone());
            let (short, expected) = (short.clone(), expected.clone());
            async move {
                let r = http
                    .get(url.as_str())
                    .bearer_auth(&tokens[i % tokens.len()])
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 200 => {
                        let v: serde_json::Value = r.json().await.unwrap_or_default();
                        let got = v["invoices"].as_array().map_or(0, Vec::len);
                        rows.fetch_add(got, Ordering::Relaxed);
                        if (got as u64) < expected[i % expected.len()] {
                            short.fetch_add(1, Ordering::Relaxed);
                        }
                        None
                    }
                    Ok(r) => Some(format!("http_{}", r.status().as_u16())),
                    Err(e) if e.is_connect() => Some("connect".to_string()),
                    Err(e) if e.is_timeout() => Some("timeout".to_string()),
                    Err(_) => Some("other".to_string()),
                }
            }
        })
        .await?;
        let expected_total: u64 = (0..total).map(|i| expected[i % expected.len()]).sum();
        let mut lat = Vec::with_capacity(total);
        let mut errors = 0usize;
        let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
        for (l, outcome) in answers {
            lat.push(l);
            if let Some(kind) = outcome {
                errors += 1;
                *kinds.entry(kind).or_default() += 1;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        lat.sort_by(f64::total_cmp);
        anyhow::Ok(serde_json::json!({
            "invoices_stored": a.invoices,
            "target_qps": a.rate,
            "queries": total,
            "achieved_qps": (total as f64 / secs).round(),
            "p50_ms": (percentile(&lat, 0.5) * 100.0).round() / 100.0,
            "p99_ms": (percentile(&lat, 0.99) * 100.0).round() / 100.0,
            "max_ms": (lat.last().copied().unwrap_or(0.0) * 100.0).round() / 100.0,
            "errors": errors,
            "errors_by_kind": kinds,
            "invoices_returned_per_query": (rows.load(Ordering::Relaxed) as f64 / total.max(1) as f64 * 10.0).round() / 10.0,
            "invoices_expected_per_query": (expected_total as f64 / total.max(1) as f64 * 10.0).round() / 10.0,
            "invoices_returned": rows.load(Ordering::Relaxed),
            "short_answers": short.load(Ordering::Relaxed),
        }))
    })?;
    let _ = stop_tx.send(());
    server
        .join()
        .map_err(|_| anyhow!("the bench server panicked"))??;
    let mut result = result;
    result["read_path"] = read_paths;
    result["seeding_s"] = seeding_s.map(|s| (s * 10.0).round() / 10.0).into();
    Ok(result)
}

/// The exit status of `bench query`: a run that got errors, whose queries
/// returned no invoice at all, or where a carrier got fewer invoices than
/// were seeded on it measured nothing worth reporting.
fn query_verdict(result: &serde_json::Value) -> ExitCode {
    let errors = result["errors"].as_u64().unwrap_or(u64::MAX);
    let returned = result["invoices_returned"].as_u64().unwrap_or(0);
    let short = result["short_answers"].as_u64().unwrap_or(u64::MAX);
    if errors > 0 {
        eprintln!("bench query: {errors} queries failed");
    }
    if returned == 0 {
        eprintln!("bench query: the queries returned no invoice: nothing was measured");
    }
    if short > 0 {
        eprintln!(
            "bench query: {short} answers held fewer invoices than were seeded on their carrier"
        );
    }
    if errors == 0 && returned > 0 && short == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Rounds over the queried carriers in the in-process read-path comparison.
const READ_PATH_ROUNDS: u64 = 5;

/// The store's carrier read path (the projection) against the old path that
/// decodes every invoice's canonical body, in process, interleaved call by
/// call over the queried carriers: medians and their ratio. Both must return
/// the same rows.
async fn compare_read_paths<S: Store>(
    store: &S,
    carriers: u64,
    period: Period,
) -> anyhow::Result<serde_json::Value> {
    let mut projection = Vec::new();
    let mut decoding = Vec::new();
    let mut rows = 0usize;
    for round in 0..READ_PATH_ROUNDS {
        for n in 0..carriers {
            let carrier = demo::demo_carrier(n);
            let t = Instant::now();
            let new = store.carrier_invoice_rows(&carrier, period).await?;
            projection.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            let old: Vec<CarrierInvoice> = store
                .carrier_invoices(&carrier, period)
                .await?
                .iter()
                .map(CarrierInvoice::from_view)
                .collect();
            decoding.push(t.elapsed().as_secs_f64() * 1e6);
            if round == 0 && new != old {
                bail!("the read projection and the ledger bodies disagree on carrier {n}");
            }
            rows += new.len();
        }
    }
    projection.sort_by(f64::total_cmp);
    decoding.sort_by(f64::total_cmp);
    let (p, d) = (percentile(&projection, 0.5), percentile(&decoding, 0.5));
    Ok(serde_json::json!({
        "calls": projection.len(),
        "invoices_per_call": (rows as f64 / projection.len().max(1) as f64 * 10.0).round() / 10.0,
        "projection_p50_us": (p * 10.0).round() / 10.0,
        "body_decoding_p50_us": (d * 10.0).round() / 10.0,
        "speedup_vs_body_decoding": (d / p.max(1e-9) * 100.0).round() / 100.0,
    }))
}

/// Whether the plan's invoices are in the store: its first, middle and last
/// invoice. Seeding appends in order and a re-run is idempotent, so an
/// interrupted seeding lacks the last one and the next run completes it. The
/// ledger's entry count says nothing: provisioning writes track entries.
async fn invoices_present<S: Store>(
    store: &S,
    generator: &InvoiceGen,
    invoices: u64,
) -> anyhow::Result<bool> {
    if invoices == 0 {
        return Ok(true);
    }
    for i in [0, invoices / 2, invoices - 1] {
        let inv = generator.invoice(i);
        let number = InvoiceNumber::parse(&inv.number).map_err(|v| anyhow!("{v}"))?;
        if store
            .invoice(&Scope::All, inv.seller, number)
            .await?
            .is_none()
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// How many of the plan's `invoices` are on each of the first `carriers`
/// demo carriers (index `n` is `demo_carrier(n)`), counted from the
/// generator on every core.
fn expected_per_carrier(generator: &InvoiceGen, invoices: u64, carriers: u64) -> Vec<u64> {
    let index: std::collections::HashMap<String, usize> = (0..carriers)
        .map(|n| (demo::demo_carrier(n).id, n as usize))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let chunk = invoices.div_ceil(threads).max(1);
    let counts: Vec<Vec<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let index = &index;
                s.spawn(move || {
                    let mut c = vec![0u64; carriers as usize];
                    for i in (t * chunk).min(invoices)..((t + 1) * chunk).min(invoices) {
                        if let Some(n) = generator.invoice(i).carrier.and_then(|id| index.get(&id))
                        {
                            c[*n] += 1;
                        }
                    }
                    c
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut total = vec![0u64; carriers as usize];
    for c in counts {
        for (t, x) in total.iter_mut().zip(c) {
            *t += x;
        }
    }
    total
}
