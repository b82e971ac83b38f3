//! Site roles (DESIGN.md "Sites"): what a `main`, `cloud` or `standby` site
//! serves, as one table of route classes, and the layer that refuses a
//! request meant for another site.
//!
//! | class | main | cloud | standby |
//! | --- | --- | --- | --- |
//! | [`RouteClass::Anywhere`] (probes, OpenAPI and `/docs`, the sync feed) | serves | serves | serves |
//! | [`RouteClass::Read`] (citizen, public and seller reads) | serves | serves | serves |
//! | [`RouteClass::CitizenWrite`] (citizen and App API calls that write) | serves | serves (own origin) | [`MAIN_ONLY`] |
//! | [`RouteClass::MainOnly`] (issuance, tracks, operators, apps and keys, winning numbers, the draw) | serves | [`MAIN_ONLY`] | [`MAIN_ONLY`] |
//!
//! A refused request gets `421 Misdirected Request` with the problem code
//! [`MAIN_ONLY`]: the request itself is fine, this site is not the one that
//! answers it, and nothing was written. (Not 409: nothing conflicts with the
//! resource's state; not 503: retrying here never helps.) The problem's
//! `location` field and the `Location` header give the same path and query
//! at the configured `main_url`, and `main_url` names the main site.

use crate::problem::Problem;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Problem code of a request for an operation this site's role does not
/// serve (a main-only operation at a cloud or standby site, any write at a
/// standby): HTTP 421, with where to send it.
pub const MAIN_ONLY: &str = "MAIN_ONLY";

/// A site's role in a deployment (`role` in the site configuration,
/// `EINVOICE_ROLE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The main data center, the system of record: issuance (the seller
    /// API), tracks, operators, apps and keys, winning numbers, the draw.
    #[default]
    Main,
    /// A public-cloud site: citizen and app services, the MOF App API,
    /// public lookup, winnings and bank accounts (citizen writes go to its
    /// own origin), sellers reading their own invoices.
    Cloud,
    /// A full copy of every origin and every body, read-only until
    /// promoted (`einvoice site promote`) when the main site is lost.
    Standby,
}

