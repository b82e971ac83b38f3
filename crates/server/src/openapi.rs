//! The OpenAPI 3.1 document of the site, generated from [`ROUTES`] — the one
//! table of every route this crate mounts — and [`detail`], which says for
//! each route its parameter and body schemas (patterns from `einvoice_core`'s
//! parsers), its answer's schema and every problem it can answer with its
//! codes. `openapi.json` at the repository root is this document; a test fails
//! when the committed file drifts, another checks every listed route is really
//! mounted, and `scripts/fuzz-api` fuzzes a demo site against it.
//!
//! A new route: one [`RouteDoc`] line in [`ROUTES`] (enough for a first
//! document), then its arm in `detail` with the exact schemas and problems.

use crate::carrier_life::registration::{
    EMAIL_MAX, EMAIL_PATTERN, PHONE_PATTERN, VERIFICATION_CODE_PATTERN,
};
use crate::ops::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No authentication.
    Public,
    /// Signed seller / integrator request (`X-Einvoice-*` headers).
    Signed,
    /// Carrier bearer token from `/v1/carrier/login`.
    CarrierToken,
    /// Operator session bearer token from `/v1/ops/login`.
    OperatorSession,
    /// MOF App API `appID` (+ optional `signature`) parameters.
    AppId,
}

/// One mounted route.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// HTTP method, lowercase.
    pub method: &'static str,
    /// Path template (`{name}` parameters).
    pub path: &'static str,
    /// Grouping tag.
    pub tag: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Authentication.
    pub auth: Auth,
    /// Query parameters: (name, required, description).
    pub query: &'static [(&'static str, bool, &'static str)],
    /// Request body media types (empty: no body).
    pub body: &'static [&'static str],
    /// Success status and what it returns.
    pub ok: (u16, &'static str),
}

const JSON: &[&str] = &["application/json"];
const FORM: &[&str] = &["application/x-www-form-urlencoded"];
const PERIOD: (&str, bool, &str) = ("period", true, "period YYYMM (ROC year, even month)");

