use super::*;
use std::io::Write;

/// The unit tests follow without inotify: what they check must hold by looking alone; the
/// tests below with `watched` add what inotify catches on top.
const WATCH: bool = false;

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn fixture(initial: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    fs::write(&path, initial).unwrap();
    Fixture { _dir: dir, path }
}

fn append(path: &Path, text: &str) {
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Polls until idle; returns the lines handed out.
fn read(f: &mut Follower) -> Vec<String> {
    let mut out = Vec::new();
    while f
        .poll(&mut |l| out.push(String::from_utf8(l.to_vec()).unwrap()))
        .unwrap()
        == Poll::More
    {}
    out
}

#[test]
fn from_the_start_reads_complete_lines_and_holds_a_fragment_until_its_newline() {
    let fx = fixture("one\ntwo\nthr");
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    assert_eq!(read(&mut f), ["one", "two"]);
    assert!(read(&mut f).is_empty());
    append(&fx.path, "ee\r\nfour\n");
    assert_eq!(read(&mut f), ["three\r", "four"]);
    assert_eq!(f.counts().lines, 4);
}

#[test]
fn from_the_end_starts_after_the_last_complete_line() {
    let fx = fixture("old 1\nold 2\nhalf of a li");
    let mut f = Follower::open(&fx.path, false, WATCH).unwrap();
    assert!(read(&mut f).is_empty());
    append(&fx.path, "ne\nnew\n");
    assert_eq!(read(&mut f), ["half of a line", "new"]);

    let fx = fixture("old\n");
    let mut f = Follower::open(&fx.path, false, WATCH).unwrap();
    append(&fx.path, "new\n");
    assert_eq!(read(&mut f), ["new"]);

    // No newline at all: the whole file is the line being written.
    let fx = fixture("partial");
    let mut f = Follower::open(&fx.path, false, WATCH).unwrap();
    append(&fx.path, " line\n");
    assert_eq!(read(&mut f), ["partial line"]);
}

#[test]
fn rename_and_create_reads_the_old_file_to_its_end_then_the_new_one_from_its_start() {
    let fx = fixture("a1\n");
    let rotated = fx.path.with_extension("log.1");
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    assert_eq!(read(&mut f), ["a1"]);
    // The writer still holds the old file: lines it writes after the rename are not lost.
    let mut old = fs::OpenOptions::new().append(true).open(&fx.path).unwrap();
    fs::rename(&fx.path, &rotated).unwrap();
    old.write_all(b"a2\n").unwrap();
    // The path is missing for a moment: the old file is still followed.
    assert_eq!(read(&mut f), ["a2"]);
    old.write_all(b"a3\n").unwrap();
    fs::write(&fx.path, "b1\nb2\n").unwrap();
    old.write_all(b"a4\n").unwrap();
    assert_eq!(read(&mut f), ["a3", "a4", "b1", "b2"]);
    assert_eq!(f.counts().rotations, 1);
    // Nothing is read twice, and the old file is no longer followed.
    old.write_all(b"late\n").unwrap();
    append(&fx.path, "b3\n");
    assert_eq!(read(&mut f), ["b3"]);
    assert_eq!((f.counts().lines, f.counts().torn), (7, 0));
}

#[test]
fn a_fragment_left_in_a_rotated_file_is_a_torn_line() {
    let fx = fixture("a1\na2-cut");
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    assert_eq!(read(&mut f), ["a1"]);
    fs::rename(&fx.path, fx.path.with_extension("log.1")).unwrap();
    fs::write(&fx.path, "b1\n").unwrap();
    assert_eq!(read(&mut f), ["b1"]);
    assert_eq!((f.counts().lines, f.counts().torn), (2, 1));
}

#[test]
fn truncation_starts_again_from_the_start() {
    let fx = fixture("one\ntwo\nthree\n");
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    assert_eq!(read(&mut f), ["one", "two", "three"]);
    fs::OpenOptions::new()
        .write(true)
        .open(&fx.path)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&fx.path, "new\n");
    assert_eq!(read(&mut f), ["new"]);
    assert_eq!(f.counts().truncations, 1);
    append(&fx.path, "next\n");
    assert_eq!(read(&mut f), ["next"]);
}

#[test]
fn a_path_that_disappears_and_comes_back_is_read_from_its_start() {
    let fx = fixture("a\n");
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    assert_eq!(read(&mut f), ["a"]);
    fs::remove_file(&fx.path).unwrap();
    assert!(read(&mut f).is_empty());
    fs::write(&fx.path, "b\n").unwrap();
    assert_eq!(read(&mut f), ["b"]);
}

#[test]
fn an_overlong_line_is_skipped_and_counted_and_the_next_one_is_whole() {
    let fx = fixture("");
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    // Written in pieces, so the cap is crossed inside the held fragment.
    let long = "x".repeat(MAX_LINE / 4);
    for _ in 0..5 {
        append(&fx.path, &long);
        assert!(read(&mut f).is_empty());
    }
    append(&fx.path, "\nafter\n");
    assert_eq!(read(&mut f), ["after"]);
    assert_eq!((f.counts().lines, f.counts().too_long), (2, 1));
}

