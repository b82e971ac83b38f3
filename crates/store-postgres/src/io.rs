//! Export / import: listing every record, and importing a whole site into an
//! empty database in one transaction, projecting each message entry through
//! the append path's [`Writer::project`].

use crate::PgStore;
use crate::append::sql::INSERT_LEDGER;
use crate::append::{Head, Writer, period_key, to_i64, to_u64};
use crate::error::DbError;
use crate::read::{carrier_id, sql};
use einvoice_core::Validated;
use einvoice_store::{
    BankAccountRecord, DrawFreeze, EntryHash, Hlc, IMPORT_EMPTY_TABLES, LedgerEntry, OutboxItem,
    OutboxRecord, SiteRecords, StoreError, WinnerRecord, WinnersExport, WinnersSummary,
    WinningNumbersRecord, is_message_kind, replay_facts, target_not_empty,
};
use std::collections::BTreeMap;

fn parse<T: serde::de::DeserializeOwned>(what: &str, j: &str) -> Result<T, DbError> {
    serde_json::from_str(j).map_err(|e| DbError::Store(StoreError::Corrupt(format!("{what}: {e}"))))
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Store(StoreError::Backend(e.to_string())))
}

/// Rows per `INSERT … SELECT FROM UNNEST(…)` statement of an import.
const CHUNK: usize = 5_000;

/// Every JSON document of a table's `json` column, in `order`.
async fn json_column<T: serde::de::DeserializeOwned>(
    c: &deadpool_postgres::Client,
    table: &str,
    order: &str,
    what: &str,
) -> Result<Vec<T>, DbError> {
    c.query(&format!("SELECT json FROM {table} ORDER BY {order}"), &[])
        .await?
        .iter()
        .map(|r| parse(what, &r.try_get::<_, String>(0)?))
        .collect()
}

/// Every period's loaded winners: the stored summary and every line.
async fn winner_loads(c: &deadpool_postgres::Client) -> Result<Vec<WinnersExport>, DbError> {
    let summaries: Vec<WinnersSummary> =
        json_column(c, "draw_loads", "period", "winners load").await?;
    let st = c
        .prepare_cached(
            "SELECT line, invoice_number, seller, prize, amount, payable, carrier, npo \
             FROM winners WHERE period = $1 ORDER BY line",
        )
        .await?;
    let mut out = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let pk = period_key(summary.period)?;
        let winners = c
            .query(&st, &[&pk])
            .await?
            .iter()
            .map(|r| {
                Ok(WinnerRecord {
                    line: to_u64(r.try_get(0)?)?,
                    invoice_number: r.try_get(1)?,
                    seller: r.try_get(2)?,
                    prize: r.try_get(3)?,
                    amount: r.try_get(4)?,
                    payable: r.try_get(5)?,
                    carrier: r.try_get(6)?,
                    npo: r.try_get(7)?,
                })
            })
            .collect::<Result<_, DbError>>()?;
        out.push(WinnersExport { summary, winners });
    }
    Ok(out)
}

/// Every outbox notification with its delivery state, by id.
async fn outbox(c: &deadpool_postgres::Client) -> Result<Vec<OutboxRecord>, DbError> {
    c.query(
        "SELECT id, kind, body, attempts, next_unix, delivered_unix, last_error \
         FROM outbox ORDER BY id",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        let id: String = r.try_get(0)?;
        let attempts: i32 = r.try_get(3)?;
        let attempts = u32::try_from(attempts).map_err(|_| {
            DbError::Store(StoreError::Corrupt(format!(
                "outbox {id}: negative attempts {attempts}"
            )))
        })?;
        Ok(OutboxRecord {
            item: OutboxItem {
                id,
                kind: r.try_get(1)?,
                body: r.try_get(2)?,
                attempts,
                next_unix: r.try_get(4)?,
            },
            delivered_unix: r.try_get(5)?,
            last_error: r.try_get(6)?,
        })
    })
    .collect()
}

