//! Posting an alert over HTTP (feature `http`): `ureq` with explicit timeouts and no redirects,
//! retries with backoff, and nothing of the URL in what it reports.

use std::io::Read;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::webhook::Webhook;
use super::{DeliveryOptions, Notifier};
use crate::alert::{Alert, AlertCounters};
use crate::diag::report;

/// How one attempt ended.
pub(super) enum Attempt {
    Delivered,
    /// Worth another try, after at least this long (a 429's `Retry-After`).
    Retry(String, Option<Duration>),
    /// Retrying cannot help (400, 403, 404, 410…).
    Permanent(String),
}

/// The HTTP client alerts are posted with, shared by every destination.
pub(super) struct Poster {
    agent: ureq::Agent,
    rng: u64,
}

/// What a post is about, for the report of a failure: "opened alert for incident #3".
pub(super) struct About<'a> {
    pub(super) what: String,
    /// The destination's kind: `slack`, `alertmanager`.
    pub(super) name: &'a str,
}

impl Poster {
    pub(super) fn new(options: &DeliveryOptions) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(options.connect_timeout))
            .timeout_global(Some(options.request_timeout))
            .http_status_as_error(false)
            // A webhook that redirects is misconfigured; following it could leak the payload.
            .max_redirects(0)
            .user_agent(concat!("logwarden/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Poster { agent, rng: seed() }
    }

    /// Posts `alert` as `notifier` shapes it.
    pub(super) fn notify(
        &mut self,
        notifier: &dyn Notifier,
        alert: &Alert,
        options: &DeliveryOptions,
        counters: &AlertCounters,
        sleep: &dyn Fn(Duration) -> bool,
    ) {
        let about = About {
            what: alert_name(alert),
            name: notifier.name(),
        };
        let body = notifier.body(alert);
        let targets = std::slice::from_ref(notifier.webhook());
        self.deliver(&about, targets, &body, options, counters, sleep);
    }

    /// Posts `body` to every one of `targets`, retrying as `options` say: in rounds, so that one
    /// instance that does not answer delays the others by one timeout, not by all its retries;
    /// `sleep` waits between rounds and says whether to go on (not past the shutdown deadline).
    /// Every outcome is counted, per target; a failure is reported once.
    pub(super) fn deliver(
        &mut self,
        about: &About<'_>,
        targets: &[Webhook],
        body: &str,
        options: &DeliveryOptions,
        counters: &AlertCounters,
        sleep: &dyn Fn(Duration) -> bool,
    ) {
        let mut pending: Vec<&Webhook> = targets.iter().collect();
        let mut attempt = 1;
        loop {
            let mut at_least: Option<Duration> = None;
            let mut retry = Vec::new();
            for target in pending {
                match self.post(target, body) {
                    Attempt::Delivered => {
                        counters.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Attempt::Permanent(error) => {
                        failed(about, target, &format!("{error} (not retried)"), counters);
                    }
                    Attempt::Retry(error, wait) => {
                        at_least = at_least.max(wait);
                        retry.push((target, error));
                    }
                }
            }
            if retry.is_empty() {
                return;
            }
            let wait = at_least
                .unwrap_or(backoff(options, &mut self.rng, attempt))
                .min(options.max_backoff);
            let why = if attempt >= options.max_attempts {
                Some(format!("after {attempt} attempts"))
            } else if !sleep(wait) {
                Some(format!("gave up at shutdown after {attempt} attempts"))
            } else {
                None
            };
            if let Some(why) = why {
                for (target, error) in retry {
                    failed(about, target, &format!("{error} ({why})"), counters);
                }
                return;
            }
            counters
                .retries
                .fetch_add(retry.len() as u64, Ordering::Relaxed);
            pending = retry.into_iter().map(|(t, _)| t).collect();
            attempt += 1;
        }
    }

    /// One attempt at `body` to `webhook`; what went wrong is said without the URL.
    pub(super) fn post(&self, webhook: &Webhook, body: &str) -> Attempt {
        let (url, authorization) = split_credentials(webhook.expose());
        let mut request = self
            .agent
            .post(url.as_ref())
            .header("Content-Type", "application/json; charset=utf-8");
        if let Some(value) = &authorization {
            request = request.header("Authorization", value);
        }
        let result = request.send(body);
        let mut response = match result {
            Ok(r) => r,
            // Errors of the HTTP stack may quote the URL: never show them unredacted.
            Err(e) => return Attempt::Retry(webhook.redact(&e.to_string()), None),
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Attempt::Delivered;
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut text = String::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(512)
            .read_to_string(&mut text);
        let text: String = webhook
            .redact(text.trim())
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let error = if text.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status} {text}")
        };
        match status {
            // Without `Retry-After`, the usual backoff applies.
            429 => Attempt::Retry(error, retry_after),
            500..=599 => Attempt::Retry(error, None),
            _ => Attempt::Permanent(error),
        }
    }
}

pub(super) fn failed(about: &About<'_>, target: &Webhook, error: &str, counters: &AlertCounters) {
    counters.failed.fetch_add(1, Ordering::Relaxed);
    report(format_args!(
        "{} not delivered to {} ({target}): {error}",
        about.what, about.name,
    ));
}

/// "opened alert for incident #3".
pub(super) fn alert_name(alert: &Alert) -> String {
    format!(
        "{} alert for incident #{}",
        alert.kind.as_str(),
        alert.incident
    )
}

