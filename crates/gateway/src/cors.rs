//! An HTTP API's CORS configuration, as API Gateway applies it: preflight `OPTIONS` requests
//! are answered by the gateway (before any route, authorizer or integration), and every
//! response to an allowed origin gets the configured CORS headers, replacing any the
//! integration sent.
//!
//! ```text
//! OPTIONS + Origin + Access-Control-Request-Method  -> 204 with the allow-* headers
//!                                                      (none when the origin is not allowed)
//! any other request with an allowed Origin           -> response + allow-origin, expose,
//!                                                      credentials, Vary: Origin
//! ```

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, HeaderMap, HeaderValue, ORIGIN,
    VARY,
};
use http::{Method, Response, StatusCode};
use portcullis_config::CorsConfig;

use crate::body::ResponseBody;

/// A compiled CORS configuration.
#[derive(Debug)]
pub struct Cors {
    any_origin: bool,
    origins: Vec<String>,
    methods: Option<HeaderValue>,
    headers: Option<HeaderValue>,
    any_header: bool,
    expose: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
    credentials: bool,
}

fn joined(list: &[String]) -> Option<HeaderValue> {
    (!list.is_empty())
        .then(|| HeaderValue::from_str(&list.join(",")).ok())
        .flatten()
}

impl Cors {
    /// Compiles the configuration (checked by the loader).
    pub fn compile(c: &CorsConfig) -> Self {
        Self {
            any_origin: c.allow_origins.iter().any(|o| o == "*"),
            origins: c.allow_origins.clone(),
            methods: joined(&c.allow_methods),
            headers: joined(&c.allow_headers),
            any_header: c.allow_headers.iter().any(|h| h == "*"),
            expose: joined(&c.expose_headers),
            max_age: c.max_age.map(HeaderValue::from),
            credentials: c.allow_credentials,
        }
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed: the origin
    /// itself (`*` when any origin is allowed and no credentials are).
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if self.any_origin && !self.credentials {
            return Some(HeaderValue::from_static("*"));
        }
        let text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(text))
            .then(|| origin.clone())
    }

    /// Whether `method` and `headers` make a preflight request.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(ORIGIN)
            && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight request: `204`, with the allow-* headers when the origin
    /// is allowed.
    pub fn preflight(&self, headers: &HeaderMap) -> Response<ResponseBody> {
        let mut r = Response::new(ResponseBody::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        if !self.any_origin || self.credentials {
            r.headers_mut()
                .append(VARY, HeaderValue::from_static("Origin"));
        }
        let Some(origin) = headers.get(ORIGIN).and_then(|o| self.allow_origin(o)) else {
            return r;
        };
        let h = r.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Some(m) = &self.methods {
            h.insert(ACCESS_CONTROL_ALLOW_METHODS, m.clone());
        }
        // `*` allows what the browser asks for (with credentials, `*` is not a wildcard to
        // browsers, so the request's own list is echoed).
        let allowed_headers = if self.any_header {
            headers.get(ACCESS_CONTROL_REQUEST_HEADERS).cloned()
        } else {
            self.headers.clone()
        };
        if let Some(v) = allowed_headers {
            h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if let Some(v) = &self.max_age {
            h.insert(ACCESS_CONTROL_MAX_AGE, v.clone());
        }
        if self.credentials {
            h.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        r
    }

    /// Puts the CORS headers on a response to a request from `origin`, replacing any the
    /// integration set.
    pub fn decorate(&self, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
        for name in [
            ACCESS_CONTROL_ALLOW_ORIGIN,
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            ACCESS_CONTROL_EXPOSE_HEADERS,
            ACCESS_CONTROL_ALLOW_METHODS,
            ACCESS_CONTROL_ALLOW_HEADERS,
            ACCESS_CONTROL_MAX_AGE,
        ] {
            out.remove(name);
        }
        // The answer depends on the Origin whenever origins are listed: say so to caches,
        // allowed or not, so that a stored answer is not served to another origin.
        if !self.any_origin || self.credentials {
            out.append(VARY, HeaderValue::from_static("Origin"));
        }
        let Some(allowed) = origin.and_then(|o| self.allow_origin(o)) else {
            return;
        };
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if let Some(v) = &self.expose {
            out.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v.clone());
        }
        if self.credentials {
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}
