//! The one place that builds the Rhai engine, and the host functions scripts may call.
//!
//! The engine starts raw (no packages) and gets only what rules need: the language core,
//! logic, arithmetic (with exact decimals), math, strings, arrays, maps and ranges. There
//! is no `import` (the crate is built without modules, so no script reaches a file), no
//! `eval`, no `print` to the terminal, and no clock. Every evaluation is bounded by the
//! limits below; a script that exceeds one fails with an error naming the limit.
//!
//! Number literals with a decimal point are exact decimals (`0.1 + 0.2 == 0.3`), and `/`
//! between two whole numbers is exact decimal division (`7 / 2 == 3.5`), so an analyst's
//! `orders / 12` means what it says. Dividing by zero is an error, which rules turn into
//! an explicit null with a diagnostic.

use std::cell::RefCell;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
    BasicStringPackage, CorePackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Position, INT};
use rust_decimal::prelude::*;
use serde::Serialize;

use crate::facts::{Facts, GroupKeys};
use crate::value::Table;

/// Most operations one evaluation (one customer, one group) may perform.
pub const MAX_OPERATIONS: u64 = 1_000_000;
/// Deepest function call nesting.
pub const MAX_CALL_LEVELS: usize = 32;
/// Deepest expression nesting (top level, inside functions).
pub const MAX_EXPR_DEPTH: (usize, usize) = (64, 32);
/// Longest string, in bytes.
pub const MAX_STRING_SIZE: usize = 10_000;
/// Largest array.
pub const MAX_ARRAY_SIZE: usize = 10_000;
/// Largest object map.
pub const MAX_MAP_SIZE: usize = 1_000;

/// A host function as `ledgerlens functions` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FunctionDoc {
    /// Group: `dates`, `numbers`, `nulls`, `facts`, `text`.
    pub group: &'static str,
    /// Signature (`days_between(from: date, to: date) -> int`).
    pub signature: &'static str,
    /// What it does.
    pub description: &'static str,
    /// An expression using it (tests evaluate every one).
    pub example: &'static str,
}

/// What an evaluation on this thread sees: one customer's row, or one KPI group.
pub(crate) enum Frame {
    /// No evaluation under way.
    None,
    /// A customer: the table and the row.
    Row {
        table: Table,
        row: usize,
        as_of: NaiveDate,
    },
    /// A KPI group: its aggregate values, keys and the facts.
    Group {
        vars: Vec<(ImmutableString, Dynamic)>,
        keys: GroupKeys,
        facts: Arc<Facts>,
        as_of: NaiveDate,
    },
}

thread_local! {
    static FRAME: RefCell<Frame> = const { RefCell::new(Frame::None) };
}

/// Sets this thread's frame (returns the previous one).
pub(crate) fn set_frame(frame: Frame) -> Frame {
    FRAME.with(|f| std::mem::replace(&mut *f.borrow_mut(), frame))
}

/// Moves this thread's row frame to another row (cheaper than [`set_frame`]).
pub(crate) fn set_row(to: usize) {
    FRAME.with(|f| {
        if let Frame::Row { row, .. } = &mut *f.borrow_mut() {
            *row = to;
        }
    });
}

fn lookup(name: &str) -> Option<Dynamic> {
    FRAME.with(|f| match &*f.borrow() {
        Frame::None => None,
        Frame::Row { table, row, as_of } => {
            if name == "as_of" {
                return Some(Dynamic::from(*as_of));
            }
            table.column(name).map(|c| c.dynamic(*row))
        }
        Frame::Group { vars, as_of, .. } => {
            if name == "as_of" {
                return Some(Dynamic::from(*as_of));
            }
            vars.iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(_, v)| v.clone())
        }
    })
}

fn with_group<T>(f: impl FnOnce(&GroupKeys, &Facts) -> T) -> Result<T, Box<EvalAltResult>> {
    FRAME.with(|frame| match &*frame.borrow() {
        Frame::Group { keys, facts, .. } => Ok(f(keys, facts)),
        _ => Err("spend() and budget() are available in KPI formulas only".into()),
    })
}

