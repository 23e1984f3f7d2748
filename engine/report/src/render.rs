//! The report's sections, in order, as one HTML document.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use rust_decimal::Decimal;

use crate::chart::{self, Bar, BarOptions, LineOptions, Series};
use crate::digest::Digest;
use crate::input::{Alert, CustomerDetail, Kpi, Report, Trace};
use crate::text::{escape, float, money, percent};

/// KPIs drawn in the marketing section, in this order, when the pack has them.
pub const MARKETING_KPIS: [&str; 6] = [
    "channel_roi",
    "cac",
    "ltv_cac",
    "campaign_roi",
    "campaign_cac",
    "campaign_channel_roi",
];

/// The budget deviation band: a deviation within ±10% of the budget is on plan.
pub const DEVIATION_BAND: f64 = 0.10;

/// Group keys that make a KPI a time series (drawn in the trends section).
pub const PERIOD_KEYS: [&str; 3] = ["month", "quarter", "year"];

/// Most bars one chart draws; the rest are counted below it.
pub const MAX_BARS: usize = 40;

/// Most alerts the alerts table lists (most severe first); the rest are counted.
pub const MAX_ALERT_ROWS: usize = 300;

/// A trend line being gathered: its size (sum of absolute values) and points.
type Line = (Decimal, Vec<(f64, f64)>);

/// Most series one trend chart draws (the largest by total).
const MAX_SERIES: usize = 5;

const STYLE: &str = r#"
:root{--ink:#1f2933;--muted:#6b7785;--line:#d8dee6;--bar:#3b6fb6;--ok:#4c9a6a;--watch:#c9a100;--review:#e07b00;--critical:#c62828}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:24px;color:var(--ink);background:#fff;
font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",sans-serif;font-size:14px;line-height:1.45}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:16px 0 4px}
.muted,.note{color:var(--muted)}nav a{margin-right:12px}a{color:#24598f}
.tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{border:1px solid var(--line);border-left:5px solid var(--line);border-radius:4px;padding:8px 12px;min-width:190px}
.tile .v{font-size:20px;font-weight:600}.tile .n{color:var(--muted);font-size:12px}.tile.lv-ok{border-left-color:var(--ok)}.tile.lv-watch{border-left-color:var(--watch)}.tile.lv-review{border-left-color:var(--review)}.tile.lv-critical{border-left-color:var(--critical)}
.row{display:flex;flex-wrap:wrap;gap:16px}
table{border-collapse:collapse;margin:6px 0}th,td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.lvl{font-weight:600}.lvl.ok{color:var(--ok)}.lvl.watch{color:var(--watch)}.lvl.review{color:var(--review)}.lvl.critical{color:var(--critical)}
svg{max-width:100%;height:auto;font-family:inherit;font-size:12px}svg .lbl,svg .val{fill:var(--ink)}svg .tick,svg .muted{fill:var(--muted);font-size:11px}
svg .bar{fill:var(--bar)}svg .lv-ok{fill:var(--ok)}svg .lv-watch{fill:var(--watch)}svg .lv-review{fill:var(--review)}svg .lv-critical{fill:var(--critical)}
svg .axis{stroke:#8894a0}svg .grid{stroke:#eef1f4}svg .ref{stroke:var(--critical);stroke-dasharray:4 3}svg .band{fill:#e3f1e7}svg .peak{fill:var(--critical)}
section.customer{border-top:1px dashed var(--line)}
@media print{nav{display:none}section{break-inside:avoid}}
"#;

/// Renders the report as one self-contained HTML document: inline CSS and SVG, no
/// scripts, no external resources. The same report renders the same bytes.
///
/// Sections, in order: the run header; KPI tiles (every overall KPI, with the worst alert
/// on it and its threshold); segments (customers, revenue and profit per label); the
/// whale curve of [`Report::profits`]; marketing ([`MARKETING_KPIS`]); budget vs actual
/// (KPIs whose name ends in `deviation`, with the [`DEVIATION_BAND`]); trends (KPIs by a
/// [`PERIOD_KEYS`] key, one line per value of another key); receivables ageing (overall
/// KPIs named `ageing_*`); other KPIs by group; the alerts above `ok` (most severe first,
/// then by alert and subject); the top and bottom customers by profit, each linked to
/// its own section; and a table of every KPI value.
///
/// It is [`Report::digest`] then [`Digest::render`]: the report is first reduced to
/// what it draws.
pub fn render(report: &Report) -> String {
    render_digest(&report.digest())
}

/// [`render`] of a report reduced to what it draws.
pub(crate) fn render_digest(report: &Digest) -> String {
    let mut html = String::with_capacity(256 * 1024);
    let title = if report.title.is_empty() {
        "ledgerlens report".to_string()
    } else {
        format!("ledgerlens report: {}", report.title)
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let alerts = AlertIndex::new(&report.alerts.on_kpis);
    let mut used = BTreeSet::<&str>::new();
    header(&mut html, report, &title);
    tiles(&mut html, report, &alerts, &mut used);
    segments(&mut html, report);
    whale(&mut html, report);
    marketing(&mut html, report, &alerts, &mut used);
    budget(&mut html, report, &alerts, &mut used);
    trends(&mut html, report, &mut used);
    ageing(&mut html, report);
    other_kpis(&mut html, report, &alerts, &mut used);
    alert_table(&mut html, report);
    customers(&mut html, report);
    kpi_table(&mut html, report);
    html.push_str("</body>\n</html>\n");
    html
}

/// The worst alert per (KPI, subject).
struct AlertIndex<'a>(BTreeMap<(&'a str, &'a str), &'a Alert>);

impl<'a> AlertIndex<'a> {
    fn new(alerts: &'a [Alert]) -> Self {
        let mut m = BTreeMap::<(&str, &str), &Alert>::new();
        for a in alerts {
            let Some(kpi) = &a.kpi else { continue };
            let e = m.entry((kpi.as_str(), a.subject.as_str())).or_insert(a);
            if a.level > e.level {
                *e = a;
            }
        }
        AlertIndex(m)
    }

    fn of(&self, kpi: &Kpi) -> Option<&'a Alert> {
        self.0
            .get(&(kpi.name.as_str(), kpi.subject().as_str()))
            .copied()
    }
}

/// The KPIs of one name, in the order given.
fn named<'r>(report: &'r Digest, name: &str) -> Vec<&'r Kpi> {
    report.kpis.iter().filter(|k| k.name == name).collect()
}

