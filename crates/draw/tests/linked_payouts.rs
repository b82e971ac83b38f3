//! Payouts of carriers linked (歸戶) to a mobile barcode: the prize of a
//! linked EasyCard is paid into the barcode's bank account; an unlinked
//! carrier without an account is paid manually.

use einvoice_core::{Carrier, CarrierType, Period};
use einvoice_store::conformance::{SELLER_A, winners_entry};
use einvoice_store::{CarrierAggStore, LinkChange, LinkOutcome, Store, WinnerRecord, WinnersLoad};
use einvoice_store_sqlite::SqliteStore;

#[tokio::test]
async fn a_linked_carrier_is_paid_into_its_barcodes_account() {
    let dir = tempfile::tempdir().expect("dir");
    let s = SqliteStore::open(&dir.path().join("einvoice.db"), "main").expect("open");
    einvoice_secrets::load_or_create_master_key(dir.path()).expect("key");
    let sealer = einvoice_draw::site_sealer(dir.path()).expect("sealer");
    let period = Period::parse("11402").expect("period");
    let barcode = Carrier::parse(CarrierType::MobileBarcode, "/ABC+123").expect("barcode");
    let easy = Carrier::parse(CarrierType::Other("1K0001".into()), "0123456789").expect("card");
    let ipass = Carrier::parse(CarrierType::Other("1H0001".into()), "IP-1").expect("card");
    let out = s
        .change_link(LinkChange {
            barcode: barcode.clone(),
            carrier: easy.clone(),
            link: true,
            name: String::new(),
            actor: "test".into(),
        })
        .await
        .expect("link");
    assert!(matches!(out, LinkOutcome::Done(_)), "{out:?}");
    let account = einvoice_secrets::BankAccount {
        bank_code: "812".into(),
        account_number: "0099887766".into(),
        holder_name: "Wang".into(),
    };
    s.put_bank_account(
        account
            .seal(&sealer, &einvoice_store::carrier_key(&barcode), 1)
            .expect("seal"),
    )
    .await
    .expect("account");
    let line = |line: u64, number: &str, carrier: &Carrier| WinnerRecord {
        line,
        invoice_number: number.into(),
        seller: SELLER_A.into(),
        prize: "sixth".into(),
        amount: 200,
        payable: 200,
        carrier: Some(einvoice_store::carrier_key(carrier)),
        npo: None,
    };
    let load = WinnersLoad {
        period,
        actor: "alice".into(),
        winners: vec![line(0, "AB00000001", &easy), line(1, "AB00000002", &ipass)],
    };
    s.put_winners(load.clone(), winners_entry(&load))
        .await
        .expect("winners");
    let out = dir.path().join("pay");
    let paid = einvoice_draw::payouts(&s, period, &out, &sealer)
        .await
        .expect("payouts");
    let by: Vec<(&str, usize)> = paid.totals.iter().map(|t| (t.category, t.count)).collect();
    assert_eq!(by, [("bank", 1), ("npo", 0), ("manual", 1)]);
    let csv =
        String::from_utf8(std::fs::read(out.join("payouts.csv")).expect("csv")).expect("utf8");
    let easy_line = csv
        .lines()
        .find(|l| l.contains("1K0001:0123456789"))
        .expect("the EasyCard line");
    assert!(easy_line.starts_with("bank,"), "{easy_line}");
    assert!(easy_line.contains("0099887766"), "{easy_line}");
}
