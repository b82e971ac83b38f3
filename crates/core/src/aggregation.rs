//! Aggregation (歸戶): linking another carrier (EasyCard, iPASS, icash,
//! citizen certificate, a bank's credit card, …) to a mobile barcode, and
//! unlinking it. Which link of a carrier is in force is a pure function of
//! the **set** of link messages about that carrier (like [`crate::resolve`]).
//!
//! Every link or unlink message names the carrier, the barcode and a
//! `generation`: one more than the generation of the state it was decided
//! on (a carrier never linked is at generation 0).
//!
//! | situation | outcome |
//! | --- | --- |
//! | one message per generation | the highest generation is in force |
//! | two messages of the same generation (two sites decided on the same state) | the one with the **smallest hash** is in force; the other is a `LINK_CONFLICT` |
//! | a message about another carrier | ignored |
//!
//! Identical messages (same hash) count once and the order does not matter,
//! so sites that took link messages of the same carrier agree once they
//! exchange them. [`decide_link`] decides a new request against the state in
//! force.

use crate::ids::{Carrier, CarrierType};
use crate::resolve::{Conflict, MessageHash};
use std::collections::BTreeMap;

/// Rule name of a link message that lost to another of its generation.
pub const LINK_CONFLICT: &str = "LINK_CONFLICT";

/// A link message's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFacts {
    /// The mobile barcode the carrier is (or was) linked to.
    pub barcode: Carrier,
    /// The linked carrier.
    pub carrier: Carrier,
    /// `true`: link; `false`: unlink.
    pub linked: bool,
    /// One more than the generation of the state the message was decided on.
    pub generation: u64,
}

/// One link message with the SHA-256 of its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    /// Identity of the message.
    pub hash: MessageHash,
    /// Its facts.
    pub facts: LinkFacts,
}

/// The link state of one carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkResolution {
    /// The message in force (none: never linked).
    pub current: Option<LinkEvent>,
    /// Messages of the winning generation that lost, sorted.
    pub conflicts: Vec<Conflict>,
}

impl LinkResolution {
    /// The barcode the carrier is linked to now, if any.
    pub fn linked_to(&self) -> Option<&Carrier> {
        self.current
            .as_ref()
            .filter(|e| e.facts.linked)
            .map(|e| &e.facts.barcode)
    }

    /// The generation in force (0: never linked).
    pub fn generation(&self) -> u64 {
        self.current.as_ref().map_or(0, |e| e.facts.generation)
    }
}

/// Does `challenger` win over `holder`: a higher generation, or the same
/// generation and a smaller hash. Backends apply replayed messages with
/// this rule, so their projection equals [`resolve_link`] of the set.
pub fn supersedes(challenger: (u64, &MessageHash), holder: (u64, &MessageHash)) -> bool {
    challenger.0 > holder.0 || (challenger.0 == holder.0 && challenger.1 < holder.1)
}

/// Resolve the link state of `carrier` from a set of link events; events
/// about other carriers are ignored.
pub fn resolve_link(carrier: &Carrier, events: &[LinkEvent]) -> LinkResolution {
    let set: BTreeMap<MessageHash, &LinkEvent> = events
        .iter()
        .filter(|e| &e.facts.carrier == carrier)
        .map(|e| (e.hash, e))
        .collect();
    let mut current: Option<&LinkEvent> = None;
    for e in set.values() {
        let wins = match current {
            None => true,
            Some(c) => supersedes((e.facts.generation, &e.hash), (c.facts.generation, &c.hash)),
        };
        if wins {
            current = Some(e);
        }
    }
    let mut conflicts: Vec<Conflict> = match current {
        None => Vec::new(),
        Some(c) => set
            .values()
            .filter(|e| e.facts.generation == c.facts.generation && e.hash != c.hash)
            .map(|e| Conflict {
                code: LINK_CONFLICT,
                winner: c.hash,
                loser: e.hash,
            })
            .collect(),
    };
    conflicts.sort();
    LinkResolution {
        current: current.cloned(),
        conflicts,
    }
}

/// Why a link or unlink request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// A mobile barcode cannot be linked (only other carriers are).
    NotLinkable,
    /// The carrier is linked to this barcode already.
    AlreadyLinked,
    /// The carrier is linked to another barcode: unlink it there first.
    LinkedElsewhere,
    /// Unlink: the carrier is not linked to this barcode.
    NotLinked,
    /// The barcode has [`MAX_LINKS_PER_BARCODE`] carriers linked already.
    TooMany,
}

impl LinkRefusal {
    /// Stable code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotLinkable => "LINK_NOT_LINKABLE",
            Self::AlreadyLinked => "LINK_ALREADY_LINKED",
            Self::LinkedElsewhere => "LINK_LINKED_ELSEWHERE",
            Self::NotLinked => "LINK_NOT_LINKED",
            Self::TooMany => "LINK_TOO_MANY",
        }
    }
}

