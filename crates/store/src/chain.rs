//! The ledger's hash-chain rule, once: a checker fed one entry at a time.
//!
//! Both backends' [`crate::Store::verify_ledger`] walk an origin's chain
//! through a [`ChainCheck`]; an export file's chains can be checked the same
//! way (one checker per origin).

use crate::entry::{EntryHash, LedgerEntry};
use crate::records::{BrokenLink, LedgerVerdict};

/// Code of a broken link: the next entry does not carry the next sequence number.
pub const SEQ_GAP: &str = "SEQ_GAP";
/// Code of a broken link: an entry's `prev_hash` is not the previous entry's hash.
pub const PREV_HASH_MISMATCH: &str = "PREV_HASH_MISMATCH";
/// Code of a broken link: an entry's content does not hash to its stored hash.
pub const HASH_MISMATCH: &str = "HASH_MISMATCH";

/// Walks one origin's hash chain from its first entry: feed it the entries in
/// sequence order with [`ChainCheck::push`]; it stops at the first broken
/// link (a sequence gap, a wrong `prev_hash` or a changed entry) and keeps
/// reporting that link for anything pushed after it.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    origin: String,
    entries: u64,
    head: EntryHash,
    broken: Option<BrokenLink>,
}

impl ChainCheck {
    /// A checker for `origin`'s chain, before its first entry.
    pub fn new(origin: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            entries: 0,
            head: EntryHash::GENESIS,
            broken: None,
        }
    }

    /// Check the next entry: `Ok` if it continues the chain (it becomes the
    /// head), else the first broken link (the same one again once broken).
    pub fn push(&mut self, e: &LedgerEntry) -> Result<(), BrokenLink> {
        if let Some(b) = &self.broken {
            return Err(b.clone());
        }
        let expect = self.entries + 1;
        let prev = self.head;
        let broken = |code: &str, message: String| BrokenLink {
            seq: expect,
            code: code.into(),
            message,
        };
        let bad = if e.seq != expect {
            Some(broken(
                SEQ_GAP,
                format!("expected entry {expect}, found {}", e.seq),
            ))
        } else if e.prev_hash != prev {
            Some(broken(
                PREV_HASH_MISMATCH,
                format!(
                    "entry {} links to {} but the previous entry's hash is {prev}",
                    e.seq, e.prev_hash
                ),
            ))
        } else {
            let computed = e.computed_hash();
            (computed != e.hash).then(|| {
                broken(
                    HASH_MISMATCH,
                    format!(
                        "entry {} was changed: its content hashes to {computed}, not the stored {}",
                        e.seq, e.hash
                    ),
                )
            })
        };
        match bad {
            Some(b) => {
                self.broken = Some(b.clone());
                Err(b)
            }
            None => {
                self.head = e.hash;
                self.entries = expect;
                Ok(())
            }
        }
    }

    /// Whether a broken link was found.
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Good entries so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Hash of the last good entry ([`EntryHash::GENESIS`] before the first).
    pub fn head(&self) -> EntryHash {
        self.head
    }

    /// The sequence number the next entry must carry.
    pub fn next_seq(&self) -> u64 {
        self.entries + 1
    }

    /// The verdict on what was pushed.
    pub fn verdict(self) -> LedgerVerdict {
        LedgerVerdict {
            origin: self.origin,
            entries: self.entries,
            head: self.head,
            broken: self.broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::chain;

    fn verdict_of(entries: &[LedgerEntry]) -> LedgerVerdict {
        let mut c = ChainCheck::new("main");
        for e in entries {
            if c.push(e).is_err() {
                break;
            }
        }
        c.verdict()
    }

    #[test]
    fn a_good_chain_verifies_to_its_last_hash() {
        let c = chain("main", 3);
        let v = verdict_of(&c);
        assert_eq!((v.entries, v.head, v.broken), (3, c[2].hash, None));
        let empty = verdict_of(&[]);
        assert_eq!((empty.entries, empty.head), (0, EntryHash::GENESIS));
    }

    #[test]
    fn the_first_broken_link_is_named() {
        let c = chain("main", 3);
        let gap = vec![c[0].clone(), c[2].clone()];
        let v = verdict_of(&gap);
        let b = v.broken.expect("gap");
        assert_eq!((b.seq, b.code.as_str(), v.entries), (2, SEQ_GAP, 1));
        assert_eq!(b.message, "expected entry 2, found 3");

        let mut changed = c.clone();
        changed[1].body = b"{\"n\":9}".to_vec();
        let v = verdict_of(&changed);
        let b = v.broken.expect("changed");
        assert_eq!((b.seq, b.code.as_str()), (2, HASH_MISMATCH));
        assert_eq!(v.head, c[0].hash);

        let mut relinked = c.clone();
        relinked[2].prev_hash = EntryHash::GENESIS;
        let b = verdict_of(&relinked).broken.expect("relinked");
        assert_eq!((b.seq, b.code.as_str()), (3, PREV_HASH_MISMATCH));
    }

    #[test]
    fn a_broken_chain_stays_broken() {
        let c = chain("main", 3);
        let mut check = ChainCheck::new("main");
        assert!(check.push(&c[1]).is_err());
        let again = check.push(&c[0]).expect_err("still broken");
        assert_eq!(
            (again.seq, check.entries(), check.is_broken()),
            (1, 0, true)
        );
    }
}
