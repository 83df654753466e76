//! A [`Sink`] over any `io::Write`: stdout, or a writer the user hands to the builder.

use std::io::Write;

use super::{Sink, SinkError};

pub(crate) struct IoSink<W> {
    writer: W,
    name: &'static str,
}

impl<W: Write + Send + 'static> IoSink<W> {
    pub(crate) fn new(writer: W, name: &'static str) -> Self {
        IoSink { writer, name }
    }
}

impl<W: Write + Send + 'static> Sink for IoSink<W> {
    fn write_lines(&mut self, batch: &[u8]) -> Result<(), SinkError> {
        // A batch is written in one piece; when it fails we cannot know how much arrived, so the
        // whole batch is counted as lost rather than under-reported.
        self.writer
            .write_all(batch)
            .and_then(|()| self.writer.flush())
            .map_err(|error| SinkError {
                error,
                unwritten_from: 0,
            })
    }

    fn describe(&self) -> String {
        self.name.to_owned()
    }
}
