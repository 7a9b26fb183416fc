//! Explaining a decision: which route a request matches, what its authentication finds,
//! every policy statement considered with whether it applied and why not, and the final
//! decision. `portcullis explain` prints it; the admin endpoint `POST /explain` answers it
//! as JSON. Nothing here serves traffic: it runs the same stages as the pipeline, with the
//! same plan, on a request described by the caller.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};
use portcullis_core::CanonicalPath;
use portcullis_policy::{Applies, Outcome, Request as PolicyRequest};
use serde_json::{Value, json};

use crate::auth::{self, RequestKeys};
use crate::context::RequestCtx;
use crate::plan::{Plan, RouteAuthorizer};

/// A request to explain.
#[derive(Debug, Clone)]
pub struct Question {
    /// Method.
    pub method: String,
    /// Path (and query), e.g. `/pets/7`.
    pub path: String,
    /// Token, sent as `Authorization: Bearer ...` unless a header already carries it.
    pub token: Option<String>,
    /// Client address (default 127.0.0.1).
    pub source_ip: Option<IpAddr>,
    /// More headers.
    pub headers: Vec<(String, String)>,
}

fn statements(
    policies: &[&portcullis_policy::Policy],
    req: &PolicyRequest<'_>,
) -> (Outcome, Vec<Value>) {
    let e = portcullis_policy::explain(policies.iter().copied(), req);
    let list = e
        .statements
        .iter()
        .map(|t| {
            let (applies, why) = match &t.applies {
                Applies::Yes => (true, String::new()),
                Applies::Action(w)
                | Applies::Resource(w)
                | Applies::Principal(w)
                | Applies::Condition(w) => (false, w.clone()),
            };
            json!({
                "policy": &*t.statement.policy,
                "statement": t.statement.index,
                "sid": t.statement.sid.as_deref(),
                "effect": t.statement.effect.as_str(),
                "applies": applies,
                "why_not": (!applies).then_some(why),
            })
        })
        .collect();
    (e.decision.outcome, list)
}

