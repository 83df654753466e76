//! `logwarden report` (feature `cli`) end to end: a log directory written the way a logwarden
//! service writes it (an active file and a rotated one, JSON lines at INFO/WARN/ERROR over two
//! hours, the crate's own alert records for two incidents), the built binary turns it into a page,
//! and a real headless Chromium loads the page: its DOM must show the incident count and the MTTR,
//! and its screenshot is kept under `target/test-artifacts/report.png`.
//!
//! Needs the `chromium` binary, so `#[ignore]`d for plain `cargo test`; `.ci/run` installs
//! chromium and runs it with `--ignored`, where a missing chromium fails the test.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;

const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one Chromium run may take before the test kills it and fails (a run takes a second
/// or two; this only guards against a hang).
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(180);

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
/// 2026-11-25T08:00:00Z.
const START: i64 = 1_795_593_600 * SECOND;
/// The file rotates at 09:00: everything before is in the rotated file.
const ROTATED_AT: i64 = START + 60 * MINUTE;

/// One incident as the writer logs it: ERRORs every `every` from `from`, the alert opened at
/// the fifth (the default threshold), resolved `duration` after it opened.
struct Burst {
    from: i64,
    every: i64,
    errors: u64,
    duration: i64,
    message: &'static str,
}

const BURSTS: [Burst; 2] = [
    // 08:40:00 … opened 08:40:20, resolved after 12m 30s.
    Burst {
        from: START + 40 * MINUTE,
        every: 5 * SECOND,
        errors: 140,
        duration: 750 * SECOND,
        message: "payment gateway timeout after 30s",
    },
    // 09:25:00 … opened 09:25:16, resolved after 4m 10s.
    Burst {
        from: START + 85 * MINUTE,
        every: 4 * SECOND,
        errors: 45,
        duration: 250 * SECOND,
        message: "connection to orders-db refused",
    },
];

/// (12m 30s + 4m 10s) / 2.
const MTTR_SECONDS: u64 = 500;
const MTTR_TEXT: &str = "8m 20s";

fn rfc3339(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .expect("a time in range")
        .to_string()
}

fn line(at: i64, level: &str, target: &str, message: &str, extra: &str) -> (i64, String) {
    let message = serde_json::to_string(message).unwrap();
    (
        at,
        format!(
            r#"{{"timestamp":"{}","level":"{level}","message":{message},"target":"{target}","service":"orders","host":"web-1","pid":4242{extra}}}"#,
            rfc3339(at)
        ),
    )
}

/// Every line of the two hours, in time order.
fn lines() -> Vec<(i64, String)> {
    let mut lines = Vec::new();
    for k in 0..(120 * 60 / 4) {
        let at = START + k * 4 * SECOND;
        lines.push(line(
            at,
            "INFO",
            "orders::http",
            "request served",
            r#","status":200"#,
        ));
        if k % 15 == 7 {
            lines.push(line(
                at + 1000,
                "WARN",
                "orders::cache",
                "cache miss storm",
                "",
            ));
        }
        if k % 400 == 123 {
            // A stray error outside any incident.
            lines.push(line(
                at + 2000,
                "ERROR",
                "orders::invoice",
                "invoice 4411 not found",
                "",
            ));
        }
    }
    for (n, burst) in BURSTS.iter().enumerate() {
        let incident = n + 1;
        for e in 0..burst.errors as i64 {
            lines.push(line(
                burst.from + e * burst.every + 500,
                "ERROR",
                "orders::payments",
                burst.message,
                "",
            ));
        }
        let first_error_at = burst.from + 500;
        let opened_at = first_error_at + 4 * burst.every;
        let resolved_at = opened_at + burst.duration;
        let top = serde_json::to_string(burst.message).unwrap();
        let common = format!(
            r#","incident":{incident},"threshold":5,"window_secs":60.0,"first_error_at":"{}","opened_at":"{}","top_error":{top}"#,
            rfc3339(first_error_at),
            rfc3339(opened_at),
        );
        lines.push(line(
            opened_at + 3000,
            "WARN",
            "logwarden::alert",
            &format!("incident #{incident} opened"),
            &format!(r#","alert":"opened","errors_in_window":5,"errors_since_last":5,"errors_total":5{common}"#),
        ));
        lines.push(line(
            resolved_at + 3000,
            "INFO",
            "logwarden::alert",
            &format!("incident #{incident} resolved"),
            &format!(
                r#","alert":"resolved","errors_in_window":0,"errors_since_last":0,"errors_total":{},"resolved_at":"{}","duration_secs":{}{common}"#,
                burst.errors,
                rfc3339(resolved_at),
                burst.duration as f64 / 1e6,
            ),
        ));
    }
    lines.sort_by_key(|(at, _)| *at);
    lines
}

/// The directory as a logwarden service leaves it: `orders.log` and the file rotated out of it
/// at 09:00, named the way the crate names rotated files. One torn line where the rotation cut.
fn write_log_dir(dir: &Path) {
    let rotated = dir.join("orders.log.20261125T090000.000000Z");
    let active = dir.join("orders.log");
    let mut old = fs::File::create(&rotated).unwrap();
    let mut new = fs::File::create(&active).unwrap();
    for (at, text) in lines() {
        let file = if at < ROTATED_AT { &mut old } else { &mut new };
        writeln!(file, "{text}").unwrap();
    }
    writeln!(
        old,
        r#"{{"timestamp":"2026-11-25T08:59:59.9Z","level":"INF"#
    )
    .unwrap();
}

/// Runs headless Chromium with a fresh profile and no network side-traffic, and returns its
/// stdout; panics with its output if it fails, is missing, or hangs.
fn chromium(scratch: &Path, args: &[String]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install it with apt-get install chromium"
    );
    let profile = tempfile::tempdir_in(scratch).unwrap();
    let stdout = scratch.join("chromium.stdout");
    let stderr = scratch.join("chromium.stderr");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout).unwrap())
        .stderr(fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {CHROMIUM} ({e}): apt-get install chromium"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHROMIUM_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} still running after {CHROMIUM_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = fs::read_to_string(&stdout).unwrap();
    let err = fs::read_to_string(&stderr).unwrap();
    assert!(
        status.success(),
        "chromium {args:?} failed ({status}): {err}"
    );
    out
}

