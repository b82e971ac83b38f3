//! `einvoice up --sites N`: one machine, N sites — `main` and the cloud
//! sites `cloud-a`, `cloud-b`, … — synced over mutual TLS.
//!
//! What it does, in order:
//!
//! 1. a deployment CA in `DIR/ca` ([`einvoice_sync::ca::init_ca`], kept on
//!    later starts) and each site's certificate ([`einvoice_sync::ca::issue_site`]);
//! 2. each site's configuration `DIR/SITE/einvoice.toml` (rewritten on every
//!    start: its own data directory, port, origin and role; a cloud site
//!    pulls from main, main pulls from every cloud so citizen writes travel
//!    back; each one is a valid `einvoice serve --config` file on its own);
//! 3. on first start, the demo at main (the same [`demo::provision`] and
//!    seeding as a single site) and, at each cloud, the records its citizen
//!    and app services check that the ledger does not carry
//!    ([`demo::provision_replica`]: the same demo secrets, sealed under that
//!    cloud's own master key; the NPO directory, carriers registered through
//!    the carrier services and bank accounts travel instead);
//! 4. each site as a child process (`einvoice serve --config …`, its output
//!    in `DIR/SITE/site.log`), waits until every site is ready and every
//!    cloud holds main's origin up to main's head, writes
//!    `demo-credentials.json` (with `"sites"`) and prints the banner;
//! 5. runs until Ctrl-C / SIGTERM or until a site exits, then stops them all.
//!
//! Why processes and not tasks in this process: a site is a process in a
//! real deployment, and so it is here — each with its own `/metrics` (the
//! Prometheus recorder is process-wide, so sites sharing a process would
//! mix their lag gauges), its own master key and store, and killable on its
//! own (fault tests). A site never outlives the `up` that started it: `up`
//! holds each child's standard input and the child (`serve
//! --exit-on-stdin-eof`) shuts down when it closes, which the kernel does
//! even when `up` is killed with -9.

use super::site::{UpArgs, current_period, print_welcome, seed, shutdown_signal, write_private};
use super::store_args::{self, Open, with_store};
use anyhow::{Context, anyhow, bail};
use einvoice_secrets::Sealer;
use einvoice_server::demo::{self, DemoCredentials, OperatorCredentials, Plan};
use einvoice_server::ops;
use einvoice_store::Store;
use einvoice_sync::status::SyncStatus;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Carriers given verification codes at every site.
const DEMO_CARRIERS: u64 = 200;
/// How long `up` waits for a site to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `up` waits for the clouds to hold main's demo.
const SYNC_TIMEOUT: Duration = Duration::from_secs(300);
/// Pause between pulls of the demo's sites when caught up.
const SYNC_INTERVAL_MS: u64 = 200;

/// One site of the deployment `up` starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePlan {
    /// Site name (its ledger origin and certificate CN).
    pub name: String,
    /// `main` or `cloud`.
    pub role: &'static str,
    /// The public listener (plain HTTP).
    pub listen: SocketAddr,
    /// The peer listener (mutual TLS).
    pub peer: SocketAddr,
}

impl SitePlan {
    /// The site's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", reachable(self.listen))
    }
    /// The peer listener's base URL.
    pub fn peer_url(&self) -> String {
        format!("https://{}", reachable(self.peer))
    }
}

/// Where a listener is reached from this machine: an unspecified address
/// (`0.0.0.0`, `::`) through loopback.
fn reachable(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, a.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        _ => a,
    }
}

/// The names of `n` sites: `main`, then `cloud-a`, `cloud-b`, ….
pub fn site_names(n: u8) -> Vec<String> {
    let mut out = vec!["main".to_string()];
    for i in 1..n {
        out.push(format!("cloud-{}", char::from(b'a' + (i - 1))));
    }
    out
}

