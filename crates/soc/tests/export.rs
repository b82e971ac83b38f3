//! Exporters: RFC 5424 structure, RFC 6587 octet counting over a real TCP
//! socket, the signed webhook (tampering refused) over a real socket.

mod common;

use common::sample;
use einvoice_soc::event::Severity;
use einvoice_soc::export::*;
use einvoice_soc::log::{EventLog, EventRecord, MemoryLog};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

fn records(n: u64) -> Vec<EventRecord> {
    let log = MemoryLog::new();
    (1..=n)
        .map(|i| log.append(sample(i)).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn fmt() -> SyslogFormat {
    SyslogFormat::new(FACILITY_AUTHPRIV, "site-a.example", "einvoice", "4242")
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Split an RFC 5424 line into its parts, checking the grammar as it goes.
fn parse_5424(line: &str) -> (u16, String, [String; 4], String, String) {
    let rest = line
        .strip_prefix('<')
        .unwrap_or_else(|| panic!("no PRI: {line}"));
    let (pri, rest) = rest.split_once('>').unwrap_or_else(|| panic!("no PRI end"));
    assert!(
        (1..=3).contains(&pri.len()) && pri.bytes().all(|b| b.is_ascii_digit()),
        "PRI {pri}"
    );
    let pri: u16 = pri.parse().unwrap_or_else(|e| panic!("{e}"));
    let rest = rest
        .strip_prefix("1 ")
        .unwrap_or_else(|| panic!("VERSION 1 expected"));
    let mut parts = rest.splitn(6, ' ');
    let mut next = || {
        parts
            .next()
            .unwrap_or_else(|| panic!("short header"))
            .to_owned()
    };
    let ts = next();
    let header = [next(), next(), next(), next()];
    let rest = next();
    for h in &header {
        assert!(
            !h.is_empty() && h.bytes().all(|b| (33..=126).contains(&b)),
            "header field {h:?}"
        );
    }
    // SD-ELEMENT: '[' SD-ID *(SP PARAM-NAME '="' value '"') ']', values escaped.
    assert!(rest.starts_with('['), "SD expected: {rest}");
    let mut end = None;
    let mut escaped = false;
    let mut in_value = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_value => escaped = true,
            '"' => in_value = !in_value,
            ']' if !in_value => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    let end = end.unwrap_or_else(|| panic!("unterminated SD"));
    let sd = rest[..=end].to_owned();
    let msg = rest[end + 1..]
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("SP before MSG"))
        .to_owned();
    (pri, ts, header, sd, msg)
}

#[test]
fn syslog_lines_follow_rfc_5424() {
    for r in records(14) {
        let line = fmt().format(&r).unwrap_or_else(|e| panic!("{e}"));
        assert!(!line.contains('\n'));
        let (pri, ts, [host, app, procid, msgid], sd, msg) = parse_5424(&line);
        assert_eq!(pri, 10 * 8 + u16::from(r.event.severity.syslog()));
        assert_eq!(ts, rfc3339_ms(r.event.time_ms));
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.ends_with('Z') && &ts[10..11] == "T" && &ts[19..20] == ".");
        assert_eq!(
            (host.as_str(), app.as_str(), procid.as_str()),
            ("site-a.example", "einvoice", "4242")
        );
        assert_eq!(msgid, r.event.class.name());
        assert!(
            sd.starts_with(&format!("[{SD_ID} seq=\"{}\"", r.seq)),
            "{sd}"
        );
        let json = msg
            .strip_prefix('\u{feff}')
            .unwrap_or_else(|| panic!("BOM before a UTF-8 MSG"));
        let back: EventRecord = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, r);
    }
    assert_eq!(rfc3339_ms(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
    assert_eq!(Severity::Fatal.syslog(), 1);
    assert_eq!(Severity::Informational.syslog(), 6);
}

#[test]
fn syslog_header_fields_are_checked_and_sd_values_escaped() {
    assert!(SyslogFormat::new(24, "h", "a", "p").is_err());
    assert!(SyslogFormat::new(10, "bad host", "a", "p").is_err());
    assert!(SyslogFormat::new(10, "h", &"a".repeat(49), "p").is_err());
    let nil = SyslogFormat::new(10, "", "", "").unwrap_or_else(|e| panic!("{e}"));
    let line = nil.format(&records(1)[0]).unwrap_or_else(|e| panic!("{e}"));
    let (_, _, [host, app, procid, _], _, _) = parse_5424(&line);
    assert_eq!([host, app, procid], ["-", "-", "-"].map(String::from));
    assert_eq!(sd_escape(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
}

#[test]
fn syslog_over_tcp_is_octet_counted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap_or_else(|e| panic!("{e}"));
        // Deframe: MSG-LEN SP SYSLOG-MSG, repeated.
        let mut frames = Vec::new();
        let mut rest = &buf[..];
        while !rest.is_empty() {
            let sp = rest
                .iter()
                .position(|b| *b == b' ')
                .unwrap_or_else(|| panic!("no SP"));
            let len: usize = std::str::from_utf8(&rest[..sp])
                .ok()
                .and_then(|l| l.parse().ok())
                .unwrap_or_else(|| panic!("bad MSG-LEN"));
            assert!(rest[0] != b'0', "MSG-LEN has no leading zero");
            let msg = &rest[sp + 1..sp + 1 + len];
            frames.push(String::from_utf8(msg.to_vec()).unwrap_or_else(|e| panic!("{e}")));
            rest = &rest[sp + 1 + len..];
        }
        frames
    });
    let rs = records(25);
    let sent = send_syslog_tcp(addr, &fmt(), &rs, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sent, 25);
    let frames = server
        .join()
        .unwrap_or_else(|_| panic!("collector panicked"));
    let want: Vec<String> = rs
        .iter()
        .map(|r| fmt().format(r).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(frames, want);
}

#[test]
fn syslog_to_a_closed_port_is_an_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        l.local_addr().unwrap_or_else(|e| panic!("{e}")).port()
    };
    let r = send_syslog_tcp(
        ("127.0.0.1", port),
        &fmt(),
        &records(1),
        Duration::from_secs(2),
    );
    assert!(matches!(r, Err(ExportError::Io(_))), "{r:?}");
}

