//! The Kingdee adapter on the shared ERP fixtures (tests/fixtures/erp/kingdee, written by
//! generate.py with the designed figures in expected.yaml).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

use ledgerlens_adapter::{Adapter, ColumnRef, Field, Input, Item, SourceOptions};
use ledgerlens_kingdee::{sniff, KingdeeAdapter, Layout};
use ledgerlens_model::{Record, RecordType, VoucherLine};
use rust_decimal::Decimal;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/erp/kingdee")
}

fn input(name: &str) -> Input {
    let path = dir().join(name);
    Input {
        name: name.to_string(),
        bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    }
}

fn expected() -> serde_yaml::Value {
    let text = std::fs::read_to_string(dir().join("expected.yaml")).expect("expected.yaml");
    serde_yaml::from_str(&text).expect("yaml")
}

fn read(name: &str, options: &SourceOptions) -> Vec<Item> {
    let input = input(name);
    let items: Vec<Item> = KingdeeAdapter
        .read(&input, options)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .collect();
    items
}

fn lines(items: &[Item]) -> Vec<VoucherLine> {
    items
        .iter()
        .filter_map(|item| match item {
            Ok(row) => match &row.record {
                Record::VoucherLine(l) => Some(l.clone()),
                _ => None,
            },
            Err(_) => None,
        })
        .collect()
}

/// Per customer: revenue (credit - debit of 6001/6051) and invoiced (debit of 1122).
fn figures(lines: &[VoucherLine]) -> BTreeMap<String, (Decimal, Decimal)> {
    let mut out: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for l in lines {
        let Some(customer) = &l.customer else {
            continue;
        };
        let entry = out.entry(customer.code.clone()).or_default();
        if l.account.starts_with("6001") || l.account.starts_with("6051") {
            entry.0 += l.credit - l.debit;
        }
        if l.account.starts_with("1122") {
            entry.1 += l.debit;
        }
    }
    out
}

fn dec(v: &serde_yaml::Value) -> Decimal {
    Decimal::from_str(v.as_str().expect("a decimal string")).expect("decimal")
}

fn check_figures(name: &str, got: &BTreeMap<String, (Decimal, Decimal)>, want: &serde_yaml::Value) {
    let want = want.as_mapping().expect("figures");
    assert_eq!(got.len(), want.len(), "{name}: customers {got:?}");
    for (code, f) in want {
        let code = code.as_str().expect("code");
        let (revenue, invoiced) = got.get(code).copied().unwrap_or_default();
        assert_eq!(revenue, dec(&f["revenue"]), "{name} {code} revenue");
        assert_eq!(invoiced, dec(&f["invoiced"]), "{name} {code} invoiced");
    }
}

#[test]
fn k3_exports_read_the_same_in_every_format() {
    let want = &expected()["k3_vouchers"];
    let options = SourceOptions::new("k3", RecordType::VoucherLine);
    for name in [
        "k3_vouchers.xlsx",
        "k3_vouchers_titled.xlsx",
        "k3_vouchers.xls",
        "k3_vouchers_gbk.csv",
        "k3_vouchers_utf8bom.csv",
    ] {
        let items = read(name, &options);
        let got = lines(&items);
        let problems: Vec<_> = items.iter().filter_map(|i| i.as_ref().err()).collect();
        assert_eq!(
            got.len() as u64,
            want["lines"].as_u64().unwrap_or(0),
            "{name}: {problems:?}"
        );
        // The only row that is not a line is the totals row.
        assert_eq!(problems.len(), 1, "{name}: {problems:?}");
        assert_eq!(problems[0].code, "kingdee.totals_row", "{name}");
        let debit: Decimal = got.iter().map(|l| l.debit).sum();
        let credit: Decimal = got.iter().map(|l| l.credit).sum();
        assert_eq!(debit, dec(&want["total_debit"]), "{name}");
        assert_eq!(credit, dec(&want["total_credit"]), "{name}");
        let vouchers: std::collections::BTreeSet<_> = got.iter().map(|l| l.voucher_key()).collect();
        assert_eq!(
            vouchers.len() as u64,
            want["vouchers"].as_u64().unwrap_or(0),
            "{name}"
        );
        check_figures(name, &figures(&got), &want["figures"]);
        for (code, customer_name) in want["customers"].as_mapping().expect("customers") {
            let line = got
                .iter()
                .find(|l| {
                    l.customer
                        .as_ref()
                        .is_some_and(|c| Some(c.code.as_str()) == code.as_str())
                })
                .unwrap_or_else(|| panic!("{name}: no line of {code:?}"));
            let party = line.customer.as_ref().expect("customer");
            assert_eq!(party.name.as_deref(), customer_name.as_str(), "{name}");
        }
    }
}

