//! The storage ceiling of `einvoice bench ingest`: the same rows inserted
//! with plain SQL into one table, with the store's own durability settings
//! (WAL, `synchronous = FULL`) and the same transaction size — what SQLite
//! can do on this disk with no ledger, hashing, projections or HTTP.

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

#[cfg(test)]
mod tests {
    use super::*;

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
