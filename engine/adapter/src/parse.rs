//! Parsing the values finance exports hold: dates and amounts in their many spellings.

use std::str::FromStr;

use chrono::NaiveDate;
use ledgerlens_model::normalize::to_halfwidth;
use rust_decimal::Decimal;

/// Years outside this range are refused as typos (`0000-01-01`, `9999-12-31`): one such
/// date would move the data's as-of date and every customer's recency with it.
pub const MIN_YEAR: i32 = 1900;
/// See [`MIN_YEAR`].
pub const MAX_YEAR: i32 = 2100;

/// Reads a date in the common forms: `2024-03-01`, `2024/3/1`, `2024.3.1`, `20240301`,
/// `2024年3月1日`, full-width digits, with an optional time part after a space or `T`
/// (ignored). Day-first or month-first forms (`01/03/2024`) are ambiguous and refused: name
/// the format with `date_format` in the source instead.
///
/// With `format`, the value is read with that chrono format only (after trimming).
pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    parse_date_with(raw, None)
}

/// [`parse_date`], or with an explicit chrono `format` (`%d/%m/%Y`).
pub fn parse_date_with(raw: &str, format: Option<&str>) -> Result<NaiveDate, String> {
    let half = to_halfwidth(raw.trim());
    if half.is_empty() {
        return Err("the date is empty".to_string());
    }
    if let Some(format) = format {
        let date = NaiveDate::parse_from_str(&half, format)
            .map_err(|e| format!("cannot read '{raw}' as a date in format '{format}': {e}"))?;
        return if (MIN_YEAR..=MAX_YEAR).contains(&chrono::Datelike::year(&date)) {
            Ok(date)
        } else {
            Err(format!(
                "'{raw}' is outside the years {MIN_YEAR}-{MAX_YEAR}; a typo?"
            ))
        };
    }
    let bad = || {
        format!("cannot read '{raw}' as a date (expected e.g. 2024-03-01, 2024/3/1, 20240301 or 2024年3月1日)")
    };
    let day_part = half.split([' ', 'T']).next().unwrap_or_default();
    let cleaned: String = day_part.replace(['年', '月'], "-").replace('日', "");
    let cleaned = cleaned.trim_end_matches('-');
    if cleaned.len() == 8 && cleaned.bytes().all(|b| b.is_ascii_digit()) {
        let (y, m, d) = (&cleaned[..4], &cleaned[4..6], &cleaned[6..]);
        return ymd(y, m, d).ok_or_else(bad);
    }
    let parts: Vec<&str> = cleaned.split(['-', '/', '.']).collect();
    if parts.len() != 3 {
        return Err(bad());
    }
    if parts[0].len() == 4 {
        return ymd(parts[0], parts[1], parts[2]).ok_or_else(bad);
    }
    if parts[2].len() == 4 {
        return Err(format!(
            "'{raw}' is ambiguous (day-first or month-first?); set date_format in the source, e.g. '%d/%m/%Y'"
        ));
    }
    Err(bad())
}

fn ymd(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    let num = |s: &str, max_len: usize| -> Option<u32> {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let year = i32::try_from(num(y, 4)?).ok()?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, num(m, 2)?, num(d, 2)?)
}

