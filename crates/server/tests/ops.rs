//! The operator API over real HTTP on an ephemeral port, on the SQLite store.

mod common;

use einvoice_core::{Period, Ubn};
use einvoice_secrets::Sealer;
use einvoice_server::app_api::{self, AppKey, INV_APP_PATH, sign, signing_string};
use einvoice_server::ops::{self, NewOperatorSecrets, OpsConfig, bootstrap_operator};
use einvoice_store::{Scope, Store};
use einvoice_store_sqlite::SqliteStore;
use serde_json::{Value, json};

struct Site {
    url: String,
    store: SqliteStore,
    sealer: Sealer,
    _dir: tempfile::TempDir,
}

async fn site(cfg: OpsConfig) -> Site {
    let (store, dir) = common::sqlite_store();
    let sealer = common::sealer(5);
    let router = ops::router_with(store.clone(), sealer.clone(), cfg)
        .merge(app_api::router(store.clone(), sealer.clone()));
    let url = common::serve_on_port_0(router).await;
    Site {
        url,
        store,
        sealer,
        _dir: dir,
    }
}

fn fast() -> OpsConfig {
    OpsConfig {
        lockout: common::fast_lockout(),
        ..OpsConfig::default()
    }
}

/// A site with [`fast`] options and its first operator, alice, logged in:
/// the site, alice's first secrets and her token.
async fn site_with_alice() -> (Site, NewOperatorSecrets, String) {
    let s = site(fast()).await;
    let secrets = bootstrap_operator(&s.store, &s.sealer, "alice")
        .await
        .expect("bootstrap");
    let token = login(&s, "alice", &secrets, 0).await;
    (s, secrets, token)
}

/// The code of the authenticator app at now + `offset` seconds.
fn code(secrets: &NewOperatorSecrets, offset: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(&secrets.totp_secret_base32).expect("base32");
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .expect("totp");
    totp.generate(u64::try_from(common::now()).unwrap_or(0) + offset)
        .to_string()
}

