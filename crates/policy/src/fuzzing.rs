//! Property checks shared by the `cargo fuzz` target `policy` (`fuzz/`) and the stable tests
//! that replay its corpus. Compiled for tests and with the `fuzzing` feature only.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "property checks fail by panicking: that is how a fuzzer sees a finding"
)]

use serde_json::Value;

use crate::{
    Applies, ArnBase, Effect, MapContext, Outcome, Policy, PolicyKind, Request, combine, evaluate,
    explain,
};

/// The ARN parts the `execute-api:/...` shorthand expands with.
pub fn base() -> ArnBase {
    ArnBase {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        api_id: "api1".into(),
    }
}

/// A request context with the keys the conditions most often name.
pub fn context() -> MapContext {
    let mut ctx = MapContext::default();
    ctx.set("aws:SourceIp", "203.0.113.7")
        .set("aws:username", "alice")
        .set("aws:CurrentTime", "2024-05-01T12:00:00Z")
        .set("aws:SecureTransport", "true")
        .set_many("aws:PrincipalTag/team", ["red", "blue"]);
    ctx
}

/// The same document with every statement's `Effect` replaced by `Deny`.
pub fn all_deny(doc: &Value) -> Value {
    let mut doc = doc.clone();
    match doc.get_mut("Statement") {
        Some(Value::Array(items)) => {
            for s in items {
                if let Some(obj) = s.as_object_mut() {
                    obj.insert("Effect".into(), Value::String("Deny".into()));
                }
            }
        }
        Some(Value::Object(obj)) => {
            obj.insert("Effect".into(), Value::String("Deny".into()));
        }
        _ => {}
    }
    doc
}

/// Compiles one policy and evaluates one request. The input is five lines, then JSON:
/// `I` or `R` (identity or resource policy), the action, the resource (appended to the
/// API's ARN prefix unless it starts with `arn:`), the principal (empty: anonymous), and
/// the policy document. Properties:
/// - nothing panics, whatever the document;
/// - `evaluate` and `explain` reach the same decision, by the same statement;
/// - an applicable Deny decides (explicit Deny always wins), and an Allow has an
///   applicable Allow statement behind it;
/// - the document with every Effect turned to Deny still compiles, and added to the
///   original (before or after it) turns every Allow into an explicit Deny;
/// - combining with a resource policy never lets an explicit Deny through.
pub fn check_policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(5, '\n');
    let (Some(kind), Some(action), Some(resource), Some(principal), Some(json)) = (
        lines.next(),
        lines.next(),
        lines.next(),
        lines.next(),
        lines.next(),
    ) else {
        return;
    };
    let kind = if kind.starts_with('R') {
        PolicyKind::Resource
    } else {
        PolicyKind::Identity
    };
    let Ok(doc) = serde_json::from_str::<Value>(json) else {
        return;
    };
    let base = base();
    let Ok(policy) = Policy::from_json("fuzz", &doc, kind, Some(&base)) else {
        return;
    };
    let resource = if resource.starts_with("arn:") {
        resource.to_owned()
    } else {
        format!("arn:aws:execute-api:us-east-1:123456789012:api1/{resource}")
    };
    let ctx = context();
    let req = Request {
        action,
        resource: &resource,
        principal: (!principal.is_empty()).then_some(principal),
        context: &ctx,
    };
    let decision = evaluate([&policy], &req);
    let explained = explain([&policy], &req);
    assert_eq!(
        decision, explained.decision,
        "evaluate and explain disagree"
    );
    let applicable = |effect: Effect| {
        explained
            .statements
            .iter()
            .any(|t| t.statement.effect == effect && t.applies == Applies::Yes)
    };
    if applicable(Effect::Deny) {
        assert_eq!(
            decision.outcome,
            Outcome::ExplicitDeny,
            "a Deny applied and lost"
        );
    }
    match decision.outcome {
        Outcome::Allow => assert!(applicable(Effect::Allow) && !applicable(Effect::Deny)),
        Outcome::ExplicitDeny => assert!(applicable(Effect::Deny)),
        Outcome::ImplicitDeny => assert!(!applicable(Effect::Allow)),
    }
    let denying = Policy::from_json("fuzz-deny", &all_deny(&doc), kind, Some(&base))
        .unwrap_or_else(|e| panic!("the Deny form of a loaded policy failed to load: {e:?}"));
    if decision.outcome == Outcome::Allow {
        assert_eq!(
            evaluate([&policy, &denying], &req).outcome,
            Outcome::ExplicitDeny
        );
        assert_eq!(
            evaluate([&denying, &policy], &req).outcome,
            Outcome::ExplicitDeny
        );
    }
    let deny_alone = evaluate([&denying], &req).outcome;
    assert_eq!(
        deny_alone == Outcome::ExplicitDeny,
        decision.outcome != Outcome::ImplicitDeny,
        "turning Effects to Deny changed which statements apply"
    );
    for other in [Outcome::Allow, Outcome::ExplicitDeny, Outcome::ImplicitDeny] {
        let c = combine(other, Some(decision.outcome));
        if other == Outcome::ExplicitDeny || decision.outcome == Outcome::ExplicitDeny {
            assert_eq!(c, Outcome::ExplicitDeny);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn policy_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/policy");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_policy(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    fn strings(s: &'static str) -> impl Strategy<Value = Value> {
        prop_oneof![
            s.prop_map(Value::String),
            proptest::collection::vec(s, 1..3)
                .prop_map(|v| Value::Array(v.into_iter().map(Value::String).collect())),
        ]
    }

    fn statement() -> impl Strategy<Value = Value> {
        (
            prop_oneof![Just("Allow"), Just("Deny")],
            any::<bool>(),
            strings("(execute-api:\\*|execute-api:Invoke|execute-api:In\\?oke|\\*|execute-api:ManageConnections)"),
            any::<bool>(),
            strings("(\\*|execute-api:/\\*|execute-api:/prod/GET/\\*|arn:aws:execute-api:us-east-1:123456789012:api1/\\*/POST/a\\*|execute-api:/prod/\\*/pets/\\?)"),
            proptest::option::of(prop_oneof![
                Just(r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#),
                Just(r#"{"StringEquals":{"aws:username":"bob"}}"#),
                Just(r#"{"ForAnyValue:StringLike":{"aws:PrincipalTag/team":"r*"}}"#),
            ]),
        )
            .prop_map(|(effect, not_action, action, not_resource, resource, cond)| {
                let mut s = serde_json::Map::new();
                s.insert("Effect".into(), effect.into());
                s.insert(if not_action { "NotAction" } else { "Action" }.into(), action);
                s.insert(if not_resource { "NotResource" } else { "Resource" }.into(), resource);
                if let Some(c) = cond {
                    s.insert("Condition".into(), serde_json::from_str(c).unwrap());
                }
                Value::Object(s)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn policy_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            check_policy(&data);
        }

        #[test]
        fn policy_random_documents(
            statements in proptest::collection::vec(statement(), 1..4),
            action in "(execute-api:Invoke|execute-api:invoke|execute-api:ManageConnections|s3:GetObject)",
            resource in "(prod/GET/pets|prod/POST/a/b|dev/GET/pets/x|prod/PUT/pets/1)",
        ) {
            let doc = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
            let input = format!("I\n{action}\n{resource}\n\n{doc}");
            check_policy(input.as_bytes());
        }
    }
}
