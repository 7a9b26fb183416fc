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

use http::Method;
use portcullis_config::{PayloadFormat, Segment};
use portcullis_core::CanonicalPath;
use portcullis_policy::{MapContext, Request, evaluate};
use serde_json::Value;

use crate::integration::http_proxy::push_param;
use crate::route::Router;

pub use crate::h1_client::fuzz::check_response as check_h1_response;
use crate::lambda::output::{MAX_RESOURCE_ARN, Output, parse};

/// A caller's limits as an authorizer carries them. Byte 0 picks the form: even, a claim
/// (the rest is its JSON value); odd, a Lambda context value (the rest is its text, parsed
/// as JSON). Properties: nothing panics; accepted limits have a finite, non-negative rate
/// and a quota only with a period; written back in the claim's shape they read back the
/// same; a fresh caller with a burst and rate above zero (and a quota above zero) passes
/// their first request, and a dry run of it spends nothing.
pub fn check_caller_limits(data: &[u8]) {
    use crate::limits::{Usage, UserLimits};
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    // A Lambda context value is text: only a string is handed over, then parsed.
    let value = if mode % 2 == 1 {
        match value.as_str().map(serde_json::from_str::<Value>) {
            Some(Ok(v)) => v,
            _ => return,
        }
    } else {
        value
    };
    let Ok(Some(limits)) = UserLimits::from_value(Some(&value)) else {
        return;
    };
    let rate = limits.throttle.rate();
    assert!(rate.is_finite() && rate >= 0.0, "rate {rate}");
    let back = serde_json::json!({
        "rate": rate,
        "burst": limits.throttle.burst(),
        "quota": limits.quota.map(|q| q.limit),
        "quota_period": limits.quota.map(|q| q.period.name()),
    });
    assert_eq!(UserLimits::from_value(Some(&back)), Ok(Some(limits)));
    let usage = Usage::default();
    let open =
        limits.throttle.burst() >= 1 && rate > 0.0 && limits.quota.is_none_or(|q| q.limit >= 1);
    let limit = crate::limits::Limit {
        who: b"fuzz",
        bucket: Some((b"", &limits.throttle)),
        quota: limits.quota.as_ref(),
    };
    let pass = crate::limits::Verdict::Pass;
    assert_eq!(usage.spend(&limit, false) == pass, open);
    assert_eq!(usage.spend(&limit, true) == pass, open);
}

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

/// A Lambda proxy integration's answer. Byte 0 picks the format (REST, HTTP 1.0, HTTP 2.0)
/// and whether the client accepts `image/png` (a binary media type); the rest is the
/// function's answer. Properties: nothing panics; an accepted answer has a final status
/// (200 to 599); no framing or connection header (`content-length`, `transfer-encoding`,
/// `connection`) passes through under its own name; a REST or 1.0 answer is a JSON object;
/// the body is never larger than the answer (base64 only shrinks).
pub fn check_proxy_answer(data: &[u8]) {
    use crate::lambda::proxy::map_response;
    let Some((&mode, answer)) = data.split_first() else {
        return;
    };
    let format = match mode % 3 {
        0 => PayloadFormat::Rest,
        1 => PayloadFormat::Http1,
        _ => PayloadFormat::Http2,
    };
    let accept = (mode & 4 != 0).then_some("image/png");
    let binary = ["image/png".to_owned()];
    let Ok(r) = map_response(answer, format, &binary, accept) else {
        return;
    };
    assert!(
        (100..600).contains(&r.status.as_u16()),
        "status {}",
        r.status
    );
    for name in ["content-length", "transfer-encoding", "connection"] {
        assert!(!r.headers.contains_key(name), "{name} passed through");
    }
    if format != PayloadFormat::Http2 {
        let doc: Value = serde_json::from_slice(answer).expect("an accepted answer is JSON");
        assert!(doc.is_object(), "a non-object answer accepted");
    }
    assert!(r.body.len() <= answer.len(), "the body grew");
}

