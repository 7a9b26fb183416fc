//! The built-in managed rule groups, named and labelled as AWS names them
//! (`VendorName: AWS`), so that web ACLs port both ways. The rules' names, labels, actions
//! and inspected components follow AWS's documentation; what each rule detects is this
//! crate's own ([`crate::matching`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use crate::acl::{Action, Comparison, Inspect, Position, Rule, RuleAction, RuleGroup, Statement};
use crate::field::{Field, Oversize};
use crate::matching::{Target, Threat};
use crate::parse::Catalog;
use crate::transform::Transformation;

/// The names of the built-in groups.
pub const NAMES: &[&str] = &[
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesAdminProtectionRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
    "AWSManagedRulesUnixRuleSet",
    "AWSManagedRulesWindowsRuleSet",
    "AWSManagedRulesPHPRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
];

/// The groups the quickstart and `waf.managed_defaults` turn on, in this order.
pub const DEFAULTS: &[&str] = &[
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
    "AWSManagedRulesUnixRuleSet",
    "AWSManagedRulesWindowsRuleSet",
    "AWSManagedRulesPHPRuleSet",
];

static GROUPS: LazyLock<HashMap<&'static str, Arc<RuleGroup>>> = LazyLock::new(|| {
    [
        common(),
        admin(),
        known_bad_inputs(),
        sqli(),
        linux(),
        unix(),
        windows(),
        php(),
    ]
    .into_iter()
    .map(|g| {
        (
            NAMES.iter().copied().find(|n| **n == *g.name).unwrap_or(""),
            Arc::new(g),
        )
    })
    .collect()
});

/// The built-in group named `name`. The IP reputation group needs the catalog's list.
pub fn group(name: &str, catalog: Option<&Catalog>) -> Option<Arc<RuleGroup>> {
    if name == "AWSManagedRulesAmazonIpReputationList" {
        let list = catalog?.ip_reputation.clone()?;
        return Some(Arc::new(ip_reputation(list)));
    }
    GROUPS.get(name).cloned()
}

struct G {
    ns: &'static str,
    rules: Vec<Rule>,
}

impl G {
    fn new(ns: &'static str) -> Self {
        Self {
            ns,
            rules: Vec::new(),
        }
    }

    fn rule(&mut self, name: &str, label: &str, statement: Statement) -> &mut Self {
        self.with_action(name, label, statement, Action::Block(None))
    }