/// The start tag and text of the element with `id` in serialized HTML.
fn element<'a>(dom: &'a str, id: &str) -> (&'a str, &'a str) {
    let at = dom
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element with id {id} in the DOM:\n{dom}"));
    let tag_start = dom[..at].rfind('<').unwrap();
    let tag_end = at + dom[at..].find('>').unwrap();
    let text_end = tag_end + dom[tag_end..].find('<').unwrap();
    (&dom[tag_start..=tag_end], dom[tag_end + 1..text_end].trim())
}

/// The rows of the body of the table with `id`.
fn body_rows<'a>(dom: &'a str, id: &str) -> Vec<&'a str> {
    let at = dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let table = &dom[at..at + dom[at..].find("</table>").unwrap()];
    let body = &table[table.find("<tbody>").unwrap()..];
    body.split("<tr").skip(1).collect()
}

#[test]
#[ignore = "needs chromium (apt-get install chromium); run with --ignored"]
fn report_renders_in_chromium_with_the_incidents_and_mttr() {
    let scratch = tempfile::tempdir().unwrap();
    let logs = scratch.path().join("logs");
    fs::create_dir(&logs).unwrap();
    write_log_dir(&logs);
    let page = scratch.path().join("out/report.html");
    fs::create_dir(page.parent().unwrap()).unwrap();

    let output = support::child::output(
        Command::new(env!("CARGO_BIN_EXE_logwarden"))
            .arg("report")
            .arg(&logs)
            .arg("-o")
            .arg(&page)
            .env_remove("LOGWARDEN_ALERT_THRESHOLD")
            .env_remove("LOGWARDEN_ALERT_WINDOW"),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "report failed: {stderr}");
    assert!(
        stderr.contains(&page.display().to_string()) && stderr.contains("2 incidents"),
        "stderr names the page and the figures: {stderr}"
    );
    assert!(stderr.contains(&format!("MTTR {MTTR_TEXT}")), "{stderr}");
    let html = fs::read_to_string(&page).unwrap();
    fs::copy(&page, crate::support::artifacts_dir().join("report.html")).unwrap();
    assert!(!html.contains("<script"), "the page runs no script");

    let url = format!("file://{}", page.display());
    let dom = chromium(scratch.path(), &["--dump-dom".into(), url.clone()]);
    let (_, count) = element(&dom, "incident-count");
    assert_eq!(count, "2", "incident count in the DOM");
    let (tag, mttr) = element(&dom, "mttr");
    assert_eq!(mttr, MTTR_TEXT, "MTTR in the DOM");
    assert!(
        tag.contains(&format!("data-seconds=\"{MTTR_SECONDS}\"")),
        "exact MTTR: {tag}"
    );
    let (tag, _) = element(&dom, "total-downtime");
    assert!(tag.contains("data-seconds=\"1000\""), "{tag}");
    assert_eq!(element(&dom, "still-open").1, "0");
    let rows = body_rows(&dom, "incidents");
    assert_eq!(rows.len(), 2, "one row per incident");
    assert!(rows[0].contains("2026-11-25T08:40:20Z"), "{}", rows[0]);
    assert!(rows[0].contains("12m 30s") && rows[1].contains("4m 10s"));
    let errors = body_rows(&dom, "top-errors");
    assert!(errors[0].contains(BURSTS[0].message), "{}", errors[0]);
    assert!(dom.contains("<svg"), "the chart is in the DOM");

    let png = crate::support::artifacts_dir().join("report.png");
    let _ = fs::remove_file(&png);
    chromium(
        scratch.path(),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,1600".into(),
            url,
        ],
    );
    let bytes = fs::read(&png).unwrap_or_else(|e| panic!("no screenshot at {png:?}: {e}"));
    assert!(
        bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is a PNG with something in it ({} bytes)",
        bytes.len()
    );
    eprintln!("screenshot: {}", png.display());
}

