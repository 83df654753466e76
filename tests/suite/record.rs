//! The record schema, black-box: events logged through the public API under a logwarden layer,
//! read back from the real file and parsed.

use std::fmt;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support;
use crate::support::{
    assert_no_duplicate_keys, capture, capture_with, keys, one, with_message, within,
};

const FIXED: [&str; 8] = [
    "timestamp",
    "level",
    "message",
    "target",
    "service",
    "env",
    "host",
    "pid",
];

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, checked position by position.
fn assert_rfc3339_micros_utc(ts: &str) {
    let b = ts.as_bytes();
    assert_eq!(b.len(), 27, "timestamp {ts:?} has the wrong length");
    for (i, &c) in b.iter().enumerate() {
        let expected_ok = match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        };
        assert!(
            expected_ok,
            "timestamp {ts:?}: unexpected {:?} at {i}",
            c as char
        );
    }
    let num = |r: std::ops::Range<usize>| ts[r].parse::<u32>().unwrap();
    assert!((1..=12).contains(&num(5..7)), "month in {ts:?}");
    assert!((1..=31).contains(&num(8..10)), "day in {ts:?}");
    assert!(
        num(11..13) <= 23 && num(14..16) <= 59 && num(17..19) <= 60,
        "{ts:?}"
    );
}

fn as_str<'a>(r: &'a Value, key: &str) -> &'a str {
    r[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {r}"))
}

#[test]
fn keys_come_in_the_documented_order_with_span_fields_outermost_first() {
    let (lines, records) = capture(|| {
        let request = tracing::info_span!("request", trace_id = "4bf92f3577b34da6", method = "GET");
        let _r = request.enter();
        let payment = tracing::info_span!("payment", user_id = 42);
        let _p = payment.enter();
        tracing::info!(items = 3, total = 59.9, "order placed");
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    let mut expected: Vec<&str> = FIXED.to_vec();
    expected.extend(["span", "trace_id", "method", "user_id", "items", "total"]);
    assert_eq!(keys(&lines[0]), expected);
    assert_eq!(
        records[0],
        json!({
            "timestamp": records[0]["timestamp"],
            "level": "INFO",
            "message": "order placed",
            "target": "suite::record",
            "service": "orders",
            "env": "test",
            "host": records[0]["host"],
            "pid": std::process::id(),
            "span": "payment",
            "trace_id": "4bf92f3577b34da6",
            "method": "GET",
            "user_id": 42,
            "items": 3,
            "total": 59.9,
        })
    );
    assert!(!as_str(&records[0], "host").is_empty());
}

#[test]
fn outside_any_span_there_is_no_span_key() {
    let (lines, records) = capture(|| tracing::warn!(attempt = 2, "retrying"));
    let mut expected: Vec<&str> = FIXED.to_vec();
    expected.push("attempt");
    assert_eq!(keys(&lines[0]), expected);
    assert_eq!(records[0]["level"], "WARN");
    assert_eq!(records[0]["attempt"], 2);
}

#[test]
fn timestamp_is_rfc3339_utc_with_microseconds_and_level_is_upper_case() {
    let (_, records) = capture_all_levels();
    assert_eq!(records.len(), 5);
    let levels: Vec<&str> = records.iter().map(|r| as_str(r, "level")).collect();
    assert_eq!(levels, ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]);
    for r in &records {
        assert_rfc3339_micros_utc(as_str(r, "timestamp"));
    }
    // Same second-cached prefix or not, timestamps never go backwards within one thread.
    let ts: Vec<&str> = records.iter().map(|r| as_str(r, "timestamp")).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{ts:?}");
}

#[test]
fn timestamp_is_the_clock_time_in_utc() {
    use std::time::{Duration, UNIX_EPOCH};
    let clock = logwarden::testing::ManualClock::new(
        UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456),
    );
    let handle = clock.clone();
    let (_, records) = support::capture_with(
        |b| b.clock(clock),
        || {
            tracing::info!("a");
            handle.advance(Duration::from_micros(876_544)); // next second, .000000
            tracing::info!("b");
            handle.set(UNIX_EPOCH - Duration::from_micros(1));
            tracing::info!("c");
            handle.set(UNIX_EPOCH + Duration::from_micros(951_782_400_000_007)); // leap day
            tracing::info!("d");
        },
    );
    let ts: Vec<&str> = records.iter().map(|r| as_str(r, "timestamp")).collect();
    assert_eq!(
        ts,
        [
            "2023-11-14T22:13:20.123456Z",
            "2023-11-14T22:13:21.000000Z",
            "1969-12-31T23:59:59.999999Z",
            "2000-02-29T00:00:00.000007Z",
        ]
    );
    for t in ts {
        assert_rfc3339_micros_utc(t);
    }
}

