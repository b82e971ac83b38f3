use super::*;
use crate::model::*;
use proptest::prelude::*;

/// A valid B2C F0401 on a mobile barcode: two taxable items, tax-inclusive.
fn b2c() -> Invoice {
    Invoice {
        main: InvoiceMain {
            invoice_number: "AB12345678".into(),
            invoice_date: "20250115".into(),
            invoice_time: "10:20:30".into(),
            seller: Party {
                identifier: "04595257".into(),
                name: "Seller Co".into(),
                address: Some("Taipei".into()),
                ..Party::default()
            },
            buyer: Party {
                identifier: "0000000000".into(),
                name: "0000".into(),
                ..Party::default()
            },
            invoice_type: "07".into(),
            donate_mark: "0".into(),
            carrier_type: Some("3J0002".into()),
            carrier_id1: Some("/ABC+123".into()),
            carrier_id2: Some("/ABC+123".into()),
            print_mark: Some("N".into()),
            random_number: Some("0421".into()),
            ..InvoiceMain::default()
        },
        details: vec![
            item("Tea", "2", "25", "50", "1"),
            item("Cake", "1", "54", "54", "1"),
        ],
        amount: InvoiceAmount {
            sales_amount: "104".into(),
            free_tax_sales_amount: Some("0".into()),
            zero_tax_sales_amount: Some("0".into()),
            tax_type: "1".into(),
            tax_rate: "0.05".into(),
            tax_amount: "0".into(),
            total_amount: "104".into(),
            ..InvoiceAmount::default()
        },
    }
}

fn item(d: &str, q: &str, p: &str, a: &str, t: &str) -> ProductItem {
    ProductItem {
        description: d.into(),
        quantity: q.into(),
        unit_price: p.into(),
        tax_type: t.into(),
        amount: a.into(),
        sequence_number: "1".into(),
        ..ProductItem::default()
    }
}

fn b2b() -> Invoice {
    let mut inv = b2c();
    inv.main.buyer.identifier = "12345676".into();
    inv.main.carrier_type = None;
    inv.main.carrier_id1 = None;
    inv.main.carrier_id2 = None;
    inv.main.print_mark = Some("Y".into());
    inv.details = vec![
        item("Pen", "100", "25", "2500", "1"),
        item("Ink", "200", "75", "15000", "1"),
    ];
    inv.amount.sales_amount = "17500".into();
    inv.amount.tax_amount = "875".into();
    inv.amount.total_amount = "18375".into();
    inv
}

fn codes(inv: Invoice) -> Vec<(&'static str, String)> {
    match validate(&Message::F0401(inv), &Rules::production()) {
        Ok(_) => Vec::new(),
        Err(v) => v.0.into_iter().map(|x| (x.code, x.field)).collect(),
    }
}

fn has(inv: Invoice, code: &str, field: &str) {
    let got = codes(inv);
    assert!(
        got.iter().any(|(c, f)| *c == code && f == field),
        "expected {code} at {field}, got {got:?}"
    );
}

#[test]
fn base_messages_are_valid_and_carry_their_facts() {
    let v = validate(&Message::F0401(b2c()), &Rules::production()).expect("valid b2c");
    let Facts::Invoice(f) = &v.facts else {
        panic!("facts")
    };
    assert!(f.is_b2c());
    assert_eq!(f.total.0, 104);
    assert_eq!(f.sales_ex_tax().0, 99);
    assert!(matches!(f.delivery, crate::validated::Delivery::Carrier(_)));
    assert_eq!(f.period.to_string(), "11402");
    let v = validate(&Message::F0401(b2b()), &Rules::production()).expect("valid b2b");
    assert!(matches!(v.facts, Facts::Invoice(ref f) if f.tax.0 == 875));
}

