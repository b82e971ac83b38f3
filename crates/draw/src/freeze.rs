//! `draw freeze`: the period's eligible invoices paged out of the store into
//! a snapshot file, its root recorded once with a `DRAW_FREEZE` ledger entry.

use crate::{DrawError, Event, operator_actor};
use einvoice_analytics::snapshot::{EligibleInvoice, SnapshotWriter, hex};
use einvoice_core::Period;
use einvoice_store::{DrawFreeze, DrawPut, EligibleCursor, EligibleRow, Store};
use std::path::{Path, PathBuf};

/// Eligible invoices read per store call.
const PAGE: u32 = 10_000;

/// What a freeze did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frozen {
    /// Period.
    pub period: Period,
    /// Rows in the snapshot.
    pub rows: u64,
    /// The snapshot's Merkle root (hex).
    pub snapshot_root: String,
    /// The snapshot file written.
    pub file: PathBuf,
    /// The period was frozen before with this very snapshot; the store is
    /// unchanged.
    pub already_frozen: bool,
}

/// The snapshot record of a stored eligible invoice.
fn eligible_invoice(r: &EligibleRow) -> Result<EligibleInvoice, DrawError> {
    let b = r.number.as_bytes();
    let bad = || DrawError::StoredInvoiceNumber(r.number.clone());
    if b.len() != 10 {
        return Err(bad());
    }
    let number: u32 = r.number[2..].parse().map_err(|_| bad())?;
    let seller_ubn: u32 = r
        .seller
        .parse()
        .map_err(|_| DrawError::StoredSeller(r.seller.clone()))?;
    Ok(EligibleInvoice {
        track: [b[0], b[1]],
        number,
        seller_ubn,
        carrier: r.carrier.clone(),
        npo: r.donated_to.clone(),
        printed: r.printed,
    })
}

/// Freeze `period`: write its eligible invoices to the snapshot file `out`
/// (through `out` with extension `.freezing`, renamed when stored), record
/// the root and a `DRAW_FREEZE` entry by `operator` in one transaction.
/// Freezing again with the same invoices is a no-op
/// ([`Frozen::already_frozen`]); with other invoices it is refused
/// ([`DrawError::FrozenDifferently`]) and no file is left. `progress` gets an
/// [`Event::Advance`] per page of invoices.
pub async fn freeze<S: Store>(
    store: &S,
    period: Period,
    out: &Path,
    operator: &str,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Frozen, DrawError> {
    let existing = store.draw_freeze(period).await?;
    let tmp = out.with_extension("freezing");
    let mut w = SnapshotWriter::create(&tmp, period.key())?;
    let mut after: Option<EligibleCursor> = None;
    loop {
        let page = store.eligible_invoices(period, after.clone(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        for r in &page {
            w.push(&eligible_invoice(r)?)?;
        }
        progress(Event::Advance(page.len() as u64));
    }
    let summary = w.finish()?;
    let root = hex(&summary.root);
    let freeze = DrawFreeze {
        period,
        root: root.clone(),
        rows: summary.rows,
        actor: operator_actor(operator),
    };
    let refuse = |why: String| {
        let _ = std::fs::remove_file(&tmp);
        DrawError::FrozenDifferently {
            why,
            root: root.clone(),
            rows: summary.rows,
        }
    };
    if let Some(old) = existing
        && (old.root != root || old.rows != summary.rows)
    {
        return Err(refuse(format!(
            "period {period} was frozen by {} with root {} ({} rows)",
            old.actor, old.root, old.rows
        )));
    }
    // The freeze and its ledger entry are stored in one transaction.
    let entry = freeze.ledger_entry();
    let outcome = store.put_draw_freeze(freeze, entry).await?;
    if let DrawPut::Conflict(why) = outcome {
        return Err(refuse(why));
    }
    std::fs::rename(&tmp, out).map_err(DrawError::write(out))?;
    Ok(Frozen {
        period,
        rows: summary.rows,
        snapshot_root: root,
        file: out.to_path_buf(),
        already_frozen: outcome == DrawPut::Unchanged,
    })
}
