//! The ledgerlens adapter for spreadsheets: any sheet of an `.xlsx` or `.xls` workbook,
//! read through the same column mapping as the CSV adapter.
//!
//! [`XlsxAdapter`] implements [`Adapter`] under the name
//! `xlsx`. What a file is comes from its first bytes, never its extension ([`detect`]):
//!
//! - a zip archive is an Office Open XML workbook (`.xlsx`), read as a stream of cells
//!   (a reader thread hands rows over a bounded channel, so memory does not grow with the
//!   sheet);
//! - an OLE2 compound file is a BIFF workbook (`.xls`, Excel 5.0/95 to 2003); 8-bit
//!   strings of old workbooks decode by the workbook's code page (936 is GBK), as
//!   calamine does it; an OLE2 file holding an `EncryptedPackage` (a password-protected
//!   `.xlsx`), or a BIFF workbook with a `FILEPASS` record, is refused with a message
//!   saying so;
//! - HTML (many Chinese web systems "export to Excel" as an HTML table saved as `.xls`)
//!   is read table row by table row (`<tr>`, `<td>`/`<th>`, `colspan` kept as empty
//!   cells), decoded by its `charset` (GBK, GB2312, GB18030 or UTF-8) or detected;
//! - anything else is delimited text (a CSV or tab-separated file named `.xls`), read by
//!   the CSV adapter's row reader.
//!
//! The sheet is `sheet:` in the source options (default: the first); a sheet that does not
//! exist is an error listing those that do. `skip_rows` drops sheet rows above the table
//! (a merged title row). Row numbers in diagnostics are the sheet's 1-based row numbers
//! (the table's line numbers for HTML and text). Cells become text before the mapping
//! reads them: numbers in their shortest exact decimal spelling (at most 15 significant
//! digits, what Excel shows), so `1234.5` is the decimal 1234.5, never a float; dates as
//! `YYYY-MM-DD` (with the time when it is not midnight); booleans `TRUE`/`FALSE`; error
//! cells as `#DIV/0!` and the like, which then fail to parse with the row's diagnostic.
//!
//! ```
//! use ledgerlens_xlsx::{detect, Format};
//! assert_eq!(detect(b"PK\x03\x04..."), Format::Xlsx);
//! assert_eq!(detect(b"\xEF\xBB\xBF<html><table>"), Format::Html);
//! assert_eq!(detect("日期,金额\n".as_bytes()), Format::Text);
//! ```
#![deny(missing_docs)]

mod cell;
mod html;

use std::io::Cursor;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use calamine::{Reader, Xls, XlsOptions, Xlsx};
use ledgerlens_adapter::table::{self, RowCells};
use ledgerlens_adapter::{Adapter, Error, Input, Item, SourceOptions};
use ledgerlens_model::Diagnostic;

pub use cell::number_text;

/// What a spreadsheet-ish file really is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A zip archive: Office Open XML (`.xlsx`).
    Xlsx,
    /// An OLE2 compound file: a BIFF workbook (`.xls`), or an encrypted `.xlsx`.
    Ole,
    /// An HTML page (a table exported "as Excel").
    Html,
    /// Anything else: delimited text.
    Text,
}

/// Tells the format from the first bytes.
pub fn detect(bytes: &[u8]) -> Format {
    if bytes.starts_with(b"PK\x03\x04") {
        return Format::Xlsx;
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Format::Ole;
    }
    let head = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &head[..head.len().min(512)];
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let lower: Vec<u8> = head[start..].iter().map(u8::to_ascii_lowercase).collect();
    let html = [
        b"<html".as_slice(),
        b"<!doctype html",
        b"<table",
        b"<meta",
        b"<head",
    ];
    if html.iter().any(|tag| lower.starts_with(tag)) {
        Format::Html
    } else {
        Format::Text
    }
}

/// The spreadsheet adapter (`adapter: xlsx`). See the [crate documentation](crate).
#[derive(Debug, Clone, Copy, Default)]
pub struct XlsxAdapter;