#[test]
fn an_old_gbk_excel_95_workbook_decodes() {
    let want = &expected()["k3_vouchers_old"];
    let options = SourceOptions::new("k3", RecordType::VoucherLine);
    let items = read("k3_vouchers_old.xls", &options);
    let got = lines(&items);
    assert_eq!(
        got.len() as u64,
        want["lines"].as_u64().unwrap_or(0),
        "{items:?}"
    );
    check_figures("old", &figures(&got), &want["figures"]);
    assert!(got
        .iter()
        .any(|l| l.account_name.as_deref() == Some("应收账款")));
}

#[test]
fn cloud_exports_find_the_customer_slot_from_the_captions() {
    let want = &expected()["cloud_vouchers"];
    let options = SourceOptions::new("cloud", RecordType::VoucherLine);
    for name in ["cloud_vouchers.xlsx", "cloud_vouchers_flex8.xlsx"] {
        let items = read(name, &options);
        let got = lines(&items);
        let problems: Vec<_> = items.iter().filter_map(|i| i.as_ref().err()).collect();
        assert!(problems.is_empty(), "{name}: {problems:?}");
        assert_eq!(
            got.len() as u64,
            want["lines"].as_u64().unwrap_or(0),
            "{name}"
        );
        // Bill-head fields were filled down: every line has its voucher and date.
        let vouchers: std::collections::BTreeSet<_> = got.iter().map(|l| l.voucher_key()).collect();
        assert_eq!(
            vouchers.len() as u64,
            want["vouchers"].as_u64().unwrap_or(0),
            "{name}"
        );
        check_figures(name, &figures(&got), &want["figures"]);
        let column = want["customer_column"][name].as_str().expect("column");
        let found = sniff(&input(name), &options).expect("recognized");
        assert_eq!(found.layout, Layout::Cloud);
        assert!(
            found
                .customer
                .as_deref()
                .is_some_and(|c| c.starts_with(column)),
            "{found:?}"
        );
    }
    // No caption says 客户: no customer, unless the configuration names the slot.
    let items = read("cloud_vouchers_nocaption.xlsx", &options);
    assert!(lines(&items).iter().all(|l| l.customer.is_none()));
    let mut with_slot = options.clone();
    with_slot
        .columns
        .insert(Field::Customer, ColumnRef::Name("FDetailID#FFLEX6".into()));
    let got = lines(&read("cloud_vouchers_nocaption.xlsx", &with_slot));
    check_figures("nocaption", &figures(&got), &want["figures"]);
}

#[test]
fn sniff_tells_k3_from_cloud_and_finds_the_header_row() {
    let options = SourceOptions::new("k3", RecordType::VoucherLine);
    let k3 = sniff(&input("k3_vouchers_titled.xlsx"), &options).expect("K/3");
    assert_eq!((k3.layout, k3.header_row), (Layout::K3, 2));
    assert_eq!(k3.customer.as_deref(), Some("核算项目"));
    assert!(sniff(&input("expected.yaml"), &options).is_none());
}
