//! Bodies kept once and compactly on PostgreSQL (migration 15): a database
//! of the layout before it — bodies raw in the ledger, a second copy in
//! `invoices.body`, no carrier read projection — is converted on connect,
//! and a damaged compressed body is `STORE_CORRUPT` naming its entry.

use einvoice_core::Period;
use einvoice_store::conformance::{SELLER_A, five_item_invoice, wide_allocation};
use einvoice_store::{Scope, Store, StoreError};
use einvoice_store_postgres::pg_harness::PgCluster;
use einvoice_store_postgres::{PgStore, SCHEMA_VERSION};

/// Invoices written: enough for the store to train its dictionary.
const INVOICES: u32 = 2_100;

/// The migrations released before migration 15.
const BEFORE_15: &[(i32, &str)] = &[
    (1, include_str!("../src/migrations/0001_init.sql")),
    (2, include_str!("../src/migrations/0002_draw.sql")),
    (3, include_str!("../src/migrations/0003_outbox_lease.sql")),
    (
        4,
        include_str!("../src/migrations/0004_winners_partitions.sql"),
    ),
    (6, include_str!("../src/migrations/0006_login_budgets.sql")),
    (8, include_str!("../src/migrations/0008_ledger_v2.sql")),
    (9, include_str!("../src/migrations/0009_sync.sql")),
    (10, include_str!("../src/migrations/0010_carrier_life.sql")),
    (11, include_str!("../src/migrations/0011_carrier_reg.sql")),
    (12, include_str!("../src/migrations/0012_carrier_links.sql")),
];

async fn fresh_db() -> (String, String) {
    let url = PgCluster::shared()
        .create_database()
        .await
        .expect("create a test database");
    let db = url.rsplit("dbname=").next().expect("dbname").to_string();
    (url, db)
}

