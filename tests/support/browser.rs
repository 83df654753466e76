//! A real headless Chromium driven over WebDriver: Debian's `chromium` and `chromedriver`
//! (package `chromium-driver`), the driver a child process of the test on a port of 127.0.0.1,
//! the browser started by it with a fresh profile and no network side-traffic. Both are stopped
//! by their pids when dropped (also when the test panics). Every request and every wait is
//! bounded. A missing binary fails the test, naming the package; it never skips it.

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use super::engines::{binary, free_port};

/// How long the driver and the browser may take to start.
const START: Duration = Duration::from_secs(30);
/// How long one WebDriver command may take (a page load included).
const COMMAND: Duration = Duration::from_secs(30);

/// One browser session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    /// The browser's own pid, which the driver reports: stopped too if the driver could not.
    browser_pid: Option<u32>,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of `width` × `height` that records
    /// its console and its network requests.
    pub fn start(width: u32, height: u32) -> Browser {
        let chromium = binary("chromium", "chromium");
        let chromedriver = binary("chromedriver", "chromium-driver");
        let port = free_port();
        let log = std::env::temp_dir().join(format!("logwarden-chromedriver-{port}.log"));
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(COMMAND))
            .build()
            .into();
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            browser_pid: None,
            agent,
            _profile: profile,
        };
        let deadline = Instant::now() + START;
        loop {
            let ready = browser
                .call("GET", "/status", None)
                .ok()
                .is_some_and(|v| v["ready"] == true);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready within {START:?} (its log: {})",
                log.display()
            );
            thread::sleep(Duration::from_millis(50));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
        }}});
        let created = browser
            .call("POST", "/session", Some(capabilities))
            .unwrap_or_else(|e| panic!("no browser session: {e} (log: {})", log.display()));
        browser.session = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser.browser_pid = created["capabilities"]["goog:processID"]
            .as_u64()
            .map(|p| p as u32);
        browser
    }

    /// One WebDriver command: its `value`, or the error the driver answered.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let mut response = response.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| format!("{method} {path}: reading the answer: {e}"))?;
        let mut answer: Value =
            serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {e}: {text}"))?;
        if status == 200 {
            Ok(answer["value"].take())
        } else {
            Err(format!("{method} {path}: {status} {}", answer["value"]))
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Loads `url` and waits for its `load` event.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `body` (a function body: `return …`) in the page with `args` as `arguments`.
    pub fn script(&self, body: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({"script": body, "args": args})),
        )
    }

    /// Polls `body` in the page until it returns something truthy, and returns that; panics
    /// with `what` and the last value after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, body: &str) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.script(body, json!([]));
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what} (last: {v})"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The WebDriver id of the first element matching `css`.
    pub fn find(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    /// Clicks the first element matching `css`, as a user would (scrolled into view, at its
    /// centre). A page that redraws may replace the element between finding and clicking it:
    /// then it is found again, within a bound.
    pub fn click(&self, css: &str) {
        let deadline = Instant::now() + COMMAND;
        loop {
            let element = self.find(css);
            let path = format!("/session/{}/element/{element}/click", self.session);
            match self.call("POST", &path, None) {
                Ok(_) => return,
                Err(e) if e.contains("stale element") && Instant::now() < deadline => {}
                Err(e) => panic!("click on {css}: {e}"),
            }
        }
    }

    /// Types `text` into the element, key by key (`input` events fire as for a user).
    pub fn type_into(&self, element: &str, text: &str) {
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Empties an input.
    pub fn clear(&self, element: &str) {
        self.command("POST", &format!("/element/{element}/clear"), None);
    }

    /// Presses and releases each key of `keys` on whatever has the focus.
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.command(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// Resizes the window.
    pub fn resize(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.command("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 text"))
            .expect("the screenshot is base64")
    }

    /// The console messages since the last call: `(level, message)`.
    pub fn console(&self) -> Vec<(String, String)> {
        self.log("browser")
            .into_iter()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or_default().to_owned(),
                    e["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The URL of every request made since the last call by a page loaded from `origin` (the
    /// driver's record of the DevTools network events, not the page's own account of them; the
    /// browser's own start page is another document and is left out).
    pub fn requests_from(&self, origin: &str) -> Vec<String> {
        self.log("performance")
            .into_iter()
            .filter_map(|e| {
                let event: Value = serde_json::from_str(e["message"].as_str()?).ok()?;
                let event = &event["message"];
                let params = &event["params"];
                let ours = params["documentURL"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(origin));
                (event["method"] == "Network.requestWillBeSent" && ours)
                    .then(|| params["request"]["url"].as_str().map(str::to_owned))
                    .flatten()
            })
            .collect()
    }

    fn log(&self, kind: &str) -> Vec<Value> {
        match self.command("POST", "/se/log", Some(json!({ "type": kind }))) {
            Value::Array(entries) => entries,
            other => panic!("the driver's {kind} log is not a list: {other}"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        if let Some(pid) = self.browser_pid {
            // Gone already after the session's end; this only matters when the driver hung.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}
