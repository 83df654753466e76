//! The files of a log directory in time order, opened as streams of lines (`.gz` decompressed on
//! the fly), merged by time when several services' logs sit side by side.
