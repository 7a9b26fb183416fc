//! `components.schemas` (OpenAPI 3) and `definitions` (Swagger) to `models`, with the
//! `$ref`s between them in API Gateway's form,
//! `https://apigateway.amazonaws.com/restapis/API/models/NAME` (docs/validation.md).
//!
//! Schemas written inline in a request body become models of their own, named after the
//! operation. HTTP APIs do not validate requests, so they get no models.

use super::{At, Cx, Spec};
use crate::model::ApiKind;
use crate::yaml::{Key, Loc, Node, Value};

/// The `$ref` of a model, as API Gateway stores it (any API id is accepted).
const MODEL_URL: &str = "https://apigateway.amazonaws.com/restapis/API/models/";

/// Where the document's schemas are.
fn schemas<'a>(cx: &Cx<'a>, top: &At<'a>) -> Option<At<'a>> {
    match cx.spec {
        Spec::OpenApi3 => top.get("components")?.get("schemas"),
        Spec::Swagger2 => top.get("definitions"),
    }
}

/// Takes the schemas' names, so that models made of inline schemas get others.
pub(super) fn reserve<'a>(cx: &mut Cx<'a>, top: &At<'a>) {
    if let Some(at) = schemas(cx, top) {
        for (name, _) in at.entries() {
            cx.model_names.insert(name.to_owned());
        }
    }
}

/// The `models` mapping: every schema, then the generated models.
pub(super) fn models<'a>(cx: &mut Cx<'a>, top: &At<'a>) -> Option<(Loc, Node)> {
    if cx.kind == ApiKind::Http {
        return None;
    }
    let mut entries: Vec<(Key, Node)> = Vec::new();
    let at = schemas(cx, top);
    if let Some(at) = &at {
        for (name, schema) in cx.entries(at).unwrap_or_default() {
            let node = model(schema_node(cx, &schema), schema.loc());
            entries.push((
                Key {
                    name: name.to_owned(),
                    loc: schema.key_loc(),
                },
                node,
            ));
        }
    }
    entries.append(&mut cx.generated_models);
    if entries.is_empty() {
        return None;
    }
    let loc = at.map_or_else(
        || entries.first().map_or(top.loc(), |(k, _)| k.loc),
        |a| a.key_loc(),
    );
    Some((
        loc,
        Node {
            value: Value::Map(entries),
            loc,
        },
    ))
}

/// `{schema: ...}`.
fn model(schema: Node, loc: Loc) -> Node {
    Node {
        value: Value::Map(vec![(
            Key {
                name: "schema".to_owned(),
                loc,
            },
            schema,
        )]),
        loc,
    }
}

/// The model a request body's schema names (`$ref: '#/components/schemas/Pet'`), or a new
/// model made of it, named after `base` (`CreatePetBody`).
pub(super) fn request_model<'a>(cx: &mut Cx<'a>, schema: &At<'a>, base: String) -> Option<String> {
    if let Some(reference) = schema.get("$ref") {
        let r = cx.string(&reference)?;
        if let Some(name) = model_name(cx.spec, r)
            && !name.contains('/')
        {
            return Some(name);
        }
    }
    let mut name = format!("{base}Body");
    let mut n = 1;
    while cx.model_names.contains(&name) {
        n += 1;
        name = format!("{base}Body{n}");
    }
    cx.model_names.insert(name.clone());
    let node = model(schema_node(cx, schema), schema.loc());
    cx.generated_models.push((
        Key {
            name: name.clone(),
            loc: schema.key_loc(),
        },
        node,
    ));
    Some(name)
}

/// What follows the schemas' prefix in a `$ref` (`Pet`, `Pet/properties/id`), decoded.
fn model_name(spec: Spec, reference: &str) -> Option<String> {
    let prefix = match spec {
        Spec::OpenApi3 => "#/components/schemas/",
        Spec::Swagger2 => "#/definitions/",
    };
    let rest = reference.strip_prefix(prefix)?;
    Some(rest.to_owned())
}

/// A copy of a schema with its `$ref`s to other schemas as model URLs. Schemas are taken
/// literally by the loader, so strings are copied as they are.
fn schema_node<'a>(cx: &mut Cx<'a>, at: &At<'a>) -> Node {
    let value = match &at.node.value {
        Value::Map(_) => Value::Map(
            at.entries()
                .into_iter()
                .map(|(name, child)| {
                    let key = Key {
                        name: name.to_owned(),
                        loc: child.key_loc(),
                    };
                    let node = match (&child.node.value, name) {
                        (Value::Str(r), "$ref") => model_ref(cx, &child, r),
                        _ => schema_node(cx, &child),
                    };
                    (key, node)
                })
                .collect(),
        ),
        Value::Seq(_) => Value::Seq(at.items().iter().map(|i| schema_node(cx, i)).collect()),
        other => other.clone(),
    };
    Node {
        value,
        loc: at.loc(),
    }
}

/// `#/components/schemas/Pet/properties/id` as
/// `https://apigateway.amazonaws.com/restapis/API/models/Pet#/properties/id`.
fn model_ref<'a>(cx: &mut Cx<'a>, at: &At<'a>, reference: &str) -> Node {
    let url = match model_name(cx.spec, reference) {
        Some(rest) => {
            let (name, pointer) = rest.split_once('/').unwrap_or((rest.as_str(), ""));
            let name = name.replace("~1", "/").replace("~0", "~");
            if pointer.is_empty() {
                format!("{MODEL_URL}{name}")
            } else {
                format!("{MODEL_URL}{name}#/{pointer}")
            }
        }
        None => {
            cx.invalid(
                at,
                format!("`$ref` `{reference}` is not a schema of this document"),
                match cx.spec {
                    Spec::OpenApi3 => "models refer to other schemas: `#/components/schemas/NAME`",
                    Spec::Swagger2 => "models refer to other schemas: `#/definitions/NAME`",
                },
            );
            reference.to_owned()
        }
    };
    Node {
        value: Value::Str(url),
        loc: at.loc(),
    }
}
