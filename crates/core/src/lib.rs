//! # einvoice-core
//!
//! Taiwan's e-invoice rules as a pure library: no I/O, no async.
//!
//! - [`ids`], [`period`], [`money`]: typed identifiers that cannot hold an invalid value.
//! - [`model`]: the MIG 4.1 message model (every field of F0401, F0501, F0701, G0401,
//!   G0501, E0401, E0402, E0501 and A0101).
//! - [`validate`]: field and cross-field rules, every failure reported as a [`Violation`].
//! - [`validated`]: the typed facts of a message that passed.
//! - [`resolve`]: invoice state as a deterministic function of the set of its messages.
//! - [`donation`]: which donation of a carrier invoice (發票捐贈) applies, from the set of donation messages.
//! - [`proof`]: barcode and QR code texts of the printed proof, and their parsers.
//! - [`prize`]: prize rules as data per period.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aggregation;
pub mod donation;
pub mod error;
pub mod ids;
pub mod model;
pub mod money;
pub mod period;
pub mod prize;
pub mod proof;
pub mod resolve;
pub mod validate;
pub mod validated;

pub use error::{Violation, Violations};
pub use ids::{
    BuyerId, Carrier, CarrierType, IdPolicy, InvoiceNumber, LoveCode, RandomNumber, Track, Ubn,
};
pub use model::{Message, MessageKind};
pub use money::{Decimal, Money};
pub use period::Period;
pub use prize::{Prize, PrizeTable, WinningNumbers};
/// Re-export of the date/time crate used in the public API.
pub use time;
pub use validate::{Rules, validate};
pub use validated::{Facts, NaturalKey, Validated};
