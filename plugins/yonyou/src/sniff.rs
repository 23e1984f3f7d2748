//! Telling which U8 layout a file is, and how it would be read, without reading it all.

use ledgerlens_adapter::{decode, Input, SourceOptions};
use ledgerlens_xlsx::{detect, Format};

use crate::adapter::{find, Found};
use crate::layout::{self, Layout};

/// What [`sniff`] found: the layout, the file's encoding, where its header is, and the
/// mapping the adapter reads it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// The layout.
    pub layout: Layout,
    /// The text encoding (`utf-8`, `utf-8-bom`, `gbk`, `gb18030`) of a text file; `None`
    /// for a workbook or an HTML table.
    pub encoding: Option<&'static str>,
    /// 1-based row of the `GL_accvouch` header; `None` for U8 text, which has none.
    pub header_row: Option<u64>,
    /// Field name and the column it is read from (a header name, or for U8 text the
    /// column number and the U8 field name, `18 (客户编码)`), in field order: the layout's
    /// preset with the source's `columns:` laid over it.
    pub columns: Vec<(String, String)>,
}

/// Tells whether a file is a U8 voucher export and how the adapter would read it with
/// `options` (its `encoding`, `sheet`, `skip_rows` and `columns`). `None` when the file is
/// neither layout, cannot be decoded, or the options do not fit it.
///
/// ```
/// use ledgerlens_adapter::{Input, SourceOptions};
/// use ledgerlens_model::RecordType;
/// use ledgerlens_yonyou::{sniff, Layout};
///
/// let input = Input {
///     name: "gl.csv".into(),
///     bytes: "iperiod,csign,ino_id,dbill_date,ccode,md,mc,iyear\n1,记,1,2025-01-15,1122,100,0,2025\n".into(),
/// };
/// let options = SourceOptions::new("u8", RecordType::VoucherLine);
/// let found = sniff(&input, &options).unwrap();
/// assert_eq!(found.layout, Layout::GlAccvouch);
/// assert_eq!((found.encoding, found.header_row), (Some("utf-8"), Some(1)));
/// assert!(found.columns.contains(&("account".to_string(), "ccode".to_string())));
/// ```
pub fn sniff(input: &Input, options: &SourceOptions) -> Option<Sniffed> {
    let mut rows = ledgerlens_xlsx::rows(input, options).ok()?;
    let Found::Layout {
        layout,
        line,
        cells,
        ..
    } = find(&mut rows)
    else {
        return None;
    };
    let read_with = layout::options(layout, &cells, options).ok()?;
    let encoding = match detect(&input.bytes) {
        Format::Text => Some(
            decode(&input.name, &input.bytes, options.encoding)
                .ok()?
                .encoding,
        ),
        Format::Xlsx | Format::Ole | Format::Html => None,
    };
    Some(Sniffed {
        layout,
        encoding,
        header_row: (layout == Layout::GlAccvouch).then_some(line),
        columns: read_with
            .columns
            .iter()
            .map(|(field, column)| (field.name(), layout::describe(layout, column)))
            .collect(),
    })
}
