//! The event log's conformance suite, run against both backends: the same
//! generic cases for [`MemoryLog`] and [`SqliteLog`].

mod common;

use common::{label, sample};
use einvoice_soc::export::write_json_lines;
use einvoice_soc::log::{
    BrokenReason, EventLog, EventRecord, GENESIS, LogError, hash_record, verify_anchored,
};
use einvoice_soc::{MemoryLog, SqliteLog};
use std::sync::Arc;

/// How a test damages a stored chain.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    /// Change an event's target, leave its hash.
    EditEvent(u64),
    /// Change an event and recompute its own hash (but not the next prev).
    EditAndRehash(u64),
    /// Delete a record.
    Delete(u64),
}

/// A backend under test.
trait Backend {
    type L: EventLog + 'static;
    fn make(&self) -> Self::L;
    /// Damage the stored chain; a handle that reads the damaged data.
    fn tamper(&self, log: Self::L, t: Tamper) -> Self::L;
}

fn edit(r: &mut EventRecord, rehash: bool) {
    r.event.target = label("tampered");
    if rehash {
        r.hash = hash_record(&r.prev_hash, r.seq, &r.event);
    }
}

struct Memory;
impl Backend for Memory {
    type L = MemoryLog;
    fn make(&self) -> MemoryLog {
        MemoryLog::new()
    }
    fn tamper(&self, log: MemoryLog, t: Tamper) -> MemoryLog {
        let mut rs = log.records().unwrap_or_else(|e| panic!("{e}"));
        match t {
            Tamper::EditEvent(s) => rs
                .iter_mut()
                .filter(|r| r.seq == s)
                .for_each(|r| edit(r, false)),
            Tamper::EditAndRehash(s) => rs
                .iter_mut()
                .filter(|r| r.seq == s)
                .for_each(|r| edit(r, true)),
            Tamper::Delete(s) => rs.retain(|r| r.seq != s),
        }
        MemoryLog::from_records(rs)
    }
}

