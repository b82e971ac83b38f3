//! The App API request parameters: the form body and query string parsed
//! into one map (a name given twice is refused), and typed readers for the
//! MOF parameters (`invTerm`, dates, `invNum`).

use super::answer::{Fail, code, fail};
use axum::http::Uri;
use einvoice_core::time::{Date, Month};
use einvoice_core::{InvoiceNumber, Period};
use einvoice_store::InvoiceSummary;
use std::collections::BTreeMap;

/// Limits on the request: parameter count and value length.
const MAX_PARAMS: usize = 64;
const MAX_VALUE_LEN: usize = 1024;

/// Decoded request parameters.
pub(super) struct Params(pub(super) BTreeMap<String, String>);

/// Why request parameters were refused (the App API answers code `PARAM`
/// with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// The query string is not `application/x-www-form-urlencoded`.
    #[error("the query string is not form-encoded")]
    Query,
    /// The body is not `application/x-www-form-urlencoded`.
    #[error("the body is not form-encoded")]
    Body,
    /// More than 64 parameters.
    #[error("too many parameters")]
    TooMany,
    /// A name longer than 64 bytes or a value longer than 1024.
    #[error("a parameter is too long")]
    TooLong,
    /// The same name twice (in the query, the body, or across both).
    #[error("parameter {0} is given twice")]
    Twice(String),
}

/// The parameters of an App API request: the query string and the form body
/// decoded into one map. Refused: a part that is not form-encoded, more than
/// 64 parameters, a name over 64 bytes or a value over 1024, a name given twice.
pub fn parse_params(
    query: Option<&str>,
    body: &[u8],
) -> Result<BTreeMap<String, String>, ParamError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(q) = query {
        pairs.extend(
            serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .map_err(|_| ParamError::Query)?,
        );
    }
    if !body.is_empty() {
        pairs.extend(
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                .map_err(|_| ParamError::Body)?,
        );
    }
    if pairs.len() > MAX_PARAMS {
        return Err(ParamError::TooMany);
    }
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        if v.len() > MAX_VALUE_LEN || k.len() > 64 {
            return Err(ParamError::TooLong);
        }
        if map.contains_key(&k) {
            return Err(ParamError::Twice(k));
        }
        map.insert(k, v);
    }
    Ok(map)
}

impl Params {
    pub(super) fn parse(uri: &Uri, body: &[u8]) -> Result<Self, Fail> {
        parse_params(uri.query(), body)
            .map(Self)
            .map_err(|e| fail(code::PARAM, e.to_string()))
    }

    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|s| !s.is_empty())
    }

    pub(super) fn req(&self, k: &str) -> Result<&str, Fail> {
        self.get(k)
            .ok_or_else(|| fail(code::PARAM, format!("parameter {k} is required")))
    }
}

pub(super) fn period_param(p: &Params, k: &str) -> Result<Period, Fail> {
    Period::parse(p.req(k)?)
        .map_err(|_| fail(code::PARAM, format!("{k} must be a period such as 11402")))
}

/// `yyyy/MM/dd` (also `yyyyMMdd` and `yyyy-MM-dd`).
pub(super) fn date_param(p: &Params, k: &str) -> Result<Date, Fail> {
    let s = p.req(k)?;
    parse_date(s).ok_or_else(|| fail(code::PARAM, format!("{k} must be a date yyyy/MM/dd")))
}

/// A date parameter: `yyyy/MM/dd`, `yyyyMMdd` or `yyyy-MM-dd` (the
/// separators are dropped, eight digits must remain), `None` if it is not a
/// calendar date.
pub fn parse_date(s: &str) -> Option<Date> {
    let digits: String = s.chars().filter(|c| *c != '/' && *c != '-').collect();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i32 = digits.get(..4)?.parse().ok()?;
    let m: u8 = digits.get(4..6)?.parse().ok()?;
    let d: u8 = digits.get(6..)?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

/// `YYYYMMDD` of the store's summary.
pub(super) fn summary_date(s: &str) -> Option<Date> {
    parse_date(s)
}

pub(super) fn same_date(summary: &InvoiceSummary, d: Date) -> bool {
    summary_date(&summary.date) == Some(d)
}

pub(super) fn inv_num_param(p: &Params) -> Result<InvoiceNumber, Fail> {
    InvoiceNumber::parse(p.req("invNum")?)
        .map_err(|_| fail(code::PARAM, "invNum must be 2 letters and 8 digits"))
}

/// `timeStamp` (Unix seconds) of the request, refused (`905`) when farther
/// than `window_secs` from `now`.
pub(super) fn timestamp_param(p: &Params, now: i64, window_secs: i64) -> Result<i64, Fail> {
    let ts: i64 = p
        .req("timeStamp")?
        .trim()
        .parse()
        .map_err(|_| fail(code::PARAM, "timeStamp must be Unix seconds"))?;
    if (ts - now).abs() > window_secs {
        return Err(fail(
            code::TIME,
            "timeStamp is too far from the current time",
        ));
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_body_make_one_map_and_a_repeat_is_refused() {
        let m = parse_params(Some("a=1&b=%E7%99%BC"), b"c=3").expect("parsed");
        assert_eq!(m.get("b").map(String::as_str), Some("發"));
        assert_eq!(m.len(), 3);
        assert_eq!(
            parse_params(Some("a=1"), b"a=2"),
            Err(ParamError::Twice("a".into()))
        );
        let long = format!("v={}", "x".repeat(1025));
        assert_eq!(
            parse_params(None, long.as_bytes()),
            Err(ParamError::TooLong)
        );
        let many: Vec<String> = (0..65).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            parse_params(Some(&many.join("&")), b""),
            Err(ParamError::TooMany)
        );
    }

    #[test]
    fn dates_take_three_spellings() {
        let d = parse_date("2025/03/04");
        assert!(d.is_some());
        assert_eq!(parse_date("20250304"), d);
        assert_eq!(parse_date("2025-03-04"), d);
        assert_eq!(parse_date("2025/02/30"), None);
        assert_eq!(parse_date("２０２５0304"), None);
    }
}
