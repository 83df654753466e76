//! The ERROR-threshold alert path end to end, through the public API: the layer counts, the
//! delivery thread posts to a scripted local HTTP server, and the guard reports the history.
//!
//! Time-dependent scenarios run on a `ManualClock`; waits are bounded waits for a condition
//! (a request arriving, a counter moving), never fixed sleeps. Whatever posts needs the `http`
//! cargo feature; without it, only the alerts written to the log file are tested here.

#[cfg(feature = "http")]
use std::fmt;
use std::path::Path;
#[cfg(feature = "http")]
use std::time::Instant;
use std::time::{Duration, UNIX_EPOCH};

use logwarden::testing::ManualClock;
use logwarden::Guard;
use serde_json::Value;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

use crate::support;
#[cfg(feature = "http")]
use crate::support::http::{refused_url, Reply, Request, Server};
use crate::support::{eventually, WAIT};
#[cfg(feature = "http")]
use crate::support::{within, HANG, HOOK, SECRET};

/// 2023-11-14T22:13:20Z: where manual clocks start.
const T0: u64 = 1_700_000_000;

/// Builds the layer (without the global `log` bridge) and a dispatcher for it.
fn start_logging(builder: logwarden::Builder) -> (Dispatch, Guard) {
    let (layer, guard) = builder.capture_log(false).build().unwrap();
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        guard,
    )
}

/// The subscriber `init()` installs (its filter global), as a dispatcher.
#[cfg(feature = "http")]
fn start_subscriber(builder: logwarden::Builder) -> (Dispatch, Guard) {
    let (subscriber, guard) = builder.subscriber().unwrap();
    (Dispatch::new(subscriber), guard)
}

/// Service `orders`, env `test`, fast retries.
fn base(dir: &Path) -> logwarden::Builder {
    logwarden::builder()
        .service("orders")
        .env("test")
        .dir(dir)
        .alert_retries(3, Duration::from_millis(50))
}

fn manual_clock() -> ManualClock {
    ManualClock::new(UNIX_EPOCH + Duration::from_secs(T0))
}

/// Runs `f` with `dispatch` as this thread's default subscriber.
fn emit<T>(dispatch: &Dispatch, f: impl FnOnce() -> T) -> T {
    tracing::dispatcher::with_default(dispatch, f)
}

/// Waits until at least `n` requests have arrived; fails with what did arrive otherwise.
#[cfg(feature = "http")]
fn wait_requests(server: &Server, n: usize) -> Vec<Request> {
    let got = server.wait_for(n, WAIT);
    assert!(
        got.len() >= n,
        "expected {n} requests within {WAIT:?}, got {}: {:#?}",
        got.len(),
        got.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    got
}

/// The Slack payload's fallback `text`.
#[cfg(feature = "http")]
fn text(r: &Request) -> String {
    r.json()["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {}", r.body))
        .to_owned()
}

/// After the guard was dropped with incident `#incident` open: the `before` requests made until
/// then, and exactly one more, that incident's last word (still open when the process stopped).
#[cfg(feature = "http")]
fn assert_stopped_last(server: &Server, before: usize, incident: u64) {
    let got = server.requests();
    assert_eq!(
        got.len(),
        before + 1,
        "{:#?}",
        got.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let last = text(&got[before]);
    assert!(
        last.contains(&format!(
            "Incident #{incident} still open when orders (test) on "
        )),
        "{last}"
    );
    assert!(last.contains(" stopped: open for "), "{last}");
}

/// The `text` of the Slack payload's block `i` (0: headline, 1: details, 2: context).
#[cfg(feature = "http")]
fn block_text(r: &Request, i: usize) -> String {
    let v = r.json();
    let b = &v["blocks"][i];
    let t = if b["type"] == "context" {
        &b["elements"][0]["text"]
    } else {
        &b["text"]["text"]
    };
    t.as_str()
        .unwrap_or_else(|| panic!("no text in block {i}: {}", r.body))
        .to_owned()
}

/// Every string in a JSON value, keys included.
#[cfg(feature = "http")]
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => {
            for (k, v) in o {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

#[cfg(feature = "http")]
fn assert_json_content_type(r: &Request) {
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.to_ascii_lowercase().starts_with("application/json"),
        "Content-Type {ct:?}"
    );
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, HOOK);
}

#[cfg(feature = "http")]
#[test]
fn threshold_minus_one_errors_post_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let (dispatch, guard) = start_logging(base(dir.path()).slack_webhook(server.url(HOOK)));
    emit(&dispatch, || {
        for i in 0..4 {
            tracing::error!(order = i, "payment failed");
        }
    });
    assert_eq!(guard.incidents().opened, 0);
    assert!(!guard.incidents().open);
    let got = server.wait_for(1, Duration::from_millis(500));
    assert!(got.is_empty(), "unexpected request: {:?}", got[0].body);
    drop(guard);
    assert!(server.requests().is_empty());
}

