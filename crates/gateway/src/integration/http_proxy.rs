//! The `http_proxy` integration: a streaming reverse proxy to an HTTP(S) upstream.
//!
//! The upstream URI is built from the template with path parameters re-encoded; the client's
//! query string is passed through; hop-by-hop headers are removed both ways; `Host` becomes
//! the upstream's authority and `X-Forwarded-For/-Proto/-Host` describe the client. Bodies
//! stream both ways; the request body is metered against the listener's limit. The timeout
//! covers connecting and waiting for the response head, and then bounds each wait for the
//! next piece of the response body (an upstream that stalls mid-body is cut off).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::body::Inbound;
use http::header::{CONNECTION, HOST, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Request, Response, Uri, Version};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use portcullis_config::{HttpProxyConfig, Segment, UpstreamProtocol, UriPart};
use portcullis_core::{ErrorKind, GatewayError};

use crate::stage::Stage;

use super::clients::{UpstreamClient, UpstreamClients};
use super::mapping::{Mappings, QUERY_COMPONENT};
use crate::body::{BodyMeter, Idle, RequestBody, ResponseBody};
use crate::context::RequestCtx;
use crate::h1_client::{H1Error, H1Pool};

/// Characters encoded in a path segment (RFC 3986 pchar, plus `/`, `%` and space).
pub(crate) const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Headers that describe one connection and are never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    http::header::PROXY_AUTHENTICATE,
    http::header::PROXY_AUTHORIZATION,
    http::header::TE,
    http::header::TRAILER,
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
];

#[derive(Debug)]
enum Part {
    Literal(String),
    /// A parameter; `in_query` when it stands after the template's `?`, where `&`, `=`
    /// and `+` must be encoded so a value cannot add query parameters.
    Param {
        name: String,
        greedy: bool,
        in_query: bool,
    },
}

/// A compiled reverse-proxy integration.
#[derive(Debug)]
pub struct HttpProxy {
    scheme: Scheme,
    authority: Authority,
    host: HeaderValue,
    parts: Vec<Part>,
    template_has_query: bool,
    timeout: Duration,
    client: UpstreamClient,
    /// The in-task HTTP/1.1 client, for plain `http://` upstreams without `protocol: http2`.
    h1: Option<Arc<H1Pool>>,
    mappings: Mappings,
}

impl HttpProxy {
    /// Compiles the integration for a resource with `segments`.
    pub fn compile(
        c: &HttpProxyConfig,
        segments: &[Segment],
        clients: &UpstreamClients,
        generation: u64,
    ) -> Result<Self, String> {
        let scheme = Scheme::try_from(c.uri.scheme.as_str()).map_err(|e| e.to_string())?;
        let authority = Authority::try_from(c.uri.authority.as_str())
            .map_err(|e| format!("upstream authority: {e}"))?;
        let host = HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?;
        let mut in_query = false;
        let mut parts: Vec<Part> = Vec::with_capacity(c.uri.parts.len());
        for p in &c.uri.parts {
            match p {
                UriPart::Literal(s) => {
                    in_query |= s.contains('?');
                    parts.push(Part::Literal(s.clone()));
                }
                UriPart::Param(name) => parts.push(Part::Param {
                    greedy: segments
                        .iter()
                        .any(|s| matches!(s, Segment::Greedy(n) if n == name)),
                    name: name.clone(),
                    in_query,
                }),
            }
        }
        let template_has_query = c
            .uri
            .parts
            .iter()
            .any(|p| matches!(p, UriPart::Literal(s) if s.contains('?')));
        let client = clients.get(c.protocol, c.ca_file.as_deref(), generation)?;
        let h1 = (scheme == Scheme::HTTP && c.protocol == UpstreamProtocol::Auto)
            .then(|| clients.h1_pool(authority.as_str(), generation))
            .transpose()?;
        Ok(Self {
            scheme,
            authority,
            host,
            parts,
            template_has_query,
            timeout: c.timeout,
            client,
            h1,
            mappings: Mappings::compile(&c.request_parameters)?,
        })
    }

    fn upstream_path(
        &self,
        stage: &Stage,
        ctx: &RequestCtx,
        headers: &HeaderMap,
    ) -> Result<PathAndQuery, GatewayError> {
        let mut pq = String::with_capacity(ctx.path().len() + 32);
        let overwritten = self.mappings.path(ctx);
        if let Some(p) = &overwritten {
            pq.push_str(p);
        }
        for part in self.parts.iter().filter(|_| overwritten.is_none()) {
            match part {
                Part::Literal(s) => pq.push_str(s),
                Part::Param {
                    name,
                    greedy,
                    in_query,
                } => {
                    let value = ctx.path_param(name).unwrap_or("");
                    push_param(&mut pq, value, *greedy, *in_query);
                }
            }
        }
        let mut sep = if self.template_has_query && overwritten.is_none() {
            '&'
        } else {
            '?'
        };
        if let Some(q) = ctx.query().filter(|q| !q.is_empty()) {
            if self.mappings.is_empty() {
                pq.push(sep);
                pq.push_str(q);
                sep = '&';
            } else {
                // Mapped parameters replace the client's of the same name.
                for pair in q.split('&').filter(|p| !p.is_empty()) {
                    let name = pair.split_once('=').map_or(pair, |(k, _)| k);
                    let decoded = form_urlencoded::parse(name.as_bytes())
                        .next()
                        .map(|(k, _)| k.into_owned())
                        .unwrap_or_default();
                    if self.mappings.maps_query(&decoded) {
                        continue;
                    }
                    pq.push(sep);
                    pq.push_str(pair);
                    sep = '&';
                }
            }
        }
        if !self.mappings.is_empty() {
            let mut extra = String::new();
            self.mappings.apply_query(stage, ctx, headers, &mut extra);
            if !extra.is_empty() {
                pq.push(sep);
                pq.push_str(&extra);
            }
        }
        PathAndQuery::try_from(pq).map_err(|e| {
            GatewayError::new(ErrorKind::MalformedRequest, format!("upstream path: {e}"))
        })
    }

