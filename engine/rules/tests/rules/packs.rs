//! Packs: `extends` chains, overrides by name (parameters, thresholds, whole rules),
//! `remove:`, and the problems an override can make.

use std::collections::BTreeMap;

use ledgerlens_rules::{Error, Facts, Pack, PackSource, Program, Type, Value};

use crate::common::*;

fn schema() -> BTreeMap<String, Type> {
    inputs(&[("revenue", Type::Decimal), ("orders", Type::Int)])
}

fn base() -> PackSource {
    source(
        "base",
        &[
            (
                "pack.yaml",
                "name: base\nversion: 1\nparams:\n  big: { type: decimal, default: 1000, description: revenue of a big customer }\n  limit: { type: int, default: 100 }\n  days: { type: int, default: 180 }\n",
            ),
            ("lib.rhai", "fn bonus() { 1 }\n"),
            (
                "rules.yaml",
                "feature: doubled\nexpr: revenue * 2 + bonus()\n---\nsegment: tier\nrules:\n  - when: revenue >= params.big\n    label: big\n  - label: small\n---\nfeature: extra\nexpr: orders + 1\n---\nkpi: total\nvalue: sum(revenue)\n---\nalert: total_high\non: total\nlevels:\n  - { level: critical, above: \"params.limit * 2\" }\n  - { level: review, above: params.limit }\n",
            ),
        ],
    )
}

fn client(pack_yaml: &str, files: &[(&str, &str)]) -> PackSource {
    let mut all = vec![("pack.yaml", pack_yaml)];
    all.extend_from_slice(files);
    source("client", &all)
}

fn table() -> Rows {
    Rows::new(&["c1", "c2"])
        .col("revenue", Type::Decimal, vec![vd("500"), vd("1200")])
        .col("orders", Type::Int, vec![Value::Int(1), Value::Int(4)])
}

fn evaluate(pack: &Pack) -> ledgerlens_rules::Outcome {
    let program = Program::compile(pack, &schema()).unwrap_or_else(|e| panic!("{e}"));
    run(&program, table().table(), Facts::default(), "2025-12-31")
}

#[test]
fn the_base_pack_alone() {
    let pack = Pack::load(base(), &()).expect("loads");
    assert_eq!(pack.chain, ["base"]);
    let out = evaluate(&pack);
    assert_eq!(value_of(&out, "tier", "c1"), vt("small"));
    assert_eq!(value_of(&out, "tier", "c2"), vt("big"));
    assert_eq!(value_of(&out, "doubled", "c1"), vd("1001"));
    // total 1700 > 2 x 100.
    assert_eq!(
        alerts(&out, "total_high")["all"],
        ("critical".into(), "1700".into(), "> 200".into())
    );
}

#[test]
fn a_client_pack_overrides_a_parameter_by_name() {
    let pack = Pack::load(
        client("name: client\nextends: base\nparams:\n  big: 400\n", &[]),
        &Named(vec![base()]),
    )
    .expect("loads");
    assert_eq!(pack.chain, ["base", "client"]);
    assert_eq!(pack.name, "client");
    let big = &pack.params["big"];
    assert_eq!(big.value, Value::Decimal(400.into()));
    assert_eq!(big.ty, Type::Decimal);
    assert_eq!(big.set_in, "client");
    assert_eq!(
        big.description.as_deref(),
        Some("revenue of a big customer")
    );
    let out = evaluate(&pack);
    assert_eq!(value_of(&out, "tier", "c1"), vt("big"));
    assert_eq!(sizes(&out, "tier"), BTreeMap::from([("big".into(), 2)]));
}

#[test]
fn a_client_pack_overrides_an_alert_threshold_through_its_parameter() {
    let pack = Pack::load(
        client("name: client\nextends: base\nparams:\n  limit: 1000\n", &[]),
        &Named(vec![base()]),
    )
    .expect("loads");
    let out = evaluate(&pack);
    // 1700 is above 1000 but not above 2000.
    assert_eq!(
        alerts(&out, "total_high")["all"],
        ("review".into(), "1700".into(), "> 1000".into())
    );
    let pack = Pack::load(
        client("name: client\nextends: base\nparams:\n  limit: 5000\n", &[]),
        &Named(vec![base()]),
    )
    .expect("loads");
    let out = evaluate(&pack);
    assert_eq!(alerts(&out, "total_high")["all"].0, "ok");
}

