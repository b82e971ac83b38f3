//! The retry and error-mapping machinery against real server errors: a `DO`
//! block raises the SQLSTATE under test.

use crate::pg_harness::PgCluster;
use crate::{PgOptions, PgStore};
use einvoice_store::StoreError;
use std::sync::atomic::{AtomicU32, Ordering};

fn raise(code: &str) -> String {
    format!("DO $$ BEGIN RAISE EXCEPTION 'raised for the test' USING ERRCODE = '{code}'; END $$")
}

/// Run an operation that fails with `code` on its first `failures` attempts.
async fn flaky(store: &PgStore, code: &str, failures: u32) -> (Result<u32, StoreError>, u32) {
    let attempts = AtomicU32::new(0);
    let (attempts_ref, sql) = (&attempts, raise(code));
    let sql = sql.as_str();
    let result = store
        .run(|c| async move {
            let n = attempts_ref.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= failures {
                c.batch_execute(sql).await?;
            }
            Ok(n)
        })
        .await;
    (result, attempts.load(Ordering::SeqCst))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serialization_failures_and_deadlocks_are_retried_within_bounds() {
    let url = PgCluster::shared().create_database().await.expect("db");
    let mut opts = PgOptions::new(&url, "main");
    opts.max_attempts = 4;
    let store = PgStore::connect_with(opts).await.expect("connect");

    for code in ["40001", "40P01"] {
        let (r, n) = flaky(&store, code, 3).await;
        assert_eq!((r.ok(), n), (Some(4), 4), "{code}: retried until it worked");
        let (r, n) = flaky(&store, code, 10).await;
        assert_eq!(n, 4, "{code}: bounded attempts");
        assert!(
            matches!(r, Err(StoreError::Unavailable(_))),
            "{code}: {r:?}"
        );
    }
    // Not retried: a rule of the data, and the statement timeout.
    let (r, n) = flaky(&store, "22012", 10).await;
    assert_eq!(n, 1);
    match r {
        Err(StoreError::Backend(m)) => assert!(m.contains("22012"), "{m}"),
        other => panic!("expected Backend, got {other:?}"),
    }
    let (r, n) = flaky(&store, "57014", 10).await;
    assert_eq!(n, 1);
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    // Writer races are retried only where the caller asks for it.
    let (r, n) = flaky(&store, "23505", 10).await;
    assert_eq!(n, 1);
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
}

#[test]
fn backoff_is_bounded_and_jittered() {
    for attempt in 0..20 {
        let d = crate::backoff(attempt);
        assert!(d >= std::time::Duration::from_millis(5), "{attempt}: {d:?}");
        assert!(
            d <= std::time::Duration::from_millis(500),
            "{attempt}: {d:?}"
        );
    }
}
