//! The App API paths, the action names each serves, and the dispatch:
//! parameters, action, version, app and signature, then the action itself.

use super::answer::{Fail, code, fail, respond};
use super::parameters::Params;
use super::signature::check_app;
use super::state::{AppApiConfig, AppState};
use super::{carrier, invoice, winning_list};
use crate::rate_limit::ClientAddr;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use einvoice_secrets::Sealer;
use einvoice_store::Store;
use std::sync::Arc;

/// Path of `QryWinningList`, `qryInvHeader`, `qryInvDetail`.
pub const INV_APP_PATH: &str = "/PB2CAPIVAN/invapp/InvApp";
/// Path of `carrierInvChk`, `carrierInvDetail`.
pub const INV_SERV_PATH: &str = "/PB2CAPIVAN/invServ/InvServ";
/// Path of `carrierInvDnt` (served by `lifecycle.rs`).
pub const DONATE_PATH: &str = "/PB2CAPIVAN/CarInv/Donate";
/// Path of `qryCarrierAgg` (served by `aggregation.rs`).
pub const AGGREGATE_PATH: &str = "/PB2CAPIVAN/Carrier/Aggregate";
/// The `version` values accepted for every action.
pub const ACCEPTED_VERSIONS: [&str; 5] = ["0.2", "0.3", "0.4", "0.5", "0.6"];

/// The App API router with the default [`AppApiConfig`].
pub fn router<S: Store>(store: S, sealer: Sealer) -> Router {
    router_with(store, sealer, AppApiConfig::default())
}

/// The App API router with a given configuration.
pub fn router_with<S: Store>(store: S, sealer: Sealer, cfg: AppApiConfig) -> Router {
    let st = Arc::new(AppState::new(store, sealer, cfg));
    Router::new()
        .route(INV_APP_PATH, get(inv_app::<S>).post(inv_app::<S>))
        .route(INV_SERV_PATH, get(inv_serv::<S>).post(inv_serv::<S>))
        .merge(super::lifecycle::routes::<S>())
        .merge(super::registration::routes::<S>())
        .merge(super::aggregation::routes::<S>())
        .with_state(st)
        // The client address of each call, for the SOC events of
        // `check_app` (signature failures, replays).
        .layer(axum::middleware::from_fn(
            crate::soc_sources::remember_ops_client,
        ))
}

/// The actions this module answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    WinningList,
    InvHeader,
    InvDetail,
    CarrierChk,
    CarrierDetail,
}

impl Action {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "qrywinninglist" => Some(Self::WinningList),
            "qryinvheader" => Some(Self::InvHeader),
            "qryinvdetail" => Some(Self::InvDetail),
            "carrierinvchk" => Some(Self::CarrierChk),
            "carrierinvdetail" => Some(Self::CarrierDetail),
            _ => None,
        }
    }

    /// `QryWinningList` answers `code` as a string, the others as a number.
    fn string_code(&self) -> bool {
        matches!(self, Self::WinningList)
    }
}

async fn inv_app<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    ClientAddr(client): ClientAddr,
    uri: Uri,
    body: Bytes,
) -> Response {
    dispatch(
        &st,
        &client,
        &uri,
        &body,
        &[Action::WinningList, Action::InvHeader, Action::InvDetail],
    )
    .await
}

async fn inv_serv<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    ClientAddr(client): ClientAddr,
    uri: Uri,
    body: Bytes,
) -> Response {
    dispatch(
        &st,
        &client,
        &uri,
        &body,
        &[Action::CarrierChk, Action::CarrierDetail],
    )
    .await
}

/// The answer to a request over a per-client or per-appID limit.
pub(super) fn rate_limited(l: crate::rate_limit::Limited, what: &str) -> Fail {
    fail(
        code::RATE_LIMITED,
        format!(
            "too many requests from {what}: retry after {} seconds",
            l.retry_after_secs
        ),
    )
}

async fn dispatch<S: Store>(
    st: &AppState<S>,
    client: &str,
    uri: &Uri,
    body: &[u8],
    allowed: &[Action],
) -> Response {
    let p = match Params::parse(uri, body) {
        Ok(p) => p,
        Err(f) => return respond("0.5", false, Err(f)),
    };
    let v = p.get("version").unwrap_or("").to_string();
    let action = p.get("action").and_then(Action::parse);
    let string_code = action.is_some_and(|a| a.string_code());
    // Per client before anything is looked up (parsing above is bounded and cheap).
    if let Err(l) = st.per_client.check(client) {
        return respond(&v, string_code, Err(rate_limited(l, "this client")));
    }
    let Some(action) = action.filter(|a| allowed.contains(a)) else {
        return respond(
            &v,
            string_code,
            Err(fail(code::ACTION, "unknown action for this path")),
        );
    };
    if !ACCEPTED_VERSIONS.contains(&v.as_str()) {
        return respond(
            &v,
            string_code,
            Err(fail(
                code::ACTION,
                format!("version must be one of {}", ACCEPTED_VERSIONS.join(", ")),
            )),
        );
    }
    let result = async {
        let app_id = check_app(st, &p).await?;
        st.per_app
            .check(&app_id)
            .map_err(|l| rate_limited(l, "this appID"))?;
        match action {
            Action::WinningList => winning_list::winning_list(st, &p).await,
            Action::InvHeader => invoice::inv_header(st, &p).await,
            Action::InvDetail => invoice::inv_detail(st, &p).await,
            Action::CarrierChk => carrier::carrier_chk(st, &p, client).await,
            Action::CarrierDetail => carrier::carrier_detail(st, &p, client).await,
        }
    }
    .await;
    respond(&v, string_code, result)
}
