//! The one test-site builder of the server's tests: a store (SQLite in a
//! tempdir; the PostgreSQL test connects its own `PgStore` to its cluster), a sealer,
//! sellers with tracks and API keys, App API apps, carriers, a router served
//! on port 0, and a signed seller client.
//!
//! Each test file is its own crate and uses only part of this.
#![allow(dead_code)]

use einvoice_core::{Carrier, CarrierType, Period, Ubn};
use einvoice_secrets::{Sealer, purpose};
use einvoice_server::app_api::AppApiConfig;
use einvoice_server::app_api::{AppKey, SignatureAlg, hash_verification_code};
use einvoice_server::lockout::Lockout;
use einvoice_server::{SiteOptions, router, serve, sign};
use einvoice_store::{
    ApiKeyRecord, AppRecord, CarrierRecord, SellerRecord, Store, WinningBody, WinningNumbersRecord,
};
use einvoice_store_sqlite::SqliteStore;
use std::net::SocketAddr;
use std::time::Duration;

/// A SQLite store in a fresh tempdir (keep the dir as long as the store).
pub fn sqlite_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("site.db"), "main").expect("open store");
    (store, dir)
}

/// A sealer with a fixed test master key.
pub fn sealer(byte: u8) -> Sealer {
    Sealer::new(&[byte; 32])
}

/// The default lock-out policy with millisecond delays, so failures do not slow tests.
pub fn fast_lockout() -> Lockout {
    Lockout {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..Lockout::default()
    }
}

/// [`fast_lockout`] that locks after 3 failures for 20 s of the site's clock
/// (which a test moves forward, so the lock never runs out by itself).
pub fn twenty_second_lock_after_3() -> Lockout {
    Lockout {
        lock_after: 3,
        interval_secs: 20,
        client_lock_after: 3,
        client_interval_secs: 20,
        ..fast_lockout()
    }
}

/// Site options with [`fast_lockout`] for carriers, the rest default.
pub fn fast_site_options() -> SiteOptions {
    SiteOptions {
        app_api: AppApiConfig {
            lockout: fast_lockout(),
            ..AppApiConfig::default()
        },
        ..SiteOptions::default()
    }
}

