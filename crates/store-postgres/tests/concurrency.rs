//! Several nodes on one database: writer processes (this test binary
//! re-executed), and independent `PgStore`s (own pool and writer task).

use einvoice_core::{InvoiceNumber, Rules, Ubn, Validated, validate};
use einvoice_store::conformance::{SELLER_A, allocation, invoice};
use einvoice_store::{AppendOutcome, LedgerEntry, NewEntry, Scope, Store};
use einvoice_store_postgres::PgStore;
use einvoice_store_postgres::pg_harness::PgCluster;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// An E0401 giving SELLER_A numbers AB00000000–AB00049999 in period 11402.
fn big_allocation() -> Validated {
    let json = format!(
        r#"{{"message":"E0401","Main":{{"HeadBan":"{SELLER_A}","BranchBan":"{SELLER_A}","InvoiceType":"07","YearMonth":"11402","InvoiceTrack":"AB","InvoiceBeginNo":"00000000","InvoiceEndNo":"00049999"}},
        "Details":[{{"InvoiceBeginNo":"00000000","InvoiceEndNo":"00049999","InvoiceBooklet":"1000"}}]}}"#
    );
    let m = einvoice_mig::decode_json(json.as_bytes()).expect("decode E0401");
    validate(&m, &Rules::production()).expect("valid E0401")
}

fn ubn(s: &str) -> Ubn {
    Ubn::parse(s).expect("ubn")
}

// `AppendOutcome` is the trait's own type; its size is not ours to change.
#[allow(clippy::result_large_err)]
fn single(mut out: Vec<AppendOutcome>) -> AppendOutcome {
    assert_eq!(out.len(), 1);
    out.remove(0)
}

const NODES: usize = 4;
const TASKS_PER_NODE: usize = 6;
const APPENDS_PER_TASK: usize = 125;
const NODE_URL: &str = "EINVOICE_PG_NODE_URL";
const NODE_ID: &str = "EINVOICE_PG_NODE_ID";

/// One writer node: its own runtime, pool and writer task; several tasks
/// append invoices (two per request) and events. Returns the sequence numbers
/// of its receipts.
fn run_node(url: &str, node: usize) -> Vec<u64> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("node runtime");
    rt.block_on(async move {
        let store = PgStore::connect(url, "main").await.expect("node connect");
        let mut tasks = Vec::new();
        for task in 0..TASKS_PER_NODE {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                let base = (node * TASKS_PER_NODE + task) * 1_000;
                let mut j = 0;
                while j < APPENDS_PER_TASK {
                    if j % 5 == 4 {
                        let r = store
                            .append_event(NewEntry {
                                kind: "ADMIN".into(),
                                key: format!("node/{node}/{task}/{j}"),
                                actor: "system".into(),
                                body: br#"{"event":"test"}"#.to_vec(),
                            })
                            .await
                            .expect("event");
                        seqs.push(r.seq);
                        j += 1;
                    } else {
                        let msgs = (0..2)
                            .map(|k| {
                                let n = format!("AB{:08}", base + j + k);
                                invoice(SELLER_A, &n, "1234", 10)
                            })
                            .collect();
                        let out = store.append(&Scope::All, "t", msgs).await.expect("append");
                        for o in out {
                            let r = o.expect("accepted");
                            assert!(!r.duplicate);
                            seqs.push(r.seq);
                        }
                        j += 2;
                    }
                }
                seqs
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.extend(t.await.expect("task"));
        }
        seqs
    })
}

/// The writer node as a child process of the test below (this test binary
/// re-executed with `EINVOICE_PG_NODE_URL` / `EINVOICE_PG_NODE_ID`). Prints
/// `SEQ <n>` per receipt.
#[test]
#[ignore = "a child process of a_tailing_reader_sees_every_entry_once_in_order_while_node_processes_append"]
fn node_process() {
    let Ok(url) = std::env::var(NODE_URL) else {
        eprintln!("node_process only runs as a child of the tailing-reader test");
        return;
    };
    let node: usize = std::env::var(NODE_ID)
        .expect("EINVOICE_PG_NODE_ID")
        .parse()
        .expect("node id");
    let out: String = run_node(&url, node)
        .into_iter()
        .map(|s| format!("SEQ {s}\n"))
        .collect();
    print!("{out}");
}

