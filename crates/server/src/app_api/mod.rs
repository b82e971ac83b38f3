//! The MOF App API (財政部電子發票應用 API), so existing apps can point at this
//! site by changing the host.
//!
//! # Paths and actions (MOF-RULES.md, "MOF App API")
//!
//! | path | actions |
//! | --- | --- |
//! | [`INV_APP_PATH`] `/PB2CAPIVAN/invapp/InvApp` | `QryWinningList`, `qryInvHeader`, `qryInvDetail` |
//! | [`INV_SERV_PATH`] `/PB2CAPIVAN/invServ/InvServ` | `carrierInvChk`, `carrierInvDetail` |
//! | [`DONATE_PATH`], [`AGGREGATE_PATH`] | `carrierInvDnt`, `qryCarrierAgg`: answered `902` (not offered yet) |
//!
//! Parameters are form-encoded (POST body) or in the query string (GET); both
//! are read, a name given twice is refused. Every answer is HTTP 200 with a JSON
//! body carrying `v` (the version the client sent), `code` and `msg`, as MOF
//! does. `QryWinningList` sends `code` as a string (`"200"`, as captured in
//! `fixtures/app-api/`); the other actions send it as a number (`200`).
//!
//! Versions: real clients send `0.2`–`0.6` for the same action; all of those
//! are accepted for every action ([`ACCEPTED_VERSIONS`]) and echoed in `v`.
//! Action names are matched case-insensitively (clients differ in case).
//!
//! # Codes (ours; MOF's own table is not public here, see the digest)
//!
//! | code | meaning |
//! | --- | --- |
//! | 200 | success |
//! | 901 | a parameter is missing or malformed (`msg` names it) |
//! | 902 | unknown action for this path, unsupported version, or an action not offered |
//! | 903 | unknown or disabled appID |
//! | 904 | signature invalid (or missing when required) |
//! | 905 | `timeStamp` outside the allowed window, or `expTimeStamp` passed |
//! | 919 | carrier id or verification code wrong (one answer for both: no enumeration) |
//! | 920 | carrier soft-locked after repeated failures; `msg` says when to retry |
//! | 951 | not found (no such invoice, or winning numbers not published) |
//! | 998 | temporarily unavailable (the store failed); retry later |
//!
//! # Signatures
//!
//! `signature` = Base64 (standard alphabet) of HMAC over every other parameter,
//! sorted by name (byte order), joined as `name=value&…` with the decoded
//! values, keyed with the app's API key (its UTF-8 bytes). The hash is the one
//! the app registered with ([`SignatureAlg`]: HMAC-SHA256 or HMAC-SHA1). The
//! digest says most query actions are not signed, so by default a signature
//! is verified when present and required only if
//! [`AppApiConfig::require_signature`] is set. Comparison is constant-time
//! (`Mac::verify_slice`).
//!
//! # Carrier authentication
//!
//! `carrierInvChk` / `carrierInvDetail` authenticate the citizen with the
//! carrier (`cardType` + `cardNo`) and its verification code (`cardEncrypt`),
//! checked with Argon2id against [`CarrierRecord::verification_hash`](einvoice_store::CarrierRecord::verification_hash). Each
//! failure is recorded with [`Store::record_carrier_login`](einvoice_store::Store::record_carrier_login); the answer is
//! delayed more with each consecutive failure, and after
//! [`Lockout::lock_after`](crate::lockout::Lockout::lock_after) failures ([`AppApiConfig::lockout`]) the carrier is
//! soft-locked for a time that doubles with each further failure, capped at
//! [`Lockout::max_lock_secs`](crate::lockout::Lockout::max_lock_secs): never permanent. Verification codes are never
//! logged.
//!
//! # Where things are
//!
//! | file | holds |
//! | --- | --- |
//! | `state.rs` | [`AppApiConfig`] and the state every action reads |
//! | `router.rs` | the paths, the action names ([`router`]'s `Action`) and the dispatch: parse, check version and app, run the action, answer |
//! | `parameters.rs` | the form/query parameters and their typed readers (`invTerm`, dates, `invNum`) |
//! | `signature.rs` | the App API HMAC: [`SignatureAlg`], [`AppKey`], [`signing_string`], [`sign`], the appID + signature check |
//! | `answer.rs` | the MOF-shaped answers: codes, `v`/`code`/`msg`, dates and invoice fields |
//! | `winning_list.rs` | `QryWinningList` |
//! | `invoice.rs` | `qryInvHeader`, `qryInvDetail` |
//! | `carrier.rs` | `carrierInvChk`, `carrierInvDetail` (carrier + verification code) |
//!
//! **A new action** goes in the file of its family (or a new file named after
//! it, e.g. `donate.rs` for `carrierInvDnt`) as an `async fn(&AppState<S>,
//! &Params) -> Result<Map<String, Value>, Fail>` that reads its parameters with
//! `parameters.rs` and builds its fields with `answer.rs`; then add its name
//! to `Action` in `router.rs` and to the path that serves it, and its code to
//! the table above if it answers a new one.

mod answer;
mod carrier;
mod invoice;
mod parameters;
mod router;
mod signature;
mod state;
mod winning_list;

pub use crate::carrier_auth::hash_verification_code;
pub use crate::password::HashError;
pub use router::{
    ACCEPTED_VERSIONS, AGGREGATE_PATH, DONATE_PATH, INV_APP_PATH, INV_SERV_PATH, router,
    router_with,
};
pub use signature::{AppKey, AppKeyError, SignatureAlg, sign, signing_string, verify_signature};
pub use state::AppApiConfig;
