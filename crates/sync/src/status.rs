//! Sync status: per origin, this site's head and how far behind each
//! upstream it is (entries, and seconds between the upstream's last entry
//! and ours by their hybrid logical clocks), with the link's last error —
//! what `einvoice sync status` prints and `GET /v1/sync/status` answers —
//! and the agreement check of `einvoice sync verify`.

use crate::feed::Heads;
use einvoice_store::{EntryHash, OriginHead, SyncHalt, SyncOriginState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// How far one head is behind another.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lag {
    /// Entries behind (0 when caught up or ahead).
    pub entries: u64,
    /// Seconds between their last entry's HLC and ours (0 when caught up).
    pub seconds: f64,
}

impl Lag {
    /// How far `ours` is behind `theirs` (the same origin).
    pub fn of(ours: &OriginHead, theirs: &OriginHead) -> Lag {
        let entries = theirs.seq.saturating_sub(ours.seq);
        let ms = if entries == 0 {
            0
        } else {
            (theirs.hlc.0 >> 16).saturating_sub(ours.hlc.0 >> 16)
        };
        Lag {
            entries,
            seconds: ms as f64 / 1000.0,
        }
    }
}

/// One upstream of one origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamStatus {
    /// The upstream's URL.
    pub upstream: String,
    /// The upstream's sequence of the origin.
    pub seq: u64,
    /// The upstream's head hash.
    pub head: EntryHash,
    /// How far this site is behind it.
    pub behind: Lag,
    /// When it was last asked (Unix seconds).
    pub checked_unix: i64,
    /// The link's last error (halted or failing), if any.
    pub error: Option<SyncHalt>,
}

/// One origin at this site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginStatus {
    /// The origin.
    pub origin: String,
    /// This site's sequence of it.
    pub seq: u64,
    /// This site's head hash of it.
    pub head: EntryHash,
    /// Each upstream that offers it.
    pub upstreams: Vec<UpstreamStatus>,
    /// The last error of any of its links, if one is halted or failing.
    pub last_error: Option<SyncHalt>,
}

/// A site's sync status (`GET /v1/sync/status`, `einvoice sync status --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// The site.
    pub site: String,
    /// Every origin it holds or hears of, sorted.
    pub origins: Vec<OriginStatus>,
}

impl SyncStatus {
    /// The status of `site` from its store's [`einvoice_store::Store::sync_state`].
    pub fn of(site: &str, state: Vec<SyncOriginState>) -> SyncStatus {
        let origins = state
            .into_iter()
            .map(|o| {
                let upstreams: Vec<UpstreamStatus> = o
                    .upstreams
                    .into_iter()
                    .map(|u| UpstreamStatus {
                        behind: Lag::of(&o.head, &u.head),
                        upstream: u.upstream,
                        seq: u.head.seq,
                        head: u.head.hash,
                        checked_unix: u.checked_unix,
                        error: u.error,
                    })
                    .collect();
                OriginStatus {
                    last_error: upstreams.iter().find_map(|u| u.error.clone()),
                    origin: o.head.origin,
                    seq: o.head.seq,
                    head: o.head.hash,
                    upstreams,
                }
            })
            .collect();
        SyncStatus {
            site: site.to_string(),
            origins,
        }
    }

    /// The text `einvoice sync status` prints.
    pub fn to_text(&self) -> String {
        let mut s = format!("site {}\n", self.site);
        for o in &self.origins {
            let _ = writeln!(s, "origin {}: seq {} head {}", o.origin, o.seq, o.head);
            for u in &o.upstreams {
                let _ = writeln!(
                    s,
                    "  upstream {}: seq {}, {} entries and {:.1} s behind, checked at {}",
                    u.upstream, u.seq, u.behind.entries, u.behind.seconds, u.checked_unix
                );
            }
            if let Some(e) = &o.last_error {
                let _ = writeln!(s, "  last error {}: {}", e.code, e.message);
            }
        }
        s
    }
}

/// The first disagreement between sites' heads: for each origin (sorted),
/// every site that holds it must have the same (sequence, head hash).
/// `None` when they all agree.
pub fn first_disagreement(sites: &[(String, Heads)]) -> Option<String> {
    let mut by_origin: BTreeMap<&str, Vec<(&str, &OriginHead)>> = BTreeMap::new();
    for (name, heads) in sites {
        for h in &heads.heads {
            by_origin.entry(&h.origin).or_default().push((name, h));
        }
    }
    for (origin, held) in by_origin {
        let (first_site, first) = held[0];
        for &(site, h) in &held[1..] {
            if (h.seq, h.hash) != (first.seq, first.hash) {
                return Some(format!(
                    "origin {origin}: {first_site} holds seq {} head {}, {site} holds seq {} head {}",
                    first.seq, first.hash, h.seq, h.hash
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use einvoice_store::Hlc;

    fn head(origin: &str, seq: u64, h: u8, ms: u64) -> OriginHead {
        OriginHead {
            origin: origin.into(),
            seq,
            hash: EntryHash([h; 32]),
            hlc: Hlc(ms << 16),
        }
    }

    #[test]
    fn lag_counts_entries_and_seconds_behind() {
        let lag = Lag::of(&head("main", 3, 1, 1_000), &head("main", 10, 2, 3_500));
        assert_eq!((lag.entries, lag.seconds), (7, 2.5));
        let ahead = Lag::of(&head("main", 10, 2, 3_500), &head("main", 3, 1, 1_000));
        assert_eq!((ahead.entries, ahead.seconds), (0, 0.0));
    }

    #[test]
    fn the_first_disagreement_is_named() {
        let site = |name: &str, heads: Vec<OriginHead>| {
            (
                name.to_string(),
                Heads {
                    site: name.into(),
                    heads,
                },
            )
        };
        let agree = [
            site(
                "main",
                vec![head("cloud-a", 2, 7, 0), head("main", 5, 1, 0)],
            ),
            site(
                "cloud-a",
                vec![head("cloud-a", 2, 7, 0), head("main", 5, 1, 0)],
            ),
            site("cloud-b", vec![head("main", 5, 1, 0)]),
        ];
        assert_eq!(first_disagreement(&agree), None);
        let mut differ = agree.clone();
        differ[2].1.heads[0] = head("main", 4, 9, 0);
        let d = first_disagreement(&differ).expect("disagree");
        assert!(d.starts_with("origin main: main holds seq 5"), "{d}");
        assert!(d.contains("cloud-b holds seq 4"), "{d}");
    }
}
