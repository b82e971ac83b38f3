//! `application/problem+json` (RFC 9457) bodies carrying the core's stable codes.
//!
//! A 5xx answer never carries the backend's own error text: the detail is
//! written to the log with a fresh correlation id, and the client gets a
//! generic detail naming that id (also in `correlation_id` and the
//! `X-Correlation-Id` header), unless the detail was marked
//! [`Problem::public_detail`].

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
    /// Id under which a 5xx answer's detail was logged (set when answering).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Whether a 5xx detail may reach the client as written (it holds no
    /// backend text).
    #[serde(skip)]
    pub detail_is_public: bool,
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
            correlation_id: None,
            detail_is_public: false,
        }
    }

    /// Let a 5xx detail reach the client as written (for details this crate
    /// wrote itself, never a backend's error text).
    pub fn public_detail(mut self) -> Self {
        self.detail_is_public = true;
        self
    }

    /// A 5xx with backend text: log the detail under a new correlation id
    /// and keep only a generic detail naming it.
    fn conceal(mut self) -> Self {
        let id = correlation_id();
        eprintln!(
            "einvoice: {} {} [correlation {id}]: {}",
            self.status, self.code, self.detail
        );
        self.detail = format!(
            "internal error ({}); quote correlation id {id} when reporting it",
            self.code
        );
        for e in &mut self.errors {
            e.message = "see correlation id".into();
        }
        self.correlation_id = Some(id);
        self
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

/// A fresh correlation id: 16 hex digits from the OS random source.
pub fn correlation_id() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // No randomness: the time still tells log lines apart.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = (t as u64).to_be_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let this = if self.status >= 500 && !self.detail_is_public && self.correlation_id.is_none()
        {
            self.conceal()
        } else {
            self
        };
        let status = StatusCode::from_u16(this.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = this.retry_after;
        let body = serde_json::to_vec(&this).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(v) = retry.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let Some(v) = this
            .correlation_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            resp.headers_mut().insert("x-correlation-id", v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(resp: Response) -> (axum::http::HeaderMap, serde_json::Value) {
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        (headers, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn a_5xx_answer_hides_backend_text_behind_a_correlation_id() {
        let e = StoreError::Backend("relation ledger_heads: password=hunter2 at 10.0.0.7".into());
        let (headers, body) = body_of(store_problem(e).into_response()).await;
        let text = body.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("10.0.0.7"),
            "{text}"
        );
        let id = body["correlation_id"].as_str().expect("correlation id");
        assert_eq!(id.len(), 16);
        assert!(body["detail"].as_str().is_some_and(|d| d.contains(id)));
        assert_eq!(
            headers
                .get("x-correlation-id")
                .and_then(|v| v.to_str().ok()),
            Some(id)
        );
        // The stable code still names the problem.
        assert_eq!(body["status"], 500);
        assert!(body["code"].as_str().is_some_and(|c| !c.is_empty()));
    }

    #[tokio::test]
    async fn unavailable_store_keeps_retry_after_but_not_its_text() {
        let e = StoreError::Unavailable("connect /run/pg/.s.PGSQL.5432: refused".into());
        let (headers, body) = body_of(store_problem(e).into_response()).await;
        assert_eq!(body["status"], 503);
        assert!(!body.to_string().contains(".s.PGSQL"));
        assert!(headers.get(header::RETRY_AFTER).is_some());
    }

    #[tokio::test]
    async fn client_errors_and_public_5xx_details_are_kept() {
        let (_, body) = body_of(
            Problem::new(StatusCode::BAD_REQUEST, "PAGE_TOO_LARGE", "at most 1000").into_response(),
        )
        .await;
        assert_eq!(body["detail"], "at most 1000");
        assert!(body.get("correlation_id").is_none());
        let (_, body) = body_of(
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "X", "scanner down")
                .public_detail()
                .into_response(),
        )
        .await;
        assert_eq!(body["detail"], "scanner down");
    }
}
