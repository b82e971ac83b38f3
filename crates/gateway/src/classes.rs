//! What a request is: where it goes (its [`Target`], from the sites' own
//! route-class table [`einvoice_server::role::classify`]) and how much it
//! matters under load (its [`Priority`]).
//!
//! | route class (sites) | target |
//! | --- | --- |
//! | `MainOnly` (issuance, tracks, `/v1/ops/…`, winning numbers, the draw) | main |
//! | `Read` (citizen, public, App API business reads, sellers' reads) | a cloud site, else main, else a standby; reads that need fresh data ([`needs_fresh`]) only a cloud site within the sync-lag bound |
//! | `CitizenWrite` (logins, registrations, bank accounts, App API) | a cloud site, else main |
//! | `Anywhere`, and routes no line matches | main |
//!
//! | priority | requests |
//! | --- | --- |
//! | 1 | issuance (`POST /v1/messages`), winning checks (`/v1/carrier/winnings`, App API `QryWinningList`) |
//! | 2 | everything else: carrier and invoice queries, logins, operators |
//! | 3 | bulk and paged exports: `/v1/batches`, `/v1/uploads`, `/v1/sellers/{ubn}/invoices` lists, `/v1/sync/…` |

use einvoice_server::role::{RouteClass, classify};

/// Which sites may answer a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The main site only.
    Main,
    /// Reads: the least loaded healthy cloud site, else main, else a standby.
    CloudRead,
    /// Reads that need fresh data ([`needs_fresh`]): as [`Target::CloudRead`]
    /// among the cloud sites whose sync lag is within `[health]
    /// max_read_lag_ms`, else main, else a lagging cloud site (stale beats
    /// nothing), else a standby.
    FreshRead,
    /// Citizen writes: a healthy cloud site, else main (never a standby).
    CloudWrite,
}

/// Admission priority: 1 is kept longest under overload, 3 is shed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Issuance and winning checks.
    One = 1,
    /// Carrier and invoice queries, and the rest.
    Two = 2,
    /// Bulk and paged exports.
    Three = 3,
}

impl Priority {
    /// The class number (1–3).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Self::One => "1",
            Self::Two => "2",
            Self::Three => "3",
        }
    }

    /// Index 0–2 (for per-class arrays).
    pub fn index(self) -> usize {
        self as usize - 1
    }
}

