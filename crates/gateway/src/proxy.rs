//! The gateway's handler: checks, classes, cache, admission, then a site
//! (and another one when that is safe).
//!
//! Refusals at the gateway (the sites' problem documents, stable codes):
//!
//! | status | code | when |
//! | --- | --- | --- |
//! | 400 | `BAD_REQUEST_TARGET` | the target is not a path (`GET http://other/…`: not an open proxy) |
//! | 400 | `BODY_READ_FAILED` | the body broke off |
//! | 405 | `METHOD_NOT_ALLOWED` | not a standard method |
//! | 408 | `REQUEST_TIMEOUT` | the body took longer than `body_timeout_ms` |
//! | 413 | `PAYLOAD_TOO_LARGE` | the body is over `max_body_bytes` |
//! | 414 | `URI_TOO_LONG` | path and query over 8 KiB |
//! | 429 | `RATE_LIMITED` | the client is over its rate (`Retry-After`) |
//! | 503 | `OVERLOADED` | shed by admission control (`Retry-After`) |
//! | 503 | `NO_SITE_AVAILABLE` | no site of the route's target is left to try |
//! | 502 | `UPSTREAM_FAILED` | the site broke off and the request is not safe to repeat |
//! | 504 | `UPSTREAM_TIMEOUT` | the site did not answer within `upstream_timeout_ms` |
//!
//! Retries: a request is tried on another site only when repeating it
//! cannot write twice — `GET`, `HEAD`, `OPTIONS`, a request carrying an
//! `Idempotency-Key`, or any request whose connection was refused (nothing
//! was sent) — after a transport failure, or a 502/503/504 answer to a safe
//! request, or a cloud site's 421 `MAIN_ONLY` (nothing written there).

use crate::admission::Shed;
use crate::cache::{Entry, Lookup, cache_key, publishes, storable};
use crate::classes::{Priority, Target, app_action, priority, target_of};
use crate::stats::Outcome;
use crate::{Gateway, SITE_HEADER};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use einvoice_server::problem::Problem;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest path and query accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The gateway's router: its own probes and metrics, everything else proxied.
pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new().fallback(handle).with_state(gw)
}

/// Headers that belong to one connection, never forwarded (RFC 9110 7.6.1),
/// plus `host` (set for the site), `expect` (the body is already read) and
/// `content-length` (set from the body).
const HOP_BY_HOP: [&str; 11] = [
    "expect",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

fn forwardable(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(&name.as_str()) && name != header::CONTENT_LENGTH
}

fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    Problem::new(status, code, detail)
        .public_detail()
        .into_response()
}

fn with_retry(status: StatusCode, code: &str, detail: String, secs: u64) -> Response {
    Problem::new(status, code, detail)
        .public_detail()
        .retry_after(secs)
        .into_response()
}

async fn handle(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let (resp, class, outcome) = run(&gw, addr, req).await;
    gw.stats.finished(class, outcome, started.elapsed());
    resp
}

