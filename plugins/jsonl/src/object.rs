//! One line's JSON object: its keys, and each value's literal text (so numbers keep their
//! digits), in line order, borrowed from the line where possible.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The members of a JSON object, in order (duplicates kept, for the reader to report).
pub(crate) struct Object<'t>(pub Vec<(Cow<'t, str>, &'t RawValue)>);

impl<'t> Object<'t> {
    /// Parses a line that should hold one JSON object.
    pub fn parse(line: &'t str) -> Result<Object<'t>, serde_json::Error> {
        serde_json::from_str(line)
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Object<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(12));
        while let Some(Key(key)) = map.next_key()? {
            let value: &'de RawValue = map.next_value()?;
            members.push((key, value));
        }
        Ok(Object(members))
    }
}

/// A key: borrowed from the line unless it has escapes.
struct Key<'t>(Cow<'t, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// What a value is, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `"..."`
    String,
    /// `-1.5`, `12`, `1e3`
    Number,
    /// `true` / `false`
    Bool,
    /// `null`
    Null,
    /// `[...]`
    List,
    /// `{...}`
    Object,
}

impl Kind {
    /// The kind of a raw JSON value (which serde_json has already checked).
    pub fn of(raw: &RawValue) -> Kind {
        match raw.get().as_bytes().first() {
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            Some(b'[') => Kind::List,
            Some(b'{') => Kind::Object,
            _ => Kind::Number,
        }
    }

    /// How a message names it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
            Kind::List => "a list",
            Kind::Object => "an object",
        }
    }
}

/// Appends a JSON string's text (without quotes, escapes resolved) to `out`.
pub(crate) fn push_string(raw: &RawValue, out: &mut String) -> Result<(), serde_json::Error> {
    let text = raw.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => out.push_str(inner),
        _ => out.push_str(&serde_json::from_str::<Cow<'_, str>>(text)?),
    }
    Ok(())
}

/// A JSON string's text (escapes resolved), borrowed when it has no escapes; `None` for
/// other values.
pub(crate) fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_order_duplicates_and_literal_numbers() {
        let line = r#"{"amount": 0.10, "a\u0062": "x\"y", "amount": 1e3, "n": null}"#;
        let object = Object::parse(line).unwrap();
        let members: Vec<(&str, &str)> = object
            .0
            .iter()
            .map(|(k, v)| (k.as_ref(), v.get()))
            .collect();
        assert_eq!(
            members,
            [
                ("amount", "0.10"),
                ("ab", r#""x\"y""#),
                ("amount", "1e3"),
                ("n", "null")
            ]
        );
        let mut out = String::new();
        push_string(object.0[1].1, &mut out).unwrap();
        assert_eq!(out, "x\"y");
        assert_eq!(string(object.0[1].1).as_deref(), Some("x\"y"));
        assert!(matches!(
            string(&RawValue::from_string(r#""plain""#.into()).unwrap()),
            Some(Cow::Borrowed("plain"))
        ));
        assert_eq!(string(object.0[0].1), None);
        assert_eq!(Kind::of(object.0[2].1), Kind::Number);
        assert_eq!(Kind::of(object.0[3].1), Kind::Null);
    }

    #[test]
    fn non_objects_and_broken_lines_are_errors() {
        assert!(Object::parse("[1, 2]").is_err());
        assert!(Object::parse(r#"{"a": 1"#).is_err());
        assert!(Object::parse(r#"{"a": 1} trailing"#).is_err());
    }
}