#[test]
fn a_large_file_is_read_over_several_polls_without_loss() {
    let line = format!("{}\n", "y".repeat(999));
    let fx = fixture(&line.repeat(10_000)); // 10 MB: more than one poll's budget
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    let mut n = 0;
    let first = f.poll(&mut |_| n += 1).unwrap();
    assert_eq!(first, Poll::More);
    while f.poll(&mut |_| n += 1).unwrap() == Poll::More {}
    assert_eq!(n, 10_000);
}

/// Python's `RotatingFileHandler`: `app.log.1` → `app.log.2`, `app.log` → `app.log.1`, a new
/// `app.log`; the oldest beyond `backups` deleted.
fn python_rotate(path: &Path, backups: usize) {
    let numbered = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
    let _ = fs::remove_file(numbered(backups));
    for n in (1..backups).rev() {
        let _ = fs::rename(numbered(n), numbered(n + 1));
    }
    fs::rename(path, numbered(1)).unwrap();
    fs::write(path, "").unwrap();
}

#[test]
fn several_rotations_between_two_looks_are_all_read_oldest_first() {
    for watched in [false, true] {
        let fx = fixture("");
        // Backups from before we started: left alone.
        fs::write(fx.path.with_extension("log.1"), "old\n").unwrap();
        let mut f = Follower::open(&fx.path, true, watched).unwrap();
        append(&fx.path, "a1\n");
        assert_eq!(read(&mut f), ["a1"]);
        append(&fx.path, "a2\n");
        python_rotate(&fx.path, 5);
        append(&fx.path, "b1\n");
        python_rotate(&fx.path, 5);
        append(&fx.path, "c1\n");
        python_rotate(&fx.path, 5);
        append(&fx.path, "d1\n");
        assert_eq!(read(&mut f), ["a2", "b1", "c1", "d1"], "watched: {watched}");
        let c = f.counts();
        assert_eq!((c.rotations, c.caught_up, c.missed), (3, 2, 0), "{c:?}");
        append(&fx.path, "d2\n");
        assert_eq!(read(&mut f), ["d2"], "nothing twice");
    }
}

#[test]
fn logwarden_names_and_a_gz_twin_and_a_copy_are_read_once() {
    let fx = fixture("");
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    let line = |s: &str| {
        format!(
            "{{\"message\":\"{s}\",\"padding\":\"{}\"}}\n",
            "x".repeat(80)
        )
    };
    append(&fx.path, &line("a"));
    assert_eq!(read(&mut f).len(), 1);
    // Two rotations under logwarden's names, then each rotated file also compressed (a `.gz`
    // twin) and copied (as copy-and-truncate would leave one).
    let first = fx.path.with_extension("log.20261202T100000.000001Z");
    fs::rename(&fx.path, &first).unwrap();
    fs::write(&fx.path, line("b")).unwrap();
    let second = fx.path.with_extension("log.20261202T100000.000002Z");
    fs::rename(&fx.path, &second).unwrap();
    fs::write(&fx.path, line("c")).unwrap();
    fs::copy(
        &second,
        fx.path.with_extension("log.20261202T100000.000002Z.gz"),
    )
    .unwrap();
    fs::copy(&second, fx.path.with_extension("log.copy")).unwrap();
    let got = read(&mut f);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].contains("\"b\"") && got[1].contains("\"c\""),
        "{got:?}"
    );
    append(&fx.path, &line("d"));
    assert_eq!(read(&mut f).len(), 1);
}

