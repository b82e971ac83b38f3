//! Exporters: JSON lines, RFC 5424 syslog over TCP (RFC 6587 octet
//! counting), and a signed webhook. Formatting is pure; each has one I/O
//! function.

use crate::log::EventRecord;
use hmac::{Hmac, KeyInit, Mac};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Errors of the exporters.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing or connecting.
    #[error("soc.export_io: {0}")]
    Io(#[from] io::Error),
    /// Serialising.
    #[error("soc.export_json: {0}")]
    Json(#[from] serde_json::Error),
    /// A syslog header field is not printable US-ASCII or too long.
    #[error("soc.syslog_field: {field} must be 1..={max} printable US-ASCII characters")]
    SyslogField {
        /// Which field.
        field: &'static str,
        /// Its RFC 5424 maximum.
        max: usize,
    },
    /// A facility outside 0..=23.
    #[error("soc.syslog_facility: {0} is not a facility (0..=23)")]
    Facility(u8),
    /// The webhook signature header is malformed.
    #[error("soc.webhook_header: the signature header is not `t=<unix s>,v1=<hex>`")]
    WebhookHeader,
    /// The webhook signature does not verify.
    #[error("soc.webhook_signature: the signature does not match the body and timestamp")]
    WebhookSignature,
    /// The webhook timestamp is outside the tolerance.
    #[error("soc.webhook_stale: the timestamp is {skew_s} s from now (tolerance {tolerance_s} s)")]
    WebhookStale {
        /// Distance from now.
        skew_s: u64,
        /// Allowed.
        tolerance_s: u64,
    },
    /// The webhook receiver answered with a non-2xx status.
    #[error("soc.webhook_status: the receiver answered {0}")]
    WebhookStatus(u16),
    /// The webhook URL is not `http://host[:port]/path`.
    #[error("soc.webhook_url: {0:?} is not http://host[:port]/path")]
    WebhookUrl(String),
    /// The TLS session to a syslog collector failed (its certificate does
    /// not verify for the name, or the handshake broke).
    #[error("soc.syslog_tls: {0}")]
    Tls(String),
}

/// One record as one JSON line (with the newline).
pub fn json_line(r: &EventRecord) -> Result<String, ExportError> {
    let mut s = serde_json::to_string(r)?;
    s.push('\n');
    Ok(s)
}

/// Write records as JSON lines.
pub fn write_json_lines<'a, W: Write>(
    out: &mut W,
    records: impl IntoIterator<Item = &'a EventRecord>,
) -> Result<usize, ExportError> {
    let mut n = 0;
    for r in records {
        out.write_all(json_line(r)?.as_bytes())?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

/// The fixed parts of an RFC 5424 header.
#[derive(Debug, Clone)]
pub struct SyslogFormat {
    facility: u8,
    hostname: String,
    app_name: String,
    procid: String,
}

/// Facility 10, security/authorization messages (RFC 5424 table 1: authpriv).
pub const FACILITY_AUTHPRIV: u8 = 10;

/// The structured-data id: `einvoice@32473` (32473 is the private enterprise
/// number reserved for documentation, RFC 5612).
pub const SD_ID: &str = "einvoice@32473";

fn header_field(s: &str, field: &'static str, max: usize) -> Result<String, ExportError> {
    if s.is_empty() {
        return Ok("-".into());
    }
    if s.len() > max || !s.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(ExportError::SyslogField { field, max });
    }
    Ok(s.to_owned())
}

impl SyslogFormat {
    /// Check the header fields (empty ones become the NILVALUE `-`).
    pub fn new(
        facility: u8,
        hostname: &str,
        app_name: &str,
        procid: &str,
    ) -> Result<Self, ExportError> {
        if facility > 23 {
            return Err(ExportError::Facility(facility));
        }
        Ok(Self {
            facility,
            hostname: header_field(hostname, "HOSTNAME", 255)?,
            app_name: header_field(app_name, "APP-NAME", 48)?,
            procid: header_field(procid, "PROCID", 128)?,
        })
    }

    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, where PRI
    /// is facility × 8 + the event's syslog severity, MSGID the event class,
    /// SD `[einvoice@32473 seq=.. hash=.. class=.. outcome=.. severity_id=..]`,
    /// and MSG the record as JSON, preceded by the UTF-8 BOM (RFC 5424 §6.4).
    pub fn format(&self, r: &EventRecord) -> Result<String, ExportError> {
        let e = &r.event;
        let pri = u16::from(self.facility) * 8 + u16::from(e.severity.syslog());
        let msg = serde_json::to_string(r)?;
        Ok(format!(
            "<{pri}>1 {ts} {host} {app} {proc} {msgid} [{SD_ID} seq=\"{seq}\" hash=\"{hash}\" class=\"{class}\" outcome=\"{outcome}\" severity_id=\"{sev}\"] \u{feff}{msg}",
            ts = rfc3339_ms(e.time_ms),
            host = self.hostname,
            app = self.app_name,
            proc = self.procid,
            msgid = e.class.name(),
            seq = r.seq,
            hash = crate::hex(&r.hash),
            class = sd_escape(e.class.name()),
            outcome = sd_escape(e.outcome.name()),
            sev = e.severity.id(),
        ))
    }
}

/// Escape an SD-PARAM value: `"`, `\` and `]` get a backslash (RFC 5424 §6.3.3).
pub fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `YYYY-MM-DDThh:mm:ss.sssZ` for unix milliseconds.
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            ms % 1000
        ),
        // Beyond year 9999: the NILVALUE.
        Err(_) => "-".into(),
    }
}

