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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_peer_gets_digests_for_operator_entries_and_its_copy_verifies() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = dir.path().join("ca");
    init_ca(&ca, "test").expect("ca");
    let main = store(dir.path(), "main");
    issue_invoices(&main, 2).await;
    for name in ["alice", "bob"] {
        main.append_event(einvoice_store::NewEntry {
            kind: "ADMIN".into(),
            key: format!("operator/{name}"),
            actor: "local:test".into(),
            body: format!(r#"{{"action":"operator.create","name":"{name}"}}"#).into_bytes(),
        })
        .await
        .expect("admin entry");
    }
    issue_invoices_from(&main, 3, 1).await;
    let policy = SyncConfig {
        roles: [(
            "cloud-a".to_string(),
            einvoice_sync::bodies::PeerRole::Cloud,
        )]
        .into(),
        ..SyncConfig::default()
    };
    let (main_peer, _) = serve_both(&main, &issue(&ca, "main"), policy).await;
    let full = all_entries(&main, "main").await;

    // The cloud's copy: every entry, the operator entries' bodies withheld.
    let cloud = store(dir.path(), "cloud-a");
    let cloud_tls = issue(&ca, "cloud-a");
    let puller = Puller::new(
        cloud.clone(),
        peer_client(&cloud_tls).expect("client"),
        vec![main_peer.clone()],
        100,
    );
    let pulled = puller.pull_once().await.expect("pull");
    assert_eq!((pulled[0].applied, pulled[0].halt.clone()), (6, None));
    let v = cloud.verify_ledger("main").await.expect("verify");
    assert_eq!((v.entries, v.broken, v.withheld), (6, None, 2));
    let copy = all_entries(&cloud, "main").await;
    for (f, c) in full.iter().zip(&copy) {
        assert_eq!(
            (c.seq, c.hash, c.body_digest),
            (f.seq, f.hash, f.body_digest)
        );
        if f.kind == "ADMIN" {
            assert!(c.withheld && c.body.is_empty(), "{c:?}");
        } else {
            assert_eq!(c, f, "an invoice entry travels whole");
        }
    }
    // The cloud's services still read the invoices.
    assert!(
        cloud
            .lookup_invoice(number("AB00000003"), random("1234"))
            .await
            .expect("lookup")
            .is_some()
    );

    // Asking for every body is refused to the cloud peer, and logged.
    let client = peer_client(&cloud_tls).expect("client");
    let r = client
        .get(format!("{main_peer}/v1/sync/main?after=0&bodies=all"))
        .send()
        .await
        .expect("feed");
    assert_eq!(r.status(), 403);
    let p: serde_json::Value = r.json().await.expect("json");
    assert_eq!(p["code"], "SYNC_BODIES_FORBIDDEN");
    // A peer [sync.roles] does not name (a standby) gets every body.
    let standby = store(dir.path(), "standby");
    Puller::new(
        standby.clone(),
        peer_client(&issue(&ca, "standby")).expect("client"),
        vec![main_peer],
        100,
    )
    .pull_once()
    .await
    .expect("pull");
    assert_eq!(all_entries(&standby, "main").await, full);
}

/// Invoices AB0000000{from}.. (`n` of them) for seller A, whose track exists.
async fn issue_invoices_from(s: &SqliteStore, from: u32, n: u32) {
    let msgs = (from..from + n)
        .map(|i| invoice(SELLER_A, &format!("AB{i:08}"), "1234", 100 + i))
        .collect();
    for o in s.append(&Scope::All, "test", msgs).await.expect("append") {
        o.expect("accepted");
    }
}

