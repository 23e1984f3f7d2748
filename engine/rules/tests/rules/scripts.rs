//! Scripts: money is exact (decimals, not floats), whole-number division is exact, and
//! names in scripts mean what they say.

use std::collections::BTreeMap;

use ledgerlens_rules::{Facts, Type, Value};

use crate::common::*;

fn schema() -> BTreeMap<String, Type> {
    inputs(&[
        ("revenue", Type::Decimal),
        ("orders", Type::Int),
        ("first_purchase", Type::Date),
    ])
}

fn one_customer() -> Rows {
    Rows::new(&["c1"])
        .col("revenue", Type::Decimal, vec![vd("100.10")])
        .col("orders", Type::Int, vec![Value::Int(7)])
        .col(
            "first_purchase",
            Type::Date,
            vec![Value::Date(d("2025-01-31"))],
        )
}

/// The value of feature `f` (an expression or a script) for the one customer.
fn value(rule: &str) -> Value {
    value_with(
        &[("pack.yaml", "name: p\nparams:\n  tenth: 0.1\n  seven: 7\n")],
        rule,
    )
}

fn value_with(extra: &[(&str, &str)], rule: &str) -> Value {
    let mut files = extra.to_vec();
    files.push(("f.yaml", rule));
    let program = compile(&files, &schema());
    let out = run(
        &program,
        one_customer().table(),
        Facts::default(),
        "2025-12-31",
    );
    let diags: Vec<_> = out.diagnostics.iter().filter(|d| d.rule == "f").collect();
    assert!(diags.is_empty(), "{diags:?}");
    value_of(&out, "f", "c1")
}

#[test]
fn decimal_literals_are_exact() {
    assert_eq!(
        value("feature: f\nexpr: 0.1 + 0.2 == 0.3\n"),
        Value::Bool(true)
    );
    assert_eq!(value("feature: f\nexpr: 0.1 + 0.2\n"), vd("0.3"));
    assert_eq!(
        value("feature: f\nexpr: 1234567.89 * 100\n"),
        vd("123456789")
    );
}

#[test]
fn decimal_parameters_are_exact() {
    assert_eq!(
        value("feature: f\nexpr: params.tenth * 3 == 0.3\n"),
        Value::Bool(true)
    );
}

#[test]
fn money_columns_are_exact() {
    // 100.10 x 3 - 0.3 = 300.00 exactly.
    assert_eq!(
        value("feature: f\nexpr: revenue * 3 - 0.3 == 300\n"),
        Value::Bool(true)
    );
}

#[test]
fn whole_number_division_is_exact() {
    assert_eq!(value("feature: f\nexpr: 7 / 2\n"), vd("3.5"));
    assert_eq!(value("feature: f\nexpr: orders / 4\n"), vd("1.75"));
    assert_eq!(value("feature: f\nexpr: params.seven / 2\n"), vd("3.5"));
    assert_eq!(
        value("feature: f\nexpr: orders / 7 == 1\n"),
        Value::Bool(true)
    );
}

#[test]
fn whole_number_division_is_exact_in_library_functions() {
    let v = value_with(
        &[
            ("pack.yaml", "name: p\n"),
            ("lib.rhai", "fn half(n) { n / 2 }\n"),
        ],
        "feature: f\nexpr: half(orders)\n",
    );
    assert_eq!(v, vd("3.5"));
}

#[test]
fn whole_number_division_is_exact_in_compound_assignment() {
    let v = value("feature: f\ntype: decimal\nscript: |\n  let x = 7;\n  x /= 2;\n  x\n");
    assert_eq!(v, vd("3.5"));
}

#[test]
fn rounding_is_half_away_from_zero() {
    assert_eq!(
        value("feature: f\nexpr: round_money(2.345, 2)\n"),
        vd("2.35")
    );
    assert_eq!(
        value("feature: f\nexpr: round_money(-2.345, 2)\n"),
        vd("-2.35")
    );
    assert_eq!(value("feature: f\nexpr: percent(1, 8)\n"), vd("12.5"));
}

