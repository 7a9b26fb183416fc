//! `usage_plans:`: API Gateway's usage plans (a throttle and a quota per API key over the
//! API stages listed, with per-method throttles), and the checks of the methods that
//! require an API key.

use super::{Cx, METHODS, join, named, read_throttle};
use crate::model::*;
use crate::yaml::{Loc, Node, Value};

const PLAN_KEYS: &[&str] = &[
    "description",
    "throttle",
    "quota",
    "stages",
    "on_store_failure",
];
const LIMITS_KEYS: &[&str] = &["store", "timeout", "lease", "on_failure", "key_prefix"];
const QUOTA_KEYS: &[&str] = &["limit", "period", "offset"];
const STAGE_KEYS: &[&str] = &["api", "stage", "methods"];

/// Whether `name` can name a plan: 1 to 64 letters, digits, `.`, `_` and `-`.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Reads `usage_plans:` against the APIs that loaded (`None` when they did not: stages are
/// then not checked, and nothing is returned).
pub(super) fn read(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    apis: Option<&[ApiConfig]>,
) -> Option<Vec<UsagePlanConfig>> {
    named(
        cx,
        node,
        path,
        (
            "a mapping of plan names",
            "write `usage_plans: {basic: {throttle: {rate: 5, burst: 10}, stages: [{stage: prod}]}}`",
        ),
        (
            "is not a valid plan name",
            "plan names have 1 to 64 letters, digits, `.`, `_` and `-`",
        ),
        valid_name,
        |cx, name, loc, value, ppath| read_plan(cx, name, loc, value, ppath, apis),
    )
}

fn read_plan(
    cx: &mut Cx<'_>,
    name: &str,
    loc: Loc,
    node: &Node,
    path: &str,
    apis: Option<&[ApiConfig]>,
) -> Option<UsagePlanConfig> {
    let mut m = cx.map(node, path)?;
    let description = match m.take("description") {
        Some((n, p)) => cx.string(n, &p),
        None => Some(String::new()),
    };
    let throttle = m.take("throttle").map(|(n, p)| read_throttle(cx, n, &p));
    let quota = m.take("quota").map(|(n, p)| read_quota(cx, n, &p));
    let stages = m
        .required(
            cx,
            "stages",
            "list the API stages the plan meters, e.g. `stages: [{stage: prod}]`",
        )
        .and_then(|(n, p)| read_stages(cx, n, &p, apis));
    let on_store_failure = match m.take("on_store_failure") {
        Some((n, p)) => read_on_failure(cx, n, &p).map(Some),
        None => Some(None),
    };
    m.finish(cx, PLAN_KEYS);
    if throttle == Some(None) || quota == Some(None) {
        return None;
    }
    Some(UsagePlanConfig {
        name: name.to_owned(),
        description: description?,
        throttle: throttle.flatten(),
        quota: quota.flatten(),
        stages: stages?,
        on_store_failure: on_store_failure?,
        loc,
    })
}

