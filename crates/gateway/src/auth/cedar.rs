//! Cedar as the second policy language: an API may decide with Cedar policies instead of
//! role IAM documents. Each request becomes a Cedar request:
//!
//! | Cedar | from the request |
//! |---|---|
//! | principal | `Portcullis::User::"<sub>"`, parents `Portcullis::Group::"<group>"` for each group and `Portcullis::Role::"<role>"`; attributes `sub`, `username`, `role`, `groups` (set), `scopes` (set), `claims` (record of the token's string, number, boolean and string-list claims) |
//! | action | `Portcullis::Action::"<METHOD> <resource template>"`, e.g. `Action::"GET /pets/{id}"`, with parent `Portcullis::Action::"<METHOD>"` |
//! | resource | `Portcullis::Route::"<resource template>"`; attributes `path` (the request path, decoded), `method`, `api`, `stage`, `params` (record of path parameters) |
//! | context | `sourceIp` (ipaddr), `time` (Unix seconds), `secure` (TLS), `userAgent` (when sent) |
//!
//! The outcome maps onto IAM's: Cedar's Allow is Allow; a Deny decided by a `forbid` is an
//! explicit deny; a Deny with no policy satisfied is an implicit deny. It then combines
//! with the resource policy exactly as role policies do.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context as CedarContext, Decision, Effect, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, PolicyId, PolicySet, Request, RestrictedExpression,
};
use portcullis_policy::Outcome;
use serde_json::Value;

use super::RequestKeys;

/// A compiled Cedar policy set.
pub struct CedarPolicies {
    set: PolicySet,
    authorizer: Authorizer,
    api_id: String,
    stage: String,
}

impl std::fmt::Debug for CedarPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CedarPolicies")
            .field("policies", &self.set.policies().count())
            .finish()
    }
}

/// A problem in Cedar text: a byte offset (when known) and the message.
pub type CedarError = (Option<usize>, String);

/// One policy's part in a decision.
#[derive(Debug, Clone)]
pub struct CedarTrace {
    /// The policy's `@id` annotation, or Cedar's own id (`policy0`, ...).
    pub id: String,
    /// `permit` or `forbid`.
    pub effect: &'static str,
    /// Whether it determined the decision.
    pub determining: bool,
}

fn uid(type_name: &str, id: &str) -> Option<EntityUid> {
    Some(EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(type_name).ok()?,
        EntityId::new(id),
    ))
}

fn claim_value(v: &Value) -> Option<RestrictedExpression> {
    match v {
        Value::String(s) => Some(RestrictedExpression::new_string(s.clone())),
        Value::Bool(b) => Some(RestrictedExpression::new_bool(*b)),
        Value::Number(n) => n.as_i64().map(RestrictedExpression::new_long),
        Value::Array(a) => {
            let items: Option<Vec<RestrictedExpression>> = a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(|s| RestrictedExpression::new_string(s.to_owned()))
                })
                .collect();
            items.map(RestrictedExpression::new_set)
        }
        _ => None,
    }
}

impl CedarPolicies {
    /// Parses and checks Cedar policy text.
    pub fn compile(text: &str, api_id: &str, stage: &str) -> Result<Self, Vec<CedarError>> {
        let set = PolicySet::from_str(text).map_err(|errors| {
            use miette::Diagnostic as _;
            errors
                .iter()
                .map(|e| {
                    let offset = e.labels().and_then(|mut l| l.next()).map(|l| l.offset());
                    (offset, e.to_string())
                })
                .collect::<Vec<_>>()
        })?;
        Ok(Self {
            set,
            authorizer: Authorizer::new(),
            api_id: api_id.to_owned(),
            stage: stage.to_owned(),
        })
    }

    fn name(&self, id: &PolicyId) -> String {
        self.set
            .policy(id)
            .and_then(|p| p.annotation("id").map(str::to_owned))
            .unwrap_or_else(|| id.to_string())
    }

