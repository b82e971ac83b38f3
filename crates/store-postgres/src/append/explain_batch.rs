//! The set-based statements of the write path are served by indexes on real
//! volumes, like every other query shape (see `explain_tests`): the lookups
//! of a run of invoices (existing messages, track checks, held cancels) with
//! arrays of a realistic run's size, custom and generic plans. (On a small
//! `held` table a hash join over a sequential scan is the cheaper plan for a
//! whole run, and the planner rightly takes it; the table is loaded big
//! enough here for the index to be the only sensible path.)

use super::sql::{EXISTING_MESSAGES, HELD_FOR_ALL, NUMBERS_IN_TRACKS};
use crate::PgStore;
use crate::pg_harness::PgCluster;

const LOAD: &str = r#"
INSERT INTO ledger (origin, seq, hlc, kind, key, actor, body, prev_hash, hash, message)
SELECT o, s, s::bigint * 65536, CASE WHEN s % 10 = 0 THEN 'ADMIN' ELSE 'F0401' END,
       'invoice/' || o || '/' || s, 'bulk', '\x7b7d'::bytea,
       decode(md5(s::text), 'hex'), decode(md5((s + 1)::text), 'hex'), s % 10 <> 0
FROM generate_series(1, 150000) s, (VALUES ('main'), ('cloud1')) v(o);

INSERT INTO tracks (seller, period, track, begin_no, end_no)
SELECT lpad((10000000 + i % 200)::text, 8, '0'), p,
       chr(65 + i % 26) || chr(65 + (i / 26) % 26), (i / 676) * 1000, (i / 676) * 1000 + 999
FROM generate_series(1, 20000) i, (VALUES (11402), (11404), (11406)) v(p);

INSERT INTO held (seller, number, status)
SELECT lpad((10000000 + i % 200)::text, 8, '0'), 'AB' || lpad(i::text, 8, '0'), 'cancelled'
FROM generate_series(1, 200000) i;

ANALYZE;
"#;

/// A SQL array literal of `n` values made by `f`.
fn array(n: usize, ty: &str, f: impl Fn(usize) -> String) -> String {
    let items: Vec<String> = (0..n).map(f).collect();
    format!("ARRAY[{}]::{ty}[]", items.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_lookups_use_indexes_on_real_volumes() {
    let cluster = PgCluster::shared();
    let url = cluster.create_database().await.expect("database");
    let _store = PgStore::connect(&url, "main").await.expect("connect");
    let db = url.rsplit("dbname=").next().expect("dbname");
    let c = cluster.client(db).await.expect("client");
    c.batch_execute(LOAD).await.expect("load");

    const N: usize = 256;
    let kinds = array(N, "text", |_| "'F0401'".into());
    let keys = array(N, "text", |i| format!("'invoice/main/{}'", i * 7 + 1));
    let sellers = array(N, "text", |i| format!("'{}'", 10000000 + i % 200));
    let periods = array(N, "integer", |_| "11404".into());
    let tracks = array(N, "text", |i| format!("'{}'", ["HA", "AB", "ZZ"][i % 3]));
    let nos = array(N, "bigint", |i| (i * 13).to_string());
    let numbers = array(N, "text", |i| format!("'AB{:08}'", i * 3));
    let shapes: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "existing messages of a run",
            EXISTING_MESSAGES,
            vec![kinds, keys],
        ),
        (
            "numbers of a run inside tracks",
            NUMBERS_IN_TRACKS,
            vec![sellers.clone(), periods, tracks, nos],
        ),
        ("held for a run", HELD_FOR_ALL, vec![sellers, numbers]),
    ];
    let mut failures = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        for (shape, query, args) in &shapes {
            let plan = crate::explain_tests::plan_of(&c, mode, shape, query, args).await;
            let seq_scans = plan.iter().any(|l| {
                l.contains("Seq Scan")
                    && ["ledger", "tracks", "held"]
                        .iter()
                        .any(|t| l.contains(&format!(" on {t} ")))
            });
            if seq_scans || !plan.iter().any(|l| l.contains("Index")) {
                failures.push(format!("[{mode}] {shape}:\n  {}", plan.join("\n  ")));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "run lookups without an index path:\n{}",
        failures.join("\n")
    );
}
