//! `models:`, `request_validators:`, `request_validator:`, `validation:`, and each method's
//! `request_validator`, `request_parameters` and `request_models` (API Gateway's method
//! request validation).
//!
//! Models are compiled here with `portcullis-validate`, so that a schema that does not compile,
//! or a `$ref` to a model that does not exist, is a load error at its own line: for a schema
//! written inline, the line of the offending keyword. Inline schemas are taken literally:
//! `${...}` in them is not an environment variable. Methods are read before the models; their
//! references are kept in [`Cx::validation_refs`] and resolved once everything is read.

use std::sync::Arc;

use portcullis_validate::{
    DEFAULT_CONTENT_TYPE, MethodValidation, ModelError, Models, RequestParam, RequiredParams,
    Validator, valid_model_name,
};

use super::{Cx, join, named, path_param_help};
use crate::diag::did_you_mean;
use crate::model::*;
use crate::units::format_size;
use crate::yaml::{Loc, Node, Value};

/// Largest model file read.
const MODEL_FILE_MAX: u64 = 1024 * 1024;
/// Deepest inline schema converted to JSON.
const SCHEMA_MAX_DEPTH: usize = 64;
/// The default of `validation.max_body_size` (never above the listener's limit).
const DEFAULT_VALIDATION_BODY: u64 = 1024 * 1024;
/// Deepest `validation.max_depth`: serde_json refuses more than 127 levels of nesting, so a
/// larger limit could never let a deeper body through.
const MAX_DEPTH_LIMIT: i64 = 127;

/// A method's validation choices as written, resolved at the end of loading.
pub(super) struct MethodValidationRef {
    /// The method's key path, e.g. `resources./pets.POST`.
    mpath: String,
    /// `request_validator`: `Some(None)` for `NONE`, with its location.
    validator: Option<(Option<String>, Loc)>,
    /// Declared parameters with whether each is required.
    params: Vec<(RequestParam, bool)>,
    /// Content type, model name, where the name is.
    models: Vec<(String, String, Loc)>,
    /// Where `request_parameters` and `request_models` are, for warnings.
    params_loc: Loc,
    models_loc: Loc,
}

