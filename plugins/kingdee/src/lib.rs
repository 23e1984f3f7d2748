//! The ledgerlens adapter for Kingdee voucher exports (`adapter: kingdee`, record type
//! `voucher-line`).
//!
//! Two layouts, told apart by their header, in any file the spreadsheet adapter reads
//! (`.xlsx`, `.xls` including old GBK workbooks, HTML saved as `.xls`, CSV or tab text in
//! UTF-8 or GBK; see `ledgerlens_xlsx::rows`):
//!
//! - **K/3 标准凭证引出**: one header row with 凭证日期, 会计年度, 会计期间, 凭证字, 凭证号,
//!   分录序号, 科目代码, 科目名称, 币别代码, 原币金额, 汇率, 借方, 贷方, 凭证摘要, 数量, 单价,
//!   核算项目, 过账, ... found among the first 30 rows (title rows above it are dropped,
//!   so no `skip_rows` is needed). The customer is the `客户---<code>---<name>` item of
//!   核算项目, which may hold several `类别---代码---名称` items (部门 and 项目 items fill
//!   the department and project).
//! - **云星空 (Cloud Galaxy)**: two header rows, field keys (`FBillHead(GL_VOUCHER)`,
//!   `FDate`, `FACCOUNTID`, `FDEBIT`, `FCREDIT`, `FDetailID#FFLEXn`, ...) then Chinese
//!   captions. The customer's auxiliary slot is the `FDetailID#FFLEXn` column whose
//!   caption names 客户 (say `columns: { customer: "FDetailID#FFLEX8" }` when no caption
//!   does, or to choose another). Its cells are `code/name` or a code. The bill-head
//!   fields (date, year, period, voucher word and number) appear on a voucher's first
//!   entry row only; later rows take them from the row above.
//!
//! Amounts are 借方 / 贷方, in the book's base currency (the source's `currency`, CNY by
//! default); the original-currency amount and rate (原币金额, 汇率) are not carried. A
//! totals row (a cell reading 合计, 总计, 本期合计, ... and no account) is not a voucher
//! line: it is reported as `kingdee.totals_row` and quarantined, so rows in = rows stored +
//! rows quarantined still holds. Unposted vouchers (过账 否) are read like posted ones.
//! Columns the configuration maps (`columns:`) replace the preset mapping field by field.
//!
//! ```
//! use ledgerlens_adapter::{Adapter, Input, SourceOptions};
//! use ledgerlens_kingdee::KingdeeAdapter;
//! use ledgerlens_model::{Record, RecordType};
//!
//! let text = "凭证日期,会计年度,会计期间,凭证字,凭证号,分录序号,科目代码,科目名称,借方,贷方,凭证摘要,核算项目\n\
//!             2025-01-15,2025,1,记,1,1,1122,应收账款,11300,0,销售,客户---C001---杭州星河贸易有限公司\n\
//!             2025-01-15,2025,1,记,1,2,6001,主营业务收入,0,10000,销售,客户---C001---杭州星河贸易有限公司\n\
//!             ,,,,,,,合计,11300,10000,,\n";
//! let input = Input { name: "k3.csv".into(), bytes: text.as_bytes().to_vec() };
//! let options = SourceOptions::new("k3", RecordType::VoucherLine);
//! let items: Vec<_> = KingdeeAdapter.read(&input, &options).unwrap().collect();
//! let Ok(row) = &items[1] else { panic!("a line") };
//! let Record::VoucherLine(line) = &row.record else { panic!("a voucher line") };
//! assert_eq!(line.customer.as_ref().unwrap().code, "C001");
//! assert_eq!(line.credit.to_string(), "10000");
//! assert_eq!(items[2].as_ref().unwrap_err().code, "kingdee.totals_row");
//! ```
#![deny(missing_docs)]

use ledgerlens_adapter::table;
use ledgerlens_adapter::{Adapter, ColumnRef, Error, Field, Header, Input, Item, SourceOptions};
use ledgerlens_model::{Diagnostic, RecordType};

