//! Explaining a decision: which route a request matches, what its authentication finds,
//! every policy statement considered with whether it applied and why not, and the final
//! decision. `portcullis explain` prints it; the admin endpoint `POST /explain` answers it
//! as JSON. Nothing here serves traffic: it runs the pipeline's own chain of stages, with the
//! same plan, on a request described by the caller, and stops before the integration.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};
use portcullis_core::CanonicalPath;
use portcullis_policy::{Applies, Outcome, Request as PolicyRequest};
use serde_json::{Value, json};

use portcullis_core::GatewayError;

use crate::auth::{Caller, RequestKeys, Verdict};
use crate::body::Inbound;
use crate::context::RequestCtx;
use crate::pipeline::{self, Recorder, Routed, Valid};
use crate::plan::{ApiPlan, Plan, RouteAuthorizer};

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
    /// The request body, for methods that validate it.
    pub body: Option<String>,
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

/// Explains `q` against `plan` at Unix time `now`; the report is JSON. It runs the pipeline's
/// own [`chain`](crate::pipeline::chain), stopping before the integration.
pub async fn explain(plan: &Plan, q: &Question, now: i64) -> Value {
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
    // As a client sends it: with a User-Agent unless one is given (web ACLs look at it).
    if !headers.contains_key(http::header::USER_AGENT) {
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static("portcullis-explain"),
        );
    }
    if !headers.contains_key(http::header::HOST)
        && let Some(host) = uri.authority().map(|a| a.as_str()).or(Some("localhost"))
        && let Ok(v) = HeaderValue::from_str(host)
    {
        headers.insert(http::header::HOST, v);
    }
    let source_ip = q.source_ip.unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut report = Report::default();
    report.map.insert(
        "request".into(),
        json!({"method": method.as_str(), "path": uri.path(), "source_ip": source_ip.to_string()}),
    );
    // The token goes where the method's authorizer reads it: a JWT as a bearer token, a
    // Lambda authorizer's token as written.
    if let Some(t) = &q.token
        && !headers.contains_key(http::header::AUTHORIZATION)
    {
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok());
        let lambda = CanonicalPath::parse(uri.path())
            .ok()
            .and_then(|p| plan.select.select(&plan.apis, host, p).ok())
            .and_then(|s| s.api.router.lookup(&method, &s.path).ok())
            .is_some_and(|m| matches!(m.value.authorizer, Some(RouteAuthorizer::Lambda(_))));
        let value = if lambda {
            t.clone()
        } else {
            format!("Bearer {t}")
        };
        if let Ok(v) = HeaderValue::try_from(value) {
            headers.insert(http::header::AUTHORIZATION, v);
        }
    }
    let body = q.body.clone().unwrap_or_default();
    if !body.is_empty()
        && let Ok(v) = HeaderValue::try_from(body.len().to_string())
    {
        headers.insert(http::header::CONTENT_LENGTH, v);
    }
    let mut builder = http::Request::builder()
        .method(method.clone())
        .uri(uri.clone())
        .version(Version::HTTP_11);
    if let Some(h) = builder.headers_mut() {
        *h = headers;
    }
    let Ok(request) = builder.body(()) else {
        return json!({"error": "the request cannot be built"});
    };
    let (head, ()) = request.into_parts();
    let mut ctx = RequestCtx::new(
        method,
        &uri,
        Version::HTTP_11,
        &head.headers,
        source_ip,
        false,
    );
    ctx.epoch_ms = u64::try_from(now).unwrap_or(0).saturating_mul(1000);
    let mut inbound = Inbound::full(body.into());
    let result = pipeline::chain(plan, None, &head, &mut inbound, &mut ctx, &mut report).await;
    let mut map = report.map;
    if !map.contains_key("route") {
        map.insert("route".into(), Value::Null);
    }
    let decision = match result {
        Ok(pipeline::Next::Answer(r)) => {
            json!({"result": r.status().as_u16().to_string(), "why": "answered by the web ACL"})
        }
        Ok(_) => json!({"result": "allow", "summary": report.summary}),
        Err(e) => {
            let (status, message) = plan.answering(ctx.scope).0.status_and_message(&e);
            json!({"result": status.as_u16().to_string(), "message": message, "why": e.detail})
        }
    };
    map.insert("decision".into(), decision);
    Value::Object(map)
}

/// `explain`'s recorder: what each stage found, as JSON.
#[derive(Default)]
struct Report {
    map: serde_json::Map<String, Value>,
    summary: Option<String>,
}

impl Recorder for Report {
    fn wants_summary(&self) -> bool {
        true
    }

    fn dry_run(&self) -> bool {
        true
    }