/// KPI names in first-seen order.
fn names(report: &Digest) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    report
        .kpis
        .iter()
        .map(|k| k.name.as_str())
        .filter(|n| seen.insert(*n))
        .collect()
}

fn section_open(html: &mut String, id: &str, title: &str, chart: bool) {
    let class = if chart { " class=\"chart\"" } else { "" };
    let _ = write!(
        html,
        "<section id=\"{id}\"{class}>\n<h2>{}</h2>\n",
        escape(title)
    );
}

fn kpi_text(k: &Kpi) -> String {
    match (k.value, k.unit.as_deref()) {
        (Some(v), Some("money")) => money(v),
        _ => k.text.clone(),
    }
}

fn header(html: &mut String, r: &Digest, title: &str) {
    let _ = write!(html, "<header>\n<h1>{}</h1>\n", escape(title));
    let as_of = r
        .as_of
        .map_or_else(|| "(no data)".to_string(), |d| d.to_string());
    let chain = if r.pack.chain.len() > 1 {
        format!(" ({})", r.pack.chain.join(" ← "))
    } else {
        String::new()
    };
    let _ = writeln!(
        html,
        "<p>data as of <b>{}</b> · pack <b>{}</b> version {}{} · {} customers</p>",
        escape(&as_of),
        escape(&r.pack.name),
        escape(&r.pack.version),
        escape(&chain),
        r.customers
    );
    let i = &r.imports;
    let since = i
        .first_date
        .map_or_else(String::new, |d| format!(", entries dated from {d}"));
    let _ = writeln!(
        html,
        "<p class=\"muted\">{} imports · {} rows read · {} ledger entries · <b>{} rows quarantined</b>{}</p>",
        i.imports, i.rows_read, i.entries, i.quarantined, escape(&since)
    );
    html.push_str("<nav><a href=\"#kpis\">KPIs</a><a href=\"#segments\">segments</a><a href=\"#whale\">whale curve</a><a href=\"#marketing\">marketing</a><a href=\"#budget\">budget</a><a href=\"#trends\">trends</a><a href=\"#ageing\">ageing</a><a href=\"#alerts\">alerts</a><a href=\"#customers\">customers</a><a href=\"#all-kpis\">all KPI values</a></nav>\n</header>\n");
}

