//! The column mapping, checked against the record type and resolved once per file to cell
//! indices, so reading a row never looks a column up by name.

use std::borrow::Cow;

use crate::{ColumnRef, Error, Field, Header, SourceOptions};
use ledgerlens_model::{Period, RecordType};

use super::value;

/// The fields each record type reads, in a fixed order (the order `resolve` visits them).
/// Adapters whose records name their fields (JSON Lines) use it to know which names a
/// record type accepts without listing them again.
#[rustfmt::skip]
pub fn fields(record: RecordType) -> &'static [Field] {
    use Field::*;
    match record {
        RecordType::Transaction => &[
            Date, Amount, Currency, Quantity, Document, Memo, Kind,
            Product, Channel, Campaign, Region, Department, Project,
            Customer, CustomerName, CustomerPhone, CustomerUscc,
        ],
        RecordType::VoucherLine => &[
            Date, FiscalYear, FiscalPeriod, Voucher, VoucherWord, VoucherNumber, Line,
            Account, AccountName, Debit, Credit, Memo, Quantity, Currency,
            Customer, CustomerName, CustomerPhone, CustomerUscc,
            Product, Channel, Campaign, Region, Department, Project,
        ],
        RecordType::Customer => &[
            Code, Name, Phone, Uscc, Region, Channel, Campaign, FirstSeen, CreditLimit, Tags,
        ],
        RecordType::Spend => &[Date, Channel, Campaign, Amount, Currency],
        RecordType::Budget => &[Dimension, Key, Period, Amount, Currency],
        RecordType::CostPool => &[Pool, Period, Amount, Currency],
        RecordType::Activity => &[
            Customer, CustomerName, CustomerPhone, CustomerUscc, Activity, Date, Count,
        ],
    }
}

/// A resolved column: its 0-based index and the name diagnostics use for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Col {
    /// 0-based cell index.
    pub index: usize,
    /// Header name, or the 1-based number when there is no header.
    pub label: String,
}

/// Where a field's value comes from: a column, a default, or both (the default fills empty
/// cells).
#[derive(Debug, Clone, Default)]
pub(crate) struct Slot {
    /// The column, when mapped.
    pub col: Option<Col>,
    /// The constant from `defaults`.
    pub default: Option<String>,
}

/// How the voucher word and number are read.
#[derive(Debug, Clone)]
pub(crate) enum Voucher {
    /// `voucher: [凭证字, 凭证号]`.
    Pair(Col, Col),
    /// `voucher: 凭证号` holding `记-12` (or just `12`), or a default.
    Combined(Slot),
    /// `voucher_word` (optional) and `voucher_number`.
    Separate,
}

/// The mapping of one file, resolved.
#[derive(Debug)]
pub struct Plan<'a> {
    /// File name, for diagnostics.
    pub(crate) file: Cow<'a, str>,
    /// The source options.
    pub(crate) options: Cow<'a, SourceOptions>,
    slots: Vec<Option<Slot>>,
    /// Voucher word and number (voucher lines).
    pub(crate) voucher: Voucher,
    /// Whether any dimension (product, channel, ...) is mapped or has a default.
    pub(crate) has_dims: bool,
    /// Attribute columns (customer records).
    pub(crate) attributes: Vec<(String, Col)>,
    /// Every mapped column and the field it is mapped to, by index, for the short-row
    /// check.
    pub(crate) columns: Vec<(Col, String)>,
    /// The header's cells, when the file has one.
    header: Option<Vec<String>>,
}

impl<'a> Plan<'a> {
    /// The slot of a field, when it is mapped or has a default.
    pub(crate) fn slot(&self, field: Field) -> Option<&Slot> {
        self.slots.get(field as usize).and_then(Option::as_ref)
    }

    /// Whether a field has a column or a default.
    pub(crate) fn has(&self, field: Field) -> bool {
        self.slot(field).is_some()
    }

    /// The file name diagnostics give.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The diagnostic name of 0-based column `index`.
    pub fn label(&self, index: usize) -> String {
        label(self.header.as_deref(), index)
    }
}

