//! The csv adapter end to end: bytes and source options in, rows and diagnostics out.

use std::str::FromStr;

use chrono::NaiveDate;
use ledgerlens_adapter::{Adapter, Error, Input, Item, SourceOptions};
use ledgerlens_csv::CsvAdapter;
use ledgerlens_model::{
    Budget, CostPool, Diagnostic, Dimensions, EntryKind, Party, Period, Provenance, Record, Row,
    Severity, Spend, Transaction, VoucherLine,
};
use rust_decimal::Decimal;

fn options(yaml: &str) -> SourceOptions {
    serde_yaml::from_str(yaml).expect("valid source options")
}

fn read(name: &str, bytes: &[u8], yaml: &str) -> Result<Vec<Item>, Error> {
    let input = Input {
        name: name.to_string(),
        bytes: bytes.to_vec(),
    };
    let options = options(yaml);
    let items: Vec<Item> = CsvAdapter.read(&input, &options)?.collect();
    Ok(items)
}

/// Reads a file whose every row must be a record.
fn rows(bytes: &[u8], yaml: &str) -> Vec<Row> {
    read("in.csv", bytes, yaml)
        .expect("the file reads")
        .into_iter()
        .map(|item| item.expect("every row reads"))
        .collect()
}

fn transactions(bytes: &[u8], yaml: &str) -> Vec<(u64, Transaction)> {
    rows(bytes, yaml)
        .into_iter()
        .map(|row| match row.record {
            Record::Transaction(t) => (row.row, t),
            other => panic!("not a transaction: {other:?}"),
        })
        .collect()
}

fn voucher_lines(bytes: &[u8], yaml: &str) -> Vec<(u64, VoucherLine)> {
    rows(bytes, yaml)
        .into_iter()
        .map(|row| match row.record {
            Record::VoucherLine(v) => (row.row, v),
            other => panic!("not a voucher line: {other:?}"),
        })
        .collect()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn party(code: &str) -> Option<Party> {
    Some(Party {
        code: code.to_string(),
        ..Party::default()
    })
}

fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

fn diagnostic(code: &str, message: &str, file: &str, row: u64, column: &str) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code: code.to_string(),
        message: message.to_string(),
        file: Some(file.to_string()),
        row: Some(row),
        column: Some(column.to_string()),
    }
}

const CDNOW: &str = "name: cdnow
record: transaction
kind: sale
columns: { customer: 1, date: 2, quantity: 3, amount: 4 }
";

const CDNOW_MASTER: &[u8] = b" customer_id  date number_of_cds  dollar_value\r
 00001 19970101  1   11.77\r
 00002 19970112  1   12.00\r
 00002 19970112  5   77.00\r
";

#[test]
fn cdnow_master_whitespace_layout_with_its_header_line() {
    let got = transactions(CDNOW_MASTER, CDNOW);
    let want = |row, code: &str, d: NaiveDate, q: &str, a: &str| {
        (
            row,
            Transaction {
                customer: party(code),
                date: d,
                kind: EntryKind::Sale,
                amount: dec(a),
                currency: None,
                quantity: Some(dec(q)),
                document: None,
                memo: None,
                dims: Dimensions::default(),
            },
        )
    };
    assert_eq!(
        got,
        vec![
            want(2, "00001", date(1997, 1, 1), "1", "11.77"),
            want(3, "00002", date(1997, 1, 12), "1", "12.00"),
            want(4, "00002", date(1997, 1, 12), "5", "77.00"),
        ]
    );
    assert_eq!(got[1].1.amount.to_string(), "12.00");
}

#[test]
fn a_short_first_row_is_data_not_a_header() {
    let got = read("c.txt", b" 00001\n 00002 19970101 1 5\n", CDNOW).unwrap();
    assert_eq!(got.len(), 2);
    assert!(
        matches!(&got[0], Err(d) if d.code == "adapter.short_row" && d.row == Some(1) && d.column.as_deref() == Some("2")),
        "{:?}",
        got[0]
    );
    assert!(matches!(&got[1], Ok(row) if row.row == 2));
}

#[test]
fn gbk_whitespace_layout() {
    let bytes = gbk("客户 日期 金额\n 甲001 2024-03-01 5\n");
    let got = transactions(
        &bytes,
        "name: x\nrecord: transaction\nkind: sale\ncolumns: { customer: 1, date: 2, amount: 3 }",
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, 2);
    assert_eq!(got[0].1.customer, party("甲001"));
}

