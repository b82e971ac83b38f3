//! Incidents (open → acknowledged → contained → resolved) and response
//! actions, each with its inverse. Types, validation and serialisation only:
//! carrying an action out is the server's job.

use crate::event::{Label, Ubn};
use crate::rules::Alert;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// Errors of incidents and responses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// The state machine refused a transition.
    #[error("soc.transition_refused: an incident cannot go from {from} to {to}")]
    Transition {
        /// Where it is.
        from: IncidentState,
        /// Where it was asked to go.
        to: IncidentState,
    },
    /// A response action that makes no sense.
    #[error("soc.action_invalid: {0}")]
    Action(String),
    /// A note that is empty or too long.
    #[error("soc.note: a note is 1..=2000 characters with no control characters except newlines")]
    Note,
}

/// Where an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Raised, nobody on it yet.
    Open,
    /// Someone owns it.
    Acknowledged,
    /// The attack is stopped (a response action is in place).
    Contained,
    /// Closed.
    Resolved,
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IncidentState::Open => "open",
            IncidentState::Acknowledged => "acknowledged",
            IncidentState::Contained => "contained",
            IncidentState::Resolved => "resolved",
        })
    }
}

impl IncidentState {
    /// Whether `self → to` is allowed: forward along
    /// open → acknowledged → contained → resolved, skipping containment
    /// (a false positive: acknowledged → resolved), and reopening a resolved
    /// incident (resolved → open) when the attack returns.
    pub fn can_go_to(self, to: IncidentState) -> bool {
        use IncidentState::*;
        matches!(
            (self, to),
            (Open, Acknowledged)
                | (Acknowledged, Contained)
                | (Acknowledged, Resolved)
                | (Contained, Resolved)
                | (Resolved, Open)
        )
    }
}

/// A free-text note by a person (not an event: an incident is worked by
/// people, so notes are theirs; still bounded and printable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Note(String);

impl Note {
    /// Check and wrap.
    pub fn new(s: impl Into<String>) -> Result<Self, IncidentError> {
        let s = s.into();
        if s.trim().is_empty()
            || s.chars().count() > 2000
            || s.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(IncidentError::Note);
        }
        Ok(Self(s))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Note {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Note::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What happened on an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineItem {
    /// An alert joined the incident.
    Alert {
        /// The alert.
        alert: Alert,
    },
    /// The state changed.
    State {
        /// From.
        from: IncidentState,
        /// To.
        to: IncidentState,
    },
    /// The owner changed.
    Owner {
        /// The new owner.
        owner: Label,
    },
    /// A note.
    Note {
        /// The text.
        note: Note,
    },
    /// A response action was taken (or reversed: its inverse taken).
    Action {
        /// The action.
        action: ResponseAction,
    },
}

/// One timeline line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When (unix ms).
    pub time_ms: u64,
    /// Who (an operator name, or `system`).
    pub actor: Label,
    /// What.
    pub item: TimelineItem,
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable id.
    pub id: u64,
    /// Where it is.
    pub state: IncidentState,
    /// Who owns it.
    pub owner: Option<Label>,
    /// The alerts it gathers (≥ 1).
    pub alerts: Vec<Alert>,
    /// Everything that happened, in order.
    pub timeline: Vec<TimelineEntry>,
}

impl Incident {
    /// A new open incident for an alert, opened by `system` at the alert's time.
    pub fn open(id: u64, alert: Alert) -> Self {
        let time_ms = alert.opened_at;
        Self {
            id,
            state: IncidentState::Open,
            owner: None,
            alerts: vec![alert.clone()],
            timeline: vec![TimelineEntry {
                time_ms,
                actor: system(),
                item: TimelineItem::Alert { alert },
            }],
        }
    }

    /// Another alert for the same incident.
    pub fn add_alert(&mut self, alert: Alert) {
        self.timeline.push(TimelineEntry {
            time_ms: alert.opened_at,
            actor: system(),
            item: TimelineItem::Alert {
                alert: alert.clone(),
            },
        });
        self.alerts.push(alert);
    }

    /// Move to `to`, or the refused transition named.
    pub fn transition(
        &mut self,
        to: IncidentState,
        time_ms: u64,
        actor: Label,
    ) -> Result<(), IncidentError> {
        if !self.state.can_go_to(to) {
            return Err(IncidentError::Transition {
                from: self.state,
                to,
            });
        }
        self.timeline.push(TimelineEntry {
            time_ms,
            actor,
            item: TimelineItem::State {
                from: self.state,
                to,
            },
        });
        self.state = to;
        Ok(())
    }

