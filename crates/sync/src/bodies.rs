//! What bodies a peer receives: the feed follows the peer's role.
//!
//! A site's `[sync.roles]` names the role of each peer it serves:
//!
//! ```toml
//! [sync.roles]
//! cloud-a = "cloud"
//! standby = "standby"
//! ```
//!
//! A **cloud** peer receives every entry (so every link verifies) but, for
//! the kinds its services never read ([`CLOUD_WITHHELD_KINDS`]: the operator
//! accounts and their actions), only the body's digest (ledger format v2,
//! [`LedgerEntry::withheld_copy`]). A v1 entry cannot be withheld (its hash
//! covers the body itself) and travels whole. A `main` or `standby` peer, or
//! a peer `[sync.roles]` does not name, receives every body. A peer asking
//! for more than its role gets (`bodies=all`) is refused
//! ([`SYNC_BODIES_FORBIDDEN`]) and logged.

use einvoice_store::LedgerEntry;
use serde::Deserialize;

/// Code: a peer asked for bodies its role may not receive.
pub const SYNC_BODIES_FORBIDDEN: &str = "SYNC_BODIES_FORBIDDEN";

/// Entry kinds whose bodies a cloud peer receives as digests only: `ADMIN`,
/// the operator accounts and every operator action (the cloud has no
/// operator surface; its services never read them).
pub const CLOUD_WITHHELD_KINDS: &[&str] = &["ADMIN"];

/// A peer's role, as the serving site's `[sync.roles]` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerRole {
    /// The main site: every body.
    Main,
    /// A public-cloud site: the bodies its services need, digests for the rest.
    Cloud,
    /// A standby, ready to be promoted: every body.
    Standby,
}

impl PeerRole {
    /// Whether a peer of this role receives `kind`'s bodies as digests only.
    pub fn withholds(self, kind: &str) -> bool {
        self == Self::Cloud && CLOUD_WITHHELD_KINDS.contains(&kind)
    }

    /// Whether this role receives every body.
    pub fn sees_every_body(self) -> bool {
        self != Self::Cloud
    }

    /// `e` as a peer of this role receives it: the same entry, or its
    /// withheld copy (v2) when the role withholds its kind.
    pub fn copy_for(self, e: LedgerEntry) -> LedgerEntry {
        if self.withholds(&e.kind) && !e.withheld {
            match e.withheld_copy() {
                Some(w) => w,
                None => e,
            }
        } else {
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use einvoice_store::ChainCheck;
    use einvoice_store::conformance::{chain, chain_v2};

    fn verified(c: &[LedgerEntry]) -> ChainCheck {
        let mut check = ChainCheck::new("main");
        for e in c {
            check.push(e).expect("the copy verifies");
        }
        check
    }

    #[test]
    fn a_cloud_copy_lacks_the_operator_bodies_and_still_verifies() {
        let full = chain_v2("main", 4);
        let cloud: Vec<LedgerEntry> = full
            .iter()
            .cloned()
            .map(|e| PeerRole::Cloud.copy_for(e))
            .collect();
        assert_eq!(verified(&cloud).withheld(), 4);
        for (f, c) in full.iter().zip(&cloud) {
            assert!(c.withheld && c.body.is_empty(), "{c:?}");
            assert_eq!((c.hash, c.body_digest), (f.hash, f.body_digest));
        }
        // Main and standby peers get every body.
        for role in [PeerRole::Main, PeerRole::Standby] {
            let copy: Vec<LedgerEntry> = full.iter().cloned().map(|e| role.copy_for(e)).collect();
            assert_eq!(copy, full);
        }
        // Only the withheld kinds: an invoice travels whole.
        let mut invoice = full[0].clone();
        invoice.kind = "F0401".into();
        assert_eq!(PeerRole::Cloud.copy_for(invoice.clone()), invoice);
    }

    #[test]
    fn a_v1_entry_travels_whole_since_its_hash_covers_the_body() {
        let v1 = chain("main", 2);
        let cloud: Vec<LedgerEntry> = v1
            .iter()
            .cloned()
            .map(|e| PeerRole::Cloud.copy_for(e))
            .collect();
        assert_eq!(cloud, v1);
        assert_eq!(verified(&cloud).withheld(), 0);
    }
}