#[test]
fn cdnow_sample_without_a_header_starts_at_row_one() {
    let text = b" 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n";
    let yaml = "name: s\nrecord: transaction\nkind: sale\ndelimiter: whitespace\ncolumns: { customer: 1, date: 3, quantity: 4, amount: 5, document: 2 }";
    let got = transactions(text, yaml);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, 1);
    assert_eq!(got[0].1.date, date(1997, 1, 1));
    assert_eq!(got[0].1.document.as_deref(), Some("0001"));
    assert_eq!(got[1].0, 2);
    assert_eq!(got[1].1.amount, dec("29.73"));
}

#[test]
fn whitespace_diagnostics_name_the_column_by_header_or_number() {
    let text = b" customer_id  date number_of_cds  dollar_value\n 00001 19971301  1   11.77\n 00002 19970112 1 x\n 00003 19970112\n";
    let got = read("CDNOW_master.txt", text, CDNOW).unwrap();
    assert_eq!(
        got,
        vec![
            Err(diagnostic(
                "adapter.bad_date",
                "cannot read '19971301' as a date (expected e.g. 2024-03-01, 2024/3/1, 20240301 or 2024年3月1日)",
                "CDNOW_master.txt",
                2,
                "date"
            )),
            Err(diagnostic(
                "adapter.bad_amount",
                "cannot read 'x' as an amount: not a number",
                "CDNOW_master.txt",
                3,
                "dollar_value"
            )),
            Err(diagnostic(
                "adapter.short_row",
                "the row has 2 cells, so it has no column number_of_cds (quantity)",
                "CDNOW_master.txt",
                4,
                "number_of_cds"
            )),
        ]
    );
    // Without a header, the column is its 1-based number.
    let got = read("c.txt", b" 00001 19970101  1   1x.77\n", CDNOW).unwrap();
    let Err(d) = &got[0] else {
        panic!("a diagnostic")
    };
    assert_eq!(
        (d.code.as_str(), d.column.as_deref(), d.row),
        ("adapter.bad_amount", Some("4"), Some(1))
    );
    assert!(d.message.contains("'1x.77'"), "{}", d.message);
}

const SALES: &str = "name: shop
record: transaction
columns: { customer: 客户编号, customer_name: 客户名称, date: 日期, kind: 类型, amount: 金额, memo: 备注 }
kinds: { 销售: sale, 退: return }
";

fn sales_text(sep: char) -> String {
    [
        ["客户编号", "客户名称", "日期", "类型", "金额", "备注"],
        [
            "C001",
            "杭州星河",
            "2024-03-01",
            "销售",
            "￥1234.50",
            "首单",
        ],
        ["C002", "", "2024/3/2", "退", "(30)", ""],
        ["C003", "上海ABC", "20240303", "refund", "¥12", "x"],
    ]
    .iter()
    .map(|row| row.join(&sep.to_string()))
    .collect::<Vec<_>>()
    .join("\n")
}

#[test]
fn comma_tab_semicolon_and_pipe_named_or_detected() {
    for (sep, name) in [
        (',', "comma"),
        ('\t', "tab"),
        (';', "semicolon"),
        ('|', "pipe"),
    ] {
        let text = sales_text(sep);
        for delimiter in [name, "auto"] {
            let yaml = format!("{SALES}delimiter: {delimiter}\n");
            let got = transactions(text.as_bytes(), &yaml);
            let summary: Vec<_> = got
                .iter()
                .map(|(row, t)| {
                    (
                        *row,
                        t.customer.as_ref().unwrap().code.as_str(),
                        t.customer.as_ref().unwrap().name.as_deref(),
                        t.date,
                        t.kind,
                        t.amount.to_string(),
                        t.memo.as_deref(),
                    )
                })
                .collect();
            assert_eq!(
                summary,
                vec![
                    (
                        2,
                        "C001",
                        Some("杭州星河"),
                        date(2024, 3, 1),
                        EntryKind::Sale,
                        "1234.50".into(),
                        Some("首单")
                    ),
                    (
                        3,
                        "C002",
                        None,
                        date(2024, 3, 2),
                        EntryKind::Return,
                        "-30".into(),
                        None
                    ),
                    (
                        4,
                        "C003",
                        Some("上海ABC"),
                        date(2024, 3, 3),
                        EntryKind::Return,
                        "12".into(),
                        Some("x")
                    ),
                ],
                "delimiter {delimiter} on {sep:?}"
            );
        }
    }
}

