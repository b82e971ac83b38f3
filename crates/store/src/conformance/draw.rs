//! The draw: eligibility, the freeze, winners, their ledger entries and
//! bank accounts.

use super::*;

/// The eligibility freeze pages B2C issued invoices of the period in
/// (number, seller) order; cancelled ones and other periods are left out.
pub async fn draw_eligibility<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    for (n, r) in [
        ("AB00000003", "3333"),
        ("AB00000001", "1111"),
        ("AB00000002", "2222"),
    ] {
        ok_one(&s, &Scope::All, invoice(SELLER_A, n, r, 100)).await;
    }
    ok_one(&s, &Scope::All, cancel(SELLER_A, "AB00000002", "typo")).await;
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .eligible_invoices(period(), after.clone(), 1)
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        all.extend(page);
    }
    let numbers: Vec<&str> = all.iter().map(|r| r.number.as_str()).collect();
    assert_eq!(numbers, ["AB00000001", "AB00000003"]);
    assert_eq!(all[0].seller, SELLER_A);
    assert_eq!(all[0].carrier.as_deref(), Some("3J0002:/ABC+123"));
    assert!(!all[0].printed);
    assert_eq!(all[0].donated_to, None);
    let other = Period::parse("11404").unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        s.eligible_invoices(other, None, 10)
            .await
            .expect("other")
            .is_empty()
    );
}

/// A period is frozen once: the same root again is unchanged, another refused.
pub async fn draw_freeze_once<S: Store>(s: S) {
    let f = crate::DrawFreeze {
        period: period(),
        root: "ab".repeat(32),
        rows: 2,
        actor: "alice".into(),
    };
    assert_eq!(s.draw_freeze(period()).await.expect("read"), None);
    assert_eq!(
        s.put_draw_freeze(f.clone(), freeze_entry(&f))
            .await
            .expect("put"),
        crate::DrawPut::Stored
    );
    let again = crate::DrawFreeze {
        actor: "bob".into(),
        ..f.clone()
    };
    assert_eq!(
        s.put_draw_freeze(again.clone(), freeze_entry(&again))
            .await
            .expect("put"),
        crate::DrawPut::Unchanged
    );
    let other = crate::DrawFreeze {
        root: "cd".repeat(32),
        ..f.clone()
    };
    assert!(matches!(
        s.put_draw_freeze(other.clone(), freeze_entry(&other))
            .await
            .expect("put"),
        crate::DrawPut::Conflict(m) if m.contains("alice")
    ));
    assert_eq!(s.draw_freeze(period()).await.expect("read"), Some(f));
}

/// Winners load once, in one transaction; a re-run with the same winners
/// changes nothing, different winners are refused; carriers see their lines.
pub async fn draw_winners<S: Store>(s: S) {
    let load = crate::WinnersLoad {
        period: period(),
        actor: "alice".into(),
        winners: sample_winners(),
    };
    assert_eq!(s.winners_summary(period()).await.expect("sum"), None);
    assert_eq!(
        s.put_winners(load.clone(), winners_entry(&load))
            .await
            .expect("put"),
        crate::DrawPut::Stored
    );
    assert_eq!(
        s.put_winners(load.clone(), winners_entry(&load))
            .await
            .expect("put"),
        crate::DrawPut::Unchanged
    );
    let mut changed = load.clone();
    changed.winners[0].payable = 0;
    assert!(matches!(
        s.put_winners(changed.clone(), winners_entry(&changed))
            .await
            .expect("put"),
        crate::DrawPut::Conflict(_)
    ));
    let sum = s
        .winners_summary(period())
        .await
        .expect("sum")
        .expect("loaded");
    assert_eq!(sum.lines, 4);
    assert_eq!(sum.payable, 1900);
    assert_eq!(sum.digest, load.digest());
    let p1 = s.winners(period(), None, 3).await.expect("page");
    let p2 = s
        .winners(period(), Some(p1[2].line), 3)
        .await
        .expect("page");
    assert_eq!(p1.len(), 3);
    assert_eq!([p1, p2].concat(), load.winners);
    let carrier =
        einvoice_core::Carrier::parse(einvoice_core::CarrierType::MobileBarcode, "/ABC+123")
            .unwrap_or_else(|e| panic!("{e:?}"));
    let mine = s.carrier_winnings(&carrier, period()).await.expect("mine");
    assert_eq!(mine, load.winners[..2]);
    let other = Period::parse("11404").unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        s.carrier_winnings(&carrier, other)
            .await
            .expect("other")
            .is_empty()
    );
    // The load enqueued one notification per payable carrier line, once.
    let due = s.outbox_claim(0, 100, 60, "w").await.expect("claim");
    let ids: Vec<&str> = due.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["winner/11402/0", "winner/11402/1", "winner/11402/3"]);
    let body: serde_json::Value = serde_json::from_str(&due[1].body).expect("json");
    assert_eq!(body["prize"], "cloud_500");
    fail_0_deliver_1(&s).await;
    // The unmarked one is claimable again once its lease (until 60) has ended.
    assert_eq!(
        ids_of(s.outbox_claim(99, 100, 60, "w").await.expect("claim")),
        ["winner/11402/3"]
    );
    let later = s.outbox_claim(100, 100, 60, "w").await.expect("claim");
    assert_eq!(ids_of(later.clone()), ["winner/11402/0"]);
    assert_eq!(later[0].attempts, 1);
}