fn capture_all_levels() -> (Vec<String>, Vec<Value>) {
    support::capture_with(
        |b| b.filter("trace"),
        || {
            tracing::error!("e");
            tracing::warn!("w");
            tracing::info!("i");
            tracing::debug!("d");
            tracing::trace!("t");
        },
    )
}

#[test]
fn inner_span_shadows_outer_and_event_shadows_spans() {
    let (lines, records) = capture(|| {
        let request = tracing::info_span!(
            "request",
            trace_id = "t-1",
            shared = "outer",
            user_id = "outer-user"
        );
        let _r = request.enter();
        let payment = tracing::info_span!("payment", shared = "inner", user_id = 7);
        let _p = payment.enter();
        tracing::info!(user_id = 8, "charged");
    });
    assert_no_duplicate_keys(&lines[0]);
    let r = &records[0];
    assert_eq!(r["span"], "payment");
    assert_eq!(r["trace_id"], "t-1");
    assert_eq!(r["shared"], "inner");
    assert_eq!(r["user_id"], 8);
    let ks = keys(&lines[0]);
    let pos = |k: &str| ks.iter().position(|x| x == k).unwrap();
    assert!(pos("span") < pos("trace_id"));
    assert!(pos("trace_id") < pos("shared"), "{ks:?}");
    assert!(pos("shared") < pos("user_id"), "{ks:?}");
    assert_eq!(ks.len(), FIXED.len() + 4, "{ks:?}");
}

#[test]
fn span_key_names_the_innermost_span_even_without_fields() {
    let (lines, records) = capture(|| {
        let outer = tracing::info_span!("outer", trace_id = "t");
        let _o = outer.enter();
        let inner = tracing::info_span!("inner");
        let _i = inner.enter();
        tracing::info!("deep");
    });
    assert_no_duplicate_keys(&lines[0]);
    assert_eq!(records[0]["span"], "inner");
    assert_eq!(records[0]["trace_id"], "t");
}

#[test]
fn recorded_span_fields_show_up_later_and_replace_old_values() {
    let (lines, records) = capture(|| {
        let span = tracing::info_span!(
            "request",
            trace_id = "t",
            status = tracing::field::Empty,
            attempt = 1
        );
        let _e = span.enter();
        tracing::info!("before");
        span.record("status", 200);
        tracing::info!("after");
        span.record("status", 503);
        span.record("attempt", 2);
        tracing::info!("again");
        let child = tracing::info_span!("child");
        let _c = child.enter();
        span.record("status", "gone");
        tracing::info!("in child");
    });
    for l in &lines {
        assert_no_duplicate_keys(l);
    }
    let before = one(&records, "before");
    assert!(before.get("status").is_none(), "{before}");
    assert_eq!(before["attempt"], 1);
    assert_eq!(one(&records, "after")["status"], 200);
    assert_eq!(one(&records, "after")["attempt"], 1);
    assert_eq!(one(&records, "again")["status"], 503);
    assert_eq!(one(&records, "again")["attempt"], 2);
    let in_child = one(&records, "in child");
    assert_eq!(in_child["span"], "child");
    assert_eq!(in_child["status"], "gone");
    assert_eq!(in_child["trace_id"], "t");
}