/// The Kingdee voucher adapter. See the [crate documentation](crate).
#[derive(Debug, Clone, Copy, Default)]
pub struct KingdeeAdapter;

/// Which export a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// K/3 标准凭证引出: one header row of Chinese names.
    K3,
    /// 云星空: a row of field keys, then a row of captions.
    Cloud,
}

impl Layout {
    /// A name for people.
    pub fn name(self) -> &'static str {
        match self {
            Layout::K3 => "Kingdee K/3 standard voucher export (标准凭证引出)",
            Layout::Cloud => "Kingdee Cloud Galaxy voucher export (云星空, two header rows)",
        }
    }
}

/// What [`sniff`] found: the layout, where its header is, and the mapping it reads with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// The layout.
    pub layout: Layout,
    /// 1-based row of the header (the field-key row for 云星空).
    pub header_row: u64,
    /// Field name and the column it is read from, in field order.
    pub columns: Vec<(String, String)>,
    /// The customer column and, for 云星空, the caption that named it.
    pub customer: Option<String>,
}

/// K/3 header names, by field: the first name the header has wins.
const K3: &[(Field, &[&str])] = &[
    (Field::Date, &["凭证日期", "日期"]),
    (Field::FiscalYear, &["会计年度"]),
    (Field::FiscalPeriod, &["会计期间"]),
    (Field::VoucherWord, &["凭证字"]),
    (Field::VoucherNumber, &["凭证号"]),
    (Field::Line, &["分录序号", "分录号"]),
    (Field::Account, &["科目代码", "科目编码"]),
    (Field::AccountName, &["科目名称"]),
    (Field::Debit, &["借方", "借方金额"]),
    (Field::Credit, &["贷方", "贷方金额"]),
    (Field::Memo, &["凭证摘要", "摘要"]),
    (Field::Quantity, &["数量"]),
    (Field::Customer, &["核算项目"]),
];

/// 云星空 field keys, by field (matched without regard to case).
const CLOUD: &[(Field, &[&str])] = &[
    (Field::Date, &["FDate"]),
    (Field::FiscalYear, &["FYEAR"]),
    (Field::FiscalPeriod, &["FPERIOD"]),
    (Field::VoucherWord, &["FVOUCHERGROUPID"]),
    (Field::VoucherNumber, &["FVOUCHERGROUPNO", "FBILLNO"]),
    (Field::Line, &["FEntity", "FSEQ"]),
    (Field::Account, &["FACCOUNTID"]),
    (Field::AccountName, &["FACCOUNTID#Name"]),
    (Field::Debit, &["FDEBIT"]),
    (Field::Credit, &["FCREDIT"]),
    (Field::Memo, &["FEXPLANATION"]),
    (Field::Quantity, &["FQTY", "FQUANTITY"]),
];

/// Fields a voucher's first row carries for the rows after it (云星空; K/3 exports that
/// leave them blank too).
const BILL_HEAD: [Field; 5] = [
    Field::Date,
    Field::FiscalYear,
    Field::FiscalPeriod,
    Field::VoucherWord,
    Field::VoucherNumber,
];

/// How many rows are searched for the header.
const HEADER_SEARCH: usize = 30;

const TOTALS: [&str; 6] = ["合计", "总计", "本期合计", "本年累计", "累计", "小计"];