#[cfg(feature = "http")]
#[test]
fn n_errors_within_the_window_post_exactly_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let (dispatch, guard) = start_logging(base(dir.path()).slack_webhook(server.url(HOOK)));
    let path = guard.log_path().unwrap().to_owned();
    let (before_last, after_last) = emit(&dispatch, || {
        let mut before = Instant::now();
        for i in 0..5 {
            before = Instant::now();
            tracing::error!(order = i, "payment failed");
        }
        (before, Instant::now())
    });

    let got = wait_requests(&server, 1);
    let r = &got[0];
    // Not asserted (timing): reported. Negative values (the post arrived before the logging
    // thread read the clock again) show as zero.
    let latency = r.received_at.saturating_duration_since(after_last);
    println!(
        "LATENCY crossing->post: {:.3} ms after the last error!() returned, {:.3} ms after it was called",
        latency.as_secs_f64() * 1e3,
        r.received_at
            .saturating_duration_since(before_last)
            .as_secs_f64()
            * 1e3
    );
    assert!(latency < Duration::from_secs(5), "liveness: {latency:?}");

    assert_json_content_type(r);
    let v = r.json();
    assert!(v["blocks"].as_array().is_some_and(|b| !b.is_empty()), "{v}");
    let t = text(r);
    assert!(
        t.contains("Incident #1: 5 ERROR events in 1m 00s in orders (test) on "),
        "{t}"
    );
    assert!(t.contains("*5×* `payment failed`"), "{t}");
    assert!(t.contains("*Threshold:* 5 ERROR events in 1m 00s"), "{t}");
    assert!(
        block_text(r, 0).contains("Incident #1: 5 ERROR events in 1m 00s in orders (test)"),
        "{}",
        r.body
    );
    assert!(
        block_text(r, 1).contains("*5×* `payment failed`"),
        "{}",
        r.body
    );
    assert!(
        block_text(r, 2).contains("service orders · env test"),
        "{}",
        r.body
    );

    eventually("alerts_sent == 1", WAIT, || {
        guard.incidents().alerts_sent == 1
    });
    let i = guard.incidents();
    assert_eq!((i.opened, i.resolved, i.open), (1, 0, true), "{i:?}");
    assert_eq!((i.alerts_failed, i.alerts_dropped), (0, 0), "{i:?}");

    // The guard delivers whatever is still queued before it returns, then the open incident's
    // last word: exactly one post more.
    drop(guard);
    assert_stopped_last(&server, 1, 1);
    // The exact headline, with the host the records carry.
    let records = support::read_records(&path);
    let host = records[0]["host"].as_str().unwrap();
    assert_eq!(
        t.lines().next().unwrap(),
        format!("🔴 Incident #1: 5 ERROR events in 1m 00s in orders (test) on {host}")
    );
    // The last word is a record too, a WARN that counts as no error.
    let stopped: Vec<_> = records.iter().filter(|r| r["alert"] == "stopped").collect();
    assert_eq!(stopped.len(), 1, "{records:#?}");
    assert_eq!(stopped[0]["level"], "WARN");
    assert_eq!(stopped[0]["incident"], 1);
    assert!(stopped[0]["stopped_at"].is_string(), "{:?}", stopped[0]);
}

#[cfg(feature = "http")]
#[test]
fn errors_spread_wider_than_the_window_post_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let clock = manual_clock();
    let (dispatch, guard) = start_logging(
        base(dir.path())
            .slack_webhook(server.url(HOOK))
            .clock(clock.clone())
            .alert_threshold(5)
            .alert_window(Duration::from_secs(60)),
    );
    emit(&dispatch, || {
        // At 0, 15, 30, 45 and 60 s: the first and the last exactly one window apart.
        for i in 0..5 {
            if i > 0 {
                clock.advance(Duration::from_secs(15));
            }
            tracing::error!(i, "slow drip");
        }
    });
    assert_eq!(guard.incidents().opened, 0);
    let got = server.wait_for(1, Duration::from_millis(500));
    assert!(got.is_empty(), "unexpected request: {:?}", got[0].body);
    drop(guard);
    assert!(server.requests().is_empty());
}

