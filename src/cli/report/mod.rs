//! `logwarden report`: the dashboard as one self-contained HTML file.
//!
//! [`html`] lays out the page, [`chart`] draws its SVG chart; this file reads the logs through
//! [`scan::summarize`](super::scan::summarize) (the one reader `incidents` uses too) and writes
//! the page where it was asked, atomically.

mod chart;
mod html;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Failure, ReportArgs};
use crate::text::human_duration;
pub(crate) use html::{render, Meta};

pub(crate) fn run(args: ReportArgs) -> Result<(), Failure> {
    let summary = super::scan::summarize(&args.scope)?;
    let meta = Meta {
        title: title(&args.scope.paths),
        generated_at: crate::clock::Clock::System.now_micros(),
    };
    let page = render(&summary, &meta);
    write_atomically(&args.output, page.as_bytes())?;

    let mttr = summary
        .mttr()
        .map_or_else(|| "—".to_owned(), human_duration);
    let mut line = format!(
        "logwarden: wrote {}: {} incident{}, MTTR {mttr}, {} in incidents",
        args.output.display(),
        summary.incidents.len(),
        if summary.incidents.len() == 1 {
            ""
        } else {
            "s"
        },
        human_duration(summary.total()),
    );
    let open = summary.still_open();
    if open > 0 {
        line.push_str(&format!(", {open} still open"));
    }
    let stopped = summary.stopped();
    if stopped > 0 {
        line.push_str(&format!(", {stopped} ended by its process stopping"));
    }
    let _ = writeln!(std::io::stderr(), "{line}");
    super::scan::complete(&summary)
}

/// The page's title: what was read.
fn title(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    format!("logwarden report: {}", names.join(", "))
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: a reader (a
/// browser refreshing the page, a CI job uploading it) sees the old report or the new one, never
/// half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure(format!("{}: {e}", path.display()));
    let name = path
        .file_name()
        .ok_or_else(|| Failure(format!("{}: not a file name", path.display())))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(temp_name);
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(fail(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_replaces_the_old_one_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        fs::write(&path, "old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.html"]);
    }

    #[test]
    fn an_unwritable_path_is_a_failure_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/report.html");
        let Failure(message) = write_atomically(&missing, b"x").unwrap_err();
        assert!(
            message.starts_with(&missing.display().to_string()),
            "{message}"
        );
        // A directory in the way: the rename fails, and the temporary file is removed.
        let taken = dir.path().join("taken");
        fs::create_dir(&taken).unwrap();
        fs::write(taken.join("inside"), "keep").unwrap();
        let Failure(message) = write_atomically(&taken, b"x").unwrap_err();
        assert!(
            message.starts_with(&taken.display().to_string()),
            "{message}"
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["taken"]);
    }
}
