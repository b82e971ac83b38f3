//! Sealing secrets at rest: API key secrets, TOTP secrets, sellers' QR keys
//! and bank account numbers are stored as AES-256-GCM ciphertext under the
//! site's master key. Format: `v1` tag byte `0x01` ‖ 12-byte random nonce ‖
//! ciphertext+tag. The purpose string is bound as associated data so a sealed
//! TOTP secret cannot be replayed as an API key secret.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Too short or unknown version.
    #[error("SEAL_FORMAT: sealed value is malformed")]
    Format,
    /// Wrong key, wrong purpose, or tampered ciphertext.
    #[error("SEAL_AUTH: sealed value failed authentication (wrong master key or tampered)")]
    Auth,
    /// The random source failed.
    #[error("SEAL_RANDOM: the system random source failed")]
    Random,
}

/// The site's master key. `Debug` never shows it.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer for a 32-byte master key.
    pub fn new(master_key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(master_key.into()),
        }
    }

    /// A fresh random master key (for `up` and bootstrap).
    pub fn generate_key() -> Result<[u8; 32], SealError> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|_| SealError::Random)?;
        Ok(k)
    }

    /// Seal `plaintext` for `purpose` (e.g. `"api-key"`, `"totp"`).
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let ct = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SealError::Auth)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Open a value sealed for `purpose`.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Format)?;
        if version != VERSION || rest.len() < NONCE_LEN + 16 {
            return Err(SealError::Format);
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Format)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SealError::Auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_purpose_binding_and_tamper_detection() {
        let s = Sealer::new(&[7u8; 32]);
        let sealed = s.seal("api-key", b"secret").expect("seal");
        assert_eq!(s.open("api-key", &sealed).expect("open"), b"secret");
        assert_eq!(s.open("totp", &sealed), Err(SealError::Auth));
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(s.open("api-key", &bad), Err(SealError::Auth));
        assert_eq!(s.open("api-key", &sealed[..5]), Err(SealError::Format));
        let other = Sealer::new(&[8u8; 32]);
        assert_eq!(other.open("api-key", &sealed), Err(SealError::Auth));
        // Two seals of the same value differ (random nonce).
        assert_ne!(s.seal("api-key", b"secret").expect("seal"), sealed);
    }
}
