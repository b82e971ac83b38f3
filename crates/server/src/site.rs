//! One site's HTTP API: every router merged, the edge layers (body limit,
//! request timeout, problem documents, metrics) and the listener loop.
//!
//! Route groups:
//!
//! | prefix | who | auth |
//! | --- | --- | --- |
//! | `/v1/messages`, `/v1/batches`, `/v1/sellers/…`, `/v1/whoami` | sellers, integrators | signed requests ([`crate::sign`]) |
//! | `/v1/carrier/…` | citizens | carrier + verification code, then a bearer token |
//! | `/v1/public/…` | anyone | none; rate-limited per client address |
//! | `/PB2CAPIVAN/…` | existing apps | MOF App API appID (+ signature) |
//! | `/v1/ops/…` | operators | password + TOTP, then a session |
//! | `/healthz`, `/readyz`, `/metrics`, `/openapi.json` | probes, monitoring | none |
//!
//! Every error an HTTP client can see is `application/problem+json` with a
//! stable code (the App API keeps MOF's own 200-with-code answers).

// A `Problem` is built at most once per request and goes straight to the client.
#![allow(clippy::result_large_err)]

use crate::app_api;
use crate::edge::EdgeLimits;
use crate::ops;
use crate::problem::{Problem, store_problem};
use crate::{citizen, openapi, seller};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use einvoice_secrets::Sealer;
use einvoice_store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub use crate::state::SiteOptions;
use crate::state::{Limiter, SiteState};

/// The whole API of a site.
pub fn router<S: Store>(store: S, sealer: Sealer, mut opts: SiteOptions) -> Router {
    // One SOC for the whole site: the carrier budgets and the operator
    // routes report to (and read) the site's handle.
    opts.app_api.lockout.events = opts.soc.clone();
    opts.ops.lockout.events = opts.soc.clone();
    opts.ops.soc = opts.soc.clone();
    let l = &opts.limits;
    let ev = &opts.soc;
    let st = Arc::new(SiteState {
        seller_limit: Limiter::new(l.seller_per_second, l.seller_burst).reporting("seller", ev),
        public_limit: Limiter::new(l.public_per_second, l.public_burst).reporting("public", ev),
        carrier_limit: Limiter::new(l.carrier_per_second, l.carrier_burst).reporting("carrier", ev),
        store: store.clone(),
        sealer: sealer.clone(),
        opts: opts.clone(),
    });
    let read_only_store = store.clone();
    let probes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<S>))
        .route("/metrics", get(metrics_route))
        .route("/openapi.json", get(openapi_route))
        .with_state(st.clone());
    Router::new()
        .merge(probes)
        .merge(crate::docs::routes())
        .merge(seller::routes(st.clone()))
        .merge(crate::uploads::routes(st.clone()))
        .merge(citizen::routes(st.clone()))
        .merge(crate::carrier_life::routes(st.clone()))
        .merge(crate::winnings::routes(st))
        .merge(app_api::router_with(
            store.clone(),
            sealer.clone(),
            opts.app_api.clone(),
        ))
        .merge(crate::sync_routes::routes(store.clone(), sealer.clone()))
        .merge(ops::router_with(store, sealer, opts.ops.clone()))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            read_only_store,
            crate::soc_holds::refuse_writes_when_read_only::<S>,
        ))
        .layer(middleware::from_fn_with_state(
            opts.role.clone(),
            crate::role::guard,
        ))
        .layer(middleware::from_fn(problem_documents))
        .layer(middleware::from_fn(default_no_store))
        .layer(DefaultBodyLimit::max(opts.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            Duration::from_millis(opts.limits.request_timeout_ms),
            timeout,
        ))
        .layer(middleware::from_fn_with_state(
            opts.soc.clone(),
            crate::soc::refuse_blocked,
        ))
        .layer(middleware::from_fn(record_metrics))
        // Outermost: every layer and handler above sees the client behind
        // a trusted proxy (blocks and limits included).
        .layer(middleware::from_fn_with_state(
            Arc::new(opts.limits.trusted_proxies.clone()),
            crate::forwarded::from_trusted_proxy,
        ))
}