fn label(header: Option<&[String]>, index: usize) -> String {
    match header.and_then(|h| h.get(index)) {
        Some(name) if !name.is_empty() => name.clone(),
        _ => (index + 1).to_string(),
    }
}

fn options_error(options: &SourceOptions, message: String) -> Error {
    Error::Options {
        source_name: options.name.clone(),
        message,
    }
}

fn is_mapped(options: &SourceOptions, field: Field) -> bool {
    options.columns.contains_key(&field) || options.defaults.contains_key(&field)
}

/// Checks the options against the record type before the file is read: every field is
/// one the record type reads, the required ones are there, column numbers start at 1,
/// defaults parse.
pub fn check(options: &SourceOptions) -> Result<(), Error> {
    let record = options.record;
    let allowed = fields(record);
    let names = |fs: &[Field]| fs.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ");
    let foreign: Vec<Field> = options
        .columns
        .keys()
        .chain(options.defaults.keys())
        .filter(|f| !allowed.contains(f))
        .copied()
        .collect();
    if !foreign.is_empty() {
        return Err(options_error(
            options,
            format!(
                "{record} records do not read {} (they read: {})",
                names(&foreign),
                names(allowed)
            ),
        ));
    }
    let mut missing: Vec<String> = Field::required(record)
        .iter()
        .filter(|f| !is_mapped(options, **f))
        .map(|f| f.name())
        .collect();
    let no_kind = options.kind.is_none() && !is_mapped(options, Field::Kind);
    if record == RecordType::Transaction && no_kind {
        missing.push("kind (a column, a default, or `kind:` for the whole source)".into());
    }
    if record == RecordType::VoucherLine {
        for field in [Field::Debit, Field::Credit] {
            if !is_mapped(options, field) {
                missing.push(field.name());
            }
        }
        if !is_mapped(options, Field::Voucher) && !is_mapped(options, Field::VoucherNumber) {
            missing.push("voucher (or voucher_number)".into());
        }
        if is_mapped(options, Field::FiscalYear) != is_mapped(options, Field::FiscalPeriod) {
            return Err(options_error(
                options,
                "fiscal_year and fiscal_period are mapped together or not at all".into(),
            ));
        }
    }
    if !missing.is_empty() {
        return Err(options_error(
            options,
            format!(
                "{record} records need columns (or defaults) for: {}",
                missing.join(", ")
            ),
        ));
    }
    if !options.attributes.is_empty() && record != RecordType::Customer {
        return Err(options_error(
            options,
            "attributes are kept for customer records only".into(),
        ));
    }
    for (field, column) in &options.columns {
        check_column(options, *field, column)?;
    }
    for (field, raw) in &options.defaults {
        check_default(options, *field, raw)?;
    }
    Ok(())
}

fn check_column(options: &SourceOptions, field: Field, column: &ColumnRef) -> Result<(), Error> {
    match column {
        ColumnRef::Index(0) => Err(options_error(
            options,
            format!("{field}: columns are numbered from 1"),
        )),
        ColumnRef::Index(_) | ColumnRef::Name(_) => Ok(()),
        ColumnRef::Many(parts) if field == Field::Voucher && parts.len() == 2 => {
            for part in parts {
                if matches!(part, ColumnRef::Many(_)) {
                    return Err(options_error(
                        options,
                        "voucher: [word, number] takes two plain columns".into(),
                    ));
                }
                check_column(options, field, part)?;
            }
            Ok(())
        }
        ColumnRef::Many(_) if field == Field::Voucher => Err(options_error(
            options,
            "voucher: a list names two columns, [word, number]".into(),
        )),
        ColumnRef::Many(_) => Err(options_error(
            options,
            format!("{field}: only voucher takes a list of columns ([word, number])"),
        )),
    }
}

