//! `waf:`: web ACLs, rule groups, IP sets and regex pattern sets in AWS WAF's JSON shape
//! (inline in YAML or in files), the country database and the IP reputation list, and which
//! web ACL guards which API and stage.
//!
//! Everything is compiled here once, so that a problem anywhere inside an AWS object is
//! reported at its line (in the config, or in the JSON file it came from).

use std::sync::Arc;

use portcullis_waf::firewall::{Kind, SourcedProblem};
use portcullis_waf::parse::Seg;
use portcullis_waf::{Firewall, Sources};

use super::{Cx, join, named};
use crate::model::*;
use crate::yaml::{self, Loc, Node, Value};

/// The largest file of one AWS object, country database and reputation list.
const OBJECT_FILE_MAX: u64 = 4 * 1024 * 1024;
const GEO_FILE_MAX: u64 = 256 * 1024 * 1024;
const LIST_FILE_MAX: u64 = 64 * 1024 * 1024;

const WAF_KEYS: &[&str] = &[
    "web_acl",
    "associations",
    "web_acls",
    "ip_sets",
    "regex_pattern_sets",
    "rule_groups",
    "geo_database",
    "ip_reputation_list",
];

/// Where an object was written: its node in the config, or a file with its text and tree.
struct Origin {
    kind: Kind,
    name: String,
    /// The config node (the file reference for a file) and its key path.
    node: Node,
    path: String,
    /// `(file as written, text, parsed tree)` for an object read from a file.
    file: Option<(String, String, Option<Node>)>,
}

/// Reads `waf:`. `known` lists the APIs and their stages, for associations.
pub(super) fn read_waf(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    account: Option<&Account>,
    known: &super::apis::Known,
) -> Option<WafConfig> {
    let mut m = cx.map(node, path)?;
    let mut origins = Vec::new();
    let mut sources = Sources {
        account: account.map(|a| a.account.clone()).unwrap_or_default(),
        ..Sources::default()
    };
    let mut ok = true;
    let mut files = Vec::new();
    for (kind, list) in [
        (Kind::IpSet, &mut sources.ip_sets),
        (Kind::RegexPatternSet, &mut sources.regex_pattern_sets),
        (Kind::RuleGroup, &mut sources.rule_groups),
        (Kind::WebAcl, &mut sources.web_acls),
    ] {
        let Some((n, p)) = m.take(kind.key()) else {
            continue;
        };
        let read = named(
            cx,
            n,
            &p,
            (
                "a mapping of names to objects",
                "write `NAME:` with the object in AWS's JSON shape under it, or `NAME: {file: path.json}`",
            ),
            (
                "is not a valid name",
                "a name is 1 to 128 letters, digits, `-` and `_`",
            ),
            valid_name,
            |cx, name, _, value, opath| read_object(cx, kind, name, value, opath),
        );
        match read {
            Some(objects) => {
                for (origin, json, file) in objects {
                    files.extend(file);
                    list.push((origin.name.clone(), json));
                    origins.push(origin);
                }
            }
            None => ok = false,
        }
    }
    if let Some((n, p)) = m.take("geo_database") {
        files.extend(canonical(cx, n));
        match read_geo(cx, n, &p) {
            Some(db) => sources.geo = Some(db),
            None => ok = false,
        }
    }
    if let Some((n, p)) = m.take("ip_reputation_list") {
        files.extend(canonical(cx, n));
        match read_reputation(cx, n, &p) {
            Some(list) => sources.ip_reputation = Some(Arc::new(list)),
            None => ok = false,
        }
    }
    let acl_names: Vec<String> = sources.web_acls.iter().map(|(n, _)| n.clone()).collect();
    let web_acl = m.take("web_acl").and_then(|(n, p)| {
        let name = cx.string(n, &p)?;
        check_acl_name(cx, &acl_names, &name, n.loc, &p).then_some(name)
    });
    let associations = match m.take("associations") {
        Some((n, p)) => read_associations(cx, n, &p, &acl_names, known),
        None => Some(Vec::new()),
    };
    m.finish(cx, WAF_KEYS);
    if !ok {
        return None;
    }
    if let Err(problems) =
        Firewall::compile(&sources, &portcullis_waf::rate::RateRegistry::default())
    {
        for p in problems {
            report(cx, &origins, &p);
        }
        return None;
    }
    Some(WafConfig {
        sources,
        web_acl,
        associations: associations?,
        files,
    })
}

