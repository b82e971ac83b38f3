//! Who takes part in a period's draw, once: an invoice is eligible when it
//! is B2C (buyer `0000000000`), issued and neither cancelled nor voided, and
//! dated inside the period (backends select `status = 'issued'` and the
//! consumer buyer id in the period); its carrier, donation and printed flag
//! come from its stored columns as [`EligibleRow::from_stored`] says.

use crate::draw::EligibleRow;

impl EligibleRow {
    /// An eligible invoice from its stored columns: a carrier `type:id` only
    /// when both are present and the type is not empty, a love code only
    /// when not empty, and printed exactly when neither (the MOF rule for
    /// B2C invoices).
    pub fn from_stored(
        number: String,
        seller: String,
        carrier_type: Option<String>,
        carrier_id: Option<String>,
        npoban: Option<String>,
    ) -> Self {
        let carrier = match (carrier_type, carrier_id) {
            (Some(t), Some(i)) if !t.is_empty() => Some(format!("{t}:{i}")),
            _ => None,
        };
        let donated_to = npoban.filter(|n| !n.is_empty());
        let printed = carrier.is_none() && donated_to.is_none();
        Self {
            number,
            seller,
            carrier,
            donated_to,
            printed,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::EligibleRow;

    fn row(ct: Option<&str>, cid: Option<&str>, npo: Option<&str>) -> EligibleRow {
        EligibleRow::from_stored(
            "AB00000001".into(),
            "04595257".into(),
            ct.map(Into::into),
            cid.map(Into::into),
            npo.map(Into::into),
        )
    }

    #[test]
    fn printed_exactly_when_neither_on_a_carrier_nor_donated() {
        let on_carrier = row(Some("3J0002"), Some("/ABC+123"), None);
        assert_eq!(on_carrier.carrier.as_deref(), Some("3J0002:/ABC+123"));
        assert!(!on_carrier.printed);
        let donated = row(None, None, Some("123"));
        assert_eq!(donated.donated_to.as_deref(), Some("123"));
        assert!(!donated.printed);
        assert!(row(None, None, None).printed);
        // Empty columns count as absent.
        assert!(row(Some(""), Some("x"), Some("")).printed);
    }
}
