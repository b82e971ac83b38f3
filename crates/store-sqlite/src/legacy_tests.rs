//! Databases written before the numbered migrations open and upgrade. The
//! old DDL is inlined here as it was (`schema.sql`, `draw.sql` and
//! `v2_outbox_lease.sql` of the single-number scheme), so these tests keep
//! building old databases whatever the migrations become.

use super::*;
use einvoice_store::conformance::{five_item_invoice, wide_allocation};
use einvoice_store::{BankAccountRecord, OutboxOutcome, Store};

/// The old `schema.sql` ("version 1" without the draw).
const OLD_SCHEMA: &str = r#"
-- einvoice SQLite schema, version 1.
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);

-- The ledger: one hash chain per origin.
CREATE TABLE IF NOT EXISTS ledger (
    origin    TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    hlc       INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    body      BLOB    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL,
    PRIMARY KEY (origin, seq)
);
-- Idempotency: one message per (kind, natural key). Events (ADMIN, ...) are exempt.
CREATE UNIQUE INDEX IF NOT EXISTS ledger_message_key ON ledger (kind, key) WHERE kind GLOB '[A-G][0-9][0-9][0-9][0-9]';
CREATE INDEX IF NOT EXISTS ledger_key ON ledger (key);

-- Projection: invoices.
CREATE TABLE IF NOT EXISTS invoices (
    seller       TEXT    NOT NULL,
    number       TEXT    NOT NULL,
    period       INTEGER NOT NULL,
    date         TEXT    NOT NULL,
    time         TEXT    NOT NULL,
    buyer        TEXT    NOT NULL,
    random       TEXT,
    carrier_type TEXT,
    carrier_id   TEXT,
    npoban       TEXT,
    total        INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    allowance    INTEGER NOT NULL DEFAULT 0,
    body         BLOB    NOT NULL,
    origin       TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (seller, number)
);
CREATE INDEX IF NOT EXISTS invoices_by_period  ON invoices (seller, period, number);
CREATE INDEX IF NOT EXISTS invoices_by_carrier ON invoices (carrier_type, carrier_id, period);
CREATE INDEX IF NOT EXISTS invoices_by_random  ON invoices (number, random);

-- Cancels / voids that arrived before their invoice (held, applied on arrival).
CREATE TABLE IF NOT EXISTS held (
    seller TEXT NOT NULL,
    number TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (seller, number, status)
);

-- Allowances per original invoice.
CREATE TABLE IF NOT EXISTS allowances (
    seller      TEXT    NOT NULL,
    allowance   TEXT    NOT NULL,
    invoice     TEXT    NOT NULL,
    amount      INTEGER NOT NULL,
    cancelled   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (seller, allowance, invoice)
);

-- Track allocations (E0401 / E0501).
CREATE TABLE IF NOT EXISTS tracks (
    seller TEXT    NOT NULL,
    period INTEGER NOT NULL,
    track  TEXT    NOT NULL,
    begin  INTEGER NOT NULL,
    end    INTEGER NOT NULL,
    PRIMARY KEY (seller, period, track, begin)
);
CREATE INDEX IF NOT EXISTS tracks_by_range ON tracks (period, track, begin);

-- Records kept as JSON documents: sellers, api keys, apps, operators, sessions, carriers.
CREATE TABLE IF NOT EXISTS records (
    space TEXT NOT NULL,
    id    TEXT NOT NULL,
    json  TEXT NOT NULL,
    PRIMARY KEY (space, id)
);

CREATE TABLE IF NOT EXISTS nonces (
    key_id  TEXT    NOT NULL,
    nonce   TEXT    NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires);

CREATE TABLE IF NOT EXISTS winning_numbers (
    period  INTEGER NOT NULL,
    version INTEGER NOT NULL,
    json    TEXT    NOT NULL,
    PRIMARY KEY (period, version)
);
"#;

/// The old `draw.sql` (run on every open of a "version 1" database).
const OLD_DRAW: &str = r#"
-- The draw (tables added after schema version 1; created if missing on open).

-- The eligibility freeze pages a period's invoices by (number, seller).
CREATE INDEX IF NOT EXISTS invoices_by_draw ON invoices (period, number, seller);

-- A period's frozen snapshot (root + rows); a period is frozen once.
CREATE TABLE IF NOT EXISTS draw_freezes (
    period INTEGER PRIMARY KEY,
    root   TEXT    NOT NULL,
    json   TEXT    NOT NULL
);

