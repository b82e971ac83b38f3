//! `POST /v1/ops/tracks`: allocate invoice tracks (字軌) to a seller, as an
//! E0401 (BranchTrack) ledger entry appended by the operator.

use super::answer::{Answer, JsonBody, problem};
use super::session::{Operator, RoleOperator};
use super::state::OpsState;
use crate::problem::{Problem, store_problem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use einvoice_core::model::{BranchTrack, BranchTrackItem, BranchTrackMain};
use einvoice_core::{Message, Rules};
use einvoice_store::{Scope, Store};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// `POST /v1/ops/tracks`: the E0401 allocation's fields.
pub(super) struct TrackBody {
    seller: String,
    period: String,
    track: String,
    begin: u32,
    end: u32,
    #[serde(default)]
    head: Option<String>,
    #[serde(default)]
    invoice_type: Option<String>,
}

/// The E0401 message allocating `begin..=end` of `track` to `seller` in `period`.
pub fn track_message(
    head: &str,
    seller: &str,
    invoice_type: &str,
    period: &str,
    track: &str,
    begin: u32,
    end: u32,
) -> Message {
    let booklets = if end >= begin {
        (end - begin + 1) / 50
    } else {
        0
    };
    Message::E0401(BranchTrack {
        main: BranchTrackMain {
            head_ban: head.to_string(),
            branch_ban: seller.to_string(),
            invoice_type: invoice_type.to_string(),
            year_month: period.to_string(),
            invoice_track: track.to_string(),
            invoice_begin_no: format!("{begin:08}"),
            invoice_end_no: format!("{end:08}"),
        },
        details: vec![BranchTrackItem {
            invoice_begin_no: format!("{begin:08}"),
            invoice_end_no: format!("{end:08}"),
            invoice_booklet: booklets.to_string(),
        }],
    })
}

pub(super) async fn allocate_tracks<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    JsonBody(b): JsonBody<TrackBody>,
) -> Answer {
    let msg = track_message(
        b.head.as_deref().unwrap_or(&b.seller),
        &b.seller,
        b.invoice_type.as_deref().unwrap_or("07"),
        &b.period,
        &b.track,
        b.begin,
        b.end,
    );
    let validated = einvoice_core::validate(&msg, &Rules::production())
        .map_err(|vs| Problem::violations(vs.0))?;
    let mut out = st
        .store
        .append(&Scope::All, &s.actor(), vec![validated])
        .await
        .map_err(store_problem)?;
    match out.pop() {
        Some(Ok(receipt)) => Ok(Json(json!({"receipt": receipt}))),
        Some(Err(r)) => {
            let status = if r.code == "DUPLICATE_CONFLICT" || r.code == "TRACK_OVERLAP" {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let mut p = problem(status, r.code, r.message.clone());
            p.errors = vec![crate::problem::ProblemError::from(
                einvoice_core::Violation::from(r),
            )];
            Err(p)
        }
        None => Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "the store returned no outcome",
        )),
    }
}
