//! The MOF App API (財政部電子發票應用 API), so existing apps can point at this
//! site by changing the host.
//!
//! # Paths and actions (MOF-RULES.md, "MOF App API")
//!
//! | path | actions |
//! | --- | --- |
//! | [`INV_APP_PATH`] `/PB2CAPIVAN/invapp/InvApp` | `QryWinningList`, `qryInvHeader`, `qryInvDetail` |
//! | [`INV_SERV_PATH`] `/PB2CAPIVAN/invServ/InvServ` | `carrierInvChk`, `carrierInvDetail` |
//! | [`DONATE_PATH`], [`LOVE_CODE_PATH`], [`BIZ_PATH`] | `carrierInvDnt`, `qryLoveCode`, `bcv`, `preserveCodeCheck` (`lifecycle.rs`, `biz.rs`) |
//! | [`AGGREGATE_PATH`], [`CARRIER_ACTION_PATH`] | `qryCarrierAgg`, `carrierAction` (歸戶, `aggregation.rs`) |
//! | [`CARRIER_REG_PATH`], [`PUB_CAR_VER_REG_PATH`], [`CHANGE_VER_PATH`], [`FORGET_VER_PATH`], [`GET_BARCODE_PATH`], [`CARRIER_BANK_PATH`] | `generalCarrierReg`, `pubCarVerReg`, `changeVer`, `forgetVer`, `getBarcode`, `generalCarrierBank` (`registration.rs`) |
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
//! | 906 | a signed request received before (replay: same parameters, `serial`, `timeStamp`) |
//! | 907 | too many requests from this client address or this appID; `msg` says when to retry |
//! | 919 | carrier id or verification code wrong (one answer for both: no enumeration) |
//! | 920 | carrier soft-locked after repeated failures; `msg` says when to retry |
//! | 951 | not found (no such invoice, or winning numbers not published) |
//! | 956 | the phone number or email address holds a mobile barcode already (`registration.rs`) |
//! | 957–960 | link refusals: linked already, linked to another barcode, not linked, 50 links (`aggregation.rs`) |
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
//! checked with Argon2id against [`CarrierRecord::verification_hash`](einvoice_store::CarrierRecord::verification_hash).
//! Each attempt is counted in the store *before* the code is checked, in the
//! carrier's budget and in the (carrier, client address) budget
//! ([`crate::lockout`], [`Store::reserve_attempt`](einvoice_store::Store::reserve_attempt)), so parallel
//! guesses cannot outrun the count; a spent budget answers `920` without
//! checking anything. Budgets come back with time (never a permanent lock),
//! and one client's guessing spends only its own budget first. Argon2 runs
//! under the process-wide permits ([`crate::password`]); when none is free in
//! time the answer is `998`. Verification codes are never logged.
//!
//! # Limits and replays
//!
//! Every request counts against its client address and, once the appID is
//! known, against the app ([`AppApiConfig::client_per_minute`],
//! [`AppApiConfig::app_per_minute`]; `907`). A signed request that carries
//! `timeStamp` (always, when [`AppApiConfig::require_signature`] is on) must
//! be within [`AppApiConfig::timestamp_window_secs`] of now and is
//! remembered that long: the same signed request again is refused (`906`).
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

mod aggregation;
mod answer;
mod biz;
mod carrier;
mod invoice;
mod lifecycle;
mod parameters;
mod registration;
mod router;
mod signature;
mod state;
mod winning_list;

pub use crate::carrier_auth::hash_verification_code;
pub use crate::password::HashError;
pub use aggregation::CARRIER_ACTION_PATH;
pub use biz::BIZ_PATH;
pub use lifecycle::LOVE_CODE_PATH;
pub use parameters::{ParamError, parse_date, parse_params};
pub use registration::{
    CARRIER_BANK_PATH, CARRIER_REG_PATH, CHANGE_VER_PATH, FORGET_VER_PATH, GET_BARCODE_PATH,
    PUB_CAR_VER_REG_PATH,
};
pub use router::{
    ACCEPTED_VERSIONS, AGGREGATE_PATH, DONATE_PATH, INV_APP_PATH, INV_SERV_PATH, router,
    router_with,
};
pub use signature::{AppKey, AppKeyError, SignatureAlg, sign, signing_string, verify_signature};
pub use state::AppApiConfig;
