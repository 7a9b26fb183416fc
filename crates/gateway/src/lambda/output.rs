//! An authorizer's answer, validated as strictly as API Gateway does. Anything malformed is
//! an [`Invalid`] (the client gets 500 `AuthorizerConfigurationException`); the reason is
//! for the log only.

use std::sync::Arc;

use portcullis_config::PayloadFormat;
use portcullis_policy::{Policy, PolicyKind};
use serde_json::Value;

/// Longest `Resource` ARN in a returned statement (API Gateway's limit).
pub const MAX_RESOURCE_ARN: usize = 512;
/// Most context entries kept.
const MAX_CONTEXT: usize = 64;

/// A valid answer.
#[derive(Debug)]
pub enum Output {
    /// The IAM form: a principal and a policy, re-evaluated for each request it serves.
    Policy {
        /// `principalId`.
        principal_id: String,
        /// `policyDocument`, compiled.
        policy: Arc<Policy>,
        /// `context`, values as text (as `$context.authorizer.<key>` reads them).
        context: Vec<(String, String)>,
        /// `usageIdentifierKey`, for usage plans that take the API key from the authorizer.
        usage_identifier_key: Option<String>,
    },
    /// HTTP API 2.0 simple response.
    Simple {
        /// `isAuthorized`.
        authorized: bool,
        /// `context`.
        context: Vec<(String, String)>,
    },
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(why: impl Into<String>) -> Invalid {
    Invalid(why.into())
}

/// Parses and checks an answer in `format` (`simple`: 2.0 simple responses).
pub fn parse(body: &[u8], format: PayloadFormat, simple: bool) -> Result<Output, Invalid> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let Value::Object(obj) = doc else {
        return Err(bad("the answer is not a JSON object"));
    };
    if simple {
        let authorized = match obj.get("isAuthorized") {
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("isAuthorized is not a boolean")),
            None => return Err(bad("isAuthorized is missing")),
        };
        let context = context(obj.get("context"), format)?;
        return Ok(Output::Simple {
            authorized,
            context,
        });
    }
    let principal_id = match obj.get("principalId") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("principalId is not a string")),
        None => return Err(bad("principalId is missing")),
    };
    let doc = match obj.get("policyDocument") {
        Some(d @ Value::Object(_)) => d,
        Some(_) => return Err(bad("policyDocument is not an object")),
        None => return Err(bad("policyDocument is missing")),
    };
    check_statements(doc)?;
    let policy = Policy::from_json("authorizer policy", doc, PolicyKind::Identity, None).map_err(
        |errors| {
            bad(format!(
                "policyDocument: {}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        },
    )?;
    let context = context(obj.get("context"), format)?;
    let usage_identifier_key = match obj.get("usageIdentifierKey") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(_) => return Err(bad("usageIdentifierKey is not a string")),
    };
    Ok(Output::Policy {
        principal_id,
        policy: Arc::new(policy),
        context,
        usage_identifier_key,
    })
}

/// API Gateway's own rules on top of IAM's: a statement list, Effect, and ARNs of bounded
/// length.
fn check_statements(doc: &Value) -> Result<(), Invalid> {
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        Some(_) => return Err(bad("policyDocument.Statement is empty or not a list")),
        None => return Err(bad("policyDocument.Statement is missing")),
    };
    for (i, s) in statements.iter().enumerate() {
        let resources: Vec<&Value> = match s.get("Resource").or_else(|| s.get("NotResource")) {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v) => vec![v],
            None => Vec::new(),
        };
        for r in resources {
            if let Value::String(arn) = r
                && arn.len() > MAX_RESOURCE_ARN
            {
                return Err(bad(format!(
                    "Statement[{i}].Resource is longer than {MAX_RESOURCE_ARN} characters"
                )));
            }
        }
    }
    Ok(())
}

