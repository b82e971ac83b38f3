//! Two API nodes, one PostgreSQL database, over real HTTP: invoices submitted
//! to either are readable from both, a duplicate across nodes answers exactly
//! as on one node, the ledger verifies; a database outage makes the API
//! answer 503 with `Retry-After` quickly, and it recovers by itself.
//! Runs its own throw-away cluster (it stops and restarts it).

mod common;

use einvoice_secrets::Sealer;
use einvoice_server::{SiteOptions, router, sign};
use einvoice_store::conformance::{SELLER_A, allocation, invoice};
use einvoice_store::{Scope, Store};
use einvoice_store_postgres::pg_harness::PgCluster;
use einvoice_store_postgres::{PgOptions, PgStore};
use serde_json::Value;
use std::time::{Duration, Instant};

const SECRET: &str = "two-node-secret";

async fn node(url: &str, sealer: &Sealer) -> (String, PgStore) {
    let mut o = PgOptions::new(url, "main");
    o.statement_timeout = Duration::from_secs(2);
    o.operation_timeout = Duration::from_secs(3);
    o.pool_wait_timeout = Duration::from_secs(1);
    o.connect_timeout = Duration::from_secs(1);
    let store = PgStore::connect_with(o).await.expect("connect");
    let app = router(store.clone(), sealer.clone(), SiteOptions::default());
    (common::serve_on_port_0(app).await, store)
}

async fn signed(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (u16, Value, Option<String>) {
    let req = common::signed_request(
        http,
        base,
        "KA",
        SECRET,
        method,
        path,
        body,
        common::now(),
        &sign::fresh_nonce(),
    )
    .header("content-type", "application/json");
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let v = r.json().await.unwrap_or(Value::Null);
    (status, v, retry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_one_database_and_an_outage() {
    let cluster = PgCluster::start().expect("start a PostgreSQL cluster");
    let url = cluster.create_database().await.expect("database");
    let sealer = Sealer::new(&[5u8; 32]);
    let (a, store) = node(&url, &sealer).await;
    let (b, _) = node(&url, &sealer).await;
    store
        .append(&Scope::All, "test", vec![allocation(SELLER_A)])
        .await
        .expect("allocate");
    common::put_api_key(&store, &sealer, "KA", SECRET, &[SELLER_A]).await;
    let http = reqwest::Client::new();
    let body = |n: u32, total: u32| {
        einvoice_mig::encode_json(&invoice(SELLER_A, &format!("AB{n:08}"), "1234", total).message)
    };
    // Invoices submitted to both nodes; every one readable from both.
    for n in 1..=10u32 {
        let node = if n % 2 == 0 { &a } else { &b };
        let (s, v, _) = signed(&http, node, "POST", "/v1/messages", body(n, 100)).await;
        assert_eq!(s, 201, "{v}");
    }
    for n in 1..=10u32 {
        for node in [&a, &b] {
            let path = format!("/v1/sellers/{SELLER_A}/invoices/AB{n:08}");
            let (s, v, _) = signed(&http, node, "GET", &path, Vec::new()).await;
            assert_eq!(s, 200, "{node}{path}: {v}");
        }
    }
    // The same invoice at both nodes: one receipt; a changed one is a conflict naming it.
    let (s1, r1, _) = signed(&http, &a, "POST", "/v1/messages", body(20, 50)).await;
    let (s2, r2, _) = signed(&http, &b, "POST", "/v1/messages", body(20, 50)).await;
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(r1["hash"], r2["hash"]);
    assert_eq!(r2["duplicate"], true);
    let (s3, r3, _) = signed(&http, &b, "POST", "/v1/messages", body(20, 51)).await;
    assert_eq!(s3, 409);
    assert_eq!(r3["code"], "DUPLICATE_CONFLICT");
    assert_eq!(r3["original"]["hash"], r1["hash"]);
    let verdict = store.verify_ledger("main").await.expect("verify");
    assert!(verdict.broken.is_none(), "{verdict:?}");

    // Outage: 503 + Retry-After, fast, from both nodes; then recovery by itself.
    cluster.stop().expect("stop");
    for node in [&a, &b] {
        let t = Instant::now();
        let (s, v, retry) = signed(&http, node, "POST", "/v1/messages", body(30, 10)).await;
        assert_eq!(s, 503, "{v}");
        assert_eq!(v["code"], "STORE_UNAVAILABLE");
        assert!(retry.is_some(), "Retry-After is set");
        assert!(
            t.elapsed() < Duration::from_secs(6),
            "answered in {:?}",
            t.elapsed()
        );
        let r = http
            .get(format!("{node}/readyz"))
            .send()
            .await
            .expect("readyz");
        assert_eq!(r.status().as_u16(), 503);
    }
    cluster.resume().expect("resume");
    let started = Instant::now();
    loop {
        let (s, v, _) = signed(&http, &a, "POST", "/v1/messages", body(30, 10)).await;
        if s == 201 || s == 200 {
            break;
        }
        assert_eq!(s, 503, "{v}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (s, v, _) = signed(
        &http,
        &b,
        "GET",
        &format!("/v1/sellers/{SELLER_A}/invoices/AB00000030"),
        Vec::new(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let verdict = store.verify_ledger("main").await.expect("verify");
    assert!(verdict.broken.is_none(), "{verdict:?}");
}