impl Adapter for XlsxAdapter {
    fn name(&self) -> &'static str {
        "xlsx"
    }

    fn description(&self) -> &'static str {
        "spreadsheets: any sheet of an .xlsx or .xls workbook (old GBK .xls too), or an HTML or text file saved as .xls"
    }

    fn read<'a>(
        &self,
        input: &'a Input,
        options: &'a SourceOptions,
    ) -> Result<Box<dyn Iterator<Item = Item> + Send + 'a>, Error> {
        table::check(options)?;
        let rows = rows(input, options)?;
        Ok(Box::new(table::read_rows(&input.name, options, rows)?))
    }
}

/// The rows of the file's sheet (or HTML table, or text) as owned cells with their
/// 1-based row numbers, after `skip_rows`: what ERP adapters with layouts of their own
/// read spreadsheets with. Rows with no content are skipped.
pub fn rows<'a>(
    input: &'a Input,
    options: &SourceOptions,
) -> Result<Box<dyn Iterator<Item = RowCells> + Send + 'a>, Error> {
    let file = input.name.as_str();
    let keep = keep_row(options);
    match detect(&input.bytes) {
        Format::Xlsx => Ok(Box::new(padded(xlsx_rows(input, options)?.0.filter(keep)))),
        Format::Ole => Ok(Box::new(padded(
            xls_rows(input, options)?.into_iter().filter(keep),
        ))),
        Format::Html => {
            let rows = html::rows(file, &input.bytes, options.encoding)?;
            Ok(Box::new(padded(rows.into_iter().map(Ok).filter(keep))))
        }
        Format::Text => Ok(Box::new(ledgerlens_csv::text_rows(input, options)?)),
    }
}

/// [`rows`] as a row source that fills one reused row of cells
/// ([`NextRow`](table::NextRow)): delimited text is split straight into it
/// ([`ledgerlens_csv::text_rows_into`]); the other formats' rows are moved in.
pub fn rows_into<'a>(
    input: &'a Input,
    options: &SourceOptions,
) -> Result<table::NextRow<'a>, Error> {
    match detect(&input.bytes) {
        Format::Text => return ledgerlens_csv::text_rows_into(input, options),
        Format::Xlsx => {
            // The cells taken out of the reused row go back to the reader thread, which
            // writes the next rows into them: no allocation per cell or row.
            let (rows, back) = xlsx_rows(input, options)?;
            let keep = keep_row(options);
            let mut rows = padded(rows.filter(keep)).fuse();
            let mut spent: SpentRows = Vec::with_capacity(ROWS_PER_CHUNK);
            return Ok(Box::new(move |cells: &mut Vec<String>| {
                Some(rows.next()?.map(|(line, row)| {
                    let old = std::mem::replace(cells, row);
                    if old.capacity() > 0 {
                        spent.push(old);
                    }
                    if spent.len() >= ROWS_PER_CHUNK {
                        let full =
                            std::mem::replace(&mut spent, Vec::with_capacity(ROWS_PER_CHUNK));
                        // A full channel: the reader thread has rows enough to reuse.
                        let _ = back.try_send(full);
                    }
                    line
                }))
            }));
        }
        Format::Ole | Format::Html => {}
    }
    let mut rows = rows(input, options)?.fuse();
    Ok(Box::new(move |cells: &mut Vec<String>| {
        Some(rows.next()?.map(|(line, row)| {
            *cells = row;
            line
        }))
    }))
}

/// Which rows [`rows`] keeps: after `skip_rows`, with some content (and every
/// diagnostic).
fn keep_row(options: &SourceOptions) -> impl Fn(&RowCells) -> bool + Send + Clone {
    let skip = u64::try_from(options.skip_rows).unwrap_or(u64::MAX);
    move |row: &RowCells| match row {
        Ok((line, cells)) => *line > skip && cells.iter().any(|c| !c.trim().is_empty()),
        Err(_) => true,
    }
}

