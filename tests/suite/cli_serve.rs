//! `logwarden serve` over HTTP: the bind refusal, the access token, and that no URL reaches a
//! file outside the directory. The real binary, a real directory, requests on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::engines::get;

/// The server, stopped by its pid when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_dir(dir: &Path) {
    let mut lines = String::new();
    for i in 0..20 {
        lines.push_str(&format!(
            "{{\"timestamp\":\"2026-12-01T10:00:{i:02}.000000Z\",\"level\":\"INFO\",\"message\":\"request {i}\",\"service\":\"api\"}}\n"
        ));
    }
    std::fs::write(dir.join("api.log"), lines).unwrap();
}

fn serve(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logwarden"))
        .arg("serve")
        .arg(dir)
        .args(args)
        .env_remove("LOGWARDEN_SERVE_TOKEN")
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut said = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if let Some(i) = line.find("http://") {
                let url = line[i..].split_whitespace().next().unwrap().to_owned();
                return Served { child, url };
            }
            said.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve printed no address within 30 s: {said:?}");
}

fn raw_get(url: &str, path: &str) -> String {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn a_non_loopback_address_without_a_token_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_logwarden"))
        .arg("serve")
        .arg(dir.path())
        .args(["--addr", "0.0.0.0:0"])
        .env_remove("LOGWARDEN_SERVE_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("token"), "{stderr}");
    assert!(!stderr.contains("serving"), "{stderr}");
}

#[test]
fn with_a_token_a_request_without_it_gets_401_and_the_token_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path());
    let token = "s3cr3t-token-0123456789";
    let served = serve(
        dir.path(),
        &["--addr", "127.0.0.1:0"],
        &[("LOGWARDEN_SERVE_TOKEN", token)],
    );
    assert!(!served.url.contains(token));
    for path in ["", "api/summary", "api/logs", "app.js"] {
        let (status, body) = get(&format!("{}{path}", served.url)).unwrap();
        assert_eq!(status, 401, "/{path}: {body}");
        assert!(!body.contains(token));
    }
    let (status, body) = get(&format!(
        "{}api/logs?token=wrong-token-0123456789",
        served.url
    ))
    .unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, body) = get(&format!("{}api/logs?token={token}", served.url)).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("request 19"), "{body}");
}

#[test]
fn no_url_or_parameter_reaches_a_file_outside_the_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("logs");
    std::fs::create_dir(&dir).unwrap();
    write_dir(&dir);
    std::fs::write(
        root.path().join("outside.log"),
        "{\"message\":\"OUTSIDE-SECRET\"}\n",
    )
    .unwrap();
    let served = serve(&dir, &["--addr", "127.0.0.1:0"], &[]);
    let outside = root.path().join("outside.log");
    let outside = outside.to_str().unwrap();
    let paths = [
        "/../outside.log".to_owned(),
        "/%2e%2e/outside.log".to_owned(),
        "/%2e%2e%2foutside.log".to_owned(),
        "/..%2f..%2f..%2fetc%2fpasswd".to_owned(),
        "/app.js/../../outside.log".to_owned(),
        format!("/{outside}"),
        "/api/logs?service=..%2Foutside&q=OUTSIDE".to_owned(),
        format!("/api/logs?file={outside}&dir=..&path=%2e%2e%2foutside.log&q=OUTSIDE"),
        "/api/logs?q=OUTSIDE&from=0&to=99999999999999999".to_owned(),
        "/api/summary?range=..%2F..%2F".to_owned(),
        "/api/events?since=0&dir=..".to_owned(),
    ];
    for path in &paths {
        let answer = if path.starts_with("/api/events") {
            // A stream: read what comes in two seconds.
            let host = served
                .url
                .trim_start_matches("http://")
                .trim_end_matches('/');
            let mut s = TcpStream::connect(host).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
            let mut buf = vec![0; 1 << 16];
            let n = s.read(&mut buf).unwrap_or(0);
            String::from_utf8_lossy(&buf[..n]).into_owned()
        } else {
            raw_get(&served.url, path)
        };
        assert!(answer.starts_with("HTTP/1.1 "), "{path}: {answer}");
        assert!(!answer.contains("OUTSIDE-SECRET"), "{path}: {answer}");
        assert!(!answer.contains("root:x:0"), "{path}: {answer}");
    }
    // The directory's own lines are there, through the same query.
    let (status, body) = get(&format!("{}api/logs?q=request", served.url)).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("request 7"), "{body}");
    // Another Host than the server's own (a rebound name) is refused.
    let host = served
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /api/logs HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 421"), "{out}");
}
