//! Canonical forms for matching: full-width text, names, phones, unified social credit codes.
//!
//! ```
//! use ledgerlens_model::normalize;
//! assert_eq!(normalize::name_key("  上海ＡＢＣ贸易（集团）有限责任公司 "), "上海abc贸易(集团)有限公司");
//! assert_eq!(normalize::phone("+86 138-0013-8000").as_deref(), Some("+8613800138000"));
//! ```

/// An ISO 4217 code for the ways exports write common currencies (`RMB`, `人民币`, `¥`,
/// `美元`, `港币`, lower case); other values unchanged.
pub fn currency(raw: &str) -> &str {
    match raw.trim() {
        "RMB" | "rmb" | "Rmb" | "CNY" | "cny" | "人民币" | "¥" | "￥" | "本位币" => "CNY",
        "USD" | "usd" | "US$" | "美元" | "$" => "USD",
        "HKD" | "hkd" | "HK$" | "港币" | "港元" => "HKD",
        "EUR" | "eur" | "欧元" | "€" => "EUR",
        "JPY" | "jpy" | "日元" => "JPY",
        other => other,
    }
}

/// Full-width ASCII forms (U+FF01..U+FF5E) and the ideographic space to their half-width
/// equivalents; everything else unchanged.
pub fn to_halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Company-form suffixes, all unified to `有限公司` in a name key. Compared without
/// whitespace, first match wins: a suffix must come before any suffix of itself
/// (`co.,ltd.` before `ltd.`).
const SUFFIXES: [&str; 16] = [
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "co.,ltd.",
    "co.,ltd",
    "co.ltd.",
    "co.ltd",
    "co.,limited",
    "co.limited",
    "company limited",
    "corporation limited",
    "co., ltd.",
    "limited",
    "ltd.",
    "ltd",
    "(有限公司)",
];

/// The key two spellings of one customer name share: half-width, lower-case ASCII, no
/// whitespace, `()` for every bracket form, and company-form suffixes unified
/// (有限责任公司, 股份有限公司, Co., Ltd. -> 有限公司).
pub fn name_key(name: &str) -> String {
    let half = to_halfwidth(name).to_lowercase();
    let mut key: String = half
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '[' | '【' | '〔' | '〖' | '{' => '(',
            ']' | '】' | '〕' | '〗' | '}' => ')',
            _ => c,
        })
        .collect();
    for suffix in SUFFIXES {
        let compact: String = suffix.chars().filter(|c| !c.is_whitespace()).collect();
        if let Some(stem) = key.strip_suffix(compact.as_str()) {
            if !stem.is_empty() {
                key = format!("{stem}有限公司");
            }
            break;
        }
    }
    key
}

/// Region names a company name may start with (provinces, municipalities and the larger
/// cities), for [`name_stem`].
const REGIONS: [&str; 60] = [
    "北京",
    "上海",
    "天津",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
    "广州",
    "深圳",
    "杭州",
    "南京",
    "苏州",
    "无锡",
    "宁波",
    "温州",
    "厦门",
    "福州",
    "武汉",
    "长沙",
    "成都",
    "西安",
    "郑州",
    "济南",
    "青岛",
    "大连",
    "沈阳",
    "哈尔滨",
    "长春",
    "合肥",
    "南昌",
    "昆明",
    "东莞",
    "佛山",
];

/// The part of a name key that names the business itself, for finding *similar* names:
/// the key without its company form (`有限公司`), without bracketed parts (`(集团)`,
/// `(上海)`), and without a leading region (`上海`, `浙江省`, `杭州市`). Explainable and
/// cheap, not fuzzy: `上海星河贸易有限公司` and `星河贸易(上海)有限公司` share the stem
/// `星河贸易`.
///
/// ```
/// use ledgerlens_model::normalize::{name_key, name_stem};
/// assert_eq!(name_stem(&name_key("浙江省杭州星河贸易有限公司")), "杭州星河贸易");
/// assert_eq!(name_stem(&name_key("星河贸易（杭州）有限公司")), "星河贸易");
/// ```
pub fn name_stem(key: &str) -> String {
    let key = key.strip_suffix("有限公司").unwrap_or(key);
    let mut stem = String::with_capacity(key.len());
    let mut depth = 0u32;
    for c in key.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => stem.push(c),
            _ => {}
        }
    }
    for region in REGIONS {
        if let Some(rest) = stem.strip_prefix(region) {
            let rest = rest
                .strip_prefix('省')
                .or_else(|| rest.strip_prefix('市'))
                .unwrap_or(rest);
            if rest.chars().count() >= 2 {
                return rest.to_string();
            }
            break;
        }
    }
    stem
}

