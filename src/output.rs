//! Rendering listings as a table, JSON or CSV.

use std::io::Write;

use serde::Serialize;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// Output format of listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON: an array of objects (or one object), keys sorted.
    Json,
    /// CSV with a header row.
    Csv,
    /// YAML: as JSON, in YAML.
    Yaml,
}

/// Writes `value` as YAML. The text is rendered first and then written, so a failed write
/// is an `io::Error` (serde_yaml's writer hides it, and a broken pipe must stay
/// recognizable: `main` exits quietly on one).
pub fn yaml<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> anyhow::Result<()> {
    out.write_all(serde_yaml::to_string(value)?.as_bytes())?;
    Ok(())
}

/// A listing: column names and rows of JSON values (objects keyed by column).
pub struct Listing<'a> {
    pub columns: Vec<&'a str>,
    pub rows: Vec<Value>,
}

impl<'a> Listing<'a> {
    /// Rows from serializable items, showing `columns`.
    pub fn of<T: Serialize>(columns: &[&'a str], items: &[T]) -> anyhow::Result<Listing<'a>> {
        let rows = items
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Listing {
            columns: columns.to_vec(),
            rows,
        })
    }

    /// Writes the listing in `format`.
    pub fn write(&self, out: &mut dyn Write, format: Format) -> anyhow::Result<()> {
        match format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, &self.rows)?;
                writeln!(out)?;
            }
            Format::Yaml => yaml(out, &self.rows)?,
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(&self.columns)?;
                for row in &self.rows {
                    w.write_record(self.columns.iter().map(|c| cell(row.get(*c))))?;
                }
                w.flush()?;
            }
            Format::Table => {
                let cells: Vec<Vec<String>> = self
                    .rows
                    .iter()
                    .map(|row| self.columns.iter().map(|c| cell(row.get(*c))).collect())
                    .collect();
                table(out, &self.columns, &cells)?;
            }
        }
        Ok(())
    }
}

/// A JSON value as a cell: strings bare, null empty, arrays joined with `;`.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| cell(Some(x)))
            .collect::<Vec<_>>()
            .join(";"),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, x)| format!("{k}={}", cell(Some(x))))
            .collect::<Vec<_>>()
            .join(";"),
        Some(other) => other.to_string(),
    }
}

/// Column widths and alignment of a table.
pub struct Layout {
    widths: Vec<usize>,
    numeric: Vec<bool>,
}

/// Whether a cell reads as a number (right-aligned).
fn is_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
}

/// Measures rows: widths count CJK characters as two columns; a column is numeric when
/// every non-empty cell is a number and at least one cell is not empty.
pub fn widths<R: AsRef<[String]>>(columns: &[&str], rows: impl Iterator<Item = R>) -> Layout {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.width()).collect();
    let mut numeric = vec![true; columns.len()];
    let mut filled = vec![false; columns.len()];
    for row in rows {
        for (i, c) in row.as_ref().iter().enumerate().take(columns.len()) {
            widths[i] = widths[i].max(c.width());
            if !c.is_empty() {
                filled[i] = true;
                numeric[i] &= is_number(c);
            }
        }
    }
    for (n, f) in numeric.iter_mut().zip(&filled) {
        *n &= *f;
    }
    Layout { widths, numeric }
}

/// Writes a table measured by [`widths`], formatting rows as they come.
pub fn table_streamed<R: AsRef<[String]>>(
    out: &mut dyn Write,
    columns: &[&str],
    layout: &Layout,
    rows: impl Iterator<Item = R>,
) -> std::io::Result<()> {
    let line = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate().take(columns.len()) {
            let pad = layout.widths[i].saturating_sub(c.width());
            if i > 0 {
                s.push_str("  ");
            }
            if layout.numeric[i] {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    line(out, &header)?;
    let rule: Vec<String> = layout.widths.iter().map(|w| "-".repeat(*w)).collect();
    line(out, &rule)?;
    for row in rows {
        line(out, row.as_ref())?;
    }
    Ok(())
}

/// Writes aligned columns; numbers are right-aligned. Widths count CJK characters as two
/// columns.
pub fn table(out: &mut dyn Write, columns: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let layout = widths(columns, rows.iter());
    table_streamed(out, columns, &layout, rows.iter())
}

/// Writes one object: JSON as is, a table as `key  value` lines, CSV as one row.
pub fn object<T: Serialize>(out: &mut dyn Write, format: Format, value: &T) -> anyhow::Result<()> {
    let v = serde_json::to_value(value)?;
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &v)?;
            writeln!(out)?;
        }
        Format::Yaml => yaml(out, &v)?,
        Format::Csv => {
            let Value::Object(map) = &v else {
                anyhow::bail!("not an object")
            };
            let mut w = csv::Writer::from_writer(out);
            w.write_record(map.keys())?;
            w.write_record(map.values().map(|x| cell(Some(x))))?;
            w.flush()?;
        }
        Format::Table => {
            let Value::Object(map) = &v else {
                anyhow::bail!("not an object")
            };
            let rows: Vec<Vec<String>> = map
                .iter()
                .map(|(k, x)| vec![k.clone(), cell(Some(x))])
                .collect();
            let width = rows.iter().map(|r| r[0].width()).max().unwrap_or(0);
            for r in rows {
                writeln!(
                    out,
                    "{}{}  {}",
                    r[0],
                    " ".repeat(width - r[0].width()),
                    r[1]
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_cjk_and_numbers() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["星河".to_string(), "1.50".to_string()],
            vec!["abc".to_string(), "-20".to_string()],
        ];
        table(&mut out, &["name", "amount"], &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "name  amount\n----  ------\n星河    1.50\nabc      -20\n"
        );
    }
}
