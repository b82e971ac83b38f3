//! The SOC's holding response actions over real HTTP (issue 16): freeze a
//! seller, force a carrier to verify again, put the site read-only — each
//! refused and served as documented in `soc_holds.rs`, each reversible, each
//! change an `ADMIN` ledger entry naming the operator who took it.

mod common;

use einvoice_server::ops::add_local_operator;
use einvoice_server::sign;
use einvoice_store::conformance::{SELLER_A, allocation, invoice};
use einvoice_store::{Role, Scope, Store};
use serde_json::{Value, json};

const SECRET: &str = "holds-secret";

/// A site with seller A (a track, key `KA`), carrier `/HLD+123` (code
/// `A1B2C3`), the test app, a `soc` operator `sam` and an `operator` `olga`:
/// the site and the two session tokens.
async fn site() -> (common::TestSite, String, String) {
    let (store, dir) = common::sqlite_store();
    let sealer = common::sealer(1);
    store
        .append(&Scope::All, "test", vec![allocation(SELLER_A)])
        .await
        .expect("allocate");
    common::put_seller(&store, SELLER_A, "Shop").await;
    common::put_api_key(&store, &sealer, "KA", SECRET, &[SELLER_A]).await;
    common::put_carrier(&store, "/HLD+123", "A1B2C3").await;
    common::put_test_app(&store, &sealer, "0123456789abcdef0123456789abcdef").await;
    let sam = add_local_operator(&store, &sealer, "sam", vec![Role::Soc], "test")
        .await
        .expect("soc operator");
    let olga = add_local_operator(&store, &sealer, "olga", vec![Role::Operator], "test")
        .await
        .expect("operator");
    let site = common::serve_site(store, dir, sealer, common::fast_site_options()).await;
    let sam = common::operator_token(&site.url, "sam", &sam).await;
    let olga = common::operator_token(&site.url, "olga", &olga).await;
    (site, sam, olga)
}

/// `POST {url}{path}` with a bearer token and a JSON body: status, body,
/// `Retry-After`.
async fn post(url: &str, path: &str, token: &str, body: Value) -> (u16, Value, Option<String>) {
    let r = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, r.json().await.unwrap_or(Value::Null), retry)
}

