//! Time rotation on a local wall clock, across daylight-saving changes, driven by a
//! `ManualClock`: the hour that happens twice, the hour that does not exist, days of 23 and 25
//! hours. Zones come from the tz database (the tests compile jiff's bundled copy in, so a
//! machine without tzdata still runs them; a missing zone fails the build, never skips).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use logwarden::file::{Rotation, Timezone};
use logwarden::testing::ManualClock;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

use crate::support;
use crate::support::read_records;

const HOUR: i64 = 3_600;

/// One file after the run: its name and its records.
struct LogFile {
    name: String,
    records: Vec<Value>,
}

/// Logs one line (`at` = the clock's seconds) at each instant, flushing after each so rotation
/// sees them one by one, and returns the rotated files in name order, then the active file.
fn log_at(rotation: Rotation, timezone: Option<Timezone>, instants: &[i64]) -> Vec<LogFile> {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(instants[0]));
    let mut builder = logwarden::builder()
        .service("tz")
        .dir(dir.path())
        .capture_log(false)
        .max_bytes(None)
        .rotation(rotation)
        .keep(100_000)
        .clock(clock.clone());
    if let Some(tz) = timezone {
        builder = builder.timezone(tz);
    }
    let (layer, guard) = builder.build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        for &secs in instants {
            clock.set(at(secs));
            tracing::info!(at = secs, "tick");
            assert!(guard.flush());
        }
    });
    assert!(guard.flush());
    let files = files(dir.path());
    let logged: usize = files.iter().map(|f| f.records.len()).sum();
    assert_eq!(
        logged,
        instants.len(),
        "every line once, nothing overwritten"
    );
    files
}

fn at(secs: i64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

fn files(dir: &Path) -> Vec<LogFile> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // Not the active file, nor the empty next one waiting under a hidden name.
        .filter(|n| n != "tz.log" && !n.starts_with('.'))
        .collect();
    names.sort();
    for n in &names {
        // `tz.log.YYYYMMDDTHHMMSS.ffffffZ`: UTC names, whatever the zone.
        let stamp = n.strip_prefix("tz.log.").unwrap();
        assert!(stamp.len() == 23 && stamp.ends_with('Z'), "{n}");
    }
    names.push("tz.log".into());
    names
        .into_iter()
        .map(|name| LogFile {
            records: read_records(&dir.join(&name)),
            name,
        })
        .collect()
}

/// The instants from `start` to `end` (seconds), every `step`.
fn every(start: i64, end: i64, step: i64) -> Vec<i64> {
    (start..=end).step_by(step as usize).collect()
}

fn local(tz: &TimeZone, record: &Value) -> ZonedDateTime {
    let ts: Timestamp = record["timestamp"].as_str().unwrap().parse().unwrap();
    ts.to_zoned_datetime(tz.clone())
}

/// Checks that each file holds exactly one value of `key` (computed on the local time of each
/// record), that no two files share one, and that the files come in time order; returns the
/// keys in file order.
fn one_file_per<K: Ord + Clone + std::fmt::Debug>(
    files: &[LogFile],
    tz: &TimeZone,
    key: impl Fn(&ZonedDateTime) -> K,
) -> Vec<K> {
    let mut keys = Vec::new();
    let mut last_at = i64::MIN;
    for f in files {
        let found: BTreeSet<K> = f.records.iter().map(|r| key(&local(tz, r))).collect();
        assert_eq!(found.len(), 1, "{} mixes {found:?}", f.name);
        keys.push(found.into_iter().next().unwrap());
        let first = f.records[0]["at"].as_i64().unwrap();
        assert!(first > last_at, "{} is out of order", f.name);
        last_at = f.records.last().unwrap()["at"].as_i64().unwrap();
    }
    let distinct: BTreeSet<K> = keys.iter().cloned().collect();
    assert_eq!(
        distinct.len(),
        keys.len(),
        "two files for one period: {keys:?}"
    );
    keys
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|e| panic!("{name} missing from the tz database: {e}"))
}

/// (local date, local hour, UTC offset in seconds): one hourly period.
fn hour_key(z: &ZonedDateTime) -> (String, i8, i32) {
    (z.date().to_string(), z.hour(), z.offset().seconds())
}

// The changes of 2026 (UTC instants of the transitions).
const NY_SPRING: i64 = 1_772_953_200; // 2026-03-08 07:00Z: 02:00 EST -> 03:00 EDT
const NY_FALL: i64 = 1_793_512_800; // 2026-11-01 06:00Z: 02:00 EDT -> 01:00 EST
const BERLIN_SPRING: i64 = 1_774_746_000; // 2026-03-29 01:00Z: 02:00 CET -> 03:00 CEST
const BERLIN_FALL: i64 = 1_792_890_000; // 2026-10-25 01:00Z: 03:00 CEST -> 02:00 CET
const LORD_HOWE_FALL: i64 = 1_775_314_800; // 2026-04-04 15:00Z: 02:00 +11 -> 01:30 +10:30

