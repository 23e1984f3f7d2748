//! Text decoding: UTF-8 (with or without BOM), GBK and GB18030, named or detected.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The text encoding of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Detect: UTF-8 (with or without BOM) when valid, else GB18030 (a superset of GBK).
    #[default]
    Auto,
    /// UTF-8, with or without a byte-order mark.
    #[serde(alias = "utf8", rename = "utf-8")]
    Utf8,
    /// GBK (decoded as GB18030, its superset).
    Gbk,
    /// GB18030.
    Gb18030,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "utf-8",
            Encoding::Gbk => "gbk",
            Encoding::Gb18030 => "gb18030",
        })
    }
}

/// Decoded text and the encoding it was found to be in.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The text, without a byte-order mark.
    pub text: Cow<'a, str>,
    /// `utf-8`, `utf-8-bom`, `gbk` or `gb18030` (GB18030 four-byte sequences present).
    pub encoding: &'static str,
}

/// An encoding error in the text after a 3-byte UTF-8 BOM, with its offset in the file.
fn after_bom(e: Error) -> Error {
    match e {
        Error::Encoding {
            file,
            encoding,
            line,
            offset,
        } => Error::Encoding {
            file,
            encoding,
            line,
            offset: offset + 3,
        },
        other => other,
    }
}

/// Decodes `bytes` as `encoding`; `Auto` takes UTF-8 when the bytes are valid UTF-8 and
/// GB18030 otherwise. Invalid bytes are an [`Error::Encoding`] naming the line.
pub fn decode<'a>(file: &str, bytes: &'a [u8], encoding: Encoding) -> Result<Decoded<'a>, Error> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        // Some tools put a UTF-8 BOM before GBK text: the BOM is dropped either way.
        let gb_after_bom = |named| gb(file, rest, named).map_err(after_bom);
        return match encoding {
            Encoding::Utf8 => utf8(file, rest, "utf-8-bom"),
            Encoding::Auto => match std::str::from_utf8(rest) {
                Ok(text) => Ok(Decoded {
                    text: Cow::Borrowed(text),
                    encoding: "utf-8-bom",
                }),
                Err(_) => gb_after_bom(Encoding::Auto),
            },
            Encoding::Gbk | Encoding::Gb18030 => gb_after_bom(encoding),
        };
    }
    match encoding {
        Encoding::Utf8 => utf8(file, bytes, "utf-8"),
        Encoding::Gbk | Encoding::Gb18030 => gb(file, bytes, encoding),
        Encoding::Auto => match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Decoded {
                text: Cow::Borrowed(text),
                encoding: "utf-8",
            }),
            Err(_) => gb(file, bytes, Encoding::Auto),
        },
    }
}

/// Text checked against its encoding but not copied: what [`check`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text<'a> {
    /// UTF-8 text, without a byte-order mark.
    Utf8(&'a str),
    /// Bytes that decode as GB18030 (GBK's superset) without error, without a UTF-8
    /// byte-order mark before them. Decode pieces of it with [`push_gb`]: a piece cut at
    /// ASCII control bytes or punctuation below `0x40` (a comma, tab, semicolon, quote or
    /// line break) is whole characters, since those bytes never occur inside a GB18030
    /// character.
    Gb(&'a [u8]),
}

/// Checks `bytes` as [`decode`] reads them (the same encodings, detection, byte-order
/// mark handling and [`Error::Encoding`]), without making a decoded copy: UTF-8 text is
/// borrowed as it is, GB text is decoded through a small scratch buffer and handed back
/// as bytes, for the caller to decode piece by piece ([`push_gb`]).
///
/// ```
/// use ledgerlens_adapter::{check, push_gb, Encoding, Text};
/// let gbk = encoding_rs::GBK.encode("凭证日期,借方\n").0.into_owned();
/// let Text::Gb(bytes) = check("k3.csv", &gbk, Encoding::Auto).unwrap() else { panic!() };
/// let mut cell = String::new();
/// push_gb(&bytes[..8], &mut cell);
/// assert_eq!(cell, "凭证日期");
/// assert_eq!(check("a.csv", "日期".as_bytes(), Encoding::Auto).unwrap(), Text::Utf8("日期"));
/// ```
pub fn check<'a>(file: &str, bytes: &'a [u8], encoding: Encoding) -> Result<Text<'a>, Error> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        let gb_after_bom = |named| gb_check(file, rest, named).map_err(after_bom);
        return match encoding {
            Encoding::Utf8 => utf8(file, rest, "utf-8-bom").map(|d| Text::Utf8(borrowed(d, rest))),
            Encoding::Auto => match std::str::from_utf8(rest) {
                Ok(text) => Ok(Text::Utf8(text)),
                Err(_) => gb_after_bom(Encoding::Auto),
            },
            Encoding::Gbk | Encoding::Gb18030 => gb_after_bom(encoding),
        };
    }
    match encoding {
        Encoding::Utf8 => utf8(file, bytes, "utf-8").map(|d| Text::Utf8(borrowed(d, bytes))),
        Encoding::Gbk | Encoding::Gb18030 => gb_check(file, bytes, encoding),
        Encoding::Auto => match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Text::Utf8(text)),
            Err(_) => gb_check(file, bytes, Encoding::Auto),
        },
    }
}

