//! Lambda authorizers (`type: token | request` under `authorizers:`), the functions they run
//! (`functions:`), and the stage's variables (`stage_variables:`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Cx, Map, join, named};
use crate::model::*;
use crate::yaml::{Node, Value};

const LAMBDA_KEYS: &[&str] = &[
    "type",
    "function",
    "url",
    "timeout",
    "identity_source",
    "identity_validation_expression",
    "result_ttl",
    "cache_entries",
    "payload",
    "simple_responses",
    "limits_context",
    "usage_plan_context",
];

const FUNCTION_KEYS: &[&str] = &[
    "runtime",
    "handler",
    "code",
    "command",
    "timeout",
    "memory",
    "min_workers",
    "max_workers",
    "queue",
    "environment",
];

/// Variables the worker's environment gets from the gateway; a function may not set them.
pub const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Whether `type` names a Lambda authorizer.
pub(super) fn is_lambda_type(t: &str) -> bool {
    t.eq_ignore_ascii_case("token") || t.eq_ignore_ascii_case("request")
}

pub(super) fn read_lambda_authorizer(
    cx: &mut Cx<'_>,
    name: &str,
    node: &Node,
    path: &str,
) -> Option<LambdaAuthorizerConfig> {
    let mut m = cx.map(node, path)?;
    let kind = m
        .required(cx, "type", "add `type: token` or `type: request`")
        .and_then(|(n, p)| cx.string(n, &p))
        .map(|t| {
            if t.eq_ignore_ascii_case("token") {
                LambdaKind::Token
            } else {
                LambdaKind::Request
            }
        });
    let function = m.take("function");
    let url = m.take("url");
    let timeout = m.take("timeout");
    let target = match (function, url) {
        (Some((n, p)), None) => {
            if let Some((t, tp)) = &timeout {
                cx.error(
                    t.loc,
                    tp,
                    "`timeout` of an authorizer applies to `url` only",
                    "a function's timeout is set under `functions:`",
                );
            }
            cx.string(n, &p).map(LambdaTarget::Function)
        }
        (None, Some((n, p))) => {
            let url = cx.string(n, &p);
            let url = url.and_then(|u| match crate::model::key_url_problem(&u) {
                None => Some(u),
                Some(why) => {
                    let why = if why.starts_with("keys over plain http") {
                        "credentials over plain http could be read in transit"
                    } else {
                        why
                    };
                    cx.error(
                        n.loc,
                        &p,
                        format!("`{u}`: {why}"),
                        "the event carries the caller's credentials: use https, or plain http on loopback",
                    );
                    None
                }
            });
            let timeout = match timeout {
                Some((t, tp)) => cx.duration(t, &tp).and_then(|d| {
                    if d > Duration::ZERO && d <= Duration::from_secs(30) {
                        cx.auth_timeouts.push((t.loc, tp.clone(), d));
                        Some(d)
                    } else {
                        cx.error(t.loc, &tp, "timeout out of range", "use 1ms to 30s");
                        None
                    }
                }),
                None => {
                    let d = Duration::from_secs(10);
                    cx.auth_timeouts.push((n.loc, join(path, "timeout"), d));
                    Some(d)
                }
            };
            match (url, timeout) {
                (Some(url), Some(timeout)) => Some(LambdaTarget::Url { url, timeout }),
                _ => None,
            }
        }
        (Some((n, p)), Some(_)) => {
            cx.error(
                n.loc,
                &p,
                "an authorizer has a `function` or a `url`, not both",
                "keep one",
            );
            None
        }
        (None, None) => {
            cx.error(
                node.loc,
                path,
                "a Lambda authorizer needs `function` or `url`",
                "name a function under `functions:`, or give the URL that answers the event",
            );
            None
        }
    };
    let payload = match m.take("payload") {
        Some((n, p)) => cx.string(n, &p).and_then(|t| match t.as_str() {
            "rest" => Some(PayloadFormat::Rest),
            "1.0" => Some(PayloadFormat::Http1),
            "2.0" => Some(PayloadFormat::Http2),
            _ => {
                cx.error(
                    n.loc,
                    &p,
                    format!("payload `{t}` is not rest, \"1.0\" or \"2.0\""),
                    "rest: REST API events; \"1.0\" / \"2.0\": HTTP API payload formats",
                );
                None
            }
        }),
        None => Some(PayloadFormat::Rest),
    };
    let simple_responses = match m.take("simple_responses") {
        Some((n, p)) => cx.boolean(n, &p).and_then(|b| {
            if b && payload.is_some_and(|f| f != PayloadFormat::Http2) {
                cx.error(
                    n.loc,
                    &p,
                    "simple responses need payload \"2.0\"",
                    "add `payload: \"2.0\"`, or remove this key",
                );
                return None;
            }
            Some(b)
        }),
        None => Some(false),
    };
    if kind == Some(LambdaKind::Token) && payload.is_some_and(|f| f != PayloadFormat::Rest) {
        cx.error(
            node.loc,
            &join(path, "payload"),
            "HTTP API payload formats have request authorizers only",
            "use `type: request` with an HTTP API payload, or `payload: rest`",
        );
    }
    let sources = match m.take("identity_source") {
        Some((n, p)) => read_sources(cx, n, &p),
        None if kind == Some(LambdaKind::Token) => {
            Some(vec![IdentitySource::Header("authorization".into())])
        }
        None => Some(Vec::new()),
    };
    if kind == Some(LambdaKind::Token)
        && let Some(s) = &sources
        && !matches!(s.as_slice(), [IdentitySource::Header(_)])
    {
        cx.error(
            node.loc,
            &join(path, "identity_source"),
            "a token authorizer reads exactly one header",
            "e.g. `identity_source: method.request.header.Authorization`",
        );
    }
    let validation = match m.take("identity_validation_expression") {
        Some((n, p)) => cx.string(n, &p).and_then(|re| {
            if kind == Some(LambdaKind::Request) {
                cx.error(
                    n.loc,
                    &p,
                    "identity_validation_expression applies to token authorizers only",
                    "API Gateway does not check it for request authorizers; remove it",
                );
                return None;
            }
            match regex::Regex::new(&format!("^(?:{re})$")) {
                Ok(_) => Some(Some(re)),
                Err(e) => {
                    let first = e.to_string();
                    let reason = first.lines().last().unwrap_or("invalid").trim().to_owned();
                    cx.error(
                        n.loc,
                        &p,
                        format!("invalid regular expression: {reason}"),
                        "the whole token must match; no look-around or back-references",
                    );
                    None
                }
            }
        }),
        None => Some(None),
    };
    let ttl = match m.take("result_ttl") {
        Some((n, p)) => cx.duration(n, &p).and_then(|d| {
            if d <= Duration::from_secs(3600) {
                Some(d)
            } else {
                cx.error(
                    n.loc,
                    &p,
                    "result_ttl over 3600s",
                    "API Gateway caps authorizer results at one hour; use 0s to 3600s",
                );
                None
            }
        }),
        None => Some(Duration::from_secs(300)),
    };
    // The cache key is the identity-source values: with none, one caller's answer would
    // serve everyone.
    if let (Some(s), Some(t)) = (&sources, &ttl)
        && s.is_empty()
        && !t.is_zero()
    {
        cx.error(
            node.loc,
            &join(path, "result_ttl"),
            "caching needs at least one identity source",
            "list the identity sources that tell callers apart, or set `result_ttl: 0s`",
        );
    }
    let cache_entries = match m.take("cache_entries") {
        Some((n, p)) => cx
            .integer(n, &p, 0, 10_000_000)
            .and_then(|i| u32::try_from(i).ok()),
        None => Some(10_000),
    };
    let limits =
        super::auth::read_limits_from(cx, &mut m, path, ("limits_context", "usage_plan_context"));
    m.finish(cx, LAMBDA_KEYS);
    Some(LambdaAuthorizerConfig {
        name: name.to_owned(),
        loc: node.loc,
        kind: kind?,
        payload: payload?,
        simple_responses: simple_responses?,
        target: target?,
        identity_sources: sources?,
        validation_expression: validation?,
        result_ttl: ttl?,
        cache_entries: cache_entries?,
        limits: limits?,
    })
}

