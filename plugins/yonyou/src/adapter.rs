//! The adapter: find the layout, lay the source's columns over its preset, repair each row
//! for what the layout needs (U8 fields left off at the end, `NULL` cells, void and faulty
//! vouchers), then read the rows through the shared column mapping.

use ledgerlens_adapter::table::{self, RowCells};
use ledgerlens_adapter::{
    parse_decimal, Adapter, ColumnRef, Error, Field, Input, Item, SourceOptions,
};
use ledgerlens_model::{Diagnostic, RecordType};

use crate::layout::{self, Layout, CREDIT_QUANTITY, IFLAG, U8_FIELDS, U8_MIN_FIELDS};

/// The Yonyou U8 voucher adapter (`adapter: yonyou`). See the [crate documentation](crate).
#[derive(Debug, Clone, Copy, Default)]
pub struct YonyouAdapter;

/// How many rows are searched for a `GL_accvouch` header (title rows above it are dropped).
pub(crate) const HEADER_SEARCH: usize = 30;

impl Adapter for YonyouAdapter {
    fn name(&self) -> &'static str {
        "yonyou"
    }

    fn description(&self) -> &'static str {
        "Yonyou U8 voucher exports: 填制凭证 text (GBK or UTF-8) and GL_accvouch tables (CSV, .xlsx, .xls)"
    }

    fn read<'a>(
        &self,
        input: &'a Input,
        options: &'a SourceOptions,
    ) -> Result<Box<dyn Iterator<Item = Item> + Send + 'a>, Error> {
        let file = input.name.as_str();
        if options.record != RecordType::VoucherLine {
            return Err(Error::Options {
                source_name: options.name.clone(),
                message: format!(
                    "the yonyou adapter reads voucher lines (record: voucher-line), not {}",
                    options.record
                ),
            });
        }
        let mut next = ledgerlens_xlsx::rows_into(input, options)?;
        let found = find(&mut std::iter::from_fn(|| {
            let mut cells = Vec::new();
            Some(next(&mut cells)?.map(|line| (line, cells)))
        }));
        let (layout, line, cells, before) = match found {
            Found::Layout {
                layout,
                line,
                cells,
                before,
            } => (layout, line, cells, before),
            Found::Nothing { first } => return Err(not_u8(file, first.as_deref())),
        };
        let read_with = layout::options(layout, &cells, options)?;
        match layout {
            Layout::U8Text => {
                // The 填制凭证 line is not a data row.
                let repair = U8Text {
                    file: file.to_string(),
                    account: account_index(&read_with),
                };
                let data = repaired(before, None, next, move |line, cells| {
                    repair.apply(line, cells)
                });
                Ok(Box::new(table::read_rows_into(file, read_with, data)?))
            }
            Layout::GlAccvouch => {
                let repair = GlAccvouch::new(file, &cells, &read_with);
                let data = repaired(before, Some((line, cells)), next, move |line, cells| {
                    repair.apply(line, cells)
                });
                Ok(Box::new(table::read_rows_into(file, read_with, data)?))
            }
        }
    }
}

/// The rows the mapping reads, as a row source filling one reused row: `before` (rows
/// above the first, as read), `first` (the header), then each later row of `next`
/// repaired in place by `repair`.
fn repaired<'a>(
    before: Vec<RowCells>,
    first: Option<(u64, Vec<String>)>,
    mut next: table::NextRow<'a>,
    repair: impl Fn(u64, &mut Vec<String>) -> Result<(), Diagnostic> + Send + 'a,
) -> table::NextRow<'a> {
    let mut before = before.into_iter().chain(first.map(Ok));
    Box::new(move |cells: &mut Vec<String>| {
        if let Some(row) = before.next() {
            return Some(row.map(|(line, row)| {
                *cells = row;
                line
            }));
        }
        Some(next(cells)?.and_then(|line| repair(line, cells).map(|()| line)))
    })
}

/// What the first rows of a file say.
pub(crate) enum Found {
    /// A layout, its first row (the 填制凭证 line, or the `GL_accvouch` header) and the
    /// diagnostics of rows before it that could not be read.
    Layout {
        /// The layout.
        layout: Layout,
        /// 1-based row of the first row.
        line: u64,
        /// Its cells.
        cells: Vec<String>,
        /// Rows before it that could not be read (title rows are dropped).
        before: Vec<RowCells>,
    },
    /// Neither layout; the first row's cells, if the file has one.
    Nothing {
        /// The first row.
        first: Option<Vec<String>>,
    },
}

