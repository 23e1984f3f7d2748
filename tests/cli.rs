//! End-to-end tests of the `ledgerlens` binary: snapshots of its output, errors, exit
//! codes, the lock, and imports interrupted by a crash.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};

fn bin() -> Command {
    let mut cmd = Command::new(get_cargo_bin("ledgerlens"));
    cmd.env_remove("LEDGERLENS_CRASH_AT");
    cmd
}

/// A copy of a fixture project in a temporary folder.
fn project(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(fixture),
        dir.path(),
    );
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".ledgerlens" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .arg("--project")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

macro_rules! settings {
    ($dir:expr) => {{
        let mut s = insta::Settings::clone_current();
        s.add_filter(&regex_escape(&$dir.display().to_string()), "[PROJECT]");
        s.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]");
        s
    }};
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

#[test]
fn help_lists_every_command() {
    assert_cmd_snapshot!(bin().arg("--help"));
    assert_cmd_snapshot!("ingest_help", bin().args(["ingest", "--help"]));
}

#[test]
fn ingest_then_list() {
    let dir = project("tests/fixtures/mini");
    let p = dir.path();
    let settings = settings!(p);
    settings.bind(|| {
        let at = || {
            let mut cmd = bin();
            cmd.current_dir(p);
            cmd
        };
        assert_cmd_snapshot!("mini_ingest", at().arg("ingest"));
        assert_cmd_snapshot!("mini_customers", at().arg("customers"));
        assert_cmd_snapshot!(
            "mini_quarantine",
            at().args(["quarantine", "--format", "csv"])
        );
        assert_cmd_snapshot!("mini_customer", at().args(["customer", "crm:C001"]));
        assert_cmd_snapshot!("mini_stats", at().args(["stats", "--format", "json"]));
    });
}

#[test]
fn ingest_json_counts_add_up_and_reimport_changes_nothing() {
    let dir = project("tests/fixtures/mini");
    let p = dir.path();
    let first = json(&run(p, &["ingest", "--format", "json"]));
    assert_eq!(first["rows_read"], 10);
    assert_eq!(first["rows_quarantined"], 3);
    assert_eq!(first["entries_stored"], 5);
    assert_eq!(
        first["customers_new"], 3,
        "C001, C002 and M2; M1 and M3 matched by name"
    );
    assert_eq!(first["already_imported"], false);
    let stats = json(&run(p, &["stats", "--format", "json"]));
    let again = json(&run(p, &["ingest", "data/orders.csv", "--format", "json"]));
    assert_eq!(again["already_imported"], true);
    assert_eq!(again["rows_read"], 0);
    assert_eq!(json(&run(p, &["stats", "--format", "json"])), stats);
    assert_eq!(stats["entries"], 5);
    assert_eq!(stats["customers"], 3);
    assert_eq!(stats["imports"], 2);
    assert_eq!(stats["quarantined"], 3);
}

