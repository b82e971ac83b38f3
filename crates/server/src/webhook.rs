//! Delivery of the outbox (winner notifications) to a configured webhook.
//!
//! [`Store::put_winners`] enqueues one notification per payable carrier line
//! in the same transaction as the winners. [`run`] (spawned by `serve` when
//! `webhook_url` is set) claims due items ([`Store::outbox_claim`]: leased to
//! this worker for [`WebhookConfig::lease_secs`]) and POSTs each as JSON with
//!
//! - `Idempotency-Key` / `X-Einvoice-Id`: the item's id (`winner/<period>/<line>`),
//! - `X-Einvoice-Timestamp`: Unix seconds of the attempt,
//! - `X-Einvoice-Signature`: `v1=` + hex HMAC-SHA256 over
//!   `"<timestamp>.<id>.<body>"` with the shared webhook secret ([`signature`]).
//!
//! A 2xx answer marks the item delivered; anything else (another status, a
//! redirect — not followed, since a redirected POST can arrive as a GET
//! without its body —, no answer, a TLS failure) is retried with exponential
//! backoff ([`backoff_secs`]), the reason kept as the item's last error.
//!
//! **Several nodes.** Nodes of one site (API nodes on one PostgreSQL) claim
//! disjoint items, and only the worker holding an item's lease records its
//! outcome ([`Store::outbox_mark`] refuses the others). A worker starts a
//! POST only while its lease still covers the POST's time limit plus a
//! margin for recording the outcome, so it finishes before anyone else may
//! claim the item. Items of a worker that crashed are delivered by another
//! once their lease has ended. What remains is at-least-once delivery: an
//! item is sent twice only when its lease runs out mid-POST anyway (a node
//! stalled, its store calls slow, or node clocks apart by more than the
//! margin) or when a node stops between the receiver's 2xx and recording it.
//! A receiver deduplicates by the id.
//!
//! **Transport.** `https://` uses rustls on the aws-lc-rs provider (the one
//! crypto provider of the tree). The receiver's certificate is verified
//! against the system's trust store (rustls-platform-verifier: on Linux the
//! CA bundle the OS keeps current, e.g. Debian's `ca-certificates`) plus,
//! when configured, the certificates of a site CA file (`webhook_ca_file`,
//! for a private CA). `http://` sends the signed notifications in clear: it
//! is meant for a relay on loopback and is refused to any other host unless
//! `webhook_allow_plain_http` is set.

use einvoice_store::{OutboxOutcome, Store, StoreError};
use hmac::{KeyInit, Mac};
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

/// Seconds a lease must still cover after a POST's time limit: time to
/// record the outcome.
const MARK_MARGIN_SECS: u64 = 5;

/// How to deliver.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The receiver, `https://…` (or `http://…` to loopback, or anywhere
    /// with `webhook_allow_plain_http`).
    pub url: String,
    /// The shared HMAC secret (never logged).
    pub secret: Vec<u8>,
    /// Pause between polls when nothing is due.
    pub poll: Duration,
    /// First retry delay, seconds; doubles per failed attempt.
    pub base_backoff_secs: i64,
    /// Longest retry delay, seconds.
    pub max_backoff_secs: i64,
    /// Limit on one POST.
    pub timeout: Duration,
    /// Items per claim.
    pub batch: u32,
    /// How long a claim leases its items, seconds: how soon another worker
    /// delivers the items of one that crashed. Never less than one POST's
    /// time limit plus a margin ([`WebhookConfig::claim_lease_secs`]).
    pub lease_secs: u32,
    /// This worker's name in leases: unique per running worker (the default
    /// is the process id and random bytes).
    pub worker: String,
    /// Extra trust roots for `https://` (from `webhook_ca_file`).
    ca: Vec<reqwest::Certificate>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.display_url())
            .field("poll", &self.poll)
            .field("base_backoff_secs", &self.base_backoff_secs)
            .field("max_backoff_secs", &self.max_backoff_secs)
            .field("lease_secs", &self.lease_secs)
            .field("worker", &self.worker)
            .field("extra_roots", &self.ca.len())
            .finish_non_exhaustive()
    }
}

