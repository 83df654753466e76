use super::*;

fn open(dir: &Path) -> RollingFile {
    open_capped(dir, Some(20))
}

fn open_capped(dir: &Path, max_bytes: Option<u64>) -> RollingFile {
    let opts = FileOptions {
        dir: dir.to_owned(),
        name: "t.log".into(),
        max_bytes,
        rotation: Rotation::NEVER,
        keep: 100,
        max_total_bytes: None,
        mode: 0o640,
        gzip: false,
        clock: Clock::default(),
        zone: Zone::UTC,
        lock_wait: Duration::ZERO,
    };
    RollingFile::open(opts, Arc::new(Counters::default())).unwrap()
}

#[test]
fn lines_written_into_a_deleted_directory_are_moved_to_the_recreated_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let mut file = open_capped(&logs, None);
    file.write_lines(b"before\n").unwrap();
    file.housekeeping();
    fs::remove_dir_all(&logs).unwrap();
    // Until the next look, lines go into the deleted file.
    file.write_lines(b"after 1\nafter 2\n").unwrap();
    file.housekeeping();
    file.write_lines(b"after 3\n").unwrap();
    assert_eq!(
        fs::read_to_string(logs.join("t.log")).unwrap(),
        "after 1\nafter 2\nafter 3\n"
    );
    // The lock and the prepared file are back too, and the lock is this writer's.
    assert!(logs.join(".t.log.lock").exists());
    assert!(logs.join(".t.log.next").exists());
    drop(file);
    assert!(!logs.join(".t.log.lock").exists());

    // A file renamed away keeps its lines: nothing is copied from it.
    let dir = tempfile::tempdir().unwrap();
    let mut file = open(dir.path());
    file.write_lines(b"one\n").unwrap();
    file.housekeeping();
    fs::rename(dir.path().join("t.log"), dir.path().join("elsewhere")).unwrap();
    file.write_lines(b"two\n").unwrap();
    file.housekeeping();
    file.write_lines(b"three\n").unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join("elsewhere")).unwrap(),
        "one\ntwo\n"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("t.log")).unwrap(),
        "three\n"
    );
}

#[test]
fn a_line_left_unfinished_is_ended_before_the_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.log");
    fs::write(&path, "{\"a\":1}\n{\"b\":").unwrap();
    let mut file = open(dir.path());
    assert_eq!(file.counters.snapshot().torn_lines, 1);
    let notice = file.opening_notice().expect("the fragment is said");
    assert!(notice.contains("last 5 bytes"), "{notice}");
    assert_eq!(file.opening_notice(), None, "said once");
    file.write_lines(b"{}\n").unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "{\"a\":1}\n{\"b\":\n{}\n"
    );
    // Whole lines, and an empty file, are left as they are.
    drop(file);
    let file = open(dir.path());
    assert_eq!(file.counters.snapshot().torn_lines, 0);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "{\"a\":1}\n{\"b\":\n{}\n"
    );
    let empty = tempfile::tempdir().unwrap();
    assert!(open(empty.path()).torn.is_none());
}

/// The files in `dir` with their contents, by name: the active file, then the rotated ones
/// oldest first. Not the writer's lock file (its own tests are in `lock.rs`).
fn contents(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            (name, fs::read_to_string(e.path()).unwrap())
        })
        .filter(|(name, _)| name != ".t.log.lock")
        .collect();
    files.sort();
    files
}

#[test]
fn where_the_filesystem_cannot_swap_it_renames_then_creates() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = open(dir.path());
    // As after `Swap::Unsupported`, which removes the prepared file.
    file.swap_supported = false;
    file.staged = None;
    fs::remove_file(dir.path().join(".t.log.next")).unwrap();
    file.write_lines(b"first line 1234\n").unwrap();
    file.write_lines(b"second line 123\n").unwrap();
    let files = contents(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0], ("t.log".into(), "second line 123\n".into()));
    assert!(files[1].0.starts_with("t.log."), "{files:?}");
    assert_eq!(files[1].1, "first line 1234\n");
    assert_eq!(file.counters.snapshot().rotations, 1);
}

#[test]
fn a_rotated_file_stuck_at_the_staging_path_is_moved_at_the_next_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = open(dir.path());
    file.write_lines(b"first line 1234\n").unwrap();
    // As after `Swap::Staged`: the previous rotation could not rename its old file, and
    // none is prepared.
    file.staged = None;
    fs::write(dir.path().join(".t.log.next"), "stuck line 1234\n").unwrap();
    file.staged_leftover = true;
    file.write_lines(b"second line 123\n").unwrap();
    let files = contents(dir.path());
    let lines: Vec<&str> = files.iter().map(|(_, text)| text.as_str()).collect();
    // The next fresh file is prepared; the stuck file is named for its last write, so it
    // sorts before the newer rotation.
    assert_eq!(files[0].0, ".t.log.next");
    assert_eq!(
        lines,
        [
            "",
            "second line 123\n",
            "stuck line 1234\n",
            "first line 1234\n"
        ],
        "{files:?}"
    );
    assert!(!file.staged_leftover && file.swap_supported);
}

#[test]
fn finish_removes_only_its_own_staging_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = open(dir.path());
    let staging = dir.path().join(".t.log.next");
    // Another process writing the same log (a rolling restart) replaced the staging path
    // with its own file, and is between its exchange and its rename.
    fs::remove_file(&staging).unwrap();
    fs::write(&staging, "lines of another process's rotation\n").unwrap();
    file.finish(Instant::now());
    assert!(staging.exists(), "finish deleted a file it did not create");
    // Its own empty file, it removes.
    let dir = tempfile::tempdir().unwrap();
    let mut file = open(dir.path());
    file.finish(Instant::now());
    assert!(!dir.path().join(".t.log.next").exists());
}

#[test]
fn retention_keeps_running_while_a_leftover_is_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = open(dir.path());
    file.opts.keep = 1;
    file.staged = None;
    let staging = dir.path().join(".t.log.next");
    fs::remove_file(&staging).unwrap();
    // Something `settle_staged` cannot move: it fails at every rotation.
    fs::create_dir(&staging).unwrap();
    file.staged_leftover = true;
    for _ in 0..6 {
        file.write_lines(b"line number 12345\n").unwrap();
    }
    let rotated = naming::list_rotated(dir.path(), "t.log").unwrap();
    assert!(
        rotated.len() <= 1,
        "keep(1) but {} rotated files",
        rotated.len()
    );
}
