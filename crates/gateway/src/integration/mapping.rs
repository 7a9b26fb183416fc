//! Parameter mapping: context values into the integration request's headers and query.
//!
//! API Gateway's `integration.request.header.X-Request-Id: context.requestId`. Compiled from
//! config; resolving a source is a lookup in the request context. A source with no value
//! (an absent header, an authorizer key not set) leaves the target out.

use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use portcullis_config::{MappingSource, MappingTarget, ParameterMapping};

use crate::stage::Stage;

use crate::context::RequestCtx;

/// Characters left as they are in a query component (RFC 3986 unreserved).
pub const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A compiled mapping.
#[derive(Debug)]
pub struct Mappings {
    headers: Vec<(HeaderName, MappingSource)>,
    query: Vec<(String, MappingSource)>,
}

impl Mappings {
    /// Compiles the configured mappings.
    pub fn compile(list: &[ParameterMapping]) -> Result<Self, String> {
        let mut headers = Vec::new();
        let mut query = Vec::new();
        for m in list {
            match &m.target {
                MappingTarget::Header(h) => {
                    let name = HeaderName::from_bytes(h.as_bytes())
                        .map_err(|e| format!("header `{h}`: {e}"))?;
                    headers.push((name, m.source.clone()));
                }
                MappingTarget::Query(q) => query.push((q.clone(), m.source.clone())),
            }
        }
        Ok(Self { headers, query })
    }

    /// Whether there is nothing to map.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.query.is_empty()
    }

    /// Sets mapped headers on `out`, replacing same-named ones. A mapped header whose value
    /// does not resolve (an authorizer key not set) is removed, so that a client cannot
    /// supply it.
    pub fn apply_headers(
        &self,
        stage: &Stage,
        ctx: &RequestCtx,
        incoming: &HeaderMap,
        out: &mut HeaderMap,
    ) {
        for (name, source) in &self.headers {
            match resolve(stage, ctx, incoming, source).and_then(|v| HeaderValue::from_str(&v).ok())
            {
                Some(v) => {
                    out.insert(name.clone(), v);
                }
                None => {
                    out.remove(name);
                }
            }
        }
    }

    /// Whether `name` (decoded) is the target of a query mapping: the client's own
    /// parameters of that name are not forwarded.
    pub fn maps_query(&self, name: &str) -> bool {
        self.query.iter().any(|(n, _)| n == name)
    }

    /// Appends mapped query parameters to `query` (a query string without `?`).
    pub fn apply_query(
        &self,
        stage: &Stage,
        ctx: &RequestCtx,
        incoming: &HeaderMap,
        query: &mut String,
    ) {
        for (name, source) in &self.query {
            if let Some(v) = resolve(stage, ctx, incoming, source) {
                if !query.is_empty() {
                    query.push('&');
                }
                query.extend(utf8_percent_encode(name, QUERY_COMPONENT));
                query.push('=');
                query.extend(utf8_percent_encode(&v, QUERY_COMPONENT));
            }
        }
    }
}

fn resolve(
    stage: &Stage,
    ctx: &RequestCtx,
    incoming: &HeaderMap,
    source: &MappingSource,
) -> Option<String> {
    match source {
        MappingSource::Literal(s) => Some(s.clone()),
        MappingSource::Context(v) => ctx.var(&stage.identity, *v),
        MappingSource::StageVariable(name) => stage.variable(name).map(str::to_owned),
        MappingSource::Authorizer(key) => ctx
            .authorizer
            .as_ref()
            .and_then(|p| p.context_value(key))
            .map(str::to_owned),
        MappingSource::PathParam(name) => ctx.path_param(name).map(str::to_owned),
        MappingSource::QueryParam(name) => ctx.query().and_then(|q| query_value(q, name)),
        MappingSource::Header(name) => incoming
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// The first value of `name` in a query string, form-decoded.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k) == name).then(|| form_decode(v))
    })
}

fn form_decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(query_value("a=1&b=x+y%21&c", "b").as_deref(), Some("x y!"));
        assert_eq!(query_value("a=1&c", "c").as_deref(), Some(""));
        assert_eq!(query_value("a=1", "z"), None);
    }
}
