//! Hand-written SVG charts: horizontal bars and lines. Coordinates are printed with one
//! decimal, so the same input draws the same bytes.

use std::fmt::Write as _;

use crate::input::Level;
use crate::text::{compact, escape};

/// Width of every chart, in SVG user units.
const WIDTH: f64 = 760.0;

/// One bar of a bar chart.
#[derive(Debug, Clone, Default)]
pub struct Bar {
    /// Its label (left of the bar).
    pub label: String,
    /// Its length.
    pub value: f64,
    /// The value as printed (right of the chart).
    pub text: String,
    /// The level of an alert on it, which colours it.
    pub level: Option<Level>,
}

/// Decorations of a bar chart.
#[derive(Debug, Clone, Default)]
pub struct BarOptions {
    /// A reference line: its value and label (ROI 1.0).
    pub reference: Option<(f64, String)>,
    /// A shaded band from one value to another (the ±10% deviation band).
    pub band: Option<(f64, f64)>,
}

/// Width of a character in half-em units: CJK and other wide characters take two.
fn units(c: char) -> usize {
    if c >= '\u{2E80}' {
        2
    } else {
        1
    }
}

/// Cuts a label to `max` half-em units (about 6 px each at 12 px), with an ellipsis, so
/// Chinese and Latin labels fit the same space.
fn clip(s: &str, max: usize) -> String {
    if s.chars().map(units).sum::<usize>() <= max {
        return s.to_string();
    }
    let mut t = String::new();
    let mut used = 1; // the ellipsis
    for c in s.chars() {
        used += units(c);
        if used > max {
            break;
        }
        t.push(c);
    }
    t.push('…');
    t
}

/// A horizontal bar chart, one row per bar, in the order given.
pub fn bars(out: &mut String, title: &str, bars: &[Bar], opts: &BarOptions) {
    let row = 20.0;
    let top = 18.0;
    let height = top + row * bars.len().max(1) as f64 + 8.0;
    let (x0, x1) = (200.0, WIDTH - 120.0);
    let mut lo = 0.0f64;
    let mut hi = 0.0f64;
    for b in bars {
        lo = lo.min(b.value);
        hi = hi.max(b.value);
    }
    if let Some((a, b)) = opts.band {
        lo = lo.min(a);
        hi = hi.max(b);
    }
    if let Some((r, _)) = &opts.reference {
        lo = lo.min(*r);
        hi = hi.max(*r);
    }
    if hi - lo <= f64::EPSILON {
        hi = lo + 1.0;
    }
    let x = |v: f64| x0 + (v - lo) / (hi - lo) * (x1 - x0);
    let _ = write!(
        out,
        r#"<svg class="bars" viewBox="0 0 {WIDTH} {height:.1}" width="{WIDTH}" height="{height:.1}" role="img" aria-label="{}">"#,
        escape(title)
    );
    if bars.is_empty() {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="muted">no values</text></svg>"#,
            x0,
            top + 12.0
        );
        return;
    }
    if let Some((a, b)) = opts.band {
        let _ = write!(
            out,
            r#"<rect class="band" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/>"#,
            x(a),
            top - 4.0,
            (x(b) - x(a)).max(0.0),
            height - top
        );
    }
    let zero = x(0.0);
    let _ = write!(
        out,
        r#"<line class="axis" x1="{zero:.1}" y1="{:.1}" x2="{zero:.1}" y2="{:.1}"/>"#,
        top - 4.0,
        height - 4.0
    );
    for (i, b) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let (a, c) = if b.value < 0.0 {
            (x(b.value), zero)
        } else {
            (zero, x(b.value))
        };
        let class = b.level.map_or("bar", |l| match l {
            Level::Ok => "bar lv-ok",
            Level::Watch => "bar lv-watch",
            Level::Review => "bar lv-review",
            Level::Critical => "bar lv-critical",
        });
        let _ = write!(
            out,
            r#"<text class="lbl" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="{class}" x="{a:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{}: {}</title></rect><text class="val" x="{:.1}" y="{:.1}">{}</text>"#,
            x0 - 6.0,
            y + 13.0,
            escape(&clip(&b.label, 30)),
            y + 2.0,
            (c - a).max(0.5),
            row - 5.0,
            escape(&b.label),
            escape(&b.text),
            x1 + 8.0,
            y + 13.0,
            escape(&b.text)
        );
    }
    if let Some((r, label)) = &opts.reference {
        let xr = x(*r);
        let _ = write!(
            out,
            r#"<line class="ref" x1="{xr:.1}" y1="{:.1}" x2="{xr:.1}" y2="{:.1}"/><text class="muted" x="{:.1}" y="{:.1}">{}</text>"#,
            top - 6.0,
            height - 4.0,
            xr + 3.0,
            top - 8.0,
            escape(label)
        );
    }
    out.push_str("</svg>");
}

/// One line of a line chart: its name and its points `(x, y)`, by x.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Its name (the legend).
    pub name: String,
    /// Its points.
    pub points: Vec<(f64, f64)>,
}

