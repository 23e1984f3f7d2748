//! Loading packs: files, `extends` chains, overrides by name.
//!
//! A pack is a folder with `pack.yaml` and rule files (`*.yaml`, `*.yml`, in any
//! sub-folder) and Rhai scripts (`*.rhai`). Loading reads every file of the pack and of
//! the packs it extends, parses them, and merges them base first: a parameter, a rule or
//! a script of the same name in a later pack replaces the earlier one, and `remove:`
//! drops inherited rules. Nothing is compiled here (see [`crate::compile`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::error::{Error, Problem, Span};
use crate::spec::{PackFile, ParamSpec, RuleSpec};
use crate::value::{Type, Value};

/// The files of one pack, read into memory (from a folder, or embedded in the binary).
#[derive(Debug, Clone)]
pub struct PackSource {
    /// How files of this pack are named in messages (the folder name, or `standard`).
    pub label: String,
    /// The folder, when the pack lives in one (for `extends` by relative path).
    pub dir: Option<PathBuf>,
    /// Files by path relative to the pack's folder (`/`-separated), sorted.
    pub files: BTreeMap<String, String>,
}

impl PackSource {
    /// Reads a pack folder: `pack.yaml`, rule files and scripts.
    pub fn read_dir(dir: &Path) -> Result<PackSource, Error> {
        let io = |path: &Path, error| Error::Io {
            path: path.display().to_string(),
            error,
        };
        if !dir.join("pack.yaml").is_file() {
            return Err(io(
                &dir.join("pack.yaml"),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no pack.yaml: not a pack"),
            ));
        }
        let mut files = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
                let path = entry.map_err(|e| io(&d, e))?.path();
                let kind = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
                if kind.is_dir() {
                    // A folder with its own pack.yaml is another pack (one this pack may
                    // extend), not part of this one. Links to folders are not followed,
                    // so a link loop cannot make a pack endless.
                    if !path.join("pack.yaml").is_file() {
                        stack.push(path);
                    }
                    continue;
                }
                if kind.is_symlink() && path.is_dir() {
                    continue;
                }
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !matches!(ext, "yaml" | "yml" | "rhai") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
                let rel = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                files.insert(rel, text);
            }
        }
        let label = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "pack".into());
        Ok(PackSource {
            label,
            dir: Some(dir.to_path_buf()),
            files,
        })
    }

    /// A pack from files held in memory (the standard pack embedded in the binary).
    pub fn from_files<'a>(
        label: &str,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> PackSource {
        PackSource {
            label: label.to_string(),
            dir: None,
            files: files
                .into_iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
        }
    }
}

/// The kind of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A per-customer feature (declared or scripted).
    Feature,
    /// A segmentation.
    Segment,
    /// A cost allocation.
    Allocation,
    /// A KPI.
    Kpi,
    /// An alert.
    Alert,
    /// A predictive model (purchase counts and spend), fitted by the caller.
    Model,
}

impl Kind {
    /// The kind key of a rule file.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Feature => "feature",
            Kind::Segment => "segment",
            Kind::Allocation => "allocation",
            Kind::Kpi => "kpi",
            Kind::Alert => "alert",
            Kind::Model => "model",
        }
    }
}

/// A parameter after merging: its type, value and where its value was set.
#[derive(Debug, Clone)]
pub struct Param {
    /// Type.
    pub ty: Type,
    /// Value.
    pub value: Value,
    /// Meaning, from the pack that declared it.
    pub description: Option<String>,
    /// The pack that set the value.
    pub set_in: String,
}

/// One rule after merging.
#[derive(Debug, Clone)]
pub struct RuleDef {
    /// Name (unique across kinds).
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// The rule as written.
    pub spec: RuleSpec,
    /// The pack the rule comes from.
    pub pack: String,
    /// Where the rule starts (its kind key).
    pub span: Span,
    text: Arc<str>,
    offset: usize,
}

