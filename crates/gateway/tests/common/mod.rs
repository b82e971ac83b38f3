//! Real sites (the whole site router on SQLite, served on port 0) and a
//! gateway in front of them, for the gateway's tests.
#![allow(dead_code)]

use einvoice_core::Period;
use einvoice_gateway::Gateway;
use einvoice_gateway::config::{GatewayConfig, SiteConfig};
use einvoice_secrets::Sealer;
use einvoice_server::app_api::{AppKey, SignatureAlg};
use einvoice_server::role::{Role, SiteRole};
use einvoice_server::{Limits, SiteOptions};
use einvoice_store::{AppRecord, CarrierRecord, Store, WinningBody, WinningNumbersRecord};
use einvoice_store_sqlite::SqliteStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The App API app every test site knows.
pub const APP: &str = "EINVGATEWAY1";
/// The carrier every test site knows (verification code [`CARRIER_CODE`]),
/// each site sealing its own tokens (its own master key).
pub const CARRIER: &str = "/ABC+123";
/// Its verification code.
pub const CARRIER_CODE: &str = "Passw0rd!";
/// The period whose winning numbers every test site has published.
pub const TERM: &str = "10802";

/// A running site.
pub struct TestSite {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// `http://127.0.0.1:port` (`https://` behind mutual TLS).
    pub url: String,
    /// Its store (the same one its router serves).
    pub store: SqliteStore,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestSite {
    /// Stop serving (the listener is closed when this returns).
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), t).await;
        }
    }

    /// Its entry in a gateway configuration.
    pub fn config(&self) -> SiteConfig {
        SiteConfig {
            name: self.name.clone(),
            role: self.role,
            url: self.url.clone(),
            weight: 1,
        }
    }
}

/// Limits that do not get in a test's way (one client address sends everything).
pub fn generous_limits() -> Limits {
    Limits {
        public_per_second: 10_000,
        public_burst: 10_000,
        carrier_per_second: 10_000,
        carrier_burst: 10_000,
        ..Limits::default()
    }
}

/// The router of a site `name` of `role` on a fresh SQLite store with the
/// test app and published winning numbers of [`TERM`].
pub async fn site_router(name: &str, role: Role) -> (axum::Router, SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("site.db"), name).expect("store");
    // Each site its own master key, as in a deployment.
    let seed = name
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    let sealer = Sealer::new(&[seed; 32]);
    store
        .put_carrier(CarrierRecord {
            carrier: einvoice_core::Carrier {
                kind: einvoice_core::CarrierType::MobileBarcode,
                id: CARRIER.into(),
            },
            verification_hash: einvoice_server::app_api::hash_verification_code(CARRIER_CODE)
                .expect("hash"),
            failures: 0,
            locked_until: 0,
        })
        .await
        .expect("carrier");
    let key = AppKey {
        alg: SignatureAlg::HmacSha256,
        key: "app-key".into(),
    };
    store
        .put_app(AppRecord {
            app_id: APP.into(),
            api_key_sealed: key.seal(&sealer).expect("seal"),
            name: "gateway test app".into(),
            disabled: false,
        })
        .await
        .expect("app");
    let period = Period::parse(TERM).expect("period");
    let body = WinningBody {
        special: "00106725".into(),
        grand: "90819218".into(),
        first: vec!["13440631".into()],
        additional_sixth: vec![],
        amounts: None,
        published_unix: Some(1_553_496_190),
    };
    store
        .put_winning_numbers(WinningNumbersRecord {
            period,
            version: 1,
            body: body.to_value(period),
            entered_by: "alice".into(),
            approved_by: Some("bob".into()),
            reason: None,
            entered_from: None,
        })
        .await
        .expect("numbers");
    let mut opts = SiteOptions {
        limits: generous_limits(),
        role: Arc::new(SiteRole {
            role,
            site: name.into(),
            main_url: (role != Role::Main).then(|| "http://main.invalid".to_string()),
        }),
        ..SiteOptions::default()
    };
    opts.app_api.client_per_minute = 1_000_000;
    opts.app_api.client_burst = 100_000;
    opts.app_api.app_per_minute = 1_000_000;
    opts.app_api.app_burst = 100_000;
    (
        einvoice_server::router(store.clone(), sealer, opts),
        store,
        dir,
    )
}

/// Start a plain-HTTP site.
pub async fn start_site(name: &str, role: Role) -> TestSite {
    start_site_over(name, role, None).await
}

