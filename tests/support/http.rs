//! A tiny std-only HTTP/1.1 server for integration tests: binds `127.0.0.1:0`, answers requests
//! from a script, and records every request it fully read.
//!
//! Every connection is served on its own thread and answered with `Connection: close`, so a
//! pooling client (ureq) opens a fresh connection per request and a [`Reply::Hang`] never blocks
//! later requests. Dropping the [`Server`] stops the accept loop, closes every open connection
//! (hung ones included) and joins the threads with a bound.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long one read on a connection may block before the connection is given up.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a write may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long, after answering, the server waits for the client to close before closing itself.
const LINGER: Duration = Duration::from_millis(500);
/// How long `Drop` waits for the server's threads in total.
const JOIN_BOUND: Duration = Duration::from_secs(2);
/// Limits on what a request may contain.
const MAX_LINE: usize = 64 * 1024;
const MAX_HEADERS: usize = 200;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// What the server does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Status line code + body; e.g. `Reply::status(200, "ok")`, `Reply::status(500, "oops")`.
    /// `headers` are sent in addition to `Content-Type: text/plain`, `Content-Length` and
    /// `Connection: close` (a header of the same name replaces the default one).
    Status {
        code: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Accept the connection, read the request, never answer (the socket stays open until the
    /// server is dropped).
    Hang,
    /// Read the request then close the connection without answering.
    Close,
}

impl Reply {
    /// `200 ok`.
    pub fn ok() -> Reply {
        Reply::status(200, "ok")
    }

    /// `code` with `body` as `text/plain`.
    pub fn status(code: u16, body: &str) -> Reply {
        Reply::Status {
            code,
            body: body.to_owned(),
            headers: Vec::new(),
        }
    }

    /// `429 Too Many Requests` with `Retry-After: retry_after_secs`.
    pub fn too_many_requests(retry_after_secs: u64) -> Reply {
        Reply::status(429, "rate_limited").with_header("Retry-After", &retry_after_secs.to_string())
    }

    /// Adds a response header (only meaningful for [`Reply::Status`]; ignored otherwise).
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Status { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }
}

/// One request, as the server read it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent (path and query), e.g. `/services/T000/B000/SECRETTOKEN`.
    pub path: String,
    /// Header names and values as sent, in order (trailers of a chunked body appended).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked, decoded as UTF-8 (lossily).
    pub body: String,
    /// When the request was fully read.
    pub received_at: Instant,
}

impl Request {
    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("request body is not JSON ({e}): {:?}", self.body))
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    requests: Vec<Request>,
    script: VecDeque<Reply>,
    then: Reply,
}

struct Conns {
    /// Clones of every accepted stream, shut down on drop.
    streams: Vec<TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a request is recorded and when the server stops.
    cond: Condvar,
    stop: AtomicBool,
    conns: Mutex<Conns>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn conns(&self) -> MutexGuard<'_, Conns> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A scripted HTTP/1.1 server on `127.0.0.1`; see the module docs.
pub struct Server {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves on a background thread. `script` answers the 1st, 2nd, ...
    /// request in order; once the script is exhausted, every further request gets `then`.
    pub fn start(script: Vec<Reply>, then: Reply) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                requests: Vec::new(),
                script: script.into(),
                then,
            }),
            cond: Condvar::new(),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Conns {
                streams: Vec::new(),
                threads: Vec::new(),
            }),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("test-http-{port}"))
                .spawn(move || accept_loop(listener, shared))
                .expect("spawn accept thread")
        };
        Server {
            port,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request fully read so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.state().requests.clone()
    }

    /// Blocks until at least `n` requests were received or `timeout` passes; returns the
    /// snapshot either way.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state();
        while state.requests.len() < n {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .shared
                .cond
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        state.requests.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let threads = {
            let mut conns = self.shared.conns();
            self.shared.stop.store(true, Ordering::SeqCst);
            for s in conns.streams.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
            std::mem::take(&mut conns.threads)
        };
        {
            // Wake hung connections (and waiters); taking the lock orders this after any
            // `stopped()` check made under it.
            let _state = self.shared.state();
            self.shared.cond.notify_all();
        }
        // Unblock `accept`.
        let _ = TcpStream::connect_timeout(
            &([127, 0, 0, 1], self.port).into(),
            Duration::from_millis(200),
        );
        let deadline = Instant::now() + JOIN_BOUND;
        let all = self.accept.take().into_iter().chain(threads);
        for handle in all {
            while !handle.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(2));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
            // Otherwise leave it detached: never hang the test.
        }
    }
}

