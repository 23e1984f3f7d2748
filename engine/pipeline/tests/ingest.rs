//! Ingest end to end through the CSV adapter: counts, vouchers, identity, idempotence,
//! atomicity and incremental features.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use ledgerlens_adapter::{Adapter, SourceOptions};
use ledgerlens_model::{Decimal, EntryKind};
use ledgerlens_pipeline::{
    customer_features, ChartOfAccounts, Ingest, IngestReport, ProjectConfig,
};
use ledgerlens_store::{OpenOptions, Store};

struct Project {
    dir: tempfile::TempDir,
    config: ProjectConfig,
}

impl Project {
    fn new(config: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let config = ProjectConfig::parse(config, Path::new("ledgerlens.yaml")).unwrap();
        Project { dir, config }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn store(&self) -> Store {
        let options = OpenOptions {
            partitions: 16,
            ..OpenOptions::create()
        };
        Store::open(self.dir.path().join("db"), &options).unwrap()
    }

    fn ingest(
        &self,
        store: &Store,
        file: &str,
        bytes: &[u8],
        source: &str,
    ) -> Result<IngestReport, ledgerlens_pipeline::Error> {
        self.ingest_in_chunks(store, file, bytes, source, None)
    }

    /// [`ingest`](Self::ingest), writing ledger entries out in chunks of `chunk_bytes`.
    fn ingest_in_chunks(
        &self,
        store: &Store,
        file: &str,
        bytes: &[u8],
        source: &str,
        chunk_bytes: Option<usize>,
    ) -> Result<IngestReport, ledgerlens_pipeline::Error> {
        let path = self.write(file, bytes);
        let adapters: Vec<&dyn Adapter> = vec![&ledgerlens_csv::CsvAdapter];
        let chart = ChartOfAccounts::new(&self.config.accounts);
        let ingest = Ingest {
            adapters: &adapters,
            chart: &chart,
            progress: None,
            chunk_bytes,
        };
        let source: &SourceOptions = self.config.source(source).unwrap();
        ingest.file(store, &path, file, source)
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

const CONFIG: &str = r#"
sources:
  - name: orders
    files: orders*.csv
    record: transaction
    system: shop
    columns: { date: 日期, customer: 会员, customer_name: 姓名, kind: 类型, amount: 金额, document: 单号 }
    kinds: { 销售: sale, 退货: return }
  - name: crm
    files: crm*.csv
    record: customer
    system: crm
    columns: { code: 编号, name: 名称, phone: 手机, uscc: 信用代码, channel: 渠道 }
  - name: k3
    files: v*.csv
    record: voucher-line
    system: k3
    encoding: gbk
    columns: { date: 凭证日期, voucher: [凭证字, 凭证号], account: 科目代码, debit: 借方, credit: 贷方, memo: 摘要, customer: 核算项目 }
accounts:
  - { prefix: "6601.08", side: debit, kind: service-cost }
"#;

const ORDERS: &str = "日期,会员,姓名,类型,金额,单号
2024-01-05,M1,张三,销售,\"1,000.00\",A1
2024/2/1,M1,张三,销售,¥500,A2
2024-02-01,M1,张三,销售,250.50,A2
2024-03-01,M1,张三,退货,(100),R1
2024-02-30,M2,李四,销售,10,A3
2024-03-10,M2,李四,销售,12a,A4
20240310,M2,李四,销售,80,A5
";

#[test]
fn transactions_count_quarantine_and_features() {
    let p = Project::new(CONFIG);
    let store = p.store();
    let r = p
        .ingest(&store, "orders.csv", ORDERS.as_bytes(), "orders")
        .unwrap();
    assert_eq!((r.rows_read, r.rows_stored, r.rows_quarantined), (7, 5, 2));
    assert_eq!(r.entries_stored, 5);
    assert_eq!(r.customers_new, 2);
    let rows: Vec<(Option<u64>, &str)> = r
        .quarantined
        .iter()
        .map(|d| (d.row, d.code.as_str()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (Some(6), "adapter.bad_date"),
            (Some(7), "adapter.bad_amount")
        ]
    );
    assert_eq!(r.quarantined[0].column.as_deref(), Some("日期"));
    assert_eq!(r.quarantined[0].file.as_deref(), Some("orders.csv"));

    let (rows, _) = customer_features(&store, date("2024-03-31")).unwrap();
    let ids: Vec<&str> = rows.iter().map(|(c, _)| c.id.as_str()).collect();
    assert_eq!(ids, vec!["shop:M1", "shop:M2"]);
    let m1 = &rows[0].1;
    assert_eq!(m1.revenue, dec("1750.50"));
    // "(100)" is -100 of kind return: a refund written as a negative. Kinds carry the
    // direction, so the refund sum is -100 here; sources write refunds positive.
    assert_eq!(m1.refunds, dec("-100"));
    assert_eq!(m1.orders, 2, "A2 spans two lines: one order");
    assert_eq!(m1.first_purchase, Some(date("2024-01-05")));
    assert_eq!(m1.last_purchase, Some(date("2024-02-01")));
    assert_eq!(m1.recency_days, Some(59));
    assert_eq!(m1.tenure_days, Some(86));
    assert_eq!(m1.avg_order_value, Some(dec("875.25")));
    assert_eq!(m1.purchase_frequency, Some(dec("2")));
    let m2 = &rows[1].1;
    assert_eq!((m2.revenue, m2.orders), (dec("80"), 1));
    assert_eq!(rows[1].0.name.as_deref(), Some("李四"));
}

#[test]
fn same_content_twice_changes_nothing() {
    let p = Project::new(CONFIG);
    let store = p.store();
    let first = p
        .ingest(&store, "orders.csv", ORDERS.as_bytes(), "orders")
        .unwrap();
    let before = store.stats().unwrap();
    let again = p
        .ingest(&store, "orders-copy.csv", ORDERS.as_bytes(), "orders")
        .unwrap();
    assert!(again.already_imported);
    assert_eq!(again.batch, first.batch);
    assert_eq!(again.rows_read, 0);
    assert!(again.warnings[0]
        .message
        .contains("imported before as 'orders.csv'"));
    assert_eq!(store.stats().unwrap(), before);
}

fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

const VOUCHERS: &str = "凭证日期,凭证字,凭证号,科目代码,借方,贷方,摘要,核算项目
2024-03-01,记,1,1122,113.00,,销售,客户---K01---杭州星河贸易有限责任公司
2024-03-01,记,1,6001,,100.00,销售,客户---K01---杭州星河贸易有限责任公司
2024-03-01,记,1,2221.01,,13.00,销项税,
2024-03-05,记,2,1002,50.00,,收款,
2024-03-05,记,2,1122,,50.00,收款,客户---K01---杭州星河贸易有限责任公司
2024-03-06,记,3,1122,10.00,,销售,客户---K02---宁波海风商行
2024-03-06,记,3,6001,,9.99,销售,客户---K02---宁波海风商行
2024-03-07,记,4,6601.08,20.00,,售后,客户---K02---宁波海风商行
2024-03-07,记,4,2241,,20.00,售后,
2024-04-01,记,1,1122,5.00,,销售,客户---K03---温州
2024-04-01,记,1,6001,,5.00,销售,客户---K03---温州
";

#[test]
fn vouchers_balance_map_and_resolve_by_name() {
    let p = Project::new(CONFIG);
    let store = p.store();
    let crm = "编号,名称,手机,信用代码,渠道\nCRM1,杭州星河贸易有限公司,138 0013 8000,,微信广告\nCRM2,温州,,,展会活动\n";
    let r = p.ingest(&store, "crm.csv", crm.as_bytes(), "crm").unwrap();
    assert_eq!((r.rows_read, r.customer_rows, r.customers_new), (2, 2, 2));

    let r = p.ingest(&store, "v2024.csv", &gbk(VOUCHERS), "k3").unwrap();
    assert_eq!(r.rows_read, 11);
    assert_eq!(r.rows_quarantined, 2, "voucher 记-3 is off by 0.01");
    assert!(r
        .quarantined
        .iter()
        .all(|d| d.code == "validate.unbalanced_voucher"));
    assert_eq!(
        r.quarantined.iter().map(|d| d.row).collect::<Vec<_>>(),
        vec![Some(7), Some(8)]
    );
    assert!(
        r.quarantined[0]
            .message
            .contains("debits 10.00, credits 9.99"),
        "{}",
        r.quarantined[0].message
    );
    assert_eq!(r.entries_stored, 9);
    // K01 matches CRM1 by name (suffix variant), K03 matches CRM2 by name; K02 is new.
    assert_eq!((r.merges, r.customers_new), (2, 1));
    let merges = store.merges().unwrap();
    assert_eq!(merges[0].customer, "crm:CRM1");
    assert_eq!(merges[0].rule, "name");
    assert_eq!(merges[0].evidence, "杭州星河贸易有限公司");

    let (rows, _) = customer_features(&store, date("2024-04-30")).unwrap();
    let get = |id: &str| {
        rows.iter()
            .find(|(c, _)| c.id.as_str() == id)
            .map(|(_, f)| f.clone())
            .unwrap()
    };
    let c1 = get("crm:CRM1");
    assert_eq!((c1.revenue, c1.receivables), (dec("100.00"), dec("63.00")));
    let k2 = get("k3:K02");
    assert_eq!((k2.revenue, k2.cost_to_serve), (dec("0"), dec("20.00")));
    assert_eq!(get("crm:CRM2").revenue, dec("5.00"));

    // The company ledger holds the lines without a customer, e.g. the VAT line as tax.
    let mut company = Vec::new();
    store
        .for_each_entry(ledgerlens_store::COMPANY_PARTITION, |_, e, _| {
            company.push((e.account.map(str::to_string), e.kind, e.amount))
        })
        .unwrap();
    assert!(company.contains(&(Some("2221.01".into()), EntryKind::Tax, dec("13.00"))));
    assert!(company.contains(&(Some("1002".into()), EntryKind::Other, dec("50.00"))));

    // Re-importing new content for a merged code keeps the merge (exact xref now).
    let more = "凭证日期,凭证字,凭证号,科目代码,借方,贷方,摘要,核算项目\n2024-05-01,记,1,1122,7,,销售,客户---K01---另一个名字\n2024-05-01,记,1,6001,,7,销售,客户---K01---另一个名字\n";
    let r = p.ingest(&store, "v2024b.csv", &gbk(more), "k3").unwrap();
    assert_eq!((r.customers_new, r.merges), (0, 0));
    let (rows, _) = customer_features(&store, date("2024-05-31")).unwrap();
    let c1 = rows
        .iter()
        .find(|(c, _)| c.id.as_str() == "crm:CRM1")
        .unwrap();
    assert_eq!(c1.1.revenue, dec("107.00"));
    assert!(c1.0.codes.contains("k3:K01"));
}

#[test]
fn identity_by_uscc_and_phone_with_bad_uscc_reported() {
    let p = Project::new(CONFIG);
    let store = p.store();
    let body = "91330100MA27XYBK1";
    let check = ledgerlens_model::normalize::uscc_check_char(body).unwrap();
    let crm = format!("编号,名称,手机,信用代码,渠道\nA,甲公司,,{body}{check},\nB,乙,+86 139-0000-1111,,\nC,丙,,{body}0,\n");
    let r = p.ingest(&store, "crm.csv", crm.as_bytes(), "crm").unwrap();
    assert_eq!(r.customers_new, 3);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.code == "identity.bad_uscc" && w.row == Some(4)),
        "{:?}",
        r.warnings
    );
    let orders = "日期,会员,姓名,类型,金额,单号\n2024-01-01,X9,别名,销售,1,D1\n";
    let r = p
        .ingest(&store, "orders.csv", orders.as_bytes(), "orders")
        .unwrap();
    assert_eq!(r.customers_new, 1, "no attribute matches: a new customer");

    // A second CRM-like system with the USCC and the phone.
    let p2 = Project {
        dir: p.dir,
        config: ProjectConfig::parse(
            &CONFIG.replace("system: crm", "system: crm2"),
            Path::new("x"),
        )
        .unwrap(),
    };
    let crm3 = format!("编号,名称,手机,信用代码,渠道\nZ1,完全不同的名字,,{body}{check},\nZ2,另一个,13900001111,,\n");
    let r = p2
        .ingest(&store, "crm3.csv", crm3.as_bytes(), "crm")
        .unwrap();
    assert_eq!((r.customers_new, r.merges), (0, 2));
    let merges = store.merges().unwrap();
    let rules: Vec<(&str, &str)> = merges
        .iter()
        .map(|m| (m.customer.as_str(), m.rule.as_str()))
        .collect();
    assert_eq!(rules, vec![("crm:A", "uscc"), ("crm:B", "phone")]);
}

#[test]
fn a_file_that_cannot_be_read_stores_nothing() {
    let p = Project::new(&CONFIG.replace("金额, document: 单号", "金额, document: 订单编号"));
    let store = p.store();
    let err = p
        .ingest(&store, "orders.csv", ORDERS.as_bytes(), "orders")
        .unwrap_err();
    assert!(err.to_string().contains("订单编号"), "{err}");
    assert_eq!(
        store.stats().unwrap(),
        ledgerlens_store::Stats {
            partitions: 16,
            ..Default::default()
        }
    );
    // The store is usable afterwards: the failed import left no batch under way.
    let p2 = Project {
        config: ProjectConfig::parse(CONFIG, Path::new("x")).unwrap(),
        ..p
    };
    let r = p2
        .ingest(&store, "orders.csv", ORDERS.as_bytes(), "orders")
        .unwrap();
    assert_eq!(r.rows_read, 7);
}

#[test]
fn features_recompute_only_touched_partitions() {
    let p = Project::new(CONFIG);
    let store = p.store();
    let mut big = String::from("日期,会员,姓名,类型,金额,单号\n");
    for i in 0..400 {
        big.push_str(&format!(
            "2024-01-{:02},C{i},,销售,{}.{:02},O{i}\n",
            i % 28 + 1,
            i,
            i % 100
        ));
    }
    p.ingest(&store, "orders-big.csv", big.as_bytes(), "orders")
        .unwrap();
    let as_of = date("2024-12-31");
    let (first, run) = customer_features(&store, as_of).unwrap();
    assert_eq!(first.len(), 400);
    assert_eq!(run.computed, 16, "every partition has customers");
    let (_, run) = customer_features(&store, as_of).unwrap();
    assert_eq!(
        (run.cached, run.computed),
        (16, 0),
        "nothing changed: all cached"
    );

    let small = "日期,会员,姓名,类型,金额,单号\n2024-06-01,C7,,销售,1000,N1\n";
    p.ingest(&store, "orders-small.csv", small.as_bytes(), "orders")
        .unwrap();
    let (after, run) = customer_features(&store, as_of).unwrap();
    assert_eq!(
        (run.cached, run.computed),
        (15, 1),
        "only C7's partition recomputed"
    );
    let c7 = after
        .iter()
        .find(|(c, _)| c.id.as_str() == "shop:C7")
        .unwrap();
    assert_eq!((c7.1.revenue, c7.1.orders), (dec("1007.07"), 2));

    // The same data in a fresh store, computed from scratch, gives the same features.
    let fresh = Project::new(CONFIG);
    let s2 = fresh.store();
    fresh
        .ingest(&s2, "orders-big.csv", big.as_bytes(), "orders")
        .unwrap();
    fresh
        .ingest(&s2, "orders-small.csv", small.as_bytes(), "orders")
        .unwrap();
    let (scratch, _) = customer_features(&s2, as_of).unwrap();
    assert_eq!(scratch, after);

    // Merging the partitions by id gives the same order as sorting everything.
    let (parts, _) = ledgerlens_pipeline::map_partitions(&store, as_of, |rows| rows).unwrap();
    let merged: Vec<&str> = ledgerlens_pipeline::merge_by_id(&parts)
        .map(|(c, _)| c.id.as_str())
        .collect();
    let sorted: Vec<&str> = after.iter().map(|(c, _)| c.id.as_str()).collect();
    assert_eq!(merged, sorted);
    assert!(merged.windows(2).all(|w| w[0] < w[1]));

    // An as-of date before the data's end is computed from the blocks.
    let (early, _) = customer_features(&store, date("2024-01-31")).unwrap();
    let c7 = early
        .iter()
        .find(|(c, _)| c.id.as_str() == "shop:C7")
        .unwrap();
    assert_eq!((c7.1.revenue, c7.1.orders), (dec("7.07"), 1));
}

#[test]
fn codes_of_one_system_never_merge_and_conflicting_usccs_do_not_either() {
    let p = Project::new(CONFIG);
    let store = p.store();
    let crm = "编号,名称,手机,信用代码,渠道\nC2,王伟,13800000002,,\nC3,王伟,13800000002,,\n";
    let r = p.ingest(&store, "crm.csv", crm.as_bytes(), "crm").unwrap();
    assert_eq!(
        (r.customers_new, r.merges),
        (2, 0),
        "two CRM codes are two customers"
    );
    // A later CRM file still does not merge a new CRM code into them.
    let more = "编号,名称,手机,信用代码,渠道\nC4,王伟,,,\n";
    let r = p
        .ingest(&store, "crm-more.csv", more.as_bytes(), "crm")
        .unwrap();
    assert_eq!((r.customers_new, r.merges), (1, 0));
    let c2 = store.customer("crm:C2").unwrap().unwrap();
    assert_eq!(c2.phone.as_deref(), Some("+8613800000002"));

    // Another system: a matching name with a different valid USCC is another company.
    let body = "91330100MA27XYBK1";
    let a = format!(
        "{body}{}",
        ledgerlens_model::normalize::uscc_check_char(body).unwrap()
    );
    let other = "91330100MA27XYBK2";
    let b = format!(
        "{other}{}",
        ledgerlens_model::normalize::uscc_check_char(other).unwrap()
    );
    let crm = format!("编号,名称,手机,信用代码,渠道\nD1,甲公司,,{a},\n");
    p.ingest(&store, "crm-d.csv", crm.as_bytes(), "crm")
        .unwrap();
    let p2 = Project {
        dir: p.dir,
        config: ProjectConfig::parse(
            &CONFIG.replace("system: crm", "system: erp"),
            Path::new("x"),
        )
        .unwrap(),
    };
    let erp = format!("编号,名称,手机,信用代码,渠道\nE1,甲公司,,{b},\nE2,王伟,,,\n");
    let r = p2.ingest(&store, "erp.csv", erp.as_bytes(), "crm").unwrap();
    // E1 conflicts on USCC; E2's name matches the first CRM customer indexed under it.
    assert_eq!((r.customers_new, r.merges), (1, 1));
    assert_eq!(store.merges().unwrap().last().unwrap().customer, "crm:C2");
}

#[test]
fn implausible_amounts_and_closing_vouchers() {
    let p = Project::new(CONFIG);
    let store = p.store();
    let orders = "日期,会员,姓名,类型,金额,单号\n2024-01-01,M1,,销售,79228162514264337593543950335,A\n2024-01-02,M1,,销售,10,B\n";
    let r = p
        .ingest(&store, "orders.csv", orders.as_bytes(), "orders")
        .unwrap();
    assert_eq!((r.rows_stored, r.rows_quarantined), (1, 1));
    assert_eq!(r.quarantined[0].code, "validate.amount_too_large");
    let vouchers = "凭证日期,凭证字,凭证号,科目代码,借方,贷方,摘要,核算项目
2024-12-31,记,9,6001,1000,,结转损益,客户---K01---甲
2024-12-31,记,9,4103,,1000,结转损益,
2024-12-31,记,10,1122,99999999999999999999,,销售,客户---K01---甲
2024-12-31,记,10,6001,,99999999999999999999,销售,客户---K01---甲
";
    let r = p.ingest(&store, "v.csv", &gbk(vouchers), "k3").unwrap();
    assert_eq!((r.rows_stored, r.rows_quarantined), (2, 2));
    let (rows, _) = customer_features(&store, date("2024-12-31")).unwrap();
    let k1 = rows
        .iter()
        .find(|(c, _)| c.id.as_str() == "k3:K01")
        .unwrap();
    assert_eq!(
        (k1.1.revenue, k1.1.refunds),
        (dec("0"), dec("0")),
        "a closing voucher is no return"
    );
}

/// Declared features come from a per-partition cache on a second run; an import, another
/// as-of date or a new customer of the master makes it stale.
#[test]
fn declared_features_are_cached_and_refreshed() {
    use ledgerlens_rules::{Keep, Pack, PackSource, Program};
    let p = Project::new(CONFIG);
    let store = p.store();
    p.ingest(&store, "orders.csv", ORDERS.as_bytes(), "orders")
        .unwrap();
    let pack = PackSource::from_files(
        "t",
        [
            ("pack.yaml", "name: t\n"),
            (
                "f.yaml",
                "feature: sales_90d\naggregate: sum\nkinds: [sale]\nwindow: 90d\n---\nfeature: docs\naggregate: distinct\nof: document\n",
            ),
        ],
    );
    let pack = Pack::load(pack, &()).unwrap();
    let program = Program::compile(&pack, &ledgerlens_pipeline::input_schema()).unwrap();
    let values = |as_of: &str| -> Vec<(String, String, String)> {
        let (outcome, _) =
            ledgerlens_pipeline::run_pack(&store, &program, date(as_of), Keep::All).unwrap();
        let t = &outcome.table;
        let mut rows: Vec<(String, String, String)> = (0..t.len())
            .map(|r| {
                (
                    t.ids()[r].to_string(),
                    t.column("sales_90d").unwrap().get(r).to_string(),
                    t.column("docs").unwrap().get(r).to_string(),
                )
            })
            .collect();
        rows.sort();
        rows
    };
    let row =
        |id: &str, sales: &str, docs: &str| (id.to_string(), sales.to_string(), docs.to_string());
    let first = values("2024-03-31");
    assert_eq!(
        first,
        [row("shop:M1", "1750.50", "3"), row("shop:M2", "80.00", "1")]
    );
    assert_eq!(values("2024-03-31"), first, "from the cache");
    assert_eq!(
        values("2024-04-15"),
        [row("shop:M1", "750.50", "3"), row("shop:M2", "80.00", "1")],
        "the window moved with the as-of date"
    );
    assert_eq!(values("2024-03-31"), first);
    let more = "日期,会员,姓名,类型,金额,单号\n2024-03-20,M2,李四,销售,20,A9\n2024-03-21,M3,王五,销售,7,A10\n";
    p.ingest(&store, "orders2.csv", more.as_bytes(), "orders")
        .unwrap();
    assert_eq!(
        values("2024-03-31"),
        [
            row("shop:M1", "1750.50", "3"),
            row("shop:M2", "100.00", "2"),
            row("shop:M3", "7.00", "1")
        ]
    );
    let crm = "编号,名称,手机,信用代码,渠道\nC9,赵六,,,展会活动\n";
    p.ingest(&store, "crm.csv", crm.as_bytes(), "crm").unwrap();
    let after = values("2024-03-31");
    assert_eq!(after.len(), 4);
    assert!(after.contains(&row("crm:C9", "0.00", "0")), "{after:?}");
}

/// A voucher whose lines are not together in the file is still checked whole: split 记-1
/// balances only whole and is kept; split 记-2's first part balanced by itself and was
/// filed, then its last line unbalanced it, so all three of its lines are quarantined and
/// nothing of it is stored.
#[test]
fn split_vouchers_are_checked_whole() {
    let p = Project::new(CONFIG);
    let store = p.store();
    let vouchers = "凭证日期,凭证字,凭证号,科目代码,借方,贷方,摘要,核算项目
2024-05-01,记,1,1122,113,,销售,客户---K01---甲
2024-05-02,记,2,1122,50,,销售,客户---K02---乙
2024-05-02,记,2,6001,,50,销售,客户---K02---乙
2024-05-03,记,3,1122,10,,销售,客户---K03---丙
2024-05-03,记,3,6001,,10,销售,客户---K03---丙
2024-05-01,记,1,6001,,100,销售,客户---K01---甲
2024-05-01,记,1,2221.01.05,,13,销售,
2024-05-02,记,2,6001,,1,销售,客户---K02---乙
";
    let r = p.ingest(&store, "v.csv", &gbk(vouchers), "k3").unwrap();
    assert_eq!((r.rows_read, r.rows_stored, r.rows_quarantined), (8, 5, 3));
    assert_eq!(r.entries_stored, 5);
    let rows: Vec<u64> = r.quarantined.iter().map(|d| d.row.unwrap()).collect();
    assert_eq!(rows, [3, 4, 9], "file rows of 记-2");
    assert!(r
        .quarantined
        .iter()
        .all(|d| d.code == "validate.unbalanced_voucher"
            && d.message.contains("debits 50, credits 51")
            && d.message.contains("its 3 line(s)")));
    let (features, _) = customer_features(&store, date("2024-05-31")).unwrap();
    let revenue = |id: &str| {
        features
            .iter()
            .find(|(c, _)| c.id.as_str() == id)
            .map(|(_, f)| f.revenue)
    };
    assert_eq!(revenue("k3:K01"), Some(dec("100")));
    assert_eq!(revenue("k3:K03"), Some(dec("10")));
    assert_eq!(revenue("k3:K02").unwrap_or_default(), dec("0"));
}

// ---------------------------------------------------------------------------------------
// Manual identity decisions: merge, unmerge, distinct, duplicates
// ---------------------------------------------------------------------------------------

const SHOP: &str = "日期,会员,姓名,类型,金额,单号
2024-01-05,M1,张三,销售,100.00,A1
2024-02-01,M2,李四,销售,50.00,B1
2024-03-01,M2,李四,退货,10.00,R1
2024-03-02,M3,王五,销售,7.00,C1
";

/// (revenue, refunds, orders) per customer id, from the full listing.
fn figures(store: &Store, as_of: NaiveDate) -> Vec<(String, Decimal, Decimal, u64)> {
    customer_features(store, as_of)
        .unwrap()
        .0
        .into_iter()
        .map(|(c, f)| (c.id.0, f.revenue, f.refunds, f.orders))
        .collect()
}

#[test]
fn a_merge_reads_both_ledgers_as_one_and_unmerge_restores_them() {
    use ledgerlens_pipeline::overlay;
    let p = Project::new(CONFIG);
    let store = p.store();
    p.ingest(&store, "orders.csv", SHOP.as_bytes(), "orders")
        .unwrap();
    let as_of = date("2024-03-31");
    // The two customers live in different partitions: the merge must gather.
    assert_ne!(store.partition_of("shop:M1"), store.partition_of("shop:M2"));
    let before = figures(&store, as_of);
    assert_eq!(
        before,
        vec![
            ("shop:M1".into(), dec("100.00"), dec("0"), 1),
            ("shop:M2".into(), dec("50.00"), dec("10.00"), 1),
            ("shop:M3".into(), dec("7.00"), dec("0"), 1),
        ]
    );
    // Now every partition's aggregates are cached; a merge must make the two stale.
    let (_, run) = customer_features(&store, as_of).unwrap();
    assert_eq!(run.computed, 0);

    let d = overlay::merge(
        &store,
        "shop:M1",
        "shop:M2",
        "same person".into(),
        None,
        None,
    )
    .unwrap();
    assert_eq!(d.seq, 1);
    let (rows, run) = customer_features(&store, as_of).unwrap();
    assert_eq!(run.computed, 2, "only the two partitions the merge touches");
    let merged: Vec<_> = rows
        .iter()
        .map(|(c, f)| (c.id.0.clone(), f.revenue, f.refunds, f.orders))
        .collect();
    assert_eq!(
        merged,
        vec![
            ("shop:M1".into(), dec("150.00"), dec("10.00"), 2),
            ("shop:M3".into(), dec("7.00"), dec("0"), 1),
        ]
    );
    assert!(rows[0].0.codes.contains("shop:M2"), "{:?}", rows[0].0.codes);
    let f = ledgerlens_pipeline::features_of(&store, "shop:M2", as_of).unwrap();
    assert_eq!((f.customer.as_str(), f.revenue), ("shop:M1", dec("150.00")));
    let mut entries = 0;
    ledgerlens_pipeline::Overlay::load(&store)
        .unwrap()
        .for_each_entry_of(&store, "shop:M1", |_, _| entries += 1)
        .unwrap();
    assert_eq!(entries, 3);

    // Re-importing keeps the merge: the new entry of M2 still reads as M1's.
    let more = "日期,会员,姓名,类型,金额,单号\n2024-03-20,M2,李四,销售,30.00,B2\n";
    let r = p
        .ingest(&store, "orders2.csv", more.as_bytes(), "orders")
        .unwrap();
    assert_eq!(r.customers_new, 0);
    let after = figures(&store, as_of);
    assert_eq!(after[0], ("shop:M1".into(), dec("180.00"), dec("10.00"), 3));
    assert_eq!(after.len(), 2);

    // Clear refusals.
    let refused = |r: Result<_, ledgerlens_pipeline::Error>| r.unwrap_err().to_string();
    let no = || String::new();
    assert!(refused(overlay::merge(
        &store,
        "shop:M1",
        "shop:M1",
        no(),
        None,
        None
    ))
    .contains("into itself"));
    assert!(refused(overlay::merge(
        &store,
        "shop:M1",
        "shop:X",
        no(),
        None,
        None
    ))
    .contains("no customer 'shop:X'"));
    assert!(refused(overlay::merge(
        &store,
        "shop:M2",
        "shop:M3",
        no(),
        None,
        None
    ))
    .contains("merge into 'shop:M1' instead"));
    assert!(refused(overlay::merge(
        &store,
        "shop:M3",
        "shop:M2",
        no(),
        None,
        None
    ))
    .contains("unmerge it first"));
    assert!(
        refused(overlay::unmerge(&store, "shop:M3", no(), None, None)).contains("is not merged")
    );
    assert!(refused(overlay::distinct(
        &store,
        "shop:M1",
        "shop:M2",
        no(),
        None,
        None
    ))
    .contains("unmerge first"));
    assert_eq!(
        store.decisions().unwrap().len(),
        1,
        "refusals record nothing"
    );

    overlay::unmerge(&store, "shop:M2", "not the same".into(), None, None).unwrap();
    assert_eq!(
        figures(&store, as_of),
        vec![
            ("shop:M1".into(), dec("100.00"), dec("0"), 1),
            ("shop:M2".into(), dec("80.00"), dec("10.00"), 2),
            ("shop:M3".into(), dec("7.00"), dec("0"), 1),
        ]
    );
}

#[test]
fn duplicates_rank_evidence_and_respect_decisions() {
    use ledgerlens_pipeline::{duplicates, overlay};
    let p = Project::new(CONFIG);
    let store = p.store();
    let crm = "编号,名称,手机,信用代码,渠道
A,杭州星河贸易有限公司,13800138000,,
B,杭州星河贸易有限责任公司,+86 138-0013-8000,,
C,星河贸易（杭州）有限公司,0571-8888 6666,,
D,上海云舟科技有限公司,(0571)88886666,,
E,云舟科技连锁有限公司,,,
F,无关客户,,,
";
    p.ingest(&store, "crm.csv", crm.as_bytes(), "crm").unwrap();
    let found: Vec<(String, String, &str, String, Vec<String>)> = duplicates(&store)
        .unwrap()
        .into_iter()
        .map(|c| (c.customer, c.other, c.rule, c.evidence, c.also))
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        found,
        vec![
            (
                s("crm:A"),
                s("crm:B"),
                "mobile",
                s("+8613800138000"),
                vec![s("name:杭州星河贸易有限公司")]
            ),
            (
                s("crm:C"),
                s("crm:D"),
                "landline",
                s("+8657188886666"),
                vec![]
            ),
            (
                s("crm:A"),
                s("crm:C"),
                "similar-name",
                s("星河贸易"),
                vec![]
            ),
            (
                s("crm:B"),
                s("crm:C"),
                "similar-name",
                s("星河贸易"),
                vec![]
            ),
            (
                s("crm:D"),
                s("crm:E"),
                "similar-name",
                s("云舟科技 ~ 云舟科技连锁"),
                vec![]
            ),
        ]
    );
    overlay::distinct(&store, "crm:B", "crm:A", "two shops".into(), None, None).unwrap();
    overlay::merge(&store, "crm:D", "crm:E", "same".into(), None, None).unwrap();
    let left: Vec<(String, String)> = duplicates(&store)
        .unwrap()
        .into_iter()
        .map(|c| (c.customer, c.other))
        .collect();
    assert_eq!(
        left,
        vec![
            (s("crm:C"), s("crm:D")),
            (s("crm:A"), s("crm:C")),
            (s("crm:B"), s("crm:C"))
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Ledger entries written out in chunks while the file is read
// ---------------------------------------------------------------------------------------

/// Every committed entry of the store as comparable text, sorted, and the number of
/// blocks holding them.
fn ledger_dump(store: &Store) -> (Vec<String>, usize) {
    let mut entries = Vec::new();
    let mut blocks = 0;
    let partitions = (0..store.partitions()).chain([ledgerlens_store::COMPANY_PARTITION]);
    for p in partitions {
        blocks += store.ledger_blocks(p).unwrap().len();
        store
            .for_each_entry(p, |customer, e, file| {
                entries.push(format!("{p} {customer} {e:?} {file}"));
            })
            .unwrap();
    }
    entries.sort();
    (entries, blocks)
}

#[test]
fn an_import_written_in_chunks_reads_back_as_one_written_whole() {
    // Many customers and vouchers, with a voucher split over the file that fails whole
    // at the end: its first part went on (into a chunk, when chunks are small) and is
    // taken back out.
    let mut text = String::from("凭证日期,凭证字,凭证号,科目代码,借方,贷方,摘要,核算项目\n");
    text.push_str("2024-05-01,记,9999,1122,100,,销售,客户---K9---散\n");
    text.push_str("2024-05-01,记,9999,6001,,100,销售,客户---K9---散\n");
    for v in 1..=300 {
        let day = 1 + v % 28;
        let (c1, c2) = (v % 37, v % 11);
        text.push_str(&format!(
            "2024-04-{day:02},记,{v},1122,{v}.50,,销售,客户---K{c1}---客户{c1}\n\
             2024-04-{day:02},记,{v},6001,,{v}.50,销售,客户---K{c2}---客户{c2}\n\
             2024-04-{day:02},记,{v},1002,1,,收款,\n\
             2024-04-{day:02},记,{v},1122,,1,收款,客户---K{c1}---客户{c1}\n"
        ));
    }
    text.push_str("2024-05-01,记,9999,6001,,1,销售,客户---K9---散\n");
    let bytes = gbk(&text);

    let p = Project::new(CONFIG);
    let whole = p.store();
    let r1 = p.ingest(&whole, "v.csv", &bytes, "k3").unwrap();
    let q = Project::new(CONFIG);
    let chunked = q.store();
    let r2 = q
        .ingest_in_chunks(&chunked, "v.csv", &bytes, "k3", Some(200))
        .unwrap();

    assert_eq!(
        (r1.rows_read, r1.rows_stored, r1.rows_quarantined),
        (1203, 1200, 3)
    );
    assert_eq!(r1.rows_read, r2.rows_read);
    assert_eq!(r1.rows_stored, r2.rows_stored);
    assert_eq!(r1.entries_stored, r2.entries_stored);
    assert_eq!(
        r1.quarantined, r2.quarantined,
        "the split voucher, taken back"
    );
    assert_eq!(r1.customers_new, r2.customers_new);
    let (e1, blocks1) = ledger_dump(&whole);
    let (e2, blocks2) = ledger_dump(&chunked);
    assert_eq!(e1.len(), 1200);
    assert_eq!(e1, e2);
    assert!(
        blocks2 > blocks1,
        "small chunks write more blocks ({blocks2} vs {blocks1})"
    );
    // Each chunk is a block sorted by customer, date and row.
    for part in 0..chunked.partitions() {
        for (_, bytes) in chunked.ledger_blocks(part).unwrap() {
            let keys: Vec<(String, NaiveDate, u64)> = ledgerlens_store::BlockReader::new(&bytes)
                .unwrap()
                .map(|i| i.unwrap())
                .map(|(c, e)| (c.to_string(), e.date, e.row))
                .collect();
            assert!(keys.is_sorted(), "partition {part}");
        }
    }
    let as_of = date("2024-05-31");
    assert_eq!(figures(&whole, as_of), figures(&chunked, as_of));
    assert_eq!(
        whole.imports().unwrap()[0].partitions,
        chunked.imports().unwrap()[0].partitions
    );

    // A file refused part-way (an unterminated quote) after chunks were written leaves
    // nothing visible, and the same content imports cleanly afterwards.
    let broken = format!("{text}2024-06-01,记,1,1122,\"5,,销售,客户---K1---客户1\n");
    let other = Project::new(CONFIG);
    let store = other.store();
    assert!(other
        .ingest_in_chunks(&store, "v.csv", &gbk(&broken), "k3", Some(200))
        .is_err());
    assert_eq!(ledger_dump(&store).0, Vec::<String>::new());
    assert!(store.imports().unwrap().is_empty());
    other
        .ingest_in_chunks(&store, "v.csv", &bytes, "k3", Some(200))
        .unwrap();
    assert_eq!(ledger_dump(&store).0, e1);
}

#[test]
fn a_chunked_import_reads_same_day_entries_in_file_order() {
    // One customer, many sales on one day: the whole import reads them by row.
    let mut text = String::from("凭证日期,凭证字,凭证号,科目代码,借方,贷方,摘要,核算项目\n");
    for v in 1..=63 {
        text.push_str(&format!(
            "2024-04-01,记,{v},1122,{v},,销售,客户---K1---客户1\n\
             2024-04-01,记,{v},6001,,{v},销售,客户---K1---客户1\n"
        ));
    }
    let bytes = gbk(&text);
    let order = |store: &Store| {
        let mut rows = Vec::new();
        for p in 0..store.partitions() {
            store
                .for_each_entry(p, |c, e, _| {
                    if !c.is_empty() {
                        rows.push(e.row)
                    }
                })
                .unwrap();
        }
        rows
    };
    let p = Project::new(CONFIG);
    let whole = p.store();
    p.ingest(&whole, "v.csv", &bytes, "k3").unwrap();
    let q = Project::new(CONFIG);
    let chunked = q.store();
    q.ingest_in_chunks(&chunked, "v.csv", &bytes, "k3", Some(450))
        .unwrap();
    let (a, b) = (order(&whole), order(&chunked));
    assert_eq!(a, b, "same entries, same read order");
}

#[test]
fn a_customer_only_in_a_retracted_chunk_leaves_its_partition_unlisted() {
    // The first part of voucher 9999 balances alone and is written out as a chunk (chunks
    // of a byte); its last line, at the end of the file, unbalances it: the chunk is
    // emptied and removed, and its partition has nothing of this import.
    let text = "凭证日期,凭证字,凭证号,科目代码,借方,贷方,摘要,核算项目\n\
                2024-05-01,记,9999,1122,100,,销售,客户---K9---散\n\
                2024-05-01,记,9999,6001,,100,销售,客户---K9---散\n\
                2024-05-02,记,1,1002,5,,收款,\n\
                2024-05-02,记,1,6601,,5,费用,\n\
                2024-05-01,记,9999,6001,,1,销售,客户---K9---散\n";
    let bytes = gbk(text);
    let p = Project::new(CONFIG);
    let whole = p.store();
    p.ingest(&whole, "v.csv", &bytes, "k3").unwrap();
    let q = Project::new(CONFIG);
    let chunked = q.store();
    let r = q
        .ingest_in_chunks(&chunked, "v.csv", &bytes, "k3", Some(1))
        .unwrap();
    assert_eq!((r.rows_read, r.rows_quarantined), (5, 3));
    assert_eq!(ledger_dump(&whole).0, ledger_dump(&chunked).0);
    assert_eq!(
        whole.imports().unwrap()[0].partitions,
        chunked.imports().unwrap()[0].partitions
    );
}
