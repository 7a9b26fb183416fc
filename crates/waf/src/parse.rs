//! Reading web ACLs, rule groups, IP sets and regex pattern sets in AWS WAF's own JSON
//! shape (what `aws wafv2 get-web-acl` prints), into the compiled forms of [`crate::acl`].
//!
//! Every problem is reported with its JSON path, all in one pass. Options that would
//! change behaviour and are not supported are problems too, never silently ignored.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::acl::{
    Action, AggregateKey, Comparison, CustomResponse, Forwarded, GeoMatch, GroupRef, Inspect,
    IpPosition, LabelScope, Position, RateBased, Rule, RuleAction, RuleGroup, Sensitivity,
    Statement, WebAcl,
};
use crate::field::{Field, Invalid, JsonBody, Multi, Names, Oversize, Scope};
use crate::ipset::IpSet;
use crate::rate::RateRegistry;
use crate::transform::Transformation;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A member.
    Key(String),
    /// An element.
    Index(usize),
}

/// A problem found while reading, at a JSON path inside the object read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub path: Vec<Seg>,
    /// What.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_path(f, &self.path)?;
        write!(f, ": {}", self.message)
    }
}

/// Writes a path as `Rules[0].Statement`.
pub fn write_path(f: &mut impl fmt::Write, path: &[Seg]) -> fmt::Result {
    let mut first = true;
    for seg in path {
        match seg {
            Seg::Key(k) if first => f.write_str(k)?,
            Seg::Key(k) => write!(f, ".{k}")?,
            Seg::Index(i) => write!(f, "[{i}]")?,
        }
        first = false;
    }
    if first {
        f.write_str("(top)")?;
    }
    Ok(())
}

/// The named objects web ACLs refer to, and what compiling needs.
#[derive(Debug, Default)]
pub struct Catalog {
    /// The account in fully qualified label names (`awswaf:ACCOUNT:webacl:...`).
    pub account: String,
    /// IP sets by name.
    pub ip_sets: HashMap<String, Arc<IpSet>>,
    /// Regex pattern sets by name.
    pub regex_sets: HashMap<String, Arc<regex::bytes::RegexSet>>,
    /// Rule groups by name.
    pub rule_groups: HashMap<String, Arc<RuleGroup>>,
    /// Whether a country database is configured (`GeoMatchStatement` needs one).
    pub geo: bool,
    /// Where rate-based rules keep their counters across reloads.
    pub rates: RateRegistry,
    /// The addresses of the IP reputation managed group, when a list is configured.
    pub ip_reputation: Option<Arc<IpSet>>,
}

/// The most transformations in one statement, the longest search string and regex.
const MAX_TRANSFORMATIONS: usize = 10;
const MAX_SEARCH: usize = 200;
const MAX_REGEX: usize = 512;
const MAX_REGEX_COMPILED: usize = 1 << 20;
const MAX_BODY: usize = 4 * 1024;
const MAX_DEPTH: usize = 20;

/// Reads an IP set (`{"Addresses": [...], "IPAddressVersion": "IPV4"}`, or what
/// `get-ip-set` prints).
pub fn ip_set(value: &Value) -> Result<IpSet, Vec<Problem>> {
    let mut cx = Cx::new(None);
    let value = unwrap_output(value, "IPSet");
    let set = cx.ip_set(value, &Path::ROOT);
    cx.finish(set)
}

/// Reads a regex pattern set (`{"RegularExpressionList": [{"RegexString": ...}]}`).
pub fn regex_set(value: &Value) -> Result<regex::bytes::RegexSet, Vec<Problem>> {
    let mut cx = Cx::new(None);
    let value = unwrap_output(value, "RegexPatternSet");
    let set = cx.regex_set(value, &Path::ROOT);
    cx.finish(set)
}

/// Reads a rule group named `name` (its `Name` field, when present, must agree).
pub fn rule_group(value: &Value, name: &str, catalog: &Catalog) -> Result<RuleGroup, Vec<Problem>> {
    let mut cx = Cx::new(Some(catalog));
    let value = unwrap_output(value, "RuleGroup");
    let group = cx.rule_group(value, name, &Path::ROOT);
    cx.finish(group)
}

/// Reads a web ACL named `name`.
pub fn web_acl(value: &Value, name: &str, catalog: &Catalog) -> Result<WebAcl, Vec<Problem>> {
    let mut cx = Cx::new(Some(catalog));
    let value = unwrap_output(value, "WebACL");
    let acl = cx.web_acl(value, name, &Path::ROOT);
    cx.finish(acl)
}

/// The object inside AWS CLI output (`{"WebACL": {...}, "LockToken": "..."}`), or the value.
fn unwrap_output<'v>(value: &'v Value, key: &str) -> &'v Value {
    match value.as_object() {
        Some(o)
            if o.contains_key(key)
                && o.keys()
                    .all(|k| k == key || OUTPUT_EXTRAS.contains(&k.as_str())) =>
        {
            o.get(key).unwrap_or(value)
        }
        _ => value,
    }
}

const OUTPUT_EXTRAS: &[&str] = &["LockToken", "ApplicationIntegrationURL"];

/// A JSON path as a linked list on the stack.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: PathSeg<'a>,
}

#[derive(Clone, Copy)]
enum PathSeg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    const ROOT: Path<'static> = Path {
        parent: None,
        seg: PathSeg::Root,
    };

    fn key(&'a self, k: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: PathSeg::Key(k),
        }
    }

    fn index(&'a self, i: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: PathSeg::Index(i),
        }
    }

    fn to_vec(self) -> Vec<Seg> {
        let mut out = Vec::new();
        let mut at = Some(&self);
        while let Some(p) = at {
            match p.seg {
                PathSeg::Root => {}
                PathSeg::Key(k) => out.push(Seg::Key(k.to_owned())),
                PathSeg::Index(i) => out.push(Seg::Index(i)),
            }
            at = p.parent;
        }
        out.reverse();
        out
    }
}

/// Which kind of rule list is being read: a web ACL's or a rule group's.
#[derive(Clone, Copy)]
struct Owner<'a> {
    /// `webacl` or `rulegroup`.
    kind: &'a str,
    name: &'a str,
    bodies: &'a HashMap<String, (&'static str, Arc<str>)>,
}

struct Cx<'c> {
    catalog: Option<&'c Catalog>,
    problems: Vec<Problem>,
}

