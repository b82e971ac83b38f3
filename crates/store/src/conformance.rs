//! The conformance suite every [`crate::Store`] implementation runs.
//!
//! Written against the trait only. A backend crate instantiates it with
//! [`store_conformance!`](crate::store_conformance), passing an async
//! expression that yields a fresh, empty store; each case is one test.

use crate::{InvoiceStatus, Rejection, Scope, Store};
use einvoice_core::{InvoiceNumber, Period, RandomNumber, Rules, Ubn, Validated, validate};

/// Seller A (a valid UBN).
pub const SELLER_A: &str = "04595257";
/// Seller B (a valid UBN).
pub const SELLER_B: &str = "12345676";

fn ubn(s: &str) -> Ubn {
    Ubn::parse(s).unwrap_or_else(|e| panic!("test UBN {s}: {e:?}"))
}

fn v(json: &str) -> Validated {
    let m = einvoice_mig::decode_json(json.as_bytes())
        .unwrap_or_else(|e| panic!("decode: {e}\n{json}"));
    validate(&m, &Rules::production()).unwrap_or_else(|e| panic!("validate: {e:?}\n{json}"))
}

/// An E0401 giving `seller` numbers AB00000000–AB00000999 in period 11402.
pub fn allocation(seller: &str) -> Validated {
    v(&format!(
        r#"{{"message":"E0401","Main":{{"HeadBan":"{seller}","BranchBan":"{seller}","InvoiceType":"07","YearMonth":"11402","InvoiceTrack":"AB","InvoiceBeginNo":"00000000","InvoiceEndNo":"00000999"}},
        "Details":[{{"InvoiceBeginNo":"00000000","InvoiceEndNo":"00000999","InvoiceBooklet":"20"}}]}}"#
    ))
}

/// A B2C F0401 on mobile barcode `/ABC+123` for NT$`total`.
pub fn invoice(seller: &str, number: &str, random: &str, total: u32) -> Validated {
    v(&format!(
        r#"{{"message":"F0401","Main":{{"InvoiceNumber":"{number}","InvoiceDate":"20250115","InvoiceTime":"10:00:00",
        "Seller":{{"Identifier":"{seller}","Name":"Shop","Address":"Taipei"}},"Buyer":{{"Identifier":"0000000000","Name":"0000"}},
        "InvoiceType":"07","DonateMark":"0","CarrierType":"3J0002","CarrierId1":"/ABC+123","CarrierId2":"/ABC+123","PrintMark":"N","RandomNumber":"{random}"}},
        "Details":[{{"Description":"Tea","Quantity":"1","UnitPrice":"{total}","TaxType":"1","Amount":"{total}","SequenceNumber":"1"}}],
        "Amount":{{"SalesAmount":"{total}","FreeTaxSalesAmount":"0","ZeroTaxSalesAmount":"0","TaxType":"1","TaxRate":"0.05","TaxAmount":"0","TotalAmount":"{total}"}}}}"#
    ))
}

/// An F0501 cancelling `number` (issued 2025-01-15).
pub fn cancel(seller: &str, number: &str, reason: &str) -> Validated {
    v(&format!(
        r#"{{"message":"F0501","CancelInvoiceNumber":"{number}","InvoiceDate":"20250115","BuyerId":"0000000000","SellerId":"{seller}","CancelDate":"20250116","CancelTime":"09:00:00","CancelReason":"{reason}"}}"#
    ))
}

fn period() -> Period {
    Period::parse("11402").unwrap_or_else(|e| panic!("{e:?}"))
}

fn num(s: &str) -> InvoiceNumber {
    InvoiceNumber::parse(s).unwrap_or_else(|e| panic!("{e:?}"))
}

async fn ok_one<S: Store>(s: &S, scope: &Scope, m: Validated) -> crate::Receipt {
    let mut out = s.append(scope, "test", vec![m]).await.expect("append");
    out.remove(0).unwrap_or_else(|r| panic!("rejected: {r:?}"))
}

async fn rejected<S: Store>(s: &S, scope: &Scope, m: Validated) -> Rejection {
    let mut out = s.append(scope, "test", vec![m]).await.expect("append");
    match out.remove(0) {
        Ok(r) => panic!("expected a rejection, got {r:?}"),
        Err(r) => r,
    }
}

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

