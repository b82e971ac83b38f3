//! A throw-away PostgreSQL cluster for tests (feature `test-support`).
//!
//! [`PgCluster::start`] runs Debian's server binaries
//! (`/usr/lib/postgresql/*/bin/initdb` and `pg_ctl`, or the directory in
//! `EINVOICE_PG_BIN`) into a fresh temporary directory. The server listens on
//! a unix socket inside that directory only (no TCP port, so clusters of
//! concurrent test runs cannot collide). `initdb` refuses to run as root, so
//! when the tests run as root (as they do in CI) the binaries run as the
//! `postgres` system user through `runuser`, with the directory chowned to it.
//! The cluster is stopped and its directory removed on drop; clusters left
//! behind by a killed test process are removed by the next start.
//!
//! Missing binaries are an error that says `apt-get install postgresql`:
//! tests fail, they never skip silently.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Why a cluster could not be started or managed.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// No `initdb` under `/usr/lib/postgresql/*/bin` (or `EINVOICE_PG_BIN`).
    #[error(
        "PostgreSQL server binaries not found (looked for /usr/lib/postgresql/*/bin/initdb and $EINVOICE_PG_BIN): apt-get install postgresql"
    )]
    MissingBinaries,
    /// Running as root, but there is no `postgres` user to run the server as.
    #[error(
        "running as root needs the `postgres` system user to run initdb/postgres (apt-get install postgresql creates it)"
    )]
    NoPostgresUser,
    /// A command failed.
    #[error("{command} failed: {detail}")]
    Command {
        /// What was run.
        command: String,
        /// Its exit status and output.
        detail: String,
    },
    /// A filesystem operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// Talking to the cluster failed.
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}

/// The port number in the socket's name (`.s.PGSQL.<port>`); the socket
/// lives in the cluster's own directory, so every cluster can use the same one.
const PORT: u16 = 5432;
const PREFIX: &str = "einvoice-pg-";

/// A running throw-away cluster.
#[derive(Debug)]
pub struct PgCluster {
    root: PathBuf,
    bin: PathBuf,
    /// (uid, gid) of `postgres` when we are root.
    run_as: Option<(u32, u32)>,
    next_db: AtomicU32,
    /// The port (of the unix socket's name, and of TCP when `tls`).
    port: u16,
    /// Also listening on 127.0.0.1:`port`, TLS only (`hostssl` in pg_hba.conf).
    tls: bool,
}

impl PgCluster {
    /// Create and start a new cluster in a fresh temporary directory.
    pub fn start() -> Result<Self, HarnessError> {
        Self::start_with(None)
    }

    /// A cluster that also listens on `127.0.0.1` ([`PgCluster::tcp_port`])
    /// with `ssl = on`, the PEM certificate chain `cert` and key `key`, and a
    /// `pg_hba.conf` that admits TCP clients over TLS only (`hostssl`; no
    /// `host` line), trust authentication; the unix socket stays as usual.
    pub fn start_tls(cert: &str, key: &str) -> Result<Self, HarnessError> {
        Self::start_with(Some((cert, key)))
    }

    /// The TCP port of a [`PgCluster::start_tls`] cluster.
    pub fn tcp_port(&self) -> Option<u16> {
        self.tls.then_some(self.port)
    }

    fn start_with(tls: Option<(&str, &str)>) -> Result<Self, HarnessError> {
        let bin = find_bin_dir()?;
        remove_stale_clusters(&bin);
        let run_as = if is_root() {
            Some(postgres_ids()?)
        } else {
            None
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("sock")).map_err(io("create the cluster directory"))?;
        let port = match tls {
            None => PORT,
            Some(_) => std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .map_err(io("find a free TCP port"))?,
        };
        let cluster = Self {
            root,
            bin,
            run_as,
            next_db: AtomicU32::new(0),
            port,
            tls: tls.is_some(),
        };
        if let Some((uid, gid)) = run_as {
            for p in [cluster.root.clone(), cluster.root.join("sock")] {
                std::os::unix::fs::chown(&p, Some(uid), Some(gid))
                    .map_err(io(format!("chown {} to postgres", p.display())))?;
            }
        }
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        if let Some((cert, key)) = tls {
            for (name, text, mode) in [
                ("server.crt", cert, 0o644),
                ("server.key", key, 0o600),
                (
                    "pg_hba.conf",
                    "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
                    0o600,
                ),
            ] {
                use std::os::unix::fs::PermissionsExt;
                let p = data.join(name);
                std::fs::write(&p, text).map_err(io(format!("write {}", p.display())))?;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                    .map_err(io(format!("chmod {}", p.display())))?;
                if let Some((uid, gid)) = run_as {
                    std::os::unix::fs::chown(&p, Some(uid), Some(gid))
                        .map_err(io(format!("chown {} to postgres", p.display())))?;
                }
            }
        }
        cluster.resume()?;
        Ok(cluster)
    }

