//! Declarative detection rules (TOML) and the streaming [`Detector`].
//!
//! ```toml
//! [[rule]]
//! id = "carrier-code-guessing"
//! title = "Verification-code guessing against one carrier"
//! severity = "high"
//! kind = "threshold"          # threshold | rate | distinct | sequence
//! window_s = 3600
//! count = 10                  # threshold, distinct
//! # per_second = 50.0         # rate
//! # field = "attr.invoice_number"   # distinct: the field whose values are counted
//! key = ["target"]            # class | outcome | actor | src | target | attr.<name>
//! [rule.match]                # every event counted (sequence: the first event)
//! class = ["authentication"]
//! outcome = "failure"
//! attrs = { subject = "carrier" }
//! # hours = { from = 8, to = 20, utc_offset_minutes = 480 }  # only events OUTSIDE 08:00–20:00
//! # [rule.then]               # sequence: the second event
//! ```
//!
//! # Semantics (what the reference in the tests implements)
//!
//! Events are fed in time order; an event older than the newest seen is
//! taken at the newest time (the detector's clock never steps back). For an
//! event at time `t` that matches a rule and has every key field, the
//! window is the matching events of the same key with time in `(t - W, t]`.
//! - `threshold`: the window holds ≥ `count` events.
//! - `rate`: the window holds ≥ `per_second × W` events.
//! - `distinct`: the window's events hold ≥ `count` distinct values of `field`
//!   (events without the field are not counted).
//! - `sequence`: the event matches `then` and the window holds a `match`
//!   event strictly before it (an event matching both does not pair with itself).
//!
//! A rule raises at most one [`Alert`] per key per window: after an alert
//! opened at `t0`, the same key raises again only at `t ≥ t0 + W`.

use crate::event::{AttrKey, EventClass, Field, Label, Outcome, SecurityEvent, Severity};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The built-in e-invoice rules (`rules/builtin.toml`).
pub const BUILTIN_RULES: &str = include_str!("../rules/builtin.toml");

/// Errors in a rules file.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// Not TOML, or a field of the wrong type or unknown.
    #[error("soc.rules_toml: {0}")]
    Toml(#[from] toml::de::Error),
    /// A rule that parses but makes no sense.
    #[error("soc.rule_invalid: rule {id:?}: {message}")]
    Invalid {
        /// The rule.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// Two rules with one id.
    #[error("soc.rule_duplicate: two rules are named {0:?}")]
    Duplicate(String),
    /// A saved detector state names rules that are not loaded.
    #[error("soc.state_mismatch: the saved state names rule {0:?}, which is not loaded")]
    StateMismatch(String),
}

/// A scalar in a rule's attribute filter (compared as text).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Bool(bool),
    Str(String),
}

impl Scalar {
    fn render(&self) -> String {
        match self {
            Scalar::Int(i) => i.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FilterSpec {
    #[serde(default)]
    class: Vec<EventClass>,
    outcome: Option<Outcome>,
    #[serde(default)]
    attrs: BTreeMap<String, Scalar>,
    hours: Option<Hours>,
}

/// Office hours; a filter with `hours` matches only events outside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    /// First office hour (0..=23), local.
    pub from: u8,
    /// First hour after office hours (1..=24), local.
    pub to: u8,
    /// Local time's offset from UTC in minutes (Taiwan: 480).
    #[serde(default)]
    pub utc_offset_minutes: i32,
}

impl Hours {
    /// Whether `time_ms` falls outside office hours.
    pub fn outside(&self, time_ms: u64) -> bool {
        let secs = i64::try_from(time_ms / 1000).unwrap_or(i64::MAX);
        let local = secs.saturating_add(i64::from(self.utc_offset_minutes) * 60);
        let hour = local.rem_euclid(86_400) / 3600;
        !(i64::from(self.from) <= hour && hour < i64::from(self.to))
    }
}

/// Which events a rule counts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// Any of these classes (empty: any class).
    pub classes: Vec<EventClass>,
    /// This outcome, if given.
    pub outcome: Option<Outcome>,
    /// Attributes equal to these values (as text).
    pub attrs: Vec<(AttrKey, String)>,
    /// Only events outside these hours, if given.
    pub hours: Option<Hours>,
}

impl Filter {
    /// Whether the event passes.
    pub fn matches(&self, e: &SecurityEvent) -> bool {
        (self.classes.is_empty() || self.classes.contains(&e.class))
            && self.outcome.is_none_or(|o| o == e.outcome)
            && self
                .attrs
                .iter()
                .all(|(k, v)| e.attrs.get(k).is_some_and(|a| a.render() == *v))
            && self.hours.is_none_or(|h| h.outside(e.time_ms))
    }

