//! `ledgerlens sniff FILE`: what a file is and how ledgerlens would read it.
//!
//! From the first bytes and rows, never the extension: the container (xlsx, xls, HTML
//! saved as .xls, text), the text encoding, the ERP layout when one is recognized (Kingdee
//! K/3 or 云星空, Yonyou U8 text or GL_accvouch) with its header row, the mapped columns
//! and the customer slot, a source entry to paste into `ledgerlens.yaml`, and a preview of
//! the first records read that way (or the first rows, when no layout is recognized and
//! the columns are the analyst's to map).

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use ledgerlens_adapter::{decode, Adapter, Encoding, Input, SourceOptions};
use ledgerlens_model::{Record, RecordType};
use serde_json::{json, Value};

use crate::output::Format;

/// What was found, as one JSON object (keys sorted).
pub fn sniff(path: &Path, sheet: Option<&str>, preview: usize) -> anyhow::Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.display().to_string();
    let input = Input {
        name: name.clone(),
        bytes,
    };
    #[cfg(feature = "jsonl")]
    if let Some(found) = ledgerlens_jsonl::sniff(&input.bytes) {
        return Ok(jsonl(path, &input, found, preview));
    }
    let mut options = SourceOptions::new("sniffed", RecordType::VoucherLine);
    options.sheet = sheet.map(str::to_string);
    let format = ledgerlens_xlsx::detect(&input.bytes);
    let (format_name, encoding) = match format {
        ledgerlens_xlsx::Format::Xlsx => ("xlsx workbook (zip)", None),
        ledgerlens_xlsx::Format::Ole => ("xls workbook (OLE2 compound file)", None),
        ledgerlens_xlsx::Format::Html => ("HTML table (saved as a spreadsheet)", None),
        ledgerlens_xlsx::Format::Text => (
            "delimited text",
            decode(&name, &input.bytes, Encoding::Auto)
                .ok()
                .map(|d| d.encoding),
        ),
    };
    let mut out = json!({
        "file": name,
        "bytes": input.bytes.len(),
        "format": format_name,
        "encoding": encoding,
    });
    let recognized = recognize(&input, &options);
    let (adapter, record, found): (&dyn Adapter, RecordType, Option<Value>) = match recognized {
        Some((adapter, found)) => (adapter, RecordType::VoucherLine, Some(found)),
        None => (&ledgerlens_xlsx::XlsxAdapter, RecordType::Transaction, None),
    };
    match found {
        Some(found) => {
            out["adapter"] = json!(adapter.name());
            if let (Value::Object(out), Value::Object(found)) = (&mut out, found) {
                out.extend(found);
            }
            options.record = record;
            let items: Vec<Value> = match adapter.read(&input, &options) {
                Ok(items) => items
                    .take(preview)
                    .map(|item| match item {
                        Ok(row) => json!({"row": row.row, "record": summary(&row.record)}),
                        Err(d) => {
                            json!({"row": d.row, "problem": format!("{}: {}", d.code, d.message)})
                        }
                    })
                    .collect(),
                Err(e) => vec![json!({"problem": e.to_string()})],
            };
            out["preview"] = Value::Array(items);
            out["source"] = json!(format!(
                "- name: {}\n  adapter: {}\n  files: \"{}\"\n  record: voucher-line",
                source_name(path),
                adapter.name(),
                path.display()
            ));
        }
        None => {
            out["adapter"] = json!(match format {
                ledgerlens_xlsx::Format::Text => "csv",
                _ => "xlsx",
            });
            out["layout"] = json!("no ERP layout recognized: map the columns (columns:) yourself");
            let rows: Vec<Value> = match ledgerlens_xlsx::rows(&input, &options) {
                Ok(rows) => rows
                    .take(preview + 1)
                    .map(|row| match row {
                        Ok((line, cells)) => json!({"row": line, "cells": cells}),
                        Err(d) => json!({"row": d.row, "problem": d.message}),
                    })
                    .collect(),
                Err(e) => vec![json!({"problem": e.to_string()})],
            };
            out["preview"] = Value::Array(rows);
        }
    }
    Ok(out)
}

