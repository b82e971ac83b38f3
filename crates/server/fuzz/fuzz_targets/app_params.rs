//! App API parameters: any query string and body into `parse_params`.
//!
//! Input: query bytes, a 0xFF separator, body bytes (no separator: all body).
//! Properties: the limits hold on every accepted map; the map re-encoded as a
//! form parses back to itself (as a body and as a query); every value that
//! reads as a date prints and reads back as the same date; the App API
//! signature over the map verifies with its key and not with another.
#![no_main]
use einvoice_server::app_api::{
    SignatureAlg, parse_date, parse_params, sign, signing_string, verify_signature,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (query, body) = match data.iter().position(|b| *b == 0xFF) {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    let Ok(map) = parse_params(query, body) else {
        return;
    };
    assert!(map.len() <= 64, "more than 64 parameters accepted");
    for (k, v) in &map {
        assert!(
            k.len() <= 64 && v.len() <= 1024,
            "an overlong parameter accepted"
        );
    }
    let form = serde_urlencoded::to_string(&map).expect("a string map encodes");
    assert_eq!(
        parse_params(None, form.as_bytes()).as_ref(),
        Ok(&map),
        "body round trip"
    );
    assert_eq!(
        parse_params(Some(&form), b"").as_ref(),
        Ok(&map),
        "query round trip"
    );
    for v in map.values() {
        if let Some(d) = parse_date(v) {
            let printed = format!("{:04}/{:02}/{:02}", d.year(), u8::from(d.month()), d.day());
            assert_eq!(
                parse_date(&printed),
                Some(d),
                "date {v:?} printed {printed:?}"
            );
        }
    }
    let text = signing_string(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for alg in [SignatureAlg::HmacSha256, SignatureAlg::HmacSha1] {
        let sig = sign(alg, "app-key", &text);
        assert!(verify_signature(alg, "app-key", &text, &sig));
        assert!(!verify_signature(alg, "other-key", &text, &sig));
        if let Some(given) = map.get("signature") {
            // Whatever a client sends as the signature must not panic the check.
            let _ = verify_signature(alg, "app-key", &text, given);
        }
    }
});