    /// Take ownership; acknowledges an open incident.
    pub fn assign(&mut self, owner: Label, time_ms: u64) -> Result<(), IncidentError> {
        if self.state == IncidentState::Open {
            self.transition(IncidentState::Acknowledged, time_ms, owner.clone())?;
        }
        self.timeline.push(TimelineEntry {
            time_ms,
            actor: owner.clone(),
            item: TimelineItem::Owner {
                owner: owner.clone(),
            },
        });
        self.owner = Some(owner);
        Ok(())
    }

    /// Add a note.
    pub fn note(&mut self, time_ms: u64, actor: Label, note: Note) {
        self.timeline.push(TimelineEntry {
            time_ms,
            actor,
            item: TimelineItem::Note { note },
        });
    }

    /// Record a response action (after it was validated and carried out).
    pub fn record_action(
        &mut self,
        time_ms: u64,
        actor: Label,
        action: ResponseAction,
    ) -> Result<(), IncidentError> {
        action.validate(time_ms)?;
        self.timeline.push(TimelineEntry {
            time_ms,
            actor,
            item: TimelineItem::Action { action },
        });
        Ok(())
    }
}

fn system() -> Label {
    // "system" is a valid label by construction.
    Label::new("system").unwrap_or_else(|_| unreachable!("\"system\" is a label"))
}

/// An address or a range (`203.0.113.0/24`, `2001:db8::/32`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network address (host bits zero).
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Parse; host bits must be zero; at least /8 (IPv4) or /16 (IPv6), so
    /// a typo cannot block the world.
    pub fn parse(s: &str) -> Result<Self, IncidentError> {
        let bad = || IncidentError::Action(format!("{s:?} is not an address or CIDR range"));
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        let min = if addr.is_ipv4() { 8 } else { 16 };
        if prefix < min {
            return Err(IncidentError::Action(format!(
                "{s:?} is wider than /{min}: refused"
            )));
        }
        let c = Self { addr, prefix };
        if c.network() != addr {
            return Err(IncidentError::Action(format!(
                "{s:?} has host bits set (network is {}/{prefix})",
                c.network()
            )));
        }
        Ok(c)
    }

    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let m = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(a) & m).into())
            }
            IpAddr::V6(a) => {
                let m = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & m).into())
            }
        }
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                Cidr {
                    addr: ip,
                    prefix: self.prefix,
                }
                .network()
                    == self.addr
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Cidr::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A response action. Every action has an [`inverse`](ResponseAction::inverse)
/// that undoes it, and `a.inverse().inverse() == a`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ResponseAction {
    /// Refuse a client address or range at the edge until `until_ms`.
    BlockClient {
        /// The range.
        range: Cidr,
        /// Unix ms; the block lapses then.
        until_ms: u64,
    },
    /// Lift a block early (`until_ms` is the lifted block's).
    UnblockClient {
        /// The range.
        range: Cidr,
        /// The lifted block's end.
        until_ms: u64,
    },
    /// Revoke a signing or API key.
    RevokeKey {
        /// The key id.
        key_id: Label,
    },
    /// Undo a revocation.
    ReinstateKey {
        /// The key id.
        key_id: Label,
    },
    /// Replace a key by a new one; the old one stops working.
    RotateKey {
        /// The old key.
        key_id: Label,
        /// The new key's id.
        successor: Label,
    },
    /// Undo a rotation: the old key works again, the successor is retired.
    RollBackRotation {
        /// The old key.
        key_id: Label,
        /// The successor to retire.
        successor: Label,
    },
    /// Disable an App API application.
    DisableApp {
        /// The app id.
        app_id: Label,
    },
    /// Enable it again.
    EnableApp {
        /// The app id.
        app_id: Label,
    },
    /// Refuse a seller's submissions.
    FreezeSeller {
        /// The seller.
        ubn: Ubn,
    },
    /// Accept them again.
    UnfreezeSeller {
        /// The seller.
        ubn: Ubn,
    },
    /// The carrier must verify again (its sessions and code check reset).
    ForceCarrierReverify {
        /// The carrier id.
        carrier: Label,
    },
    /// Drop that requirement.
    ClearCarrierReverify {
        /// The carrier id.
        carrier: Label,
    },
    /// The site refuses every write.
    SiteReadOnly,
    /// The site accepts writes again.
    SiteReadWrite,
}