impl<'c> Cx<'c> {
    fn new(catalog: Option<&'c Catalog>) -> Self {
        Self {
            catalog,
            problems: Vec::new(),
        }
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, Vec<Problem>> {
        match value {
            Some(v) if self.problems.is_empty() => Ok(v),
            _ => Err(self.problems),
        }
    }

    fn problem(&mut self, path: &Path<'_>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_vec(),
            message: message.into(),
        });
    }

    /// An object whose keys are all in `known`; unknown keys are problems.
    fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &Path<'_>,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(o) = v.as_object() else {
            self.problem(path, "must be an object");
            return None;
        };
        for k in o.keys() {
            if !known.contains(&k.as_str()) {
                let message = match UNSUPPORTED.iter().find(|(name, _)| name == k) {
                    Some((_, why)) => format!("`{k}` is not supported: {why}"),
                    None => format!("unknown field `{k}` (expected one of {})", known.join(", ")),
                };
                self.problem(&path.key(k), message);
            }
        }
        Some(o)
    }

    /// An object with exactly one key among `known`: that key and its value.
    fn one_of<'v>(
        &mut self,
        v: &'v Value,
        path: &Path<'_>,
        known: &[&str],
        what: &str,
    ) -> Option<(&'v str, &'v Value)> {
        let o = self.object(v, path, known)?;
        let mut present = o.iter().filter(|(k, _)| known.contains(&k.as_str()));
        match (present.next(), present.next()) {
            (Some((k, v)), None) => Some((k.as_str(), v)),
            (None, _) => {
                if o.is_empty() {
                    self.problem(path, format!("needs one {what}: {}", known.join(", ")));
                }
                None
            }
            (Some(_), Some(_)) => {
                self.problem(path, format!("must hold exactly one {what}"));
                None
            }
        }
    }

    fn required<'v>(
        &mut self,
        o: &'v Map<String, Value>,
        path: &Path<'_>,
        key: &str,
    ) -> Option<&'v Value> {
        let v = o.get(key);
        if v.is_none() {
            self.problem(path, format!("`{key}` is required"));
        }
        v
    }

    fn string<'v>(&mut self, v: &'v Value, path: &Path<'_>) -> Option<&'v str> {
        let s = v.as_str();
        if s.is_none() {
            self.problem(path, "must be a string");
        }
        s
    }

    fn req_string<'v>(
        &mut self,
        o: &'v Map<String, Value>,
        path: &Path<'_>,
        key: &str,
    ) -> Option<&'v str> {
        let v = self.required(o, path, key)?;
        self.string(v, &path.key(key))
    }

    fn integer(&mut self, v: &Value, path: &Path<'_>, min: i64, max: i64) -> Option<i64> {
        match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.problem(path, format!("must be an integer from {min} to {max}"));
                None
            }
        }
    }

    fn enumerated<T: Copy>(
        &mut self,
        v: &Value,
        path: &Path<'_>,
        options: &[(&str, T)],
    ) -> Option<T> {
        let s = self.string(v, path)?;
        match options.iter().find(|(name, _)| *name == s) {
            Some((_, t)) => Some(*t),
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.problem(path, format!("`{s}` is not one of {}", names.join(", ")));
                None
            }
        }
    }

    fn empty_object(&mut self, v: &Value, path: &Path<'_>) {
        self.object(v, path, &[]);
    }

    /// The required list under `key`, with `min` to `max` items (`what` names them).
    fn list<'v>(
        &mut self,
        o: &'v Map<String, Value>,
        path: &Path<'_>,
        key: &str,
        (min, max): (usize, usize),
        what: &str,
    ) -> &'v [Value] {
        let Some(v) = self.required(o, path, key) else {
            return &[];
        };
        let lp = path.key(key);
        let list = self.array(v, &lp);
        if list.len() < min || list.len() > max {
            let bound = match (min, max) {
                (_, usize::MAX) => format!("at least {min}"),
                (0, _) => format!("at most {max}"),
                _ => format!("{min} to {max}"),
            };
            self.problem(&lp, format!("needs {bound} {what}"));
        }
        list
    }

    fn array<'v>(&mut self, v: &'v Value, path: &Path<'_>) -> &'v [Value] {
        match v.as_array() {
            Some(a) => a,
            None => {
                self.problem(path, "must be a list");
                &[]
            }
        }
    }

    // ---- named objects --------------------------------------------------------------

    fn ip_set(&mut self, v: &Value, path: &Path<'_>) -> Option<IpSet> {
        let o = self.object(
            v,
            path,
            &[
                "Name",
                "Id",
                "ARN",
                "Description",
                "IPAddressVersion",
                "Addresses",
            ],
        )?;
        let version = self.required(o, path, "IPAddressVersion").and_then(|v| {
            self.enumerated(
                v,
                &path.key("IPAddressVersion"),
                &[("IPV4", 4u8), ("IPV6", 6u8)],
            )
        });
        let ap = path.key("Addresses");
        let list = self.list(o, path, "Addresses", (0, 10_000), "addresses");
        let mut cidrs = Vec::new();
        for (i, a) in list.iter().enumerate() {
            let Some(text) = self.string(a, &ap.index(i)) else {
                continue;
            };
            let is_v6 = text.contains(':');
            if version.is_some_and(|ver| (ver == 6) != is_v6) {
                self.problem(
                    &ap.index(i),
                    format!("`{text}` does not belong in an IP set of this IPAddressVersion"),
                );
                continue;
            }
            match IpSet::from_cidrs([text]) {
                Ok(_) => cidrs.push(text),
                Err(e) => self.problem(&ap.index(i), e.0),
            }
        }
        IpSet::from_cidrs(cidrs).ok()
    }

    fn regex_set(&mut self, v: &Value, path: &Path<'_>) -> Option<regex::bytes::RegexSet> {
        let o = self.object(
            v,
            path,
            &["Name", "Id", "ARN", "Description", "RegularExpressionList"],
        )?;
        let lp = path.key("RegularExpressionList");
        let list = self.list(
            o,
            path,
            "RegularExpressionList",
            (1, 10),
            "regular expressions",
        );
        let mut patterns = Vec::new();
        for (i, e) in list.iter().enumerate() {
            let ep = lp.index(i);
            let Some(eo) = self.object(e, &ep, &["RegexString"]) else {
                continue;
            };
            if let Some(s) = self.req_string(eo, &ep, "RegexString")
                && self.regex(s, &ep.key("RegexString")).is_some()
            {
                patterns.push(s);
            }
        }
        regex::bytes::RegexSetBuilder::new(patterns)
            .unicode(false)
            .size_limit(MAX_REGEX_COMPILED * 10)
            .build()
            .map_err(|e| self.problem(&lp, format!("the set does not compile: {e}")))
            .ok()
    }

    fn regex(&mut self, s: &str, path: &Path<'_>) -> Option<regex::bytes::Regex> {
        if s.is_empty() || s.len() > MAX_REGEX {
            self.problem(
                path,
                format!("a regular expression is 1 to {MAX_REGEX} characters"),
            );
            return None;
        }
        regex::bytes::RegexBuilder::new(s)
            .unicode(false)
            .size_limit(MAX_REGEX_COMPILED)
            .build()
            .map_err(|e| {
                let first = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                self.problem(path, format!("not a supported regular expression: {first}"));
            })
            .ok()
    }

    fn rule_group(&mut self, v: &Value, name: &str, path: &Path<'_>) -> Option<RuleGroup> {
        let o = self.object(
            v,
            path,
            &[
                "Name",
                "Id",
                "ARN",
                "Description",
                "Capacity",
                "Rules",
                "VisibilityConfig",
                "CustomResponseBodies",
                "LabelNamespace",
                "AvailableLabels",
                "ConsumedLabels",
            ],
        )?;
        self.check_name(o, path, name);
        let bodies = self.bodies(o, path);
        let owner = Owner {
            kind: "rulegroup",
            name,
            bodies: &bodies,
        };
        let rules = match o.get("Rules") {
            Some(r) => self.rules(r, &path.key("Rules"), owner),
            None => Vec::new(),
        };
        Some(RuleGroup {
            name: Arc::from(name),
            rules,
        })
    }

    fn web_acl(&mut self, v: &Value, name: &str, path: &Path<'_>) -> Option<WebAcl> {
        let o = self.object(
            v,
            path,
            &[
                "Name",
                "Id",
                "ARN",
                "Description",
                "DefaultAction",
                "Rules",
                "VisibilityConfig",
                "CustomResponseBodies",
                "AssociationConfig",
                "Capacity",
                "LabelNamespace",
                "ManagedByFirewallManager",
                "RetrofittedByFirewallManager",
                "CaptchaConfig",
                "ChallengeConfig",
                "TokenDomains",
                "PreProcessFirewallManagerRuleGroups",
                "PostProcessFirewallManagerRuleGroups",
            ],
        )?;
        self.check_name(o, path, name);
        for fms in [
            "PreProcessFirewallManagerRuleGroups",
            "PostProcessFirewallManagerRuleGroups",
        ] {
            if let Some(v) = o.get(fms)
                && !self.array(v, &path.key(fms)).is_empty()
            {
                self.problem(
                    &path.key(fms),
                    "Firewall Manager rule groups are not supported",
                );
            }
        }
        let bodies = self.bodies(o, path);
        let owner = Owner {
            kind: "webacl",
            name,
            bodies: &bodies,
        };
        let dp = path.key("DefaultAction");
        let default_action = self.required(o, path, "DefaultAction").and_then(|v| {
            let a = self.action(v, &dp, owner)?;
            if matches!(a, Action::Allow(_) | Action::Block(_)) {
                Some(a)
            } else {
                self.problem(&dp, "the default action is Allow or Block");
                None
            }
        });
        let rules = match o.get("Rules") {
            Some(r) => self.rules(r, &path.key("Rules"), owner),
            None => Vec::new(),
        };
        let body_limit = match o.get("AssociationConfig") {
            Some(a) => self.association(a, &path.key("AssociationConfig")),
            None => 16 * 1024,
        };
        let metric_name = self.visibility(o, path).unwrap_or_else(|| Arc::from(name));
        let reads_body = rules.iter().any(|r| r.statement.reads_body());
        let prefilter = crate::prefilter::Prefilter::build(&rules);
        let mut wanted: [Vec<crate::matching::Threat>; crate::matching::TARGETS] =
            Default::default();
        rules.iter().for_each(|r| r.statement.wanted(&mut wanted));
        Some(WebAcl {
            wanted,
            prefilter,
            name: Arc::from(name),
            default_action: default_action?,
            rules,
            body_limit,
            metric_name,
            reads_body,
        })
    }

    fn check_name(&mut self, o: &Map<String, Value>, path: &Path<'_>, name: &str) {
        if let Some(n) = o.get("Name")
            && let Some(s) = self.string(n, &path.key("Name"))
            && s != name
        {
            self.problem(
                &path.key("Name"),
                format!("`{s}` differs from the name it is configured under (`{name}`)"),
            );
        }
    }

    fn association(&mut self, v: &Value, path: &Path<'_>) -> usize {
        let default = 16 * 1024;
        let Some(o) = self.object(v, path, &["RequestBody"]) else {
            return default;
        };
        let Some(rb) = o.get("RequestBody") else {
            return default;
        };
        let rp = path.key("RequestBody");
        let Some(types) = self.object(
            rb,
            &rp,
            &[
                "API_GATEWAY",
                "CLOUDFRONT",
                "COGNITO_USER_POOL",
                "APP_RUNNER_SERVICE",
                "VERIFIED_ACCESS_INSTANCE",
                "AMPLIFY",
            ],
        ) else {
            return default;
        };
        // Only API Gateway's setting applies here; the others configure other resource types.
        let Some(api) = types.get("API_GATEWAY") else {
            return default;
        };
        let ap = rp.key("API_GATEWAY");
        let Some(ao) = self.object(api, &ap, &["DefaultSizeInspectionLimit"]) else {
            return default;
        };
        let Some(limit) = ao.get("DefaultSizeInspectionLimit") else {
            return default;
        };
        self.enumerated(
            limit,
            &ap.key("DefaultSizeInspectionLimit"),
            &[
                ("KB_8", 8 * 1024),
                ("KB_16", 16 * 1024),
                ("KB_32", 32 * 1024),
                ("KB_48", 48 * 1024),
                ("KB_64", 64 * 1024),
            ],
        )
        .unwrap_or(default)
    }

    fn visibility(&mut self, o: &Map<String, Value>, path: &Path<'_>) -> Option<Arc<str>> {
        let v = o.get("VisibilityConfig")?;
        let vp = path.key("VisibilityConfig");
        let vo = self.object(
            v,
            &vp,
            &[
                "SampledRequestsEnabled",
                "CloudWatchMetricsEnabled",
                "MetricName",
            ],
        )?;
        for flag in ["SampledRequestsEnabled", "CloudWatchMetricsEnabled"] {
            if let Some(f) = vo.get(flag)
                && !f.is_boolean()
            {
                self.problem(&vp.key(flag), "must be true or false");
            }
        }
        let name = self.req_string(vo, &vp, "MetricName")?;
        if name.is_empty()
            || name.len() > 255
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            self.problem(
                &vp.key("MetricName"),
                "a metric name is 1 to 255 letters, digits, `-` and `_`",
            );
        }
        Some(Arc::from(name))
    }

    fn bodies(
        &mut self,
        o: &Map<String, Value>,
        path: &Path<'_>,
    ) -> HashMap<String, (&'static str, Arc<str>)> {
        let mut out = HashMap::new();
        let Some(v) = o.get("CustomResponseBodies") else {
            return out;
        };
        let bp = path.key("CustomResponseBodies");
        let Some(map) = v.as_object() else {
            self.problem(&bp, "must be an object of bodies by key");
            return out;
        };
        for (key, body) in map {
            let kp = bp.key(key);
            let Some(bo) = self.object(body, &kp, &["ContentType", "Content"]) else {
                continue;
            };
            let ct = self.required(bo, &kp, "ContentType").and_then(|v| {
                self.enumerated(
                    v,
                    &kp.key("ContentType"),
                    &[
                        ("TEXT_PLAIN", "text/plain"),
                        ("TEXT_HTML", "text/html"),
                        ("APPLICATION_JSON", "application/json"),
                    ],
                )
            });
            let content = self.req_string(bo, &kp, "Content");
            if let Some(c) = content
                && (c.is_empty() || c.len() > MAX_BODY)
            {
                self.problem(
                    &kp.key("Content"),
                    format!("a custom response body is 1 to {MAX_BODY} bytes"),
                );
            }
            if ct == Some("application/json")
                && let Some(c) = content
                && serde_json::from_str::<Value>(c).is_err()
            {
                self.problem(
                    &kp.key("Content"),
                    "ContentType is APPLICATION_JSON but the content is not JSON",
                );
            }
            if let (Some(ct), Some(c)) = (ct, content) {
                out.insert(key.clone(), (ct, Arc::from(c)));
            }
        }
        out
    }

    // ---- rules ------------------------------------------------------------------------

    fn rules(&mut self, v: &Value, path: &Path<'_>, owner: Owner<'_>) -> Vec<Rule> {
        let mut rules = Vec::new();
        let mut names = HashSet::new();
        let mut priorities = HashSet::new();
        for (i, r) in self.array(v, path).iter().enumerate() {
            let rp = path.index(i);
            let Some(rule) = self.rule(r, &rp, owner) else {
                continue;
            };
            if !names.insert(rule.name.clone()) {
                self.problem(
                    &rp.key("Name"),
                    format!("another rule is named `{}`", rule.name),
                );
            }
            if !priorities.insert(rule.priority) {
                self.problem(
                    &rp.key("Priority"),
                    format!("another rule has priority {}", rule.priority),
                );
            }
            rules.push(rule);
        }
        rules.sort_by_key(|r| r.priority);
        rules
    }

    fn rule(&mut self, v: &Value, path: &Path<'_>, owner: Owner<'_>) -> Option<Rule> {
        let o = self.object(
            v,
            path,
            &[
                "Name",
                "Priority",
                "Statement",
                "Action",
                "OverrideAction",
                "RuleLabels",
                "VisibilityConfig",
                "CaptchaConfig",
                "ChallengeConfig",
            ],
        )?;
        let name = self.req_string(o, path, "Name");
        if let Some(n) = name
            && (n.is_empty()
                || n.len() > 128
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            self.problem(
                &path.key("Name"),
                "a rule name is 1 to 128 letters, digits, `-` and `_`",
            );
        }
        let priority = self
            .required(o, path, "Priority")
            .and_then(|p| self.integer(p, &path.key("Priority"), 0, i64::from(i32::MAX)));
        for cfg in ["CaptchaConfig", "ChallengeConfig"] {
            // Immunity time applies to tokens, which this gateway never accepts: the
            // setting is valid and has no effect.
            if let Some(c) = o.get(cfg) {
                self.object(c, &path.key(cfg), &["ImmunityTimeProperty"]);
            }
        }
        let sp = path.key("Statement");
        let statement = self
            .required(o, path, "Statement")
            .and_then(|s| self.statement(s, &sp, true, 0, owner));
        let is_group = matches!(statement, Some(Statement::Group(_)));
        let action = match (o.get("Action"), o.get("OverrideAction")) {
            (Some(a), None) if !is_group => self
                .action(a, &path.key("Action"), owner)
                .map(RuleAction::Action),
            (None, Some(a)) if is_group => {
                let ap = path.key("OverrideAction");
                self.one_of(a, &ap, &["None", "Count"], "override action")
                    .map(|(k, inner)| {
                        self.empty_object(inner, &ap.key(k));
                        RuleAction::Override {
                            count: k == "Count",
                        }
                    })
            }
            _ if statement.is_none() => None,
            _ if is_group => {
                self.problem(
                    path,
                    "a rule that uses a rule group needs `OverrideAction` (and no `Action`)",
                );
                None
            }
            _ => {
                self.problem(path, "a rule needs `Action` (and no `OverrideAction`)");
                None
            }
        };
        let mut labels = Vec::new();
        if let Some(l) = o.get("RuleLabels") {
            let lp = path.key("RuleLabels");
            for (i, label) in self.array(l, &lp).iter().enumerate() {
                let ip = lp.index(i);
                let Some(lo) = self.object(label, &ip, &["Name"]) else {
                    continue;
                };
                let Some(n) = self.req_string(lo, &ip, "Name") else {
                    continue;
                };
                if let Err(why) = check_label(n) {
                    self.problem(&ip.key("Name"), why);
                    continue;
                }
                let account = self.catalog.map_or("", |c| c.account.as_str());
                labels.push(Arc::from(format!(
                    "awswaf:{account}:{}:{}:{n}",
                    owner.kind, owner.name
                )));
            }
        }
        let metric_name = self.visibility(o, path);
        let name: Arc<str> = Arc::from(name?);
        Some(Rule {
            metric_name: metric_name.unwrap_or_else(|| name.clone()),
            name,
            priority: priority?,
            statement: statement?,
            action: action?,
            labels,
        })
    }

    fn action(&mut self, v: &Value, path: &Path<'_>, owner: Owner<'_>) -> Option<Action> {
        let (kind, inner) = self.one_of(
            v,
            path,
            &["Allow", "Block", "Count", "Captcha", "Challenge"],
            "action",
        )?;
        let ip = path.key(kind);
        match kind {
            "Block" => {
                let o = self.object(inner, &ip, &["CustomResponse"])?;
                let Some(cr) = o.get("CustomResponse") else {
                    return Some(Action::Block(None));
                };
                self.custom_response(cr, &ip.key("CustomResponse"), owner)
                    .map(|r| Action::Block(Some(Arc::new(r))))
            }
            _ => {
                let o = self.object(inner, &ip, &["CustomRequestHandling"])?;
                let headers = match o.get("CustomRequestHandling") {
                    Some(h) => self.request_handling(h, &ip.key("CustomRequestHandling"))?,
                    None => Vec::new(),
                };
                Some(match kind {
                    "Allow" => Action::Allow(Arc::from(headers)),
                    "Count" => Action::Count(Arc::from(headers)),
                    "Captcha" => Action::Captcha,
                    _ => Action::Challenge,
                })
            }
        }
    }

    fn request_handling(&mut self, v: &Value, path: &Path<'_>) -> Option<Vec<(String, String)>> {
        let o = self.object(v, path, &["InsertHeaders"])?;
        let hp = path.key("InsertHeaders");
        let list = self.list(o, path, "InsertHeaders", (0, usize::MAX), "headers");
        Some(self.name_values(list, &hp))
    }

    fn name_values(&mut self, list: &[Value], path: &Path<'_>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, h) in list.iter().enumerate() {
            let p = path.index(i);
            let Some(ho) = self.object(h, &p, &["Name", "Value"]) else {
                continue;
            };
            let (Some(n), Some(val)) = (
                self.req_string(ho, &p, "Name"),
                self.req_string(ho, &p, "Value"),
            ) else {
                continue;
            };
            if http::HeaderName::from_bytes(n.as_bytes()).is_err() || n.is_empty() {
                self.problem(&p.key("Name"), format!("`{n}` is not a header name"));
                continue;
            }
            if http::HeaderValue::from_str(val).is_err() {
                self.problem(&p.key("Value"), "not a valid header value");
                continue;
            }
            out.push((n.to_owned(), val.to_owned()));
        }
        out
    }

    fn custom_response(
        &mut self,
        v: &Value,
        path: &Path<'_>,
        owner: Owner<'_>,
    ) -> Option<CustomResponse> {
        let o = self.object(
            v,
            path,
            &["ResponseCode", "CustomResponseBodyKey", "ResponseHeaders"],
        )?;
        let status = self
            .required(o, path, "ResponseCode")
            .and_then(|c| self.integer(c, &path.key("ResponseCode"), 200, 599));
        let body = match o.get("CustomResponseBodyKey") {
            None => None,
            Some(k) => {
                let kp = path.key("CustomResponseBodyKey");
                let key = self.string(k, &kp)?;
                match owner.bodies.get(key) {
                    Some(b) => Some(b.clone()),
                    None => {
                        self.problem(
                            &kp,
                            format!(
                                "no body `{key}` in this {}'s CustomResponseBodies",
                                if owner.kind == "webacl" {
                                    "web ACL"
                                } else {
                                    "rule group"
                                }
                            ),
                        );
                        return None;
                    }
                }
            }
        };
        let headers = match o.get("ResponseHeaders") {
            Some(h) => {
                let hp = path.key("ResponseHeaders");
                let list = self.array(h, &hp);
                self.name_values(list, &hp)
            }
            None => Vec::new(),
        };
        Some(CustomResponse {
            status: u16::try_from(status?).ok()?,
            headers,
            body,
        })
    }

    // ---- statements -------------------------------------------------------------------

    fn statement(
        &mut self,
        v: &Value,
        path: &Path<'_>,
        top: bool,
        depth: usize,
        owner: Owner<'_>,
    ) -> Option<Statement> {
        if depth > MAX_DEPTH {
            self.problem(path, format!("statements nest at most {MAX_DEPTH} deep"));
            return None;
        }
        let (kind, inner) = self.one_of(v, path, STATEMENTS, "statement")?;
        let sp = path.key(kind);
        let sp = &sp;
        match kind {
            "ByteMatchStatement" => {
                let o = self.object(
                    inner,
                    sp,
                    &[
                        "SearchString",
                        "SearchStringBase64",
                        "FieldToMatch",
                        "TextTransformations",
                        "PositionalConstraint",
                    ],
                )?;
                let needle = match (o.get("SearchString"), o.get("SearchStringBase64")) {
                    (Some(s), None) => self
                        .string(s, &sp.key("SearchString"))
                        .map(|s| s.as_bytes().to_vec()),
                    (None, Some(s)) => {
                        use base64::Engine as _;
                        let text = self.string(s, &sp.key("SearchStringBase64"))?;
                        base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .map_err(|_| self.problem(&sp.key("SearchStringBase64"), "not base64"))
                            .ok()
                    }
                    _ => {
                        self.problem(
                            sp,
                            "needs `SearchString` (or `SearchStringBase64`), not both",
                        );
                        None
                    }
                };
                let pos = self.required(o, sp, "PositionalConstraint").and_then(|p| {
                    self.enumerated(
                        p,
                        &sp.key("PositionalConstraint"),
                        &[
                            ("EXACTLY", Position::Exactly),
                            ("STARTS_WITH", Position::StartsWith),
                            ("ENDS_WITH", Position::EndsWith),
                            ("CONTAINS", Position::Contains),
                            ("CONTAINS_WORD", Position::ContainsWord),
                        ],
                    )
                });
                if let Some(n) = &needle {
                    if n.is_empty() || n.len() > MAX_SEARCH {
                        self.problem(
                            &sp.key("SearchString"),
                            format!("a search string is 1 to {MAX_SEARCH} bytes"),
                        );
                    } else if pos == Some(Position::ContainsWord)
                        && !n.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    {
                        self.problem(
                            &sp.key("SearchString"),
                            "with CONTAINS_WORD the search string is letters, digits and `_` only",
                        );
                    }
                }
                let i = self.inspect(o, sp)?;
                Some(Statement::ByteMatch(Box::new(i), needle?, pos?))
            }
            "RegexMatchStatement" => {
                let o = self.object(
                    inner,
                    sp,
                    &["RegexString", "FieldToMatch", "TextTransformations"],
                )?;
                let re = self
                    .req_string(o, sp, "RegexString")
                    .and_then(|s| self.regex(s, &sp.key("RegexString")));
                let i = self.inspect(o, sp)?;
                Some(Statement::Regex(Box::new(i), Arc::new(re?)))
            }
            "RegexPatternSetReferenceStatement" => {
                let o = self.object(inner, sp, &["ARN", "FieldToMatch", "TextTransformations"])?;
                let set = self.reference(o, sp, "regexpatternset", |c, n| {
                    c.regex_sets.get(n).cloned()
                });
                let i = self.inspect(o, sp)?;
                Some(Statement::RegexSet(Box::new(i), set?))
            }
            "SqliMatchStatement" => {
                let o = self.object(
                    inner,
                    sp,
                    &["FieldToMatch", "TextTransformations", "SensitivityLevel"],
                )?;
                let level = match o.get("SensitivityLevel") {
                    Some(l) => self.enumerated(
                        l,
                        &sp.key("SensitivityLevel"),
                        &[("LOW", Sensitivity::Low), ("HIGH", Sensitivity::High)],
                    ),
                    None => Some(Sensitivity::Low),
                };
                let i = self.inspect(o, sp)?;
                Some(Statement::Sqli(Box::new(i), level?))
            }
            "XssMatchStatement" => {
                let o = self.object(inner, sp, &["FieldToMatch", "TextTransformations"])?;
                Some(Statement::Xss(Box::new(self.inspect(o, sp)?)))
            }
            "SizeConstraintStatement" => {
                let o = self.object(
                    inner,
                    sp,
                    &[
                        "FieldToMatch",
                        "TextTransformations",
                        "ComparisonOperator",
                        "Size",
                    ],
                )?;
                let op = self.required(o, sp, "ComparisonOperator").and_then(|c| {
                    self.enumerated(
                        c,
                        &sp.key("ComparisonOperator"),
                        &[
                            ("EQ", Comparison::Eq),
                            ("NE", Comparison::Ne),
                            ("LE", Comparison::Le),
                            ("LT", Comparison::Lt),
                            ("GE", Comparison::Ge),
                            ("GT", Comparison::Gt),
                        ],
                    )
                });
                let size = self
                    .required(o, sp, "Size")
                    .and_then(|s| self.integer(s, &sp.key("Size"), 0, 21_474_836_480));
                let i = self.inspect(o, sp)?;
                Some(Statement::Size(
                    Box::new(i),
                    op?,
                    u64::try_from(size?).ok()?,
                ))
            }
            "IPSetReferenceStatement" => {
                let o = self.object(inner, sp, &["ARN", "IPSetForwardedIPConfig"])?;
                let set = self.reference(o, sp, "ipset", |c, n| c.ip_sets.get(n).cloned());
                let fwd = match o.get("IPSetForwardedIPConfig") {
                    Some(f) => Some(self.forwarded(f, &sp.key("IPSetForwardedIPConfig"), true)?),
                    None => None,
                };
                Some(Statement::IpSet(set?, fwd))
            }
            "GeoMatchStatement" => {
                let o = self.object(inner, sp, &["CountryCodes", "ForwardedIPConfig"])?;
                let cp = sp.key("CountryCodes");
                let mut countries = Vec::new();
                let list = self.list(o, sp, "CountryCodes", (1, usize::MAX), "country codes");
                for (i, c) in list.iter().enumerate() {
                    match self.string(c, &cp.index(i)).map(str::as_bytes) {
                        Some(&[a, b]) if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
                            countries.push([a, b])
                        }
                        Some(_) => self.problem(
                            &cp.index(i),
                            "a country code is two upper-case letters (ISO 3166-1 alpha-2)",
                        ),
                        None => {}
                    }
                }
                let forwarded = match o.get("ForwardedIPConfig") {
                    Some(f) => Some(self.forwarded(f, &sp.key("ForwardedIPConfig"), false)?),
                    None => None,
                };
                if !self.catalog.is_some_and(|c| c.geo) {
                    self.problem(sp, "needs a country database: set `waf.geo_database` to a MaxMind-format (.mmdb) file");
                    return None;
                }
                Some(Statement::Geo(Box::new(GeoMatch {
                    countries,
                    forwarded,
                })))
            }
            "LabelMatchStatement" => {
                let o = self.object(inner, sp, &["Scope", "Key"])?;
                let scope = self.required(o, sp, "Scope").and_then(|s| {
                    self.enumerated(
                        s,
                        &sp.key("Scope"),
                        &[
                            ("LABEL", LabelScope::Label),
                            ("NAMESPACE", LabelScope::Namespace),
                        ],
                    )
                });
                let key = self.req_string(o, sp, "Key");
                if let Some(k) = key
                    && (k.is_empty() || k.len() > 1024)
                {
                    self.problem(&sp.key("Key"), "a label key is 1 to 1024 characters");
                }
                Some(Statement::Label(scope?, Arc::from(key?)))
            }
            "AndStatement" | "OrStatement" => {
                let o = self.object(inner, sp, &["Statements"])?;
                let lp = sp.key("Statements");
                let list = self.list(o, sp, "Statements", (2, usize::MAX), "statements");
                let mut out = Vec::new();
                for (i, s) in list.iter().enumerate() {
                    if let Some(s) = self.statement(s, &lp.index(i), false, depth + 1, owner) {
                        out.push(s);
                    }
                }
                if out.len() != list.len() {
                    return None;
                }
                Some(if kind == "AndStatement" {
                    Statement::And(out)
                } else {
                    Statement::Or(out)
                })
            }
            "NotStatement" => {
                let o = self.object(inner, sp, &["Statement"])?;
                let s = self.required(o, sp, "Statement")?;
                let s = self.statement(s, &sp.key("Statement"), false, depth + 1, owner)?;
                Some(Statement::Not(Box::new(s)))
            }
            "RateBasedStatement" => {
                if !top {
                    self.problem(
                        sp,
                        "a rate-based statement can only be a rule's top statement",
                    );
                    return None;
                }
                self.rate_based(inner, sp, depth, owner)
            }
            "ManagedRuleGroupStatement" | "RuleGroupReferenceStatement" => {
                if !top || owner.kind != "webacl" {
                    self.problem(
                        sp,
                        "a rule group can only be used as the top statement of a web ACL's rule",
                    );
                    return None;
                }
                self.group(kind, inner, sp, depth, owner)
            }
            _ => None,
        }
    }

    fn inspect(&mut self, o: &Map<String, Value>, path: &Path<'_>) -> Option<Inspect> {
        let fp = path.key("FieldToMatch");
        let field = self
            .required(o, path, "FieldToMatch")
            .and_then(|f| self.field(f, &fp));
        let tp = path.key("TextTransformations");
        let chain = match o.get("TextTransformations") {
            Some(t) => self.transformations(t, &tp),
            None => {
                self.problem(path, "`TextTransformations` is required (use `[{\"Priority\": 0, \"Type\": \"NONE\"}]` for none)");
                None
            }
        };
        let field = field?;
        Some(Inspect {
            field,
            chain: chain?,
        })
    }

    fn transformations(
        &mut self,
        v: &Value,
        path: &Path<'_>,
    ) -> Option<Vec<(u32, Transformation)>> {
        let list = self.array(v, path);
        if list.is_empty() || list.len() > MAX_TRANSFORMATIONS {
            self.problem(path, format!("1 to {MAX_TRANSFORMATIONS} transformations"));
            return None;
        }
        let mut chain = Vec::new();
        let mut ok = true;
        for (i, t) in list.iter().enumerate() {
            let ip = path.index(i);
            let Some(o) = self.object(t, &ip, &["Priority", "Type"]) else {
                ok = false;
                continue;
            };
            let priority = self
                .required(o, &ip, "Priority")
                .and_then(|p| self.integer(p, &ip.key("Priority"), 0, i64::from(u32::MAX)));
            let kind = self.req_string(o, &ip, "Type").and_then(|k| {
                let t = Transformation::from_name(k);
                if t.is_none() {
                    let names: Vec<&str> = Transformation::ALL.iter().map(|t| t.name()).collect();
                    self.problem(
                        &ip.key("Type"),
                        format!("`{k}` is not one of {}", names.join(", ")),
                    );
                }
                t
            });
            match (priority.and_then(|p| u32::try_from(p).ok()), kind) {
                (Some(p), Some(k)) => {
                    if chain.iter().any(|(q, _)| *q == p) {
                        self.problem(
                            &ip.key("Priority"),
                            format!("another transformation has priority {p}"),
                        );
                        ok = false;
                    }
                    chain.push((p, k));
                }
                _ => ok = false,
            }
        }
        chain.sort_by_key(|(p, _)| *p);
        ok.then_some(chain)
    }

    fn field(&mut self, v: &Value, path: &Path<'_>) -> Option<Field> {
        let (kind, inner) = self.one_of(v, path, FIELDS, "field")?;
        let fp = path.key(kind);
        let fp = &fp;
        match kind {
            "UriPath" | "QueryString" | "Method" | "AllQueryArguments" => {
                self.empty_object(inner, fp);
                Some(match kind {
                    "UriPath" => Field::UriPath,
                    "QueryString" => Field::QueryString,
                    "Method" => Field::Method,
                    _ => Field::AllQueryArguments,
                })
            }
            "SingleHeader" | "SingleQueryArgument" => {
                let o = self.object(inner, fp, &["Name"])?;
                let name = self.req_string(o, fp, "Name")?;
                if name.is_empty() || (kind == "SingleQueryArgument" && name.len() > 30) {
                    self.problem(&fp.key("Name"), "a name is 1 to 30 characters");
                    return None;
                }
                if kind == "SingleHeader" {
                    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                        self.problem(&fp.key("Name"), format!("`{name}` is not a header name"));
                        return None;
                    }
                    Some(Field::SingleHeader(name.to_ascii_lowercase()))
                } else {
                    Some(Field::SingleQueryArgument(name.to_owned()))
                }
            }
            "Body" | "HeaderOrder" => {
                let o = self.object(inner, fp, &["OversizeHandling"])?;
                let oversize = self.oversize(o, fp)?;
                Some(if kind == "Body" {
                    Field::Body(oversize)
                } else {
                    Field::HeaderOrder(oversize)
                })
            }
            "JsonBody" => {
                let o = self.object(
                    inner,
                    fp,
                    &[
                        "MatchPattern",
                        "MatchScope",
                        "InvalidFallbackBehavior",
                        "OversizeHandling",
                    ],
                )?;
                let mp = fp.key("MatchPattern");
                let paths = self.required(o, fp, "MatchPattern").and_then(|m| {
                    let (k, list) =
                        self.one_of(m, &mp, &["All", "IncludedPaths"], "match pattern")?;
                    if k == "All" {
                        self.empty_object(list, &mp.key("All"));
                        return Some(None);
                    }
                    let lp = mp.key("IncludedPaths");
                    let items = self.array(list, &lp);
                    if items.is_empty() {
                        self.problem(&lp, "needs at least one JSON Pointer");
                    }
                    let mut out = Vec::new();
                    for (i, p) in items.iter().enumerate() {
                        let Some(text) = self.string(p, &lp.index(i)) else {
                            continue;
                        };
                        match crate::json::parse_pointer(text) {
                            Some(ptr) => out.push(ptr),
                            None => self.problem(
                                &lp.index(i),
                                format!("`{text}` is not a JSON Pointer (`/a/0/b`)"),
                            ),
                        }
                    }
                    Some(Some(out))
                });
                let scope = self.scope(o, fp);
                let invalid = match o.get("InvalidFallbackBehavior") {
                    Some(i) => Some(self.enumerated(
                        i,
                        &fp.key("InvalidFallbackBehavior"),
                        &[
                            ("MATCH", Invalid::Match),
                            ("NO_MATCH", Invalid::NoMatch),
                            ("EVALUATE_AS_STRING", Invalid::EvaluateAsString),
                        ],
                    )?),
                    None => None,
                };
                let oversize = self.oversize(o, fp);
                Some(Field::JsonBody(Box::new(JsonBody {
                    paths: paths?,
                    scope: scope?,
                    invalid,
                    oversize: oversize?,
                })))
            }
            "Headers" | "Cookies" => {
                let o = self.object(
                    inner,
                    fp,
                    &["MatchPattern", "MatchScope", "OversizeHandling"],
                )?;
                let (inc, exc) = if kind == "Headers" {
                    ("IncludedHeaders", "ExcludedHeaders")
                } else {
                    ("IncludedCookies", "ExcludedCookies")
                };
                let mp = fp.key("MatchPattern");
                let names = self.required(o, fp, "MatchPattern").and_then(|m| {
                    let (k, list) = self.one_of(m, &mp, &["All", inc, exc], "match pattern")?;
                    if k == "All" {
                        self.empty_object(list, &mp.key("All"));
                        return Some(Names::All);
                    }
                    let lp = mp.key(k);
                    let items = self.array(list, &lp);
                    if items.is_empty() || items.len() > 199 {
                        self.problem(&lp, "needs 1 to 199 names");
                    }
                    let names: Vec<Vec<u8>> = items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, n)| {
                            self.string(n, &lp.index(i)).map(|s| s.as_bytes().to_vec())
                        })
                        .collect();
                    Some(if k == inc {
                        Names::Included(names)
                    } else {
                        Names::Excluded(names)
                    })
                });
                let scope = self.scope(o, fp);
                let oversize = self.oversize(o, fp);
                let multi = Box::new(Multi {
                    names: names?,
                    scope: scope?,
                    oversize: oversize?,
                });
                Some(if kind == "Headers" {
                    Field::Headers(multi)
                } else {
                    Field::Cookies(multi)
                })
            }
            _ => None,
        }
    }

    fn scope(&mut self, o: &Map<String, Value>, path: &Path<'_>) -> Option<Scope> {
        let s = self.required(o, path, "MatchScope")?;
        self.enumerated(
            s,
            &path.key("MatchScope"),
            &[
                ("ALL", Scope::All),
                ("KEY", Scope::Key),
                ("VALUE", Scope::Value),
            ],
        )
    }

    fn oversize(&mut self, o: &Map<String, Value>, path: &Path<'_>) -> Option<Oversize> {
        match o.get("OversizeHandling") {
            None => Some(Oversize::Continue),
            Some(v) => self.enumerated(
                v,
                &path.key("OversizeHandling"),
                &[
                    ("CONTINUE", Oversize::Continue),
                    ("MATCH", Oversize::Match),
                    ("NO_MATCH", Oversize::NoMatch),
                ],
            ),
        }
    }

    fn forwarded(&mut self, v: &Value, path: &Path<'_>, with_position: bool) -> Option<Forwarded> {
        let known: &[&str] = if with_position {
            &["HeaderName", "FallbackBehavior", "Position"]
        } else {
            &["HeaderName", "FallbackBehavior"]
        };
        let o = self.object(v, path, known)?;
        let header = self.req_string(o, path, "HeaderName").and_then(|h| {
            http::HeaderName::from_bytes(h.as_bytes())
                .map_err(|_| {
                    self.problem(
                        &path.key("HeaderName"),
                        format!("`{h}` is not a header name"),
                    )
                })
                .ok()
        });
        let fallback = self.required(o, path, "FallbackBehavior").and_then(|f| {
            self.enumerated(
                f,
                &path.key("FallbackBehavior"),
                &[("MATCH", true), ("NO_MATCH", false)],
            )
        });
        let position = if with_position {
            self.required(o, path, "Position").and_then(|p| {
                self.enumerated(
                    p,
                    &path.key("Position"),
                    &[
                        ("FIRST", IpPosition::First),
                        ("LAST", IpPosition::Last),
                        ("ANY", IpPosition::Any),
                    ],
                )
            })
        } else {
            Some(IpPosition::First)
        };
        Some(Forwarded {
            header: header?,
            fallback_match: fallback?,
            position: position?,
        })
    }

    /// The object an `ARN` names: by the name inside the ARN (`.../ipset/NAME/ID`), or a
    /// bare name.
    fn reference<T>(
        &mut self,
        o: &Map<String, Value>,
        path: &Path<'_>,
        kind: &str,
        find: impl Fn(&Catalog, &str) -> Option<T>,
    ) -> Option<T> {
        let arn = self.req_string(o, path, "ARN")?;
        let name = arn_name(arn, kind);
        let found = self.catalog.and_then(|c| find(c, name));
        if found.is_none() {
            let what = match kind {
                "ipset" => "IP set (under `waf.ip_sets`)",
                "regexpatternset" => "regex pattern set (under `waf.regex_pattern_sets`)",
                _ => "rule group (under `waf.rule_groups`)",
            };
            self.problem(&path.key("ARN"), format!("no {what} named `{name}`"));
        }
        found
    }

    fn rate_based(
        &mut self,
        v: &Value,
        path: &Path<'_>,
        depth: usize,
        owner: Owner<'_>,
    ) -> Option<Statement> {
        let o = self.object(
            v,
            path,
            &[
                "Limit",
                "EvaluationWindowSec",
                "AggregateKeyType",
                "ScopeDownStatement",
                "ForwardedIPConfig",
                "CustomKeys",
            ],
        )?;
        let limit = self
            .required(o, path, "Limit")
            .and_then(|l| self.integer(l, &path.key("Limit"), 10, 2_000_000_000));
        let window = match o.get("EvaluationWindowSec") {
            Some(w) => {
                let n = self.integer(w, &path.key("EvaluationWindowSec"), 60, 600)?;
                if ![60, 120, 300, 600].contains(&n) {
                    self.problem(
                        &path.key("EvaluationWindowSec"),
                        "the window is 60, 120, 300 or 600 seconds",
                    );
                    return None;
                }
                n
            }
            None => 300,
        };
        let aggregate = match o.get("AggregateKeyType") {
            Some(a) => self.enumerated(
                a,
                &path.key("AggregateKeyType"),
                &[
                    ("IP", "IP"),
                    ("FORWARDED_IP", "FORWARDED_IP"),
                    ("CONSTANT", "CONSTANT"),
                    ("CUSTOM_KEYS", "CUSTOM_KEYS"),
                ],
            )?,
            None => "IP",
        };
        let forwarded = match o.get("ForwardedIPConfig") {
            Some(f) => Some(self.forwarded(f, &path.key("ForwardedIPConfig"), false)?),
            None => None,
        };
        let needs_forwarded = aggregate == "FORWARDED_IP";
        let keys = match aggregate {
            "IP" => vec![AggregateKey::Ip],
            "CONSTANT" => vec![AggregateKey::Constant],
            "FORWARDED_IP" => match &forwarded {
                Some(f) => vec![AggregateKey::ForwardedIp(f.header.clone())],
                None => {
                    self.problem(
                        path,
                        "AggregateKeyType FORWARDED_IP needs `ForwardedIPConfig`",
                    );
                    return None;
                }
            },
            _ => {
                let kp = path.key("CustomKeys");
                let list = self.list(o, path, "CustomKeys", (1, 5), "custom keys");
                let mut keys = Vec::new();
                for (i, k) in list.iter().enumerate() {
                    if let Some(key) = self.custom_key(k, &kp.index(i), forwarded.as_ref()) {
                        keys.push(key);
                    }
                }
                if keys.len() != list.len() {
                    return None;
                }
                keys
            }
        };
        if forwarded.is_some()
            && !needs_forwarded
            && !keys
                .iter()
                .any(|k| matches!(k, AggregateKey::ForwardedIp(_)))
        {
            self.problem(
                &path.key("ForwardedIPConfig"),
                "only used with FORWARDED_IP aggregation or a ForwardedIP custom key",
            );
        }
        if aggregate == "CONSTANT" && o.get("ScopeDownStatement").is_none() {
            self.problem(
                path,
                "AggregateKeyType CONSTANT needs a `ScopeDownStatement`",
            );
        }
        let scope_down = match o.get("ScopeDownStatement") {
            Some(s) => {
                Some(self.statement(s, &path.key("ScopeDownStatement"), false, depth + 1, owner)?)
            }
            None => None,
        };
        let id = format!("{}/{}/{}", owner.kind, owner.name, path_id(path));
        let counters = self
            .catalog
            .map(|c| c.rates.counters(&id, u64::try_from(window).unwrap_or(300)))
            .unwrap_or_else(|| Arc::new(crate::rate::RateCounters::new(300)));
        Some(Statement::RateBased(Box::new(RateBased {
            limit: u64::try_from(limit?).ok()?,
            keys,
            scope_down,
            counters,
        })))
    }

    fn custom_key(
        &mut self,
        v: &Value,
        path: &Path<'_>,
        fwd: Option<&Forwarded>,
    ) -> Option<AggregateKey> {
        let (kind, inner) = self.one_of(
            v,
            path,
            &[
                "Header",
                "Cookie",
                "QueryArgument",
                "QueryString",
                "HTTPMethod",
                "ForwardedIP",
                "IP",
                "LabelNamespace",
                "UriPath",
            ],
            "custom key",
        )?;
        let kp = path.key(kind);
        let named = |cx: &mut Self, with_name: bool| -> Option<Named> {
            let known: &[&str] = if with_name {
                &["Name", "TextTransformations"]
            } else {
                &["TextTransformations"]
            };
            let o = cx.object(inner, &kp, known)?;
            let name = if with_name {
                Some(cx.req_string(o, &kp, "Name")?.to_owned())
            } else {
                None
            };
            let tp = kp.key("TextTransformations");
            let chain = cx
                .required(o, &kp, "TextTransformations")
                .and_then(|t| cx.transformations(t, &tp))?;
            Some((name, chain))
        };
        match kind {
            "Header" => {
                let (n, chain) = named(self, true)?;
                let n = n?;
                let header = http::HeaderName::from_bytes(n.to_ascii_lowercase().as_bytes())
                    .map_err(|_| {
                        self.problem(&kp.key("Name"), format!("`{n}` is not a header name"))
                    })
                    .ok()?;
                Some(AggregateKey::Header(header, chain))
            }
            "Cookie" => {
                let (n, chain) = named(self, true)?;
                Some(AggregateKey::Cookie(n?.into_bytes(), chain))
            }
            "QueryArgument" => {
                let (n, chain) = named(self, true)?;
                Some(AggregateKey::QueryArgument(n?, chain))
            }
            "QueryString" => Some(AggregateKey::QueryString(named(self, false)?.1)),
            "UriPath" => Some(AggregateKey::UriPath(named(self, false)?.1)),
            "HTTPMethod" | "IP" => {
                self.empty_object(inner, &kp);
                Some(if kind == "IP" {
                    AggregateKey::Ip
                } else {
                    AggregateKey::Method
                })
            }
            "ForwardedIP" => {
                self.empty_object(inner, &kp);
                match fwd {
                    Some(f) => Some(AggregateKey::ForwardedIp(f.header.clone())),
                    None => {
                        self.problem(
                            &kp,
                            "a ForwardedIP key needs the statement's `ForwardedIPConfig`",
                        );
                        None
                    }
                }
            }
            _ => {
                let o = self.object(inner, &kp, &["Namespace"])?;
                let ns = self.req_string(o, &kp, "Namespace")?;
                if !ns.ends_with(':') {
                    self.problem(&kp.key("Namespace"), "a label namespace ends with `:`");
                    return None;
                }
                Some(AggregateKey::LabelNamespace(Arc::from(ns)))
            }
        }
    }

    fn group(
        &mut self,
        kind: &str,
        v: &Value,
        path: &Path<'_>,
        depth: usize,
        owner: Owner<'_>,
    ) -> Option<Statement> {
        let group = if kind == "ManagedRuleGroupStatement" {
            let o = self.object(
                v,
                path,
                &[
                    "VendorName",
                    "Name",
                    "Version",
                    "ExcludedRules",
                    "RuleActionOverrides",
                    "ScopeDownStatement",
                    "ManagedRuleGroupConfigs",
                ],
            )?;
            let vendor = self.req_string(o, path, "VendorName");
            let name = self.req_string(o, path, "Name");
            if let Some(c) = o.get("ManagedRuleGroupConfigs")
                && !self
                    .array(c, &path.key("ManagedRuleGroupConfigs"))
                    .is_empty()
            {
                self.problem(
                    &path.key("ManagedRuleGroupConfigs"),
                    "configurations for Bot Control, ATP and ACFP groups are not supported",
                );
            }
            if let Some(ver) = o.get("Version") {
                self.string(ver, &path.key("Version"));
            }
            if vendor.is_some_and(|v| v != "AWS") {
                self.problem(
                    &path.key("VendorName"),
                    "only the AWS managed rule groups are built in (VendorName `AWS`)",
                );
                return None;
            }
            let name = name?;
            let found = crate::managed::group(name, self.catalog);
            if found.is_none() {
                self.problem(
                    &path.key("Name"),
                    format!(
                        "`{name}` is not a built-in managed rule group (built in: {})",
                        crate::managed::NAMES.join(", ")
                    ),
                );
            }
            (found?, o)
        } else {
            let o = self.object(v, path, &["ARN", "ExcludedRules", "RuleActionOverrides"])?;
            (
                self.reference(o, path, "rulegroup", |c, n| c.rule_groups.get(n).cloned())?,
                o,
            )
        };
        let (group, o) = group;
        let mut overrides: Vec<(Arc<str>, Action)> = Vec::new();
        let known = |name: &str| group.rules.iter().any(|r| &*r.name == name);
        if let Some(ex) = o.get("ExcludedRules") {
            let ep = path.key("ExcludedRules");
            for (i, e) in self.array(ex, &ep).iter().enumerate() {
                let ip = ep.index(i);
                let Some(eo) = self.object(e, &ip, &["Name"]) else {
                    continue;
                };
                let Some(n) = self.req_string(eo, &ip, "Name") else {
                    continue;
                };
                if !known(n) {
                    self.problem(
                        &ip.key("Name"),
                        format!("`{n}` is not a rule of {}", group.name),
                    );
                    continue;
                }
                overrides.push((Arc::from(n), Action::Count(Arc::from(Vec::new()))));
            }
        }
        if let Some(ov) = o.get("RuleActionOverrides") {
            let op = path.key("RuleActionOverrides");
            for (i, e) in self.array(ov, &op).iter().enumerate() {
                let ip = op.index(i);
                let Some(eo) = self.object(e, &ip, &["Name", "ActionToUse"]) else {
                    continue;
                };
                let n = self.req_string(eo, &ip, "Name");
                let a = self
                    .required(eo, &ip, "ActionToUse")
                    .and_then(|a| self.action(a, &ip.key("ActionToUse"), owner));
                let (Some(n), Some(a)) = (n, a) else { continue };
                if !known(n) {
                    self.problem(
                        &ip.key("Name"),
                        format!("`{n}` is not a rule of {}", group.name),
                    );
                    continue;
                }
                overrides.push((Arc::from(n), a));
            }
        }
        let scope_down = match o.get("ScopeDownStatement") {
            Some(s) => {
                Some(self.statement(s, &path.key("ScopeDownStatement"), false, depth + 1, owner)?)
            }
            None => None,
        };
        Some(Statement::Group(Box::new(GroupRef {
            group,
            overrides,
            scope_down,
        })))
    }
}

