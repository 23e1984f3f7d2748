//! The native fast path: most rule expressions (`recency_days > params.churn_days`,
//! `net_revenue >= params.high && tenure_days >= 365`, `gross_margin - cost_to_serve`)
//! are comparisons, arithmetic and logic over a customer's columns. Such an expression is
//! translated once from its Rhai AST into a small tree evaluated directly over the table's
//! columns, with Rhai's semantics (checked arithmetic, exact decimals, `int / int` exact,
//! comparisons of different types false, `??`, short-circuit `&&` / `||`). Anything else
//! (statements, `if`, loops, script functions, other host functions) runs in Rhai. A
//! differential test checks both paths agree on random customers.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::ops::Range;

use chrono::{Datelike, NaiveDate};
use rhai::{Dynamic, Expr, ImmutableString, Stmt, AST};
use rust_decimal::Decimal;

use crate::value::{Column, Table, Type, Value, NO_TEXT};

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
    QuarterOf,
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
        ("quarter_of", 1) => Native::Call(Func::QuarterOf, args),
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

/// The values of an expression over a range of rows (a chunk), column at a time.
#[derive(Debug)]
pub(crate) struct Chunk<'t> {
    /// One value per row of the chunk (null where the row failed).
    pub(crate) values: Vector<'t>,
    /// The rows (offsets into the chunk, increasing) without a value, and why.
    pub(crate) fails: Vec<(usize, Failure)>,
}

/// A chunk's values: typed where every row has one type (null included).
#[derive(Debug, Clone)]
pub(crate) enum Vector<'t> {
    /// One value for every row, and how many rows.
    Const(Value, usize),
    /// Booleans.
    Bool(Cow<'t, [Option<bool>]>),
    /// Whole numbers.
    Int(Cow<'t, [Option<i64>]>),
    /// Decimals.
    Decimal(Cow<'t, [Option<Decimal>]>),
    /// Dates.
    Date(Cow<'t, [Option<NaiveDate>]>),
    /// Texts: codes into a column's dictionary (`NO_TEXT` is null).
    Text(&'t [u32], &'t [ImmutableString]),
    /// Anything else (lists, mixed types), row by row.
    Values(Vec<Value>),
}

impl Vector<'_> {
    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        match self {
            Vector::Const(_, n) => *n,
            Vector::Bool(v) => v.len(),
            Vector::Int(v) => v.len(),
            Vector::Decimal(v) => v.len(),
            Vector::Date(v) => v.len(),
            Vector::Text(v, _) => v.len(),
            Vector::Values(v) => v.len(),
        }
    }

    /// The value of a row.
    pub(crate) fn get(&self, i: usize) -> Value {
        match self {
            Vector::Const(v, _) => v.clone(),
            Vector::Bool(v) => v[i].map_or(Value::Null, Value::Bool),
            Vector::Int(v) => v[i].map_or(Value::Null, Value::Int),
            Vector::Decimal(v) => v[i].map_or(Value::Null, Value::Decimal),
            Vector::Date(v) => v[i].map_or(Value::Null, Value::Date),
            Vector::Text(v, dict) => match v[i] {
                NO_TEXT => Value::Null,
                c => Value::Text(dict[c as usize].clone()),
            },
            Vector::Values(v) => v[i].clone(),
        }
    }

    /// Whether a row is null.
    fn is_null(&self, i: usize) -> bool {
        match self {
            Vector::Const(v, _) => *v == Value::Null,
            Vector::Bool(v) => v[i].is_none(),
            Vector::Int(v) => v[i].is_none(),
            Vector::Decimal(v) => v[i].is_none(),
            Vector::Date(v) => v[i].is_none(),
            Vector::Text(v, _) => v[i] == NO_TEXT,
            Vector::Values(v) => v[i] == Value::Null,
        }
    }

    /// A row's boolean: `Ok(b)`, or `Err` with the type name of a value that is not one.
    fn truth(&self, i: usize) -> Result<bool, &'static str> {
        match self {
            Vector::Bool(v) => v[i].ok_or("()"),
            other => match other.get(i) {
                Value::Bool(b) => Ok(b),
                v => Err(type_name(&v)),
            },
        }
    }

    /// Values typed when they all have one type (nulls aside).
    fn from_values(values: Vec<Value>) -> Vector<'static> {
        let mut ty = None;
        for v in &values {
            match (ty, v.type_of()) {
                (_, None) => {}
                (None, Some(t)) => ty = Some(t),
                (Some(a), Some(b)) if a == b => {}
                _ => return Vector::Values(values),
            }
        }
        macro_rules! typed {
            ($variant:ident) => {
                Vector::$variant(Cow::Owned(
                    values
                        .into_iter()
                        .map(|v| match v {
                            Value::$variant(x) => Some(x),
                            _ => None,
                        })
                        .collect(),
                ))
            };
        }
        match ty {
            None => Vector::Const(Value::Null, values.len()),
            Some(Type::Bool) => typed!(Bool),
            Some(Type::Int) => typed!(Int),
            Some(Type::Decimal) => typed!(Decimal),
            Some(Type::Date) => typed!(Date),
            Some(Type::Text | Type::List) => Vector::Values(values),
        }
    }

    /// The rows as numbers, if they are (nulls included).
    fn num(&self) -> Option<Num<'_>> {
        Some(match self {
            Vector::Int(v) => Num::Int(v),
            Vector::Decimal(v) => Num::Dec(v),
            Vector::Const(Value::Int(i), _) => Num::ConstInt(*i),
            Vector::Const(Value::Decimal(d), _) => Num::ConstDec(*d),
            Vector::Const(Value::Null, _) => Num::Null,
            _ => return None,
        })
    }

    /// The rows as dates, if they are (nulls included).
    fn dates(&self) -> Option<Dates<'_>> {
        Some(match self {
            Vector::Date(v) => Dates::Many(v),
            Vector::Const(Value::Date(d), _) => Dates::Const(Some(*d)),
            Vector::Const(Value::Null, _) => Dates::Const(None),
            _ => return None,
        })
    }
}