/// Every route of the site.
pub const ROUTES: &[RouteDoc] = &[
    RouteDoc {
        method: "get",
        path: "/healthz",
        tag: "probes",
        summary: "Liveness: the process answers",
        auth: Auth::Public,
        query: &[],
        body: &[],
        ok: (200, "{status: ok}"),
    },
    RouteDoc {
        method: "get",
        path: "/readyz",
        tag: "probes",
        summary: "Readiness: the store answers (503 + Retry-After otherwise), with the site's sync lag",
        auth: Auth::Public,
        query: &[],
        body: &[],
        ok: (200, "{status: ready, sync_lag_s}"),
    },
    RouteDoc {
        method: "get",
        path: "/metrics",
        tag: "probes",
        summary: "Prometheus metrics",
        auth: Auth::Public,
        query: &[],
        body: &[],
        ok: (200, "text exposition format"),
    },
    RouteDoc {
        method: "get",
        path: "/openapi.json",
        tag: "probes",
        summary: "This document",
        auth: Auth::Public,
        query: &[],
        body: &[],
        ok: (200, "OpenAPI 3.1"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/messages",
        tag: "sellers",
        summary: "Submit one message (MIG 4.1 XML or JSON); idempotent by kind and natural key",
        auth: Auth::Signed,
        query: &[],
        body: &["application/xml", "text/xml", "application/json"],
        ok: (
            201,
            "Receipt (200 with duplicate=true for an identical resubmission)",
        ),
    },
    RouteDoc {
        method: "post",
        path: "/v1/batches",
        tag: "sellers",
        summary: "Submit a batch {messages: [...]} (JSON messages or XML strings); one result per message",
        auth: Auth::Signed,
        query: &[],
        body: JSON,
        ok: (
            200,
            "{accepted, duplicates, rejected, results: [{index, status, receipt | problem}]}",
        ),
    },
    RouteDoc {
        method: "post",
        path: "/v1/uploads",
        tag: "sellers",
        summary: "Upload a ZIP of MIG 4.1 XML files: virus-scanned (ClamAV) before decoding, then the batch path; one result per file",
        auth: Auth::Signed,
        query: &[],
        body: &["application/zip"],
        ok: (
            200,
            "{scan: clean, accepted, duplicates, rejected, files: [{file, index, status, receipt | problem}]}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/v1/whoami",
        tag: "sellers",
        summary: "The calling key and the sellers it may act for",
        auth: Auth::Signed,
        query: &[],
        body: &[],
        ok: (200, "{key_id, sellers}"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/sellers/{ubn}/invoices",
        tag: "sellers",
        summary: "A period's invoices ordered by number, paged with after=",
        auth: Auth::Signed,
        query: &[
            PERIOD,
            ("after", false, "last number of the previous page"),
            ("limit", false, "page size, 1 to max_page (default 100)"),
        ],
        body: &[],
        ok: (200, "{invoices: [InvoiceSummary], next}"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/sellers/{ubn}/invoices/{number}",
        tag: "sellers",
        summary: "One invoice's resolved view",
        auth: Auth::Signed,
        query: &[],
        body: &[],
        ok: (200, "InvoiceView"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/sellers/{ubn}/invoices/{number}/history",
        tag: "sellers",
        summary: "The invoice's ledger entries",
        auth: Auth::Signed,
        query: &[],
        body: &[],
        ok: (200, "{entries: [LedgerEntry]}"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/sellers/{ubn}/tracks",
        tag: "sellers",
        summary: "Track ranges allocated to the seller (E0401)",
        auth: Auth::Signed,
        query: &[PERIOD],
        body: &[],
        ok: (200, "{tracks: [TrackAllocation]}"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/sellers/{ubn}/blanks",
        tag: "sellers",
        summary: "Unused numbers of the seller's allocations (E0402 content)",
        auth: Auth::Signed,
        query: &[PERIOD],
        body: &[],
        ok: (200, "{blanks: [BlankRange]}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/carrier/login",
        tag: "citizens",
        summary: "Log in with carrier and verification code; delays and a soft lock after failures",
        auth: Auth::Public,
        query: &[],
        body: JSON,
        ok: (200, "{token, expires_unix}"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/carrier/invoices",
        tag: "citizens",
        summary: "The carrier's invoices of a period, with items; a mobile barcode's include those of the carriers linked to it (歸戶), each naming its carrier",
        auth: Auth::CarrierToken,
        query: &[PERIOD],
        body: &[],
        ok: (200, "{carrier, period, invoices}"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/carrier/winnings",
        tag: "citizens",
        summary: "The carrier's winning invoices of a period (regular and cloud prizes) once the draw's winners are loaded",
        auth: Auth::CarrierToken,
        query: &[PERIOD],
        body: &[],
        ok: (200, "{carrier, period, loaded, winnings, payable_total}"),
    },
    RouteDoc {
        method: "put",
        path: "/v1/carrier/bank-account",
        tag: "citizens",
        summary: "Register the bank account prizes are deposited to: {bank_code (3 digits), account_number (1 to 16 digits), holder_name, verification_code}; the carrier's verification code again, counted like a login; sealed at rest, answers the masked form",
        auth: Auth::CarrierToken,
        query: &[],
        body: &["application/json"],
        ok: (
            200,
            "{bank_code, account_number: \"***1234\", updated_unix}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/v1/carrier/bank-account",
        tag: "citizens",
        summary: "The carrier's bank account, masked",
        auth: Auth::CarrierToken,
        query: &[],
        body: &[],
        ok: (
            200,
            "{bank_code, account_number: \"***1234\", updated_unix}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/v1/public/invoices/{number}",
        tag: "public",
        summary: "One invoice by number and random code (rate-limited per client)",
        auth: Auth::Public,
        query: &[
            ("random", true, "the 4-digit random code"),
            (
                "date",
                true,
                "invoice date YYYYMMDD, as printed on the proof",
            ),
        ],
        body: &[],
        ok: (200, "header and items"),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/invapp/InvApp",
        tag: "mof-app-api",
        summary: "MOF App API: QryWinningList, qryInvHeader, qryInvDetail",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (200, "MOF JSON {v, code, msg, ...}"),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/invapp/InvApp",
        tag: "mof-app-api",
        summary: "MOF App API (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (200, "MOF JSON {v, code, msg, ...}"),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/invServ/InvServ",
        tag: "mof-app-api",
        summary: "MOF App API: carrierInvChk, carrierInvDetail",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (200, "MOF JSON {v, code, msg, ...}"),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/invServ/InvServ",
        tag: "mof-app-api",
        summary: "MOF App API (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (200, "MOF JSON {v, code, msg, ...}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/login",
        tag: "operators",
        summary: "Operator login: name, password, TOTP code (usable once)",
        auth: Auth::Public,
        query: &[],
        body: JSON,
        ok: (200, "{token, expires_unix, roles}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/logout",
        tag: "operators",
        summary: "End the session",
        auth: Auth::OperatorSession,
        query: &[],
        body: &[],
        ok: (200, "{}"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/ops/whoami",
        tag: "operators",
        summary: "The session's operator and roles",
        auth: Auth::OperatorSession,
        query: &[],
        body: &[],
        ok: (200, "{name, roles, expires_unix}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/sellers",
        tag: "operators",
        summary: "Register or rename a seller",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "the seller"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/keys",
        tag: "operators",
        summary: "Create an API key for sellers (secret shown once)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{key_id, secret, sellers}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/apps",
        tag: "operators",
        summary: "Register a MOF App API application (key shown once)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{app_id, api_key, alg}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/operators",
        tag: "operators",
        summary: "Create an operator account with a single-use enrolment token (shown once; its holder sets the password at POST /v1/ops/enrol)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (
            200,
            "{name, roles, created_by, enrolment_token, enrolment_expires_unix}",
        ),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/tracks",
        tag: "operators",
        summary: "Allocate a track range to a seller (E0401 in the ledger)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "Receipt"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/winning",
        tag: "operators",
        summary: "Enter a period's winning numbers: a new immutable draft version (a correction of a published one needs a reason)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "the version"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/ops/winning/{period}",
        tag: "operators",
        summary: "The latest version of a period's winning numbers",
        auth: Auth::OperatorSession,
        query: &[],
        body: &[],
        ok: (200, "the version"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/winning/{period}/approve",
        tag: "operators",
        summary: "Publish a draft version: a second, independently created operator from another client confirms the numbers' SHA-256 (two-person rule)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "the published version"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/soc/alerts",
        tag: "operators",
        summary: "SOC: the alerts this node's detector raised, oldest first (role soc)",
        auth: Auth::OperatorSession,
        query: &[],
        body: &[],
        ok: (
            200,
            "{alerts: [{rule, severity, key, opened_at, incident, events}]}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/v1/soc/incidents",
        tag: "operators",
        summary: "SOC: the incidents the alerts opened, oldest first (role soc)",
        auth: Auth::OperatorSession,
        query: &[],
        body: &[],
        ok: (200, "{incidents: [{id, state, alerts, timeline, ...}]}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/soc/blocks",
        tag: "operators",
        summary: "SOC response: refuse a client address or range at this node's edge for a time (role soc; ledger ADMIN entry)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{range, until_ms}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/soc/unblock",
        tag: "operators",
        summary: "SOC response: lift a block of a client address or range early (role soc; ledger ADMIN entry)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{range}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/soc/sellers/{ubn}/freeze",
        tag: "operators",
        summary: "SOC response: freeze a seller — its messages are refused (403 SELLER_FROZEN), its keys and reads keep working (role soc; ledger ADMIN entry)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{target, in_force, since_unix, by, changed_unix}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/soc/sellers/{ubn}/unfreeze",
        tag: "operators",
        summary: "SOC response: lift a seller's freeze (role soc; ledger ADMIN entry)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{target, in_force, since_unix, by, changed_unix}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/soc/carriers/reverify",
        tag: "operators",
        summary: "SOC response: force a carrier to verify again — its tokens die (401 CARRIER_REVERIFY), its code answers as wrong until reset through its contact (role soc; ledger ADMIN entry)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{target, in_force, since_unix, by, changed_unix}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/soc/carriers/reverify/clear",
        tag: "operators",
        summary: "SOC response: drop a carrier's forced re-verification (tokens issued before it stay dead; role soc; ledger ADMIN entry)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{target, in_force, since_unix, by, changed_unix}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/soc/site/read-only",
        tag: "operators",
        summary: "SOC response: put the site read-only — every write answers 503 SITE_READ_ONLY; reads, /v1/soc and operator login keep working (role soc; ledger ADMIN entry)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{target, in_force, since_unix, by, changed_unix}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/soc/site/read-only/lift",
        tag: "operators",
        summary: "SOC response: lift the site's read-only hold (role soc; ledger ADMIN entry)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{target, in_force, since_unix, by, changed_unix}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/enrol",
        tag: "operators",
        summary: "Redeem an enrolment token once: set your password, receive your TOTP secret (shown once)",
        auth: Auth::Public,
        query: &[],
        body: JSON,
        ok: (200, "{name, roles, totp_secret, otpauth_url}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/operators/{name}/disable",
        tag: "operators",
        summary: "Disable an operator: no login, all its sessions end at once",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{name, disabled, sessions_ended_unix}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/operators/{name}/enable",
        tag: "operators",
        summary: "Enable a disabled operator (its own credentials; ended sessions stay ended)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{name, disabled}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/keys/{key_id}/revoke",
        tag: "operators",
        summary: "Revoke an API key at once",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{key_id, revoked}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/keys/{key_id}/rotate",
        tag: "operators",
        summary: "Rotate an API key: a new key for the same sellers (secret shown once), the old one revoked at once",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{key_id, secret, sellers, replaces}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/apps/{app_id}/disable",
        tag: "operators",
        summary: "Disable an App API app (answered as an unknown appID)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{app_id, disabled}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/ops/apps/{app_id}/enable",
        tag: "operators",
        summary: "Enable a disabled App API app",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{app_id, disabled}"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/sync/heads",
        tag: "sync",
        summary: "Peer listener only (mutual TLS, deployment CA): every origin the peer may read, with its head (403 SYNC_PEER_ONLY elsewhere)",
        auth: Auth::Public,
        query: &[],
        body: &[],
        ok: (200, "{site, heads: [{origin, seq, hash, hlc}]}"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/sync/status",
        tag: "sync",
        summary: "Sync status per origin: sequence, head, entries and seconds behind each upstream, last error",
        auth: Auth::Public,
        query: &[],
        body: &[],
        ok: (
            200,
            "{site, origins: [{origin, seq, head, upstreams, last_error}]}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/v1/sync/roots",
        tag: "sync",
        summary: "Per period: the number of invoices and a Merkle root of their resolved states, recomputed from every message entry this site holds (what `einvoice sync verify` compares; a walk of the whole ledger)",
        auth: Auth::Public,
        query: &[],
        body: &[],
        ok: (200, "{site, periods: [{period, invoices, root}]}"),
    },
    RouteDoc {
        method: "get",
        path: "/v1/sync/{origin}",
        tag: "sync",
        summary: "Peer listener only (mutual TLS): a feed page of the origin's entries after `after`, gzip over JSON lines (403 SYNC_ORIGIN_FORBIDDEN for an origin the peer may not read)",
        auth: Auth::Public,
        query: &[
            ("after", false, "sequence the page starts after (default 0)"),
            ("limit", false, "entries, 1 to 10000 (default 1000)"),
            (
                "bodies",
                false,
                "role (default): the bodies the peer's role receives ([sync.roles]); all: every body (403 SYNC_BODIES_FORBIDDEN to a cloud peer)",
            ),
        ],
        body: &[],
        ok: (
            200,
            "header line {format, origin, after, head, count}, then one ledger entry per line",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/v1/sync/records/{origin}",
        tag: "sync",
        summary: "Peer listener only (mutual TLS): the side records travelling with the origin's entries after `after` — prize bank accounts, opened for the peer to check against its copy of each entry and seal under its own master key, and API key entries' bodies, checked against their digests (403 SYNC_ORIGIN_FORBIDDEN for an origin the peer may not read)",
        auth: Auth::Public,
        query: &[
            ("after", false, "sequence the page starts after (default 0)"),
            ("limit", false, "entries scanned, 1 to 10000 (default 1000)"),
        ],
        body: &[],
        ok: (
            200,
            "{format, origin, after, upto, records: [{seq, hash, kind, bank_account?, admin_body?}]}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/v1/carrier/love-codes",
        tag: "citizens",
        summary: "NPOs of the love-code directory (愛心碼) whose code starts with q or whose name contains it (MOF qryLoveCode); problems in zh-TW or English by Accept-Language",
        auth: Auth::Public,
        query: &[(
            "q",
            true,
            "a love code or part of an NPO name, 1 to 30 characters",
        )],
        body: &[],
        ok: (200, "{npos: [{love_code, name, ubn}]}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/carrier/donations",
        tag: "citizens",
        summary: "Donate one invoice of the carrier to an NPO before the period's draw (MOF carrierInvDnt): {invoice_number, invoice_date, love_code}; a DONATION ledger entry",
        auth: Auth::CarrierToken,
        query: &[],
        body: JSON,
        ok: (
            201,
            "{invoice_number, invoice_date, seller, love_code, receipt}",
        ),
    },
    RouteDoc {
        method: "put",
        path: "/v1/ops/npos/{love_code}",
        tag: "operators",
        summary: "Add or update an NPO of the love-code directory: {name, ubn}; an NPO ledger entry",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{love_code, name, ubn, created, receipt}"),
    },
    RouteDoc {
        method: "put",
        path: "/v1/ops/card-issuers/{bank_code}",
        tag: "operators",
        summary: "Add or update a bank of the credit-card issuer directory (MOF creditCardBan, cardBin): {name, bins}; a CARD_ISSUER ledger entry",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{bank_code, name, bins, created, receipt}"),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/loveCodeapp/qryLoveCode",
        tag: "mof-app-api",
        summary: "MOF App API: qryLoveCode (also GET with the parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (
            200,
            "MOF JSON {v, code, msg, details: [{rowNum, LoveCode, SocialWelfareBAN, SocialWelfareName, SocialWelfareAbbrev}]}",
        ),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/CarInv/Donate",
        tag: "mof-app-api",
        summary: "MOF App API: carrierInvDnt, signed (also GET with the parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (
            200,
            "MOF JSON {v, code, msg, invNum, invDate, npoBan, cardType, cardNo}",
        ),
    },
    RouteDoc {
        method: "post",
        path: "/BIZAPIVAN/biz",
        tag: "mof-app-api",
        summary: "MOF App API business actions: bcv (a mobile barcode exists), preserveCodeCheck (a love code exists), cardBin, creditCardBan (the credit-card issuer directory), qryRecvRout, qryBanUnitTp (signed; the seller records) (also GET)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (200, "MOF JSON {v, code, msg, TxID, + the action's fields}"),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/loveCodeapp/qryLoveCode",
        tag: "mof-app-api",
        summary: "MOF App API: qryLoveCode (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (
            200,
            "MOF JSON {v, code, msg, details: [{rowNum, LoveCode, SocialWelfareBAN, SocialWelfareName, SocialWelfareAbbrev}]}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/CarInv/Donate",
        tag: "mof-app-api",
        summary: "MOF App API: carrierInvDnt, signed (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (
            200,
            "MOF JSON {v, code, msg, invNum, invDate, npoBan, cardType, cardNo}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/BIZAPIVAN/biz",
        tag: "mof-app-api",
        summary: "MOF App API business actions bcv, preserveCodeCheck, cardBin, creditCardBan, qryRecvRout, qryBanUnitTp (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (200, "MOF JSON {v, code, msg, TxID, + the action's fields}"),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/Carrier/Aggregate",
        tag: "mof-app-api",
        summary: "MOF App API: qryCarrierAgg, the carriers linked (歸戶) to a mobile barcode, signed (also GET with the parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (
            200,
            "MOF JSON {v, code, msg, cardNo, details: [{rowNum, cardType, cardNo, carrierName}]}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/Carrier/Aggregate",
        tag: "mof-app-api",
        summary: "MOF App API: qryCarrierAgg, signed (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (
            200,
            "MOF JSON {v, code, msg, cardNo, details: [{rowNum, cardType, cardNo, carrierName}]}",
        ),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/MobBarCar/CarrierAction",
        tag: "mof-app-api",
        summary: "MOF App API: carrierAction, link (歸戶) or unlink another carrier to a mobile barcode, signed (also GET with the parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (
            200,
            "MOF JSON {v, code, msg, publicCardNo, cardType, cardNo, actionType}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/MobBarCar/CarrierAction",
        tag: "mof-app-api",
        summary: "MOF App API: carrierAction, signed (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (
            200,
            "MOF JSON {v, code, msg, publicCardNo, cardType, cardNo, actionType}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/v1/carrier/links",
        tag: "citizens",
        summary: "The carriers linked (歸戶) to the mobile barcode of the token (MOF qryCarrierAgg)",
        auth: Auth::CarrierToken,
        query: &[],
        body: &[],
        ok: (200, "{barcode, links: [{carrier_type, carrier_id, name}]}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/carrier/links",
        tag: "citizens",
        summary: "Link (歸戶) another carrier to the mobile barcode of the token, proven by that carrier's own verification code (MOF carrierAction): {carrier_type, carrier_id, verification_code, name?}; a CARRIER_LINK ledger entry",
        auth: Auth::CarrierToken,
        query: &[],
        body: JSON,
        ok: (
            201,
            "{barcode, carrier_type, carrier_id, linked: true, receipt}",
        ),
    },
    RouteDoc {
        method: "post",
        path: "/v1/carrier/links/remove",
        tag: "citizens",
        summary: "Unlink a carrier from the mobile barcode of the token, proven by that carrier's verification code: {carrier_type, carrier_id, verification_code}; a CARRIER_LINK ledger entry",
        auth: Auth::CarrierToken,
        query: &[],
        body: JSON,
        ok: (
            200,
            "{barcode, carrier_type, carrier_id, linked: false, receipt}",
        ),
    },
    RouteDoc {
        method: "post",
        path: "/v1/carrier/registrations",
        tag: "citizens",
        summary: "Register a mobile barcode by email and phone: {email, phone, verification_code?}; a single-use confirmation code (30 minutes) is emailed; nothing is issued yet (MOF generalCarrierReg / pubCarVerReg); 503 MAIL_NOT_CONFIGURED without SMTP",
        auth: Auth::Public,
        query: &[],
        body: JSON,
        ok: (202, "{id, expires_unix}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/carrier/registrations/{id}/confirm",
        tag: "citizens",
        summary: "Confirm a registration with the emailed code: {code, verification_code?}; issues the barcode (/ + 7 of 0-9A-Z.+-) as a CARRIER_REGISTERED ledger entry",
        auth: Auth::Public,
        query: &[],
        body: JSON,
        ok: (201, "{carrier_type, carrier_id}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/carrier/verification-code",
        tag: "citizens",
        summary: "Change a carrier's verification code with the old one: {carrier_id, old_verification_code, new_verification_code} (MOF changeVer); counted like a login; a notice is emailed",
        auth: Auth::Public,
        query: &[],
        body: JSON,
        ok: (200, "{carrier_type, carrier_id}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/carrier/verification-code/reset",
        tag: "citizens",
        summary: "Forgotten verification code: {email, phone}; a reset code is emailed when both match a carrier, the same answer otherwise (MOF forgetVer)",
        auth: Auth::Public,
        query: &[],
        body: JSON,
        ok: (202, "{id, expires_unix}"),
    },
    RouteDoc {
        method: "post",
        path: "/v1/carrier/verification-code/reset/{id}/confirm",
        tag: "citizens",
        summary: "Set a new verification code with the emailed reset code: {code, verification_code}",
        auth: Auth::Public,
        query: &[],
        body: JSON,
        ok: (200, "{carrier_type, carrier_id}"),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/appCarreg/AppCarReg",
        tag: "mof-app-api",
        summary: "MOF App API: generalCarrierReg, register a mobile barcode by email + phone, signed; the code is emailed (also GET with the parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (200, "MOF JSON {v, code, msg, regId, expTimeStamp}"),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/appCarreg/AppCarReg",
        tag: "mof-app-api",
        summary: "MOF App API: generalCarrierReg, register a mobile barcode by email + phone, signed; the code is emailed (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (200, "MOF JSON {v, code, msg, regId, expTimeStamp}"),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/MobBarCar/PubCarVerReg",
        tag: "mof-app-api",
        summary: "MOF App API: pubCarVerReg, register a mobile barcode with its verification code, signed; the code is emailed (also GET with the parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (200, "MOF JSON {v, code, msg, regId, expTimeStamp}"),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/MobBarCar/PubCarVerReg",
        tag: "mof-app-api",
        summary: "MOF App API: pubCarVerReg, register a mobile barcode with its verification code, signed; the code is emailed (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (200, "MOF JSON {v, code, msg, regId, expTimeStamp}"),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/MobBarCar/ChangeVer",
        tag: "mof-app-api",
        summary: "MOF App API: changeVer, change the verification code with the old one, signed (also GET with the parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (200, "MOF JSON {v, code, msg, cardNo}"),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/MobBarCar/ChangeVer",
        tag: "mof-app-api",
        summary: "MOF App API: changeVer, change the verification code with the old one, signed (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (200, "MOF JSON {v, code, msg, cardNo}"),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/MobBarCar/ForgetVer",
        tag: "mof-app-api",
        summary: "MOF App API: forgetVer, forgotten verification code: a reset code by email, signed (also GET with the parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (200, "MOF JSON {v, code, msg, regId, expTimeStamp}"),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/MobBarCar/ForgetVer",
        tag: "mof-app-api",
        summary: "MOF App API: forgetVer, forgotten verification code: a reset code by email, signed (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (200, "MOF JSON {v, code, msg, regId, expTimeStamp}"),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/Carrier/AppGetBarcode",
        tag: "mof-app-api",
        summary: "MOF App API: getBarcode, the mobile barcode of a phone number and its verification code (also GET with the parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (200, "MOF JSON {v, code, msg, cardNo}"),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/Carrier/AppGetBarcode",
        tag: "mof-app-api",
        summary: "MOF App API: getBarcode, the mobile barcode of a phone number and its verification code (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (200, "MOF JSON {v, code, msg, cardNo}"),
    },
    RouteDoc {
        method: "post",
        path: "/PB2CAPIVAN/PublicCarrier/AppBankInfo",
        tag: "mof-app-api",
        summary: "MOF App API: generalCarrierBank, the prize bank account of a carrier (read or change, with the verification code), signed; a change is a ledger entry and emails a notice (also GET with the parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: FORM,
        ok: (
            200,
            "MOF JSON {v, code, msg, bankNo, accountNo (masked), enableRemit}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/PB2CAPIVAN/PublicCarrier/AppBankInfo",
        tag: "mof-app-api",
        summary: "MOF App API: generalCarrierBank, the prize bank account of a carrier (read or change, with the verification code), signed; a change is a ledger entry and emails a notice (parameters in the query string)",
        auth: Auth::AppId,
        query: &[],
        body: &[],
        ok: (
            200,
            "MOF JSON {v, code, msg, bankNo, accountNo (masked), enableRemit}",
        ),
    },
    RouteDoc {
        method: "get",
        path: "/docs",
        tag: "probes",
        summary: "Interactive API reference (Swagger UI, served from the binary)",
        auth: Auth::Public,
        query: &[],
        body: &[],
        ok: (200, "HTML page"),
    },
];

/// The worked example of the `EINVOICE-HMAC-SHA256` recipe in the document:
/// (key id, secret, method, path and query, timestamp, nonce, body). A test
/// signs it with [`crate::sign`] and checks the document shows that signature.
pub const SIGNING_EXAMPLE: (&str, &str, &str, &str, i64, &str, &[u8]) = (
    "demo-key",
    "demo-secret-0123456789abcdef",
    "GET",
    "/v1/sellers/12345670/invoices?period=11412&limit=2",
    1_764_547_200,
    "n0nce-0123456789abcdef",
    b"",
);

/// The signature of [`SIGNING_EXAMPLE`], as the document prints it.
pub const SIGNING_EXAMPLE_SIGNATURE: &str =
    "a00af030e2dbfcc2dd5cc9f2ce73cfab194c23c161f56edfdd574ef7198aaf00";

fn signing_recipe() -> String {
    let (key, secret, method, pq, ts, nonce, _) = SIGNING_EXAMPLE;
    format!(
        "Seller and integrator routes are signed with an API key (`key_id` + secret, issued by an operator with `POST /v1/ops/keys`). \
Send four headers: `X-Einvoice-Key` (the key id), `X-Einvoice-Timestamp` (Unix seconds, within ±300 s of the server's clock), \
`X-Einvoice-Nonce` (16 to 64 of `[A-Za-z0-9_-]`, never reused with the same key) and `X-Einvoice-Signature`: \
lowercase hex HMAC-SHA256, keyed with the secret's UTF-8 bytes, of the string to sign — these six lines joined by `\\n` (no final newline):\n\n\
```\nEINVOICE-HMAC-SHA256\n<METHOD, upper case>\n<path and query, exactly as sent>\n<timestamp>\n<nonce>\n<lowercase hex SHA-256 of the body bytes>\n```\n\n\
Worked example (reproduce it byte for byte): key id `{key}`, secret `{secret}`, `{method} {pq}`, timestamp `{ts}`, nonce `{nonce}`, empty body. \
The string to sign is\n\n```\nEINVOICE-HMAC-SHA256\n{method}\n{pq}\n{ts}\n{nonce}\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n```\n\n\
and the headers are `X-Einvoice-Key: {key}`, `X-Einvoice-Timestamp: {ts}`, `X-Einvoice-Nonce: {nonce}`, \
`X-Einvoice-Signature: {SIGNING_EXAMPLE_SIGNATURE}`.\n\n\
Failures answer 401 with `AUTH_MISSING`, `AUTH_MALFORMED`, `AUTH_TIMESTAMP`, `AUTH_NONCE`, `AUTH_KEY`, `AUTH_SIGNATURE` or `AUTH_REPLAY` \
(the same nonce twice); a key used for a seller it does not cover answers 403 `TENANT_SCOPE`."
    )
}

/// A reference to a component schema.
fn sref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// What the document says about one route beyond its [`RouteDoc`] line.
#[derive(Default)]
struct Detail {
    /// Longer description (per-action notes for the App API).
    description: Option<String>,
    /// Path and query parameter schemas by name (others: plain strings).
    params: Vec<(&'static str, Value)>,
    /// Extra parameters not in the `RouteDoc` (name, in, required, description, schema).
    extra_params: Vec<Value>,
    /// Request body schema per media type (default: `{}` for each of `body`).
    body: Vec<(&'static str, Value)>,
    /// The body may be left out (an optional `{reason}`).
    body_optional: bool,
    /// Success response: media type and schema (default JSON `{}`).
    ok: Option<(&'static str, Value)>,
    /// Additional success statuses (status, description).
    also_ok: Vec<(u16, &'static str)>,
    /// Problem responses: (status, description with the codes).
    problems: Vec<(u16, String)>,
}

fn p(status: u16, codes: &[&str], what: &str) -> (u16, String) {
    (status, format!("{what}. Codes: {}", codes.join(", ")))
}

const UBN_PARAM: &str = "ubn";

/// Everything the document says about the route beyond its table line.
fn detail(r: &RouteDoc) -> Detail {
    let period = ("period", sref("Period"));
    let ubn = (UBN_PARAM, sref("Ubn"));
    let number = ("number", sref("InvoiceNumber"));
    let query_invalid = || {
        p(
            400,
            &["QUERY_INVALID", "PERIOD_FORMAT"],
            "the query string is malformed (unknown or repeated parameter, bad period)",
        )
    };
    let body_invalid = |codes: &[&str]| {
        let mut c = vec!["BODY_INVALID", "REQUEST_INVALID"];
        c.extend_from_slice(codes);
        p(
            400,
            &c,
            "the body is not the documented JSON object (a field missing, of the wrong type, or unknown)",
        )
    };
    let scope = || p(403, &["TENANT_SCOPE"], "the key does not cover this seller");
    match (r.method, r.path) {
        ("get", "/healthz") => Detail {
            ok: Some(("application/json", json!({"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}))),
            ..Detail::default()
        },
        ("get", "/readyz") => Detail {
            ok: Some(("application/json", json!({"type": "object", "required": ["status", "sync_lag_s"], "properties": {"status": {"const": "ready"}, "sync_lag_s": {"type": "number", "minimum": 0, "description": "How stale this site's copy of the other sites' ledgers may be, seconds: per origin it pulls, its freshest upstream link's lag (seconds behind at the last check, plus the time since that check while the link fails); the stalest origin. 0 for a site that pulls nothing. The gateway drains a cloud site above its max_read_lag_ms from reads that need fresh data."}}}))),
            ..Detail::default()
        },
        ("get", "/metrics") => Detail {
            ok: Some(("text/plain; version=0.0.4", json!({"type": "string", "description": "Prometheus text exposition format 0.0.4: einvoice_http_requests_total and einvoice_http_request_seconds labelled by route template, method and status"}))),
            problems: vec![p(503, &["METRICS_UNAVAILABLE"], "another metrics recorder is installed in this process")],
            ..Detail::default()
        },
        ("get", "/openapi.json") => Detail {
            ok: Some(("application/json", json!({"type": "object", "required": ["openapi", "paths"]}))),
            ..Detail::default()
        },
        ("get", "/docs") => Detail {
            ok: Some(("text/html; charset=utf-8", json!({"type": "string"}))),
            ..Detail::default()
        },
        ("post", "/v1/messages") => Detail {
            description: Some("One MIG 4.1 message: the XML document (`application/xml` or `text/xml`) or its JSON form \
(`application/json`, MIG element names). Kinds: F0401 (issue), F0501 (cancel), F0701 (void), G0401 (allowance), G0501 (allowance cancel). \
The server validates every MOF rule and answers every violation at once (422, `errors[]` with `code`, `field`, `message`). \
An identical resubmission answers 200 with the original receipt and `duplicate: true`; a different message with the same natural key answers 409 `DUPLICATE_CONFLICT` with the original receipt.".into()),
            body: vec![
                ("application/json", sref("Message")),
                ("application/xml", json!({"type": "string", "description": "a MIG 4.1 XML message (no DTD, no entities)"})),
                ("text/xml", json!({"type": "string", "description": "a MIG 4.1 XML message (no DTD, no entities)"})),
            ],
            ok: Some(("application/json", sref("Receipt"))),
            also_ok: vec![(200, "an identical resubmission: the original receipt with duplicate=true")],
            problems: vec![
                p(400, &["MIG_DECODE", "BODY_INVALID", "TOO_MANY_ITEMS", "REQUEST_INVALID"], "the body cannot be decoded as a message of its content type, or has more items than max_items (9999)"),
                p(403, &["KIND_FORBIDDEN", "TENANT_SCOPE", "SELLER_FROZEN"], "the key may not submit this kind, or not for this seller; or the seller is frozen by the security operations center"),
                p(409, &["DUPLICATE_CONFLICT", "TRACK_OVERLAP"], "another message holds this natural key"),
                p(415, &["CONTENT_TYPE"], "the content type is not one of the documented ones"),
                p(422, &["UBN_CHECKSUM", "INVOICE_NUMBER_FORMAT", "OUTSIDE_TRACK", "AMOUNT_MISMATCH", "…every MIG rule code"], "the message breaks a MOF rule (all violations are listed in errors[])"),
            ],
            ..Detail::default()
        },
        ("post", "/v1/batches") => Detail {
            description: Some("Up to max_batch (1000) messages in one request: JSON message objects or MIG 4.1 XML strings. \
Each gets its own result (accepted, duplicate or rejected with a problem); the batch itself fails only when its shape is wrong.".into()),
            body: vec![("application/json", json!({
                "type": "object", "required": ["messages"], "additionalProperties": false,
                "properties": {"messages": {"type": "array", "maxItems": 1000, "items": {"description": "a Message object (see Message) or a MIG 4.1 XML string; each is judged on its own: a malformed one is a rejected result with its problem, not a failed batch"}}}
            }))],
            ok: Some(("application/json", sref("BatchResult"))),
            problems: vec![
                p(400, &["BATCH_INVALID", "BATCH_TOO_LARGE", "REQUEST_INVALID"], "the body is not {messages: [...]} or holds more than max_batch messages"),
                p(415, &["CONTENT_TYPE"], "the content type is not application/json"),
            ],
            ..Detail::default()
        },
        ("post", "/v1/uploads") => Detail {
            description: Some("A ZIP archive of MIG 4.1 XML files (the way turnkey systems send files), at most `[uploads] max_upload_bytes` (16 MiB by default). \
The whole upload is scanned by the site's ClamAV daemon before any file in it is decoded: a signature found refuses it whole (422 `UPLOAD_INFECTED`, naming the signature); \
no scanner configured or the scanner unreachable refuses it whole (503): nothing is ever accepted unscanned. \
A clean archive must be flat (no folders), hold only `.xml` files with safe names, at most `max_entries` (1000) of them, each at most `max_entry_bytes` (8 MiB) and all together at most `max_total_bytes` (64 MiB) uncompressed, \
none inflating more than `max_ratio` (200) times its compressed size; otherwise it is refused whole with the code of the first rule broken. \
Each file then takes the batch path (as `POST /v1/batches`): its own result, accepted, duplicate or rejected with a problem, listed in archive order with its file name. Sending the same archive again is safe: what was accepted answers as a duplicate.".into()),
            body: vec![("application/zip", json!({"type": "string", "format": "binary", "contentMediaType": "application/zip", "description": "a ZIP archive (stored or deflate) of MIG 4.1 XML files"}))],
            ok: Some(("application/json", json!({
                "type": "object", "required": ["scan", "accepted", "duplicates", "rejected", "files"],
                "properties": {
                    "scan": {"const": "clean"},
                    "accepted": {"type": "integer", "minimum": 0},
                    "duplicates": {"type": "integer", "minimum": 0},
                    "rejected": {"type": "integer", "minimum": 0},
                    "files": {"type": "array", "items": {
                        "type": "object", "required": ["file", "index", "status"],
                        "properties": {
                            "file": {"type": "string", "description": "the file's name in the archive"},
                            "index": {"type": "integer", "minimum": 0},
                            "status": {"enum": ["accepted", "duplicate", "rejected"]},
                            "receipt": sref("Receipt"),
                            "problem": sref("Problem")
                        }
                    }}
                }
            }))),
            problems: vec![
                p(400, &["UPLOAD_NOT_ZIP", "UPLOAD_CORRUPT", "REQUEST_INVALID"], "the body is not a readable ZIP archive, or a file in it cannot be inflated"),
                p(413, &["UPLOAD_TOO_MANY_ENTRIES", "UPLOAD_ENTRY_TOO_LARGE", "UPLOAD_TOO_LARGE", "UPLOAD_ZIP_BOMB"], "the archive breaks a size limit (entries, a file's or the total uncompressed size, the compression ratio): nothing was accepted"),
                p(422, &["UPLOAD_INFECTED", "UPLOAD_UNSAFE_NAME", "UPLOAD_DIRECTORY", "UPLOAD_NOT_FILE", "UPLOAD_NOT_XML", "UPLOAD_DUPLICATE_NAME", "UPLOAD_ENCRYPTED", "UPLOAD_COMPRESSION", "UPLOAD_EMPTY"], "the virus scanner found a signature (named in detail and errors[0].message), or the archive holds something other than flat .xml files: nothing was accepted"),
                p(503, &["SCANNER_NOT_CONFIGURED", "SCANNER_UNAVAILABLE", "UPLOADS_BUSY"], "no virus scanner is configured, or it could not be reached or gave no verdict in time, or the site is handling `[uploads] max_in_flight` uploads already (Retry-After): nothing was accepted"),
            ],
            ..Detail::default()
        },
        ("get", "/v1/whoami") => Detail {
            ok: Some(("application/json", json!({"type": "object", "required": ["key_id", "sellers"], "properties": {"key_id": {"type": "string"}, "sellers": {"type": "array", "items": sref("Ubn")}}}))),
            ..Detail::default()
        },
        ("get", "/v1/sellers/{ubn}/invoices") => Detail {
            params: vec![ubn, period, ("after", sref("InvoiceNumber")), ("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}))],
            ok: Some(("application/json", json!({
                "type": "object", "required": ["invoices", "next"],
                "properties": {"invoices": {"type": "array", "items": sref("InvoiceSummary")}, "next": {"oneOf": [sref("InvoiceNumber"), {"type": "null"}], "description": "pass as after= for the next page; null on the last page"}}
            }))),
            problems: vec![p(400, &["QUERY_INVALID", "PERIOD_FORMAT", "INVOICE_NUMBER_FORMAT", "PAGE_TOO_LARGE", "UBN_FORMAT", "UBN_CHECKSUM"], "a parameter is malformed or limit is outside 1..max_page"), scope()],
            ..Detail::default()
        },
        ("get", "/v1/sellers/{ubn}/invoices/{number}") => Detail {
            params: vec![ubn, number],
            ok: Some(("application/json", sref("InvoiceView"))),
            problems: vec![p(400, &["UBN_FORMAT", "UBN_CHECKSUM", "INVOICE_NUMBER_FORMAT"], "a path parameter is malformed"), scope(), p(404, &["INVOICE_NOT_FOUND"], "no such invoice of this seller")],
            ..Detail::default()
        },
        ("get", "/v1/sellers/{ubn}/invoices/{number}/history") => Detail {
            params: vec![ubn, number],
            ok: Some(("application/json", json!({"type": "object", "required": ["entries"], "properties": {"entries": {"type": "array", "items": sref("LedgerEntry")}}}))),
            problems: vec![p(400, &["UBN_FORMAT", "UBN_CHECKSUM", "INVOICE_NUMBER_FORMAT"], "a path parameter is malformed"), scope(), p(404, &["INVOICE_NOT_FOUND"], "no entry for this invoice")],
            ..Detail::default()
        },
        ("get", "/v1/sellers/{ubn}/tracks") => Detail {
            params: vec![ubn, period],
            ok: Some(("application/json", json!({"type": "object", "required": ["tracks"], "properties": {"tracks": {"type": "array", "items": sref("NumberRange")}}}))),
            problems: vec![query_invalid(), scope()],
            ..Detail::default()
        },
        ("get", "/v1/sellers/{ubn}/blanks") => Detail {
            params: vec![ubn, period],
            ok: Some(("application/json", json!({"type": "object", "required": ["blanks"], "properties": {"blanks": {"type": "array", "items": sref("NumberRange")}}}))),
            problems: vec![query_invalid(), scope()],
            ..Detail::default()
        },
        ("post", "/v1/carrier/login") => Detail {
            body: vec![("application/json", json!({
                "type": "object", "additionalProperties": false,
                "required": ["carrier_type", "carrier_id", "verification_code"],
                "properties": {"carrier_type": sref("CarrierType"), "carrier_id": sref("CarrierId"), "verification_code": {"type": "string", "maxLength": 64}},
                "description": "The carrier id's shape depends on its type (CARRIER_ID_FORMAT otherwise).",
                "oneOf": [
                    {"properties": {"carrier_type": {"const": "3J0002"}, "carrier_id": {"pattern": "^/[0-9A-Z.+-]{7}$"}}},
                    {"properties": {"carrier_type": {"const": "CQ0001"}, "carrier_id": {"pattern": "^[A-Z]{2}[0-9]{14}$"}}},
                    {"properties": {"carrier_type": {"not": {"enum": ["3J0002", "CQ0001"]}}, "carrier_id": {"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$"}}}
                ],
                "example": {"carrier_type": "3J0002", "carrier_id": "/ABC+123", "verification_code": "…"}
            }))],
            ok: Some(("application/json", sref("Token"))),
            problems: vec![
                body_invalid(&[]),
                p(401, &["CARRIER_AUTH"], "carrier or verification code wrong (one answer for both)"),
                p(429, &["CARRIER_LOCKED", "RATE_LIMITED"], "too many failures on this carrier (soft lock, Retry-After) or too many requests from this client"),
                login_busy(),
            ],
            ..Detail::default()
        },
        ("get", "/v1/carrier/invoices") => Detail {
            params: vec![period],
            ok: Some(("application/json", json!({
                "type": "object", "required": ["carrier", "period", "invoices"],
                "properties": {"carrier": sref("CarrierRef"), "period": sref("Period"), "invoices": {"type": "array", "items": sref("CarrierInvoice")}}
            }))),
            problems: vec![query_invalid()],
            ..Detail::default()
        },
        ("get", "/v1/carrier/winnings") => Detail {
            params: vec![period],
            ok: Some(("application/json", json!({
                "type": "object", "required": ["carrier", "period", "loaded", "winnings", "payable_total"],
                "properties": {
                    "carrier": sref("CarrierRef"), "period": sref("Period"),
                    "loaded": {"type": "boolean", "description": "whether the period's winners are loaded (the draw ran)"},
                    "winnings": {"type": "array", "items": {"type": "object", "required": ["invoice_number", "seller", "prize", "amount", "payable"], "properties": {
                        "invoice_number": sref("InvoiceNumber"), "seller": sref("Ubn"), "prize": {"type": "string"}, "amount": sref("Money"), "payable": sref("Money"), "donated_to": {"type": ["string", "null"]}}}},
                    "payable_total": sref("Money")
                }
            }))),
            problems: vec![query_invalid()],
            ..Detail::default()
        },
        ("put", "/v1/carrier/bank-account") => Detail {
            body: vec![("application/json", json!({
                "type": "object", "additionalProperties": false, "required": ["bank_code", "account_number", "holder_name", "verification_code"],
                "properties": {"bank_code": {"type": "string", "pattern": "^[0-9]{3}$"}, "account_number": {"type": "string", "pattern": "^[0-9]{1,16}$"}, "holder_name": {"type": "string", "maxLength": 64, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$", "description": "1 to 64 characters after trimming, no control characters"},
                    "verification_code": {"type": "string", "minLength": 1, "maxLength": 64, "description": "the carrier's verification code again (the token alone does not change where prizes go); counted in the carrier's attempt budgets like a login"}},
                "example": {"bank_code": "004", "account_number": "123456789012", "holder_name": "王小明", "verification_code": "…"}
            }))],
            ok: Some(("application/json", sref("BankAccount"))),
            problems: vec![
                body_invalid(&["BANK_CODE", "BANK_ACCOUNT", "BANK_HOLDER", "VERIFICATION_CODE_REQUIRED"]),
                p(401, &["CARRIER_AUTH"], "the verification code is wrong"),
                p(429, &["CARRIER_LOCKED"], "too many failed codes on this carrier (Retry-After)"),
                login_busy(),
            ],
            ..Detail::default()
        },
        ("get", "/v1/carrier/bank-account") => Detail {
            ok: Some(("application/json", sref("BankAccount"))),
            problems: vec![p(404, &["BANK_ACCOUNT_NONE"], "no bank account registered")],
            ..Detail::default()
        },
        ("get", "/v1/public/invoices/{number}") => Detail {
            params: vec![number, ("random", sref("RandomNumber")), ("date", sref("Date"))],
            ok: Some(("application/json", json!({
                "type": "object", "required": ["number", "date", "time", "period", "seller", "total", "status", "items"],
                "properties": {"number": sref("InvoiceNumber"), "date": {"type": "string"}, "time": {"type": "string"}, "period": sref("Period"), "seller": sref("Ubn"),
                    "seller_name": {"type": ["string", "null"]}, "total": sref("Money"), "status": sref("InvoiceStatus"), "items": {"type": "array", "items": sref("Item")}}
            }))),
            problems: vec![
                p(400, &["QUERY_INVALID", "INVOICE_NUMBER_FORMAT", "RANDOM_NUMBER_FORMAT", "DATE_REQUIRED", "DATE_FORMAT"], "a parameter is malformed or missing (the date is required: number and random code alone are too easy to enumerate)"),
                p(404, &["INVOICE_NOT_FOUND"], "no invoice with this number, random code and date"),
            ],
            ..Detail::default()
        },
        (_, p) if p.starts_with("/PB2CAPIVAN/") || p.starts_with("/BIZAPIVAN/") => app_api_detail(r),
        ("post", "/v1/ops/login") => Detail {
            body: vec![("application/json", json!({
                "type": "object", "additionalProperties": false, "required": ["name", "password", "totp"],
                "properties": {"name": {"type": "string", "maxLength": 64}, "password": {"type": "string", "maxLength": 1024}, "totp": {"type": "string", "description": "the current 6-digit TOTP code (RFC 6238, SHA-1, 30 s); each code is usable once"}}
            }))],
            ok: Some(("application/json", json!({"type": "object", "required": ["token", "expires_unix", "roles"], "properties": {"token": {"type": "string"}, "expires_unix": {"type": "integer"}, "roles": {"type": "array", "items": sref("Role")}}}))),
            problems: vec![body_invalid(&[]), p(401, &["LOGIN_FAILED"], "name, password or TOTP code wrong, or the account is disabled or not enrolled (one answer for all)"), p(429, &["LOGIN_LOCKED", "RATE_LIMITED"], "too many failures for this name (soft lock) or too many logins from this client (Retry-After)"), login_busy()],
            ..Detail::default()
        },
        ("post", "/v1/ops/logout") => Detail {
            ok: Some(("application/json", json!({"type": "object"}))),
            ..Detail::default()
        },
        ("get", "/v1/ops/whoami") => Detail {
            ok: Some(("application/json", json!({"type": "object", "required": ["name", "roles", "expires_unix"], "properties": {"name": {"type": "string"}, "roles": {"type": "array", "items": sref("Role")}, "expires_unix": {"type": "integer"}}}))),
            ..Detail::default()
        },
        ("post", "/v1/ops/sellers") => Detail {
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["ubn", "name"], "properties": {"ubn": sref("Ubn"), "name": {"type": "string", "minLength": 1, "maxLength": 60, "description": "1 to 60 characters after trimming"}, "qr_key": {"type": "string", "pattern": "^[0-9A-Fa-f]{32}$", "description": "the seller's QR AES-128 key (32 hex digits), kept sealed; App API qryInvDetail by QR code checks `encrypt` with it. Left out: the key held stays.", "example": "FE05F029154F6AA67A78B338ED2F6601"}}}))],
            ok: Some(("application/json", json!({"type": "object"}))),
            problems: vec![body_invalid(&[]), ops_role(), p(422, &["UBN_FORMAT", "UBN_CHECKSUM", "SELLER_NAME", "QR_KEY_FORMAT"], "the UBN fails its checksum, the name is empty or too long, or the QR key is not 32 hex digits")],
            ..Detail::default()
        },
        ("post", "/v1/ops/keys") => Detail {
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["sellers"], "properties": {"sellers": {"type": "array", "minItems": 1, "maxItems": 10000, "items": sref("Ubn")}}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["key_id", "secret", "sellers"], "properties": {"key_id": {"type": "string"}, "secret": {"type": "string", "description": "shown once"}, "sellers": {"type": "array", "items": sref("Ubn")}}}))),
            problems: vec![body_invalid(&[]), ops_role(), p(422, &["KEY_SELLERS", "UBN_CHECKSUM", "SELLER_UNKNOWN"], "a seller is malformed or not registered")],
            ..Detail::default()
        },
        ("post", "/v1/ops/apps") => Detail {
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}, "app_id": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9_-]{4,40}$", "description": "chosen appID (generated when absent or null)"}, "alg": {"type": ["string", "null"], "examples": ["HmacSHA256", "HmacSHA1"], "description": "signature HMAC of the app: HmacSHA256 (default, also when null) or HmacSHA1, case-insensitive, also sha256, hmac-sha256, sha1, hmac-sha1; anything else answers 422 APP_ALG"}}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["app_id", "api_key", "alg"], "properties": {"app_id": {"type": "string"}, "api_key": {"type": "string", "description": "shown once"}, "alg": {"type": "string"}}}))),
            problems: vec![body_invalid(&[]), ops_role(), p(409, &["APP_EXISTS"], "the appID is taken"), p(422, &["APP_NAME", "APP_ID", "APP_ALG"], "a field breaks its rule")],
            ..Detail::default()
        },
        ("post", "/v1/ops/operators") => Detail {
            description: Some("The account has no credentials yet: hand the enrolment token to its holder, who redeems it once at POST /v1/ops/enrol \
(choosing the password, receiving the TOTP secret). The creator never sees either and is recorded as `created_by`.".into()),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["name", "roles"], "properties": {"name": sref("OperatorName"), "roles": {"type": "array", "items": sref("Role"), "description": "at least one (OPERATOR_ROLES otherwise)"}}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["name", "roles", "created_by", "enrolment_token", "enrolment_expires_unix"], "properties": {
                "name": sref("OperatorName"), "roles": {"type": "array", "items": sref("Role")}, "created_by": {"type": "string"},
                "enrolment_token": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "single use, shown once (only its SHA-256 is stored)"}, "enrolment_expires_unix": {"type": "integer"}}}))),
            problems: vec![body_invalid(&[]), ops_role(), p(409, &["OPERATOR_EXISTS"], "the name is taken"), p(422, &["OPERATOR_NAME", "OPERATOR_ROLES"], "the name or roles break their rule")],
            ..Detail::default()
        },
        ("post", "/v1/ops/tracks") => Detail {
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["seller", "period", "track", "begin", "end"], "properties": {
                "seller": sref("Ubn"), "period": sref("Period"), "track": {"type": "string", "pattern": "^[A-Z]{2}$"},
                "begin": {"type": "integer", "minimum": 0, "maximum": 99999999}, "end": {"type": "integer", "minimum": 0, "maximum": 99999999},
                "head": {"type": "string"}, "invoice_type": {"type": "string"}}}))],
            ok: Some(("application/json", sref("Receipt"))),
            problems: vec![body_invalid(&[]), ops_role(), p(409, &["TRACK_OVERLAP", "DUPLICATE_CONFLICT"], "the range overlaps an allocation"), p(422, &["UBN_CHECKSUM", "PERIOD_FORMAT", "TRACK_RANGE", "…every E0401 rule code"], "the allocation breaks a MOF rule")],
            ..Detail::default()
        },
        ("post", "/v1/ops/winning") => Detail {
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["period", "special", "grand", "first"], "properties": {
                "period": sref("Period"),
                "special": {"type": "string", "pattern": "^[0-9]{8}$", "description": "特別獎 number"},
                "grand": {"type": "string", "pattern": "^[0-9]{8}$", "description": "特獎 number"},
                "first": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{8}$"}, "description": "頭獎 numbers"},
                "additional_sixth": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{3}$"}, "description": "增開六獎 (last 3 digits)"},
                "amounts": {"type": ["object", "null"], "additionalProperties": {"type": "integer"}, "description": "prize amounts by prize name, when not the statutory table"},
                "reason": {"type": ["string", "null"], "description": "required to correct a published version"}},
                "example": {"period": "11410", "special": "12345678", "grand": "87654321", "first": ["11111111", "22222222", "33333333"], "additional_sixth": ["765"]}}))],
            ok: Some(("application/json", sref("WinningNumbers"))),
            problems: vec![body_invalid(&[]), ops_role(), p(409, &["WINNING_NUMBERS_PUBLISHED", "WINNING_DRAFT_IMMUTABLE"], "a concurrent entry or approval wrote this version first: read the period again"), p(422, &["PERIOD_FORMAT", "REASON_REQUIRED", "…winning-number rule codes"], "the numbers break their rules")],
            ..Detail::default()
        },
        ("get", "/v1/ops/winning/{period}") => Detail {
            params: vec![period],
            ok: Some(("application/json", sref("WinningNumbers"))),
            problems: vec![ops_role(), p(404, &["WINNING_NUMBERS_UNKNOWN"], "no version for this period"), p(422, &["PERIOD_FORMAT"], "the period is malformed")],
            ..Detail::default()
        },
        ("get", "/v1/soc/alerts") => Detail {
            description: Some("Built-in detection rules (crates/soc/rules/builtin.toml) over the security events this node reported: \
carrier verification-code failures and lockout refusals, public lookup misses, seller signature failures, 429 refusals. \
`key` is what the rule counted by (a carrier, a client address); `opened_at` is unix ms.".into()),
            ok: Some(("application/json", json!({"type": "object", "required": ["alerts"], "properties": {"alerts": {"type": "array", "items": {"type": "object",
                "required": ["rule", "severity", "key", "opened_at", "incident", "events"], "properties": {
                "rule": {"type": "string"}, "severity": {"type": "string", "enum": ["unknown", "informational", "low", "medium", "high", "critical", "fatal"]},
                "key": {"type": "string"}, "opened_at": {"type": "integer"}, "incident": {"type": "integer"}, "events": {"type": "integer"}}}}}}))),
            problems: vec![ops_role()],
            ..Detail::default()
        },
        ("post", "/v1/soc/blocks") => Detail {
            description: Some("Until `until_ms` every request from the range is answered `403 CLIENT_BLOCKED` before any route runs. \
Recorded in the ledger (`ADMIN`, key `soc/block/<range>`, the operator as actor). The block lives in this node's memory: tell each node.".into()),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["range", "minutes"], "properties": {
                "range": {"type": "string", "examples": ["192.0.2.7", "192.0.2.0/24", "2001:db8::/32"], "description": "an address or CIDR range, host bits zero, at least /8 (IPv4) or /16 (IPv6)"},
                "minutes": {"type": "integer", "minimum": 1, "maximum": 43200}}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["range", "until_ms"], "properties": {"range": {"type": "string"}, "until_ms": {"type": "integer"}}}))),
            problems: vec![body_invalid(&[]), ops_role(), p(422, &["BLOCK_INVALID"], "the range is not an address or a wide enough range, or the duration is out of bounds")],
            ..Detail::default()
        },
        ("post", "/v1/soc/unblock") => Detail {
            description: Some("The inverse of `POST /v1/soc/blocks`: a block of exactly this range is lifted at once on this node (ranges covering an address stay). \
Recorded in the ledger (`ADMIN`, key `soc/unblock/<range>`, the operator as actor), whether or not a block was in force.".into()),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["range"], "properties": {
                "range": {"type": "string", "examples": ["192.0.2.7", "192.0.2.0/24"], "description": "the range as it was blocked"}}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["range"], "properties": {"range": {"type": "string"}}}))),
            problems: vec![body_invalid(&[]), ops_role(), p(422, &["BLOCK_INVALID"], "the range is not an address or a wide enough range")],
            ..Detail::default()
        },
        (
            "post",
            "/v1/soc/sellers/{ubn}/freeze"
            | "/v1/soc/sellers/{ubn}/unfreeze"
            | "/v1/soc/site/read-only"
            | "/v1/soc/site/read-only/lift",
        ) => Detail {
            description: Some(HOLD_NOTE.into()),
            params: if r.path.contains("{ubn}") { vec![("ubn", sref("Ubn"))] } else { vec![] },
            body: vec![("application/json", reason_body())],
            body_optional: true,
            ok: Some(("application/json", soc_hold_schema())),
            problems: vec![body_invalid(&[]), ops_role(), p(409, &["HOLD_IN_FORCE", "HOLD_NOT_IN_FORCE"], "the hold is already in that state (nothing written)"), p(422, &["UBN_FORMAT", "UBN_CHECKSUM"], "the UBN is malformed")],
            ..Detail::default()
        },
        ("post", "/v1/soc/carriers/reverify" | "/v1/soc/carriers/reverify/clear") => Detail {
            description: Some(HOLD_NOTE.into()),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["carrier_type", "carrier_id"], "properties": {
                "carrier_type": sref("CarrierType"), "carrier_id": sref("CarrierId"),
                "reason": {"type": ["string", "null"], "maxLength": 1000, "description": "recorded in the ledger"}},
                "example": {"carrier_type": "3J0002", "carrier_id": "/ABC+123", "reason": "incident 7: code guessed"}}))],
            ok: Some(("application/json", soc_hold_schema())),
            problems: vec![p(400, &["BODY_INVALID", "CARRIER_TYPE", "CARRIER_ID"], "the body is not JSON of this schema, or the carrier type or id is malformed"), ops_role(), p(409, &["HOLD_IN_FORCE", "HOLD_NOT_IN_FORCE"], "the hold is already in that state (nothing written)")],
            ..Detail::default()
        },
        ("get", "/v1/soc/incidents") => Detail {
            ok: Some(("application/json", json!({"type": "object", "required": ["incidents"], "properties": {"incidents": {"type": "array", "items": {"type": "object",
                "required": ["id", "state", "alerts"], "properties": {"id": {"type": "integer"}, "state": {"type": "string", "enum": ["open", "acknowledged", "contained", "resolved"]},
                "alerts": {"type": "array", "items": {"type": "object"}}}}}}}))),
            problems: vec![ops_role()],
            ..Detail::default()
        },
        ("post", "/v1/ops/winning/{period}/approve") => Detail {
            params: vec![period],
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["version", "expected_sha256"], "properties": {
                "version": {"type": "integer", "minimum": 1, "maximum": 4_294_967_295_u64, "description": "the latest version of the period (a draft)"},
                "expected_sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$", "description": "`numbers_sha256` of the version the approver checked"}}}))],
            ok: Some(("application/json", sref("WinningNumbers"))),
            problems: vec![body_invalid(&[]), p(403, &["ROLE_FORBIDDEN", "TWO_PERSON_RULE"], "the session lacks the role; or the approver entered this version, comes from the same creation line as its author, or approves from the client address it was entered from"), p(404, &["WINNING_VERSION_UNKNOWN"], "the version is not the period's latest"), p(409, &["WINNING_NUMBERS_PUBLISHED", "WINNING_DRAFT_IMMUTABLE", "WINNING_SHA256_MISMATCH"], "already published, changed meanwhile, or expected_sha256 is not the version's numbers"), p(422, &["PERIOD_FORMAT"], "the period is malformed")],
            ..Detail::default()
        },
        ("post", "/v1/ops/enrol") => Detail {
            description: Some(format!("No session: the enrolment token from POST /v1/ops/operators, redeemed once. The holder chooses the password \
({MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, not the name) and receives the TOTP secret, shown this once.")),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["name", "token", "password"], "properties": {
                "name": {"type": "string", "maxLength": 64}, "token": {"type": "string", "maxLength": 256, "description": "the enrolment token"},
                "password": {"type": "string", "maxLength": 4096, "description": format!("{MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, not the name (PASSWORD_POLICY otherwise)")}}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["name", "roles", "totp_secret", "otpauth_url"], "properties": {
                "name": sref("OperatorName"), "roles": {"type": "array", "items": sref("Role")},
                "totp_secret": {"type": "string", "description": "Base32, shown once"}, "otpauth_url": {"type": "string", "description": "otpauth://totp/… (for a QR code)"}}}))),
            problems: vec![body_invalid(&[]), p(401, &["ENROLMENT_INVALID", "ENROLMENT_EXPIRED"], "the name or token is wrong, the token was used, or it has expired (one answer for the first three)"), p(422, &["PASSWORD_POLICY"], "the password is too short, too long, or the name")],
            ..Detail::default()
        },
        ("post", "/v1/ops/operators/{name}/disable" | "/v1/ops/operators/{name}/enable") => {
            let disable = r.path.ends_with("/disable");
            Detail {
                params: vec![("name", sref("OperatorName"))],
                body: vec![("application/json", reason_body())],
                body_optional: true,
                ok: Some(("application/json", if disable {
                    json!({"type": "object", "required": ["name", "disabled", "sessions_ended_unix"], "properties": {"name": sref("OperatorName"), "disabled": {"const": true}, "sessions_ended_unix": {"type": "integer"}}})
                } else {
                    json!({"type": "object", "required": ["name", "disabled"], "properties": {"name": sref("OperatorName"), "disabled": {"const": false}}})
                })),
                problems: vec![
                    body_invalid(&[]),
                    ops_role(),
                    p(404, &["OPERATOR_UNKNOWN"], "no such operator"),
                    if disable {
                        p(409, &["OPERATOR_SELF", "OPERATOR_DISABLED"], "one's own account, or already disabled")
                    } else {
                        p(409, &["OPERATOR_ENABLED"], "the account is not disabled")
                    },
                ],
                ..Detail::default()
            }
        }
        ("post", "/v1/ops/keys/{key_id}/revoke" | "/v1/ops/keys/{key_id}/rotate") => {
            let rotate = r.path.ends_with("/rotate");
            Detail {
                params: vec![("key_id", sref("KeyId"))],
                body: vec![("application/json", reason_body())],
                body_optional: true,
                ok: Some(("application/json", if rotate {
                    json!({"type": "object", "required": ["key_id", "secret", "sellers", "replaces"], "properties": {"key_id": sref("KeyId"), "secret": {"type": "string", "description": "shown once"}, "sellers": {"type": "array", "items": sref("Ubn")}, "replaces": sref("KeyId")}})
                } else {
                    json!({"type": "object", "required": ["key_id", "revoked"], "properties": {"key_id": sref("KeyId"), "revoked": {"const": true}}})
                })),
                problems: vec![body_invalid(&[]), ops_role(), p(404, &["KEY_UNKNOWN"], "no such API key"), p(409, &["KEY_REVOKED"], "the key is already revoked")],
                ..Detail::default()
            }
        }
        ("post", "/v1/ops/apps/{app_id}/disable" | "/v1/ops/apps/{app_id}/enable") => {
            let disable = r.path.ends_with("/disable");
            Detail {
                params: vec![("app_id", sref("AppId"))],
                body: vec![("application/json", reason_body())],
                body_optional: true,
                ok: Some(("application/json", json!({"type": "object", "required": ["app_id", "disabled"], "properties": {"app_id": sref("AppId"), "disabled": {"const": disable}}}))),
                problems: vec![body_invalid(&[]), ops_role(), p(404, &["APP_UNKNOWN"], "no such app"), p(409, &["APP_DISABLED", "APP_ENABLED"], "the app is already in that state")],
                ..Detail::default()
            }
        }
        ("put", "/v1/ops/npos/{love_code}") => Detail {
            params: vec![("love_code", sref("LoveCode"))],
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["name", "ubn"], "properties": {
                "name": {"type": "string", "maxLength": 60, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$", "description": "1 to 60 characters after trimming, no control characters"},
                "ubn": sref("Ubn")},
                "example": {"name": "財團法人台灣兒童暨家庭扶助基金會", "ubn": "04595257"}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["love_code", "name", "ubn", "created", "receipt"], "properties": {
                "love_code": sref("LoveCode"), "name": {"type": "string"}, "ubn": sref("Ubn"), "created": {"type": "boolean"}, "receipt": sref("Receipt")}}))),
            problems: vec![body_invalid(&[]), ops_role(), p(422, &["NPOBAN_FORMAT", "UBN_FORMAT", "UBN_CHECKSUM", "NPO_NAME"], "the love code, UBN or name breaks its rule")],
            ..Detail::default()
        },
        ("put", "/v1/ops/card-issuers/{bank_code}") => Detail {
            params: vec![("bank_code", json!({"type": "string", "pattern": "^[0-9]{3}$", "example": "822", "description": "the bank code (3 digits)"}))],
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["name", "bins"], "properties": {
                "name": {"type": "string", "maxLength": 60, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$", "description": "1 to 60 characters after trimming, no control characters"},
                "bins": {"type": "array", "minItems": 1, "maxItems": 100, "uniqueItems": true, "items": {"type": "string", "pattern": "^([0-9]{6}|[0-9]{8})$"}, "description": "the card BINs (first 6 or 8 digits of the bank's card numbers), distinct; kept sorted"}},
                "example": {"name": "示範信託銀行", "bins": ["414766", "540520"]}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["bank_code", "name", "bins", "created", "receipt"], "properties": {
                "bank_code": {"type": "string"}, "name": {"type": "string"}, "bins": {"type": "array", "items": {"type": "string"}}, "created": {"type": "boolean"}, "receipt": sref("Receipt")}}))),
            problems: vec![body_invalid(&[]), ops_role(), p(422, &["BANK_CODE", "CARD_ISSUER_NAME", "CARD_BIN"], "the bank code, name or BINs break their rule")],
            ..Detail::default()
        },
        ("get", "/v1/sync/heads") => Detail {
            description: Some(SYNC_PEER_NOTE.into()),
            ok: Some(("application/json", json!({"type": "object", "required": ["site", "heads"], "properties": {"site": {"type": "string"}, "heads": {"type": "array", "items": sref("OriginHead")}}}))),
            problems: vec![p(403, &["SYNC_PEER_ONLY"], "not on the peer listener")],
            ..Detail::default()
        },
        ("get", "/v1/sync/status") => Detail {
            ok: Some(("application/json", json!({"type": "object", "required": ["site", "origins"], "properties": {"site": {"type": "string"}, "origins": {"type": "array", "items": {
                "type": "object", "required": ["origin", "seq", "head", "upstreams"], "properties": {
                    "origin": {"type": "string"}, "seq": {"type": "integer", "minimum": 0}, "head": {"type": "string"},
                    "upstreams": {"type": "array", "items": {"type": "object", "required": ["upstream", "seq", "head", "behind", "checked_unix"], "properties": {
                        "upstream": {"type": "string"}, "seq": {"type": "integer"}, "head": {"type": "string"},
                        "behind": {"type": "object", "required": ["entries", "seconds"], "properties": {"entries": {"type": "integer"}, "seconds": {"type": "number"}}},
                        "checked_unix": {"type": "integer"}, "error": {"oneOf": [sref("SyncHalt"), {"type": "null"}]}}}},
                    "last_error": {"oneOf": [sref("SyncHalt"), {"type": "null"}]}}}}}}))),
            ..Detail::default()
        },
        ("get", "/v1/sync/roots") => Detail {
            ok: Some(("application/json", json!({"type": "object", "required": ["site", "periods"], "properties": {"site": {"type": "string"}, "periods": {"type": "array", "items": {
                "type": "object", "required": ["period", "invoices", "root"], "properties": {
                    "period": {"type": "string"}, "invoices": {"type": "integer", "minimum": 0}, "root": {"type": "string"}}}}}}))),
            ..Detail::default()
        },
        ("get", "/v1/sync/{origin}") => Detail {
            description: Some(SYNC_PEER_NOTE.into()),
            params: vec![
                ("origin", json!({"type": "string", "minLength": 1, "maxLength": 64, "description": "the origin (site name) whose entries are read"})),
                ("after", json!({"type": "integer", "minimum": 0, "maximum": u64::MAX, "default": 0})),
                ("limit", json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000})),
                ("bodies", json!({"type": "string", "enum": ["role", "all"], "default": "role", "description": "role: the bodies the peer's role receives ([sync.roles]; a cloud peer gets digests for operator entries); all: every body, refused to a cloud peer"})),
            ],
            ok: Some(("application/x-ndjson", json!({"type": "string", "description": "gzip (Content-Encoding) over JSON lines: a header {format: einvoice-sync-1, origin, after, head, count}, then one LedgerEntry per line"}))),
            problems: vec![
                p(400, &["SYNC_PAGE_TOO_LARGE", "REQUEST_INVALID"], "limit is outside 1..10000, after/limit is not a number, or bodies is neither role nor all"),
                p(403, &["SYNC_PEER_ONLY", "SYNC_ORIGIN_FORBIDDEN", "SYNC_BODIES_FORBIDDEN"], "not on the peer listener, the peer may not read this origin ([sync.peers]), or it asked for bodies its role does not receive ([sync.roles])"),
            ],
            ..Detail::default()
        },
        ("get", "/v1/sync/records/{origin}") => Detail {
            description: Some(SYNC_PEER_NOTE.into()),
            params: vec![
                ("origin", json!({"type": "string", "minLength": 1, "maxLength": 64, "description": "the origin (site name) whose entries' records are read"})),
                ("after", json!({"type": "integer", "minimum": 0, "maximum": u64::MAX, "default": 0})),
                ("limit", json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000})),
            ],
            ok: Some(("application/json", json!({"type": "object", "required": ["format", "origin", "after", "upto", "records"], "properties": {
                "format": {"type": "string", "enum": ["einvoice-records-1"]}, "origin": {"type": "string"},
                "after": {"type": "integer", "minimum": 0}, "upto": {"type": "integer", "minimum": 0},
                "records": {"type": "array", "items": {"type": "object", "required": ["seq", "hash", "kind"], "properties": {
                    "seq": {"type": "integer", "minimum": 1}, "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "kind": {"type": "string"},
                    "admin_body": {"type": "string", "description": "an API key's operator entry: its canonical JSON body"},
                    "bank_account": {"type": "object", "required": ["carrier", "account", "salt", "updated_unix"], "properties": {
                        "carrier": {"type": "string"}, "salt": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "updated_unix": {"type": "integer"},
                        "account": {"type": "object", "required": ["bank_code", "account_number", "holder_name"], "properties": {
                            "bank_code": {"type": "string"}, "account_number": {"type": "string"}, "holder_name": {"type": "string"}}}}}}}}}}))),
            problems: vec![
                p(400, &["SYNC_PAGE_TOO_LARGE", "REQUEST_INVALID"], "limit is outside 1..10000, after/limit is not a number, or another parameter is given"),
                p(403, &["SYNC_PEER_ONLY", "SYNC_ORIGIN_FORBIDDEN"], "not on the peer listener, or the peer may not read this origin ([sync.peers])"),
            ],
            ..Detail::default()
        },
        ("get", "/v1/carrier/love-codes") => Detail {
            description: Some(format!("{LANG_NOTE} A digit-only q matches love codes starting with it; any q matches NPO names containing it; at most 50 rows.")),
            params: vec![("q", json!({"type": "string", "minLength": 1, "maxLength": 30, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$", "description": "1 to 30 characters after trimming, no control characters", "example": "919"}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["npos"], "properties": {"npos": {"type": "array", "maxItems": 50, "items": sref("Npo")}}}))),
            problems: vec![p(400, &["LOVE_CODE_QUERY"], "q is missing, empty, longer than 30 characters, has control characters, or another parameter is given")],
            ..Detail::default()
        },
        ("post", "/v1/carrier/registrations") => Detail {
            description: Some(format!("{LANG_NOTE} One barcode per phone number and per address. The confirmation code is stored only as its SHA-256, single use, 30 minutes, 5 attempts. Without `[smtp]` configured: 503 MAIL_NOT_CONFIGURED and nothing stored.")),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["email", "phone"], "properties": {
                "email": {"type": "string", "maxLength": EMAIL_MAX, "pattern": EMAIL_PATTERN, "example": "citizen@example.com"}, "phone": {"type": "string", "pattern": PHONE_PATTERN, "example": "0912345678"}, "verification_code": {"type": "string", "minLength": 8, "maxLength": 16, "pattern": VERIFICATION_CODE_PATTERN, "description": "8 to 16 visible ASCII characters with a letter and a digit", "example": "Code1234"}},
                "example": {"email": "citizen@example.com", "phone": "0912345678", "verification_code": "Code1234"}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["id", "expires_unix"], "properties": {"id": {"type": "string"}, "expires_unix": {"type": "integer"}}}))),
            problems: vec![
                p(400, &["BODY_INVALID", "EMAIL_FORMAT", "PHONE_FORMAT", "VERIFICATION_CODE_WEAK"], "the body is not the documented object, or a field breaks its rule"),
                p(409, &["CONTACT_REGISTERED"], "the phone number or address holds a barcode already"),
                p(503, &["MAIL_NOT_CONFIGURED"], "this site has no SMTP configured (Retry-After)"),
            ],
            ..Detail::default()
        },
        ("post", "/v1/carrier/registrations/{id}/confirm") => Detail {
            description: Some(format!("{LANG_NOTE} Every attempt is counted before the code is compared (constant time); the barcode is random and unique.")),
            params: vec![("id", json!({"type": "string", "pattern": "^[0-9a-f]{32}$"}))],
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["code"], "properties": {
                "code": {"type": "string", "pattern": "^[0-9]{8}$", "description": "the 8-digit code from the mail"}, "verification_code": {"type": "string", "minLength": 8, "maxLength": 16, "pattern": VERIFICATION_CODE_PATTERN, "description": "8 to 16 visible ASCII characters with a letter and a digit", "example": "Code1234"}},
                "example": {"code": "12345678"}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["carrier_type", "carrier_id"], "properties": {"carrier_type": {"type": "string"}, "carrier_id": {"type": "string", "pattern": "^/[0-9A-Z.+-]{7}$"}}}))),
            problems: vec![
                p(400, &["BODY_INVALID", "CONFIRMATION_CODE_FORMAT", "VERIFICATION_CODE_WEAK", "VERIFICATION_CODE_REQUIRED"], "the body is not the documented object, or the code is not 8 digits (not counted as an attempt); no verification code chosen at registration nor given now"),
                p(401, &["CONFIRMATION_INVALID"], "unknown id or wrong code (one answer)"),
                p(409, &["CONFIRMATION_USED", "CONTACT_REGISTERED"], "the code was used already; the phone or address was registered meanwhile"),
                p(410, &["CONFIRMATION_EXPIRED", "CONFIRMATION_EXHAUSTED"], "the code expired, or too many attempts: register again"),
            ],
            ..Detail::default()
        },
        ("post", "/v1/carrier/verification-code") => Detail {
            description: Some(format!("{LANG_NOTE} The old code is checked like a login (attempt budgets); a wrong carrier and a wrong code are one answer.")),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["carrier_id", "old_verification_code", "new_verification_code"], "properties": {
                "carrier_id": {"type": "string", "pattern": "^/[0-9A-Z.+-]{7}$"}, "old_verification_code": {"type": "string", "minLength": 1, "maxLength": 64}, "new_verification_code": {"type": "string", "minLength": 8, "maxLength": 16, "pattern": VERIFICATION_CODE_PATTERN, "description": "8 to 16 visible ASCII characters with a letter and a digit", "example": "Code1234"}},
                "example": {"carrier_id": "/ABC+123", "old_verification_code": "Code1234", "new_verification_code": "Newer123"}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["carrier_type", "carrier_id"], "properties": {"carrier_type": {"type": "string"}, "carrier_id": {"type": "string", "pattern": "^/[0-9A-Z.+-]{7}$"}}}))),
            problems: vec![
                p(400, &["BODY_INVALID", "CONFIRMATION_CODE_FORMAT", "VERIFICATION_CODE_WEAK"], "the body is not the documented object, the code is not 8 digits (not counted as an attempt), or the new code breaks the rule"),
                p(401, &["CARRIER_AUTH"], "the carrier or its verification code is wrong"),
                p(429, &["CARRIER_LOCKED"], "too many failed codes on this carrier (Retry-After)"),
                p(503, &["BUSY"], "busy: retry shortly"),
            ],
            ..Detail::default()
        },
        ("post", "/v1/carrier/verification-code/reset") => Detail {
            description: Some(format!("{LANG_NOTE} The same answer whether or not the phone and address match a carrier.")),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["email", "phone"], "properties": {
                "email": {"type": "string", "maxLength": EMAIL_MAX, "pattern": EMAIL_PATTERN, "example": "citizen@example.com"}, "phone": {"type": "string", "pattern": PHONE_PATTERN, "example": "0912345678"}},
                "example": {"email": "citizen@example.com", "phone": "0912345678"}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["id", "expires_unix"], "properties": {"id": {"type": "string"}, "expires_unix": {"type": "integer"}}}))),
            problems: vec![
                p(400, &["BODY_INVALID", "EMAIL_FORMAT", "PHONE_FORMAT"], "the body is not the documented object, or a field breaks its rule"),
                p(503, &["MAIL_NOT_CONFIGURED"], "this site has no SMTP configured (Retry-After)"),
            ],
            ..Detail::default()
        },
        ("post", "/v1/carrier/verification-code/reset/{id}/confirm") => Detail {
            description: Some(format!("{LANG_NOTE} Single use, 30 minutes, 5 attempts.")),
            params: vec![("id", json!({"type": "string", "pattern": "^[0-9a-f]{32}$"}))],
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["code", "verification_code"], "properties": {
                "code": {"type": "string", "pattern": "^[0-9]{8}$", "description": "the 8-digit code from the mail"}, "verification_code": {"type": "string", "minLength": 8, "maxLength": 16, "pattern": VERIFICATION_CODE_PATTERN, "description": "8 to 16 visible ASCII characters with a letter and a digit", "example": "Code1234"}},
                "example": {"code": "12345678", "verification_code": "Reset2024"}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["carrier_type", "carrier_id"], "properties": {"carrier_type": {"type": "string"}, "carrier_id": {"type": "string", "pattern": "^/[0-9A-Z.+-]{7}$"}}}))),
            problems: vec![
                p(400, &["BODY_INVALID", "VERIFICATION_CODE_WEAK"], "the body is not the documented object, or the new code breaks the rule"),
                p(401, &["CONFIRMATION_INVALID"], "unknown id or wrong code (one answer)"),
                p(409, &["CONFIRMATION_USED"], "the code was used already"),
                p(410, &["CONFIRMATION_EXPIRED", "CONFIRMATION_EXHAUSTED"], "the code expired, or too many attempts"),
            ],
            ..Detail::default()
        },
        ("get", "/v1/carrier/links") => Detail {
            description: Some(format!("{LANG_NOTE} Only a mobile barcode (3J0002) has linked carriers; the barcode's App API carrier queries include their invoices and their prizes are paid into the barcode's bank account.")),
            ok: Some(("application/json", json!({"type": "object", "required": ["barcode", "links"], "properties": {
                "barcode": {"type": "string", "pattern": "^/[0-9A-Z.+-]{7}$"},
                "links": {"type": "array", "maxItems": 50, "items": {"type": "object", "required": ["carrier_type", "carrier_id", "name"], "properties": {"carrier_type": sref("CarrierType"), "carrier_id": sref("CarrierId"), "name": {"type": "string", "maxLength": 40}}}}}}))),
            problems: vec![p(422, &["LINK_NOT_LINKABLE"], "the token is not a mobile barcode's")],
            ..Detail::default()
        },
        ("post", "/v1/carrier/links") => Detail {
            description: Some(format!("{LANG_NOTE} EasyCard 1K0001, iPASS 1H0001, icash 2G0001, citizen certificate CQ0001, a bank's credit-card type, …; at most 50 per barcode. A carrier is linked to one barcode at a time.")),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["carrier_type", "carrier_id", "verification_code"], "properties": {
                "carrier_type": sref("CarrierType"), "carrier_id": sref("CarrierId"), "verification_code": {"type": "string", "maxLength": 64, "description": "the linked carrier's own verification code, counted in its attempt budgets like a login"}, "name": {"type": "string", "maxLength": 40, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$", "description": "your name for the carrier (at most 40 characters)"}},
                "example": {"carrier_type": "1K0001", "carrier_id": "0123456789", "verification_code": "Easy1234", "name": "悠遊卡"}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["barcode", "carrier_type", "carrier_id", "linked", "receipt"], "properties": {
                "barcode": {"type": "string"}, "carrier_type": sref("CarrierType"), "carrier_id": sref("CarrierId"), "linked": {"const": true}, "receipt": sref("Receipt")}}))),
            problems: vec![
                p(400, &["BODY_INVALID", "CARRIER_TYPE", "LINK_NAME"], "the body is not the documented object, or a field is malformed"),
                p(401, &["CARRIER_AUTH"], "the carrier or its verification code is wrong (one answer)"),
                p(409, &["LINK_ALREADY_LINKED", "LINK_LINKED_ELSEWHERE", "LINK_TOO_MANY"], "linked to this barcode already; linked to another barcode; 50 links already"),
                p(422, &["LINK_NOT_LINKABLE", "CARRIER_ID"], "the token is not a mobile barcode's, the carrier is a mobile barcode, or carrier_id is not of carrier_type's form"),
                p(429, &["CARRIER_LOCKED", "RATE_LIMITED"], "too many failed codes on the carrier (Retry-After), or too many requests from this client"),
                p(503, &["BUSY"], "busy: retry shortly"),
            ],
            ..Detail::default()
        },
        ("post", "/v1/carrier/links/remove") => Detail {
            description: Some(format!("{LANG_NOTE} The carrier's verification code is needed again.")),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["carrier_type", "carrier_id", "verification_code"], "properties": {
                "carrier_type": sref("CarrierType"), "carrier_id": sref("CarrierId"), "verification_code": {"type": "string", "maxLength": 64, "description": "the linked carrier's own verification code, counted in its attempt budgets like a login"}},
                "example": {"carrier_type": "1K0001", "carrier_id": "0123456789", "verification_code": "Easy1234"}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["barcode", "carrier_type", "carrier_id", "linked", "receipt"], "properties": {
                "barcode": {"type": "string"}, "carrier_type": sref("CarrierType"), "carrier_id": sref("CarrierId"), "linked": {"const": false}, "receipt": sref("Receipt")}}))),
            problems: vec![
                p(400, &["BODY_INVALID", "CARRIER_TYPE"], "the body is not the documented object, or a field is malformed"),
                p(401, &["CARRIER_AUTH"], "the carrier or its verification code is wrong (one answer)"),
                p(409, &["LINK_NOT_LINKED"], "the carrier is not linked to this barcode"),
                p(422, &["LINK_NOT_LINKABLE", "CARRIER_ID"], "the token is not a mobile barcode's, the carrier is a mobile barcode, or carrier_id is not of carrier_type's form"),
                p(429, &["CARRIER_LOCKED", "RATE_LIMITED"], "too many failed codes on the carrier (Retry-After), or too many requests from this client"),
                p(503, &["BUSY"], "busy: retry shortly"),
            ],
            ..Detail::default()
        },
        ("post", "/v1/carrier/donations") => Detail {
            description: Some(format!("{LANG_NOTE} Donates one invoice on the carrier (number and date) to an NPO before the period's draw date (Taipei); a donation cannot be changed or undone.")),
            body: vec![("application/json", json!({"type": "object", "additionalProperties": false, "required": ["invoice_number", "invoice_date", "love_code"], "properties": {
                "invoice_number": sref("InvoiceNumber"),
                "invoice_date": {"type": "string", "pattern": "^(191[2-9]|19[2-9][0-9]|[2-9][0-9]{3})[-/]?((0[13578]|1[02])[-/]?(0[1-9]|[12][0-9]|3[01])|(0[469]|11)[-/]?(0[1-9]|[12][0-9]|30)|02[-/]?(0[1-9]|1[0-9]|2[0-9]))$", "description": "YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD"},
                "love_code": sref("LoveCode")},
                "example": {"invoice_number": "AB12345678", "invoice_date": "2025-12-01", "love_code": "919"}}))],
            ok: Some(("application/json", json!({"type": "object", "required": ["invoice_number", "invoice_date", "seller", "love_code", "receipt"], "properties": {
                "invoice_number": sref("InvoiceNumber"), "invoice_date": {"type": "string"}, "seller": sref("Ubn"), "love_code": sref("LoveCode"), "receipt": sref("Receipt")}}))),
            problems: vec![
                p(400, &["BODY_INVALID", "INVOICE_NUMBER_FORMAT", "DATE_FORMAT", "NPOBAN_FORMAT"], "the body is not the documented object, or a field is malformed (an impossible date too)"),
                p(404, &["DONATION_INVOICE_NOT_FOUND"], "no invoice with this number and date on the carrier"),
                p(409, &["DONATION_NOT_DONATABLE", "DONATION_ALREADY_DONATED", "DONATION_PERIOD_CLOSED"], "cancelled, voided or with a business buyer; donated already; or the period is closed for its draw"),
                p(422, &["LOVE_CODE_UNKNOWN"], "no NPO has this love code"),
            ],
            ..Detail::default()
        },
        _ => Detail::default(),
    }
}

