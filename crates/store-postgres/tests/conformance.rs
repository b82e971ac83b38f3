//! The shared conformance suite on PostgreSQL (one fresh database per test in
//! one shared throw-away cluster), plus PostgreSQL-only checks of the schema
//! and the chain.

use einvoice_store::conformance::{SELLER_A, allocation, invoice};
use einvoice_store::{Scope, Store};
use einvoice_store_postgres::pg_harness::PgCluster;
use einvoice_store_postgres::{PgStore, SCHEMA_VERSION};

async fn fresh_url() -> String {
    PgCluster::shared()
        .create_database()
        .await
        .expect("create a test database")
}

async fn fresh() -> PgStore {
    PgStore::connect(&fresh_url().await, "main")
        .await
        .expect("connect")
}

einvoice_store::store_conformance!(fresh());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_idempotent_and_versioned() {
    let url = fresh_url().await;
    let s = PgStore::connect(&url, "main").await.expect("connect");
    s.migrate().await.expect("again");
    // Several nodes connecting (and migrating) at once.
    let mut tasks = Vec::new();
    for i in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            PgStore::connect(&url, &format!("n{i}")).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await
            .expect("task")
            .expect("concurrent connect + migrate");
    }
    assert_eq!(s.schema_version().await.expect("version"), SCHEMA_VERSION);
}

/// A database kept at version 8 by the single schema counter (the release
/// whose migrations were 1–4 and 8) still gets migration 6, numbered on a
/// parallel branch and landed after 8: every unrecorded version is applied,
/// not only those above the highest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_numbered_migration_landed_later_is_applied() {
    let url = fresh_url().await;
    let db = url.rsplit("dbname=").next().expect("dbname");
    let c = PgCluster::shared().client(db).await.expect("client");
    for sql in [
        include_str!("../src/migrations/0001_init.sql"),
        include_str!("../src/migrations/0002_draw.sql"),
        include_str!("../src/migrations/0003_outbox_lease.sql"),
        include_str!("../src/migrations/0004_winners_partitions.sql"),
        include_str!("../src/migrations/0008_ledger_v2.sql"),
        "CREATE TABLE schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
         INSERT INTO schema_version (id, version) VALUES (1, 8)",
    ] {
        c.batch_execute(sql).await.expect("released schema");
    }
    let has_budgets = |c: tokio_postgres::Client| async move {
        c.query_one("SELECT to_regclass('login_budgets') IS NOT NULL", &[])
            .await
            .expect("regclass")
            .get::<_, bool>(0)
    };
    assert!(!has_budgets(PgCluster::shared().client(db).await.expect("client")).await);
    let s = PgStore::connect(&url, "main").await.expect("upgrade");
    assert_eq!(s.schema_version().await.expect("version"), SCHEMA_VERSION);
    assert!(has_budgets(c).await, "migration 6 was skipped");
    let recorded: Vec<i32> = PgCluster::shared()
        .client(db)
        .await
        .expect("client")
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("recorded")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(recorded[..6], [1, 2, 3, 4, 6, 8]);
    assert_eq!(recorded.last(), Some(&SCHEMA_VERSION));
}

