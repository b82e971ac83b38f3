//! The CDN role: public answers kept at the gateway.
//!
//! What is cached ([`cache_key`]): the App API `QryWinningList` (a period's
//! published winning numbers, public data) asked with `GET`, keyed by
//! `version` and `invTerm` only (the answer does not depend on the app that
//! asks); and only a successful answer (HTTP 200, MOF `code` `"200"`), so a
//! period not yet published is asked again every time. Never cached: any
//! request carrying `Authorization`, `Cookie`, a seller signature
//! (`X-Einvoice-*`) or carrier data (`cardNo`, `cardEncrypt`), and any
//! answer that sets a cookie.
//!
//! Freshness: an answer is served from the cache for `[cache] ttl_ms`, with
//! `Cache-Control: public, max-age=<seconds left>` and a strong `ETag` (the
//! SHA-256 of the body); `If-None-Match` with that tag answers 304. After
//! the TTL the next request asks a site again; an unchanged body keeps its
//! ETag, so clients revalidate with a 304. Invalidation: a successful
//! `POST`/`PUT`/`DELETE` under `/v1/ops/winning` through the gateway (the
//! operators publishing or approving winning numbers) empties the cache at
//! once; published numbers reaching a site another way are seen within one
//! TTL.
//!
//! Single flight: concurrent misses of one key make one request to a site
//! ([`Cache::lookup`]): the first is the leader, the others wait for its
//! answer (up to the upstream timeout) and are served from the cache; when
//! the leader's answer may not be kept, the next waiter asks in turn.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The cache key of a request, or `None` when it must not be cached.
pub fn cache_key(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Option<String> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let credentialed = headers.contains_key(header::AUTHORIZATION)
        || headers.contains_key(header::COOKIE)
        || headers.contains_key(header::PROXY_AUTHORIZATION)
        || headers
            .keys()
            .any(|k| k.as_str().starts_with("x-einvoice-"));
    if credentialed || path != "/PB2CAPIVAN/invapp/InvApp" {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if pairs
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("cardNo") || k.eq_ignore_ascii_case("cardEncrypt"))
    {
        return None;
    }
    if !get("action")?.eq_ignore_ascii_case("qrywinninglist") {
        return None;
    }
    let version = get("version")?;
    let term = get("invTerm")?;
    // Well-formed parts only (the site refuses the rest, uncached).
    let ok = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    };
    (ok(version, 8) && ok(term, 8)).then(|| format!("winning-list:{version}:{term}"))
}

/// Whether a site's answer to a cacheable request may be kept: 200, no
/// cookie, an App API answer whose `code` is `"200"` (or `200`).
pub fn storable(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> bool {
    if status != StatusCode::OK || headers.contains_key(header::SET_COOKIE) {
        return false;
    }
    #[derive(serde::Deserialize)]
    struct Code {
        code: serde_json::Value,
    }
    serde_json::from_slice::<Code>(body).is_ok_and(|c| match c.code {
        serde_json::Value::String(s) => s == "200",
        serde_json::Value::Number(n) => n.as_u64() == Some(200),
        _ => false,
    })
}

/// One kept answer.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The body.
    pub body: Bytes,
    /// Its `Content-Type`.
    pub content_type: Option<HeaderValue>,
    /// Strong ETag (quoted).
    pub etag: String,
    /// When it stops being fresh.
    pub expires: Instant,
    /// The site that answered.
    pub site: String,
}

impl Entry {
    /// A new entry for `body`, fresh for `ttl`.
    pub fn new(body: Bytes, content_type: Option<HeaderValue>, ttl: Duration, site: &str) -> Self {
        let digest = Sha256::digest(&body);
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            body,
            content_type,
            etag: format!("\"{hex}\""),
            expires: Instant::now() + ttl,
            site: site.to_string(),
        }
    }

    fn fresh(&self) -> bool {
        Instant::now() < self.expires
    }

    /// The answer to a request with `request` headers: 304 when its
    /// `If-None-Match` names this entry, else 200 with the body (none for HEAD).
    pub fn answer(&self, request: &HeaderMap, head: bool, hit: bool) -> Response {
        let left = self
            .expires
            .saturating_duration_since(Instant::now())
            .as_secs();
        let not_modified = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == self.etag);
        let mut resp = if not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else if head {
            StatusCode::OK.into_response()
        } else {
            (StatusCode::OK, self.body.clone()).into_response()
        };
        let h = resp.headers_mut();
        if let Some(ct) = &self.content_type {
            h.insert(header::CONTENT_TYPE, ct.clone());
        }
        if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={left}")) {
            h.insert(header::CACHE_CONTROL, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(
            "x-cache",
            HeaderValue::from_static(if hit { "HIT" } else { "MISS" }),
        );
        if let Ok(v) = HeaderValue::from_str(&self.site) {
            h.insert(crate::SITE_HEADER, v);
        }
        resp
    }
}

