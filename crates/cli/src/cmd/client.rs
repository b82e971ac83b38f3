//! `einvoice client …`: the seller / integrator API from the command line,
//! every request signed as an integrator would sign it ([`einvoice_server::sign`]).
//!
//! Credentials come from `--url`, `--key-id`, `--secret` (or `EINVOICE_URL`,
//! `EINVOICE_KEY_ID`, `EINVOICE_SECRET`), or from a `demo-credentials.json`
//! written by `einvoice up` (`--credentials FILE`).

use super::http::check_url;
use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use einvoice_server::demo::DemoCredentials;
use einvoice_server::sign;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `einvoice client …`
#[derive(Args)]
pub struct ClientArgs {
    /// Base URL of the site.
    #[arg(long, env = "EINVOICE_URL", global = true)]
    pub url: Option<String>,
    /// API key id.
    #[arg(long, env = "EINVOICE_KEY_ID", global = true)]
    pub key_id: Option<String>,
    /// API key secret (prefer EINVOICE_SECRET or --credentials: arguments are visible to other users).
    #[arg(long, env = "EINVOICE_SECRET", hide_env_values = true, global = true)]
    pub secret: Option<String>,
    /// A demo-credentials.json from `einvoice up` (URL, key id and secret).
    #[arg(long, global = true)]
    pub credentials: Option<PathBuf>,
    /// Allow plain HTTP to a host other than loopback.
    #[arg(long, global = true)]
    pub insecure_http: bool,
    /// PEM CA certificates to trust for an https:// site, besides the system's.
    #[arg(long, env = "EINVOICE_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// Client verbs.
#[derive(Subcommand)]
pub enum ClientCommand {
    /// Submit MIG XML or JSON files, one request each (or all in one batch).
    Submit {
        /// Files to submit.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Send all files as one batch (`POST /v1/batches`).
        #[arg(long)]
        batch: bool,
    },
    /// One invoice's resolved view.
    Invoice {
        /// Seller UBN.
        seller: String,
        /// Invoice number.
        number: String,
    },
    /// One invoice's ledger entries.
    History {
        /// Seller UBN.
        seller: String,
        /// Invoice number.
        number: String,
    },
    /// A period's invoices (one page).
    List {
        /// Seller UBN.
        seller: String,
        /// Period YYYMM.
        #[arg(long)]
        period: String,
        /// Start after this number.
        #[arg(long)]
        after: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Allocated track ranges.
    Tracks {
        /// Seller UBN.
        seller: String,
        /// Period YYYMM.
        #[arg(long)]
        period: String,
    },
    /// Unused numbers (E0402 content).
    Blanks {
        /// Seller UBN.
        seller: String,
        /// Period YYYMM.
        #[arg(long)]
        period: String,
    },
    /// The key and the sellers it may act for.
    Whoami,
}

/// A client that signs every request with an API key.
#[derive(Clone)]
pub struct SignedClient {
    http: reqwest::Client,
    base: String,
    key_id: String,
    secret: String,
}

impl SignedClient {
    /// A client for `base` (a URL that passed [`check_url`]), trusting the
    /// CA certificates in `ca_file` besides the system's for `https://`.
    pub fn new(
        base: &str,
        key_id: &str,
        secret: &str,
        ca_file: Option<&Path>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http: super::http::builder(base, ca_file)?
                .pool_max_idle_per_host(256)
                .build()
                .context("cannot build the HTTP client")?,
            base: base.trim_end_matches('/').to_string(),
            key_id: key_id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// Send a signed request; the status and body.
    pub async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, bytes_body::Body)> {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let nonce = sign::fresh_nonce();
        let headers = sign::sign_headers(
            &self.key_id,
            &self.secret,
            method,
            path_and_query,
            ts,
            &nonce,
            &body,
        );
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| anyhow!("{e}"))?;
        let mut req = self
            .http
            .request(m, format!("{}{path_and_query}", self.base))
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.context("request failed")?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.context("reading the answer failed")?;
        Ok((status, bytes_body::Body(bytes.to_vec())))
    }
}

/// The answer body.
pub mod bytes_body {
    /// Raw answer bytes.
    #[derive(Debug, Clone)]
    pub struct Body(pub Vec<u8>);

    impl Body {
        /// As JSON (or the text as a JSON string when it is not JSON).
        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.0).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&self.0).into_owned())
            })
        }
    }
}

