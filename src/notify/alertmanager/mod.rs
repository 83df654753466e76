//! Alertmanager as a destination: every incident posted to each listed instance's
//! `/api/v2/alerts`, re-posted while it lasts so that an alert whose process died expires, and
//! after its end so that a lost request does not leave it firing.
//!
//! Unlike a chat message, an Alertmanager alert is a state kept alive by its sender: a post
//! without news is how "still firing" is said, and `endsAt` is when it stops being true unless
//! said again. The labels identify the alert (the same on every post of one process), the
//! annotations describe it.

#![cfg_attr(not(feature = "http"), allow(dead_code))]

#[cfg(feature = "http")]
mod deliver;

use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Map};

#[cfg(feature = "http")]
pub(super) use deliver::Instances;

use super::webhook::Webhook;
use crate::alert::{Alert, AlertKind};
use crate::timestamp::rfc3339_of;

/// The `alertname` label unless configured otherwise.
pub(crate) const DEFAULT_ALERTNAME: &str = "LogwardenErrors";
/// How often an alert is posted again: Prometheus's default `resend_delay` is 1 min.
pub(crate) const DEFAULT_RESEND: Duration = Duration::from_secs(60);
/// `endsAt` of a firing alert is this many resend intervals ahead, as Prometheus does: a few
/// lost posts do not end it, a dead process's alert ends within minutes.
const HORIZON_INTERVALS: u32 = 4;

/// The Alertmanager instances and what the alerts posted to them are called.
#[derive(Clone, Debug)]
pub(crate) struct Alertmanager {
    /// `<base>/api/v2/alerts` of every instance (an HA cluster is posted to, instance by
    /// instance, never through a balancer: each instance must hear of every alert).
    pub(crate) targets: Vec<Webhook>,
    pub(crate) alertname: String,
    pub(crate) resend: Duration,
}

impl Alertmanager {
    /// The API endpoints of the comma-separated base URLs in `urls`; `Err` says what is wrong
    /// and shows at most a scheme and host.
    pub(crate) fn targets(urls: &str) -> Result<Vec<Webhook>, super::webhook::WebhookError> {
        let mut targets = Vec::new();
        for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let (base, rest) = match url.find(['?', '#']) {
                Some(i) => url.split_at(i),
                None => (url, ""),
            };
            let base = base.trim_end_matches('/');
            let base = base.strip_suffix("/api/v2/alerts").unwrap_or(base);
            // Alertmanager is usually reached over a private network without TLS.
            targets.push(Webhook::parse(
                &format!("{base}/api/v2/alerts{rest}"),
                true,
            )?);
        }
        if targets.is_empty() {
            return Err(super::webhook::WebhookError {
                shown: String::new(),
                reason: "expected one or more Alertmanager base URLs separated by commas, \
                         such as http://alertmanager:9093",
            });
        }
        Ok(targets)
    }

    fn horizon(&self) -> Duration {
        self.resend.saturating_mul(HORIZON_INTERVALS)
    }

    /// The request body for `alert`, ending at `ends_at`: a JSON array of one alert.
    pub(crate) fn body(&self, alert: &Alert, ends_at: SystemTime) -> String {
        let clean = |s: &str| crate::text::for_terminal(s, usize::MAX);
        let mut labels = Map::new();
        labels.insert("alertname".into(), self.alertname.clone().into());
        labels.insert("service".into(), clean(&alert.service).into());
        labels.insert("env".into(), clean(&alert.env).into());
        labels.insert("host".into(), clean(&alert.host).into());
        if let Some(pid) = alert.pid {
            labels.insert("pid".into(), pid.to_string().into());
        }
        let mut annotations = Map::new();
        annotations.insert("summary".into(), summary(alert).into());
        annotations.insert("description".into(), description(alert).into());
        annotations.insert("incident".into(), alert.incident.to_string().into());
        annotations.insert("errors_total".into(), alert.errors_total.to_string().into());
        if let Some(top) = alert.top_errors.first() {
            annotations.insert("top_error".into(), clean(&top.message).into());
        }
        if let Some(trace) = alert.top_errors.iter().find_map(|g| g.trace_id.as_deref()) {
            annotations.insert("trace_id".into(), clean(trace).into());
        }
        // Alertmanager refuses an end before the start (400); a clock step could make one.
        let ends_at = ends_at.max(alert.opened_at);
        json!([{
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339_of(alert.opened_at),
            "endsAt": rfc3339_of(ends_at),
        }])
        .to_string()
    }
}

fn summary(alert: &Alert) -> String {
    let clean = |s: &str| crate::text::for_terminal(s, usize::MAX);
    format!(
        "{} ERROR events within {} in {} ({}) on {}: incident #{}, {} errors so far",
        alert.threshold,
        crate::text::human_duration(alert.window),
        clean(&alert.service),
        clean(&alert.env),
        clean(&alert.host),
        alert.incident,
        alert.errors_total,
    )
}

