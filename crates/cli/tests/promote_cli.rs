//! `einvoice site promote`: a standby holding main's chain becomes main; it
//! records the promotion in its own origin and continues there after the
//! last entry of main it holds.

use einvoice_store::conformance::{SELLER_A, allocation, invoice};
use einvoice_store::{Scope, SiteRecords, Store};
use einvoice_store_sqlite::SqliteStore;
use std::path::Path;

mod common;

use common::{bin, ok};

const STANDBY_TOML: &str = "# the standby of the demo deployment\nsite = \"standby\"\nrole = \"standby\" # until promoted\nmain_url = \"https://main.example\"\n";

/// Main's entries (an allocation, an invoice, an operator event), copied to a standby at
/// `dir` (as sync would), with `withhold` of them withheld.
async fn standby(dir: &Path, withhold: &[u64]) -> Vec<einvoice_store::LedgerEntry> {
    let main = SqliteStore::open(&dir.join("main.db"), "main").expect("main");
    main.append(&Scope::All, "t", vec![allocation(SELLER_A)])
        .await
        .expect("a");
    main.append(
        &Scope::All,
        "t",
        vec![invoice(SELLER_A, "AB00000001", "1234", 10)],
    )
    .await
    .expect("i");
    main.append_event(einvoice_store::NewEntry {
        kind: "ADMIN".into(),
        key: "seller/04595257".into(),
        actor: "operator:alice".into(),
        body: br#"{"action":"put_seller"}"#.to_vec(),
    })
    .await
    .expect("event");
    let entries = main.entries("main", 0, 10).await.expect("entries");
    let copy = entries
        .iter()
        .map(|e| {
            if withhold.contains(&e.seq) {
                e.withheld_copy().expect("v2")
            } else {
                e.clone()
            }
        })
        .collect();
    let data = dir.join("standby");
    std::fs::create_dir_all(&data).expect("dir");
    std::fs::write(data.join("einvoice.toml"), STANDBY_TOML).expect("config");
    SqliteStore::open(&data.join("einvoice.db"), "standby")
        .expect("standby")
        .import_site(SiteRecords::default(), copy)
        .await
        .unwrap_or_else(|e| panic!("copy: {e}"));
    entries
}

fn promote(data: &Path) -> std::process::Output {
    bin()
        .args(["site", "promote", "--data"])
        .arg(data)
        .output()
        .expect("run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_is_promoted_and_continues_on_its_own_origin() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let main = standby(tmp.path(), &[]).await;
    let data = tmp.path().join("standby");
    let out = ok(&promote(&data));
    assert_eq!(out["role"], "main");
    assert_eq!(out["entry"]["origin"], "standby");
    assert_eq!(out["entry"]["seq"], 1);
    assert_eq!(out["entry"]["holds"]["main"]["seq"], 3);
    assert_eq!(out["entry"]["holds"]["main"]["head"], main[2].hash.to_hex());

    let text = std::fs::read_to_string(data.join("einvoice.toml")).expect("config");
    assert!(
        text.starts_with("# the standby of the demo deployment\n"),
        "{text}"
    );
    assert!(text.contains("role = \"main\""), "{text}");
    assert!(!text.contains("main_url"), "{text}");
    let cfg = einvoice_server::FileConfig::from_toml(&text).expect("config");
    assert_eq!(cfg.role, einvoice_server::role::Role::Main);
    cfg.check().expect("a valid main configuration");

    // Main's chain is untouched; the promotion is entry 1 of the site's own origin.
    let s = SqliteStore::open(&data.join("einvoice.db"), "standby").expect("open");
    assert_eq!(s.entries("main", 0, 10).await.expect("main"), main);
    let own = s.entries("standby", 0, 10).await.expect("own");
    assert_eq!((own.len(), own[0].kind.as_str()), (1, "SITE_PROMOTED"));
    // Main-only operations now append to the promoted site's origin, after
    // what it held of main: a resubmission of main's invoice is main's receipt.
    let again = s
        .append(
            &Scope::All,
            "t",
            vec![invoice(SELLER_A, "AB00000001", "1234", 10)],
        )
        .await
        .expect("again");
    let r = again[0].as_ref().expect("accepted");
    assert_eq!((r.origin.as_str(), r.seq, r.duplicate), ("main", 2, true));
    let next = s
        .append(
            &Scope::All,
            "t",
            vec![invoice(SELLER_A, "AB00000002", "1234", 10)],
        )
        .await
        .expect("next");
    let r = next[0].as_ref().expect("accepted");
    assert_eq!(
        (r.origin.as_str(), r.seq, r.duplicate),
        ("standby", 2, false)
    );
    drop(s);
    for origin in ["main", "standby"] {
        let v = ok(&bin()
            .args(["ledger", "verify", "--origin", origin, "--data"])
            .arg(&data)
            .output()
            .expect("verify"));
        assert!(v["broken"].is_null(), "{origin}: {v}");
    }

    // Promoting again is refused: it is main now.
    let twice = promote(&data);
    assert_eq!(twice.status.code(), Some(2));
    let err = String::from_utf8_lossy(&twice.stderr);
    assert!(err.contains("PROMOTE_NOT_STANDBY"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_without_every_body_is_not_promoted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    standby(tmp.path(), &[3]).await;
    let data = tmp.path().join("standby");
    let out = promote(&data);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PROMOTE_BODIES_WITHHELD: origin main has 1 entries"),
        "{err}"
    );
    let text = std::fs::read_to_string(data.join("einvoice.toml")).expect("config");
    assert_eq!(text, STANDBY_TOML, "the configuration is untouched");
    let s = SqliteStore::open(&data.join("einvoice.db"), "standby").expect("open");
    assert!(s.entries("standby", 0, 10).await.expect("own").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_with_a_broken_chain_is_not_promoted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    standby(tmp.path(), &[]).await;
    let data = tmp.path().join("standby");
    SqliteStore::open(&data.join("einvoice.db"), "standby")
        .expect("open")
        .tamper_for_tests("main", 2)
        .await
        .expect("tamper");
    let out = promote(&data);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PROMOTE_CHAIN_BROKEN: origin main breaks at entry 2"),
        "{err}"
    );
    let text = std::fs::read_to_string(data.join("einvoice.toml")).expect("config");
    assert_eq!(text, STANDBY_TOML, "the configuration is untouched");
}