/// A number of a row.
#[derive(Clone, Copy)]
enum N {
    I(i64),
    D(Decimal),
}

impl N {
    fn decimal(self) -> Decimal {
        match self {
            N::I(i) => Decimal::from(i),
            N::D(d) => d,
        }
    }
}

/// A numeric vector, borrowed.
enum Num<'a> {
    Int(&'a [Option<i64>]),
    Dec(&'a [Option<Decimal>]),
    ConstInt(i64),
    ConstDec(Decimal),
    Null,
}

impl Num<'_> {
    #[inline]
    fn at(&self, i: usize) -> Option<N> {
        match self {
            Num::Int(v) => v[i].map(N::I),
            Num::Dec(v) => v[i].map(N::D),
            Num::ConstInt(x) => Some(N::I(*x)),
            Num::ConstDec(x) => Some(N::D(*x)),
            Num::Null => None,
        }
    }
}

/// A date vector, borrowed.
enum Dates<'a> {
    Many(&'a [Option<NaiveDate>]),
    Const(Option<NaiveDate>),
}

impl Dates<'_> {
    #[inline]
    fn at(&self, i: usize) -> Option<NaiveDate> {
        match self {
            Dates::Many(v) => v[i],
            Dates::Const(d) => *d,
        }
    }
}

impl Chunk<'_> {
    /// Why a row has no value, if it has none.
    pub(crate) fn failure(&self, i: usize) -> Option<&Failure> {
        if self.fails.is_empty() {
            return None;
        }
        self.fails
            .binary_search_by_key(&i, |f| f.0)
            .ok()
            .map(|k| &self.fails[k].1)
    }
}

