//! Export / import of a whole site.

use super::*;

/// Export a site from `a` (records and every entry of every origin) and
/// import it into the empty `b`: identical entries, chains, records and
/// query answers; `b` continues the chain; a second import is refused.
pub async fn export_import_round_trip<S: Store, T: Store>(a: S, b: T) {
    use crate::{NewEntry, SiteRecords, TARGET_NOT_EMPTY};
    let (sa, sb) = (ubn(SELLER_A), ubn(SELLER_B));
    ok_one(&a, &Scope::All, allocation(SELLER_A)).await;
    // A cancel held before its invoice, then the invoice: status cancelled.
    ok_one(&a, &Scope::All, cancel(SELLER_A, "AB00000002", "typo")).await;
    for (n, r, t) in [
        ("AB00000001", "1111", 10),
        ("AB00000002", "2222", 20),
        ("AB00000003", "3333", 30),
    ] {
        ok_one(&a, &Scope::All, invoice(SELLER_A, n, r, t)).await;
    }
    a.append_event(NewEntry {
        kind: "ADMIN".into(),
        key: "seller/04595257".into(),
        actor: "operator:alice".into(),
        body: br#"{"action":"put_seller"}"#.to_vec(),
    })
    .await
    .expect("event");
    a.put_seller(crate::SellerRecord {
        ubn: sa,
        name: "Shop".into(),
        qr_key_sealed: Some(vec![9; 8]),
    })
    .await
    .expect("seller");
    a.put_api_key(crate::ApiKeyRecord {
        key_id: "K1".into(),
        secret_sealed: vec![1, 2, 3],
        sellers: vec![sa, sb],
        disabled: false,
        created_unix: 1,
    })
    .await
    .expect("key");
    let view = a
        .invoice(&Scope::All, sa, num("AB00000001"))
        .await
        .expect("read")
        .expect("there");
    let carrier = view.summary.carrier.clone().expect("carrier");
    a.put_carrier(crate::CarrierRecord {
        carrier: carrier.clone(),
        verification_hash: "$argon2id$v=19$x".into(),
        failures: 2,
        locked_until: 0,
    })
    .await
    .expect("carrier");
    a.put_app(crate::AppRecord {
        app_id: "APP1".into(),
        api_key_sealed: vec![4, 5],
        name: "App".into(),
        disabled: false,
    })
    .await
    .expect("app");
    a.put_operator(crate::OperatorRecord {
        name: "alice".into(),
        password_hash: "$argon2id$v=19$y".into(),
        totp_sealed: vec![6],
        roles: vec![crate::Role::Operator],
        last_totp_step: 7,
        failures: 0,
        locked_until: 0,
        created_by: None,
        disabled: false,
        held_password_hash: None,
        sessions_not_before_unix: 0,
        enrolment: None,
    })
    .await
    .expect("operator");
    for version in [1, 2] {
        a.put_winning_numbers(crate::WinningNumbersRecord {
            period: period(),
            version,
            body: serde_json::json!({"special": "12345678"}),
            entered_by: "alice".into(),
            approved_by: None,
            reason: None,
            entered_from: None,
        })
        .await
        .expect("winning numbers");
    }
    // The draw: a frozen period, its winners (a carrier's and a donated
    // prize; the load enqueues notifications), a bank account, and one
    // notification failed once, another delivered.
    let freeze = crate::DrawFreeze {
        period: period(),
        root: "ab".repeat(32),
        rows: 3,
        actor: "alice".into(),
    };
    a.put_draw_freeze(freeze.clone(), freeze_entry(&freeze))
        .await
        .expect("freeze");
    let load = crate::WinnersLoad {
        period: period(),
        actor: "alice".into(),
        winners: sample_winners(),
    };
    a.put_winners(load.clone(), winners_entry(&load))
        .await
        .expect("winners");
    let account = crate::BankAccountRecord {
        carrier: "3J0002:/ABC+123".into(),
        sealed: vec![7, 0, 255, 3],
        masked: "***1234".into(),
        bank_code: "812".into(),
        updated_unix: 11,
    };
    a.put_bank_account(account.clone()).await.expect("account");
    // Only the lease holder marks: claim (a one-second lease), then mark.
    assert_eq!(
        a.outbox_claim(0, 100, 1, "w").await.expect("claim").len(),
        3
    );
    fail_0_deliver_1(&a).await;

    // Export.
    let origins = a.origins().await.expect("origins");
    assert_eq!(origins, vec![a.site().to_string()]);
    let records: SiteRecords = a.export_records().await.expect("records");
    assert_eq!(
        (
            records.sellers.len(),
            records.api_keys.len(),
            records.carriers.len(),
            records.apps.len(),
            records.operators.len(),
            records.winning_numbers.len()
        ),
        (1, 1, 1, 1, 1, 2)
    );
    assert_eq!(records.draw_freezes, std::slice::from_ref(&freeze));
    assert_eq!(records.winner_loads.len(), 1);
    assert_eq!(records.winner_loads[0].winners, load.winners);
    assert_eq!(records.bank_accounts, std::slice::from_ref(&account));
    let state: Vec<(&str, u32, i64, Option<i64>)> = records
        .outbox
        .iter()
        .map(|o| {
            (
                o.item.id.as_str(),
                o.item.attempts,
                o.item.next_unix,
                o.delivered_unix,
            )
        })
        .collect();
    assert_eq!(
        state,
        [
            ("winner/11402/0", 1, 100, None),
            ("winner/11402/1", 0, 0, Some(5)),
            ("winner/11402/3", 0, 0, None)
        ]
    );
    assert_eq!(records.len(), 7 + 1 + 1 + 4 + 1 + 3);
    let entries = a.entries(a.site(), 0, 10_000).await.expect("entries");
    // Five messages, the ADMIN event, the freeze's and the load's entries.
    assert_eq!(entries.len(), 8);
    let kinds: Vec<&str> = entries[5..].iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["ADMIN", "DRAW_FREEZE", "DRAW_WINNERS"]);

    // Winner lines that do not match their summary are refused, and nothing is written.
    let mut tampered = records.clone();
    tampered.winner_loads[0].winners[0].payable = 0;
    let err = b
        .import_site(tampered, entries.clone())
        .await
        .expect_err("winners do not match their summary");
    assert!(err.to_string().contains("do not match"), "{err}");
    assert!(b.origins().await.expect("origins").is_empty());
    assert!(b.export_records().await.expect("records").is_empty());

    // Import.
    b.import_site(records.clone(), entries.clone())
        .await
        .expect("import");
    assert_eq!(
        b.entries(a.site(), 0, 10_000).await.expect("entries"),
        entries
    );
    assert_eq!(b.export_records().await.expect("records"), records);
    assert_eq!(
        b.verify_ledger(a.site()).await.expect("verify"),
        a.verify_ledger(a.site()).await.expect("verify")
    );
    for n in ["AB00000001", "AB00000002", "AB00000003", "AB00000004"] {
        assert_eq!(
            b.invoice(&Scope::All, sa, num(n)).await.expect("b"),
            a.invoice(&Scope::All, sa, num(n)).await.expect("a"),
            "{n}"
        );
    }
    let status = b
        .invoice(&Scope::All, sa, num("AB00000002"))
        .await
        .expect("b")
        .map(|v| v.summary.status);
    assert_eq!(status, Some(InvoiceStatus::Cancelled));
    assert_eq!(
        b.list_invoices(&Scope::All, sa, period(), None, 100)
            .await
            .expect("b"),
        a.list_invoices(&Scope::All, sa, period(), None, 100)
            .await
            .expect("a")
    );
    assert_eq!(
        b.tracks(&Scope::All, sa, period()).await.expect("b"),
        a.tracks(&Scope::All, sa, period()).await.expect("a")
    );
    assert_eq!(
        b.blanks(&Scope::All, sa, period()).await.expect("b"),
        a.blanks(&Scope::All, sa, period()).await.expect("a")
    );
    assert_eq!(
        b.carrier_invoices(&carrier, period()).await.expect("b"),
        a.carrier_invoices(&carrier, period()).await.expect("a")
    );
    // The import path projects the carrier read path as the append path did.
    assert_eq!(
        b.carrier_invoice_rows(&carrier, period()).await.expect("b"),
        a.carrier_invoice_rows(&carrier, period()).await.expect("a")
    );
    let random = RandomNumber::parse("3333").expect("r");
    assert_eq!(
        b.lookup_invoice(num("AB00000003"), random)
            .await
            .expect("b"),
        a.lookup_invoice(num("AB00000003"), random)
            .await
            .expect("a")
    );
    assert_eq!(
        b.winning_numbers(period()).await.expect("b"),
        a.winning_numbers(period()).await.expect("a")
    );
    assert_eq!(b.operator_count().await.expect("b"), 1);
    assert_eq!(
        b.draw_freeze(period()).await.expect("b"),
        a.draw_freeze(period()).await.expect("a")
    );
    assert_eq!(b.draw_freeze(period()).await.expect("b"), Some(freeze));
    let summary = b.winners_summary(period()).await.expect("b");
    assert_eq!(summary, a.winners_summary(period()).await.expect("a"));
    assert_eq!(summary.map(|s| s.digest), Some(load.digest()));
    assert_eq!(
        b.winners(period(), None, 100).await.expect("b"),
        a.winners(period(), None, 100).await.expect("a")
    );
    assert_eq!(
        b.winners(period(), Some(1), 100).await.expect("b"),
        a.winners(period(), Some(1), 100).await.expect("a")
    );
    let donated = b.winners(period(), Some(1), 1).await.expect("b");
    assert_eq!(donated[0].npo.as_deref(), Some("919"));
    let cw = b.carrier_winnings(&carrier, period()).await.expect("b");
    assert_eq!(cw, a.carrier_winnings(&carrier, period()).await.expect("a"));
    assert_eq!(cw, load.winners[..2]);
    assert_eq!(
        b.bank_account(&account.carrier).await.expect("b"),
        Some(account)
    );
    // Leases are not exported (a claim is the claiming node's business):
    // once `a`'s lease has ended, both claim the same items.
    for now in [1, 99, 100] {
        assert_eq!(
            b.outbox_claim(now, 100, 1, "x").await.expect("b"),
            a.outbox_claim(now, 100, 1, "x").await.expect("a"),
            "due at {now}"
        );
    }
    // The load is the same: loading it again changes nothing.
    assert_eq!(
        b.put_winners(load.clone(), winners_entry(&load))
            .await
            .expect("again"),
        crate::DrawPut::Unchanged
    );

    // The imported site goes on where the original stopped; duplicates are still recognised.
    let again = b
        .append(
            &Scope::All,
            "test",
            vec![invoice(SELLER_A, "AB00000001", "1111", 10)],
        )
        .await
        .expect("dup");
    assert!(matches!(&again[..], [Ok(r)] if r.duplicate && r.seq == entries[2].seq));
    let next = ok_one(&b, &Scope::All, invoice(SELLER_A, "AB00000004", "4444", 40)).await;
    assert_eq!(next.seq, 9);
    let verdict = b.verify_ledger(b.site()).await.expect("verify");
    assert_eq!((verdict.entries, verdict.broken), (9, None));

    // A second import into the now non-empty store is refused, and changes nothing.
    let err = b
        .import_site(records, entries)
        .await
        .expect_err("non-empty target");
    assert!(err.to_string().contains(TARGET_NOT_EMPTY), "{err}");
    assert_eq!(b.verify_ledger(b.site()).await.expect("verify").entries, 9);
}

