//! Who may ask: loopback by default, an access token for anything else, and only requests
//! addressed to this server (a web page elsewhere cannot rebind a name to 127.0.0.1 and read
//! the logs through the visitor's browser).

use std::fmt;
use std::net::SocketAddr;

use super::super::{Failure, ServeArgs};

/// The cookie a browser keeps the token in once it has given it in the address.
const COOKIE: &str = "logwarden_token";

/// The access token. Never printed: `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token(String);

impl Token {
    pub(crate) fn new(s: &str) -> Result<Token, String> {
        let s = s.trim();
        if s.len() < 16 {
            return Err(
                "must be at least 16 characters (openssl rand -hex 16 makes one)".to_owned(),
            );
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
        {
            return Err("must be printable ASCII without spaces, `;` or `,`".to_owned());
        }
        Ok(Token(s.to_owned()))
    }

    /// Compares in time that does not depend on where the first difference is.
    fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<{} characters>)", self.0.len())
    }
}

/// The token from `--token`, else `LOGWARDEN_SERVE_TOKEN`; a non-loopback address without one
/// is a usage error, before anything listens. Fills `args.token` from the variable.
pub(crate) fn check_access(args: &mut ServeArgs) -> Result<(), String> {
    if args.token.is_none() {
        if let Some(value) = std::env::var_os("LOGWARDEN_SERVE_TOKEN") {
            let value = value
                .into_string()
                .map_err(|_| "LOGWARDEN_SERVE_TOKEN: not valid UTF-8".to_owned())?;
            if !value.trim().is_empty() {
                args.token =
                    Some(Token::new(&value).map_err(|e| format!("LOGWARDEN_SERVE_TOKEN: {e}"))?);
            }
        }
    }
    let addr = super::parse_addr(&args.addr).ok_or_else(|| {
        format!(
            "--addr `{}`: expected HOST:PORT, such as 127.0.0.1:8080",
            args.addr
        )
    })?;
    if !addr.ip().is_loopback() && args.token.is_none() {
        return Err(format!(
            "--addr {addr} is reachable from other machines: an access token is needed \
             (--token or LOGWARDEN_SERVE_TOKEN), or listen on 127.0.0.1"
        ));
    }
    Ok(())
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// Allowed by a token in the address: the answer sets this cookie.
    AllowAndRemember(String),
    /// Addressed to another name than this server's (421).
    WrongHost,
    Unauthorized,
}

#[derive(Debug)]
pub(crate) struct Access {
    pub(crate) addr: SocketAddr,
    token: Option<Token>,
    /// The `Host` values a loopback server answers to, once bound (the port may have been 0).
    hosts: Vec<String>,
}

impl Access {
    pub(crate) fn new(args: &ServeArgs) -> Result<Access, Failure> {
        let addr = super::parse_addr(&args.addr)
            .ok_or_else(|| Failure(format!("--addr `{}`: not an address", args.addr)))?;
        Ok(Access {
            addr,
            token: args.token.clone(),
            hosts: Vec::new(),
        })
    }

    pub(crate) fn bound_to(self, bound: SocketAddr) -> Access {
        let port = bound.port();
        let hosts = if bound.ip().is_loopback() {
            vec![
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
                bound.to_string(),
            ]
        } else {
            Vec::new()
        };
        Access {
            addr: bound,
            hosts,
            ..self
        }
    }

    pub(crate) fn needs_token(&self) -> bool {
        self.token.is_some()
    }

    pub(crate) fn decide(
        &self,
        host: Option<&str>,
        authorization: Option<&str>,
        cookie: Option<&str>,
        in_address: Option<&str>,
    ) -> Decision {
        // A loopback server checks the name it was reached by; one reachable from elsewhere
        // has a token instead, which another site's page cannot know.
        if !self.hosts.is_empty()
            && !host.is_some_and(|h| self.hosts.iter().any(|ok| ok.eq_ignore_ascii_case(h)))
        {
            return Decision::WrongHost;
        }
        let Some(token) = &self.token else {
            return Decision::Allow;
        };
        let bearer = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|t| token.matches(t.trim()));
        let cookie = cookie.is_some_and(|c| {
            c.split(';')
                .filter_map(|kv| kv.trim().split_once('='))
                .any(|(k, v)| k == COOKIE && token.matches(v))
        });
        if bearer || cookie {
            return Decision::Allow;
        }
        if in_address.is_some_and(|t| token.matches(t)) {
            return Decision::AllowAndRemember(format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                token.0
            ));
        }
        Decision::Unauthorized
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(token: Option<&str>) -> Access {
        Access {
            addr: "127.0.0.1:0".parse().unwrap(),
            token: token.map(|t| Token::new(t).unwrap()),
            hosts: Vec::new(),
        }
        .bound_to("127.0.0.1:8080".parse().unwrap())
    }

    const T: &str = "0123456789abcdef0123";

    #[test]
    fn loopback_answers_only_to_its_own_names() {
        let a = access(None);
        assert_eq!(
            a.decide(Some("127.0.0.1:8080"), None, None, None),
            Decision::Allow
        );
        assert_eq!(
            a.decide(Some("LOCALHOST:8080"), None, None, None),
            Decision::Allow
        );
        assert_eq!(
            a.decide(Some("evil.example:8080"), None, None, None),
            Decision::WrongHost
        );
        assert_eq!(
            a.decide(Some("127.0.0.1:9999"), None, None, None),
            Decision::WrongHost
        );
        assert_eq!(a.decide(None, None, None, None), Decision::WrongHost);
    }

    #[test]
    fn a_token_is_taken_from_a_header_a_cookie_or_once_from_the_address() {
        let a = access(Some(T));
        let host = Some("127.0.0.1:8080");
        assert_eq!(a.decide(host, None, None, None), Decision::Unauthorized);
        assert_eq!(
            a.decide(host, Some(&format!("Bearer {T}")), None, None),
            Decision::Allow
        );
        assert_eq!(
            a.decide(host, Some("Bearer 0123456789abcdef0124"), None, None),
            Decision::Unauthorized
        );
        assert_eq!(
            a.decide(host, None, Some(&format!("a=b; {COOKIE}={T}")), None),
            Decision::Allow
        );
        assert_eq!(
            a.decide(host, None, Some(&format!("{COOKIE}={T}x")), None),
            Decision::Unauthorized
        );
        match a.decide(host, None, None, Some(T)) {
            Decision::AllowAndRemember(cookie) => {
                assert!(cookie.starts_with(&format!("{COOKIE}={T};")), "{cookie}");
                assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            a.decide(host, None, None, Some("nope")),
            Decision::Unauthorized
        );
    }

    #[test]
    fn the_token_is_never_printed_and_must_be_long() {
        let t = Token::new(T).unwrap();
        let shown = format!("{t:?} {:?}", access(Some(T)));
        assert!(!shown.contains(T), "{shown}");
        assert!(Token::new("short").is_err());
        assert!(Token::new("0123456789abcdef 0123").is_err());
    }
}