impl ResponseAction {
    /// The action that undoes this one.
    pub fn inverse(&self) -> ResponseAction {
        use ResponseAction::*;
        match self.clone() {
            BlockClient { range, until_ms } => UnblockClient { range, until_ms },
            UnblockClient { range, until_ms } => BlockClient { range, until_ms },
            RevokeKey { key_id } => ReinstateKey { key_id },
            ReinstateKey { key_id } => RevokeKey { key_id },
            RotateKey { key_id, successor } => RollBackRotation { key_id, successor },
            RollBackRotation { key_id, successor } => RotateKey { key_id, successor },
            DisableApp { app_id } => EnableApp { app_id },
            EnableApp { app_id } => DisableApp { app_id },
            FreezeSeller { ubn } => UnfreezeSeller { ubn },
            UnfreezeSeller { ubn } => FreezeSeller { ubn },
            ForceCarrierReverify { carrier } => ClearCarrierReverify { carrier },
            ClearCarrierReverify { carrier } => ForceCarrierReverify { carrier },
            SiteReadOnly => SiteReadWrite,
            SiteReadWrite => SiteReadOnly,
        }
    }

    /// Whether this action contains (true) or undoes a containment (false).
    pub fn contains_threat(&self) -> bool {
        use ResponseAction::*;
        matches!(
            self,
            BlockClient { .. }
                | RevokeKey { .. }
                | RotateKey { .. }
                | DisableApp { .. }
                | FreezeSeller { .. }
                | ForceCarrierReverify { .. }
                | SiteReadOnly
        )
    }