#[test]
fn a_reused_inode_is_a_new_file() {
    let fx = fixture("");
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    let rotated = fx.path.with_extension("log.1");
    append(&fx.path, "first file\n");
    assert_eq!(read(&mut f), ["first file"]);
    fs::rename(&fx.path, &rotated).unwrap();
    fs::write(&fx.path, "second\n").unwrap();
    assert_eq!(read(&mut f), ["second"]);
    // The first file deleted, and another made under the rotated name: whatever its inode,
    // its first bytes are not the first file's.
    fs::remove_file(&rotated).unwrap();
    fs::rename(&fx.path, &rotated).unwrap();
    fs::write(&fx.path, "third\n").unwrap();
    assert_eq!(read(&mut f), ["third"]);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn watched_a_file_rotated_away_and_deleted_unread_is_counted_or_held() {
    let fx = fixture("a\n");
    let mut f = Follower::open(&fx.path, true, true).unwrap();
    assert!(f.is_watching());
    assert_eq!(read(&mut f), ["a"]);
    // Three rotations with one backup before the next look: `b`'s file is renamed to `.1`
    // and then deleted. Nothing held it open: it is gone, and counted.
    python_rotate(&fx.path, 1);
    append(&fx.path, "b\n");
    python_rotate(&fx.path, 1);
    append(&fx.path, "c\n");
    python_rotate(&fx.path, 1);
    append(&fx.path, "d\n");
    assert_eq!(read(&mut f), ["c", "d"]);
    assert_eq!(f.counts().missed, 1, "{:?}", f.counts());
    // Looked at once the file appears (as `watch` does between reads), inotify holds it open
    // from then on, and nothing is lost however soon it is deleted.
    python_rotate(&fx.path, 1);
    f.take_events();
    append(&fx.path, "e\n");
    python_rotate(&fx.path, 1);
    append(&fx.path, "f\n");
    python_rotate(&fx.path, 1);
    append(&fx.path, "g\n");
    assert_eq!(read(&mut f), ["e", "f", "g"]);
    assert_eq!(f.counts().missed, 1, "only `b`'s file");
}

/// logrotate's `create` with `ifempty` and `rotate 1`, twice on an empty file: the first
/// file is deleted and a new one may take its inode at once. Neither an empty file met before
/// nor a reused inode may hide the new active file.
#[test]
fn empty_files_and_reused_inodes_never_hide_the_active_file() {
    for watched in [false, true] {
        let fx = fixture("");
        let mut f = Follower::open(&fx.path, false, watched).unwrap();
        for _ in 0..2 {
            let _ = fs::remove_file(fx.path.with_extension("log.1"));
            fs::rename(&fx.path, fx.path.with_extension("log.1")).unwrap();
            fs::write(&fx.path, "").unwrap();
            assert!(read(&mut f).is_empty());
        }
        for i in 0..10 {
            append(&fx.path, &format!("line {i}\n"));
        }
        assert_eq!(read(&mut f).len(), 10, "watched: {watched}");
        assert_eq!(f.counts().missed, 0, "watched: {watched}: {:?}", f.counts());
    }
}

#[test]
fn a_fifo_named_like_a_rotated_file_is_left_alone() {
    let fx = fixture("a\n");
    let fifo = fx.path.with_extension("log.pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    assert_eq!(read(&mut f), ["a"]);
    fs::rename(&fx.path, fx.path.with_extension("log.1")).unwrap();
    fs::write(&fx.path, "b\n").unwrap();
    assert_eq!(read(&mut f), ["b"]);
}

#[test]
fn a_copy_made_by_copy_and_truncate_is_not_read_again() {
    let line = format!("{{\"message\":\"{}\"}}\n", "x".repeat(100));
    let fx = fixture("");
    let mut f = Follower::open(&fx.path, true, WATCH).unwrap();
    append(&fx.path, &line.repeat(3));
    assert_eq!(read(&mut f).len(), 3);
    // copytruncate: the content copied to `.1`, the file truncated, writing goes on.
    fs::copy(&fx.path, fx.path.with_extension("log.1")).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&fx.path)
        .unwrap()
        .set_len(0)
        .unwrap();
    assert!(read(&mut f).is_empty());
    append(&fx.path, "after\n");
    // A rotation makes the follower look at the directory: the copy is known.
    fs::rename(&fx.path, fx.path.with_extension("log.2")).unwrap();
    fs::write(&fx.path, "next\n").unwrap();
    assert_eq!(read(&mut f), ["after", "next"]);
}

/// What a first pass over the directory leaves to the follower and what it reads itself split
/// every file between them: the follower claims exactly the file it holds and those rotated
/// away since it opened, and reads exactly those.
#[test]
fn a_follower_claims_the_files_it_reads_and_no_others() {
    use std::os::unix::fs::MetadataExt as _;
    let id = |p: &Path| {
        let m = fs::metadata(p).unwrap();
        (m.dev(), m.ino())
    };
    for watched in [false, true] {
        let fx = fixture("a1\n");
        let old = fx.path.with_extension("log.20261202T090000.000000Z");
        fs::write(&old, "old\n").unwrap();
        let f = Follower::open(&fx.path, true, watched).unwrap();
        let held = id(&fx.path);
        // Two rotations after the follower opened, before it first looks.
        let first = fx.path.with_extension("log.20261202T100000.000001Z");
        fs::rename(&fx.path, &first).unwrap();
        fs::write(&fx.path, "b1\n").unwrap();
        let second = fx.path.with_extension("log.20261202T100000.000002Z");
        fs::rename(&fx.path, &second).unwrap();
        fs::write(&fx.path, "c1\n").unwrap();
        let other = fx.path.with_file_name("db.log.1");
        fs::write(&other, "db\n").unwrap();
        assert!(f.claims(&first, held), "the file it holds, renamed");
        assert!(f.claims(&second, id(&second)), "rotated since it opened");
        assert!(!f.claims(&old, id(&old)), "there before it opened");
        assert!(!f.claims(&other, id(&other)), "another log's file");
        let mut f = f;
        assert_eq!(read(&mut f), ["a1", "b1", "c1"], "watched: {watched}");
    }
}
