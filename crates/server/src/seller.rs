//! The seller and integrator API: submit messages, read invoices, tracks and blanks.
//!
//! | route | does |
//! | --- | --- |
//! | `POST /v1/messages` | one message, MIG 4.1 XML (`application/xml`) or JSON (`application/json`); 201 with the receipt (200 for an identical resubmission) |
//! | `POST /v1/batches` | `{"messages": [msg, …]}`, each a JSON message or a string holding MIG XML; 200 with one result per message |
//! | `GET /v1/whoami` | the key id and the sellers it may act for |
//! | `GET /v1/sellers/{ubn}/invoices?period=&after=&limit=` | a period's invoices, ordered by number, paged |
//! | `GET /v1/sellers/{ubn}/invoices/{number}` | one invoice's resolved view |
//! | `GET /v1/sellers/{ubn}/invoices/{number}/history` | its ledger entries |
//! | `GET /v1/sellers/{ubn}/tracks?period=` | allocated track ranges (E0401) |
//! | `GET /v1/sellers/{ubn}/blanks?period=` | unused numbers (the E0402 content) |
//!
//! Every request is signed ([`crate::sign`]) and checked by the `Signed`
//! extractor (`seller_auth.rs`) before a handler runs. A key acts only for the sellers
//! it was granted: the store enforces the scope on every read and write
//! ([`einvoice_store::Scope`]), and these handlers refuse a foreign seller up
//! front with `403 TENANT_SCOPE` (a foreign invoice is `404`, never revealed).
//!
//! Track allocations (E0401, E0501) are an operator's act (`/v1/ops/tracks`):
//! sellers may not submit them (`403 KIND_FORBIDDEN`).
//!
//! A batch is not all-or-nothing: each message is validated and appended on
//! its own, and the answer lists each one's receipt or problem. Retrying a
//! whole batch is always safe: what was accepted answers as a duplicate.

// A `Problem` is built at most once per request and goes straight to the client.
#![allow(clippy::result_large_err)]

use crate::problem::{Problem, ProblemError, store_problem};
use crate::seller_auth::{Caller, Signed};
use crate::state::SiteState;
use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use einvoice_core::model::MessageKind;
use einvoice_core::{Facts, InvoiceNumber, Period, Ubn, Validated, validate};
use einvoice_mig::{DecodeError, Format};
use einvoice_store::{AppendOutcome, Rejection, Store};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) fn routes<S: Store>(st: Arc<SiteState<S>>) -> Router {
    let mut r = Router::new()
        .route("/v1/messages", post(submit::<S>))
        .route("/v1/batches", post(batch::<S>))
        .route("/v1/whoami", get(whoami))
        .route("/v1/sellers/{ubn}/invoices", get(list::<S>))
        .route("/v1/sellers/{ubn}/invoices/{number}", get(invoice::<S>))
        .route(
            "/v1/sellers/{ubn}/invoices/{number}/history",
            get(history::<S>),
        )
        .route("/v1/sellers/{ubn}/tracks", get(tracks::<S>))
        .route("/v1/sellers/{ubn}/blanks", get(blanks::<S>));
    if st.opts.noop_route {
        r = r.route("/v1/noop", post(noop));
    }
    r.with_state(st)
}

/// The wire format named by the content type.
fn format_of(headers: &HeaderMap) -> Result<Format, Problem> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = ct.split(';').map(str::trim);
    let mime = parts.next().unwrap_or("").to_ascii_lowercase();
    for p in parts {
        if let Some((k, v)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("charset")
            && !v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "CONTENT_TYPE",
                format!("charset {} is not accepted: send UTF-8", v.trim()),
            ));
        }
    }
    match mime.as_str() {
        "application/json" => Ok(Format::Json),
        "application/xml" | "text/xml" => Ok(Format::Xml),
        _ => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "CONTENT_TYPE",
            format!(
                "content type {ct:?} is not accepted: send application/xml (MIG 4.1) or application/json"
            ),
        )),
    }
}

fn decode_problem(e: DecodeError) -> Problem {
    let mut p = Problem::new(StatusCode::BAD_REQUEST, e.code, e.message.clone());
    p.errors = vec![ProblemError {
        code: e.code.to_string(),
        field: e.field,
        message: e.message,
    }];
    p
}