/// Every file and directory under `dir`, hidden ones included, as sorted relative paths.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(at) = pending.pop() {
        for entry in fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            found.push(path.strip_prefix(dir).unwrap().to_owned());
        }
    }
    found.sort();
    found
}

/// Without a browser: the page the binary writes carries the figures, and an output path that
/// cannot be written is a failure (exit 1) that names it, leaving nothing behind.
#[test]
fn report_writes_the_figures_and_names_an_unwritable_output() {
    let scratch = tempfile::tempdir().unwrap();
    let logs = scratch.path().join("logs");
    fs::create_dir(&logs).unwrap();
    write_log_dir(&logs);
    // A directory where the page should go: the page is written beside it, then cannot take
    // its name.
    let taken = scratch.path().join("taken");
    fs::create_dir(&taken).unwrap();
    fs::write(taken.join("inside"), "keep").unwrap();
    let run = |output: &Path| {
        support::child::output(
            Command::new(env!("CARGO_BIN_EXE_logwarden"))
                .arg("report")
                .arg(&logs)
                .arg("--output")
                .arg(output)
                .env_remove("LOGWARDEN_ALERT_THRESHOLD")
                .env_remove("LOGWARDEN_ALERT_WINDOW"),
        )
    };
    let mut before = listing(scratch.path());

    let page = scratch.path().join("report.html");
    let output = run(&page);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    before.push(PathBuf::from("report.html"));
    before.sort();
    assert_eq!(listing(scratch.path()), before, "only the page is added");
    let html = fs::read_to_string(&page).unwrap();
    assert_eq!(element(&html, "incident-count").1, "2");
    let (tag, mttr) = element(&html, "mttr");
    assert_eq!(mttr, MTTR_TEXT);
    assert!(
        tag.contains(&format!("data-seconds=\"{MTTR_SECONDS}\"")),
        "{tag}"
    );
    assert_eq!(body_rows(&html, "incidents").len(), 2);

    let unwritable = scratch.path().join("no/such/dir/report.html");
    for output_path in [&unwritable, &taken] {
        let output = run(output_path);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&output_path.display().to_string()),
            "names the path: {stderr}"
        );
        assert_eq!(
            listing(scratch.path()),
            before,
            "{}: something was left behind",
            output_path.display()
        );
    }
    assert_eq!(fs::read_to_string(taken.join("inside")).unwrap(), "keep");
    assert_eq!(fs::read_to_string(&page).unwrap(), html);
}