/// A method's `request_validator`, `request_parameters` and `request_models`; `false` if any
/// had a problem (already reported).
pub(super) fn read_method_validation(
    cx: &mut Cx<'_>,
    mpath: &str,
    segments: &[Segment],
    validator: Option<(&Node, String)>,
    params: Option<(&Node, String)>,
    models: Option<(&Node, String)>,
) -> bool {
    let mut ok = true;
    let validator = match validator {
        Some((n, p)) => match cx.string(n, &p) {
            Some(s) if s == "NONE" => Some((None, n.loc)),
            Some(s) => Some((Some(s), n.loc)),
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let params_loc = params.as_ref().map_or(Loc::default(), |(n, _)| n.loc);
    let models_loc = models.as_ref().map_or(Loc::default(), |(n, _)| n.loc);
    let params = match params {
        Some((n, p)) => read_request_parameters(cx, n, &p, segments).unwrap_or_else(|| {
            ok = false;
            Vec::new()
        }),
        None => Vec::new(),
    };
    let models = match models {
        Some((n, p)) => read_request_models(cx, n, &p).unwrap_or_else(|| {
            ok = false;
            Vec::new()
        }),
        None => Vec::new(),
    };
    if validator.is_some() || !params.is_empty() || !models.is_empty() {
        cx.validation_refs.push(MethodValidationRef {
            mpath: mpath.to_owned(),
            validator,
            params,
            models,
            params_loc,
            models_loc,
        });
    }
    ok
}

fn read_request_parameters(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    segments: &[Segment],
) -> Option<Vec<(RequestParam, bool)>> {
    named(
        cx,
        node,
        path,
        (
            "a mapping of request parameters to `true` (required) or `false`",
            "e.g. `method.request.querystring.q: true`",
        ),
        ("", ""),
        |_| true,
        |cx, name, loc, value, ppath| {
            let param = match RequestParam::parse(name) {
                Ok(p) => p,
                Err(e) => {
                    cx.error(
                        loc,
                        ppath,
                        format!("`{name}` is not a request parameter"),
                        e.reason,
                    );
                    return None;
                }
            };
            if param.location == portcullis_validate::ParamLocation::Path {
                let known = segments.iter().any(
                    |s| matches!(s, Segment::Param(n) | Segment::Greedy(n) if *n == param.name),
                );
                if !known {
                    cx.error(
                        loc,
                        ppath,
                        format!("`{}` is not a path parameter of this resource", param.name),
                        path_param_help(segments),
                    );
                    return None;
                }
            }
            let required = cx.boolean(value, ppath)?;
            Some((param, required))
        },
    )
}

/// A media type as `request_models` keys it: `type/subtype` in token characters.
fn valid_media_type(text: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    text.split_once('/')
        .is_some_and(|(t, s)| token(t) && token(s))
}

fn read_request_models(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
) -> Option<Vec<(String, String, Loc)>> {
    let entries = named(
        cx,
        node,
        path,
        (
            "a mapping of content types to model names",
            "e.g. `application/json: Pet`",
        ),
        (
            "is not a media type",
            "write a media type such as `application/json` (without `; charset=...`), or `$default`",
        ),
        |k| k == DEFAULT_CONTENT_TYPE || valid_media_type(k),
        |cx, ct, loc, value, mpath| {
            let model = cx.string(value, mpath)?;
            Some((
                ct.to_ascii_lowercase(),
                model,
                value.loc,
                loc,
                mpath.to_owned(),
            ))
        },
    )?;
    let mut out: Vec<(String, String, Loc)> = Vec::new();
    let mut ok = true;
    for (ct, model, value_loc, key_loc, mpath) in entries {
        if out.iter().any(|(c, _, _)| *c == ct) {
            cx.error(
                key_loc,
                &mpath,
                format!("content type `{ct}` appears twice"),
                "media types are compared without regard to case; keep one",
            );
            ok = false;
            continue;
        }
        out.push((ct, model, value_loc));
    }
    ok.then_some(out)
}

/// A model read from the file, before compiling.
struct ModelSource {
    name: String,
    /// Where the model's key is.
    key_loc: Loc,
    /// The key path of the inline schema, to point into it.
    inline: Option<String>,
    /// The `file:` value: where it is, its key path, its text as written.
    file: Option<(Loc, String, String)>,
}

/// `models:`: every model read and compiled. `None` after a problem (reported). When some
/// models cannot be read, the others are still compiled (with an empty stand-in for each
/// unreadable one, so that references to it are not reported as unknown) to report their
/// own problems.
pub(super) fn read_models(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    api_id: &str,
) -> Option<Models> {
    let Value::Map(entries) = &node.value else {
        if node.value == Value::Null {
            return Some(Models::default());
        }
        cx.expected(
            node,
            path,
            "a mapping of model names to models",
            "e.g. `Pet:` with `schema:` or `file:` under it",
        );
        return None;
    };
    let mut ok = true;
    let mut sources = Vec::new();
    let mut schemas = Vec::new();
    for (key, value) in entries {
        let mpath = join(path, &key.name);
        if !valid_model_name(&key.name) {
            cx.error(
                key.loc,
                &mpath,
                format!("`{}` is not a valid model name", key.name),
                "model names are letters and digits only, as in API Gateway",
            );
            ok = false;
            continue;
        }
        match read_model(cx, &key.name, key.loc, value, &mpath) {
            Some((source, schema)) => {
                sources.push(source);
                schemas.push((key.name.clone(), schema));
            }
            None => {
                ok = false;
                schemas.push((
                    key.name.clone(),
                    serde_json::Value::Object(Default::default()),
                ));
            }
        }
    }
    match Models::compile(api_id, &schemas) {
        Ok(models) => ok.then_some(models),
        Err(errors) => {
            for e in errors {
                // A stand-in has no source: its problems are already reported.
                if sources.iter().any(|s| s.name == e.model) {
                    report_model_error(cx, node, &sources, path, &e);
                }
            }
            None
        }
    }
}

fn read_model(
    cx: &mut Cx<'_>,
    name: &str,
    key_loc: Loc,
    node: &Node,
    path: &str,
) -> Option<(ModelSource, serde_json::Value)> {
    let mut m = cx.map(node, path)?;
    let schema = m.take("schema");
    let file = m.take("file");
    m.finish(cx, &["schema", "file"]);
    match (schema, file) {
        (Some(_), Some((n, p))) => {
            cx.error(
                n.loc,
                &p,
                "a model has `schema` or `file`, not both",
                "keep the inline schema or the file",
            );
            None
        }
        (None, None) => {
            cx.error(
                node.loc,
                path,
                format!("model `{name}` has no schema"),
                "add `schema:` with a JSON Schema (draft 4), or `file:` with the path of a JSON file",
            );
            None
        }
        (Some((n, p)), None) => {
            let value = to_json(cx, n, &p, 0)?;
            Some((
                ModelSource {
                    name: name.to_owned(),
                    key_loc,
                    inline: Some(p),
                    file: None,
                },
                value,
            ))
        }
        (None, Some((n, p))) => {
            let rel = cx.string(n, &p)?;
            let full = if std::path::Path::new(&rel).is_absolute() {
                std::path::PathBuf::from(&rel)
            } else {
                cx.base.join(&rel)
            };
            let text = match super::auth::read_limited(&full, MODEL_FILE_MAX) {
                Ok(Some(t)) => t,
                Ok(None) => {
                    cx.error(
                        n.loc,
                        &p,
                        format!("model file {rel} is over {}", format_size(MODEL_FILE_MAX)),
                        "a model is a JSON Schema; split it into models that refer to each other",
                    );
                    return None;
                }
                Err(e) => {
                    cx.error(
                        n.loc,
                        &p,
                        format!("cannot read model file {rel}: {e}"),
                        "the path is relative to the config file",
                    );
                    return None;
                }
            };
            let value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    cx.error(
                        n.loc,
                        &p,
                        format!("model file {rel} is not JSON: {e}"),
                        "fix the JSON at that line and column of the file",
                    );
                    return None;
                }
            };
            Some((
                ModelSource {
                    name: name.to_owned(),
                    key_loc,
                    inline: None,
                    file: Some((n.loc, p, rel)),
                },
                value,
            ))
        }
    }
}