/// `url` without the `user:password@` of its authority, and that as an HTTP Basic
/// `Authorization` value: how Alertmanager behind a proxy with basic auth is usually reached.
fn split_credentials(url: &str) -> (std::borrow::Cow<'_, str>, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.into(), None);
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return (url.into(), None);
    };
    let stripped = format!("{}{}", &url[..scheme_end], &rest[userinfo.len() + 1..]);
    let decoded = percent_decode(userinfo);
    (stripped.into(), Some(format!("Basic {}", base64(&decoded))))
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Exponential backoff with ±25 % jitter, so that many processes alerting at once do not retry
/// in lockstep.
pub(super) fn backoff(options: &DeliveryOptions, rng: &mut u64, attempt: u32) -> Duration {
    let base = options
        .backoff
        .saturating_mul(1 << attempt.saturating_sub(1).min(16));
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let jitter = 0.75 + (*rng % 1000) as f64 / 2000.0;
    base.mul_f64(jitter)
}

pub(super) fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id()).rotate_left(32)) | 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;
    use std::sync::atomic::AtomicU64;
    use std::sync::{Arc, Mutex};

    /// A server on 127.0.0.1 that answers each request with the next of `answers` (the status
    /// line and headers of a response), then 200; returns its URL and how many requests it got.
    fn server(answers: &[&'static str]) -> (String, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicU64::new(0));
        let (answers, count) = (answers.to_vec(), Arc::clone(&requests));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut reader = BufReader::new(&stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                let _ = std::io::Read::read_exact(&mut reader, &mut body);
                let n = count.fetch_add(1, Ordering::SeqCst) as usize;
                let head = answers.get(n).copied().unwrap_or("HTTP/1.1 200 OK\r\n");
                let _ = (&stream).write_all(
                    format!("{head}Content-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
                );
            }
        });
        (url, requests)
    }

    /// Delivers one body to `url` with the default options; returns the waits asked for between
    /// rounds and the counters.
    fn deliver(url: &str) -> (Vec<Duration>, AlertCounters) {
        let target = Webhook::parse(url, true).unwrap();
        let options = DeliveryOptions::default();
        let counters = AlertCounters::default();
        let waits = Mutex::new(Vec::new());
        let mut poster = Poster::new(&options);
        let about = About {
            what: "opened alert for incident #1".into(),
            name: "webhook",
        };
        poster.deliver(
            &about,
            std::slice::from_ref(&target),
            "{}",
            &options,
            &counters,
            &|d| {
                waits.lock().unwrap().push(d);
                true
            },
        );
        (waits.into_inner().unwrap(), counters)
    }

    const TOO_MANY_FOR_TWO_MINUTES: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\n";
    const TOO_MANY: &str = "HTTP/1.1 429 Too Many Requests\r\n";

    #[test]
    fn a_429_waits_as_long_as_it_asks_up_to_30_s_and_five_attempts_in_all() {
        let (url, requests) = server(&[TOO_MANY_FOR_TWO_MINUTES; 5]);
        let (waits, counters) = deliver(&url);
        assert_eq!(requests.load(Ordering::SeqCst), 5, "five attempts");
        assert_eq!(
            waits,
            [Duration::from_secs(30); 4],
            "Retry-After capped at 30 s"
        );
        assert_eq!(AlertCounters::get(&counters.retries), 4);
        assert_eq!(AlertCounters::get(&counters.failed), 1);
        assert_eq!(AlertCounters::get(&counters.sent), 0);
    }

    #[test]
    fn a_429_without_retry_after_is_retried_with_backoff() {
        let (url, requests) = server(&[TOO_MANY, TOO_MANY]);
        let (waits, counters) = deliver(&url);
        assert_eq!(
            requests.load(Ordering::SeqCst),
            3,
            "delivered at the third attempt"
        );
        assert_eq!(AlertCounters::get(&counters.sent), 1);
        assert_eq!(AlertCounters::get(&counters.failed), 0);
        // The usual backoff: 250 ms then 500 ms, ±25 %.
        assert_eq!(waits.len(), 2, "{waits:?}");
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert!((187..=313).contains(&ms[0]), "{ms:?}");
        assert!((375..=625).contains(&ms[1]), "{ms:?}");
    }

    #[test]
    fn a_429_asking_for_less_than_the_cap_is_waited_for_exactly() {
        let (url, requests) = server(&["HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"]);
        let (waits, counters) = deliver(&url);
        assert_eq!(requests.load(Ordering::SeqCst), 2);
        assert_eq!(waits, [Duration::from_secs(7)]);
        assert_eq!(AlertCounters::get(&counters.sent), 1);
    }

    #[test]
    fn credentials_become_basic_auth() {
        let (url, auth) =
            split_credentials("https://am%40ops:p%3Ass@am.example:9093/api/v2/alerts");
        assert_eq!(url, "https://am.example:9093/api/v2/alerts");
        // base64("am@ops:p:ss")
        assert_eq!(auth.as_deref(), Some("Basic YW1Ab3BzOnA6c3M="));
        let (url, auth) = split_credentials("http://127.0.0.1:9093/a@b");
        assert_eq!((url.as_ref(), auth), ("http://127.0.0.1:9093/a@b", None));
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }
}