/// Four writer *processes* append 3,000 entries (invoices in batches and
/// events) while a reader here tails `entries(after)`: it sees every sequence
/// number exactly once, in order, each entry linking to the one before; the
/// receipts are distinct and gap-free; the chain verifies.
#[test]
fn a_tailing_reader_sees_every_entry_once_in_order_while_node_processes_append() {
    let cluster = PgCluster::shared();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let url = rt.block_on(cluster.create_database()).expect("database");
    let reader = rt.block_on(PgStore::connect(&url, "main")).expect("reader");
    let first = rt
        .block_on(reader.append(&Scope::All, "setup", vec![big_allocation()]))
        .expect("allocate");
    assert!(first[0].is_ok(), "{first:?}");

    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<std::process::Child> = (0..NODES)
        .map(|node| {
            std::process::Command::new(&exe)
                .args([
                    "node_process",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(NODE_URL, &url)
                .env(NODE_ID, node.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn a node process")
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let waiter = {
        let done = done.clone();
        std::thread::spawn(move || {
            let outputs: Vec<std::process::Output> = children
                .into_iter()
                .map(|c| c.wait_with_output().expect("node process"))
                .collect();
            done.store(true, Ordering::SeqCst);
            outputs
        })
    };

    let (seen, verdict) = rt.block_on(async {
        let (mut last_seq, mut last_hash, mut seen) =
            (0u64, einvoice_store::EntryHash::GENESIS, 0u64);
        loop {
            let finished = done.load(Ordering::SeqCst);
            let batch: Vec<LedgerEntry> =
                reader.entries("main", last_seq, 500).await.expect("tail");
            for e in &batch {
                assert_eq!(e.seq, last_seq + 1, "the reader skipped or repeated");
                assert_eq!(e.prev_hash, last_hash, "entry {} does not link", e.seq);
                assert_eq!(e.computed_hash(), e.hash, "entry {} hash", e.seq);
                last_seq = e.seq;
                last_hash = e.hash;
                seen += 1;
            }
            if finished && batch.is_empty() {
                break;
            }
            if batch.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        (seen, reader.verify_ledger("main").await.expect("verify"))
    });

    let mut all = Vec::new();
    for out in waiter.join().expect("waiter") {
        assert!(
            out.status.success(),
            "a node process failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let seqs: Vec<u64> = stdout
            .lines()
            // The harness's "test node_process ... " may precede the first line.
            .filter_map(|l| l.split_once("SEQ ").map(|(_, n)| n))
            .map(|n| n.parse().expect("seq"))
            .collect();
        assert_eq!(
            seqs.len(),
            TASKS_PER_NODE * APPENDS_PER_TASK,
            "every append of a node"
        );
        all.extend(seqs);
    }
    let total = u64::try_from(NODES * TASKS_PER_NODE * APPENDS_PER_TASK).expect("n") + 1;
    all.sort_unstable();
    assert_eq!(
        all,
        (2..=total).collect::<Vec<u64>>(),
        "receipts are distinct and gap-free"
    );
    assert_eq!(seen, total, "the reader saw every entry");
    assert_eq!((verdict.entries, verdict.broken), (total, None));
}

/// The same invoice submitted to two nodes at once: one acceptance, one
/// duplicate with the identical receipt; a different version is a conflict
/// naming the original — the outcomes SQLite gives for the same submissions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_two_nodes_resolve_duplicates_like_sqlite() {
    let url = PgCluster::shared().create_database().await.expect("db");
    let node1 = PgStore::connect(&url, "main").await.expect("node 1");
    let node2 = PgStore::connect(&url, "main").await.expect("node 2");
    let dir = std::env::temp_dir().join(format!("einvoice-pg-vs-sqlite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let lite = einvoice_store_sqlite::SqliteStore::open(&dir.join("s.db"), "main").expect("sqlite");

    node1
        .append(&Scope::All, "t", vec![allocation(SELLER_A)])
        .await
        .expect("alloc");
    lite.append(&Scope::All, "t", vec![allocation(SELLER_A)])
        .await
        .expect("alloc");
    const N: u32 = 100;
    for i in 1..=N {
        let n = format!("AB{i:08}");
        let m = || invoice(SELLER_A, &n, "1234", 10 + i);
        let (a, b) = tokio::join!(
            node1.append(&Scope::All, "t", vec![m()]),
            node2.append(&Scope::All, "t", vec![m()])
        );
        let (a, b) = (
            single(a.expect("a")).expect("a ok"),
            single(b.expect("b")).expect("b ok"),
        );
        assert_ne!(
            a.duplicate, b.duplicate,
            "exactly one of the two is the original"
        );
        let strip = |r: &einvoice_store::Receipt| {
            (
                r.origin.clone(),
                r.seq,
                r.hash,
                r.hlc,
                r.kind.clone(),
                r.key.clone(),
            )
        };
        assert_eq!(
            strip(&a),
            strip(&b),
            "the duplicate carries the original receipt"
        );
        let original = if a.duplicate { b.clone() } else { a.clone() };

        // A different version on the node that did not take the original.
        let other = if a.duplicate { &node1 } else { &node2 };
        let conflict = single(
            other
                .append(&Scope::All, "t", vec![invoice(SELLER_A, &n, "1234", 999)])
                .await
                .expect("append"),
        )
        .expect_err("a conflict");
        assert_eq!(conflict.code, "DUPLICATE_CONFLICT");
        assert_eq!(conflict.original, Some(original.clone()));

        // SQLite, same submissions in the same order.
        let l1 =
            single(lite.append(&Scope::All, "t", vec![m()]).await.expect("l1")).expect("l1 ok");
        let l2 =
            single(lite.append(&Scope::All, "t", vec![m()]).await.expect("l2")).expect("l2 ok");
        let l3 = single(
            lite.append(&Scope::All, "t", vec![invoice(SELLER_A, &n, "1234", 999)])
                .await
                .expect("l3"),
        )
        .expect_err("sqlite conflict");
        assert_eq!(
            (l1.seq, l1.duplicate, l2.seq, l2.duplicate),
            (original.seq, false, original.seq, true)
        );
        assert_eq!(
            (l3.code, l3.field.as_str()),
            (conflict.code, conflict.field.as_str())
        );
        assert_eq!(
            l3.original.map(|r| (r.seq, r.duplicate)),
            Some((original.seq, false))
        );
        // Same message, except for the hash (it covers the clock reading).
        let scrub = |s: &str, h: &einvoice_store::EntryHash| s.replace(&h.to_hex(), "<hash>");
        let lite_hash = l1.hash;
        assert_eq!(
            scrub(&l3.message, &lite_hash),
            scrub(&conflict.message, &original.hash)
        );

        // A seller outside the scope is refused the same way on both.
        let scope_b = Scope::sellers([ubn(einvoice_store::conformance::SELLER_B)]);
        let pg_scope =
            single(node2.append(&scope_b, "t", vec![m()]).await.expect("s")).expect_err("scope");
        let lite_scope =
            single(lite.append(&scope_b, "t", vec![m()]).await.expect("s")).expect_err("scope");
        assert_eq!(pg_scope, lite_scope);
    }

    // Every invoice is readable, identically, from both nodes.
    for i in 1..=N {
        let n = InvoiceNumber::parse(&format!("AB{i:08}")).expect("n");
        let v1 = node1
            .invoice(&Scope::All, ubn(SELLER_A), n)
            .await
            .expect("r1");
        let v2 = node2
            .invoice(&Scope::All, ubn(SELLER_A), n)
            .await
            .expect("r2");
        let vl = lite
            .invoice(&Scope::All, ubn(SELLER_A), n)
            .await
            .expect("rl");
        assert!(v1.is_some());
        assert_eq!(v1, v2);
        let summary = |v: Option<einvoice_store::InvoiceView>| {
            v.map(|v| (v.summary, v.message, v.allowance_total))
        };
        assert_eq!(
            summary(v1),
            summary(vl),
            "same view as SQLite (receipt aside)"
        );
    }
    for s in [&node1, &node2] {
        let verdict = s.verify_ledger("main").await.expect("verify");
        assert_eq!((verdict.entries, verdict.broken), (u64::from(N) + 1, None));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Outbox claims of several nodes (own pool each) on one database, all at
/// the same instant and many at once: every due item is claimed by exactly
/// one worker, and only that worker's mark applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_outbox_claims_of_several_nodes_are_disjoint() {
    use einvoice_store::{OutboxOutcome, WinnersLoad};
    let url = PgCluster::shared()
        .create_database()
        .await
        .expect("create a test database");
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(PgStore::connect(&url, "main").await.expect("connect"));
    }
    let lines = 300u64;
    einvoice_store::conformance::load_winners(
        &nodes[0],
        WinnersLoad {
            period: einvoice_core::Period::parse("11402").expect("period"),
            actor: "alice".into(),
            winners: einvoice_store::conformance::carrier_winner_lines(lines),
        },
    )
    .await;
    let mut tasks = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for t in 0..3 {
            let node = node.clone();
            tasks.push(tokio::spawn(async move {
                einvoice_store::conformance::claim_until_empty(&node, &format!("node{n}-{t}"), 9)
                    .await
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let mut ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!((before, ids.len()), (300, 300), "each item claimed once");
    let workers: std::collections::HashSet<&str> = all.iter().map(|(_, w)| w.as_str()).collect();
    assert!(workers.len() > 1, "claims were spread: {workers:?}");
    for (i, (id, worker)) in all.iter().enumerate() {
        let node = &nodes[i % nodes.len()];
        let done = OutboxOutcome::Delivered { at_unix: 1_001 };
        assert!(
            !node
                .outbox_mark(id, "stranger", done.clone())
                .await
                .expect("mark")
        );
        assert!(node.outbox_mark(id, worker, done).await.expect("mark"));
    }
    assert!(
        nodes[1]
            .outbox_claim(i64::MAX, 100, 60, "late")
            .await
            .expect("claim")
            .is_empty()
    );
}