#[test]
fn dates_and_amounts_in_their_many_spellings() {
    let text = "d,a\n2024-03-01,\"1,234.50\"\n2024/3/1,¥5\n20240301,￥6\n2024年3月1日,$7\n２０２４－０３－０１,１２３\n2024-03-01,-1\n2024-03-01,(1)\n2024-03-01,\"(¥1,000.00)\"\n";
    let yaml = "name: x\nrecord: transaction\nkind: sale\ncolumns: { date: d, amount: a }";
    let got: Vec<(u64, NaiveDate, String)> = transactions(text.as_bytes(), yaml)
        .into_iter()
        .map(|(row, t)| (row, t.date, t.amount.to_string()))
        .collect();
    let march1 = date(2024, 3, 1);
    assert_eq!(
        got,
        vec![
            (2, march1, "1234.50".into()),
            (3, march1, "5".into()),
            (4, march1, "6".into()),
            (5, march1, "7".into()),
            (6, march1, "123".into()),
            (7, march1, "-1".into()),
            (8, march1, "-1".into()),
            (9, march1, "-1000.00".into()),
        ]
    );
}

#[test]
fn an_explicit_date_format() {
    let text = "d,a\n01/03/2024,1\n2024-03-01,2\n";
    let yaml = "name: x\nrecord: transaction\nkind: sale\ndate_format: '%d/%m/%Y'\ncolumns: { date: d, amount: a }";
    let got = read("f.csv", text.as_bytes(), yaml).unwrap();
    assert_eq!(got.len(), 2);
    let Ok(row) = &got[0] else {
        panic!("row 2 reads")
    };
    let Record::Transaction(t) = &row.record else {
        panic!("a transaction")
    };
    assert_eq!(t.date, date(2024, 3, 1));
    let Err(d) = &got[1] else {
        panic!("row 3 is refused")
    };
    assert_eq!(
        (d.code.as_str(), d.row, d.column.as_deref()),
        ("adapter.bad_date", Some(3), Some("d"))
    );
    assert!(
        d.message
            .starts_with("cannot read '2024-03-01' as a date in format '%d/%m/%Y'"),
        "{}",
        d.message
    );
}

#[test]
fn skip_rows_skips_title_lines_before_the_header() {
    let text = "销售明细表\n编制单位：\"某公司\n\n日期,金额\n2024-03-01,10\n\n2024-03-02,20\n";
    let yaml = "name: x\nrecord: transaction\nkind: sale\nskip_rows: 3\ncolumns: { date: 日期, amount: 金额 }";
    let got: Vec<(u64, String)> = transactions(text.as_bytes(), yaml)
        .into_iter()
        .map(|(row, t)| (row, t.amount.to_string()))
        .collect();
    assert_eq!(got, vec![(5, "10".to_string()), (7, "20".to_string())]);
    // Without skip_rows the title is taken for the header, and the error shows it.
    let yaml = "name: x\nrecord: transaction\nkind: sale\ncolumns: { date: 日期, amount: 金额 }";
    let err = read("t.csv", text.as_bytes(), yaml).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.csv:1: column '日期' (mapped to date) is not in the header; the header has: 销售明细表"
    );
}

#[test]
fn utf8_with_bom_matches_the_first_header_name() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend("客户编号,名称\r\nC1,甲\r\n".as_bytes());
    let got = rows(
        &bytes,
        "name: crm\nrecord: customer\ncolumns: { code: 客户编号, name: 名称 }",
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].row, 2);
    let Record::Customer(c) = &got[0].record else {
        panic!("a customer")
    };
    assert_eq!(c.party.code, "C1");
    assert_eq!(c.party.name.as_deref(), Some("甲"));
}

#[test]
fn gbk_and_gb18030_detected_or_named() {
    let text = "客户编号,客户名称,区域\nC0001,杭州星河贸易有限公司,华东\n";
    let yaml = |encoding: &str| {
        format!("name: crm\nrecord: customer\nencoding: {encoding}\ncolumns: {{ code: 客户编号, name: 客户名称, region: 区域 }}")
    };
    for encoding in ["auto", "gbk", "gb18030"] {
        let got = rows(&gbk(text), &yaml(encoding));
        let Record::Customer(c) = &got[0].record else {
            panic!("a customer")
        };
        assert_eq!(
            c.party.name.as_deref(),
            Some("杭州星河贸易有限公司"),
            "{encoding}"
        );
        assert_eq!(c.region.as_deref(), Some("华东"));
    }
    // A name only GB18030's four-byte sequences can hold.
    let rare = "客户编号,客户名称,区域\nC0002,𠀀记商行,华南\n";
    let bytes = encoding_rs::GB18030.encode(rare).0.into_owned();
    for encoding in ["auto", "gb18030"] {
        let got = rows(&bytes, &yaml(encoding));
        let Record::Customer(c) = &got[0].record else {
            panic!("a customer")
        };
        assert_eq!(c.party.name.as_deref(), Some("𠀀记商行"), "{encoding}");
    }
    // GBK bytes read as UTF-8: the line of the first bad byte is named.
    let mut bytes = b"code,name\nC1,ok\n".to_vec();
    bytes.extend(gbk("C2,乙\n"));
    let err = read(
        "k3.csv",
        &bytes,
        "name: crm\nrecord: customer\nencoding: utf-8\ncolumns: { code: code }",
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Encoding { file, line: 3, encoding: "UTF-8", .. } if file == "k3.csv"),
        "{err}"
    );
}

