//! einvoice-secrets: secrets at rest.
//!
//! Every secret a site keeps (API key secrets, App API keys, operators' TOTP
//! secrets, carrier tokens, citizens' bank accounts) is sealed with
//! [`Sealer`] under the site's master key ([`master_key`]) for one
//! [`purpose`], so a value sealed for one use cannot be opened as another.
//! The server seals and opens them while serving; the draw opens bank
//! accounts to write payout files. Nothing here does I/O besides reading and
//! creating the master key file.

pub mod bank;
pub mod master_key;
pub mod purpose;
mod seal;

pub use bank::{BankAccount, BankError, TravellingAccount};
pub use master_key::{MASTER_KEY_FILE, MasterKeyError, load_or_create_master_key};
pub use seal::{SealError, Sealer};