/// `503 LOGIN_BUSY`: every Argon2 permit stayed taken for 2 s.
fn login_busy() -> (u16, String) {
    p(
        503,
        &["LOGIN_BUSY"],
        "too many secret checks in progress on this node (Retry-After)",
    )
}

/// The optional `{reason}` body of a disable, enable, revoke or rotate.
fn reason_body() -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": {"reason": {"type": ["string", "null"], "maxLength": 1000, "description": "recorded in the ledger"}},
        "description": "optional: an empty body is the same as {}"})
}

/// The sync routes on the plain listener.
const SYNC_PEER_NOTE: &str = "Served to peer sites on the peer listener ([sync] listen: mutual TLS with a certificate of the deployment CA, whose CN names the peer). On the site's public listener it answers 403 SYNC_PEER_ONLY.";

/// The carrier lifecycle's languages.
const LANG_NOTE: &str = "Problems are in English or Traditional Chinese (zh-TW) by `Accept-Language` (English by default), with `Content-Language` saying which; codes are the same in both.";

fn ops_role() -> (u16, String) {
    p(
        403,
        &["ROLE_FORBIDDEN"],
        "the session's operator lacks the role",
    )
}

/// The MOF App API: one operation per path and method, the action enum and
/// the union of the actions' parameters; MOF answers HTTP 200 with its own code.
fn app_api_detail(r: &RouteDoc) -> Detail {
    const REG_VERSIONS: [&str; 8] = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "1.0", "1.1"];
    const INV_APP: &[&str] = &[
        "invTerm",
        "type",
        "invNum",
        "invDate",
        "generation",
        "randomNumber",
        "encrypt",
        "sellerID",
    ];
    const INV_SERV: &[&str] = &[
        "cardType",
        "cardNo",
        "cardEncrypt",
        "startDate",
        "endDate",
        "onlyWinningInv",
        "invNum",
        "invDate",
    ];
    const DONATE: &[&str] = &[
        "cardType",
        "cardNo",
        "cardEncrypt",
        "invNum",
        "invDate",
        "npoBan",
        "serial",
    ];
    // (actions, versions, the path's own parameters, notes)
    let (actions, versions, own, notes): (&[&str], &[&str], &[&str], &str) = match r.path {
        "/PB2CAPIVAN/invapp/InvApp" => (
            &["QryWinningList", "qryInvHeader", "qryInvDetail"],
            &crate::app_api::ACCEPTED_VERSIONS,
            INV_APP,
            "Per action:\n\
- `QryWinningList`: `invTerm` (period YYYMM) → the winning numbers (`superPrizeNo`, `spcPrizeNo`, `firstPrizeNo1`…, `sixthPrizeNo1`…, prize amounts); `code` is a string (\"200\").\n\
- `qryInvHeader`: `type` (`Barcode` or `QRCode`), `invNum`, `invDate` (yyyy/MM/dd), optional `generation`, optional `randomNumber` or `sellerID` → the invoice header (`invNum`, `invDate`, `sellerName`, `invStatus`, `invPeriod`, `sellerBan`, `sellerAddress`, `invoiceTime`, `currency`; `buyerBan` only with `randomNumber` or `sellerID`). Number and date alone are answered (as client libraries send them), held by the per-client and per-appID limits (907); 951 when no invoice (or more than one) has the number and date.\n\
- `qryInvDetail`: as `qryInvHeader` plus `randomNumber` (4 digits); with `type=QRCode` also `sellerID` and `encrypt` (the QR code's verification field, checked against the seller's QR key: 901 when it does not match or the seller has no QR key here); with `type=Barcode` `invTerm` → the header and `details[]` (`rowNum`, `description`, `quantity`, `unitPrice`, `amount`).",
        ),
        "/PB2CAPIVAN/invServ/InvServ" => (
            &["carrierInvChk", "carrierInvDetail"],
            &crate::app_api::ACCEPTED_VERSIONS,
            INV_SERV,
            "Per action (the citizen authenticates with the carrier: `cardType`, `cardNo`, `cardEncrypt` = verification code):\n\
- `carrierInvChk`: `startDate`, `endDate` (yyyy/MM/dd), optional `onlyWinningInv` → `details[]` of the carrier's invoices (a mobile barcode's include those of the carriers linked to it, each row with its own `cardType`/`cardNo`).\n\
- `carrierInvDetail`: `invNum`, `invDate` → the invoice and its `details[]`.\n\
Wrong carrier or code answers 919 (one answer for both); a spent attempt budget answers 920 (`msg` says when to retry).",
        ),
        "/PB2CAPIVAN/loveCodeapp/qryLoveCode" => (
            &["qryLoveCode"],
            &["0.1", "0.2", "0.3"],
            &["qKey"],
            "`qryLoveCode`: `qKey` (1 to 30 characters: a love code or part of an NPO name; a digit-only key matches love codes starting with it, any key names containing it) → \
`details[]` (`rowNum`, `LoveCode`, `SocialWelfareBAN`, `SocialWelfareName`, `SocialWelfareAbbrev`), at most 50 rows; 951 when nothing matches.",
        ),
        "/PB2CAPIVAN/CarInv/Donate" => (
            &["carrierInvDnt"],
            &["0.1", "0.2", "1.0"],
            DONATE,
            "`carrierInvDnt` (must be signed: 904 without `signature`; `timeStamp` required): `cardType`, `cardNo`, `cardEncrypt`, `invNum`, `invDate`, `npoBan` (love code), `serial` → \
`invNum`, `invDate`, `npoBan`, `cardType`, `cardNo`. 919 carrier or code wrong, 920 attempt budget spent, 951 the invoice is not on the carrier, 953 unknown love code, \
954 not donatable (cancelled, voided, a business buyer, or donated already), 955 the period is closed for its draw. A donation cannot be undone.",
        ),
        "/BIZAPIVAN/biz" => (
            &[
                "bcv",
                "preserveCodeCheck",
                "cardBin",
                "creditCardBan",
                "qryRecvRout",
                "qryBanUnitTp",
            ],
            &["1.0", "1.1"],
            &[
                "TxID",
                "barCode",
                "pCode",
                "bankNo",
                "ban",
                "serial",
                "timeStamp",
            ],
            "Business (POS and invoicing system) checks; `code` is a string (\"200\"):\n\
- `bcv`: `barCode` (a mobile barcode, `/` and 7 of 0-9A-Z.+-), `TxID` → `isExist` (`Y`/`N`), `TxID`; existence only.\n\
- `preserveCodeCheck`: `pCode` (a love code, 3 to 7 digits), `TxID` → `isExist`, `TxID`; existence only.\n\
- `cardBin`: `bankNo` (3 digits), `TxID` → `bankNo`, `bankName`, `details[]` (`rowNum`, `cardBin`), `TxID`; 951 the bank offers no credit-card carrier here.\n\
- `creditCardBan`: `TxID` → `details[]` (`rowNum`, `bankNo`, `bankName`), `TxID` (the credit-card issuer directory, PUT /v1/ops/card-issuers/{bank_code}).\n\
- `qryRecvRout` (signed; `serial`, `timeStamp` required): `ban` (a UBN), `TxID` → `ban`, `recvRout` (`PLATFORM`: a seller of this site receives its B2B invoices here), `TxID`; 951 not a seller here.\n\
- `qryBanUnitTp` (signed; `serial`, `timeStamp` required): `ban`, optional `TxID` → `ban`, `banUnitTp` (`B`, a business), `TxID` when sent; 951 not a seller here.\n\
`TxID` (1 to 64 visible characters) is required (but for qryBanUnitTp) and echoed; a malformed `barCode`, `pCode`, `bankNo` or `ban` is 901, not a negative answer; 904 a signed action without a valid `signature`, 905 `timeStamp` out of its window, 906 a replay.",
        ),
        "/PB2CAPIVAN/appCarreg/AppCarReg" => (
            &["generalCarrierReg"],
            &REG_VERSIONS,
            &["email", "phoneNo", "isVerification"],
            "`generalCarrierReg` (signed; `timeStamp`, `serial` required): `email`, `phoneNo` (09 and 8 digits), optional `isVerification` (Y/N) → `regId`, `expTimeStamp`. \
A confirmation code is emailed; the citizen confirms with POST /v1/carrier/registrations/{regId}/confirm and chooses the verification code there. \
901 names the parameter, 956 the phone or address holds a barcode already, 998 this site has no SMTP configured.",
        ),
        "/PB2CAPIVAN/MobBarCar/PubCarVerReg" => (
            &["pubCarVerReg"],
            &REG_VERSIONS,
            &["email", "phoneNo", "verify", "isVerification"],
            "`pubCarVerReg` (signed): as generalCarrierReg with `verify`, the verification code chosen now (8 to 16 characters with a letter and a digit; 901 otherwise).",
        ),
        "/PB2CAPIVAN/MobBarCar/ChangeVer" => (
            &["changeVer"],
            &REG_VERSIONS,
            &["cardNo", "oldVerify", "newVerify"],
            "`changeVer` (signed): `cardNo` (a mobile barcode), `oldVerify`, `newVerify` → `cardNo`. 919 carrier or old code wrong (one answer), 920 attempt budget spent, 901 for a `newVerify` breaking the rule. A notice is emailed.",
        ),
        "/PB2CAPIVAN/MobBarCar/ForgetVer" => (
            &["forgetVer"],
            &REG_VERSIONS,
            &["email", "phoneNo"],
            "`forgetVer` (signed): `email`, `phoneNo` → `regId`, `expTimeStamp`, the same answer whether or not they match a carrier; when they do, a reset code is emailed (confirm with POST /v1/carrier/verification-code/reset/{regId}/confirm).",
        ),
        "/PB2CAPIVAN/Carrier/AppGetBarcode" => (
            &["getBarcode"],
            &REG_VERSIONS,
            &["phoneNo", "verificationCode"],
            "`getBarcode` (not signed): `phoneNo`, `verificationCode` → `cardNo`. An unknown phone and a wrong code are one answer (919).",
        ),
        "/PB2CAPIVAN/PublicCarrier/AppBankInfo" => (
            &["generalCarrierBank"],
            &REG_VERSIONS,
            &[
                "cardType",
                "cardNo",
                "cardEncrypt",
                "updateAcc",
                "enableRemit",
                "userIdType",
                "rocID",
                "winnerName",
                "winnerPhone",
                "bankNo",
                "accountNo",
            ],
            "`generalCarrierBank` (signed): the carrier and its verification code, `updateAcc` (Y: change, N: read), `enableRemit` (Y/N), `userIdType` (1/2); with `updateAcc=Y` also `rocID`, `winnerName`, `winnerPhone`, `bankNo` (3 digits), `accountNo` (1 to 16 digits) → \
`bankNo`, `accountNo` (masked), `enableRemit`. A change is a CARRIER_BANK_ACCOUNT ledger entry and emails a notice; 951 nothing registered (`updateAcc=N`); `rocID` and `winnerPhone` are checked, not kept.",
        ),
        "/PB2CAPIVAN/MobBarCar/CarrierAction" => (
            &["carrierAction"],
            &REG_VERSIONS,
            &[
                "publicCardType",
                "publicCardNo",
                "publicVerifyCode",
                "cardType",
                "cardNo",
                "verifyCode",
                "carrierName",
                "email",
                "actionType",
            ],
            "`carrierAction` (signed; `timeStamp`, `serial` required): the mobile barcode `publicCardType` (3J0002), `publicCardNo`, `publicVerifyCode`; the carrier to link `cardType` (not 3J0002), `cardNo`, `verifyCode` (its own verification code); optional `carrierName` (at most 40 characters), `email` (checked, not kept), `actionType` (A link, the default; D unlink) → \
`publicCardNo`, `cardType`, `cardNo`, `actionType`. A CARRIER_LINK ledger entry; the barcode's carrierInvChk/carrierInvDetail then include the carrier's invoices and its prizes go to the barcode's bank account. \
901 names the parameter, 919 the barcode, the carrier or a code is wrong (one answer), 920 attempt budget spent, 957 linked to this barcode already, 958 linked to another barcode, 959 not linked (D), 960 the barcode has 50 links.",
        ),
        _ => (
            &["qryCarrierAgg"],
            &REG_VERSIONS,
            &["cardType", "cardNo", "cardEncrypt"],
            "`qryCarrierAgg` (signed; `timeStamp`, `serial` required): the mobile barcode `cardType` (3J0002), `cardNo`, `cardEncrypt` → `cardNo`, `details[]` (`rowNum`, `cardType`, `cardNo`, `carrierName`) of the carriers linked to it. 919 barcode or code wrong, 920 attempt budget spent.",
        ),
    };
    let date = json!({"type": "string", "pattern": "^[0-9]{4}[/-]?[0-9]{2}[/-]?[0-9]{2}$"});
    let all: Vec<(&str, Value, &str)> = vec![
        (
            "version",
            json!({"enum": versions}),
            "API version; echoed in `v`",
        ),
        (
            "action",
            json!({"enum": actions}),
            "the action (matched case-insensitively)",
        ),
        (
            "appID",
            json!({"type": "string", "minLength": 1, "maxLength": 64}),
            "the application id registered with POST /v1/ops/apps",
        ),
        (
            "UUID",
            json!({"type": "string", "maxLength": 64}),
            "the calling device's id (MOF: required by some apps, not checked)",
        ),
        (
            "timeStamp",
            json!({"type": "string", "pattern": "^[0-9]{1,12}$"}),
            "Unix seconds: with a signature, within the window (905) and remembered so the same signed request is refused (906); required when the site requires signatures, and for carrierInvDnt",
        ),
        (
            "expTimeStamp",
            json!({"type": "string", "pattern": "^[0-9]{1,12}$"}),
            "Unix seconds after which the request is void (905)",
        ),
        (
            "serial",
            json!({"type": "string", "maxLength": 64}),
            "a request serial: with timeStamp it makes each signed request new (required by carrierInvDnt)",
        ),
        (
            "signature",
            json!({"type": "string", "maxLength": 128}),
            "Base64 HMAC of the other parameters sorted by name (see the appId scheme); verified when present, required when the site requires signatures ([app_api] require_signature) and for carrierInvDnt (904)",
        ),
        (
            "invTerm",
            sref("Period"),
            "QryWinningList, qryInvDetail: the period YYYMM",
        ),
        (
            "type",
            json!({"enum": ["Barcode", "QRCode"]}),
            "qryInvHeader, qryInvDetail: where the number was read",
        ),
        (
            "invNum",
            sref("InvoiceNumber"),
            "qryInvHeader, qryInvDetail, carrierInvDetail, carrierInvDnt",
        ),
        (
            "invDate",
            date,
            "qryInvHeader, qryInvDetail, carrierInvDetail, carrierInvDnt: yyyy/MM/dd",
        ),
        (
            "generation",
            json!({"enum": ["V1", "V2"]}),
            "qryInvHeader, qryInvDetail: barcode generation",
        ),
        ("randomNumber", sref("RandomNumber"), "qryInvDetail"),
        (
            "encrypt",
            json!({"type": "string", "maxLength": 128}),
            "qryInvDetail with type=QRCode: the QR code's 24-character verification field, checked against the seller's QR key (901 when it does not match or the seller has no QR key here)",
        ),
        ("sellerID", sref("Ubn"), "qryInvDetail"),
        (
            "cardType",
            sref("CarrierType"),
            "carrierInvChk, carrierInvDetail, carrierInvDnt, qryCarrierAgg (3J0002), carrierAction (the carrier to link)",
        ),
        (
            "cardNo",
            sref("CarrierId"),
            "carrierInvChk, carrierInvDetail, carrierInvDnt, qryCarrierAgg, carrierAction",
        ),
        (
            "cardEncrypt",
            json!({"type": "string", "maxLength": 64}),
            "carrierInvChk, carrierInvDetail, carrierInvDnt, qryCarrierAgg: the verification code",
        ),
        (
            "startDate",
            json!({"type": "string", "pattern": "^[0-9]{4}/[0-9]{2}/[0-9]{2}$"}),
            "carrierInvChk",
        ),
        (
            "endDate",
            json!({"type": "string", "pattern": "^[0-9]{4}/[0-9]{2}/[0-9]{2}$"}),
            "carrierInvChk",
        ),
        (
            "onlyWinningInv",
            json!({"enum": ["Y", "N"]}),
            "carrierInvChk",
        ),
        (
            "npoBan",
            sref("LoveCode"),
            "carrierInvDnt: the NPO's love code",
        ),
        (
            "qKey",
            json!({"type": "string", "minLength": 1, "maxLength": 30}),
            "qryLoveCode: a love code or part of an NPO name",
        ),
        (
            "TxID",
            json!({"type": "string", "pattern": "^[^\\s\\u0000-\\u001f\\u007f-\\u009f]{1,64}$"}),
            "bcv, preserveCodeCheck: the caller's transaction id, echoed",
        ),
        (
            "barCode",
            json!({"type": "string", "pattern": "^/[0-9A-Z.+-]{7}$"}),
            "bcv: the mobile barcode",
        ),
        (
            "pCode",
            sref("LoveCode"),
            "preserveCodeCheck: the love code",
        ),
        (
            "email",
            json!({"type": "string", "maxLength": 254}),
            "generalCarrierReg, pubCarVerReg, forgetVer, carrierAction: the citizen's address",
        ),
        (
            "phoneNo",
            json!({"type": "string", "maxLength": 16}),
            "generalCarrierReg, pubCarVerReg, forgetVer, getBarcode: 09 and 8 digits",
        ),
        (
            "isVerification",
            json!({"enum": ["Y", "N"]}),
            "generalCarrierReg, pubCarVerReg",
        ),
        (
            "verify",
            json!({"type": "string", "maxLength": 64}),
            "pubCarVerReg: the verification code (8 to 16, a letter and a digit)",
        ),
        (
            "oldVerify",
            json!({"type": "string", "maxLength": 64}),
            "changeVer: the current verification code",
        ),
        (
            "newVerify",
            json!({"type": "string", "maxLength": 64}),
            "changeVer: the new verification code",
        ),
        (
            "verificationCode",
            json!({"type": "string", "maxLength": 64}),
            "getBarcode: the verification code",
        ),
        (
            "updateAcc",
            json!({"enum": ["Y", "N"]}),
            "generalCarrierBank: Y change, N read",
        ),
        (
            "enableRemit",
            json!({"enum": ["Y", "N"]}),
            "generalCarrierBank",
        ),
        (
            "userIdType",
            json!({"enum": ["1", "2"]}),
            "generalCarrierBank",
        ),
        (
            "rocID",
            json!({"type": "string", "maxLength": 16}),
            "generalCarrierBank: the winner's ID (checked, not kept)",
        ),
        (
            "winnerName",
            json!({"type": "string", "maxLength": 64}),
            "generalCarrierBank: the account holder",
        ),
        (
            "winnerPhone",
            json!({"type": "string", "maxLength": 16}),
            "generalCarrierBank (checked, not kept)",
        ),
        (
            "bankNo",
            json!({"type": "string", "maxLength": 8}),
            "generalCarrierBank: bank code, 3 digits",
        ),
        (
            "accountNo",
            json!({"type": "string", "maxLength": 32}),
            "generalCarrierBank: account number, 1 to 16 digits",
        ),
        (
            "publicCardType",
            json!({"const": "3J0002"}),
            "carrierAction: the mobile barcode's type",
        ),
        (
            "publicCardNo",
            json!({"type": "string", "pattern": "^/[0-9A-Z.+-]{7}$"}),
            "carrierAction: the mobile barcode",
        ),
        (
            "publicVerifyCode",
            json!({"type": "string", "maxLength": 64}),
            "carrierAction: the mobile barcode's verification code",
        ),
        (
            "verifyCode",
            json!({"type": "string", "maxLength": 64}),
            "carrierAction: the linked carrier's own verification code",
        ),
        (
            "carrierName",
            json!({"type": "string", "maxLength": 40, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}),
            "carrierAction: the citizen's name for the carrier",
        ),
        (
            "actionType",
            json!({"enum": ["A", "D"]}),
            "carrierAction: A link (default), D unlink",
        ),
    ];
    let common = [
        "version",
        "action",
        "appID",
        "UUID",
        "timeStamp",
        "expTimeStamp",
        "serial",
        "signature",
    ];
    let params: Vec<(String, Value, String)> = all
        .into_iter()
        .filter(|(n, _, _)| common.contains(n) || own.contains(n))
        .map(|(n, s, d)| (n.to_string(), s, d.to_string()))
        .collect();
    let required = ["version", "action", "appID"];
    let description = format!(
        "MOF App API (財政部電子發票應用 API). Parameters are form-encoded in the body (POST) or in the query string (GET); \
a name given twice is refused (901), at most 64 parameters of at most 1024 bytes each. Every answer is HTTP 200 with MOF's JSON: \
`v` (the version sent), `code` and `msg` — 200 success, 901 parameter missing or malformed (`msg` names it), 902 unknown action, \
unsupported version or not offered, 903 unknown or disabled appID, 904 signature invalid (or missing where required), 905 timestamp outside the window, \
906 a signed request received before (replay), 907 too many requests from this client address or appID (`msg` says when to retry), \
919 carrier or verification code wrong, 920 carrier attempt budget spent, 951 not found, 998 temporarily unavailable (retry shortly). \
The parameters below are the union over the path's actions: `version`, `action` and `appID` are always required, the others per action. \
At a cloud site the App API is served; at a standby site it answers 421 MAIN_ONLY.\n\n{notes}"
    );
    let mut d = Detail {
        description: Some(description),
        ok: Some(("application/json", sref("MofAnswer"))),
        ..Detail::default()
    };
    if r.method == "post" {
        let props: Map<String, Value> = params
            .iter()
            .map(|(n, s, desc)| {
                let mut s = s.clone();
                if let Value::Object(m) = &mut s {
                    m.insert("description".into(), json!(desc));
                }
                (n.clone(), s)
            })
            .collect();
        d.body = vec![(
            "application/x-www-form-urlencoded",
            json!({"type": "object", "required": required, "properties": props}),
        )];
    } else {
        d.extra_params = params
            .into_iter()
            .map(|(n, s, desc)| json!({"name": n, "in": "query", "required": required.contains(&n.as_str()), "description": desc, "schema": s}))
            .collect();
    }
    d
}