fn tiles(html: &mut String, r: &Digest, alerts: &AlertIndex<'_>, used: &mut BTreeSet<&str>) {
    section_open(html, "kpis", "KPIs", false);
    let overall: Vec<&Kpi> = r.kpis.iter().filter(|k| k.group.is_empty()).collect();
    if overall.is_empty() {
        html.push_str("<p class=\"muted\">no overall KPIs in this pack</p>\n");
    }
    html.push_str("<div class=\"tiles\">\n");
    for k in overall {
        let alert = alerts.of(k);
        let level = alert.map_or("", |a| a.level.name());
        let _ = write!(
            html,
            "<div class=\"tile lv-{level}\"><div class=\"n\">{}</div><div class=\"v\">{}</div><div class=\"n\">{}",
            escape(&k.name),
            escape(&kpi_text(k)),
            escape(k.unit.as_deref().unwrap_or(""))
        );
        if let Some(a) = alert {
            let _ = write!(
                html,
                " · <span class=\"lvl {}\">{}</span> {} ({})",
                a.level.name(),
                a.level.name(),
                escape(&a.threshold),
                escape(&a.name)
            );
        }
        html.push_str("</div></div>\n");
    }
    html.push_str("</div>\n</section>\n");
    let _ = used;
}

fn segments(html: &mut String, r: &Digest) {
    section_open(html, "segments", "Segments", true);
    let mut by_segment = BTreeMap::<&str, Vec<&crate::input::Segment>>::new();
    for s in &r.segments {
        by_segment.entry(s.segment.as_str()).or_default().push(s);
    }
    if by_segment.is_empty() {
        html.push_str("<p class=\"muted\">no segments in this pack</p>\n");
        chart::bars(html, "segments", &[], &BarOptions::default());
    }
    for (segment, labels) in by_segment {
        let _ = write!(html, "<h3>{}</h3>\n<div class=\"row\">", escape(segment));
        let counts: Vec<Bar> = labels
            .iter()
            .map(|s| Bar {
                label: s.label.clone(),
                value: s.customers as f64,
                text: s.customers.to_string(),
                level: None,
            })
            .collect();
        html.push_str("<div><div class=\"note\">customers</div>");
        chart::bars(html, segment, &counts, &BarOptions::default());
        html.push_str("</div>");
        for (what, get) in [
            (
                "net revenue",
                (|s: &crate::input::Segment| s.revenue) as fn(&crate::input::Segment) -> _,
            ),
            ("profit", |s: &crate::input::Segment| s.profit),
        ] {
            if labels.iter().all(|s| get(s).is_none()) {
                continue;
            }
            let bars: Vec<Bar> = labels
                .iter()
                .map(|s| {
                    let v = get(s).unwrap_or_default();
                    Bar {
                        label: s.label.clone(),
                        value: float(v),
                        text: money(v),
                        level: None,
                    }
                })
                .collect();
            let _ = write!(html, "<div><div class=\"note\">{what}</div>");
            chart::bars(html, segment, &bars, &BarOptions::default());
            html.push_str("</div>");
        }
        html.push_str("</div>\n");
        let actions: Vec<_> = labels
            .iter()
            .filter_map(|s| s.action.as_ref().map(|a| (&s.label, a)))
            .collect();
        if !actions.is_empty() {
            html.push_str("<table><tr><th>label</th><th>recommended action</th></tr>");
            for (label, action) in actions {
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    escape(label),
                    escape(action)
                );
            }
            html.push_str("</table>\n");
        }
    }
    html.push_str("</section>\n");
}

fn whale(html: &mut String, r: &Digest) {
    section_open(html, "whale", "Whale curve", true);
    let w = &r.whale;
    let n = w.customers.max(1) as f64;
    let share = |rank: u64| rank as f64 / n;
    let points: Vec<(f64, f64)> = w
        .points
        .iter()
        .map(|(rank, v)| (share(*rank), float(*v)))
        .collect();
    let _ = writeln!(
        html,
        "<p>Cumulative {} by customer rank, most profitable first: {} customers, total {}, peak {} after the top {} customers ({:.1}%).</p>",
        escape(if r.profit_measure.is_empty() { "profit" } else { &r.profit_measure }),
        w.customers,
        money(w.total),
        money(w.peak.1),
        w.peak.0,
        share(w.peak.0) * 100.0
    );
    let x_labels = (0..=4)
        .map(|i| {
            let x = f64::from(i) / 4.0;
            (x, format!("{}%", i * 25))
        })
        .collect();
    chart::lines(
        html,
        "whale curve",
        &[Series {
            name: "cumulative profit".into(),
            points,
        }],
        &LineOptions {
            x_labels,
            x_range: (0.0, 1.0),
            marker: Some((
                share(w.peak.0),
                float(w.peak.1),
                format!(
                    "peak {} at {:.1}%",
                    money(w.peak.1),
                    share(w.peak.0) * 100.0
                ),
            )),
            dots: false,
        },
    );
    html.push_str("</section>\n");
}

