//! The shared conformance suite on SQLite, plus SQLite-only checks.

use einvoice_store::Store;
use einvoice_store_sqlite::SqliteStore;
use std::path::PathBuf;

fn fresh_path() -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("einvoice-sqlite-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("einvoice.db")
}

async fn fresh() -> SqliteStore {
    SqliteStore::open(&fresh_path(), "main").expect("open")
}

einvoice_store::store_conformance!(fresh());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_the_first_tampered_entry() {
    use einvoice_store::conformance::{SELLER_A, allocation, invoice};
    let s = fresh().await;
    let scope = einvoice_store::Scope::All;
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
    s.tamper_for_tests("main", 3).await.expect("tamper");
    let v = s.verify_ledger("main").await.expect("verify");
    let broken = v.broken.expect("broken link found");
    assert_eq!((broken.seq, broken.code.as_str()), (3, "HASH_MISMATCH"));
    assert_eq!(v.entries, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_continues_the_chain() {
    use einvoice_store::conformance::{SELLER_A, allocation, invoice};
    let path = fresh_path();
    {
        let s = SqliteStore::open(&path, "main").expect("open");
        s.append(&einvoice_store::Scope::All, "t", vec![allocation(SELLER_A)])
            .await
            .expect("a");
    }
    let s = SqliteStore::open(&path, "main").expect("reopen");
    let out = s
        .append(
            &einvoice_store::Scope::All,
            "t",
            vec![invoice(SELLER_A, "AB00000001", "1234", 10)],
        )
        .await
        .expect("i");
    assert_eq!(out[0].as_ref().map(|r| r.seq).ok(), Some(2));
    assert_eq!(s.verify_ledger("main").await.expect("v").broken, None);
}

/// A trigger makes the ledger refuse every insert: a freeze and a winners
/// load, whose entries then fail after their rows were written, leave
/// nothing behind (their job's savepoint rolls back with the chain head).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draw_puts_roll_back_with_their_entry() {
    let path = fresh_path();
    let s = SqliteStore::open(&path, "main").expect("open");
    let sql = |q: &'static str| {
        let path = path.clone();
        async move {
            let c = rusqlite::Connection::open(&path).expect("open");
            c.busy_timeout(std::time::Duration::from_secs(5))
                .expect("busy timeout");
            c.execute_batch(q).expect(q);
        }
    };
    einvoice_store::conformance::draw_puts_roll_back_with_their_entry(
        s,
        || {
            sql("CREATE TRIGGER ledger_refuses BEFORE INSERT ON ledger \
                 BEGIN SELECT RAISE(ABORT, 'the ledger refuses (test)'); END")
        },
        || sql("DROP TRIGGER ledger_refuses"),
    )
    .await;
}