/// Failure lists merged by row; for a row in several, the earlier list's failure wins
/// (the operand evaluated first).
fn merge_fails(lists: Vec<Vec<(usize, Failure)>>) -> Vec<(usize, Failure)> {
    let mut lists: Vec<Vec<(usize, Failure)>> =
        lists.into_iter().filter(|l| !l.is_empty()).collect();
    match lists.len() {
        0 => Vec::new(),
        1 => lists.pop().unwrap_or_default(),
        _ => {
            let mut all: Vec<(usize, usize, Failure)> = lists
                .into_iter()
                .enumerate()
                .flat_map(|(k, l)| l.into_iter().map(move |(row, f)| (row, k, f)))
                .collect();
            all.sort_by_key(|x| (x.0, x.1));
            all.dedup_by_key(|x| x.0);
            all.into_iter().map(|(row, _, f)| (row, f)).collect()
        }
    }
}

/// Whether row `i` is one a mask asks for (no mask: every row).
#[inline]
fn wanted(mask: Option<&[bool]>, i: usize) -> bool {
    mask.is_none_or(|m| m[i])
}

/// Values and failures of rows computed one by one (rows outside the mask are null);
/// `prior` failures (of operands) win over the rows' own.
fn row_by_row<'t>(
    n: usize,
    prior: Vec<(usize, Failure)>,
    mask: Option<&[bool]>,
    mut f: impl FnMut(usize) -> Result<Value, Failure>,
) -> Chunk<'t> {
    let mut values = Vec::with_capacity(n);
    let mut own = Vec::new();
    let mut next_prior = prior.iter().map(|p| p.0).peekable();
    for i in 0..n {
        if next_prior.next_if_eq(&i).is_some() || !wanted(mask, i) {
            values.push(Value::Null);
            continue;
        }
        match f(i) {
            Ok(v) => values.push(v),
            Err(e) => {
                values.push(Value::Null);
                own.push((i, e));
            }
        }
    }
    Chunk {
        values: Vector::from_values(values),
        fails: merge_fails(vec![prior, own]),
    }
}

/// Typed values of rows computed one by one (`None` is null; rows outside the mask are
/// null), with their own failures merged after the operands' (`prior`), whose rows are
/// not computed.
fn typed_rows<T: Clone>(
    n: usize,
    prior: Vec<(usize, Failure)>,
    mask: Option<&[bool]>,
    mut f: impl FnMut(usize) -> Result<Option<T>, Failure>,
) -> (Vec<Option<T>>, Vec<(usize, Failure)>) {
    let mut values = Vec::with_capacity(n);
    let mut own = Vec::new();
    if prior.is_empty() && mask.is_none() {
        for i in 0..n {
            match f(i) {
                Ok(v) => values.push(v),
                Err(e) => {
                    values.push(None);
                    own.push((i, e));
                }
            }
        }
        return (values, own);
    }
    let mut next_prior = prior.iter().map(|p| p.0).peekable();
    for i in 0..n {
        if next_prior.next_if_eq(&i).is_some() || !wanted(mask, i) {
            values.push(None);
            continue;
        }
        match f(i) {
            Ok(v) => values.push(v),
            Err(e) => {
                values.push(None);
                own.push((i, e));
            }
        }
    }
    (values, merge_fails(vec![prior, own]))
}

