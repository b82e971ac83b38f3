//! The storage ceiling of `einvoice bench ingest`: the same rows inserted
//! with plain SQL into one table, with the store's own durability settings
//! (WAL, `synchronous = FULL`) and the same transaction size — what SQLite
//! can do on this disk with no ledger, hashing, projections or HTTP. And
//! the ceiling of `einvoice bench winners` ([`raw_winners_ceiling`]).

use crate::{backend, open_conn};
use einvoice_store::StoreError;
use std::path::Path;
use std::time::{Duration, Instant};

/// One row: seller, number, message body.
pub type RawRow = (String, String, Vec<u8>);

/// Insert `rows` into a fresh table in the file at `path`, `batch` rows per
/// committed transaction; the elapsed time from first insert to last commit.
pub fn raw_insert_ceiling(
    path: &Path,
    rows: &[RawRow],
    batch: usize,
) -> Result<Duration, StoreError> {
    let mut conn = open_conn(path, false)?;
    conn.execute_batch(
        "DROP TABLE IF EXISTS ceiling;
         CREATE TABLE ceiling (seller TEXT NOT NULL, number TEXT NOT NULL, body BLOB NOT NULL,
                               PRIMARY KEY (seller, number));",
    )
    .map_err(backend)?;
    let started = Instant::now();
    for chunk in rows.chunks(batch.max(1)) {
        let tx = conn.transaction().map_err(backend)?;
        {
            let mut st = tx
                .prepare_cached("INSERT INTO ceiling (seller, number, body) VALUES (?1, ?2, ?3)")
                .map_err(backend)?;
            for (s, n, b) in chunk {
                st.execute(rusqlite::params![s, n, b]).map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)?;
    }
    Ok(started.elapsed())
}

/// The ceiling of `einvoice bench winners`: the same winner lines and
/// notifications inserted into fresh tables without any index (not even a
/// primary key) in the file at `path`, in one transaction, through cached
/// prepared statements, with the store's durability settings — what SQLite
/// can write on this disk with no key, index or ledger. The elapsed time
/// from the first insert to the commit.
pub fn raw_winners_ceiling(
    path: &Path,
    period_key: u32,
    winners: &[einvoice_store::WinnerRecord],
    notes: &[einvoice_store::OutboxItem],
) -> Result<Duration, StoreError> {
    let mut conn = open_conn(path, false)?;
    conn.execute_batch(
        "DROP TABLE IF EXISTS winners_ceiling;
         DROP TABLE IF EXISTS outbox_ceiling;
         CREATE TABLE winners_ceiling (period INTEGER NOT NULL, line INTEGER NOT NULL,
             invoice_number TEXT NOT NULL, seller TEXT NOT NULL, prize TEXT NOT NULL,
             amount INTEGER NOT NULL, payable INTEGER NOT NULL, carrier TEXT, npo TEXT);
         CREATE TABLE outbox_ceiling (id TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL);",
    )
    .map_err(backend)?;
    let started = Instant::now();
    let tx = conn.transaction().map_err(backend)?;
    {
        let mut st = tx
            .prepare_cached(
                "INSERT INTO winners_ceiling (period, line, invoice_number, seller, prize, amount, payable, carrier, npo) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(backend)?;
        for w in winners {
            st.execute(rusqlite::params![
                period_key,
                i64::try_from(w.line).map_err(backend)?,
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
        let mut st = tx
            .prepare_cached("INSERT INTO outbox_ceiling (id, kind, body) VALUES (?1, ?2, ?3)")
            .map_err(backend)?;
        for n in notes {
            st.execute(rusqlite::params![n.id, n.kind, n.body])
                .map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)?;
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winners_ceiling_inserts_every_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        // Four lines, three of them payable on a carrier (one notification each).
        let line =
            |line: u64, carrier: Option<&str>, npo: Option<&str>| einvoice_store::WinnerRecord {
                line,
                invoice_number: format!("AB{:08}", line + 1),
                seller: "04595257".into(),
                prize: "sixth".into(),
                amount: 200,
                payable: 200,
                carrier: carrier.map(String::from),
                npo: npo.map(String::from),
            };
        let load = einvoice_store::WinnersLoad {
            period: einvoice_core::Period::parse("11402").expect("period"),
            actor: "a".into(),
            winners: vec![
                line(0, Some("3J0002:/ABC+123"), None),
                line(1, Some("3J0002:/ABC+123"), None),
                line(2, None, Some("919")),
                line(3, Some("3J0002:/XYZ+999"), None),
            ],
        };
        let notes = einvoice_store::winner_notifications(&load);
        raw_winners_ceiling(&path, 11402, &load.winners, &notes).expect("inserts");
        let c = open_conn(&path, true).expect("open");
        let count = |table: &str| -> i64 {
            c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .expect("count")
        };
        assert_eq!((count("winners_ceiling"), count("outbox_ceiling")), (4, 3));
    }

    #[test]
    fn inserts_every_row_and_refuses_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.db");
        let rows: Vec<RawRow> = (0..100)
            .map(|i| ("04595257".to_string(), format!("AB{i:08}"), vec![1, 2, 3]))
            .collect();
        raw_insert_ceiling(&path, &rows, 7).expect("inserts");
        let c = open_conn(&path, true).expect("open");
        let n: i64 = c
            .query_row("SELECT count(*) FROM ceiling", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 100);
        let mut dup = rows.clone();
        dup.push(rows[0].clone());
        assert!(raw_insert_ceiling(&path, &dup, 1000).is_err());
    }
}
