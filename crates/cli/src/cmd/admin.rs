//! `einvoice admin …`: operator commands.
//!
//! - `admin bootstrap --data DIR [--database URL] --name NAME` works locally
//!   on the site's store and only while the site has no operator: it creates the first
//!   operator and prints its password and `otpauth://` URL once. The site's
//!   master key is read from (or created at) `DIR/master.key` (32 bytes, 0600).
//! - `admin operator add-local --data DIR [--database URL] --name NAME --role R`
//!   works locally too: it creates an operator whose secrets are printed to
//!   the local person only; the account starts its own creation line, so it
//!   may approve numbers entered by accounts made through the API (the
//!   two-person rule refuses accounts created by, or sharing a creator
//!   with, the enterer).
//! - Every other command talks to the operator API of a running site
//!   (`--url`, default `http://127.0.0.1:8080`). `admin login` stores the
//!   session token in a file readable only by you (`--token-file`, default
//!   `~/.einvoice/ops-token`); `EINVOICE_OPS_TOKEN` overrides it.
//!
//! This build's HTTP client speaks plain HTTP only: it refuses a non-loopback
//! `http://` URL unless `--insecure-http` is given (reach a remote site through
//! an SSH tunnel), and `https://` until a TLS client is linked.

use super::store_args::{Open, StoreArgs, runtime, with_store};
use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use einvoice_secrets::Sealer;
use einvoice_server::ops;
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `einvoice admin …`
#[derive(Args)]
pub struct AdminArgs {
    /// Operator API base URL of the site.
    #[arg(
        long,
        env = "EINVOICE_OPS_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Where `login` keeps the session token (created 0600).
    #[arg(long, env = "EINVOICE_OPS_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,
    /// Allow plain HTTP to a host other than loopback.
    #[arg(long, global = true)]
    pub insecure_http: bool,
    /// PEM CA certificates to trust for an https:// site, besides the system's.
    #[arg(long, env = "EINVOICE_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// Operator commands.
#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create the first operator on a data directory with no operators (local).
    Bootstrap {
        /// Where the store is (the master key stays in the data directory).
        #[command(flatten)]
        store: StoreArgs,
        /// Operator name (a-z 0-9 . _ -).
        #[arg(long)]
        name: String,
        /// This site's id.
        #[arg(long, default_value = "main")]
        site: String,
    },
    /// Log in (password and TOTP code are read from standard input when not given).
    Login {
        /// Operator name.
        #[arg(long)]
        name: String,
        /// The current TOTP code.
        #[arg(long)]
        totp: Option<String>,
    },
    /// End the session.
    Logout,
    /// Show the session's operator and roles.
    Whoami,
    /// Sellers.
    #[command(subcommand)]
    Seller(SellerCommand),
    /// API keys for sellers and integrators.
    #[command(subcommand)]
    Key(KeyCommand),
    /// MOF App API applications.
    #[command(subcommand)]
    App(AppCommand),
    /// Operator accounts.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Number tracks (E0401).
    #[command(subcommand)]
    Tracks(TracksCommand),
    /// Winning numbers (two-person rule).
    #[command(subcommand)]
    Winning(WinningCommand),
}

/// `admin seller …`
#[derive(Subcommand)]
pub enum SellerCommand {
    /// Register or rename a seller.
    Add {
        /// UBN.
        #[arg(long)]
        ubn: String,
        /// Registered name.
        #[arg(long)]
        name: String,
    },
}

