//! The security operations center's core (issue 16, part 2): a pure library,
//! no server or HTTP routes.
//!
//! - [`event`]: typed security events shaped like OCSF, with no place for a
//!   secret ([`event::Redacted`], [`event::Label`]).
//! - [`log`]: the append-only, hash-chained event log ([`log::EventLog`]:
//!   [`log::MemoryLog`], [`log::SqliteLog`] in `soc.sqlite`).
//! - [`rules`]: declarative TOML detection rules (threshold, rate, distinct,
//!   sequence) and the streaming [`rules::Detector`]; the built-in e-invoice
//!   rules in `rules/builtin.toml`.
//! - [`incident`]: incidents, their state machine, and reversible response actions.
//! - [`export`]: JSON lines, RFC 5424 syslog over TCP (RFC 6587), a signed webhook.

#![deny(missing_docs)]

pub mod event;
pub mod export;
pub mod incident;
pub mod log;
pub mod rules;

pub use event::{
    Actor, AttrKey, AttrValue, EventClass, Field, Label, Outcome, Redacted, SecurityEvent,
    Severity, Ubn,
};
pub use incident::{
    AlertLine, BlockList, Cidr, Incident, IncidentBook, IncidentState, ResponseAction,
};
pub use log::{EventLog, EventRecord, MemoryLog, SqliteLog};
pub use rules::{Alert, Detector, Rule, builtin_rules, parse_rules};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// Parse hex (either case); `None` if odd or not hex.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}