/// The sites of `--sites n --listen listen`: site i at `listen`'s port + i
/// and its peer listener at + 100 + i; with port 0, free ports of the host.
pub fn plan_sites(n: u8, listen: &str) -> anyhow::Result<Vec<SitePlan>> {
    let base: SocketAddr = listen.parse().map_err(|_| {
        anyhow!("SITES_LISTEN: --listen {listen:?} must be IP:PORT with --sites (e.g. 127.0.0.1:8080, or port 0 for free ports)")
    })?;
    let names = site_names(n);
    let ports: Vec<(u16, u16)> = if base.port() == 0 {
        // Hold every listener at once so that no two sites get one port,
        // then let go: the sites bind them a moment later.
        let held = (0..2 * names.len())
            .map(|_| std::net::TcpListener::bind((base.ip(), 0)))
            .collect::<Result<Vec<_>, _>>()
            .context("cannot find free ports")?;
        let p = held
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<Vec<_>, _>>()?;
        (0..names.len()).map(|i| (p[2 * i], p[2 * i + 1])).collect()
    } else {
        (0..names.len())
            .map(|i| {
                let i = u16::try_from(i).unwrap_or(u16::MAX);
                let http = base.port().checked_add(i);
                let peer = base.port().checked_add(100).and_then(|p| p.checked_add(i));
                http.zip(peer).ok_or_else(|| {
                    anyhow!(
                        "SITES_LISTEN: port {} + {} sites leaves the port range",
                        base.port(),
                        n
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    Ok(names
        .into_iter()
        .zip(ports)
        .map(|(name, (http, peer))| SitePlan {
            role: if name == "main" { "main" } else { "cloud" },
            listen: SocketAddr::new(base.ip(), http),
            peer: SocketAddr::new(base.ip(), peer),
            name,
        })
        .collect())
}

fn toml_str(s: &str) -> String {
    toml_edit::value(s).to_string().trim().to_string()
}

fn toml_path(p: &Path) -> String {
    toml_str(&p.display().to_string())
}

/// The configuration file of `site` in a deployment of `all`: its data
/// directory `dir`, TLS files under the CA directory `ca`.
pub fn site_config(
    site: &SitePlan,
    all: &[SitePlan],
    dir: &Path,
    ca: &Path,
    allow_plain_http: bool,
) -> String {
    let tls = einvoice_sync::ca::site_files(ca, &site.name);
    let main = &all[0];
    let upstreams: Vec<String> = if site.role == "main" {
        all[1..].iter().map(|s| toml_str(&s.peer_url())).collect()
    } else {
        vec![toml_str(&main.peer_url())]
    };
    let mut out = format!(
        "# Written by `einvoice up --sites {n}` on every start (edits are lost);\n\
         # `einvoice serve --config` this file runs the site on its own.\n\
         site = {name}\nrole = {role}\nlisten = {listen}\ndata = {data}\n",
        n = all.len(),
        name = toml_str(&site.name),
        role = toml_str(site.role),
        listen = toml_str(&site.listen.to_string()),
        data = toml_path(dir),
    );
    if site.role != "main" {
        out.push_str(&format!("main_url = {}\n", toml_str(&main.url())));
    }
    if allow_plain_http {
        out.push_str("allow_plain_http = true\n");
    }
    out.push_str(&format!(
        "\n[app_api]\nrequire_signature = true\n\n[sync]\nlisten = {peer}\nca = {ca}\ncert = {cert}\nkey = {key}\nupstreams = [{up}]\ninterval_ms = {SYNC_INTERVAL_MS}\n",
        peer = toml_str(&site.peer.to_string()),
        ca = toml_path(&tls.ca),
        cert = toml_path(&tls.cert),
        key = toml_path(&tls.key),
        up = upstreams.join(", "),
    ));
    // The gateway `up` starts runs on this machine: its X-Forwarded-For
    // names the client each per-address limit counts (server::forwarded).
    out.push_str("\n[limits]\ntrusted_proxies = [\"127.0.0.1\"]\n");
    if site.role == "main" {
        // What bodies each peer receives: the clouds get digests for
        // operator entries (einvoice_sync::bodies).
        out.push_str("\n[sync.roles]\n");
        for s in &all[1..] {
            out.push_str(&format!("{} = {}\n", toml_str(&s.name), toml_str(s.role)));
        }
    }
    out
}

/// Run `up --sites N` (N > 1).
pub fn up_sites(a: UpArgs) -> anyhow::Result<ExitCode> {
    let rt = store_args::runtime()?;
    let prepared = prepare_deployment(&a, &rt)?;
    let d = launch(prepared, "", &rt)?;
    print_banner(&d.creds, &d.plans, &d.data, &d.creds_path);
    println!(
        "Through the gateway ({}; {}):",
        d.gateway_url,
        d.gateway_toml.display()
    );
    println!(
        "  curl -s {0}/readyz; curl -s {0}/metrics | grep einvoice_gateway_",
        d.gateway_url
    );
    let code = rt.block_on(d.sites.run())?;
    Ok(code)
}

/// A deployment's files written and its demo data in place, nothing started
/// yet ([`prepare_deployment`]; [`launch`] starts it).
pub(crate) struct Prepared {
    /// The sites.
    pub plans: Vec<SitePlan>,
    /// The data directory (absolute).
    pub data: PathBuf,
    creds: DemoCredentials,
    creds_path: PathBuf,
    main_seq: u64,
    listen: String,
}

impl Prepared {
    /// The demo credentials (main's seller, carrier, app).
    pub fn creds(&self) -> &DemoCredentials {
        &self.creds
    }
}

/// The running deployment: every site and the gateway as child processes.
pub(crate) struct Deployment {
    /// The sites.
    pub plans: Vec<SitePlan>,
    /// The data directory.
    pub data: PathBuf,
    /// The demo credentials, with `sites` filled in.
    pub creds: DemoCredentials,
    /// Where they were written.
    pub creds_path: PathBuf,
    /// The gateway's base URL.
    pub gateway_url: String,
    /// The gateway's configuration file.
    pub gateway_toml: PathBuf,
    /// The child processes.
    pub sites: Sites,
}

/// `up --sites N` up to starting anything: the CA and certificates, each
/// site's configuration, the demo data (first start).
pub(crate) fn prepare_deployment(
    a: &UpArgs,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Prepared> {
    if a.store.database.is_some() {
        bail!(
            "SITES_DATABASE: --sites gives every site its own SQLite store under --data; \
             run PostgreSQL sites with `einvoice serve --config` each"
        );
    }
    let plans = plan_sites(a.sites, &a.listen)?;
    if !a.allow_plain_http && !plans[0].listen.ip().is_loopback() {
        bail!(
            "PLAIN_HTTP_REFUSED: {} is not a loopback address; use --allow-plain-http behind a TLS proxy",
            a.listen
        );
    }
    std::fs::create_dir_all(&a.store.data)
        .with_context(|| format!("cannot create {}", a.store.data.display()))?;
    let data = std::path::absolute(&a.store.data)?;
    let ca = data.join("ca");
    if !einvoice_sync::ca::ca_files(&ca).1.exists() {
        einvoice_sync::ca::init_ca(&ca, "einvoice up")?;
    }
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ip = plans[0].listen.ip();
    if !ip.is_unspecified() && !hosts.contains(&ip.to_string()) {
        hosts.push(ip.to_string());
    }
    for p in &plans {
        let files = einvoice_sync::ca::site_files(&ca, &p.name);
        if !files.key.exists() {
            einvoice_sync::ca::issue_site(&ca, &p.name, &hosts)?;
        }
        let dir = data.join(&p.name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(
            dir.join("einvoice.toml"),
            site_config(p, &plans, &dir, &ca, a.allow_plain_http),
        )
        .with_context(|| format!("cannot write {}", dir.join("einvoice.toml").display()))?;
    }
    let creds_path = data.join("demo-credentials.json");
    let (creds, main_seq) = rt.block_on(prepare(&data, &plans, &creds_path, a.invoices))?;
    Ok(Prepared {
        plans,
        data,
        creds,
        creds_path,
        main_seq,
        listen: a.listen.clone(),
    })
}

/// Start every site and the gateway (its file gets `gateway_extra`
/// appended), wait until all are ready and the clouds hold main's demo,
/// write `demo-credentials.json`.
pub(crate) fn launch(
    p: Prepared,
    gateway_extra: &str,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Deployment> {
    let Prepared {
        plans,
        data,
        mut creds,
        creds_path,
        main_seq,
        listen,
    } = p;
    let mut sites = Sites::default();
    for p in &plans {
        sites.start(p, &data.join(&p.name))?;
    }
    // The gateway in front of them all (crate einvoice-gateway).
    let gw_listen = super::sites_gateway::gateway_listen(&listen)?;
    let gw_dir = data.join("gateway");
    std::fs::create_dir_all(&gw_dir)?;
    let gw_toml = gw_dir.join("gateway.toml");
    let mut text = super::sites_gateway::gateway_toml(gw_listen, &plans);
    text.push_str(gateway_extra);
    std::fs::write(&gw_toml, text)?;
    sites.spawn(
        "gateway",
        &["gateway".as_ref(), "--config".as_ref(), gw_toml.as_os_str()],
        &gw_dir.join("gateway.log"),
    )?;
    let gw_url = format!("http://{}", reachable(gw_listen));
    rt.block_on(async {
        for p in &plans {
            sites.wait_ready(p).await?;
        }
        sites
            .wait_url("gateway", &format!("{gw_url}/readyz"))
            .await?;
        for p in &plans[1..] {
            sites.wait_synced(p, "main", main_seq).await?;
        }
        anyhow::Ok(())
    })?;
    creds.base_url = plans[0].url();
    creds.sites = plans.iter().map(|p| (p.name.clone(), p.url())).collect();
    let json = super::sites_gateway::with_gateway(serde_json::to_value(&creds)?, &gw_url);
    write_private(&creds_path, &serde_json::to_vec_pretty(&json)?)?;
    Ok(Deployment {
        plans,
        data,
        creds,
        creds_path,
        gateway_url: gw_url,
        gateway_toml: gw_toml,
        sites,
    })
}

/// First start: the demo at main, the replica records at each cloud. Later
/// starts: the credentials written before. Either way, main's sequence of
/// its own origin (what the clouds must hold before the banner).
async fn prepare(
    data: &Path,
    plans: &[SitePlan],
    creds_path: &Path,
    invoices: u64,
) -> anyhow::Result<(DemoCredentials, u64)> {
    let main_dir = data.join("main");
    let main_key = store_args::master_key(&main_dir)?;
    let store = store_args::open(&main_dir, None, "main", Open::Create).await?;
    let held = with_store!(&store, s => s.origins().await).map_err(|e| anyhow!("{e}"))?;
    let creds = if creds_path.exists() && !held.is_empty() {
        let text = std::fs::read(creds_path)?;
        serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a demo credentials file", creds_path.display()))?
    } else {
        let (period, today) = current_period()?;
        let plan = Plan {
            period,
            sellers: 5,
            invoices,
            seed: 1,
        };
        eprintln!(
            "einvoice: first start — creating demo data at main in {}",
            main_dir.display()
        );
        let sealer = Sealer::new(&main_key);
        let mut creds = with_store!(&store, s => seed_main(s, &sealer, plan, today).await)?;
        creds.sites = BTreeMap::new();
        for p in &plans[1..] {
            let dir = data.join(&p.name);
            let sealer = Sealer::new(&store_args::master_key(&dir)?);
            let cloud = store_args::open(&dir, None, &p.name, Open::Create).await?;
            with_store!(&cloud, s => demo::provision_replica(s, &sealer, &plan, &creds, DEMO_CARRIERS).await)
                .map_err(|e| anyhow!("{}: {e}", p.name))?;
        }
        creds
    };
    let state = with_store!(&store, s => s.sync_state().await).map_err(|e| anyhow!("{e}"))?;
    let seq = state
        .iter()
        .find(|o| o.head.origin == "main")
        .map_or(0, |o| o.head.seq);
    Ok((creds, seq))
}

async fn seed_main<S: Store>(
    store: &S,
    sealer: &Sealer,
    plan: Plan,
    today: einvoice_core::time::Date,
) -> anyhow::Result<DemoCredentials> {
    let (sellers, mut creds) = demo::provision(store, sealer, &plan, DEMO_CARRIERS).await?;
    let stats = seed(store, plan, sellers, today, 500).await?;
    eprintln!(
        "einvoice: {} messages accepted at main ({} rejected)",
        stats.accepted, stats.rejected
    );
    if store.operator_count().await? == 0 {
        let s = ops::bootstrap_operator(store, sealer, "demo")
            .await
            .map_err(|e| anyhow!("{e}"))?;
        creds.operator = Some(OperatorCredentials {
            name: "demo".into(),
            password: s.password,
            totp_secret: s.totp_secret_base32,
        });
    }
    Ok(creds)
}

/// The environment variables `serve` (and `gateway`) read that would
/// override a child's configuration file; a child gets none of them.
const OVERRIDES: &[&str] = &[
    "EINVOICE_CONFIG",
    "EINVOICE_LISTEN",
    "EINVOICE_DATA",
    "EINVOICE_DATABASE",
    "EINVOICE_SITE",
    "EINVOICE_ROLE",
    "EINVOICE_MAIN_URL",
    "EINVOICE_TLS_CERT",
    "EINVOICE_TLS_KEY",
    "EINVOICE_WEBHOOK_URL",
    "EINVOICE_WEBHOOK_CA_FILE",
    "EINVOICE_SANDBOX",
    "EINVOICE_GATEWAY_CONFIG",
    "EINVOICE_GATEWAY_LISTEN",
    "EINVOICE_GATEWAY_TLS_CERT",
    "EINVOICE_GATEWAY_TLS_KEY",
];

/// A running site: its process, how it was started and where its output goes.
struct Running {
    name: String,
    child: Child,
    args: Vec<std::ffi::OsString>,
    log: PathBuf,
}

/// The running sites; dropping them stops every one (standard input
/// closed, then killed after a grace period).
#[derive(Default)]
pub(crate) struct Sites(Vec<Running>);

impl Sites {
    fn start(&mut self, p: &SitePlan, dir: &Path) -> anyhow::Result<()> {
        let config = dir.join("einvoice.toml");
        let args = ["serve".as_ref(), "--config".as_ref(), config.as_os_str()];
        self.spawn(&p.name, &args, &dir.join("site.log"))
    }

    /// Start `einvoice ARGS --exit-on-stdin-eof` as `name`, its output in `log`.
    fn spawn(&mut self, name: &str, args: &[&std::ffi::OsStr], log: &Path) -> anyhow::Result<()> {
        let log = log.to_path_buf();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot write {}", log.display()))?;
        let exe = std::env::current_exe().context("cannot find the einvoice binary")?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(args)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(out.try_clone()?)
            .stderr(out);
        for v in OVERRIDES {
            cmd.env_remove(v);
        }
        // Its own process group: Ctrl-C reaches `up` alone, which then stops
        // the sites in order (instead of the sites racing `up` to exit).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        self.0.retain(|r| r.name != name);
        self.0.push(Running {
            name: name.to_string(),
            child,
            args: args.iter().map(|a| a.to_os_string()).collect(),
            log,
        });
        Ok(())
    }

    /// Kill `name` with SIGKILL (no shutdown of any kind) and reap it.
    pub(crate) fn kill(&mut self, name: &str) -> anyhow::Result<()> {
        let r = self
            .0
            .iter_mut()
            .find(|r| r.name == name)
            .ok_or_else(|| anyhow!("no process {name}"))?;
        r.child.kill()?;
        r.child.wait()?;
        Ok(())
    }

    /// Start `name` again as it was started (after [`Sites::kill`]).
    pub(crate) fn restart(&mut self, name: &str) -> anyhow::Result<()> {
        let r = self
            .0
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| anyhow!("no process {name}"))?;
        let (args, log) = (r.args.clone(), r.log.clone());
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        self.spawn(name, &args, &log)
    }

    /// A site that has exited, as an error naming it and its last words.
    fn exited(&mut self) -> anyhow::Result<()> {
        for r in &mut self.0 {
            if let Some(status) = r.child.try_wait()? {
                bail!(
                    "SITE_EXITED: site {} stopped ({status}); the end of {}:\n{}",
                    r.name,
                    r.log.display(),
                    tail(&r.log, 15)
                );
            }
        }
        Ok(())
    }

    /// Wait until site `p` answers `/readyz`.
    pub(crate) async fn wait_ready(&mut self, p: &SitePlan) -> anyhow::Result<()> {
        self.wait_url(&p.name, &format!("{}/readyz", p.url())).await
    }

    /// Wait until `url` (the `/readyz` of `name`) answers 2xx.
    async fn wait_url(&mut self, name: &str, url: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            self.exited()?;
            if let Ok(r) = reqwest::get(url).await
                && r.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!(
                    "SITE_NOT_READY: {name} did not answer {url} within {} s",
                    READY_TIMEOUT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until site `p` holds `origin` up to `seq` (its sync status).
    async fn wait_synced(&mut self, p: &SitePlan, origin: &str, seq: u64) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut last: String;
        loop {
            self.exited()?;
            match super::sync::fetch_status(&p.url()).await {
                Ok(st) => {
                    let o = st.origins.iter().find(|o| o.origin == origin);
                    if o.is_some_and(|o| o.seq >= seq) {
                        eprintln!(
                            "einvoice: {} holds {origin} up to entry {seq} ({:.1} s)",
                            p.name,
                            started.elapsed().as_secs_f64()
                        );
                        return Ok(());
                    }
                    last = describe(&st, origin);
                }
                Err(e) => last = e.to_string(),
            }
            if started.elapsed() > SYNC_TIMEOUT {
                bail!(
                    "SITE_NOT_SYNCED: site {} did not reach entry {seq} of {origin} within {} s: {last}",
                    p.name,
                    SYNC_TIMEOUT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Serve until Ctrl-C / SIGTERM (exit 0) or until a site exits (an error).
    async fn run(mut self) -> anyhow::Result<ExitCode> {
        let stop = shutdown_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return Ok(ExitCode::SUCCESS),
                () = tokio::time::sleep(Duration::from_millis(500)) => self.exited()?,
            }
        }
    }
}

impl Drop for Sites {
    fn drop(&mut self) {
        for r in &mut self.0 {
            drop(r.child.stdin.take());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for r in &mut self.0 {
            while Instant::now() < deadline && matches!(r.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(r.child.try_wait(), Ok(None)) {
                let _ = r.child.kill();
            }
            let _ = r.child.wait();
        }
    }
}

fn describe(st: &SyncStatus, origin: &str) -> String {
    match st.origins.iter().find(|o| o.origin == origin) {
        None => format!("{} has no entry of {origin} yet", st.site),
        Some(o) => match &o.last_error {
            Some(e) => format!(
                "{} holds {origin} to {}; {}: {}",
                st.site, o.seq, e.code, e.message
            ),
            None => format!("{} holds {origin} to {}", st.site, o.seq),
        },
    }
}

/// The last `n` lines of a file (for a site that stopped).
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn print_banner(c: &DemoCredentials, plans: &[SitePlan], data: &Path, creds: &Path) {
    println!(
        "einvoice: {} sites running  (Ctrl-C to stop them all)\n",
        plans.len()
    );
    for p in plans {
        let what = if p.role == "main" {
            "issuance, operators, apps and keys, the draw"
        } else {
            "citizens, apps, public lookup, sellers' reads"
        };
        println!("  {:<8} {:<24} role {:<6} {what}", p.name, p.url(), p.role);
    }
    println!(
        "\n  each site: {}/SITE/einvoice.toml, its log in {}/SITE/site.log",
        data.display(),
        data.display()
    );
    println!("  deployment CA: {}", data.join("ca").display());
    let cloud = plans.get(1).map(SitePlan::url).unwrap_or_default();
    print_welcome(c, creds);
    println!("Against a cloud site:");
    println!(
        "  curl -s -X POST {cloud}/v1/carrier/login -H 'content-type: application/json' \\\n    -d '{{\"carrier_type\":\"{}\",\"carrier_id\":\"{}\",\"verification_code\":\"{}\"}}'",
        c.carrier.kind, c.carrier.id, c.carrier.verification_code
    );
    let urls: Vec<String> = plans.iter().map(|p| format!("--url {}", p.url())).collect();
    println!("  einvoice sync status --url {cloud}");
    println!("  einvoice sync verify {}", urls.join(" "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ports_and_configs() {
        assert_eq!(site_names(3), ["main", "cloud-a", "cloud-b"]);
        let plans = plan_sites(3, "127.0.0.1:8080").expect("plan");
        let ports: Vec<(u16, u16)> = plans
            .iter()
            .map(|p| (p.listen.port(), p.peer.port()))
            .collect();
        assert_eq!(ports, [(8080, 8180), (8081, 8181), (8082, 8182)]);
        assert!(plan_sites(3, "localhost:8080").is_err());
        assert!(plan_sites(3, "127.0.0.1:65500").is_err());
        let free = plan_sites(3, "127.0.0.1:0").expect("free ports");
        let mut all: Vec<u16> = free
            .iter()
            .flat_map(|p| [p.listen.port(), p.peer.port()])
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 6);
        assert!(all.iter().all(|p| *p != 0));

        let dir = Path::new("/d/cloud-a");
        let text = site_config(&plans[1], &plans, dir, Path::new("/d/ca"), false);
        let cfg = einvoice_server::FileConfig::from_toml(&text).expect("a valid configuration");
        assert_eq!(cfg.site, "cloud-a");
        assert_eq!(cfg.role, einvoice_server::role::Role::Cloud);
        assert_eq!(cfg.main_url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(cfg.sync.upstreams, ["https://127.0.0.1:8180"]);
        assert_eq!(cfg.sync.listen.as_deref(), Some("127.0.0.1:8181"));
        assert!(cfg.app_api.require_signature);
        cfg.check().expect("checks");
        let main = einvoice_server::FileConfig::from_toml(&site_config(
            &plans[0],
            &plans,
            Path::new("/d/main"),
            Path::new("/d/ca"),
            false,
        ))
        .expect("main");
        assert_eq!(
            main.sync.upstreams,
            ["https://127.0.0.1:8181", "https://127.0.0.1:8182"]
        );
        assert_eq!(main.main_url, None);
    }
}
