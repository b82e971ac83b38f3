//! einvoice-draw: the Uniform Invoice draw (統一發票給獎) on a site's store.
//!
//! The draw of a period goes through these steps; each is one function,
//! generic over [`einvoice_store::Store`] where it touches the store, taking
//! typed inputs and returning a typed result the command line prints:
//!
//! 1. [`freeze()`] — page the period's eligible invoices out of the store into
//!    a snapshot file and record its root once (`DRAW_FREEZE`).
//! 2. [`commit()`] — draw the secret seed and compute the commitment to
//!    publish with the snapshot root before the winning numbers are drawn.
//! 3. [`run_on_site()`] — the published winning numbers (中獎號碼) from the
//!    store, the draw over the frozen snapshot, the winners loaded once
//!    (`DRAW_WINNERS`) and the draw directory written. [`run_from_files()`]
//!    is the same draw over files only.
//! 4. [`payouts()`] — payout files from the stored winners, bank accounts
//!    opened with the site's master key ([`site_sealer`]).
//!
//! Verifying and reporting a draw directory need no store and live in
//! [`einvoice_analytics::draw`]. The computation itself (match, cloud draw,
//! files) is [`einvoice_analytics`]; this crate is the workflow around it.
//!
//! **Adding a step**: give it a module here with one function generic over
//! `S: Store` (or none, if it only reads and writes files), an input struct
//! when it takes more than a few values, a result struct for the caller to
//! print (no printing here), and its refusals as new [`DrawError`] variants
//! whose message starts with a stable code. Ledger bodies come only from the
//! store's builders ([`einvoice_store::DrawFreeze::ledger_entry`],
//! [`einvoice_store::WinnersLoad::ledger_entry`]). Progress is reported
//! through a `&dyn Fn(Event)` callback; the command line draws the bars.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod files;
pub mod freeze;
pub mod payouts;
pub mod run;
pub mod synth;

pub use einvoice_analytics::draw::Event;
pub use error::DrawError;
pub use files::{Committed, commit, parse_commitment, read_prize_table, read_seed};
pub use freeze::{Frozen, freeze};
pub use payouts::{CategoryTotal, Payouts, payouts, site_sealer};
pub use run::{RunInputs, SiteRun, SiteRunDone, run_from_files, run_on_site};

pub use einvoice_store::operator_actor;
