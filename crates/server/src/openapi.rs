//! The OpenAPI 3.1 document of the site, generated from [`ROUTES`] — the one
//! table of every route this crate mounts. `openapi.json` at the repository
//! root is this document; a test fails when the committed file drifts, and
//! another checks every listed route is really mounted.

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
        summary: "Readiness: the store answers (503 + Retry-After otherwise)",
        auth: Auth::Public,
        query: &[],
        body: &[],
        ok: (200, "{status: ready}"),
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
        summary: "The carrier's invoices of a period, with items",
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
        summary: "Register the bank account prizes are deposited to: {bank_code (3 digits), account_number (1 to 16 digits), holder_name}; sealed at rest, answers the masked form",
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
            ("date", false, "invoice date YYYYMMDD"),
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
        summary: "Create an operator (password and TOTP secret shown once)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "{name, roles, password, totp_secret, otpauth_url}"),
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
        summary: "Enter a period's winning numbers (a draft version)",
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
        summary: "Publish a version (a second operator: two-person rule)",
        auth: Auth::OperatorSession,
        query: &[],
        body: JSON,
        ok: (200, "the published version"),
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
];

fn security(auth: Auth) -> Value {
    match auth {
        Auth::Public => json!([]),
        Auth::Signed => json!([{"signedRequest": []}]),
        Auth::CarrierToken => json!([{"carrierToken": []}]),
        Auth::OperatorSession => json!([{"operatorSession": []}]),
        Auth::AppId => json!([{"appId": []}]),
    }
}

fn operation(r: &RouteDoc) -> Value {
    let mut params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(r.query.iter().map(|(name, required, desc)| {
        json!({"name": name, "in": "query", "required": required, "description": desc, "schema": {"type": "string"}})
    }));
    let mut op = Map::new();
    op.insert("tags".into(), json!([r.tag]));
    op.insert("summary".into(), json!(r.summary));
    op.insert(
        "operationId".into(),
        json!(format!("{} {}", r.method, r.path)),
    );
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if !r.body.is_empty() {
        let content: Map<String, Value> = r
            .body
            .iter()
            .map(|m| ((*m).to_string(), json!({"schema": {}})))
            .collect();
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": content}),
        );
    }
    let problem = json!({"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let mut responses = Map::new();
    responses.insert(
        r.ok.0.to_string(),
        json!({"description": r.ok.1, "content": {"application/json": {"schema": {}}}}),
    );
    if r.auth != Auth::AppId {
        let mut p = |code: &str, what: &str| {
            let mut v = problem.clone();
            if let Value::Object(m) = &mut v {
                m.insert("description".into(), json!(what));
            }
            responses.insert(code.into(), v);
        };
        p("400", "malformed request (code names the rule)");
        if r.auth != Auth::Public {
            p("401", "authentication failed (AUTH_* codes)");
        }
        p("413", "body larger than the limit (BODY_TOO_LARGE)");
        p("429", "rate limit (RATE_LIMITED, Retry-After)");
        p("503", "store unavailable (STORE_UNAVAILABLE, Retry-After)");
    }
    op.insert("responses".into(), Value::Object(responses));
    op.insert("security".into(), security(r.auth));
    Value::Object(op)
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
            "description": "Cloud e-invoice platform (Taiwan MOF MIG 4.1). Errors are RFC 9457 problem documents carrying stable codes. Signed requests: X-Einvoice-Key, X-Einvoice-Timestamp (Unix s, ±300), X-Einvoice-Nonce (16-64 of [A-Za-z0-9_-], once per key), X-Einvoice-Signature = hex HMAC-SHA256(secret, \"EINVOICE-HMAC-SHA256\\nMETHOD\\npath?query\\ntimestamp\\nnonce\\nhex(SHA-256(body))\")."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "signedRequest": {"type": "apiKey", "in": "header", "name": "X-Einvoice-Signature", "description": "HMAC-SHA256 request signature with X-Einvoice-Key, X-Einvoice-Timestamp and X-Einvoice-Nonce"},
                "carrierToken": {"type": "http", "scheme": "bearer", "description": "token from POST /v1/carrier/login"},
                "operatorSession": {"type": "http", "scheme": "bearer", "description": "token from POST /v1/ops/login"},
                "appId": {"type": "apiKey", "in": "query", "name": "appID", "description": "MOF App API application id (+ signature parameter)"}
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "code", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "code": {"type": "string", "description": "stable code"},
                        "detail": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "object", "properties": {"code": {"type": "string"}, "field": {"type": "string"}, "message": {"type": "string"}}}},
                        "retry_after": {"type": "integer"}
                    }
                }
            }
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
