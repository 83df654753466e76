//! `GET /metrics` on a background thread: one connection at a time, each bounded by timeouts,
//! so a scraper that stalls delays the next scrape and nothing else.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::{Metrics, CONTENT_TYPE};
use crate::diag::{enter_quiet_thread, report};

/// How long one request may take to arrive, and its answer to leave.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a request that is slow to arrive looks whether the server is stopping.
const POLL: Duration = Duration::from_millis(50);
/// A request line and headers longer than this are refused: a scraper's are a few hundred bytes.
const MAX_REQUEST: usize = 8 << 10;
/// How long dropping the guard waits for the thread to end.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// `value` as an address to listen on: `host:port`, with a missing host meaning loopback
/// (`:9464`), so that nothing is exposed beyond the machine unless the address says so.
pub(crate) fn parse_addr(value: &str) -> Option<SocketAddr> {
    let value = value.trim();
    if let Some(port) = value.strip_prefix(':') {
        let port = port.parse::<u16>().ok()?;
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Some(addr);
    }
    // A name (`localhost:9464`): its first address, resolved once at start.
    let (host, port) = value.rsplit_once(':')?;
    let host_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-');
    if host.is_empty() || !host.chars().all(host_chars) || port.parse::<u16>().is_err() {
        return None;
    }
    value.to_socket_addrs().ok()?.next()
}

/// The serving thread; dropping it stops the thread and frees the port.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    exited: Option<mpsc::Receiver<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

/// A bound address, not served yet: binding comes first, so that an address in use fails
/// `init()` before any thread is started.
#[derive(Debug)]
pub(crate) struct Bound(TcpListener);

impl Bound {
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<Bound> {
        TcpListener::bind(addr).map(Bound)
    }
}

impl Server {
    /// Serves `metrics` on `bound` from a thread of its own.
    pub(crate) fn start(bound: Bound, metrics: Arc<Metrics>) -> io::Result<Server> {
        let listener = bound.0;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (done, exited) = mpsc::channel();
        let flag = Arc::clone(&stop);
        thread::Builder::new()
            .name("logwarden-metrics".into())
            .spawn(move || {
                enter_quiet_thread();
                for stream in listener.incoming() {
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    match stream {
                        Ok(stream) => {
                            let _ = answer(stream, &metrics, &flag);
                        }
                        // A connection reset before it was accepted, out of descriptors…:
                        // the next one may work; a pause keeps a persistent error from spinning.
                        Err(_) => thread::sleep(Duration::from_millis(50)),
                    }
                }
                // Closed before saying so: once the guard is dropped, the port is free.
                drop(listener);
                let _ = done.send(());
            })?;
        Ok(Server {
            addr,
            stop,
            exited: Some(exited),
        })
    }

    /// Where it listens (the port the system chose, for `:0`).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the blocking accept; an unspecified address (0.0.0.0) is reached on loopback.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                SocketAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, STOP_WAIT);
        if let Some(exited) = self.exited.take() {
            if exited.recv_timeout(STOP_WAIT).is_err() {
                report(format_args!(
                    "the metrics thread did not stop within {STOP_WAIT:?}"
                ));
            }
        }
    }
}

/// Reads one request and answers it: the metrics for `GET /metrics`, an error otherwise. A
/// client that says nothing is given up on after [`IO_TIMEOUT`], or as soon as `stop` is set.
fn answer(mut stream: TcpStream, metrics: &Metrics, stop: &AtomicBool) -> io::Result<()> {
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let started = Instant::now();
    let mut request = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        if request.len() > MAX_REQUEST {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"",
            );
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => request.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::Acquire) || started.elapsed() >= IO_TIMEOUT {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let line = request.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    match (method, path) {
        (b"GET" | b"HEAD", b"/metrics") => {
            let body = metrics.render();
            let body = if method == b"HEAD" { "" } else { body.as_str() };
            respond(&mut stream, "200 OK", CONTENT_TYPE, body.as_bytes())
        }
        (b"GET" | b"HEAD", _) => respond(
            &mut stream,
            "404 Not Found",
            "text/plain; charset=utf-8",
            b"logwarden serves its metrics on /metrics\n",
        ),
        _ => respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            b"",
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_without_a_host_are_loopback() {
        assert_eq!(parse_addr(":9464"), Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(parse_addr("0.0.0.0:9"), Some("0.0.0.0:9".parse().unwrap()));
        assert_eq!(
            parse_addr("[::1]:9464"),
            Some("[::1]:9464".parse().unwrap())
        );
        assert!(parse_addr("localhost:9464").is_some_and(|a| a.ip().is_loopback()));
        for bad in [
            "",
            "9464",
            ":",
            ":99999",
            "host:",
            "127.0.0.1",
            "a b:1",
            "http://x:1",
        ] {
            assert_eq!(parse_addr(bad), None, "{bad:?}");
        }
    }
}