/// An import is refused by a store that holds only draw data (a frozen
/// period or loaded winners with their notifications — each with its ledger
/// entry, which the import finds first — or a bank account), and leaves
/// that data as it was.
pub async fn import_refuses_draw_data<S: Store>(frozen: S, loaded: S, banked: S) {
    use crate::{SiteRecords, TARGET_NOT_EMPTY};
    let freeze = crate::DrawFreeze {
        period: period(),
        root: "ab".repeat(32),
        rows: 2,
        actor: "alice".into(),
    };
    frozen
        .put_draw_freeze(freeze.clone(), freeze_entry(&freeze))
        .await
        .expect("freeze");
    let load = crate::WinnersLoad {
        period: period(),
        actor: "alice".into(),
        winners: sample_winners(),
    };
    loaded
        .put_winners(load.clone(), winners_entry(&load))
        .await
        .expect("winners");
    let account = crate::BankAccountRecord {
        carrier: "3J0002:/ABC+123".into(),
        sealed: vec![1, 2, 3],
        masked: "***1234".into(),
        bank_code: "812".into(),
        updated_unix: 1,
    };
    banked
        .put_bank_account(account.clone())
        .await
        .expect("account");
    for (s, what) in [
        (&frozen, "ledger entries"),
        (&loaded, "ledger entries"),
        (&banked, "bank accounts"),
    ] {
        let err = s
            .import_site(SiteRecords::default(), Vec::new())
            .await
            .expect_err("non-empty target");
        let m = err.to_string();
        assert!(m.contains(TARGET_NOT_EMPTY) && m.contains(what), "{m}");
    }
    assert_eq!(
        frozen.draw_freeze(period()).await.expect("read"),
        Some(freeze)
    );
    assert_eq!(
        loaded
            .winners(period(), None, 100)
            .await
            .expect("read")
            .len(),
        4
    );
    assert_eq!(
        loaded
            .outbox_claim(0, 100, 60, "w")
            .await
            .expect("claim")
            .len(),
        3
    );
    assert_eq!(
        banked.bank_account(&account.carrier).await.expect("read"),
        Some(account)
    );
}