#[test]
fn errors_are_clear_and_exit_2() {
    let empty = tempfile::tempdir().unwrap();
    let o = bin()
        .current_dir(empty.path())
        .arg("stats")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no ledgerlens.yaml in the current folder"));

    let o = bin()
        .args(["--project", "/no/such/dir", "stats"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such/dir does not exist"));

    let dir = project("tests/fixtures/mini");
    let p = dir.path();
    let o = run(p, &["stats"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no database at"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let o = run(p, &["ingest", "data/missing.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("data/missing.csv: no such file"));

    std::fs::write(p.join("data/other.csv"), "a,b\n1,2\n").unwrap();
    let o = run(p, &["ingest", "data/other.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("no source in the configuration matches this file"));

    let o = run(p, &["ingest", "data/other.csv", "--source", "crm"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("data/other.csv:1: column '")
            && err.contains("is not in the header; the header has: a, b"),
        "{err}"
    );

    std::fs::write(p.join("data/empty.csv"), "").unwrap();
    let o = run(p, &["ingest", "data/empty.csv", "--source", "crm"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("empty"));

    std::fs::write(
        p.join("ledgerlens.yaml"),
        "sources:\n  - name: x\n    recrod: customer\n",
    )
    .unwrap();
    let o = run(p, &["stats"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("ledgerlens.yaml: line 3, column 5: sources[0]: unknown field `recrod`"),
        "{err}"
    );
}

#[test]
fn a_database_in_use_is_reported_not_waited_for() {
    let dir = project("tests/fixtures/mini");
    let p = dir.path();
    assert!(run(p, &["ingest"]).status.success());
    let held = ledgerlens_store::Store::open(
        p.join(".ledgerlens/db"),
        &ledgerlens_store::OpenOptions::existing(),
    )
    .unwrap();
    let o = run(p, &["stats"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("in use by another process"));
    drop(held);
    assert!(run(p, &["stats"]).status.success());
}

/// A project with one large transactions file, for crash tests.
fn big_project(lines: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = project("tests/fixtures/mini");
    let mut text = String::from("日期,会员,姓名,类型,金额,单号\n");
    for i in 0..lines {
        text.push_str(&format!(
            "2024-{:02}-{:02},B{},,销售,{}.{:02},O{i}\n",
            i % 12 + 1,
            i % 28 + 1,
            i % 5000,
            i % 997,
            i % 100
        ));
    }
    let file = dir.path().join("data/orders-big.csv");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

#[test]
fn a_crash_before_commit_leaves_the_database_as_it_was() {
    let (dir, _) = big_project(20_000);
    let p = dir.path();
    assert!(run(p, &["ingest", "data/crm.csv"]).status.success());
    let before = json(&run(p, &["stats", "--format", "json"]));
    let o = bin()
        .current_dir(p)
        .arg("--project")
        .arg(p)
        .args(["ingest", "data/orders-big.csv"])
        .env("LEDGERLENS_CRASH_AT", "before-commit")
        .output()
        .unwrap();
    assert!(!o.status.success(), "the crash hook must abort the process");
    assert_eq!(json(&run(p, &["stats", "--format", "json"])), before);
    assert_eq!(
        json(&run(p, &["quarantine", "--format", "json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let done = json(&run(
        p,
        &["ingest", "data/orders-big.csv", "--format", "json"],
    ));
    assert_eq!(done["rows_read"], 20_000);
    assert_eq!(done["already_imported"], false);
    let after = json(&run(p, &["stats", "--format", "json"]));
    assert_eq!(after["entries"], 20_000);
    assert_eq!(
        after["customers"],
        before["customers"].as_u64().unwrap() + 5000
    );
}

#[test]
fn kill_9_during_import_is_all_or_nothing() {
    let (dir, _) = big_project(60_000);
    let p = dir.path();
    // Kill at a few points in time; each time the import is either complete or absent.
    for delay_ms in [50u64, 150, 400] {
        let mut child = bin()
            .current_dir(p)
            .arg("--project")
            .arg(p)
            .args(["ingest", "data/orders-big.csv"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        let stats = run(p, &["stats", "--format", "json"]);
        if !stats.status.success() {
            // Killed before the database was even created.
            assert!(String::from_utf8_lossy(&stats.stderr).contains("no database"));
            continue;
        }
        let stats = json(&stats);
        let entries = stats["entries"].as_u64().unwrap();
        assert!(
            entries == 0 || entries == 60_000,
            "half an import is visible: {entries}"
        );
        if entries == 60_000 {
            break;
        }
    }
    let done = json(&run(
        p,
        &["ingest", "data/orders-big.csv", "--format", "json"],
    ));
    assert!(done["already_imported"] == true || done["rows_read"] == 60_000);
    let stats = json(&run(p, &["stats", "--format", "json"]));
    assert_eq!(stats["entries"], 60_000);
    assert_eq!(stats["imports"], 1);
    let customers = json(&run(p, &["customers", "--format", "json"]));
    assert_eq!(customers.as_array().unwrap().len(), 5000);
}

#[test]
fn init_creates_a_project_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("acme");
    let o = bin().arg("init").arg(&p).output().unwrap();
    assert!(o.status.success());
    assert!(p.join("rules/pack.yaml").exists());
    let text = std::fs::read_to_string(p.join("ledgerlens.yaml")).unwrap();
    assert!(text.contains("database: .ledgerlens/db"));
    // The commented configuration parses, and a second init refuses to overwrite it.
    let o = run(&p, &["ingest"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no files to ingest"));
    let o = bin().arg("init").arg(&p).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
}

#[test]
fn broken_pipe_exits_quietly() {
    let dir = project("tests/fixtures/mini");
    let p = dir.path();
    assert!(run(p, &["ingest"]).status.success());
    let mut child = bin()
        .arg("--project")
        .arg(p)
        .arg("customers")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // YAML too (its serializer used to hide the broken pipe behind its own error).
    let mut child = bin()
        .arg("--project")
        .arg(p)
        .args(["customers", "--format", "yaml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    let _ = stdout;
}

#[test]
fn demo_runs_on_bundled_data() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("demo");
    let settings = settings!(dir);
    settings.bind(|| {
        assert_cmd_snapshot!(
            "demo",
            bin()
                .current_dir(out.path())
                .args(["demo", "--out", "demo"])
        );
    });
    // The kept project works with the other commands.
    let stats = json(&run(&dir, &["stats", "--format", "json"]));
    assert_eq!(stats["customers"], 1993);
    assert_eq!(stats["quarantined"], 9);
    let q = json(&run(&dir, &["quarantine", "--format", "json"]));
    let rows: Vec<(String, u64)> = q
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_string(),
                r["row"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(rows.contains(&("data/凭证_2024.csv".to_string(), 6581)));
    // A second demo into the same folder refuses to overwrite it.
    let o = bin().arg("demo").arg("--out").arg(&dir).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    // Without --out the demo leaves nothing behind and says so.
    let o = bin()
        .arg("demo")
        .arg("--format")
        .arg("json")
        .output()
        .unwrap();
    let v = json(&o);
    assert_eq!(v["portfolio"]["net_revenue"], "55977794.64");
    assert_eq!(v["ingest"]["rows_read"], 38023);
}

#[test]
fn cdnow_example_ingests_through_its_mapping() {
    let dir = project("examples/cdnow");
    let p = dir.path();
    let r = json(&run(p, &["ingest", "--format", "json"]));
    assert_eq!(r["rows_read"], 69659);
    assert_eq!(r["rows_quarantined"], 0);
    assert_eq!(r["customers_new"], 23570);
    let c = json(&run(p, &["customer", "cdnow:00004", "--format", "json"]));
    // Customer 4 of the CDNOW sample: four purchases on four days in 1997.
    assert_eq!(c["features"]["orders"], 4);
    assert_eq!(c["features"]["revenue"], "100.50");
    assert_eq!(c["entries"].as_array().unwrap().len(), 4);
}

#[test]
fn demo_data_is_what_its_generator_makes() {
    let exe = std::env::current_exe().unwrap();
    let examples = exe.parent().unwrap().parent().unwrap().join("examples");
    let generator = examples.join("demo-company-generate");
    if !generator.exists() {
        panic!(
            "{} is missing: cargo test builds examples",
            generator.display()
        );
    }
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(&generator).arg(out.path()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-company/data");
    for entry in std::fs::read_dir(&committed).unwrap() {
        let entry = entry.unwrap();
        let made = std::fs::read(out.path().join(entry.file_name())).unwrap();
        assert!(
            made == std::fs::read(entry.path()).unwrap(),
            "{:?} differs from its generator's output",
            entry.file_name()
        );
    }
}

#[test]
fn header_only_and_bad_database_paths() {
    let dir = project("tests/fixtures/mini");
    let p = dir.path();
    std::fs::write(
        p.join("data/orders-empty.csv"),
        "日期,会员,姓名,类型,金额,单号\n",
    )
    .unwrap();
    let o = run(p, &["ingest", "data/orders-empty.csv"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    assert!(text.contains("the file has no data rows"), "{text}");
    assert!(
        text.contains("rows read 0 = rows stored 0 + rows quarantined 0"),
        "{text}"
    );

    // An unterminated quote breaks the file's structure: nothing of it is imported.
    std::fs::write(
        p.join("data/orders-broken.csv"),
        "日期,会员,姓名,类型,金额,单号\n2024-01-01,M9,x,销售,5,Z1\n2024-01-02,M9,\"x,销售,5,Z2\n2024-01-03,M9,x,销售,5,Z3\n",
    )
    .unwrap();
    let before = json(&run(p, &["stats", "--format", "json"]));
    let o = run(p, &["ingest", "data/orders-broken.csv"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("data/orders-broken.csv:3")
            && err.contains("nothing of this file was imported"),
        "{err}"
    );
    assert_eq!(json(&run(p, &["stats", "--format", "json"])), before);
    std::fs::remove_file(p.join("data/orders-broken.csv")).unwrap();

    // A database path that is a file, not a folder.
    std::fs::write(p.join("not-a-db"), "x").unwrap();
    let o = run(p, &["--db", "not-a-db", "stats"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not a folder"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Merges are listed with their evidence.
    assert!(run(p, &["ingest"]).status.success());
    let merges = json(&run(p, &["merges", "--format", "json"]));
    let merges = merges.as_array().unwrap();
    assert_eq!(merges.len(), 2);
    assert_eq!(merges[0]["code"], "M1");
    assert_eq!(merges[0]["customer"], "crm:C001");
    assert_eq!(merges[0]["rule"], "name");
    // A merged source code finds its canonical customer.
    let c = json(&run(p, &["customer", "shop:M1", "--format", "json"]));
    assert_eq!(c["customer"]["id"], "crm:C001");
    let o = run(p, &["customer", "shop:NOPE"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no customer 'shop:NOPE'"));
}
