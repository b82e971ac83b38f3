//! Site-to-site sync: a page of another origin applied with its cursor in
//! one transaction, idempotently; this site's own origin refused.

use crate::conformance::fixtures::chain;
use crate::{EntryHash, LedgerEntry, OriginHead, Store, SyncPage, SyncUpstreamState};

fn page(c: &[LedgerEntry], after: usize, upto: usize) -> SyncPage {
    let origin = c[0].origin.clone();
    SyncPage {
        after_seq: after as u64,
        after_hash: if after == 0 {
            EntryHash::GENESIS
        } else {
            c[after - 1].hash
        },
        entries: c[after..upto].to_vec(),
        seen: SyncUpstreamState {
            upstream: "https://peer".into(),
            head: head_of(&c[c.len() - 1]),
            checked_unix: 7,
            error: None,
        },
        origin,
    }
}

fn head_of(e: &LedgerEntry) -> OriginHead {
    OriginHead {
        origin: e.origin.clone(),
        seq: e.seq,
        hash: e.hash,
        hlc: e.hlc,
    }
}

/// Pages apply in order, again without effect, never to the own origin, and
/// never where they do not meet the stored chain; the state shows the
/// cursor and the upstream.
pub async fn sync_pages<S: Store>(s: S) {
    let other = chain("peer-site", 5);
    let a = s.apply_sync_page(page(&other, 0, 3)).await.expect("apply");
    assert_eq!((a.applied, a.head.seq, a.head.hash), (3, 3, other[2].hash));
    // Re-applying any range already held changes nothing.
    for (from, to) in [(0, 3), (1, 2), (0, 1), (2, 3)] {
        let a = s
            .apply_sync_page(page(&other, from, to))
            .await
            .expect("again");
        assert_eq!((a.applied, a.head.seq), (0, 3), "{from}..{to}");
    }
    // An overlapping page applies only what is new.
    let a = s
        .apply_sync_page(page(&other, 1, 5))
        .await
        .expect("overlap");
    assert_eq!((a.applied, a.head.seq), (2, 5));
    assert_eq!(
        s.entries("peer-site", 0, 100).await.expect("entries"),
        other
    );
    assert!(
        s.verify_ledger("peer-site")
            .await
            .expect("verify")
            .broken
            .is_none()
    );
    // A page that does not meet the stored chain is refused whole.
    let fork = chain("peer-site", 7);
    let mut bad = page(&fork, 5, 7);
    bad.after_hash = EntryHash([1; 32]);
    let e = s.apply_sync_page(bad).await.expect_err("fork");
    assert!(
        e.to_string()
            .starts_with("STORE_BACKEND: SYNC_HEAD_MISMATCH"),
        "{e}"
    );
    let gap = page(&chain("peer-site", 9), 7, 9);
    assert!(s.apply_sync_page(gap).await.is_err());
    assert_eq!(
        s.entries("peer-site", 0, 100).await.expect("entries").len(),
        5
    );
    // The site's own origin is never taken from a peer.
    let own = chain(s.site(), 2);
    let e = s.apply_sync_page(page(&own, 0, 2)).await.expect_err("own");
    assert!(e.to_string().contains("SYNC_OWN_ORIGIN"), "{e}");
    assert!(
        s.entries(s.site(), 0, 10)
            .await
            .expect("entries")
            .is_empty()
    );
    // The state: the cursor at 5 and what the upstream offered.
    let state = s.sync_state().await.expect("state");
    let o = state
        .iter()
        .find(|o| o.head.origin == "peer-site")
        .expect("peer-site in the state");
    assert_eq!((o.head.seq, o.head.hash), (5, other[4].hash));
    assert_eq!(o.upstreams.len(), 1);
    assert_eq!(
        (
            o.upstreams[0].upstream.as_str(),
            o.upstreams[0].head.seq,
            o.upstreams[0].checked_unix
        ),
        ("https://peer", 5, 7)
    );
}
