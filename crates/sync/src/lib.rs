//! einvoice-sync: site-to-site replication of the ledger over mutual TLS.
//!
//! Every site appends what it accepts to its own origin and pulls the origins
//! it does not own from its upstreams (DESIGN.md, "Sites"):
//!
//! - [`ca`]: the deployment CA (`einvoice ca init`, `einvoice ca issue`),
//!   the peer listener's client-certificate verifier and the pulling client
//!   (the CA is the only root; a site's name is its certificate's CN);
//! - [`feed`]: the feed a site serves per origin (`GET /v1/sync/{origin}`):
//!   gzip over JSON lines, a header line then one entry per line;
//! - [`pull`]: the pull loop: every link checked with
//!   [`einvoice_store::ChainCheck`] from the stored head, pages applied with
//!   [`einvoice_store::Store::apply_sync_page`] (entries, cursor and the
//!   upstream's state in one transaction), a broken link halts the origin;
//! - [`status`]: per origin, entries and seconds behind each upstream;
//! - [`roots`]: per period, a Merkle root of the resolved invoice states;
//! - [`bodies`]: which bodies a peer receives, by its role (`[sync.roles]`);
//! - [`records`]: side records (bank accounts) that travel with the entries
//!   committing to them, checked and sealed again at the receiving site.

pub mod bodies;
pub mod ca;
mod error;
pub mod feed;
pub mod pull;
pub mod records;
pub mod roots;
pub mod status;

pub use error::SyncError;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `[sync]` section of a site's configuration.
///
/// ```toml
/// [sync]
/// listen = "127.0.0.1:9443"            # the peer listener (mutual TLS only)
/// ca = "ca/ca.pem"                     # the deployment CA (`einvoice ca init`)
/// cert = "ca/sites/cloud-a.pem"        # this site's certificate (`einvoice ca issue`)
/// key = "ca/sites/cloud-a.key"
/// upstreams = ["https://main.example:9443"]
/// interval_ms = 1000                   # pause between pulls when caught up
/// read_timeout_ms = 10000              # an upstream silent this long: give up
/// page = 1000                          # entries per feed page
///
/// [sync.peers]                         # which origins each peer may read;
/// cloud-a = ["main", "cloud-b"]        # absent table: every origin to every
/// standby = ["*"]                      # certified peer
///
/// [sync.roles]                         # each peer's role: what bodies it gets
/// cloud-a = "cloud"                    # (`bodies`); absent: every body
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Address of the peer listener (absent: no peer listener).
    pub listen: Option<String>,
    /// PEM certificate of the deployment CA.
    pub ca: Option<PathBuf>,
    /// PEM certificate of this site, signed by the CA.
    pub cert: Option<PathBuf>,
    /// PEM private key of this site.
    pub key: Option<PathBuf>,
    /// Base URLs of the peer listeners to pull from.
    pub upstreams: Vec<String>,
    /// Pause between pulls when caught up, milliseconds.
    pub interval_ms: u64,
    /// Entries asked for per page.
    pub page: u32,
    /// Milliseconds an upstream may send nothing before the request is given
    /// up (a half-open connection must not stall the pull loop).
    pub read_timeout_ms: u64,
    /// Origins each peer (by site name) may read; `"*"` is every origin.
    pub peers: BTreeMap<String, Vec<String>>,
    /// Each peer's role (by site name), which decides the bodies it receives
    /// ([`bodies`]); a peer not named receives every body.
    pub roles: BTreeMap<String, bodies::PeerRole>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            listen: None,
            ca: None,
            cert: None,
            key: None,
            upstreams: Vec::new(),
            interval_ms: 1000,
            page: 1000,
            read_timeout_ms: ca::PEER_READ_TIMEOUT.as_millis() as u64,
            peers: BTreeMap::new(),
            roles: BTreeMap::new(),
        }
    }
}

impl SyncConfig {
    /// The TLS files, if all three are configured.
    pub fn tls(&self) -> Option<ca::SiteTls> {
        Some(ca::SiteTls {
            ca: self.ca.clone()?,
            cert: self.cert.clone()?,
            key: self.key.clone()?,
        })
    }

    /// Peer `site`'s role ([`bodies::PeerRole::Standby`], every body, when
    /// `[sync.roles]` does not name it).
    pub fn role_of(&self, site: &str) -> bodies::PeerRole {
        self.roles
            .get(site)
            .copied()
            .unwrap_or(bodies::PeerRole::Standby)
    }

    /// Whether peer `site` may read `origin` (an empty `peers` table lets
    /// every certified peer read every origin).
    pub fn may_read(&self, site: &str, origin: &str) -> bool {
        if self.peers.is_empty() {
            return true;
        }
        self.peers
            .get(site)
            .is_some_and(|o| o.iter().any(|o| o == "*" || o == origin))
    }
}
