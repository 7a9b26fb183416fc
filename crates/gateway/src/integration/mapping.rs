//! Parameter mapping: context values into the integration request's headers and query.
//!
//! API Gateway's `integration.request.header.X-Request-Id: context.requestId`. Compiled from
//! config; resolving a source is a lookup in the request context. A source with no value
//! (an absent header, an authorizer key not set) leaves the target out.

use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use portcullis_config::{MappingOp, MappingSource, MappingTarget, ParameterMapping};

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
    headers: Vec<(HeaderName, MappingOp, MappingSource)>,
    query: Vec<(String, MappingOp, MappingSource)>,
    path: Option<MappingSource>,
}

impl Mappings {
    /// Compiles the configured mappings.
    pub fn compile(list: &[ParameterMapping]) -> Result<Self, String> {
        let mut headers = Vec::new();
        let mut query = Vec::new();
        let mut path = None;
        for m in list {
            match &m.target {
                MappingTarget::Header(h) => {
                    let name = HeaderName::from_bytes(h.as_bytes())
                        .map_err(|e| format!("header `{h}`: {e}"))?;
                    headers.push((name, m.op, m.source.clone()));
                }
                MappingTarget::Query(q) => query.push((q.clone(), m.op, m.source.clone())),
                MappingTarget::Path => path = Some(m.source.clone()),
            }
        }
        Ok(Self {
            headers,
            query,
            path,
        })
    }

    /// Whether there is nothing to map.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.query.is_empty() && self.path.is_none()
    }

    /// Applies the header mappings to `out`. Overwrite: replaces same-named headers; a
    /// value that does not resolve (an authorizer key not set) removes the header, so that
    /// a client cannot supply it. Append: adds a value. Remove: drops the header.
    pub fn apply_headers(
        &self,
        stage: &Stage,
        ctx: &RequestCtx,
        incoming: &HeaderMap,
        out: &mut HeaderMap,
    ) {
        for (name, op, source) in &self.headers {
            let value = || {
                resolve(stage, ctx, incoming, source).and_then(|v| HeaderValue::from_str(&v).ok())
            };
            match op {
                MappingOp::Overwrite => match value() {
                    Some(v) => {
                        out.insert(name.clone(), v);
                    }
                    None => {
                        out.remove(name);
                    }
                },
                MappingOp::Append => {
                    if let Some(v) = value() {
                        out.append(name.clone(), v);
                    }
                }
                MappingOp::Remove => {
                    out.remove(name);
                }
            }
        }
    }

    /// Whether `name` (decoded) is overwritten or removed by a query mapping: the client's
    /// own parameters of that name are not forwarded.
    pub fn maps_query(&self, name: &str) -> bool {
        self.query
            .iter()
            .any(|(n, op, _)| n == name && *op != MappingOp::Append)
    }

    /// Appends the overwritten and appended query parameters to `query` (a query string
    /// without `?`).
    pub fn apply_query(
        &self,
        stage: &Stage,
        ctx: &RequestCtx,
        incoming: &HeaderMap,
        query: &mut String,
    ) {
        for (name, op, source) in &self.query {
            if *op == MappingOp::Remove {
                continue;
            }
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

    /// HTTP APIs' `overwrite:path`: the upstream path instead of the template's, already
    /// encoded. `None`: no such mapping, or it resolved to nothing.
    pub fn path(&self, ctx: &RequestCtx) -> Option<String> {
        Some(match self.path.as_ref()? {
            // Checked at load: a canonical path.
            MappingSource::Literal(p) => p.clone(),
            // The request's own canonical path, as the API sees it.
            MappingSource::RequestPath => ctx.api_path().to_owned(),
            // A decoded parameter: re-encoded segment by segment, as a greedy parameter
            // is in a URI template.
            MappingSource::PathParam(name) => {
                let mut out = String::from("/");
                crate::integration::http_proxy::push_param(
                    &mut out,
                    ctx.path_param(name)?,
                    true,
                    false,
                );
                out
            }
            _ => return None,
        })
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
        MappingSource::RequestPath => Some(ctx.api_path().to_owned()),
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
