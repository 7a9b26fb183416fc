//! Models: named JSON Schema (draft 4) documents, compiled once, that request bodies are
//! checked against.
//!
//! API Gateway lets one model refer to another with an absolute URL,
//! `https://apigateway.amazonaws.com/restapis/{api-id}/models/{Name}`. Here any api id is
//! accepted and every such `$ref` is rewritten to the one canonical URL of this set's API, under
//! which each model is registered in an in-memory registry. Nothing is ever fetched: a `$ref`
//! that is neither a fragment (`#/definitions/x`) nor a model of the set is refused before the
//! schema compiler sees it, and the compiler runs offline as a second guard.
//!
//! Compilation order, so that each problem is reported once and against its own model:
//! 1. names are checked (API Gateway's rule: letters and digits);
//! 2. each schema is walked: `$schema` must be draft 4, every `$ref` must be local or name a
//!    model of the set;
//! 3. each schema is checked against the draft 4 meta-schema;
//! 4. only if all that passed, the registry is built and every model compiled against it.
//!
//! Reference cycles between models compile: the validator resolves references lazily and
//! stops when an instance location is revisited by the same schema.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use jsonschema::{Draft, PatternOptions, Registry, Resource};
use serde_json::Value;

use crate::body::{BodyLimits, ErrorList, check_depth};

/// The scheme and host of API Gateway's model URLs.
const MODEL_URL_PREFIX: &str = "https://apigateway.amazonaws.com/restapis/";

/// The `$schema` values accepted (draft 4, with or without the empty fragment).
const DRAFT4_URIS: [&str; 2] = [
    "http://json-schema.org/draft-04/schema#",
    "http://json-schema.org/draft-04/schema",
];

/// Most meta-schema problems reported per model.
const MAX_SCHEMA_ERRORS: usize = 10;

/// How many backtracking steps a `pattern` with look-around or back-references may take on
/// one value before it counts as not matching. Plain patterns run in linear time anyway.
const PATTERN_BACKTRACK_LIMIT: usize = 100_000;

/// Why a model did not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    /// The model's name.
    pub model: String,
    /// Where in the model's schema, as a JSON pointer (`""`: the schema as a whole).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "model `{}`: {}", self.model, self.message)
        } else {
            write!(
                f,
                "model `{}` at `{}`: {}",
                self.model, self.pointer, self.message
            )
        }
    }
}

impl std::error::Error for ModelError {}

/// One compiled model.
pub struct Model {
    name: String,
    validator: jsonschema::Validator,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model").field("name", &self.name).finish()
    }
}

impl Model {
    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks a request body against the model, in this order: the body is not empty; it
    /// nests no deeper than `limits.max_depth` (a byte scan, before any parsing); it is JSON;
    /// it is valid against the schema.
    ///
    /// The error is API Gateway's `validationErrorString`: a bracketed list of at most
    /// [`MAX_ERRORS`](crate::MAX_ERRORS) problems, each with its JSON pointer, at most
    /// [`MAX_ERROR_STRING`](crate::MAX_ERROR_STRING) bytes in all.
    pub fn check(&self, body: &[u8], limits: &BodyLimits) -> Result<(), String> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ErrorList::single("request body is empty; it must be JSON"));
        }
        if let Err(depth) = check_depth(body, limits.max_depth) {
            return Err(ErrorList::single(&format!(
                "request body nests deeper than {} levels (found {depth} or more)",
                limits.max_depth
            )));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ErrorList::single(&format!("request body is not JSON: {e}")))?;
        // The common case first: `is_valid` stops at the first failure and builds no error.
        if self.validator.is_valid(&value) {
            return Ok(());
        }
        let errors = self.validator.iter_errors(&value);
        let mut list = ErrorList::new();
        for e in errors.take(crate::MAX_ERRORS) {
            list.push(&e.to_string(), &e.instance_path().to_string());
        }
        Err(list.finish())
    }

    /// Whether a parsed JSON value is valid against the model (no depth check: the value is
    /// already parsed).
    pub fn is_valid(&self, value: &Value) -> bool {
        self.validator.is_valid(value)
    }
}

/// A set of named models, compiled once.
#[derive(Default)]
pub struct Models {
    models: BTreeMap<String, Arc<Model>>,
}

impl fmt::Debug for Models {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.models.keys()).finish()
    }
}

