//! The SOC console's reads (`/v1/soc/…`, role `soc`): the alerts the
//! site's detector raised and the incidents they opened ([`crate::soc`]).

use super::answer::{Answer, JsonBody, problem, record};
use super::session::{Operator, RoleSoc};
use super::state::OpsState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
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

/// Take a hold action ([`crate::soc_holds`]) as `soc`: recorded in the
/// ledger (`ADMIN`, `soc/<target>`) with the operator, reported to the SOC
/// as an operator action; answers the hold.
async fn hold<S: Store>(
    st: &OpsState<S>,
    soc: &Operator<RoleSoc>,
    action: ResponseAction,
    reason: Option<String>,
) -> Answer {
    let who = soc.actor();
    let now = i64::try_from(crate::soc::now_ms() / 1000).unwrap_or(i64::MAX);
    let held = crate::soc_holds::apply(&st.store, &action, &who, reason.as_deref(), now)
        .await
        .map_err(crate::soc_holds::HoldError::problem)?;
    let name = crate::soc_holds::hold_of(&action).map_or("soc.hold", |(_, _, n)| n);
    st.cfg
        .soc
        .operator_action(&who, crate::soc_sources::ops_client(), name, &held.target);
    Ok(Json(json!({
        "target": held.target,
        "in_force": held.in_force,
        "since_unix": held.since_unix,
        "by": held.by,
        "changed_unix": held.changed_unix,
    })))
}

/// A seller as a response action names it (an 8-digit UBN always is one).
fn soc_ubn(ubn: &einvoice_core::Ubn) -> Result<einvoice_soc::Ubn, crate::problem::Problem> {
    crate::soc_holds::soc_ubn(ubn).map_err(|e| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UBN_INVALID",
            e.to_string(),
        )
    })
}

/// The optional `{reason}` of a hold action on a seller or the site.
fn reason_of(raw: &[u8]) -> Result<Option<String>, crate::problem::Problem> {
    Ok(super::operators::optional_body::<super::operators::ReasonBody>(raw)?.reason())
}

/// `POST /v1/soc/sellers/{ubn}/freeze` `{reason?}`: the seller's messages
/// are refused (`403 SELLER_FROZEN`), its keys and reads keep working.
pub(super) async fn freeze_seller<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    soc: Operator<RoleSoc>,
    Path(ubn): Path<String>,
    raw: Bytes,
) -> Answer {
    let ubn = super::answer::parse_ubn("ubn", &ubn)?;
    let ubn = soc_ubn(&ubn)?;
    hold(
        &st,
        &soc,
        ResponseAction::FreezeSeller { ubn },
        reason_of(&raw)?,
    )
    .await
}

/// `POST /v1/soc/sellers/{ubn}/unfreeze` `{reason?}`: lift the freeze.
pub(super) async fn unfreeze_seller<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    soc: Operator<RoleSoc>,
    Path(ubn): Path<String>,
    raw: Bytes,
) -> Answer {
    let ubn = super::answer::parse_ubn("ubn", &ubn)?;
    let ubn = soc_ubn(&ubn)?;
    hold(
        &st,
        &soc,
        ResponseAction::UnfreezeSeller { ubn },
        reason_of(&raw)?,
    )
    .await
}

/// `POST /v1/soc/carriers/reverify` and `…/reverify/clear`: the carrier.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CarrierHoldBody {
    /// The carrier type code (`3J0002`).
    carrier_type: String,
    /// The carrier id (`/ABC+123`).
    carrier_id: String,
    /// Why (kept in the ledger).
    #[serde(default, deserialize_with = "super::operators::reason_text")]
    reason: Option<String>,
}

impl CarrierHoldBody {
    fn parse(self) -> Result<(einvoice_soc::Label, Option<String>), crate::problem::Problem> {
        let carrier = crate::carrier_token::parse_carrier(&self.carrier_type, &self.carrier_id)?;
        let label = crate::soc::label(&einvoice_store::carrier_key(&carrier));
        let reason = self
            .reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        Ok((label, reason))
    }
}

/// `POST /v1/soc/carriers/reverify`: the carrier must verify again — its
/// tokens die, its code answers as wrong until it is reset through its
/// registered contact or the hold is cleared.
pub(super) async fn reverify_carrier<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    soc: Operator<RoleSoc>,
    JsonBody(b): JsonBody<CarrierHoldBody>,
) -> Answer {
    let (carrier, reason) = b.parse()?;
    hold(
        &st,
        &soc,
        ResponseAction::ForceCarrierReverify { carrier },
        reason,
    )
    .await
}

/// `POST /v1/soc/carriers/reverify/clear`: drop the requirement (tokens
/// issued before the hold stay dead).
pub(super) async fn clear_carrier<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    soc: Operator<RoleSoc>,
    JsonBody(b): JsonBody<CarrierHoldBody>,
) -> Answer {
    let (carrier, reason) = b.parse()?;
    hold(
        &st,
        &soc,
        ResponseAction::ClearCarrierReverify { carrier },
        reason,
    )
    .await
}

/// `POST /v1/soc/site/read-only` `{reason?}`: every write of the site is
/// answered `503 SITE_READ_ONLY` until lifted.
pub(super) async fn read_only<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    soc: Operator<RoleSoc>,
    raw: Bytes,
) -> Answer {
    hold(&st, &soc, ResponseAction::SiteReadOnly, reason_of(&raw)?).await
}

/// `POST /v1/soc/site/read-only/lift` `{reason?}`: writes are served again.
pub(super) async fn read_write<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    soc: Operator<RoleSoc>,
    raw: Bytes,
) -> Answer {
    hold(&st, &soc, ResponseAction::SiteReadWrite, reason_of(&raw)?).await
}