#[test]
fn a_client_pack_overrides_a_whole_rule_by_name() {
    let pack = Pack::load(
        client(
            "name: client\nextends: base\n",
            &[(
                "segments/tier.yaml",
                "segment: tier\nhit: first\nrules:\n  - when: orders >= 3\n    label: frequent\n  - label: occasional\n",
            )],
        ),
        &Named(vec![base()]),
    )
    .expect("loads");
    let tier = &pack.rules["tier"];
    assert_eq!(tier.pack, "client");
    assert_eq!(tier.span.file, "client/segments/tier.yaml");
    // The other rules are still the base's.
    assert_eq!(pack.rules["doubled"].pack, "base");
    let out = evaluate(&pack);
    assert_eq!(value_of(&out, "tier", "c1"), vt("occasional"));
    assert_eq!(value_of(&out, "tier", "c2"), vt("frequent"));
}

#[test]
fn a_client_script_file_overrides_the_base_script_of_the_same_name() {
    let pack = Pack::load(
        client(
            "name: client\nextends: base\n",
            &[("lib.rhai", "fn bonus() { 5 }\n")],
        ),
        &Named(vec![base()]),
    )
    .expect("loads");
    let out = evaluate(&pack);
    assert_eq!(value_of(&out, "doubled", "c1"), vd("1005"));
}

#[test]
fn remove_drops_an_inherited_rule() {
    let pack = Pack::load(
        client("name: client\nextends: base\nremove: [extra]\n", &[]),
        &Named(vec![base()]),
    )
    .expect("loads");
    assert!(!pack.rules.contains_key("extra"));
    let program = Program::compile(&pack, &schema()).expect("compiles");
    assert!(program.rule("extra").is_none());
    let out = run(&program, table().table(), Facts::default(), "2025-12-31");
    assert!(out.table.column("extra").is_none());
}

#[test]
fn remove_then_define_again_takes_the_new_rule() {
    let pack = Pack::load(
        client(
            "name: client\nextends: base\nremove: [extra]\n",
            &[("x.yaml", "feature: extra\nexpr: orders + 10\n")],
        ),
        &Named(vec![base()]),
    )
    .expect("loads");
    let out = evaluate(&pack);
    assert_eq!(value_of(&out, "extra", "c1"), Value::Decimal(11.into()));
}

#[test]
fn removing_an_unknown_rule_is_a_problem_at_the_remove_line() {
    let problems = problems(Pack::load(
        client("name: client\nextends: base\nremove: [extar]\n", &[]),
        &Named(vec![base()]),
    ));
    let p = the_problem(&problems, "rules.unknown-name");
    assert_eq!(at(p), "client/pack.yaml:3:1");
    assert!(p.message.contains("extar"), "{p}");
}

#[test]
fn removing_a_rule_another_reads_is_a_problem_at_the_reader() {
    let pack = Pack::load(
        client(
            "name: client\nextends: base\nremove: [doubled]\n",
            &[("x.yaml", "feature: uses\nexpr: doubled + 1\n")],
        ),
        &Named(vec![base()]),
    )
    .expect("loads");
    let problems = problems(Program::compile(&pack, &schema()));
    let p = the_problem(&problems, "rules.unknown-name");
    assert_eq!(at(p), "client/x.yaml:2:7");
}

#[test]
fn an_override_that_changes_the_kind_is_a_problem() {
    let problems = problems(Pack::load(
        client(
            "name: client\nextends: base\n",
            &[(
                "x.yaml",
                "# the base's doubled is a feature\nsegment: doubled\nrules:\n  - label: all\n",
            )],
        ),
        &Named(vec![base()]),
    ));
    let p = the_problem(&problems, "rules.override");
    assert_eq!(at(p), "client/x.yaml:2:1");
    assert!(
        p.message.contains("feature") && p.message.contains("segment"),
        "{p}"
    );
}

fn param_problem(client_params: &str) -> ledgerlens_rules::Problem {
    let problems = problems(Pack::load(
        client(
            &format!("name: client\nextends: base\nparams:\n{client_params}"),
            &[],
        ),
        &Named(vec![base()]),
    ));
    the_problem(&problems, "rules.type").clone()
}