/// The text of a [`utf8`] result, which borrows `bytes`.
fn borrowed<'a>(decoded: Decoded<'a>, bytes: &'a [u8]) -> &'a str {
    match decoded.text {
        Cow::Borrowed(text) => text,
        // `utf8` never copies; should it, the bytes are the same valid text.
        Cow::Owned(_) => std::str::from_utf8(bytes).unwrap_or_default(),
    }
}

/// Checks that `bytes` decode as GB18030, 64 KiB of output at a time.
fn gb_check<'a>(file: &str, bytes: &'a [u8], named: Encoding) -> Result<Text<'a>, Error> {
    let label = if named == Encoding::Gbk {
        "GBK"
    } else {
        "GB18030"
    };
    if two_byte_gb(bytes) {
        return Ok(Text::Gb(bytes));
    }
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut scratch = String::with_capacity(1 << 16);
    let mut read = 0;
    loop {
        scratch.clear();
        let rest = bytes.get(read..).unwrap_or_default();
        let (result, n) = decoder.decode_to_string_without_replacement(rest, &mut scratch, true);
        read += n;
        match result {
            encoding_rs::DecoderResult::InputEmpty => return Ok(Text::Gb(bytes)),
            encoding_rs::DecoderResult::OutputFull if n > 0 => {}
            encoding_rs::DecoderResult::OutputFull => {
                return Err(Error::Malformed {
                    file: file.to_string(),
                    message: "decoder ran out of room".to_string(),
                })
            }
            encoding_rs::DecoderResult::Malformed(bad, _) => {
                let at = read.saturating_sub(usize::from(bad));
                return Err(bad_byte(file, bytes, at, label));
            }
        }
    }
}

/// Appends GB18030 `bytes` (whole characters of text [`check`] passed) to `out` as UTF-8.
/// A malformed sequence, which checked text does not hold, becomes U+FFFD.
pub fn push_gb(bytes: &[u8], out: &mut String) {
    push_gb_marked(bytes, &mut [].into_iter(), |_| {}, out);
}