fn item_count(v: &Validated) -> usize {
    match &v.facts {
        Facts::Invoice(f) => f.items.len(),
        Facts::Allowance(f) => f.items.len(),
        _ => 0,
    }
}

/// Decode, validate and check the message against the seller-side limits.
pub(crate) fn prepare<S>(
    st: &SiteState<S>,
    bytes: &[u8],
    format: Format,
) -> Result<Validated, Problem> {
    let msg = einvoice_mig::decode(bytes, format).map_err(decode_problem)?;
    if matches!(msg.kind(), MessageKind::E0401 | MessageKind::E0501) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "KIND_FORBIDDEN",
            format!(
                "{} allocates tracks: that is an operator's act (einvoice admin tracks allocate)",
                msg.kind()
            ),
        ));
    }
    let v = validate(&msg, &st.opts.rules).map_err(|vs| Problem::violations(vs.0))?;
    let n = item_count(&v);
    if n > st.opts.limits.max_items {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "TOO_MANY_ITEMS",
            format!(
                "{n} items: this site accepts at most {} per message",
                st.opts.limits.max_items
            ),
        ));
    }
    Ok(v)
}

fn rejection_status(code: &str) -> StatusCode {
    match code {
        "DUPLICATE_CONFLICT" | "TRACK_OVERLAP" => StatusCode::CONFLICT,
        "TENANT_SCOPE" => StatusCode::FORBIDDEN,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// A store rejection as a problem; `original` names the conflicting entry.
#[derive(Serialize)]
struct RejectionProblem {
    #[serde(flatten)]
    problem: Problem,
    #[serde(skip_serializing_if = "Option::is_none")]
    original: Option<einvoice_store::Receipt>,
}

fn rejection_problem(r: Rejection) -> RejectionProblem {
    let mut p = Problem::new(rejection_status(r.code), r.code, r.message.clone());
    p.errors = vec![ProblemError {
        code: r.code.to_string(),
        field: r.field.clone(),
        message: r.message.clone(),
    }];
    RejectionProblem {
        problem: p,
        original: r.original,
    }
}

fn rejection_response(r: Rejection) -> Response {
    let rp = rejection_problem(r);
    let status = StatusCode::from_u16(rp.problem.status).unwrap_or(StatusCode::CONFLICT);
    let mut resp = json_response(status, serde_json::to_vec(&rp).unwrap_or_default());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/problem+json"),
    );
    resp
}

async fn submit<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    headers: HeaderMap,
    Signed { caller, body }: Signed,
) -> Result<Response, Problem> {
    let format = format_of(&headers)?;
    let v = prepare(&st, &body, format)?;
    caller.require(&v.seller())?;
    crate::soc_holds::refuse_frozen(&st.store, &v.seller()).await?;
    let mut out = st
        .store
        .append(&caller.scope, &caller.actor(), vec![v])
        .await
        .map_err(store_problem)?;
    match out.pop() {
        Some(Ok(receipt)) => {
            let status = if receipt.duplicate {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            count_outcome(&Ok(receipt.clone()));
            Ok(json_response(
                status,
                serde_json::to_vec(&receipt).unwrap_or_default(),
            ))
        }
        Some(Err(r)) => {
            count_outcome(&Err(r.clone()));
            Ok(rejection_response(r))
        }
        None => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "the store answered no outcome",
        )),
    }
}

fn count_outcome(o: &AppendOutcome) {
    let label = match o {
        Ok(r) if r.duplicate => "duplicate",
        Ok(_) => "accepted",
        Err(_) => "rejected",
    };
    metrics::counter!("einvoice_messages_total", "outcome" => label).increment(1);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody<'a> {
    #[serde(borrow)]
    messages: Vec<&'a RawValue>,
}

/// One message's result in a batch answer.
#[derive(Serialize)]
pub(crate) struct BatchResult {
    /// Its position in the batch.
    pub(crate) index: usize,
    /// `accepted`, `duplicate` or `rejected`.
    pub(crate) status: &'static str,
    /// The receipt, unless rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) receipt: Option<einvoice_store::Receipt>,
    /// The problem document, when rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) problem: Option<Value>,
}

