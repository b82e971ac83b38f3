//! The append decisions, once, as plain functions over rows the backends
//! fetch: a message seen before (the original receipt, or
//! `DUPLICATE_CONFLICT`), a number outside every allocation
//! (`NUMBER_OUTSIDE_TRACK`), an allocation overlapping another
//! (`TRACK_OVERLAP`), and how an accepted message becomes projection columns
//! (the status an issue takes from held cancels and voids, the carrier /
//! love-code columns, the allowance amounts per invoice).
//!
//! The tenant check (`TENANT_SCOPE`) is [`crate::Scope::admit_message`].

use crate::AppendOutcome;
use crate::entry::Receipt;
use crate::error::Rejection;
use einvoice_core::validated::{AllowanceFacts, Delivery, InvoiceFacts, TrackRangeFacts};
use std::collections::BTreeMap;

/// Code: a different message with the same kind and natural key was accepted before.
pub const DUPLICATE_CONFLICT: &str = "DUPLICATE_CONFLICT";
/// Code: the invoice number lies in no range allocated to the seller for its period.
pub const NUMBER_OUTSIDE_TRACK: &str = "NUMBER_OUTSIDE_TRACK";
/// Code: an allocation (E0401) overlaps one already made.
pub const TRACK_OVERLAP: &str = "TRACK_OVERLAP";

/// A message already accepted under the same (kind, natural key): the
/// original receipt (marked duplicate) when the canonical body is the same,
/// else `DUPLICATE_CONFLICT` naming the original. `original` is the stored
/// entry's receipt; its `duplicate` flag is ignored.
// `AppendOutcome` is the trait's own type; its size is not ours to change.
#[allow(clippy::result_large_err)]
pub fn seen_before(kind: &str, key: &str, original: Receipt, same_body: bool) -> AppendOutcome {
    if same_body {
        return Ok(Receipt {
            duplicate: true,
            ..original
        });
    }
    let mut r = Rejection::new(
        DUPLICATE_CONFLICT,
        "",
        format!(
            "a different {kind} for {key} was already accepted as entry {}#{} ({}); send a cancel or void instead of a second version",
            original.origin, original.seq, original.hash
        ),
    );
    r.original = Some(Receipt {
        duplicate: false,
        ..original
    });
    Err(r)
}

/// `NUMBER_OUTSIDE_TRACK` for an invoice (F0401/A0101) whose number no
/// allocation of its seller and period covers.
pub fn outside_track(f: &InvoiceFacts) -> Rejection {
    Rejection::new(
        NUMBER_OUTSIDE_TRACK,
        "Main/InvoiceNumber",
        format!(
            "{} is not in a range allocated to seller {} for period {}; allocate a track (E0401) first",
            f.number, f.seller, f.period
        ),
    )
}

/// `TRACK_OVERLAP` for the range `begin`–`end` of allocation `f` that
/// overlaps a range already allocated to `owner` (a seller UBN).
pub fn track_overlap(f: &TrackRangeFacts, begin: u32, end: u32, owner: &str) -> Rejection {
    Rejection::new(
        TRACK_OVERLAP,
        "Details",
        format!(
            "{}{begin:08}–{end:08} in period {} overlaps a range already allocated to {owner}",
            f.track, f.period
        ),
    )
}

/// The ranges an allocation (E0401) makes: its detail items, or its whole
/// range when it has none.
pub fn track_ranges(f: &TrackRangeFacts) -> Vec<(u32, u32)> {
    if f.items.is_empty() {
        vec![(f.begin, f.end)]
    } else {
        f.items.iter().map(|(b, e, _)| (*b, *e)).collect()
    }
}

/// Status column of an invoice cancelled (F0501).
pub const STATUS_CANCELLED: &str = "cancelled";
/// Status column of an invoice voided (F0701).
pub const STATUS_VOIDED: &str = "voided";
/// Status column of an invoice issued and in force.
pub const STATUS_ISSUED: &str = "issued";

/// The status column a cancel (`true`, F0501) or void (`false`, F0701) sets
/// and is held under when it arrives before its invoice.
pub fn held_status(cancel: bool) -> &'static str {
    if cancel {
        STATUS_CANCELLED
    } else {
        STATUS_VOIDED
    }
}

