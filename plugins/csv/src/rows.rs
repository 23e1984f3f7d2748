//! Splitting text into rows of cells: with the `csv` crate for comma, tab, semicolon and
//! pipe, by hand for running whitespace. Rows with no content are skipped; every row
//! carries the 1-based physical line it starts on.

use std::borrow::Cow;
use std::io::Cursor;

use ledgerlens_adapter::table::Cells;
use ledgerlens_adapter::Delimiter;

/// A row read by the `csv` crate: from UTF-8 text, or from GB18030 bytes with the row's
/// cells decoded in one pass (the only bytes below `0x40` inside a GB18030 character are
/// digits, so delimiters, quotes and line breaks split the raw bytes as they would split
/// the decoded text).
#[derive(Debug, Default)]
pub(crate) struct Fields {
    /// The row, from UTF-8 text.
    text: csv::StringRecord,
    /// The row's raw cells, from GB bytes.
    raw: csv::ByteRecord,
    /// The raw cells decoded, back to back, and where each ends.
    decoded: String,
    ends: Vec<usize>,
    /// Whether the row is read from GB bytes.
    gb: bool,
}

impl Fields {
    /// Where the row starts in the source.
    fn position(&self) -> Option<&csv::Position> {
        if self.gb {
            self.raw.position()
        } else {
            self.text.position()
        }
    }

    /// Decodes the raw cells.
    fn decode(&mut self) {
        self.decoded.clear();
        self.ends.clear();
        let raw = &self.raw;
        let mut at = (0..raw.len()).filter_map(|i| raw.range(i).map(|r| r.end));
        let ends = &mut self.ends;
        ledgerlens_adapter::push_gb_marked(
            raw.as_slice(),
            &mut at,
            |n| ends.push(n),
            &mut self.decoded,
        );
    }
}

impl Cells for Fields {
    #[inline]
    fn width(&self) -> usize {
        if self.gb {
            self.ends.len()
        } else {
            self.text.len()
        }
    }

    #[inline]
    fn cell(&self, i: usize) -> &str {
        if self.gb {
            let Some(&end) = self.ends.get(i) else {
                return "";
            };
            let start = match i.checked_sub(1) {
                Some(j) => self.ends.get(j).copied().unwrap_or(0),
                None => 0,
            };
            self.decoded.get(start..end).unwrap_or("")
        } else {
            self.text.get(i).unwrap_or("")
        }
    }
}

impl Cells for Whitespace<'_> {
    fn width(&self) -> usize {
        self.spans.len()
    }

    fn cell(&self, i: usize) -> &str {
        self.spans
            .get(i)
            .and_then(|&(start, end)| self.text.get(start..end))
            .unwrap_or("")
    }
}

