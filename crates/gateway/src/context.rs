//! The per-request context: what later stages, parameter mappings, gateway-response
//! templates and the access log know about a request.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method, Version};
use portcullis_config::ContextVar;
use portcullis_core::{ApiIdentity, CanonicalPath};
pub use portcullis_core::{RequestId, new_request_id};

use crate::body::BodyMeter;

/// Everything known about one request as it moves through the pipeline.
#[derive(Debug)]
pub struct RequestCtx {
    /// `x-amzn-RequestId`, a random UUID.
    pub request_id: RequestId,
    /// When the request head was received.
    pub start: Instant,
    /// Wall-clock time of arrival, milliseconds since the Unix epoch.
    pub epoch_ms: u64,
    /// Request method.
    pub method: Method,
    /// The request target (path and query share the request's buffer: no copy).
    uri: http::Uri,
    /// HTTP version.
    pub version: Version,
    /// Client address.
    pub source_ip: IpAddr,
    user_agent: Option<HeaderValue>,
    host: Option<HeaderValue>,
    /// Whether the client connected with TLS.
    pub tls: bool,
    /// The API and stage the request is for, once selected.
    pub scope: Option<crate::select::Scope>,
    /// Whether the response is the gateway's answer to a CORS preflight (its CORS headers
    /// are complete).
    pub preflight: bool,
    /// Bytes at the start of the path that chose the API (base path, stage): the API sees
    /// the rest.
    pub path_offset: usize,
    /// The matched resource template, once routed.
    pub resource: Option<Arc<str>>,
    /// Decoded path parameters, once routed.
    pub path_params: Vec<(Arc<str>, String)>,
    /// The authenticated caller (`context.authorizer.*`), if any.
    pub authorizer: Option<Arc<crate::principal::Principal>>,
    /// The authorization decision, for the debug header when it is enabled.
    pub decision: Option<String>,
    /// Meter of the request body, when it was streamed upstream.
    pub body_meter: Option<Arc<BodyMeter>>,
    /// Metric handles of the matched route.
    pub metrics: Option<Arc<crate::telemetry::RouteMetrics>>,
    /// What the web ACL said, when a rule matched or it blocked (for the access log).
    pub waf: Option<Box<crate::firewall::WafRecord>>,
    /// Headers the web ACL adds to the request for the upstream (`x-amzn-waf-*`).
    pub waf_headers: Vec<(http::HeaderName, HeaderValue)>,
    /// The API key the request was metered by, once checked (`identity.apiKey` and
    /// `identity.apiKeyId` for integrations; only the id is logged).
    pub api_key: Option<Box<ApiKeyUse>>,
}

/// An API key a request was metered by.
#[derive(Clone)]
pub struct ApiKeyUse {
    /// The key's id.
    pub id: String,
    /// Its value, for the integration (never logged).
    pub value: String,
}

impl std::fmt::Debug for ApiKeyUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyUse")
            .field("id", &self.id)
            .field("value", &"***")
            .finish()
    }
}

impl RequestCtx {
    /// A context for a request that just arrived.
    pub fn new(
        method: Method,
        uri: &http::Uri,
        version: Version,
        headers: &HeaderMap,
        source_ip: IpAddr,
        tls: bool,
    ) -> Self {
        let host = headers.get(http::header::HOST).cloned().or_else(|| {
            uri.authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        Self {
            request_id: new_request_id(),
            start: Instant::now(),
            epoch_ms: epoch_ms(),
            method,
            uri: uri.clone(),
            version,
            source_ip,
            user_agent: headers.get(http::header::USER_AGENT).cloned(),
            host,
            tls,
            scope: None,
            path_offset: 0,
            preflight: false,
            resource: None,
            path_params: Vec::new(),
            authorizer: None,
            decision: None,
            body_meter: None,
            metrics: None,
            waf: None,
            waf_headers: Vec::new(),
            api_key: None,
        }
    }

    /// Raw request path (percent-encoded, without the query).
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The path as the API sees it: without the base path and stage that chose the API.
    pub fn api_path(&self) -> &str {
        match self.path().get(self.path_offset..) {
            Some(p) if p.starts_with('/') => p,
            _ => "/",
        }
    }

    /// Raw query string, if any. Never logged.
    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    /// `User-Agent`, if sent and printable.
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_ref().and_then(|v| v.to_str().ok())
    }

    /// `Host` (or `:authority`), if sent and printable.
    pub fn host(&self) -> Option<&str> {
        self.host.as_ref().and_then(|v| v.to_str().ok())
    }

    /// The `Host` header value as received.
    pub fn host_header(&self) -> Option<&HeaderValue> {
        self.host.as_ref()
    }

    /// The request path as the pipeline checked it; `None` for a path it refuses (such a
    /// request never reaches a stage that asks).
    pub fn canonical_path(&self) -> Option<CanonicalPath<'_>> {
        CanonicalPath::parse(self.path()).ok()
    }

    /// A path parameter's decoded value.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The protocol as API Gateway writes it, e.g. `HTTP/1.1`.
    pub fn protocol(&self) -> &'static str {
        match self.version {
            Version::HTTP_09 => "HTTP/0.9",
            Version::HTTP_10 => "HTTP/1.0",
            Version::HTTP_2 => "HTTP/2.0",
            Version::HTTP_3 => "HTTP/3.0",
            _ => "HTTP/1.1",
        }
    }

    /// The value of a `$context.X` variable.
    pub fn var(&self, api: &ApiIdentity, var: ContextVar) -> Option<String> {
        Some(match var {
            ContextVar::RequestId => self.request_id.to_string(),
            ContextVar::ResourcePath => self.resource.as_deref()?.to_owned(),
            ContextVar::Path => self.path().to_owned(),
            ContextVar::HttpMethod => self.method.as_str().to_owned(),
            ContextVar::Stage => api.stage.clone(),
            ContextVar::ApiId => api.api_id.clone(),
            ContextVar::AccountId => api.account.clone(),
            ContextVar::SourceIp => self.source_ip.to_string(),
            ContextVar::UserAgent => self.user_agent()?.to_owned(),
            ContextVar::RequestTimeEpoch => self.epoch_ms.to_string(),
            ContextVar::Protocol => self.protocol().to_owned(),
            ContextVar::DomainName => self.host()?.to_owned(),
        })
    }
}

/// Wall-clock time now, milliseconds since the Unix epoch.
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_uuids() {
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_eq!(id.as_bytes()[8], b'-');
        assert_eq!(id.as_bytes()[23], b'-');
        assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
        assert_ne!(id, new_request_id());
    }
}
