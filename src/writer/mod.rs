//! The background writer: what a full buffer does to the logging thread ([`Overflow`]), and
//! whether a copy of every record goes to stdout ([`StdoutMode`]).
//!
//! Each logging thread appends whole lines to a lane of its own; the writer thread takes every
//! lane at once and writes them with as few `write` calls as the sink allows (DESIGN.md, "Why a
//! lane per thread?").

mod io_sink;
mod lanes;
#[cfg(all(test, loom))]
mod models;
mod modes;
mod sync;
mod worker;

use std::io;
use std::sync::{Arc, Weak};
use std::time::Instant;

use tracing_core::Metadata;
use tracing_subscriber::fmt::MakeWriter;

pub(crate) use io_sink::IoSink;
pub use modes::{Overflow, StdoutMode};
pub(crate) use worker::{spawn, Sink, SinkError, WorkerHandle};

/// Renders the crate's own records (lines lost, lines dropped) in the layout of the file, for the
/// writer thread to put straight into its sink.
pub(crate) trait Announce: Send + 'static {
    fn render(&self, out: &mut Vec<u8>, level: &str, message: &str);
}

/// The caller-side handle of a writer thread (one per destination: file, stdout).
#[derive(Clone, Debug)]
pub(crate) struct NonBlocking {
    primary: Arc<lanes::Shared>,
    /// A second destination receiving the same lines (`LOGWARDEN_STDOUT=json`).
    tee: Option<Arc<lanes::Shared>>,
}

impl NonBlocking {
    pub(crate) fn new(primary: &WorkerHandle) -> Self {
        NonBlocking {
            primary: primary.shared(),
            tee: None,
        }
    }

    pub(crate) fn with_tee(mut self, tee: &WorkerHandle) -> Self {
        self.tee = Some(tee.shared());
        self
    }
}

/// The `io::Write` given out per event. Each `write` call is taken as whole lines and always
/// accepted in full, so a `write_all` of one record is one hand-off.
#[derive(Debug)]
pub(crate) struct LineWriter<'a>(&'a NonBlocking);

impl io::Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.primary.push(buf);
        if let Some(tee) = &self.0.tee {
            tee.push(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for NonBlocking {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(self)
    }

    fn make_writer_for(&'a self, _meta: &Metadata<'_>) -> Self::Writer {
        LineWriter(self)
    }
}

/// Flushes writer threads from anywhere (the panic hook), without owning them or keeping their
/// buffers alive: once the guard has stopped them, a flush returns at once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Flusher(Vec<Weak<lanes::Shared>>);

impl Flusher {
    pub(crate) fn new(workers: &[WorkerHandle]) -> Self {
        Flusher(
            workers
                .iter()
                .map(|w| Arc::downgrade(&w.shared()))
                .collect(),
        )
    }

    pub(crate) fn flush_until(&self, deadline: Instant) -> bool {
        self.0
            .iter()
            .filter_map(Weak::upgrade)
            .all(|w| w.flush_until(deadline))
    }
}
