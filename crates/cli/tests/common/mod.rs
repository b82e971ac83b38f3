//! What the site tests share: the binary, a running site that is killed when
//! the test ends, `einvoice up` / `einvoice serve` started and waited for,
//! `einvoice client` and a plain HTTP GET.
#![allow(dead_code)] // each test file uses its own part

pub mod proxy;
pub mod sites;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The `einvoice` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_einvoice"))
}

/// Assert that `out` exited 0, showing its standard error otherwise.
pub fn assert_success(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// [`assert_success`], then the JSON of the last line `out` printed (null
/// when there is none, or it is not JSON).
pub fn ok(out: &Output) -> Value {
    assert_success(out);
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or("null");
    serde_json::from_str(last).unwrap_or(Value::Null)
}

/// Run `einvoice ARGS…` in `dir` to completion.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin().current_dir(dir).args(args).output().expect("run")
}

/// [`run_in`] as operator `user` (`$USER`, who the ledger names).
pub fn run_as(user: &str, dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .env("USER", user)
        .args(args)
        .output()
        .expect("run")
}

/// [`assert_success`], then everything `out` printed on standard output.
pub fn stdout_ok(out: &Output) -> String {
    assert_success(out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills the site when the test ends, pass or fail.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `einvoice client --credentials CREDS ARGS…`: its exit code and the JSON it printed.
pub fn client(creds: &Path, args: &[&str]) -> (i32, Value) {
    client_under(&[], creds, args)
}

/// `einvoice` under a wrapper command (`faketime -f +2h`, …), or itself
/// when `wrapper` is empty.
pub fn bin_under(wrapper: &[&str]) -> Command {
    match wrapper.split_first() {
        None => bin(),
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin().get_program());
            c
        }
    }
}

/// [`client`] under a wrapper command ([`bin_under`]).
pub fn client_under(wrapper: &[&str], creds: &Path, args: &[&str]) -> (i32, Value) {
    let out = bin_under(wrapper)
        .arg("client")
        .arg("--credentials")
        .arg(creds)
        .args(args)
        .output()
        .expect("run client");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "client {args:?} printed no JSON: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// Start `cmd` and wait (up to two minutes) for the first line of its
/// standard output (`stdout`) or error (otherwise) that contains `marker`;
/// the rest of that stream keeps being drained so the site never blocks on
/// a full pipe. Returns the running site and the text after `marker`.
pub fn start_until(mut cmd: Command, stdout: bool, marker: &'static str) -> (Running, String) {
    let (out, err) = if stdout {
        (Stdio::piped(), Stdio::null())
    } else {
        (Stdio::null(), Stdio::piped())
    };
    let mut child = cmd.stdout(out).stderr(err).spawn().expect("start einvoice");
    let stream: Box<dyn Read + Send> = if stdout {
        Box::new(child.stdout.take().expect("stdout"))
    } else {
        Box::new(child.stderr.take().expect("stderr"))
    };
    let site = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(rest) = line.split(marker).nth(1) {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    let rest = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("einvoice never printed {marker:?}"));
    (site, rest)
}

/// `einvoice up --listen 127.0.0.1:0 --invoices N --data DATA EXTRA…`, waited
/// for until it serves: the running site, its credentials file and what it holds.
pub fn up(data: &Path, invoices: &str, extra: &[&str]) -> (Running, PathBuf, Value) {
    let mut cmd = bin();
    cmd.args(["up", "--listen", "127.0.0.1:0", "--invoices", invoices])
        .arg("--data")
        .arg(data)
        .args(extra);
    let (site, _) = start_until(cmd, true, "einvoice is running at ");
    let creds_path = data.join("demo-credentials.json");
    let creds: Value =
        serde_json::from_slice(&std::fs::read(&creds_path).expect("credentials written"))
            .expect("credentials JSON");
    assert!(
        creds["base_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
        "{creds}"
    );
    (site, creds_path, creds)
}

/// `einvoice serve ARGS…`, waited for until it serves: the running site and
/// the rest of its banner (`ADDR (BACKEND)`, after `serving SCHEME://`).
pub fn serve(args: &[&str], scheme: &'static str, envs: &[(&str, &Path)]) -> (Running, String) {
    let mut cmd = bin();
    cmd.arg("serve").args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let marker = if scheme == "https" {
        "serving https://"
    } else {
        "serving http://"
    };
    start_until(cmd, false, marker)
}

/// `GET path` on `addr` (`host:port`) over plain HTTP/1.1: status and body.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
