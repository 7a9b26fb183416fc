#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]
//! Golden tests for configuration diagnostics.
//!
//! Every `tests/golden/NAME.yaml` is loaded with [`portcullis_config::load_str`] (file name
//! `NAME.yaml`, base directory `tests/golden`, and an environment that knows only
//! `UPSTREAM_HOST=127.0.0.1`), and the rendered diagnostics are compared with
//! `tests/golden/NAME.expected`. A file that loads renders its warnings, if any, and `ok\n`.
//!
//! To regenerate the expected files after an intended change in wording or locations, run
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p portcullis-config --test golden
//! ```
//!
//! and review the diff by eye before keeping it: every problem should point at the right
//! line and column, name the key path and say how to fix it.

use std::path::{Path, PathBuf};

use portcullis_config::{
    Config, IntegrationConfig, MappingSource, MappingTarget, UriPart, load_str,
};

/// The only environment the golden files see.
fn env(name: &str) -> Option<String> {
    match name {
        "UPSTREAM_HOST" => Some("127.0.0.1".to_owned()),
        _ => None,
    }
}

/// Relative to the package root, which is the working directory of `cargo test`; relative
/// so that paths in messages (e.g. a missing certificate file) are the same on every machine.
fn golden_base() -> &'static Path {
    Path::new("tests/golden")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn render(name: &str, source: &str) -> String {
    match load_str(name, source, golden_base(), &env) {
        Ok(config) => {
            let mut out = String::new();
            for w in &config.warnings {
                out.push_str(&w.render_warning(source));
                out.push('\n');
            }
            out.push_str("ok\n");
            out
        }
        Err(diags) => diags.render(),
    }
}