#[test]
fn a_parameter_override_of_the_wrong_type_is_a_problem() {
    let p = param_problem("  days: soon\n");
    assert_eq!(at(&p), "client/pack.yaml:4:3");
    assert!(p.message.contains("days"), "{p}");
    let p = param_problem("  days: 1.5\n");
    assert_eq!(at(&p), "client/pack.yaml:4:3");
    let p = param_problem("  days: { type: decimal, default: 2 }\n");
    assert!(p.message.contains("int"), "{p}");
    let p = param_problem("  big: lots\n");
    assert_eq!(at(&p), "client/pack.yaml:4:3");
    let p = param_problem("  big: [1, 2]\n");
    assert!(p.message.contains("big"), "{p}");
}

#[test]
fn an_int_overrides_a_decimal_parameter_as_a_decimal() {
    let pack = Pack::load(
        client("name: client\nextends: base\nparams:\n  big: 7\n", &[]),
        &Named(vec![base()]),
    )
    .expect("loads");
    assert_eq!(pack.params["big"].value, Value::Decimal(7.into()));
    let pack = Pack::load(
        client("name: client\nextends: base\nparams:\n  big: 0.10\n", &[]),
        &Named(vec![base()]),
    )
    .expect("loads");
    assert_eq!(pack.params["big"].value, vd("0.10"));
}

#[test]
fn a_date_parameter_must_be_a_date() {
    let problems = problems(load(&[(
        "pack.yaml",
        "name: p\nparams:\n  since: { type: date, default: 2025-13-01 }\n",
    )]));
    assert_eq!(at(the_problem(&problems, "rules.type")), "p/pack.yaml:3:3");
}

#[test]
fn a_rule_defined_twice_in_one_pack_is_a_problem() {
    let problems = problems(load(&[
        ("pack.yaml", "name: p\n"),
        ("a.yaml", "feature: f\nexpr: 1\n"),
        ("b.yaml", "# again\nkpi: f\nvalue: sum(revenue)\n"),
    ]));
    let p = the_problem(&problems, "rules.duplicate");
    assert_eq!(at(p), "p/b.yaml:2:1");
    assert!(p.message.contains("p/a.yaml:1"), "{p}");
}

#[test]
fn extends_in_a_cycle_is_a_problem() {
    let a = source("a", &[("pack.yaml", "name: a\nextends: b\n")]);
    let b = source("b", &[("pack.yaml", "name: b\nextends: a\n")]);
    let problems = problems(Pack::load(a.clone(), &Named(vec![a, b])));
    let p = the_problem(&problems, "rules.extends");
    assert_eq!((p.file.as_str(), p.line), ("b/pack.yaml", 2), "{p}");
}

#[test]
fn a_pack_extending_itself_is_a_problem() {
    let a = source("a", &[("pack.yaml", "name: a\nextends: a\n")]);
    let problems = problems(Pack::load(a.clone(), &Named(vec![a])));
    assert_eq!(
        at(the_problem(&problems, "rules.extends")),
        "a/pack.yaml:2:1"
    );
}

#[test]
fn an_unknown_base_pack_is_a_problem() {
    let problems = problems(Pack::load(
        client("name: client\nparams:\n  x: 1\nextends: standrad\n", &[]),
        &Named(vec![base()]),
    ));
    let p = the_problem(&problems, "rules.extends");
    assert_eq!(at(p), "client/pack.yaml:4:1");
    assert!(p.message.contains("standrad"), "{p}");
}

