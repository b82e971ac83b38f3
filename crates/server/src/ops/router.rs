//! The operator routes (the table in [`super`]) and their shared state.

use super::state::{OpsConfig, OpsState};
use super::{apps, keys, operators, sellers, session, tracks, winning_numbers};
use axum::Router;
use axum::routing::{get, post};
use einvoice_secrets::Sealer;
use einvoice_store::Store;
use std::collections::HashMap;
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
        login: tokio::sync::Mutex::new(()),
        started: std::sync::Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/v1/ops/login", post(session::login::<S>))
        .route("/v1/ops/logout", post(session::logout::<S>))
        .route("/v1/ops/whoami", get(session::whoami))
        .route("/v1/ops/sellers", post(sellers::put_seller::<S>))
        .route("/v1/ops/keys", post(keys::create_key::<S>))
        .route("/v1/ops/apps", post(apps::create_app::<S>))
        .route("/v1/ops/operators", post(operators::create_operator::<S>))
        .route("/v1/ops/tracks", post(tracks::allocate_tracks::<S>))
        .route("/v1/ops/winning", post(winning_numbers::enter_winning::<S>))
        .route(
            "/v1/ops/winning/{period}",
            get(winning_numbers::get_winning::<S>),
        )
        .route(
            "/v1/ops/winning/{period}/approve",
            post(winning_numbers::approve_winning::<S>),
        )
        .with_state(st)
}
