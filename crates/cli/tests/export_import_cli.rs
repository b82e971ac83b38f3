//! `export` / `import`: a demo SQLite site moved into a throw-away PostgreSQL
//! database, verified by ledger hashes and by the same query answers; a
//! non-empty target and a changed export line are refused. The draw's data
//! (a freeze, winners, a bank account, the outbox) moves with the site, and
//! a version 1 file (written before the draw was exported) still imports.

use einvoice_core::ids::IdPolicy;
use einvoice_core::{InvoiceNumber, Ubn};
use einvoice_store::conformance::{freeze_entry, sample_winners, winners_entry};
use einvoice_store::{BankAccountRecord, DrawFreeze, OutboxOutcome, Scope, Store, WinnersLoad};
use einvoice_store_postgres::PgStore;
use einvoice_store_postgres::pg_harness::PgCluster;
use einvoice_store_sqlite::SqliteStore;
use std::path::Path;
use std::process::Output;

mod common;

use common::{bin, ok};

fn run(args: &[&str], paths: &[(&str, &Path)]) -> Output {
    let mut c = bin();
    c.args(args);
    for (flag, p) in paths {
        c.arg(flag).arg(p);
    }
    c.output().expect("run einvoice")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_site_moves_to_postgres_and_stays_verifiable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, file) = (tmp.path().join("a"), tmp.path().join("site.jsonl"));
    ok(&run(
        &["demo", "seed", "--invoices", "60", "--sellers", "2"],
        &[("--data", &a)],
    ));
    let period = einvoice_core::Period::parse("11402").expect("period");
    let carrier =
        einvoice_core::Carrier::parse(einvoice_core::CarrierType::MobileBarcode, "/ABC+123")
            .expect("carrier");
    {
        // The draw on the source site.
        let s = SqliteStore::open(&a.join("einvoice.db"), "main").expect("open");
        let freeze = DrawFreeze {
            period,
            root: "ab".repeat(32),
            rows: 60,
            actor: "alice".into(),
        };
        s.put_draw_freeze(freeze.clone(), freeze_entry(&freeze))
            .await
            .expect("freeze");
        let load = WinnersLoad {
            period,
            actor: "alice".into(),
            winners: sample_winners(),
        };
        s.put_winners(load.clone(), winners_entry(&load))
            .await
            .expect("winners");
        s.put_bank_account(BankAccountRecord {
            carrier: "3J0002:/ABC+123".into(),
            sealed: vec![3, 1, 4, 1, 5],
            masked: "***1234".into(),
            bank_code: "812".into(),
            updated_unix: 9,
        })
        .await
        .expect("account");
        let claimed = s.outbox_claim(0, 1, 1, "w").await.expect("claim");
        assert_eq!(claimed[0].id, "winner/11402/0");
        assert!(
            s.outbox_mark(
                "winner/11402/0",
                "w",
                OutboxOutcome::Failed {
                    next_unix: 100,
                    error: "HTTP 503".into(),
                },
            )
            .await
            .expect("mark")
        );
    }
    let exported = ok(&run(&["export"], &[("--data", &a), ("--out", &file)]));
    assert_eq!(exported["records"]["winners"], 4);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let source = ok(&run(&["ledger", "verify"], &[("--data", &a)]));
    assert_eq!(exported["origins"][0]["head"], source["head"]);

    // Import into an empty PostgreSQL database.
    let cluster = PgCluster::shared();
    let url = cluster.create_database().await.expect("database");
    let imported = ok(&run(&["import", "--database", &url], &[("--in", &file)]));
    assert_eq!(imported["verified"], true);
    let verdict = ok(&run(&["ledger", "verify", "--database", &url], &[]));
    assert_eq!(
        (
            &verdict["entries"],
            &verdict["head"],
            verdict["broken"].is_null()
        ),
        (&source["entries"], &source["head"], true)
    );
    let entries = source["entries"].as_u64().expect("count");
    let tail = run(
        &[
            "ledger",
            "tail",
            "--database",
            &url,
            "--after",
            &(entries - 2).to_string(),
        ],
        &[],
    );
    assert_eq!(String::from_utf8_lossy(&tail.stdout).lines().count(), 2);

    // The same answers from both stores, for every invoice.
    let sqlite = SqliteStore::open(&a.join("einvoice.db"), "main").expect("open");
    let pg = PgStore::connect(&url, "main").await.expect("connect");
    let all = sqlite.entries("main", 0, 100_000).await.expect("entries");
    assert_eq!(pg.entries("main", 0, 100_000).await.expect("entries"), all);
    let mut invoices = 0;
    for e in all.iter().filter(|e| e.kind == "F0401") {
        let mut parts = e.key.split('/').skip(1);
        let (Some(s), Some(n)) = (parts.next(), parts.next()) else {
            panic!("key {}", e.key)
        };
        let seller = Ubn::parse_with(s, &IdPolicy::sandbox()).expect("ubn");
        let number = InvoiceNumber::parse(n).expect("number");
        let want = sqlite
            .invoice(&Scope::All, seller, number)
            .await
            .expect("sqlite");
        assert!(want.is_some());
        assert_eq!(
            pg.invoice(&Scope::All, seller, number).await.expect("pg"),
            want
        );
        invoices += 1;
    }
    assert!(invoices >= 60, "{invoices} invoices");
    assert_eq!(
        pg.export_records().await.expect("pg"),
        sqlite.export_records().await.expect("sqlite")
    );
    assert!(pg.draw_freeze(period).await.expect("pg").is_some());
    assert_eq!(
        pg.draw_freeze(period).await.expect("pg"),
        sqlite.draw_freeze(period).await.expect("sqlite")
    );
    assert_eq!(
        pg.winners_summary(period).await.expect("pg"),
        sqlite.winners_summary(period).await.expect("sqlite")
    );
    assert_eq!(
        pg.winners(period, None, 100).await.expect("pg"),
        sample_winners()
    );
    assert_eq!(
        pg.carrier_winnings(&carrier, period).await.expect("pg"),
        sqlite
            .carrier_winnings(&carrier, period)
            .await
            .expect("sqlite")
    );
    assert_eq!(
        pg.bank_account("3J0002:/ABC+123").await.expect("pg"),
        sqlite
            .bank_account("3J0002:/ABC+123")
            .await
            .expect("sqlite")
    );
    for now in [0, 100] {
        assert_eq!(
            pg.outbox_claim(now, 100, 1, "x").await.expect("pg"),
            sqlite.outbox_claim(now, 100, 1, "x").await.expect("sqlite")
        );
    }

    // A version 1 file (no draw lines, no draw counts) still imports.
    let text = std::fs::read_to_string(&file).expect("read");
    let mut v1 = Vec::new();
    for l in text.lines() {
        let mut j: serde_json::Value = serde_json::from_str(l).expect("json");
        match j["type"].as_str() {
            Some("header") => {
                j["version"] = 1.into();
                let counts = j["records"].as_object_mut().expect("counts");
                for k in [
                    "draw_freezes",
                    "winner_loads",
                    "winners",
                    "bank_accounts",
                    "outbox",
                ] {
                    counts.remove(k);
                }
            }
            Some("draw_freeze" | "winners_load" | "winner" | "bank_account" | "outbox") => continue,
            _ => {}
        }
        v1.push(j.to_string());
    }
    let old = tmp.path().join("v1.jsonl");
    std::fs::write(&old, v1.join("\n") + "\n").expect("write");
    let v1_url = cluster.create_database().await.expect("database");
    let imported = ok(&run(&["import", "--database", &v1_url], &[("--in", &old)]));
    assert_eq!(imported["verified"], true);
    let v1_pg = PgStore::connect(&v1_url, "main").await.expect("connect");
    assert_eq!(
        v1_pg.entries("main", 0, 100_000).await.expect("entries"),
        all
    );
    assert_eq!(v1_pg.winners_summary(period).await.expect("pg"), None);

    // A non-empty target is refused.
    let again = run(&["import", "--database", &url], &[("--in", &file)]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("IMPORT_TARGET_NOT_EMPTY"));

    // A changed body in the export is found before anything is written.
    let text = std::fs::read_to_string(&file).expect("read");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let i = lines
        .iter()
        .position(|l| l.contains(r#""type":"entry""#) && l.contains(r#""seq":5,"#))
        .expect("entry 5");
    let mut e: serde_json::Value = serde_json::from_str(&lines[i]).expect("json");
    let body = e["body"].as_str().expect("hex").to_string();
    // Flip one hex digit inside the body (a different canonical byte).
    let mid = body.len() / 2;
    let flipped = if &body[mid..=mid] == "3" { "4" } else { "3" };
    e["body"] = format!("{}{flipped}{}", &body[..mid], &body[mid + 1..]).into();
    lines[i] = e.to_string();
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n") + "\n").expect("write");
    let fresh = cluster.create_database().await.expect("database");
    let out = run(&["import", "--database", &fresh], &[("--in", &bad)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        // A v2 entry's changed body no longer matches its digest.
        err.contains("origin main, entry 5") && err.contains("BODY_DIGEST_MISMATCH"),
        "{err}"
    );
    let empty = PgStore::connect(&fresh, "main").await.expect("connect");
    assert!(empty.origins().await.expect("origins").is_empty());
}
