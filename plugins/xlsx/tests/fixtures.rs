//! The spreadsheet adapter on the shared ERP fixtures (tests/fixtures/erp).

use std::path::PathBuf;

use ledgerlens_adapter::{Adapter, ColumnRef, Error, Field, Input, Item, SourceOptions};
use ledgerlens_model::{Record, RecordType};
use ledgerlens_xlsx::{detect, Format, XlsxAdapter};
use rust_decimal::Decimal;

fn input(path: &str) -> Input {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/erp")
        .join(path);
    Input {
        name: path.to_string(),
        bytes: std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display())),
    }
}

fn spend_options() -> SourceOptions {
    let mut options = SourceOptions::new("spend", RecordType::Spend);
    options.sheet = Some("投放".into());
    for (field, column) in [
        (Field::Date, "日期"),
        (Field::Channel, "渠道"),
        (Field::Campaign, "活动"),
        (Field::Amount, "金额"),
    ] {
        options
            .columns
            .insert(field, ColumnRef::Name(column.into()));
    }
    options
}

fn read(input: &Input, options: &SourceOptions) -> Result<Vec<Item>, Error> {
    Ok(XlsxAdapter.read(input, options)?.collect())
}

#[test]
fn a_sheet_chosen_by_name_reads_through_the_column_mapping() {
    let input = input("spend/marketing_spend.xlsx");
    assert_eq!(detect(&input.bytes), Format::Xlsx);
    let items = read(&input, &spend_options()).expect("readable");
    let mut total = Decimal::ZERO;
    let mut wechat = Decimal::ZERO;
    let mut rows = 0;
    for row in items.iter().flatten() {
        let Record::Spend(spend) = &row.record else {
            panic!("spend")
        };
        rows += 1;
        total += spend.amount;
        if spend.channel == "微信广告" {
            wechat += spend.amount;
        }
    }
    assert_eq!(rows, 10);
    assert_eq!(total, Decimal::new(19490050, 2));
    assert_eq!(wechat, Decimal::new(6740000, 2));
    // The 合计 row is reported (no date), not lost and not summed.
    let problems: Vec<_> = items.iter().filter_map(|i| i.as_ref().err()).collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].row.is_some_and(|r| r > 10));
}

#[test]
fn a_wrong_sheet_name_lists_the_sheets() {
    let input = input("spend/marketing_spend.xlsx");
    let mut options = spend_options();
    options.sheet = Some("Sheet1".into());
    let Err(e) = read(&input, &options) else {
        panic!("a missing sheet is an error")
    };
    let message = e.to_string();
    assert!(
        message.contains("no sheet 'Sheet1'") && message.contains("投放"),
        "{message}"
    );
}

#[test]
fn truncated_and_encrypted_workbooks_are_refused_clearly() {
    let options = spend_options();
    let Err(truncated) = read(&input("bad/truncated.xlsx"), &options) else {
        panic!("truncated")
    };
    assert!(
        truncated.to_string().contains("the file is truncated"),
        "{truncated}"
    );
    let encrypted = input("bad/encrypted.xlsx");
    assert_eq!(detect(&encrypted.bytes), Format::Ole);
    let Err(e) = read(&encrypted, &options) else {
        panic!("encrypted")
    };
    assert!(e.to_string().contains("password-protected"), "{e}");
}

#[test]
fn html_and_text_saved_as_xls_are_read_as_what_they_are() {
    let mut options = SourceOptions::new("k3", RecordType::VoucherLine);
    for (field, column) in [
        (Field::Date, "凭证日期"),
        (Field::VoucherWord, "凭证字"),
        (Field::VoucherNumber, "凭证号"),
        (Field::Account, "科目代码"),
        (Field::Debit, "借方"),
        (Field::Credit, "贷方"),
        (Field::Customer, "核算项目"),
    ] {
        options
            .columns
            .insert(field, ColumnRef::Name(column.into()));
    }
    for (file, format) in [
        ("bad/html_as.xls", Format::Html),
        ("bad/csv_as.xls", Format::Text),
    ] {
        let input = input(file);
        assert_eq!(detect(&input.bytes), format, "{file}");
        let items = read(&input, &options).expect(file);
        let lines: Vec<_> = items
            .iter()
            .filter_map(|i| match i.as_ref().ok().map(|r| &r.record) {
                Some(Record::VoucherLine(l)) => Some(l),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), 10, "{file}");
        let debit: Decimal = lines.iter().map(|l| l.debit).sum();
        let credit: Decimal = lines.iter().map(|l| l.credit).sum();
        assert_eq!(debit, credit, "{file}");
        assert!(lines
            .iter()
            .any(|l| l.customer.as_ref().is_some_and(|c| c.code == "C001")));
        // The totals row has no date: one diagnostic, not a line.
        assert_eq!(items.len(), 11, "{file}");
    }
}
