//! The report's chart: events per minute by level as stacked areas, with the incidents as shaded
//! bands on the same UTC time axis, drawn by `plotters` into an SVG string.
//!
//! Text needs no font feature: plotters' SVG backend writes labels as `<text>` elements that the
//! browser lays out, and without `ttf`/`ab_glyph` plotters only estimates their width (enough for
//! the label areas we size ourselves). So the chart renders offline, without system fonts.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::read::history::Summary;
use crate::read::line::Severity;

const MINUTE: i64 = 60_000_000;

/// At most this many buckets on the time axis: past it, minutes are averaged per bucket.
const MAX_BUCKETS: i64 = 300;

/// Bucket widths in minutes, the first that keeps the axis within [`MAX_BUCKETS`] wins; past the
/// last, whole days.
const BUCKET_MINUTES: [i64; 13] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880];

/// Tick spacings in minutes: the first that gives at most [`MAX_TICKS`] ticks wins.
const TICK_MINUTES: [i64; 14] = [
    1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080,
];
const MAX_TICKS: i64 = 9;

/// Pixel size of the SVG (its `viewBox`; the page scales it to the container's width), and the
/// height of its upper panel.
const SIZE: (u32, u32) = (1120, 580);
const UPPER_HEIGHT: u32 = 380;

/// Stacking order, bottom first: errors on the baseline where they are easiest to read.
pub(super) const STACK: [Severity; 6] = [
    Severity::Error,
    Severity::Warn,
    Severity::Info,
    Severity::Debug,
    Severity::Trace,
    Severity::Unknown,
];

/// The fill of each level, also used by the page's legend.
pub(super) fn color(severity: Severity) -> RGBColor {
    match severity {
        Severity::Error => RGBColor(0xd6, 0x33, 0x3a),
        Severity::Warn => RGBColor(0xf2, 0xa5, 0x1a),
        Severity::Info => RGBColor(0x4e, 0x79, 0xa7),
        Severity::Debug => RGBColor(0x76, 0xb7, 0xb2),
        Severity::Trace => RGBColor(0xb0, 0x7a, 0xa1),
        Severity::Unknown => RGBColor(0xa0, 0xa0, 0xa0),
    }
}

/// The width of one character of a band's label, in pixels (a generous estimate for a bold
/// 14.5 px sans-serif: the browser lays the text out, plotters cannot measure it).
const LABEL_CHAR_PX: i32 = 10;

/// The incidents' bands.
pub(super) const BAND: RGBColor = RGBColor(0x6b, 0x0f, 0x3a);

/// The events of the input, on a time axis of equal buckets.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Series {
    /// Start of the axis and of the first bucket (microseconds, UTC).
    pub(super) start: i64,
    /// End of the axis: the end of the last bucket.
    pub(super) end: i64,
    /// Bucket width in minutes.
    pub(super) bucket_minutes: i64,
    /// Per bucket (oldest first): events per minute by [`Severity::index`], averaged over the
    /// bucket's minutes that lie within the input.
    pub(super) rates: Vec<[f64; Severity::ALL.len()]>,
}

impl Series {
    /// `None` when there is nothing with a time to chart.
    pub(super) fn of(summary: &Summary) -> Option<Series> {
        let (&first, _) = summary.per_minute.first_key_value()?;
        let (&last, _) = summary.per_minute.last_key_value()?;
        let data_end = last + MINUTE;
        // The axis also covers every incident, so that no band falls off it.
        let lo = summary
            .incidents
            .iter()
            .map(|i| i.opened_at)
            .fold(first, i64::min);
        let hi = summary
            .incidents
            .iter()
            .filter_map(|i| i.resolved_at.or(i.stopped_at))
            .fold(data_end, i64::max);
        let span_minutes = (hi - lo + MINUTE - 1) / MINUTE;
        let bucket_minutes = bucket_minutes(span_minutes);
        let width = bucket_minutes * MINUTE;
        let start = lo.div_euclid(width) * width;
        let end = (hi + width - 1).div_euclid(width) * width;
        let count = ((end - start) / width) as usize;
        let mut sums = vec![[0u64; Severity::ALL.len()]; count];
        for (&minute, counts) in &summary.per_minute {
            let slot = &mut sums[((minute - start) / width) as usize];
            for (sum, n) in slot.iter_mut().zip(counts) {
                *sum += n;
            }
        }
        let rates = sums
            .iter()
            .enumerate()
            .map(|(k, sums)| {
                // Only the minutes the input covers: a half-covered bucket at either end is not
                // diluted by minutes nobody logged in.
                let b0 = start + k as i64 * width;
                let covered = ((b0 + width).min(data_end) - b0.max(first)) / MINUTE;
                let minutes = covered.max(1) as f64;
                sums.map(|n| n as f64 / minutes)
            })
            .collect();
        Some(Series {
            start,
            end,
            bucket_minutes,
            rates,
        })
    }

