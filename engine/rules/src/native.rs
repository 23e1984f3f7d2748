//! The native fast path: most rule expressions (`recency_days > params.churn_days`,
//! `net_revenue >= params.high && tenure_days >= 365`, `gross_margin - cost_to_serve`)
//! are comparisons, arithmetic and logic over a customer's columns. Such an expression is
//! translated once from its Rhai AST into a small tree evaluated directly over the table's
//! columns, with Rhai's semantics (checked arithmetic, exact decimals, `int / int` exact,
//! comparisons of different types false, `??`, short-circuit `&&` / `||`). Anything else
//! (statements, `if`, loops, script functions, other host functions) runs in Rhai. A
//! differential test checks both paths agree on random customers.

use std::cmp::Ordering;

use chrono::{Datelike, NaiveDate};
use rhai::{Dynamic, Expr, ImmutableString, Stmt, AST};
use rust_decimal::Decimal;

use crate::value::{Column, Table, Value};

/// An expression the native evaluator can run, before it is bound to a table.
#[derive(Debug, Clone)]
pub(crate) enum Native {
    Const(Value),
    Var(ImmutableString),
    Not(Box<Native>),
    Neg(Box<Native>),
    And(Vec<Native>),
    Or(Vec<Native>),
    Coalesce(Vec<Native>),
    Bin(Op, Box<Native>, Box<Native>),
    Call(Func, Vec<Native>),
    If(Box<Native>, Box<Native>, Box<Native>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    IsNull,
    DaysBetween,
    MonthsBetween,
    Contains,
}

impl Native {
    /// Translates a compiled expression, if every part of it is supported.
    pub(crate) fn from_ast(ast: &AST, params: &rhai::Map) -> Option<Native> {
        if ast.has_functions() {
            return None;
        }
        match ast.statements() {
            [stmt] => translate_stmt(stmt, params),
            _ => None,
        }
    }

    /// Binds the expression to a table's columns (`None` when it reads a name the table
    /// lacks: Rhai then reports it).
    pub(crate) fn bind<'t>(&self, table: &'t Table, as_of: NaiveDate) -> Option<Bound<'t>> {
        Some(match self {
            Native::Const(v) => Bound::Const(v.clone()),
            Native::Var(name) if name.as_str() == "as_of" => Bound::Const(Value::Date(as_of)),
            Native::Var(name) => Bound::Col(table.column(name)?),
            Native::Not(a) => Bound::Not(Box::new(a.bind(table, as_of)?)),
            Native::Neg(a) => Bound::Neg(Box::new(a.bind(table, as_of)?)),
            Native::And(v) => Bound::And(bind_all(v, table, as_of)?),
            Native::Or(v) => Bound::Or(bind_all(v, table, as_of)?),
            Native::Coalesce(v) => Bound::Coalesce(bind_all(v, table, as_of)?),
            Native::Bin(op, a, b) => Bound::Bin(
                *op,
                Box::new(a.bind(table, as_of)?),
                Box::new(b.bind(table, as_of)?),
            ),
            Native::Call(f, args) => Bound::Call(*f, bind_all(args, table, as_of)?),
            Native::If(c, a, b) => Bound::If(
                Box::new(c.bind(table, as_of)?),
                Box::new(a.bind(table, as_of)?),
                Box::new(b.bind(table, as_of)?),
            ),
        })
    }
}

fn bind_all<'t>(v: &[Native], table: &'t Table, as_of: NaiveDate) -> Option<Vec<Bound<'t>>> {
    v.iter().map(|n| n.bind(table, as_of)).collect()
}

fn constant(d: &Dynamic) -> Option<Native> {
    Value::from_dynamic(d).map(Native::Const)
}

/// A statement that is an expression: an expression, a call, or `if c { a } else { b }`
/// whose branches are expressions (or empty: `()`).
fn translate_stmt(stmt: &Stmt, params: &rhai::Map) -> Option<Native> {
    match stmt {
        Stmt::Expr(e) => translate(e, params),
        Stmt::FnCall(call, _) => translate_call(call, params),
        Stmt::If(flow, _) => Some(Native::If(
            Box::new(translate(&flow.expr, params)?),
            Box::new(translate_block(&flow.body, params)?),
            Box::new(translate_block(&flow.branch, params)?),
        )),
        _ => None,
    }
}

