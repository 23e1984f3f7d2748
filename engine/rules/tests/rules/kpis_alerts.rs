//! KPIs (per customer and per group, with spend and budgets) and alerts (levels from
//! thresholds, per-customer conditions).

use std::collections::BTreeMap;

use ledgerlens_rules::{Facts, Level, Type, Value};

use crate::common::*;

const PACK: (&str, &str) = (
    "pack.yaml",
    "name: p\nparams:\n  limit: { type: decimal, default: 300 }\n  tolerance: { type: decimal, default: 0.1 }\n",
);

fn schema() -> BTreeMap<String, Type> {
    inputs(&[
        ("revenue", Type::Decimal),
        ("orders", Type::Int),
        ("channel", Type::Text),
        ("refund_rate", Type::Decimal),
    ])
}

/// Five customers over two channels and one without a channel.
fn rows() -> Rows {
    Rows::new(&["a", "b", "c", "d", "e"])
        .col(
            "revenue",
            Type::Decimal,
            vec![vd("1000"), vd("500"), vd("300"), Value::Null, vd("200")],
        )
        .col(
            "orders",
            Type::Int,
            [3, 0, 2, 1, 4].into_iter().map(Value::Int).collect(),
        )
        .col(
            "channel",
            Type::Text,
            vec![
                vt("wechat"),
                vt("wechat"),
                vt("fair"),
                vt("fair"),
                Value::Null,
            ],
        )
        .col(
            "refund_rate",
            Type::Decimal,
            vec![vd("0.05"), Value::Null, vd("0.3"), Value::Null, vd("0.25")],
        )
}

fn evaluate(rules: &str, facts: Facts) -> ledgerlens_rules::Outcome {
    let program = compile(&[PACK, ("r.yaml", rules)], &schema());
    run(&program, rows().table(), facts, "2025-12-31")
}

#[test]
fn a_per_customer_kpi_with_division_by_zero_and_missing_data_gives_nulls_and_a_diagnostic() {
    let out = evaluate(
        "kpi: aov\nper: customer\nvalue: revenue / orders\nround: 2\nunit: money\n",
        Facts::default(),
    );
    let aov = by_id(&out, "aov");
    assert_eq!(aov["a"], vd("333.33"));
    assert_eq!(aov["b"], Value::Null, "500 / 0");
    assert_eq!(aov["c"], vd("150"));
    assert_eq!(aov["d"], Value::Null, "missing revenue");
    assert_eq!(aov["e"], vd("50"));
    let d: Vec<_> = out.diagnostics.iter().filter(|d| d.rule == "aov").collect();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, "rules.null");
    assert_eq!(d[0].count, 2);
    assert_eq!(d[0].example, "b");
    assert!(d[0].message.contains("Division by zero"), "{:?}", d[0]);
    assert!(d[0].at.starts_with("p/r.yaml:"), "{:?}", d[0]);
}

#[test]
fn group_aggregates_by_hand() {
    let out = evaluate(
        "kpi: s\nby: [channel]\nvalue: sum(revenue)\n---\nkpi: a\nby: [channel]\nvalue: avg(revenue)\n---\nkpi: lo\nby: [channel]\nvalue: min(revenue)\n---\nkpi: hi\nby: [channel]\nvalue: max(revenue)\n---\nkpi: n\nby: [channel]\nvalue: count()\n---\nkpi: buyers\nby: [channel]\nvalue: count(orders > 0)\n---\nkpi: med\nvalue: median(revenue)\n---\nkpi: ratio\nvalue: sum(revenue) / sum(orders)\nround: 3\n",
        Facts::default(),
    );
    let s = kpi(&out, "s");
    assert_eq!(s["channel=wechat"], vd("1500"));
    assert_eq!(s["channel=fair"], vd("300"));
    assert_eq!(s["channel=(none)"], vd("200"));
    assert_eq!(kpi(&out, "a")["channel=wechat"], vd("750"));
    assert_eq!(kpi(&out, "a")["channel=fair"], vd("300"));
    assert_eq!(kpi(&out, "lo")["channel=wechat"], vd("500"));
    assert_eq!(kpi(&out, "hi")["channel=wechat"], vd("1000"));
    assert_eq!(kpi(&out, "n")["channel=fair"], Value::Int(2));
    assert_eq!(kpi(&out, "buyers")["channel=wechat"], Value::Int(1));
    assert_eq!(kpi(&out, "buyers")["channel=fair"], Value::Int(2));
    // 200, 300, 500, 1000: the mean of the middle two.
    assert_eq!(kpi(&out, "med")["all"], vd("400"));
    // 2000 / 10.
    assert_eq!(kpi(&out, "ratio")["all"], vd("200"));
}