#[test]
fn empty_blank_and_header_only_files() {
    let yaml = "name: x\nrecord: customer\ncolumns: { code: code }";
    for bytes in [&b""[..], b"  \r\n\n", b"\xEF\xBB\xBF", b"\xEF\xBB\xBF \n"] {
        let err = read("e.csv", bytes, yaml).unwrap_err();
        assert_eq!(err.to_string(), "e.csv: the file is empty", "{bytes:?}");
    }
    assert_eq!(read("h.csv", b"code,name\n", yaml).unwrap(), vec![]);
    assert_eq!(read("h.csv", b"code,name\n,\n\n", yaml).unwrap(), vec![]);
    // skip_rows past the end: nothing to read.
    assert_eq!(
        read("h.csv", b"title\n", &format!("{yaml}\nskip_rows: 5")).unwrap(),
        vec![]
    );
}

#[test]
fn quoted_cells_with_commas_quotes_and_newlines() {
    let text = "code,name,tags\r\n\"C1\",\"星河, 杭州\",\"vip,\"\"老客\"\"\"\r\nC2,\"two\r\nlines\",a|b\r\n\r\nC3,plain,\r\n";
    let got = rows(
        text.as_bytes(),
        "name: x\nrecord: customer\ncolumns: { code: code, name: name, tags: tags }",
    );
    let summary: Vec<_> = got
        .iter()
        .map(|row| {
            let Record::Customer(c) = &row.record else {
                panic!("a customer")
            };
            (
                row.row,
                c.party.name.clone().unwrap(),
                c.tags.iter().cloned().collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                2,
                "星河, 杭州".to_string(),
                vec!["\"老客\"".to_string(), "vip".to_string()]
            ),
            (
                3,
                "two\r\nlines".to_string(),
                vec!["a".to_string(), "b".to_string()]
            ),
            (6, "plain".to_string(), vec![]),
        ]
    );
}

#[test]
fn an_unterminated_quote_is_reported_not_swallowed() {
    let text = "code,name\nC1,ok\nC2,\"broken\nC3,lost\n";
    let got = read(
        "q.csv",
        text.as_bytes(),
        "name: x\nrecord: customer\ncolumns: { code: code, name: name }",
    )
    .unwrap();
    assert_eq!(got.len(), 2);
    assert!(got[0].is_ok());
    let Err(d) = &got[1] else {
        panic!("a diagnostic")
    };
    assert_eq!(
        (
            d.code.as_str(),
            d.file.as_deref(),
            d.row,
            d.column.as_deref()
        ),
        ("adapter.malformed", Some("q.csv"), Some(3), Some("name"))
    );
}

#[test]
fn ragged_rows_short_ones_are_diagnosed_long_ones_read() {
    let text = "a,b,c\n1,2024-03-01,5,extra,cells\n2,2024-03-02\n3,2024-03-03,7\n";
    let yaml =
        "name: x\nrecord: transaction\nkind: sale\ncolumns: { customer: a, date: b, amount: c }";
    let got = read("r.csv", text.as_bytes(), yaml).unwrap();
    assert_eq!(got.len(), 3);
    assert!(matches!(&got[0], Ok(row) if row.row == 2));
    assert_eq!(
        got[1],
        Err(diagnostic(
            "adapter.short_row",
            "the row has 2 cells, so it has no column c (amount)",
            "r.csv",
            3,
            "c"
        ))
    );
    assert!(matches!(&got[2], Ok(row) if row.row == 4));
}

#[test]
fn row_diagnostics_name_file_row_and_column() {
    let text = "客户,日期,类型,金额,数量\nC1,2024-02-30,sale,1,1\nC2,2024-03-01,gift,1,1\nC3,2024-03-01,sale,,1\nC4,2024-03-01,sale,1.2.3,1\nC5,2024-03-01,sale,1,many\nC6,2024-03-01,sale,1,2\n";
    let yaml = "name: x\nrecord: transaction\ncolumns: { customer: 客户, date: 日期, kind: 类型, amount: 金额, quantity: 数量 }";
    let got = read("d.csv", text.as_bytes(), yaml).unwrap();
    let summary: Vec<_> = got
        .iter()
        .map(|item| match item {
            Ok(row) => (row.row, "ok".to_string(), String::new()),
            Err(d) => {
                assert_eq!(d.severity, Severity::Error);
                assert_eq!(d.file.as_deref(), Some("d.csv"));
                (d.row.unwrap(), d.code.clone(), d.column.clone().unwrap())
            }
        })
        .collect();
    let s = |row: u64, code: &str, column: &str| (row, code.to_string(), column.to_string());
    assert_eq!(
        summary,
        vec![
            s(2, "adapter.bad_date", "日期"),
            s(3, "adapter.bad_kind", "类型"),
            s(4, "adapter.missing_value", "金额"),
            s(5, "adapter.bad_amount", "金额"),
            s(6, "adapter.bad_number", "数量"),
            s(7, "ok", ""),
        ]
    );
    let Err(kind) = &got[1] else { panic!() };
    assert!(
        kind.message.starts_with("unknown entry kind 'gift'"),
        "{}",
        kind.message
    );
    let Err(bad) = &got[3] else { panic!() };
    assert!(bad.message.contains("'1.2.3'"), "{}", bad.message);
}

