//! The API's identity and the execute-api ARNs built from it.
//!
//! Later stages (IAM policies, resource policies, Lambda authorizers) match requests by their
//! method ARN: `arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{METHOD}/{path}`.
//! The path is the request's actual path (parameter values, not the template), without its
//! leading slash, so the root resource yields a trailing `/` exactly as on AWS.

use std::fmt::Write as _;

use crate::path::{CanonicalPath, decode_segment};

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

/// Builds the method ARN for `method` on `path`.
pub fn method_arn(identity: &ApiIdentity, method: &str, path: &CanonicalPath<'_>) -> String {
    let mut out = identity.method_arn_prefix();
    push_method_arn(&mut out, method, path);
    out
}

/// Appends `{METHOD}/{path-without-leading-slash}` to a prefix from
/// [`ApiIdentity::method_arn_prefix`]. Lets the hot path reuse a precomputed prefix.
///
/// The path is named as the router reads it, so that policies see what routing saw: each
/// segment percent-decoded and a trailing `/` dropped. A canonical path has no decoded `/`
/// in a segment, so segment boundaries are the same as the router's.
pub fn push_method_arn(out: &mut String, method: &str, path: &CanonicalPath<'_>) {
    let _ = write!(out, "{method}/");
    push_arn_path(out, path);
}

/// The request path as method ARNs and policies name it (see [`push_method_arn`]), with its
/// leading `/`.
pub fn arn_path(path: &CanonicalPath<'_>) -> String {
    let mut out = String::with_capacity(path.as_str().len());
    out.push('/');
    push_arn_path(&mut out, path);
    out
}

fn push_arn_path(out: &mut String, path: &CanonicalPath<'_>) {
    let raw = path.as_str();
    let mut p = raw.strip_prefix('/').unwrap_or(raw);
    if !p.is_empty() {
        p = p.strip_suffix('/').unwrap_or(p);
    }
    if !p.contains('%') {
        out.push_str(p);
        return;
    }
    for (i, seg) in p.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&decode_segment(seg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_paths_are_named_as_routed() {
        let arn = |p| arn_path(&CanonicalPath::parse(p).unwrap());
        assert_eq!(arn("/pets/"), "/pets");
        assert_eq!(arn("/p%65ts"), "/pets");
        assert_eq!(arn("/a%20b/c"), "/a b/c");
        assert_eq!(arn("/"), "/");
    }

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
            method_arn(&id(), "GET", &CanonicalPath::parse("/pets/a1b2").unwrap()),
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/pets/a1b2"
        );
        assert_eq!(
            method_arn(&id(), "GET", &CanonicalPath::parse("/").unwrap()),
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/"
        );
    }
}
