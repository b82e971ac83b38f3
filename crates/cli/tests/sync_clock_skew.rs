//! Sites whose clocks disagree: main runs 90 minutes behind, `cloud-a` two
//! hours ahead (Debian's `faketime`, on each `einvoice serve` process and on
//! the clients talking to it, since signed requests carry their own time
//! window). Writes at both sites are accepted and synced both ways: each
//! origin's order is its sequence, whatever the clocks say; every link
//! verifies; `sync verify` passes. Then bad peers at the same sites: a
//! certificate of another CA and a cloud asking for bodies its role may not
//! see are refused, and main's log names them (the in-process tests of
//! `server/tests/sync.rs` cover the rest: an uncertified client, an origin
//! `[sync.peers]` forbids, a peer offering a site's own origin forged).

mod common;

use common::client_under;
use common::sites::{
    Site, carrier_login, head_of, invoice, lay_out, set_bank_account, sync_verify, until_holds,
};
use einvoice_store::{LedgerEntry, Store};
use einvoice_store_sqlite::SqliteStore;
use einvoice_sync::ca::{SiteTls, init_ca, issue_site, peer_client};
use std::path::Path;
use std::time::{Duration, Instant};

/// Main's clock: 90 minutes behind.
const MAIN_CLOCK: &[&str] = &[
    "env",
    "FAKETIME_DONT_FAKE_MONOTONIC=1",
    "faketime",
    "-f",
    "-90m",
];
/// The cloud's clock: two hours ahead.
const CLOUD_CLOCK: &[&str] = &[
    "env",
    "FAKETIME_DONT_FAKE_MONOTONIC=1",
    "faketime",
    "-f",
    "+2h",
];
/// Writes at each site.
const WRITES: usize = 5;

