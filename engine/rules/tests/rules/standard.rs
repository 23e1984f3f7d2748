//! The standard pack (`rules/standard`), rule by rule, on a small hand-built book of
//! customers whose expected labels and values are worked out by hand below.
//!
//! The inputs are built the way the pipeline builds them (engine/pipeline: `BUILTINS`
//! and `Aggregate::features`), from each customer's sales, refunds, invoices and
//! payments; the declared features (`features/ledger.yaml`) are computed with
//! [`Accumulator`] over the same entries.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::NaiveDate;
use ledgerlens_model::EntryKind;
use ledgerlens_rules::{
    Accumulator, Column, EntryView, Facts, Outcome, Pack, PackSource, Program, Table, Type, Value,
};
use rust_decimal::Decimal;

use crate::common::*;

/// The input columns the pipeline gives rules (engine/pipeline/src/run.rs `BUILTINS`).
pub fn schema() -> BTreeMap<String, Type> {
    inputs(&[
        ("revenue", Type::Decimal),
        ("refunds", Type::Decimal),
        ("discounts", Type::Decimal),
        ("net_revenue", Type::Decimal),
        ("orders", Type::Int),
        ("first_purchase", Type::Date),
        ("last_purchase", Type::Date),
        ("recency_days", Type::Int),
        ("tenure_days", Type::Int),
        ("avg_order_value", Type::Decimal),
        ("purchase_frequency", Type::Decimal),
        ("refund_rate", Type::Decimal),
        ("receivables", Type::Decimal),
        ("cogs", Type::Decimal),
        ("cost_to_serve", Type::Decimal),
        ("gross_margin", Type::Decimal),
        ("name", Type::Text),
        ("phone", Type::Text),
        ("region", Type::Text),
        ("channel", Type::Text),
        ("first_seen", Type::Date),
        ("credit_limit", Type::Decimal),
        ("tags", Type::List),
    ])
}

pub fn standard_source() -> PackSource {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/standard");
    PackSource::read_dir(&dir).expect("the standard pack")
}

pub fn standard_program() -> Program {
    let pack = Pack::load(standard_source(), &()).unwrap_or_else(|e| panic!("{e}"));
    Program::compile(&pack, &schema()).unwrap_or_else(|e| panic!("{e}"))
}

const AS_OF: &str = "2025-12-31";

/// One customer's ledger and master data.
#[derive(Default, Clone)]
pub struct Customer {
    id: &'static str,
    sales: Vec<(&'static str, &'static str, &'static str)>,
    refunds: Vec<(&'static str, &'static str)>,
    invoices: Vec<(&'static str, &'static str, &'static str)>,
    payments: Vec<(&'static str, &'static str)>,
    cogs: &'static str,
    cost_to_serve: &'static str,
    region: Option<&'static str>,
    channel: Option<&'static str>,
    credit_limit: Option<&'static str>,
}

impl Customer {
    fn new(id: &'static str) -> Customer {
        Customer {
            id,
            cogs: "0",
            cost_to_serve: "0",
            ..Customer::default()
        }
    }

    fn entries(&self) -> Vec<EntryView<'static>> {
        let view = |date: &str, kind, amount: &str, doc: Option<&'static str>| EntryView {
            date: d(date),
            kind,
            amount: dec(amount),
            quantity: None,
            document: doc,
            dims: [None, self.channel, None, self.region, None, None],
        };
        let mut out = Vec::new();
        for (date, amount, doc) in &self.sales {
            out.push(view(date, EntryKind::Sale, amount, Some(*doc)));
        }
        for (date, amount) in &self.refunds {
            out.push(view(date, EntryKind::Return, amount, None));
        }
        for (date, amount, doc) in &self.invoices {
            out.push(view(date, EntryKind::Invoice, amount, Some(*doc)));
        }
        for (date, amount) in &self.payments {
            out.push(view(date, EntryKind::Payment, amount, None));
        }
        out
    }