fn read_sources(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Vec<IdentitySource>> {
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        // API Gateway's own form: one comma-separated string.
        _ => vec![node],
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, n) in items.into_iter().enumerate() {
        let ipath = if matches!(node.value, Value::Seq(_)) {
            format!("{path}[{i}]")
        } else {
            path.to_owned()
        };
        let Some(text) = cx.string(n, &ipath) else {
            ok = false;
            continue;
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match parse_source(part) {
                Ok(s) => {
                    if out.contains(&s) {
                        cx.error(
                            n.loc,
                            &ipath,
                            format!("`{part}` is listed twice"),
                            "list each identity source once",
                        );
                        ok = false;
                    } else {
                        out.push(s);
                    }
                }
                Err(help) => {
                    cx.error(
                        n.loc,
                        &ipath,
                        format!("`{part}` is not an identity source"),
                        help,
                    );
                    ok = false;
                }
            }
        }
    }
    if out.len() > 16 {
        cx.error(
            node.loc,
            path,
            "more than 16 identity sources",
            "cache keys are built from every source; keep the list short",
        );
        ok = false;
    }
    ok.then_some(out)
}

fn parse_source(text: &str) -> Result<IdentitySource, String> {
    let rest = text.strip_prefix('$').unwrap_or(text);
    let (kind, name) = if let Some(h) = rest
        .strip_prefix("method.request.header.")
        .or_else(|| rest.strip_prefix("request.header."))
    {
        ("header", h)
    } else if let Some(q) = rest
        .strip_prefix("method.request.querystring.")
        .or_else(|| rest.strip_prefix("request.querystring."))
    {
        ("query", q)
    } else if let Some(s) = rest.strip_prefix("stageVariables.") {
        ("stage", s)
    } else if let Some(c) = rest.strip_prefix("context.") {
        ("context", c)
    } else if rest.starts_with("method.request.path.") || rest.starts_with("request.path.") {
        return Err("path parameters cannot be identity sources (API Gateway's rule)".into());
    } else {
        return Err("use method.request.header.NAME, method.request.querystring.NAME, stageVariables.NAME or context.NAME (or the HTTP API forms $request.header.NAME, ...)".into());
    };
    if name.is_empty() {
        return Err("name the header, parameter or variable after the last dot".into());
    }
    Ok(match kind {
        "header" => {
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
            {
                return Err("header names are letters, digits and `-`".into());
            }
            IdentitySource::Header(name.to_ascii_lowercase())
        }
        "query" => IdentitySource::Query(name.to_owned()),
        "stage" => IdentitySource::StageVariable(name.to_owned()),
        _ => match ContextVar::ALL.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => IdentitySource::Context(*v),
            None => {
                let names: Vec<&str> = ContextVar::ALL.iter().map(|(n, _)| *n).collect();
                return Err(format!("context variables: {}", names.join(", ")));
            }
        },
    })
}

