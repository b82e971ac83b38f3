//! Donating a carrier invoice (發票捐贈) after issue: the citizen's donation
//! message, and which donation of an invoice applies, as a pure function of
//! the **set** of donation messages (like [`crate::resolve`]).
//!
//! | situation | outcome |
//! | --- | --- |
//! | the invoice was donated at issue (`DonateMark=1`, NPOBAN) | that love code stays; every donation message is a `DONATION_CONFLICT` |
//! | a donation naming another carrier, seller or number | not applied: `DONATION_MISMATCH` |
//! | the invoice is not on a carrier, or has a business buyer | not applied: `DONATION_NOT_DONATABLE` |
//! | several donations of the invoice | the one with the **smallest hash** wins; the others are `DONATION_CONFLICT` |
//!
//! Identical messages (same hash) count once; the order does not matter, so
//! sites that took donations of the same invoice agree once they exchange them.

use crate::ids::{Carrier, InvoiceNumber, LoveCode, Ubn};
use crate::resolve::{Conflict, MessageHash};
use std::collections::BTreeMap;

/// A donation message's facts: the carrier's owner gives the invoice's prize
/// to the NPO of `love_code` (愛心碼).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonationFacts {
    /// The invoice's seller (賣方統一編號).
    pub seller: Ubn,
    /// The invoice number (發票號碼).
    pub number: InvoiceNumber,
    /// The carrier (載具) the invoice is on, authenticated by its verification code.
    pub carrier: Carrier,
    /// The donation target (NPOBAN, 愛心碼).
    pub love_code: LoveCode,
}

/// One donation message with the SHA-256 of its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonationEvent {
    /// Identity of the message.
    pub hash: MessageHash,
    /// Its facts.
    pub facts: DonationFacts,
}

/// What a donation is checked against: the issued invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonationTarget {
    /// Seller of the invoice.
    pub seller: Ubn,
    /// Invoice number.
    pub number: InvoiceNumber,
    /// The carrier the invoice was issued on, if any.
    pub carrier: Option<Carrier>,
    /// Love code given at issue (`DonateMark=1`), if any.
    pub donated_at_issue: Option<LoveCode>,
    /// The buyer is a business (B2B invoices take no part in the draw).
    pub business_buyer: bool,
}

/// The donation state of one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonationResolution {
    /// The love code the invoice's prize goes to, if donated.
    pub love_code: Option<LoveCode>,
    /// The applied donation message (none when donated at issue or not donated).
    pub applied: Option<MessageHash>,
    /// Donation messages not applied, sorted.
    pub conflicts: Vec<Conflict>,
}

/// Rule names of [`Conflict::code`] for donations.
pub mod codes {
    /// Another donation (or the donation at issue) won.
    pub const DONATION_CONFLICT: &str = "DONATION_CONFLICT";
    /// The message names another carrier, seller or number than the invoice's.
    pub const DONATION_MISMATCH: &str = "DONATION_MISMATCH";
    /// The invoice cannot be donated by a carrier (no carrier, or B2B).
    pub const DONATION_NOT_DONATABLE: &str = "DONATION_NOT_DONATABLE";
}

