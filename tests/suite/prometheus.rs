//! The metrics a replica serves (`LOGWARDEN_METRICS_ADDR`), read by the real Prometheus tools:
//! `promtool check metrics` accepts the exposition and its numbers are what was written; a real
//! Prometheus scraping three replicas fires the fleet rule of docs/fleet.md through a real
//! Alertmanager when no replica crosses its own threshold; and `promtool test rules` passes on
//! that rule.
//!
//! Prometheus 2.42 and `promtool` (Debian package `prometheus`) and Alertmanager 0.25 (Debian
//! package `prometheus-alertmanager`) run as children of the test, on `127.0.0.1`, with their
//! storage in temp dirs (`support::engines`). The replicas are this binary re-run on
//! [`replica_child`]. `#[ignore]`d for plain `cargo test`; `.ci/run` installs the packages and
//! runs them with `--ignored`, where a missing binary fails the test instead of skipping it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::engines::{
    alertmanager_config, binary, free_port, get, log_all, parse_exposition, replica_main,
    Alertmanager, Prometheus, Receiver, Replica,
};
use crate::support::eventually;

const FLEET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/fleet.md");
const BEGIN: &str = "<!-- fleet-rule:begin -->";
const END: &str = "<!-- fleet-rule:end -->";
const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// A replica, for the tests of this module (see `support::engines::replica_main`).
#[test]
fn replica_child() {
    replica_main();
}

/// The rule file of docs/fleet.md: the fenced YAML between its markers.
fn fleet_rule() -> String {
    let doc = std::fs::read_to_string(FLEET).expect("docs/fleet.md");
    let start = doc.find(BEGIN).expect("the begin marker") + BEGIN.len();
    let end = doc[start..].find(END).expect("the end marker") + start;
    let block = doc[start..end].trim();
    let yaml = block
        .strip_prefix("```yaml\n")
        .and_then(|b| b.strip_suffix("```"))
        .unwrap_or_else(|| panic!("not one fenced yaml block between the markers:\n{block}"));
    yaml.to_owned()
}

