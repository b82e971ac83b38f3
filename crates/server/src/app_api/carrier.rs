//! `carrierInvChk` and `carrierInvDetail`: a carrier's (載具) invoices — a
//! mobile barcode's include those of the carriers linked to it (歸戶), each
//! row naming its own carrier — after
//! the carrier and its verification code (驗證碼) are checked
//! ([`crate::carrier_auth`]) and the request's `timeStamp` is in its window.

use super::answer::{Fail, code, detail_fields, fail, inv_date, status_text};
use super::parameters::{Params, date_param, inv_num_param, same_date, summary_date};
use super::signature::check_time;
use super::state::AppState;
use crate::carrier_auth::CarrierAuthError;
use einvoice_core::ids::CarrierTypes;
use einvoice_core::time::Date;
use einvoice_core::{Carrier, CarrierType, Period, WinningNumbers};
use einvoice_store::read_projection::CarrierInvoice;
use einvoice_store::{InvoiceStatus, Store};
use serde_json::{Map, Value, json};

/// At most this many periods (one year) per `carrierInvChk`.
const MAX_PERIODS: usize = 6;

/// Authenticate the carrier with its verification code.
pub(super) async fn auth_carrier<S: Store>(
    st: &AppState<S>,
    p: &Params,
    client: &str,
) -> Result<Carrier, Fail> {
    let kind = CarrierType::parse(p.req("cardType")?, &CarrierTypes::default())
        .map_err(|_| fail(code::PARAM, "cardType is not an accepted carrier type"))?;
    let carrier = Carrier::parse(kind, p.req("cardNo")?)
        .map_err(|_| fail(code::PARAM, "cardNo does not match the carrier type"))?;
    let code_given = p.req("cardEncrypt")?;
    match crate::carrier_auth::authenticate(
        &st.store,
        &st.cfg.lockout,
        &st.cfg.clock,
        &carrier,
        code_given,
        client,
    )
    .await
    {
        Ok(()) => Ok(carrier),
        Err(CarrierAuthError::Locked(secs)) => Err(fail(
            code::CARRIER_LOCKED,
            format!("too many failed attempts: retry after {secs} seconds"),
        )),
        Err(CarrierAuthError::Wrong) => Err(fail(
            code::CARRIER_AUTH,
            "the carrier or its verification code is wrong",
        )),
        Err(CarrierAuthError::Busy(b)) => Err(fail(code::UNAVAILABLE, b.to_string())),
        Err(CarrierAuthError::Store(e)) => Err(e.into()),
    }
}

fn carrier_row(i: usize, carrier: &Carrier, row: &CarrierInvoice) -> Value {
    let s = &row.summary;
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    let date = summary_date(&s.date).unwrap_or(Date::MIN);
    let donatable =
        s.status == InvoiceStatus::Issued && s.donated_to.is_none() && !s.buyer.is_business();
    json!({
        "rowNum": i + 1,
        "invNum": s.number.to_string(),
        "cardType": carrier.kind.code(),
        "cardNo": carrier.id,
        "sellerName": text(&row.detail.seller_name),
        "invStatus": status_text(s.status),
        "invDonatable": donatable,
        "amount": s.total.to_string(),
        "invPeriod": s.period.to_string(),
        "donateMark": if s.donated_to.is_some() { 1 } else { 0 },
        "invDate": inv_date(date, &s.time),
        "sellerBan": s.seller.as_str(),
        "sellerAddress": text(&row.detail.seller_address),
        "invoiceTime": s.time,
        "buyerBan": if s.buyer.is_business() { s.buyer.qr_str() } else { String::new() },
        "currency": text(&row.detail.currency),
    })
}

/// The published winning numbers of a period, if any.
async fn published_numbers<S: Store>(
    st: &AppState<S>,
    period: Period,
) -> Result<Option<WinningNumbers>, Fail> {
    let Some(rec) = st.store.winning_numbers(period).await? else {
        return Ok(None);
    };
    // TODO(store): while a correction is a draft, the latest version is not
    // published and the earlier published one is not reachable through the
    // trait; such a period shows no winners until the correction is approved.
    if rec.approved_by.is_none() {
        return Ok(None);
    }
    let body = einvoice_store::WinningBody::from_value(&rec.body)
        .map_err(|_| fail(code::UNAVAILABLE, "stored winning numbers are malformed"))?;
    Ok(body.numbers(period).ok())
}

/// How `carrierInvChk` with `onlyWinningInv=Y` picks a period's winners.
enum WinFilter {
    /// The stored winners of the draw: (invoice number, seller) on the
    /// carrier or a carrier linked to it (unique in a period).
    Stored(std::collections::HashSet<(String, String)>),
    /// Regular prizes from the published numbers (winners not loaded yet).
    Numbers(einvoice_core::WinningNumbers),
}

