//! `bench winners`: a national-size `Store::put_winners` — synthetic winner
//! lines, their notifications and their `DRAW_WINNERS` entry in one
//! transaction — into a fresh store per run (a SQLite file in a temporary
//! folder, or a fresh schema of a PostgreSQL database), next to a ceiling
//! measured in the same run: the same lines and notifications written raw
//! into tables without any index. The lines and their ledger entry are
//! `einvoice_draw::synth`'s.

use super::store_args::{DatabaseUrl, is_postgres_uri, runtime};
use anyhow::{Context, anyhow, bail};
use clap::Args;
use einvoice_core::Period;
use einvoice_store::{DrawPut, OutboxItem, Store, WinnersLoad, winner_notifications};
use einvoice_store_postgres::PgStore;
use einvoice_store_sqlite::SqliteStore;
use serde::Serialize;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `einvoice bench winners`
#[derive(Args)]
pub struct BenchWinnersArgs {
    /// Winner lines per load (a national draw has about 4 000 000).
    #[arg(long, default_value_t = 1_000_000)]
    pub lines: u64,
    /// Loads timed, each into a fresh store; medians are printed.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Database (`postgres://…` or `host=… dbname=…`); each run loads into
    /// a fresh schema that is dropped afterwards. SQLite in a temporary
    /// folder when absent.
    #[arg(long, value_name = "URL")]
    pub database: Option<DatabaseUrl>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Load `load` into `s` and time the call; check what it stored.
async fn timed_load<S: Store>(s: &S, load: WinnersLoad) -> anyhow::Result<Duration> {
    let entry = einvoice_draw::synth::winners_entry(&load);
    let (period, lines) = (load.period, load.winners.len() as u64);
    let started = Instant::now();
    let outcome = s
        .put_winners(load, entry)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let elapsed = started.elapsed();
    if outcome != DrawPut::Stored {
        bail!("the bench load was not stored: {outcome:?}");
    }
    let summary = s
        .winners_summary(period)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("the bench load left no summary"))?;
    let verdict = s
        .verify_ledger(s.site())
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if summary.lines != lines || verdict.entries != 1 || verdict.broken.is_some() {
        bail!(
            "the bench load stored {} lines (of {lines}) and {} ledger entries (broken: {:?})",
            summary.lines,
            verdict.entries,
            verdict.broken
        );
    }
    Ok(elapsed)
}

/// `url` with its sessions' `search_path` set to `schema`.
pub(crate) fn with_search_path(url: &str, schema: &str) -> anyhow::Result<String> {
    if url.contains("options") {
        bail!("--database must not set options: the bench sets search_path");
    }
    Ok(if is_postgres_uri(url) {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-c%20search_path%3D{schema}")
    } else {
        format!("{url} options='-c search_path={schema}'")
    })
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// One timed run.
#[derive(Debug, Clone, Serialize)]
struct RunTimes {
    load_s: f64,
    ceiling_s: f64,
}

async fn run_sqlite(load: &WinnersLoad, notes: &[OutboxItem]) -> anyhow::Result<RunTimes> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let store =
        SqliteStore::open(&dir.path().join("einvoice.db"), "bench").map_err(|e| anyhow!("{e}"))?;
    let load_s = timed_load(&store, load.clone()).await?.as_secs_f64();
    drop(store);
    let ceiling = einvoice_store_sqlite::ceiling::raw_winners_ceiling(
        &dir.path().join("ceiling.db"),
        load.period.key(),
        &load.winners,
        notes,
    )
    .map_err(|e| anyhow!("{e}"))?;
    Ok(RunTimes {
        load_s,
        ceiling_s: ceiling.as_secs_f64(),
    })
}

