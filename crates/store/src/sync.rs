//! Site-to-site sync, the store's side: the page of another origin's entries
//! a site applies ([`SyncPage`]), what it knows of each upstream
//! ([`SyncUpstreamState`]) and the rules both backends use to place a page on
//! their stored head ([`sync_meeting_seq`], [`sync_overlap`]) and to refuse
//! their own origin ([`refuse_own_origin`]).
//!
//! The links of a page are checked by the caller with [`crate::ChainCheck`]
//! before [`crate::Store::apply_sync_page`] is called; the store only checks
//! that the page still starts where its stored head is (another applier may
//! have moved it) and applies the new entries, the cursor and the upstream's
//! state in one transaction.

use crate::entry::{EntryHash, Hlc, LedgerEntry};
use crate::error::StoreError;
use serde::{Deserialize, Serialize};

/// Code: a peer offered entries of this site's own origin (a site is the only
/// writer of its origin).
pub const SYNC_OWN_ORIGIN: &str = "SYNC_OWN_ORIGIN";
/// Code: the page does not continue the stored head of its origin (the
/// stored chain moved since the page was checked, or forked).
pub const SYNC_HEAD_MISMATCH: &str = "SYNC_HEAD_MISMATCH";

/// The head of one origin's chain: its last entry's sequence, hash and HLC
/// (sequence 0 and [`EntryHash::GENESIS`] before the first entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginHead {
    /// The origin (site id).
    pub origin: String,
    /// Sequence of its last entry.
    pub seq: u64,
    /// Hash of its last entry.
    pub hash: EntryHash,
    /// Hybrid logical clock of its last entry.
    pub hlc: Hlc,
}

impl OriginHead {
    /// The head of an origin with no entry yet.
    pub fn empty(origin: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            seq: 0,
            hash: EntryHash::GENESIS,
            hlc: Hlc(0),
        }
    }
}

/// Why a sync link stopped: the stable code (`HASH_MISMATCH`, `SEQ_GAP`,
/// `SYNC_UNREACHABLE`, ...), a message a person can act on and the
/// sequence it stopped at, if an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncHalt {
    /// Stable code.
    pub code: String,
    /// What happened and what to do.
    pub message: String,
    /// The entry the origin halted at (the first one not applied), if any.
    pub seq: Option<u64>,
}

/// What a site knows of one upstream for one origin: the upstream's head
/// when last asked, when that was, and the last error of the link (cleared
/// by the next page applied without error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncUpstreamState {
    /// The upstream (its URL as configured).
    pub upstream: String,
    /// The upstream's head of this origin.
    pub head: OriginHead,
    /// When it was asked (Unix seconds).
    pub checked_unix: i64,
    /// The last error of this link, if it is halted or failing.
    pub error: Option<SyncHalt>,
}

/// A page of another origin's entries for [`crate::Store::apply_sync_page`]:
/// `entries` continue the chain after (`after_seq`, `after_hash`) and were
/// checked link by link with [`crate::ChainCheck`]; `seen` is what the
/// upstream reported (its head, the error that stopped this page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPage {
    /// The origin of every entry.
    pub origin: String,
    /// Sequence of the stored entry the page continues (0 before the first).
    pub after_seq: u64,
    /// Hash of that entry ([`EntryHash::GENESIS`] before the first).
    pub after_hash: EntryHash,
    /// Verified entries, seq `after_seq + 1` onwards, contiguous (may be empty).
    pub entries: Vec<LedgerEntry>,
    /// The upstream's state to record with the page.
    pub seen: SyncUpstreamState,
}

/// What [`crate::Store::apply_sync_page`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncApplied {
    /// Entries written now (entries already stored are skipped).
    pub applied: u64,
    /// The origin's stored head afterwards.
    pub head: OriginHead,
}

/// One origin as a site holds it: its stored head and each upstream's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOriginState {
    /// This site's head of the origin.
    pub head: OriginHead,
    /// What each upstream offers of it, by upstream.
    pub upstreams: Vec<SyncUpstreamState>,
}

/// Refuse a page of this site's own origin ([`SYNC_OWN_ORIGIN`]): only the
/// site itself appends to its origin.
pub fn refuse_own_origin(site: &str, origin: &str) -> Result<(), StoreError> {
    if site == origin {
        return Err(StoreError::Backend(format!(
            "{SYNC_OWN_ORIGIN}: entries of origin {origin:?} were offered by a peer, but this site is {site:?}, the only writer of that origin; nothing was applied"
        )));
    }
    Ok(())
}

