//! What every answer of the edge carries (issue 16, low items): request
//! metrics cannot be made to grow by odd methods, `/v1/` JSON answers are
//! `no-store` unless the route said otherwise, a plain-text 5xx keeps no
//! backend text.

mod common;

use common::{serve_site, sqlite_store};
use einvoice_server::SiteOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn raw(url: &str, request: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).await.expect("read");
    text
}

async fn metrics_text(site: &common::TestSite) -> String {
    site.http
        .get(format!("{}/metrics", site.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_are_counted_as_other_not_as_new_series() {
    let (store, dir) = sqlite_store();
    let site = serve_site(store, dir, common::sealer(1), SiteOptions::default()).await;
    for m in ["BREW1", "BREW2", "X-ANYTHING"] {
        let answer = raw(
            &site.url,
            &format!("{m} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    }
    let metrics = metrics_text(&site).await;
    assert!(
        !metrics.contains("BREW") && !metrics.contains("X-ANYTHING"),
        "{metrics}"
    );
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
    // Unrouted paths are one series, not one per path.
    let _ = site
        .http
        .get(format!("{}/no/such/path/12345", site.url))
        .send()
        .await;
    let metrics = metrics_text(&site).await;
    assert!(!metrics.contains("12345"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_json_answers_are_no_store_by_default() {
    let (store, dir) = sqlite_store();
    let site = serve_site(store, dir, common::sealer(1), SiteOptions::default()).await;
    // An unauthenticated /v1/ call: a problem document, not to be cached.
    let r = site
        .http
        .get(format!("{}/v1/whoami", site.url))
        .send()
        .await
        .expect("whoami");
    assert!(r.status().is_client_error());
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    // Probes are left alone.
    let r = site
        .http
        .get(format!("{}/healthz", site.url))
        .send()
        .await
        .expect("healthz");
    assert!(r.headers().get("cache-control").is_none());
}
