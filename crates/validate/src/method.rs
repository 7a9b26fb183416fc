//! What the gateway holds per method: which checks apply (the request validator), the
//! required parameters, and the request models by content type.

use std::sync::Arc;

use crate::model::Model;
use crate::params::RequiredParams;

/// API Gateway's request validator: which parts of a request are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Validator {
    /// `validateRequestBody`: the body is checked against the content type's model.
    pub body: bool,
    /// `validateRequestParameters`: required parameters must be present and not blank.
    pub parameters: bool,
}

/// The key of the model used when no other content type matches.
pub const DEFAULT_CONTENT_TYPE: &str = "$default";

/// The media type assumed for a request without `Content-Type`.
const ASSUMED_CONTENT_TYPE: &str = "application/json";

/// One method's request validation.
#[derive(Debug, Clone)]
pub struct MethodValidation {
    /// Which checks run.
    pub validator: Validator,
    /// Declared request parameters (the required ones are checked).
    pub params: RequiredParams,
    /// Models by media type (lower-case, without parameters), in configured order.
    models: Vec<(String, Arc<Model>)>,
    /// The `$default` model.
    default_model: Option<Arc<Model>>,
}

impl MethodValidation {
    /// Builds a method's validation. `models` maps a media type (`application/json`, any
    /// type, compared case-insensitively) or `$default` to a model.
    pub fn new(
        validator: Validator,
        params: RequiredParams,
        models: Vec<(String, Arc<Model>)>,
    ) -> Self {
        let mut by_type = Vec::with_capacity(models.len());
        let mut default_model = None;
        for (media_type, model) in models {
            if media_type == DEFAULT_CONTENT_TYPE {
                default_model = Some(model);
            } else {
                by_type.push((essence(&media_type).to_ascii_lowercase(), model));
            }
        }
        Self {
            validator,
            params,
            models: by_type,
            default_model,
        }
    }

    /// Whether the validator has anything to check: a body flag with at least one model, or a
    /// parameters flag with at least one required parameter.
    pub fn checks_anything(&self) -> bool {
        self.checks_body() || self.checks_params()
    }

    /// Whether bodies are checked (the flag is on and there is a model).
    pub fn checks_body(&self) -> bool {
        self.validator.body && (!self.models.is_empty() || self.default_model.is_some())
    }

    /// Whether parameters are checked (the flag is on and one is required).
    pub fn checks_params(&self) -> bool {
        self.validator.parameters && self.params.any_required()
    }

    /// The model a request's body is checked against, as API Gateway picks it: the media type
    /// of `Content-Type` without parameters, compared case-insensitively (no header counts as
    /// `application/json`); else the `$default` model; else none, and the body is not
    /// checked. This is a lookup only: whether bodies are checked at all is
    /// [`checks_body`](Self::checks_body).
    pub fn model_for(&self, content_type: Option<&str>) -> Option<&Arc<Model>> {
        let media_type = content_type.map_or(ASSUMED_CONTENT_TYPE, essence);
        self.models
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(media_type))
            .map(|(_, m)| m)
            .or(self.default_model.as_ref())
    }
}

/// A media type without its parameters and surrounding whitespace.
fn essence(content_type: &str) -> &str {
    content_type
        .split_once(';')
        .map_or(content_type, |(t, _)| t)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Models;
    use serde_json::json;

    fn models() -> Models {
        Models::compile(
            "api",
            &[
                ("Json".to_owned(), json!({"type": "object"})),
                ("Text".to_owned(), json!({"type": "string"})),
                ("Fallback".to_owned(), json!({})),
            ],
        )
        .unwrap()
    }

    fn method(entries: &[(&str, &str)]) -> MethodValidation {
        let m = models();
        MethodValidation::new(
            Validator {
                body: true,
                parameters: false,
            },
            RequiredParams::default(),
            entries
                .iter()
                .map(|(t, n)| ((*t).to_owned(), m.get(n).unwrap()))
                .collect(),
        )
    }

    #[test]
    fn model_for_table() {
        let with_default = method(&[
            ("application/json", "Json"),
            ("Text/Plain", "Text"),
            ("$default", "Fallback"),
        ]);
        let without_default = method(&[("application/json", "Json"), ("text/plain", "Text")]);
        let cases: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
            (None, Some("Json"), Some("Json")),
            (Some("application/json"), Some("Json"), Some("Json")),
            (
                Some("Application/JSON; charset=utf-8"),
                Some("Json"),
                Some("Json"),
            ),
            (Some(" text/plain ;q=1"), Some("Text"), Some("Text")),
            (Some("application/xml"), Some("Fallback"), None),
            (Some(""), Some("Fallback"), None),
            (Some("application/json+x"), Some("Fallback"), None),
        ];
        for (ct, with, without) in cases {
            assert_eq!(
                with_default.model_for(*ct).map(|m| m.name()),
                *with,
                "{ct:?}"
            );
            assert_eq!(
                without_default.model_for(*ct).map(|m| m.name()),
                *without,
                "{ct:?}"
            );
        }
        // Only a `$default` model: it applies to every request, JSON or not.
        let only_default = method(&[("$default", "Fallback")]);
        assert_eq!(
            only_default.model_for(None).map(|m| m.name()),
            Some("Fallback")
        );
    }

    #[test]
    fn what_is_checked() {
        let none = method(&[]);
        assert!(!none.checks_anything());
        assert!(method(&[("$default", "Json")]).checks_body());
        let params = RequiredParams::from_names([("method.request.querystring.q", true)]).unwrap();
        let v = MethodValidation::new(
            Validator {
                body: true,
                parameters: false,
            },
            params.clone(),
            Vec::new(),
        );
        assert!(!v.checks_anything());
        let v = MethodValidation::new(
            Validator {
                body: false,
                parameters: true,
            },
            params,
            Vec::new(),
        );
        assert!(v.checks_params() && !v.checks_body());
    }
}
