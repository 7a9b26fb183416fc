//! The engine against a corpus of AWS-documented policy shapes with their expected
//! decisions, load errors with positions, explanations, and properties.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

use portcullis_policy::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn base() -> ArnBase {
    ArnBase {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        api_id: "api1".into(),
    }
}

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/";

fn context(v: Option<&Value>) -> MapContext {
    let mut ctx = MapContext::default();
    for (k, v) in v.and_then(Value::as_object).into_iter().flatten() {
        match v {
            Value::Array(items) => {
                ctx.set_many(k, items.iter().map(|i| i.as_str().unwrap().to_owned()));
            }
            Value::String(s) => {
                ctx.set(k, s.clone());
            }
            other => panic!("context value {other}"),
        }
    }
    ctx
}

#[test]
fn aws_documentation_examples() {
    let corpus: Vec<Value> = serde_json::from_str(include_str!("aws_examples.json")).unwrap();
    let mut checked = 0;
    for example in &corpus {
        let name = example["name"].as_str().unwrap();
        let kind = match example["kind"].as_str().unwrap() {
            "resource" => PolicyKind::Resource,
            _ => PolicyKind::Identity,
        };
        let policy = Policy::from_json(name, &example["policy"], kind, Some(&base()))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        for case in example["cases"].as_array().unwrap() {
            let resource = format!("{ARN}{}", case["resource"].as_str().unwrap());
            let ctx = context(case.get("context"));
            let req = Request {
                action: case["action"].as_str().unwrap_or("execute-api:Invoke"),
                resource: &resource,
                principal: case["principal"].as_str(),
                context: &ctx,
            };
            let fast = evaluate([&policy], &req);
            let slow = explain([&policy], &req);
            let expect = case["expect"].as_str().unwrap();
            assert_eq!(fast.outcome.as_str(), expect, "{name}: {case}");
            assert_eq!(fast, slow.decision, "{name}: explain agrees with evaluate");
            checked += 1;
        }
    }
    assert!(checked >= 35, "{checked}");
}

