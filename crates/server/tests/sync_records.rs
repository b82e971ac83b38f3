//! Side records travel between sites (issue 14): over real sockets with
//! real mutual TLS, a carrier registered at main logs in at a cloud site
//! (its `CARRIER_REGISTERED` entry projects the carrier there), a bank
//! account set at the cloud reaches main through the records feed, sealed
//! again under main's own master key, a record that does not match its
//! ledger entry is refused, and an API key rotated at main is refused at the
//! cloud.

mod common;

use common::{bind, sealer, serve_on_port_0};
use einvoice_core::{Carrier, CarrierType};
use einvoice_secrets::{BankAccount, Sealer, TravellingAccount};
use einvoice_server::app_api::hash_verification_code;
use einvoice_server::router;
use einvoice_server::sync_routes::serve_peer;
use einvoice_store::conformance::SELLER_A;
use einvoice_store::{
    CarrierContact, CarrierCredential, CarrierRegStore, Challenge, ChallengePurpose,
    CompleteOutcome, MailMessage, Store,
};
use einvoice_store_sqlite::SqliteStore;
use einvoice_sync::SyncConfig;
use einvoice_sync::ca::{SiteTls, init_ca, issue_site, peer_client, peer_server_config};
use einvoice_sync::pull::Puller;
use einvoice_sync::records::{SYNC_RECORD_MISMATCH, check_records, serve_records};
use serde_json::{Value, json};
use std::path::Path;

const BARCODE: &str = "/ABC+123";
const CODE: &str = "Code1234";

fn issue(dir: &Path, site: &str) -> SiteTls {
    let hosts = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    issue_site(dir, site, &hosts).expect("issue")
}

fn store(dir: &Path, site: &str) -> SqliteStore {
    SqliteStore::open(&dir.join(format!("{site}.db")), site).expect("open")
}