impl<'t> Bound<'t> {
    /// The values for the rows of `range`; with a mask (by row of the range), only for
    /// the rows it asks for: the others are null and never fail.
    pub(crate) fn eval_chunk(&self, range: Range<usize>, mask: Option<&[bool]>) -> Chunk<'t> {
        let n = range.len();
        match self {
            Bound::Const(v) => Chunk {
                values: Vector::Const(v.clone(), n),
                fails: Vec::new(),
            },
            Bound::Col(c) => Chunk {
                values: slice(c, range),
                fails: Vec::new(),
            },
            Bound::Not(a) => {
                let a = a.eval_chunk(range, mask);
                if let Vector::Bool(v) = &a.values {
                    if a.fails.is_empty() && v.iter().all(Option::is_some) {
                        let values = v.iter().map(|b| b.map(|b| !b)).collect();
                        return Chunk {
                            values: Vector::Bool(Cow::Owned(values)),
                            fails: Vec::new(),
                        };
                    }
                }
                row_by_row(n, a.fails, mask, |i| match a.values.get(i) {
                    Value::Bool(b) => Ok(Value::Bool(!b)),
                    _ => Err(Failure::Unsupported),
                })
            }
            Bound::Neg(a) => {
                let a = a.eval_chunk(range, mask);
                row_by_row(n, a.fails, mask, |i| match a.values.get(i) {
                    Value::Int(i) => i
                        .checked_neg()
                        .map(Value::Int)
                        .ok_or_else(|| format!("Negation overflow: -{i}").into()),
                    Value::Decimal(d) => Ok(Value::Decimal(-d)),
                    _ => Err(Failure::Unsupported),
                })
            }
            Bound::And(v) => logic(v, range, mask, false),
            Bound::Or(v) => logic(v, range, mask, true),
            Bound::Coalesce(v) => {
                // Per row: the first operand that is not null (an operand's failure on a
                // row not yet decided is the row's).
                let mut decided: Vec<Option<Result<Value, Failure>>> = vec![None; n];
                let mut open: Vec<bool> = (0..n).map(|i| wanted(mask, i)).collect();
                for e in v {
                    if !open.contains(&true) {
                        break;
                    }
                    let c = e.eval_chunk(range.clone(), Some(&open));
                    for (i, slot) in decided.iter_mut().enumerate() {
                        if !open[i] {
                            continue;
                        }
                        if let Some(f) = c.failure(i) {
                            *slot = Some(Err(f.clone()));
                            open[i] = false;
                        } else if !c.values.is_null(i) {
                            *slot = Some(Ok(c.values.get(i)));
                            open[i] = false;
                        }
                    }
                }
                row_by_row(n, Vec::new(), mask, |i| {
                    decided[i].clone().unwrap_or(Ok(Value::Null))
                })
            }
            Bound::Bin(op, a, b) => {
                let a = a.eval_chunk(range.clone(), mask);
                let b = b.eval_chunk(range, mask);
                binary_chunk(*op, a, b, mask)
            }
            Bound::If(c, a, b) => {
                let c = c.eval_chunk(range.clone(), mask);
                // Per row: Some(true) takes `a`, Some(false) `b`, None failed or not asked.
                let mut pick: Vec<Option<bool>> = Vec::with_capacity(n);
                let mut own = Vec::new();
                for i in 0..n {
                    if c.failure(i).is_some() || !wanted(mask, i) {
                        pick.push(None);
                        continue;
                    }
                    match c.values.truth(i) {
                        Ok(t) => pick.push(Some(t)),
                        Err(t) => {
                            pick.push(None);
                            own.push((
                                i,
                                Failure::Error(format!(
                                    "Data type incorrect: {t} (expecting bool)"
                                )),
                            ));
                        }
                    }
                }
                let fails = merge_fails(vec![c.fails, own]);
                let side =
                    |want: bool| -> Vec<bool> { pick.iter().map(|p| *p == Some(want)).collect() };
                let (on_then, on_else) = (side(true), side(false));
                let then = on_then
                    .contains(&true)
                    .then(|| a.eval_chunk(range.clone(), Some(&on_then)));
                let other = on_else
                    .contains(&true)
                    .then(|| b.eval_chunk(range, Some(&on_else)));
                let mut values = Vec::with_capacity(n);
                let mut taken = Vec::new();
                for (i, p) in pick.iter().enumerate() {
                    let side = match p {
                        Some(true) => then.as_ref(),
                        Some(false) => other.as_ref(),
                        None => None,
                    };
                    match side {
                        None => values.push(Value::Null),
                        Some(s) => match s.failure(i) {
                            Some(f) => {
                                values.push(Value::Null);
                                taken.push((i, f.clone()));
                            }
                            None => values.push(s.values.get(i)),
                        },
                    }
                }
                Chunk {
                    values: Vector::from_values(values),
                    fails: merge_fails(vec![fails, taken]),
                }
            }
            Bound::Call(f, args) => {
                let args: Vec<Chunk<'t>> = args
                    .iter()
                    .map(|a| a.eval_chunk(range.clone(), mask))
                    .collect();
                call_chunk(*f, n, args, mask)
            }
        }
    }
}