/// A stored freeze appends exactly one `DRAW_FREEZE` entry in its
/// transaction, with the given kind, key, actor and body, and the chain
/// verifies; an unchanged re-freeze and a conflicting one append nothing; a
/// mismatched entry is refused and writes neither; the chain goes on after.
pub async fn draw_freeze_ledger<S: Store>(s: S) {
    let f = crate::DrawFreeze {
        period: period(),
        root: "ab".repeat(32),
        rows: 2,
        actor: "operator:alice".into(),
    };
    let entry = freeze_entry(&f);
    for bad in mismatched(&entry) {
        let err = s
            .put_draw_freeze(f.clone(), bad.clone())
            .await
            .expect_err("a mismatched entry");
        assert!(
            err.to_string().contains(crate::DRAW_ENTRY_MISMATCH),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(s.draw_freeze(period()).await.expect("read"), None);
    assert!(verified_ledger(&s).await.is_empty());

    assert_eq!(
        s.put_draw_freeze(f.clone(), entry.clone())
            .await
            .expect("put"),
        crate::DrawPut::Stored
    );
    assert_eq!(
        s.draw_freeze(period()).await.expect("read"),
        Some(f.clone())
    );
    let ledger = verified_ledger(&s).await;
    assert_eq!(ledger.len(), 1);
    let e = &ledger[0];
    assert_eq!(
        (e.seq, e.kind.as_str(), e.key.as_str(), e.actor.as_str()),
        (1, "DRAW_FREEZE", "draw/11402", "operator:alice")
    );
    assert_eq!(e.body, entry.body);
    assert_eq!(e.origin, s.site());

    // The same freeze again (by someone else): unchanged, nothing appended.
    let again = crate::DrawFreeze {
        actor: "operator:bob".into(),
        ..f.clone()
    };
    assert_eq!(
        s.put_draw_freeze(again.clone(), freeze_entry(&again))
            .await
            .expect("again"),
        crate::DrawPut::Unchanged
    );
    // Another root: a conflict, neither the record nor an entry.
    let other = crate::DrawFreeze {
        root: "cd".repeat(32),
        ..f.clone()
    };
    assert!(matches!(
        s.put_draw_freeze(other.clone(), freeze_entry(&other))
            .await
            .expect("conflict"),
        crate::DrawPut::Conflict(_)
    ));
    assert_eq!(s.draw_freeze(period()).await.expect("read"), Some(f));
    assert_eq!(verified_ledger(&s).await.len(), 1);

    // The chain goes on from the freeze's entry.
    let next = s
        .append_event(crate::NewEntry {
            kind: "ADMIN".into(),
            key: "seller/04595257".into(),
            actor: "operator:alice".into(),
            body: br#"{"action":"put_seller"}"#.to_vec(),
        })
        .await
        .expect("event");
    assert_eq!(next.seq, 2);
    let r = ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    assert_eq!(r.seq, 3);
    let ledger = verified_ledger(&s).await;
    assert_eq!(ledger[1].prev_hash, ledger[0].hash);
}

/// A stored load appends exactly one `DRAW_WINNERS` entry in its
/// transaction, after the chain's earlier entries, and the chain verifies;
/// an unchanged re-load and a conflicting one append nothing; a mismatched
/// entry or lines out of order are refused and write nothing.
pub async fn draw_winners_ledger<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    let load = crate::WinnersLoad {
        period: period(),
        actor: "operator:alice".into(),
        winners: sample_winners(),
    };
    let entry = winners_entry(&load);
    for bad in mismatched(&entry) {
        let err = s
            .put_winners(load.clone(), bad.clone())
            .await
            .expect_err("a mismatched entry");
        assert!(
            err.to_string().contains(crate::DRAW_ENTRY_MISMATCH),
            "{bad:?}: {err}"
        );
    }
    let mut disordered = load.clone();
    disordered.winners.swap(1, 2);
    let mut repeated = load.clone();
    repeated.winners[2].line = 1;
    for bad in [disordered, repeated] {
        let err = s
            .put_winners(bad.clone(), winners_entry(&bad))
            .await
            .expect_err("lines out of order");
        assert!(err.to_string().contains(crate::WINNERS_LINE_ORDER), "{err}");
    }
    assert_eq!(s.winners_summary(period()).await.expect("sum"), None);
    assert!(
        s.winners(period(), None, 10)
            .await
            .expect("lines")
            .is_empty()
    );
    assert_eq!(verified_ledger(&s).await.len(), 1);

    assert_eq!(
        s.put_winners(load.clone(), entry.clone())
            .await
            .expect("put"),
        crate::DrawPut::Stored
    );
    let ledger = verified_ledger(&s).await;
    assert_eq!(ledger.len(), 2);
    let e = &ledger[1];
    assert_eq!(
        (e.seq, e.kind.as_str(), e.key.as_str(), e.actor.as_str()),
        (2, "DRAW_WINNERS", "draw/11402", "operator:alice")
    );
    assert_eq!(e.body, entry.body);
    assert_eq!(e.prev_hash, ledger[0].hash);
    let body: serde_json::Value = serde_json::from_slice(&e.body).expect("json");
    assert_eq!(body["digest"], load.digest());
    assert_eq!(body["lines"], 4);

    // The same winners again (whoever loads them): unchanged, nothing appended.
    let again = crate::WinnersLoad {
        actor: "operator:bob".into(),
        ..load.clone()
    };
    assert_eq!(
        s.put_winners(again.clone(), winners_entry(&again))
            .await
            .expect("again"),
        crate::DrawPut::Unchanged
    );
    // Different winners: a conflict, no line changed, nothing appended.
    let mut changed = load.clone();
    changed.winners[0].payable = 0;
    changed.winners.pop();
    assert!(matches!(
        s.put_winners(changed.clone(), winners_entry(&changed))
            .await
            .expect("conflict"),
        crate::DrawPut::Conflict(_)
    ));
    let sum = s
        .winners_summary(period())
        .await
        .expect("sum")
        .expect("loaded");
    assert_eq!(
        (sum.lines, sum.digest.as_str()),
        (4, load.digest().as_str())
    );
    assert_eq!(
        s.winners(period(), None, 10).await.expect("lines"),
        load.winners
    );
    assert_eq!(verified_ledger(&s).await.len(), 2);
    let r = ok_one(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 100),
    )
    .await;
    assert_eq!(r.seq, 3);
    assert_eq!(verified_ledger(&s).await.len(), 3);
}