/// A phone number in E.164 form, or `None` when it is not one.
///
/// Chinese numbers: an 11-digit mobile (1[3-9]x) or a landline with its area code
/// (0 + 2 or 3 digit area code + 7 or 8 digits), with or without `+86` / `0086`, spaces,
/// dashes, dots, brackets or full-width digits. Other numbers written with a leading `+` and
/// 8 to 15 digits are kept as they are.
pub fn phone(raw: &str) -> Option<String> {
    let half = to_halfwidth(raw);
    let trimmed = half.trim();
    let international = trimmed.starts_with('+') || trimmed.starts_with("00");
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if trimmed
        .chars()
        .any(|c| !(c.is_ascii_digit() || " -+().".contains(c)))
    {
        return None;
    }
    let national = if let Some(rest) = digits.strip_prefix("0086") {
        rest.to_string()
    } else if let Some(rest) = digits.strip_prefix("86").filter(|r| r.len() >= 10) {
        rest.to_string()
    } else if international && trimmed.starts_with('+') {
        return (8..=15)
            .contains(&digits.len())
            .then(|| format!("+{digits}"));
    } else {
        digits
    };
    let bytes = national.as_bytes();
    let mobile = bytes.len() == 11 && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1]);
    if mobile {
        return Some(format!("+86{national}"));
    }
    let landline = bytes.first() == Some(&b'0') && (10..=12).contains(&bytes.len());
    if landline {
        return Some(format!("+86{}", &national[1..]));
    }
    // An area code without its trunk 0 after +86 (e.g. +86 21 5555 1234).
    if (9..=11).contains(&bytes.len()) && bytes[0] != b'1' && bytes[0] != b'0' {
        return Some(format!("+86{national}"));
    }
    None
}

/// Whether a phone in E.164 form is a Chinese mobile number.
pub fn is_mobile(e164: &str) -> bool {
    e164.strip_prefix("+86")
        .is_some_and(|n| n.len() == 11 && n.starts_with('1'))
}

/// The alphabet of unified social credit codes (GB 32100-2015): digits and capitals
/// without I, O, Z, S, V.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The check character for the first 17 characters of a unified social credit code, or
/// `None` when one of them is outside the alphabet.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    let mut weight = 1u32;
    for &b in bytes {
        let value = USCC_ALPHABET.iter().position(|&a| a == b)? as u32;
        sum += value * weight;
        weight = weight * 3 % 31;
    }
    let check = (31 - sum % 31) % 31;
    Some(char::from(USCC_ALPHABET[check as usize]))
}

