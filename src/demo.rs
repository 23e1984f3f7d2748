//! `ledgerlens demo`: the main job on the bundled demo company, with no setup.
//!
//! The demo company's configuration and exports (examples/demo-company) are compiled into
//! the binary, so the demo runs anywhere: it writes them into a project folder (temporary
//! unless `--out DIR`), ingests every source, computes the features and prints what it
//! found. Everything printed is sorted by a stated key, so the output is a stable snapshot.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context as _};
use rust_decimal::Decimal;
use serde_json::json;

use crate::app::{self, Context};
use crate::output::{Format, Listing};

/// The bundled files: path inside the project, bytes.
const FILES: [(&str, &[u8]); 9] = [
    (
        "ledgerlens.yaml",
        include_bytes!("../examples/demo-company/ledgerlens.yaml"),
    ),
    (
        "data/crm_customers.csv",
        include_bytes!("../examples/demo-company/data/crm_customers.csv"),
    ),
    (
        "data/凭证_2024.csv",
        include_bytes!("../examples/demo-company/data/凭证_2024.csv"),
    ),
    (
        "data/凭证_2025.csv",
        include_bytes!("../examples/demo-company/data/凭证_2025.csv"),
    ),
    (
        "data/marketing_spend.csv",
        include_bytes!("../examples/demo-company/data/marketing_spend.csv"),
    ),
    (
        "data/budgets.csv",
        include_bytes!("../examples/demo-company/data/budgets.csv"),
    ),
    (
        "data/service_tickets.csv",
        include_bytes!("../examples/demo-company/data/service_tickets.csv"),
    ),
    (
        "data/deliveries.csv",
        include_bytes!("../examples/demo-company/data/deliveries.csv"),
    ),
    (
        "data/cost_pools.csv",
        include_bytes!("../examples/demo-company/data/cost_pools.csv"),
    ),
];