fn check_default(options: &SourceOptions, field: Field, raw: &str) -> Result<(), Error> {
    let raw = raw.trim();
    let parsed = match field {
        Field::Date | Field::FirstSeen => {
            value::date(raw, options.date_format.as_deref()).map(drop)
        }
        Field::Amount | Field::Debit | Field::Credit | Field::CreditLimit => {
            value::amount(raw).map(drop)
        }
        Field::Quantity | Field::Count => value::number(raw).map(drop),
        Field::Period => raw.parse::<Period>().map(drop),
        Field::Kind => super::build::kind(options, raw).map(drop),
        _ => Ok(()),
    };
    parsed.map_err(|e| options_error(options, format!("defaults.{field}: {e}")))
}

/// Every header name the options use: mapped columns, then attributes.
fn named(options: &SourceOptions) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (field, column) in &options.columns {
        let parts = match column {
            ColumnRef::Many(parts) => parts.as_slice(),
            one => std::slice::from_ref(one),
        };
        for part in parts {
            if let ColumnRef::Name(name) = part {
                out.push((name.clone(), field.name()));
            }
        }
    }
    for name in &options.attributes {
        out.push((name.clone(), "attributes".to_string()));
    }
    out
}

/// Whether the first row (at `line`, with trimmed `cells`) is a header.
pub fn is_header(
    options: &SourceOptions,
    file: &str,
    line: u64,
    cells: &[String],
) -> Result<bool, Error> {
    let names = named(options);
    match options.header {
        Header::Present => Ok(true),
        Header::Absent if !names.is_empty() => Err(options_error(
            options,
            format!(
                "columns are mapped by name ({}) but the source says `header: absent`; map them by number or drop `header`",
                names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
        Header::Absent => Ok(false),
        Header::Auto if !names.is_empty() => {
            match names.iter().find(|(name, _)| !cells.contains(name)) {
                None => Ok(true),
                Some((column, field)) => Err(unknown(file, line, column, field, cells)),
            }
        }
        Header::Auto => Ok(looks_like_header(options, cells)),
    }
}

fn unknown(file: &str, line: u64, column: &str, field: &str, header: &[String]) -> Error {
    Error::UnknownColumn {
        file: file.to_string(),
        row: line,
        column: column.to_string(),
        field: field.to_string(),
        found: header.join(", "),
    }
}

/// With numbered columns only: the first row is a header when its first non-empty typed
/// cell (date, then amounts, then period) does not read as its type. No such cell: no
/// header (so a short or odd first row is reported as data, never silently dropped).
fn looks_like_header(options: &SourceOptions, cells: &[String]) -> bool {
    const PROBES: [Field; 9] = [
        Field::Date,
        Field::FirstSeen,
        Field::Amount,
        Field::Debit,
        Field::Credit,
        Field::CreditLimit,
        Field::Quantity,
        Field::Count,
        Field::Period,
    ];
    for field in PROBES {
        let Some(ColumnRef::Index(n)) = options.columns.get(&field) else {
            continue;
        };
        let Some(cell) = n.checked_sub(1).and_then(|i| cells.get(i)) else {
            continue;
        };
        if cell.is_empty() {
            continue;
        }
        return match field {
            Field::Date | Field::FirstSeen => {
                value::date(cell, options.date_format.as_deref()).is_err()
            }
            Field::Period => cell.parse::<Period>().is_err(),
            _ => !matches!(value::amount(cell), Ok(Some(_))),
        };
    }
    false
}

/// Resolves the mapping against the header (at `line`, with trimmed cells), if any.
pub fn resolve<'a>(
    file_name: Cow<'a, str>,
    source: Cow<'a, SourceOptions>,
    header: Option<(u64, Vec<String>)>,
) -> Result<Plan<'a>, Error> {
    let file: &str = &file_name;
    let options: &SourceOptions = &source;
    let (header_line, header) = match header {
        Some((line, cells)) => (line, Some(cells)),
        None => (0, None),
    };
    let find = |column: &ColumnRef, field: &str| -> Result<Col, Error> {
        match column {
            ColumnRef::Index(n) => {
                let index = n.saturating_sub(1);
                Ok(Col {
                    index,
                    label: label(header.as_deref(), index),
                })
            }
            ColumnRef::Name(name) => {
                let cells = header.as_deref().unwrap_or_default();
                match cells.iter().position(|c| c == name) {
                    Some(index) => Ok(Col {
                        index,
                        label: name.clone(),
                    }),
                    None => Err(unknown(file, header_line, name, field, cells)),
                }
            }
            ColumnRef::Many(_) => Err(options_error(
                options,
                format!("{field}: a list of columns is not one column"),
            )),
        }
    };
    let mut slots: Vec<Option<Slot>> = Vec::new();
    let mut columns = Vec::new();
    let mut voucher = Voucher::Separate;
    for field in fields(options.record) {
        let default = options.defaults.get(field).map(|d| d.trim().to_string());
        let col = match (options.columns.get(field), field) {
            (None, _) => None,
            (Some(ColumnRef::Many(parts)), Field::Voucher) => {
                let [word, number] = parts.as_slice() else {
                    return Err(options_error(
                        options,
                        "voucher: [word, number] takes two columns".into(),
                    ));
                };
                let (word, number) = (find(word, "voucher")?, find(number, "voucher")?);
                columns.push((word.clone(), field.name()));
                columns.push((number.clone(), field.name()));
                voucher = Voucher::Pair(word, number);
                continue;
            }
            (Some(column), _) => Some(find(column, &field.name())?),
        };
        if let Some(col) = &col {
            columns.push((col.clone(), field.name()));
        }
        if col.is_some() || default.is_some() {
            if *field == Field::Voucher {
                voucher = Voucher::Combined(Slot { col, default });
                continue;
            }
            let at = *field as usize;
            if slots.len() <= at {
                slots.resize_with(at + 1, || None);
            }
            slots[at] = Some(Slot { col, default });
        }
    }
    let mut attributes = Vec::new();
    for name in &options.attributes {
        let col = find(&ColumnRef::Name(name.clone()), "attributes")?;
        columns.push((col.clone(), "attributes".to_string()));
        attributes.push((name.clone(), col));
    }
    columns.sort_by_key(|(col, _)| col.index);
    let has_dims = [
        Field::Product,
        Field::Channel,
        Field::Campaign,
        Field::Region,
        Field::Department,
        Field::Project,
    ]
    .into_iter()
    .any(|f| slots.get(f as usize).is_some_and(Option::is_some));
    Ok(Plan {
        file: file_name,
        options: source,
        slots,
        has_dims,
        voucher,
        attributes,
        columns,
        header,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(record: RecordType, columns: &[(Field, ColumnRef)]) -> SourceOptions {
        let mut o = SourceOptions::new("src", record);
        o.columns = columns.iter().cloned().collect();
        o
    }

    fn cells(s: &[&str]) -> Vec<String> {
        s.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn required_fields_are_listed() {
        let o = options(
            RecordType::VoucherLine,
            &[(Field::Date, ColumnRef::Index(1))],
        );
        assert_eq!(
            check(&o).unwrap_err().to_string(),
            "source 'src': voucher-line records need columns (or defaults) for: account, debit, credit, voucher (or voucher_number)"
        );
        let mut o = options(
            RecordType::Transaction,
            &[
                (Field::Date, ColumnRef::Index(1)),
                (Field::Amount, ColumnRef::Index(2)),
            ],
        );
        assert!(check(&o)
            .unwrap_err()
            .to_string()
            .contains("need columns (or defaults) for: kind"));
        o.defaults.insert(Field::Kind, "退货".into());
        assert!(check(&o).is_ok());
        o.defaults.insert(Field::Kind, "gift".into());
        assert!(check(&o)
            .unwrap_err()
            .to_string()
            .contains("defaults.kind: unknown entry kind 'gift'"));
    }

    #[test]
    fn misplaced_fields_and_column_lists_are_refused() {
        let mut o = options(
            RecordType::Spend,
            &[
                (Field::Date, ColumnRef::Index(1)),
                (Field::Channel, ColumnRef::Index(2)),
                (Field::Amount, ColumnRef::Index(3)),
                (Field::Pool, ColumnRef::Index(4)),
            ],
        );
        assert!(check(&o)
            .unwrap_err()
            .to_string()
            .contains("spend records do not read pool"));
        o.columns.remove(&Field::Pool);
        o.columns.insert(
            Field::Campaign,
            ColumnRef::Many(vec![ColumnRef::Index(4), ColumnRef::Index(5)]),
        );
        assert!(check(&o)
            .unwrap_err()
            .to_string()
            .contains("only voucher takes a list"));
        o.columns.insert(Field::Campaign, ColumnRef::Index(0));
        assert!(check(&o)
            .unwrap_err()
            .to_string()
            .contains("numbered from 1"));
    }

    #[test]
    fn header_detection() {
        let numbered = options(
            RecordType::Transaction,
            &[
                (Field::Date, ColumnRef::Index(2)),
                (Field::Amount, ColumnRef::Index(4)),
            ],
        );
        let row = cells(&["customer_id", "date", "number_of_cds", "dollar_value"]);
        assert!(is_header(&numbered, "f", 1, &row).unwrap());
        let row = cells(&["00001", "19970101", "1", "11.77"]);
        assert!(!is_header(&numbered, "f", 1, &row).unwrap());
        // Without a date, the amount decides.
        let budget = options(RecordType::Budget, &[(Field::Amount, ColumnRef::Index(2))]);
        assert!(is_header(&budget, "f", 1, &cells(&["key", "amount"])).unwrap());
        assert!(!is_header(&budget, "f", 1, &cells(&["微信", "1,000"])).unwrap());
        let named = options(
            RecordType::Customer,
            &[(Field::Code, ColumnRef::Name("编号".into()))],
        );
        assert!(is_header(&named, "f", 3, &cells(&["编号", "名称"])).unwrap());
        assert_eq!(
            is_header(&named, "f", 3, &cells(&["客户编号", "名称"])).unwrap_err().to_string(),
            "f:3: column '编号' (mapped to code) is not in the header; the header has: 客户编号, 名称"
        );
        let mut absent = named.clone();
        absent.header = Header::Absent;
        assert!(matches!(
            is_header(&absent, "f", 1, &cells(&["编号"])),
            Err(Error::Options { .. })
        ));
    }

    #[test]
    fn resolve_gives_indices_and_labels() {
        let mut o = options(
            RecordType::VoucherLine,
            &[
                (Field::Date, ColumnRef::Name("日期".into())),
                (
                    Field::Voucher,
                    ColumnRef::Many(vec![ColumnRef::Name("字".into()), ColumnRef::Index(3)]),
                ),
                (Field::Account, ColumnRef::Index(4)),
            ],
        );
        o.defaults.insert(Field::Memo, "无".into());
        let header = cells(&["日期", "字", "号", ""]);
        let plan = resolve("f".into(), (&o).into(), Some((1, header))).unwrap();
        assert_eq!(
            plan.slot(Field::Date).unwrap().col,
            Some(Col {
                index: 0,
                label: "日期".into()
            })
        );
        assert_eq!(
            plan.slot(Field::Account).unwrap().col,
            Some(Col {
                index: 3,
                label: "4".into()
            })
        );
        assert_eq!(
            plan.slot(Field::Memo).unwrap().default.as_deref(),
            Some("无")
        );
        assert!(plan.slot(Field::Memo).unwrap().col.is_none());
        assert!(!plan.has(Field::Debit));
        assert!(matches!(&plan.voucher, Voucher::Pair(w, n) if w.index == 1 && n.label == "号"));
        let indices: Vec<usize> = plan.columns.iter().map(|(c, _)| c.index).collect();
        assert_eq!(indices, [0, 1, 2, 3]);
        assert_eq!(plan.label(9), "10");
    }
}