    /// The y axis's description.
    pub(super) fn y_desc(&self) -> String {
        match self.bucket_minutes {
            1 => "events per minute".to_owned(),
            m if m % 1440 == 0 => {
                format!("events per minute, averaged per {}-day bucket", m / 1440)
            }
            m if m % 60 == 0 => format!("events per minute, averaged per {}-hour bucket", m / 60),
            m => format!("events per minute, averaged per {m}-minute bucket"),
        }
    }

    /// The stacked tops, bottom layer first: for each of [`STACK`], its cumulative rate per
    /// bucket.
    fn stacked(&self) -> Vec<(Severity, Vec<f64>)> {
        let mut below = vec![0.0; self.rates.len()];
        STACK
            .iter()
            .map(|&severity| {
                for (acc, rates) in below.iter_mut().zip(&self.rates) {
                    *acc += rates[severity.index()];
                }
                (severity, below.clone())
            })
            .collect()
    }
}

fn bucket_minutes(span_minutes: i64) -> i64 {
    BUCKET_MINUTES
        .iter()
        .copied()
        .find(|b| div_ceil(span_minutes, *b) <= MAX_BUCKETS)
        .unwrap_or_else(|| div_ceil(div_ceil(span_minutes, MAX_BUCKETS), 1440) * 1440)
}