-- A period's loaded winners: the digest of the load (idempotency) + summary.
CREATE TABLE IF NOT EXISTS draw_loads (
    period INTEGER PRIMARY KEY,
    digest TEXT    NOT NULL,
    json   TEXT    NOT NULL
);

-- Winner lines (one prize of one invoice), in draw order.
CREATE TABLE IF NOT EXISTS winners (
    period         INTEGER NOT NULL,
    line           INTEGER NOT NULL,
    invoice_number TEXT    NOT NULL,
    seller         TEXT    NOT NULL,
    prize          TEXT    NOT NULL,
    amount         INTEGER NOT NULL,
    payable        INTEGER NOT NULL,
    carrier        TEXT,
    npo            TEXT,
    PRIMARY KEY (period, line)
);
CREATE INDEX IF NOT EXISTS winners_by_carrier ON winners (carrier, period, line);

-- Citizens' bank accounts (the account sealed by the server's master key).
CREATE TABLE IF NOT EXISTS bank_accounts (
    carrier TEXT PRIMARY KEY,
    json    TEXT NOT NULL
);

-- Winner notifications to deliver (webhook), enqueued with the winners.
CREATE TABLE IF NOT EXISTS outbox (
    id             TEXT    PRIMARY KEY,
    kind           TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_unix      INTEGER NOT NULL DEFAULT 0,
    delivered_unix INTEGER,
    last_error     TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (delivered_unix, next_unix, id);
"#;

/// The old `v2_outbox_lease.sql` ("version 2").
const OLD_V2: &str = r#"
-- Schema version 2: outbox leases. A worker claims due items by leasing
-- them (`lease_owner` until `lease_until`, Unix seconds); only the holder
-- records an outcome, and a lapsed lease makes the item claimable again.
-- Applied once by `migrate` to databases of version 1 (ALTER TABLE is not
-- idempotent, so it is versioned, not `IF NOT EXISTS` like draw.sql).
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until INTEGER;
"#;

fn version(p: &Path) -> i64 {
    schema_version(&open_conn(p, true).expect("open")).expect("v")
}

/// A database built the old way: `ddl` run, then `version` stored in the
/// old single-number table.
fn old_database(path: &Path, ddl: &[&str], version: i64) {
    let c = Connection::open(path).expect("open");
    for sql in ddl {
        c.execute_batch(sql).expect("old ddl");
    }
    c.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [version],
    )
    .expect("old version");
}

/// A version-1 database (before outbox leases) is upgraded on open: its
/// undelivered items keep their state and can be claimed and marked;
/// opening again changes nothing; a newer database is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1.db");
    old_database(&path, &[OLD_SCHEMA, OLD_DRAW], 1);
    Connection::open(&path)
        .expect("open")
        .execute_batch(
            "INSERT INTO outbox (id, kind, body, attempts, next_unix, last_error)
             VALUES ('winner/11402/0', 'winner', '{}', 2, 50, 'HTTP 500'),
                    ('winner/11402/1', 'winner', '{}', 0, 0, NULL);
             UPDATE outbox SET delivered_unix = 7 WHERE id = 'winner/11402/1';",
        )
        .expect("v1 rows");
    let store = SqliteStore::open(&path, "main").expect("upgrade");
    assert_eq!(version(&path), SCHEMA_VERSION);
    let claimed = store.outbox_claim(50, 10, 60, "w").await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].id.as_str(), claimed[0].attempts),
        ("winner/11402/0", 2)
    );
    assert!(
        store
            .outbox_mark(
                "winner/11402/0",
                "w",
                OutboxOutcome::Delivered { at_unix: 51 }
            )
            .await
            .expect("mark")
    );
    drop(store);
    let again = SqliteStore::open(&path, "main").expect("reopen");
    assert_eq!(version(&path), SCHEMA_VERSION);
    assert!(
        again
            .outbox_claim(i64::MAX, 10, 60, "w")
            .await
            .expect("claim")
            .is_empty()
    );
    drop(again);
    Connection::open(&path)
        .expect("open")
        .execute(
            "INSERT INTO schema_migrations (version, applied_unix) VALUES (99, 0)",
            [],
        )
        .expect("future version");
    let err = SqliteStore::open(&path, "main").expect_err("newer");
    assert!(err.to_string().contains("newer than this binary"), "{err}");
}

