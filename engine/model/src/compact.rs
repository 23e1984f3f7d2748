//! Serde helpers that keep human-readable formats readable (`"2024-03-01"`, `"12.50"`)
//! and make binary formats compact and fast (days since 1970 as an integer; a decimal's
//! mantissa and scale). Use with `#[serde(with = "...")]`.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN)
}

fn to_days(d: NaiveDate) -> i32 {
    (d - epoch()).num_days() as i32
}

fn from_days<E: serde::de::Error>(days: i32) -> Result<NaiveDate, E> {
    epoch()
        .checked_add_signed(chrono::TimeDelta::days(i64::from(days)))
        .ok_or_else(|| E::custom(format!("date out of range: {days} days")))
}

/// `Option<NaiveDate>`: a string when human-readable, else days since 1970.
pub mod opt_date {
    use super::*;

    /// Serializes.
    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            d.serialize(s)
        } else {
            d.map(to_days).serialize(s)
        }
    }

    /// Deserializes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        if d.is_human_readable() {
            Option::<NaiveDate>::deserialize(d)
        } else {
            Option::<i32>::deserialize(d)?.map(from_days).transpose()
        }
    }
}

fn from_parts<E: serde::de::Error>(mantissa: i128, scale: u8) -> Result<Decimal, E> {
    Decimal::try_from_i128_with_scale(mantissa, u32::from(scale))
        .map_err(|e| E::custom(format!("bad decimal: {e}")))
}

/// `Decimal`: a string when human-readable, else its mantissa (a varint in compact
/// formats) and scale.
pub mod decimal {
    use super::*;

    /// Serializes.
    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            Serialize::serialize(d, s)
        } else {
            Serialize::serialize(&(d.mantissa(), d.scale() as u8), s)
        }
    }

    /// Deserializes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        if d.is_human_readable() {
            <Decimal as Deserialize>::deserialize(d)
        } else {
            let (mantissa, scale) = <(i128, u8)>::deserialize(d)?;
            from_parts(mantissa, scale)
        }
    }
}

/// `Option<Decimal>`: as [`decimal`], or none.
pub mod opt_decimal {
    use super::*;

    /// Serializes.
    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            d.serialize(s)
        } else {
            Serialize::serialize(&d.map(|d| (d.mantissa(), d.scale() as u8)), s)
        }
    }

    /// Deserializes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        if d.is_human_readable() {
            Option::<Decimal>::deserialize(d)
        } else {
            Option::<(i128, u8)>::deserialize(d)?
                .map(|(m, scale)| from_parts(m, scale))
                .transpose()
        }
    }
}