async fn batch<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    headers: HeaderMap,
    Signed { caller, body }: Signed,
) -> Result<Response, Problem> {
    if format_of(&headers)? != Format::Json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "CONTENT_TYPE",
            "a batch is JSON: {\"messages\": [...]} (XML documents go in as strings)",
        ));
    }
    let b: BatchBody = crate::json_body::object(&body).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "BATCH_INVALID",
            format!("the batch must be {{\"messages\": [...]}}: {e}"),
        )
    })?;
    let max = st.opts.limits.max_batch;
    if b.messages.len() > max {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "BATCH_TOO_LARGE",
            format!(
                "{} messages: at most {max} per batch; split it",
                b.messages.len()
            ),
        ));
    }
    let prepared = b
        .messages
        .iter()
        .map(|raw| {
            let text = raw.get();
            if text.starts_with('"') {
                match serde_json::from_str::<String>(text) {
                    Ok(xml) => prepare(&st, xml.as_bytes(), Format::Xml),
                    Err(e) => Err(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "BATCH_INVALID",
                        e.to_string(),
                    )),
                }
            } else {
                prepare(&st, text.as_bytes(), Format::Json)
            }
        })
        .collect();
    let results = settle(&st, &caller, prepared).await?;
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    let answer = json!({
        "accepted": count("accepted"),
        "duplicates": count("duplicate"),
        "rejected": count("rejected"),
        "results": results,
    });
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_vec(&answer).unwrap_or_default(),
    ))
}

/// The batch path: check each prepared message's seller against the key,
/// append the valid ones in one store call (idempotent: what was accepted
/// before answers as a duplicate), and answer one result per message, in order.
pub(crate) async fn settle<S: Store>(
    st: &SiteState<S>,
    caller: &Caller,
    prepared: Vec<Result<Validated, Problem>>,
) -> Result<Vec<BatchResult>, Problem> {
    let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(prepared.len());
    let mut accepted: Vec<(usize, Validated)> = Vec::new();
    // Whether each seller is frozen, read once per batch.
    let mut frozen: std::collections::HashMap<Ubn, Result<(), Problem>> =
        std::collections::HashMap::new();
    for (index, prepared) in prepared.into_iter().enumerate() {
        let prepared = match prepared.and_then(|v| caller.require(&v.seller()).map(|()| v)) {
            Ok(v) => {
                let seller = v.seller();
                let answer = match frozen.entry(seller) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(crate::soc_holds::refuse_frozen(&st.store, &seller).await)
                    }
                };
                match answer {
                    Err(p) => Err(p.clone()),
                    Ok(()) => Ok(v),
                }
            }
            Err(p) => Err(p),
        };
        match prepared {
            Ok(v) => {
                results.push(None);
                accepted.push((index, v));
            }
            Err(p) => results.push(Some(BatchResult {
                index,
                status: "rejected",
                receipt: None,
                problem: serde_json::to_value(&p).ok(),
            })),
        }
    }
    let (indexes, valid): (Vec<usize>, Vec<Validated>) = accepted.into_iter().unzip();
    let outcomes = if valid.is_empty() {
        Vec::new()
    } else {
        st.store
            .append(&caller.scope, &caller.actor(), valid)
            .await
            .map_err(store_problem)?
    };
    for (index, outcome) in indexes.into_iter().zip(outcomes) {
        count_outcome(&outcome);
        results[index] = Some(match outcome {
            Ok(receipt) => BatchResult {
                index,
                status: if receipt.duplicate {
                    "duplicate"
                } else {
                    "accepted"
                },
                receipt: Some(receipt),
                problem: None,
            },
            Err(r) => BatchResult {
                index,
                status: "rejected",
                receipt: None,
                problem: serde_json::to_value(rejection_problem(r)).ok(),
            },
        });
    }
    Ok(results.into_iter().flatten().collect())
}

async fn whoami(Signed { caller: c, .. }: Signed) -> Result<Response, Problem> {
    let sellers: Vec<&str> = c.sellers.iter().map(Ubn::as_str).collect();
    Ok(axum::Json(json!({"key_id": c.key_id, "sellers": sellers})).into_response())
}

fn parse_ubn(s: &str) -> Result<Ubn, Problem> {
    Ubn::parse(s).map_err(|v| {
        let mut p = Problem::new(StatusCode::BAD_REQUEST, v.code, v.message.clone());
        p.errors = vec![ProblemError {
            code: v.code.to_string(),
            field: "ubn".into(),
            message: v.message,
        }];
        p
    })
}

