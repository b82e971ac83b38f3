//! The SOC's response actions that hold a target until lifted (issue 16):
//! a frozen seller, a carrier that must verify again, the site read-only.
//!
//! One pattern for the three, like disabling an app: the state is a store
//! record ([`SocHold`], both backends, in the `records` table) that the
//! request paths read, and every change is first an `ADMIN` ledger entry
//! (`soc/<target>`) naming its actor — an operator of role `soc` through
//! `/v1/soc/…`, or `local:<name>` through `einvoice soc respond --data` on a
//! stopped site. [`apply`] is the one place that does both.
//!
//! What each hold does while in force:
//! - **seller** (`seller:<ubn>`): the seller's API keys keep
//!   authenticating and its reads are served; every message it would issue
//!   (`POST /v1/messages`, `/v1/batches`, `/v1/uploads`) is refused with
//!   `403` [`SELLER_FROZEN`].
//! - **carrier** (`carrier:<type:id>`): the carrier's tokens issued at or
//!   before the hold are refused with `401` [`CARRIER_REVERIFY`] (still after
//!   the hold is lifted: a lifted hold does not revive them); every check of
//!   its verification code (REST login, App API actions, code change)
//!   answers as a wrong code — counted in its budgets like one, reported to
//!   the SOC like one (reason `wrong_code`) — so a guessed or stolen code is worth
//!   nothing. The carrier verifies again by resetting its code through its
//!   registered contact (`POST /v1/carrier/verification-code/reset`, then
//!   `…/confirm`), which lifts the hold; or the SOC clears it.
//! - **site** (`site`): every write route answers `503` [`SITE_READ_ONLY`]
//!   with `Retry-After` ([`is_write`]); reads, the SOC console
//!   (`/v1/soc/…`) and operator login and logout keep working, so an
//!   operator can lift it.

use crate::problem::Problem;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use einvoice_core::{Carrier, Ubn};
use einvoice_soc::ResponseAction;
use einvoice_store::{NewEntry, SocHold, Store, StoreError, canonical_json, carrier_key};
use serde_json::json;

/// Problem code (403) of a message of a frozen seller.
pub const SELLER_FROZEN: &str = "SELLER_FROZEN";
/// Problem code (401) of a carrier token dead by a forced re-verification.
pub const CARRIER_REVERIFY: &str = "CARRIER_REVERIFY";
/// Problem code (503) of a write while the site is read-only.
pub const SITE_READ_ONLY: &str = "SITE_READ_ONLY";
/// `Retry-After` of a [`SITE_READ_ONLY`] answer, seconds.
pub const READ_ONLY_RETRY_SECS: u64 = 60;
/// The target of the site-wide hold.
pub const SITE_TARGET: &str = "site";

/// The hold target of a seller: `seller:<ubn>` (as [`hold_of`] names it).
pub fn seller_target(ubn: &Ubn) -> String {
    format!("seller:{}", ubn.as_str())
}

/// A seller as the SOC names it in a response action.
pub fn soc_ubn(ubn: &Ubn) -> Result<einvoice_soc::Ubn, einvoice_soc::event::EventError> {
    einvoice_soc::Ubn::new(ubn.as_str())
}

/// The hold target of a carrier: `carrier:<type:id>` (as its budgets name it).
pub fn carrier_target(carrier: &Carrier) -> String {
    format!("carrier:{}", carrier_key(carrier))
}

/// The target a response action holds, whether it puts the hold in force,
/// and its ledger action name; `None` for actions that are not holds.
pub fn hold_of(action: &ResponseAction) -> Option<(String, bool, &'static str)> {
    Some(match action {
        ResponseAction::FreezeSeller { ubn } => (
            format!("seller:{}", ubn.as_str()),
            true,
            "soc.freeze_seller",
        ),
        ResponseAction::UnfreezeSeller { ubn } => (
            format!("seller:{}", ubn.as_str()),
            false,
            "soc.unfreeze_seller",
        ),
        ResponseAction::ForceCarrierReverify { carrier } => (
            format!("carrier:{carrier}"),
            true,
            "soc.force_carrier_reverify",
        ),
        ResponseAction::ClearCarrierReverify { carrier } => (
            format!("carrier:{carrier}"),
            false,
            "soc.clear_carrier_reverify",
        ),
        ResponseAction::SiteReadOnly => (SITE_TARGET.to_string(), true, "soc.site_read_only"),
        ResponseAction::SiteReadWrite => (SITE_TARGET.to_string(), false, "soc.site_read_write"),
        _ => return None,
    })
}

/// Why a hold could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// The action is not one of the holds (a block, a key, an app).
    #[error("HOLD_INVALID: {0:?} is not a hold (freeze, re-verify, read-only)")]
    NotAHold(String),
    /// The hold is already in the state asked for (nothing written).
    #[error("{code}: {target} is already {state}")]
    Already {
        /// `HOLD_IN_FORCE` or `HOLD_NOT_IN_FORCE`.
        code: &'static str,
        /// The target.
        target: String,
        /// `held` or `not held`.
        state: &'static str,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl HoldError {
    /// The answer of a route: `409` for a hold already in that state.
    pub fn problem(self) -> Problem {
        match self {
            HoldError::Already { code, .. } => {
                Problem::new(StatusCode::CONFLICT, code, self.to_string())
            }
            HoldError::NotAHold(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "HOLD_INVALID",
                self.to_string(),
            ),
            HoldError::Store(e) => crate::problem::store_problem(e),
        }
    }
}