/// `a / b` rounded up, for `a >= 0` and `b > 0` (`i64::div_ceil` is not stable).
fn div_ceil(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// Ticks on whole UTC minutes, hours or days, at most [`MAX_TICKS`] of them.
fn ticks(start: i64, end: i64) -> (i64, Vec<i64>) {
    let span = (end - start) / MINUTE;
    let step = TICK_MINUTES
        .iter()
        .copied()
        .find(|s| span / s < MAX_TICKS)
        .unwrap_or_else(|| div_ceil(span / MAX_TICKS, 1440) * 1440)
        * MINUTE;
    let first = (start + step - 1).div_euclid(step) * step;
    let points = (0..)
        .map(|k| first + k * step)
        .take_while(|t| *t <= end)
        .collect();
    (step, points)
}

/// `HH:MM`, with the date in front when the axis spans more than one day.
fn tick_label(micros: i64, with_date: bool) -> String {
    let text = crate::timestamp::rfc3339_seconds(micros);
    // YYYY-MM-DDTHH:MM:SSZ
    if with_date {
        format!("{} {}", &text[5..10], &text[11..16])
    } else {
        text[11..16].to_owned()
    }
}

/// The chart as an `<svg>` element.
pub(super) fn svg(summary: &Summary, series: &Series) -> Result<String, String> {
    let mut out = String::new();
    plot(&mut out, summary, series).map_err(|e| e.to_string())?;
    // plotters sizes the SVG in pixels; the page's CSS scales it to the width of the container.
    let described = r#"<svg role="img" aria-labelledby="chart-title" "#;
    Ok(out.replacen("<svg ", described, 1))
}

fn plot(
    out: &mut String,
    summary: &Summary,
    series: &Series,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(UPPER_HEIGHT);
    let first_day = series.start.div_euclid(1440 * MINUTE);
    let last_day = (series.end - 1).div_euclid(1440 * MINUTE);
    let with_date = first_day != last_day;
    let x_desc = if with_date {
        "time (UTC)".to_owned()
    } else {
        format!(
            "time (UTC), {}",
            &crate::timestamp::rfc3339_seconds(series.start)[..10]
        )
    };
    let all = Panel {
        layers: series.stacked(),
        y_desc: series.y_desc(),
        x_desc: None,
        band_labels: true,
    };
    all.draw(&upper, summary, series, with_date)?;
    let errors = Panel {
        layers: vec![(
            Severity::Error,
            series
                .rates
                .iter()
                .map(|r| r[Severity::Error.index()])
                .collect(),
        )],
        y_desc: "ERRORs per minute".to_owned(),
        x_desc: Some(x_desc),
        band_labels: false,
    };
    errors.draw(&lower, summary, series, with_date)?;
    root.present()?;
    Ok(())
}

/// One chart of the SVG: the stack of all levels above, the ERRORs alone (on their own scale,
/// where the incidents' cause shows) below; both on the same time axis, with the same bands.
struct Panel {
    /// Cumulative tops, bottom layer first.
    layers: Vec<(Severity, Vec<f64>)>,
    y_desc: String,
    /// The time axis's labels and description, for the bottom panel only.
    x_desc: Option<String>,
    /// Whether to write `#1`, `#2 open`… above the bands.
    band_labels: bool,
}

impl Panel {
    fn draw(
        &self,
        area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
        summary: &Summary,
        series: &Series,
        with_date: bool,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let peak = self
            .layers
            .last()
            .map(|(_, tops)| tops.iter().copied().fold(0.0, f64::max))
            .unwrap_or(0.0);
        let y_max = nice_ceiling(peak * 1.08);
        let (_, ticks) = ticks(series.start, series.end);
        let mut chart = ChartBuilder::on(area)
            .margin_top(if self.band_labels { 30 } else { 12 })
            .margin_right(24)
            .margin_left(8)
            .margin_bottom(if self.x_desc.is_some() { 8 } else { 0 })
            .x_label_area_size(if self.x_desc.is_some() { 54 } else { 0 })
            .y_label_area_size(72)
            .build_cartesian_2d(
                (series.start..series.end).with_key_points(ticks),
                0f64..y_max,
            )?;
        let x_format = |t: &i64| tick_label(*t, with_date);
        let y_format = |y: &f64| {
            if y_max < 10.0 {
                format!("{y:.1}")
            } else {
                format!("{y:.0}")
            }
        };
        let ink = RGBColor(0x44, 0x44, 0x44);
        let mut mesh = chart.configure_mesh();
        mesh.x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .y_labels(if self.band_labels { 6 } else { 3 })
            .y_desc(self.y_desc.as_str())
            .label_style(("sans-serif", 18).into_font().color(&ink))
            .axis_desc_style(("sans-serif", 18).into_font().color(&ink))
            .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
            .light_line_style(TRANSPARENT)
            .axis_style(RGBColor(0x88, 0x88, 0x88));
        if let Some(x_desc) = &self.x_desc {
            mesh.x_desc(x_desc.as_str());
        }
        mesh.draw()?;

        // Topmost layer first, each lower one painted over it: the visible band of a layer is
        // its own count. Steps, not slopes: a bucket's rate holds for the whole bucket.
        let width = series.bucket_minutes * MINUTE;
        for (severity, tops) in self.layers.iter().rev() {
            if tops.iter().all(|v| *v == 0.0) {
                continue;
            }
            let points = tops.iter().enumerate().flat_map(|(k, v)| {
                let b0 = series.start + k as i64 * width;
                [(b0, *v), (b0 + width, *v)]
            });
            chart.draw_series(AreaSeries::new(points, 0.0, color(*severity).filled()))?;
        }

        // Incidents on top, translucent, so the stack stays readable beneath; an open one runs
        // to the end of the axis, one its process stopped with to the stop.
        let label_style = ("sans-serif", 18)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BAND);
        let span = series.end - series.start;
        let mut next_label_px = i32::MIN;
        for (n, incident) in summary.incidents.iter().enumerate() {
            let x0 = incident.opened_at.clamp(series.start, series.end);
            let x1 = incident
                .resolved_at
                .or(incident.stopped_at)
                .unwrap_or(series.end)
                .clamp(x0, series.end);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y_max), (x1, 0.0)],
                BAND.mix(0.16).filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x0, 0.0), (x0, y_max)],
                BAND.mix(0.7).stroke_width(1),
            )))?;
            if !self.band_labels {
                continue;
            }
            let label = match (incident.resolved_at, incident.stopped_at) {
                (Some(_), _) => format!("#{}", n + 1),
                (None, Some(_)) => format!("#{} stopped", n + 1),
                (None, None) => format!("#{} open", n + 1),
            };
            // Near the right edge the label ends where the band ends, so it stays on the page.
            // A label that would run into the previous one is left out (the table has them all).
            let right = (x0 - series.start) * 10 > span * 9;
            let anchor = if right { x1 } else { x0 };
            let px = chart.backend_coord(&(anchor, y_max)).0;
            let width = label.chars().count() as i32 * LABEL_CHAR_PX;
            let (from, to) = if right {
                (px - 3 - width, px)
            } else {
                (px, px + 3 + width)
            };
            if from < next_label_px {
                continue;
            }
            next_label_px = to + 6;
            let element = if right {
                let style = label_style.pos(Pos::new(HPos::Right, VPos::Top));
                EmptyElement::at((x1, y_max)) + Text::new(label, (-3, -22), style)
            } else {
                EmptyElement::at((x0, y_max)) + Text::new(label, (3, -22), label_style.clone())
            };
            chart.draw_series(std::iter::once(element))?;
        }
        Ok(())
    }
}