impl RuleDef {
    /// Where `needle` (a piece of the rule's text, such as an expression) sits in the
    /// rule's file: the first occurrence after the rule's start, else the rule's start.
    pub fn locate(&self, needle: &str) -> Span {
        let first_line = needle.lines().next().unwrap_or("").trim();
        if first_line.is_empty() {
            return self.span.clone();
        }
        // The first occurrence that is not in the rule's description (which may quote
        // the expression it explains).
        let rest = &self.text[self.offset..];
        rest.match_indices(first_line)
            .map(|(i, _)| self.offset + i)
            .find(|&at| owning_key(&self.text, at) != Some("description"))
            .map_or_else(
                || self.span.clone(),
                |at| span_at(&self.span.file, &self.text, at),
            )
    }
}

/// The rule's top-level key whose value holds the byte offset `at`: rule keys start at
/// the left margin, so it is the key of the nearest line at the margin, at or above the
/// offset (a block scalar's lines, a list's items are indented under theirs).
fn owning_key(text: &str, at: usize) -> Option<&str> {
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[..line_end]
        .lines()
        .rev()
        .find(|l| {
            let t = l.trim_end();
            !t.is_empty() && !t.starts_with(' ') && !t.starts_with('#') && !t.starts_with("---")
        })
        .and_then(|l| l.find(':').map(|i| l[..i].trim()))
}

/// A Rhai script file of a pack.
#[derive(Debug, Clone)]
pub struct Script {
    /// Its name (path relative to the pack).
    pub name: String,
    /// Where it is.
    pub span: Span,
    /// Its text.
    pub text: String,
}

/// A pack after loading and merging its `extends` chain.
#[derive(Debug, Clone)]
pub struct Pack {
    /// Name of the outermost pack.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its description.
    pub description: Option<String>,
    /// The chain of packs, base first (`standard`, `acme-retail`).
    pub chain: Vec<String>,
    /// Parameters by name.
    pub params: BTreeMap<String, Param>,
    /// Rules by name.
    pub rules: BTreeMap<String, RuleDef>,
    /// Scripts by name.
    pub scripts: BTreeMap<String, Script>,
}

/// Finds the packs a pack extends by name (`standard`).
pub trait Resolver {
    /// The pack named `name`, if known.
    fn named(&self, name: &str) -> Option<PackSource>;
}

/// A resolver that knows no pack by name.
impl Resolver for () {
    fn named(&self, _: &str) -> Option<PackSource> {
        None
    }
}

const MAX_CHAIN: usize = 8;

impl Pack {
    /// Loads a pack and the packs it extends (by name through `resolver`, or by a path
    /// relative to the extending pack's folder), and merges them. Every problem found is
    /// returned at once.
    pub fn load(source: PackSource, resolver: &dyn Resolver) -> Result<Pack, Error> {
        let mut problems = Vec::new();
        let mut chain: Vec<(PackSource, PackFile)> = Vec::new();
        let mut next = Some(source);
        while let Some(source) = next.take() {
            let Some(file) = parse_pack_file(&source, &mut problems) else {
                break;
            };
            if let Some(parent) = &file.extends {
                let span = locate_key(&source, "pack.yaml", "extends");
                if chain.len() + 1 >= MAX_CHAIN {
                    problems.push(span.problem(
                        None,
                        "rules.extends",
                        format!("more than {MAX_CHAIN} packs extend each other (a cycle?)"),
                    ));
                } else if chain.iter().any(|(_, f)| &f.name == parent) || file.name == *parent {
                    problems.push(span.problem(
                        None,
                        "rules.extends",
                        format!(
                            "pack {} extends {parent}, which is already in its chain",
                            file.name
                        ),
                    ));
                } else {
                    match resolve(&source, parent, resolver) {
                        Ok(p) => next = Some(p),
                        Err(message) => problems.push(span.problem(None, "rules.extends", message)),
                    }
                }
            }
            chain.push((source, file));
        }
        chain.reverse();
        let pack = merge(chain, &mut problems);
        if problems.is_empty() {
            Ok(pack)
        } else {
            problems.sort();
            problems.dedup();
            Err(Error::Pack(problems))
        }
    }
}

fn resolve(from: &PackSource, parent: &str, resolver: &dyn Resolver) -> Result<PackSource, String> {
    if let Some(p) = resolver.named(parent) {
        return Ok(p);
    }
    let Some(dir) = &from.dir else {
        return Err(format!("unknown pack {parent:?}"));
    };
    let path = dir.join(parent);
    if path.join("pack.yaml").is_file() {
        PackSource::read_dir(&path).map_err(|e| e.to_string())
    } else {
        Err(format!(
            "unknown pack {parent:?}: not a known pack name, and {} has no pack.yaml",
            path.display()
        ))
    }
}

