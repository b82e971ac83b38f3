use super::*;

const SMALL_F0501: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CancelInvoice xmlns="urn:GEINV:eInvoiceMessage:F0501:4.1">
  <CancelInvoiceNumber> AB12345678 </CancelInvoiceNumber>
  <InvoiceDate>20250101</InvoiceDate>
  <BuyerId>0000000000</BuyerId>
  <SellerId>12345675</SellerId>
  <CancelDate>20250102</CancelDate>
  <CancelTime>10:00:00</CancelTime>
  <CancelReason>R&amp;D</CancelReason>
</CancelInvoice>"#;

#[test]
fn canonical_golden_for_a_small_message() {
    let m = decode_xml(SMALL_F0501.as_bytes()).expect("decodes");
    // Written by hand from the definition in `canonical`'s documentation.
    let want = r#"{"message":"F0501","CancelInvoiceNumber":"AB12345678","InvoiceDate":"20250101","BuyerId":"0000000000","SellerId":"12345675","CancelDate":"20250102","CancelTime":"10:00:00","CancelReason":"R&D"}"#;
    assert_eq!(String::from_utf8(canonical(&m)).expect("utf8"), want);
}

#[test]
fn json_in_another_order_gives_the_same_canonical_bytes() {
    let xml = decode_xml(SMALL_F0501.as_bytes()).expect("xml");
    let json = br#"{ "CancelReason": "R&D", "SellerId": "12345675", "message": "F0501",
        "CancelInvoiceNumber": "AB12345678", "InvoiceDate": "20250101", "BuyerId": "0000000000",
        "CancelDate": "20250102", "CancelTime": "10:00:00" }"#;
    let j = decode_json(json).expect("json");
    assert_eq!(canonical(&xml), canonical(&j));
}

fn code_of(bytes: &[u8]) -> &'static str {
    match decode_any(bytes) {
        Ok(_) => "OK",
        Err(e) => e.code,
    }
}

#[test]
fn hostile_and_broken_xml_get_their_codes() {
    let dtd = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><CancelInvoice xmlns="urn:GEINV:eInvoiceMessage:F0501:4.1"><CancelReason>&lol2;</CancelReason></CancelInvoice>"#;
    assert_eq!(code_of(dtd), "XML_DTD_FORBIDDEN");
    let ent = br#"<CancelInvoice xmlns="urn:GEINV:eInvoiceMessage:F0501:4.1"><CancelReason>&xxe;</CancelReason></CancelInvoice>"#;
    assert_eq!(code_of(ent), "XML_ENTITY_FORBIDDEN");
    let wrong_root = br#"<Invoice xmlns="urn:GEINV:eInvoiceMessage:F0501:4.1"></Invoice>"#;
    assert_eq!(code_of(wrong_root), "XML_ROOT_UNKNOWN");
    let wrong_ns = br#"<CancelInvoice xmlns="urn:example"></CancelInvoice>"#;
    assert_eq!(code_of(wrong_ns), "XML_NAMESPACE");
    let no_ns = br#"<CancelInvoice></CancelInvoice>"#;
    assert_eq!(code_of(no_ns), "XML_NAMESPACE");
    let mig3 = br#"<Invoice xmlns="urn:GEINV:eInvoiceMessage:C0401:3.2"><Main/></Invoice>"#;
    assert_eq!(code_of(mig3), "MIG3_RETIRED");
    let truncated = &SMALL_F0501.as_bytes()[..SMALL_F0501.len() - 20];
    assert_eq!(code_of(truncated), "XML_MALFORMED");
    let unknown = SMALL_F0501
        .replace("<Remark", "<Bogus")
        .replace("<CancelReason>", "<Bogus>x</Bogus><CancelReason>");
    assert_eq!(code_of(unknown.as_bytes()), "UNKNOWN_FIELD");
    let dup = SMALL_F0501.replace(
        "<CancelReason>",
        "<CancelDate>20250103</CancelDate><CancelReason>",
    );
    assert_eq!(code_of(dup.as_bytes()), "FIELD_DUPLICATE");
    let missing = SMALL_F0501.replace("<CancelTime>10:00:00</CancelTime>", "");
    let err = decode_any(missing.as_bytes()).expect_err("missing");
    assert_eq!(
        (err.code, err.field.as_str()),
        ("FIELD_REQUIRED", "CancelTime")
    );
    let mut bad_utf8 = SMALL_F0501.as_bytes().to_vec();
    bad_utf8[120] = 0xFF;
    assert_eq!(code_of(&bad_utf8), "ENCODING_INVALID");
    let deep = format!(
        "<CancelInvoice xmlns=\"urn:GEINV:eInvoiceMessage:F0501:4.1\">{}{}</CancelInvoice>",
        "<a>".repeat(40),
        "</a>".repeat(40)
    );
    assert_eq!(code_of(deep.as_bytes()), "XML_TOO_DEEP");
    let pi = SMALL_F0501.replace("<CancelDate>", "<?php x?><CancelDate>");
    assert_eq!(code_of(pi.as_bytes()), "XML_PI_FORBIDDEN");
    assert_eq!(code_of(b"hello"), "FORMAT_UNKNOWN");
    assert_eq!(code_of(b"{\"message\":"), "JSON_MALFORMED");
    assert_eq!(code_of(b"{\"message\":\"Z9999\"}"), "MESSAGE_KIND_UNKNOWN");
    assert_eq!(
        code_of(b"{\"message\":\"F0501\",\"Nope\":\"1\"}"),
        "UNKNOWN_FIELD"
    );
}

#[test]
fn entities_and_char_refs_decode_and_reencode() {
    let s = SMALL_F0501.replace("R&amp;D", "A&lt;B&#x41;&#66;&quot;");
    let m = decode_xml(s.as_bytes()).expect("decodes");
    let Message::F0501(c) = &m else {
        panic!("kind")
    };
    assert_eq!(c.cancel_reason, "A<BAB\"");
    assert_eq!(decode_xml(&encode_xml(&m)).expect("round trip"), m);
}