/// A column's rows of a range, borrowed.
fn slice(c: &Column, range: Range<usize>) -> Vector<'_> {
    match c {
        Column::Bool(v) => Vector::Bool(Cow::Borrowed(&v[range])),
        Column::Int(v) => Vector::Int(Cow::Borrowed(&v[range])),
        Column::Decimal(v) => Vector::Decimal(Cow::Borrowed(&v[range])),
        Column::Date(v) => Vector::Date(Cow::Borrowed(&v[range])),
        Column::Text(v, dict) => Vector::Text(&v[range], dict),
        Column::List(_) => Vector::Values(range.map(|r| c.get(r)).collect()),
    }
}

/// `&&` (`or` false) and `||` (`or` true), short-circuit per row: an operand is looked at
/// only for the rows the operands before it left open.
fn logic<'t>(
    operands: &[Bound<'t>],
    range: Range<usize>,
    mask: Option<&[bool]>,
    or: bool,
) -> Chunk<'t> {
    let n = range.len();
    // Per row: None open, Some(Ok(b)) decided, Some(Err) failed.
    let mut state: Vec<Option<Result<bool, Failure>>> = vec![None; n];
    let mut open: Vec<bool> = (0..n).map(|i| wanted(mask, i)).collect();
    for e in operands {
        if !open.contains(&true) {
            break;
        }
        let c = e.eval_chunk(range.clone(), Some(&open));
        for (i, slot) in state.iter_mut().enumerate() {
            if !open[i] {
                continue;
            }
            if let Some(f) = c.failure(i) {
                *slot = Some(Err(f.clone()));
                open[i] = false;
                continue;
            }
            match c.values.truth(i) {
                Ok(b) if b == or => {
                    *slot = Some(Ok(or));
                    open[i] = false;
                }
                Ok(_) => {}
                Err(t) => {
                    *slot = Some(Err(Failure::Error(format!(
                        "Data type incorrect: {t} (expecting bool)"
                    ))));
                    open[i] = false;
                }
            }
        }
    }
    let mut values = Vec::with_capacity(n);
    let mut fails = Vec::new();
    for (i, s) in state.into_iter().enumerate() {
        match s {
            None if !wanted(mask, i) => values.push(None),
            None => values.push(Some(!or)),
            Some(Ok(b)) => values.push(Some(b)),
            Some(Err(f)) => {
                values.push(None);
                fails.push((i, f));
            }
        }
    }
    Chunk {
        values: Vector::Bool(Cow::Owned(values)),
        fails,
    }
}