async fn call(
    s: &Site,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let c = reqwest::Client::new();
    let url = format!("{}{path}", s.url);
    let mut req = match method {
        "GET" => c.get(url),
        _ => c.post(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let v = resp.json().await.unwrap_or(Value::Null);
    (status, v)
}

/// `POST /v1/ops/login` with `body` (name, password and TOTP code).
async fn post_login(s: &Site, body: Value) -> (u16, Value) {
    call(s, "POST", "/v1/ops/login", None, Some(body)).await
}

async fn login(s: &Site, name: &str, secrets: &NewOperatorSecrets, offset: u64) -> String {
    let (st, v) = post_login(
        s,
        json!({"name": name, "password": secrets.password, "totp": code(secrets, offset)}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    v["token"].as_str().expect("token").to_string()
}

/// `POST /v1/ops/operators` by the operator holding `token`: operator `name`
/// with one `role`, which must be created; the answer (its first secrets).
async fn add_operator(s: &Site, token: &str, name: &str, role: &str) -> Value {
    let (st, v) = call(
        s,
        "POST",
        "/v1/ops/operators",
        Some(token),
        Some(json!({"name": name, "roles": [role]})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    v
}

/// `POST /v1/ops/winning` by the operator holding `token`: enter a version
/// of a period's winning numbers (中獎號碼).
async fn enter_numbers(s: &Site, token: &str, numbers: Value) -> (u16, Value) {
    call(s, "POST", "/v1/ops/winning", Some(token), Some(numbers)).await
}

/// `POST /v1/ops/winning/11402/approve` by the operator holding `token`:
/// approve (publish) `version` of 11402's winning numbers.
async fn approve_11402(s: &Site, token: &str, version: u64) -> (u16, Value) {
    let body = json!({ "version": version });
    call(
        s,
        "POST",
        "/v1/ops/winning/11402/approve",
        Some(token),
        Some(body),
    )
    .await
}

fn new_secrets(v: &Value) -> NewOperatorSecrets {
    NewOperatorSecrets {
        password: v["password"].as_str().expect("password").into(),
        totp_secret_base32: v["totp_secret"].as_str().expect("secret").into(),
        otpauth_url: v["otpauth_url"].as_str().expect("url").into(),
    }
}

#[tokio::test]
async fn bootstrap_only_on_an_empty_site() {
    let s = site(fast()).await;
    let first = bootstrap_operator(&s.store, &s.sealer, "alice")
        .await
        .expect("bootstrap");
    assert!(
        first.otpauth_url.starts_with("otpauth://totp/"),
        "{}",
        first.otpauth_url
    );
    assert!(first.password.len() >= 20);
    let again = bootstrap_operator(&s.store, &s.sealer, "bob").await;
    assert!(matches!(again, Err(ops::OpsError::NotEmpty)), "{again:?}");
    // The record holds neither the password nor the TOTP secret in clear.
    let rec = s
        .store
        .operator("alice")
        .await
        .expect("read")
        .expect("exists");
    assert!(rec.password_hash.starts_with("$argon2id$"));
    assert!(!rec.password_hash.contains(&first.password));
}

#[tokio::test]
async fn login_checks_password_and_totp_once_and_soft_locks() {
    // The lock lasts 20 s of the site's clock, which the test moves forward:
    // however slow the machine, the lock cannot run out by itself.
    let clock = einvoice_server::clock::Clock::default();
    let s = site(OpsConfig {
        lockout: common::twenty_second_lock_after_3(),
        clock: clock.clone(),
        ..fast()
    })
    .await;
    let alice = bootstrap_operator(&s.store, &s.sealer, "alice")
        .await
        .expect("bootstrap");
    let login_body =
        |pw: &str, totp: String| json!({"name": "alice", "password": pw, "totp": totp});
    // Unknown operator.
    let (st, v) = post_login(
        &s,
        json!({"name": "mallory", "password": "x", "totp": "000000"}),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (401, Some("LOGIN_FAILED")));
    // Good login, then the same code again: refused (a code is usable once).
    let c = code(&alice, 0);
    let (st, v) = post_login(&s, login_body(&alice.password, c.clone())).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = post_login(&s, login_body(&alice.password, c)).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (401, Some("LOGIN_FAILED")),
        "reused code"
    );
    // Wrong password with a fresh code: failure 2; then failure 3 locks.
    let (st, _) = post_login(&s, login_body("wrong", code(&alice, 30))).await;
    assert_eq!(st, 401);
    let (st, _) = post_login(&s, login_body(&alice.password, "123".into())).await;
    assert_eq!(st, 401);
    let (st, v) = post_login(&s, login_body(&alice.password, code(&alice, 30))).await;
    assert_eq!((st, v["code"].as_str()), (429, Some("LOGIN_LOCKED")), "{v}");
    // Soft: after the lock the right password and a fresh code work.
    clock.advance(21);
    // The site's clock is 21 s ahead now: the next code is at +21 + 30.
    let (st, v) = post_login(&s, login_body(&alice.password, code(&alice, 51))).await;
    assert_eq!(st, 200, "{v}");
    let rec = s
        .store
        .operator("alice")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!((rec.failures, rec.locked_until), (0, 0));
}

#[tokio::test]
async fn operator_actions_roles_two_person_rule_and_ledger() {
    let (s, alice_secrets, alice) = site_with_alice().await;

    // No token, bad token.
    let (st, v) = call(
        &s,
        "POST",
        "/v1/ops/sellers",
        None,
        Some(json!({"ubn": "04595257", "name": "Shop"})),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (401, Some("AUTH_REQUIRED")));
    let (st, v) = call(&s, "GET", "/v1/ops/whoami", Some(&"ab".repeat(32)), None).await;
    assert_eq!((st, v["code"].as_str()), (401, Some("SESSION_EXPIRED")));

    // Sellers and keys.
    let (st, v) = call(
        &s,
        "POST",
        "/v1/ops/sellers",
        Some(&alice),
        Some(json!({"ubn": "04595257", "name": "Shop"})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = call(
        &s,
        "POST",
        "/v1/ops/keys",
        Some(&alice),
        Some(json!({"sellers": ["12345676"]})),
    )
    .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (422, Some("SELLER_UNKNOWN")),
        "{v}"
    );
    let (st, key) = call(
        &s,
        "POST",
        "/v1/ops/keys",
        Some(&alice),
        Some(json!({"sellers": ["04595257"]})),
    )
    .await;
    assert_eq!(st, 200, "{key}");
    let key_id = key["key_id"].as_str().expect("key id");
    let secret = key["secret"].as_str().expect("secret");
    let rec = s
        .store
        .api_key(key_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        s.sealer
            .open(einvoice_secrets::purpose::API_KEY, &rec.secret_sealed)
            .expect("open"),
        secret.as_bytes()
    );
    assert_eq!(rec.sellers, vec![Ubn::parse("04595257").expect("ubn")]);

    // An app, usable on the App API with its key right away.
    let (st, app) = call(
        &s,
        "POST",
        "/v1/ops/apps",
        Some(&alice),
        Some(json!({"name": "Wallet", "alg": "HmacSHA1"})),
    )
    .await;
    assert_eq!(st, 200, "{app}");
    let app_id = app["app_id"].as_str().expect("app id");
    let api_key = app["api_key"].as_str().expect("api key");
    let rec = s.store.app(app_id).await.expect("read").expect("exists");
    assert_eq!(
        AppKey::open(&s.sealer, &rec.api_key_sealed)
            .expect("open")
            .key,
        api_key
    );

    // Operators: bob (operator), carol (auditor), dave (soc).
    let bob = add_operator(&s, &alice, "bob", "operator").await;
    let carol = add_operator(&s, &alice, "carol", "auditor").await;
    let dave = add_operator(&s, &alice, "dave", "soc").await;
    let bob = login(&s, "bob", &new_secrets(&bob), 0).await;
    let carol = login(&s, "carol", &new_secrets(&carol), 0).await;
    let dave = login(&s, "dave", &new_secrets(&dave), 0).await;

    // Winning numbers: alice enters, alice cannot approve, bob approves.
    let numbers = json!({"period": "11402", "special": "12345678", "grand": "87654321",
        "first": ["11111111", "22222222", "33333333"], "additional_sixth": []});
    let (st, v) = enter_numbers(&s, &alice, numbers.clone()).await;
    assert_eq!(
        (st, v["version"].as_u64(), v["status"].as_str()),
        (200, Some(1), Some("draft")),
        "{v}"
    );
    let (st, v) = approve_11402(&s, &alice, 1).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (403, Some("TWO_PERSON_RULE")),
        "{v}"
    );
    let (st, v) = approve_11402(&s, &bob, 1).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("published")), "{v}");
    let (st, v) = approve_11402(&s, &alice, 1).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (409, Some("WINNING_NUMBERS_PUBLISHED")),
        "{v}"
    );
    // Published is immutable: a correction needs a reason and is version 2.
    let (st, v) = enter_numbers(&s, &alice, numbers.clone()).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (422, Some("REASON_REQUIRED")),
        "{v}"
    );
    let mut fixed = numbers.clone();
    fixed["grand"] = json!("87654320");
    fixed["reason"] = json!("typo in the grand number");
    let (st, v) = enter_numbers(&s, &alice, fixed).await;
    assert_eq!(
        (st, v["version"].as_u64(), v["status"].as_str()),
        (200, Some(2), Some("draft")),
        "{v}"
    );
    let (st, v) = enter_numbers(
        &s,
        &alice,
        json!({"period": "11402", "special": "1", "grand": "2", "first": []}),
    )
    .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (422, Some("WINNING_NUMBER_FORMAT")),
        "{v}"
    );

    // The App API serves what was approved (the app's key signs with SHA-1).
    let (st, v) = approve_11402(&s, &bob, 2).await;
    assert_eq!(st, 200, "{v}");
    let params = [
        ("version", "0.2"),
        ("action", "QryWinningList"),
        ("invTerm", "11402"),
        ("appID", app_id),
    ];
    let sig = sign(
        einvoice_server::app_api::SignatureAlg::HmacSha1,
        api_key,
        &signing_string(params.iter().copied()),
    );
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("signature", &sig));
    let (_, got) = common::post_form(&format!("{}{INV_APP_PATH}", s.url), &form).await;
    assert_eq!(
        (got["code"].as_str(), got["spcPrizeNo"].as_str()),
        (Some("200"), Some("87654320")),
        "{got}"
    );

    // Roles: the auditor reads but cannot act; soc has no operator routes.
    let (st, v) = call(&s, "GET", "/v1/ops/winning/11402", Some(&carol), None).await;
    assert_eq!((st, v["version"].as_u64()), (200, Some(2)), "{v}");
    let (st, v) = call(
        &s,
        "POST",
        "/v1/ops/sellers",
        Some(&carol),
        Some(json!({"ubn": "12345676", "name": "X"})),
    )
    .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (403, Some("ROLE_FORBIDDEN")),
        "{v}"
    );
    let (st, v) = call(&s, "GET", "/v1/ops/winning/11402", Some(&dave), None).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (403, Some("ROLE_FORBIDDEN")),
        "{v}"
    );
    let (st, v) = call(&s, "GET", "/v1/ops/whoami", Some(&dave), None).await;
    assert_eq!((st, v["name"].as_str()), (200, Some("dave")));

    // The ledger: ADMIN entries by operator, with no secret in any body.
    let entries = s
        .store
        .entries(s.store.site(), 0, 1000)
        .await
        .expect("entries");
    let admin: Vec<_> = entries.iter().filter(|e| e.kind == "ADMIN").collect();
    for (actor, key) in [
        ("operator:alice", "seller/04595257"),
        ("operator:alice", &format!("key/{key_id}")),
        ("operator:alice", &format!("app/{app_id}")),
        ("operator:alice", "operator/bob"),
        ("operator:alice", "winning/11402/1"),
        ("operator:bob", "winning/11402/1"),
        ("local:bootstrap", "operator/alice"),
    ] {
        assert!(
            admin.iter().any(|e| e.actor == actor && e.key == key),
            "no ADMIN {actor} {key}"
        );
    }
    for e in &admin {
        let body = String::from_utf8_lossy(&e.body);
        assert!(
            !body.contains(secret)
                && !body.contains(api_key)
                && !body.contains(&alice_secrets.password),
            "secret in {body}"
        );
        let v: Value = serde_json::from_slice(&e.body).expect("json body");
        assert_eq!(einvoice_store::canonical_json(&v), e.body, "canonical body");
    }
    assert_eq!(
        s.store
            .verify_ledger(s.store.site())
            .await
            .expect("verify")
            .broken,
        None
    );
}