    fn firewalled(
        &mut self,
        acl: &str,
        record: Option<&crate::firewall::WafRecord>,
        result: Result<(), &GatewayError>,
    ) {
        let value = match record {
            Some(r) => json!({
                "web_acl": acl,
                "action": r.action,
                "terminating_rule": r.terminating_rule,
                "rules": r.rules,
                "labels": r.labels,
            }),
            None => json!({
                "web_acl": acl,
                "action": if result.is_ok() { "ALLOW" } else { "BLOCK" },
                "terminating_rule": null,
                "rules": [],
                "labels": [],
            }),
        };
        self.map.insert("waf".into(), value);
    }

    fn routed(&mut self, ctx: &RequestCtx, routed: &Routed<'_, '_>) {
        let r = routed.route;
        self.map.insert(
            "route".into(),
            json!({
                "api": routed.api.id(),
                "stage": routed.stage.name(),
                "resource": ctx.resource.as_deref(),
                "path_parameters": ctx.path_params.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "authorizer": r.authorizer.as_ref().map(|a| a.name().to_owned()),
                "scopes": r.scopes,
            }),
        );
        if r.authorizer.is_none() {
            self.map.insert(
                "authentication".into(),
                json!({"result": "public method: no authorizer"}),
            );
        }
    }

    fn method_arn(&mut self, arn: &str) {
        self.map.insert("method_arn".into(), json!(arn));
    }

    fn prechecked(&mut self, result: Result<(), &GatewayError>) {
        if result.is_err() {
            self.map.insert(
                "precheck".into(),
                json!({"result": "denied", "why": "the resource policy denies explicitly, before authentication"}),
            );
        }
    }