/// Every entry of `origin` in the SQLite store at `db`, and whether it verifies.
async fn chain_of(db: &Path, site: &str, origin: &str) -> (Vec<LedgerEntry>, bool) {
    let s = SqliteStore::open(db, site).expect("open store");
    let all = s.entries(origin, 0, 100_000).await.expect("entries");
    let v = s.verify_ledger(origin).await.expect("verify");
    let ok = v.broken.is_none() && v.entries == all.len() as u64;
    (all, ok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skewed_clocks_refuse_nothing_valid_and_converge() {
    let started = Instant::now();
    if std::process::Command::new("faketime")
        .arg("-f")
        .arg("+0")
        .arg("true")
        .status()
        .map_or(true, |s| !s.success())
    {
        panic!("Debian's faketime is needed (apt-get install faketime; .ci/run installs it)");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let seeded = 100;
    let (creds_path, creds) = lay_out(&http, &data, 2, seeded).await;
    let main = Site::of(&data, &creds, "main");
    let cloud = Site::of(&data, &creds, "cloud-a");
    for site in [&main, &cloud] {
        site.edit_config(|doc| doc["sync"]["interval_ms"] = toml_edit::value(50));
    }
    let _main_proc = main.start_under(&http, MAIN_CLOCK).await;
    let _cloud_proc = cloud.start_under(&http, CLOUD_CLOCK).await;
    let carrier = creds["carrier"].clone();
    let token = carrier_login(&http, &cloud.url, &carrier).await;
    let (ubn, period) = (
        creds["seller"]["ubn"].as_str().expect("ubn").to_string(),
        creds["period"].as_str().expect("period").to_string(),
    );
    // Writes interleaved at both sites: seller invoices at main (signed by
    // a client on main's clock), bank accounts at the cloud.
    for k in 0..WRITES {
        let number = format!("AA{:08}", seeded / 5 + k as u64);
        let file = dir.path().join(format!("{number}.json"));
        std::fs::write(
            &file,
            serde_json::to_vec(&invoice(&ubn, &period, &number)).expect("json"),
        )
        .expect("write invoice");
        let (code, answer) = client_under(
            MAIN_CLOCK,
            &creds_path,
            &["submit", "--batch", file.to_str().expect("path")],
        );
        assert_eq!(code, 0, "submit at main 90 minutes behind: {answer}");
        let account = format!("{:010}", 2_000_000 + k);
        let status = set_bank_account(&http, &cloud.url, &token, &carrier, &account).await;
        assert_eq!(status, 200, "bank account at the cloud two hours ahead");
    }
    let main_head = head_of(&http, &main.url, "main")
        .await
        .expect("main's head");
    let cloud_head = head_of(&http, &cloud.url, "cloud-a")
        .await
        .expect("the cloud's head");
    assert!(cloud_head.0 >= WRITES as u64);
    until_holds(&http, &cloud.url, "main", &main_head, 60).await;
    until_holds(&http, &main.url, "cloud-a", &cloud_head, 60).await;
    let out = sync_verify(&[&main.url, &cloud.url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Bad peers at the same real sites, refused and logged by main: a
    // certificate of another CA (naming a known site), and the cloud asking
    // for every body of main's origin (a cloud peer gets digests for some).
    let main_peer = format!("https://{}", main.peer_addr());
    let cloud_tls = {
        let text = std::fs::read_to_string(&cloud.config).expect("cloud config");
        let doc: toml_edit::DocumentMut = text.parse().expect("TOML");
        let path = |k: &str| std::path::PathBuf::from(doc["sync"][k].as_str().expect("TLS file"));
        SiteTls {
            ca: path("ca"),
            cert: path("cert"),
            key: path("key"),
        }
    };
    let other_ca = dir.path().join("other-ca");
    init_ca(&other_ca, "another deployment").expect("another CA");
    let stranger = issue_site(&other_ca, "cloud-a", &["127.0.0.1".to_string()]).expect("issue");
    let stranger = peer_client(&SiteTls {
        ca: cloud_tls.ca.clone(),
        ..stranger
    })
    .expect("client");
    let r = stranger
        .get(format!("{main_peer}/v1/sync/heads"))
        .send()
        .await;
    assert!(r.is_err(), "a certificate of another CA was served: {r:?}");
    let cloud_peer = peer_client(&cloud_tls).expect("client");
    let r = cloud_peer
        .get(format!("{main_peer}/v1/sync/main?after=0&bodies=all"))
        .send()
        .await
        .expect("feed");
    assert_eq!(r.status(), 403);
    let p: serde_json::Value = r.json().await.expect("problem");
    assert_eq!(p["code"], "SYNC_BODIES_FORBIDDEN", "{p}");
    drop(_main_proc);
    drop(_cloud_proc);
    let log = std::fs::read_to_string(&main.log).expect("main's log");
    assert!(
        log.contains("einvoice: sync: refused peer at 127.0.0.1:"),
        "{log}"
    );
    assert!(
        log.contains(
            "einvoice: sync: refused peer \"cloud-a\": it asked for every body of origin \"main\""
        ),
        "{log}"
    );

    // Each origin holds its order (its sequence) at both sites, the same
    // entries, every chain verifying, whatever the clocks said.
    for origin in ["main", "cloud-a"] {
        let (at_main, main_ok) = chain_of(&data.join("main/einvoice.db"), "main", origin).await;
        let (at_cloud, cloud_ok) =
            chain_of(&data.join("cloud-a/einvoice.db"), "cloud-a", origin).await;
        assert!(main_ok && cloud_ok, "{origin}: a chain does not verify");
        assert_eq!(at_main.len(), at_cloud.len(), "{origin}");
        for (i, (m, c)) in at_main.iter().zip(&at_cloud).enumerate() {
            assert_eq!(m.seq, i as u64 + 1, "{origin}: sequence order");
            assert_eq!(
                (m.seq, m.hash),
                (c.seq, c.hash),
                "{origin}: entry {}",
                m.seq
            );
            // The hybrid logical clock moves forward along the origin even
            // where the wall clock is behind what it wrote before.
            if i > 0 {
                assert!(
                    m.hlc > at_main[i - 1].hlc,
                    "{origin}: entry {} goes back in time",
                    m.seq
                );
            }
        }
    }
    // The cloud's clock really was ahead: its entries are stamped two hours on.
    let (written, _) = chain_of(&data.join("main/einvoice.db"), "main", "cloud-a").await;
    let real_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let stamped_ms = written.last().expect("cloud entries").hlc.0 >> 16;
    assert!(
        stamped_ms > real_ms + 3_600_000,
        "the cloud's clock was not ahead: stamped {stamped_ms}, now {real_ms}"
    );
    eprintln!(
        "clock skew (main -90 min, cloud +2 h): {WRITES} writes at each site accepted and synced ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}
