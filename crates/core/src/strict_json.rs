//! JSON read strictly, for what users send the function (an event, `--connections`,
//! `CONNECTIONS`): a key given twice, or a key whose value is `null`, is refused with
//! where it is. A plain parse keeps the last duplicate silently, so
//! `{"dry_run": true, "dry_run": false}` would write; and `null` would mean "unset" for
//! one key and be refused for another.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// Parses `text` as JSON, refusing duplicate keys at any depth. Nesting deeper than
/// serde_json's limit (128) is refused as well (serde_json's "recursion limit exceeded").
pub fn parse(text: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    // A second pass over the text: the parse above already kept the last duplicate.
    let mut de = serde_json::Deserializer::from_str(text);
    Keys { path: Path::Root }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    Ok(value)
}

/// The keys a `#[derive(Deserialize)]` struct accepts, in declaration order, as the derive
/// itself lists them (it hands them to `Deserializer::deserialize_struct`): the one list of a
/// request's keys, so the parser (`deny_unknown_fields`), the CLI's help and the error
/// messages cannot drift apart. Empty for anything that is not a struct.
pub fn fields_of<'de, T: de::Deserialize<'de>>() -> &'static [&'static str] {
    /// Carries the list out of the derive, as its error.
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl fmt::Display for Fields {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "fields {:?}", self.0)
        }
    }
    impl std::error::Error for Fields {}
    impl de::Error for Fields {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Self(&[])
        }
    }
    struct Probe;
    impl<'de> Deserializer<'de> for Probe {
        type Error = Fields;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Fields(fields)) => fields,
        Ok(_) => &[],
    }
}

/// `{"a", "b"}`: keys as the messages and the help show them.
pub fn braced(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
    format!("{{{}}}", quoted.join(", "))
}

/// Refuses a `null` in `value` or anywhere inside it, naming where: `path` is where
/// `value` sits (`connections`, `detail.dry_run`).
pub fn no_nulls(value: &Value, path: &str) -> Result<(), String> {
    match value {
        Value::Null => Err(format!(
            "{path} is null: leave the key out, or give it a value"
        )),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| no_nulls(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(key, item)| no_nulls(item, &format!("{path}.{key}"))),
        _ => Ok(()),
    }
}

/// Where a value sits, for messages: `connections[0]`, `detail`, or the top.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Walks a value only to check its objects' keys. serde_json counts the depth of every
/// array and object it hands to a visitor, so this recursion stops at its limit too.
struct Keys<'a> {
    path: Path<'a>,
}

impl<'de> DeserializeSeed<'de> for Keys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Keys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(Keys {
                path: Path::Index(&self.path, index),
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    // With serde_json's `arbitrary_precision`, a number also arrives as a one-key map.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                let at = match self.path {
                    Path::Root => String::new(),
                    path => format!(" in {path}"),
                };
                return Err(de::Error::custom(format!(
                    "the key {key:?} is given twice{at}; give it once"
                )));
            }
            map.next_value_seed(Keys {
                path: Path::Key(&self.path, &key),
            })?;
            seen.insert(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for (text, says) in [
            (
                r#"{"dry_run": true, "connections": [{"conn_id": "a"}], "dry_run": false}"#,
                r#"the key "dry_run" is given twice; give it once"#,
            ),
            (
                r#"{"connections": [{"conn_id": "a"}, {"conn_id": "b", "region": "eu-west-1", "region": "us-east-1"}]}"#,
                r#"the key "region" is given twice in connections[1]; give it once"#,
            ),
            (
                r#"{"detail-type": "x", "source": "y", "detail": {"a": {"b": 1, "b": 2}}}"#,
                r#"the key "b" is given twice in detail.a; give it once"#,
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.starts_with(says), "{text}: {err}");
            assert!(err.contains("at line 1 column"), "{err}");
        }
    }

    #[test]
    fn values_come_back_as_written() {
        let text = r#"{"a": [1, 1e400, 0.1, "x", true, null, {"a": {}}], "b": {"a": 1}}"#;
        let value = parse(text).unwrap();
        assert_eq!(value, serde_json::from_str::<Value>(text).unwrap());
        assert_eq!(value["a"][1].to_string(), "1e+400", "no digit is lost");
    }

    #[test]
    fn nesting_beyond_the_limit_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(&deep).unwrap_err();
        assert!(err.starts_with("recursion limit exceeded"), "{err}");
        let deep = format!("{}1{}", r#"{"a":"#.repeat(200), "}".repeat(200));
        assert!(
            parse(&deep)
                .unwrap_err()
                .starts_with("recursion limit exceeded")
        );
        let fine = format!("{}1{}", r#"{"a":"#.repeat(100), "}".repeat(100));
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = parse(r#"{"dry_run": tru}"#).unwrap_err();
        assert!(err.contains("line 1 column"), "{err}");
        assert!(parse("{} {}").is_err(), "trailing data");
    }

    #[test]
    fn nulls_are_refused_where_they_are() {
        assert_eq!(
            no_nulls(&json!([{"conn_id": "a", "region": null}]), "connections"),
            Err("connections[0].region is null: leave the key out, or give it a value".into())
        );
        assert!(no_nulls(&Value::Null, "detail").is_err());
        assert!(no_nulls(&json!({"a": [1, "x", {"b": false}]}), "x").is_ok());
    }
}
