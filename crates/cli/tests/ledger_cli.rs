//! `migrate`, `ledger verify` and `ledger tail` on a SQLite data directory.

use einvoice_store::conformance::{SELLER_A, allocation, invoice};
use einvoice_store::{Scope, Store};
use einvoice_store_sqlite::SqliteStore;

mod common;

use common::{assert_success, bin, ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_tail_a_real_ledger_then_catch_tampering() {
    let dir = std::env::temp_dir().join(format!("einvoice-store-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = bin()
        .args(["migrate", "--data"])
        .arg(&dir)
        .output()
        .expect("run");
    assert_success(&out);
    {
        let s = SqliteStore::open(&dir.join("einvoice.db"), "main").expect("open");
        s.append(&Scope::All, "t", vec![allocation(SELLER_A)])
            .await
            .expect("a");
        for i in 1..=4 {
            s.append(
                &Scope::All,
                "t",
                vec![invoice(SELLER_A, &format!("AB0000000{i}"), "1234", 10)],
            )
            .await
            .expect("i");
        }
    }
    let out = bin()
        .args(["ledger", "verify", "--data"])
        .arg(&dir)
        .output()
        .expect("run");
    let v = ok(&out);
    assert_eq!(
        (v["entries"].as_u64(), v["broken"].is_null()),
        (Some(5), true)
    );

    let out = bin()
        .args(["ledger", "tail", "--after", "3", "--data"])
        .arg(&dir)
        .output()
        .expect("run");
    let seqs: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["seq"]
                .as_u64()
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(seqs, vec![4, 5]);

    SqliteStore::open(&dir.join("einvoice.db"), "main")
        .expect("open")
        .tamper_for_tests("main", 2)
        .await
        .expect("tamper");
    let out = bin()
        .args(["ledger", "verify", "--data"])
        .arg(&dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["broken"]["seq"], 2);
    assert_eq!(v["broken"]["code"], "HASH_MISMATCH");
    let _ = std::fs::remove_dir_all(&dir);
}
