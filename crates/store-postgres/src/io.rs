//! Export / import: listing every record, and importing a whole site into an
//! empty database in one transaction, projecting each message entry through
//! the append path's [`Writer::project`].

use crate::PgStore;
use crate::append::{Head, INSERT_LEDGER, Writer, to_i64};
use crate::error::DbError;
use crate::read::{carrier_id, sql};
use einvoice_core::Validated;
use einvoice_store::{
    EntryHash, Hlc, LedgerEntry, Receipt, SiteRecords, StoreError, WinningNumbersRecord,
    is_message_kind, replay_facts, target_not_empty,
};
use std::collections::BTreeMap;

fn parse<T: serde::de::DeserializeOwned>(what: &str, j: &str) -> Result<T, DbError> {
    serde_json::from_str(j).map_err(|e| DbError::Store(StoreError::Corrupt(format!("{what}: {e}"))))
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Store(StoreError::Backend(e.to_string())))
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
    let shared = s.shared();
    let created = async {
        let mut c = shared.pool.get().await?;
        let t = c.transaction().await?;
        t.batch_execute(
            "SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0; \
             LOCK TABLE ledger_heads, ledger, records, winning_numbers IN EXCLUSIVE MODE",
        )
        .await?;
        for (table, what) in [
            ("ledger", "ledger entries"),
            ("ledger_heads", "ledger heads"),
            (
                "records",
                "records (sellers, keys, carriers, apps, operators or sessions)",
            ),
            ("winning_numbers", "winning numbers"),
            ("invoices", "invoices"),
            ("tracks", "track allocations"),
        ] {
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
        };
        let insert = t.prepare_cached(INSERT_LEDGER).await?;
        let mut heads: BTreeMap<&str, &LedgerEntry> = BTreeMap::new();
        for (e, facts) in &prepared {
            w.t.execute(
                &insert,
                &[
                    &e.origin,
                    &to_i64(e.seq)?,
                    &to_i64(e.hlc.0)?,
                    &e.kind,
                    &e.key,
                    &e.actor,
                    &e.body,
                    &&e.prev_hash.0[..],
                    &&e.hash.0[..],
                    &is_message_kind(&e.kind),
                ],
            )
            .await?;
            if let Some(v) = facts {
                let receipt = Receipt {
                    origin: e.origin.clone(),
                    seq: e.seq,
                    hash: e.hash,
                    hlc: e.hlc,
                    kind: e.kind.clone(),
                    key: e.key.clone(),
                    duplicate: false,
                };
                w.project(&receipt, &v.facts, &e.body).await?;
            }
            let head = heads.entry(e.origin.as_str()).or_insert(e);
            if e.seq > head.seq {
                *head = e;
            }
        }
        let created = std::mem::take(&mut w.created);
        for (origin, e) in heads {
            t.execute(
                "INSERT INTO ledger_heads (origin, seq, hash, hlc) VALUES ($1, $2, $3, $4)",
                &[&origin, &to_i64(e.seq)?, &&e.hash.0[..], &to_i64(e.hlc.0)?],
            )
            .await?;
        }
        t.commit().await?;
        Ok::<_, DbError>(created)
    }
    .await
    .map_err(DbError::into_store)?;
    if let Ok(mut k) = shared.partitions.lock() {
        k.extend(created);
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
    Ok(())
}
