//! The web ACL stage: the request's web ACL (its stage's, its API's, or the gateway's
//! default) evaluated before routing, as AWS WAF runs before API Gateway.
//!
//! ```text
//! head + bounded body --> portcullis_waf::WebAcl::evaluate --> verdict
//!   Allow  -> on to the route (with the x-amzn-waf-* headers for the upstream)
//!   Block  -> 403 WAF_FILTERED (the API's gateway response), or the rule's custom response
//!   CAPTCHA / Challenge -> 405 / 202 with the interstitial a client without a token gets
//! ```
//! Every blocked or counted request leaves its verdict in the access-log line (terminating
//! rule, matched rules, labels, where each matched: never a value), in metrics, and in the
//! sampled requests the admin API serves.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use portcullis_core::{ErrorKind, GatewayError, ResponseType};
use portcullis_waf::acl::Outcome;
use portcullis_waf::{Env, Geo, Request, Verdict, WebAcl};
use serde::Serialize;

use crate::body::{BufferError, Inbound, ResponseBody};
use crate::context::RequestCtx;

/// Counts requests by web ACL and outcome (`action`: ALLOW, BLOCK, CAPTCHA, CHALLENGE).
pub const REQUESTS: &str = "portcullis_waf_requests_total";
/// Counts rule matches by web ACL, rule and the action taken.
pub const RULE_MATCHES: &str = "portcullis_waf_rule_matches_total";
/// Counts labels added, by web ACL and label.
pub const LABELS: &str = "portcullis_waf_labels_total";

/// Sampled requests kept per gateway (the newest replace the oldest).
pub const SAMPLES: usize = 500;

/// What the web ACL said about a request, for the access log and the sampled requests.
#[derive(Debug, Clone, Serialize)]
pub struct WafRecord {
    /// The web ACL.
    pub web_acl: Arc<str>,
    /// ALLOW, BLOCK, CAPTCHA or CHALLENGE.
    pub action: &'static str,
    /// The rule that ended evaluation (`None`: the default action).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminating_rule: Option<String>,
    /// Every rule that matched, with its action and where (never what).
    pub rules: Vec<RuleRecord>,
    /// Labels added.
    pub labels: Vec<Arc<str>>,
}

/// One matched rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleRecord {
    /// `rule`, or `group-rule:inner-rule`.
    pub name: String,
    /// The action it took.
    pub action: &'static str,
    /// Where the value sat (`query argument q`, `header user-agent`, `body`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why, when a detector says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// One sampled request (`GET /waf/sampled-requests` on the admin listener).
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// RFC 3339 time.
    pub time: String,
    /// `x-amzn-RequestId`.
    pub request_id: String,
    /// Client address.
    pub source_ip: String,
    /// Method.
    pub method: String,
    /// Path (no query string).
    pub path: String,
    /// The verdict.
    #[serde(flatten)]
    pub waf: WafRecord,
}

/// The newest sampled requests.
#[derive(Debug, Default)]
pub struct Samples(Mutex<VecDeque<Sample>>);

impl Samples {
    fn push(&self, s: Sample) {
        let mut q = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if q.len() >= SAMPLES {
            q.pop_front();
        }
        q.push_back(s);
    }

    /// The samples of `web_acl` (all when `None`), newest first, at most `limit`.
    pub fn list(&self, web_acl: Option<&str>, limit: usize) -> Vec<Sample> {
        let q = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        q.iter()
            .rev()
            .filter(|s| web_acl.is_none_or(|w| *s.waf.web_acl == *w))
            .take(limit)
            .cloned()
            .collect()
    }
}

/// The verdict's effect on the request.
pub enum Judged {
    /// On to the route.
    Pass,
    /// Answered here (a custom block response, a CAPTCHA or a challenge).
    Answer(Box<Response<ResponseBody>>),
}