#[cfg(feature = "http")]
#[test]
fn reminders_come_once_per_cooldown_with_the_count_since_the_last_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let clock = manual_clock();
    let (dispatch, guard) = start_logging(
        base(dir.path())
            .slack_webhook(server.url(HOOK))
            .clock(clock.clone())
            .alert_threshold(2)
            .alert_window(Duration::from_secs(60))
            .alert_cooldown(Duration::from_secs(300)),
    );
    emit(&dispatch, || {
        // One error every 10 s from 0 to 660 s (11 minutes, 67 errors).
        for i in 0..=66 {
            if i > 0 {
                clock.advance(Duration::from_secs(10));
            }
            tracing::error!(i, "still failing");
        }
    });
    // Opened at 10 s (errors at 0 and 10 s) with 2 errors. Reminders when an error comes at
    // least 300 s after the last message: at 310 s (errors at 20..=310 s since the opening: 30;
    // 32 in total; open for 300 s) and at 610 s (30 more, 62 in total, open for 600 s). The next
    // would be at 910 s, after the last error.
    let got = wait_requests(&server, 3);
    let texts: Vec<String> = got.iter().map(text).collect();
    assert!(
        texts[0].contains("🔴 Incident #1: 2 ERROR events in 1m 00s in orders (test) on "),
        "{}",
        texts[0]
    );
    for (t, total, open_for) in [(&texts[1], 32, "5m 00s"), (&texts[2], 62, "10m 00s")] {
        assert!(
            t.contains("🟠 Incident #1 still open: 30 more ERROR events in orders (test) on "),
            "{t}"
        );
        assert!(
            t.contains(&format!("({total} in total, open for {open_for})")),
            "{t}"
        );
        assert!(t.contains("`still failing`"), "{t}");
    }
    let i = guard.incidents();
    assert_eq!((i.opened, i.resolved, i.open), (1, 0, true), "{i:?}");
    drop(guard);
    assert_stopped_last(&server, 3, 1);
}

#[cfg(feature = "http")]
#[test]
fn a_quiet_window_posts_a_resolved_notice_with_the_duration() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let clock = manual_clock();
    let (dispatch, guard) = start_logging(
        base(dir.path())
            .slack_webhook(server.url(HOOK))
            .clock(clock.clone())
            .alert_threshold(5)
            .alert_window(Duration::from_secs(60)),
    );
    emit(&dispatch, || {
        // Errors every 10 s from 0 to 150 s (16 errors): opened at 40 s.
        for i in 0..16 {
            if i > 0 {
                clock.advance(Duration::from_secs(10));
            }
            tracing::error!(i, "db down");
        }
    });
    let got = wait_requests(&server, 1);
    assert!(text(&got[0]).contains("Incident #1: 5 ERROR events"));
    assert!(guard.incidents().open);

    // The last five errors are at 110..=150 s: the window drops below 5 at 110 + 60 = 170 s, so
    // the incident lasted 170 - 40 = 130 s.
    clock.set(UNIX_EPOCH + Duration::from_secs(T0 + 1_000));
    let got = wait_requests(&server, 2);
    let t = text(&got[1]);
    assert!(
        t.contains("✅ Incident #1 resolved in orders (test) on "),
        "{t}"
    );
    assert!(t.contains("after 2m 10s, 16 ERROR events in total"), "{t}");
    assert!(
        t.contains("*Opened:* 2023-11-14T22:14:00Z   *Resolved:* 2023-11-14T22:16:10Z"),
        "{t}"
    );
    assert!(
        t.contains("*First error:* 2023-11-14T22:13:20Z   *Last error:* 2023-11-14T22:15:50Z"),
        "{t}"
    );
    assert!(
        block_text(&got[1], 0).contains("resolved"),
        "{}",
        got[1].body
    );

    eventually("alerts_sent == 2", WAIT, || {
        guard.incidents().alerts_sent == 2
    });
    let i = guard.incidents();
    assert_eq!((i.opened, i.resolved, i.open), (1, 1, false), "{i:?}");
    assert_eq!(i.mttr, Some(Duration::from_secs(130)), "{i:?}");
    assert_eq!(i.time_in_incident, Duration::from_secs(130), "{i:?}");
    drop(guard);
    assert_eq!(server.requests().len(), 2);
}

