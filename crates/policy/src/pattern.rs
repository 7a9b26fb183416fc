//! IAM wildcard patterns: `*` matches any run of characters (including `/` and `:`), `?`
//! exactly one character, everything else itself. Policy variables (`${aws:username}`,
//! `${jwt:sub, 'none'}`) are resolved from the request context at evaluation and match as
//! literal text, so a value containing `*` never acts as a wildcard. `${*}`, `${?}` and
//! `${$}` write the characters themselves.
//!
//! Patterns are compiled once, at load; matching walks the pieces with the usual
//! single-backtrack glob algorithm (no regular expressions, no allocation unless the
//! pattern holds a variable).

use crate::context::Context;

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Literal text.
    Lit(String),
    /// `*`.
    Star,
    /// `?`.
    One,
    /// A policy variable: the context key (lower case) and its default.
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pieces: Vec<Piece>,
    source: String,
    /// The text the pattern stands for when it has no variables (escapes resolved).
    literal: String,
    has_vars: bool,
}

impl Pattern {
    /// Compiles `text`. With `variables`, `${...}` is a policy variable (policy version
    /// 2012-10-17); without, it is literal text (2008-10-17). With `lowercase`, literals are
    /// lower-cased (for case-insensitive matching, the caller lower-cases the text too).
    pub fn compile(text: &str, variables: bool, lowercase: bool) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let flush = |lit: &mut String, pieces: &mut Vec<Piece>| {
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(lit)));
            }
        };
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if variables && rest.starts_with("${") {
                let end = rest
                    .find('}')
                    .ok_or_else(|| format!("`{text}` has an unterminated `${{`"))?;
                let inner = rest.get(2..end).unwrap_or("").trim();
                rest = rest.get(end + 1..).unwrap_or("");
                match inner {
                    "*" => lit.push('*'),
                    "?" => lit.push('?'),
                    "$" => lit.push('$'),
                    _ => {
                        let (key, default) = match inner.split_once(',') {
                            Some((k, d)) => {
                                let d = d.trim();
                                let d = d
                                    .strip_prefix('\'')
                                    .and_then(|d| d.strip_suffix('\''))
                                    .ok_or_else(|| {
                                        format!(
                                            "the default in `${{{inner}}}` must be in single quotes"
                                        )
                                    })?;
                                (k.trim(), Some(d.to_owned()))
                            }
                            None => (inner, None),
                        };
                        crate::context::check_key(key)?;
                        flush(&mut lit, &mut pieces);
                        pieces.push(Piece::Var {
                            key: key.to_ascii_lowercase(),
                            default,
                        });
                    }
                }
                continue;
            }
            rest = rest.get(c.len_utf8()..).unwrap_or("");
            match c {
                '*' => {
                    flush(&mut lit, &mut pieces);
                    // `**` is `*`.
                    if pieces.last() != Some(&Piece::Star) {
                        pieces.push(Piece::Star);
                    }
                }
                '?' => {
                    flush(&mut lit, &mut pieces);
                    pieces.push(Piece::One);
                }
                _ if lowercase => lit.extend(c.to_lowercase()),
                _ => lit.push(c),
            }
        }
        flush(&mut lit, &mut pieces);
        let has_vars = pieces.iter().any(|p| matches!(p, Piece::Var { .. }));
        let literal = pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(s) => s.as_str(),
                Piece::Star => "*",
                Piece::One => "?",
                Piece::Var { .. } => "",
            })
            .collect();
        Ok(Self {
            pieces,
            source: text.to_owned(),
            literal,
            has_vars,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether it matches everything (`*`).
    pub fn is_any(&self) -> bool {
        self.pieces == [Piece::Star]
    }

    /// Whether `text` matches, resolving variables from `ctx`. A variable without a value
    /// (and without a default) makes the pattern match nothing.
    pub fn matches(&self, text: &str, ctx: &dyn Context) -> bool {
        if !self.has_vars {
            return glob(&self.pieces, text);
        }
        let mut resolved = Vec::with_capacity(self.pieces.len());
        for p in &self.pieces {
            match p {
                Piece::Var { key, default } => {
                    let value = match ctx.single(key) {
                        Some(v) => v.into_owned(),
                        None => match default {
                            Some(d) => d.clone(),
                            None => return false,
                        },
                    };
                    resolved.push(Piece::Lit(value));
                }
                other => resolved.push(other.clone()),
            }
        }
        glob(&resolved, text)
    }

    /// The text with variables resolved, for patterns used as plain values (`StringEquals`
    /// with `${aws:username}`); `None` when a variable has no value.
    pub fn resolve(&self, ctx: &dyn Context) -> Option<std::borrow::Cow<'_, str>> {
        if !self.has_vars {
            return Some(std::borrow::Cow::Borrowed(&self.literal));
        }
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Star => out.push('*'),
                Piece::One => out.push('?'),
                Piece::Var { key, default } => match ctx.single(key) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(default.as_deref()?),
                },
            }
        }
        Some(std::borrow::Cow::Owned(out))
    }
}

