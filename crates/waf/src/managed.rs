//! The built-in managed rule groups, named and labelled as AWS names them
//! (`VendorName: AWS`), so that web ACLs port both ways.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use crate::acl::{Action, Detector, Inspect, Rule, RuleAction, RuleGroup, Sensitivity, Statement};
use crate::field::{Field, Oversize};
use crate::transform::Transformation;

/// The names of the built-in groups.
pub const NAMES: &[&str] = &["AWSManagedRulesSQLiRuleSet"];

static GROUPS: LazyLock<HashMap<&'static str, Arc<RuleGroup>>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    m.insert("AWSManagedRulesSQLiRuleSet", Arc::new(sqli()));
    m
});

/// The built-in group named `name`.
pub fn group(name: &str) -> Option<Arc<RuleGroup>> {
    GROUPS.get(name).cloned()
}

fn rule(group_ns: &str, priority: i64, name: &str, label: &str, statement: Statement) -> Rule {
    Rule {
        name: Arc::from(name),
        priority,
        statement,
        action: RuleAction::Action(Action::Block(None)),
        labels: vec![Arc::from(format!("awswaf:managed:aws:{group_ns}:{label}"))],
        metric_name: Arc::from(name),
    }
}

fn detect(field: Field, detector: Detector) -> Statement {
    Statement::Detect(
        Box::new(Inspect {
            field,
            chain: vec![
                (0, Transformation::URL_DECODE_UNI),
                (1, Transformation::HTML_ENTITY_DECODE),
            ],
        }),
        detector,
    )
}

fn sqli() -> RuleGroup {
    let ns = "sql-database";
    let d = Detector::Sqli(Sensitivity::Low);
    RuleGroup {
        name: Arc::from("AWSManagedRulesSQLiRuleSet"),
        rules: vec![
            rule(
                ns,
                0,
                "SQLi_QUERYARGUMENTS",
                "SQLi_QueryArguments",
                detect(Field::AllQueryArguments, d),
            ),
            rule(
                ns,
                1,
                "SQLi_BODY",
                "SQLi_Body",
                detect(Field::Body(Oversize::Continue), d),
            ),
            rule(
                ns,
                2,
                "SQLi_URIPATH",
                "SQLi_URIPath",
                detect(Field::UriPath, d),
            ),
        ],
    }
}