#[test]
fn a_feature_rounds_to_its_places() {
    assert_eq!(value("feature: f\nexpr: 2 / 3\nround: 2\n"), vd("0.67"));
    assert_eq!(value("feature: f\nexpr: 0.125\nround: 2\n"), vd("0.13"));
}

#[test]
fn dates_in_scripts() {
    assert_eq!(
        value("feature: f\nexpr: days_between(first_purchase, as_of)\n"),
        Value::Decimal(334.into())
    );
    assert_eq!(
        value("feature: f\nexpr: months_between(first_purchase, as_of)\n"),
        Value::Decimal(11.into())
    );
    assert_eq!(
        value("feature: f\nexpr: quarter_of(as_of)\n"),
        vt("2025-Q4")
    );
}

#[test]
fn date_arithmetic_in_a_script() {
    assert_eq!(
        value("feature: f\ntype: date\nscript: |\n  let d = first_purchase;\n  d + 1\n"),
        Value::Date(d("2025-02-01"))
    );
    assert_eq!(
        value("feature: f\ntype: int\nscript: |\n  let d = first_purchase;\n  as_of - d\n"),
        Value::Int(334)
    );
}

#[test]
fn date_arithmetic_in_an_expression() {
    assert_eq!(
        value("feature: f\ntype: date\nexpr: first_purchase + 1\n"),
        Value::Date(d("2025-02-01"))
    );
    assert_eq!(
        value("feature: f\ntype: int\nexpr: as_of - first_purchase\n"),
        Value::Int(334)
    );
    let soon = value("feature: f\nexpr: first_purchase + 365 > as_of\n");
    assert_eq!(soon, Value::Bool(true));
}

#[test]
fn a_local_variable_shadows_a_column() {
    let v = value("feature: f\ntype: int\nscript: |\n  let orders = 3;\n  orders\n");
    assert_eq!(v, Value::Int(3));
}

#[test]
fn a_function_parameter_shadows_a_column() {
    let v = value_with(
        &[
            ("pack.yaml", "name: p\n"),
            ("lib.rhai", "fn double(revenue) { revenue * 2 }\n"),
        ],
        "feature: f\nexpr: double(5)\n",
    );
    // A number is a decimal (inferred types): 10, not twice the customer's revenue.
    assert_eq!(v.as_decimal(), Some(dec("10")));
}

#[test]
fn an_inferred_numeric_type_accepts_both_whole_and_decimal_results() {
    let program = compile(
        &[
            ("pack.yaml", "name: p\n"),
            (
                "f.yaml",
                "feature: f\nexpr: if orders > 10 { 1.5 } else { 2 }\n",
            ),
        ],
        &schema(),
    );
    let rows = Rows::new(&["few", "many"])
        .col("revenue", Type::Decimal, vec![vd("1"), vd("1")])
        .col("orders", Type::Int, vec![Value::Int(1), Value::Int(20)])
        .col("first_purchase", Type::Date, vec![Value::Null, Value::Null]);
    let out = run(&program, rows.table(), Facts::default(), "2025-12-31");
    assert_eq!(value_of(&out, "f", "few").as_decimal(), Some(dec("2")));
    assert_eq!(value_of(&out, "f", "many").as_decimal(), Some(dec("1.5")));
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
}

#[test]
fn a_script_file_named_by_a_rule_runs() {
    let v = value_with(
        &[
            ("pack.yaml", "name: p\n"),
            ("scripts/score.rhai", "let base = orders * 10;\nbase + 1\n"),
        ],
        "feature: f\nscript: scripts/score.rhai\n",
    );
    assert_eq!(v, Value::Decimal(71.into()));
}