const SECRET: &[u8] = b"webhook-secret-0123456789";

#[test]
fn webhook_signatures_verify_and_tampering_is_refused() {
    let body = json_line(&records(1)[0]).unwrap_or_else(|e| panic!("{e}"));
    let body = body.as_bytes();
    let now = 1_767_225_600;
    let h = sign_webhook(SECRET, now, body);
    assert!(h.starts_with(&format!("t={now},v1=")) && h.len() == format!("t={now},v1=").len() + 64);
    assert!(verify_webhook(SECRET, &h, body, now + 10, 300).is_ok());
    // Tampered body.
    let mut evil = body.to_vec();
    evil[10] ^= 1;
    assert!(matches!(
        verify_webhook(SECRET, &h, &evil, now, 300),
        Err(ExportError::WebhookSignature)
    ));
    // Tampered timestamp (the MAC covers it).
    let moved = h.replacen(&format!("t={now}"), &format!("t={}", now + 1), 1);
    assert!(matches!(
        verify_webhook(SECRET, &moved, body, now, 300),
        Err(ExportError::WebhookSignature)
    ));
    // Wrong secret.
    assert!(matches!(
        verify_webhook(b"other", &h, body, now, 300),
        Err(ExportError::WebhookSignature)
    ));
    // Truncated tag.
    assert!(verify_webhook(SECRET, &h[..h.len() - 2], body, now, 300).is_err());
    // Stale.
    assert!(matches!(
        verify_webhook(SECRET, &h, body, now + 301, 300),
        Err(ExportError::WebhookStale {
            skew_s: 301,
            tolerance_s: 300
        })
    ));
    // Malformed.
    for bad in [
        "",
        "t=1",
        "v1=00",
        "t=x,v1=00",
        "t=1,v1=zz",
        "t=1,v1=00,t=2",
        "t=-1,v1=00",
        "t=+1,v1=00",
    ] {
        assert!(
            matches!(
                verify_webhook(SECRET, bad, body, 1, 300),
                Err(ExportError::WebhookHeader)
            ),
            "{bad}"
        );
    }
}