/// An inline schema as JSON. YAML's own types map one to one; a float that JSON cannot hold
/// (`.nan`, `.inf`) is refused.
pub(super) fn to_json(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    depth: usize,
) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    if depth > SCHEMA_MAX_DEPTH {
        cx.error(
            node.loc,
            path,
            format!("the schema nests deeper than {SCHEMA_MAX_DEPTH} levels"),
            "split it into models that refer to each other",
        );
        return None;
    }
    Some(match &node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => J::Number(n),
            None => {
                cx.error(
                    node.loc,
                    path,
                    format!("`{f}` is not a JSON number"),
                    "JSON has no NaN or infinity; use a finite number",
                );
                return None;
            }
        },
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, n) in items.iter().enumerate() {
                match to_json(cx, n, &format!("{path}[{i}]"), depth + 1) {
                    Some(v) => out.push(v),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            J::Array(out)
        }
        Value::Map(entries) => {
            let mut out = serde_json::Map::with_capacity(entries.len());
            let mut ok = true;
            for (k, n) in entries {
                match to_json(cx, n, &join(path, &k.name), depth + 1) {
                    Some(v) => {
                        out.insert(k.name.clone(), v);
                    }
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            J::Object(out)
        }
    })
}

/// Reports a model that did not compile: for an inline schema at the node its JSON pointer
/// names, for a file at its `file:` line.
fn report_model_error(
    cx: &mut Cx<'_>,
    models: &Node,
    sources: &[ModelSource],
    path: &str,
    e: &ModelError,
) {
    let help = if e.message.contains("$ref") {
        "models refer to each other as `https://apigateway.amazonaws.com/restapis/{api-id}/models/NAME`, and to their own parts as `#/definitions/...`"
    } else if e.message.contains("draft 4") {
        "remove `$schema`, or set it to draft 4"
    } else {
        "API Gateway models are JSON Schema draft 4; fix the keyword at this line"
    };
    let Some(source) = sources.iter().find(|s| s.name == e.model) else {
        cx.error(
            Loc::default(),
            path,
            format!("model `{}`: {}", e.model, e.message),
            help,
        );
        return;
    };
    match (&source.inline, &source.file) {
        (Some(spath), _) => {
            let schema = match &models.value {
                Value::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.name == e.model)
                    .and_then(|(_, m)| match &m.value {
                        Value::Map(keys) => keys.iter().find(|(k, _)| k.name == "schema"),
                        _ => None,
                    })
                    .map(|(_, n)| n),
                _ => None,
            };
            let (loc, at) = match schema {
                Some(node) => locate(node, spath, &e.pointer),
                None => (source.key_loc, spath.clone()),
            };
            cx.error(
                loc,
                &at,
                format!("model `{}`: {}", e.model, e.message),
                help,
            );
        }
        (None, Some((loc, fpath, rel))) => {
            let at = if e.pointer.is_empty() {
                String::new()
            } else {
                format!(" (at `{}`)", e.pointer)
            };
            cx.error(
                *loc,
                fpath,
                format!("model `{}` in {rel}{at}: {}", e.model, e.message),
                help,
            );
        }
        (None, None) => cx.error(
            source.key_loc,
            &join(path, &source.name),
            format!("model `{}`: {}", e.model, e.message),
            help,
        ),
    }
}

