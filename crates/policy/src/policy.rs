//! IAM policy documents: compiled once, evaluated per request.
//!
//! A document is `{"Version": ..., "Id": ..., "Statement": <object or list>}`; a statement
//! has `Sid`, `Effect` (`Allow`/`Deny`), exactly one of `Action`/`NotAction`, exactly one of
//! `Resource`/`NotResource`, for resource policies exactly one of `Principal`/
//! `NotPrincipal`, and an optional `Condition`. Every other key, a missing element, an
//! unknown operator or condition key, or a value of the wrong shape is a load error that
//! names its position: a policy never loads into something that allows more than was
//! written.

use std::sync::Arc;

use crate::condition::{Condition, Operator};
use crate::context::Context;
use crate::pattern::Pattern;
use crate::tree::{Node, PolicyError, Pos, Tree};

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else grants.
    Deny,
}

impl Effect {
    /// `Allow` / `Deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// Which kind of policy a document is: they differ in the `Principal` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a role or returned by an authorizer: no `Principal`.
    Identity,
    /// Attached to the API: `Principal` or `NotPrincipal` required.
    Resource,
}

/// The parts of execute-api ARNs that the `execute-api:/stage/VERB/path` shorthand of
/// resource policies leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnBase {
    /// `aws`.
    pub partition: String,
    /// `us-east-1`.
    pub region: String,
    /// The 12-digit account.
    pub account: String,
    /// The API id.
    pub api_id: String,
}

/// The execute-api actions.
const EXECUTE_API_ACTIONS: &[&str] = &[
    "execute-api:invoke",
    "execute-api:invalidatecache",
    "execute-api:manageconnections",
];

/// Action, resource or principal patterns, or their `Not` forms.
#[derive(Debug, Clone, PartialEq)]
struct Matcher {
    patterns: Vec<Pattern>,
    negated: bool,
}

impl Matcher {
    fn matches(&self, text: &str, ctx: &dyn Context) -> bool {
        self.patterns.iter().any(|p| p.matches(text, ctx)) != self.negated
    }

    /// For principals: whether the request's caller is covered. Anonymous callers match
    /// only a `*` principal (and every NotPrincipal that does not name `*`).
    fn covers_caller(&self, req: &Request<'_>) -> bool {
        match req.principal {
            Some(who) => self.matches(who, req.context),
            None => self.patterns.iter().any(Pattern::is_any) != self.negated,
        }
    }

    fn describe(&self, element: &str) -> String {
        let list: Vec<&str> = self.patterns.iter().map(Pattern::as_str).collect();
        format!(
            "{}{element} {list:?}",
            if self.negated { "Not" } else { "" }
        )
    }
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `Sid`, if given.
    pub sid: Option<Arc<str>>,
    /// `Allow` or `Deny`.
    pub effect: Effect,
    actions: Matcher,
    resources: Matcher,
    /// `None` in identity policies; `Principal: "*"` compiles to a pattern `*`.
    principals: Option<Matcher>,
    conditions: Vec<Condition>,
    /// Where the statement starts.
    pub pos: Pos,
}

/// What a request is evaluated as.
pub struct Request<'a> {
    /// The action, e.g. `execute-api:Invoke` (compared case-insensitively).
    pub action: &'a str,
    /// The resource: the request's own method ARN.
    pub resource: &'a str,
    /// The caller's principal ARN, `None` for anonymous callers (who match only `*`).
    pub principal: Option<&'a str>,
    /// Condition keys and policy variables.
    pub context: &'a dyn Context,
}

/// Why a statement did or did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applies {
    /// Every element matched.
    Yes,
    /// The action is not covered.
    Action(String),
    /// The resource is not covered.
    Resource(String),
    /// The principal is not covered.
    Principal(String),
    /// A condition is false.
    Condition(String),
}

