//! The OAuth 2.0 token endpoint (RFC 6749 §3.2) and the OIDC userInfo endpoint.
//!
//! Token endpoint: `POST`, `application/x-www-form-urlencoded`, grants `client_credentials`
//! (a confidential client's own access token, with scopes) and `refresh_token` (rotating, as
//! at the JSON endpoint). The client authenticates with HTTP Basic (`client_secret_basic`,
//! id and secret form-encoded as RFC 6749 §2.3.1 says) or with `client_id` and
//! `client_secret` in the form (`client_secret_post`), never both. Errors are RFC 6749 §5.2
//! JSON: `{"error": "invalid_client"}` with 401 and `WWW-Authenticate: Basic`, and
//! `invalid_request`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type`,
//! `invalid_scope` with 400.
//!
//! UserInfo: `GET` or `POST` with `Authorization: Bearer <access token>` carrying the
//! `openid` scope; errors are RFC 6750 §3 (`WWW-Authenticate: Bearer error="invalid_token"`).
//!
//! Like the Cognito API, these bodies are the protocol's own; the body-size limit still
//! answers through the gateway's response mapping.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body::Body;
use portcullis_core::GatewayError;
use serde_json::{Value, json};

use super::BoxError;
use crate::service::{AuthError, ClientProof, IdentityService};

/// Most form parameters read.
const MAX_PARAMS: usize = 16;

/// An RFC 6749 §5.2 error.
struct OAuthError {
    code: &'static str,
    description: String,
    status: StatusCode,
}

impl OAuthError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            status: if code == "invalid_client" {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            },
        }
    }
}

impl From<AuthError> for OAuthError {
    fn from(e: AuthError) -> Self {
        match e {
            // One description for every client failure: the endpoint does not tell which
            // client ids exist.
            AuthError::UnknownClient(_) | AuthError::InvalidClient(_) => {
                Self::new("invalid_client", "client authentication failed")
            }
            AuthError::NotAuthorized(m) => Self::new("invalid_grant", m),
            AuthError::FlowNotAllowed(m) => Self::new("unauthorized_client", m),
            AuthError::InvalidScope(m) => Self::new("invalid_scope", m),
            AuthError::InvalidParameter(m) => Self::new("invalid_request", m),
            AuthError::InsufficientScope(m) => Self::new("invalid_scope", m),
            AuthError::Throttled { .. } | AuthError::Busy => Self {
                code: "slow_down",
                description: "too many attempts".into(),
                status: StatusCode::TOO_MANY_REQUESTS,
            },
            AuthError::Internal(detail) => {
                tracing::error!(reason = %detail, "oauth2 token endpoint: internal error");
                Self {
                    code: "server_error",
                    description: "internal error".into(),
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                }
            }
        }
    }
}