/// Builds the sandboxed engine, with the host functions; returns it with their docs.
pub fn engine() -> (Engine, Vec<FunctionDoc>) {
    let mut e = Engine::new_raw();
    e.register_global_module(CorePackage::new().as_shared_module());
    e.register_global_module(LogicPackage::new().as_shared_module());
    e.register_global_module(ArithmeticPackage::new().as_shared_module());
    e.register_global_module(BasicMathPackage::new().as_shared_module());
    e.register_global_module(BasicStringPackage::new().as_shared_module());
    e.register_global_module(MoreStringPackage::new().as_shared_module());
    e.register_global_module(BasicArrayPackage::new().as_shared_module());
    e.register_global_module(BasicMapPackage::new().as_shared_module());
    e.register_global_module(BasicIteratorPackage::new().as_shared_module());
    e.set_strict_variables(true);
    e.set_max_operations(MAX_OPERATIONS);
    e.set_max_call_levels(MAX_CALL_LEVELS);
    e.set_max_expr_depths(MAX_EXPR_DEPTH.0, MAX_EXPR_DEPTH.1);
    e.set_max_string_size(MAX_STRING_SIZE);
    e.set_max_array_size(MAX_ARRAY_SIZE);
    e.set_max_map_size(MAX_MAP_SIZE);
    e.disable_symbol("eval");
    e.on_print(|_| {});
    e.on_debug(|_, _, _| {});
    // Registered operators (int / int) must win over the built-in ones.
    e.set_fast_operators(false);
    #[allow(deprecated)] // on_var is marked volatile, not going away
    e.on_var(|name, index, context| {
        // A script's own variables and function arguments shadow customer values.
        if index > 0 || context.scope().contains(name) {
            return Ok(None);
        }
        Ok(lookup(name))
    });
    // `params.misspelt` is an error, not a silent ().
    e.set_fail_on_invalid_map_property(true);
    let mut docs = Vec::new();
    register(&mut e, &mut docs);
    docs.sort();
    (e, docs)
}

macro_rules! host {
    ($engine:expr, $docs:expr, $group:literal, $sig:literal, $desc:literal, $example:literal, $name:literal, $f:expr) => {{
        $engine.register_fn($name, $f);
        $docs.push(FunctionDoc {
            group: $group,
            signature: $sig,
            description: $desc,
            example: $example,
        });
    }};
}

fn err(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), Position::NONE).into()
}

fn exact_div(a: Decimal, b: Decimal) -> Result<Decimal, Box<EvalAltResult>> {
    if b.is_zero() {
        return Err(EvalAltResult::ErrorArithmetic(
            format!("Division by zero: {a} / {b}"),
            Position::NONE,
        )
        .into());
    }
    a.checked_div(b)
        .ok_or_else(|| err(format!("{a} / {b} overflows")))
}