async fn count(db: &str, sql: &str) -> i64 {
    PgCluster::shared()
        .client(db)
        .await
        .expect("client")
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// Allocation and [`INVOICES`] five-item invoices, in batches of 300.
async fn fill(s: &PgStore) {
    s.append(&Scope::All, "t", vec![wide_allocation(SELLER_A)])
        .await
        .expect("allocation");
    for start in (0..INVOICES).step_by(300) {
        let batch = (start..(start + 300).min(INVOICES))
            .map(|n| five_item_invoice(SELLER_A, n))
            .collect();
        for o in s.append(&Scope::All, "t", batch).await.expect("append") {
            o.expect("accepted");
        }
    }
}

fn carrier() -> einvoice_core::Carrier {
    use einvoice_core::ids::{CarrierType, CarrierTypes};
    einvoice_core::Carrier {
        kind: CarrierType::parse("3J0002", &CarrierTypes::default()).expect("type"),
        id: "/ABC+127".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_before_compact_bodies_is_converted_on_connect() {
    // The content, written by this binary: it trains its dictionary by itself.
    let (url, scratch) = fresh_db().await;
    let store = PgStore::connect(&url, "main").await.expect("connect");
    fill(&store).await;
    assert_eq!(count(&scratch, "SELECT count(*) FROM body_dicts").await, 1);
    assert_eq!(
        count(
            &scratch,
            "SELECT count(*) FROM ledger WHERE kind = 'F0401' AND body_codec = 0"
        )
        .await,
        0,
        "every invoice body is compressed once the dictionary exists"
    );
    let entries = store.entries("main", 0, 10_000).await.expect("entries");
    assert_eq!(entries.len(), INVOICES as usize + 1);
    let period = Period::parse("11402").expect("period");
    let rows = store
        .carrier_invoice_rows(&carrier(), period)
        .await
        .expect("rows");
    assert_eq!(rows.len(), INVOICES as usize / 10);
    let seller = einvoice_core::ids::Ubn::parse(SELLER_A).expect("ubn");
    let number = einvoice_core::ids::InvoiceNumber::parse("AB00000007").expect("number");
    let view = store
        .invoice(&Scope::All, seller, number)
        .await
        .expect("read")
        .expect("there");
    let random = view.summary.random.expect("random");
    let public = store.lookup_invoice(number, random).await.expect("lookup");
    let history = store
        .invoice_history(&Scope::All, seller, number)
        .await
        .expect("history");
    let list = store
        .list_invoices(&Scope::All, seller, period, None, 50)
        .await
        .expect("list");
    drop(store);

    // The same data in the layout of migrations 1–12.
    let (url, old) = fresh_db().await;
    let c = PgCluster::shared().client(&old).await.expect("client");
    c.batch_execute(
        "CREATE TABLE schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
         INSERT INTO schema_version (id, version) VALUES (1, 12);
         CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now());",
    )
    .await
    .expect("version tables");
    for (v, sql) in BEFORE_15 {
        c.batch_execute(sql).await.expect("released migration");
        c.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[v])
            .await
            .expect("record");
    }
    for e in &entries {
        c.execute(
            "INSERT INTO ledger (origin, seq, hlc, kind, key, actor, body, prev_hash, hash, message, body_digest) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &e.origin,
                &i64::try_from(e.seq).expect("seq"),
                &i64::try_from(e.hlc.0).expect("hlc"),
                &e.kind,
                &e.key,
                &e.actor,
                &e.body,
                &&e.prev_hash.0[..],
                &&e.hash.0[..],
                &true,
                &e.body_digest.as_ref().map(|d| &d.0[..]),
            ],
        )
        .await
        .expect("old ledger row");
    }
    let last = entries.last().expect("entries");
    c.execute(
        "INSERT INTO ledger_heads (origin, seq, hash, hlc) VALUES ($1, $2, $3, $4)",
        &[
            &last.origin,
            &i64::try_from(last.seq).expect("seq"),
            &&last.hash.0[..],
            &i64::try_from(last.hlc.0).expect("hlc"),
        ],
    )
    .await
    .expect("head");
    let sc = PgCluster::shared().client(&scratch).await.expect("client");
    c.batch_execute("CREATE TABLE invoices_p11402 PARTITION OF invoices FOR VALUES IN (11402)")
        .await
        .expect("partition");
    for r in sc
        .query(
            "SELECT seller, number, period, date, time, buyer, random, carrier_type, carrier_id, \
             npoban, total, status, allowance, origin, seq FROM invoices",
            &[],
        )
        .await
        .expect("invoices")
    {
        let (origin, seq): (String, i64) = (r.get(13), r.get(14));
        c.execute(
            "INSERT INTO invoices (seller, number, period, date, time, buyer, random, carrier_type, \
             carrier_id, npoban, total, status, allowance, origin, seq, body) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, body \
             FROM ledger WHERE origin = $14 AND seq = $15",
            &[
                &r.get::<_, String>(0),
                &r.get::<_, String>(1),
                &r.get::<_, i32>(2),
                &r.get::<_, String>(3),
                &r.get::<_, String>(4),
                &r.get::<_, String>(5),
                &r.get::<_, Option<String>>(6),
                &r.get::<_, Option<String>>(7),
                &r.get::<_, Option<String>>(8),
                &r.get::<_, Option<String>>(9),
                &r.get::<_, i64>(10),
                &r.get::<_, String>(11),
                &r.get::<_, i64>(12),
                &origin,
                &seq,
            ],
        )
        .await
        .expect("old invoice row");
    }
    for r in sc
        .query(
            "SELECT seller, period, track, begin_no, end_no FROM tracks",
            &[],
        )
        .await
        .expect("tracks")
    {
        c.execute(
            "INSERT INTO tracks (seller, period, track, begin_no, end_no) VALUES ($1, $2, $3, $4, $5)",
            &[
                &r.get::<_, String>(0),
                &r.get::<_, i32>(1),
                &r.get::<_, String>(2),
                &r.get::<_, i64>(3),
                &r.get::<_, i64>(4),
            ],
        )
        .await
        .expect("track");
    }
    let raw_bytes = count(&old, "SELECT sum(length(body))::bigint FROM ledger").await;

    // Connect: migration 15 converts it.
    let store = PgStore::connect(&url, "main").await.expect("upgrade");
    assert_eq!(
        store.schema_version().await.expect("version"),
        SCHEMA_VERSION
    );
    assert_eq!(count(&old, "SELECT count(*) FROM body_dicts").await, 1);
    assert_eq!(
        count(
            &old,
            "SELECT count(*) FROM ledger WHERE body_codec = 0 AND length(body) > 100"
        )
        .await,
        0
    );
    let packed_bytes = count(&old, "SELECT sum(length(body))::bigint FROM ledger").await;
    assert!(
        packed_bytes * 3 < raw_bytes,
        "bodies: {raw_bytes} bytes raw, {packed_bytes} compressed"
    );
    assert_eq!(
        count(
            &old,
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 'invoices' AND column_name = 'body'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&old, "SELECT count(*) FROM invoices WHERE detail IS NULL").await,
        0
    );
    // Every read answers the same.
    assert_eq!(
        store.entries("main", 0, 10_000).await.expect("entries"),
        entries
    );
    assert_eq!(
        store
            .carrier_invoice_rows(&carrier(), period)
            .await
            .expect("rows"),
        rows
    );
    assert_eq!(
        store
            .invoice(&Scope::All, seller, number)
            .await
            .expect("read"),
        Some(view)
    );
    assert_eq!(
        store.lookup_invoice(number, random).await.expect("lookup"),
        public
    );
    assert_eq!(
        store
            .invoice_history(&Scope::All, seller, number)
            .await
            .expect("history"),
        history
    );
    assert_eq!(
        store
            .list_invoices(&Scope::All, seller, period, None, 50)
            .await
            .expect("list"),
        list
    );
    let v = store.verify_ledger("main").await.expect("verify");
    assert_eq!((v.entries, v.broken), (u64::from(INVOICES) + 1, None));

    // The next invoice is written compressed and continues the chain.
    for o in store
        .append(
            &Scope::All,
            "t",
            vec![five_item_invoice(SELLER_A, INVOICES)],
        )
        .await
        .expect("append")
    {
        o.expect("accepted");
    }
    let next = u64::from(INVOICES) + 2;
    assert_eq!(
        count(
            &old,
            &format!("SELECT body_codec FROM ledger WHERE seq = {next}")
        )
        .await,
        1
    );
    let v = store.verify_ledger("main").await.expect("verify");
    assert_eq!((v.entries, v.broken), (next, None));
}