#[test]
fn assigning_to_a_column_or_as_of_is_a_problem() {
    for script in ["orders = 1;", "as_of = 1;", "params = 1;"] {
        let text = format!("feature: f\ntype: int\nscript: |\n  {script}\n  0\n");
        let problems = pack_problems(
            &[
                ("pack.yaml", "name: p\nparams:\n  seven: 7\n"),
                ("f.yaml", &text),
            ],
            &schema(),
        );
        let p = the_problem(&problems, "rules.eval");
        assert_eq!(at(p), "p/f.yaml:1:1", "{script}");
        assert!(p.message.contains("Cannot modify constant"), "{p}");
    }
}

#[test]
fn assigning_to_a_parameter_is_a_problem_not_a_panic() {
    let (result, _) = within(HANG, || {
        load(&[
            ("pack.yaml", "name: p\nparams:\n  seven: 7\n"),
            (
                "f.yaml",
                "feature: f\ntype: int\nscript: |\n  params.seven = 1;\n  0\n",
            ),
        ])
        .and_then(|pack| ledgerlens_rules::Program::compile(&pack, &schema()))
        .map(|_| ())
    });
    assert_eq!(problems(result)[0].file, "p/f.yaml");
}

#[test]
fn assigning_to_a_parameter_at_evaluation_does_not_panic() {
    let program = compile(
        &[
            ("pack.yaml", "name: p\nparams:\n  seven: 7\n"),
            (
                "f.yaml",
                "feature: f\ntype: int\nscript: |\n  if orders > 100 { params.seven = 1; }\n  params.seven\n",
            ),
        ],
        &schema(),
    );
    let rows = Rows::new(&["a", "b"])
        .col("revenue", Type::Decimal, vec![vd("1"), vd("1")])
        .col("orders", Type::Int, vec![Value::Int(1000), Value::Int(1)])
        .col("first_purchase", Type::Date, vec![Value::Null, Value::Null]);
    let table = rows.table();
    let (result, _) = within(HANG, move || {
        program
            .evaluate(ledgerlens_rules::Input {
                table,
                facts: Facts::default(),
                periods: Default::default(),
                as_of: d("2025-12-31"),
            })
            .map(|out| value_of(&out, "f", "b"))
    });
    match result {
        Ok(v) => assert_eq!(v, Value::Int(7)),
        Err(ledgerlens_rules::Error::Rule { rule, .. }) => assert_eq!(rule, "f"),
        Err(e) => panic!("{e}"),
    }
}

fn tags_and_region(rule: &str) -> (Value, Value, usize) {
    let schema = inputs(&[("tags", Type::List), ("region", Type::Text)]);
    let program = compile(
        &[
            ("pack.yaml", "name: p\nparams:\n  vips: [vip]\n"),
            ("f.yaml", rule),
        ],
        &schema,
    );
    let rows = Rows::new(&["a", "b"])
        .col(
            "tags",
            Type::List,
            vec![Value::List(vec!["vip".into()]), Value::List(vec![])],
        )
        .col("region", Type::Text, vec![Value::Null, vt("vip")]);
    let out = run(&program, rows.table(), Facts::default(), "2025-12-31");
    (
        value_of(&out, "f", "a"),
        value_of(&out, "f", "b"),
        out.diagnostics.len(),
    )
}

#[test]
fn a_list_equals_a_list_in_a_script() {
    // In Rhai (a script with a statement), lists compare item by item.
    let got =
        tags_and_region("feature: f\ntype: bool\nscript: |\n  let x = tags;\n  x == params.vips\n");
    assert_eq!(got, (Value::Bool(true), Value::Bool(false), 0));
}

#[test]
fn a_list_equals_a_list_in_an_expression() {
    let got = tags_and_region("feature: f\ntype: bool\nexpr: tags == params.vips\n");
    assert_eq!(got, (Value::Bool(true), Value::Bool(false), 0));
}

#[test]
fn a_list_does_not_contain_a_missing_value() {
    let got = tags_and_region("feature: f\ntype: bool\nexpr: tags.contains(region)\n");
    assert_eq!(got, (Value::Bool(false), Value::Bool(false), 0));
}