fn read_on_failure(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<OnStoreFailure> {
    let s = cx.string(node, path)?;
    let v = match s.as_str() {
        "local" => OnStoreFailure::Local,
        "open" => OnStoreFailure::Open,
        "closed" => OnStoreFailure::Closed,
        _ => {
            cx.error(
                node.loc,
                path,
                format!("`{s}` is not a failure mode"),
                "write `local` (each gateway counts alone until Redis is back), `open` (requests pass unmetered) or `closed` (requests are refused 429)",
            );
            return None;
        }
    };
    Some(v)
}

/// Reads `limits:`: the store (`local`, `redis://host:port[/db]`, or
/// `redis-cluster://host:port,host:port,...`), the Redis call timeout, the lease, the
/// failure mode and the key prefix.
pub(super) fn read_limits(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<LimitsConfig> {
    let mut m = cx.map(node, path)?;
    let defaults = LimitsConfig::default();
    let store = match m.take("store") {
        Some((n, p)) => cx.string(n, &p).and_then(|s| read_store(cx, &s, n.loc, &p)),
        None => Some(LimitsStore::Local),
    };
    /// A duration from `lo` to `hi` milliseconds at `key`, or `def`.
    fn bounded(
        cx: &mut Cx<'_>,
        m: &mut super::Map<'_>,
        key: &str,
        def: std::time::Duration,
        (lo, hi): (u64, u64),
        help: &str,
    ) -> Option<std::time::Duration> {
        let Some((n, p)) = m.take(key) else {
            return Some(def);
        };
        let d = cx.duration(n, &p)?;
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if (lo..=hi).contains(&ms) {
            return Some(d);
        }
        cx.error(n.loc, &p, format!("`{key}` is {lo} ms to {hi} ms"), help);
        None
    }
    let timeout = bounded(
        cx,
        &mut m,
        "timeout",
        defaults.timeout,
        (1, 5_000),
        "keep Redis calls short: a request waits for one at most this long",
    );
    let lease = bounded(
        cx,
        &mut m,
        "lease",
        defaults.lease,
        (1, 10_000),
        "tokens taken from Redis are spent locally at most this long: it bounds how far a fleet can run over a rate",
    );
    let on_failure = match m.take("on_failure") {
        Some((n, p)) => read_on_failure(cx, n, &p),
        None => Some(defaults.on_failure),
    };
    let key_prefix = match m.take("key_prefix") {
        Some((n, p)) => cx.string(n, &p).and_then(|s| {
            let ok = (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
            if !ok {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{s}` is not a key prefix"),
                    "1 to 64 letters, digits, `-`, `_`, `.` and `:`",
                );
            }
            ok.then_some(s)
        }),
        None => Some(defaults.key_prefix),
    };
    m.finish(cx, LIMITS_KEYS);
    Some(LimitsConfig {
        store: store?,
        timeout: timeout?,
        lease: lease?,
        on_failure: on_failure?,
        key_prefix: key_prefix?,
    })
}

/// `host:port` with a host of letters, digits, `.`, `-` or an IPv6 address in brackets.
fn valid_host_port(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
    };
    host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
}

fn read_store(cx: &mut Cx<'_>, s: &str, loc: Loc, path: &str) -> Option<LimitsStore> {
    let help = "write `local`, `redis://HOST:PORT[/DB]` (credentials as `redis://USER:PASSWORD@HOST:PORT`) or `redis-cluster://HOST:PORT,HOST:PORT,...`";
    if s == "local" {
        return Some(LimitsStore::Local);
    }
    if s.starts_with("rediss://") {
        cx.error(
            loc,
            path,
            "TLS to Redis (`rediss://`) is not supported",
            "reach Redis over a private network or a local TLS tunnel, and write `redis://`",
        );
        return None;
    }
    if let Some(rest) = s.strip_prefix("redis://") {
        let (auth_host, db) = rest.split_once('/').unwrap_or((rest, ""));
        let host = auth_host.rsplit_once('@').map_or(auth_host, |(_, h)| h);
        if valid_host_port(host) && (db.is_empty() || db.parse::<u16>().is_ok()) {
            return Some(LimitsStore::Redis(s.to_owned()));
        }
    } else if let Some(rest) = s.strip_prefix("redis-cluster://") {
        let nodes: Vec<&str> = rest.split(',').collect();
        if nodes
            .iter()
            .all(|n| valid_host_port(n.rsplit_once('@').map_or(n, |(_, h)| h)))
        {
            return Some(LimitsStore::RedisCluster(
                nodes.iter().map(|n| format!("redis://{n}")).collect(),
            ));
        }
    }
    // The value may hold a password: it is not repeated.
    cx.error(loc, path, "not a limits store", help);
    None
}

fn read_quota(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<QuotaConfig> {
    let mut m = cx.map(node, path)?;
    let limit = m
        .required(
            cx,
            "limit",
            "add `limit:`, the requests each key may make in a period, e.g. `limit: 1000`",
        )
        .and_then(|(n, p)| cx.integer(n, &p, 0, i64::MAX))
        .and_then(|i| u64::try_from(i).ok());
    let period = m
        .required(cx, "period", "add `period: DAY`, `WEEK` or `MONTH`")
        .and_then(|(n, p)| {
            let s = cx.string(n, &p)?;
            let period = portcullis_limits::Period::parse(&s);
            if period.is_none() {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{s}` is not a quota period"),
                    "write `DAY`, `WEEK` or `MONTH` (UTC: from midnight, from Sunday midnight, from the 1st)",
                );
            }
            period
        });
    let offset = match m.take("offset") {
        Some((n, p)) => cx
            .integer(n, &p, 0, i64::MAX)
            .and_then(|i| u64::try_from(i).ok())
            .map(|o| (o, n.loc, p)),
        None => Some((0, node.loc, join(path, "offset"))),
    };
    m.finish(cx, QUOTA_KEYS);
    let (limit, period, (offset, oloc, opath)) = (limit?, period?, offset?);
    if offset > limit {
        cx.error(
            oloc,
            &opath,
            format!("the offset {offset} is more than the limit {limit}"),
            "`offset` is taken off the limit in a key's first period; keep it at most the limit",
        );
        return None;
    }
    Some(QuotaConfig {
        limit,
        period,
        offset,
    })
}

fn read_stages(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    apis: Option<&[ApiConfig]>,
) -> Option<Vec<PlanStageConfig>> {
    let Value::Seq(items) = &node.value else {
        cx.expected(
            node,
            path,
            "a list",
            "write `- {stage: prod}` (and `api: ID` when the config has several APIs)",
        );
        return None;
    };
    if items.is_empty() {
        cx.error(
            node.loc,
            path,
            "the plan lists no stage",
            "a plan meters the API stages it lists: add `- {stage: prod}`",
        );
        return None;
    }
    let mut out: Vec<PlanStageConfig> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        match read_stage(cx, item, &ipath, apis) {
            Some(s) if out.iter().any(|o| o.api == s.api && o.stage == s.stage) => {
                cx.error(
                    item.loc,
                    &ipath,
                    format!("stage `{}` of API `{}` is listed twice", s.stage, s.api),
                    "list each API stage once; put its method throttles together",
                );
                ok = false;
            }
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_stage(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    apis: Option<&[ApiConfig]>,
) -> Option<PlanStageConfig> {
    let mut m = cx.map(node, path)?;
    let api_node = m.take("api");
    let stage = m
        .required(cx, "stage", "name the stage, e.g. `stage: prod`")
        .and_then(|(n, p)| Some((cx.string(n, &p)?, n.loc, p)));
    let methods = m.take("methods");
    m.finish(cx, STAGE_KEYS);
    let apis = apis?;
    let api = match api_node {
        Some((n, p)) => {
            let id = cx.string(n, &p)?;
            let Some(api) = apis.iter().find(|a| a.api.api_id == id) else {
                let ids: Vec<&str> = apis.iter().map(|a| a.api.api_id.as_str()).collect();
                cx.error(
                    n.loc,
                    &p,
                    format!("no API with id `{id}`"),
                    format!("the APIs: {}", ids.join(", ")),
                );
                return None;
            };
            api
        }
        None => match apis {
            [only] => only,
            _ => {
                cx.error(
                    node.loc,
                    path,
                    "missing key `api`",
                    "the config has several APIs: name one by its id, e.g. `api: shop`",
                );
                return None;
            }
        },
    };
    let (stage, sloc, spath) = stage?;
    if api.kind == ApiKind::Http {
        cx.error(
            node.loc,
            path,
            format!("`{}` is an HTTP API, and HTTP APIs have no usage plans", api.api.api_id),
            "as on API Gateway, usage plans and API keys are for REST APIs; throttle an HTTP API's routes with `throttle:`",
        );
        return None;
    }
    if !api.stages.iter().any(|s| s.name == stage) {
        let names: Vec<&str> = api.stages.iter().map(|s| s.name.as_str()).collect();
        cx.error(
            sloc,
            &spath,
            format!("API `{}` has no stage `{stage}`", api.api.api_id),
            format!("its stages: {}", names.join(", ")),
        );
        return None;
    }
    let methods = match methods {
        Some((n, p)) => read_method_throttles(cx, n, &p, api)?,
        None => Vec::new(),
    };
    Some(PlanStageConfig {
        api: api.api.api_id.clone(),
        stage,
        methods,
    })
}

/// `methods: {/pets/GET: {rate, burst}}`: API Gateway's `/{resource path}/{method}` keys.
fn read_method_throttles(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    api: &ApiConfig,
) -> Option<Vec<(String, String, ThrottleConfig)>> {
    let Value::Map(entries) = &node.value else {
        cx.expected(
            node,
            path,
            "a mapping",
            "write `/pets/GET: {rate: 1, burst: 2}`: the resource path, then the method",
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let kpath = join(path, &key.name);
        let split = key
            .name
            .rsplit_once('/')
            .filter(|(r, m)| r.starts_with('/') && METHODS.contains(m));
        let Some((resource, method)) = split else {
            cx.error(
                key.loc,
                &kpath,
                format!("`{}` does not name a method", key.name),
                "write the resource path, then `/` and the method, as API Gateway does: `/pets/GET`, `/pets/{id}/DELETE`",
            );
            ok = false;
            continue;
        };
        let found = api
            .resources
            .iter()
            .find(|r| r.path == resource)
            .and_then(|r| r.methods.iter().find(|m| m.method == method));
        match found {
            None => {
                cx.error(
                    key.loc,
                    &kpath,
                    format!("API `{}` has no method {method} {resource}", api.api.api_id),
                    "name a method under the API's `resources:` (an `ANY` method as `/path/ANY`)",
                );
                ok = false;
                continue;
            }
            Some(m) if !m.api_key_required => cx.warn(
                key.loc,
                &kpath,
                format!("{method} {resource} does not require an API key, so no plan meters it"),
                "add `api_key_required: true` to the method, or remove this throttle",
            ),
            Some(_) => {}
        }
        match read_throttle(cx, value, &kpath) {
            Some(t) => out.push((resource.to_owned(), method.to_owned(), t)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// Checks the methods that require an API key (`required`: where each says so, by the
/// method's key path): the keys live in the user pool's database, an HTTP API has none, a
/// key from the authorizer needs a Lambda authorizer, and a stage no plan covers refuses
/// every key (a warning).
pub(super) fn check_key_methods(
    cx: &mut Cx<'_>,
    required: &[(Loc, String)],
    apis: &[ApiConfig],
    plans: &[UsagePlanConfig],
    has_identity: bool,
) {
    let loc_of = |at: &str| required.iter().find(|(_, p)| p == at).map(|(l, _)| *l);
    for api in apis {
        let methods = api
            .resources
            .iter()
            .flat_map(|r| r.methods.iter().map(move |m| (r.path.as_str(), m)))
            .chain(api.default_route.iter().map(|m| ("$default", m)));
        for (resource, method) in methods {
            if !method.api_key_required {
                continue;
            }
            let loc = loc_of(&method.at).unwrap_or(api.loc);
            let at = join(&method.at, "api_key_required");
            if !has_identity {
                cx.error(
                    loc,
                    &at,
                    "API keys are kept in the user pool's database, and this config has no `identity` section",
                    "add `identity:` with a database (a SQLite file will do), then create keys with `portcullis apikeys create`",
                );
                continue;
            }
            if api.kind == ApiKind::Http {
                cx.error(
                    loc,
                    &at,
                    "HTTP APIs have no API keys",
                    "as on API Gateway, API keys and usage plans are for REST APIs; protect the route with an authorizer, and throttle it with `throttle:`",
                );
                continue;
            }
            if api.api_key_source == Some(ApiKeySource::Authorizer) && !has_lambda(api, method) {
                cx.error(
                    loc,
                    &at,
                    "the API takes its keys from the authorizer (`api_key_source: AUTHORIZER`), and this method has no Lambda authorizer",
                    "give the method a Lambda authorizer that returns `usageIdentifierKey`, or take the key from the `x-api-key` header (`api_key_source: HEADER`)",
                );
                continue;
            }
            let uncovered: Vec<&str> = api
                .stages
                .iter()
                .map(|st| st.name.as_str())
                .filter(|st| {
                    !plans.iter().any(|p| {
                        p.stages
                            .iter()
                            .any(|s| s.api == api.api.api_id && s.stage == *st)
                    })
                })
                .collect();
            if !uncovered.is_empty() {
                cx.warn(
                    loc,
                    &at,
                    format!(
                        "{} {resource} requires an API key, and no usage plan covers stage {} of API `{}`",
                        method.method,
                        uncovered.join(", "),
                        api.api.api_id
                    ),
                    "requests there are refused 403 Forbidden: list the stage in a plan under `usage_plans:`, and attach keys to the plan",
                );
            }
        }
    }
}

/// Whether `method`'s authorizer (its own or the API's default) is a Lambda authorizer.
fn has_lambda(api: &ApiConfig, method: &MethodConfig) -> bool {
    let name = match &method.auth {
        MethodAuth::Named(n) => Some(n.as_str()),
        MethodAuth::Default => api.authorization.default_authorizer.as_deref(),
        MethodAuth::None => None,
    };
    name.is_some_and(|n| api.lambda_authorizers.iter().any(|a| a.name == n))
}