/// Each span keeps a copy of its ancestors' fields for speed; records into an ancestor, at any
/// depth and after children exist, must still reach every event below it.
#[test]
fn records_into_any_ancestor_reach_events_in_existing_and_new_descendants() {
    let (lines, records) = capture(|| {
        let root = tracing::info_span!("root", region = tracing::field::Empty);
        let _r = root.enter();
        let middle = tracing::info_span!("middle", shared = tracing::field::Empty);
        let _m = middle.enter();
        let leaf = tracing::info_span!("leaf", shared = "leaf", late = tracing::field::Empty);
        let _l = leaf.enter();
        tracing::info!("first");
        root.record("region", "eu-west-1");
        middle.record("shared", "middle");
        tracing::info!("after ancestors recorded");
        leaf.record("late", 1);
        root.record("region", "us-east-1");
        tracing::info!("after the leaf recorded too");
        let newer = tracing::info_span!("newer");
        let _n = newer.enter();
        tracing::info!("in a newer span");
        drop(_n);
        drop(_l);
        tracing::info!("in middle");
    });
    for l in &lines {
        assert_no_duplicate_keys(l);
    }
    let first = one(&records, "first");
    assert!(first.get("region").is_none(), "{first}");
    assert_eq!(first["shared"], "leaf");
    let after = one(&records, "after ancestors recorded");
    assert_eq!(after["region"], "eu-west-1", "{after}");
    assert_eq!(
        after["shared"], "leaf",
        "the leaf's own value still wins: {after}"
    );
    let later = one(&records, "after the leaf recorded too");
    assert_eq!(later["region"], "us-east-1", "{later}");
    assert_eq!(later["late"], 1, "{later}");
    let newer = one(&records, "in a newer span");
    assert_eq!(newer["span"], "newer");
    assert_eq!(
        (&newer["region"], &newer["shared"], &newer["late"]),
        (&json!("us-east-1"), &json!("leaf"), &json!(1)),
        "{newer}"
    );
    let middle = one(&records, "in middle");
    assert_eq!(middle["span"], "middle");
    assert_eq!(middle["shared"], "middle", "{middle}");
    assert!(middle.get("late").is_none(), "{middle}");
    // Order: outermost first, then each span's own fields.
    let ks = keys(&lines[lines.len() - 2]);
    let pos = |k: &str| ks.iter().position(|x| x == k).unwrap();
    assert!(
        pos("region") < pos("shared") && pos("shared") < pos("late"),
        "{ks:?}"
    );
}

/// Children created and logging on other threads while their parent is recorded into: whatever
/// the interleaving, every event logged after the record sees the new value.
#[test]
fn a_record_racing_with_children_on_other_threads_is_never_missed() {
    const THREADS: usize = 2;
    const ROUNDS: usize = 200;
    let (_, records) = capture(|| {
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        let parent = tracing::info_span!("parent", phase = 0_u64);
        let barrier = std::sync::Barrier::new(THREADS + 1);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (dispatch, parent, barrier) = (&dispatch, &parent, &barrier);
                scope.spawn(move || {
                    tracing::dispatcher::with_default(dispatch, || {
                        for round in 1..=ROUNDS as u64 {
                            // One child made before the record, others while it happens.
                            let early = tracing::info_span!(parent: parent, "early", t);
                            barrier.wait();
                            for _ in 0..3 {
                                let racing = tracing::info_span!(parent: parent, "racing", t);
                                racing.in_scope(|| tracing::info!(round, "during"));
                            }
                            barrier.wait();
                            early.in_scope(|| tracing::info!(round, "after"));
                            let late = tracing::info_span!(parent: parent, "late", t);
                            late.in_scope(|| tracing::info!(round, "after"));
                            barrier.wait();
                        }
                    })
                });
            }
            for round in 1..=ROUNDS as u64 {
                barrier.wait();
                parent.record("phase", round);
                barrier.wait();
                barrier.wait();
            }
        });
    });
    let after = with_message(&records, "after");
    assert_eq!(after.len(), THREADS * ROUNDS * 2);
    for r in after {
        assert_eq!(
            r["phase"], r["round"],
            "an event after the record missed it: {r}"
        );
    }
    // The racing ones saw either value, never anything else.
    for r in with_message(&records, "during") {
        let (phase, round) = (r["phase"].as_u64().unwrap(), r["round"].as_u64().unwrap());
        assert!(phase == round || phase + 1 == round, "{r}");
    }
}

