//! Tests of process-wide state: each installs a global subscriber or calls the global `init()`
//! (which also installs the `log` bridge and sets the `log` crate's max level), and a process
//! has one of each. So every test here runs in a child process of its own: the test re-runs this
//! binary on itself alone and checks that it passed (`support::child::alone`), and the child
//! runs the body.

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "http")]
mod alert_log_bridge;
#[cfg(feature = "http")]
mod alert_reentrancy;
mod init;
mod log_bridge;
mod reentrancy;
mod reload_log;
mod reload_reentrant;
mod reload_scope;