#[test]
fn a_filter_keeps_only_some_customers() {
    let out = evaluate(
        "kpi: k\nvalue: avg(revenue)\nfilter: orders > 1\nround: 2\n",
        Facts::default(),
    );
    // a 1000, c 300, e 200 (d has no revenue; b has no orders).
    assert_eq!(kpi(&out, "k")["all"], vd("500"));
}

#[test]
fn a_kpi_by_segment_label() {
    let out = evaluate(
        "segment: size\nrules:\n  - when: orders >= 3\n    label: many\n  - label: few\n---\nkpi: k\nby: [size]\nvalue: sum(revenue)\n",
        Facts::default(),
    );
    let k = kpi(&out, "k");
    assert_eq!(k["size=many"], vd("1200"));
    assert_eq!(k["size=few"], vd("800"));
}

#[test]
fn division_by_zero_in_a_group_kpi_is_a_null_with_a_diagnostic() {
    let out = evaluate(
        "kpi: k\nby: [channel]\nvalue: sum(revenue) / count(orders == 0)\n",
        Facts::default(),
    );
    let k = kpi(&out, "k");
    assert_eq!(k["channel=wechat"], vd("1500"));
    assert_eq!(k["channel=fair"], Value::Null);
    assert_eq!(k["channel=(none)"], Value::Null);
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.rule == "k")
        .expect("a diagnostic");
    assert_eq!((d.code, d.count), ("rules.null", 2));
    assert!(d.message.contains("Division by zero"), "{d:?}");
}

#[test]
fn missing_data_in_a_group_kpi_is_a_null_with_a_diagnostic() {
    let out = evaluate(
        "kpi: k\nby: [channel]\nvalue: avg(refund_rate)\n---\nkpi: lo\nby: [channel]\nvalue: min(refund_rate)\n",
        Facts::default(),
    );
    let k = kpi(&out, "k");
    assert_eq!(k["channel=wechat"], vd("0.05"));
    assert_eq!(k["channel=fair"], vd("0.3"));
    let only_null = Rows::new(&["x"])
        .col("revenue", Type::Decimal, vec![Value::Null])
        .col("orders", Type::Int, vec![Value::Int(0)])
        .col("channel", Type::Text, vec![vt("wechat")])
        .col("refund_rate", Type::Decimal, vec![Value::Null]);
    let program = compile(
        &[
            PACK,
            (
                "r.yaml",
                "kpi: k\nby: [channel]\nvalue: avg(refund_rate)\n---\nkpi: lo\nby: [channel]\nvalue: min(refund_rate)\n",
            ),
        ],
        &schema(),
    );
    let out = run(&program, only_null.table(), Facts::default(), "2025-12-31");
    assert_eq!(kpi(&out, "k")["channel=wechat"], Value::Null);
    assert_eq!(kpi(&out, "lo")["channel=wechat"], Value::Null);
    for rule in ["k", "lo"] {
        let d = out
            .diagnostics
            .iter()
            .find(|d| d.rule == rule)
            .unwrap_or_else(|| panic!("a diagnostic for {rule}: {:?}", out.diagnostics));
        assert_eq!(
            (d.code, d.count, d.example.as_str()),
            ("rules.null", 1, "channel=wechat")
        );
    }
}

