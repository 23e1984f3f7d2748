//! Bad packs: every mistake is an `Error::Pack` problem (or an `Error::Rule` at evaluation)
//! naming the file and, where there is one, the line and column. Nothing hangs or panics.

use std::collections::BTreeMap;

use ledgerlens_rules::{Error, Facts, Input, PackSource, Program, Type, Value};

use crate::common::*;

fn schema() -> BTreeMap<String, Type> {
    inputs(&[
        ("revenue", Type::Decimal),
        ("orders", Type::Int),
        ("region", Type::Text),
        ("first_purchase", Type::Date),
    ])
}

const PACK: (&str, &str) = ("pack.yaml", "name: p\nparams:\n  big: 1000\n");

// ---------------------------------------------------------------- YAML syntax

#[test]
fn yaml_syntax_error_in_a_rule_file_is_a_problem_not_a_hang() {
    let (result, _) = within(HANG, || {
        load(&[
            PACK,
            (
                "a.yaml",
                "feature: a\nexpr: orders\n---\nfeature: b\nexpr: [1,\n",
            ),
        ])
        .map(|_| ())
    });
    let problems = problems(result);
    assert!(
        problems
            .iter()
            .all(|p| p.file == "p/a.yaml" && p.code == "rules.yaml" && p.line >= 5),
        "{problems:#?}"
    );
}

#[test]
fn yaml_syntax_error_in_a_one_rule_file_is_a_problem_not_a_hang() {
    let (result, _) = within(HANG, || {
        load(&[PACK, ("a.yaml", "feature: a\nexpr: \"orders\n")]).map(|_| ())
    });
    let problems = problems(result);
    assert!(
        problems
            .iter()
            .all(|p| p.file == "p/a.yaml" && p.code == "rules.yaml" && p.line >= 2),
        "{problems:#?}"
    );
}

#[test]
fn yaml_syntax_error_in_pack_yaml_names_line_and_column() {
    let problems = problems(load(&[("pack.yaml", "name: p\nparams:\n  a: 1\n b: 2\n")]));
    let p = the_problem(&problems, "rules.yaml");
    assert_eq!(at(p), "p/pack.yaml:4:2", "{p}");
}

#[test]
fn deeply_nested_yaml_is_refused_not_a_stack_overflow() {
    let deep = format!(
        "name: p\nversion: {}{}\n",
        "[".repeat(2000),
        "]".repeat(2000)
    );
    let (result, _) = within(HANG, move || {
        load(&[("pack.yaml", deep.as_str())]).map(|_| ())
    });
    let problems = problems(result);
    let p = the_problem(&problems, "rules.yaml");
    assert_eq!(p.file, "p/pack.yaml");
    assert_eq!(p.line, 2, "{p}");
    assert!(p.message.contains("recursion"), "{p}");
}

// ---------------------------------------------------------------- unknown keys

#[test]
fn unknown_key_in_a_segment_rule_names_its_line_and_column() {
    let problems = problems(load(&[
        PACK,
        (
            "s.yaml",
            "segment: s\nrules:\n  - wehn: orders > 1\n    label: a\n  - label: b\n",
        ),
    ]));
    let p = the_problem(&problems, "rules.yaml");
    assert_eq!(at(p), "p/s.yaml:3:5", "{p}");
    assert!(p.message.contains("wehn"), "{p}");
}

#[test]
fn unknown_key_in_pack_yaml_is_a_problem() {
    let problems = problems(load(&[("pack.yaml", "name: p\nextend: standard\n")]));
    let p = the_problem(&problems, "rules.yaml");
    assert_eq!(at(p), "p/pack.yaml:2:1", "{p}");
    assert!(p.message.contains("extend"), "{p}");
}

#[test]
fn unknown_key_in_an_alert_level_names_its_column() {
    let problems = problems(load(&[
        PACK,
        (
            "a.yaml",
            "kpi: k\nvalue: sum(revenue)\n---\nalert: al\non: k\nlevels:\n  - { level: review, abvoe: 3 }\n",
        ),
    ]));
    let p = the_problem(&problems, "rules.yaml");
    assert_eq!(at(p), "p/a.yaml:7:22", "{p}");
}

#[test]
fn a_key_of_another_kind_is_a_problem_at_its_line() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\ndescription: x\nexpr: orders\nrules:\n  - label: a\n",
            ),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.key");
    assert_eq!(at(p), "p/s.yaml:3:1", "{p}");
}

