//! The carrier lifecycle's storage: the NPO directory and donations of
//! carrier invoices (one transaction with their `DONATION` entry; a refusal
//! writes nothing; a frozen period refuses).

use super::fixtures::{SELLER_A, allocation, cancel, freeze_entry, invoice, ok_one, period};
use crate::{DonationOutcome, DonationRefusal, InvoiceDonation, NpoRecord, Scope, Store};
use einvoice_core::time::{Date, Month};
use einvoice_core::{Carrier, CarrierType, InvoiceNumber, LoveCode, Ubn};

fn npo(code: &str, name: &str) -> NpoRecord {
    NpoRecord {
        love_code: LoveCode::parse(code).unwrap_or_else(|e| panic!("{e:?}")),
        name: name.into(),
        ubn: Ubn::parse("12345676").unwrap_or_else(|e| panic!("{e:?}")),
    }
}

fn donation(number: &str, code: &str) -> InvoiceDonation {
    InvoiceDonation {
        carrier: Carrier::parse(CarrierType::MobileBarcode, "/ABC+123")
            .unwrap_or_else(|e| panic!("{e:?}")),
        number: InvoiceNumber::parse(number).unwrap_or_else(|e| panic!("{e:?}")),
        date: Date::from_calendar_date(2025, Month::January, 15)
            .unwrap_or_else(|e| panic!("{e:?}")),
        love_code: LoveCode::parse(code).unwrap_or_else(|e| panic!("{e:?}")),
        actor: "carrier:3J0002:/ABC+123".into(),
    }
}

async fn entry_count<S: Store>(s: &S) -> usize {
    s.entries(s.site(), 0, 10_000).await.expect("entries").len()
}