/// The App API action of a request, lower-cased, from its query string or
/// (for `application/x-www-form-urlencoded` POSTs) its body.
pub fn app_action(query: Option<&str>, body: &[u8]) -> Option<String> {
    let find = |pairs: Vec<(String, String)>| {
        pairs
            .into_iter()
            .find(|(k, _)| k == "action")
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(find)
        .or_else(|| {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                .ok()
                .and_then(find)
        })
}

/// Whether a read must come from a site whose copy of the ledger is fresh:
/// what a citizen or a seller reads right after it happened — a carrier's
/// invoices, links and winnings (the winnings of a period just drawn),
/// an invoice looked up by number (`/v1/public/invoices/…`, App API
/// `qryInvHeader`/`qryInvDetail`, `carrierInvChk`/`carrierInvDetail`) and a
/// seller's own reads. Not fresh-bound: the winning list (published
/// numbers, which the cache serves for a TTL anyway), the documents and
/// the rest.
pub fn needs_fresh(path: &str, action: Option<&str>) -> bool {
    if path.starts_with("/PB2CAPIVAN/") {
        return action.is_some_and(|a| {
            matches!(
                a,
                "qryinvheader" | "qryinvdetail" | "carrierinvchk" | "carrierinvdetail"
            )
        });
    }
    path.starts_with("/v1/carrier/")
        || path.starts_with("/v1/public/invoices/")
        || path.starts_with("/v1/sellers/")
}

/// Where a request goes, reads that need fresh data ([`needs_fresh`]) to
/// [`Target::FreshRead`].
pub fn target_of(method: &str, path: &str, action: Option<&str>) -> Target {
    match target(method, path) {
        Target::CloudRead if needs_fresh(path, action) => Target::FreshRead,
        t => t,
    }
}

/// Where a request goes by its route class alone.
pub fn target(method: &str, path: &str) -> Target {
    match classify(method, path) {
        Some(RouteClass::Read) => Target::CloudRead,
        Some(RouteClass::CitizenWrite) => {
            // The App API's read actions are classed with its writes by the
            // sites (one path serves both); GETs there are reads.
            if path.starts_with("/PB2CAPIVAN/") && method.eq_ignore_ascii_case("GET") {
                Target::CloudRead
            } else {
                Target::CloudWrite
            }
        }
        Some(RouteClass::MainOnly | RouteClass::Anywhere) | None => Target::Main,
    }
}

/// A request's priority (`action` is [`app_action`] for App API paths).
pub fn priority(method: &str, path: &str, action: Option<&str>) -> Priority {
    let post = method.eq_ignore_ascii_case("POST");
    let seg: Vec<&str> = path.split('/').collect();
    match seg.as_slice() {
        ["", "v1", "messages"] if post => Priority::One,
        ["", "v1", "carrier", "winnings"] => Priority::One,
        ["", "PB2CAPIVAN", ..] if action == Some("qrywinninglist") => Priority::One,
        ["", "v1", "batches" | "uploads"] => Priority::Three,
        ["", "v1", "sellers", _, "invoices"] => Priority::Three,
        ["", "v1", "sync", ..] => Priority::Three,
        _ => Priority::Two,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_classes_pick_their_targets() {
        assert_eq!(target("POST", "/v1/messages"), Target::Main);
        assert_eq!(target("POST", "/v1/ops/login"), Target::Main);
        assert_eq!(
            target("POST", "/v1/ops/winning/11405/approve"),
            Target::Main
        );
        assert_eq!(target("GET", "/v1/carrier/invoices"), Target::CloudRead);
        assert_eq!(
            target("GET", "/v1/public/invoices/AB12345678"),
            Target::CloudRead
        );
        assert_eq!(
            target("GET", "/PB2CAPIVAN/invapp/InvApp"),
            Target::CloudRead
        );
        assert_eq!(
            target("POST", "/PB2CAPIVAN/invapp/InvApp"),
            Target::CloudWrite
        );
        assert_eq!(target("POST", "/v1/carrier/login"), Target::CloudWrite);
        assert_eq!(
            target("PUT", "/v1/carrier/bank-account"),
            Target::CloudWrite
        );
        assert_eq!(target("GET", "/no/such/route"), Target::Main);
    }

    #[test]
    fn carrier_and_invoice_reads_need_fresh_data_and_the_winning_list_does_not() {
        let app = "/PB2CAPIVAN/invapp/InvApp";
        assert_eq!(
            target_of("GET", "/v1/carrier/invoices", None),
            Target::FreshRead
        );
        assert_eq!(
            target_of("GET", "/v1/carrier/winnings", None),
            Target::FreshRead
        );
        assert_eq!(
            target_of("GET", "/v1/public/invoices/AB12345678", None),
            Target::FreshRead
        );
        assert_eq!(
            target_of("GET", app, Some("carrierinvchk")),
            Target::FreshRead
        );
        assert_eq!(
            target_of("GET", app, Some("qrywinninglist")),
            Target::CloudRead
        );
        assert_eq!(target_of("GET", app, None), Target::CloudRead);
        // Writes and main routes keep their targets.
        assert_eq!(
            target_of("POST", "/v1/carrier/login", None),
            Target::CloudWrite
        );
        assert_eq!(target_of("POST", "/v1/messages", None), Target::Main);
    }

    #[test]
    fn priorities_follow_the_draw_day_classes() {
        assert_eq!(priority("POST", "/v1/messages", None), Priority::One);
        assert_eq!(priority("GET", "/v1/carrier/winnings", None), Priority::One);
        assert_eq!(
            priority("GET", "/PB2CAPIVAN/invapp/InvApp", Some("qrywinninglist")),
            Priority::One
        );
        assert_eq!(
            priority("GET", "/PB2CAPIVAN/invServ/InvServ", Some("carrierinvchk")),
            Priority::Two
        );
        assert_eq!(priority("GET", "/v1/carrier/invoices", None), Priority::Two);
        assert_eq!(priority("POST", "/v1/batches", None), Priority::Three);
        assert_eq!(
            priority("GET", "/v1/sellers/04595257/invoices", None),
            Priority::Three
        );
        assert_eq!(
            priority("GET", "/v1/sellers/04595257/invoices/AB12345678", None),
            Priority::Two
        );
    }

    #[test]
    fn the_action_is_read_from_the_query_or_a_form_body() {
        assert_eq!(
            app_action(Some("version=0.5&action=QryWinningList"), b""),
            Some("qrywinninglist".into())
        );
        assert_eq!(
            app_action(None, b"action=carrierInvChk&x=1"),
            Some("carrierinvchk".into())
        );
        assert_eq!(app_action(Some("x=%zz"), b"\xff"), None);
    }
}
