//! Real Alertmanager and Prometheus servers for the tests, each a child process of the test with
//! its own configuration and storage in a temp dir, listening on `127.0.0.1` only, and stopped by
//! its pid when dropped (also when the test panics); a webhook receiver for what Alertmanager
//! notifies; and the replicas of a service, each a process of its own: this test binary re-run on
//! a module's `replica_child` test ([`replica_main`]), driven line by line over its stdin.
//!
//! The engines are the Debian packages `prometheus-alertmanager` (with `amtool`) and `prometheus`
//! (with `promtool`). A missing binary fails the test, naming the package; it never skips it.
//! Every wait here is bounded.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::child::this_test;
use super::http::{Reply, Server};

/// How long an engine may take to answer `/-/ready` (they start in well under a second).
pub const START: Duration = Duration::from_secs(30);
/// How long one HTTP request to an engine or a replica may take.
const REQUEST: Duration = Duration::from_secs(5);
/// How long a replica may take to start, to act on a line and to stop once told to.
pub const REPLICA: Duration = Duration::from_secs(30);

/// A port on 127.0.0.1 that was free a moment ago (bound and released): for a server that is
/// started in another process and cannot report the port it bound.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// The path of `name` on `PATH` or in `/usr/bin`; panics naming the Debian package.
pub fn binary(name: &str, package: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found on PATH nor in /usr/bin: install the Debian package `{package}`"
            )
        })
}

/// `GET url`: the status and the body (any status; an error only if no answer came within
/// [`REQUEST`]).
pub fn get(url: &str) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(REQUEST))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
    Ok((status, body))
}

