//! Per-period roots of the resolved invoice states: what `einvoice sync
//! verify` compares besides every origin's (sequence, head), so that sites
//! that hold the same messages are shown to **resolve** them the same way.
//!
//! Computed the same way at every site, from the ledger alone (never from a
//! projection a site might have built differently): every message entry of
//! every origin whose body the site holds is re-validated
//! ([`einvoice_store::replay_facts`]), grouped by invoice (seller, number;
//! an allowance under each invoice it refers to, an allowance cancel under
//! the invoices of that allowance), and resolved with
//! [`einvoice_core::resolve::resolve`]. Each invoice is one leaf
//!
//! ```text
//! leaf = SHA-256(0x00 ‖ "seller|number|state|issue|cancel|void|allowance_total")
//! ```
//!
//! (hashes in lowercase hex, `-` when absent), in the period of its issue
//! (or of the cancel's invoice date while the issue is missing), sorted by
//! (seller, number). The root is a binary Merkle tree over the leaves:
//! `node = SHA-256(0x01 ‖ left ‖ right)`, an odd last node carried up
//! unchanged; the root of no leaves is 32 zero bytes.

use einvoice_core::resolve::{Event, resolve};
use einvoice_core::validated::Facts;
use einvoice_core::{InvoiceNumber, Period, Ubn};
use einvoice_store::{EntryHash, LedgerEntry, StoreError, is_message_kind, replay_facts};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// One period's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodRoot {
    /// The period (`YYYMM`).
    pub period: String,
    /// Invoices (leaves).
    pub invoices: u64,
    /// The Merkle root of their resolved states.
    pub root: EntryHash,
}

/// A site's period roots (`GET /v1/sync/roots`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRoots {
    /// The site.
    pub site: String,
    /// Every period it holds an invoice of, sorted.
    pub periods: Vec<PeriodRoot>,
}

/// The leaf hash of `bytes`: `SHA-256(0x00 ‖ bytes)`.
pub fn leaf_hash(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(bytes);
    h.finalize().into()
}

/// The Merkle root of `leaves` (already leaf hashes): pairs hashed as
/// `SHA-256(0x01 ‖ left ‖ right)`, an odd last node carried up, level by
/// level; 32 zero bytes for no leaves.
pub fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    if leaves.is_empty() {
        return [0u8; 32];
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => {
                    let mut h = Sha256::new();
                    h.update([1u8]);
                    h.update(l);
                    h.update(r);
                    h.finalize().into()
                }
                [one] => *one,
                _ => [0u8; 32],
            })
            .collect();
    }
    level[0]
}