#[test]
fn each_rule_names_its_code_and_field() {
    let mut i = b2c();
    i.main.invoice_number = "ab1234567".into();
    has(i, "INVOICE_NUMBER_FORMAT", "Main/InvoiceNumber");
    let mut i = b2c();
    i.main.invoice_date = "20250230".into();
    has(i, "DATE_FORMAT", "Main/InvoiceDate");
    let mut i = b2c();
    i.main.seller.identifier = "12345678".into();
    has(i, "UBN_CHECKSUM", "Main/Seller/Identifier");
    let mut i = b2c();
    i.main.seller.address = None;
    has(i, "FIELD_REQUIRED", "Main/Seller/Address");
    let mut i = b2c();
    i.main.seller.name = "x".repeat(61);
    has(i, "FIELD_TOO_LONG", "Main/Seller/Name");
    let mut i = b2c();
    i.main.invoice_type = "09".into();
    has(i, "ENUM_VALUE", "Main/InvoiceType");
    let mut i = b2c();
    i.main.random_number = None;
    has(i, "RANDOM_NUMBER_REQUIRED", "Main/RandomNumber");
    let mut i = b2c();
    i.main.carrier_id2 = None;
    has(i, "CARRIER_INCOMPLETE", "Main/CarrierId2");
    let mut i = b2c();
    i.main.carrier_id1 = Some("ABC".into());
    has(i, "CARRIER_ID_FORMAT", "Main/CarrierId1");
    let mut i = b2c();
    i.main.carrier_type = Some("ZZ9999".into());
    has(i, "CARRIER_TYPE_UNKNOWN", "Main/CarrierType");
    let mut i = b2c();
    i.main.donate_mark = "1".into();
    has(i, "NPOBAN_REQUIRED", "Main/NPOBAN");
    let mut i = b2b();
    i.main.donate_mark = "1".into();
    i.main.npoban = Some("919".into());
    has(i, "DONATION_NOT_B2C", "Main/DonateMark");
    let mut i = b2c();
    i.main.print_mark = Some("Y".into());
    has(i, "DELIVERY_CONFLICT", "Main/PrintMark");
    let mut i = b2c();
    i.main.carrier_type = None;
    i.main.carrier_id1 = None;
    i.main.carrier_id2 = None;
    has(i, "DELIVERY_MISSING", "Main/PrintMark");
    let mut i = b2c();
    i.main.npoban = Some("919".into());
    has(i, "DELIVERY_CONFLICT", "Main/NPOBAN");
    let mut i = b2c();
    i.details[1].amount = "60".into();
    has(
        i.clone(),
        "ITEM_AMOUNT_MISMATCH",
        "Details/ProductItem[2]/Amount",
    );
    has(i, "ITEM_SUM_MISMATCH", "Amount/SalesAmount");
    let mut i = b2c();
    i.details[0].tax_type = "3".into();
    has(
        i,
        "ITEM_TAX_TYPE_MISMATCH",
        "Details/ProductItem[1]/TaxType",
    );
    let mut i = b2c();
    i.details.clear();
    has(i, "ITEMS_REQUIRED", "Details");
    let mut i = b2c();
    i.amount.tax_amount = "5".into();
    i.amount.total_amount = "109".into();
    has(i, "TAX_AMOUNT_MISMATCH", "Amount/TaxAmount");
    let mut i = b2b();
    i.amount.tax_amount = "874".into();
    i.amount.total_amount = "18374".into();
    has(i, "TAX_AMOUNT_MISMATCH", "Amount/TaxAmount");
    let mut i = b2b();
    i.amount.total_amount = "18376".into();
    has(i, "TOTAL_AMOUNT_MISMATCH", "Amount/TotalAmount");
    let mut i = b2b();
    i.amount.tax_rate = "0.1".into();
    has(i, "TAX_RATE_MISMATCH", "Amount/TaxRate");
    let mut i = b2b();
    i.amount.tax_type = "2".into();
    i.amount.tax_rate = "0".into();
    has(i, "AMOUNT_BUCKET_MISMATCH", "Amount");
    let mut i = b2c();
    i.amount.sales_amount = "104.5".into();
    has(i, "AMOUNT_FRACTION", "Amount/SalesAmount");
    let mut i = b2c();
    i.details[0].quantity = "1e2".into();
    has(i, "DECIMAL_FORMAT", "Details/ProductItem[1]/Quantity");
    let mut i = b2c();
    i.details[0].quantity = "-2".into();
    has(i, "AMOUNT_NEGATIVE", "Details/ProductItem[1]/Quantity");
    let mut i = b2c();
    i.amount.currency = Some("usd".into());
    has(i, "CURRENCY_FORMAT", "Amount/Currency");
}

#[test]
fn b2b_tax_rounds_half_up() {
    // 10 × 0.05 = 0.5 → 1 (half up, not to even).
    let mut i = b2b();
    i.details = vec![item("Clip", "1", "10", "10", "1")];
    i.amount.sales_amount = "10".into();
    i.amount.tax_amount = "1".into();
    i.amount.total_amount = "11".into();
    assert_eq!(codes(i), vec![]);
}

