//! Detecting the delimiter from the first lines of a file.

use ledgerlens_adapter::Delimiter;

/// How many non-empty lines (records) [`sniff_delimiter`] looks at.
const SAMPLE_LINES: usize = 10;

/// Guesses the delimiter of delimited text from its first ten non-empty lines.
///
/// Counts `,`, tab, `;` and `|` outside double quotes; the most frequent wins (ties go to
/// the earlier of comma, tab, semicolon, pipe). When none occurs the layout is
/// [`Delimiter::Whitespace`]: cells separated by runs of spaces or tabs.
///
/// ```
/// use ledgerlens_adapter::Delimiter;
/// use ledgerlens_csv::sniff_delimiter;
/// assert_eq!(sniff_delimiter("a;b;c\n\"x,y\";2;3\n"), Delimiter::Semicolon);
/// assert_eq!(sniff_delimiter(" 00001 19970101  1   11.77\n"), Delimiter::Whitespace);
/// ```
pub fn sniff_delimiter(text: &str) -> Delimiter {
    sniff_bytes(text.as_bytes(), false)
}

/// [`sniff_delimiter`] over UTF-8 bytes, or over GB18030 bytes (`gb`), whose multi-byte
/// characters are stepped over whole (a GBK character's second byte can be `|`), so the
/// counts are those of the decoded text.
pub(crate) fn sniff_bytes(bytes: &[u8], gb: bool) -> Delimiter {
    const CANDIDATES: [(u8, Delimiter); 4] = [
        (b',', Delimiter::Comma),
        (b'\t', Delimiter::Tab),
        (b';', Delimiter::Semicolon),
        (b'|', Delimiter::Pipe),
    ];
    let mut counts = [0usize; 4];
    let mut lines = 0;
    let mut line_has_content = false;
    let mut in_quotes = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        if gb && b >= 0x80 {
            // 0x80 alone is €; a lead byte starts two bytes, or four when a digit
            // follows (GB18030).
            i += if b == 0x80 {
                0
            } else if bytes.get(i).is_some_and(u8::is_ascii_digit) {
                3
            } else {
                1
            };
            line_has_content = true;
            continue;
        }
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                if line_has_content {
                    lines += 1;
                    if lines == SAMPLE_LINES {
                        break;
                    }
                }
                line_has_content = false;
                continue;
            }
            _ if in_quotes => {}
            _ => {
                if let Some(k) = CANDIDATES.iter().position(|&(c, _)| c == b) {
                    counts[k] += 1;
                }
            }
        }
        if !b.is_ascii_whitespace() {
            line_has_content = true;
        }
    }
    let mut best: Option<(usize, Delimiter)> = None;
    for (count, (_, delimiter)) in counts.into_iter().zip(CANDIDATES) {
        let better = match best {
            None => count > 0,
            Some((n, _)) => count > n,
        };
        if better {
            best = Some((count, delimiter));
        }
    }
    best.map_or(Delimiter::Whitespace, |(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_frequent_delimiter_outside_quotes_wins() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n"), Delimiter::Comma);
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2,5\t3\n"), Delimiter::Tab);
        assert_eq!(sniff_delimiter("a|b|c\n"), Delimiter::Pipe);
        // Commas inside quotes do not count, even across a quoted newline.
        assert_eq!(
            sniff_delimiter("name;memo\n\"a,b,c\";\"x,\ny,z\"\n"),
            Delimiter::Semicolon
        );
        assert_eq!(
            sniff_delimiter(" customer_id  date\n 00001 19970101\n"),
            Delimiter::Whitespace
        );
        // A tie goes to the comma.
        assert_eq!(sniff_delimiter("a,b;c\n"), Delimiter::Comma);
    }

    #[test]
    fn only_the_first_ten_non_empty_lines_count() {
        let mut text = "\n\n".to_string();
        text.push_str(&"a b\n".repeat(10));
        text.push_str(&"a,b,c,d\n".repeat(5));
        assert_eq!(sniff_delimiter(&text), Delimiter::Whitespace);
        text.insert_str(0, "x,y\n");
        assert_eq!(sniff_delimiter(&text), Delimiter::Comma);
    }

    #[test]
    fn gb_bytes_count_as_their_decoded_text() {
        for text in [
            "日期|金额\n亅,1|2\n",
            "亅乗,亅|亅\n",
            "€\t亅|\t𠀀\n",
            "\"亅|\n乗|\";b\n",
            &"亅|亅\n\n".repeat(12),
        ] {
            let gb = encoding_rs::GB18030.encode(text).0.into_owned();
            assert_eq!(sniff_bytes(&gb, true), sniff_delimiter(text), "{text:?}");
        }
        // Counted raw, the second byte of 亅 would be a pipe.
        let gb = encoding_rs::GBK.encode("亅亅亅,a\n").0.into_owned();
        assert_eq!(sniff_bytes(&gb, false), Delimiter::Pipe);
        assert_eq!(sniff_bytes(&gb, true), Delimiter::Comma);
    }
}