#[test]
fn a_document_without_a_kind_key_is_a_problem() {
    let problems = problems(load(&[PACK, ("a.yaml", "description: x\nexpr: orders\n")]));
    let p = the_problem(&problems, "rules.kind");
    assert_eq!((p.file.as_str(), p.line), ("p/a.yaml", 1));
}

#[test]
fn a_second_document_without_a_kind_key_is_reported_at_its_own_line() {
    let problems = problems(load(&[
        PACK,
        (
            "a.yaml",
            "feature: a\nexpr: orders\n---\ndescription: x\nexpr: 2\n",
        ),
    ]));
    let p = the_problem(&problems, "rules.kind");
    assert!(p.line >= 3, "reported at {p}");
}

#[test]
fn two_kind_keys_are_a_problem() {
    let problems = problems(load(&[PACK, ("a.yaml", "feature: a\nkpi: a\nvalue: 1\n")]));
    let p = the_problem(&problems, "rules.kind");
    assert_eq!(p.file, "p/a.yaml");
    assert!(p.message.contains("feature, kpi"), "{p}");
}

// ---------------------------------------------------------------- wrong types

#[test]
fn a_word_where_a_number_is_expected_names_its_position() {
    let problems = problems(load(&[
        PACK,
        ("k.yaml", "kpi: k\nvalue: sum(revenue)\nround: two\n"),
    ]));
    let p = the_problem(&problems, "rules.yaml");
    assert_eq!(at(p), "p/k.yaml:3:8", "{p}");
}

#[test]
fn a_mapping_where_a_list_is_expected_is_a_problem() {
    let problems = problems(load(&[PACK, ("s.yaml", "segment: s\nrules:\n  a: 1\n")]));
    let p = the_problem(&problems, "rules.yaml");
    assert_eq!((p.file.as_str(), p.line), ("p/s.yaml", 3), "{p}");
}

#[test]
fn a_parameter_default_of_the_wrong_type_names_the_parameter_line() {
    let problems = problems(load(&[(
        "pack.yaml",
        "name: p\nparams:\n  days: { type: int, default: soon }\n",
    )]));
    let p = the_problem(&problems, "rules.type");
    assert_eq!(at(p), "p/pack.yaml:3:3", "{p}");
    assert!(p.message.contains("days"), "{p}");
}

#[test]
fn an_unknown_parameter_type_is_a_problem() {
    let problems = problems(load(&[(
        "pack.yaml",
        "name: p\nparams:\n  days: { type: integer, default: 3 }\n",
    )]));
    assert_eq!(at(the_problem(&problems, "rules.type")), "p/pack.yaml:3:3");
}

#[test]
fn unknown_hit_policy_level_type_and_entry_kind_are_problems() {
    let s = schema();
    let hit = pack_problems(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\nhit: sometimes\nrules:\n  - label: a\n",
            ),
        ],
        &s,
    );
    assert_eq!(at(the_problem(&hit, "rules.segment")), "p/s.yaml:1:1");
    let level = pack_problems(
        &[
            PACK,
            ("a.yaml", "alert: al\nwhen: orders > 1\nlevel: urgent\n"),
        ],
        &s,
    );
    assert!(the_problem(&level, "rules.alert")
        .message
        .contains("urgent"));
    let ty = pack_problems(
        &[
            PACK,
            ("f.yaml", "feature: f\ntype: money2\nexpr: revenue\n"),
        ],
        &s,
    );
    assert!(the_problem(&ty, "rules.type").message.contains("money2"));
    let kind = pack_problems(
        &[
            PACK,
            ("f.yaml", "feature: f\naggregate: sum\nkinds: [sael]\n"),
        ],
        &s,
    );
    assert!(the_problem(&kind, "rules.feature").message.contains("sael"));
}

#[test]
fn a_script_of_the_wrong_declared_type_fails_the_dry_run() {
    let problems = pack_problems(
        &[
            PACK,
            ("f.yaml", "feature: f\ntype: int\nexpr: \"\\\"abc\\\"\"\n"),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.type");
    assert_eq!(p.file, "p/f.yaml");
    assert!(p.message.contains("expected int"), "{p}");
}

#[test]
fn a_condition_that_is_not_a_boolean_fails_the_dry_run() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\nrules:\n  - when: revenue\n    label: a\n",
            ),
        ],
        &schema(),
    );
    assert_eq!(the_problem(&problems, "rules.type").file, "p/s.yaml");
}

