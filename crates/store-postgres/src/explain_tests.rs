//! Every query shape the store runs is served by an index on the big tables.
//!
//! The test loads realistic volumes (hundreds of thousands of ledger rows,
//! three invoice partitions of 40,000 rows, tens of thousands of tracks,
//! allowances, records and nonces), runs `ANALYZE`, and then `EXPLAIN`s the
//! store's own SQL strings with real parameter values — both the custom plan
//! and the generic plan a long-lived prepared statement may switch to. No
//! `enable_seqscan = off`: the planner chooses freely, on real statistics.

use crate::PgStore;
use crate::append::sql::{EXISTING_MESSAGE, NUMBER_IN_TRACK, TRACK_CLASH};
use crate::draw::{CARRIER_WINNINGS, WINNERS_PAGE};
use crate::pg_harness::PgCluster;
use crate::read::sql;
use tokio_postgres::SimpleQueryMessage;

/// The plan lines of `query` (named `shape` in panics) prepared under
/// `plan_cache_mode = mode` and executed with `args` (SQL literals):
/// PREPARE + EXPLAIN EXECUTE, so a generic plan is seen as the server would
/// run it.
pub(crate) async fn plan_of(
    c: &tokio_postgres::Client,
    mode: &str,
    shape: &str,
    query: &str,
    args: &[impl AsRef<str>],
) -> Vec<String> {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    c.batch_execute(&format!(
        "SET plan_cache_mode = {mode}; DEALLOCATE ALL; PREPARE q AS {query}"
    ))
    .await
    .unwrap_or_else(|e| panic!("PREPARE {shape}: {e:?}"));
    c.simple_query(&format!("EXPLAIN EXECUTE q({})", args.join(", ")))
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {shape}: {e:?}"))
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect()
}

const LOAD: &str = r#"
INSERT INTO ledger (origin, seq, hlc, kind, key, actor, body, prev_hash, hash, message)
SELECT o, s, s::bigint * 65536, CASE WHEN s % 10 = 0 THEN 'ADMIN' ELSE 'F0401' END,
       'invoice/' || o || '/' || s, 'bulk', '\x7b7d'::bytea,
       decode(md5(s::text), 'hex'), decode(md5((s + 1)::text), 'hex'), s % 10 <> 0
FROM generate_series(1, 150000) s, (VALUES ('main'), ('cloud1')) v(o);

INSERT INTO invoices (seller, number, period, date, time, buyer, random, carrier_type, carrier_id,
                      npoban, total, status, detail, origin, seq)
SELECT lpad((10000000 + i % 200)::text, 8, '0'), 'AB' || lpad(i::text, 8, '0'), p, '20250115',
       '10:00:00', '0000000000', lpad((i % 10000)::text, 4, '0'), '3J0002',
       '/C' || lpad((i % 8000)::text, 6, '0'), NULL, 100, 'issued', '\x0100000000'::bytea, 'main',
       (i + p) % 150000 + 1
FROM generate_series(1, 40000) i, (VALUES (11402), (11404), (11406)) v(p);

INSERT INTO tracks (seller, period, track, begin_no, end_no)
SELECT lpad((10000000 + i % 200)::text, 8, '0'), p,
       chr(65 + i % 26) || chr(65 + (i / 26) % 26), (i / 676) * 1000, (i / 676) * 1000 + 999
FROM generate_series(1, 20000) i, (VALUES (11402), (11404), (11406)) v(p);

INSERT INTO allowances (seller, allowance, invoice, amount)
SELECT lpad((10000000 + i % 200)::text, 8, '0'), 'AL' || i, 'AB' || lpad(i::text, 8, '0'), 5
FROM generate_series(1, 30000) i;

INSERT INTO held (seller, number, status)
SELECT lpad((10000000 + i % 200)::text, 8, '0'), 'AB' || lpad(i::text, 8, '0'), 'cancelled'
FROM generate_series(1, 10000) i;

INSERT INTO records (space, id, json)
SELECT sp, sp || i, '{}' FROM generate_series(1, 30000) i,
       (VALUES ('carrier'), ('session'), ('operator')) v(sp);

-- Winner lines of three periods (one partition each, created as a load
-- creates them: filled first, indexed after, then attached), a quarter of
-- them printed (no carrier).
DO $$
DECLARE p INTEGER;
BEGIN
    FOREACH p IN ARRAY ARRAY[11402, 11404, 11406] LOOP
        EXECUTE format('CREATE TABLE winners_p%s (LIKE winners)', p);
        EXECUTE format(
            'INSERT INTO winners_p%s SELECT %s, i, ''AB'' || lpad(i::text, 8, ''0''), ''10000007'', ''sixth'', 200, 200, '
            'CASE WHEN i %% 4 <> 0 THEN ''3J0002:/C'' || lpad((i %% 30000)::text, 6, ''0'') END, NULL '
            'FROM generate_series(0, 39999) i', p, p);
        EXECUTE format('ALTER TABLE winners_p%s ADD PRIMARY KEY (period, line)', p);
        EXECUTE format('CREATE INDEX ON winners_p%s (carrier, period, line)', p);
        EXECUTE format('ALTER TABLE winners ATTACH PARTITION winners_p%s FOR VALUES IN (%s)', p, p);
    END LOOP;
END $$;

INSERT INTO nonces (key_id, nonce, expires)
SELECT 'K' || (i % 100), 'n' || i, 1700000000 + i FROM generate_series(1, 50000) i;

