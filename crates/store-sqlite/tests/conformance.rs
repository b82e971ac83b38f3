//! The shared conformance suite on SQLite, plus SQLite-only checks.

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
    einvoice_store::conformance::verify_finds_the_first_tampered_entry(
        fresh().await,
        |s: SqliteStore, seq| async move {
            s.tamper_for_tests("main", seq).await.expect("tamper");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_continues_the_chain() {
    let path = fresh_path();
    einvoice_store::conformance::reopening_continues_the_chain(|| {
        let path = path.clone();
        async move { SqliteStore::open(&path, "main").expect("open") }
    })
    .await;
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

/// An import refuses a store holding only projection rows a sync or an
/// import rebuilds (a carrier link, a contact, an NPO row): each names its
/// table's rows, and nothing is imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_a_store_with_only_carrier_projections() {
    use einvoice_store::{SiteRecords, Store, TARGET_NOT_EMPTY};
    for (insert, what) in [
        (
            "INSERT INTO carrier_links VALUES ('1K0001:0123456789', '1K0001', '0123456789', '/ABC+123', 1, 'card', 1, 'h')",
            "carrier links",
        ),
        (
            "INSERT INTO carrier_contacts (carrier, email, phone) VALUES ('3J0002:/ABC+123', 'a@example.tw', '0912345678')",
            "carrier contacts",
        ),
        (
            "INSERT INTO npos (love_code, name, ubn) VALUES ('919', 'Fund', '12345676')",
            "NPO directory rows",
        ),
    ] {
        let path = fresh_path();
        let s = SqliteStore::open(&path, "main").expect("open");
        let c = rusqlite::Connection::open(&path).expect("open");
        c.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        c.execute_batch(insert).expect(insert);
        let e = s
            .import_site(SiteRecords::default(), Vec::new())
            .await
            .expect_err("not empty");
        let text = e.to_string();
        assert!(
            text.contains(TARGET_NOT_EMPTY) && text.contains(what),
            "{text}"
        );
    }
}
