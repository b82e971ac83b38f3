//! A citizen's bank account (the account prizes are deposited to): checked,
//! sealed bound to its carrier before it reaches the store, opened only to
//! write payout files. Personal data: never logged, never answered but as
//! `***1234`.

use crate::{Sealer, purpose};
use einvoice_store::BankAccountRecord;
use serde::{Deserialize, Serialize};

/// A bank account as entered (personal data: never logged, never answered).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankAccount {
    /// Bank code, 3 digits.
    pub bank_code: String,
    /// Account number, 1–16 digits.
    pub account_number: String,
    /// Account holder's name.
    pub holder_name: String,
}

impl std::fmt::Debug for BankAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankAccount")
            .field("bank_code", &self.bank_code)
            .field("account_number", &self.masked())
            .finish_non_exhaustive()
    }
}

/// Why a bank account was refused or cannot be opened. Codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    /// `BANK_CODE`: not 3 digits.
    #[error("BANK_CODE: the bank code is 3 digits")]
    BankCode,
    /// `BANK_ACCOUNT`: not 1–16 digits.
    #[error("BANK_ACCOUNT: the account number is 1 to 16 digits")]
    Account,
    /// `BANK_HOLDER`: empty, longer than 64 characters or with control characters.
    #[error("BANK_HOLDER: the holder name is 1 to 64 characters without control characters")]
    Holder,
    /// `BANK_SEAL`: sealing or opening failed (wrong master key, another carrier's record).
    #[error("BANK_SEAL: {0}")]
    Seal(String),
}

impl BankError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BankCode => "BANK_CODE",
            Self::Account => "BANK_ACCOUNT",
            Self::Holder => "BANK_HOLDER",
            Self::Seal(_) => "BANK_SEAL",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    carrier: String,
    account: BankAccount,
    /// Hex of 32 random bytes bound into [`TravellingAccount::commitment`]
    /// (absent in accounts sealed before accounts travelled between sites).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    salt: Option<String>,
}

/// Ledger kind of a change of a carrier's prize bank account; its body
/// carries the account's [`TravellingAccount::commitment`] as
/// `account_commitment`.
pub const CARRIER_BANK_ACCOUNT: &str = "CARRIER_BANK_ACCOUNT";

/// Domain of [`TravellingAccount::commitment`].
const COMMITMENT_DOMAIN: &[u8] = b"einvoice/bank-account/v1\0";

/// A bank account as it travels between sites on the records feed (over
/// mutual TLS only): opened at the sending site, sealed again under the
/// receiving site's own master key ([`TravellingAccount::seal`]). Its
/// [`TravellingAccount::commitment`] is what the account's
/// `CARRIER_BANK_ACCOUNT` ledger entry records, so a receiver checks a
/// record against the entry before storing it. Personal data: never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravellingAccount {
    /// The carrier (`type:id`).
    pub carrier: String,
    /// The account.
    pub account: BankAccount,
    /// The salt of the commitment (hex of 32 bytes).
    pub salt: String,
    /// Last change, Unix seconds.
    pub updated_unix: i64,
}

impl std::fmt::Debug for TravellingAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TravellingAccount")
            .field("carrier", &self.carrier)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TravellingAccount {
    /// Lowercase hex `SHA-256("einvoice/bank-account/v1\0" ‖ salt ‖ 0x00 ‖
    /// JSON {carrier, account})`: binds the account to its carrier without
    /// revealing it (the salt, sealed with the account, defeats guessing
    /// the few unknown digits).
    pub fn commitment(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(COMMITMENT_DOMAIN);
        h.update(self.salt.as_bytes());
        h.update([0u8]);
        // Serialising plain strings cannot fail.
        h.update(serde_json::to_vec(&(&self.carrier, &self.account)).unwrap_or_default());
        hex(&h.finalize())
    }

    /// Open a stored record for travel; an account sealed before accounts
    /// travelled (no salt) is `BANK_SEAL`.
    pub fn open(sealer: &Sealer, rec: &BankAccountRecord) -> Result<Self, BankError> {
        let s = open_sealed(sealer, rec)?;
        Ok(Self {
            carrier: s.carrier,
            account: s.account,
            salt: s.salt.ok_or_else(|| {
                BankError::Seal("the account was sealed before accounts travelled".into())
            })?,
            updated_unix: rec.updated_unix,
        })
    }

    /// Check the account and seal it under `sealer` (this site's own master
    /// key) into a store record, keeping its salt (so the commitment holds).
    pub fn seal(&self, sealer: &Sealer) -> Result<BankAccountRecord, BankError> {
        self.account
            .sealed_record(sealer, &self.carrier, self.updated_unix, self.salt.clone())
    }
}

fn open_sealed(sealer: &Sealer, rec: &BankAccountRecord) -> Result<Sealed, BankError> {
    let plain = sealer
        .open(purpose::BANK_ACCOUNT, &rec.sealed)
        .map_err(|e| BankError::Seal(e.to_string()))?;
    let s: Sealed = serde_json::from_slice(&plain)
        .map_err(|_| BankError::Seal("the sealed account is malformed".into()))?;
    if s.carrier != rec.carrier {
        return Err(BankError::Seal(
            "the sealed account belongs to another carrier".into(),
        ));
    }
    Ok(s)
}

