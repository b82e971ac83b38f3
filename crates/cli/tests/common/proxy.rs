//! A TCP fault proxy between two sites: it listens on a loopback port and
//! forwards each connection to one upstream address, both directions, in
//! the [`Fault`] mode it is set to. The TLS of the sites passes through it
//! untouched (it only moves bytes), so mutual TLS still holds end to end.
//!
//! Modes, changed at any time with [`FaultProxy::set`]; every connection,
//! open or new, follows the change:
//! - [`Fault::Pass`]: bytes flow;
//! - [`Fault::Drop`]: a partition. New connections are accepted and never
//!   forwarded; open ones stop moving bytes (held, like segments a router
//!   drops and TCP retransmits) and move again when healed;
//! - [`Fault::Delay`]: every chunk waits the given time in each direction;
//! - [`Fault::Reset`]: each connection is reset (RST) at its next chunk, half
//!   of which is forwarded first (mid-transfer); new ones are reset at once;
//! - [`Fault::HalfOpen`]: requests still reach the upstream, answers never
//!   come back (the proxy stops reading them). A connection that saw this
//!   stays half-open after the heal: only the client's own timeout frees it.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    Pass,
    /// Forward nothing (a partition).
    Drop,
    /// Forward each chunk after this delay.
    Delay(Duration),
    /// Reset each connection at its next chunk.
    Reset,
    /// Forward requests only; answers are never read.
    HalfOpen,
}

/// A running fault proxy (stops when dropped).
pub struct FaultProxy {
    addr: SocketAddr,
    mode: watch::Sender<Fault>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listen on a free loopback port and forward to `upstream`, in
    /// [`Fault::Pass`].
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, rx) = watch::channel(Fault::Pass);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(connection(client, upstream, rx.clone()));
            }
        });
        Self { addr, mode, task }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Change the mode of every connection, open or new.
    pub fn set(&self, fault: Fault) {
        self.mode.send_replace(fault);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Close `s` with a reset (SO_LINGER 0) when it is dropped.
fn arm_reset(s: &TcpStream) {
    #[allow(deprecated)] // linger 0 is the point: an RST, not a graceful close
    let _ = s.set_linger(Some(Duration::ZERO));
}

async fn connection(client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Fault>) {
    let _ = client.set_nodelay(true);
    let at_accept = *mode.borrow_and_update();
    match at_accept {
        Fault::Reset => {
            arm_reset(&client);
            return;
        }
        Fault::Drop => {
            // Accepted, never forwarded: hold it until the client gives up.
            let mut client = client;
            let mut sink = [0u8; 4096];
            while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
            return;
        }
        _ => {}
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        arm_reset(&client);
        return;
    };
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    // Either direction ending with a reset ends the other one too.
    let (kill, killed) = watch::channel(false);
    let up = tokio::spawn(pump(
        cr,
        sw,
        mode.clone(),
        false,
        kill.clone(),
        killed.clone(),
    ));
    let down = tokio::spawn(pump(sr, cw, mode, true, kill, killed));
    let _ = tokio::join!(up, down);
}

/// Move bytes `from` → `to` in the proxy's mode; `answers` is the upstream →
/// client direction (the one [`Fault::HalfOpen`] stops).
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut mode: watch::Receiver<Fault>,
    answers: bool,
    kill: watch::Sender<bool>,
    mut killed: watch::Receiver<bool>,
) {
    let reset = |from: &OwnedReadHalf, to: &OwnedWriteHalf| {
        arm_reset(from.as_ref());
        arm_reset(to.as_ref());
    };
    let mut buf = vec![0u8; 16 * 1024];
    let mut half_open = false;
    loop {
        let now = *mode.borrow_and_update();
        half_open |= now == Fault::HalfOpen;
        if now == Fault::Reset {
            reset(&from, &to);
            kill.send_replace(true);
            return;
        }
        if *killed.borrow() {
            reset(&from, &to);
            return;
        }
        if now == Fault::Drop || (half_open && answers) {
            // Nothing moves this way until the mode changes (a half-open
            // answer direction never moves again); the peer's own timeout
            // or a reset of the other direction ends it.
            tokio::select! {
                r = mode.changed(), if !half_open => match r {
                    Ok(()) => continue,
                    Err(_) => return, // the proxy is gone
                },
                _ = killed.changed() => { reset(&from, &to); return; }
            }
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(n) => n,
                Err(_) => { reset(&from, &to); kill.send_replace(true); return; }
            },
            r = mode.changed() => match r {
                Ok(()) => continue,
                Err(_) => return,
            },
            _ = killed.changed() => { reset(&from, &to); return; }
        };
        if n == 0 {
            if half_open {
                // The client gave up on a half-open connection: close all.
                kill.send_replace(true);
            }
            let _ = to.shutdown().await;
            return;
        }
        // The mode may have changed while the chunk was read.
        loop {
            let now = *mode.borrow_and_update();
            match now {
                Fault::Drop => {
                    if mode.changed().await.is_err() {
                        return;
                    }
                }
                Fault::Reset => {
                    let _ = to.write_all(&buf[..n / 2]).await;
                    reset(&from, &to);
                    kill.send_replace(true);
                    return;
                }
                Fault::Delay(d) => {
                    tokio::time::sleep(d).await;
                    break;
                }
                Fault::HalfOpen if answers => {
                    half_open = true;
                    break;
                }
                _ => break,
            }
        }
        if half_open && answers {
            continue; // dropped on the floor: the answer never arrives
        }
        if to.write_all(&buf[..n]).await.is_err() {
            reset(&from, &to);
            kill.send_replace(true);
            return;
        }
    }
}
