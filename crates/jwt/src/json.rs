//! Strict JSON for token headers and claims: a key that appears twice in any object, nesting
//! deeper than 32 levels, or a document that is not an object is refused. (serde_json alone
//! keeps the last of two duplicate keys, so `{"sub":"alice","sub":"admin"}` would read
//! differently here than in a library that keeps the first.)

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 32;

/// Parses `bytes` (UTF-8 JSON) into an object, refusing duplicate keys anywhere.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = de
        .deserialize_any(StrictVisitor { depth: 0 })
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    match v {
        Value::Object(m) => Ok(m),
        _ => Err("not a JSON object".into()),
    }
}

struct StrictVisitor {
    depth: usize,
}

struct Strict {
    depth: usize,
}

impl<'de> de::DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor { depth: self.depth })
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom("nested too deeply"));
        }
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict {
            depth: self.depth + 1,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom("nested too deeply"));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value_seed(Strict {
                depth: self.depth + 1,
            })?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_depth_and_shape() {
        assert!(parse_object(br#"{"a":1,"b":{"c":[1,2,{"d":null}]}}"#).is_ok());
        let e = parse_object(br#"{"sub":"alice","sub":"admin"}"#).unwrap_err();
        assert!(e.contains("duplicate key `sub`"), "{e}");
        assert!(parse_object(br#"{"a":{"x":1,"x":2}}"#).is_err());
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(br#"{"a":1} trailing"#).is_err());
        assert!(parse_object(b"{\"a\":\"\xff\"}").is_err(), "not UTF-8");
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert!(parse_object(format!("{{\"a\":{deep}}}").as_bytes()).is_err());
    }
}
