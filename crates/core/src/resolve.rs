//! Invoice state resolution: the state of one invoice as a pure function of
//! the **set** of messages about it (DESIGN.md, principle 2).
//!
//! Input: [`Event`]s — typed facts of validated messages with the SHA-256 of
//! each message's canonical bytes. Output: a [`Resolution`]. The result does
//! not depend on the order of the events or on duplicates: events are first
//! reduced to a set keyed by hash, and every choice below is made on that set.
//!
//! | situation | outcome |
//! | --- | --- |
//! | identical message twice (same hash) | one event; nothing to report |
//! | two different F0401/A0101 for the number | the one with the **smallest hash** wins on every machine; the other is a [`Conflict`] |
//! | two different F0501 (or F0701) | smallest hash wins; the other is a conflict |
//! | F0501 or F0701 but no issue yet | state [`InvoiceState::Pending`]; the event is **held** (listed in `held`), never lost; it applies as soon as the issue is in the set |
//! | cancel or void whose InvoiceDate or seller differs from the issue | not applied; reported as a conflict |
//! | both a valid cancel and a valid void | [`InvoiceState::Cancelled`] (a cancel says the sale did not happen; it dominates) |
//! | G0401 referring to the invoice | applied while the invoice is issued and the allowance is not cancelled (G0501 with the same number); otherwise held |
//! | two different G0401 with the same allowance number | smallest hash wins; conflict |
//!
//! Merging: resolving the union of two sets equals resolving their
//! concatenation in any order, so sites can exchange messages freely.

use crate::ids::InvoiceNumber;
use crate::money::{Decimal, Money, round_half_up};
use crate::validated::{AllowanceFacts, CancelFacts, Facts, InvoiceFacts};
use std::collections::BTreeMap;

/// A SHA-256 of a message's canonical bytes.
pub type MessageHash = [u8; 32];

/// One message about an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// SHA-256 of the message's canonical bytes (identity of the message).
    pub hash: MessageHash,
    /// Its validated facts.
    pub facts: Facts,
}

/// The resolved state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceState {
    /// Nothing about the invoice is known.
    Absent,
    /// A cancel or void arrived but the issue has not: held.
    Pending,
    /// Issued and in force.
    Issued,
    /// Cancelled (F0501).
    Cancelled,
    /// Voided (F0701).
    Voided,
}

/// A message that lost to another for the same slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Conflict {
    /// Rule that decided it, e.g. `ISSUE_CONFLICT`, `CANCEL_MISMATCH`.
    pub code: &'static str,
    /// The message that won (or the issue it failed to match).
    pub winner: MessageHash,
    /// The message that lost.
    pub loser: MessageHash,
}

/// The state of one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The state.
    pub state: InvoiceState,
    /// The winning issue.
    pub issue: Option<MessageHash>,
    /// The applied cancel.
    pub cancel: Option<MessageHash>,
    /// The applied void.
    pub void: Option<MessageHash>,
    /// Applied allowances (allowance number → winning G0401 hash).
    pub allowances: BTreeMap<String, MessageHash>,
    /// Net allowances against this invoice (ex-tax amount + tax, rounded half up).
    pub allowance_total: Money,
    /// Losers, sorted.
    pub conflicts: Vec<Conflict>,
    /// Events kept but not applied yet (cancel before issue, allowance while
    /// not issued), sorted.
    pub held: Vec<MessageHash>,
}

/// Smallest-hash winner of a slot; every other member is a conflict.
fn pick<T>(
    mut v: Vec<(MessageHash, T)>,
    code: &'static str,
    conflicts: &mut Vec<Conflict>,
) -> Option<(MessageHash, T)> {
    v.sort_by_key(|a| a.0);
    let mut it = v.into_iter();
    let first = it.next()?;
    for (h, _) in it {
        conflicts.push(Conflict {
            code,
            winner: first.0,
            loser: h,
        });
    }
    Some(first)
}

fn matches(issue: &InvoiceFacts, c: &CancelFacts) -> bool {
    issue.seller == c.seller && issue.number == c.number && issue.date == c.invoice_date
}