    /// The built-in features, as the pipeline computes them.
    fn builtins(&self, as_of: NaiveDate) -> Vec<(&'static str, Value)> {
        let sum = |xs: Vec<&str>| xs.into_iter().map(dec).sum::<Decimal>();
        let revenue = sum(self.sales.iter().map(|s| s.1).collect());
        let refunds = sum(self.refunds.iter().map(|s| s.1).collect());
        let net = revenue - refunds;
        let orders = self
            .sales
            .iter()
            .map(|s| s.2)
            .collect::<BTreeSet<_>>()
            .len() as i64;
        let dates: Vec<NaiveDate> = self.sales.iter().map(|s| d(s.0)).collect();
        let first = dates.iter().min().copied();
        let last = dates.iter().max().copied();
        let days =
            |x: Option<NaiveDate>| x.map_or(Value::Null, |x| Value::Int((as_of - x).num_days()));
        let tenure = first.map(|f| (as_of - f).num_days());
        let receivables = sum(self.invoices.iter().map(|s| s.1).collect())
            - sum(self.payments.iter().map(|s| s.1).collect());
        let date = |x: Option<NaiveDate>| x.map_or(Value::Null, Value::Date);
        let text = |x: Option<&str>| x.map_or(Value::Null, |s| Value::Text(s.into()));
        vec![
            ("revenue", Value::Decimal(revenue)),
            ("refunds", Value::Decimal(refunds)),
            ("discounts", Value::Decimal(Decimal::ZERO)),
            ("net_revenue", Value::Decimal(net)),
            ("orders", Value::Int(orders)),
            ("first_purchase", date(first)),
            ("last_purchase", date(last)),
            ("recency_days", days(last)),
            ("tenure_days", days(first)),
            (
                "avg_order_value",
                if orders > 0 {
                    Value::Decimal((revenue / Decimal::from(orders)).round_dp(2))
                } else {
                    Value::Null
                },
            ),
            (
                "purchase_frequency",
                tenure.map_or(Value::Null, |t| {
                    Value::Decimal(
                        (Decimal::from(orders * 365) / Decimal::from(t.max(365))).round_dp(4),
                    )
                }),
            ),
            (
                "refund_rate",
                if revenue > Decimal::ZERO {
                    Value::Decimal((refunds / revenue).round_dp(4))
                } else {
                    Value::Null
                },
            ),
            ("receivables", Value::Decimal(receivables)),
            ("cogs", vd(self.cogs)),
            ("cost_to_serve", vd(self.cost_to_serve)),
            ("gross_margin", Value::Decimal(net - dec(self.cogs))),
            ("name", Value::Text(format!("客户 {}", self.id).into())),
            ("phone", Value::Null),
            ("region", text(self.region)),
            ("channel", text(self.channel)),
            ("first_seen", Value::Null),
            ("credit_limit", self.credit_limit.map_or(Value::Null, vd)),
            ("tags", Value::List(Vec::new())),
        ]
    }
}

