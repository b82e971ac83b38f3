//! The write path: ledger entries and their projections in the writer's transaction.

use crate::read::hash_of;
use crate::{Head, backend};
use einvoice_core::{Facts, Validated};
use einvoice_store::append_rules::{
    InvoiceColumns, allowance_per_invoice, held_status, outside_track, seen_before,
    status_on_issue_of, track_overlap, track_ranges,
};
use einvoice_store::{
    AdmittedMessage, AppendOutcome, Hlc, NewEntry, Receipt, Rejection, StoreError, body_digest,
    hash_entry_v2,
};
use rusqlite::{OptionalExtension, Transaction, params};

/// Every SQL statement of this module.
pub(crate) mod sql {
    /// An origin's last entry (the chain head the writer continues).
    pub(crate) const HEAD_OF_ORIGIN: &str =
        "SELECT seq, hash, hlc FROM ledger WHERE origin = ?1 ORDER BY seq DESC LIMIT 1";
    /// Append one ledger entry.
    pub(crate) const INSERT_ENTRY: &str = "INSERT INTO ledger (origin, seq, hlc, kind, key, actor, body, prev_hash, hash, body_digest, withheld, body_codec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
    /// The entry of a (kind, natural key), if any (idempotency).
    pub(crate) const SEEN_BEFORE: &str =
        "SELECT origin, seq, hlc, body, hash, body_codec FROM ledger WHERE kind = ?1 AND key = ?2";
    /// Whether an allocation of the seller and period covers a number.
    pub(crate) const NUMBER_IN_TRACK: &str = "SELECT 1 FROM tracks WHERE seller = ?1 AND period = ?2 AND track = ?3 AND begin <= ?4 AND end >= ?4";
    /// The owner of an allocation overlapping a range, if any.
    pub(crate) const TRACK_CLASH: &str = "SELECT seller FROM tracks WHERE period = ?1 AND track = ?2 AND begin <= ?4 AND end >= ?3 LIMIT 1";
    /// Cancels / voids held for an invoice.
    pub(crate) const HELD_FOR: &str = "SELECT status FROM held WHERE seller = ?1 AND number = ?2";
    /// Net allowances against an invoice.
    pub(crate) const ALLOWANCE_SUM: &str = "SELECT coalesce(sum(amount), 0) FROM allowances WHERE seller = ?1 AND invoice = ?2 AND cancelled = 0";
    /// Project an issued invoice (its body stays in the ledger; `detail` is
    /// the carrier read projection).
    pub(crate) const INSERT_INVOICE: &str = "INSERT INTO invoices (seller, number, period, date, time, buyer, random, carrier_type, carrier_id, npoban, total, status, detail, origin, seq, allowance) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
    /// Hold a cancel / void (applied when its invoice arrives).
    pub(crate) const HOLD: &str =
        "INSERT OR IGNORE INTO held (seller, number, status) VALUES (?1, ?2, ?3)";
    /// An allowance against one invoice.
    pub(crate) const INSERT_ALLOWANCE: &str =
        "INSERT INTO allowances (seller, allowance, invoice, amount) VALUES (?1, ?2, ?3, ?4)";
    /// The invoices an allowance names.
    pub(crate) const INVOICES_OF_ALLOWANCE: &str =
        "SELECT invoice FROM allowances WHERE seller = ?1 AND allowance = ?2";
    /// Cancel an allowance.
    pub(crate) const CANCEL_ALLOWANCE: &str =
        "UPDATE allowances SET cancelled = 1 WHERE seller = ?1 AND allowance = ?2";
    /// One allocated range.
    pub(crate) const INSERT_TRACK: &str =
        "INSERT INTO tracks (seller, period, track, begin, end) VALUES (?1, ?2, ?3, ?4, ?5)";
    /// Recompute an invoice's net allowances.
    pub(crate) const REFRESH_ALLOWANCE: &str = "UPDATE invoices SET allowance = (SELECT coalesce(sum(amount), 0) FROM allowances WHERE seller = ?1 AND invoice = ?2 AND cancelled = 0) WHERE seller = ?1 AND number = ?2";
    /// A cancel applies whatever the invoice's status (it dominates a void).
    pub(crate) const CANCEL_INVOICE: &str =
        "UPDATE invoices SET status = 'cancelled' WHERE seller = ?1 AND number = ?2";
    /// A void applies to an issued invoice only.
    pub(crate) const VOID_INVOICE: &str = "UPDATE invoices SET status = 'voided' WHERE seller = ?1 AND number = ?2 AND status = 'issued'";
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// How often (in entries of this site's origin) the writer checks whether
/// the store has enough bodies to train its body dictionary.
pub(crate) const TRAIN_CHECK_EVERY: u64 = 500;

/// Append one ledger row (format v2, body present) at the head and advance the head.
pub(crate) fn push_entry(
    t: &Transaction<'_>,
    head: &mut Head,
    site: &str,
    kind: &str,
    key: &str,
    actor: &str,
    body: &[u8],
) -> Result<Receipt, StoreError> {
    let seq = head.seq + 1;
    let hlc = Hlc::now_after(head.hlc);
    let digest = body_digest(body);
    let hash = hash_entry_v2(&head.hash, site, seq, hlc, kind, key, actor, &digest);
    let (stored, codec) = crate::bodies::pack(t, body)?;
    t.prepare_cached(sql::INSERT_ENTRY)
        .map_err(backend)?
        .execute(params![
            site,
            i64_of(seq),
            i64_of(hlc.0),
            kind,
            key,
            actor,
            stored,
            &head.hash.0[..],
            &hash.0[..],
            &digest.0[..],
            false,
            codec
        ])
        .map_err(backend)?;
    *head = Head { seq, hash, hlc };
    if seq.is_multiple_of(TRAIN_CHECK_EVERY) {
        crate::bodies::train_if_due(t)?;
    }
    Ok(Receipt::appended(site, seq, hash, hlc, kind, key))
}

/// Append an event entry (no idempotency: every event is new).
pub(crate) fn append_event(
    t: &Transaction<'_>,
    head: &mut Head,
    site: &str,
    e: &NewEntry,
) -> Result<Receipt, StoreError> {
    push_entry(t, head, site, &e.kind, &e.key, &e.actor, &e.body)
}

/// A validated message with its natural key and canonical body, computed by
/// the caller's thread so the single writer thread only does SQL and hashing.
pub(crate) struct Prepared {
    pub v: Validated,
    pub key: String,
    pub body: Vec<u8>,
}

impl Prepared {
    /// Key and canonical body of an admitted message.
    pub fn new(m: AdmittedMessage) -> Self {
        let v = m.into_message();
        let key = v.key().to_key_string();
        let body = einvoice_mig::canonical(&v.message);
        Self { v, key, body }
    }
}

/// Append validated messages; one outcome each.
pub(crate) fn append_messages(
    t: &Transaction<'_>,
    head: &mut Head,
    site: &str,
    actor: &str,
    msgs: &[Result<Prepared, Rejection>],
) -> Result<Vec<AppendOutcome>, StoreError> {
    msgs.iter()
        .map(|p| match p {
            Ok(p) => append_one(t, head, site, actor, p),
            Err(refused) => Ok(Err(refused.clone())),
        })
        .collect()
}

fn append_one(
    t: &Transaction<'_>,
    head: &mut Head,
    site: &str,
    actor: &str,
    p: &Prepared,
) -> Result<AppendOutcome, StoreError> {
    let v = &p.v;
    let kind = v.kind().as_str();
    let key = p.key.clone();
    let body = &p.body;

    // Idempotency by (kind, natural key).
    let existing = t
        .prepare_cached(sql::SEEN_BEFORE)
        .map_err(backend)?
        .query_row(params![kind, key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .optional()
        .map_err(backend)?;
    if let Some((origin, seq, hlc, old_body, hash, codec)) = existing {
        let old_body = crate::bodies::unpack(t, old_body, codec)?;
        let original = Receipt {
            origin,
            seq: u64::try_from(seq).unwrap_or(0),
            hash: hash_of(&hash),
            hlc: Hlc(u64::try_from(hlc).unwrap_or(0)),
            kind: kind.to_string(),
            key: key.clone(),
            duplicate: false,
        };
        return Ok(seen_before(kind, &key, original, old_body == *body));
    }

    match &v.facts {
        Facts::Invoice(f) => {
            let inside: Option<i64> = t
                .prepare_cached(sql::NUMBER_IN_TRACK)
                .map_err(backend)?
                .query_row(
                    params![
                        f.seller.as_str(),
                        f.period.key(),
                        f.number.track().as_str(),
                        f.number.number()
                    ],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            if inside.is_none() {
                return Ok(Err(outside_track(f)));
            }
        }
        Facts::TrackAllocation(f) => {
            for (b, e) in &track_ranges(f) {
                let clash: Option<String> = t
                    .prepare_cached(sql::TRACK_CLASH)
                    .map_err(backend)?
                    .query_row(params![f.period.key(), f.track.as_str(), b, e], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(backend)?;
                if let Some(owner) = clash {
                    return Ok(Err(track_overlap(f, *b, *e, &owner)));
                }
            }
        }
        _ => {}
    }

    let receipt = push_entry(t, head, site, kind, &key, actor, body)?;
    project(t, &receipt, &v.facts, body)?;
    Ok(Ok(receipt))
}

/// Update the projections for one accepted message.
pub(crate) fn project(
    t: &Transaction<'_>,
    r: &Receipt,
    facts: &Facts,
    body: &[u8],
) -> Result<(), StoreError> {
    match facts {
        Facts::Invoice(f) => {
            let held: Vec<String> = {
                let mut st = t.prepare_cached(sql::HELD_FOR).map_err(backend)?;
                let rows = st
                    .query_map(params![f.seller.as_str(), f.number.to_string()], |row| {
                        row.get(0)
                    })
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            let status = status_on_issue_of(held.iter().map(String::as_str));
            let cols = InvoiceColumns::of(f);
            // Allowances that arrived earlier, summed into the new row (one
            // insert instead of an insert and an update).
            let number = f.number.to_string();
            let allowance: i64 = t
                .prepare_cached(sql::ALLOWANCE_SUM)
                .map_err(backend)?
                .query_row(params![f.seller.as_str(), number], |r| r.get(0))
                .map_err(backend)?;
            t.prepare_cached(sql::INSERT_INVOICE)
                .map_err(backend)?
                .execute(params![
                    f.seller.as_str(),
                    number,
                    f.period.key(),
                    cols.date,
                    cols.time,
                    cols.buyer,
                    cols.random,
                    cols.carrier_type,
                    cols.carrier_id,
                    cols.npoban,
                    f.total.0,
                    status,
                    crate::carrier_read::detail_of(body)?,
                    r.origin,
                    i64_of(r.seq),
                    allowance,
                ])
                .map_err(backend)?;
        }
        Facts::Cancel(c) | Facts::Void(c) => {
            let status = held_status(matches!(facts, Facts::Cancel(_)));
            t.prepare_cached(sql::HOLD)
                .map_err(backend)?
                .execute(params![c.seller.as_str(), c.number.to_string(), status])
                .map_err(backend)?;
            // Cancel dominates void whatever the order.
            let sql = if status == "cancelled" {
                sql::CANCEL_INVOICE
            } else {
                sql::VOID_INVOICE
            };
            t.prepare_cached(sql)
                .map_err(backend)?
                .execute(params![c.seller.as_str(), c.number.to_string()])
                .map_err(backend)?;
        }
        Facts::Allowance(a) => {
            for (inv, amount) in allowance_per_invoice(a) {
                t.prepare_cached(sql::INSERT_ALLOWANCE)
                    .map_err(backend)?
                    .execute(params![a.seller.as_str(), a.number, inv, amount])
                    .map_err(backend)?;
                refresh_allowance(t, a.seller.as_str(), &inv)?;
            }
        }
        Facts::CancelAllowance(c) => {
            let invoices: Vec<String> = {
                let mut st = t
                    .prepare_cached(sql::INVOICES_OF_ALLOWANCE)
                    .map_err(backend)?;
                let rows = st
                    .query_map(params![c.seller.as_str(), c.number], |row| row.get(0))
                    .map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            t.prepare_cached(sql::CANCEL_ALLOWANCE)
                .map_err(backend)?
                .execute(params![c.seller.as_str(), c.number])
                .map_err(backend)?;
            for inv in invoices {
                refresh_allowance(t, c.seller.as_str(), &inv)?;
            }
        }
        Facts::TrackAllocation(f) => {
            for (b, e) in track_ranges(f) {
                t.prepare_cached(sql::INSERT_TRACK)
                    .map_err(backend)?
                    .execute(params![
                        f.seller.as_str(),
                        f.period.key(),
                        f.track.as_str(),
                        b,
                        e
                    ])
                    .map_err(backend)?;
            }
        }
        Facts::Blank(_) => {}
    }
    Ok(())
}

fn refresh_allowance(t: &Transaction<'_>, seller: &str, invoice: &str) -> Result<(), StoreError> {
    t.prepare_cached(sql::REFRESH_ALLOWANCE)
        .map_err(backend)?
        .execute(params![seller, invoice])
        .map_err(backend)?;
    Ok(())
}
