//! HTML tables saved as `.xls`: the rows of every `<table>` in document order.
//!
//! Not a general HTML parser: enough for the table exports of web systems. Tags are
//! matched case-insensitively; a cell runs from `<td` or `<th` to the next cell, row or
//! table tag; tags inside a cell are dropped (`<br>` becomes a space), entities decoded;
//! `colspan="n"` adds n - 1 empty cells so the columns stay aligned.

use ledgerlens_adapter::{decode, Encoding, Error};

/// The rows of the tables, numbered from 1 in document order.
pub(crate) fn rows(
    file: &str,
    bytes: &[u8],
    encoding: Encoding,
) -> Result<Vec<(u64, Vec<String>)>, Error> {
    let encoding = match (encoding, charset(bytes)) {
        (Encoding::Auto, Some(found)) => found,
        (given, _) => given,
    };
    let text = decode(file, bytes, encoding)?.text;
    let lower = text.to_ascii_lowercase();
    let mut rows = Vec::new();
    let mut at = 0;
    let mut number = 0u64;
    while let Some(start) = find_tag(&lower, at, "tr") {
        let end = find_tag(&lower, start + 3, "tr")
            .into_iter()
            .chain(lower[start..].find("</tr").map(|i| start + i))
            .chain(lower[start..].find("</table").map(|i| start + i))
            .min()
            .unwrap_or(lower.len());
        number += 1;
        rows.push((number, cells(&text, &lower, start, end)));
        at = end.max(start + 3);
    }
    Ok(rows)
}

/// The encoding a `<meta charset>` (or `content="...; charset=..."`) names.
fn charset(bytes: &[u8]) -> Option<Encoding> {
    let head = &bytes[..bytes.len().min(2048)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let at = head.find("charset")?;
    let value = head[at + "charset".len()..]
        .trim_start_matches(|c: char| c == '=' || c == '"' || c == '\'' || c.is_whitespace());
    let name: String = value
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    match name.as_str() {
        "utf-8" | "utf8" => Some(Encoding::Utf8),
        "gbk" | "gb2312" | "cp936" | "x-gbk" => Some(Encoding::Gbk),
        "gb18030" => Some(Encoding::Gb18030),
        _ => None,
    }
}

/// The byte offset of the next `<name` tag (followed by `>`, a space or `/`) from `at`.
fn find_tag(lower: &str, mut at: usize, name: &str) -> Option<usize> {
    let open = format!("<{name}");
    while let Some(i) = lower.get(at..)?.find(&open) {
        let start = at + i;
        let next = lower.as_bytes().get(start + open.len()).copied();
        if matches!(next, Some(b'>' | b' ' | b'\t' | b'\r' | b'\n' | b'/')) {
            return Some(start);
        }
        at = start + open.len();
    }
    None
}

/// The cells of the row between byte offsets `start` and `end`.
fn cells(text: &str, lower: &str, start: usize, end: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = start;
    loop {
        let td = find_tag(lower, at, "td").filter(|i| *i < end);
        let th = find_tag(lower, at, "th").filter(|i| *i < end);
        let Some(cell) = td.into_iter().chain(th).min() else {
            break;
        };
        let Some(open_end) = lower[cell..end].find('>').map(|i| cell + i + 1) else {
            break;
        };
        let next = [
            find_tag(lower, open_end, "td"),
            find_tag(lower, open_end, "th"),
        ]
        .into_iter()
        .flatten()
        .filter(|i| *i < end)
        .min()
        .unwrap_or(end);
        let close = lower[open_end..next]
            .find("</t")
            .map_or(next, |i| open_end + i);
        out.push(inner_text(&text[open_end..close]));
        for _ in 1..colspan(&lower[cell..open_end]) {
            out.push(String::new());
        }
        at = next;
    }
    out
}

fn colspan(tag: &str) -> usize {
    let Some(at) = tag.find("colspan") else {
        return 1;
    };
    let digits: String = tag[at + "colspan".len()..]
        .trim_start_matches(|c: char| c == '=' || c == '"' || c == '\'' || c.is_whitespace())
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse::<usize>().map_or(1, |n| n.clamp(1, 1000))
}

/// A cell's text: tags dropped (`<br>` a space), entities decoded, space collapsed.
fn inner_text(html: &str) -> String {
    let mut plain = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        plain.push_str(&rest[..i]);
        let tag_end = rest[i..].find('>').map_or(rest.len(), |j| i + j + 1);
        if rest[i..tag_end].to_ascii_lowercase().starts_with("<br") {
            plain.push(' ');
        }
        rest = &rest[tag_end..];
    }
    plain.push_str(rest);
    let decoded = entities(&plain);
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').filter(|j| *j <= 10);
        let decoded = end.and_then(|j| entity(&tail[1..j]).map(|c| (c, j + 1)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                name.strip_prefix('#')?.parse().ok()?
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_become_rows() {
        let html = "<html><head><meta charset=\"utf-8\"></head><body><TABLE>\
            <tr><th>凭证日期</th><th colspan=2>金额</th><TH>摘要</th></tr>\
            <tr><td>2025-01-15<td>1,000.00</td><td>0</td><td>销售&amp;<b>收款</b><br>A&#x41;&nbsp;</td></tr>\
            <tr class=x></tr></table></body></html>";
        let rows = rows("a.xls", html.as_bytes(), Encoding::Auto).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].1, vec!["凭证日期", "金额", "", "摘要"]);
        assert_eq!(
            rows[1].1,
            vec!["2025-01-15", "1,000.00", "0", "销售&收款 AA"]
        );
        assert!(rows[2].1.is_empty());
    }

    #[test]
    fn charset_picks_gbk() {
        let (bytes, _, _) =
            encoding_rs::GBK.encode("<html><meta content=\"text/html; charset=gb2312\"><table><tr><td>客户</td></tr></table>");
        assert_eq!(charset(&bytes), Some(Encoding::Gbk));
        let rows = rows("a.xls", &bytes, Encoding::Auto).unwrap();
        assert_eq!(rows[0].1, vec!["客户"]);
    }
}