/// The request asking a site for one key now; others wait on it.
type Flights = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// The kept answers.
#[derive(Debug)]
pub struct Cache {
    ttl: Duration,
    max_entries: usize,
    entries: RwLock<HashMap<String, Entry>>,
    flights: Arc<Flights>,
}

/// What [`Cache::lookup`] found.
#[derive(Debug)]
pub enum Lookup {
    /// A fresh answer (`waited`: after another request's flight).
    Hit {
        /// The answer.
        entry: Entry,
        /// Whether it came from a flight this request waited on.
        waited: bool,
    },
    /// Nothing kept: ask a site, holding the flight (if one was taken)
    /// until the answer is stored.
    Miss(Option<Flight>),
}

/// The right to ask a site for one key while other requests for it wait
/// (dropped: the next waiter goes on).
#[derive(Debug)]
pub struct Flight {
    key: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    flights: Arc<Flights>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut map = self
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map
            .get(&self.key)
            .is_some_and(|l| Arc::ptr_eq(l, &self.lock))
        {
            map.remove(&self.key);
        }
    }
}

impl Cache {
    /// An empty cache.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: RwLock::new(HashMap::new()),
            flights: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The fresh entry under `key`, or the flight to fetch it: while
    /// another request fetches it, wait for that (at most `wait`, then ask
    /// without a flight) and look again.
    pub async fn lookup(&self, key: &str, wait: Duration) -> Lookup {
        let deadline = tokio::time::Instant::now() + wait;
        let mut waited = false;
        loop {
            if let Some(entry) = self.get(key) {
                return Lookup::Hit { entry, waited };
            }
            let lock = self
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(key.to_string())
                .or_default()
                .clone();
            match lock.clone().try_lock_owned() {
                Ok(guard) => {
                    // The flight before may have stored it just now.
                    if let Some(entry) = self.get(key) {
                        return Lookup::Hit { entry, waited };
                    }
                    return Lookup::Miss(Some(Flight {
                        key: key.to_string(),
                        lock,
                        flights: self.flights.clone(),
                        _guard: guard,
                    }));
                }
                Err(_) => {
                    waited = true;
                    if tokio::time::timeout_at(deadline, lock.lock())
                        .await
                        .is_err()
                    {
                        return Lookup::Miss(None);
                    }
                }
            }
        }
    }

    /// How long an answer stays fresh.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The fresh entry under `key`.
    pub fn get(&self, key: &str) -> Option<Entry> {
        let map = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key).filter(|e| e.fresh()).cloned()
    }

    /// Keep `entry` under `key` (expired entries make room; a full cache of
    /// fresh entries keeps what it has).
    pub fn put(&self, key: String, entry: Entry) {
        if self.ttl.is_zero() || self.max_entries == 0 {
            return;
        }
        let mut map = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= self.max_entries && !map.contains_key(&key) {
            map.retain(|_, e| e.fresh());
            if map.len() >= self.max_entries {
                return;
            }
        }
        map.insert(key, entry);
    }

    /// Forget everything (new winning numbers were published).
    pub fn purge(&self) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

