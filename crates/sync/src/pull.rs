//! The pull loop: a site pulls every origin it does not own from its
//! upstreams, checks every link with [`ChainCheck`] from its stored head,
//! and applies each page with [`Store::apply_sync_page`] (entries, cursor
//! and the upstream's state in one transaction).
//!
//! A broken link (a sequence gap, a wrong previous hash, a changed entry)
//! **halts** the origin: the good entries before it are applied, nothing
//! after it; the halt is stored as the link's last error (status), written
//! to standard error and counted in `/metrics`. The next pull tries again
//! from the last good entry, so a repaired upstream resumes the origin.

use crate::error::SyncError;
use crate::feed::{Heads, decode_page};
use einvoice_store::{ChainCheck, OriginHead, Store, SyncHalt, SyncPage, SyncUpstreamState};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Code of an upstream offering this site's own origin with a head it never
/// wrote (logged and told to the halt hook; nothing is taken).
pub const SYNC_OWN_ORIGIN_FORGED: &str = "SYNC_OWN_ORIGIN_FORGED";

/// Code stored as a link's last error when its upstream cannot be reached.
pub const SYNC_UNREACHABLE: &str = "SYNC_UNREACHABLE";

/// Code of a page this site could not write (disk full, a write failure):
/// nothing of the page is applied (entries and cursor are one transaction),
/// the pull tries again every interval and resumes when the store takes it.
pub const SYNC_STORE_WRITE: &str = "SYNC_STORE_WRITE";

/// The pages each (upstream, origin) could not write at this site, kept in
/// memory (the store that failed cannot be asked to hold them):
/// [`ApplyFailures::overlay`] puts them into the site's status. Copies share
/// one table.
#[derive(Debug, Clone, Default)]
pub struct ApplyFailures(Arc<std::sync::Mutex<BTreeMap<(String, String), SyncHalt>>>);

impl ApplyFailures {
    fn set(&self, upstream: &str, origin: &str, halt: Option<SyncHalt>) {
        let mut t = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (upstream.to_string(), origin.to_string());
        match halt {
            Some(h) => t.insert(key, h),
            None => t.remove(&key),
        };
    }

    /// `status` with each failing link's [`SYNC_STORE_WRITE`] as its error
    /// and its origin's last error.
    pub fn overlay(&self, status: &mut crate::status::SyncStatus) {
        let t = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for o in &mut status.origins {
            for u in &mut o.upstreams {
                if let Some(h) = t.get(&(u.upstream.clone(), o.origin.clone())) {
                    u.error = Some(h.clone());
                    o.last_error = Some(h.clone());
                }
            }
        }
    }
}

/// What one pull of one origin from one upstream did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPull {
    /// The upstream.
    pub upstream: String,
    /// The origin.
    pub origin: String,
    /// Entries applied.
    pub applied: u64,
    /// This site's head afterwards.
    pub head: OriginHead,
    /// The upstream's head.
    pub upstream_head: OriginHead,
    /// Why the origin halted, if it did.
    pub halt: Option<SyncHalt>,
}

/// Told of each **new** halt of an origin at a broken link (not again while
/// the same link stays broken): the upstream's site name, the origin and
/// the halt. The server raises a SOC event with it (`sync-tamper`).
pub type HaltHook = Box<dyn Fn(&str, &str, &SyncHalt) + Send + Sync>;

/// The broken link an (upstream, origin) is halted at: its code and entry.
pub(crate) type HaltedAt = (String, Option<u64>);

