//! Child processes for the tests: every wait for one is bounded (an overrun kills the child by
//! its pid and fails the test), and both of its output streams are read while it runs, so a
//! full pipe never stalls it.
//!
//! What is process-wide (a global subscriber, `init()` and the `log` bridge, a panic hook, the
//! environment, the process's stdout and stderr) is tested in a child process: this test binary
//! re-run on one test, by its exact name ([`this_test`]). [`alone`] runs a whole test that way.

use std::io::{ErrorKind, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a child process may run before the test kills it and fails. Children finish in a
/// second or two; this only turns a hang into a failure.
pub const CHILD_BOUND: Duration = Duration::from_secs(60);

/// The variable [`alone`] sets in the child to the name of the test it runs.
pub const ALONE: &str = "LWTEST_ALONE";

/// The name libtest gives the test `name` of the module whose `module_path!()` is `module`:
/// the path without the crate's name, e.g. `alert_stderr::child` in the `suite` binary.
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{name}"),
        None => name.to_owned(),
    }
}

/// This test binary, set to run the one test `name` of `module` (its `module_path!()`), alone,
/// without capturing its output. Run it with [`run_test`].
pub fn this_test(module: &str, name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary's path"));
    cmd.args([
        "--exact",
        &test_name(module, name),
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd
}

/// Runs a [`this_test`] command to its end (see [`output`]) and asserts that libtest ran exactly
/// one test in it: a name that no longer matches (a test moved to another module) would run
/// none, and succeed.
pub fn run_test(cmd: &mut Command) -> Output {
    run_test_within(cmd, CHILD_BOUND)
}

/// [`run_test`] for a child that runs longer than [`CHILD_BOUND`] on purpose, within `bound`.
pub fn run_test_within(cmd: &mut Command, bound: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let out = wait_output_within(child, bound);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("running 1 test\n"),
        "the child ran no test, or more than one ({cmd:?}):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the test `name` of `module` (its `module_path!()`) in a child process of its own: in the
/// parent, re-runs this binary on that test alone with [`ALONE`] set and asserts that it passed;
/// in that child, runs `scenario`. For a test of process-wide state, which must not share its
/// process with any other test.
pub fn alone(module: &str, name: &str, scenario: impl FnOnce()) {
    let test = test_name(module, name);
    match std::env::var_os(ALONE) {
        Some(for_test) if for_test == test.as_str() => {
            scenario();
            return;
        }
        // Never a child of a child.
        Some(for_test) => panic!("{test} runs in a child process made for {for_test:?}"),
        None => {}
    }
    let mut cmd = this_test(module, name);
    cmd.env(ALONE, &test);
    let out = run_test(&mut cmd);
    assert!(
        out.status.success(),
        "{test} failed in its child process ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd` to its end as [`Command::output`] does (stdin empty, stdout and stderr captured),
/// within [`CHILD_BOUND`].
pub fn output(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    wait_output(child)
}

/// Waits for `child` within [`CHILD_BOUND`], reading whichever of its stdout and stderr are
/// piped while it runs; past the bound, kills it and panics with what it printed so far. Then
/// waits, bounded again, for the end of its output.
pub fn wait_output(child: Child) -> Output {
    wait_output_within(child, CHILD_BOUND)
}

/// [`wait_output`] within `bound` instead of [`CHILD_BOUND`].
pub fn wait_output_within(mut child: Child, bound: Duration) -> Output {
    let stdout = child.stdout.take().map(Drain::start);
    let stderr = child.stderr.take().map(Drain::start);
    let deadline = Instant::now() + bound;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child process") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "child process {} still running after {bound:?}, killed; it printed:\n{}\n{}",
                child.id(),
                stdout.as_ref().map(Drain::so_far).unwrap_or_default(),
                stderr.as_ref().map(Drain::so_far).unwrap_or_default(),
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    let deadline = Instant::now() + CHILD_BOUND;
    Output {
        status,
        stdout: stdout.map(|d| d.finish(deadline)).unwrap_or_default(),
        stderr: stderr.map(|d| d.finish(deadline)).unwrap_or_default(),
    }
}

/// One output stream of a child, read to its end on a thread of its own.
struct Drain {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: JoinHandle<()>,
}

impl Drain {
    fn start(mut stream: impl Read + Send + 'static) -> Drain {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&bytes);
        let reader = thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => shared.lock().unwrap().extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        Drain { bytes, reader }
    }

    /// What was read so far, as text.
    fn so_far(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// Everything, once the child has exited and the pipe is closed; panics if it is still open
    /// at `deadline` (a process the child started holds it).
    fn finish(self, deadline: Instant) -> Vec<u8> {
        while !self.reader.is_finished() {
            assert!(
                Instant::now() < deadline,
                "a child's output is still open after it exited: {}",
                self.so_far()
            );
            thread::sleep(Duration::from_millis(10));
        }
        self.reader.join().expect("the reader thread panicked");
        std::mem::take(&mut *self.bytes.lock().unwrap())
    }
}
