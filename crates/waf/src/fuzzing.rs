//! Property checks shared by the `cargo fuzz` target `waf_transform` (`fuzz/`) and the
//! stable tests that replay its corpus. Compiled for tests and with the `fuzzing` feature.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "property checks fail by panicking: that is how a fuzzer sees a finding"
)]

use crate::transform::{Transformation, apply_all};

/// Every transformation, alone and in a chain picked by the first bytes, on the rest.
/// Properties: nothing panics; no transformation more than doubles its input (plus 16
/// bytes: MD5), except UTF8_TO_UNICODE which at most sextuples it; decoders never grow
/// their input; a transformation that changed nothing borrows.
pub fn check_transform(data: &[u8]) {
    let Some((&picks, input)) = data.split_first() else {
        return;
    };
    for t in Transformation::ALL {
        let out = t.apply(input);
        let bound = match t {
            Transformation::UTF8_TO_UNICODE => input.len() * 6,
            Transformation::MD5 => 16,
            Transformation::HTML_ENTITY_DECODE
            | Transformation::URL_DECODE
            | Transformation::URL_DECODE_UNI
            | Transformation::BASE64_DECODE
            | Transformation::BASE64_DECODE_EXT
            | Transformation::HEX_DECODE
            | Transformation::ESCAPE_SEQ_DECODE
            | Transformation::SQL_HEX_DECODE
            | Transformation::CSS_DECODE
            | Transformation::JS_DECODE
            | Transformation::REMOVE_NULLS
            | Transformation::REPLACE_NULLS
            | Transformation::NONE
            | Transformation::LOWERCASE
            | Transformation::COMPRESS_WHITE_SPACE
            | Transformation::REPLACE_COMMENTS
            | Transformation::CMD_LINE
            | Transformation::NORMALIZE_PATH
            | Transformation::NORMALIZE_PATH_WIN => input.len() + 4,
        };
        assert!(
            out.len() <= bound,
            "{} grew {} bytes to {}",
            t.name(),
            input.len(),
            out.len()
        );
    }
    let chain: Vec<(u32, Transformation)> = (0..3u32)
        .map(|k| {
            let i = usize::from(picks.rotate_left(k * 3)) % Transformation::ALL.len();
            (k, Transformation::ALL[i])
        })
        .collect();
    let _ = apply_all(&chain, input);
}

/// A web ACL and a request: the first line is a web ACL in AWS's JSON shape, the next three
/// are the path, the query and a header value, the rest is the body. Properties: reading
/// never panics; an ACL that loads evaluates the request without panicking, and gives the
/// same verdict, matches and labels with and without its prefilter.
pub fn check_acl(data: &[u8]) {
    let mut parts = data.splitn(5, |b| *b == b'\n');
    let (Some(doc), path, query, header, body) = (
        parts.next(),
        parts.next().unwrap_or(b"/"),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    ) else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(doc) else {
        return;
    };
    let mut catalog = crate::parse::Catalog::default();
    if let Ok(set) = crate::ipset::IpSet::from_cidrs(["192.0.2.0/24"]) {
        catalog.ip_sets.insert("s".into(), std::sync::Arc::new(set));
    }
    let Ok(acl) = crate::parse::web_acl(&value, "fuzz", &catalog) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(header) {
        headers.insert("x-fuzz", v.clone());
        headers.insert("cookie", v);
    }
    let (Ok(path), Ok(query)) = (std::str::from_utf8(path), std::str::from_utf8(query)) else {
        return;
    };
    let req = crate::Request {
        method: "POST",
        path,
        query,
        headers: &headers,
        client_ip: std::net::IpAddr::from([192, 0, 2, 1]),
        body,
        body_complete: true,
    };
    let env = crate::Env {
        geo: None,
        now_ms: 0,
    };
    let with = acl.evaluate(&req, env);
    let mut plain = acl;
    plain.prefilter = crate::prefilter::Prefilter::default();
    let without = plain.evaluate(&req, env);
    assert_eq!(
        format!("{:?}", with.outcome),
        format!("{:?}", without.outcome)
    );
    assert_eq!(with.terminating_rule, without.terminating_rule);
    assert_eq!(with.labels, without.labels);
}

/// The streaming JSON reader: never panics on any bytes; on a document `serde_json` reads
/// (not too deep), it reads to the end and sees the same keys and scalars.
pub fn check_json(data: &[u8]) {
    let mut seen = 0usize;
    let end = crate::json::walk(data, &mut |_, _, _| {
        seen += 1;
        false
    });
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data)
        && depth(&v) < 100
    {
        assert_eq!(end, crate::json::End::Complete, "serde_json reads it");
        assert_eq!(seen, tokens(&v), "keys and scalars");
    }
}

fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn tokens(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => a.iter().map(tokens).sum(),
        serde_json::Value::Object(o) => o.values().map(|v| 1 + tokens(v)).sum(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::{check_acl, check_json, check_transform};
    use proptest::prelude::*;

    #[test]
    fn corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/waf_transform");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_transform(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    #[test]
    fn acl_and_json_corpora() {
        for (target, check) in [
            ("waf_acl", check_acl as fn(&[u8])),
            ("waf_json", check_json),
        ] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../fuzz/corpus")
                .join(target);
            let mut n = 0;
            for entry in std::fs::read_dir(&dir).unwrap() {
                check(&std::fs::read(entry.unwrap().path()).unwrap());
                n += 1;
            }
            assert!(n > 0, "empty corpus {}", dir.display());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn json_documents(v in json_value()) {
            check_json(v.to_string().as_bytes());
            check_json(serde_json::to_string_pretty(&v).unwrap().as_bytes());
        }

        #[test]
        fn json_bytes(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            check_json(&data);
        }

        #[test]
        fn random_bytes(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            check_transform(&data);
        }

        #[test]
        fn hostile_pieces(pieces in proptest::collection::vec(prop::sample::select(vec![
            "%", "%2", "%25", "%u", "%u00", "%u0041", "&", "&#", "&#x", "&#x41;", "&lt", "&lt;",
            "\\", "\\x", "\\x4", "\\u", "\\u004", "\\0", "\\777", "/*", "*/", "0x", "0x41",
            "/", "//", "./", "../", "..", "\0", "é", "😀", "\u{a0}", " ", "\t", "+", "=", "A",
        ]), 0..40)) {
            let mut data = vec![7u8];
            data.extend(pieces.concat().into_bytes());
            check_transform(&data);
        }
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-z\"\\\\/\u{0}-\u{1f}é😀]{0,8}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z~/]{0,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