#[cfg(feature = "http")]
#[test]
fn a_server_error_is_retried_and_the_alert_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![Reply::status(500, "oops")], Reply::ok());
    let (dispatch, guard) = start_logging(base(dir.path()).slack_webhook(server.url(HOOK)));
    emit(&dispatch, || {
        for i in 0..5 {
            tracing::error!(i, "payment failed");
        }
    });
    let got = wait_requests(&server, 2);
    assert_eq!(got[0].body, got[1].body, "the retry posts the same body");
    assert!(text(&got[1]).contains("Incident #1: 5 ERROR events"));
    eventually("alerts_sent == 1", WAIT, || {
        guard.incidents().alerts_sent == 1
    });
    let i = guard.incidents();
    assert_eq!((i.alerts_sent, i.alerts_failed), (1, 0), "{i:?}");
    drop(guard);
    assert_stopped_last(&server, 2, 1);
}

#[cfg(feature = "http")]
#[test]
fn a_429_is_retried_after_its_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![Reply::too_many_requests(1)], Reply::ok());
    let (dispatch, guard) = start_logging(base(dir.path()).slack_webhook(server.url(HOOK)));
    emit(&dispatch, || {
        for i in 0..5 {
            tracing::error!(i, "payment failed");
        }
    });
    let got = wait_requests(&server, 2);
    let gap = got[1].received_at.duration_since(got[0].received_at);
    // Honouring the server's delay (Retry-After: 1), not a performance bound.
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
    assert_eq!(got[0].body, got[1].body);
    eventually("alerts_sent == 1", WAIT, || {
        guard.incidents().alerts_sent == 1
    });
    assert_eq!(guard.incidents().alerts_failed, 0);
    drop(guard);
    assert_stopped_last(&server, 2, 1);
}

#[cfg(feature = "http")]
#[test]
fn a_404_is_not_retried_and_counts_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::status(404, "no_service"));
    let (dispatch, guard) = start_logging(base(dir.path()).slack_webhook(server.url(HOOK)));
    emit(&dispatch, || {
        for i in 0..5 {
            tracing::error!(i, "payment failed");
        }
    });
    eventually("alerts_failed == 1", WAIT, || {
        guard.incidents().alerts_failed == 1
    });
    assert_eq!(server.requests().len(), 1, "a 404 is not retried");
    assert_eq!(guard.incidents().alerts_sent, 0);
    drop(guard);
    assert_stopped_last(&server, 1, 1);
}

#[cfg(feature = "http")]
#[test]
fn a_refused_connection_does_not_affect_callers() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(base(dir.path()).slack_webhook(refused_url(HOOK)));
    let elapsed = emit(&dispatch, || {
        for i in 0..5 {
            tracing::error!(i, "payment failed");
        }
        let start = Instant::now();
        for i in 0..1_000 {
            tracing::error!(i, "still failing");
        }
        start.elapsed()
    });
    println!("refused webhook: 1000 events after the crossing took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "liveness: {elapsed:?}");
    // Three attempts, 50 ms then about 100 ms apart.
    eventually("alerts_failed == 1", WAIT, || {
        guard.incidents().alerts_failed == 1
    });
    let i = guard.incidents();
    assert_eq!(
        (i.opened, i.alerts_sent, i.alerts_failed),
        (1, 0, 1),
        "{i:?}"
    );
    drop(guard);
}

