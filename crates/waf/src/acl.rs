//! Compiled web ACLs and rule groups, and their evaluation with AWS WAF's semantics:
//! rules in priority order, the first terminating action ends it, `Count` goes on, labels
//! added by a rule are seen by the rules after it, and the default action when nothing
//! terminated.

use std::net::IpAddr;
use std::sync::Arc;

use crate::field::{Field, Loc};
use crate::ipset::IpSet;
use crate::matching::{Place, Target, Threat};
use crate::rate::RateCounters;
use crate::request::Request;
use crate::transform::Transformation;

/// A compiled web ACL.
#[derive(Debug)]
pub struct WebAcl {
    /// `Name`.
    pub name: Arc<str>,
    /// `DefaultAction` (`Allow` or `Block`).
    pub default_action: Action,
    /// `Rules`, in priority order.
    pub rules: Vec<Rule>,
    /// The body inspection limit (`AssociationConfig`, 16 KB unless set).
    pub body_limit: usize,
    /// `VisibilityConfig.MetricName`.
    pub metric_name: Arc<str>,
    /// Whether any statement reads the body.
    pub reads_body: bool,
    /// The threats the managed rules look for, per component (what a request is scanned
    /// for, once).
    pub wanted: [Vec<Threat>; crate::matching::TARGETS],
    /// The rules' string matches and regexes, scanned for in one pass.
    pub prefilter: crate::prefilter::Prefilter,
}

/// A compiled rule group (a custom one, or a built-in managed one).
#[derive(Debug)]
pub struct RuleGroup {
    /// Its name.
    pub name: Arc<str>,
    /// Its rules, in priority order.
    pub rules: Vec<Rule>,
}

/// One rule.
#[derive(Debug)]
pub struct Rule {
    /// `Name`.
    pub name: Arc<str>,
    /// `Priority`.
    pub priority: i64,
    /// `Statement`.
    pub statement: Statement,
    /// `Action` or `OverrideAction`.
    pub action: RuleAction,
    /// `RuleLabels`, fully qualified.
    pub labels: Vec<Arc<str>>,
    /// `VisibilityConfig.MetricName`.
    pub metric_name: Arc<str>,
}

/// What a rule does when it matches.
#[derive(Debug, Clone)]
pub enum RuleAction {
    /// A rule with an ordinary statement.
    Action(Action),
    /// A rule that references a rule group: `None` keeps the group's actions, `Count` turns
    /// them all into `Count`.
    Override {
        /// `OverrideAction: {Count: {}}`.
        count: bool,
    },
}

/// An action.
#[derive(Debug, Clone)]
pub enum Action {
    /// Let the request through, with headers for the upstream.
    Allow(Arc<[(String, String)]>),
    /// Refuse it, with the gateway's `WAF_FILTERED` response or a custom one.
    Block(Option<Arc<CustomResponse>>),
    /// Record the match and go on, with headers for the upstream.
    Count(Arc<[(String, String)]>),
    /// Ask for a CAPTCHA: this gateway issues no tokens, so the request is answered with the
    /// puzzle's status, as AWS answers a client without a valid token.
    Captcha,
    /// Ask for a silent challenge; answered like [`Action::Captcha`], with its own status.
    Challenge,
}

impl Action {
    /// AWS's name for the action.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Allow(_) => "ALLOW",
            Action::Block(_) => "BLOCK",
            Action::Count(_) => "COUNT",
            Action::Captcha => "CAPTCHA",
            Action::Challenge => "CHALLENGE",
        }
    }
}

/// A custom response for `Block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomResponse {
    /// `ResponseCode`.
    pub status: u16,
    /// `ResponseHeaders` (names are sent as given).
    pub headers: Vec<(String, String)>,
    /// The body named by `CustomResponseBodyKey`: content type and content.
    pub body: Option<(&'static str, Arc<str>)>,
}