/// A retry is safe; a different message under the same key is a conflict naming the original.
pub async fn idempotency<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    let first = ok_one(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 100),
    )
    .await;
    let again = ok_one(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 100),
    )
    .await;
    assert!(again.duplicate);
    assert_eq!((again.seq, again.hash), (first.seq, first.hash));
    let conflict = rejected(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 999),
    )
    .await;
    assert_eq!(conflict.code, "DUPLICATE_CONFLICT");
    assert_eq!(conflict.original.as_ref().map(|r| r.seq), Some(first.seq));
    // Inside one batch too.
    let out = s
        .append(
            &Scope::All,
            "t",
            vec![
                invoice(SELLER_A, "AB00000002", "1111", 5),
                invoice(SELLER_A, "AB00000002", "1111", 5),
            ],
        )
        .await
        .expect("batch");
    let (a, b) = (
        out[0].clone().expect("first"),
        out[1].clone().expect("second"),
    );
    assert!(!a.duplicate && b.duplicate && a.seq == b.seq);
    assert_eq!(s.entries(s.site(), 0, 100).await.expect("entries").len(), 3);
}

/// Numbers must come from the seller's own allocation.
pub async fn tracks_and_blanks<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    let outside = rejected(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AC00000001", "1234", 100),
    )
    .await;
    assert_eq!(outside.code, "NUMBER_OUTSIDE_TRACK");
    let other = rejected(
        &s,
        &Scope::All,
        invoice(SELLER_B, "AB00000001", "1234", 100),
    )
    .await;
    assert_eq!(other.code, "NUMBER_OUTSIDE_TRACK");
    assert_eq!(
        rejected(&s, &Scope::All, allocation(SELLER_B)).await.code,
        "TRACK_OVERLAP"
    );
    for n in ["AB00000000", "AB00000001", "AB00000005"] {
        ok_one(&s, &Scope::All, invoice(SELLER_A, n, "1234", 10)).await;
    }
    let a = Scope::sellers([ubn(SELLER_A)]);
    let t = s.tracks(&a, ubn(SELLER_A), period()).await.expect("tracks");
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].begin, t[0].end), (0, 999));
    let b = s.blanks(&a, ubn(SELLER_A), period()).await.expect("blanks");
    let spans: Vec<(u32, u32)> = b.iter().map(|r| (r.begin, r.end)).collect();
    assert_eq!(spans, vec![(2, 4), (6, 999)]);
}

/// No tenant reads or writes another's data; an integrator sees what it was granted.
pub async fn tenant_matrix<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    let a = Scope::sellers([ubn(SELLER_A)]);
    let b = Scope::sellers([ubn(SELLER_B)]);
    let both = Scope::sellers([ubn(SELLER_A), ubn(SELLER_B)]);
    assert_eq!(
        rejected(&s, &b, invoice(SELLER_A, "AB00000001", "1234", 100))
            .await
            .code,
        "TENANT_SCOPE"
    );
    ok_one(&s, &a, invoice(SELLER_A, "AB00000001", "1234", 100)).await;
    let (sa, n) = (ubn(SELLER_A), num("AB00000001"));
    for (scope, visible) in [(&a, true), (&b, false), (&both, true), (&Scope::All, true)] {
        assert_eq!(
            s.invoice(scope, sa, n).await.expect("invoice").is_some(),
            visible
        );
        assert_eq!(
            !s.invoice_history(scope, sa, n)
                .await
                .expect("history")
                .is_empty(),
            visible
        );
        assert_eq!(
            !s.list_invoices(scope, sa, period(), None, 10)
                .await
                .expect("list")
                .is_empty(),
            visible
        );
        assert_eq!(
            !s.tracks(scope, sa, period())
                .await
                .expect("tracks")
                .is_empty(),
            visible
        );
        assert_eq!(
            !s.blanks(scope, sa, period())
                .await
                .expect("blanks")
                .is_empty(),
            visible
        );
    }
}

