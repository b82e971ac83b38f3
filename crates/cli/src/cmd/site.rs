//! `serve`, `up` and `demo seed`: running a site and filling it with demo data.

use super::store_args::{self, DatabaseUrl, Open, StoreArgs, runtime, with_store};
use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use einvoice_core::time::OffsetDateTime;
use einvoice_core::{Period, Rules};
use einvoice_secrets::Sealer;
use einvoice_server::config::{FileConfig, is_loopback};
use einvoice_server::demo::{self, DemoCredentials, InvoiceGen, OperatorCredentials, Plan};
use einvoice_server::ops;
use einvoice_server::{SiteOptions, router, serve as serve_site};
use einvoice_store::Store;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// `einvoice serve`
#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML; see the server crate's `config` module). Defaults apply without one.
    #[arg(long, env = "EINVOICE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen address (overrides the file and EINVOICE_LISTEN).
    #[arg(long)]
    pub listen: Option<String>,
    /// Data directory (overrides the file and EINVOICE_DATA).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// PostgreSQL instead of the data directory's SQLite file: `postgres://…`
    /// or `host=… dbname=…` (overrides the file and EINVOICE_DATABASE).
    // Not [`StoreArgs`]: serve's flags override a configuration file, so
    // they have no defaults of their own. The value obeys the same rule.
    #[arg(long, value_name = "URL")]
    pub database: Option<DatabaseUrl>,
    /// Stop when standard input reaches its end: `einvoice up --sites N`
    /// starts its sites with this and holds their standard input, so a site
    /// never outlives the `up` that started it (even one killed with -9).
    #[arg(long, hide = true)]
    pub exit_on_stdin_eof: bool,
}

/// `einvoice up [--data DIR] [--database URL] [--listen ADDR]`
#[derive(Args)]
pub struct UpArgs {
    /// Where the store is: the data directory (created; it keeps the master
    /// key and `demo-credentials.json`) and, with `--database`, PostgreSQL.
    /// Demo data is added on first start.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Invoices to generate on first start.
    #[arg(long, default_value_t = 2_000)]
    pub invoices: u64,
    /// Serve plain HTTP on a non-loopback address.
    #[arg(long)]
    pub allow_plain_http: bool,
    /// Sites to start: 1 is one main site (as always); N > 1 starts `main`
    /// and N - 1 cloud sites (`cloud-a`, `cloud-b`, …), each its own process,
    /// data directory (`DIR/SITE`) and port (`--listen`'s port + i; the peer
    /// listeners at + 100 + i; port 0 picks free ports), synced over mutual
    /// TLS under a deployment CA in `DIR/ca`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=27))]
    pub sites: u8,
}

/// `einvoice demo …`
#[derive(Subcommand)]
pub enum DemoCommand {
    /// Generate synthetic data at any scale straight into a site's store.
    Seed(SeedArgs),
}

/// `einvoice demo seed`
#[derive(Args)]
pub struct SeedArgs {
    /// Where the store is (the master key stays in the data directory).
    #[command(flatten)]
    pub store: StoreArgs,
    /// Number of invoices.
    #[arg(long, default_value_t = 10_000)]
    pub invoices: u64,
    /// Number of sellers (1 to 676).
    #[arg(long, default_value_t = 20)]
    pub sellers: usize,
    /// Period (YYYMM); the current one by default.
    #[arg(long)]
    pub period: Option<String>,
    /// Generator seed (the same seed gives the same invoices).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Messages per append transaction.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
}

fn load_config(a: &ServeArgs) -> anyhow::Result<FileConfig> {
    let mut cfg = match &a.config {
        Some(p) => FileConfig::from_toml(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        )?,
        None => FileConfig::default(),
    };
    cfg.apply_env(|k| std::env::var(k).ok())?;
    if let Some(l) = &a.listen {
        cfg.listen = l.clone();
    }
    if let Some(d) = &a.data {
        cfg.data = d.clone();
    }
    if let Some(url) = &a.database {
        cfg.database = Some(url.as_str().to_string());
    }
    cfg.check()?;
    Ok(cfg)
}