/// A compressed body whose stored bytes are damaged is `STORE_CORRUPT` on
/// read, naming its entry, and the verify names the entry instead of failing
/// as a whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_compressed_body_is_corrupt_and_named() {
    let (url, db) = fresh_db().await;
    let store = PgStore::connect(&url, "main").await.expect("connect");
    fill(&store).await;
    assert_eq!(
        count(&db, "SELECT body_codec FROM ledger WHERE seq = 5").await,
        1
    );
    PgCluster::shared()
        .client(&db)
        .await
        .expect("client")
        .batch_execute(
            "UPDATE ledger SET body = overlay(body placing '\\xffffffff'::bytea from 7 for 4) \
             WHERE origin = 'main' AND seq = 5",
        )
        .await
        .expect("damage");
    let err = store.entries("main", 4, 1).await.expect_err("damaged");
    match &err {
        StoreError::Corrupt(m) => assert!(m.contains("main/5"), "{m}"),
        other => panic!("{other}"),
    }
    let seller = einvoice_core::ids::Ubn::parse(SELLER_A).expect("ubn");
    let number = einvoice_core::ids::InvoiceNumber::parse("AB00000003").expect("number");
    let err = store
        .invoice(&Scope::All, seller, number)
        .await
        .expect_err("damaged");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    let v = store.verify_ledger("main").await.expect("verify");
    assert_eq!(v.broken.map(|b| b.seq), Some(5));
}
