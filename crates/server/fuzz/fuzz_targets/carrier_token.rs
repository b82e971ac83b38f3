//! Carrier bearer tokens (`Authorization: Bearer <token>`).
//!
//! Input: an `Authorization` value, 0x00, carrier type code, 0x00, carrier
//! id. Properties: an arbitrary value is refused with a stable error (the
//! fuzzer cannot forge a seal); a token sealed for a valid carrier opens to
//! that carrier before its expiry, is `TOKEN_EXPIRED` after it, and is
//! refused after any one-character change or under another master key.
#![no_main]
use einvoice_core::ids::CarrierTypes;
use einvoice_core::{Carrier, CarrierType};
use einvoice_secrets::Sealer;
use einvoice_server::citizen::{TokenError, open_bearer, seal_token};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_780_000_000;

fuzz_target!(|data: &[u8]| {
    let sealer = Sealer::new(&[7; 32]);
    let mut parts = data.splitn(3, |b| *b == 0);
    let auth = parts.next().unwrap_or_default();
    let kind = parts.next().unwrap_or_default();
    let id = parts.next().unwrap_or_default();

    if let Ok(auth) = std::str::from_utf8(auth) {
        match open_bearer(&sealer, Some(auth), NOW) {
            Ok(c) => panic!("a token from nowhere opened to {c:?}"),
            Err(e) => assert!(matches!(e.code(), "AUTH_MISSING" | "TOKEN_INVALID")),
        }
    }
    assert_eq!(open_bearer(&sealer, None, NOW), Err(TokenError::Missing));

    let (Ok(kind), Ok(id)) = (std::str::from_utf8(kind), std::str::from_utf8(id)) else {
        return;
    };
    let Ok(kind) = CarrierType::parse(kind, &CarrierTypes::default()) else {
        return;
    };
    let Ok(carrier) = Carrier::parse(kind, id) else {
        return;
    };
    let token = seal_token(&sealer, &carrier, NOW + 900).expect("seal");
    let bearer = format!("Bearer {token}");
    assert_eq!(
        open_bearer(&sealer, Some(&bearer), NOW).as_ref(),
        Ok(&carrier)
    );
    assert_eq!(
        open_bearer(&sealer, Some(&bearer), NOW + 901),
        Err(TokenError::Expired)
    );
    let other = Sealer::new(&[8; 32]);
    assert_eq!(
        open_bearer(&other, Some(&bearer), NOW),
        Err(TokenError::Invalid)
    );
    // Change one character of the token (chosen by the input's length).
    let mut b = token.into_bytes();
    let i = data.len() % b.len();
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    let changed = format!("Bearer {}", String::from_utf8_lossy(&b));
    assert_eq!(
        open_bearer(&sealer, Some(&changed), NOW),
        Err(TokenError::Invalid)
    );
});
