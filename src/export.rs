//! Parquet files of a run's result tables (`run --out DIR`), beside the CSV and JSON ones,
//! so DuckDB, pandas, Spark and BI tools read the results with their types.
//!
//! A table is a list of [`Column`]s of rule [`Value`]s in row order. Each column is stored
//! with one Parquet type, chosen from its values (or, when every value is null, from the
//! type its rule declares):
//!
//! | values | Parquet column |
//! | --- | --- |
//! | whole numbers | `INT64` |
//! | decimals (or decimals and whole numbers) | `DECIMAL(18, s)` as `INT64`, or `DECIMAL(38, s)` as a 16-byte `FIXED_LEN_BYTE_ARRAY` when a value needs more than 18 digits; `s` is the largest scale among the column's values as the JSON output shows them (trailing zeros past two places dropped), and the others are rescaled to it exactly (never rounded) |
//! | dates | `DATE` (`INT32`, days since 1970-01-01) |
//! | texts | `STRING` (UTF-8 `BYTE_ARRAY`) |
//! | booleans | `BOOLEAN` |
//! | lists of texts | `LIST<STRING>` |
//! | anything else (mixed kinds) | `STRING`, each value as its text |
//!
//! Every column is optional: a null value is a Parquet null. One row group per file,
//! pages compressed with Snappy. The writer reads no clock, so the same results make the
//! same bytes.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use ledgerlens_rules::{Type, Value};
use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, FixedLenByteArray, FixedLenByteArrayType, Int32Type,
    Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedColumnWriter, SerializedFileWriter};
use parquet::schema::types::Type as Schema;

/// One column of a result table.
pub struct Column {
    /// The column's name.
    pub name: String,
    /// The type its rule declares, used when every value is null.
    pub declared: Option<Type>,
    /// The values, in row order.
    pub values: Vec<Value>,
}

impl Column {
    /// A column of values.
    pub fn values(
        name: &str,
        declared: Option<Type>,
        values: impl IntoIterator<Item = Value>,
    ) -> Column {
        Column {
            name: name.to_string(),
            declared,
            values: values.into_iter().collect(),
        }
    }

    /// A text column (`None`: null).
    pub fn texts<S: AsRef<str>>(name: &str, texts: impl IntoIterator<Item = Option<S>>) -> Column {
        let values = texts
            .into_iter()
            .map(|t| t.map_or(Value::Null, |t| Value::Text(t.as_ref().into())));
        Column::values(name, Some(Type::Text), values)
    }

    /// A decimal column (`None`: null).
    pub fn decimals(
        name: &str,
        decimals: impl IntoIterator<Item = Option<rust_decimal::Decimal>>,
    ) -> Column {
        let values = decimals
            .into_iter()
            .map(|d| d.map_or(Value::Null, Value::Decimal));
        Column::values(name, Some(Type::Decimal), values)
    }

    /// A column of counts.
    pub fn counts(name: &str, counts: impl IntoIterator<Item = u64>) -> Column {
        let values = counts
            .into_iter()
            .map(|n| Value::Int(i64::try_from(n).unwrap_or(i64::MAX)));
        Column::values(name, Some(Type::Int), values)
    }
}

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    /// Decimal with its precision (18: `INT64`, 38: 16 bytes) and scale.
    Decimal {
        precision: u32,
        scale: u32,
    },
    Date,
    Text,
    List,
}

/// The largest number of digits an `INT64` decimal holds.
const INT64_DIGITS: u32 = 18;
/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_FROM_CE: i32 = 719_163;

impl Kind {
    /// The storage of `values` (see the module doc).
    fn of(declared: Option<Type>, values: &[Value]) -> Kind {
        let mut types: Vec<Type> = Vec::new();
        for t in values.iter().filter_map(Value::type_of) {
            if !types.contains(&t) {
                types.push(t);
            }
        }
        if types.is_empty() {
            types.extend(declared);
        }
        match types.as_slice() {
            [] | [Type::Text] => Kind::Text,
            [Type::Bool] => Kind::Bool,
            [Type::Int] => Kind::Int,
            [Type::Date] => Kind::Date,
            [Type::List] => Kind::List,
            t if t.iter().all(|t| matches!(t, Type::Int | Type::Decimal)) => {
                decimal_kind(values).unwrap_or(Kind::Text)
            }
            _ => Kind::Text,
        }
    }

