//! Integrations: what finally answers a routed request.
//!
//! Stage: last in the pipeline. Each integration is compiled from config once per plan;
//! upstream connection pools live in [`clients::UpstreamClients`], outside the plan, so a
//! reload keeps warm connections.

pub mod clients;
pub mod http_proxy;
pub mod lambda_proxy;
pub mod mapping;
pub mod mock;

use crate::body::Inbound;
use http::Request;
use portcullis_core::GatewayError;

use crate::stage::Stage;

use crate::body::ResponseBody;
use crate::context::RequestCtx;

/// A compiled integration.
#[derive(Debug)]
pub enum Integration {
    /// A fixed response.
    Mock(mock::Mock),
    /// A reverse proxy.
    HttpProxy(Box<http_proxy::HttpProxy>),
    /// A Lambda proxy integration.
    Lambda(std::sync::Arc<lambda_proxy::LambdaProxy>),
}

impl Integration {
    /// Serves the request.
    pub async fn call(
        &self,
        stage: &Stage,
        max_body_size: u64,
        req: Request<Inbound>,
        ctx: &mut RequestCtx,
    ) -> Result<http::Response<ResponseBody>, GatewayError> {
        match self {
            Self::Mock(m) => Ok(m.call()),
            Self::HttpProxy(p) => p.call(stage, max_body_size, req, ctx).await,
            Self::Lambda(l) => l.call(stage, max_body_size, req, ctx).await,
        }
    }
}
