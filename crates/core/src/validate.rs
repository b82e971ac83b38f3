//! Validation: field rules and cross-field rules, reporting every failure.

use crate::error::Violations;
use crate::ids::{CarrierTypes, IdPolicy};
use crate::model::Message;
use crate::money::Decimal;
use crate::validated::Validated;

/// Configuration of the rules (what a deployment may change without a code change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// UBN checksum rule and sandbox identifiers.
    pub ids: IdPolicy,
    /// Accepted carrier types besides 3J0002 and CQ0001.
    pub carrier_types: CarrierTypes,
    /// The general business tax rate (5 %).
    pub general_tax_rate: Decimal,
}

impl Default for Rules {
    fn default() -> Self {
        Self::production()
    }
}

impl Rules {
    /// Production rules.
    pub fn production() -> Self {
        Self {
            ids: IdPolicy::production(),
            carrier_types: CarrierTypes::default(),
            general_tax_rate: crate::money::standard_rate(),
        }
    }
    /// Sandbox rules: MOF test identifiers accepted.
    pub fn sandbox() -> Self {
        Self {
            ids: IdPolicy::sandbox(),
            ..Self::production()
        }
    }
}

/// Validate a message: all field and cross-field rules. Returns the typed facts, or
/// every violation found.
pub fn validate(msg: &Message, rules: &Rules) -> Result<Validated, Violations> {
    let _ = (msg, rules);
    let mut v = Violations::new();
    v.push(crate::error::Violation::new(
        "NOT_IMPLEMENTED",
        "",
        "validation is being implemented",
    ));
    Err(v)
}
