//! A whole config around one OpenAPI document: what `portcullis serve --openapi FILE` runs
//! and `portcullis import openapi FILE` prints.
//!
//! The listener is `127.0.0.1:8080`, the admin listener `127.0.0.1:9090`, the account
//! `123456789012` in `us-east-1`. The API's id comes from `info.title`; every host reaches
//! it at its first stage with no stage in the path, and `{id}.execute-api.localhost` with
//! the stage in the path, as on AWS.

use std::path::Path;

use super::convert;
use crate::diag::{Diagnostic, Diagnostics};
use crate::yaml::{self, Loc, Node, Value};

/// The API id for a document: its `info.title` in lower case, letters and digits kept and
/// the rest turned into `-`; `api` when nothing is left.
fn api_id(root: &Node) -> String {
    let title = match &root.value {
        Value::Map(top) => top
            .iter()
            .find(|(k, _)| k.name == "info")
            .and_then(|(_, info)| match &info.value {
                Value::Map(i) => i.iter().find(|(k, _)| k.name == "title"),
                _ => None,
            })
            .and_then(|(_, t)| match &t.value {
                Value::Str(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default(),
        _ => String::new(),
    };
    let mut id = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id: String = id.trim_end_matches('-').chars().take(64).collect();
    if id.is_empty() { "api".to_owned() } else { id }
}

/// The first stage the converted API has.
fn first_stage(api: &Node) -> String {
    match &api.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.name == "stages")
            .and_then(|(_, s)| match &s.value {
                Value::Map(st) => st.first().map(|(k, _)| k.name.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "prod".to_owned()),
        _ => "prod".to_owned(),
    }
}

/// A config serving the document at `file`. `inline`: the API written out in the config
/// (`import openapi`); otherwise referred to with `openapi: FILE` (`serve --openapi`).
pub fn config_for(file: &Path, inline: bool) -> Result<String, Diagnostics> {
    let name = file.display().to_string();
    let source = std::fs::read_to_string(file).map_err(|e| {
        Diagnostics::whole_file(
            &name,
            format!("cannot read the OpenAPI document: {e}"),
            Some("check the path and that the file is readable".into()),
        )
    })?;
    let converted = convert(&source, None).map_err(|problems| Diagnostics {
        source: source.clone(),
        items: problems
            .into_iter()
            .map(|p| Diagnostic {
                file: name.clone(),
                loc: p.loc,
                path: p.json_path,
                message: p.message,
                help: (!p.help.is_empty()).then_some(p.help),
            })
            .collect(),
        other_sources: Vec::new(),
    })?;
    let root = yaml::parse_without_aliases(&source).unwrap_or(Node {
        value: Value::Null,
        loc: Loc::default(),
    });
    let id = api_id(&root);
    let stage = first_stage(&converted.api);
    let api = if inline {
        yaml::emit(&converted.api)
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    } else {
        let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let quoted = serde_json::to_string(&absolute.display().to_string())
            .unwrap_or_else(|_| "\"\"".into());
        format!("    openapi: {quoted}\n")
    };
    let stage_text = serde_json::to_string(&stage).unwrap_or_else(|_| "\"prod\"".into());
    Ok(format!(
        "# Generated from {name} by Portcullis.\n\
         listener:\n  address: 127.0.0.1:8080\n\
         admin:\n  address: 127.0.0.1:9090\n\
         aws:\n  region: us-east-1\n  account: \"123456789012\"\n\
         apis:\n  {id}:\n{api}\
         domains:\n  \"*\":\n    - base_path: /\n      api: {id}\n      stage: {stage_text}\n"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::api_id;

    #[test]
    fn ids_from_titles() {
        let id =
            |t: &str| api_id(&crate::yaml::parse(&format!("info: {{title: \"{t}\"}}")).unwrap());
        assert_eq!(id("PetStore"), "petstore");
        assert_eq!(id("Orders API (v2)"), "orders-api-v2");
        assert_eq!(id("  !!  "), "api");
        assert_eq!(api_id(&crate::yaml::parse("{}").unwrap()), "api");
    }
}