    /// The Parquet field of a column of this kind.
    fn field(self, name: &str) -> parquet::errors::Result<Schema> {
        let primitive = |physical, logical| {
            Schema::primitive_type_builder(name, physical)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(logical)
        };
        match self {
            Kind::Bool => primitive(Physical::BOOLEAN, None).build(),
            Kind::Int => primitive(Physical::INT64, None).build(),
            Kind::Date => primitive(Physical::INT32, Some(LogicalType::Date)).build(),
            Kind::Text => primitive(Physical::BYTE_ARRAY, Some(LogicalType::String)).build(),
            Kind::Decimal { precision, scale } => {
                let logical = LogicalType::decimal(scale as i32, precision as i32);
                let builder = if precision <= INT64_DIGITS {
                    primitive(Physical::INT64, Some(logical))
                } else {
                    primitive(Physical::FIXED_LEN_BYTE_ARRAY, Some(logical)).with_length(16)
                };
                builder
                    .with_precision(precision as i32)
                    .with_scale(scale as i32)
                    .build()
            }
            Kind::List => {
                let element = Schema::primitive_type_builder("element", Physical::BYTE_ARRAY)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(Some(LogicalType::String))
                    .build()?;
                let list = Schema::group_type_builder("list")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(vec![Arc::new(element)])
                    .build()?;
                Schema::group_type_builder(name)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(Some(LogicalType::List))
                    .with_fields(vec![Arc::new(list)])
                    .build()
            }
        }
    }
}

/// The decimal storage of a column of numbers: the largest scale, and 18 or 38 digits;
/// `None` when a value cannot be rescaled within 38 digits.
fn decimal_kind(values: &[Value]) -> Option<Kind> {
    let scale = values
        .iter()
        .filter_map(number)
        .map(|d| d.scale())
        .max()
        .unwrap_or(0);
    let mut digits = 1;
    for v in values {
        if let Some(d) = number(v) {
            let m = rescaled(d, scale)?;
            digits = digits.max(m.unsigned_abs().checked_ilog10().map_or(1, |l| l + 1));
        }
    }
    let precision = if digits <= INT64_DIGITS && scale <= INT64_DIGITS {
        INT64_DIGITS
    } else {
        38
    };
    (digits <= 38).then_some(Kind::Decimal { precision, scale })
}

/// A number as a decimal, with the places the JSON output shows: more than two only
/// where they are not trailing zeros.
fn number(v: &Value) -> Option<rust_decimal::Decimal> {
    let d = v.as_decimal()?;
    Some(if d.scale() <= 2 { d } else { d.normalize() })
}

/// The unscaled integer of `d` at `scale` (at least its own), if it fits an `i128`.
fn rescaled(d: rust_decimal::Decimal, scale: u32) -> Option<i128> {
    let up = scale.checked_sub(d.scale())?;
    10i128.checked_pow(up)?.checked_mul(d.mantissa())
}

/// A value as text, for a column of mixed kinds.
fn text_of(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Text(t) => t.to_string(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::List(l) => l.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(";"),
    })
}