/// The customer table for a program: built-in features, and its declared features
/// computed over each customer's entries.
pub fn table_of(program: &Program, customers: &[Customer], as_of: &str) -> Table {
    let as_of = d(as_of);
    let mut table = Table::new(customers.iter().map(|c| c.id));
    let schema = schema();
    let rows: Vec<Vec<(&'static str, Value)>> =
        customers.iter().map(|c| c.builtins(as_of)).collect();
    for (i, (name, _)) in rows[0].iter().enumerate() {
        let values = rows.iter().map(|r| r[i].1.clone());
        table.insert(name, Column::from_values(schema[*name], values));
    }
    for (name, declared) in program.declared() {
        let mut acc = Accumulator::new(declared, as_of, customers.len());
        for (row, c) in customers.iter().enumerate() {
            for e in c.entries() {
                acc.push(row, &e);
            }
        }
        table.insert(name, Column::from_values(declared.ty(), acc.finish()));
    }
    table
}

/// The book: a lead, two churned customers (one of class A), a high-value, an active, a
/// potential and two regular customers, one of them with refunds above its purchases.
///
/// | id  | net revenue | orders | first      | last       | recency | tenure |
/// |-----|-------------|--------|------------|------------|---------|--------|
/// | c01 | 0           | 0      | -          | -          | -       | -      |
/// | c02 | 350000      | 2      | 2024-12-01 | 2025-03-01 | 305     | 395    |
/// | c03 | 100000      | 3      | 2023-06-01 | 2025-12-01 | 30      | 944    |
/// | c04 | 4000        | 8      | 2025-05-10 | 2025-12-10 | 21      | 235    |
/// | c05 | 800         | 1      | 2025-11-01 | 2025-11-01 | 60      | 60     |
/// | c06 | 6000        | 3      | 2024-06-01 | 2025-10-01 | 91      | 578    |
/// | c07 | 45000       | 2      | 2025-06-01 | 2025-07-01 | 183     | 213    |
/// | c08 | -500        | 1      | 2025-09-01 | 2025-09-01 | 121     | 121    |
pub fn book() -> Vec<Customer> {
    let wechat = Some("微信广告");
    let fair = Some("展会活动");
    vec![
        Customer {
            region: Some("华东"),
            channel: wechat,
            ..Customer::new("c01")
        },
        Customer {
            sales: vec![
                ("2024-12-01", "50000", "S2-1"),
                ("2025-03-01", "300000", "S2-2"),
            ],
            cogs: "200000",
            region: Some("华东"),
            channel: fair,
            ..Customer::new("c02")
        },
        Customer {
            sales: vec![
                ("2023-06-01", "40000", "S3-1"),
                ("2024-06-01", "30000", "S3-2"),
                ("2025-12-01", "30000", "S3-3"),
            ],
            invoices: vec![
                ("2023-06-01", "40000", "I3-1"),
                ("2024-06-01", "30000", "I3-2"),
                ("2025-12-01", "30000", "I3-3"),
            ],
            payments: vec![
                ("2023-06-20", "40000"),
                ("2024-06-20", "30000"),
                ("2025-12-15", "30000"),
            ],
            cogs: "60000",
            cost_to_serve: "5000",
            region: Some("华北"),
            channel: fair,
            ..Customer::new("c03")
        },
        Customer {
            sales: vec![
                ("2025-05-10", "500", "S4-5"),
                ("2025-06-10", "500", "S4-6"),
                ("2025-07-10", "500", "S4-7"),
                ("2025-08-10", "500", "S4-8"),
                ("2025-09-10", "500", "S4-9"),
                ("2025-10-10", "500", "S4-10"),
                ("2025-11-10", "500", "S4-11"),
                ("2025-12-10", "500", "S4-12"),
            ],
            cogs: "2000",
            region: Some("华南"),
            channel: wechat,
            ..Customer::new("c04")
        },
        Customer {
            sales: vec![("2025-11-01", "800", "S5-1")],
            invoices: vec![("2025-11-01", "800", "I5-1")],
            cogs: "400",
            region: Some("华东"),
            channel: wechat,
            credit_limit: Some("1000"),
            ..Customer::new("c05")
        },
        Customer {
            sales: vec![
                ("2024-06-01", "2000", "S6-1"),
                ("2025-01-15", "2000", "S6-2"),
                ("2025-10-01", "2000", "S6-3"),
            ],
            cogs: "3000",
            region: Some("华北"),
            ..Customer::new("c06")
        },
        Customer {
            sales: vec![
                ("2025-06-01", "30000", "S7-1"),
                ("2025-07-01", "30000", "S7-2"),
            ],
            refunds: vec![("2025-07-15", "15000")],
            // Two invoices with the same number.
            invoices: vec![
                ("2025-06-01", "30000", "INV-7"),
                ("2025-07-01", "30000", "INV-7"),
            ],
            payments: vec![("2025-08-01", "10000")],
            cogs: "30000",
            cost_to_serve: "2000",
            region: Some("华南"),
            channel: fair,
            credit_limit: Some("40000"),
            ..Customer::new("c07")
        },
        Customer {
            sales: vec![("2025-09-01", "1000", "S8-1")],
            refunds: vec![("2025-09-20", "1500")],
            cogs: "600",
            channel: wechat,
            ..Customer::new("c08")
        },
    ]
}

/// Spend: 微信广告 1200 in 2025-Q1, 展会活动 2000 in 2025-Q2, 抖音达人投放 500 (a channel
/// that acquired nobody). Budgets: 微信广告 1000 for Q1 and 500 for Q2, 展会活动 2100 for Q2.
pub fn book_facts() -> Facts {
    Facts {
        spend: vec![
            spend("2025-01-15", "微信广告", "600"),
            spend("2025-02-15", "微信广告", "600"),
            spend("2025-04-10", "展会活动", "2000"),
            spend("2025-05-01", "抖音达人投放", "500"),
        ],
        budgets: vec![
            budget("微信广告", "2025-Q1", "1000"),
            budget("微信广告", "2025-Q2", "500"),
            budget("展会活动", "2025-Q2", "2100"),
        ],
        cost_pools: vec![],
    }
}

/// The standard pack evaluated over the book, once.
pub fn outcome() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    OUTCOME.get_or_init(|| {
        let program = standard_program();
        let table = table_of(&program, &book(), AS_OF);
        run(&program, table, book_facts(), AS_OF)
    })
}

