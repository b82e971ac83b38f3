//! `einvoice bench peak`: draw day through the gateway — main and two cloud
//! sites and the gateway as child processes (the deployment of `up --sites
//! 3`, in a temporary directory), an open-loop mix at a target rate, and
//! cloud-a killed with SIGKILL a third of the way in and restarted at half
//! time.
//!
//! The mix, request `i` by `(37 i) mod 100` (exact shares every 100):
//!
//! | share | request | class |
//! | --- | --- | --- |
//! | 35 % | App API `QryWinningList` of the last drawn period (signed) | 1 |
//! | 35 % | `GET /v1/carrier/winnings` (a carrier's winning check) | 1 |
//! | 25 % | `GET /v1/carrier/invoices` (a carrier's invoices of the period) | 2 |
//! | 5 % | `POST /v1/messages` (an F0401 by the demo seller) | 1 |
//!
//! Every request comes from one of [`CLIENTS`] client addresses
//! (127.0.1.x: the sites' and the gateway's per-address limits see many
//! clients, as on draw day); each of [`USERS`] demo citizens logs in through
//! the gateway (its token is sealed by the cloud site that issued it); a
//! token refused with 401 (its site was killed) logs in again once, as an
//! app would, inside the request's time. Before the run the last drawn
//! period's winning numbers are published at every site (as the draw
//! publishes them).
//!
//! After the run, in the same deployment: the gateway's overhead (p50 of
//! sequential carrier queries through the gateway minus p50 of the same
//! queries straight to the site that answers them) and a closed-loop burst
//! of cached `QryWinningList` through the gateway.
//!
//! Real work is checked: every winning list answered must carry the
//! published numbers, every carrier query at least one invoice, every
//! issuance a receipt; a run in which any of the three never happened (or
//! a carrier query came back empty) exits 1. `--empty-carrier` (hidden) makes
//! the carrier queries ask for a demo carrier that holds no invoice, so the
//! check can be seen to fail.

use super::bench_load::{open_loop, percentile, round};
use super::client::SignedClient;
use super::site::{UpArgs, current_period};
use super::sites_up::{Prepared, launch, prepare_deployment};
use super::store_args::{self, Open, StoreArgs, with_store};
use anyhow::{Context, anyhow, bail};
use clap::Args;
use einvoice_core::Period;
use einvoice_server::app_api::{SignatureAlg, sign, signing_string};
use einvoice_server::demo::{self, InvoiceGen, Plan};
use einvoice_store::{Store, WinningBody, WinningNumbersRecord};
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// `einvoice bench peak`
#[derive(Args)]
pub struct BenchPeakArgs {
    /// Requests a second through the gateway, all classes together.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Seconds of the open-loop run (cloud-a is killed -9 at a third of it
    /// and restarted at half of it).
    #[arg(long, default_value_t = 20)]
    pub duration: u32,
    /// Seconds of the closed-loop burst of cached winning lists.
    #[arg(long, default_value_t = 2.0)]
    pub burst_seconds: f64,
    /// Demo invoices at main (at least; raised so that the run's issuances
    /// fit the demo seller's track).
    #[arg(long, default_value_t = 2_000)]
    pub invoices: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Carrier queries ask for a demo carrier that holds no invoice (the
    /// real-work check must then fail the run).
    #[arg(long, hide = true)]
    pub empty_carrier: bool,
}

/// Client addresses the load comes from.
const CLIENTS: u8 = 32;
/// Demo citizens logged in (each its own carrier; fewer when the demo
/// spreads its invoices over fewer carriers).
const USERS: usize = 32;
/// Requests in flight at most.
const CONNECTIONS: usize = 256;
/// The site killed mid-run.
const KILLED: &str = "cloud-a";
/// The App API path.
const APP_PATH: &str = "/PB2CAPIVAN/invapp/InvApp";
/// The published special prize number (what every winning list must carry).
const SPECIAL: &str = "12345678";
/// Demo carriers given verification codes at every site (`up`'s number).
const DEMO_CARRIERS: u64 = 200;
/// The bench's gateway settings: the load comes from a few addresses, so
/// the edge's per-client limit is out of the way (the sites keep theirs).
const GATEWAY_LIMITS: &str =
    "\n[limits]\nper_client_per_minute = 60000000\nper_client_burst = 1000000\n";

/// What a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    WinningList,
    WinningCheck,
    CarrierQuery,
    Issue,
}

