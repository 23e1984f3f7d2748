//! The standard pack (`rules/standard`), rule by rule, on a small hand-built book of
//! customers whose expected labels and values are worked out by hand below.
//!
//! The inputs are built the way the pipeline builds them (engine/pipeline: `BUILTINS`
//! and `Aggregate::features`), from each customer's sales, refunds, invoices, payments
//! and write-offs; the declared features (`features/ledger.yaml`, and the activity
//! drivers of `allocations/indirect.yaml`) are computed with [`Accumulator`] over the
//! same entries and the customer's activity counts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::NaiveDate;
use ledgerlens_model::EntryKind;
use ledgerlens_rules::{
    Accumulator, Column, CountModel, EntryView, Facts, ModelDef, ModelUnit, Outcome, Pack,
    PackSource, PeriodAccumulator, PeriodTotals, Program, SpendModel, Table, Type, Value,
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
        ("campaign", Type::Text),
        ("first_seen", Type::Date),
        ("credit_limit", Type::Decimal),
        ("tags", Type::List),
        ("p_alive", Type::Decimal),
        ("expected_purchases", Type::Decimal),
        ("expected_spend", Type::Decimal),
        ("clv", Type::Decimal),
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
    write_offs: Vec<(&'static str, &'static str)>,
    /// Activity counts: (activity, date, count).
    activities: Vec<(&'static str, &'static str, &'static str)>,
    cogs: &'static str,
    cost_to_serve: &'static str,
    region: Option<&'static str>,
    channel: Option<&'static str>,
    campaign: Option<&'static str>,
    credit_limit: Option<&'static str>,
    /// The model's predictions, as the pipeline would supply them: p_alive,
    /// expected_purchases, expected_spend, clv (none for a customer without purchases).
    predicted: Option<[&'static str; 4]>,
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
        for (date, amount) in &self.write_offs {
            out.push(view(date, EntryKind::WriteOff, amount, None));
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
            - sum(self.payments.iter().map(|s| s.1).collect())
            - sum(self.write_offs.iter().map(|s| s.1).collect());
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
            ("campaign", text(self.campaign)),
            ("first_seen", Value::Null),
            ("credit_limit", self.credit_limit.map_or(Value::Null, vd)),
            ("tags", Value::List(Vec::new())),
            ("p_alive", self.predicted.map_or(Value::Null, |p| vd(p[0]))),
            (
                "expected_purchases",
                self.predicted.map_or(Value::Null, |p| vd(p[1])),
            ),
            (
                "expected_spend",
                self.predicted.map_or(Value::Null, |p| vd(p[2])),
            ),
            ("clv", self.predicted.map_or(Value::Null, |p| vd(p[3]))),
        ]
    }
}

/// The customer table for a program: built-in features, and its declared features
/// computed over each customer's entries and activity counts.
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
            for (activity, date, count) in &c.activities {
                acc.push_activity(row, activity, d(date), dec(count));
            }
        }
        table.insert(name, Column::from_values(declared.ty(), acc.finish()));
    }
    table
}

