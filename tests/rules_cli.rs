//! End-to-end tests of `snapshot` (rule outputs as insta snapshot files) and `schema`
//! (the JSON Schema of rule-pack files), on the bundled demo company.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};

const TABLES: [&str; 5] = ["segments", "kpis", "alerts", "diagnostics", "customers"];

fn bin() -> Command {
    Command::new(get_cargo_bin("ledgerlens"))
}

/// The demo company, ingested, in a temporary folder (with its client pack `rules/`).
fn demo() -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("demo");
    let o = bin().arg("demo").arg("--out").arg(&dir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (out, dir)
}

/// The command, run in the project folder (so no absolute path is among its arguments).
fn at(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.current_dir(dir).args(args);
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    at(dir, args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn settings(dir: &Path) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(&dir.display().to_string()), "[PROJECT]");
    s
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// The statuses of `snapshot --format json`, by table.
fn statuses(o: &Output) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    v["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn all(status: &str) -> Vec<(String, String)> {
    TABLES
        .iter()
        .map(|t| (t.to_string(), status.to_string()))
        .collect()
}

#[test]
fn snapshot_writes_checks_and_shows_what_a_parameter_moved() {
    let (_tmp, p) = demo();
    let snaps = p.join("snapshots");
    settings(&p).bind(|| {
        assert_cmd_snapshot!("snapshot_created", at(&p, &["snapshot"]));
    });

    // insta reads the files: its header, and a body that is the `run --format json`
    // table, in YAML.
    let run_json: serde_json::Value =
        serde_json::from_slice(&run(&p, &["run", "--format", "json"]).stdout).unwrap();
    for name in TABLES {
        let path = snaps.join(format!("{name}.snap"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(&format!(
                "---\nsource: ledgerlens\nexpression: {name}\n---\n"
            )),
            "{text:.200}"
        );
        assert!(
            !text.contains(&*p.display().to_string()) && !text.contains("/tmp/"),
            "{name}.snap holds an absolute path"
        );
        let snap = insta::Snapshot::from_file(&path).unwrap();
        assert_eq!(snap.metadata().expression(), Some(name));
        let body = snap.contents().as_text().unwrap().to_string();
        let table: serde_json::Value = serde_yaml::from_str(&body).unwrap();
        assert_eq!(table, run_json[name], "{name}");
    }
    assert!(run_json["customers"].as_array().unwrap().len() > 1000);
    assert!(
        run_json["kpis"][0]["value"].is_string(),
        "decimals as strings"
    );

    // A second run changes nothing; --check passes.
    let before = std::fs::read(snaps.join("segments.snap")).unwrap();
    assert_eq!(
        statuses(&run(&p, &["snapshot", "--format", "json"])),
        all("unchanged")
    );
    let o = run(&p, &["snapshot", "--check", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(statuses(&o), all("matches"));

    // The client's churn window moves customers between lifecycle segments: --check
    // fails, shows the moved numbers and keeps the new versions beside the files.
    let pack = p.join("rules/pack.yaml");
    let text = std::fs::read_to_string(&pack).unwrap();
    let changed = text.replace("params: {}", "params:\n  churn_days: 150");
    assert_ne!(text, changed, "the demo's client pack has `params: {{}}`");
    std::fs::write(&pack, changed).unwrap();
    settings(&p).bind(|| {
        assert_cmd_snapshot!(
            "snapshot_check_churn_days",
            at(&p, &["snapshot", "--check"])
        );
    });
    let o = run(&p, &["snapshot", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("differs    segments.snap  (new version in segments.snap.new)\n--- segments.snap\n+++ segments.snap.new\n@@ "),
        "{out}"
    );
    assert!(
        out.contains("\n-  customers: ") && out.contains("\n+  customers: "),
        "{out}"
    );
    assert_eq!(std::fs::read(snaps.join("segments.snap")).unwrap(), before);
    assert!(snaps.join("segments.snap.new").exists());
    assert!(!snaps.join("diagnostics.snap.new").exists());

    // A missing file fails the check too.
    std::fs::remove_file(snaps.join("kpis.snap")).unwrap();
    let o = run(&p, &["snapshot", "--check", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(statuses(&o).contains(&("kpis".into(), "missing".into())));

    // Accepting (a run without --check) writes the files and clears the pending ones.
    let o = run(&p, &["snapshot", "--format", "json"]);
    assert!(o.status.success());
    let s = statuses(&o);
    assert!(s.contains(&("segments".into(), "changed".into())), "{s:?}");
    assert!(s.contains(&("kpis".into(), "created".into())), "{s:?}");
    let pending: Vec<_> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".new"))
        .collect();
    assert!(pending.is_empty(), "{pending:?}");
    let o = run(&p, &["snapshot", "--check", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(statuses(&o), all("matches"));

    // --dir puts them elsewhere.
    let other = p.join("elsewhere");
    let o = run(&p, &["snapshot", "--dir", "elsewhere"]);
    assert!(o.status.success());
    assert!(TABLES
        .iter()
        .all(|t| other.join(format!("{t}.snap")).is_file()));
}

#[test]
fn schema_is_json_schema_of_every_rule_kind() {
    let o = bin().arg("schema").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let schema: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let kinds: Vec<&str> = schema["$defs"]["rule"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["$ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "#/$defs/feature",
            "#/$defs/segment",
            "#/$defs/allocation",
            "#/$defs/kpi",
            "#/$defs/alert"
        ]
    );
    for kind in ["feature", "segment", "allocation", "kpi", "alert"] {
        let def = &schema["$defs"][kind];
        assert_eq!(def["additionalProperties"], false, "{kind}");
        assert_eq!(def["required"][0], kind);
        assert!(def["properties"][kind]["description"].is_string());
    }
    assert_eq!(
        schema["$defs"]["segment"]["properties"]["hit"]["enum"],
        serde_json::json!(["first", "unique", "priority", "collect"])
    );
    assert_eq!(schema["$defs"]["pack"]["required"][0], "name");
}
