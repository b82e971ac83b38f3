//! Operator accounts and the operator API (`/v1/ops/…`).
//!
//! **Accounts.** An operator logs in with a password (Argon2id PHC string in
//! [`OperatorRecord::password_hash`](einvoice_store::OperatorRecord::password_hash)) and a TOTP code (RFC 6238: SHA-1, 6
//! digits, 30 s steps, ±1 step of skew; the secret sealed for purpose
//! [`purpose::TOTP`](einvoice_secrets::purpose::TOTP)). A code is usable once: the accepted step must be later
//! than [`OperatorRecord::last_totp_step`](einvoice_store::OperatorRecord::last_totp_step). Failures (wrong password, wrong or
//! reused code) count; each delays the answer more, and from
//! [`Lockout::lock_after`](crate::lockout::Lockout::lock_after) ([`OpsConfig::lockout`]) failures on the account is soft-locked for a time
//! that doubles per failure, capped (never permanent). An unknown name costs
//! the same Argon2 work as a known one.
//!
//! **Sessions.** A login returns a random 32-byte bearer token (hex); only its
//! SHA-256 (hex) is stored. A session ends after [`OpsConfig::idle_secs`]
//! without use and at most [`OpsConfig::max_secs`] after login; both ends
//! are kept in the session record
//! ([`SessionRecord::absolute_expires_unix`](einvoice_store::SessionRecord::absolute_expires_unix)),
//! so restarts and other nodes agree. A session of a disabled account, or
//! issued before its sessions were ended, is refused (`401 SESSION_REVOKED`).
//!
//! **New accounts.** `POST /v1/ops/operators` creates an account with no
//! credentials and answers a single-use enrolment token (valid
//! [`OpsConfig::enrolment_secs`], only its SHA-256 stored); the new person
//! redeems it at `POST /v1/ops/enrol`, choosing a password and receiving the
//! TOTP secret once. The creator is recorded
//! ([`OperatorRecord::created_by`](einvoice_store::OperatorRecord::created_by)).
//! On the data directory, `einvoice admin bootstrap` and `admin operator
//! add-local` ([`add_local_operator`]) print the secrets to the local person
//! and start creation lines of their own.
//!
//! **Two-person rule.** See `winning_numbers.rs`: the approver names the
//! version and the SHA-256 of its numbers, and is neither the enterer, nor
//! in a creation line meeting the enterer's, nor at the enterer's client
//! address (`403 TWO_PERSON_RULE`).
//!
//! **Caching.** Every `/v1/ops` answer carries `Cache-Control: no-store`.
//!
//! **Roles.** `operator` may act; `auditor` may only read; `soc` has its own
//! (future) routes. Anything else is `403 ROLE_FORBIDDEN`.
//!
//! **The ledger.** Every operator action is appended with
//! [`Store::append_event`](einvoice_store::Store::append_event) as kind `ADMIN`, actor `operator:<name>`, body
//! canonical JSON (sorted keys, compact) without secrets. A track allocation
//! is itself an E0401 ledger entry appended with that actor.
//!
//! | route | role | does |
//! | --- | --- | --- |
//! | `POST /v1/ops/login` `{name, password, totp}` | — | `{token, expires_unix, roles}` |
//! | `POST /v1/ops/logout` | any | ends the session |
//! | `GET /v1/ops/whoami` | any | `{name, roles, expires_unix}` |
//! | `POST /v1/ops/sellers` `{ubn, name}` | operator | register / rename a seller |
//! | `POST /v1/ops/keys` `{sellers: [ubn…]}` | operator | `{key_id, secret}` (secret shown once, sealed `api-key`) |
//! | `POST /v1/ops/apps` `{name, app_id?, alg?}` | operator | `{app_id, api_key, alg}` (key shown once, sealed `app-key`) |
//! | `POST /v1/ops/operators` `{name, roles}` | operator | `{name, roles, created_by, enrolment_token, enrolment_expires_unix}` (token shown once) |
//! | `POST /v1/ops/enrol` `{name, token, password}` | — | `{name, roles, totp_secret, otpauth_url}` (shown once) |
//! | `POST /v1/ops/operators/{name}/disable` `{reason?}` | operator (not oneself) | no login; every session ends |
//! | `POST /v1/ops/operators/{name}/enable` `{reason?}` | operator | its own credentials work again |
//! | `POST /v1/ops/keys/{key_id}/revoke` `{reason?}` | operator | the key authenticates nothing |
//! | `POST /v1/ops/keys/{key_id}/rotate` `{reason?}` | operator | `{key_id, secret, sellers, replaces}`; the old key revoked at once |
//! | `POST /v1/ops/apps/{app_id}/disable` / `enable` `{reason?}` | operator | a disabled appID is answered as unknown (903) |
//! | `POST /v1/ops/tracks` `{seller, period, track, begin, end, head?, invoice_type?}` | operator | E0401 validated and appended; the receipt |
//! | `POST /v1/ops/winning` `{period, special, grand, first, additional_sixth?, amounts?, reason?}` | operator | a new draft version (with `numbers_sha256`) |
//! | `POST /v1/ops/winning/{period}/approve` `{version, expected_sha256}` | operator (two-person rule) | publishes it |
//! | `GET /v1/ops/winning/{period}` | operator, auditor | the latest version |

// A `Problem` is built at most once per request and goes straight to the client:
// boxing it would only add noise.
#![allow(clippy::result_large_err)]

//! # Where things are
//!
//! | file | holds |
//! | --- | --- |
//! | `state.rs` | [`OpsConfig`], [`OpsError`], token hashes and the state the routes share |
//! | `router.rs` | the routes above |
//! | `session.rs` | login, logout, whoami and the `Operator<R>` extractor (session + role) every other route starts with |
//! | `answer.rs` | problem documents, JSON bodies, the `ADMIN` ledger record |
//! | `operators.rs` | operator accounts: new accounts, bootstrap, `POST /v1/ops/operators` |
//! | `totp.rs` | the operators' TOTP (RFC 6238) parameters |
//! | `sellers.rs`, `keys.rs`, `apps.rs`, `tracks.rs`, `winning_numbers.rs` | one resource each |
//!
//! **A new route** goes in the file of its resource (or a new one named after
//! it): a handler taking `State`, an `Operator<RoleOperator>` (or
//! `Operator<RoleOperatorOrAuditor>` for a read) and the raw body, answering
//! `Answer` (`answer.rs`) and recording what it did with `record`; then add it to
//! `router.rs`, to the table above and to the OpenAPI table ([`crate::openapi`]).

mod answer;
mod apps;
mod card_issuers;
mod keys;
mod npos;
mod operators;
mod router;
mod sellers;
mod session;
mod soc;
mod state;
mod totp;
mod tracks;
mod winning_numbers;

pub use crate::clock::Clock;
pub use operators::{
    MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, NewOperatorSecrets, add_local_operator,
    bootstrap_operator, new_operator,
};
pub use router::{router, router_with};
pub use state::{OpsConfig, OpsError, token_hash};
pub use totp::TOTP_ISSUER;
pub use tracks::track_message;