/// At most this many carriers are linked to one barcode (bounds what one
/// barcode's queries read).
pub const MAX_LINKS_PER_BARCODE: u32 = 50;

/// Decide a request to link (`link = true`) or unlink `carrier` to or from
/// `barcode`, given the state in force and how many carriers the barcode
/// has linked now: the facts of the new message (generation one more than
/// the state's).
pub fn decide_link(
    state: &LinkResolution,
    barcode: &Carrier,
    carrier: &Carrier,
    link: bool,
    links_of_barcode: u32,
) -> Result<LinkFacts, LinkRefusal> {
    if barcode.kind != CarrierType::MobileBarcode || carrier.kind == CarrierType::MobileBarcode {
        return Err(LinkRefusal::NotLinkable);
    }
    match (state.linked_to(), link) {
        (Some(b), true) if b == barcode => return Err(LinkRefusal::AlreadyLinked),
        (Some(_), true) => return Err(LinkRefusal::LinkedElsewhere),
        (None, true) if links_of_barcode >= MAX_LINKS_PER_BARCODE => {
            return Err(LinkRefusal::TooMany);
        }
        (None, true) => {}
        (Some(b), false) if b == barcode => {}
        (_, false) => return Err(LinkRefusal::NotLinked),
    }
    Ok(LinkFacts {
        barcode: barcode.clone(),
        carrier: carrier.clone(),
        linked: link,
        generation: state.generation() + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn barcode(id: &str) -> Carrier {
        Carrier::parse(CarrierType::MobileBarcode, id).expect("barcode")
    }

    fn easycard() -> Carrier {
        Carrier::parse(CarrierType::Other("1K0001".into()), "0123456789").expect("card")
    }

    fn ev(h: u8, b: &str, linked: bool, generation: u64) -> LinkEvent {
        LinkEvent {
            hash: [h; 32],
            facts: LinkFacts {
                barcode: barcode(b),
                carrier: easycard(),
                linked,
                generation,
            },
        }
    }

    #[test]
    fn the_highest_generation_is_in_force_in_any_order() {
        let a = ev(9, "/ABC+123", true, 1);
        let b = ev(1, "/ABC+123", false, 2);
        let c = ev(5, "/XYZ-999", true, 3);
        for set in [
            vec![a.clone(), b.clone(), c.clone()],
            vec![c.clone(), a.clone(), b.clone(), a.clone()],
        ] {
            let r = resolve_link(&easycard(), &set);
            assert_eq!(r.linked_to(), Some(&barcode("/XYZ-999")));
            assert_eq!(r.generation(), 3);
            assert!(r.conflicts.is_empty());
        }
        let r = resolve_link(&easycard(), &[a, b]);
        assert_eq!(r.linked_to(), None);
        assert_eq!(r.generation(), 2);
    }

    #[test]
    fn same_generation_smallest_hash_wins() {
        let a = ev(7, "/ABC+123", true, 1);
        let b = ev(3, "/XYZ-999", true, 1);
        let r = resolve_link(&easycard(), &[a, b]);
        assert_eq!(r.linked_to(), Some(&barcode("/XYZ-999")));
        assert_eq!(
            r.conflicts,
            vec![Conflict {
                code: LINK_CONFLICT,
                winner: [3; 32],
                loser: [7; 32]
            }]
        );
    }

    #[test]
    fn decisions() {
        let none = resolve_link(&easycard(), &[]);
        let mine = barcode("/ABC+123");
        let facts = decide_link(&none, &mine, &easycard(), true, 0).expect("link");
        assert_eq!(facts.generation, 1);
        assert!(facts.linked);
        assert_eq!(
            decide_link(&none, &mine, &easycard(), false, 0),
            Err(LinkRefusal::NotLinked)
        );
        assert_eq!(
            decide_link(&none, &mine, &barcode("/XYZ-999"), true, 0),
            Err(LinkRefusal::NotLinkable)
        );
        let linked = resolve_link(&easycard(), &[ev(1, "/ABC+123", true, 1)]);
        assert_eq!(
            decide_link(&linked, &mine, &easycard(), true, 0),
            Err(LinkRefusal::AlreadyLinked)
        );
        assert_eq!(
            decide_link(&linked, &barcode("/XYZ-999"), &easycard(), true, 0),
            Err(LinkRefusal::LinkedElsewhere)
        );
        assert_eq!(
            decide_link(&linked, &barcode("/XYZ-999"), &easycard(), false, 0),
            Err(LinkRefusal::NotLinked)
        );
        assert_eq!(
            decide_link(&none, &mine, &easycard(), true, MAX_LINKS_PER_BARCODE),
            Err(LinkRefusal::TooMany)
        );
        let un = decide_link(&linked, &mine, &easycard(), false, 0).expect("unlink");
        assert_eq!((un.linked, un.generation), (false, 2));
    }
}