/// [`push_gb`], telling `mark` the length of `out` as the input reaches each of the
/// increasing offsets `at` (ends of cells in a row's bytes, say, which fall between
/// characters): a row's cells decoded in one pass.
///
/// ```
/// let gbk = encoding_rs::GBK.encode("日期2025客户").0.into_owned();
/// let (mut text, mut ends) = (String::new(), Vec::new());
/// ledgerlens_adapter::push_gb_marked(&gbk, &mut [4, 8, 8, 12].into_iter(), |n| ends.push(n), &mut text);
/// assert_eq!((text.as_str(), ends), ("日期2025客户", vec![6, 10, 10, 16]));
/// ```
pub fn push_gb_marked(
    bytes: &[u8],
    at: &mut dyn Iterator<Item = usize>,
    mut mark: impl FnMut(usize),
    out: &mut String,
) {
    let table = two_byte_table();
    let mut next = at.next();
    let mut i = 0;
    loop {
        // (An offset inside a character, which cell ends are not, marks its end.)
        while next.is_some_and(|end| end <= i) {
            mark(out.len());
            next = at.next();
        }
        if i >= bytes.len() {
            break;
        }
        let ascii = ascii_run(bytes.get(i..).unwrap_or_default());
        if ascii > 0 {
            let run = bytes.get(i..i + ascii).unwrap_or_default();
            out.push_str(std::str::from_utf8(run).unwrap_or_default());
            // Marks inside the run: ASCII is one byte in and out.
            while let Some(end) = next.filter(|&end| end < i + ascii) {
                mark(out.len() - (i + ascii - end.max(i)));
                next = at.next();
            }
            i += ascii;
            continue;
        }
        let (lead, trail) = (bytes.get(i).copied(), bytes.get(i + 1).copied());
        let two = match (lead, trail) {
            (Some(lead), Some(trail)) => two_byte_index(lead, trail)
                .and_then(|k| table.get(k))
                .and_then(|&u| char::from_u32(u32::from(u)))
                .filter(|&c| c != '\0'),
            _ => None,
        };
        if lead == Some(0x80) {
            out.push('€');
            i += 1;
        } else if let Some(c) = two {
            out.push(c);
            i += 2;
        } else {
            // A four-byte character (or a bad byte): encoding_rs.
            let n = if trail.is_some_and(|t| t.is_ascii_digit()) {
                4
            } else {
                1
            };
            let piece = bytes.get(i..i + n).unwrap_or_default();
            match encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(piece) {
                Some(text) if !piece.is_empty() => out.push_str(&text),
                _ => out.push('\u{fffd}'),
            }
            i += n.max(1);
        }
    }
}

/// The length of the run of ASCII bytes `bytes` starts with.
fn ascii_run(bytes: &[u8]) -> usize {
    let mut i = 0;
    while bytes.get(i..i + 16).is_some_and(<[u8]>::is_ascii) {
        i += 16;
    }
    while bytes.get(i).is_some_and(u8::is_ascii) {
        i += 1;
    }
    i
}

/// The table index of a GB18030 two-byte character: lead `0x81..=0xFE`, trail
/// `0x40..=0x7E` or `0x80..=0xFE`.
#[inline]
fn two_byte_index(lead: u8, trail: u8) -> Option<usize> {
    if !(0x81..=0xFE).contains(&lead) {
        return None;
    }
    let t = match trail {
        0x40..=0x7E => trail - 0x40,
        0x80..=0xFE => trail - 0x41,
        _ => return None,
    };
    Some(usize::from(lead - 0x81) * 190 + usize::from(t))
}

/// Every GB18030 two-byte character as its (BMP) code point, 0 where encoding_rs does
/// not decode the pair to one BMP character; built once, from encoding_rs, so the fast
/// paths decode exactly as it does.
fn two_byte_table() -> &'static [u16] {
    static TABLE: std::sync::OnceLock<Vec<u16>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![0u16; 126 * 190];
        for lead in 0x81..=0xFEu8 {
            for trail in (0x40..=0x7Eu8).chain(0x80..=0xFE) {
                let Some(k) = two_byte_index(lead, trail) else {
                    continue;
                };
                let pair = [lead, trail];
                let decoded =
                    encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(&pair);
                let mut chars = decoded.as_deref().unwrap_or_default().chars();
                if let (Some(c), None) = (chars.next(), chars.next()) {
                    if let (Ok(u), Some(slot)) = (u16::try_from(u32::from(c)), table.get_mut(k)) {
                        *slot = u;
                    }
                }
            }
        }
        table
    })
}

