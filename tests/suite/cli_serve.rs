//! `logwarden serve` over HTTP: the bind refusal, the access token, and that no URL reaches a
//! file outside the directory; and the page in a real headless Chromium (needs `chromium` and
//! `chromedriver`, so `#[ignore]`d for plain `cargo test`; `.ci/run` installs both and runs it with
//! `--ignored`, where a missing one fails the test). The real binary, a real directory, requests
//! on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support;
use crate::support::artifacts_dir;
use crate::support::browser::Browser;
use crate::support::engines::{get, get_json};

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
        .env_remove("LOGWARDEN_ALERT_THRESHOLD")
        .env_remove("LOGWARDEN_ALERT_WINDOW")
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

/// The number of lines the server says it has read, from `/api/summary`.
fn lines_read(served: &Served) -> u64 {
    get_json(&format!("{}api/summary?range=all", served.url))["lines"]
        .as_u64()
        .expect("a line count")
}

/// Waits until the server has read `expected` lines, then a moment more, and asserts it read
/// exactly that many: fewer is a line lost, more a line read twice.
fn assert_reads_exactly(served: &Served, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines_read(served) < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Past the follower's poll and the figures' refresh: a line read twice shows by now.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(lines_read(served), expected, "lines read by the server");
}

/// A line still being written when the server starts is read once, whole, when its newline
/// comes: neither counted as a broken line nor read twice.
#[test]
fn a_line_being_written_at_start_is_read_once_whole() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path());
    let path = dir.path().join("api.log");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(
        b"{\"timestamp\":\"2026-12-01T10:01:00.000000Z\",\"level\":\"INFO\",\"message\":\"half",
    )
    .unwrap();
    let served = serve(dir.path(), &["--addr", "127.0.0.1:0"], &[]);
    assert_eq!(
        lines_read(&served),
        20,
        "the unfinished line is not read yet"
    );
    file.write_all(b" written\",\"service\":\"api\"}\n")
        .unwrap();
    assert_reads_exactly(&served, 21);
    let logs = get_json(&format!("{}api/logs?q=half", served.url));
    let found = logs["lines"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{logs}");
    assert_eq!(found[0]["message"], "half written", "{logs}");
}

/// The server starts while the directory's service writes and rotates its file many times a
/// second: every line is read exactly once, those rotated away during the history read
/// included.
#[test]
fn rotation_while_the_server_starts_loses_nothing_and_reads_nothing_twice() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt as _;

    let dir = tempfile::tempdir().unwrap();
    let (layer, guard) = logwarden::builder()
        .service("api")
        .dir(dir.path())
        .file_name("api.log")
        .max_bytes(64 * 1024)
        .keep(100_000)
        .alerts(false)
        .capture_log(false)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, written) = (Arc::clone(&stop), Arc::clone(&written));
        std::thread::spawn(move || {
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, || {
                while !stop.load(Ordering::Relaxed) {
                    let n = written.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(n, "request {n}");
                    if n % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
            });
        })
    };
    // Enough history that reading it takes a while, all of it while rotations go on.
    support::eventually("a history to read", Duration::from_secs(60), || {
        written.load(Ordering::Relaxed) >= 60_000
    });
    let served = serve(dir.path(), &["--addr", "127.0.0.1:0"], &[]);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(guard.flush(), "flush timed out");
    drop(guard);
    let mut on_disk = 0u64;
    let mut files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        on_disk += text.lines().count() as u64;
        files += 1;
    }
    assert!(files > 20, "the file rotated many times ({files} files)");
    assert_reads_exactly(&served, on_disk);
}

/// A line of `service` at `at`, with `extra` fields (`"key":value,` pairs, JSON).
fn line(at: jiff::Timestamp, level: &str, service: &str, message: &str, extra: &str) -> String {
    let message = serde_json::to_string(message).unwrap();
    format!(
        "{{\"timestamp\":\"{at:.6}\",\"level\":\"{level}\",{extra}\"message\":{message},\"service\":\"{service}\"}}\n"
    )
}

/// The page's rows: `[time, level, service, message, fields]` each, as the text shown.
const ROWS: &str = "return [...document.querySelectorAll('#logs tbody tr.line')]\
    .map(tr => [...tr.cells].map(td => td.textContent));";