/// The name inside an ARN (`arn:aws:wafv2:REGION:ACCOUNT:regional/ipset/NAME/ID`), or the
/// text itself when it is not an ARN.
fn arn_name<'a>(arn: &'a str, kind: &str) -> &'a str {
    if !arn.starts_with("arn:") {
        return arn;
    }
    let marker = format!("/{kind}/");
    match arn.find(&marker) {
        Some(i) => {
            let rest = arn.get(i + marker.len()..).unwrap_or_default();
            rest.split('/').next().unwrap_or(rest)
        }
        None => arn,
    }
}

fn path_id(path: &Path<'_>) -> String {
    let mut s = String::new();
    let _ = write_path(&mut s, &path.to_vec());
    s
}

/// A rule label's name: up to five namespaces and a name, each 1 to 128 of letters, digits,
/// `_` and `-`, separated by `:`; no reserved prefix.
fn check_label(label: &str) -> Result<(), String> {
    let parts: Vec<&str> = label.split(':').collect();
    if parts.len() > 6 {
        return Err("a label has at most five namespaces before its name".to_owned());
    }
    if parts.iter().any(|p| {
        p.is_empty()
            || p.len() > 128
            || !p
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }) {
        return Err(format!(
            "`{label}` is not a label: components of 1 to 128 letters, digits, `_` and `-`, separated by `:`"
        ));
    }
    if let Some(first) = parts.first()
        && [
            "awswaf",
            "aws",
            "waf",
            "rulegroup",
            "webacl",
            "regexpatternset",
            "ipset",
            "managed",
        ]
        .contains(&first.to_ascii_lowercase().as_str())
    {
        return Err(format!(
            "a label may not start with the reserved word `{first}`"
        ));
    }
    Ok(())
}

