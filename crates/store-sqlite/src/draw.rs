//! The draw on SQLite: the eligibility freeze, frozen snapshots, winners and
//! bank accounts (tables in `migrations/0002_draw.sql`). The winner notifications a load
//! enqueues are delivered through `outbox.rs`.

use crate::append::append_event;
use crate::{SqliteStore, backend};
use einvoice_core::ids::CONSUMER_BUYER_ID;
use einvoice_core::{Carrier, Period};
use einvoice_store::*;
use rusqlite::{OptionalExtension, params};

/// Every SQL statement of this module.
pub(crate) mod sql {
    /// A period's freeze.
    pub(crate) const FREEZE_OF_PERIOD: &str = "SELECT json FROM draw_freezes WHERE period = ?1";
    /// A period's winners load.
    pub(crate) const LOAD_OF_PERIOD: &str = "SELECT json FROM draw_loads WHERE period = ?1";
    /// A page of a period's winner lines: period, after this line, limit.
    pub(crate) const WINNERS_PAGE: &str = "SELECT line, invoice_number, seller, prize, amount, payable, carrier, npo \
         FROM winners WHERE period = ?1 AND line > ?2 ORDER BY line LIMIT ?3";
    /// A carrier's winner lines of a period: carrier (`type:id`), period.
    pub(crate) const CARRIER_WINNINGS: &str = "SELECT line, invoice_number, seller, prize, amount, payable, carrier, npo \
         FROM winners WHERE carrier = ?1 AND period = ?2 ORDER BY line";
    /// A page of a period's eligible invoices after a (number, seller).
    pub(crate) const ELIGIBLE_PAGE: &str = "SELECT number, seller, carrier_type, carrier_id, npoban FROM invoices \
                 WHERE period = ?1 AND status = 'issued' AND buyer = ?2 AND (number, seller) > (?3, ?4) \
                 ORDER BY number, seller LIMIT ?5";
    /// Record a period's freeze.
    pub(crate) const INSERT_FREEZE: &str =
        "INSERT INTO draw_freezes (period, root, json) VALUES (?1, ?2, ?3)";
    /// One winner line.
    pub(crate) const INSERT_WINNER: &str = "INSERT INTO winners (period, line, invoice_number, seller, prize, amount, payable, carrier, npo) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    /// Enqueue a winner notification (once per id).
    pub(crate) const ENQUEUE_NOTE: &str =
        "INSERT INTO outbox (id, kind, body) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING";
    /// Record a period's winners load.
    pub(crate) const INSERT_LOAD: &str =
        "INSERT INTO draw_loads (period, digest, json) VALUES (?1, ?2, ?3)";
    /// Insert or replace a bank account.
    pub(crate) const PUT_BANK_ACCOUNT: &str = "INSERT INTO bank_accounts (carrier, json) VALUES (?1, ?2) \
             ON CONFLICT (carrier) DO UPDATE SET json = excluded.json";
    /// One bank account by carrier.
    pub(crate) const BANK_ACCOUNT: &str = "SELECT json FROM bank_accounts WHERE carrier = ?1";
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) async fn eligible_invoices(
    s: &SqliteStore,
    period: Period,
    after: Option<EligibleCursor>,
    limit: u32,
) -> Result<Vec<EligibleRow>, StoreError> {
    let (an, asel) = after.map_or((String::new(), String::new()), |c| (c.number, c.seller));
    s.read(move |c| {
        let mut st = c.prepare_cached(sql::ELIGIBLE_PAGE).map_err(backend)?;
        let rows = st
            .query_map(
                params![period.key(), CONSUMER_BUYER_ID, an, asel, limit],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .map_err(backend)?;
        let mut out = Vec::new();
        for r in rows {
            let (number, seller, ct, cid, npo) = r.map_err(backend)?;
            out.push(EligibleRow::from_stored(number, seller, ct, cid, npo));
        }
        Ok(out)
    })
    .await
}

/// Store a freeze and append its ledger entry in the same job (one
/// savepoint of the writer's transaction): both commit or neither.
pub(crate) async fn put_draw_freeze(
    s: &SqliteStore,
    freeze: DrawFreeze,
    entry: NewEntry,
) -> Result<DrawPut, StoreError> {
    check_draw_entry(&entry, DRAW_FREEZE, freeze.period)?;
    let site = s.site().to_string();
    s.write(move |t, head| {
        if let Some(old) = json_of_period::<DrawFreeze>(t, sql::FREEZE_OF_PERIOD, freeze.period)? {
            return Ok(freeze.put_over(&old));
        }
        let json = serde_json::to_string(&freeze).map_err(backend)?;
        t.prepare_cached(sql::INSERT_FREEZE)
            .map_err(backend)?
            .execute(params![freeze.period.key(), freeze.root, json])
            .map_err(backend)?;
        append_event(t, head, &site, &entry)?;
        Ok(DrawPut::Stored)
    })
    .await
}

pub(crate) async fn draw_freeze(
    s: &SqliteStore,
    period: Period,
) -> Result<Option<DrawFreeze>, StoreError> {
    s.read(move |c| json_of_period(c, sql::FREEZE_OF_PERIOD, period))
        .await
}

/// Load winners, their notifications and their ledger entry in one job (one
/// savepoint of the writer's transaction): all commit or none. Every line is
/// one execution of a cached prepared statement. The notifications (a
/// JSON body each) are built on a thread of their own while the writer
/// inserts the lines, and the lines are freed off the writer thread, so the
/// writer spends its time on SQL. It is busy for the whole load (a national
/// draw of 4 million lines: about half a minute on 2 cores); other writes
/// queue behind it.
pub(crate) async fn put_winners(
    s: &SqliteStore,
    load: WinnersLoad,
    entry: NewEntry,
) -> Result<DrawPut, StoreError> {
    check_draw_entry(&entry, DRAW_WINNERS, load.period)?;
    load.check_lines()?;
    let load = std::sync::Arc::new(load);
    let notes = {
        let load = load.clone();
        std::thread::Builder::new()
            .name("einvoice-winner-notifications".into())
            .spawn(move || {
                // In id order, so both outbox indexes are appended to.
                let mut notes = winner_notifications(&load);
                notes.sort_unstable_by(|a, b| a.id.cmp(&b.id));
                notes
            })
            .map_err(backend)?
    };
    let digest = load.digest();
    let site = s.site().to_string();
    let lines = load.clone();
    let outcome = s
        .write(move |t, head| {
            let pk = lines.period.key();
            if let Some(old) =
                json_of_period::<WinnersSummary>(t, sql::LOAD_OF_PERIOD, lines.period)?
            {
                return Ok(old.put_again(&digest));
            }
            let summary = lines.summary(digest.clone());
            let mut ins = t.prepare_cached(sql::INSERT_WINNER).map_err(backend)?;
            for w in &lines.winners {
                ins.execute(params![
                    pk,
                    to_i64(w.line),
                    w.invoice_number,
                    w.seller,
                    w.prize,
                    w.amount,
                    w.payable,
                    w.carrier,
                    w.npo
                ])
                .map_err(backend)?;
            }
            // Notifications commit or roll back with the winners.
            let notes = notes
                .join()
                .map_err(|_| backend("building the winner notifications failed"))?;
            let mut outbox = t.prepare_cached(sql::ENQUEUE_NOTE).map_err(backend)?;
            for n in &notes {
                outbox
                    .execute(params![n.id, n.kind, n.body])
                    .map_err(backend)?;
            }
            let json = serde_json::to_string(&summary).map_err(backend)?;
            t.prepare_cached(sql::INSERT_LOAD)
                .map_err(backend)?
                .execute(params![pk, digest, json])
                .map_err(backend)?;
            append_event(t, head, &site, &entry)?;
            Ok(DrawPut::Stored)
        })
        .await;
    // The last reference to millions of lines: free them on a blocking
    // thread, not on the writer or an async worker.
    tokio::task::spawn_blocking(move || drop(load));
    outcome
}

pub(crate) async fn winners_summary(
    s: &SqliteStore,
    period: Period,
) -> Result<Option<WinnersSummary>, StoreError> {
    s.read(move |c| json_of_period(c, sql::LOAD_OF_PERIOD, period))
        .await
}

fn winner_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<WinnerRecord> {
    Ok(WinnerRecord {
        line: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
        invoice_number: r.get(1)?,
        seller: r.get(2)?,
        prize: r.get(3)?,
        amount: r.get(4)?,
        payable: r.get(5)?,
        carrier: r.get(6)?,
        npo: r.get(7)?,
    })
}

pub(crate) async fn winners(
    s: &SqliteStore,
    period: Period,
    after: Option<u64>,
    limit: u32,
) -> Result<Vec<WinnerRecord>, StoreError> {
    let after = after.map_or(-1, to_i64);
    s.read(move |c| {
        let mut st = c.prepare_cached(sql::WINNERS_PAGE).map_err(backend)?;
        let rows = st
            .query_map(params![period.key(), after, limit], winner_of)
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    })
    .await
}

pub(crate) async fn carrier_winnings(
    s: &SqliteStore,
    carrier: &Carrier,
    period: Period,
) -> Result<Vec<WinnerRecord>, StoreError> {
    let key = carrier_key(carrier);
    s.read(move |c| {
        let mut st = c.prepare_cached(sql::CARRIER_WINNINGS).map_err(backend)?;
        let rows = st
            .query_map(params![key, period.key()], winner_of)
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    })
    .await
}

pub(crate) async fn put_bank_account(
    s: &SqliteStore,
    account: BankAccountRecord,
) -> Result<(), StoreError> {
    s.write(move |t, _| {
        let json = serde_json::to_string(&account).map_err(backend)?;
        t.prepare_cached(sql::PUT_BANK_ACCOUNT)
            .map_err(backend)?
            .execute(params![account.carrier, json])
            .map_err(backend)?;
        Ok(())
    })
    .await
}

pub(crate) async fn bank_account(
    s: &SqliteStore,
    carrier: &str,
) -> Result<Option<BankAccountRecord>, StoreError> {
    let carrier = carrier.to_string();
    s.read(move |c| {
        let j: Option<String> = c
            .prepare_cached(sql::BANK_ACCOUNT)
            .map_err(backend)?
            .query_row(params![carrier], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        j.map(|j| serde_json::from_str(&j).map_err(backend))
            .transpose()
    })
    .await
}

/// The JSON record of `period` that `query` selects ([`sql::FREEZE_OF_PERIOD`]
/// or [`sql::LOAD_OF_PERIOD`]).
fn json_of_period<T: serde::de::DeserializeOwned>(
    c: &rusqlite::Connection,
    query: &str,
    period: Period,
) -> Result<Option<T>, StoreError> {
    let j: Option<String> = c
        .prepare_cached(query)
        .map_err(backend)?
        .query_row(params![period.key()], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    j.map(|j| serde_json::from_str(&j).map_err(backend))
        .transpose()
}