impl Kind {
    fn of(i: usize) -> Self {
        match (i * 37) % 100 {
            0..35 => Self::WinningList,
            35..70 => Self::WinningCheck,
            70..95 => Self::CarrierQuery,
            _ => Self::Issue,
        }
    }

    /// The gateway's priority class of the request.
    fn class(self) -> u8 {
        if self == Self::CarrierQuery { 2 } else { 1 }
    }
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Answered, with real content.
    Ok,
    /// Shed by the gateway (503 `OVERLOADED`).
    Shed,
    /// Anything else (status or transport error, empty answer).
    Error(String),
}

/// Counts of the real work seen.
#[derive(Default)]
struct Work {
    lists_with_numbers: AtomicUsize,
    invoices_returned: AtomicUsize,
    empty_carrier_answers: AtomicUsize,
    receipts: AtomicUsize,
    winning_checks: AtomicUsize,
    relogins: AtomicUsize,
    relogin_failures: AtomicUsize,
}

/// Everything a request needs.
struct Ctx {
    gateway: String,
    clients: Vec<reqwest::Client>,
    seller: SignedClient,
    users: Vec<String>,
    tokens: RwLock<Vec<String>>,
    logins: Vec<tokio::sync::Mutex<()>>,
    code: String,
    app_id: String,
    app_key: String,
    drawn: String,
    period: String,
    bodies: Vec<Vec<u8>>,
    issue_of: Vec<Option<usize>>,
    work: Work,
}

impl Ctx {
    fn client(&self, i: usize) -> &reqwest::Client {
        &self.clients[i % self.clients.len()]
    }

    /// The URL of a freshly signed `QryWinningList` of the drawn period
    /// through the gateway (request `i`).
    fn winning_list_url(&self, i: usize) -> String {
        let ts = einvoice_server::clock::now_unix().to_string();
        let uuid = format!("bench-{i}-{}", rand_suffix());
        let mut p = vec![
            ("version", "0.5"),
            ("action", "QryWinningList"),
            ("invTerm", self.drawn.as_str()),
            ("UUID", uuid.as_str()),
            ("appID", self.app_id.as_str()),
            ("timeStamp", ts.as_str()),
        ];
        let sig = sign(
            SignatureAlg::HmacSha256,
            &self.app_key,
            &signing_string(p.iter().copied()),
        );
        p.push(("signature", sig.as_str()));
        let base = format!("{}{APP_PATH}", self.gateway);
        reqwest::Url::parse_with_params(&base, &p).map_or(base, String::from)
    }