/// JSON Lines: the first line's keys, a `sources:` entry, and the first records.
#[cfg(feature = "jsonl")]
fn jsonl(path: &Path, input: &Input, found: ledgerlens_jsonl::Sniffed, preview: usize) -> Value {
    let record = found.record.unwrap_or(RecordType::Transaction);
    let mut options = SourceOptions::new("sniffed", record);
    options.adapter = "jsonl".to_string();
    let items: Vec<Value> = match ledgerlens_jsonl::JsonlAdapter.read(input, &options) {
        Ok(items) => items
            .take(preview)
            .map(|item| match item {
                Ok(row) => json!({"row": row.row, "record": summary(&row.record)}),
                Err(d) => json!({"row": d.row, "problem": format!("{}: {}", d.code, d.message)}),
            })
            .collect(),
        Err(e) => vec![json!({"problem": e.to_string()})],
    };
    json!({
        "file": input.name,
        "bytes": input.bytes.len(),
        "format": "JSON Lines",
        "encoding": found.encoding,
        "adapter": "jsonl",
        "layout": format!("one JSON record per line; first line's keys: {}", found.keys.join(", ")),
        "source": format!(
            "- name: {}\n  adapter: jsonl\n  files: \"{}\"\n  record: {record}",
            source_name(path),
            path.display()
        ),
        "preview": items,
    })
}

fn source_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "source".to_string())
}

/// The ERP adapter that recognizes the file, and what it found.
fn recognize(input: &Input, options: &SourceOptions) -> Option<(&'static dyn Adapter, Value)> {
    #[cfg(feature = "kingdee")]
    if let Some(found) = ledgerlens_kingdee::sniff(input, options) {
        let columns: Vec<Value> = found
            .columns
            .iter()
            .map(|(field, column)| json!({"field": field, "column": column}))
            .collect();
        return Some((
            &ledgerlens_kingdee::KingdeeAdapter,
            json!({
                "layout": found.layout.name(),
                "header_row": found.header_row,
                "columns": columns,
                "customer": found.customer,
            }),
        ));
    }
    #[cfg(feature = "yonyou")]
    if let Some(found) = ledgerlens_yonyou::sniff(input, options) {
        let columns: Vec<Value> = found
            .columns
            .iter()
            .map(|(field, column)| json!({"field": field, "column": column}))
            .collect();
        return Some((
            &ledgerlens_yonyou::YonyouAdapter,
            json!({
                "layout": found.layout.name(),
                "header_row": found.header_row,
                "columns": columns,
                "customer": found
                    .columns
                    .iter()
                    .find(|(field, _)| field == "customer")
                    .map(|(_, column)| column),
            }),
        ));
    }
    let _ = (input, options);
    None
}

/// One line saying what a record holds.
fn summary(record: &Record) -> String {
    match record {
        Record::VoucherLine(l) => {
            let customer = l
                .customer
                .as_ref()
                .map(|p| format!(" customer {} {}", p.code, p.name.as_deref().unwrap_or("")))
                .unwrap_or_default();
            format!(
                "{} {} line {} account {} debit {} credit {}{}",
                l.date,
                l.document(),
                l.line.map_or("-".to_string(), |n| n.to_string()),
                l.account,
                l.debit,
                l.credit,
                customer.trim_end()
            )
        }
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Prints what [`sniff`] found: JSON/YAML as is, for people as labelled lines.
pub fn write(out: &mut dyn Write, found: &Value, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(found)?)?,
        Format::Yaml => write!(out, "{}", serde_yaml::to_string(found)?)?,
        Format::Table | Format::Csv => {
            let text = |key: &str| match &found[key] {
                Value::String(s) => s.clone(),
                Value::Null => "-".to_string(),
                v => v.to_string(),
            };
            for key in [
                "file",
                "bytes",
                "format",
                "encoding",
                "adapter",
                "layout",
                "header_row",
                "customer",
            ] {
                if !found[key].is_null() {
                    writeln!(out, "{:<11} {}", format!("{key}:"), text(key))?;
                }
            }
            if let Some(columns) = found["columns"].as_array() {
                writeln!(out, "columns:")?;
                for c in columns {
                    let field = c["field"].as_str().unwrap_or_default();
                    let column = c["column"].as_str().unwrap_or_default();
                    writeln!(out, "  {field:<15} <- {column}")?;
                }
            }
            if let Some(source) = found["source"].as_str() {
                writeln!(out, "source (for ledgerlens.yaml `sources:`):")?;
                for line in source.lines() {
                    writeln!(out, "  {line}")?;
                }
            }
            writeln!(out, "preview:")?;
            for item in found["preview"].as_array().into_iter().flatten() {
                let row = item["row"]
                    .as_u64()
                    .map_or("-".to_string(), |r| r.to_string());
                let what = match (&item["record"], &item["cells"], &item["problem"]) {
                    (Value::String(s), _, _) => s.clone(),
                    (_, Value::Array(cells), _) => cells
                        .iter()
                        .map(|c| c.as_str().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join(" | "),
                    (_, _, Value::String(p)) => format!("problem: {p}"),
                    _ => String::new(),
                };
                writeln!(out, "  row {row:>4}: {what}")?;
            }
        }
    }
    Ok(())
}
