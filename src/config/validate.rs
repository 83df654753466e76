//! The first half of finishing a [`Builder`]: every setting checked and turned into what the
//! stack is built from, before anything is opened or started. Every error names the setting
//! (the variable when the value came from the environment, the method otherwise).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use super::builder::{AlertmanagerSettings, Builder, Val, WebhookKind};
use crate::alert;
use crate::clock::Clock;
use crate::error::Error;
use crate::file::FileOptions;
use crate::notify::{
    Alertmanager, DeliveryOptions, Destinations, JsonNotifier, Notifier, SlackNotifier, Webhook,
};
use crate::record::{JsonLayer, Layout, DEFAULT_MAX_FIELD_BYTES, MIN_FIELD_BYTES, MIN_LINE_BYTES};
use crate::reload::{Directives, DispatchSlot, FilterHandle};
use crate::writer::{Overflow, StdoutMode};

/// The alerting part of a configuration, validated: what the engine, the delivery thread and
/// its notifier are built from.
pub(crate) struct Alerting {
    pub(crate) settings: alert::Settings,
    pub(crate) destinations: Destinations,
    pub(crate) delivery: DeliveryOptions,
}

/// Where records go.
pub(super) enum Output {
    File {
        options: FileOptions,
        /// Where the directory and the file name came from, for the errors of opening them.
        dir_from: &'static str,
        name_from: &'static str,
    },
    Writer(Box<dyn io::Write + Send>),
}

/// A configuration that passed every check.
pub(super) struct Plan {
    pub(super) directives: Directives,
    pub(super) dispatch: DispatchSlot,
    pub(super) filter_handle: FilterHandle,
    /// The record layer, configured, without its writer yet.
    pub(super) layer: JsonLayer<()>,
    pub(super) output: Output,
    pub(super) stdout: StdoutMode,
    pub(super) buffer_bytes: usize,
    pub(super) overflow: Overflow,
    pub(super) shutdown_timeout: Duration,
    /// `None` when alerting is off.
    pub(super) alerting: Option<Alerting>,
    pub(super) clock: Clock,
    pub(super) capture_log: bool,
    /// Where to serve the metrics, and the setting that said so; the labels of the metrics.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) metrics_addr: MetricsAddr,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) service: String,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(super) env: String,
}