/// `promtool` with `args`, `stdin` on its standard input: its exit status, stdout and stderr.
fn promtool(args: &[&str], dir: &Path, stdin: &str) -> (bool, String) {
    let mut child = Command::new(binary("promtool", "prometheus"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.as_bytes())
        .expect("write to promtool");
    drop(input);
    let out = crate::support::child::wait_output(child);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// `GET /metrics` of the replica serving on `port`: 200, the text format's content type.
fn scrape(port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let (status, body) = get(&url).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200, "{url}: {body}");
    body
}

/// The value of the one sample named `name` whose labels include `with`.
fn value(text: &str, name: &str, with: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = parse_exposition(text)
        .into_iter()
        .filter(|(n, labels, _)| {
            n == name
                && with
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .collect();
    assert_eq!(found.len(), 1, "one sample {name}{with:?} in:\n{text}");
    found[0]
}

/// promtool accepts it (exit 0, no lint problem), every sample carries the replica's `service`
/// and `env`, and the metrics have the types they are documented with.
fn assert_valid(text: &str, dir: &Path) {
    let (ok, said) = promtool(&["check", "metrics"], dir, text);
    assert!(
        ok && said.trim().is_empty(),
        "promtool check metrics:\n{said}\n{text}"
    );
    for (name, labels, _) in parse_exposition(text) {
        assert_eq!(
            (
                labels.get("service").map(String::as_str),
                labels.get("env").map(String::as_str)
            ),
            (Some("checkout"), Some("test")),
            "{name}{labels:?}"
        );
    }
    let types: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    for counter in [
        "logwarden_events_total",
        "logwarden_lines_written_total",
        "logwarden_lines_dropped_total",
        "logwarden_write_errors_total",
        "logwarden_alerts_sent_total",
        "logwarden_alerts_failed_total",
        "logwarden_incidents_opened_total",
    ] {
        assert_eq!(
            types.get(counter),
            Some(&"counter"),
            "# TYPE of {counter}:\n{text}"
        );
    }
    assert_eq!(
        types.get("logwarden_incidents_open"),
        Some(&"gauge"),
        "{text}"
    );
}

/// A replica serving its metrics on `LOGWARDEN_METRICS_ADDR`: `promtool check metrics` accepts
/// the exposition before and after it logs, every series is there from the start at 0 (so that
/// `increase()` sees the first events), and the numbers are what the log file holds: events per
/// level, lines written; then an incident opened and posted moves the alert metrics. Well under
/// 1 s.
#[test]
#[ignore = "needs promtool (Debian package prometheus); run by .ci/run with --ignored"]
fn promtool_accepts_the_metrics_and_they_count_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let alertmanager =
        crate::support::http::Server::start(Vec::new(), crate::support::http::Reply::ok());
    let port = free_port();
    let env = [
        ("LOGWARDEN_SERVICE", "checkout".to_owned()),
        ("LOGWARDEN_ENV", "test".to_owned()),
        ("LOGWARDEN_METRICS_ADDR", format!("127.0.0.1:{port}")),
        // The replica's own events at every level; the HTTP stack's at info.
        ("RUST_LOG", "info,suite=trace".to_owned()),
        ("LOGWARDEN_ALERTMANAGER_URL", alertmanager.url("")),
        ("LOGWARDEN_ALERT_WINDOW", "60s".to_owned()),
    ];
    let mut replica = Replica::spawn(module_path!(), &dir.path().join("replica"), &env);
    replica.wait_ready();

    let before = scrape(port);
    assert_valid(&before, dir.path());
    for level in LEVELS {
        assert_eq!(
            value(&before, "logwarden_events_total", &[("level", level)]),
            0.0,
            "every level's series is there before its first event, at 0:\n{before}"
        );
    }
    assert_eq!(value(&before, "logwarden_incidents_open", &[]), 0.0);

    replica.send_log("error=3,warn=2,info=4,debug=1,trace=5");
    replica.wait_done();
    let after = scrape(port);
    assert_valid(&after, dir.path());
    let records = replica.records();
    for (level, logged) in [
        ("error", 3),
        ("warn", 2),
        ("info", 4),
        ("debug", 1),
        ("trace", 5),
    ] {
        let in_file = records
            .iter()
            .filter(|r| {
                r["level"]
                    .as_str()
                    .is_some_and(|l| l.eq_ignore_ascii_case(level))
            })
            .count();
        assert!(
            in_file >= logged,
            "{level}: {in_file} records, {logged} logged"
        );
        assert_eq!(
            value(&after, "logwarden_events_total", &[("level", level)]),
            in_file as f64,
            "events of level {level} vs records in the file:\n{after}"
        );
    }
    assert_eq!(
        value(&after, "logwarden_events_total", &[("level", "error")]),
        3.0
    );
    assert_eq!(
        value(&after, "logwarden_lines_written_total", &[]),
        records.len() as f64,
        "{after}"
    );
    for zero in [
        "logwarden_lines_dropped_total",
        "logwarden_write_errors_total",
        "logwarden_alerts_sent_total",
        "logwarden_alerts_failed_total",
        "logwarden_incidents_opened_total",
        "logwarden_incidents_open",
    ] {
        assert_eq!(value(&after, zero, &[]), 0.0, "{zero}:\n{after}");
    }

    // Two more ERRORs make 5 within the window: an incident opens and is posted.
    replica.send_log("error=2");
    replica.wait_done();
    eventually("the opening post", crate::support::WAIT, || {
        !alertmanager.requests().is_empty()
    });
    let mut open = String::new();
    eventually("the alert counted as sent", crate::support::WAIT, || {
        open = scrape(port);
        value(&open, "logwarden_alerts_sent_total", &[]) >= 1.0
    });
    assert_valid(&open, dir.path());
    assert_eq!(
        value(&open, "logwarden_events_total", &[("level", "error")]),
        5.0
    );
    assert_eq!(
        value(&open, "logwarden_incidents_opened_total", &[]),
        1.0,
        "{open}"
    );
    assert_eq!(value(&open, "logwarden_incidents_open", &[]), 1.0, "{open}");
    assert_eq!(
        value(&open, "logwarden_alerts_failed_total", &[]),
        0.0,
        "{open}"
    );
    replica.stop();
}

/// Three replicas of one service each log 2 ERRORs, below their own threshold (5 within 60 s):
/// none of them posts anything to Alertmanager, but a real Prometheus scraping them every second
/// fires the documented fleet rule (6 within 1 min across the replicas), unchanged, and its alert
/// reaches the webhook through the same Alertmanager: one firing notification, labelled with the
/// service. About 9 s, 5 of them Prometheus's wait before it scrapes new targets.
#[test]
#[ignore = "needs prometheus and prometheus-alertmanager (Debian packages); run by .ci/run with --ignored"]
fn prometheus_fires_the_fleet_rule_when_no_replica_crosses_its_own_threshold() {
    let receiver = Receiver::start();
    let mut am = Alertmanager::start(&alertmanager_config(&receiver.url()));
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut replicas: Vec<Replica> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            let env = [
                ("LOGWARDEN_SERVICE", "checkout".to_owned()),
                ("LOGWARDEN_ENV", "test".to_owned()),
                ("LOGWARDEN_METRICS_ADDR", format!("127.0.0.1:{port}")),
                ("LOGWARDEN_ALERTMANAGER_URL", am.url()),
                ("LOGWARDEN_ALERTMANAGER_RESEND", "1s".to_owned()),
                ("LOGWARDEN_ALERT_THRESHOLD", "5".to_owned()),
                ("LOGWARDEN_ALERT_WINDOW", "60s".to_owned()),
            ];
            Replica::spawn(
                module_path!(),
                &dir.path().join(format!("replica-{i}")),
                &env,
            )
        })
        .collect();
    for r in &mut replicas {
        r.wait_ready();
    }
    let targets: Vec<String> = ports.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
    let config = format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: checkout
    static_configs:
      - targets: [{targets}]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["{am}"]
"#,
        targets = targets.join(", "),
        am = am.url().trim_start_matches("http://"),
    );
    let started = Instant::now();
    let mut prometheus = Prometheus::start(&config, &fleet_rule());
    // Every replica scraped once before its first ERROR, at 0: a series first seen at 2 would
    // not count as an increase. Prometheus applies new targets at most every 5 s, the first
    // ones too.
    eventually(
        "Prometheus to scrape each replica's error count at 0",
        Duration::from_secs(15),
        || {
            prometheus
                .query(r#"logwarden_events_total{level="error"} == 0"#)
                .len()
                == 3
        },
    );

    eprintln!(
        "every replica scraped {:?} after Prometheus started",
        started.elapsed()
    );
    let go = Instant::now();
    log_all(&mut replicas, "error=2");
    let replica_alerts = |am: &mut Alertmanager| am.alerts_with("alertname", "LogwardenErrors");
    let deadline = go + Duration::from_secs(30);
    let got = loop {
        assert!(
            replica_alerts(&mut am).is_empty(),
            "a replica alerted by itself"
        );
        let got = receiver.notifications();
        if !got.is_empty() {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "no fleet alert within 30 s; Prometheus alerts: {:?}\nPrometheus said:\n{}",
            prometheus.alerts(),
            prometheus.said()
        );
        thread::sleep(Duration::from_millis(50));
    };
    eprintln!("fleet notification {:?} after the ERRORs", go.elapsed());
    let n = &got[0];
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(|n| &n.raw).collect::<Vec<_>>()
    );
    assert_eq!(n.status, "firing", "{}", n.raw);
    assert_eq!(n.alerts.len(), 1, "{}", n.raw);
    let alert = &n.alerts[0];
    assert_eq!(
        alert["labels"]["alertname"], "LogwardenFleetErrors",
        "{alert}"
    );
    assert_eq!(alert["labels"]["service"], "checkout", "{alert}");
    assert_eq!(alert["labels"]["severity"], "page", "{alert}");
    assert!(
        alert["labels"].get("instance").is_none(),
        "summed over the replicas: {alert}"
    );
    let summary = alert["annotations"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("checkout: ") && summary.contains(" ERROR events in the last minute"),
        "{summary}"
    );
    let firing: Vec<Value> = prometheus
        .alerts()
        .into_iter()
        .filter(|a| a["state"] == "firing")
        .collect();
    assert_eq!(firing.len(), 1, "{firing:?}");

    // Nothing from the replicas, in Alertmanager or in their files.
    assert!(
        replica_alerts(&mut am).is_empty(),
        "a replica alerted by itself"
    );
    for r in replicas {
        assert!(
            r.records().iter().all(|rec| rec.get("alert").is_none()),
            "an alert record in a replica's file"
        );
        r.stop();
    }
    eprintln!("whole test {:?}", go.elapsed());
}

