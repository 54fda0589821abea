//! The geometry of the dashboard's SVG charts, pure: a line chart over the last seconds (one
//! or more series, `None` leaving a gap) and a bar chart, each as a `Chart` of coordinates,
//! axis ticks with "nice" round labels, and `<title>` tooltip texts, which the templates
//! (`templates/inference/charts.html`) turn into SVG elements. Everything is computed on the
//! server; the browser draws what it is sent and runs no chart code.
//!
//! Not here: markup (the templates escape every text), reading samples (`web/`). Tests: below.

use serde::Serialize;

/// The drawing area of every chart, in SVG user units (the SVG scales to its box).
pub const CHART_WIDTH: f64 = 600.0;
pub const CHART_HEIGHT: f64 = 180.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;
const Y_TICKS: usize = 4;

/// What a chart's values are, for its labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Per second (requests/s).
    PerSecond,
    /// Microseconds, labelled in µs, ms or s.
    Micros,
    /// A plain count.
    Count,
}

impl Unit {
    pub fn label(self, value: f64) -> String {
        match self {
            Unit::PerSecond => format!("{}/s", short_number(value)),
            Unit::Count => short_number(value),
            Unit::Micros if value >= 1_000_000.0 => format!("{} s", short_number(value / 1e6)),
            Unit::Micros if value >= 1_000.0 => format!("{} ms", short_number(value / 1e3)),
            Unit::Micros => format!("{} µs", short_number(value)),
        }
    }
}

/// `12`, `2.5`, `0.25`, `1.2k`: at most three significant digits, no trailing zeros.
pub fn short_number(value: f64) -> String {
    if value >= 10_000.0 {
        return format!("{}k", short_number(value / 1000.0));
    }
    let text = if value >= 100.0 || value == value.trunc() {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `value` (1 for 0).
pub fn nice_ceiling(value: f64) -> f64 {
    if value.is_nan() || value <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * power >= value * (1.0 - 1e-9) {
            return step * power;
        }
    }
    10.0 * power
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tick {
    /// The position along its axis (x for x ticks, y for y ticks).
    pub at: f64,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Line {
    pub name: String,
    /// A CSS class naming the series' colour.
    pub class: String,
    /// Runs of `x,y` points (a `None` value ends a run), each an SVG `points` attribute.
    pub runs: Vec<String>,
}

/// An invisible column over one x position, carrying the tooltip of that second.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Column {
    pub x: f64,
    pub width: f64,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub label: String,
    pub title: String,
}

/// A chart ready for the template: plot box, ticks, lines or bars, tooltips.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub lines: Vec<Line>,
    pub columns: Vec<Column>,
    pub bars: Vec<Bar>,
    /// The largest value shown (the top of the y axis), labelled.
    pub y_max_label: String,
}

/// One series of a line chart: a value per second, oldest first (`None`: no value).
pub struct Series<'a> {
    pub name: &'a str,
    pub class: &'a str,
    pub values: Vec<Option<f64>>,
}

