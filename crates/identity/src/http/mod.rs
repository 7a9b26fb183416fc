//! The user pool's HTTP endpoints: JSON login, refresh and logout, the Cognito-compatible
//! API ([`cognito`]), the OAuth 2.0 token and OIDC userInfo endpoints ([`oauth`]), the JWKS
//! and the OIDC discovery document.
//!
//! The gateway answers these on its own listener before route lookup, so these paths never
//! reach an integration. Bodies are read whole but bounded (16 KiB); token responses carry
//! `Cache-Control: no-store`. Failures are [`GatewayError`]s, mapped to responses by the
//! gateway like any other: a failed login is `401 {"message":"Incorrect username or
//! password."}` whatever the reason, and the reason is never logged with the credentials.
//! The Cognito and OAuth endpoints answer in their own protocols' error shapes.

pub mod cognito;
pub mod oauth;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, PRAGMA};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use portcullis_core::{
    ErrorKind, GatewayError, ResponseType, WELL_KNOWN_DISCOVERY, WELL_KNOWN_JWKS,
};
use serde::Deserialize;
use serde_json::json;

use crate::service::{AuthError, ClientProof, IdentityService, Session};

/// Boxed error of a request body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Largest request body the identity endpoints read.
const MAX_BODY: usize = 16 * 1024;

/// Which endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST` login.
    Login,
    /// `POST` refresh.
    Refresh,
    /// `POST` logout.
    Logout,
    /// `POST` Cognito-compatible API.
    Cognito,
    /// `POST` OAuth 2.0 token endpoint.
    Token,
    /// `GET` or `POST` OIDC userInfo.
    UserInfo,
    /// `GET /.well-known/jwks.json`
    Jwks,
    /// `GET /.well-known/openid-configuration`
    Discovery,
}

/// Where the endpoints are (the well-known documents are always at their well-known paths).
#[derive(Debug, Clone)]
pub struct Paths {
    /// JSON login.
    pub login: String,
    /// JSON refresh.
    pub refresh: String,
    /// JSON logout.
    pub logout: String,
    /// The Cognito-compatible API.
    pub cognito: String,
    /// OAuth 2.0 token endpoint.
    pub token: String,
    /// OIDC userInfo.
    pub userinfo: String,
}

impl Paths {
    /// Every endpoint with its path.
    pub fn all(&self) -> [(Endpoint, &str); 8] {
        [
            (Endpoint::Login, self.login.as_str()),
            (Endpoint::Refresh, self.refresh.as_str()),
            (Endpoint::Logout, self.logout.as_str()),
            (Endpoint::Cognito, self.cognito.as_str()),
            (Endpoint::Token, self.token.as_str()),
            (Endpoint::UserInfo, self.userinfo.as_str()),
            (Endpoint::Jwks, WELL_KNOWN_JWKS),
            (Endpoint::Discovery, WELL_KNOWN_DISCOVERY),
        ]
    }
}

/// The endpoints and the service behind them.
#[derive(Debug)]
pub struct Endpoints {
    service: Arc<IdentityService>,
    paths: Paths,
}

impl Endpoints {
    /// The endpoints of `service` at `paths`.
    pub fn new(service: Arc<IdentityService>, paths: Paths) -> Self {
        Self { service, paths }
    }

    /// The service.
    pub fn service(&self) -> &Arc<IdentityService> {
        &self.service
    }

    /// Where the endpoints are.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The endpoint for this method and path, if any. Other methods on these paths fall
    /// through to routing (and so answer 403 Missing Authentication Token).
    pub fn matches(&self, method: &Method, path: &str) -> Option<Endpoint> {
        if *method == Method::POST {
            if path == self.paths.login {
                return Some(Endpoint::Login);
            }
            if path == self.paths.refresh {
                return Some(Endpoint::Refresh);
            }
            if path == self.paths.logout {
                return Some(Endpoint::Logout);
            }
            if path == self.paths.cognito {
                return Some(Endpoint::Cognito);
            }
            if path == self.paths.token {
                return Some(Endpoint::Token);
            }
        }
        if (*method == Method::GET || *method == Method::POST) && path == self.paths.userinfo {
            return Some(Endpoint::UserInfo);
        }
        if *method == Method::GET || *method == Method::HEAD {
            match path {
                WELL_KNOWN_JWKS => return Some(Endpoint::Jwks),
                WELL_KNOWN_DISCOVERY => return Some(Endpoint::Discovery),
                _ => {}
            }
        }
        None
    }