/// Whether a request that answered `status` publishes winning numbers
/// (and so must empty the cache).
pub fn publishes(method: &Method, path: &str, status: StatusCode) -> bool {
    status.is_success()
        && matches!(*method, Method::POST | Method::PUT | Method::DELETE)
        && (path == "/v1/ops/winning" || path.starts_with("/v1/ops/winning/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "version=0.5&action=QryWinningList&invTerm=11404&UUID=u&appID=A&timeStamp=1";

    #[test]
    fn only_anonymous_winning_list_gets_are_keyed() {
        let none = HeaderMap::new();
        let path = "/PB2CAPIVAN/invapp/InvApp";
        let key = cache_key(&Method::GET, path, Some(Q), &none);
        assert_eq!(key.as_deref(), Some("winning-list:0.5:11404"));
        // The asking app does not split the key.
        let other = Q.replace("appID=A", "appID=B");
        assert_eq!(cache_key(&Method::GET, path, Some(&other), &none), key);
        assert_eq!(cache_key(&Method::POST, path, Some(Q), &none), None);
        let mut auth = HeaderMap::new();
        auth.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(cache_key(&Method::GET, path, Some(Q), &auth), None);
        let mut cookie = HeaderMap::new();
        cookie.insert(header::COOKIE, HeaderValue::from_static("a=b"));
        assert_eq!(cache_key(&Method::GET, path, Some(Q), &cookie), None);
        let card = format!("{Q}&cardNo=/ABC1234");
        assert_eq!(cache_key(&Method::GET, path, Some(&card), &none), None);
        let detail = Q.replace("QryWinningList", "qryInvDetail");
        assert_eq!(cache_key(&Method::GET, path, Some(&detail), &none), None);
        let odd = Q.replace("11404", "11404%27--");
        assert_eq!(cache_key(&Method::GET, path, Some(&odd), &none), None);
        assert_eq!(
            cache_key(&Method::GET, "/v1/carrier/invoices", Some(Q), &none),
            None
        );
    }

    #[test]
    fn only_successful_answers_are_stored() {
        let h = HeaderMap::new();
        assert!(storable(StatusCode::OK, &h, br#"{"code":"200","v":"0.5"}"#));
        assert!(!storable(StatusCode::OK, &h, br#"{"code":"919"}"#));
        assert!(!storable(StatusCode::OK, &h, b"not json"));
        assert!(!storable(StatusCode::NOT_FOUND, &h, br#"{"code":"200"}"#));
        let mut c = HeaderMap::new();
        c.insert(header::SET_COOKIE, HeaderValue::from_static("s=1"));
        assert!(!storable(StatusCode::OK, &c, br#"{"code":"200"}"#));
    }

    #[test]
    fn entries_expire_are_bounded_and_purged() {
        let c = Cache::new(Duration::from_millis(30), 2);
        let e = |b: &'static [u8]| Entry::new(Bytes::from_static(b), None, c.ttl(), "cloud-a");
        c.put("a".into(), e(b"1"));
        c.put("b".into(), e(b"2"));
        c.put("c".into(), e(b"3"));
        assert!(c.get("c").is_none(), "full of fresh entries");
        assert_eq!(c.get("a").map(|x| x.body), Some(Bytes::from_static(b"1")));
        std::thread::sleep(Duration::from_millis(40));
        assert!(c.get("a").is_none(), "expired");
        c.put("c".into(), e(b"3"));
        assert!(c.get("c").is_some(), "expired entries made room");
        c.purge();
        assert!(c.get("c").is_none());
        assert_eq!(e(b"x").etag, e(b"x").etag, "same body, same tag");
        assert_ne!(e(b"x").etag, e(b"y").etag);
    }

    #[test]
    fn publishing_winning_numbers_is_recognised() {
        let ok = StatusCode::OK;
        assert!(publishes(&Method::POST, "/v1/ops/winning", ok));
        assert!(publishes(
            &Method::POST,
            "/v1/ops/winning/11404/approve",
            ok
        ));
        assert!(!publishes(&Method::GET, "/v1/ops/winning/11404", ok));
        assert!(!publishes(
            &Method::POST,
            "/v1/ops/winning",
            StatusCode::FORBIDDEN
        ));
        assert!(!publishes(&Method::POST, "/v1/ops/winningx", ok));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_of_one_key_make_one_flight() {
        let c = Arc::new(Cache::new(Duration::from_secs(10), 16));
        let fetched = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (c, fetched) = (c.clone(), fetched.clone());
                tokio::spawn(async move {
                    match c.lookup("k", Duration::from_secs(5)).await {
                        Lookup::Hit { entry, .. } => entry.body,
                        Lookup::Miss(flight) => {
                            fetched.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            let e = Entry::new(Bytes::from_static(b"v"), None, c.ttl(), "s");
                            c.put("k".into(), e.clone());
                            drop(flight);
                            e.body
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("task"), Bytes::from_static(b"v"));
        }
        assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(
            c.flights.lock().expect("lock").is_empty(),
            "flights cleaned up"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_flight_lets_the_next_waiter_ask() {
        let c = Arc::new(Cache::new(Duration::from_secs(10), 16));
        let Lookup::Miss(Some(first)) = c.lookup("k", Duration::from_secs(5)).await else {
            panic!("the first lookup leads");
        };
        let c2 = c.clone();
        let waiter = tokio::spawn(async move { c2.lookup("k", Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(first); // nothing stored
        assert!(matches!(waiter.await.expect("task"), Lookup::Miss(Some(_))));
        let _held = c.lookup("j", Duration::from_secs(5)).await;
        assert!(
            matches!(
                c.lookup("j", Duration::from_millis(30)).await,
                Lookup::Miss(None)
            ),
            "waiting is bounded"
        );
    }
}