#[test]
fn a_sum_of_only_missing_values_is_null() {
    let only_null = Rows::new(&["x", "y"])
        .col("revenue", Type::Decimal, vec![Value::Null, Value::Null])
        .col("orders", Type::Int, vec![Value::Int(0), Value::Int(1)])
        .col("channel", Type::Text, vec![vt("wechat"), vt("wechat")])
        .col("refund_rate", Type::Decimal, vec![Value::Null, Value::Null]);
    let program = compile(
        &[PACK, ("r.yaml", "kpi: k\nvalue: sum(refund_rate)\n")],
        &schema(),
    );
    let out = run(&program, only_null.table(), Facts::default(), "2025-12-31");
    assert_eq!(kpi(&out, "k")["all"], Value::Null);
    assert!(out.diagnostics.iter().any(|d| d.rule == "k"));
}

fn facts() -> Facts {
    Facts {
        spend: vec![
            spend("2025-01-10", "wechat", "400"),
            spend("2025-02-10", "wechat", "200"),
            spend("2025-04-01", "wechat", "100"),
            spend("2025-02-01", "fair", "300"),
            spend("2025-03-01", "tiktok", "50"),
        ],
        budgets: vec![
            budget("wechat", "2025-Q1", "500"),
            budget("wechat", "2025-Q2", "100"),
            budget("fair", "2025-01", "100"),
            budget("fair", "2025-02", "150"),
            budget("fair", "2025-03", "50"),
            budget("radio", "2025-Q1", "80"),
        ],
        cost_pools: vec![],
    }
}

#[test]
fn spend_by_channel_including_channels_without_customers() {
    let out = evaluate(
        "kpi: roi\nby: [channel]\nvalue: sum(revenue) / spend()\nround: 2\n---\nkpi: wechat_spend\nvalue: spend(\"wechat\")\n---\nkpi: all_spend\nvalue: spend()\n",
        facts(),
    );
    let roi = kpi(&out, "roi");
    // wechat 1500 / 700; fair 300 / 300; tiktok has spend and no customers: 0 / 50.
    assert_eq!(roi["channel=wechat"], vd("2.14"));
    assert_eq!(roi["channel=fair"], vd("1"));
    assert_eq!(roi["channel=tiktok"], vd("0"));
    // Customers without a channel: no spend, so no ROI.
    assert_eq!(roi["channel=(none)"], Value::Null);
    assert_eq!(roi.len(), 4);
    assert_eq!(kpi(&out, "wechat_spend")["all"], vd("700"));
    assert_eq!(kpi(&out, "all_spend")["all"], vd("1050"));
}

#[test]
fn spend_against_budget_by_channel_and_quarter() {
    let out = evaluate(
        "kpi: dev\nby: [channel, quarter]\nvalue: (spend() - budget()) / budget()\nround: 4\n",
        facts(),
    );
    let dev = kpi(&out, "dev");
    // wechat Q1: (600 - 500) / 500; Q2: (100 - 100) / 100.
    assert_eq!(dev["channel=wechat, quarter=2025-Q1"], vd("0.2"));
    assert_eq!(dev["channel=wechat, quarter=2025-Q2"], vd("0"));
    // fair Q1: monthly budgets add up to the quarter: (300 - 300) / 300.
    assert_eq!(dev["channel=fair, quarter=2025-Q1"], vd("0"));
    // tiktok has spend and no budget: null, with a diagnostic.
    assert_eq!(dev["channel=tiktok, quarter=2025-Q1"], Value::Null);
    // radio has a budget and no spend: (0 - 80) / 80.
    assert_eq!(dev["channel=radio, quarter=2025-Q1"], vd("-1"));
    assert_eq!(dev.len(), 5, "{dev:?}");
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.rule == "dev")
        .expect("a diagnostic");
    assert_eq!(
        (d.code, d.count, d.example.as_str()),
        ("rules.null", 1, "channel=tiktok, quarter=2025-Q1")
    );
}