impl BankAccount {
    /// Check the formats.
    pub fn check(&self) -> Result<(), BankError> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if self.bank_code.len() != 3 || !digits(&self.bank_code) {
            return Err(BankError::BankCode);
        }
        if self.account_number.len() > 16 || !digits(&self.account_number) {
            return Err(BankError::Account);
        }
        let n = self.holder_name.trim().chars().count();
        if n == 0 || n > 64 || self.holder_name.chars().any(char::is_control) {
            return Err(BankError::Holder);
        }
        Ok(())
    }

    /// `***` and the last 4 digits (fewer when the number is shorter).
    pub fn masked(&self) -> String {
        let a = &self.account_number;
        let tail = &a[a.len().saturating_sub(4)..];
        format!("***{tail}")
    }

    /// Check and seal for `carrier` (`type:id`) into a store record, with a
    /// fresh salt for its [`TravellingAccount::commitment`].
    pub fn seal(
        &self,
        sealer: &Sealer,
        carrier: &str,
        now_unix: i64,
    ) -> Result<BankAccountRecord, BankError> {
        let salt = Sealer::generate_key().map_err(|e| BankError::Seal(e.to_string()))?;
        self.sealed_record(sealer, carrier, now_unix, hex(&salt))
    }

    fn sealed_record(
        &self,
        sealer: &Sealer,
        carrier: &str,
        now_unix: i64,
        salt: String,
    ) -> Result<BankAccountRecord, BankError> {
        self.check()?;
        let plain = serde_json::to_vec(&Sealed {
            carrier: carrier.to_string(),
            account: self.clone(),
            salt: Some(salt),
        })
        .map_err(|e| BankError::Seal(e.to_string()))?;
        let sealed = sealer
            .seal(purpose::BANK_ACCOUNT, &plain)
            .map_err(|e| BankError::Seal(e.to_string()))?;
        Ok(BankAccountRecord {
            carrier: carrier.to_string(),
            sealed,
            masked: self.masked(),
            bank_code: self.bank_code.clone(),
            updated_unix: now_unix,
        })
    }

    /// Open a stored record (checks it belongs to the record's carrier).
    pub fn open(sealer: &Sealer, rec: &BankAccountRecord) -> Result<Self, BankError> {
        Ok(open_sealed(sealer, rec)?.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(code: &str, number: &str, holder: &str) -> BankAccount {
        BankAccount {
            bank_code: code.into(),
            account_number: number.into(),
            holder_name: holder.into(),
        }
    }

    #[test]
    fn formats_masking_and_sealing() {
        assert_eq!(acct("12", "1", "A").check(), Err(BankError::BankCode));
        assert_eq!(acct("812", "", "A").check(), Err(BankError::Account));
        assert_eq!(
            acct("812", "12345678901234567", "A").check(),
            Err(BankError::Account)
        );
        assert_eq!(acct("812", "12a", "A").check(), Err(BankError::Account));
        assert_eq!(acct("812", "1", " ").check(), Err(BankError::Holder));
        let a = acct("812", "0012345678", "王小明");
        assert_eq!(a.masked(), "***5678");
        assert_eq!(acct("812", "12", "x").masked(), "***12");
        assert!(!format!("{a:?}").contains("0012345678"));
        assert!(!format!("{a:?}").contains("王小明"));
        let sealer = Sealer::new(&[7u8; 32]);
        let rec = a.seal(&sealer, "3J0002:/ABC+123", 5).expect("seal");
        let raw = String::from_utf8_lossy(&rec.sealed).into_owned();
        assert!(!raw.contains("0012345678"));
        assert_eq!(BankAccount::open(&sealer, &rec).expect("open"), a);
        let moved = BankAccountRecord {
            carrier: "3J0002:/XYZ+999".into(),
            ..rec.clone()
        };
        assert_eq!(
            BankAccount::open(&sealer, &moved).map_err(|e| e.code()),
            Err("BANK_SEAL")
        );
        assert!(BankAccount::open(&Sealer::new(&[8u8; 32]), &rec).is_err());
    }

    #[test]
    fn a_travelling_account_is_sealed_again_under_the_receivers_key() {
        let a = acct("812", "0012345678", "王小明");
        let (here, there) = (Sealer::new(&[7u8; 32]), Sealer::new(&[9u8; 32]));
        let rec = a.seal(&here, "3J0002:/ABC+123", 5).expect("seal");
        let t = TravellingAccount::open(&here, &rec).expect("open");
        assert_eq!((t.account.clone(), t.updated_unix), (a.clone(), 5));
        assert!(!format!("{t:?}").contains("0012345678"));
        let moved = t.seal(&there).expect("seal again");
        assert!(
            BankAccount::open(&here, &moved).is_err(),
            "not the sender's key"
        );
        let back = TravellingAccount::open(&there, &moved).expect("open there");
        assert_eq!(back.commitment(), t.commitment());
        // Another account, carrier or salt commits to something else.
        for other in [
            TravellingAccount {
                account: acct("812", "0012345679", "王小明"),
                ..t.clone()
            },
            TravellingAccount {
                carrier: "3J0002:/XYZ+999".into(),
                ..t.clone()
            },
            TravellingAccount {
                salt: "00".repeat(32),
                ..t.clone()
            },
        ] {
            assert_ne!(other.commitment(), t.commitment());
        }
        // Each sealing draws a fresh salt.
        let again = a.seal(&here, "3J0002:/ABC+123", 5).expect("seal");
        assert_ne!(
            TravellingAccount::open(&here, &again)
                .expect("open")
                .commitment(),
            t.commitment()
        );
    }
}