/// The whole path of one request: the answer, its class (once known) and outcome.
async fn run(
    gw: &Arc<Gateway>,
    addr: SocketAddr,
    req: Request,
) -> (Response, Option<Priority>, Outcome) {
    let refused = |r: Response| (r, None, Outcome::Refused);
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    if einvoice_server::site::method_label(&method) == "OTHER"
        || method == Method::CONNECT
        || method == Method::TRACE
    {
        return refused(problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("method {method} is not served"),
        ));
    }
    let uri = &parts.uri;
    if uri.scheme().is_some() || uri.authority().is_some() || !uri.path().starts_with('/') {
        return refused(problem(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST_TARGET",
            "the request target must be a path (/v1/…), not an absolute URL: this gateway is no open proxy",
        ));
    }
    let path = uri.path().to_string();
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    if path_and_query.len() > MAX_URI_BYTES {
        return refused(problem(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!("path and query are at most {MAX_URI_BYTES} bytes"),
        ));
    }
    match (&method, path.as_str()) {
        (&Method::GET, "/healthz") => return (healthz(), None, Outcome::Ok),
        (&Method::GET, "/readyz") => return (readyz(gw), None, Outcome::Ok),
        (&Method::GET, "/metrics") => return (metrics(gw), None, Outcome::Ok),
        _ => {}
    }
    let client = einvoice_server::edge::client_key(addr.ip()).to_string();
    if let Err(l) = gw.per_client.check(&client) {
        return refused(l.problem("RATE_LIMITED", "this client").into_response());
    }
    let limits = &gw.config.limits;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the request body is over {} bytes", limits.max_body_bytes),
        )
    };
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return refused(too_large());
    }
    let body = match tokio::time::timeout(
        Duration::from_millis(limits.body_timeout_ms.max(1)),
        http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limits.max_body_bytes)),
    )
    .await
    {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => {
            return refused(if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                problem(
                    StatusCode::BAD_REQUEST,
                    "BODY_READ_FAILED",
                    "the request body could not be read whole",
                )
            });
        }
        Err(_) => {
            return refused(problem(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                format!(
                    "the request body took longer than {} ms",
                    limits.body_timeout_ms
                ),
            ));
        }
    };
    let action = path
        .starts_with("/PB2CAPIVAN/")
        .then(|| app_action(uri.query(), &body))
        .flatten();
    let class = priority(method.as_str(), &path, action.as_deref());
    let to = target_of(method.as_str(), &path, action.as_deref());
    let key = cache_key(&method, &path, uri.query(), &parts.headers);
    // Held until the answer is stored: concurrent misses of the key wait.
    let mut _flight = None;
    if let Some(k) = &key {
        let wait = Duration::from_millis(limits.upstream_timeout_ms.max(1));
        match gw.cache.lookup(k, wait).await {
            Lookup::Hit { entry, waited } => {
                let resp = entry.answer(&parts.headers, method == Method::HEAD, true);
                gw.stats
                    .cache(true, resp.status() == StatusCode::NOT_MODIFIED);
                if waited {
                    gw.stats.coalesced();
                }
                return (resp, Some(class), Outcome::Ok);
            }
            Lookup::Miss(flight) => _flight = flight,
        }
    }
    let _permit = match gw.admission.admit(class).await {
        Ok(p) => p,
        Err(why) => {
            let detail = match why {
                Shed::QueueFull => format!(
                    "the gateway is overloaded: class {} requests are shed first; retry after 1 s",
                    class.number()
                ),
                Shed::Waited => format!(
                    "the gateway is overloaded: no place for a class {} request within {} ms; retry after 1 s",
                    class.number(),
                    gw.config.admission.queue_timeout_ms
                ),
            };
            let resp = with_retry(StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED", detail, 1);
            return (resp, Some(class), Outcome::Shed);
        }
    };
    let out = Outgoing {
        method: &method,
        path_and_query: &path_and_query,
        headers: &parts.headers,
        body,
        client: addr,
        safe: matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
            || parts.headers.contains_key("idempotency-key"),
    };
    let session = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| gw.affinity.site_of(v));
    let (resp, outcome) = forward(gw, to, out, session).await;
    let resp = match resp {
        Answer::Site {
            status,
            headers,
            body,
            site,
        } => {
            if method == Method::POST
                && path == "/v1/carrier/login"
                && status == StatusCode::OK
                && let Some((token, ttl)) = crate::affinity::Affinity::login_answer(&body)
            {
                gw.affinity.remember(&token, site, ttl);
            }
            if publishes(&method, &path, status) {
                gw.cache.purge();
                gw.stats.purged();
            }
            match key {
                Some(k) if storable(status, &headers, &body) => {
                    let entry = Entry::new(
                        body,
                        headers.get(header::CONTENT_TYPE).cloned(),
                        gw.cache.ttl(),
                        &gw.sites.all[site].config.name,
                    );
                    let resp = entry.answer(&parts.headers, method == Method::HEAD, false);
                    gw.stats
                        .cache(false, resp.status() == StatusCode::NOT_MODIFIED);
                    gw.cache.put(k, entry);
                    resp
                }
                _ => {
                    let mut r = Response::new(Body::from(body));
                    *r.status_mut() = status;
                    *r.headers_mut() = headers;
                    if let Ok(v) = HeaderValue::from_str(&gw.sites.all[site].config.name) {
                        r.headers_mut().insert(SITE_HEADER, v);
                    }
                    r
                }
            }
        }
        Answer::Gateway(r) => r,
    };
    (resp, Some(class), outcome)
}