/// Bars of one KPI's groups (those with a number), coloured by their alerts; at most
/// [`MAX_BARS`].
fn kpi_bars(
    html: &mut String,
    kpis: &[&Kpi],
    alerts: &AlertIndex<'_>,
    opts: &BarOptions,
    as_percent: bool,
) {
    let Some(first) = kpis.first() else { return };
    let with_value: Vec<&&Kpi> = kpis.iter().filter(|k| k.value.is_some()).collect();
    let bars: Vec<Bar> = with_value
        .iter()
        .take(MAX_BARS)
        .map(|k| {
            let v = k.value.unwrap_or_default();
            Bar {
                label: k.label(),
                value: float(v),
                text: if as_percent { percent(v) } else { kpi_text(k) },
                level: alerts.of(k).map(|a| a.level),
            }
        })
        .collect();
    let _ = write!(
        html,
        "<h3>{}</h3>",
        escape(&format!(
            "{} by {}",
            first.name,
            first
                .group
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    );
    chart::bars(html, &first.name, &bars, opts);
    let none = kpis.len() - with_value.len();
    let more = with_value.len().saturating_sub(MAX_BARS);
    if none > 0 || more > 0 {
        let _ = write!(
            html,
            "<p class=\"note\">{}{}</p>",
            if more > 0 {
                format!("{more} more groups not drawn. ")
            } else {
                String::new()
            },
            if none > 0 {
                format!("{none} groups without a value.")
            } else {
                String::new()
            }
        );
    }
    html.push('\n');
}

fn marketing<'r>(
    html: &mut String,
    r: &'r Digest,
    alerts: &AlertIndex<'_>,
    used: &mut BTreeSet<&'r str>,
) {
    section_open(html, "marketing", "Marketing: ROI and CAC", true);
    let mut drawn = 0;
    for name in MARKETING_KPIS {
        let kpis = named(r, name);
        if kpis.is_empty() || kpis.iter().all(|k| k.group.is_empty()) {
            continue;
        }
        used.insert(kpis[0].name.as_str());
        let opts = BarOptions {
            reference: name.contains("roi").then(|| (1.0, "ROI 1.0".to_string())),
            band: None,
        };
        kpi_bars(html, &kpis, alerts, &opts, false);
        drawn += 1;
    }
    if drawn == 0 {
        html.push_str("<p class=\"muted\">no channel or campaign KPIs in this pack</p>\n");
        chart::bars(html, "marketing", &[], &BarOptions::default());
    }
    html.push_str("</section>\n");
}

fn budget<'r>(
    html: &mut String,
    r: &'r Digest,
    alerts: &AlertIndex<'_>,
    used: &mut BTreeSet<&'r str>,
) {
    section_open(html, "budget", "Budget vs actual", true);
    let _ = writeln!(
        html,
        "<p class=\"note\">(actual − budget) / budget; the shaded band is ±{:.0}% of the budget.</p>",
        DEVIATION_BAND * 100.0
    );
    let mut drawn = 0;
    for name in names(r) {
        if !name.ends_with("deviation") {
            continue;
        }
        let kpis = named(r, name);
        if kpis.iter().all(|k| k.group.is_empty()) {
            continue;
        }
        used.insert(kpis[0].name.as_str());
        let opts = BarOptions {
            reference: None,
            band: Some((-DEVIATION_BAND, DEVIATION_BAND)),
        };
        kpi_bars(html, &kpis, alerts, &opts, true);
        drawn += 1;
    }
    if drawn == 0 {
        html.push_str("<p class=\"muted\">no budget deviation KPIs in this pack</p>\n");
        chart::bars(html, "budget", &[], &BarOptions::default());
    }
    html.push_str("</section>\n");
}

