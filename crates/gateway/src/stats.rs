//! The gateway's counters, rendered at `/metrics` in the Prometheus text
//! format: per class (requests by outcome, shed, time, in flight) and per
//! site (requests, transport failures, retries away from it, health, sync
//! lag and whether it takes fresh reads, in flight), and the cache (hits,
//! misses, 304s, waits on another request's flight, purges).
//! Kept in this process's memory (fixed label sets: three classes, the
//! configured sites), so a client cannot mint new series.

use crate::classes::Priority;
use crate::sites::Sites;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A site's 1xx–3xx answer, or a cache hit.
    Ok,
    /// A site's 4xx answer.
    ClientError,
    /// A site's 5xx answer.
    SiteError,
    /// The gateway refused it (limits, malformed, too large).
    Refused,
    /// Shed by admission control.
    Shed,
    /// No site could answer (all failed or none available).
    Failed,
}

const OUTCOMES: [(Outcome, &str); 6] = [
    (Outcome::Ok, "ok"),
    (Outcome::ClientError, "client_error"),
    (Outcome::SiteError, "site_error"),
    (Outcome::Refused, "refused"),
    (Outcome::Shed, "shed"),
    (Outcome::Failed, "failed"),
];

#[derive(Debug, Default)]
struct ClassStats {
    outcomes: [AtomicU64; 6],
    micros: AtomicU64,
    timed: AtomicU64,
}

/// One counter of [`SiteStats`].
type SiteField = fn(&SiteStats) -> &AtomicU64;

#[derive(Debug, Default)]
struct SiteStats {
    requests: AtomicU64,
    failures: AtomicU64,
    retries: AtomicU64,
}

/// Every counter.
#[derive(Debug)]
pub struct Stats {
    classes: [ClassStats; 3],
    sites: Vec<SiteStats>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    not_modified: AtomicU64,
    coalesced: AtomicU64,
    purges: AtomicU64,
}

impl Stats {
    /// Counters for `sites` sites.
    pub fn new(sites: usize) -> Self {
        Self {
            classes: Default::default(),
            sites: (0..sites).map(|_| SiteStats::default()).collect(),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            purges: AtomicU64::new(0),
        }
    }

