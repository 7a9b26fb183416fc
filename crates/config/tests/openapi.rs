#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]
//! Golden tests of OpenAPI import ([`portcullis_config::openapi`]).
//!
//! Every `tests/openapi/NAME.json` or `NAME.yaml` is converted, as a REST API when `NAME`
//! ends in `.rest`, as an HTTP API when it ends in `.http`, else with the kind detected, and
//! the result is compared with `tests/openapi/NAME.expected`: the API's mapping written with
//! `yaml::emit` when the document converts, else every problem (line:column, JSON path,
//! message and help). Documents named `unsupported*` must fail, the others must convert.
//!
//! To regenerate the expected files after an intended change, run
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p portcullis-config --test openapi
//! ```
//!
//! and review the diff: each problem should point at the line of the OpenAPI document that
//! causes it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "support/generated.rs"]
mod generated;

use generated::generated_document;
use portcullis_config::openapi::{Problem, convert};
use portcullis_config::yaml::{self, Loc, Node, Value, emit};
use portcullis_config::{ApiKind, load_str};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap()
}

fn render_problems(problems: &[Problem]) -> String {
    let mut out = String::new();
    for p in problems {
        writeln!(
            out,
            "{}:{} {}\n  error: {}\n  help: {}",
            p.loc.line, p.loc.column, p.json_path, p.message, p.help
        )
        .unwrap();
    }
    writeln!(out, "{} problems", problems.len()).unwrap();
    out
}

/// The tree without locations.
fn bare(node: &Node) -> Node {
    node.without_locations()
}

/// Every node and key of the tree, with its path.
fn walk<'n>(node: &'n Node, path: &str, out: &mut Vec<(String, Loc, &'n Node)>) {
    out.push((path.to_owned(), node.loc, node));
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                let p = format!("{path}.{}", k.name);
                out.push((format!("{p} (key)"), k.loc, v));
                walk(v, &p, out);
            }
        }
        _ => {}
    }
}

fn get<'n>(node: &'n Node, path: &[&str]) -> &'n Node {
    path.iter().fold(node, |n, k| match &n.value {
        Value::Map(e) => {
            &e.iter()
                .find(|(key, _)| key.name == *k)
                .unwrap_or_else(|| {
                    panic!(
                        "no `{k}` in {:?}",
                        e.iter().map(|(k, _)| &k.name).collect::<Vec<_>>()
                    )
                })
                .1
        }
        _ => panic!("{k}: not a map"),
    })
}

fn kind_of(name: &str) -> Option<ApiKind> {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    if stem.ends_with(".rest") {
        Some(ApiKind::Rest)
    } else if stem.ends_with(".http") {
        Some(ApiKind::Http)
    } else {
        None
    }
}

