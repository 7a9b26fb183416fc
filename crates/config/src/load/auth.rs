//! `authorizers:` and `authorization:`: JWT authorizers, roles with their IAM policies, the
//! resource policy; and each method's `authorizer` and `scopes`.
//!
//! Policies are written inline (YAML or JSON syntax) or as a path to a JSON file, and are
//! compiled here, so that a bad policy is a load error pointing at its own file and line.
//! Inline policies are taken literally: `${...}` in them are policy variables, not
//! environment variables.

use std::time::Duration;

use portcullis_core::ApiIdentity;
use portcullis_policy::{ArnBase, Policy, PolicyKind};

use super::{Cx, join, named};
use crate::model::*;
use crate::yaml::{self, Loc, Node, Value};

const AUTHORIZER_KEYS: &[&str] = &[
    "type",
    "issuer",
    "jwks_uri",
    "jwks_file",
    "jwks_ttl",
    "jwks_min_refresh",
    "ca_file",
    "hmac_secret",
    "audience",
    "token_use",
    "algorithms",
    "leeway",
    "identity_source",
    "cache_entries",
    "limits_claim",
    "usage_plan_claim",
];

const AUTHORIZATION_KEYS: &[&str] = &[
    "default_authorizer",
    "role_claim",
    "group_roles",
    "roles",
    "resource_policy",
    "cedar",
    "decision_header",
];

const HMAC_ALGORITHMS: &[&str] = &["HS256", "HS384", "HS512"];

/// Why a URL cannot be fetched for keys: it must be https, or http on loopback.
fn fetch_url_problem(url: &str) -> Option<&'static str> {
    crate::model::key_url_problem(url)
}

const ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// A list of strings, or one string.
fn strings(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Vec<(String, Loc)>> {
    match &node.value {
        Value::Seq(items) => {
            let mut out = Vec::new();
            for (i, n) in items.iter().enumerate() {
                out.push((cx.string(n, &format!("{path}[{i}]"))?, n.loc));
            }
            Some(out)
        }
        _ => cx.string(node, path).map(|s| vec![(s, node.loc)]),
    }
}

/// JWT and Lambda authorizers, which share one namespace.
pub(super) type Authorizers = (Vec<AuthorizerConfig>, Vec<LambdaAuthorizerConfig>);

pub(super) fn read_authorizers(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Authorizers> {
    enum Read {
        Jwt(AuthorizerConfig),
        Lambda(LambdaAuthorizerConfig),
    }
    let read = named(
        cx,
        node,
        path,
        (
            "a mapping of authorizer names",
            "e.g. `pool:` with `type: jwt` and `issuer: builtin`",
        ),
        (
            "cannot name an authorizer",
            "NONE marks public methods; use another name",
        ),
        |n| n != "NONE" && !n.is_empty() && !n.contains(char::is_whitespace),
        |cx, name, _, value, apath| {
            let lambda = match &value.value {
                Value::Map(fields) => fields.iter().any(|(k, v)| {
                    k.name == "type"
                        && matches!(&v.value, Value::Str(t) if super::lambda::is_lambda_type(t))
                }),
                _ => false,
            };
            if lambda {
                super::lambda::read_lambda_authorizer(cx, name, value, apath).map(Read::Lambda)
            } else {
                read_authorizer(cx, name, value, apath).map(Read::Jwt)
            }
        },
    )?;
    let mut out = (Vec::new(), Vec::new());
    for r in read {
        match r {
            Read::Jwt(a) => out.0.push(a),
            Read::Lambda(a) => out.1.push(a),
        }
    }
    Some(out)
}

fn read_authorizer(
    cx: &mut Cx<'_>,
    name: &str,
    node: &Node,
    path: &str,
) -> Option<AuthorizerConfig> {
    let mut m = cx.map(node, path)?;
    let kind = m
        .required(cx, "type", "add `type: jwt`")
        .and_then(|(n, p)| cx.string(n, &p).map(|t| (t, n.loc, p)));
    if let Some((t, loc, p)) = &kind
        && t != "jwt"
    {
        cx.error(
            *loc,
            p,
            format!("unknown authorizer type `{t}`"),
            "the authorizer types are `jwt`, `token` and `request`",
        );
    }
    let issuer_text = m
        .required(
            cx,
            "issuer",
            "add `issuer: builtin` (the built-in user pool) or the issuer's URL",
        )
        .and_then(|(n, p)| cx.string(n, &p).map(|t| (t, n.loc, p)));
    let issuer_loc = issuer_text.as_ref().map(|(_, loc, _)| *loc);
    let jwks_node = m.take("jwks_uri");
    let jwks_given = jwks_node.is_some();
    let jwks_uri = jwks_node.and_then(|(n, p)| {
        let t = cx.string(n, &p)?;
        match fetch_url_problem(&t) {
            None => Some((t, n.loc, p)),
            Some(why) => {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{t}`: {why}"),
                    "use an https:// URL (plain http only on loopback)",
                );
                None
            }
        }
    });
    let ttl = match m.take("jwks_ttl") {
        Some((n, p)) => cx.duration(n, &p).and_then(|d| {
            if (Duration::from_secs(60)..=Duration::from_secs(86_400)).contains(&d) {
                Some(d)
            } else {
                cx.error(n.loc, &p, "jwks_ttl out of range", "use 1m to 24h");
                None
            }
        }),
        None => Some(Duration::from_secs(3600)),
    };
    let min_refresh = match m.take("jwks_min_refresh") {
        Some((n, p)) => cx.duration(n, &p).and_then(|d| {
            if d <= Duration::from_secs(3600) {
                Some(d)
            } else {
                cx.error(
                    n.loc,
                    &p,
                    "jwks_min_refresh over 1h",
                    "use 0s to 1h; it bounds how often an unknown kid can make the gateway fetch",
                );
                None
            }
        }),
        None => Some(Duration::from_secs(30)),
    };
    let ca_file = m.take("ca_file").and_then(|(n, p)| {
        let t = cx.string(n, &p)?;
        let pb = std::path::PathBuf::from(t);
        Some(if pb.is_absolute() {
            pb
        } else {
            cx.base.join(pb)
        })
    });
    // Most bytes of a `jwks_file`: a key set is a few KiB.
    const MAX_JWKS_FILE: u64 = 1024 * 1024;
    let file_node = m.take("jwks_file");
    let file_given = file_node.is_some();
    let jwks_file = file_node.and_then(|(n, p)| {
        let t = cx.string(n, &p)?;
        let pb = std::path::PathBuf::from(&t);
        let pb = if pb.is_absolute() {
            pb
        } else {
            cx.base.join(pb)
        };
        match read_limited(&pb, MAX_JWKS_FILE) {
            Ok(Some(text)) => Some((pb, text, n.loc, p)),
            Ok(None) => {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{t}` is over 1 MiB"),
                    "a JWKS document holds a few public keys; point at the issuer's key set",
                );
                None
            }
            Err(e) => {
                cx.error(
                    n.loc,
                    &p,
                    format!("cannot read `{t}`: {e}"),
                    "give the path of a JWKS document (`{\"keys\": [...]}`), relative to this file",
                );
                None
            }
        }
    });
    let hmac_node = m.take("hmac_secret");
    let hmac_given = hmac_node.is_some();
    let hmac = hmac_node.and_then(|(n, p)| {
        let t = cx.string(n, &p)?;
        if t.len() < 32 {
            cx.error(
                n.loc,
                &p,
                format!("the HMAC secret has {} bytes, fewer than 32", t.len()),
                "use a random secret of at least 32 bytes (64 for HS512), e.g. from ${ENV}",
            );
            return None;
        }
        Some((t, n.loc, p))
    });
    let issuer = match issuer_text {
        None => None,
        Some((t, _, _)) if t == "builtin" => {
            let extra = jwks_uri
                .as_ref()
                .map(|(_, l, p)| (*l, p.clone()))
                .or_else(|| hmac.as_ref().map(|(_, l, p)| (*l, p.clone())))
                .or_else(|| jwks_file.as_ref().map(|(_, _, l, p)| (*l, p.clone())));
            match extra {
                Some((loc, p)) => {
                    cx.error(
                        loc,
                        &p,
                        "the built-in issuer takes no jwks_uri, jwks_file or hmac_secret",
                        "its keys are read in process; remove this key",
                    );
                    None
                }
                None => Some(IssuerConfig::Builtin),
            }
        }
        Some((t, _, _))
            if jwks_file.is_some() || (file_given && hmac.is_none() && jwks_uri.is_none()) =>
        {
            match (jwks_file, &hmac, &jwks_uri) {
                (Some((_, _, floc, fp)), Some(_), _) | (Some((_, _, floc, fp)), _, Some(_)) => {
                    cx.error(
                        floc,
                        &fp,
                        "an issuer's keys come from one place: jwks_uri, jwks_file or hmac_secret",
                        "keep one of them",
                    );
                    None
                }
                (Some((file, document, _, _)), None, None) => Some(IssuerConfig::JwksFile {
                    issuer: t,
                    file,
                    document,
                }),
                // The file had a problem of its own, reported already.
                (None, _, _) => None,
            }
        }
        Some((t, loc, p)) => match (hmac, jwks_uri) {
            (Some(_), Some((_, jloc, jp))) => {
                cx.error(
                    jloc,
                    &jp,
                    "an issuer has either public keys (jwks_uri) or an HMAC secret, not both",
                    "HMAC is never accepted from an issuer that has public keys",
                );
                None
            }
            (Some((secret, _, _)), None) => Some(IssuerConfig::Hmac {
                issuer: t,
                secret: Secret(secret),
            }),
            // The secret had a problem of its own, reported already.
            (None, None) if hmac_given || jwks_given || file_given => None,
            (None, uri) => {
                if uri.is_none()
                    && let Some(why) = fetch_url_problem(&t)
                {
                    cx.error(loc, &p, format!("issuer `{t}`: {why}"), "the issuer's discovery document is fetched from {issuer}/.well-known/openid-configuration; give `jwks_uri` (or `hmac_secret`) otherwise");
                    None
                } else {
                    Some(IssuerConfig::Jwks {
                        issuer: t,
                        jwks_uri: uri.map(|(u, _, _)| u),
                        ttl: ttl?,
                        min_refresh: min_refresh?,
                        ca_file,
                    })
                }
            }
        },
    };
    // `audience: any` (a scalar) accepts every audience; a list names the accepted ones.
    let audience = m.take("audience").map(|(n, p)| {
        let read = match &n.value {
            Value::Seq(_) => strings(cx, n, &p)
                .map(|v| Audiences::OneOf(v.into_iter().map(|(s, _)| s).collect::<Vec<_>>())),
            _ => cx.string(n, &p).map(|s| {
                if s == "any" {
                    Audiences::Any
                } else {
                    Audiences::OneOf(vec![s])
                }
            }),
        };
        (read, n.loc, p)
    });
    let audiences = match (&issuer, audience) {
        (_, Some((Some(Audiences::OneOf(list)), loc, p))) if list.is_empty() => {
            cx.error(
                loc,
                &p,
                "the audience list is empty",
                "list the `aud` (or `client_id`) values of tokens meant for this API",
            );
            None
        }
        (_, Some((None, _, _))) => None,
        (Some(IssuerConfig::Builtin) | None, Some((a, _, _))) => a,
        // The built-in pool signs tokens for its own app clients only.
        (Some(IssuerConfig::Builtin) | None, None) => Some(Audiences::Any),
        (Some(other), Some((Some(Audiences::Any), loc, p))) => {
            cx.warn(
                loc,
                &p,
                format!(
                    "authorizer `{name}` accepts any audience: every token `{}` signs, for any application, passes",
                    other.issuer_name()
                ),
                "list the `aud` (or `client_id`) values of tokens meant for this API",
            );
            Some(Audiences::Any)
        }
        (Some(_), Some((a, _, _))) => a,
        (Some(other), None) => {
            cx.error(
                issuer_loc.unwrap_or(node.loc),
                &join(path, "audience"),
                format!(
                    "authorizer `{name}` names no audience: it would accept every token `{}` signs, for any application",
                    other.issuer_name()
                ),
                "add `audience: [CLIENT_ID]` with the `aud` (or `client_id`) of tokens meant for this API, or `audience: any` to accept them all",
            );
            None
        }
    };
    let token_use = match m.take("token_use") {
        Some((n, p)) => cx.string(n, &p).and_then(|t| match t.as_str() {
            "id" | "access" => Some(Some(t)),
            "any" => Some(None),
            _ => {
                cx.error(
                    n.loc,
                    &p,
                    format!("token_use `{t}` is not id, access or any"),
                    "Cognito-style tokens say `token_use: id` or `access`",
                );
                None
            }
        }),
        None => Some(None),
    };
    let algorithms = match m.take("algorithms") {
        Some((n, p)) => strings(cx, n, &p).and_then(|list| {
            let mut out = Vec::new();
            for (a, loc) in list {
                if a.eq_ignore_ascii_case("none") {
                    cx.error(
                        loc,
                        &p,
                        "`none` is never accepted",
                        "remove it: an unsigned token proves nothing",
                    );
                    return None;
                }
                if !ALGORITHMS.contains(&a.as_str()) && !HMAC_ALGORITHMS.contains(&a.as_str()) {
                    cx.error(
                        loc,
                        &p,
                        format!("unknown algorithm `{a}`"),
                        format!("use {}", ALGORITHMS.join(", ")),
                    );
                    return None;
                }
                out.push(a);
            }
            if out.is_empty() {
                cx.error(
                    n.loc,
                    &p,
                    "no algorithm is allowed",
                    "list at least one, e.g. [RS256]",
                );
                return None;
            }
            Some(out)
        }),
        None => Some(Vec::new()),
    };
    // HMAC algorithms go with an HMAC secret and nothing else.
    let algorithms = match (&issuer, algorithms) {
        (Some(IssuerConfig::Hmac { .. }), Some(a)) if a.is_empty() => Some(vec!["HS256".into()]),
        (Some(_), Some(a)) if a.is_empty() => {
            Some(vec!["RS256".into(), "ES256".into(), "EdDSA".into()])
        }
        (Some(IssuerConfig::Hmac { .. }), Some(a)) => {
            if a.iter().all(|x| HMAC_ALGORITHMS.contains(&x.as_str())) {
                Some(a)
            } else {
                cx.error(
                    node.loc,
                    &join(path, "algorithms"),
                    "an HMAC issuer takes HS256, HS384 or HS512 only",
                    "list only HMAC algorithms",
                );
                None
            }
        }
        (Some(_), Some(a)) => {
            if let Some(h) = a.iter().find(|x| HMAC_ALGORITHMS.contains(&x.as_str())) {
                cx.error(
                    node.loc,
                    &join(path, "algorithms"),
                    format!(
                        "`{h}` needs `hmac_secret`, and an issuer with public keys never gets HMAC"
                    ),
                    format!("use {}", ALGORITHMS.join(", ")),
                );
                None
            } else {
                Some(a)
            }
        }
        (_, None) => None,
        (None, a) => a,
    };
    let leeway = match m.take("leeway") {
        Some((n, p)) => cx.duration(n, &p).and_then(|d| {
            if d <= Duration::from_secs(300) {
                Some(d)
            } else {
                cx.error(
                    n.loc,
                    &p,
                    "leeway over 5 minutes",
                    "clock skew beyond a few seconds is a clock problem; use at most 5m",
                );
                None
            }
        }),
        None => Some(Duration::from_secs(30)),
    };
    let source = match m.take("identity_source") {
        Some((n, p)) => cx.string(n, &p).and_then(|t| {
            let parsed = match t.strip_prefix("header ") {
                Some(h) => Some(TokenSource::Header(h.trim().to_ascii_lowercase())),
                None => t
                    .strip_prefix("cookie ")
                    .map(|c| TokenSource::Cookie(c.trim().to_owned())),
            };
            match parsed {
                Some(TokenSource::Header(h) | TokenSource::Cookie(h))
                    if h.is_empty()
                        || !h
                            .bytes()
                            .all(|b| b.is_ascii_graphic() && b != b';' && b != b'=') =>
                {
                    cx.error(
                        n.loc,
                        &p,
                        format!("`{t}` names no usable header or cookie"),
                        "e.g. `header Authorization` or `cookie session`",
                    );
                    None
                }
                Some(s) => Some(s),
                None => {
                    cx.error(
                        n.loc,
                        &p,
                        format!("`{t}` is not an identity source"),
                        "write `header NAME` or `cookie NAME`",
                    );
                    None
                }
            }
        }),
        None => Some(TokenSource::Header("authorization".into())),
    };
    let cache_entries = match m.take("cache_entries") {
        Some((n, p)) => cx
            .integer(n, &p, 0, 10_000_000)
            .and_then(|i| u32::try_from(i).ok()),
        None => Some(100_000),
    };
    let limits = read_limits_from(cx, &mut m, path, ("limits_claim", "usage_plan_claim"));
    m.finish(cx, AUTHORIZER_KEYS);
    // Keys that only mean something for a JWKS issuer are an error elsewhere, not ignored.
    if let (
        Some(IssuerConfig::Builtin | IssuerConfig::Hmac { .. } | IssuerConfig::JwksFile { .. }),
        Value::Map(entries),
    ) = (&issuer, &node.value)
    {
        for (k, _) in entries {
            if ["jwks_ttl", "jwks_min_refresh", "ca_file"].contains(&k.name.as_str()) {
                cx.error(
                    k.loc,
                    &join(path, &k.name),
                    format!("`{}` applies to issuers whose JWKS is fetched only", k.name),
                    "remove it: this issuer's keys are not fetched",
                );
            }
        }
    }
    kind?;
    let limits = match limits? {
        None if matches!(issuer, Some(IssuerConfig::Builtin)) => {
            Some(LimitsFrom::Limits("portcullis:limits".to_owned()))
        }
        other => other,
    };
    Some(AuthorizerConfig {
        name: name.to_owned(),
        loc: node.loc,
        issuer: issuer?,
        audiences: audiences?,
        token_use: token_use?,
        algorithms: algorithms?,
        leeway: leeway?,
        source: source?,
        cache_entries: cache_entries?,
        limits,
    })
}

/// Where an authorizer's callers' limits come from: `limits_key` names a claim (or context
/// key) in `portcullis:limits`' shape, `plan_key` one that names a usage plan; at most one.
pub(super) fn read_limits_from(
    cx: &mut Cx<'_>,
    m: &mut super::Map<'_>,
    path: &str,
    (limits_key, plan_key): (&str, &str),
) -> Option<Option<LimitsFrom>> {
    let limits = m.take(limits_key).map(|(n, p)| cx.string(n, &p));
    let plan = m.take(plan_key).map(|(n, p)| (cx.string(n, &p), n.loc));
    match (limits, plan) {
        (Some(_), Some((_, loc))) => {
            cx.error(
                loc,
                &join(path, plan_key),
                format!("`{limits_key}` and `{plan_key}` are both set"),
                "a caller's limits come from one place: their own limits, or a usage plan's",
            );
            None
        }
        (Some(l), None) => Some(Some(LimitsFrom::Limits(l?))),
        (None, Some((p, _))) => Some(Some(LimitsFrom::Plan(p?))),
        (None, None) => Some(None),
    }
}

/// Converts the config's YAML tree into the policy engine's input tree.
fn policy_node(n: &Node) -> portcullis_policy::Node {
    use portcullis_policy::{Pos, Tree};
    let pos = Pos {
        line: n.loc.line,
        column: n.loc.column,
    };
    let value = match &n.value {
        Value::Null => Tree::Null,
        Value::Bool(b) => Tree::Bool(*b),
        Value::Int(i) => Tree::Number(i.to_string()),
        Value::Float(f) => Tree::Number(f.to_string()),
        Value::Str(s) => Tree::Str(s.clone()),
        Value::Seq(items) => Tree::List(items.iter().map(policy_node).collect()),
        Value::Map(entries) => Tree::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.name.clone(),
                        Pos {
                            line: k.loc.line,
                            column: k.loc.column,
                        },
                        policy_node(v),
                    )
                })
                .collect(),
        ),
    };
    portcullis_policy::Node { value, pos }
}