#[test]
fn one_diagnostic_per_row_the_first_problem() {
    let text = "d,a\nnope,also-nope\n";
    let got = read(
        "f.csv",
        text.as_bytes(),
        "name: x\nrecord: transaction\nkind: sale\ncolumns: { date: d, amount: a }",
    )
    .unwrap();
    assert_eq!(got.len(), 1);
    assert!(matches!(&got[0], Err(d) if d.code == "adapter.bad_date"));
}

#[test]
fn unknown_columns_and_bad_options_stop_the_file() {
    let text = b"code,name\nC1,x\n";
    let err = read(
        "c.csv",
        text,
        "name: crm\nrecord: customer\ncolumns: { code: code, phone: 手机 }",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.csv:1: column '手机' (mapped to phone) is not in the header; the header has: code, name"
    );
    assert!(matches!(err, Error::UnknownColumn { row: 1, .. }));
    let err = read(
        "c.csv",
        text,
        "name: crm\nrecord: customer\ncolumns: { code: code }\nattributes: [等级]",
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownColumn { column, field, .. } if column == "等级" && field == "attributes"),
        "{err}"
    );
    let err = read(
        "c.csv",
        text,
        "name: crm\nrecord: customer\nheader: absent\ncolumns: { code: code }",
    )
    .unwrap_err();
    assert!(matches!(err, Error::Options { .. }), "{err}");
    let err = read(
        "c.csv",
        text,
        "name: crm\nrecord: customer\ncolumns: { name: 2 }",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "source 'crm': customer records need columns (or defaults) for: code"
    );
    // Header present with numbered columns: named diagnostics, and a missing name is an error.
    let err = read(
        "c.csv",
        text,
        "name: crm\nrecord: customer\nheader: present\ncolumns: { code: 1, name: 名称 }",
    )
    .unwrap_err();
    assert!(matches!(err, Error::UnknownColumn { .. }), "{err}");
}

#[test]
fn header_auto_with_numbered_columns_and_no_typed_one_means_no_header() {
    let got = rows(
        b"C1,x\nC2,y\n",
        "name: crm\nrecord: customer\ncolumns: { code: 1, name: 2 }",
    );
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].row, 1);
    let got = rows(
        b"C1,x\nC2,y\n",
        "name: crm\nrecord: customer\nheader: present\ncolumns: { code: 1, name: 2 }",
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].row, 2);
}

#[test]
fn defaults_fill_missing_columns_and_empty_cells() {
    let text = "日期,金额,渠道\n2024-03-01,100,\n2024-03-02,200,微信广告\n";
    let yaml = "name: fair\nrecord: spend\ncolumns: { date: 日期, amount: 金额, channel: 渠道 }\ndefaults: { channel: 展会活动, campaign: 春季 }";
    let got: Vec<Record> = rows(text.as_bytes(), yaml)
        .into_iter()
        .map(|r| r.record)
        .collect();
    let spend = |d: NaiveDate, channel: &str, amount: &str| {
        Record::Spend(Spend {
            date: d,
            channel: channel.to_string(),
            campaign: Some("春季".to_string()),
            amount: dec(amount),
            currency: "CNY".to_string(),
            source: Provenance::default(),
        })
    };
    assert_eq!(
        got,
        vec![
            spend(date(2024, 3, 1), "展会活动", "100"),
            spend(date(2024, 3, 2), "微信广告", "200"),
        ]
    );
    let err = read("f.csv", text.as_bytes(), "name: fair\nrecord: spend\ncolumns: { date: 日期, amount: 金额 }\ndefaults: { channel: x, amount: lots }").unwrap_err();
    assert!(
        err.to_string()
            .contains("defaults.amount: cannot read 'lots' as an amount"),
        "{err}"
    );
}