    fn from_spec(id: &str, s: FilterSpec) -> Result<Self, RuleError> {
        let mut attrs = Vec::new();
        for (k, v) in s.attrs {
            let key = AttrKey::parse(&k).map_err(|e| RuleError::Invalid {
                id: id.into(),
                message: e.to_string(),
            })?;
            attrs.push((key, v.render()));
        }
        if let Some(h) = s.hours
            && (h.from > 23 || h.to > 24 || h.from >= h.to)
        {
            return Err(RuleError::Invalid {
                id: id.into(),
                message: "hours needs 0 <= from < to <= 24".into(),
            });
        }
        Ok(Self {
            classes: s.class,
            outcome: s.outcome,
            attrs,
            hours: s.hours,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    title: String,
    severity: Severity,
    kind: String,
    window_s: u64,
    key: Vec<Field>,
    count: Option<u32>,
    per_second: Option<f64>,
    field: Option<Field>,
    #[serde(rename = "match", default)]
    filter: FilterSpec,
    then: Option<FilterSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// What a rule counts.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// ≥ `count` matching events per key in the window.
    Threshold {
        /// The threshold.
        count: u32,
    },
    /// ≥ `per_second` matching events per second over the window.
    Rate {
        /// The rate.
        per_second: f64,
    },
    /// ≥ `count` distinct values of `field` per key in the window.
    Distinct {
        /// The field whose values are counted.
        field: Field,
        /// The threshold.
        count: u32,
    },
    /// A `match` event then a `then` event of the same key within the window.
    Sequence {
        /// The second event.
        then: Filter,
    },
}

/// One detection rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Stable id (`carrier-code-guessing`).
    pub id: Label,
    /// What it means, for a person.
    pub title: String,
    /// The alert's severity.
    pub severity: Severity,
    /// The window in milliseconds (> 0).
    pub window_ms: u64,
    /// The key fields (≥ 1).
    pub key: Vec<Field>,
    /// Which events are counted (sequence: the first event).
    pub filter: Filter,
    /// What is counted.
    pub kind: RuleKind,
}

impl Rule {
    fn from_spec(s: RuleSpec) -> Result<Self, RuleError> {
        let id = s.id.clone();
        let bad = |m: &str| RuleError::Invalid {
            id: id.clone(),
            message: m.into(),
        };
        let label = Label::new(s.id.clone()).map_err(|e| bad(&e.to_string()))?;
        if s.window_s == 0 || s.window_s > 400 * 86_400 {
            return Err(bad("window_s must be 1..=34560000"));
        }
        if s.key.is_empty() {
            return Err(bad("key needs at least one field"));
        }
        let kind = match s.kind.as_str() {
            "threshold" => {
                if s.per_second.is_some() || s.field.is_some() || s.then.is_some() {
                    return Err(bad("threshold takes only count"));
                }
                RuleKind::Threshold {
                    count: s
                        .count
                        .filter(|c| *c >= 1)
                        .ok_or_else(|| bad("count >= 1 needed"))?,
                }
            }
            "rate" => {
                if s.count.is_some() || s.field.is_some() || s.then.is_some() {
                    return Err(bad("rate takes only per_second"));
                }
                let per_second = s
                    .per_second
                    .filter(|r| r.is_finite() && *r > 0.0)
                    .ok_or_else(|| bad("per_second > 0 needed"))?;
                RuleKind::Rate { per_second }
            }
            "distinct" => {
                if s.per_second.is_some() || s.then.is_some() {
                    return Err(bad("distinct takes count and field"));
                }
                RuleKind::Distinct {
                    field: s.field.ok_or_else(|| bad("field needed"))?,
                    count: s
                        .count
                        .filter(|c| *c >= 1)
                        .ok_or_else(|| bad("count >= 1 needed"))?,
                }
            }
            "sequence" => {
                if s.per_second.is_some() || s.field.is_some() || s.count.is_some() {
                    return Err(bad("sequence takes only then"));
                }
                let then = s.then.ok_or_else(|| bad("then needed"))?;
                RuleKind::Sequence {
                    then: Filter::from_spec(&id, then)?,
                }
            }
            other => return Err(bad(&format!("unknown kind {other:?}"))),
        };
        Ok(Self {
            id: label,
            title: s.title,
            severity: s.severity,
            window_ms: s.window_s * 1000,
            key: s.key,
            filter: Filter::from_spec(&id, s.filter)?,
            kind,
        })
    }

    /// The key of an event under this rule (`None` if a key field is missing).
    pub fn key_of(&self, e: &SecurityEvent) -> Option<String> {
        let mut parts = Vec::with_capacity(self.key.len());
        for f in &self.key {
            parts.push(e.field(f)?);
        }
        Some(parts.join("|"))
    }

    /// Whether `count` events in a window are enough to raise.
    pub fn enough(&self, count: usize) -> bool {
        match &self.kind {
            RuleKind::Threshold { count: n } | RuleKind::Distinct { count: n, .. } => {
                count >= usize::try_from(*n).unwrap_or(usize::MAX)
            }
            RuleKind::Rate { per_second } => {
                (count as f64) * 1000.0 >= per_second * (self.window_ms as f64)
            }
            RuleKind::Sequence { .. } => count >= 1,
        }
    }
}

/// Parse a rules file.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, RuleError> {
    let file: RulesFile = toml::from_str(text)?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for spec in file.rule {
        if !seen.insert(spec.id.clone()) {
            return Err(RuleError::Duplicate(spec.id));
        }
        out.push(Rule::from_spec(spec)?);
    }
    Ok(out)
}

/// The built-in rules, parsed.
pub fn builtin_rules() -> Result<Vec<Rule>, RuleError> {
    parse_rules(BUILTIN_RULES)
}

/// A rule fired for a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The rule id.
    pub rule: String,
    /// The rule's severity.
    pub severity: Severity,
    /// What the rule counted by (a carrier, a client address, ...; `|`-joined for several fields).
    pub key: String,
    /// When it fired (the detector's time of the triggering event).
    pub opened_at: u64,
    /// Matching events in the window when it fired (sequence: first events + the second).
    pub events: usize,
    /// The earliest of them.
    pub first_seen: u64,
    /// The latest of them (= `opened_at`).
    pub last_seen: u64,
}

/// Per key state of one rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct KeyState {
    /// Times (and, for `distinct`, values) of the window's events.
    events: VecDeque<(u64, Option<String>)>,
    /// `distinct`: how many of the window's events hold each value.
    #[serde(default)]
    counts: BTreeMap<String, u32>,
    /// When the last alert for this key opened.
    last_alert: Option<u64>,
}