/// Evaluates `acl` on the request. The body is read (bounded, replayable) only when a rule
/// inspects it.
pub async fn inspect(
    acl: &WebAcl,
    geo: Option<&dyn Geo>,
    max_body: u64,
    samples: &Samples,
    head: &Parts,
    body: &mut Inbound,
    ctx: &mut RequestCtx,
) -> Result<Judged, GatewayError> {
    // Rate-based rules count on the same process clock as the throttles.
    let now_ms = crate::limits::now_ns() / 1_000_000;
    let judge = |body: &[u8], body_complete: bool| {
        let view = Request {
            method: head.method.as_str(),
            path: head.uri.path(),
            query: head.uri.query().unwrap_or(""),
            headers: &head.headers,
            client_ip: ctx.source_ip,
            body,
            body_complete,
        };
        acl.evaluate(&view, Env { geo, now_ms })
    };
    // The body is inspected where it was buffered (no copy); it stays there for the route.
    let verdict = if acl.reads_body {
        match body.buffer(acl.body_limit, max_body).await {
            Ok(b) => judge(b.bytes, b.complete),
            Err(BufferError::TooLarge) => {
                return Err(GatewayError::new(
                    ErrorKind::BodyTooLarge,
                    "request body over max_body_size while read for the web ACL",
                ));
            }
            Err(BufferError::Client(e)) => {
                return Err(GatewayError::new(
                    ErrorKind::MalformedRequest,
                    format!("request body unreadable: {e}"),
                ));
            }
        }
    } else {
        judge(&[], true)
    };
    record(acl, &verdict, samples, ctx);
    for (name, value) in &verdict.insert_headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            ctx.waf_headers.push((n, v));
        }
    }
    match verdict.outcome {
        Outcome::Allow => Ok(Judged::Pass),
        Outcome::Block(None) => Err(GatewayError::new(
            ErrorKind::Response(ResponseType::WAF_FILTERED),
            "blocked by the web ACL",
        )),
        Outcome::Block(Some(custom)) => {
            let mut r = Response::new(match &custom.body {
                Some((_, content)) => {
                    ResponseBody::full(Bytes::copy_from_slice(content.as_bytes()))
                }
                None => ResponseBody::empty(),
            });
            *r.status_mut() = StatusCode::from_u16(custom.status).unwrap_or(StatusCode::FORBIDDEN);
            if let Some((ct, _)) = &custom.body {
                r.headers_mut()
                    .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            for (n, v) in &custom.headers {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(n.as_bytes()),
                    HeaderValue::from_str(v),
                ) {
                    r.headers_mut().append(n, v);
                }
            }
            Ok(Judged::Answer(Box::new(r)))
        }
        Outcome::Captcha => Ok(Judged::Answer(Box::new(interstitial(
            StatusCode::METHOD_NOT_ALLOWED,
            "captcha",
        )))),
        Outcome::Challenge => Ok(Judged::Answer(Box::new(interstitial(
            StatusCode::ACCEPTED,
            "challenge",
        )))),
    }
}

/// What a client without a token gets for a CAPTCHA (405) or a challenge (202): AWS's
/// statuses and `x-amzn-waf-action`, and a page that says why. No puzzle is served: this
/// gateway issues no tokens, so every such request ends here.
fn interstitial(status: StatusCode, action: &'static str) -> Response<ResponseBody> {
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Verification required</title></head>\
         <body><p>This request needs a {action} token, and this gateway does not issue them.</p></body></html>"
    );
    let mut r = Response::new(ResponseBody::full(page));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        HeaderName::from_static("x-amzn-waf-action"),
        HeaderValue::from_static(action),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    r
}

fn record(acl: &WebAcl, v: &Verdict, samples: &Samples, ctx: &mut RequestCtx) {
    let action = match v.outcome {
        Outcome::Allow => "ALLOW",
        Outcome::Block(_) => "BLOCK",
        Outcome::Captcha => "CAPTCHA",
        Outcome::Challenge => "CHALLENGE",
    };
    let acl_label = metrics::SharedString::from_shared(acl.metric_name.clone());
    metrics::counter!(REQUESTS, "web_acl" => acl_label.clone(), "action" => action).increment(1);
    if v.matches.is_empty() && action == "ALLOW" {
        return;
    }
    for m in &v.matches {
        metrics::counter!(RULE_MATCHES, "web_acl" => acl_label.clone(), "rule" => m.rule.clone(), "action" => m.action)
            .increment(1);
    }
    for l in &v.labels {
        metrics::counter!(LABELS, "web_acl" => acl_label.clone(), "label" => metrics::SharedString::from_shared(l.clone()))
            .increment(1);
    }
    let rec = WafRecord {
        web_acl: acl.name.clone(),
        action,
        terminating_rule: v.terminating_rule.clone(),
        rules: v
            .matches
            .iter()
            .map(|m| RuleRecord {
                name: m.rule.clone(),
                action: m.action,
                field: m.field.clone(),
                reason: m.reason,
            })
            .collect(),
        labels: v.labels.clone(),
    };
    samples.push(Sample {
        time: crate::access_log::rfc3339(ctx.epoch_ms),
        request_id: ctx.request_id.as_str().to_owned(),
        source_ip: ctx.source_ip.to_string(),
        method: ctx.method.as_str().to_owned(),
        path: ctx.path().to_owned(),
        waf: rec.clone(),
    });
    ctx.waf = Some(Box::new(rec));
}

