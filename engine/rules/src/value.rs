//! Values, their types, and the customer table rules are evaluated over.
//!
//! The table is columnar: one typed [`Column`] per name (a built-in feature, a master
//! field, a declared feature, a segment, a per-customer KPI), one row per customer, rows in
//! the order the caller gave (the pipeline gives them sorted by customer id). Text is
//! dictionary-encoded, so a channel or a segment label costs four bytes per customer.

use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use rhai::{Dynamic, ImmutableString};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use serde::{Serialize, Serializer};

/// The type of a value: what a feature, a parameter or an expression yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Type {
    /// `true` or `false`.
    Bool,
    /// A whole number (counts, days).
    Int,
    /// An exact decimal (money, ratios).
    Decimal,
    /// Text (a channel, a label).
    Text,
    /// A calendar date.
    Date,
    /// A list of texts (tags, the labels of a `collect` segment).
    List,
}

impl Type {
    /// The name used in rule files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Int => "int",
            Type::Decimal => "decimal",
            Type::Text => "text",
            Type::Date => "date",
            Type::List => "list",
        }
    }

    /// Parses a type name of a rule file.
    pub fn parse(s: &str) -> Option<Type> {
        Some(match s {
            "bool" => Type::Bool,
            "int" => Type::Int,
            "decimal" | "money" => Type::Decimal,
            "text" | "string" => Type::Text,
            "date" => Type::Date,
            "list" => Type::List,
            _ => return None,
        })
    }

    /// Whether a value of type `other` may stand where this type is expected (an int
    /// where a decimal is expected, since `2` is a fine amount).
    pub fn accepts(self, other: Type) -> bool {
        self == other || (self == Type::Decimal && other == Type::Int)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value. `Null` is a value that does not exist (no purchase yet, a division by zero).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Value {
    /// No value.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// An exact decimal.
    Decimal(Decimal),
    /// Text.
    Text(ImmutableString),
    /// A date.
    Date(NaiveDate),
    /// A list of texts.
    List(Vec<ImmutableString>),
}

impl Value {
    /// The type of a non-null value.
    pub fn type_of(&self) -> Option<Type> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Decimal(_) => Type::Decimal,
            Value::Text(_) => Type::Text,
            Value::Date(_) => Type::Date,
            Value::List(_) => Type::List,
        })
    }

    /// The value as a decimal, if it is a number.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Int(i) => Some(Decimal::from(*i)),
            Value::Decimal(d) => Some(*d),
            _ => None,
        }
    }

    /// The value for a script.
    pub fn to_dynamic(&self) -> Dynamic {
        match self {
            Value::Null => Dynamic::UNIT,
            Value::Bool(b) => Dynamic::from_bool(*b),
            Value::Int(i) => Dynamic::from_int(*i),
            Value::Decimal(d) => Dynamic::from_decimal(*d),
            Value::Text(s) => Dynamic::from(s.clone()),
            Value::Date(d) => Dynamic::from(*d),
            Value::List(l) => Dynamic::from_array(l.iter().cloned().map(Dynamic::from).collect()),
        }
    }

    /// A script's result as a value, if it is of a type rules can hold.
    pub fn from_dynamic(d: &Dynamic) -> Option<Value> {
        if d.is_unit() {
            return Some(Value::Null);
        }
        if let Ok(b) = d.as_bool() {
            return Some(Value::Bool(b));
        }
        if let Ok(i) = d.as_int() {
            return Some(Value::Int(i));
        }
        if let Ok(x) = d.as_decimal() {
            return Some(Value::Decimal(x));
        }
        if let Some(s) = d.read_lock::<ImmutableString>() {
            return Some(Value::Text(s.clone()));
        }
        if let Some(date) = d.read_lock::<NaiveDate>() {
            return Some(Value::Date(*date));
        }
        if d.is_array() {
            let items = d.read_lock::<rhai::Array>()?;
            let mut list = Vec::with_capacity(items.len());
            for item in items.iter() {
                list.push(item.read_lock::<ImmutableString>()?.clone());
            }
            return Some(Value::List(list));
        }
        None
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Decimal(d) => write!(f, "{}", shown(*d)),
            Value::Text(s) => f.write_str(s),
            Value::Date(d) => write!(f, "{d}"),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, s) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(s)?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Money with its cents: at least two places (300 becomes 300.00; 12.345 stays).
pub(crate) fn money(mut d: Decimal) -> Decimal {
    if d.scale() < 2 {
        d.rescale(2);
    }
    d
}

/// A decimal as ledgerlens prints it: with its places when it has at most two (money
/// keeps its cents: 2258514.90, and a value rounded to 2 places keeps them: 1.20), else
/// without trailing zeros (0.1790, the result of a division, 12.000 become 0.179, 12).
/// The scale is computed, never guessed, so the same inputs print the same text.
fn shown(d: Decimal) -> Decimal {
    if d.scale() <= 2 {
        d
    } else {
        d.normalize()
    }
}