/// A custom key's name (when it has one) and transformations.
type Named = (Option<String>, Vec<(u32, Transformation)>);

const STATEMENTS: &[&str] = &[
    "ByteMatchStatement",
    "RegexMatchStatement",
    "RegexPatternSetReferenceStatement",
    "SqliMatchStatement",
    "XssMatchStatement",
    "SizeConstraintStatement",
    "IPSetReferenceStatement",
    "GeoMatchStatement",
    "LabelMatchStatement",
    "AndStatement",
    "OrStatement",
    "NotStatement",
    "RateBasedStatement",
    "ManagedRuleGroupStatement",
    "RuleGroupReferenceStatement",
];

const FIELDS: &[&str] = &[
    "UriPath",
    "QueryString",
    "Method",
    "SingleHeader",
    "SingleQueryArgument",
    "AllQueryArguments",
    "Body",
    "JsonBody",
    "Headers",
    "Cookies",
    "HeaderOrder",
];

/// Fields and statements of AWS WAF this engine does not have, with the reason given.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("JA3Fingerprint", "TLS fingerprints are not inspected"),
    ("JA4Fingerprint", "TLS fingerprints are not inspected"),
    ("UriFragment", "clients do not send the fragment"),
    ("AsnMatchStatement", "no ASN database is read"),
    (
        "DataProtectionConfig",
        "log data protection is not supported",
    ),
    ("OnSourceDDoSProtectionConfig", "not supported"),
];
