//! `draw run`: on a site, the period's published winning numbers from the
//! store, the draw over the frozen snapshot, the winners loaded into the
//! store with a `DRAW_WINNERS` ledger entry, and the draw directory written;
//! in file mode, the draw over files only.

use crate::files::{parse_commitment, read_prize_table, read_seed};
use crate::{DrawError, Event, operator_actor};
use einvoice_analytics::draw::{self, DrawSpec, Outcome, Report, Winner};
use einvoice_analytics::snapshot::Snapshot;
use einvoice_core::{Money, Period, Prize, PrizeTable};
use einvoice_store::{DrawPut, DrawRunFacts, Store, WinnerRecord, WinnersLoad, WinningBody};
use std::path::Path;

/// What `draw run` on a site needs besides the store.
#[derive(Debug, Clone)]
pub struct SiteRun<'a> {
    /// Period.
    pub period: Period,
    /// The frozen snapshot file (of `draw freeze`).
    pub snapshot: &'a Path,
    /// The secret seed file (of `draw commit`).
    pub seed_file: &'a Path,
    /// Draw directory to write.
    pub out: &'a Path,
    /// The published seed commitment (hex); the seed must open it.
    pub commitment: Option<&'a str>,
    /// A prize table file overriding the period's (JSON).
    pub prize_table: Option<&'a Path>,
    /// Leave donated (unprinted, carrier-less) invoices out of the cloud draw.
    pub no_donated: bool,
    /// Threads.
    pub threads: usize,
    /// The operator running the draw (recorded in the ledger).
    pub operator: &'a str,
}

/// What a site run did.
#[derive(Debug, Clone)]
pub struct SiteRunDone {
    /// The draw's report (the directory's `report.json`).
    pub report: Report,
    /// The same winners were loaded before; the store is unchanged.
    pub already_loaded: bool,
}

/// The prize table of a published body: the table in force for the period
/// (cloud tiers included) with the body's regular amounts.
fn table_of(body: &WinningBody, p: Period) -> PrizeTable {
    let mut t = draw::default_table(p);
    if let Some(a) = &body.amounts {
        for (id, amount) in a {
            if let Some(prize) = Prize::from_id(id) {
                t.amounts.insert(prize, Money(*amount));
            }
        }
    }
    t
}

/// Run the draw of `r.period` on a site: the published (approved) winning
/// numbers from the store, the snapshot checked against the frozen root, the
/// winners and their `DRAW_WINNERS` entry stored in one transaction
/// (identical winners again are a no-op; different ones are refused with
/// [`DrawError::WinnersLoadedDifferently`]), then the draw directory written.
/// `progress` gets the computation's stages.
pub async fn run_on_site<S: Store>(
    store: &S,
    r: &SiteRun<'_>,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<SiteRunDone, DrawError> {
    let p = r.period;
    let rec = store
        .winning_numbers(p)
        .await?
        .ok_or(DrawError::NumbersNotEntered(p))?;
    let Some(approver) = rec.approved_by.as_deref() else {
        return Err(DrawError::NumbersAwaitApproval {
            period: p,
            version: rec.version,
        });
    };
    let body = WinningBody::from_value(&rec.body)
        .map_err(|error| DrawError::StoredNumbers { period: p, error })?;
    let numbers = body.numbers(p).map_err(DrawError::Rule)?;
    let table = match r.prize_table {
        Some(f) => read_prize_table(f)?,
        None => table_of(&body, p),
    };
    let freeze = store.draw_freeze(p).await?.ok_or(DrawError::NotFrozen(p))?;
    let snap = Snapshot::open(r.snapshot)?;
    if snap.period() != p.key() {
        return Err(DrawError::SnapshotOfOtherPeriod {
            path: r.snapshot.to_path_buf(),
            snapshot_period: snap.period(),
            period: p,
        });
    }
    let spec = DrawSpec {
        numbers,
        table,
        seed: read_seed(r.seed_file)?,
        include_donated: !r.no_donated,
    };
    let commitment = r.commitment.map(parse_commitment).transpose()?;
    let outcome = draw::compute(&snap, &spec, commitment, r.threads, progress)?;
    if outcome.manifest.snapshot_root != freeze.root {
        return Err(DrawError::SnapshotMismatch {
            path: r.snapshot.to_path_buf(),
            root: outcome.manifest.snapshot_root.clone(),
            period: p,
            frozen_root: freeze.root,
        });
    }
    let load = WinnersLoad {
        period: p,
        actor: operator_actor(r.operator),
        winners: winner_records(&outcome)?,
    };
    let digest = load.digest();
    let lines = load.winners.len();
    // The winners, their notifications and their ledger entry are stored in
    // one transaction.
    let run = DrawRunFacts {
        snapshot_root: outcome.manifest.snapshot_root.clone(),
        commitment: outcome.manifest.commitment.clone(),
        numbers_version: rec.version,
        numbers_approved_by: approver.to_string(),
    };
    let entry = load.ledger_entry(&run, &digest);
    let already_loaded = match store.put_winners(load, entry).await? {
        DrawPut::Conflict(why) => {
            return Err(DrawError::WinnersLoadedDifferently { why, lines, digest });
        }
        DrawPut::Unchanged => true,
        DrawPut::Stored => false,
    };
    draw::write_dir(r.out, &outcome)?;
    Ok(SiteRunDone {
        report: outcome.report,
        already_loaded,
    })
}