#[test]
fn explanations_name_every_statement_and_why() {
    let p = Policy::from_json(
        "role:viewer",
        &json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Reads", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/GET/*"},
            {"Sid": "Office", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*",
             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
        ]}),
        PolicyKind::Identity,
        None,
    )
    .unwrap();
    let mut ctx = MapContext::default();
    ctx.set("aws:SourceIp", "192.0.2.1");
    let resource = format!("{ARN}prod/POST/pets");
    let e = explain(
        [&p],
        &Request {
            action: "execute-api:Invoke",
            resource: &resource,
            principal: None,
            context: &ctx,
        },
    );
    assert_eq!(e.decision.outcome, Outcome::ImplicitDeny);
    assert_eq!(e.statements.len(), 2);
    match &e.statements[0].applies {
        Applies::Resource(why) => {
            assert!(why.contains("GET/*") && why.contains("POST/pets"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    match &e.statements[1].applies {
        Applies::Condition(why) => assert!(why.contains("IpAddress aws:SourceIp"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.statements[1].statement.sid.as_deref(), Some("Office"));
}

#[test]
fn load_errors_point_at_the_element() {
    let errors = |doc: Value, kind: PolicyKind| -> Vec<String> {
        Policy::from_json("t", &doc, kind, None)
            .unwrap_err()
            .into_iter()
            .map(|e| format!("{}: {} ({})", e.path, e.message, e.help))
            .collect()
    };
    let e = errors(
        json!({"Version": "2012-10-17", "Statement": [{"Efect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}),
        PolicyKind::Identity,
    );
    assert!(
        e.iter()
            .any(|m| m.contains("Statement[0].Efect: unknown statement key")
                && m.contains("did you mean `Effect`")),
        "{e:?}"
    );
    assert!(e.iter().any(|m| m.contains("has no Effect")), "{e:?}");
    let e = errors(
        json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*",
            "Condition": {"StringEqualz": {"aws:username": "a"}, "IpAddress": {"aws:SourceIp": "999.1.1.1"}, "StringEquals": {"aws:usrname": "a"}}}}),
        PolicyKind::Identity,
    );
    assert!(
        e.iter()
            .any(|m| m.contains("Condition.StringEqualz: unknown condition operator")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("`999.1.1.1` is not an IP address")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("unknown condition key `aws:usrname`")),
        "{e:?}"
    );
    let e = errors(
        json!({"Statement": [{"Effect": "allow", "Action": ["execute-api:Invok"], "NotAction": "x:y", "Resource": "pets"}]}),
        PolicyKind::Identity,
    );
    assert!(e.iter().any(|m| m.contains("Effect must be")), "{e:?}");
    assert!(
        e.iter()
            .any(|m| m.contains("`execute-api:Invok` is not an action")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("NotAction: a statement has NotAction or Action, not both")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.contains("`pets` is not a resource ARN")),
        "{e:?}"
    );
    // AWS never wildcards the service: such a pattern would grant more here than there.
    for resource in [
        "arn:aws:execute-*:us-east-1:123456789012:api/*",
        "arn:aws:*:us-east-1:123456789012:api/*",
        "arn:aws:execute-ap?:*",
    ] {
        let e = errors(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource}]}),
            PolicyKind::Identity,
        );
        assert!(
            e.iter()
                .any(|m| m.contains("the service segment of an ARN cannot hold a wildcard")),
            "{resource}: {e:?}"
        );
    }
    let e = errors(
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*", "Principal": "*"}]}),
        PolicyKind::Identity,
    );
    assert!(
        e.iter()
            .any(|m| m.contains("Principal belongs in resource policies")),
        "{e:?}"
    );
    let e = errors(
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}),
        PolicyKind::Resource,
    );
    assert!(e.iter().any(|m| m.contains("needs a Principal")), "{e:?}");
    let e = errors(
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/*", "Principal": {"Service": "x"}}]}),
        PolicyKind::Resource,
    );
    assert!(
        e.iter()
            .any(|m| m.contains("principal type `Service` is not supported")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("shorthand needs the API's identity")),
        "{e:?}"
    );
    let e = errors(
        json!({"Version": "2012-10-18", "Statement": []}),
        PolicyKind::Identity,
    );
    assert!(e.iter().any(|m| m.contains("Version must be")), "{e:?}");
}

#[test]
fn a_policy_without_version_reads_variables_literally() {
    let p = Policy::from_json(
        "p",
        &json!({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
            "Resource": "arn:aws:execute-api:*:*:*/*/GET/users/${aws:username}"}]}),
        PolicyKind::Identity,
        None,
    )
    .unwrap();
    let mut ctx = MapContext::default();
    ctx.set("aws:username", "alice");
    let decide = |path: &str| {
        let resource = format!("{ARN}prod/GET/users/{path}");
        evaluate(
            [&p],
            &Request {
                action: "execute-api:Invoke",
                resource: &resource,
                principal: None,
                context: &ctx,
            },
        )
        .outcome
    };
    assert_eq!(decide("alice"), Outcome::ImplicitDeny);
    assert_eq!(decide("${aws:username}"), Outcome::Allow);
}

#[test]
fn resource_policy_combination_follows_the_same_account_table() {
    use Outcome::*;
    // (authorizer, resource policy) -> result, from API Gateway's table.
    for (a, r, want) in [
        (Allow, Some(Allow), Allow),
        (Allow, Some(ImplicitDeny), Allow),
        (Allow, Some(ExplicitDeny), ExplicitDeny),
        (ImplicitDeny, Some(Allow), Allow),
        (ImplicitDeny, Some(ImplicitDeny), ImplicitDeny),
        (ImplicitDeny, Some(ExplicitDeny), ExplicitDeny),
        (ExplicitDeny, Some(Allow), ExplicitDeny),
        (ExplicitDeny, Some(ImplicitDeny), ExplicitDeny),
        (Allow, None, Allow),
        (ImplicitDeny, None, ImplicitDeny),
    ] {
        assert_eq!(combine(a, r), want, "{a:?} x {r:?}");
    }
}

// ---- properties ----