/// Pulls from a site's upstreams into its store.
pub struct Puller<S: Store> {
    pub(crate) store: S,
    client: reqwest::Client,
    upstreams: Vec<String>,
    pub(crate) page: u32,
    /// Each origin's chain check at the stored head (built once from the
    /// stored chain, then carried along page by page).
    checks: Mutex<HashMap<String, ChainCheck>>,
    now_unix: fn() -> i64,
    pub(crate) on_halt: Option<HaltHook>,
    /// The broken link each (upstream, origin) is halted at, so that the
    /// hook hears of a halt once.
    pub(crate) halted: Mutex<HashMap<(String, String), HaltedAt>>,
    failures: ApplyFailures,
    /// This site's sealer, when it pulls side records ([`crate::records`]).
    pub(crate) records: Option<einvoice_secrets::Sealer>,
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl<S: Store> Puller<S> {
    /// A puller over `store`, asking each of `upstreams` (base URLs of peer
    /// listeners) for pages of `page` entries with `client`
    /// ([`crate::ca::peer_client`]).
    pub fn new(store: S, client: reqwest::Client, upstreams: Vec<String>, page: u32) -> Self {
        Self {
            store,
            client,
            upstreams: upstreams
                .into_iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect(),
            page: page.clamp(1, crate::feed::MAX_PAGE),
            checks: Mutex::new(HashMap::new()),
            now_unix: system_now,
            on_halt: None,
            halted: Mutex::new(HashMap::new()),
            failures: ApplyFailures::default(),
            records: None,
        }
    }

    /// Record the pages this site cannot write in `failures` (shared with
    /// the status route, which shows them: [`ApplyFailures::overlay`]).
    pub fn apply_failures(mut self, failures: ApplyFailures) -> Self {
        self.failures = failures;
        self
    }

    /// Also pull the side records ([`crate::records`]) of every origin
    /// pulled, sealing them again under `sealer` (this site's master key).
    pub fn with_records(mut self, sealer: einvoice_secrets::Sealer) -> Self {
        self.records = Some(sealer);
        self
    }

    /// Call `hook` on each new halt at a broken link (an alert).
    pub fn on_halt(mut self, hook: HaltHook) -> Self {
        self.on_halt = Some(hook);
        self
    }

    /// Pull from every upstream until each is caught up (or halted, or
    /// failing); one result per (upstream, origin) seen. An unreachable
    /// upstream is recorded as the last error of every origin known from it.
    pub async fn pull_once(&self) -> Result<Vec<OriginPull>, SyncError> {
        let mut out = Vec::new();
        for upstream in &self.upstreams {
            match self.heads(upstream).await {
                Ok(heads) => {
                    for head in heads.heads {
                        if head.origin == self.store.site() {
                            self.check_own_origin(&heads.site, upstream, &head).await?;
                            continue;
                        }
                        let pulled = self.pull_origin(upstream, head).await?;
                        self.note_halt(&heads.site, upstream, &pulled).await;
                        self.pull_records(&heads.site, upstream, &pulled.origin, pulled.head.seq)
                            .await?;
                        out.push(pulled);
                    }
                }
                Err(e) => self.record_unreachable(upstream, &e).await?,
            }
        }
        Ok(out)
    }

    /// Pull forever: [`Puller::pull_once`], then wait `interval` (errors are
    /// recorded in the store and written to standard error; the loop goes on).
    /// New halts at a broken link reach the [`Puller::on_halt`] hook.
    pub async fn run(self, interval: Duration) {
        loop {
            if let Err(e) = self.pull_once().await {
                eprintln!("einvoice: sync: {e}");
            }
            tokio::time::sleep(interval).await;
        }
    }

    pub(crate) async fn get(&self, upstream: &str, path: &str) -> Result<Vec<u8>, SyncError> {
        let err = |message: String| SyncError::Upstream {
            upstream: upstream.to_string(),
            message,
        };
        let r = self
            .client
            .get(format!("{upstream}{path}"))
            .send()
            .await
            .map_err(|e| err(error_chain(&e)))?;
        let status = r.status();
        let body = r.bytes().await.map_err(|e| err(error_chain(&e)))?;
        if !status.is_success() {
            return Err(err(format!(
                "{path}: HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(500)])
            )));
        }
        Ok(body.to_vec())
    }

    async fn heads(&self, upstream: &str) -> Result<Heads, SyncError> {
        let body = self.get(upstream, "/v1/sync/heads").await?;
        serde_json::from_slice(&body).map_err(|e| SyncError::Upstream {
            upstream: upstream.to_string(),
            message: format!("/v1/sync/heads: {e}"),
        })
    }

    /// The chain check of `origin` at the stored head: the cached one, or one
    /// built by walking the stored chain.
    async fn check_of(&self, origin: &str) -> Result<ChainCheck, SyncError> {
        if let Some(c) = self.checks.lock().await.get(origin) {
            return Ok(c.clone());
        }
        let mut check = ChainCheck::new(origin);
        loop {
            let page = self.store.entries(origin, check.entries(), 10_000).await?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                if let Err(b) = check.push(e) {
                    return Err(SyncError::LocalChain {
                        origin: origin.to_string(),
                        seq: b.seq,
                        code: b.code,
                    });
                }
            }
        }
        Ok(check)
    }