fn security(auth: Auth) -> Value {
    match auth {
        Auth::Public => json!([]),
        Auth::Signed => json!([{"signedRequest": []}]),
        Auth::CarrierToken => json!([{"carrierToken": []}]),
        Auth::OperatorSession => json!([{"operatorSession": []}]),
        Auth::AppId => json!([{"appId": []}]),
    }
}

/// Where a route answers `421 MAIN_ONLY` (`role.rs`): main-only routes at a
/// cloud or standby site, citizen writes at a standby site.
fn main_only_at(r: &RouteDoc) -> Option<&'static str> {
    use crate::role::{RouteClass, classify};
    match classify(r.method, r.path)? {
        RouteClass::MainOnly => Some("a main-site operation at a cloud or standby site"),
        RouteClass::CitizenWrite => Some("a write at a standby site (read-only until promoted)"),
        RouteClass::Read | RouteClass::Anywhere => None,
    }
}

fn problem_response(what: &str) -> Value {
    json!({"description": what, "content": {"application/problem+json": {"schema": sref("Problem")}}})
}

/// `get_v1_sellers_ubn_invoices_number`: method and path words, a name code
/// generators can use as a function name.
fn operation_id(r: &RouteDoc) -> String {
    let mut id = r.method.to_string();
    for word in r.path.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !word.is_empty() {
            id.push('_');
            id.push_str(&word.to_ascii_lowercase());
        }
    }
    id
}