    /// Serves one identity request.
    pub async fn handle<B>(
        &self,
        endpoint: Endpoint,
        req: Request<B>,
        source: std::net::IpAddr,
    ) -> Result<Response<Bytes>, GatewayError>
    where
        B: Body<Data = Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        let now = crate::store::now();
        match endpoint {
            Endpoint::Cognito => cognito::handle(&self.service, req, source).await,
            Endpoint::Token => oauth::token(&self.service, req).await,
            Endpoint::UserInfo => oauth::userinfo(&self.service, req).await,
            Endpoint::Jwks => {
                let doc = self.service.jwks().map_err(auth_error)?;
                Ok(json_response(StatusCode::OK, &doc, "public, max-age=300"))
            }
            Endpoint::Discovery => {
                let doc = self
                    .service
                    .discovery(&self.paths.token, &self.paths.userinfo)
                    .map_err(auth_error)?;
                Ok(json_response(StatusCode::OK, &doc, "public, max-age=300"))
            }
            Endpoint::Login => {
                let body: LoginBody = read_json(req).await?;
                let session = self
                    .service
                    .login(
                        &body.username,
                        &body.password,
                        body.client_id.as_deref(),
                        proof(body.client_secret.as_ref()),
                        Some(source),
                        now,
                    )
                    .await
                    .map_err(auth_error)?;
                Ok(session_response(&session))
            }
            Endpoint::Refresh => {
                let body: RefreshBody = read_json(req).await?;
                let session = self
                    .service
                    .refresh(
                        &body.refresh_token,
                        body.client_id.as_deref(),
                        proof(body.client_secret.as_ref()),
                        now,
                    )
                    .await
                    .map_err(auth_error)?;
                Ok(session_response(&session))
            }
            Endpoint::Logout => {
                let body: RefreshBody = read_json(req).await?;
                self.service
                    .logout(
                        &body.refresh_token,
                        body.client_id.as_deref(),
                        proof(body.client_secret.as_ref()),
                        now,
                    )
                    .await
                    .map_err(auth_error)?;
                Ok(json_response(StatusCode::OK, &json!({}), "no-store"))
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

fn proof(secret: Option<&String>) -> ClientProof<'_> {
    secret.map_or(ClientProof::None, |s| ClientProof::Secret(s))
}

/// Reads a whole request body of at most [`MAX_BODY`] bytes; more is 413, without reading
/// the rest.
pub(crate) async fn read_bounded<B>(
    req: Request<B>,
    what: &'static str,
) -> Result<Bytes, GatewayError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                GatewayError::new(
                    ErrorKind::BodyTooLarge,
                    format!("{what} request body over 16 KiB"),
                )
            } else {
                GatewayError::new(
                    ErrorKind::MalformedRequest,
                    format!("{what} request body unreadable"),
                )
            }
        })
}

async fn read_json<T, B>(req: Request<B>) -> Result<T, GatewayError>
where
    T: for<'de> Deserialize<'de>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let bytes = read_bounded(req, "identity").await?;
    // The body holds credentials: the parse error names no values.
    serde_json::from_slice(&bytes).map_err(|e| {
        GatewayError::new(
            ErrorKind::Response(ResponseType::BAD_REQUEST_BODY),
            format!("identity request body: {}", e.classify_name()),
        )
    })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "i/o error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing or unexpected fields",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

fn auth_error(e: AuthError) -> GatewayError {
    match e {
        AuthError::NotAuthorized(message) => GatewayError::new(
            ErrorKind::Response(ResponseType::UNAUTHORIZED),
            "authentication failed",
        )
        .with_message(message),
        AuthError::Throttled { retry_after_ms } => GatewayError::new(
            ErrorKind::Response(ResponseType::THROTTLED),
            format!("login throttled for {retry_after_ms} ms"),
        )
        .with_message("Password attempts exceeded")
        .with_retry_after(retry_after_ms.div_ceil(1000).max(1)),
        // The default message of THROTTLED ("Too Many Requests"), with a short Retry-After:
        // the hashing queue drains in well under a second.
        AuthError::Busy => GatewayError::new(
            ErrorKind::Response(ResponseType::THROTTLED),
            "password hashing queue full",
        )
        .with_retry_after(1),
        AuthError::InvalidClient(message) => GatewayError::new(
            ErrorKind::Response(ResponseType::UNAUTHORIZED),
            "client authentication failed",
        )
        .with_message(message),
        AuthError::InsufficientScope(message) => GatewayError::new(
            ErrorKind::Response(ResponseType::ACCESS_DENIED),
            "insufficient scope",
        )
        .with_message(message),
        AuthError::InvalidParameter(message)
        | AuthError::UnknownClient(message)
        | AuthError::FlowNotAllowed(message)
        | AuthError::InvalidScope(message) => GatewayError::new(
            ErrorKind::Response(ResponseType::BAD_REQUEST_BODY),
            "invalid identity request",
        )
        .with_message(message),
        AuthError::Internal(detail) => {
            GatewayError::new(ErrorKind::Internal, format!("identity: {detail}"))
        }
    }
}

fn session_response(s: &Session) -> Response<Bytes> {
    let doc = json!({
        "access_token": s.tokens.access_token,
        "id_token": s.tokens.id_token,
        "refresh_token": s.refresh_token,
        "expires_in": s.tokens.expires_in,
        "token_type": "Bearer",
    });
    json_response(StatusCode::OK, &doc, "no-store")
}

pub(crate) fn json_response(
    status: StatusCode,
    doc: &serde_json::Value,
    cache: &'static str,
) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(doc.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if cache == "no-store" {
        h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    }
    r
}