/// A request signed with key `KA`.
async fn signed(site: &common::TestSite, method: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
    let r = common::signed_request(
        &site.http,
        &site.url,
        "KA",
        SECRET,
        method,
        path,
        body,
        common::now(),
        &sign::fresh_nonce(),
    )
    .header("content-type", "application/json")
    .send()
    .await
    .expect("signed");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn message(n: u32) -> Vec<u8> {
    einvoice_mig::encode_json(&invoice(SELLER_A, &format!("AB{n:08}"), "1234", 100).message)
}

/// The `ADMIN` ledger entries of `target`'s holds: (actor, action) in order.
async fn hold_entries(site: &common::TestSite, target: &str) -> Vec<(String, String)> {
    let entries = site.store.entries("main", 0, 10_000).await.expect("ledger");
    entries
        .iter()
        .filter(|e| e.kind == "ADMIN" && e.key == format!("soc/{target}"))
        .map(|e| {
            let body: Value = serde_json::from_slice(&e.body).expect("body");
            (
                e.actor.clone(),
                body["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_seller_keeps_its_keys_and_reads_and_issues_nothing_until_unfrozen() {
    let (site, sam, olga) = site().await;
    let url = site.url.clone();
    let freeze = format!("/v1/soc/sellers/{SELLER_A}/freeze");
    let unfreeze = format!("/v1/soc/sellers/{SELLER_A}/unfreeze");

    // Role soc only.
    let (st, v, _) = post(&url, &freeze, &olga, json!({})).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (403, Some("ROLE_FORBIDDEN")),
        "{v}"
    );
    let (st, v, _) = post(&url, "/v1/soc/sellers/04595258/freeze", &sam, json!({})).await;
    assert_eq!(st, 422, "{v}");

    assert_eq!(
        signed(&site, "POST", "/v1/messages", message(1)).await.0,
        201
    );
    let (st, v, _) = post(&url, &freeze, &sam, json!({"reason": "incident 1"})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["target"], format!("seller:{SELLER_A}"));
    assert_eq!(v["in_force"], true);
    assert_eq!(v["by"], "operator:sam");
    let (st, v, _) = post(&url, &freeze, &sam, json!({})).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (409, Some("HOLD_IN_FORCE")),
        "{v}"
    );

    // Writes refused, one message or in a batch; the key and reads served.
    let (st, v) = signed(&site, "POST", "/v1/messages", message(2)).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (403, Some("SELLER_FROZEN")),
        "{v}"
    );
    let batch = serde_json::to_vec(&json!({
        "messages": [serde_json::from_slice::<Value>(&message(3)).expect("json")]
    }))
    .expect("batch");
    let (st, v) = signed(&site, "POST", "/v1/batches", batch).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["rejected"], 1, "{v}");
    assert_eq!(v["results"][0]["problem"]["code"], "SELLER_FROZEN", "{v}");
    assert_eq!(signed(&site, "GET", "/v1/whoami", vec![]).await.0, 200);
    let (st, v) = signed(
        &site,
        "GET",
        &format!("/v1/sellers/{SELLER_A}/invoices/AB00000001"),
        vec![],
    )
    .await;
    assert_eq!(st, 200, "{v}");

    // The inverse: served again at once.
    let (st, v, _) = post(&url, &unfreeze, &sam, json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["in_force"], false);
    let (st, v, _) = post(&url, &unfreeze, &sam, json!({})).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (409, Some("HOLD_NOT_IN_FORCE")),
        "{v}"
    );
    assert_eq!(
        signed(&site, "POST", "/v1/messages", message(2)).await.0,
        201
    );

    assert_eq!(
        hold_entries(&site, &format!("seller:{SELLER_A}")).await,
        vec![
            ("operator:sam".to_string(), "soc.freeze_seller".to_string()),
            (
                "operator:sam".to_string(),
                "soc.unfreeze_seller".to_string()
            ),
        ]
    );
}