/// Resolve the state of `number` from a set of events (others are ignored).
pub fn resolve(number: InvoiceNumber, events: &[Event]) -> Resolution {
    // The set: one entry per hash.
    let set: BTreeMap<MessageHash, &Facts> = events.iter().map(|e| (e.hash, &e.facts)).collect();
    let mut conflicts = Vec::new();
    let mut held = Vec::new();
    let (mut issues, mut cancels, mut voids) = (Vec::new(), Vec::new(), Vec::new());
    let mut allowances: BTreeMap<&str, Vec<(MessageHash, &AllowanceFacts)>> = BTreeMap::new();
    let mut allowance_cancels: BTreeMap<&str, Vec<MessageHash>> = BTreeMap::new();
    for (h, f) in &set {
        match f {
            Facts::Invoice(i) if i.number == number => issues.push((*h, i)),
            Facts::Cancel(c) if c.number == number => cancels.push((*h, c)),
            Facts::Void(c) if c.number == number => voids.push((*h, c)),
            Facts::Allowance(a) if a.items.iter().any(|it| it.original_number == number) => {
                allowances
                    .entry(a.number.as_str())
                    .or_default()
                    .push((*h, a));
            }
            Facts::CancelAllowance(c) => allowance_cancels
                .entry(c.number.as_str())
                .or_default()
                .push(*h),
            _ => {}
        }
    }
    let issue = pick(issues, "ISSUE_CONFLICT", &mut conflicts);
    let cancel = pick(cancels, "CANCEL_CONFLICT", &mut conflicts);
    let void = pick(voids, "VOID_CONFLICT", &mut conflicts);

    let mut res = Resolution {
        state: InvoiceState::Absent,
        issue: issue.as_ref().map(|x| x.0),
        cancel: None,
        void: None,
        allowances: BTreeMap::new(),
        allowance_total: Money::ZERO,
        conflicts: Vec::new(),
        held: Vec::new(),
    };
    match &issue {
        None => {
            for (h, _) in cancel.iter().chain(void.iter()) {
                held.push(*h);
            }
            if !held.is_empty() {
                res.state = InvoiceState::Pending;
            }
        }
        Some((ih, i)) => {
            res.state = InvoiceState::Issued;
            let mut apply = |slot: Option<(MessageHash, &CancelFacts)>,
                             code: &'static str|
             -> Option<MessageHash> {
                let (h, c) = slot?;
                if matches(i, c) {
                    Some(h)
                } else {
                    conflicts.push(Conflict {
                        code,
                        winner: *ih,
                        loser: h,
                    });
                    None
                }
            };
            res.cancel = apply(cancel, "CANCEL_MISMATCH");
            res.void = apply(void, "VOID_MISMATCH");
            if res.cancel.is_some() {
                res.state = InvoiceState::Cancelled;
            } else if res.void.is_some() {
                res.state = InvoiceState::Voided;
            }
        }
    }

    let mut total = Decimal::ZERO;
    for (number_key, list) in allowances {
        let Some((h, a)) = pick(list, "ALLOWANCE_CONFLICT", &mut conflicts) else {
            continue;
        };
        let cancelled = allowance_cancels.contains_key(number_key);
        if cancelled {
            continue;
        }
        if res.state != InvoiceState::Issued {
            held.push(h);
            continue;
        }
        for it in a.items.iter().filter(|it| it.original_number == number) {
            total = total
                .checked_add(it.amount)
                .and_then(|t| t.checked_add(Decimal::from(it.tax.0)))
                .unwrap_or(total);
        }
        res.allowances.insert(number_key.to_string(), h);
    }
    res.allowance_total = Money(i64::try_from(round_half_up(total)).unwrap_or(i64::MAX));
    conflicts.sort();
    held.sort();
    res.conflicts = conflicts;
    res.held = held;
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{BuyerId, Ubn};
    use crate::period::Period;
    use crate::validated::{AllowanceItemFacts, CancelAllowanceFacts, Delivery};
    use proptest::prelude::*;
    use time::macros::{date, time};

    fn num() -> InvoiceNumber {
        InvoiceNumber::parse("AB12345678").expect("number")
    }
    fn seller() -> Ubn {
        Ubn::parse("04595257").expect("ubn")
    }
    fn issue(total: i64) -> Facts {
        Facts::Invoice(InvoiceFacts {
            number: num(),
            period: Period::parse("11402").expect("p"),
            date: date!(2025 - 01 - 15),
            time: time!(10:00),
            seller: seller(),
            seller_name: "S".into(),
            buyer: BuyerId::Consumer,
            random: None,
            delivery: Delivery::Printed,
            items: vec![],
            sales: Money(total),
            free_tax_sales: Money::ZERO,
            zero_tax_sales: Money::ZERO,
            tax: Money::ZERO,
            total: Money(total),
            tax_type: 1,
            tax_rate: Decimal::new(5, 2),
        })
    }
    fn cancel(reason: &str, inv_date: time::Date) -> CancelFacts {
        CancelFacts {
            number: num(),
            invoice_date: inv_date,
            seller: seller(),
            buyer: BuyerId::Consumer,
            date: date!(2025 - 01 - 16),
            time: time!(9:00),
            reason: reason.into(),
        }
    }
    fn allowance(no: &str, amount: i64, tax: i64) -> Facts {
        Facts::Allowance(AllowanceFacts {
            number: no.into(),
            date: date!(2025 - 01 - 20),
            seller: seller(),
            buyer: BuyerId::Consumer,
            items: vec![AllowanceItemFacts {
                original_number: num(),
                original_date: date!(2025 - 01 - 15),
                original_sequence: None,
                quantity: Decimal::ONE,
                unit_price: Decimal::from(amount),
                amount: Decimal::from(amount),
                tax: Money(tax),
                tax_type: 1,
            }],
            tax: Money(tax),
            total: Money(amount),
        })
    }
    fn cancel_allowance(no: &str) -> Facts {
        Facts::CancelAllowance(CancelAllowanceFacts {
            number: no.into(),
            allowance_date: date!(2025 - 01 - 20),
            seller: seller(),
            buyer: BuyerId::Consumer,
            date: date!(2025 - 01 - 21),
            time: time!(9:00),
        })
    }
    fn ev(tag: u8, facts: Facts) -> Event {
        let mut hash = [0u8; 32];
        hash[0] = tag;
        Event { hash, facts }
    }

    /// A pool of events covering every rule, with distinct hashes.
    fn pool() -> Vec<Event> {
        vec![
            ev(10, issue(100)),
            ev(11, issue(200)),
            ev(20, Facts::Cancel(cancel("a", date!(2025 - 01 - 15)))),
            ev(21, Facts::Cancel(cancel("b", date!(2025 - 01 - 15)))),
            ev(25, Facts::Void(cancel("v", date!(2025 - 01 - 14)))),
            ev(30, allowance("AL1", 19, 1)),
            ev(31, allowance("AL1", 40, 2)),
            ev(32, allowance("AL2", 50, 3)),
            ev(40, cancel_allowance("AL2")),
        ]
    }

    #[test]
    fn cancel_before_issue_is_held_then_applied() {
        let c = ev(20, Facts::Cancel(cancel("a", date!(2025 - 01 - 15))));
        let r = resolve(num(), std::slice::from_ref(&c));
        assert_eq!(r.state, InvoiceState::Pending);
        assert_eq!(r.held, vec![c.hash]);
        let r = resolve(num(), &[c.clone(), ev(10, issue(100))]);
        assert_eq!(r.state, InvoiceState::Cancelled);
        assert_eq!(r.cancel, Some(c.hash));
        assert!(r.held.is_empty());
    }

    #[test]
    fn smallest_hash_wins_and_the_loser_is_reported() {
        let r = resolve(num(), &[ev(11, issue(200)), ev(10, issue(100))]);
        assert_eq!(r.issue.map(|h| h[0]), Some(10));
        assert_eq!(r.conflicts.len(), 1);
        assert_eq!(
            (r.conflicts[0].code, r.conflicts[0].loser[0]),
            ("ISSUE_CONFLICT", 11)
        );
    }

    #[test]
    fn the_whole_pool_resolves_as_documented() {
        let r = resolve(num(), &pool());
        // Cancel 20 matches; void 25 names the wrong invoice date.
        assert_eq!(r.state, InvoiceState::Cancelled);
        assert!(r.conflicts.iter().any(|c| c.code == "VOID_MISMATCH"));
        // Not issued any more, so the live allowance AL1 is held; AL2 was cancelled.
        assert_eq!(r.held.iter().map(|h| h[0]).collect::<Vec<_>>(), vec![30]);
        let issued_only: Vec<Event> = pool()
            .into_iter()
            .filter(|e| !matches!(e.facts, Facts::Cancel(_)))
            .collect();
        let r = resolve(num(), &issued_only);
        assert_eq!(r.state, InvoiceState::Issued);
        assert_eq!(r.allowance_total, Money(20)); // AL1 winner (hash 30): 19 + 1
        assert_eq!(r.allowances.len(), 1);
    }

    proptest! {
        #[test]
        fn order_and_duplicates_do_not_matter(
            picks in proptest::collection::vec(0usize..9, 0..20),
            seed in any::<u64>(),
        ) {
            let pool = pool();
            let chosen: Vec<Event> = picks.iter().map(|i| pool[*i].clone()).collect();
            let base = resolve(num(), &chosen);
            // A deterministic shuffle with duplicates added.
            let mut shuffled = chosen.clone();
            shuffled.extend(chosen.iter().take((seed % 5) as usize).cloned());
            let n = shuffled.len();
            let mut s = seed;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(resolve(num(), &shuffled), base);
        }

        #[test]
        fn union_is_independent_of_how_it_was_formed(
            a in proptest::collection::vec(0usize..9, 0..9),
            b in proptest::collection::vec(0usize..9, 0..9),
        ) {
            let pool = pool();
            let ea: Vec<Event> = a.iter().map(|i| pool[*i].clone()).collect();
            let eb: Vec<Event> = b.iter().map(|i| pool[*i].clone()).collect();
            let ab: Vec<Event> = ea.iter().chain(eb.iter()).cloned().collect();
            let ba: Vec<Event> = eb.iter().chain(ea.iter()).cloned().collect();
            prop_assert_eq!(resolve(num(), &ab), resolve(num(), &ba));
        }
    }
}
