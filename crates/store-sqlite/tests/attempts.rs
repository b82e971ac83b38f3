//! Login attempt budgets on SQLite (the shared conformance check).

use einvoice_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attempts_are_counted_atomically() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = SqliteStore::open(&dir.path().join("einvoice.db"), "main").expect("open");
    einvoice_store::conformance::attempts_are_counted_atomically(s).await;
}