/// Directives that name a span (`[checkout]=info`) enable events inside it only, whether the
/// filter is the layer's own (`build`) or global (`subscriber`, as `init()` installs it).
#[test]
fn span_directives_enable_events_inside_the_named_span_only() {
    for global in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let builder = logwarden::builder()
            .dir(dir.path())
            .capture_log(false)
            .filter("warn,[checkout]=info");
        let run = || {
            tracing::info!("outside");
            tracing::info_span!("checkout", order = 7).in_scope(|| tracing::info!("inside"));
            tracing::info_span!("browse").in_scope(|| tracing::info!("elsewhere"));
            tracing::warn!("warned");
        };
        let guard = if global {
            let (subscriber, guard) = builder.subscriber().unwrap();
            tracing::subscriber::with_default(subscriber, run);
            guard
        } else {
            use tracing_subscriber::layer::SubscriberExt;
            let (layer, guard) = builder.build().unwrap();
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), run);
            guard
        };
        assert!(guard.flush());
        let records = support::read_records(guard.log_path().unwrap());
        let messages: Vec<&str> = records.iter().map(|r| as_str(r, "message")).collect();
        assert_eq!(messages, ["inside", "warned"], "global filter: {global}");
        assert_eq!(one(&records, "inside")["order"], 7);
    }
}

#[test]
fn numbers_and_booleans_keep_their_json_types() {
    let (lines, records) = capture(|| {
        let span = tracing::info_span!("s", span_i = -7i64, span_f = 0.25, span_b = false);
        let _e = span.enter();
        tracing::info!(
            i = -42i64,
            i_min = i64::MIN,
            u = u64::MAX,
            f = 0.1,
            f_whole = 3.0,
            f_tiny = 5e-324,
            f_huge = 1e300,
            yes = true,
            no = false,
            "typed"
        );
        tracing::info!(
            big_u = u128::MAX,
            big_i = i128::MIN,
            small_u128 = 5u128,
            "wide"
        );
    });
    let r = one(&records, "typed");
    assert_eq!(r["span_i"], json!(-7));
    assert_eq!(r["span_f"], json!(0.25));
    assert_eq!(r["span_b"], json!(false));
    assert_eq!(r["i"].as_i64(), Some(-42));
    assert_eq!(r["i_min"].as_i64(), Some(i64::MIN));
    assert_eq!(r["u"].as_u64(), Some(u64::MAX));
    assert_eq!(r["f"].as_f64(), Some(0.1));
    assert_eq!(r["f_whole"].as_f64(), Some(3.0));
    assert_eq!(r["f_tiny"].as_f64(), Some(5e-324));
    assert_eq!(r["f_huge"].as_f64(), Some(1e300));
    assert_eq!(r["yes"], json!(true));
    assert_eq!(r["no"], json!(false));

    let w = one(&records, "wide");
    for k in ["big_u", "big_i", "small_u128"] {
        assert!(w[k].is_number(), "{k} is not a number: {w}");
    }
    assert_eq!(w["small_u128"].as_u64(), Some(5));
    // serde_json holds integers beyond 64 bits as f64; the exact digits are checked in the text.
    let line = lines.iter().find(|l| l.contains("\"wide\"")).unwrap();
    assert!(line.contains(&format!("\"big_u\":{}", u128::MAX)), "{line}");
    assert!(line.contains(&format!("\"big_i\":{}", i128::MIN)), "{line}");
}

