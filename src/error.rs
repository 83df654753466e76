//! The one error type `init()` and the builder return.

use std::fmt;
use std::io;

/// Why `init()` (or [`Builder::build`](crate::Builder::build)) refused to start.
///
/// The message always names the setting that failed: the environment variable when the value came
/// from the environment, the builder method otherwise, so an operator can fix the deployment without
/// reading code. Values are quoted as given, except secrets, which are never echoed.
#[non_exhaustive]
pub struct Error {
    kind: ErrorKind,
    setting: Option<String>,
    value: Option<String>,
    reason: String,
    source: Option<io::Error>,
}

/// What kind of failure an [`Error`] is, for callers that want to react differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A setting had a value that could not be parsed or is out of range.
    InvalidSetting,
    /// The log directory or file could not be created, opened or used.
    Io,
    /// A global subscriber (ours or another) is already installed.
    AlreadyInitialized,
    /// The log file is already being written by another process, or by another stack of this
    /// one: each writer needs a file of its own.
    InUse,
}

impl Error {
    pub(crate) fn invalid(setting: &str, value: &str, reason: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::InvalidSetting,
            setting: Some(setting.to_owned()),
            value: Some(value.to_owned()),
            reason: reason.into(),
            source: None,
        }
    }

    pub(crate) fn io(
        setting: &str,
        value: &str,
        reason: impl Into<String>,
        source: io::Error,
    ) -> Self {
        Error {
            kind: ErrorKind::Io,
            setting: Some(setting.to_owned()),
            value: Some(value.to_owned()),
            reason: reason.into(),
            source: Some(source),
        }
    }

    pub(crate) fn in_use(setting: &str, value: &str, reason: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::InUse,
            setting: Some(setting.to_owned()),
            value: Some(value.to_owned()),
            reason: reason.into(),
            source: None,
        }
    }

    pub(crate) fn already_initialized() -> Self {
        Error {
            kind: ErrorKind::AlreadyInitialized,
            setting: None,
            value: None,
            reason: "a global tracing subscriber is already installed; \
                     logwarden::init() must be called once, before any other subscriber"
                .to_owned(),
            source: None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The setting that failed: an environment variable such as `LOGWARDEN_MAX_BYTES`, or a
    /// builder method such as `max_bytes`. `None` for [`ErrorKind::AlreadyInitialized`].
    pub fn setting(&self) -> Option<&str> {
        self.setting.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.setting, &self.value) {
            (Some(setting), Some(value)) => write!(f, "{setting}={value:?}: {}", self.reason)?,
            (Some(setting), None) => write!(f, "{setting}: {}", self.reason)?,
            _ => f.write_str(&self.reason)?,
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

// Hand-written so that the Debug form reads like the Display form: people print errors with `{:?}`
// (`main() -> Result`), and the useful part is the setting name, not the struct layout.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "logwarden::Error({:?}: {self})", self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_setting_and_value() {
        let e = Error::invalid(
            "LOGWARDEN_MAX_BYTES",
            "ten megabytes",
            "expected a byte count such as 10485760 or 10MiB",
        );
        assert_eq!(
            e.to_string(),
            r#"LOGWARDEN_MAX_BYTES="ten megabytes": expected a byte count such as 10485760 or 10MiB"#
        );
        assert_eq!(e.setting(), Some("LOGWARDEN_MAX_BYTES"));
        assert!(format!("{e:?}").contains("LOGWARDEN_MAX_BYTES"));
    }

    #[test]
    fn io_error_keeps_its_source() {
        let e = Error::io(
            "LOGWARDEN_DIR",
            "/nope",
            "cannot create the log directory",
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(std::error::Error::source(&e).is_some());
        assert!(e
            .to_string()
            .starts_with("LOGWARDEN_DIR=\"/nope\": cannot create the log directory: "));
    }
}