fn trends<'r>(html: &mut String, r: &'r Digest, used: &mut BTreeSet<&'r str>) {
    section_open(html, "trends", "Trends", true);
    let mut drawn = 0;
    for name in names(r) {
        if used.contains(name) {
            continue;
        }
        let kpis = named(r, name);
        let Some(first) = kpis.first() else { continue };
        let Some(pi) = first
            .group
            .iter()
            .position(|(k, _)| PERIOD_KEYS.contains(&k.as_str()))
        else {
            continue;
        };
        if first.group.len() > 2 {
            continue;
        }
        used.insert(first.name.as_str());
        // Periods sort as text (2024-01 < 2024-02, 2024-Q1 < 2024-Q2).
        let periods: BTreeSet<&str> = kpis
            .iter()
            .filter_map(|k| k.group.get(pi).map(|(_, v)| v.as_str()))
            .collect();
        let index: BTreeMap<&str, usize> =
            periods.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        // One series per value of the other key (or one series).
        let mut series = BTreeMap::<String, Line>::new();
        for k in &kpis {
            let (Some(v), Some((_, p))) = (k.value, k.group.get(pi)) else {
                continue;
            };
            let other = k
                .group
                .iter()
                .enumerate()
                .find(|(i, _)| *i != pi)
                .map_or_else(|| first.name.clone(), |(_, (_, v))| v.clone());
            let e = series.entry(other).or_default();
            e.0 += v.abs();
            e.1.push((index.get(p.as_str()).copied().unwrap_or(0) as f64, float(v)));
        }
        let mut ranked: Vec<(String, Line)> = series.into_iter().collect();
        ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
        let hidden = ranked.len().saturating_sub(MAX_SERIES);
        ranked.truncate(MAX_SERIES);
        ranked.sort_by(|a, b| a.0.cmp(&b.0));
        let lines: Vec<Series> = ranked
            .into_iter()
            .map(|(name, (_, mut points))| {
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                Series { name, points }
            })
            .collect();
        let step = periods.len().div_ceil(12).max(1);
        let x_labels = periods
            .iter()
            .enumerate()
            .filter(|(i, _)| i % step == 0)
            .map(|(i, p)| (i as f64, (*p).to_string()))
            .collect();
        let unit = first.unit.as_deref().unwrap_or("");
        let _ = write!(
            html,
            "<h3>{}</h3>",
            escape(&format!("{} ({unit})", first.name))
        );
        chart::lines(
            html,
            &first.name,
            &lines,
            &LineOptions {
                x_labels,
                x_range: (0.0, periods.len().saturating_sub(1) as f64),
                marker: None,
                dots: periods.len() <= 60,
            },
        );
        if hidden > 0 {
            let _ = write!(
                html,
                "<p class=\"note\">the {MAX_SERIES} largest series drawn; {hidden} more in the KPI table</p>"
            );
        }
        html.push('\n');
        drawn += 1;
    }
    if drawn == 0 {
        html.push_str("<p class=\"muted\">no KPIs by month or quarter in this pack</p>\n");
        chart::lines(html, "trends", &[], &LineOptions::default());
    }
    html.push_str("</section>\n");
}

fn ageing(html: &mut String, r: &Digest) {
    section_open(html, "ageing", "Receivables ageing", true);
    let buckets: Vec<Bar> = r
        .kpis
        .iter()
        .filter(|k| k.group.is_empty() && k.name.starts_with("ageing_"))
        .map(|k| {
            let v = k.value.unwrap_or_default();
            Bar {
                label: k.name.trim_start_matches("ageing_").replace('_', "-"),
                value: float(v),
                text: kpi_text(k),
                level: None,
            }
        })
        .collect();
    if buckets.is_empty() {
        html.push_str("<p class=\"muted\">no ageing KPIs (ageing_*) in this pack</p>\n");
    } else {
        html.push_str("<p class=\"note\">open receivables by days since the invoice</p>\n");
    }
    chart::bars(html, "ageing", &buckets, &BarOptions::default());
    html.push_str("\n</section>\n");
}

fn other_kpis<'r>(
    html: &mut String,
    r: &'r Digest,
    alerts: &AlertIndex<'_>,
    used: &mut BTreeSet<&'r str>,
) {
    let rest: Vec<&str> = names(r)
        .into_iter()
        .filter(|n| !used.contains(n) && *n != "whale_curve")
        .filter(|n| named(r, n).iter().any(|k| !k.group.is_empty()))
        .collect();
    if rest.is_empty() {
        return;
    }
    section_open(html, "by-group", "More KPIs by group", true);
    for name in rest {
        used.insert(name);
        kpi_bars(html, &named(r, name), alerts, &BarOptions::default(), false);
    }
    html.push_str("</section>\n");
}

