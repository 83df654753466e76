//! Facts about the process that every record carries: host name and executable name, read once.

use std::sync::OnceLock;

/// The machine's host name: the kernel's, else `/etc/hostname`, else `$HOSTNAME`, else `unknown`.
/// Read from files rather than `gethostname(2)` to stay free of `unsafe`.
pub(crate) fn host_name() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .chain(std::env::var("HOSTNAME").ok())
            .map(|s| s.trim().to_owned())
            .find(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    })
}

/// The executable's file stem, the last-resort `service` name.
pub(crate) fn executable_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    })
}