/// The origins in the ledger, sorted.
pub(crate) async fn origins(s: &PgStore) -> Result<Vec<String>, StoreError> {
    s.run(|c| async move {
        c.query("SELECT DISTINCT origin FROM ledger ORDER BY origin", &[])
            .await?
            .iter()
            .map(|r| r.try_get(0).map_err(DbError::from))
            .collect()
    })
    .await
}

/// Every record besides the ledger, as stored.
pub(crate) async fn export_records(s: &PgStore) -> Result<SiteRecords, StoreError> {
    s.run(|c| async move {
        let mut spaces: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for r in c
            .query(
                "SELECT space, id, json FROM records ORDER BY space, id",
                &[],
            )
            .await?
        {
            spaces
                .entry(r.try_get(0)?)
                .or_default()
                .push((r.try_get(1)?, r.try_get(2)?));
        }
        fn take<T: serde::de::DeserializeOwned>(
            spaces: &BTreeMap<String, Vec<(String, String)>>,
            space: &str,
        ) -> Result<Vec<T>, DbError> {
            spaces
                .get(space)
                .map(|v| v.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|(id, j)| parse(&format!("{space}/{id}"), j))
                .collect()
        }
        let mut winning_numbers: Vec<WinningNumbersRecord> = Vec::new();
        for r in c
            .query(
                "SELECT json FROM winning_numbers ORDER BY period, version",
                &[],
            )
            .await?
        {
            winning_numbers.push(parse("winning numbers", &r.try_get::<_, String>(0)?)?);
        }
        Ok(SiteRecords {
            sellers: take(&spaces, "seller")?,
            api_keys: take(&spaces, "api_key")?,
            carriers: take(&spaces, "carrier")?,
            apps: take(&spaces, "app")?,
            operators: take(&spaces, "operator")?,
            winning_numbers,
            draw_freezes: json_column::<DrawFreeze>(&c, "draw_freezes", "period", "draw freeze")
                .await?,
            winner_loads: winner_loads(&c).await?,
            bank_accounts: json_column::<BankAccountRecord>(
                &c,
                "bank_accounts",
                "carrier",
                "bank account",
            )
            .await?,
            outbox: outbox(&c).await?,
        })
    })
    .await
}

/// Import a site into this empty database in one transaction. Runs outside
/// the per-call deadline and with no statement timeout: a large site takes
/// as long as it takes, and a failure rolls everything back.
pub(crate) async fn import_site(
    s: &PgStore,
    records: SiteRecords,
    entries: Vec<LedgerEntry>,
) -> Result<(), StoreError> {
    let prepared: Vec<(LedgerEntry, Option<Validated>)> = entries
        .into_iter()
        .map(|e| replay_facts(&e).map(|v| (e, v)))
        .collect::<Result<_, _>>()?;
    for l in &records.winner_loads {
        l.check()?;
    }
    let replays =
        crate::carrier_life::replays(&prepared.iter().map(|(e, _)| e).collect::<Vec<_>>())?;
    let shared = s.shared();
    let created = async {
        let mut c = shared.pool.get().await?;
        let t = c.transaction().await?;
        t.batch_execute(
            "SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0; \
             LOCK TABLE ledger_heads, ledger, records, winning_numbers, \
             draw_freezes, draw_loads, winners, bank_accounts, outbox IN EXCLUSIVE MODE",
        )
        .await?;
        let (ledger, rest) = IMPORT_EMPTY_TABLES.split_at(1);
        let heads = [("ledger_heads", "ledger heads")];
        for &(table, what) in ledger.iter().chain(&heads).chain(rest) {
            let any: bool = t
                .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[])
                .await?
                .try_get(0)?;
            if any {
                return Err(DbError::Store(target_not_empty(what)));
            }
        }
        write_records(&t, &records).await?;
        let mut w = Writer {
            t: &t,
            site: shared.site.as_str(),
            head: Head {
                seq: 0,
                hash: EntryHash::GENESIS,
                hlc: Hlc(0),
            },
            start_seq: 0,
            known: &shared.partitions,
            created: Vec::new(),
            bodies: None,
            dict: None,
            raw_written: 0,
        };
        w.use_bodies(&shared.bodies).await?;
        let insert = t.prepare_cached(INSERT_LEDGER).await?;
        let mut heads: BTreeMap<&str, &LedgerEntry> = BTreeMap::new();
        for (e, facts) in &prepared {
            insert_verbatim(&mut w, &insert, e, facts.as_ref()).await?;
            let head = heads.entry(e.origin.as_str()).or_insert(e);
            if e.seq > head.seq {
                *head = e;
            }
        }
        crate::carrier_life::apply_replays(&t, &replays).await?;
        // An imported store trains its dictionary (and compresses what it
        // imported) at once when it holds enough bodies.
        let trained = shared.bodies.train_if_due(&t).await?;
        let created = std::mem::take(&mut w.created);
        for (origin, e) in heads {
            t.execute(
                "INSERT INTO ledger_heads (origin, seq, hash, hlc) VALUES ($1, $2, $3, $4)",
                &[&origin, &to_i64(e.seq)?, &&e.hash.0[..], &to_i64(e.hlc.0)?],
            )
            .await?;
        }
        t.commit().await?;
        if trained {
            shared.bodies.forget_none();
        }
        Ok::<_, DbError>(created)
    }
    .await
    .map_err(DbError::into_store)?;
    if let Ok(mut k) = shared.partitions.lock() {
        k.extend(created);
    }
    Ok(())
}