#[test]
fn voucher_lines_with_kingdee_auxiliary_items() {
    let text = "\
会计年度,会计期间,凭证日期,凭证字,凭证号,分录序号,科目代码,科目名称,借方,贷方,凭证摘要,核算项目,币别
2024,3,2024-03-05,记,12,1,1122,应收账款,\"11,300.00\",,销售,客户---C0001---杭州星河贸易有限公司,RMB
2024,3,2024-03-05,记,12,2,6001,主营业务收入,,\"10,000.00\",销售,部门---D01---销售一部;客户---C0001---杭州星河贸易有限公司,
2024,3,2024-03-05,记,12,3,2221.01.05,销项税额,,1300,销售,部门---D01---销售一部/项目---P9---旗舰店,
2024,3,2024-03-06,收,3,1,1002,银行存款,500,,回款,C0002,
";
    let yaml = "name: k3
record: voucher-line
columns: { fiscal_year: 会计年度, fiscal_period: 会计期间, date: 凭证日期, voucher: [凭证字, 凭证号],
           line: 分录序号, account: 科目代码, account_name: 科目名称, debit: 借方, credit: 贷方,
           memo: 凭证摘要, customer: 核算项目, currency: 币别 }
";
    let got = voucher_lines(text.as_bytes(), yaml);
    let xinghe = Some(Party {
        code: "C0001".to_string(),
        name: Some("杭州星河贸易有限公司".to_string()),
        ..Party::default()
    });
    let line = |n: u32, account: &str, name: &str, debit: &str, credit: &str| VoucherLine {
        date: date(2024, 3, 5),
        period: Some(Period::Month(2024, 3)),
        word: "记".to_string(),
        number: "12".to_string(),
        line: Some(n),
        account: account.to_string(),
        account_name: Some(name.to_string()),
        debit: dec(debit),
        credit: dec(credit),
        customer: None,
        memo: Some("销售".to_string()),
        quantity: None,
        currency: None,
        dims: Dimensions::default(),
    };
    assert_eq!(got.len(), 4);
    assert_eq!(
        got[0],
        (
            2,
            VoucherLine {
                customer: xinghe.clone(),
                currency: Some("RMB".to_string()),
                ..line(1, "1122", "应收账款", "11300.00", "0")
            }
        )
    );
    assert_eq!(
        got[1],
        (
            3,
            VoucherLine {
                customer: xinghe,
                dims: Dimensions {
                    department: Some("销售一部".to_string()),
                    ..Dimensions::default()
                },
                ..line(2, "6001", "主营业务收入", "0", "10000.00")
            }
        )
    );
    assert_eq!(
        got[2],
        (
            4,
            VoucherLine {
                dims: Dimensions {
                    department: Some("销售一部".to_string()),
                    project: Some("旗舰店".to_string()),
                    ..Dimensions::default()
                },
                ..line(3, "2221.01.05", "销项税额", "0", "1300")
            }
        )
    );
    let (row, bank) = &got[3];
    assert_eq!(*row, 5);
    assert_eq!((bank.word.as_str(), bank.number.as_str()), ("收", "3"));
    assert_eq!(bank.date, date(2024, 3, 6));
    assert_eq!(bank.customer, party("C0002"));
    assert_eq!(bank.document(), "收-3");
}

#[test]
fn voucher_number_in_one_column_or_two_fields() {
    let text = "日期,凭证号,科目,借,贷\n2024-03-01,记-12,6001,,5\n2024-03-01,7,6001,,5\n2024-03-01,,6001,,5\n";
    let yaml = "name: v\nrecord: voucher-line\ncolumns: { date: 日期, voucher: 凭证号, account: 科目, debit: 借, credit: 贷 }";
    let got = read("v.csv", text.as_bytes(), yaml).unwrap();
    let words: Vec<_> = got
        .iter()
        .map(|item| match item {
            Ok(Row {
                record: Record::VoucherLine(v),
                ..
            }) => format!("{}|{}", v.word, v.number),
            Ok(other) => panic!("{other:?}"),
            Err(d) => format!("{} at {}", d.code, d.column.as_deref().unwrap_or("")),
        })
        .collect();
    assert_eq!(words, ["记|12", "|7", "adapter.missing_value at 凭证号"]);

    let text = "日期,字,号,科目,借,贷,年,期\n2024-03-01,转,9,6001,1,,2024,13\n2024-03-01,,9,6001,1,,2024,3\n";
    let yaml = "name: v\nrecord: voucher-line\ncolumns: { date: 日期, voucher_word: 字, voucher_number: 号, account: 科目, debit: 借, credit: 贷, fiscal_year: 年, fiscal_period: 期 }\ndefaults: { voucher_word: 记 }";
    let got = read("v.csv", text.as_bytes(), yaml).unwrap();
    let Err(d) = &got[0] else {
        panic!("period 13 is refused")
    };
    assert_eq!(
        (d.code.as_str(), d.column.as_deref(), d.row),
        ("adapter.bad_period", Some("期"), Some(2))
    );
    let Ok(Row {
        record: Record::VoucherLine(v),
        ..
    }) = &got[1]
    else {
        panic!("row 3 reads")
    };
    assert_eq!(
        (v.word.as_str(), v.number.as_str(), v.period),
        ("记", "9", Some(Period::Month(2024, 3)))
    );
    assert_eq!((v.debit, v.credit), (dec("1"), Decimal::ZERO));
}