/// Reads rows until a layout shows: the U8 mark on the first row, or a `GL_accvouch`
/// header within [`HEADER_SEARCH`] rows.
pub(crate) fn find(rows: &mut dyn Iterator<Item = RowCells>) -> Found {
    let mut before = Vec::new();
    let mut first = None;
    let mut seen = 0;
    while seen < HEADER_SEARCH {
        match rows.next() {
            None => break,
            Some(Err(diagnostic)) => before.push(Err(diagnostic)),
            Some(Ok((line, cells))) => {
                if let Some(layout) = layout::layout_of(&cells, seen == 0) {
                    return Found::Layout {
                        layout,
                        line,
                        cells: cells.iter().map(|c| table::trim(c).to_string()).collect(),
                        before,
                    };
                }
                seen += 1;
                first.get_or_insert(cells);
            }
        }
    }
    Found::Nothing { first }
}

fn not_u8(file: &str, first: Option<&[String]>) -> Error {
    let shown = match first {
        Some(cells) => {
            let mut shown: Vec<&str> = cells.iter().take(8).map(|c| c.trim()).collect();
            if cells.len() > 8 {
                shown.push("...");
            }
            format!("its first row is: {}", shown.join(", "))
        }
        None => "it has no rows".to_string(),
    };
    Error::Malformed {
        file: file.to_string(),
        message: format!(
            "not a Yonyou U8 voucher export: expected the first line `{},V800` (U8 voucher text) or, within the first {HEADER_SEARCH} rows, a GL_accvouch header naming ccode, md and mc; {shown}",
            layout::U8_MARK
        ),
    }
}

/// The 0-based account column when it is the preset's (U8 column 6).
fn account_index(options: &SourceOptions) -> Option<usize> {
    match options.columns.get(&Field::Account) {
        Some(ColumnRef::Index(6)) => Some(5),
        _ => None,
    }
}

/// Repairs of U8 text lines.
struct U8Text {
    file: String,
    /// The account column when it is the preset's, for the misalignment check.
    account: Option<usize>,
}

impl U8Text {
    /// Pads a line with the fields it leaves off at the end (a line needs the first eight,
    /// through 贷方); refuses a line with more fields than the layout whose account cell is
    /// not an account code (a comma in the memo shifts every later field).
    fn apply(&self, line: u64, cells: &mut Vec<String>) -> Result<(), Diagnostic> {
        let width = U8_FIELDS.len();
        if cells.len() > width {
            let account = self.account.and_then(|i| cells.get(i));
            if let Some(account) = account.filter(|a| !is_account_code(a)) {
                return Err(Diagnostic::error(
                    "yonyou.misaligned_line",
                    format!(
                        "the line has {} fields, the U8 layout {width}, and its 科目编码 (field 6) is '{}', not an account code: a comma in the memo (摘要)? Remove it in U8 or in the file",
                        cells.len(),
                        account.trim()
                    ),
                )
                .in_file(self.file.as_str())
                .at_row(line));
            }
        } else if cells.len() >= U8_MIN_FIELDS {
            cells.resize(width, String::new());
        }
        Ok(())
    }
}

/// A U8 account code: digits (the 编码方案 levels run together, `600101`).
fn is_account_code(cell: &str) -> bool {
    let cell = cell.trim();
    !cell.is_empty() && cell.bytes().all(|b| b.is_ascii_digit())
}

/// Repairs of `GL_accvouch` rows.
struct GlAccvouch {
    file: String,
    /// `iflag` and its header spelling.
    iflag: Option<(usize, String)>,
    /// Voucher word and number cells, for messages.
    word: Option<usize>,
    number: Option<usize>,
    /// `nd_s` and `nc_s`, when quantity is read from the preset's `nd_s`.
    quantity: Option<(usize, usize)>,
}

impl GlAccvouch {
    fn new(file: &str, header: &[String], options: &SourceOptions) -> GlAccvouch {
        let index = |field: Field| match options.columns.get(&field) {
            Some(ColumnRef::Name(name)) => header.iter().position(|h| h == name),
            Some(ColumnRef::Index(n)) => n.checked_sub(1),
            _ => None,
        };
        let debit_quantity = match options.columns.get(&Field::Quantity) {
            Some(ColumnRef::Name(name)) if name.eq_ignore_ascii_case("nd_s") => {
                index(Field::Quantity)
            }
            _ => None,
        };
        GlAccvouch {
            file: file.to_string(),
            iflag: layout::position(header, IFLAG).and_then(|i| Some((i, header.get(i)?.clone()))),
            word: index(Field::VoucherWord),
            number: index(Field::VoucherNumber),
            quantity: debit_quantity.zip(layout::position(header, CREDIT_QUANTITY)),
        }
    }

