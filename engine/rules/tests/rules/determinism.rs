//! Determinism: the same input gives the same outcome, and the row order of the input
//! table changes nothing but the order of the output table.

use std::collections::BTreeMap;

use ledgerlens_rules::{Facts, Outcome, Program, Type, Value};

use crate::common::*;
use crate::standard::{book, book_facts, standard_program, table_of};

/// The lists of an outcome that are a contract (everything but the table), as text.
fn lists(out: &Outcome) -> String {
    format!("{:?}\n{:?}\n{:?}", out.segments, out.kpis, out.alerts)
}

/// Every per-customer column, by customer id.
fn columns(program: &Program, out: &Outcome) -> BTreeMap<String, BTreeMap<String, Value>> {
    program
        .customer_columns()
        .map(|(name, _)| (name.to_string(), by_id(out, name)))
        .collect()
}

/// Diagnostics without the example customer (the first one met, which depends on the row
/// order by design).
fn diagnostics(out: &Outcome) -> Vec<(String, &'static str, u64)> {
    out.diagnostics
        .iter()
        .map(|d| (d.rule.clone(), d.code, d.count))
        .collect()
}

#[test]
fn the_standard_pack_twice_gives_identical_outcomes() {
    let program = standard_program();
    let a = run(
        &program,
        table_of(&program, &book(), "2025-12-31"),
        book_facts(),
        "2025-12-31",
    );
    let b = run(
        &program,
        table_of(&program, &book(), "2025-12-31"),
        book_facts(),
        "2025-12-31",
    );
    assert_eq!(lists(&a), lists(&b));
    assert_eq!(
        format!("{:?}", a.diagnostics),
        format!("{:?}", b.diagnostics)
    );
    assert_eq!(columns(&program, &a), columns(&program, &b));
}

#[test]
fn the_row_order_of_the_book_changes_nothing_but_the_table_order() {
    let program = standard_program();
    let customers = book();
    let a = run(
        &program,
        table_of(&program, &customers, "2025-12-31"),
        book_facts(),
        "2025-12-31",
    );
    for order in [
        vec![7, 6, 5, 4, 3, 2, 1, 0],
        vec![3, 0, 6, 1, 7, 2, 5, 4],
        vec![1, 2, 3, 4, 5, 6, 7, 0],
    ] {
        let shuffled: Vec<_> = order.iter().map(|&i| customers[i].clone()).collect();
        let b = run(
            &program,
            table_of(&program, &shuffled, "2025-12-31"),
            book_facts(),
            "2025-12-31",
        );
        assert_eq!(lists(&a), lists(&b), "order {order:?}");
        assert_eq!(diagnostics(&a), diagnostics(&b), "order {order:?}");
        assert_eq!(
            columns(&program, &a),
            columns(&program, &b),
            "order {order:?}"
        );
    }
}

#[test]
fn the_order_of_spend_and_budget_rows_changes_nothing() {
    let program = standard_program();
    let a = run(
        &program,
        table_of(&program, &book(), "2025-12-31"),
        book_facts(),
        "2025-12-31",
    );
    let mut facts = book_facts();
    facts.spend.reverse();
    facts.budgets.reverse();
    let b = run(
        &program,
        table_of(&program, &book(), "2025-12-31"),
        facts,
        "2025-12-31",
    );
    assert_eq!(lists(&a), lists(&b));
}