/// `GET url`, which must answer 200 with JSON.
pub fn get_json(url: &str) -> Value {
    let (status, body) = get(url).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

/// `s` percent-encoded for a URL query value.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A server process of the test, killed by its pid and reaped when dropped.
struct Process {
    name: &'static str,
    child: Option<Child>,
    /// Its stdout and stderr, for failure messages.
    output: PathBuf,
}

impl Process {
    fn spawn(name: &'static str, cmd: &mut Command, output: PathBuf) -> Process {
        let log = File::create(&output).expect("create the engine's output file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone a file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Process {
            name,
            child: Some(child),
            output,
        }
    }

    /// The end of what it printed.
    fn said(&self) -> String {
        let text = fs::read_to_string(&self.output).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// `Some(status)` once it has exited.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Panics if it has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.exited() {
            panic!("{} exited ({status}); it said:\n{}", self.name, self.said());
        }
    }

    /// Polls `GET url` until it answers 200; `false` if the process exited first (a port taken
    /// in the meantime), panics after [`START`].
    fn wait_ready(&mut self, url: &str) -> bool {
        let deadline = Instant::now() + START;
        loop {
            if let Ok((200, _)) = get(url) {
                return true;
            }
            if self.exited().is_some() {
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready ({url}) within {START:?}; it said:\n{}",
                self.name,
                self.said()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the server `start` makes for a free port, retrying on another port if it exits before
/// it is ready (the port was taken between [`free_port`] and its bind).
fn start_on_free_port(name: &'static str, mut start: impl FnMut(u16) -> Process) -> (Process, u16) {
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        let mut process = start(port);
        if process.wait_ready(&format!("http://127.0.0.1:{port}/-/ready")) {
            return (process, port);
        }
        last = process.said();
    }
    panic!("{name} did not start, three times; the last one said:\n{last}");
}

/// A running Alertmanager (`prometheus-alertmanager`): its own configuration and storage in a
/// temp dir, `127.0.0.1:<free port>`, clustering off (`--cluster.listen-address=`, so it binds
/// no `0.0.0.0:9094` and waits for no peer before notifying).
pub struct Alertmanager {
    process: Process,
    port: u16,
    /// Last, so it is deleted after the process is gone.
    dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Checks `config_yaml` with `amtool check-config`, then starts Alertmanager on it and waits
    /// until `/-/ready` answers 200.
    pub fn start(config_yaml: &str) -> Alertmanager {
        let bin = binary("prometheus-alertmanager", "prometheus-alertmanager");
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("alertmanager.yml");
        fs::write(&config, config_yaml).unwrap();
        let check = super::child::output(
            Command::new(binary("amtool", "prometheus-alertmanager"))
                .arg("check-config")
                .arg(&config),
        );
        assert!(
            check.status.success(),
            "amtool check-config rejects the configuration:\n{}{}\n{config_yaml}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let storage = dir.path().join("data");
        let mut attempt = 0;
        let (process, port) = start_on_free_port("prometheus-alertmanager", |port| {
            attempt += 1;
            Process::spawn(
                "prometheus-alertmanager",
                Command::new(&bin)
                    .arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.path={}", storage.display()))
                    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                    .arg("--cluster.listen-address="),
                dir.path().join(format!("alertmanager.{attempt}.out")),
            )
        });
        Alertmanager { process, port, dir }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every alert it holds that has not ended (`GET /api/v2/alerts`: active, silenced and
    /// inhibited ones).
    pub fn alerts(&mut self) -> Vec<Value> {
        self.process.assert_running();
        match get_json(&format!("{}/api/v2/alerts", self.url())) {
            Value::Array(alerts) => alerts,
            other => panic!("/api/v2/alerts is not an array: {other}"),
        }
    }

    /// The alerts whose label `name` is `value`.
    pub fn alerts_with(&mut self, name: &str, value: &str) -> Vec<Value> {
        self.alerts()
            .into_iter()
            .filter(|a| a["labels"][name] == value)
            .collect()
    }

    /// Adds a silence with `amtool silence add` (e.g. `["service=orders"]`) for `duration`;
    /// asserts amtool exits 0 and returns the silence's id, which is what it prints.
    pub fn silence(&mut self, matchers: &[&str], duration: Duration) -> String {
        self.process.assert_running();
        let out = super::child::output(
            Command::new(binary("amtool", "prometheus-alertmanager"))
                .arg(format!("--alertmanager.url={}", self.url()))
                .args(["silence", "add", "--author=logwarden-tests"])
                .arg("--comment=silenced by a test")
                .arg(format!("--duration={}s", duration.as_secs().max(1)))
                .args(matchers),
        );
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success(),
            "amtool silence add {matchers:?} failed ({}): {stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!stdout.is_empty(), "amtool printed no silence id");
        stdout
    }

    /// The end of what it printed, for failure messages.
    pub fn said(&self) -> String {
        self.process.said()
    }

    /// Its temp dir (configuration, storage, output).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The Alertmanager configuration of the tests: one route grouping by `alertname` and
/// `service`, notifying 1 s after a group's first alert and then at most every 1 s when it
/// changes (never again for nothing: `repeat_interval` 1 h), to a webhook that also hears of
/// resolutions.
pub fn alertmanager_config(webhook_url: &str) -> String {
    alertmanager_config_with(webhook_url, GROUP_WAIT, GROUP_INTERVAL)
}

/// [`alertmanager_config`] with another `group_wait` and `group_interval`.
pub fn alertmanager_config_with(
    webhook_url: &str,
    group_wait: Duration,
    group_interval: Duration,
) -> String {
    format!(
        r#"route:
  receiver: test-hook
  group_by: [alertname, service]
  group_wait: {wait}ms
  group_interval: {interval}ms
  repeat_interval: 1h
receivers:
  - name: test-hook
    webhook_configs:
      - url: "{webhook_url}"
        send_resolved: true
        max_alerts: 0
"#,
        wait = group_wait.as_millis(),
        interval = group_interval.as_millis(),
    )
}

/// The group wait of [`alertmanager_config`]: from a group's first alert to its first
/// notification.
pub const GROUP_WAIT: Duration = Duration::from_secs(1);
/// The group interval of [`alertmanager_config`]: Alertmanager looks at a group again (and
/// notifies if it changed) every this long after its first notification.
pub const GROUP_INTERVAL: Duration = Duration::from_secs(1);

/// One notification Alertmanager's webhook posted.
#[derive(Clone, Debug)]
pub struct Notification {
    /// `firing` or `resolved`.
    pub status: String,
    pub group_key: String,
    pub group_labels: Value,
    pub alerts: Vec<Value>,
    pub received_at: Instant,
    pub raw: Value,
}

impl Notification {
    /// The alerts' values of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .alerts
            .iter()
            .map(|a| a["labels"][name].as_str().unwrap_or_default().to_owned())
            .collect();
        values.sort();
        values
    }
}

/// Where Alertmanager's webhook notifications go: [`Server`] answering 200 to everything and
/// recording what it was sent.
pub struct Receiver {
    server: Server,
}

impl Receiver {
    pub fn start() -> Receiver {
        Receiver {
            server: Server::start(Vec::new(), Reply::ok()),
        }
    }

    /// The URL to put in a `webhook_configs`.
    pub fn url(&self) -> String {
        self.server.url("/alertmanager/webhook")
    }

    /// Every notification received so far, in order.
    pub fn notifications(&self) -> Vec<Notification> {
        self.server
            .requests()
            .iter()
            .map(|r| {
                assert_eq!(r.method, "POST", "{r:?}");
                assert_eq!(r.path, "/alertmanager/webhook", "{r:?}");
                let raw = r.json();
                Notification {
                    status: raw["status"].as_str().unwrap_or_default().to_owned(),
                    group_key: raw["groupKey"].as_str().unwrap_or_default().to_owned(),
                    group_labels: raw["groupLabels"].clone(),
                    alerts: raw["alerts"].as_array().cloned().unwrap_or_default(),
                    received_at: r.received_at,
                    raw,
                }
            })
            .collect()
    }

    /// Waits until `n` notifications have come (or `timeout` passed) and returns them all.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Notification> {
        self.server.wait_for(n, timeout);
        self.notifications()
    }
}

/// A running Prometheus: its own configuration, rule file and TSDB in a temp dir,
/// `127.0.0.1:<free port>`.
pub struct Prometheus {
    process: Process,
    port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Writes `rules` (a rule file's YAML) beside `config_yaml` (a configuration without
    /// `rule_files`, which this adds), checks both with `promtool check config`, starts
    /// Prometheus and waits until `/-/ready` answers 200.
    pub fn start(config_yaml: &str, rules: &str) -> Prometheus {
        let bin = binary("prometheus", "prometheus");
        let dir = tempfile::tempdir().expect("tempdir");
        let rules_file = dir.path().join("rules.yml");
        fs::write(&rules_file, rules).unwrap();
        let config = dir.path().join("prometheus.yml");
        let config_yaml = format!(
            "{config_yaml}\nrule_files:\n  - \"{}\"\n",
            rules_file.display()
        );
        fs::write(&config, &config_yaml).unwrap();
        let check = super::child::output(
            Command::new(binary("promtool", "prometheus"))
                .args(["check", "config"])
                .arg(&config),
        );
        assert!(
            check.status.success(),
            "promtool check config rejects the configuration:\n{}{}\n{config_yaml}\n{rules}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let storage = dir.path().join("tsdb");
        let mut attempt = 0;
        let (process, port) = start_on_free_port("prometheus", |port| {
            attempt += 1;
            Process::spawn(
                "prometheus",
                Command::new(&bin)
                    .arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.tsdb.path={}", storage.display()))
                    .arg(format!("--web.listen-address=127.0.0.1:{port}")),
                dir.path().join(format!("prometheus.{attempt}.out")),
            )
        });
        Prometheus { process, port, dir }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The result of the instant query `promql` now (`data.result`: one object per series, with
    /// `metric` and `value` `[time, "text"]`).
    pub fn query(&mut self, promql: &str) -> Vec<Value> {
        self.process.assert_running();
        let v = get_json(&format!(
            "{}/api/v1/query?query={}",
            self.url(),
            query_escape(promql)
        ));
        assert_eq!(v["status"], "success", "{promql}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The alerts of its rules that are pending or firing (`GET /api/v1/alerts`).
    pub fn alerts(&mut self) -> Vec<Value> {
        self.process.assert_running();
        let v = get_json(&format!("{}/api/v1/alerts", self.url()));
        v["data"]["alerts"].as_array().cloned().unwrap_or_default()
    }

    /// The end of what it printed, for failure messages.
    pub fn said(&self) -> String {
        self.process.said()
    }

    /// Its temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

// The replicas.

/// The variable that makes a module's `replica_child` test a replica: its directory (log files,
/// and the files through which it answers).
pub const REPLICA_DIR: &str = "LWTEST_REPLICA_DIR";

/// What a replica logs for one `log` line: `error=3,warn=1` (levels `error`, `warn`, `info`,
/// `debug`, `trace`).
fn parse_counts(spec: &str) -> Vec<(String, usize)> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let (level, n) = s
                .trim()
                .split_once('=')
                .unwrap_or_else(|| panic!("bad count {s:?} in {spec:?}"));
            (level.to_owned(), n.parse().expect("a count"))
        })
        .collect()
}

/// The message of the ERRORs replicas log (the alert's `top_error`).
pub const ERROR_MESSAGE: &str = "payment gateway timed out";

/// The body of a module's `replica_child` test: unless [`REPLICA_DIR`] is set, nothing (the test
/// passes at once); otherwise a replica of a service configured by the environment alone
/// (`builder().dir(..).from_env()`), which
///
/// 1. builds its subscriber and creates `ready` in its directory;
/// 2. for each line `log error=3,warn=1` on its stdin, logs that many events of each level,
///    flushes, and creates `done.<n>` (`n` counting lines from 1);
/// 3. at the end of its stdin, drops its guard (a graceful stop) and returns.
pub fn replica_main() {
    let Some(dir) = std::env::var_os(REPLICA_DIR) else {
        return; // only runs as a replica, for the tests of its module
    };
    let dir = PathBuf::from(dir);
    let (subscriber, guard) = logwarden::builder()
        .dir(dir.join("logs"))
        .from_env()
        .subscriber()
        .expect("the replica starts");
    let dispatch = tracing::Dispatch::new(subscriber);
    fs::write(dir.join("ready"), std::process::id().to_string()).unwrap();
    let stdin = std::io::stdin();
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = line.expect("read a line of stdin");
        let spec = line
            .strip_prefix("log ")
            .unwrap_or_else(|| panic!("unknown command {line:?}"));
        tracing::dispatcher::with_default(&dispatch, || {
            for (level, count) in parse_counts(spec) {
                for i in 0..count {
                    match level.as_str() {
                        "error" => tracing::error!(i, "{ERROR_MESSAGE}"),
                        "warn" => tracing::warn!(i, "retrying the payment gateway"),
                        "info" => tracing::info!(i, "order placed"),
                        "debug" => tracing::debug!(i, "cache miss"),
                        "trace" => tracing::trace!(i, "entered handler"),
                        other => panic!("unknown level {other:?}"),
                    }
                }
            }
        });
        assert!(guard.flush(), "flush timed out");
        fs::write(dir.join(format!("done.{}", n + 1)), "").unwrap();
    }
    drop(guard);
}

/// A replica: a child process running a module's `replica_child` test as [`replica_main`];
/// killed (SIGKILL) and reaped when dropped.
pub struct Replica {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    dir: PathBuf,
    /// Lines sent so far.
    sent: usize,
}

impl Replica {
    /// Starts a replica of the module `module` (its `module_path!()`, which must have a
    /// `replica_child` test calling [`replica_main`]) in `dir` (created), with the environment
    /// `vars` and none of the `LOGWARDEN_*`, `RUST_LOG` or `SLACK_WEBHOOK_URL` of this process.
    pub fn spawn(module: &str, dir: &Path, vars: &[(&str, String)]) -> Replica {
        fs::create_dir_all(dir).unwrap();
        let mut cmd = this_test(module, "replica_child");
        for (name, _) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if n.starts_with("LOGWARDEN_") || n == "RUST_LOG" || n == "SLACK_WEBHOOK_URL" {
                cmd.env_remove(&name);
            }
        }
        cmd.env(REPLICA_DIR, dir);
        for (name, value) in vars {
            cmd.env(name, value);
        }
        let out = File::create(dir.join("replica.out")).unwrap();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start a replica ({cmd:?}): {e}"));
        let stdin = child.stdin.take();
        Replica {
            child: Some(child),
            stdin,
            dir: dir.to_owned(),
            sent: 0,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Its directory; the log files are in `logs/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What it printed (libtest's lines and its stderr), for failure messages.
    pub fn said(&self) -> String {
        fs::read_to_string(self.dir.join("replica.out")).unwrap_or_default()
    }

    fn wait_file(&mut self, name: &str) {
        let path = self.dir.join(name);
        let deadline = Instant::now() + REPLICA;
        while !path.exists() {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "the replica exited ({status}) before {name}:\n{}",
                    self.said()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the replica did not get to {name} within {REPLICA:?}:\n{}",
                self.said()
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits until its subscriber is built (and its metrics address, if any, bound).
    pub fn wait_ready(&mut self) {
        self.wait_file("ready");
    }

    /// Tells it to log `spec` (`error=3,warn=1`), without waiting; see [`Replica::wait_done`].
    pub fn send_log(&mut self, spec: &str) {
        let stdin = self.stdin.as_mut().expect("the replica's stdin is open");
        writeln!(stdin, "log {spec}")
            .and_then(|()| stdin.flush())
            .expect("write to the replica");
        self.sent += 1;
    }

    /// Waits until it has logged (and flushed) everything it was told to.
    pub fn wait_done(&mut self) {
        let name = format!("done.{}", self.sent);
        self.wait_file(&name);
    }

    /// Closes its stdin, so it stops gracefully (its guard dropped), asserts it exits 0 within
    /// [`REPLICA`], and returns what it printed.
    pub fn stop(mut self) -> String {
        drop(self.stdin.take());
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + REPLICA;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the replica did not stop within {REPLICA:?}:\n{}",
                    self.said()
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        assert!(
            status.success(),
            "the replica failed ({status}):\n{}",
            self.said()
        );
        self.said()
    }

    /// SIGKILL: it can say nothing more.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL the replica");
        let _ = child.wait();
    }

    /// The records of its log file (`logs/*.log`).
    pub fn records(&self) -> Vec<Value> {
        let logs = self.dir.join("logs");
        let mut files: Vec<PathBuf> = fs::read_dir(&logs)
            .unwrap_or_else(|e| panic!("{}: {e}", logs.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        files.sort();
        files.iter().flat_map(|p| super::read_records(p)).collect()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Tells every replica to log `spec` at once (one line to each, back to back) and waits until
/// all have.
pub fn log_all(replicas: &mut [Replica], spec: &str) {
    for r in replicas.iter_mut() {
        r.send_log(spec);
    }
    for r in replicas.iter_mut() {
        r.wait_done();
    }
}

/// The environment of a replica of `service` alerting to `alertmanagers` (comma-separated base
/// URLs): env `test`, resend `resend`, threshold 5 in `window`.
pub fn alerting_env(
    service: &str,
    alertmanagers: &str,
    resend: &str,
    window: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("LOGWARDEN_SERVICE", service.to_owned()),
        ("LOGWARDEN_ENV", "test".to_owned()),
        ("LOGWARDEN_ALERTMANAGER_URL", alertmanagers.to_owned()),
        ("LOGWARDEN_ALERTMANAGER_RESEND", resend.to_owned()),
        ("LOGWARDEN_ALERT_THRESHOLD", "5".to_owned()),
        ("LOGWARDEN_ALERT_WINDOW", window.to_owned()),
    ]
}

/// The samples of a Prometheus text exposition: `name{labels}` → value, labels parsed.
pub fn parse_exposition(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = match line.find('}') {
            Some(end) => (&line[..=end], line[end + 1..].trim()),
            None => line
                .split_once(' ')
                .unwrap_or_else(|| panic!("a sample without a value: {line:?}")),
        };
        // A timestamp may follow the value.
        let value = value.split_whitespace().next().unwrap_or_default();
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'), line)),
            None => (series, BTreeMap::new()),
        };
        samples.push((name.trim().to_owned(), labels, value));
    }
    samples
}

fn parse_labels(text: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad labels in {line:?}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("bad escape in {line:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        labels.insert(name.trim().trim_start_matches(',').trim().to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',').trim();
    }
    labels
}