#[cfg(feature = "http")]
#[test]
fn a_hung_webhook_affects_neither_logging_nor_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::Hang);
    let (dispatch, guard) = start_logging(
        base(dir.path())
            .slack_webhook(server.url(HOOK))
            .alert_timeouts(Duration::from_millis(500), Duration::from_millis(800))
            // Twenty attempts of 800 ms: far longer than the shutdown timeout.
            .alert_retries(20, Duration::from_millis(50))
            .shutdown_timeout(Duration::from_secs(4)),
    );
    emit(&dispatch, || {
        for i in 0..5 {
            tracing::error!(i, "payment failed");
        }
    });
    // The delivery thread is now waiting on the server.
    wait_requests(&server, 1);
    // On another thread, so that a regression fails the test instead of hanging it.
    let elapsed = within(HANG, "logging behind a hung webhook", {
        let dispatch = dispatch.clone();
        move || {
            emit(&dispatch, || {
                let start = Instant::now();
                for i in 0..10_000 {
                    tracing::error!(i, "still failing");
                }
                start.elapsed()
            })
        }
    });
    println!("hung webhook: 10000 events after the crossing took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "liveness: {elapsed:?}");
    assert_eq!(guard.incidents().alerts_sent, 0);

    let shutdown = within(HANG, "dropping the guard with a hung webhook", move || {
        let start = Instant::now();
        drop(guard);
        start.elapsed()
    });
    println!("hung webhook: dropping the guard took {shutdown:?}");
    // Pending alerts get half the shutdown timeout (2 s here), and nothing else is pending: a
    // drop that waited on them for the whole timeout would take 4 s.
    assert!(
        shutdown < Duration::from_secs(3),
        "pending alerts held the drop past half the shutdown timeout: {shutdown:?}"
    );
    // The closing server releases the connection the delivery thread may still wait on.
    drop(server);
}

#[cfg(feature = "http")]
#[test]
fn a_flood_of_errors_opens_one_incident_and_resolves_with_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let clock = manual_clock();
    let (dispatch, guard) = start_logging(
        base(dir.path())
            .slack_webhook(server.url(HOOK))
            .clock(clock.clone()),
    );
    emit(&dispatch, || {
        // All at the same instant.
        for i in 0..10_000 {
            tracing::error!(i, "flood");
        }
    });
    let got = wait_requests(&server, 1);
    assert!(
        text(&got[0]).contains("Incident #1: 5 ERROR events in 1m 00s"),
        "{}",
        text(&got[0])
    );
    assert_eq!(guard.incidents().opened, 1);

    clock.advance(Duration::from_secs(61));
    let got = wait_requests(&server, 2);
    let t = text(&got[1]);
    assert!(
        t.contains("Incident #1 resolved in orders (test) on "),
        "{t}"
    );
    assert!(
        t.contains("after 1m 00s, 10000 ERROR events in total"),
        "{t}"
    );
    eventually("alerts_sent == 2", WAIT, || {
        guard.incidents().alerts_sent == 2
    });
    let i = guard.incidents();
    assert_eq!(
        (i.opened, i.resolved, i.alerts_dropped, i.alerts_failed),
        (1, 1, 0, 0),
        "{i:?}"
    );
    drop(guard);
    assert_eq!(server.requests().len(), 2);
}

#[cfg(feature = "http")]
const EVIL: &str = "<!channel> <!here> <@U123> <https://evil.example|click> & done";

/// Opens an incident whose message is [`EVIL`], inside a span whose field is markup too, and
/// returns the posted alert.
#[cfg(feature = "http")]
fn post_evil(configure: impl FnOnce(logwarden::Builder) -> logwarden::Builder) -> Request {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let (dispatch, guard) =
        start_logging(configure(base(dir.path()).slack_webhook(server.url(HOOK))));
    emit(&dispatch, || {
        let span = tracing::info_span!("request", who = "<@U999> <!everyone>");
        let _e = span.enter();
        for _ in 0..5 {
            tracing::error!("{EVIL}");
        }
    });
    let got = wait_requests(&server, 1);
    drop(guard);
    got[0].clone()
}

#[cfg(feature = "http")]
#[test]
fn markup_from_logs_is_escaped_and_only_the_configured_mention_is_not() {
    let r = post_evil(|b| b);
    let mut all = Vec::new();
    strings(&r.json(), &mut all);
    for s in &all {
        for raw in [
            "<!channel>",
            "<!here>",
            "<@U123>",
            "<https://evil",
            "<@U999>",
            "<!everyone>",
        ] {
            assert!(!s.contains(raw), "raw {raw:?} in {s:?}");
        }
    }
    let t = text(&r);
    assert!(
        t.contains(
            "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; &amp; done"
        ),
        "{t}"
    );
    assert!(block_text(&r, 1).contains("&lt;!channel&gt;"), "{}", r.body);
    // The span's fields, shown as the error's context.
    assert!(t.contains("&lt;@U999&gt; &lt;!everyone&gt;"), "{t}");

    let r = post_evil(|b| b.mention("<!here>"));
    let t = text(&r);
    assert!(t.starts_with("<!here> "), "{t}");
    assert_eq!(t.matches("<!here>").count(), 1, "{t}");
    let headline = block_text(&r, 0);
    assert!(headline.starts_with("<!here> "), "{headline}");
    assert_eq!(headline.matches("<!here>").count(), 1, "{headline}");
    for i in [1, 2] {
        let b = block_text(&r, i);
        assert!(!b.contains('<'), "markup in block {i}: {b}");
    }
    assert!(
        t.contains("&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;"),
        "{t}"
    );
}