/// Git keeps no file modes but the executable bit, and the loader refuses a token file that
/// other users may read: every `*.token` is made owner-only, except `*-open.token`, which
/// is made readable by all to test that refusal.
fn set_token_modes() {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".token") {
            let mode = if stem.ends_with("-open") {
                0o644
            } else {
                0o600
            };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

#[test]
fn golden_diagnostics() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut yamls: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    yamls.sort();
    assert!(yamls.len() >= 5, "golden files missing: {yamls:?}");
    set_token_modes();
    let mut failures = Vec::new();
    for yaml in &yamls {
        let name = yaml.file_name().unwrap().to_str().unwrap();
        let source = std::fs::read_to_string(yaml).unwrap();
        let actual = render(name, &source);
        let expected_path = yaml.with_extension("expected");
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
                "=== {name}: rendered diagnostics differ from {}\n--- expected\n{expected}\n--- actual\n{actual}",
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

/// Messages that today come without a `help:` line. Each is a gap to close in the loader
/// (see the test report); remove an entry once its message carries help. The test fails if
/// any *other* message lacks help, so new messages cannot silently drop it.
const KNOWN_WITHOUT_HELP: &[&str] = &[
    "expected true or false",
    "expected a mapping of header names to values",
    "max_header_size must be at least",
    "is not a valid header name",
    "is not a path parameter of this resource",
    "empty query parameter name",
];

/// Messages about the whole document, which have no key path.
const WITHOUT_PATH: &[&str] = &[
    "invalid YAML:",
    "missing key `api` in the top level",
    "missing key `listener`",
    "expected a mapping, found",
];

/// Every golden file reports problems (or warnings), and each has a line and column, a key path
/// (unless it is about the whole document) and, but for the known gaps above, a help line.
#[test]
fn golden_problems_are_located_and_helped() {
    let mut yamls: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    yamls.sort();
    for yaml in &yamls {
        let name = yaml.file_name().unwrap().to_str().unwrap();
        let source = std::fs::read_to_string(yaml).unwrap();
        // A file that loads is there for its warnings, held to the same standard.
        let items = match load_str(name, &source, golden_base(), &env) {
            Err(diags) => diags.items,
            Ok(config) => config.warnings,
        };
        assert!(
            !items.is_empty(),
            "{name}: loaded without problems or warnings"
        );
        for d in &items {
            let line = d.one_line();
            // The config itself, or a file it reads (a web ACL's JSON) next to it.
            assert!(
                d.file == name || golden_dir().join(&d.file).is_file(),
                "{name}: a problem in an unknown file: {line}"
            );
            assert!(
                d.loc.line > 0 && d.loc.column > 0,
                "{name}: no location: {line}"
            );
            let whole_document = WITHOUT_PATH.iter().any(|m| d.message.starts_with(m));
            assert!(
                whole_document || !d.path.is_empty(),
                "{name}: no key path: {line}"
            );
            let known_gap = KNOWN_WITHOUT_HELP.iter().any(|m| d.message.contains(m));
            assert!(known_gap || d.help.is_some(), "{name}: no help: {line}");
        }
    }
}

const VALID: &str = r#"
api:
  id: a1b2c3d4e5
  stage: prod
  region: eu-west-1
  account: "123456789012"
listener:
  address: 127.0.0.1:8080
  max_body_size: 1MiB
  request_timeout: 1m30s
resources:
  /pets/{petId}:
    GET:
      integration:
        type: http_proxy
        uri: http://${UPSTREAM_HOST}:8081/pets/{petId}
        request_parameters:
          integration.request.header.X-Pet: method.request.path.petId
          integration.request.querystring.literal: "'$${notenv}'"
  /mock:
    ANY:
      integration:
        type: mock
        body: 'price is $$5 and $${HOME} is not substituted'
"#;

fn load_valid() -> Config {
    load_str("valid.yaml", VALID, Path::new("."), &env)
        .unwrap_or_else(|d| panic!("valid config rejected:\n{d}"))
}

#[test]
fn valid_config_loads() {
    let config = load_valid();
    assert_eq!(config.file, "valid.yaml");
    assert_eq!(config.apis[0].api.api_id, "a1b2c3d4e5");
    assert_eq!(config.apis[0].api.stage, "prod");
    assert_eq!(config.apis[0].api.region, "eu-west-1");
    assert_eq!(config.apis[0].api.account, "123456789012");
    assert_eq!(config.apis[0].api.partition, "aws");
    assert_eq!(config.listener.address.to_string(), "127.0.0.1:8080");
    assert_eq!(config.listener.max_body_size, 1024 * 1024);
    assert_eq!(config.listener.request_timeout.as_secs(), 90);
    // Defaults.
    assert_eq!(config.listener.idle_timeout.as_secs(), 60);
    assert!(config.listener.http2);
    assert!(config.admin.is_none());
    assert!(config.access_log.enabled);
    assert!(config.apis[0].gateway_responses.is_empty());
    let paths: Vec<&str> = config.apis[0]
        .resources
        .iter()
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(paths, ["/pets/{petId}", "/mock"]);
}

#[test]
fn env_variables_are_substituted() {
    let config = load_valid();
    let IntegrationConfig::HttpProxy(proxy) = &config.apis[0].resources[0].methods[0].integration
    else {
        panic!("not a proxy");
    };
    assert_eq!(proxy.uri.scheme, "http");
    assert_eq!(proxy.uri.authority, "127.0.0.1:8081");
    assert_eq!(
        proxy.uri.parts,
        [
            UriPart::Literal("/pets/".to_owned()),
            UriPart::Param("petId".to_owned())
        ]
    );
    assert_eq!(
        proxy.request_parameters[0].target,
        MappingTarget::Header("X-Pet".to_owned())
    );
    assert_eq!(
        proxy.request_parameters[0].source,
        MappingSource::PathParam("petId".to_owned())
    );
}

#[test]
fn double_dollar_brace_is_a_literal() {
    let config = load_valid();
    let IntegrationConfig::HttpProxy(proxy) = &config.apis[0].resources[0].methods[0].integration
    else {
        panic!("not a proxy");
    };
    assert_eq!(
        proxy.request_parameters[1].source,
        MappingSource::Literal("${notenv}".to_owned())
    );
    let IntegrationConfig::Mock(mock) = &config.apis[0].resources[1].methods[0].integration else {
        panic!("not a mock");
    };
    // `$${` becomes `${`; a `$` not followed by `{` is kept as is.
    assert_eq!(mock.body, "price is $$5 and ${HOME} is not substituted");
}

#[test]
fn env_lookup_is_the_one_given() {
    // The same text with an environment that lacks UPSTREAM_HOST is rejected, naming it.
    let none = |_: &str| None;
    let err = load_str("valid.yaml", VALID, Path::new("."), &none).unwrap_err();
    assert_eq!(err.items.len(), 1, "{err}");
    let d = &err.items[0];
    assert_eq!(d.message, "environment variable `UPSTREAM_HOST` is not set");
    assert_eq!(d.path, "resources./pets/{petId}.GET.integration.uri");
    assert_eq!((d.loc.line, d.loc.column), (16, 14));
}

#[test]
fn request_validation_resolves_per_method() {
    use http::HeaderMap;
    let source = std::fs::read_to_string(golden_dir().join("validation_ok.yaml")).unwrap();
    let config = load_str("validation_ok.yaml", &source, golden_base(), &env).unwrap();
    assert_eq!(config.validation.max_body_size, 512 * 1024);
    assert_eq!(config.validation.max_depth, 16);
    assert_eq!(
        config.apis[0].default_request_validator.as_deref(),
        Some("all")
    );
    let names: Vec<&str> = config.apis[0].models.names().collect();
    assert_eq!(names, ["Anything", "Order", "Owner", "Pet"]);
    let method = |path: &str, verb: &str| {
        config.apis[0]
            .resources
            .iter()
            .find(|r| r.path == path)
            .and_then(|r| r.methods.iter().find(|m| m.method == verb))
            .unwrap()
            .validation
            .clone()
    };
    let limits = portcullis_validate::BodyLimits { max_depth: 16 };
    // The API-wide default `all`: parameters and body.
    let post = method("/pets", "POST").unwrap();
    assert!(post.checks_params() && post.checks_body());
    assert_eq!(
        post.params.missing(None, &HeaderMap::new(), &|_| None),
        Some("Missing required request parameters: [q]".to_owned())
    );
    let pet = post
        .model_for(Some("application/json; charset=utf-8"))
        .unwrap();
    assert_eq!(pet.name(), "Pet");
    assert!(
        pet.check(br#"{"type":"dog","price":1,"owner":null}"#, &limits)
            .is_ok()
    );
    assert!(
        pet.check(br#"{"type":"dog","price":1,"owner":{"email":1}}"#, &limits)
            .is_err()
    );
    assert_eq!(post.model_for(Some("text/csv")).unwrap().name(), "Anything");
    // params-only, body-only.
    let get = method("/pets", "GET").unwrap();
    assert!(get.checks_params() && !get.checks_body());
    let put = method("/pets/{petId}", "PUT").unwrap();
    assert!(put.checks_body() && !put.checks_params());
    assert_eq!(put.model_for(None).unwrap().name(), "Pet");
    assert!(put.model_for(Some("application/xml")).is_none());
    // NONE: nothing checked at all.
    assert!(method("/pets/{petId}", "DELETE").is_none());
    // A model from a file, referring to an inline one.
    let order = method("/orders", "POST").unwrap();
    let order = order.model_for(None).unwrap();
    assert!(
        order
            .check(br#"{"pet":{"type":"cat","price":2},"quantity":1}"#, &limits)
            .is_ok()
    );
    assert!(
        order
            .check(
                br#"{"pet":{"type":"cow","price":2},"quantity":11}"#,
                &limits
            )
            .is_err()
    );
}

#[test]
fn validation_defaults_follow_the_listener() {
    let small = VALID.replace("max_body_size: 1MiB", "max_body_size: 64KiB");
    let config = load_str("valid.yaml", &small, Path::new("."), &env).unwrap();
    assert_eq!(config.validation.max_body_size, 64 * 1024);
    assert_eq!(config.validation.max_depth, 32);
    assert!(config.apis[0].models.is_empty());
    assert!(
        config.apis[0]
            .resources
            .iter()
            .all(|r| r.methods.iter().all(|m| m.validation.is_none()))
    );
}

/// The many-APIs shape: the account once, each API with its type, stages and sections,
/// domains with their mappings longest base path first.
#[test]
fn many_apis_load() {
    let source = include_str!("many_apis.yaml");
    let config = load_str("many_apis.yaml", source, golden_base(), &env)
        .unwrap_or_else(|d| panic!("many-APIs config rejected:\n{d}"));
    assert_eq!(config.account.region, "eu-west-1");
    assert_eq!(config.account.partition, "aws");
    let ids: Vec<&str> = config.apis.iter().map(|a| a.api.api_id.as_str()).collect();
    assert_eq!(ids, ["shop", "orders"]);
    let shop = &config.apis[0];
    assert_eq!(shop.kind, portcullis_config::ApiKind::Rest);
    assert_eq!(shop.path, "apis.shop");
    let stages: Vec<&str> = shop.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["prod", "dev"]);
    assert_eq!(
        shop.stages[0].variables,
        [("tier".to_owned(), "gold".to_owned())]
    );
    assert_eq!(shop.authorizers[0].name, "partners");
    assert_eq!(
        shop.authorization.default_authorizer.as_deref(),
        Some("partners")
    );
    let orders = &config.apis[1];
    assert_eq!(orders.kind, portcullis_config::ApiKind::Http);
    assert_eq!(orders.stages[0].name, "$default");
    assert!(orders.authorizers.is_empty());
    assert_eq!(config.domains.len(), 2);
    let api = &config.domains[0];
    assert_eq!(api.host, "api.example.com");
    assert_eq!(api.mappings[0].base_path, ["orders", "v1"]);
    assert_eq!(api.mappings[0].stage.as_deref(), Some("$default"));
    assert!(api.mappings[1].base_path.is_empty());
    assert_eq!(config.domains[1].mappings[0].stage, None);
}

/// The single-API shape maps every other host to its one stage, without a stage in the path.
#[test]
fn a_single_api_answers_on_every_host() {
    let config = load_valid();
    assert_eq!(config.apis.len(), 1);
    let any = config.domains.iter().find(|d| d.host == "*").unwrap();
    assert_eq!(any.mappings.len(), 1);
    assert!(any.mappings[0].base_path.is_empty());
    assert_eq!(any.mappings[0].api, "a1b2c3d4e5");
    assert_eq!(any.mappings[0].stage.as_deref(), Some("prod"));
}
