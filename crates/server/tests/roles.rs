//! Site roles over HTTP: every route of `openapi::ROUTES` at a main, a cloud
//! and a standby site; a main-only request elsewhere gets `421 MAIN_ONLY`
//! naming where to send it, and nothing is written.

mod common;

use common::{now, put_api_key, put_seller, serve_site, signed_request, sqlite_store};
use einvoice_server::role::{MAIN_ONLY, Role, RouteClass, SiteRole, classify};
use einvoice_server::{SiteOptions, openapi, sign};
use einvoice_store::conformance::{SELLER_A, allocation, invoice};
use einvoice_store::{Scope, Store};
use std::sync::Arc;

const MAIN_URL: &str = "https://main.einvoice.example";

async fn site(role: Role) -> common::TestSite {
    let (store, dir) = sqlite_store();
    let sealer = common::sealer(7);
    put_seller(&store, SELLER_A, "Shop").await;
    put_api_key(&store, &sealer, "KA", "secret-a", &[SELLER_A]).await;
    let opts = SiteOptions {
        role: Arc::new(SiteRole {
            role,
            site: format!("{role}-1"),
            main_url: (role != Role::Main).then(|| MAIN_URL.to_string()),
        }),
        ..common::fast_site_options()
    };
    serve_site(store, dir, sealer, opts).await
}

/// A concrete path for a route template.
fn concrete(template: &str) -> String {
    let known = template
        .replace("{ubn}", SELLER_A)
        .replace("{number}", "AB12345678")
        .replace("{period}", "11402");
    // Any other parameter (`{name}`, `{key_id}`, …) gets a plain sample
    // value, so the path needs no percent-encoding on the wire.
    known
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                "sample"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Send every documented route to a site of `role`: the ones the role does
/// not serve get 421 MAIN_ONLY with `location` and `Location` at main; the
/// others reach their handlers (whatever they answer, never 421).
async fn every_route_at(role: Role) {
    let s = site(role).await;
    let mut refused = Vec::new();
    for r in openapi::ROUTES {
        let class = classify(r.method, r.path).expect("classified");
        let path = format!("{}?x=1", concrete(r.path));
        let method = reqwest::Method::from_bytes(r.method.to_uppercase().as_bytes()).expect("m");
        let resp = s
            .http
            .request(method, format!("{}{path}", s.url))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("send");
        let status = resp.status().as_u16();
        if role.serves(class) {
            assert_ne!(status, 421, "{} {} at {role}", r.method, r.path);
            continue;
        }
        refused.push(format!("{} {}", r.method, r.path));
        assert_eq!(status, 421, "{} {} at {role}", r.method, r.path);
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        assert_eq!(
            location.as_deref(),
            Some(format!("{MAIN_URL}{path}").as_str())
        );
        let body: serde_json::Value = resp.json().await.expect("problem json");
        assert_eq!(body["code"], MAIN_ONLY);
        assert_eq!(body["status"], 421);
        assert_eq!(body["main_url"], MAIN_URL);
        assert_eq!(body["location"], format!("{MAIN_URL}{path}"));
        let detail = body["detail"].as_str().unwrap_or("");
        assert!(detail.contains("Nothing was written"), "{detail}");
        assert!(detail.contains(MAIN_URL), "{detail}");
    }
    let expect: Vec<String> = openapi::ROUTES
        .iter()
        .filter(|r| {
            let c = classify(r.method, r.path).expect("classified");
            match role {
                Role::Main => false,
                Role::Cloud => c == RouteClass::MainOnly,
                Role::Standby => matches!(c, RouteClass::MainOnly | RouteClass::CitizenWrite),
            }
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(refused, expect);
    assert!(
        s.store
            .entries(s.store.site(), 0, 10)
            .await
            .expect("e")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_main_site_serves_every_route() {
    every_route_at(Role::Main).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_site_refuses_main_only_routes() {
    let s = site(Role::Cloud).await;
    // The seller API, issuance and operators are main-only.
    for (m, p) in [
        ("POST", "/v1/messages"),
        ("POST", "/v1/batches"),
        ("POST", "/v1/ops/login"),
        ("POST", "/v1/ops/winning"),
    ] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).expect("m");
        let r = s
            .http
            .request(method, format!("{}{p}", s.url))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 421, "{m} {p}");
    }
    every_route_at(Role::Cloud).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_site_is_read_only() {
    every_route_at(Role::Standby).await;
}

/// A correctly signed invoice inside the seller's track: appended at main
/// (201); at a cloud site refused with MAIN_ONLY before any handler runs,
/// nothing appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_write_at_a_cloud_site_is_never_a_local_write() {
    let body = einvoice_mig::encode_json(&invoice(SELLER_A, "AB00000001", "1234", 100).message);
    for (role, status) in [(Role::Cloud, 421), (Role::Main, 201)] {
        let s = site(role).await;
        s.store
            .append(&Scope::All, "t", vec![allocation(SELLER_A)])
            .await
            .expect("track");
        let r = signed_request(
            &s.http,
            &s.url,
            "KA",
            "secret-a",
            "POST",
            "/v1/messages",
            body.clone(),
            now(),
            &sign::fresh_nonce(),
        )
        .header("content-type", "application/json")
        .send()
        .await
        .expect("send");
        assert_eq!(r.status().as_u16(), status, "at {role}");
        let n = s
            .store
            .entries(s.store.site(), 0, 10)
            .await
            .expect("e")
            .len();
        assert_eq!(n, 1 + usize::from(role == Role::Main), "at {role}");
    }
}