#[tokio::test]
async fn tracks_are_allocated_through_an_e0401() {
    let (s, _, alice) = site_with_alice().await;
    let (st, v) = call(
        &s,
        "POST",
        "/v1/ops/tracks",
        Some(&alice),
        Some(
            json!({"seller": "04595257", "period": "11402", "track": "AB", "begin": 0, "end": 999}),
        ),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["receipt"]["kind"], "E0401");
    let got = s
        .store
        .tracks(
            &Scope::All,
            Ubn::parse("04595257").expect("ubn"),
            Period::parse("11402").expect("period"),
        )
        .await
        .expect("tracks");
    assert_eq!((got.len(), got[0].begin, got[0].end), (1, 0, 999));
    let entries = s
        .store
        .entries(s.store.site(), 0, 100)
        .await
        .expect("entries");
    assert!(
        entries
            .iter()
            .any(|e| e.kind == "E0401" && e.actor == "operator:alice")
    );
    // Not whole booklets: the core's rule code.
    let (st, v) = call(
        &s,
        "POST",
        "/v1/ops/tracks",
        Some(&alice),
        Some(
            json!({"seller": "04595257", "period": "11402", "track": "AC", "begin": 1, "end": 10}),
        ),
    )
    .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (422, Some("RANGE_BOOKLET")),
        "{v}"
    );
}

