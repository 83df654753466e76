//! What a fleet reads from each process, against stand-ins on 127.0.0.1: the Alertmanager
//! notifier's posts (every instance, resends, the end of an alert, credentials) and the metrics
//! (the text, the served endpoint, bad addresses). The real Alertmanager and Prometheus are in
//! `alertmanager.rs` and `prometheus.rs`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use logwarden::testing::ManualClock;
use logwarden::{ErrorKind, Guard};
use serde_json::Value;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::http::{refused_url, Reply, Request, Server};
use crate::support::{eventually, WAIT};

/// 2023-11-14T22:13:20Z.
const T0: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn rfc3339(secs: u64) -> String {
    jiff::Timestamp::try_from(at(secs))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn base(dir: &Path, clock: &ManualClock) -> logwarden::Builder {
    logwarden::builder()
        .service("orders")
        .env("prod")
        .dir(dir)
        .clock(clock.clone())
        .alert_threshold(3)
        .alert_window(Duration::from_secs(60))
        .alert_retries(3, Duration::from_millis(50))
        .alertmanager_resend(Duration::from_millis(300))
}

fn start(builder: logwarden::Builder) -> (Dispatch, Guard) {
    let (layer, guard) = builder.capture_log(false).build().unwrap();
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        guard,
    )
}

/// The error `builder` fails with.
fn build_err(builder: logwarden::Builder) -> logwarden::Error {
    match builder.build::<tracing_subscriber::Registry>() {
        Ok(_) => panic!("expected the configuration to be refused"),
        Err(e) => e,
    }
}

fn errors(dispatch: &Dispatch, n: usize) {
    tracing::dispatcher::with_default(dispatch, || {
        for i in 0..n {
            tracing::error!(i, "payment gateway timed out");
        }
    });
}

/// The one alert of a post.
fn alert_of(r: &Request) -> Value {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/api/v2/alerts", "{r:?}");
    let body = r.json();
    let alerts = body.as_array().expect("an array of alerts");
    assert_eq!(alerts.len(), 1, "{body}");
    alerts[0].clone()
}

fn wait_for(server: &Server, n: usize) -> Vec<Request> {
    let got = server.wait_for(n, WAIT);
    assert!(got.len() >= n, "expected {n} posts, got {got:#?}");
    got
}

#[test]
fn every_instance_gets_each_incident_and_one_down_delays_none() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(0));
    let up = Server::start(vec![], Reply::ok());
    // An instance that fails once, then takes posts: retried with the others untouched.
    let flaky = Server::start(vec![Reply::status(503, "starting")], Reply::ok());
    let down = refused_url("");
    let slack = Server::start(vec![], Reply::ok());
    let urls = format!("{},{}/,{down}", up.url(""), flaky.url(""));
    let (dispatch, guard) = start(
        base(dir.path(), &clock)
            .alertmanager(urls)
            .slack_webhook(slack.url("/hook")),
    );
    errors(&dispatch, 3);

    let first = alert_of(&wait_for(&up, 1)[0]);
    let labels = &first["labels"];
    assert_eq!(labels["alertname"], "LogwardenErrors");
    assert_eq!(labels["service"], "orders");
    assert_eq!(labels["env"], "prod");
    assert_eq!(labels["pid"], std::process::id().to_string());
    assert!(labels["host"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(first["startsAt"], rfc3339(0));
    let ann = &first["annotations"];
    assert_eq!(ann["incident"], "1");
    assert_eq!(ann["top_error"], "payment gateway timed out");
    assert!(
        ann["summary"].as_str().unwrap().contains("orders (prod)"),
        "{ann}"
    );
    // Firing: it ends four resend intervals after the post, on the wall clock, unless said again.
    let ends: jiff::Timestamp = first["endsAt"].as_str().unwrap().parse().unwrap();
    let ahead = ends.duration_since(jiff::Timestamp::now());
    assert!(
        ahead > jiff::SignedDuration::ZERO && ahead <= jiff::SignedDuration::from_millis(1_200),
        "endsAt {ends} is {ahead:?} ahead"
    );
    assert_eq!(alert_of(&wait_for(&flaky, 2)[1])["labels"], *labels);
    wait_for(&slack, 1);

    // Kept alive while open: resent about every 300 ms, with the same labels.
    let resent = wait_for(&up, 4);
    for r in &resent {
        assert_eq!(alert_of(r)["labels"], *labels);
        assert_eq!(alert_of(r)["startsAt"], rfc3339(0));
    }

    // Resolved: the window (60 s on the manual clock) went quiet at 60 s.
    clock.set(at(500));
    eventually("a resolution with its own end", WAIT, || {
        up.requests()
            .iter()
            .any(|r| alert_of(r)["endsAt"] == rfc3339(60))
    });
    // Repeated until the last firing post's horizon (4 × 300 ms), then never again.
    std::thread::sleep(Duration::from_millis(2_000));
    let settled = up.requests().len();
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(
        up.requests().len(),
        settled,
        "resends stopped after the end"
    );
    let ended: Vec<Value> = up
        .requests()
        .iter()
        .map(alert_of)
        .filter(|a| a["endsAt"] == rfc3339(60))
        .collect();
    assert!((2..=6).contains(&ended.len()), "{ended:#?}");

    // Per destination: the flaky instance's retry worked, the refused one's did not.
    let i = guard.incidents();
    assert_eq!((i.opened, i.resolved), (1, 1));
    assert!(
        i.alerts_failed >= 2,
        "the refused instance fails each time: {i:?}"
    );
    assert!(i.alerts_sent >= 6, "{i:?}");
    drop(guard);
}

#[test]
fn a_guard_dropped_with_an_incident_open_ends_the_alert_now() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(0));
    let am = Server::start(vec![], Reply::ok());
    let (dispatch, guard) = start(
        base(dir.path(), &clock)
            .alertmanager(am.url(""))
            .alertmanager_resend(Duration::from_secs(60)),
    );
    errors(&dispatch, 3);
    wait_for(&am, 1);
    clock.set(at(20));
    drop(guard);
    let got = am.requests();
    assert_eq!(got.len(), 2, "{got:#?}");
    let last = alert_of(&got[1]);
    assert_eq!(last["endsAt"], rfc3339(20));
    assert!(
        last["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("stopped with the incident open"),
        "{last}"
    );
}

