//! The two U8 layouts: how each is recognized, and the preset mapping it is read with
//! (merged with the source's own `columns:`).

use ledgerlens_adapter::{ColumnRef, Error, Field, Header, SourceOptions};

/// Which U8 export a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The voucher text import/export file: first line `填制凭证,V800`, then one
    /// comma-separated line per entry, no header.
    U8Text,
    /// A dump of the `GL_accvouch` table: a header row of its column names (`ccode`, `md`,
    /// `mc`, ...), one row per entry.
    GlAccvouch,
}

impl Layout {
    /// A name for people.
    pub fn name(self) -> &'static str {
        match self {
            Layout::U8Text => "Yonyou U8 voucher text (填制凭证)",
            Layout::GlAccvouch => "Yonyou U8 GL_accvouch table",
        }
    }
}

/// The first cell of a U8 voucher text file.
pub(crate) const U8_MARK: &str = "填制凭证";

/// The U8 voucher text fields, in file order (column 1 first).
pub(crate) const U8_FIELDS: [&str; 21] = [
    "制单日期",
    "凭证类别字",
    "凭证号",
    "附单据数",
    "摘要",
    "科目编码",
    "借方",
    "贷方",
    "数量",
    "外币",
    "汇率",
    "制单人",
    "结算方式",
    "票号",
    "发生日期",
    "部门编码",
    "个人编码",
    "客户编码",
    "供应商编码",
    "业务员",
    "项目编码",
];

/// A U8 text line needs at least this many fields (through 贷方); later ones may be left off.
pub(crate) const U8_MIN_FIELDS: usize = 8;

/// 1-based U8 text column of each field read.
const U8: [(Field, usize); 11] = [
    (Field::Date, 1),
    (Field::VoucherWord, 2),
    (Field::VoucherNumber, 3),
    (Field::Memo, 5),
    (Field::Account, 6),
    (Field::Debit, 7),
    (Field::Credit, 8),
    (Field::Quantity, 9),
    (Field::Department, 16),
    (Field::Customer, 18),
    (Field::Project, 21),
];

/// `GL_accvouch` column of each field read (matched without regard to case).
const GL: [(Field, &str); 14] = [
    (Field::Date, "dbill_date"),
    (Field::FiscalYear, "iyear"),
    (Field::FiscalPeriod, "iperiod"),
    (Field::VoucherWord, "csign"),
    (Field::VoucherNumber, "ino_id"),
    (Field::Line, "inid"),
    (Field::Account, "ccode"),
    (Field::Debit, "md"),
    (Field::Credit, "mc"),
    (Field::Memo, "cdigest"),
    (Field::Quantity, "nd_s"),
    (Field::Customer, "ccus_id"),
    (Field::Department, "cdept_id"),
    (Field::Project, "citem_id"),
];

/// `GL_accvouch` columns read besides the mapped ones.
pub(crate) const IFLAG: &str = "iflag";
/// The credit-side quantity, read when `nd_s` is empty or zero.
pub(crate) const CREDIT_QUANTITY: &str = "nc_s";

/// The layout a first row (U8 text) or a header row (`GL_accvouch`) announces. `first`:
/// whether the row is the first of the file, where the U8 mark must be.
pub(crate) fn layout_of(cells: &[String], first: bool) -> Option<Layout> {
    let mark = cells
        .first()
        .map(|c| c.trim_start_matches('\u{feff}').trim());
    if first && mark == Some(U8_MARK) {
        return Some(Layout::U8Text);
    }
    let has = |name: &str| position(cells, name).is_some();
    (has("ccode") && has("md") && has("mc")).then_some(Layout::GlAccvouch)
}

/// The index of a header cell, matched trimmed and without regard to ASCII case.
pub(crate) fn position(header: &[String], name: &str) -> Option<usize> {
    header
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(name.trim()))
}

/// The options a file is read with: the source's, its `columns` laid over the layout's
/// preset field by field, and the header setting the layout implies. `header`: the
/// `GL_accvouch` header row (trimmed cells).
pub(crate) fn options(
    layout: Layout,
    header: &[String],
    source: &SourceOptions,
) -> Result<SourceOptions, Error> {
    let mut options = source.clone();
    options.skip_rows = 0;
    let mut columns = preset(layout, header);
    if source.columns.contains_key(&Field::Voucher) {
        // `voucher` (one cell or [word, number]) replaces the preset word and number.
        columns.retain(|(f, _)| !matches!(f, Field::VoucherWord | Field::VoucherNumber));
    }
    options.columns = columns.into_iter().collect();
    match layout {
        Layout::U8Text => {
            options.header = Header::Absent;
            if let Some((field, column)) = source.columns.iter().find(|(_, c)| names_any(c)) {
                return Err(Error::Options {
                    source_name: source.name.clone(),
                    message: format!(
                        "{field}: '{column}' is a column name, but a U8 voucher text file has no header; map columns by number (1 = 制单日期 ... 21 = 项目编码)"
                    ),
                });
            }
            options.columns.extend(source.columns.clone());
        }
        Layout::GlAccvouch => {
            options.header = Header::Present;
            for (field, column) in &source.columns {
                options.columns.insert(*field, spelled(column, header));
            }
        }
    }
    Ok(options)
}

