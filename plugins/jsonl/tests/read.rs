//! The JSON Lines adapter on every record type, exact numbers, bad lines and encodings.

use ledgerlens_adapter::{Adapter, Error, Input, Item, SourceOptions};
use ledgerlens_jsonl::{sniff, JsonlAdapter};
use ledgerlens_model::{EntryKind, Period, Record, RecordType};
use rust_decimal::Decimal;

fn options(yaml: &str) -> SourceOptions {
    serde_yaml::from_str(yaml).unwrap()
}

fn read(text: &[u8], options: &SourceOptions) -> Result<Vec<Item>, Error> {
    let input = Input {
        name: "in.jsonl".to_string(),
        bytes: text.to_vec(),
    };
    let items = JsonlAdapter.read(&input, options)?.collect();
    Ok(items)
}

fn records(text: &str, options: &SourceOptions) -> Vec<(u64, Record)> {
    read(text.as_bytes(), options)
        .unwrap()
        .into_iter()
        .map(|item| match item {
            Ok(row) => (row.row, row.record),
            Err(d) => panic!("unexpected diagnostic: {d:?}"),
        })
        .collect()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn every_record_type_reads_from_one_file() {
    let text = r#"{"date": "2024-03-01", "kind": "sale", "amount": 1200.50, "customer": "C001", "customer_name": "甲公司", "document": "SO-1", "quantity": 2, "channel": "微信", "memo": "首单"}
{"record": "voucher-line", "date": "2024/3/2", "voucher": "记-12", "line": 1, "account": "6001", "debit": 0, "credit": "1,000.00", "customer": "C001"}
{"record": "voucher-line", "date": "20240302", "voucher_word": "记", "voucher_number": 13, "account": "1122", "debit": 500, "fiscal_year": 2024, "fiscal_period": 3}
{"record": "customer", "code": "C001", "name": "甲公司", "phone": "13800138000", "uscc": "91350100M000100Y43", "region": "华东", "channel": "微信", "first_seen": "2023-01-05", "credit_limit": 50000, "tags": ["vip", "批发"]}
{"record": "spend", "date": "2024-03-01", "channel": "微信", "campaign": "春季", "amount": 300}
{"record": "budget", "dimension": "channel", "key": "微信", "period": "2024-Q1", "amount": 1000}
{"record": "cost-pool", "pool": "物流", "period": "2024-03", "amount": 88.8}
{"record": "activity", "customer": "C001", "activity": "工单", "date": "2024-03-05", "count": 3}
"#;
    let rows = records(
        text,
        &options("{name: shop, adapter: jsonl, record: transaction}"),
    );
    assert_eq!(rows.len(), 8);
    assert_eq!(
        rows.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<u64>>()
    );
    let Record::Transaction(t) = &rows[0].1 else {
        panic!("{:?}", rows[0])
    };
    assert_eq!(t.date.to_string(), "2024-03-01");
    assert_eq!((t.kind, t.amount), (EntryKind::Sale, dec("1200.50")));
    let party = t.customer.as_ref().unwrap();
    assert_eq!(
        (party.code.as_str(), party.name.as_deref()),
        ("C001", Some("甲公司"))
    );
    assert_eq!(t.document.as_deref(), Some("SO-1"));
    assert_eq!(t.quantity, Some(dec("2")));
    assert_eq!(t.dims.channel.as_deref(), Some("微信"));
    assert_eq!(t.memo.as_deref(), Some("首单"));
    let Record::VoucherLine(v) = &rows[1].1 else {
        panic!("{:?}", rows[1])
    };
    assert_eq!((v.word.as_str(), v.number.as_str()), ("记", "12"));
    assert_eq!((v.debit, v.credit), (Decimal::ZERO, dec("1000.00")));
    assert_eq!((v.line, v.account.as_str()), (Some(1), "6001"));
    let Record::VoucherLine(v) = &rows[2].1 else {
        panic!("{:?}", rows[2])
    };
    assert_eq!((v.word.as_str(), v.number.as_str()), ("记", "13"));
    assert_eq!(v.period, Some(Period::Month(2024, 3)));
    assert_eq!((v.debit, v.credit), (dec("500"), Decimal::ZERO));
    let Record::Customer(c) = &rows[3].1 else {
        panic!("{:?}", rows[3])
    };
    assert_eq!(c.party.phone.as_deref(), Some("13800138000"));
    assert_eq!(c.credit_limit, Some(dec("50000")));
    assert_eq!(c.tags.iter().collect::<Vec<_>>(), ["vip", "批发"]);
    assert_eq!(
        c.first_seen.map(|d| d.to_string()).as_deref(),
        Some("2023-01-05")
    );
    assert!(
        matches!(&rows[4].1, Record::Spend(s) if s.amount == dec("300") && s.campaign.as_deref() == Some("春季") && s.currency == "CNY")
    );
    assert!(
        matches!(&rows[5].1, Record::Budget(b) if b.key == "微信" && b.period.to_string() == "2024-Q1")
    );
    assert!(
        matches!(&rows[6].1, Record::CostPool(p) if p.pool == "物流" && p.amount == dec("88.8"))
    );
    assert!(
        matches!(&rows[7].1, Record::Activity(a) if a.customer.code == "C001" && a.count == dec("3"))
    );
}

#[test]
fn numbers_are_exact_decimals() {
    let text = "{\"date\": \"2024-03-01\", \"amount\": 0.1}\n{\"date\": \"2024-03-01\", \"amount\": 0.2}\n{\"date\": \"2024-03-01\", \"amount\": 12345678901234567.89}\n{\"date\": \"2024-03-01\", \"amount\": \"¥-0.30\"}\n";
    let options = options("{name: s, adapter: jsonl, record: transaction, kind: sale}");
    let amounts: Vec<Decimal> = records(text, &options)
        .into_iter()
        .map(|(_, r)| match r {
            Record::Transaction(t) => t.amount,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(amounts[0] + amounts[1], dec("0.3"));
    assert_eq!(amounts[2].to_string(), "12345678901234567.89");
    assert_eq!(amounts[3], dec("-0.30"));
}

#[test]
fn bad_lines_are_diagnostics_with_their_rows() {
    let text = r#"{"date": "2024-03-01", "amount": 1}

not json
[1, 2]
{"date": "2024-03-01", "amount": 1, "colour": "red"}
{"date": "2024-03-01", "amount": true}
{"date": "2024-03-01", "amount": 1, "amount": 2}
{"record": "invoice", "date": "2024-03-01"}
{"date": "2024-13-01", "amount": 1}
{"date": "2024-03-01", "amount": {"value": 1}}
{"date": "2024-03-01", "amount": 1
{"date": "2024-03-01"}
{"record": 7}
{"date": "2024-03-01", "amount": 2}
"#;
    let options = options("{name: s, adapter: jsonl, record: transaction, kind: sale}");
    let items = read(text.as_bytes(), &options).unwrap();
    let seen: Vec<(u64, &str, Option<&str>)> = items
        .iter()
        .map(|item| match item {
            Ok(row) => (row.row, "ok", None),
            Err(d) => (d.row.unwrap(), d.code.as_str(), d.column.as_deref()),
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, "ok", None),
            (3, "adapter.bad_json", None),
            (4, "adapter.not_object", None),
            (5, "adapter.unknown_field", Some("colour")),
            (6, "adapter.bad_type", Some("amount")),
            (7, "adapter.duplicate_field", Some("amount")),
            (8, "adapter.bad_record", Some("record")),
            (9, "adapter.bad_date", Some("date")),
            (10, "adapter.bad_type", Some("amount")),
            (11, "adapter.bad_json", None),
            (12, "adapter.missing_value", Some("amount")),
            (13, "adapter.bad_record", Some("record")),
            (14, "ok", None),
        ]
    );
    let Err(d) = &items[3] else { panic!() };
    assert!(
        d.message
            .contains("transaction records have no field 'colour' (they read: date, amount"),
        "{}",
        d.message
    );
    assert_eq!(d.file.as_deref(), Some("in.jsonl"));
    let Err(d) = &items[6] else { panic!() };
    assert!(
        d.message.contains("unknown record type 'invoice'"),
        "{}",
        d.message
    );
}

#[test]
fn gbk_and_bom_input() {
    let line =
        "{\"record\": \"customer\", \"code\": \"C001\", \"name\": \"厦门甲贸易有限公司\"}\r\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(line);
    let options = options("{name: s, adapter: jsonl, record: customer}");
    for bytes in [
        gbk.to_vec(),
        [b"\xEF\xBB\xBF".as_slice(), line.as_bytes()].concat(),
    ] {
        let items = read(&bytes, &options).unwrap();
        let Ok(row) = &items[0] else {
            panic!("{items:?}")
        };
        let Record::Customer(c) = &row.record else {
            panic!()
        };
        assert_eq!(c.party.name.as_deref(), Some("厦门甲贸易有限公司"));
    }
    let mut strict = options.clone();
    strict.encoding = ledgerlens_adapter::Encoding::Utf8;
    assert!(matches!(read(&gbk, &strict), Err(Error::Encoding { .. })));
}

#[test]
fn options_rename_keys_and_fill_defaults() {
    let options = options(
        r#"{name: s, adapter: jsonl, record: customer, columns: { code: 客户编号, name: 客户名称 },
            defaults: { region: 华南 }, attributes: [等级]}"#,
    );
    let text = r#"{"客户编号": "K1", "客户名称": "乙\"公司\"", "等级": "A", "phone": null}"#;
    let rows = records(text, &options);
    let Record::Customer(c) = &rows[0].1 else {
        panic!()
    };
    assert_eq!(c.party.code, "K1");
    assert_eq!(c.party.name.as_deref(), Some("乙\"公司\""));
    assert_eq!(c.party.phone, None);
    assert_eq!(c.region.as_deref(), Some("华南"));
    assert_eq!(c.attributes.get("等级").map(String::as_str), Some("A"));
    // The field's own name is no longer its key once renamed.
    let items = read(br#"{"code": "K1"}"#, &options).unwrap();
    assert!(matches!(&items[0], Err(d) if d.code == "adapter.unknown_field"));
}

#[test]
fn options_that_cannot_work_are_errors() {
    let numbered = options("{name: s, adapter: jsonl, record: customer, columns: { code: 1 }}");
    let err = read(b"{}", &numbered).unwrap_err().to_string();
    assert!(err.contains("may only rename a field's key"), "{err}");
    let tabular = options("{name: s, adapter: jsonl, record: customer, skip_rows: 2}");
    let err = read(b"{}", &tabular).unwrap_err().to_string();
    assert!(err.contains("`skip_rows` is for tables"), "{err}");
    let bad_default = options(
        "{name: s, adapter: jsonl, record: transaction, kind: sale, defaults: { date: someday }}",
    );
    let err = read(b"{}", &bad_default).unwrap_err().to_string();
    assert!(err.starts_with("source 's': defaults.date:"), "{err}");
    let plain = options("{name: s, adapter: jsonl, record: customer}");
    assert!(matches!(read(b" \n\n", &plain), Err(Error::Empty { .. })));
}

#[test]
fn sniff_tells_json_lines() {
    let found = sniff(b"\n{\"record\": \"spend\", \"date\": \"2024-03-01\"}\n{}").unwrap();
    assert_eq!(found.record, Some(RecordType::Spend));
    assert_eq!(found.keys, ["record", "date"]);
    assert_eq!(found.encoding, "utf-8");
    let (gbk, _, _) = encoding_rs::GBK.encode("{\"name\": \"厦门\"}\n");
    assert_eq!(sniff(&gbk).unwrap().encoding, "gbk");
    let bom = sniff(b"\xEF\xBB\xBF \n{\"code\": 1}").unwrap();
    assert_eq!(
        (bom.encoding, bom.keys.as_slice()),
        ("utf-8-bom", ["code".to_string()].as_slice())
    );
    assert!(sniff(b"date,amount\n2024-03-01,1\n").is_none());
    assert!(sniff(b"{not json}\n").is_none());
    assert!(sniff(b"").is_none());
}
