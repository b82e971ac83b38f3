//! The demo and the site on PostgreSQL, with the real binary and a throw-away
//! cluster: `einvoice up --database URL` seeds the demo into the database
//! (the master key and `demo-credentials.json` stay in `--data`, even one
//! that already holds a SQLite demo), serves it, and reuses it on a second
//! start; `einvoice serve --database` takes a libpq
//! `host=… dbname=…` string, overrides the configuration file and
//! `EINVOICE_DATABASE`, and refuses what is not PostgreSQL with
//! `DATABASE_URL`.

mod common;

use common::{assert_success, bin, client, http_get, ok, serve, up};
use einvoice_store_postgres::pg_harness::PgCluster;
use serde_json::Value;

/// `einvoice ledger verify --database URL`: its verdict (exit 0 required).
fn verify(url: &str) -> Value {
    ok(&bin()
        .args(["ledger", "verify", "--database", url])
        .output()
        .expect("run"))
}

/// The demo's invoices of its first seller, as `einvoice client list` sees them.
fn listed(creds_path: &std::path::Path, creds: &Value) -> usize {
    let ubn = creds["seller"]["ubn"].as_str().expect("ubn");
    let period = creds["period"].as_str().expect("period");
    let (code, page) = client(
        creds_path,
        &["list", ubn, "--period", period, "--limit", "100"],
    );
    assert_eq!(code, 0, "{page}");
    page["invoices"].as_array().expect("invoices").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_seeds_the_demo_into_postgres_once_and_reuses_it() {
    let url = PgCluster::shared()
        .create_database()
        .await
        .expect("database");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    // The README's order: the SQLite demo first, in the same data directory.
    let (sqlite_site, _, sqlite_creds) = up(&data, "10", &[]);
    drop(sqlite_site);
    let sqlite_file = std::fs::metadata(data.join("einvoice.db")).expect("SQLite demo");

    let (site, creds_path, creds) = up(&data, "40", &["--database", &url]);
    assert!(
        data.join("master.key").exists(),
        "the master key stays in --data"
    );
    assert_ne!(
        creds["seller"]["secret"], sqlite_creds["seller"]["secret"],
        "new credentials for the new store"
    );
    let addr = creds["base_url"]
        .as_str()
        .and_then(|u| u.strip_prefix("http://"))
        .expect("base url")
        .to_string();
    let (status, _) = http_get(&addr, "/healthz");
    assert_eq!(status, 200);
    let (code, who) = client(&creds_path, &["whoami"]);
    assert_eq!(code, 0, "{who}");
    assert_eq!(who["sellers"][0], creds["seller"]["ubn"]);
    // 40 invoices over 5 sellers: 8 each.
    assert_eq!(listed(&creds_path, &creds), 8);
    let first = verify(&url);
    let entries = first["entries"].as_u64().expect("entries");
    assert!(entries > 40, "{first}");
    assert!(first["broken"].is_null(), "{first}");
    drop(site);
    assert_eq!(
        std::fs::metadata(data.join("einvoice.db"))
            .and_then(|m| m.modified())
            .ok(),
        sqlite_file.modified().ok(),
        "the SQLite demo was left alone: the demo is in PostgreSQL"
    );

    // A second start serves the same database: nothing seeded again.
    let (_site, creds_path, again) = up(&data, "40", &["--database", &url]);
    assert_eq!(again["seller"], creds["seller"]);
    assert_eq!(again["carrier"], creds["carrier"]);
    assert_eq!(listed(&creds_path, &again), 8);
    let (code, who) = client(&creds_path, &["whoami"]);
    assert_eq!(code, 0, "{who}");
    let second = verify(&url);
    assert_eq!(
        (&second["entries"], &second["head"]),
        (&first["entries"], &first["head"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_a_libpq_database_string_over_the_file_and_the_environment() {
    let url = PgCluster::shared()
        .create_database()
        .await
        .expect("database");
    assert!(
        url.starts_with("host=") && url.contains("dbname="),
        "the harness hands out key=value strings: {url}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path");
    // The demo into the database (the same rule as every other command).
    let out = bin()
        .args(["demo", "seed", "--invoices", "20", "--sellers", "2"])
        .args(["--data", data_arg, "--database", &url])
        .output()
        .expect("run");
    assert_success(&out);
    let seeded = verify(&url);

    // The file and the environment name something else: --database wins.
    let config = dir.path().join("einvoice.toml");
    std::fs::write(&config, "database = \"mysql://elsewhere/einvoice\"\n").expect("write");
    let bogus = dir.path().join("not-a-database");
    let (site, banner) = serve(
        &[
            "--config",
            config.to_str().expect("utf-8 path"),
            "--listen",
            "127.0.0.1:0",
            "--data",
            data_arg,
            "--database",
            &url,
        ],
        "http",
        &[("EINVOICE_DATABASE", &bogus)],
    );
    assert!(banner.ends_with("(PostgreSQL)"), "{banner}");
    let addr = banner.split_whitespace().next().expect("address");
    let (status, _) = http_get(addr, "/healthz");
    assert_eq!(status, 200);
    drop(site);
    assert_eq!(verify(&url)["head"], seeded["head"]);
    assert!(!data.join("einvoice.db").exists());

    // Without the flag, the file's value is refused by the same rule, and so
    // is a --database that is not PostgreSQL.
    for args in [
        vec!["--config", config.to_str().expect("utf-8 path")],
        vec!["--database", "mysql://elsewhere/einvoice"],
    ] {
        let out = bin()
            .arg("serve")
            .args(&args)
            .args(["--listen", "127.0.0.1:0", "--data", data_arg])
            .env_remove("EINVOICE_DATABASE")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("DATABASE_URL: \"mysql://elsewhere/einvoice\""),
            "{err}"
        );
    }
}
