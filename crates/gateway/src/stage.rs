//! The stage a request is served in: the identity its ARNs, events and templates carry, and
//! its variables.

use portcullis_core::ApiIdentity;

/// One stage of an API: the identity its ARNs and events carry, and its variables.
#[derive(Debug)]
pub struct Stage {
    /// The API's identity at this stage.
    pub identity: ApiIdentity,
    /// `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/`, the start of every method ARN.
    pub arn_prefix: String,
    /// Its variables (`stageVariables`).
    pub variables: Vec<(String, String)>,
    /// The web ACL that guards it (its own, its API's, or the gateway's default).
    pub web_acl: Option<std::sync::Arc<portcullis_waf::WebAcl>>,
}

impl Stage {
    /// The stage's name.
    pub fn name(&self) -> &str {
        &self.identity.stage
    }
}

impl Stage {
    /// The value of stage variable `name`.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