/// Decorations of a line chart.
#[derive(Debug, Clone, Default)]
pub struct LineOptions {
    /// Labels on the x axis: position and text.
    pub x_labels: Vec<(f64, String)>,
    /// The x range drawn.
    pub x_range: (f64, f64),
    /// A marked point: x, y and its label (the whale curve's peak).
    pub marker: Option<(f64, f64, String)>,
    /// Dots on every point (for short series).
    pub dots: bool,
}

/// Colours of the series, in order (repeating).
const PALETTE: [&str; 8] = [
    "#3b6fb6", "#d9822b", "#4c9a6a", "#b0413e", "#7d5ba6", "#2f9c9c", "#a1887f", "#6d6d6d",
];

/// A line chart of one or more series on shared axes (the legend has room for five).
pub fn lines(out: &mut String, title: &str, series: &[Series], opts: &LineOptions) {
    let height = 260.0;
    let (left, right, top, bottom) = (78.0, WIDTH - 36.0, 14.0, height - 40.0);
    let mut lo = 0.0f64;
    let mut hi = 0.0f64;
    for s in series {
        for &(_, y) in &s.points {
            lo = lo.min(y);
            hi = hi.max(y);
        }
    }
    if hi - lo <= f64::EPSILON {
        hi = lo + 1.0;
    }
    let (xa, xb) = if opts.x_range.1 > opts.x_range.0 {
        opts.x_range
    } else {
        (opts.x_range.0, opts.x_range.0 + 1.0)
    };
    let px = |v: f64| left + (v - xa) / (xb - xa) * (right - left);
    let py = |v: f64| bottom - (v - lo) / (hi - lo) * (bottom - top);
    let _ = write!(
        out,
        r#"<svg class="lines" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="{}">"#,
        escape(title)
    );
    for i in 0..=4 {
        let v = lo + (hi - lo) * f64::from(i) / 4.0;
        let y = py(v);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + 4.0,
            escape(&compact(v))
        );
    }
    if lo < 0.0 {
        let y = py(0.0);
        let _ = write!(
            out,
            r#"<line class="axis" x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}"/>"#
        );
    }
    for (x, label) in &opts.x_labels {
        let _ = write!(
            out,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            px(*x),
            bottom + 16.0,
            escape(label)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let mut pts = String::with_capacity(s.points.len() * 14);
        for &(x, y) in &s.points {
            let _ = write!(pts, "{:.1},{:.1} ", px(x), py(y));
        }
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            pts.trim_end(),
            escape(&s.name)
        );
        if opts.dots {
            for &(x, y) in &s.points {
                let _ = write!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}"/>"#,
                    px(x),
                    py(y)
                );
            }
        }
        if series.len() > 1 {
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/><text class="tick" x="{:.1}" y="{:.1}">{}</text>"#,
                left + 8.0 + 120.0 * (i % 5) as f64,
                height - 14.0,
                left + 22.0 + 120.0 * (i % 5) as f64,
                height - 5.0,
                escape(&clip(&s.name, 16))
            );
        }
    }
    if let Some((x, y, label)) = &opts.marker {
        let (cx, cy) = (px(*x), py(*y));
        let anchor = if cx > (left + right) / 2.0 {
            "end"
        } else {
            "start"
        };
        let dx = if anchor == "end" { -8.0 } else { 8.0 };
        let _ = write!(
            out,
            r#"<circle class="peak" cx="{cx:.1}" cy="{cy:.1}" r="5"/><text class="val" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            cx + dx,
            (cy + 16.0).min(bottom - 4.0),
            escape(label)
        );
    }
    out.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_escape_labels_and_draw_negative_values() {
        let mut s = String::new();
        let data = [
            Bar {
                label: "<a>&\"".into(),
                value: -2.0,
                text: "-2".into(),
                level: Some(Level::Critical),
            },
            Bar {
                label: "微信广告".into(),
                value: 4.0,
                text: "4.00".into(),
                level: None,
            },
        ];
        bars(&mut s, "t", &data, &BarOptions::default());
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("&lt;a&gt;&amp;&quot;"));
        assert!(!s.contains("<a>"));
        assert!(s.contains("bar lv-critical"));
        assert!(s.contains("微信广告"));
        assert!(!s.contains("NaN") && !s.contains("inf"));
    }

    #[test]
    fn empty_charts_draw_without_nan() {
        let mut s = String::new();
        bars(&mut s, "t", &[], &BarOptions::default());
        lines(&mut s, "t", &[], &LineOptions::default());
        lines(
            &mut s,
            "t",
            &[Series {
                name: "one".into(),
                points: vec![(0.0, 5.0)],
            }],
            &LineOptions::default(),
        );
        assert_eq!(s.matches("<svg").count(), 3);
        assert!(!s.contains("NaN") && !s.contains("inf"));
    }

    #[test]
    fn long_labels_are_clipped_by_width() {
        assert_eq!(clip("微信广告", 30), "微信广告");
        let long = "2025年终品鉴季 · 微信广告 · 抖音达人投放";
        let c = clip(long, 30);
        assert!(
            c.ends_with('…') && c.chars().map(units).sum::<usize>() <= 31,
            "{c}"
        );
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
