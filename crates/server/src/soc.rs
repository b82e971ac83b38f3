//! The site's security operations center wiring (issue 16, part 2): the
//! [`SecurityEvents`] handle request handlers report to, and the worker
//! thread behind it that appends every event to the hash-chained event log
//! (`soc.sqlite` in the site's data directory, in memory without one), feeds
//! the streaming [`Detector`] with the built-in rules, files each alert in
//! the [`IncidentBook`] and logs it at warn.
//!
//! Reporting never blocks a request: events go through a bounded channel
//! ([`QUEUE`]); when it is full the event is dropped and counted in
//! `einvoice_soc_events_dropped_total`. Events are typed by the `einvoice-soc`
//! crate, which has no place for a code, password or token.

use einvoice_soc::log::LogError;
use einvoice_soc::{
    Actor, AlertLine, AttrKey, BlockList, Cidr, Detector, EventClass, EventLog, Incident,
    IncidentBook, Label, MemoryLog, Outcome, Redacted, ResponseAction, SecurityEvent, Severity,
    SqliteLog, builtin_rules,
};
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// Events waiting for the worker at most; more are dropped and counted.
pub const QUEUE: usize = 16_384;

/// Events the worker appends in one batch (one SQLite transaction).
const BATCH: usize = 512;

/// What the worker found so far: the alerts in order and their incidents.
#[derive(Debug, Default)]
struct View {
    alerts: Vec<AlertLine>,
    book: IncidentBook,
    /// Events the log refused to store (the worker goes on detecting).
    log_errors: u64,
    /// Events the worker has handled (stored or not, fed to the detector).
    handled: u64,
}

struct Inner {
    /// The queue to the worker, made (and the worker started) on the first event.
    tx: OnceLock<SyncSender<SecurityEvent>>,
    /// The log, until the worker takes it.
    log: Mutex<Option<Box<dyn EventLog>>>,
    view: Arc<Mutex<View>>,
    /// Client blocks in force at the edge ([`refuse_blocked`]).
    blocks: RwLock<BlockList>,
    /// Whether `blocks` may hold an entry (the edge skips the lock when not).
    any_blocks: AtomicBool,
}

/// The handle request handlers report security events to: cheap to clone,
/// [`emit`](SecurityEvents::emit) never blocks. The worker thread starts on
/// the first event and ends when the last handle is dropped.
#[derive(Clone)]
pub struct SecurityEvents {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SecurityEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecurityEvents")
    }
}

/// Two handles are equal when they report to the same worker.
impl PartialEq for SecurityEvents {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for SecurityEvents {}

/// An in-memory log: for sites without a data directory (tests, benches).
impl Default for SecurityEvents {
    fn default() -> Self {
        Self::with_log(Box::new(MemoryLog::new()))
    }
}

impl SecurityEvents {
    /// Events stored in `dir/soc.sqlite` (created if absent), or in memory
    /// when `dir` is `None`.
    pub fn open(dir: Option<&Path>) -> Result<Self, LogError> {
        Ok(match dir {
            Some(d) => Self::with_log(Box::new(SqliteLog::open(d)?)),
            None => Self::default(),
        })
    }

    fn with_log(log: Box<dyn EventLog>) -> Self {
        Self {
            inner: Arc::new(Inner {
                tx: OnceLock::new(),
                log: Mutex::new(Some(log)),
                view: Arc::default(),
                blocks: RwLock::default(),
                any_blocks: AtomicBool::new(false),
            }),
        }
    }

