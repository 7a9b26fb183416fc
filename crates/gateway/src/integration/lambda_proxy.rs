//! The `aws_proxy` integration: the request becomes API Gateway's proxy event, a local
//! function answers through the Lambda Runtime API, and its answer becomes the response.
//!
//! ```text
//! body (whole, up to listener.max_body_size) -> event (REST, HTTP 1.0 or 2.0)
//!   -> invoke within `timeout`  --late--> 504 Endpoint request timed out
//!   -> function error, crash    --------> REST 502 Internal server error / HTTP 500
//!   -> map the answer           --bad---> REST 502 Internal server error / HTTP 500
//!   -> status, headers, body
//! ```
//!
//! The event and the mapping are [`crate::lambda::proxy`]'s; this module reads the body, finds
//! what the event needs in the request context, and invokes.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use portcullis_config::{ApiKind, AwsProxyConfig, PayloadFormat};
use portcullis_core::{ErrorKind, GatewayError};

use crate::body::{BufferError, Inbound, ResponseBody};
use crate::context::RequestCtx;
use crate::lambda::Invoker;
use crate::lambda::proxy::{self, AuthorizerData, ProxyInput};
use crate::stage::Stage;

/// A compiled Lambda proxy integration.
#[derive(Debug)]
pub struct LambdaProxy {
    /// The function's name.
    pub function: String,
    /// Event and answer format.
    pub format: PayloadFormat,
    /// The API's type (how failures answer).
    pub kind: ApiKind,
    /// Time allowed for the answer.
    pub timeout: Duration,
    /// The API's binary media types.
    pub binary_media_types: Arc<[String]>,
    /// The resource template, e.g. `/pets/{id}`.
    pub resource: Arc<str>,
    /// The route's method as configured (`ANY` included).
    pub route_method: Arc<str>,
    /// The function's workers, attached once the plan's functions started.
    invoker: OnceLock<Invoker>,
}

impl LambdaProxy {
    /// Compiles the integration of `route_method` on `resource` in an API of `kind`.
    pub fn compile(
        c: &AwsProxyConfig,
        kind: ApiKind,
        binary_media_types: Arc<[String]>,
        resource: &str,
        route_method: &str,
    ) -> Result<Self, String> {
        let format = match (kind, c.payload) {
            (ApiKind::Rest, None) => PayloadFormat::Rest,
            (ApiKind::Rest, Some(_)) => {
                return Err(
                    "`payload_format_version` is for HTTP APIs; a REST API's Lambda proxy event has one format"
                        .into(),
                );
            }
            (ApiKind::Http, None) => PayloadFormat::Http2,
            (ApiKind::Http, Some(f)) => f,
        };
        Ok(Self {
            function: c.function.clone(),
            format,
            kind,
            timeout: c.timeout,
            binary_media_types,
            resource: Arc::from(resource),
            route_method: Arc::from(route_method),
            invoker: OnceLock::new(),
        })
    }

    /// Gives the integration its function's workers (once).
    pub fn attach(&self, invoker: Invoker) {
        let _ = self.invoker.set(invoker);
    }

    /// A failure of the function or of its answer: REST `502`, HTTP API `500`.
    fn failed(&self, detail: String) -> GatewayError {
        let kind = match self.kind {
            ApiKind::Rest => ErrorKind::UpstreamProtocol,
            ApiKind::Http => ErrorKind::HttpApiIntegration,
        };
        GatewayError::new(kind, detail)
    }

