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
/// Code of a broken link: a v2 entry's present body does not hash to the
/// body digest its entry hash commits to (the body was changed), or a v1
/// entry claims a withheld body (a v1 hash needs the body itself).
pub const BODY_DIGEST_MISMATCH: &str = "BODY_DIGEST_MISMATCH";

/// Walks one origin's hash chain from its first entry: feed it the entries in
/// sequence order with [`ChainCheck::push`]; it stops at the first broken
/// link (a sequence gap, a wrong `prev_hash`, a changed entry or a changed
/// v2 body) and keeps reporting that link for anything pushed after it. A v2
/// entry whose body is withheld is a good link (its hash commits to the body
/// digest); the checker counts those.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    origin: String,
    entries: u64,
    head: EntryHash,
    broken: Option<BrokenLink>,
    withheld: u64,
    withheld_runs: Vec<[u64; 2]>,
}

impl ChainCheck {
    /// A checker for `origin`'s chain, before its first entry.
    pub fn new(origin: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            entries: 0,
            head: EntryHash::GENESIS,
            broken: None,
            withheld: 0,
            withheld_runs: Vec::new(),
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
        } else if e.withheld && e.body_digest.is_none() {
            Some(broken(
                BODY_DIGEST_MISMATCH,
                format!(
                    "entry {} is a v1 entry with its body withheld: a v1 hash covers the body, so it cannot be checked",
                    e.seq
                ),
            ))
        } else if e.computed_hash() != e.hash {
            let computed = e.computed_hash();
            Some(broken(
                HASH_MISMATCH,
                format!(
                    "entry {} was changed: its content hashes to {computed}, not the stored {}",
                    e.seq, e.hash
                ),
            ))
        } else if !e.body_matches_digest() {
            Some(broken(
                BODY_DIGEST_MISMATCH,
                format!(
                    "entry {} was changed: its body hashes to {}, not the digest {} its entry hash commits to",
                    e.seq,
                    crate::entry::body_digest(&e.body),
                    e.body_digest.unwrap_or_default()
                ),
            ))
        } else {
            None
        };
        match bad {
            Some(b) => {
                self.broken = Some(b.clone());
                Err(b)
            }
            None => {
                self.head = e.hash;
                self.entries = expect;
                if e.withheld {
                    self.withheld += 1;
                    match self.withheld_runs.last_mut() {
                        Some(run) if run[1] + 1 == expect => run[1] = expect,
                        _ => self.withheld_runs.push([expect, expect]),
                    }
                }
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

    /// Good entries whose body is withheld.
    pub fn withheld(&self) -> u64 {
        self.withheld
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
            withheld: self.withheld,
            withheld_runs: self.withheld_runs,
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
    fn v1_entries_then_v2_entries_verify_as_one_chain() {
        let mut c = chain("main", 2);
        let next = LedgerEntry::new_v2(
            "main",
            3,
            crate::Hlc(3),
            "ADMIN",
            "k",
            "test",
            b"{}".to_vec(),
            c[1].hash,
        );
        c.push(next);
        let v = verdict_of(&c);
        assert_eq!((v.entries, v.head, v.broken), (3, c[2].hash, None));
        // A v1 entry cannot have its body withheld.
        let mut w = c.clone();
        w[0].body.clear();
        w[0].withheld = true;
        let b = verdict_of(&w).broken.expect("v1 withheld");
        assert_eq!((b.seq, b.code.as_str()), (1, BODY_DIGEST_MISMATCH));
    }

    #[test]
    fn a_changed_v2_body_is_named_apart_from_a_changed_header() {
        let c = crate::conformance::chain_v2("main", 3);
        let mut body = c.clone();
        body[1].body = b"{\"n\":9}".to_vec();
        let v = verdict_of(&body);
        let b = v.broken.expect("changed body");
        assert_eq!(
            (b.seq, b.code.as_str(), v.entries),
            (2, BODY_DIGEST_MISMATCH, 1)
        );
        assert!(b.message.contains("its body hashes to"), "{}", b.message);
        let mut head = c.clone();
        head[1].actor = "someone".into();
        let b = verdict_of(&head).broken.expect("changed header");
        assert_eq!((b.seq, b.code.as_str()), (2, HASH_MISMATCH));
    }

    proptest::proptest! {
        /// Withholding any subset of bodies keeps the chain verifying, and the
        /// verdict counts exactly those entries, as runs.
        #[test]
        fn withholding_any_subset_keeps_the_chain(mask in proptest::collection::vec(proptest::bool::ANY, 1..40)) {
            let full = crate::conformance::chain_v2("cloud-a", mask.len() as u64);
            let held: Vec<LedgerEntry> = full
                .iter()
                .zip(&mask)
                .map(|(e, w)| if *w { e.withheld_copy().expect("v2") } else { e.clone() })
                .collect();
            let v = verdict_of(&held);
            proptest::prop_assert_eq!(v.broken, None);
            proptest::prop_assert_eq!((v.entries, v.head), (full.len() as u64, full[full.len() - 1].hash));
            let seqs: Vec<u64> = (1..=mask.len() as u64).filter(|s| mask[(*s - 1) as usize]).collect();
            proptest::prop_assert_eq!(v.withheld, seqs.len() as u64);
            let from_runs: Vec<u64> = v.withheld_runs.iter().flat_map(|r| r[0]..=r[1]).collect();
            proptest::prop_assert_eq!(from_runs, seqs);
        }

        /// Flipping any bit of any byte of a present body or of a hashed
        /// header field breaks the chain at exactly that entry, whatever
        /// else is withheld.
        #[test]
        fn flipping_any_byte_breaks_at_that_entry(
            mask in proptest::collection::vec(proptest::bool::ANY, 1..20),
            at in proptest::arbitrary::any::<proptest::sample::Index>(),
            field in 0usize..7,
            byte in proptest::arbitrary::any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let full = crate::conformance::chain_v2("cloud-a", mask.len() as u64);
            let mut held: Vec<LedgerEntry> = full
                .iter()
                .zip(&mask)
                .map(|(e, w)| if *w { e.withheld_copy().expect("v2") } else { e.clone() })
                .collect();
            let i = at.index(held.len());
            let e = &mut held[i];
            let flip = 1u8 << bit;
            // Strings are ASCII here: flip within the low seven bits to keep them UTF-8.
            let ascii = 1u8 << (bit % 7);
            let flip_str = |s: &mut String| {
                let mut b = s.clone().into_bytes();
                let k = byte.index(b.len());
                b[k] ^= ascii;
                *s = String::from_utf8(b).expect("ascii");
            };
            let expect = match field {
                0 if !e.withheld => {
                    let k = byte.index(e.body.len());
                    e.body[k] ^= flip;
                    BODY_DIGEST_MISMATCH
                }
                0 | 1 => {
                    flip_str(&mut e.kind);
                    HASH_MISMATCH
                }
                2 => {
                    flip_str(&mut e.key);
                    HASH_MISMATCH
                }
                3 => {
                    flip_str(&mut e.actor);
                    HASH_MISMATCH
                }
                4 => {
                    flip_str(&mut e.origin);
                    HASH_MISMATCH
                }
                5 => {
                    e.hlc.0 ^= 1u64 << (u32::from(bit) * 8 + byte.index(8) as u32 % 8);
                    HASH_MISMATCH
                }
                _ => {
                    let d = e.body_digest.as_mut().expect("v2");
                    d.0[byte.index(32)] ^= flip;
                    HASH_MISMATCH
                }
            };
            let v = verdict_of(&held);
            let b = v.broken.expect("broken");
            proptest::prop_assert_eq!((b.seq, b.code.as_str()), (i as u64 + 1, expect));
            proptest::prop_assert_eq!(v.entries, i as u64);
        }
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