#[test]
fn golden_conversions() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut docs: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "yaml"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 6, "documents missing: {docs:?}");
    let mut failures = Vec::new();
    for doc in &docs {
        let name = doc.file_name().unwrap().to_str().unwrap();
        let source = std::fs::read_to_string(doc).unwrap();
        let result = convert(&source, kind_of(name));
        let actual = match &result {
            Ok(converted) => {
                let text = emit(&converted.api);
                // What is written reads back as the same tree.
                let back = yaml::parse(&text).unwrap_or_else(|e| panic!("{name}: {e:?}\n{text}"));
                assert_eq!(
                    bare(&back),
                    bare(&converted.api),
                    "{name}: emitted YAML differs"
                );
                // Every node comes from somewhere in the document.
                let mut nodes = Vec::new();
                walk(&converted.api, "", &mut nodes);
                for (path, loc, _) in &nodes {
                    assert!(loc.line > 0, "{name}: {path} has no location");
                }
                text
            }
            Err(problems) => {
                for p in problems {
                    assert!(p.loc.line > 0, "{name}: {p} has no location");
                }
                render_problems(problems)
            }
        };
        assert_eq!(
            result.is_err(),
            name.starts_with("unsupported"),
            "{name}:\n{actual}"
        );
        let expected_path = doc.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
                expected_path.display()
            )
        });
        if actual != expected {
            failures.push(format!(
                "=== {name}: differs from {}\n--- expected\n{expected}\n--- actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(run with UPDATE_GOLDEN=1 to accept the new output)",
        failures.join("\n")
    );
}

/// The 1-based line of the first line of `source` containing `needle`.
fn line_of(source: &str, needle: &str) -> u64 {
    let i = source
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in the document"));
    u64::try_from(i).unwrap() + 1
}

#[test]
fn nodes_point_at_their_source_lines() {
    let source = read("petstore-oas3.json");
    let api = convert(&source, None).unwrap().api;
    let uri = get(
        &api,
        &["resources", "/pets/{petId}", "GET", "integration", "uri"],
    );
    assert_eq!(
        uri.value,
        Value::Str("http://petstore.example.com/petstore/pets/{petId}".into())
    );
    assert_eq!(
        uri.loc.line,
        line_of(
            &source,
            "\"http://petstore.example.com/petstore/pets/{id}\""
        )
    );
    let mapping = get(
        &api,
        &[
            "resources",
            "/pets",
            "GET",
            "integration",
            "request_parameters",
        ],
    );
    let Value::Map(entries) = &mapping.value else {
        panic!("not a map")
    };
    assert_eq!(entries[0].0.name, "integration.request.querystring.page");
    assert_eq!(
        entries[0].0.loc.line,
        line_of(&source, "\"integration.request.querystring.page\" :")
    );
    let model = get(&api, &["models", "Pets", "schema", "items", "$ref"]);
    assert_eq!(
        model.value,
        Value::Str("https://apigateway.amazonaws.com/restapis/API/models/Pet".into())
    );
    let stage = get(&api, &["stages"]);
    let Value::Map(stages) = &stage.value else {
        panic!("not a map")
    };
    assert_eq!(stages[0].0.name, "prod");
    assert_eq!(
        stages[0].0.loc.line,
        line_of(&source, "\"default\" : \"/prod\"")
    );
}

/// A REST API converted from either PetStore document, served as one API of a config,
/// loads without a problem.
#[test]
fn petstore_loads_as_config() {
    for name in ["petstore-oas3.json", "petstore-swagger.json"] {
        let api = convert(&read(name), None).unwrap().api;
        let config = format!(
            "aws: {{region: us-east-1, account: \"123456789012\"}}\nlistener: {{address: 127.0.0.1:8080}}\napis:\n  petstore:\n{}",
            emit(&api)
                .lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        );
        let loaded = load_str("petstore.yaml", &config, &dir(), &|_| None);
        if let Err(diags) = &loaded {
            panic!("{name}:\n{}\n{config}", diags.render());
        }
        let config = loaded.unwrap();
        let warnings: Vec<String> = config
            .warnings
            .iter()
            .map(|w| w.render_warning(""))
            .collect();
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
    }
}

#[test]
fn both_petstores_make_the_same_api() {
    let oas3 = convert(&read("petstore-oas3.json"), None).unwrap().api;
    let swagger = convert(&read("petstore-swagger.json"), None).unwrap().api;
    assert_eq!(emit(&oas3), emit(&swagger));
}

#[test]
fn kinds_are_detected() {
    let detect = |doc: &str| convert(doc, None).map(|c| c.kind);
    assert_eq!(detect("openapi: 3.0.1\npaths: {}\n"), Ok(ApiKind::Rest));
    assert_eq!(detect("swagger: '2.0'\npaths: {}\n"), Ok(ApiKind::Rest));
    assert_eq!(
        detect("openapi: 3.0.1\nx-amazon-apigateway-importexport-version: '1.0'\npaths: {}\n"),
        Ok(ApiKind::Http)
    );
    assert_eq!(
        detect("openapi: 3.0.1\nx-amazon-apigateway-cors: {allowOrigins: ['*']}\n"),
        Ok(ApiKind::Http)
    );
    let jwt = "openapi: 3.0.1\ncomponents:\n  securitySchemes:\n    a:\n      type: oauth2\n      x-amazon-apigateway-authorizer:\n        type: JWT\n        jwtConfiguration: {issuer: 'https://id.example.com', audience: [x]}\n";
    assert_eq!(detect(jwt), Ok(ApiKind::Http));
    // A forced kind wins, and what the other kind lacks is refused.
    let forced = convert(
        "openapi: 3.0.1\nx-amazon-apigateway-cors: {allowOrigins: ['*']}\n",
        Some(ApiKind::Rest),
    );
    let problems = forced.err().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].json_path, "$['x-amazon-apigateway-cors']");
    assert_eq!(problems[0].loc, Loc { line: 2, column: 1 });
    let http = convert("openapi: 3.0.1\npaths: {}\n", Some(ApiKind::Http)).unwrap();
    assert_eq!(
        emit(&http.api),
        "type: HTTP\nstages:\n  \"$default\": {}\nroutes: {}\n"
    );
}