impl Adapter for KingdeeAdapter {
    fn name(&self) -> &'static str {
        "kingdee"
    }

    fn description(&self) -> &'static str {
        "Kingdee voucher exports: K/3 标准凭证引出 (.xls, .xlsx, CSV) and 云星空 (two header rows)"
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
                    "the kingdee adapter reads voucher lines (record: voucher-line), not {}",
                    options.record
                ),
            });
        }
        let mut next = ledgerlens_xlsx::rows_into(input, options)?;
        let mut row = Vec::new();
        let mut before = Vec::new();
        let found = loop {
            match next(&mut row) {
                None => break None,
                Some(Err(diagnostic)) => before.push(Err(diagnostic)),
                Some(Ok(line)) => {
                    let cells = std::mem::take(&mut row);
                    if let Some(layout) = layout_of(&cells) {
                        break Some((layout, line, cells));
                    }
                    if before.len() >= HEADER_SEARCH {
                        break None;
                    }
                    before.push(Ok((line, cells)));
                }
            }
        };
        let Some((layout, header_line, header)) = found else {
            return Err(Error::Malformed {
                file: file.to_string(),
                message: format!(
                    "no Kingdee voucher header in the first {HEADER_SEARCH} rows: expected a K/3 header (凭证日期, 科目代码, 借方, 贷方, ...) or 云星空 field keys (FACCOUNTID, FDEBIT, FCREDIT, ...)"
                ),
            });
        };
        // Title rows above the header are not data; a row the source could not read is.
        let mut before = before.into_iter().filter(Result::is_err);
        let captions = match layout {
            Layout::Cloud => match next(&mut row) {
                Some(Ok(_)) => std::mem::take(&mut row),
                Some(Err(diagnostic)) => {
                    return Err(Error::Malformed {
                        file: file.to_string(),
                        message: format!(
                            "the caption row under the field keys cannot be read: {}",
                            diagnostic.message
                        ),
                    })
                }
                None => Vec::new(),
            },
            Layout::K3 => Vec::new(),
        };
        let mapping = mapping(layout, &header, &captions);
        let mut preset = options.clone();
        preset.header = Header::Present;
        preset.skip_rows = 0;
        for (field, column) in &mapping.columns {
            preset
                .columns
                .entry(*field)
                .or_insert_with(|| ColumnRef::Name(column.clone()));
        }
        let index = |field: Field| match preset.columns.get(&field) {
            Some(ColumnRef::Name(name)) => header.iter().position(|h| h.trim() == name),
            Some(ColumnRef::Index(n)) => n.checked_sub(1),
            _ => None,
        };
        let fill = Fill {
            head: BILL_HEAD.iter().filter_map(|f| index(*f)).collect(),
            number: index(Field::VoucherNumber),
            account: index(Field::Account),
            customer: if layout == Layout::Cloud {
                index(Field::Customer)
            } else {
                None
            },
            last: Vec::new(),
            file: file.to_string(),
        };
        let mut fill = fill;
        let mut header_row = Some((header_line, header.clone()));
        // The rows the mapping reads: diagnostics of rows above the header, the header,
        // then each data row repaired in place.
        let data = move |cells: &mut Vec<String>| {
            if let Some(Err(diagnostic)) = before.next() {
                return Some(Err(diagnostic));
            }
            if let Some((line, header)) = header_row.take() {
                *cells = header;
                return Some(Ok(line));
            }
            Some(next(cells)?.and_then(|line| fill.apply(line, cells).map(|()| line)))
        };
        Ok(Box::new(table::read_rows_into(file, preset, data)?))
    }
}

/// The layout a header row announces, if any.
fn layout_of(cells: &[String]) -> Option<Layout> {
    let has = |name: &str| cells.iter().any(|c| c.trim().eq_ignore_ascii_case(name));
    if has("FACCOUNTID") && has("FDEBIT") && has("FCREDIT") {
        return Some(Layout::Cloud);
    }
    let any = |names: &[&str]| names.iter().any(|n| has(n));
    let k3 = any(&["凭证日期", "日期"])
        && any(&["科目代码", "科目编码"])
        && any(&["借方", "借方金额"])
        && any(&["贷方", "贷方金额"])
        && has("凭证号");
    k3.then_some(Layout::K3)
}

/// The preset mapping of a header: fields and the header cells they read.
struct Mapping {
    columns: Vec<(Field, String)>,
    customer: Option<String>,
    customer_caption: Option<String>,
}

