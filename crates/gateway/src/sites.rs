//! The sites behind the gateway, their health and how one is picked.
//!
//! Health: every site's `/readyz` is polled every `[health] interval_ms`
//! (answer 200 within `timeout_ms`: healthy; anything else: out of
//! rotation), and a request that cannot reach a site (connect error,
//! broken connection, timeout) takes it out of rotation at once (passive
//! marking); only a good `/readyz` brings it back. With the defaults a
//! site that dies is out of rotation within one poll (≤ 0.9 s), at once if
//! a request meets it first.
//!
//! Sync lag: a site's `/readyz` answer carries `sync_lag_s` (how stale its
//! copy of the other sites' ledgers may be, see
//! `einvoice_server::sync_routes::read_lag_s`); a cloud site above `[health]
//! max_read_lag_ms` is drained from reads that need fresh data
//! ([`Target::FreshRead`]) and keeps every other read; the first poll
//! within the bound brings it back. A site that reports no lag counts as
//! fresh. A carrier session's own site is still preferred when it lags
//! (no other site can open its token).
//!
//! Picking: among the healthy sites a target may use, the one with the
//! fewest requests in flight per unit of weight; ties go round-robin.

use crate::classes::Target;
use crate::config::{GatewayConfig, SiteConfig};
use einvoice_server::role::Role;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// One site and what the gateway knows of it now.
#[derive(Debug)]
pub struct Site {
    /// Name, role, URL, weight.
    pub config: SiteConfig,
    /// Base URL without a trailing `/`.
    pub base: String,
    healthy: AtomicBool,
    in_flight: AtomicUsize,
    lag_ms: AtomicU64,
    max_lag_ms: u64,
}

impl Site {
    /// Whether the site is in rotation.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Its sync lag at the last poll, ms (0 when it reports none).
    pub fn lag_ms(&self) -> u64 {
        self.lag_ms.load(Ordering::Relaxed)
    }

    /// Record its sync lag.
    pub fn set_lag_ms(&self, ms: u64) {
        self.lag_ms.store(ms, Ordering::Relaxed);
    }

    /// Whether its sync lag is within `[health] max_read_lag_ms` (may
    /// answer reads that need fresh data).
    pub fn fresh(&self) -> bool {
        self.lag_ms() <= self.max_lag_ms
    }

    /// Requests to it now in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Take the site out of rotation or put it back.
    pub fn set_healthy(&self, up: bool) {
        self.healthy.store(up, Ordering::Relaxed);
    }

