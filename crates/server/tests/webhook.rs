//! Winner notifications from the outbox to a webhook over real HTTP: signed,
//! retried with backoff after a failure, delivered once accepted.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use einvoice_core::Period;
use einvoice_server::webhook::{self, WebhookConfig, signature};
use einvoice_store::conformance::{sample_winners, winners_entry};
use einvoice_store::{Store, WinnersLoad};
use einvoice_store_sqlite::SqliteStore;
use std::sync::{Arc, Mutex};

const SECRET: &[u8] = b"webhook-secret-0123456789";

#[derive(Default)]
struct Received {
    calls: u32,
    accepted: Vec<(String, bool)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_signed_retried_and_delivered() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = SqliteStore::open(&dir.path().join("s.db"), "main").expect("open");
    let period = Period::parse("11402").expect("p");
    let load = WinnersLoad {
        period,
        actor: "operator:alice".into(),
        winners: sample_winners(),
    };
    store
        .put_winners(load.clone(), winners_entry(&load))
        .await
        .expect("load");
    // The receiver refuses its first call, then verifies and accepts.
    let got = Arc::new(Mutex::new(Received::default()));
    let g = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let g = g.clone();
            async move {
                let h = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                let ts: i64 = h("x-einvoice-timestamp").parse().unwrap_or(0);
                let id = h("idempotency-key");
                let good = h("x-einvoice-signature") == signature(SECRET, ts, &id, &body)
                    && h("x-einvoice-id") == id;
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let cfg = WebhookConfig::new(&format!("http://{addr}/hook"), SECRET).expect("cfg");
    let client = reqwest::Client::new();
    let now = 1_000;
    let first = webhook::deliver_due(&store, &client, &cfg, now)
        .await
        .expect("deliver");
    assert_eq!((first.ok, first.failed), (2, 1));
    // The failed one waits for its backoff.
    let early = webhook::deliver_due(&store, &client, &cfg, now + 5)
        .await
        .expect("deliver");
    assert_eq!((early.ok, early.failed), (0, 0));
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
        store
            .outbox_due(i64::MAX, 10)
            .await
            .expect("due")
            .is_empty(),
        "all delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_webhook_reschedules() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = SqliteStore::open(&dir.path().join("s.db"), "main").expect("open");
    let load = WinnersLoad {
        period: Period::parse("11402").expect("p"),
        actor: "operator:alice".into(),
        winners: sample_winners(),
    };
    store
        .put_winners(load.clone(), winners_entry(&load))
        .await
        .expect("load");
    // A port nothing listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    let cfg = WebhookConfig::new(&format!("http://{addr}/hook"), SECRET).expect("cfg");
    let d = webhook::deliver_due(&store, &reqwest::Client::new(), &cfg, 0)
        .await
        .expect("deliver");
    assert_eq!((d.ok, d.failed), (0, 3));
    let due = store.outbox_due(i64::MAX, 10).await.expect("due");
    assert!(due.iter().all(|i| i.attempts == 1 && i.next_unix == 10));
}