fn operation(r: &RouteDoc) -> Value {
    let d = detail(r);
    let schema_of = |name: &str| {
        d.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| json!({"type": "string"}), |(_, s)| s.clone())
    };
    let mut params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(
            |name| json!({"name": name, "in": "path", "required": true, "schema": schema_of(name)}),
        )
        .collect();
    params.extend(r.query.iter().map(|(name, required, desc)| {
        json!({"name": name, "in": "query", "required": required, "description": desc, "schema": schema_of(name)})
    }));
    params.extend(d.extra_params.iter().cloned());
    let mut op = Map::new();
    op.insert("tags".into(), json!([r.tag]));
    op.insert("summary".into(), json!(r.summary));
    if let Some(desc) = &d.description {
        op.insert("description".into(), json!(desc));
    }
    op.insert("operationId".into(), json!(operation_id(r)));
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if !r.body.is_empty() {
        let content: Map<String, Value> = r
            .body
            .iter()
            .map(|m| {
                let schema = d
                    .body
                    .iter()
                    .find(|(t, _)| t == m)
                    .map_or_else(|| json!({}), |(_, s)| s.clone());
                ((*m).to_string(), json!({"schema": schema}))
            })
            .collect();
        op.insert(
            "requestBody".into(),
            // The App API reads its parameters from the body or the query string.
            json!({"required": r.auth != Auth::AppId && !d.body_optional, "content": content}),
        );
    }
    let mut responses = Map::new();
    let (ok_type, ok_schema) = d.ok.clone().unwrap_or(("application/json", json!({})));
    responses.insert(
        r.ok.0.to_string(),
        json!({"description": r.ok.1, "content": {ok_type: {"schema": ok_schema.clone()}}}),
    );
    for (status, what) in &d.also_ok {
        responses.insert(
            status.to_string(),
            json!({"description": what, "content": {ok_type: {"schema": ok_schema.clone()}}}),
        );
    }
    // The edge layers answer these on every route (site.rs).
    let mut problems: Vec<(u16, String)> = vec![
        p(404, &["ROUTE_NOT_FOUND"], "no such route"),
        p(
            405,
            &["METHOD_NOT_ALLOWED"],
            "the method is not allowed on this path (Allow lists the allowed ones)",
        ),
        p(
            408,
            &["REQUEST_TIMEOUT"],
            "the request took longer than request_timeout_ms",
        ),
        p(
            413,
            &["BODY_TOO_LARGE"],
            "the body is larger than max_body_bytes (4 MiB by default)",
        ),
        p(
            429,
            &["RATE_LIMITED"],
            "too many requests from this key or client (Retry-After)",
        ),
        p(
            500,
            &["INTERNAL", "STORE_CORRUPT"],
            "a fault of the server (never expected; please report): a generic detail naming a correlation id (`correlation_id`, also the X-Correlation-Id header) under which the cause was logged",
        ),
        if is_write_route(r) {
            p(
                503,
                &["STORE_UNAVAILABLE", crate::soc_holds::SITE_READ_ONLY],
                "the store is unavailable, or the site is read-only by the security operations center (Retry-After)",
            )
        } else {
            p(
                503,
                &["STORE_UNAVAILABLE"],
                "the store is unavailable (Retry-After)",
            )
        },
    ];
    if r.auth != Auth::Public && r.auth != Auth::AppId {
        let codes: &[&str] = match r.auth {
            Auth::Signed => &[
                "AUTH_MISSING",
                "AUTH_MALFORMED",
                "AUTH_TIMESTAMP",
                "AUTH_NONCE",
                "AUTH_KEY",
                "AUTH_SIGNATURE",
                "AUTH_REPLAY",
            ],
            Auth::CarrierToken => &[
                "AUTH_MISSING",
                "TOKEN_INVALID",
                "TOKEN_EXPIRED",
                "CARRIER_REVERIFY",
            ],
            _ => &["AUTH_REQUIRED", "SESSION_EXPIRED", "SESSION_REVOKED"],
        };
        problems.push(p(401, codes, "authentication failed"));
    }
    if !r.body.is_empty() {
        problems.push(p(
            415,
            &["CONTENT_TYPE"],
            "the content type is not a documented one",
        ));
    }
    for (status, what) in d.problems {
        match problems.iter_mut().find(|(s, _)| *s == status) {
            Some(existing) => existing.1 = format!("{what}; or {}", existing.1),
            None => problems.push((status, what)),
        }
    }
    if r.auth == Auth::AppId {
        // MOF answers HTTP 200 with its own codes; only the edge layers speak problems.
        problems.retain(|(s, _)| matches!(s, 404 | 405 | 408 | 413 | 500 | 503));
    }
    if let Some(refused_at) = main_only_at(r) {
        problems.push(p(
            421,
            &[crate::role::MAIN_ONLY],
            &format!(
                "{refused_at}: this site's role does not serve the operation and nothing was written; the Location header and the problem's `location` give the same path and query at the main site (`main_url`)"
            ),
        ));
    }
    problems.sort_by_key(|(s, _)| *s);
    for (status, what) in problems {
        responses.insert(status.to_string(), problem_response(&what));
    }
    op.insert("responses".into(), Value::Object(responses));
    op.insert("security".into(), security(r.auth));
    Value::Object(op)
}