fn parse_pack_file(source: &PackSource, problems: &mut Vec<Problem>) -> Option<PackFile> {
    let file = format!("{}/pack.yaml", source.label);
    let Some(text) = source.files.get("pack.yaml") else {
        problems.push(Problem {
            file,
            line: 0,
            column: 0,
            code: "rules.pack",
            message: "no pack.yaml".into(),
        });
        return None;
    };
    match serde_yaml::from_str::<PackFile>(text) {
        Ok(p) => Some(p),
        Err(e) => {
            problems.push(yaml_problem(&file, &e));
            None
        }
    }
}

/// A serde_yaml error as a problem at its position.
pub(crate) fn yaml_problem(file: &str, e: &serde_yaml::Error) -> Problem {
    let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
    let message = e.to_string();
    // serde_yaml appends " at line L column C"; the position is in the prefix already.
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    Problem {
        file: file.to_string(),
        line,
        column,
        code: "rules.yaml",
        message,
    }
}

fn locate_key(source: &PackSource, path: &str, key: &str) -> Span {
    let file = format!("{}/{path}", source.label);
    let text = source.files.get(path).map(String::as_str).unwrap_or("");
    let needle = format!("{key}:");
    let offset = text
        .lines()
        .scan(0usize, |pos, line| {
            let start = *pos;
            *pos += line.len() + 1;
            Some((start, line))
        })
        .find(|(_, line)| line.trim_start().starts_with(&needle))
        .map(|(start, line)| start + line.len() - line.trim_start().len());
    match offset {
        Some(o) => span_at(&file, text, o),
        None => Span {
            file,
            line: 0,
            column: 0,
        },
    }
}

/// The span of a byte offset in a text (columns count characters).
fn span_at(file: &str, text: &str, offset: usize) -> Span {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Span {
        file: file.to_string(),
        line,
        column: before[line_start..].chars().count() + 1,
    }
}

