//! The `mock` integration: a fixed status, headers and body.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use portcullis_config::MockConfig;

use crate::body::ResponseBody;

/// A compiled mock response.
#[derive(Debug)]
pub struct Mock {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Mock {
    /// Compiles the config; names and values were validated by the loader.
    pub fn compile(c: &MockConfig) -> Result<Self, String> {
        let status = StatusCode::from_u16(c.status).map_err(|e| e.to_string())?;
        let mut headers = HeaderMap::new();
        for (k, v) in &c.headers {
            let name =
                HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header `{k}`: {e}"))?;
            let value = HeaderValue::from_str(v).map_err(|e| format!("header `{k}`: {e}"))?;
            headers.append(name, value);
        }
        Ok(Self {
            status,
            headers,
            body: Bytes::from(c.body.clone()),
        })
    }

    /// The response.
    pub fn call(&self) -> Response<ResponseBody> {
        let mut r = Response::new(ResponseBody::full(self.body.clone()));
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers.clone();
        r
    }
}
