//! Site-to-site sync: a page of another origin applied with its cursor in
//! one transaction, idempotently; this site's own origin refused.

use crate::conformance::fixtures::{chain, chain_of};
use crate::{
    CarrierContact, CarrierCredential, EntryHash, LedgerEntry, LinkChange, NpoRecord, OriginHead,
    Store, SyncPage, SyncUpstreamState, decide_link_change,
};
use einvoice_core::{Carrier, CarrierType, LoveCode, Ubn};

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

/// A sync page rebuilds what an import rebuilds from the same entries, by
/// the same replays: the NPO directory, a registered carrier's record and
/// contact, a code change, and the carrier links in force (link, unlink,
/// link elsewhere: the last generation holds). Re-applying a range already
/// held changes nothing (an older link does not come back).
pub async fn sync_rebuilds_carrier_life<S: Store>(s: S) {
    let parse = |kind, id: &str| Carrier::parse(kind, id).unwrap_or_else(|e| panic!("{e:?}"));
    let barcode = parse(CarrierType::MobileBarcode, "/ABC+123");
    let elsewhere = parse(CarrierType::MobileBarcode, "/XYZ-999");
    let card = parse(CarrierType::Other("1K0001".into()), "0123456789");
    let npo = NpoRecord {
        love_code: LoveCode::parse("919").expect("love code"),
        name: "Children Fund".into(),
        ubn: Ubn::parse("12345676").expect("ubn"),
    };
    let registered = CarrierCredential {
        carrier: barcode.clone(),
        verification_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$first".into(),
        contact: Some(CarrierContact {
            carrier: barcode.clone(),
            email: "a@example.tw".into(),
            phone: "0912345678".into(),
        }),
    };
    let changed = CarrierCredential {
        verification_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$second".into(),
        contact: None,
        ..registered.clone()
    };
    let mut news = vec![
        npo.ledger_entry("operator:alice"),
        registered.ledger_entry("carrier"),
        changed.ledger_entry("carrier"),
    ];
    let mut held = None;
    for (to, link) in [(&barcode, true), (&barcode, false), (&elsewhere, true)] {
        let change = LinkChange {
            barcode: to.clone(),
            carrier: card.clone(),
            link,
            name: "easy card".into(),
            actor: "app:demo".into(),
        };
        let (entry, row) = decide_link_change(&change, held.as_ref(), 0).expect("decided");
        news.push(entry);
        held = Some(row);
    }
    let peer = chain_of("peer-site", &news);
    let n = peer.len();
    let a = s.apply_sync_page(page(&peer, 0, 4)).await.expect("apply");
    assert_eq!(a.applied, 4);
    assert_eq!(s.npo(&npo.love_code).await.expect("npo"), Some(npo.clone()));
    let record = s.carrier(&barcode).await.expect("carrier").expect("record");
    assert_eq!(record.verification_hash, changed.verification_hash);
    assert_eq!(
        s.carrier_contact(&barcode).await.expect("contact"),
        registered.contact
    );
    assert_eq!(
        s.linked_barcode(&card).await.expect("linked"),
        Some(barcode.clone())
    );
    let a = s.apply_sync_page(page(&peer, 2, n)).await.expect("rest");
    assert_eq!(a.applied as usize, n - 4);
    assert_eq!(
        s.linked_barcode(&card).await.expect("linked"),
        Some(elsewhere.clone())
    );
    assert!(s.carrier_links(&barcode).await.expect("links").is_empty());
    // Again: nothing is applied, so nothing is projected again.
    let a = s.apply_sync_page(page(&peer, 0, 4)).await.expect("again");
    assert_eq!((a.applied as usize, a.head.seq as usize), (0, n));
    assert_eq!(
        s.linked_barcode(&card).await.expect("linked"),
        Some(elsewhere)
    );
    assert_eq!(s.carrier_links(&barcode).await.expect("links").len(), 0);
}

/// Travelling records: stored with the origin's records cursor; a revoked
/// key is disabled where held; an older account never replaces a newer one; the cursor never moves back; this
/// site's own origin is refused.
pub async fn sync_records<S: Store>(s: S) {
    let account = |updated_unix: i64, masked: &str| crate::BankAccountRecord {
        carrier: "3J0002:/ABC+123".into(),
        sealed: masked.as_bytes().to_vec(),
        masked: masked.into(),
        bank_code: "812".into(),
        updated_unix,
    };
    assert_eq!(s.sync_records_cursor("peer-site").await.expect("cursor"), 0);
    let accounts = |a: Vec<crate::BankAccountRecord>| crate::SyncRecords {
        accounts: a,
        revoked_keys: Vec::new(),
    };
    s.put_api_key(crate::ApiKeyRecord {
        key_id: "K1".into(),
        secret_sealed: vec![1, 2, 3],
        sellers: Vec::new(),
        disabled: false,
        created_unix: 5,
    })
    .await
    .expect("key");
    s.apply_sync_records(
        "peer-site",
        4,
        crate::SyncRecords {
            accounts: vec![account(10, "***1111")],
            // A key this site does not hold is nothing to disable.
            revoked_keys: vec!["K1".into(), "K-unknown".into()],
        },
    )
    .await
    .expect("apply");
    assert_eq!(s.sync_records_cursor("peer-site").await.expect("cursor"), 4);
    let held = |s: &S| {
        let s = s.clone();
        async move {
            s.bank_account("3J0002:/ABC+123")
                .await
                .expect("account")
                .map(|a| a.masked)
        }
    };
    assert_eq!(held(&s).await.as_deref(), Some("***1111"));
    let k1 = s.api_key("K1").await.expect("key").expect("held");
    assert!(k1.disabled, "revoked by the records feed");
    assert_eq!((k1.secret_sealed, k1.created_unix), (vec![1, 2, 3], 5));
    assert!(s.api_key("K-unknown").await.expect("key").is_none());
    // An older account (another site's earlier change) does not win.
    s.apply_sync_records("other-site", 2, accounts(vec![account(9, "***2222")]))
        .await
        .expect("apply");
    assert_eq!(held(&s).await.as_deref(), Some("***1111"));
    s.apply_sync_records("other-site", 3, accounts(vec![account(11, "***3333")]))
        .await
        .expect("apply");
    assert_eq!(held(&s).await.as_deref(), Some("***3333"));
    // The cursor never moves back.
    s.apply_sync_records("peer-site", 1, crate::SyncRecords::default())
        .await
        .expect("apply");
    assert_eq!(s.sync_records_cursor("peer-site").await.expect("cursor"), 4);
    let e = s
        .apply_sync_records(s.site(), 1, accounts(vec![account(12, "***4444")]))
        .await
        .expect_err("own origin");
    assert!(e.to_string().contains("SYNC_OWN_ORIGIN"), "{e}");
    assert_eq!(held(&s).await.as_deref(), Some("***3333"));
}