/// Opens an incident posting to `url`, waits for the delivery to fail, and returns the whole
/// log file.
#[cfg(feature = "http")]
fn log_after_failed_delivery(url: String) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = start_logging(base(dir.path()).slack_webhook(url));
    let path = guard.log_path().unwrap().to_owned();
    emit(&dispatch, || {
        for i in 0..5 {
            tracing::error!(i, "payment failed");
        }
    });
    eventually("alerts_failed == 1", WAIT, || {
        guard.incidents().alerts_failed == 1
    });
    drop(guard);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"alert\":\"opened\""),
        "the alert record is missing: {text}"
    );
    text
}

#[cfg(feature = "http")]
#[test]
fn the_webhook_secret_is_never_shown() {
    // A delivery error (404) and a refused connection: nothing in the log file.
    let server = Server::start(vec![], Reply::status(404, "no_service"));
    for url in [server.url(HOOK), refused_url(HOOK)] {
        let log = log_after_failed_delivery(url);
        assert!(
            !log.contains(SECRET),
            "the secret is in the log file: {log}"
        );
    }

    // The public `Webhook` and the notifiers built on it.
    let origin = format!("http://127.0.0.1:{}", server.port());
    let webhook = logwarden::notify::Webhook::new(&server.url(HOOK)).unwrap();
    assert_eq!(webhook.origin(), origin);
    assert_eq!(webhook.to_string(), format!("{origin}/…"));
    for shown in [
        format!("{webhook:?}"),
        format!(
            "{:?}",
            logwarden::notify::SlackNotifier::new(webhook.clone())
        ),
        format!(
            "{:?}",
            logwarden::notify::JsonNotifier::new(webhook.clone())
        ),
    ] {
        assert!(!shown.contains(SECRET), "the secret is shown: {shown}");
        assert!(shown.contains(&origin), "{shown}");
    }

    // The builder's Debug, whatever the webhook kind, source and validity.
    for (b, shown) in [
        (
            logwarden::builder().notifier(logwarden::notify::SlackNotifier::new(webhook.clone())),
            &origin,
        ),
        (
            logwarden::builder().slack_webhook(server.url(HOOK)),
            &origin,
        ),
        (logwarden::builder().json_webhook(server.url(HOOK)), &origin),
        (
            logwarden::builder().from_vars([("SLACK_WEBHOOK_URL", server.url(HOOK))]),
            &origin,
        ),
        (
            logwarden::builder().slack_webhook(format!("http://example.com/services/T/B/{SECRET}")),
            &"http://example.com".to_owned(),
        ),
    ] {
        let dbg = format!("{b:?}");
        assert!(
            !dbg.contains(SECRET),
            "the secret is in the Debug form: {dbg}"
        );
        assert!(dbg.contains(shown.as_str()), "{dbg}");
    }

    // An invalid webhook: the error names the setting and shows scheme and host only.
    let bad = format!("http://example.com/services/T/B/{SECRET}");
    let dir = tempfile::tempdir().unwrap();
    for (builder, setting) in [
        (
            logwarden::builder().slack_webhook(bad.clone()),
            "slack_webhook",
        ),
        (
            logwarden::builder().json_webhook(bad.clone()),
            "json_webhook",
        ),
        (
            logwarden::builder().from_vars([("SLACK_WEBHOOK_URL", bad.clone())]),
            "SLACK_WEBHOOK_URL",
        ),
    ] {
        let err = builder
            .dir(dir.path())
            .capture_log(false)
            .build::<tracing_subscriber::Registry>()
            .err()
            .expect("plain http to a non-loopback host is refused");
        assert_eq!(err.kind(), logwarden::ErrorKind::InvalidSetting);
        assert_eq!(err.setting(), Some(setting));
        let (display, debug) = (err.to_string(), format!("{err:?}"));
        assert!(
            display.starts_with(&format!("{setting}=\"http://example.com/…\": ")),
            "{display}"
        );
        for s in [&display, &debug] {
            assert!(!s.contains(SECRET), "the secret is in the error: {s}");
            assert!(!s.contains("/services"), "the path is in the error: {s}");
        }
    }
}