async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        "no such route: see /openapi.json",
    )
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// Ready when the store answers; `sync_lag_s` says how stale its copy of
/// the other sites' ledgers may be ([`crate::sync_routes::read_lag_s`]), for
/// the gateway to drain a lagging cloud site from reads that need fresh data.
async fn readyz<S: Store>(State(st): State<Arc<SiteState<S>>>) -> Response {
    let lag = match st.store.ping().await {
        Ok(()) => crate::sync_routes::store_read_lag_s(&st.store).await,
        Err(e) => Err(e),
    };
    match lag {
        Ok(lag) => axum::Json(serde_json::json!({
            "status": "ready",
            "sync_lag_s": (lag * 1000.0).round() / 1000.0,
        }))
        .into_response(),
        Err(e) => store_problem(e).into_response(),
    }
}

async fn openapi_route() -> Response {
    let mut r = openapi::document_bytes().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Install the process-wide Prometheus recorder (if no other recorder is),
/// so that counters recorded before the first request are kept.
pub(crate) fn install_metrics() {
    prometheus();
}

/// The process-wide Prometheus recorder (installed on first use).
fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

async fn metrics_route() -> Response {
    match prometheus() {
        Some(h) => {
            let mut r = h.render().into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        None => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "METRICS_UNAVAILABLE",
            "another metrics recorder is installed in this process",
        )
        .public_detail()
        .into_response(),
    }
}

/// Count requests and time them, labelled by route template and status.
async fn record_metrics(req: Request, next: Next) -> Response {
    prometheus();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let labels = [
        ("route", route),
        ("method", method.to_string()),
        ("status", status),
    ];
    metrics::counter!("einvoice_http_requests_total", &labels).increment(1);
    metrics::histogram!("einvoice_http_request_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// The `method` label of request metrics: the standard methods by name,
/// anything else `OTHER` (a client cannot mint new metric series).
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// `Cache-Control: no-store` on the JSON answers of `/v1/` and the App API
/// (they carry account data, tokens and secrets) unless the route set its own.
async fn default_no_store(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/v1/") || req.uri().path().starts_with("/PB2CAPIVAN/");
    let mut resp = next.run(req).await;
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/") && v.contains("json"));
    if api && json {
        resp.headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    resp
}

/// Answer 408 when a request takes longer than the configured time.
async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// Turn framework rejections (plain-text 4xx/5xx from extractors, body limits,
/// unknown methods) into problem documents with stable codes.
async fn problem_documents(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/problem+json") || v.starts_with("application/json")
        });
    if is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail: String = String::from_utf8_lossy(&text).chars().take(300).collect();
    let code = match parts.status {
        StatusCode::PAYLOAD_TOO_LARGE => "BODY_TOO_LARGE",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::NOT_FOUND => "ROUTE_NOT_FOUND",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "CONTENT_TYPE",
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => "REQUEST_INVALID",
        StatusCode::REQUEST_TIMEOUT => "REQUEST_TIMEOUT",
        s if s.is_server_error() => "INTERNAL",
        _ => "REQUEST_REFUSED",
    };
    let detail = if detail.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_string()
    } else {
        detail
    };
    let mut out = Problem::new(parts.status, code, detail).into_response();
    for (k, v) in parts.headers.iter() {
        if k == header::RETRY_AFTER || k == header::ALLOW {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// Serve `app` on an already bound listener until `shutdown` resolves, with
/// the default [`EdgeLimits`]; the client address is available to handlers
/// (per-client limits).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, EdgeLimits::default(), shutdown).await
}

/// Serve `app` on an already bound listener under `limits` (header-read and
/// idle timeouts, connection caps per client and overall) until `shutdown`
/// resolves; then stop accepting and let the requests in flight finish.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: EdgeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::edge::serve_connections(listener, app, limits, crate::edge::Plain, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_plain_text_5xx_becomes_a_problem_without_its_text() {
        let app = Router::new()
            .route(
                "/x",
                get(|| async {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "pool: password authentication failed for user einvoice",
                    )
                }),
            )
            .layer(middleware::from_fn(problem_documents));
        let req = Request::builder()
            .uri("/x")
            .body(axum::body::Body::empty())
            .expect("request");
        let resp = app.oneshot(req).await.expect("answer");
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let id = resp
            .headers()
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .expect("correlation id");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("password"), "{text}");
        assert!(text.contains(&id) && text.contains("INTERNAL"), "{text}");
    }

    #[test]
    fn method_labels_are_bounded() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"PROPFIND").expect("method");
        assert_eq!(method_label(&odd), "OTHER");
    }
}