/// A database of schema version 2 (before outbox leases) is upgraded on
/// connect: its undelivered items keep their state and can be claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_database_is_upgraded() {
    let url = fresh_url().await;
    let db = url.rsplit("dbname=").next().expect("dbname");
    let c = PgCluster::shared().client(db).await.expect("client");
    c.batch_execute(include_str!("../src/migrations/0001_init.sql"))
        .await
        .expect("v1");
    c.batch_execute(include_str!("../src/migrations/0002_draw.sql"))
        .await
        .expect("v2");
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
         INSERT INTO schema_version (id, version) VALUES (1, 2)
             ON CONFLICT (id) DO UPDATE SET version = 2;
         INSERT INTO outbox (id, kind, body, attempts, next_unix, last_error)
             VALUES ('winner/11402/0', 'winner', '{}', 2, 50, 'HTTP 500')",
    )
    .await
    .expect("v2 rows");
    let s = PgStore::connect(&url, "main").await.expect("upgrade");
    assert_eq!(s.schema_version().await.expect("version"), SCHEMA_VERSION);
    assert!(
        s.outbox_claim(49, 10, 60, "w")
            .await
            .expect("claim")
            .is_empty()
    );
    let claimed = s.outbox_claim(50, 10, 60, "w").await.expect("claim");
    assert_eq!(
        claimed
            .iter()
            .map(|i| (i.id.as_str(), i.attempts))
            .collect::<Vec<_>>(),
        [("winner/11402/0", 2)]
    );
    assert!(
        s.outbox_mark(
            "winner/11402/0",
            "w",
            einvoice_store::OutboxOutcome::Delivered { at_unix: 51 }
        )
        .await
        .expect("mark")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_the_first_tampered_entry() {
    let url = fresh_url().await;
    let s = PgStore::connect(&url, "main").await.expect("connect");
    let db = url.rsplit("dbname=").next().expect("dbname").to_string();
    einvoice_store::conformance::verify_finds_the_first_tampered_entry(s, |_, seq| async move {
        let c = PgCluster::shared().client(&db).await.expect("client");
        c.execute(
            "UPDATE ledger SET body = '\\x00'::bytea || body WHERE origin = 'main' AND seq = $1",
            &[&i64::try_from(seq).expect("seq")],
        )
        .await
        .expect("tamper");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_continues_the_chain() {
    let url = fresh_url().await;
    einvoice_store::conformance::reopening_continues_the_chain(|| async {
        PgStore::connect(&url, "main").await.expect("connect")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_period_detaches_and_comes_back_empty_on_every_node() {
    use einvoice_core::{InvoiceNumber, Period, Ubn};
    let url = fresh_url().await;
    let node1 = PgStore::connect(&url, "main").await.expect("node 1");
    let node2 = PgStore::connect(&url, "main").await.expect("node 2");
    let (seller, period) = (
        Ubn::parse(SELLER_A).expect("ubn"),
        Period::parse("11402").expect("period"),
    );
    let num = |s: &str| InvoiceNumber::parse(s).expect("number");
    node1
        .append(&Scope::All, "t", vec![allocation(SELLER_A)])
        .await
        .expect("alloc");
    // Both nodes write into (and so remember) the period's partition.
    for (node, n) in [(&node1, "AB00000001"), (&node2, "AB00000002")] {
        let out = node
            .append(&Scope::All, "t", vec![invoice(SELLER_A, n, "1234", 10)])
            .await
            .expect("append");
        assert!(out[0].is_ok(), "{out:?}");
    }
    assert_eq!(
        node2
            .list_invoices(&Scope::All, seller, period, None, 10)
            .await
            .expect("list")
            .len(),
        2
    );

    let archived = node1
        .detach_period(period)
        .await
        .expect("detach")
        .expect("there was a partition");
    assert!(
        archived.starts_with("invoices_p11402_detached_"),
        "{archived}"
    );
    assert_eq!(node1.detach_period(period).await.expect("again"), None);
    for node in [&node1, &node2] {
        assert!(
            node.list_invoices(&Scope::All, seller, period, None, 10)
                .await
                .expect("list")
                .is_empty()
        );
    }
    // The archived rows are all there, in a plain table.
    let db = url.rsplit("dbname=").next().expect("dbname");
    let c = PgCluster::shared().client(db).await.expect("client");
    let n: i64 = c
        .query_one(&format!("SELECT count(*) FROM {archived}"), &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 2);

    // node2 still remembers the partition: its next append for the period
    // recreates it (after "no partition for row") instead of failing.
    let out = node2
        .append(
            &Scope::All,
            "t",
            vec![invoice(SELLER_A, "AB00000003", "1234", 10)],
        )
        .await
        .expect("append after detach");
    assert!(out[0].is_ok(), "{out:?}");
    let v = node1
        .invoice(&Scope::All, seller, num("AB00000003"))
        .await
        .expect("read");
    assert!(v.is_some());
    // The ledger keeps everything; only the projection was archived.
    assert_eq!(
        node1.verify_ledger("main").await.expect("verify").entries,
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_commit_durably_and_time_out_statements() {
    let url = fresh_url().await;
    let db = url.rsplit("dbname=").next().expect("dbname").to_string();
    let c = PgCluster::shared().client(&db).await.expect("client");
    // A database whose default would acknowledge commits before the WAL flush.
    c.batch_execute(&format!("ALTER DATABASE {db} SET synchronous_commit = off"))
        .await
        .expect("alter");
    let s = PgStore::connect(&url, "main").await.expect("connect");
    assert_eq!(s.setting("synchronous_commit").await.expect("get"), "on");
    assert_eq!(s.setting("statement_timeout").await.expect("get"), "5s");
}

/// A trigger makes the ledger refuse every insert: a freeze and a winners
/// load, whose entries then fail after their rows were written (the lines
/// copied, the notifications inserted), leave nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draw_puts_roll_back_with_their_entry() {
    let url = fresh_url().await;
    let db = url.rsplit("dbname=").next().expect("dbname").to_string();
    let s = PgStore::connect(&url, "main").await.expect("connect");
    let sql = |q: &'static str| {
        let db = db.clone();
        async move {
            let c = PgCluster::shared().client(&db).await.expect("client");
            c.batch_execute(q).await.expect(q);
        }
    };
    einvoice_store::conformance::draw_puts_roll_back_with_their_entry(
        s,
        || {
            sql(
                "CREATE FUNCTION ledger_refuses() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'the ledger refuses (test)'; END $$; \
                 CREATE TRIGGER ledger_refuses BEFORE INSERT ON ledger \
                 FOR EACH ROW EXECUTE FUNCTION ledger_refuses()",
            )
        },
        || sql("DROP TRIGGER ledger_refuses ON ledger; DROP FUNCTION ledger_refuses()"),
    )
    .await;
}

/// `lines` winner lines, every other one on a carrier (a notification each).
fn many_winners(lines: u64) -> einvoice_store::WinnersLoad {
    einvoice_store::WinnersLoad {
        period: einvoice_core::Period::parse("11402").expect("period"),
        actor: "operator:alice".into(),
        winners: (0..lines)
            .map(|line| einvoice_store::WinnerRecord {
                line,
                invoice_number: format!("AB{:08}", line % 100_000_000),
                seller: SELLER_A.into(),
                prize: "sixth".into(),
                amount: 200,
                payable: 200,
                carrier: (line % 2 == 0).then(|| format!("3J0002:/{:07}", line % 10_000_000)),
                npo: None,
            })
            .collect(),
    }
}

/// A national-size winners load runs with the request timeouts lifted to
/// its own deadline: it completes although every statement of the load
/// takes far longer than `statement_timeout` and the call longer than
/// `operation_timeout`; given too short a deadline for its size it fails as
/// unavailable and leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_winners_load_has_its_own_deadline() {
    use einvoice_store::conformance::winners_entry;
    use einvoice_store_postgres::PgOptions;
    use std::time::Duration;
    let load = many_winners(150_000);
    // The schema is created under the normal timeouts first: on a loaded
    // machine migrating a fresh database can take longer than the 300 ms
    // this test gives every call, and the deadline under test is the load's.
    let migrated = async || {
        let url = fresh_url().await;
        PgStore::connect(&url, "main").await.expect("migrate");
        url
    };
    let mut opts = PgOptions::new(&migrated().await, "main");
    opts.migrate = false;
    opts.statement_timeout = Duration::from_millis(100);
    opts.operation_timeout = Duration::from_millis(300);
    let s = PgStore::connect_with(opts.clone()).await.expect("connect");
    let started = std::time::Instant::now();
    let put = s.put_winners(load.clone(), winners_entry(&load)).await;
    assert_eq!(put.expect("the load"), einvoice_store::DrawPut::Stored);
    assert!(started.elapsed() > Duration::from_millis(300));
    let sum = s.winners_summary(load.period).await.expect("summary");
    assert_eq!(sum.map(|s| s.lines), Some(150_000));
    // The session's own timeout is back for the next statement.
    assert_eq!(s.setting("statement_timeout").await.expect("get"), "100ms");

    // A deadline the load cannot meet: unavailable, nothing written.
    opts.url = migrated().await;
    opts.bulk_rows_per_second = u32::MAX;
    let s = PgStore::connect_with(opts).await.expect("connect");
    let err = s
        .put_winners(load.clone(), winners_entry(&load))
        .await
        .expect_err("past its deadline");
    assert_eq!(err.code(), "STORE_UNAVAILABLE", "{err}");
    assert_eq!(s.winners_summary(load.period).await.expect("summary"), None);
    assert!(s.entries("main", 0, 10).await.expect("entries").is_empty());
}

/// The partitions of `winners` in the database of `url`, by name.
async fn winner_partitions(url: &str) -> Vec<String> {
    let db = url.rsplit("dbname=").next().expect("dbname");
    let c = PgCluster::shared().client(db).await.expect("client");
    let rows = c
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'winners'::regclass ORDER BY 1",
            &[],
        )
        .await
        .expect("partitions");
    rows.iter().map(|r| r.get(0)).collect()
}

fn carrier(id: &str) -> einvoice_core::Carrier {
    einvoice_core::Carrier {
        kind: einvoice_core::ids::CarrierType::parse("3J0002", &Default::default())
            .expect("carrier type"),
        id: id.into(),
    }
}

/// A database of schema version 3 (winner lines in one plain table) is
/// upgraded on connect: the loaded lines become the partition of their
/// period without being copied and read back as before (by page and by
/// carrier), the same load again is unchanged, and a new period's load gets
/// a partition of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_3_database_is_upgraded_to_winner_partitions() {
    use einvoice_store::conformance::winners_entry;
    use einvoice_store::{DrawPut, WinnersSummary};
    let url = fresh_url().await;
    let db = url.rsplit("dbname=").next().expect("dbname");
    let c = PgCluster::shared().client(db).await.expect("client");
    for sql in [
        include_str!("../src/migrations/0001_init.sql"),
        include_str!("../src/migrations/0002_draw.sql"),
        include_str!("../src/migrations/0003_outbox_lease.sql"),
        "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
         INSERT INTO schema_version (id, version) VALUES (1, 3)
             ON CONFLICT (id) DO UPDATE SET version = 3",
    ] {
        c.batch_execute(sql).await.expect("version 3");
    }
    // A load of 11402 as version 3 stored it.
    let old = many_winners(1_000);
    let summary = WinnersSummary {
        period: old.period,
        lines: 1_000,
        payable: old.payable_total(),
        digest: old.digest(),
        actor: old.actor.clone(),
    };
    c.execute(
        "INSERT INTO draw_loads (period, digest, json) VALUES (11402, $1, $2)",
        &[
            &summary.digest,
            &serde_json::to_string(&summary).expect("json"),
        ],
    )
    .await
    .expect("load row");
    let ins = c
        .prepare(
            "INSERT INTO winners (period, line, invoice_number, seller, prize, amount, payable, carrier, npo) \
             VALUES (11402, $1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await
        .expect("prepare");
    for w in &old.winners {
        c.execute(
            &ins,
            &[
                &i64::try_from(w.line).expect("line"),
                &w.invoice_number,
                &w.seller,
                &w.prize,
                &w.amount,
                &w.payable,
                &w.carrier,
                &w.npo,
            ],
        )
        .await
        .expect("line");
    }

    let s = PgStore::connect(&url, "main").await.expect("upgrade");
    assert_eq!(s.schema_version().await.expect("version"), SCHEMA_VERSION);
    assert_eq!(winner_partitions(&url).await, ["winners_before_v4"]);
    assert_eq!(
        s.winners(old.period, None, 5_000).await.expect("lines"),
        old.winners
    );
    assert_eq!(
        s.winners(old.period, Some(997), 5).await.expect("page"),
        old.winners[998..]
    );
    let mine = s
        .carrier_winnings(&carrier("/0000042"), old.period)
        .await
        .expect("carrier");
    assert_eq!(mine, old.winners[42..43]);
    assert_eq!(
        s.put_winners(old.clone(), winners_entry(&old))
            .await
            .expect("again"),
        DrawPut::Unchanged
    );

    let mut new = many_winners(500);
    new.period = einvoice_core::Period::parse("11404").expect("period");
    assert_eq!(
        s.put_winners(new.clone(), winners_entry(&new))
            .await
            .expect("new period"),
        DrawPut::Stored
    );
    assert_eq!(
        winner_partitions(&url).await,
        ["winners_before_v4", "winners_p11404"]
    );
    assert_eq!(
        s.winners(new.period, None, 5_000).await.expect("lines"),
        new.winners
    );
    assert_eq!(
        s.carrier_winnings(&carrier("/0000042"), new.period)
            .await
            .expect("carrier"),
        new.winners[42..43]
    );
    // The old period's lines are where they were.
    assert_eq!(
        s.winners(old.period, None, 5_000)
            .await
            .expect("lines")
            .len(),
        1_000
    );
}

/// A fresh load copies its notifications into the outbox; when some of
/// their ids are already there (left by an import, say), the load still
/// stores every line and the missing notifications, and leaves the
/// existing items as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_keeps_notifications_already_in_the_outbox() {
    use einvoice_store::conformance::winners_entry;
    use einvoice_store::{DrawPut, winner_notifications};
    let url = fresh_url().await;
    let s = PgStore::connect(&url, "main").await.expect("connect");
    let db = url.rsplit("dbname=").next().expect("dbname");
    let c = PgCluster::shared().client(db).await.expect("client");
    c.batch_execute(
        "INSERT INTO outbox (id, kind, body, attempts, next_unix, last_error) \
         VALUES ('winner/11402/4', 'winner', '{}', 2, 50, 'HTTP 500')",
    )
    .await
    .expect("existing item");
    let load = many_winners(2_000);
    assert_eq!(
        s.put_winners(load.clone(), winners_entry(&load))
            .await
            .expect("load"),
        DrawPut::Stored
    );
    assert_eq!(winner_partitions(&url).await, ["winners_p11402"]);
    assert_eq!(
        s.winners(load.period, None, 5_000)
            .await
            .expect("lines")
            .len(),
        2_000
    );
    let rows = c
        .query(
            "SELECT id, body, attempts, next_unix FROM outbox ORDER BY id",
            &[],
        )
        .await
        .expect("outbox");
    let mut want: Vec<(String, String, i32, i64)> = winner_notifications(&load)
        .into_iter()
        .map(|n| {
            if n.id == "winner/11402/4" {
                (n.id, "{}".into(), 2, 50)
            } else {
                (n.id, n.body, 0, 0)
            }
        })
        .collect();
    want.sort();
    let got: Vec<(String, String, i32, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(got.len(), 1_000);
    assert_eq!(got, want);
    assert_eq!(s.verify_ledger("main").await.expect("verify").entries, 1);
}