fn mapping(layout: Layout, header: &[String], captions: &[String]) -> Mapping {
    let names = match layout {
        Layout::K3 => K3,
        Layout::Cloud => CLOUD,
    };
    let find = |name: &str| {
        header
            .iter()
            .find(|h| h.trim().eq_ignore_ascii_case(name))
            .map(|h| h.trim().to_string())
    };
    let mut columns: Vec<(Field, String)> = names
        .iter()
        .filter_map(|(field, candidates)| {
            candidates
                .iter()
                .find_map(|c| find(c))
                .map(|column| (*field, column))
        })
        .collect();
    // Year and period are read together or not at all.
    let has = |columns: &[(Field, String)], f: Field| columns.iter().any(|(g, _)| *g == f);
    if has(&columns, Field::FiscalYear) != has(&columns, Field::FiscalPeriod) {
        columns.retain(|(f, _)| !matches!(f, Field::FiscalYear | Field::FiscalPeriod));
    }
    let mut customer_caption = None;
    if layout == Layout::Cloud {
        let slot = header.iter().enumerate().find(|(i, key)| {
            key.trim()
                .to_ascii_uppercase()
                .starts_with("FDETAILID#FFLEX")
                && captions.get(*i).is_some_and(|c| c.contains("客户"))
        });
        if let Some((i, key)) = slot {
            customer_caption = captions.get(i).cloned();
            columns.push((Field::Customer, key.trim().to_string()));
        }
    }
    let customer = columns
        .iter()
        .find(|(f, _)| *f == Field::Customer)
        .map(|(_, c)| c.clone());
    Mapping {
        columns,
        customer,
        customer_caption,
    }
}

/// Per-row repairs before the mapping reads a row: bill-head fill-down, 云星空 customer
/// cells, totals rows.
struct Fill {
    head: Vec<usize>,
    number: Option<usize>,
    account: Option<usize>,
    customer: Option<usize>,
    /// The bill-head cells of the last row with a voucher number, by position in `head`
    /// (`None`: blank); kept between rows so their texts are reused.
    last: Vec<Option<String>>,
    file: String,
}

impl Fill {
    fn apply(&mut self, line: u64, cells: &mut Vec<String>) -> Result<(), Diagnostic> {
        let blank = |cells: &[String], i: Option<usize>| {
            i.is_none_or(|i| cells.get(i).is_none_or(|c| c.trim().is_empty()))
        };
        if blank(cells, self.account) {
            if cells.iter().any(|c| TOTALS.contains(&c.trim())) {
                return Err(Diagnostic::error(
                    "kingdee.totals_row",
                    "a totals row (合计), not a voucher line: skipped",
                )
                .in_file(self.file.as_str())
                .at_row(line));
            }
        } else if blank(cells, self.number) {
            for (&i, value) in self.head.iter().zip(&self.last) {
                if let Some(value) = value {
                    if cells.len() <= i {
                        cells.resize(i + 1, String::new());
                    }
                    if cells[i].trim().is_empty() {
                        cells[i] = value.clone();
                    }
                }
            }
        } else {
            self.last.resize(self.head.len(), None);
            for (&i, last) in self.head.iter().zip(&mut self.last) {
                match (cells.get(i).filter(|c| !c.trim().is_empty()), last) {
                    (Some(value), Some(last)) => value.clone_into(last),
                    (Some(value), last) => *last = Some(value.clone()),
                    (None, last) => *last = None,
                }
            }
        }
        if let Some(cell) = self.customer.and_then(|i| cells.get_mut(i)) {
            *cell = cloud_customer(cell);
        }
        Ok(())
    }
}

/// A 云星空 auxiliary cell (`C001/杭州星河贸易有限公司`, or a code) in the `客户---code---name`
/// form the column mapping reads.
fn cloud_customer(cell: &str) -> String {
    let cell = cell.trim();
    if cell.is_empty() || cell.contains("---") {
        return cell.to_string();
    }
    match cell.split_once('/') {
        Some((code, name)) if !code.trim().is_empty() => {
            format!("客户---{}---{}", code.trim(), name.trim())
        }
        _ => cell.to_string(),
    }
}