/// Rows widened with empty cells to the widest row so far (the header, in practice). A
/// workbook stores no cell for a blank one, so a row whose last cells are blank comes out
/// short; in a sheet that means "empty", never "missing".
fn padded(rows: impl Iterator<Item = RowCells>) -> impl Iterator<Item = RowCells> {
    let mut widest = 0;
    rows.map(move |row| {
        row.map(|(line, mut cells)| {
            widest = widest.max(cells.len());
            cells.resize(widest, String::new());
            (line, cells)
        })
    })
}

fn malformed(file: &str, message: impl std::fmt::Display) -> Error {
    Error::Malformed {
        file: file.to_string(),
        message: message.to_string(),
    }
}

fn password(file: &str) -> Error {
    malformed(
        file,
        "the workbook is password-protected; open it in Excel, remove the password (File > Info > Protect Workbook) and export it again",
    )
}

/// The sheet to read: `sheet:` or the first, checked against the workbook's sheets.
fn sheet_name(file: &str, options: &SourceOptions, names: &[String]) -> Result<String, Error> {
    match &options.sheet {
        Some(wanted) if names.iter().any(|n| n == wanted) => Ok(wanted.clone()),
        Some(wanted) => Err(Error::Options {
            source_name: options.name.clone(),
            message: format!(
                "{file}: the workbook has no sheet '{wanted}'; its sheets are: {}",
                names.join(", ")
            ),
        }),
        None => names
            .first()
            .cloned()
            .ok_or_else(|| malformed(file, "the workbook has no sheets")),
    }
}

/// Whether a zip archive (a local file header first) lacks the end-of-central-directory
/// record a complete archive ends with (in its last 64 KiB + 22 bytes): a cut-off copy.
fn truncated_zip(bytes: &[u8]) -> bool {
    const EOCD: &[u8] = b"PK\x05\x06";
    let tail = &bytes[bytes.len().saturating_sub(65_536 + 22)..];
    bytes.starts_with(b"PK\x03\x04") && !tail.windows(EOCD.len()).any(|w| w == EOCD)
}

/// Rows whose cells the reader thread may overwrite (sent back in batches).
type SpentRows = Vec<Vec<String>>;