#[test]
fn credentials_in_an_alertmanager_url_are_basic_auth_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(0));
    let am = Server::start(vec![], Reply::ok());
    let url = am.url("").replace("http://", "http://ops:S3CR3T-PW@");
    let builder = base(dir.path(), &clock).alertmanager(&url);
    let debug = format!("{builder:?}");
    assert!(!debug.contains("S3CR3T"), "{debug}");
    let (dispatch, guard) = start(builder);
    errors(&dispatch, 3);
    let got = wait_for(&am, 1);
    // base64("ops:S3CR3T-PW")
    assert_eq!(
        got[0].header("authorization"),
        Some("Basic b3BzOlMzQ1IzVC1QVw==")
    );
    assert!(!format!("{guard:?}").contains("S3CR3T"));
    drop(guard);

    // A refused value shows scheme and host at most.
    let e = build_err(
        logwarden::builder()
            .dir(dir.path())
            .alertmanager("ftp://ops:S3CR3T-PW@am.internal:9093"),
    );
    assert_eq!(e.kind(), ErrorKind::InvalidSetting);
    assert!(e.to_string().starts_with("alertmanager"), "{e}");
    assert!(!e.to_string().contains("S3CR3T"), "{e}");
}

#[test]
fn bad_alertmanager_and_metrics_settings_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let err = |b: logwarden::Builder| build_err(b.dir(dir.path()));
    for (vars, setting) in [
        (
            [("LOGWARDEN_ALERTMANAGER_URL", " , ")],
            "LOGWARDEN_ALERTMANAGER_URL",
        ),
        (
            [("LOGWARDEN_ALERTMANAGER_URL", "am.internal:9093")],
            "LOGWARDEN_ALERTMANAGER_URL",
        ),
        (
            [("LOGWARDEN_ALERTMANAGER_RESEND", "soon")],
            "LOGWARDEN_ALERTMANAGER_RESEND",
        ),
        (
            [("LOGWARDEN_METRICS_ADDR", "9464")],
            "LOGWARDEN_METRICS_ADDR",
        ),
        (
            [("LOGWARDEN_METRICS_ADDR", "http://localhost:9464")],
            "LOGWARDEN_METRICS_ADDR",
        ),
    ] {
        let e = err(logwarden::builder().from_vars(vars));
        assert_eq!(e.kind(), ErrorKind::InvalidSetting, "{vars:?}: {e}");
        assert!(e.to_string().starts_with(setting), "{vars:?}: {e}");
    }
    let e = err(logwarden::builder()
        .alertmanager("http://127.0.0.1:9093")
        .from_vars([("LOGWARDEN_ALERTMANAGER_RESEND", "50ms")]));
    assert!(
        e.to_string().starts_with("LOGWARDEN_ALERTMANAGER_RESEND")
            && e.to_string().contains("100ms"),
        "{e}"
    );
    let e = err(logwarden::builder()
        .alertmanager("http://127.0.0.1:9093")
        .alertmanager_alertname(" "));
    assert!(e.to_string().starts_with("alertmanager_alertname"), "{e}");

    // An address in use is an I/O error naming the setting, before anything starts.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let e = err(logwarden::builder().from_vars([("LOGWARDEN_METRICS_ADDR", addr.as_str())]));
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.to_string().starts_with("LOGWARDEN_METRICS_ADDR"), "{e}");
}

