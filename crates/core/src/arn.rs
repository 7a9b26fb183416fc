//! The API's identity and the execute-api ARNs built from it.
//!
//! Later stages (IAM policies, resource policies, Lambda authorizers) match requests by their
//! method ARN: `arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{METHOD}/{path}`.
//! The path is the request's actual path (parameter values, not the template), without its
//! leading slash, so the root resource yields a trailing `/` exactly as on AWS.

use std::fmt::Write as _;

/// Who this API is, in AWS terms. Configured, because ARNs are built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiIdentity {
    /// API id, e.g. `a1b2c3d4e5`.
    pub api_id: String,
    /// Stage name, e.g. `prod`.
    pub stage: String,
    /// Region, e.g. `us-east-1`.
    pub region: String,
    /// Twelve-digit account id.
    pub account: String,
    /// ARN partition, `aws` unless configured otherwise.
    pub partition: String,
}

impl ApiIdentity {
    /// The ARN prefix shared by every method of this API and stage, ending in `/`:
    /// `arn:aws:execute-api:us-east-1:123456789012:api/stage/`.
    pub fn method_arn_prefix(&self) -> String {
        format!(
            "arn:{}:execute-api:{}:{}:{}/{}/",
            self.partition, self.region, self.account, self.api_id, self.stage
        )
    }
}

/// Builds the method ARN for `method` on `path` (the request path, starting with `/`).
pub fn method_arn(identity: &ApiIdentity, method: &str, path: &str) -> String {
    let mut out = identity.method_arn_prefix();
    push_method_arn(&mut out, method, path);
    out
}

/// Appends `{METHOD}/{path-without-leading-slash}` to a prefix from
/// [`ApiIdentity::method_arn_prefix`]. Lets the hot path reuse a precomputed prefix.
pub fn push_method_arn(out: &mut String, method: &str, path: &str) {
    let _ = write!(out, "{method}/");
    out.push_str(path.strip_prefix('/').unwrap_or(path));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ApiIdentity {
        ApiIdentity {
            api_id: "abcdef123".into(),
            stage: "test".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    #[test]
    fn builds_aws_method_arns() {
        assert_eq!(
            method_arn(&id(), "GET", "/pets/a1b2"),
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/pets/a1b2"
        );
        assert_eq!(
            method_arn(&id(), "GET", "/"),
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/"
        );
    }
}