fn rows(browser: &Browser) -> Vec<Vec<String>> {
    serde_json::from_value(browser.script(ROWS, json!([]))).unwrap()
}

/// Waits until the shown rows satisfy `cond` and returns them.
fn rows_when(
    browser: &Browser,
    what: &str,
    cond: impl Fn(&[Vec<String>]) -> bool,
) -> Vec<Vec<String>> {
    let deadline = Instant::now() + PAGE;
    loop {
        let shown = rows(browser);
        if cond(&shown) {
            return shown;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {PAGE:?} waiting for {what}; rows shown: {shown:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The bound of every wait for the page to show something: a live line shows within about two
/// seconds; only a hang reaches this.
const PAGE: Duration = Duration::from_secs(20);

/// The page as a user meets it: the chart with the incident shaded, the incident and MTTR, the
/// lines; a line appended after load shows without a reload; the text, field and level filters
/// narrow the lines to exactly the matching ones; a click on an incident or a bar shows its lines;
/// `/` goes to the search box; lines carrying markup show it as text and run nothing; the console
/// stays clean and no request leaves the server; on a phone's width nothing overflows.
#[test]
#[ignore = "needs chromium and chromedriver (apt-get install chromium chromium-driver); run with --ignored"]
fn the_page_shows_charts_incidents_and_live_lines_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now();
    let ago = |secs: i64| now - jiff::SignedDuration::from_secs(secs);
    let mut api = String::new();
    for i in 0..40 {
        api.push_str(&line(
            ago(900 - i * 20),
            "INFO",
            "api",
            &format!("request {i}"),
            &format!("\"user_id\":{},", 100 + i),
        ));
    }
    // Six errors in ten seconds, ten minutes ago: an incident, resolved a minute later.
    for i in 0..6 {
        api.push_str(&line(
            ago(600 - 2 * i),
            "ERROR",
            "api",
            "payment gateway timeout",
            "\"gateway\":\"acme\",",
        ));
    }
    // Markup in a message and in a field, as an attacker who can write a log line would try.
    api.push_str(&line(
        ago(120),
        "WARN",
        "api",
        "<img src=x onerror=\"window.__xss=1\">",
        "\"note\":\"<script>window.__xss=2</script>\",",
    ));
    api.push_str(&line(
        ago(119),
        "WARN",
        "api",
        "<b id=\"bold\">bold</b>",
        "",
    ));
    let mut worker = String::new();
    for i in 0..10 {
        worker.push_str(&line(
            ago(800 - i * 30),
            "INFO",
            "worker",
            &format!("job {i} done"),
            "\"job\":\"reindex\",",
        ));
    }
    std::fs::write(dir.path().join("api.log"), &api).unwrap();
    std::fs::write(dir.path().join("worker.log"), &worker).unwrap();
    let lines_written = 40 + 6 + 2 + 10;

    let served = serve(dir.path(), &["--addr", "127.0.0.1:0"], &[]);
    let origin = served.url.trim_end_matches('/').to_owned();
    let browser = Browser::start(1280, 900);
    browser.goto(&served.url);

    browser.wait_for(
        "the stream to be live",
        PAGE,
        "return document.getElementById('status').textContent === 'live';",
    );
    let chart: Value = browser.wait_for(
        "the chart with the incident shaded and the incident listed",
        PAGE,
        "const bars = document.querySelectorAll('#chart rect.bar').length;
         const shaded = document.querySelectorAll('#chart rect.incident').length;
         const listed = document.querySelectorAll('#incidents tbody tr.incident').length;
         return bars && shaded && listed ? {bars, shaded, listed,
           mttr: document.getElementById('mttr').textContent,
           incident: [...document.querySelector('#incidents tbody tr.incident').cells].map(c => c.textContent)} : null;",
    );
    assert_eq!(chart["shaded"], 1, "{chart}");
    assert_eq!(chart["listed"], 1, "{chart}");
    let incident: Vec<String> = serde_json::from_value(chart["incident"].clone()).unwrap();
    assert_eq!(incident[0], "api", "{incident:?}");
    assert_eq!(incident[3], "6", "six errors: {incident:?}");
    assert_eq!(incident[4], "payment gateway timeout", "{incident:?}");
    assert!(
        chart["mttr"].as_str().unwrap().ends_with("over 1 resolved"),
        "{chart}"
    );
    let shown = rows_when(&browser, "every line", |r| r.len() == lines_written);
    // Newest first.
    assert_eq!(shown[0][3], "<b id=\"bold\">bold</b>", "{:?}", shown[0]);

    // Markup from the log is text: shown as written, no element made of it, nothing run.
    let xss = browser.script(
        "return {ran: window.__xss === undefined ? null : window.__xss,
                 made: document.querySelectorAll('img, #bold, #logs script').length,
                 scripts: document.scripts.length};",
        json!([]),
    );
    assert_eq!(
        xss["ran"],
        Value::Null,
        "a script from a log line ran: {xss}"
    );
    assert_eq!(
        xss["made"], 0,
        "markup from a log line became elements: {xss}"
    );
    assert_eq!(xss["scripts"], 1, "only the page's own script: {xss}");
    let markup = shown
        .iter()
        .find(|r| r[3].starts_with("<img"))
        .expect("the line with an img tag is shown");
    assert_eq!(markup[3], "<img src=x onerror=\"window.__xss=1\">");
    assert!(
        markup[4].contains("<script>window.__xss=2</script>"),
        "{markup:?}"
    );

    // A line appended after load shows on top, without a reload.
    browser.script("window.__loaded = 'once'; return null;", json!([]));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("api.log"))
        .unwrap();
    file.write_all(
        line(
            jiff::Timestamp::now(),
            "INFO",
            "api",
            "appended after load",
            "",
        )
        .as_bytes(),
    )
    .unwrap();
    drop(file);
    let shown = rows_when(&browser, "the appended line", |r| {
        r.first().is_some_and(|row| row[3] == "appended after load")
    });
    assert_eq!(shown.len(), lines_written + 1);
    assert_eq!(shown[0][4], "", "a line with no other field has none shown");
    assert_eq!(
        browser.script("return window.__loaded;", json!([])),
        "once",
        "the page was reloaded"
    );

    let png = browser.screenshot();
    assert!(png.len() > 10_000 && png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let artifacts = artifacts_dir();
    std::fs::write(artifacts.join("serve.png"), &png).unwrap();

    // Filters narrow to exactly the matching lines.
    let text = browser.find("#text");
    browser.type_into(&text, "request 1");
    let shown = rows_when(&browser, "the text filter", |r| r.len() == 11);
    let mut messages: Vec<&str> = shown.iter().map(|r| r[3].as_str()).collect();
    messages.sort();
    let mut expected: Vec<String> = std::iter::once(1)
        .chain(10..20)
        .map(|i| format!("request {i}"))
        .collect();
    expected.sort();
    assert_eq!(messages, expected);
    browser.clear(&text);
    let fields = browser.find("#fields");
    browser.type_into(&fields, "job=reindex");
    let shown = rows_when(&browser, "the field filter", |r| r.len() == 10);
    assert!(shown.iter().all(|r| r[2] == "worker"), "{shown:#?}");
    browser.clear(&fields);
    browser.click("#level");
    browser.click("#level option[value=ERROR]");
    let shown = rows_when(&browser, "the level filter", |r| r.len() == 6);
    assert!(
        shown
            .iter()
            .all(|r| r[1] == "ERROR" && r[3] == "payment gateway timeout"),
        "{shown:#?}"
    );
    browser.click("#level");
    browser.click("#level option[value='']");
    rows_when(&browser, "the filters cleared", |r| {
        r.len() == lines_written + 1
    });

    // A click on the incident shows its lines: its six errors, of its service.
    browser.click("#incidents tbody tr.incident");
    let shown = rows_when(&browser, "the incident's lines", |r| {
        r.iter().filter(|row| row[1] == "ERROR").count() == 6 && r.len() < lines_written
    });
    assert!(shown.iter().all(|r| r[2] == "api"), "{shown:#?}");
    let view = browser.script(
        "return document.getElementById('view').textContent;",
        json!([]),
    );
    assert!(
        view.as_str().unwrap().starts_with("incident of api"),
        "{view}"
    );
    // Back to the live tail, still of the incident's service (the service filter shows it),
    // then of every service.
    browser.click("#back");
    let shown = rows_when(&browser, "back to the live tail", |r| {
        r.len() == 40 + 6 + 2 + 1
    });
    assert!(shown.iter().all(|r| r[2] == "api"), "{shown:#?}");
    browser.click("#service");
    browser.click("#service option[value='']");
    rows_when(&browser, "every service again", |r| {
        r.len() == lines_written + 1
    });

    // A click on a bar shows that minute's lines: as many as its bars count.
    let picked = browser.script(
        "const bars = [...document.querySelectorAll('#chart rect.bar')];
         const tallest = bars.reduce((a, b) => Number(b.getAttribute('height')) > Number(a.getAttribute('height')) ? b : a);
         const from = tallest.dataset.from;
         const count = bars.filter(b => b.dataset.from === from)
           .reduce((n, b) => n + Number(b.querySelector('title').textContent.split(': ')[1].split(' ')[0]), 0);
         return [count, `rect.bar[data-from='${from}'][data-level='${tallest.dataset.level}']`];",
        json!([]),
    );
    let count = picked[0].as_u64().unwrap() as usize;
    assert!(count > 0, "{picked}");
    browser.click(picked[1].as_str().unwrap());
    rows_when(&browser, "the bar's lines", |r| r.len() == count);

    // `/` goes to the search box.
    browser.click("h1");
    browser.keys("/");
    assert_eq!(
        browser.script("return document.activeElement.id;", json!([])),
        "text"
    );

    // Errors written now open an incident: it shows, open and listed first, without a reload.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("worker.log"))
        .unwrap();
    for _ in 0..5 {
        let at = jiff::Timestamp::now();
        file.write_all(line(at, "ERROR", "worker", "disk full", "").as_bytes())
            .unwrap();
    }
    drop(file);
    let open = browser.wait_for(
        "the new incident",
        PAGE,
        "const rows = [...document.querySelectorAll('#incidents tbody tr.incident')];
         return rows.length === 2 ? rows.map(r => [r.className, ...[...r.cells].map(c => c.textContent)]) : null;",
    );
    let open: Vec<Vec<String>> = serde_json::from_value(open).unwrap();
    assert_eq!(open[0][0], "incident open", "{open:?}");
    assert_eq!(open[0][1], "worker", "{open:?}");
    assert!(open[0][3].ends_with(", open"), "{open:?}");
    assert_eq!(open[0][5], "disk full", "{open:?}");
    assert_eq!(open[1][1], "api", "{open:?}");
    assert_eq!(
        browser.script("return window.__loaded;", json!([])),
        "once",
        "the page was reloaded"
    );

    let console = browser.console();
    assert!(
        console
            .iter()
            .all(|(level, _)| level != "SEVERE" && level != "WARNING"),
        "the console: {console:#?}"
    );
    let requests = browser.requests_from(&format!("{origin}/"));
    assert!(
        requests.len() >= 5,
        "the page, its script, style and icon, the API: {requests:#?}"
    );
    for url in &requests {
        assert!(
            url.starts_with(&format!("{origin}/")),
            "a request left the server: {url}"
        );
    }

    // On a phone's width: nothing wider than the screen.
    browser.resize(390, 844);
    let widths = browser.wait_for(
        "the narrow layout",
        PAGE,
        "return window.innerWidth <= 400 ? [document.documentElement.scrollWidth, window.innerWidth] : null;",
    );
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "the page overflows a phone's width: {widths}"
    );
    // There a row's fields show only once it is tapped.
    let fields_shown = "return getComputedStyle(document.querySelector('#logs tbody tr.line td.fields')).display !== 'none';";
    assert_eq!(browser.script(fields_shown, json!([])), false);
    browser.click("#logs tbody tr.line");
    assert_eq!(browser.script(fields_shown, json!([])), true);
    std::fs::write(artifacts.join("serve-phone.png"), browser.screenshot()).unwrap();
    eprintln!("screenshots: {}", artifacts.display());
}