/// Three replicas of `checkout` (with job and instance labels, as Prometheus scrapes them) and
/// two of `billing`; each replica's count goes from 0 to 2 at 2 min.
const RULE_TESTS: &str = r#"rule_files:
  - rules.yml
evaluation_interval: 15s
tests:
  - interval: 15s
    input_series:
      - series: 'logwarden_events_total{job="checkout",instance="10.0.0.1:9464",service="checkout",env="prod",level="error"}'
        values: '0x7 2x12'
      - series: 'logwarden_events_total{job="checkout",instance="10.0.0.2:9464",service="checkout",env="prod",level="error"}'
        values: '0x7 2x12'
      - series: 'logwarden_events_total{job="checkout",instance="10.0.0.3:9464",service="checkout",env="prod",level="error"}'
        values: '0x7 2x12'
      - series: 'logwarden_events_total{job="checkout",instance="10.0.0.1:9464",service="checkout",env="prod",level="warn"}'
        values: '0x7 50x12'
      - series: 'logwarden_events_total{job="billing",instance="10.0.0.4:9464",service="billing",env="prod",level="error"}'
        values: '0x7 2x12'
      - series: 'logwarden_events_total{job="billing",instance="10.0.0.5:9464",service="billing",env="prod",level="error"}'
        values: '0x7 2x12'
    alert_rule_test:
      # Before the ERRORs.
      - eval_time: 1m45s
        alertname: LogwardenFleetErrors
        exp_alerts: []
      # 6 across checkout's three replicas, 2 each; billing's 4 and the 50 WARNs do not page.
      - eval_time: 2m
        alertname: LogwardenFleetErrors
        exp_alerts:
          - exp_labels:
              service: checkout
              severity: page
            exp_annotations:
              summary: "checkout: 6 ERROR events in the last minute across its replicas"
      # A minute later the ERRORs have left the range.
      - eval_time: 3m15s
        alertname: LogwardenFleetErrors
        exp_alerts: []
