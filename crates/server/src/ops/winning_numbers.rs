//! Winning numbers (中獎號碼): enter a draft, approve it under the
//! two-person rule, read the latest version.
//!
//! **Versions are immutable.** Every entry is a new version (a change of a
//! draft too; a correction of a published version needs a reason); the store
//! refuses to change a stored version except by approving it as it is.
//!
//! **The two-person rule.** An approval names the version and the SHA-256
//! of its numbers (`expected_sha256`, [`WinningNumbersRecord::numbers_sha256`]:
//! the canonical JSON of the version's body — sorted keys, compact), so the
//! approver publishes exactly what they checked. It is refused
//! (`403 TWO_PERSON_RULE`) when the approver entered the version, when their
//! creation lines meet — one account created the other, directly or through
//! accounts it created, or one account created both (a creator held the
//! enrolment tokens and could have redeemed them) — or when the approval
//! comes from the client address the version was entered from. Accounts made
//! on the data directory (`einvoice admin bootstrap`, `admin operator
//! add-local`) start lines of their own: independent approvers are made
//! there, by the person holding the site's data.

use super::answer::{Answer, bad_body, body, problem, record};
use super::operators::same_line;
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
        .map_err(|e| {
            let detail = e.to_string();
            // A concurrent entry or approval got there first.
            match ["WINNING_NUMBERS_PUBLISHED", "WINNING_DRAFT_IMMUTABLE"]
                .into_iter()
                .find(|c| detail.contains(c))
            {
                Some(code) => problem(
                    StatusCode::CONFLICT,
                    code,
                    format!(
                        "version {} of {} changed meanwhile: read it again",
                        rec.version, rec.period
                    ),
                ),
                None => store_problem(e),
            }
        })?;
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
        "entered_from": r.entered_from,
        "numbers_sha256": r.numbers_sha256(),
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
        Some(r) if r.approved_by.is_none() => r.version + 1,
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
        entered_from: s.client.clone(),
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
    /// SHA-256 (hex) of the numbers the approver checked.
    expected_sha256: String,
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
    let two_person = |why: &str| problem(StatusCode::FORBIDDEN, "TWO_PERSON_RULE", why.to_string());
    if rec.entered_by == s.name {
        return Err(two_person(
            "the operator who entered the numbers cannot approve them: another operator must",
        ));
    }
    if same_line(&st, &rec.entered_by, &s.name).await? {
        return Err(two_person(&format!(
            "the accounts {} and {} come from one creation line (one created the other, or one account created both): an operator whose account was made independently must approve",
            rec.entered_by, s.name
        )));
    }
    if rec.entered_from.is_some() && rec.entered_from == s.client {
        return Err(two_person(
            "the numbers were entered from this client address: approve from another operator's own machine",
        ));
    }
    let expected = b.expected_sha256.trim().to_ascii_lowercase();
    if expected != rec.numbers_sha256() {
        return Err(problem(
            StatusCode::CONFLICT,
            "WINNING_SHA256_MISMATCH",
            format!(
                "expected_sha256 does not match version {} of {period}: read the version again and check its numbers",
                rec.version
            ),
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