/// Writes `columns` (all of one length) as a Parquet file at `path`; returns its size in
/// bytes.
pub fn write(path: &Path, columns: &[Column]) -> anyhow::Result<u64> {
    let kinds: Vec<Kind> = columns
        .iter()
        .map(|c| Kind::of(c.declared, &c.values))
        .collect();
    let fields = columns
        .iter()
        .zip(&kinds)
        .map(|(c, k)| k.field(&c.name).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let schema = Schema::group_type_builder("schema")
        .with_fields(fields)
        .build()?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut writer = SerializedFileWriter::new(
        std::io::BufWriter::new(file),
        Arc::new(schema),
        Arc::new(props),
    )?;
    let rows = columns.first().map_or(0, |c| c.values.len());
    if rows > 0 {
        let mut group = writer.next_row_group()?;
        let mut at = 0;
        while let Some(mut out) = group.next_column()? {
            let (Some(column), Some(kind)) = (columns.get(at), kinds.get(at)) else {
                anyhow::bail!(
                    "{}: more Parquet columns than table columns",
                    path.display()
                );
            };
            write_column(&mut out, *kind, &column.values)
                .with_context(|| format!("{}: column {}", path.display(), column.name))?;
            out.close()?;
            at += 1;
        }
        group.close()?;
    }
    let mut inner = writer.into_inner()?;
    inner.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Writes one column's values with their definition (and, for lists, repetition) levels.
fn write_column(
    out: &mut SerializedColumnWriter<'_>,
    kind: Kind,
    values: &[Value],
) -> anyhow::Result<()> {
    // Optional primitive: level 1 for a value, 0 for a null.
    let defined: Vec<i16> = values
        .iter()
        .map(|v| i16::from(!matches!(v, Value::Null)))
        .collect();
    match kind {
        Kind::Bool => {
            let data: Vec<bool> = values
                .iter()
                .filter_map(|v| match v {
                    Value::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect();
            out.typed::<BoolType>()
                .write_batch(&data, Some(&defined), None)?;
        }
        Kind::Int => {
            let data: Vec<i64> = values
                .iter()
                .filter_map(|v| match v {
                    Value::Int(i) => Some(*i),
                    _ => None,
                })
                .collect();
            out.typed::<Int64Type>()
                .write_batch(&data, Some(&defined), None)?;
        }
        Kind::Date => {
            let data: Vec<i32> = values
                .iter()
                .filter_map(|v| match v {
                    Value::Date(d) => {
                        Some(chrono::Datelike::num_days_from_ce(d) - UNIX_EPOCH_FROM_CE)
                    }
                    _ => None,
                })
                .collect();
            out.typed::<Int32Type>()
                .write_batch(&data, Some(&defined), None)?;
        }
        Kind::Decimal { precision, scale } => {
            let mut unscaled = Vec::with_capacity(values.len());
            for d in values.iter().filter_map(number) {
                unscaled.push(
                    rescaled(d, scale)
                        .with_context(|| format!("{d} does not fit scale {scale}"))?,
                );
            }
            if precision <= INT64_DIGITS {
                let data = unscaled
                    .iter()
                    .map(|&m| i64::try_from(m))
                    .collect::<Result<Vec<i64>, _>>()?;
                out.typed::<Int64Type>()
                    .write_batch(&data, Some(&defined), None)?;
            } else {
                let data: Vec<FixedLenByteArray> = unscaled
                    .iter()
                    .map(|m| ByteArray::from(m.to_be_bytes().to_vec()).into())
                    .collect();
                out.typed::<FixedLenByteArrayType>()
                    .write_batch(&data, Some(&defined), None)?;
            }
        }
        Kind::Text => {
            let data: Vec<ByteArray> = values
                .iter()
                .filter_map(text_of)
                .map(|t| ByteArray::from(t.into_bytes()))
                .collect();
            out.typed::<ByteArrayType>()
                .write_batch(&data, Some(&defined), None)?;
        }
        Kind::List => {
            // Levels of `optional group (LIST) { repeated group list { optional element } }`:
            // definition 0 a null list, 1 an empty list, 3 an element; repetition 0 starts
            // a row, 1 continues its list.
            let (mut data, mut def, mut rep) = (Vec::new(), Vec::new(), Vec::new());
            for v in values {
                match v {
                    Value::List(items) if !items.is_empty() => {
                        for (i, t) in items.iter().enumerate() {
                            data.push(ByteArray::from(t.as_bytes().to_vec()));
                            def.push(3);
                            rep.push(i16::from(i > 0));
                        }
                    }
                    Value::List(_) => {
                        def.push(1);
                        rep.push(0);
                    }
                    _ => {
                        def.push(0);
                        rep.push(0);
                    }
                }
            }
            out.typed::<ByteArrayType>()
                .write_batch(&data, Some(&def), Some(&rep))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Value {
        Value::Decimal(s.parse().unwrap())
    }

    #[test]
    fn kinds_follow_the_values() {
        assert_eq!(Kind::of(None, &[Value::Int(1), Value::Null]), Kind::Int);
        // Mixed scales share the largest; whole numbers join decimals.
        assert_eq!(
            Kind::of(None, &[dec("1.5"), Value::Int(3), dec("0.125")]),
            Kind::Decimal {
                precision: 18,
                scale: 3
            }
        );
        assert_eq!(
            Kind::of(None, &[dec("123456789012345678.5")]),
            Kind::Decimal {
                precision: 38,
                scale: 1
            }
        );
        // All null: the declared type; nothing declared: text.
        assert_eq!(Kind::of(Some(Type::Date), &[Value::Null]), Kind::Date);
        assert_eq!(Kind::of(None, &[Value::Null]), Kind::Text);
        // Mixed kinds: text.
        assert_eq!(
            Kind::of(None, &[Value::Int(1), Value::Text("a".into())]),
            Kind::Text
        );
        // A scale that would not fit 38 digits: text.
        let big = Value::Decimal(rust_decimal::Decimal::MAX);
        assert_eq!(
            Kind::of(None, &[big, dec("0.0000000000000000000000000001")]),
            Kind::Text
        );
    }

    #[test]
    fn rescaling_is_exact() {
        assert_eq!(rescaled("1.5".parse().unwrap(), 3), Some(1500));
        assert_eq!(rescaled("-0.25".parse().unwrap(), 2), Some(-25));
        assert_eq!(rescaled("1.25".parse().unwrap(), 1), None);
    }
}