/// The canonical path of a file the config names (for the reload watcher).
fn canonical(cx: &Cx<'_>, node: &Node) -> Option<std::path::PathBuf> {
    match &node.value {
        Value::Str(s) => std::fs::canonicalize(cx.base.join(s)).ok(),
        _ => None,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_acl_name(cx: &mut Cx<'_>, names: &[String], name: &str, loc: Loc, path: &str) -> bool {
    if names.iter().any(|n| n == name) {
        return true;
    }
    let help = crate::diag::did_you_mean(
        name,
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
        "",
        || "define it under `waf.web_acls`".to_owned(),
    );
    cx.error(loc, path, format!("no web ACL named `{name}`"), help);
    false
}

/// One object: inline (converted to JSON) or `{file: path}`.
fn read_object(
    cx: &mut Cx<'_>,
    kind: Kind,
    name: &str,
    node: &Node,
    path: &str,
) -> Option<(Origin, serde_json::Value, Option<std::path::PathBuf>)> {
    if let Value::Map(entries) = &node.value
        && entries.len() == 1
        && let Some((k, file_node)) = entries.first()
        && k.name == "file"
    {
        let fpath = join(path, "file");
        let full = cx.file_path(file_node, &fpath)?;
        let written = cx.string(file_node, &fpath)?;
        let text = match super::auth::read_limited(&full, OBJECT_FILE_MAX) {
            Ok(Some(t)) => t,
            Ok(None) => {
                cx.error(
                    file_node.loc,
                    &fpath,
                    format!(
                        "{written} is over {}",
                        crate::units::format_size(OBJECT_FILE_MAX)
                    ),
                    "split the object, or move large IP lists into several IP sets",
                );
                return None;
            }
            Err(e) => {
                cx.error(
                    file_node.loc,
                    &fpath,
                    format!("cannot read {written}: {e}"),
                    "the path is relative to the config file",
                );
                return None;
            }
        };
        let json: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                let loc = Loc {
                    line: u64::try_from(e.line()).unwrap_or(u64::MAX),
                    column: u64::try_from(e.column()).unwrap_or(u64::MAX),
                };
                cx.error_in(
                    &written,
                    &text,
                    loc,
                    "",
                    format!("not JSON: {e}"),
                    "AWS objects are JSON, as `aws wafv2 get-*` prints them",
                );
                return None;
            }
        };
        // The same text as a tree with lines, so that problems point into the file.
        let tree = yaml::parse(&text).ok();
        let canonical = std::fs::canonicalize(&full).ok();
        return Some((
            Origin {
                kind,
                name: name.to_owned(),
                node: file_node.clone(),
                path: fpath,
                file: Some((written, text, tree)),
            },
            json,
            canonical,
        ));
    }
    let json = super::validation::to_json(cx, node, path, 0)?;
    Some((
        Origin {
            kind,
            name: name.to_owned(),
            node: node.clone(),
            path: path.to_owned(),
            file: None,
        },
        json,
        None,
    ))
}

/// Reports a problem at the deepest node its JSON path reaches.
fn report(cx: &mut Cx<'_>, origins: &[Origin], p: &SourcedProblem) {
    let Some(origin) = origins
        .iter()
        .find(|o| o.kind == p.kind && o.name == p.name)
    else {
        return;
    };
    let help = "see docs/waf.md for the supported statements and fields";
    match &origin.file {
        None => {
            let (loc, path) = locate(&origin.node, &origin.path, &p.problem.path);
            cx.error(loc, &path, p.problem.message.clone(), help);
        }
        Some((written, text, tree)) => {
            let (loc, path) = match tree {
                // AWS CLI output wraps the object (`{"WebACL": {...}}`): look inside it.
                Some(t) => {
                    let inner = unwrap_output(t);
                    locate(inner, "", &p.problem.path)
                }
                None => (Loc { line: 1, column: 1 }, String::new()),
            };
            cx.error_in(written, text, loc, &path, p.problem.message.clone(), help);
        }
    }
}

fn unwrap_output(tree: &Node) -> &Node {
    if let Value::Map(entries) = &tree.value
        && let Some((_, inner)) = entries.iter().find(|(k, _)| {
            ["WebACL", "RuleGroup", "IPSet", "RegexPatternSet"].contains(&k.name.as_str())
        })
    {
        return inner;
    }
    tree
}

fn locate(root: &Node, root_path: &str, segs: &[Seg]) -> (Loc, String) {
    let mut node = root;
    let mut path = root_path.to_owned();
    for seg in segs {
        let next = match (&node.value, seg) {
            (Value::Map(entries), Seg::Key(k)) => entries
                .iter()
                .find(|(key, _)| key.name == *k)
                .map(|(_, v)| (v, join(&path, k))),
            (Value::Seq(items), Seg::Index(i)) => {
                items.get(*i).map(|v| (v, format!("{path}[{i}]")))
            }
            _ => None,
        };
        match next {
            Some((n, p)) => {
                node = n;
                path = p;
            }
            None => break,
        }
    }
    (node.loc, path)
}

