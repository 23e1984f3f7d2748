//! `snapshot`: the rule outputs as insta snapshot files, and `snapshot --check`.
//!
//! One file per table of the run's result (the objects of `run --format json`):
//! `segments.snap`, `kpis.snap`, `alerts.snap`, `diagnostics.snap` and `customers.snap`
//! (id, segment labels and per-customer KPIs, by id). Each is in insta's file format, a
//! YAML header then the body:
//!
//! ```text
//! ---
//! source: ledgerlens
//! expression: kpis
//! ---
//! - group: {}
//!   name: avg_order_value_all
//!   unit: money
//!   value: '10041.7'
//! ```
//!
//! The body is YAML with keys sorted and decimals as strings, so numbers are exact and
//! files diff line by line. Absolute paths (project, pack, database, working folder) are
//! redacted; the outcome holds no timings or run ids.
//!
//! `--check` compares instead of writing: a table that differs or has no file gets its
//! new version in `<name>.snap.new` (insta's pending file, which `cargo insta review`
//! picks up inside a Cargo package) and a unified line diff on the output. As in insta,
//! bodies are compared with trailing whitespace trimmed and CRLF read as LF.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Value};

use crate::app::{data_as_of, Context};
use crate::output::{Format, Listing};

/// The tables snapshotted, in the order they are reported.
pub const TABLES: [&str; 5] = ["segments", "kpis", "alerts", "diagnostics", "customers"];

/// The snapshot folder inside a project when `--dir` is not given.
pub const DEFAULT_DIR: &str = "snapshots";

/// Diff lines printed per snapshot; the whole new version is in its `.snap.new` file.
const MAX_DIFF_LINES: usize = 400;

/// Options of `snapshot`.
pub struct Options<'a> {
    pub pack: Option<&'a Path>,
    pub as_of: Option<NaiveDate>,
    pub dir: Option<&'a Path>,
    pub check: bool,
}

/// What happened to one snapshot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Written: there was no file.
    Created,
    /// Written over a file whose body differed.
    Changed,
    /// The file already held this body; left as it was.
    Unchanged,
    /// `--check`: the file holds this body.
    Matches,
    /// `--check`: the file's body differs (the new version is in `.snap.new`).
    Differs,
    /// `--check`: there is no file (the new version is in `.snap.new`).
    Missing,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Changed => "changed",
            Status::Unchanged => "unchanged",
            Status::Matches => "matches",
            Status::Differs => "differs",
            Status::Missing => "missing",
        }
    }

    /// Whether `--check` fails on it.
    fn fails(self) -> bool {
        matches!(self, Status::Differs | Status::Missing)
    }
}

#[derive(Debug, Serialize)]
struct Report {
    name: &'static str,
    file: String,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
}

/// `snapshot`: writes (or with `check`, compares) the snapshot files; returns whether a
/// checked snapshot differs or is missing.
pub fn snapshot(
    out: &mut dyn Write,
    format: Format,
    ctx: &Context,
    opts: &Options<'_>,
) -> anyhow::Result<bool> {
    let dir = match (opts.dir, &ctx.project) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some((project, _))) => project.join(DEFAULT_DIR),
        (None, None) => anyhow::bail!("no project to keep the snapshots in: pass --dir DIR"),
    };
    let program = crate::rules::load(Some(ctx), opts.pack)?;
    let store = ledgerlens_store::Store::open(&ctx.db, &ledgerlens_store::OpenOptions::existing())?;
    let as_of = match opts.as_of {
        Some(d) => d,
        None => data_as_of(&store)?,
    };
    let (outcome, _) =
        ledgerlens_pipeline::run_pack(&store, &program, as_of, ledgerlens_rules::Keep::Outputs)?;
    let mut document = crate::rules::document(&program, &outcome);
    let mut roots: Vec<(&Path, &str)> = vec![(&ctx.db, "[DB]"), (&dir, "[SNAPSHOTS]")];
    if let Some((project, _)) = &ctx.project {
        roots.push((project, "[PROJECT]"));
    }
    if let Some(pack) = opts.pack {
        roots.push((pack, "[PACK]"));
    }
    let cwd = std::env::current_dir().ok();
    if let Some(cwd) = &cwd {
        roots.push((cwd, "[CWD]"));
    }
    redact(&mut document, &path_redactions(&roots));

    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut reports = Vec::new();
    for name in TABLES {
        let text = render(name, &document[name])?;
        reports.push(settle(&dir, name, &text, opts.check)?);
    }
    write_reports(out, format, &dir, &program, &outcome, &reports, opts.check)?;
    Ok(reports.iter().any(|r| r.status.fails()))
}