/// Resolves on Ctrl-C or SIGTERM, or (with `watch_stdin`) when standard
/// input reaches its end.
pub(crate) async fn shutdown_on(watch_stdin: bool) {
    if !watch_stdin {
        return shutdown_signal().await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    tokio::select! {
        () = shutdown_signal() => {},
        _ = rx => eprintln!("einvoice: standard input closed (the `up` that started this site is gone): shutting down"),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("einvoice: shutting down (finishing requests in flight)");
}

/// Serve `store` until Ctrl-C / SIGTERM.
/// `backend` says what holds the store (`PostgreSQL`, `SQLite in DIR`).
async fn run_site<S: Store>(
    store: S,
    cfg: FileConfig,
    key: [u8; 32],
    backend: String,
    watch_stdin: bool,
) -> anyhow::Result<ExitCode> {
    // Mail (registration codes, notices) leaves through `[smtp]`; without it
    // the routes that need mail answer MAIL_NOT_CONFIGURED.
    let mail = match &cfg.smtp.url {
        Some(url) => Some(einvoice_server::mail::MailSender::new(
            url,
            cfg.smtp
                .from
                .as_deref()
                .unwrap_or(einvoice_server::mail::DEFAULT_FROM),
        )?),
        None => None,
    };
    let opts = SiteOptions {
        rules: if cfg.sandbox {
            Rules::sandbox()
        } else {
            Rules::production()
        },
        limits: cfg.limits.clone(),
        role: std::sync::Arc::new(cfg.site_role()),
        app_api: einvoice_server::app_api::AppApiConfig {
            require_signature: cfg.app_api.require_signature,
            mail_from: mail.as_ref().map(|m| m.from_address()),
            ..Default::default()
        },
        uploads: cfg.upload_options(),
        soc: einvoice_server::soc::SecurityEvents::open(Some(&cfg.data))
            .with_context(|| format!("cannot open the SOC event log in {}", cfg.data.display()))?,
        ..SiteOptions::default()
    };
    if let Some(c) = &cfg.scanner.clamd {
        eprintln!("einvoice: uploads scanned by clamd at {c}");
    }
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => Some(einvoice_server::tls::server_config(c, k)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    eprintln!(
        "einvoice: site {:?} serving {}://{} ({})",
        cfg.site,
        if tls.is_some() { "https" } else { "http" },
        listener.local_addr()?,
        backend
    );
    if cfg.webhook_url.is_some() {
        let secret = std::env::var("EINVOICE_WEBHOOK_SECRET").unwrap_or_default();
        if let Some(wh) = cfg.webhook(secret.as_bytes())? {
            // Built now so that a TLS setup problem stops `serve` at start.
            let client = wh.client()?;
            eprintln!(
                "einvoice: delivering winner notifications to {} (worker {})",
                wh.display_url(),
                wh.worker
            );
            tokio::spawn(einvoice_server::webhook::run(
                store.clone(),
                wh,
                client,
                std::future::pending::<()>(),
            ));
        }
    }
    if let Some(m) = mail {
        eprintln!("einvoice: sending mail through SMTP (worker {})", m.worker);
        tokio::spawn(einvoice_server::mail::run(
            store.clone(),
            m,
            std::future::pending::<()>(),
        ));
    }
    let soc = opts.soc.clone();
    let failures = einvoice_sync::pull::ApplyFailures::default();
    let app =
        router(store.clone(), Sealer::new(&key), opts).layer(axum::Extension(failures.clone()));
    crate::cmd::sync::start(
        &cfg.sync,
        store,
        Sealer::new(&key),
        app.clone(),
        soc,
        failures,
    )
    .await?;
    match tls {
        Some(t) => {
            einvoice_server::tls::serve_tls_with(
                listener,
                app,
                t,
                cfg.edge,
                shutdown_on(watch_stdin),
            )
            .await?
        }
        None => {
            einvoice_server::serve_with(listener, app, cfg.edge, shutdown_on(watch_stdin)).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `serve`. With `database = "postgres://…"` (or `--database`) several
/// nodes can serve one site from one database; give each node the same
/// `master.key` in its data directory (secrets are sealed with it).
pub fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let cfg = load_config(&a)?;
    let database: Option<DatabaseUrl> = cfg.database.as_deref().map(str::parse).transpose()?;
    let key = store_args::master_key(&cfg.data)?;
    let watch_stdin = a.exit_on_stdin_eof;
    runtime()?.block_on(async move {
        let store = store_args::open(&cfg.data, database.as_ref(), &cfg.site, Open::Create).await?;
        let backend = store.describe(&cfg.data);
        with_store!(store, s => run_site(s, cfg, key, backend, watch_stdin).await)
    })
}

/// The period of today's date in Taiwan (UTC+8).
pub(crate) fn current_period() -> anyhow::Result<(Period, einvoice_core::time::Date)> {
    let offset = einvoice_core::time::UtcOffset::from_hms(8, 0, 0).map_err(|e| anyhow!("{e}"))?;
    let today = OffsetDateTime::now_utc().to_offset(offset).date();
    let p = Period::of_date(today).ok_or_else(|| anyhow!("today has no period"))?;
    Ok((p, today))
}

fn progress(n: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(n);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {what} ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Write a file readable only by its owner: a new temporary file beside it
/// (created 0600 by tempfile), synced, then renamed over `path` — an old
/// file's wider mode never survives and a crash leaves the old or the new
/// file whole.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".einvoice-credentials-")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub(crate) async fn seed<S: Store>(
    store: &S,
    plan: Plan,
    sellers: Vec<demo::DemoSeller>,
    last_day: einvoice_core::time::Date,
    batch: usize,
) -> anyhow::Result<demo::SeedStats> {
    let generator = InvoiceGen::new(plan, sellers, last_day);
    let bar = progress(plan.invoices, "invoices");
    let stats = demo::seed_invoices(store, &generator, 0..plan.invoices, batch, |done| {
        bar.set_position(done)
    })
    .await?;
    bar.finish_and_clear();
    Ok(stats)
}

/// Run `up`.
pub fn up(a: UpArgs) -> anyhow::Result<ExitCode> {
    if a.sites > 1 {
        return super::sites_up::up_sites(a);
    }
    if !a.allow_plain_http && !is_loopback(&a.listen) {
        bail!(
            "PLAIN_HTTP_REFUSED: {} is not a loopback address; use --allow-plain-http behind a TLS proxy",
            a.listen
        );
    }
    let sealer = Sealer::new(&a.store.master_key()?);
    runtime()?.block_on(async move {
        let store = a.store.open("main", Open::Create).await?;
        with_store!(store, s => up_on(s, sealer, &a).await)
    })
}

/// Seed `store` with the demo on first start, write the credentials and serve
/// it. A start is a first start when the data directory has no
/// `demo-credentials.json` yet, or when the store holds no ledger at all
/// (the credentials were written for another store: `up` on SQLite, then
/// `up --database` with the same `--data`).
async fn up_on<S: Store>(store: S, sealer: Sealer, a: &UpArgs) -> anyhow::Result<ExitCode> {
    let creds_path = a.store.data.join("demo-credentials.json");
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let mut creds: DemoCredentials = if creds_path.exists()
        && !store
            .origins()
            .await
            .map_err(|e| anyhow!("{e}"))?
            .is_empty()
    {
        let text = std::fs::read(&creds_path)?;
        serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a demo credentials file", creds_path.display()))?
    } else {
        let (period, today) = current_period()?;
        let plan = Plan {
            period,
            sellers: 5,
            invoices: a.invoices,
            seed: 1,
        };
        eprintln!(
            "einvoice: first start — creating demo data in {}",
            match &a.store.database {
                Some(_) => "PostgreSQL".to_string(),
                None => a.store.data.display().to_string(),
            }
        );
        let (sellers, mut creds) = demo::provision(&store, &sealer, &plan, 200).await?;
        let stats = seed(&store, plan, sellers, today, 500).await?;
        eprintln!(
            "einvoice: {} messages accepted ({} rejected)",
            stats.accepted, stats.rejected
        );
        if store.operator_count().await? == 0 {
            let s = ops::bootstrap_operator(&store, &sealer, "demo")
                .await
                .map_err(|e| anyhow!("{e}"))?;
            creds.operator = Some(OperatorCredentials {
                name: "demo".into(),
                password: s.password,
                totp_secret: s.totp_secret_base32,
            });
        }
        creds
    };
    creds.base_url = base_url;
    write_private(&creds_path, &serde_json::to_vec_pretty(&creds)?)?;
    print_welcome(&creds, &creds_path);
    // The demo's mail (registration codes, notices) goes to a local SMTP
    // catcher (`python3 -m aiosmtpd -n -l 127.0.0.1:2525`, or
    // EINVOICE_SMTP_URL); while none listens, it waits in the outbox.
    let smtp_url =
        std::env::var("EINVOICE_SMTP_URL").unwrap_or_else(|_| "smtp://127.0.0.1:2525".into());
    let mail = einvoice_server::mail::MailSender::new(
        &smtp_url,
        "einvoice demo <noreply@einvoice.localhost>",
    )?;
    println!("  mail      {smtp_url} (registration codes; run a local SMTP catcher to read them)");
    let mail_from = Some(mail.from_address());
    tokio::spawn(einvoice_server::mail::run(
        store.clone(),
        mail,
        std::future::pending::<()>(),
    ));
    serve_site(
        listener,
        router(
            store,
            sealer,
            // A new site: App API signatures are mandatory.
            SiteOptions {
                app_api: einvoice_server::app_api::AppApiConfig {
                    require_signature: true,
                    mail_from,
                    ..Default::default()
                },
                uploads: demo_upload_options()?,
                soc: einvoice_server::soc::SecurityEvents::open(Some(&a.store.data))?,
                ..SiteOptions::default()
            },
        ),
        shutdown_signal(),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The demo's uploads: scanned by the clamd named in `EINVOICE_CLAMD`, if
/// any (otherwise `POST /v1/uploads` answers 503, as on any site without a
/// scanner).
fn demo_upload_options() -> anyhow::Result<einvoice_server::uploads::UploadOptions> {
    let mut cfg = FileConfig::default();
    cfg.apply_env(|k| {
        (k == "EINVOICE_CLAMD")
            .then(|| std::env::var(k).ok())
            .flatten()
    })?;
    Ok(cfg.upload_options())
}

pub(crate) fn print_welcome(c: &DemoCredentials, path: &Path) {
    let p = path.display();
    println!("einvoice is running at {}  (Ctrl-C to stop)\n", c.base_url);
    println!(
        "  seller    UBN {}  key id {}  secret {}",
        c.seller.ubn, c.seller.key_id, c.seller.secret
    );
    println!(
        "  carrier   {} {}  verification code {}",
        c.carrier.kind, c.carrier.id, c.carrier.verification_code
    );
    println!(
        "  app       appID {}  API key {}",
        c.app.app_id, c.app.api_key
    );
    if let Some(o) = &c.operator {
        println!(
            "  operator  {}  password {}  TOTP secret {}",
            o.name, o.password, o.totp_secret
        );
    }
    println!("\nAPI reference: {}/docs", c.base_url);
    println!("\nThe same as JSON: {p}\n\nTry:");
    println!("  curl {}/healthz", c.base_url);
    println!("  einvoice client --credentials {p} whoami");
    println!(
        "  einvoice client --credentials {p} list {} --period {}",
        c.seller.ubn, c.period
    );
    println!(
        "  curl -s -X POST {}/v1/carrier/login -H 'content-type: application/json' \\\n    -d '{{\"carrier_type\":\"{}\",\"carrier_id\":\"{}\",\"verification_code\":\"{}\"}}'",
        c.base_url, c.carrier.kind, c.carrier.id, c.carrier.verification_code
    );
}

/// Run a `demo` command.
pub fn demo(c: DemoCommand) -> anyhow::Result<ExitCode> {
    let DemoCommand::Seed(a) = c;
    let (period, last_day) = match &a.period {
        Some(p) => {
            let p = Period::parse(p).map_err(|v| anyhow!("{v}"))?;
            (p, p.last_day())
        }
        None => current_period()?,
    };
    let sealer = Sealer::new(&a.store.master_key()?);
    let plan = Plan {
        period,
        sellers: a.sellers,
        invoices: a.invoices,
        seed: a.seed,
    };
    runtime()?.block_on(async move {
        let store = a.store.open("main", Open::Create).await?;
        with_store!(&store, s => seed_demo(s, &sealer, plan, last_day, a.batch).await)
    })
}

/// `demo seed` on an opened store: provision the demo sellers, seed the
/// invoices and print what was accepted.
async fn seed_demo<S: Store>(
    store: &S,
    sealer: &Sealer,
    plan: Plan,
    last_day: einvoice_core::time::Date,
    batch: usize,
) -> anyhow::Result<ExitCode> {
    let period = plan.period;
    let (sellers, creds) = demo::provision(store, sealer, &plan, 100).await?;
    let started = Instant::now();
    let stats = seed(store, plan, sellers, last_day, batch).await?;
    let secs = started.elapsed().as_secs_f64();
    let out = serde_json::json!({
        "period": period.to_string(),
        "invoices": plan.invoices,
        "accepted": stats.accepted,
        "duplicates": stats.duplicates,
        "rejected": stats.rejected,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "messages_per_s": ((stats.accepted + stats.duplicates) as f64 / secs.max(1e-9)).round(),
        "seller": creds.seller,
        "carrier": creds.carrier,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(if stats.rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