/// Checks everything `builder` says. `panic_hook`: whether the panic hook will be installed
/// (the filter then lets panic records through unless its directives say otherwise about them).
pub(super) fn validate(mut b: Builder, panic_hook: bool) -> Result<Plan, Error> {
    if let Some(e) = b.env_error.take() {
        return Err(e);
    }
    let layout = layout(&mut b)?;
    let filter = crate::reload::parse(&b.filter.value, panic_hook)
        .map_err(|reason| Error::invalid(b.filter.from, &b.filter.value, reason))?;
    let directives: Directives = Arc::new(RwLock::new(filter));
    let dispatch = DispatchSlot::default();
    let filter_handle = FilterHandle::new(
        Directives::clone(&directives),
        b.filter.value.clone(),
        panic_hook,
        dispatch.clone(),
    );
    // The default file name derives from the service, so its errors name the service's origin.
    let (service, service_from) = take_service(&mut b)?;
    let env = take_env(&mut b);
    let alerting = take_alerting(&mut b, service.clone(), env.clone())?;
    let metrics_addr = take_metrics_addr(&mut b)?;
    let file = &b.file;
    if file.max_bytes.value == Some(0) {
        return Err(Error::invalid(
            file.max_bytes.from,
            "0",
            "must be at least 1 byte (or unset for no size limit)",
        ));
    }
    if file.max_total_bytes.value == Some(0) {
        return Err(Error::invalid(
            file.max_total_bytes.from,
            "0",
            "must be at least 1 byte (or unset for no cap; keep(0) keeps no rotated files)",
        ));
    }
    let zone = file
        .timezone
        .value
        .resolve()
        .map_err(|why| Error::invalid(file.timezone.from, file.timezone.value.name(), why))?;
    if b.writer.buffer_bytes.value == 0 {
        return Err(Error::invalid(
            b.writer.buffer_bytes.from,
            "0",
            "must be at least 1 byte",
        ));
    }
    if file.mode > 0o777 {
        return Err(Error::invalid(
            "file_mode",
            &format!("{:o}", file.mode),
            "expected permission bits such as 0o640",
        ));
    }
    let line = &b.record.max_line_bytes;
    if line.value < MIN_LINE_BYTES {
        return Err(Error::invalid(
            line.from,
            &line.value.to_string(),
            format!("must be at least {MIN_LINE_BYTES} bytes"),
        ));
    }
    let field = b.record.max_field_bytes.clone().unwrap_or_else(|| {
        let default = DEFAULT_MAX_FIELD_BYTES.min(line.value / 2);
        Val::new(default, "LOGWARDEN_MAX_FIELD_BYTES")
    });
    if field.value < MIN_FIELD_BYTES || field.value > line.value / 2 {
        return Err(Error::invalid(
            field.from,
            &field.value.to_string(),
            format!(
                "must be between {MIN_FIELD_BYTES} bytes and half the line cap ({} bytes)",
                line.value / 2
            ),
        ));
    }
    if file.compress.value && !cfg!(feature = "gzip") {
        return Err(Error::invalid(
            file.compress.from,
            "true",
            "compression needs logwarden's `gzip` cargo feature",
        ));
    }
    let name = match b.file.name.take() {
        Some(v) => v,
        None => Val::new(format!("{service}.log"), service_from),
    };
    validate_file_name(&name)?;
    // One file per process when asked: `orders-{pid}.log`.
    let name = Val::new(
        name.value.replace("{pid}", &std::process::id().to_string()),
        name.from,
    );

    let clock = b.clock.take().map_or(Clock::System, Clock::Manual);
    let record = &mut b.record;
    let redaction = {
        let r = std::mem::take(&mut record.redaction).keys(&record.env_redact_keys);
        let values = r.value_patterns() | record.env_redact_values;
        r.values(values)
    };
    let layer = JsonLayer::new(())
        .service(service.clone())
        .env(env.clone())
        .clock(clock.clone())
        .redaction(redaction)
        .max_line_bytes(record.max_line_bytes.value)
        .max_field_bytes(field.value)
        .layout(layout);
    let output = match b.writer.custom.take() {
        Some(w) => Output::Writer(w),
        None => {
            let file = &b.file;
            Output::File {
                options: FileOptions {
                    dir: file.dir.value.clone(),
                    name: name.value,
                    max_bytes: file.max_bytes.value,
                    rotation: file.rotation,
                    zone,
                    keep: file.keep,
                    max_total_bytes: file.max_total_bytes.value,
                    mode: file.mode,
                    gzip: file.compress.value,
                    clock: clock.clone(),
                    // A previous writer may be stopping: its guard's bound is the usual one.
                    lock_wait: b.writer.shutdown_timeout,
                },
                dir_from: file.dir.from,
                name_from: name.from,
            }
        }
    };
    Ok(Plan {
        directives,
        dispatch,
        filter_handle,
        layer,
        output,
        stdout: b.writer.stdout,
        buffer_bytes: b.writer.buffer_bytes.value,
        overflow: b.writer.overflow,
        shutdown_timeout: b.writer.shutdown_timeout,
        alerting: b.alerts.on.then_some(alerting),
        clock,
        capture_log: b.capture_log,
        metrics_addr,
        service,
        env,
    })
}

/// Where to serve the metrics: an address to listen on, named or not.
type MetricsAddr = Option<(std::net::SocketAddr, &'static str)>;

#[cfg(feature = "metrics")]
fn take_metrics_addr(b: &mut Builder) -> Result<MetricsAddr, Error> {
    let Some(v) = b.metrics_addr.take() else {
        return Ok(None);
    };
    match crate::metrics::parse_addr(&v.value) {
        Some(addr) => Ok(Some((addr, v.from))),
        None => Err(Error::invalid(
            v.from,
            &v.value,
            "expected an address to listen on such as 127.0.0.1:9464 (or :9464 for loopback)",
        )),
    }
}

#[cfg(not(feature = "metrics"))]
fn take_metrics_addr(b: &mut Builder) -> Result<MetricsAddr, Error> {
    match b.metrics_addr.take() {
        None => Ok(None),
        Some(v) => Err(Error::invalid(
            v.from,
            &v.value,
            "serving metrics needs logwarden's `metrics` cargo feature (on by default)",
        )),
    }
}

impl Builder {
    /// `logwarden watch`'s configuration: the alerting of [`Builder::build`] without the log
    /// file. Every variable is read and checked as `init()` does (a malformed one is an error
    /// naming it); `LOGWARDEN_ALERTS` is not consulted, since alerting is what `watch` is for.
    #[cfg(feature = "cli")]
    pub(crate) fn into_alerting(mut self) -> Result<Alerting, Error> {
        if let Some(e) = self.env_error.take() {
            return Err(e);
        }
        let (service, _) = take_service(&mut self)?;
        let env = take_env(&mut self);
        take_alerting(&mut self, service, env)
    }
}

fn validate_file_name(v: &Val<String>) -> Result<(), Error> {
    let name = v.value.as_str();
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(Error::invalid(
            v.from,
            name,
            "expected a plain file name such as orders.log (no path separators)",
        ));
    }
    Ok(())
}

