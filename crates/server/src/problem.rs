//! `application/problem+json` (RFC 9457) bodies carrying the core's stable codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use einvoice_core::Violation;
use einvoice_store::StoreError;
use serde::Serialize;

/// One error detail: the rule's code, the field, a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemError {
    /// Stable code.
    pub code: String,
    /// Field path (MIG element names), or empty.
    pub field: String,
    /// Human message.
    pub message: String,
}

impl From<Violation> for ProblemError {
    fn from(v: Violation) -> Self {
        Self {
            code: v.code.to_string(),
            field: v.field,
            message: v.message,
        }
    }
}

/// An RFC 9457 problem document. `code` is the first (or only) error's code.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A URI naming the problem type: `urn:einvoice:problem:<CODE>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable code of the problem.
    pub code: String,
    /// Human detail.
    pub detail: String,
    /// Every error found (validation reports all of them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemError>,
    /// Seconds to wait before retrying (also sent as `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with one code.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("urn:einvoice:problem:{code}"),
            title: status.canonical_reason().unwrap_or("error").to_string(),
            status: status.as_u16(),
            code: code.to_string(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// A 422 listing every violation; the first one's code names the problem.
    pub fn violations(vs: Vec<Violation>) -> Self {
        let errors: Vec<ProblemError> = vs.into_iter().map(ProblemError::from).collect();
        let code = errors
            .first()
            .map(|e| e.code.clone())
            .unwrap_or_else(|| "VALIDATION_FAILED".to_string());
        let mut p = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            &code,
            format!("{} rule(s) failed", errors.len()),
        );
        p.errors = errors;
        p
    }

    /// Attach a `Retry-After`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

/// A store failure as a problem: 503 + `Retry-After` when the store is
/// unavailable, 500 otherwise; the store's code names it.
pub fn store_problem(e: StoreError) -> Problem {
    let detail = e.to_string();
    match e {
        StoreError::Unavailable(_) => {
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), detail).retry_after(5)
        }
        _ => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.code(), detail),
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(v) = retry.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