async fn carrier_login(url: &str, code: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/carrier/login"))
        .json(
            &json!({"carrier_type": "3J0002", "carrier_id": "/HLD+123", "verification_code": code}),
        )
        .send()
        .await
        .expect("login");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn carrier_get(url: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{url}/v1/carrier/invoices?period=11402"))
        .bearer_auth(token)
        .send()
        .await
        .expect("invoices");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `carrierInvChk` with the right code: the MOF answer code.
async fn app_api_check(url: &str) -> u64 {
    let ts = common::now().to_string();
    let (status, v) = common::post_form(
        &format!("{url}{}", einvoice_server::app_api::INV_SERV_PATH),
        &[
            ("version", "0.5"),
            ("action", "carrierInvChk"),
            ("cardType", "3J0002"),
            ("cardNo", "/HLD+123"),
            ("cardEncrypt", "A1B2C3"),
            ("startDate", "2025/01/01"),
            ("endDate", "2025/01/31"),
            ("onlyWinningInv", "N"),
            ("timeStamp", &ts),
            ("appID", common::TEST_APP),
        ],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["code"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_forced_to_reverify_loses_its_tokens_and_its_code_until_cleared() {
    let (site, sam, _) = site().await;
    let url = site.url.clone();
    let (st, v) = carrier_login(&url, "A1B2C3").await;
    assert_eq!(st, 200, "{v}");
    let old = v["token"].as_str().expect("token").to_string();
    assert_eq!(carrier_get(&url, &old).await.0, 200);
    assert_eq!(app_api_check(&url).await, 200);
    let carrier = json!({"carrier_type": "3J0002", "carrier_id": "/HLD+123", "reason": "guessed"});

    // A token issued in the same second as the hold counts as issued before it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (st, v, _) = post(&url, "/v1/soc/carriers/reverify", &sam, carrier.clone()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["target"], "carrier:3J0002:/HLD+123");
    let (st, v) = carrier_get(&url, &old).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (401, Some("CARRIER_REVERIFY")),
        "{v}"
    );
    // The right code answers as a wrong one, through either API.
    let (st, v) = carrier_login(&url, "A1B2C3").await;
    assert_eq!((st, v["code"].as_str()), (401, Some("CARRIER_AUTH")), "{v}");
    assert_ne!(app_api_check(&url).await, 200);
    let (st, v, _) = post(&url, "/v1/soc/carriers/reverify", &sam, carrier.clone()).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (409, Some("HOLD_IN_FORCE")),
        "{v}"
    );

    // Cleared: the code works again; the token issued before stays dead.
    let (st, v, _) = post(&url, "/v1/soc/carriers/reverify/clear", &sam, carrier).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["in_force"], false);
    assert_eq!(carrier_get(&url, &old).await.0, 401);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (st, v) = carrier_login(&url, "A1B2C3").await;
    assert_eq!(st, 200, "{v}");
    let new = v["token"].as_str().expect("token").to_string();
    assert_eq!(carrier_get(&url, &new).await.0, 200);
    assert_eq!(app_api_check(&url).await, 200);

    assert_eq!(
        hold_entries(&site, "carrier:3J0002:/HLD+123").await,
        vec![
            (
                "operator:sam".to_string(),
                "soc.force_carrier_reverify".to_string()
            ),
            (
                "operator:sam".to_string(),
                "soc.clear_carrier_reverify".to_string()
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_site_refuses_writes_serves_reads_and_lets_the_soc_lift_it() {
    let (site, sam, _) = site().await;
    let url = site.url.clone();
    let (st, v, _) = post(&url, "/v1/soc/site/read-only", &sam, json!({"reason": "x"})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["target"], "site");

    let (st, v) = signed(&site, "POST", "/v1/messages", message(1)).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (503, Some("SITE_READ_ONLY")),
        "{v}"
    );
    let r = common::signed_request(
        &site.http,
        &url,
        "KA",
        SECRET,
        "POST",
        "/v1/messages",
        message(1),
        common::now(),
        &sign::fresh_nonce(),
    )
    .header("content-type", "application/json")
    .send()
    .await
    .expect("write");
    assert_eq!(r.headers()["retry-after"], "60");
    let (st, v, _) = post(
        &url,
        "/v1/ops/sellers",
        &sam,
        json!({"ubn": SELLER_A, "name": "x"}),
    )
    .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (503, Some("SITE_READ_ONLY")),
        "{v}"
    );
    // Reads, operator login and the SOC console are served.
    let r = reqwest::get(format!(
        "{url}/v1/public/invoices/AB12345678?random=1234&date=20260105"
    ))
    .await
    .expect("lookup");
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(signed(&site, "GET", "/v1/whoami", vec![]).await.0, 200);
    let r = reqwest::Client::new()
        .get(format!("{url}/v1/soc/alerts"))
        .bearer_auth(&sam)
        .send()
        .await
        .expect("alerts");
    assert_eq!(r.status().as_u16(), 200);
    let (st, v, _) = post(
        &url,
        "/v1/ops/login",
        "",
        json!({"name": "sam", "password": "wrong", "totp": "000000"}),
    )
    .await;
    assert_eq!(st, 401, "login is served, not refused as a write: {v}");

    let (st, v, _) = post(&url, "/v1/soc/site/read-only/lift", &sam, json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        signed(&site, "POST", "/v1/messages", message(1)).await.0,
        201
    );
    assert_eq!(
        hold_entries(&site, "site").await,
        vec![
            ("operator:sam".to_string(), "soc.site_read_only".to_string()),
            (
                "operator:sam".to_string(),
                "soc.site_read_write".to_string()
            ),
        ]
    );
}
