//! Rule violations: the one error shape every surface (CLI, HTTP, store) reports.

use serde::Serialize;
use std::fmt;

/// One broken rule: a stable `code` naming the rule, the `field` it was found in
/// (a MIG element path such as `Main/Seller/Identifier`), and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Stable, machine-readable rule identifier, e.g. `UBN_CHECKSUM`.
    pub code: &'static str,
    /// The field the rule was checked on (MIG element path, `/`-separated).
    pub field: String,
    /// Human message saying what is wrong and what would be right.
    pub message: String,
}

impl Violation {
    /// Build a violation.
    pub fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same violation with `prefix/` prepended to its field path.
    pub fn within(mut self, prefix: &str) -> Self {
        if prefix.is_empty() {
            return self;
        }
        self.field = if self.field.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}/{}", self.field)
        };
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.code, self.field, self.message)
    }
}

impl std::error::Error for Violation {}

/// All violations found in one message (validation reports every failure, not just the first).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// Record one violation.
    pub fn push(&mut self, v: Violation) {
        self.0.push(v);
    }
    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Iterate over the violations.
    pub fn iter(&self) -> std::slice::Iter<'_, Violation> {
        self.0.iter()
    }
    /// Does any violation carry this code?
    pub fn has(&self, code: &str) -> bool {
        self.0.iter().any(|v| v.code == code)
    }
    /// Run a parse and keep its value, or record its error and return `None`.
    pub fn take<T>(&mut self, r: Result<T, Violation>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}