/// Whether `name` is a valid model name: letters and digits, as API Gateway requires.
pub fn valid_model_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Models {
    /// Compiles every model of one API. `api_id` names the API in the canonical model URLs
    /// (any id in a `$ref` is accepted). All problems are returned, each naming its model.
    pub fn compile(api_id: &str, models: &[(String, Value)]) -> Result<Models, Vec<ModelError>> {
        let base = format!("{MODEL_URL_PREFIX}{api_id}/models/");
        let names: Vec<&str> = models.iter().map(|(n, _)| n.as_str()).collect();
        let mut errors = Vec::new();
        let mut prepared = Vec::with_capacity(models.len());
        for (i, (name, schema)) in models.iter().enumerate() {
            let error = |pointer: &str, message: String| ModelError {
                model: name.clone(),
                pointer: pointer.to_owned(),
                message,
            };
            if !valid_model_name(name) {
                errors.push(error(
                    "",
                    "a model name is letters and digits only (at most 255)".to_owned(),
                ));
                continue;
            }
            if names.iter().take(i).any(|n| n == name) {
                errors.push(error("", "two models have this name".to_owned()));
                continue;
            }
            let mut schema = schema.clone();
            let before = errors.len();
            rewrite_refs(
                &mut schema,
                &base,
                &names,
                &mut String::new(),
                &mut |p, m| {
                    errors.push(error(p, m));
                },
            );
            let meta = jsonschema::draft4::meta::validator();
            for e in meta.iter_errors(&schema).take(MAX_SCHEMA_ERRORS) {
                errors.push(error(
                    &e.instance_path().to_string(),
                    format!("invalid schema: {e}"),
                ));
            }
            if errors.len() == before {
                prepared.push((name.clone(), schema));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let resources = prepared
            .iter()
            .map(|(name, schema)| {
                (
                    format!("{base}{name}"),
                    Draft::Draft4.create_resource(schema.clone()),
                )
            })
            .collect::<Vec<(String, Resource)>>();
        let registry = Registry::new()
            .draft(Draft::Draft4)
            .retrieve_known_draft_meta_schemas(false)
            .extend(resources)
            .and_then(|b| b.prepare())
            .map_err(|e| {
                // Every `$ref` was checked above, so this is not expected; blame the model
                // the message names, or all of them.
                let text = e.to_string();
                let named: Vec<ModelError> = prepared
                    .iter()
                    .filter(|(n, _)| text.contains(&format!("{base}{n}")))
                    .map(|(n, _)| ModelError {
                        model: n.clone(),
                        pointer: String::new(),
                        message: format!("cannot resolve references: {text}"),
                    })
                    .collect();
                if named.is_empty() {
                    prepared
                        .iter()
                        .map(|(n, _)| ModelError {
                            model: n.clone(),
                            pointer: String::new(),
                            message: format!("cannot resolve references: {text}"),
                        })
                        .collect()
                } else {
                    named
                }
            })?;
        let mut out = BTreeMap::new();
        for (name, schema) in &prepared {
            let built = jsonschema::options()
                .with_draft(Draft::Draft4)
                .with_registry(&registry)
                .with_base_uri(format!("{base}{name}"))
                .with_pattern_options(
                    PatternOptions::fancy_regex().backtrack_limit(PATTERN_BACKTRACK_LIMIT),
                )
                .offline()
                .build(schema);
            match built {
                Ok(validator) => {
                    out.insert(
                        name.clone(),
                        Arc::new(Model {
                            name: name.clone(),
                            validator,
                        }),
                    );
                }
                Err(e) => errors.push(ModelError {
                    model: name.clone(),
                    pointer: e.instance_path().to_string(),
                    message: format!("does not compile: {e}"),
                }),
            }
        }
        if errors.is_empty() {
            Ok(Models { models: out })
        } else {
            Err(errors)
        }
    }

    /// The model named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Model>> {
        self.models.get(name).cloned()
    }

    /// The models' names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.models.keys().map(String::as_str)
    }

    /// How many models there are.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

/// Keywords whose values are data, not schemas: a `$ref` inside them is not a reference.
const DATA_KEYWORDS: [&str; 3] = ["enum", "default", "example"];

/// Appends `segment` to a JSON pointer, escaping `~` and `/`.
fn push_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    for c in segment.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Walks a schema: checks `$schema`, rewrites model `$ref`s to `base` + name, and reports
/// every `$ref` that is neither local nor a model in `names`.
fn rewrite_refs(
    value: &mut Value,
    base: &str,
    names: &[&str],
    pointer: &mut String,
    report: &mut dyn FnMut(&str, String),
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let len = pointer.len();
                push_segment(pointer, key);
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => match resolve_ref(target, base, names) {
                        Ok(Some(rewritten)) => *target = rewritten,
                        Ok(None) => {}
                        Err(message) => report(pointer, message),
                    },
                    ("$schema", Value::String(s)) if !DRAFT4_URIS.contains(&s.as_str()) => {
                        report(
                            pointer,
                            format!(
                                "`$schema` is `{s}`; API Gateway models are JSON Schema draft 4 (`{}`)",
                                DRAFT4_URIS[0]
                            ),
                        );
                    }
                    (k, _) if DATA_KEYWORDS.contains(&k) => {}
                    (_, child) => rewrite_refs(child, base, names, pointer, report),
                }
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                let len = pointer.len();
                push_segment(pointer, &i.to_string());
                rewrite_refs(child, base, names, pointer, report);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// What a `$ref` becomes: `Ok(None)` to keep it (a fragment of the same document),
/// `Ok(Some(url))` for a model of the set, `Err` for anything that would need the network or
/// names no model.
fn resolve_ref(target: &str, base: &str, names: &[&str]) -> Result<Option<String>, String> {
    if target.starts_with('#') {
        return Ok(None);
    }
    let (url, fragment) = match target.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (target, None),
    };
    let model = url
        .get(..MODEL_URL_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(MODEL_URL_PREFIX))
        .and_then(|_| url.get(MODEL_URL_PREFIX.len()..))
        .and_then(|rest| rest.split_once("/models/"))
        .filter(|(api, name)| {
            !api.is_empty() && !api.contains(['/', '?']) && !name.contains(['/', '?'])
        })
        .map(|(_, name)| name);
    let Some(name) = model else {
        return Err(format!(
            "`$ref` to `{target}` would need the network; refer to `#/...` in the same model, \
             or to another model as `{MODEL_URL_PREFIX}{{api-id}}/models/NAME`"
        ));
    };
    if !names.contains(&name) {
        let known = if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        };
        return Err(format!(
            "`$ref` to model `{name}`, which is not defined (models: {known})"
        ));
    }
    Ok(Some(match fragment {
        Some(f) => format!("{base}{name}#{f}"),
        None => format!("{base}{name}"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://apigateway.amazonaws.com/restapis/abc123/models/";

    fn compile(models: Vec<(&str, Value)>) -> Result<Models, Vec<ModelError>> {
        let models: Vec<(String, Value)> =
            models.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        Models::compile("myapi", &models)
    }

    fn pet() -> Value {
        json!({
            "type": "object",
            "required": ["type", "price"],
            "properties": {
                "type": {"type": "string", "enum": ["dog", "cat", "fish"]},
                "price": {"type": "number", "minimum": 0}
            }
        })
    }

    fn check(model: &Model, body: &str) -> Result<(), String> {
        model.check(body.as_bytes(), &BodyLimits::default())
    }

    #[test]
    fn bodies_against_a_model() {
        let models = compile(vec![("Pet", pet())]).unwrap();
        let m = models.get("Pet").unwrap();
        let cases: &[(&str, Result<(), &str>)] = &[
            (r#"{"type":"dog","price":3}"#, Ok(())),
            (
                r#"{"type":"x"}"#,
                Err(
                    r#"["price" is a required property (at /), "x" is not one of "dog", "cat" or "fish" (at /type)]"#,
                ),
            ),
            (
                r#"{"type":"dog","price":-1}"#,
                Err("[-1 is less than the minimum of 0 (at /price)]"),
            ),
            ("", Err("[request body is empty; it must be JSON]")),
            ("  \n", Err("[request body is empty; it must be JSON]")),
            (
                "{",
                Err("[request body is not JSON: EOF while parsing an object at line 1 column 1]"),
            ),
            (
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                Err("[request body nests deeper than 32 levels (found 33 or more)]"),
            ),
        ];
        for (body, want) in cases {
            let got = check(&m, body);
            assert_eq!(got, want.map_err(str::to_owned), "body {body}");
        }
    }

    #[test]
    fn references_between_models() {
        let models = compile(vec![
            (
                "Order",
                json!({"type": "object", "properties": {
                    "pet": {"$ref": format!("{URL}Pet")},
                    "qty": {"$ref": "https://apigateway.amazonaws.com/restapis/other/models/Common#/definitions/qty"},
                }}),
            ),
            ("Pet", pet()),
            (
                "Common",
                json!({"definitions": {"qty": {"type": "integer", "minimum": 1}}}),
            ),
        ])
        .unwrap();
        let order = models.get("Order").unwrap();
        assert_eq!(
            check(&order, r#"{"pet":{"type":"cat","price":1},"qty":2}"#),
            Ok(())
        );
        assert_eq!(
            check(&order, r#"{"pet":{"type":"cat"},"qty":0}"#),
            Err(r#"["price" is a required property (at /pet), 0 is less than the minimum of 1 (at /qty)]"#.to_owned())
        );
        assert_eq!(
            models.names().collect::<Vec<_>>(),
            ["Common", "Order", "Pet"]
        );
        assert!(models.get("Nope").is_none());
    }

    #[test]
    fn local_definitions() {
        let models = compile(vec![(
            "A",
            json!({"$schema": "http://json-schema.org/draft-04/schema#",
                   "definitions": {"n": {"type": "integer"}},
                   "properties": {"n": {"$ref": "#/definitions/n"}}}),
        )])
        .unwrap();
        let a = models.get("A").unwrap();
        assert!(check(&a, r#"{"n":1}"#).is_ok());
        assert!(check(&a, r#"{"n":"1"}"#).is_err());
    }

    #[test]
    fn cycles_compile_and_terminate() {
        let models = compile(vec![
            ("A", json!({"$ref": format!("{URL}B")})),
            ("B", json!({"allOf": [{"$ref": format!("{URL}A")}]})),
            (
                "Tree",
                json!({"type": "object", "properties": {
                "children": {"type": "array", "items": {"$ref": format!("{URL}Tree")}},
                "name": {"type": "string"}}}),
            ),
            ("Me", json!({"$ref": "#"})),
        ])
        .unwrap();
        assert!(check(&models.get("A").unwrap(), "{}").is_ok());
        assert!(check(&models.get("Me").unwrap(), "{}").is_ok());
        let tree = models.get("Tree").unwrap();
        assert!(check(&tree, r#"{"children":[{"children":[{"name":"x"}]}]}"#).is_ok());
        assert_eq!(
            check(&tree, r#"{"children":[{"children":[{"name":1}]}]}"#),
            Err(r#"[1 is not of type "string" (at /children/0/children/0/name)]"#.to_owned())
        );
    }

    #[test]
    fn compile_errors_name_their_model() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!({"type": 5}), "/type", "invalid schema"),
            (json!({"required": []}), "/required", "invalid schema"),
            (json!({"pattern": "(("}), "/pattern", "invalid schema"),
            (
                json!({"properties": {"a": {"$ref": format!("{URL}Nope")}}}),
                "/properties/a/$ref",
                "`$ref` to model `Nope`, which is not defined",
            ),
            (
                json!({"items": {"$ref": "https://example.com/s.json"}}),
                "/items/$ref",
                "would need the network",
            ),
            (
                json!({"$ref": "other.json"}),
                "/$ref",
                "would need the network",
            ),
            (
                json!({"$ref": "http://apigateway.amazonaws.com/restapis/x/models/Ok"}),
                "/$ref",
                "would need the network",
            ),
            (
                json!({"$schema": "http://json-schema.org/draft-07/schema#"}),
                "/$schema",
                "draft 4",
            ),
            (
                json!({"$ref": "#/definitions/missing"}),
                "",
                "does not compile",
            ),
        ];
        for (schema, pointer, message) in cases {
            let errors = compile(vec![("Ok", json!({})), ("Bad", schema.clone())]).unwrap_err();
            assert_eq!(errors.len(), 1, "{schema}: {errors:?}");
            let e = &errors[0];
            assert_eq!(e.model, "Bad", "{schema}");
            assert_eq!(e.pointer, pointer, "{schema}: {e}");
            assert!(e.message.contains(message), "{schema}: {e}");
        }
    }

    #[test]
    fn refs_in_data_are_data() {
        // An enum value that looks like a reference is a value to compare, not a reference.
        let models = compile(vec![(
            "E",
            json!({"enum": [{"$ref": "https://example.com/x"}]}),
        )])
        .unwrap();
        let e = models.get("E").unwrap();
        assert!(check(&e, r#"{"$ref":"https://example.com/x"}"#).is_ok());
        assert!(check(&e, r#"{"$ref":"y"}"#).is_err());
    }

    #[test]
    fn bad_names_and_duplicates() {
        let errors = compile(vec![
            ("bad-name", json!({})),
            ("A", json!({})),
            ("A", json!({})),
        ])
        .unwrap_err();
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.model.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "bad-name",
                    "a model name is letters and digits only (at most 255)"
                ),
                ("A", "two models have this name")
            ]
        );
    }

    #[test]
    fn error_string_is_bounded() {
        let props: serde_json::Map<String, Value> = (0..20)
            .map(|i| (format!("p{i}"), json!({"type": "integer"})))
            .collect();
        let models = compile(vec![("Big", json!({"properties": props}))]).unwrap();
        let big = models.get("Big").unwrap();
        let long = "é".repeat(5000);
        let body: serde_json::Map<String, Value> =
            (0..20).map(|i| (format!("p{i}"), json!(long))).collect();
        let err = check(&big, &Value::Object(body).to_string()).unwrap_err();
        assert!(err.len() <= crate::MAX_ERROR_STRING, "{}", err.len());
        assert!(err.starts_with('[') && err.ends_with(']'), "{err}");
        assert_eq!(err.matches("(at /p").count(), crate::MAX_ERRORS, "{err}");
    }
}
