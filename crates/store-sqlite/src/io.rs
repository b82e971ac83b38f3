//! Export / import: listing every record, and importing a whole site into an
//! empty store in one transaction, projecting each message entry through the
//! append path's [`append::project`].

use crate::records::put_record;
use crate::{Head, SqliteStore, append, backend};
use einvoice_core::Validated;
use einvoice_store::{
    BankAccountRecord, DrawFreeze, LedgerEntry, OutboxItem, OutboxRecord, SiteRecords, StoreError,
    WinnerRecord, WinnersExport, WinnersSummary, WinningNumbersRecord, replay_facts,
    target_not_empty,
};
use einvoice_store::{IMPORT_EMPTY_TABLES, carrier_key};
use rusqlite::{Connection, Transaction, params};

/// Every SQL statement of this module.
pub(crate) mod sql {
    /// Every record document of a space.
    pub(crate) const RECORDS_OF_SPACE: &str =
        "SELECT id, json FROM records WHERE space = ?1 ORDER BY id";
    /// Every winner line of a period.
    pub(crate) const WINNERS_OF_PERIOD: &str = "SELECT line, invoice_number, seller, prize, amount, payable, carrier, npo \
             FROM winners WHERE period = ?1 ORDER BY line";
    /// Every outbox item with its state.
    pub(crate) const OUTBOX_ITEMS: &str = "SELECT id, kind, body, attempts, next_unix, delivered_unix, last_error \
             FROM outbox ORDER BY id";
    /// The origins in the ledger.
    pub(crate) const ORIGINS: &str = "SELECT DISTINCT origin FROM ledger ORDER BY origin";
    /// Every version of every period's winning numbers.
    pub(crate) const WINNING_VERSIONS: &str =
        "SELECT json FROM winning_numbers ORDER BY period, version";
    /// One imported version of winning numbers.
    pub(crate) const IMPORT_WINNING: &str =
        "INSERT INTO winning_numbers (period, version, json) VALUES (?1, ?2, ?3)";
    /// One imported bank account.
    pub(crate) const IMPORT_BANK_ACCOUNT: &str =
        "INSERT INTO bank_accounts (carrier, json) VALUES (?1, ?2)";
    /// One imported outbox item with its state.
    pub(crate) const IMPORT_OUTBOX: &str = "INSERT INTO outbox (id, kind, body, attempts, next_unix, delivered_unix, last_error) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
}

fn i64_of(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} exceeds i64")))
}

/// Every JSON document of one space of `records`, ordered by id.
fn space<T: serde::de::DeserializeOwned>(
    c: &Connection,
    space: &str,
) -> Result<Vec<T>, StoreError> {
    let mut st = c.prepare_cached(sql::RECORDS_OF_SPACE).map_err(backend)?;
    let rows = st
        .query_map(params![space], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json) = row.map_err(backend)?;
        out.push(
            serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("{space}/{id}: {e}")))?,
        );
    }
    Ok(out)
}

/// Every JSON document of a table's `json` column, in `order`.
fn json_column<T: serde::de::DeserializeOwned>(
    c: &Connection,
    table: &str,
    order: &str,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    let mut st = c
        .prepare_cached(&format!("SELECT json FROM {table} ORDER BY {order}"))
        .map_err(backend)?;
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(backend)?;
    let mut out = Vec::new();
    for j in rows {
        let j = j.map_err(backend)?;
        out.push(
            serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?,
        );
    }
    Ok(out)
}

/// Every period's loaded winners: the stored summary and every line.
fn winner_loads(c: &Connection) -> Result<Vec<WinnersExport>, StoreError> {
    let summaries: Vec<WinnersSummary> = json_column(c, "draw_loads", "period", "winners load")?;
    let mut st = c.prepare_cached(sql::WINNERS_OF_PERIOD).map_err(backend)?;
    let mut out = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let rows = st
            .query_map(params![summary.period.key()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    WinnerRecord {
                        line: 0,
                        invoice_number: r.get(1)?,
                        seller: r.get(2)?,
                        prize: r.get(3)?,
                        amount: r.get(4)?,
                        payable: r.get(5)?,
                        carrier: r.get(6)?,
                        npo: r.get(7)?,
                    },
                ))
            })
            .map_err(backend)?;
        let mut winners = Vec::new();
        for row in rows {
            let (line, w) = row.map_err(backend)?;
            let line = u64::try_from(line).map_err(|_| {
                StoreError::Corrupt(format!(
                    "winners of period {}: negative line {line}",
                    summary.period
                ))
            })?;
            winners.push(WinnerRecord { line, ..w });
        }
        out.push(WinnersExport { summary, winners });
    }
    Ok(out)
}