"#;

/// `promtool check rules` and `promtool test rules` on the rule of docs/fleet.md: it fires for the
/// service whose replicas together log 5 ERRORs within a minute, with its labels and summary, not
/// for the one below, not on WARNs, and stops once the minute has passed. The same tests with one
/// wrong expectation must fail, or promtool would not be checking anything. Well under 1 s.
#[test]
#[ignore = "needs promtool (Debian package prometheus); run by .ci/run with --ignored"]
fn promtool_unit_tests_pass_on_the_documented_fleet_rule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), fleet_rule()).unwrap();
    let (ok, said) = promtool(&["check", "rules", "rules.yml"], dir.path(), "");
    assert!(ok, "promtool check rules:\n{said}\n{}", fleet_rule());
    assert!(said.contains("SUCCESS: 1 rules found"), "{said}");

    std::fs::write(dir.path().join("tests.yml"), RULE_TESTS).unwrap();
    let (ok, said) = promtool(&["test", "rules", "tests.yml"], dir.path(), "");
    assert!(ok, "promtool test rules:\n{said}");
    assert!(said.contains("SUCCESS"), "{said}");

    let wrong = RULE_TESTS.replacen("summary: \"checkout: 6 ", "summary: \"checkout: 5 ", 1);
    assert_ne!(wrong, RULE_TESTS);
    std::fs::write(dir.path().join("wrong.yml"), wrong).unwrap();
    let (ok, said) = promtool(&["test", "rules", "wrong.yml"], dir.path(), "");
    assert!(
        !ok && said.contains("FAILED"),
        "a wrong expectation passed:\n{said}"
    );
}