#[test]
fn hourly_rotation_gives_each_of_the_two_repeated_hours_its_own_file() {
    for (name, fall, repeated_hour) in [
        ("America/New_York", NY_FALL, 1),
        ("Europe/Berlin", BERLIN_FALL, 2),
        // Half an hour back, from 02:00 +11 to 01:30 +10:30: the local hours are not UTC's.
        ("Australia/Lord_Howe", LORD_HOWE_FALL, 1),
    ] {
        let tz = zone(name);
        let instants = every(fall - 3 * HOUR, fall + 3 * HOUR, 20 * 60);
        let files = log_at(Rotation::HOURLY, Some(Timezone::named(name)), &instants);
        let keys = one_file_per(&files, &tz, hour_key);
        let repeated: Vec<_> = keys.iter().filter(|k| k.1 == repeated_hour).collect();
        assert_eq!(repeated.len(), 2, "{name}: {keys:?}");
        assert_ne!(repeated[0].2, repeated[1].2, "{name}: {keys:?}");
        // Lines over seven hours (both ends included), one local hour of them repeated: seven
        // files, local hours 23, 0, 1, 1, 2, 3, 4 (in Lord Howe the second 1 is half an hour).
        assert_eq!(files.len(), 7, "{name}: {keys:?}");
    }
}

#[test]
fn hourly_rotation_across_spring_forward_skips_the_missing_hour() {
    for (name, spring, missing_hour) in [
        ("America/New_York", NY_SPRING, 2),
        ("Europe/Berlin", BERLIN_SPRING, 2),
    ] {
        let tz = zone(name);
        let instants = every(spring - 3 * HOUR, spring + 3 * HOUR, 20 * 60);
        let files = log_at(Rotation::HOURLY, Some(Timezone::named(name)), &instants);
        let keys = one_file_per(&files, &tz, hour_key);
        let hours: Vec<i8> = keys.iter().map(|k| k.1).collect();
        assert!(!hours.contains(&missing_hour), "{name}: {keys:?}");
        let before = hours.iter().position(|&h| h == missing_hour - 1).unwrap();
        assert_eq!(hours[before + 1], missing_hour + 1, "{name}: {keys:?}");
        // Seven hours again: 23, 0, 1, 3, 4, 5, 6 in New York.
        assert_eq!(files.len(), 7, "{name}: {keys:?}");
    }
}

#[test]
fn daily_rotation_gives_one_file_per_local_day_of_23_or_25_hours() {
    for (name, spring, fall) in [
        ("America/New_York", NY_SPRING, NY_FALL),
        ("Europe/Berlin", BERLIN_SPRING, BERLIN_FALL),
    ] {
        let tz = zone(name);
        // Every 30 minutes from two days before each change to two days after.
        let mut instants = every(spring - 48 * HOUR, spring + 48 * HOUR, 1_800);
        instants.extend(every(fall - 48 * HOUR, fall + 48 * HOUR, 1_800));
        let files = log_at(Rotation::DAILY, Some(Timezone::named(name)), &instants);
        let dates = one_file_per(&files, &tz, |z| z.date());
        // Each window touches five local dates (its first and last partly).
        assert_eq!(files.len(), 10, "{name}: {dates:?}");
        // The three whole days of each window are whole files: 46, 48 or 50 half-hours.
        let mut whole_days = Vec::new();
        for (f, date) in files.iter().zip(&dates) {
            let (start, end) = day_bounds(&tz, *date);
            let first = f.records[0]["at"].as_i64().unwrap();
            let last = f.records.last().unwrap()["at"].as_i64().unwrap();
            if first == start && last == end - 1_800 {
                assert_eq!(
                    f.records.len() as i64,
                    (end - start) / 1_800,
                    "{name} {date}"
                );
                whole_days.push((end - start) / HOUR);
            }
        }
        assert_eq!(whole_days, [24, 23, 24, 24, 25, 24], "{name}: {dates:?}");
    }
}

/// The first instant of `date` in `tz` and of the day after, in seconds.
fn day_bounds(tz: &TimeZone, date: jiff::civil::Date) -> (i64, i64) {
    let start = |d: jiff::civil::Date| {
        d.to_zoned_datetime(tz.clone())
            .unwrap()
            .timestamp()
            .as_second()
    };
    (start(date), start(date.tomorrow().unwrap()))
}