/// The status column of a newly issued invoice, given whether a cancel and a
/// void of it were held: a held cancel dominates a held void (see
/// `einvoice_core::resolve`).
pub fn status_on_issue(cancel_held: bool, void_held: bool) -> &'static str {
    match (cancel_held, void_held) {
        (true, _) => STATUS_CANCELLED,
        (false, true) => STATUS_VOIDED,
        _ => STATUS_ISSUED,
    }
}

/// [`status_on_issue`] from the held rows' status columns.
pub fn status_on_issue_of<'a>(held: impl IntoIterator<Item = &'a str>) -> &'static str {
    let (mut cancel, mut void) = (false, false);
    for s in held {
        cancel |= s == STATUS_CANCELLED;
        void |= s == STATUS_VOIDED;
    }
    status_on_issue(cancel, void)
}

/// The columns of an invoice row that are not plain copies of its facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceColumns {
    /// Invoice date, MIG `YYYYMMDD`.
    pub date: String,
    /// Invoice time, `HH:MM:SS`.
    pub time: String,
    /// Buyer identifier as MIG writes it.
    pub buyer: String,
    /// RandomNumber, if any.
    pub random: Option<String>,
    /// Carrier type code (CarrierType), when kept on a carrier.
    pub carrier_type: Option<String>,
    /// Carrier id (CarrierId1), when kept on a carrier.
    pub carrier_id: Option<String>,
    /// Love code (NPOBAN), when donated.
    pub npoban: Option<String>,
}

impl InvoiceColumns {
    /// The columns of invoice `f`.
    pub fn of(f: &InvoiceFacts) -> Self {
        let (carrier_type, carrier_id, npoban) = match &f.delivery {
            Delivery::Carrier(c) => (Some(c.kind.code().to_string()), Some(c.id.clone()), None),
            Delivery::Donated(l) => (None, None, Some(l.as_str().to_string())),
            _ => (None, None, None),
        };
        Self {
            date: einvoice_core::period::format_mig_date(f.date),
            time: format!(
                "{:02}:{:02}:{:02}",
                f.time.hour(),
                f.time.minute(),
                f.time.second()
            ),
            buyer: f.buyer.mig_str(),
            random: f.random.as_ref().map(|x| x.as_str().to_string()),
            carrier_type,
            carrier_id,
            npoban,
        }
    }
}

/// An allowance (D0401)'s amount per original invoice number (NT$, tax
/// included, rounded half up), in invoice-number order.
pub fn allowance_per_invoice(a: &AllowanceFacts) -> BTreeMap<String, i64> {
    let mut per_invoice: BTreeMap<String, i64> = BTreeMap::new();
    for it in &a.items {
        let amount = einvoice_core::money::round_half_up(it.amount)
            .try_into()
            .unwrap_or(0i64)
            .saturating_add(it.tax.0);
        *per_invoice
            .entry(it.original_number.to_string())
            .or_default() += amount;
    }
    per_invoice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{EntryHash, Hlc};

    fn receipt() -> Receipt {
        Receipt {
            origin: "main".into(),
            seq: 7,
            hash: EntryHash([1; 32]),
            hlc: Hlc(9),
            kind: "F0401".into(),
            key: "invoice/04595257/AB00000001".into(),
            duplicate: false,
        }
    }

    #[test]
    fn a_resubmission_returns_the_original_and_a_different_body_conflicts() {
        let same = seen_before("F0401", "k", receipt(), true).expect("duplicate");
        assert!(same.duplicate);
        assert_eq!(same.seq, 7);
        let r = seen_before("F0401", "k", receipt(), false).expect_err("conflict");
        assert_eq!(r.code, DUPLICATE_CONFLICT);
        assert!(r.message.contains("entry main#7"), "{}", r.message);
        let original = r.original.expect("names the original");
        assert!(!original.duplicate);
        assert_eq!(original.seq, 7);
    }

    #[test]
    fn a_held_cancel_dominates_a_held_void() {
        assert_eq!(status_on_issue(false, false), STATUS_ISSUED);
        assert_eq!(status_on_issue(false, true), STATUS_VOIDED);
        assert_eq!(status_on_issue(true, true), STATUS_CANCELLED);
        assert_eq!(
            status_on_issue_of(["voided", "cancelled"]),
            STATUS_CANCELLED
        );
        assert_eq!(status_on_issue_of([]), STATUS_ISSUED);
        assert_eq!(
            (held_status(true), held_status(false)),
            ("cancelled", "voided")
        );
    }
}