/// RFC 6587 octet-counting frame: `MSG-LEN SP SYSLOG-MSG`.
pub fn octet_frame(msg: &str) -> Vec<u8> {
    let mut out = format!("{} ", msg.len()).into_bytes();
    out.extend_from_slice(msg.as_bytes());
    out
}

/// Write records as octet-counted syslog frames to any stream (a TCP
/// stream here; a TLS stream, RFC 5425, from the caller); returns how many.
pub fn write_syslog_frames<'a, W: Write>(
    out: &mut W,
    format: &SyslogFormat,
    records: impl IntoIterator<Item = &'a EventRecord>,
) -> Result<usize, ExportError> {
    let mut n = 0;
    for r in records {
        out.write_all(&octet_frame(&format.format(r)?))?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

/// Send records to a syslog collector over TCP, octet-counted; returns how many.
pub fn send_syslog_tcp<'a>(
    addr: impl ToSocketAddrs,
    format: &SyslogFormat,
    records: impl IntoIterator<Item = &'a EventRecord>,
    timeout: Duration,
) -> Result<usize, ExportError> {
    let mut stream = connect(addr, timeout)?;
    write_syslog_frames(&mut stream, format, records)
}

/// Send records to a syslog collector over TLS (RFC 5425: TLS 1.2 or 1.3,
/// octet-counted frames), the collector's certificate verified against
/// `roots` for `server_name`; the session is closed with `close_notify`.
/// Returns how many were sent. A certificate that does not verify is an
/// [`ExportError::Tls`] before any record leaves.
pub fn send_syslog_tls<'a>(
    addr: impl ToSocketAddrs,
    server_name: &str,
    roots: rustls::RootCertStore,
    format: &SyslogFormat,
    records: impl IntoIterator<Item = &'a EventRecord>,
    timeout: Duration,
) -> Result<usize, ExportError> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ExportError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
        .map_err(|e| ExportError::Tls(format!("server name {server_name:?}: {e}")))?;
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
        .map_err(|e| ExportError::Tls(e.to_string()))?;
    let sock = connect(addr, timeout)?;
    sock.set_read_timeout(Some(timeout))?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    // Finish the handshake first: a bad certificate sends nothing.
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| ExportError::Tls(e.to_string()))?;
    }
    let n = write_syslog_frames(&mut tls, format, records)?;
    tls.conn.send_close_notify();
    tls.conn.complete_io(&mut tls.sock)?;
    // Read what the collector still sends (session tickets) until it
    // closes: closing with unread bytes would reset the connection under
    // the collector before it read the last frames. Its way of closing is
    // its own business: an error here loses nothing.
    let mut rest = Vec::new();
    let _ = io::Read::read_to_end(&mut tls, &mut rest);
    Ok(n)
}