fn column(name: &str) -> BTreeMap<String, String> {
    by_id(outcome(), name)
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

fn expect(values: [&str; 8]) -> BTreeMap<String, String> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("c{:02}", i + 1), v.to_string()))
        .collect()
}

fn kpi_of(name: &str) -> BTreeMap<String, String> {
    kpi(outcome(), name)
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

fn groups(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every rule of the standard pack has a test here: adding a rule without one fails.
#[test]
fn every_standard_rule_has_a_test() {
    let tested: BTreeSet<&str> = [
        // allocations
        "marketing_cost",
        "profit_after_marketing",
        "profit_after_marketing_by_channel",
        // features
        "orders_12m",
        "revenue_12m",
        "last_payment",
        "invoice_lines",
        "invoice_documents",
        "profit",
        "lifespan_months",
        "ltv_simple",
        "duplicate_invoices",
        // segments
        "lifecycle",
        "r_score",
        "f_score",
        "m_score",
        "rfm",
        "risk",
        "value_class",
        "tier",
        // KPIs
        "cac",
        "channel_roi",
        "ltv_cac",
        "spend_deviation",
        "receivables_total",
        "dso",
        "net_revenue_total",
        "gross_margin_rate",
        "profit_by_lifecycle",
        "revenue_by_value_class",
        "customers_by_tier",
        "revenue_by_region",
        "avg_order_value_all",
        "purchase_frequency_all",
        "refund_rate_all",
        "ltv",
        "avg_ltv_by_channel",
        // alerts
        "cac_above_limit",
        "channel_roi_low",
        "spend_off_budget",
        "high_value_churned",
        "credit_limit_exceeded",
    ]
    .into_iter()
    .collect();
    let program = standard_program();
    let shipped: BTreeSet<&str> = program.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(shipped, tested);
}

#[test]
fn the_standard_pack_compiles_against_the_pipeline_inputs() {
    let program = standard_program();
    assert_eq!(program.name, "standard");
    assert_eq!(program.chain, ["standard"]);
    // Every input it reads is one the pipeline provides.
    for input in &program.inputs {
        assert!(schema().contains_key(input), "{input}");
    }
    let declared: Vec<&str> = program.declared().map(|(n, _)| n).collect();
    assert_eq!(
        declared.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "invoice_documents",
            "invoice_lines",
            "last_payment",
            "orders_12m",
            "revenue_12m"
        ])
    );
}

#[test]
fn the_standard_pack_on_the_book_has_only_the_expected_diagnostics() {
    let found: BTreeSet<(String, &str, u64)> = outcome()
        .diagnostics
        .iter()
        .map(|d| (d.rule.clone(), d.code, d.count))
        .collect();
    let expected: BTreeSet<(String, &str, u64)> = [
        // 抖音达人投放 has spend and no buyer: 500 / 0.
        ("cac", 1),
        // Customers without a channel have no spend: 6000 / 0.
        ("channel_roi", 1),
        // 抖音达人投放 (no customers) and (none) (no spend).
        ("ltv_cac", 2),
        // 抖音达人投放 has no budget.
        ("spend_deviation", 1),
        // 抖音达人投放 has no customers to average.
        ("avg_ltv_by_channel", 1),
    ]
    .into_iter()
    .map(|(r, n)| (r.to_string(), "rules.null", n))
    // 抖音达人投放's spend has no buyer to go to: it stays unallocated.
    .chain([("marketing_cost".to_string(), "rules.allocation", 1)])
    .collect();
    assert_eq!(found, expected, "{:#?}", outcome().diagnostics);
}

// ---------------------------------------------------------------- declared features

#[test]
fn orders_12m() {
    assert_eq!(
        column("orders_12m"),
        expect(["0", "1", "1", "8", "1", "2", "2", "1"])
    );
}

#[test]
fn revenue_12m() {
    assert_eq!(
        column("revenue_12m"),
        expect(["0", "300000", "30000", "4000", "800", "4000", "60000", "1000"])
    );
}

#[test]
fn last_payment() {
    assert_eq!(
        column("last_payment"),
        expect([
            "null",
            "null",
            "2025-12-15",
            "null",
            "null",
            "null",
            "2025-08-01",
            "null"
        ])
    );
}

#[test]
fn invoice_lines() {
    assert_eq!(
        column("invoice_lines"),
        expect(["0", "0", "3", "0", "1", "0", "2", "0"])
    );
}