/// The winner lines of a computed draw, numbered in `winners.jsonl` order.
fn winner_records(outcome: &Outcome) -> Result<Vec<WinnerRecord>, DrawError> {
    let bytes = outcome
        .files
        .iter()
        .find(|(n, _)| *n == draw::OUTPUT_FILES[1])
        .map(|(_, b)| b.as_slice())
        .ok_or(DrawError::NoWinnersFile)?;
    let text = std::str::from_utf8(bytes).map_err(DrawError::WinnersNotUtf8)?;
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let w: Winner = serde_json::from_str(l).map_err(DrawError::WinnersLine)?;
            Ok(WinnerRecord {
                line: i as u64,
                invoice_number: w.invoice_number,
                seller: w.seller,
                prize: w.prize,
                amount: w.amount,
                payable: w.payable,
                carrier: w.carrier,
                npo: w.npo,
            })
        })
        .collect()
}

/// What `draw run` in file mode needs: every input is a file.
#[derive(Debug, Clone)]
pub struct FileRun<'a> {
    /// Period.
    pub period: Period,
    /// The snapshot file.
    pub snapshot: &'a Path,
    /// Winning numbers (中獎號碼) in the `winning-numbers.json` shape.
    pub numbers: &'a Path,
    /// The secret seed file (of `draw commit`).
    pub seed_file: &'a Path,
    /// Draw directory to write.
    pub out: &'a Path,
    /// The published seed commitment (hex); the seed must open it.
    pub commitment: Option<&'a str>,
    /// A prize table file; default: the table in force for the period.
    pub prize_table: Option<&'a Path>,
    /// Leave donated (unprinted, carrier-less) invoices out of the cloud draw.
    pub no_donated: bool,
    /// Threads.
    pub threads: usize,
}

/// Run the draw from files and write the draw directory; returns its report.
pub fn run_from_files(
    r: &FileRun<'_>,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, DrawError> {
    let doc = std::fs::read(r.numbers).map_err(DrawError::read(r.numbers))?;
    let numbers = draw::parse_numbers(&doc, r.period)?;
    let table = match r.prize_table {
        Some(f) => read_prize_table(f)?,
        None => draw::default_table(r.period),
    };
    let spec = DrawSpec {
        numbers,
        table,
        seed: read_seed(r.seed_file)?,
        include_donated: !r.no_donated,
    };
    let snap = Snapshot::open(r.snapshot)?;
    let commitment = r.commitment.map(parse_commitment).transpose()?;
    let outcome = draw::compute(&snap, &spec, commitment, r.threads, progress)?;
    draw::write_dir(r.out, &outcome)?;
    Ok(outcome.report)
}