#[tokio::test]
async fn sessions_end_when_idle_and_on_logout() {
    let clock = einvoice_server::clock::Clock::default();
    let s = site(OpsConfig {
        idle_secs: 20,
        clock: clock.clone(),
        ..fast()
    })
    .await;
    let secrets = bootstrap_operator(&s.store, &s.sealer, "alice")
        .await
        .expect("bootstrap");
    let t = login(&s, "alice", &secrets, 0).await;
    let (st, _) = call(&s, "GET", "/v1/ops/whoami", Some(&t), None).await;
    assert_eq!(st, 200);
    clock.advance(21);
    let (st, v) = call(&s, "GET", "/v1/ops/whoami", Some(&t), None).await;
    assert_eq!((st, v["code"].as_str()), (401, Some("SESSION_EXPIRED")));
    // The site's clock is 21 s ahead now: the next code is at +21 + 30.
    let t = login(&s, "alice", &secrets, 51).await;
    let (st, _) = call(&s, "POST", "/v1/ops/logout", Some(&t), None).await;
    assert_eq!(st, 200);
    let (st, _) = call(&s, "GET", "/v1/ops/whoami", Some(&t), None).await;
    assert_eq!(st, 401);
    // Only the hash of a token is stored.
    assert!(s.store.session(&t).await.expect("read").is_none());
    assert!(
        s.store
            .session(&ops::token_hash(&t))
            .await
            .expect("read")
            .is_some()
    );
}
