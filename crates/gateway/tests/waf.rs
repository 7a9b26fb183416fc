#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]
//! Web ACLs through the real listener: AWS's managed groups blocking with `403 Forbidden`
//! (the API's `WAF_FILTERED` gateway response), custom responses, CAPTCHA and challenge
//! answers, per-API and per-stage associations, body inspection with the body still reaching
//! the upstream, inserted headers, rate-based rules whose counters survive a reload, the
//! access-log line and metrics, and the sampled requests on the admin API.

mod common;

use common::*;
use http::Request;

const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;

fn managed(names: &[&str]) -> String {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "        - {{Name: {n}, Priority: {i}, Statement: {{ManagedRuleGroupStatement: {{VendorName: AWS, Name: {n}}}}}, OverrideAction: {{None: {{}}}}, VisibilityConfig: {{SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: {n}}}}}\n"
            )
        })
        .collect()
}

async fn call(
    gw: &portcullis_gateway::Gateway,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    b: &str,
) -> (u16, http::HeaderMap, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{target}", gw.addr()))
        .header("user-agent", "waf-test/1.0");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (s, h, body) = send(&client(), req.body(body(b.to_owned())).unwrap()).await;
    (s.as_u16(), h, body)
}

#[tokio::test]
async fn managed_groups_block_attacks_and_pass_ordinary_text() {
    let (up, _) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let yaml = format!(
        r#"
listener: {{address: 127.0.0.1:0}}
api: {{id: shop, stage: prod, region: us-east-1, account: "123456789012"}}
access_log: {{target: {log}}}
admin: {{address: 127.0.0.1:0}}
resources:
  /health:
    GET:
      integration: {{type: mock, body: ok}}
  /comments:
    POST:
      integration: {{type: http_proxy, uri: http://{up}/mirror}}
waf:
  web_acl: default
  web_acls:
    default:
      DefaultAction: {{Allow: {{}}}}
      VisibilityConfig: {{SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: default}}
      Rules:
{rules}"#,
        log = log.display(),
        rules = managed(&["AWSManagedRulesCommonRuleSet", "AWSManagedRulesSQLiRuleSet"])
    );
    let gw = gateway(&yaml).await;
    let (s, _, b) = call(&gw, "GET", "/health?q=%27%20OR%201%3D1--", &[], "").await;
    assert_eq!((s, b.as_str()), (403, FORBIDDEN));
    let (s, _, b) = call(&gw, "GET", "/health?q=O%27Brien", &[], "").await;
    assert_eq!((s, b.as_str()), (200, "ok"));
    // The body is inspected, and still reaches the upstream whole when allowed.
    let ok_json = r#"{"author":"D'Angelo","text":"I'd select the best plan: 3 < 4 & 5 > 2"}"#;
    let (s, _, b) = call(
        &gw,
        "POST",
        "/comments",
        &[("content-type", "application/json")],
        ok_json,
    )
    .await;
    assert_eq!((s, b.as_str()), (200, ok_json));
    let bad_json = r#"{"author":"x","text":"<script>alert(document.cookie)</script>"}"#;
    let (s, _, b) = call(
        &gw,
        "POST",
        "/comments",
        &[("content-type", "application/json")],
        bad_json,
    )
    .await;
    assert_eq!((s, b.as_str()), (403, FORBIDDEN));
    // No User-Agent: the Common rule set's first rule.
    let req = Request::builder()
        .uri(format!("http://{}/health", gw.addr()))
        .body(empty())
        .unwrap();
    assert_eq!(send(&client(), req).await.0.as_u16(), 403);

    // The access log explains each block: the terminating rule, labels, where it matched.
    let text = wait_for(&log, 4).await;
    let blocked: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["status"] == 403)
        .collect();
    let sqli = &blocked[0]["waf"];
    assert_eq!(sqli["action"], "BLOCK");
    assert_eq!(
        sqli["terminating_rule"],
        "AWSManagedRulesSQLiRuleSet:SQLi_QUERYARGUMENTS"
    );
    assert_eq!(
        sqli["labels"][0],
        "awswaf:managed:aws:sql-database:SQLi_QueryArguments"
    );
    assert_eq!(sqli["rules"][0]["field"], "query argument q");
    assert!(!text.contains("OR 1"), "values are never logged: {text}");
    let xss = &blocked[1]["waf"];
    assert_eq!(
        xss["terminating_rule"],
        "AWSManagedRulesCommonRuleSet:CrossSiteScripting_BODY"
    );
    assert_eq!(xss["rules"][0]["field"], "a JSON value");

    // Metrics and the sampled requests.
    let admin = gw.admin_addr().unwrap();
    let (_, _, metrics) = get(admin, "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("portcullis_waf_requests_total{")
                && l.contains("action=\"BLOCK\"")),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_waf_rule_matches_total{"),
        "{metrics}"
    );
    let (s, _, samples) = get(admin, "/waf/sampled-requests?web_acl=default").await;
    assert_eq!(s.as_u16(), 200, "{samples}");
    let samples: serde_json::Value = serde_json::from_str(&samples).unwrap();
    let list = samples["sampled_requests"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{samples}");
    assert_eq!(
        list[0]["terminating_rule"],
        "AWSManagedRulesCommonRuleSet:NoUserAgent_HEADER"
    );
}

/// A path the gateway refuses (a `..` segment, an encoded slash) reaches no API, but the
/// default web ACL judges it first, as AWS WAF judges every request before API Gateway: an
/// attack is answered 403 by the WAF, with its log line; anything else the 400 it was.
#[tokio::test]
async fn refused_paths_meet_the_default_web_acl_first() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let yaml = format!(
        r#"
listener: {{address: 127.0.0.1:0}}
api: {{id: shop, stage: prod, region: us-east-1, account: "123456789012"}}
access_log: {{target: {log}}}
resources:
  /health:
    GET:
      integration: {{type: mock, body: ok}}
waf:
  web_acl: default
  web_acls:
    default:
      DefaultAction: {{Allow: {{}}}}
      VisibilityConfig: {{SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: default}}
      Rules:
{rules}"#,
        log = log.display(),
        rules = managed(&[
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesLinuxRuleSet"
        ])
    );
    let gw = gateway(&yaml).await;
    let raw = |target: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: waf-test/1.0\r\nConnection: close\r\n\r\n"
        )
    };
    for attack in [
        "/health/../../../../etc/passwd",
        "/health/..%2f..%2f..%2fetc%2fpasswd",
        "/health/%2e%2e/%2e%2e/%2e%2e/etc/shadow",
    ] {
        let (status, text) = raw_request(gw.addr(), &raw(attack)).await;
        assert_eq!(status, 403, "{attack}: {text}");
        assert!(text.ends_with(FORBIDDEN), "{attack}: {text}");
    }
    for refused in ["/health/./x", "/health/%zz"] {
        let (status, text) = raw_request(gw.addr(), &raw(refused)).await;
        assert_eq!(status, 400, "{refused}: {text}");
    }
    let text = wait_for(&log, 5).await;
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["status"], 403);
    assert_eq!(first["waf"]["action"], "BLOCK", "{text}");
    assert!(
        first["waf"]["terminating_rule"]
            .as_str()
            .is_some_and(|r| r.contains("LFI") || r.contains("Traversal")),
        "{text}"
    );
}