/// Values serialize as JSON would show them; decimals as strings, so that no reader turns
/// money into a float.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Decimal(d) => s.collect_str(&shown(*d)),
            Value::Text(t) => s.serialize_str(t),
            Value::Date(d) => s.collect_str(d),
            Value::List(l) => s.collect_seq(l.iter().map(|t| t.as_str())),
        }
    }
}

/// One column of the customer table.
#[derive(Debug, Clone)]
pub enum Column {
    /// Booleans.
    Bool(Vec<Option<bool>>),
    /// Whole numbers.
    Int(Vec<Option<i64>>),
    /// Decimals.
    Decimal(Vec<Option<Decimal>>),
    /// Dates.
    Date(Vec<Option<NaiveDate>>),
    /// Texts, as indexes into a dictionary (`u32::MAX` is null).
    Text(Vec<u32>, Vec<ImmutableString>),
    /// Lists of texts.
    List(Vec<Vec<ImmutableString>>),
}

/// The code of a null text.
pub(crate) const NO_TEXT: u32 = u32::MAX;

impl Column {
    /// An empty column of a type.
    pub fn new(ty: Type) -> Column {
        match ty {
            Type::Bool => Column::Bool(Vec::new()),
            Type::Int => Column::Int(Vec::new()),
            Type::Decimal => Column::Decimal(Vec::new()),
            Type::Date => Column::Date(Vec::new()),
            Type::Text => Column::Text(Vec::new(), Vec::new()),
            Type::List => Column::List(Vec::new()),
        }
    }

    /// A column of one value type from values; values of another type become null.
    pub fn from_values(ty: Type, values: impl IntoIterator<Item = Value>) -> Column {
        let mut builder = ColumnBuilder::new(ty);
        for v in values {
            builder.push(v);
        }
        builder.finish()
    }

