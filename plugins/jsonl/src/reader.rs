//! The reader: decode, split lines, parse each object, put its values in the cells of the
//! record type's table plan (one per record type, resolved on first use), and let the
//! shared row builder make the record.

use std::borrow::Cow;
use std::collections::BTreeMap;

use ledgerlens_adapter::table::{self, Builder, Plan};
use ledgerlens_adapter::{
    decode, Adapter, ColumnRef, Delimiter, Error, Field, Header, Input, Item, SourceOptions,
};
use ledgerlens_model::{Diagnostic, RecordType};

use crate::object::{push_string, string, Kind, Object};

/// The key that names a line's record type.
const RECORD_KEY: &str = "record";

/// The JSON Lines adapter (`adapter: jsonl`). See the [crate documentation](crate) for the
/// protocol.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonlAdapter;

impl Adapter for JsonlAdapter {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    fn description(&self) -> &'static str {
        "JSON Lines: one record per line, keys named like csv columns: fields; exact decimals; UTF-8, GBK or GB18030"
    }

    fn read<'a>(
        &self,
        input: &'a Input,
        options: &'a SourceOptions,
    ) -> Result<Box<dyn Iterator<Item = Item> + Send + 'a>, Error> {
        Ok(Box::new(records(&input.name, &input.bytes, options)?))
    }
}

/// Reads JSON Lines `bytes` (named `file` in diagnostics) as the source `options` says:
/// one item per non-blank line, in order.
///
/// `Err` when the options cannot work (a `columns:` entry that is not a key name, a
/// default that does not parse, an option of tabular sources), when the bytes are not
/// text in the encoding, or when there is nothing but whitespace.
pub fn records<'a>(
    file: &'a str,
    bytes: &'a [u8],
    options: &'a SourceOptions,
) -> Result<Records<'a>, Error> {
    check(options)?;
    let text = decode(file, bytes, options.encoding)?.text;
    if text.trim().is_empty() {
        return Err(Error::Empty {
            file: file.to_string(),
        });
    }
    let mut reader = Reader {
        file,
        options,
        plans: (0..RecordType::ALL.len() * 2).map(|_| None).collect(),
        cells: Vec::new(),
        seen: Vec::new(),
        voucher_key: key(options, Field::Voucher),
    };
    // The source's own record type is resolved now, so its option errors are errors.
    reader.plan(options.record, false)?;
    Ok(Records {
        text,
        pos: 0,
        line: 0,
        reader,
    })
}

/// What [`sniff`] saw on the first non-blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// The encoding, as [`decode`] names it.
    pub encoding: &'static str,
    /// The line's `record`, when it names a known record type.
    pub record: Option<RecordType>,
    /// The line's keys, in order.
    pub keys: Vec<String>,
}

/// Whether `bytes` look like JSON Lines: their first non-blank line (in any encoding
/// [`decode`] detects) is one JSON object. Looks at the first 64 KiB at most.
pub fn sniff(bytes: &[u8]) -> Option<Sniffed> {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let body = head.strip_prefix(b"\xEF\xBB\xBF");
    let bom = body.is_some();
    let body = body.unwrap_or(head);
    let first = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[first] != b'{' {
        return None;
    }
    let line = match body[first..].iter().position(|&b| b == b'\n') {
        Some(end) => &body[first..first + end],
        None if head.len() == bytes.len() => &body[first..],
        None => return None, // a first line longer than 64 KiB: not worth guessing
    };
    let decoded = decode("", line, ledgerlens_adapter::Encoding::Auto).ok()?;
    let encoding = if bom { "utf-8-bom" } else { decoded.encoding };
    let object = Object::parse(decoded.text.trim()).ok()?;
    let record = object
        .0
        .iter()
        .find(|(k, _)| k == RECORD_KEY)
        .and_then(|(_, v)| serde_json::from_str::<&str>(v.get()).ok())
        .and_then(|r| r.parse().ok());
    Some(Sniffed {
        encoding,
        record,
        keys: object.0.iter().map(|(k, _)| k.to_string()).collect(),
    })
}

/// Options that make no sense for JSON Lines are refused rather than ignored.
fn check(options: &SourceOptions) -> Result<(), Error> {
    let refuse = |message: String| {
        Err(Error::Options {
            source_name: options.name.clone(),
            message,
        })
    };
    for (field, column) in &options.columns {
        if !matches!(column, ColumnRef::Name(_)) {
            return refuse(format!(
                "columns.{field}: JSON Lines records name their fields; `columns:` may only rename a field's key (`{field}: key`)"
            ));
        }
    }
    let tabular = [
        ("delimiter", options.delimiter != Delimiter::Auto),
        ("header", options.header != Header::Auto),
        ("skip_rows", options.skip_rows != 0),
        ("sheet", options.sheet.is_some()),
    ];
    if let Some((name, _)) = tabular.iter().find(|(_, set)| *set) {
        return refuse(format!(
            "`{name}` is for tables; JSON Lines has no use for it"
        ));
    }
    Ok(())
}