/// A whole site on SQLite served on port 0, and an HTTP client for it.
pub struct TestSite {
    /// `http://127.0.0.1:port`.
    pub url: String,
    /// The site's store (to check what the API wrote).
    pub store: SqliteStore,
    /// The client.
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Serve the whole site ([`router`]) on `store` (kept in `dir`) on port 0.
pub async fn serve_site(
    store: SqliteStore,
    dir: tempfile::TempDir,
    sealer: Sealer,
    opts: SiteOptions,
) -> TestSite {
    let url = serve_on_port_0(router(store.clone(), sealer, opts)).await;
    TestSite {
        url,
        store,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

/// Serve `app` on 127.0.0.1, port 0 (with client addresses, as the site
/// does); the base URL `http://addr`.
pub async fn serve_on_port_0(app: axum::Router) -> String {
    let (listener, addr) = bind().await;
    tokio::spawn(async move {
        let _ = serve(listener, app, std::future::pending()).await;
    });
    format!("http://{addr}")
}

/// A listener on 127.0.0.1, port 0, and its address.
pub async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    (listener, addr)
}

/// Unix seconds now (the client's clock).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Register a seller.
pub async fn put_seller<S: Store>(store: &S, ubn: &str, name: &str) {
    store
        .put_seller(SellerRecord {
            ubn: Ubn::parse(ubn).expect("ubn"),
            name: name.into(),
            qr_key_sealed: None,
        })
        .await
        .expect("seller");
}

/// An API key `key_id` with `secret`, acting for `sellers`.
pub async fn put_api_key<S: Store>(
    store: &S,
    sealer: &Sealer,
    key_id: &str,
    secret: &str,
    sellers: &[&str],
) {
    store
        .put_api_key(ApiKeyRecord {
            key_id: key_id.into(),
            secret_sealed: sealer
                .seal(purpose::API_KEY, secret.as_bytes())
                .expect("seal"),
            sellers: sellers
                .iter()
                .map(|s| Ubn::parse(s).expect("ubn"))
                .collect(),
            disabled: false,
            created_unix: 0,
        })
        .await
        .expect("key");
}

/// An App API app `app_id` signing with `alg` under `key`.
pub async fn put_app<S: Store>(
    store: &S,
    sealer: &Sealer,
    app_id: &str,
    name: &str,
    alg: SignatureAlg,
    key: &str,
) {
    let key = AppKey {
        alg,
        key: key.into(),
    };
    store
        .put_app(AppRecord {
            app_id: app_id.into(),
            api_key_sealed: key.seal(sealer).expect("seal"),
            name: name.into(),
            disabled: false,
        })
        .await
        .expect("put app");
}

/// The appID of the test App API app.
pub const TEST_APP: &str = "EINVTEST0001";

/// The test App API app ([`TEST_APP`], "test app") signing with HMAC-SHA256 under `key`.
pub async fn put_test_app<S: Store>(store: &S, sealer: &Sealer, key: &str) {
    put_app(
        store,
        sealer,
        TEST_APP,
        "test app",
        SignatureAlg::HmacSha256,
        key,
    )
    .await;
}

/// A mobile-barcode carrier `id` with verification code `code`.
pub async fn put_carrier<S: Store>(store: &S, id: &str, code: &str) {
    store
        .put_carrier(CarrierRecord {
            carrier: Carrier {
                kind: CarrierType::MobileBarcode,
                id: id.into(),
            },
            verification_hash: hash_verification_code(code).expect("hash"),
            failures: 0,
            locked_until: 0,
        })
        .await
        .expect("carrier");
}

/// A request to `base + path` signed with `key_id`/`secret` at `ts` with `nonce`.
#[allow(clippy::too_many_arguments)]
pub fn signed_request(
    http: &reqwest::Client,
    base: &str,
    key_id: &str,
    secret: &str,
    method: &str,
    path: &str,
    body: Vec<u8>,
    ts: i64,
    nonce: &str,
) -> reqwest::RequestBuilder {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = http.request(m, format!("{base}{path}"));
    for (k, v) in sign::sign_headers(key_id, secret, method, path, ts, nonce, &body) {
        req = req.header(k, v);
    }
    req.body(body)
}

/// Winning numbers (中獎號碼) where an invoice whose number ends in 731 wins
/// the sixth prize (the last 3 digits of a first prize); no publication time.
pub fn numbers_where_731_wins() -> WinningBody {
    WinningBody {
        special: "11111111".into(),
        grand: "22222222".into(),
        first: vec!["33333731".into()],
        additional_sixth: vec![],
        amounts: None,
        published_unix: None,
    }
}

/// Store `body` as version 1 of `period`'s winning numbers, entered by alice
/// and approved by bob.
pub async fn put_approved_numbers<S: Store>(store: &S, period: Period, body: WinningBody) {
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
        .expect("winning numbers");
}

/// POST `form` URL-encoded (as the MOF App API takes its parameters) to
/// `url`: the HTTP status and the JSON answer.
pub async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

/// The current TOTP code of a new operator's secrets.
pub fn totp(secrets: &einvoice_server::ops::NewOperatorSecrets) -> String {
    let secret = totp_rs::Secret::try_from_base32(&secrets.totp_secret_base32).expect("base32");
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .expect("totp");
    totp.generate(u64::try_from(now()).unwrap_or(0)).to_string()
}

/// Log operator `name` in at the site at `url`: its session token.
pub async fn operator_token(
    url: &str,
    name: &str,
    secrets: &einvoice_server::ops::NewOperatorSecrets,
) -> String {
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/ops/login"))
        .json(
            &serde_json::json!({"name": name, "password": secrets.password, "totp": totp(secrets)}),
        )
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 200, "operator login");
    r.json::<serde_json::Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string()
}