/// `admin key …`
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create an API key for one seller, or an integrator key for several (secret shown once).
    Create {
        /// A seller the key may act for (repeat for an integrator).
        #[arg(long = "seller", required = true)]
        sellers: Vec<String>,
    },
    /// Revoke a key at once.
    Revoke {
        /// The key id.
        #[arg(long)]
        key_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// A new key for the same sellers (secret shown once); the old one is revoked at once.
    Rotate {
        /// The key id.
        #[arg(long)]
        key_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `admin app …`
#[derive(Subcommand)]
pub enum AppCommand {
    /// Register an app (its API key is shown once).
    Add {
        /// Display name.
        #[arg(long)]
        name: String,
        /// The appID (generated when absent).
        #[arg(long)]
        app_id: Option<String>,
        /// HmacSHA256 (default) or HmacSHA1.
        #[arg(long)]
        alg: Option<String>,
    },
    /// Disable an app (the App API answers it as an unknown appID).
    Disable {
        /// The appID.
        #[arg(long)]
        app_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Enable a disabled app.
    Enable {
        /// The appID.
        #[arg(long)]
        app_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `admin operator …`
#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Create an operator on the running site: prints a single-use enrolment
    /// token for the new person (no password or TOTP secret reaches you).
    Add {
        /// Name.
        #[arg(long)]
        name: String,
        /// Role: operator, auditor or soc (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Create an operator on a data directory (local): its password and TOTP
    /// secret are printed here, once.
    AddLocal {
        /// Where the store is (the master key stays in the data directory).
        #[command(flatten)]
        store: StoreArgs,
        /// Name.
        #[arg(long)]
        name: String,
        /// Role: operator, auditor or soc (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// This site's id.
        #[arg(long, default_value = "main")]
        site: String,
    },
    /// Redeem your enrolment token: choose your password (read from standard
    /// input) and receive your TOTP secret, once.
    Enrol {
        /// Your operator name.
        #[arg(long)]
        name: String,
        /// The enrolment token you were given.
        #[arg(long)]
        token: String,
    },
    /// Disable an operator: no login, all its sessions end at once.
    Disable {
        /// Name.
        #[arg(long)]
        name: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Enable a disabled operator (its own password and TOTP work again).
    Enable {
        /// Name.
        #[arg(long)]
        name: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `admin tracks …`
#[derive(Subcommand)]
pub enum TracksCommand {
    /// Allocate numbers `begin..=end` of a track to a seller for a period.
    Allocate {
        /// Seller (branch) UBN.
        #[arg(long)]
        seller: String,
        /// Head office UBN (defaults to the seller).
        #[arg(long)]
        head: Option<String>,
        /// Period, e.g. 11402.
        #[arg(long)]
        period: String,
        /// Track letters, e.g. AB.
        #[arg(long)]
        track: String,
        /// First number (whole booklets of 50).
        #[arg(long)]
        begin: u32,
        /// Last number, inclusive.
        #[arg(long)]
        end: u32,
        /// Invoice type (07 general, 08 special).
        #[arg(long)]
        invoice_type: Option<String>,
    },
}

/// `admin winning …`
#[derive(Subcommand)]
pub enum WinningCommand {
    /// Enter a period's numbers as a draft (a correction of a published version needs --reason).
    Enter {
        /// Period.
        #[arg(long)]
        period: String,
        /// Special prize number (8 digits).
        #[arg(long)]
        special: String,
        /// Grand prize number (8 digits).
        #[arg(long)]
        grand: String,
        /// First-prize number (repeat).
        #[arg(long = "first", required = true)]
        first: Vec<String>,
        /// Additional sixth-prize number, 3 digits (repeat).
        #[arg(long = "sixth")]
        sixth: Vec<String>,
        /// Why this version exists.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Approve (publish) a draft entered by an independent operator, from
    /// another machine, naming the SHA-256 of the numbers you checked.
    Approve {
        /// Period.
        #[arg(long)]
        period: String,
        /// Version to approve.
        #[arg(long)]
        version: u32,
        /// SHA-256 (hex) of the version's numbers (`numbers_sha256` of `admin winning show`).
        #[arg(long)]
        sha256: String,
    },
    /// Show the latest version of a period.
    Show {
        /// Period.
        #[arg(long)]
        period: String,
    },
}

/// Run an `admin` command.
pub fn admin(a: AdminArgs) -> anyhow::Result<ExitCode> {
    let AdminArgs {
        url,
        token_file,
        insecure_http,
        ca_file,
        command,
    } = a;
    let client = || Client::new(&url, token_file.clone(), insecure_http, ca_file.as_deref());
    // A state change of an account, key or app, with its optional reason.
    let act =
        |path: String, reason: Option<String>| ("POST", path, Some(json!({ "reason": reason })));
    let (method, path, body): (&str, String, Option<Value>) = match command {
        AdminCommand::Bootstrap { store, name, site } => return bootstrap(&store, &name, &site),
        AdminCommand::Login { name, totp } => return client()?.login(&name, totp),
        AdminCommand::Logout => {
            let c = client()?;
            let out = c.send("POST", "/v1/ops/logout", None);
            if std::env::var_os("EINVOICE_OPS_TOKEN").is_none() {
                let _ = std::fs::remove_file(&c.token_file);
            }
            return out;
        }
        AdminCommand::Whoami => ("GET", "/v1/ops/whoami".into(), None),
        AdminCommand::Seller(SellerCommand::Add { ubn, name }) => (
            "POST",
            "/v1/ops/sellers".into(),
            Some(json!({"ubn": ubn, "name": name})),
        ),
        AdminCommand::Key(KeyCommand::Create { sellers }) => (
            "POST",
            "/v1/ops/keys".into(),
            Some(json!({"sellers": sellers})),
        ),
        AdminCommand::App(AppCommand::Add { name, app_id, alg }) => {
            let mut b = json!({"name": name});
            if let Some(id) = app_id {
                b["app_id"] = json!(id);
            }
            if let Some(alg) = alg {
                b["alg"] = json!(alg);
            }
            ("POST", "/v1/ops/apps".into(), Some(b))
        }
        AdminCommand::Operator(OperatorCommand::Add { name, roles }) => (
            "POST",
            "/v1/ops/operators".into(),
            Some(json!({"name": name, "roles": roles})),
        ),
        AdminCommand::Operator(OperatorCommand::AddLocal {
            store,
            name,
            roles,
            site,
        }) => return add_local(&store, &name, &roles, &site),
        AdminCommand::Operator(OperatorCommand::Enrol { name, token }) => {
            return client()?.enrol(&name, &token);
        }
        AdminCommand::Operator(OperatorCommand::Disable { name, reason }) => {
            act(format!("/v1/ops/operators/{name}/disable"), reason)
        }
        AdminCommand::Operator(OperatorCommand::Enable { name, reason }) => {
            act(format!("/v1/ops/operators/{name}/enable"), reason)
        }
        AdminCommand::Key(KeyCommand::Revoke { key_id, reason }) => {
            act(format!("/v1/ops/keys/{key_id}/revoke"), reason)
        }
        AdminCommand::Key(KeyCommand::Rotate { key_id, reason }) => {
            act(format!("/v1/ops/keys/{key_id}/rotate"), reason)
        }
        AdminCommand::App(AppCommand::Disable { app_id, reason }) => {
            act(format!("/v1/ops/apps/{app_id}/disable"), reason)
        }
        AdminCommand::App(AppCommand::Enable { app_id, reason }) => {
            act(format!("/v1/ops/apps/{app_id}/enable"), reason)
        }
        AdminCommand::Tracks(TracksCommand::Allocate {
            seller,
            head,
            period,
            track,
            begin,
            end,
            invoice_type,
        }) => {
            let mut b = json!({"seller": seller, "period": period, "track": track, "begin": begin, "end": end});
            if let Some(h) = head {
                b["head"] = json!(h);
            }
            if let Some(t) = invoice_type {
                b["invoice_type"] = json!(t);
            }
            ("POST", "/v1/ops/tracks".into(), Some(b))
        }
        AdminCommand::Winning(WinningCommand::Enter {
            period,
            special,
            grand,
            first,
            sixth,
            reason,
        }) => {
            let mut b = json!({"period": period, "special": special, "grand": grand, "first": first, "additional_sixth": sixth});
            if let Some(r) = reason {
                b["reason"] = json!(r);
            }
            ("POST", "/v1/ops/winning".into(), Some(b))
        }
        AdminCommand::Winning(WinningCommand::Approve {
            period,
            version,
            sha256,
        }) => (
            "POST",
            format!("/v1/ops/winning/{period}/approve"),
            Some(json!({"version": version, "expected_sha256": sha256})),
        ),
        AdminCommand::Winning(WinningCommand::Show { period }) => {
            ("GET", format!("/v1/ops/winning/{period}"), None)
        }
    };
    client()?.send(method, &path, body)
}

fn bootstrap(at: &StoreArgs, name: &str, site: &str) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let store = rt.block_on(at.open(site, Open::Create))?;
    let sealer = Sealer::new(&at.master_key()?);
    let secrets = rt
        .block_on(async {
            with_store!(&store, s => ops::bootstrap_operator(s, &sealer, name).await)
        })
        .map_err(|e| anyhow!("{e}"))?;
    print_secrets(&format!("operator: {name} (role operator)"), &secrets)
}

/// Print a new operator's secrets to the local person, once.
fn print_secrets(title: &str, secrets: &ops::NewOperatorSecrets) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{title}")?;
    writeln!(out, "password: {}", secrets.password)?;
    writeln!(out, "totp secret (base32): {}", secrets.totp_secret_base32)?;
    writeln!(out, "otpauth URL: {}", secrets.otpauth_url)?;
    writeln!(
        out,
        "These are shown once: store the password, and add the URL to an authenticator app."
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `admin operator add-local`: an operator made on the data directory, its
/// secrets printed here once.
fn add_local(at: &StoreArgs, name: &str, roles: &[String], site: &str) -> anyhow::Result<ExitCode> {
    let roles = roles
        .iter()
        .map(|r| {
            serde_json::from_value(json!(r)).map_err(|_| {
                anyhow!("OPERATOR_ROLES: unknown role {r:?}: use operator, auditor or soc")
            })
        })
        .collect::<anyhow::Result<Vec<einvoice_store::Role>>>()?;
    let rt = runtime()?;
    let store = rt.block_on(at.open(site, Open::Existing))?;
    let sealer = Sealer::new(&at.master_key()?);
    let who = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let secrets = rt
        .block_on(async {
            with_store!(&store, s => ops::add_local_operator(s, &sealer, name, roles.clone(), &who).await)
        })
        .map_err(|e| anyhow!("{e}"))?;
    print_secrets(&format!("operator: {name}"), &secrets)
}

/// The default token file: `~/.einvoice/ops-token`.
fn default_token_file() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".einvoice")
        .join("ops-token")
}

/// Write the token so that only the owner can read it.
fn save_token(path: &Path, token: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let _ = std::fs::remove_file(path);
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(token.as_bytes())?;
    Ok(())
}

/// An operator API client holding the session of `admin login`.
pub(super) struct Client {
    url: String,
    token_file: PathBuf,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Client {
    /// A client of the site at `url` with the token in `token_file`.
    pub(super) fn new(
        url: &str,
        token_file: Option<PathBuf>,
        insecure_http: bool,
        ca_file: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let url = super::http::check_url(url, insecure_http)?;
        Ok(Self {
            http: super::http::builder(&url, ca_file)?
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .context("cannot build the HTTP client")?,
            url,
            token_file: token_file.unwrap_or_else(default_token_file),
            rt: runtime()?,
        })
    }

    fn token(&self) -> anyhow::Result<String> {
        if let Ok(t) = std::env::var("EINVOICE_OPS_TOKEN") {
            return Ok(t.trim().to_string());
        }
        std::fs::read_to_string(&self.token_file)
            .map(|t| t.trim().to_string())
            .map_err(|_| {
                anyhow!(
                    "not logged in: run `einvoice admin login --name NAME` (token file {})",
                    self.token_file.display()
                )
            })
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.url);
        self.rt.block_on(async {
            let mut req = match method {
                "GET" => self.http.get(&url),
                _ => self.http.post(&url),
            };
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("cannot reach {url}"))?;
            let status = resp.status().as_u16();
            let v = resp.json::<Value>().await.unwrap_or(Value::Null);
            Ok((status, v))
        })
    }

    /// Send with the session token; print the answer (exit 1 on a problem).
    pub(super) fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<ExitCode> {
        let token = self.token()?;
        let (status, v) = self.call(method, path, Some(&token), body)?;
        report(status, &v)
    }

    /// `admin operator enrol`: the password is read from standard input.
    fn enrol(&self, name: &str, token: &str) -> anyhow::Result<ExitCode> {
        eprint!(
            "choose a password for {name} ({} to {} characters): ",
            ops::MIN_PASSWORD_CHARS,
            ops::MAX_PASSWORD_CHARS
        );
        let password = std::io::stdin()
            .lock()
            .lines()
            .next()
            .transpose()?
            .ok_or_else(|| anyhow!("no password on standard input"))?;
        let body = json!({"name": name, "token": token, "password": password.trim_end_matches(['\r', '\n'])});
        let (status, v) = self.call("POST", "/v1/ops/enrol", None, Some(body))?;
        if status != 200 {
            return report(status, &v);
        }
        println!("enrolled {name}");
        println!(
            "totp secret (base32): {}",
            v["totp_secret"].as_str().unwrap_or("")
        );
        println!("otpauth URL: {}", v["otpauth_url"].as_str().unwrap_or(""));
        println!(
            "These are shown once: add the URL to an authenticator app, then `einvoice admin login --name {name}`."
        );
        Ok(ExitCode::SUCCESS)
    }

    fn login(&self, name: &str, totp: Option<String>) -> anyhow::Result<ExitCode> {
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        eprint!("password for {name}: ");
        let password = lines
            .next()
            .transpose()?
            .ok_or_else(|| anyhow!("no password on standard input"))?;
        let totp = match totp {
            Some(t) => t,
            None => {
                eprint!("TOTP code: ");
                lines
                    .next()
                    .transpose()?
                    .ok_or_else(|| anyhow!("no TOTP code on standard input"))?
            }
        };
        let (status, v) = self.call(
            "POST",
            "/v1/ops/login",
            None,
            Some(json!({"name": name, "password": password.trim_end_matches(['\r', '\n']), "totp": totp.trim()})),
        )?;
        if status != 200 {
            return report(status, &v);
        }
        let token = v["token"]
            .as_str()
            .ok_or_else(|| anyhow!("the site answered without a token"))?;
        save_token(&self.token_file, token)?;
        println!(
            "logged in as {name}; session token saved to {} (expires at {})",
            self.token_file.display(),
            v["expires_unix"]
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// Print the answer; a problem goes to stderr with its code and exit status 1.
fn report(status: u16, v: &Value) -> anyhow::Result<ExitCode> {
    if (200..300).contains(&status) {
        println!("{}", serde_json::to_string_pretty(v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let code = v["code"].as_str().unwrap_or("HTTP_ERROR");
    let detail = v["detail"].as_str().unwrap_or("");
    eprintln!("error: {code} (HTTP {status}): {detail}");
    if let Some(errors) = v["errors"].as_array() {
        for e in errors {
            eprintln!(
                "  {} at {}: {}",
                e["code"].as_str().unwrap_or(""),
                e["field"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::from(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("sub").join("ops-token");
        save_token(&p, "abc").expect("save");
        save_token(&p, "def").expect("overwrite");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "def");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