fn binary_chunk<'t>(op: Op, a: Chunk<'t>, b: Chunk<'t>, mask: Option<&[bool]>) -> Chunk<'t> {
    let n = a.values.len();
    let prior = merge_fails(vec![a.fails, b.fails]);
    let (x, y) = (&a.values, &b.values);
    let comparison = matches!(op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge);
    if let (Some(p), Some(q)) = (x.num(), y.num()) {
        if comparison {
            let (values, fails) = typed_rows(n, prior, mask, |i| {
                let ord = match (p.at(i), q.at(i)) {
                    (Some(N::I(s)), Some(N::I(t))) => Some(s.cmp(&t)),
                    (Some(s), Some(t)) => Some(s.decimal().cmp(&t.decimal())),
                    (None, None) => match op {
                        Op::Eq | Op::Ne => Some(Ordering::Equal),
                        _ => None,
                    },
                    _ => None,
                };
                Ok(Some(verdict(op, ord)))
            });
            return Chunk {
                values: Vector::Bool(Cow::Owned(values)),
                fails,
            };
        }
        // Arithmetic: ints stay ints (but `/`), else decimals; a null operand is Rhai's.
        let all_int = matches!(p, Num::Int(_) | Num::ConstInt(_))
            && matches!(q, Num::Int(_) | Num::ConstInt(_))
            && op != Op::Div;
        if all_int {
            let (values, fails) = typed_rows(n, prior, mask, |i| match (p.at(i), q.at(i)) {
                (Some(N::I(s)), Some(N::I(t))) => match binary(op, Value::Int(s), Value::Int(t))? {
                    Value::Int(r) => Ok(Some(r)),
                    _ => Err(Failure::Unsupported),
                },
                _ => Err(Failure::Unsupported),
            });
            return Chunk {
                values: Vector::Int(Cow::Owned(values)),
                fails,
            };
        }
        let (values, fails) = typed_rows(n, prior, mask, |i| match (p.at(i), q.at(i)) {
            (Some(s), Some(t)) => {
                let (s, t) = (s.decimal(), t.decimal());
                match op {
                    Op::Add => s
                        .checked_add(t)
                        .map(Some)
                        .ok_or_else(|| format!("Addition overflow: {s} + {t}").into()),
                    Op::Sub => s
                        .checked_sub(t)
                        .map(Some)
                        .ok_or_else(|| format!("Subtraction overflow: {s} - {t}").into()),
                    Op::Mul => s
                        .checked_mul(t)
                        .map(Some)
                        .ok_or_else(|| format!("Multiplication overflow: {s} * {t}").into()),
                    _ => match divide(s, t)? {
                        Value::Decimal(d) => Ok(Some(d)),
                        _ => Err(Failure::Unsupported),
                    },
                }
            }
            _ => Err(Failure::Unsupported),
        });
        return Chunk {
            values: Vector::Decimal(Cow::Owned(values)),
            fails,
        };
    }
    if comparison {
        if let (Some(p), Some(q)) = (x.dates(), y.dates()) {
            let (values, fails) = typed_rows(n, prior, mask, |i| {
                let ord = match (p.at(i), q.at(i)) {
                    (Some(s), Some(t)) => Some(s.cmp(&t)),
                    (None, None) => match op {
                        Op::Eq | Op::Ne => Some(Ordering::Equal),
                        _ => None,
                    },
                    _ => None,
                };
                Ok(Some(verdict(op, ord)))
            });
            return Chunk {
                values: Vector::Bool(Cow::Owned(values)),
                fails,
            };
        }
        // A text column against a constant: each dictionary entry compared once.
        let text_const = match (x, y) {
            (Vector::Text(codes, dict), Vector::Const(v, _)) => Some((codes, dict, v, false)),
            (Vector::Const(v, _), Vector::Text(codes, dict)) => Some((codes, dict, v, true)),
            _ => None,
        };
        if let Some((codes, dict, v, flipped)) = text_const {
            let cmp = |t: Value| {
                if flipped {
                    compare(op, v, &t)
                } else {
                    compare(op, &t, v)
                }
            };
            let verdicts: Vec<Result<bool, Failure>> =
                dict.iter().map(|s| cmp(Value::Text(s.clone()))).collect();
            let null = cmp(Value::Null);
            let (values, fails) = typed_rows(n, prior, mask, |i| {
                let r = match codes[i] {
                    NO_TEXT => &null,
                    c => &verdicts[c as usize],
                };
                r.clone().map(Some)
            });
            return Chunk {
                values: Vector::Bool(Cow::Owned(values)),
                fails,
            };
        }
    }
    row_by_row(n, prior, mask, |i| binary(op, x.get(i), y.get(i)))
}