/// Why a webhook configuration cannot be used. Codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// `WEBHOOK_URL`: not an `http://` or `https://` URL with a host.
    #[error("WEBHOOK_URL: {0}")]
    Url(String),
    /// `WEBHOOK_SECRET`: missing or shorter than 16 bytes.
    #[error(
        "WEBHOOK_SECRET: set EINVOICE_WEBHOOK_SECRET (at least 16 bytes) to sign webhook deliveries"
    )]
    Secret,
    /// `WEBHOOK_PLAIN_HTTP`: an `http://` URL whose host is not loopback,
    /// without `webhook_allow_plain_http`.
    #[error(
        "WEBHOOK_PLAIN_HTTP: {0} is not a loopback host; use https://, or set \
         webhook_allow_plain_http = true for a relay on a network you trust"
    )]
    PlainHttp(String),
    /// `WEBHOOK_CA_FILE`: the CA file cannot be read or holds no PEM certificate.
    #[error("WEBHOOK_CA_FILE: {0}")]
    CaFile(String),
    /// `WEBHOOK_TLS`: the HTTPS client cannot be set up (no trust roots on
    /// the system and no CA file, or a CA certificate that does not parse).
    #[error("WEBHOOK_TLS: {0}")]
    Tls(String),
}

impl WebhookConfig {
    /// A configuration with defaults (5 s poll, 10 s → 1 h backoff, 10 s
    /// timeout, 100 per claim, 120 s lease). `http://` is accepted to a
    /// loopback host only ([`WebhookConfig::allowing_plain_http`] for others).
    pub fn new(url: &str, secret: &[u8]) -> Result<Self, WebhookError> {
        Self::build(url, secret, false)
    }

    /// As [`WebhookConfig::new`], but `http://` to any host (a relay on a
    /// network the site trusts: the notifications travel in clear).
    pub fn allowing_plain_http(url: &str, secret: &[u8]) -> Result<Self, WebhookError> {
        Self::build(url, secret, true)
    }

    fn build(url: &str, secret: &[u8], allow_plain_http: bool) -> Result<Self, WebhookError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| WebhookError::Url(format!("{}: {e}", redact(url))))?;
        let host = match parsed.host_str() {
            Some(h) if matches!(parsed.scheme(), "http" | "https") => h,
            _ => {
                return Err(WebhookError::Url(format!(
                    "{} is not an http:// or https:// URL with a host",
                    redact(url)
                )));
            }
        };
        if parsed.scheme() == "http" && !allow_plain_http && !is_loopback_host(host) {
            return Err(WebhookError::PlainHttp(host.to_string()));
        }
        if secret.len() < 16 {
            return Err(WebhookError::Secret);
        }
        Ok(Self {
            url: url.to_string(),
            secret: secret.to_vec(),
            poll: Duration::from_secs(5),
            base_backoff_secs: 10,
            max_backoff_secs: 3600,
            timeout: Duration::from_secs(10),
            batch: 100,
            lease_secs: 120,
            worker: default_worker(),
            ca: Vec::new(),
        })
    }

    /// Also trust the CA certificates in `pem` (one or more PEM blocks) for
    /// `https://`, besides the system's trust store.
    pub fn with_ca_pem(mut self, pem: &[u8]) -> Result<Self, WebhookError> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| WebhookError::CaFile(format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(WebhookError::CaFile("no PEM certificate in it".into()));
        }
        self.ca.extend(certs);
        Ok(self)
    }

    /// [`WebhookConfig::with_ca_pem`] with the contents of the file at `path`.
    pub fn with_ca_file(self, path: &Path) -> Result<Self, WebhookError> {
        let pem = std::fs::read(path)
            .map_err(|e| WebhookError::CaFile(format!("cannot read {}: {e}", path.display())))?;
        self.with_ca_pem(&pem).map_err(|e| match e {
            WebhookError::CaFile(m) => WebhookError::CaFile(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// The URL without any user name or password in it (for logs).
    pub fn display_url(&self) -> String {
        redact(&self.url)
    }

    /// The lease a claim asks for: [`WebhookConfig::lease_secs`], raised to
    /// cover the claim itself, one POST and recording its outcome (the POST's
    /// time limit plus twice the margin).
    pub fn claim_lease_secs(&self) -> u32 {
        let post = self
            .timeout
            .as_secs()
            .saturating_add(u64::from(self.timeout.subsec_nanos() > 0));
        let least = u32::try_from(post.saturating_add(2 * MARK_MARGIN_SECS)).unwrap_or(u32::MAX);
        self.lease_secs.max(least)
    }

    /// The HTTP client for this configuration: redirects not followed; for
    /// `https://`, the system's trust store plus the configured CA
    /// certificates; for `http://`, no trust store is loaded at all.
    pub fn client(&self) -> Result<reqwest::Client, WebhookError> {
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout);
        let https = reqwest::Url::parse(&self.url).is_ok_and(|u| u.scheme() == "https");
        let builder = if https {
            builder.https_only(true).tls_certs_merge(self.ca.clone())
        } else {
            builder.tls_certs_only(Vec::new())
        };
        builder
            .build()
            .map_err(|e| WebhookError::Tls(error_chain(&e)))
    }
}

/// `url` with any user name and password removed.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_username("");
                let _ = u.set_password(None);
            }
            u.to_string()
        }
        // Not a URL: show nothing of it but its length.
        Err(_) => format!("<{} bytes>", url.len()),
    }
}