fn frame(y_max: f64, unit: Unit) -> Chart {
    let bottom = CHART_HEIGHT - BOTTOM;
    let y_ticks = (0..=Y_TICKS)
        .map(|i| {
            let value = y_max * i as f64 / Y_TICKS as f64;
            Tick {
                at: round2(bottom - (bottom - TOP) * i as f64 / Y_TICKS as f64),
                label: unit.label(value),
            }
        })
        .collect();
    Chart {
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        left: LEFT,
        right: CHART_WIDTH - RIGHT,
        top: TOP,
        bottom,
        y_ticks,
        x_ticks: Vec::new(),
        lines: Vec::new(),
        columns: Vec::new(),
        bars: Vec::new(),
        y_max_label: unit.label(y_max),
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// A line chart of the last `slots` seconds: the newest value at the right edge, x ticks in
/// seconds ago. `titles` holds one tooltip per second (as long as the series).
pub fn line_chart(slots: usize, series: &[Series<'_>], titles: &[String], unit: Unit) -> Chart {
    let slots = slots.max(2);
    let peak = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let y_max = nice_ceiling(peak);
    let mut chart = frame(y_max, unit);
    let step = (chart.right - chart.left) / (slots - 1) as f64;
    let x_of = |index: usize, len: usize| chart.right - (len - 1 - index) as f64 * step;
    let y_of = |value: f64| chart.bottom - (chart.bottom - chart.top) * (value / y_max).min(1.0);
    for s in series {
        let len = s.values.len().min(slots);
        let skip = s.values.len() - len;
        let mut runs = Vec::new();
        let mut run = String::new();
        for (index, value) in s.values[skip..].iter().enumerate() {
            match value {
                Some(value) => {
                    if !run.is_empty() {
                        run.push(' ');
                    }
                    let (x, y) = (round2(x_of(index, len)), round2(y_of(*value)));
                    run.push_str(&format!("{x},{y}"));
                }
                None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        chart.lines.push(Line {
            name: s.name.to_owned(),
            class: s.class.to_owned(),
            runs,
        });
    }
    let len = titles.len().min(slots);
    let skip = titles.len() - len;
    chart.columns = titles[skip..]
        .iter()
        .enumerate()
        .map(|(index, title)| Column {
            x: round2((x_of(index, len) - step / 2.0).max(chart.left)),
            width: round2(step),
            title: title.clone(),
        })
        .collect();
    let ago_step = (slots / 5).max(1);
    chart.x_ticks = (0..slots)
        .step_by(ago_step)
        .map(|ago| Tick {
            at: round2(chart.right - ago as f64 * step),
            label: if ago == 0 {
                "now".to_owned()
            } else {
                format!("-{ago}s")
            },
        })
        .collect();
    chart
}

/// A bar chart: one bar per label, heights scaled to the largest value.
pub fn bar_chart(labels: &[String], values: &[u64], unit: Unit, what: &str) -> Chart {
    let peak = values.iter().copied().max().unwrap_or(0) as f64;
    let y_max = nice_ceiling(peak);
    let mut chart = frame(y_max, unit);
    let count = labels.len().max(1);
    let slot = (chart.right - chart.left) / count as f64;
    let width = round2(slot * 0.7);
    for (index, label) in labels.iter().enumerate() {
        let value = values.get(index).copied().unwrap_or(0);
        let height = round2((chart.bottom - chart.top) * (value as f64 / y_max).min(1.0));
        let x = round2(chart.left + slot * index as f64 + (slot - width) / 2.0);
        chart.bars.push(Bar {
            x,
            y: round2(chart.bottom - height),
            width,
            height,
            label: label.clone(),
            title: format!("{label}: {value} {what}"),
        });
        chart.x_ticks.push(Tick {
            at: round2(x + width / 2.0),
            label: label.clone(),
        });
    }
    chart
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(1.2), 2.0);
        assert_eq!(nice_ceiling(2.2), 2.5);
        assert_eq!(nice_ceiling(42.0), 50.0);
        assert_eq!(nice_ceiling(7_300.0), 10_000.0);
    }

    #[test]
    fn labels_carry_their_unit() {
        assert_eq!(Unit::Micros.label(250.0), "250 µs");
        assert_eq!(Unit::Micros.label(2_500.0), "2.5 ms");
        assert_eq!(Unit::Micros.label(1_500_000.0), "1.5 s");
        assert_eq!(Unit::PerSecond.label(12.5), "12.5/s");
        assert_eq!(Unit::Count.label(25_000.0), "25k");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(3.0), "3");
    }

    #[test]
    fn a_line_chart_puts_the_newest_value_at_the_right_edge_and_scales_to_a_round_top() {
        let series = [Series {
            name: "rps",
            class: "s1",
            values: vec![Some(0.0), Some(21.0), Some(42.0)],
        }];
        let titles = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let chart = line_chart(11, &series, &titles, Unit::PerSecond);
        assert_eq!(chart.y_max_label, "50/s");
        assert_eq!(chart.y_ticks.len(), Y_TICKS + 1);
        assert_eq!(chart.y_ticks[0].label, "0/s");
        let points: Vec<&str> = chart.lines[0].runs[0].split(' ').collect();
        assert_eq!(points.len(), 3);
        let last: Vec<f64> = points[2].split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(last[0], chart.right);
        let expected_y = chart.bottom - (chart.bottom - chart.top) * 42.0 / 50.0;
        assert!((last[1] - expected_y).abs() < 0.01);
        let first: Vec<f64> = points[0].split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(first[1], chart.bottom, "zero on the axis");
        assert_eq!(chart.columns.len(), 3);
        assert_eq!(chart.columns[2].title, "c");
        assert_eq!(chart.x_ticks[0].label, "now");
        assert_eq!(chart.x_ticks[1].label, "-2s");
    }

    #[test]
    fn a_gap_in_a_series_splits_its_line() {
        let series = [Series {
            name: "p99",
            class: "s3",
            values: vec![Some(1.0), None, Some(2.0), Some(3.0)],
        }];
        let chart = line_chart(300, &series, &[], Unit::Micros);
        assert_eq!(chart.lines[0].runs.len(), 2);
        assert_eq!(chart.lines[0].runs[1].split(' ').count(), 2);
    }

    #[test]
    fn a_line_chart_shows_at_most_its_slots() {
        let values: Vec<Option<f64>> = (0..500).map(|v| Some(v as f64)).collect();
        let series = [Series {
            name: "x",
            class: "s1",
            values,
        }];
        let chart = line_chart(300, &series, &[], Unit::Count);
        assert_eq!(chart.lines[0].runs[0].split(' ').count(), 300);
        assert_eq!(chart.y_max_label, "500");
    }

    #[test]
    fn bars_scale_to_the_largest_value_with_a_tooltip_each() {
        let labels = vec!["1".to_owned(), "2".to_owned(), "4".to_owned()];
        let chart = bar_chart(&labels, &[10, 0, 5], Unit::Count, "batches");
        assert_eq!(chart.bars.len(), 3);
        assert_eq!(chart.bars[0].height, chart.bottom - chart.top);
        assert_eq!(chart.bars[1].height, 0.0);
        assert!((chart.bars[2].height - (chart.bottom - chart.top) / 2.0).abs() < 0.01);
        assert_eq!(chart.bars[2].title, "4: 5 batches");
        assert_eq!(chart.x_ticks[1].label, "2");
    }
}