/// What a SOC hold route does (the description of each).
const HOLD_NOTE: &str = "A hold of the security operations center on this site's store (crates/server/src/soc_holds.rs): \
recorded first in the ledger (`ADMIN`, key `soc/<target>`, the operator as actor, the reason), then in force on every node of the site at once. \
A seller's freeze refuses its messages (`403 SELLER_FROZEN`; in a batch or upload, each of its messages is rejected so); \
a carrier's forced re-verification ends its tokens (`401 CARRIER_REVERIFY`, also after it is cleared) and answers every check of its code as a wrong code until \
the code is reset through the carrier's registered contact (which lifts it) or the hold is cleared; \
a read-only site answers every write `503 SITE_READ_ONLY` with Retry-After, while reads, `/v1/soc/…` and operator login and logout are served.";

/// The answer of a SOC hold route.
fn soc_hold_schema() -> Value {
    json!({"type": "object", "required": ["target", "in_force", "since_unix", "by", "changed_unix"], "properties": {
        "target": {"type": "string", "description": "`seller:<ubn>`, `carrier:<type:id>` or `site`"},
        "in_force": {"type": "boolean"},
        "since_unix": {"type": "integer", "description": "when the hold was last put in force"},
        "by": {"type": "string", "description": "the ledger actor of the change"},
        "changed_unix": {"type": "integer"}}})
}

