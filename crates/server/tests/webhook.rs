//! Winner notifications from the outbox to a webhook over real HTTP(S):
//! signed, retried with backoff after a failure, delivered once accepted;
//! two workers (two nodes on one PostgreSQL, or two loops on one SQLite
//! store) deliver every item exactly once; HTTPS through a configured CA,
//! and a wrong CA is a recorded TLS failure that reschedules.

mod common;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use einvoice_core::Period;
use einvoice_server::config::FileConfig;
use einvoice_server::webhook::{self, WebhookConfig, signature};
use einvoice_store::conformance::{carrier_winner_lines, sample_winners, winners_entry};
use einvoice_store::{OutboxRecord, Store, WinnerRecord, WinnersLoad};
use einvoice_store_postgres::PgStore;
use einvoice_store_postgres::pg_harness::PgCluster;
use einvoice_store_sqlite::SqliteStore;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &[u8] = b"webhook-secret-0123456789";

#[derive(Default)]
struct Received {
    calls: u32,
    accepted: Vec<(String, bool)>,
}

fn load(winners: Vec<WinnerRecord>) -> WinnersLoad {
    WinnersLoad {
        period: Period::parse("11402").expect("p"),
        actor: "operator:alice".into(),
        winners,
    }
}

/// Load `winners` (with their ledger entry).
async fn put<S: Store>(store: &S, winners: Vec<WinnerRecord>) {
    let l = load(winners);
    store
        .put_winners(l.clone(), winners_entry(&l))
        .await
        .expect("load");
}

/// The outbox as stored, by id.
async fn outbox<S: Store>(store: &S) -> Vec<OutboxRecord> {
    store.export_records().await.expect("records").outbox
}

/// Deliver what is due at `now` with `cfg`'s own client (as `serve` does).
async fn deliver_at<S: Store>(store: &S, cfg: &WebhookConfig, now: i64) -> webhook::Delivered {
    let client = cfg.client().expect("client");
    webhook::deliver_due(store, &client, cfg, now)
        .await
        .expect("deliver")
}

/// [`deliver_at`] when every attempt fails: all three items are tried once
/// and rescheduled 10 s later; the outbox as stored then.
async fn deliver_failing<S: Store>(store: &S, cfg: &WebhookConfig, now: i64) -> Vec<OutboxRecord> {
    let d = deliver_at(store, cfg, now).await;
    assert_eq!((d.ok, d.failed), (0, 3));
    let records = outbox(store).await;
    for o in &records {
        assert_eq!(
            (o.item.attempts, o.item.next_unix),
            (1, now + 10),
            "{}",
            o.item.id
        );
    }
    records
}

