//! The shared conformance suite on PostgreSQL (one fresh database per test in
//! one shared throw-away cluster), plus PostgreSQL-only checks of the schema
//! and the chain.

use einvoice_store::conformance::{SELLER_A, allocation, invoice};
use einvoice_store::{Scope, Store};
use einvoice_store_postgres::pg_harness::PgCluster;
use einvoice_store_postgres::{PgStore, SCHEMA_VERSION};

async fn fresh_url() -> String {
    PgCluster::shared()
        .create_database()
        .await
        .expect("create a test database")
}

async fn fresh() -> PgStore {
    PgStore::connect(&fresh_url().await, "main")
        .await
        .expect("connect")
}

einvoice_store::store_conformance!(fresh());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_idempotent_and_versioned() {
    let url = fresh_url().await;
    let s = PgStore::connect(&url, "main").await.expect("connect");
    s.migrate().await.expect("again");
    // Several nodes connecting (and migrating) at once.
    let mut tasks = Vec::new();
    for i in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            PgStore::connect(&url, &format!("n{i}")).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await
            .expect("task")
            .expect("concurrent connect + migrate");
    }
    assert_eq!(s.schema_version().await.expect("version"), SCHEMA_VERSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_the_first_tampered_entry() {
    let url = fresh_url().await;
    let s = PgStore::connect(&url, "main").await.expect("connect");
    let scope = Scope::All;
    s.append(&scope, "t", vec![allocation(SELLER_A)])
        .await
        .expect("a");
    for i in 1..=3 {
        s.append(
            &scope,
            "t",
            vec![invoice(SELLER_A, &format!("AB0000000{i}"), "1234", 10)],
        )
        .await
        .expect("i");
    }
    let db = url.rsplit("dbname=").next().expect("dbname");
    let c = PgCluster::shared().client(db).await.expect("client");
    c.batch_execute(
        "UPDATE ledger SET body = '\\x00'::bytea || body WHERE origin = 'main' AND seq = 3",
    )
    .await
    .expect("tamper");
    let v = s.verify_ledger("main").await.expect("verify");
    let broken = v.broken.expect("broken link found");
    assert_eq!((broken.seq, broken.code.as_str()), (3, "HASH_MISMATCH"));
    assert_eq!(v.entries, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_continues_the_chain() {
    let url = fresh_url().await;
    {
        let s = PgStore::connect(&url, "main").await.expect("connect");
        s.append(&Scope::All, "t", vec![allocation(SELLER_A)])
            .await
            .expect("a");
    }
    let s = PgStore::connect(&url, "main").await.expect("reconnect");
    let out = s
        .append(
            &Scope::All,
            "t",
            vec![invoice(SELLER_A, "AB00000001", "1234", 10)],
        )
        .await
        .expect("i");
    assert_eq!(out[0].as_ref().map(|r| r.seq).ok(), Some(2));
    assert_eq!(s.verify_ledger("main").await.expect("v").broken, None);
}