    /// Rules that block on a detector's finding: `(name, label, component, threats)`.
    fn detects(&mut self, rules: &[(&str, &str, Target, &'static [Threat])]) -> &mut Self {
        for (name, label, target, threats) in rules {
            self.rule(name, label, detect(*target, threats));
        }
        self
    }

    fn with_action(
        &mut self,
        name: &str,
        label: &str,
        statement: Statement,
        action: Action,
    ) -> &mut Self {
        let priority = i64::try_from(self.rules.len()).unwrap_or(i64::MAX);
        self.rules.push(Rule {
            name: Arc::from(name),
            priority,
            statement,
            action: RuleAction::Action(action),
            labels: vec![Arc::from(format!("awswaf:managed:aws:{}:{label}", self.ns))],
            metric_name: Arc::from(name),
        });
        self
    }

    fn done(&mut self, name: &str) -> RuleGroup {
        RuleGroup {
            name: Arc::from(name),
            rules: std::mem::take(&mut self.rules),
        }
    }
}

fn detect(target: Target, threats: &'static [Threat]) -> Statement {
    Statement::Detect(target, threats)
}

fn larger(field: Field, size: u64) -> Statement {
    Statement::Size(
        Box::new(Inspect {
            field,
            chain: vec![(0, Transformation::NONE)],
        }),
        Comparison::Gt,
        size,
    )
}

#[rustfmt::skip]
fn common() -> RuleGroup {
    let user_agent = Field::SingleHeader("user-agent".to_owned());
    let any_size = Statement::Size(
        Box::new(Inspect {
            field: user_agent,
            chain: vec![(0, Transformation::NONE)],
        }),
        Comparison::Ge,
        0,
    );
    G::new("core-rule-set")
        .rule(
            "NoUserAgent_HEADER",
            "NoUserAgent_Header",
            Statement::Not(Box::new(any_size)),
        )
        .detects(&[(
            "UserAgent_BadBots_HEADER",
            "BadBots_Header",
            Target::UserAgent,
            &[Threat::BadBot],
        )])
        .rule(
            "SizeRestrictions_QUERYSTRING",
            "SizeRestrictions_QueryString",
            larger(Field::QueryString, 2048),
        )
        .rule(
            "SizeRestrictions_Cookie_HEADER",
            "SizeRestrictions_Cookie_Header",
            larger(Field::SingleHeader("cookie".to_owned()), 10_240),
        )
        .rule(
            "SizeRestrictions_BODY",
            "SizeRestrictions_Body",
            larger(Field::Body(Oversize::Match), 8192),
        )
        .rule(
            "SizeRestrictions_URIPATH",
            "SizeRestrictions_URIPath",
            larger(Field::UriPath, 1024),
        )
        .detects(&[
            ("EC2MetaDataSSRF_BODY", "EC2MetaDataSSRF_Body", Target::Body, &[Threat::SsrfMetadata]),
            ("EC2MetaDataSSRF_COOKIE", "EC2MetaDataSSRF_Cookie", Target::Cookies, &[Threat::SsrfMetadata]),
            ("EC2MetaDataSSRF_URIPATH", "EC2MetaDataSSRF_URIPath", Target::UriPath, &[Threat::SsrfMetadata]),
            ("EC2MetaDataSSRF_QUERYARGUMENTS", "EC2MetaDataSSRF_QueryArguments", Target::QueryArguments, &[Threat::SsrfMetadata]),
            ("GenericLFI_QUERYARGUMENTS", "GenericLFI_QueryArguments", Target::QueryArguments, &[Threat::Lfi]),
            ("GenericLFI_URIPATH", "GenericLFI_URIPath", Target::UriPath, &[Threat::Lfi]),
            ("GenericLFI_BODY", "GenericLFI_Body", Target::Body, &[Threat::Lfi]),
            ("RestrictedExtensions_URIPATH", "RestrictedExtensions_URIPath", Target::UriPath, &[Threat::RestrictedExtension]),
            ("RestrictedExtensions_QUERYARGUMENTS", "RestrictedExtensions_QueryArguments", Target::QueryArguments, &[Threat::RestrictedExtension]),
            ("GenericRFI_QUERYARGUMENTS", "GenericRFI_QueryArguments", Target::QueryArguments, &[Threat::Rfi]),
            ("GenericRFI_BODY", "GenericRFI_Body", Target::Body, &[Threat::Rfi]),
            ("GenericRFI_URIPATH", "GenericRFI_URIPath", Target::UriPath, &[Threat::Rfi]),
            ("CrossSiteScripting_COOKIE", "CrossSiteScripting_Cookie", Target::Cookies, &[Threat::Xss]),
            ("CrossSiteScripting_QUERYARGUMENTS", "CrossSiteScripting_QueryArguments", Target::QueryArguments, &[Threat::Xss]),
            ("CrossSiteScripting_BODY", "CrossSiteScripting_Body", Target::Body, &[Threat::Xss]),
            ("CrossSiteScripting_URIPATH", "CrossSiteScripting_URIPath", Target::UriPath, &[Threat::Xss]),
        ])
        // Portcullis's own rules, after AWS's: the threats no AWS rule of any group looks
        // for in each component (template, NoSQL and LDAP injection, prototype pollution,
        // CRLF, XXE, internal SSRF, open redirects, and in headers and cookies the common
        // injections AWS inspects elsewhere only).
        .detects(&[
            ("GenericInjection_URIPATH", "GenericInjection_URIPath", Target::UriPath, GENERIC_PATH),
            ("GenericInjection_QUERYARGUMENTS", "GenericInjection_QueryArguments", Target::QueryArguments, GENERIC_ARGS),
            ("GenericInjection_BODY", "GenericInjection_Body", Target::Body, GENERIC_BODY),
            ("GenericInjection_COOKIE", "GenericInjection_Cookie", Target::Cookies, GENERIC_COOKIE),
            ("GenericInjection_HEADER", "GenericInjection_Header", Target::Headers, GENERIC_HEADER),
        ])
        .done("AWSManagedRulesCommonRuleSet")
}

/// Threats in no AWS group's rules anywhere.
macro_rules! beyond_aws {
    ($($extra:ident),*) => {
        &[
            $(Threat::$extra,)*
            Threat::Ssti,
            Threat::NoSqli,
            Threat::Ldap,
            Threat::PrototypePollution,
            Threat::OpenRedirect,
            Threat::Crlf,
            Threat::Xxe,
            Threat::Ssrf,
        ]
    };
}

/// What the Common rule set's `GenericInjection_*` rules look for, per component.
const GENERIC_PATH: &[Threat] = beyond_aws!(SqliExtended, UnixCommand, WindowsCommand, PowerShell);
const GENERIC_ARGS: &[Threat] = beyond_aws!();
const GENERIC_BODY: &[Threat] = beyond_aws!(LinuxFile);
const GENERIC_COOKIE: &[Threat] =
    beyond_aws!(Lfi, Rfi, UnixCommand, Log4j, JavaDeserialization, Php);
const GENERIC_HEADER: &[Threat] = beyond_aws!(Xss, Sqli, Lfi, Rfi, SsrfMetadata, PowerShell);

#[rustfmt::skip]
fn admin() -> RuleGroup {
    G::new("admin-protection")
        .detects(&[(
            "AdminProtection_URIPATH",
            "AdminProtection_URIPath",
            Target::UriPath,
            &[Threat::AdminPath],
        )])
        .done("AWSManagedRulesAdminProtectionRuleSet")
}

#[rustfmt::skip]
fn known_bad_inputs() -> RuleGroup {
    let host = Statement::Regex(
        Box::new(Inspect {
            field: Field::SingleHeader("host".to_owned()),
            chain: vec![(0, Transformation::LOWERCASE)],
        }),
        Arc::new(localhost()),
    );
    let propfind = Statement::ByteMatch(
        Box::new(Inspect {
            field: Field::Method,
            chain: vec![(0, Transformation::NONE)],
        }),
        b"PROPFIND".to_vec(),
        Position::Exactly,
    );
    G::new("known-bad-inputs")
        .detects(&[
            ("JavaDeserializationRCE_HEADER", "JavaDeserializationRCE_Header", Target::Headers, &[Threat::JavaDeserialization]),
            ("JavaDeserializationRCE_BODY", "JavaDeserializationRCE_Body", Target::Body, &[Threat::JavaDeserialization]),
            ("JavaDeserializationRCE_URIPATH", "JavaDeserializationRCE_URIPath", Target::UriPath, &[Threat::JavaDeserialization]),
            ("JavaDeserializationRCE_QUERYSTRING", "JavaDeserializationRCE_QueryString", Target::QueryString, &[Threat::JavaDeserialization]),
        ])
        .rule("Host_localhost_HEADER", "Host_Localhost_Header", host)
        .rule("PROPFIND_METHOD", "Propfind_Method", propfind)
        .detects(&[
            ("ExploitablePaths_URIPATH", "ExploitablePaths_URIPath", Target::UriPath, &[Threat::ExploitablePath]),
            ("Log4JRCE_HEADER", "Log4JRCE_Header", Target::Headers, &[Threat::Log4j]),
            ("Log4JRCE_QUERYSTRING", "Log4JRCE_QueryString", Target::QueryString, &[Threat::Log4j]),
            ("Log4JRCE_BODY", "Log4JRCE_Body", Target::Body, &[Threat::Log4j]),
            ("Log4JRCE_URIPATH", "Log4JRCE_URIPath", Target::UriPath, &[Threat::Log4j]),
        ])
        .done("AWSManagedRulesKnownBadInputsRuleSet")
}

/// `localhost`, a loopback address, with or without a port.
#[allow(
    clippy::unwrap_used,
    reason = "a constant pattern; the unit tests compile it"
)]
fn localhost() -> regex::bytes::Regex {
    regex::bytes::Regex::new(
        r"^(localhost|localhost\.localdomain|127(\.\d{1,3}){3}|\[::1\]|::1|0\.0\.0\.0|0)\.?(:\d+)?$",
    )
    .unwrap()
}