#[test]
fn a_three_pack_chain_from_folders() {
    let root = tempfile::tempdir().expect("tempdir");
    let write = |path: &str, text: &str| {
        let path = root.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    for (path, text) in &base().files {
        write(&format!("base/{path}"), text);
    }
    write(
        "mid/pack.yaml",
        "name: mid\nextends: ../base\nparams:\n  big: 2000\n  limit: 10\n",
    );
    write(
        "mid/segments/extra.yaml",
        "segment: size\nrules:\n  - when: orders > 2\n    label: many\n  - label: few\n",
    );
    write(
        "client/pack.yaml",
        "name: client\nversion: \"2025.1\"\nextends: ../mid\nparams:\n  big: 1100\n",
    );
    let pack = Pack::load(
        PackSource::read_dir(&root.path().join("client")).expect("reads"),
        &(),
    )
    .expect("loads");
    assert_eq!(pack.chain, ["base", "mid", "client"]);
    assert_eq!(pack.version, "2025.1");
    assert_eq!(pack.params["big"].value, Value::Decimal(1100.into()));
    assert_eq!(pack.params["big"].set_in, "client");
    assert_eq!(pack.params["limit"].value, Value::Int(10));
    assert_eq!(pack.params["limit"].set_in, "mid");
    assert_eq!(pack.params["days"].set_in, "base");
    assert_eq!(pack.rules["size"].span.file, "mid/segments/extra.yaml");
    assert_eq!(pack.rules["tier"].span.file, "base/rules.yaml");
    let out = evaluate(&pack);
    assert_eq!(value_of(&out, "tier", "c2"), vt("big"));
    assert_eq!(value_of(&out, "size", "c2"), vt("many"));
    assert_eq!(alerts(&out, "total_high")["all"].0, "critical");
}

#[test]
fn problems_in_a_base_pack_name_the_base_files() {
    let broken = source(
        "base",
        &[
            ("pack.yaml", "name: base\n"),
            ("x.yaml", "feature: f\nexpr: revenu\n"),
        ],
    );
    let pack = Pack::load(
        client("name: client\nextends: base\n", &[]),
        &Named(vec![broken]),
    )
    .expect("loads");
    let problems = problems(Program::compile(&pack, &schema()));
    assert_eq!(at(&problems[0]), "base/x.yaml:2:7");
}

fn standard() -> PackSource {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/standard");
    PackSource::read_dir(&dir).expect("the standard pack")
}

#[test]
fn a_client_of_the_standard_pack_compiles_and_overrides_it() {
    let client = client(
        "name: acme\nextends: standard\nparams:\n  churn_days: 30\n  cac_limit: 150\nremove: [rfm]\n",
        &[(
            "kpis/extra.yaml",
            "kpi: big_customers\nvalue: count(lifecycle == \"high-value\")\nunit: count\n",
        )],
    );
    let pack = Pack::load(client, &Named(vec![standard()])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pack.chain, ["standard", "acme"]);
    assert!(!pack.rules.contains_key("rfm"));
    let program =
        Program::compile(&pack, &crate::standard::schema()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(program.params["churn_days"].1, Value::Int(30));
    assert_eq!(program.params["cac_limit"].1, Value::Decimal(150.into()));
    assert!(program.rule("big_customers").is_some());
    assert!(program.rule("r_score").is_some());
}

#[test]
fn a_client_of_the_standard_pack_cannot_retype_its_parameters() {
    let client = client(
        "name: acme\nextends: standard\nparams:\n  churn_days: half a year\n",
        &[],
    );
    let problems = problems(Pack::load(client, &Named(vec![standard()])));
    assert_eq!(
        at(the_problem(&problems, "rules.type")),
        "client/pack.yaml:4:3"
    );
}

#[test]
fn an_empty_pack_compiles_and_runs_and_a_pack_without_pack_yaml_does_not() {
    let pack = load(&[("pack.yaml", "name: p\n")]).expect("loads");
    let program = Program::compile(&pack, &schema()).expect("compiles");
    let out = run(&program, table().table(), Facts::default(), "2025-12-31");
    assert!(out.segments.is_empty() && out.kpis.is_empty() && out.alerts.is_empty());
    assert_eq!(out.customers, 2);
    assert!(matches!(
        Pack::load(source("p", &[]), &()),
        Err(Error::Pack(_))
    ));
}

#[test]
fn a_base_pack_kept_inside_the_client_folder_is_not_read_as_client_rules() {
    let root = tempfile::tempdir().expect("tempdir");
    let write = |path: &str, text: &str| {
        let path = root.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    for (path, text) in &base().files {
        write(&format!("client/base/{path}"), text);
    }
    write("client/pack.yaml", "name: client\nextends: base\n");
    let pack = Pack::load(
        PackSource::read_dir(&root.path().join("client")).expect("reads"),
        &(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pack.chain, ["base", "client"]);
    assert_eq!(pack.rules["tier"].pack, "base");
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_in_a_pack_folder_is_read_once_or_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::write(root.path().join("pack.yaml"), "name: p\n").expect("write");
    std::os::unix::fs::symlink(root.path(), root.path().join("again")).expect("symlink");
    let dir = root.path().to_path_buf();
    let (result, _) = within(HANG, move || {
        PackSource::read_dir(&dir).map(|s| s.files.len())
    });
    // Either an error naming the looping path, or the files once.
    match result {
        Ok(n) => assert_eq!(n, 1),
        Err(Error::Io { path, .. }) => assert!(path.contains("again"), "{path}"),
        Err(e) => panic!("{e}"),
    }
}
