//! Delivery of the outbox (winner notifications) to a configured webhook.
//!
//! [`Store::put_winners`] enqueues one notification per payable carrier line
//! in the same transaction as the winners. [`run`] (spawned by `serve` when
//! `webhook_url` is set) POSTs each due item as JSON with
//!
//! - `Idempotency-Key` / `X-Einvoice-Id`: the item's id (`winner/<period>/<line>`),
//! - `X-Einvoice-Timestamp`: Unix seconds of the attempt,
//! - `X-Einvoice-Signature`: `v1=` + hex HMAC-SHA256 over
//!   `"<timestamp>.<id>.<body>"` with the shared webhook secret ([`signature`]).
//!
//! A 2xx answer marks the item delivered; anything else (or no answer) is
//! retried with exponential backoff ([`backoff_secs`]). Delivery is at least
//! once: a receiver deduplicates by the id. Nodes of one site may deliver the
//! same item twice when they race; the id makes that harmless. Only `http://`
//! URLs are supported in this build (a TLS client is not in the tree yet).

use einvoice_store::{OutboxOutcome, Store, StoreError};
use hmac::{KeyInit, Mac};
use std::future::Future;
use std::time::Duration;

/// How to deliver.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The receiver, `http://…`.
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
    /// Items per poll.
    pub batch: u32,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("poll", &self.poll)
            .field("base_backoff_secs", &self.base_backoff_secs)
            .field("max_backoff_secs", &self.max_backoff_secs)
            .finish_non_exhaustive()
    }
}

/// Why a webhook configuration cannot be used. Codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// `WEBHOOK_URL`: not an `http://` URL (`https://` is NOT_IMPLEMENTED in this build).
    #[error("WEBHOOK_URL: {0}")]
    Url(String),
    /// `WEBHOOK_SECRET`: missing or shorter than 16 bytes.
    #[error(
        "WEBHOOK_SECRET: set EINVOICE_WEBHOOK_SECRET (at least 16 bytes) to sign webhook deliveries"
    )]
    Secret,
}

impl WebhookConfig {
    /// A configuration with defaults (5 s poll, 10 s → 1 h backoff, 10 s timeout, 100 per poll).
    pub fn new(url: &str, secret: &[u8]) -> Result<Self, WebhookError> {
        if url.starts_with("https://") {
            return Err(WebhookError::Url(
                "NOT_IMPLEMENTED: https webhooks need a TLS client this build does not have; use an http:// relay on loopback".into(),
            ));
        }
        if !url.starts_with("http://") || url.len() <= "http://".len() {
            return Err(WebhookError::Url(format!("{url:?} is not an http:// URL")));
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
        })
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
    /// Items the receiver accepted.
    pub ok: u32,
    /// Items that failed and were rescheduled.
    pub failed: u32,
}

/// Deliver every item due at `now_unix` once.
pub async fn deliver_due<S: Store>(
    store: &S,
    client: &reqwest::Client,
    cfg: &WebhookConfig,
    now_unix: i64,
) -> Result<Delivered, StoreError> {
    let mut out = Delivered::default();
    for item in store.outbox_due(now_unix, cfg.batch).await? {
        let sent = client
            .post(&cfg.url)
            .timeout(cfg.timeout)
            .header("content-type", "application/json")
            .header("idempotency-key", &item.id)
            .header("x-einvoice-id", &item.id)
            .header("x-einvoice-timestamp", now_unix.to_string())
            .header(
                "x-einvoice-signature",
                signature(&cfg.secret, now_unix, &item.id, &item.body),
            )
            .body(item.body.clone())
            .send()
            .await;
        let outcome = match sent {
            Ok(r) if r.status().is_success() => OutboxOutcome::Delivered { at_unix: now_unix },
            Ok(r) => OutboxOutcome::Failed {
                next_unix: now_unix
                    + backoff_secs(
                        item.attempts + 1,
                        cfg.base_backoff_secs,
                        cfg.max_backoff_secs,
                    ),
                error: format!("HTTP {}", r.status().as_u16()),
            },
            Err(e) => OutboxOutcome::Failed {
                next_unix: now_unix
                    + backoff_secs(
                        item.attempts + 1,
                        cfg.base_backoff_secs,
                        cfg.max_backoff_secs,
                    ),
                error: if e.is_timeout() {
                    "timeout".into()
                } else {
                    "connection failed".into()
                },
            },
        };
        match outcome {
            OutboxOutcome::Delivered { .. } => out.ok += 1,
            OutboxOutcome::Failed { .. } => out.failed += 1,
        }
        store.outbox_mark(&item.id, outcome).await?;
    }
    Ok(out)
}

fn now_unix() -> i64 {
    crate::app_api::now_unix()
}

/// Poll and deliver until `shutdown` resolves. Store failures are waited out.
pub async fn run<S: Store>(store: S, cfg: WebhookConfig, shutdown: impl Future<Output = ()>) {
    let client = reqwest::Client::new();
    tokio::pin!(shutdown);
    loop {
        let pause = match deliver_due(&store, &client, &cfg, now_unix()).await {
            Ok(d) if d.ok + d.failed >= cfg.batch => Duration::ZERO,
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
        assert!(matches!(
            WebhookConfig::new("https://x", &[0; 32]),
            Err(WebhookError::Url(m)) if m.contains("NOT_IMPLEMENTED")
        ));
        assert!(WebhookConfig::new("ftp://x", &[0; 32]).is_err());
        assert_eq!(
            WebhookConfig::new("http://x", b"short").map(|_| ()),
            Err(WebhookError::Secret)
        );
        let c = WebhookConfig::new("http://127.0.0.1:9/hook", b"0123456789abcdef").expect("ok");
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
        let a = signature(b"k", 1, "winner/11410/0", "{}");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64);
        assert_ne!(a, signature(b"k", 2, "winner/11410/0", "{}"));
        assert_ne!(a, signature(b"k", 1, "winner/11410/1", "{}"));
    }
}