    /// The column's type.
    pub fn ty(&self) -> Type {
        match self {
            Column::Bool(_) => Type::Bool,
            Column::Int(_) => Type::Int,
            Column::Decimal(_) => Type::Decimal,
            Column::Date(_) => Type::Date,
            Column::Text(..) => Type::Text,
            Column::List(_) => Type::List,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Bool(v) => v.len(),
            Column::Int(v) => v.len(),
            Column::Decimal(v) => v.len(),
            Column::Date(v) => v.len(),
            Column::Text(v, _) => v.len(),
            Column::List(v) => v.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of a row (null past the end).
    pub fn get(&self, row: usize) -> Value {
        match self {
            Column::Bool(v) => v
                .get(row)
                .copied()
                .flatten()
                .map_or(Value::Null, Value::Bool),
            Column::Int(v) => v
                .get(row)
                .copied()
                .flatten()
                .map_or(Value::Null, Value::Int),
            Column::Decimal(v) => v
                .get(row)
                .copied()
                .flatten()
                .map_or(Value::Null, Value::Decimal),
            Column::Date(v) => v
                .get(row)
                .copied()
                .flatten()
                .map_or(Value::Null, Value::Date),
            Column::Text(v, dict) => match v.get(row) {
                Some(&i) if i != NO_TEXT => Value::Text(dict[i as usize].clone()),
                _ => Value::Null,
            },
            Column::List(v) => v.get(row).map_or(Value::Null, |l| Value::List(l.clone())),
        }
    }

    /// The value of a row for a script, without an intermediate [`Value`].
    pub fn dynamic(&self, row: usize) -> Dynamic {
        match self {
            Column::Bool(v) => v
                .get(row)
                .copied()
                .flatten()
                .map_or(Dynamic::UNIT, Dynamic::from_bool),
            Column::Int(v) => v
                .get(row)
                .copied()
                .flatten()
                .map_or(Dynamic::UNIT, Dynamic::from_int),
            Column::Decimal(v) => v
                .get(row)
                .copied()
                .flatten()
                .map_or(Dynamic::UNIT, Dynamic::from_decimal),
            Column::Text(v, dict) => match v.get(row) {
                Some(&i) if i != NO_TEXT => Dynamic::from(dict[i as usize].clone()),
                _ => Dynamic::UNIT,
            },
            _ => self.get(row).to_dynamic(),
        }
    }

    /// The dictionary index of a text row (`None` for null or a non-text column): cheap
    /// group keys.
    pub fn text_code(&self, row: usize) -> Option<(u32, &ImmutableString)> {
        match self {
            Column::Text(v, dict) => match v.get(row) {
                Some(&i) if i != NO_TEXT => Some((i, &dict[i as usize])),
                _ => None,
            },
            _ => None,
        }
    }
}

impl Column {
    /// The columns of several parts (partitions) one after the other. All must have the
    /// type `ty`; text dictionaries are merged.
    pub fn concat(ty: Type, parts: Vec<Column>) -> Column {
        let mut out = Concat::new(ty, parts.iter().map(Column::len).sum());
        for part in parts {
            out.push(part);
        }
        out.finish()
    }
}

/// Concatenates columns of one type part by part (text dictionaries merged), so that a
/// caller need not hold every part at once: [`Column::concat`] without the `Vec`.
///
/// ```
/// use ledgerlens_rules::{Column, Concat, Type};
/// let mut out = Concat::new(Type::Int, 3);
/// out.push(Column::Int(vec![Some(1), None]));
/// out.push(Column::Int(vec![Some(3)]));
/// assert_eq!(out.finish().len(), 3);
/// ```
#[derive(Debug)]
pub struct Concat {
    out: Column,
    codes: FxHashMap<ImmutableString, u32>,
}

impl Concat {
    /// An empty column of type `ty`, with room for `capacity` rows.
    pub fn new(ty: Type, capacity: usize) -> Concat {
        let out = match ty {
            Type::Bool => Column::Bool(Vec::with_capacity(capacity)),
            Type::Int => Column::Int(Vec::with_capacity(capacity)),
            Type::Decimal => Column::Decimal(Vec::with_capacity(capacity)),
            Type::Date => Column::Date(Vec::with_capacity(capacity)),
            Type::Text => Column::Text(Vec::with_capacity(capacity), Vec::new()),
            Type::List => Column::List(Vec::with_capacity(capacity)),
        };
        Concat {
            out,
            codes: FxHashMap::default(),
        }
    }

    /// Appends a part's rows; a part of another type (a caller's bug) appends nulls.
    pub fn push(&mut self, part: Column) {
        match (&mut self.out, part) {
            (Column::Bool(a), Column::Bool(b)) => a.extend(b),
            (Column::Int(a), Column::Int(b)) => a.extend(b),
            (Column::Decimal(a), Column::Decimal(b)) => a.extend(b),
            (Column::Date(a), Column::Date(b)) => a.extend(b),
            (Column::List(a), Column::List(b)) => a.extend(b),
            (Column::Text(a, dict), Column::Text(b, part_dict)) => {
                let codes = &mut self.codes;
                let map: Vec<u32> = part_dict
                    .into_iter()
                    .map(|s| {
                        let next = dict.len() as u32;
                        *codes.entry(s.clone()).or_insert_with(|| {
                            dict.push(s);
                            next
                        })
                    })
                    .collect();
                a.extend(b.into_iter().map(|c| {
                    if c == NO_TEXT {
                        NO_TEXT
                    } else {
                        map[c as usize]
                    }
                }));
            }
            (out, part) => out.push_nulls(part.len()),
        }
    }

    /// The column.
    pub fn finish(self) -> Column {
        self.out
    }
}

impl Column {
    /// Appends `n` nulls.
    pub(crate) fn push_nulls(&mut self, n: usize) {
        use std::iter::repeat_n;
        match self {
            Column::Bool(v) => v.extend(repeat_n(None, n)),
            Column::Int(v) => v.extend(repeat_n(None, n)),
            Column::Decimal(v) => v.extend(repeat_n(None, n)),
            Column::Date(v) => v.extend(repeat_n(None, n)),
            Column::Text(v, _) => v.extend(repeat_n(NO_TEXT, n)),
            Column::List(v) => v.extend(repeat_n(Vec::new(), n)),
        }
    }
}

/// Builds a column value by value.
#[derive(Debug)]
pub struct ColumnBuilder {
    column: Column,
    codes: FxHashMap<ImmutableString, u32>,
}

impl ColumnBuilder {
    /// An empty builder of a type.
    pub fn new(ty: Type) -> ColumnBuilder {
        ColumnBuilder {
            column: Column::new(ty),
            codes: FxHashMap::default(),
        }
    }

    /// Appends a value; a value of another type is appended as null (an int is taken
    /// where a decimal is expected).
    pub fn push(&mut self, value: Value) {
        match (&mut self.column, value) {
            (Column::Bool(v), Value::Bool(b)) => v.push(Some(b)),
            (Column::Bool(v), _) => v.push(None),
            (Column::Int(v), Value::Int(i)) => v.push(Some(i)),
            (Column::Int(v), _) => v.push(None),
            (Column::Decimal(v), Value::Decimal(d)) => v.push(Some(d)),
            (Column::Decimal(v), Value::Int(i)) => v.push(Some(Decimal::from(i))),
            (Column::Decimal(v), _) => v.push(None),
            (Column::Date(v), Value::Date(d)) => v.push(Some(d)),
            (Column::Date(v), _) => v.push(None),
            (Column::Text(v, dict), Value::Text(s)) => {
                let next = dict.len() as u32;
                let code = *self.codes.entry(s.clone()).or_insert_with(|| {
                    dict.push(s);
                    next
                });
                v.push(code);
            }
            (Column::Text(v, _), _) => v.push(NO_TEXT),
            (Column::List(v), Value::List(l)) => v.push(l),
            (Column::List(v), _) => v.push(Vec::new()),
        }
    }

    /// Appends a text without building a [`Value`] first.
    pub fn push_text(&mut self, text: Option<&str>) {
        match (&mut self.column, text) {
            (Column::Text(v, _), Some(t)) if self.codes.contains_key(t) => {
                v.push(self.codes[t]);
            }
            (_, Some(t)) => self.push(Value::Text(t.into())),
            (_, None) => self.push(Value::Null),
        }
    }

    /// The column.
    pub fn finish(self) -> Column {
        self.column
    }
}

/// The customer table: ids and named columns. Cloning is cheap (columns are shared).
#[derive(Debug, Clone, Default)]
pub struct Table {
    ids: Arc<Vec<ImmutableString>>,
    names: FxHashMap<String, usize>,
    columns: Vec<(String, Arc<Column>)>,
}

impl Table {
    /// A table of customers, in a deterministic order of the caller's choosing (results
    /// never depend on it: outputs are sorted, rankings are tie-aware).
    pub fn new<S: AsRef<str>>(ids: impl IntoIterator<Item = S>) -> Table {
        Table {
            ids: Arc::new(ids.into_iter().map(|s| s.as_ref().into()).collect()),
            ..Table::default()
        }
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the table has no customers.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Customer ids, by row.
    pub fn ids(&self) -> &[ImmutableString] {
        &self.ids
    }

    /// The row of a customer id (a linear search: for one-off lookups).
    pub fn row_of(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|x| x.as_str() == id)
    }

    /// Adds or replaces a column. Its length must be the table's.
    pub fn insert(&mut self, name: &str, column: Column) {
        debug_assert_eq!(column.len(), self.len(), "column {name}");
        let column = Arc::new(column);
        match self.names.get(name) {
            Some(&i) => self.columns[i].1 = column,
            None => {
                self.names.insert(name.to_string(), self.columns.len());
                self.columns.push((name.to_string(), column));
            }
        }
    }

    /// Drops a column (its memory is freed once no evaluation holds it).
    pub fn drop_column(&mut self, name: &str) {
        if let Some(i) = self.names.remove(name) {
            let ty = self.columns[i].1.ty();
            self.columns[i].1 = Arc::new(Column::new(ty));
        }
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.names.get(name).map(|&i| &*self.columns[i].1)
    }

    /// The index of a column, for repeated lookups.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.get(name).copied()
    }

    /// A column by index.
    pub fn column_at(&self, index: usize) -> &Column {
        &self.columns[index].1
    }

    /// Column names and types, in insertion order.
    pub fn schema(&self) -> impl Iterator<Item = (&str, Type)> {
        self.columns.iter().map(|(n, c)| (n.as_str(), c.ty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_types_and_nulls() {
        let c = Column::from_values(
            Type::Decimal,
            [
                Value::Int(2),
                Value::Null,
                Value::Decimal(Decimal::new(15, 1)),
            ],
        );
        assert_eq!(c.get(0), Value::Decimal(Decimal::from(2)));
        assert_eq!(c.get(1), Value::Null);
        assert_eq!(c.get(2).to_string(), "1.5");
        let t = Column::from_values(Type::Text, ["a", "b", "a"].map(|s| Value::Text(s.into())));
        let Column::Text(codes, dict) = &t else {
            panic!("text column")
        };
        assert_eq!(codes, &[0, 1, 0]);
        assert_eq!(dict.len(), 2);
    }

    #[test]
    fn concat_merges_dictionaries() {
        let a = Column::from_values(Type::Text, [Value::Text("x".into()), Value::Null]);
        let b = Column::from_values(
            Type::Text,
            [Value::Text("y".into()), Value::Text("x".into())],
        );
        let c = Column::concat(Type::Text, vec![a, b]);
        let got: Vec<String> = (0..4).map(|i| c.get(i).to_string()).collect();
        assert_eq!(got, ["x", "null", "y", "x"]);
    }

    #[test]
    fn dynamic_round_trip() {
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::Int(-3),
            Value::Decimal(Decimal::new(12345, 2)),
            Value::Text("微信广告".into()),
            Value::Date(NaiveDate::from_ymd_opt(2025, 3, 1).unwrap_or_default()),
            Value::List(vec!["vip".into()]),
        ] {
            assert_eq!(Value::from_dynamic(&v.to_dynamic()), Some(v));
        }
    }
}