/// The lines of one input and what reads them.
pub struct Records<'a> {
    text: Cow<'a, str>,
    pos: usize,
    line: u64,
    reader: Reader<'a>,
}

impl std::fmt::Debug for Records<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("file", &self.reader.file)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl Iterator for Records<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        while self.pos < self.text.len() {
            let rest = &self.text[self.pos..];
            let (line, advance) = match rest.find('\n') {
                Some(end) => (&rest[..end], end + 1),
                None => (rest, rest.len()),
            };
            self.pos += advance;
            self.line += 1;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(item) = self.reader.line(self.line, line) {
                return Some(item);
            }
        }
        None
    }
}

/// The table plan of one record type, with its keys in cell order.
struct Entry<'a> {
    plan: Plan<'a>,
    keys: Vec<String>,
    build: Builder<Vec<String>>,
    record: RecordType,
    /// The cell of `tags` (customer records), which may also be given as a list.
    tags: Option<usize>,
}

struct Reader<'a> {
    file: &'a str,
    options: &'a SourceOptions,
    /// By record type, twice: voucher lines with a `voucher` key read it (`记-12`), those
    /// without read `voucher_word` and `voucher_number`.
    plans: Vec<Option<Result<Entry<'a>, String>>>,
    cells: Vec<String>,
    seen: Vec<bool>,
    /// The key of `voucher` (its name, or its `columns:` rename).
    voucher_key: String,
}

/// A field's key: its name, or what `columns:` renames it to.
fn key(options: &SourceOptions, field: Field) -> String {
    match options.columns.get(&field) {
        Some(ColumnRef::Name(name)) => name.clone(),
        _ => field.name(),
    }
}

impl<'a> Reader<'a> {
    /// The plan of a record type, resolved on first use. `Err` (for this record type's
    /// lines) when the source's options do not work with it.
    fn plan(&mut self, record: RecordType, combined: bool) -> Result<&Entry<'a>, Error> {
        let at = RecordType::ALL
            .iter()
            .position(|r| *r == record)
            .unwrap_or(0)
            * 2
            + usize::from(combined);
        if self.plans[at].is_none() {
            self.plans[at] = Some(self.resolve(record, combined));
        }
        match &self.plans[at] {
            Some(Ok(entry)) => Ok(entry),
            Some(Err(message)) => Err(Error::Options {
                source_name: self.options.name.clone(),
                message: message.clone(),
            }),
            None => Err(Error::Options {
                source_name: self.options.name.clone(),
                message: format!("no plan for {record} records"),
            }),
        }
    }

    /// The source's options for `record` lines: every field the record type reads mapped
    /// to its key, defaults of other record types left out.
    fn resolve(&self, record: RecordType, combined: bool) -> Result<Entry<'a>, String> {
        let fields = table::fields(record);
        let mut options = self.options.clone();
        options.record = record;
        options.header = Header::Present;
        options.columns = BTreeMap::new();
        let mut keys = Vec::with_capacity(fields.len());
        for &field in fields {
            if field == Field::Voucher && !combined {
                continue;
            }
            let key = key(self.options, field);
            keys.push(key.clone());
            options.columns.insert(field, ColumnRef::Name(key));
        }
        options.defaults.retain(|f, _| fields.contains(f));
        if record == RecordType::Customer {
            keys.extend(options.attributes.iter().cloned());
        } else {
            options.attributes.clear();
        }
        let strip = |e: Error| match e {
            Error::Options { message, .. } => message,
            other => other.to_string(),
        };
        table::check(&options).map_err(strip)?;
        let plan = table::resolve(
            self.file.into(),
            Cow::Owned(options),
            Some((0, keys.clone())),
        )
        .map_err(strip)?;
        let tags = (record == RecordType::Customer)
            .then(|| key(self.options, Field::Tags))
            .and_then(|tags| keys.iter().position(|k| *k == tags));
        Ok(Entry {
            plan,
            keys,
            build: table::builder(record),
            record,
            tags,
        })
    }

    /// One non-blank line.
    fn line(&mut self, n: u64, text: &str) -> Option<Item> {
        let object = match Object::parse(text) {
            Ok(object) => object,
            Err(e) => return Some(Err(self.not_an_object(n, text, &e))),
        };
        let mut record = self.options.record;
        let mut combined = false;
        for (k, v) in &object.0 {
            if k == RECORD_KEY {
                let named = string(v)
                    .ok_or_else(|| {
                        format!(
                            "`record` is {}; it names the record type as a string",
                            Kind::of(v).name()
                        )
                    })
                    .and_then(|r| r.parse::<RecordType>());
                match named {
                    Ok(r) => record = r,
                    Err(message) => {
                        return Some(Err(fail(
                            self.file,
                            n,
                            "adapter.bad_record",
                            Some(RECORD_KEY),
                            message,
                        )))
                    }
                }
            } else if *k == self.voucher_key.as_str() && Kind::of(v) != Kind::Null {
                combined = true;
            }
        }
        combined &= record == RecordType::VoucherLine;
        let file = self.file;
        let line =
            |code: &str, key: Option<&str>, message: String| fail(file, n, code, key, message);
        let (mut cells, mut seen) = (
            std::mem::take(&mut self.cells),
            std::mem::take(&mut self.seen),
        );
        let result = match self.plan(record, combined) {
            Err(e) => Some(Err(line(
                "adapter.bad_record",
                Some(RECORD_KEY),
                e.to_string(),
            ))),
            Ok(entry) => fill(entry, &object, &mut cells, &mut seen)
                .map_err(|(code, key, message)| line(code, key.as_deref(), message))
                .map_or_else(
                    |d| Some(Err(d)),
                    |()| entry.plan.build(n, &cells, entry.build),
                ),
        };
        self.cells = cells;
        self.seen = seen;
        result
    }

    #[cold]
    fn not_an_object(&self, n: u64, text: &str, e: &serde_json::Error) -> Diagnostic {
        if !text.starts_with('{') {
            if let Ok(value) = serde_json::from_str::<&serde_json::value::RawValue>(text) {
                return fail(
                    self.file,
                    n,
                    "adapter.not_object",
                    None,
                    format!(
                        "the line is {}, not a JSON object with the record's fields",
                        Kind::of(value).name()
                    ),
                );
            }
        }
        fail(
            self.file,
            n,
            "adapter.bad_json",
            None,
            format!("not JSON: {} (column {})", without_location(e), e.column()),
        )
    }
}