/// A version-2 database (what the single-number scheme wrote last) opens
/// as the current version without re-running its upgrade, keeps its chain,
/// and goes on appending to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_database_opens_and_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v2.db");
    old_database(&path, &[OLD_SCHEMA, OLD_DRAW, OLD_V2], 2);
    let store = SqliteStore::open(&path, "main").expect("open v2");
    assert_eq!(version(&path), SCHEMA_VERSION);
    let first = store
        .append_event(einvoice_store::NewEntry {
            kind: "ADMIN".into(),
            key: "k".into(),
            actor: "t".into(),
            body: b"{}".to_vec(),
        })
        .await
        .expect("append");
    assert_eq!(first.seq, 1);
    drop(store);
    let store = SqliteStore::open(&path, "main").expect("reopen");
    assert_eq!(version(&path), SCHEMA_VERSION);
    let v = store.verify_ledger("main").await.expect("verify");
    assert_eq!((v.entries, v.broken), (1, None));
}

/// A version-1 database written before the draw existed gets the draw's
/// tables on open, as the old code's every-open `draw.sql` gave it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_without_the_draw_gets_its_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1-nodraw.db");
    old_database(&path, &[OLD_SCHEMA], 1);
    let store = SqliteStore::open(&path, "main").expect("upgrade");
    assert_eq!(version(&path), SCHEMA_VERSION);
    let account = BankAccountRecord {
        carrier: "3J0002:/ABC+123".into(),
        sealed: b"sealed".to_vec(),
        masked: "***1234".into(),
        bank_code: "004".into(),
        updated_unix: 1,
    };
    store
        .put_bank_account(account.clone())
        .await
        .expect("draw tables exist");
    assert_eq!(
        store.bank_account(&account.carrier).await.expect("read"),
        Some(account)
    );
}

/// A database holding v1 entries (written before ledger format v2) is
/// upgraded on open without touching them: they read back as v1, verify, and
/// the next entry continues the chain as v2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_entries_of_an_old_database_keep_verifying() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1-entries.db");
    old_database(&path, &[OLD_SCHEMA, OLD_DRAW, OLD_V2], 2);
    let v1 = einvoice_store::conformance::chain("main", 3);
    {
        let c = Connection::open(&path).expect("open");
        for e in &v1 {
            c.execute(
                "INSERT INTO ledger (origin, seq, hlc, kind, key, actor, body, prev_hash, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![
                    e.origin,
                    i64::try_from(e.seq).expect("seq"),
                    i64::try_from(e.hlc.0).expect("hlc"),
                    e.kind,
                    e.key,
                    e.actor,
                    e.body,
                    &e.prev_hash.0[..],
                    &e.hash.0[..]
                ],
            )
            .expect("v1 row");
        }
    }
    let store = SqliteStore::open(&path, "main").expect("upgrade");
    assert_eq!(version(&path), SCHEMA_VERSION);
    assert_eq!(store.entries("main", 0, 10).await.expect("entries"), v1);
    let r = store
        .append_event(einvoice_store::NewEntry {
            kind: "ADMIN".into(),
            key: "k".into(),
            actor: "t".into(),
            body: b"{}".to_vec(),
        })
        .await
        .expect("append");
    assert_eq!(r.seq, 4);
    let next = store.entries("main", 3, 1).await.expect("entry 4");
    assert_eq!(next[0].format(), einvoice_store::EntryFormat::V2);
    let v = store.verify_ledger("main").await.expect("verify");
    assert_eq!((v.entries, v.broken, v.withheld), (4, None, 0));
}