ANALYZE;
"#;

/// (shape, SQL as the store sends it, realistic parameter values as SQL literals).
fn shapes() -> Vec<(&'static str, &'static str, &'static [&'static str])> {
    const SELLER: &str = "'10000007'";
    vec![
        (
            "invoice by number",
            sql::INVOICE_BY_NUMBER,
            &[SELLER, "'AB00000207'"],
        ),
        (
            "seller + period list, first page",
            sql::INVOICES_OF_SELLER,
            &[SELLER, "11404", "''", "100"],
        ),
        (
            "seller + period list, later page",
            sql::INVOICES_OF_SELLER,
            &[SELLER, "11404", "'AB00020007'", "100"],
        ),
        (
            "carrier + period",
            sql::INVOICES_ON_CARRIER,
            &["'3J0002'", "'/C000007'", "11404"],
        ),
        (
            "carrier read path (carrier + period, details)",
            crate::carrier_read::sql::CARRIER_ROWS,
            &["'3J0002'", "'/C000007'", "11404"],
        ),
        (
            "public lookup (number + random)",
            crate::carrier_read::sql::PUBLIC_BY_RANDOM,
            &["'AB00000207'", "'0207'"],
        ),
        (
            "blanks: numbers in a track range",
            sql::NUMBERS_IN_RANGE,
            &[SELLER, "11404", "'AB00000000'", "'AB00000999'"],
        ),
        (
            "tracks of a seller",
            sql::TRACKS_OF_SELLER,
            &[SELLER, "11404"],
        ),
        (
            "entries after seq (tail)",
            sql::ENTRIES_AFTER,
            &["'main'", "149000", "500"],
        ),
        (
            "entries after seq (from the start)",
            sql::ENTRIES_AFTER,
            &["'main'", "0", "2000"],
        ),
        (
            "history of a key",
            sql::ENTRIES_OF_KEY,
            &["'invoice/main/77'"],
        ),
        (
            "allowance entries of an invoice",
            sql::ALLOWANCE_ENTRIES_OF_INVOICE,
            &[SELLER, "'AB00000207'"],
        ),
        (
            "idempotency check",
            EXISTING_MESSAGE,
            &["'F0401'", "'invoice/main/77'"],
        ),
        (
            "number inside a track",
            NUMBER_IN_TRACK,
            &[SELLER, "11404", "'HA'", "3500"],
        ),
        (
            "track overlap",
            TRACK_CLASH,
            &["11404", "'HA'", "3000", "3999"],
        ),
        ("record by id", sql::RECORD, &["'carrier'", "'carrier77'"]),
        (
            "winner lines of a period, first page",
            WINNERS_PAGE,
            &["11404", "-1", "1000"],
        ),
        (
            "winner lines of a period, later page",
            WINNERS_PAGE,
            &["11404", "30000", "1000"],
        ),
        (
            "winnings of a carrier in a period (carrierInvChk onlyWinningInv, payouts)",
            CARRIER_WINNINGS,
            &["'3J0002:/C000007'", "11404"],
        ),
        (
            "expired nonces",
            "DELETE FROM nonces WHERE expires < $1",
            &["1700000100"],
        ),
    ]
}

/// Tables that grow with use: none of them may be read by a sequential scan.
const BIG: &[&str] = &[
    "ledger",
    "invoices",
    "tracks",
    "allowances",
    "held",
    "records",
    "nonces",
    "winners",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_shape_uses_an_index_on_real_volumes() {
    let cluster = PgCluster::shared();
    let url = cluster.create_database().await.expect("database");
    let store = PgStore::connect(&url, "main").await.expect("connect");
    for key in [11402, 11404, 11406] {
        let period = einvoice_core::Period::parse(&key.to_string()).expect("period");
        store.ensure_period(period).await.expect("partition");
    }
    let db = url.rsplit("dbname=").next().expect("dbname");
    let c = cluster.client(db).await.expect("client");
    c.batch_execute(LOAD).await.expect("load");

    // The store runs prepared statements: PostgreSQL plans the first
    // executions with the values (custom plans), then may switch to one
    // generic plan for all values. Check both, via PREPARE + EXPLAIN EXECUTE.
    let mut failures = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        for (shape, query, args) in shapes() {
            let plan = plan_of(&c, mode, shape, query, args).await;
            let seq_scans = plan.iter().any(|l| {
                l.contains("Seq Scan")
                    && BIG.iter().any(|t| {
                        l.contains(&format!(" on {t} ")) || l.contains(&format!(" on {t}_"))
                    })
            });
            let uses_index = plan.iter().any(|l| l.contains("Index"));
            if seq_scans || !uses_index {
                failures.push(format!("[{mode}] {shape}:\n  {}", plan.join("\n  ")));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "query shapes without an index path:\n{}",
        failures.join("\n")
    );

    // The store's own reads agree with the loaded data (the shapes are live).
    let c = einvoice_core::ids::Carrier {
        kind: einvoice_core::ids::CarrierType::parse("3J0002", &Default::default())
            .expect("carrier type"),
        id: "/C000007".into(),
    };
    let period = einvoice_core::Period::parse("11404").expect("period");
    use einvoice_store::Store;
    let on = store.carrier_invoices(&c, period).await;
    // Bulk rows carry made-up UBNs; reading them back must not hang or panic.
    assert!(on.is_ok() || matches!(on, Err(einvoice_store::StoreError::Corrupt(_))));
}