#[test]
fn the_utc_default_rotates_on_utc_days_with_the_same_names() {
    // The New York window of the test above, without a timezone: files follow UTC dates.
    let instants = every(NY_SPRING - 48 * HOUR, NY_SPRING + 48 * HOUR, 1_800);
    let files = log_at(Rotation::DAILY, None, &instants);
    one_file_per(&files, &TimeZone::UTC, |z| z.date());
    assert_eq!(files.len(), 5);
    // Local New York dates would have been split differently: some file spans two of them.
    let ny = zone("America/New_York");
    assert!(files.iter().any(|f| {
        f.records
            .iter()
            .map(|r| local(&ny, r).date())
            .collect::<BTreeSet<_>>()
            .len()
            > 1
    }));
    // Timestamps stay UTC whatever the zone.
    assert!(files[0].records[0]["timestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let named = log_at(
        Rotation::DAILY,
        Some(Timezone::named("Europe/Berlin")),
        &instants,
    );
    for f in &named {
        for r in &f.records {
            let ts = r["timestamp"].as_str().unwrap();
            assert!(ts.ends_with('Z'), "{ts}");
            let secs = r["at"].as_i64().unwrap();
            assert_eq!(ts.parse::<Timestamp>().unwrap().as_second(), secs);
        }
    }
}

#[test]
fn rotation_never_overwrites_a_file_already_at_the_rotated_name() {
    let dir = tempfile::tempdir().unwrap();
    // The rotation will happen at NY_FALL exactly, so its name would be this one; the next
    // microsecond's .gz is taken too.
    let taken = dir.path().join("tz.log.20261101T060000.000000Z");
    let taken_gz = dir.path().join("tz.log.20261101T060000.000001Z.gz");
    fs::write(&taken, "precious\n").unwrap();
    fs::write(&taken_gz, "precious gz\n").unwrap();
    let clock = ManualClock::new(at(NY_FALL - 60));
    let (layer, guard) = logwarden::builder()
        .service("tz")
        .dir(dir.path())
        .capture_log(false)
        .rotation(Rotation::HOURLY)
        .timezone(Timezone::named("America/New_York"))
        .keep(100)
        .clock(clock.clone())
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("01:59 EDT");
        assert!(guard.flush());
        clock.set(at(NY_FALL));
        tracing::info!("01:00 EST");
    });
    assert!(guard.flush());
    assert_eq!(fs::read_to_string(&taken).unwrap(), "precious\n");
    assert_eq!(fs::read_to_string(&taken_gz).unwrap(), "precious gz\n");
    let rotated = dir.path().join("tz.log.20261101T060000.000002Z");
    let messages: Vec<Value> = read_records(&rotated)
        .into_iter()
        .map(|r| r["message"].clone())
        .collect();
    assert_eq!(messages, ["01:59 EDT"]);
    assert_eq!(guard.stats().rotations, 1);
}

/// The child of [`local_follows_the_tz_variable_of_the_process`]: logs at 23:30 and 00:30 Berlin
/// summer time (21:30Z and 22:30Z) with daily rotation and `LOGWARDEN_TIMEZONE` from the
/// environment.
#[test]
fn child() {
    let Ok(dir) = std::env::var("LWTEST_TZ_CHILD") else {
        return; // only runs as a child of the test below
    };
    let clock = ManualClock::new(at(1_782_941_400)); // 2026-07-01T21:30:00Z
    let (layer, guard) = logwarden::builder()
        .service("tz")
        .dir(PathBuf::from(dir))
        .capture_log(false)
        .rotation(Rotation::DAILY)
        .clock(clock.clone())
        .from_env()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("REFUSED: {e}");
            std::process::exit(3)
        });
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("23:30 in Berlin");
        assert!(guard.flush());
        clock.advance(Duration::from_secs(3_600));
        tracing::info!("00:30 in Berlin");
    });
    assert!(guard.flush());
}

#[test]
fn local_follows_the_tz_variable_of_the_process() {
    let child = |tz: &str, timezone: &str, dir: &Path| {
        support::child::run_test(
            support::child::this_test(module_path!(), "child")
                .env("LWTEST_TZ_CHILD", dir)
                .env("TZ", tz)
                .env("LOGWARDEN_TIMEZONE", timezone),
        )
    };
    let run = |tz: &str, timezone: &str| {
        let dir = tempfile::tempdir().unwrap();
        let out = child(tz, timezone, dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        files(dir.path())
            .into_iter()
            .map(|f| f.name)
            .collect::<Vec<_>>()
    };
    // Local midnight in Berlin is 22:00Z in July: rotated at the 22:30Z line.
    assert_eq!(
        run("Europe/Berlin", "local"),
        ["tz.log.20260701T223000.000000Z", "tz.log"]
    );
    // The same process clock in New York (17:30, 18:30) or in UTC: no midnight crossed.
    assert_eq!(run("America/New_York", "local"), ["tz.log"]);
    assert_eq!(run("Europe/Berlin", "utc"), ["tz.log"]);
    // A local zone that cannot be determined is an error naming the variable, not UTC.
    let dir = tempfile::tempdir().unwrap();
    let out = child("Not/A_Zone", "local", dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("REFUSED: LOGWARDEN_TIMEZONE"), "{stderr}");
}