/// Insert one entry as it was stored at its origin (`insert` prepared from
/// [`INSERT_LEDGER`]) and project it through the append path's
/// [`Writer::project`] (facts from [`replay_facts`]): the one way an import
/// and a sync write another site's entry. The caller moves the head rows.
pub(crate) async fn insert_verbatim(
    w: &mut Writer<'_, '_>,
    insert: &tokio_postgres::Statement,
    e: &LedgerEntry,
    facts: Option<&Validated>,
) -> Result<(), DbError> {
    let (stored, codec) = w.pack(&e.body)?;
    w.t.execute(
        insert,
        &[
            &e.origin,
            &to_i64(e.seq)?,
            &to_i64(e.hlc.0)?,
            &e.kind,
            &e.key,
            &e.actor,
            &stored,
            &&e.prev_hash.0[..],
            &&e.hash.0[..],
            &is_message_kind(&e.kind),
            &e.body_digest.as_ref().map(|d| &d.0[..]),
            &e.withheld,
            &codec,
        ],
    )
    .await?;
    if let Some(v) = facts {
        let receipt = e.receipt();
        w.project(&receipt, &v.facts, &e.body).await?;
    }
    Ok(())
}

async fn write_records(
    t: &deadpool_postgres::Transaction<'_>,
    r: &SiteRecords,
) -> Result<(), DbError> {
    let st = t.prepare_cached(sql::PUT_RECORD).await?;
    let mut rows: Vec<(&str, String, String)> = Vec::new();
    for x in &r.sellers {
        rows.push(("seller", x.ubn.as_str().to_string(), json(x)?));
    }
    for x in &r.api_keys {
        rows.push(("api_key", x.key_id.clone(), json(x)?));
    }
    for x in &r.carriers {
        rows.push(("carrier", carrier_id(&x.carrier), json(x)?));
    }
    for x in &r.apps {
        rows.push(("app", x.app_id.clone(), json(x)?));
    }
    for x in &r.operators {
        rows.push(("operator", x.name.clone(), json(x)?));
    }
    for (space, id, j) in &rows {
        t.execute(&st, &[space, id, j]).await?;
    }
    for w in &r.winning_numbers {
        let key = i32::try_from(w.period.key()).map_err(|_| {
            DbError::Store(StoreError::Corrupt(format!(
                "period {} exceeds i32",
                w.period
            )))
        })?;
        let version = i32::try_from(w.version).map_err(|_| {
            DbError::Store(StoreError::Corrupt(format!(
                "version {} exceeds i32",
                w.version
            )))
        })?;
        t.execute(
            "INSERT INTO winning_numbers (period, version, json) VALUES ($1, $2, $3)",
            &[&key, &version, &json(w)?],
        )
        .await?;
    }
    write_draw(t, r).await
}