fn merge(chain: Vec<(PackSource, PackFile)>, problems: &mut Vec<Problem>) -> Pack {
    let mut pack = Pack {
        name: String::new(),
        version: String::new(),
        description: None,
        chain: Vec::new(),
        params: BTreeMap::new(),
        rules: BTreeMap::new(),
        scripts: BTreeMap::new(),
    };
    for (source, file) in chain {
        pack.chain.push(file.name.clone());
        pack.name = file.name.clone();
        pack.version = match &file.version {
            Some(serde_yaml::Value::String(s)) => s.clone(),
            Some(serde_yaml::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        pack.description = file.description.clone();
        for (name, spec) in &file.params {
            let span = locate_key(&source, "pack.yaml", name);
            let extends = file.extends.is_some();
            merge_param(
                &mut pack.params,
                name,
                spec,
                &file.name,
                extends,
                &span,
                problems,
            );
        }
        for name in &file.remove {
            if pack.rules.remove(name).is_none() {
                problems.push(locate_key(&source, "pack.yaml", "remove").problem(
                    None,
                    "rules.unknown-name",
                    format!("remove: no inherited rule is named {name:?}"),
                ));
            }
        }
        let mut own = BTreeMap::new();
        for (path, text) in &source.files {
            let file_label = format!("{}/{path}", source.label);
            if path.ends_with(".rhai") {
                pack.scripts.insert(
                    path.clone(),
                    Script {
                        name: path.clone(),
                        span: Span {
                            file: file_label,
                            line: 1,
                            column: 1,
                        },
                        text: text.clone(),
                    },
                );
                continue;
            }
            if path == "pack.yaml" {
                continue;
            }
            for rule in parse_rules(&file_label, text, &file.name, problems) {
                if let Some(first) = own.get(&rule.name) {
                    let first: &RuleDef = first;
                    problems.push(rule.span.problem(
                        None,
                        "rules.duplicate",
                        format!(
                            "a rule named {} is already defined at {}:{}",
                            rule.name, first.span.file, first.span.line
                        ),
                    ));
                    continue;
                }
                own.insert(rule.name.clone(), rule);
            }
        }
        for (name, rule) in own {
            if let Some(old) = pack.rules.get(&name) {
                if old.kind != rule.kind {
                    problems.push(rule.span.problem(
                        None,
                        "rules.override",
                        format!(
                            "{name} overrides the {} of pack {} with a {}: an override must keep the kind",
                            old.kind.key(),
                            old.pack,
                            rule.kind.key()
                        ),
                    ));
                    continue;
                }
            }
            pack.rules.insert(name, rule);
        }
    }
    pack
}

fn merge_param(
    params: &mut BTreeMap<String, Param>,
    name: &str,
    spec: &ParamSpec,
    pack: &str,
    extends: bool,
    span: &Span,
    problems: &mut Vec<Problem>,
) {
    // In a pack that extends another, a bare value overrides an inherited parameter; a
    // misspelt name would otherwise become a new, unused parameter.
    if extends && matches!(spec, ParamSpec::Value(_)) && !params.contains_key(name) {
        problems.push(span.problem(
            None,
            "rules.unknown-name",
            format!("parameter {name} is not inherited, so it overrides nothing; declare a new parameter as {{ type: ..., default: ... }}"),
        ));
        return;
    }
    if !crate::pack::valid_name(name) {
        problems.push(span.problem(
            None,
            "rules.name",
            format!("parameter {name:?}: use letters, digits and _, starting with a letter (scripts read it as params.NAME)"),
        ));
        return;
    }
    let (declared, raw, description) = match spec {
        ParamSpec::Full(f) => match Type::parse(&f.ty) {
            Some(t) => (Some(t), &f.default, f.description.clone()),
            None => {
                problems.push(span.problem(
                    None,
                    "rules.type",
                    format!("parameter {name}: unknown type {:?} (int, decimal, text, bool, date, list)", f.ty),
                ));
                return;
            }
        },
        ParamSpec::Value(v) => (None, v, None),
    };
    let inherited = params.get(name).map(|p| p.ty);
    let want = declared.or(inherited);
    let value = match yaml_value(raw, want) {
        Ok(v) => v,
        Err(message) => {
            problems.push(span.problem(None, "rules.type", format!("parameter {name}: {message}")));
            return;
        }
    };
    let ty = want.or_else(|| value.type_of()).unwrap_or(Type::Text);
    if let (Some(old), Some(new)) = (inherited, declared) {
        if old != new {
            problems.push(span.problem(
                None,
                "rules.type",
                format!("parameter {name} is {old} in the pack it extends, not {new}"),
            ));
            return;
        }
    }
    let description = description.or_else(|| params.get(name).and_then(|p| p.description.clone()));
    params.insert(
        name.to_string(),
        Param {
            ty,
            value,
            description,
            set_in: pack.to_string(),
        },
    );
}

/// A YAML scalar as a value of the wanted type (or of its own type when none is wanted).
/// Numbers with a fraction become exact decimals from their written form.
pub(crate) fn yaml_value(v: &serde_yaml::Value, want: Option<Type>) -> Result<Value, String> {
    use serde_yaml::Value as Y;
    let value = match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) if n.is_f64() && significant_digits(&n.to_string()) > 15 => {
            return Err(format!(
                "a number with this many digits is not kept exactly by YAML (it reads as {n}): write it in quotes (\"...\")"
            ))
        }
        Y::Number(n) => match n.as_i64() {
            Some(i) if want != Some(Type::Decimal) => Value::Int(i),
            _ => Value::Decimal(
                n.to_string()
                    .parse::<rust_decimal::Decimal>()
                    .or_else(|_| rust_decimal::Decimal::from_scientific(&n.to_string()))
                    .map_err(|_| format!("{n} is not an exact decimal"))?,
            ),
        },
        Y::String(s) => match want {
            Some(Type::Date) => Value::Date(
                s.parse()
                    .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))?,
            ),
            Some(Type::Decimal) => {
                Value::Decimal(s.parse().map_err(|_| format!("{s:?} is not a decimal"))?)
            }
            _ => Value::Text(s.as_str().into()),
        },
        Y::Sequence(items) => {
            let mut list = Vec::new();
            for item in items {
                match item {
                    Y::String(s) => list.push(s.as_str().into()),
                    other => list.push(
                        serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .into(),
                    ),
                }
            }
            Value::List(list)
        }
        _ => return Err("expected a scalar or a list".into()),
    };
    match (want, value.type_of()) {
        (Some(w), Some(t)) if !w.accepts(t) => Err(format!("expected {w}, found {t} ({value})")),
        (Some(Type::Decimal), Some(Type::Int)) => {
            Ok(Value::Decimal(value.as_decimal().unwrap_or_default()))
        }
        _ => Ok(value),
    }
}