/// A URL on `127.0.0.1` with nothing listening (an ephemeral port bound and released), for
/// "connection refused" tests.
pub fn refused_url(path: &str) -> String {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        l.local_addr().expect("local_addr").port()
    };
    format!("http://127.0.0.1:{port}{path}")
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        if shared.stopped() {
            return;
        }
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(_) => {
                // E.g. out of file descriptors: back off, keep serving until stopped.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let mut conns = shared.conns();
        if shared.stopped() {
            return; // the self-connect from Drop, or a late client: drop it
        }
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        let conn_shared = Arc::clone(&shared);
        match thread::Builder::new()
            .name("test-http-conn".into())
            .spawn(move || serve(stream, conn_shared))
        {
            Ok(handle) => {
                conns.streams.push(clone);
                conns.threads.push(handle);
            }
            Err(_) => continue,
        }
    }
}

fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = &stream;

    let Ok(Some(head)) = read_head(&mut reader) else {
        return; // closed, timed out or malformed before a full request
    };
    if head
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let _ = writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        let _ = writer.flush();
    }
    let Ok((body, trailers)) = read_body(&mut reader, &head) else {
        return;
    };
    let mut headers = head.headers;
    headers.extend(trailers);
    let request = Request {
        method: head.method,
        path: head.path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        received_at: Instant::now(),
    };
    let is_head = request.method.eq_ignore_ascii_case("HEAD");

    let reply = {
        let mut state = shared.state();
        state.requests.push(request);
        shared.cond.notify_all();
        let next = state.script.pop_front();
        next.unwrap_or_else(|| state.then.clone())
    };

    match reply {
        Reply::Status {
            code,
            body,
            headers,
        } => {
            let response = render(code, &body, &headers, is_head);
            if writer
                .write_all(&response)
                .and_then(|()| writer.flush())
                .is_err()
            {
                return;
            }
            // Let the client see the end of the response, then give it a moment to close first
            // (closing with unread input would reset the connection under the response).
            let _ = stream.shutdown(Shutdown::Write);
            linger(&mut reader);
        }
        Reply::Close => {
            let _ = stream.shutdown(Shutdown::Both);
        }
        Reply::Hang => {
            let mut state = shared.state();
            while !shared.stopped() {
                state = shared
                    .cond
                    .wait_timeout(state, Duration::from_millis(100))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }
}

/// Reads (and discards) until the client closes, `LINGER` passes or a bound is reached.
fn linger(reader: &mut BufReader<TcpStream>) {
    let deadline = Instant::now() + LINGER;
    let _ = reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 4096];
    let mut total = 0usize;
    while Instant::now() < deadline && total < MAX_BODY {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => total += n,
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn render(code: u16, body: &str, extra: &[(String, String)], is_head: bool) -> Vec<u8> {
    // 1xx, 204 and 304 responses carry no body (nor Content-Length).
    let bodiless = (100..200).contains(&code) || code == 204 || code == 304;
    let has = |name: &str| extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut out = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    if !has("content-type") {
        out.push_str("Content-Type: text/plain\r\n");
    }
    if !bodiless && !has("content-length") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if !has("connection") {
        out.push_str("Connection: close\r\n");
    }
    for (n, v) in extra {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    if !bodiless && !is_head {
        out.push_str(body);
    }
    out.into_bytes()
}

/// Header or trailer fields, in order.
type Fields = Vec<(String, String)>;

struct Head {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

/// One line without its `\r\n` (or `\n`); `None` at a clean end of stream before any byte.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = reader
        .take(MAX_LINE as u64 + 2)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(invalid("line too long or truncated"));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| invalid("line is not UTF-8"))
}

/// Request line and headers; `None` if the client closed before sending a request.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    // Tolerate empty lines before the request line (RFC 9112 §2.2).
    let request_line = loop {
        match read_line(reader)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(path), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("bad request line"));
    };
    let headers = read_fields(reader)?;
    Ok(Some(Head {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
    }))
}

/// Header (or trailer) fields up to the empty line.
fn read_fields(reader: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut fields = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("eof in headers"))?;
        if line.is_empty() {
            return Ok(fields);
        }
        if fields.len() >= MAX_HEADERS {
            return Err(invalid("too many headers"));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| invalid("bad header"))?;
        fields.push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

/// The body (de-chunked) and any trailer fields.
fn read_body(reader: &mut impl BufRead, head: &Head) -> io::Result<(Vec<u8>, Fields)> {
    let chunked = head.header("transfer-encoding").is_some_and(|te| {
        te.rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    });
    if chunked {
        return read_chunked(reader);
    }
    let len = match head.header("content-length") {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| invalid("bad Content-Length"))?,
    };
    if len > MAX_BODY {
        return Err(invalid("body too large"));
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok((body, Vec::new()))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<(Vec<u8>, Fields)> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("eof in chunk size"))?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            let trailers = read_fields(reader)?;
            return Ok((body, trailers));
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let end = read_line(reader)?.ok_or_else(|| invalid("eof after chunk"))?;
        if !end.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}