/// NPOs are put (with their `NPO` entry), replaced, found by code prefix
/// and by name part.
pub async fn npo_directory<S: Store>(s: S) {
    let before = entry_count(&s).await;
    let a = npo("919", "Children Fund");
    let r = s
        .put_npo(a.clone(), a.ledger_entry("operator:alice"))
        .await
        .expect("put");
    assert_eq!(r.kind, "NPO");
    let b = npo("9190", "Elder Care");
    s.put_npo(b.clone(), b.ledger_entry("operator:alice"))
        .await
        .expect("put");
    let a2 = npo("919", "Children Fund Taiwan");
    s.put_npo(a2.clone(), a2.ledger_entry("operator:alice"))
        .await
        .expect("put");
    assert_eq!(entry_count(&s).await, before + 3);
    assert_eq!(s.npo(&a.love_code).await.expect("npo"), Some(a2.clone()));
    let codes = |v: Vec<NpoRecord>| {
        v.into_iter()
            .map(|n| n.love_code.as_str().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        codes(s.find_npos("91", 10).await.expect("find")),
        ["919", "9190"]
    );
    assert_eq!(
        codes(s.find_npos("9190", 10).await.expect("find")),
        ["9190"]
    );
    assert_eq!(
        codes(s.find_npos("elder", 10).await.expect("find")),
        ["9190"]
    );
    assert_eq!(
        codes(s.find_npos("%", 10).await.expect("find")),
        Vec::<String>::new()
    );
    assert_eq!(codes(s.find_npos("91", 1).await.expect("find")), ["919"]);
}

/// A donation writes its entry and the love code the draw reads; refusals
/// write nothing; a frozen period refuses.
pub async fn donations<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    for n in ["AB00000001", "AB00000002", "AB00000003"] {
        ok_one(&s, &Scope::All, invoice(SELLER_A, n, "1234", 100)).await;
    }
    ok_one(&s, &Scope::All, cancel(SELLER_A, "AB00000003", "wrong")).await;
    let n = npo("919", "Children Fund");
    s.put_npo(n.clone(), n.ledger_entry("operator:alice"))
        .await
        .expect("put");
    let before = entry_count(&s).await;
    let refused = |o: DonationOutcome| match o {
        DonationOutcome::Refused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let out = s
        .donate_invoice(donation("AB00000001", "4321"))
        .await
        .expect("donate");
    assert_eq!(refused(out), DonationRefusal::UnknownLoveCode);
    let out = s
        .donate_invoice(donation("AB00000009", "919"))
        .await
        .expect("donate");
    assert_eq!(refused(out), DonationRefusal::NotFound);
    let mut other = donation("AB00000001", "919");
    other.carrier =
        Carrier::parse(CarrierType::MobileBarcode, "/XYZ+999").unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        refused(s.donate_invoice(other).await.expect("donate")),
        DonationRefusal::NotFound
    );
    let out = s
        .donate_invoice(donation("AB00000003", "919"))
        .await
        .expect("donate");
    assert_eq!(refused(out), DonationRefusal::NotDonatable);
    assert_eq!(entry_count(&s).await, before, "refusals write nothing");

    match s
        .donate_invoice(donation("AB00000001", "919"))
        .await
        .expect("donate")
    {
        DonationOutcome::Donated { receipt, seller } => {
            assert_eq!(receipt.kind, "DONATION");
            assert_eq!(seller.as_str(), SELLER_A);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(entry_count(&s).await, before + 1);
    let out = s
        .donate_invoice(donation("AB00000001", "919"))
        .await
        .expect("donate");
    assert_eq!(refused(out), DonationRefusal::AlreadyDonated);
    let rows = s
        .eligible_invoices(period(), None, 100)
        .await
        .expect("eligible");
    let npo_of = |n: &str| {
        rows.iter()
            .find(|r| r.number == n)
            .and_then(|r| r.donated_to.clone())
    };
    assert_eq!(npo_of("AB00000001").as_deref(), Some("919"));
    assert_eq!(npo_of("AB00000002"), None);

    let f = crate::DrawFreeze {
        period: period(),
        root: "ab".repeat(32),
        rows: 2,
        actor: "alice".into(),
    };
    s.put_draw_freeze(f.clone(), freeze_entry(&f))
        .await
        .expect("freeze");
    let after_freeze = entry_count(&s).await;
    let out = s
        .donate_invoice(donation("AB00000002", "919"))
        .await
        .expect("donate");
    assert_eq!(refused(out), DonationRefusal::PeriodClosed);
    assert_eq!(entry_count(&s).await, after_freeze);
}

/// Exported and imported, a site keeps its NPO directory and its donations:
/// both are rebuilt from their ledger entries.
pub async fn carrier_life_survives_export_import<S: Store, T: Store>(a: S, b: T) {
    ok_one(&a, &Scope::All, allocation(SELLER_A)).await;
    ok_one(
        &a,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 100),
    )
    .await;
    let n = npo("919", "Children Fund");
    a.put_npo(n.clone(), n.ledger_entry("operator:alice"))
        .await
        .expect("put");
    let out = a
        .donate_invoice(donation("AB00000001", "919"))
        .await
        .expect("donate");
    assert!(matches!(out, DonationOutcome::Donated { .. }), "{out:?}");
    let issuer =
        crate::CardIssuerRecord::new("822", "Harbour Bank", ["540520", "41476600"]).expect("row");
    a.put_card_issuer(issuer.clone(), issuer.ledger_entry("operator:alice"))
        .await
        .expect("put issuer");
    assert_eq!(
        a.card_issuers().await.expect("issuers"),
        vec![issuer.clone()]
    );
    let records = a.export_records().await.expect("export");
    let mut entries = Vec::new();
    for origin in a.origins().await.expect("origins") {
        entries.extend(a.entries(&origin, 0, 10_000).await.expect("entries"));
    }
    b.import_site(records, entries).await.expect("import");
    assert_eq!(b.npo(&n.love_code).await.expect("npo"), Some(n));
    assert_eq!(
        b.card_issuers().await.expect("issuers"),
        vec![issuer],
        "the card issuer directory is rebuilt from its CARD_ISSUER entries"
    );
    let rows = b
        .eligible_invoices(period(), None, 100)
        .await
        .expect("eligible");
    assert_eq!(
        rows.first().and_then(|r| r.donated_to.as_deref()),
        Some("919")
    );
}