    /// Count a request to this site until the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// A request in flight to a site (see [`Site::begin`]).
#[derive(Debug)]
pub struct InFlight(Arc<Site>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every site.
#[derive(Debug)]
pub struct Sites {
    /// In configuration order.
    pub all: Vec<Arc<Site>>,
    turn: AtomicUsize,
}

impl Sites {
    /// The sites of `cfg`, all taken as healthy until the first poll says otherwise.
    pub fn new(cfg: &GatewayConfig) -> Self {
        let all = cfg
            .sites
            .iter()
            .map(|s| {
                Arc::new(Site {
                    base: s.url.trim_end_matches('/').to_string(),
                    config: s.clone(),
                    healthy: AtomicBool::new(true),
                    in_flight: AtomicUsize::new(0),
                    lag_ms: AtomicU64::new(0),
                    max_lag_ms: cfg.health.max_read_lag_ms,
                })
            })
            .collect();
        Self {
            all,
            turn: AtomicUsize::new(0),
        }
    }

    fn main(&self) -> Option<usize> {
        self.all.iter().position(|s| s.config.role == Role::Main)
    }

    /// The least loaded healthy site of `role` not in `tried` (`fresh`:
    /// within the sync-lag bound too).
    fn least_loaded(&self, role: Role, tried: &[usize], fresh: bool) -> Option<usize> {
        let n = self.all.len();
        let start = self.turn.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<(u64, usize)> = None;
        for k in 0..n {
            let i = (start + k) % n;
            let s = &self.all[i];
            if s.config.role != role || !s.healthy() || tried.contains(&i) || (fresh && !s.fresh())
            {
                continue;
            }
            // Load per weight, in thousandths (weight ≥ 1).
            let load = (s.in_flight() as u64 + 1) * 1000 / u64::from(s.config.weight.max(1));
            if best.is_none_or(|(b, _)| load < b) {
                best = Some((load, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// [`Sites::pick`], but `prefer` first when it is healthy, untried and
    /// may answer `target` (a carrier session's own site).
    pub fn pick_preferring(
        &self,
        target: Target,
        tried: &[usize],
        prefer: Option<usize>,
    ) -> Option<usize> {
        let fits = |i: usize| {
            let s = &self.all[i];
            let role_ok = match target {
                Target::Main => s.config.role == Role::Main,
                Target::CloudRead | Target::FreshRead => true,
                Target::CloudWrite => s.config.role != Role::Standby,
            };
            role_ok && s.healthy() && !tried.contains(&i)
        };
        prefer
            .filter(|i| *i < self.all.len() && fits(*i))
            .or_else(|| self.pick(target, tried))
    }

    /// The site (index) to send a request of `target` to, not one of
    /// `tried`; `None` when no site is left.
    pub fn pick(&self, target: Target, tried: &[usize]) -> Option<usize> {
        let main = self.main().filter(|m| !tried.contains(m));
        let main_up = main.filter(|m| self.all[*m].healthy());
        match target {
            Target::Main => main,
            Target::CloudRead => self
                .least_loaded(Role::Cloud, tried, false)
                .or(main_up)
                .or_else(|| self.least_loaded(Role::Standby, tried, false))
                // Nothing healthy: try main anyway rather than answer 503 untried.
                .or(main),
            Target::FreshRead => self
                .least_loaded(Role::Cloud, tried, true)
                .or(main_up)
                // Main is down: a lagging answer beats none.
                .or_else(|| self.least_loaded(Role::Cloud, tried, false))
                .or_else(|| self.least_loaded(Role::Standby, tried, false))
                .or(main),
            Target::CloudWrite => self.least_loaded(Role::Cloud, tried, false).or(main),
        }
    }

    /// Poll every site's `/readyz` forever (spawn it).
    pub async fn watch(self: Arc<Self>, client: reqwest::Client, every: Duration, wait: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let polls = self.all.iter().map(|s| {
                let c = client.clone();
                let s = s.clone();
                async move {
                    let answer = async {
                        let r = c
                            .get(format!("{}/readyz", s.base))
                            .timeout(wait)
                            .send()
                            .await
                            .ok()
                            .filter(|r| r.status().is_success())?;
                        Some(r.bytes().await.map(|b| lag_ms_of(&b)).unwrap_or(0))
                    };
                    match answer.await {
                        Some(lag) => {
                            s.set_lag_ms(lag);
                            s.set_healthy(true);
                        }
                        None => s.set_healthy(false),
                    }
                }
            });
            let handles: Vec<_> = polls.map(tokio::spawn).collect();
            for h in handles {
                let _ = h.await;
            }
        }
    }
}

/// The sync lag in a site's `/readyz` answer (`sync_lag_s`), ms; 0 when
/// the answer carries none (a site that does not pull, an older site).
pub fn lag_ms_of(readyz: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct Ready {
        sync_lag_s: Option<f64>,
    }
    serde_json::from_slice::<Ready>(readyz)
        .ok()
        .and_then(|r| r.sync_lag_s)
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(0, |s| (s * 1000.0).min(u64::MAX as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites() -> Sites {
        let cfg = GatewayConfig::parse(
            r#"
            [[sites]]
            name = "main"
            role = "main"
            url = "http://127.0.0.1:1"
            [[sites]]
            name = "cloud-a"
            role = "cloud"
            url = "http://127.0.0.1:2"
            [[sites]]
            name = "cloud-b"
            role = "cloud"
            url = "http://127.0.0.1:3"
            weight = 2
            [[sites]]
            name = "standby"
            role = "standby"
            url = "http://127.0.0.1:4"
            "#,
        )
        .expect("config");
        Sites::new(&cfg)
    }

    #[test]
    fn reads_go_to_the_least_loaded_cloud_by_weight_then_main_then_standby() {
        let s = sites();
        let _a = s.all[1].begin();
        // cloud-a has 1 in flight (2000/1), cloud-b none (500 per weight 2).
        assert_eq!(s.pick(Target::CloudRead, &[]), Some(2));
        let _b1 = s.all[2].begin();
        let _b2 = s.all[2].begin();
        let _b3 = s.all[2].begin();
        // cloud-b: 4*1000/2 = 2000 ties cloud-a; 4 in flight tips it.
        let _b4 = s.all[2].begin();
        assert_eq!(s.pick(Target::CloudRead, &[]), Some(1));
        assert_eq!(s.pick(Target::CloudRead, &[1]), Some(2));
        assert_eq!(s.pick(Target::CloudRead, &[1, 2]), Some(0));
        s.all[0].set_healthy(false);
        assert_eq!(s.pick(Target::CloudRead, &[1, 2]), Some(3));
        assert_eq!(s.pick(Target::CloudRead, &[1, 2, 3]), Some(0));
        assert_eq!(s.pick(Target::CloudRead, &[0, 1, 2, 3]), None);
    }

    #[test]
    fn writes_never_go_to_a_standby_and_main_routes_only_to_main() {
        let s = sites();
        s.all[1].set_healthy(false);
        s.all[2].set_healthy(false);
        assert_eq!(s.pick(Target::CloudWrite, &[]), Some(0));
        assert_eq!(s.pick(Target::CloudWrite, &[0]), None);
        assert_eq!(s.pick(Target::Main, &[]), Some(0));
        assert_eq!(s.pick(Target::Main, &[0]), None);
        s.all[2].set_healthy(true);
        assert_eq!(s.pick_preferring(Target::CloudRead, &[], Some(2)), Some(2));
        assert_eq!(s.pick_preferring(Target::CloudRead, &[2], Some(2)), Some(0));
        assert_eq!(
            s.pick_preferring(Target::CloudWrite, &[], Some(3)),
            Some(2),
            "no standby"
        );
        assert_eq!(s.pick_preferring(Target::Main, &[], Some(2)), Some(0));
    }

    #[test]
    fn a_lagging_cloud_is_drained_from_fresh_reads_only() {
        let s = sites();
        s.all[1].set_lag_ms(60_000);
        // Fresh reads skip cloud-a, whatever its load.
        let _b = s.all[2].begin();
        let _b2 = s.all[2].begin();
        assert_eq!(s.pick(Target::FreshRead, &[]), Some(2));
        assert_eq!(s.pick(Target::FreshRead, &[2]), Some(0), "then main");
        // Other reads still go to it.
        assert_eq!(s.pick(Target::CloudRead, &[]), Some(1));
        // Main down: a lagging cloud beats nothing.
        s.all[0].set_healthy(false);
        assert_eq!(s.pick(Target::FreshRead, &[2]), Some(1));
        s.all[1].set_lag_ms(0);
        s.all[0].set_healthy(true);
        assert_eq!(
            s.pick(Target::FreshRead, &[]),
            Some(1),
            "back when caught up"
        );
    }

    #[test]
    fn the_lag_is_read_from_readyz() {
        assert_eq!(lag_ms_of(br#"{"status":"ready","sync_lag_s":2.5}"#), 2_500);
        assert_eq!(lag_ms_of(br#"{"status":"ready"}"#), 0);
        assert_eq!(lag_ms_of(br#"{"status":"ready","sync_lag_s":-1}"#), 0);
        assert_eq!(lag_ms_of(b"ok"), 0);
    }
}
