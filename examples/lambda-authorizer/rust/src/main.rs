//! The example TOKEN authorizer written against the official `lambda_runtime` crate.
//!
//! Same logic as `../token_authorizer.py`: the token `allow` yields an Allow policy,
//! `deny` a Deny policy (both over the whole API and stage, so a cached result serves
//! every method), `unauthorized` fails with the message `Unauthorized` (401 at the
//! gateway), anything else fails with `Error: Invalid token` (500).
//!
//! Run it under Portcullis with `runtime: provided` and `command:` pointing at the
//! built binary; `lambda_runtime` reads `AWS_LAMBDA_RUNTIME_API` and the other Lambda
//! variables from the environment the gateway sets.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

/// Why the authorizer refused to produce a policy. The messages are what API Gateway
/// matches on: exactly `Unauthorized` means 401, anything else 500.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Unauthorized,
    InvalidToken,
    InvalidMethodArn,
}

impl Refusal {
    fn message(&self) -> &'static str {
        match self {
            Self::Unauthorized => "Unauthorized",
            Self::InvalidToken => "Error: Invalid token",
            Self::InvalidMethodArn => "Error: Invalid methodArn",
        }
    }
}

impl From<Refusal> for Diagnostic {
    fn from(refusal: Refusal) -> Self {
        // The Python runtime reports a bare `raise Exception(...)` as errorType
        // "Exception"; report the same so both handlers look alike to the gateway.
        Diagnostic {
            error_type: "Exception".to_owned(),
            error_message: refusal.message().to_owned(),
        }
    }
}

/// Decides on one TOKEN event. Pure, so the tests call it without a runtime.
fn authorize(event: &Value) -> Result<Value, Refusal> {
    let token = event.get("authorizationToken").and_then(Value::as_str);
    let method_arn = event.get("methodArn").and_then(Value::as_str);
    let effect = match token {
        Some("allow") => "Allow",
        Some("deny") => "Deny",
        Some("unauthorized") => return Err(Refusal::Unauthorized),
        _ => return Err(Refusal::InvalidToken),
    };
    let resource = api_wildcard(method_arn.ok_or(Refusal::InvalidMethodArn)?)?;
    Ok(json!({
        "principalId": "user",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": effect,
                "Resource": resource,
            }],
        },
        // Strings, numbers and booleans only; integrations read $context.authorizer.KEY.
        "context": {
            "stringKey": "hello",
            "numberKey": 42,
            "booleanKey": true,
        },
    }))
}

/// `arn:aws:execute-api:REGION:ACCT:API/STAGE/VERB/path` -> `arn:...:API/STAGE/*/*`.
fn api_wildcard(method_arn: &str) -> Result<String, Refusal> {
    let (prefix, path) = method_arn
        .rsplit_once(':')
        .ok_or(Refusal::InvalidMethodArn)?;
    let mut segments = path.split('/');
    match (segments.next(), segments.next()) {
        (Some(api), Some(stage)) if !api.is_empty() && !stage.is_empty() => {
            Ok(format!("{prefix}:{api}/{stage}/*/*"))
        }
        _ => Err(Refusal::InvalidMethodArn),
    }
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Refusal> {
    authorize(&event.payload)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handler)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets";

    fn event(token: &str) -> Value {
        json!({ "type": "TOKEN", "authorizationToken": token, "methodArn": ARN })
    }

    fn effect_and_resource(policy: &Value) -> (Option<&str>, Option<&str>) {
        let statement = policy.pointer("/policyDocument/Statement/0");
        (
            statement
                .and_then(|s| s.get("Effect"))
                .and_then(Value::as_str),
            statement
                .and_then(|s| s.get("Resource"))
                .and_then(Value::as_str),
        )
    }

    #[test]
    fn tokens_decide_the_outcome() {
        let wildcard = Some("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*/*");
        let allowed = authorize(&event("allow"));
        assert_eq!(
            allowed.as_ref().map(effect_and_resource),
            Ok((Some("Allow"), wildcard))
        );
        let denied = authorize(&event("deny"));
        assert_eq!(
            denied.as_ref().map(effect_and_resource),
            Ok((Some("Deny"), wildcard))
        );
        assert_eq!(
            authorize(&event("unauthorized")),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(authorize(&event("other")), Err(Refusal::InvalidToken));
        assert_eq!(authorize(&json!({})), Err(Refusal::InvalidToken));
    }

    #[test]
    fn context_carries_string_number_and_boolean() {
        let allowed = authorize(&event("allow"));
        let context = allowed.as_ref().ok().and_then(|v| v.get("context"));
        assert_eq!(
            context,
            Some(&json!({ "stringKey": "hello", "numberKey": 42, "booleanKey": true }))
        );
    }

    #[test]
    fn malformed_method_arns_are_errors() {
        for arn in [
            "",
            "no-colon",
            "arn:aws:execute-api:r:a:",
            "arn:aws:execute-api:r:a:api",
        ] {
            assert_eq!(api_wildcard(arn), Err(Refusal::InvalidMethodArn), "{arn}");
        }
    }

    #[test]
    fn refusals_keep_the_messages_api_gateway_matches() {
        let diagnostic = Diagnostic::from(Refusal::Unauthorized);
        assert_eq!(
            (
                diagnostic.error_type.as_str(),
                diagnostic.error_message.as_str()
            ),
            ("Exception", "Unauthorized")
        );
    }
}
