//! Signed requests of sellers and integrators (`EINVOICE-HMAC-SHA256`).
//!
//! A client holding an API key (`key_id` + secret, issued by an operator)
//! sends four headers with every request:
//!
//! | header | value |
//! | --- | --- |
//! | [`KEY_HEADER`] `X-Einvoice-Key` | the key id |
//! | [`TIMESTAMP_HEADER`] `X-Einvoice-Timestamp` | Unix seconds; must be within ±[`MAX_SKEW_SECS`] of the server's clock |
//! | [`NONCE_HEADER`] `X-Einvoice-Nonce` | 16–64 characters `[A-Za-z0-9_-]`, never reused with the same key |
//! | [`SIGNATURE_HEADER`] `X-Einvoice-Signature` | lowercase hex HMAC-SHA256 of the string to sign, keyed with the secret's UTF-8 bytes |
//!
//! The string to sign is ([`string_to_sign`]), lines joined by `\n`:
//!
//! ```text
//! EINVOICE-HMAC-SHA256
//! <METHOD>
//! <path and query, exactly as sent>
//! <timestamp>
//! <nonce>
//! <lowercase hex SHA-256 of the body bytes>
//! ```
//!
//! The server compares the MAC in constant time (`Mac::verify_slice`) and
//! remembers each (key, nonce) until the timestamp window has passed, so a
//! captured request cannot be replayed.

use axum::http;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Header carrying the key id.
pub const KEY_HEADER: &str = "x-einvoice-key";
/// Header carrying the Unix timestamp (seconds).
pub const TIMESTAMP_HEADER: &str = "x-einvoice-timestamp";
/// Header carrying the nonce.
pub const NONCE_HEADER: &str = "x-einvoice-nonce";
/// Header carrying the hex HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "x-einvoice-signature";
/// The scheme name, first line of the string to sign.
pub const SCHEME: &str = "EINVOICE-HMAC-SHA256";
/// Accepted clock difference between client and server, seconds.
pub const MAX_SKEW_SECS: i64 = 300;

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Decode lowercase or uppercase hex; `None` if malformed.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// The string to sign (see the module documentation).
pub fn string_to_sign(
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{SCHEME}\n{}\n{path_and_query}\n{timestamp}\n{nonce}\n{}",
        method.to_ascii_uppercase(),
        hex(&Sha256::digest(body))
    )
}

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

/// The signature a client sends: lowercase hex HMAC-SHA256 of `text`.
pub fn signature(secret: &str, text: &str) -> String {
    let mut m = mac(secret);
    m.update(text.as_bytes());
    hex(&m.finalize().into_bytes())
}

/// Constant-time check of a hex signature.
pub fn verify(secret: &str, text: &str, signature_hex: &str) -> bool {
    let Some(given) = unhex(signature_hex) else {
        return false;
    };
    let mut m = mac(secret);
    m.update(text.as_bytes());
    m.verify_slice(&given).is_ok()
}

/// The four headers of a signed request as received, the timestamp read as a
/// number. Only their presence and syntax are checked here; the clock window,
/// the nonce's shape ([`nonce_ok`]), the key and the MAC ([`verify`]) after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders<'a> {
    /// [`KEY_HEADER`].
    pub key_id: &'a str,
    /// [`TIMESTAMP_HEADER`], Unix seconds.
    pub timestamp: i64,
    /// [`NONCE_HEADER`].
    pub nonce: &'a str,
    /// [`SIGNATURE_HEADER`].
    pub signature: &'a str,
}

/// Why the signature headers could not be read (every one a `401`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A header is absent (`AUTH_MISSING`).
    #[error("header {0} is required: sign the request (see /openapi.json)")]
    Missing(&'static str),
    /// A header holds bytes outside visible ASCII (`AUTH_MALFORMED`).
    #[error("header {0} is not ASCII")]
    NotAscii(&'static str),
    /// The timestamp is not a number of seconds (`AUTH_TIMESTAMP`).
    #[error("X-Einvoice-Timestamp must be Unix seconds")]
    Timestamp,
}

impl HeaderError {
    /// The stable error code the API answers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing(_) => "AUTH_MISSING",
            Self::NotAscii(_) => "AUTH_MALFORMED",
            Self::Timestamp => "AUTH_TIMESTAMP",
        }
    }
}