    /// `NULL` cells become empty; a line of a void (`iflag` 1) or faulty (2) voucher
    /// becomes its diagnostic; a credit line's quantity moves from `nc_s` to `nd_s`.
    fn apply(&self, line: u64, cells: &mut Vec<String>) -> Result<(), Diagnostic> {
        for cell in cells.iter_mut() {
            if cell.trim().eq_ignore_ascii_case("NULL") {
                cell.clear();
            }
        }
        let cell = |i: Option<usize>| i.and_then(|i| cells.get(i)).map_or("", |c| c.trim());
        if let Some((i, label)) = &self.iflag {
            let flag = cell(Some(*i));
            let skipped = match flag {
                "1" => Some(("yonyou.void_voucher", "void (作废)")),
                "2" => Some(("yonyou.faulty_voucher", "faulty (有错)")),
                _ => None,
            };
            if let Some((code, what)) = skipped {
                let voucher = match (cell(self.word), cell(self.number)) {
                    ("", "") => "the voucher".to_string(),
                    ("", number) => format!("voucher {number}"),
                    (word, number) => format!("voucher {word}-{number}"),
                };
                return Err(Diagnostic::error(
                    code,
                    format!("{voucher} is {what} (iflag={flag}): its line is skipped"),
                )
                .in_file(self.file.as_str())
                .at_row(line)
                .at_column(label.as_str()));
            }
        }
        if let Some((debit, credit)) = self.quantity {
            let zero = |i: usize| {
                cells.get(i).is_none_or(|c| match parse_decimal(c) {
                    Ok(q) => q.is_none_or(|q| q.is_zero()),
                    Err(_) => false,
                })
            };
            if zero(debit) && !zero(credit) {
                if cells.len() <= debit {
                    cells.resize(debit + 1, String::new());
                }
                let moved = cells.get(credit).cloned().unwrap_or_default();
                if let Some(slot) = cells.get_mut(debit) {
                    *slot = moved;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(s: &[&str]) -> Vec<String> {
        s.iter().map(ToString::to_string).collect()
    }

    /// A repair applied to one row, as (line, cells) or its diagnostic.
    fn applied(
        repair: impl Fn(u64, &mut Vec<String>) -> Result<(), Diagnostic>,
        line: u64,
        mut cells: Vec<String>,
    ) -> RowCells {
        repair(line, &mut cells).map(|()| (line, cells))
    }

    #[test]
    fn gl_rows_are_repaired() {
        let header = cells(&[
            "iflag", "csign", "ino_id", "ccode", "md", "mc", "nd_s", "nc_s",
        ]);
        let mut source = SourceOptions::new("u8", RecordType::VoucherLine);
        source.columns.clear();
        let options = layout::options(Layout::GlAccvouch, &header, &source).unwrap();
        let repair = GlAccvouch::new("f.csv", &header, &options);
        let row = |c: &[&str]| applied(|l, c| repair.apply(l, c), 2, cells(c));
        let ok = row(&["NULL", "记", "3", "6001", "0", "100", "null", "5"]).unwrap();
        assert_eq!(ok.1, cells(&["", "记", "3", "6001", "0", "100", "5", "5"]));
        let kept = row(&["0", "记", "3", "1122", "100", "0", "2", "0"]).unwrap();
        assert_eq!(kept.1[6], "2");
        let void = row(&["1", "记", "3", "1122", "100", "0", "", ""]).unwrap_err();
        assert_eq!(void.code, "yonyou.void_voucher");
        assert_eq!(
            void.message,
            "voucher 记-3 is void (作废) (iflag=1): its line is skipped"
        );
        assert_eq!((void.row, void.column.as_deref()), (Some(2), Some("iflag")));
        let faulty = row(&[" 2 ", "", "4"]).unwrap_err();
        assert_eq!(faulty.code, "yonyou.faulty_voucher");
        assert!(
            faulty.message.starts_with("voucher 4 is faulty"),
            "{}",
            faulty.message
        );
    }

    #[test]
    fn u8_lines_are_padded_or_refused() {
        let repair = U8Text {
            file: "u8.txt".into(),
            account: Some(5),
        };
        let apply = |line, cells| applied(|l, c| repair.apply(l, c), line, cells);
        let short = apply(
            2,
            cells(&["2025-01-15", "记", "1", "0", "x", "1122", "1", "0"]),
        );
        assert_eq!(short.unwrap().1.len(), 21);
        let shorter = apply(3, cells(&["2025-01-15", "记"])).unwrap();
        assert_eq!(
            shorter.1.len(),
            2,
            "left for the mapping to report as a short row"
        );
        let mut shifted = cells(&[
            "2025-01-15",
            "记",
            "1",
            "0",
            "销售",
            "华东",
            "1122",
            "100",
            "0",
        ]);
        shifted.resize(22, String::new());
        let err = apply(4, shifted).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.row),
            ("yonyou.misaligned_line", Some(4))
        );
        let mut longer = cells(&["2025-01-15", "记", "1", "0", "销售", "1122", "100", "0"]);
        longer.resize(25, String::new());
        assert_eq!(apply(5, longer).unwrap().1.len(), 25);
    }
}
