//! Argon2id secrets: carrier verification codes (驗證碼) and operator
//! passwords, kept as PHC strings.
//!
//! Verifying is deliberately slow, so the server runs it off the async
//! reactor ([`verify_off_reactor`]); an unknown account is checked against
//! [`dummy_hash`] so that unknown and known names cost the same.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::OnceLock;

/// Why a secret could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("HASH_FAILED: argon2id hashing failed")]
pub struct HashError;

/// Argon2id PHC string of `secret` (random salt, default parameters).
pub fn hash(secret: &[u8]) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(secret)
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// Constant-time Argon2id check of `secret` against a PHC string.
pub fn verify(secret: &[u8], phc: &str) -> bool {
    Argon2::default().verify_password(secret, phc).is_ok()
}

/// A PHC string of a random secret, verified against when the account does
/// not exist so that unknown and known ids take the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut r = [0u8; 16];
        let _ = getrandom::fill(&mut r);
        hash(&r).unwrap_or_default()
    })
}

/// Check `secret` against `phc` on the blocking pool; with no `phc` (no such
/// account) the same work is done against [`dummy_hash`] and the answer is
/// `false`.
pub async fn verify_off_reactor(secret: String, phc: Option<String>) -> bool {
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| dummy_hash().to_string());
    tokio::task::spawn_blocking(move || verify(secret.as_bytes(), &phc))
        .await
        .unwrap_or(false)
        && known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_pass() {
        let phc = hash(b"123456").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify(b"123456", &phc));
        assert!(!verify(b"654321", &phc));
        assert!(verify_off_reactor("123456".into(), Some(phc)).await);
        assert!(!verify_off_reactor("123456".into(), None).await);
    }
}