async fn wait_for(log: &std::path::Path, lines: usize) -> String {
    for _ in 0..100 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().count() >= lines {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    std::fs::read_to_string(log).unwrap_or_default()
}

#[tokio::test]
async fn actions_answer_as_aws_answers() {
    let yaml = r#"
listener: {address: 127.0.0.1:0}
api: {id: shop, stage: prod, region: us-east-1, account: "123456789012"}
resources:
  /{proxy+}:
    ANY:
      integration: {type: mock, body: passed}
gateway_responses:
  WAF_FILTERED:
    status: 403
    body: '{"message":"Forbidden","requestId":"$context.requestId"}'
waf:
  web_acl: edge
  web_acls:
    edge:
      DefaultAction: {Allow: {}}
      CustomResponseBodies:
        teapot: {ContentType: APPLICATION_JSON, Content: '{"error":"go away"}'}
      Rules:
        - Name: custom
          Priority: 0
          Statement: {ByteMatchStatement: {SearchString: /custom, FieldToMatch: {UriPath: {}}, PositionalConstraint: EXACTLY, TextTransformations: [{Priority: 0, Type: NONE}]}}
          Action: {Block: {CustomResponse: {ResponseCode: 418, CustomResponseBodyKey: teapot, ResponseHeaders: [{Name: x-blocked-by, Value: custom}]}}}
        - Name: captcha
          Priority: 1
          Statement: {ByteMatchStatement: {SearchString: /login, FieldToMatch: {UriPath: {}}, PositionalConstraint: EXACTLY, TextTransformations: [{Priority: 0, Type: NONE}]}}
          Action: {Captcha: {}}
        - Name: challenge
          Priority: 2
          Statement: {ByteMatchStatement: {SearchString: /signup, FieldToMatch: {UriPath: {}}, PositionalConstraint: EXACTLY, TextTransformations: [{Priority: 0, Type: NONE}]}}
          Action: {Challenge: {}}
        - Name: tag
          Priority: 3
          Statement: {ByteMatchStatement: {SearchString: /tagged, FieldToMatch: {UriPath: {}}, PositionalConstraint: STARTS_WITH, TextTransformations: [{Priority: 0, Type: NONE}]}}
          Action: {Count: {CustomRequestHandling: {InsertHeaders: [{Name: tier, Value: gold}]}}}
          RuleLabels: [{Name: "tagged"}]
        - Name: plain-block
          Priority: 4
          Statement: {ByteMatchStatement: {SearchString: /blocked, FieldToMatch: {UriPath: {}}, PositionalConstraint: EXACTLY, TextTransformations: [{Priority: 0, Type: NONE}]}}
          Action: {Block: {}}
"#;
    let gw = gateway(yaml).await;
    let (s, h, b) = call(&gw, "GET", "/custom", &[], "").await;
    assert_eq!((s, b.as_str()), (418, r#"{"error":"go away"}"#));
    assert_eq!(h["x-blocked-by"], "custom");
    assert_eq!(h["content-type"], "application/json");
    let (s, h, b) = call(&gw, "GET", "/login", &[], "").await;
    assert_eq!(s, 405);
    assert_eq!(h["x-amzn-waf-action"], "captcha");
    assert!(b.contains("<html"), "{b}");
    let (s, h, _) = call(&gw, "GET", "/signup", &[], "").await;
    assert_eq!(
        (s, h["x-amzn-waf-action"].to_str().unwrap()),
        (202, "challenge")
    );
    let (s, h, b) = call(&gw, "GET", "/blocked", &[], "").await;
    assert_eq!(s, 403);
    assert!(
        b.starts_with(r#"{"message":"Forbidden","requestId":""#),
        "the API's WAF_FILTERED response: {b}"
    );
    assert!(b.contains(h["x-amzn-requestid"].to_str().unwrap()), "{b}");
    let (s, _, b) = call(&gw, "GET", "/tagged/x", &[], "").await;
    assert_eq!((s, b.as_str()), (200, "passed"), "Count goes on");
}

#[tokio::test]
async fn inserted_headers_reach_the_upstream() {
    let (up, _) = upstream().await;
    let yaml = format!(
        r#"
listener: {{address: 127.0.0.1:0}}
api: {{id: shop, stage: prod, region: us-east-1, account: "123456789012"}}
resources:
  /{{proxy+}}:
    ANY:
      integration: {{type: http_proxy, uri: "http://{up}/echo/{{proxy}}"}}
waf:
  web_acl: edge
  web_acls:
    edge:
      DefaultAction: {{Allow: {{CustomRequestHandling: {{InsertHeaders: [{{Name: seen, Value: "yes"}}]}}}}}}
      Rules:
        - Name: tag
          Priority: 0
          Statement: {{ByteMatchStatement: {{SearchString: vip, FieldToMatch: {{SingleQueryArgument: {{Name: tier}}}}, PositionalConstraint: EXACTLY, TextTransformations: [{{Priority: 0, Type: NONE}}]}}}}
          Action: {{Count: {{CustomRequestHandling: {{InsertHeaders: [{{Name: Tier, Value: gold}}]}}}}}}
"#
    );
    let gw = gateway(&yaml).await;
    let (s, _, b) = call(
        &gw,
        "GET",
        "/x?tier=vip",
        &[("x-amzn-waf-tier", "forged")],
        "",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let echo: serde_json::Value = serde_json::from_str(&b).unwrap();
    let headers = echo["headers"].to_string();
    assert!(
        headers.contains("\"x-amzn-waf-tier\":\"gold\""),
        "{headers}"
    );
    assert!(headers.contains("\"x-amzn-waf-seen\":\"yes\""), "{headers}");
    assert!(
        !headers.contains("forged"),
        "a client's own x-amzn-waf-* header is replaced: {headers}"
    );
}

#[tokio::test]
async fn web_acls_are_associated_per_api_and_stage() {
    let yaml = r#"
listener: {address: 127.0.0.1:0}
aws: {region: eu-west-1, account: "123456789012"}
apis:
  shop:
    stages: {prod: {}, dev: {}}
    resources:
      /items:
        GET:
          integration: {type: mock, body: items}
  blog:
    stages: {v1: {}}
    resources:
      /posts:
        GET:
          integration: {type: mock, body: posts}
domains:
  "*":
    - {base_path: /shop, api: shop}
    - {base_path: /blog, api: blog, stage: v1}
waf:
  associations:
    - {web_acl: strict, api: shop, stage: prod}
    - {web_acl: lenient, api: blog}
  web_acls:
    strict:
      DefaultAction: {Block: {}}
      Rules:
        - Name: allow-office
          Priority: 0
          Statement: {IPSetReferenceStatement: {ARN: "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/office/1a2b"}}
          Action: {Allow: {}}
    lenient:
      DefaultAction: {Allow: {}}
  ip_sets:
    office: {IPAddressVersion: IPV4, Addresses: [10.9.0.0/16]}
"#;
    let gw = gateway(yaml).await;
    let (s, _, _) = call(&gw, "GET", "/shop/prod/items", &[], "").await;
    assert_eq!(s, 403, "prod's web ACL blocks all but the office");
    let (s, _, b) = call(&gw, "GET", "/shop/dev/items", &[], "").await;
    assert_eq!((s, b.as_str()), (200, "items"), "dev has no web ACL");
    let (s, _, b) = call(&gw, "GET", "/blog/posts", &[], "").await;
    assert_eq!((s, b.as_str()), (200, "posts"));
}

#[tokio::test]
async fn rate_based_counts_survive_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.yaml");
    let config = |body: &str| {
        format!(
            r#"
listener: {{address: 127.0.0.1:0}}
api: {{id: shop, stage: prod, region: us-east-1, account: "123456789012"}}
resources:
  /login:
    POST:
      integration: {{type: mock, body: {body}}}
waf:
  web_acl: edge
  web_acls:
    edge:
      DefaultAction: {{Allow: {{}}}}
      Rules:
        - Name: login-rate
          Priority: 0
          Statement:
            RateBasedStatement:
              Limit: 10
              EvaluationWindowSec: 60
              AggregateKeyType: IP
              ScopeDownStatement: {{ByteMatchStatement: {{SearchString: /login, FieldToMatch: {{UriPath: {{}}}}, PositionalConstraint: STARTS_WITH, TextTransformations: [{{Priority: 0, Type: NONE}}]}}}}
          Action: {{Block: {{}}}}
"#
        )
    };
    std::fs::write(&file, config("one")).unwrap();
    let gw = gateway_from_file(&file).await;
    for i in 0..6 {
        let (s, _, _) = call(&gw, "POST", "/login", &[], "").await;
        assert_eq!(s, 200, "request {i}");
    }
    std::fs::write(&file, config("two")).unwrap();
    gw.reload().await.unwrap();
    let (s, _, b) = call(&gw, "POST", "/login", &[], "").await;
    assert_eq!((s, b.as_str()), (200, "two"), "the new config serves");
    for _ in 0..3 {
        assert_eq!(call(&gw, "POST", "/login", &[], "").await.0, 200);
    }
    let (s, _, _) = call(&gw, "POST", "/login", &[], "").await;
    assert_eq!(
        s, 403,
        "the 11th request in the window, counted across the reload"
    );
}

#[test]
fn problems_point_at_their_line() {
    let yaml = r#"
listener: {address: 127.0.0.1:0}
api: {id: shop, stage: prod, region: us-east-1, account: "123456789012"}
resources:
  /x:
    GET:
      integration: {type: mock}
waf:
  web_acl: edge
  web_acls:
    edge:
      DefaultAction: {Allow: {}}
      Rules:
        - Name: r
          Priority: 0
          Statement: {ByteMatchStatement: {SearchString: x, FieldToMatch: {UriPath: {}}, PositionalConstraint: NEARBY, TextTransformations: [{Priority: 0, Type: NONE}]}}
          Action: {Block: {}}
"#;
    let env = |_: &str| None;
    let err =
        portcullis_config::load_str("gw.yaml", yaml, std::path::Path::new("."), &env).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("gw.yaml:16:"), "{text}");
    assert!(
        text.contains(
            "waf.web_acls.edge.Rules[0].Statement.ByteMatchStatement.PositionalConstraint"
        ),
        "{text}"
    );
    assert!(text.contains("`NEARBY` is not one of"), "{text}");
}

#[tokio::test]
async fn geo_match_reads_the_configured_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("countries.mmdb"),
        portcullis_waf::geo::test_database(&[("192.0.2.0/24", "NZ"), ("198.51.100.0/24", "DE")]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad-ips.txt"),
        "# reputation\n203.0.113.66\n",
    )
    .unwrap();
    let yaml = r#"
listener: {address: 127.0.0.1:0}
api: {id: shop, stage: prod, region: us-east-1, account: "123456789012"}
resources:
  /{proxy+}:
    ANY:
      integration: {type: mock, body: passed}
waf:
  web_acl: geo
  geo_database: countries.mmdb
  ip_reputation_list: bad-ips.txt
  web_acls:
    geo:
      DefaultAction: {Allow: {}}
      Rules:
        - Name: reputation
          Priority: 0
          Statement: {ManagedRuleGroupStatement: {VendorName: AWS, Name: AWSManagedRulesAmazonIpReputationList}}
          OverrideAction: {None: {}}
        - Name: not-from-nz
          Priority: 1
          Statement: {GeoMatchStatement: {CountryCodes: [NZ], ForwardedIPConfig: {HeaderName: X-Forwarded-For, FallbackBehavior: NO_MATCH}}}
          Action: {Block: {}}
        - Name: reputation-forwarded
          Priority: 2
          Statement: {IPSetReferenceStatement: {ARN: bad, IPSetForwardedIPConfig: {HeaderName: X-Forwarded-For, FallbackBehavior: NO_MATCH, Position: ANY}}}
          Action: {Block: {}}
  ip_sets:
    bad: {IPAddressVersion: IPV4, Addresses: [203.0.113.66/32]}
"#;
    let gw = gateway_in(yaml, dir.path()).await;
    let (s, _, _) = call(&gw, "GET", "/x", &[("x-forwarded-for", "192.0.2.10")], "").await;
    assert_eq!(s, 403, "an address in NZ");
    let (s, _, b) = call(
        &gw,
        "GET",
        "/x",
        &[("x-forwarded-for", "198.51.100.10")],
        "",
    )
    .await;
    assert_eq!((s, b.as_str()), (200, "passed"));
    let (s, _, _) = call(
        &gw,
        "GET",
        "/x",
        &[("x-forwarded-for", "198.51.100.10, 203.0.113.66")],
        "",
    )
    .await;
    assert_eq!(s, 403, "a bad address anywhere in the chain");
    let (s, _, _) = call(&gw, "GET", "/x", &[], "").await;
    assert_eq!(s, 200, "no header: NO_MATCH");
    // A database that is not one is a load error at its line.
    std::fs::write(dir.path().join("countries.mmdb"), b"garbage").unwrap();
    let env = |_: &str| None;
    let err = portcullis_config::load_str("gw.yaml", yaml, dir.path(), &env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gw.yaml:10:") && err.contains("not a MaxMind-format database"),
        "{err}"
    );
}

#[tokio::test]
async fn an_ip_set_file_that_changes_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let sets = dir.path().join("sets");
    std::fs::create_dir(&sets).unwrap();
    let ipset = |addr: &str| {
        format!(
            r#"{{"IPSet": {{"Name": "blocked", "IPAddressVersion": "IPV4", "Addresses": ["{addr}"]}}, "LockToken": "x"}}"#
        )
    };
    std::fs::write(sets.join("blocked.json"), ipset("192.0.2.1/32")).unwrap();
    let file = dir.path().join("gw.yaml");
    std::fs::write(
        &file,
        r#"
listener: {address: 127.0.0.1:0}
api: {id: shop, stage: prod, region: us-east-1, account: "123456789012"}
resources:
  /x:
    GET:
      integration: {type: mock, body: passed}
waf:
  web_acl: edge
  ip_sets:
    blocked: {file: sets/blocked.json}
  web_acls:
    edge:
      DefaultAction: {Allow: {}}
      Rules:
        - Name: blocked
          Priority: 0
          Statement: {IPSetReferenceStatement: {ARN: "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/blocked/0f1e"}}
          Action: {Block: {}}
"#,
    )
    .unwrap();
    let gw = gateway_from_file(&file).await;
    gw.watch_config().unwrap();
    assert_eq!(call(&gw, "GET", "/x", &[], "").await.0, 200);
    std::fs::write(sets.join("blocked.json"), ipset("127.0.0.0/8")).unwrap();
    let mut status = 0;
    for _ in 0..100 {
        status = call(&gw, "GET", "/x", &[], "").await.0;
        if status == 403 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        status, 403,
        "the new IP set is live without touching the config file"
    );
}