/// An `.xlsx` sheet as a stream: a thread reads the cells and sends whole rows over a
/// bounded channel. Rows sent back over the returned sender (in batches) are reused for
/// the rows to come, their cells overwritten.
fn xlsx_rows(
    input: &Input,
    options: &SourceOptions,
) -> Result<(impl Iterator<Item = RowCells>, SyncSender<SpentRows>), Error> {
    let file = input.name.clone();
    let mut workbook = Xlsx::new(Cursor::new(input.bytes.clone())).map_err(|e| match e {
        calamine::XlsxError::Password => password(&file),
        _ if truncated_zip(&input.bytes) => malformed(
            &file,
            "not a readable .xlsx workbook: the file is truncated (the zip archive ends before its directory); copy or export it again",
        ),
        e => malformed(&file, format!("not a readable .xlsx workbook: {e}")),
    })?;
    let sheet = sheet_name(&file, options, &workbook.sheet_names())?;
    // Rows travel in chunks: one message per row costs more in thread wake-ups than
    // reading the row does.
    let (tx, rx) = sync_channel::<Vec<RowCells>>(16);
    let (back, spent) = sync_channel::<SpentRows>(4);
    std::thread::spawn(move || {
        // Rows to reuse: their cells are cleared, not dropped, so their strings keep
        // their memory. A reused row may be wider than the sheet's row; `padded` widens
        // every row to the widest anyway, and the extra cells are empty.
        let mut pool: SpentRows = Vec::new();
        let mut fresh_row = |width: usize| -> Vec<String> {
            if pool.is_empty() {
                if let Ok(more) = spent.try_recv() {
                    pool = more;
                }
            }
            match pool.pop() {
                Some(mut cells) => {
                    cells.iter_mut().for_each(String::clear);
                    cells
                }
                None => Vec::with_capacity(width),
            }
        };
        let mut reader = match workbook.worksheet_cells_reader(&sheet) {
            Ok(reader) => reader,
            Err(e) => {
                let _ = tx.send(vec![Err(broken(&file, None, e))]);
                return;
            }
        };
        let mut chunk = Vec::with_capacity(ROWS_PER_CHUNK);
        let mut current: Option<(u64, Vec<String>)> = None;
        let mut width = 0;
        loop {
            match reader.next_cell() {
                Ok(Some(cell)) => {
                    let (row, col) = cell.get_position();
                    let line = u64::from(row) + 1;
                    if current.as_ref().is_some_and(|(l, _)| *l != line) {
                        if let Some(done) = current.take() {
                            width = width.max(done.1.len());
                            chunk.push(Ok(done));
                            if chunk.len() >= ROWS_PER_CHUNK {
                                let full = std::mem::replace(
                                    &mut chunk,
                                    Vec::with_capacity(ROWS_PER_CHUNK),
                                );
                                if tx.send(full).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    let (_, cells) = current.get_or_insert_with(|| (line, fresh_row(width)));
                    let col = usize::try_from(col).unwrap_or(usize::MAX);
                    let value = cell.get_value();
                    if cell::is_blank(value) {
                        continue;
                    }
                    if cells.len() <= col {
                        cells.resize(col.saturating_add(1), String::new());
                    }
                    if let Some(slot) = cells.get_mut(col) {
                        slot.clear();
                        cell::push_data_ref_text(slot, value);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let line = current.as_ref().map(|(l, _)| *l);
                    chunk.push(Err(broken(&file, line, e)));
                    let _ = tx.send(chunk);
                    return;
                }
            }
        }
        if let Some(done) = current {
            chunk.push(Ok(done));
        }
        let _ = tx.send(chunk);
    });
    Ok((
        Received {
            rx,
            chunk: Vec::new().into_iter(),
        },
        back,
    ))
}

/// Rows per message from the reader thread.
const ROWS_PER_CHUNK: usize = 256;

/// A sheet that breaks off mid-way: one diagnostic, after the rows read before it.
fn broken(file: &str, line: Option<u64>, e: impl std::fmt::Display) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "adapter.malformed",
        format!("the sheet cannot be read past this point: {e}"),
    )
    .in_file(file);
    match line {
        Some(line) => diagnostic.at_row(line),
        None => diagnostic,
    }
}

/// The rows a reader thread sends, a chunk at a time.
struct Received {
    rx: Receiver<Vec<RowCells>>,
    chunk: std::vec::IntoIter<RowCells>,
}

impl Iterator for Received {
    type Item = RowCells;

    fn next(&mut self) -> Option<RowCells> {
        loop {
            if let Some(row) = self.chunk.next() {
                return Some(row);
            }
            self.chunk = self.rx.recv().ok()?.into_iter();
        }
    }
}

/// An `.xls` sheet (or the refusal of an encrypted workbook).
fn xls_rows(input: &Input, options: &SourceOptions) -> Result<Vec<RowCells>, Error> {
    let file = input.name.as_str();
    if contains_utf16(&input.bytes, "EncryptedPackage") {
        return Err(password(file));
    }
    // calamine reads the 8-bit strings of a BIFF5 workbook in a double-byte code page
    // (936 GBK, ...) as if they were compressed UTF-16: read them byte for byte
    // (windows-1252, which maps every byte to its own character) and decode them here.
    let dbcs = biff5_double_byte(&input.bytes);
    let mut xls_options = XlsOptions::default();
    if dbcs.is_some() {
        xls_options.force_codepage = Some(1252);
    }
    let fix = |s: &str| match dbcs {
        Some(encoding) => {
            let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(s);
            encoding.decode_without_bom_handling(&bytes).0.into_owned()
        }
        None => s.to_string(),
    };
    let mut workbook = Xls::new_with_options(Cursor::new(input.bytes.as_slice()), xls_options)
        .map_err(|e| match e {
            calamine::XlsError::Password => password(file),
            e => malformed(file, format!("not a readable .xls workbook: {e}")),
        })?;
    let raw_names = workbook.sheet_names();
    let names: Vec<String> = raw_names.iter().map(|n| fix(n)).collect();
    let sheet = sheet_name(file, options, &names)?;
    let sheet = names
        .iter()
        .position(|n| *n == sheet)
        .and_then(|i| raw_names.get(i).cloned())
        .unwrap_or(sheet);
    let range = workbook
        .worksheet_range(&sheet)
        .map_err(|e| malformed(file, format!("sheet '{sheet}': {e}")))?;
    let (top, left) = range.start().unwrap_or((0, 0));
    let left = usize::try_from(left).unwrap_or(0);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let line = u64::from(top) + i as u64 + 1;
            let mut cells = vec![String::new(); left];
            cells.extend(row.iter().map(|value| match value {
                calamine::Data::String(s) => fix(s),
                other => cell::data_text(other),
            }));
            while cells.last().is_some_and(String::is_empty) {
                cells.pop();
            }
            Ok((line, cells))
        })
        .collect())
}

