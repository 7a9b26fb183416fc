//! Property checks shared by the `cargo fuzz` targets of the gateway's parsers (`fuzz/`) and
//! the stable tests that replay their corpora. Compiled for tests and with the `fuzzing`
//! feature only.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "property checks fail by panicking: that is how a fuzzer sees a finding"
)]

use portcullis_config::PayloadFormat;
use portcullis_policy::{MapContext, Request, evaluate};
use serde_json::Value;

pub use crate::integration::h1::fuzz::check_response as check_h1_response;
use crate::lambda::output::{MAX_RESOURCE_ARN, Output, parse};

/// A Lambda authorizer's answer. Byte 0 picks the payload format (REST, HTTP 1.0, HTTP 2.0)
/// and, for 2.0, simple responses; the rest is the function's answer. Properties: nothing
/// panics; an accepted answer is a JSON object whose `principalId` (IAM form) or
/// `isAuthorized` (simple form) is the one returned; the context has at most 64 entries,
/// none named `principalId` (nor `claims` in format 1.0); every statement `Resource` is at
/// most 512 characters; the compiled policy evaluates without panicking.
pub fn check_lambda_output(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let (format, simple) = match mode % 4 {
        0 => (PayloadFormat::Rest, false),
        1 => (PayloadFormat::Http1, false),
        2 => (PayloadFormat::Http2, false),
        _ => (PayloadFormat::Http2, true),
    };
    let Ok(output) = parse(body, format, simple) else {
        return;
    };
    let doc: Value = serde_json::from_slice(body).expect("an accepted answer is JSON");
    let context = match &output {
        Output::Simple {
            authorized,
            context,
        } => {
            assert!(simple, "a simple answer in a policy format");
            assert_eq!(doc["isAuthorized"].as_bool(), Some(*authorized));
            context
        }
        Output::Policy {
            principal_id,
            policy,
            context,
            ..
        } => {
            assert!(!simple, "a policy answer in the simple format");
            assert_eq!(doc["principalId"].as_str(), Some(principal_id.as_str()));
            let statements = match &doc["policyDocument"]["Statement"] {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            for s in &statements {
                for key in ["Resource", "NotResource"] {
                    let arns = match &s[key] {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    };
                    for arn in arns.iter().filter_map(Value::as_str) {
                        assert!(arn.len() <= MAX_RESOURCE_ARN, "an over-long ARN passed");
                    }
                }
            }
            let ctx = MapContext::default();
            let req = Request {
                action: "execute-api:Invoke",
                resource: "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets",
                principal: None,
                context: &ctx,
            };
            let _ = evaluate([policy.as_ref()], &req);
            context
        }
    };
    assert!(context.len() <= 64, "{} context entries", context.len());
    for (k, _) in context {
        assert_ne!(k, "principalId");
        if format == PayloadFormat::Http1 {
            assert_ne!(k, "claims");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `default` cases, or `PORTCULLIS_FUZZ_CASES` for a longer run.
    fn cases(default: u32) -> u32 {
        std::env::var("PORTCULLIS_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    #[test]
    fn lambda_output_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/lambda_output");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_lambda_output(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(256), failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn lambda_output_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            check_lambda_output(&data);
        }

        #[test]
        fn lambda_output_random_json(
            mode in 0u8..4,
            principal in "(\"u\"|1|null)",
            effect in "(Allow|Deny|allow)",
            resource in "(\\*|arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/\\*|x{600})",
            context in "(|,\"context\":\\{\"a\":1,\"principalId\":\"x\"\\}|,\"context\":\\{\"claims\":\"c\"\\}|,\"context\":\\{\"o\":\\{\\}\\}|,\"context\":null)",
            authorized in "(true|false|1)",
        ) {
            let body = format!(
                r#"{{"principalId":{principal},"isAuthorized":{authorized},"policyDocument":{{"Version":"2012-10-17","Statement":[{{"Action":"execute-api:Invoke","Effect":"{effect}","Resource":"{resource}"}}]}}{context}}}"#
            );
            let mut data = vec![mode];
            data.extend_from_slice(body.as_bytes());
            check_lambda_output(&data);
        }
    }
}