fn arb_statement() -> impl Strategy<Value = Value> {
    let effect = prop_oneof![Just("Allow"), Just("Deny")];
    let verb = prop_oneof![Just("GET"), Just("POST"), Just("*"), Just("DELETE")];
    let path = prop_oneof![Just("pets"), Just("pets/*"), Just("*"), Just("orders/?")];
    let cond = prop_oneof![
        Just(Value::Null),
        Just(json!({"StringEquals": {"portcullis:role": "admin"}})),
        Just(json!({"StringNotEquals": {"portcullis:role": "admin"}})),
        Just(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        Just(json!({"ForAnyValue:StringLike": {"portcullis:groups": ["v*"]}})),
    ];
    (effect, verb, path, cond, any::<bool>()).prop_map(|(e, v, p, c, not)| {
        let mut s = json!({"Effect": e, "Action": "execute-api:Invoke"});
        let key = if not { "NotResource" } else { "Resource" };
        s[key] = json!(format!(
            "arn:aws:execute-api:us-east-1:123456789012:api1/prod/{v}/{p}"
        ));
        if !c.is_null() {
            s["Condition"] = c;
        }
        s
    })
}

fn arb_request() -> impl Strategy<Value = (String, String, String, Vec<String>)> {
    (
        prop_oneof![Just("GET"), Just("POST"), Just("DELETE")],
        prop_oneof![
            Just("pets"),
            Just("pets/1"),
            Just("orders/7"),
            Just("x/y/z")
        ],
        prop_oneof![Just("admin"), Just("reader")],
        prop_oneof![Just("10.1.2.3"), Just("192.0.2.1")],
        prop::collection::vec(prop_oneof![Just("viewers"), Just("ops")], 0..3),
    )
        .prop_map(|(v, p, role, ip, groups)| {
            (
                format!("{ARN}prod/{v}/{p}"),
                role.to_owned(),
                ip.to_owned(),
                groups.into_iter().map(str::to_owned).collect(),
            )
        })
}

fn decide(statements: &[Value], req: &(String, String, String, Vec<String>)) -> Outcome {
    if statements.is_empty() {
        return Outcome::ImplicitDeny;
    }
    let p = Policy::from_json(
        "p",
        &json!({"Version": "2012-10-17", "Statement": statements}),
        PolicyKind::Identity,
        None,
    )
    .unwrap();
    let mut ctx = MapContext::default();
    ctx.set("portcullis:role", req.1.clone());
    ctx.set("aws:sourceip", req.2.clone());
    ctx.set_many("portcullis:groups", req.3.clone());
    let r = Request {
        action: "execute-api:Invoke",
        resource: &req.0,
        principal: None,
        context: &ctx,
    };
    let d = evaluate([&p], &r);
    assert_eq!(d, explain([&p], &r).decision);
    d.outcome
}

proptest! {
    #[test]
    fn an_applicable_deny_always_wins(mut statements in prop::collection::vec(arb_statement(), 0..8), req in arb_request()) {
        // A Deny that covers the request, added anywhere, decides.
        let deny = json!({"Effect": "Deny", "Action": "execute-api:*", "Resource": "*"});
        let at = statements.len() / 2;
        statements.insert(at, deny);
        prop_assert_eq!(decide(&statements, &req), Outcome::ExplicitDeny);
    }

    #[test]
    fn removing_an_allow_never_grants(statements in prop::collection::vec(arb_statement(), 1..8), req in arb_request(), pick in any::<prop::sample::Index>()) {
        let before = decide(&statements, &req);
        let allows: Vec<usize> = statements.iter().enumerate().filter(|(_, s)| s["Effect"] == "Allow").map(|(i, _)| i).collect();
        prop_assume!(!allows.is_empty());
        let mut fewer = statements.clone();
        fewer.remove(allows[pick.index(allows.len())]);
        let after = decide(&fewer, &req);
        if before != Outcome::Allow {
            prop_assert_ne!(after, Outcome::Allow);
        }
    }

    #[test]
    fn statement_order_does_not_matter(mut statements in prop::collection::vec(arb_statement(), 1..8), req in arb_request()) {
        let before = decide(&statements, &req);
        statements.reverse();
        prop_assert_eq!(decide(&statements, &req), before);
    }
}