/// A statement.
#[derive(Debug)]
pub enum Statement {
    /// `ByteMatchStatement`.
    ByteMatch(Box<Inspect>, Vec<u8>, Position),
    /// `RegexMatchStatement`.
    Regex(Box<Inspect>, Arc<regex::bytes::Regex>),
    /// `RegexPatternSetReferenceStatement`.
    RegexSet(Box<Inspect>, Arc<regex::bytes::RegexSet>),
    /// `SqliMatchStatement`.
    Sqli(Box<Inspect>, Sensitivity),
    /// `XssMatchStatement`.
    Xss(Box<Inspect>),
    /// `SizeConstraintStatement`.
    Size(Box<Inspect>, Comparison, u64),
    /// `IPSetReferenceStatement`.
    IpSet(Arc<IpSet>, Option<Forwarded>),
    /// `GeoMatchStatement`.
    Geo(Box<GeoMatch>),
    /// `LabelMatchStatement`.
    Label(LabelScope, Arc<str>),
    /// `AndStatement`.
    And(Vec<Statement>),
    /// `OrStatement`.
    Or(Vec<Statement>),
    /// `NotStatement`.
    Not(Box<Statement>),
    /// `RateBasedStatement` (a rule's top statement only).
    RateBased(Box<RateBased>),
    /// `RuleGroupReferenceStatement` or `ManagedRuleGroupStatement` (a rule's top statement only).
    Group(Box<GroupRef>),
    /// The built-in detectors of the managed rule groups, on a request component: a value
    /// with any of these threats matches.
    Detect(Target, &'static [Threat]),
}

impl Statement {
    /// Adds the threats its managed detectors look for, per component.
    pub fn wanted(&self, out: &mut [Vec<Threat>; crate::matching::TARGETS]) {
        match self {
            Statement::Detect(target, threats) => {
                if let Some(list) = out.get_mut(*target as usize) {
                    for t in *threats {
                        if !list.contains(t) {
                            list.push(*t);
                        }
                    }
                }
            }
            Statement::And(all) | Statement::Or(all) => all.iter().for_each(|s| s.wanted(out)),
            Statement::Not(inner) => inner.wanted(out),
            Statement::RateBased(r) => {
                if let Some(s) = &r.scope_down {
                    s.wanted(out);
                }
            }
            Statement::Group(g) => {
                if let Some(s) = &g.scope_down {
                    s.wanted(out);
                }
                g.group.rules.iter().for_each(|r| r.statement.wanted(out));
            }
            _ => {}
        }
    }

    /// Whether evaluating it may read the body (the gateway reads the body only then).
    pub fn reads_body(&self) -> bool {
        match self {
            Statement::ByteMatch(i, ..)
            | Statement::Regex(i, _)
            | Statement::RegexSet(i, _)
            | Statement::Sqli(i, _)
            | Statement::Xss(i)
            | Statement::Size(i, ..) => i.field.reads_body(),
            Statement::Detect(target, _) => *target == Target::Body,
            Statement::And(all) | Statement::Or(all) => all.iter().any(Statement::reads_body),
            Statement::Not(inner) => inner.reads_body(),
            Statement::RateBased(r) => r.scope_down.as_ref().is_some_and(Statement::reads_body),
            Statement::Group(g) => {
                g.scope_down.as_ref().is_some_and(Statement::reads_body)
                    || g.group.rules.iter().any(|r| r.statement.reads_body())
            }
            Statement::IpSet(..) | Statement::Geo(_) | Statement::Label(..) => false,
        }
    }
}

/// The part of a request a statement inspects and the transformations applied to it.
#[derive(Debug)]
pub struct Inspect {
    /// `FieldToMatch`.
    pub field: Field,
    /// `TextTransformations`, lowest priority first.
    pub chain: Vec<(u32, Transformation)>,
}

/// `PositionalConstraint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// `EXACTLY`.
    Exactly,
    /// `STARTS_WITH`.
    StartsWith,
    /// `ENDS_WITH`.
    EndsWith,
    /// `CONTAINS`.
    Contains,
    /// `CONTAINS_WORD`: the string with no letter, digit or `_` on either side.
    ContainsWord,
}

/// `SensitivityLevel`: `Low` (the default) or `High`.
pub use crate::detect::Sensitivity;

/// `ComparisonOperator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `EQ`.
    Eq,
    /// `NE`.
    Ne,
    /// `LE`.
    Le,
    /// `LT`.
    Lt,
    /// `GE`.
    Ge,
    /// `GT`.
    Gt,
}