/// The canonical path and the router, with the rule an upstream depends on. Input: the rest
/// of a request path after `/pub/` (read lossily: the HTTP codec hands over text only).
/// Properties: nothing panics; every decoded segment of an accepted path is free of `/`,
/// `\` and control characters and is no dot segment (not even before a `;`); what the
/// upstream of the greedy route `/pub/{proxy+}` -> `/public/{proxy}` receives resolves
/// under `/public/` however leniently it is read (every escape decoded, `\` read as `/`,
/// `;` parameters dropped, dot segments resolved), and names exactly the router's value.
pub fn check_path(data: &[u8]) {
    let tail = String::from_utf8_lossy(data);
    let raw = format!("/pub/{tail}");
    let Ok(path) = CanonicalPath::parse(&raw) else {
        return;
    };
    for seg in path.segments() {
        assert!(
            !seg.contains(['/', '\\']),
            "separator in {seg:?} of {raw:?}"
        );
        assert!(
            !seg.chars().any(|c| c < ' ' || c == '\u{7f}'),
            "control character in {seg:?} of {raw:?}"
        );
        let head = seg.split(';').next().unwrap_or("");
        assert!(head != "." && head != "..", "dot segment in {raw:?}");
    }
    let mut router = Router::new();
    let greedy = [
        Segment::Literal("pub".into()),
        Segment::Greedy("proxy".into()),
    ];
    router
        .insert("/pub/{proxy+}", &greedy, "ANY", ())
        .expect("a one-route table builds");
    let Ok(m) = router.lookup(&Method::GET, &path) else {
        return;
    };
    let value = &m.params.first().expect("the greedy parameter").1;
    let mut upstream = String::from("/public/");
    push_param(&mut upstream, value, true, false);
    let view = lenient_view(&upstream);
    assert!(
        view.starts_with("/public/") || view == "/public",
        "{raw:?} reached the upstream as {upstream:?}, read as {view:?}"
    );
    let decoded: Vec<String> = upstream
        .trim_start_matches("/public/")
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        &decoded.join("/"),
        value,
        "the upstream names other segments"
    );
}

/// The path a most lenient upstream serves for `path`.
fn lenient_view(path: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/').skip(1) {
        match seg.split(';').next().unwrap_or("") {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
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
        #![proptest_config(ProptestConfig::with_cases(cases(512)))]
        #[test]
        fn caller_limits_hold_their_properties(
            rate in prop_oneof![Just(serde_json::json!(0)), (0.0f64..1e6).prop_map(|r| serde_json::json!(r)), Just(serde_json::json!(-1)), Just(serde_json::json!("5"))],
            burst in prop_oneof![(0u64..10).prop_map(|b| serde_json::json!(b)), Just(serde_json::json!(u64::MAX)), Just(serde_json::json!(1.5))],
            quota in prop::option::of(prop_oneof![(0u64..10).prop_map(|q| serde_json::json!(q)), Just(serde_json::json!(-3))]),
            period in prop::option::of(prop::sample::select(vec!["DAY", "week", "Month", "YEAR", ""])),
            lambda in any::<bool>(),
        ) {
            let mut o = serde_json::Map::new();
            o.insert("rate".into(), rate);
            o.insert("burst".into(), burst);
            if let Some(q) = quota { o.insert("quota".into(), q); }
            if let Some(p) = period { o.insert("quota_period".into(), p.into()); }
            let v = serde_json::Value::Object(o);
            let mut data = vec![u8::from(lambda)];
            if lambda {
                data.extend(serde_json::to_vec(&serde_json::Value::String(v.to_string())).unwrap());
            } else {
                data.extend(serde_json::to_vec(&v).unwrap());
            }
            check_caller_limits(&data);
        }
    }

    #[test]
    fn caller_limits_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/caller_limits");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_caller_limits(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    #[test]
    fn proxy_answer_corpus() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/proxy_answer");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_proxy_answer(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    #[test]
    fn path_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/path");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_path(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    /// Pieces an attacker combines: separators and dots in every encoding.
    fn path_piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a",
            "x.y",
            ".",
            "..",
            "...",
            "%2E",
            "%2e",
            "%2F",
            "%2f",
            "%5C",
            "\\",
            ";",
            "..;",
            "%3B",
            "%252F",
            "%25",
            "%",
            "%00",
            "%0A",
            "/",
            "//",
            "%20",
            "%C0%AE",
            "%E2%80%A8",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(256), failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn path_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            check_path(&data);
        }

        #[test]
        fn path_hostile_pieces(pieces in proptest::collection::vec(path_piece(), 1..12)) {
            check_path(pieces.concat().as_bytes());
        }

        #[test]
        fn proxy_answer_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            check_proxy_answer(&data);
        }

        #[test]
        fn proxy_answer_random_json(
            mode in 0u8..8,
            status in r#"(200|"201"|99|600|"x"|null)"#,
            headers in r#"(|,"headers":\{"content-length":"9","x-a":"1"\}|,"headers":\{"bad name":"1"\}|,"multiValueHeaders":\{"set-cookie":\["a","b"\]\}|,"cookies":\["c=1"\])"#,
            body in r#"(|,"body":"aGVsbG8=","isBase64Encoded":true|,"body":"!!","isBase64Encoded":true|,"body":5)"#,
        ) {
            let answer = format!(r#"{{"statusCode":{status}{headers}{body}}}"#);
            let mut data = vec![mode];
            data.extend_from_slice(answer.as_bytes());
            check_proxy_answer(&data);
        }

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