#[test]
fn invoice_documents() {
    assert_eq!(
        column("invoice_documents"),
        expect(["0", "0", "3", "0", "1", "0", "1", "0"])
    );
}

// ---------------------------------------------------------------- scripted features

#[test]
fn profit() {
    // gross margin (net revenue - cogs) - cost to serve.
    assert_eq!(
        column("profit"),
        expect(["0", "150000", "35000", "2000", "400", "3000", "13000", "-1100"])
    );
}

#[test]
fn lifespan_months() {
    // months from first to last purchase x orders / (orders - 1); none without a repeat.
    // c02: 3 x 2 / 1; c03: 30 x 3 / 2; c04: 7 x 8 / 7; c06: 16 x 3 / 2; c07: 1 x 2 / 1.
    assert_eq!(
        column("lifespan_months"),
        expect(["null", "6", "45", "8", "null", "24", "2", "null"])
    );
}

#[test]
fn ltv_simple() {
    // average order value x orders a year x years; one order: that order.
    // c03: 33333.33 x (3 / 3.75) x 3.75.
    assert_eq!(
        column("ltv_simple"),
        expect(["null", "350000", "99999.99", "4000", "800", "6000", "60000", "1000"])
    );
}

/// The examples: 500 a month for 12 months is worth 6000; 1500 a quarter for
/// 6 months (2 orders) is worth 3000.
#[test]
fn ltv_simple_of_monthly_and_quarterly_buyers() {
    let monthly = Customer {
        sales: vec![
            ("2025-01-15", "500", "M1"),
            ("2025-02-15", "500", "M2"),
            ("2025-03-15", "500", "M3"),
            ("2025-04-15", "500", "M4"),
            ("2025-05-15", "500", "M5"),
            ("2025-06-15", "500", "M6"),
            ("2025-07-15", "500", "M7"),
            ("2025-08-15", "500", "M8"),
            ("2025-09-15", "500", "M9"),
            ("2025-10-15", "500", "M10"),
            ("2025-11-15", "500", "M11"),
            ("2025-12-15", "500", "M12"),
        ],
        ..Customer::new("monthly")
    };
    let quarterly = Customer {
        sales: vec![("2025-01-15", "1500", "Q1"), ("2025-04-15", "1500", "Q2")],
        ..Customer::new("quarterly")
    };
    let program = standard_program();
    let table = table_of(&program, &[monthly, quarterly], AS_OF);
    let out = run(&program, table, Facts::default(), AS_OF);
    assert_eq!(value_of(&out, "lifespan_months", "monthly"), vd("12"));
    assert_eq!(value_of(&out, "ltv_simple", "monthly"), vd("6000"));
    assert_eq!(value_of(&out, "lifespan_months", "quarterly"), vd("6"));
    assert_eq!(value_of(&out, "ltv_simple", "quarterly"), vd("3000"));
    assert_eq!(value_of(&out, "ltv", "quarterly"), vd("3000"));
}

#[test]
fn duplicate_invoices() {
    assert_eq!(
        column("duplicate_invoices"),
        expect(["0", "0", "0", "0", "0", "0", "1", "0"])
    );
}

// ---------------------------------------------------------------- segments

#[test]
fn lifecycle() {
    assert_eq!(
        column("lifecycle"),
        expect([
            "lead",
            "churned",
            "high-value",
            "active",
            "potential",
            "regular",
            "churned",
            "regular"
        ])
    );
    let churned = outcome()
        .segments
        .iter()
        .find(|s| s.segment == "lifecycle" && s.label == "churned")
        .expect("churned");
    assert_eq!(churned.customers, 2);
    assert_eq!(
        churned.action.as_deref(),
        Some("win-back offer or satisfaction survey")
    );
}

#[test]
fn lifecycle_follows_a_client_churn_window() {
    let client = source(
        "acme",
        &[(
            "pack.yaml",
            "name: acme\nextends: standard\nparams:\n  churn_days: 90\n",
        )],
    );
    let pack = Pack::load(client, &Named(vec![standard_source()])).expect("loads");
    let program = Program::compile(&pack, &schema()).expect("compiles");
    let table = table_of(&program, &book(), AS_OF);
    let out = run(&program, table, book_facts(), AS_OF);
    // c06 (91 days) and c08 (121 days) are now churned too.
    assert_eq!(
        by_id(&out, "lifecycle")
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        expect([
            "lead",
            "churned",
            "high-value",
            "active",
            "potential",
            "churned",
            "churned",
            "churned"
        ])
    );
}

