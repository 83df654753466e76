//! A webhook URL, treated as the credential it is.

use std::fmt;

/// A validated webhook URL. Anyone who has a Slack incoming-webhook URL can post to the channel,
/// so the URL is a secret: `Debug` and `Display` show the scheme and host only, and no error or
/// diagnostic of this crate prints more.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    url: String,
    /// `scheme://host[:port]`, the part that may be shown.
    origin: String,
}

/// Why a webhook URL was refused. Its message never contains the URL's path or query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WebhookError {
    /// What may be shown of the refused value.
    pub(crate) shown: String,
    pub(crate) reason: &'static str,
}

impl Webhook {
    /// Validates `url` for use in a custom [`Notifier`](super::Notifier): an absolute `https://`
    /// URL, or `http://` to a loopback host.
    ///
    /// # Errors
    /// An [`Error`](crate::Error) naming the setting `webhook`, showing at most the URL's scheme
    /// and host.
    pub fn new(url: &str) -> Result<Webhook, crate::Error> {
        Webhook::parse(url, false).map_err(|e| e.into_error("webhook"))
    }

    /// Validates `url`: an absolute `https://` URL, or `http://` to a loopback host
    /// (`127.0.0.0/8`, `localhost`, `[::1]`) unless `allow_http` also permits plain HTTP elsewhere.
    pub(crate) fn parse(url: &str, allow_http: bool) -> Result<Webhook, WebhookError> {
        let url = url.trim();
        let refuse = |shown: String, reason| Err(WebhookError { shown, reason });
        let (scheme, rest) =
            match url.split_once("://") {
                Some((s, rest))
                    if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http") =>
                {
                    (s.to_ascii_lowercase(), rest)
                }
                _ => return refuse(
                    "<hidden>".to_owned(),
                    "expected an absolute http(s) URL such as https://hooks.slack.com/services/…",
                ),
            };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        // Credentials in the URL are secrets too; they are never shown.
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        // Only a well-formed host may be shown: `https://host\\path\\token` has no `/`, and
        // everything before the first `/` would otherwise pass for the host.
        let host_chars =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']');
        if host_port.is_empty() || !host_port.chars().all(host_chars) {
            return refuse(format!("{scheme}://<hidden>"), "has an invalid host");
        }
        let origin = format!("{scheme}://{host_port}");
        let shown = format!("{origin}/…");
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return refuse(shown, "must not contain spaces or control characters");
        }
        let host = match host_port.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((h, port))
                    if port.is_empty() || port.strip_prefix(':').is_some_and(valid_port) =>
                {
                    h
                }
                _ => return refuse(shown, "has an invalid host or port"),
            },
            None => match host_port.rsplit_once(':') {
                Some((h, port)) if valid_port(port) => h,
                // Not shown: a malformed "port" may be part of the secret.
                Some((h, _)) => return refuse(format!("{scheme}://{h}"), "has an invalid port"),
                None => host_port,
            },
        };
        if host.is_empty() {
            return refuse(shown, "has no host");
        }
        if scheme == "http" && !allow_http && !is_loopback(host) {
            return refuse(
                shown,
                "plain http:// is accepted only for loopback hosts; use https:// (a program can allow http with `Builder::allow_http_webhook`)",
            );
        }
        Ok(Webhook {
            url: url.to_owned(),
            origin,
        })
    }

    /// The full URL, for the HTTP client only.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn expose(&self) -> &str {
        &self.url
    }

    /// `scheme://host[:port]`: what diagnostics may show.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Replaces every occurrence of the URL (or its path) in `text` with the shown form: error
    /// messages of the HTTP stack may quote the URL they failed on.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.replace(&self.url, &format!("{}/…", self.origin));
        let path = &self.url[self.url.find("://").map_or(0, |i| i + 3)..];
        if let Some(slash) = path.find(['/', '?']) {
            let secret = &path[slash..];
            if secret.len() > 1 {
                out = out.replace(secret, "/…");
            }
        }
        out
    }
}

impl WebhookError {
    pub(crate) fn into_error(self, setting: &str) -> crate::Error {
        crate::Error::invalid(setting, &self.shown, self.reason)
    }
}

fn valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok()
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host == "::1" {
        return true;
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Webhook({}/…)", self.origin)
    }
}

impl fmt::Display for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/…", self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "T0000/B0000/XXXXSECRETXXXX";

    #[test]
    fn accepts_https_and_loopback_http() {
        let w =
            Webhook::parse(&format!("https://hooks.slack.com/services/{SECRET}"), false).unwrap();
        assert_eq!(w.origin(), "https://hooks.slack.com");
        for ok in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/x",
            "http://[::1]:9/x",
            "http://127.8.9.10/x",
        ] {
            assert!(Webhook::parse(ok, false).is_ok(), "{ok}");
        }
        assert!(Webhook::parse("http://example.com/x", true).is_ok());
    }

    #[test]
    fn refuses_without_showing_the_secret() {
        for bad in [
            format!("hooks.slack.com/services/{SECRET}"),
            format!("ftp://hooks.slack.com/services/{SECRET}"),
            format!("http://hooks.slack.com/services/{SECRET}"),
            format!("https:///services/{SECRET}"),
            format!("https://hooks.slack.com:99999/services/{SECRET}"),
            format!("https://hooks.slack.com/services/{SECRET}\nX"),
            format!("https://user:{SECRET}@hooks.slack.com/x"),
            format!("https://hooks.slack.com\\services\\T0000\\{SECRET}"),
            format!("https://hooks.slack.com%2Fservices%2F{SECRET}"),
            format!("https://hooks.slack.com;{SECRET}/x"),
            format!("https://hooks.slack.com:{SECRET}/x"),
        ] {
            match Webhook::parse(&bad, false) {
                Ok(w) if bad.contains('@') => {
                    assert!(!format!("{w:?} {w}").contains(SECRET));
                }
                Ok(_) => panic!("accepted {bad:?}"),
                Err(e) => assert!(!format!("{e:?}").contains(SECRET), "{e:?}"),
            }
        }
    }

    #[test]
    fn debug_display_and_redact_hide_the_path() {
        let url = format!("https://hooks.slack.com/services/{SECRET}");
        let w = Webhook::parse(&url, false).unwrap();
        assert_eq!(format!("{w:?}"), "Webhook(https://hooks.slack.com/…)");
        assert_eq!(w.to_string(), "https://hooks.slack.com/…");
        let msg = format!("request to {url} failed; path /services/{SECRET}");
        let red = w.redact(&msg);
        assert!(!red.contains(SECRET), "{red}");
        assert_eq!(w.expose(), url);
    }
}