/// Read the four signature headers (in the order key, timestamp, nonce,
/// signature; the first missing or malformed one is reported).
pub fn parse_headers(h: &http::HeaderMap) -> Result<SignedHeaders<'_>, HeaderError> {
    let get = |name: &'static str| {
        h.get(name)
            .ok_or(HeaderError::Missing(name))?
            .to_str()
            .map_err(|_| HeaderError::NotAscii(name))
    };
    let key_id = get(KEY_HEADER)?;
    let ts_text = get(TIMESTAMP_HEADER)?;
    let nonce = get(NONCE_HEADER)?;
    let signature = get(SIGNATURE_HEADER)?;
    let timestamp = ts_text.parse().map_err(|_| HeaderError::Timestamp)?;
    Ok(SignedHeaders {
        key_id,
        timestamp,
        nonce,
        signature,
    })
}

/// Whether a nonce has the accepted shape.
pub fn nonce_ok(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The four headers of a signed request, as (name, value) pairs.
pub fn sign_headers(
    key_id: &str,
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> [(&'static str, String); 4] {
    let text = string_to_sign(method, path_and_query, timestamp, nonce, body);
    [
        (KEY_HEADER, key_id.to_string()),
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (NONCE_HEADER, nonce.to_string()),
        (SIGNATURE_HEADER, signature(secret, &text)),
    ]
}

/// A fresh random nonce (32 hex characters).
pub fn fresh_nonce() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // Fall back to time + counter: still unique per process, which is all a nonce needs.
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b[..8].copy_from_slice(&t.to_be_bytes());
        b[8..].copy_from_slice(&N.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    }
    hex(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn string_to_sign_layout() {
        // SHA-256 of the empty string is e3b0c442…b855 (FIPS 180-4 example).
        let s = string_to_sign("get", "/v1/x?a=1", 1700000000, "n0nce-n0nce-n0nce", b"");
        assert_eq!(
            s,
            "EINVOICE-HMAC-SHA256\nGET\n/v1/x?a=1\n1700000000\nn0nce-n0nce-n0nce\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn verify_accepts_own_and_rejects_tampered() {
        let sig = signature("secret", "text");
        assert!(verify("secret", "text", &sig));
        assert!(verify("secret", "text", &sig.to_uppercase()));
        assert!(!verify("secret", "text2", &sig));
        assert!(!verify("secret2", "text", &sig));
        assert!(!verify("secret", "text", "zz"));
        assert!(!verify("secret", "text", &sig[..62]));
    }

    #[test]
    fn nonce_shapes() {
        assert!(nonce_ok(&fresh_nonce()));
        assert!(!nonce_ok("short"));
        assert!(!nonce_ok("has space in it........"));
        assert!(!nonce_ok(&"a".repeat(65)));
    }

    #[test]
    fn headers_parse_in_order_with_stable_codes() {
        let mut h = http::HeaderMap::new();
        let e = parse_headers(&h).expect_err("none");
        assert_eq!(
            (e.code(), e),
            ("AUTH_MISSING", HeaderError::Missing(KEY_HEADER))
        );
        h.insert(KEY_HEADER, http::HeaderValue::from_static("k1"));
        h.insert(
            TIMESTAMP_HEADER,
            http::HeaderValue::from_bytes(b"17\xe7").expect("obs-text is a header value"),
        );
        h.insert(NONCE_HEADER, http::HeaderValue::from_static("n"));
        h.insert(SIGNATURE_HEADER, http::HeaderValue::from_static("ab"));
        let e = parse_headers(&h).expect_err("not ascii");
        assert_eq!(
            (e.code(), e),
            ("AUTH_MALFORMED", HeaderError::NotAscii(TIMESTAMP_HEADER))
        );
        h.insert(TIMESTAMP_HEADER, http::HeaderValue::from_static("1e9"));
        assert_eq!(parse_headers(&h).expect_err("ts").code(), "AUTH_TIMESTAMP");
        h.insert(TIMESTAMP_HEADER, http::HeaderValue::from_static("-5"));
        let p = parse_headers(&h).expect("parsed");
        assert_eq!(
            (p.key_id, p.timestamp, p.nonce, p.signature),
            ("k1", -5, "n", "ab")
        );
    }
}