/// Whether the read-only site refuses the route ([`crate::soc_holds::is_write`]).
fn is_write_route(r: &RouteDoc) -> bool {
    axum::http::Method::from_bytes(r.method.to_ascii_uppercase().as_bytes())
        .is_ok_and(|m| crate::soc_holds::is_write(&m, r.path))
}

/// The JSON form of MIG 4.1 messages (`einvoice_core::model`, MIG element
/// names): each structure with its fields — `s` a required string, `s?` an
/// optional one, a structure's name, or `[Name]` a list of it. A test checks
/// the required fields against the model's own serde form.
pub const MIG_STRUCTS: &[(&str, &[(&str, &str)])] = &[
    (
        "Party",
        &[
            ("Identifier", "s"),
            ("Name", "s"),
            ("Address", "s?"),
            ("PersonInCharge", "s?"),
            ("TelephoneNumber", "s?"),
            ("FacsimileNumber", "s?"),
            ("EmailAddress", "s?"),
            ("CustomerNumber", "s?"),
            ("RoleRemark", "s?"),
        ],
    ),
    (
        "Invoice",
        &[
            ("Main", "InvoiceMain"),
            ("Details", "[ProductItem]"),
            ("Amount", "InvoiceAmount"),
        ],
    ),
    (
        "InvoiceMain",
        &[
            ("InvoiceNumber", "s"),
            ("InvoiceDate", "s"),
            ("InvoiceTime", "s"),
            ("Seller", "Party"),
            ("Buyer", "Party"),
            ("BuyerRemark", "s?"),
            ("MainRemark", "s?"),
            ("CustomsClearanceMark", "s?"),
            ("Category", "s?"),
            ("RelateNumber", "s?"),
            ("InvoiceType", "s"),
            ("GroupMark", "s?"),
            ("DonateMark", "s"),
            ("CarrierType", "s?"),
            ("CarrierId1", "s?"),
            ("CarrierId2", "s?"),
            ("PrintMark", "s?"),
            ("NPOBAN", "s?"),
            ("RandomNumber", "s?"),
            ("BondedAreaConfirm", "s?"),
            ("ZeroTaxRateReason", "s?"),
            ("Reserved1", "s?"),
            ("Reserved2", "s?"),
        ],
    ),
    (
        "ProductItem",
        &[
            ("Description", "s"),
            ("Quantity", "s"),
            ("Unit", "s?"),
            ("UnitPrice", "s"),
            ("TaxType", "s"),
            ("Amount", "s"),
            ("SequenceNumber", "s"),
            ("Remark", "s?"),
            ("RelateNumber", "s?"),
        ],
    ),
    (
        "InvoiceAmount",
        &[
            ("SalesAmount", "s"),
            ("FreeTaxSalesAmount", "s?"),
            ("ZeroTaxSalesAmount", "s?"),
            ("TaxType", "s"),
            ("TaxRate", "s"),
            ("TaxAmount", "s"),
            ("TotalAmount", "s"),
            ("DiscountAmount", "s?"),
            ("OriginalCurrencyAmount", "s?"),
            ("ExchangeRate", "s?"),
            ("Currency", "s?"),
        ],
    ),
    (
        "CancelInvoice",
        &[
            ("CancelInvoiceNumber", "s"),
            ("InvoiceDate", "s"),
            ("BuyerId", "s"),
            ("SellerId", "s"),
            ("CancelDate", "s"),
            ("CancelTime", "s"),
            ("CancelReason", "s"),
            ("ReturnTaxDocumentNumber", "s?"),
            ("Remark", "s?"),
        ],
    ),
    (
        "VoidInvoice",
        &[
            ("VoidInvoiceNumber", "s"),
            ("InvoiceDate", "s"),
            ("BuyerId", "s"),
            ("SellerId", "s"),
            ("VoidDate", "s"),
            ("VoidTime", "s"),
            ("VoidReason", "s"),
            ("Remark", "s?"),
        ],
    ),
    (
        "Allowance",
        &[
            ("Main", "AllowanceMain"),
            ("Details", "[AllowanceItem]"),
            ("Amount", "AllowanceAmount"),
        ],
    ),
    (
        "AllowanceMain",
        &[
            ("AllowanceNumber", "s"),
            ("AllowanceDate", "s"),
            ("Seller", "Party"),
            ("Buyer", "Party"),
            ("AllowanceType", "s"),
            ("OriginalInvoiceSellerId", "s?"),
            ("OriginalInvoiceBuyerId", "s?"),
        ],
    ),
    (
        "AllowanceItem",
        &[
            ("OriginalInvoiceDate", "s"),
            ("OriginalInvoiceNumber", "s"),
            ("OriginalSequenceNumber", "s?"),
            ("OriginalDescription", "s"),
            ("Quantity", "s"),
            ("Unit", "s?"),
            ("UnitPrice", "s"),
            ("Amount", "s"),
            ("Tax", "s"),
            ("AllowanceSequenceNumber", "s"),
            ("TaxType", "s"),
        ],
    ),
    (
        "AllowanceAmount",
        &[("TaxAmount", "s"), ("TotalAmount", "s")],
    ),
    (
        "CancelAllowance",
        &[
            ("CancelAllowanceNumber", "s"),
            ("AllowanceType", "s?"),
            ("AllowanceDate", "s"),
            ("BuyerId", "s"),
            ("SellerId", "s"),
            ("CancelDate", "s"),
            ("CancelTime", "s"),
            ("CancelReason", "s"),
            ("Remark", "s?"),
        ],
    ),
    (
        "BranchTrackBlank",
        &[
            ("Main", "BranchTrackBlankMain"),
            ("Details", "[BlankRange]"),
        ],
    ),
    (
        "BranchTrackBlankMain",
        &[
            ("HeadBan", "s"),
            ("BranchBan", "s"),
            ("InvoiceType", "s"),
            ("YearMonth", "s"),
            ("InvoiceTrack", "s"),
        ],
    ),
    (
        "BlankRange",
        &[("InvoiceBeginNo", "s"), ("InvoiceEndNo", "s")],
    ),
];

