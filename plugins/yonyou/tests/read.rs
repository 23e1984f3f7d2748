//! Reading U8 voucher text and GL_accvouch tables end to end, from the bytes of a file.

use std::collections::BTreeMap;
use std::io::Write;

use ledgerlens_adapter::{Adapter, ColumnRef, Error, Field, Input, Item, SourceOptions};
use ledgerlens_model::{Diagnostic, Period, RecordType, VoucherLine};
use ledgerlens_yonyou::{sniff, Layout, YonyouAdapter};
use rust_decimal::Decimal;

fn options() -> SourceOptions {
    SourceOptions::new("u8", RecordType::VoucherLine)
}

fn read_with(name: &str, bytes: Vec<u8>, options: &SourceOptions) -> Result<Vec<Item>, Error> {
    let input = Input {
        name: name.to_string(),
        bytes,
    };
    let items = YonyouAdapter.read(&input, options)?.collect();
    Ok(items)
}

fn read(name: &str, bytes: Vec<u8>) -> Vec<Item> {
    match read_with(name, bytes, &options()) {
        Ok(items) => items,
        Err(e) => panic!("{name}: {e}"),
    }
}

/// The voucher lines and the diagnostics, each with its row.
fn split(items: &[Item]) -> (Vec<(u64, VoucherLine)>, Vec<Diagnostic>) {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for item in items {
        match item {
            Ok(row) => match &row.record {
                ledgerlens_model::Record::VoucherLine(line) => lines.push((row.row, line.clone())),
                other => panic!("row {}: not a voucher line: {other:?}", row.row),
            },
            Err(d) => problems.push(d.clone()),
        }
    }
    (lines, problems)
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Debits minus credits per voucher (period, word, number).
fn imbalances(lines: &[(u64, VoucherLine)]) -> BTreeMap<(Period, String, String), Decimal> {
    let mut sums = BTreeMap::new();
    for (_, line) in lines {
        *sums.entry(line.voucher_key()).or_insert(Decimal::ZERO) += line.debit - line.credit;
    }
    sums
}

fn codes(problems: &[Diagnostic]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for d in problems {
        *counts.entry(d.code.clone()).or_insert(0) += 1;
    }
    counts
}

/// Non-blank lines after the first: the data rows of a U8 text file or a one-header table.
fn data_lines(text: &str) -> usize {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

// ---------------------------------------------------------------------------------------
// U8 voucher text

/// One U8 text line: the 21 fields, those not given empty.
#[allow(clippy::too_many_arguments)]
fn u8_line(
    date: &str,
    word: &str,
    number: &str,
    memo: &str,
    account: &str,
    debit: &str,
    credit: &str,
    quantity: &str,
    department: &str,
    customer: &str,
    project: &str,
) -> String {
    let mut f = vec![String::new(); 21];
    for (i, v) in [
        (0, date),
        (1, word),
        (2, number),
        (3, "1"),
        (4, memo),
        (5, account),
        (6, debit),
        (7, credit),
        (8, quantity),
        (11, "张会计"),
        (15, department),
        (17, customer),
        (20, project),
    ] {
        f[i] = v.to_string();
    }
    f.join(",")
}

/// Four balanced vouchers, ten lines; the second voucher's first line leaves its trailing
/// fields off, as U8 allows.
fn u8_text() -> String {
    let mut lines = vec!["填制凭证,V800".to_string()];
    let l = u8_line;
    lines.push(l(
        "2025-01-15",
        "记",
        "1",
        "销售商品",
        "1122",
        "11300",
        "0",
        "",
        "0101",
        "C001",
        "",
    ));
    lines.push(l(
        "2025-01-15",
        "记",
        "1",
        "销售商品",
        "6001",
        "0",
        "10000",
        "20",
        "0101",
        "C001",
        "P01",
    ));
    lines.push(l(
        "2025-01-15",
        "记",
        "1",
        "销售商品",
        "22210102",
        "0",
        "1300",
        "",
        "",
        "",
        "",
    ));
    lines.push("2025-01-20,记,2,1,收到货款,1002,5000,0".to_string());
    lines.push(l(
        "2025-01-20",
        "记",
        "2",
        "收到货款",
        "1122",
        "0",
        "5000",
        "",
        "",
        "C001",
        "",
    ));
    lines.push(String::new());
    lines.push(l(
        "2025-02-03",
        "收",
        "1",
        "收到货款",
        "1002",
        "2260",
        "0",
        "",
        "",
        "",
        "",
    ));
    lines.push(l(
        "2025-02-03",
        "收",
        "1",
        "收到货款",
        "1122",
        "0",
        "2260",
        "",
        "",
        "C002",
        "",
    ));
    lines.push(l(
        "2025-01-28",
        "记",
        "3",
        "销售退回",
        "1122",
        "-1130",
        "0",
        "",
        "0102",
        "C002",
        "",
    ));
    lines.push(l(
        "2025-01-28",
        "记",
        "3",
        "销售退回",
        "6001",
        "0",
        "-1000",
        "-2",
        "0102",
        "C002",
        "",
    ));
    lines.push(l(
        "2025-01-28",
        "记",
        "3",
        "销售退回",
        "22210102",
        "0",
        "-130",
        "",
        "",
        "",
        "",
    ));
    lines.join("\r\n") + "\r\n"
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "the fixture must be GBK text");
    bytes.into_owned()
}

#[test]
fn u8_text_in_gbk_and_utf8_reads_alike() {
    let text = u8_text();
    let utf8 = read("u8_vouchers_utf8.txt", text.clone().into_bytes());
    let gbk = read("u8_vouchers_gbk.txt", gbk(&text));
    assert_eq!(split(&utf8).0, split(&gbk).0);
    let (lines, problems) = split(&gbk);
    assert!(problems.is_empty(), "{problems:?}");
    // Rows in = records + diagnostics.
    assert_eq!(lines.len(), data_lines(&text));
    assert_eq!(lines.len(), 10);
    // Row numbers are physical lines: the blank line 7 is skipped, not renumbered.
    let rows: Vec<u64> = lines.iter().map(|(r, _)| *r).collect();
    assert_eq!(rows, [2, 3, 4, 5, 6, 8, 9, 10, 11, 12]);
    let (_, sale) = &lines[1];
    assert_eq!(sale.date.to_string(), "2025-01-15");
    assert_eq!((sale.word.as_str(), sale.number.as_str()), ("记", "1"));
    assert_eq!(sale.account, "6001");
    assert_eq!((sale.debit, sale.credit), (dec("0"), dec("10000")));
    assert_eq!(sale.quantity, Some(dec("20")));
    assert_eq!(sale.memo.as_deref(), Some("销售商品"));
    assert_eq!(
        sale.customer.as_ref().map(|c| c.code.as_str()),
        Some("C001")
    );
    assert_eq!(sale.dims.department.as_deref(), Some("0101"));
    assert_eq!(sale.dims.project.as_deref(), Some("P01"));
    assert_eq!(sale.currency, None, "the base currency is the source's");
    // The short line (trailing fields left off) reads with them empty.
    let (_, short) = &lines[3];
    assert_eq!((short.account.as_str(), short.debit), ("1002", dec("5000")));
    assert_eq!(short.customer, None);
}

#[test]
fn u8_vouchers_balance() {
    let (lines, _) = split(&read("u8.txt", u8_text().into_bytes()));
    let sums = imbalances(&lines);
    assert_eq!(sums.len(), 4);
    for (voucher, difference) in &sums {
        assert!(difference.is_zero(), "{voucher:?} is off by {difference}");
    }
    let debits: Decimal = lines.iter().map(|(_, l)| l.debit).sum();
    assert_eq!(debits, dec("17430"));
}

#[test]
fn u8_bad_date_names_its_line() {
    let mut text = u8_text();
    text.push_str(&u8_line(
        "2025-13-45",
        "记",
        "9",
        "x",
        "1002",
        "1",
        "0",
        "",
        "",
        "",
        "",
    ));
    text.push('\n');
    let items = read("u8.txt", text.into_bytes());
    let (lines, problems) = split(&items);
    assert_eq!(lines.len(), 10);
    assert_eq!(problems.len(), 1);
    let d = &problems[0];
    assert_eq!(d.code, "adapter.bad_date");
    assert_eq!((d.row, d.column.as_deref()), (Some(13), Some("1")));
    assert_eq!(d.file.as_deref(), Some("u8.txt"));
}

#[test]
fn u8_odd_lines_are_diagnostics_not_panics() {
    let mut text = "\u{feff}填制凭证,V800\n".to_string();
    text.push_str("2025-01-15,记,1\n"); // truncated: no account
    text.push_str(&u8_line(
        "2025-01-15",
        "记",
        "1",
        "a,b",
        "1122",
        "1",
        "0",
        "",
        "",
        "",
        "",
    ));
    text.push('\n');
    text.push_str("2025-01-15,记,,1,x,1122,1,0\n"); // no voucher number
    let (lines, problems) = split(&read("odd.txt", text.into_bytes()));
    assert!(lines.is_empty(), "{lines:?}");
    let found: Vec<(&str, Option<u64>)> =
        problems.iter().map(|d| (d.code.as_str(), d.row)).collect();
    assert_eq!(
        found,
        [
            ("adapter.short_row", Some(2)),
            ("yonyou.misaligned_line", Some(3)),
            ("adapter.missing_value", Some(4)),
        ]
    );
}

#[test]
fn u8_first_line_only_and_empty_files() {
    assert!(read("only.txt", "填制凭证,V800\r\n".into()).is_empty());
    assert!(read("only.txt", gbk("填制凭证,V800")).is_empty());
    let empty = read_with("empty.txt", Vec::new(), &options()).unwrap_err();
    assert!(matches!(empty, Error::Empty { .. }), "{empty}");
}

#[test]
fn u8_columns_can_be_overridden_by_number() {
    let text = u8_text();
    // This client keeps the customer in 个人编码 (17) and its project nowhere.
    let mut o = options();
    o.columns.insert(Field::Customer, ColumnRef::Index(16));
    let items = read_with("u8.txt", text.into_bytes(), &o).unwrap();
    let (lines, _) = split(&items);
    assert_eq!(
        lines[0].1.customer.as_ref().map(|c| c.code.as_str()),
        Some("0101")
    );
    o.columns
        .insert(Field::Customer, ColumnRef::Name("客户编码".into()));
    let err = read_with("u8.txt", u8_text().into_bytes(), &o).unwrap_err();
    assert!(matches!(err, Error::Options { .. }), "{err}");
}

/// Every prefix of the files (cut anywhere, mid-character too) reads or fails cleanly.
#[test]
fn truncated_files_never_panic() {
    for bytes in [
        gbk(&u8_text()),
        u8_text().into_bytes(),
        gl_csv().into_bytes(),
    ] {
        for end in 0..=bytes.len() {
            let cut = bytes[..end].to_vec();
            let lines = cut.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            if let Ok(items) = read_with("cut.txt", cut, &options()) {
                for item in items {
                    let row = match &item {
                        Ok(row) => row.row,
                        Err(d) => d.row.unwrap_or(0),
                    };
                    assert!(row <= lines, "cut at {end}: row {row} of {lines}: {item:?}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// GL_accvouch

const GL_HEADER: &str = "i_id,iperiod,csign,isignseq,ino_id,inid,dbill_date,iflag,cdigest,CCODE,cexch_name,md,mc,md_f,mc_f,nfrat,nd_s,nc_s,cdept_id,cperson_id,ccus_id,csup_id,citem_id,iYear,iYPeriod";

/// One GL_accvouch row.
#[allow(clippy::too_many_arguments)]
fn gl_row(
    id: u32,
    period: u32,
    word: &str,
    number: u32,
    line: u32,
    date: &str,
    iflag: &str,
    memo: &str,
    account: &str,
    debit: &str,
    credit: &str,
    quantities: (&str, &str),
    customer: &str,
) -> String {
    format!(
        "{id},{period},{word},1,{number},{line},{date},{iflag},{memo},{account},人民币,{debit},{credit},0,0,0,{},{},0101,NULL,{customer},NULL,NULL,2025,2025{period:02}",
        quantities.0, quantities.1
    )
}

/// Five vouchers, eleven rows: 记-1 and 记-4 normal, 记-2 void, 记-3 faulty, 记-1 of
/// period 2 normal.
fn gl_csv() -> String {
    let r = gl_row;
    let t = "2025-01-15 00:00:00.000";
    let rows = [
        r(
            1,
            1,
            "记",
            1,
            1,
            t,
            "NULL",
            "销售商品",
            "1122",
            "11300",
            "0",
            ("NULL", "NULL"),
            "C001",
        ),
        r(
            2,
            1,
            "记",
            1,
            2,
            t,
            "NULL",
            "销售商品",
            "6001",
            "0",
            "11300",
            ("0", "20"),
            "C001",
        ),
        r(
            3,
            1,
            "记",
            2,
            1,
            t,
            "1",
            "作废凭证",
            "1002",
            "500",
            "0",
            ("NULL", "NULL"),
            "NULL",
        ),
        r(
            4,
            1,
            "记",
            2,
            2,
            t,
            "1",
            "作废凭证",
            "1122",
            "0",
            "500",
            ("NULL", "NULL"),
            "C002",
        ),
        r(
            5,
            1,
            "记",
            3,
            1,
            t,
            "2",
            "有错凭证",
            "1002",
            "700",
            "0",
            ("NULL", "NULL"),
            "NULL",
        ),
        r(
            6,
            1,
            "记",
            3,
            2,
            t,
            "2",
            "有错凭证",
            "1122",
            "0",
            "700",
            ("NULL", "NULL"),
            "C003",
        ),
        r(
            7,
            1,
            "记",
            4,
            1,
            "2025-01-31",
            "0",
            "收款",
            "1002",
            "2000",
            "0",
            ("", ""),
            "NULL",
        ),
        r(
            8,
            1,
            "记",
            4,
            2,
            "2025-01-31",
            "0",
            "收款",
            "1122",
            "0",
            "1500",
            ("", ""),
            "C001",
        ),
        r(
            9,
            1,
            "记",
            4,
            3,
            "2025-01-31",
            "0",
            "收款",
            "1122",
            "0",
            "500",
            ("", ""),
            "C002",
        ),
        r(
            10,
            2,
            "记",
            1,
            1,
            "2025/2/3",
            "",
            "收款",
            "1002",
            "300",
            "0",
            ("", ""),
            "NULL",
        ),
        r(
            11,
            2,
            "记",
            1,
            2,
            "2025/2/3",
            "",
            "收款",
            "1122",
            "0",
            "300",
            ("", ""),
            "c004",
        ),
    ];
    format!("{GL_HEADER}\n{}\n", rows.join("\n"))
}

#[test]
fn gl_accvouch_reads_with_void_and_faulty_vouchers_counted() {
    let text = gl_csv();
    let items = read("gl_accvouch.csv", text.clone().into_bytes());
    // Rows in = records + diagnostics.
    assert_eq!(items.len(), data_lines(&text));
    let (lines, problems) = split(&items);
    assert_eq!(lines.len(), 7);
    assert_eq!(
        codes(&problems),
        BTreeMap::from([
            ("yonyou.faulty_voucher".to_string(), 2),
            ("yonyou.void_voucher".to_string(), 2),
        ])
    );
    let void = &problems[0];
    assert_eq!((void.row, void.column.as_deref()), (Some(4), Some("iflag")));
    assert!(
        void.message.contains("记-2") && void.message.contains("iflag=1"),
        "{}",
        void.message
    );
    assert!(
        problems[2].message.contains("iflag=2"),
        "{}",
        problems[2].message
    );
    let (row, sale) = &lines[1];
    assert_eq!(*row, 3);
    assert_eq!(sale.date.to_string(), "2025-01-15");
    assert_eq!(sale.period, Some(Period::Month(2025, 1)));
    assert_eq!(
        (sale.word.as_str(), sale.number.as_str(), sale.line),
        ("记", "1", Some(2))
    );
    assert_eq!((sale.account.as_str(), sale.credit), ("6001", dec("11300")));
    assert_eq!(
        sale.quantity,
        Some(dec("20")),
        "a credit line's quantity is nc_s"
    );
    assert_eq!(sale.memo.as_deref(), Some("销售商品"));
    assert_eq!(sale.dims.department.as_deref(), Some("0101"));
    // NULL cells are empty.
    assert_eq!(lines[0].1.quantity, None);
    assert_eq!(lines[2].1.customer, None);
    let (_, february) = &lines[6];
    assert_eq!(february.date.to_string(), "2025-02-03");
    assert_eq!(february.period, Some(Period::Month(2025, 2)));
    assert_eq!(
        february.customer.as_ref().map(|c| c.code.as_str()),
        Some("c004")
    );
    for (voucher, difference) in imbalances(&lines) {
        assert!(difference.is_zero(), "{voucher:?} is off by {difference}");
    }
    assert_eq!(imbalances(&lines).len(), 3);
}

#[test]
fn gl_accvouch_in_gbk_with_a_title_row() {
    let text = format!("凭证表导出\n{}", gl_csv());
    let items = read("gl.csv", gbk(&text));
    let (lines, problems) = split(&items);
    assert_eq!((lines.len(), problems.len()), (7, 4));
    assert_eq!(lines[0].0, 3, "rows keep their physical lines");
    assert_eq!(lines[0].1.memo.as_deref(), Some("销售商品"));
}

#[test]
fn gl_accvouch_bad_date_names_row_and_column() {
    let text = gl_csv().replace("2025/2/3", "2025-02-30");
    let (lines, problems) = split(&read("gl.csv", text.into_bytes()));
    assert_eq!(lines.len(), 5);
    let bad: Vec<_> = problems
        .iter()
        .filter(|d| d.code == "adapter.bad_date")
        .collect();
    assert_eq!(bad.len(), 2);
    assert_eq!(
        (bad[0].row, bad[0].column.as_deref()),
        (Some(11), Some("dbill_date"))
    );
}

#[test]
fn gl_accvouch_columns_can_be_overridden() {
    // A client whose dump names the customer column in Chinese and the memo oddly.
    let text = gl_csv()
        .replace(",ccus_id,", ",客户编码,")
        .replace(",cdigest,", ",CDigest_Text,");
    let (lines, _) = split(&read("gl.csv", text.clone().into_bytes()));
    assert_eq!(lines[0].1.customer, None, "no ccus_id column, no customer");
    let mut o = options();
    o.columns
        .insert(Field::Customer, ColumnRef::Name("客户编码".into()));
    o.columns
        .insert(Field::Memo, ColumnRef::Name("cdigest_text".into()));
    let (lines, _) = split(&read_with("gl.csv", text.clone().into_bytes(), &o).unwrap());
    assert_eq!(
        lines[0].1.customer.as_ref().map(|c| c.code.as_str()),
        Some("C001")
    );
    assert_eq!(lines[0].1.memo.as_deref(), Some("销售商品"));
    // A user column that is not there names itself.
    o.columns
        .insert(Field::Project, ColumnRef::Name("项目".into()));
    let err = read_with("gl.csv", text.into_bytes(), &o).unwrap_err();
    assert!(err.to_string().contains("column '项目'"), "{err}");
}

#[test]
fn neither_layout_is_an_error_naming_the_file() {
    let err = read_with(
        "orders.csv",
        "日期,客户,金额\n2025-01-15,C001,100\n".into(),
        &options(),
    )
    .unwrap_err();
    let Error::Malformed { file, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(file, "orders.csv");
    assert!(message.contains("填制凭证,V800"), "{message}");
    assert!(message.contains("ccode, md and mc"), "{message}");
    assert!(message.contains("日期, 客户, 金额"), "{message}");
    // The U8 mark must be on the first line.
    let late = format!("x\n{}", u8_text());
    assert!(read_with("late.txt", late.into_bytes(), &options()).is_err());
}

#[test]
fn other_record_types_are_refused() {
    let o = SourceOptions::new("u8", RecordType::Transaction);
    let err = read_with("u8.txt", u8_text().into_bytes(), &o).unwrap_err();
    assert!(matches!(err, Error::Options { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------
// GL_accvouch in a workbook

/// The numeric columns of GL_accvouch (the others, codes included, are text).
const GL_NUMBERS: [&str; 14] = [
    "i_id", "iperiod", "ino_id", "inid", "iflag", "md", "mc", "md_f", "mc_f", "nfrat", "nd_s",
    "nc_s", "iYear", "iYPeriod",
];

/// A one-sheet .xlsx of `rows` as SQL Server's export writes GL_accvouch: numeric columns
/// as numbers (`NULL` stays text), `dbill_date` as a date serial with a date format, every
/// other cell an inline string.
fn xlsx(rows: &[Vec<String>]) -> Vec<u8> {
    fn column(mut i: usize) -> String {
        let mut name = String::new();
        loop {
            name.insert(0, (b'A' + (i % 26) as u8) as char);
            if i < 26 {
                return name;
            }
            i = i / 26 - 1;
        }
    }
    let date_col = rows[0].iter().position(|c| c == "dbill_date");
    let numeric: Vec<usize> = (0..rows[0].len())
        .filter(|&c| GL_NUMBERS.contains(&rows[0][c].as_str()))
        .collect();
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, value) in row.iter().enumerate() {
            let at = format!("{}{}", column(c), r + 1);
            let serial = (r > 0 && Some(c) == date_col).then(|| excel_serial(value));
            if let Some(Some(serial)) = serial {
                sheet.push_str(&format!(r#"<c r="{at}" s="1"><v>{serial}</v></c>"#));
            } else if r > 0 && numeric.contains(&c) && value.parse::<f64>().is_ok() {
                sheet.push_str(&format!(r#"<c r="{at}"><v>{value}</v></c>"#));
            } else if !value.is_empty() {
                sheet.push_str(&format!(
                    r#"<c r="{at}" t="inlineStr"><is><t>{value}</t></is></c>"#
                ));
            }
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let parts = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#.to_string()),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string()),
        ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="GL_accvouch" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string()),
        ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#.to_string()),
        ("xl/styles.xml", r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>"#.to_string()),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, body) in parts {
        zip.start_file(name, stored).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// The Excel serial of a `YYYY-MM-DD...` or `YYYY/M/D` date.
fn excel_serial(value: &str) -> Option<i64> {
    let day = value.split(' ').next()?;
    let parts: Vec<i64> = day
        .split(['-', '/'])
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [y, m, d] = parts[..] else { return None };
    // Days from 1899-12-30 (Excel's day 0, after its 1900 leap-year bug).
    let days_from_civil = |y: i64, m: i64, d: i64| {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    };
    Some(days_from_civil(y, m, d) - days_from_civil(1899, 12, 30))
}

#[test]
fn gl_accvouch_xlsx_reads_like_the_csv() {
    let text = gl_csv();
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(ToString::to_string).collect())
        .collect();
    let items = read("gl_accvouch.xlsx", xlsx(&rows));
    let (lines, problems) = split(&items);
    let (csv_lines, csv_problems) = split(&read("gl_accvouch.csv", text.into_bytes()));
    assert_eq!(items.len(), 11);
    assert_eq!(codes(&problems), codes(&csv_problems));
    assert_eq!(lines.len(), 7);
    for ((row, line), (csv_row, csv_line)) in lines.iter().zip(&csv_lines) {
        assert_eq!(row, csv_row);
        assert_eq!(line, csv_line, "row {row}");
    }
    let found = sniff(
        &Input {
            name: "gl_accvouch.xlsx".into(),
            bytes: xlsx(&rows),
        },
        &options(),
    )
    .unwrap();
    assert_eq!(
        (found.layout, found.encoding, found.header_row),
        (Layout::GlAccvouch, None, Some(1))
    );
}

// ---------------------------------------------------------------------------------------
// sniff

#[test]
fn sniff_tells_layout_encoding_and_mapping() {
    let input = Input {
        name: "u8.txt".into(),
        bytes: gbk(&u8_text()),
    };
    let found = sniff(&input, &options()).unwrap();
    assert_eq!(found.layout, Layout::U8Text);
    assert_eq!((found.encoding, found.header_row), (Some("gbk"), None));
    assert!(
        found
            .columns
            .contains(&("customer".into(), "18 (客户编码)".into())),
        "{:?}",
        found.columns
    );
    assert_eq!(found.columns.len(), 11);

    let mut o = options();
    o.columns
        .insert(Field::Customer, ColumnRef::Name("CCUS_ID".into()));
    let gl = Input {
        name: "gl.csv".into(),
        bytes: format!("\u{feff}{}", gl_csv()).into_bytes(),
    };
    let found = sniff(&gl, &o).unwrap();
    assert_eq!(
        (found.layout, found.encoding, found.header_row),
        (Layout::GlAccvouch, Some("utf-8-bom"), Some(1))
    );
    let columns: BTreeMap<&str, &str> = found
        .columns
        .iter()
        .map(|(f, c)| (f.as_str(), c.as_str()))
        .collect();
    assert_eq!(columns["account"], "CCODE");
    assert_eq!(columns["customer"], "ccus_id");
    assert_eq!(columns["fiscal_year"], "iYear");
    assert_eq!(columns.len(), 14);

    let other = Input {
        name: "x.csv".into(),
        bytes: "a,b\n1,2\n".into(),
    };
    assert_eq!(sniff(&other, &options()), None);
}

// ---------------------------------------------------------------------------------------
// The shared fixtures (tests/fixtures/erp/yonyou, designed figures in expected.yaml)

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/erp/yonyou/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn expected() -> serde_yaml::Value {
    serde_yaml::from_slice(&fixture("expected.yaml")).unwrap()
}

fn number(v: &serde_yaml::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v:?}"))
}

type Figures = BTreeMap<String, BTreeMap<String, Decimal>>;

/// The figures of expected.yaml, computed from voucher lines as its header defines them.
fn figures(lines: &[&VoucherLine]) -> Figures {
    let mut banked = std::collections::BTreeSet::new();
    for line in lines {
        if line.account.starts_with("1002") && line.debit > Decimal::ZERO {
            banked.insert(line.voucher_key());
        }
    }
    let mut out: Figures = BTreeMap::new();
    for line in lines {
        let Some(customer) = &line.customer else {
            continue;
        };
        let f = out.entry(customer.code.clone()).or_insert_with(|| {
            [
                "revenue",
                "returns",
                "invoiced",
                "credited",
                "receipts",
                "receivable_balance",
                "advances",
                "cost_of_sales",
                "selling_expenses",
            ]
            .into_iter()
            .map(|k| (k.to_string(), Decimal::ZERO))
            .collect()
        });
        let mut add = |k: &str, v: Decimal| *f.entry(k.to_string()).or_default() += v;
        let (a, dr, cr) = (line.account.as_str(), line.debit, line.credit);
        if a.starts_with("6001") || a.starts_with("6051") {
            add("revenue", cr - dr);
            add("returns", dr);
        }
        if a.starts_with("1122") {
            add("invoiced", dr);
            add("credited", cr);
            add("receivable_balance", dr - cr);
            if banked.contains(&line.voucher_key()) {
                add("receipts", cr);
            }
        }
        if a.starts_with("2203") {
            add("advances", cr - dr);
        }
        if a.starts_with("6401") || a.starts_with("6402") {
            add("cost_of_sales", dr - cr);
        }
        if a.starts_with("6601") {
            add("selling_expenses", dr - cr);
        }
    }
    out
}

fn expected_figures(v: &serde_yaml::Value) -> Figures {
    let map: BTreeMap<String, BTreeMap<String, String>> =
        serde_yaml::from_value(v.clone()).unwrap();
    map.into_iter()
        .map(|(code, f)| (code, f.into_iter().map(|(k, v)| (k, dec(&v))).collect()))
        .collect()
}

#[test]
fn fixture_u8_text_reads_as_designed() {
    let e = &expected()["u8_text"];
    let gbk = read("u8_vouchers_gbk.txt", fixture("u8_vouchers_gbk.txt"));
    let utf8 = read("u8_vouchers_utf8.txt", fixture("u8_vouchers_utf8.txt"));
    assert_eq!(split(&gbk).0, split(&utf8).0);
    assert_eq!(gbk.len() as u64, number(&e["entry_lines"]));
    let (lines, problems) = split(&gbk);
    // The bad-date voucher's lines are diagnostics at their physical lines; nothing else is.
    let bad: Vec<(&str, Option<u64>)> = problems.iter().map(|d| (d.code.as_str(), d.row)).collect();
    let bad_lines: Vec<u64> = e["bad_date"]["lines"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(number)
        .collect();
    assert_eq!(
        bad,
        bad_lines
            .iter()
            .map(|&l| ("adapter.bad_date", Some(l)))
            .collect::<Vec<_>>()
    );
    // Every voucher balances but the designed unbalanced one.
    let unbalanced: Vec<_> = imbalances(&lines)
        .into_iter()
        .filter(|(_, d)| !d.is_zero())
        .collect();
    let key = (Period::Month(2025, 2), "记".to_string(), "3".to_string());
    assert_eq!(
        unbalanced,
        [(
            key.clone(),
            dec(e["unbalanced"]["debit"].as_str().unwrap())
                - dec(e["unbalanced"]["credit"].as_str().unwrap())
        )]
    );
    let rows: Vec<u64> = lines
        .iter()
        .filter(|(_, l)| l.voucher_key() == key)
        .map(|(r, _)| *r)
        .collect();
    let designed: Vec<u64> = e["unbalanced"]["lines"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(number)
        .collect();
    assert_eq!(rows, designed);
    assert_eq!(
        imbalances(&lines).len() as u64 + 1,
        number(&e["vouchers"]),
        "and the bad-date one"
    );
    // The designed figures, without the unbalanced voucher.
    let kept: Vec<&VoucherLine> = lines
        .iter()
        .map(|(_, l)| l)
        .filter(|l| l.voucher_key() != key)
        .collect();
    assert_eq!(figures(&kept), expected_figures(&e["figures"]));
}

#[test]
fn fixture_gl_accvouch_reads_as_designed() {
    let e = &expected()["gl_accvouch"];
    let csv = read("gl_accvouch.csv", fixture("gl_accvouch.csv"));
    let xlsx = read("gl_accvouch.xlsx", fixture("gl_accvouch.xlsx"));
    for items in [&csv, &xlsx] {
        assert_eq!(items.len() as u64, number(&e["rows"]));
        let (lines, problems) = split(items);
        assert_eq!(lines.len() as u64, number(&e["normal_lines"]));
        for (code, what) in [
            ("yonyou.void_voucher", "void"),
            ("yonyou.faulty_voucher", "faulty"),
        ] {
            let found: Vec<&Diagnostic> = problems.iter().filter(|d| d.code == code).collect();
            assert_eq!(found.len() as u64, number(&e[what]["lines"]), "{code}");
            let ino = number(&e[what]["ino_id"][0]);
            assert!(
                found
                    .iter()
                    .all(|d| d.message.contains(&format!("记-{ino} "))),
                "{found:?}"
            );
        }
        assert_eq!(problems.len(), 4, "{problems:?}");
        let sums = imbalances(&lines);
        assert_eq!(sums.len() as u64, number(&e["normal_vouchers"]));
        assert!(sums.values().all(Decimal::is_zero), "{sums:?}");
        assert!(lines
            .iter()
            .all(|(_, l)| l.period == Some(Period::Month(2025, 3))));
        let kept: Vec<&VoucherLine> = lines.iter().map(|(_, l)| l).collect();
        assert_eq!(figures(&kept), expected_figures(&e["figures"]));
    }
    assert_eq!(
        split(&csv).0.iter().map(|(_, l)| l).collect::<Vec<_>>(),
        split(&xlsx).0.iter().map(|(_, l)| l).collect::<Vec<_>>()
    );
    // The sale's quantity is on its credit side (nc_s).
    let (_, sale) = &split(&csv).0[1];
    assert_eq!(
        (sale.account.as_str(), sale.quantity),
        ("6001", Some(dec("80")))
    );
}