    /// Report an event; dropped (and counted) when the queue is full.
    pub fn emit(&self, event: SecurityEvent) {
        let tx = self.inner.tx.get_or_init(|| self.start_worker());
        match tx.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                metrics::counter!("einvoice_soc_events_dropped_total").increment(1);
            }
        }
    }

    /// Report an event built by `make`, if it could be built (an identifier
    /// that is not a valid [`Label`] leaves nothing to report).
    pub fn emit_with<E>(&self, make: impl FnOnce() -> Result<SecurityEvent, E>) {
        if let Ok(e) = make() {
            self.emit(e);
        }
    }

    /// The queue's sender; the worker owns the receiver (without a worker
    /// the receiver is dropped and every event counts as dropped).
    fn start_worker(&self) -> SyncSender<SecurityEvent> {
        let (tx, rx) = sync_channel(QUEUE);
        let taken = self.inner.log.lock().ok().and_then(|mut p| p.take());
        if let Some(log) = taken {
            let view = self.inner.view.clone();
            let spawned = std::thread::Builder::new()
                .name("einvoice-soc".into())
                .spawn(move || worker(rx, log, view));
            if let Err(e) = spawned {
                eprintln!("einvoice: soc: cannot start the detector thread: {e}");
            }
        }
        tx
    }

    /// A carrier verification code was checked and wrong (`reason`
    /// `wrong_code`), or not checked because the carrier's attempt budget is
    /// spent (`locked`, a lockout refusal): an authentication failure whose
    /// actor and target are the carrier (`carrier_key`, e.g.
    /// `3J0002:/ABC+123`), source the client address. The code tried is
    /// never passed here.
    pub fn carrier_code_failed(&self, carrier_key: &str, client: &str, reason: &str) {
        let who = label(carrier_key);
        self.emit_with(|| {
            SecurityEvent::new(
                EventClass::Authentication,
                Severity::Low,
                now_ms(),
                Actor::Carrier(who.clone()),
                client_ip(client),
                who,
                Outcome::Failure,
            )
            .with_text(AttrKey::Subject, "carrier")?
            .with_text(AttrKey::Reason, reason)
        });
    }

    /// A public lookup (`api`: `public_lookup`) found no invoice `number`
    /// (with that random code and date) for `client`.
    pub fn lookup_miss(&self, api: &str, number: &str, client: &str) {
        self.emit_with(|| {
            SecurityEvent::new(
                EventClass::Lookup,
                Severity::Informational,
                now_ms(),
                Actor::Anonymous,
                client_ip(client),
                Label::new(api)?,
                Outcome::Failure,
            )
            .with_text(AttrKey::Api, api)?
            .with_text(AttrKey::InvoiceNumber, number)?
            .with_text(AttrKey::Reason, "not_found")
        });
    }

    /// A seller request's signature was refused (`code`: the problem code);
    /// `key_id` when the request named one.
    pub fn signature_failed(&self, key_id: Option<&str>, client: &str, code: &str) {
        self.emit_with(|| {
            let (actor, target) = match key_id {
                Some(k) => (Actor::ApiKey(label(k)), label(k)),
                None => (Actor::Anonymous, Label::new("seller_api")?),
            };
            let mut e = SecurityEvent::new(
                EventClass::SignatureFailure,
                Severity::Low,
                now_ms(),
                actor,
                client_ip(client),
                target,
                Outcome::Failure,
            )
            .with_text(AttrKey::Api, "seller_api")?
            .with_text(AttrKey::Reason, code)?;
            if let Some(k) = key_id {
                e = e.with_text(AttrKey::KeyId, label(k).as_str())?;
            }
            Ok::<_, einvoice_soc::event::EventError>(e)
        });
    }

    /// A request refused with 429 by the `limit` limiter (`public`,
    /// `carrier`, `seller`) for `key` (a client address or an API key id).
    pub fn rate_limited(&self, limit: &str, key: &str) {
        self.emit_with(|| {
            let src = client_ip(key);
            let actor = match src {
                Some(_) => Actor::Anonymous,
                None => Actor::ApiKey(label(key)),
            };
            SecurityEvent::new(
                EventClass::RateLimited,
                Severity::Low,
                now_ms(),
                actor,
                src,
                Label::new(limit)?,
                Outcome::Refused,
            )
            .with_text(AttrKey::Api, limit)
            .map(|e| e.with_int(AttrKey::Status, 429))
        });
    }

    /// A sync upstream (`site`) served a link of `origin` that does not
    /// verify (`code`, at entry `seq`): the origin is halted at the last
    /// good entry. Critical: the built-in `sync-tamper` rule alerts on it.
    pub fn sync_chain_break(&self, site: &str, origin: &str, seq: Option<u64>, code: &str) {
        let peer = label(site);
        self.emit_with(|| {
            let e = SecurityEvent::new(
                EventClass::SyncChainBreak,
                Severity::Critical,
                now_ms(),
                Actor::Site(peer.clone()),
                None,
                peer.clone(),
                Outcome::Failure,
            )
            .with_text(AttrKey::Peer, peer.as_str())?
            .with_text(AttrKey::Subject, label(origin).as_str())?
            .with_text(AttrKey::Reason, code)?;
            Ok::<_, einvoice_soc::event::EventError>(match seq {
                Some(s) => e.with_int(AttrKey::Seq, i64::try_from(s).unwrap_or(i64::MAX)),
                None => e,
            })
        });
    }

    /// Apply a response action at the edge (`block_client`, `unblock_client`;
    /// others are not the edge's).
    pub fn apply(&self, action: &ResponseAction) {
        if let Ok(mut b) = self.inner.blocks.write() {
            b.apply(action);
            b.prune(now_ms());
            self.inner
                .any_blocks
                .store(!b.is_empty(), Ordering::Release);
        }
    }

    /// The block in force for client address `ip` now, if any.
    pub fn blocked(&self, ip: IpAddr) -> Option<Cidr> {
        if !self.inner.any_blocks.load(Ordering::Acquire) {
            return None;
        }
        self.inner.blocks.read().ok()?.blocked(ip, now_ms())
    }

    /// The alerts raised so far, oldest first.
    pub fn alerts(&self) -> Vec<AlertLine> {
        self.inner
            .view
            .lock()
            .map(|v| v.alerts.clone())
            .unwrap_or_default()
    }

    /// The incidents opened so far, oldest first.
    pub fn incidents(&self) -> Vec<Incident> {
        self.inner
            .view
            .lock()
            .map(|v| v.book.all().to_vec())
            .unwrap_or_default()
    }

    /// Events the worker has handled so far (fed to the detector).
    pub fn handled(&self) -> u64 {
        self.inner.view.lock().map(|v| v.handled).unwrap_or(0)
    }

    /// Batches the log failed to store.
    pub fn log_errors(&self) -> u64 {
        self.inner.view.lock().map(|v| v.log_errors).unwrap_or(0)
    }
}