/// The message kinds a seller submits (E0401 and E0501 are operators' acts)
/// and the structure of each.
pub const SELLER_MESSAGES: &[(&str, &str, &str)] = &[
    ("F0401", "Invoice", "issue an invoice"),
    ("F0501", "CancelInvoice", "cancel an invoice"),
    ("F0701", "VoidInvoice", "void an invoice"),
    ("G0401", "Allowance", "an allowance (折讓) against invoices"),
    ("G0501", "CancelAllowance", "cancel an allowance"),
    (
        "E0402",
        "BranchTrackBlank",
        "blank (unused) numbers of an allocation",
    ),
    ("A0101", "Invoice", "B2B exchange invoice (the F0401 body)"),
];

fn mig_schema(fields: &[(&str, &str)], tag: Option<&str>) -> Value {
    let mut props = Map::new();
    let mut required: Vec<&str> = Vec::new();
    if let Some(kind) = tag {
        props.insert("message".into(), json!({"const": kind}));
        required.push("message");
    }
    for (name, ty) in fields {
        let schema = match *ty {
            "s" | "s?" => json!({"type": "string", "maxLength": 1024}),
            t => match t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                Some(item) => {
                    json!({"type": "array", "maxItems": 9999, "items": sref(&format!("Mig{item}"))})
                }
                None => sref(&format!("Mig{t}")),
            },
        };
        props.insert((*name).to_string(), schema);
        if !ty.ends_with('?') {
            required.push(name);
        }
    }
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": props})
}

/// The first invoice `einvoice up` generates (period 114/11-12), as the example.
fn demo_message() -> Value {
    use crate::demo::{InvoiceGen, Plan, sellers};
    let Some(period) = einvoice_core::Period::new(114, 12) else {
        return Value::Null;
    };
    let plan = Plan {
        period,
        sellers: 1,
        invoices: 1,
        seed: 1,
    };
    match sellers(&plan) {
        Ok(list) => {
            InvoiceGen::new(plan, list, period.last_day())
                .invoice(0)
                .json
        }
        Err(_) => Value::Null,
    }
}

fn message_schemas(schemas: &mut Map<String, Value>) {
    for (name, fields) in MIG_STRUCTS {
        schemas.insert(format!("Mig{name}"), mig_schema(fields, None));
    }
    let mut variants = Vec::new();
    let mut mapping = Map::new();
    for (kind, structure, what) in SELLER_MESSAGES {
        let fields = MIG_STRUCTS
            .iter()
            .find(|(n, _)| n == structure)
            .map_or(&[][..], |(_, f)| *f);
        let mut v = mig_schema(fields, Some(kind));
        if let Value::Object(m) = &mut v {
            m.insert("description".into(), json!(format!("{kind}: {what}")));
        }
        schemas.insert(format!("Message{kind}"), v);
        variants.push(sref(&format!("Message{kind}")));
        mapping.insert(
            (*kind).to_string(),
            json!(format!("#/components/schemas/Message{kind}")),
        );
    }
    schemas.insert(
        "Message".into(),
        json!({
            "description": "A MIG 4.1 message in its JSON form: `message` names the kind, the other keys are the MIG element names; every value is a string (amounts too, as in the XML). Surrounding whitespace is trimmed. The MOF rules (checksums, amounts, dates, tracks) are checked after decoding and answered with 422.",
            "oneOf": variants,
            "discriminator": {"propertyName": "message", "mapping": mapping},
            "example": demo_message(),
        }),
    );
}

fn schemas() -> Value {
    let mut schemas = json!({
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem document (application/problem+json); `code` is stable and names the rule",
            "required": ["type", "title", "status", "code", "detail"],
            "properties": {
                "type": {"type": "string", "description": "urn:einvoice:problem:<CODE>"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$", "description": "stable code of the (first) rule broken"},
                "detail": {"type": "string", "description": "what to do about it"},
                "errors": {"type": "array", "description": "every rule broken (validation reports all of them)", "items": {
                    "type": "object", "required": ["code", "field", "message"],
                    "properties": {"code": {"type": "string"}, "field": {"type": "string", "description": "MIG element path, or empty"}, "message": {"type": "string"}}}},
                "retry_after": {"type": "integer", "minimum": 1, "description": "seconds; also sent as Retry-After"},
                "original": {"description": "the receipt of the message holding the natural key (409)"},
                "correlation_id": {"type": "string", "description": "5xx: the id under which the cause was logged (also X-Correlation-Id)"},
                "main_url": {"type": "string", "description": "421 MAIN_ONLY: the main site"},
                "location": {"type": "string", "description": "421 MAIN_ONLY: this request's path and query at the main site (also the Location header)"}
            },
            "example": {"type": "urn:einvoice:problem:UBN_CHECKSUM", "title": "Unprocessable Entity", "status": 422, "code": "UBN_CHECKSUM", "detail": "1 rule(s) failed",
                "errors": [{"code": "UBN_CHECKSUM", "field": "Main.Seller.Identifier", "message": "UBN 12345678 fails the checksum"}]}
        },
        "Ubn": {"type": "string", "pattern": "^[0-9]{8}$", "format": "tw-ubn", "example": "12345670",
            "description": "統一編號 (UBN, MIG `Identifier`): 8 digits passing the MOF weighted checksum (divisible by 5; 7th digit 7 also +1). A well-shaped UBN failing the checksum answers UBN_CHECKSUM."},
        "InvoiceNumber": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{8}$", "example": "AB12345678", "description": "發票號碼 (MIG `InvoiceNumber`): track (2 capital letters) and 8 digits"},
        "Period": {"type": "string", "pattern": "^(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})(02|04|06|08|10|12)$", "example": "11412",
            "description": "期別 (MIG `InvoicePeriod`-style YYYMM): ROC year (3 digits, from 001) and the period's even closing month"},
        "RandomNumber": {"type": "string", "pattern": "^[0-9]{4}$", "example": "1234", "description": "隨機碼 (MIG `RandomNumber`): 4 digits"},
        "Date": {"type": "string", "pattern": "^(191[2-9]|19[2-9][0-9]|[2-9][0-9]{3})((0[13578]|1[02])(0[1-9]|[12][0-9]|3[01])|(0[469]|11)(0[1-9]|[12][0-9]|30)|02(0[1-9]|1[0-9]|2[0-9]))$", "example": "20251201", "description": "yyyyMMdd (MIG `InvoiceDate`)"},
        "Money": {"type": "integer", "description": "NT$ (whole dollars, tax included unless named otherwise)"},
        "CarrierType": {"type": "string", "pattern": "^(3J0002|CQ0001|1K0001|1H0001|2G0001|5G0001|E[JKG][A-Z0-9]{4})$", "example": "3J0002",
            "description": "載具類別 (MIG `CarrierType`): 3J0002 mobile barcode, CQ0001 citizen digital certificate, or a configured type (defaults: 1K0001, 1H0001, 2G0001, 5G0001 and EJ/EK/EG-prefixed)"},
        "CarrierId": {"type": "string", "minLength": 1, "maxLength": 64, "example": "/ABC+123",
            "description": "載具號碼 (MIG `CarrierId1`): for 3J0002 `/` and 7 of [0-9A-Z.+-] (^/[0-9A-Z.+-]{7}$), for CQ0001 2 capital letters and 14 digits, otherwise 1 to 64 visible characters"},
        "CarrierRef": {"type": "object", "required": ["type", "id"], "properties": {"type": {"type": "string"}, "id": {"type": "string"}}},
        "Role": {"enum": ["operator", "auditor", "soc"], "description": "operator: runs the platform; auditor: read-only audit trail; soc: security operations console"},
        "InvoiceStatus": {"enum": ["issued", "cancelled", "voided", "pending"]},
        "Token": {"type": "object", "required": ["token", "expires_unix"], "properties": {"token": {"type": "string"}, "expires_unix": {"type": "integer"}}},
        "BankAccount": {"type": "object", "required": ["bank_code", "account_number", "updated_unix"], "properties": {
            "bank_code": {"type": "string", "pattern": "^[0-9]{3}$"}, "account_number": {"type": "string", "description": "masked: ***1234"}, "updated_unix": {"type": "integer"}}},
        "Receipt": {"type": "object", "description": "the ledger entry that holds the message", "required": ["origin", "seq", "hash", "hlc", "kind", "key", "duplicate"], "properties": {
            "origin": {"type": "string"}, "seq": {"type": "integer", "minimum": 1}, "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "hlc": {"type": "integer"},
            "kind": {"type": "string"}, "key": {"type": "string"}, "duplicate": {"type": "boolean"}}},
        "LedgerEntry": {"type": "object", "required": ["origin", "seq", "hlc", "kind", "key", "actor", "body", "prev_hash", "hash"], "properties": {
            "origin": {"type": "string"}, "seq": {"type": "integer"}, "hlc": {"type": "integer"}, "kind": {"type": "string"}, "key": {"type": "string"}, "actor": {"type": "string"},
            "body": {"type": "string", "pattern": "^([0-9a-f]{2})*$", "description": "canonical body bytes, hex"}, "prev_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "body_digest": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "ledger v2: the SHA-256 of the body the entry hash covers"},
            "withheld": {"type": "boolean", "description": "ledger v2: the body is withheld (empty) and only its digest is kept"}}},
        "InvoiceSummary": {"type": "object", "required": ["seller", "number", "period", "date", "time", "buyer", "total", "status"], "properties": {
            "seller": sref("Ubn"), "number": sref("InvoiceNumber"), "period": sref("Period"), "date": {"type": "string"}, "time": {"type": "string"},
            "buyer": {}, "random": {"oneOf": [sref("RandomNumber"), {"type": "null"}]}, "carrier": {}, "donated_to": {"type": ["string", "null"]}, "total": sref("Money"), "status": sref("InvoiceStatus")}},
        "InvoiceView": {"type": "object", "required": ["summary", "message", "allowance_total", "receipt"], "properties": {
            "summary": sref("InvoiceSummary"), "message": {"type": ["object", "null"], "description": "the issuing message in the JSON form"}, "allowance_total": sref("Money"),
            "receipt": {"oneOf": [sref("Receipt"), {"type": "null"}]}}},
        "NumberRange": {"type": "object", "description": "a range of invoice numbers (E0401 allocation or E0402 blank range)", "required": ["seller", "period", "track", "begin", "end"], "properties": {
            "seller": sref("Ubn"), "period": sref("Period"), "track": {"type": "string", "pattern": "^[A-Z]{2}$"}, "begin": {"type": "integer"}, "end": {"type": "integer"}}},
        "Item": {"type": "object", "required": ["description", "quantity", "unit_price", "amount"], "properties": {"description": {}, "quantity": {}, "unit_price": {}, "amount": {}}},
        "CarrierInvoice": {"type": "object", "required": ["carrier", "number", "date", "time", "seller", "total", "status", "items"], "properties": {
            "carrier": sref("CarrierRef"), "number": sref("InvoiceNumber"), "date": {"type": "string"}, "time": {"type": "string"}, "seller": sref("Ubn"), "seller_name": {"type": ["string", "null"]},
            "total": sref("Money"), "status": sref("InvoiceStatus"), "donated_to": {"type": ["string", "null"]}, "allowance_total": sref("Money"), "items": {"type": "array", "items": sref("Item")}}},
        "BatchResult": {"type": "object", "required": ["accepted", "duplicates", "rejected", "results"], "properties": {
            "accepted": {"type": "integer"}, "duplicates": {"type": "integer"}, "rejected": {"type": "integer"},
            "results": {"type": "array", "items": {"type": "object", "required": ["index", "status"], "properties": {
                "index": {"type": "integer"}, "status": {"enum": ["accepted", "duplicate", "rejected"]}, "receipt": sref("Receipt"), "problem": sref("Problem")}}}}},
        "WinningNumbers": {"type": "object", "required": ["period", "version", "numbers", "entered_by", "status"], "properties": {
            "period": sref("Period"), "version": {"type": "integer"}, "numbers": {"type": "object"}, "entered_by": {"type": "string"},
            "approved_by": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]}, "entered_from": {"type": ["string", "null"], "description": "the client address the version was entered from"},
            "numbers_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "what the approver sends as expected_sha256"}, "status": {"enum": ["draft", "published"]}}},
        "OperatorName": {"type": "string", "pattern": "^[a-z0-9._-]{1,32}$", "example": "alice", "description": "an operator account: 1 to 32 of a-z 0-9 . _ -"},
        "KeyId": {"type": "string", "minLength": 1, "maxLength": 128, "description": "an API key id (POST /v1/ops/keys)"},
        "AppId": {"type": "string", "minLength": 1, "maxLength": 64, "description": "an App API appID (POST /v1/ops/apps)"},
        "LoveCode": {"type": "string", "pattern": "^[0-9]{3,7}$", "example": "919", "description": "愛心碼 (MIG `NPOBAN`): 3 to 7 digits"},
        "Npo": {"type": "object", "required": ["love_code", "name", "ubn"], "properties": {"love_code": sref("LoveCode"), "name": {"type": "string"}, "ubn": sref("Ubn")}},
        "OriginHead": {"type": "object", "required": ["origin", "seq", "hash", "hlc"], "properties": {"origin": {"type": "string"}, "seq": {"type": "integer", "minimum": 0}, "hash": {"type": "string"}, "hlc": {"type": "integer"}}},
        "SyncHalt": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "seq": {"type": ["integer", "null"]}}},
        "MofAnswer": {"type": "object", "description": "MOF's answer: `v`, `code`, `msg` and the action's fields", "required": ["v", "code", "msg"], "properties": {
            "v": {"type": "string"}, "code": {"type": ["string", "integer"], "description": "\"200\" (QryWinningList) or 200 on success; 901-998 otherwise (see the operation)"}, "msg": {"type": "string"}}}
    });
    if let Value::Object(m) = &mut schemas {
        message_schemas(m);
    }
    schemas
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in ROUTES {
        let entry = paths
            .entry(r.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(r.method.to_string(), operation(r));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "einvoice",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Cloud e-invoice platform (Taiwan MOF MIG 4.1). Errors are RFC 9457 problem documents (`application/problem+json`) carrying stable codes: \
    400 means the request's shape is wrong (the schema says it), 422 that a well-shaped request breaks a MOF rule the schema cannot express (checksums, MIG cross-field rules: the operation lists the codes). \
    Interactive reference: /docs."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "signedRequest": {"type": "apiKey", "in": "header", "name": "X-Einvoice-Signature", "description": signing_recipe()},
                "carrierToken": {"type": "http", "scheme": "bearer", "description": "Carrier (載具) token: POST /v1/carrier/login with carrier_type, carrier_id and verification_code answers {token, expires_unix}; send `Authorization: Bearer <token>`. Failures: 401 AUTH_MISSING, TOKEN_INVALID, TOKEN_EXPIRED."},
                "operatorSession": {"type": "http", "scheme": "bearer", "description": "Operator session: POST /v1/ops/login with name, password and the current TOTP code answers {token, expires_unix, roles}; send `Authorization: Bearer <token>`; POST /v1/ops/logout ends it. Failures: 401 AUTH_REQUIRED, SESSION_EXPIRED; 403 ROLE_FORBIDDEN."},
                "appId": {"type": "apiKey", "in": "query", "name": "appID", "description": "MOF App API application id (POST /v1/ops/apps), as a form or query parameter. Optional `signature` parameter: Base64 (standard alphabet) of HMAC (the app's alg: HmacSHA256 or HmacSHA1) keyed with the app's API key over every other parameter sorted by name, joined as name=value&… with decoded values; verified when present, required when the site sets require_signature (MOF code 904)."}
            },
            "schemas": schemas()
        }
    })
}

/// The document as pretty JSON bytes with a final newline (what `openapi.json` holds).
pub fn document_bytes() -> Vec<u8> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES
        .get_or_init(|| {
            let mut b = serde_json::to_vec_pretty(&document()).unwrap_or_default();
            b.push(b'\n');
            b
        })
        .clone()
}