/// The detector's whole state: serialisable, so a restarted detector
/// continues where the last one stopped ([`Detector::with_state`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorState {
    /// The detector's clock: the newest event time seen.
    pub now_ms: u64,
    fed: u64,
    /// Sweep when `fed` reaches this (amortised: the gap is at least the
    /// number of keys left after the last sweep).
    #[serde(default)]
    sweep_at: u64,
    keys: BTreeMap<String, BTreeMap<String, KeyState>>,
}

/// The least number of events fed between two sweeps of emptied keys.
const SWEEP_EVERY: u64 = 64;

/// The streaming detector.
#[derive(Debug, Clone)]
pub struct Detector {
    rules: Vec<Rule>,
    state: DetectorState,
}

impl Detector {
    /// A fresh detector for these rules.
    pub fn new(rules: Vec<Rule>) -> Self {
        Self {
            rules,
            state: DetectorState::default(),
        }
    }

    /// A detector continuing from a saved state.
    pub fn with_state(rules: Vec<Rule>, state: DetectorState) -> Result<Self, RuleError> {
        for id in state.keys.keys() {
            if !rules.iter().any(|r| r.id.as_str() == id) {
                return Err(RuleError::StateMismatch(id.clone()));
            }
        }
        Ok(Self { rules, state })
    }