/// `GET path` on `addr`: the status line and the body.
fn get(addr: std::net::SocketAddr, method: &str, path: &str) -> (String, String, String) {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.lines().next().unwrap().to_owned();
    (status, head.to_owned(), body.to_owned())
}

/// The value of the series `name{labels}` in an exposition, where `labels` are the ones after
/// the constant `service` and `env`.
fn sample(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn the_metrics_count_events_lines_and_incidents_and_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(0));
    let (dispatch, guard) = start(
        base(dir.path(), &clock)
            .filter("debug")
            .metrics_addr("127.0.0.1:0"),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..4 {
            tracing::error!(i, "boom");
        }
        tracing::warn!("careful");
        tracing::info!("hello");
        tracing::info!("again");
        tracing::debug!("detail");
        tracing::trace!("filtered out: not an event the stack sees");
    });
    // The alert's own record is written by the delivery thread: wait for it, so that the
    // count of lines written is settled.
    let log = guard.log_path().unwrap().to_path_buf();
    eventually("the alert record in the file", WAIT, || {
        guard.flush()
            && std::fs::read_to_string(&log)
                .unwrap()
                .contains("logwarden::alert")
    });
    let lines = std::fs::read_to_string(&log).unwrap().lines().count() as u64;
    assert_eq!(lines, 9, "8 events and the alert record");
    let text = guard.metrics();
    let l = r#"{service="orders",env="prod""#;
    for (series, value) in [
        (format!(r#"logwarden_events_total{l},level="error"}}"#), 4),
        (format!(r#"logwarden_events_total{l},level="warn"}}"#), 1),
        (format!(r#"logwarden_events_total{l},level="info"}}"#), 2),
        (format!(r#"logwarden_events_total{l},level="debug"}}"#), 1),
        (format!(r#"logwarden_events_total{l},level="trace"}}"#), 0),
        (format!("logwarden_lines_written_total{l}}}"), lines),
        (format!("logwarden_lines_dropped_total{l}}}"), 0),
        (format!("logwarden_write_errors_total{l}}}"), 0),
        (format!("logwarden_incidents_opened_total{l}}}"), 1),
        (format!("logwarden_incidents_open{l}}}"), 1),
    ] {
        assert_eq!(sample(&text, &series), Some(value), "{series} in\n{text}");
    }
    assert!(
        text.contains("# TYPE logwarden_events_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE logwarden_incidents_open gauge"),
        "{text}"
    );

    let addr = guard.metrics_addr().expect("served");
    assert!(addr.ip().is_loopback());
    let (status, head, body) = get(addr, "GET", "/metrics?x=1");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert!(body.contains(&format!(r#"logwarden_events_total{l},level="error"}} 4"#)));
    assert_eq!(get(addr, "GET", "/").0, "HTTP/1.1 404 Not Found");
    assert_eq!(
        get(addr, "GET", "/../etc/passwd").0,
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        get(addr, "POST", "/metrics").0,
        "HTTP/1.1 405 Method Not Allowed"
    );
    let (status, _, body) = get(addr, "HEAD", "/metrics");
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", ""));

    // A client that connects and says nothing delays the next scrape only.
    let _silent = TcpStream::connect(addr).unwrap();

    // Stopped with the guard: the port is free again.
    drop(guard);
    assert!(
        std::net::TcpListener::bind(addr).is_ok(),
        "the port is released when the guard is dropped"
    );
}