/// The ledger's totals by period for the program's KPIs by period, as the pipeline sums
/// them: every entry, with its customer's channel, campaign and region.
pub fn periods_of(program: &Program, customers: &[Customer], as_of: &str) -> PeriodTotals {
    let shapes = program.period_shapes();
    let mut acc = PeriodAccumulator::new(&shapes, d(as_of));
    for c in customers {
        for e in c.entries() {
            acc.push(&e, |key| match key {
                "channel" => c.channel,
                "campaign" => c.campaign,
                "region" => c.region,
                _ => None,
            });
        }
    }
    acc.finish()
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
///
/// Receivables, acquisition and activities (days: from the invoice date to 2025-12-31):
///
/// | id  | open invoices, oldest first (FIFO)          | campaign | tickets | deliveries |
/// |-----|---------------------------------------------|----------|---------|------------|
/// | c01 | -                                           | 新春促销 | 0       | 0          |
/// | c02 | -                                           | 品牌周   | 3       | 0          |
/// | c03 | 5000 of I3-3 (30 d)                         | -        | 1       | 0          |
/// | c04 | 20 of I4-9 (112 d), I4-10 500 (82 d),       | 品牌周   | 1       | 8          |
/// |     | I4-11 500 (51 d), I4-12 500 (21 d)          |          |         |            |
/// | c05 | I5-1 800 (60 d)                             | 品牌周   | 0       | 1          |
/// | c06 | -                                           | -        | 0       | 3          |
/// | c07 | 15000 of INV-7 (213 d), INV-7 30000 (183 d) | 品牌周   | 1       | 0          |
/// | c08 | -                                           | 新春促销 | 0       | 1          |
///
/// c04's payments of 450 (Oct 20) and 30 (Dec 20) settle its September invoice first and
/// leave 20 of it open: overdue by FIFO although it paid 11 days ago. c07's write-off of
/// 5000 settles its oldest invoice like a payment. An activity after the as-of date (c07's
/// 5 tickets, c08's 2 deliveries in January 2026) does not count.
pub fn book() -> Vec<Customer> {
    let wechat = Some("微信广告");
    let fair = Some("展会活动");
    let new_year = Some("新春促销");
    let brand_week = Some("品牌周");
    vec![
        Customer {
            region: Some("华东"),
            channel: wechat,
            campaign: new_year,
            ..Customer::new("c01")
        },
        Customer {
            sales: vec![
                ("2024-12-01", "50000", "S2-1"),
                ("2025-03-01", "300000", "S2-2"),
            ],
            activities: vec![
                ("service-ticket", "2025-03-05", "2"),
                ("service-ticket", "2025-06-01", "1"),
            ],
            cogs: "200000",
            region: Some("华东"),
            channel: fair,
            campaign: brand_week,
            predicted: Some(["0.0500", "0.1000", "150000.00", "14285.71"]),
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
                ("2025-12-15", "25000"),
            ],
            activities: vec![("service-ticket", "2025-12-05", "1")],
            cogs: "60000",
            cost_to_serve: "5000",
            region: Some("华北"),
            channel: fair,
            predicted: Some(["0.2500", "0.6000", "31000.00", "17600.00"]),
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
            invoices: vec![
                ("2025-09-10", "500", "I4-9"),
                ("2025-10-10", "500", "I4-10"),
                ("2025-11-10", "500", "I4-11"),
                ("2025-12-10", "500", "I4-12"),
            ],
            payments: vec![("2025-10-20", "450"), ("2025-12-20", "30")],
            activities: vec![
                ("service-ticket", "2025-08-01", "1"),
                ("delivery", "2025-06-10", "4"),
                ("delivery", "2025-11-10", "4"),
            ],
            cogs: "2000",
            region: Some("华南"),
            channel: wechat,
            campaign: brand_week,
            predicted: Some(["0.9500", "7.2000", "500.00", "3400.00"]),
            ..Customer::new("c04")
        },
        Customer {
            sales: vec![("2025-11-01", "800", "S5-1")],
            invoices: vec![("2025-11-01", "800", "I5-1")],
            activities: vec![("delivery", "2025-11-02", "1")],
            cogs: "400",
            region: Some("华东"),
            channel: wechat,
            campaign: brand_week,
            credit_limit: Some("1000"),
            predicted: Some(["0.8000", "1.5000", "800.00", "1150.00"]),
            ..Customer::new("c05")
        },
        Customer {
            sales: vec![
                ("2024-06-01", "2000", "S6-1"),
                ("2025-01-15", "2000", "S6-2"),
                ("2025-10-01", "2000", "S6-3"),
            ],
            activities: vec![
                ("delivery", "2024-06-02", "1"),
                ("delivery", "2025-01-16", "1"),
                ("delivery", "2025-10-02", "1"),
            ],
            cogs: "3000",
            region: Some("华北"),
            predicted: Some(["0.6000", "2.0000", "2000.00", "3800.00"]),
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
            write_offs: vec![("2025-09-30", "5000")],
            activities: vec![
                ("service-ticket", "2025-07-20", "1"),
                ("service-ticket", "2026-01-05", "5"),
            ],
            cogs: "30000",
            cost_to_serve: "2000",
            region: Some("华南"),
            channel: fair,
            campaign: brand_week,
            credit_limit: Some("40000"),
            predicted: Some(["0.2000", "0.5000", "22000.00", "10500.00"]),
            ..Customer::new("c07")
        },
        Customer {
            sales: vec![("2025-09-01", "1000", "S8-1")],
            refunds: vec![("2025-09-20", "1500")],
            activities: vec![
                ("delivery", "2025-09-02", "1"),
                ("delivery", "2026-01-03", "2"),
            ],
            cogs: "600",
            channel: wechat,
            campaign: new_year,
            predicted: Some(["0.7000", "1.1000", "700.00", "740.00"]),
            ..Customer::new("c08")
        },
    ]
}

/// Spend: 微信广告 1200 in 2025-Q1, 展会活动 2000 in 2025-Q2, 抖音达人投放 500 (a channel
/// that acquired nobody). Budgets: 微信广告 1000 for Q1 and 500 for Q2, 展会活动 2100 for Q2.
///
/// The same spend by campaign: 新春促销 600 (微信广告, January); 品牌周 1600 (微信广告 600
/// in February, 展会活动 1000 in April); 达人种草 500 (抖音达人投放, no customer); 展会活动's
/// other 1000 has no campaign. Campaign budgets: 新春促销 600 for Q1, 品牌周 500 for Q1 and
/// 1500 for Q2; none for 达人种草.
///
/// Cost pools: `service` 600 (2025-11) + 400 (2025-12), and 999 for 2026-01, after the
/// as-of date; `logistics` 1000 (2025-Q4).
pub fn book_facts() -> Facts {
    Facts {
        spend: vec![
            campaign_spend("2025-01-15", "微信广告", "新春促销", "600"),
            campaign_spend("2025-02-15", "微信广告", "品牌周", "600"),
            campaign_spend("2025-04-10", "展会活动", "品牌周", "1000"),
            spend("2025-04-20", "展会活动", "1000"),
            campaign_spend("2025-05-01", "抖音达人投放", "达人种草", "500"),
        ],
        budgets: vec![
            budget("微信广告", "2025-Q1", "1000"),
            budget("微信广告", "2025-Q2", "500"),
            budget("展会活动", "2025-Q2", "2100"),
            campaign_budget("新春促销", "2025-Q1", "600"),
            campaign_budget("品牌周", "2025-Q1", "500"),
            campaign_budget("品牌周", "2025-Q2", "1500"),
        ],
        cost_pools: vec![
            cost_pool("service", "2025-11", "600"),
            cost_pool("service", "2025-12", "400"),
            cost_pool("service", "2026-01", "999"),
            cost_pool("logistics", "2025-Q4", "1000"),
        ],
    }
}