/// Cancel after issue; cancel before issue is held and applied on arrival; citizens and the public find invoices.
pub async fn lifecycle_and_queries<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    ok_one(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 100),
    )
    .await;
    ok_one(&s, &Scope::All, cancel(SELLER_A, "AB00000001", "typo")).await;
    let sa = ubn(SELLER_A);
    let v = s
        .invoice(&Scope::All, sa, num("AB00000001"))
        .await
        .expect("read")
        .expect("there");
    assert_eq!(v.summary.status, InvoiceStatus::Cancelled);
    assert_eq!(
        v.message
            .as_ref()
            .and_then(|m| m["Main"]["InvoiceNumber"].as_str()),
        Some("AB00000001")
    );
    // Held cancel.
    ok_one(&s, &Scope::All, cancel(SELLER_A, "AB00000002", "early")).await;
    assert!(
        s.invoice(&Scope::All, sa, num("AB00000002"))
            .await
            .expect("read")
            .is_none()
    );
    ok_one(&s, &Scope::All, invoice(SELLER_A, "AB00000002", "2222", 50)).await;
    let v = s
        .invoice(&Scope::All, sa, num("AB00000002"))
        .await
        .expect("read")
        .expect("there");
    assert_eq!(v.summary.status, InvoiceStatus::Cancelled);
    ok_one(&s, &Scope::All, invoice(SELLER_A, "AB00000003", "3333", 70)).await;
    let carrier = v.summary.carrier.clone().expect("carrier");
    let on = s
        .carrier_invoices(&carrier, period())
        .await
        .expect("carrier");
    assert_eq!(on.len(), 3);
    let found = s
        .lookup_invoice(num("AB00000003"), RandomNumber::parse("3333").expect("r"))
        .await
        .expect("lookup");
    assert_eq!(found.map(|v| v.summary.total), Some(70));
    let wrong = s
        .lookup_invoice(num("AB00000003"), RandomNumber::parse("3334").expect("r"))
        .await
        .expect("lookup");
    assert!(wrong.is_none());
    let page1 = s
        .list_invoices(&Scope::All, sa, period(), None, 2)
        .await
        .expect("page");
    let page2 = s
        .list_invoices(&Scope::All, sa, period(), Some(page1[1].number), 2)
        .await
        .expect("page");
    assert_eq!(page1.len() + page2.len(), 3);
    assert_eq!(
        s.invoice_history(&Scope::All, sa, num("AB00000001"))
            .await
            .expect("h")
            .len(),
        2
    );
}