/// 1, 2 or 5 times a power of ten, at least `v` (and at least 1).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 1.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

/// Counts per minute for tests and the README picture: the minute start to counts.
#[cfg(test)]
pub(super) fn minutes(
    entries: impl IntoIterator<Item = (i64, Severity, u64)>,
) -> std::collections::BTreeMap<i64, [u64; Severity::ALL.len()]> {
    let mut map = std::collections::BTreeMap::new();
    for (at, severity, n) in entries {
        let slot: &mut [u64; 6] = map.entry(at.div_euclid(MINUTE) * MINUTE).or_default();
        slot[severity.index()] += n;
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::history::{Incident, Source};
    use std::collections::BTreeMap;

    const T0: i64 = 1_795_600_800_000_000; // 2026-11-25T10:00:00Z

    fn summary(per_minute: BTreeMap<i64, [u64; 6]>) -> Summary {
        Summary {
            incidents: Vec::new(),
            source: Source::Records,
            per_minute,
            top_errors: Vec::new(),
            first_at: None,
            last_at: None,
            lines: 0,
            skipped: 0,
            errors: 0,
            bytes: 0,
            files: Vec::new(),
            unread: 0,
        }
    }

    #[test]
    fn short_spans_keep_one_bucket_per_minute() {
        let s = summary(minutes([
            (T0, Severity::Info, 3),
            (T0 + 10 * MINUTE, Severity::Error, 2),
        ]));
        let series = Series::of(&s).unwrap();
        assert_eq!(series.bucket_minutes, 1);
        assert_eq!((series.start, series.end), (T0, T0 + 11 * MINUTE));
        assert_eq!(series.rates.len(), 11);
        assert_eq!(series.rates[0][Severity::Info.index()], 3.0);
        assert_eq!(series.rates[10][Severity::Error.index()], 2.0);
        assert_eq!(series.y_desc(), "events per minute");
    }

    #[test]
    fn long_spans_are_averaged_per_bucket_and_say_so() {
        // Two days: 2880 minutes, so 10-minute buckets (288 of them).
        let s = summary(minutes(
            (0..2880).map(|m| (T0 + m * MINUTE, Severity::Info, m as u64 % 2 * 10)),
        ));
        let series = Series::of(&s).unwrap();
        assert_eq!(series.bucket_minutes, 10);
        assert!(series.rates.len() as i64 <= MAX_BUCKETS);
        // 5 of each 10 minutes log 10 lines: 5 per minute on average.
        assert_eq!(series.rates[0][Severity::Info.index()], 5.0);
        assert_eq!(
            series.y_desc(),
            "events per minute, averaged per 10-minute bucket"
        );
    }

    #[test]
    fn a_bucket_is_averaged_over_the_minutes_the_input_covers() {
        // 1000 minutes need 5-minute buckets; starting at 10:02, the first bucket (10:00) holds
        // 3 minutes of input and the last (02:40) 2: both average to the steady 6 per minute.
        let start = T0 + 2 * MINUTE;
        let s = summary(minutes(
            (0..1000).map(|m| (start + m * MINUTE, Severity::Warn, 6)),
        ));
        let series = Series::of(&s).unwrap();
        assert_eq!(series.bucket_minutes, 5);
        assert_eq!(series.start, T0);
        assert_eq!(series.rates[0][Severity::Warn.index()], 6.0);
        assert_eq!(series.rates.last().unwrap()[Severity::Warn.index()], 6.0);
    }

    #[test]
    fn the_axis_covers_every_incident() {
        let mut s = summary(minutes([(T0 + 30 * MINUTE, Severity::Error, 1)]));
        s.incidents.push(Incident {
            service: None,
            first_error_at: T0,
            opened_at: T0 + 5 * MINUTE,
            first_alert_at: T0 + 5 * MINUTE,
            resolved_at: Some(T0 + 50 * MINUTE),
            stopped_at: None,
            errors: 5,
            top_message: "x".into(),
        });
        let series = Series::of(&s).unwrap();
        assert_eq!(
            (series.start, series.end),
            (T0 + 5 * MINUTE, T0 + 50 * MINUTE)
        );
    }

    #[test]
    fn nothing_with_a_time_is_no_series() {
        assert_eq!(Series::of(&summary(BTreeMap::new())), None);
    }

    #[test]
    fn ticks_fall_on_whole_utc_units() {
        let (step, points) = ticks(T0 + 7 * MINUTE, T0 + 127 * MINUTE);
        assert_eq!(step, 15 * MINUTE);
        assert_eq!(points.first(), Some(&(T0 + 15 * MINUTE)));
        assert!(points.len() as i64 <= MAX_TICKS);
        assert_eq!(tick_label(T0 + 15 * MINUTE, false), "10:15");
        assert_eq!(tick_label(T0 + 15 * MINUTE, true), "11-25 10:15");
    }

    #[test]
    fn buckets_never_exceed_the_cap() {
        for span in [1, 299, 300, 301, 1500, 3001, 100_000, 10_000_000] {
            let b = bucket_minutes(span);
            assert!(div_ceil(span, b) <= MAX_BUCKETS, "span {span}: bucket {b}");
        }
        assert_eq!(bucket_minutes(300), 1);
        assert_eq!(bucket_minutes(301), 2);
    }

    #[test]
    fn band_labels_that_would_collide_are_left_out() {
        // A day of input: incidents #1 and #2 a minute apart, #3 hours later.
        let mut s = summary(minutes(
            (0..1440).map(|m| (T0 + m * MINUTE, Severity::Info, 1)),
        ));
        for opened in [60, 61, 600] {
            s.incidents.push(Incident {
                service: None,
                first_error_at: T0 + opened * MINUTE,
                opened_at: T0 + opened * MINUTE,
                first_alert_at: T0 + opened * MINUTE,
                resolved_at: Some(T0 + (opened + 1) * MINUTE),
                stopped_at: None,
                errors: 5,
                top_message: "x".into(),
            });
        }
        let svg = svg(&s, &Series::of(&s).unwrap()).unwrap();
        assert!(svg.contains(">\n#1\n</text>"), "{svg}");
        assert!(!svg.contains(">\n#2\n</text>"), "{svg}");
        assert!(svg.contains(">\n#3\n</text>"), "{svg}");
        // Every band is drawn, labelled or not: three translucent rectangles per panel.
        assert_eq!(svg.matches("opacity=\"0.16\"").count(), 6, "{svg}");
    }

    #[test]
    fn the_svg_has_axes_levels_and_bands() {
        let mut s = summary(minutes([
            (T0, Severity::Info, 30),
            (T0 + 20 * MINUTE, Severity::Error, 8),
        ]));
        s.incidents.push(Incident {
            service: None,
            first_error_at: T0 + 19 * MINUTE,
            opened_at: T0 + 20 * MINUTE,
            first_alert_at: T0 + 20 * MINUTE,
            resolved_at: None,
            stopped_at: None,
            errors: 8,
            top_message: "x".into(),
        });
        let series = Series::of(&s).unwrap();
        let svg = svg(&s, &series).unwrap();
        assert!(svg.starts_with("<svg role=\"img\""), "{svg}");
        assert!(svg.contains(">\nevents per minute\n</text>"), "{svg}");
        assert!(svg.contains("time (UTC), 2026-11-25"), "{svg}");
        assert!(svg.contains(">\n10:00\n</text>"), "{svg}");
        assert!(svg.contains("#1 open"), "{svg}");
        for severity in [Severity::Info, Severity::Error] {
            let RGBColor(r, g, b) = color(severity);
            assert!(svg.contains(&format!("fill=\"#{r:02X}{g:02X}{b:02X}\"")));
        }
    }
}