/// The standard pack evaluated over the book, once.
pub fn outcome() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    OUTCOME.get_or_init(|| {
        let program = standard_program();
        let table = table_of(&program, &book(), AS_OF);
        let periods = periods_of(&program, &book(), AS_OF);
        run_with(&program, table, book_facts(), periods, AS_OF)
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
        "service_tickets",
        "deliveries",
        "service_cost_allocated",
        "logistics_cost_allocated",
        "net_profit",
        "net_profit_by_value_class",
        "whale_curve",
        // KPIs by period
        "net_revenue_by_month",
        "gross_margin_by_quarter",
        "gross_margin_rate_by_quarter",
        "net_revenue_by_channel_and_quarter",
        // features
        "orders_12m",
        "revenue_12m",
        "last_payment",
        "invoice_lines",
        "invoice_documents",
        "open_0_30",
        "open_31_60",
        "open_61_90",
        "open_over_90",
        "oldest_open_invoice",
        "profit",
        "lifespan_months",
        "ltv_simple",
        "duplicate_invoices",
        "cohort",
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
        "campaign_roi",
        "campaign_channel_roi",
        "campaign_cac",
        "campaign_spend_deviation",
        "receivables_total",
        "dso",
        "ageing_0_30",
        "ageing_31_60",
        "ageing_61_90",
        "ageing_over_90",
        "days_unpaid",
        "campaign_buyers",
        "campaign_acquired_nobody",
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
        "customers_by_cohort",
        "retention_by_cohort",
        // alerts
        "cac_above_limit",
        "channel_roi_low",
        "spend_off_budget",
        "high_value_churned",
        "credit_limit_exceeded",
        "campaign_cac_above_limit",
        "campaign_roi_low",
        "campaign_off_budget",
        "high_value_at_risk",
        // predictive value
        "clv_model",
        "predicted_clv",
        "predicted_clv_total",
        "predicted_clv_by_lifecycle",
        "expected_active_customers",
        "expected_purchases_total",
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
            "deliveries",
            "invoice_documents",
            "invoice_lines",
            "last_payment",
            "oldest_open_invoice",
            "open_0_30",
            "open_31_60",
            "open_61_90",
            "open_over_90",
            "orders_12m",
            "revenue_12m",
            "service_tickets",
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
        // 达人种草 has spend and no customer: no ROI, no CAC, and no budget either.
        ("campaign_roi", 1),
        ("campaign_cac", 1),
        ("campaign_spend_deviation", 1),
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
        expect([
            "0.00",
            "300000.00",
            "30000.00",
            "4000.00",
            "800.00",
            "4000.00",
            "60000.00",
            "1000.00"
        ])
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
            "2025-12-20",
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
        expect(["0", "0", "3", "4", "1", "0", "2", "0"])
    );
}

#[test]
fn invoice_documents() {
    assert_eq!(
        column("invoice_documents"),
        expect(["0", "0", "3", "4", "1", "0", "1", "0"])
    );
}

// Ageing, first in, first out (see the book): payments and write-offs settle the oldest
// invoices first; what is left is bucketed by its age on 2025-12-31.

#[test]
fn open_0_30() {
    // c03: 5000 of 2025-12-01, 30 days old (the bucket's last day); c04: 2025-12-10.
    assert_eq!(
        column("open_0_30"),
        expect(["0.00", "0.00", "5000.00", "500.00", "0.00", "0.00", "0.00", "0.00"])
    );
}

#[test]
fn open_31_60() {
    // c04: 2025-11-10 (51 days); c05: 2025-11-01 (60 days, the bucket's last day).
    assert_eq!(
        column("open_31_60"),
        expect(["0.00", "0.00", "0.00", "500.00", "800.00", "0.00", "0.00", "0.00"])
    );
}

#[test]
fn open_61_90() {
    // c04: 2025-10-10 (82 days).
    assert_eq!(
        column("open_61_90"),
        expect(["0.00", "0.00", "0.00", "500.00", "0.00", "0.00", "0.00", "0.00"])
    );
}

#[test]
fn open_over_90() {
    // c04: 500 - 450 - 30 of 2025-09-10 (its later payment settled the oldest invoice,
    // not the newest); c07: 30000 - 10000 paid - 5000 written off, and 30000.
    assert_eq!(
        column("open_over_90"),
        expect(["0.00", "0.00", "0.00", "20.00", "0.00", "0.00", "45000.00", "0.00"])
    );
    // The buckets add up to each customer's receivables (nobody paid in advance).
    let buckets = ["open_0_30", "open_31_60", "open_61_90", "open_over_90"];
    for (id, receivables) in by_id(outcome(), "receivables") {
        let open: Decimal = buckets
            .iter()
            .map(|b| value_of(outcome(), b, &id).as_decimal().expect("a sum"))
            .sum();
        assert_eq!(Value::Decimal(open), receivables, "{id}");
    }
}