#[test]
fn r_score() {
    // Recency, lower is better, 7 customers with a purchase: 305, 183, 121, 91, 60, 30,
    // 21 days score 1 + (customers with a longer recency) x 5 / 7.
    assert_eq!(
        column("r_score"),
        expect(["null", "1", "4", "5", "3", "3", "1", "2"])
    );
}

#[test]
fn f_score() {
    // Orders 0, 1, 1, 2, 2, 3, 3, 8: 1 + (customers with fewer orders) x 5 / 8.
    assert_eq!(
        column("f_score"),
        expect(["1", "2", "4", "5", "1", "4", "2", "1"])
    );
}

#[test]
fn m_score() {
    // Net revenue -500, 0, 800, 4000, 6000, 45000, 100000, 350000.
    assert_eq!(
        column("m_score"),
        expect(["1", "5", "4", "2", "2", "3", "4", "1"])
    );
}

#[test]
fn rfm() {
    assert_eq!(
        column("rfm"),
        expect([
            "no-purchase",
            "at-risk",
            "champions",
            "loyal",
            "need-attention",
            "loyal",
            "at-risk",
            "hibernating"
        ])
    );
}

#[test]
fn risk() {
    let risk = column("risk");
    assert_eq!(
        risk["c07"],
        "[refund-rate-high, overdue-receivables, credit-limit-exceeded, duplicate-invoice-numbers]"
    );
    assert_eq!(risk["c08"], "[refund-rate-high, refunds-exceed-purchases]");
    for id in ["c01", "c02", "c03", "c04", "c05", "c06"] {
        assert_eq!(risk[id], "[]", "{id}");
    }
    assert_eq!(sizes(outcome(), "risk")["(none)"], 6);
    assert_eq!(sizes(outcome(), "risk")["refund-rate-high"], 2);
}

#[test]
fn value_class() {
    // Positive net revenue 505800: c02 (0% above it) A, c03 (69%) A, c07 (89%) B, the
    // rest C; zero and negative revenue are C.
    assert_eq!(
        column("value_class"),
        expect(["C", "A", "A", "C", "C", "C", "B", "C"])
    );
}

#[test]
fn tier() {
    assert_eq!(
        column("tier"),
        expect([
            "ordinary",
            "vip",
            "ordinary",
            "ordinary",
            "ordinary",
            "ordinary",
            "key-account",
            "ordinary"
        ])
    );
}

// ---------------------------------------------------------------- allocations

#[test]
fn marketing_cost() {
    // 微信广告 1200 over its buyers c04, c05, c08: 400 each (c01 is a lead). 展会活动 2000
    // over c02, c03, c07: 666.66 each and the two cents left to the smaller ids. c06 has no
    // channel; 抖音达人投放's 500 has no buyer and stays unallocated.
    assert_eq!(
        column("marketing_cost"),
        expect(["0", "666.67", "666.67", "400", "400", "0", "666.66", "400"])
    );
    let pools: Vec<(String, String, String, String, u64)> = outcome()
        .allocations
        .iter()
        .map(|p| {
            (
                p.pool.clone(),
                p.amount.to_string(),
                p.allocated.to_string(),
                p.unallocated.to_string(),
                p.customers,
            )
        })
        .collect();
    let row = |p: &str, a: &str, given: &str, left: &str, n: u64| {
        (
            p.to_string(),
            a.to_string(),
            given.to_string(),
            left.to_string(),
            n,
        )
    };
    assert_eq!(
        pools,
        [
            row("channel=展会活动", "2000", "2000.00", "0.00", 3),
            row("channel=微信广告", "1200", "1200", "0", 3),
            row("channel=抖音达人投放", "500", "0", "500", 0),
        ]
    );
}

#[test]
fn profit_after_marketing() {
    assert_eq!(
        column("profit_after_marketing"),
        expect([
            "0",
            "149333.33",
            "34333.33",
            "1600",
            "0",
            "3000",
            "12333.34",
            "-1500"
        ])
    );
}

#[test]
fn profit_after_marketing_by_channel() {
    assert_eq!(
        kpi_of("profit_after_marketing_by_channel"),
        groups(&[
            ("channel=微信广告", "100"),
            ("channel=展会活动", "196000"),
            ("channel=抖音达人投放", "0"),
            ("channel=(none)", "3000"),
        ])
    );
}