    async fn pull_origin(
        &self,
        upstream: &str,
        upstream_head: OriginHead,
    ) -> Result<OriginPull, SyncError> {
        let origin = upstream_head.origin.clone();
        let mut applied = 0;
        loop {
            let check = self.check_of(&origin).await?;
            let before = (check.entries(), check.head());
            let mut seen = SyncUpstreamState {
                upstream: upstream.to_string(),
                head: upstream_head.clone(),
                checked_unix: (self.now_unix)(),
                error: None,
            };
            let mut entries = Vec::new();
            let mut next = check.clone();
            if before.0 < upstream_head.seq {
                let path = format!("/v1/sync/{origin}?after={}&limit={}", before.0, self.page);
                let fetched = match self.get(upstream, &path).await {
                    Ok(b) => decode_page(&b),
                    Err(e) => Err(e),
                };
                match fetched {
                    Ok((header, page)) => {
                        if header.origin != origin || header.after != before.0 {
                            seen.error = Some(SyncHalt {
                                code: "SYNC_FEED".into(),
                                message: format!(
                                    "asked for {origin} after {}, got {} after {}",
                                    before.0, header.origin, header.after
                                ),
                                seq: None,
                            });
                        }
                        seen.head = header.head;
                        for e in page {
                            if seen.error.is_some() {
                                break;
                            }
                            match next.push(&e) {
                                Ok(()) => entries.push(e),
                                Err(b) => {
                                    seen.error = Some(SyncHalt {
                                        code: b.code,
                                        message: format!(
                                            "origin {origin} halted at entry {} from {upstream}: {}; nothing after entry {} is applied",
                                            b.seq,
                                            b.message,
                                            b.seq - 1
                                        ),
                                        seq: Some(b.seq),
                                    });
                                }
                            }
                        }
                    }
                    Err(e) => {
                        seen.error = Some(SyncHalt {
                            code: e.code().to_string(),
                            message: e.to_string(),
                            seq: None,
                        })
                    }
                }
            }
            let got = entries.len();
            let halt = seen.error.clone();
            let result = self
                .store
                .apply_sync_page(SyncPage {
                    origin: origin.clone(),
                    after_seq: before.0,
                    after_hash: before.1,
                    entries,
                    seen: seen.clone(),
                })
                .await;
            let done = match result {
                Ok(a) => {
                    applied += a.applied;
                    let mut checks = self.checks.lock().await;
                    if next.is_broken() || a.head.seq != next.entries() {
                        checks.remove(&origin);
                    } else {
                        checks.insert(origin.clone(), next);
                    }
                    a.head
                }
                Err(e) => {
                    self.checks.lock().await.remove(&origin);
                    let halt = SyncHalt {
                        code: SYNC_STORE_WRITE.into(),
                        message: format!(
                            "origin {origin} from {upstream}: this site could not write entries {}..{} ({e}); nothing of them is applied, the pull tries again every interval",
                            before.0 + 1,
                            before.0 + got as u64
                        ),
                        seq: None,
                    };
                    metrics::counter!("einvoice_sync_store_write_failures_total", "origin" => origin.clone())
                        .increment(1);
                    let err = SyncError::StoreWrite(halt.message.clone());
                    self.failures.set(upstream, &origin, Some(halt));
                    return Err(err);
                }
            };
            self.failures.set(upstream, &origin, None);
            record_metrics(upstream, &done, &seen.head, halt.as_ref());
            if let Some(h) = &halt {
                eprintln!("einvoice: sync: {}: {}", h.code, h.message);
            }
            if halt.is_some() || got == 0 || done.seq >= seen.head.seq {
                return Ok(OriginPull {
                    upstream: upstream.to_string(),
                    origin,
                    applied,
                    head: done,
                    upstream_head: seen.head,
                    halt,
                });
            }
        }
    }