    /// Proxies the request and returns the upstream's response, body streaming.
    pub async fn call(
        &self,
        stage: &Stage,
        max_body_size: u64,
        req: Request<Inbound>,
        ctx: &mut RequestCtx,
    ) -> Result<Response<ResponseBody>, GatewayError> {
        let (parts, body) = req.into_parts();
        let path = self.upstream_path(stage, ctx, &parts.headers)?;
        let mut headers = parts.headers;
        // Mapping sources read the client's headers as sent, before any rewriting.
        let original = (!self.mappings.is_empty()).then(|| headers.clone());
        strip_hop_by_hop(&mut headers);
        let original_host = headers.remove(HOST);
        headers.insert(HOST, self.host.clone());
        let client_ip = ctx.source_ip.to_string();
        let xff = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(prev) if !prev.is_empty() => format!("{prev}, {client_ip}"),
            _ => client_ip,
        };
        if let Ok(v) = HeaderValue::from_str(&xff) {
            headers.insert(X_FORWARDED_FOR, v);
        }
        headers.insert(
            X_FORWARDED_PROTO,
            HeaderValue::from_static(if ctx.tls { "https" } else { "http" }),
        );
        if let Some(h) = original_host.or_else(|| ctx.host_header().cloned()) {
            headers.insert(X_FORWARDED_HOST, h);
        }
        if let Some(original) = &original {
            self.mappings
                .apply_headers(stage, ctx, original, &mut headers);
        }

        let meter = Arc::new(BodyMeter::default());
        let body = RequestBody::new(body, max_body_size, meter.clone());
        ctx.body_meter = Some(meter.clone());
        let timed_out = || {
            GatewayError::new(
                ErrorKind::UpstreamTimeout,
                format!(
                    "no response from {} within {:?}",
                    self.authority, self.timeout
                ),
            )
        };
        let overrun = || {
            meter.overrun.load(Ordering::Relaxed).then(|| {
                GatewayError::new(
                    ErrorKind::BodyTooLarge,
                    "request body exceeded the limit while streaming",
                )
            })
        };

        if let Some(pool) = &self.h1 {
            let sent = tokio::time::timeout(
                self.timeout,
                pool.send(&parts.method, path.as_str(), &headers, body),
            )
            .await;
            let response = match sent {
                Err(_) => return Err(timed_out()),
                Ok(Err(e)) => {
                    if let Some(e) = overrun() {
                        return Err(e);
                    }
                    let kind = match e {
                        H1Error::Connect(_) | H1Error::Io(_) => ErrorKind::UpstreamUnavailable,
                        H1Error::Protocol(_) => ErrorKind::UpstreamProtocol,
                        H1Error::Body(_) => ErrorKind::MalformedRequest,
                    };
                    return Err(GatewayError::new(
                        kind,
                        format!("upstream {}: {e}", self.authority),
                    ));
                }
                Ok(Ok(r)) => r,
            };
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            return Ok(Response::from_parts(
                parts,
                ResponseBody::H1(body, Idle::new(self.timeout)),
            ));
        }

        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|e| GatewayError::new(ErrorKind::Internal, format!("upstream uri: {e}")))?;
        let mut upstream_req = Request::new(body);
        *upstream_req.method_mut() = parts.method;
        *upstream_req.uri_mut() = uri;
        *upstream_req.version_mut() = Version::HTTP_11;
        *upstream_req.headers_mut() = headers;
        let result = tokio::time::timeout(self.timeout, self.client.request(upstream_req)).await;
        let response = match result {
            Err(_) => return Err(timed_out()),
            Ok(Err(e)) => {
                if let Some(e) = overrun() {
                    return Err(e);
                }
                let kind = if e.is_connect() {
                    ErrorKind::UpstreamUnavailable
                } else {
                    ErrorKind::UpstreamProtocol
                };
                return Err(GatewayError::new(
                    kind,
                    format!("upstream {}: {}", self.authority, error_chain(&e)),
                ));
            }
            Ok(Ok(r)) => r,
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(
            parts,
            ResponseBody::Upstream(body, Idle::new(self.timeout)),
        ))
    }
}

/// Appends a path parameter's decoded value to an upstream path: in the query, encoded as a
/// query component; a greedy value segment by segment (its `/` are the request's own
/// separators: a canonical path has no decoded `/` in a segment); any other value as one
/// segment.
pub fn push_param(pq: &mut String, value: &str, greedy: bool, in_query: bool) {
    if in_query {
        pq.extend(utf8_percent_encode(value, QUERY_COMPONENT));
    } else if greedy {
        for (i, seg) in value.split('/').enumerate() {
            if i > 0 {
                pq.push('/');
            }
            pq.extend(utf8_percent_encode(seg, SEGMENT));
        }
    } else {
        pq.extend(utf8_percent_encode(value, SEGMENT));
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    // Pre-built names: no parsing per request.
    for name in &HOP_BY_HOP {
        if headers.contains_key(name) {
            headers.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-private"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("x-kept", HeaderValue::from_static("yes"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "yes");
    }
}