/// A TCP stream to the first address of `addr` that answers, with a write timeout.
fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> Result<TcpStream, ExportError> {
    let mut last = None;
    let mut stream = None;
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = match stream {
        Some(s) => s,
        None => {
            return Err(ExportError::Io(last.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "no address to connect to")
            })));
        }
    };
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// The webhook signature header's name.
pub const SIGNATURE_HEADER: &str = "X-Einvoice-Soc-Signature";

fn webhook_mac(secret: &[u8], timestamp_s: u64, body: &[u8]) -> Hmac<sha2::Sha256> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(timestamp_s.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
/// "<t>." ‖ body)>`.
pub fn sign_webhook(secret: &[u8], timestamp_s: u64, body: &[u8]) -> String {
    let tag = webhook_mac(secret, timestamp_s, body)
        .finalize()
        .into_bytes();
    format!("t={timestamp_s},v1={}", crate::hex(&tag))
}

/// Verify a webhook: header well formed, timestamp within `tolerance_s` of
/// `now_s`, MAC compared in constant time (`Mac::verify_slice`).
pub fn verify_webhook(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_s: u64,
    tolerance_s: u64,
) -> Result<(), ExportError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v))
                if t.is_none() && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) =>
            {
                t = Some(v.parse::<u64>().map_err(|_| ExportError::WebhookHeader)?);
            }
            Some(("v1", v)) if v1.is_none() => {
                v1 = Some(crate::unhex(v).ok_or(ExportError::WebhookHeader)?);
            }
            _ => return Err(ExportError::WebhookHeader),
        }
    }
    let (Some(t), Some(tag)) = (t, v1) else {
        return Err(ExportError::WebhookHeader);
    };
    let skew_s = now_s.abs_diff(t);
    if skew_s > tolerance_s {
        return Err(ExportError::WebhookStale {
            skew_s,
            tolerance_s,
        });
    }
    webhook_mac(secret, t, body)
        .verify_slice(&tag)
        .map_err(|_| ExportError::WebhookSignature)
}

/// POST a signed JSON body to `http://host[:port]/path` (HTTP/1.1, one
/// request per connection); `Ok(status)` for 2xx. Plain HTTP only: a TLS
/// receiver goes through the server's HTTP client when the wiring lands.
pub fn post_webhook(
    url: &str,
    secret: &[u8],
    now_s: u64,
    body: &[u8],
    timeout: Duration,
) -> Result<u16, ExportError> {
    let bad = || ExportError::WebhookUrl(url.chars().take(64).collect());
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if hostport.is_empty()
        || !hostport
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        || !path.bytes().all(|b| (33..=126).contains(&b))
    {
        return Err(bad());
    }
    let target = if hostport.contains(':') && !hostport.ends_with(']') {
        hostport.to_owned()
    } else {
        format!("{hostport}:80")
    };
    let addr = target.to_socket_addrs()?.next().ok_or_else(bad)?;
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let sig = sign_webhook(secret, now_s, body);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{SIGNATURE_HEADER}: {sig}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    s.flush()?;
    let mut buf = Vec::new();
    s.take(4096).read_to_end(&mut buf)?;
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    let status = std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| {
            ExportError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                "no HTTP status line",
            ))
        })?;
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(ExportError::WebhookStatus(status))
    }
}
