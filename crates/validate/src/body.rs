//! The checks a body goes through before the schema: its nesting depth, by a byte scan that
//! runs before any parser, and the shape of the error string a client may see.
//!
//! The depth scan exists so that a hostile body such as a megabyte of `[` costs one linear
//! pass, not a recursive descent: it counts `[` and `{` outside strings (a string ends at an
//! unescaped `"`), and stops as soon as the limit is passed. It does not validate JSON; the
//! parser that runs after it does, with its own recursion limit still on.

use std::fmt::Write as _;

/// Most problems listed in one error string.
pub const MAX_ERRORS: usize = 5;
/// Longest error string, in bytes (cut on a character boundary).
pub const MAX_ERROR_STRING: usize = 1024;
/// Longest single problem's text, in bytes, before its location.
const MAX_ENTRY: usize = 160;
/// Longest location shown, in bytes.
const MAX_POINTER: usize = 64;

/// The nesting depth the default [`BodyLimits`] allow.
pub const DEFAULT_MAX_DEPTH: u32 = 32;

/// Limits applied to a body before it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Most nested arrays and objects: `[]` is 1, `{"a":[1]}` is 2, a scalar is 0.
    pub max_depth: u32,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Scans `body` for nesting deeper than `max_depth`, counting `[` and `{` outside strings.