/// A freeze and a load whose ledger entry cannot be written leave nothing:
/// `break_ledger` makes the backend refuse every ledger insert (a trigger,
/// say), `repair` undoes it. While broken, both puts fail and no freeze, no
/// winner line, no notification and no entry exists; once repaired, both
/// store with their entries right after the chain's last one (the failed
/// attempts consumed no sequence number).
pub async fn draw_puts_roll_back_with_their_entry<S, B, BF, R, RF>(s: S, break_ledger: B, repair: R)
where
    S: Store,
    B: FnOnce() -> BF,
    BF: std::future::Future<Output = ()>,
    R: FnOnce() -> RF,
    RF: std::future::Future<Output = ()>,
{
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    let f = crate::DrawFreeze {
        period: period(),
        root: "ab".repeat(32),
        rows: 2,
        actor: "operator:alice".into(),
    };
    let load = crate::WinnersLoad {
        period: period(),
        actor: "operator:alice".into(),
        winners: sample_winners(),
    };
    break_ledger().await;
    s.put_draw_freeze(f.clone(), freeze_entry(&f))
        .await
        .expect_err("the ledger refuses the freeze's entry");
    s.put_winners(load.clone(), winners_entry(&load))
        .await
        .expect_err("the ledger refuses the load's entry");
    assert_eq!(s.draw_freeze(period()).await.expect("read"), None);
    assert_eq!(s.winners_summary(period()).await.expect("sum"), None);
    assert!(
        s.winners(period(), None, 10)
            .await
            .expect("lines")
            .is_empty()
    );
    assert!(
        s.outbox_claim(i64::MAX - 1_000_000, 100, 1, "check")
            .await
            .expect("due")
            .is_empty()
    );
    repair().await;
    assert_eq!(verified_ledger(&s).await.len(), 1);

    assert_eq!(
        s.put_draw_freeze(f.clone(), freeze_entry(&f))
            .await
            .expect("freeze"),
        crate::DrawPut::Stored
    );
    assert_eq!(
        s.put_winners(load.clone(), winners_entry(&load))
            .await
            .expect("load"),
        crate::DrawPut::Stored
    );
    let kinds: Vec<(u64, String)> = verified_ledger(&s)
        .await
        .into_iter()
        .map(|e| (e.seq, e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (1, "E0401".to_string()),
            (2, "DRAW_FREEZE".to_string()),
            (3, "DRAW_WINNERS".to_string())
        ]
    );
    assert_eq!(
        s.outbox_claim(i64::MAX - 1_000_000, 100, 1, "check")
            .await
            .expect("due")
            .len(),
        3
    );
}

/// Bank accounts are stored as given (sealed by the caller) and replaced.
pub async fn draw_bank_accounts<S: Store>(s: S) {
    let a = crate::BankAccountRecord {
        carrier: "3J0002:/ABC+123".into(),
        sealed: vec![1, 2, 3],
        masked: "***1234".into(),
        bank_code: "812".into(),
        updated_unix: 1,
    };
    assert_eq!(s.bank_account(&a.carrier).await.expect("read"), None);
    s.put_bank_account(a.clone()).await.expect("put");
    let b = crate::BankAccountRecord {
        sealed: vec![9],
        masked: "***9999".into(),
        updated_unix: 2,
        ..a.clone()
    };
    s.put_bank_account(b.clone()).await.expect("put");
    assert_eq!(s.bank_account(&a.carrier).await.expect("read"), Some(b));
}
