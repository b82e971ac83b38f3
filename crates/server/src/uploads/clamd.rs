//! A client of the ClamAV daemon (`clamd`): `zPING` and `zINSTREAM` over TCP
//! or a Unix socket.
//!
//! Written here rather than taken from a crate: the protocol is three
//! commands, and the site needs what the available clients leave out — a
//! connect and a whole-scan time limit (a hung daemon must turn into `503`,
//! not a hung request), a cap on the bytes sent and on the answer read, and
//! the answer parsed into a typed [`Verdict`] (clamd's `size limit exceeded`
//! told apart from an outage).
//!
//! `zINSTREAM`: the command, then chunks each prefixed with their length
//! (4 bytes, network order), then a zero length; clamd answers
//! `stream: OK`, `stream: <signature> FOUND` or `<reason> ERROR`, ended by NUL.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes of the upload sent in one `INSTREAM` chunk.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Longest answer read from clamd, bytes.
const MAX_ANSWER_BYTES: usize = 4096;

/// Where clamd listens: `tcp://host:port` or `unix:/path/to/clamd.ctl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddr {
    /// A TCP address, `host:port`.
    Tcp(String),
    /// A Unix socket's path.
    Unix(PathBuf),
}

impl ClamdAddr {
    /// Parse `tcp://host:port` or `unix:/path` (also `unix:///path`).
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let ok = rest
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            return if ok {
                Ok(ClamdAddr::Tcp(rest.to_string()))
            } else {
                Err(format!("{s:?}: expected tcp://host:port"))
            };
        }
        if let Some(rest) = s.strip_prefix("unix:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            return if path.starts_with('/') {
                Ok(ClamdAddr::Unix(PathBuf::from(path)))
            } else {
                Err(format!("{s:?}: expected unix:/absolute/path"))
            };
        }
        Err(format!(
            "{s:?}: expected tcp://host:port or unix:/path/to/clamd.ctl"
        ))
    }
}

impl fmt::Display for ClamdAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClamdAddr::Tcp(a) => write!(f, "tcp://{a}"),
            ClamdAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ClamdAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ClamdAddr::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// clamd's verdict on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing found.
    Clean,
    /// A signature matched; its name as clamd gives it.
    Infected(String),
}

/// A scan that gave no verdict.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// clamd could not be reached or stopped answering (connect, I/O, time limit).
    #[error("clamd at {addr} is unavailable: {detail}")]
    Unavailable {
        /// Where it was looked for.
        addr: String,
        /// What failed.
        detail: String,
    },
    /// clamd refused the stream as larger than its `StreamMaxLength`.
    #[error("the upload is larger than clamd's StreamMaxLength")]
    TooLarge,
    /// clamd answered something that is not a verdict (an `ERROR` line).
    #[error("clamd answered {0:?}")]
    Answer(String),
}

/// A clamd to ask, with its time limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clamd {
    /// Where it listens.
    pub addr: ClamdAddr,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for a whole scan (connect, send, verdict).
    pub scan_timeout: Duration,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Clamd {
    /// A client of `addr` with a 5 s connect and a 60 s scan limit.
    pub fn new(addr: ClamdAddr) -> Self {
        Self {
            addr,
            connect_timeout: Duration::from_secs(5),
            scan_timeout: Duration::from_secs(60),
        }
    }

    fn unavailable(&self, detail: impl fmt::Display) -> ScanError {
        ScanError::Unavailable {
            addr: self.addr.to_string(),
            detail: detail.to_string(),
        }
    }

    async fn connect(&self) -> Result<Box<dyn Stream>, ScanError> {
        let conn = async {
            Ok::<Box<dyn Stream>, std::io::Error>(match &self.addr {
                ClamdAddr::Tcp(a) => Box::new(tokio::net::TcpStream::connect(a.as_str()).await?),
                #[cfg(unix)]
                ClamdAddr::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await?),
                #[cfg(not(unix))]
                ClamdAddr::Unix(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::Unsupported,
                        "Unix sockets are not available on this platform",
                    ));
                }
            })
        };
        match tokio::time::timeout(self.connect_timeout, conn).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(self.unavailable(e)),
            Err(_) => Err(self.unavailable("connect timed out")),
        }
    }

    /// `zPING`: whether clamd answers `PONG`.
    pub async fn ping(&self) -> Result<(), ScanError> {
        let run = async {
            let mut s = self.connect().await?;
            s.write_all(b"zPING\0")
                .await
                .map_err(|e| self.unavailable(e))?;
            let answer = read_answer(&mut s).await.map_err(|e| self.unavailable(e))?;
            if answer == "PONG" {
                Ok(())
            } else {
                Err(ScanError::Answer(answer))
            }
        };
        tokio::time::timeout(self.scan_timeout, run)
            .await
            .unwrap_or_else(|_| Err(self.unavailable("no answer in time")))
    }

    /// `zINSTREAM` `data` and read the verdict.
    pub async fn scan(&self, data: &[u8]) -> Result<Verdict, ScanError> {
        let run = async {
            let mut s = self.connect().await?;
            let sent = send_stream(&mut s, data).await;
            // clamd may close its side early (size limit): its answer still says why.
            let answer = read_answer(&mut s).await;
            match (sent, answer) {
                (_, Ok(a)) => parse_answer(&a),
                (Err(e), Err(_)) | (Ok(()), Err(e)) => Err(self.unavailable(e)),
            }
        };
        tokio::time::timeout(self.scan_timeout, run)
            .await
            .unwrap_or_else(|_| Err(self.unavailable("no verdict in time")))
    }
}