#[test]
fn security_requirements() {
    let doc = |root: &str, op: &str| {
        format!(
            "openapi: 3.0.1\n{root}paths:\n  /a:\n    get:\n{op}      x-amazon-apigateway-integration: {{type: http_proxy, uri: 'http://b/a'}}\ncomponents:\n  securitySchemes:\n    key: {{type: apiKey, name: X-API-Key, in: header}}\n    pool:\n      type: apiKey\n      name: Authorization\n      in: header\n      x-amazon-apigateway-authorizer: {{type: cognito_user_pools, providerARNs: [arn]}}\n"
        )
    };
    let method = |root: &str, op: &str| {
        let api = convert(&doc(root, op), None)
            .unwrap_or_else(|p| panic!("{p:?}"))
            .api;
        let m = get(&api, &["resources", "/a", "GET"]);
        let mut m = bare(m);
        if let Value::Map(e) = &mut m.value {
            e.retain(|(k, _)| k.name != "integration");
        }
        let text = emit(&m);
        let default = match &api.value {
            Value::Map(e) => e
                .iter()
                .find(|(k, _)| k.name == "authorization")
                .map(|(_, v)| emit(&bare(v))),
            _ => None,
        };
        let token_use = emit(&bare(get(&api, &["authorizers", "pool"])));
        (text, default, token_use)
    };
    // Inherited: the default authorizer; no scopes, so the pool takes ID tokens.
    let (m, d, pool) = method("security: [{pool: []}]\n", "");
    assert_eq!(m, "{}\n");
    assert_eq!(d.as_deref(), Some("default_authorizer: pool\n"));
    assert!(pool.ends_with("token_use: id\n"), "{pool}");
    // `security: []`: public.
    let (m, _, _) = method("security: [{pool: []}]\n", "      security: []\n");
    assert_eq!(m, "authorizer: NONE\n");
    // An API key alone, where there is a default authorizer: that authorizer is off.
    let (m, _, _) = method("security: [{pool: []}]\n", "      security: [{key: []}]\n");
    assert_eq!(m, "authorizer: NONE\napi_key_required: true\n");
    // Requirements together (API Gateway applies them all), scopes: access tokens.
    let (m, d, pool) = method(
        "",
        "      security: [{pool: [a/read, a/write]}, {key: []}]\n",
    );
    assert_eq!(
        m,
        "authorizer: pool\nscopes:\n  - a/read\n  - a/write\napi_key_required: true\n"
    );
    assert_eq!(d, None);
    assert!(pool.ends_with("token_use: access\n"), "{pool}");
}

#[test]
fn lambda_arns_name_local_functions() {
    let doc = |uri: &str| {
        format!(
            "openapi: 3.0.1\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: '{uri}'}}\n"
        )
    };
    for (uri, function) in [
        (
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:orders/invocations",
            Some("orders"),
        ),
        (
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:orders:live/invocations",
            Some("orders"),
        ),
        (
            "arn:aws-cn:apigateway:cn-north-1:lambda:path/2015-03-31/functions/arn:aws-cn:lambda:cn-north-1:123456789012:function:my_fn-2:7/invocations",
            Some("my_fn-2"),
        ),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:bare",
            Some("bare"),
        ),
        (
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}/invocations",
            None,
        ),
        ("arn:aws:apigateway:us-east-1:s3:path/bucket/key", None),
    ] {
        let result = convert(&doc(uri), None);
        match (result, function) {
            (Ok(c), Some(f)) => {
                let node = get(
                    &c.api,
                    &["resources", "/a", "GET", "integration", "function"],
                );
                assert_eq!(node.value, Value::Str(f.into()), "{uri}");
            }
            (Err(p), None) => {
                assert_eq!(p.len(), 1, "{p:?}");
                assert!(p[0].json_path.ends_with(".uri"), "{p:?}");
            }
            (other, _) => panic!("{uri}: {other:?}"),
        }
    }
}