#[test]
fn spend_by_month() {
    let out = evaluate("kpi: monthly\nby: [month]\nvalue: spend()\n", facts());
    let m = kpi(&out, "monthly");
    assert_eq!(m["month=2025-01"], vd("400"));
    assert_eq!(m["month=2025-02"], vd("500"));
    assert_eq!(m["month=2025-03"], vd("50"));
    assert_eq!(m["month=2025-04"], vd("100"));
}

#[test]
fn customer_aggregates_by_period_are_refused() {
    let problems = pack_problems(
        &[
            PACK,
            ("r.yaml", "kpi: k\nby: [month]\nvalue: sum(revenue)\n"),
        ],
        &schema(),
    );
    assert_eq!(at(the_problem(&problems, "rules.kpi")), "p/r.yaml:1:1");
}

#[test]
fn alert_levels_from_thresholds_above() {
    let out = evaluate(
        "kpi: cac\nby: [channel]\nvalue: spend() / count(orders > 0)\nround: 2\n---\nalert: cac_high\non: cac\nlevels:\n  - { level: critical, above: \"params.limit * 1.5\" }\n  - { level: review, above: params.limit }\n",
        Facts {
            spend: vec![
                spend("2025-01-10", "wechat", "400"),
                spend("2025-01-10", "fair", "1000"),
            ],
            budgets: vec![],
            cost_pools: vec![],
        },
    );
    // wechat 400 / 1 buyer: above 300, not above 450; fair 1000 / 2: above 450;
    // (none): 0 / 1.
    let a = alerts(&out, "cac_high");
    assert_eq!(
        a["channel=wechat"],
        ("review".into(), "400.00".into(), "> 300".into())
    );
    assert_eq!(
        a["channel=fair"],
        ("critical".into(), "500.00".into(), "> 450".into())
    );
    assert_eq!(a["channel=(none)"].0, "ok");
    let row = out
        .alerts
        .iter()
        .find(|r| r.subject == "channel=fair")
        .expect("fair");
    assert_eq!(row.alert, "cac_high");
    assert_eq!(row.kpi.as_deref(), Some("cac"));
    assert_eq!(row.level, Level::Critical);
    assert_eq!(row.value, vd("500"));
    // Sorted by alert, then subject.
    let subjects: Vec<&str> = out.alerts.iter().map(|r| r.subject.as_str()).collect();
    let mut sorted = subjects.clone();
    sorted.sort();
    assert_eq!(subjects, sorted);
}

#[test]
fn alert_levels_below_and_outside() {
    let out = evaluate(
        "kpi: roi\nby: [channel]\nvalue: sum(revenue) / spend()\nround: 2\n---\nalert: roi_low\non: roi\nlevels:\n  - { level: critical, below: 0.5 }\n  - { level: watch, below: 1.0 }\n---\nkpi: dev\nby: [channel, quarter]\nvalue: (spend() - budget()) / budget()\nround: 4\n---\nalert: off_budget\non: dev\nlevels:\n  - { level: review, outside: [\"-params.tolerance\", params.tolerance] }\n",
        facts(),
    );
    let roi = alerts(&out, "roi_low");
    // wechat 2.14 ok; fair 1.00 is not below 1.0; tiktok 0 critical; (none) null: no row.
    assert_eq!(roi["channel=wechat"].0, "ok");
    assert_eq!(roi["channel=fair"].0, "ok");
    assert_eq!(
        roi["channel=tiktok"],
        ("critical".into(), "0.00".into(), "< 0.5".into())
    );
    assert!(!roi.contains_key("channel=(none)"));
    let dev = alerts(&out, "off_budget");
    assert_eq!(
        dev["channel=wechat, quarter=2025-Q1"],
        ("review".into(), "0.2".into(), "outside [-0.1, 0.1]".into())
    );
    assert_eq!(dev["channel=wechat, quarter=2025-Q2"].0, "ok");
    assert_eq!(dev["channel=radio, quarter=2025-Q1"].0, "review");
    assert!(!dev.contains_key("channel=tiktok, quarter=2025-Q1"));
}

