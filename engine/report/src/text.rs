//! Escaping and number formatting.

use std::fmt::Write as _;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// Escapes text for HTML and SVG, in element content and in quoted attribute values:
/// `&`, `<`, `>`, `"` and `'` become character references. Control characters other than
/// tab, newline and carriage return (not allowed in XML) are dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// An amount with thousands separators and two decimals (half away from zero):
/// `1,234,567.80`.
pub fn money(d: Decimal) -> String {
    let r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let s = format!("{:.2}", r.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3 + 4);
    if r.is_sign_negative() && !r.is_zero() {
        grouped.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let _ = write!(grouped, ".{frac}");
    grouped
}

/// A ratio as a signed percentage with one decimal: `0.14` -> `+14.0%`.
pub fn percent(d: Decimal) -> String {
    let p = (d * Decimal::ONE_HUNDRED).round_dp(1);
    if p.is_sign_positive() && !p.is_zero() {
        format!("+{p:.1}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A decimal as a float, for drawing only (never for money arithmetic).
pub fn float(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// A compact axis label: `1.2M`, `350k`, `12`.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x&y")</script> '微信'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt; &#39;微信&#39;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c"), "abc");
        assert_eq!(escape("百度搜索"), "百度搜索");
    }

    #[test]
    fn formats_money_and_percentages() {
        assert_eq!(money(Decimal::new(123456780, 2)), "1,234,567.80");
        assert_eq!(money(Decimal::new(-100000, 2)), "-1,000.00");
        assert_eq!(money(Decimal::new(5, 3)), "0.01");
        assert_eq!(money(Decimal::ZERO), "0.00");
        assert_eq!(money(Decimal::new(-1, 3)), "0.00");
        assert_eq!(percent(Decimal::new(14, 2)), "+14.0%");
        assert_eq!(percent(Decimal::new(-1511, 4)), "-15.1%");
        assert_eq!(compact(1_234_567.0), "1.2M");
    }
}
