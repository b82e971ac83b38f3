//! The writer appends runs of invoices set-based (one read and one multi-row
//! insert per run). These cases pin the batch-level edges to what appending
//! the messages one by one gives — SQLite, which does exactly that, is the
//! reference: the same key twice in one request (identical and different),
//! invoices before and after the allocation that covers them, a cancel held
//! before its invoice in the same request, scope refusals in the middle of a
//! run, and many concurrent requests folded into one transaction.

use einvoice_core::{InvoiceNumber, Ubn, Validated};
use einvoice_store::conformance::{SELLER_A, SELLER_B, allocation, cancel, invoice};
use einvoice_store::{AppendOutcome, EntryHash, Scope, Store};
use einvoice_store_postgres::PgStore;
use einvoice_store_postgres::pg_harness::PgCluster;
use einvoice_store_sqlite::SqliteStore;

fn ubn(s: &str) -> Ubn {
    Ubn::parse(s).expect("ubn")
}

/// An outcome without what legitimately differs between two stores: the
/// clock reading and the hash that covers it.
fn comparable(o: &AppendOutcome, hashes: &[EntryHash]) -> String {
    let scrub = |s: &str| {
        hashes
            .iter()
            .fold(s.to_string(), |s, h| s.replace(&h.to_hex(), "<hash>"))
    };
    match o {
        Ok(r) => format!("ok {} {} {} {}", r.seq, r.kind, r.key, r.duplicate),
        Err(e) => format!(
            "{} {} {} {:?}",
            e.code,
            e.field,
            scrub(&e.message),
            e.original
                .as_ref()
                .map(|r| (r.seq, r.kind.clone(), r.key.clone(), r.duplicate))
        ),
    }
}

fn hashes(out: &[AppendOutcome]) -> Vec<EntryHash> {
    out.iter()
        .filter_map(|o| o.as_ref().ok().map(|r| r.hash))
        .collect()
}

async fn sqlite(dir: &std::path::Path) -> SqliteStore {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("dir");
    SqliteStore::open(&dir.join("s.db"), "main").expect("sqlite")
}