/// Every outbox notification with its delivery state, by id.
fn outbox(c: &Connection) -> Result<Vec<OutboxRecord>, StoreError> {
    let mut st = c.prepare_cached(sql::OUTBOX_ITEMS).map_err(backend)?;
    let rows = st
        .query_map([], |r| {
            Ok(OutboxRecord {
                item: OutboxItem {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    body: r.get(2)?,
                    attempts: r.get(3)?,
                    next_unix: r.get(4)?,
                },
                delivered_unix: r.get(5)?,
                last_error: r.get(6)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

/// The origins in the ledger, sorted.
pub(crate) async fn origins(s: &SqliteStore) -> Result<Vec<String>, StoreError> {
    s.read(|c| {
        let mut st = c.prepare_cached(sql::ORIGINS).map_err(backend)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    })
    .await
}

/// Every record besides the ledger, as stored.
pub(crate) async fn export_records(s: &SqliteStore) -> Result<SiteRecords, StoreError> {
    s.read(|c| {
        let mut st = c.prepare_cached(sql::WINNING_VERSIONS).map_err(backend)?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(backend)?;
        let mut winning_numbers: Vec<WinningNumbersRecord> = Vec::new();
        for j in rows {
            let j = j.map_err(backend)?;
            winning_numbers.push(
                serde_json::from_str(&j)
                    .map_err(|e| StoreError::Corrupt(format!("winning numbers: {e}")))?,
            );
        }
        Ok(SiteRecords {
            sellers: space(c, "seller")?,
            api_keys: space(c, "api_key")?,
            carriers: space(c, "carrier")?,
            apps: space(c, "app")?,
            operators: space(c, "operator")?,
            winning_numbers,
            draw_freezes: json_column::<DrawFreeze>(c, "draw_freezes", "period", "draw freeze")?,
            winner_loads: winner_loads(c)?,
            bank_accounts: json_column::<BankAccountRecord>(
                c,
                "bank_accounts",
                "carrier",
                "bank account",
            )?,
            outbox: outbox(c)?,
        })
    })
    .await
}

/// Refuse a store that holds anything a site would have written.
fn check_empty(t: &Transaction<'_>) -> Result<(), StoreError> {
    for &(table, what) in IMPORT_EMPTY_TABLES {
        let any: bool = t
            .query_row(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), [], |r| {
                r.get(0)
            })
            .map_err(backend)?;
        if any {
            return Err(target_not_empty(what));
        }
    }
    Ok(())
}

/// Import a site into this empty store in one transaction.
pub(crate) async fn import_site(
    s: &SqliteStore,
    records: SiteRecords,
    entries: Vec<LedgerEntry>,
) -> Result<(), StoreError> {
    // Decode and validate on the caller's thread; the writer only does SQL.
    let prepared: Vec<(LedgerEntry, Option<Validated>)> = entries
        .into_iter()
        .map(|e| replay_facts(&e).map(|v| (e, v)))
        .collect::<Result<_, _>>()?;
    for l in &records.winner_loads {
        l.check()?;
    }
    let replays =
        crate::carrier_life::replays(&prepared.iter().map(|(e, _)| e).collect::<Vec<_>>())?;
    let site = s.inner.site.clone();
    s.write(move |t, head| {
        check_empty(t)?;
        write_records(t, &records)?;
        for (e, facts) in &prepared {
            insert_verbatim(t, e, facts.as_ref())?;
            if e.origin == site && e.seq > head.seq {
                // This site's chain continues from the imported head.
                *head = Head {
                    seq: e.seq,
                    hash: e.hash,
                    hlc: e.hlc,
                };
            }
        }
        crate::carrier_life::apply_replays(t, &replays)?;
        Ok(())
    })
    .await
}

/// Insert one entry as it was stored at its origin and project it through
/// the append path's [`append::project`] (facts from [`replay_facts`]): the
/// one way an import and a sync write another site's entry.
pub(crate) fn insert_verbatim(
    t: &Transaction<'_>,
    e: &LedgerEntry,
    facts: Option<&Validated>,
) -> Result<(), StoreError> {
    let (stored, codec) = crate::bodies::pack(t, &e.body)?;
    t.prepare_cached(crate::append::sql::INSERT_ENTRY)
        .map_err(backend)?
        .execute(params![
            e.origin,
            i64_of(e.seq)?,
            i64_of(e.hlc.0)?,
            e.kind,
            e.key,
            e.actor,
            stored,
            &e.prev_hash.0[..],
            &e.hash.0[..],
            e.body_digest.as_ref().map(|d| &d.0[..]),
            e.withheld,
            codec,
        ])
        .map_err(backend)?;
    if let Some(v) = facts {
        let receipt = e.receipt();
        append::project(t, &receipt, &v.facts, &e.body)?;
    }
    if e.seq.is_multiple_of(crate::append::TRAIN_CHECK_EVERY) {
        crate::bodies::train_if_due(t)?;
    }
    Ok(())
}

fn write_records(t: &Transaction<'_>, r: &SiteRecords) -> Result<(), StoreError> {
    for x in &r.sellers {
        put_record(t, "seller", x.ubn.as_str(), x)?;
    }
    for x in &r.api_keys {
        put_record(t, "api_key", &x.key_id, x)?;
    }
    for x in &r.carriers {
        put_record(t, "carrier", &carrier_key(&x.carrier), x)?;
    }
    for x in &r.apps {
        put_record(t, "app", &x.app_id, x)?;
    }
    for x in &r.operators {
        put_record(t, "operator", &x.name, x)?;
    }
    for w in &r.winning_numbers {
        let json = serde_json::to_string(w).map_err(backend)?;
        t.prepare_cached(sql::IMPORT_WINNING)
            .map_err(backend)?
            .execute(params![w.period.key(), w.version, json])
            .map_err(backend)?;
    }
    write_draw(t, r)
}

/// The draw's records, as exported: freezes, winner loads with their lines,
/// bank accounts (sealed bytes as given) and the outbox with its state.
fn write_draw(t: &Transaction<'_>, r: &SiteRecords) -> Result<(), StoreError> {
    for f in &r.draw_freezes {
        let json = serde_json::to_string(f).map_err(backend)?;
        t.prepare_cached(crate::draw::sql::INSERT_FREEZE)
            .map_err(backend)?
            .execute(params![f.period.key(), f.root, json])
            .map_err(backend)?;
    }
    for l in &r.winner_loads {
        let pk = l.summary.period.key();
        let json = serde_json::to_string(&l.summary).map_err(backend)?;
        t.prepare_cached(crate::draw::sql::INSERT_LOAD)
            .map_err(backend)?
            .execute(params![pk, l.summary.digest, json])
            .map_err(backend)?;
        let mut ins = t
            .prepare_cached(crate::draw::sql::INSERT_WINNER)
            .map_err(backend)?;
        for w in &l.winners {
            ins.execute(params![
                pk,
                i64_of(w.line)?,
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
    }
    for a in &r.bank_accounts {
        let json = serde_json::to_string(a).map_err(backend)?;
        t.prepare_cached(sql::IMPORT_BANK_ACCOUNT)
            .map_err(backend)?
            .execute(params![a.carrier, json])
            .map_err(backend)?;
    }
    for o in &r.outbox {
        t.prepare_cached(sql::IMPORT_OUTBOX)
            .map_err(backend)?
            .execute(params![
                o.item.id,
                o.item.kind,
                o.item.body,
                o.item.attempts,
                o.item.next_unix,
                o.delivered_unix,
                o.last_error
            ])
            .map_err(backend)?;
    }
    Ok(())
}
