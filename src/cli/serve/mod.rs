//! `logwarden serve`: a live dashboard over a log directory, served on the machine.
//!
//! [`live`] follows the directory and keeps the figures (events per minute, incidents, MTTR)
//! and the newest lines; [`query`] finds older lines by reading the files where the time asked
//! for is, so nothing else of the logs is held in memory; [`page`] is the embedded page and its
//! assets; [`access`] decides who may ask; this file binds, routes and streams.

mod access;
mod live;
mod page;
mod query;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tiny_http::{Header, Request, Response, Server};

use super::{Failure, ServeArgs};
pub(crate) use access::{check_access, Token};
use access::{Access, Decision};
use live::Live;
use query::Filter;

/// Requests handled at once; beyond, a request waits for a free one.
const WORKERS: usize = 8;
/// Live streams open at once; one more is refused (503) rather than starve the page's requests.
const MAX_STREAMS: usize = 32;
/// How often a quiet stream sends a comment, so that proxies and browsers keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an open stream looks for new lines and figures.
const STREAM_TICK: Duration = Duration::from_millis(500);

pub(crate) fn run(args: ServeArgs) -> Result<(), Failure> {
    let access = Access::new(&args)?;
    let (threshold, window) = super::scan::alert_rule(&args.rule)?;
    let stop = super::watch::stop_on_signals()?;
    let live = Live::start(&args.dir, threshold, window, Arc::clone(&stop))?;
    let server = Server::http(access.addr)
        .map_err(|e| Failure(format!("cannot listen on {}: {e}", access.addr)))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| Failure("not listening on an IP address".to_owned()))?;
    let access = Arc::new(access.bound_to(bound));
    let _ = writeln!(
        std::io::stderr(),
        "logwarden: serving {} at http://{bound}/{} (Ctrl-C stops)",
        args.dir.display(),
        if access.needs_token() {
            " with the access token"
        } else {
            ""
        }
    );
    let server = Arc::new(server);
    let streams = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (server, live, access, stop, streams) = (
                Arc::clone(&server),
                Arc::clone(&live),
                Arc::clone(&access),
                Arc::clone(&stop),
                Arc::clone(&streams),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match server.recv_timeout(Duration::from_millis(200)) {
                        Ok(Some(request)) => handle(request, &live, &access, &stop, &streams),
                        Ok(None) => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    live.stop();
    Ok(())
}

/// The headers of every answer: nothing from a log line can run, be framed or leak a referrer.
fn secure(
    mut response: Response<std::io::Cursor<Vec<u8>>>,
    kind: &str,
) -> Response<std::io::Cursor<Vec<u8>>> {
    for (name, value) in security_headers() {
        response.add_header(header(name, value));
    }
    response.add_header(header("Content-Type", kind));
    response
}

fn security_headers() -> [(&'static str, &'static str); 6] {
    [
        ("Content-Security-Policy", page::CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Cache-Control", "no-store"),
    ]
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn text(status: u16, body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    secure(
        Response::from_data(body.as_bytes().to_vec()).with_status_code(status),
        "text/plain; charset=utf-8",
    )
}

fn json_response(value: &Value) -> Response<std::io::Cursor<Vec<u8>>> {
    secure(
        Response::from_data(serde_json::to_vec(value).unwrap_or_default()),
        "application/json",
    )
}

fn handle(
    request: Request,
    live: &Arc<Live>,
    access: &Access,
    stop: &Arc<AtomicBool>,
    streams: &Arc<AtomicUsize>,
) {
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let params = query::params(query);
    let cookie = cookie_header(&request);
    let decision = access.decide(
        header_value(&request, "Host").as_deref(),
        header_value(&request, "Authorization").as_deref(),
        cookie.as_deref(),
        params
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.as_str()),
    );
    let mut set_cookie = None;
    match decision {
        Decision::Allow => {}
        Decision::AllowAndRemember(cookie) => set_cookie = Some(cookie),
        Decision::WrongHost => {
            let _ = request.respond(text(
                421,
                "this server answers to the address it listens on only\n",
            ));
            return;
        }
        Decision::Unauthorized => {
            let mut response = text(401, "an access token is needed\n");
            response.add_header(header("WWW-Authenticate", "Bearer realm=\"logwarden\""));
            let _ = request.respond(response);
            return;
        }
    }
    if *request.method() != tiny_http::Method::Get && *request.method() != tiny_http::Method::Head {
        let mut response = text(405, "read-only: GET only\n");
        response.add_header(header("Allow", "GET, HEAD"));
        let _ = request.respond(response);
        return;
    }
    let with_cookie = |mut response: Response<std::io::Cursor<Vec<u8>>>| {
        if let Some(cookie) = &set_cookie {
            response.add_header(header("Set-Cookie", cookie));
        }
        response
    };
    let response = match path {
        "/" => {
            if set_cookie.is_some() {
                // The token came in the address: remembered in a cookie, and taken out of the
                // address bar and the history.
                let mut response = text(303, "");
                response.add_header(header("Location", "/"));
                with_cookie(response)
            } else {
                secure(
                    Response::from_data(page::INDEX.as_bytes().to_vec()),
                    "text/html; charset=utf-8",
                )
            }
        }
        "/app.js" => secure(
            Response::from_data(page::SCRIPT.as_bytes().to_vec()),
            "text/javascript; charset=utf-8",
        ),
        "/app.css" => secure(
            Response::from_data(page::STYLE.as_bytes().to_vec()),
            "text/css; charset=utf-8",
        ),
        "/favicon.svg" | "/favicon.ico" => secure(
            Response::from_data(page::ICON.as_bytes().to_vec()),
            "image/svg+xml",
        ),
        "/api/summary" => {
            let range = query::Range::parse(param(&params, "range"));
            json_response(&live.summary(range))
        }
        "/api/logs" => match Filter::parse(&params) {
            Ok(filter) => {
                let seq = live.seq();
                let limit = param(&params, "limit")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(query::LIMIT)
                    .clamp(1, query::MAX_LIMIT);
                let (from, to) = (time_param(&params, "from"), time_param(&params, "to"));
                let found = query::lines(live.dir(), &filter, from, to, limit);
                json_response(&json!({
                    "seq": seq,
                    "lines": found.lines,
                    "more": found.more,
                    "unreadable": found.unreadable,
                }))
            }
            Err(message) => text(400, &format!("{message}\n")),
        },
        "/api/events" => match Filter::parse(&params) {
            Ok(filter) => {
                if streams.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
                    streams.fetch_sub(1, Ordering::SeqCst);
                    let _ = request.respond(text(503, "too many live views open\n"));
                    return;
                }
                let since = param(&params, "since").and_then(|s| s.parse().ok());
                let range = query::Range::parse(param(&params, "range"));
                let (live, stop, streams) =
                    (Arc::clone(live), Arc::clone(stop), Arc::clone(streams));
                // A thread of its own: a stream lasts as long as the page is open.
                std::thread::spawn(move || {
                    stream(request, &live, &filter, since, range, &stop);
                    streams.fetch_sub(1, Ordering::SeqCst);
                });
                return;
            }
            Err(message) => text(400, &format!("{message}\n")),
        },
        _ => text(404, "not found\n"),
    };
    let _ = request.respond(with_cookie(response));
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn time_param(params: &[(String, String)], name: &str) -> Option<i64> {
    param(params, name).and_then(|v| v.parse().ok())
}

fn header_value(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_owned())
}

fn cookie_header(request: &Request) -> Option<String> {
    let cookies: Vec<&str> = request
        .headers()
        .iter()
        .filter(|h| h.field.as_str().as_str().eq_ignore_ascii_case("Cookie"))
        .map(|h| h.value.as_str())
        .collect();
    (!cookies.is_empty()).then(|| cookies.join("; "))
}

/// Server-Sent Events: `lines` (the new lines that pass the filter), `summary` (the figures,
/// when they changed), `gap` (lines went by faster than this stream could be sent them).
fn stream(
    request: Request,
    live: &Live,
    filter: &Filter,
    since: Option<u64>,
    range: query::Range,
    stop: &AtomicBool,
) {
    let mut out = request.into_writer();
    let mut head =
        String::from("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n");
    for (name, value) in security_headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    if out
        .write_all(head.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return;
    }
    // `since` is the first line wanted (what `/api/logs` answered as `seq`); the cursor is
    // the last one sent.
    let mut cursor = since.unwrap_or_else(|| live.seq()).saturating_sub(1);
    let mut shown_generation = None;
    let mut last_sent = Instant::now();
    let mut last_summary = Instant::now() - Duration::from_secs(60);
    while !stop.load(Ordering::Relaxed) {
        let mut message = String::new();
        let batch = live.lines_after(cursor, filter);
        cursor = batch.cursor;
        if batch.gap > 0 {
            message.push_str(&format!("event: gap\ndata: {}\n\n", batch.gap));
        }
        if !batch.lines.is_empty() {
            message.push_str("event: lines\ndata: ");
            message.push_str(&serde_json::to_string(&batch.lines).unwrap_or_default());
            message.push_str("\n\n");
        }
        // The figures when they changed, and once a second while an incident is open (its
        // duration grows, and quiet can resolve it).
        let generation = live.generation();
        if shown_generation != Some(generation) || last_summary.elapsed() >= Duration::from_secs(5)
        {
            let summary = live.summary(range);
            message.push_str("event: summary\ndata: ");
            message.push_str(&summary.to_string());
            message.push_str("\n\n");
            shown_generation = Some(generation);
            last_summary = Instant::now();
        }
        if message.is_empty() && last_sent.elapsed() >= KEEP_ALIVE {
            message.push_str(": still here\n\n");
        }
        if !message.is_empty() {
            if out
                .write_all(message.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return;
            }
            last_sent = Instant::now();
        }
        live.wait_for_change(generation, STREAM_TICK);
    }
}

/// The address `--addr` names: `host:port`, or `:port` for loopback.
fn parse_addr(value: &str) -> Option<SocketAddr> {
    use std::net::ToSocketAddrs as _;
    let value = value.trim();
    if let Some(port) = value.strip_prefix(':') {
        return Some(SocketAddr::from(([127, 0, 0, 1], port.parse().ok()?)));
    }
    value
        .parse()
        .ok()
        .or_else(|| value.to_socket_addrs().ok()?.next())
}
