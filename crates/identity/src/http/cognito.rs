//! The Cognito-compatible API: `POST` with `X-Amz-Target:
//! AWSCognitoIdentityProviderService.<Operation>` and `Content-Type:
//! application/x-amz-json-1.1`, so AWS SDKs (boto3's `cognito-idp` with `endpoint_url`
//! pointed at the gateway) work unmodified.
//!
//! Operations: `InitiateAuth` (`USER_PASSWORD_AUTH`, `REFRESH_TOKEN_AUTH` / `REFRESH_TOKEN`),
//! `RevokeToken`, `GlobalSignOut`, `GetUser`. Errors are Cognito's: HTTP 400 with
//! `{"__type": "NotAuthorizedException", "message": ...}` and the same type in
//! `x-amzn-ErrorType`, so SDKs raise the exception classes applications already catch. An
//! unknown user and a wrong password are both `NotAuthorizedException`.
//!
//! These bodies are the API's own protocol (as an integration's response would be); limits
//! that apply before the API is reached (body size) still answer through the gateway's
//! response mapping.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body::Body;
use portcullis_core::GatewayError;
use serde_json::{Value, json};

use super::BoxError;
use crate::service::{AuthError, ClientProof, IdentityService, Session};

/// `x-amzn-ErrorType`: the exception's name, where SDKs look for it.
const ERROR_TYPE: http::header::HeaderName =
    http::header::HeaderName::from_static("x-amzn-errortype");

const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

/// A Cognito-style error.
struct CognitoError {
    kind: &'static str,
    message: String,
    status: StatusCode,
}

impl CognitoError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }
}

impl From<AuthError> for CognitoError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::NotAuthorized(m) => Self::new("NotAuthorizedException", m),
            AuthError::Throttled { .. } => {
                Self::new("NotAuthorizedException", "Password attempts exceeded")
            }
            AuthError::Busy => Self::new("TooManyRequestsException", "Too Many Requests"),
            AuthError::InvalidParameter(m) | AuthError::FlowNotAllowed(m) => Self::invalid(m),
            AuthError::InvalidClient(m) => Self::new("NotAuthorizedException", m),
            AuthError::UnknownClient(m) => Self::new("ResourceNotFoundException", m),
            AuthError::InvalidScope(m) => Self::new("InvalidParameterException", m),
            AuthError::InsufficientScope(m) => Self::new("NotAuthorizedException", m),
            AuthError::Internal(detail) => {
                tracing::error!(reason = %detail, "cognito api: internal error");
                Self {
                    kind: "InternalErrorException",
                    message: "Internal error".into(),
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                }
            }
        }
    }
}

/// Serves one Cognito API request.
pub async fn handle<B>(
    service: &Arc<IdentityService>,
    req: Request<B>,
    source: std::net::IpAddr,
) -> Result<Response<Bytes>, GatewayError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .map(str::to_owned);
    let bytes = super::read_bounded(req, "cognito").await?;
    let result = match (target.as_deref(), serde_json::from_slice::<Value>(&bytes)) {
        (None, _) => Err(CognitoError::new(
            "UnknownOperationException",
            "missing or foreign X-Amz-Target",
        )),
        (_, Err(_)) => Err(CognitoError::new(
            "SerializationException",
            "the body is not JSON",
        )),
        (Some(op), Ok(body)) => dispatch(service, op, &body, source).await,
    };
    Ok(match result {
        Ok(doc) => reply(StatusCode::OK, &doc, None),
        Err(e) => reply(
            e.status,
            &json!({"__type": e.kind, "message": e.message}),
            Some(e.kind),
        ),
    })
}

fn reply(status: StatusCode, doc: &Value, error_type: Option<&'static str>) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(doc.to_string()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    // Responses may carry tokens.
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    if let Some(t) = error_type {
        h.insert(ERROR_TYPE, HeaderValue::from_static(t));
    }
    r
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, CognitoError> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| CognitoError::invalid(format!("Missing required parameter {name}")))
}

fn auth_result(s: &Session, with_refresh: bool) -> Value {
    let mut result = json!({
        "AccessToken": s.tokens.access_token,
        "IdToken": s.tokens.id_token,
        "ExpiresIn": s.tokens.expires_in,
        "TokenType": "Bearer",
    });
    if with_refresh && let Some(obj) = result.as_object_mut() {
        obj.insert("RefreshToken".into(), json!(s.refresh_token));
    }
    json!({ "AuthenticationResult": result, "ChallengeParameters": {} })
}

async fn dispatch(
    service: &Arc<IdentityService>,
    op: &str,
    body: &Value,
    source: std::net::IpAddr,
) -> Result<Value, CognitoError> {
    let now = crate::store::now();
    match op {
        "InitiateAuth" => {
            let flow = field(body, "AuthFlow")?;
            let client_id = field(body, "ClientId")?;
            let params = body.get("AuthParameters").cloned().unwrap_or(json!({}));
            let proof = match params.get("SECRET_HASH") {
                None => ClientProof::None,
                Some(v) => ClientProof::SecretHash(
                    v.as_str()
                        .ok_or_else(|| CognitoError::invalid("SECRET_HASH must be a string"))?,
                ),
            };
            match flow {
                "USER_PASSWORD_AUTH" => {
                    let username = field(&params, "USERNAME")?;
                    let password = field(&params, "PASSWORD")?;
                    let s = service
                        .login(
                            username,
                            password,
                            Some(client_id),
                            proof,
                            Some(source),
                            now,
                        )
                        .await?;
                    Ok(auth_result(&s, true))
                }
                "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
                    let token = field(&params, "REFRESH_TOKEN")?;
                    let s = service.refresh(token, Some(client_id), proof, now).await?;
                    // Refresh tokens rotate on every use: the new one comes back too.
                    Ok(auth_result(&s, true))
                }
                other => Err(CognitoError::invalid(format!(
                    "Auth flow {other} is not supported; use USER_PASSWORD_AUTH or REFRESH_TOKEN_AUTH"
                ))),
            }
        }
        "RevokeToken" => {
            let token = field(body, "Token")?;
            let client_id = field(body, "ClientId")?;
            let proof = match body.get("ClientSecret").and_then(Value::as_str) {
                Some(s) => ClientProof::Secret(s),
                None => ClientProof::None,
            };
            service.logout(token, Some(client_id), proof, now).await?;
            Ok(json!({}))
        }
        "GlobalSignOut" => {
            let user = service
                .verify_access_token(field(body, "AccessToken")?, now)
                .await?;
            service.global_sign_out(&user.username, now).await?;
            Ok(json!({}))
        }
        "GetUser" => {
            let user = service
                .verify_access_token(field(body, "AccessToken")?, now)
                .await?;
            let mut attrs = vec![json!({"Name": "sub", "Value": user.sub})];
            if let Some(email) = &user.email {
                attrs.push(json!({"Name": "email", "Value": email}));
            }
            for (k, v) in &user.attributes {
                attrs.push(json!({"Name": k, "Value": v}));
            }
            Ok(json!({"Username": user.username, "UserAttributes": attrs, "MFAOptions": []}))
        }
        other => Err(CognitoError::new(
            "UnknownOperationException",
            format!("{other} is not supported by this user pool"),
        )),
    }
}