/// Statements of a resource policy that name principals, refused: callers carry no
/// principal ARN yet, so every caller is anonymous to the resource policy and such a
/// statement would never apply (a Deny naming ARNs would deny nothing). `"*"` and
/// `{"AWS": "*"}` cover everyone and are accepted; `NotPrincipal` is always refused.
fn named_principals(tree: &portcullis_policy::Node) -> Vec<portcullis_policy::PolicyError> {
    use portcullis_policy::{PolicyError, Tree};
    let everyone = |n: &portcullis_policy::Node| match &n.value {
        Tree::Str(s) => s == "*",
        Tree::List(items) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| matches!(&i.value, Tree::Str(s) if s == "*"))
        }
        _ => false,
    };
    let mut out = Vec::new();
    let Tree::Map(doc) = &tree.value else {
        return out;
    };
    let statements: Vec<(String, &portcullis_policy::Node)> =
        match doc.iter().find(|(k, _, _)| k == "Statement") {
            Some((_, _, n)) => match &n.value {
                Tree::List(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (format!("Statement[{i}]"), s))
                    .collect(),
                _ => vec![("Statement".to_owned(), n)],
            },
            None => Vec::new(),
        };
    let help = "principals are not supported yet: every caller is anonymous to the resource policy; use \"Principal\": \"*\" with a Condition (aws:SourceIp, ...), or give roles identity policies under `authorization.roles`";
    for (path, st) in statements {
        let Tree::Map(entries) = &st.value else {
            continue;
        };
        for (k, kpos, v) in entries {
            let names_someone = match k.as_str() {
                "NotPrincipal" => true,
                // Other shapes and principal types are the policy compiler's to refuse.
                "Principal" => match &v.value {
                    Tree::Map(types) => types
                        .iter()
                        .any(|(t, _, list)| t == "AWS" && !everyone(list)),
                    _ => false,
                },
                _ => false,
            };
            if names_someone {
                out.push(PolicyError {
                    pos: *kpos,
                    path: format!("{path}.{k}"),
                    message: if k == "NotPrincipal" {
                        "NotPrincipal is not supported yet: every caller is anonymous to the resource policy, so this statement would apply to everyone, the principals it names included".to_owned()
                    } else {
                        "Principal names AWS principals, which are not supported yet: every caller is anonymous to the resource policy, so this statement would never apply".to_owned()
                    },
                    help: help.to_owned(),
                });
            }
        }
    }
    out
}

