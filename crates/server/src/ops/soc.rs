//! The SOC console's reads (`/v1/soc/…`, role `soc`): the alerts the
//! site's detector raised and the incidents they opened ([`crate::soc`]).

use super::answer::{Answer, JsonBody, problem, record};
use super::session::{Operator, RoleSoc};
use super::state::OpsState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use einvoice_soc::{Cidr, ResponseAction};
use einvoice_store::Store;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// `GET /v1/soc/alerts`: every alert so far, oldest first (`rule`,
/// `severity`, `key`, `opened_at`, `incident`, `events`).
pub(super) async fn alerts<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    _soc: Operator<RoleSoc>,
) -> Answer {
    Ok(Json(json!({ "alerts": st.cfg.soc.alerts() })))
}

/// `GET /v1/soc/incidents`: every incident so far, oldest first, with its
/// state, alerts and timeline.
pub(super) async fn incidents<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    _soc: Operator<RoleSoc>,
) -> Answer {
    Ok(Json(json!({ "incidents": st.cfg.soc.incidents() })))
}

/// `POST /v1/soc/blocks`: block a client address or range.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BlockBody {
    /// `192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`.
    range: String,
    /// How long, 1 minute to 30 days.
    minutes: u64,
}

/// `POST /v1/soc/blocks`: refuse a client address or range at the edge
/// (`403 CLIENT_BLOCKED`) for `minutes`; recorded in the ledger (`ADMIN`,
/// `soc/block/<range>`) with the operator who took it.
pub(super) async fn block<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    soc: Operator<RoleSoc>,
    JsonBody(b): JsonBody<BlockBody>,
) -> Answer {
    let invalid = |d: String| problem(StatusCode::UNPROCESSABLE_ENTITY, "BLOCK_INVALID", d);
    let range = Cidr::parse(&b.range).map_err(|e| invalid(e.to_string()))?;
    let now = crate::soc::now_ms();
    let until_ms = b
        .minutes
        .checked_mul(60_000)
        .and_then(|d| now.checked_add(d))
        .ok_or_else(|| invalid("minutes: too large".into()))?;
    let action = ResponseAction::BlockClient { range, until_ms };
    action.validate(now).map_err(|e| invalid(e.to_string()))?;
    record(
        &st,
        &soc.actor(),
        format!("soc/block/{range}"),
        json!({"action": "soc.block_client", "range": range.to_string(), "until_ms": until_ms}),
    )
    .await?;
    st.cfg.soc.apply(&action);
    Ok(Json(
        json!({"range": range.to_string(), "until_ms": until_ms}),
    ))
}

/// `POST /v1/soc/unblock`: lift a block early.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UnblockBody {
    /// The range as it was blocked (`192.0.2.7`, `192.0.2.0/24`).
    range: String,
}

/// `POST /v1/soc/unblock`: the inverse of a block — the range is served
/// again at once on this node (a block of exactly that range is lifted;
/// other ranges covering an address stay); recorded in the ledger
/// (`ADMIN`, `soc/unblock/<range>`) with the operator who took it.
pub(super) async fn unblock<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    soc: Operator<RoleSoc>,
    JsonBody(b): JsonBody<UnblockBody>,
) -> Answer {
    let range = Cidr::parse(&b.range).map_err(|e| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "BLOCK_INVALID",
            e.to_string(),
        )
    })?;
    let action = ResponseAction::UnblockClient {
        range,
        until_ms: crate::soc::now_ms(),
    };
    record(
        &st,
        &soc.actor(),
        format!("soc/unblock/{range}"),
        json!({"action": "soc.unblock_client", "range": range.to_string()}),
    )
    .await?;
    st.cfg.soc.apply(&action);
    Ok(Json(json!({"range": range.to_string()})))
}