#[test]
fn a_bare_column_of_the_wrong_declared_type_is_a_problem() {
    let problems = pack_problems(
        &[
            PACK,
            ("f.yaml", "feature: f\ntype: decimal\nexpr: region\n"),
        ],
        &schema(),
    );
    assert_eq!(the_problem(&problems, "rules.type").file, "p/f.yaml");
}

// ---------------------------------------------------------------- unknown names

#[test]
fn unknown_name_in_an_expression_names_its_line_and_column() {
    let problems = pack_problems(
        &[PACK, ("f.yaml", "feature: f\nexpr: revenu * 2\n")],
        &schema(),
    );
    let p = the_problem(&problems, "rules.unknown-name");
    assert_eq!(at(p), "p/f.yaml:2:7", "{p}");
    assert!(p.message.contains("revenu"), "{p}");
}

#[test]
fn unknown_name_in_a_segment_condition_names_its_line_and_column() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\nrules:\n  - when: revenue > 1 && orderz > 1\n    label: a\n",
            ),
        ],
        &schema(),
    );
    assert_eq!(
        at(the_problem(&problems, "rules.unknown-name")),
        "p/s.yaml:3:26"
    );
}

#[test]
fn unknown_name_after_wide_characters_counts_columns_in_characters() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\nrules:\n  - when: region == \"华东\" && orderz > 1\n    label: a\n",
            ),
        ],
        &schema(),
    );
    assert_eq!(
        at(the_problem(&problems, "rules.unknown-name")),
        "p/s.yaml:3:29"
    );
}

#[test]
fn unknown_name_in_a_file_with_crlf_line_ends_names_its_line() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "f.yaml",
                "feature: g\r\nexpr: orders\r\n---\r\nfeature: f\r\nexpr: revenu * 2\r\n",
            ),
        ],
        &schema(),
    );
    assert_eq!(
        at(the_problem(&problems, "rules.unknown-name")),
        "p/f.yaml:5:7"
    );
}

#[test]
fn an_expression_quoted_in_the_description_does_not_take_the_blame() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "f.yaml",
                "feature: f\ndescription: true when revenu > 100\nexpr: revenu > 100\n",
            ),
        ],
        &schema(),
    );
    assert_eq!(
        at(the_problem(&problems, "rules.unknown-name")),
        "p/f.yaml:3:7"
    );
}

#[test]
fn an_alert_on_an_unknown_kpi_is_a_problem() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "a.yaml",
                "alert: al\non: nope\nlevels:\n  - { level: review, above: 1 }\n",
            ),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.unknown-name");
    assert_eq!(at(p), "p/a.yaml:1:1");
    assert!(p.message.contains("nope"), "{p}");
}

#[test]
fn an_alert_on_a_feature_is_a_problem() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "a.yaml",
                "feature: f\nexpr: orders * 2\n---\nalert: al\non: f\nlevels:\n  - { level: review, above: 1 }\n",
            ),
        ],
        &schema(),
    );
    assert_eq!(at(the_problem(&problems, "rules.type")), "p/a.yaml:4:1");
}

#[test]
fn a_missing_script_file_is_a_problem() {
    let problems = pack_problems(
        &[PACK, ("f.yaml", "feature: f\nscript: missing.rhai\n")],
        &schema(),
    );
    let p = the_problem(&problems, "rules.unknown-name");
    assert_eq!(at(p), "p/f.yaml:2:9", "{p}");
}

#[test]
fn reading_a_group_kpi_or_an_alert_from_a_feature_is_a_problem() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "a.yaml",
                "kpi: total\nvalue: sum(revenue)\n---\nfeature: f\nexpr: total * 2\n",
            ),
        ],
        &schema(),
    );
    assert_eq!(
        at(the_problem(&problems, "rules.unknown-name")),
        "p/a.yaml:5:7"
    );
}

#[test]
fn a_rule_named_like_an_input_is_a_problem() {
    let problems = pack_problems(
        &[PACK, ("f.yaml", "feature: revenue\nexpr: 1\n")],
        &schema(),
    );
    assert_eq!(at(the_problem(&problems, "rules.name")), "p/f.yaml:1:1");
}