struct Sqlite(tempfile::TempDir);
impl Backend for Sqlite {
    type L = SqliteLog;
    fn make(&self) -> SqliteLog {
        // A fresh directory per log.
        let dir = tempfile::tempdir_in(self.0.path()).unwrap_or_else(|e| panic!("{e}"));
        let log = SqliteLog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        std::mem::forget(dir); // removed with the parent
        log
    }
    fn tamper(&self, log: SqliteLog, t: Tamper) -> SqliteLog {
        let path = log.path().to_owned();
        drop(log);
        let conn =
            rusqlite::Connection::open(path.join("soc.sqlite")).unwrap_or_else(|e| panic!("{e}"));
        let seq = match t {
            Tamper::EditEvent(s) | Tamper::EditAndRehash(s) | Tamper::Delete(s) => s,
        };
        let seq_i = i64::try_from(seq).unwrap_or(0);
        match t {
            Tamper::Delete(_) => {
                conn.execute("DELETE FROM soc_events WHERE seq = ?1", [seq_i])
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            Tamper::EditEvent(_) | Tamper::EditAndRehash(_) => {
                let reopened = SqliteLog::open(&path).unwrap_or_else(|e| panic!("{e}"));
                let mut r = reopened
                    .read(seq, 1)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .remove(0);
                drop(reopened);
                edit(&mut r, matches!(t, Tamper::EditAndRehash(_)));
                let json = serde_json::to_string(&r.event).unwrap_or_else(|e| panic!("{e}"));
                conn.execute(
                    "UPDATE soc_events SET event = ?1, hash = ?2 WHERE seq = ?3",
                    rusqlite::params![json, &r.hash[..], seq_i],
                )
                .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        drop(conn);
        SqliteLog::open(&path).unwrap_or_else(|e| panic!("{e}"))
    }
}

fn fill<L: EventLog>(log: &L, n: u64) -> Vec<EventRecord> {
    (1..=n)
        .map(|i| log.append(sample(i)).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn empty_log<B: Backend>(b: &B) {
    let log = b.make();
    assert_eq!(log.head().ok(), Some((0, GENESIS)));
    assert_eq!(log.verify().ok(), Some(GENESIS));
    assert!(log.read(1, 10).unwrap_or_else(|e| panic!("{e}")).is_empty());
}

fn appends_chain<B: Backend>(b: &B) {
    let log = b.make();
    let written = fill(&log, 50);
    let mut prev = GENESIS;
    for (i, r) in written.iter().enumerate() {
        assert_eq!(r.seq, u64::try_from(i).unwrap_or(0) + 1);
        assert_eq!(r.prev_hash, prev);
        assert_eq!(r.event, sample(r.seq), "the event round-trips");
        prev = r.hash;
    }
    assert_eq!(log.head().ok(), Some((50, prev)));
    assert_eq!(log.verify().ok(), Some(prev));
    let page = log.read(10, 5).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        page.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![10, 11, 12, 13, 14]
    );
    assert_eq!(
        page,
        written[9..14].to_vec(),
        "what is read is what was written"
    );
}

fn concurrent_appends<B: Backend>(b: &B) {
    let log = Arc::new(b.make());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..25 {
                    log.append(sample(t * 100 + i))
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap_or_else(|_| panic!("appender panicked"));
    }
    assert_eq!(log.head().map(|h| h.0).ok(), Some(100));
    assert!(log.verify().is_ok(), "{:?}", log.verify().err());
}

fn broken(r: Result<[u8; 32], LogError>) -> (u64, BrokenReason) {
    match r {
        Err(LogError::Broken { seq, reason }) => (seq, reason),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

fn tampering_names_the_first_broken_link<B: Backend>(b: &B) {
    for (t, want) in [
        (Tamper::EditEvent(7), (7, BrokenReason::HashMismatch)),
        (Tamper::EditAndRehash(7), (8, BrokenReason::PrevMismatch)),
        (Tamper::Delete(7), (7, BrokenReason::Gap)),
        (Tamper::Delete(1), (1, BrokenReason::Gap)),
        (Tamper::EditEvent(20), (20, BrokenReason::HashMismatch)),
    ] {
        let log = b.make();
        fill(&log, 20);
        assert!(log.verify().is_ok());
        let log = b.tamper(log, t);
        let got = broken(log.verify());
        assert_eq!(got, want, "{t:?}");
        let msg = LogError::Broken {
            seq: got.0,
            reason: got.1,
        }
        .to_string();
        assert!(msg.starts_with("soc.chain_broken: record "), "{msg}");
    }
}

fn json_lines_reverify<B: Backend>(b: &B) {
    let log = b.make();
    fill(&log, 30);
    let mut out = Vec::new();
    let rs = log.read(1, 1000).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(write_json_lines(&mut out, &rs).ok(), Some(30));
    let text = String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"));
    let back: Vec<EventRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(back, rs);
    let copy = MemoryLog::from_records(back);
    assert_eq!(
        copy.verify().ok(),
        log.verify().ok(),
        "an export verifies on its own"
    );
}

fn batches_continue_the_chain<B: Backend>(b: &B) {
    let log = b.make();
    fill(&log, 3);
    let batch = log
        .append_all((4..=10).map(sample).collect())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        batch.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (4..=10).collect::<Vec<_>>()
    );
    assert!(
        log.append_all(Vec::new())
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    let r = log.append(sample(11)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.prev_hash, batch[6].hash);
    assert_eq!(log.verify().ok(), Some(r.hash));
}

macro_rules! conformance {
    ($modname:ident, $make:expr) => {
        mod $modname {
            use super::*;
            #[test]
            fn empty() {
                empty_log(&$make);
            }
            #[test]
            fn chain() {
                appends_chain(&$make);
            }
            #[test]
            fn concurrent() {
                concurrent_appends(&$make);
            }
            #[test]
            fn tampering() {
                tampering_names_the_first_broken_link(&$make);
            }
            #[test]
            fn batches() {
                batches_continue_the_chain(&$make);
            }
            #[test]
            fn json_lines() {
                json_lines_reverify(&$make);
            }
        }
    };
}

conformance!(memory, Memory);
conformance!(
    sqlite,
    Sqlite(tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")))
);

#[test]
fn sqlite_survives_reopening_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let head = {
        let log = SqliteLog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        fill(&log, 5);
        log.head().unwrap_or_else(|e| panic!("{e}"))
    };
    let log = SqliteLog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(log.head().ok(), Some(head));
    let r = log.append(sample(6)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (r.seq, r.prev_hash),
        (6, head.1),
        "the chain continues after a restart"
    );
    assert!(log.verify().is_ok());
    let conn =
        rusqlite::Connection::open(dir.path().join("soc.sqlite")).unwrap_or_else(|e| panic!("{e}"));
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mode, "wal");
}

/// Append throughput of the SQLite log (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn sqlite_throughput() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = SqliteLog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let start = std::time::Instant::now();
    for i in 0..2_000 {
        log.append(sample(i)).unwrap_or_else(|e| panic!("{e}"));
    }
    let one = start.elapsed();
    let start = std::time::Instant::now();
    for b in 0..100 {
        log.append_all((0..200).map(|i| sample(b * 200 + i)).collect())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let batched = start.elapsed();
    let start = std::time::Instant::now();
    assert!(log.verify().is_ok());
    let verify = start.elapsed();
    println!(
        "single appends: {:.0}/s; batches of 200: {:.0}/s; verify 22000 records: {verify:?}",
        2_000.0 / one.as_secs_f64(),
        20_000.0 / batched.as_secs_f64()
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any single damaged record of any chain is found, at that record.
    #[test]
    fn any_single_tamper_is_found_where_it_is(n in 1u64..40, at in 0u64..40, kind in 0u8..3) {
        let k = at % n + 1;
        let log = Memory.make();
        fill(&log, n);
        let anchor = log.head().map(|h| h.1).unwrap_or(GENESIS);
        proptest::prop_assert_eq!(verify_anchored(&log, n, &anchor).ok(), Some(anchor));
        let t = [Tamper::EditEvent(k), Tamper::EditAndRehash(k), Tamper::Delete(k)][usize::from(kind)];
        let log = Memory.tamper(log, t);
        let got = log.verify();
        match t {
            Tamper::EditEvent(_) => proptest::prop_assert_eq!(broken(got), (k, BrokenReason::HashMismatch)),
            // Re-hashing the last record, or deleting it, leaves a valid
            // shorter or different chain: only an anchored head (the
            // receipt's hash kept elsewhere) shows that.
            Tamper::EditAndRehash(_) if k == n => {
                proptest::prop_assert!(got.is_ok());
                proptest::prop_assert_eq!(broken(verify_anchored(&log, n, &anchor)), (n, BrokenReason::Anchor));
            }
            Tamper::EditAndRehash(_) => proptest::prop_assert_eq!(broken(got), (k + 1, BrokenReason::PrevMismatch)),
            Tamper::Delete(_) if k == n => {
                proptest::prop_assert!(got.is_ok());
                proptest::prop_assert_eq!(broken(verify_anchored(&log, n, &anchor)), (n, BrokenReason::Anchor));
            }
            Tamper::Delete(_) => proptest::prop_assert_eq!(broken(got), (k, BrokenReason::Gap)),
        }
    }
}