fn register(e: &mut Engine, docs: &mut Vec<FunctionDoc>) {
    // Numbers.
    host!(e, docs, "numbers", "int / int -> decimal",
        "Exact division of whole numbers: 7 / 2 == 3.5 (dividing by zero is an error: the value becomes null).",
        "7 / 2",
        "/", |a: INT, b: INT| exact_div(Decimal::from(a), Decimal::from(b)));
    // `x /= y` on whole numbers too: Rhai's built-in would divide whole numbers; the
    // variable becomes a decimal.
    e.register_fn(
        "/=",
        |x: &mut Dynamic, b: INT| -> Result<(), Box<EvalAltResult>> {
            let a = match x.as_int() {
                Ok(a) => Decimal::from(a),
                // As Rhai says it: no `/=` for this type (a defect of the rule, unless
                // the value is null).
                Err(_) => x.as_decimal().map_err(|t| {
                    EvalAltResult::ErrorFunctionNotFound(format!("/= ({t}, i64)"), Position::NONE)
                })?,
            };
            *x = Dynamic::from_decimal(exact_div(a, Decimal::from(b))?);
            Ok(())
        },
    );
    host!(
        e,
        docs,
        "numbers",
        "round_money(x: decimal, places: int) -> decimal",
        "Rounds half away from zero (四舍五入), as invoices do: round_money(2.345, 2) == 2.35.",
        "round_money(2.345, 2)",
        "round_money",
        |x: Decimal, dp: INT| x.round_dp_with_strategy(
            dp.clamp(0, 28) as u32,
            RoundingStrategy::MidpointAwayFromZero
        )
    );
    host!(
        e,
        docs,
        "numbers",
        "to_decimal(x: int) -> decimal",
        "The whole number as a decimal.",
        "to_decimal(3)",
        "to_decimal",
        |x: INT| Decimal::from(x)
    );
    host!(
        e,
        docs,
        "numbers",
        "percent(part: decimal, whole: decimal) -> decimal",
        "part / whole x 100, to 2 places (an error, hence null, when whole is 0).",
        "percent(12.5, 50.0)",
        "percent",
        |a: Decimal, b: Decimal| exact_div(a * Decimal::ONE_HUNDRED, b).map(|d| d.round_dp(2))
    );
    e.register_fn("percent", |a: INT, b: INT| {
        exact_div(Decimal::from(a * 100), Decimal::from(b)).map(|d| d.round_dp(2))
    });
    e.register_fn("percent", |a: Decimal, b: INT| {
        exact_div(a * Decimal::ONE_HUNDRED, Decimal::from(b)).map(|d| d.round_dp(2))
    });
    e.register_fn("percent", |a: INT, b: Decimal| {
        exact_div(Decimal::from(a) * Decimal::ONE_HUNDRED, b).map(|d| d.round_dp(2))
    });
    e.register_fn("round_money", |x: INT, _dp: INT| Decimal::from(x));

    // Nulls.
    host!(e, docs, "nulls", "is_null(x) -> bool",
        "Whether x has no value (a customer without purchases has no last_purchase). `x ?? y` gives y when x is null.",
        "is_null(())",
        "is_null", |x: Dynamic| x.is_unit());

    // Dates.
    e.register_type_with_name::<NaiveDate>("date");
    e.register_fn("to_string", |d: &mut NaiveDate| d.to_string());
    e.register_fn("to_debug", |d: &mut NaiveDate| d.to_string());
    e.register_fn("==", |a: NaiveDate, b: NaiveDate| a == b);
    e.register_fn("!=", |a: NaiveDate, b: NaiveDate| a != b);
    e.register_fn("<", |a: NaiveDate, b: NaiveDate| a < b);
    e.register_fn("<=", |a: NaiveDate, b: NaiveDate| a <= b);
    e.register_fn(">", |a: NaiveDate, b: NaiveDate| a > b);
    e.register_fn(">=", |a: NaiveDate, b: NaiveDate| a >= b);
    host!(
        e,
        docs,
        "dates",
        "date - date -> int",
        "Days from the second date to the first.",
        "date(\"2025-03-01\") - date(\"2025-01-01\")",
        "-",
        |a: NaiveDate, b: NaiveDate| (a - b).num_days()
    );
    host!(
        e,
        docs,
        "dates",
        "date + int -> date",
        "The date that many days later (earlier when negative).",
        "date(\"2025-01-31\") + 30",
        "+",
        |a: NaiveDate, n: INT| a
            .checked_add_signed(chrono::Duration::days(n))
            .ok_or_else(|| err(format!("{a} + {n} days is out of range")))
    );
    host!(
        e,
        docs,
        "dates",
        "date(text) -> date",
        "A date from YYYY-MM-DD: date(\"2025-01-31\").",
        "date(\"2025-01-31\")",
        "date",
        |s: &str| s
            .parse::<NaiveDate>()
            .map_err(|_| err(format!("{s:?} is not a date (YYYY-MM-DD)")))
    );
    host!(
        e,
        docs,
        "dates",
        "days_between(from: date, to: date) -> int",
        "Days from `from` to `to` (negative when `to` is earlier).",
        "days_between(date(\"2025-01-01\"), date(\"2025-03-01\"))",
        "days_between",
        |a: NaiveDate, b: NaiveDate| (b - a).num_days()
    );
    host!(
        e,
        docs,
        "dates",
        "months_between(from: date, to: date) -> int",
        "Calendar months from `from`'s month to `to`'s month (2025-01-31 to 2025-02-01 is 1).",
        "months_between(date(\"2025-01-15\"), date(\"2025-12-01\"))",
        "months_between",
        |a: NaiveDate, b: NaiveDate| (b.year() as INT * 12 + b.month() as INT)
            - (a.year() as INT * 12 + a.month() as INT)
    );
    host!(
        e,
        docs,
        "dates",
        "year(d: date) -> int",
        "The year.",
        "year(date(\"2025-08-15\"))",
        "year",
        |d: NaiveDate| d.year() as INT
    );
    host!(
        e,
        docs,
        "dates",
        "month(d: date) -> int",
        "The month, 1-12.",
        "month(date(\"2025-08-15\"))",
        "month",
        |d: NaiveDate| d.month() as INT
    );
    host!(
        e,
        docs,
        "dates",
        "quarter(d: date) -> int",
        "The quarter, 1-4.",
        "quarter(date(\"2025-08-15\"))",
        "quarter",
        |d: NaiveDate| d.month0() as INT / 3 + 1
    );
    host!(
        e,
        docs,
        "dates",
        "month_of(d: date) -> text",
        "The month as a period: \"2025-03\".",
        "month_of(date(\"2025-08-15\"))",
        "month_of",
        |d: NaiveDate| format!("{}-{:02}", d.year(), d.month())
    );
    host!(
        e,
        docs,
        "dates",
        "quarter_of(d: date) -> text",
        "The quarter as a period: \"2025-Q1\".",
        "quarter_of(date(\"2025-08-15\"))",
        "quarter_of",
        |d: NaiveDate| format!("{}-Q{}", d.year(), d.month0() / 3 + 1)
    );
    docs.push(FunctionDoc {
        group: "dates",
        signature: "as_of -> date",
        description: "The run's as-of date, a variable.",
        example: "days_between(first_purchase, as_of)",
    });

    // Text.
    host!(e, docs, "text", "contains(list_or_text, item: text) -> bool",
        "Whether a list (tags, the labels of a collect segment) holds an item, or a text contains a piece: tags.contains(\"vip\").",
        "[\"vip\", \"b2b\"].contains(\"vip\")",
        "contains", |list: rhai::Array, item: &str| list.iter().any(|x| x.read_lock::<ImmutableString>().is_some_and(|s| s.as_str() == item)));

    // Facts, in KPI formulas.
    host!(e, docs, "facts", "spend() -> decimal",
        "In a KPI formula: marketing spend matching the group's keys (channel, campaign, month / quarter / year); all spend when the KPI has no such key.",
        "spend()",
        "spend", || with_group(|keys, facts| facts.spend(keys)));
    host!(
        e,
        docs,
        "facts",
        "spend(channel: text) -> decimal",
        "Marketing spend of one channel (within the group's period, if any).",
        "spend(\"微信广告\")",
        "spend",
        |channel: &str| with_group(|keys, facts| facts.spend(&keys.with("channel", channel)))
    );
    host!(e, docs, "facts", "budget() -> decimal or null",
        "In a KPI formula: the budget for the group's key (channel, campaign or department) and period; null (with a diagnostic) when none was set.",
        "budget()",
        "budget", || with_group(|keys, facts| facts.budget(keys).map_or(Dynamic::UNIT, Dynamic::from_decimal)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        let (e, _) = engine();
        e.eval::<Dynamic>(src)
    }

    #[test]
    fn money_is_exact() {
        assert!(eval("0.1 + 0.2 == 0.3")
            .expect("eval")
            .as_bool()
            .expect("bool"));
        assert_eq!(
            eval("7 / 2").expect("eval").as_decimal(),
            Ok(Decimal::new(35, 1))
        );
        assert_eq!(
            eval("round_money(2.345, 2)").expect("eval").as_decimal(),
            Ok(Decimal::new(235, 2))
        );
        assert!(eval("1 / 0").is_err());
        assert!(eval("1.5 / 0").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(
            eval("days_between(date(\"2025-01-01\"), date(\"2025-03-01\"))")
                .expect("eval")
                .as_int(),
            Ok(59)
        );
        assert_eq!(
            eval("quarter_of(date(\"2025-08-15\"))")
                .expect("eval")
                .into_string(),
            Ok("2025-Q3".into())
        );
        assert!(eval("date(\"2025-02-30\")").is_err());
    }

    #[test]
    fn sandbox_limits_hold() {
        let loop_forever = eval("let x = 0; loop { x += 1; }").expect_err("stopped");
        assert!(matches!(
            *loop_forever,
            EvalAltResult::ErrorTooManyOperations(_)
        ));
        let deep = eval("fn f(n) { f(n + 1) } f(0)").expect_err("stopped");
        assert!(
            matches!(*deep, EvalAltResult::ErrorStackOverflow(_))
                || matches!(*deep, EvalAltResult::ErrorInFunctionCall(..)),
            "{deep:?}"
        );
        let huge = eval("let s = \"x\"; loop { s += s; }").expect_err("stopped");
        assert!(
            matches!(*huge, EvalAltResult::ErrorDataTooLarge(..)),
            "{huge:?}"
        );
        assert!(eval("eval(\"1\")").is_err());
        assert!(eval("timestamp()").is_err());
    }

    #[test]
    fn every_documented_example_runs() {
        let (e, docs) = engine();
        for d in docs.iter().filter(|d| d.signature != "as_of -> date") {
            match e.eval_expression::<Dynamic>(d.example) {
                Ok(_) => {}
                // Facts need a KPI group; that they say so shows they exist.
                Err(err) if d.group == "facts" => {
                    assert!(
                        err.to_string().contains("KPI formulas only"),
                        "{}: {err}",
                        d.example
                    )
                }
                Err(err) => panic!("{}: {err}", d.example),
            }
        }
    }
}