/// Reads an amount: thousands separators, currency signs and codes (`¥`, `￥`, `$`, `€`,
/// `CNY`, `RMB`, `USD`, `元`), full-width digits, negatives as `-1`, `−1`, `(1)`, `（1）` or
/// `1-`, and scientific notation (`1.2E+05`, as spreadsheets write). An empty cell (or `-`)
/// is `None`.
pub fn parse_amount(raw: &str) -> Result<Option<Decimal>, String> {
    let bad = |why: &str| format!("cannot read '{raw}' as an amount: {why}");
    let mut s: String = to_halfwidth(raw)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .map(|c| if c == '\u{2212}' { '-' } else { c })
        .collect();
    if s.is_empty() || s == "-" || s == "--" {
        return Ok(None);
    }
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') && s.len() > 2 {
        negative = true;
        s = s[1..s.len() - 1].to_string();
    }
    for code in ["CNY", "RMB", "USD", "EUR", "HKD", "¥", "￥", "$", "€", "元"] {
        if let Some(rest) = s.strip_prefix(code) {
            s = rest.to_string();
        }
        if let Some(rest) = s.strip_suffix(code) {
            s = rest.to_string();
        }
    }
    if let Some(rest) = s.strip_prefix('-') {
        negative = !negative;
        s = rest.to_string();
    } else if let Some(rest) = s.strip_suffix('-') {
        negative = !negative;
        s = rest.to_string();
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest.to_string();
    }
    // Currency signs may also sit after the sign: -¥1,000.
    for sign in ["¥", "￥", "$", "€"] {
        if let Some(rest) = s.strip_prefix(sign) {
            s = rest.to_string();
        }
    }
    if let Some(dot) = s.find('.') {
        if s[dot..].contains(',') {
            return Err(bad("a thousands separator after the decimal point"));
        }
    }
    if s.contains(',') {
        // Thousands separators must group the integer part in threes: 1,234,567.89.
        let int_part = s.split('.').next().unwrap_or_default();
        let mut groups = int_part.split(',');
        let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()));
        if !first_ok || !groups.all(|g| g.len() == 3) {
            return Err(bad(
                "misplaced thousands separator (groups of three digits expected)",
            ));
        }
    }
    let digits = s.replace(',', "");
    if digits.is_empty()
        || !digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
    {
        return Err(bad("not a number"));
    }
    let value = if digits.contains(['e', 'E']) {
        Decimal::from_scientific(&digits).map_err(|_| bad("not a number"))?
    } else {
        if !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(bad("not a number"));
        }
        Decimal::from_str(&digits).map_err(|e| bad(&e.to_string()))?
    };
    Ok(Some(if negative { -value } else { value }))
}

/// Reads a plain decimal (quantity, count, rate) with the same leniency as [`parse_amount`].
pub fn parse_decimal(raw: &str) -> Result<Option<Decimal>, String> {
    parse_amount(raw).map_err(|e| e.replacen("as an amount", "as a number", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn dates_in_common_forms() {
        let march1 = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        for raw in [
            "2024-03-01",
            "2024/3/1",
            "2024.3.1",
            "20240301",
            "2024年3月1日",
            "２０２４－０３－０１",
            " 2024-03-01 00:00:00 ",
            "2024-03-01T08:30:00",
            "2024年03月01日",
        ] {
            assert_eq!(parse_date(raw), Ok(march1), "{raw}");
        }
        assert!(parse_date("2024-02-30")
            .unwrap_err()
            .contains("cannot read '2024-02-30'"));
        assert!(parse_date("01/03/2024").unwrap_err().contains("ambiguous"));
        assert!(parse_date("").is_err());
        assert!(parse_date("yesterday").is_err());
        assert!(parse_date("2024-3").is_err());
        assert!(parse_date("0000-01-01").is_err());
        assert!(parse_date("9999-12-31").is_err());
        assert!(parse_date_with("31/12/9999", Some("%d/%m/%Y")).is_err());
        assert_eq!(
            parse_date("1900-01-01"),
            Ok(NaiveDate::from_ymd_opt(1900, 1, 1).unwrap())
        );
        assert_eq!(parse_date_with("01/03/2024", Some("%d/%m/%Y")), Ok(march1));
        assert!(parse_date_with("2024-03-01", Some("%d/%m/%Y")).is_err());
    }

    #[test]
    fn amounts_in_common_forms() {
        let cases = [
            ("1234.5", "1234.5"),
            ("1,234.50", "1234.50"),
            ("¥1,234.50", "1234.50"),
            ("￥1,234.50", "1234.50"),
            ("$12", "12"),
            ("１，２３４．５０", "1234.50"),
            ("-1", "-1"),
            ("(1)", "-1"),
            ("（1,000.00）", "-1000.00"),
            ("−3.5", "-3.5"),
            ("100-", "-100"),
            ("-¥1,000", "-1000"),
            ("CNY 88", "88"),
            ("88元", "88"),
            ("+7", "7"),
            ("1.2E+05", "120000"),
            ("0.1", "0.1"),
            (".5", "0.5"),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_amount(raw), Ok(Some(d(want))), "{raw}");
        }
        assert_eq!(parse_amount(""), Ok(None));
        assert_eq!(parse_amount("  "), Ok(None));
        assert_eq!(parse_amount("-"), Ok(None));
        for raw in [
            "abc", "1.234,56", "12a", ",100", "1,,0", "NaN", "$", "1.2.3", "12,34", "1,2,3",
            "1 234,50", "1234,567",
        ] {
            assert!(parse_amount(raw).is_err(), "{raw} must be refused");
        }
        assert!(parse_decimal("x").unwrap_err().contains("as a number"));
    }
}
