//! The SOC console's reads (`/v1/soc/…`, role `soc`): the alerts the
//! site's detector raised and the incidents they opened ([`crate::soc`]).

use super::answer::Answer;
use super::session::{Operator, RoleSoc};
use super::state::OpsState;
use axum::Json;
use axum::extract::State;
use einvoice_store::Store;
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
