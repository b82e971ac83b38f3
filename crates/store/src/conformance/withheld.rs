//! Ledger format v2: new entries commit to a body digest; a copy of the
//! ledger may withhold bodies and still verify; v1 chains keep verifying.

use super::*;
use crate::{BODY_WITHHELD_CODE, EntryFormat, LedgerEntry, NewEntry, SiteRecords, StoreError};

fn event(n: u32) -> NewEntry {
    NewEntry {
        kind: "ADMIN".into(),
        key: format!("seller/{n}"),
        actor: "operator:alice".into(),
        body: format!("{{\"action\":\"put_seller\",\"n\":{n}}}").into_bytes(),
    }
}

/// An allocation, an invoice and three events at `s`: every entry v2.
async fn five_entries<S: Store>(s: &S) -> Vec<LedgerEntry> {
    ok_one(s, &Scope::All, allocation(SELLER_A)).await;
    ok_one(s, &Scope::All, invoice(SELLER_A, "AB00000001", "1234", 100)).await;
    for n in 1..=3 {
        s.append_event(event(n)).await.expect("event");
    }
    s.entries(s.site(), 0, 100).await.expect("entries")
}

/// Every entry appended (messages and events) is v2: it carries the digest
/// of its body (`SHA-256("einvoice/body/v2\0" ‖ body)`), its hash is the v2
/// hash over that digest, its body is present; verify counts no withheld body.
pub async fn new_entries_are_v2<S: Store>(s: S) {
    let e = five_entries(&s).await;
    assert_eq!(e.len(), 5);
    for x in &e {
        assert_eq!(x.format(), EntryFormat::V2, "entry {}", x.seq);
        assert_eq!(x.body_digest, Some(crate::body_digest(&x.body)));
        assert!(!x.withheld && !x.body.is_empty());
        let v2 = crate::hash_entry_v2(
            &x.prev_hash,
            &x.origin,
            x.seq,
            x.hlc,
            &x.kind,
            &x.key,
            &x.actor,
            &crate::body_digest(&x.body),
        );
        assert_eq!(x.hash, v2, "entry {}", x.seq);
    }
    let v = s.verify_ledger(s.site()).await.expect("verify");
    assert_eq!((v.entries, v.broken, v.withheld), (5, None, 0));
}

/// A copy of `a`'s ledger with the event bodies withheld (entries 3 and
/// 5) imports into `b`: `b` stores the digests and the withheld marks,
/// returns those entries with empty bodies, verifies every link and
/// reports the withheld bodies (count and runs); `b` then continues the
/// chain with a v2 entry that verifies too.
pub async fn withheld_bodies_are_stored_and_verified<S: Store, T: Store>(a: S, b: T) {
    let full = five_entries(&a).await;
    let copy: Vec<LedgerEntry> = full
        .iter()
        .map(|e| match e.seq {
            3 | 5 => e.withheld_copy().expect("v2"),
            _ => e.clone(),
        })
        .collect();
    b.import_site(SiteRecords::default(), copy.clone())
        .await
        .expect("import with withheld bodies");
    let stored = b.entries(b.site(), 0, 100).await.expect("entries");
    assert_eq!(stored, copy);
    assert!(stored[2].withheld && stored[2].body.is_empty());
    assert_eq!(stored[2].body_digest, full[2].body_digest);
    let v = b.verify_ledger(b.site()).await.expect("verify");
    assert_eq!(
        (v.entries, v.head, v.broken, v.withheld),
        (5, full[4].hash, None, 2)
    );
    assert_eq!(v.withheld_runs, vec![[3, 3], [5, 5]]);
    // The projections came from the present message bodies.
    assert!(
        b.invoice(&Scope::All, ubn(SELLER_A), num("AB00000001"))
            .await
            .expect("read")
            .is_some()
    );
    let next = b.append_event(event(9)).await.expect("continue");
    assert_eq!((next.seq, next.origin.as_str()), (6, b.site()));
    let v = b.verify_ledger(b.site()).await.expect("verify");
    assert_eq!((v.entries, v.broken, v.withheld), (6, None, 2));
}

/// A copy whose invoice body is withheld cannot be imported where the
/// invoice projections need it: `BODY_WITHHELD` naming the entry, and
/// nothing of the import is written. A copy whose present body does not
/// match its digest is `STORE_CORRUPT`, nothing written either.
pub async fn a_withheld_message_body_is_refused<S: Store, T: Store>(a: S, b: T) {
    let full = five_entries(&a).await;
    let mut copy = full.clone();
    copy[1] = full[1].withheld_copy().expect("v2");
    let err = b
        .import_site(SiteRecords::default(), copy)
        .await
        .expect_err("withheld invoice body");
    assert!(matches!(err, StoreError::BodyWithheld(_)), "{err:?}");
    assert_eq!(err.code(), BODY_WITHHELD_CODE);
    let text = err.to_string();
    assert!(text.contains(&format!("entry {}#2", a.site())), "{text}");
    assert!(b.entries(b.site(), 0, 10).await.expect("e").is_empty());

    let mut changed = full.clone();
    changed[3].body = b"{\"action\":\"put_seller\",\"n\":7}".to_vec();
    let err = b
        .import_site(SiteRecords::default(), changed)
        .await
        .expect_err("changed body");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert!(
        err.to_string().contains("does not match its digest"),
        "{err}"
    );
    assert!(b.entries(b.site(), 0, 10).await.expect("e").is_empty());
}

/// A v1 chain (written before format v2) imports and verifies as it is; the
/// next entry appended to it is v2 and the mixed chain verifies.
pub async fn v1_chains_keep_verifying<S: Store>(s: S) {
    let v1 = chain(s.site(), 3);
    s.import_site(SiteRecords::default(), v1.clone())
        .await
        .expect("import v1");
    let stored = s.entries(s.site(), 0, 10).await.expect("entries");
    assert_eq!(stored, v1);
    assert!(stored.iter().all(|e| e.format() == EntryFormat::V1));
    let r = s.append_event(event(1)).await.expect("append");
    assert_eq!(r.seq, 4);
    let e = s.entries(s.site(), 3, 10).await.expect("entry 4");
    assert_eq!(
        (e[0].format(), e[0].prev_hash),
        (EntryFormat::V2, v1[2].hash)
    );
    let v = s.verify_ledger(s.site()).await.expect("verify");
    assert_eq!((v.entries, v.broken, v.withheld), (4, None, 0));
}