#[test]
fn customer_records_with_tags_and_attributes() {
    let text = "编号,名称,手机,信用代码,区域,渠道,注册日期,信用额度,标签,等级,备注\nC1,杭州星河,138 0013 8000,91330100MA27XXXX1K,华东,展会,2023年5月6日,\"50,000\",\"vip、老客，华东;  ;重点\",A,\n";
    let yaml = "name: crm
record: customer
columns: { code: 编号, name: 名称, phone: 手机, uscc: 信用代码, region: 区域, channel: 渠道,
           first_seen: 注册日期, credit_limit: 信用额度, tags: 标签 }
attributes: [等级, 备注]
";
    let got = rows(text.as_bytes(), yaml);
    let Record::Customer(c) = &got[0].record else {
        panic!("a customer")
    };
    assert_eq!(
        c.party,
        Party {
            code: "C1".to_string(),
            name: Some("杭州星河".to_string()),
            phone: Some("138 0013 8000".to_string()),
            uscc: Some("91330100MA27XXXX1K".to_string()),
        }
    );
    assert_eq!(c.region.as_deref(), Some("华东"));
    assert_eq!(c.channel.as_deref(), Some("展会"));
    assert_eq!(c.first_seen, Some(date(2023, 5, 6)));
    assert_eq!(c.credit_limit, Some(dec("50000")));
    assert_eq!(
        c.tags.iter().map(String::as_str).collect::<Vec<_>>(),
        ["vip", "华东", "老客", "重点"]
    );
    assert_eq!(
        c.attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [("等级", "A")]
    );
}

#[test]
fn budgets_cost_pools_and_activities() {
    let text = "维度,键,期间,金额\nchannel,微信广告,2024-Q1,50000\nchannel,抖音,2024年3月,\"1,000\"\nchannel,展会,2024-13,1\n";
    let yaml = "name: b\nrecord: budget\ncolumns: { dimension: 维度, key: 键, period: 期间, amount: 金额 }\ncurrency: USD";
    let got = read("b.csv", text.as_bytes(), yaml).unwrap();
    let budget = |key: &str, period: Period, amount: &str| {
        Ok(Row {
            row: 0,
            record: Record::Budget(Budget {
                dimension: "channel".to_string(),
                key: key.to_string(),
                period,
                amount: dec(amount),
                currency: "USD".to_string(),
                source: Provenance::default(),
            }),
        })
    };
    let mut first = budget("微信广告", Period::Quarter(2024, 1), "50000");
    if let Ok(row) = &mut first {
        row.row = 2;
    }
    let mut second = budget("抖音", Period::Month(2024, 3), "1000");
    if let Ok(row) = &mut second {
        row.row = 3;
    }
    assert_eq!(got[0], first);
    assert_eq!(got[1], second);
    let Err(d) = &got[2] else {
        panic!("a bad period")
    };
    assert_eq!(
        (d.code.as_str(), d.row, d.column.as_deref()),
        ("adapter.bad_period", Some(4), Some("期间"))
    );
    assert!(d.message.contains("'2024-13'"));

    let text = "pool,period,amount,currency\nservice,2024-03,8800.5,\nlogistics,2024,100,USD\n";
    let got: Vec<Record> = rows(text.as_bytes(), "name: p\nrecord: cost-pool\ncolumns: { pool: pool, period: period, amount: amount, currency: currency }")
        .into_iter()
        .map(|r| r.record)
        .collect();
    assert_eq!(
        got,
        vec![
            Record::CostPool(CostPool {
                pool: "service".to_string(),
                period: Period::Month(2024, 3),
                amount: dec("8800.5"),
                currency: "CNY".to_string(),
                source: Provenance::default(),
            }),
            Record::CostPool(CostPool {
                pool: "logistics".to_string(),
                period: Period::Year(2024),
                amount: dec("100"),
                currency: "USD".to_string(),
                source: Provenance::default(),
            }),
        ]
    );

    let text = "客户,活动,日期,次数\nC1,service-ticket,2024-03-01,\nC2,delivery,2024-03-02,2.5\n,delivery,2024-03-02,1\n";
    let got = read("a.csv", text.as_bytes(), "name: a\nrecord: activity\ncolumns: { customer: 客户, activity: 活动, date: 日期, count: 次数 }").unwrap();
    let Ok(Row {
        record: Record::Activity(a),
        ..
    }) = &got[0]
    else {
        panic!("{:?}", got[0])
    };
    assert_eq!(
        (
            a.customer.code.as_str(),
            a.activity.as_str(),
            a.date,
            a.count
        ),
        ("C1", "service-ticket", date(2024, 3, 1), Decimal::ONE)
    );
    let Ok(Row {
        record: Record::Activity(a),
        ..
    }) = &got[1]
    else {
        panic!("{:?}", got[1])
    };
    assert_eq!(a.count, dec("2.5"));
    let Err(d) = &got[2] else {
        panic!("no customer")
    };
    assert_eq!(
        (d.code.as_str(), d.column.as_deref()),
        ("adapter.missing_value", Some("客户"))
    );
}

