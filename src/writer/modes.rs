//! What a user chooses about the writer: what happens when its buffer is full, and whether a
//! copy of every record goes to stdout.

use std::fmt;

/// What to do when a line arrives and the writer's buffer is full.
///
/// A newtype over a private enum so that policies can be added without breaking callers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Overflow(OverflowKind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OverflowKind {
    Block,
    Drop,
}

impl Overflow {
    /// Lossless (the default): the logging thread waits until the writer has made room.
    pub const BLOCK: Overflow = Overflow(OverflowKind::Block);
    /// Lossy: the line is dropped and counted; a `WARN` record later says how many were lost.
    pub const DROP: Overflow = Overflow(OverflowKind::Drop);

    pub(crate) fn is_block(self) -> bool {
        self.0 == OverflowKind::Block
    }
}

impl Default for Overflow {
    fn default() -> Self {
        Overflow::BLOCK
    }
}

impl fmt::Debug for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            OverflowKind::Block => "Overflow::BLOCK",
            OverflowKind::Drop => "Overflow::DROP",
        })
    }
}

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