/// The draw's records, as exported: freezes, winner loads with their lines,
/// bank accounts (sealed bytes as given) and the outbox with its state.
async fn write_draw(
    t: &deadpool_postgres::Transaction<'_>,
    r: &SiteRecords,
) -> Result<(), DbError> {
    for f in &r.draw_freezes {
        t.execute(
            "INSERT INTO draw_freezes (period, root, json) VALUES ($1, $2, $3)",
            &[&period_key(f.period)?, &f.root, &json(f)?],
        )
        .await?;
    }
    let lines = t
        .prepare(
            "INSERT INTO winners (period, line, invoice_number, seller, prize, amount, payable, carrier, npo) \
             SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[])",
        )
        .await?;
    for l in &r.winner_loads {
        let pk = period_key(l.summary.period)?;
        t.execute(
            "INSERT INTO draw_loads (period, digest, json) VALUES ($1, $2, $3)",
            &[&pk, &l.summary.digest, &json(&l.summary)?],
        )
        .await?;
        t.batch_execute(&format!(
            "CREATE TABLE {} PARTITION OF winners FOR VALUES IN ({pk})",
            crate::draw::winners_partition(pk)
        ))
        .await?;
        for chunk in l.winners.chunks(CHUNK) {
            let line: Vec<i64> = chunk
                .iter()
                .map(|w| to_i64(w.line))
                .collect::<Result<_, _>>()?;
            let num: Vec<&str> = chunk.iter().map(|w| w.invoice_number.as_str()).collect();
            let seller: Vec<&str> = chunk.iter().map(|w| w.seller.as_str()).collect();
            let prize: Vec<&str> = chunk.iter().map(|w| w.prize.as_str()).collect();
            let amount: Vec<i64> = chunk.iter().map(|w| w.amount).collect();
            let payable: Vec<i64> = chunk.iter().map(|w| w.payable).collect();
            let carrier: Vec<Option<&str>> = chunk.iter().map(|w| w.carrier.as_deref()).collect();
            let npo: Vec<Option<&str>> = chunk.iter().map(|w| w.npo.as_deref()).collect();
            t.execute(
                &lines,
                &[
                    &pk, &line, &num, &seller, &prize, &amount, &payable, &carrier, &npo,
                ],
            )
            .await?;
        }
    }
    for a in &r.bank_accounts {
        t.execute(
            "INSERT INTO bank_accounts (carrier, json) VALUES ($1, $2)",
            &[&a.carrier, &json(a)?],
        )
        .await?;
    }
    let outbox = t
        .prepare(
            "INSERT INTO outbox (id, kind, body, attempts, next_unix, delivered_unix, last_error) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::integer[], $5::bigint[], $6::bigint[], $7::text[])",
        )
        .await?;
    for chunk in r.outbox.chunks(CHUNK) {
        let id: Vec<&str> = chunk.iter().map(|o| o.item.id.as_str()).collect();
        let kind: Vec<&str> = chunk.iter().map(|o| o.item.kind.as_str()).collect();
        let body: Vec<&str> = chunk.iter().map(|o| o.item.body.as_str()).collect();
        let attempts: Vec<i32> = chunk
            .iter()
            .map(|o| {
                i32::try_from(o.item.attempts).map_err(|_| {
                    DbError::Store(StoreError::Corrupt(format!(
                        "outbox {}: attempts {} exceed i32",
                        o.item.id, o.item.attempts
                    )))
                })
            })
            .collect::<Result<_, _>>()?;
        let next: Vec<i64> = chunk.iter().map(|o| o.item.next_unix).collect();
        let delivered: Vec<Option<i64>> = chunk.iter().map(|o| o.delivered_unix).collect();
        let error: Vec<Option<&str>> = chunk.iter().map(|o| o.last_error.as_deref()).collect();
        t.execute(
            &outbox,
            &[&id, &kind, &body, &attempts, &next, &delivered, &error],
        )
        .await?;
    }
    Ok(())
}