#[test]
fn oldest_open_invoice() {
    // c03's paid invoices of 2023 and 2024 are not open; c07's oldest is only partly paid.
    assert_eq!(
        column("oldest_open_invoice"),
        expect([
            "null",
            "null",
            "2025-12-01",
            "2025-09-10",
            "2025-11-01",
            "null",
            "2025-06-01",
            "null"
        ])
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
        expect([
            "null",
            "350000.00",
            "99999.99",
            "4000.00",
            "800.00",
            "6000.00",
            "60000.00",
            "1000.00"
        ])
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

#[test]
fn cohort() {
    // The quarter of the first purchase; a lead has none.
    assert_eq!(
        column("cohort"),
        expect([
            "null", "2024-Q4", "2023-Q2", "2025-Q2", "2025-Q4", "2024-Q2", "2025-Q2", "2025-Q3"
        ])
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
    // Overdue: the oldest open invoice is more than 90 days old: c07 (213) and c04 (112,
    // though it paid 11 days ago); not c05 (60) or c03 (30).
    let risk = column("risk");
    assert_eq!(
        risk["c07"],
        "[refund-rate-high, overdue-receivables, credit-limit-exceeded, duplicate-invoice-numbers]"
    );
    assert_eq!(risk["c08"], "[refund-rate-high, refunds-exceed-purchases]");
    assert_eq!(risk["c04"], "[overdue-receivables]");
    // Churn risk: class A (c02, c03) with p_alive below 0.3 (0.05, 0.25); c07 (0.20) is
    // class B.
    assert_eq!(risk["c02"], "[churn-risk]");
    assert_eq!(risk["c03"], "[churn-risk]");
    for id in ["c01", "c05", "c06"] {
        assert_eq!(risk[id], "[]", "{id}");
    }
    assert_eq!(sizes(outcome(), "risk")["(none)"], 3);
    assert_eq!(sizes(outcome(), "risk")["churn-risk"], 2);
    assert_eq!(sizes(outcome(), "risk")["refund-rate-high"], 2);
    assert_eq!(sizes(outcome(), "risk")["overdue-receivables"], 2);
}

#[test]
fn overdue_receivables_follow_a_client_threshold() {
    let client = source(
        "acme",
        &[(
            "pack.yaml",
            "name: acme\nextends: standard\nparams:\n  overdue_days: 112\n",
        )],
    );
    let pack = Pack::load(client, &Named(vec![standard_source()])).expect("loads");
    let program = Program::compile(&pack, &schema()).expect("compiles");
    let table = table_of(&program, &book(), AS_OF);
    let out = run(&program, table, book_facts(), AS_OF);
    // More than 112 days: c07 (213) still, c04 (exactly 112) no longer.
    let overdue: Vec<String> = by_id(&out, "risk")
        .into_iter()
        .filter(|(_, v)| v.to_string().contains("overdue-receivables"))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(overdue, ["c07"]);
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
        expect(["0.00", "666.67", "666.67", "400.00", "400.00", "0.00", "666.66", "400.00"])
    );
    assert_eq!(
        pools_of("marketing_cost"),
        [
            pool("channel=展会活动", "2000", "2000", "0", 3),
            pool("channel=微信广告", "1200", "1200", "0", 3),
            pool("channel=抖音达人投放", "500", "0", "500", 0),
        ]
    );
}

/// An allocation's pools as (pool, amount, allocated, unallocated, customers); amounts
/// compare by value (1200 == 1200.00).
fn pools_of(allocation: &str) -> Vec<(String, Decimal, Decimal, Decimal, u64)> {
    outcome()
        .allocations
        .iter()
        .filter(|p| p.allocation == allocation)
        .map(|p| {
            (
                p.pool.clone(),
                p.amount,
                p.allocated,
                p.unallocated,
                p.customers,
            )
        })
        .collect()
}

fn pool(
    name: &str,
    amount: &str,
    allocated: &str,
    unallocated: &str,
    customers: u64,
) -> (String, Decimal, Decimal, Decimal, u64) {
    (
        name.to_string(),
        dec(amount),
        dec(allocated),
        dec(unallocated),
        customers,
    )
}

#[test]
fn profit_after_marketing() {
    assert_eq!(
        column("profit_after_marketing"),
        expect([
            "0.00",
            "149333.33",
            "34333.33",
            "1600.00",
            "0.00",
            "3000",
            "12333.34",
            "-1500.00"
        ])
    );
}

#[test]
fn profit_after_marketing_by_channel() {
    assert_eq!(
        kpi_of("profit_after_marketing_by_channel"),
        groups(&[
            ("channel=微信广告", "100.00"),
            ("channel=展会活动", "196000.00"),
            ("channel=抖音达人投放", "0.00"),
            ("channel=(none)", "3000.00"),
        ])
    );
}

#[test]
fn service_tickets() {
    // c02: 2 + 1; c07's 5 tickets of 2026-01-05 are after the as-of date.
    assert_eq!(
        column("service_tickets"),
        expect(["0", "3", "1", "1", "0", "0", "1", "0"])
    );
}

#[test]
fn deliveries() {
    // c04: 4 + 4; c06: three of 1; c08's 2 deliveries of 2026-01-03 are after the as-of
    // date.
    assert_eq!(
        column("deliveries"),
        expect(["0", "0", "0", "8", "1", "3", "0", "1"])
    );
}

/// The sum of a per-customer decimal column.
fn column_sum(name: &str) -> Decimal {
    by_id(outcome(), name)
        .values()
        .map(|v| v.as_decimal().expect("a decimal"))
        .sum()
}

#[test]
fn service_cost_allocated() {
    // The service pool up to 2025-12-31: 600 + 400 (2026-01's 999 is later), over 6
    // tickets: c02 3 x 1000 / 6 = 500; c03, c04, c07 166.666... each: 166.66 and 2 cents
    // left for 3 equal remainders, which go to the smaller ids c03 and c04.
    assert_eq!(
        column("service_cost_allocated"),
        expect(["0.00", "500.00", "166.67", "166.67", "0.00", "0.00", "166.66", "0.00"])
    );
    assert_eq!(column_sum("service_cost_allocated"), dec("1000"));
    assert_eq!(
        pools_of("service_cost_allocated"),
        [pool("all", "1000", "1000", "0", 4)]
    );
}

#[test]
fn logistics_cost_allocated() {
    // 1000 over 13 deliveries: c04 8 -> 615.384..., c05 1 -> 76.923..., c06 3 ->
    // 230.769..., c08 1 -> 76.923...; the 2 cents left go to the largest remainders,
    // c06 (0.0092...) and c04 (0.0046...), not to c05 and c08 (0.0030...).
    assert_eq!(
        column("logistics_cost_allocated"),
        expect(["0.00", "0.00", "0.00", "615.39", "76.92", "230.77", "0.00", "76.92"])
    );
    assert_eq!(column_sum("logistics_cost_allocated"), dec("1000"));
    assert_eq!(
        pools_of("logistics_cost_allocated"),
        [pool("all", "1000", "1000", "0", 4)]
    );
}

#[test]
fn net_profit() {
    // profit_after_marketing - service - logistics: c02 149333.33 - 500; c03 34333.33 -
    // 166.67; c04 1600 - 166.67 - 615.39; c05 0 - 76.92; c06 3000 - 230.77; c07 12333.34
    // - 166.66; c08 -1500 - 76.92.
    assert_eq!(
        column("net_profit"),
        expect([
            "0.00",
            "148833.33",
            "34166.66",
            "817.94",
            "-76.92",
            "2769.23",
            "12166.68",
            "-1576.92"
        ])
    );
    // Both pools, and only they, came off: 199100.00 - 1000 - 1000.
    assert_eq!(column_sum("net_profit"), dec("197100"));
}

#[test]
fn net_profit_by_value_class() {
    // A: c02 + c03; B: c07; C: c01 + c04 + c05 + c06 + c08.
    assert_eq!(
        kpi_of("net_profit_by_value_class"),
        groups(&[
            ("value_class=A", "182999.99"),
            ("value_class=B", "12166.68"),
            ("value_class=C", "1933.33"),
        ])
    );
}

#[test]
fn whale_curve() {
    // The 8 customers by net profit: c02 148833.33, c03 34166.66, c07 12166.68, c06
    // 2769.23, c04 817.94, the lead c01 0.00, c05 -76.92, c08 -1576.92. The point k/20
    // is reached after ceil(8k/20) customers: 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 6, 6,
    // 6, 7, 7, 8, 8, 8. The curve peaks after 5 of 8 (0.6250, the first rank at the
    // top: the lead adds nothing), and c05 and c08 cost money.
    let after = [
        "148833.33",
        "182999.99",
        "195166.67",
        "197935.90",
        "198753.84",
        "198753.84",
        "198676.92",
        "197100.00",
    ];
    // Rows sort by group: `peak` before `top`.
    let expected: Vec<(String, String)> = [("peak=0.6250".to_string(), "198753.84")]
        .into_iter()
        .chain((1..=20).map(|k: usize| {
            (
                format!("top={:.2}", k as f64 / 20.0),
                after[(8 * k).div_ceil(20) - 1],
            )
        }))
        .map(|(g, v)| (g, v.to_string()))
        .collect();
    let rows: Vec<(String, String)> = outcome()
        .kpis
        .iter()
        .filter(|k| k.kpi == "whale_curve")
        .map(|k| {
            let [(key, share)] = k.group.as_slice() else {
                panic!("one key: {k:?}")
            };
            (format!("{key}={share}"), k.value.to_string())
        })
        .collect();
    let numeric = |rows: &[(String, String)]| -> Vec<(String, Decimal)> {
        rows.iter().map(|(g, v)| (g.clone(), dec(v))).collect()
    };
    assert_eq!(numeric(&rows), numeric(&expected));
}

// ---------------------------------------------------------------- KPIs

#[test]
fn cac() {
    // Spend / customers who bought: 1200 / 3; 2000 / 3; 500 / 0 (null); 0 / 1.
    assert_eq!(
        kpi_of("cac"),
        groups(&[
            ("channel=微信广告", "400.00"),
            ("channel=展会活动", "666.67"),
            ("channel=抖音达人投放", "null"),
            ("channel=(none)", "0.00"),
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
            ("channel=展会活动", "247.50"),
            ("channel=抖音达人投放", "0.00"),
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
            ("channel=展会活动", "255.00"),
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

/// The example subject of a rule's `rules.null` diagnostic, and how many it counts.
fn null_diagnostic(rule: &str) -> (String, u64) {
    let d = outcome()
        .diagnostics
        .iter()
        .find(|d| d.rule == rule && d.code == "rules.null")
        .unwrap_or_else(|| panic!("no rules.null diagnostic of {rule}"));
    (d.example.clone(), d.count)
}

#[test]
fn campaign_roi() {
    // Net revenue of a campaign's customers / its spend: 新春促销 (c01 0, c08 -500) / 600;
    // 品牌周 (c02 350000, c04 4000, c05 800, c07 45000) / 1600 = 249.875; 达人种草 has
    // spend and no customer: no value. c03 and c06 have no campaign.
    assert_eq!(
        kpi_of("campaign_roi"),
        groups(&[
            ("campaign=新春促销", "-0.83"),
            ("campaign=品牌周", "249.88"),
            ("campaign=达人种草", "null"),
        ])
    );
    assert_eq!(
        null_diagnostic("campaign_roi"),
        ("campaign=达人种草".to_string(), 1)
    );
}

#[test]
fn campaign_channel_roi() {
    // 新春促销 on 微信广告: -500 / 600; 品牌周 on 微信广告: (4000 + 800) / 600, on 展会活动:
    // (350000 + 45000) / 1000 (not the 2000 展会活动 spent in all); 达人种草 spent 500 on
    // 抖音达人投放 and acquired nobody: 0 / 500 (a group of spend without customers).
    assert_eq!(
        kpi_of("campaign_channel_roi"),
        groups(&[
            ("campaign=新春促销, channel=微信广告", "-0.83"),
            ("campaign=品牌周, channel=微信广告", "8.00"),
            ("campaign=品牌周, channel=展会活动", "395.00"),
            ("campaign=达人种草, channel=抖音达人投放", "0.00"),
        ])
    );
}

#[test]
fn campaign_cac() {
    // Spend / customers who bought: 新春促销 600 / 1 (c08; the lead c01 bought nothing);
    // 品牌周 1600 / 4; 达人种草 500 / nobody: no value.
    assert_eq!(
        kpi_of("campaign_cac"),
        groups(&[
            ("campaign=新春促销", "600.00"),
            ("campaign=品牌周", "400.00"),
            ("campaign=达人种草", "null"),
        ])
    );
    assert_eq!(
        null_diagnostic("campaign_cac"),
        ("campaign=达人种草".to_string(), 1)
    );
}

#[test]
fn campaign_spend_deviation() {
    // Over all periods: 新春促销 (600 - 600) / 600; 品牌周 (1600 - (500 + 1500)) / 2000;
    // 达人种草 has no budget.
    assert_eq!(
        kpi_of("campaign_spend_deviation"),
        groups(&[
            ("campaign=新春促销", "0"),
            ("campaign=品牌周", "-0.2"),
            ("campaign=达人种草", "null"),
        ])
    );
}

#[test]
fn receivables_total() {
    // c03 5000 + c04 1520 + c05 800 + c07 (60000 - 10000 paid - 5000 written off).
    assert_eq!(kpi_of("receivables_total"), groups(&[("all", "52320.00")]));
}

#[test]
fn dso() {
    // 52320 / 399800 x 365 = 47.765...
    assert_eq!(kpi_of("dso"), groups(&[("all", "47.8")]));
}

#[test]
fn ageing_0_30() {
    // c03's 5000 (30 days) + c04's December invoice 500 (21 days).
    assert_eq!(kpi_of("ageing_0_30"), groups(&[("all", "5500.00")]));
}

#[test]
fn ageing_31_60() {
    // c04's November invoice 500 (51 days) + c05's 800 (60 days).
    assert_eq!(kpi_of("ageing_31_60"), groups(&[("all", "1300.00")]));
}

#[test]
fn ageing_61_90() {
    // c04's October invoice 500 (82 days).
    assert_eq!(kpi_of("ageing_61_90"), groups(&[("all", "500.00")]));
}

#[test]
fn ageing_over_90() {
    // c04's 20 left of September (112 days) + c07's 15000 + 30000 (213, 183 days).
    assert_eq!(kpi_of("ageing_over_90"), groups(&[("all", "45020.00")]));
    // The four buckets are the receivables: 5500 + 1300 + 500 + 45020.
    let total: Decimal = [
        "ageing_0_30",
        "ageing_31_60",
        "ageing_61_90",
        "ageing_over_90",
    ]
    .iter()
    .map(|k| kpi(outcome(), k)["all"].as_decimal().expect("a number"))
    .sum();
    assert_eq!(
        Value::Decimal(total),
        kpi(outcome(), "receivables_total")["all"]
    );
}

#[test]
fn days_unpaid() {
    // Days from the oldest open invoice to 2025-12-31; none when everything is paid.
    assert_eq!(
        column("days_unpaid"),
        expect(["null", "null", "30", "112", "60", "null", "213", "null"])
    );
}

#[test]
fn net_revenue_total() {
    assert_eq!(kpi_of("net_revenue_total"), groups(&[("all", "505300.00")]));
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
            ("lifecycle=lead", "0.00"),
            ("lifecycle=churned", "163000.00"),
            ("lifecycle=high-value", "35000.00"),
            ("lifecycle=active", "2000.00"),
            ("lifecycle=potential", "400.00"),
            ("lifecycle=regular", "1900.00"),
        ])
    );
}

#[test]
fn revenue_by_value_class() {
    assert_eq!(
        kpi_of("revenue_by_value_class"),
        groups(&[
            ("value_class=A", "450000.00"),
            ("value_class=B", "45000.00"),
            ("value_class=C", "10300.00"),
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
            ("region=华东", "350800.00"),
            ("region=华北", "106000.00"),
            ("region=华南", "49000.00"),
            ("region=(none)", "-500.00"),
        ])
    );
}

#[test]
fn avg_order_value_all() {
    // 521800 / 20.
    assert_eq!(
        kpi_of("avg_order_value_all"),
        groups(&[("all", "26090.00")])
    );
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
            ("channel=展会活动", "170000.00"),
            ("channel=抖音达人投放", "null"),
            ("channel=(none)", "6000.00"),
        ])
    );
}