#[test]
fn without_a_webhook_alerts_are_records_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = manual_clock();
    let (dispatch, guard) = start_logging(base(dir.path()).clock(clock.clone()));
    let path = guard.log_path().unwrap().to_owned();
    emit(&dispatch, || {
        for i in 0..5 {
            tracing::error!(i, "payment failed");
        }
    });
    assert_eq!(guard.incidents().opened, 1);
    clock.advance(Duration::from_secs(61));
    eventually("the incident to resolve", WAIT, || {
        guard.incidents().resolved == 1
    });
    let i = guard.incidents();
    assert_eq!((i.opened, i.resolved, i.open), (1, 1, false), "{i:?}");
    assert_eq!((i.alerts_sent, i.alerts_failed), (0, 0), "{i:?}");
    // Dropping the guard finishes the delivery thread, then writes everything.
    drop(guard);

    let records = support::read_records(&path);
    let alerts: Vec<&Value> = records
        .iter()
        .filter(|r| r["target"] == "logwarden::alert")
        .collect();
    assert_eq!(alerts.len(), 2, "{records:#?}");
    let (opened, resolved) = (alerts[0], alerts[1]);
    assert_eq!(opened["level"], "WARN");
    assert_eq!(opened["alert"], "opened");
    assert_eq!(opened["incident"], 1);
    assert_eq!(opened["errors_in_window"], 5);
    assert_eq!(opened["top_error"], "payment failed");
    assert_eq!(opened["service"], "orders");
    let m = opened["message"].as_str().unwrap();
    assert!(m.contains("Incident #1: 5 ERROR events in 1m 00s"), "{m}");
    assert_eq!(resolved["level"], "INFO");
    assert_eq!(resolved["alert"], "resolved");
    assert_eq!(resolved["incident"], 1);
    assert_eq!(resolved["duration_secs"], 60.0);
    assert_eq!(resolved["errors_total"], 5);
    let m = resolved["message"].as_str().unwrap();
    assert!(m.contains("resolved") && m.contains("after 1m 00s"), "{m}");
    assert_eq!(
        records.iter().filter(|r| r["level"] == "ERROR").count(),
        5,
        "{records:#?}"
    );
}

/// A value whose `Debug` logs an ERROR while it is being formatted.
#[cfg(feature = "http")]
struct LogsWhileFormatted;

#[cfg(feature = "http")]
impl fmt::Debug for LogsWhileFormatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::error!("logged from Debug");
        f.write_str("formatted")
    }
}

// Under a scoped (`with_default`) dispatcher tracing drops the nested event itself; the
// global-dispatcher case, where the alert layer is really re-entered, is in
// `tests/global/alert_reentrancy.rs`.
#[cfg(feature = "http")]
#[test]
fn an_error_logged_while_an_error_is_formatted_neither_deadlocks_nor_panics() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let (dispatch, guard) = start_logging(base(dir.path()).slack_webhook(server.url(HOOK)));
    within(HANG, "logging from a Debug impl", move || {
        emit(&dispatch, || {
            for _ in 0..5 {
                // Formatted by the record layer (field and message) and by the alert layer
                // (message, for the sample).
                tracing::error!(value = ?LogsWhileFormatted, "outer {:?}", LogsWhileFormatted);
            }
        })
    });
    let got = wait_requests(&server, 1);
    let t = text(&got[0]);
    assert!(t.contains("`outer formatted`"), "{t}");
    let i = guard.incidents();
    assert_eq!((i.opened, i.resolved), (1, 0), "{i:?}");
    drop(guard);
    assert_stopped_last(&server, 1, 1);
}