    /// The state, to save.
    pub fn state(&self) -> &DetectorState {
        &self.state
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Keys currently tracked (all rules): memory use is proportional.
    pub fn tracked_keys(&self) -> usize {
        self.state.keys.values().map(BTreeMap::len).sum()
    }

    /// Feed one event; the alerts it raises.
    pub fn feed(&mut self, e: &SecurityEvent) -> Vec<Alert> {
        let t = e.time_ms.max(self.state.now_ms);
        self.state.now_ms = t;
        self.state.fed += 1;
        let mut out = Vec::new();
        for rule in &self.rules {
            let first = rule.filter.matches(e);
            let second = match &rule.kind {
                RuleKind::Sequence { then } => then.matches(e),
                _ => false,
            };
            if !first && !second {
                continue;
            }
            let Some(key) = rule.key_of(e) else {
                continue;
            };
            let value = match &rule.kind {
                RuleKind::Distinct { field, .. } => match e.field(field) {
                    Some(v) => Some(v),
                    None => continue,
                },
                _ => None,
            };
            if !self.state.keys.contains_key(rule.id.as_str()) {
                self.state
                    .keys
                    .insert(rule.id.as_str().to_owned(), BTreeMap::new());
            }
            let Some(keys) = self.state.keys.get_mut(rule.id.as_str()) else {
                continue;
            };
            let ks = keys.entry(key.clone()).or_default();
            evict(ks, t, rule.window_ms);
            let (triggered, count, first_seen) = match &rule.kind {
                RuleKind::Sequence { .. } => {
                    let hit = second && !ks.events.is_empty();
                    let summary = (
                        hit,
                        ks.events.len() + 1,
                        ks.events.front().map_or(t, |x| x.0),
                    );
                    if first {
                        ks.events.push_back((t, None));
                    }
                    summary
                }
                RuleKind::Distinct { .. } => {
                    if let Some(v) = &value {
                        *ks.counts.entry(v.clone()).or_default() += 1;
                    }
                    ks.events.push_back((t, value));
                    (
                        rule.enough(ks.counts.len()),
                        ks.events.len(),
                        ks.events.front().map_or(t, |x| x.0),
                    )
                }
                _ => {
                    ks.events.push_back((t, None));
                    (
                        rule.enough(ks.events.len()),
                        ks.events.len(),
                        ks.events.front().map_or(t, |x| x.0),
                    )
                }
            };
            let quiet = ks
                .last_alert
                .is_none_or(|a| a.saturating_add(rule.window_ms) <= t);
            if triggered && quiet {
                ks.last_alert = Some(t);
                out.push(Alert {
                    rule: rule.id.as_str().to_owned(),
                    severity: rule.severity,
                    key,
                    opened_at: t,
                    events: count,
                    first_seen,
                    last_seen: t,
                });
            }
        }
        if self.state.fed >= self.state.sweep_at {
            self.sweep();
            let left = u64::try_from(self.tracked_keys()).unwrap_or(u64::MAX);
            self.state.sweep_at = self.state.fed.saturating_add(left.max(SWEEP_EVERY));
        }
        out
    }

    /// Feed several events in order.
    pub fn feed_all<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a SecurityEvent>,
    ) -> Vec<Alert> {
        events.into_iter().flat_map(|e| self.feed(e)).collect()
    }