fn translate_block(block: &rhai::StmtBlock, params: &rhai::Map) -> Option<Native> {
    match block.statements() {
        [] => Some(Native::Const(Value::Null)),
        [stmt] => translate_stmt(stmt, params),
        _ => None,
    }
}

fn translate(e: &Expr, params: &rhai::Map) -> Option<Native> {
    Some(match e {
        Expr::BoolConstant(b, _) => Native::Const(Value::Bool(*b)),
        Expr::IntegerConstant(i, _) => Native::Const(Value::Int(*i)),
        Expr::StringConstant(s, _) => Native::Const(Value::Text(s.clone())),
        Expr::Unit(_) => Native::Const(Value::Null),
        Expr::DynamicConstant(d, _) => constant(d)?,
        Expr::Variable(v, _, _) => Native::Var(v.1.clone()),
        Expr::Dot(x, _, _) => match (&x.lhs, &x.rhs) {
            // params.NAME
            (Expr::Variable(v, _, _), Expr::Property(p, _)) if v.1.as_str() == "params" => {
                constant(params.get(p.2.as_str())?)?
            }
            // object.method(args): the object is the first argument.
            (object, Expr::MethodCall(call, _))
                if call.name.as_str() == "contains" && call.args.len() == 1 =>
            {
                Native::Call(
                    Func::Contains,
                    vec![
                        translate(object, params)?,
                        translate(&call.args[0], params)?,
                    ],
                )
            }
            _ => return None,
        },
        Expr::And(v, _) => Native::And(
            v.iter()
                .map(|e| translate(e, params))
                .collect::<Option<_>>()?,
        ),
        Expr::Or(v, _) => Native::Or(
            v.iter()
                .map(|e| translate(e, params))
                .collect::<Option<_>>()?,
        ),
        Expr::Coalesce(v, _) => Native::Coalesce(
            v.iter()
                .map(|e| translate(e, params))
                .collect::<Option<_>>()?,
        ),
        Expr::FnCall(call, _) | Expr::MethodCall(call, _) => translate_call(call, params)?,
        Expr::Stmt(block) => translate_block(block, params)?,
        _ => return None,
    })
}

fn translate_call(call: &rhai::FnCallExpr, params: &rhai::Map) -> Option<Native> {
    let args: Vec<Native> = call
        .args
        .iter()
        .map(|e| translate(e, params))
        .collect::<Option<_>>()?;
    let name = call.name.as_str();
    Some(match (name, args.len()) {
        ("!", 1) => Native::Not(Box::new(args.into_iter().next()?)),
        ("-", 1) => Native::Neg(Box::new(args.into_iter().next()?)),
        (_, 2) if op_of(name).is_some() => {
            let mut it = args.into_iter();
            let (a, b) = (it.next()?, it.next()?);
            Native::Bin(op_of(name)?, Box::new(a), Box::new(b))
        }
        ("is_null", 1) => Native::Call(Func::IsNull, args),
        ("days_between", 2) => Native::Call(Func::DaysBetween, args),
        ("months_between", 2) => Native::Call(Func::MonthsBetween, args),
        ("contains", 2) => Native::Call(Func::Contains, args),
        _ => return None,
    })
}

fn op_of(name: &str) -> Option<Op> {
    Some(match name {
        "+" => Op::Add,
        "-" => Op::Sub,
        "*" => Op::Mul,
        "/" => Op::Div,
        "==" => Op::Eq,
        "!=" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        _ => return None,
    })
}