/// Run `sql` (with `params`) on the SQLite database at `db`, behind its store's back.
fn tamper(db: &Path, sql: &str, params: impl rusqlite::Params) {
    let c = rusqlite::Connection::open(db).expect("open main's database");
    assert_eq!(c.execute(sql, params).expect("tamper"), 1, "{sql}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_or_hash_changed_in_mains_database_halts_the_origin_and_alerts_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = dir.path().join("ca");
    init_ca(&ca, "test").expect("ca");
    let main = store(dir.path(), "main");
    issue_invoices(&main, 5).await;
    let good = all_entries(&main, "main").await;
    let (main_peer, _) = serve_both(&main, &issue(&ca, "main"), SyncConfig::default()).await;
    let db = dir.path().join("main.db");
    let mut body = good[3].body.clone();
    body.push(b' ');
    tamper(
        &db,
        "UPDATE ledger SET body = ?1 WHERE origin = 'main' AND seq = 4",
        [body],
    );

    let cloud = store(dir.path(), "cloud-a");
    let soc = einvoice_server::soc::SecurityEvents::open(None).expect("soc");
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let puller = {
        let (soc, heard) = (soc.clone(), heard.clone());
        Puller::new(
            cloud.clone(),
            peer_client(&issue(&ca, "cloud-a")).expect("client"),
            vec![main_peer],
            100,
        )
        .on_halt(Box::new(move |site, origin, h| {
            soc.sync_chain_break(site, origin, h.seq, &h.code);
            if let Ok(mut v) = heard.lock() {
                v.push((site.to_string(), origin.to_string(), h.code.clone(), h.seq));
            }
        }))
    };
    let heard_now = || heard.lock().expect("lock").clone();
    let pulled = puller.pull_once().await.expect("pull");
    let h = pulled[0].halt.clone().expect("halted");
    assert_eq!(
        (h.code.as_str(), h.seq, pulled[0].applied),
        ("BODY_DIGEST_MISMATCH", Some(4), 3)
    );
    // Again: nothing beyond the last good entry, and no second alert.
    assert_eq!(puller.pull_once().await.expect("pull")[0].applied, 0);
    assert_eq!(all_entries(&cloud, "main").await, good[..3].to_vec());
    let main_said = |code: &str| {
        (
            "main".to_string(),
            "main".to_string(),
            code.to_string(),
            Some(4),
        )
    };
    assert_eq!(heard_now(), vec![main_said("BODY_DIGEST_MISMATCH")]);
    let st =
        einvoice_sync::status::SyncStatus::of("cloud-a", cloud.sync_state().await.expect("state"));
    let o = st
        .origins
        .iter()
        .find(|o| o.origin == "main")
        .expect("main");
    assert_eq!(
        (o.seq, o.last_error.as_ref().map(|e| e.code.as_str())),
        (3, Some("BODY_DIGEST_MISMATCH"))
    );

    // The body back, entry 4's hash changed instead: halted again, at the same entry.
    tamper(
        &db,
        "UPDATE ledger SET body = ?1, hash = ?2 WHERE origin = 'main' AND seq = 4",
        (good[3].body.clone(), vec![7u8; 32]),
    );
    let pulled = puller.pull_once().await.expect("pull");
    let h = pulled[0].halt.clone().expect("halted");
    assert_eq!(
        (h.code.as_str(), h.seq, pulled[0].applied),
        ("HASH_MISMATCH", Some(4), 0)
    );
    assert_eq!(
        heard_now(),
        vec![
            main_said("BODY_DIGEST_MISMATCH"),
            main_said("HASH_MISMATCH")
        ]
    );
    // The SOC raised its sync-tamper alert on the peer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !soc
        .alerts()
        .iter()
        .any(|a| a.rule == "sync-tamper" && a.key == "main")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no sync-tamper alert: {:?}",
            soc.alerts()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Repaired at main: the origin resumes and the copy is main's chain.
    tamper(
        &db,
        "UPDATE ledger SET hash = ?1 WHERE origin = 'main' AND seq = 4",
        [good[3].hash.0.to_vec()],
    );
    let pulled = puller.pull_once().await.expect("pull");
    assert_eq!((pulled[0].applied, pulled[0].halt.clone()), (3, None));
    assert_eq!(all_entries(&cloud, "main").await, good);
    assert_eq!(heard_now().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_offering_mains_own_origin_with_a_forged_head_is_refused_and_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = dir.path().join("ca");
    init_ca(&ca, "test").expect("ca");
    let main = store(dir.path(), "main");
    issue_invoices(&main, 3).await;
    let chain = all_entries(&main, "main").await;
    let main_tls = issue(&ca, "main");
    let (main_peer, _) = serve_both(&main, &main_tls, SyncConfig::default()).await;

    // An honest cloud re-serves main's origin as main wrote it.
    let honest = store(dir.path(), "cloud-a");
    let honest_tls = issue(&ca, "cloud-a");
    Puller::new(
        honest.clone(),
        peer_client(&honest_tls).expect("client"),
        vec![main_peer],
        100,
    )
    .pull_once()
    .await
    .expect("pull");
    let (honest_peer, _) = serve_both(&honest, &honest_tls, SyncConfig::default()).await;
    // A cloud holding main's chain plus an entry main never wrote.
    let mut forged = chain.clone();
    let last = chain.last().expect("entries");
    let body = br#"{"action":"operator.create","name":"mallory"}"#.to_vec();
    forged.push(LedgerEntry {
        seq: last.seq + 1,
        prev_hash: last.hash,
        hash: einvoice_store::hash_entry(
            &last.hash,
            "main",
            last.seq + 1,
            last.hlc,
            "ADMIN",
            "operator/mallory",
            "operator:mallory",
            &body,
        ),
        kind: "ADMIN".into(),
        key: "operator/mallory".into(),
        actor: "operator:mallory".into(),
        body,
        body_digest: None,
        withheld: false,
        ..last.clone()
    });
    let rogue = store(dir.path(), "cloud-b");
    rogue
        .import_site(SiteRecords::default(), forged)
        .await
        .expect("import");
    let (rogue_peer, _) = serve_both(&rogue, &issue(&ca, "cloud-b"), SyncConfig::default()).await;

    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let puller = {
        let heard = heard.clone();
        Puller::new(
            main.clone(),
            peer_client(&main_tls).expect("client"),
            vec![honest_peer, rogue_peer],
            100,
        )
        .on_halt(Box::new(move |site, origin, h| {
            if let Ok(mut v) = heard.lock() {
                v.push((site.to_string(), origin.to_string(), h.code.clone(), h.seq));
            }
        }))
    };
    for _ in 0..2 {
        let pulled = puller.pull_once().await.expect("pull");
        assert!(pulled.iter().all(|p| p.origin != "main"), "{pulled:?}");
        assert_eq!(
            all_entries(&main, "main").await,
            chain,
            "main's origin changed"
        );
    }
    // Reported once, naming the rogue peer; the honest copy is not a finding.
    assert_eq!(
        heard.lock().expect("lock").clone(),
        vec![(
            "cloud-b".to_string(),
            "main".to_string(),
            einvoice_sync::pull::SYNC_OWN_ORIGIN_FORGED.to_string(),
            Some(5)
        )]
    );
}
