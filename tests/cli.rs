//! End-to-end tests of the `ledgerlens` binary: snapshots of its output, errors, exit
//! codes, the lock, and imports interrupted by a crash.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};
use rust_decimal::Decimal;

/// The charts every report of the demo company draws (section ids).
const REPORT_CHARTS: [&str; 6] = [
    "segments",
    "whale",
    "marketing",
    "budget",
    "trends",
    "ageing",
];

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
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
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
    assert_eq!(stats["customers"], 2182);
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
    assert_eq!(v["portfolio"]["net_revenue"], "56125394.64");
    assert_eq!(v["ingest"]["rows_read"], 47567);
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

    // The consultant's pack runs on data it was not written for: no credit lines, no
    // channels, no spend, no costs.
    let overlay = repo("examples/consultant-overlay");
    let o = run(
        p,
        &[
            "run",
            "--pack",
            overlay.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let result = json(&o);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert_eq!(result["as_of"], "1998-06-30");
    let customers = result["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 23570);
    assert!(customers
        .iter()
        .all(|c| c["credit_watch"] == "no-credit-line"));
    // Every customer is in exactly one lifecycle segment.
    let lifecycle: u64 = rows_named(&result, "segments", "segment", &["lifecycle"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(lifecycle, 23570);
    assert_eq!(
        kpi(&result, "net_revenue_total"),
        "2500315.63".parse().unwrap()
    );
    // The only diagnostics: ROI and LTV:CAC of a channel without spend are null, and
    // CDNOW has no cost pools to allocate.
    let diagnostics: Vec<(&str, &str)> = result["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["rule"].as_str().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        diagnostics,
        [
            ("channel_roi", "rules.null"),
            ("logistics_cost_allocated", "rules.allocation"),
            ("ltv_cac", "rules.null"),
            ("service_cost_allocated", "rules.allocation"),
        ]
    );
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

// ---------------------------------------------------------------------------------------
// Rule packs: run, check, explain, functions.

/// A folder's path in the repository.
fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The demo company, ingested into a temporary project (the demo's client pack `rules/`
/// extends the standard pack and changes nothing).
fn demo_project() -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("demo");
    let o = bin().arg("demo").arg("--out").arg(&dir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (out, dir)
}

/// The command, run inside the project folder, so no absolute path is among its
/// arguments (insta-cmd snapshots show them).
fn at(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.current_dir(dir).args(args);
    cmd
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn decimal(v: &serde_json::Value) -> Decimal {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("a decimal string, not {v}"));
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not a decimal: {e}"))
}

/// The rows of a `run --format json` table whose `key` is one of `names`.
fn rows_named(
    run: &serde_json::Value,
    table: &str,
    key: &str,
    names: &[&str],
) -> serde_json::Value {
    serde_json::Value::Array(
        run[table]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| names.contains(&r[key].as_str().unwrap()))
            .cloned()
            .collect(),
    )
}

/// A KPI's value without group keys.
fn kpi(run: &serde_json::Value, name: &str) -> Decimal {
    let rows = rows_named(run, "kpis", "name", &[name]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{name}: {rows:?}");
    decimal(&rows[0]["value"])
}

/// Parses CSV text into its header and rows.
fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// A Parquet file's column names and types (physical, logical) and its rows as fields.
fn parquet_table(path: &Path) -> (Vec<(String, String)>, Vec<Vec<parquet::record::Field>>) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let fields = schema.root_schema().get_fields();
    let columns = fields
        .iter()
        .map(|f| {
            let ty = if f.is_primitive() {
                format!(
                    "{} {:?}",
                    f.get_physical_type(),
                    f.get_basic_info().logical_type_ref()
                )
            } else {
                format!("group {:?}", f.get_basic_info().logical_type_ref())
            };
            (f.name().to_string(), ty)
        })
        .collect();
    let rows = reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(_, f)| f.clone())
                .collect()
        })
        .collect();
    (columns, rows)
}

/// Whether a value read from Parquet is the JSON output's value: decimals equal as
/// numbers, dates as their ISO text, lists element by element.
fn same_value(field: &parquet::record::Field, json: &serde_json::Value) -> bool {
    use parquet::record::{Field, ListAccessor};
    use serde_json::Value as J;
    match (field, json) {
        (Field::Null, J::Null) => true,
        (Field::Bool(a), J::Bool(b)) => a == b,
        (Field::Long(a), J::Number(b)) => Some(*a) == b.as_i64(),
        (Field::Str(a), J::String(b)) => a == b,
        (Field::Date(days), J::String(b)) => {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
            (epoch + chrono::Duration::days(i64::from(*days))).to_string() == *b
        }
        // A column of decimals holds its whole numbers as decimals too.
        (Field::Decimal(d), J::String(_) | J::Number(_)) => {
            let bytes = d.data();
            let mut be = [if bytes[0] & 0x80 != 0 { 0xff } else { 0 }; 16];
            be[16 - bytes.len()..].copy_from_slice(bytes);
            let value = Decimal::from_i128_with_scale(i128::from_be_bytes(be), d.scale() as u32);
            let want = match json {
                J::Number(n) => n.as_i64().map(Decimal::from),
                _ => json.as_str().and_then(|b| b.parse::<Decimal>().ok()),
            };
            want == Some(value)
        }
        (Field::ListInternal(list), J::Array(items)) => {
            list.len() == items.len()
                && (0..list.len()).all(|i| {
                    list.get_string(i)
                        .is_ok_and(|s| items[i].as_str() == Some(s.as_str()))
                })
        }
        _ => false,
    }
}

/// `run --out`'s Parquet files hold every value of the JSON output (`run.json`), with
/// the CSV's column names (a KPI's `name` is `kpi`, an alert's `alert`, a KPI's group
/// `key=value, ...` text) and row order, in typed columns; `actions.parquet` holds
/// `actions.csv`.
fn parquet_files_hold_the_json_values(
    out: &Path,
    result: &serde_json::Value,
    actions: &[Vec<String>],
) {
    let mut types = std::collections::BTreeMap::new();
    for table in [
        "customers",
        "segments",
        "kpis",
        "alerts",
        "allocations",
        "diagnostics",
    ] {
        let (columns, rows) = parquet_table(&out.join(format!("{table}.parquet")));
        let want = result[table].as_array().unwrap();
        assert_eq!(rows.len(), want.len(), "{table}.parquet: rows");
        assert!(
            !rows.is_empty(),
            "{table}.parquet is empty: the test would not look"
        );
        for (row, want) in rows.iter().zip(want) {
            let mut want = want.as_object().unwrap().clone();
            // The CSV's (and Parquet's) names for the JSON's `name`.
            if let Some(name) = want.remove("name") {
                want.insert(if table == "kpis" { "kpi" } else { "alert" }.into(), name);
            }
            if table == "kpis" {
                let group: Vec<String> = want["group"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                    .collect();
                want.insert("group".into(), group.join(", ").into());
            }
            let mut names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
            names.sort_unstable();
            assert_eq!(names, want.keys().map(String::as_str).collect::<Vec<_>>());
            for ((name, _), field) in columns.iter().zip(row) {
                assert!(
                    same_value(field, &want[name]),
                    "{table}.parquet: {name} is {field:?}, the JSON says {}",
                    want[name]
                );
            }
        }
        for (name, ty) in columns {
            types.insert(format!("{table}.{name}"), ty);
        }
    }
    // Typed columns: counts are INT64, money is DECIMAL, texts are strings.
    for (column, ty) in [
        ("segments.customers", "INT64 None"),
        ("segments.label", "BYTE_ARRAY Some(String)"),
        (
            "allocations.amount",
            "INT64 Some(Decimal(DecimalType { scale: 2, precision: 18 }))",
        ),
        (
            "customers.ltv",
            "INT64 Some(Decimal(DecimalType { scale: 2, precision: 18 }))",
        ),
        ("customers.risk", "group Some(List)"),
    ] {
        assert_eq!(types[column], ty, "{column}");
    }
    let (columns, rows) = parquet_table(&out.join("actions.parquet"));
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["customer", "name", "phone", "channel", "region", "segment", "label", "action"]
    );
    assert_eq!(rows.len(), actions.len());
    for (row, want) in rows.iter().zip(actions) {
        for (field, want) in row.iter().zip(want) {
            let want = if want.is_empty() {
                serde_json::Value::Null
            } else {
                want.as_str().into()
            };
            assert!(same_value(field, &want), "{field:?} != {want}");
        }
    }
}

/// The published worked examples of finance-driven marketing, computed by the standard
/// pack from the demo company's vouchers, CRM, spend sheet and budgets (the data is built
/// so they hold: examples/demo-company/README.md, "Worked examples").
#[test]
fn worked_examples_hold_on_the_demo_company() {
    let (_tmp, p) = demo_project();
    let result = json(&run(&p, &["run", "--format", "json"]));
    let kpi_of = |name: &str, group: serde_json::Value| -> Decimal {
        let rows = result["kpis"].as_array().unwrap();
        let row = rows
            .iter()
            .find(|k| k["name"] == name && k["group"] == group)
            .unwrap_or_else(|| panic!("{name} {group}"));
        decimal(&row["value"])
    };
    let level_of = |alert: &str, subject: &str| -> String {
        let rows = result["alerts"].as_array().unwrap();
        let row = rows
            .iter()
            .find(|a| a["name"] == alert && a["subject"] == subject)
            .unwrap_or_else(|| panic!("{alert} {subject}"));
        row["level"].as_str().unwrap().to_string()
    };
    let d = |s: &str| s.parse::<Decimal>().unwrap();

    // Channel ROI: 微信广告 10,000 -> 40,000 = 4.0; 抖音达人投放 15,000 -> 30,000 = 2.0;
    // 展会活动 25,000 -> 35,000 = 1.4 (the channels of the campaign 2025年终品鉴季).
    let campaign = "2025年终品鉴季";
    for (channel, roi) in [
        ("微信广告", "4"),
        ("抖音达人投放", "2"),
        ("展会活动", "1.4"),
    ] {
        let group = serde_json::json!({ "campaign": campaign, "channel": channel });
        assert_eq!(kpi_of("campaign_channel_roi", group), d(roi), "{channel}");
    }

    // The dashboard of the campaign 2025秋季拉新: CAC 280 against a limit of 300 (normal),
    // ROI 1.2 against a floor of 1.0 (good), spend 12% over budget against +/-10% (review).
    let group = serde_json::json!({ "campaign": "2025秋季拉新" });
    let subject = "campaign=2025秋季拉新";
    assert_eq!(kpi_of("campaign_cac", group.clone()), d("280"));
    assert_eq!(level_of("campaign_cac_above_limit", subject), "ok");
    assert_eq!(kpi_of("campaign_roi", group.clone()), d("1.2"));
    assert_eq!(level_of("campaign_roi_low", subject), "ok");
    assert_eq!(kpi_of("campaign_spend_deviation", group), d("0.12"));
    assert_eq!(level_of("campaign_off_budget", subject), "review");

    // LTV: 500 a month for 12 months = 6,000; 1,500 a quarter for 6 months = 3,000.
    let customers = result["customers"].as_array().unwrap();
    let ltv = |id: &str| {
        let c = customers.iter().find(|c| c["id"] == id).unwrap();
        decimal(&c["ltv"])
    };
    assert_eq!(ltv("crm:CRM01295"), d("6000"));
    assert_eq!(ltv("crm:CRM01573"), d("3000"));

    // The same figures, pinned as they are printed.
    let pick = |table: &str, keep: &dyn Fn(&serde_json::Value) -> bool| {
        serde_json::Value::Array(
            result[table]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| keep(r))
                .cloned()
                .collect(),
        )
    };
    let campaigns = ["2025年终品鉴季", "2025秋季拉新"];
    let in_campaigns = |s: &str| campaigns.iter().any(|c| s.contains(c));
    let examples = serde_json::json!({
        "kpis": pick("kpis", &|k| k["name"].as_str().unwrap().starts_with("campaign")
            && in_campaigns(&k["group"].to_string())),
        "alerts": pick("alerts", &|a| in_campaigns(a["subject"].as_str().unwrap())),
        "ltv": pick("customers", &|c| c["id"] == "crm:CRM01295" || c["id"] == "crm:CRM01573"),
    });
    insta::assert_yaml_snapshot!("demo_worked_examples", examples);
}

#[test]
fn standard_pack_runs_on_the_demo_company() {
    let (_tmp, p) = demo_project();
    let p = p.as_path();
    let o = run(p, &["run", "--format", "json"]);
    let result = json(&o);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert_eq!(
        result["pack"]["chain"],
        serde_json::json!(["standard", "client"])
    );
    assert_eq!(result["as_of"], "2025-12-31");
    assert_eq!(result["customers"].as_array().unwrap().len(), 2182);

    // The whole result but the per-customer table (which `snapshot` pins).
    let mut tables = serde_json::Map::new();
    for t in [
        "segments",
        "kpis",
        "allocations",
        "alerts",
        "diagnostics",
        "model",
    ] {
        tables.insert(t.into(), result[t].clone());
    }
    insta::assert_yaml_snapshot!("demo_run_standard", tables);

    // Marketing spend is allocated to the buyers each channel acquired, to the cent: every
    // pool is spent exactly, and the allocations add up to the spend up to the as-of date.
    // So are the service and logistics departments' cost pools, by service tickets and
    // deliveries.
    let mut allocated: std::collections::BTreeMap<String, Decimal> = Default::default();
    for p in result["allocations"].as_array().unwrap() {
        let amount: Decimal = p["amount"].as_str().unwrap().parse().unwrap();
        let given: Decimal = p["allocated"].as_str().unwrap().parse().unwrap();
        let left: Decimal = p["unallocated"].as_str().unwrap().parse().unwrap();
        assert_eq!(given + left, amount, "{p}");
        *allocated
            .entry(p["allocation"].as_str().unwrap().to_string())
            .or_default() += given;
    }
    let expected: std::collections::BTreeMap<String, Decimal> = [
        ("logistics_cost_allocated", "496543.17"),
        ("marketing_cost", "2992900"),
        ("service_cost_allocated", "415823.55"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
    .collect();
    assert_eq!(allocated, expected);

    // The four spend deviations the demo company was built with, and no other quarter,
    // are outside plus or minus 10%.
    let off: Vec<(String, Decimal)> = result["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == "spend_off_budget" && a["level"] != "ok")
        .map(|a| {
            assert_eq!(a["level"], "review", "{a}");
            (
                a["subject"].as_str().unwrap().to_string(),
                decimal(&a["value"]),
            )
        })
        .collect();
    let designed = [
        ("channel=展会活动, quarter=2025-Q4", "0.1799"),
        ("channel=微信广告, quarter=2025-Q3", "0.14"),
        ("channel=抖音达人投放, quarter=2024-Q4", "0.2795"),
        ("channel=百度搜索, quarter=2025-Q1", "-0.1511"),
    ];
    let designed: Vec<(String, Decimal)> = designed
        .iter()
        .map(|(s, v)| (s.to_string(), v.parse().unwrap()))
        .collect();
    assert_eq!(off, designed);
    let limit: Decimal = "0.1".parse().unwrap();
    let deviations = rows_named(&result, "kpis", "name", &["spend_deviation"]);
    let deviations = deviations.as_array().unwrap();
    assert_eq!(
        deviations.len(),
        38,
        "5 channels x 8 quarters, 展会活动 has no Q3 budgets"
    );
    for d in deviations {
        let outside = decimal(&d["value"]).abs() > limit;
        let group = &d["group"];
        let subject = format!(
            "channel={}, quarter={}",
            group["channel"].as_str().unwrap(),
            group["quarter"].as_str().unwrap()
        );
        assert_eq!(outside, off.iter().any(|(s, _)| *s == subject), "{subject}");
    }

    // Credit limits: the two key accounts that stopped paying, and only they.
    let over: Vec<&str> = result["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == "credit_limit_exceeded")
        .map(|a| a["subject"].as_str().unwrap())
        .collect();
    assert_eq!(over, ["crm:CRM00049", "crm:CRM00251"]);
    let flagged: Vec<&str> = result["customers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["risk"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "credit-limit-exceeded")
        })
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(flagged, over);

    // Portfolio KPIs agree with the features to the cent.
    let features = json(&run(p, &["features", "--format", "json"]));
    assert_eq!(
        kpi(&result, "net_revenue_total"),
        "56125394.64".parse().unwrap()
    );
    assert_eq!(
        kpi(&result, "net_revenue_total"),
        decimal(&features["net_revenue"])
    );
    assert_eq!(
        kpi(&result, "receivables_total"),
        "4733951.92".parse().unwrap()
    );
    assert_eq!(
        kpi(&result, "receivables_total"),
        decimal(&features["receivables"])
    );
    // The ledger summed by month and quarter adds up to the same totals.
    let total = |name: &str| -> Decimal {
        rows_named(&result, "kpis", "name", &[name])
            .as_array()
            .unwrap()
            .iter()
            .map(|k| decimal(&k["value"]))
            .sum()
    };
    assert_eq!(
        total("net_revenue_by_month"),
        decimal(&features["net_revenue"])
    );
    assert_eq!(
        total("net_revenue_by_channel_and_quarter"),
        decimal(&features["net_revenue"])
    );
    assert_eq!(
        total("gross_margin_by_quarter"),
        decimal(&features["gross_margin"])
    );
    assert_eq!(
        rows_named(&result, "kpis", "name", &["net_revenue_by_month"])
            .as_array()
            .unwrap()
            .len(),
        24
    );

    // The same result as YAML, as CSV (the per-customer table) and as files.
    let yaml = run(p, &["run", "--format", "yaml"]);
    assert!(yaml.status.success(), "{}", stderr(&yaml));
    let yaml: serde_json::Value = serde_yaml::from_slice(&yaml.stdout).unwrap();
    assert_eq!(yaml, result);
    let csv = run(p, &["run", "--format", "csv"]);
    assert!(csv.status.success(), "{}", stderr(&csv));
    let (header, rows) = csv_rows(&stdout(&csv));
    assert_eq!(header[0], "id");
    for column in ["lifecycle", "value_class", "risk", "rfm", "tier", "ltv"] {
        assert!(header.iter().any(|h| h == column), "{column} in {header:?}");
    }
    assert_eq!(rows.len(), 2182);
    let lifecycle = header.iter().position(|h| h == "lifecycle").unwrap();
    let ids: Vec<&str> = result["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ids);
    let row = rows.iter().find(|r| r[0] == "crm:CRM00049").unwrap();
    assert_eq!(row[lifecycle], "high-value");

    let out = p.join("results");
    let o = run(p, &["run", "--out", "results", "--format", "json"]);
    assert_eq!(json(&o), result, "--out does not change stdout");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(written, result);
    for (file, table, columns) in [
        ("customers.csv", "customers", "id"),
        ("segments.csv", "segments", "segment,label,customers,action"),
        ("kpis.csv", "kpis", "kpi,group,value,unit"),
        (
            "alerts.csv",
            "alerts",
            "alert,subject,level,value,threshold,kpi",
        ),
        (
            "diagnostics.csv",
            "diagnostics",
            "rule,code,count,message,example,at",
        ),
    ] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        let (header, rows) = csv_rows(&text);
        assert!(header.join(",").starts_with(columns), "{file}: {header:?}");
        assert_eq!(
            rows.len(),
            result[table].as_array().unwrap().len(),
            "{file}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(out.join("customers.csv")).unwrap(),
        stdout(&csv)
    );
    // The CRM action list: a row per customer and labelled segment with an action, with
    // the master's contact fields; its counts agree with the segment sizes.
    let (header, actions) = csv_rows(&std::fs::read_to_string(out.join("actions.csv")).unwrap());
    assert_eq!(
        header,
        ["customer", "name", "phone", "channel", "region", "segment", "label", "action"]
    );
    for s in result["segments"].as_array().unwrap() {
        let rows = actions
            .iter()
            .filter(|r| r[5] == s["segment"] && r[6] == s["label"])
            .count() as u64;
        let want = if s["action"].is_string() {
            s["customers"].as_u64().unwrap()
        } else {
            0
        };
        assert_eq!(rows, want, "{s}");
    }
    let crm49: Vec<&Vec<String>> = actions.iter().filter(|r| r[0] == "crm:CRM00049").collect();
    assert!(
        crm49
            .iter()
            .any(|r| r[5] == "lifecycle" && r[6] == "high-value"),
        "{crm49:?}"
    );
    assert!(
        crm49.iter().all(|r| !r[1].is_empty() && !r[2].is_empty()),
        "{crm49:?}"
    );
    let mut sorted = actions.clone();
    sorted.sort_by(|a, b| a[0].cmp(&b[0]));
    assert_eq!(sorted, actions, "sorted by customer id");
    parquet_files_hold_the_json_values(&out, &result, &actions);

    // Exit codes: a critical alert fired (a class-A customer churned).
    assert!(result["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "high_value_churned" && a["level"] == "critical"));
    assert_eq!(
        run(p, &["run", "--fail-on", "critical"]).status.code(),
        Some(1)
    );
    // (Without --fail-on, the runs above exited 0.)

    // explain: why CRM00049 is high-value and over its credit limit.
    settings!(p).bind(|| {
        assert_cmd_snapshot!("demo_explain_crm00049", at(p, &["explain", "crm:CRM00049"]));
    });
    let e = json(&run(p, &["explain", "crm:CRM00049", "--format", "json"]));
    assert_eq!(e["customer"], "crm:CRM00049");
    let explanation = |rule: &str| -> serde_json::Value {
        e["explanations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["rule"] == rule)
            .unwrap_or_else(|| panic!("no explanation of {rule}"))
            .clone()
    };
    let lifecycle = explanation("lifecycle");
    assert_eq!(lifecycle["value"], "high-value");
    let held: Vec<&str> = lifecycle["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["result"] == "held")
        .map(|s| s["what"].as_str().unwrap())
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(held[0].ends_with("-> high-value"), "{held:?}");
    let risk = explanation("risk");
    assert!(
        risk["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "credit-limit-exceeded"),
        "{risk}"
    );
    let step = risk["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["what"]
                .as_str()
                .unwrap()
                .ends_with("-> credit-limit-exceeded")
        })
        .unwrap();
    assert_eq!(step["result"], "held");
    assert!(step["inputs"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(["credit_limit", "300000.00"])));
    assert!(step["inputs"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(["receivables", "464552.84"])));
    assert_eq!(explanation("credit_limit_exceeded")["value"], true);
    let entries = e["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 81);
    for entry in entries {
        let file = entry["file"].as_str().unwrap();
        assert!(file.starts_with("data/凭证_202"), "{entry}");
        assert!(entry["row"].as_u64().unwrap() > 1, "{entry}");
    }
    // The receivable is what was invoiced and not paid.
    let sum = |kind: &str| -> Decimal {
        entries
            .iter()
            .filter(|x| x["kind"] == kind)
            .map(|x| decimal(&x["amount"]))
            .sum()
    };
    assert_eq!(
        sum("invoice") - sum("payment"),
        "464552.84".parse().unwrap()
    );

    let only = json(&run(
        p,
        &[
            "explain",
            "crm:CRM00049",
            "--rule",
            "lifecycle",
            "--format",
            "json",
        ],
    ));
    let rules: Vec<&str> = only["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["lifecycle"]);

    let o = run(p, &["explain", "crm:NOPE"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("no customer 'crm:NOPE'"),
        "{}",
        stderr(&o)
    );
    let o = run(p, &["explain", "crm:CRM00049", "--rule", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no rule named nope"), "{}", stderr(&o));

    // A script that runs away on some customers only passes `check` (its dry run does
    // not loop) and stops `run` with its rule's place.
    let pack = tempfile::tempdir().unwrap();
    let runaway = pack.path().join("runaway");
    std::fs::create_dir(&runaway).unwrap();
    std::fs::write(
        runaway.join("pack.yaml"),
        "name: runaway\nextends: standard\n",
    )
    .unwrap();
    std::fs::write(
        runaway.join("spin.yaml"),
        "feature: spin\ntype: decimal\nscript: |\n  if orders > 10 { loop { } }\n  1.0\n",
    )
    .unwrap();
    let pack_arg = runaway.to_str().unwrap();
    assert!(run(p, &["check", "--pack", pack_arg]).status.success());
    let o = run(p, &["run", "--pack", pack_arg]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("runaway/spin.yaml:4:3: rule spin stopped: Too many operations"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn consultant_overlay_runs_on_the_demo_company() {
    let (_tmp, p) = demo_project();
    let p = p.as_path();
    let overlay = repo("examples/consultant-overlay");
    let o = run(
        p,
        &[
            "run",
            "--pack",
            overlay.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let result = json(&o);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert_eq!(
        result["pack"]["chain"],
        serde_json::json!(["standard", "xinghe-tea"])
    );
    // What the overlay adds or changes: the credit segment with its KPI and alert, the
    // profit-based value classes, and the CAC limit.
    let mut own = serde_json::Map::new();
    own.insert(
        "segments".into(),
        rows_named(
            &result,
            "segments",
            "segment",
            &["credit_watch", "value_class"],
        ),
    );
    own.insert(
        "kpis".into(),
        rows_named(
            &result,
            "kpis",
            "name",
            &["customers_by_credit_watch", "revenue_by_value_class", "cac"],
        ),
    );
    own.insert(
        "alerts".into(),
        rows_named(
            &result,
            "alerts",
            "name",
            &["near_credit_limit", "cac_above_limit"],
        ),
    );
    insta::assert_yaml_snapshot!("demo_run_consultant_overlay", own);

    // The two customers over their limit are the standard pack's credit-limit-exceeded.
    let over: Vec<&str> = result["customers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["credit_watch"] == "over-limit")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(over, ["crm:CRM00049", "crm:CRM00251"]);
    // churn_days 210 instead of 180: fewer churned customers than the standard pack finds.
    let churned = |r: &serde_json::Value| {
        rows_named(r, "segments", "segment", &["lifecycle"])
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["label"] == "churned")
            .unwrap()["customers"]
            .as_u64()
            .unwrap()
    };
    let standard = json(&run(p, &["run", "--format", "json"]));
    assert!(churned(&result) < churned(&standard));
    let o = run(
        p,
        &[
            "run",
            "--pack",
            overlay.to_str().unwrap(),
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "CRM00507 is a churned class-A customer"
    );
}

/// A copy of the consultant overlay in a temporary folder, with files replaced or added.
fn overlay_with(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("consultant-overlay");
    copy_dir(&repo("examples/consultant-overlay"), &dir);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    (tmp, dir)
}

/// A file of the overlay with each `from` replaced by its `to` (and each must be there).
fn overlay_file(path: &str, edits: &[(&str, &str)]) -> (String, String) {
    let mut text = std::fs::read_to_string(repo("examples/consultant-overlay").join(path)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{path} has no {from:?}");
        text = text.replacen(from, to, 1);
    }
    (path.to_string(), text)
}

fn check(pack: &Path) -> Output {
    let dir = pack.parent().unwrap();
    bin()
        .current_dir(dir)
        .arg("check")
        .arg("--pack")
        .arg(pack)
        .output()
        .unwrap()
}

#[test]
fn check_passes_good_packs_and_places_every_problem() {
    // The standard pack (no project needed) and the consultant's overlay pass.
    let nowhere = tempfile::tempdir().unwrap();
    let o = bin()
        .current_dir(nowhere.path())
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("pack standard version 1 (standard): "),
        "{}",
        stdout(&o)
    );
    let o = check(&repo("examples/consultant-overlay"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("pack xinghe-tea version 3 (standard <- xinghe-tea): "),
        "{}",
        stdout(&o)
    );

    // Broken copies of the overlay. Problems are found stage by stage (pack.yaml; the rule
    // files' YAML and shapes; compilation; the dry run): check lists every problem of the
    // first stage that has any.
    let mut report = String::new();
    let mut stage = |title: &str, files: Vec<(String, String)>, expect: usize| {
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let (tmp, dir) = overlay_with(&files);
        let o = check(&dir);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{title}: {err}");
        assert!(stdout(&o).is_empty(), "{title}: {}", stdout(&o));
        let problems: Vec<&str> = err.lines().skip(1).collect();
        assert_eq!(problems.len(), expect, "{title}: {err}");
        for line in &problems {
            // consultant-overlay/FILE:LINE:COL: message [code]
            let place = line.trim_start().split(": ").next().unwrap();
            let parts: Vec<&str> = place.rsplitn(3, ':').collect();
            assert!(
                parts.len() == 3
                    && parts[2].starts_with("consultant-overlay/")
                    && parts[1].parse::<u32>().is_ok_and(|l| l > 0)
                    && parts[0].parse::<u32>().is_ok_and(|c| c > 0),
                "{title}: no file:line:col in {line:?}"
            );
            assert!(line.ends_with(']'), "{title}: no code in {line:?}");
        }
        let err = err.replace(&tmp.path().display().to_string(), "[TMP]");
        report.push_str(&format!("== {title}\n{err}\n"));
    };
    stage(
        "a YAML syntax error in pack.yaml",
        vec![overlay_file(
            "pack.yaml",
            &[("churn_days: 210", "churn_days: 210: 3")],
        )],
        1,
    );
    stage(
        "unknown keys",
        vec![overlay_file(
            "segments/credit.yaml",
            &[
                (
                    "  - when: utilization(receivables, credit_limit) > params.credit_watch_ratio",
                    "  - wehn: utilization(receivables, credit_limit) > params.credit_watch_ratio",
                ),
                (
                    "alert: near_credit_limit",
                    "alert: near_credit_limit\nthreshold: 0.8",
                ),
            ],
        )],
        2,
    );
    stage(
        "an unknown variable, a cycle, Rhai syntax errors",
        vec![
            overlay_file(
                "segments/credit.yaml",
                &[(
                    "  - when: utilization(receivables, credit_limit) > params.credit_watch_ratio",
                    "  - when: utilization(receivabels, credit_limit) > params.credit_watch_ratio",
                )],
            ),
            overlay_file(
                "scripts/credit.rhai",
                &[("    receivables / limit\n", "    receivables / limit +\n")],
            ),
            (
                "features/broken.yaml".into(),
                "# Two features that read each other, and a typo.\nfeature: margin_share\nexpr: gross_margin / net_revenue * margin_weight\n---\nfeature: margin_weight\nexpr: margin_share * 2\n---\nfeature: doubled_orders\nexpr: orders +* 2\n".into(),
            ),
        ],
        4,
    );
    stage(
        "a script that never ends",
        vec![(
            "features/spin.yaml".into(),
            "feature: spin\nscript: |\n  let n = 0;\n  loop { n += 1; }\n".into(),
        )],
        1,
    );
    insta::assert_snapshot!("check_broken_overlay", report);
}

/// Runs `cmd`, killing it after `secs` seconds; `None` when it had to be killed.
fn output_within(mut cmd: Command, secs: u64) -> Option<Output> {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(secs) {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn check_reports_a_yaml_syntax_error_in_a_rule_file() {
    let (_tmp, dir) = overlay_with(&[("features/bad.yaml", "feature: bad\nexpr: [orders\n")]);
    let mut cmd = bin();
    cmd.current_dir(dir.parent().unwrap())
        .arg("check")
        .arg("--pack")
        .arg(&dir);
    let o = output_within(cmd, 20).expect("check did not finish within 20 s");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("consultant-overlay/features/bad.yaml:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn functions_lists_what_scripts_may_call() {
    assert_cmd_snapshot!("functions", bin().arg("functions"));
    let o = bin()
        .args(["functions", "--format", "json"])
        .output()
        .unwrap();
    let docs = json(&o);
    for f in docs.as_array().unwrap() {
        for key in ["group", "signature", "description", "example"] {
            assert!(
                f[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key} of {f}"
            );
        }
    }
}

// ---------------------------------------------------------------- snapshot and schema

/// The tables `snapshot` writes, one file each.
const TABLES: [&str; 5] = ["segments", "kpis", "alerts", "diagnostics", "customers"];

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
    let (_tmp, p) = demo_project();
    let snaps = p.join("snapshots");
    let settings = settings!(p);
    settings.bind(|| {
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
    settings.bind(|| {
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
            "#/$defs/alert",
            "#/$defs/model"
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

// --- ERP adapters: a mixed folder, one ledger per customer ---

/// Kingdee vouchers (xlsx), Yonyou vouchers (GBK U8 text), the CRM (GBK CSV), the U8
/// customer master and a spend workbook for the same customers: after one ingest every
/// company is one customer whose ledger holds its lines from both ERPs, with the figures
/// the fixture generator designed (tests/fixtures/erp/mixed/expected.yaml).
#[test]
fn a_mixed_erp_folder_gives_one_ledger_per_customer() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo("tests/fixtures/erp/mixed"), &dir.path().join("data"));
    std::fs::write(
        dir.path().join("ledgerlens.yaml"),
        r#"database: db
sources:
  - name: crm
    files: data/crm_customers.csv
    record: customer
    columns: { code: 客户编号, name: 客户名称, phone: 手机, uscc: 统一社会信用代码, channel: 获客渠道, region: 区域 }
  - name: u8-customers
    system: u8
    files: data/u8_customers.csv
    record: customer
    columns: { code: 客户编码, name: 客户名称, uscc: 税号, phone: 电话 }
  - name: k3
    adapter: kingdee
    files: data/kingdee_vouchers.xlsx
    record: voucher-line
  - name: u8
    adapter: yonyou
    files: data/u8_vouchers.txt
    record: voucher-line
  - name: spend
    adapter: xlsx
    files: data/spend.xlsx
    sheet: 投放
    record: spend
    columns: { date: 日期, channel: 渠道, campaign: 活动, amount: 金额 }
"#,
    )
    .unwrap();
    let expected: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo("tests/fixtures/erp/mixed/expected.yaml")).unwrap(),
    )
    .unwrap();
    let o = run(dir.path(), &["--format", "json", "ingest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let customers = json(&run(dir.path(), &["--format", "json", "customers"]));
    let customers = customers.as_array().expect("customers");
    assert_eq!(
        customers.len() as u64,
        expected["customers"].as_u64().unwrap(),
        "{customers:#?}"
    );
    for group in expected["groups"].as_sequence().unwrap() {
        let id = group["id"].as_str().unwrap();
        let customer = json(&run(dir.path(), &["--format", "json", "customer", id]));
        let codes: Vec<&str> = customer["customer"]["codes"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: {customer:#}"))
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        for code in group["codes"].as_sequence().unwrap() {
            let code = code.as_str().unwrap();
            assert!(codes.contains(&code), "{id}: {code} not in {codes:?}");
        }
        let figures = &group["figures"];
        if figures.is_null() {
            continue;
        }
        let want = |key: &str| figures[key].as_str().unwrap().parse::<Decimal>().unwrap();
        let features = &customer["features"];
        assert_eq!(
            decimal(&features["net_revenue"]),
            want("revenue"),
            "{id} net revenue: {features:#}"
        );
        assert_eq!(
            decimal(&features["receivables"]),
            want("receivable_balance"),
            "{id} receivable: {features:#}"
        );
    }
    // The spend workbook's 合计 row is quarantined with its reason, not summed.
    let stats = json(&run(dir.path(), &["--format", "json", "stats"]));
    assert!(stats["quarantined"].as_u64().unwrap() >= 1, "{stats:#}");
}

/// `sniff` tells the container, encoding and ERP layout from the bytes, not the name.
#[test]
fn sniff_tells_what_a_file_is() {
    let k3 = bin()
        .args(["--format", "json", "sniff"])
        .arg(repo("tests/fixtures/erp/kingdee/k3_vouchers_titled.xlsx"))
        .output()
        .unwrap();
    let k3 = json(&k3);
    assert_eq!(k3["adapter"], "kingdee");
    assert_eq!(k3["header_row"], 2);
    assert_eq!(k3["customer"], "核算项目");
    assert!(k3["preview"][0]["record"]
        .as_str()
        .is_some_and(|r| r.contains("C001")));
    let text = bin()
        .arg("sniff")
        .arg(repo("tests/fixtures/erp/bad/csv_as.xls"))
        .output()
        .unwrap();
    let text = stdout(&text);
    assert!(text.contains("encoding:   gbk"), "{text}");
    assert!(text.contains("format:     delimited text"), "{text}");
    let u8 = json(
        &bin()
            .args(["--format", "json", "sniff"])
            .arg(repo("tests/fixtures/erp/yonyou/u8_vouchers_gbk.txt"))
            .output()
            .unwrap(),
    );
    assert_eq!(u8["adapter"], "yonyou");
}

/// The bad ERP inputs of tests/fixtures/erp/bad (see its expected.yaml): an unbalanced
/// voucher is quarantined whole with its reason, a customer cell naming no customer
/// quarantines its lines, revenue without a customer is counted in a warning, a truncated
/// or encrypted workbook is refused with nothing imported; rows in = stored + quarantined.
#[test]
fn bad_erp_inputs_are_refused_or_quarantined_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo("tests/fixtures/erp/bad"), &dir.path().join("data"));
    std::fs::write(
        dir.path().join("ledgerlens.yaml"),
        r#"database: db
sources:
  - name: k3
    adapter: kingdee
    files: "data/*.csv"
    record: voucher-line
  - name: book
    adapter: kingdee
    files: "data/*.xlsx"
    record: voucher-line
"#,
    )
    .unwrap();
    let p = dir.path();
    let codes = |report: &serde_json::Value, key: &str| -> Vec<(u64, String)> {
        report[key]
            .as_array()
            .unwrap_or_else(|| panic!("{report:#}"))
            .iter()
            .map(|d| {
                (
                    d["row"].as_u64().unwrap_or(0),
                    d["code"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let counts_add_up = |r: &serde_json::Value| {
        assert_eq!(
            r["rows_read"].as_u64().unwrap(),
            r["rows_stored"].as_u64().unwrap() + r["rows_quarantined"].as_u64().unwrap(),
            "{r:#}"
        );
    };

    // 记-1 (data rows 1-3: file rows 2-4) debits 11,300 against credits 11,200.
    let r = json(&run(
        p,
        &["--format", "json", "ingest", "data/unbalanced.csv"],
    ))["files"][0]
        .take();
    counts_add_up(&r);
    assert_eq!(
        (r["rows_read"].as_u64(), r["rows_quarantined"].as_u64()),
        (Some(11), Some(4)),
        "{r:#}"
    );
    let quarantined = codes(&r, "quarantined");
    for row in 2..=4 {
        assert!(
            quarantined.contains(&(row, "validate.unbalanced_voucher".into())),
            "{quarantined:?}"
        );
    }
    assert!(
        quarantined.contains(&(12, "kingdee.totals_row".into())),
        "{quarantined:?}"
    );
    let message = r["quarantined"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("debits 11300.00, credits 11200.00"),
        "{message}"
    );

    // 客户--- (file rows 5-6) names no customer: those lines are quarantined, and with
    // them the rest of their voucher, which no longer balances; 客户---C009 is a customer
    // without a name; a 供应商 item on revenue lines is a warning with counts per account.
    let r = json(&run(
        p,
        &["--format", "json", "ingest", "data/bad_customer_cell.csv"],
    ))["files"][0]
        .take();
    counts_add_up(&r);
    assert_eq!(
        (r["rows_read"].as_u64(), r["rows_stored"].as_u64()),
        (Some(13), Some(9)),
        "{r:#}"
    );
    let quarantined = codes(&r, "quarantined");
    assert!(
        quarantined.contains(&(5, "adapter.bad_customer_cell".into())),
        "{quarantined:?}"
    );
    assert!(
        quarantined.contains(&(6, "adapter.bad_customer_cell".into())),
        "{quarantined:?}"
    );
    assert!(
        quarantined.contains(&(7, "validate.unbalanced_voucher".into())),
        "{quarantined:?}"
    );
    let bad_cell = r["quarantined"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "adapter.bad_customer_cell")
        .unwrap();
    assert_eq!(bad_cell["column"], "核算项目", "{bad_cell:#}");
    let warnings: Vec<String> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap().to_string())
        .filter(|m| m.contains("without a customer"))
        .collect();
    assert_eq!(warnings.len(), 2, "1122 and 6001: {warnings:?}");
    assert!(
        warnings.iter().all(|m| m.starts_with("1 line(s)")),
        "{warnings:?}"
    );
    let c009 = json(&run(p, &["--format", "json", "customer", "k3:C009"]));
    assert_eq!(
        decimal(&c009["features"]["net_revenue"]),
        Decimal::new(3000, 0),
        "{c009:#}"
    );

    // Workbooks that cannot be read: exit 2, a reason, and nothing imported.
    let before = json(&run(p, &["--format", "json", "stats"]));
    for (file, reason) in [
        ("data/truncated.xlsx", "truncated"),
        ("data/encrypted.xlsx", "password"),
    ] {
        let o = run(p, &["ingest", file]);
        assert_eq!(o.status.code(), Some(2), "{file}");
        let err = stderr(&o);
        assert!(err.contains(file) && err.contains(reason), "{file}: {err}");
    }
    assert_eq!(json(&run(p, &["--format", "json", "stats"])), before);
}

// --- JSON Lines and exec sources ---

/// The exec-source example: `ingest` runs the source's program, imports what it prints
/// (exact decimals), reads the jsonl file beside it, and a re-run is a duplicate import.
#[test]
fn exec_source_example_runs_its_program_once() {
    let dir = project("examples/exec-source");
    let p = dir.path();
    let first = json(&run(p, &["ingest", "--format", "json"]));
    let files: Vec<&str> = first["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["exec:shop", "data/refunds.jsonl"]);
    assert_eq!(first["rows_read"], 8);
    assert_eq!(first["rows_quarantined"], 0);
    assert_eq!(first["files"][0]["customers_new"], 2);
    let s001 = json(&run(p, &["customer", "shop:S001", "--format", "json"]));
    let features = &s001["features"];
    assert_eq!(decimal(&features["revenue"]), "1300.00".parse().unwrap());
    assert_eq!(
        decimal(&features["net_revenue"]),
        "1299.70".parse().unwrap()
    );
    let stats = json(&run(p, &["stats", "--format", "json"]));
    let again = json(&run(p, &["ingest", "--source", "shop", "--format", "json"]));
    assert_eq!(again["files"][0]["already_imported"], true);
    assert_eq!(json(&run(p, &["stats", "--format", "json"])), stats);
}

/// A program that fails, or prints garbage after good records, imports nothing, and the
/// error names the source and the command.
#[test]
fn exec_source_failures_import_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("ledgerlens.yaml"),
        "sources:\n  - name: feed\n    adapter: exec\n    record: customer\n    command: [sh, -c, \"printf '%s\\\\n' '{\\\"code\\\": \\\"C1\\\"}' 'Traceback: boom'\"]\n  - name: broken\n    adapter: exec\n    record: customer\n    command: [sh, -c, \"echo 'token expired' >&2; exit 3\"]\n",
    )
    .unwrap();
    let o = run(p, &["ingest", "--source", "feed"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("source 'feed': command `sh -c printf"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 2: adapter.bad_json") && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    let o = run(p, &["ingest", "--source", "broken"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("exited with status 3") && stderr.contains("token expired"),
        "{stderr}"
    );
    let stats = json(&run(p, &["stats", "--format", "json"]));
    assert_eq!(stats["imports"], 0, "{stats:#}");
    assert_eq!(stats["customers"], 0, "{stats:#}");
}

/// `sniff` tells JSON Lines from its first line and previews records with their problems.
#[test]
fn sniff_tells_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.txt");
    std::fs::write(
        &file,
        "{\"record\": \"spend\", \"date\": \"2024-03-01\", \"channel\": \"微信\", \"amount\": 300}\n{\"record\": \"spend\", \"date\": \"2024-03-02\", \"amount\": 1}\n",
    )
    .unwrap();
    let found = json(
        &bin()
            .args(["--format", "json", "sniff"])
            .arg(&file)
            .output()
            .unwrap(),
    );
    assert_eq!(found["adapter"], "jsonl");
    assert_eq!(found["format"], "JSON Lines");
    assert!(found["source"].as_str().unwrap().contains("record: spend"));
    assert!(found["preview"][0]["record"]
        .as_str()
        .unwrap()
        .contains("微信"));
    assert!(found["preview"][1]["problem"]
        .as_str()
        .unwrap()
        .contains("adapter.missing_value"));
}

/// `customers duplicates`, `merge`, the listings following the merge, `unmerge`.
#[test]
fn identity_decisions_merge_and_unmerge_customers() {
    let dir = project("tests/fixtures/mini");
    let p = dir.path();
    // A second CRM record for the first customer (same mobile, another company form),
    // and a shop member spelled with its region in brackets: neither is merged at import.
    let crm = p.join("data/crm.csv");
    let mut text = std::fs::read_to_string(&crm).unwrap();
    text.push_str("C003,杭州星河贸易股份有限公司,+86 138-0013-8000,展会活动,华东\n");
    std::fs::write(&crm, text).unwrap();
    std::fs::write(
        p.join("data/orders2.csv"),
        "日期,会员,姓名,类型,金额,单号\n2024-03-15,M9,星河贸易（杭州）有限公司,销售,200,A9\n",
    )
    .unwrap();
    assert!(run(p, &["ingest"]).status.success());
    let revenue_of = |id: &str| {
        let all = json(&run(p, &["customers", "--format", "json"]));
        all.as_array()
            .unwrap()
            .iter()
            .find(|c| c["customer"] == id)
            .map(|c| decimal(&c["revenue"]))
    };
    assert_eq!(revenue_of("crm:C001"), Some(Decimal::from(1500)));
    assert_eq!(revenue_of("shop:M9"), Some(Decimal::from(200)));
    let settings = settings!(p);
    settings.bind(|| {
        let at = || {
            let mut cmd = bin();
            cmd.current_dir(p);
            cmd
        };
        assert_cmd_snapshot!(
            "identity_duplicates",
            at().args(["customers", "duplicates"])
        );
        assert_cmd_snapshot!(
            "identity_merge",
            at().args([
                "customers",
                "merge",
                "crm:C001",
                "shop:M9",
                "--reason",
                "same company (region in brackets)"
            ])
        );
        assert_cmd_snapshot!(
            "identity_merged_customer",
            at().args(["customer", "shop:M9"])
        );
        assert_cmd_snapshot!("identity_merged_customers", at().arg("customers"));
        assert_cmd_snapshot!(
            "identity_duplicates_after_merge",
            at().args(["customers", "duplicates", "--format", "csv"])
        );
    });
    assert_eq!(revenue_of("crm:C001"), Some(Decimal::from(1700)));
    assert_eq!(revenue_of("shop:M9"), None);
    let features = json(&run(p, &["features", "--format", "json"]));
    assert_eq!(decimal(&features["revenue"]), Decimal::from(1730));
    assert_eq!(features["customers"], 4);
    // Rules follow the merge: one customer fewer, its revenue in the run.
    let run_json = json(&run(p, &["run", "--format", "json"]));
    let rows = run_json["customers"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{run_json}");
    let explained = stdout(&run(p, &["explain", "crm:C001"]));
    assert!(explained.contains("data/orders2.csv"), "{explained}");

    // Clear refusals, exit 2, nothing recorded.
    for (args, message) in [
        (
            &["customers", "merge", "crm:C001", "crm:C001"][..],
            "into itself",
        ),
        (
            &["customers", "merge", "crm:C001", "crm:C999"][..],
            "no customer 'crm:C999'",
        ),
        (
            &["customers", "merge", "shop:M9", "crm:C002"][..],
            "merge into 'crm:C001' instead",
        ),
        (&["customers", "unmerge", "crm:C002"][..], "is not merged"),
        (
            &["customers", "merge", "crm:C002", "shop:M1"][..],
            "'shop:M1' is a source code of customer 'crm:",
        ),
    ] {
        let o = run(p, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }

    assert!(run(p, &["customers", "distinct", "crm:C003", "crm:C001"])
        .status
        .success());
    let left = json(&run(p, &["customers", "duplicates", "--format", "json"]));
    assert_eq!(left, serde_json::json!([]));
    let unmerged = run(p, &["customers", "unmerge", "shop:M9"]);
    assert_eq!(stdout(&unmerged), "unmerged shop:M9 (decision 3)\n");
    assert_eq!(revenue_of("crm:C001"), Some(Decimal::from(1500)));
    assert_eq!(revenue_of("shop:M9"), Some(Decimal::from(200)));
    settings.bind(|| {
        assert_cmd_snapshot!(
            "identity_decisions",
            bin().current_dir(p).args(["customers", "decisions"])
        );
    });
}

// --- Predictive customer value ---

/// `clv fit` on the CDNOW sample as ingested (2,357 customers, calibration to 1997-09-30)
/// reproduces the published BG/NBD, Pareto/NBD and Gamma-Gamma estimates, and `clv
/// holdout` compares predicted and actual purchases of the 39 weeks after, by frequency.
#[test]
fn clv_fits_reproduce_the_published_cdnow_values() {
    // The published parameters (Fader, Hardie and Lee 2005).
    const BG_NBD: [(&str, f64); 4] = [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)];
    const GAMMA_GAMMA: [(&str, f64); 3] = [("p", 6.25), ("q", 3.74), ("gamma", 15.44)];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("data")).unwrap();
    std::fs::copy(
        repo("examples/cdnow/data/CDNOW_sample.txt"),
        p.join("data/CDNOW_sample.txt"),
    )
    .unwrap();
    std::fs::write(
        p.join("ledgerlens.yaml"),
        "database: db
sources:
  - name: sample
    files: data/CDNOW_sample.txt
    record: transaction
    kind: sale
    currency: USD
    delimiter: whitespace
    header: absent
    system: cdnow
    columns: { customer: 2, date: 3, quantity: 4, amount: 5 }
",
    )
    .unwrap();
    assert!(run(p, &["ingest"]).status.success());
    let fit_with = |model: &str, extra: &[&str]| {
        let mut args = vec![
            "--format",
            "json",
            "clv",
            "fit",
            "--model",
            model,
            "--calibration-end",
            "1997-09-30",
        ];
        args.extend_from_slice(extra);
        let o = run(p, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        json(&o)
    };
    let fit = |model: &str| fit_with(model, &[]);
    // `clv score` calibrated on the literature's 39 weeks, over `periods` weeks.
    let score = |periods: &str, extra: &[&str]| {
        let mut args = vec![
            "--format",
            "json",
            "clv",
            "score",
            "--calibration-end",
            "1997-09-30",
            "--periods",
            periods,
        ];
        args.extend_from_slice(extra);
        let o = run(p, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        json(&o)
    };
    let param = |fit: &serde_json::Value, name: &str| -> f64 {
        fit["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["value"].as_f64())
            .unwrap_or_else(|| panic!("{name}: {fit:#}"))
    };
    let close = |got: f64, want: f64, places: i32| {
        let step = 10f64.powi(-places);
        assert!(
            (got - want).abs() <= step / 2.0,
            "{got} vs published {want}"
        );
    };
    let bg = fit("bgnbd");
    assert_eq!(bg["customers"], 2357.0);
    for (name, want) in BG_NBD {
        close(param(&bg, name), want, 3);
    }
    close(bg["log_likelihood"].as_f64().unwrap(), -9582.4, 1);
    let pareto = fit("paretonbd");
    for (name, want) in [
        ("r", 0.553),
        ("alpha", 10.578),
        ("s", 0.606),
        ("beta", 11.669),
    ] {
        close(param(&pareto, name), want, 3);
    }
    close(pareto["log_likelihood"].as_f64().unwrap(), -9595.0, 1);
    // In days: the same fit (fitted in weeks), α and β per day; at once, where fitting in
    // days took minutes.
    let days = fit_with("paretonbd", &["--unit", "day"]);
    assert_eq!(days["unit"], "day");
    for (name, factor) in [("r", 1.0), ("alpha", 7.0), ("s", 1.0), ("beta", 7.0)] {
        let (d, w) = (param(&days, name), param(&pareto, name) * factor);
        assert!((d / w - 1.0).abs() < 1e-6, "{name}: {d} vs {w}");
    }
    let gg = fit("gammagamma");
    assert_eq!(gg["customers"], 946.0);
    for (name, want) in GAMMA_GAMMA {
        close(param(&gg, name), want, 2);
    }

    let o = run(
        p,
        &[
            "--format",
            "json",
            "clv",
            "holdout",
            "--calibration-end",
            "1997-09-30",
            "--holdout-end",
            "1998-06-30",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json(&o);
    let rows = rows.as_array().unwrap();
    let groups: Vec<&str> = rows
        .iter()
        .map(|r| r["frequency"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["0", "1", "2", "3", "4", "5", "6", "7+"]);
    let customers: u64 = rows.iter().map(|r| r["customers"].as_u64().unwrap()).sum();
    assert_eq!(customers, 2357);
    // More past purchases, more future ones: in the data and in the model.
    for pair in rows.windows(2) {
        assert!(
            pair[1]["predicted"].as_f64() > pair[0]["predicted"].as_f64(),
            "{pair:?}"
        );
    }
    // The published worked example: customer 0001 (x = 2, t_x = 30.43, T = 38.86) is
    // expected to make 1.226 purchases in the next 39 weeks.
    let scores = score("39", &[]);
    let scores = scores.as_array().unwrap();
    assert_eq!(scores.len(), 2357);
    assert_eq!(scores[0]["customer"], "cdnow:0001");
    assert_eq!(scores[0]["frequency"], 2);
    close(scores[0]["expected_purchases"].as_f64().unwrap(), 1.226, 3);
    assert!(scores
        .iter()
        .all(|s| s["clv"].as_f64().is_some_and(|v| v >= 0.0)
            && s["p_alive"]
                .as_f64()
                .is_some_and(|p| (0.0..=1.0).contains(&p))));
    let o = run(
        p,
        &[
            "clv",
            "holdout",
            "--model",
            "gammagamma",
            "--calibration-end",
            "1997-09-30",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("purchase counts"), "{}", stderr(&o));

    // The same fits as a rule pack's model: a client pack that extends the standard one and
    // calibrates on the literature's 39 weeks reproduces the published parameters, and its
    // per-customer predictions are those of `clv score` with the same horizon.
    std::fs::create_dir_all(p.join("rules")).unwrap();
    std::fs::write(
        p.join("rules/pack.yaml"),
        "name: cdnow-check\nextends: standard\n",
    )
    .unwrap();
    std::fs::write(
        p.join("rules/model.yaml"),
        "model: clv_model
fit: bgnbd
spend: gammagamma
calibration_end: 1997-09-30
horizon: 12m
monthly_discount: 0.01
---
kpi: p_alive_of
per: customer
value: p_alive
---
kpi: expected_purchases_of
per: customer
value: expected_purchases
---
kpi: expected_spend_of
per: customer
value: expected_spend
",
    )
    .unwrap();
    let o = run(p, &["--format", "json", "run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json(&o);
    let model = &doc["model"];
    assert_eq!(model["rule"], "clv_model");
    assert_eq!(model["calibration_end"], "1997-09-30");
    assert_eq!(model["customers"], 2357);
    assert_eq!(model["spend_model"], "gammagamma");
    assert_eq!(model["spend_customers"], 946);
    let number = |v: &serde_json::Value| -> f64 {
        v.as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a decimal: {v}"))
    };
    for (name, want) in BG_NBD {
        close(number(&model["parameters"][name]), want, 3);
    }
    close(number(&model["log_likelihood"]), -9582.4, 1);
    for (name, want) in GAMMA_GAMMA {
        close(number(&model["spend_parameters"][name]), want, 2);
    }
    let customers = doc["customers"].as_array().unwrap();
    assert_eq!(customers[0]["id"], "cdnow:0001");
    // 12 months of 30.4375 days, in weeks.
    let scores = score(
        "52.178571428571",
        &["--months", "12", "--discount-rate", "0.01"],
    );
    let scores = scores.as_array().unwrap();
    // Both sorted by customer id; every customer's predictions agree (the pack summarizes
    // purchases partition by partition, `clv score` over the whole store).
    assert_eq!(scores.len(), customers.len());
    // The summaries equal the published summary file (x, and t_x, T rounded to 0.01 week).
    let published =
        std::fs::read_to_string(repo("examples/cdnow/data/cdnow_customers_summary.csv")).unwrap();
    for ((line, score), customer) in published.lines().skip(1).zip(scores).zip(customers) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(
            score["customer"],
            format!("cdnow:{:04}", f[0].parse::<u32>().unwrap())
        );
        assert_eq!(customer["id"], score["customer"]);
        assert_eq!(
            score["frequency"].as_u64().unwrap().to_string(),
            f[1],
            "{line}"
        );
        for (key, want) in [("recency", f[2]), ("age", f[3])] {
            let got = score[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key}: {score}"));
            let want: f64 = want.parse().unwrap();
            assert!((got - want).abs() <= 0.005 + 1e-9, "{line}: {key} {got}");
        }
        for (column, of, places) in [
            ("p_alive_of", "p_alive", 4),
            ("expected_purchases_of", "expected_purchases", 4),
            ("expected_spend_of", "expected_spend", 2),
            ("predicted_clv", "clv", 2),
        ] {
            let want = score[of].as_f64().unwrap();
            let got = number(&customer[column]);
            assert!(
                (got - want).abs() <= 10f64.powi(-places) / 2.0 + 1e-9,
                "{}: {column}: {got} vs clv score {want}",
                score["customer"]
            );
        }
    }
    // Customers without a purchase by the calibration end: none here (every CDNOW
    // customer's first purchase is in the first quarter of 1997).
    let rows = doc["customers"].as_array().unwrap();
    assert!(rows.iter().all(|r| !r["predicted_clv"].is_null()));
}

// ---------------------------------------------------------------------------------------
// The HTML report.

#[test]
fn report_on_the_demo_company_is_self_contained() {
    let (_tmp, p) = demo_project();
    // The demo wrote its report into the kept project.
    let demo = std::fs::read_to_string(p.join("ledgerlens-report.html")).unwrap();
    assert!(demo.contains("星河优选 (demo)"));

    let o = at(&p, &["report", "--out", "out/report.html"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out/report.html\n");
    let html = std::fs::read_to_string(p.join("out/report.html")).unwrap();
    assert!(html.len() < 3_000_000, "{} bytes", html.len());
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Self-contained: no scripts, no resource or link leaves the file.
    assert!(!html.contains("<script"));
    for attr in ["src=\"", "href=\"", "src='", "href='"] {
        for (i, _) in html.match_indices(attr) {
            let value = &html[i + attr.len()..];
            assert!(
                !(value.starts_with("http://")
                    || value.starts_with("https://")
                    || value.starts_with("//")),
                "{attr}{}",
                &value[..value.len().min(60)]
            );
        }
    }
    // Every chart section draws an SVG.
    let mut charts = Vec::new();
    for part in html.split("<section id=\"").skip(1) {
        let (id, rest) = part.split_once('"').unwrap();
        let body = rest.split("</section>").next().unwrap();
        if body.starts_with(" class=\"chart\"") {
            assert!(body.contains("<svg"), "section {id} has no chart");
            charts.push(id);
        }
    }
    for id in REPORT_CHARTS {
        assert!(charts.contains(&id), "{id} not among {charts:?}");
    }
    // The header, and worked examples of the demo company: the channel ROI of the year-end
    // campaign on WeChat ads (40,000 / 10,000 = 4.0), the whale curve's peak (the
    // standard pack's whale_curve KPI gives the same figure), the spend overrun of
    // 微信广告 in 2025-Q3 (+14.0%) and the 9 quarantined rows.
    assert!(html.contains("data as of <b>2025-12-31</b>"));
    assert!(html.contains("<b>9 rows quarantined</b>"));
    assert!(html.contains("<title>2025年终品鉴季 · 微信广告: 4.00</title>"));
    assert!(html.contains("peak 18,443,425.75"));
    assert!(html.contains("<title>微信广告 · 2025-Q3: +14.0%</title>"));
    // Top and bottom customers link to their sections.
    for n in 1..=20 {
        assert!(html.contains(&format!("href=\"#c{n}\"")), "link {n}");
        assert!(html.contains(&format!("<section class=\"customer\" id=\"c{n}\">")));
    }
    assert!(html.contains("crm:CRM00049"));
    // Each listed customer's section says why it has each segment label (the explain
    // trace): the top customer is high-value because that rule held, the ones before it
    // did not, and the inputs they read are shown.
    for section in html.split("<section class=\"customer\"").skip(1) {
        let section = section.split("</section>").next().unwrap();
        assert!(section.contains("<details class=\"trace\">"), "{section}");
        assert!(section.contains("<p><b>lifecycle</b> = "), "{section}");
    }
    let first = html
        .split("<section class=\"customer\" id=\"c1\">")
        .nth(1)
        .unwrap()
        .split("</section>")
        .next()
        .unwrap();
    assert!(
        first.contains("<p><b>lifecycle</b> = high-value"),
        "{first}"
    );
    assert!(
        first.contains("<li><code>recency_days &gt; params.churn_days -&gt; churned</code> =&gt; did not hold<br><span class=\"muted\">inputs: params.churn_days = 180, recency_days = "),
        "{first}"
    );
    // The same data renders the same bytes; the default file is in the project folder.
    let o = at(&p, &["report"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).ends_with("ledgerlens-report.html\n"));
    let again = std::fs::read_to_string(p.join("ledgerlens-report.html")).unwrap();
    assert_eq!(again, html);
}

/// The number just before `suffix` in a report (`2200` of `2200 customers</p>`).
fn number_before(html: &str, suffix: &str) -> u64 {
    let at = html
        .find(suffix)
        .unwrap_or_else(|| panic!("no {suffix:?} in the report"));
    let digits: String = html[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().unwrap()
}

#[test]
fn report_draws_the_kept_digest_until_what_it_was_computed_from_changes() {
    let (_tmp, p) = demo_project();
    // The report written to `out`, and whether it was drawn from the digest kept by an
    // earlier run (`-v` logs it).
    let report = |args: &[&str], out: &str| -> (String, bool) {
        let mut all = vec!["-v", "report", "--out", out];
        all.extend_from_slice(args);
        let o = at(&p, &all).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let kept = stderr(&o).contains("report drawn from the digest of an earlier run");
        (std::fs::read_to_string(p.join(out)).unwrap(), kept)
    };
    // The demo keeps no digest: the first report runs the pack and keeps one, the next
    // draws it, byte for byte the same.
    let (fresh, kept) = report(&[], "fresh.html");
    assert!(!kept);
    let (again, kept) = report(&[], "again.html");
    assert!(kept);
    assert_eq!(again, fresh);
    let customers = number_before(&fresh, " customers</p>");
    let imports = number_before(&fresh, " imports · ");
    assert!(customers > 2_000, "{customers}");

    // A new import (one more customer): the report runs again and shows it.
    std::fs::write(
        p.join("data/more_crm.csv"),
        "客户编号,客户名称,手机,统一社会信用代码,获客渠道,区域,注册日期,信用额度,标签,获客活动\nCRM09999,新来的测试有限公司,,,展会活动,华东,2025/12/1,,,\n",
    )
    .unwrap();
    let o = at(&p, &["ingest", "data/more_crm.csv", "--source", "crm"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let (imported, kept) = report(&[], "imported.html");
    assert!(!kept);
    assert_eq!(number_before(&imported, " imports · "), imports + 1);
    assert_eq!(number_before(&imported, " customers</p>"), customers + 1);
    // `run` keeps the digest too: the report after it is drawn from it, and is the
    // report of a fresh run byte for byte.
    let o = at(&p, &["run"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let (after_run, kept) = report(&[], "after-run.html");
    assert!(kept);
    assert_eq!(after_run, imported);

    // A manual merge: one customer fewer.
    let o = at(&p, &["customers", "merge", "crm:CRM00001", "crm:CRM00002"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let (merged, kept) = report(&[], "merged.html");
    assert!(!kept);
    assert_eq!(number_before(&merged, " customers</p>"), customers);

    // A parameter the client pack overrides: the traces show the new value.
    assert!(merged.contains("params.churn_days = 180"));
    let pack = p.join("rules/pack.yaml");
    let text = std::fs::read_to_string(&pack).unwrap();
    std::fs::write(
        &pack,
        text.replace("params: {}", "params: { churn_days: 30 }"),
    )
    .unwrap();
    let (overridden, kept) = report(&[], "overridden.html");
    assert!(!kept);
    assert!(overridden.contains("params.churn_days = 30"));
    assert!(!overridden.contains("params.churn_days = 180"));
    let (_, kept) = report(&[], "overridden-again.html");
    assert!(kept);

    // Another as-of date.
    let (earlier, kept) = report(&["--as-of", "2025-06-30"], "earlier.html");
    assert!(!kept);
    assert!(earlier.contains("data as of <b>2025-06-30</b>"));
}

// ---------------------------------------------------------------------------------------
// The HTML report in a real browser.

/// Debian's chromium (`LEDGERLENS_CHROMIUM` names another), if installed.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LEDGERLENS_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Runs headless chromium on `page` with `args`, stdout and stderr into files in `dir`
/// (a page's DOM is larger than a pipe holds); returns (stdout, stderr).
fn headless(
    chromium: &Path,
    dir: &Path,
    name: &str,
    args: &[&str],
    page: &Path,
) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let (out, err) = (
        dir.join(format!("{name}.out")),
        dir.join(format!("{name}.err")),
    );
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} did not finish in 90 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let (out, err) = (
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(err).unwrap(),
    );
    assert!(status.success(), "chromium {args:?}: {status}\n{err}");
    (out, err)
}

/// The demo's report, opened in headless Chromium as a reader would: every chart section
/// is an SVG with drawn shapes in the browser's DOM, the browser logged no console message
/// (the report has no scripts: any message is an error, such as an SVG attribute it could
/// not parse), and a screenshot is saved into target/tmp/report-demo.png. Without
/// chromium the test is skipped, except under CI, where chromium is part of the setup
/// (`.ci/run` installs it).
#[test]
fn report_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but /usr/bin/chromium is missing: .ci/run installs it (apt-get install chromium fonts-noto-cjk)"
        );
        eprintln!("skipped: no chromium (/usr/bin/chromium); install it with `apt-get install chromium fonts-noto-cjk`, or set LEDGERLENS_CHROMIUM");
        return;
    };
    let (_tmp, p) = demo_project();
    let page = p.join("ledgerlens-report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-demo");
    std::fs::create_dir_all(&out).unwrap();

    let (dom, log) = headless(&chromium, &out, "dom", &["--dump-dom"], &page);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    assert!(dom.contains("星河优选 (demo)"), "the DOM is not the report");
    // Every SVG of the file is in the DOM, and every chart section has one with shapes.
    assert_eq!(dom.matches("<svg").count(), html.matches("<svg").count());
    let mut charts = Vec::new();
    for part in dom.split("<section id=\"").skip(1) {
        let (id, rest) = part.split_once('"').unwrap();
        if !rest.starts_with(" class=\"chart\"") {
            continue;
        }
        let body = rest.split("</section>").next().unwrap();
        let svgs: Vec<&str> = body.split("<svg").skip(1).collect();
        assert!(!svgs.is_empty(), "chart {id} has no SVG");
        for svg in svgs {
            let svg = svg.split("</svg>").next().unwrap();
            let shapes = [
                "<rect",
                "<path",
                "<line",
                "<polyline",
                "<circle",
                "<polygon",
            ]
            .iter()
            .map(|s| svg.matches(s).count())
            .sum::<usize>();
            assert!(shapes > 0, "an SVG of chart {id} draws nothing");
        }
        charts.push(id);
    }
    for id in REPORT_CHARTS {
        assert!(charts.contains(&id), "chart {id} not among {charts:?}");
    }

    let shot = out.join("report-demo.png");
    let _ = std::fs::remove_file(&shot);
    let (_, log) = headless(
        &chromium,
        &out,
        "screenshot",
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,3200",
            "--hide-scrollbars",
        ],
        &page,
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        shot.display()
    );
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 3200), "screenshot size");
    assert!(
        png.len() > 50_000,
        "a blank screenshot? {} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}