    /// Check it against the clock: a block ends in the future and lasts at
    /// most 30 days; a rotation names a different successor.
    pub fn validate(&self, now_ms: u64) -> Result<(), IncidentError> {
        match self {
            ResponseAction::BlockClient { until_ms, .. } => {
                if *until_ms <= now_ms {
                    return Err(IncidentError::Action(
                        "a block must end in the future".into(),
                    ));
                }
                if *until_ms - now_ms > 30 * 86_400_000 {
                    return Err(IncidentError::Action(
                        "a block lasts at most 30 days".into(),
                    ));
                }
                Ok(())
            }
            ResponseAction::RotateKey { key_id, successor }
            | ResponseAction::RollBackRotation { key_id, successor } => {
                if key_id == successor {
                    return Err(IncidentError::Action(
                        "a key's successor must be another key".into(),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The incidents of a site: every alert opens an incident, or joins the
/// unresolved one of the same rule and key (so a long attack is one
/// incident, however many windows it spans).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentBook {
    incidents: Vec<Incident>,
}

impl IncidentBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// File an alert; the id of the incident it opened or joined.
    pub fn file(&mut self, alert: Alert) -> u64 {
        if let Some(i) = self.incidents.iter_mut().find(|i| {
            i.state != IncidentState::Resolved
                && i.alerts
                    .first()
                    .is_some_and(|a| a.rule == alert.rule && a.key == alert.key)
        }) {
            i.add_alert(alert);
            return i.id;
        }
        let id = self.incidents.last().map_or(1, |i| i.id + 1);
        self.incidents.push(Incident::open(id, alert));
        id
    }

    /// An incident by id.
    pub fn get(&self, id: u64) -> Option<&Incident> {
        self.incidents.iter().find(|i| i.id == id)
    }

    /// An incident by id, to work it.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Incident> {
        self.incidents.iter_mut().find(|i| i.id == id)
    }

    /// Every incident, oldest first.
    pub fn all(&self) -> &[Incident] {
        &self.incidents
    }
}

/// One line of `einvoice soc alerts --json`: the alert and its incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertLine {
    /// The rule id.
    pub rule: String,
    /// The rule's severity.
    pub severity: crate::event::Severity,
    /// What the rule counted by.
    pub key: String,
    /// When it fired (unix ms).
    pub opened_at: u64,
    /// The incident it opened or joined.
    pub incident: u64,
    /// Events in the window when it fired.
    pub events: usize,
}

impl AlertLine {
    /// The line for an alert filed as `incident`.
    pub fn new(alert: &Alert, incident: u64) -> Self {
        Self {
            rule: alert.rule.clone(),
            severity: alert.severity,
            key: alert.key.clone(),
            opened_at: alert.opened_at,
            incident,
            events: alert.events,
        }
    }
}

/// The edge's view of the block actions in force: apply each
/// `BlockClient`/`UnblockClient` as it is taken, ask per request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockList {
    entries: Vec<(Cidr, u64)>,
}

impl BlockList {
    /// No blocks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Apply an action (others are ignored): a block adds or extends the
    /// range's entry, an unblock removes it.
    pub fn apply(&mut self, action: &ResponseAction) {
        match action {
            ResponseAction::BlockClient { range, until_ms } => {
                match self.entries.iter_mut().find(|(r, _)| r == range) {
                    Some(e) => e.1 = e.1.max(*until_ms),
                    None => self.entries.push((*range, *until_ms)),
                }
            }
            ResponseAction::UnblockClient { range, .. } => {
                self.entries.retain(|(r, _)| r != range);
            }
            _ => {}
        }
    }

    /// The range blocking `ip` at `now_ms`, if any.
    pub fn blocked(&self, ip: IpAddr, now_ms: u64) -> Option<Cidr> {
        self.entries
            .iter()
            .find(|(r, until)| now_ms < *until && r.contains(ip))
            .map(|(r, _)| *r)
    }

    /// Drop lapsed blocks.
    pub fn prune(&mut self, now_ms: u64) {
        self.entries.retain(|(_, until)| now_ms < *until);
    }

    /// Blocks in force (lapsed ones until pruned).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No blocks.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The JSON body of an incident notification (for [`crate::export::post_webhook`]):
/// `{"type":"incident","incident":{..}}`.
pub fn notification_body(incident: &Incident) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&serde_json::json!({ "type": "incident", "incident": incident }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Severity;

    fn alert() -> Alert {
        Alert {
            rule: "r".into(),
            severity: Severity::High,
            key: "k".into(),
            opened_at: 10,
            events: 3,
            first_seen: 1,
            last_seen: 10,
        }
    }

    fn l(s: &str) -> Label {
        Label::new(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_state_machine_allows_only_its_transitions() {
        use IncidentState::*;
        let all = [Open, Acknowledged, Contained, Resolved];
        let allowed = [
            (Open, Acknowledged),
            (Acknowledged, Contained),
            (Acknowledged, Resolved),
            (Contained, Resolved),
            (Resolved, Open),
        ];
        for from in all {
            for to in all {
                let mut i = Incident::open(1, alert());
                i.state = from;
                let r = i.transition(to, 20, l("alice"));
                if allowed.contains(&(from, to)) {
                    assert_eq!(r, Ok(()));
                    assert_eq!(i.state, to);
                } else {
                    assert_eq!(r, Err(IncidentError::Transition { from, to }));
                    assert_eq!(i.state, from, "a refused transition changes nothing");
                    let msg = IncidentError::Transition { from, to }.to_string();
                    assert!(msg.contains(&from.to_string()) && msg.contains(&to.to_string()));
                }
            }
        }
    }

    #[test]
    fn an_incident_is_worked_and_its_timeline_round_trips() {
        let mut i = Incident::open(7, alert());
        assert!(i.assign(l("alice"), 11).is_ok());
        assert_eq!(i.state, IncidentState::Acknowledged);
        i.note(
            12,
            l("alice"),
            Note::new("blocking the client").unwrap_or_else(|e| panic!("{e}")),
        );
        let block = ResponseAction::BlockClient {
            range: Cidr::parse("203.0.113.0/24").unwrap_or_else(|e| panic!("{e}")),
            until_ms: 3_600_012,
        };
        assert!(i.record_action(12, l("alice"), block).is_ok());
        assert!(
            i.transition(IncidentState::Contained, 13, l("alice"))
                .is_ok()
        );
        assert!(
            i.transition(IncidentState::Resolved, 14, l("alice"))
                .is_ok()
        );
        assert_eq!(i.timeline.len(), 7);
        let json = serde_json::to_string(&i).unwrap_or_default();
        let back: Incident = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, i);
    }

    #[test]
    fn every_action_has_an_involutive_inverse() {
        let c = Cidr::parse("2001:db8::/32").unwrap_or_else(|e| panic!("{e}"));
        let u = Ubn::new("12345675").unwrap_or_else(|e| panic!("{e}"));
        let actions = vec![
            ResponseAction::BlockClient {
                range: c,
                until_ms: 5,
            },
            ResponseAction::RevokeKey { key_id: l("K1") },
            ResponseAction::RotateKey {
                key_id: l("K1"),
                successor: l("K2"),
            },
            ResponseAction::DisableApp { app_id: l("APP") },
            ResponseAction::FreezeSeller { ubn: u },
            ResponseAction::ForceCarrierReverify {
                carrier: l("/ABC1234"),
            },
            ResponseAction::SiteReadOnly,
        ];
        for a in actions {
            assert!(a.contains_threat());
            let inv = a.inverse();
            assert_ne!(inv, a);
            assert!(!inv.contains_threat());
            assert_eq!(inv.inverse(), a);
            let json = serde_json::to_string(&a).unwrap_or_default();
            let back: ResponseAction =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back, a);
        }
    }

    #[test]
    fn alerts_of_one_rule_and_key_share_an_incident_until_it_is_resolved() {
        let mut book = IncidentBook::new();
        let a = alert();
        let id = book.file(a.clone());
        assert_eq!(
            book.file(Alert {
                opened_at: 99,
                ..a.clone()
            }),
            id
        );
        let other = book.file(Alert {
            key: "k2".into(),
            ..a.clone()
        });
        assert_ne!(other, id);
        assert_eq!(book.get(id).map(|i| i.alerts.len()), Some(2));
        let i = book.get_mut(id).unwrap_or_else(|| panic!("filed"));
        assert!(i.assign(l("alice"), 100).is_ok());
        assert!(
            i.transition(IncidentState::Resolved, 101, l("alice"))
                .is_ok()
        );
        let again = book.file(Alert {
            opened_at: 200,
            ..a.clone()
        });
        assert!(
            again != id && again != other,
            "a resolved incident is not reused"
        );
        let line = serde_json::to_value(AlertLine::new(&a, id)).unwrap_or_default();
        for k in ["rule", "severity", "key", "opened_at", "incident"] {
            assert!(line.get(k).is_some(), "{k} in {line}");
        }
    }

    #[test]
    fn the_block_list_blocks_a_range_until_it_lapses_or_is_lifted() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap_or_else(|e| panic!("{e}")) };
        let range = Cidr::parse("203.0.113.0/24").unwrap_or_else(|e| panic!("{e}"));
        let block = ResponseAction::BlockClient {
            range,
            until_ms: 1_000,
        };
        let mut bl = BlockList::new();
        bl.apply(&block);
        assert_eq!(bl.blocked(ip("203.0.113.9"), 10), Some(range));
        assert_eq!(
            bl.blocked(ip("198.51.100.9"), 10),
            None,
            "others are served"
        );
        assert_eq!(bl.blocked(ip("203.0.113.9"), 1_000), None, "lapsed");
        bl.apply(&ResponseAction::BlockClient {
            range,
            until_ms: 500,
        });
        assert_eq!(
            bl.blocked(ip("203.0.113.9"), 900),
            Some(range),
            "a shorter block does not shorten"
        );
        bl.apply(&block.inverse());
        assert_eq!(bl.blocked(ip("203.0.113.9"), 10), None, "lifted");
        bl.apply(&block);
        bl.prune(2_000);
        assert!(bl.is_empty());
        let mut i = Incident::open(3, alert());
        i.note(
            11,
            l("alice"),
            Note::new("x").unwrap_or_else(|e| panic!("{e}")),
        );
        let body = notification_body(&i).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(v["type"], "incident");
        assert_eq!(v["incident"]["id"], 3);
    }

    #[test]
    fn actions_are_validated() {
        let c = Cidr::parse("198.51.100.7").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.prefix, 32);
        let past = ResponseAction::BlockClient {
            range: c,
            until_ms: 5,
        };
        assert!(past.validate(10).is_err());
        let forever = ResponseAction::BlockClient {
            range: c,
            until_ms: u64::MAX,
        };
        assert!(forever.validate(10).is_err());
        let ok = ResponseAction::BlockClient {
            range: c,
            until_ms: 60_010,
        };
        assert!(ok.validate(10).is_ok());
        let same = ResponseAction::RotateKey {
            key_id: l("K"),
            successor: l("K"),
        };
        assert!(same.validate(0).is_err());
        for bad in [
            "0.0.0.0/0",
            "10.0.0.1/24",
            "10.0.0.0/33",
            "::/0",
            "x",
            "10.0.0.0/",
            "10.0.0.0/+8",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(
            serde_json::from_str::<ResponseAction>(
                r#"{"action":"block_client","range":"0.0.0.0/0","until_ms":1}"#
            )
            .is_err()
        );
        let r = Cidr::parse("203.0.113.0/24").unwrap_or_else(|e| panic!("{e}"));
        assert!(r.contains("203.0.113.77".parse().unwrap_or_else(|e| panic!("{e}"))));
        assert!(!r.contains("203.0.114.1".parse().unwrap_or_else(|e| panic!("{e}"))));
        assert!(!r.contains("::1".parse().unwrap_or_else(|e| panic!("{e}"))));
    }
}