#[test]
fn transaction_parties_and_dimensions() {
    let text = "客户,名称,电话,信用代码,日期,金额,币种,单号,产品,渠道,活动,区域,部门,项目\n\
C1,星河,13800138000,9133,2024-03-01,5,USD,SO-1,P1,web,spring,华东,销售一部,旗舰\n\
,,,,2024-03-01,5,,,,,,,,\n\
,某散客,,,2024-03-01,5,,,,,,,,\n";
    let yaml = "name: t\nrecord: transaction\nkind: sale\ncolumns: { customer: 客户, customer_name: 名称, customer_phone: 电话, customer_uscc: 信用代码, date: 日期, amount: 金额, currency: 币种, document: 单号, product: 产品, channel: 渠道, campaign: 活动, region: 区域, department: 部门, project: 项目 }";
    let got = transactions(text.as_bytes(), yaml);
    let t = &got[0].1;
    assert_eq!(
        t.customer,
        Some(Party {
            code: "C1".to_string(),
            name: Some("星河".to_string()),
            phone: Some("13800138000".to_string()),
            uscc: Some("9133".to_string()),
        })
    );
    assert_eq!(
        (t.currency.as_deref(), t.document.as_deref()),
        (Some("USD"), Some("SO-1"))
    );
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        t.dims,
        Dimensions {
            product: some("P1"),
            channel: some("web"),
            campaign: some("spring"),
            region: some("华东"),
            department: some("销售一部"),
            project: some("旗舰"),
        }
    );
    assert_eq!(got[1].1.customer, None);
    assert_eq!(got[1].1.dims, Dimensions::default());
    assert_eq!(
        got[2].1.customer,
        Some(Party {
            code: String::new(),
            name: Some("某散客".to_string()),
            ..Party::default()
        })
    );
}

#[test]
fn crlf_files_keep_physical_line_numbers() {
    let text = "d,a\r\n\r\n2024-03-01,1\r\n\r\n\r\n2024-03-02,2\r\n\"2024-03-03\",\"3\"\r\n";
    let got: Vec<u64> = transactions(
        text.as_bytes(),
        "name: x\nrecord: transaction\nkind: sale\ncolumns: { date: d, amount: a }",
    )
    .into_iter()
    .map(|(row, _)| row)
    .collect();
    assert_eq!(got, [3, 6, 7]);
}

#[test]
fn the_adapter_names_itself() {
    assert_eq!(CsvAdapter.name(), "csv");
    assert!(CsvAdapter.description().contains("GB18030"));
}

/// A broken cell does not become a customer id, and a message quoting a huge cell is cut.
#[test]
fn huge_cells_are_refused_and_quoted_short() {
    let yaml = "name: s\nrecord: transaction\nkind: sale\ncolumns: { customer: 客户, date: 日期, amount: 金额 }\n";
    let long_code = "甲".repeat(200);
    let long_amount = "9".repeat(10_000) + "x";
    let file = format!(
        "客户,日期,金额\n{long_code},2024-01-01,10\nC1,2024-01-01,{long_amount}\nC2,2024-01-02,5\n"
    );
    let got = read("big.csv", file.as_bytes(), yaml).unwrap();
    assert!(
        matches!(&got[0], Err(d) if d.code == "adapter.bad_customer_cell"
            && d.message.contains("200 characters")),
        "{:?}",
        got[0]
    );
    let Err(bad) = &got[1] else {
        panic!("{:?}", got[1])
    };
    assert!(bad.message.chars().count() < 500, "{}", bad.message.len());
    assert!(
        bad.message.ends_with("characters in all)"),
        "{}",
        bad.message
    );
    assert!(got[2].is_ok());
}