#[cfg(feature = "http")]
#[test]
fn a_json_webhook_gets_a_plain_object() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let (dispatch, guard) = start_logging(base(dir.path()).json_webhook(server.url(HOOK)));
    emit(&dispatch, || {
        for i in 0..5 {
            tracing::error!(i, "payment failed");
        }
    });
    let got = wait_requests(&server, 1);
    let r = &got[0];
    assert_json_content_type(r);
    let v = r.json();
    assert_eq!(v["kind"], "opened", "{v}");
    assert_eq!(v["incident"], 1, "{v}");
    assert_eq!(v["threshold"], 5, "{v}");
    assert_eq!(v["errors_in_window"], 5, "{v}");
    assert_eq!(v["errors_total"], 5, "{v}");
    assert_eq!(v["service"], "orders", "{v}");
    assert_eq!(v["env"], "test", "{v}");
    assert_eq!(v["window_secs"], 60.0, "{v}");
    assert_eq!(v["top_errors"][0]["message"], "payment failed", "{v}");
    assert_eq!(v["top_errors"][0]["count"], 5, "{v}");
    assert_eq!(v["top_errors"][0]["target"], "suite::alert", "{v}");
    assert!(v["resolved_at"].is_null(), "{v}");
    assert!(
        v["text"]
            .as_str()
            .is_some_and(|t| t.contains("Incident #1: 5 ERROR events")),
        "{v}"
    );
    assert!(v.get("blocks").is_none(), "{v}");
    drop(guard);
    assert_stopped_last(&server, 1, 1);
    let last = server.requests()[1].json();
    assert_eq!(last["kind"], "stopped", "{last}");
    assert!(last["stopped_at"].is_string(), "{last}");
    assert!(last["resolved_at"].is_null(), "{last}");
}

#[cfg(feature = "http")]
#[test]
fn errors_of_a_target_silenced_by_the_filter_still_count() {
    silenced_errors_still_count(start_logging);
}

/// The same with the filter global, as `init()` installs it.
#[cfg(feature = "http")]
#[test]
fn errors_of_a_silenced_target_still_count_under_the_init_subscriber() {
    silenced_errors_still_count(start_subscriber);
}

#[cfg(feature = "http")]
fn silenced_errors_still_count(start: fn(logwarden::Builder) -> (Dispatch, Guard)) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let (dispatch, guard) = start(
        base(dir.path())
            .filter("info,noisy=off")
            .slack_webhook(server.url(HOOK)),
    );
    let path = guard.log_path().unwrap().to_owned();
    emit(&dispatch, || {
        tracing::info!("visible");
        for i in 0..5 {
            tracing::error!(target: "noisy", i, "noisy failure");
        }
    });
    let got = wait_requests(&server, 1);
    let t = text(&got[0]);
    assert!(t.contains("*5×* `noisy failure` — noisy"), "{t}");
    assert_eq!(guard.incidents().opened, 1);
    drop(guard);
    assert_stopped_last(&server, 1, 1);
    let records = support::read_records(&path);
    // The silenced events are not written (the alert record quotes the message as `top_error`).
    assert!(
        records
            .iter()
            .all(|r| r["target"] != "noisy" && r["message"] != "noisy failure"),
        "{records:#?}"
    );
    support::one(&records, "visible");
    // The opening and, at the guard's drop, the last word.
    let alerts: Vec<&str> = records
        .iter()
        .filter(|r| r["target"] == "logwarden::alert")
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert_eq!(alerts, ["opened", "stopped"], "{records:#?}");
}

// The layer does not count the crate's own events, told apart by their target (`logwarden` and
// `logwarden::…`): a host target that merely starts with `logwarden` is not one of them.
#[cfg(feature = "http")]
#[test]
fn errors_of_a_target_that_merely_starts_with_logwarden_count() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![], Reply::ok());
    let (dispatch, guard) = start_logging(base(dir.path()).slack_webhook(server.url(HOOK)));
    emit(&dispatch, || {
        for i in 0..5 {
            // A host crate named `logwarden_billing` (or `logwarden-billing`) is not logwarden.
            tracing::error!(target: "logwarden_billing", i, "charge failed");
        }
    });
    assert_eq!(
        guard.incidents().opened,
        1,
        "ERROR events of target `logwarden_billing` were not counted"
    );
    let got = wait_requests(&server, 1);
    // A target with Slack markup in it (`_`) stands in a code span of its own.
    assert!(text(&got[0]).contains("`charge failed` — `logwarden_billing`"));
}