async fn send_stream(s: &mut Box<dyn Stream>, data: &[u8]) -> std::io::Result<()> {
    s.write_all(b"zINSTREAM\0").await?;
    for chunk in data.chunks(CHUNK_BYTES) {
        // A chunk is at most CHUNK_BYTES, far below u32::MAX.
        let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        s.write_all(&len.to_be_bytes()).await?;
        s.write_all(chunk).await?;
    }
    s.write_all(&0u32.to_be_bytes()).await?;
    s.flush().await
}

/// Read clamd's answer up to its NUL (or the end), at most [`MAX_ANSWER_BYTES`].
async fn read_answer(s: &mut Box<dyn Stream>) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(128);
    let mut limited = s.take(MAX_ANSWER_BYTES as u64);
    let mut byte = [0u8; 256];
    loop {
        let n = limited.read(&mut byte).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&byte[..n]);
        if buf.contains(&0) {
            break;
        }
    }
    if let Some(end) = buf.iter().position(|&b| b == 0) {
        buf.truncate(end);
    }
    if buf.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "clamd closed the connection without an answer",
        ));
    }
    Ok(String::from_utf8_lossy(&buf).trim().to_string())
}

/// Parse an `INSTREAM` answer.
pub fn parse_answer(answer: &str) -> Result<Verdict, ScanError> {
    let body = answer.strip_prefix("stream: ").unwrap_or(answer);
    if body == "OK" {
        return Ok(Verdict::Clean);
    }
    if let Some(sig) = body.strip_suffix(" FOUND") {
        let sig: String = sig.chars().filter(|c| !c.is_control()).take(200).collect();
        return Ok(Verdict::Infected(sig));
    }
    if body.contains("size limit exceeded") {
        return Err(ScanError::TooLarge);
    }
    Err(ScanError::Answer(answer.chars().take(200).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            ClamdAddr::parse("tcp://127.0.0.1:3310"),
            Ok(ClamdAddr::Tcp("127.0.0.1:3310".into()))
        );
        assert_eq!(
            ClamdAddr::parse("unix:/run/clamav/clamd.ctl"),
            Ok(ClamdAddr::Unix("/run/clamav/clamd.ctl".into()))
        );
        assert_eq!(
            ClamdAddr::parse("unix:///run/c.ctl"),
            Ok(ClamdAddr::Unix("/run/c.ctl".into()))
        );
        for bad in [
            "127.0.0.1:3310",
            "tcp://host",
            "tcp://:1",
            "unix:rel/path",
            "tcp://h:0",
        ] {
            assert!(ClamdAddr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers() {
        assert_eq!(parse_answer("stream: OK").ok(), Some(Verdict::Clean));
        assert_eq!(
            parse_answer("stream: Eicar-Test-Signature FOUND").ok(),
            Some(Verdict::Infected("Eicar-Test-Signature".into()))
        );
        assert!(matches!(
            parse_answer("INSTREAM size limit exceeded. ERROR"),
            Err(ScanError::TooLarge)
        ));
        assert!(matches!(
            parse_answer("stream: Can't allocate memory ERROR"),
            Err(ScanError::Answer(_))
        ));
    }
}