/// `ForwardedIPConfig` / `IPSetForwardedIPConfig`.
#[derive(Debug, Clone)]
pub struct Forwarded {
    /// `HeaderName` (lower case).
    pub header: http::HeaderName,
    /// `FallbackBehavior: MATCH` (otherwise `NO_MATCH`).
    pub fallback_match: bool,
    /// `Position` (`FIRST` for `GeoMatch` and rate-based rules, which have none).
    pub position: IpPosition,
}

/// `Position` of `IPSetForwardedIPConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpPosition {
    /// The first address in the header.
    First,
    /// The last one.
    Last,
    /// Any of them (at most the last ten are inspected).
    Any,
}

/// `GeoMatchStatement`.
#[derive(Debug)]
pub struct GeoMatch {
    /// `CountryCodes`.
    pub countries: Vec<[u8; 2]>,
    /// `ForwardedIPConfig`.
    pub forwarded: Option<Forwarded>,
}

/// `LabelMatchStatement.Scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelScope {
    /// `LABEL`: the key is the label's name with any number of the namespaces before it.
    Label,
    /// `NAMESPACE`: the key is a run of the label's namespaces.
    Namespace,
}

/// `RateBasedStatement`.
#[derive(Debug)]
pub struct RateBased {
    /// `Limit`: requests in the window above which the rule matches.
    pub limit: u64,
    /// `AggregateKeyType` and `CustomKeys`.
    pub keys: Vec<AggregateKey>,
    /// `ScopeDownStatement`.
    pub scope_down: Option<Statement>,
    /// The counters (kept across reloads).
    pub counters: Arc<RateCounters>,
}

/// One part of a rate-based rule's aggregation key.
#[derive(Debug)]
pub enum AggregateKey {
    /// `CONSTANT`: every request counts together.
    Constant,
    /// The client's address.
    Ip,
    /// The first address of a header (requests without one are not counted).
    ForwardedIp(http::HeaderName),
    /// A header's value, transformed.
    Header(http::HeaderName, Vec<(u32, Transformation)>),
    /// A cookie's value, transformed.
    Cookie(Vec<u8>, Vec<(u32, Transformation)>),
    /// A query argument's value, transformed.
    QueryArgument(String, Vec<(u32, Transformation)>),
    /// The query string, transformed.
    QueryString(Vec<(u32, Transformation)>),
    /// The path, transformed.
    UriPath(Vec<(u32, Transformation)>),
    /// The method.
    Method,
    /// The names of the labels in a namespace that earlier rules added.
    LabelNamespace(Arc<str>),
}

/// A rule group as a web ACL's rule uses it.
#[derive(Debug)]
pub struct GroupRef {
    /// The group.
    pub group: Arc<RuleGroup>,
    /// `ExcludedRules` (they count instead) and `RuleActionOverrides`: by rule name.
    pub overrides: Vec<(Arc<str>, Action)>,
    /// `ScopeDownStatement` (managed groups).
    pub scope_down: Option<Statement>,
}

/// A country database for `GeoMatchStatement`.
pub trait Geo: Send + Sync + std::fmt::Debug {
    /// The ISO 3166-1 alpha-2 code of the country of `ip`.
    fn country(&self, ip: IpAddr) -> Option<[u8; 2]>;
}

/// How a request ended up.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Allowed, by a rule or the default action.
    Allow,
    /// Blocked, with a custom response or the gateway's `WAF_FILTERED`.
    Block(Option<Arc<CustomResponse>>),
    /// A CAPTCHA the client has no token for.
    Captcha,
    /// A challenge the client has no token for.
    Challenge,
}

/// One rule that matched.
#[derive(Debug, Clone)]
pub struct RuleMatch {
    /// The rule's name; for a rule inside a group, `group-rule-name:inner-rule-name`.
    pub rule: String,
    /// The action it took (after overrides).
    pub action: &'static str,
    /// Where the matched value sat (never the value).
    pub field: Option<String>,
    /// Why, when a detector can say (a short, fixed text).
    pub reason: Option<&'static str>,
}