#[test]
fn a_threshold_exactly_at_the_limit_does_not_trip() {
    let out = evaluate(
        "kpi: total\nvalue: sum(revenue)\n---\nalert: big\non: total\nlevels:\n  - { level: review, above: 2000 }\n---\nalert: small\non: total\nlevels:\n  - { level: review, below: 2000 }\n---\nalert: band\non: total\nlevels:\n  - { level: review, outside: [2000, 2000] }\n",
        Facts::default(),
    );
    for alert in ["big", "small", "band"] {
        assert_eq!(alerts(&out, alert)["all"].0, "ok", "{alert}");
    }
}

#[test]
fn a_per_customer_kpi_alert_names_each_customer_not_ok() {
    let out = evaluate(
        "kpi: rr\nper: customer\nvalue: refund_rate\n---\nalert: refunds\non: rr\nlevels:\n  - { level: critical, above: 0.28 }\n  - { level: watch, above: 0.2 }\n",
        Facts::default(),
    );
    let a = alerts(&out, "refunds");
    assert_eq!(
        a,
        BTreeMap::from([
            (
                "c".to_string(),
                (
                    "critical".to_string(),
                    "0.3".to_string(),
                    "> 0.28".to_string()
                )
            ),
            (
                "e".to_string(),
                ("watch".to_string(), "0.25".to_string(), "> 0.2".to_string())
            ),
        ])
    );
}

#[test]
fn a_condition_alert_names_customer_condition_and_level() {
    let out = evaluate(
        "alert: busy_refunder\nwhen: orders >= 2 && refund_rate > 0.2\nlevel: review\n",
        Facts::default(),
    );
    let rows: Vec<_> = out
        .alerts
        .iter()
        .filter(|a| a.alert == "busy_refunder")
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].subject, "c");
    assert_eq!(rows[1].subject, "e");
    assert_eq!(rows[0].level, Level::Review);
    assert_eq!(rows[0].threshold, "orders >= 2 && refund_rate > 0.2");
    assert_eq!(rows[0].value, Value::Null);
    assert_eq!(rows[0].kpi, None);
}

#[test]
fn an_alert_threshold_must_be_a_number() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "r.yaml",
                "kpi: total\nvalue: sum(revenue)\n---\nalert: big\non: total\nlevels:\n  - { level: review, above: params.limt }\n",
            ),
        ],
        &schema(),
    );
    // A misspelt parameter is an error of its own (not a silent null that is then "not a
    // number").
    let p = the_problem(&problems, "rules.eval");
    assert_eq!(p.file, "p/r.yaml");
    assert!(p.message.contains("params.limt"), "{p}");
}

#[test]
fn an_alert_level_needs_exactly_one_test() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "r.yaml",
                "kpi: total\nvalue: sum(revenue)\n---\nalert: big\non: total\nlevels:\n  - { level: review, above: 1, below: 0 }\n",
            ),
        ],
        &schema(),
    );
    assert_eq!(at(the_problem(&problems, "rules.alert")), "p/r.yaml:4:1");
}

#[test]
fn an_input_column_missing_from_the_table_gives_nulls_with_a_diagnostic() {
    let program = compile(
        &[
            PACK,
            (
                "r.yaml",
                "kpi: aov\nper: customer\nvalue: revenue / orders\n---\nkpi: mean\nvalue: avg(revenue / orders)\n",
            ),
        ],
        &schema(),
    );
    // No orders column.
    let table = Rows::new(&["a", "b"])
        .col("revenue", Type::Decimal, vec![vd("10"), vd("20")])
        .table();
    let out = run(&program, table, Facts::default(), "2025-12-31");
    assert_eq!(by_id(&out, "aov")["a"], Value::Null);
    assert_eq!(kpi(&out, "mean")["all"], Value::Null);
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.rule == "aov")
        .expect("a diagnostic");
    assert_eq!((d.code, d.count), ("rules.null", 2));
    assert!(d.message.contains("orders"), "{d:?}");
}

// ---------------------------------------------------------------- allocations

