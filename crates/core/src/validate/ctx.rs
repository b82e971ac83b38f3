//! The validation context: collects violations with their field paths.

use super::Rules;
use crate::error::{Violation, Violations};
use crate::ids::clip;

/// Collects every violation of one message.
pub(super) struct Ctx<'r> {
    pub rules: &'r Rules,
    v: Violations,
}

impl<'r> Ctx<'r> {
    pub fn new(rules: &'r Rules) -> Self {
        Self {
            rules,
            v: Violations::new(),
        }
    }

    /// `None` when nothing was recorded.
    pub fn finish(self) -> Option<Violations> {
        if self.v.is_empty() {
            None
        } else {
            Some(self.v)
        }
    }

    pub fn ok(&self) -> bool {
        self.v.is_empty()
    }

    pub fn push(&mut self, code: &'static str, field: &str, message: impl Into<String>) {
        self.v.push(Violation::new(code, field, message));
    }

    /// Keep a parsed value, or record its error at `field`.
    pub fn parse<T>(&mut self, field: &str, r: Result<T, Violation>) -> Option<T> {
        match r {
            Ok(x) => Some(x),
            Err(mut e) => {
                e.field = if e.field.is_empty() {
                    field.to_string()
                } else {
                    format!("{field}/{}", e.field)
                };
                self.v.push(e);
                None
            }
        }
    }

    /// A required value: non-empty, at most `max` characters.
    pub fn required<'a>(&mut self, field: &str, value: &'a str, max: usize) -> Option<&'a str> {
        if value.is_empty() {
            self.push(
                "FIELD_REQUIRED",
                field,
                format!("{} is required", leaf(field)),
            );
            return None;
        }
        self.max_len(field, value, max).then_some(value)
    }

    /// An optional value of at most `max` characters.
    pub fn optional<'a>(
        &mut self,
        field: &str,
        value: &'a Option<String>,
        max: usize,
    ) -> Option<&'a str> {
        let s = value.as_deref()?;
        self.max_len(field, s, max).then_some(s)
    }

    /// At most `max` characters; records FIELD_TOO_LONG.
    pub fn max_len(&mut self, field: &str, value: &str, max: usize) -> bool {
        let n = value.chars().count();
        if n > max {
            self.push(
                "FIELD_TOO_LONG",
                field,
                format!(
                    "{} has {n} characters; at most {max} are allowed",
                    leaf(field)
                ),
            );
            false
        } else {
            true
        }
    }

    /// One of the enumerated values.
    pub fn one_of<'a>(&mut self, field: &str, value: &'a str, allowed: &[&str]) -> Option<&'a str> {
        if allowed.contains(&value) {
            Some(value)
        } else if value.is_empty() {
            self.push(
                "FIELD_REQUIRED",
                field,
                format!(
                    "{} is required (one of {})",
                    leaf(field),
                    allowed.join(", ")
                ),
            );
            None
        } else {
            self.push(
                "ENUM_VALUE",
                field,
                format!(
                    "{} is {:?}; expected one of {}",
                    leaf(field),
                    clip(value),
                    allowed.join(", ")
                ),
            );
            None
        }
    }
}

/// The last element name of a path.
pub(super) fn leaf(field: &str) -> &str {
    field.rsplit('/').next().unwrap_or(field)
}