/// The web ACL's answer.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// What happens to the request.
    pub outcome: Outcome,
    /// The rule that ended evaluation (`None`: the default action).
    pub terminating_rule: Option<String>,
    /// Every rule that matched, in evaluation order.
    pub matches: Vec<RuleMatch>,
    /// Every label added, in order.
    pub labels: Vec<Arc<str>>,
    /// Headers for the upstream (`x-amzn-waf-NAME`), from Allow and Count actions.
    pub insert_headers: Vec<(String, String)>,
}

impl Verdict {
    /// Whether the request goes on to the API.
    pub fn allowed(&self) -> bool {
        matches!(self.outcome, Outcome::Allow)
    }
}

/// What evaluation needs besides the request.
#[derive(Debug, Clone, Copy)]
pub struct Env<'e> {
    /// The country database, when one is configured.
    pub geo: Option<&'e dyn Geo>,
    /// The time, in milliseconds since any fixed origin (rate-based windows).
    pub now_ms: u64,
}

struct Run<'r, 'e> {
    req: &'r Request<'r>,
    env: Env<'e>,
    /// The threats some rule looks for, per managed-rule component.
    wanted: &'e [Vec<Threat>; crate::matching::TARGETS],
    body_limit: usize,
    labels: Vec<Arc<str>>,
    matches: Vec<RuleMatch>,
    headers: Vec<(String, String)>,
    /// Where the last matching leaf statement found its value (put into words only when
    /// the rule matches: most leaf matches sit under a `Not` or an `And` that fails).
    hit: Option<Hit<'r>>,
    reason: Option<&'static str>,
    /// What the managed detectors found in each component, scanned once per request on
    /// first use: every value's threats, found with one decoding of the value.
    found: [Option<Vec<Finding<'r>>>; crate::matching::TARGETS],
}

/// Where a leaf statement matched.
enum Hit<'r> {
    At(Loc<'r>),
    Text(String),
}

impl std::fmt::Display for Hit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hit::At(loc) => loc.fmt(f),
            Hit::Text(t) => f.write_str(t),
        }
    }
}

/// A threat found in one value of a component.
type Finding<'r> = (Loc<'r>, Threat, &'static str);

/// A terminating action and the rule that took it.
struct Stop {
    outcome: Outcome,
    rule: String,
}

impl WebAcl {
    /// Evaluates the web ACL on a request.
    pub fn evaluate(&self, req: &Request<'_>, env: Env<'_>) -> Verdict {
        let mut run = Run {
            req,
            env,
            wanted: &self.wanted,
            body_limit: self.body_limit,
            labels: Vec::new(),
            matches: Vec::new(),
            headers: Vec::new(),
            hit: None,
            reason: None,
            found: Default::default(),
        };
        let found = self
            .prefilter
            .active()
            .then(|| self.prefilter.scan(req, self.body_limit));
        let stop = run.top(self, found.as_ref());
        let (outcome, terminating_rule) = match stop {
            Some(s) => (s.outcome, Some(s.rule)),
            None => match &self.default_action {
                Action::Allow(h) => {
                    run.insert(h);
                    (Outcome::Allow, None)
                }
                Action::Block(r) => (Outcome::Block(r.clone()), None),
                // The loader takes only Allow or Block.
                _ => (Outcome::Allow, None),
            },
        };
        let insert_headers = if matches!(outcome, Outcome::Allow) {
            run.headers
        } else {
            Vec::new()
        };
        Verdict {
            outcome,
            terminating_rule,
            matches: run.matches,
            labels: run.labels,
            insert_headers,
        }
    }
}

