//! `draw run`: on a site, the period's published winning numbers from the
//! store, the draw over the frozen snapshot, the winners loaded into the
//! store with a `DRAW_WINNERS` ledger entry, and the draw directory written;
//! in file mode, the draw over files only.

use crate::files::{parse_commitment, read_prize_table, read_seed};
use crate::{DrawError, Event, operator_actor};
use einvoice_analytics::draw::{self, DrawSpec, Outcome, Report, Winner};
use einvoice_analytics::snapshot::Snapshot;
use einvoice_core::{Period, PrizeTable, WinningNumbers};
use einvoice_store::{DrawPut, DrawRunFacts, Store, WinnerRecord, WinnersLoad, WinningBody};
use std::path::Path;

/// The files and options every `draw run` takes, on a site or from files.
#[derive(Debug, Clone)]
pub struct RunInputs<'a> {
    /// The snapshot file (on a site: the frozen one, of `draw freeze`).
    pub snapshot: &'a Path,
    /// The secret seed file (of `draw commit`).
    pub seed_file: &'a Path,
    /// Draw directory to write.
    pub out: &'a Path,
    /// The published seed commitment (hex); the seed must open it.
    pub commitment: Option<&'a str>,
    /// A prize table file (JSON: amounts and cloud tiers) overriding the
    /// period's.
    pub prize_table: Option<&'a Path>,
    /// Leave donated (unprinted, carrier-less) invoices out of the cloud draw.
    pub no_donated: bool,
    /// Threads.
    pub threads: usize,
}

impl RunInputs<'_> {
    /// The prize table file's table, or `default` without one.
    fn prize_table_or(&self, default: PrizeTable) -> Result<PrizeTable, DrawError> {
        match self.prize_table {
            Some(f) => read_prize_table(f),
            None => Ok(default),
        }
    }

    /// The draw's parameters: `numbers`, `table`, the seed read from the
    /// seed file.
    fn spec(&self, numbers: WinningNumbers, table: PrizeTable) -> Result<DrawSpec, DrawError> {
        Ok(DrawSpec {
            numbers,
            table,
            seed: read_seed(self.seed_file)?,
            include_donated: !self.no_donated,
        })
    }

    /// Compute the draw over the open snapshot, checking the commitment.
    fn compute(
        &self,
        snap: &Snapshot,
        spec: &DrawSpec,
        progress: &(dyn Fn(Event<'_>) + Sync),
    ) -> Result<Outcome, DrawError> {
        let commitment = self.commitment.map(parse_commitment).transpose()?;
        Ok(draw::compute(
            snap,
            spec,
            commitment,
            self.threads,
            progress,
        )?)
    }
}

/// What `draw run` on a site needs besides the store.
#[derive(Debug, Clone)]
pub struct SiteRun<'a> {
    /// Period.
    pub period: Period,
    /// The files and options of the run.
    pub inputs: RunInputs<'a>,
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
    let (p, inputs) = (r.period, &r.inputs);
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
    let table = inputs.prize_table_or(body.prize_table(p))?;
    let freeze = store.draw_freeze(p).await?.ok_or(DrawError::NotFrozen(p))?;
    let snap = Snapshot::open(inputs.snapshot)?;
    if snap.period() != p.key() {
        return Err(DrawError::SnapshotOfOtherPeriod {
            path: inputs.snapshot.to_path_buf(),
            snapshot_period: snap.period(),
            period: p,
        });
    }
    let spec = inputs.spec(numbers, table)?;
    let outcome = inputs.compute(&snap, &spec, progress)?;
    if outcome.manifest.snapshot_root != freeze.root {
        return Err(DrawError::SnapshotMismatch {
            path: inputs.snapshot.to_path_buf(),
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
    draw::write_dir(inputs.out, &outcome)?;
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

/// Run the draw of `period` from files: the winning numbers (中獎號碼) in
/// the `winning-numbers.json` shape at `numbers`, the prize table in force
/// for the period unless `inputs` names one. Writes the draw directory and
/// returns its report.
pub fn run_from_files(
    period: Period,
    numbers: &Path,
    inputs: &RunInputs<'_>,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, DrawError> {
    let doc = std::fs::read(numbers).map_err(DrawError::read(numbers))?;
    let numbers = draw::parse_numbers(&doc, period)?;
    let table = inputs.prize_table_or(PrizeTable::in_force(period))?;
    let spec = inputs.spec(numbers, table)?;
    let snap = Snapshot::open(inputs.snapshot)?;
    let outcome = inputs.compute(&snap, &spec, progress)?;
    draw::write_dir(inputs.out, &outcome)?;
    Ok(outcome.report)
}