fn resolve(a: &ClientArgs) -> anyhow::Result<SignedClient> {
    let file: Option<DemoCredentials> = match &a.credentials {
        Some(p) => Some(
            serde_json::from_slice(
                &std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
            )
            .with_context(|| format!("{} is not a demo-credentials.json", p.display()))?,
        ),
        None => None,
    };
    let url = a
        .url
        .clone()
        .or_else(|| file.as_ref().map(|f| f.base_url.clone()))
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let key_id = a
        .key_id
        .clone()
        .or_else(|| file.as_ref().map(|f| f.seller.key_id.clone()))
        .ok_or_else(|| {
            anyhow!("AUTH_MISSING: give --key-id (or EINVOICE_KEY_ID, or --credentials)")
        })?;
    let secret = a
        .secret
        .clone()
        .or_else(|| file.as_ref().map(|f| f.seller.secret.clone()))
        .ok_or_else(|| {
            anyhow!("AUTH_MISSING: give --secret (or EINVOICE_SECRET, or --credentials)")
        })?;
    SignedClient::new(
        &check_url(&url, a.insecure_http)?,
        &key_id,
        &secret,
        a.ca_file.as_deref(),
    )
}

fn content_type_of(bytes: &[u8]) -> &'static str {
    match einvoice_mig::Format::sniff(bytes) {
        Some(einvoice_mig::Format::Xml) => "application/xml",
        _ => "application/json",
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Run a `client` command. Exit 0 when every answer is a success, 1 otherwise.
pub fn client(a: ClientArgs) -> anyhow::Result<ExitCode> {
    let c = resolve(&a)?;
    let rt = super::store_args::runtime()?;
    rt.block_on(async move {
        let get = |path: String| {
            let c = c.clone();
            async move { c.send("GET", &path, None, Vec::new()).await }
        };
        let (ok, out): (bool, Value) =
            match a.command {
                ClientCommand::Submit { files, batch } if batch => {
                    let mut msgs = Vec::new();
                    for f in &files {
                        let bytes = std::fs::read(f)
                            .with_context(|| format!("cannot read {}", f.display()))?;
                        if content_type_of(&bytes) == "application/xml" {
                            msgs.push(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
                        } else {
                            msgs.push(serde_json::from_slice(&bytes).with_context(|| {
                                format!("{} is neither XML nor JSON", f.display())
                            })?);
                        }
                    }
                    let body = serde_json::to_vec(&serde_json::json!({"messages": msgs}))?;
                    let (status, b) = c
                        .send("POST", "/v1/batches", Some("application/json"), body)
                        .await?;
                    let v = b.json();
                    let ok = status == 200 && v["rejected"].as_u64() == Some(0);
                    (ok, v)
                }
                ClientCommand::Submit { files, .. } => {
                    let mut all_ok = true;
                    let mut answers = Vec::new();
                    for f in &files {
                        let bytes = std::fs::read(f)
                            .with_context(|| format!("cannot read {}", f.display()))?;
                        let ct = content_type_of(&bytes);
                        let (status, b) = c.send("POST", "/v1/messages", Some(ct), bytes).await?;
                        all_ok &= (200..300).contains(&status);
                        answers.push(serde_json::json!({
                            "file": f.display().to_string(),
                            "status": status,
                            "answer": b.json(),
                        }));
                    }
                    if answers.len() == 1 {
                        let v = answers.remove(0);
                        (all_ok, v["answer"].clone())
                    } else {
                        (all_ok, Value::Array(answers))
                    }
                }
                cmd => {
                    let path = match cmd {
                        ClientCommand::Invoice { seller, number } => {
                            format!("/v1/sellers/{}/invoices/{}", enc(&seller), enc(&number))
                        }
                        ClientCommand::History { seller, number } => format!(
                            "/v1/sellers/{}/invoices/{}/history",
                            enc(&seller),
                            enc(&number)
                        ),
                        ClientCommand::List {
                            seller,
                            period,
                            after,
                            limit,
                        } => {
                            let mut p = format!(
                                "/v1/sellers/{}/invoices?period={}",
                                enc(&seller),
                                enc(&period)
                            );
                            if let Some(x) = after {
                                p.push_str(&format!("&after={}", enc(&x)));
                            }
                            if let Some(l) = limit {
                                p.push_str(&format!("&limit={l}"));
                            }
                            p
                        }
                        ClientCommand::Tracks { seller, period } => format!(
                            "/v1/sellers/{}/tracks?period={}",
                            enc(&seller),
                            enc(&period)
                        ),
                        ClientCommand::Blanks { seller, period } => format!(
                            "/v1/sellers/{}/blanks?period={}",
                            enc(&seller),
                            enc(&period)
                        ),
                        ClientCommand::Whoami => "/v1/whoami".to_string(),
                        ClientCommand::Submit { .. } => unreachable!("handled above"),
                    };
                    let (status, b) = get(path).await?;
                    ((200..300).contains(&status), b.json())
                }
            };
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