#[test]
fn nan_and_infinities_become_strings() {
    let (_, records) = capture(|| {
        let span = tracing::info_span!("s", span_nan = f64::NAN);
        let _e = span.enter();
        tracing::info!(
            nan = f64::NAN,
            pos = f64::INFINITY,
            neg = f64::NEG_INFINITY,
            f32_nan = f32::NAN,
            "floats"
        );
    });
    let r = &records[0];
    assert_eq!(r["nan"], "NaN");
    assert_eq!(r["pos"], "inf");
    assert_eq!(r["neg"], "-inf");
    assert_eq!(r["f32_nan"], "NaN");
    assert_eq!(r["span_nan"], "NaN");
}

#[test]
fn event_fields_named_like_reserved_keys_are_prefixed() {
    let (lines, records) = capture(|| {
        tracing::info!(
            level = "user level",
            target = "user target",
            timestamp = 1,
            service = "user service",
            env = "user env",
            host = "user host",
            pid = -1,
            span = "user span",
            "collide"
        );
    });
    assert_no_duplicate_keys(&lines[0]);
    let r = &records[0];
    assert_eq!(r["level"], "INFO");
    assert_eq!(r["target"], "suite::record");
    assert_rfc3339_micros_utc(as_str(r, "timestamp"));
    assert_eq!(r["service"], "orders");
    assert_eq!(r["env"], "test");
    assert_ne!(r["host"], "user host");
    assert_eq!(r["pid"], std::process::id());
    assert!(r.get("span").is_none(), "not inside a span: {r}");
    assert_eq!(r["message"], "collide");
    assert_eq!(r["fields.level"], "user level");
    assert_eq!(r["fields.target"], "user target");
    assert_eq!(r["fields.timestamp"], 1);
    assert_eq!(r["fields.service"], "user service");
    assert_eq!(r["fields.env"], "user env");
    assert_eq!(r["fields.host"], "user host");
    assert_eq!(r["fields.pid"], -1);
    assert_eq!(r["fields.span"], "user span");
}

#[test]
fn span_fields_named_like_reserved_keys_are_prefixed() {
    let (lines, records) = capture(|| {
        let span = tracing::info_span!(
            "request",
            message = "span message",
            level = "span level",
            target = "span target",
            timestamp = "span ts",
            service = "span service",
            env = "span env",
            host = "span host",
            pid = 0,
            span = "span span"
        );
        let _e = span.enter();
        tracing::info!("real message");
    });
    assert_no_duplicate_keys(&lines[0]);
    let r = &records[0];
    assert_eq!(r["message"], "real message");
    assert_eq!(r["level"], "INFO");
    assert_eq!(r["target"], "suite::record");
    assert_eq!(r["service"], "orders");
    assert_eq!(r["env"], "test");
    assert_eq!(r["pid"], std::process::id());
    assert_eq!(r["span"], "request");
    for (k, v) in [
        ("fields.message", json!("span message")),
        ("fields.level", json!("span level")),
        ("fields.target", json!("span target")),
        ("fields.timestamp", json!("span ts")),
        ("fields.service", json!("span service")),
        ("fields.env", json!("span env")),
        ("fields.host", json!("span host")),
        ("fields.pid", json!(0)),
        ("fields.span", json!("span span")),
    ] {
        assert_eq!(r[k], v, "{k} in {r}");
    }
}

#[test]
fn reserved_collisions_across_span_and_event_are_not_duplicated() {
    let (lines, records) = capture(|| {
        let outer = tracing::info_span!("outer", level = "outer level", env = "outer env");
        let _o = outer.enter();
        let inner = tracing::info_span!("inner", level = "inner level");
        let _i = inner.enter();
        tracing::info!(level = "event level", "both");
        tracing::info!("spans only");
        tracing::info!(
            "fields.env" = "literal prefixed",
            env = "plain",
            "prefixed twice"
        );
    });
    for l in &lines {
        assert_no_duplicate_keys(l);
    }
    let both = one(&records, "both");
    assert_eq!(both["level"], "INFO");
    assert_eq!(both["fields.level"], "event level");
    assert_eq!(both["fields.env"], "outer env");
    assert_eq!(both["env"], "test");
    let spans_only = one(&records, "spans only");
    assert_eq!(spans_only["fields.level"], "inner level");
    let twice = one(&records, "prefixed twice");
    assert_eq!(twice["env"], "test");
    // The event's `env` shadows the outer span's, and the literal `fields.env` is prefixed
    // again rather than taking the same key.
    assert_eq!(twice["fields.env"], "plain", "{twice}");
    assert_eq!(twice["fields.fields.env"], "literal prefixed", "{twice}");
}