#[test]
fn customers_by_cohort() {
    // Buyers by the quarter of their first purchase; the lead c01 is not counted.
    assert_eq!(
        kpi_of("customers_by_cohort"),
        groups(&[
            ("cohort=2023-Q2", "1"),
            ("cohort=2024-Q2", "1"),
            ("cohort=2024-Q4", "1"),
            ("cohort=2025-Q2", "2"),
            ("cohort=2025-Q3", "1"),
            ("cohort=2025-Q4", "1"),
        ])
    );
}

#[test]
fn retention_by_cohort() {
    // Last purchase at most 180 days ago: c03 (30), c06 (91), c04 (21), c08 (121), c05
    // (60) yes; c02 (305), c07 (183) no. 2025-Q2 is c04 and c07: 1 / 2.
    assert_eq!(
        kpi_of("retention_by_cohort"),
        groups(&[
            ("cohort=2023-Q2", "1"),
            ("cohort=2024-Q2", "1"),
            ("cohort=2024-Q4", "0"),
            ("cohort=2025-Q2", "0.5"),
            ("cohort=2025-Q3", "1"),
            ("cohort=2025-Q4", "1"),
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
                row("review", "400.00", "> 300")
            ),
            (
                "channel=展会活动".to_string(),
                row("critical", "666.67", "> 450")
            ),
            ("channel=(none)".to_string(), row("ok", "0.00", "not > 300")),
        ])
    );
}