// ---------------------------------------------------------------- KPIs

#[test]
fn cac() {
    // Spend / customers who bought: 1200 / 3; 2000 / 3; 500 / 0 (null); 0 / 1.
    assert_eq!(
        kpi_of("cac"),
        groups(&[
            ("channel=微信广告", "400"),
            ("channel=展会活动", "666.67"),
            ("channel=抖音达人投放", "null"),
            ("channel=(none)", "0"),
        ])
    );
}

#[test]
fn channel_roi() {
    // Net revenue / spend: 4300 / 1200; 495000 / 2000; 0 / 500; 6000 / 0 (null).
    assert_eq!(
        kpi_of("channel_roi"),
        groups(&[
            ("channel=微信广告", "3.58"),
            ("channel=展会活动", "247.5"),
            ("channel=抖音达人投放", "0"),
            ("channel=(none)", "null"),
        ])
    );
}

#[test]
fn ltv_cac() {
    // Mean LTV of buyers / CAC: (4000 + 800 + 1000) / 3 / 400; 169999.9967 / 666.67.
    assert_eq!(
        kpi_of("ltv_cac"),
        groups(&[
            ("channel=微信广告", "4.83"),
            ("channel=展会活动", "255"),
            ("channel=抖音达人投放", "null"),
            ("channel=(none)", "null"),
        ])
    );
}

#[test]
fn spend_deviation() {
    assert_eq!(
        kpi_of("spend_deviation"),
        groups(&[
            ("channel=微信广告, quarter=2025-Q1", "0.2"),
            ("channel=微信广告, quarter=2025-Q2", "-1"),
            ("channel=展会活动, quarter=2025-Q2", "-0.0476"),
            ("channel=抖音达人投放, quarter=2025-Q2", "null"),
        ])
    );
}

#[test]
fn receivables_total() {
    assert_eq!(kpi_of("receivables_total"), groups(&[("all", "50800")]));
}

#[test]
fn dso() {
    // 50800 / 399800 x 365 = 46.378...
    assert_eq!(kpi_of("dso"), groups(&[("all", "46.4")]));
}

#[test]
fn net_revenue_total() {
    assert_eq!(kpi_of("net_revenue_total"), groups(&[("all", "505300")]));
}

#[test]
fn gross_margin_rate() {
    // 209300 / 505300.
    assert_eq!(kpi_of("gross_margin_rate"), groups(&[("all", "0.4142")]));
}

#[test]
fn profit_by_lifecycle() {
    assert_eq!(
        kpi_of("profit_by_lifecycle"),
        groups(&[
            ("lifecycle=lead", "0"),
            ("lifecycle=churned", "163000"),
            ("lifecycle=high-value", "35000"),
            ("lifecycle=active", "2000"),
            ("lifecycle=potential", "400"),
            ("lifecycle=regular", "1900"),
        ])
    );
}

#[test]
fn revenue_by_value_class() {
    assert_eq!(
        kpi_of("revenue_by_value_class"),
        groups(&[
            ("value_class=A", "450000"),
            ("value_class=B", "45000"),
            ("value_class=C", "10300"),
        ])
    );
}

#[test]
fn customers_by_tier() {
    assert_eq!(
        kpi_of("customers_by_tier"),
        groups(&[
            ("tier=vip", "1"),
            ("tier=key-account", "1"),
            ("tier=ordinary", "6"),
        ])
    );
}

#[test]
fn revenue_by_region() {
    assert_eq!(
        kpi_of("revenue_by_region"),
        groups(&[
            ("region=华东", "350800"),
            ("region=华北", "106000"),
            ("region=华南", "49000"),
            ("region=(none)", "-500"),
        ])
    );
}

#[test]
fn avg_order_value_all() {
    // 521800 / 20.
    assert_eq!(kpi_of("avg_order_value_all"), groups(&[("all", "26090")]));
}

#[test]
fn purchase_frequency_all() {
    // Orders per 365 days of tenure (at least 365): (1.8481 + 1.16 + 8 + 1 + 1.8945 + 2
    // + 1) / 7.
    assert_eq!(kpi_of("purchase_frequency_all"), groups(&[("all", "2.41")]));
}

#[test]
fn refund_rate_all() {
    // 16500 / 521800.
    assert_eq!(kpi_of("refund_rate_all"), groups(&[("all", "0.0316")]));
}

