use super::*;
use proptest::prelude::*;

fn key() -> QrKey {
    QrKey::parse_hex("FE05F029154F6AA67A78B338ED2F6601").expect("key")
}

#[test]
fn key_derivation_vectors() {
    // test-vectors.json qrcode_key_derivation (outputs of MOF genKey.sh).
    assert_eq!(
        QrKey::from_passphrase("24634102").to_hex(),
        "FE05F029154F6AA67A78B338ED2F6601"
    );
    assert_eq!(
        QrKey::from_passphrase("changeit").to_hex(),
        "7DE1747AA8613314C0C95ACCC5568911"
    );
    assert_eq!(format!("{:?}", key()), "QrKey(..)");
}

#[test]
fn aes_vectors() {
    let n = |s: &str| InvoiceNumber::parse(s).expect("n");
    let r = |s: &str| RandomNumber::parse(s).expect("r");
    assert_eq!(
        verification_field(&key(), &n("XF00001234"), &r("9876")),
        "CamotDNRUN8bVyY5S1BhFQ=="
    );
    assert_eq!(
        verification_field(&key(), &n("AB11223344"), &r("9999")),
        "ajrLaenbGmyWaZBdJk9diw=="
    );
    let k2 = QrKey::parse_hex("7DE1747AA8613314C0C95ACCC5568911").expect("k2");
    assert_eq!(
        verification_field(&k2, &n("AB11223344"), &r("9999")),
        "DwepwPd+xBDxD4sWMsJSBA=="
    );
    assert_eq!(
        open_verification_field(&key(), "CamotDNRUN8bVyY5S1BhFQ==").expect("open"),
        "XF000012349876"
    );
    assert_eq!(
        open_verification_field(&k2, "CamotDNRUN8bVyY5S1BhFQ==")
            .map_err(|e| e.code)
            .err(),
        Some("QR_AES_MISMATCH")
    );
}

#[test]
fn barcode_vector() {
    let b = parse_barcode("10404UZ176908720122").expect("parse");
    assert_eq!(b.period.to_string(), "10404");
    assert_eq!(b.number.to_string(), "UZ17690872");
    assert_eq!(b.random.as_str(), "0122");
    assert_eq!(
        barcode(b.period, &b.number, &b.random),
        "10404UZ176908720122"
    );
    assert_eq!(
        parse_barcode("10404UZ17690872012")
            .map_err(|e| e.code)
            .err(),
        Some("BARCODE_FORMAT")
    );
}

#[test]
fn spec_example_left_and_right_codes() {
    // test-vectors.json qrcode_left_prefix: header prefix (53 chars) + an
    // encrypted field, then ":**********:3:3:1:乾電池:1:105:" and the right
    // code "**口罩:1:210:牛奶:1:25".
    let prefix = "AB112233441020523999900000144000001540000000001234567";
    let n = InvoiceNumber::parse("AB11223344").expect("n");
    let r = RandomNumber::parse("9999").expect("r");
    let header = format!("{prefix}{}", verification_field(&key(), &n, &r));
    assert_eq!(header.len(), HEADER_LEN);
    let items = [("乾電池", 105), ("口罩", 210), ("牛奶", 25)].map(|(name, p)| QrItem {
        name: name.into(),
        quantity: Decimal::ONE,
        unit_price: Decimal::from(p),
    });
    // A budget that fits exactly one item in the left code, as in the example.
    let opts = QrOptions {
        max_bytes: HEADER_LEN + ":**********:3:3:1:".len() + "乾電池:1:105:".len(),
        ..QrOptions::default()
    };
    let codes = build_qr(&header, &items, &opts).expect("build");
    let left = String::from_utf8(codes.left.clone()).expect("utf8");
    assert_eq!(&left[HEADER_LEN..], ":**********:3:3:1:乾電池:1:105:");
    assert_eq!(
        String::from_utf8(codes.right.clone()).expect("utf8"),
        "**口罩:1:210:牛奶:1:25"
    );
    let parsed = parse_left_qr(&codes.left).expect("parse");
    assert_eq!(parsed.sales, Money(324));
    assert_eq!(parsed.total, Money(340));
    assert_eq!(parsed.buyer, None);
    assert_eq!(parsed.seller, "01234567");
    parsed.verify(&key()).expect("verifies");
    let joined = format!(
        "{}{}",
        parsed.item_run,
        parse_right_qr(&codes.right, parsed.encoding).expect("right")
    );
    let back = parse_items(&joined).expect("items");
    assert_eq!(back, items.to_vec());
}

#[test]
fn bad_qr_texts_get_codes() {
    assert_eq!(
        parse_left_qr(b"short").map_err(|e| e.code).err(),
        Some("QR_HEADER_LENGTH")
    );
    let mut s = "AB112233441020523999900000144000001540000000001234567".to_string();
    s.push_str("CamotDNRUN8bVyY5S1BhFQ==");
    assert_eq!(
        parse_left_qr(s.as_bytes()).map_err(|e| e.code).err(),
        Some("QR_FORMAT")
    );
    s.push_str(":**********:1:1:7:x:1:1");
    assert_eq!(
        parse_left_qr(s.as_bytes()).map_err(|e| e.code).err(),
        Some("QR_FORMAT")
    );
}

proptest! {
    #[test]
    fn build_then_parse_round_trips(
        names in proptest::collection::vec("[a-z茶蛋糕]{1,8}", 1..12),
        enc in 0u8..3,
        budget in 100usize..400,
    ) {
        let n = InvoiceNumber::parse("AB11223344").expect("n");
        let r = RandomNumber::parse("9999").expect("r");
        let header = format!("AB112233441020523999900000144000001540000000001234567{}", verification_field(&key(), &n, &r));
        let items: Vec<QrItem> = names.iter().enumerate().map(|(i, name)| QrItem {
            name: name.clone(),
            quantity: Decimal::from(i as i64 + 1),
            unit_price: Decimal::new(1050 + i as i64, 1),
        }).collect();
        let encoding = [ItemEncoding::Big5, ItemEncoding::Utf8, ItemEncoding::Base64][enc as usize];
        let opts = QrOptions { encoding, max_bytes: budget, ..QrOptions::default() };
        let codes = build_qr(&header, &items, &opts).expect("build");
        prop_assert!(codes.left.len() <= budget.max(HEADER_LEN + 40));
        let left = parse_left_qr(&codes.left).expect("parse left");
        prop_assert_eq!(left.items_total as usize, items.len());
        let joined = format!("{}{}", left.item_run, parse_right_qr(&codes.right, left.encoding).expect("right"));
        let back = parse_items(&joined).expect("items");
        prop_assert_eq!(back.len(), left.items_in_codes as usize);
        prop_assert_eq!(&back[..], &items[..back.len()]);
    }

    #[test]
    fn the_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_left_qr(&bytes);
        let _ = parse_right_qr(&bytes, ItemEncoding::Big5);
        let _ = parse_barcode(&String::from_utf8_lossy(&bytes));
    }
}
