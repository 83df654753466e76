//! Without the `http` cargo feature (`cargo test --no-default-features`), nothing of the HTTP
//! stack is built: configuring a webhook or a notifier is an error that names the setting and the
//! feature, and never shows the webhook's path (its credential); alerting without one still
//! builds, and its alerts go to the log file.

use logwarden::notify::{SlackNotifier, Webhook};
use logwarden::ErrorKind;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Registry;

use crate::support;

/// A Slack incoming webhook, and the part of it that is a credential.
const SLACK_URL: &str = "https://hooks.slack.com/services/T/B/x";
const SLACK_PATH: &str = "/services/T/B/x";

#[test]
fn a_webhook_or_a_notifier_is_refused_naming_the_setting_and_the_http_feature() {
    let dir = tempfile::tempdir().unwrap();
    let webhook =
        Webhook::new(SLACK_URL).expect("a valid webhook URL, with or without the feature");
    for (builder, setting, shown) in [
        (
            logwarden::builder().slack_webhook(SLACK_URL),
            "slack_webhook",
            Some("https://hooks.slack.com"),
        ),
        (
            logwarden::builder().from_vars([("SLACK_WEBHOOK_URL", SLACK_URL)]),
            "SLACK_WEBHOOK_URL",
            Some("https://hooks.slack.com"),
        ),
        (
            logwarden::builder().json_webhook(SLACK_URL),
            "json_webhook",
            Some("https://hooks.slack.com"),
        ),
        (
            logwarden::builder().notifier(SlackNotifier::new(webhook)),
            "notifier",
            None,
        ),
        (
            logwarden::builder().alertmanager("https://am.internal:9093/services"),
            "alertmanager",
            Some("https://am.internal:9093"),
        ),
        (
            logwarden::builder().from_vars([(
                "LOGWARDEN_ALERTMANAGER_URL",
                "https://am.internal:9093/services",
            )]),
            "LOGWARDEN_ALERTMANAGER_URL",
            Some("https://am.internal:9093"),
        ),
    ] {
        let err = builder
            .service("orders")
            .dir(dir.path())
            .capture_log(false)
            .build::<Registry>()
            .err()
            .unwrap_or_else(|| panic!("{setting}: built without the http feature"));
        assert_eq!(err.kind(), ErrorKind::InvalidSetting, "{err}");
        assert_eq!(err.setting(), Some(setting), "{err}");
        let (display, debug) = (err.to_string(), format!("{err:?}"));
        assert!(
            display.starts_with(&format!("{setting}=")),
            "the error does not begin with the setting: {display}"
        );
        assert!(
            display.contains("`http` cargo feature"),
            "the error does not name the feature: {display}"
        );
        if let Some(origin) = shown {
            assert!(display.contains(origin), "{display}");
        }
        for s in [&display, &debug] {
            assert!(
                !s.contains(SLACK_PATH) && !s.contains("/services"),
                "the webhook's path is in the error: {s}"
            );
        }
    }
}

#[test]
fn alerts_without_a_webhook_build_and_go_to_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, guard) = logwarden::builder()
        .service("orders")
        .env("test")
        .dir(dir.path())
        .capture_log(false)
        .alerts(true)
        .alert_threshold(3)
        .build()
        .expect("alerting without a webhook needs no HTTP");
    let path = guard.log_path().unwrap().to_owned();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..3 {
            tracing::error!(i, "payment failed");
        }
    });
    let incidents = guard.incidents();
    assert_eq!(
        (incidents.opened, incidents.open),
        (1, true),
        "{incidents:?}"
    );
    assert_eq!(
        (incidents.alerts_sent, incidents.alerts_failed),
        (0, 0),
        "{incidents:?}"
    );
    drop(guard);
    let records = support::read_records(&path);
    let opened: Vec<_> = records
        .iter()
        .filter(|r| r["target"] == "logwarden::alert" && r["alert"] == "opened")
        .collect();
    assert_eq!(opened.len(), 1, "{records:#?}");
    assert_eq!(opened[0]["incident"], 1);
    assert_eq!(opened[0]["top_error"], "payment failed");
}

/// Without the `metrics` feature (built here with no feature at all), serving metrics is refused
/// the same way.
#[cfg(not(feature = "metrics"))]
#[test]
fn serving_metrics_is_refused_naming_the_setting_and_the_metrics_feature() {
    let dir = tempfile::tempdir().unwrap();
    let err = logwarden::builder()
        .dir(dir.path())
        .from_vars([("LOGWARDEN_METRICS_ADDR", "127.0.0.1:9464")])
        .build::<Registry>()
        .err()
        .expect("refused without the metrics feature");
    assert_eq!(err.kind(), ErrorKind::InvalidSetting, "{err}");
    assert_eq!(err.setting(), Some("LOGWARDEN_METRICS_ADDR"), "{err}");
    assert!(err.to_string().contains("`metrics` cargo feature"), "{err}");
}
