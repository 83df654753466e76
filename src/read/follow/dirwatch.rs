//! The directory of a followed file, watched with inotify (Linux): which files appeared at the
//! active name, and a wait that ends when anything in the directory changes.

use std::path::Path;
use std::time::Duration;

/// What inotify told since the last look.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// Times a file appeared at the active name (created or renamed to it).
    pub(super) created: usize,
    /// Events were lost: look at the directory.
    pub(super) overflowed: bool,
}

/// The directory watched with inotify (Linux).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
pub(super) struct DirWatch {
    fd: rustix::fd::OwnedFd,
    buf: Vec<std::mem::MaybeUninit<u8>>,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl DirWatch {
    pub(super) fn new(dir: &Path) -> Option<DirWatch> {
        use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).ok()?;
        let what = WatchFlags::CREATE | WatchFlags::MOVED_TO | WatchFlags::MODIFY;
        inotify::add_watch(&fd, dir, what | WatchFlags::ONLYDIR).ok()?;
        Some(DirWatch {
            fd,
            buf: vec![std::mem::MaybeUninit::uninit(); 16 << 10],
        })
    }

    pub(super) fn events(&mut self, active: &str) -> Seen {
        use rustix::fs::inotify::{ReadFlags, Reader};
        let mut seen = Seen::default();
        let mut reader = Reader::new(&self.fd, &mut self.buf);
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(rustix::io::Errno::INTR) => continue,
                // WOULDBLOCK: nothing more for now; anything else: the watch is broken, and the
                // directory listing at each switch still finds rotated files.
                Err(_) => break,
            };
            let flags = event.events();
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                seen.overflowed = true;
            }
            let appeared = flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO);
            if appeared
                && event
                    .file_name()
                    .is_some_and(|n| n.to_bytes() == active.as_bytes())
            {
                seen.created += 1;
            }
        }
        seen
    }

    pub(super) fn wait(&self, timeout: Duration) {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let timeout = Timespec {
            tv_sec: timeout.as_secs() as _,
            tv_nsec: timeout.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        let _ = poll(&mut fds, Some(&timeout));
    }
}

/// Elsewhere the directory is only looked at.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[derive(Debug)]
pub(super) struct DirWatch;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl DirWatch {
    pub(super) fn new(_dir: &Path) -> Option<DirWatch> {
        None
    }
    pub(super) fn events(&mut self, _active: &str) -> Seen {
        Seen::default()
    }
    pub(super) fn wait(&self, timeout: Duration) {
        std::thread::sleep(timeout);
    }
}