#[test]
fn a_misspelt_parameter_is_an_unknown_name() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\nrules:\n  - when: revenue > params.bgi\n    label: big\n  - label: small\n",
            ),
        ],
        &schema(),
    );
    let p = &problems[0];
    assert_eq!(p.file, "p/s.yaml");
    assert!(p.message.contains("bgi"), "{p}");
}

#[test]
fn a_kpi_by_an_unknown_column_is_an_unknown_name() {
    let problems = pack_problems(
        &[
            PACK,
            ("k.yaml", "kpi: k\nby: [regoin]\nvalue: sum(revenue)\n"),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.unknown-name");
    assert_eq!(p.file, "p/k.yaml");
    assert!(p.message.contains("regoin"), "{p}");
}

#[test]
fn an_unknown_function_without_arguments_fails_the_dry_run() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\nrules:\n  - when: today() > first_purchase\n    label: a\n  - label: b\n",
            ),
        ],
        &schema(),
    );
    let p = &problems[0];
    assert_eq!(p.file, "p/s.yaml");
    assert!(p.message.contains("today"), "{p}");
}

#[test]
fn an_unknown_function_is_a_problem_at_load() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\nrules:\n  - when: today(first_purchase) > 1\n    label: a\n  - label: b\n",
            ),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.unknown-name");
    assert_eq!(at(p), "p/s.yaml:3:11", "{p}");
    assert!(p.message.contains("no function named today"), "{p}");
}

// ---------------------------------------------------------------- cycles

#[test]
fn two_rules_reading_each_other_are_a_cycle() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "f.yaml",
                "feature: a\nexpr: b + 1\n---\nfeature: b\nexpr: a + 1\n",
            ),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.cycle");
    assert_eq!(at(p), "p/f.yaml:1:1");
    assert!(p.message.contains("a, b"), "{p}");
}

#[test]
fn a_rule_reading_itself_is_a_cycle() {
    let problems = pack_problems(&[PACK, ("f.yaml", "feature: a\nexpr: a + 1\n")], &schema());
    let p = the_problem(&problems, "rules.cycle");
    assert_eq!(at(p), "p/f.yaml:1:1");
}

#[test]
fn a_cycle_through_a_segment_and_files_is_found() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "f.yaml",
                "feature: f\nexpr: if s == \"big\" { 1 } else { 0 }\n",
            ),
            ("g.yaml", "feature: g\nexpr: f * 2\n"),
            (
                "s.yaml",
                "segment: s\nrules:\n  - when: g > 1\n    label: big\n  - label: small\n",
            ),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.cycle");
    assert!(p.message.contains("f, g, s"), "{p}");
}

// ---------------------------------------------------------------- Rhai syntax

#[test]
fn rhai_syntax_error_in_an_expression_names_line_and_column() {
    let problems = pack_problems(
        &[PACK, ("f.yaml", "feature: f\nexpr: revenue +* 2\n")],
        &schema(),
    );
    let p = the_problem(&problems, "rules.syntax");
    assert_eq!(at(p), "p/f.yaml:2:16", "{p}");
}

#[test]
fn rhai_syntax_error_in_a_quoted_condition_names_line_and_column() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "s.yaml",
                "segment: s\nrules:\n  - when: \"orders > > 1\"\n    label: a\n",
            ),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.syntax");
    assert_eq!(at(p), "p/s.yaml:3:21", "{p}");
}

#[test]
fn rhai_syntax_error_on_a_later_line_of_a_block_script_names_the_file_column() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "f.yaml",
                "feature: f\nscript: |\n  let x = 1;\n  let y = x +* 2;\n  y\n",
            ),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.syntax");
    // `  let y = x +* 2;`: the `*` is the 14th character of line 4.
    assert_eq!(at(p), "p/f.yaml:4:14", "{p}");
}

#[test]
fn rhai_syntax_error_on_a_later_line_of_a_block_script_names_the_file_line() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "f.yaml",
                "feature: f\nscript: |\n  let x = 1;\n  let y = x +* 2;\n  y\n",
            ),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.syntax");
    assert_eq!((p.file.as_str(), p.line), ("p/f.yaml", 4), "{p}");
}

#[test]
fn rhai_syntax_error_in_a_script_file_names_its_line_and_column() {
    let problems = pack_problems(
        &[
            PACK,
            ("lib.rhai", "fn f(x) {\n  x +* 1\n}\n"),
            ("f.yaml", "feature: f\nexpr: orders\n"),
        ],
        &schema(),
    );
    let p = the_problem(&problems, "rules.script");
    assert_eq!(at(p), "p/lib.rhai:2:6", "{p}");
}