/// The layout's own mapping, for the columns this file has.
fn preset(layout: Layout, header: &[String]) -> Vec<(Field, ColumnRef)> {
    match layout {
        Layout::U8Text => U8
            .iter()
            .map(|&(field, n)| (field, ColumnRef::Index(n)))
            .collect(),
        Layout::GlAccvouch => {
            let mut columns: Vec<(Field, ColumnRef)> = GL
                .iter()
                .filter_map(|&(field, name)| {
                    let i = position(header, name)?;
                    let name = header.get(i)?.trim().to_string();
                    Some((field, ColumnRef::Name(name)))
                })
                .collect();
            // Year and period are read together or not at all.
            let has = |columns: &[(Field, ColumnRef)], f: Field| columns.iter().any(|c| c.0 == f);
            if has(&columns, Field::FiscalYear) != has(&columns, Field::FiscalPeriod) {
                columns.retain(|(f, _)| !matches!(f, Field::FiscalYear | Field::FiscalPeriod));
            }
            columns
        }
    }
}

/// Whether a column reference names a column (rather than numbering it).
fn names_any(column: &ColumnRef) -> bool {
    match column {
        ColumnRef::Name(_) => true,
        ColumnRef::Index(_) => false,
        ColumnRef::Many(parts) => parts.iter().any(names_any),
    }
}

/// A user's column with its name spelled as the header spells it (`CCODE` for `ccode`),
/// so names match without regard to case as the preset's do.
fn spelled(column: &ColumnRef, header: &[String]) -> ColumnRef {
    match column {
        ColumnRef::Name(name) if !header.iter().any(|h| h.trim() == name.as_str()) => {
            match position(header, name).and_then(|i| header.get(i)) {
                Some(found) => ColumnRef::Name(found.trim().to_string()),
                None => column.clone(),
            }
        }
        ColumnRef::Many(parts) => {
            ColumnRef::Many(parts.iter().map(|p| spelled(p, header)).collect())
        }
        _ => column.clone(),
    }
}

/// How a column is shown: its header name, or for U8 text its number and field name.
pub(crate) fn describe(layout: Layout, column: &ColumnRef) -> String {
    match (layout, column) {
        (Layout::U8Text, ColumnRef::Index(n)) => {
            match n.checked_sub(1).and_then(|i| U8_FIELDS.get(i)) {
                Some(name) => format!("{n} ({name})"),
                None => n.to_string(),
            }
        }
        (_, ColumnRef::Many(parts)) => {
            let parts: Vec<String> = parts.iter().map(|p| describe(layout, p)).collect();
            format!("[{}]", parts.join(", "))
        }
        (_, column) => column.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerlens_model::RecordType;

    fn cells(s: &[&str]) -> Vec<String> {
        s.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn layouts_from_first_rows() {
        assert_eq!(
            layout_of(&cells(&["\u{feff}填制凭证", "V800"]), true),
            Some(Layout::U8Text)
        );
        // The mark counts on the first row only.
        assert_eq!(layout_of(&cells(&["填制凭证", "V800"]), false), None);
        assert_eq!(
            layout_of(&cells(&["iperiod", "CCODE", "Md", "mc"]), false),
            Some(Layout::GlAccvouch)
        );
        assert_eq!(layout_of(&cells(&["iperiod", "ccode", "md"]), true), None);
        assert_eq!(layout_of(&[], true), None);
    }

    #[test]
    fn user_columns_replace_the_preset() {
        let header = cells(&[
            "iPeriod",
            "CCODE",
            "md",
            "mc",
            "dbill_date",
            "ino_id",
            "my_cus",
        ]);
        let mut source = SourceOptions::new("u8", RecordType::VoucherLine);
        source
            .columns
            .insert(Field::Customer, ColumnRef::Name("MY_CUS".into()));
        source
            .columns
            .insert(Field::Voucher, ColumnRef::Name("ino_id".into()));
        let o = options(Layout::GlAccvouch, &header, &source).unwrap();
        assert_eq!(o.columns[&Field::Account], ColumnRef::Name("CCODE".into()));
        assert_eq!(
            o.columns[&Field::Customer],
            ColumnRef::Name("my_cus".into())
        );
        assert!(!o.columns.contains_key(&Field::VoucherNumber));
        // iperiod without iyear: no fiscal period at all.
        assert!(!o.columns.contains_key(&Field::FiscalPeriod));
        assert_eq!(o.header, Header::Present);
    }

    #[test]
    fn u8_text_takes_numbered_columns_only() {
        let mut source = SourceOptions::new("u8", RecordType::VoucherLine);
        source.columns.insert(Field::Customer, ColumnRef::Index(19));
        let o = options(Layout::U8Text, &[], &source).unwrap();
        assert_eq!(o.columns[&Field::Customer], ColumnRef::Index(19));
        assert_eq!(o.columns[&Field::Debit], ColumnRef::Index(7));
        source
            .columns
            .insert(Field::Memo, ColumnRef::Name("摘要".into()));
        let err = options(Layout::U8Text, &[], &source).unwrap_err();
        assert!(err.to_string().contains("has no header"), "{err}");
        assert_eq!(
            describe(Layout::U8Text, &ColumnRef::Index(18)),
            "18 (客户编码)"
        );
        assert_eq!(describe(Layout::U8Text, &ColumnRef::Index(30)), "30");
    }
}