#[rustfmt::skip]
fn sqli() -> RuleGroup {
    G::new("sql-database")
        .detects(&[
            ("SQLi_QUERYARGUMENTS", "SQLi_QueryArguments", Target::QueryArguments, &[Threat::Sqli]),
            ("SQLiExtendedPatterns_QUERYARGUMENTS", "SQLiExtendedPatterns_QueryArguments", Target::QueryArguments, &[Threat::SqliExtended]),
            ("SQLi_BODY", "SQLi_Body", Target::Body, &[Threat::Sqli]),
            ("SQLiExtendedPatterns_BODY", "SQLiExtendedPatterns_Body", Target::Body, &[Threat::SqliExtended]),
            ("SQLiExtendedPatterns_HEADER", "SQLiExtendedPatterns_Header", Target::Headers, &[Threat::SqliExtended]),
            ("SQLi_COOKIE", "SQLi_Cookie", Target::Cookies, &[Threat::Sqli]),
            ("SQLi_URIPATH", "SQLi_URIPath", Target::UriPath, &[Threat::Sqli]),
        ])
        .done("AWSManagedRulesSQLiRuleSet")
}

#[rustfmt::skip]
fn linux() -> RuleGroup {
    G::new("linux-os")
        .detects(&[
            ("LFI_URIPATH", "LFI_URIPath", Target::UriPath, &[Threat::LinuxFile]),
            ("LFI_QUERYSTRING", "LFI_QueryString", Target::QueryString, &[Threat::LinuxFile]),
            ("LFI_HEADER", "LFI_Header", Target::Headers, &[Threat::LinuxFile]),
        ])
        .done("AWSManagedRulesLinuxRuleSet")
}