/// An expression bound to a table's columns.
#[derive(Debug)]
pub(crate) enum Bound<'t> {
    Const(Value),
    Col(&'t Column),
    Not(Box<Bound<'t>>),
    Neg(Box<Bound<'t>>),
    And(Vec<Bound<'t>>),
    Or(Vec<Bound<'t>>),
    Coalesce(Vec<Bound<'t>>),
    Bin(Op, Box<Bound<'t>>, Box<Bound<'t>>),
    Call(Func, Vec<Bound<'t>>),
    If(Box<Bound<'t>>, Box<Bound<'t>>, Box<Bound<'t>>),
}

/// Why a native evaluation has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// An error, as Rhai would raise it (the value becomes null).
    Error(String),
    /// A case the native evaluator leaves to Rhai (this row is evaluated there).
    Unsupported,
}

impl From<String> for Failure {
    fn from(m: String) -> Failure {
        Failure::Error(m)
    }
}

impl Bound<'_> {
    /// The value for one row.
    pub(crate) fn eval(&self, row: usize) -> Result<Value, Failure> {
        match self {
            Bound::Const(v) => Ok(v.clone()),
            Bound::Col(c) => Ok(c.get(row)),
            Bound::Not(a) => match a.eval(row)? {
                Value::Bool(b) => Ok(Value::Bool(!b)),
                _ => Err(Failure::Unsupported),
            },
            Bound::Neg(a) => match a.eval(row)? {
                Value::Int(i) => i
                    .checked_neg()
                    .map(Value::Int)
                    .ok_or_else(|| format!("Negation overflow: -{i}").into()),
                Value::Decimal(d) => Ok(Value::Decimal(-d)),
                _ => Err(Failure::Unsupported),
            },
            Bound::And(v) => {
                for e in v {
                    match e.eval(row)? {
                        Value::Bool(true) => {}
                        Value::Bool(false) => return Ok(Value::Bool(false)),
                        other => {
                            return Err(format!(
                                "Data type incorrect: {} (expecting bool)",
                                type_name(&other)
                            )
                            .into())
                        }
                    }
                }
                Ok(Value::Bool(true))
            }
            Bound::Or(v) => {
                for e in v {
                    match e.eval(row)? {
                        Value::Bool(false) => {}
                        Value::Bool(true) => return Ok(Value::Bool(true)),
                        other => {
                            return Err(format!(
                                "Data type incorrect: {} (expecting bool)",
                                type_name(&other)
                            )
                            .into())
                        }
                    }
                }
                Ok(Value::Bool(false))
            }
            Bound::Coalesce(v) => {
                let mut last = Value::Null;
                for e in v {
                    last = e.eval(row)?;
                    if last != Value::Null {
                        break;
                    }
                }
                Ok(last)
            }
            Bound::Bin(op, a, b) => binary(*op, a.eval(row)?, b.eval(row)?),
            Bound::If(c, a, b) => match c.eval(row)? {
                Value::Bool(true) => a.eval(row),
                Value::Bool(false) => b.eval(row),
                other => Err(format!(
                    "Data type incorrect: {} (expecting bool)",
                    type_name(&other)
                )
                .into()),
            },
            Bound::Call(f, args) => {
                let vals: Vec<Value> =
                    args.iter().map(|a| a.eval(row)).collect::<Result<_, _>>()?;
                call(*f, vals)
            }
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "()",
        Value::Bool(_) => "bool",
        Value::Int(_) => "i64",
        Value::Decimal(_) => "decimal",
        Value::Text(_) => "string",
        Value::Date(_) => "date",
        Value::List(_) => "array",
    }
}

/// Operand types the native evaluator does not handle: Rhai decides (text joins, date
/// arithmetic, registered functions, or its error for a null operand).
fn not_found() -> Failure {
    Failure::Unsupported
}

/// Two numbers as decimals, if both are numbers (and not both ints).
fn decimals(a: &Value, b: &Value) -> Option<(Decimal, Decimal)> {
    match (a, b) {
        (Value::Int(_), Value::Int(_)) => None,
        _ => Some((a.as_decimal()?, b.as_decimal()?)),
    }
}

fn binary(op: Op, a: Value, b: Value) -> Result<Value, Failure> {
    match op {
        Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            Ok(Value::Bool(compare(op, &a, &b)?))
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            if let (Value::Int(x), Value::Int(y)) = (&a, &b) {
                let (x, y) = (*x, *y);
                return match op {
                    Op::Add => x
                        .checked_add(y)
                        .map(Value::Int)
                        .ok_or_else(|| format!("Addition overflow: {x} + {y}").into()),
                    Op::Sub => x
                        .checked_sub(y)
                        .map(Value::Int)
                        .ok_or_else(|| format!("Subtraction overflow: {x} - {y}").into()),
                    Op::Mul => x
                        .checked_mul(y)
                        .map(Value::Int)
                        .ok_or_else(|| format!("Multiplication overflow: {x} * {y}").into()),
                    _ => divide(Decimal::from(x), Decimal::from(y)),
                };
            }
            let Some((x, y)) = decimals(&a, &b) else {
                return Err(not_found());
            };
            match op {
                Op::Add => x
                    .checked_add(y)
                    .map(Value::Decimal)
                    .ok_or_else(|| format!("Addition overflow: {x} + {y}").into()),
                Op::Sub => x
                    .checked_sub(y)
                    .map(Value::Decimal)
                    .ok_or_else(|| format!("Subtraction overflow: {x} - {y}").into()),
                Op::Mul => x
                    .checked_mul(y)
                    .map(Value::Decimal)
                    .ok_or_else(|| format!("Multiplication overflow: {x} * {y}").into()),
                _ => divide(x, y),
            }
        }
    }
}

fn divide(x: Decimal, y: Decimal) -> Result<Value, Failure> {
    if y.is_zero() {
        return Err(format!("Division by zero: {x} / {y}").into());
    }
    x.checked_div(y)
        .map(Value::Decimal)
        .ok_or_else(|| format!("Division overflow: {x} / {y}").into())
}

/// Rhai's comparisons: numbers compare numerically (int with decimal too), texts, dates
/// and booleans among themselves, `()` equals only `()`; values of different types are
/// not equal and not ordered (every comparison false, `!=` true).
fn compare(op: Op, a: &Value, b: &Value) -> Result<bool, Failure> {
    let ord: Option<Ordering> = match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            decimals(a, b).map(|(x, y)| x.cmp(&y))
        }
        (Value::Text(x), Value::Text(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => match op {
            Op::Eq | Op::Ne => Some(x.cmp(y)),
            _ => None,
        },
        (Value::Null, Value::Null) => match op {
            Op::Eq | Op::Ne => Some(Ordering::Equal),
            _ => None,
        },
        _ => None,
    };
    // Lists (and anything else unordered here) compare as Rhai says.
    if ord.is_none() && (matches!(a, Value::List(_)) || matches!(b, Value::List(_))) {
        return Err(Failure::Unsupported);
    }
    Ok(match (op, ord) {
        (Op::Ne, None) => true,
        (_, None) => false,
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        _ => false,
    })
}

fn call(f: Func, args: Vec<Value>) -> Result<Value, Failure> {
    match (f, args.as_slice()) {
        (Func::IsNull, [v]) => Ok(Value::Bool(*v == Value::Null)),
        (Func::DaysBetween, [Value::Date(a), Value::Date(b)]) => {
            Ok(Value::Int((*b - *a).num_days()))
        }
        (Func::MonthsBetween, [Value::Date(a), Value::Date(b)]) => Ok(Value::Int(
            (i64::from(b.year()) * 12 + i64::from(b.month()))
                - (i64::from(a.year()) * 12 + i64::from(a.month())),
        )),
        (Func::Contains, [Value::List(l), Value::Text(t)]) => {
            Ok(Value::Bool(l.iter().any(|x| x == t)))
        }
        (Func::Contains, [Value::Text(s), Value::Text(t)]) => {
            Ok(Value::Bool(s.contains(t.as_str())))
        }
        // Other argument types: Rhai decides.
        _ => Err(Failure::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{self, Frame};
    use crate::value::Type;
    use rhai::Scope;

    /// A small deterministic generator (splitmix64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn table(rows: usize) -> Table {
        let mut rng = Rng(7);
        let mut t = Table::new((0..rows).map(|i| format!("c{i:04}")));
        let mut col = |ty: Type, f: &mut dyn FnMut(&mut Rng) -> Value| {
            let values: Vec<Value> = (0..rows)
                .map(|_| {
                    if rng.below(6) == 0 {
                        Value::Null
                    } else {
                        f(&mut rng)
                    }
                })
                .collect();
            Column::from_values(ty, values)
        };
        let i = col(Type::Int, &mut |r| Value::Int(r.below(7) as i64 - 3));
        let j = col(Type::Int, &mut |r| Value::Int(i64::MAX - r.below(3) as i64));
        let d = col(Type::Decimal, &mut |r| {
            Value::Decimal(Decimal::new(r.below(2001) as i64 - 1000, 2))
        });
        let t_ = col(Type::Text, &mut |r| {
            Value::Text(["a", "b", "微信广告"][r.below(3) as usize].into())
        });
        let dt = col(Type::Date, &mut |r| {
            Value::Date(
                NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default()
                    + chrono::Duration::days(r.below(400) as i64),
            )
        });
        let b = col(Type::Bool, &mut |r| Value::Bool(r.below(2) == 0));
        let l = col(Type::List, &mut |r| {
            Value::List(if r.below(2) == 0 {
                vec!["x".into()]
            } else {
                vec![]
            })
        });
        for (name, c) in [
            ("i", i),
            ("j", j),
            ("d", d),
            ("t", t_),
            ("dt", dt),
            ("b", b),
            ("l", l),
        ] {
            t.insert(name, c);
        }
        t
    }

    const EXPRESSIONS: &[&str] = &[
        "i + 1",
        "i - d",
        "i * d",
        "d * 2.5",
        "i / 2",
        "d / i",
        "i / 0",
        "d / 0.0",
        "j + j",
        "j * 2",
        "-i",
        "-d",
        "!b",
        "i > 2",
        "i >= d",
        "d < 0.5",
        "i == d",
        "i != d",
        "t == \"a\"",
        "t != \"b\"",
        "t < \"b\"",
        "t > i",
        "t == ()",
        "i == ()",
        "() == ()",
        "b == true",
        "b != false",
        "b > true",
        "dt > date(\"2025-06-01\")",
        "dt == dt",
        "dt < i",
        "i > 0 && d > 0",
        "i > 0 || b",
        "b && i > 1",
        "b || i",
        "i ?? 5",
        "d ?? i ?? 0",
        "is_null(i)",
        "is_null(t)",
        "days_between(dt, dt)",
        "months_between(dt, dt)",
        "l.contains(\"x\")",
        "t.contains(\"a\")",
        "t + \"-\"",
        "t + i",
        "i + t",
        "() + t",
        "(i + d) * (d - 1) / 3",
        "i * i * i > d",
        "!(i > 0)",
        "-(i - d)",
        "if i > 0 { d } else { i }",
        "if b { 1 } else if i > 1 { 2 } else { () }",
        "if i { 1 } else { 2 }",
        "if i > 2 { d }",
        "dt + 1",
        "dt - dt",
        "l == l",
        "l != l",
        "l.contains(t)",
        "t + 1.50",
    ];

    #[test]
    fn native_and_rhai_agree() {
        let (engine, _) = sandbox::engine();
        let params = rhai::Map::new();
        let t = table(300);
        let mut compile_scope = Scope::new();
        compile_scope.push_constant("params", params.clone());
        compile_scope.push("as_of", Dynamic::UNIT);
        for (name, _) in t.schema() {
            compile_scope.push(name.to_string(), Dynamic::UNIT);
        }
        let as_of = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default();
        let mut untranslated = Vec::new();
        for src in EXPRESSIONS {
            let ast = engine
                .compile_expression_with_scope(&compile_scope, src)
                .expect(src);
            let Some(native) = Native::from_ast(&ast, &params) else {
                untranslated.push(*src);
                continue;
            };
            let bound = native.bind(&t, as_of).expect("binds");
            let previous = sandbox::set_frame(Frame::Row {
                table: t.clone(),
                row: 0,
                as_of,
            });
            let mut scope = Scope::new();
            scope.push_constant("params", params.clone());
            for row in 0..t.len() {
                sandbox::set_row(row);
                let rhai = engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast);
                match (bound.eval(row), rhai) {
                    (Err(Failure::Unsupported), _) => {}
                    (Ok(n), Ok(r)) => {
                        assert_eq!(Some(n), Value::from_dynamic(&r), "{src} at row {row}")
                    }
                    (Err(Failure::Error(_)), Err(_)) => {}
                    (n, r) => panic!("{src} at row {row}: native {n:?}, rhai {r:?}"),
                }
            }
            sandbox::set_frame(previous);
        }
        // Only the calls of functions the native path does not know stay in Rhai.
        assert_eq!(untranslated, ["dt > date(\"2025-06-01\")"]);
    }
}