    /// Drop window entries and keys that can no longer matter.
    fn sweep(&mut self) {
        let now = self.state.now_ms;
        for rule in &self.rules {
            if let Some(keys) = self.state.keys.get_mut(rule.id.as_str()) {
                keys.retain(|_, ks| {
                    evict(ks, now, rule.window_ms);
                    !ks.events.is_empty()
                        || ks
                            .last_alert
                            .is_some_and(|a| a.saturating_add(rule.window_ms) > now)
                });
            }
        }
        self.state.keys.retain(|_, k| !k.is_empty());
    }
}

fn evict(ks: &mut KeyState, t: u64, window_ms: u64) {
    while ks
        .events
        .front()
        .is_some_and(|x| x.0.saturating_add(window_ms) <= t)
    {
        if let Some((_, Some(v))) = ks.events.pop_front()
            && let Some(c) = ks.counts.get_mut(&v)
        {
            *c -= 1;
            if *c == 0 {
                ks.counts.remove(&v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Arbitrary text never panics the parser.
        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,400}") {
            let _ = parse_rules(&s);
        }
    }

    #[test]
    fn builtin_rules_parse() {
        let rules = builtin_rules().map_err(|e| e.to_string());
        assert!(rules.as_ref().is_ok_and(|r| r.len() >= 10), "{rules:?}");
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        let cases = [
            (
                "[[rule]]\nid='a'\ntitle='t'\nseverity='low'\nkind='threshold'\nwindow_s=0\nkey=['src']\ncount=1\n",
                "window_s",
            ),
            (
                "[[rule]]\nid='a'\ntitle='t'\nseverity='low'\nkind='threshold'\nwindow_s=1\nkey=[]\ncount=1\n",
                "key",
            ),
            (
                "[[rule]]\nid='a'\ntitle='t'\nseverity='low'\nkind='sequence'\nwindow_s=1\nkey=['src']\n",
                "then",
            ),
            (
                "[[rule]]\nid='a'\ntitle='t'\nseverity='low'\nkind='magic'\nwindow_s=1\nkey=['src']\n",
                "unknown kind",
            ),
            (
                "[[rule]]\nid='a'\ntitle='t'\nseverity='low'\nkind='threshold'\nwindow_s=1\nkey=['attr.password']\ncount=1\n",
                "password",
            ),
        ];
        for (text, needle) in cases {
            let err = parse_rules(text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(needle), "{text}: {err}");
        }
        let dup = "[[rule]]\nid='a'\ntitle='t'\nseverity='low'\nkind='threshold'\nwindow_s=1\nkey=['src']\ncount=1\n";
        assert!(matches!(
            parse_rules(&format!("{dup}{dup}")),
            Err(RuleError::Duplicate(_))
        ));
    }

    #[test]
    fn the_clock_never_steps_back() {
        let rules = parse_rules(
            "[[rule]]\nid='a'\ntitle='t'\nseverity='low'\nkind='threshold'\nwindow_s=10\ncount=2\nkey=['target']\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut d = Detector::new(rules);
        let ev = |t: u64| {
            SecurityEvent::new(
                EventClass::Lookup,
                Severity::Low,
                t,
                crate::event::Actor::Anonymous,
                None,
                Label::new("x").unwrap_or_else(|e| panic!("{e}")),
                Outcome::Success,
            )
        };
        assert!(d.feed(&ev(100_000)).is_empty());
        // An event stamped 50 s earlier is taken at 100 s: in the window.
        let a = d.feed(&ev(50_000));
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].opened_at, a[0].first_seen), (100_000, 100_000));
        assert_eq!(d.state().now_ms, 100_000);
    }

    #[test]
    fn hours_wrap_with_the_offset() {
        let h = Hours {
            from: 8,
            to: 20,
            utc_offset_minutes: 480,
        };
        // 01:00 UTC = 09:00 Taipei: inside.
        assert!(!h.outside(3_600_000));
        // 13:00 UTC = 21:00 Taipei: outside.
        assert!(h.outside(13 * 3_600_000));
    }
}