#[test]
fn ltv() {
    assert_eq!(column("ltv"), column("ltv_simple"));
    assert_eq!(column("ltv")["c03"], "99999.99");
}

#[test]
fn avg_ltv_by_channel() {
    assert_eq!(
        kpi_of("avg_ltv_by_channel"),
        groups(&[
            ("channel=微信广告", "1933.33"),
            ("channel=展会活动", "170000"),
            ("channel=抖音达人投放", "null"),
            ("channel=(none)", "6000"),
        ])
    );
}

// ---------------------------------------------------------------- alerts

fn alert_rows(name: &str) -> BTreeMap<String, (String, String, String)> {
    alerts(outcome(), name)
}

fn row(level: &str, value: &str, threshold: &str) -> (String, String, String) {
    (level.into(), value.into(), threshold.into())
}

#[test]
fn cac_above_limit() {
    assert_eq!(
        alert_rows("cac_above_limit"),
        BTreeMap::from([
            (
                "channel=微信广告".to_string(),
                row("review", "400", "> 300")
            ),
            (
                "channel=展会活动".to_string(),
                row("critical", "666.67", "> 450")
            ),
            ("channel=(none)".to_string(), row("ok", "0", "not > 300")),
        ])
    );
}

#[test]
fn channel_roi_low() {
    let rows = alert_rows("channel_roi_low");
    assert_eq!(rows["channel=抖音达人投放"], row("review", "0", "< 1"));
    assert_eq!(rows["channel=微信广告"].0, "ok");
    assert_eq!(rows["channel=展会活动"].0, "ok");
    assert_eq!(rows.len(), 3, "{rows:?}");
}

#[test]
fn spend_off_budget() {
    let rows = alert_rows("spend_off_budget");
    assert_eq!(
        rows["channel=微信广告, quarter=2025-Q1"],
        row("review", "0.2", "outside [-0.1, 0.1]")
    );
    assert_eq!(
        rows["channel=微信广告, quarter=2025-Q2"],
        row("review", "-1", "outside [-0.1, 0.1]")
    );
    assert_eq!(rows["channel=展会活动, quarter=2025-Q2"].0, "ok");
    assert_eq!(rows.len(), 3, "{rows:?}");
}

#[test]
fn high_value_churned() {
    let rows: Vec<_> = outcome()
        .alerts
        .iter()
        .filter(|a| a.alert == "high_value_churned")
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].subject, "c02");
    assert_eq!(rows[0].level.name(), "critical");
    assert_eq!(
        rows[0].threshold,
        "lifecycle == \"churned\" && value_class == \"A\""
    );
}

#[test]
fn credit_limit_exceeded() {
    let rows: Vec<_> = outcome()
        .alerts
        .iter()
        .filter(|a| a.alert == "credit_limit_exceeded")
        .map(|a| (a.subject.as_str(), a.level.name()))
        .collect();
    assert_eq!(rows, [("c07", "review")]);
}

#[test]
fn the_standard_pack_on_an_empty_book() {
    let program = standard_program();
    let table = table_of(&program, &[Customer::new("only")], AS_OF);
    // The same columns, no rows.
    let mut empty = Table::new(Vec::<String>::new());
    for (name, ty) in table.schema() {
        empty.insert(name, Column::new(ty));
    }
    let out = run(&program, empty, book_facts(), AS_OF);
    assert_eq!(out.customers, 0);
    assert!(out.segments.is_empty(), "{:?}", out.segments);
    // Spend still makes groups: 1200 / 0 buyers.
    assert_eq!(kpi(&out, "cac")["channel=微信广告"], Value::Null);
    assert_eq!(kpi(&out, "net_revenue_total")["all"], vd("0"));
}

#[test]
fn a_declared_feature_the_caller_did_not_compute_stops_the_run() {
    let program = standard_program();
    let mut table = Table::new(["c1"]);
    let full = table_of(&program, &[Customer::new("c1")], AS_OF);
    for (name, _) in full.schema() {
        if name != "revenue_12m" {
            table.insert(name, full.column(name).expect("column").clone());
        }
    }
    match program.evaluate(ledgerlens_rules::Input {
        table,
        facts: Facts::default(),
        as_of: d(AS_OF),
    }) {
        Err(ledgerlens_rules::Error::Rule { rule, at, .. }) => {
            assert_eq!(rule, "revenue_12m");
            assert_eq!(at, "standard/features/ledger.yaml:10:1");
        }
        other => panic!("expected Error::Rule, got {other:?}"),
    }
}