#[test]
fn problems_in_several_files_come_back_together_sorted() {
    let problems = pack_problems(
        &[
            PACK,
            ("b.yaml", "feature: b\nexpr: orders +* 1\n"),
            ("a.yaml", "feature: a\nexpr: revenu\n"),
        ],
        &schema(),
    );
    let files: Vec<&str> = problems.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(files, ["p/a.yaml", "p/b.yaml"], "{problems:#?}");
    assert_eq!(problems[0].code, "rules.unknown-name");
    assert_eq!(problems[1].code, "rules.syntax");
}

#[test]
fn a_problem_displays_as_file_line_column_message_code() {
    let problems = pack_problems(
        &[PACK, ("f.yaml", "feature: f\nexpr: revenu * 2\n")],
        &schema(),
    );
    let text = problems[0].to_string();
    assert!(text.starts_with("p/f.yaml:2:7: "), "{text}");
    assert!(text.ends_with("[rules.unknown-name]"), "{text}");
    let all = Error::Pack(problems).to_string();
    assert!(
        all.starts_with("1 problem(s) in the rule pack:\n  p/f.yaml:2:7"),
        "{all}"
    );
}

// ---------------------------------------------------------------- runaway scripts

fn compile_in_time(files: Vec<(&'static str, &'static str)>) -> Result<Program, Error> {
    let (result, _) = within(HANG, move || {
        load(&files).and_then(|pack| Program::compile(&pack, &schema()))
    });
    result
}

#[test]
fn an_infinite_loop_in_a_scripted_feature_is_caught_by_the_dry_run() {
    let problems = problems(compile_in_time(vec![
        PACK,
        (
            "f.yaml",
            "feature: spin\ntype: int\nscript: |\n  let n = 0;\n  loop { n += 1; }\n",
        ),
    ]));
    let p = the_problem(&problems, "rules.limit");
    assert_eq!(at(p), "p/f.yaml:1:1");
    assert!(p.message.contains("spin"), "{p}");
    assert!(p.message.to_lowercase().contains("operations"), "{p}");
}

#[test]
fn an_infinite_loop_in_an_untyped_feature_is_caught_by_the_dry_run() {
    let problems = problems(compile_in_time(vec![
        PACK,
        (
            "f.yaml",
            "feature: spin\nscript: |\n  while true { }\n  1\n",
        ),
    ]));
    assert_eq!(at(the_problem(&problems, "rules.limit")), "p/f.yaml:1:1");
}

#[test]
fn an_infinite_loop_in_a_library_function_called_by_a_condition_is_caught() {
    let problems = problems(compile_in_time(vec![
        PACK,
        ("lib.rhai", "fn spin() { loop { } }\n"),
        (
            "s.yaml",
            "segment: s\nrules:\n  - when: spin()\n    label: a\n  - label: b\n",
        ),
    ]));
    assert_eq!(the_problem(&problems, "rules.limit").file, "p/s.yaml");
}

#[test]
fn an_infinite_loop_in_a_kpi_formula_is_caught() {
    let problems = problems(compile_in_time(vec![
        PACK,
        ("lib.rhai", "fn spin(x) { loop { } x }\n"),
        ("k.yaml", "kpi: k\nvalue: spin(sum(revenue))\n"),
    ]));
    assert_eq!(the_problem(&problems, "rules.limit").file, "p/k.yaml");
}

#[test]
fn an_infinite_loop_only_some_data_reaches_stops_the_run_with_the_rule_and_place() {
    let program = compile(
        &[
            PACK,
            ("lib.rhai", "fn spin() { loop { } }\n"),
            (
                "f.yaml",
                "feature: ok\nexpr: orders\n---\nfeature: f\ntype: int\nexpr: if region == \"north\" { spin() } else { 0 }\n",
            ),
        ],
        &schema(),
    );
    let table = Rows::new(&["c1", "c2"])
        .col("region", Type::Text, vec![vt("south"), vt("north")])
        .col("orders", Type::Int, vec![Value::Int(1), Value::Int(2)])
        .table();
    let (result, _) = within(HANG, move || {
        program.evaluate(Input {
            table,
            facts: Facts::default(),
            periods: Default::default(),
            as_of: d("2025-12-31"),
        })
    });
    match result {
        Err(Error::Rule { rule, at, message }) => {
            assert_eq!(rule, "f");
            assert_eq!(at, "p/f.yaml:6:7");
            assert!(message.to_lowercase().contains("operations"), "{message}");
        }
        other => panic!("expected Error::Rule, got {other:?}"),
    }
}