impl<'r> Run<'r, '_> {
    fn insert(&mut self, headers: &[(String, String)]) {
        for (name, value) in headers {
            let name = format!("x-amzn-waf-{}", name.to_ascii_lowercase());
            self.headers.retain(|(n, _)| *n != name);
            self.headers.push((name, value.clone()));
        }
    }

    /// Runs the web ACL's rules, skipping those the prefilter's scan rules out.
    fn top(&mut self, acl: &'r WebAcl, found: Option<&crate::prefilter::Found>) -> Option<Stop> {
        let Some(found) = found else {
            return self.rules(&acl.rules, None, false, &[]);
        };
        for i in acl.prefilter.candidates(found) {
            let Some(rule) = acl.rules.get(i) else {
                continue;
            };
            if let Some(stop) = self.rules(std::slice::from_ref(rule), None, false, &[]) {
                return Some(stop);
            }
        }
        None
    }

    /// Runs rules in order; `group` names the rule-group rule they sit in, `count_all` is
    /// its `OverrideAction: Count`, `overrides` its per-rule overrides.
    fn rules(
        &mut self,
        rules: &'r [Rule],
        group: Option<&str>,
        count_all: bool,
        overrides: &[(Arc<str>, Action)],
    ) -> Option<Stop> {
        for rule in rules {
            let full_name = |name: &str| match group {
                Some(g) => format!("{g}:{name}"),
                None => name.to_owned(),
            };
            if let Statement::Group(g) = &rule.statement {
                if let Some(scope) = &g.scope_down
                    && !self.statement(scope)
                {
                    continue;
                }
                let RuleAction::Override { count } = rule.action else {
                    continue;
                };
                let before = self.matches.len();
                // Groups never nest: the group rule's own name prefixes its rules' names.
                let stop = self.rules(
                    &g.group.rules,
                    Some(&rule.name),
                    count_all || count,
                    &g.overrides,
                );
                if self.matches.len() > before {
                    self.labels.extend(rule.labels.iter().cloned());
                }
                if stop.is_some() {
                    return stop;
                }
                continue;
            }
            self.hit = None;
            self.reason = None;
            if !self.statement(&rule.statement) {
                continue;
            }
            let RuleAction::Action(declared) = &rule.action else {
                continue;
            };
            let mut action = overrides
                .iter()
                .find(|(n, _)| **n == *rule.name)
                .map_or(declared, |(_, a)| a);
            let counted = Action::Count(Arc::from(Vec::new()));
            if count_all {
                action = &counted;
            }
            self.matches.push(RuleMatch {
                rule: full_name(&rule.name),
                action: action.name(),
                field: self.hit.take().map(|h| h.to_string()),
                reason: self.reason.take(),
            });
            self.labels.extend(rule.labels.iter().cloned());
            let outcome = match action {
                Action::Count(h) => {
                    self.insert(h);
                    continue;
                }
                Action::Allow(h) => {
                    self.insert(h);
                    Outcome::Allow
                }
                Action::Block(r) => Outcome::Block(r.clone()),
                Action::Captcha => Outcome::Captcha,
                Action::Challenge => Outcome::Challenge,
            };
            return Some(Stop {
                outcome,
                rule: full_name(&rule.name),
            });
        }
        None
    }

    fn inspect(&mut self, i: &'r Inspect, test: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        match i.field.matches(self.req, &i.chain, self.body_limit, test) {
            Some(loc) => {
                self.note(loc);
                true
            }
            None => false,
        }
    }

    /// Every threat in every value of `target`, scanned on first use.
    fn findings(&mut self, target: Target) -> &[Finding<'r>] {
        let slot = target as usize;
        if matches!(target, Target::Headers | Target::UserAgent)
            && self.found.get(slot).is_some_and(Option::is_none)
        {
            self.scan_headers_and_agent();
        }
        if self.found.get(slot).is_some_and(Option::is_none) {
            let mut list = Vec::new();
            let req = self.req;
            let wanted = self.wanted.get(slot).map_or(&[][..], Vec::as_slice);
            crate::matching::each_value(req, target, self.body_limit, &mut |v, place, loc| {
                crate::matching::scan(v, place, wanted, &mut |threat, why| {
                    list.push((loc, threat, why));
                });
                false
            });
            if let Some(s) = self.found.get_mut(slot) {
                *s = Some(list);
            }
        }
        self.found
            .get(slot)
            .and_then(Option::as_deref)
            .unwrap_or_default()
    }

    /// The `Headers` and `UserAgent` components in one pass when rules want both: the
    /// User-Agent is a header too, and is decoded and scanned once for both lists. Each
    /// list comes out as a pass of its own would make it. Leaves `UserAgent` to its own
    /// pass when a User-Agent lies beyond the headers' inspection limits.
    fn scan_headers_and_agent(&mut self) {
        let (h, u) = (Target::Headers as usize, Target::UserAgent as usize);
        let (Some(in_headers), Some(in_agent)) = (self.wanted.get(h), self.wanted.get(u)) else {
            return;
        };
        if in_headers.is_empty() || in_agent.is_empty() {
            return;
        }
        let mut both = in_agent.clone();
        both.extend(in_headers.iter().filter(|t| !in_agent.contains(t)));
        let (mut headers, mut agent, mut agents) = (Vec::new(), Vec::new(), 0usize);
        crate::matching::each_value(
            self.req,
            Target::Headers,
            self.body_limit,
            &mut |v, place, loc| {
                if place != Place::UserAgent {
                    crate::matching::scan(v, place, in_headers, &mut |threat, why| {
                        headers.push((loc, threat, why));
                    });
                    return false;
                }
                agents += 1;
                let mut seen = Vec::new();
                crate::matching::scan(v, place, &both, &mut |threat, why| seen.push((threat, why)));
                for (wanted, out) in [(in_headers, &mut headers), (in_agent, &mut agent)] {
                    for t in wanted {
                        if let Some((threat, why)) = seen.iter().find(|(s, _)| s == t) {
                            out.push((loc, *threat, *why));
                        }
                    }
                }
                false
            },
        );
        let all_agents = self
            .req
            .headers
            .get_all(http::header::USER_AGENT)
            .iter()
            .count();
        if let Some(slot) = self.found.get_mut(h) {
            *slot = Some(headers);
        }
        if agents == all_agents
            && let Some(slot) = self.found.get_mut(u)
        {
            *slot = Some(agent);
        }
    }

    fn note(&mut self, loc: Loc<'r>) {
        self.hit = Some(Hit::At(loc));
    }

    fn statement(&mut self, s: &'r Statement) -> bool {
        match s {
            Statement::ByteMatch(i, needle, pos) => {
                self.inspect(i, &mut |v| byte_match(v, needle, *pos))
            }
            Statement::Regex(i, re) => self.inspect(i, &mut |v| re.is_match(v)),
            Statement::RegexSet(i, set) => self.inspect(i, &mut |v| set.is_match(v)),
            Statement::Sqli(i, sensitivity) => {
                let s = *sensitivity;
                self.inspect(i, &mut |v| crate::detect::sqli(v, s))
            }
            Statement::Xss(i) => self.inspect(i, &mut crate::detect::xss),
            Statement::Detect(target, threats) => {
                let (target, threats) = (*target, *threats);
                let hit = self
                    .findings(target)
                    .iter()
                    .find(|(_, t, _)| threats.contains(t))
                    .map(|(loc, _, why)| (*loc, *why));
                match hit {
                    Some((loc, why)) => {
                        self.note(loc);
                        self.reason = Some(why);
                        true
                    }
                    None => false,
                }
            }
            Statement::Size(i, op, size) => {
                let (op, size) = (*op, *size);
                self.inspect(i, &mut |v| compare(v.len() as u64, op, size))
            }
            Statement::IpSet(set, fwd) => self.ip_match(fwd.as_ref(), |ip| set.contains(ip)),
            Statement::Geo(g) => self.geo(g),
            Statement::Label(scope, key) => {
                self.labels.iter().any(|l| label_matches(l, *scope, key))
            }
            Statement::And(all) => all.iter().all(|s| self.statement(s)),
            Statement::Or(any) => any.iter().any(|s| self.statement(s)),
            Statement::Not(inner) => {
                let matched = self.statement(inner);
                self.hit = None;
                !matched
            }
            Statement::RateBased(r) => self.rate(r),
            // Only at a rule's top, handled by `rules`.
            Statement::Group(_) => false,
        }
    }

    /// The addresses a forwarded-IP configuration names, or the client's own address.
    fn ip_match(&mut self, fwd: Option<&Forwarded>, test: impl Fn(IpAddr) -> bool) -> bool {
        let Some(fwd) = fwd else {
            return test(self.req.client_ip);
        };
        let Some(ips) = forwarded_ips(self.req, fwd) else {
            return fwd.fallback_match;
        };
        let hit = match fwd.position {
            IpPosition::First => ips.first().is_some_and(|ip| test(*ip)),
            IpPosition::Last => ips.last().is_some_and(|ip| test(*ip)),
            IpPosition::Any => ips.iter().rev().take(10).any(|ip| test(*ip)),
        };
        if hit {
            self.hit = Some(Hit::Text(format!("header {}", fwd.header)));
        }
        hit
    }

    fn geo(&mut self, g: &GeoMatch) -> bool {
        let (ip, label_ns) = match &g.forwarded {
            None => (Some(self.req.client_ip), "clientip"),
            Some(fwd) => match forwarded_ips(self.req, fwd) {
                Some(ips) => (ips.first().copied(), "forwardedip"),
                None => return fwd.fallback_match,
            },
        };
        let country = ip
            .and_then(|ip| self.env.geo.and_then(|db| db.country(ip)))
            .unwrap_or(*b"XX");
        let label: Arc<str> = Arc::from(format!(
            "awswaf:{label_ns}:geo:country:{}",
            String::from_utf8_lossy(&country)
        ));
        if !self.labels.contains(&label) {
            self.labels.push(label);
        }
        g.countries.contains(&country)
    }

    fn rate(&mut self, r: &'r RateBased) -> bool {
        if let Some(scope) = &r.scope_down
            && !self.statement(scope)
        {
            return false;
        }
        let mut key = Vec::new();
        for part in &r.keys {
            if !self.key_part(part, &mut key) {
                // A request without one of the key's parts is neither counted nor limited.
                return false;
            }
            key.push(0);
        }
        let count = r.counters.hit(&key, self.env.now_ms);
        let over = count > r.limit;
        if over {
            self.hit = Some(Hit::Text("rate".to_owned()));
        }
        over
    }

    fn key_part(&self, part: &AggregateKey, key: &mut Vec<u8>) -> bool {
        let req = self.req;
        let mut push = |v: &[u8], chain: &[(u32, Transformation)]| {
            key.extend_from_slice(&crate::transform::apply_all(chain, v));
            true
        };
        match part {
            AggregateKey::Constant => true,
            AggregateKey::Ip => push(req.client_ip.to_string().as_bytes(), &[]),
            AggregateKey::ForwardedIp(h) => {
                let fwd = Forwarded {
                    header: h.clone(),
                    fallback_match: false,
                    position: IpPosition::First,
                };
                match forwarded_ips(req, &fwd).and_then(|ips| ips.first().copied()) {
                    Some(ip) => push(ip.to_string().as_bytes(), &[]),
                    None => false,
                }
            }
            AggregateKey::Header(name, chain) => match req.headers.get(name) {
                Some(v) => push(v.as_bytes(), chain),
                None => false,
            },
            AggregateKey::Cookie(name, chain) => {
                match req.cookies().find(|(n, _)| *n == name.as_slice()) {
                    Some((_, v)) => push(v, chain),
                    None => false,
                }
            }
            AggregateKey::QueryArgument(name, chain) => {
                match req
                    .query_args()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                {
                    Some((_, v)) => push(v, chain),
                    None => false,
                }
            }
            AggregateKey::QueryString(chain) => {
                !req.query.is_empty() && push(req.query.as_bytes(), chain)
            }
            AggregateKey::UriPath(chain) => push(req.path.as_bytes(), chain),
            AggregateKey::Method => push(req.method.as_bytes(), &[]),
            AggregateKey::LabelNamespace(ns) => {
                let mut any = false;
                for l in &self.labels {
                    if let Some(name) = l.strip_prefix(&**ns) {
                        key.extend_from_slice(name.as_bytes());
                        key.push(b',');
                        any = true;
                    }
                }
                any
            }
        }
    }
}

