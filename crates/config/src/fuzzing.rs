//! Property checks shared by the `cargo fuzz` target `config` (`fuzz/`) and the stable tests
//! that replay its corpus. Compiled for tests and with the `fuzzing` feature only.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "property checks fail by panicking: that is how a fuzzer sees a finding"
)]

use std::path::Path;

use crate::load_str;

/// The only environment variables a fuzzed config sees.
fn env(name: &str) -> Option<String> {
    match name {
        "UPSTREAM_HOST" => Some("127.0.0.1".into()),
        "SECRET" => Some("s3cr3t-value-for-fuzzing-0123456789".into()),
        _ => None,
    }
}

/// The config loader on one fuzz input (YAML text). Relative file references resolve under
/// a directory that does not exist. Properties: nothing panics; a refused config has at
/// least one diagnostic, each naming this file (or a file it refers to), with a message,
/// at a line inside the text (or line 0: the whole file); the diagnostics render.
pub fn check_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Path::new("/nonexistent/portcullis-fuzz");
    match load_str("fuzz.yaml", text, base, &env) {
        Ok(_config) => {}
        Err(diags) => {
            assert!(!diags.items.is_empty(), "refused without a reason");
            // Lines as YAML counts them: a lone CR ends a line too.
            let lines = crate::diag::yaml_lines(text).count() as u64 + 1;
            for d in &diags.items {
                assert!(!d.message.is_empty(), "empty diagnostic message");
                if d.file == "fuzz.yaml" {
                    assert!(
                        d.loc.line <= lines,
                        "diagnostic at line {} of a {lines}-line text: {}",
                        d.loc.line,
                        d.message
                    );
                }
            }
            let rendered = diags.render();
            assert!(rendered.contains("found"), "{rendered}");
        }
    }
}

/// The OpenAPI converter on one fuzz input (a JSON or YAML document). Properties: nothing
/// panics; a refused document has at least one problem, each with a JSON path starting at
/// `$`, a message and a help; an accepted one is an API mapping whose emitted YAML parses
/// back to the same tree (locations aside).
pub fn check_openapi(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::openapi::convert(text, None) {
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem");
            for p in &problems {
                assert!(p.json_path.starts_with('$'), "{p}");
                assert!(!p.message.is_empty(), "{p}");
            }
        }
        Ok(converted) => {
            assert!(
                matches!(converted.api.value, crate::yaml::Value::Map(_)),
                "not a mapping"
            );
            let emitted = crate::yaml::emit(&converted.api);
            let back = crate::yaml::parse(&emitted).unwrap_or_else(|e| {
                panic!("emitted YAML does not parse: {}\n{emitted}", e.message)
            });
            assert_eq!(
                back.without_locations(),
                converted.api.without_locations(),
                "{emitted}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn config_corpus() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_config(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    #[test]
    fn golden_configs() {
        // The golden files are a ready-made corpus of both good and bad configs.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                check_config(&std::fs::read(&path).unwrap());
            }
        }
    }

    #[test]
    fn openapi_fixtures() {
        // The import's test documents are a ready-made corpus of good and bad documents.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json" || e == "yaml") {
                check_openapi(&std::fs::read(&path).unwrap());
                n += 1;
            }
        }
        assert!(n > 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn openapi_random_documents(text in "(openapi: 3.0.1\n|info: \\{title: t, version: '1'\\}\n|paths:\n|  /a:\n|  /\\{p\\}:\n|    get:\n|    x-amazon-apigateway-any-method:\n|      security: \\[\\]\n|      x-amazon-apigateway-integration:\n|        type: (mock|http_proxy|aws_proxy|http|aws)\n|        uri: (http://x/\\{p\\}|arn:aws:lambda:f)\n|        httpMethod: GET\n|x-amazon-apigateway-cors: \\{allowOrigins: \\[\"\\*\"\\]\\}\n|x-amazon-apigateway-unknown: 1\n|\\{|\\}|: |- |\n){0,24}") {
            check_openapi(text.as_bytes());
        }

        #[test]
        fn config_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            check_config(&data);
        }

        #[test]
        fn config_random_yaml(text in "(listen|routes|apis|authorizers|  |- |: |\\{|\\}|\\[|\\]|\"|'|&a|\\*a|!!str|\n|GET|/a/\\{proxy\\+\\}|http://x|1s|-1|0x10|~|#|type: jwt|issuer: x|models|schema|\\$ref|request_models|request_validator|request_parameters|method.request.path.x|body: true|validation){0,40}") {
            check_config(text.as_bytes());
        }
    }
}
