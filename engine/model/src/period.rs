//! Accounting periods: a year, a quarter or a month.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar period, written `2024`, `2024-Q1` or `2024-03`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A whole year.
    Year(i32),
    /// A quarter, 1 to 4.
    Quarter(i32, u32),
    /// A month, 1 to 12.
    Month(i32, u32),
}

impl Period {
    /// The month a date falls in.
    pub fn month_of(date: NaiveDate) -> Period {
        Period::Month(date.year(), date.month())
    }

    /// First day of the period.
    pub fn start(self) -> NaiveDate {
        let (y, m) = match self {
            Period::Year(y) => (y, 1),
            Period::Quarter(y, q) => (y, (q - 1) * 3 + 1),
            Period::Month(y, m) => (y, m),
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MIN)
    }

    /// Whether a date falls in the period.
    pub fn contains(self, date: NaiveDate) -> bool {
        match self {
            Period::Year(y) => date.year() == y,
            Period::Quarter(y, q) => date.year() == y && (date.month() - 1) / 3 + 1 == q,
            Period::Month(y, m) => date.year() == y && date.month() == m,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(y) => write!(f, "{y}"),
            Period::Quarter(y, q) => write!(f, "{y}-Q{q}"),
            Period::Month(y, m) => write!(f, "{y}-{m:02}"),
        }
    }
}

impl FromStr for Period {
    type Err = String;

    /// Parses `2024`, `2024-Q1` (or `2024Q1`), `2024-03`, `2024/3`, `202403`, `2024年3月`.
    fn from_str(s: &str) -> Result<Period, String> {
        let bad = || format!("cannot read '{s}' as a period (expected 2024, 2024-Q1 or 2024-03)");
        let t = crate::normalize::to_halfwidth(s.trim())
            .replace('年', "-")
            .replace('月', "");
        let t = t.trim_end_matches('-');
        let year = |y: &str| -> Result<i32, String> {
            if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) {
                y.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        if t.len() == 4 {
            return Ok(Period::Year(year(t)?));
        }
        if t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit()) {
            let m: u32 = t[4..].parse().map_err(|_| bad())?;
            return if (1..=12).contains(&m) {
                Ok(Period::Month(year(&t[..4])?, m))
            } else {
                Err(bad())
            };
        }
        let (y, rest) = t.split_at(t.len().min(4));
        let y = year(y)?;
        let rest = rest.trim_start_matches(['-', '/', '.']);
        if let Some(q) = rest.strip_prefix(['Q', 'q']) {
            let q: u32 = q.parse().map_err(|_| bad())?;
            return if (1..=4).contains(&q) {
                Ok(Period::Quarter(y, q))
            } else {
                Err(bad())
            };
        }
        let m: u32 = rest.parse().map_err(|_| bad())?;
        if (1..=12).contains(&m) {
            Ok(Period::Month(y, m))
        } else {
            Err(bad())
        }
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_common_forms() {
        assert_eq!("2024".parse(), Ok(Period::Year(2024)));
        assert_eq!("2024-Q3".parse(), Ok(Period::Quarter(2024, 3)));
        assert_eq!("2024q1".parse(), Ok(Period::Quarter(2024, 1)));
        assert_eq!("2024-03".parse(), Ok(Period::Month(2024, 3)));
        assert_eq!("2024/3".parse(), Ok(Period::Month(2024, 3)));
        assert_eq!("202411".parse(), Ok(Period::Month(2024, 11)));
        assert_eq!("2024年3月".parse(), Ok(Period::Month(2024, 3)));
        assert!("2024-13".parse::<Period>().is_err());
        assert!("2024-Q5".parse::<Period>().is_err());
        assert!("24-3".parse::<Period>().is_err());
        assert!("".parse::<Period>().is_err());
    }

    #[test]
    fn contains_and_start() {
        let d = NaiveDate::from_ymd_opt(2024, 5, 17).unwrap();
        assert!(Period::Quarter(2024, 2).contains(d));
        assert!(!Period::Quarter(2024, 3).contains(d));
        assert!(Period::Year(2024).contains(d));
        assert_eq!(
            Period::Quarter(2024, 2).start(),
            NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
        );
        assert_eq!(Period::month_of(d).to_string(), "2024-05");
    }
}