/// Whether `bytes` hold only ASCII, `0x80` (€) and two-byte characters that decode: GB
/// text that certainly decodes, found without decoding it. `false` says nothing (four-byte
/// characters, or a bad byte): [`gb_check`] then decodes to find out.
fn two_byte_gb(bytes: &[u8]) -> bool {
    let table = two_byte_table();
    let mut i = 0;
    while i < bytes.len() {
        i += ascii_run(bytes.get(i..).unwrap_or_default());
        match (bytes.get(i), bytes.get(i + 1)) {
            (None, _) => return true,
            (Some(0x80), _) => i += 1,
            (Some(&lead), Some(&trail)) => {
                match two_byte_index(lead, trail).and_then(|k| table.get(k)) {
                    Some(&u) if u != 0 => i += 2,
                    _ => return false,
                }
            }
            _ => return false,
        }
    }
    true
}

fn utf8<'a>(file: &str, bytes: &'a [u8], name: &'static str) -> Result<Decoded<'a>, Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Decoded {
            text: Cow::Borrowed(text),
            encoding: name,
        }),
        Err(e) => Err(bad_byte(file, bytes, e.valid_up_to(), "UTF-8")),
    }
}

fn gb<'a>(file: &str, bytes: &'a [u8], named: Encoding) -> Result<Decoded<'a>, Error> {
    let label = if named == Encoding::Gbk {
        "GBK"
    } else {
        "GB18030"
    };
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut text = String::with_capacity(bytes.len() * 3 / 2 + 16);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        encoding_rs::DecoderResult::InputEmpty => {}
        encoding_rs::DecoderResult::Malformed(bad, _) => {
            let at = read.saturating_sub(usize::from(bad));
            return Err(bad_byte(file, bytes, at, label));
        }
        encoding_rs::DecoderResult::OutputFull => {
            // decode_to_string reserves as it goes; reaching here is a bug in our sizing.
            return Err(Error::Malformed {
                file: file.to_string(),
                message: "decoder ran out of room".to_string(),
            });
        }
    }
    let four_byte = has_gb18030_four_byte(bytes);
    let encoding = if four_byte { "gb18030" } else { "gbk" };
    Ok(Decoded {
        text: Cow::Owned(text),
        encoding,
    })
}

/// Whether the bytes hold a GB18030 four-byte sequence (lead 0x81-0xFE, then 0x30-0x39).
fn has_gb18030_four_byte(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            i += 1;
        } else if i + 1 < bytes.len() && (0x30..=0x39).contains(&bytes[i + 1]) {
            return true;
        } else {
            i += 2;
        }
    }
    false
}