/// Names of letters, digits and the given punctuation, `1..=max` bytes long.
fn word(name: &str, max: usize, punctuation: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || punctuation.contains(&b))
}

pub(super) fn read_functions(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
) -> Option<Vec<FunctionConfig>> {
    named(
        cx,
        node,
        path,
        (
            "a mapping of function names",
            "e.g. `token-authorizer:` with `runtime: python` and `handler: app.handler`",
        ),
        (
            "is not a function name",
            "Lambda function names are 1 to 64 letters, digits, `-` and `_`",
        ),
        |n| word(n, 64, b"-_"),
        |cx, name, _, value, fpath| read_function(cx, name, value, fpath),
    )
}

fn read_function(cx: &mut Cx<'_>, name: &str, node: &Node, path: &str) -> Option<FunctionConfig> {
    let mut m = cx.map(node, path)?;
    let runtime = m
        .required(cx, "runtime", "add `runtime: python`, `node` or `provided`")
        .and_then(|(n, p)| {
            let t = cx.string(n, &p)?;
            match t.as_str() {
                "python" => Some(FunctionRuntime::Python),
                "node" => Some(FunctionRuntime::Node),
                "provided" => Some(FunctionRuntime::Provided),
                _ => {
                    cx.error(
                        n.loc,
                        &p,
                        format!("unknown runtime `{t}`"),
                        "use python (awslambdaric), node (aws-lambda-ric) or provided (`command` speaks the Runtime API itself)",
                    );
                    None
                }
            }
        });
    let handler = match (m.take("handler"), &runtime) {
        (Some((n, p)), _) => cx.string(n, &p).and_then(|h| {
            if h.is_empty() || h.len() > 128 || h.contains(char::is_whitespace) {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{h}` is not a handler"),
                    "write `module.function`, e.g. `app.handler`",
                );
                None
            } else {
                Some(h)
            }
        }),
        (None, Some(FunctionRuntime::Provided)) => Some("bootstrap".to_owned()),
        (None, Some(_)) => {
            cx.error(
                node.loc,
                path,
                "missing key `handler`",
                "add `handler: module.function`, e.g. `app.handler`",
            );
            None
        }
        (None, None) => None,
    };
    let code = match m.take("code") {
        Some((n, p)) => cx.string(n, &p).and_then(|t| {
            let pb = PathBuf::from(&t);
            let full = if pb.is_absolute() {
                pb
            } else {
                cx.base.join(pb)
            };
            if full.is_dir() {
                // Absolute, so that LAMBDA_TASK_ROOT and relative commands mean one place.
                Some(absolute(&full))
            } else {
                cx.error(
                    n.loc,
                    &p,
                    format!("directory `{}` does not exist", full.display()),
                    "relative paths are resolved against the config file's directory",
                );
                None
            }
        }),
        None => Some(absolute(cx.base)),
    };
    let command = match m.take("command") {
        Some((n, p)) => match &n.value {
            Value::Seq(items) if !items.is_empty() => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.push(cx.string(item, &format!("{p}[{i}]")));
                }
                out.into_iter()
                    .collect::<Option<Vec<String>>>()
                    .map(|c| (c, n.loc, p))
            }
            _ => {
                cx.expected(
                    n,
                    &p,
                    "a list: the program and its arguments",
                    "e.g. `command: [./bootstrap]`",
                );
                None
            }
        },
        None => None,
    };
    let command = match (command, &runtime, &handler) {
        (Some((c, loc, p)), _, _) => {
            if let (Some(program), Some(code)) = (c.first(), &code)
                && !program_exists(program, code)
            {
                cx.error(
                    loc,
                    &p,
                    format!("program `{program}` is not found"),
                    "a path is resolved against `code`; a bare name is looked up in PATH",
                );
                None
            } else {
                Some(c)
            }
        }
        (None, Some(FunctionRuntime::Python), Some(h)) => default_command(
            cx,
            node,
            path,
            "python3",
            "awslambdaric (pip install awslambdaric)",
        )
        .map(|p| vec![p, "-m".into(), "awslambdaric".into(), h.clone()]),
        (None, Some(FunctionRuntime::Node), Some(h)) => default_command(
            cx,
            node,
            path,
            "npx",
            "aws-lambda-ric (npm install aws-lambda-ric)",
        )
        .map(|p| vec![p, "--no-install".into(), "aws-lambda-ric".into(), h.clone()]),
        (None, Some(FunctionRuntime::Provided), _) => {
            cx.error(
                node.loc,
                path,
                "a provided runtime needs `command`",
                "give the program that speaks the Runtime API, e.g. `command: [./bootstrap]`",
            );
            None
        }
        (None, _, _) => None,
    };
    let timeout = match m.take("timeout") {
        Some((n, p)) => cx.duration(n, &p).and_then(|d| {
            if d >= Duration::from_millis(1) && d <= Duration::from_secs(900) {
                cx.auth_timeouts.push((n.loc, p.clone(), d));
                Some(d)
            } else {
                cx.error(
                    n.loc,
                    &p,
                    "timeout out of range",
                    "use 1ms to 900s (Lambda's own range is 1s to 900s)",
                );
                None
            }
        }),
        None => Some(Duration::from_secs(3)),
    };
    let int =
        |cx: &mut Cx<'_>, m: &mut Map<'_>, key: &str, min: i64, max: i64, default: u32| match m
            .take(key)
        {
            Some((n, p)) => cx
                .integer(n, &p, min, max)
                .and_then(|i| u32::try_from(i).ok()),
            None => Some(default),
        };
    let memory = int(cx, &mut m, "memory", 128, 10_240, 128);
    let min_workers = int(cx, &mut m, "min_workers", 0, 64, 1);
    let max_workers = int(cx, &mut m, "max_workers", 1, 64, 4);
    let queue = int(cx, &mut m, "queue", 1, 100_000, 64);
    if let (Some(lo), Some(hi)) = (min_workers, max_workers)
        && lo > hi
    {
        cx.error(
            node.loc,
            &join(path, "min_workers"),
            format!("min_workers {lo} is more than max_workers {hi}"),
            "raise max_workers or lower min_workers",
        );
    }
    let environment = match m.take("environment") {
        Some((n, p)) => read_environment(cx, n, &p),
        None => Some(Vec::new()),
    };
    m.finish(cx, FUNCTION_KEYS);
    let (lo, hi) = (min_workers?, max_workers?);
    if lo > hi {
        return None;
    }
    Some(FunctionConfig {
        name: name.to_owned(),
        loc: node.loc,
        runtime: runtime?,
        handler: handler?,
        code: code?,
        command: command?,
        timeout: timeout?,
        memory: memory?,
        min_workers: lo,
        max_workers: hi,
        queue: queue?,
        environment: environment?,
    })
}

/// `path` made absolute (an empty path is the working directory).
fn absolute(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The interpreter of a runtime, which must be on PATH.
fn default_command(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    program: &str,
    client: &str,
) -> Option<String> {
    if program_exists(program, Path::new(".")) {
        Some(program.to_owned())
    } else {
        cx.error(
            node.loc,
            &join(path, "runtime"),
            format!("`{program}` is not found in PATH"),
            format!("install it with {client}, or give `command`"),
        );
        None
    }
}

fn program_exists(program: &str, code: &Path) -> bool {
    if program.contains('/') {
        let p = Path::new(program);
        return if p.is_absolute() {
            p.is_file()
        } else {
            code.join(p).is_file()
        };
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn read_environment(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Vec<(String, String)>> {
    named(
        cx,
        node,
        path,
        (
            "a mapping of variable names to values",
            "write `NAME: value` pairs",
        ),
        (
            "is not an environment variable name",
            "use letters, digits and `_`, not starting with a digit",
        ),
        |n| word(n, 256, b"_") && !n.starts_with(|c: char| c.is_ascii_digit()),
        |cx, name, key_loc, value, vpath| {
            if RESERVED_ENV.contains(&name) {
                cx.error(
                    key_loc,
                    vpath,
                    format!("`{name}` is set by the gateway"),
                    "Lambda reserves this variable; remove it",
                );
                return None;
            }
            match cx.string(value, vpath) {
                Some(v) if !v.contains('\0') => Some((name.to_owned(), v)),
                Some(_) => {
                    cx.error(value.loc, vpath, "the value has a NUL byte", "remove it");
                    None
                }
                None => None,
            }
        },
    )
}

pub(super) fn read_stage_variables(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
) -> Option<Vec<(String, String)>> {
    named(
        cx,
        node,
        path,
        (
            "a mapping of variable names to values",
            "write `name: value` pairs",
        ),
        (
            "is not a stage variable name",
            "use letters, digits and `_` (at most 64)",
        ),
        // API Gateway's rule for stage variable names.
        |n| word(n, 64, b"_"),
        |cx, name, _, value, vpath| match cx.string(value, vpath) {
            Some(v) if v.chars().count() <= 2048 => Some((name.to_owned(), v)),
            Some(_) => {
                cx.error(
                    value.loc,
                    vpath,
                    "the value is longer than 2048 characters",
                    "API Gateway limits stage variable values to 2048 characters",
                );
                None
            }
            None => None,
        },
    )
}

/// Lambda authorizers name functions that exist; scopes are not used with them.
pub(super) fn check_lambda_refs(
    cx: &mut Cx<'_>,
    prefix: &str,
    authorizers: &[LambdaAuthorizerConfig],
    function_names: &[String],
) {
    let names: Vec<&str> = function_names.iter().map(String::as_str).collect();
    for a in authorizers {
        if let LambdaTarget::Function(f) = &a.target
            && !names.contains(&f.as_str())
        {
            let help = if names.is_empty() {
                "define it under `functions:`".to_owned()
            } else {
                crate::diag::did_you_mean(f, &names, "", || {
                    format!("functions: {}", names.join(", "))
                })
            };
            cx.error(
                a.loc,
                &super::join(prefix, &format!("authorizers.{}.function", a.name)),
                format!("no function named `{f}`"),
                help,
            );
        }
    }
}
