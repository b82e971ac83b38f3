//! A database outage under load: calls fail fast with `Unavailable`, the same
//! store recovers by itself when the database is back, and nothing that was
//! acknowledged is lost. Runs its own cluster (it stops it).

use einvoice_store::conformance::{SELLER_A, allocation, invoice};
use einvoice_store::{NewEntry, Receipt, Scope, Store, StoreError};
use einvoice_store_postgres::pg_harness::PgCluster;
use einvoice_store_postgres::{PgOptions, PgStore};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest any call may take while the database is down: the store's
/// operation deadline (3 s below) plus scheduling slack. This bounds a hang,
/// it is not a speed benchmark.
const CALL_BOUND: Duration = Duration::from_secs(5);

fn event(i: u32) -> NewEntry {
    NewEntry {
        kind: "ADMIN".into(),
        key: format!("outage/{i}"),
        actor: "system".into(),
        body: format!(r#"{{"i":{i}}}"#).into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_fails_fast_and_the_store_recovers_by_itself() {
    let cluster = Arc::new(PgCluster::start().expect("start a cluster"));
    let url = cluster.create_database().await.expect("db");
    let mut opts = PgOptions::new(&url, "main");
    opts.statement_timeout = Duration::from_secs(2);
    opts.operation_timeout = Duration::from_secs(3);
    opts.pool_wait_timeout = Duration::from_secs(1);
    opts.connect_timeout = Duration::from_secs(1);
    let store = PgStore::connect_with(opts).await.expect("connect");
    store
        .append(&Scope::All, "t", vec![allocation(SELLER_A)])
        .await
        .expect("allocate");

    // Load: writers (invoices, events) and readers, recording every outcome.
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU32::new(1));
    let acked: Arc<Mutex<Vec<Receipt>>> = Arc::default();
    let errors: Arc<Mutex<Vec<(StoreError, Duration)>>> = Arc::default();
    let mut load = Vec::new();
    for worker in 0..4u32 {
        let (store, stop, next, acked, errors) = (
            store.clone(),
            stop.clone(),
            next.clone(),
            acked.clone(),
            errors.clone(),
        );
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let t0 = Instant::now();
                let result: Result<Option<Receipt>, StoreError> = match worker {
                    0 | 1 if i < 999 => store
                        .append(
                            &Scope::All,
                            "t",
                            vec![invoice(SELLER_A, &format!("AB{i:08}"), "1234", 10)],
                        )
                        .await
                        .map(|mut v| v.pop().and_then(Result::ok)),
                    2 => store.append_event(event(i)).await.map(Some),
                    _ => store.entries("main", 0, 50).await.map(|_| None),
                };
                let took = t0.elapsed();
                match result {
                    Ok(Some(r)) => acked.lock().expect("lock").push(r),
                    Ok(None) => {}
                    Err(e) => {
                        errors.lock().expect("lock").push((e, took));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        errors.lock().expect("lock").is_empty(),
        "no errors before the outage"
    );
    let before = acked.lock().expect("lock").len();
    assert!(before > 0, "the load ran");

    // Stop the database under load.
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.stop())
        .await
        .expect("join")
        .expect("pg_ctl stop");

    // While it is down, every kind of call fails fast with Unavailable.
    for _ in 0..3 {
        let t0 = Instant::now();
        let ping = store.ping().await;
        let append = store.append_event(event(0)).await;
        let read = store.entries("main", 0, 10).await;
        let took = t0.elapsed();
        assert!(matches!(ping, Err(StoreError::Unavailable(_))), "{ping:?}");
        assert!(
            matches!(append, Err(StoreError::Unavailable(_))),
            "{append:?}"
        );
        assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
        assert!(took < CALL_BOUND * 3, "three calls took {took:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let errors = errors.lock().expect("lock");
        assert!(!errors.is_empty(), "the load saw the outage");
        for (e, took) in errors.iter() {
            assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
            assert!(*took < CALL_BOUND, "a call hung for {took:?}: {e:?}");
        }
    }

    // Start it again: the same store recovers without being recreated.
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.resume())
        .await
        .expect("join")
        .expect("pg_ctl start");
    let t0 = Instant::now();
    loop {
        if store.ping().await.is_ok() && store.append_event(event(0)).await.is_ok() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the store did not recover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_at = acked.lock().expect("lock").len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.await.expect("load task");
    }
    assert!(
        acked.lock().expect("lock").len() > recovered_at,
        "the load made progress after recovery"
    );

    // Nothing acknowledged was lost, and the chain is whole.
    let verdict = store.verify_ledger("main").await.expect("verify");
    assert_eq!(verdict.broken, None);
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = store.entries("main", after, 1000).await.expect("entries");
        let Some(last) = page.last() else { break };
        after = last.seq;
        all.extend(page);
    }
    assert_eq!(u64::try_from(all.len()).expect("n"), verdict.entries);
    for r in acked.lock().expect("lock").iter() {
        let e = usize::try_from(r.seq - 1).ok().and_then(|i| all.get(i));
        assert_eq!(
            e.map(|e| e.hash),
            Some(r.hash),
            "acknowledged entry {} lost",
            r.seq
        );
    }
}

/// A writer stuck behind a lock (here: another session holding the chain
/// head) gets `Unavailable` after the statement timeout instead of hanging,
/// and appends flow again once the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_times_out_as_unavailable() {
    let cluster = PgCluster::shared();
    let url = cluster.create_database().await.expect("db");
    let mut opts = PgOptions::new(&url, "main");
    opts.statement_timeout = Duration::from_secs(1);
    opts.operation_timeout = Duration::from_secs(3);
    let store = PgStore::connect_with(opts).await.expect("connect");
    store.append_event(event(1)).await.expect("first");

    let db = url.rsplit("dbname=").next().expect("dbname");
    let blocker = cluster.client(db).await.expect("client");
    blocker
        .batch_execute("BEGIN; SELECT * FROM ledger_heads WHERE origin = 'main' FOR UPDATE")
        .await
        .expect("hold the head");
    let t0 = Instant::now();
    let stuck = store.append_event(event(2)).await;
    let took = t0.elapsed();
    match &stuck {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("statement timeout"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(took < CALL_BOUND, "took {took:?}");
    // Reads are not blocked by a writer's lock.
    assert_eq!(store.entries("main", 0, 10).await.expect("read").len(), 1);

    blocker.batch_execute("ROLLBACK").await.expect("release");
    let r = store.append_event(event(3)).await.expect("after release");
    assert_eq!(r.seq, 2, "the timed-out append left no trace");
    assert_eq!(store.verify_ledger("main").await.expect("v").broken, None);
}