#[test]
fn a_runaway_script_is_stopped_by_its_limits_quickly() {
    let (result, took) = within(HANG, || {
        load(&[
            PACK,
            ("f.yaml", "feature: spin\ntype: int\nscript: loop { }\n"),
        ])
        .and_then(|pack| Program::compile(&pack, &schema()))
        .map(|_| ())
    });
    assert_eq!(problems(result)[0].code, "rules.limit");
    // Generous: the limit is a million operations; this only catches a hang.
    assert!(took.as_secs() < 10, "took {took:?}");
}

#[test]
fn deep_recursion_is_stopped() {
    let problems = problems(compile_in_time(vec![
        PACK,
        ("lib.rhai", "fn down(n) { down(n + 1) }\n"),
        ("f.yaml", "feature: f\ntype: int\nexpr: down(0)\n"),
    ]));
    let p = the_problem(&problems, "rules.limit");
    assert_eq!(at(p), "p/f.yaml:1:1");
}

#[test]
fn deeply_nested_expressions_are_a_syntax_problem() {
    let text = format!(
        "feature: f\nexpr: {}orders{}\n",
        "(".repeat(500),
        ")".repeat(500)
    );
    let text: &'static str = Box::leak(text.into_boxed_str());
    let problems = problems(compile_in_time(vec![PACK, ("f.yaml", text)]));
    let p = the_problem(&problems, "rules.syntax");
    assert_eq!((p.file.as_str(), p.line), ("p/f.yaml", 2), "{p}");
}

#[test]
fn a_string_growing_without_end_is_stopped() {
    let problems = problems(compile_in_time(vec![
        PACK,
        (
            "f.yaml",
            "feature: f\ntype: text\nscript: |\n  let s = \"x\";\n  loop { s += s; }\n",
        ),
    ]));
    let p = the_problem(&problems, "rules.limit");
    assert_eq!(at(p), "p/f.yaml:1:1");
    assert!(p.message.to_lowercase().contains("string"), "{p}");
}

#[test]
fn a_huge_string_literal_is_a_problem() {
    let text = format!(
        "feature: f\ntype: text\nexpr: '\"{}\"'\n",
        "x".repeat(50_000)
    );
    let text: &'static str = Box::leak(text.into_boxed_str());
    let problems = problems(compile_in_time(vec![PACK, ("f.yaml", text)]));
    let p = &problems[0];
    assert_eq!((p.file.as_str(), p.line), ("p/f.yaml", 3), "{p}");
}

#[test]
fn a_huge_array_is_stopped() {
    let problems = problems(compile_in_time(vec![
        PACK,
        (
            "f.yaml",
            "feature: f\ntype: int\nscript: |\n  let a = [];\n  loop { a.push(1); }\n",
        ),
    ]));
    assert_eq!(at(the_problem(&problems, "rules.limit")), "p/f.yaml:1:1");
}

#[test]
fn scripts_cannot_reach_eval() {
    let eval = pack_problems(
        &[
            PACK,
            ("f.yaml", "feature: f\ntype: int\nexpr: eval(\"1\")\n"),
        ],
        &schema(),
    );
    assert_eq!(eval[0].file, "p/f.yaml");
}

// ---------------------------------------------------------------- files

#[test]
fn a_folder_without_pack_yaml_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    match PackSource::read_dir(dir.path()) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("pack.yaml"), "{path}"),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn a_rule_file_that_is_not_utf8_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pack.yaml"), "name: p\n").expect("write");
    // "segment: 客户" in GBK.
    std::fs::write(
        dir.path().join("gbk.yaml"),
        b"segment: \xbf\xcd\xbb\xa7\nrules:\n  - label: a\n",
    )
    .expect("write");
    match PackSource::read_dir(dir.path()) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("gbk.yaml"), "{path}"),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn empty_and_comment_only_rule_files_are_fine() {
    let pack = load(&[
        PACK,
        ("empty.yaml", ""),
        ("comments.yaml", "# nothing yet\n"),
        ("dashes.yaml", "---\n---\n"),
    ])
    .expect("loads");
    assert!(pack.rules.is_empty());
}