/// A request as it goes to a site.
struct Outgoing<'a> {
    method: &'a Method,
    path_and_query: &'a str,
    headers: &'a HeaderMap,
    body: Bytes,
    client: SocketAddr,
    safe: bool,
}

/// What came back.
enum Answer {
    /// A site's answer (site index).
    Site {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        site: usize,
    },
    /// The gateway's own answer (no site could give one).
    Gateway(Response),
}

/// Why one attempt did not give an answer to pass on.
enum Failure {
    /// Nothing was sent (connection refused, TLS failed): any request may go elsewhere.
    NotSent,
    /// The site broke off after the request may have arrived.
    Broken,
    /// The site took longer than `upstream_timeout_ms`.
    Timeout,
}

async fn forward(
    gw: &Arc<Gateway>,
    mut to: Target,
    out: Outgoing<'_>,
    session: Option<usize>,
) -> (Answer, Outcome) {
    let mut tried: Vec<usize> = Vec::new();
    let mut last: Option<Answer> = None;
    let timeout = Duration::from_millis(gw.config.limits.upstream_timeout_ms.max(1));
    while tried.len() < gw.sites.all.len() {
        let Some(i) = gw.sites.pick_preferring(to, &tried, session) else {
            break;
        };
        tried.push(i);
        let site = &gw.sites.all[i];
        gw.stats.sent(i);
        let attempt = {
            let _busy = site.begin();
            send(gw, &site.base, &out, timeout).await
        };
        match attempt {
            Ok((status, headers, body)) => {
                let misdirected = status == StatusCode::MISDIRECTED_REQUEST && to != Target::Main;
                let unavailable = matches!(
                    status,
                    StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT
                ) && out.safe;
                let answer = Answer::Site {
                    status,
                    headers,
                    body,
                    site: i,
                };
                if misdirected {
                    // A cloud site refused a main-site operation: nothing was written.
                    gw.stats.retried(i);
                    to = Target::Main;
                    last = Some(answer);
                    continue;
                }
                if unavailable {
                    gw.stats.retried(i);
                    last = Some(answer);
                    continue;
                }
                let outcome = if status.is_server_error() {
                    Outcome::SiteError
                } else if status.is_client_error() {
                    Outcome::ClientError
                } else {
                    Outcome::Ok
                };
                return (answer, outcome);
            }
            Err(f) => {
                gw.stats.failed(i);
                let retry = match f {
                    Failure::NotSent => {
                        site.set_healthy(false);
                        true
                    }
                    Failure::Broken => {
                        site.set_healthy(false);
                        out.safe
                    }
                    Failure::Timeout => false,
                };
                let resp = match f {
                    Failure::Timeout => problem(
                        StatusCode::GATEWAY_TIMEOUT,
                        "UPSTREAM_TIMEOUT",
                        format!(
                            "site {} did not answer within {} ms; the request may or may not have taken effect",
                            site.config.name,
                            timeout.as_millis()
                        ),
                    ),
                    _ if !retry => problem(
                        StatusCode::BAD_GATEWAY,
                        "UPSTREAM_FAILED",
                        format!(
                            "site {} broke off; the request may or may not have taken effect, \
                             so it was not sent elsewhere (send it with an Idempotency-Key to allow that)",
                            site.config.name
                        ),
                    ),
                    _ => problem(
                        StatusCode::BAD_GATEWAY,
                        "UPSTREAM_FAILED",
                        format!("site {} could not be reached", site.config.name),
                    ),
                };
                if !retry {
                    return (Answer::Gateway(resp), Outcome::Failed);
                }
                gw.stats.retried(i);
                last = Some(Answer::Gateway(resp));
            }
        }
    }
    match last {
        Some(a @ Answer::Site { status, .. }) => {
            let o = if status.is_server_error() {
                Outcome::SiteError
            } else if status.is_client_error() {
                Outcome::ClientError
            } else {
                Outcome::Ok
            };
            (a, o)
        }
        Some(a) => (a, Outcome::Failed),
        None => (
            Answer::Gateway(with_retry(
                StatusCode::SERVICE_UNAVAILABLE,
                "NO_SITE_AVAILABLE",
                "no site that serves this route is available; retry after 1 s".into(),
                1,
            )),
            Outcome::Failed,
        ),
    }
}