/// Whether `host` (as in a URL: IPv6 in brackets) is `localhost` or a loopback address.
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `<pid>-<12 random hex digits>`.
fn default_worker() -> String {
    let mut b = [0u8; 6];
    // Without randomness the process id alone still names this process.
    let _ = getrandom::fill(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{hex}", std::process::id())
}

/// The messages of `e` and its sources, `: `-joined.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

/// The TLS error somewhere in `e`'s sources, if any. An `io::Error` holds
/// its cause as an inner error, which its `source()` skips: look inside.
fn tls_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        next = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => err.source(),
        };
    }
    None
}

/// What went wrong with a POST, for the item's last error (no secrets).
fn failure(e: &reqwest::Error) -> String {
    if let Some(t) = tls_cause(e) {
        format!("TLS: {t}")
    } else if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

/// `v1=` + hex HMAC-SHA256 over `"<timestamp>.<id>.<body>"`.
pub fn signature(secret: &[u8], timestamp: i64, id: &str, body: &str) -> String {
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length; unreachable in practice.
        Err(_) => return String::new(),
    };
    mac.update(format!("{timestamp}.{id}.").as_bytes());
    mac.update(body.as_bytes());
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("v1={hex}")
}

/// Delay before the next attempt after `attempts` failures (1, 2, …):
/// `base · 2^(attempts-1)`, at most `max`.
pub fn backoff_secs(attempts: u32, base: i64, max: i64) -> i64 {
    let shift = attempts.saturating_sub(1).min(30);
    base.saturating_mul(1i64 << shift).min(max)
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Items claimed.
    pub claimed: u32,
    /// Items the receiver accepted.
    pub ok: u32,
    /// Items that failed and were rescheduled.
    pub failed: u32,
    /// Items posted whose outcome was not recorded: their lease had passed
    /// to another worker (which delivers them again).
    pub lost: u32,
    /// Claimed items not posted because the lease could no longer cover a
    /// POST; claimable again when it ends.
    pub deferred: u32,
}

/// Claim the items due at `now_unix` for `cfg.worker` and deliver them once.
pub async fn deliver_due<S: Store>(
    store: &S,
    client: &reqwest::Client,
    cfg: &WebhookConfig,
    now_unix: i64,
) -> Result<Delivered, StoreError> {
    let lease_secs = cfg.claim_lease_secs();
    let lease = Duration::from_secs(u64::from(lease_secs));
    let post = cfg
        .timeout
        .saturating_add(Duration::from_secs(MARK_MARGIN_SECS));
    let started = Instant::now();
    let items = store
        .outbox_claim(now_unix, cfg.batch, lease_secs, &cfg.worker)
        .await?;
    let mut out = Delivered {
        claimed: u32::try_from(items.len()).unwrap_or(u32::MAX),
        ..Delivered::default()
    };
    for item in items {
        let elapsed = started.elapsed();
        if elapsed.saturating_add(post) > lease {
            out.deferred += 1;
            continue;
        }
        let at = now_unix.saturating_add(i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX));
        let sent = client
            .post(&cfg.url)
            .timeout(cfg.timeout)
            .header("content-type", "application/json")
            .header("idempotency-key", &item.id)
            .header("x-einvoice-id", &item.id)
            .header("x-einvoice-timestamp", at.to_string())
            .header(
                "x-einvoice-signature",
                signature(&cfg.secret, at, &item.id, &item.body),
            )
            .body(item.body.clone())
            .send()
            .await;
        let retry = || {
            at.saturating_add(backoff_secs(
                item.attempts + 1,
                cfg.base_backoff_secs,
                cfg.max_backoff_secs,
            ))
        };
        let outcome = match sent {
            Ok(r) if r.status().is_success() => OutboxOutcome::Delivered { at_unix: at },
            Ok(r) => OutboxOutcome::Failed {
                next_unix: retry(),
                error: format!("HTTP {}", r.status().as_u16()),
            },
            Err(e) => OutboxOutcome::Failed {
                next_unix: retry(),
                error: failure(&e),
            },
        };
        let delivered = matches!(outcome, OutboxOutcome::Delivered { .. });
        if !store.outbox_mark(&item.id, &cfg.worker, outcome).await? {
            out.lost += 1;
        } else if delivered {
            out.ok += 1;
        } else {
            out.failed += 1;
        }
    }
    Ok(out)
}