#[test]
fn channel_roi_low() {
    let rows = alert_rows("channel_roi_low");
    assert_eq!(rows["channel=抖音达人投放"], row("review", "0.00", "< 1"));
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
fn campaign_cac_above_limit() {
    // 600 > 450 (1.5 x 300); 400 > 300; 达人种草 has no CAC, so no row.
    assert_eq!(
        alert_rows("campaign_cac_above_limit"),
        BTreeMap::from([
            (
                "campaign=新春促销".to_string(),
                row("critical", "600.00", "> 450")
            ),
            (
                "campaign=品牌周".to_string(),
                row("review", "400.00", "> 300")
            ),
        ])
    );
}

#[test]
fn campaign_buyers() {
    // 新春促销: c08 (c01 is a lead); 品牌周: c02, c04, c05, c07; 达人种草 spent 500 and
    // acquired nobody.
    assert_eq!(
        kpi_of("campaign_buyers"),
        groups(&[
            ("campaign=新春促销", "1"),
            ("campaign=品牌周", "4"),
            ("campaign=达人种草", "0"),
        ])
    );
}

#[test]
fn campaign_acquired_nobody() {
    let rows = alert_rows("campaign_acquired_nobody");
    assert_eq!(rows["campaign=达人种草"], row("watch", "0", "< 1"));
    assert_eq!(rows["campaign=品牌周"].0, "ok");
    assert_eq!(rows["campaign=新春促销"].0, "ok");
}

#[test]
fn campaign_roi_low() {
    let rows = alert_rows("campaign_roi_low");
    assert_eq!(rows["campaign=新春促销"], row("review", "-0.83", "< 1"));
    assert_eq!(rows["campaign=品牌周"].0, "ok");
    assert_eq!(rows.len(), 2, "{rows:?}");
}

#[test]
fn campaign_off_budget() {
    let rows = alert_rows("campaign_off_budget");
    assert_eq!(
        rows["campaign=品牌周"],
        row("review", "-0.2", "outside [-0.1, 0.1]")
    );
    assert_eq!(rows["campaign=新春促销"].0, "ok");
    assert_eq!(rows.len(), 2, "{rows:?}");
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
    assert_eq!(kpi(&out, "campaign_roi")["campaign=品牌周"], Value::Null);
    assert_eq!(kpi(&out, "net_revenue_total")["all"], vd("0"));
    // No customer to rank: no curve, and a diagnostic says why.
    assert!(kpi(&out, "whale_curve").is_empty());
    assert!(out
        .diagnostics
        .iter()
        .any(|d| d.rule == "whale_curve" && d.code == "rules.null"));
    // The cost pools stay whole, unallocated.
    for allocation in ["service_cost_allocated", "logistics_cost_allocated"] {
        let pool = out
            .allocations
            .iter()
            .find(|p| p.allocation == allocation)
            .expect("a pool");
        assert_eq!(pool.amount, dec("1000"), "{allocation}");
        assert_eq!(pool.unallocated, dec("1000"), "{allocation}");
        assert_eq!(pool.customers, 0, "{allocation}");
    }
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
        periods: Default::default(),
        as_of: d(AS_OF),
    }) {
        Err(ledgerlens_rules::Error::Rule { rule, at, .. }) => {
            assert_eq!(rule, "revenue_12m");
            assert_eq!(at, "standard/features/ledger.yaml:10:1");
        }
        other => panic!("expected Error::Rule, got {other:?}"),
    }
}