/// `Err(depth)` with the first depth over the limit; `Ok(deepest)` otherwise. Unbalanced
/// closers are ignored here: the parser refuses them.
pub fn check_depth(body: &[u8], max_depth: u32) -> Result<u32, u32> {
    let mut depth: u32 = 0;
    let mut deepest: u32 = 0;
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        i += 1;
        match b {
            // Skip the string at once: its end is the next `"` not escaped; only `"` and `\`
            // matter inside, and memchr finds them a word at a time.
            b'"' => loop {
                let rest = body.get(i..).unwrap_or(&[]);
                match memchr::memchr2(b'"', b'\\', rest) {
                    None => return Ok(deepest),
                    Some(at) => {
                        let is_quote = rest.get(at) == Some(&b'"');
                        // After a backslash the next byte is escaped, whatever it is.
                        i += at + if is_quote { 1 } else { 2 };
                        if is_quote {
                            break;
                        }
                    }
                }
            },
            b'[' | b'{' => {
                depth = depth.saturating_add(1);
                if depth > max_depth {
                    return Err(depth);
                }
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(deepest)
}

/// Builds a `validationErrorString`: `[problem (at /pointer), ...]`, bounded.
pub(crate) struct ErrorList {
    text: String,
    count: usize,
}

impl ErrorList {
    pub(crate) fn new() -> Self {
        Self {
            text: String::from("["),
            count: 0,
        }
    }

    /// A list of one problem without a location.
    pub(crate) fn single(message: &str) -> String {
        let mut list = Self::new();
        push_cut(&mut list.text, message, MAX_ENTRY * 2);
        list.count = 1;
        list.finish()
    }

    /// Adds a problem at `pointer` (a JSON pointer; `""`, the whole body, is shown as `/`).
    pub(crate) fn push(&mut self, message: &str, pointer: &str) {
        if self.count > 0 {
            self.text.push_str(", ");
        }
        push_cut(&mut self.text, message, MAX_ENTRY);
        self.text.push_str(" (at ");
        push_cut(
            &mut self.text,
            if pointer.is_empty() { "/" } else { pointer },
            MAX_POINTER,
        );
        self.text.push(')');
        self.count += 1;
    }

    /// Closes the list, cutting it to [`MAX_ERROR_STRING`] bytes if needed.
    pub(crate) fn finish(mut self) -> String {
        if self.text.len() + 1 > MAX_ERROR_STRING {
            let keep = floor_char_boundary(&self.text, MAX_ERROR_STRING - "…]".len());
            self.text.truncate(keep);
            self.text.push('…');
        }
        self.text.push(']');
        self.text
    }
}

/// Appends `text`, cut to at most `max` bytes on a character boundary (with `…` when cut).
fn push_cut(out: &mut String, text: &str, max: usize) {
    if text.len() <= max {
        out.push_str(text);
    } else {
        let keep = floor_char_boundary(text, max.saturating_sub("…".len()));
        let _ = write!(out, "{}…", text.get(..keep).unwrap_or(""));
    }
}

/// The largest index at most `at` that is a character boundary of `text`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut i = at.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn depth_scan_table() {
        let cases: &[(&str, Result<u32, u32>)] = &[
            ("1", Ok(0)),
            ("[]", Ok(1)),
            (r#"{"a":[1]}"#, Ok(2)),
            (r#"["[[[[", "{{{{"]"#, Ok(1)),
            (r#"["\"[[[[", 1]"#, Ok(1)),
            (r#"["\\", [[1]]]"#, Ok(3)),
            (r#"[[],[],[[]]]"#, Ok(3)),
            ("[[[[", Err(4)),
            ("]]]][[[", Ok(3)),
            ("[[[[[[[[", Err(4)),
        ];
        for (body, want) in cases {
            let max = if want.is_err() { 3 } else { 32 };
            assert_eq!(check_depth(body.as_bytes(), max), *want, "{body}");
        }
    }

    #[test]
    fn hostile_depth_costs_a_scan() {
        let body = vec![b'['; 1 << 20];
        assert_eq!(check_depth(&body, 32), Err(33));
    }

    #[test]
    fn serde_json_parses_depth_127() {
        // The parser's own limit: a config's max_depth above it could never pass.
        let ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(serde_json::from_str::<serde_json::Value>(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(serde_json::from_str::<serde_json::Value>(&deep).is_err());
    }

    #[test]
    fn error_strings() {
        assert_eq!(ErrorList::single("x"), "[x]");
        let mut l = ErrorList::new();
        l.push("a", "");
        l.push("b", "/x/0");
        assert_eq!(l.finish(), "[a (at /), b (at /x/0)]");
        let mut l = ErrorList::new();
        for _ in 0..40 {
            l.push(&"ü".repeat(200), &"/p".repeat(100));
        }
        let s = l.finish();
        assert!(s.len() <= MAX_ERROR_STRING, "{}", s.len());
        assert!(s.ends_with("…]"), "{s}");
    }

    /// Random nested JSON: scalars, arrays and objects, with strings that hold brackets,
    /// quotes and backslashes.
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i32>().prop_map(serde_json::Value::from),
            "[\\[\\]{}\"\\\\a-z ]{0,6}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(40, 200, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::vec(("[\\[{\"\\\\a-z]{0,4}", inner), 0..4)
                    .prop_map(|entries| serde_json::Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    /// The depth of a parsed value, as the scan counts it.
    fn parsed_depth(v: &serde_json::Value) -> u32 {
        match v {
            serde_json::Value::Array(items) => {
                1 + items.iter().map(parsed_depth).max().unwrap_or(0)
            }
            serde_json::Value::Object(map) => 1 + map.values().map(parsed_depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    proptest! {
        #[test]
        fn depth_scan_agrees_with_parser(v in json_value(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                serde_json::to_string(&v).unwrap()
            };
            let depth = parsed_depth(&v);
            prop_assert_eq!(check_depth(text.as_bytes(), 512), Ok(depth));
            if depth > 0 {
                prop_assert_eq!(check_depth(text.as_bytes(), depth - 1), Err(depth));
            }
        }

        #[test]
        fn depth_scan_never_exceeds_max(data in proptest::collection::vec(any::<u8>(), 0..512), max in 0u32..40) {
            match check_depth(&data, max) {
                Ok(d) => prop_assert!(d <= max),
                Err(d) => prop_assert_eq!(d, max + 1),
            }
        }
    }
}
