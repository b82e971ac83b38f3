//! The operator routes (the table in [`super`]) and their shared state.

use super::state::{OpsConfig, OpsState};
use super::{
    apps, card_issuers, keys, npos, operators, sellers, session, soc, tracks, winning_numbers,
};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post, put};
use einvoice_secrets::Sealer;
use einvoice_store::Store;
use std::sync::Arc;

/// The operator API router with the default [`OpsConfig`].
pub fn router<S: Store>(store: S, sealer: Sealer) -> Router {
    router_with(store, sealer, OpsConfig::default())
}

/// The operator API router with a given configuration.
pub fn router_with<S: Store>(store: S, sealer: Sealer, cfg: OpsConfig) -> Router {
    let st = Arc::new(OpsState {
        store,
        sealer,
        cfg,
        accounts: tokio::sync::Mutex::new(()),
    });
    Router::new()
        .route("/v1/ops/login", post(session::login::<S>))
        .route("/v1/ops/logout", post(session::logout::<S>))
        .route("/v1/ops/whoami", get(session::whoami))
        .route("/v1/ops/sellers", post(sellers::put_seller::<S>))
        .route("/v1/ops/keys", post(keys::create_key::<S>))
        .route("/v1/ops/apps", post(apps::create_app::<S>))
        .route("/v1/ops/operators", post(operators::create_operator::<S>))
        .route("/v1/ops/enrol", post(operators::enrol::<S>))
        .route(
            "/v1/ops/operators/{name}/disable",
            post(operators::disable_operator::<S>),
        )
        .route(
            "/v1/ops/operators/{name}/enable",
            post(operators::enable_operator::<S>),
        )
        .route("/v1/ops/keys/{key_id}/revoke", post(keys::revoke_key::<S>))
        .route("/v1/ops/keys/{key_id}/rotate", post(keys::rotate_key::<S>))
        .route(
            "/v1/ops/apps/{app_id}/disable",
            post(apps::disable_app::<S>),
        )
        .route("/v1/ops/apps/{app_id}/enable", post(apps::enable_app::<S>))
        .route("/v1/ops/tracks", post(tracks::allocate_tracks::<S>))
        .route("/v1/ops/npos/{love_code}", put(npos::put_npo::<S>))
        .route(
            "/v1/ops/card-issuers/{bank_code}",
            put(card_issuers::put_card_issuer::<S>),
        )
        .route("/v1/ops/winning", post(winning_numbers::enter_winning::<S>))
        .route(
            "/v1/ops/winning/{period}",
            get(winning_numbers::get_winning::<S>),
        )
        .route(
            "/v1/ops/winning/{period}/approve",
            post(winning_numbers::approve_winning::<S>),
        )
        .route("/v1/soc/alerts", get(soc::alerts::<S>))
        .route("/v1/soc/incidents", get(soc::incidents::<S>))
        .route("/v1/soc/blocks", post(soc::block::<S>))
        .route("/v1/soc/unblock", post(soc::unblock::<S>))
        .route(
            "/v1/soc/sellers/{ubn}/freeze",
            post(soc::freeze_seller::<S>),
        )
        .route(
            "/v1/soc/sellers/{ubn}/unfreeze",
            post(soc::unfreeze_seller::<S>),
        )
        .route(
            "/v1/soc/carriers/reverify",
            post(soc::reverify_carrier::<S>),
        )
        .route(
            "/v1/soc/carriers/reverify/clear",
            post(soc::clear_carrier::<S>),
        )
        .route("/v1/soc/site/read-only", post(soc::read_only::<S>))
        .route("/v1/soc/site/read-only/lift", post(soc::read_write::<S>))
        .with_state(st)
        .layer(axum::middleware::from_fn(
            crate::soc_sources::remember_ops_client,
        ))
        .layer(axum::middleware::map_response(no_store))
}

/// Every operator answer may carry a token or a secret (a session token, an
/// enrolment token, a key shown once) or data for operators' eyes only: no
/// cache keeps any of them.
async fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