fn hex(h: &[u8; 32]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn opt(h: Option<&[u8; 32]>) -> String {
    h.map_or_else(|| "-".to_string(), hex)
}

type Key = (Ubn, InvoiceNumber);

/// Accumulates entries (any origin, any order) and computes the roots.
#[derive(Debug, Default)]
pub struct RootBuilder {
    events: BTreeMap<Key, Vec<Event>>,
    periods: BTreeMap<Key, Period>,
    /// Allowance number (per seller) → the invoices it refers to.
    allowances: BTreeMap<(Ubn, String), Vec<Key>>,
    allowance_cancels: Vec<((Ubn, String), Event)>,
}

impl RootBuilder {
    /// Take one entry: a message entry whose body is held is re-validated
    /// and grouped; events and withheld bodies are skipped.
    pub fn push(&mut self, e: &LedgerEntry) -> Result<(), StoreError> {
        if !is_message_kind(&e.kind) || e.withheld {
            return Ok(());
        }
        let Some(v) = replay_facts(e)? else {
            return Ok(());
        };
        let hash: [u8; 32] = Sha256::digest(&e.body).into();
        let event = Event {
            hash,
            facts: v.facts.clone(),
        };
        match &v.facts {
            Facts::Invoice(f) => {
                let k = (f.seller, f.number);
                self.periods.insert(k, f.period);
                self.events.entry(k).or_default().push(event);
            }
            Facts::Cancel(c) | Facts::Void(c) => {
                let k = (c.seller, c.number);
                if let Some(p) = Period::of_date(c.invoice_date) {
                    self.periods.entry(k).or_insert(p);
                }
                self.events.entry(k).or_default().push(event);
            }
            Facts::Allowance(a) => {
                let mut keys: Vec<Key> = a
                    .items
                    .iter()
                    .map(|i| (a.seller, i.original_number))
                    .collect();
                keys.sort();
                keys.dedup();
                for k in &keys {
                    self.events.entry(*k).or_default().push(event.clone());
                }
                self.allowances
                    .entry((a.seller, a.number.clone()))
                    .or_default()
                    .extend(keys);
            }
            Facts::CancelAllowance(c) => {
                self.allowance_cancels
                    .push(((c.seller, c.number.clone()), event));
            }
            Facts::TrackAllocation(_) | Facts::Blank(_) => {}
        }
        Ok(())
    }

    /// The roots of every period, for site `site`.
    pub fn finish(mut self, site: &str) -> SiteRoots {
        for (allowance, event) in std::mem::take(&mut self.allowance_cancels) {
            if let Some(keys) = self.allowances.get(&allowance) {
                for k in keys {
                    self.events.entry(*k).or_default().push(event.clone());
                }
            }
        }
        let mut leaves: BTreeMap<Period, Vec<[u8; 32]>> = BTreeMap::new();
        for (k, events) in &self.events {
            let Some(period) = self.periods.get(k) else {
                continue; // only allowances: no invoice of this number is held
            };
            let r = resolve(k.1, events);
            let line = format!(
                "{}|{}|{:?}|{}|{}|{}|{}",
                k.0.as_str(),
                k.1,
                r.state,
                opt(r.issue.as_ref()),
                opt(r.cancel.as_ref()),
                opt(r.void.as_ref()),
                r.allowance_total.0
            );
            leaves
                .entry(*period)
                .or_default()
                .push(leaf_hash(line.as_bytes()));
        }
        SiteRoots {
            site: site.to_string(),
            periods: leaves
                .into_iter()
                .map(|(p, l)| PeriodRoot {
                    period: p.to_string(),
                    invoices: l.len() as u64,
                    root: EntryHash(merkle_root(&l)),
                })
                .collect(),
        }
    }
}

/// The first period on which `sites` (name, roots) disagree: a period one
/// site has and another lacks, or different roots; `None` when all agree.
pub fn first_root_disagreement(sites: &[(String, SiteRoots)]) -> Option<String> {
    let (first_name, first) = sites.first()?;
    let mut periods: Vec<&str> = sites
        .iter()
        .flat_map(|(_, s)| s.periods.iter().map(|p| p.period.as_str()))
        .collect();
    periods.sort_unstable();
    periods.dedup();
    for period in periods {
        let of = |s: &SiteRoots| s.periods.iter().find(|p| p.period == period).cloned();
        let want = of(first);
        for (name, s) in &sites[1..] {
            let got = of(s);
            if got != want {
                let say = |r: &Option<PeriodRoot>| match r {
                    Some(r) => format!("{} invoices, root {}", r.invoices, r.root.to_hex()),
                    None => "no invoice".to_string(),
                };
                return Some(format!(
                    "period {period}: {first_name} resolves {}, {name} resolves {}",
                    say(&want),
                    say(&got)
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    #[test]
    fn a_small_tree_by_hand() {
        // Three leaves: root = H(1 ‖ H(1 ‖ L0 ‖ L1) ‖ L2), L2 carried up.
        let l: Vec<[u8; 32]> = [b"a", b"b", b"c"]
            .iter()
            .map(|x| sha(&[&[0u8], *x]))
            .collect();
        assert_eq!(l[0], leaf_hash(b"a"));
        let n01 = sha(&[&[1u8], &l[0], &l[1]]);
        assert_eq!(merkle_root(&l), sha(&[&[1u8], &n01, &l[2]]));
        assert_eq!(merkle_root(&l[..1]), l[0]);
        assert_eq!(merkle_root(&[]), [0u8; 32]);
        // The known SHA-256 of 0x00 ‖ "a", so the leaf is pinned, not only self-consistent.
        assert_eq!(
            hex(&leaf_hash(b"a")),
            "022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c"
        );
        // Four leaves: two pairs, then their pair; order matters.
        let four = [l[0], l[1], l[2], l[0]];
        let n23 = sha(&[&[1u8], &l[2], &l[0]]);
        assert_eq!(merkle_root(&four), sha(&[&[1u8], &n01, &n23]));
        assert_ne!(merkle_root(&[l[1], l[0]]), merkle_root(&[l[0], l[1]]));
    }

    /// A v2 chain of `main` holding `msgs` as the append path writes them.
    fn entries(msgs: &[einvoice_core::Validated]) -> Vec<LedgerEntry> {
        let mut prev = EntryHash::GENESIS;
        msgs.iter()
            .zip(1u64..)
            .map(|(v, seq)| {
                let e = LedgerEntry::new_v2(
                    "main",
                    seq,
                    einvoice_store::Hlc(seq),
                    v.kind().as_str(),
                    &v.key().to_key_string(),
                    "test",
                    einvoice_mig::canonical(&v.message),
                    prev,
                );
                prev = e.hash;
                e
            })
            .collect()
    }

    fn roots_of<'a>(es: impl IntoIterator<Item = &'a LedgerEntry>) -> SiteRoots {
        let mut b = RootBuilder::default();
        for e in es {
            b.push(e).expect("a valid entry");
        }
        b.finish("s")
    }

    #[test]
    fn roots_follow_the_resolved_states_not_the_order() {
        use einvoice_store::conformance::{SELLER_A, allocation, cancel, invoice};
        let issued = entries(&[
            allocation(SELLER_A),
            invoice(SELLER_A, "AB00000001", "1234", 10),
            invoice(SELLER_A, "AB00000002", "1234", 20),
        ]);
        let with_cancel = entries(&[
            allocation(SELLER_A),
            invoice(SELLER_A, "AB00000001", "1234", 10),
            invoice(SELLER_A, "AB00000002", "1234", 20),
            cancel(SELLER_A, "AB00000001", "wrong"),
        ]);
        let a = roots_of(&issued);
        assert_eq!(a.periods.len(), 1);
        assert_eq!(a.periods[0].invoices, 2);
        // The same set in another order: the same root.
        assert_eq!(roots_of(issued.iter().rev()), a);
        // A cancel changes one invoice's state, and so the root.
        let c = roots_of(&with_cancel);
        assert_eq!(c.periods[0].invoices, 2);
        assert_ne!(c.periods[0].root, a.periods[0].root);
        assert!(first_root_disagreement(&[("x".into(), a.clone()), ("y".into(), c)]).is_some());
        // A withheld body is not resolved here: one invoice fewer.
        let mut partial = issued.clone();
        partial[2] = partial[2].withheld_copy().expect("v2");
        assert_eq!(roots_of(&partial).periods[0].invoices, 1);
    }

    #[test]
    fn disagreement_names_the_period() {
        let roots = |root: u8| SiteRoots {
            site: "x".into(),
            periods: vec![PeriodRoot {
                period: "11410".into(),
                invoices: 1,
                root: EntryHash([root; 32]),
            }],
        };
        let same = [("a".to_string(), roots(1)), ("b".to_string(), roots(1))];
        assert_eq!(first_root_disagreement(&same), None);
        let differ = [("a".to_string(), roots(1)), ("b".to_string(), roots(2))];
        let d = first_root_disagreement(&differ).expect("disagree");
        assert!(d.starts_with("period 11410: a resolves"), "{d}");
    }
}
