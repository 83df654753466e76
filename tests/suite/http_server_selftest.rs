//! Self-test of the scripted HTTP test server in `tests/support/http.rs`, driven by a raw std
//! `TcpStream` client (and once by `ureq`, the client the library uses).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::http::{refused_url, Reply, Server};

const WAIT: Duration = Duration::from_secs(2);

/// A parsed response: status code, headers, body.
struct Response {
    code: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn post_raw(stream: &mut TcpStream, path: &str, body: &str) {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).expect("write request");
}

/// Reads until the server closes (it always answers `Connection: close`) and parses.
fn read_response(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("end of head");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap();
    let code = status.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let resp = Response {
        code,
        headers,
        body: body.to_owned(),
    };
    let len: usize = resp.header("content-length").unwrap().parse().unwrap();
    assert_eq!(len, resp.body.len(), "Content-Length matches the body");
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    resp
}

fn post(server: &Server, path: &str, body: &str) -> Response {
    let mut s = connect(server);
    post_raw(&mut s, path, body);
    read_response(&mut s)
}

#[test]
fn script_is_answered_in_order_then_the_fallback() {
    let server = Server::start(vec![Reply::status(500, "oops")], Reply::ok());
    let r1 = post(&server, "/a", "{}");
    assert_eq!((r1.code, r1.body.as_str()), (500, "oops"));
    let r2 = post(&server, "/b", "{}");
    assert_eq!((r2.code, r2.body.as_str()), (200, "ok"));
    let r3 = post(&server, "/c", "{}");
    assert_eq!((r3.code, r3.body.as_str()), (200, "ok"));
    assert_eq!(r3.header("connection"), Some("close"));
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/a", "/b", "/c"]);
}

#[test]
fn too_many_requests_carries_retry_after() {
    let server = Server::start(
        vec![Reply::too_many_requests(7)],
        Reply::status(404, "no_service"),
    );
    let r = post(&server, "/x", "{}");
    assert_eq!(r.code, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    let r = post(&server, "/x", "{}");
    assert_eq!((r.code, r.body.as_str()), (404, "no_service"));
}

#[test]
fn hang_times_the_client_out_while_other_connections_are_answered() {
    let server = Server::start(vec![Reply::Hang], Reply::ok());
    let mut hung = connect(&server);
    hung.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    post_raw(&mut hung, "/hang", r#"{"n":1}"#);
    assert_eq!(
        server.wait_for(1, WAIT).len(),
        1,
        "hung request is recorded"
    );

    // A second connection is answered while the first one hangs.
    let r = post(&server, "/next", r#"{"n":2}"#);
    assert_eq!(r.code, 200);

    let started = Instant::now();
    let mut buf = [0u8; 64];
    let err = hung
        .read(&mut buf)
        .expect_err("hung connection gets no answer");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].json()["n"], 1);
    assert_eq!(reqs[1].json()["n"], 2);
}

#[test]
fn close_reply_closes_without_answering() {
    let server = Server::start(vec![Reply::Close], Reply::ok());
    let mut s = connect(&server);
    post_raw(&mut s, "/close", "{}");
    let mut raw = Vec::new();
    // EOF (or a reset): no response bytes either way.
    let _ = s.read_to_end(&mut raw);
    assert!(raw.is_empty(), "{:?}", String::from_utf8_lossy(&raw));
    assert_eq!(server.wait_for(1, WAIT).len(), 1);
    assert_eq!(post(&server, "/after", "{}").code, 200);
}

#[test]
fn chunked_request_body_is_decoded() {
    let server = Server::start(vec![], Reply::ok());
    let mut s = connect(&server);
    let req = "POST /services/T000/B000/SECRETTOKEN HTTP/1.1\r\nHost: 127.0.0.1\r\n\
               transfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n\
               5\r\n{\"tex\r\n\
               a;ext=1\r\nt\":\"hello \r\n\
               8\r\nworld\"}\n\r\n\
               0\r\nX-Trailer: yes\r\n\r\n";
    s.write_all(req.as_bytes()).unwrap();
    let r = read_response(&mut s);
    assert_eq!(r.code, 200);
    let reqs = server.wait_for(1, WAIT);
    assert_eq!(reqs[0].body, "{\"text\":\"hello world\"}\n");
    assert_eq!(reqs[0].json()["text"], "hello world");
    assert_eq!(reqs[0].header("X-TRAILER"), Some("yes"));
}

#[test]
fn requests_record_method_path_headers_and_body() {
    let server = Server::start(vec![], Reply::ok());
    let before = Instant::now();
    let mut s = connect(&server);
    s.write_all(
        b"PUT /services/T000/B000/SECRETTOKEN?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          X-Custom:  spaced value \r\nCONTENT-LENGTH: 11\r\n\r\n{\"a\":\"b\"}\n\n",
    )
    .unwrap();
    assert_eq!(read_response(&mut s).code, 200);
    let mut s = connect(&server);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s).code, 200);

    let reqs = server.wait_for(2, WAIT);
    assert_eq!(reqs.len(), 2);
    let put = &reqs[0];
    assert_eq!(put.method, "PUT");
    assert_eq!(put.path, "/services/T000/B000/SECRETTOKEN?x=1");
    assert_eq!(put.body, "{\"a\":\"b\"}\n\n");
    assert_eq!(put.json()["a"], "b");
    assert_eq!(put.header("x-custom"), Some("spaced value"));
    assert_eq!(put.header("Content-Length"), Some("11"));
    assert_eq!(put.header("missing"), None);
    assert!(put
        .headers
        .contains(&("X-Custom".to_owned(), "spaced value".to_owned())));
    let get = &reqs[1];
    assert_eq!((get.method.as_str(), get.path.as_str()), ("GET", "/health"));
    assert_eq!(get.body, "");
    assert!(before <= put.received_at && put.received_at <= get.received_at);
}