/// Every control character, quotes, backslashes, DEL, the JavaScript line separators, emoji and
/// non-Latin text.
fn nasty() -> String {
    let mut s: String = (0u8..0x20).map(char::from).collect();
    s.push_str("\"quoted\" back\\slash \\\" \u{7f} \u{2028}sep\u{2029}para 🎉👩‍👩‍👧 日本語 é \u{feff}");
    s
}

#[derive(Debug)]
struct Weird {
    #[allow(dead_code)]
    text: String,
}

struct DisplayErr(String);

impl fmt::Debug for DisplayErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for DisplayErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DisplayErr {}

#[test]
fn odd_characters_round_trip_and_stay_on_one_line() {
    let s = nasty();
    let weird = Weird { text: s.clone() };
    let err = DisplayErr(s.clone());
    let (lines, records) = capture(|| {
        let span = tracing::info_span!("sp\"an\n", span_value = s.as_str());
        let _e = span.enter();
        tracing::info!("{s}");
        tracing::info!(
            plain = s.as_str(),
            display = %s,
            debug = ?weird,
            error = &err as &(dyn std::error::Error + 'static),
            "fields"
        );
        tracing::info!(
            "weird \"key\"\n" = 1,
            "tab\tkey\\" = 2,
            "emoji🎉" = 3,
            "sep\u{2028}key" = 4,
            "nul\u{0}key" = 5,
            "names"
        );
        tracing::info!(target: "tar\"get\u{1}", "odd target");
    });
    assert_eq!(lines.len(), 4, "one line per event: {lines:#?}");
    for l in &lines {
        assert_no_duplicate_keys(l);
        assert!(
            !l.chars()
                .any(|c| (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}'),
            "raw control character or line separator in {l:?}"
        );
    }
    assert_eq!(records[0]["message"], s.as_str());
    for r in &records {
        assert_eq!(r["span"], "sp\"an\n");
        assert_eq!(r["span_value"], s.as_str());
    }
    let f = one(&records, "fields");
    assert_eq!(f["plain"], s.as_str());
    assert_eq!(f["display"], s.as_str());
    assert_eq!(f["debug"], format!("{weird:?}"));
    assert_eq!(f["error"], s.as_str());
    let n = one(&records, "names");
    assert_eq!(n["weird \"key\"\n"], 1);
    assert_eq!(n["tab\tkey\\"], 2);
    assert_eq!(n["emoji🎉"], 3);
    assert_eq!(n["sep\u{2028}key"], 4);
    assert_eq!(n["nul\u{0}key"], 5);
    assert_eq!(one(&records, "odd target")["target"], "tar\"get\u{1}");
}

#[test]
fn a_one_megabyte_field_is_written_whole_when_the_caps_allow_it() {
    // Larger than the default 1 MiB writer buffer, with characters that need escaping.
    let mut big = "x".repeat(1 << 20);
    big.push_str("\"\n\\🎉");
    big.insert_str(500_000, "\u{2028}\u{0}");
    let caps = |b: logwarden::Builder| b.max_line_bytes(4 << 20).max_field_bytes(2 << 20);
    let (lines, records) = capture_with(caps, || {
        tracing::info!("before");
        tracing::info!(blob = big.as_str(), "big");
        tracing::info!("after");
    });
    assert_eq!(lines.len(), 3);
    assert_eq!(one(&records, "big")["blob"], big.as_str());
    assert_eq!(records[0]["message"], "before");
    assert_eq!(records[2]["message"], "after");
}

#[test]
fn events_without_a_message_have_an_empty_message() {
    let (lines, records) = capture(|| {
        tracing::info!(a = 1);
        tracing::info!("");
        tracing::event!(tracing::Level::ERROR, code = 7);
    });
    assert_eq!(records.len(), 3);
    for (l, r) in lines.iter().zip(&records) {
        assert_eq!(r["message"], "", "{r}");
        assert_eq!(keys(l)[2], "message");
    }
    assert_eq!(records[0]["a"], 1);
    assert_eq!(records[2]["level"], "ERROR");
    assert_eq!(records[2]["code"], 7);
}

/// A `Debug` impl that logs while it is being formatted.
struct LogsWhileFormatted;

impl fmt::Debug for LogsWhileFormatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::warn!(inner = true, "logged from Debug");
        f.write_str("formatted \"fine\"")
    }
}