async fn run_postgres(
    url: &str,
    run: usize,
    load: &WinnersLoad,
    notes: &[OutboxItem],
) -> anyhow::Result<RunTimes> {
    let c =
        einvoice_store_postgres::tls::pg_connect_config(url).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (admin, conn) = c
        .config
        .connect(c.tls)
        .await
        .context("cannot connect to --database")?;
    let driver = tokio::spawn(conn);
    let schema = format!("bench_winners_{}_{run}", std::process::id());
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await?;
    let at = with_search_path(url, &schema)?;
    let result = async {
        let store = PgStore::connect(&at, "bench")
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let load_s = timed_load(&store, load.clone()).await?.as_secs_f64();
        drop(store);
        let pk = i32::try_from(load.period.key())?;
        let ceiling =
            einvoice_store_postgres::ceiling::raw_winners_ceiling(&at, pk, &load.winners, notes)
                .await
                .map_err(|e| anyhow!("{e}"))?;
        anyhow::Ok(RunTimes {
            load_s,
            ceiling_s: ceiling.as_secs_f64(),
        })
    }
    .await;
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await?;
    drop(admin);
    let _ = driver.await;
    result
}

/// Run `bench winners`.
pub fn bench_winners(a: BenchWinnersArgs) -> anyhow::Result<ExitCode> {
    if a.lines == 0 || a.runs == 0 {
        bail!("--lines and --runs must be positive");
    }
    let period = Period::parse("11410").map_err(|v| anyhow!("{v}"))?;
    let load = einvoice_draw::synth::winners_load(period, a.lines, 0x5EED);
    let notes = winner_notifications(&load);
    let notifications = notes.len();
    let rt = runtime()?;
    let mut runs = Vec::with_capacity(a.runs);
    for run in 0..a.runs {
        let times = rt.block_on(async {
            match &a.database {
                None => run_sqlite(&load, &notes).await,
                Some(url) => run_postgres(url.as_str(), run, &load, &notes).await,
            }
        })?;
        if !a.json {
            eprintln!(
                "run {}: load {:.2} s, ceiling {:.2} s",
                run + 1,
                times.load_s,
                times.ceiling_s
            );
        }
        runs.push(times);
    }
    let load_s = median(&runs.iter().map(|r| r.load_s).collect::<Vec<_>>());
    let ceiling_s = median(&runs.iter().map(|r| r.ceiling_s).collect::<Vec<_>>());
    let lines = a.lines as f64;
    let store = if a.database.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let out = serde_json::json!({
        "store": store,
        "lines": a.lines,
        "notifications": notifications,
        "runs": runs,
        "load_s": (load_s * 1000.0).round() / 1000.0,
        "lines_per_s": (lines / load_s.max(1e-9)).round(),
        "ceiling_s": (ceiling_s * 1000.0).round() / 1000.0,
        "ceiling_lines_per_s": (lines / ceiling_s.max(1e-9)).round(),
        "ratio_to_ceiling": ((ceiling_s / load_s.max(1e-9)) * 1000.0).round() / 1000.0,
    });
    if a.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!(
            "{store}: put_winners of {} lines ({notifications} notifications, 1 ledger entry) in one transaction",
            a.lines
        );
        println!(
            "load: {load_s:.2} s, {:.0} lines/s (median of {})",
            lines / load_s.max(1e-9),
            a.runs
        );
        println!(
            "ceiling (the same lines and notifications into tables without indexes, one transaction): {ceiling_s:.2} s, {:.0} lines/s",
            lines / ceiling_s.max(1e-9)
        );
        println!("ratio to ceiling {:.3}", ceiling_s / load_s.max(1e-9));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_goes_into_either_url_form() {
        assert_eq!(
            with_search_path("postgres://u@h/db", "s").expect("url"),
            "postgres://u@h/db?options=-c%20search_path%3Ds"
        );
        assert_eq!(
            with_search_path("postgres://u@h/db?sslmode=disable", "s").expect("url"),
            "postgres://u@h/db?sslmode=disable&options=-c%20search_path%3Ds"
        );
        assert_eq!(
            with_search_path("host=/tmp dbname=db", "s").expect("kv"),
            "host=/tmp dbname=db options='-c search_path=s'"
        );
        assert!(with_search_path("host=/tmp options=x", "s").is_err());
    }
}