/// The web ACLs of a plan: the default one, and what they share.
#[derive(Debug, Default)]
pub struct WafPlan {
    /// The web ACL of requests no association covers.
    pub default: Option<Arc<WebAcl>>,
    /// The country database.
    pub geo: Option<Arc<dyn Geo>>,
    /// Sampled requests (kept across reloads).
    pub samples: Arc<Samples>,
}

/// `portcullis waf test`: judges a raw HTTP/1.1 request (as sent on the wire) with the web
/// ACL the gateway would run for it. Returns whether it passes and a report: the web ACL,
/// the verdict, every rule that matched with where and why, and the labels.
pub fn test_raw(
    plan: &crate::plan::Plan,
    raw: &[u8],
    source_ip: std::net::IpAddr,
) -> Result<(bool, String), String> {
    use std::fmt::Write as _;
    let mut slots = [httparse::EMPTY_HEADER; 200];
    let mut parsed = httparse::Request::new(&mut slots);
    let head_len = match parsed.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return Err("the request head is incomplete (it ends with an empty line)".into());
        }
        Err(e) => return Err(format!("not an HTTP/1.1 request: {e}")),
    };
    let method = parsed.method.unwrap_or("GET").to_owned();
    let target = parsed.path.unwrap_or("/").to_owned();
    let mut headers = http::HeaderMap::new();
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("header `{}` is not valid", h.name))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| format!("header `{}` has an invalid value", h.name))?;
        headers.append(name, value);
    }
    let uri: http::Uri = target
        .parse()
        .map_err(|_| format!("`{target}` is not a request target"))?;
    let rest = raw.get(head_len..).unwrap_or_default();
    let body = match headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        Some(n) => rest.get(..n).unwrap_or(rest),
        None => rest,
    };
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let path = portcullis_core::CanonicalPath::parse(uri.path())
        .map_err(|e| format!("the listener refuses this path before any web ACL (400): {e}"))?;
    let acl = match plan.select.select(&plan.apis, host, path) {
        Ok(s) => s.stage.web_acl.clone(),
        Err(_) => plan.waf.default.clone(),
    };
    let Some(acl) = acl else {
        return Ok((true, "no web ACL guards this request\n".into()));
    };
    let view = Request {
        method: &method,
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &headers,
        client_ip: source_ip,
        body,
        body_complete: true,
    };
    let v = acl.evaluate(
        &view,
        Env {
            geo: plan.waf.geo.as_deref(),
            now_ms: 0,
        },
    );
    let mut out = String::new();
    let _ = writeln!(out, "web ACL    {}", acl.name);
    let verdict = match &v.outcome {
        Outcome::Allow => "ALLOW".to_owned(),
        Outcome::Block(None) => "BLOCK (403 Forbidden)".to_owned(),
        Outcome::Block(Some(c)) => format!("BLOCK (custom response {})", c.status),
        Outcome::Captcha => "CAPTCHA (405)".to_owned(),
        Outcome::Challenge => "CHALLENGE (202)".to_owned(),
    };
    match &v.terminating_rule {
        Some(r) => {
            let _ = writeln!(out, "verdict    {verdict} by rule {r}");
        }
        None => {
            let _ = writeln!(out, "verdict    {verdict} (default action)");
        }
    }
    for m in &v.matches {
        let mut line = format!("match      {} {}", m.rule, m.action);
        if let Some(f) = &m.field {
            let _ = write!(line, " in {f}");
        }
        if let Some(r) = m.reason {
            let _ = write!(line, " ({r})");
        }
        let _ = writeln!(out, "{line}");
    }
    for l in &v.labels {
        let _ = writeln!(out, "label      {l}");
    }
    Ok((v.allowed(), out))
}