/// The double-byte code page of an Excel 5.0/95 (BIFF5) workbook, from its BOF and
/// CODEPAGE records (found in the raw bytes: old workbooks store their stream in order).
fn biff5_double_byte(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let biff5 = bytes
        .windows(6)
        .any(|w| w[0] == 0x09 && w[1] == 0x08 && w[3] == 0 && w[4] == 0 && w[5] == 0x05);
    if !biff5 {
        return None;
    }
    let codepage = bytes
        .windows(6)
        .find(|w| w[..4] == [0x42, 0x00, 0x02, 0x00])
        .map(|w| u16::from_le_bytes([w[4], w[5]]))?;
    match codepage {
        936 => Some(encoding_rs::GBK),
        950 => Some(encoding_rs::BIG5),
        932 => Some(encoding_rs::SHIFT_JIS),
        949 => Some(encoding_rs::EUC_KR),
        _ => None,
    }
}

/// Whether `bytes` hold `text` in UTF-16LE (a name in an OLE2 directory).
fn contains_utf16(bytes: &[u8], text: &str) -> bool {
    let needle: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    bytes.windows(needle.len()).any(|w| w == needle.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_first_bytes() {
        assert_eq!(detect(b"PK\x03\x04rest"), Format::Xlsx);
        assert_eq!(
            detect(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]),
            Format::Ole
        );
        assert_eq!(detect(b"  \r\n<!DOCTYPE html><html>"), Format::Html);
        assert_eq!(detect(b"<TABLE border=1><tr>"), Format::Html);
        assert_eq!(detect(b"a\tb\n1\t2\n"), Format::Text);
        assert_eq!(detect(b""), Format::Text);
    }

    #[test]
    fn utf16_names_are_found() {
        let mut bytes = vec![0u8; 10];
        bytes.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        assert!(contains_utf16(&bytes, "EncryptedPackage"));
        assert!(!contains_utf16(b"EncryptedPackage", "EncryptedPackage"));
    }

    #[test]
    fn rows_with_blank_last_cells_are_widened() {
        let row = |line: u64, cells: &[&str]| -> RowCells {
            Ok((line, cells.iter().map(|c| c.to_string()).collect()))
        };
        let rows = vec![
            row(1, &["title"]),
            row(2, &["日期", "借方", "贷方"]),
            row(3, &["2025-01-08", "100"]),
            Err(Diagnostic::error("x", "y")),
            row(5, &["2025-01-08", "", "100"]),
        ];
        let got: Vec<RowCells> = padded(rows.into_iter()).collect();
        assert_eq!(got[0], row(1, &["title"]));
        assert_eq!(got[2], row(3, &["2025-01-08", "100", ""]));
        assert!(got[3].is_err());
        assert_eq!(got[4], row(5, &["2025-01-08", "", "100"]));
    }
}