fn bad_byte(file: &str, bytes: &[u8], offset: usize, encoding: &'static str) -> Error {
    let line = bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1;
    Error::Encoding {
        file: file.to_string(),
        encoding,
        line,
        offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(s: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(s).0.into_owned()
    }

    #[test]
    fn detects_utf8_bom_gbk_gb18030() {
        let d = decode("a", "客户,金额\n".as_bytes(), Encoding::Auto).unwrap();
        assert_eq!((d.text.as_ref(), d.encoding), ("客户,金额\n", "utf-8"));
        let bom = [b"\xEF\xBB\xBF".as_slice(), "客户".as_bytes()].concat();
        let d = decode("a", &bom, Encoding::Auto).unwrap();
        assert_eq!((d.text.as_ref(), d.encoding), ("客户", "utf-8-bom"));
        let g = gbk("凭证日期,借方\n");
        let d = decode("a", &g, Encoding::Auto).unwrap();
        assert_eq!((d.text.as_ref(), d.encoding), ("凭证日期,借方\n", "gbk"));
        let g18 = encoding_rs::GB18030.encode("€ 𠀀").0.into_owned();
        let d = decode("a", &g18, Encoding::Gb18030).unwrap();
        assert_eq!((d.text.as_ref(), d.encoding), ("€ 𠀀", "gb18030"));
        // A UTF-8 BOM before GBK text: dropped, the rest read as GBK (told or not).
        let bom_gbk = [b"\xEF\xBB\xBF".as_slice(), &gbk("凭证日期,借方\n")].concat();
        for named in [Encoding::Auto, Encoding::Gbk] {
            let d = decode("a", &bom_gbk, named).unwrap();
            assert_eq!((d.text.as_ref(), d.encoding), ("凭证日期,借方\n", "gbk"));
        }
    }

    #[test]
    fn wrong_encoding_names_the_line() {
        let mut bytes = b"a,b\nc,d\n".to_vec();
        bytes.extend(gbk("客户"));
        let err = decode("x.csv", &bytes, Encoding::Utf8).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.csv:3: not valid UTF-8 text (first bad byte at offset 8); name the file's encoding with `encoding:` in its source"
        );
        let err = decode("x.csv", b"ok\n\xFF\xFF", Encoding::Gbk).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Encoding {
                    line: 2,
                    encoding: "GBK",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn check_agrees_with_decode() {
        let gbk_text = gbk("凭证日期,借方\n");
        let bom_gbk = [b"\xEF\xBB\xBF".as_slice(), &gbk_text].concat();
        let bom_utf8 = [b"\xEF\xBB\xBF".as_slice(), "客户".as_bytes()].concat();
        let mut bad = b"a,b\nc,d\n".to_vec();
        bad.extend(gbk("客户"));
        bad.extend(b"\n\xFF\xFF");
        let bom_bad = [b"\xEF\xBB\xBF".as_slice(), &bad].concat();
        let inputs: [&[u8]; 7] = [
            "客户,金额\n".as_bytes(),
            &gbk_text,
            &bom_gbk,
            &bom_utf8,
            &bad,
            &bom_bad,
            b"ok\n\x81",
        ];
        for bytes in inputs {
            for named in [
                Encoding::Auto,
                Encoding::Utf8,
                Encoding::Gbk,
                Encoding::Gb18030,
            ] {
                let checked = check("f", bytes, named);
                match decode("f", bytes, named) {
                    Ok(decoded) => {
                        let text = match checked.unwrap() {
                            Text::Utf8(text) => text.to_string(),
                            Text::Gb(raw) => {
                                let mut text = String::new();
                                push_gb(raw, &mut text);
                                text
                            }
                        };
                        assert_eq!(text, decoded.text, "{bytes:?} {named}");
                    }
                    Err(e) => assert_eq!(
                        checked.unwrap_err().to_string(),
                        e.to_string(),
                        "{bytes:?} {named}"
                    ),
                }
            }
        }
    }

    #[test]
    fn push_gb_decodes_as_encoding_rs() {
        let mut all = Vec::new();
        for lead in 0x81..=0xFEu8 {
            for trail in (0x40..=0x7Eu8).chain(0x80..=0xFE) {
                all.extend([lead, trail, b',']);
            }
        }
        all.extend(b"\x80 \x81\x30\x81\x30 \x95\x32\x82\x36 x");
        let (expected, _, errors) = encoding_rs::GB18030.decode(&all);
        assert!(!errors);
        let mut text = String::new();
        push_gb(&all, &mut text);
        assert_eq!(text, expected);
        // Cell by cell, as rows are decoded.
        let mut cells = String::new();
        for cell in all.split(|&b| b == b',') {
            push_gb(cell, &mut cells);
            cells.push(',');
        }
        cells.pop();
        assert_eq!(cells, expected);
        // In one pass, with the cells' ends marked.
        let mut ends = Vec::new();
        let mut at = 0;
        let cuts: Vec<usize> = all
            .split(|&b| b == b',')
            .map(|cell| {
                at += cell.len();
                at
            })
            .collect();
        let joined: Vec<u8> = all.iter().copied().filter(|&b| b != b',').collect();
        let mut text = String::new();
        push_gb_marked(&joined, &mut cuts.into_iter(), |n| ends.push(n), &mut text);
        let mut start = 0;
        let rebuilt: Vec<&str> = ends
            .iter()
            .map(|&end| {
                let cell = &text[start..end];
                start = end;
                cell
            })
            .collect();
        assert_eq!(rebuilt.join(","), expected);
        // The fast check passes two-byte text and leaves four-byte text to the decoder.
        assert!(two_byte_gb(&gbk("凭证日期,借方\n€")));
        assert!(!two_byte_gb(b"\x81\x30\x81\x30"));
        assert!(!two_byte_gb(b"ok\xFF"));
        assert!(!two_byte_gb(b"ok\x81"));
    }
}
