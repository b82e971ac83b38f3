//! Winning numbers (中獎號碼): enter a draft, approve it (two-person rule:
//! not the operator who entered it), read the latest version.

use super::answer::{Answer, bad_body, body, problem, record};
use super::session::{Operator, RoleOperator, RoleOperatorOrAuditor};
use super::state::OpsState;
use crate::problem::{Problem, store_problem};
use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use einvoice_core::Period;
use einvoice_store::{Store, WinningBody, WinningNumbersRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WinningEntry {
    period: String,
    #[serde(flatten)]
    numbers: WinningBody,
    #[serde(default)]
    reason: Option<String>,
}

fn period_of(s: &str) -> Result<Period, Problem> {
    Period::parse(s).map_err(|v| problem(StatusCode::UNPROCESSABLE_ENTITY, v.code, v.message))
}

/// Store a version of the winning numbers and record the act (`winning/<period>/<version>`).
async fn put_and_record<S: Store>(
    st: &OpsState<S>,
    actor: &str,
    rec: &WinningNumbersRecord,
    act: Value,
) -> Result<(), Problem> {
    st.store
        .put_winning_numbers(rec.clone())
        .await
        .map_err(store_problem)?;
    record(
        st,
        actor,
        format!("winning/{}/{}", rec.period, rec.version),
        act,
    )
    .await
}

fn record_json(r: &WinningNumbersRecord) -> Value {
    json!({
        "period": r.period.to_string(),
        "version": r.version,
        "numbers": r.body,
        "entered_by": r.entered_by,
        "approved_by": r.approved_by,
        "reason": r.reason,
        "status": if r.approved_by.is_some() { "published" } else { "draft" },
    })
}

pub(super) async fn enter_winning<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    raw: axum::body::Bytes,
) -> Answer {
    // `flatten` and `deny_unknown_fields` do not combine: check keys by hand.
    let v: Value = body(&raw)?;
    if let Some(m) = v.as_object()
        && let Some(k) = m.keys().find(|k| {
            ![
                "period",
                "special",
                "grand",
                "first",
                "additional_sixth",
                "amounts",
                "reason",
            ]
            .contains(&k.as_str())
        })
    {
        return Err(bad_body(format!("unknown field {k}")));
    }
    let b: WinningEntry = serde_json::from_value(v).map_err(bad_body)?;
    let period = period_of(&b.period)?;
    let mut numbers = b.numbers;
    numbers.published_unix = None;
    numbers
        .numbers(period)
        .map_err(|v| Problem::violations(vec![v]))?;
    let reason = b
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let latest = st
        .store
        .winning_numbers(period)
        .await
        .map_err(store_problem)?;
    let version = match &latest {
        None => 1,
        Some(r) if r.approved_by.is_none() => r.version,
        Some(r) => {
            if reason.is_none() {
                return Err(problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "REASON_REQUIRED",
                    format!(
                        "version {} of {period} is published: a correction needs a reason",
                        r.version
                    ),
                ));
            }
            r.version + 1
        }
    };
    let rec = WinningNumbersRecord {
        period,
        version,
        body: numbers.to_value(period),
        entered_by: s.name.clone(),
        approved_by: None,
        reason: reason.clone(),
    };
    put_and_record(
        &st,
        &s.actor(),
        &rec,
        json!({"action": "winning.enter", "period": period.to_string(), "version": version, "numbers": rec.body, "reason": reason}),
    )
    .await?;
    Ok(Json(record_json(&rec)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    version: u32,
}

pub(super) async fn approve_winning<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    UrlPath(period): UrlPath<String>,
    raw: axum::body::Bytes,
) -> Answer {
    let period = period_of(&period)?;
    let b: ApproveBody = body(&raw)?;
    let mut rec = st
        .store
        .winning_numbers(period)
        .await
        .map_err(store_problem)?
        .filter(|r| r.version == b.version)
        .ok_or_else(|| {
            problem(
                StatusCode::NOT_FOUND,
                "WINNING_VERSION_UNKNOWN",
                format!(
                    "version {} of {period} is not the latest version",
                    b.version
                ),
            )
        })?;
    if rec.approved_by.is_some() {
        return Err(problem(
            StatusCode::CONFLICT,
            "WINNING_NUMBERS_PUBLISHED",
            "this version is already published and immutable",
        ));
    }
    if rec.entered_by == s.name {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "TWO_PERSON_RULE",
            "the operator who entered the numbers cannot approve them: another operator must",
        ));
    }
    let mut numbers = WinningBody::from_value(&rec.body).map_err(|e| {
        problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "STORE_CORRUPT",
            format!("stored draft: {e}"),
        )
    })?;
    numbers.published_unix = Some(st.cfg.clock.now_unix());
    rec.body = numbers.to_value(period);
    rec.approved_by = Some(s.name.clone());
    put_and_record(
        &st,
        &s.actor(),
        &rec,
        json!({"action": "winning.approve", "period": period.to_string(), "version": rec.version, "entered_by": rec.entered_by}),
    )
    .await?;
    Ok(Json(record_json(&rec)))
}

pub(super) async fn get_winning<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    _reader: Operator<RoleOperatorOrAuditor>,
    UrlPath(period): UrlPath<String>,
) -> Answer {
    let period = period_of(&period)?;
    let rec = st
        .store
        .winning_numbers(period)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| {
            problem(
                StatusCode::NOT_FOUND,
                "WINNING_NUMBERS_UNKNOWN",
                format!("no winning numbers for {period}"),
            )
        })?;
    Ok(Json(record_json(&rec)))
}