/// Net revenue booked by quarter, from the book's sales and refunds (the book books no
/// discounts and no cost-of-goods entries: its cogs are given per customer):
///
/// | quarter | entries | net |
/// |---------|---------|-----|
/// | 2023-Q2 | c03 40000 | 40000 |
/// | 2024-Q2 | c03 30000, c06 2000 | 32000 |
/// | 2024-Q4 | c02 50000 | 50000 |
/// | 2025-Q1 | c02 300000, c06 2000 | 302000 |
/// | 2025-Q2 | c04 500 + 500, c07 30000 | 31000 |
/// | 2025-Q3 | c04 3 x 500, c07 30000 - 15000, c08 1000 - 1500 | 16000 |
/// | 2025-Q4 | c03 30000, c04 3 x 500, c05 800, c06 2000 | 34300 |
///
/// 505300 in all, the sum of the customers' net revenue.
const NET_BY_QUARTER: [(&str, &str); 7] = [
    ("quarter=2023-Q2", "40000.00"),
    ("quarter=2024-Q2", "32000.00"),
    ("quarter=2024-Q4", "50000.00"),
    ("quarter=2025-Q1", "302000.00"),
    ("quarter=2025-Q2", "31000.00"),
    ("quarter=2025-Q3", "16000.00"),
    ("quarter=2025-Q4", "34300.00"),
];