fn description(alert: &Alert) -> String {
    let clean = |s: &str| crate::text::for_terminal(s, usize::MAX);
    let mut out = match alert.kind {
        AlertKind::Resolved => format!(
            "Resolved after {}.",
            crate::text::human_duration(alert.duration())
        ),
        AlertKind::Stopped => format!(
            "The process stopped with the incident open, after {}; not resolved.",
            crate::text::human_duration(alert.duration())
        ),
        _ => format!(
            "Open for {}.",
            crate::text::human_duration(alert.duration())
        ),
    };
    out.push_str(" Top errors:");
    for g in &alert.top_errors {
        out.push_str(&format!(
            "\n{}× {} [{}",
            g.count,
            clean(&g.message),
            clean(&g.target)
        ));
        if let Some(l) = &g.location {
            out.push_str(&format!(" {}", clean(l)));
        }
        out.push(']');
        if let Some(t) = &g.trace_id {
            out.push_str(&format!(" trace_id={}", clean(t)));
        }
    }
    if alert.other_errors > 0 {
        out.push_str(&format!("\n{} more of other kinds", alert.other_errors));
    }
    out
}

/// The one alert this process keeps alive, and when to post it next.
#[derive(Debug)]
struct Kept {
    alert: Alert,
    /// `None` while firing (each post ends a horizon ahead); the end once resolved or stopped.
    ends_at: Option<SystemTime>,
    next: Instant,
    /// Until when re-posting an ended alert is worth it: the last firing post's horizon, after
    /// which Alertmanager ends it anyway.
    until: Instant,
}

/// When to post what: the alert of the latest incident, firing or ended.
#[derive(Debug, Default)]
pub(crate) struct Resends {
    kept: Option<Kept>,
}

impl Resends {
    /// The body to post about `alert`, which has just been decided, at `now` (`wall` on the
    /// clock): news, retried with backoff and counted as an alert.
    pub(crate) fn news(
        &mut self,
        am: &Alertmanager,
        alert: &Alert,
        now: Instant,
        wall: SystemTime,
    ) -> String {
        let (ends_at, until) = match alert.kind {
            AlertKind::Opened | AlertKind::Reminder => (None, now + am.horizon()),
            AlertKind::Resolved => (
                alert.resolved_at,
                self.kept.as_ref().map_or(now, |k| k.until),
            ),
            // The process is going: nothing will post again.
            AlertKind::Stopped => (alert.stopped_at.or(Some(wall)), now),
        };
        let body = am.body(alert, ends_at.unwrap_or(wall + am.horizon()));
        self.kept = Some(Kept {
            alert: alert.clone(),
            ends_at,
            next: now + am.resend,
            until,
        });
        body
    }

    /// The body of the resend due at `now`, if any: it only keeps the alert alive, so it is
    /// tried once (the next resend is the retry).
    pub(crate) fn due(
        &mut self,
        am: &Alertmanager,
        now: Instant,
        wall: SystemTime,
    ) -> Option<String> {
        let kept = self.kept.as_mut()?;
        if now < kept.next {
            return None;
        }
        if kept.ends_at.is_some() && now >= kept.until {
            self.kept = None;
            return None;
        }
        kept.next = now + am.resend;
        if kept.ends_at.is_none() {
            kept.until = now + am.horizon();
        }
        let ends_at = kept.ends_at.unwrap_or(wall + am.horizon());
        Some(am.body(&kept.alert, ends_at))
    }

    /// The body that says where the kept alert stands at `wall`, for a retry of news: firing
    /// (ending a horizon ahead) or ended. Changes no schedule.
    pub(crate) fn current(&self, am: &Alertmanager, wall: SystemTime) -> Option<String> {
        let kept = self.kept.as_ref()?;
        Some(am.body(&kept.alert, kept.ends_at.unwrap_or(wall + am.horizon())))
    }