impl Role {
    /// The configuration word (`main`, `cloud`, `standby`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::Cloud => "cloud",
            Role::Standby => "standby",
        }
    }

    /// Parse the configuration word.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "main" => Some(Role::Main),
            "cloud" => Some(Role::Cloud),
            "standby" => Some(Role::Standby),
            _ => None,
        }
    }

    /// Whether a site of this role serves a route of class `c`.
    pub fn serves(self, c: RouteClass) -> bool {
        match (self, c) {
            (Role::Main, _) => true,
            (_, RouteClass::Anywhere | RouteClass::Read) => true,
            (Role::Cloud, RouteClass::CitizenWrite) => true,
            (Role::Cloud | Role::Standby, _) => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which sites serve a route (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// Every site: probes, the OpenAPI document, the sync feed between peers.
    Anywhere,
    /// Reads a cloud site answers from what it holds: citizen queries,
    /// public lookup, winnings, sellers' reads of their own invoices.
    Read,
    /// Citizen and App API calls that may write (logins that record
    /// failures, bank accounts): main and cloud sites, not a standby.
    CitizenWrite,
    /// The system of record's operations: main only.
    MainOnly,
}

/// The route classes: (method or `*`, path template, class). A template's
/// `{name}` segment matches any one segment; a final `*` any rest. First
/// match wins; a request matching no line is left to the router (404/405).
/// A test checks every route of [`crate::openapi::ROUTES`] has a line.
pub const ROUTE_CLASSES: &[(&str, &str, RouteClass)] = &[
    ("get", "/healthz", RouteClass::Anywhere),
    ("get", "/readyz", RouteClass::Anywhere),
    ("get", "/metrics", RouteClass::Anywhere),
    ("get", "/openapi.json", RouteClass::Anywhere),
    ("get", "/docs", RouteClass::Anywhere),
    ("get", "/docs/*", RouteClass::Anywhere),
    ("*", "/v1/sync/*", RouteClass::Anywhere),
    ("post", "/v1/noop", RouteClass::Anywhere),
    // Issuance and the seller's number ranges: the system of record.
    ("post", "/v1/messages", RouteClass::MainOnly),
    ("post", "/v1/batches", RouteClass::MainOnly),
    ("post", "/v1/uploads", RouteClass::MainOnly),
    ("get", "/v1/sellers/{ubn}/tracks", RouteClass::MainOnly),
    ("get", "/v1/sellers/{ubn}/blanks", RouteClass::MainOnly),
    // Sellers reading their own invoices.
    ("get", "/v1/whoami", RouteClass::Read),
    ("get", "/v1/sellers/{ubn}/invoices", RouteClass::Read),
    (
        "get",
        "/v1/sellers/{ubn}/invoices/{number}",
        RouteClass::Read,
    ),
    (
        "get",
        "/v1/sellers/{ubn}/invoices/{number}/history",
        RouteClass::Read,
    ),
    // Citizens.
    ("post", "/v1/carrier/login", RouteClass::CitizenWrite),
    ("get", "/v1/carrier/invoices", RouteClass::Read),
    ("get", "/v1/carrier/winnings", RouteClass::Read),
    ("get", "/v1/carrier/bank-account", RouteClass::Read),
    ("put", "/v1/carrier/bank-account", RouteClass::CitizenWrite),
    ("get", "/v1/public/invoices/{number}", RouteClass::Read),
    ("get", "/v1/carrier/love-codes", RouteClass::Read),
    ("post", "/v1/carrier/donations", RouteClass::CitizenWrite),
    ("get", "/v1/carrier/links", RouteClass::Read),
    ("post", "/v1/carrier/links", RouteClass::CitizenWrite),
    ("post", "/v1/carrier/links/remove", RouteClass::CitizenWrite),
    (
        "post",
        "/v1/carrier/registrations",
        RouteClass::CitizenWrite,
    ),
    (
        "post",
        "/v1/carrier/registrations/{id}/confirm",
        RouteClass::CitizenWrite,
    ),
    (
        "post",
        "/v1/carrier/verification-code",
        RouteClass::CitizenWrite,
    ),
    (
        "post",
        "/v1/carrier/verification-code/reset",
        RouteClass::CitizenWrite,
    ),
    (
        "post",
        "/v1/carrier/verification-code/reset/{id}/confirm",
        RouteClass::CitizenWrite,
    ),
    // The MOF business API (POS barcode checks): reads.
    ("*", "/BIZAPIVAN/*", RouteClass::Read),
    // The MOF App API (some actions write: carrier registration, logins).
    ("*", "/PB2CAPIVAN/*", RouteClass::CitizenWrite),
    // Operators, apps and keys, tracks, winning numbers, the draw.
    ("*", "/v1/ops/*", RouteClass::MainOnly),
    // The SOC console (role `soc`): each node's own detector, read anywhere.
    ("get", "/v1/soc/alerts", RouteClass::Read),
    ("get", "/v1/soc/incidents", RouteClass::Read),
    // A block is this node's edge (each node is told on its own).
    ("post", "/v1/soc/blocks", RouteClass::Anywhere),
    ("post", "/v1/soc/unblock", RouteClass::Anywhere), // and its lifting
    // Holds (freeze a seller, a carrier's re-verification, read-only) are
    // records of the site's store: each site is told on its own.
    ("post", "/v1/soc/sellers/{ubn}/freeze", RouteClass::Anywhere),
    (
        "post",
        "/v1/soc/sellers/{ubn}/unfreeze",
        RouteClass::Anywhere,
    ),
    ("post", "/v1/soc/carriers/reverify", RouteClass::Anywhere),
    (
        "post",
        "/v1/soc/carriers/reverify/clear",
        RouteClass::Anywhere,
    ),
    ("post", "/v1/soc/site/read-only", RouteClass::Anywhere),
    ("post", "/v1/soc/site/read-only/lift", RouteClass::Anywhere),
];

/// Whether `path` matches the template `pattern` (see [`ROUTE_CLASSES`]).
fn path_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (Some("*"), Some(_)) => return true,
            (Some(w), Some(h)) if w.starts_with('{') && w.ends_with('}') && !h.is_empty() => {}
            (Some(w), Some(h)) if w == h => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The class of a request (`method` in any case), or `None` when no line of
/// [`ROUTE_CLASSES`] matches.
pub fn classify(method: &str, path: &str) -> Option<RouteClass> {
    ROUTE_CLASSES
        .iter()
        .find(|(m, p, _)| (*m == "*" || m.eq_ignore_ascii_case(method)) && path_matches(p, path))
        .map(|(_, _, c)| *c)
}

/// This site's role and where the main site is: what the [`guard`] layer needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteRole {
    /// This site's role.
    pub role: Role,
    /// This site's name (its ledger origin).
    pub site: String,
    /// Base URL of the main site (`https://main.example`), where refused
    /// requests are sent; required at a cloud or standby site.
    pub main_url: Option<String>,
}

impl SiteRole {
    /// The refusal of `method path?query` at this site.
    fn refusal(&self, method: &str, path_and_query: &str, class: RouteClass) -> Response {
        let base = self.main_url.as_deref().unwrap_or("").trim_end_matches('/');
        let location = format!("{base}{path_and_query}");
        let why = match (self.role, class) {
            (Role::Standby, RouteClass::CitizenWrite) => format!(
                "standby site {:?} is read-only until it is promoted (einvoice site promote)",
                self.site
            ),
            _ => format!(
                "{method} {} is a main-site operation (issuance, tracks, operators, apps and keys, \
                 winning numbers, the draw); this is {} site {:?}",
                path_and_query.split('?').next().unwrap_or(path_and_query),
                self.role,
                self.site
            ),
        };
        let detail = match &self.main_url {
            Some(_) => format!("{why}. Nothing was written. Send it to the main site: {location}"),
            None => format!("{why}. Nothing was written. (No main_url is configured here.)"),
        };
        let problem = Problem::new(StatusCode::MISDIRECTED_REQUEST, MAIN_ONLY, detail);
        let mut body = serde_json::to_value(&problem).unwrap_or_default();
        if let (Some(obj), Some(main)) = (body.as_object_mut(), &self.main_url) {
            obj.insert("main_url".into(), main.clone().into());
            obj.insert("location".into(), location.clone().into());
        }
        let mut resp = (
            StatusCode::MISDIRECTED_REQUEST,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if self.main_url.is_some()
            && let Ok(v) = HeaderValue::from_str(&location)
        {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp
    }
}

/// The layer (`axum::middleware::from_fn_with_state`): a request whose
/// class this site's role does not serve is answered [`MAIN_ONLY`] before
/// any handler runs; everything else goes on.
pub async fn guard(State(site): State<Arc<SiteRole>>, req: Request, next: Next) -> Response {
    if site.role != Role::Main
        && let Some(class) = classify(req.method().as_str(), req.uri().path())
        && !site.role.serves(class)
    {
        let pq = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
        return site.refusal(req.method().as_str(), &pq, class);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::ROUTES;

    #[test]
    fn every_documented_route_has_a_class() {
        for r in ROUTES {
            assert!(
                classify(r.method, r.path).is_some(),
                "{} {} is in openapi::ROUTES but not in role::ROUTE_CLASSES",
                r.method,
                r.path
            );
        }
    }

    #[test]
    fn templates_match_segments_and_rests() {
        use RouteClass::*;
        assert_eq!(classify("POST", "/v1/messages"), Some(MainOnly));
        assert_eq!(classify("GET", "/v1/messages"), None);
        assert_eq!(
            classify("GET", "/v1/sellers/04595257/tracks"),
            Some(MainOnly)
        );
        assert_eq!(
            classify("GET", "/v1/sellers/04595257/invoices/AB12345678/history"),
            Some(Read)
        );
        assert_eq!(classify("GET", "/v1/sellers//invoices"), None);
        assert_eq!(classify("DELETE", "/v1/ops/anything/else"), Some(MainOnly));
        assert_eq!(classify("GET", "/v1/sync/main/entries"), Some(Anywhere));
        assert_eq!(classify("GET", "/v1/unknown"), None);
    }

    #[test]
    fn roles_serve_their_classes() {
        use RouteClass::*;
        let all = [Anywhere, Read, CitizenWrite, MainOnly];
        let served = |r: Role| all.iter().filter(|c| r.serves(**c)).count();
        assert_eq!(
            (
                served(Role::Main),
                served(Role::Cloud),
                served(Role::Standby)
            ),
            (4, 3, 2)
        );
        assert!(!Role::Cloud.serves(MainOnly) && !Role::Standby.serves(CitizenWrite));
        assert_eq!(Role::parse("standby"), Some(Role::Standby));
        assert_eq!(Role::parse("Main"), None);
    }
}