/// Significant digits of a number as written (`0.0012` has 2).
fn significant_digits(s: &str) -> usize {
    let mantissa = s.split(['e', 'E']).next().unwrap_or(s);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1)
}

/// Where each YAML document of a text begins: its first line that is not blank, a
/// comment or the `---` separator (`None` for a document without content).
fn document_starts(text: &str) -> Vec<Option<usize>> {
    let mut starts: Vec<Option<usize>> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if t == "---" || t.starts_with("--- ") {
            starts.push(None);
        } else if !t.trim().is_empty() && !t.trim_start().starts_with('#') {
            match starts.last_mut() {
                None => starts.push(Some(offset)),
                Some(start @ None) => *start = Some(offset),
                Some(Some(_)) => {}
            }
        }
        offset += line.len();
    }
    starts
}

/// Parses the rules of one file (one per YAML document).
fn parse_rules(file: &str, text: &str, pack: &str, problems: &mut Vec<Problem>) -> Vec<RuleDef> {
    let shared: Arc<str> = Arc::from(text);
    let mut out = Vec::new();
    // Track where each document starts so a rule's text can be located after it.
    let mut search_from = 0usize;
    let mut last_error: Option<String> = None;
    let starts = document_starts(text);
    for (index, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        // Where this document's text begins (its first line with content).
        let doc_at = starts.get(index).copied().flatten().unwrap_or(search_from);
        let spec = match RuleSpec::deserialize(doc) {
            Ok(s) => s,
            Err(e) => {
                // A schema error (an unknown key) spoils only its document; after a
                // syntax error the stream repeats it forever: stop at the first repeat.
                let problem = yaml_problem(file, &e);
                let key = problem.to_string();
                if e.location().is_none() || last_error.as_deref() == Some(key.as_str()) {
                    if last_error.as_deref() != Some(key.as_str()) {
                        problems.push(problem);
                    }
                    break;
                }
                problems.push(problem);
                last_error = Some(key);
                continue;
            }
        };
        let kinds = [
            (Kind::Feature, &spec.feature),
            (Kind::Segment, &spec.segment),
            (Kind::Allocation, &spec.allocation),
            (Kind::Kpi, &spec.kpi),
            (Kind::Alert, &spec.alert),
            (Kind::Model, &spec.model),
        ];
        let named: Vec<(Kind, &String)> = kinds
            .iter()
            .filter_map(|(k, n)| n.as_ref().map(|n| (*k, n)))
            .collect();
        let (kind, name) = match named.as_slice() {
            [(k, n)] => (*k, (*n).clone()),
            [] => {
                if spec_is_empty(&spec) {
                    continue; // an empty document (a trailing `---`)
                }
                problems.push(Problem {
                    file: file.to_string(),
                    line: span_at(file, text, doc_at).line,
                    column: 0,
                    code: "rules.kind",
                    message: "a rule needs one of the keys feature, segment, allocation, kpi, alert, model (with its name)".into(),
                });
                continue;
            }
            many => {
                let keys: Vec<&str> = many.iter().map(|(k, _)| k.key()).collect();
                problems.push(Problem {
                    file: file.to_string(),
                    line: span_at(file, text, doc_at).line,
                    column: 0,
                    code: "rules.kind",
                    message: format!("a rule has one kind key, this one has {}", keys.join(", ")),
                });
                continue;
            }
        };
        let key = format!("{}:", kind.key());
        let offset = find_key_line(text, search_from, &key, &name).unwrap_or(search_from);
        search_from = offset + 1;
        let span = span_at(file, text, offset);
        if !valid_name(&name) {
            problems.push(span.problem(
                None,
                "rules.name",
                format!("{name:?} is not a valid rule name: use letters, digits and _, starting with a letter"),
            ));
            continue;
        }
        out.push(RuleDef {
            name,
            kind,
            spec,
            pack: pack.to_string(),
            span,
            text: shared.clone(),
            offset,
        });
    }
    out
}