async fn send(
    gw: &Gateway,
    base: &str,
    out: &Outgoing<'_>,
    timeout: Duration,
) -> Result<(StatusCode, HeaderMap, Bytes), Failure> {
    let mut rb = gw
        .client
        .request(out.method.clone(), format!("{base}{}", out.path_and_query))
        .timeout(timeout);
    for (k, v) in out.headers {
        if forwardable(k) && k != "x-forwarded-for" && k != "forwarded" {
            rb = rb.header(k, v);
        }
    }
    let ip = out.client.ip().to_string();
    rb = rb.header("x-forwarded-for", ip.as_str());
    rb = rb.header(
        "x-forwarded-proto",
        if gw.config.tls_cert.is_some() {
            "https"
        } else {
            "http"
        },
    );
    if !out.body.is_empty() {
        rb = rb.body(out.body.clone());
    }
    let classify = |e: reqwest::Error| {
        if e.is_timeout() {
            Failure::Timeout
        } else if e.is_connect() {
            Failure::NotSent
        } else {
            Failure::Broken
        }
    };
    let resp = rb.send().await.map_err(classify)?;
    let status = resp.status();
    let mut headers = HeaderMap::with_capacity(resp.headers().len());
    for (k, v) in resp.headers() {
        if forwardable(k) {
            headers.append(k.clone(), v.clone());
        }
    }
    let body = resp.bytes().await.map_err(classify)?;
    Ok((status, headers, body))
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn healthz() -> Response {
    json(StatusCode::OK, serde_json::json!({"status": "ok"}))
}

/// Ready while the main site is in rotation (every route class has a site).
fn readyz(gw: &Gateway) -> Response {
    let sites: Vec<serde_json::Value> = gw
        .sites
        .all
        .iter()
        .map(|s| {
            serde_json::json!({
                "site": s.config.name,
                "role": s.config.role,
                "healthy": s.healthy(),
                "sync_lag_ms": s.lag_ms(),
                "fresh": s.fresh(),
                "in_flight": s.in_flight(),
            })
        })
        .collect();
    let main_up = gw
        .sites
        .all
        .iter()
        .any(|s| s.config.role == einvoice_server::role::Role::Main && s.healthy());
    if main_up {
        json(
            StatusCode::OK,
            serde_json::json!({"status": "ready", "sites": sites}),
        )
    } else {
        let mut r = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "MAIN_SITE_DOWN",
            "the main site is out of rotation; reads still go to cloud sites",
        )
        .public_detail()
        .retry_after(1)
        .into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

fn metrics(gw: &Gateway) -> Response {
    let in_flight =
        [Priority::One, Priority::Two, Priority::Three].map(|p| gw.admission.in_flight_of(p));
    let mut text = gw.stats.render(&gw.sites, in_flight);
    if let Some(h) = &gw.prometheus {
        text.push_str(&h.render());
    }
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}
