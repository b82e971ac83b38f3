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

    /// Check and seal for `carrier` (`type:id`) into a store record.
    pub fn seal(
        &self,
        sealer: &Sealer,
        carrier: &str,
        now_unix: i64,
    ) -> Result<BankAccountRecord, BankError> {
        self.check()?;
        let plain = serde_json::to_vec(&Sealed {
            carrier: carrier.to_string(),
            account: self.clone(),
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
        Ok(s.account)
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
}