/// The unified social credit code in canonical form (half-width, upper-case, trimmed) if
/// it is 18 characters of the alphabet with a valid check character; else `None`.
pub fn uscc(raw: &str) -> Option<String> {
    let code: String = to_halfwidth(raw)
        .trim()
        .to_ascii_uppercase()
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .collect();
    if code.len() != 18 || !code.is_ascii() {
        return None;
    }
    let check = uscc_check_char(&code[..17])?;
    (code.as_bytes()[17] == check as u8).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies() {
        assert_eq!(currency("RMB"), "CNY");
        assert_eq!(currency(" 人民币 "), "CNY");
        assert_eq!(currency("美元"), "USD");
        assert_eq!(currency("GBP"), "GBP");
    }

    #[test]
    fn halfwidth() {
        assert_eq!(to_halfwidth("１２３，４５６．７８"), "123,456.78");
        assert_eq!(to_halfwidth("ＡＢＣ\u{3000}公司"), "ABC 公司");
    }

    #[test]
    fn name_keys_unify_spellings() {
        let a = name_key("杭州 星河 贸易有限责任公司");
        let b = name_key("杭州星河贸易股份有限公司");
        let c = name_key("杭州星河贸易有限公司");
        assert_eq!(a, c);
        assert_eq!(b, c);
        assert_eq!(
            name_key("Acme Trading Co., Ltd."),
            name_key("ACME TRADING CO.,LTD")
        );
        assert_eq!(name_key("【华东】客户"), "(华东)客户");
        assert_ne!(name_key("星河贸易"), name_key("星海贸易"));
        assert_eq!(name_key("有限公司"), "有限公司");
    }

    #[test]
    fn name_keys_fill_the_identity_issue_gaps() {
        let c = name_key("杭州星河贸易有限公司");
        for spelling in [
            "杭州星河贸易有限公司",
            "杭州星河贸易有限责任公司",
            "杭州星河贸易股份有限公司",
            "杭州 星河 贸易　有限公司",
            "杭州星河贸易（有限公司）",
        ] {
            assert_eq!(name_key(spelling), c, "{spelling}");
        }
        let acme = name_key("Acme Trading Co., Ltd.");
        for spelling in [
            "ACME TRADING CO.,LTD",
            "Acme Trading Co.,Ltd.",
            "Acme Trading Co. Ltd",
            "Acme Trading Ltd.",
            "Acme Trading Ltd",
            "Acme Trading Limited",
            "Acme Trading Company Limited",
            "Acme Trading Co., Limited",
            "ＡＣＭＥ　ＴＲＡＤＩＮＧ　ＣＯ．，ＬＴＤ．",
        ] {
            assert_eq!(name_key(spelling), acme, "{spelling}");
        }
        assert_eq!(acme, "acmetrading有限公司");
        // Brackets of every width become ASCII ones, contents kept.
        assert_eq!(
            name_key("星河贸易（杭州）有限公司"),
            "星河贸易(杭州)有限公司"
        );
        assert_eq!(name_key("星河贸易(杭州)有限公司"), "星河贸易(杭州)有限公司");
        assert_eq!(name_key("〖华东〗客户"), "(华东)客户");
        // A word merely ending in the letters of a suffix is not a company form.
        assert_ne!(name_key("Zenith Ltd"), name_key("Zenith"));
    }

    #[test]
    fn name_stems_drop_form_brackets_and_region() {
        let stem = |n: &str| name_stem(&name_key(n));
        assert_eq!(stem("上海星河贸易有限公司"), "星河贸易");
        assert_eq!(stem("星河贸易（上海）有限公司"), "星河贸易");
        assert_eq!(stem("上海市星河贸易有限公司"), "星河贸易");
        assert_eq!(stem("浙江省星河贸易有限公司"), "星河贸易");
        assert_eq!(stem("星河贸易"), "星河贸易");
        // A region that is the whole name stays.
        assert_eq!(stem("上海有限公司"), "上海");
        assert_eq!(stem("上海市"), "上海市");
        assert_eq!(stem("Acme (HK) Ltd."), "acme");
    }

    #[test]
    fn phones() {
        assert_eq!(phone("13800138000").as_deref(), Some("+8613800138000"));
        assert_eq!(
            phone("+86 138 0013 8000").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            phone("0086-138-0013-8000").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            phone("８６１３８００１３８０００").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(phone("021-5555 1234").as_deref(), Some("+862155551234"));
        assert_eq!(phone("(0571)8888-6666").as_deref(), Some("+8657188886666"));
        assert_eq!(phone("+1 415 555 0100").as_deref(), Some("+14155550100"));
        assert_eq!(phone("12345"), None);
        assert_eq!(phone("n/a"), None);
        assert_eq!(phone("12800138000"), None);
        // Full-width digits, signs and brackets; +86 and 0086 with separators.
        for raw in [
            "＋８６ １３８－００１３－８０００",
            "(+86)138 0013 8000",
            "+86-138-0013-8000",
            "0086 13800138000",
            "138.0013.8000",
            " 13800138000 ",
        ] {
            assert_eq!(phone(raw).as_deref(), Some("+8613800138000"), "{raw}");
        }
        assert_eq!(
            phone("（０５７１）８８８８－６６６６").as_deref(),
            Some("+8657188886666")
        );
        assert_eq!(
            phone("+86 0571 8888 6666").as_deref(),
            Some("+8657188886666")
        );
        assert_eq!(
            phone("+86 571 8888 6666").as_deref(),
            Some("+8657188886666")
        );
        assert!(is_mobile("+8613800138000"));
        assert!(!is_mobile("+862155551234"));
    }

    #[test]
    fn uscc_check_character() {
        // Every valid body gets exactly one check character, and only it validates.
        let body = "91330100MA27XYBK1";
        let check = uscc_check_char(body).unwrap();
        let good = format!("{body}{check}");
        assert_eq!(uscc(&good).as_deref(), Some(good.as_str()));
        assert_eq!(uscc(&good.to_lowercase()).as_deref(), Some(good.as_str()));
        for c in USCC_ALPHABET.iter().map(|&b| char::from(b)) {
            if c != check {
                assert_eq!(uscc(&format!("{body}{c}")), None, "{c} must not validate");
            }
        }
        assert_eq!(uscc("91330100MA27XYBK"), None, "too short");
        assert_eq!(
            uscc_check_char("91330100MA27XYZ1I"),
            None,
            "I is not in the alphabet"
        );
    }

    #[test]
    fn uscc_published_examples() {
        // Codes printed on public business licences.
        assert!(uscc("91350100M000100Y43").is_some());
        assert!(uscc("91110108551385082Q").is_some());
        assert!(uscc("91350100M000100Y44").is_none());
    }
}