#[test]
fn a_debug_impl_that_logs_neither_panics_nor_deadlocks() {
    // Under a scoped (`with_default`) dispatcher, tracing-core itself routes an event raised
    // inside the subscriber to the no-op dispatcher, so only the outer event can arrive here;
    // tests/global/reentrancy.rs checks that both are written under the global dispatcher.
    let (lines, records) = within(Duration::from_secs(30), "logging from a Debug impl", || {
        capture(|| {
            let span = tracing::info_span!("s", v = ?LogsWhileFormatted);
            let _e = span.enter();
            span.record("v", tracing::field::debug(LogsWhileFormatted));
            tracing::info!(value = ?LogsWhileFormatted, "outer");
            tracing::info!("next");
        })
    });
    for l in &lines {
        assert_no_duplicate_keys(l);
    }
    let outer = one(&records, "outer");
    assert_eq!(outer["value"], "formatted \"fine\"");
    assert_eq!(outer["v"], "formatted \"fine\"");
    assert!(outer.get("inner").is_none(), "{outer}");
    assert_eq!(one(&records, "next")["v"], "formatted \"fine\"");
}

#[test]
fn two_json_layers_in_one_stack_share_span_fields_without_panicking() {
    use tracing_subscriber::layer::SubscriberExt;
    let dir = tempfile::tempdir().unwrap();
    let (layer, guard) = logwarden::builder()
        .service("twice")
        .dir(dir.path())
        .capture_log(false)
        .build()
        .unwrap();
    let second = logwarden::JsonLayer::new(std::io::sink).service("second");
    let subscriber = tracing_subscriber::registry().with(layer).with(second);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", trace_id = "abc", status = tracing::field::Empty);
        let _e = span.enter();
        span.record("status", 200);
        tracing::info!("inside");
    });
    assert!(guard.flush());
    let records = support::read_records(guard.log_path().unwrap());
    let r = support::one(&records, "inside");
    assert_eq!(r["trace_id"], "abc");
    assert_eq!(r["status"], 200);
}

#[test]
fn keys_that_need_escaping_are_escaped_every_time_they_are_logged() {
    // The second and third events find the key's decision cached for this thread: the cached
    // path must escape exactly as the first did.
    let (lines, records) = support::capture(|| {
        for _ in 0..3 {
            tracing::info!(
                { "quote\"key" = 1_u64, "tab\tkey" = 2_u64, "sep\u{2028}key" = 3_u64, "é" = 4_u64, plain = 5_u64 },
                "escaped keys"
            );
        }
    });
    assert_eq!(records.len(), 3, "{lines:?}");
    for (line, r) in lines.iter().zip(&records) {
        assert!(!line.contains('\t') && !line.contains('\u{2028}'), "{line}");
        assert!(line.contains(r#""quote\"key":1"#), "{line}");
        assert_eq!(r["quote\"key"], 1, "{line}");
        assert_eq!(r["tab\tkey"], 2, "{line}");
        assert_eq!(r["sep\u{2028}key"], 3, "{line}");
        assert_eq!(r["é"], 4, "{line}");
        assert_eq!(r["plain"], 5, "{line}");
    }
}
