//! `POST /v1/uploads`: a ZIP of MIG 4.1 XML files, the way turnkey systems
//! send files, scanned by ClamAV before anything in it is decoded.
//!
//! 1. The request is signed like every seller request ([`crate::sign`]).
//! 2. The whole upload goes to clamd (`zINSTREAM`, [`clamd`]). No scanner
//!    configured, or clamd unreachable: `503 SCANNER_NOT_CONFIGURED` /
//!    `503 SCANNER_UNAVAILABLE`, nothing accepted. A signature found:
//!    `422 UPLOAD_INFECTED` naming it, and a security log line (the actor and
//!    the verdict, never the content).
//! 3. A clean upload is read under the archive limits ([`read_archive`]):
//!    a zip bomb, too many entries, folders, unsafe names or non-XML files
//!    refuse the whole upload with their code.
//! 4. Each file then takes the batch path of `POST /v1/batches`
//!    (decode, validate, the key's sellers, one append): the answer lists
//!    each file's receipt or problem. Sending the same archive again is
//!    safe: what was accepted answers as a duplicate.

// A `Problem` is built at most once per request and goes straight to the client.
#![allow(clippy::result_large_err)]

mod archive;
pub mod clamd;

pub use archive::{
    ArchiveFile, ArchiveLimits, MAX_NAME_BYTES, RATIO_GRACE_BYTES, UploadError, read_archive,
};

use crate::problem::{Problem, ProblemError};
use crate::seller::{BatchResult, json_response, prepare, settle};
use crate::seller_auth::Signed;
use crate::state::SiteState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use clamd::{Clamd, ScanError, Verdict};
use einvoice_mig::Format;
use einvoice_store::Store;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// `[uploads]` of the configuration file: the size of an upload and what
/// its archive may hold.
///
/// ```toml
/// [uploads]
/// max_upload_bytes = 16777216   # the ZIP itself (413 BODY_TOO_LARGE above); keep it
///                               # below clamd's StreamMaxLength
/// max_entries = 1000            # files per archive (UPLOAD_TOO_MANY_ENTRIES)
/// max_entry_bytes = 8388608     # one file uncompressed (UPLOAD_ENTRY_TOO_LARGE)
/// max_total_bytes = 67108864    # all files uncompressed (UPLOAD_TOO_LARGE)
/// max_ratio = 200               # uncompressed / compressed per file (UPLOAD_ZIP_BOMB)
/// max_in_flight = 4             # uploads handled at once; more: 503 UPLOADS_BUSY
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadLimits {
    /// Largest upload (the ZIP as sent), bytes.
    pub max_upload_bytes: usize,
    /// [`ArchiveLimits::max_entries`].
    pub max_entries: usize,
    /// [`ArchiveLimits::max_entry_bytes`].
    pub max_entry_bytes: u64,
    /// [`ArchiveLimits::max_total_bytes`].
    pub max_total_bytes: u64,
    /// [`ArchiveLimits::max_ratio`].
    pub max_ratio: u64,
    /// Uploads handled at once (read, scanned, inflated, decoded) on this
    /// node; one more is refused before its body is read with `503
    /// UPLOADS_BUSY` and Retry-After ([`UPLOADS_BUSY_RETRY_SECS`]). At least 1.
    pub max_in_flight: usize,
}

/// Seconds a client refused with `UPLOADS_BUSY` is asked to wait.
pub const UPLOADS_BUSY_RETRY_SECS: u64 = 5;

impl Default for UploadLimits {
    fn default() -> Self {
        let a = ArchiveLimits::default();
        Self {
            max_upload_bytes: 16 * 1024 * 1024,
            max_entries: a.max_entries,
            max_entry_bytes: a.max_entry_bytes,
            max_total_bytes: a.max_total_bytes,
            max_ratio: a.max_ratio,
            max_in_flight: 4,
        }
    }
}

impl UploadLimits {
    /// The archive part of the limits.
    pub fn archive(&self) -> ArchiveLimits {
        ArchiveLimits {
            max_entries: self.max_entries,
            max_entry_bytes: self.max_entry_bytes,
            max_total_bytes: self.max_total_bytes,
            max_ratio: self.max_ratio,
        }
    }
}

/// The upload route's settings: the scanner and the limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadOptions {
    /// The clamd that scans uploads; without one, uploads answer `503`.
    pub scanner: Option<Clamd>,
    /// Upload and archive limits.
    pub limits: UploadLimits,
}

pub(crate) fn routes<S: Store>(st: Arc<SiteState<S>>) -> Router {
    let max = st.opts.uploads.limits.max_upload_bytes;
    let slots = Slots {
        free: Arc::new(Semaphore::new(st.opts.uploads.limits.max_in_flight.max(1))),
        events: st.opts.soc.clone(),
    };
    Router::new()
        .route(
            "/v1/uploads",
            post(upload::<S>)
                .layer(DefaultBodyLimit::max(max))
                .layer(axum::middleware::from_fn_with_state(slots, in_flight_cap)),
        )
        .with_state(st)
}

/// The uploads this node may still take, and where a refusal is reported.
#[derive(Clone)]
struct Slots {
    free: Arc<Semaphore>,
    events: crate::soc::SecurityEvents,
}