/// Runs the demo in `dir` (or a temporary folder).
pub fn run(out: &mut dyn Write, format: Format, dir: Option<&Path>) -> anyhow::Result<()> {
    let temp;
    let project = match dir {
        Some(d) => {
            if d.join(ledgerlens_pipeline::CONFIG_FILE).exists() {
                bail!(
                    "{} already holds a project; choose an empty or new folder for --out",
                    d.display()
                );
            }
            d.to_path_buf()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("ledgerlens-demo")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };
    for (name, bytes) in FILES {
        let path = project.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    crate::init::write_pack(&project)?;
    let ctx = Context::at(Some(&project), None)?;
    let store = ledgerlens_store::Store::open(&ctx.db, &ledgerlens_store::OpenOptions::create())?;
    let reports = app::ingest(&ctx, &store, &[], None)?;
    let as_of = app::data_as_of(&store)?;
    let (rows, _) = ledgerlens_pipeline::customer_features(&store, as_of)?;
    let merges = store.merges()?;
    // The project's client pack (extends the standard pack) over the ledgers.
    let program = crate::rules::load(Some(&ctx), None)?;
    let (outcome, _) =
        ledgerlens_pipeline::run_pack(&store, &program, as_of, crate::report::keep(&store)?)?;
    // The report: in the kept project, else beside the system's temporary files (the
    // temporary project is removed on exit).
    let report = match dir {
        Some(d) => d.join(crate::report::DEFAULT_FILE),
        None => std::env::temp_dir().join("ledgerlens-demo-report.html"),
    };
    crate::report::write(&report, &store, &program, &outcome, "星河优选 (demo)")?;
    let fired: Vec<&ledgerlens_rules::AlertRow> = outcome
        .alerts
        .iter()
        .filter(|a| a.level > ledgerlens_rules::Level::Ok)
        .collect();
    // Overall KPIs and the marketing ones by channel and campaign (those with a value):
    // what a first look needs.
    let top_kpis: Vec<&ledgerlens_rules::KpiValue> = outcome
        .kpis
        .iter()
        .filter(|k| {
            k.group.is_empty()
                || matches!(k.kpi.as_str(), "channel_roi" | "cac")
                || (matches!(
                    k.kpi.as_str(),
                    "campaign_roi" | "campaign_cac" | "campaign_spend_deviation"
                ) && k.value != ledgerlens_rules::Value::Null)
        })
        .collect();

    if format == Format::Json {
        let top = top_customers(&rows, 10);
        let v = json!({
            "ingest": app::summarize(&reports),
            "as_of": as_of,
            "portfolio": app::portfolio(&store, as_of)?,
            "merges": merges.len(),
            "top_customers": top,
            "pack": {"name": program.name, "version": program.version, "chain": program.chain},
            "segments": outcome.segments,
            "kpis": top_kpis,
            "alerts": fired,
            "report": report,
        });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }

    writeln!(
        out,
        "ledgerlens demo: 星河优选 (synthetic tea and gift seller, Hangzhou), 2024-2025"
    )?;
    match dir {
        Some(d) => writeln!(
            out,
            "project: {} (explore it with `ledgerlens --project {} customers`)",
            d.display(),
            d.display()
        )?,
        None => writeln!(
            out,
            "project: a temporary folder, removed on exit (keep it with `demo --out DIR`)"
        )?,
    }
    writeln!(out, "\n== import")?;
    app::write_ingest(out, Format::Table, &reports)?;

    writeln!(
        out,
        "\n== identity: {} source codes linked to existing customers",
        merges.len()
    )?;
    let mut by_rule = std::collections::BTreeMap::<&str, usize>::new();
    for m in &merges {
        *by_rule.entry(m.rule.as_str()).or_default() += 1;
    }
    for (rule, n) in &by_rule {
        writeln!(out, "  by {rule}: {n}")?;
    }
    for m in merges
        .iter()
        .filter(|m| {
            let code_name = rows
                .iter()
                .find(|(c, _)| c.id.as_str() == m.customer)
                .and_then(|(c, _)| c.name.clone());
            code_name.is_some_and(|n| n != m.evidence)
        })
        .take(3)
    {
        writeln!(
            out,
            "  e.g. {}:{} -> {} (name key '{}')",
            m.system, m.code, m.customer, m.evidence
        )?;
    }

    let p = app::portfolio(&store, as_of)?;
    writeln!(out, "\n== features as of {as_of} (the latest entry date)")?;
    writeln!(
        out,
        "  customers {}, buyers {}, orders {}",
        p.customers, p.buyers, p.orders
    )?;
    writeln!(
        out,
        "  revenue {}, refunds {}, net revenue {}",
        p.revenue, p.refunds, p.net_revenue
    )?;
    writeln!(
        out,
        "  gross margin {}, receivables outstanding {}",
        p.gross_margin, p.receivables
    )?;

    writeln!(out, "\n== top 10 customers by net revenue (ties by id)")?;
    Listing {
        columns: vec![
            "customer",
            "name",
            "channel",
            "net_revenue",
            "orders",
            "recency_days",
            "refund_rate",
            "receivables",
        ],
        rows: top_customers(&rows, 10),
    }
    .write(out, Format::Table)?;

    writeln!(
        out,
        "\n== over their credit limit (receivables > credit limit, by excess)"
    )?;
    let mut over: Vec<_> = rows
        .iter()
        .filter_map(|(c, f)| {
            let limit = c.credit_limit?;
            (f.receivables > limit).then(|| (f.receivables - limit, c, f))
        })
        .collect();
    over.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    let over_rows: Vec<_> = over
        .iter()
        .map(|(excess, c, f)| json!({"customer": c.id, "name": c.name, "credit_limit": c.credit_limit, "receivables": f.receivables, "excess": excess}))
        .collect();
    Listing {
        columns: vec!["customer", "name", "credit_limit", "receivables", "excess"],
        rows: over_rows,
    }
    .write(out, Format::Table)?;

    writeln!(
        out,
        "\n== highest refund rates (at least 3 orders; by rate, then id)"
    )?;
    let mut refunds: Vec<_> = rows
        .iter()
        .filter(|(_, f)| f.orders >= 3 && f.refund_rate.is_some_and(|r| r > Decimal::ZERO))
        .collect();
    refunds.sort_by(|a, b| {
        b.1.refund_rate
            .cmp(&a.1.refund_rate)
            .then(a.0.id.cmp(&b.0.id))
    });
    let refund_rows: Vec<_> = refunds
        .iter()
        .take(5)
        .map(|(c, f)| json!({"customer": c.id, "name": c.name, "revenue": f.revenue, "refunds": f.refunds, "refund_rate": f.refund_rate}))
        .collect();
    Listing {
        columns: vec!["customer", "name", "revenue", "refunds", "refund_rate"],
        rows: refund_rows,
    }
    .write(out, Format::Table)?;
    writeln!(
        out,
        "\n== rule pack {} version {} ({}): segment sizes",
        program.name,
        program.version,
        program.chain.join(" <- ")
    )?;
    Listing::of(
        &["segment", "label", "customers", "action"],
        &outcome.segments,
    )?
    .write(out, Format::Table)?;
    writeln!(
        out,
        "\n== key KPIs (overall; ROI and CAC by acquisition channel and campaign)"
    )?;
    crate::rules::kpi_listing(top_kpis.iter().copied()).write(out, Format::Table)?;
    writeln!(
        out,
        "\n== alerts that fired ({}; by alert, then subject; `run` lists them all)",
        fired.len()
    )?;
    let (shown, per_alert) = crate::rules::fired_alerts(&outcome, 5);
    Listing::of(&["alert", "subject", "level", "value", "threshold"], &shown)?
        .write(out, Format::Table)?;
    for (alert, n) in per_alert.iter().filter(|(_, n)| **n > 5) {
        writeln!(out, "... {alert}: {n} in all")?;
    }
    writeln!(out, "\n== report: {}", report.display())?;
    match dir {
        Some(d) => writeln!(out, "\nnext: `ledgerlens --project {} customers`, `customer ID`, `quarantine`, `merges`, `stats`, `run`, `explain ID`.", d.display())?,
        None => writeln!(out, "\nnext: `ledgerlens demo --out demo` keeps the project; then `ledgerlens --project demo customers`, `customer ID`, `quarantine`, `merges`, `stats`, `run`, `explain ID`.")?,
    }
    Ok(())
}

fn top_customers(
    rows: &[(ledgerlens_model::Customer, ledgerlens_pipeline::Features)],
    n: usize,
) -> Vec<serde_json::Value> {
    let mut sorted: Vec<_> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        b.1.net_revenue
            .cmp(&a.1.net_revenue)
            .then(a.0.id.cmp(&b.0.id))
    });
    sorted
        .into_iter()
        .take(n)
        .map(|(c, f)| {
            json!({
                "customer": c.id, "name": c.name, "channel": c.channel, "net_revenue": f.net_revenue,
                "orders": f.orders, "recency_days": f.recency_days, "refund_rate": f.refund_rate,
                "receivables": f.receivables,
            })
        })
        .collect()
}