/// A problem with one member: code, key, message.
type Problem = (&'static str, Option<String>, String);

/// Puts an object's values into the cells of `entry`'s keys.
fn fill(
    entry: &Entry<'_>,
    object: &Object<'_>,
    cells: &mut Vec<String>,
    seen: &mut Vec<bool>,
) -> Result<(), Problem> {
    let width = entry.keys.len();
    cells.resize_with(width, String::new);
    cells.iter_mut().for_each(String::clear);
    seen.clear();
    seen.resize(width, false);
    for (k, v) in &object.0 {
        if k == RECORD_KEY {
            continue;
        }
        let Some(at) = entry.keys.iter().position(|key| key == k) else {
            return Err(unknown(entry, k));
        };
        if std::mem::replace(&mut seen[at], true) {
            return Err((
                "adapter.duplicate_field",
                Some(k.to_string()),
                format!("the key '{k}' is given twice"),
            ));
        }
        let cell = &mut cells[at];
        let bad_type = |kind: Kind, what: &str| {
            (
                "adapter.bad_type",
                Some(k.to_string()),
                format!("'{k}' is {}; give {what}", kind.name()),
            )
        };
        match Kind::of(v) {
            Kind::Number => cell.push_str(v.get()),
            Kind::Null => {}
            Kind::String => push_string(v, cell)
                .map_err(|e| ("adapter.bad_json", Some(k.to_string()), e.to_string()))?,
            Kind::List if entry.tags == Some(at) => {
                let tags: Vec<Cow<'_, str>> = serde_json::from_str(v.get())
                    .map_err(|_| bad_type(Kind::List, "a list of strings"))?;
                cell.push_str(&tags.join(","));
            }
            kind => return Err(bad_type(kind, "a string or a number")),
        }
    }
    Ok(())
}

#[cold]
fn unknown(entry: &Entry<'_>, k: &str) -> Problem {
    let record = entry.record;
    (
        "adapter.unknown_field",
        Some(k.to_string()),
        format!(
            "{record} records have no field '{k}' (they read: {})",
            entry.keys.join(", ")
        ),
    )
}

/// serde_json's message without its ` at line 1 column N` (the line is the row).
fn without_location(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

/// A diagnostic for line `n` of `file`, at a key when there is one.
fn fail(file: &str, n: u64, code: &str, key: Option<&str>, message: String) -> Diagnostic {
    let d = Diagnostic::error(code, message).in_file(file).at_row(n);
    match key {
        Some(key) => d.at_column(key),
        None => d,
    }
}