/// The seller of the path, if the caller's key may act for it (`403 TENANT_SCOPE` if not).
fn seller_in_scope(c: &Caller, ubn: &str) -> Result<Ubn, Problem> {
    let seller = parse_ubn(ubn)?;
    c.require(&seller)?;
    Ok(seller)
}

fn parse_number(s: &str) -> Result<InvoiceNumber, Problem> {
    InvoiceNumber::parse(s).map_err(|v| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            v.code,
            format!("number: {}", v.message),
        )
    })
}

fn query<T: serde::de::DeserializeOwned>(uri: &Uri) -> Result<T, Problem> {
    serde_urlencoded::from_str(uri.query().unwrap_or("")).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "QUERY_INVALID",
            format!("query string: {e}"),
        )
    })
}

fn parse_period(s: &str) -> Result<Period, Problem> {
    Period::parse(s).map_err(|v| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            v.code,
            format!("period: {}", v.message),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    period: String,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

async fn list<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    Path(ubn): Path<String>,
    uri: Uri,
    Signed { caller: c, .. }: Signed,
) -> Result<Response, Problem> {
    let seller = seller_in_scope(&c, &ubn)?;
    let q: ListQuery = query(&uri)?;
    let period = parse_period(&q.period)?;
    let after = q.after.as_deref().map(parse_number).transpose()?;
    let max = st.opts.limits.max_page;
    let limit = q.limit.unwrap_or(100.min(max));
    if limit == 0 || limit > max {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "PAGE_TOO_LARGE",
            format!("limit must be 1 to {max}"),
        ));
    }
    let rows = st
        .store
        .list_invoices(&c.scope, seller, period, after, limit)
        .await
        .map_err(store_problem)?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.number.to_string()))
        .flatten();
    Ok(axum::Json(json!({"invoices": rows, "next": next})).into_response())
}

async fn invoice<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    Path((ubn, number)): Path<(String, String)>,
    Signed { caller: c, .. }: Signed,
) -> Result<Response, Problem> {
    let seller = seller_in_scope(&c, &ubn)?;
    let number = parse_number(&number)?;
    match st
        .store
        .invoice(&c.scope, seller, number)
        .await
        .map_err(store_problem)?
    {
        Some(v) => Ok(axum::Json(v).into_response()),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "INVOICE_NOT_FOUND",
            format!("seller {seller} has no invoice {number}"),
        )),
    }
}

async fn history<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    Path((ubn, number)): Path<(String, String)>,
    Signed { caller: c, .. }: Signed,
) -> Result<Response, Problem> {
    let seller = seller_in_scope(&c, &ubn)?;
    let number = parse_number(&number)?;
    let entries = st
        .store
        .invoice_history(&c.scope, seller, number)
        .await
        .map_err(store_problem)?;
    if entries.is_empty() {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "INVOICE_NOT_FOUND",
            format!("seller {seller} has no entries for {number}"),
        ));
    }
    Ok(axum::Json(json!({"entries": entries})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    period: String,
}

/// The request's `?period=` (tracks, blanks).
fn period_query(uri: &Uri) -> Result<Period, Problem> {
    let q: PeriodQuery = query(uri)?;
    parse_period(&q.period)
}

async fn tracks<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    Path(ubn): Path<String>,
    uri: Uri,
    Signed { caller: c, .. }: Signed,
) -> Result<Response, Problem> {
    let seller = seller_in_scope(&c, &ubn)?;
    let period = period_query(&uri)?;
    let t = st
        .store
        .tracks(&c.scope, seller, period)
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(json!({"tracks": t})).into_response())
}

async fn blanks<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    Path(ubn): Path<String>,
    uri: Uri,
    Signed { caller: c, .. }: Signed,
) -> Result<Response, Problem> {
    let seller = seller_in_scope(&c, &ubn)?;
    let period = period_query(&uri)?;
    let b = st
        .store
        .blanks(&c.scope, seller, period)
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(json!({"blanks": b})).into_response())
}

/// The HTTP ceiling: reads the body and answers 204, nothing else.
async fn noop(body: Bytes) -> StatusCode {
    std::hint::black_box(body.len());
    StatusCode::NO_CONTENT
}

/// A response body of bytes (used by handlers that build bodies themselves).
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, Body::from(body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
