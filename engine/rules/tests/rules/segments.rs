//! Segments: hit policies, quantile scores (tie-aware, order-free) and Pareto classes.

use std::collections::BTreeMap;

use ledgerlens_rules::{Facts, Type, Value};
use proptest::prelude::*;

use crate::common::*;

const PACK: (&str, &str) = ("pack.yaml", "name: p\nparams:\n  big: 1000\n");

fn schema() -> BTreeMap<String, Type> {
    inputs(&[
        ("revenue", Type::Decimal),
        ("orders", Type::Int),
        ("recency_days", Type::Int),
    ])
}

/// Customers a..e with revenue and orders.
fn rows() -> Rows {
    Rows::new(&["a", "b", "c", "d", "e"])
        .col(
            "revenue",
            Type::Decimal,
            vec![vd("5000"), vd("500"), vd("1500"), vd("50"), Value::Null],
        )
        .col(
            "orders",
            Type::Int,
            vec![
                Value::Int(10),
                Value::Int(1),
                Value::Int(12),
                Value::Int(0),
                Value::Int(3),
            ],
        )
}

fn labels(segment_yaml: &str) -> (BTreeMap<String, Value>, ledgerlens_rules::Outcome) {
    let program = compile(&[PACK, ("s.yaml", segment_yaml)], &schema());
    let out = run(&program, rows().table(), Facts::default(), "2025-12-31");
    (by_id(&out, "s"), out)
}

fn text(values: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn first_takes_the_first_rule_that_holds() {
    let (l, out) = labels(
        "segment: s\nrules:\n  - when: revenue >= params.big\n    label: big\n    action: call\n  - when: orders >= 10\n    label: frequent\n  - label: other\n",
    );
    // c is big and frequent: the first wins. e has no revenue: `() >= 1000` does not hold.
    assert_eq!(
        text(&l),
        expect(&[
            ("a", "big"),
            ("b", "other"),
            ("c", "big"),
            ("d", "other"),
            ("e", "other")
        ])
    );
    assert_eq!(
        sizes(&out, "s"),
        BTreeMap::from([("big".into(), 2), ("other".into(), 3)])
    );
    let big = out.segments.iter().find(|s| s.label == "big").expect("big");
    assert_eq!(big.action.as_deref(), Some("call"));
}

#[test]
fn without_a_default_some_customers_get_no_label() {
    let (l, out) = labels("segment: s\nrules:\n  - when: orders >= 10\n    label: frequent\n");
    assert_eq!(l["b"], Value::Null);
    assert_eq!(
        sizes(&out, "s"),
        BTreeMap::from([("(none)".into(), 3), ("frequent".into(), 2)])
    );
}

#[test]
fn only_the_last_rule_may_be_the_default() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\nrules:\n  - label: any\n  - when: orders > 1\n    label: some\n",
            ),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.segment");
    assert_eq!(at(p), "p/s.yaml:3:12", "{p}");
}

#[test]
fn unique_gives_no_label_and_a_diagnostic_when_several_hold() {
    let (l, out) = labels(
        "segment: s\nhit: unique\nrules:\n  - when: revenue >= params.big\n    label: big\n  - when: orders >= 10\n    label: frequent\n  - label: other\n",
    );
    // a and c are both big and frequent.
    assert_eq!(
        text(&l),
        expect(&[
            ("a", "null"),
            ("b", "other"),
            ("c", "null"),
            ("d", "other"),
            ("e", "other")
        ])
    );
    let diags: Vec<_> = out.diagnostics.iter().filter(|d| d.rule == "s").collect();
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = diags[0];
    assert_eq!(d.code, "rules.unique");
    assert_eq!(d.count, 2);
    assert_eq!(d.at, "p/s.yaml:1:1");
    assert!(
        d.message.contains("big") && d.message.contains("frequent"),
        "{d:?}"
    );
    assert!(d.example == "a" || d.example == "c", "{d:?}");
    assert_eq!(sizes(&out, "s")["(none)"], 2);
}

#[test]
fn unique_with_one_hit_is_that_label() {
    let (l, out) = labels(
        "segment: s\nhit: unique\nrules:\n  - when: revenue >= params.big\n    label: big\n  - when: orders == 1\n    label: once\n",
    );
    assert_eq!(
        text(&l),
        expect(&[
            ("a", "big"),
            ("b", "once"),
            ("c", "big"),
            ("d", "null"),
            ("e", "null")
        ])
    );
    assert!(out.diagnostics.iter().all(|d| d.code != "rules.unique"));
}

#[test]
fn priority_takes_the_highest_priority_that_holds() {
    let (l, _) = labels(
        "segment: s\nhit: priority\nrules:\n  - when: orders >= 1\n    label: buyer\n    priority: 1\n  - when: orders >= 10\n    label: frequent\n    priority: 5\n  - when: revenue >= params.big\n    label: big\n    priority: 5\n  - label: nobody\n",
    );
    // a, c: frequent and big tie at 5: the first listed (frequent) wins.
    assert_eq!(
        text(&l),
        expect(&[
            ("a", "frequent"),
            ("b", "buyer"),
            ("c", "frequent"),
            ("d", "nobody"),
            ("e", "buyer")
        ])
    );
}