/// The record layout with `LOGWARDEN_FIELDS` merged in, checked: an error names the setting
/// that made it unwritable.
fn layout(b: &mut Builder) -> Result<Layout, Error> {
    let mut layout = std::mem::take(&mut b.record.layout);
    let env_fields = std::mem::take(&mut b.record.env_fields);
    let from_env = |key: &str| env_fields.iter().any(|(k, _)| k == key);
    for (key, value) in &env_fields {
        layout.statics.retain(|(k, _)| k != key);
        layout.statics.push((key.clone(), value.clone()));
    }
    layout.check().map_err(|(setting, value, reason)| {
        let setting = match setting.as_str() {
            "field" if from_env(&value) => "LOGWARDEN_FIELDS".to_owned(),
            "field" => format!("field({value:?})"),
            _ => setting,
        };
        Error::invalid(&setting, &value, reason)
    })?;
    Ok(layout)
}

/// The service name and where it came from (its errors, and those of the default file name
/// derived from it, name that origin).
fn take_service(b: &mut Builder) -> Result<(String, &'static str), Error> {
    match b.identity.service.take() {
        Some(v) if v.value.trim().is_empty() => {
            Err(Error::invalid(v.from, &v.value, "must not be empty"))
        }
        Some(v) => Ok((v.value, v.from)),
        None => Ok((crate::host::executable_name().to_owned(), "LOGWARDEN_FILE")),
    }
}

fn take_env(b: &mut Builder) -> String {
    b.identity
        .env
        .take()
        .unwrap_or_else(|| "development".to_owned())
}

/// The alert rule, the notifier and the delivery options, validated. The one place both the
/// in-process layer and `logwarden watch` get them from, so both read the same variables and
/// refuse the same values with the same messages (a webhook URL is never shown beyond its
/// scheme and host).
fn take_alerting(b: &mut Builder, service: String, env: String) -> Result<Alerting, Error> {
    let a = &mut b.alerts;
    if a.threshold.value == 0 {
        return Err(Error::invalid(a.threshold.from, "0", "must be at least 1"));
    }
    if a.window.value.is_zero() {
        return Err(Error::invalid(
            a.window.from,
            "0s",
            "must be longer than zero",
        ));
    }
    let custom = a.notifier.is_some();
    let notifier: Option<Box<dyn Notifier>> = match (a.notifier.take(), &a.webhook) {
        (Some(n), _) => Some(n),
        (None, Some((url, kind))) => {
            let webhook =
                Webhook::parse(&url.value, a.allow_http).map_err(|e| e.into_error(url.from))?;
            Some(match kind {
                WebhookKind::Slack => Box::new(SlackNotifier::new(webhook)),
                WebhookKind::Json => Box::new(JsonNotifier::new(webhook)),
            })
        }
        (None, None) => None,
    };
    if notifier.is_some() && !cfg!(feature = "http") {
        // Named as the operator wrote it; a URL is shown as scheme and host at most.
        let (setting, shown) = match &a.webhook {
            Some((url, _)) if !custom => (
                url.from,
                Webhook::parse(&url.value, true).map_or_else(|e| e.shown, |w| w.to_string()),
            ),
            _ => ("notifier", "a custom notifier".to_owned()),
        };
        return Err(Error::invalid(
            setting,
            &shown,
            "posting alerts needs logwarden's `http` cargo feature (on by default); \
             without it, alerts go to stderr and the log file",
        ));
    }
    let alertmanager = take_alertmanager(&mut a.alertmanager)?;
    Ok(Alerting {
        settings: alert::Settings {
            threshold: a.threshold.value,
            window: a.window.value,
            cooldown: a.cooldown,
            service,
            env,
            host: crate::host::host_name().to_owned(),
            pid: Some(std::process::id()),
            mention: a.mention.take(),
        },
        destinations: Destinations {
            notifier,
            alertmanager,
        },
        delivery: std::mem::take(&mut a.delivery),
    })
}

/// The least resend interval: faster is a flood, not a fresher alert.
const MIN_RESEND: Duration = Duration::from_millis(100);

fn take_alertmanager(am: &mut AlertmanagerSettings) -> Result<Option<Alertmanager>, Error> {
    let Some(urls) = am.urls.take() else {
        return Ok(None);
    };
    let targets = Alertmanager::targets(&urls.value).map_err(|e| e.into_error(urls.from))?;
    if !cfg!(feature = "http") {
        let shown: Vec<&str> = targets.iter().map(|t| t.origin()).collect();
        return Err(Error::invalid(
            urls.from,
            &shown.join(","),
            "posting alerts needs logwarden's `http` cargo feature (on by default)",
        ));
    }
    let name = &am.alertname;
    if name.value.trim().is_empty() {
        return Err(Error::invalid(name.from, &name.value, "must not be empty"));
    }
    let resend = &am.resend;
    if resend.value < MIN_RESEND {
        return Err(Error::invalid(
            resend.from,
            &format!("{:?}", resend.value),
            "must be at least 100ms",
        ));
    }
    Ok(Some(Alertmanager {
        targets,
        alertname: name.value.clone(),
        resend: resend.value,
    }))
}
