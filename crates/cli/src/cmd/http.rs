//! The HTTP side of `einvoice client` and `einvoice admin`: which site URLs
//! they accept and how their TLS is set up.
//!
//! - `https://` to any host: the server certificate is checked against the
//!   system's trust store plus the PEM certificates of `--ca-file` (a site
//!   with a private CA).
//! - `http://` only to a loopback host, unless `--insecure-http`: signed
//!   requests and operator tokens are not sent in clear over a network by
//!   accident. No trust store is loaded for plain HTTP, so the client works
//!   on a machine without a CA bundle.
//! - Redirects are not followed: a signed request or a session token never
//!   goes to a host the user did not name.

use anyhow::{Context, bail};
use std::path::Path;

/// `url` without its trailing `/`, or a refusal (`URL_UNSUPPORTED`,
/// `PLAIN_HTTP_REFUSED`) that says what to do instead.
pub fn check_url(url: &str, insecure_http: bool) -> anyhow::Result<String> {
    let url = url.trim_end_matches('/').to_string();
    if url.starts_with("https://") {
        return Ok(url);
    }
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("URL_UNSUPPORTED: {url}: the site URL must start with https:// or http://");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        // [v6]:port
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback && !insecure_http {
        bail!(
            "PLAIN_HTTP_REFUSED: {url} is plain HTTP to {host}, which is not loopback: use the site's https:// URL (with --ca-file for a private CA), an SSH tunnel to 127.0.0.1, or --insecure-http"
        );
    }
    Ok(url)
}

/// A client builder for the checked `url`: see the module documentation.
pub fn builder(url: &str, ca_file: Option<&Path>) -> anyhow::Result<reqwest::ClientBuilder> {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if !url.starts_with("https://") {
        if ca_file.is_some() {
            bail!("CA_FILE_UNUSED: --ca-file is for https:// URLs; {url} is plain HTTP");
        }
        return Ok(builder.tls_certs_only(Vec::new()));
    }
    let mut extra = Vec::new();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("CA_FILE: cannot read {}", path.display()))?;
        extra = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("CA_FILE: {} is not PEM certificates", path.display()))?;
        if extra.is_empty() {
            bail!("CA_FILE: {} holds no PEM certificate", path.display());
        }
    }
    Ok(builder.https_only(true).tls_certs_merge(extra))
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn urls_the_clients_accept() {
        for ok in [
            "http://127.0.0.1:8080/",
            "http://localhost:8080",
            "http://[::1]:8080",
            "https://ops.example",
            "https://10.0.0.1:8443/",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        assert_eq!(
            check_url("http://127.0.0.1:8080/", false).expect("ok"),
            "http://127.0.0.1:8080"
        );
        // Not loopback, even though it starts like one.
        for clear in [
            "http://ops.example:8080",
            "http://127.evil.example:8080",
            "http://localhost.evil.example",
            "http://10.0.0.1",
        ] {
            let e = check_url(clear, false).expect_err(clear).to_string();
            assert!(e.starts_with("PLAIN_HTTP_REFUSED"), "{clear}: {e}");
            assert!(
                check_url(clear, true).is_ok(),
                "{clear} with --insecure-http"
            );
        }
        for bad in ["ftp://x", "127.0.0.1:8080", ""] {
            let e = check_url(bad, true).expect_err(bad).to_string();
            assert!(e.starts_with("URL_UNSUPPORTED"), "{bad}: {e}");
        }
    }
}