/// A policy written inline, or a path to a JSON policy file (relative to the config).
fn read_policy(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    kind: PolicyKind,
    base: Option<&ArnBase>,
) -> Option<Policy> {
    let (name, file, tree, source) = match &node.value {
        Value::Str(rel) => {
            let full = if std::path::Path::new(rel).is_absolute() {
                std::path::PathBuf::from(rel)
            } else {
                cx.base.join(rel)
            };
            let text = match read_limited(&full, POLICY_FILE_MAX) {
                Ok(Some(t)) => t,
                Ok(None) => {
                    cx.error(
                        node.loc,
                        path,
                        format!("policy file {rel} is over 1 MiB"),
                        "split it into several policies",
                    );
                    return None;
                }
                Err(e) => {
                    cx.error(
                        node.loc,
                        path,
                        format!("cannot read policy file {rel}: {e}"),
                        "the path is relative to the config file",
                    );
                    return None;
                }
            };
            let parsed = match yaml::parse(&text) {
                Ok(root) => root,
                Err(e) => {
                    cx.error_in(
                        rel,
                        &text,
                        e.loc,
                        "",
                        format!("invalid JSON: {}", e.message),
                        "fix the syntax at this position",
                    );
                    return None;
                }
            };
            (
                rel.clone(),
                Some(rel.clone()),
                policy_node(&parsed),
                Some(text),
            )
        }
        Value::Map(_) => (path.to_owned(), None, policy_node(node), None),
        _ => {
            cx.expected(
                node,
                path,
                "a policy document or the path of a policy file",
                "write the document inline, or a path such as policies/admin.json",
            );
            return None;
        }
    };
    let refused = if kind == PolicyKind::Resource {
        named_principals(&tree)
    } else {
        Vec::new()
    };
    let compiled = match Policy::compile(&name, &tree, kind, base) {
        Ok(p) if refused.is_empty() => Ok(p),
        Ok(_) => Err(refused),
        Err(mut errors) => {
            errors.extend(refused);
            errors.sort_by_key(|e| (e.pos.line, e.pos.column));
            Err(errors)
        }
    };
    match compiled {
        Ok(p) => Some(p),
        Err(errors) => {
            for e in errors {
                let loc = Loc {
                    line: e.pos.line,
                    column: e.pos.column,
                };
                match (&file, &source) {
                    (Some(f), Some(text)) => cx.error_in(f, text, loc, &e.path, e.message, e.help),
                    _ => {
                        let p = if e.path.is_empty() {
                            path.to_owned()
                        } else {
                            join(path, &e.path)
                        };
                        cx.error(
                            if loc.line == 0 { node.loc } else { loc },
                            &p,
                            e.message,
                            e.help,
                        );
                    }
                }
            }
            None
        }
    }
}