/// The database file's size plus its WAL's: what the store takes on disk.
fn file_bytes(path: &Path) -> u64 {
    let wal = path.with_extension("db-wal");
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

fn count_of(path: &Path, sql: &str) -> i64 {
    open_conn(path, true)
        .expect("open")
        .query_row(sql, [], |r| r.get(0))
        .expect("count")
}

/// A database of the layout before migration 12 — bodies raw in the
/// ledger, a second copy in `invoices.body`, the carrier projection in
/// `invoice_detail` — is rebuilt on open: one table of invoices without
/// bodies, every body compressed with a dictionary trained on the store's
/// own bodies, and everything reads back as before (entries byte for byte,
/// invoice views, carrier rows, the chain). The store that wrote the data
/// trained its dictionary by itself once it held enough bodies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_before_compact_bodies_is_rebuilt_and_compressed() {
    use einvoice_core::ids::{CarrierType, CarrierTypes};
    use einvoice_core::{Carrier, Period};
    use einvoice_store::conformance::SELLER_A;
    use einvoice_store::{Scope, Store};
    const INVOICES: u32 = 2_100;

    let dir = tempfile::tempdir().expect("tempdir");
    // The content, written by this binary.
    let scratch = dir.path().join("scratch.db");
    let store = SqliteStore::open(&scratch, "main").expect("open");
    store
        .append(&Scope::All, "t", vec![wide_allocation(SELLER_A)])
        .await
        .expect("allocation");
    for start in (0..INVOICES).step_by(300) {
        let batch = (start..(start + 300).min(INVOICES))
            .map(|n| five_item_invoice(SELLER_A, n))
            .collect();
        for o in store.append(&Scope::All, "t", batch).await.expect("append") {
            o.expect("accepted");
        }
    }
    assert_eq!(count_of(&scratch, "SELECT count(*) FROM body_dicts"), 1);
    assert_eq!(
        count_of(
            &scratch,
            "SELECT count(*) FROM ledger WHERE kind = 'F0401' AND body_codec = 0"
        ),
        0,
        "every invoice body is compressed once the dictionary exists"
    );
    let entries = store.entries("main", 0, 10_000).await.expect("entries");
    assert_eq!(entries.len(), INVOICES as usize + 1);
    let carrier = Carrier {
        kind: CarrierType::parse("3J0002", &CarrierTypes::default()).expect("type"),
        id: "/ABC+123".into(),
    };
    let period = Period::parse("11402").expect("period");
    let rows = store
        .carrier_invoice_rows(&carrier, period)
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
    assert_eq!(
        view.message
            .as_ref()
            .and_then(|m| m.pointer("/Details/4/Description")),
        Some(&serde_json::json!("item 5 of order 7"))
    );
    drop(store);

    // The same data in the layout of migrations 1–10.
    let old = dir.path().join("old.db");
    {
        let c = Connection::open(&old).expect("open old");
        c.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_unix INTEGER NOT NULL)",
        )
        .expect("migrations table");
        for (v, sql) in crate::migrate::MIGRATIONS.iter().filter(|(v, _)| *v <= 10) {
            c.execute_batch(sql).expect("old migration");
            c.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [v])
                .expect("record");
        }
        for e in &entries {
            c.execute(
                "INSERT INTO ledger (origin, seq, hlc, kind, key, actor, body, prev_hash, hash, body_digest, withheld) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)",
                rusqlite::params![
                    e.origin,
                    i64::try_from(e.seq).expect("seq"),
                    i64::try_from(e.hlc.0).expect("hlc"),
                    e.kind,
                    e.key,
                    e.actor,
                    e.body,
                    &e.prev_hash.0[..],
                    &e.hash.0[..],
                    e.body_digest.as_ref().map(|d| &d.0[..]),
                ],
            )
            .expect("old ledger row");
        }
        c.execute("ATTACH ?1 AS s", [scratch.to_str().expect("utf-8 path")])
            .expect("attach");
        c.execute_batch(
            "INSERT INTO invoices (seller, number, period, date, time, buyer, random, carrier_type, \
                 carrier_id, npoban, total, status, allowance, body, origin, seq) \
             SELECT i.seller, i.number, i.period, i.date, i.time, i.buyer, i.random, i.carrier_type, \
                 i.carrier_id, i.npoban, i.total, i.status, i.allowance, l.body, i.origin, i.seq \
             FROM s.invoices i JOIN main.ledger l ON l.origin = i.origin AND l.seq = i.seq;
             INSERT INTO invoice_detail (seller, number, detail) SELECT seller, number, detail FROM s.invoices;
             INSERT INTO tracks SELECT * FROM s.tracks;",
        )
        .expect("old projections");
    }
    let raw_bytes = count_of(&old, "SELECT sum(length(body)) FROM ledger");
    let file_before = file_bytes(&old);

    // Opening migrates, then reclaims the rewritten tables' space outside
    // the migration's transaction, saying so before and after.
    let mut events = Vec::new();
    let store =
        SqliteStore::open_reporting(&old, "main", &mut |e| events.push(e)).expect("upgrade");
    assert_eq!(version(&old), SCHEMA_VERSION);
    let file_after = file_bytes(&old);
    assert!(
        file_after * 2 < file_before,
        "the file shrinks: {file_before} bytes before, {file_after} after"
    );
    assert_eq!(count_of(&old, "PRAGMA freelist_count"), 0);
    match events.as_slice() {
        [
            crate::MigrationEvent::Reclaiming { applied, bytes },
            crate::MigrationEvent::Reclaimed(r),
        ] => {
            assert_eq!(applied, &[11, 12, 13, 14, 15]);
            assert_eq!((*bytes, r.before), (r.before, r.before));
            assert!(r.after < r.before, "{r:?}");
        }
        other => panic!("{other:?}"),
    }
    // A new store migrates from nothing and has nothing to reclaim.
    let mut fresh = Vec::new();
    let new_db = dir.path().join("new.db");
    drop(SqliteStore::open_reporting(&new_db, "main", &mut |e| fresh.push(e)).expect("new"));
    assert!(fresh.is_empty(), "{fresh:?}");
    // Opening again migrates nothing and reclaims nothing.
    let mut again = Vec::new();
    drop(SqliteStore::open_reporting(&old, "main", &mut |e| again.push(e)).expect("reopen"));
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(count_of(&old, "SELECT count(*) FROM body_dicts"), 1);
    assert_eq!(
        count_of(
            &old,
            "SELECT count(*) FROM ledger WHERE body_codec = 0 AND length(body) > 100"
        ),
        0
    );
    let packed_bytes = count_of(&old, "SELECT sum(length(body)) FROM ledger");
    assert!(
        packed_bytes * 3 < raw_bytes,
        "bodies: {raw_bytes} bytes raw, {packed_bytes} compressed"
    );
    assert_eq!(
        count_of(
            &old,
            "SELECT count(*) FROM pragma_table_info('invoices') WHERE name = 'body'"
        ),
        0
    );
    assert_eq!(
        count_of(
            &old,
            "SELECT count(*) FROM sqlite_master WHERE name = 'invoice_detail'"
        ),
        0
    );
    assert_eq!(
        store.entries("main", 0, 10_000).await.expect("entries"),
        entries
    );
    assert_eq!(
        store
            .carrier_invoice_rows(&carrier, period)
            .await
            .expect("rows"),
        rows
    );
    let again = store
        .invoice(&Scope::All, seller, number)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(again.message, view.message);
    let v = store.verify_ledger("main").await.expect("verify");
    assert_eq!((v.entries, v.broken), (u64::from(INVOICES) + 1, None));

    // The next invoice is written compressed and continues the chain; a
    // compressed body changed on disk is named by the verify.
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
    let last = u64::from(INVOICES) + 2;
    assert_eq!(
        count_of(
            &old,
            &format!("SELECT body_codec FROM ledger WHERE seq = {last}")
        ),
        1
    );
    store.tamper_for_tests("main", 9).await.expect("tamper");
    let v = store.verify_ledger("main").await.expect("verify");
    assert_eq!(v.broken.map(|b| b.seq), Some(9));
}

