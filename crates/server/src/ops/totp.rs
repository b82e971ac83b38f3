//! Operators' TOTP (RFC 6238): SHA-1, 6 digits, 30 s steps, ±1 step of skew.

use super::state::OpsError;
use totp_rs::{Algorithm, Builder, Totp};

/// Issuer shown by authenticator apps.
pub const TOTP_ISSUER: &str = "einvoice";

/// The TOTP of an operator's secret, labelled with the issuer and the name.
pub(super) fn totp_for(secret: Vec<u8>, name: &str) -> Result<Totp, OpsError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(TOTP_ISSUER))
        .with_account_name(name)
        .build()
        .map_err(|_| OpsError::Crypto("TOTP set-up failed"))
}