    /// Decides a request; with `trace`, also every policy's part in it.
    pub fn decide(
        &self,
        keys: &RequestKeys<'_>,
        trace: bool,
    ) -> Result<(Outcome, Vec<CedarTrace>), String> {
        let ctx = keys.ctx;
        let resource_name = ctx.resource.as_deref().unwrap_or("-");
        let method = ctx.method.as_str();
        let bad = |what: &str| format!("cedar: cannot build the {what}");

        let mut entities = Vec::new();
        let principal = match keys.principal() {
            Some(p) => {
                let puid = uid("Portcullis::User", &p.sub).ok_or_else(|| bad("principal"))?;
                let mut parents = HashSet::new();
                for g in &p.groups {
                    parents.insert(uid("Portcullis::Group", g).ok_or_else(|| bad("group"))?);
                }
                if let Some(r) = &p.role {
                    parents.insert(uid("Portcullis::Role", r).ok_or_else(|| bad("role"))?);
                }
                let mut attrs = HashMap::new();
                attrs.insert(
                    "sub".to_owned(),
                    RestrictedExpression::new_string(p.sub.clone()),
                );
                if let Some(u) = &p.username {
                    attrs.insert(
                        "username".to_owned(),
                        RestrictedExpression::new_string(u.clone()),
                    );
                }
                if let Some(r) = &p.role {
                    attrs.insert(
                        "role".to_owned(),
                        RestrictedExpression::new_string(r.clone()),
                    );
                }
                attrs.insert(
                    "groups".to_owned(),
                    RestrictedExpression::new_set(
                        p.groups
                            .iter()
                            .map(|g| RestrictedExpression::new_string(g.clone())),
                    ),
                );
                let scopes: Vec<RestrictedExpression> = p
                    .scopes
                    .iter()
                    .map(|x| RestrictedExpression::new_string(x.clone()))
                    .collect();
                attrs.insert("scopes".to_owned(), RestrictedExpression::new_set(scopes));
                let claims = RestrictedExpression::new_record(
                    p.claims
                        .iter()
                        .filter_map(|(k, v)| claim_value(v).map(|e| (k.clone(), e))),
                )
                .map_err(|e| format!("cedar: claims: {e}"))?;
                attrs.insert("claims".to_owned(), claims);
                entities.push(
                    Entity::new(puid.clone(), attrs, parents)
                        .map_err(|e| format!("cedar: principal: {e}"))?,
                );
                puid
            }
            None => uid("Portcullis::Anonymous", "anonymous").ok_or_else(|| bad("principal"))?,
        };
        let method_action = uid("Portcullis::Action", method).ok_or_else(|| bad("action"))?;
        let action = uid("Portcullis::Action", &format!("{method} {resource_name}"))
            .ok_or_else(|| bad("action"))?;
        entities.push(
            Entity::new(
                action.clone(),
                HashMap::new(),
                HashSet::from([method_action.clone()]),
            )
            .map_err(|e| format!("cedar: action: {e}"))?,
        );
        entities.push(Entity::new_no_attrs(method_action, HashSet::new()));
        let resource = uid("Portcullis::Route", resource_name).ok_or_else(|| bad("resource"))?;
        let params = RestrictedExpression::new_record(
            ctx.path_params
                .iter()
                .map(|(k, v)| (k.to_string(), RestrictedExpression::new_string(v.clone()))),
        )
        .map_err(|e| format!("cedar: params: {e}"))?;
        let rattrs = HashMap::from([
            (
                "path".to_owned(),
                RestrictedExpression::new_string(
                    ctx.canonical_path()
                        .map(|p| portcullis_core::arn_path(&p))
                        .ok_or_else(|| bad("path"))?,
                ),
            ),
            (
                "method".to_owned(),
                RestrictedExpression::new_string(method.to_owned()),
            ),
            (
                "api".to_owned(),
                RestrictedExpression::new_string(self.api_id.clone()),
            ),
            (
                "stage".to_owned(),
                RestrictedExpression::new_string(self.stage.clone()),
            ),
            ("params".to_owned(), params),
        ]);
        entities.push(
            Entity::new(resource.clone(), rattrs, HashSet::new())
                .map_err(|e| format!("cedar: resource: {e}"))?,
        );
        let mut pairs = vec![
            (
                "sourceIp".to_owned(),
                RestrictedExpression::new_ip(ctx.source_ip.to_canonical().to_string()),
            ),
            (
                "time".to_owned(),
                RestrictedExpression::new_long(i64::try_from(ctx.epoch_ms / 1000).unwrap_or(0)),
            ),
            ("secure".to_owned(), RestrictedExpression::new_bool(ctx.tls)),
        ];
        if let Some(ua) = ctx.user_agent() {
            pairs.push((
                "userAgent".to_owned(),
                RestrictedExpression::new_string(ua.to_owned()),
            ));
        }
        let context =
            CedarContext::from_pairs(pairs).map_err(|e| format!("cedar: context: {e}"))?;
        let request = Request::new(principal, action, resource, context, None)
            .map_err(|e| format!("cedar: request: {e}"))?;
        let entities =
            Entities::from_entities(entities, None).map_err(|e| format!("cedar: entities: {e}"))?;
        let response = self
            .authorizer
            .is_authorized(&request, &self.set, &entities);
        let reasons: HashSet<&PolicyId> = response.diagnostics().reason().collect();
        let outcome = match response.decision() {
            Decision::Allow => Outcome::Allow,
            Decision::Deny => {
                let forbidden = reasons.iter().any(|id| {
                    self.set
                        .policy(id)
                        .is_some_and(|p| p.effect() == Effect::Forbid)
                });
                if forbidden {
                    Outcome::ExplicitDeny
                } else {
                    Outcome::ImplicitDeny
                }
            }
        };
        for e in response.diagnostics().errors() {
            tracing::debug!(error = %e, "cedar: a policy could not be evaluated and was skipped");
        }
        let traces = if trace {
            self.set
                .policies()
                .map(|p| CedarTrace {
                    id: self.name(p.id()),
                    effect: match p.effect() {
                        Effect::Permit => "permit",
                        Effect::Forbid => "forbid",
                    },
                    determining: reasons.contains(p.id()),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok((outcome, traces))
    }

    /// The id of the first determining policy, for summaries.
    pub fn first_reason(traces: &[CedarTrace]) -> Option<&str> {
        traces.iter().find(|t| t.determining).map(|t| t.id.as_str())
    }
}