/// Explains `q` against `plan` at Unix time `now`; the report is JSON.
pub async fn explain(plan: &Plan, q: &Question, now: i64) -> Value {
    let mut report = serde_json::Map::new();
    let method = match Method::from_bytes(q.method.to_ascii_uppercase().as_bytes()) {
        Ok(m) => m,
        Err(_) => return json!({"error": format!("`{}` is not an HTTP method", q.method)}),
    };
    let uri: Uri = match q.path.parse() {
        Ok(u) => u,
        Err(_) => return json!({"error": format!("`{}` is not a request path", q.path)}),
    };
    let mut headers = HeaderMap::new();
    for (k, v) in &q.headers {
        match (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            (Ok(k), Ok(v)) => {
                headers.append(k, v);
            }
            _ => return json!({"error": format!("header `{k}` is not valid")}),
        }
    }
    let source_ip = q.source_ip.unwrap_or(IpAddr::from([127, 0, 0, 1]));
    report.insert(
        "request".into(),
        json!({"method": method.as_str(), "path": uri.path(), "source_ip": source_ip.to_string()}),
    );
    let path = match CanonicalPath::parse(uri.path()) {
        Ok(p) => p,
        Err(e) => {
            report.insert("route".into(), Value::Null);
            report.insert(
                "decision".into(),
                json!({"result": "400", "why": e.to_string()}),
            );
            return Value::Object(report);
        }
    };
    let route = match plan.router.lookup(&method, &path) {
        Ok(r) => r,
        Err(e) => {
            report.insert("route".into(), Value::Null);
            let decision = match e.kind {
                portcullis_core::ErrorKind::MalformedRequest => {
                    json!({"result": "400", "why": e.detail})
                }
                _ => {
                    json!({"result": "403 Missing Authentication Token", "why": "no resource and method match"})
                }
            };
            report.insert("decision".into(), decision);
            return Value::Object(report);
        }
    };
    let r = route.value;
    report.insert(
        "route".into(),
        json!({
            "resource": route.resource.to_string(),
            "path_parameters": route.params.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "authorizer": r.authorizer.as_ref().map(|a| a.name().to_owned()),
            "scopes": r.scopes,
        }),
    );
    let mut ctx = RequestCtx::new(
        method.clone(),
        &uri,
        Version::HTTP_11,
        &headers,
        source_ip,
        false,
    );
    // As the pipeline sets them after routing (Cedar reads both).
    ctx.resource = Some(route.resource.clone());
    ctx.path_params = route.params.clone();
    let mut arn = plan.arn_prefix.clone();
    portcullis_core::push_method_arn(&mut arn, method.as_str(), &path);
    report.insert("method_arn".into(), json!(arn));

    // Resource policy, phase 1.
    let anonymous = RequestKeys {
        ctx: &ctx,
        headers: &headers,
        principal: None,
    };
    if let Err(e) = auth::resource_policy_precheck(&plan.authorization, &arn, &anonymous) {
        report.insert("decision".into(), json!({"result": "403", "message": e.message, "why": "the resource policy denies explicitly, before authentication"}));
        return Value::Object(report);
    }

    // Authenticate.
    let principal = match &r.authorizer {
        None => {
            report.insert(
                "authentication".into(),
                json!({"result": "public method: no authorizer"}),
            );
            None
        }
        Some(a) => {
            // A JWT goes in as a bearer token; a Lambda authorizer's token as written.
            let token = match a {
                RouteAuthorizer::Jwt(_) => q.token.as_ref().map(|t| format!("Bearer {t}")),
                RouteAuthorizer::Lambda(_) => q.token.clone(),
            };
            if let Some(t) = token
                && !headers.contains_key(http::header::AUTHORIZATION)
                && let Ok(v) = HeaderValue::try_from(t)
            {
                headers.insert(http::header::AUTHORIZATION, v);
            }
            let result = match a {
                RouteAuthorizer::Jwt(j) => j.authenticate(&headers, &r.scopes, now).await,
                RouteAuthorizer::Lambda(l) => {
                    l.authenticate(&crate::lambda::RequestView {
                        ctx: &ctx,
                        headers: &headers,
                        method_arn: &arn,
                        route_method: &r.method,
                        api: &plan.api,
                        stage_variables: &plan.config.stage_variables,
                    })
                    .await
                }
            };
            match result {
                Ok(p) => {
                    report.insert(
                        "authentication".into(),
                        json!({
                            "result": "authenticated",
                            "sub": p.sub,
                            "username": p.username,
                            "groups": p.groups,
                            "role": p.role,
                            "scopes": p.scopes.join(" "),
                            "expires": p.exp,
                        }),
                    );
                    Some(p)
                }
                Err(e) => {
                    report.insert(
                        "authentication".into(),
                        json!({"result": "refused", "why": e.detail}),
                    );
                    // The status and message the client would get (401, or 403 / 500 from a
                    // Lambda authorizer).
                    let rtype = e.kind.response_type();
                    let status = e
                        .kind
                        .status_hint()
                        .or(rtype.default_status())
                        .unwrap_or(500);
                    let message = e
                        .message
                        .clone()
                        .or_else(|| rtype.default_message().map(str::to_owned));
                    report.insert(
                        "decision".into(),
                        json!({"result": status.to_string(), "message": message}),
                    );
                    return Value::Object(report);
                }
            }
        }
    };

    // Authorize: every statement of the role's policies and of the resource policy.
    let keys = RequestKeys {
        ctx: &ctx,
        headers: &headers,
        principal: principal.as_deref(),
    };
    let req = PolicyRequest {
        action: "execute-api:Invoke",
        resource: &arn,
        principal: None,
        context: &keys,
    };
    if let Some(policy) = principal.as_ref().and_then(|p| p.policy.as_ref()) {
        let (outcome, list) = statements(&[policy.as_ref()], &req);
        report.insert(
            "authorizer_policy".into(),
            json!({"outcome": outcome.as_str(), "statements": list}),
        );
    } else if let (Some(_), Some(c)) = (&principal, plan.authorization.cedar()) {
        match c.decide(&keys, true) {
            Ok((outcome, traces)) => {
                let list: Vec<Value> = traces
                    .iter()
                    .map(|t| json!({"policy": t.id, "effect": t.effect, "applies": t.determining}))
                    .collect();
                report.insert(
                    "cedar".into(),
                    json!({"outcome": outcome.as_str(), "policies": list}),
                );
            }
            Err(e) => {
                report.insert("cedar".into(), json!({"error": e}));
            }
        }
    } else if let Some(p) = principal
        .as_ref()
        .filter(|_| plan.authorization.has_roles())
    {
        let policies = plan.authorization.role_policy_list(p.role.as_deref());
        let (outcome, list) = statements(&policies, &req);
        report.insert(
            "role_policies".into(),
            json!({"role": p.role, "outcome": outcome.as_str(), "statements": list}),
        );
    }
    if let Some(rp) = plan.authorization.resource_policy() {
        let (outcome, list) = statements(&[rp], &req);
        report.insert(
            "resource_policy".into(),
            json!({"outcome": outcome.as_str(), "statements": list}),
        );
    }
    let decision = match auth::authorize(&plan.authorization, &arn, &keys, true) {
        Ok(v) => json!({"result": "allow", "summary": v.summary}),
        Err(e) => json!({"result": "403", "message": e.message, "summary": e.detail}),
    };
    report.insert("decision".into(), decision);
    Value::Object(report)
}