#[test]
fn an_amount_is_allocated_by_a_driver_to_the_cent() {
    // 100 by orders over a (3), c (2), d (1), e (4) (b has none): 30, 20, 10, 40.
    // 100.01 the same way: 30.003 -> 30.00, 20.002 -> 20.00, 10.001 -> 10.00, 40.004 ->
    // 40.00, and the one cent left goes to the largest remainder (e, 0.4 of a cent).
    for (amount, expected) in [
        ("100", ["30", "0", "20", "10", "40"]),
        ("100.01", ["30", "0", "20", "10", "40.01"]),
    ] {
        let out = evaluate(
            &format!("allocation: service\npool: {{ amount: {amount} }}\ndriver: orders\n"),
            Facts::default(),
        );
        let got = by_id(&out, "service");
        for (id, want) in ["a", "b", "c", "d", "e"].iter().zip(expected) {
            assert_eq!(got[*id], vd(want), "{id} of {amount}");
        }
        let pool = &out.allocations[0];
        assert_eq!(pool.allocated + pool.unallocated, pool.amount);
        assert_eq!(pool.unallocated, vd_dec("0"));
        assert_eq!(pool.customers, 4);
    }
}

#[test]
fn time_driven_costing_reports_unused_capacity() {
    // 2.5 yuan a minute, 12 minutes per order, 200 minutes supplied: a 90, c 60, d 30,
    // e 120 (orders x 12 x 2.5) use 120 of 200 minutes; 80 minutes (200 yuan) are unused.
    let out = evaluate(
        "allocation: support\npool: { amount: 500 }\ndriver: orders\nrate: 2.5\nunit_time: 12\ncapacity: 200\n",
        Facts::default(),
    );
    let got = by_id(&out, "support");
    assert_eq!(got["a"], vd("90"));
    assert_eq!(got["e"], vd("120"));
    let pool = &out.allocations[0];
    assert_eq!(pool.amount, vd_dec("500"));
    assert_eq!(pool.allocated, vd_dec("300"));
    assert_eq!(pool.unallocated, vd_dec("200"));
    assert_eq!(pool.unused_capacity, Some(vd_dec("80")));
}

#[test]
fn spend_is_allocated_per_channel_to_the_customers_it_acquired() {
    // wechat 700 over its buyers a (b has no orders); fair 300 over c and d; tiktok 50
    // has nobody: unallocated, with a diagnostic.
    let out = evaluate(
        "allocation: acquisition\npool: { spend: true, each: channel }\nto: orders > 0\n",
        facts(),
    );
    let got = by_id(&out, "acquisition");
    assert_eq!(got["a"], vd("700"));
    assert_eq!(got["b"], vd("0"));
    assert_eq!(got["c"], vd("150"));
    assert_eq!(got["d"], vd("150"));
    assert_eq!(got["e"], vd("0"));
    let left: Vec<_> = out
        .allocations
        .iter()
        .filter(|p| !p.unallocated.is_zero())
        .map(|p| p.pool.as_str())
        .collect();
    assert_eq!(left, ["channel=tiktok"]);
    assert!(out
        .diagnostics
        .iter()
        .any(|d| d.rule == "acquisition" && d.code == "rules.allocation"));
}

fn vd_dec(s: &str) -> rust_decimal::Decimal {
    s.parse().expect("decimal")
}

/// A curve KPI ranks customers by a value, highest first (ties by customer id), and
/// gives the cumulative value after each share of them, and at the curve's peak.
#[test]
fn a_curve_accumulates_by_rank_and_marks_its_peak() {
    // Revenue by rank: a 1000, b 500, c 300, e 200 (d has none and is not ranked); with
    // a cost of 600 each for b and e: profit a 1000, c 300, b -100, e -400.
    let out = evaluate(
        "kpi: k\ncurve: \"if channel == () { revenue - 600 } else if orders == 0 { revenue - 600 } else { revenue }\"\npoints: 3\n",
        Facts::default(),
    );
    let k = kpi(&out, "k");
    // 4 customers, 3 points: after ceil(4/3) = 2, ceil(8/3) = 3 and 4 customers.
    let expected: BTreeMap<String, Value> = [
        ("top=0.33", vd("1300")),
        ("top=0.67", vd("1200")),
        ("top=1.00", vd("800")),
        ("peak=0.5000", vd("1300")),
    ]
    .into_iter()
    .map(|(g, v)| (g.to_string(), v))
    .collect();
    assert_eq!(k, expected);
    // More points than customers: every point is reached.
    let out = evaluate(
        "kpi: k\ncurve: revenue\nfilter: orders > 2\npoints: 5\n",
        Facts::default(),
    );
    assert_eq!(kpi(&out, "k").len(), 6, "{:?}", kpi(&out, "k"));
}

