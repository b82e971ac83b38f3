//! MOF-shaped answers: the answer codes, the `v`/`code`/`msg` envelope
//! (HTTP 200 always, as MOF does), `java.util.Date`-shaped times and the
//! invoice fields the query actions share.

use axum::response::{IntoResponse, Response};
use einvoice_core::time::{Date, OffsetDateTime, UtcOffset};
use einvoice_store::read_projection::CarrierInvoice;
use einvoice_store::{InvoiceStatus, StoreError};
use serde_json::{Map, Value, json};

/// Answer codes (see the module table).
pub(super) mod code {
    pub const OK: u16 = 200;
    pub const PARAM: u16 = 901;
    pub const ACTION: u16 = 902;
    pub const APP: u16 = 903;
    pub const SIGNATURE: u16 = 904;
    pub const TIME: u16 = 905;
    pub const REPLAY: u16 = 906;
    pub const RATE_LIMITED: u16 = 907;
    pub const CARRIER_AUTH: u16 = 919;
    pub const CARRIER_LOCKED: u16 = 920;
    pub const NOT_FOUND: u16 = 951;
    pub const UNAVAILABLE: u16 = 998;
}

/// A refused request: code and message.
#[derive(Debug)]
pub(super) struct Fail {
    code: u16,
    msg: String,
}

pub(super) fn fail(code: u16, msg: impl Into<String>) -> Fail {
    Fail {
        code,
        msg: msg.into(),
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        fail(
            code::UNAVAILABLE,
            format!("{}: temporarily unavailable, retry later", e.code()),
        )
    }
}

pub(super) fn respond(
    v: &str,
    string_code: bool,
    result: Result<Map<String, Value>, Fail>,
) -> Response {
    let (c, msg, mut body) = match result {
        Ok(body) => (code::OK, "查詢成功".to_string(), body),
        Err(f) => (f.code, f.msg, Map::new()),
    };
    body.insert("v".into(), Value::String(v.to_string()));
    body.insert(
        "code".into(),
        if string_code {
            Value::String(c.to_string())
        } else {
            Value::from(c)
        },
    );
    body.insert("msg".into(), Value::String(msg));
    axum::Json(Value::Object(body)).into_response()
}

pub(super) fn taipei() -> UtcOffset {
    UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// A `java.util.Date` as MOF serialises it: years since 1900, months from 0
/// (the shape of `timeStamp` in the QryWinningList fixtures).
pub(super) fn java_date(t: OffsetDateTime) -> Value {
    json!({
        "date": t.day(),
        "day": t.weekday().number_days_from_sunday(),
        "hours": t.hour(),
        "minutes": t.minute(),
        "month": u8::from(t.month()) - 1,
        "seconds": t.second(),
        "time": t.unix_timestamp() * 1000,
        "timezoneOffset": -480,
        "year": t.year() - 1900,
    })
}

/// `invDate` of carrier answers: ROC year and months 1–12 (MOF-RULES.md).
pub(super) fn inv_date(date: Date, time: &str) -> Value {
    let mut parts = time.split(':').map(|x| x.parse::<u8>().unwrap_or(0));
    let (h, mi, se) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    let t = date
        .with_hms(h.min(23), mi.min(59), se.min(59))
        .unwrap_or_else(|_| date.midnight())
        .assume_offset(taipei());
    json!({
        "year": date.year() - einvoice_core::period::ROC_OFFSET,
        "month": u8::from(date.month()),
        "date": date.day(),
        "day": date.weekday().number_days_from_sunday(),
        "hours": h,
        "minutes": mi,
        "seconds": se,
        "time": t.unix_timestamp() * 1000,
        "timezoneOffset": -480,
    })
}

// ---- invoice answers ------------------------------------------------------------

pub(super) fn status_text(s: InvoiceStatus) -> &'static str {
    match s {
        InvoiceStatus::Issued => "已確認",
        InvoiceStatus::Cancelled => "已作廢",
        InvoiceStatus::Voided => "已註銷",
        InvoiceStatus::Pending => "處理中",
    }
}

/// Header fields shared by qryInvHeader, qryInvDetail and carrierInvDetail.
pub(super) fn header_fields(row: &CarrierInvoice) -> Map<String, Value> {
    let s = &row.summary;
    let mut m = Map::new();
    let st = |x: &str| Value::String(x.to_string());
    let text = |t: &Option<String>| Value::String(t.clone().unwrap_or_default());
    m.insert("invNum".into(), st(&s.number.to_string()));
    m.insert("invDate".into(), st(&s.date));
    m.insert("sellerName".into(), text(&row.detail.seller_name));
    m.insert("invStatus".into(), st(status_text(s.status)));
    m.insert("invPeriod".into(), st(&s.period.to_string()));
    m.insert("sellerBan".into(), st(s.seller.as_str()));
    m.insert("sellerAddress".into(), text(&row.detail.seller_address));
    m.insert("invoiceTime".into(), st(&s.time));
    let buyer = if s.buyer.is_business() {
        s.buyer.qr_str()
    } else {
        String::new()
    };
    m.insert("buyerBan".into(), st(&buyer));
    m.insert("currency".into(), text(&row.detail.currency));
    m
}

/// [`header_fields`] with the amount and the item lines (qryInvDetail,
/// carrierInvDetail): `rowNum` is the item's `SequenceNumber`, else its
/// position.
pub(super) fn detail_fields(row: &CarrierInvoice) -> Map<String, Value> {
    let mut m = header_fields(row);
    m.insert(
        "amount".into(),
        Value::String(row.summary.total.to_string()),
    );
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    let items = row
        .detail
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let row = match it.sequence_number.as_deref() {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => (i + 1).to_string(),
            };
            json!({
                "rowNum": row,
                "description": text(&it.description),
                "quantity": text(&it.quantity),
                "unitPrice": text(&it.unit_price),
                "amount": text(&it.amount),
            })
        })
        .collect::<Vec<_>>();
    m.insert("details".into(), Value::Array(items));
    m
}