/// Nonces are single-use; records round-trip.
pub async fn nonces_and_records<S: Store>(s: S) {
    let far = 4_000_000_000;
    assert!(s.remember_nonce("K1", "n1", far).await.expect("nonce"));
    assert!(!s.remember_nonce("K1", "n1", far).await.expect("replay"));
    assert!(s.remember_nonce("K2", "n1", far).await.expect("other key"));
    let key = crate::ApiKeyRecord {
        key_id: "K1".into(),
        secret_sealed: vec![1, 2, 3],
        sellers: vec![ubn(SELLER_A)],
        disabled: false,
        created_unix: 1,
    };
    s.put_api_key(key.clone()).await.expect("put");
    assert_eq!(s.api_key("K1").await.expect("get"), Some(key));
    assert_eq!(s.api_key("nope").await.expect("get"), None);
    assert_eq!(s.operator_count().await.expect("count"), 0);
    s.ping().await.expect("ping");
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

// ---- export / import ----

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

/// Test winner lines: two on the conformance carrier, one donated.
pub fn sample_winners() -> Vec<crate::WinnerRecord> {
    let w = |line: u64,
             number: &str,
             prize: &str,
             amount: i64,
             payable: i64,
             carrier: Option<&str>,
             npo: Option<&str>| crate::WinnerRecord {
        line,
        invoice_number: number.into(),
        seller: SELLER_A.into(),
        prize: prize.into(),
        amount,
        payable,
        carrier: carrier.map(String::from),
        npo: npo.map(String::from),
    };
    vec![
        w(
            0,
            "AB00000001",
            "sixth",
            200,
            200,
            Some("3J0002:/ABC+123"),
            None,
        ),
        w(
            1,
            "AB00000001",
            "cloud_500",
            500,
            500,
            Some("3J0002:/ABC+123"),
            None,
        ),
        w(2, "AB00000007", "fifth", 1000, 1000, None, Some("919")),
        w(
            3,
            "AB00000009",
            "sixth",
            200,
            200,
            Some("3J0002:/XYZ+999"),
            None,
        ),
    ]
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

fn ids_of(v: Vec<crate::OutboxItem>) -> Vec<String> {
    v.into_iter().map(|n| n.id).collect()
}

/// `n` payable sixth-prize lines of [`SELLER_A`], all on one carrier (so a
/// load of them enqueues `n` notifications, ids `winner/<period>/0` … in
/// line order).
pub fn carrier_winner_lines(n: u64) -> Vec<crate::WinnerRecord> {
    (0..n)
        .map(|line| crate::WinnerRecord {
            line,
            invoice_number: format!("AB{:08}", line + 1),
            seller: SELLER_A.into(),
            prize: "sixth".into(),
            amount: 200,
            payable: 200,
            carrier: Some("3J0002:/ABC+123".into()),
            npo: None,
        })
        .collect()
}

/// A winners load of [`carrier_winner_lines`] for the suite's period.
fn many_winners(n: u64) -> crate::WinnersLoad {
    crate::WinnersLoad {
        period: period(),
        actor: "alice".into(),
        winners: carrier_winner_lines(n),
    }
}

/// Concurrent claimers at the same instant get disjoint items: together they
/// take every due item exactly once, and while the leases run nobody else
/// gets any.
pub async fn outbox_claims_are_disjoint<S: Store>(s: S) {
    assert_eq!(
        load_winners(&s, many_winners(60)).await,
        crate::DrawPut::Stored
    );
    let mut tasks = Vec::new();
    for w in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            claim_until_empty(&s, &format!("w{w}"), 7).await
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let mut ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    let mut want: Vec<String> = (0..60).map(|l| format!("winner/11402/{l}")).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "every item claimed exactly once");
    for now in [1000, 1059] {
        assert!(
            s.outbox_claim(now, 100, 60, "late")
                .await
                .expect("claim")
                .is_empty(),
            "leased at {now}"
        );
    }
    // Each item is marked by its own claimer only.
    for (id, worker) in &all {
        let other = if worker == "w0" { "w1" } else { "w0" };
        let done = crate::OutboxOutcome::Delivered { at_unix: 1001 };
        assert!(!s.outbox_mark(id, other, done.clone()).await.expect("mark"));
        assert!(s.outbox_mark(id, worker, done).await.expect("mark"));
    }
    assert!(
        s.outbox_claim(i64::MAX, 100, 60, "late")
            .await
            .expect("claim")
            .is_empty(),
        "all delivered"
    );
}

/// A lease ends: the items of a worker that never marked them (it crashed)
/// are claimable again; its late mark is then refused and changes nothing,
/// while a late mark of an item nobody claimed again still applies.
pub async fn outbox_lease_expiry<S: Store>(s: S) {
    use crate::OutboxOutcome::{Delivered, Failed};
    let failed = |next_unix: i64, error: &str| Failed {
        next_unix,
        error: error.into(),
    };
    load_winners(
        &s,
        crate::WinnersLoad {
            period: period(),
            actor: "alice".into(),
            winners: sample_winners(),
        },
    )
    .await;
    assert_eq!(s.outbox_claim(0, 100, 30, "a").await.expect("a").len(), 3);
    assert!(
        s.outbox_claim(29, 100, 30, "b")
            .await
            .expect("b")
            .is_empty()
    );
    let b = s.outbox_claim(30, 1, 30, "b").await.expect("b");
    assert_eq!(ids_of(b.clone()), ["winner/11402/0"]);
    assert_eq!(b[0].attempts, 0);
    // `a` comes back: its outcome for the re-claimed item is refused.
    assert!(
        !s.outbox_mark("winner/11402/0", "a", Delivered { at_unix: 31 })
            .await
            .expect("mark")
    );
    assert!(
        s.outbox_mark("winner/11402/0", "b", failed(40, "HTTP 503"))
            .await
            .expect("mark")
    );
    // The mark ended `b`'s lease: a second mark is refused too.
    assert!(
        !s.outbox_mark("winner/11402/0", "b", Delivered { at_unix: 32 })
            .await
            .expect("mark")
    );
    // Nobody claimed /1 again: `a` is still its holder, late or not.
    assert!(
        s.outbox_mark("winner/11402/1", "a", failed(50, "HTTP 500"))
            .await
            .expect("mark")
    );
    assert_eq!(
        ids_of(s.outbox_claim(39, 100, 30, "c").await.expect("c")),
        ["winner/11402/3"]
    );
    let c = s.outbox_claim(40, 100, 30, "c").await.expect("c");
    assert_eq!(ids_of(c.clone()), ["winner/11402/0"]);
    assert_eq!(c[0].attempts, 1);
    assert!(
        s.outbox_mark("winner/11402/0", "c", Delivered { at_unix: 41 })
            .await
            .expect("mark")
    );
    assert!(
        !s.outbox_mark("winner/11402/0", "c", Delivered { at_unix: 42 })
            .await
            .expect("mark"),
        "delivered stays delivered"
    );
    assert!(
        !s.outbox_mark("winner/11402/9", "c", Delivered { at_unix: 42 })
            .await
            .expect("mark"),
        "unknown"
    );
    let state: Vec<(String, u32, i64, Option<i64>)> = s
        .export_records()
        .await
        .expect("records")
        .outbox
        .into_iter()
        .map(|o| {
            (
                o.item.id,
                o.item.attempts,
                o.item.next_unix,
                o.delivered_unix,
            )
        })
        .collect();
    assert_eq!(
        state,
        [
            ("winner/11402/0".to_string(), 1, 40, Some(41)),
            ("winner/11402/1".to_string(), 1, 50, None),
            ("winner/11402/3".to_string(), 0, 0, None),
        ]
    );
    // Later still, every lease has ended: what is left is due again.
    assert_eq!(
        ids_of(s.outbox_claim(1000, 100, 30, "d").await.expect("d")),
        ["winner/11402/3", "winner/11402/1"]
    );
}

/// A failed item waits for the next attempt its worker chose (the backoff)
/// and comes back with its failed attempts counted; a delivered one never
/// comes back.
pub async fn outbox_failed_items_reschedule<S: Store>(s: S) {
    use crate::OutboxOutcome::{Delivered, Failed};
    let failed = |next_unix: i64| Failed {
        next_unix,
        error: "HTTP 500".into(),
    };
    load_winners(
        &s,
        crate::WinnersLoad {
            period: period(),
            actor: "alice".into(),
            winners: sample_winners(),
        },
    )
    .await;
    assert_eq!(s.outbox_claim(0, 100, 600, "w").await.expect("w").len(), 3);
    for (id, outcome) in [
        ("winner/11402/0", failed(10)),
        ("winner/11402/1", failed(30)),
        ("winner/11402/3", Delivered { at_unix: 1 }),
    ] {
        assert!(s.outbox_mark(id, "w", outcome).await.expect("mark"), "{id}");
    }
    // The marks ended the lease; the failed items wait for their schedule.
    assert!(
        s.outbox_claim(9, 100, 600, "w")
            .await
            .expect("w")
            .is_empty()
    );
    let again = s.outbox_claim(10, 100, 600, "w").await.expect("w");
    assert_eq!(ids_of(again.clone()), ["winner/11402/0"]);
    assert_eq!((again[0].attempts, again[0].next_unix), (1, 10));
    assert!(
        s.outbox_mark("winner/11402/0", "w", failed(30))
            .await
            .expect("mark")
    );
    let both = s.outbox_claim(30, 100, 600, "w").await.expect("w");
    let seen: Vec<(&str, u32)> = both.iter().map(|i| (i.id.as_str(), i.attempts)).collect();
    assert_eq!(seen, [("winner/11402/0", 2), ("winner/11402/1", 1)]);
    assert!(
        s.outbox_claim(629, 100, 600, "v")
            .await
            .expect("v")
            .is_empty()
    );
}

/// The ledger entry a freeze is stored with, as `draw freeze` writes it.
pub fn freeze_entry(f: &crate::DrawFreeze) -> crate::NewEntry {
    f.ledger_entry()
}

/// As worker `w` (holding `"winner/11402/0"` and `"winner/11402/1"`): the
/// first fails with HTTP 500 (retry at 100), the second is delivered at 5;
/// both marks must apply.
async fn fail_0_deliver_1<S: Store>(s: &S) {
    let failed = crate::OutboxOutcome::Failed {
        next_unix: 100,
        error: "HTTP 500".into(),
    };
    assert!(
        s.outbox_mark("winner/11402/0", "w", failed)
            .await
            .expect("fail")
    );
    let delivered = crate::OutboxOutcome::Delivered { at_unix: 5 };
    assert!(
        s.outbox_mark("winner/11402/1", "w", delivered)
            .await
            .expect("done")
    );
}

/// Claim at time 1000 (60 s leases, `batch` a claim) as `worker` until
/// nothing is left: (item id, worker) of everything claimed.
pub async fn claim_until_empty<S: Store>(s: &S, worker: &str, batch: u32) -> Vec<(String, String)> {
    let mut got = Vec::new();
    loop {
        let items = s
            .outbox_claim(1000, batch, 60, worker)
            .await
            .expect("claim");
        if items.is_empty() {
            return got;
        }
        got.extend(items.into_iter().map(|i| (i.id, worker.to_string())));
    }
}

/// Load winners with [`winners_entry`] as their ledger entry.
pub async fn load_winners<S: Store>(s: &S, load: crate::WinnersLoad) -> crate::DrawPut {
    let entry = winners_entry(&load);
    s.put_winners(load, entry).await.expect("load")
}

/// The ledger entry a winners load is stored with, as `draw run` writes it
/// (with a fixed run: root, commitment and numbers version are not the
/// store's to check).
pub fn winners_entry(load: &crate::WinnersLoad) -> crate::NewEntry {
    let run = crate::DrawRunFacts {
        snapshot_root: "00".repeat(32),
        commitment: "11".repeat(32),
        numbers_version: 1,
        numbers_approved_by: "bob".into(),
    };
    load.ledger_entry(&run, &load.digest())
}

/// Every entry of the site's ledger, after checking that the chain verifies
/// (what `einvoice ledger verify` checks) and holds exactly them.
async fn verified_ledger<S: Store>(s: &S) -> Vec<crate::LedgerEntry> {
    let entries = s.entries(s.site(), 0, 10_000).await.expect("entries");
    let verdict = s.verify_ledger(s.site()).await.expect("verify");
    assert_eq!(verdict.broken, None);
    assert_eq!(verdict.entries, entries.len() as u64);
    entries
}

/// Entries that are not the record's are refused before anything is
/// written: another kind, key, period or actor, or a body that is not JSON.
fn mismatched(good: &crate::NewEntry) -> Vec<crate::NewEntry> {
    let other = Period::parse("11404").unwrap_or_else(|e| panic!("{e:?}"));
    let with = |f: &dyn Fn(&mut crate::NewEntry)| {
        let mut e = good.clone();
        f(&mut e);
        e
    };
    vec![
        with(&|e| e.kind = "ADMIN".into()),
        with(&|e| e.kind = "F0401".into()),
        with(&|e| e.key = crate::draw_entry_key(other)),
        with(&|e| e.actor = String::new()),
        with(&|e| e.body = b"not json".to_vec()),
        with(&|e| {
            e.body = serde_json::json!({"period": other.to_string()})
                .to_string()
                .into_bytes()
        }),
    ]
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

/// Generate one `#[tokio::test]` per conformance case for a backend. `$make`
/// is an expression evaluating to a future of a fresh, empty store.
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::store_conformance!(@cases $make;
            ledger_chain, idempotency, tracks_and_blanks, tenant_matrix,
            lifecycle_and_queries, nonces_and_records, concurrent_appends,
            draw_eligibility, draw_freeze_once, draw_winners, draw_bank_accounts,
            outbox_claims_are_disjoint, outbox_lease_expiry, outbox_failed_items_reschedule,
            draw_freeze_ledger, draw_winners_ledger);
    };
    (@cases $make:expr; $($case:ident),*) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn export_import_round_trip() {
            $crate::conformance::export_import_round_trip($make.await, $make.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn import_refuses_draw_data() {
            $crate::conformance::import_refuses_draw_data($make.await, $make.await, $make.await)
                .await;
        }
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::$case($make.await).await;
            }
        )*
    };
}