#[test]
fn collect_gives_every_label_that_holds() {
    let (l, out) = labels(
        "segment: s\nhit: collect\nrules:\n  - when: revenue >= params.big\n    label: big\n  - when: orders >= 10\n    label: frequent\n  - when: orders == 0\n    label: none-yet\n",
    );
    assert_eq!(l["a"], Value::List(vec!["big".into(), "frequent".into()]));
    assert_eq!(l["b"], Value::List(vec![]));
    assert_eq!(l["d"], Value::List(vec!["none-yet".into()]));
    assert_eq!(
        sizes(&out, "s"),
        BTreeMap::from([
            ("(none)".into(), 2),
            ("big".into(), 2),
            ("frequent".into(), 2),
            ("none-yet".into(), 1)
        ])
    );
}

#[test]
fn a_collect_segment_can_be_read_with_contains() {
    let program = compile(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\nhit: collect\nrules:\n  - when: revenue >= params.big\n    label: big\n  - when: orders >= 10\n    label: frequent\n---\nfeature: both\nexpr: s.contains(\"big\") && s.contains(\"frequent\")\n",
            ),
        ],
        &schema(),
    );
    let out = run(&program, rows().table(), Facts::default(), "2025-12-31");
    let both = by_id(&out, "both");
    assert_eq!(both["a"], Value::Bool(true));
    assert_eq!(both["b"], Value::Bool(false));
}

#[test]
fn quantile_scores_by_hand() {
    let program = compile(
        &[
            PACK,
            (
                "q.yaml",
                "segment: m\nquantile: { of: revenue, buckets: 4 }\nactions:\n  \"4\": keep\n---\nsegment: r\nquantile: { of: recency_days, buckets: 4, better: low }\n",
            ),
        ],
        &schema(),
    );
    let table = Rows::new(&["a", "b", "c", "d", "e", "f", "g", "h", "i"])
        .col(
            "revenue",
            Type::Decimal,
            ["10", "20", "20", "30", "40", "50", "60", "70"]
                .iter()
                .map(|s| vd(s))
                .chain([Value::Null])
                .collect(),
        )
        .col(
            "recency_days",
            Type::Int,
            [5, 5, 5, 30, 60, 90, 120, 365, 400]
                .into_iter()
                .map(Value::Int)
                .collect(),
        )
        .table();
    let out = run(&program, table, Facts::default(), "2025-12-31");
    // Revenue, 8 values: the score is 1 + (values strictly below) x 4 / 8.
    let m = text(&by_id(&out, "m"));
    assert_eq!(
        m,
        expect(&[
            ("a", "1"),
            ("b", "1"),
            ("c", "1"),
            ("d", "2"),
            ("e", "3"),
            ("f", "3"),
            ("g", "4"),
            ("h", "4"),
            ("i", "null")
        ])
    );
    // Recency, 9 values, lower is better: 1 + (values strictly above) x 4 / 9.
    let r = text(&by_id(&out, "r"));
    assert_eq!(
        r,
        expect(&[
            ("a", "3"),
            ("b", "3"),
            ("c", "3"),
            ("d", "3"),
            ("e", "2"),
            ("f", "2"),
            ("g", "1"),
            ("h", "1"),
            ("i", "1")
        ])
    );
    let keep = out
        .segments
        .iter()
        .find(|s| s.segment == "m" && s.label == "4")
        .expect("score 4");
    assert_eq!((keep.customers, keep.action.as_deref()), (2, Some("keep")));
}

#[test]
fn quantile_buckets_out_of_range_are_a_problem() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "q.yaml",
                "segment: m\nquantile: { of: revenue, buckets: 1 }\n",
            ),
        ],
        &schema(),
    );
    assert_eq!(at(the_problem(&problems, "rules.segment")), "p/q.yaml:1:1");
}

#[test]
fn pareto_classes_with_explicit_boundaries_by_hand() {
    let program = compile(
        &[
            (
                "pack.yaml",
                "name: p\nparams:\n  a: { type: decimal, default: 0.5 }\n",
            ),
            (
                "v.yaml",
                "segment: v\npareto:\n  of: revenue\n  classes:\n    - { label: A, upto: params.a }\n    - { label: B, upto: 0.9 }\n    - { label: C }\nactions:\n  A: protect\n",
            ),
        ],
        &schema(),
    );
    // Total of positive values 1000. Ranked: a 400 (0% above it: A), b 300 (40% above:
    // A), c 120 and d 120 (70% above: B; a tie shares its class), e 60 (94% above: C),
    // f 0 and g -20 (C), h null (no class).
    let table = Rows::new(&["a", "b", "c", "d", "e", "f", "g", "h"])
        .col(
            "revenue",
            Type::Decimal,
            vec![
                vd("400"),
                vd("300"),
                vd("120"),
                vd("120"),
                vd("60"),
                vd("0"),
                vd("-20"),
                Value::Null,
            ],
        )
        .table();
    let out = run(&program, table, Facts::default(), "2025-12-31");
    assert_eq!(
        text(&by_id(&out, "v")),
        expect(&[
            ("a", "A"),
            ("b", "A"),
            ("c", "B"),
            ("d", "B"),
            ("e", "C"),
            ("f", "C"),
            ("g", "C"),
            ("h", "null")
        ])
    );
    let a = out
        .segments
        .iter()
        .find(|s| s.label == "A")
        .expect("class A");
    assert_eq!((a.customers, a.action.as_deref()), (2, Some("protect")));
}

