//! The gateway in front of real sites: routing by class, failover, safe
//! retries only, the winning-list cache, shedding by priority, and what is
//! refused at the gateway.

mod common;

use common::*;
use einvoice_server::role::Role;
use reqwest::StatusCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn three_sites() -> (TestSite, TestSite, TestSite) {
    (
        start_site("main", Role::Main).await,
        start_site("cloud-a", Role::Cloud).await,
        start_site("cloud-b", Role::Cloud).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_class_goes_to_its_sites() {
    let (main, a, b) = three_sites().await;
    let (gw, _) = start_gateway(gateway_config(vec![main.config(), a.config(), b.config()])).await;
    let http = reqwest::Client::new();
    // Main-only: issuance and operators.
    let r = http
        .post(format!("{gw}/v1/messages"))
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(served_by(&r), "main");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "main answered: unsigned"
    );
    let r = http
        .get(format!("{gw}/v1/ops/whoami"))
        .send()
        .await
        .expect("send");
    assert_eq!(served_by(&r), "main");
    // Citizen and public reads: spread over both cloud sites, never main.
    let mut by = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..20 {
        let r = http
            .get(format!("{gw}/v1/carrier/invoices?period=11404"))
            .send()
            .await
            .expect("send");
        assert_ne!(r.status(), StatusCode::MISDIRECTED_REQUEST);
        *by.entry(served_by(&r)).or_default() += 1;
    }
    assert_eq!(
        by.keys().cloned().collect::<Vec<_>>(),
        vec!["cloud-a".to_string(), "cloud-b".to_string()],
        "{by:?}"
    );
    assert!(by.values().all(|n| *n >= 5), "both take a share: {by:?}");
    // Citizen writes: a cloud site.
    let r = http
        .post(format!("{gw}/v1/carrier/login"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("send");
    assert!(served_by(&r).starts_with("cloud-"), "{}", served_by(&r));
    assert_ne!(r.status(), StatusCode::MISDIRECTED_REQUEST);
    // The gateway's own metrics name classes and sites.
    let m = http
        .get(format!("{gw}/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(
        m.contains("einvoice_gateway_requests_total{class=\"1\",outcome=\"client_error\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("einvoice_gateway_site_requests_total{site=\"main\",role=\"main\"} 2"),
        "{m}"
    );
    assert!(m.contains("einvoice_gateway_site_healthy{site=\"cloud-b\"} 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_session_stays_on_the_site_that_issued_its_token() {
    let (main, a, b) = three_sites().await;
    let (gw, _) = start_gateway(gateway_config(vec![main.config(), a.config(), b.config()])).await;
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let r = http
            .post(format!("{gw}/v1/carrier/login"))
            .json(&serde_json::json!({
                "carrier_type": "3J0002", "carrier_id": CARRIER, "verification_code": CARRIER_CODE,
            }))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::OK);
        let issued_by = served_by(&r);
        assert!(issued_by.starts_with("cloud-"), "{issued_by}");
        let token = r.json::<serde_json::Value>().await.expect("json")["token"]
            .as_str()
            .expect("token")
            .to_string();
        // Every request with the token goes back to its site (a token of
        // one site is refused at another: each seals with its own key).
        for _ in 0..5 {
            let r = http
                .get(format!("{gw}/v1/carrier/invoices?period=11404"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("invoices");
            assert_eq!(served_by(&r), issued_by);
            assert_eq!(r.status(), StatusCode::OK, "the token is good there");
        }
    }
    // A token of cloud-a really is refused at cloud-b (why affinity is needed).
    let login = http
        .post(format!("{}/v1/carrier/login", a.url))
        .json(&serde_json::json!({
            "carrier_type": "3J0002", "carrier_id": CARRIER, "verification_code": CARRIER_CODE,
        }))
        .send()
        .await
        .expect("login");
    let token = login.json::<serde_json::Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string();
    let r = http
        .get(format!("{}/v1/carrier/invoices?period=11404", b.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("invoices");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_fall_back_to_main_when_no_cloud_site_is_up() {
    let main = start_site("main", Role::Main).await;
    let mut a = start_site("cloud-a", Role::Cloud).await;
    let (gw, _) = start_gateway(gateway_config(vec![main.config(), a.config()])).await;
    a.stop().await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{gw}/v1/carrier/invoices"))
        .send()
        .await
        .expect("send");
    assert_eq!(served_by(&r), "main", "connection refused: tried on main");
    let r = http
        .post(format!("{gw}/v1/carrier/login"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(served_by(&r), "main", "citizen writes fall back to main");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_cloud_site_is_out_of_rotation_within_two_seconds_and_reads_keep_working() {
    let (main, mut a, b) = three_sites().await;
    let (gw, _) = start_gateway(gateway_config(vec![main.config(), a.config(), b.config()])).await;
    let http = reqwest::Client::new();
    assert!(
        until_health(&gw, "cloud-a", true, Duration::from_secs(2))
            .await
            .is_some()
    );
    // Reads keep going while cloud-a is stopped: none may fail.
    let t = std::time::Instant::now();
    let reader = {
        let (http, gw) = (http.clone(), gw.clone());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            while t.elapsed() < Duration::from_millis(2500) {
                let began = t.elapsed();
                let r = http
                    .get(format!("{gw}/v1/public/invoices/AB12345678"))
                    .send()
                    .await
                    .expect("send");
                answers.push((began, r.status(), served_by(&r)));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            answers
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.stop().await;
    let stopped = t.elapsed();
    let took = until_health(&gw, "cloud-a", false, Duration::from_secs(2))
        .await
        .expect("cloud-a out of rotation within 2 s");
    assert!(took < Duration::from_secs(2), "{took:?}");
    eprintln!("cloud-a out of rotation {took:?} after it stopped");
    let answers = reader.await.expect("reader");
    assert!(answers.len() > 20, "{}", answers.len());
    for (at, status, site) in &answers {
        assert!(
            !status.is_server_error(),
            "a read at {at:?} failed with {status} from {site:?}"
        );
        assert!(site.starts_with("cloud-"), "{site}");
    }
    let after: Vec<_> = answers.iter().filter(|(at, _, _)| *at > stopped).collect();
    assert!(after.len() > 10, "{}", after.len());
    assert!(
        after.iter().all(|(_, _, s)| s == "cloud-b"),
        "after the stop only cloud-b answers: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_writes_are_not_retried_and_idempotent_ones_are() {
    let main = start_site("main", Role::Main).await;
    let (hole, seen) = broken_site(false).await;
    let mut cfg = gateway_config(vec![
        main.config(),
        site_entry("cloud-x", Role::Cloud, &hole),
    ]);
    cfg.health.interval_ms = 100;
    let (gw, state) = start_gateway(cfg).await;
    let http = reqwest::Client::new();
    assert!(
        until_health(&gw, "cloud-x", true, Duration::from_secs(2))
            .await
            .is_some()
    );
    let r = http
        .post(format!("{gw}/v1/carrier/login"))
        .json(&serde_json::json!({"carrier": "/ABC1234", "code": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let p: serde_json::Value = r.json().await.expect("json");
    assert_eq!(p["code"], "UPSTREAM_FAILED");
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    let main_sent = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("einvoice_gateway_site_requests_total{site=\"main\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    let metrics = || async {
        http.get(format!("{gw}/metrics"))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("text")
    };
    assert_eq!(main_sent(&metrics().await), Some(0), "not sent to main");
    // Back in rotation, then the same write with an Idempotency-Key is retried on main.
    assert!(
        until_health(&gw, "cloud-x", true, Duration::from_secs(2))
            .await
            .is_some()
    );
    let r = http
        .post(format!("{gw}/v1/carrier/login"))
        .header("idempotency-key", "login-1")
        .json(&serde_json::json!({"carrier": "/ABC1234", "code": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(served_by(&r), "main");
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(main_sent(&metrics().await), Some(1));
    // And a read too.
    assert!(
        until_health(&gw, "cloud-x", true, Duration::from_secs(2))
            .await
            .is_some()
    );
    let r = http
        .get(format!("{gw}/v1/carrier/invoices"))
        .send()
        .await
        .expect("send");
    assert_eq!(served_by(&r), "main");
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    drop(state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_winning_list_is_cached_with_etag_and_304_but_not_credentialed_requests() {
    let (main, a, b) = three_sites().await;
    let mut cfg = gateway_config(vec![main.config(), a.config(), b.config()]);
    cfg.cache.ttl_ms = 1_000;
    let (gw, _) = start_gateway(cfg).await;
    let http = reqwest::Client::new();
    let url = format!("{gw}{}", winning_list_path());
    let first = http.get(&url).send().await.expect("send");
    assert_eq!(first.status(), StatusCode::OK);
    let h = |r: &reqwest::Response, n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(h(&first, "x-cache"), "MISS");
    assert!(h(&first, "cache-control").starts_with("public, max-age="));
    let etag = h(&first, "etag");
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let body: serde_json::Value = first.json().await.expect("json");
    assert_eq!(body["code"], "200", "{body}");
    assert_eq!(body["superPrizeNo"], "00106725");
    // Another app's identical query is a hit with the same tag and body.
    let other = url.replace("UUID=dev-1", "UUID=dev-2");
    let hit = http.get(&other).send().await.expect("send");
    assert_eq!(h(&hit, "x-cache"), "HIT");
    assert_eq!(h(&hit, "etag"), etag);
    let hit_body: serde_json::Value = hit.json().await.expect("json");
    assert_eq!(hit_body, body);
    // Conditional: 304, no body.
    let r = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(h(&r, "etag"), etag);
    assert!(r.bytes().await.expect("body").is_empty());
    // Credentials and carrier data are never served from or put in the cache.
    let r = http
        .get(&url)
        .header("authorization", "Bearer someone")
        .send()
        .await
        .expect("send");
    assert_eq!(h(&r, "x-cache"), "");
    assert_eq!(h(&r, "cache-control"), "no-store", "the site's own answer");
    let r = http
        .get(format!("{url}&cardNo=/ABC1234"))
        .send()
        .await
        .expect("send");
    assert_eq!(h(&r, "x-cache"), "");
    let r = http
        .get(&url)
        .header("cookie", "session=1")
        .send()
        .await
        .expect("send");
    assert_eq!(h(&r, "x-cache"), "");
    // A period not published is asked every time (never cached).
    let none = url.replace(TERM, "11402");
    for _ in 0..2 {
        let r = http.get(&none).send().await.expect("send");
        assert_eq!(h(&r, "x-cache"), "");
    }
    // After the TTL a site is asked again; the unchanged body keeps its tag (304).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let r = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(h(&r, "x-cache"), "MISS");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_overload_class_3_is_shed_first_and_class_1_is_served() {
    let main = start_site("main", Role::Main).await;
    let (hole, seen) = broken_site(true).await;
    let mut cfg = gateway_config(vec![
        main.config(),
        site_entry("cloud-x", Role::Cloud, &hole),
    ]);
    cfg.admission.max_in_flight = 4;
    cfg.admission.class2_share = 0.75;
    cfg.admission.class3_share = 0.5;
    cfg.admission.queue = [4, 0, 0];
    cfg.limits.upstream_timeout_ms = 20_000;
    let (gw, state) = start_gateway(cfg).await;
    assert!(
        until_health(&gw, "cloud-x", true, Duration::from_secs(2))
            .await
            .is_some()
    );
    let http = reqwest::Client::new();
    // Three carrier queries (class 2) hang at the slow cloud site.
    for _ in 0..3 {
        let (http, gw) = (http.clone(), gw.clone());
        tokio::spawn(async move {
            let _ = http.get(format!("{gw}/v1/carrier/invoices")).send().await;
        });
    }
    let t = std::time::Instant::now();
    while seen.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "queries did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(state.admission.in_flight(), 3);
    // A bulk export (class 3) is shed at once, the same problem shape as the sites'.
    let r = http
        .get(format!("{gw}/v1/sellers/04595257/invoices"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let p: serde_json::Value = r.json().await.expect("json");
    assert_eq!(p["code"], "OVERLOADED");
    assert_eq!(p["type"], "urn:einvoice:problem:OVERLOADED");
    assert_eq!(p["status"], 503);
    // So is a fourth carrier query (class 2 is at its share, no queue).
    let r = http
        .get(format!("{gw}/v1/carrier/invoices"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Issuance (class 1) still goes through to main.
    let t = std::time::Instant::now();
    let r = http
        .post(format!("{gw}/v1/messages"))
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(served_by(&r), "main");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(t.elapsed() < Duration::from_secs(2));
    let m = http
        .get(format!("{gw}/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(m.contains("einvoice_gateway_requests_total{class=\"3\",outcome=\"shed\"} 1"));
    assert!(m.contains("einvoice_gateway_requests_total{class=\"2\",outcome=\"shed\"} 1"));
    assert!(m.contains("einvoice_gateway_requests_total{class=\"1\",outcome=\"shed\"} 0"));
}

/// Send raw bytes to `gw` and read what comes back until it closes (or 3 s).
async fn raw(gw: &str, bytes: &[u8]) -> String {
    let addr = gw.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_oversized_and_greedy_requests_stop_at_the_gateway() {
    let main = start_site("main", Role::Main).await;
    let mut cfg = gateway_config(vec![main.config()]);
    cfg.limits.max_body_bytes = 1024;
    cfg.limits.per_client_per_minute = 60;
    cfg.limits.per_client_burst = 12;
    cfg.edge.header_read_timeout_ms = 300;
    let (gw, _) = start_gateway(cfg).await;
    let http = reqwest::Client::new();
    // Too large, declared.
    let r = http
        .post(format!("{gw}/v1/messages"))
        .body(vec![b'x'; 2048])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let p: serde_json::Value = r.json().await.expect("json");
    assert_eq!(p["code"], "PAYLOAD_TOO_LARGE");
    // Too large, chunked (no length given).
    let chunked = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n800\r\n{}\r\n0\r\n\r\n",
        "y".repeat(0x800)
    );
    let out = raw(&gw, chunked.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(out.contains("\"code\":\"PAYLOAD_TOO_LARGE\""), "{out}");
    // Not an open proxy.
    let out = raw(
        &gw,
        b"GET http://evil.example/ HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("BAD_REQUEST_TARGET"), "{out}");
    // Unknown methods.
    let out = raw(
        &gw,
        b"BREW /v1/messages HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    assert!(out.contains("application/problem+json"), "{out}");
    // A URI too long.
    let long = format!("{gw}/v1/public/invoices/{}", "A".repeat(9000));
    let r = http.get(long).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::URI_TOO_LONG);
    // A slow client: half a request head, then nothing; dropped after the header timeout.
    let t = std::time::Instant::now();
    let out = raw(&gw, b"GET /v1/carrier/invoices HTTP/1.1\r\nhost: x\r\n").await;
    assert!(!out.contains("200 OK"), "{out}");
    assert!(
        t.elapsed() < Duration::from_millis(2_500),
        "closed by the gateway, not by the test's own wait: {:?}",
        t.elapsed()
    );
    // Per-client rate: the burst, then 429 with Retry-After (fresh
    // connections: the gateway closes idle ones after the short header timeout).
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut limited = None;
    for _ in 0..30 {
        let r = http
            .get(format!("{gw}/v1/public/invoices/AB12345678"))
            .send()
            .await
            .expect("send");
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("limited within 30 requests");
    assert!(r.headers().get("retry-after").is_some());
    let p: serde_json::Value = r.json().await.expect("json");
    assert_eq!(p["code"], "RATE_LIMITED");
}

/// The gateway's `/readyz` entry of `site`.
async fn site_state(gw: &str, site: &str) -> serde_json::Value {
    let v: serde_json::Value = reqwest::get(format!("{gw}/readyz"))
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    v["sites"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["site"] == site).cloned())
        .unwrap_or_default()
}

/// Wait until the gateway sees `site` as `fresh` (within the lag bound).
async fn until_fresh(gw: &str, site: &str, fresh: bool) {
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        if site_state(gw, site).await["fresh"] == fresh {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{site} never became fresh={fresh}");
}

/// Who answered `n` GETs of `path`.
async fn answered_by(http: &reqwest::Client, gw: &str, path: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = http.get(format!("{gw}{path}")).send().await.expect("send");
        assert!(!r.status().is_server_error(), "{}", r.status());
        out.push(served_by(&r));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_cloud_is_drained_from_fresh_reads_only_and_comes_back_when_caught_up() {
    let (main, a, b) = three_sites().await;
    let mut cfg = gateway_config(vec![main.config(), a.config(), b.config()]);
    cfg.health.max_read_lag_ms = 2_000;
    // No cache: every winning-list read goes to a site.
    cfg.cache.ttl_ms = 0;
    let (gw, _) = start_gateway(cfg).await;
    let http = reqwest::Client::new();
    let fresh_read = "/v1/public/invoices/AB12345678";
    let other_read = winning_list_path();
    until_fresh(&gw, "cloud-a", true).await;
    // The site reports its lag at /readyz.
    set_lag(&a, 60).await;
    let ready: serde_json::Value = http
        .get(format!("{}/readyz", a.url))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["sync_lag_s"], 60.0, "{ready}");
    until_fresh(&gw, "cloud-a", false).await;
    assert_eq!(site_state(&gw, "cloud-a").await["sync_lag_ms"], 60_000);
    assert_eq!(site_state(&gw, "cloud-a").await["healthy"], true);
    let fresh = answered_by(&http, &gw, fresh_read, 20).await;
    assert!(
        fresh.iter().all(|s| s == "cloud-b"),
        "fresh reads avoid the lagging cloud: {fresh:?}"
    );
    let other = answered_by(&http, &gw, &other_read, 20).await;
    assert!(
        other.iter().any(|s| s == "cloud-a"),
        "other reads still reach it: {other:?}"
    );
    // Both clouds lagging: fresh reads go to main.
    set_lag(&b, 30).await;
    until_fresh(&gw, "cloud-b", false).await;
    let fresh = answered_by(&http, &gw, fresh_read, 5).await;
    assert!(fresh.iter().all(|s| s == "main"), "{fresh:?}");
    // Caught up: back in rotation for fresh reads.
    set_lag(&a, 0).await;
    until_fresh(&gw, "cloud-a", true).await;
    let fresh = answered_by(&http, &gw, fresh_read, 10).await;
    assert!(fresh.iter().all(|s| s == "cloud-a"), "{fresh:?}");
    let metrics = http
        .get(format!("{gw}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("einvoice_gateway_site_sync_lag_seconds{site=\"cloud-b\"} 30"),
        "{metrics}"
    );
    assert!(metrics.contains("einvoice_gateway_site_fresh{site=\"cloud-a\"} 1"));
}

/// A counter's value in Prometheus text (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(series))
        .filter_map(|rest| rest.trim().parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_of_the_winning_list_make_one_request_to_a_site() {
    let main = start_site("main", Role::Main).await;
    let a = start_site("cloud-a", Role::Cloud).await;
    let (gw, _) = start_gateway(gateway_config(vec![main.config(), a.config()])).await;
    let http = reqwest::Client::new();
    let n = 32;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (http, url, barrier) = (
                http.clone(),
                format!("{gw}{}", winning_list_path()),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let r = http.get(url).send().await.expect("send");
                assert_eq!(r.status(), StatusCode::OK);
                r.text().await.expect("body")
            })
        })
        .collect();
    let mut bodies = Vec::new();
    for t in tasks {
        bodies.push(t.await.expect("task"));
    }
    assert!(
        bodies
            .iter()
            .all(|b| b == &bodies[0] && b.contains("00106725"))
    );
    let m = http
        .get(format!("{gw}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    // The series are per site: sum the numbers after the label sets.
    let upstream_sent: f64 = m
        .lines()
        .filter(|l| l.starts_with("einvoice_gateway_site_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(
        upstream_sent, 1.0,
        "one request to a site for {n} misses:\n{m}"
    );
    let hits = metric(&m, "einvoice_gateway_cache_total{result=\"hit\"}");
    let coalesced = metric(&m, "einvoice_gateway_cache_total{result=\"coalesced\"}");
    assert_eq!(hits, (n - 1) as f64, "{m}");
    eprintln!("{coalesced} of {n} waited on the first request's flight");
}

/// A client that trusts the deployment CA but shows no certificate.
fn client_without_certificate(ca: &std::path::Path) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(c.expect("cert")).expect("root");
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(cfg)
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_reaches_the_sites_over_mutual_tls_and_a_site_refuses_clients_without_a_certificate()
 {
    use einvoice_gateway::config::UpstreamTls;
    use einvoice_sync::ca;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_dir = dir.path().join("ca");
    ca::init_ca(&ca_dir, "test").expect("ca");
    let local = vec!["127.0.0.1".to_string()];
    let server = |name: &str| {
        let files = ca::issue_site(&ca_dir, name, &local).expect("issue");
        ca::peer_server_config(&files).expect("server config")
    };
    let main = start_site_over("main", Role::Main, Some(server("main"))).await;
    let a = start_site_over("cloud-a", Role::Cloud, Some(server("cloud-a"))).await;
    assert!(a.url.starts_with("https://127.0.0.1:"));
    let gw_files = ca::issue_site(&ca_dir, "gateway", &[]).expect("gateway cert");
    let mut cfg = gateway_config(vec![main.config(), a.config()]);
    cfg.upstream_tls = Some(UpstreamTls {
        ca: gw_files.ca.clone(),
        cert: gw_files.cert.clone(),
        key: gw_files.key.clone(),
    });
    let (gw, _) = start_gateway(cfg.clone()).await;
    let http = reqwest::Client::new();
    // Through the gateway: a read at the cloud site, a main-only route at main.
    let r = http
        .get(format!("{gw}{}", winning_list_path()))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(served_by(&r), "cloud-a");
    let r = http
        .get(format!("{gw}/v1/public/invoices/AB12345678"))
        .send()
        .await
        .expect("send");
    assert!(!r.status().is_server_error(), "{}", r.status());
    assert_eq!(served_by(&r), "cloud-a");
    let r = http
        .post(format!("{gw}/v1/ops/login"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("send");
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(served_by(&r), "main");
    assert_eq!(site_state(&gw, "cloud-a").await["healthy"], true);
    // Directly, without a client certificate: refused in the handshake.
    let bare = client_without_certificate(&gw_files.ca);
    let direct = async {
        bare.get(format!("{}/readyz", a.url))
            .send()
            .await?
            .error_for_status()
    };
    assert!(
        direct.await.is_err(),
        "a client without a certificate got in"
    );
    // A gateway whose certificate another CA signed is refused too.
    let rogue_dir = dir.path().join("rogue");
    ca::init_ca(&rogue_dir, "rogue").expect("rogue ca");
    let rogue = ca::issue_site(&rogue_dir, "gateway", &[]).expect("rogue cert");
    let mut rogue_cfg = cfg;
    rogue_cfg.upstream_tls = Some(UpstreamTls {
        ca: gw_files.ca.clone(),
        cert: rogue.cert,
        key: rogue.key,
    });
    let (rogue_gw, _) = start_gateway(rogue_cfg).await;
    // Its health polls are refused: both sites out of rotation (its
    // /readyz is then 503 MAIN_SITE_DOWN).
    let t = std::time::Instant::now();
    loop {
        let r = http
            .get(format!("{rogue_gw}/readyz"))
            .send()
            .await
            .expect("readyz");
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "the sites took the rogue gateway's polls"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = http
        .get(format!("{rogue_gw}{}", winning_list_path()))
        .send()
        .await
        .expect("send");
    assert!(r.status().is_server_error(), "{}", r.status());
}
