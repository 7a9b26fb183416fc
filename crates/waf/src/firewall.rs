//! Everything a gateway's `waf:` section names, compiled together: IP sets and regex pattern
//! sets first, then rule groups (which may use them), then web ACLs (which may use all).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::acl::{Geo, WebAcl};
use crate::ipset::IpSet;
use crate::parse::{self, Catalog, Problem};
use crate::rate::RateRegistry;

/// The named objects, as AWS JSON, and what they may use.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The account in label names.
    pub account: String,
    /// IP sets by name.
    pub ip_sets: Vec<(String, Value)>,
    /// Regex pattern sets by name.
    pub regex_pattern_sets: Vec<(String, Value)>,
    /// Rule groups by name.
    pub rule_groups: Vec<(String, Value)>,
    /// Web ACLs by name.
    pub web_acls: Vec<(String, Value)>,
    /// The country database for `GeoMatchStatement`.
    pub geo: Option<Arc<dyn Geo>>,
    /// The addresses of the IP reputation managed group.
    pub ip_reputation: Option<Arc<IpSet>>,
}

/// The kind of a named object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ip_sets`.
    IpSet,
    /// `regex_pattern_sets`.
    RegexPatternSet,
    /// `rule_groups`.
    RuleGroup,
    /// `web_acls`.
    WebAcl,
}

impl Kind {
    /// The config key the objects of this kind sit under.
    pub fn key(self) -> &'static str {
        match self {
            Kind::IpSet => "ip_sets",
            Kind::RegexPatternSet => "regex_pattern_sets",
            Kind::RuleGroup => "rule_groups",
            Kind::WebAcl => "web_acls",
        }
    }
}

/// A problem inside one named object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedProblem {
    /// The kind of object.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// The problem, at its JSON path inside the object.
    pub problem: Problem,
}

impl fmt::Display for SourcedProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.kind.key(), self.name, self.problem)
    }
}

/// The compiled web ACLs.
#[derive(Debug, Clone, Default)]
pub struct Firewall {
    /// By name.
    pub acls: HashMap<String, Arc<WebAcl>>,
    /// The country database.
    pub geo: Option<Arc<dyn Geo>>,
}

impl Firewall {
    /// Compiles every object; rate-based rules take their counters from `rates`, so that
    /// a recompile of the same rule keeps counting.
    pub fn compile(s: &Sources, rates: &RateRegistry) -> Result<Firewall, Vec<SourcedProblem>> {
        let mut problems = Vec::new();
        let mut catalog = Catalog {
            account: s.account.clone(),
            geo: s.geo.is_some(),
            rates: rates.clone(),
            ip_reputation: s.ip_reputation.clone(),
            ..Catalog::default()
        };
        let mut sourced = |kind, name: &str, ps: Vec<Problem>| {
            problems.extend(ps.into_iter().map(|problem| SourcedProblem {
                kind,
                name: name.to_owned(),
                problem,
            }));
        };
        for (name, v) in &s.ip_sets {
            match parse::ip_set(v) {
                Ok(set) => {
                    catalog.ip_sets.insert(name.clone(), Arc::new(set));
                }
                Err(ps) => sourced(Kind::IpSet, name, ps),
            }
        }
        for (name, v) in &s.regex_pattern_sets {
            match parse::regex_set(v) {
                Ok(set) => {
                    catalog.regex_sets.insert(name.clone(), Arc::new(set));
                }
                Err(ps) => sourced(Kind::RegexPatternSet, name, ps),
            }
        }
        let mut groups = HashMap::new();
        for (name, v) in &s.rule_groups {
            match parse::rule_group(v, name, &catalog) {
                Ok(g) => {
                    groups.insert(name.clone(), Arc::new(g));
                }
                Err(ps) => sourced(Kind::RuleGroup, name, ps),
            }
        }
        catalog.rule_groups = groups;
        let mut acls = HashMap::new();
        for (name, v) in &s.web_acls {
            match parse::web_acl(v, name, &catalog) {
                Ok(a) => {
                    acls.insert(name.clone(), Arc::new(a));
                }
                Err(ps) => sourced(Kind::WebAcl, name, ps),
            }
        }
        if problems.is_empty() {
            Ok(Firewall {
                acls,
                geo: s.geo.clone(),
            })
        } else {
            Err(problems)
        }
    }
}