/// What reading the next row gave.
pub(crate) enum Next {
    /// A row starting on this line; its cells are in the source.
    Row(u64),
    /// A row the csv reader could not read.
    Malformed {
        /// Line it starts on.
        line: u64,
        /// 0-based column where the problem is, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

/// A row source over the whole text (decoded, or GB bytes split as they are).
pub(crate) enum Rows<'a> {
    /// Runs of spaces and tabs.
    Whitespace(Whitespace<'a>),
    /// The `csv` crate.
    Delimited(Delimited<'a>),
}

impl<'a> Rows<'a> {
    /// Rows of `text` from byte `start` (the beginning of line `first_line`), split by
    /// `delimiter` (not `Auto`).
    pub(crate) fn new(
        text: Cow<'a, str>,
        start: usize,
        first_line: u64,
        delimiter: Delimiter,
    ) -> Rows<'a> {
        let byte = match delimiter {
            Delimiter::Comma | Delimiter::Auto => b',',
            Delimiter::Tab => b'\t',
            Delimiter::Semicolon => b';',
            Delimiter::Pipe => b'|',
            Delimiter::Whitespace => {
                return Rows::Whitespace(Whitespace {
                    text,
                    pos: start,
                    line: first_line.saturating_sub(1),
                    row_start: start,
                    spans: Vec::new(),
                })
            }
        };
        let bytes = match text {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        Rows::Delimited(Delimited::new(bytes, false, start, first_line, byte))
    }

    /// Rows of GB18030 `bytes` (checked: [`ledgerlens_adapter::check`]) from byte `start`
    /// (the beginning of line `first_line`), split at `delimiter` (comma, tab or
    /// semicolon: never a byte inside a GB18030 character) without decoding the text
    /// first; each row's cells are decoded as it is read.
    pub(crate) fn gb(bytes: &'a [u8], start: usize, first_line: u64, delimiter: u8) -> Rows<'a> {
        Rows::Delimited(Delimited::new(
            Cow::Borrowed(bytes),
            true,
            start,
            first_line,
            delimiter,
        ))
    }

    /// Moves to the next row with content.
    pub(crate) fn advance(&mut self) -> Option<Next> {
        match self {
            Rows::Whitespace(w) => w.advance().map(Next::Row),
            Rows::Delimited(d) => d.advance(),
        }
    }

    /// The current row's cells, trimmed, as owned strings (for the header).
    pub(crate) fn owned_cells(&self) -> Vec<String> {
        let mut cells = Vec::new();
        self.cells_into(&mut cells);
        cells
    }

    /// The current row's cells, trimmed, written over `out` (its strings reused).
    pub(crate) fn cells_into(&self, out: &mut Vec<String>) {
        fn fill(cells: &impl Cells, out: &mut Vec<String>) {
            let width = cells.width();
            out.truncate(width);
            for i in 0..width {
                let cell = cells.cell(i).trim_start_matches('\u{feff}').trim();
                match out.get_mut(i) {
                    Some(slot) => {
                        slot.clear();
                        slot.push_str(cell);
                    }
                    None => out.push(cell.to_string()),
                }
            }
        }
        match self {
            Rows::Whitespace(w) => fill(w, out),
            Rows::Delimited(d) => fill(&d.record, out),
        }
    }

    /// Makes the current row the next one again (after looking at it as a header).
    pub(crate) fn unread(&mut self) {
        match self {
            Rows::Whitespace(w) => {
                w.pos = w.row_start;
                w.line = w.line.saturating_sub(1);
            }
            Rows::Delimited(d) => d.pending = true,
        }
    }
}

/// The length of the cell `bytes` starts with: up to the first space, tab, CR, LF (or other
/// ASCII control byte). Eight bytes at a time: cells are mostly codes, dates and amounts.
fn cell_len(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        // The high bit of each byte below 0x21 (ASCII only; the lowest flagged byte is
        // exact, which is the one wanted).
        let low = word.wrapping_sub(ONES * 0x21) & !word & HIGH;
        if low != 0 {
            return i + (low.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && bytes[i] > b' ' {
        i += 1;
    }
    i
}

/// A blank between cells: space, tab, CR (any control byte counts).
#[inline]
fn is_blank(b: u8) -> bool {
    b <= b' ' && b != b'\n'
}

/// Lines split at runs of spaces and tabs; leading and trailing whitespace ignored.
/// (Other ASCII control bytes separate cells too.)
pub(crate) struct Whitespace<'a> {
    text: Cow<'a, str>,
    pos: usize,
    line: u64,
    row_start: usize,
    spans: Vec<(usize, usize)>,
}

impl Whitespace<'_> {
    /// Moves to the next line with cells and returns its number.
    pub(crate) fn advance(&mut self) -> Option<u64> {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() {
            self.row_start = self.pos;
            self.line += 1;
            self.spans.clear();
            let mut i = self.pos;
            loop {
                while i < bytes.len() && is_blank(bytes[i]) {
                    i += 1;
                }
                if i >= bytes.len() || bytes[i] == b'\n' {
                    break;
                }
                let end = i + bytes.get(i..).map_or(0, cell_len);
                self.spans.push((i, end));
                i = end;
            }
            self.pos = i + 1;
            if !self.spans.is_empty() {
                return Some(self.line);
            }
        }
        None
    }
}

/// Quoted delimited text, read with the `csv` crate.
pub(crate) struct Delimited<'a> {
    reader: csv::Reader<Cursor<Cow<'a, [u8]>>>,
    /// The current row.
    pub(crate) record: Fields,
    delimiter: u8,
    /// Where the reader started in the text, and that line's number.
    start: usize,
    first_line: u64,
    /// The current row's line.
    line: u64,
    pending: bool,
    done: bool,
}

impl<'a> Delimited<'a> {
    fn new(
        bytes: Cow<'a, [u8]>,
        gb: bool,
        start: usize,
        first_line: u64,
        delimiter: u8,
    ) -> Delimited<'a> {
        let mut cursor = Cursor::new(bytes);
        cursor.set_position(start as u64);
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(cursor);
        Delimited {
            reader,
            record: Fields {
                gb,
                ..Fields::default()
            },
            delimiter,
            start,
            first_line: first_line.max(1),
            line: first_line,
            pending: false,
            done: false,
        }
    }

    /// The line a record starting at `position` (relative to where reading started) is
    /// on. The `csv` crate's position is where it began reading the record, before any
    /// line breaks it skipped as empty lines (and a CRLF's LF); its line counts the LFs
    /// read up to there. Count the skipped ones too.
    fn line_at(&self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else {
            return self.line;
        };
        let bytes: &[u8] = self.reader.get_ref().get_ref();
        let from = usize::try_from(position.byte()).map_or(bytes.len(), |b| self.start + b);
        let skipped = bytes
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .filter(|&&b| b == b'\n')
            .count();
        (self.first_line - 1)
            .saturating_add(position.line())
            .saturating_add(skipped as u64)
    }

    /// Moves to the next record with content.
    pub(crate) fn advance(&mut self) -> Option<Next> {
        if self.pending {
            self.pending = false;
            return Some(Next::Row(self.line));
        }
        while !self.done {
            let before = self.reader.position().byte();
            let read = if self.record.gb {
                let read = self.reader.read_byte_record(&mut self.record.raw);
                if let Ok(true) = read {
                    self.record.decode();
                }
                read
            } else {
                self.reader.read_record(&mut self.record.text)
            };
            match read {
                Ok(false) => self.done = true,
                Ok(true) => {
                    let cells = &self.record;
                    if (0..cells.width()).all(|i| cells.cell(i).trim().is_empty()) {
                        continue;
                    }
                    let line = self.line_at(self.record.position());
                    self.line = line;
                    if let Some(column) = self.unterminated_quote() {
                        self.done = true;
                        return Some(Next::Malformed {
                            line,
                            column: Some(column),
                            message: format!(
                                "a quoted cell opened on line {line} is never closed: the rest of the file was read into it (an unescaped '\"'?)"
                            ),
                        });
                    }
                    return Some(Next::Row(line));
                }
                Err(e) => {
                    let line = self.line_at(e.position());
                    if self.reader.position().byte() == before {
                        self.done = true;
                    }
                    return Some(Next::Malformed {
                        line,
                        column: None,
                        message: e.to_string(),
                    });
                }
            }
        }
        None
    }

    /// When the current row is the last one, the 0-based column of a quoted cell it leaves
    /// open (the `csv` crate then reads the rest of the file into that cell, silently).
    fn unterminated_quote(&self) -> Option<usize> {
        let bytes: &[u8] = self.reader.get_ref().get_ref();
        let next = self.start + usize::try_from(self.reader.position().byte()).ok()?;
        if !bytes.get(next..)?.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let start = self.start + usize::try_from(self.record.position()?.byte()).ok()?;
        open_quote(bytes.get(start..)?, self.delimiter)
    }
}

/// Scans one record's raw bytes as the `csv` crate would and returns the 0-based column of
/// a quoted cell still open at the end.
fn open_quote(raw: &[u8], delimiter: u8) -> Option<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let mut column = 0;
    for &b in raw {
        state = match (state, b) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (_, b'\n' | b'\r') => {
                column = 0;
                State::FieldStart
            }
            (_, b) if b == delimiter => {
                column += 1;
                State::FieldStart
            }
            (State::FieldStart, b'"') => State::Quoted,
            _ => State::Unquoted,
        };
    }
    (state == State::Quoted).then_some(column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, delimiter: Delimiter) -> Vec<(u64, Vec<String>)> {
        drain(Rows::new(Cow::Borrowed(text), 0, 1, delimiter))
    }

