//! Site-to-site sync over real sockets with real mutual TLS (certificates
//! from `einvoice_sync::ca`): two and three sites in one process, each with
//! its own SQLite store and listeners on port 0.

mod common;

use common::{bind, sealer, serve_on_port_0};
use einvoice_server::router;
use einvoice_server::sync_routes::serve_peer;
use einvoice_store::conformance::{SELLER_A, allocation, invoice};
use einvoice_store::{
    EntryHash, LedgerEntry, OriginHead, Scope, SiteRecords, Store, SyncPage, SyncUpstreamState,
};
use einvoice_store_sqlite::SqliteStore;
use einvoice_sync::SyncConfig;
use einvoice_sync::ca::{SiteTls, init_ca, issue_site, peer_client, peer_server_config};
use einvoice_sync::pull::Puller;
use std::path::Path;

fn number(s: &str) -> einvoice_core::InvoiceNumber {
    einvoice_core::InvoiceNumber::parse(s).expect("number")
}

fn random(s: &str) -> einvoice_core::RandomNumber {
    einvoice_core::RandomNumber::parse(s).expect("random")
}

const HOSTS: &[&str] = &["127.0.0.1", "localhost"];

fn issue(dir: &Path, site: &str) -> SiteTls {
    let hosts: Vec<String> = HOSTS.iter().map(|h| h.to_string()).collect();
    issue_site(dir, site, &hosts).expect("issue")
}

fn store(dir: &Path, site: &str) -> SqliteStore {
    SqliteStore::open(&dir.join(format!("{site}.db")), site).expect("open")
}

/// Serve `store`'s whole router on a peer listener (mutual TLS with `tls`)
/// and on a plain one; (`https://` peer URL, `http://` plain URL).
async fn serve_both(store: &SqliteStore, tls: &SiteTls, policy: SyncConfig) -> (String, String) {
    let app = router(store.clone(), sealer(7), common::fast_site_options());
    let plain = serve_on_port_0(app.clone()).await;
    let (listener, addr) = bind().await;
    let cfg = peer_server_config(tls).expect("server tls");
    tokio::spawn(serve_peer(
        listener,
        app,
        cfg,
        policy,
        std::future::pending(),
    ));
    (format!("https://{addr}"), plain)
}

/// Seller A with a track and `n` invoices AB00000001.. appended at `s`.
async fn issue_invoices(s: &SqliteStore, n: u32) {
    let mut msgs = vec![allocation(SELLER_A)];
    for i in 1..=n {
        msgs.push(invoice(SELLER_A, &format!("AB{i:08}"), "1234", 100 + i));
    }
    for o in s.append(&Scope::All, "test", msgs).await.expect("append") {
        o.expect("accepted");
    }
}