/// Every prefix of every standard pack file, cut at a line end, loads or fails with
/// problems: never a panic, never a hang.
#[test]
fn truncated_standard_files_never_panic_or_hang() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/standard");
    let standard = PackSource::read_dir(&dir).expect("the standard pack");
    let schema = crate::standard::schema();
    let (checked, _) = within(std::time::Duration::from_secs(60), move || {
        let mut checked = 0;
        for (path, text) in &standard.files {
            let ends: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
            for end in ends {
                let mut files = standard.files.clone();
                files.insert(path.clone(), text[..end].to_string());
                let source = PackSource {
                    files,
                    ..standard.clone()
                };
                if let Ok(pack) = ledgerlens_rules::Pack::load(source, &()) {
                    // Compiling is the slow part: every fourth prefix is enough.
                    if checked % 4 == 0 {
                        let _ = Program::compile(&pack, &schema);
                    }
                }
                checked += 1;
            }
        }
        checked
    });
    assert!(checked > 100, "{checked}");
}

/// Cutting the standard files at any byte (not only at line ends) makes YAML syntax
/// errors, which must be problems too (they once made `Pack::load` loop forever).
#[test]
fn standard_files_cut_anywhere_never_panic_or_hang() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/standard");
    let standard = PackSource::read_dir(&dir).expect("the standard pack");
    let (checked, _) = within(HANG, move || {
        let mut checked = 0;
        for (path, text) in &standard.files {
            // Every 31st character: the pack has grown to some 17 kB, and each cut loads
            // all of it (about 550 loads, well inside the hang limit on a busy machine).
            for (end, _) in text.char_indices().step_by(31) {
                let mut files = standard.files.clone();
                files.insert(path.clone(), text[..end].to_string());
                let source = PackSource {
                    files,
                    ..standard.clone()
                };
                let _ = ledgerlens_rules::Pack::load(source, &());
                checked += 1;
            }
        }
        checked
    });
    assert!(checked > 100);
}

#[test]
fn the_dry_run_does_not_reject_rules_that_only_fail_on_its_sample_customer() {
    let schema = inputs(&[("region", Type::Text), ("tags", Type::List)]);
    let mut refused = Vec::new();
    for rule in [
        // Region codes such as "11" (Beijing) in the CRM.
        "feature: region_code\ntype: int\nexpr: parse_int(region)\n",
        // The second tag is the customer's grade.
        "feature: grade\ntype: text\nexpr: if tags.len() > 0 { tags[1] } else { \"\" }\n",
    ] {
        let result = load(&[PACK, ("f.yaml", rule)]).and_then(|p| Program::compile(&p, &schema));
        if let Err(e) = result {
            refused.push(format!("{rule}: {e}"));
        }
    }
    assert!(refused.is_empty(), "{refused:#?}");
}

/// The dry run tells a defect of the rule from a value its made-up customer lacks.
#[test]
fn the_dry_run_tells_defects_from_missing_data() {
    let schema = inputs(&[
        ("revenue", Type::Decimal),
        ("last_purchase", Type::Date),
        ("tags", Type::List),
    ]);
    let pack = |rule: &str| pack_problems(&[PACK, ("f.yaml", rule)], &schema);
    // A misspelt function is a defect even when its argument is null on the sample
    // (`budget()` has no value in a dry run).
    let p = pack("kpi: k\nvalue: pct_of(spend() - budget(), budget())\n");
    assert!(p.iter().any(|p| p.message.contains("pct_of")), "{p:?}");
    // A date written wrong in the rule.
    let p = pack("feature: f\nexpr: days_between(date(\"2025-13-01\"), last_purchase)\n");
    assert!(p.iter().any(|p| p.message.contains("2025-13-01")), "{p:?}");
    // A known function given a null (no value on the sample) is data, not a defect.
    for ok in [
        "feature: g\ntype: list\nexpr: if revenue > 1000000 { tags } else { () }\n---\nfeature: f\ntype: text\nexpr: if g == () { \"\" } else { g[0] }\n",
        "kpi: k\nvalue: abs(spend() - budget())\n",
    ] {
        let result = load(&[PACK, ("f.yaml", ok)]).and_then(|p| Program::compile(&p, &schema));
        assert!(result.is_ok(), "{ok}: {:?}", result.err());
    }
}