/// Resolve which donation of `target` applies from a set of donation events.
/// Events about other invoices are ignored.
pub fn resolve_donation(target: &DonationTarget, events: &[DonationEvent]) -> DonationResolution {
    let set: BTreeMap<MessageHash, &DonationFacts> = events
        .iter()
        .filter(|e| e.facts.number == target.number && e.facts.seller == target.seller)
        .map(|e| (e.hash, &e.facts))
        .collect();
    let mut conflicts = Vec::new();
    let mut valid = Vec::new();
    for (h, f) in &set {
        let not_donatable = target.carrier.is_none() || target.business_buyer;
        if not_donatable {
            conflicts.push(Conflict {
                code: codes::DONATION_NOT_DONATABLE,
                winner: *h,
                loser: *h,
            });
        } else if target.carrier.as_ref() != Some(&f.carrier) {
            conflicts.push(Conflict {
                code: codes::DONATION_MISMATCH,
                winner: *h,
                loser: *h,
            });
        } else {
            valid.push((*h, *f));
        }
    }
    let (love_code, applied) = match (&target.donated_at_issue, valid.first()) {
        (Some(code), _) => {
            for (h, _) in &valid {
                conflicts.push(Conflict {
                    code: codes::DONATION_CONFLICT,
                    winner: *h,
                    loser: *h,
                });
            }
            (Some(code.clone()), None)
        }
        (None, Some((first, facts))) => {
            for (h, _) in valid.iter().skip(1) {
                conflicts.push(Conflict {
                    code: codes::DONATION_CONFLICT,
                    winner: *first,
                    loser: *h,
                });
            }
            (Some(facts.love_code.clone()), Some(*first))
        }
        (None, None) => (None, None),
    };
    conflicts.sort();
    DonationResolution {
        love_code,
        applied,
        conflicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CarrierType;
    use proptest::prelude::*;

    fn carrier(id: &str) -> Carrier {
        Carrier::parse(CarrierType::MobileBarcode, id).expect("barcode")
    }

    fn target() -> DonationTarget {
        DonationTarget {
            seller: Ubn::parse("04595257").expect("ubn"),
            number: InvoiceNumber::parse("AB12345678").expect("number"),
            carrier: Some(carrier("/ABC+123")),
            donated_at_issue: None,
            business_buyer: false,
        }
    }

    fn event(h: u8, id: &str, code: &str) -> DonationEvent {
        DonationEvent {
            hash: [h; 32],
            facts: DonationFacts {
                seller: Ubn::parse("04595257").expect("ubn"),
                number: InvoiceNumber::parse("AB12345678").expect("number"),
                carrier: carrier(id),
                love_code: LoveCode::parse(code).expect("love code"),
            },
        }
    }

    #[test]
    fn the_invoices_own_carrier_donates() {
        let r = resolve_donation(&target(), &[event(7, "/ABC+123", "919")]);
        assert_eq!(r.love_code.as_ref().map(LoveCode::as_str), Some("919"));
        assert_eq!(r.applied, Some([7; 32]));
        assert!(r.conflicts.is_empty());
    }

    #[test]
    fn another_carrier_cannot_donate() {
        let r = resolve_donation(&target(), &[event(7, "/ZZZ+999", "919")]);
        assert_eq!(r.love_code, None);
        assert_eq!(r.conflicts[0].code, codes::DONATION_MISMATCH);
    }

    #[test]
    fn donation_at_issue_stays() {
        let mut t = target();
        t.donated_at_issue = Some(LoveCode::parse("168").expect("love code"));
        let r = resolve_donation(&t, &[event(7, "/ABC+123", "919")]);
        assert_eq!(r.love_code.as_ref().map(LoveCode::as_str), Some("168"));
        assert_eq!(r.applied, None);
        assert_eq!(r.conflicts[0].code, codes::DONATION_CONFLICT);
    }

    #[test]
    fn printed_or_b2b_invoices_are_not_donatable_by_a_carrier() {
        let mut t = target();
        t.carrier = None;
        let r = resolve_donation(&t, &[event(7, "/ABC+123", "919")]);
        assert_eq!(r.love_code, None);
        assert_eq!(r.conflicts[0].code, codes::DONATION_NOT_DONATABLE);
        let mut t = target();
        t.business_buyer = true;
        assert_eq!(
            resolve_donation(&t, &[event(7, "/ABC+123", "919")]).love_code,
            None
        );
    }

    proptest! {
        /// Order and duplicates do not change the outcome; the smallest hash wins.
        #[test]
        fn order_and_duplicates_do_not_matter(
            hashes in proptest::collection::vec(0u8..20, 1..8),
            codes in proptest::collection::vec(100u32..9_999_999, 8),
            seed in any::<u64>(),
        ) {
            let events: Vec<DonationEvent> = hashes
                .iter()
                .map(|h| event(*h, "/ABC+123", &codes[usize::from(*h) % codes.len()].to_string()))
                .collect();
            let forward = resolve_donation(&target(), &events);
            let mut shuffled = events.clone();
            shuffled.extend(events.iter().take(2).cloned());
            let n = shuffled.len();
            for i in 0..n {
                let j = usize::try_from(seed.rotate_left(u32::try_from(i).unwrap_or(0)) % n as u64).unwrap_or(0);
                shuffled.swap(i, j);
            }
            let again = resolve_donation(&target(), &shuffled);
            prop_assert_eq!(&forward, &again);
            let min = hashes.iter().min().copied().unwrap_or(0);
            prop_assert_eq!(forward.applied, Some([min; 32]));
        }
    }
}