/// What a receiver checks: the item id (`Idempotency-Key`, repeated in
/// `X-Einvoice-Id`) and whether the signature over timestamp, id and body is
/// right.
fn verified(headers: &HeaderMap, body: &str) -> (String, bool) {
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let ts: i64 = h("x-einvoice-timestamp").parse().unwrap_or(0);
    let id = h("idempotency-key");
    let good =
        h("x-einvoice-signature") == signature(SECRET, ts, &id, body) && h("x-einvoice-id") == id;
    (id, good)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_signed_retried_and_delivered() {
    let (store, _dir) = common::sqlite_store();
    put(&store, sample_winners()).await;
    // The receiver refuses its first call, then verifies and accepts.
    let got = Arc::new(Mutex::new(Received::default()));
    let g = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let g = g.clone();
            async move {
                let (id, good) = verified(&headers, &body);
                let mut r = g.lock().expect("lock");
                r.calls += 1;
                if r.calls == 1 {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                r.accepted.push((id, good));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let (listener, addr) = common::bind().await;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let cfg = WebhookConfig::new(&format!("http://{addr}/hook"), SECRET).expect("cfg");
    let client = cfg.client().expect("client");
    let now = 1_000;
    let first = webhook::deliver_due(&store, &client, &cfg, now)
        .await
        .expect("deliver");
    assert_eq!((first.claimed, first.ok, first.failed), (3, 2, 1));
    // The failed one waits for its backoff.
    let early = webhook::deliver_due(&store, &client, &cfg, now + 5)
        .await
        .expect("deliver");
    assert_eq!((early.claimed, early.ok, early.failed), (0, 0, 0));
    let later = webhook::deliver_due(&store, &client, &cfg, now + cfg.base_backoff_secs)
        .await
        .expect("deliver");
    assert_eq!((later.ok, later.failed), (1, 0));
    let accepted = got.lock().expect("lock").accepted.clone();
    let mut ids: Vec<&str> = accepted.iter().map(|(i, _)| i.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["winner/11402/0", "winner/11402/1", "winner/11402/3"]);
    assert!(
        accepted.iter().all(|(_, good)| *good),
        "every signature verifies"
    );
    assert!(
        outbox(&store)
            .await
            .iter()
            .all(|o| o.delivered_unix.is_some()),
        "all delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_webhook_reschedules() {
    let (store, _dir) = common::sqlite_store();
    put(&store, sample_winners()).await;
    // A port nothing listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    let cfg = WebhookConfig::new(&format!("http://{addr}/hook"), SECRET).expect("cfg");
    for o in deliver_failing(&store, &cfg, 0).await {
        assert_eq!(o.last_error.as_deref(), Some("connection failed"));
    }
}

/// A redirect is not followed (a POST redirected with 301/302 would arrive
/// as a GET without its body): it is a failed attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_a_failure() {
    let (store, _dir) = common::sqlite_store();
    put(&store, sample_winners()).await;
    let gets = Arc::new(Mutex::new(0u32));
    let g = gets.clone();
    let app = Router::new()
        .route(
            "/hook",
            post(|| async { (StatusCode::FOUND, [("location", "/elsewhere")]) }),
        )
        .route(
            "/elsewhere",
            axum::routing::any(move || {
                let g = g.clone();
                async move {
                    *g.lock().expect("lock") += 1;
                    StatusCode::OK
                }
            }),
        );
    let (listener, addr) = common::bind().await;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let cfg = WebhookConfig::new(&format!("http://{addr}/hook"), SECRET).expect("cfg");
    let d = deliver_at(&store, &cfg, 0).await;
    assert_eq!((d.ok, d.failed), (0, 3));
    assert_eq!(*gets.lock().expect("lock"), 0, "not followed");
    for o in outbox(&store).await {
        assert_eq!(o.last_error.as_deref(), Some("HTTP 302"));
    }
}

/// Deliveries per idempotency id, and the client connections they came on.
#[derive(Default)]
struct Counted {
    per_id: BTreeMap<String, u32>,
    peers: HashSet<SocketAddr>,
}

/// A receiver that accepts everything after a short pause (so that the
/// workers' batches overlap) and counts deliveries per id.
async fn counting_receiver() -> (String, Arc<Mutex<Counted>>) {
    let counted = Arc::new(Mutex::new(Counted::default()));
    let c = counted.clone();
    let app = Router::new().route(
        "/hook",
        post(
            move |ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap| {
                let c = c.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let id = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let mut c = c.lock().expect("lock");
                    *c.per_id.entry(id).or_default() += 1;
                    c.peers.insert(peer);
                    StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let (listener, addr) = common::bind().await;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    (format!("http://{addr}/hook"), counted)
}

/// Two `webhook::run` loops, one per store handle, each its own worker and
/// HTTP client, deliver `n` loaded notifications: every id arrives exactly
/// once, and both workers delivered some.
async fn two_workers_deliver_each_item_once<S: Store>(a: S, b: S, n: u64) {
    put(&a, carrier_winner_lines(n)).await;
    let (url, counted) = counting_receiver().await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut loops = Vec::new();
    for (name, store) in [("node-a", a.clone()), ("node-b", b)] {
        let mut cfg = WebhookConfig::new(&url, SECRET).expect("cfg");
        cfg.worker = name.into();
        cfg.batch = 5;
        cfg.poll = Duration::from_millis(20);
        let client = cfg.client().expect("client");
        let mut stop = stop_rx.clone();
        loops.push(tokio::spawn(webhook::run(store, cfg, client, async move {
            let _ = stop.wait_for(|s| *s).await;
        })));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = counted.lock().expect("lock").per_id.len() as u64;
        if seen == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {seen} of {n} delivered in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A few more polls: a duplicate would show up now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_tx.send(true).expect("stop");
    for l in loops {
        tokio::time::timeout(Duration::from_secs(10), l)
            .await
            .expect("the loops stop")
            .expect("loop task");
    }
    let (per_id, peers) = {
        let c = counted.lock().expect("lock");
        (c.per_id.clone(), c.peers.clone())
    };
    let twice: Vec<(&String, &u32)> = per_id.iter().filter(|(_, k)| **k != 1).collect();
    assert!(
        twice.is_empty(),
        "{} delivered more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    assert_eq!(per_id.len() as u64, n);
    assert!(
        peers.len() >= 2,
        "both workers delivered (one connection each): {peers:?}"
    );
    let records = outbox(&a).await;
    assert_eq!(records.len() as u64, n);
    assert!(records.iter().all(|o| o.delivered_unix.is_some()));
    assert!(records.iter().all(|o| o.item.attempts == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_deliver_each_item_once() {
    let url = PgCluster::shared()
        .create_database()
        .await
        .expect("create a test database");
    let a = PgStore::connect(&url, "main").await.expect("node a");
    let b = PgStore::connect(&url, "main").await.expect("node b");
    two_workers_deliver_each_item_once(a, b, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_loops_on_one_sqlite_store_deliver_each_item_once() {
    let (store, _dir) = common::sqlite_store();
    two_workers_deliver_each_item_once(store.clone(), store, 200).await;
}

/// A self-signed certificate for `localhost`: (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    (ck.cert.pem(), ck.signing_key.serialize_pem())
}

/// HTTPS: delivered when `webhook_ca_file` holds the receiver's CA; with
/// another CA the handshake fails, and that is a recorded TLS failure that
/// reschedules the item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_through_the_configured_ca() {
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = self_signed();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, &cert).expect("write");
    std::fs::write(&key_file, &key).expect("write");
    let wrong_ca = dir.path().join("other-ca.pem");
    std::fs::write(&wrong_ca, self_signed().0).expect("write");

    let got = Arc::new(Mutex::new(Vec::<(String, bool)>::new()));
    let g = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let g = g.clone();
            async move {
                let (id, good) = verified(&headers, &body);
                g.lock().expect("lock").push((id, good));
                StatusCode::OK
            }
        }),
    );
    let tls = einvoice_server::tls::server_config(&cert_file, &key_file).expect("tls");
    let (listener, addr) = common::bind().await;
    tokio::spawn(einvoice_server::tls::serve_tls(
        listener,
        app,
        tls,
        std::future::pending(),
    ));
    let url = format!("https://localhost:{}/hook", addr.port());

    // The wrong CA: every attempt fails in the handshake and is rescheduled.
    let (wrong, _wrong_dir) = common::sqlite_store();
    put(&wrong, sample_winners()).await;
    let cfg = FileConfig {
        webhook_url: Some(url.clone()),
        webhook_ca_file: Some(wrong_ca),
        ..FileConfig::default()
    }
    .webhook(SECRET)
    .expect("config")
    .expect("webhook set");
    for o in deliver_failing(&wrong, &cfg, 500).await {
        let e = o.last_error.unwrap_or_default();
        assert!(
            e.starts_with("TLS: ") && e.contains("certificate"),
            "{}: {e}",
            o.item.id
        );
    }
    assert!(got.lock().expect("lock").is_empty(), "nothing was sent");

    // The right CA, from the environment as `serve` reads it.
    let store = SqliteStore::open(&dir.path().join("s.db"), "main").expect("open");
    put(&store, sample_winners()).await;
    let mut file = FileConfig::from_toml(&format!("webhook_url = {url:?}\n")).expect("toml");
    let ca = cert_file.display().to_string();
    file.apply_env(|k| (k == "EINVOICE_WEBHOOK_CA_FILE").then(|| ca.clone()))
        .expect("env");
    let cfg = file.webhook(SECRET).expect("config").expect("webhook set");
    let d = deliver_at(&store, &cfg, 500).await;
    assert_eq!((d.ok, d.failed), (3, 0));
    let got = got.lock().expect("lock").clone();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|(_, good)| *good), "signatures verify");
    assert!(
        outbox(&store)
            .await
            .iter()
            .all(|o| o.delivered_unix == Some(500))
    );
}
