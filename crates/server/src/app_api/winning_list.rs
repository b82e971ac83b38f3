//! `QryWinningList`: a period's published winning numbers (中獎號碼) in MOF's shape.

use super::answer::{Fail, code, fail, java_date, taipei};
use super::parameters::{Params, period_param};
use super::state::AppState;
use einvoice_core::Period;
use einvoice_core::time::OffsetDateTime;
use einvoice_store::Store;
use serde_json::{Map, Value};

pub(super) async fn winning_list<S: Store>(
    st: &AppState<S>,
    p: &Params,
) -> Result<Map<String, Value>, Fail> {
    let period = period_param(p, "invTerm")?;
    let rec = st
        .store
        .winning_numbers(period)
        .await?
        .filter(|r| r.approved_by.is_some())
        .ok_or_else(|| {
            fail(
                code::NOT_FOUND,
                "the winning numbers of this period are not published",
            )
        })?;
    let body = einvoice_store::WinningBody::from_value(&rec.body)
        .map_err(|_| fail(code::UNAVAILABLE, "stored winning numbers are malformed"))?;
    Ok(winning_list_body(period, &body))
}

/// The `QryWinningList` fields (everything but `v`, `code`, `msg`) of a published record.
fn winning_list_body(period: Period, b: &einvoice_store::WinningBody) -> Map<String, Value> {
    use einvoice_core::Prize;
    let mut m = Map::new();
    let s = |x: &str| Value::String(x.to_string());
    m.insert("invoYm".into(), s(&period.to_string()));
    m.insert("superPrizeNo".into(), s(&b.special));
    m.insert("spcPrizeNo".into(), s(&b.grand));
    m.insert("spcPrizeNo2".into(), s(""));
    m.insert("spcPrizeNo3".into(), s(""));
    for i in 0..10 {
        let v = b.first.get(i).map(String::as_str).unwrap_or("");
        m.insert(format!("firstPrizeNo{}", i + 1), s(v));
    }
    for i in 0..6 {
        let v = b.additional_sixth.get(i).map(String::as_str).unwrap_or("");
        m.insert(format!("sixthPrizeNo{}", i + 1), s(v));
    }
    let table = b.prize_table(period);
    let amt = |p: Prize| format!("{:07}", table.amount(p).0);
    m.insert("superPrizeAmt".into(), s(&amt(Prize::Special)));
    m.insert("spcPrizeAmt".into(), s(&amt(Prize::Grand)));
    m.insert("firstPrizeAmt".into(), s(&amt(Prize::First)));
    m.insert("secondPrizeAmt".into(), s(&amt(Prize::Second)));
    m.insert("thirdPrizeAmt".into(), s(&amt(Prize::Third)));
    m.insert("fourthPrizeAmt".into(), s(&amt(Prize::Fourth)));
    m.insert("fifthPrizeAmt".into(), s(&amt(Prize::Fifth)));
    m.insert("sixthPrizeAmt".into(), s(&amt(Prize::Sixth)));
    // Publication time; before one is recorded, the draw date.
    let published = b
        .published_unix
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .map(|t| t.to_offset(taipei()))
        .unwrap_or_else(|| period.draw_date().midnight().assume_offset(taipei()));
    m.insert(
        "updateDate".into(),
        s(&einvoice_core::period::format_roc_date(published.date())),
    );
    m.insert("timeStamp".into(), java_date(published));
    m
}