    /// Log user `u` in through the gateway: its token and the site that issued it.
    async fn login(&self, client: &reqwest::Client, u: usize) -> anyhow::Result<(String, String)> {
        let r = client
            .post(format!("{}/v1/carrier/login", self.gateway))
            .json(&serde_json::json!({
                "carrier_type": "3J0002",
                "carrier_id": self.users[u],
                "verification_code": self.code,
            }))
            .send()
            .await?;
        let site = r
            .headers()
            .get(einvoice_gateway::SITE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let v: serde_json::Value = r.json().await?;
        let t = v["token"]
            .as_str()
            .ok_or_else(|| anyhow!("BENCH_LOGIN: {} could not log in: {v}", self.users[u]))?;
        Ok((t.to_string(), site))
    }

    /// GET `path` through the gateway as user `u`. A 401 (the site that
    /// sealed the token was killed) logs the user in again, as its app
    /// would: one login per user at a time (a request that finds a newer
    /// token takes it), honouring `LOGIN_BUSY`'s `Retry-After` up to three
    /// tries; then the request once more.
    async fn as_user(&self, i: usize, u: usize, path: &str) -> reqwest::Result<reqwest::Response> {
        let client = self.client(i);
        let url = format!("{}{path}", self.gateway);
        let used = self.token(u);
        let r = client.get(&url).bearer_auth(&used).send().await?;
        if r.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(r);
        }
        let _one_login = self.logins[u].lock().await;
        let current = self.token(u);
        if current != used {
            return client.get(&url).bearer_auth(&current).send().await;
        }
        let mut last = None;
        for _ in 0..3 {
            match self.login(client, u).await {
                Ok((t, _)) => {
                    self.work.relogins.fetch_add(1, Ordering::Relaxed);
                    self.tokens
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)[u] = t.clone();
                    return client.get(&url).bearer_auth(&t).send().await;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
        self.work.relogin_failures.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = last {
            eprintln!("bench peak: logging in again failed: {e}");
        }
        Ok(r)
    }

    fn token(&self, u: usize) -> String {
        self.tokens
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)[u]
            .clone()
    }

    /// Request `i` of the mix.
    async fn one(&self, i: usize) -> (Kind, Outcome) {
        let kind = Kind::of(i);
        let u = i % self.users.len();
        let answer = match kind {
            Kind::WinningList => self.client(i).get(self.winning_list_url(i)).send().await,
            Kind::WinningCheck => {
                self.as_user(i, u, &format!("/v1/carrier/winnings?period={}", self.drawn))
                    .await
            }
            Kind::CarrierQuery => {
                self.as_user(
                    i,
                    u,
                    &format!("/v1/carrier/invoices?period={}", self.period),
                )
                .await
            }
            Kind::Issue => {
                let Some(body) = self.issue_of[i].and_then(|k| self.bodies.get(k)) else {
                    return (kind, Outcome::Error("no_invoice_left".into()));
                };
                return (kind, self.issue(body.clone()).await);
            }
        };
        let r = match answer {
            Ok(r) => r,
            Err(e) => return (kind, Outcome::Error(transport(&e))),
        };
        let status = r.status().as_u16();
        let body = r.bytes().await.unwrap_or_default();
        if status != 200 {
            return (kind, refused(status, &body));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let w = &self.work;
        let outcome = match kind {
            Kind::WinningList => {
                if v["code"] == "200" && v["superPrizeNo"] == SPECIAL {
                    w.lists_with_numbers.fetch_add(1, Ordering::Relaxed);
                    Outcome::Ok
                } else {
                    Outcome::Error("winning_list_without_numbers".into())
                }
            }
            Kind::WinningCheck => {
                if v["winnings"].is_array() {
                    w.winning_checks.fetch_add(1, Ordering::Relaxed);
                    Outcome::Ok
                } else {
                    Outcome::Error("winning_check_malformed".into())
                }
            }
            Kind::CarrierQuery => {
                let n = v["invoices"].as_array().map_or(0, Vec::len);
                w.invoices_returned.fetch_add(n, Ordering::Relaxed);
                if n > 0 {
                    Outcome::Ok
                } else {
                    w.empty_carrier_answers.fetch_add(1, Ordering::Relaxed);
                    Outcome::Error("carrier_query_empty".into())
                }
            }
            Kind::Issue => Outcome::Ok,
        };
        (kind, outcome)
    }

    async fn issue(&self, body: Vec<u8>) -> Outcome {
        match self
            .seller
            .send("POST", "/v1/messages", Some("application/json"), body)
            .await
        {
            Ok((201, b)) => {
                let v = b.json();
                if v["seq"].as_u64().is_some_and(|s| s > 0) && v["hash"].is_string() {
                    self.work.receipts.fetch_add(1, Ordering::Relaxed);
                    Outcome::Ok
                } else {
                    Outcome::Error("issuance_without_receipt".into())
                }
            }
            Ok((status, b)) => refused(status, &b.0),
            Err(_) => Outcome::Error("transport".into()),
        }
    }
}

/// A per-process suffix that keeps signed requests of separate runs apart.
fn rand_suffix() -> u32 {
    std::process::id()
}

fn transport(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connect".into()
    } else if e.is_timeout() {
        "timeout".into()
    } else {
        "transport".into()
    }
}

/// A non-200 answer: shed (503 `OVERLOADED`) or an error named by status and code.
fn refused(status: u16, body: &[u8]) -> Outcome {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_string))
        .unwrap_or_default();
    if status == 503 && code == "OVERLOADED" {
        Outcome::Shed
    } else {
        Outcome::Error(format!("http_{status}_{code}"))
    }
}

/// Publish `drawn`'s winning numbers at every site's store (before the
/// sites start), as the draw publishes them.
async fn publish_numbers(p: &Prepared, drawn: Period) -> anyhow::Result<()> {
    let body = WinningBody {
        special: SPECIAL.into(),
        grand: "87654321".into(),
        first: vec!["11112222".into(), "33334444".into(), "55556666".into()],
        additional_sixth: vec!["777".into()],
        amounts: None,
        published_unix: Some(einvoice_server::clock::now_unix()),
    };
    for site in &p.plans {
        let store =
            store_args::open(&p.data.join(&site.name), None, &site.name, Open::Existing).await?;
        let record = WinningNumbersRecord {
            period: drawn,
            version: 1,
            body: body.to_value(drawn),
            entered_by: "bench".into(),
            approved_by: Some("bench-approver".into()),
            reason: None,
            entered_from: None,
        };
        with_store!(&store, s => s.put_winning_numbers(record).await)
            .map_err(|e| anyhow!("{}: {e}", site.name))?;
    }
    Ok(())
}

