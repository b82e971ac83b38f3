//! The carrier read projection on SQLite: a database made before migration
//! 6 is rebuilt from the ledger on open (into `invoices.detail`, migration 12), and the rebuild writes exactly what
//! the append path wrote.

use einvoice_core::{Carrier, CarrierType, Period};
use einvoice_store::conformance::{SELLER_A, allocation, cancel, invoice};
use einvoice_store::{Scope, Store};
use einvoice_store_sqlite::SqliteStore;
use rusqlite::Connection;
use std::path::Path;

type DetailRows = Vec<(String, String, Vec<u8>)>;

fn detail_table(path: &Path) -> DetailRows {
    let c = Connection::open(path).expect("open");
    let mut st = c
        .prepare("SELECT seller, number, detail FROM invoices ORDER BY seller, number")
        .expect("prepare");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn carrier() -> Carrier {
    Carrier {
        kind: CarrierType::MobileBarcode,
        id: "/ABC+123".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_from_the_ledger_equals_the_incremental_projection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("einvoice.db");
    let period = Period::parse("11402").expect("period");
    let incremental = {
        let s = SqliteStore::open(&path, "main").expect("open");
        let mut messages = vec![allocation(SELLER_A)];
        for i in 1..=40u32 {
            messages.push(invoice(
                SELLER_A,
                &format!("AB{i:08}"),
                &format!("{:04}", 1000 + i),
                10 * i,
            ));
        }
        messages.push(cancel(SELLER_A, "AB00000007", "typo"));
        for o in s
            .append(&Scope::All, "test", messages)
            .await
            .expect("append")
        {
            o.expect("accepted");
        }
        s.carrier_invoice_rows(&carrier(), period)
            .await
            .expect("rows")
    };
    assert_eq!(incremental.len(), 40);
    let table = detail_table(&path);
    assert_eq!(table.len(), 40);

    // The database as it was before migration 6: no projection (since
    // migration 12 it is the `detail` column of `invoices`).
    {
        let c = Connection::open(&path).expect("open");
        c.execute_batch(
            "UPDATE invoices SET detail = NULL; DELETE FROM schema_migrations WHERE version = 6;",
        )
        .expect("downgrade");
    }
    let s = SqliteStore::open(&path, "main").expect("reopen migrates");
    let rebuilt = s
        .carrier_invoice_rows(&carrier(), period)
        .await
        .expect("rows after the rebuild");
    assert_eq!(rebuilt, incremental);
    assert_eq!(detail_table(&path), table);
}