    fn authenticated(&mut self, result: Result<&Caller, &GatewayError>) {
        match result {
            Ok(Caller::Public) => {}
            Ok(Caller::Principal(p)) => {
                self.map.insert(
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
            }
            Err(e) => {
                self.map.insert(
                    "authentication".into(),
                    json!({"result": "refused", "why": e.detail}),
                );
            }
        }
    }

    /// Every statement of the policies that decide, with whether it applied and why not.
    fn authorizing(&mut self, api: &ApiPlan, arn: &str, keys: &RequestKeys<'_>) {
        let req = PolicyRequest {
            action: "execute-api:Invoke",
            resource: arn,
            principal: None,
            context: keys,
        };
        let principal = keys.principal();
        if let Some(policy) = principal.and_then(|p| p.policy.as_ref()) {
            let (outcome, list) = statements(&[policy.as_ref()], &req);
            self.map.insert(
                "authorizer_policy".into(),
                json!({"outcome": outcome.as_str(), "statements": list}),
            );
        } else if let (Some(_), Some(c)) = (principal, api.authorization.cedar()) {
            match c.decide(keys, true) {
                Ok((outcome, traces)) => {
                    let list: Vec<Value> = traces
                        .iter()
                        .map(|t| json!({"policy": t.id, "effect": t.effect, "applies": t.determining}))
                        .collect();
                    self.map.insert(
                        "cedar".into(),
                        json!({"outcome": outcome.as_str(), "policies": list}),
                    );
                }
                Err(e) => {
                    self.map.insert("cedar".into(), json!({"error": e}));
                }
            }
        } else if let Some(p) = principal.filter(|_| api.authorization.has_roles()) {
            let policies = api.authorization.role_policy_list(p.role.as_deref());
            let (outcome, list) = statements(&policies, &req);
            self.map.insert(
                "role_policies".into(),
                json!({"role": p.role, "outcome": outcome.as_str(), "statements": list}),
            );
        }
        if let Some(rp) = api.authorization.resource_policy() {
            let (outcome, list) = statements(&[rp], &req);
            self.map.insert(
                "resource_policy".into(),
                json!({"outcome": outcome.as_str(), "statements": list}),
            );
        }
    }

    fn authorized(&mut self, result: Result<&Verdict, &GatewayError>) {
        if let Ok(v) = result {
            self.summary = Some(v.summary.clone());
        }
    }

    fn keyed(
        &mut self,
        key: Option<&portcullis_identity::api_keys::ApiKey>,
        metered: Option<&crate::limits::MeteredBy>,
        result: Result<(), &GatewayError>,
    ) {
        let throttle = metered.and_then(|m| m.method.as_ref().or(m.plan.throttle.as_ref()));
        let quota = metered.and_then(|m| m.plan.quota);
        self.map.insert(
            "api_key".into(),
            json!({
                "id": key.map(|k| k.id.as_str()),
                "name": key.map(|k| k.name.as_str()),
                "plan": metered.map(|m| &*m.plan.name),
                "throttle_scope": metered.map(|m| if m.method.is_some() { "method" } else { "plan" }),
                "rate": throttle.map(portcullis_limits::Throttle::rate),
                "burst": throttle.map(portcullis_limits::Throttle::burst),
                "quota": quota.map(|q| q.limit),
                "period": quota.map(|q| q.period.name()),
                "result": if result.is_ok() { "within" } else { "refused" },
                "why": result.err().map(|e| e.detail.to_string()),
            }),
        );
    }

    fn metered(
        &mut self,
        sub: &str,
        limits: crate::limits::CallerLimits<'_>,
        result: Result<(), &GatewayError>,
    ) {
        let (plan, throttle, quota) = match limits {
            crate::limits::CallerLimits::Own(l) => (None, Some(l.throttle), l.quota),
            crate::limits::CallerLimits::Plan(m) => (
                Some(&*m.plan.name),
                m.method.or(m.plan.throttle),
                m.plan.quota,
            ),
        };
        self.map.insert(
            "limits".into(),
            json!({
                "user": sub,
                "plan": plan,
                "rate": throttle.map(|t| t.rate()),
                "burst": throttle.map(|t| t.burst()),
                "quota": quota.map(|q| q.limit),
                "period": quota.map(|q| q.period.name()),
                "result": if result.is_ok() { "within" } else { "refused" },
                "why": result.err().map(|e| e.detail.to_string()),
            }),
        );
    }

    fn throttled(
        &mut self,
        throttle: &portcullis_limits::Throttle,
        own: bool,
        result: Result<(), &GatewayError>,
    ) {
        self.map.insert(
            "throttle".into(),
            json!({
                "scope": if own { "method" } else { "stage" },
                "rate": throttle.rate(),
                "burst": throttle.burst(),
                "result": if result.is_ok() { "within" } else { "refused" },
            }),
        );
    }

    fn validated(&mut self, result: Result<&Valid, &GatewayError>) {
        if let Err(e) = result {
            self.map.insert(
                "validation".into(),
                json!({"result": "refused", "message": e.message, "why": e.detail}),
            );
        }
    }
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
    if let Some(w) = report.get("waf") {
        let mut line = format!("waf        {} {}", s(at(w, "web_acl")), s(at(w, "action")));
        if let Some(t) = w.get("terminating_rule").filter(|v| !v.is_null()) {
            let _ = write!(line, " by {}", s(t));
        }
        let _ = writeln!(out, "{line}");
        for m in at(w, "rules").as_array().into_iter().flatten() {
            let mut line = format!("  {} {}", s(at(m, "name")), s(at(m, "action")));
            if let Some(f) = m.get("field").filter(|v| !v.is_null()) {
                let _ = write!(line, " in {}", s(f));
            }
            if let Some(r) = m.get("reason").filter(|v| !v.is_null()) {
                let _ = write!(line, " ({})", s(r));
            }
            let _ = writeln!(out, "{line}");
        }
        for l in at(w, "labels").as_array().into_iter().flatten() {
            let _ = writeln!(out, "  label {}", s(l));
        }
    }
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
    if let Some(k) = report.get("api_key") {
        let mut line = match k.get("id").filter(|v| !v.is_null()) {
            Some(id) => format!("api key    {} ({})", s(id), s(at(k, "name"))),
            None => "api key    none found".to_owned(),
        };
        if let Some(p) = k.get("plan").filter(|v| !v.is_null()) {
            let _ = write!(line, ", plan {}", s(p));
            if let Some(r) = k.get("rate").filter(|v| !v.is_null()) {
                let _ = write!(
                    line,
                    ": {} rate {} burst {}",
                    s(at(k, "throttle_scope")),
                    s(r),
                    s(at(k, "burst"))
                );
            }
            if let Some(q) = k.get("quota").filter(|v| !v.is_null()) {
                let _ = write!(line, ", quota {} per {}", s(q), s(at(k, "period")));
            }
        }
        let _ = write!(line, " ({}", s(at(k, "result")));
        if let Some(w) = k.get("why").filter(|v| !v.is_null()) {
            let _ = write!(line, ": {}", s(w));
        }
        let _ = writeln!(out, "{line})");
    }
    if let Some(l) = report.get("limits") {
        let mut line = format!("limits     user {}:", s(at(l, "user")));
        if let Some(p) = l.get("plan").filter(|v| !v.is_null()) {
            let _ = write!(line, " plan {}", s(p));
        }
        if let Some(r) = l.get("rate").filter(|v| !v.is_null()) {
            let _ = write!(line, " rate {} burst {}", s(r), s(at(l, "burst")));
        }
        if let Some(q) = l.get("quota").filter(|v| !v.is_null()) {
            let _ = write!(line, ", quota {} per {}", s(q), s(at(l, "period")));
        }
        let _ = write!(line, " ({}", s(at(l, "result")));
        if let Some(w) = l.get("why").filter(|v| !v.is_null()) {
            let _ = write!(line, ": {}", s(w));
        }
        let _ = writeln!(out, "{line})");
    }
    if let Some(t) = report.get("throttle") {
        let _ = writeln!(
            out,
            "throttle   {}: rate {} burst {} ({})",
            s(at(t, "scope")),
            s(at(t, "rate")),
            s(at(t, "burst")),
            s(at(t, "result"))
        );
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
