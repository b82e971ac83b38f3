//! Sellers' signed-request headers (`EINVOICE-HMAC-SHA256`).
//!
//! Input: up to five fields separated by 0x00: key id, timestamp, nonce,
//! signature, body. Properties: headers that parse come back exactly as
//! sent; a malformed signature never verifies; headers made by
//! `sign_headers` from the same fields parse back to those fields and verify,
//! and stop verifying when the body changes.
#![no_main]
use einvoice_server::sign::{self, HeaderError};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(5, |b| *b == 0);
    let key = parts.next().unwrap_or_default();
    let ts = parts.next().unwrap_or_default();
    let nonce = parts.next().unwrap_or_default();
    let sig = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();

    // What arrives: any bytes a header value may hold.
    let mut h = HeaderMap::new();
    for (name, v) in [
        (sign::KEY_HEADER, key),
        (sign::TIMESTAMP_HEADER, ts),
        (sign::NONCE_HEADER, nonce),
        (sign::SIGNATURE_HEADER, sig),
    ] {
        if let Ok(v) = HeaderValue::from_bytes(v) {
            h.insert(name, v);
        }
    }
    match sign::parse_headers(&h) {
        Ok(p) => {
            assert_eq!(p.key_id.as_bytes(), key);
            assert_eq!(p.nonce.as_bytes(), nonce);
            assert_eq!(p.signature.as_bytes(), sig);
            assert_eq!(
                std::str::from_utf8(ts).ok().and_then(|t| t.parse().ok()),
                Some(p.timestamp)
            );
            let text = sign::string_to_sign("POST", "/v1/invoices", p.timestamp, p.nonce, body);
            let good = sign::signature("secret", &text);
            let verifies = sign::verify("secret", &text, p.signature);
            assert_eq!(
                verifies,
                p.signature.eq_ignore_ascii_case(&good),
                "verify disagrees"
            );
            if sign::unhex(p.signature).is_none() {
                assert!(!verifies);
            }
        }
        Err(e) => assert!(matches!(
            (e.code(), &e),
            ("AUTH_MISSING", HeaderError::Missing(_))
                | ("AUTH_MALFORMED", HeaderError::NotAscii(_))
                | ("AUTH_TIMESTAMP", HeaderError::Timestamp)
        )),
    }

    // What a client makes: sign_headers, then the server reads it back.
    let (Ok(key), Ok(nonce)) = (std::str::from_utf8(key), std::str::from_utf8(nonce)) else {
        return;
    };
    // Any timestamp, negative and extreme ones too, from the signature field's bytes.
    let ts = sig
        .iter()
        .fold(0i64, |a, b| a.wrapping_mul(257).wrapping_add(i64::from(*b)));
    let made = sign::sign_headers(key, "secret", "post", "/v1/invoices?x=1", ts, nonce, body);
    let mut h = HeaderMap::new();
    for (name, v) in &made {
        // A client sends visible ASCII only (the server answers anything
        // else AUTH_MALFORMED, checked above); skip what it could not send.
        match HeaderValue::from_str(v) {
            Ok(v) if v.to_str().is_ok() => h.insert(*name, v),
            _ => return,
        };
    }
    let p = sign::parse_headers(&h).expect("headers made by sign_headers parse");
    assert_eq!((p.key_id, p.timestamp, p.nonce), (key, ts, nonce));
    let text = sign::string_to_sign("POST", "/v1/invoices?x=1", ts, nonce, body);
    assert!(
        sign::verify("secret", &text, p.signature),
        "own signature refused"
    );
    assert!(
        !sign::verify("secreT", &text, p.signature),
        "wrong secret accepted"
    );
    let mut other = body.to_vec();
    other.push(b'x');
    let text2 = sign::string_to_sign("POST", "/v1/invoices?x=1", ts, nonce, &other);
    assert!(
        !sign::verify("secret", &text2, p.signature),
        "changed body accepted"
    );
    assert_eq!(
        sign::unhex(&sign::hex(body)).as_deref(),
        Some(body),
        "hex round trip"
    );
});