    /// Every row left, as (line, cells) or a malformed marker.
    fn drain(mut rows: Rows<'_>) -> Vec<(u64, Vec<String>)> {
        let mut out = Vec::new();
        while let Some(next) = rows.advance() {
            match next {
                Next::Row(line) => out.push((line, rows.owned_cells())),
                Next::Malformed { line, column, .. } => {
                    out.push((line, vec![format!("malformed at {column:?}")]))
                }
            }
        }
        out
    }

    fn row(line: u64, cells: &[&str]) -> (u64, Vec<String>) {
        (line, cells.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn cell_len_stops_at_the_first_blank() {
        for (text, len) in [
            ("", 0),
            ("a", 1),
            ("0000001 1997", 7),
            ("19970101\r\n", 8),
            ("123456789abcdefgh", 17),
            ("123456789abcdef\tx", 15),
            ("杭州星河贸易 有限公司", "杭州星河贸易".len()),
            ("\u{a0}x\u{3000}y z", "\u{a0}x\u{3000}y".len()),
            ("!!!!!!!! x", 8),
            ("ab\x00cd", 2),
        ] {
            assert_eq!(cell_len(text.as_bytes()), len, "{text:?}");
        }
    }

    #[test]
    fn whitespace_rows_and_their_lines() {
        let text =
            " customer_id  date\r\n 00001 19970101  1   11.77\r\n\r\n   \n\t00002\t19970112 \n";
        assert_eq!(
            all(text, Delimiter::Whitespace),
            vec![
                row(1, &["customer_id", "date"]),
                row(2, &["00001", "19970101", "1", "11.77"]),
                row(5, &["00002", "19970112"]),
            ]
        );
    }

    #[test]
    fn delimited_rows_skip_blank_ones_and_keep_the_starting_line() {
        let text = "a,b\n\n,,\n\"x\ny\",2\r\n3, 4 \n";
        assert_eq!(
            all(text, Delimiter::Comma),
            vec![
                row(1, &["a", "b"]),
                row(4, &["x\ny", "2"]),
                row(6, &["3", "4"])
            ]
        );
    }

    #[test]
    fn an_unterminated_quote_is_malformed() {
        assert_eq!(
            all("a,b\n1,\"oops\n2,3\n", Delimiter::Comma),
            vec![row(1, &["a", "b"]), row(2, &["malformed at Some(1)"])]
        );
        // Quotes inside an unquoted cell and escaped quotes are fine.
        assert_eq!(
            all("a,12\" pizza,\"say \"\"hi\"\"\"\n", Delimiter::Comma),
            vec![row(1, &["a", "12\" pizza", "say \"hi\""])]
        );
        assert_eq!(open_quote(b"\"a;b\";\"c", b';'), Some(1));
        assert_eq!(open_quote(b"\"a;b\";\"c\"", b';'), None);
    }

    #[test]
    fn unread_gives_the_row_again() {
        for delimiter in [Delimiter::Whitespace, Delimiter::Tab] {
            let mut rows = Rows::new(Cow::Borrowed("\n\na\tb\nc\td\n"), 0, 1, delimiter);
            assert!(matches!(rows.advance(), Some(Next::Row(3))));
            rows.unread();
            assert!(matches!(rows.advance(), Some(Next::Row(3))));
            assert_eq!(rows.owned_cells(), ["a", "b"]);
            assert!(matches!(rows.advance(), Some(Next::Row(4))));
            assert!(rows.advance().is_none());
            assert!(rows.advance().is_none());
        }
    }

    /// Every row of GB bytes split raw, as (line, cells) or a malformed marker.
    fn all_gb(bytes: &[u8], delimiter: u8) -> Vec<(u64, Vec<String>)> {
        drain(Rows::gb(bytes, 0, 1, delimiter))
    }

    #[test]
    fn gb_bytes_split_raw_as_their_decoded_text() {
        for (text, delimiter) in [
            (
                "凭证日期,摘要,金额\r\n\r\n2025-01-15,\"亅乗, 销售\n第二行\",1\r\n,,\n 客户 ,\"说\"\"好\"\"\",3\n",
                Delimiter::Comma,
            ),
            ("日期\t摘要\n\n2025-01-15\t亅|乗\n", Delimiter::Tab),
            ("日期;摘要\n2025;\"未闭合\n下一行;2\n", Delimiter::Semicolon),
            ("€,亅\n", Delimiter::Comma),
        ] {
            let gb = encoding_rs::GB18030.encode(text).0.into_owned();
            let byte = match delimiter {
                Delimiter::Tab => b'\t',
                Delimiter::Semicolon => b';',
                _ => b',',
            };
            assert_eq!(all_gb(&gb, byte), all(text, delimiter), "{text:?}");
        }
        let rows = all_gb(&encoding_rs::GBK.encode("a,亅乗\n").0, b',');
        assert_eq!(rows, vec![row(1, &["a", "亅乗"])]);
    }

    #[test]
    fn rows_start_where_asked_with_the_line_offset() {
        let text = "title\n\nx y\n";
        let mut rows = Rows::new(Cow::Borrowed(text), 7, 3, Delimiter::Whitespace);
        assert!(matches!(rows.advance(), Some(Next::Row(3))));
        let mut rows = Rows::new(Cow::Borrowed(text), 7, 3, Delimiter::Comma);
        assert!(matches!(rows.advance(), Some(Next::Row(3))));
        assert_eq!(rows.owned_cells(), ["x y"]);
    }
}