/// Serve `store`'s router (sealing with `key`) on a peer listener and a
/// plain one; (`https://` peer URL, `http://` plain URL). Main's policy
/// names `cloud-a` and `cloud-b` cloud peers (operator bodies withheld).
async fn serve(store: &SqliteStore, key: &Sealer, tls: &SiteTls) -> (String, String) {
    let mut policy = SyncConfig::default();
    if store.site() == "main" {
        for c in ["cloud-a", "cloud-b"] {
            policy
                .roles
                .insert(c.into(), einvoice_sync::bodies::PeerRole::Cloud);
        }
    }
    let app = router(store.clone(), key.clone(), common::fast_site_options());
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

/// Register the carrier at `s` as the registration flow does: a confirmed
/// challenge writes its record and its `CARRIER_REGISTERED` entry.
async fn register(s: &SqliteStore) {
    let carrier = Carrier::parse(CarrierType::MobileBarcode, BARCODE).expect("carrier");
    let now = common::now();
    let challenge = Challenge {
        id: "challenge-1".into(),
        purpose: ChallengePurpose::Register,
        email: "citizen@example.com".into(),
        phone: "0912345678".into(),
        carrier: None,
        verification_hash: None,
        code_sha256: "0".repeat(64),
        created_unix: now,
        expires_unix: now + 600,
        attempts: 0,
        used: false,
    };
    let mail = MailMessage {
        id: "mail-1".into(),
        to: challenge.email.clone(),
        subject: "code".into(),
        text: "code".into(),
    };
    s.put_challenge(challenge, mail, now)
        .await
        .expect("challenge");
    let credential = CarrierCredential {
        carrier: carrier.clone(),
        verification_hash: hash_verification_code(CODE).expect("hash"),
        contact: Some(CarrierContact {
            carrier,
            email: "citizen@example.com".into(),
            phone: "0912345678".into(),
        }),
    };
    let out = s
        .complete_challenge("challenge-1", credential, "carrier")
        .await
        .expect("complete");
    assert!(matches!(out, CompleteOutcome::Done(_)), "{out:?}");
}

async fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rq = reqwest::Client::new().request(m, format!("{base}{path}"));
    if let Some(t) = token {
        rq = rq.header("authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        rq = rq
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = rq.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("text");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn login(base: &str) -> (u16, Option<String>) {
    let (st, body) = call(
        base,
        "POST",
        "/v1/carrier/login",
        None,
        Some(json!({"carrier_type": "3J0002", "carrier_id": BARCODE, "verification_code": CODE})),
    )
    .await;
    (st, body["token"].as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_account_set_at_a_cloud_reaches_main_sealed_under_mains_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = dir.path().join("ca");
    init_ca(&ca, "test").expect("ca");
    let (main_tls, cloud_tls, b_tls) = (
        issue(&ca, "main"),
        issue(&ca, "cloud-a"),
        issue(&ca, "cloud-b"),
    );
    let (main_key, cloud_key, b_key) = (sealer(7), sealer(8), sealer(9));
    let main = store(dir.path(), "main");
    let cloud = store(dir.path(), "cloud-a");
    register(&main).await;
    let (main_peer, main_plain) = serve(&main, &main_key, &main_tls).await;
    let (cloud_peer, cloud_plain) = serve(&cloud, &cloud_key, &cloud_tls).await;

    // The cloud pulls main: the carrier registered at main logs in there.
    assert_eq!(login(&cloud_plain).await.0, 401, "not before sync");
    let cloud_pull = Puller::new(
        cloud.clone(),
        peer_client(&cloud_tls).expect("client"),
        vec![main_peer.clone()],
        100,
    )
    .with_records(cloud_key.clone());
    cloud_pull.pull_once().await.expect("pull");
    let (st, token) = login(&cloud_plain).await;
    assert_eq!(st, 200, "a carrier registered at main logs in at the cloud");
    let token = token.expect("token");

    // A bank account set at the cloud.
    let path = "/v1/carrier/bank-account";
    let (st, body) = call(
        &cloud_plain,
        "PUT",
        path,
        Some(&token),
        Some(json!({"bank_code": "812", "account_number": "0012345678", "holder_name": "王小明", "verification_code": CODE})),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let (_, main_token) = login(&main_plain).await;
    let main_token = main_token.expect("token at main");
    let (st, _) = call(&main_plain, "GET", path, Some(&main_token), None).await;
    assert_eq!(st, 404, "not at main before sync");

    let cloud_head = cloud
        .entries("cloud-a", 0, 100)
        .await
        .expect("entries")
        .len() as u64;
    // Main pulls the cloud: the entry and then its record.
    let main_pull = Puller::new(
        main.clone(),
        peer_client(&main_tls).expect("client"),
        vec![cloud_peer.clone()],
        100,
    )
    .with_records(main_key.clone());
    main_pull.pull_once().await.expect("pull");
    let (st, body) = call(&main_plain, "GET", path, Some(&main_token), None).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        (body["bank_code"].as_str(), body["account_number"].as_str()),
        (Some("812"), Some("***5678")),
        "{body}"
    );
    let key = format!("3J0002:{BARCODE}");
    let at_main = main
        .bank_account(&key)
        .await
        .expect("account")
        .expect("held at main");
    let opened = BankAccount::open(&main_key, &at_main).expect("sealed under main's key");
    assert_eq!(opened.account_number, "0012345678");
    assert!(
        BankAccount::open(&cloud_key, &at_main).is_err(),
        "never the cloud's key"
    );
    assert_eq!(
        main.sync_records_cursor("cloud-a").await.expect("cursor"),
        cloud_head
    );
    // Again: nothing new, nothing changes.
    main_pull.pull_once().await.expect("pull");
    assert_eq!(
        main.bank_account(&key).await.expect("account"),
        Some(at_main.clone())
    );

    // cloud-b takes cloud-a's origin as main re-serves it (records up to
    // main's records cursor), and refuses a record that does not match its
    // entry: nothing of the page is stored, the cursor stays.
    let b = store(dir.path(), "cloud-b");
    let b_ledger = Puller::new(
        b.clone(),
        peer_client(&b_tls).expect("client"),
        vec![main_peer.clone()],
        100,
    );
    b_ledger.pull_once().await.expect("pull ledger only");
    let page = serve_records(&main, &main_key, "cloud-a", 0, 100)
        .await
        .expect("page");
    assert_eq!(page.upto, cloud_head);
    let mut forged = page.clone();
    let line = forged
        .records
        .iter_mut()
        .find_map(|l| l.bank_account.as_mut())
        .expect("the account travels");
    line.account.account_number = "0099999999".into();
    let err = check_records(&b, &b_key, "cloud-a", 0, 100, forged)
        .await
        .expect_err("forged");
    assert_eq!(err.code(), SYNC_RECORD_MISMATCH, "{err}");
    let mut dropped = page.clone();
    dropped.records.clear();
    let err = check_records(&b, &b_key, "cloud-a", 0, 100, dropped)
        .await
        .expect_err("a line left out");
    assert_eq!(err.code(), SYNC_RECORD_MISMATCH, "{err}");
    assert_eq!(b.bank_account(&key).await.expect("account"), None);
    assert_eq!(b.sync_records_cursor("cloud-a").await.expect("cursor"), 0);
    // The genuine page, through the pull loop, over mutual TLS.
    let b_pull = Puller::new(
        b.clone(),
        peer_client(&b_tls).expect("client"),
        vec![main_peer.clone()],
        100,
    )
    .with_records(b_key.clone());
    b_pull.pull_once().await.expect("pull");
    let at_b = b.bank_account(&key).await.expect("account").expect("held");
    let t = TravellingAccount::open(&b_key, &at_b).expect("under cloud-b's key");
    assert_eq!(t.account.account_number, "0012345678");
    assert_eq!(
        b.sync_records_cursor("cloud-a").await.expect("cursor"),
        cloud_head
    );
}

/// `GET /v1/whoami` at `base` signed with `key_id`: the status.
async fn whoami(base: &str, key_id: &str, secret: &str) -> u16 {
    common::signed_request(
        &reqwest::Client::new(),
        base,
        key_id,
        secret,
        "GET",
        "/v1/whoami",
        Vec::new(),
        common::now(),
        &einvoice_server::sign::fresh_nonce(),
    )
    .send()
    .await
    .expect("send")
    .status()
    .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_rotated_at_main_is_refused_at_the_cloud_after_sync() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = dir.path().join("ca");
    init_ca(&ca, "test").expect("ca");
    let (main_tls, cloud_tls) = (issue(&ca, "main"), issue(&ca, "cloud-a"));
    let (main_key, cloud_key) = (sealer(7), sealer(8));
    let main = store(dir.path(), "main");
    let cloud = store(dir.path(), "cloud-a");
    let secret = "s3cret-s3cret-s3cret";
    // The key at both sites, each sealed under its own master key (as
    // `up --sites` provisions it), created at main with its operator entry.
    common::put_api_key(&main, &main_key, "K1", secret, &[SELLER_A]).await;
    common::put_api_key(&cloud, &cloud_key, "K1", secret, &[SELLER_A]).await;
    let admin = |action: &str| einvoice_store::NewEntry {
        kind: "ADMIN".into(),
        key: "key/K1".into(),
        actor: "operator:alice".into(),
        body: einvoice_store::canonical_json(
            &json!({"action": action, "key_id": "K1", "sellers": [SELLER_A]}),
        ),
    };
    main.append_event(admin("key.create")).await.expect("entry");
    let (main_peer, _) = serve(&main, &main_key, &main_tls).await;
    let (_, cloud_plain) = serve(&cloud, &cloud_key, &cloud_tls).await;
    let pull = Puller::new(
        cloud.clone(),
        peer_client(&cloud_tls).expect("client"),
        vec![main_peer],
        100,
    )
    .with_records(cloud_key.clone());
    pull.pull_once().await.expect("pull");
    assert_eq!(whoami(&cloud_plain, "K1", secret).await, 200);
    // The cloud holds the operator entries as digests only.
    let held = cloud.entries("main", 0, 10).await.expect("entries");
    assert!(held.iter().all(|e| e.withheld), "{held:?}");

    // Rotated at main (as `POST /v1/ops/keys/K1/rotate` does: the key
    // disabled, then its operator entry).
    let mut k1 = main.api_key("K1").await.expect("key").expect("held");
    k1.disabled = true;
    main.put_api_key(k1).await.expect("revoke");
    let mut rotate = admin("key.rotate");
    rotate.body = einvoice_store::canonical_json(
        &json!({"action": "key.rotate", "key_id": "K1", "new_key_id": "K2", "sellers": [SELLER_A], "reason": null}),
    );
    main.append_event(rotate).await.expect("entry");
    assert_eq!(whoami(&cloud_plain, "K1", secret).await, 200, "before sync");
    pull.pull_once().await.expect("pull");
    assert_eq!(
        whoami(&cloud_plain, "K1", secret).await,
        401,
        "refused at the cloud after sync"
    );
    let at_cloud = cloud.api_key("K1").await.expect("key").expect("held");
    assert!(at_cloud.disabled);
    assert_eq!(cloud.sync_records_cursor("main").await.expect("cursor"), 2);
}