/// One class's figures.
fn class_figures(
    class: u8,
    target: f64,
    secs: f64,
    results: &[(f64, Kind, Outcome)],
) -> serde_json::Value {
    let mine: Vec<&(f64, Kind, Outcome)> =
        results.iter().filter(|r| r.1.class() == class).collect();
    let ok: Vec<f64> = {
        let mut v: Vec<f64> = mine
            .iter()
            .filter(|r| r.2 == Outcome::Ok)
            .map(|r| r.0)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let shed = mine.iter().filter(|r| r.2 == Outcome::Shed).count();
    let errors = mine.len() - ok.len() - shed;
    serde_json::json!({
        "class": class,
        "target_per_s": round(target, 1),
        "achieved_per_s": round(ok.len() as f64 / secs.max(1e-9), 1),
        "p50_ms": round(percentile(&ok, 0.5), 2),
        "p99_ms": round(percentile(&ok, 0.99), 2),
        "success_rate": round(ok.len() as f64 / mine.len().max(1) as f64, 5),
        "shed": shed,
        "errors": errors,
    })
}

/// The clients, one per address 127.0.1.x.
fn clients() -> anyhow::Result<Vec<reqwest::Client>> {
    (1..=CLIENTS)
        .map(|x| {
            reqwest::Client::builder()
                .no_proxy()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 1, x)))
                .pool_max_idle_per_host(CONNECTIONS)
                .timeout(Duration::from_secs(30))
                .build()
                .context("cannot build the HTTP client")
        })
        .collect()
}

