//! The purpose strings values are sealed under (bound as AES-GCM associated
//! data): one per kind of secret, so a sealed value of one kind cannot be
//! opened as another.

/// Seller / integrator API key secrets.
pub const API_KEY: &str = "api-key";
/// MOF App API application keys.
pub const APP_KEY: &str = "app-key";
/// Operators' TOTP secrets.
pub const TOTP: &str = "totp";
/// Citizens' bank accounts (prize deposits).
pub const BANK_ACCOUNT: &str = "bank-account";
/// Carrier bearer tokens (stateless: every node of a site opens them).
pub const CARRIER_TOKEN: &str = "carrier-token";
/// Sellers' QR verification-field keys (the 32 hex digits as text).
pub const QR_KEY: &str = "qr-key";