/// More customers than one evaluation chunk (4096 rows), so that rows are evaluated on
/// several threads: the outcome must not depend on how they were split or scheduled.
#[test]
fn a_table_of_several_chunks_is_evaluated_deterministically_in_any_row_order() {
    let program = compile(
        &[
            ("pack.yaml", "name: p\nparams:\n  big: 500\n"),
            (
                "r.yaml",
                "feature: aov\nexpr: if orders == 0 { () } else { revenue / orders }\nround: 2\n---\nsegment: size\nhit: collect\nrules:\n  - when: revenue >= params.big\n    label: big\n  - when: orders > 5\n    label: frequent\n---\nsegment: q\nquantile: { of: revenue, buckets: 10 }\n---\nsegment: v\npareto:\n  of: revenue\n  classes:\n    - { label: A, upto: 0.8 }\n    - { label: B, upto: 0.95 }\n    - { label: C }\n---\nkpi: by_group\nby: [group, v]\nvalue: sum(revenue) / count()\nround: 4\n---\nkpi: mean_aov\nvalue: avg(aov)\n---\nkpi: med\nby: [group]\nvalue: median(revenue)\n---\nalert: aov_high\non: by_group\nlevels:\n  - { level: watch, above: 600 }\n---\nalert: odd\nwhen: orders == 7 && revenue > 900\nlevel: review\n",
            ),
        ],
        &inputs(&[
            ("revenue", Type::Decimal),
            ("orders", Type::Int),
            ("group", Type::Text),
        ]),
    );
    let n = 9_000;
    let ids: Vec<String> = (0..n).map(|i| format!("c{i:05}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut revenue = Vec::with_capacity(n);
    let mut orders = Vec::with_capacity(n);
    let mut group = Vec::with_capacity(n);
    for _ in 0..n {
        let r = next();
        revenue.push(if r % 53 == 0 {
            Value::Null
        } else {
            Value::Decimal(rust_decimal::Decimal::new((r % 100_000) as i64, 2))
        });
        orders.push(Value::Int((r >> 20) as i64 % 10));
        group.push(vt(["north", "south", "east"][(r >> 40) as usize % 3]));
    }
    let rows = Rows::new(&id_refs)
        .col("revenue", Type::Decimal, revenue)
        .col("orders", Type::Int, orders)
        .col("group", Type::Text, group);
    let reversed: Vec<usize> = (0..n).rev().collect();
    let interleaved: Vec<usize> = (0..n).step_by(2).chain((1..n).step_by(2)).collect();
    let a = run(&program, rows.table(), Facts::default(), "2025-12-31");
    let again = run(&program, rows.table(), Facts::default(), "2025-12-31");
    assert_eq!(lists(&a), lists(&again));
    assert_eq!(
        format!("{:?}", a.diagnostics),
        format!("{:?}", again.diagnostics)
    );
    for order in [reversed, interleaved] {
        let b = run(
            &program,
            rows.permuted(&order).table(),
            Facts::default(),
            "2025-12-31",
        );
        assert_eq!(lists(&a), lists(&b));
        assert_eq!(diagnostics(&a), diagnostics(&b));
        assert_eq!(columns(&program, &a), columns(&program, &b));
    }
    // The table kept every customer, and the quantiles used every bucket.
    assert_eq!(a.customers, n);
    assert_eq!(sizes(&a, "q").len(), 11, "10 scores and (none)");
}

#[test]
fn keep_outputs_and_keeps_the_named_columns_besides_the_outputs() {
    use ledgerlens_rules::{Input, Keep};
    let program = compile(
        &[
            ("pack.yaml", "name: p\n"),
            ("f.yaml", "feature: double\nexpr: revenue * 2\n"),
            (
                "s.yaml",
                "segment: tier\nrules:\n  - when: double >= 10\n    label: big\n  - label: small\n",
            ),
        ],
        &inputs(&[("revenue", Type::Decimal), ("orders", Type::Decimal)]),
    );
    let rows = Rows::new(&["a", "b"])
        .col("revenue", Type::Decimal, vec![vd("5"), vd("1")])
        .col("orders", Type::Decimal, vec![vd("1"), vd("2")]);
    let run = |keep| {
        let out = program
            .evaluate_keeping(
                Input {
                    table: rows.table(),
                    facts: Facts::default(),
                    periods: Default::default(),
                    as_of: d("2025-12-31"),
                },
                keep,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let mut names: Vec<String> = out
            .table
            .schema()
            .filter(|(n, _)| out.table.column(n).is_some())
            .map(|(n, _)| n.to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(run(Keep::Outputs), ["tier"]);
    assert_eq!(
        run(Keep::OutputsAnd(&["double", "revenue", "missing"])),
        ["double", "revenue", "tier"]
    );
    assert_eq!(run(Keep::All), ["double", "orders", "revenue", "tier"]);
}
