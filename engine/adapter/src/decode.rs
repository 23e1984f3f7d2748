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

/// Decodes `bytes` as `encoding`; `Auto` takes UTF-8 when the bytes are valid UTF-8 and
/// GB18030 otherwise. Invalid bytes are an [`Error::Encoding`] naming the line.
pub fn decode<'a>(file: &str, bytes: &'a [u8], encoding: Encoding) -> Result<Decoded<'a>, Error> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        // Some tools put a UTF-8 BOM before GBK text: the BOM is dropped either way.
        let gb_after_bom = |named| {
            gb(file, rest, named).map_err(|e| match e {
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
            })
        };
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
}
