//! `bench query`: a small run on a fresh directory (or PostgreSQL database)
//! must seed, query real invoices, say so and report its bytes per invoice;
//! a run whose queries return nothing must fail.

mod common;

use common::bin;
use serde_json::Value;
use std::process::Output;

fn bench_query(invoices: u64, data: Option<&std::path::Path>) -> Output {
    bench_query_on(invoices, data, None)
}

fn bench_query_on(invoices: u64, data: Option<&std::path::Path>, database: Option<&str>) -> Output {
    let mut cmd = bin();
    cmd.args([
        "bench",
        "query",
        "--json",
        "--invoices",
        &invoices.to_string(),
        "--rate",
        "100",
        "--seconds",
        "1",
        "--carriers",
        "10",
    ]);
    if let Some(d) = data {
        cmd.arg("--data").arg(d);
    }
    if let Some(url) = database {
        cmd.arg("--database").arg(url);
    }
    cmd.output().expect("run einvoice bench query")
}

fn report(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("null")).unwrap_or(Value::Null)
}

#[test]
fn a_fresh_directory_is_seeded_and_queries_return_invoices() {
    // 2,000 invoices over 100 carriers, 60 % on a carrier: ~12 per carrier.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bench_query(2_000, Some(dir.path()));
    let r = report(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{r}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let per_query = r["invoices_returned_per_query"].as_f64().expect("{r}");
    assert!(
        per_query >= 5.0,
        "queries returned {per_query} invoices: {r}"
    );
    assert_eq!(
        r["invoices_returned_per_query"], r["invoices_expected_per_query"],
        "{r}"
    );
    assert_eq!(r["short_answers"], 0, "{r}");
    assert_eq!(r["errors"], 0, "{r}");

    // The directory is reused as is: no second seeding, same answers.
    let again = bench_query(2_000, Some(dir.path()));
    let r2 = report(&again);
    assert_eq!(again.status.code(), Some(0), "{r2}");
    assert_eq!(r2["invoices_returned"], r["invoices_returned"], "{r2}");
}

#[test]
fn a_run_whose_queries_return_nothing_fails() {
    let out = bench_query(0, None);
    let r = report(&out);
    assert_eq!(r["invoices_returned"], 0, "{r}");
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("returned no invoice"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_postgres_database_is_seeded_queried_and_measured() {
    let url = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(einvoice_store_postgres::pg_harness::PgCluster::shared().create_database())
        .expect("a test database");
    let out = bench_query_on(2_000, None, Some(&url));
    let r = report(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{r}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(r["store"], "postgres", "{r}");
    assert_eq!(
        r["invoices_returned_per_query"], r["invoices_expected_per_query"],
        "{r}"
    );
    assert_eq!(
        (r["errors"].as_u64(), r["short_answers"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    // Every table counted, the ledger and the invoice partition among them.
    let tables = r["bytes_by_table"].as_object().expect("{r}");
    assert!(
        tables.contains_key("ledger") && tables.contains_key("invoices"),
        "{r}"
    );
    let per_invoice = r["bytes_per_invoice"].as_f64().expect("{r}");
    assert!(per_invoice > 100.0, "{r}");
}