    /// How long until [`Resends::due`] has something, if ever.
    pub(crate) fn next(&self, now: Instant) -> Option<Duration> {
        self.kept
            .as_ref()
            .map(|k| k.next.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::ErrorGroup;
    use serde_json::Value;
    use std::time::UNIX_EPOCH;

    fn am() -> Alertmanager {
        Alertmanager {
            targets: Alertmanager::targets("http://127.0.0.1:9093").unwrap(),
            alertname: DEFAULT_ALERTNAME.into(),
            resend: Duration::from_secs(1),
        }
    }

    fn alert(kind: AlertKind) -> Alert {
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s);
        Alert {
            kind,
            incident: 3,
            service: "orders".into(),
            env: "prod".into(),
            host: "web-1\u{202e}".into(),
            pid: Some(42),
            threshold: 5,
            window: Duration::from_secs(60),
            errors_in_window: 5,
            errors_since_last: 5,
            errors_total: 12,
            first_error_at: at(0),
            last_error_at: at(30),
            opened_at: at(10),
            resolved_at: (kind == AlertKind::Resolved).then(|| at(90)),
            stopped_at: None,
            top_errors: vec![ErrorGroup {
                message: "db <down>\nretry".into(),
                target: "orders::db".into(),
                location: Some("src/db.rs:7".into()),
                count: 12,
                trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
                context: None,
            }],
            other_errors: 0,
            mention: None,
        }
    }

    #[test]
    fn targets_are_the_api_of_each_base_url() {
        let t = Alertmanager::targets(
            " http://a:9093/ ,https://u:secret@b/prefix,http://c/api/v2/alerts",
        )
        .unwrap();
        let urls: Vec<&str> = t.iter().map(|w| w.expose()).collect();
        assert_eq!(
            urls,
            [
                "http://a:9093/api/v2/alerts",
                "https://u:secret@b/prefix/api/v2/alerts",
                "http://c/api/v2/alerts"
            ]
        );
        assert!(!format!("{t:?}").contains("secret"));
        assert!(Alertmanager::targets(" , ").is_err());
        let e = Alertmanager::targets("ftp://u:secret@x").unwrap_err();
        assert!(!format!("{e:?}").contains("secret"));
    }

    #[test]
    fn the_body_labels_the_process_and_describes_the_incident() {
        let body: Value = serde_json::from_str(&am().body(
            &alert(AlertKind::Opened),
            UNIX_EPOCH + Duration::from_secs(1_800_000_100),
        ))
        .unwrap();
        let a = &body[0];
        assert_eq!(
            a["labels"],
            json!({"alertname": "LogwardenErrors", "service": "orders", "env": "prod",
                   "host": "web-1\\u{202e}", "pid": "42"})
        );
        assert_eq!(a["startsAt"], "2027-01-15T08:00:10.000000Z");
        assert_eq!(a["endsAt"], "2027-01-15T08:01:40.000000Z");
        let ann = &a["annotations"];
        assert_eq!(ann["incident"], "3");
        assert_eq!(ann["errors_total"], "12");
        assert_eq!(ann["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let description = ann["description"].as_str().unwrap();
        assert!(
            description.contains("12× db <down>\\nretry [orders::db src/db.rs:7]"),
            "{description}"
        );
        assert!(ann["summary"].as_str().unwrap().contains("orders (prod)"));
    }

    #[test]
    fn an_end_before_the_start_is_the_start() {
        let a = alert(AlertKind::Stopped);
        let body: Value = serde_json::from_str(&am().body(&a, UNIX_EPOCH)).unwrap();
        assert_eq!(body[0]["endsAt"], body[0]["startsAt"]);
    }

    #[test]
    fn firing_is_kept_alive_and_an_end_is_repeated_until_the_horizon() {
        let am = am();
        let (t0, w0) = (
            Instant::now(),
            UNIX_EPOCH + Duration::from_secs(1_800_000_100),
        );
        let s = Duration::from_secs(1);
        let at = |d: Duration| (t0 + d, w0 + d);
        let ends = |body: &str| -> String {
            let v: Value = serde_json::from_str(body).unwrap();
            v[0]["endsAt"].as_str().unwrap().to_owned()
        };
        let mut r = Resends::default();
        let (t, w) = at(10 * s);
        assert!(r.due(&am, t, w).is_none() && r.next(t0).is_none());

        let post = r.news(&am, &alert(AlertKind::Opened), t0, w0);
        // A firing alert ends four intervals ahead of each post.
        assert_eq!(ends(&post), rfc3339_of(w0 + 4 * s));
        assert_eq!(r.next(t0), Some(s));
        let (t, w) = at(s / 2);
        assert!(r.due(&am, t, w).is_none());
        let (t, w) = at(s);
        let resend = r.due(&am, t, w).expect("a resend after one interval");
        assert_eq!(ends(&resend), rfc3339_of(w0 + 5 * s));
        assert!(r.due(&am, t, w).is_none(), "one resend per interval");

        // Resolved at 1.5 s: repeated with its own end until the last firing post's horizon
        // (1 s + 4 s) has passed.
        let resolved = alert(AlertKind::Resolved);
        let end = rfc3339_of(resolved.resolved_at.unwrap());
        let (t, w) = at(s * 3 / 2);
        let post = r.news(&am, &resolved, t, w);
        assert_eq!(ends(&post), end);
        let mut repeats = Vec::new();
        for tick in 2..10 {
            let (t, w) = at(s * tick + s / 2);
            if let Some(p) = r.due(&am, t, w) {
                assert_eq!(ends(&p), end);
                repeats.push(tick);
            }
        }
        assert_eq!(repeats, [2, 3, 4], "at 2.5, 3.5 and 4.5 s; none from 5 s");
        assert!(r.next(t0).is_none(), "nothing kept once the horizon passed");
    }

    #[test]
    fn a_stop_is_said_once() {
        let am = am();
        let (t0, w0) = (
            Instant::now(),
            UNIX_EPOCH + Duration::from_secs(1_800_000_020),
        );
        let mut r = Resends::default();
        r.news(&am, &alert(AlertKind::Opened), t0, w0);
        let post = r.news(&am, &alert(AlertKind::Stopped), t0, w0);
        let v: Value = serde_json::from_str(&post).unwrap();
        assert_eq!(v[0]["endsAt"], rfc3339_of(w0));
        assert!(r.due(&am, t0 + am.resend, w0).is_none());
    }
}