    /// The process-wide shared cluster (started on first use, stopped and
    /// removed when the process exits). Panics with the reason, e.g.
    /// `apt-get install postgresql`, when it cannot start.
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(|| {
            let c = PgCluster::start().unwrap_or_else(|e| panic!("PostgreSQL test cluster: {e}"));
            extern "C" fn stop_shared() {
                if let Some(c) = SHARED.get() {
                    c.destroy();
                }
            }
            // SAFETY: registers a plain `extern "C" fn` without arguments,
            // run once by the C runtime when the process exits.
            unsafe {
                libc::atexit(stop_shared);
            }
            c
        })
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The directory holding the server's unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    /// A connection string for database `db` (superuser `postgres`, trust auth).
    pub fn url(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={db}",
            self.socket_dir().display(),
            self.port
        )
    }

    /// A connected client on database `db`; its connection task runs on the
    /// current Tokio runtime.
    pub async fn client(&self, db: &str) -> Result<tokio_postgres::Client, HarnessError> {
        let (client, conn) = tokio_postgres::connect(&self.url(db), tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// Create a fresh, empty database and return its connection string.
    pub async fn create_database(&self) -> Result<String, HarnessError> {
        let name = format!("t{}", self.next_db.fetch_add(1, Ordering::SeqCst));
        let c = self.client("postgres").await?;
        c.batch_execute(&format!("CREATE DATABASE {name}")).await?;
        Ok(self.url(&name))
    }

    /// Stop the server (`pg_ctl stop -m fast`: sessions are ended, nothing
    /// waits for clients) and keep the data; [`PgCluster::resume`] starts it again.
    pub fn stop(&self) -> Result<(), HarnessError> {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &["-D", path_str(&data)?, "-m", "fast", "-w", "stop"],
        )?;
        Ok(())
    }

    /// Start the server (again) on the same data and socket.
    pub fn resume(&self) -> Result<(), HarnessError> {
        let (data, log, sock) = (
            self.data_dir(),
            self.root.join("server.log"),
            self.socket_dir(),
        );
        let listen = if self.tls {
            "-c listen_addresses='127.0.0.1' -c ssl=on -c ssl_cert_file=server.crt \
             -c ssl_key_file=server.key"
        } else {
            "-c listen_addresses=''"
        };
        let opts = format!(
            "-k {} -p {} {listen} -c fsync=off -c full_page_writes=off \
             -c max_connections=200 -c shared_buffers=64MB",
            path_str(&sock)?,
            self.port
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data)?,
                "-l",
                path_str(&log)?,
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .map_err(|e| {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: String = tail
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            HarnessError::Command {
                command: "pg_ctl start".into(),
                detail: format!("{e}\nserver log:\n{tail}"),
            }
        })?;
        Ok(())
    }

    /// Stop immediately and remove the directory (what drop does).
    fn destroy(&self) {
        if let Ok(data) = path_str(&self.data_dir()) {
            let _ = self.run("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }

    /// Run one of the server binaries, as `postgres` when we are root.
    fn run(&self, program: &str, args: &[&str]) -> Result<Output, HarnessError> {
        run_bin(&self.bin, self.run_as.is_some(), &self.root, program, args)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.destroy();
    }
}

fn path_str(p: &Path) -> Result<&str, HarnessError> {
    p.to_str().ok_or_else(|| HarnessError::Io {
        what: format!("path {} is not UTF-8", p.display()),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })
}

fn run_bin(
    bin: &Path,
    as_postgres: bool,
    cwd: &Path,
    program: &str,
    args: &[&str],
) -> Result<Output, HarnessError> {
    let exe = bin.join(program);
    let mut cmd = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(args)
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null());
    let shown = format!("{} {}", exe.display(), args.join(" "));
    let out = cmd.output().map_err(io(format!("run {shown}")))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(HarnessError::Command {
            command: shown,
            detail: format!(
                "{}\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }
}

/// `$EINVOICE_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin` with an `initdb`.
fn find_bin_dir() -> Result<PathBuf, HarnessError> {
    if let Some(dir) = std::env::var_os("EINVOICE_PG_BIN") {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(HarnessError::MissingBinaries)
        };
    }
    let mut best: Option<(u32, PathBuf)> = None;
    for entry in std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| HarnessError::MissingBinaries)?
        .flatten()
    {
        let bin = entry.path().join("bin");
        let version = entry
            .file_name()
            .to_str()
            .and_then(|v| v.split('.').next()?.parse::<u32>().ok());
        if let Some(v) = version
            && bin.join("initdb").is_file()
            && best.as_ref().is_none_or(|(b, _)| v > *b)
        {
            best = Some((v, bin));
        }
    }
    best.map(|(_, b)| b).ok_or(HarnessError::MissingBinaries)
}

/// The effective uid is the owner of `/proc/self`.
fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// uid and gid of the `postgres` user, from `/etc/passwd`.
fn postgres_ids() -> Result<(u32, u32), HarnessError> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(io("read /etc/passwd"))?;
    passwd
        .lines()
        .find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.first() == Some(&"postgres") && f.len() > 3 {
                Some((f[2].parse().ok()?, f[3].parse().ok()?))
            } else {
                None
            }
        })
        .ok_or(HarnessError::NoPostgresUser)
}

/// Stop and remove clusters whose test process is gone (killed before its
/// exit handlers ran).
fn remove_stale_clusters(bin: &Path) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let as_postgres = is_root();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let root = entry.path();
        let data = root.join("data");
        if data.join("postmaster.pid").exists()
            && let Some(d) = data.to_str()
        {
            let _ = run_bin(
                bin,
                as_postgres,
                &root,
                "pg_ctl",
                &["-D", d, "-m", "immediate", "-w", "stop"],
            );
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