#[test]
fn wait_for_returns_the_snapshot_after_the_timeout() {
    let server = Server::start(vec![], Reply::ok());
    post(&server, "/one", "{}");
    let started = Instant::now();
    let reqs = server.wait_for(2, Duration::from_millis(50));
    assert_eq!(reqs.len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[test]
fn url_points_at_the_server() {
    let server = Server::start(vec![], Reply::ok());
    assert_eq!(
        server.url("/services/T000/B000/SECRETTOKEN"),
        format!(
            "http://127.0.0.1:{}/services/T000/B000/SECRETTOKEN",
            server.port()
        )
    );
}

#[test]
fn refused_url_refuses() {
    let url = refused_url("/services/T000/B000/SECRETTOKEN");
    let rest = url.strip_prefix("http://127.0.0.1:").expect("loopback url");
    let (port, path) = rest.split_once('/').unwrap();
    assert_eq!(path, "services/T000/B000/SECRETTOKEN");
    let port: u16 = port.parse().unwrap();
    let err = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
        .expect_err("nothing listens");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err:?}");
}

#[test]
fn dropping_a_server_with_a_hung_connection_returns_promptly() {
    let server = Server::start(vec![Reply::Hang, Reply::Hang], Reply::ok());
    let mut a = connect(&server);
    let mut b = connect(&server);
    post_raw(&mut a, "/a", "{}");
    post_raw(&mut b, "/b", "{}");
    assert_eq!(server.wait_for(2, WAIT).len(), 2);
    let port = server.port();

    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "drop took {:?}",
        started.elapsed()
    );
    // The hung connections are closed, and nothing listens any more.
    let mut buf = [0u8; 16];
    for s in [&mut a, &mut b] {
        match s.read(&mut buf) {
            Ok(n) => assert_eq!(n, 0, "no answer, just EOF"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e:?}"),
        }
    }
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[cfg(feature = "http")]
#[test]
fn ureq_with_a_pooling_agent() {
    let server = Server::start(
        vec![
            Reply::status(500, "oops"),
            Reply::too_many_requests(3),
            Reply::Hang,
        ],
        Reply::ok(),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_millis(300)))
        .build()
        .into();
    let url = server.url("/services/T000/B000/SECRETTOKEN");
    let send = |body: &str| {
        agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body)
    };

    let mut r = send(r#"{"text":"1"}"#).unwrap();
    assert_eq!(r.status().as_u16(), 500);
    assert_eq!(r.body_mut().read_to_string().unwrap(), "oops");
    let r = send(r#"{"text":"2"}"#).unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
    let started = Instant::now();
    let err = send(r#"{"text":"3"}"#).expect_err("hang times out");
    assert!(matches!(err, ureq::Error::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    let mut r = send(r#"{"text":"4"}"#).unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.body_mut().read_to_string().unwrap(), "ok");

    // Chunked upload (body of unknown size).
    let mut reader: &[u8] = br#"{"text":"5"}"#;
    let r = agent
        .post(&url)
        .send(ureq::SendBody::from_reader(&mut reader))
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let reqs = server.wait_for(5, WAIT);
    let texts: Vec<String> = reqs
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["1", "2", "3", "4", "5"]);
    assert!(reqs
        .iter()
        .all(|r| r.method == "POST" && r.path == "/services/T000/B000/SECRETTOKEN"));
    assert_eq!(reqs[4].header("transfer-encoding"), Some("chunked"));
}