pub(super) async fn carrier_chk<S: Store>(
    st: &AppState<S>,
    p: &Params,
    client: &str,
) -> Result<Map<String, Value>, Fail> {
    check_time(st, p)?;
    let start = date_param(p, "startDate")?;
    let end = date_param(p, "endDate")?;
    if end < start {
        return Err(fail(code::PARAM, "endDate is before startDate"));
    }
    let only_winning = match p.get("onlyWinningInv").unwrap_or("N") {
        "Y" | "y" => true,
        "N" | "n" => false,
        _ => return Err(fail(code::PARAM, "onlyWinningInv must be Y or N")),
    };
    let (Some(first), Some(last)) = (Period::of_date(start), Period::of_date(end)) else {
        return Err(fail(code::PARAM, "dates out of range"));
    };
    let mut periods = vec![first];
    while let Some(&cur) = periods.last() {
        if cur >= last {
            break;
        }
        let Some(n) = cur.next() else { break };
        periods.push(n);
        if periods.len() > MAX_PERIODS {
            return Err(fail(code::PARAM, "the date range spans more than a year"));
        }
    }
    let barcode = auth_carrier(st, p, client).await?;
    // The carrier's own invoices, then those of the carriers linked to it (歸戶).
    let carriers = crate::carrier_life::aggregation::with_links(&st.store, &barcode).await?;
    let mut rows = Vec::new();
    for period in periods {
        // Winners loaded by the draw (regular and cloud prizes) when the
        // period's winners are in the store; else the regular prizes
        // computed from the published numbers.
        let winning = if !only_winning {
            None
        } else if st.store.winners_summary(period).await?.is_some() {
            let mut won = std::collections::HashSet::new();
            for carrier in &carriers {
                won.extend(
                    st.store
                        .carrier_winnings(carrier, period)
                        .await?
                        .into_iter()
                        .map(|w| (w.invoice_number, w.seller)),
                );
            }
            Some(WinFilter::Stored(won))
        } else {
            match published_numbers(st, period).await? {
                Some(w) => Some(WinFilter::Numbers(w)),
                None => continue,
            }
        };
        let found =
            crate::carrier_life::aggregation::invoices_with_links(&st.store, &barcode, period)
                .await?;
        for (carrier, view) in found {
            let s = &view.summary;
            let Some(d) = summary_date(&s.date) else {
                continue;
            };
            if d < start || d > end {
                continue;
            }
            match &winning {
                None => {}
                Some(WinFilter::Stored(won))
                    if !won.contains(&(s.number.to_string(), s.seller.as_str().to_string())) =>
                {
                    continue;
                }
                Some(WinFilter::Stored(_)) => {}
                Some(WinFilter::Numbers(w)) => {
                    let takes_part = s.status == InvoiceStatus::Issued && !s.buyer.is_business();
                    if !takes_part || w.prize_of(&s.number).is_none() {
                        continue;
                    }
                }
            }
            let row = carrier_row(rows.len(), &carrier, &view);
            rows.push(row);
        }
    }
    let mut m = Map::new();
    m.insert(
        "onlyWinningInv".into(),
        Value::String(if only_winning { "Y" } else { "N" }.into()),
    );
    m.insert("details".into(), Value::Array(rows));
    Ok(m)
}

pub(super) async fn carrier_detail<S: Store>(
    st: &AppState<S>,
    p: &Params,
    client: &str,
) -> Result<Map<String, Value>, Fail> {
    check_time(st, p)?;
    let number = inv_num_param(p)?;
    let date = date_param(p, "invDate")?;
    let period = Period::of_date(date).ok_or_else(|| fail(code::PARAM, "invDate out of range"))?;
    let barcode = auth_carrier(st, p, client).await?;
    // On the carrier or on a carrier linked to it (歸戶).
    let mut found = None;
    for carrier in crate::carrier_life::aggregation::with_links(&st.store, &barcode).await? {
        if let Some(v) = st
            .store
            .carrier_invoice_rows(&carrier, period)
            .await?
            .into_iter()
            .find(|v| v.summary.number == number && same_date(&v.summary, date))
        {
            found = Some((carrier, v));
            break;
        }
    }
    let (carrier, view) =
        found.ok_or_else(|| fail(code::NOT_FOUND, "no such invoice on this carrier"))?;
    let mut m = detail_fields(&view);
    m.insert("cardType".into(), Value::String(carrier.kind.code().into()));
    m.insert("cardNo".into(), Value::String(carrier.id.clone()));
    Ok(m)
}