#[rustfmt::skip]
fn unix() -> RuleGroup {
    G::new("posix-os")
        .detects(&[
            ("UNIXShellCommandsVariables_QUERYSTRING", "UNIXShellCommandsVariables_QueryString", Target::QueryString, &[Threat::UnixCommand]),
            ("UNIXShellCommandsVariables_BODY", "UNIXShellCommandsVariables_Body", Target::Body, &[Threat::UnixCommand]),
            ("UNIXShellCommandsVariables_HEADER", "UNIXShellCommandsVariables_Header", Target::Headers, &[Threat::UnixCommand]),
        ])
        .done("AWSManagedRulesUnixRuleSet")
}

#[rustfmt::skip]
fn windows() -> RuleGroup {
    G::new("windows-os")
        .detects(&[
            ("WindowsShellCommands_COOKIE", "WindowsShellCommands_Cookie", Target::Cookies, &[Threat::WindowsCommand]),
            ("WindowsShellCommands_QUERYARGUMENTS", "WindowsShellCommands_QueryArguments", Target::QueryArguments, &[Threat::WindowsCommand]),
            ("WindowsShellCommands_BODY", "WindowsShellCommands_Body", Target::Body, &[Threat::WindowsCommand]),
            ("WindowsShellCommands_HEADER", "WindowsShellCommands_Header", Target::Headers, &[Threat::WindowsCommand]),
            ("PowerShellCommands_COOKIE", "PowerShellCommands_Cookie", Target::Cookies, &[Threat::PowerShell]),
            ("PowerShellCommands_QUERYARGUMENTS", "PowerShellCommands_QueryArguments", Target::QueryArguments, &[Threat::PowerShell]),
            ("PowerShellCommands_BODY", "PowerShellCommands_Body", Target::Body, &[Threat::PowerShell]),
        ])
        .done("AWSManagedRulesWindowsRuleSet")
}

#[rustfmt::skip]
fn php() -> RuleGroup {
    G::new("php-app")
        .detects(&[
            ("PHPHighRiskMethodsVariables_HEADER", "PHPHighRiskMethodsVariables_Header", Target::Headers, &[Threat::Php]),
            ("PHPHighRiskMethodsVariables_QUERYSTRING", "PHPHighRiskMethodsVariables_QueryString", Target::QueryString, &[Threat::Php]),
            ("PHPHighRiskMethodsVariables_BODY", "PHPHighRiskMethodsVariables_Body", Target::Body, &[Threat::Php]),
            ("PHPHighRiskMethodsVariables_URIPATH", "PHPHighRiskMethodsVariables_URIPath", Target::UriPath, &[Threat::Php]),
        ])
        .done("AWSManagedRulesPHPRuleSet")
}

fn ip_reputation(list: Arc<crate::ipset::IpSet>) -> RuleGroup {
    G::new("amazon-ip-list")
        .rule(
            "AWSManagedIPReputationList",
            "AWSManagedIPReputationList",
            Statement::IpSet(list, None),
        )
        .done("AWSManagedRulesAmazonIpReputationList")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_is_built_with_its_aws_name() {
        for name in NAMES {
            if *name == "AWSManagedRulesAmazonIpReputationList" {
                assert!(group(name, None).is_none(), "needs a list");
                continue;
            }
            let g = group(name, None);
            assert!(
                g.as_ref()
                    .is_some_and(|g| &*g.name == *name && !g.rules.is_empty()),
                "{name}"
            );
        }
        assert!(localhost().is_match(b"localhost:8080"));
        assert!(localhost().is_match(b"127.0.0.1"));
        assert!(!localhost().is_match(b"api.example.com"));
    }
}
