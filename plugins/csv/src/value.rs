//! Cell values: fast paths for the plain spellings that fill large files (`19970101`,
//! `2024-03-01`, `11.77`), falling back to the adapter crate's lenient parsers, which give
//! the same values and the error messages.

use chrono::NaiveDate;
use ledgerlens_adapter::{parse_amount, parse_date_with, parse_decimal};
use rust_decimal::Decimal;

/// [`str::trim`], quicker when the ends are ASCII (as they almost always are).
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let t = s.trim_ascii();
    match (t.as_bytes().first(), t.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii() && last.is_ascii() => t,
        (None, _) | (_, None) => t,
        _ => t.trim(),
    }
}

/// A date: [`parse_date_with`], faster for `YYYYMMDD` and `YYYY-MM-DD`.
pub(crate) fn date(raw: &str, format: Option<&str>) -> Result<NaiveDate, String> {
    if format.is_none() {
        if let Some(date) = plain_date(raw.as_bytes()) {
            return Ok(date);
        }
    }
    parse_date_with(raw, format)
}

/// An amount: [`parse_amount`], faster for plain decimals (`-1234.50`).
pub(crate) fn amount(raw: &str) -> Result<Option<Decimal>, String> {
    match plain_decimal(raw.as_bytes()) {
        Some(value) => Ok(Some(value)),
        None => parse_amount(raw),
    }
}

/// A quantity or count: [`parse_decimal`], faster for plain decimals.
pub(crate) fn number(raw: &str) -> Result<Option<Decimal>, String> {
    match plain_decimal(raw.as_bytes()) {
        Some(value) => Ok(Some(value)),
        None => parse_decimal(raw),
    }
}

/// `YYYYMMDD` or `YYYY-MM-DD` with a valid day; anything else is left to the full parser.
fn plain_date(b: &[u8]) -> Option<NaiveDate> {
    let digits: [u8; 8] = match *b {
        [y0, y1, y2, y3, m0, m1, d0, d1] => [y0, y1, y2, y3, m0, m1, d0, d1],
        [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] => [y0, y1, y2, y3, m0, m1, d0, d1],
        _ => return None,
    };
    let mut n = [0u32; 8];
    for (n, d) in n.iter_mut().zip(digits) {
        let v = d.wrapping_sub(b'0');
        if v > 9 {
            return None;
        }
        *n = u32::from(v);
    }
    let year = n[0] * 1000 + n[1] * 100 + n[2] * 10 + n[3];
    NaiveDate::from_ymd_opt(year as i32, n[4] * 10 + n[5], n[6] * 10 + n[7])
}

/// An optional `-`, 1 to 19 ASCII digits with at most one `.` between two of them.
fn plain_decimal(b: &[u8]) -> Option<Decimal> {
    let (negative, b) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0;
    let mut point = None;
    for (i, &c) in b.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d <= 9 {
            mantissa = mantissa * 10 + u64::from(d);
            digits += 1;
        } else if c == b'.' && point.is_none() && i > 0 && i + 1 < b.len() {
            point = Some(i);
        } else {
            return None;
        }
    }
    if digits > 19 {
        return None;
    }
    // Digits after the point: at most 19, so the scale is within Decimal's 28.
    let scale = point.map_or(0, |p| (b.len() - p - 1) as u32);
    let value = Decimal::from_parts(mantissa as u32, (mantissa >> 32) as u32, 0, false, scale);
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_paths_agree_with_the_full_parsers() {
        for raw in [
            "0",
            "7",
            "007",
            "11.77",
            "12.00",
            "-0.50",
            "-1",
            "1.5",
            "123456789012345678",
            "1234567890123456789",
            "12345678901234567890",
            "9999999999999999999",
            "0.000000000000000001",
            "-0.0000000000000000001",
            "-0.00",
            "-0",
            ".5",
            "5.",
            "1..2",
            "1-",
            "-",
            "1,000",
            "¥12",
            "1e3",
            "9.",
            "-.5",
            "",
        ] {
            let full = parse_amount(raw);
            assert_eq!(amount(raw), full, "{raw}");
            if let Some(fast) = plain_decimal(raw.as_bytes()) {
                let full = full.unwrap().unwrap();
                assert_eq!(fast.to_string(), full.to_string(), "{raw}");
                assert_eq!(fast.scale(), full.scale(), "{raw}");
            }
        }
        assert!(plain_decimal(b"11.77").is_some());
        assert!(plain_decimal(b"9999999999999999999").is_some());
        assert!(plain_decimal(b"12345678901234567890").is_none());
        assert!(plain_decimal(b"1,000").is_none());
        for raw in [
            "19970101",
            "2024-03-01",
            "20240230",
            "2024-02-30",
            "2024-3-1",
            "2024/03/01",
            "1997010",
            "abcdefgh",
            "2024-03-0x",
        ] {
            assert_eq!(date(raw, None), parse_date_with(raw, None), "{raw}");
        }
        assert!(plain_date(b"19970101").is_some());
        assert!(plain_date(b"20240230").is_none());
        assert_eq!(
            date("01/03/2024", Some("%d/%m/%Y")),
            Ok(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap())
        );
        // With an explicit format the fast path is not taken.
        assert!(date("20240301", Some("%d/%m/%Y")).is_err());
        assert_eq!(number("3"), Ok(Some(Decimal::new(3, 0))));
        for raw in [
            "",
            " ",
            " a ",
            "\u{3000}甲\u{3000}",
            " 乙 ",
            "\t\r\n",
            "\u{3000}",
        ] {
            assert_eq!(trim(raw), raw.trim(), "{raw:?}");
        }
        assert!(number("x").unwrap_err().contains("as a number"));
    }
}
