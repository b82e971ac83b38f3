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
    assert_eq!(v["broken"]["code"], "BODY_DIGEST_MISMATCH");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A copy of a ledger with withheld bodies (format v2): `ledger verify`
/// reports them as withheld (count, runs, a line on stderr) and exits 0;
/// `export` carries them and `import` into another directory verifies them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withheld_bodies_are_reported_exported_and_imported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b, file) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("site.jsonl"),
    );
    let src = SqliteStore::open(&tmp.path().join("src.db"), "main").expect("open");
    src.append(&Scope::All, "t", vec![allocation(SELLER_A)])
        .await
        .expect("a");
    for n in 1..=3 {
        src.append_event(einvoice_store::NewEntry {
            kind: "ADMIN".into(),
            key: format!("k{n}"),
            actor: "operator:alice".into(),
            body: format!("{{\"n\":{n}}}").into_bytes(),
        })
        .await
        .expect("event");
    }
    let copy: Vec<_> = src
        .entries("main", 0, 10)
        .await
        .expect("entries")
        .into_iter()
        .map(|e| match e.seq {
            2 | 3 => e.withheld_copy().expect("v2"),
            _ => e,
        })
        .collect();
    std::fs::create_dir_all(&a).expect("dir");
    SqliteStore::open(&a.join("einvoice.db"), "main")
        .expect("open a")
        .import_site(einvoice_store::SiteRecords::default(), copy)
        .await
        .expect("import the copy");

    let out = bin()
        .args(["ledger", "verify", "--data"])
        .arg(&a)
        .output()
        .expect("run");
    let v = ok(&out);
    assert_eq!(
        (
            v["entries"].as_u64(),
            v["broken"].is_null(),
            v["withheld"].as_u64()
        ),
        (Some(4), true, Some(2))
    );
    assert_eq!(v["withheld_runs"], serde_json::json!([[2, 3]]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 of 4 good entries have their body withheld"),
        "{err}"
    );

    assert_success(
        &bin()
            .args(["export", "--data"])
            .arg(&a)
            .arg("--out")
            .arg(&file)
            .output()
            .expect("export"),
    );
    let text = std::fs::read_to_string(&file).expect("file");
    assert_eq!(text.matches("\"withheld\":true").count(), 2);
    let imported = ok(&bin()
        .args(["import", "--data"])
        .arg(&b)
        .arg("--in")
        .arg(&file)
        .output()
        .expect("import"));
    assert_eq!(imported["verified"], true);
    let v = ok(&bin()
        .args(["ledger", "verify", "--data"])
        .arg(&b)
        .output()
        .expect("run"));
    assert_eq!(
        (v["entries"].as_u64(), v["withheld"].as_u64()),
        (Some(4), Some(2))
    );
}