/// Start a site; with `mtls`, over HTTPS requiring a client certificate of
/// the deployment CA (`einvoice_sync::ca::peer_server_config`).
pub async fn start_site_over(
    name: &str,
    role: Role,
    mtls: Option<Arc<rustls::ServerConfig>>,
) -> TestSite {
    let (app, store, dir) = site_router(name, role).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let scheme = if mtls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = rx.await;
    };
    let task = tokio::spawn(async move {
        let _ = match mtls {
            Some(tls) => {
                einvoice_server::tls::serve_tls_with(
                    listener,
                    app,
                    tls,
                    einvoice_server::edge::EdgeLimits::default(),
                    stop,
                )
                .await
            }
            None => einvoice_server::serve(listener, app, stop).await,
        };
    });
    TestSite {
        name: name.into(),
        role,
        url,
        store,
        stop: Some(tx),
        task: Some(task),
        _dir: dir,
    }
}

/// Make `site`'s copy of main's ledger look `seconds` behind, the way the
/// sync puller records what main offered ([`Store::apply_sync_page`], no
/// entries): main's head `seconds` of HLC time ahead; 0 catches it up.
pub async fn set_lag(site: &TestSite, seconds: u64) {
    use einvoice_store::{EntryHash, Hlc, OriginHead, SyncPage, SyncUpstreamState};
    let behind = seconds > 0;
    site.store
        .apply_sync_page(SyncPage {
            origin: "main".into(),
            after_seq: 0,
            after_hash: EntryHash::GENESIS,
            entries: Vec::new(),
            seen: SyncUpstreamState {
                upstream: "https://main.invalid".into(),
                head: OriginHead {
                    origin: "main".into(),
                    seq: u64::from(behind),
                    hash: if behind {
                        EntryHash([7; 32])
                    } else {
                        EntryHash::GENESIS
                    },
                    hlc: Hlc((seconds * 1000) << 16),
                },
                checked_unix: einvoice_server::clock::now_unix(),
                error: None,
            },
        })
        .await
        .expect("sync state");
}

/// A gateway configuration over `sites` with a fast health poll.
pub fn gateway_config(sites: Vec<SiteConfig>) -> GatewayConfig {
    let mut cfg = GatewayConfig {
        listen: "127.0.0.1:0".into(),
        sites,
        ..GatewayConfig::default()
    };
    cfg.health.interval_ms = 200;
    cfg.health.timeout_ms = 200;
    cfg
}

/// Serve a gateway of `cfg` on port 0: its base URL and state.
pub async fn start_gateway(cfg: GatewayConfig) -> (String, Arc<Gateway>) {
    let gw = Gateway::new(cfg).expect("gateway");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let g = gw.clone();
    tokio::spawn(async move {
        let _ = einvoice_gateway::serve(g, listener, std::future::pending()).await;
    });
    (url, gw)
}

/// A stand-in for a site that fails mid-request (no real site can be made
/// to do that on cue): answers `/readyz` 200; any other request is read
/// and counted, then the connection is dropped (`hold`: kept open, never
/// answered).
pub async fn broken_site(hold: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut have = 0;
                loop {
                    let Ok(n) = tcp.read(&mut buf[have..]).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    have += n;
                    if buf[..have].windows(4).any(|w| w == b"\r\n\r\n") || have == buf.len() {
                        break;
                    }
                }
                if buf.starts_with(b"GET /readyz ") {
                    let _ = tcp
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
                if hold {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                }
            });
        }
    });
    (url, seen)
}

/// A site entry for a stand-in.
pub fn site_entry(name: &str, role: Role, url: &str) -> SiteConfig {
    SiteConfig {
        name: name.into(),
        role,
        url: url.into(),
        weight: 1,
    }
}

/// The site that answered (`x-einvoice-site`).
pub fn served_by(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-einvoice-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Wait until the gateway's `/readyz` shows `site` with `healthy`; the time it took.
pub async fn until_health(
    gw: &str,
    site: &str,
    healthy: bool,
    within: std::time::Duration,
) -> Option<std::time::Duration> {
    let t = std::time::Instant::now();
    let http = reqwest::Client::new();
    while t.elapsed() < within {
        if let Ok(r) = http.get(format!("{gw}/readyz")).send().await
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v["sites"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|s| s["site"] == site && s["healthy"] == healthy)
            })
        {
            return Some(t.elapsed());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    None
}

/// The winning-list query of [`TERM`] for the test app.
pub fn winning_list_path() -> String {
    format!(
        "/PB2CAPIVAN/invapp/InvApp?version=0.5&action=QryWinningList&invTerm={TERM}&UUID=dev-1&appID={APP}"
    )
}