/// The addresses in a forwarded-IP header; `None` when the header is missing or one of
/// its addresses is not an IP address (the fallback behaviour then decides).
fn forwarded_ips(req: &Request<'_>, fwd: &Forwarded) -> Option<Vec<IpAddr>> {
    let value = req.headers.get(&fwd.header)?.to_str().ok()?;
    let mut ips = Vec::new();
    for part in value.split(',') {
        let part = part.trim();
        // Ports and brackets are accepted as AWS accepts them (`[::1]:80`, `1.2.3.4:80`).
        let ip = part
            .parse::<IpAddr>()
            .ok()
            .or_else(|| part.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
            .or_else(|| {
                part.strip_prefix('[')
                    .and_then(|p| p.strip_suffix(']'))
                    .and_then(|p| p.parse().ok())
            })?;
        ips.push(ip);
    }
    (!ips.is_empty()).then_some(ips)
}

/// `ByteMatchStatement` on one value.
pub fn byte_match(value: &[u8], needle: &[u8], pos: Position) -> bool {
    match pos {
        Position::Exactly => value == needle,
        Position::StartsWith => value.starts_with(needle),
        Position::EndsWith => value.ends_with(needle),
        Position::Contains => memmem(value, needle).is_some(),
        Position::ContainsWord => {
            let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
            let mut from = 0;
            while let Some(rest) = value.get(from..) {
                let Some(i) = memmem(rest, needle) else {
                    return false;
                };
                let start = from + i;
                let end = start + needle.len();
                let before = start.checked_sub(1).and_then(|b| value.get(b));
                if !word(before) && !word(value.get(end)) {
                    return true;
                }
                from = start + 1;
            }
            false
        }
    }
}

fn memmem(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn compare(len: u64, op: Comparison, size: u64) -> bool {
    match op {
        Comparison::Eq => len == size,
        Comparison::Ne => len != size,
        Comparison::Le => len <= size,
        Comparison::Lt => len < size,
        Comparison::Ge => len >= size,
        Comparison::Gt => len > size,
    }
}

/// `LabelMatchStatement`: for `LABEL` the key is the label's last components (name
/// included) on `:` boundaries; for `NAMESPACE` it is a run of whole namespace components.
pub fn label_matches(label: &str, scope: LabelScope, key: &str) -> bool {
    match scope {
        LabelScope::Label => {
            label == key
                || label
                    .strip_suffix(key)
                    .is_some_and(|head| head.ends_with(':'))
        }
        LabelScope::Namespace => {
            let key = key.trim_end_matches(':');
            let Some((namespace, _name)) = label.rsplit_once(':') else {
                return false;
            };
            let ns = format!(":{namespace}:");
            !key.is_empty() && ns.contains(&format!(":{key}:"))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn positional_constraints() {
        assert!(byte_match(b"badbot", b"badbot", Position::Exactly));
        assert!(!byte_match(b"badbot/1", b"badbot", Position::Exactly));
        assert!(byte_match(b"badbot/1", b"badbot", Position::StartsWith));
        assert!(byte_match(b"x.php", b".php", Position::EndsWith));
        assert!(byte_match(b"a badbot b", b"badbot", Position::Contains));
        assert!(byte_match(b"a badbot b", b"badbot", Position::ContainsWord));
        assert!(byte_match(b"badbot;", b"badbot", Position::ContainsWord));
        assert!(byte_match(
            b"xbadbot badbot",
            b"badbot",
            Position::ContainsWord
        ));
        assert!(!byte_match(b"xbadbot", b"badbot", Position::ContainsWord));
        assert!(!byte_match(b"badbot_2", b"badbot", Position::ContainsWord));
        assert!(!byte_match(b"badbot9", b"badbot", Position::ContainsWord));
    }

    #[test]
    fn label_keys_match_on_component_boundaries() {
        let l = "awswaf:111122223333:webacl:acl:suspicious:sqli";
        assert!(label_matches(l, LabelScope::Label, "sqli"));
        assert!(label_matches(l, LabelScope::Label, "suspicious:sqli"));
        assert!(label_matches(l, LabelScope::Label, l));
        assert!(!label_matches(l, LabelScope::Label, "qli"));
        assert!(!label_matches(l, LabelScope::Label, "suspicious"));
        assert!(label_matches(l, LabelScope::Namespace, "suspicious:"));
        assert!(label_matches(
            l,
            LabelScope::Namespace,
            "awswaf:111122223333:webacl:"
        ));
        assert!(!label_matches(l, LabelScope::Namespace, "sqli:"));
        assert!(!label_matches(l, LabelScope::Namespace, "suspic:"));
    }
}