/// A compressed body whose stored bytes are damaged is `STORE_CORRUPT` on
/// read, and the verify names its entry instead of failing as a whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_compressed_body_is_corrupt_and_named_by_the_verify() {
    use einvoice_store::conformance::SELLER_A;
    use einvoice_store::{Scope, Store, StoreError};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("damaged.db");
    let store = SqliteStore::open(&path, "main").expect("open");
    store
        .append(&Scope::All, "t", vec![wide_allocation(SELLER_A)])
        .await
        .expect("allocation");
    let batch = (0..bodies::TRAIN_AT as u32)
        .map(|n| five_item_invoice(SELLER_A, n))
        .collect();
    store.append(&Scope::All, "t", batch).await.expect("append");
    assert_eq!(
        count_of(&path, "SELECT body_codec FROM ledger WHERE seq = 5"),
        1
    );
    Connection::open(&path)
        .expect("open")
        .execute(
            "UPDATE ledger SET body = CAST(substr(body, 1, 6) || X'FFFFFFFF' || substr(body, 11) AS BLOB) WHERE seq = 5",
            [],
        )
        .expect("damage");
    let err = store.entries("main", 4, 1).await.expect_err("damaged");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    let v = store.verify_ledger("main").await.expect("verify");
    assert_eq!(v.broken.map(|b| b.seq), Some(5));
}