/// Glob matching over pieces with one backtrack point (the last `*`).
fn glob(pieces: &[Piece], text: &str) -> bool {
    let mut p = 0;
    let mut t = 0;
    let mut star: Option<(usize, usize)> = None;
    loop {
        let advanced = match pieces.get(p) {
            Some(Piece::Star) => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(Piece::Lit(s)) => {
                if text.get(t..).is_some_and(|r| r.starts_with(s.as_str())) {
                    t += s.len();
                    true
                } else {
                    false
                }
            }
            Some(Piece::One) => match text.get(t..).and_then(|r| r.chars().next()) {
                Some(c) => {
                    t += c.len_utf8();
                    true
                }
                None => false,
            },
            // Variables are resolved before matching.
            Some(Piece::Var { .. }) => false,
            None => {
                if t == text.len() {
                    return true;
                }
                false
            }
        };
        if advanced {
            p += 1;
            continue;
        }
        // Mismatch: let the last `*` swallow one more character, or fail.
        let Some((sp, st)) = star else {
            return false;
        };
        let Some(c) = text.get(st..).and_then(|r| r.chars().next()) else {
            return false;
        };
        let next = st + c.len_utf8();
        star = Some((sp, next));
        p = sp + 1;
        t = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::MapContext;

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::compile(pattern, true, false)
            .unwrap()
            .matches(text, &MapContext::default())
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("*", "anything/at:all"));
        assert!(m(
            "arn:aws:execute-api:us-east-1:*:api/*/GET/pets",
            "arn:aws:execute-api:us-east-1:123:api/prod/GET/pets"
        ));
        assert!(!m(
            "arn:aws:execute-api:us-east-1:*:api/*/GET/pets",
            "arn:aws:execute-api:us-east-1:123:api/prod/GET/pets/1"
        ));
        assert!(m("a*b*c", "aXXbYYbZc"));
        assert!(!m("a*b*c", "aXXbYYbZ"));
        assert!(m("?at", "cat"));
        assert!(!m("?at", "at"));
        assert!(m("?", "é"), "one character, not one byte");
        assert!(m("GET/*", "GET/"));
        assert!(m("*/*/*", "a/b/c/d"));
        assert!(!m("pets", "Pets"), "case-sensitive");
        assert!(m("a**b", "ab"));
    }

    #[test]
    fn variables() {
        let mut ctx = MapContext::default();
        ctx.set("aws:username", "alice");
        ctx.set("jwt:sub", "a*b");
        let p = Pattern::compile("users/${aws:username}/*", true, false).unwrap();
        assert!(p.matches("users/alice/x", &ctx));
        assert!(!p.matches("users/bob/x", &ctx));
        // a value is literal, never a wildcard
        let p = Pattern::compile("id/${jwt:sub}", true, false).unwrap();
        assert!(p.matches("id/a*b", &ctx));
        assert!(!p.matches("id/aXXb", &ctx));
        // missing: no match, unless there is a default
        let p = Pattern::compile("t/${jwt:tenant}", true, false).unwrap();
        assert!(!p.matches("t/", &ctx));
        let p = Pattern::compile("t/${jwt:tenant, 'none'}", true, false).unwrap();
        assert!(p.matches("t/none", &ctx));
        // escapes, and 2008-10-17 policies take `${` literally
        assert!(m("a${*}b", "a*b"));
        assert!(!m("a${*}b", "aXb"));
        assert!(
            Pattern::compile("a${x}", false, false)
                .unwrap()
                .matches("a${x}", &ctx)
        );
        assert!(Pattern::compile("a${aws:username", true, false).is_err());
        assert!(Pattern::compile("${no:such}", true, false).is_err());
    }
}