async fn all_entries(s: &SqliteStore, origin: &str) -> Vec<LedgerEntry> {
    s.entries(origin, 0, 10_000).await.expect("entries")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_site_pulls_main_verifies_and_answers_lookups() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = dir.path().join("ca");
    init_ca(&ca, "test").expect("ca");
    let (main_tls, cloud_tls) = (issue(&ca, "main"), issue(&ca, "cloud-a"));
    let main = store(dir.path(), "main");
    issue_invoices(&main, 5).await;
    let (main_peer, main_plain) = serve_both(&main, &main_tls, SyncConfig::default()).await;

    let cloud = store(dir.path(), "cloud-a");
    let puller = Puller::new(
        cloud.clone(),
        peer_client(&cloud_tls).expect("client"),
        vec![main_peer.clone()],
        2,
    );
    let pulled = puller.pull_once().await.expect("pull");
    assert_eq!(pulled.len(), 1);
    assert_eq!((pulled[0].applied, pulled[0].halt.clone()), (6, None));
    let v = cloud.verify_ledger("main").await.expect("verify");
    assert_eq!((v.entries, v.broken), (6, None));
    assert_eq!(
        all_entries(&cloud, "main").await,
        all_entries(&main, "main").await
    );

    // The cloud site answers the public lookup from what it pulled.
    let cloud_plain = serve_on_port_0(router(
        cloud.clone(),
        sealer(8),
        common::fast_site_options(),
    ))
    .await;
    let r = reqwest::get(format!(
        "{cloud_plain}/v1/public/invoices/AB00000003?random=1234&date=20250115"
    ))
    .await
    .expect("lookup");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["total"], 103);

    // More at main: the next pull takes only the new entries.
    let more = vec![invoice(SELLER_A, "AB00000009", "1234", 999)];
    main.append(&Scope::All, "test", more)
        .await
        .expect("append")[0]
        .clone()
        .expect("accepted");
    let again = puller.pull_once().await.expect("pull");
    assert_eq!(again[0].applied, 1);
    assert_eq!(puller.pull_once().await.expect("pull")[0].applied, 0);

    // Status: caught up, no error; the same JSON on the plain listener.
    let st: serde_json::Value = reqwest::get(format!("{cloud_plain}/v1/sync/status"))
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    let o = &st["origins"][0];
    assert_eq!(
        (o["origin"].as_str(), o["seq"].as_u64()),
        (Some("main"), Some(7))
    );
    assert_eq!(o["upstreams"][0]["behind"]["entries"], 0);
    assert!(o["last_error"].is_null(), "{st}");

    // The feed is not served on the plain listener.
    let r = reqwest::get(format!("{main_plain}/v1/sync/heads"))
        .await
        .expect("get");
    assert_eq!(r.status(), 403);
    let p: serde_json::Value = r.json().await.expect("json");
    assert_eq!(p["code"], "SYNC_PEER_ONLY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_applying_a_range_changes_nothing_and_own_origin_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let main = store(dir.path(), "main");
    issue_invoices(&main, 3).await;
    let chain = all_entries(&main, "main").await;
    let cloud = store(dir.path(), "cloud-a");
    let page = |after: usize, upto: usize, origin: &str| SyncPage {
        origin: origin.into(),
        after_seq: after as u64,
        after_hash: if after == 0 {
            EntryHash::GENESIS
        } else {
            chain[after - 1].hash
        },
        entries: chain[after..upto].to_vec(),
        seen: SyncUpstreamState {
            upstream: "https://main".into(),
            head: OriginHead::empty(origin),
            checked_unix: 0,
            error: None,
        },
    };
    let a = cloud
        .apply_sync_page(page(0, 4, "main"))
        .await
        .expect("apply");
    assert_eq!((a.applied, a.head.seq), (4, 4));
    let before = cloud.export_records().await.expect("records");
    let invoices_before = cloud
        .lookup_invoice(number("AB00000002"), random("1234"))
        .await
        .expect("lookup");
    // The same range again, an overlapping one, a sub-range: nothing changes.
    for (from, to, applied) in [(0, 4, 0), (1, 3, 0), (2, 4, 0), (0, 2, 0)] {
        let a = cloud
            .apply_sync_page(page(from, to, "main"))
            .await
            .expect("again");
        assert_eq!((a.applied, a.head.seq), (applied, 4), "{from}..{to}");
    }
    assert_eq!(all_entries(&cloud, "main").await, chain);
    assert_eq!(cloud.export_records().await.expect("records"), before);
    assert_eq!(
        cloud
            .lookup_invoice(number("AB00000002"), random("1234"))
            .await
            .expect("lookup"),
        invoices_before
    );
    // A page that does not meet the stored chain is refused whole.
    let mut fork = page(4, 4, "main");
    fork.after_hash = EntryHash([9; 32]);
    let e = cloud.apply_sync_page(fork).await.expect_err("fork");
    assert!(e.to_string().contains("SYNC_HEAD_MISMATCH"), "{e}");

    // main never takes entries of its own origin from a peer.
    let e = main
        .apply_sync_page(page(0, 1, "main"))
        .await
        .expect_err("own origin");
    assert!(e.to_string().contains("SYNC_OWN_ORIGIN"), "{e}");
    assert_eq!(all_entries(&main, "main").await, chain);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_entry_halts_the_origin_at_the_last_good_entry() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = dir.path().join("ca");
    init_ca(&ca, "test").expect("ca");
    let main = store(dir.path(), "main");
    issue_invoices(&main, 5).await;
    // A relay in the middle holds main's chain with entry 4 changed.
    let mut forged = all_entries(&main, "main").await;
    forged[3].actor = "mallory".into();
    let relay = store(dir.path(), "relay");
    relay
        .import_site(SiteRecords::default(), forged)
        .await
        .expect("import forged");
    let (relay_peer, _) = serve_both(&relay, &issue(&ca, "relay"), SyncConfig::default()).await;

    let cloud = store(dir.path(), "cloud-b");
    let puller = Puller::new(
        cloud.clone(),
        peer_client(&issue(&ca, "cloud-b")).expect("client"),
        vec![relay_peer.clone()],
        100,
    );
    let pulled = puller.pull_once().await.expect("pull");
    let main_pull = pulled
        .iter()
        .find(|p| p.origin == "main")
        .expect("main pulled");
    let halt = main_pull.halt.clone().expect("halted");
    assert_eq!((halt.code.as_str(), halt.seq), ("HASH_MISMATCH", Some(4)));
    assert_eq!(main_pull.applied, 3);
    let v = cloud.verify_ledger("main").await.expect("verify");
    assert_eq!((v.entries, v.broken), (3, None));
    // Pulling again applies nothing after the broken link; status shows it.
    let again = puller.pull_once().await.expect("pull");
    assert_eq!(
        again
            .iter()
            .find(|p| p.origin == "main")
            .expect("main")
            .applied,
        0
    );
    assert_eq!(all_entries(&cloud, "main").await.len(), 3);
    let state = cloud.sync_state().await.expect("state");
    let s = einvoice_sync::status::SyncStatus::of("cloud-b", state);
    let o = s.origins.iter().find(|o| o.origin == "main").expect("main");
    assert_eq!(o.seq, 3);
    assert_eq!(
        o.last_error.as_ref().map(|e| e.code.as_str()),
        Some("HASH_MISMATCH")
    );
    assert_eq!(o.upstreams[0].behind.entries, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_certificates_and_forbidden_origins_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let (ca, other_ca) = (dir.path().join("ca"), dir.path().join("other"));
    init_ca(&ca, "test").expect("ca");
    init_ca(&other_ca, "other").expect("other ca");
    let main = store(dir.path(), "main");
    issue_invoices(&main, 1).await;
    let policy = SyncConfig {
        peers: [("cloud-a".to_string(), vec!["main".to_string()])].into(),
        ..SyncConfig::default()
    };
    let (main_peer, _) = serve_both(&main, &issue(&ca, "main"), policy).await;

    // A certificate of another CA (even naming a known site) fails the handshake.
    let stranger = issue(&other_ca, "cloud-a");
    let trusting_our_ca = SiteTls {
        ca: ca.join("ca.pem"),
        ..stranger
    };
    let client = peer_client(&trusting_our_ca).expect("client");
    let r = client
        .get(format!("{main_peer}/v1/sync/heads"))
        .send()
        .await;
    assert!(r.is_err(), "a stranger was served: {r:?}");
    // So does a client with no certificate at all.
    let anonymous = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    assert!(
        anonymous
            .get(format!("{main_peer}/v1/sync/heads"))
            .send()
            .await
            .is_err()
    );

    // A certified peer reads what [sync.peers] lets it, no more.
    let cloud = peer_client(&issue(&ca, "cloud-a")).expect("client");
    let r = cloud
        .get(format!("{main_peer}/v1/sync/main?after=0&limit=10"))
        .send()
        .await
        .expect("feed");
    assert_eq!(r.status(), 200);
    let r = cloud
        .get(format!("{main_peer}/v1/sync/cloud-b?after=0"))
        .send()
        .await
        .expect("feed");
    assert_eq!(r.status(), 403);
    let p: serde_json::Value = r.json().await.expect("json");
    assert_eq!(p["code"], "SYNC_ORIGIN_FORBIDDEN");
    // A certified site the table does not name reads nothing.
    let other = peer_client(&issue(&ca, "cloud-z")).expect("client");
    let r = other
        .get(format!("{main_peer}/v1/sync/main"))
        .send()
        .await
        .expect("feed");
    assert_eq!(r.status(), 403);
    let heads: serde_json::Value = other
        .get(format!("{main_peer}/v1/sync/heads"))
        .send()
        .await
        .expect("heads")
        .json()
        .await
        .expect("json");
    assert_eq!(heads["heads"], serde_json::json!([]));
}