/// Take a hold action: refused when the target is already in that state;
/// else recorded in the ledger (`ADMIN`, key `soc/<target>`, `actor`, the
/// action and `reason`), then the hold is put. The new hold is returned.
pub async fn apply<S: Store>(
    store: &S,
    action: &ResponseAction,
    actor: &str,
    reason: Option<&str>,
    now_unix: i64,
) -> Result<SocHold, HoldError> {
    let (target, in_force, name) =
        hold_of(action).ok_or_else(|| HoldError::NotAHold(format!("{action:?}")))?;
    let old = store.soc_hold(&target).await?;
    if old.as_ref().is_some_and(|h| h.in_force) == in_force {
        let (code, state) = if in_force {
            ("HOLD_IN_FORCE", "held")
        } else {
            ("HOLD_NOT_IN_FORCE", "not held")
        };
        return Err(HoldError::Already {
            code,
            target,
            state,
        });
    }
    store
        .append_event(NewEntry {
            kind: "ADMIN".into(),
            key: format!("soc/{target}"),
            actor: actor.to_string(),
            body: canonical_json(&json!({
                "action": name,
                "target": target,
                "reason": reason,
            })),
        })
        .await?;
    let hold = SocHold {
        target,
        in_force,
        since_unix: if in_force {
            now_unix
        } else {
            old.map_or(0, |h| h.since_unix)
        },
        by: actor.to_string(),
        changed_unix: now_unix,
    };
    store.put_soc_hold(hold.clone()).await?;
    Ok(hold)
}

/// Whether `target` is held now.
pub async fn in_force<S: Store>(store: &S, target: &str) -> Result<bool, StoreError> {
    Ok(store.soc_hold(target).await?.is_some_and(|h| h.in_force))
}

/// `403 SELLER_FROZEN` when `seller` is frozen.
pub async fn refuse_frozen<S: Store>(store: &S, seller: &Ubn) -> Result<(), Problem> {
    if in_force(store, &seller_target(seller))
        .await
        .map_err(crate::problem::store_problem)?
    {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            SELLER_FROZEN,
            format!(
                "seller {seller} is frozen by the security operations center: its reads are \
                 served, nothing is issued for it until the freeze is lifted"
            ),
        ));
    }
    Ok(())
}

/// `401 CARRIER_REVERIFY` when `carrier`'s token, issued at `issued_unix`,
/// is dead by a forced re-verification (in force now, or put at or after
/// the token was issued).
pub async fn refuse_dead_token<S: Store>(
    store: &S,
    carrier: &Carrier,
    issued_unix: i64,
) -> Result<(), Problem> {
    let hold = store
        .soc_hold(&carrier_target(carrier))
        .await
        .map_err(crate::problem::store_problem)?;
    if hold.is_some_and(|h| h.in_force || issued_unix <= h.since_unix) {
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            CARRIER_REVERIFY,
            "this carrier must verify again: its tokens were ended by the security operations \
             center; reset the verification code through the registered contact, then log in",
        ));
    }
    Ok(())
}

/// After the carrier reset its code through its registered contact: a
/// forced re-verification in force is lifted (recorded with the carrier as
/// actor). Nothing when none is.
pub async fn reverified<S: Store>(
    store: &S,
    carrier: &Carrier,
    now_unix: i64,
) -> Result<(), StoreError> {
    let target = carrier_target(carrier);
    if !in_force(store, &target).await? {
        return Ok(());
    }
    let action = ResponseAction::ClearCarrierReverify {
        carrier: crate::soc::label(&carrier_key(carrier)),
    };
    match apply(store, &action, &target, Some("code reset"), now_unix).await {
        Ok(_) | Err(HoldError::Already { .. }) | Err(HoldError::NotAHold(_)) => Ok(()),
        Err(HoldError::Store(e)) => Err(e),
    }
}

/// Whether a request is a write the read-only site refuses: a method other
/// than GET, HEAD or OPTIONS on a route of class citizen-write or main-only
/// ([`crate::role::classify`]), except operator login and logout and the
/// SOC console. (The App API is one route of class citizen-write: while the
/// site is read-only every App API call is refused; the MOF business API,
/// public lookup and the citizen and seller reads are served.)
pub fn is_write(method: &Method, path: &str) -> bool {
    use crate::role::RouteClass;
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || path.starts_with("/v1/soc/")
        || path == "/v1/ops/login"
        || path == "/v1/ops/logout"
    {
        return false;
    }
    matches!(
        crate::role::classify(method.as_str(), path),
        Some(RouteClass::CitizenWrite | RouteClass::MainOnly)
    )
}

/// The edge layer: while the site is read-only a write ([`is_write`]) is
/// answered `503 SITE_READ_ONLY` with `Retry-After` before any handler
/// runs. The hold is read from the store on each write (every node of a
/// shared database agrees at once).
pub async fn refuse_writes_when_read_only<S: Store>(
    State(store): State<S>,
    req: Request,
    next: Next,
) -> Response {
    if is_write(req.method(), req.uri().path()) {
        match in_force(&store, SITE_TARGET).await {
            Ok(false) => {}
            Ok(true) => {
                return Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    SITE_READ_ONLY,
                    "the site is read-only by the security operations center: reads are served, \
                     nothing is written until it is lifted",
                )
                .retry_after(READ_ONLY_RETRY_SECS)
                .public_detail()
                .into_response();
            }
            Err(e) => return crate::problem::store_problem(e).into_response(),
        }
    }
    next.run(req).await
}