impl Statement {
    /// Whether the statement applies to the request, and if not, the first element that
    /// failed.
    pub fn applies(&self, req: &Request<'_>, action_lower: &str) -> Applies {
        if !self.actions.matches(action_lower, req.context) {
            return Applies::Action(format!(
                "{} does not cover {}",
                self.actions.describe("Action"),
                req.action
            ));
        }
        if !self.resources.matches(req.resource, req.context) {
            return Applies::Resource(format!(
                "{} does not cover {}",
                self.resources.describe("Resource"),
                req.resource
            ));
        }
        if let Some(p) = &self.principals
            && !p.covers_caller(req)
        {
            return Applies::Principal(format!(
                "{} does not cover {}",
                p.describe("Principal"),
                req.principal.unwrap_or("an anonymous caller")
            ));
        }
        for c in &self.conditions {
            if !c.holds(req.context) {
                return Applies::Condition(format!("condition {} is false", c.describe()));
            }
        }
        Applies::Yes
    }

    fn applies_fast(&self, req: &Request<'_>, action_lower: &str) -> bool {
        self.actions.matches(action_lower, req.context)
            && self.resources.matches(req.resource, req.context)
            && self
                .principals
                .as_ref()
                .is_none_or(|p| p.covers_caller(req))
            && self.conditions.iter().all(|c| c.holds(req.context))
    }
}

/// A compiled policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The name it is known by (a file, or `roles.admin[0]`), for explanations.
    pub name: Arc<str>,
    /// `Id`, if given.
    pub id: Option<String>,
    /// Identity or resource policy.
    pub kind: PolicyKind,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An applicable Allow and no applicable Deny.
    Allow,
    /// An applicable Deny.
    ExplicitDeny,
    /// Nothing applicable allows.
    ImplicitDeny,
}

impl Outcome {
    /// `Allow`, `ExplicitDeny`, `ImplicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "Allow",
            Outcome::ExplicitDeny => "ExplicitDeny",
            Outcome::ImplicitDeny => "ImplicitDeny",
        }
    }

    /// Whether the request may proceed.
    pub fn allowed(self) -> bool {
        self == Outcome::Allow
    }
}

/// A statement, by policy name and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// The policy's name.
    pub policy: Arc<str>,
    /// The statement's index in the policy.
    pub index: usize,
    /// Its `Sid`.
    pub sid: Option<Arc<str>>,
    /// Its effect.
    pub effect: Effect,
}

/// An evaluation's result: the outcome and the statement that decided it (none for an
/// implicit deny).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow, explicit deny or implicit deny.
    pub outcome: Outcome,
    /// The deciding statement: the first applicable Deny, else the first applicable Allow.
    pub decided_by: Option<StatementRef>,
}

/// One statement's part in an explained evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// Which statement.
    pub statement: StatementRef,
    /// Whether it applied, and why not.
    pub applies: Applies,
}

/// An evaluation with every statement's part in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The decision.
    pub decision: Decision,
    /// Every statement considered, in order.
    pub statements: Vec<Trace>,
}

fn statement_ref(p: &Policy, i: usize, s: &Statement) -> StatementRef {
    StatementRef {
        policy: p.name.clone(),
        index: i,
        sid: s.sid.clone(),
        effect: s.effect,
    }
}

/// Evaluates the request against every statement of `policies`: an applicable Deny wins,
/// else an applicable Allow allows, else the request is implicitly denied.
pub fn evaluate<'p>(policies: impl IntoIterator<Item = &'p Policy>, req: &Request<'_>) -> Decision {
    let action = lower(req.action);
    let mut allow: Option<StatementRef> = None;
    for p in policies {
        for (i, s) in p.statements.iter().enumerate() {
            if allow.is_some() && s.effect == Effect::Allow {
                continue;
            }
            if s.applies_fast(req, &action) {
                match s.effect {
                    Effect::Deny => {
                        return Decision {
                            outcome: Outcome::ExplicitDeny,
                            decided_by: Some(statement_ref(p, i, s)),
                        };
                    }
                    Effect::Allow => allow = Some(statement_ref(p, i, s)),
                }
            }
        }
    }
    match allow {
        Some(s) => Decision {
            outcome: Outcome::Allow,
            decided_by: Some(s),
        },
        None => Decision {
            outcome: Outcome::ImplicitDeny,
            decided_by: None,
        },
    }
}

