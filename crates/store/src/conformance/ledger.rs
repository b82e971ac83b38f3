//! The ledger: receipts chain and verify, also under concurrent appenders.

use super::*;

/// Receipts chain: gap-free sequence from 1, each links the previous hash, verify is clean.
pub async fn ledger_chain<S: Store>(s: S) {
    let r1 = ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    let r2 = ok_one(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 100),
    )
    .await;
    assert_eq!((r1.seq, r2.seq), (1, 2));
    assert!(!r1.duplicate && !r2.duplicate);
    let e = s.entries(s.site(), 0, 10).await.expect("entries");
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].prev_hash, crate::EntryHash::GENESIS);
    assert_eq!(e[1].prev_hash, e[0].hash);
    assert_eq!(e[1].hash, r2.hash);
    assert_eq!(e[1].computed_hash(), e[1].hash);
    assert_eq!(
        e[1].body,
        einvoice_mig::canonical(&invoice(SELLER_A, "AB00000001", "1234", 100).message)
    );
    let verdict = s.verify_ledger(s.site()).await.expect("verify");
    assert_eq!((verdict.entries, verdict.broken), (2, None));
    assert_eq!(s.entries(s.site(), 1, 10).await.expect("after").len(), 1);
}

/// Many concurrent appenders: every receipt distinct, sequence gap-free, chain verifies.
pub async fn concurrent_appends<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let n = format!("AB{:08}", i + 1);
            ok_one(&s, &Scope::All, invoice(SELLER_A, &n, "1234", 10 + i))
                .await
                .seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.expect("task"));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=201).collect::<Vec<u64>>());
    let verdict = s.verify_ledger(s.site()).await.expect("verify");
    assert_eq!((verdict.entries, verdict.broken), (201, None));
}

/// Verify names the first changed entry: after an allocation and three
/// invoices, `tamper` changes entry 3's stored body behind the store's back
/// (as an attacker with database access would); the verdict is
/// `BODY_DIGEST_MISMATCH` at 3 (a v2 entry's body no longer matches the
/// digest its hash commits to) with 2 good entries.
pub async fn verify_finds_the_first_tampered_entry<S, T, TF>(s: S, tamper: T)
where
    S: Store,
    T: FnOnce(S, u64) -> TF,
    TF: std::future::Future<Output = ()>,
{
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    for i in 1..=3 {
        ok_one(
            &s,
            &Scope::All,
            invoice(SELLER_A, &format!("AB0000000{i}"), "1234", 10),
        )
        .await;
    }
    tamper(s.clone(), 3).await;
    let v = s.verify_ledger(s.site()).await.expect("verify");
    let broken = v.broken.expect("broken link found");
    assert_eq!(
        (broken.seq, broken.code.as_str()),
        (3, crate::BODY_DIGEST_MISMATCH)
    );
    assert_eq!(v.entries, 2);
}

/// A store opened again on the same database continues its site's chain:
/// `open` opens (or connects to) one and the same database each time.
pub async fn reopening_continues_the_chain<S, O, OF>(open: O)
where
    S: Store,
    O: Fn() -> OF,
    OF: std::future::Future<Output = S>,
{
    {
        let s = open().await;
        ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    }
    let s = open().await;
    let r = ok_one(&s, &Scope::All, invoice(SELLER_A, "AB00000001", "1234", 10)).await;
    assert_eq!(r.seq, 2);
    assert_eq!(s.verify_ledger(s.site()).await.expect("v").broken, None);
}