fn alert_table(html: &mut String, r: &Digest) {
    section_open(html, "alerts", "Alerts", false);
    let a = &r.alerts;
    let _ = writeln!(
        html,
        "<p>{} alerts above ok, of {} judged.</p>",
        a.fired, a.judged
    );
    if !a.counts.is_empty() {
        html.push_str("<table><tr><th>alert</th><th>level</th><th class=\"num\">count</th></tr>");
        for (name, level, n) in &a.counts {
            let _ = write!(
                html,
                "<tr><td>{}</td><td class=\"lvl {l}\">{l}</td><td class=\"num\">{n}</td></tr>",
                escape(name),
                l = level.name()
            );
        }
        html.push_str("</table>\n");
        html.push_str("<table><tr><th>level</th><th>alert</th><th>subject</th><th class=\"num\">value</th><th>threshold</th></tr>");
        for a in &a.listed {
            let _ = write!(
                html,
                "<tr><td class=\"lvl {l}\">{l}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&a.name),
                escape(&a.subject),
                escape(&a.value),
                escape(&a.threshold),
                l = a.level.name()
            );
        }
        html.push_str("</table>\n");
        let more = a.fired.saturating_sub(a.listed.len() as u64);
        if more > 0 {
            let _ = writeln!(
                html,
                "<p class=\"note\">{} more not listed (all of them: <code>ledgerlens run --out DIR</code>, alerts.csv)</p>",
                more
            );
        }
    }
    html.push_str("</section>\n");
}

fn customers(html: &mut String, r: &Digest) {
    section_open(html, "customers", "Customers by profit", false);
    // One section per customer, in the order top then bottom; an id in both lists
    // (few customers) gets one section.
    let mut anchors = BTreeMap::<&str, usize>::new();
    let mut details: Vec<&CustomerDetail> = Vec::new();
    for c in r.top.iter().chain(&r.bottom) {
        if !anchors.contains_key(c.id.as_str()) {
            anchors.insert(c.id.as_str(), details.len() + 1);
            details.push(c);
        }
    }
    let measure = if r.profit_measure.is_empty() {
        "profit"
    } else {
        &r.profit_measure
    };
    for (title, list) in [
        (format!("top {} by {measure}", r.top.len()), &r.top),
        (format!("bottom {} by {measure}", r.bottom.len()), &r.bottom),
    ] {
        let _ = writeln!(html, "<h3>{}</h3>", escape(&title));
        if list.is_empty() {
            html.push_str("<p class=\"muted\">no customers</p>\n");
            continue;
        }
        html.push_str("<table><tr><th class=\"num\">#</th><th>customer</th><th>name</th><th class=\"num\">profit</th><th>segments</th></tr>");
        for (i, c) in list.iter().enumerate() {
            let labels: Vec<String> = c.labels.iter().map(|(_, l)| l.clone()).collect();
            let _ = write!(
                html,
                "<tr><td class=\"num\">{}</td><td><a href=\"#c{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                i + 1,
                anchors.get(c.id.as_str()).copied().unwrap_or(0),
                escape(&c.id),
                escape(c.name.as_deref().unwrap_or("")),
                c.profit.map_or_else(String::new, money),
                escape(&labels.join(", "))
            );
        }
        html.push_str("</table>\n");
    }
    html.push_str("</section>\n");
    for (i, c) in details.iter().enumerate() {
        let _ = write!(
            html,
            "<section class=\"customer\" id=\"c{}\">\n<h3>{}{}</h3>\n<table>",
            i + 1,
            escape(&c.id),
            escape(
                &c.name
                    .as_deref()
                    .map_or_else(String::new, |n| format!(" {n}"))
            )
        );
        let _ = write!(
            html,
            "<tr><th>{}</th><td class=\"num\">{}</td></tr>",
            escape(measure),
            c.profit.map_or_else(String::new, money)
        );
        for (k, v) in &c.labels {
            let _ = write!(
                html,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(k),
                escape(v)
            );
        }
        for (k, v) in &c.values {
            let _ = write!(
                html,
                "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
                escape(k),
                escape(v)
            );
        }
        html.push_str("</table>\n");
        trace(html, &c.trace);
        html.push_str(
            "<p class=\"note\"><a href=\"#customers\">back to the lists</a></p>\n</section>\n",
        );
    }
}

/// A customer's segment traces, folded: each segment's label and action, then its steps
/// with what they gave and the inputs they read.
fn trace(html: &mut String, traces: &[Trace]) {
    if traces.is_empty() {
        return;
    }
    html.push_str(
        "<details class=\"trace\"><summary>why: each segment's rules for this customer</summary>\n",
    );
    for t in traces {
        let _ = write!(html, "<p><b>{}</b> = {}", escape(&t.rule), escape(&t.value));
        if let Some(a) = &t.action {
            let _ = write!(
                html,
                " <span class=\"muted\">(action: {})</span>",
                escape(a)
            );
        }
        html.push_str("</p>\n<ol>");
        for s in &t.steps {
            let _ = write!(
                html,
                "<li><code>{}</code> =&gt; {}",
                escape(&s.what),
                escape(&s.result)
            );
            if !s.inputs.is_empty() {
                let inputs: Vec<String> =
                    s.inputs.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                let _ = write!(
                    html,
                    "<br><span class=\"muted\">inputs: {}</span>",
                    escape(&inputs.join(", "))
                );
            }
            html.push_str("</li>");
        }
        html.push_str("</ol>\n");
    }
    html.push_str("</details>\n");
}