#[test]
fn every_failure_is_reported_not_just_the_first() {
    let mut i = b2c();
    i.main.invoice_number = "bad".into();
    i.main.seller.identifier = "1".into();
    i.amount.total_amount = "105".into();
    i.main.invoice_time = "25:00:00".into();
    let got = codes(i);
    for want in [
        "INVOICE_NUMBER_FORMAT",
        "UBN_FORMAT",
        "TOTAL_AMOUNT_MISMATCH",
        "TIME_FORMAT",
    ] {
        assert!(
            got.iter().any(|(c, _)| *c == want),
            "{want} missing in {got:?}"
        );
    }
}

#[test]
fn cancel_before_the_invoice_date_is_refused() {
    let c = CancelInvoice {
        cancel_invoice_number: "AB12345678".into(),
        invoice_date: "20250115".into(),
        buyer_id: "0000000000".into(),
        seller_id: "04595257".into(),
        cancel_date: "20250114".into(),
        cancel_time: "10:00:00".into(),
        cancel_reason: "wrong".into(),
        ..CancelInvoice::default()
    };
    let e = validate(&Message::F0501(c.clone()), &Rules::production()).expect_err("order");
    assert!(
        e.iter()
            .any(|v| v.code == "DATE_ORDER" && v.field == "CancelDate")
    );
    let mut ok = c;
    ok.cancel_date = "20250116".into();
    assert!(validate(&Message::F0501(ok), &Rules::production()).is_ok());
}

#[test]
fn track_ranges_are_whole_booklets_without_overlap() {
    let t = BranchTrack {
        main: BranchTrackMain {
            head_ban: "04595257".into(),
            branch_ban: "04595257".into(),
            invoice_type: "07".into(),
            year_month: "11402".into(),
            invoice_track: "AB".into(),
            invoice_begin_no: "00000000".into(),
            invoice_end_no: "00000999".into(),
        },
        details: vec![
            BranchTrackItem {
                invoice_begin_no: "00000000".into(),
                invoice_end_no: "00000499".into(),
                invoice_booklet: "10".into(),
            },
            BranchTrackItem {
                invoice_begin_no: "00000450".into(),
                invoice_end_no: "00001049".into(),
                invoice_booklet: "11".into(),
            },
        ],
    };
    let e = validate(&Message::E0401(t.clone()), &Rules::production()).expect_err("bad");
    let got: Vec<_> = e.iter().map(|v| v.code).collect();
    assert!(got.contains(&"RANGE_OVERLAP"), "{got:?}");
    assert!(got.contains(&"RANGE_OUTSIDE"), "{got:?}");
    assert!(got.contains(&"BOOKLET_COUNT_MISMATCH"), "{got:?}");
    let mut ok = t;
    ok.details.truncate(1);
    let v = validate(&Message::E0401(ok), &Rules::production()).expect("valid");
    assert!(matches!(v.facts, Facts::TrackAllocation(ref f) if f.begin == 0 && f.end == 999));
}

prop_compose! {
    /// A consistent B2C invoice with 1–20 random items.
    fn arb_b2c()(items in proptest::collection::vec((1u32..50, 1u32..5000), 1..20)) -> Invoice {
        let mut inv = b2c();
        inv.details = items
            .iter()
            .enumerate()
            .map(|(i, (q, p))| {
                let mut it = item("Thing", &q.to_string(), &p.to_string(), &(q * p).to_string(), "1");
                it.sequence_number = (i + 1).to_string();
                it
            })
            .collect();
        let total: u64 = items.iter().map(|(q, p)| u64::from(q * p)).sum();
        inv.amount.sales_amount = total.to_string();
        inv.amount.total_amount = total.to_string();
        inv
    }
}

proptest! {
    #[test]
    fn consistent_random_invoices_validate(inv in arb_b2c()) {
        prop_assert!(validate(&Message::F0401(inv), &Rules::production()).is_ok());
    }

    #[test]
    fn a_changed_total_is_always_caught(inv in arb_b2c(), delta in 1i64..1000) {
        let mut bad = inv;
        let t: i64 = bad.amount.total_amount.parse().unwrap_or(0);
        bad.amount.total_amount = (t + delta).to_string();
        let e = validate(&Message::F0401(bad), &Rules::production());
        prop_assert!(e.is_err_and(|v| v.has("TOTAL_AMOUNT_MISMATCH")));
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,12}", n in 0usize..4) {
        let mut inv = b2c();
        match n {
            0 => inv.amount.total_amount = s,
            1 => inv.details[0].quantity = s,
            2 => inv.main.carrier_id1 = Some(s),
            _ => inv.main.invoice_date = s,
        }
        let _ = validate(&Message::F0401(inv), &Rules::production());
    }
}