/// One request mixing every batch edge gives SQLite's outcomes, message by
/// message, and the same invoice views.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_with_every_edge_matches_sqlite() {
    let url = PgCluster::shared().create_database().await.expect("db");
    let pg = PgStore::connect(&url, "main").await.expect("connect");
    let dir = std::env::temp_dir().join(format!("einvoice-pg-batch-{}", std::process::id()));
    let lite = sqlite(&dir).await;

    let messages = || -> Vec<Validated> {
        vec![
            // Before the allocation: outside the track.
            invoice(SELLER_A, "AB00000001", "1234", 10),
            // A cancel held for an invoice that arrives later in the request.
            cancel(SELLER_A, "AB00000003", "typo"),
            allocation(SELLER_A),
            // Now inside the track: accepted.
            invoice(SELLER_A, "AB00000001", "1234", 10),
            // The same again: the original receipt.
            invoice(SELLER_A, "AB00000001", "1234", 10),
            // A different version: a conflict naming the entry above.
            invoice(SELLER_A, "AB00000001", "1234", 11),
            invoice(SELLER_A, "AB00000002", "2222", 20),
            // Seller B is outside the scope, in the middle of the run.
            invoice(SELLER_B, "AB00000005", "5555", 50),
            // Its cancel was held: it is cancelled on arrival.
            invoice(SELLER_A, "AB00000003", "3333", 30),
            invoice(SELLER_A, "AB00000002", "2222", 21),
            invoice(SELLER_A, "AB00000002", "2222", 20),
            // Past the end of the allocation.
            invoice(SELLER_A, "AB00001000", "1000", 40),
            invoice(SELLER_A, "AB00000004", "4444", 40),
        ]
    };
    let scope = Scope::sellers([ubn(SELLER_A)]);
    let p = pg.append(&scope, "t", messages()).await.expect("pg append");
    let l = lite
        .append(&scope, "t", messages())
        .await
        .expect("sqlite append");
    assert_eq!(p.len(), l.len());
    let (ph, lh) = (hashes(&p), hashes(&l));
    for (i, (a, b)) in p.iter().zip(&l).enumerate() {
        assert_eq!(comparable(a, &ph), comparable(b, &lh), "message {i}");
    }
    // The duplicate carries the original receipt, the conflict names it.
    let original = p[3].clone().expect("accepted");
    assert_eq!(
        p[4].clone().expect("duplicate"),
        einvoice_store::Receipt {
            duplicate: true,
            ..original.clone()
        }
    );
    assert_eq!(p[5].clone().expect_err("conflict").original, Some(original));

    // The same request again: every accepted message is now a duplicate
    // (or the same conflict), on both stores.
    let p2 = pg.append(&scope, "t", messages()).await.expect("pg again");
    let l2 = lite
        .append(&scope, "t", messages())
        .await
        .expect("sqlite again");
    for (i, (a, b)) in p2.iter().zip(&l2).enumerate() {
        assert_eq!(comparable(a, &ph), comparable(b, &lh), "again, message {i}");
    }

    for n in [
        "AB00000001",
        "AB00000002",
        "AB00000003",
        "AB00000004",
        "AB00001000",
    ] {
        let n = InvoiceNumber::parse(n).expect("number");
        let view = |v: Option<einvoice_store::InvoiceView>| {
            v.map(|v| (v.summary, v.message, v.allowance_total))
        };
        let a = pg.invoice(&Scope::All, ubn(SELLER_A), n).await.expect("pg");
        let b = lite
            .invoice(&Scope::All, ubn(SELLER_A), n)
            .await
            .expect("sqlite");
        assert_eq!(view(a), view(b), "{n}");
    }
    let verdict = pg.verify_ledger("main").await.expect("verify");
    assert_eq!(verdict.broken, None);
    assert_eq!(
        verdict.entries,
        lite.verify_ledger("main").await.expect("verify").entries
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Many single-message requests in flight on one node (folded by the writer
/// into few transactions), each key sent three times — twice identical, once
/// different: per key exactly one acceptance, the identical copy gets its
/// receipt, the different one a conflict naming it; the ledger is gap-free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_in_one_batch_resolve_keys_like_sequential_appends() {
    let url = PgCluster::shared().create_database().await.expect("db");
    let pg = PgStore::connect(&url, "main").await.expect("connect");
    pg.append(&Scope::All, "t", vec![allocation(SELLER_A)])
        .await
        .expect("allocation");
    const KEYS: u32 = 60;
    let mut tasks = Vec::new();
    for copy in 0..3u32 {
        for i in 1..=KEYS {
            let pg = pg.clone();
            tasks.push(tokio::spawn(async move {
                let total = if copy == 2 { 1000 + i } else { i };
                let m = invoice(SELLER_A, &format!("AB{i:08}"), "1234", total);
                let mut out = pg.append(&Scope::All, "t", vec![m]).await.expect("append");
                (i, copy, out.remove(0))
            }));
        }
    }
    let mut by_key: std::collections::BTreeMap<u32, Vec<(u32, AppendOutcome)>> = Default::default();
    for t in tasks {
        let (i, copy, o) = t.await.expect("task");
        by_key.entry(i).or_default().push((copy, o));
    }
    let mut seqs = Vec::new();
    for (i, outs) in by_key {
        let originals: Vec<_> = outs
            .iter()
            .filter_map(|(c, o)| o.as_ref().ok().filter(|r| !r.duplicate).map(|r| (*c, r)))
            .collect();
        assert_eq!(originals.len(), 1, "key {i}: one acceptance: {outs:?}");
        let (winner, original) = originals[0];
        seqs.push(original.seq);
        for (c, o) in &outs {
            if *c == winner {
                continue;
            }
            let same = (*c == 2) == (winner == 2);
            match o {
                Ok(r) => {
                    assert!(same && r.duplicate, "key {i}: {o:?}");
                    assert_eq!((r.seq, r.hash), (original.seq, original.hash));
                }
                Err(e) => {
                    assert!(!same, "key {i}: {o:?}");
                    assert_eq!(e.code, "DUPLICATE_CONFLICT");
                    assert_eq!(e.original.as_ref().map(|r| r.seq), Some(original.seq));
                }
            }
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=u64::from(KEYS) + 1).collect::<Vec<_>>());
    let verdict = pg.verify_ledger("main").await.expect("verify");
    assert_eq!(
        (verdict.entries, verdict.broken),
        (u64::from(KEYS) + 1, None)
    );
}