#[test]
fn an_expression_quoted_in_a_block_description_does_not_take_the_blame() {
    for description in [
        "description: >-\n  Return on spend, computed as sum(net_revenu) / spend() over the channel.\n",
        "description: |\n  ROI: sum(net_revenu) / spend()\n",
    ] {
        let rule = format!("kpi: k\nby: [channel]\n{description}value: sum(net_revenu) / spend()\n");
        let schema = inputs(&[("net_revenue", Type::Decimal), ("channel", Type::Text)]);
        let problems = pack_problems(&[PACK, ("k.yaml", &rule)], &schema);
        let p = the_problem(&problems, "rules.unknown-name");
        assert_eq!(p.line, 5, "{description}: {p}");
    }
}

// ---------------------------------------------------------------- models

fn model_schema() -> BTreeMap<String, Type> {
    let mut s = schema();
    for output in ledgerlens_rules::MODEL_OUTPUTS {
        s.insert(output.to_string(), Type::Decimal);
    }
    s
}

#[test]
fn a_bad_model_setting_names_its_rule_and_line() {
    for (body, says) in [
        ("fit: weibull\n", "unknown model \"weibull\""),
        ("spend: mean\n", "unknown spend model"),
        ("time_unit: fortnight\n", "unknown unit"),
        ("calibration_end: yesterday\n", "neither a date"),
        ("horizon: 90d\n", "whole months or years"),
        ("horizon: 200y\n", "at most 100 years"),
        ("monthly_discount: 1.5\n", "not a rate"),
        ("monthly_discount: -0.01\n", "not a rate"),
    ] {
        let text = format!(
            "# predictive\nmodel: m\n{body}---\nalert: a\nwhen: p_alive < 0.3\nlevel: review\n"
        );
        let problems = pack_problems(&[PACK, ("m.yaml", &text)], &model_schema());
        // One problem, at the key's line (3): not also one for each rule that reads the
        // model's predictions.
        let p = the_problem(&problems, "rules.model");
        assert_eq!(at(p), "p/m.yaml:3:1", "{p}");
        assert!(p.message.contains(says), "{body}: {p}");
    }
}

#[test]
fn a_model_key_in_another_rule_is_refused() {
    let problems = pack_problems(
        &[
            PACK,
            ("k.yaml", "kpi: k\nvalue: sum(revenue)\nhorizon: 12m\n"),
        ],
        &model_schema(),
    );
    let p = the_problem(&problems, "rules.key");
    assert_eq!(at(p), "p/k.yaml:3:1", "{p}");
}

#[test]
fn a_prediction_read_without_a_model_is_refused() {
    let problems = pack_problems(
        &[
            PACK,
            (
                "a.yaml",
                "alert: at_risk\nwhen: revenue > 0 && p_alive < 0.3\nlevel: review\n",
            ),
        ],
        &model_schema(),
    );
    let p = the_problem(&problems, "rules.model");
    assert_eq!(at(p), "p/a.yaml:1:1", "{p}");
    assert!(p.message.contains("p_alive"), "{p}");
}

#[test]
fn a_pack_has_one_model() {
    let problems = pack_problems(
        &[
            PACK,
            ("m.yaml", "model: m1\n---\nmodel: m2\nfit: paretonbd\n"),
        ],
        &model_schema(),
    );
    let p = the_problem(&problems, "rules.model");
    assert!(p.message.contains("m2") && p.message.contains("m1"), "{p}");
}

#[test]
fn a_client_pack_adding_a_second_model_is_told_in_its_own_file() {
    let base = source(
        "base",
        &[
            ("pack.yaml", "name: base\n"),
            ("z.yaml", "model: zz_model\n"),
        ],
    );
    let client = source(
        "client",
        &[
            ("pack.yaml", "name: client\nextends: base\n"),
            ("a.yaml", "model: a_model\n---\nmodel: b_model\n"),
        ],
    );
    let problems = problems(
        ledgerlens_rules::Pack::load(client, &Named(vec![base]))
            .and_then(|pack| Program::compile(&pack, &model_schema())),
    );
    let found: Vec<String> = problems
        .iter()
        .map(|p| format!("{} {}", at(p), p.message))
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found
            .iter()
            .all(|p| p.starts_with("client/a.yaml") && p.contains("zz_model")),
        "{found:#?}"
    );
}