#[test]
fn gross_margin_by_quarter() {
    // No cogs entries in the book: the margin by quarter is the net revenue.
    assert_eq!(kpi_of("gross_margin_by_quarter"), groups(&NET_BY_QUARTER));
}

#[test]
fn gross_margin_rate_by_quarter() {
    let ones: Vec<(&str, &str)> = NET_BY_QUARTER.iter().map(|(q, _)| (*q, "1")).collect();
    assert_eq!(kpi_of("gross_margin_rate_by_quarter"), groups(&ones));
}

#[test]
fn net_revenue_by_month() {
    let months = kpi_of("net_revenue_by_month");
    // 2025-07: c04 500, c07 30000 - 15000; 2025-09: c04 500, c08 1000 - 1500.
    assert_eq!(months["month=2025-07"], "15500.00");
    assert_eq!(months["month=2025-09"], "0.00");
    // Months with spend but nothing booked are groups too (微信广告 spent in 2025-02).
    assert_eq!(months["month=2025-02"], "0.00");
    let total: Decimal = months.values().map(|v| dec(v)).sum();
    assert_eq!(total, dec("505300"));
    // 13 months with entries (2023-06, 2024-06, 2024-12, 2025-01, 2025-03, 2025-05 to
    // 2025-12) and 2 with spend only (2025-02, 2025-04).
    assert_eq!(months.len(), 15, "{months:?}");
}

#[test]
fn net_revenue_by_channel_and_quarter() {
    let k = kpi_of("net_revenue_by_channel_and_quarter");
    // 2025-Q3: 微信广告's customers c04 1500 and c08 -500; 展会活动's c07 15000.
    assert_eq!(k["channel=微信广告, quarter=2025-Q3"], "1000.00");
    assert_eq!(k["channel=展会活动, quarter=2025-Q3"], "15000.00");
    // c06 has no channel.
    assert_eq!(k["channel=(none), quarter=2025-Q1"], "2000.00");
    // 抖音达人投放 spent in 2025-Q2 and acquired nobody.
    assert_eq!(k["channel=抖音达人投放, quarter=2025-Q2"], "0.00");
    let total: Decimal = k.values().map(|v| dec(v)).sum();
    assert_eq!(total, dec("505300"));
}

// ---------------------------------------------------------------- predictive value

#[test]
fn clv_model() {
    let program = standard_program();
    let (name, model) = program.model().expect("the standard pack has a model");
    assert_eq!(name, "clv_model");
    assert_eq!(
        *model,
        ModelDef {
            fit: CountModel::BgNbd,
            spend: SpendModel::Auto,
            unit: ModelUnit::Week,
            calibration_end: None,
            horizon_months: 12,
            monthly_discount: dec("0.01"),
        }
    );
    // The model's predictions are inputs the pack reads.
    for output in ledgerlens_rules::MODEL_OUTPUTS {
        if output != "expected_spend" {
            assert!(program.inputs.contains(output), "{output}");
        }
    }
}

#[test]
fn predicted_clv() {
    assert_eq!(
        column("predicted_clv"),
        expect([
            "null", "14285.71", "17600.00", "3400.00", "1150.00", "3800.00", "10500.00", "740.00"
        ])
    );
}

#[test]
fn predicted_clv_total() {
    // The customers with a prediction (not the lead c01).
    assert_eq!(
        kpi_of("predicted_clv_total"),
        groups(&[("all", "51475.71")])
    );
}

#[test]
fn predicted_clv_by_lifecycle() {
    // churned c02 + c07, regular c06 + c08; the lead c01 has no prediction: no group.
    assert_eq!(
        kpi_of("predicted_clv_by_lifecycle"),
        groups(&[
            ("lifecycle=active", "3400.00"),
            ("lifecycle=churned", "24785.71"),
            ("lifecycle=high-value", "17600.00"),
            ("lifecycle=potential", "1150.00"),
            ("lifecycle=regular", "4540.00"),
        ])
    );
}

#[test]
fn expected_active_customers() {
    // 0.05 + 0.25 + 0.95 + 0.8 + 0.6 + 0.2 + 0.7 = 3.55.
    assert_eq!(
        kpi_of("expected_active_customers"),
        groups(&[("all", "3.6")])
    );
}

#[test]
fn expected_purchases_total() {
    // 0.1 + 0.6 + 7.2 + 1.5 + 2 + 0.5 + 1.1.
    assert_eq!(
        kpi_of("expected_purchases_total"),
        groups(&[("all", "13.0")])
    );
}

#[test]
fn high_value_at_risk() {
    // c03 is high-value with p_alive 0.25; c02 (0.05) is churned already, c07 (0.20) too.
    let rows = alerts(outcome(), "high_value_at_risk");
    assert_eq!(rows.keys().collect::<Vec<_>>(), ["c03"], "{rows:?}");
    assert_eq!(rows["c03"].0, "critical");
}