/// The sequence whose stored hash decides where `page` meets a stored chain
/// whose head is at `stored_seq`: the stored head, or the page's last entry
/// if the store is past it. A backend reads the stored hash at this sequence
/// ([`EntryHash::GENESIS`] for 0) and hands it to [`sync_overlap`].
pub fn sync_meeting_seq(page: &SyncPage, stored_seq: u64) -> u64 {
    let last = page.after_seq + u64::try_from(page.entries.len()).unwrap_or(u64::MAX);
    stored_seq.min(last)
}

/// How many leading entries of `page` the store holds already, given the
/// stored head's sequence and the stored hash at [`sync_meeting_seq`]: the
/// page must meet the stored chain exactly (same hash at the same sequence),
/// else [`SYNC_HEAD_MISMATCH`]. Re-applying a range is thus a no-op, and a
/// page that would leave a gap or fork is refused before anything is written.
pub fn sync_overlap(
    page: &SyncPage,
    stored_seq: u64,
    hash_at_meeting: Option<EntryHash>,
) -> Result<usize, StoreError> {
    let meet = sync_meeting_seq(page, stored_seq);
    let expected = if meet < page.after_seq {
        None
    } else if meet == page.after_seq {
        Some(page.after_hash)
    } else {
        usize::try_from(meet - page.after_seq - 1)
            .ok()
            .and_then(|i| page.entries.get(i))
            .map(|e| e.hash)
    };
    match (expected, hash_at_meeting) {
        (Some(want), Some(have)) if want == have => {
            usize::try_from(meet - page.after_seq).map_err(|_| mismatch(page, stored_seq))
        }
        _ => Err(mismatch(page, stored_seq)),
    }
}

fn mismatch(page: &SyncPage, stored_seq: u64) -> StoreError {
    StoreError::Backend(format!(
        "{SYNC_HEAD_MISMATCH}: a page of origin {:?} continuing entry {} does not meet this site's stored chain (head at entry {stored_seq}); nothing was applied, pull again from the stored head",
        page.origin, page.after_seq
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::chain;

    fn page(entries: &[LedgerEntry], after: usize) -> SyncPage {
        let after_hash = if after == 0 {
            EntryHash::GENESIS
        } else {
            entries[after - 1].hash
        };
        SyncPage {
            origin: "main".into(),
            after_seq: after as u64,
            after_hash,
            entries: entries[after..].to_vec(),
            seen: SyncUpstreamState {
                upstream: "u".into(),
                head: OriginHead::empty("main"),
                checked_unix: 0,
                error: None,
            },
        }
    }

    #[test]
    fn a_page_meets_the_stored_chain_or_is_refused() {
        let c = chain("main", 4);
        let p = page(&c, 1);
        // Stored head at 1: nothing stored yet of the page.
        assert_eq!(sync_meeting_seq(&p, 1), 1);
        assert_eq!(sync_overlap(&p, 1, Some(c[0].hash)).ok(), Some(0));
        // Stored head at 3: two of the page's entries are stored.
        assert_eq!(sync_overlap(&p, 3, Some(c[2].hash)).ok(), Some(2));
        // Stored head past the page: all stored, if the hashes agree.
        assert_eq!(sync_meeting_seq(&p, 9), 4);
        assert_eq!(sync_overlap(&p, 9, Some(c[3].hash)).ok(), Some(3));
        // A fork or a gap is refused.
        let e = sync_overlap(&p, 3, Some(c[0].hash)).expect_err("fork");
        assert!(e.to_string().contains(SYNC_HEAD_MISMATCH), "{e}");
        assert!(sync_overlap(&p, 0, Some(EntryHash::GENESIS)).is_err());
        assert!(sync_overlap(&p, 3, None).is_err());
    }

    #[test]
    fn a_site_refuses_its_own_origin() {
        assert!(refuse_own_origin("cloud-a", "main").is_ok());
        let e = refuse_own_origin("main", "main").expect_err("own");
        assert!(e.to_string().contains(SYNC_OWN_ORIGIN), "{e}");
    }
}

/// What the records feed brought for one page of an origin, checked against
/// the entries it travelled with ([`crate::Store::apply_sync_records`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncRecords {
    /// Bank accounts, sealed under this site's own master key.
    pub accounts: Vec<crate::BankAccountRecord>,
    /// Ids of API keys revoked (or rotated away) at the origin.
    pub revoked_keys: Vec<String>,
}