/// Run `einvoice bench peak`.
pub fn bench_peak(a: BenchPeakArgs) -> anyhow::Result<ExitCode> {
    if a.rate == 0 || a.duration == 0 {
        bail!("BENCH_ARGS: --rate and --duration must be at least 1");
    }
    let total = (u64::from(a.rate) * u64::from(a.duration)) as usize;
    let issuances = (0..total).filter(|i| Kind::of(*i) == Kind::Issue).count() as u64;
    // Seller 0 of 5 has a fifth of the plan and a quarter more in its track.
    let invoices = a.invoices.max(25 * issuances + 200);
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let up = UpArgs {
        store: StoreArgs {
            data: tmp.path().join("sites"),
            database: None,
        },
        listen: "127.0.0.1:0".into(),
        invoices,
        allow_plain_http: false,
        sites: 3,
    };
    let (period, today) = current_period()?;
    let drawn = period
        .prev()
        .ok_or_else(|| anyhow!("the current period has no previous one"))?;
    let rt = store_args::runtime()?;
    if !a.json {
        eprintln!(
            "bench peak: starting main, cloud-a, cloud-b and the gateway ({invoices} demo invoices)"
        );
    }
    let prepared = prepare_deployment(&up, &rt)?;
    rt.block_on(publish_numbers(&prepared, drawn))?;
    let creds = prepared.creds().clone();
    let plan = Plan {
        period,
        sellers: 5,
        invoices,
        seed: 1,
    };
    let generator = InvoiceGen::new(plan, demo::sellers(&plan)?, today);
    if a.empty_carrier && generator.carrier_count() >= DEMO_CARRIERS {
        bail!(
            "BENCH_ARGS: --empty-carrier needs fewer than {} demo invoices",
            DEMO_CARRIERS * 20
        );
    }
    let mut d = launch(prepared, GATEWAY_LIMITS, &rt)?;
    let gateway = d.gateway_url.clone();
    let site_urls: std::collections::BTreeMap<String, String> =
        d.plans.iter().map(|p| (p.name.clone(), p.url())).collect();
    // The seller's new invoices: seller 0's next numbers (indices ≡ 0 mod 5).
    let bodies: Vec<Vec<u8>> = (0..issuances)
        .map(|k| serde_json::to_vec(&generator.invoice(invoices + 5 * k).json))
        .collect::<Result<_, _>>()?;
    let mut issue_of = vec![None; total];
    let mut k = 0;
    for (i, slot) in issue_of.iter_mut().enumerate() {
        if Kind::of(i) == Kind::Issue {
            *slot = Some(k);
            k += 1;
        }
    }
    // Citizens who hold invoices: the generator spreads them over its carriers.
    let holders = (USERS as u64).min(generator.carrier_count());
    let users: Vec<String> = (0..holders)
        .map(|n| {
            let n = if a.empty_carrier {
                DEMO_CARRIERS - 1 - n % 8
            } else {
                n
            };
            demo::demo_carrier(n).id
        })
        .collect();
    let load_rt = super::bench_load::rt(2, "bench-peak")?;
    let ctx = Arc::new(Ctx {
        seller: SignedClient::new(&gateway, &creds.seller.key_id, &creds.seller.secret, None)?,
        clients: clients()?,
        gateway: gateway.clone(),
        tokens: RwLock::new(Vec::new()),
        logins: (0..users.len())
            .map(|_| tokio::sync::Mutex::new(()))
            .collect(),
        users,
        code: creds.carrier.verification_code.clone(),
        app_id: creds.app.app_id.clone(),
        app_key: creds.app.api_key.clone(),
        drawn: drawn.to_string(),
        period: period.to_string(),
        bodies,
        issue_of,
        work: Work::default(),
    });
    // Log every user in through the gateway.
    load_rt.block_on(async {
        let mut tokens = Vec::new();
        for u in 0..ctx.users.len() {
            tokens.push(ctx.login(ctx.client(u), u).await?.0);
        }
        *ctx.tokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tokens;
        anyhow::Ok(())
    })?;
    if !a.json {
        eprintln!(
            "bench peak: {total} requests at {}/s for {} s through {gateway}; {KILLED} killed -9 at {:.1} s, restarted at {:.1} s",
            a.rate,
            a.duration,
            f64::from(a.duration) / 3.0,
            f64::from(a.duration) / 2.0
        );
    }
    // The open loop on the load runtime; the kill and restart from here.
    let run = {
        let ctx = ctx.clone();
        let rate = f64::from(a.rate);
        load_rt.spawn(async move {
            let started = Instant::now();
            let out = open_loop(rate, total, CONNECTIONS, |i| {
                let ctx = ctx.clone();
                async move { ctx.one(i).await }
            })
            .await;
            (out, started.elapsed().as_secs_f64())
        })
    };
    let began = Instant::now();
    let run_for = Duration::from_secs(u64::from(a.duration));
    std::thread::sleep(run_for / 3);
    d.sites.kill(KILLED)?;
    let killed_at = began.elapsed().as_secs_f64();
    std::thread::sleep((run_for / 2).saturating_sub(began.elapsed()));
    d.sites.restart(KILLED)?;
    let restarted_at = began.elapsed().as_secs_f64();
    let (answers, secs) = load_rt.block_on(run)?;
    let results: Vec<(f64, Kind, Outcome)> = answers?
        .into_iter()
        .map(|(ms, (kind, outcome))| (ms, kind, outcome))
        .collect();
    // The killed site back in rotation before the overhead and burst.
    let killed_plan = d
        .plans
        .iter()
        .find(|p| p.name == KILLED)
        .cloned()
        .ok_or_else(|| anyhow!("no site {KILLED}"))?;
    rt.block_on(d.sites.wait_ready(&killed_plan))?;
    let overhead = load_rt.block_on(overhead_p50(&ctx, &site_urls))?;
    let burst = load_rt.block_on(cached_burst(&ctx, a.burst_seconds))?;
    let class1_share = 0.75;
    let result = serde_json::json!({
        "classes": [
            class_figures(1, f64::from(a.rate) * class1_share, secs, &results),
            class_figures(2, f64::from(a.rate) * (1.0 - class1_share), secs, &results),
        ],
        "cached_winning_list_per_s": round(burst, 0),
        "gateway_overhead_p50_ms": round(overhead, 3),
        "killed_site": KILLED,
    });
    let w = &ctx.work;
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, kind, o) in &results {
        if let Outcome::Error(e) = o {
            *kinds.entry(format!("{kind:?}: {e}")).or_default() += 1;
        }
    }
    let notes = format!(
        "bench peak: {KILLED} killed at {killed_at:.1} s and restarted at {restarted_at:.1} s; \
         real work: {} winning lists with the numbers, {} winning checks, {} invoices in carrier answers \
         ({} empty answers), {} issuance receipts; {} logins again after a 401 ({} failed); errors by kind: {kinds:?}",
        w.lists_with_numbers.load(Ordering::Relaxed),
        w.winning_checks.load(Ordering::Relaxed),
        w.invoices_returned.load(Ordering::Relaxed),
        w.empty_carrier_answers.load(Ordering::Relaxed),
        w.receipts.load(Ordering::Relaxed),
        w.relogins.load(Ordering::Relaxed),
        w.relogin_failures.load(Ordering::Relaxed),
    );
    eprintln!("{notes}");
    if a.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&result)?);
        eprintln!(
            "(times measured on this machine under whatever else it runs: compare bytes and counts, not speed)"
        );
    }
    drop(d);
    Ok(verdict(w))
}