/// A one-request HTTP receiver: verifies the signature, answers `status`.
fn receiver(status: u16) -> (String, std::thread::JoinHandle<(bool, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let handle = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap_or_else(|e| panic!("{e}"));
        assert!(line.starts_with("POST /hooks/soc HTTP/1.1"), "{line}");
        let (mut len, mut sig) = (0usize, String::new());
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap_or_else(|e| panic!("{e}"));
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(": ").unwrap_or_else(|| panic!("header {h}"));
            if k.eq_ignore_ascii_case("content-length") {
                len = v.parse().unwrap_or_else(|e| panic!("{e}"));
            }
            if k.eq_ignore_ascii_case(SIGNATURE_HEADER) {
                sig = v.to_owned();
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap_or_else(|e| panic!("{e}"));
        let ok = verify_webhook(SECRET, &sig, &body, 1_767_225_600, 300).is_ok();
        let mut s = r.into_inner();
        write!(
            s,
            "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap_or_else(|e| panic!("{e}"));
        (ok, body)
    });
    (format!("http://{addr}/hooks/soc"), handle)
}

#[test]
fn webhook_posts_a_body_the_receiver_verifies() {
    let body = json_line(&records(1)[0]).unwrap_or_else(|e| panic!("{e}"));
    let (url, h) = receiver(204);
    let r = post_webhook(
        &url,
        SECRET,
        1_767_225_600,
        body.as_bytes(),
        Duration::from_secs(5),
    );
    assert_eq!(r.ok(), Some(204));
    let (verified, got) = h.join().unwrap_or_else(|_| panic!("receiver panicked"));
    assert!(verified, "the receiver verified the signature");
    assert_eq!(got, body.as_bytes());
    let (url, h) = receiver(500);
    let r = post_webhook(&url, SECRET, 1_767_225_600, b"{}", Duration::from_secs(5));
    assert!(matches!(r, Err(ExportError::WebhookStatus(500))), "{r:?}");
    let _ = h.join();
    for bad in ["https://x/", "ftp://x", "http://", "http://a b/"] {
        assert!(
            matches!(
                post_webhook(bad, SECRET, 0, b"", Duration::from_secs(1)),
                Err(ExportError::WebhookUrl(_))
            ),
            "{bad}"
        );
    }
}

/// A local TLS collector (certificate for `localhost` from rcgen): the
/// octet-counted frames it read, or the handshake error it saw.
fn tls_collector() -> (
    std::net::SocketAddr,
    rustls::RootCertStore,
    std::thread::JoinHandle<Result<Vec<u8>, String>>,
) {
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap_or_else(|e| panic!("{e}"))
        .self_signed(&key)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(cert.der().clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let handle = std::thread::spawn(move || {
        let (sock, _) = listener.accept().map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let conn = rustls::ServerConnection::new(std::sync::Arc::new(config))
            .map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut buf = Vec::new();
        tls.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        Ok(buf)
    });
    (addr, roots, handle)
}

#[test]
fn syslog_over_tls_is_verified_and_octet_counted() {
    let (addr, roots, collector) = tls_collector();
    let rs = records(7);
    let sent = send_syslog_tls(
        addr,
        "localhost",
        roots,
        &fmt(),
        &rs,
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sent, 7);
    let got = collector
        .join()
        .unwrap_or_else(|_| panic!("collector panicked"))
        .unwrap_or_else(|e| panic!("collector: {e}"));
    let want: Vec<u8> = rs
        .iter()
        .flat_map(|r| octet_frame(&fmt().format(r).unwrap_or_else(|e| panic!("{e}"))))
        .collect();
    assert_eq!(got, want, "the TLS collector read exactly the frames");

    // A collector whose certificate the exporter does not trust gets nothing.
    let (addr, _, collector) = tls_collector();
    let err = send_syslog_tls(
        addr,
        "localhost",
        rustls::RootCertStore::empty(),
        &fmt(),
        &rs,
        Duration::from_secs(5),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.starts_with("soc.syslog_tls:"), "{err}");
    assert!(collector.join().map(|r| r.is_err()).unwrap_or(true));
}