#[test]
fn pareto_boundaries_must_rise_within_zero_and_one() {
    for classes in [
        "    - { label: A, upto: 0.9 }\n    - { label: B, upto: 0.5 }\n    - { label: C }\n",
        "    - { label: A, upto: 1.5 }\n    - { label: C }\n",
        "    - { label: A }\n    - { label: C }\n",
        "    - { label: A, upto: 0.8 }\n    - { label: C, upto: 0.9 }\n",
    ] {
        let problems = pack_problems(
            &[
                PACK,
                (
                    "v.yaml",
                    &format!("segment: v\npareto:\n  of: revenue\n  classes:\n{classes}"),
                ),
            ],
            &schema(),
        );
        assert_eq!(
            at(the_problem(&problems, "rules.segment")),
            "p/v.yaml:1:1",
            "{classes}"
        );
    }
}

#[test]
fn pareto_of_all_zero_values_is_the_last_class() {
    let program = compile(
        &[
            PACK,
            (
                "v.yaml",
                "segment: v\npareto:\n  of: revenue\n  classes:\n    - { label: A, upto: 0.8 }\n    - { label: C }\n",
            ),
        ],
        &schema(),
    );
    let table = Rows::new(&["a", "b"])
        .col("revenue", Type::Decimal, vec![vd("0"), vd("0")])
        .table();
    let out = run(&program, table, Facts::default(), "2025-12-31");
    assert_eq!(sizes(&out, "v"), BTreeMap::from([("C".into(), 2)]));
}

fn quantile_program() -> ledgerlens_rules::Program {
    compile(
        &[
            PACK,
            (
                "q.yaml",
                "segment: q\nquantile: { of: revenue, buckets: 5 }\n---\nsegment: low\nquantile: { of: revenue, buckets: 3, better: low }\n---\nsegment: v\npareto:\n  of: revenue\n  classes:\n    - { label: A, upto: 0.8 }\n    - { label: B, upto: 0.95 }\n    - { label: C }\n",
            ),
        ],
        &schema(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Equal values get equal scores and classes, scores rise with the value and stay in
    /// 1..=buckets, and no permutation of the rows changes any customer's score or class.
    #[test]
    fn quantiles_and_pareto_are_tie_aware_and_order_free(
        values in prop::collection::vec(prop::option::weighted(0.9, -50i64..50), 1..40),
        seed in any::<u64>(),
    ) {
        let program = quantile_program();
        let ids: Vec<String> = (0..values.len()).map(|i| format!("c{i:02}")).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let column: Vec<Value> = values
            .iter()
            .map(|v| v.map_or(Value::Null, |x| Value::Decimal(rust_decimal::Decimal::new(x, 1))))
            .collect();
        let rows = Rows::new(&id_refs).col("revenue", Type::Decimal, column.clone());
        // A permutation from the seed (Fisher-Yates with a small LCG).
        let mut order: Vec<usize> = (0..values.len()).collect();
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (state >> 33) as usize % (i + 1));
        }
        let a = run(&program, rows.table(), Facts::default(), "2025-12-31");
        let b = run(&program, rows.permuted(&order).table(), Facts::default(), "2025-12-31");
        for seg in ["q", "low", "v"] {
            prop_assert_eq!(by_id(&a, seg), by_id(&b, seg), "segment {}", seg);
            prop_assert_eq!(sizes(&a, seg), sizes(&b, seg));
        }
        let q = by_id(&a, "q");
        let low = by_id(&a, "low");
        for (i, x) in values.iter().enumerate() {
            let qi = &q[&ids[i]];
            match x {
                None => {
                    prop_assert_eq!(qi, &Value::Null);
                    prop_assert_eq!(&low[&ids[i]], &Value::Null);
                }
                Some(_) => {
                    let Value::Int(s) = qi else { panic!("score {qi:?}") };
                    prop_assert!((1..=5).contains(s));
                }
            }
            for (j, y) in values.iter().enumerate() {
                if let (Some(x), Some(y)) = (x, y) {
                    let (qi, qj) = (&q[&ids[i]], &q[&ids[j]]);
                    let (li, lj) = (&low[&ids[i]], &low[&ids[j]]);
                    if x == y {
                        prop_assert_eq!(qi, qj);
                        prop_assert_eq!(li, lj);
                    }
                    if x < y {
                        prop_assert!(qi <= qj, "{} < {} but {:?} > {:?}", x, y, qi, qj);
                        prop_assert!(li >= lj, "{} < {} but low {:?} < {:?}", x, y, li, lj);
                    }
                }
            }
        }
    }
}