/// A comparison's result from the order of its operands (`None`: not comparable).
fn verdict(op: Op, ord: Option<Ordering>) -> bool {
    match (op, ord) {
        (Op::Ne, None) => true,
        (_, None) => false,
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

fn call_chunk<'t>(f: Func, n: usize, args: Vec<Chunk<'t>>, mask: Option<&[bool]>) -> Chunk<'t> {
    let (vectors, fails): (Vec<Vector<'t>>, Vec<_>) =
        args.into_iter().map(|c| (c.values, c.fails)).unzip();
    let prior = merge_fails(fails);
    if let (Func::IsNull, [v]) = (f, vectors.as_slice()) {
        let (values, fails) = typed_rows(n, prior, mask, |i| Ok(Some(v.is_null(i))));
        return Chunk {
            values: Vector::Bool(Cow::Owned(values)),
            fails,
        };
    }
    let dates = match (f, vectors.as_slice()) {
        (Func::DaysBetween | Func::MonthsBetween, [a, b]) => a.dates().zip(b.dates()),
        _ => None,
    };
    if let Some((p, q)) = dates {
        let (values, fails) = typed_rows(n, prior, mask, |i| match (p.at(i), q.at(i)) {
            (Some(a), Some(b)) => Ok(Some(match f {
                Func::DaysBetween => (b - a).num_days(),
                _ => months(a, b),
            })),
            _ => Err(Failure::Unsupported),
        });
        return Chunk {
            values: Vector::Int(Cow::Owned(values)),
            fails,
        };
    }
    if let (Func::QuarterOf, [v]) = (f, vectors.as_slice()) {
        if let Some(dates) = v.dates() {
            // Few distinct quarters: each text made once.
            let mut texts: rustc_hash::FxHashMap<(i32, u32), ImmutableString> = Default::default();
            return row_by_row(n, prior, mask, |i| match dates.at(i) {
                Some(d) => Ok(Value::Text(
                    texts
                        .entry((d.year(), d.month0() / 3))
                        .or_insert_with(|| quarter(d).into())
                        .clone(),
                )),
                None => Err(Failure::Unsupported),
            });
        }
    }
    row_by_row(n, prior, mask, |i| {
        call(f, vectors.iter().map(|v| v.get(i)).collect())
    })
}

/// The quarter of a date as a period (`2025-Q3`), as the host function `quarter_of` says.
fn quarter(d: NaiveDate) -> String {
    format!("{}-Q{}", d.year(), d.month0() / 3 + 1)
}

fn months(a: NaiveDate, b: NaiveDate) -> i64 {
    (i64::from(b.year()) * 12 + i64::from(b.month()))
        - (i64::from(a.year()) * 12 + i64::from(a.month()))
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
    Ok(verdict(op, ord))
}

fn call(f: Func, args: Vec<Value>) -> Result<Value, Failure> {
    match (f, args.as_slice()) {
        (Func::IsNull, [v]) => Ok(Value::Bool(*v == Value::Null)),
        (Func::DaysBetween, [Value::Date(a), Value::Date(b)]) => {
            Ok(Value::Int((*b - *a).num_days()))
        }
        (Func::MonthsBetween, [Value::Date(a), Value::Date(b)]) => Ok(Value::Int(months(*a, *b))),
        (Func::QuarterOf, [Value::Date(d)]) => Ok(Value::Text(quarter(*d).into())),
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
        "if i >= 2 { months_between(dt, dt) * i / (i - 1) } else { () }",
        "if dt == () { () } else { quarter_of(dt) }",
        "quarter_of(dt)",
        "if i == 0 { () } else if d == () || d == 0 { d } else { d * (i / (d / 12)) }",
        "t == \"a\" && d > 0",
        "\"a\" == t || i > 1",
        "\"b\" < t",
        "d > 0 && days_between(dt ?? dt, as_of) > 200",
        "j != () && d > j",
        "is_null(d) || d > i",
        "!(t == \"a\")",
        "if i > 0 { 1 } else { 2.5 }",
        "i * 0.5 >= d",
        "d ?? 0",
        "-j",
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
            // Chunks of odd sizes, so that offsets within a chunk are exercised.
            let chunks: Vec<(usize, Chunk<'_>)> = (0..t.len())
                .step_by(37)
                .map(|start| {
                    (
                        start,
                        bound.eval_chunk(start..(start + 37).min(t.len()), None),
                    )
                })
                .collect();
            for row in 0..t.len() {
                sandbox::set_row(row);
                let rhai = engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast);
                let (start, chunk) = &chunks[row / 37];
                let i = row - start;
                let native = match chunk.failure(i) {
                    Some(f) => Err(f.clone()),
                    None => Ok(chunk.values.get(i)),
                };
                match (native, rhai) {
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