/// [`evaluate`], recording every statement's part.
pub fn explain<'p>(
    policies: impl IntoIterator<Item = &'p Policy>,
    req: &Request<'_>,
) -> Explanation {
    let action = lower(req.action);
    let mut statements = Vec::new();
    let mut deny = None;
    let mut allow = None;
    for p in policies {
        for (i, s) in p.statements.iter().enumerate() {
            let applies = s.applies(req, &action);
            let r = statement_ref(p, i, s);
            if applies == Applies::Yes {
                match s.effect {
                    Effect::Deny => {
                        deny.get_or_insert_with(|| r.clone());
                    }
                    Effect::Allow => {
                        allow.get_or_insert_with(|| r.clone());
                    }
                }
            }
            statements.push(Trace {
                statement: r,
                applies,
            });
        }
    }
    let decision = match (deny, allow) {
        (Some(d), _) => Decision {
            outcome: Outcome::ExplicitDeny,
            decided_by: Some(d),
        },
        (None, Some(a)) => Decision {
            outcome: Outcome::Allow,
            decided_by: Some(a),
        },
        (None, None) => Decision {
            outcome: Outcome::ImplicitDeny,
            decided_by: None,
        },
    };
    Explanation {
        decision,
        statements,
    }
}

fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(s.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Combines an authorizer's (or role policy's) outcome with the API's resource policy, as
/// API Gateway does within one account: any explicit Deny denies; otherwise an Allow from
/// either side suffices; neither allowing is an implicit deny.
pub fn combine(authorizer: Outcome, resource_policy: Option<Outcome>) -> Outcome {
    match (authorizer, resource_policy) {
        (Outcome::ExplicitDeny, _) | (_, Some(Outcome::ExplicitDeny)) => Outcome::ExplicitDeny,
        (Outcome::Allow, _) | (_, Some(Outcome::Allow)) => Outcome::Allow,
        _ => Outcome::ImplicitDeny,
    }
}

// ---- compiling ----

struct Compiler<'a> {
    errors: Vec<PolicyError>,
    variables: bool,
    kind: PolicyKind,
    base: Option<&'a ArnBase>,
}