fn worker(rx: Receiver<SecurityEvent>, log: Box<dyn EventLog>, view: Arc<Mutex<View>>) {
    let rules = match builtin_rules() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("einvoice: soc: built-in rules do not parse: {e}");
            Vec::new()
        }
    };
    let mut detector = Detector::new(rules);
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let mut raised = Vec::new();
        for e in &batch {
            raised.extend(detector.feed(e));
        }
        let n = batch.len() as u64;
        let stored = log.append_all(batch);
        let Ok(mut v) = view.lock() else { return };
        v.handled += n;
        if let Err(e) = stored {
            v.log_errors += 1;
            eprintln!("einvoice: soc: event log: {e}");
        }
        for alert in raised {
            let line = file(&mut v.book, alert);
            eprintln!(
                "einvoice: WARN soc alert {} severity={:?} key={} incident={}",
                line.rule, line.severity, line.key, line.incident
            );
            metrics::counter!("einvoice_soc_alerts_total", "rule" => line.rule.clone())
                .increment(1);
            v.alerts.push(line);
        }
    }
}

fn file(book: &mut IncidentBook, alert: einvoice_soc::Alert) -> AlertLine {
    let id = book.file(alert.clone());
    AlertLine::new(&alert, id)
}

/// Run the built-in rules over a stored log from its start (a stopped site's
/// `soc.sqlite`): the alerts, as `einvoice soc alerts` prints them.
pub fn replay_alerts(log: &dyn EventLog) -> Result<Vec<AlertLine>, ReplayError> {
    let mut detector = Detector::new(builtin_rules()?);
    let mut book = IncidentBook::new();
    let mut out = Vec::new();
    let mut from = 1;
    loop {
        let recs = log.read(from, 4096)?;
        let Some(last) = recs.last() else { break };
        from = last.seq + 1;
        for r in &recs {
            for a in detector.feed(&r.event) {
                out.push(file(&mut book, a));
            }
        }
    }
    Ok(out)
}

/// Why a stored log could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The built-in rules do not parse.
    #[error(transparent)]
    Rules(#[from] einvoice_soc::rules::RuleError),
}

/// The client address of a per-client key (`client_key`), `None` for `unknown`.
pub fn client_ip(client: &str) -> Option<IpAddr> {
    client.parse().ok()
}

/// An identifier as an event label: itself when it is one, else (too long,
/// a long digit run such as a citizen certificate carrier) the
/// `fp:`-prefixed fingerprint of it, so it can still be counted by.
pub fn label(id: &str) -> Label {
    Label::new(id).unwrap_or_else(|_| {
        let hex = Redacted::new(id).fingerprint().to_string();
        let grouped: Vec<&str> = (0..4).map(|i| &hex[i * 8..i * 8 + 8]).collect();
        Label::new(format!("fp:{}", grouped.join("-")))
            .unwrap_or_else(|_| Label::new("fp:unknown").expect("a constant label"))
    })
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The edge layer: a request from a blocked client address is answered
/// `403 CLIENT_BLOCKED` before any route runs (a block is a response action
/// of the SOC, `POST /v1/soc/blocks`).
pub async fn refuse_blocked(
    axum::extract::State(events): axum::extract::State<SecurityEvents>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(range) = ip.and_then(|ip| events.blocked(ip)) {
        return crate::problem::Problem::new(
            axum::http::StatusCode::FORBIDDEN,
            "CLIENT_BLOCKED",
            format!("this client address is blocked ({range}) by the security operations center"),
        )
        .public_detail()
        .into_response();
    }
    next.run(req).await
}