/// Tells whether a file is a Kingdee voucher export, and how it would be read.
pub fn sniff(input: &Input, options: &SourceOptions) -> Option<Sniffed> {
    let mut rows = ledgerlens_xlsx::rows(input, options).ok()?;
    let mut seen = 0;
    while seen < HEADER_SEARCH {
        let (line, cells) = rows.next()?.ok()?;
        seen += 1;
        if let Some(layout) = layout_of(&cells) {
            let captions = match layout {
                Layout::Cloud => rows.next().and_then(Result::ok).map(|(_, c)| c),
                Layout::K3 => None,
            }
            .unwrap_or_default();
            let mapping = mapping(layout, &cells, &captions);
            return Some(Sniffed {
                layout,
                header_row: line,
                columns: mapping
                    .columns
                    .iter()
                    .map(|(f, c)| (f.name(), c.clone()))
                    .collect(),
                customer: mapping.customer.map(|c| match mapping.customer_caption {
                    Some(caption) => format!("{c} ({caption})"),
                    None => c,
                }),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(s: &[&str]) -> Vec<String> {
        s.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn layouts_from_headers() {
        assert_eq!(
            layout_of(&cells(&[
                "凭证日期",
                "凭证字",
                "凭证号",
                "科目代码",
                "借方",
                "贷方"
            ])),
            Some(Layout::K3)
        );
        assert_eq!(
            layout_of(&cells(&[
                "FBillHead(GL_VOUCHER)",
                "FAccountId",
                "FDEBIT",
                "FCREDIT"
            ])),
            Some(Layout::Cloud)
        );
        assert_eq!(layout_of(&cells(&["记账凭证引出 2025年第1期"])), None);
    }

    #[test]
    fn the_customer_slot_comes_from_the_captions() {
        let header = cells(&[
            "FDate",
            "FACCOUNTID",
            "FDetailID#FFLEX6",
            "FDetailID#FFLEX8",
            "FDEBIT",
            "FCREDIT",
        ]);
        let captions = cells(&[
            "日期",
            "科目编码",
            "核算维度.供应商",
            "核算维度.客户",
            "借方",
            "贷方",
        ]);
        let m = mapping(Layout::Cloud, &header, &captions);
        assert_eq!(m.customer.as_deref(), Some("FDetailID#FFLEX8"));
        assert_eq!(m.customer_caption.as_deref(), Some("核算维度.客户"));
        let none = mapping(
            Layout::Cloud,
            &header,
            &cells(&["", "", "部门", "项目", "", ""]),
        );
        assert_eq!(none.customer, None);
    }

    #[test]
    fn cloud_customer_cells() {
        assert_eq!(cloud_customer(" C001/杭州星河 "), "客户---C001---杭州星河");
        assert_eq!(cloud_customer("C001"), "C001");
        assert_eq!(cloud_customer("/x"), "/x");
        assert_eq!(cloud_customer(""), "");
    }

    #[test]
    fn bill_head_fills_down_and_totals_are_reported() {
        let mut fill = Fill {
            head: vec![0, 1],
            number: Some(1),
            account: Some(2),
            customer: None,
            last: Vec::new(),
            file: "f".into(),
        };
        let mut row = cells(&["2025-01-15", "7", "1122"]);
        fill.apply(3, &mut row).unwrap();
        assert_eq!(row, cells(&["2025-01-15", "7", "1122"]));
        let mut row = cells(&["", "", "6001"]);
        fill.apply(4, &mut row).unwrap();
        assert_eq!(row, cells(&["2025-01-15", "7", "6001"]));
        let totals = fill.apply(5, &mut cells(&["合计", "", ""])).unwrap_err();
        assert_eq!(
            (totals.code.as_str(), totals.row),
            ("kingdee.totals_row", Some(5))
        );
    }
}