#[test]
fn two_hundred_operations_convert() {
    let doc = generated_document(100);
    let converted = convert(&doc, None).unwrap_or_else(|p| panic!("{}", render_problems(&p)));
    let Value::Map(resources) = &get(&converted.api, &["resources"]).value else {
        panic!("no resources")
    };
    assert_eq!(resources.len(), 100);
    let methods: usize = resources
        .iter()
        .map(|(_, r)| match &r.value {
            Value::Map(m) => m.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(methods, 200);
    let text = emit(&converted.api);
    assert_eq!(bare(&yaml::parse(&text).unwrap()), bare(&converted.api));
    let last = get(
        &converted.api,
        &[
            "resources",
            "/items99/{id}",
            "POST",
            "integration",
            "function",
        ],
    );
    assert_eq!(last.value, Value::Str("items99".into()));
}

#[test]
fn http_api_authorizers() {
    let doc = |scheme: &str, security: &str| {
        format!(
            "openapi: 3.0.1\nx-amazon-apigateway-importexport-version: '1.0'\npaths:\n  /a:\n    get:\n      security: [{security}]\n      x-amazon-apigateway-integration:\n        $ref: '#/components/x-amazon-apigateway-integrations/shared'\n    post:\n      security: [{security}]\n      x-amazon-apigateway-integration:\n        $ref: '#/components/x-amazon-apigateway-integrations/shared'\ncomponents:\n  x-amazon-apigateway-integrations:\n    shared: {{type: http_proxy, uri: 'http://b/a', credentials: 'arn:aws:iam::123456789012:role/r'}}\n  securitySchemes:\n    s:\n{scheme}"
        )
    };
    // The issuer comes from the OpenID Connect discovery URL when the authorizer names none.
    let oidc = "      type: openIdConnect\n      openIdConnectUrl: https://id.example.com/realms/main/.well-known/openid-configuration\n      x-amazon-apigateway-authorizer: {type: jwt, jwtConfiguration: {audience: [app]}}\n";
    let problems = convert(&doc(oidc, "{s: [read]}"), None).err().unwrap();
    // The shared integration's problem, once for both routes.
    assert_eq!(problems.len(), 1, "{}", render_problems(&problems));
    assert!(problems[0].json_path.ends_with("shared.credentials"));
    let ok =
        doc(oidc, "{s: [read]}").replace(", credentials: 'arn:aws:iam::123456789012:role/r'", "");
    let api = convert(&ok, None).unwrap().api;
    assert_eq!(
        get(&api, &["authorizers", "s", "issuer"]).value,
        Value::Str("https://id.example.com/realms/main".into())
    );
    // REST-only authorizers and API keys are refused in an HTTP API.
    let token = "      type: apiKey\n      name: Authorization\n      in: header\n      x-amazon-apigateway-authorizer: {type: token, authorizerUri: 'arn:aws:lambda:us-east-1:123456789012:function:f'}\n";
    let problems = convert(&ok.replace(oidc, token), None).err().unwrap();
    assert_eq!(problems.len(), 1, "{}", render_problems(&problems));
    assert_eq!(
        problems[0].message,
        "`token` authorizers belong to REST APIs"
    );
    let key = "      type: apiKey\n      name: x-api-key\n      in: header\n";
    let problems = convert(&ok.replace(oidc, key).replace("[read]", "[]"), None)
        .err()
        .unwrap();
    assert_eq!(problems.len(), 2, "{}", render_problems(&problems));
    assert_eq!(
        problems[0].message,
        "`s` is an API key, and HTTP APIs have none"
    );
}

/// YAML aliases are refused in documents: a few nested aliases to a long scalar would
/// otherwise be copied billions of times.
#[test]
fn yaml_aliases_are_refused() {
    let long = "x".repeat(1000);
    let mut doc = format!("openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\na0: &a0 \"{long}\"\n");
    for i in 1..6 {
        let prev = i - 1;
        writeln!(doc, "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]").unwrap();
    }
    doc.push_str("paths: {}\n");
    let problems = convert(&doc, None).unwrap_err();
    assert_eq!(problems.len(), 1, "{}", render_problems(&problems));
    assert_eq!(problems[0].json_path, "$");
    assert!(
        problems[0].message.starts_with("invalid JSON or YAML"),
        "{}",
        problems[0].message
    );
}