fn kpi_table(html: &mut String, r: &Digest) {
    section_open(html, "all-kpis", "All KPI values", false);
    let _ = write!(
        html,
        "<details><summary>{} values (by KPI, then group)</summary>\n<table><tr><th>KPI</th><th>group</th><th class=\"num\">value</th><th>unit</th></tr>",
        r.kpis.len()
    );
    for k in &r.kpis {
        let group = if k.group.is_empty() {
            String::new()
        } else {
            k.subject()
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&k.name),
            escape(&group),
            escape(&kpi_text(k)),
            escape(k.unit.as_deref().unwrap_or(""))
        );
    }
    html.push_str("</table>\n</details>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{CustomerDetail, Level, PackInfo, Segment};

    fn kpi(name: &str, group: &[(&str, &str)], value: i64, scale: u32, unit: &str) -> Kpi {
        let v = Decimal::new(value, scale);
        Kpi {
            name: name.into(),
            group: group
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            value: Some(v),
            text: v.to_string(),
            unit: Some(unit.into()),
        }
    }

    /// Every `<section class="chart">` holds at least one `<svg`.
    fn charts_have_svg(html: &str) -> usize {
        let mut n = 0;
        for part in html.split("<section").skip(1) {
            let body = part.split("</section>").next().unwrap_or("");
            if body.starts_with(" id=") && body.contains("class=\"chart\"") {
                assert!(body.contains("<svg"), "a chart section without svg: {body}");
                n += 1;
            }
        }
        n
    }

    #[test]
    fn an_empty_report_renders_every_section() {
        let html = render(&Report::default());
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
        for id in [
            "kpis",
            "segments",
            "whale",
            "marketing",
            "budget",
            "trends",
            "ageing",
            "alerts",
            "customers",
            "all-kpis",
        ] {
            assert!(html.contains(&format!("<section id=\"{id}\"")), "{id}");
        }
        assert_eq!(charts_have_svg(&html), 6);
        assert!(!html.contains("NaN") && !html.contains("inf"));
        assert!(html.contains("no overall KPIs"));
        assert!(html.contains("0 customers"));
    }

    fn sample() -> Report {
        Report {
            title: "星河优选 <demo>".into(),
            as_of: "2025-12-31".parse().ok(),
            pack: PackInfo {
                name: "client".into(),
                version: "1".into(),
                chain: vec!["standard".into(), "client".into()],
            },
            customers: 3,
            segments: vec![
                Segment {
                    segment: "lifecycle".into(),
                    label: "high-value".into(),
                    customers: 1,
                    action: Some("exclusive offers".into()),
                    revenue: Some(Decimal::new(1000, 0)),
                    profit: Some(Decimal::new(400, 0)),
                },
                Segment {
                    segment: "lifecycle".into(),
                    label: "churned".into(),
                    customers: 2,
                    action: None,
                    revenue: Some(Decimal::new(50, 0)),
                    profit: Some(Decimal::new(-30, 0)),
                },
            ],
            kpis: vec![
                kpi("ageing_0_30", &[], 123456, 2, "money"),
                kpi("channel_roi", &[("channel", "微信广告")], 400, 2, "ratio"),
                kpi("channel_roi", &[("channel", "<script>")], 26, 2, "ratio"),
                kpi(
                    "net_revenue_by_month",
                    &[("month", "2025-02")],
                    20,
                    0,
                    "money",
                ),
                kpi(
                    "net_revenue_by_month",
                    &[("month", "2025-01")],
                    10,
                    0,
                    "money",
                ),
                kpi(
                    "spend_deviation",
                    &[("channel", "微信广告"), ("quarter", "2025-Q3")],
                    14,
                    2,
                    "ratio",
                ),
                kpi("revenue_by_region", &[("region", "杭州")], 5, 0, "money"),
            ],
            alerts: vec![Alert {
                name: "channel_roi_low".into(),
                level: Level::Review,
                subject: "channel=<script>".into(),
                value: "0.26".into(),
                threshold: "< 1".into(),
                kpi: Some("channel_roi".into()),
            }],
            profit_measure: "net_profit".into(),
            profits: vec![
                Decimal::new(400, 0),
                Decimal::new(-10, 0),
                Decimal::new(-20, 0),
            ],
            top: vec![CustomerDetail {
                id: "crm:C1".into(),
                name: Some("甲茶庄".into()),
                profit: Some(Decimal::new(400, 0)),
                labels: vec![("lifecycle".into(), "high-value".into())],
                values: vec![("orders".into(), "12".into())],
                trace: vec![Trace {
                    rule: "lifecycle".into(),
                    value: "high-value".into(),
                    action: Some("exclusive offers".into()),
                    steps: vec![
                        crate::input::TraceStep {
                            what: "days_since_last > params.churn_days".into(),
                            result: "did not hold".into(),
                            inputs: vec![("days_since_last".into(), "3".into())],
                        },
                        crate::input::TraceStep {
                            what: "net_revenue >= 1000 && tenure_days >= 365".into(),
                            result: "held".into(),
                            inputs: vec![("net_revenue".into(), "4000.00".into())],
                        },
                    ],
                }],
            }],
            bottom: vec![CustomerDetail {
                id: "crm:C3".into(),
                name: None,
                profit: Some(Decimal::new(-20, 0)),
                labels: vec![],
                values: vec![],
                trace: vec![],
            }],
            ..Report::default()
        }
    }

    #[test]
    fn a_small_report_draws_its_data_escaped_and_deterministic() {
        let r = sample();
        let html = render(&r);
        assert_eq!(html, render(&r), "the same report renders the same bytes");
        assert!(!html.contains("<script"), "labels are escaped");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("星河优选 &lt;demo&gt;"));
        assert!(html.contains("4.00") && html.contains("微信广告"));
        assert!(html.contains("1,234.56"), "money tiles have separators");
        assert!(html.contains("+14.0%"), "deviations are percentages");
        assert!(html.contains("class=\"band\""));
        assert!(html.contains("bar lv-review"), "the alert colours its bar");
        assert!(html.contains("ROI 1.0"));
        assert!(
            html.contains("id=\"by-group\""),
            "revenue_by_region is drawn"
        );
        // The whale curve: total 370, peak 400 after the first customer.
        assert!(html.contains("total 370.00, peak 400.00 after the top 1 customers"));
        // Months sort as text, whatever the input order.
        let jan = html.find(">2025-01<").unwrap_or(usize::MAX);
        let feb = html.find(">2025-02<").unwrap_or(0);
        assert!(jan < feb);
        // Every link to a customer has its section.
        for (href, id) in [("href=\"#c1\"", "id=\"c1\""), ("href=\"#c2\"", "id=\"c2\"")] {
            assert!(html.contains(href) && html.contains(id));
        }
        assert_eq!(charts_have_svg(&html), 7);
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    /// The outline of a report: each section's id, its headings and how many SVG charts
    /// and customer links it holds.
    fn outline(html: &str) -> String {
        let mut out = String::new();
        for part in html.split("<section").skip(1) {
            let body = part.split("</section>").next().unwrap_or("");
            let id = body
                .split("id=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("?");
            let headings: Vec<&str> = body
                .split("<h3>")
                .skip(1)
                .filter_map(|s| s.split("</h3>").next())
                .collect();
            let _ = writeln!(
                out,
                "{id}: svg {}, bars {}, links {}, h3 {headings:?}",
                body.matches("<svg").count(),
                body.matches("<rect class=\"bar").count(),
                body.match_indices("href=\"#c")
                    .filter(|(i, m)| body[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
                    .count(),
            );
        }
        out
    }

    #[test]
    fn a_customer_section_folds_its_segment_traces() {
        let html = render(&sample());
        let section = html
            .split("<section class=\"customer\" id=\"c1\">")
            .nth(1)
            .and_then(|s| s.split("</section>").next())
            .unwrap();
        assert!(section.contains("<details class=\"trace\">"));
        assert!(section.contains("<p><b>lifecycle</b> = high-value <span class=\"muted\">(action: exclusive offers)</span></p>"));
        assert!(section.contains(
            "<li><code>net_revenue &gt;= 1000 &amp;&amp; tenure_days &gt;= 365</code> =&gt; held<br><span class=\"muted\">inputs: net_revenue = 4000.00</span></li>"
        ));
        // A customer without a trace has no fold.
        let other = html
            .split("<section class=\"customer\" id=\"c2\">")
            .nth(1)
            .unwrap();
        assert!(!other
            .split("</section>")
            .next()
            .unwrap()
            .contains("<details"));
    }

    #[test]
    fn the_outline_of_a_small_report() {
        insta::assert_snapshot!(outline(&render(&sample())));
    }
}