/// The node a JSON pointer names inside an inline schema (the deepest that exists), with its
/// key path.
fn locate(root: &Node, root_path: &str, pointer: &str) -> (Loc, String) {
    let mut node = root;
    let mut path = root_path.to_owned();
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        let next = match &node.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == segment)
                .map(|(_, v)| (v, join(&path, &segment))),
            Value::Seq(items) => segment
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i).map(|v| (v, format!("{path}[{i}]")))),
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

/// `request_validators:`: name -> `{body, parameters}`.
pub(super) fn read_validators(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
) -> Option<Vec<(String, Validator)>> {
    named(
        cx,
        node,
        path,
        (
            "a mapping of validator names to checks",
            "e.g. `all: {body: true, parameters: true}`",
        ),
        (
            "is reserved",
            "`NONE` turns validation off in a method; name the validator otherwise",
        ),
        |k| !k.is_empty() && k != "NONE",
        |cx, name, _, value, vpath| {
            let mut m = cx.map(value, vpath)?;
            let mut flag = |cx: &mut Cx<'_>, key: &str| match m.take(key) {
                Some((n, p)) => cx.boolean(n, &p),
                None => Some(false),
            };
            let body = flag(cx, "body");
            let parameters = flag(cx, "parameters");
            m.finish(cx, &["body", "parameters"]);
            Some((
                name.to_owned(),
                Validator {
                    body: body?,
                    parameters: parameters?,
                },
            ))
        },
    )
}

/// `validation:`: how much of a body is read for validation and how deep it may nest.
pub(super) fn read_validation(
    cx: &mut Cx<'_>,
    node: Option<(&Node, String)>,
    listener: Option<&ListenerConfig>,
) -> Option<ValidationConfig> {
    let listener_max = listener.map(|l| l.max_body_size);
    let default_size =
        listener_max.map_or(DEFAULT_VALIDATION_BODY, |l| l.min(DEFAULT_VALIDATION_BODY));
    let Some((node, path)) = node else {
        return Some(ValidationConfig {
            max_body_size: default_size,
            max_depth: portcullis_validate::DEFAULT_MAX_DEPTH,
        });
    };
    let mut m = cx.map(node, &path)?;
    let max_body_size = match m.take("max_body_size") {
        Some((n, p)) => cx.size(n, &p).and_then(|v| {
            if v == 0 {
                cx.error(
                    n.loc,
                    &p,
                    "validation.max_body_size must be greater than zero",
                    "bodies are read up to this size to be validated; the default is 1MiB",
                );
                return None;
            }
            if let Some(l) = listener_max
                && v > l
            {
                cx.error(
                    n.loc,
                    &p,
                    format!(
                        "validation.max_body_size {} is above listener.max_body_size {}",
                        format_size(v),
                        format_size(l)
                    ),
                    "a larger body is refused before validation; lower this, or raise listener.max_body_size",
                );
                return None;
            }
            Some(v)
        }),
        None => Some(default_size),
    };
    let max_depth = match m.take("max_depth") {
        Some((n, p)) => cx
            .integer(n, &p, 1, MAX_DEPTH_LIMIT)
            .and_then(|i| u32::try_from(i).ok()),
        None => Some(portcullis_validate::DEFAULT_MAX_DEPTH),
    };
    m.finish(cx, &["max_body_size", "max_depth"]);
    Some(ValidationConfig {
        max_body_size: max_body_size?,
        max_depth: max_depth?,
    })
}