/// A snapshot file's text: insta's header, then the body as YAML.
fn render(name: &str, body: &Value) -> anyhow::Result<String> {
    let yaml = serde_yaml::to_string(body)?;
    Ok(format!(
        "---\nsource: ledgerlens\nexpression: {name}\n---\n{}\n",
        yaml.trim_end()
    ))
}

/// The body of a snapshot file, as insta compares it: after the header, trailing
/// whitespace trimmed, CRLF read as LF.
fn body_of(text: &str) -> String {
    let mut lines = text.split_inclusive('\n');
    let mut offset = 0;
    match lines.next() {
        Some(first) if first.trim_end() == "---" => {
            offset += first.len();
            for line in lines {
                offset += line.len();
                if line.trim_end() == "---" {
                    break;
                }
            }
        }
        // insta's legacy format: `key: value` lines up to an empty line.
        Some(first) => {
            offset += first.len();
            if !first.trim_end().is_empty() {
                for line in lines {
                    offset += line.len();
                    if line.trim_end().is_empty() {
                        break;
                    }
                }
            }
        }
        None => {}
    }
    text[offset..].trim_end().replace("\r\n", "\n")
}

/// Writes or checks one snapshot file.
fn settle(dir: &Path, name: &'static str, text: &str, check: bool) -> anyhow::Result<Report> {
    let file = format!("{name}.snap");
    let path = dir.join(&file);
    let pending = dir.join(format!("{name}.snap.new"));
    let old = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let same = old.as_deref().map(|o| body_of(o) == body_of(text));
    let write = |path: &PathBuf| {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    let (status, diff) = match (check, same) {
        (false, Some(true)) => (Status::Unchanged, None),
        (false, Some(false)) => {
            write(&path)?;
            (Status::Changed, None)
        }
        (false, None) => {
            write(&path)?;
            (Status::Created, None)
        }
        (true, Some(true)) => (Status::Matches, None),
        (true, Some(false)) => {
            write(&pending)?;
            let old = old.unwrap_or_default();
            (
                Status::Differs,
                Some(line_diff(&old, text, &file, &format!("{file}.new"))),
            )
        }
        (true, None) => {
            write(&pending)?;
            (Status::Missing, None)
        }
    };
    // A pending version is stale once the file holds the current body.
    if matches!(
        status,
        Status::Created | Status::Changed | Status::Unchanged | Status::Matches
    ) && pending.exists()
    {
        std::fs::remove_file(&pending)
            .with_context(|| format!("cannot remove {}", pending.display()))?;
    }
    Ok(Report {
        name,
        file,
        status,
        diff,
    })
}

/// A unified line diff (`---`/`+++` header, `@@` hunks with three lines of context),
/// cut after [`MAX_DIFF_LINES`] lines.
fn line_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let old = old.replace("\r\n", "\n");
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .timeout(std::time::Duration::from_secs(10))
        .diff_lines(old.as_str(), new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    let total = text.lines().count();
    if total <= MAX_DIFF_LINES {
        return text;
    }
    let mut cut: String = text
        .lines()
        .take(MAX_DIFF_LINES)
        .flat_map(|l| [l, "\n"])
        .collect();
    cut.push_str(&format!(
        "... {} more diff lines (the whole new version is in {new_name})\n",
        total - MAX_DIFF_LINES
    ));
    cut
}

/// Absolute forms of `roots` (as given and canonical), longest first, so that the most
/// specific root is replaced first.
fn path_redactions(roots: &[(&Path, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (path, tag) in roots {
        let forms = [std::path::absolute(path).ok(), path.canonicalize().ok()];
        for p in forms.into_iter().flatten() {
            let s = p.to_string_lossy().trim_end_matches('/').to_string();
            // `/` alone (or an empty path) would redact every separator.
            if s.len() > 1 && !out.iter().any(|(x, _)| *x == s) {
                out.push((s, tag.to_string()));
            }
        }
    }
    out.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Replaces the paths in every string of `v` by their tags.
fn redact(v: &mut Value, paths: &[(String, String)]) {
    match v {
        Value::String(s) => {
            for (path, tag) in paths {
                if s.contains(path.as_str()) {
                    *s = s.replace(path.as_str(), tag);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| redact(x, paths)),
        Value::Object(map) => map.values_mut().for_each(|x| redact(x, paths)),
        _ => {}
    }
}

fn write_reports(
    out: &mut dyn Write,
    format: Format,
    dir: &Path,
    program: &ledgerlens_rules::Program,
    outcome: &ledgerlens_rules::Outcome,
    reports: &[Report],
    check: bool,
) -> anyhow::Result<()> {
    match format {
        Format::Json | Format::Yaml => {
            let v = json!({
                "pack": {"name": program.name, "version": program.version, "chain": program.chain},
                "as_of": outcome.as_of,
                "dir": dir.display().to_string(),
                "snapshots": reports,
            });
            crate::output::object(out, format, &v)
        }
        Format::Csv => Listing::of(&["name", "file", "status"], reports)?.write(out, format),
        Format::Table => {
            writeln!(
                out,
                "pack {} version {} ({}), as of {}, {} customers; snapshots in {}",
                program.name,
                program.version,
                program.chain.join(" <- "),
                outcome.as_of,
                outcome.customers,
                dir.display()
            )?;
            for r in reports {
                match r.status {
                    Status::Differs | Status::Missing => writeln!(
                        out,
                        "{:<9}  {}  (new version in {}.new)",
                        r.status.name(),
                        r.file,
                        r.file
                    )?,
                    _ => writeln!(out, "{:<9}  {}", r.status.name(), r.file)?,
                }
                if let Some(diff) = &r.diff {
                    write!(out, "{diff}")?;
                }
            }
            let failed = reports.iter().filter(|r| r.status.fails()).count();
            if check && failed > 0 {
                writeln!(
                    out,
                    "{failed} of {} snapshots differ or are missing: review the .snap.new files, then accept them with `ledgerlens snapshot` (or `cargo insta review` inside a Cargo package)",
                    reports.len()
                )?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_in_insta_format_and_bodies_compare_like_insta() {
        let text = render("kpis", &json!([{"name": "x", "value": "0.30"}])).unwrap();
        assert_eq!(
            text,
            "---\nsource: ledgerlens\nexpression: kpis\n---\n- name: x\n  value: '0.30'\n"
        );
        assert_eq!(body_of(&text), "- name: x\n  value: '0.30'");
        // Trailing blank lines and CRLF do not make a difference; a changed value does.
        let crlf = text.replace('\n', "\r\n") + "\r\n\r\n";
        assert_eq!(body_of(&crlf), body_of(&text));
        assert_ne!(body_of(&text.replace("0.30", "0.3")), body_of(&text));
        // insta's legacy header (no `---` lines) ends at the first empty line.
        assert_eq!(body_of("Expression: kpis\nSource: x\n\n- a\n"), "- a");
    }

    #[test]
    fn diff_shows_changed_lines_with_context() {
        let old = "---\nh\n---\n- a\n- b\n- c\n";
        let new = "---\nh\n---\n- a\n- B\n- c\n";
        let d = line_diff(old, new, "x.snap", "x.snap.new");
        assert!(d.starts_with("--- x.snap\n+++ x.snap.new\n@@ "), "{d}");
        assert!(d.contains("\n-- b\n+- B\n"), "{d}");
        assert!(d.contains("\n - a\n"), "{d}");
        let long_old: String = (0..1000).map(|i| format!("{i}\n")).collect();
        let long_new: String = (0..1000).map(|i| format!("{}\n", i * 2)).collect();
        let d = line_diff(&long_old, &long_new, "a", "b");
        assert_eq!(d.lines().count(), MAX_DIFF_LINES + 1);
        assert!(d.ends_with("(the whole new version is in b)\n"), "{d}");
    }

    #[test]
    fn absolute_paths_are_redacted_most_specific_first() {
        let paths = path_redactions(&[
            (Path::new("/srv/acme"), "[PROJECT]"),
            (Path::new("/srv/acme/rules"), "[PACK]"),
            (Path::new("/"), "[ROOT]"),
        ]);
        let mut v = json!({"a": ["see /srv/acme/rules/x.yaml and /srv/acme/data"], "n": 1});
        redact(&mut v, &paths);
        assert_eq!(
            v,
            json!({"a": ["see [PACK]/x.yaml and [PROJECT]/data"], "n": 1})
        );
    }
}
