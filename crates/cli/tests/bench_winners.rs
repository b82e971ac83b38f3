//! `bench winners`: a small load on both backends (the command works and
//! reports what it loaded), and — ignored, for measuring — national-size
//! loads on both (`EINVOICE_BENCH_LINES`, default 1 000 000; run with
//! `cargo test --release -p einvoice-cli --test bench_winners -- --ignored --nocapture`).

use einvoice_store_postgres::pg_harness::PgCluster;
use std::process::Command;

fn bench(lines: u64, runs: usize, database: Option<&str>, json: bool) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_einvoice"));
    c.args([
        "bench",
        "winners",
        "--lines",
        &lines.to_string(),
        "--runs",
        &runs.to_string(),
    ]);
    if let Some(url) = database {
        c.args(["--database", url]);
    }
    if json {
        c.arg("--json");
    }
    let out = c.output().expect("run einvoice");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn report(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).expect("one JSON object")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_load_on_both_backends() {
    let url = PgCluster::shared()
        .create_database()
        .await
        .expect("database");
    for database in [None, Some(url.as_str())] {
        let r = report(&bench(3_000, 2, database, true));
        assert_eq!(r["lines"], 3_000);
        assert_eq!(r["runs"].as_array().map(Vec::len), Some(2));
        let n = r["notifications"].as_u64().expect("notifications");
        assert!((2_000..2_400).contains(&n), "{n}");
        assert!(r["lines_per_s"].as_f64().expect("rate") > 0.0);
    }
    // Every run's schema was dropped.
    let db = url.rsplit("dbname=").next().expect("dbname");
    let c = PgCluster::shared().client(db).await.expect("client");
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'bench_winners_%'",
            &[],
        )
        .await
        .expect("schemas")
        .get(0);
    assert_eq!(left, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: minutes; run with --release --ignored --nocapture"]
async fn national_size_loads() {
    let lines: u64 = std::env::var("EINVOICE_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = std::env::var("EINVOICE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let url = PgCluster::shared()
        .create_database()
        .await
        .expect("database");
    println!("{}", bench(lines, runs, None, false));
    println!("{}", bench(lines, runs, Some(&url), false));
}
