//! The SMTP sender: drains the store's mail outbox
//! ([`einvoice_store::CarrierRegStore::mail_claim`]) through an SMTP server
//! (`lettre` on tokio, rustls for `smtps://` and STARTTLS), with retries
//! and growing back-off; a delivered mail's text is erased from the store.
//!
//! Configuration: `[smtp] url = "smtp://127.0.0.1:2525"` (`EINVOICE_SMTP_URL`)
//! and `from = "einvoice <noreply@example.com>"` (`EINVOICE_SMTP_FROM`). A
//! URL is `smtp://host:port` (plain, for a local relay), `smtp://…?tls=required`
//! (STARTTLS) or `smtps://host:port`, with optional `user:password@`.

use einvoice_store::{MailMessage, OutboxOutcome, Store};
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::future::Future;
use std::time::Duration;

/// Why the mail settings are refused.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The SMTP URL does not parse.
    #[error("SMTP_URL: {0}")]
    Url(String),
    /// The sender address does not parse.
    #[error("SMTP_FROM: {0}")]
    From(String),
}

/// `[smtp]` of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpFile {
    /// `smtp://host:port`, `smtps://…`; none: no mail (registration answers 503).
    pub url: Option<String>,
    /// Sender address (default `einvoice <noreply@localhost>`).
    pub from: Option<String>,
}

/// A ready mail sender.
#[derive(Clone)]
pub struct MailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    /// Unique name of this delivering loop (outbox leases).
    pub worker: String,
    /// How long an idle loop waits before it looks again.
    pub idle: Duration,
    /// Where the loop reads the time (the site's clock, which queued the mail).
    pub clock: crate::clock::Clock,
}

impl std::fmt::Debug for MailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSender")
            .field("from", &self.from.to_string())
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

/// The default sender address.
pub const DEFAULT_FROM: &str = "einvoice <noreply@localhost>";

impl MailSender {
    /// A sender to `url` from `from`.
    pub fn new(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Url(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| MailError::From(e.to_string()))?;
        let mut b = [0u8; 6];
        let tag: String = match getrandom::fill(&mut b) {
            Ok(()) => b.iter().map(|x| format!("{x:02x}")).collect(),
            Err(_) => std::process::id().to_string(),
        };
        Ok(Self {
            transport,
            from,
            worker: format!("mail-{}-{tag}", std::process::id()),
            idle: Duration::from_secs(2),
            clock: crate::clock::Clock::default(),
        })
    }

    /// The sender address as configured.
    pub fn from_address(&self) -> String {
        self.from.to_string()
    }

    async fn send(&self, m: &MailMessage) -> Result<(), String> {
        let to =
            m.to.parse::<lettre::message::Mailbox>()
                .map_err(|e| format!("recipient: {e}"))?;
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(m.text.clone())
            .map_err(|e| format!("message: {e}"))?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| format!("smtp: {e}"))
    }
}

/// Seconds before the next attempt after `attempts` failures: 5 s doubling,
/// at most an hour.
pub fn backoff_secs(attempts: u32) -> i64 {
    (5i64 << attempts.min(10)).min(3600)
}

/// Deliver one round: claim due mails, send each, mark it. Returns how many
/// were claimed.
pub async fn deliver_once<S: Store>(store: &S, sender: &MailSender, now: i64) -> usize {
    let items = match store.mail_claim(now, 20, 60, &sender.worker).await {
        Ok(i) => i,
        Err(e) => {
            tracing_log(&format!("mail: claim failed: {e}"));
            return 0;
        }
    };
    for item in &items {
        let outcome = match MailMessage::from_item(item) {
            None => OutboxOutcome::Failed {
                next_unix: now + 3600,
                error: "not a mail".into(),
            },
            Some(m) => match sender.send(&m).await {
                Ok(()) => OutboxOutcome::Delivered { at_unix: now },
                Err(e) => OutboxOutcome::Failed {
                    next_unix: now + backoff_secs(item.attempts),
                    error: e.chars().take(200).collect(),
                },
            },
        };
        if let Err(e) = store.mail_mark(&item.id, &sender.worker, outcome).await {
            tracing_log(&format!("mail: mark failed: {e}"));
        }
    }
    items.len()
}

fn tracing_log(s: &str) {
    eprintln!("einvoice: {s}");
}

/// Deliver until `shutdown` resolves: a round, then a pause of
/// [`MailSender::idle`] when nothing was due.
pub async fn run<S: Store>(store: S, sender: MailSender, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let now = sender.clock.now_unix();
        let n = deliver_once(&store, &sender, now).await;
        if n > 0 {
            continue;
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(sender.idle) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_backoff() {
        assert!(MailSender::new("smtp://127.0.0.1:2525", DEFAULT_FROM).is_ok());
        assert!(matches!(
            MailSender::new("ftp://x", DEFAULT_FROM),
            Err(MailError::Url(_))
        ));
        assert!(matches!(
            MailSender::new("smtp://127.0.0.1:2525", "not an address"),
            Err(MailError::From(_))
        ));
        assert_eq!(backoff_secs(0), 5);
        assert_eq!(backoff_secs(1), 10);
        assert_eq!(backoff_secs(30), 3600);
    }
}
