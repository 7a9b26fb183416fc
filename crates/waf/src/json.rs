//! A streaming JSON reader for `JsonBody` inspection: it hands every key and every scalar
//! value to the caller, with its JSON Pointer, as it reads them, and stops at the first
//! error. Tokens read before an error have already been inspected, which is AWS WAF's
//! behaviour for invalid JSON when no `InvalidFallbackBehavior` is set.
//!
//! Nothing is built: no tree, one scratch buffer for unescaped strings. Depth is bounded.

/// The deepest nesting read; deeper documents are invalid.
pub const MAX_DEPTH: usize = 128;

/// One step of a JSON Pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// An object member's key (unescaped).
    Key(Vec<u8>),
    /// An array index.
    Index(usize),
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An object member's key.
    Key,
    /// A scalar value (string contents unescaped; numbers, `true`, `false`, `null` as written).
    Value,
}

/// How reading ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The whole document was read.
    Complete,
    /// The caller asked to stop.
    Stopped,
    /// The document is not valid JSON (or too deep); tokens before the error were seen.
    Invalid,
}

/// What [`walk`] calls for each token: `true` stops the walk.
pub type Visit<'v> = dyn FnMut(Kind, &[u8], &[Seg]) -> bool + 'v;

/// Reads `doc`, calling `visit(kind, bytes, pointer)` for every key and scalar value until
/// it returns `true` (stop) or the document ends. For a key, the pointer ends with that key.
pub fn walk(doc: &[u8], visit: &mut Visit<'_>) -> End {
    let mut r = Reader {
        doc,
        at: 0,
        path: Vec::new(),
        scratch: Vec::new(),
    };
    match r.value(visit, 0) {
        Step::Ok => {
            r.skip_ws();
            if r.at == r.doc.len() {
                End::Complete
            } else {
                End::Invalid
            }
        }
        Step::Stop => End::Stopped,
        Step::Bad => End::Invalid,
    }
}

/// Whether `path` lies under the pointer `prefix` (RFC 6901 text, `""` is the whole
/// document).
pub fn under(prefix: &[PointerSeg], path: &[Seg]) -> bool {
    prefix.len() <= path.len()
        && prefix.iter().zip(path).all(|(p, s)| match s {
            Seg::Key(k) => p.key.as_slice() == k.as_slice(),
            Seg::Index(i) => p.index == Some(*i),
        })
}

/// One reference token of a parsed JSON Pointer: matches a key equal to `key`, or an array
/// index when the token is a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointerSeg {
    key: Vec<u8>,
    index: Option<usize>,
}

/// Parses an RFC 6901 JSON Pointer (`/dogs/0/name`, `~0` for `~` and `~1` for `/`).
pub fn parse_pointer(text: &str) -> Option<Vec<PointerSeg>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let rest = text.strip_prefix('/')?;
    let mut out = Vec::new();
    for token in rest.split('/') {
        let mut key = Vec::with_capacity(token.len());
        let mut chars = token.bytes();
        while let Some(c) = chars.next() {
            if c == b'~' {
                match chars.next() {
                    Some(b'0') => key.push(b'~'),
                    Some(b'1') => key.push(b'/'),
                    _ => return None,
                }
            } else {
                key.push(c);
            }
        }
        let index = std::str::from_utf8(&key)
            .ok()
            .filter(|k| k == &"0" || (!k.starts_with('0') && !k.is_empty()))
            .and_then(|k| k.parse().ok());
        out.push(PointerSeg { key, index });
    }
    Some(out)
}

enum Step {
    Ok,
    Stop,
    Bad,
}