/// At most `max_in_flight` uploads at once: one more is refused with `503
/// UPLOADS_BUSY` (Retry-After) before its body is read, and reported to the
/// SOC as shed. The slot is held until the answer is built.
async fn in_flight_cap(
    State(slots): State<Slots>,
    client: crate::rate_limit::ClientAddr,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::response::IntoResponse;
    let Ok(_slot) = slots.free.try_acquire_owned() else {
        slots.events.shed("uploads", &client.0);
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UPLOADS_BUSY",
            "this site is handling as many uploads as it takes at once: nothing was accepted; retry later",
        )
        .public_detail()
        .retry_after(UPLOADS_BUSY_RETRY_SECS)
        .into_response();
    };
    next.run(req).await
}

/// One file's result in an upload answer.
#[derive(Serialize)]
struct FileResult {
    /// The file's name in the archive.
    file: String,
    #[serde(flatten)]
    result: BatchResult,
}

fn is_zip(headers: &HeaderMap) -> bool {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case("application/zip")
        || mime.eq_ignore_ascii_case("application/x-zip-compressed")
}

fn scan_problem(e: &ScanError) -> Problem {
    match e {
        ScanError::TooLarge => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "UPLOAD_TOO_LARGE",
            "the upload is larger than the virus scanner accepts: split it",
        ),
        ScanError::Unavailable { .. } | ScanError::Answer(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SCANNER_UNAVAILABLE",
            "the virus scanner is unavailable: nothing was accepted; retry later",
        )
        .public_detail()
        .retry_after(30),
    }
}

fn archive_problem(e: &UploadError) -> Problem {
    let status = match e {
        UploadError::NotZip(_) | UploadError::Corrupt { .. } => StatusCode::BAD_REQUEST,
        e if e.is_size() => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Problem::new(
        status,
        e.code(),
        format!("{e}: nothing in the upload was accepted"),
    )
}

async fn upload<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    client: crate::rate_limit::ClientAddr,
    headers: HeaderMap,
    Signed { caller, body }: Signed,
) -> Result<Response, Problem> {
    if !is_zip(&headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "CONTENT_TYPE",
            "an upload is a ZIP archive: send Content-Type: application/zip",
        ));
    }
    let Some(scanner) = &st.opts.uploads.scanner else {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SCANNER_NOT_CONFIGURED",
            "this site has no virus scanner configured ([scanner] clamd): uploads are refused",
        )
        .public_detail());
    };
    let actor = caller.actor();
    let verdict = scanner.scan(&body).await;
    let report = |v: &str, sig: Option<&str>| {
        (st.opts.soc).scanner_verdict(&caller.key_id, &client.0, v, sig);
    };
    match &verdict {
        Ok(Verdict::Clean) => {
            tracing::info!(target: "einvoice::security", %actor, verdict = "clean", bytes = body.len(), "upload scanned");
            report("clean", None);
        }
        Ok(Verdict::Infected(sig)) => {
            tracing::warn!(target: "einvoice::security", %actor, verdict = "infected", signature = %sig, bytes = body.len(), "upload refused");
            report("infected", Some(sig));
            // The site's log is stderr until a tracing subscriber is installed.
            eprintln!(
                "einvoice: security: upload refused: actor={actor} verdict=infected signature={sig:?} bytes={}",
                body.len()
            );
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UPLOAD_INFECTED",
                format!("the virus scanner found {sig} in the upload: nothing was accepted"),
            );
            p.errors = vec![ProblemError {
                code: "UPLOAD_INFECTED".into(),
                field: "signature".into(),
                message: sig.clone(),
            }];
            return Err(p);
        }
        Err(e) => {
            tracing::warn!(target: "einvoice::security", %actor, verdict = "none", error = %e, "upload not scanned");
            report("none", None);
            eprintln!("einvoice: security: upload refused: actor={actor} verdict=none ({e})");
            return Err(scan_problem(e));
        }
    }
    // Inflating and decoding are CPU work: off the reactor, in one blocking task.
    let limits = st.opts.uploads.limits.archive();
    let site = st.clone();
    let (names, prepared) = tokio::task::spawn_blocking(move || {
        read_archive(&body, &limits).map(|files| {
            files
                .into_iter()
                .map(|f| {
                    let p = prepare(&site, &f.bytes, Format::Xml);
                    (f.name, p)
                })
                .unzip::<_, _, Vec<String>, Vec<_>>()
        })
    })
    .await
    .map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            format!("archive reader: {e}"),
        )
    })?
    .map_err(|e| archive_problem(&e))?;
    let results = settle(&st, &caller, prepared).await?;
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    let (accepted, duplicates, rejected) =
        (count("accepted"), count("duplicate"), count("rejected"));
    let files: Vec<FileResult> = results
        .into_iter()
        .map(|result| FileResult {
            file: names.get(result.index).cloned().unwrap_or_default(),
            result,
        })
        .collect();
    let answer = serde_json::json!({
        "scan": "clean",
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": rejected,
        "files": files,
    });
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_vec(&answer).unwrap_or_default(),
    ))
}