fn read_geo(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Arc<dyn portcullis_waf::Geo>> {
    let full = cx.file_path(node, path)?;
    let bytes = match read_bytes(&full, GEO_FILE_MAX) {
        Ok(Some(b)) => b,
        Ok(None) => {
            cx.error(
                node.loc,
                path,
                format!(
                    "the database is over {}",
                    crate::units::format_size(GEO_FILE_MAX)
                ),
                "use a country database (GeoLite2-Country or the like)",
            );
            return None;
        }
        Err(e) => {
            cx.error(
                node.loc,
                path,
                format!("cannot read the database: {e}"),
                "the path is relative to the config file",
            );
            return None;
        }
    };
    match portcullis_waf::geo::MmdbGeo::from_bytes(bytes) {
        Ok(db) => Some(Arc::new(db)),
        Err(e) => {
            cx.error(
                node.loc,
                path,
                format!("not a MaxMind-format database: {e}"),
                "give a .mmdb country database, e.g. GeoLite2-Country.mmdb",
            );
            None
        }
    }
}

fn read_bytes(path: &std::path::Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok((u64::try_from(bytes.len()).unwrap_or(u64::MAX) <= limit).then_some(bytes))
}

/// One CIDR block or address per line; `#` starts a comment.
fn read_reputation(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
) -> Option<portcullis_waf::ipset::IpSet> {
    let full = cx.file_path(node, path)?;
    let written = cx.string(node, path)?;
    let text = match super::auth::read_limited(&full, LIST_FILE_MAX) {
        Ok(Some(t)) => t,
        Ok(None) => {
            cx.error(
                node.loc,
                path,
                format!(
                    "the list is over {}",
                    crate::units::format_size(LIST_FILE_MAX)
                ),
                "merge adjacent blocks",
            );
            return None;
        }
        Err(e) => {
            cx.error(
                node.loc,
                path,
                format!("cannot read the list: {e}"),
                "the path is relative to the config file",
            );
            return None;
        }
    };
    let mut blocks = Vec::new();
    let mut ok = true;
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        match portcullis_waf::ipset::IpSet::from_cidrs([entry]) {
            Ok(_) => blocks.push(entry),
            Err(e) => {
                cx.error_in(
                    &written,
                    &text,
                    Loc {
                        line: u64::try_from(i + 1).unwrap_or(u64::MAX),
                        column: 1,
                    },
                    "",
                    e.0,
                    "one address or CIDR block per line; `#` starts a comment",
                );
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    portcullis_waf::ipset::IpSet::from_cidrs(blocks).ok()
}

fn read_associations(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    acl_names: &[String],
    known: &super::apis::Known,
) -> Option<Vec<WafAssociation>> {
    let Value::Seq(items) = &node.value else {
        cx.expected(
            node,
            path,
            "a list",
            "write `- {web_acl: NAME, api: ID}` or `- {web_acl: NAME, api: ID, stage: STAGE}`",
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let Some(mut m) = cx.map(item, &ipath) else {
            ok = false;
            continue;
        };
        let acl = m
            .required(cx, "web_acl", "name the web ACL, e.g. `web_acl: prod`")
            .and_then(|(n, p)| {
                let name = cx.string(n, &p)?;
                check_acl_name(cx, acl_names, &name, n.loc, &p).then_some(name)
            });
        let api = m
            .required(cx, "api", "name the API by its id, e.g. `api: petstore`")
            .and_then(|(n, p)| Some((cx.string(n, &p)?, n.loc, p)));
        let stage = m
            .take("stage")
            .and_then(|(n, p)| Some((cx.string(n, &p)?, n.loc, p)));
        m.finish(cx, &["web_acl", "api", "stage"]);
        let (Some(acl), Some((api, api_loc, api_path))) = (acl, api) else {
            ok = false;
            continue;
        };
        if let Some(apis) = known {
            match apis.iter().find(|(id, _)| *id == api) {
                None => {
                    cx.error(
                        api_loc,
                        &api_path,
                        format!("no API with id `{api}`"),
                        "associations name an API under `apis:` (or the single API's `api.id`)",
                    );
                    ok = false;
                    continue;
                }
                Some((_, Some(stages))) => {
                    if let Some((s, sloc, spath)) = &stage
                        && !stages.contains(s)
                    {
                        cx.error(
                            *sloc,
                            spath,
                            format!("API `{api}` has no stage `{s}`"),
                            format!("its stages: {}", stages.join(", ")),
                        );
                        ok = false;
                        continue;
                    }
                }
                Some((_, None)) => {}
            }
        }
        let stage = stage.map(|(s, _, _)| s);
        if out
            .iter()
            .any(|a: &WafAssociation| a.api == api && a.stage == stage)
        {
            cx.error(
                item.loc,
                &ipath,
                "this API and stage already have a web ACL",
                "a stage has one web ACL; put the rules in one",
            );
            ok = false;
            continue;
        }
        out.push(WafAssociation {
            web_acl: acl,
            api,
            stage,
        });
    }
    ok.then_some(out)
}