fn spec_is_empty(spec: &RuleSpec) -> bool {
    spec.description.is_none()
        && spec.expr.is_none()
        && spec.rules.is_none()
        && spec.value.is_none()
}

/// The offset of the line `key name` at or after `from`.
fn find_key_line(text: &str, from: usize, key: &str, name: &str) -> Option<usize> {
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        if start < from {
            continue;
        }
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(key) {
            let rest = rest.trim().trim_matches(['"', '\'']);
            if rest == name {
                return Some(start + line.len() - t.len());
            }
        }
    }
    None
}

/// Rule names are identifiers, so that expressions can refer to them.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(label: &str, files: &[(&str, &str)]) -> PackSource {
        PackSource::from_files(label, files.iter().copied())
    }

    struct Named(PackSource);
    impl Resolver for Named {
        fn named(&self, name: &str) -> Option<PackSource> {
            (name == "standard").then(|| self.0.clone())
        }
    }

    #[test]
    fn overrides_by_name_and_removes() {
        let base = source(
            "standard",
            &[
                ("pack.yaml", "name: standard\nversion: 1\nparams:\n  churn_days: { type: int, default: 180 }\n  floor: { type: decimal, default: 1.0 }\n"),
                ("a.yaml", "feature: f1\nexpr: orders * 2\n---\nfeature: f2\nexpr: orders\n"),
            ],
        );
        let client = source(
            "client",
            &[
                ("pack.yaml", "name: client\nextends: standard\nparams:\n  churn_days: 150\n  floor: 2\nremove: [f2]\n"),
                ("b.yaml", "feature: f1\nexpr: orders * 3\n"),
            ],
        );
        let pack = Pack::load(client, &Named(base)).expect("loads");
        assert_eq!(pack.chain, ["standard", "client"]);
        assert_eq!(pack.params["churn_days"].value, Value::Int(150));
        assert_eq!(pack.params["floor"].value, Value::Decimal(2.into()));
        assert_eq!(pack.rules["f1"].spec.expr.as_deref(), Some("orders * 3"));
        assert_eq!(pack.rules["f1"].span.file, "client/b.yaml");
        assert!(!pack.rules.contains_key("f2"));
    }

    #[test]
    fn problems_name_file_line_and_column() {
        let p = source(
            "p",
            &[
                ("pack.yaml", "name: p\n"),
                (
                    "x.yaml",
                    "feature: ok\nexpr: orders\n---\nsegment: s\nwehn: x\n",
                ),
                ("y.yaml", "feature: ok\nexpr: 1\n"),
            ],
        );
        let Err(Error::Pack(problems)) = Pack::load(p, &()) else {
            panic!("problems expected")
        };
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text[0].starts_with("p/x.yaml:5:1: unknown field `wehn`"),
            "{text:?}"
        );
        assert!(
            text[1].starts_with("p/y.yaml:1:1: a rule named ok is already defined at p/x.yaml:1"),
            "{text:?}"
        );
    }

    #[test]
    fn extends_cycles_and_unknown_packs_are_reported() {
        let p = source("p", &[("pack.yaml", "name: p\nextends: nowhere\n")]);
        let Err(Error::Pack(problems)) = Pack::load(p, &()) else {
            panic!("problems expected")
        };
        assert_eq!(problems[0].code, "rules.extends");
        assert_eq!(problems[0].line, 2);
    }

    #[test]
    fn yaml_values_are_exact() {
        let v: serde_yaml::Value = serde_yaml::from_str("0.1").expect("yaml");
        assert_eq!(
            yaml_value(&v, None),
            Ok(Value::Decimal("0.1".parse().expect("decimal")))
        );
        let v: serde_yaml::Value = serde_yaml::from_str("\"abc\"").expect("yaml");
        assert!(yaml_value(&v, Some(Type::Int)).is_err());
    }
}
