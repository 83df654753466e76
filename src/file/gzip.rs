//! Compression of rotated files (feature `gzip`), on a thread of its own so the writer never
//! waits for it. One thread, in rotation order: compression is bounded to one core, and the
//! pruning that follows each file always sees a settled directory.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::naming::{parse_rotated, Retention};
use crate::diag::report;

pub(super) struct Compressor {
    queue: Option<mpsc::Sender<PathBuf>>,
    thread: Option<JoinHandle<()>>,
}

impl Compressor {
    pub(super) fn new(dir: PathBuf, name: String, retention: Retention, mode: u32) -> Self {
        let (queue, rx) = mpsc::channel::<PathBuf>();
        let thread = thread::Builder::new()
            .name("logwarden-gzip".into())
            .spawn(move || {
                crate::diag::enter_quiet_thread();
                for rotated in rx {
                    if let Err(e) = compress(&rotated, mode) {
                        report(format_args!("cannot compress {}: {e}", rotated.display()));
                    }
                    // Files rotated after this one are still in the queue.
                    let settled = rotated
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| parse_rotated(&name, n))
                        .map(|(micros, _)| micros);
                    super::naming::prune_reporting(&dir, &name, &retention, settled);
                }
            });
        match thread {
            Ok(t) => Compressor {
                queue: Some(queue),
                thread: Some(t),
            },
            Err(e) => {
                report(format_args!(
                    "cannot start the compression thread: {e}; rotated files stay uncompressed"
                ));
                Compressor {
                    queue: None,
                    thread: None,
                }
            }
        }
    }

    /// Queues a rotated file; `false` if there is no compression thread to take it.
    pub(super) fn submit(&self, rotated: PathBuf) -> bool {
        self.queue.as_ref().is_some_and(|q| q.send(rotated).is_ok())
    }

    /// Lets queued work finish until `deadline`, then returns either way.
    pub(super) fn finish(mut self, deadline: Instant) {
        drop(self.queue.take());
        if let Some(t) = self.thread.take() {
            while !t.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

/// Compresses `rotated` to `rotated.gz` via a temporary file, then removes `rotated`. A crash
/// half-way leaves the original intact and a `.gz.tmp` that retention ignores.
fn compress(rotated: &Path, mode: u32) -> io::Result<()> {
    let mut name = rotated.as_os_str().to_owned();
    name.push(super::naming::GZ_SUFFIX);
    let gz = PathBuf::from(&name);
    name.push(".tmp");
    let tmp = PathBuf::from(&name);

    let result = (|| {
        let input = match File::open(rotated) {
            Ok(f) => f,
            // Already pruned: nothing to do.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let out = create_new(&tmp, mode)?;
        let mut encoder = GzEncoder::new(BufWriter::new(out), Compression::default());
        io::copy(&mut BufReader::new(input), &mut encoder)?;
        let out = encoder.finish()?.into_inner().map_err(|e| e.into_error())?;
        out.sync_all()?;
        fs::rename(&tmp, &gz)?;
        match fs::remove_file(rotated) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode).custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}
