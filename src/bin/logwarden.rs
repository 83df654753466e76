//! The `logwarden` command: `watch`, `incidents` and `report` (see `logwarden --help`).
//! Everything lives in the library (feature `cli`), so the command reuses the crate's own alert
//! engine, notifiers and record reader.

fn main() -> std::process::ExitCode {
    logwarden::__cli_main()
}