/// A member of a JSON object, `Null` when absent.
fn at<'v>(v: &'v Value, key: &str) -> &'v Value {
    static NULL: Value = Value::Null;
    v.get(key).unwrap_or(&NULL)
}

/// The report as text, for the terminal.
pub fn render(report: &Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if let Some(e) = report.get("error").and_then(Value::as_str) {
        let _ = writeln!(out, "error: {e}");
        return out;
    }
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let r = at(report, "request");
    let _ = writeln!(
        out,
        "request    {} {} from {}",
        s(at(r, "method")),
        s(at(r, "path")),
        s(at(r, "source_ip"))
    );
    match report.get("route") {
        Some(rt @ Value::Object(_)) => {
            let _ = writeln!(
                out,
                "route      {} (authorizer {}, scopes {})",
                s(at(rt, "resource")),
                s(at(rt, "authorizer")),
                s(at(rt, "scopes"))
            );
        }
        _ => {
            let _ = writeln!(out, "route      none");
        }
    }
    if let Some(arn) = report.get("method_arn") {
        let _ = writeln!(out, "method ARN {}", s(arn));
    }
    if let Some(a) = report.get("authentication") {
        let mut line = format!("authn      {}", s(at(a, "result")));
        for k in ["why", "sub", "username", "role", "groups", "scopes"] {
            if let Some(v) = a.get(k).filter(|v| !v.is_null()) {
                let _ = write!(line, ", {k} {}", s(v));
            }
        }
        let _ = writeln!(out, "{line}");
    }
    if let Some(c) = report.get("cedar") {
        let _ = writeln!(out, "cedar: {}", s(at(c, "outcome")));
        for p in at(c, "policies").as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                s(at(p, "policy")),
                s(at(p, "effect")),
                if at(p, "applies") == true {
                    "determining"
                } else {
                    "not determining"
                }
            );
        }
    }
    for (title, key) in [
        ("authorizer policy", "authorizer_policy"),
        ("role policies", "role_policies"),
        ("resource policy", "resource_policy"),
    ] {
        let Some(p) = report.get(key) else { continue };
        let _ = writeln!(out, "{title}: {}", s(at(p, "outcome")));
        for st in at(p, "statements").as_array().into_iter().flatten() {
            let sid = at(st, "sid")
                .as_str()
                .map(|x| format!(" {x}"))
                .unwrap_or_default();
            if at(st, "applies") == true {
                let _ = writeln!(
                    out,
                    "  {}[{}]{sid} {}: applies",
                    s(at(st, "policy")),
                    at(st, "statement"),
                    s(at(st, "effect"))
                );
            } else {
                let _ = writeln!(
                    out,
                    "  {}[{}]{sid} {}: no match, {}",
                    s(at(st, "policy")),
                    at(st, "statement"),
                    s(at(st, "effect")),
                    s(at(st, "why_not"))
                );
            }
        }
    }
    if let Some(d) = report.get("decision") {
        let mut line = format!("decision   {}", s(at(d, "result")));
        if let Some(m) = d.get("message").filter(|v| !v.is_null()) {
            let _ = write!(line, " {}", s(m));
        }
        if let Some(w) = d.get("why").or_else(|| d.get("summary")) {
            let _ = write!(line, " ({})", s(w));
        }
        let _ = writeln!(out, "{line}");
    }
    out
}