    /// Serves the request.
    pub async fn call(
        &self,
        stage: &Stage,
        max_body_size: u64,
        req: Request<Inbound>,
        ctx: &mut RequestCtx,
    ) -> Result<Response<ResponseBody>, GatewayError> {
        let (head, mut body) = req.into_parts();
        let want = usize::try_from(max_body_size).unwrap_or(usize::MAX);
        let read = body
            .buffer(want, max_body_size)
            .await
            .map_err(|e| match e {
                BufferError::TooLarge => {
                    GatewayError::new(ErrorKind::BodyTooLarge, "request body over max_body_size")
                }
                BufferError::Client(why) => GatewayError::new(
                    ErrorKind::MalformedRequest,
                    format!("request body unreadable: {why}"),
                ),
            })?;
        if !read.complete {
            return Err(GatewayError::new(
                ErrorKind::BodyTooLarge,
                "request body over max_body_size",
            ));
        }
        let meter = Arc::new(crate::body::BodyMeter::default());
        meter.bytes.store(
            u64::try_from(read.bytes.len()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        ctx.body_meter = Some(meter);
        let principal = ctx.authorizer.clone();
        let lambda_context: Vec<(String, String)>;
        let claims: serde_json::Value;
        let authorizer = match &principal {
            None => AuthorizerData::None,
            Some(p) if p.alg.is_none() => {
                lambda_context = p
                    .context
                    .iter()
                    .filter(|(k, _)| k != "principalId")
                    .cloned()
                    .collect();
                AuthorizerData::Lambda {
                    principal_id: &p.sub,
                    context: &lambda_context,
                    latency_ms: 0,
                }
            }
            Some(p) => {
                claims = serde_json::Value::Object(p.claims.clone());
                AuthorizerData::Jwt {
                    claims: &claims,
                    scopes: &p.scopes,
                }
            }
        };
        let input = ProxyInput {
            api: &stage.identity,
            method: head.method.as_str(),
            route_method: &self.route_method,
            raw_path: ctx.path(),
            path: ctx.api_path(),
            query: ctx.query(),
            headers: &head.headers,
            resource: &self.resource,
            path_params: &ctx.path_params,
            stage_variables: &stage.variables,
            request_id: ctx.request_id.as_str(),
            epoch_ms: ctx.epoch_ms,
            source_ip: ctx.source_ip,
            protocol: ctx.protocol(),
            body: read.bytes,
            binary_media_types: &self.binary_media_types,
            authorizer,
            api_key: ctx.api_key.as_deref(),
        };
        let event = proxy::event(self.format, &input);
        let event = Bytes::from(serde_json::to_vec(&event).map_err(|e| {
            GatewayError::new(ErrorKind::Internal, format!("event not serialised: {e}"))
        })?);
        if event.len() > crate::lambda::runtime::MAX_REQUEST {
            return Err(GatewayError::new(
                ErrorKind::BodyTooLarge,
                format!(
                    "the proxy event is {} bytes, over Lambda's request limit",
                    event.len()
                ),
            ));
        }
        let Some(invoker) = self.invoker.get() else {
            return Err(self.failed(format!("function `{}` is not running", self.function)));
        };
        let answer = match tokio::time::timeout(
            self.timeout,
            invoker.invoke(event, ctx.request_id.as_str()),
        )
        .await
        {
            Err(_) => {
                return Err(GatewayError::new(
                    ErrorKind::UpstreamTimeout,
                    format!(
                        "function `{}` did not answer within {:?}",
                        self.function, self.timeout
                    ),
                ));
            }
            Ok(Err(crate::lambda::runtime::InvokeError::Function { error_type, .. })) => {
                // The message may hold anything the function saw: only its type is logged.
                // Escaped and cut: a function cannot forge log lines with it.
                let error_type: String = error_type
                    .chars()
                    .take(128)
                    .flat_map(char::escape_default)
                    .collect();
                return Err(
                    self.failed(format!("function `{}` failed: {error_type}", self.function))
                );
            }
            Ok(Err(crate::lambda::runtime::InvokeError::Failed(why))) => {
                return Err(self.failed(format!("function `{}`: {why}", self.function)));
            }
            Ok(Ok(answer)) => answer,
        };
        let accept = head
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let mapped = proxy::map_response(&answer, self.format, &self.binary_media_types, accept)
            .map_err(|m| self.failed(format!("function `{}`: {m}", self.function)))?;
        let mut response = Response::new(ResponseBody::full(mapped.body));
        *response.status_mut() = mapped.status;
        *response.headers_mut() = mapped.headers;
        Ok(response)
    }
}