/// The form, each parameter at most once (RFC 6749 §3.2).
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(bytes: &[u8]) -> Result<Self, OAuthError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(bytes) {
            if out.len() >= MAX_PARAMS {
                return Err(OAuthError::new("invalid_request", "too many parameters"));
            }
            if out.iter().any(|(seen, _)| *seen == k) {
                return Err(OAuthError::new(
                    "invalid_request",
                    format!("parameter {k} is repeated"),
                ));
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(Self(out))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// The client's id and secret from HTTP Basic, each form-decoded.
fn basic_credentials(value: &HeaderValue) -> Result<Option<(String, Option<String>)>, OAuthError> {
    let bad = || OAuthError::new("invalid_client", "malformed Basic credentials");
    let Some(encoded) = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
    }) else {
        return Ok(None);
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let form_decode = |s: &str| -> Result<String, OAuthError> {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    let (id, secret) = (form_decode(id)?, form_decode(secret)?);
    if id.is_empty() {
        return Err(bad());
    }
    // An empty password is no secret, as an empty `client_secret` in the form is none.
    Ok(Some((id, (!secret.is_empty()).then_some(secret))))
}

/// Serves one token request.
pub async fn token<B>(
    service: &Arc<IdentityService>,
    req: Request<B>,
) -> Result<Response<Bytes>, GatewayError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let form_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let basic = req.headers().get(AUTHORIZATION).map(basic_credentials);
    let bytes = super::read_bounded(req, "oauth2 token").await?;
    let result = async {
        if !form_type {
            return Err(OAuthError::new(
                "invalid_request",
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let form = Form::parse(&bytes)?;
        let basic = basic.transpose()?.flatten();
        let (client_id, secret) = match (&basic, form.get("client_id"), form.get("client_secret")) {
            (Some(_), _, Some(_)) => {
                return Err(OAuthError::new(
                    "invalid_request",
                    "use one client authentication method, not Basic and client_secret both",
                ));
            }
            (Some((id, _)), Some(form_id), _) if id != form_id => {
                return Err(OAuthError::new(
                    "invalid_request",
                    "client_id differs from the Basic credentials",
                ));
            }
            (Some((id, secret)), _, _) => (Some(id.as_str()), secret.as_deref()),
            (None, id, secret) => (id, secret),
        };
        let proof = secret.map_or(ClientProof::None, ClientProof::Secret);
        let now = crate::store::now();
        match form.get("grant_type") {
            Some("client_credentials") => {
                let id = client_id.ok_or_else(|| {
                    OAuthError::new("invalid_client", "client authentication failed")
                })?;
                let t = service
                    .client_credentials(id, proof, form.get("scope"), now)
                    .await?;
                Ok(json!({
                    "access_token": t.access_token,
                    "token_type": "Bearer",
                    "expires_in": t.expires_in,
                    "scope": t.scopes.join(" "),
                }))
            }
            Some("refresh_token") => {
                let token = form
                    .get("refresh_token")
                    .ok_or_else(|| OAuthError::new("invalid_request", "missing refresh_token"))?;
                let s = service.refresh(token, client_id, proof, now).await?;
                Ok(json!({
                    "access_token": s.tokens.access_token,
                    "id_token": s.tokens.id_token,
                    "refresh_token": s.refresh_token,
                    "token_type": "Bearer",
                    "expires_in": s.tokens.expires_in,
                }))
            }
            Some(other) => Err(OAuthError::new(
                "unsupported_grant_type",
                format!(
                    "grant type {other} is not supported; use client_credentials or refresh_token"
                ),
            )),
            None => Err(OAuthError::new("invalid_request", "missing grant_type")),
        }
    }
    .await;
    Ok(match result {
        Ok(doc) => reply(StatusCode::OK, &doc, None),
        Err(e) => {
            let challenge = (e.status == StatusCode::UNAUTHORIZED)
                .then(|| HeaderValue::from_static("Basic realm=\"portcullis\""));
            reply(
                e.status,
                &json!({"error": e.code, "error_description": e.description}),
                challenge,
            )
        }
    })
}

/// Serves one userInfo request.
pub async fn userinfo<B>(
    service: &Arc<IdentityService>,
    req: Request<B>,
) -> Result<Response<Bytes>, GatewayError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    // The body (of a POST) carries nothing this endpoint reads; it is drained, bounded.
    super::read_bounded(req, "oauth2 userInfo").await?;
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(reply(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_request", "error_description": "no bearer token"}),
            Some(HeaderValue::from_static("Bearer")),
        ));
    };
    let now = crate::store::now();
    Ok(match service.userinfo(&token, now).await {
        Ok(doc) => reply(StatusCode::OK, &doc, None),
        Err(AuthError::InsufficientScope(m)) => reply(
            StatusCode::FORBIDDEN,
            &json!({"error": "insufficient_scope", "error_description": m}),
            Some(HeaderValue::from_static(
                "Bearer error=\"insufficient_scope\", scope=\"openid\"",
            )),
        ),
        Err(AuthError::Internal(detail)) => {
            tracing::error!(reason = %detail, "oauth2 userInfo: internal error");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "server_error"}),
                None,
            )
        }
        Err(_) => reply(
            StatusCode::UNAUTHORIZED,
            &json!({
                "error": "invalid_token",
                "error_description": "Access token is expired, disabled, or deleted, or the user has globally signed out."
            }),
            Some(HeaderValue::from_static("Bearer error=\"invalid_token\"")),
        ),
    })
}

fn reply(status: StatusCode, doc: &Value, challenge: Option<HeaderValue>) -> Response<Bytes> {
    let mut r = super::json_response(status, doc, "no-store");
    if let Some(c) = challenge {
        r.headers_mut().insert(WWW_AUTHENTICATE, c);
    }
    r
}