struct Reader<'d> {
    doc: &'d [u8],
    at: usize,
    path: Vec<Seg>,
    scratch: Vec<u8>,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.doc.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn value(&mut self, visit: &mut Visit<'_>, depth: usize) -> Step {
        if depth > MAX_DEPTH {
            return Step::Bad;
        }
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                self.object(visit, depth)
            }
            Some(b'[') => {
                self.at += 1;
                self.array(visit, depth)
            }
            Some(b'"') => {
                if !self.string() {
                    return Step::Bad;
                }
                if visit(Kind::Value, &self.scratch, &self.path) {
                    Step::Stop
                } else {
                    Step::Ok
                }
            }
            Some(_) => {
                let start = self.at;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.'))
                {
                    self.at += 1;
                }
                let Some(text) = self.doc.get(start..self.at) else {
                    return Step::Bad;
                };
                if !is_literal(text) {
                    return Step::Bad;
                }
                if visit(Kind::Value, text, &self.path) {
                    Step::Stop
                } else {
                    Step::Ok
                }
            }
            None => Step::Bad,
        }
    }

    fn object(&mut self, visit: &mut Visit<'_>, depth: usize) -> Step {
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Step::Ok;
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') || !self.string() {
                return Step::Bad;
            }
            self.path.push(Seg::Key(self.scratch.clone()));
            if visit(Kind::Key, &self.scratch, &self.path) {
                return Step::Stop;
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Step::Bad;
            }
            self.at += 1;
            match self.value(visit, depth + 1) {
                Step::Ok => {}
                other => return other,
            }
            self.path.pop();
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Step::Ok;
                }
                _ => return Step::Bad,
            }
        }
    }

    fn array(&mut self, visit: &mut Visit<'_>, depth: usize) -> Step {
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Step::Ok;
        }
        let mut index = 0;
        loop {
            self.path.push(Seg::Index(index));
            match self.value(visit, depth + 1) {
                Step::Ok => {}
                other => return other,
            }
            self.path.pop();
            index += 1;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Step::Ok;
                }
                _ => return Step::Bad,
            }
        }
    }

    /// Reads a string at `self.at` (the opening quote) into `scratch`, unescaped.
    fn string(&mut self) -> bool {
        self.scratch.clear();
        self.at += 1;
        loop {
            let Some(c) = self.peek() else { return false };
            self.at += 1;
            match c {
                b'"' => return true,
                b'\\' => {
                    let Some(e) = self.peek() else { return false };
                    self.at += 1;
                    let plain = match e {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let Some(unit) = self.hex4() else {
                                return false;
                            };
                            let code = if (0xD800..0xDC00).contains(&unit)
                                && self.doc.get(self.at..self.at + 2) == Some(b"\\u")
                            {
                                self.at += 2;
                                match self.hex4() {
                                    Some(low) if (0xDC00..0xE000).contains(&low) => {
                                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                                    }
                                    _ => 0xFFFD,
                                }
                            } else {
                                unit
                            };
                            let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            self.scratch
                                .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => return false,
                    };
                    self.scratch.push(plain);
                }
                c if c < 0x20 => return false,
                c => self.scratch.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.doc.get(self.at..self.at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let v = u32::from_str_radix(text, 16).ok()?;
        self.at += 4;
        Some(v)
    }
}

fn is_literal(text: &[u8]) -> bool {
    match text {
        b"true" | b"false" | b"null" => true,
        _ => {
            !text.is_empty()
                && std::str::from_utf8(text).is_ok_and(|t| {
                    t.trim_start_matches('-')
                        .starts_with(|c: char| c.is_ascii_digit())
                        && t.parse::<f64>().is_ok()
                })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn tokens(doc: &str) -> (Vec<(Kind, String, String)>, End) {
        let mut out = Vec::new();
        let end = walk(doc.as_bytes(), &mut |kind, bytes, path| {
            let ptr: String = path
                .iter()
                .map(|s| match s {
                    Seg::Key(k) => format!("/{}", String::from_utf8_lossy(k)),
                    Seg::Index(i) => format!("/{i}"),
                })
                .collect();
            out.push((kind, String::from_utf8_lossy(bytes).into_owned(), ptr));
            false
        });
        (out, end)
    }

    #[test]
    fn keys_and_values_come_with_their_pointers() {
        let (t, end) =
            tokens(r#"{"dogs":[{"name":"Rex \u0041\ud83d\ude00"},3.5,true,null],"x":{}}"#);
        assert_eq!(end, End::Complete);
        let got: Vec<_> = t
            .iter()
            .map(|(k, v, p)| (*k, v.as_str(), p.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Kind::Key, "dogs", "/dogs"),
                (Kind::Key, "name", "/dogs/0/name"),
                (Kind::Value, "Rex A😀", "/dogs/0/name"),
                (Kind::Value, "3.5", "/dogs/1"),
                (Kind::Value, "true", "/dogs/2"),
                (Kind::Value, "null", "/dogs/3"),
                (Kind::Key, "x", "/x"),
            ]
        );
    }

    #[test]
    fn tokens_before_an_error_are_seen() {
        let (t, end) = tokens(r#"{"a":"one","b": nope}"#);
        assert_eq!(end, End::Invalid);
        assert_eq!(t.len(), 3);
        assert_eq!(tokens("\"x\" trailing").1, End::Invalid);
        assert_eq!(tokens("").1, End::Invalid);
        assert_eq!(tokens("[1,]").1, End::Invalid);
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(tokens(&deep).1, End::Invalid);
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(tokens(&ok).1, End::Complete);
    }

    #[test]
    fn pointers_parse_and_match_subtrees() {
        let p = parse_pointer("/dogs/0").unwrap();
        let path = [
            Seg::Key(b"dogs".to_vec()),
            Seg::Index(0),
            Seg::Key(b"name".to_vec()),
        ];
        assert!(under(&p, &path));
        assert!(!under(&parse_pointer("/dogs/1").unwrap(), &path));
        assert!(under(&parse_pointer("").unwrap(), &path));
        assert_eq!(parse_pointer("/a~1b~0").unwrap()[0].key, b"a/b~".to_vec());
        assert!(parse_pointer("nope").is_none());
        assert!(parse_pointer("/a~2").is_none());
    }
}
