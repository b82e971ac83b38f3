//! Event builders shared by the integration tests.
#![allow(dead_code)]

use einvoice_soc::event::*;
use std::net::IpAddr;

pub fn label(s: &str) -> Label {
    Label::new(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A varied event: `i` picks class, actor, address, target and attributes.
pub fn sample(i: u64) -> SecurityEvent {
    let class = EventClass::ALL[usize::try_from(i % 12).unwrap_or(0)];
    let actor = match i % 5 {
        0 => Actor::Seller(Ubn::new("12345675").unwrap_or_else(|e| panic!("{e}"))),
        1 => Actor::Carrier(label("/ABC1234")),
        2 => Actor::Operator(label("alice")),
        3 => Actor::App(label("APP-1")),
        _ => Actor::Anonymous,
    };
    let src = if i.is_multiple_of(7) {
        None
    } else {
        Some(ip(&format!("203.0.113.{}", i % 200)))
    };
    let outcome =
        [Outcome::Success, Outcome::Failure, Outcome::Refused][usize::try_from(i % 3).unwrap_or(0)];
    SecurityEvent::new(
        class,
        Severity::from_id(u8::try_from(i % 7).unwrap_or(0)).unwrap_or(Severity::Low),
        1_700_000_000_000 + i * 1000,
        actor,
        src,
        label(&format!("target-{i}")),
        outcome,
    )
    .with_int(AttrKey::Count, i64::try_from(i).unwrap_or(0))
    .with_text(AttrKey::Reason, "wrong_code")
    .unwrap_or_else(|e| panic!("{e}"))
}