#[test]
fn a_filter_that_is_not_a_condition_is_a_problem() {
    let problems = pack_problems(
        &[PACK, ("r.yaml", "kpi: k\nvalue: count()\nfilter: orders\n")],
        &schema(),
    );
    let p = the_problem(&problems, "rules.type");
    assert!(
        p.message.contains("expected bool, got int from the filter"),
        "{p}"
    );
}

/// `explain` of a group KPI names the customer's group and its value, or the filter
/// that kept the customer out.
#[test]
fn explain_tells_a_customer_its_group() {
    let program = compile(
        &[
            PACK,
            (
                "r.yaml",
                "kpi: k\nby: [channel]\nfilter: orders > 0\nvalue: sum(revenue)\n",
            ),
        ],
        &schema(),
    );
    let out = run(&program, rows().table(), Facts::default(), "2025-12-31");
    // a: wechat, 3 orders; wechat's buyers are a alone (b has no order): 1000.
    let a = program.explain(&out, 0, Some("k"));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].value, vd("1000"));
    let last = a[0].steps.last().unwrap();
    assert!(last.what.contains("group channel=wechat"), "{last:?}");
    assert_eq!(last.result, "1000");
    // b has no order: the filter keeps it out of every group.
    let b = program.explain(&out, 1, Some("k"));
    assert_eq!(b[0].value, Value::Null);
    assert_eq!(b[0].steps.len(), 1);
    assert_eq!(b[0].steps[0].result, "did not hold");
    // e has no channel: its group is (none).
    let e = program.explain(&out, 4, Some("k"));
    assert!(e[0].steps.last().unwrap().what.contains("channel=(none)"));
    assert_eq!(e[0].value, vd("200"));
}

#[test]
fn a_kpi_by_period_sums_the_ledger_only() {
    let declared = "feature: sales_12m\naggregate: sum\nkinds: [sale]\nwindow: 12m\n---\nfeature: sales\naggregate: sum\nkinds: [sale]\n";
    for (value, by) in [
        // A customer value is not a sum of entries by period.
        ("sum(revenue)", "[month]"),
        // Nor a windowed declared feature, nor an average.
        ("sum(sales_12m)", "[month]"),
        ("avg(sale)", "[quarter]"),
        // Not an entry kind either.
        ("sum(sailz)", "[year]"),
    ] {
        let rules = format!("{declared}---\nkpi: k\nby: {by}\nvalue: {value}\n");
        let problems = pack_problems(&[PACK, ("r.yaml", &rules)], &schema());
        let p = the_problem(&problems, "rules.kpi");
        assert!(p.message.contains("sums the ledger"), "{value}: {p}");
    }
    // A department is no customer's: ledger sums by period are not grouped by it.
    let problems = pack_problems(
        &[
            PACK,
            (
                "r.yaml",
                "kpi: k\nby: [department, month]\nvalue: sum(sale)\n",
            ),
        ],
        &schema(),
    );
    assert!(the_problem(&problems, "rules.kpi")
        .message
        .contains("department"));
    // Entry kinds and declared sums are fine.
    compile(
        &[
            PACK,
            ("r.yaml", &format!("{declared}---\nkpi: k\nby: [channel, month]\nvalue: sum(sales) - sum(refund)\n")),
        ],
        &schema(),
    );
}
