//! Cell values as text, the way the column mapping reads every source.

use calamine::{Data, DataRef, ExcelDateTime};
use chrono::{Datelike, Timelike};

/// A spreadsheet number in its shortest decimal spelling, as Excel shows it: whole
/// numbers without a point, others with at most 15 significant digits (the precision
/// Excel keeps), so `0.1 + 0.2` computed in a sheet reads as `0.3`. Not finite: `#NUM!`.
///
/// ```
/// use ledgerlens_xlsx::number_text;
/// assert_eq!(number_text(1234.5), "1234.5");
/// assert_eq!(number_text(11300.0), "11300");
/// assert_eq!(number_text(0.1 + 0.2), "0.3");
/// assert_eq!(number_text(-7.1), "-7.1");
/// ```
pub fn number_text(f: f64) -> String {
    if !f.is_finite() {
        return "#NUM!".to_string();
    }
    if f == 0.0 {
        return "0".to_string();
    }
    if f == f.trunc() && f.abs() < 1e15 {
        // Exact: every integer below 2^53 is an f64, and 1e15 is below it.
        return (f as i64).to_string();
    }
    let shortest = format!("{f}");
    let digits = shortest.bytes().filter(u8::is_ascii_digit).count();
    let leading_zeros = shortest
        .trim_start_matches('-')
        .bytes()
        .take_while(|b| *b == b'0' || *b == b'.')
        .filter(|b| *b == b'0')
        .count();
    if digits - leading_zeros <= 15 || shortest.contains('e') {
        return shortest;
    }
    // More digits than Excel keeps: round to 15 significant digits.
    let magnitude = f.abs().log10().floor() as i32;
    let decimals = usize::try_from((14 - magnitude).max(0)).unwrap_or(0);
    let rounded = format!("{f:.decimals$}");
    if rounded.contains('.') {
        rounded
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        rounded
    }
}

fn date_text(d: &ExcelDateTime) -> String {
    if d.is_duration() {
        return number_text(d.as_f64());
    }
    match d.as_datetime() {
        // Written out rather than through a format string parsed per cell: one per row.
        Some(dt) if dt.num_seconds_from_midnight() == 0 => {
            format!("{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day())
        }
        Some(dt) => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => number_text(d.as_f64()),
    }
}

/// Appends a streamed `.xlsx` cell as text (the text of [`data_ref_text`]) to `out`,
/// without allocating for strings and whole numbers.
pub(crate) fn push_data_ref_text(out: &mut String, value: &DataRef<'_>) {
    use std::fmt::Write;
    match value {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => out.push_str(s),
        DataRef::SharedString(s) => out.push_str(s),
        // Writing to a String cannot fail.
        DataRef::Int(i) => {
            let _ = write!(out, "{i}");
        }
        DataRef::Float(f) if *f == f.trunc() && f.abs() < 1e15 && *f != 0.0 => {
            let _ = write!(out, "{}", *f as i64);
        }
        DataRef::Empty => {}
        other => out.push_str(&data_ref_text(other)),
    }
}

/// Whether a streamed `.xlsx` cell reads as empty text (no cell is stored for it).
pub(crate) fn is_blank(value: &DataRef<'_>) -> bool {
    match value {
        DataRef::Empty => true,
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.is_empty(),
        DataRef::SharedString(s) => s.is_empty(),
        _ => false,
    }
}

/// A streamed `.xlsx` cell as text.
pub(crate) fn data_ref_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(d) => date_text(d),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
        DataRef::Empty => String::new(),
    }
}

/// An `.xls` cell as text.
pub(crate) fn data_text(value: &Data) -> String {
    match value {
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::String(s) => s.clone(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(d) => date_text(d),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
        Data::Empty => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_appended_in_place_read_as_cells_made_anew() {
        let shared = String::from("客户---K01---甲");
        let values = [
            DataRef::Int(-42),
            DataRef::Float(11300.0),
            DataRef::Float(-0.0),
            DataRef::Float(0.1 + 0.2),
            DataRef::Float(1e16),
            DataRef::String("记".into()),
            DataRef::SharedString(&shared),
            DataRef::Bool(true),
            DataRef::Empty,
        ];
        let mut out = String::from("left over");
        for v in &values {
            out.clear();
            push_data_ref_text(&mut out, v);
            assert_eq!(out, data_ref_text(v), "{v:?}");
            assert_eq!(is_blank(v), out.is_empty(), "{v:?}");
        }
    }

    #[test]
    fn numbers_read_as_excel_shows_them() {
        assert_eq!(number_text(0.0), "0");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(1e15), "1000000000000000");
        assert_eq!(number_text(1.005), "1.005");
        assert_eq!(number_text(100.0 * 1.1), "110");
        assert_eq!(number_text(0.07 * 3.0), "0.21");
        assert_eq!(number_text(7100.0 / 3.0), "2366.66666666667");
        assert_eq!(number_text(f64::NAN), "#NUM!");
    }
}