    /// Count a finished request of class `p` (`None`: refused before it was classed).
    pub fn finished(&self, p: Option<Priority>, o: Outcome, took: std::time::Duration) {
        let c = &self.classes[p.map_or(Priority::Two, |p| p).index()];
        let i = OUTCOMES.iter().position(|(x, _)| *x == o).unwrap_or(0);
        c.outcomes[i].fetch_add(1, Ordering::Relaxed);
        if p.is_some() {
            let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
            c.micros.fetch_add(us, Ordering::Relaxed);
            c.timed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request sent to site `i`.
    pub fn sent(&self, i: usize) {
        if let Some(s) = self.sites.get(i) {
            s.requests.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Site `i` could not be reached or broke off.
    pub fn failed(&self, i: usize) {
        if let Some(s) = self.sites.get(i) {
            s.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request to site `i` is tried again elsewhere.
    pub fn retried(&self, i: usize) {
        if let Some(s) = self.sites.get(i) {
            s.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A cache lookup: hit (and whether it answered 304) or miss.
    pub fn cache(&self, hit: bool, not_modified: bool) {
        let c = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        c.fetch_add(1, Ordering::Relaxed);
        if not_modified {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A cache hit served after waiting on another request's flight
    /// (single flight: it did not go to a site).
    pub fn coalesced(&self) {
        self.coalesced.fetch_add(1, Ordering::Relaxed);
    }

    /// The cache was emptied.
    pub fn purged(&self) {
        self.purges.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text of every counter (with the sites' current state).
    pub fn render(&self, sites: &Sites, in_flight: [usize; 3]) -> String {
        let mut out = String::new();
        let g = |o: &AtomicU64| o.load(Ordering::Relaxed);
        out.push_str("# TYPE einvoice_gateway_requests_total counter\n");
        for (ci, c) in self.classes.iter().enumerate() {
            for (oi, (_, label)) in OUTCOMES.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "einvoice_gateway_requests_total{{class=\"{}\",outcome=\"{label}\"}} {}",
                    ci + 1,
                    g(&c.outcomes[oi])
                );
            }
        }
        out.push_str("# TYPE einvoice_gateway_request_seconds summary\n");
        for (ci, c) in self.classes.iter().enumerate() {
            let _ = writeln!(
                out,
                "einvoice_gateway_request_seconds_sum{{class=\"{}\"}} {}",
                ci + 1,
                g(&c.micros) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "einvoice_gateway_request_seconds_count{{class=\"{}\"}} {}",
                ci + 1,
                g(&c.timed)
            );
        }
        out.push_str("# TYPE einvoice_gateway_class_in_flight gauge\n");
        for (ci, n) in in_flight.iter().enumerate() {
            let _ = writeln!(
                out,
                "einvoice_gateway_class_in_flight{{class=\"{}\"}} {n}",
                ci + 1
            );
        }
        let per_site: [(&str, &str, SiteField); 3] = [
            ("einvoice_gateway_site_requests_total", "counter", |s| {
                &s.requests
            }),
            ("einvoice_gateway_site_failures_total", "counter", |s| {
                &s.failures
            }),
            ("einvoice_gateway_site_retries_total", "counter", |s| {
                &s.retries
            }),
        ];
        for (name, kind, field) in per_site {
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (site, st) in sites.all.iter().zip(&self.sites) {
                let _ = writeln!(
                    out,
                    "{name}{{site=\"{}\",role=\"{}\"}} {}",
                    site.config.name,
                    site.config.role,
                    g(field(st))
                );
            }
        }
        out.push_str("# TYPE einvoice_gateway_site_healthy gauge\n");
        for site in &sites.all {
            let _ = writeln!(
                out,
                "einvoice_gateway_site_healthy{{site=\"{}\"}} {}",
                site.config.name,
                u8::from(site.healthy())
            );
        }
        out.push_str("# TYPE einvoice_gateway_site_sync_lag_seconds gauge\n");
        for site in &sites.all {
            let _ = writeln!(
                out,
                "einvoice_gateway_site_sync_lag_seconds{{site=\"{}\"}} {}",
                site.config.name,
                site.lag_ms() as f64 / 1000.0
            );
        }
        out.push_str("# TYPE einvoice_gateway_site_fresh gauge\n");
        for site in &sites.all {
            let _ = writeln!(
                out,
                "einvoice_gateway_site_fresh{{site=\"{}\"}} {}",
                site.config.name,
                u8::from(site.fresh())
            );
        }
        out.push_str("# TYPE einvoice_gateway_site_in_flight gauge\n");
        for site in &sites.all {
            let _ = writeln!(
                out,
                "einvoice_gateway_site_in_flight{{site=\"{}\"}} {}",
                site.config.name,
                site.in_flight()
            );
        }
        out.push_str("# TYPE einvoice_gateway_cache_total counter\n");
        let _ = writeln!(
            out,
            "einvoice_gateway_cache_total{{result=\"hit\"}} {}",
            g(&self.cache_hits)
        );
        let _ = writeln!(
            out,
            "einvoice_gateway_cache_total{{result=\"miss\"}} {}",
            g(&self.cache_misses)
        );
        let _ = writeln!(
            out,
            "einvoice_gateway_cache_total{{result=\"not_modified\"}} {}",
            g(&self.not_modified)
        );
        let _ = writeln!(
            out,
            "einvoice_gateway_cache_total{{result=\"coalesced\"}} {}",
            g(&self.coalesced)
        );
        let _ = writeln!(
            out,
            "einvoice_gateway_cache_purges_total {}",
            g(&self.purges)
        );
        out
    }
}
