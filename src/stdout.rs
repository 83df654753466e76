//! The optional copy of every record on stdout, for containers and local development.

use std::fmt;
use std::io::IsTerminal;

use tracing_core::Subscriber;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::writer::NonBlocking;

/// Whether records are also written to stdout, and how.
///
/// A newtype over a private enum so that modes can be added without breaking callers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StdoutMode(Mode);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Off,
    Json,
    Pretty,
}

impl StdoutMode {
    /// Only the file (the default).
    pub const OFF: StdoutMode = StdoutMode(Mode::Off);
    /// The same JSON lines as the file, for a collector reading the container's stdout.
    pub const JSON: StdoutMode = StdoutMode(Mode::Json);
    /// One human-readable line per event (colours when stdout is a terminal), for development.
    pub const PRETTY: StdoutMode = StdoutMode(Mode::Pretty);

    pub(crate) fn parse(s: &str) -> Option<StdoutMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "false" | "0" => Some(StdoutMode::OFF),
            "json" => Some(StdoutMode::JSON),
            "pretty" | "text" => Some(StdoutMode::PRETTY),
            _ => None,
        }
    }

    pub(crate) fn is_json(self) -> bool {
        self.0 == Mode::Json
    }

    pub(crate) fn is_pretty(self) -> bool {
        self.0 == Mode::Pretty
    }
}

impl Default for StdoutMode {
    fn default() -> Self {
        StdoutMode::OFF
    }
}

impl fmt::Debug for StdoutMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            Mode::Off => "OFF",
            Mode::Json => "JSON",
            Mode::Pretty => "PRETTY",
        };
        write!(f, "StdoutMode::{name}")
    }
}

/// The human-readable layer: tracing-subscriber's compact format, written off-thread.
pub(crate) fn pretty_layer<S>(writer: NonBlocking) -> impl Layer<S> + Send + Sync
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .compact()
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer)
}