fn context(value: Option<&Value>, format: PayloadFormat) -> Result<Vec<(String, String)>, Invalid> {
    let map = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(bad("context is not an object")),
    };
    if map.len() > MAX_CONTEXT {
        return Err(bad(format!("context has more than {MAX_CONTEXT} keys")));
    }
    let mut out = Vec::with_capacity(map.len());
    for (k, v) in map {
        if format == PayloadFormat::Http1 && k == "claims" {
            return Err(bad("context.claims is reserved in payload format 1.0"));
        }
        if k == "principalId" {
            return Err(bad("context.principalId is reserved"));
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            // HTTP API 2.0 passes arrays and objects through; REST and 1.0 refuse them.
            Value::Array(_) | Value::Object(_) if format == PayloadFormat::Http2 => v.to_string(),
            other => {
                return Err(bad(format!(
                    "context.{k} is {}, not a string, number or boolean",
                    match other {
                        Value::Null => "null",
                        Value::Array(_) => "an array",
                        _ => "an object",
                    }
                )));
            }
        };
        out.push((k.clone(), text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]
    use super::*;

    const ALLOW: &str = r#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:us-east-1:123456789012:api/prod/*/*"}]},"context":{"s":"x","n":1.5,"b":true}}"#;

    #[test]
    fn accepts_the_documented_shape() {
        let Output::Policy {
            principal_id,
            context,
            ..
        } = parse(ALLOW.as_bytes(), PayloadFormat::Rest, false).unwrap()
        else {
            panic!("policy expected");
        };
        assert_eq!(principal_id, "u");
        assert_eq!(
            context,
            vec![
                ("s".into(), "x".into()),
                ("n".into(), "1.5".into()),
                ("b".into(), "true".into())
            ]
        );
    }

    #[test]
    fn refuses_what_api_gateway_refuses() {
        let cases = [
            (
                r#"{"policyDocument":{"Version":"2012-10-17","Statement":[]}}"#,
                "principalId is missing",
            ),
            (r#"{"principalId":"u"}"#, "policyDocument is missing"),
            (
                r#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[]}}"#,
                "Statement is empty",
            ),
            (
                r#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Maybe","Resource":"*"}]}}"#,
                "Effect",
            ),
            (
                r#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"o":{"a":1}}}"#,
                "context.o is an object",
            ),
            (
                r#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"a":[1]}}"#,
                "context.a is an array",
            ),
            (
                r#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"n":null}}"#,
                "context.n is null",
            ),
            (
                r#"{"principalId":7,"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}"#,
                "principalId is not a string",
            ),
            ("[]", "not a JSON object"),
            ("nope", "not JSON"),
        ];
        for (doc, why) in cases {
            let e = parse(doc.as_bytes(), PayloadFormat::Rest, false).unwrap_err();
            assert!(e.0.contains(why), "{doc}: {e}");
        }
        let long = format!(
            r#"{{"principalId":"u","policyDocument":{{"Version":"2012-10-17","Statement":[{{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:us-east-1:1:a/{}"}}]}}}}"#,
            "x".repeat(600)
        );
        assert!(parse(long.as_bytes(), PayloadFormat::Rest, false).is_err());
    }

    #[test]
    fn usage_identifier_key_is_kept() {
        let doc = ALLOW.replacen('{', r#"{"usageIdentifierKey":"key-123","#, 1);
        let Output::Policy {
            usage_identifier_key,
            ..
        } = parse(doc.as_bytes(), PayloadFormat::Rest, false).unwrap()
        else {
            panic!("policy expected");
        };
        assert_eq!(usage_identifier_key.as_deref(), Some("key-123"));
        let bad = ALLOW.replacen('{', r#"{"usageIdentifierKey":7,"#, 1);
        assert!(parse(bad.as_bytes(), PayloadFormat::Rest, false).is_err());
    }

    #[test]
    fn simple_responses_and_v2_context() {
        let Output::Simple {
            authorized,
            context,
        } = parse(
            br#"{"isAuthorized":true,"context":{"list":[1,2],"map":{"a":"b"}}}"#,
            PayloadFormat::Http2,
            true,
        )
        .unwrap()
        else {
            panic!("simple expected");
        };
        assert!(authorized);
        assert_eq!(context[0], ("list".into(), "[1,2]".into()));
        assert!(parse(br#"{"isAuthorized":"yes"}"#, PayloadFormat::Http2, true).is_err());
        assert!(parse(br#"{}"#, PayloadFormat::Http2, true).is_err());
        let claims = r#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"claims":"x"}}"#;
        assert!(parse(claims.as_bytes(), PayloadFormat::Http1, false).is_err());
        assert!(parse(claims.as_bytes(), PayloadFormat::Rest, false).is_ok());
    }
}