impl Compiler<'_> {
    fn error(&mut self, pos: Pos, path: &str, message: impl Into<String>, help: impl Into<String>) {
        self.errors.push(PolicyError {
            pos,
            path: path.to_owned(),
            message: message.into(),
            help: help.into(),
        });
    }

    /// A string or a non-empty list of strings.
    fn strings(&mut self, node: &Node, path: &str) -> Option<Vec<(String, Pos)>> {
        let out = match &node.value {
            Tree::Str(s) => vec![(s.clone(), node.pos)],
            Tree::List(items) => {
                let mut out = Vec::new();
                for (i, n) in items.iter().enumerate() {
                    match &n.value {
                        Tree::Str(s) => out.push((s.clone(), n.pos)),
                        _ => {
                            self.error(
                                n.pos,
                                &format!("{path}[{i}]"),
                                format!("expected a string, found {}", n.kind()),
                                "write the value in quotes",
                            );
                            return None;
                        }
                    }
                }
                out
            }
            _ => {
                self.error(
                    node.pos,
                    path,
                    format!(
                        "expected a string or a list of strings, found {}",
                        node.kind()
                    ),
                    "e.g. \"execute-api:Invoke\" or [\"a\", \"b\"]",
                );
                return None;
            }
        };
        if out.is_empty() {
            self.error(
                node.pos,
                path,
                "the list is empty",
                "name at least one value",
            );
            return None;
        }
        Some(out)
    }

    fn actions(&mut self, node: &Node, path: &str, negated: bool) -> Option<Matcher> {
        let mut patterns = Vec::new();
        for (text, pos) in self.strings(node, path)? {
            let lower = text.to_ascii_lowercase();
            let valid = lower == "*"
                || match lower.split_once(':') {
                    Some((service, name)) => {
                        !service.is_empty()
                            && !name.is_empty()
                            && !service.contains(['*', '?'])
                            && (service != "execute-api" || {
                                let p = Pattern::compile(&lower, false, true).ok();
                                let ctx = crate::context::MapContext::default();
                                p.is_some_and(|p| {
                                    EXECUTE_API_ACTIONS.iter().any(|a| p.matches(a, &ctx))
                                })
                            })
                    }
                    None => false,
                };
            if !valid {
                self.error(
                    pos,
                    path,
                    format!("`{text}` is not an action"),
                    "write service:action, e.g. execute-api:Invoke (execute-api actions: Invoke, InvalidateCache, ManageConnections, or *)",
                );
                continue;
            }
            match Pattern::compile(&text, false, true) {
                Ok(p) => patterns.push(p),
                Err(e) => self.error(pos, path, e, "fix the pattern"),
            }
        }
        Some(Matcher { patterns, negated })
    }

    fn resources(&mut self, node: &Node, path: &str, negated: bool) -> Option<Matcher> {
        let mut patterns = Vec::new();
        for (text, pos) in self.strings(node, path)? {
            let expanded = if let Some(rest) = text.strip_prefix("execute-api:/") {
                match self.base {
                    Some(b) => format!(
                        "arn:{}:execute-api:{}:{}:{}/{rest}",
                        b.partition, b.region, b.account, b.api_id
                    ),
                    None => {
                        self.error(
                            pos,
                            path,
                            format!("`{text}`: the execute-api:/ shorthand needs the API's identity"),
                            "write the full ARN, arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH",
                        );
                        continue;
                    }
                }
            } else if text == "*" || text.starts_with("arn:") {
                text.clone()
            } else {
                self.error(
                    pos,
                    path,
                    format!("`{text}` is not a resource ARN"),
                    "write arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH (wildcards allowed), or *",
                );
                continue;
            };
            // IAM matches the service segment literally: a wildcard there would let this
            // pattern match more (on an Allow: grant more) than AWS does.
            if expanded
                .split(':')
                .nth(2)
                .is_some_and(|service| service.contains(['*', '?']))
            {
                self.error(
                    pos,
                    path,
                    format!("`{text}`: the service segment of an ARN cannot hold a wildcard"),
                    "IAM matches the service literally: write execute-api",
                );
                continue;
            }
            if expanded.len() > 1600 {
                self.error(
                    pos,
                    path,
                    "the ARN is longer than 1600 characters",
                    "shorten it",
                );
                continue;
            }
            match Pattern::compile(&expanded, self.variables, false) {
                Ok(p) => patterns.push(p),
                Err(e) => self.error(pos, path, e, "fix the pattern"),
            }
        }
        Some(Matcher { patterns, negated })
    }

    fn principals(&mut self, node: &Node, path: &str, negated: bool) -> Option<Matcher> {
        let patterns = match &node.value {
            Tree::Str(s) if s == "*" => vec![Pattern::compile("*", false, false).ok()?],
            Tree::Map(entries) => {
                let mut out = Vec::new();
                for (k, kpos, v) in entries {
                    let p = format!("{path}.{k}");
                    if k != "AWS" {
                        self.error(
                            *kpos,
                            &p,
                            format!("principal type `{k}` is not supported"),
                            "use \"*\" or {\"AWS\": [principal ARNs]}",
                        );
                        continue;
                    }
                    for (text, pos) in self.strings(v, &p)? {
                        match Pattern::compile(&text, false, false) {
                            Ok(pat) => out.push(pat),
                            Err(e) => self.error(pos, &p, e, "fix the pattern"),
                        }
                    }
                }
                out
            }
            _ => {
                self.error(
                    node.pos,
                    path,
                    format!("expected \"*\" or an object, found {}", node.kind()),
                    "use \"*\" or {\"AWS\": [principal ARNs]}",
                );
                return None;
            }
        };
        Some(Matcher { patterns, negated })
    }

    fn conditions(&mut self, node: &Node, path: &str) -> Vec<Condition> {
        let mut out = Vec::new();
        let Tree::Map(ops) = &node.value else {
            self.error(
                node.pos,
                path,
                format!("expected an object of operators, found {}", node.kind()),
                "e.g. {\"IpAddress\": {\"aws:SourceIp\": \"203.0.113.0/24\"}}",
            );
            return out;
        };
        for (opname, oppos, keys) in ops {
            let p = format!("{path}.{opname}");
            let op = match Operator::parse(opname) {
                Ok(op) => op,
                Err(e) => {
                    self.error(*oppos, &p, e, "see the IAM condition operators");
                    continue;
                }
            };
            let Tree::Map(keys) = &keys.value else {
                self.error(
                    keys.pos,
                    &p,
                    format!(
                        "expected an object of condition keys, found {}",
                        keys.kind()
                    ),
                    "e.g. {\"aws:username\": \"alice\"}",
                );
                continue;
            };
            for (key, kpos, values) in keys {
                let kp = format!("{p}.{key}");
                let texts: Option<Vec<String>> = match &values.value {
                    Tree::List(items) => items.iter().map(Node::scalar).collect(),
                    _ => values.scalar().map(|s| vec![s]),
                };
                let Some(texts) = texts else {
                    self.error(
                        values.pos,
                        &kp,
                        "expected a value or a list of values",
                        "strings, numbers or booleans",
                    );
                    continue;
                };
                match Condition::compile(&op, key, &texts, self.variables, *kpos) {
                    Ok(c) => out.push(c),
                    Err(e) => self.error(*kpos, &kp, e, "fix the condition"),
                }
            }
        }
        out
    }

    fn statement(&mut self, node: &Node, path: &str) -> Option<Statement> {
        let Tree::Map(entries) = &node.value else {
            self.error(
                node.pos,
                path,
                format!("expected a statement object, found {}", node.kind()),
                "a statement has Effect, Action and Resource",
            );
            return None;
        };
        const KEYS: &[&str] = &[
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
        ];
        let before = self.errors.len();
        let mut sid = None;
        let mut effect = None;
        let mut actions = None;
        let mut resources = None;
        let mut principals = None;
        let mut conditions = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (k, kpos, v) in entries {
            let p = format!("{path}.{k}");
            let Some(known) = KEYS.iter().find(|x| **x == k.as_str()) else {
                let hint = crate::suggest(k, KEYS)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("known keys: {}", KEYS.join(", ")));
                self.error(*kpos, &p, format!("unknown statement key `{k}`"), hint);
                continue;
            };
            let pair = |a: &str| -> Option<&'static str> {
                match a {
                    "Action" => Some("NotAction"),
                    "NotAction" => Some("Action"),
                    "Resource" => Some("NotResource"),
                    "NotResource" => Some("Resource"),
                    "Principal" => Some("NotPrincipal"),
                    "NotPrincipal" => Some("Principal"),
                    _ => None,
                }
            };
            if let Some(other) = pair(known)
                && seen.contains(&other)
            {
                self.error(
                    *kpos,
                    &p,
                    format!("a statement has {known} or {other}, not both"),
                    "remove one of them",
                );
                continue;
            }
            seen.push(known);
            match *known {
                "Sid" => match &v.value {
                    Tree::Str(s) => sid = Some(Arc::from(s.as_str())),
                    _ => self.error(v.pos, &p, "Sid must be a string", "e.g. \"AllowReads\""),
                },
                "Effect" => match &v.value {
                    Tree::Str(s) if s == "Allow" => effect = Some(Effect::Allow),
                    Tree::Str(s) if s == "Deny" => effect = Some(Effect::Deny),
                    _ => self.error(
                        v.pos,
                        &p,
                        format!(
                            "Effect must be \"Allow\" or \"Deny\", found {}",
                            v.scalar()
                                .map_or_else(|| v.kind().to_owned(), |s| format!("`{s}`"))
                        ),
                        "write Allow or Deny, capitalised",
                    ),
                },
                "Action" | "NotAction" => actions = self.actions(v, &p, *known == "NotAction"),
                "Resource" | "NotResource" => {
                    resources = self.resources(v, &p, *known == "NotResource");
                }
                "Principal" | "NotPrincipal" => {
                    if self.kind == PolicyKind::Identity {
                        self.error(
                            *kpos,
                            &p,
                            format!("{known} belongs in resource policies"),
                            "remove it: an identity policy applies to whoever holds it",
                        );
                        continue;
                    }
                    principals = self.principals(v, &p, *known == "NotPrincipal");
                }
                _ => conditions = self.conditions(v, &p),
            }
        }
        if effect.is_none() && !seen.contains(&"Effect") {
            self.error(
                node.pos,
                path,
                "the statement has no Effect",
                "add \"Effect\": \"Allow\" or \"Deny\"",
            );
        }
        if !seen.contains(&"Action") && !seen.contains(&"NotAction") {
            self.error(
                node.pos,
                path,
                "the statement has no Action or NotAction",
                "add \"Action\": \"execute-api:Invoke\"",
            );
        }
        if !seen.contains(&"Resource") && !seen.contains(&"NotResource") {
            self.error(
                node.pos,
                path,
                "the statement has no Resource or NotResource",
                "add a Resource with the execute-api ARNs it covers",
            );
        }
        if self.kind == PolicyKind::Resource
            && !seen.contains(&"Principal")
            && !seen.contains(&"NotPrincipal")
        {
            self.error(
                node.pos,
                path,
                "a resource policy statement needs a Principal",
                "add \"Principal\": \"*\"",
            );
        }
        if self.errors.len() > before {
            return None;
        }
        Some(Statement {
            sid,
            effect: effect?,
            actions: actions?,
            resources: resources?,
            principals,
            conditions,
            pos: node.pos,
        })
    }
}