/// Claim and deliver with `client` (from [`WebhookConfig::client`]) until
/// `shutdown` resolves. Store failures are waited out.
pub async fn run<S: Store>(
    store: S,
    cfg: WebhookConfig,
    client: reqwest::Client,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let pause = match deliver_due(&store, &client, &cfg, crate::clock::now_unix()).await {
            // A full claim: more may be due.
            Ok(d) if d.claimed >= cfg.batch => Duration::ZERO,
            Ok(_) => cfg.poll,
            Err(e) => {
                eprintln!("einvoice: webhook outbox: {}", e.code());
                cfg.poll
            }
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff_secs(1, 10, 3600), 10);
        assert_eq!(backoff_secs(2, 10, 3600), 20);
        assert_eq!(backoff_secs(5, 10, 3600), 160);
        assert_eq!(backoff_secs(40, 10, 3600), 3600);
    }

    #[test]
    fn config_and_signature() {
        let secret = b"0123456789abcdef";
        assert!(WebhookConfig::new("https://hooks.example/winners", secret).is_ok());
        assert!(matches!(
            WebhookConfig::new("ftp://x", secret),
            Err(WebhookError::Url(_))
        ));
        assert!(matches!(
            WebhookConfig::new("not a url", secret),
            Err(WebhookError::Url(m)) if !m.contains("not a url")
        ));
        assert_eq!(
            WebhookConfig::new("http://127.0.0.1", b"short").map(|_| ()),
            Err(WebhookError::Secret)
        );
        // Plain HTTP: loopback only, unless allowed.
        for ok in [
            "http://127.0.0.1:9/hook",
            "http://localhost:9/hook",
            "http://[::1]:9/",
        ] {
            assert!(WebhookConfig::new(ok, secret).is_ok(), "{ok}");
        }
        assert_eq!(
            WebhookConfig::new("http://10.1.2.3/hook", secret).map(|_| ()),
            Err(WebhookError::PlainHttp("10.1.2.3".into()))
        );
        assert!(WebhookConfig::allowing_plain_http("http://10.1.2.3/hook", secret).is_ok());
        let c = WebhookConfig::new("https://user:pw@hooks.example/w", secret).expect("ok");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("0123456789abcdef") && !shown.contains("pw"),
            "{shown}"
        );
        assert_eq!(c.display_url(), "https://hooks.example/w");
        assert!(c.worker.starts_with(&format!("{}-", std::process::id())));
        assert_ne!(
            c.worker,
            WebhookConfig::new("https://h", secret).expect("ok").worker
        );
        // A lease always covers one POST and its mark.
        let mut short = c.clone();
        short.lease_secs = 1;
        assert_eq!(short.claim_lease_secs(), 10 + 5 + 5);
        assert_eq!(c.claim_lease_secs(), 120);
        assert!(matches!(
            c.clone().with_ca_pem(b"no certificate here"),
            Err(WebhookError::CaFile(_))
        ));
        assert!(matches!(
            c.with_ca_file(Path::new("/nonexistent/ca.pem")),
            Err(WebhookError::CaFile(m)) if m.contains("/nonexistent/ca.pem")
        ));
        let a = signature(b"k", 1, "winner/11410/0", "{}");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64);
        assert_ne!(a, signature(b"k", 2, "winner/11410/0", "{}"));
        assert_ne!(a, signature(b"k", 1, "winner/11410/1", "{}"));
    }
}