fn read_policies(cx: &mut Cx<'_>, node: &Node, path: &str, base: &ArnBase) -> Option<Vec<Policy>> {
    match &node.value {
        Value::Seq(items) => {
            let mut out = Vec::new();
            let mut ok = true;
            for (i, n) in items.iter().enumerate() {
                match read_policy(
                    cx,
                    n,
                    &format!("{path}[{i}]"),
                    PolicyKind::Identity,
                    Some(base),
                ) {
                    Some(p) => out.push(p),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        _ => read_policy(cx, node, path, PolicyKind::Identity, Some(base)).map(|p| vec![p]),
    }
}

pub(super) fn read_authorization(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    api: &ApiIdentity,
) -> Option<AuthorizationConfig> {
    let base = ArnBase {
        partition: api.partition.clone(),
        region: api.region.clone(),
        account: api.account.clone(),
        api_id: api.api_id.clone(),
    };
    let mut m = cx.map(node, path)?;
    let mut out = AuthorizationConfig {
        role_claim: "portcullis:role".into(),
        ..AuthorizationConfig::default()
    };
    let mut ok = true;
    let mut failed_roles: Vec<String> = Vec::new();
    if let Some((n, p)) = m.take("default_authorizer") {
        match cx.string(n, &p) {
            Some(s) if s == "NONE" => {}
            Some(s) => out.default_authorizer = Some(s),
            None => ok = false,
        }
    }
    if let Some((n, p)) = m.take("role_claim") {
        match cx.string(n, &p) {
            Some(s) if !s.is_empty() => out.role_claim = s,
            _ => ok = false,
        }
    }
    if let Some((n, p)) = m.take("group_roles") {
        match &n.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    match cx.string(v, &join(&p, &k.name)) {
                        Some(role) => out.group_roles.push((k.name.clone(), role)),
                        None => ok = false,
                    }
                }
            }
            _ => {
                cx.expected(n, &p, "a mapping of group to role", "e.g. `admins: admin`");
                ok = false;
            }
        }
    }
    if let Some((n, p)) = m.take("roles") {
        match &n.value {
            Value::Map(entries) => {
                for (k, v) in entries {
                    match read_policies(cx, v, &join(&p, &k.name), &base) {
                        Some(list) => out.roles.push((k.name.clone(), list)),
                        None => {
                            failed_roles.push(k.name.clone());
                            ok = false;
                        }
                    }
                }
            }
            _ => {
                cx.expected(
                    n,
                    &p,
                    "a mapping of role to policies",
                    "e.g. `admin: [policies/admin.json]`",
                );
                ok = false;
            }
        }
    }
    if let Some((n, p)) = m.take("resource_policy") {
        match read_policy(cx, n, &p, PolicyKind::Resource, Some(&base)) {
            Some(policy) => out.resource_policy = Some(policy),
            None => ok = false,
        }
    }
    if let Some((n, p)) = m.take("cedar") {
        match cx.string(n, &p) {
            Some(text) if text.trim_end().ends_with(".cedar") && !text.contains('\n') => {
                let full = if std::path::Path::new(&text).is_absolute() {
                    std::path::PathBuf::from(&text)
                } else {
                    cx.base.join(&text)
                };
                match read_limited(&full, POLICY_FILE_MAX) {
                    Ok(Some(body)) => {
                        out.cedar = Some(CedarSource {
                            text: body,
                            file: Some(text),
                            loc: n.loc,
                        });
                    }
                    Ok(None) => {
                        cx.error(
                            n.loc,
                            &p,
                            format!("policy file {text} is over 1 MiB"),
                            "split it",
                        );
                        ok = false;
                    }
                    Err(e) => {
                        cx.error(
                            n.loc,
                            &p,
                            format!("cannot read {text}: {e}"),
                            "the path is relative to the config file",
                        );
                        ok = false;
                    }
                }
            }
            Some(text) => {
                out.cedar = Some(CedarSource {
                    text,
                    file: None,
                    loc: n.loc,
                });
            }
            None => ok = false,
        }
    }
    if let Some((n, p)) = m.take("decision_header") {
        match cx.boolean(n, &p) {
            Some(b) => out.decision_header = b,
            None => ok = false,
        }
    }
    m.finish(cx, AUTHORIZATION_KEYS);
    if out.cedar.is_some() && !out.roles.is_empty() {
        cx.error(
            node.loc,
            &join(path, "cedar"),
            "`cedar` and `roles` both decide who may call what",
            "use Cedar policies or role IAM policies, not both",
        );
        ok = false;
    }
    // Every role a group maps to must exist, or the mapping silently grants nothing.
    if !out.roles.is_empty() {
        for (group, role) in &out.group_roles {
            if !out.roles.iter().any(|(r, _)| r == role) && !failed_roles.contains(role) {
                cx.error(
                    node.loc,
                    &join(path, "group_roles"),
                    format!("group `{group}` maps to role `{role}`, which has no policies"),
                    "add the role under `authorization.roles`",
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// A method's `authorizer` and `scopes`.
pub(super) fn read_method_auth(
    cx: &mut Cx<'_>,
    authorizer: Option<(&Node, String)>,
    scopes: Option<(&Node, String)>,
) -> Option<(MethodAuth, Option<Loc>, Vec<String>)> {
    let (auth, loc) = match authorizer {
        Some((n, p)) => match cx.string(n, &p)? {
            s if s == "NONE" => (MethodAuth::None, Some(n.loc)),
            s => (MethodAuth::Named(s), Some(n.loc)),
        },
        None => (MethodAuth::Default, None),
    };
    let scopes = match scopes {
        Some((n, p)) => strings(cx, n, &p)?.into_iter().map(|(s, _)| s).collect(),
        None => Vec::new(),
    };
    Some((auth, loc, scopes))
}

/// Largest policy file (IAM JSON/YAML or Cedar) read.
const POLICY_FILE_MAX: u64 = 1024 * 1024;

/// The text of `path` if it is at most `limit` bytes (`None` when it is larger); reads at
/// most `limit + 1` bytes whatever the file's size, so a huge or endless file (a device, a
/// pipe) costs nothing.
pub(super) fn read_limited(path: &std::path::Path, limit: u64) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Ok(None);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}