impl Policy {
    /// Compiles a policy document. `name` identifies it in explanations; `base` expands the
    /// `execute-api:/...` resource shorthand. Returns every problem found.
    pub fn compile(
        name: &str,
        node: &Node,
        kind: PolicyKind,
        base: Option<&ArnBase>,
    ) -> Result<Self, Vec<PolicyError>> {
        // Without a Version, IAM reads a policy as 2008-10-17: `${...}` is literal text.
        let mut c = Compiler {
            errors: Vec::new(),
            variables: false,
            kind,
            base,
        };
        let Tree::Map(entries) = &node.value else {
            c.error(
                node.pos,
                "",
                format!("a policy document is an object, found {}", node.kind()),
                "{\"Version\": \"2012-10-17\", \"Statement\": [...]}",
            );
            return Err(c.errors);
        };
        const KEYS: &[&str] = &["Version", "Id", "Statement"];
        let mut statement_node = None;
        let mut id = None;
        for (k, kpos, v) in entries {
            match k.as_str() {
                "Version" => match v.scalar().as_deref() {
                    Some("2012-10-17") => c.variables = true,
                    Some("2008-10-17") => c.variables = false,
                    _ => c.error(
                        v.pos,
                        "Version",
                        "Version must be \"2012-10-17\" or \"2008-10-17\"",
                        "use \"2012-10-17\" (policy variables need it)",
                    ),
                },
                "Id" => id = v.scalar(),
                "Statement" => statement_node = Some(v),
                other => {
                    let hint = crate::suggest(other, KEYS)
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "a document has Version, Id and Statement".into());
                    c.error(*kpos, other, format!("unknown policy key `{other}`"), hint);
                }
            }
        }
        let mut statements = Vec::new();
        match statement_node.map(|n| (n, &n.value)) {
            None => c.error(
                node.pos,
                "Statement",
                "the policy has no Statement",
                "add \"Statement\": [...]",
            ),
            Some((n, Tree::Map(_))) => {
                if let Some(s) = c.statement(n, "Statement") {
                    statements.push(s);
                }
            }
            Some((_, Tree::List(items))) => {
                for (i, n) in items.iter().enumerate() {
                    if let Some(s) = c.statement(n, &format!("Statement[{i}]")) {
                        statements.push(s);
                    }
                }
            }
            Some((n, _)) => c.error(
                n.pos,
                "Statement",
                format!("Statement must be an object or a list, found {}", n.kind()),
                "Statement: [{\"Effect\": ..., \"Action\": ..., \"Resource\": ...}]",
            ),
        }
        if !c.errors.is_empty() {
            return Err(c.errors);
        }
        Ok(Self {
            name: Arc::from(name),
            id,
            kind,
            statements,
        })
    }

    /// Compiles a policy given as JSON (an authorizer's answer): no positions.
    pub fn from_json(
        name: &str,
        value: &serde_json::Value,
        kind: PolicyKind,
        base: Option<&ArnBase>,
    ) -> Result<Self, Vec<PolicyError>> {
        Self::compile(name, &Node::from_json(value), kind, base)
    }
}