    /// An upstream offering this site's own origin: normal when it is a copy
    /// of what this site wrote (a peer re-serving it); a head this site never
    /// wrote is a peer trying to write its origin: nothing is taken (this
    /// site never pulls its own origin, and the store refuses it,
    /// `SYNC_OWN_ORIGIN`), the attempt is logged and told to the hook once.
    async fn check_own_origin(
        &self,
        site: &str,
        upstream: &str,
        head: &OriginHead,
    ) -> Result<(), SyncError> {
        if head.seq == 0 {
            return Ok(());
        }
        let ours = self.store.entries(&head.origin, head.seq - 1, 1).await?;
        let forged = ours.first().is_none_or(|e| e.hash != head.hash);
        let p = OriginPull {
            upstream: upstream.to_string(),
            origin: head.origin.clone(),
            applied: 0,
            head: head.clone(),
            upstream_head: head.clone(),
            halt: forged.then(|| SyncHalt {
                code: SYNC_OWN_ORIGIN_FORGED.into(),
                message: format!(
                    "{upstream} (site {site:?}) offers this site's own origin {:?} up to entry {} with a head this site never wrote; a site's origin is written by that site only: refused",
                    head.origin, head.seq
                ),
                seq: Some(head.seq),
            }),
        };
        if let Some(h) = &p.halt {
            eprintln!("einvoice: sync: {}: {}", h.code, h.message);
            metrics::counter!("einvoice_sync_refused_total", "peer" => site.to_string())
                .increment(1);
        }
        self.note_halt(site, upstream, &p).await;
        Ok(())
    }

    /// Tell the hook of a new halt at a broken link; forget a cleared one.
    async fn note_halt(&self, site: &str, upstream: &str, p: &OriginPull) {
        let key = (upstream.to_string(), p.origin.clone());
        let mut halted = self.halted.lock().await;
        match p.halt.as_ref().filter(|h| h.seq.is_some()) {
            Some(h) => {
                let now = (h.code.clone(), h.seq);
                if halted.get(&key) != Some(&now) {
                    halted.insert(key, now);
                    if let Some(hook) = &self.on_halt {
                        hook(site, &p.origin, h);
                    }
                }
            }
            None => {
                halted.remove(&key);
            }
        }
    }

    async fn record_unreachable(&self, upstream: &str, e: &SyncError) -> Result<(), SyncError> {
        eprintln!("einvoice: sync: {e}");
        for o in self.store.sync_state().await? {
            for u in o.upstreams.iter().filter(|u| u.upstream == upstream) {
                let check = self.check_of(&o.head.origin).await?;
                self.store
                    .apply_sync_page(SyncPage {
                        origin: o.head.origin.clone(),
                        after_seq: check.entries(),
                        after_hash: check.head(),
                        entries: Vec::new(),
                        seen: SyncUpstreamState {
                            error: Some(SyncHalt {
                                code: SYNC_UNREACHABLE.into(),
                                message: e.to_string(),
                                seq: None,
                            }),
                            ..u.clone()
                        },
                    })
                    .await?;
            }
        }
        Ok(())
    }
}

/// An error with its sources (reqwest hides the TLS reason in them).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

fn record_metrics(upstream: &str, head: &OriginHead, theirs: &OriginHead, halt: Option<&SyncHalt>) {
    let labels = [
        ("origin", head.origin.clone()),
        ("upstream", upstream.to_string()),
    ];
    let lag = crate::status::Lag::of(head, theirs);
    metrics::gauge!("einvoice_sync_behind_entries", &labels).set(lag.entries as f64);
    metrics::gauge!("einvoice_sync_behind_seconds", &labels).set(lag.seconds);
    metrics::gauge!("einvoice_sync_halted", &labels).set(if halt.is_some() { 1.0 } else { 0.0 });
    metrics::gauge!("einvoice_sync_seq", &labels).set(head.seq as f64);
}
