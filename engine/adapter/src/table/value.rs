//! Cell values: fast paths for the plain spellings that fill large files (`19970101`,
//! `2024-03-01`, `11.77`), falling back to the adapter crate's lenient parsers, which give
//! the same values and the error messages.

use crate::{parse_amount, parse_date_with, parse_decimal};
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// [`str::trim`], quicker when the ends are ASCII (as they almost always are).
#[inline]
pub fn trim(s: &str) -> &str {
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
    let n = eight_digits(digits)?;
    let year = (n / 10_000) as i32;
    if !(crate::MIN_YEAR..=crate::MAX_YEAR).contains(&year) {
        return None; // the full parser says why
    }
    NaiveDate::from_ymd_opt(year, n / 100 % 100, n % 100)
}

/// Eight ASCII digits as a number, eight bytes at a time (the usual SWAR reduction).
fn eight_digits(digits: [u8; 8]) -> Option<u32> {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let x = u64::from_le_bytes(digits);
    // Every byte is 0x30..=0x3F, and adding 6 keeps it below 0x40: '0'..='9'.
    if x & HIGH_NIBBLES != ZEROS || x.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES != ZEROS {
        return None;
    }
    let x = (x & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(10 * 256 + 1) >> 8;
    let x = (x & 0x00FF_00FF_00FF_00FF).wrapping_mul(100 * 65_536 + 1) >> 16;
    Some(((x & 0x0000_FFFF_0000_FFFF).wrapping_mul(10_000 * (1 << 32) + 1) >> 32) as u32)
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
            if digits == 19 {
                return None;
            }
            mantissa = mantissa * 10 + u64::from(d);
            digits += 1;
        } else if c == b'.' && point.is_none() && i > 0 && i + 1 < b.len() {
            point = Some(i);
        } else {
            return None;
        }
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
    fn eight_digits_reads_every_position() {
        for n in [
            0u32, 1, 9, 10, 19970101, 20240301, 99999999, 12345678, 87654321, 10000000,
        ] {
            let text = format!("{n:08}");
            let bytes: [u8; 8] = text.as_bytes().try_into().unwrap();
            assert_eq!(eight_digits(bytes), Some(n), "{text}");
        }
        for bad in [
            *b"1997010a",
            *b"/9970101",
            *b"1997:101",
            *b"19970 01",
            *b"\xff9970101",
        ] {
            assert_eq!(eight_digits(bad), None, "{bad:?}");
        }
    }

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
