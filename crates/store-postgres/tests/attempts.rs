//! Login attempt budgets on PostgreSQL (the shared conformance check): the
//! conditional upserts count concurrent attempts one after the other.

use einvoice_store_postgres::PgStore;
use einvoice_store_postgres::pg_harness::PgCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attempts_are_counted_atomically() {
    let url = PgCluster::shared()
        .create_database()
        .await
        .expect("create a test database");
    let s = PgStore::connect(&url, "main").await.expect("connect");
    einvoice_store::conformance::attempts_are_counted_atomically(s).await;
}