/// The exit status: 0 only if the run did real work of every kind and no
/// carrier query came back empty.
fn verdict(w: &Work) -> ExitCode {
    let mut failed = Vec::new();
    if w.lists_with_numbers.load(Ordering::Relaxed) == 0 {
        failed.push("no winning list carried the published numbers");
    }
    if w.invoices_returned.load(Ordering::Relaxed) == 0 {
        failed.push("the carrier queries returned no invoice");
    }
    if w.empty_carrier_answers.load(Ordering::Relaxed) > 0 {
        failed.push("some carrier queries returned no invoice");
    }
    if w.receipts.load(Ordering::Relaxed) == 0 {
        failed.push("no issuance got a receipt");
    }
    if w.winning_checks.load(Ordering::Relaxed) == 0 {
        failed.push("no winning check was answered");
    }
    for f in &failed {
        eprintln!("bench peak: {f}: nothing real was measured there");
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The gateway's own share of a request: p50 of sequential carrier
/// queries through the gateway minus p50 of the same queries straight to
/// the site that issued the token (interleaved, one user), ms.
async fn overhead_p50(
    ctx: &Ctx,
    sites: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<f64> {
    let client = ctx.client(0);
    let (token, site) = ctx.login(client, 0).await?;
    let direct = sites
        .get(&site)
        .ok_or_else(|| anyhow!("the login answer named no known site ({site:?})"))?;
    let path = format!("/v1/carrier/invoices?period={}", ctx.period);
    let (mut through, mut straight) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        for (base, into) in [(&ctx.gateway, &mut through), (direct, &mut straight)] {
            let t = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await?;
            let ok = r.status().is_success();
            let _ = r.bytes().await?;
            if ok {
                into.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    through.sort_by(f64::total_cmp);
    straight.sort_by(f64::total_cmp);
    if through.is_empty() || straight.is_empty() {
        bail!("BENCH_OVERHEAD: the carrier queries for the overhead failed");
    }
    Ok(percentile(&through, 0.5) - percentile(&straight, 0.5))
}

/// Cached winning lists a second through the gateway: a closed loop of
/// `CONNECTIONS / 4` requests at once for `seconds`, successes only.
async fn cached_burst(ctx: &Arc<Ctx>, seconds: f64) -> anyhow::Result<f64> {
    let until = Instant::now() + Duration::from_secs_f64(seconds.max(0.1));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS / 4)
        .map(|t| {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let mut ok = 0u64;
                let mut i = t;
                while Instant::now() < until {
                    let url = ctx.winning_list_url(i);
                    if let Ok(r) = ctx.client(t).get(url).send().await
                        && r.status().is_success()
                        && r.bytes().await.is_ok()
                    {
                        ok += 1;
                    }
                    i += CONNECTIONS;
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += t.await?;
    }
    Ok(ok as f64 / started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_has_its_shares_every_hundred_requests() {
        let mut n = std::collections::HashMap::new();
        for i in 0..100 {
            *n.entry(Kind::of(i)).or_insert(0) += 1;
        }
        assert_eq!(n[&Kind::WinningList], 35);
        assert_eq!(n[&Kind::WinningCheck], 35);
        assert_eq!(n[&Kind::CarrierQuery], 25);
        assert_eq!(n[&Kind::Issue], 5);
        assert_eq!(Kind::CarrierQuery.class(), 2);
        assert_eq!(Kind::Issue.class(), 1);
    }

    #[test]
    fn shed_is_told_from_errors() {
        assert_eq!(refused(503, br#"{"code":"OVERLOADED"}"#), Outcome::Shed);
        assert_eq!(
            refused(503, br#"{"code":"NO_SITE_AVAILABLE"}"#),
            Outcome::Error("http_503_NO_SITE_AVAILABLE".into())
        );
    }
}
