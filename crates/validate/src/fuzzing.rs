//! Property checks shared by the `cargo fuzz` target `validate_body` (`fuzz/`) and the stable
//! tests that replay its corpus. Compiled for tests and with the `fuzzing` feature only.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "property checks fail by panicking: that is how a fuzzer sees a finding"
)]

use std::sync::{Arc, OnceLock};

use serde_json::json;

use crate::{BodyLimits, MAX_ERROR_STRING, Model, Models, check_depth};

/// A small model with the keywords a body meets most: types, enum, pattern, bounds, arrays,
/// a reference to another model, a recursive property.
fn model() -> &'static Arc<Model> {
    static MODEL: OnceLock<Arc<Model>> = OnceLock::new();
    MODEL.get_or_init(|| {
        let url = "https://apigateway.amazonaws.com/restapis/fuzz/models/";
        let models = Models::compile(
            "fuzz",
            &[
                (
                    "Pet".to_owned(),
                    json!({
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {"type": "string", "enum": ["dog", "cat"]},
                            "name": {"type": "string", "pattern": "^[A-Za-z ]{1,20}$", "maxLength": 20},
                            "price": {"type": "number", "minimum": 0, "exclusiveMaximum": true, "maximum": 1000},
                            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "uniqueItems": true},
                            "owner": {"$ref": format!("{url}Owner")},
                            "children": {"type": "array", "items": {"$ref": format!("{url}Pet")}}
                        },
                        "additionalProperties": false
                    }),
                ),
                (
                    "Owner".to_owned(),
                    json!({"type": ["object", "null"], "properties": {"email": {"type": "string", "format": "email"}}}),
                ),
            ],
        )
        .unwrap();
        models.get("Pet").unwrap()
    })
}

/// One fuzz input: the first byte picks the depth limit (1..=64), the rest is a body.
/// Properties: nothing panics; the error string is a bracketed list of at most
/// [`MAX_ERROR_STRING`] bytes; a body serde_json parses has the depth the scan reports, and
/// is refused for depth exactly when that depth is over the limit; a body the scan refuses
/// is never accepted.
pub fn check_body(data: &[u8]) {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let limits = BodyLimits {
        max_depth: u32::from(first % 64) + 1,
    };
    let scan = check_depth(body, limits.max_depth);
    let result = model().check(body, &limits);
    if let Err(e) = &result {
        assert!(
            e.len() <= MAX_ERROR_STRING,
            "error string of {} bytes",
            e.len()
        );
        assert!(e.starts_with('[') && e.ends_with(']'), "{e}");
    }
    if scan.is_err() {
        assert!(result.is_err(), "a body over the depth limit was accepted");
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let depth = parsed_depth(&value);
        match scan {
            Ok(d) => assert_eq!(d, depth, "scan and parser disagree"),
            Err(d) => assert!(
                depth > limits.max_depth && d == limits.max_depth + 1,
                "scan refused depth {d}, parsed depth {depth}, limit {}",
                limits.max_depth
            ),
        }
        if scan.is_ok() {
            assert_eq!(
                result.is_ok(),
                model().is_valid(&value),
                "check and is_valid disagree"
            );
        }
    }
}

fn parsed_depth(v: &serde_json::Value) -> u32 {
    match v {
        serde_json::Value::Array(items) => 1 + items.iter().map(parsed_depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(parsed_depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn validate_body_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/validate_body");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_body(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            check_body(&data);
        }

        #[test]
        fn random_json_like(depth in any::<u8>(), text in "(\\{|\\}|\\[|\\]|\"|\\\\|,|:|\"type\"|\"dog\"|\"cat\"|\"name\"|\"tags\"|\"owner\"|\"children\"|\"price\"|1|-1|1e400|null|true| ){0,60}") {
            let mut data = vec![depth];
            data.extend_from_slice(text.as_bytes());
            check_body(&data);
        }
    }
}