/// The names defined under a top-level section of the document, so that an entry with
/// problems of its own is not also reported as unknown.
pub(super) fn names_in(root: &Node, section: &str) -> Vec<String> {
    match &root.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.name == section)
            .and_then(|(_, v)| match &v.value {
                Value::Map(a) => Some(a.iter().map(|(k, _)| k.name.clone()).collect()),
                _ => None,
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Where a top-level key's value is.
fn top_value_loc(root: &Node, key: &str) -> Loc {
    match &root.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map_or(root.loc, |(_, v)| v.loc),
        _ => root.loc,
    }
}

/// Checks every method's references against the validators and models, and gives each
/// method its [`MethodValidation`] (none when nothing would be checked).
pub(super) fn resolve(
    cx: &mut Cx<'_>,
    root: &Node,
    prefix: &str,
    models: Option<&Models>,
    validators: Option<&[(String, Validator)]>,
    default_validator: Option<&str>,
    resources: Option<&mut Vec<ResourceConfig>>,
) {
    let mut validator_names = names_in(root, "request_validators");
    validator_names.retain(|n| n != "NONE");
    let validator_names: Vec<&str> = validator_names.iter().map(String::as_str).collect();
    let model_names = names_in(root, "models");
    let model_names: Vec<&str> = model_names.iter().map(String::as_str).collect();
    let unknown_validator = |name: &str| {
        if validator_names.is_empty() {
            "define it under `request_validators:`".to_owned()
        } else {
            did_you_mean(name, &validator_names, "", || {
                format!("request validators: {}", validator_names.join(", "))
            })
        }
    };
    if let Some(d) = default_validator
        && !validator_names.contains(&d)
    {
        let help = unknown_validator(d);
        cx.error(
            top_value_loc(root, "request_validator"),
            &join(prefix, "request_validator"),
            format!("no request validator named `{d}`"),
            help,
        );
    }
    let mut resolved: Vec<(String, Option<Arc<MethodValidation>>)> = Vec::new();
    for r in std::mem::take(&mut cx.validation_refs) {
        let mut ok = true;
        let chosen: Option<&str> = match &r.validator {
            Some((Some(name), loc)) => {
                if !validator_names.contains(&name.as_str()) {
                    let help = unknown_validator(name);
                    cx.error(
                        *loc,
                        &join(&r.mpath, "request_validator"),
                        format!("no request validator named `{name}`"),
                        help,
                    );
                    ok = false;
                }
                Some(name)
            }
            Some((None, _)) => None,
            None => default_validator,
        };
        let mut method_models = Vec::new();
        for (ct, name, loc) in &r.models {
            if !model_names.contains(&name.as_str()) {
                let help = if model_names.is_empty() {
                    "define it under `models:`".to_owned()
                } else {
                    did_you_mean(name, &model_names, "", || {
                        format!("models: {}", model_names.join(", "))
                    })
                };
                cx.error(
                    *loc,
                    &join(&join(&r.mpath, "request_models"), ct),
                    format!("no model named `{name}`"),
                    help,
                );
                ok = false;
            } else if let Some(m) = models.and_then(|m| m.get(name)) {
                method_models.push((ct.clone(), m));
            }
        }
        if !ok {
            continue;
        }
        let validator = chosen
            .and_then(|c| validators?.iter().find(|(n, _)| n == c))
            .map(|(_, v)| *v);
        // Declared but unchecked: API Gateway accepts this (models also document an API),
        // but it is usually a validator forgotten.
        let why = |what: &str| match chosen {
            Some(c) => format!("its request validator `{c}` does not check {what}"),
            None => "no request validator applies to it".to_owned(),
        };
        if validators.is_some() && !r.models.is_empty() && !validator.is_some_and(|v| v.body) {
            cx.warn(
                r.models_loc,
                &join(&r.mpath, "request_models"),
                format!("request bodies of this method are not validated: {}", why("bodies")),
                "name a validator with `body: true` in `request_validator`, or remove `request_models`",
            );
        }
        if validators.is_some()
            && r.params.iter().any(|(_, required)| *required)
            && !validator.is_some_and(|v| v.parameters)
        {
            cx.warn(
                r.params_loc,
                &join(&r.mpath, "request_parameters"),
                format!(
                    "required parameters of this method are not checked: {}",
                    why("parameters")
                ),
                "name a validator with `parameters: true` in `request_validator`",
            );
        }
        let validation = validator.and_then(|v| {
            let mv = MethodValidation::new(v, RequiredParams::new(r.params.clone()), method_models);
            mv.checks_anything().then(|| Arc::new(mv))
        });
        resolved.push((r.mpath, validation));
    }
    // Methods that name nothing still get the API-wide default validator, which may check
    // nothing for them (no models, no parameters): `checks_anything` decides.
    let Some(resources) = resources else {
        return;
    };
    for resource in resources.iter_mut() {
        for method in &mut resource.methods {
            method.validation = resolved
                .iter()
                .find(|(p, _)| *p == method.at)
                .and_then(|(_, v)| v.clone());
        }
    }
}
