//! AWS WAF's text transformations: what a rule does to a request component before it
//! inspects it, so that an attacker's encoding does not hide a match.
//!
//! ```text
//! component bytes --(transformations, lowest priority first)--> inspected bytes
//! ```
//!
//! Every transformation works on bytes (a decoded value need not be UTF-8) and never
//! grows its input by more than a constant factor, so a chain of them costs time linear in
//! the component's size. Invalid encodings are left as they are, as AWS WAF leaves them:
//! `%zz` stays `%zz`, a broken base64 string stays itself.

use std::borrow::Cow;

use base64::Engine as _;
use md5::Digest as _;

/// One of AWS WAF's text transformation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(
    non_camel_case_types,
    reason = "the names are AWS WAF's own, used verbatim in web ACLs"
)]
pub enum Transformation {
    /// No change.
    NONE,
    /// Whitespace (tab, LF, VT, FF, CR, space, NBSP) becomes a space; runs of spaces become one.
    COMPRESS_WHITE_SPACE,
    /// HTML entities (`&lt;`, `&#60;`, `&#x3c;`, ...) decoded.
    HTML_ENTITY_DECODE,
    /// ASCII upper case to lower case.
    LOWERCASE,
    /// What Windows and Unix shells ignore: `\ " ' ^` removed, spaces before `/` and `(`
    /// removed, `,` and `;` to spaces, whitespace compressed, lower case.
    CMD_LINE,
    /// `%HH` and `+` decoded.
    URL_DECODE,
    /// `%HH`, `%uHHHH` (to UTF-8) and `+` decoded.
    URL_DECODE_UNI,
    /// Base64 decoded (the whole value, or unchanged when it is not base64).
    BASE64_DECODE,
    /// Base64 decoded, ignoring characters that are not base64.
    BASE64_DECODE_EXT,
    /// A string of hex digit pairs decoded to bytes.
    HEX_DECODE,
    /// The MD5 digest (16 bytes).
    MD5,
    /// C comments (`/* ... */`, unterminated included) replaced by a space.
    REPLACE_COMMENTS,
    /// ANSI C escapes (`\n`, `\x41`, `\101`, ...) decoded.
    ESCAPE_SEQ_DECODE,
    /// SQL hex literals (`0x414243`) decoded.
    SQL_HEX_DECODE,
    /// CSS escapes (`\41`, `\000041 `, `\"`) decoded.
    CSS_DECODE,
    /// JavaScript escapes (`\u0041`, `\x41`, `\101`, `\n`) decoded.
    JS_DECODE,
    /// Repeated slashes, `./` and `../` removed from a path.
    NORMALIZE_PATH,
    /// `\` to `/`, then as NORMALIZE_PATH.
    NORMALIZE_PATH_WIN,
    /// NUL bytes removed.
    REMOVE_NULLS,
    /// NUL bytes to spaces.
    REPLACE_NULLS,
    /// Non-ASCII UTF-8 characters to `%uHHHH`.
    UTF8_TO_UNICODE,
}

impl Transformation {
    /// Every transformation, as AWS WAF lists them.
    pub const ALL: [Transformation; 21] = [
        Self::NONE,
        Self::COMPRESS_WHITE_SPACE,
        Self::HTML_ENTITY_DECODE,
        Self::LOWERCASE,
        Self::CMD_LINE,
        Self::URL_DECODE,
        Self::URL_DECODE_UNI,
        Self::BASE64_DECODE,
        Self::BASE64_DECODE_EXT,
        Self::HEX_DECODE,
        Self::MD5,
        Self::REPLACE_COMMENTS,
        Self::ESCAPE_SEQ_DECODE,
        Self::SQL_HEX_DECODE,
        Self::CSS_DECODE,
        Self::JS_DECODE,
        Self::NORMALIZE_PATH,
        Self::NORMALIZE_PATH_WIN,
        Self::REMOVE_NULLS,
        Self::REPLACE_NULLS,
        Self::UTF8_TO_UNICODE,
    ];

    /// The name in web ACL JSON (`"Type": "URL_DECODE"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::NONE => "NONE",
            Self::COMPRESS_WHITE_SPACE => "COMPRESS_WHITE_SPACE",
            Self::HTML_ENTITY_DECODE => "HTML_ENTITY_DECODE",
            Self::LOWERCASE => "LOWERCASE",
            Self::CMD_LINE => "CMD_LINE",
            Self::URL_DECODE => "URL_DECODE",
            Self::URL_DECODE_UNI => "URL_DECODE_UNI",
            Self::BASE64_DECODE => "BASE64_DECODE",
            Self::BASE64_DECODE_EXT => "BASE64_DECODE_EXT",
            Self::HEX_DECODE => "HEX_DECODE",
            Self::MD5 => "MD5",
            Self::REPLACE_COMMENTS => "REPLACE_COMMENTS",
            Self::ESCAPE_SEQ_DECODE => "ESCAPE_SEQ_DECODE",
            Self::SQL_HEX_DECODE => "SQL_HEX_DECODE",
            Self::CSS_DECODE => "CSS_DECODE",
            Self::JS_DECODE => "JS_DECODE",
            Self::NORMALIZE_PATH => "NORMALIZE_PATH",
            Self::NORMALIZE_PATH_WIN => "NORMALIZE_PATH_WIN",
            Self::REMOVE_NULLS => "REMOVE_NULLS",
            Self::REPLACE_NULLS => "REPLACE_NULLS",
            Self::UTF8_TO_UNICODE => "UTF8_TO_UNICODE",
        }
    }

    /// The transformation named `name` in web ACL JSON.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Applies the transformation. Borrowed when nothing changed.
    pub fn apply(self, input: &[u8]) -> Cow<'_, [u8]> {
        match self {
            Self::NONE => Cow::Borrowed(input),
            Self::COMPRESS_WHITE_SPACE => compress_white_space(input),
            Self::HTML_ENTITY_DECODE => html_entity_decode(input),
            Self::LOWERCASE => {
                if input.iter().any(u8::is_ascii_uppercase) {
                    Cow::Owned(input.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(input)
                }
            }
            Self::CMD_LINE => Cow::Owned(cmd_line(input)),
            Self::URL_DECODE => url_decode(input, false),
            Self::URL_DECODE_UNI => url_decode(input, true),
            Self::BASE64_DECODE => base64_decode(input, false),
            Self::BASE64_DECODE_EXT => base64_decode(input, true),
            Self::HEX_DECODE => hex_decode(input),
            Self::MD5 => Cow::Owned(md5::Md5::digest(input).to_vec()),
            Self::REPLACE_COMMENTS => replace_comments(input),
            Self::ESCAPE_SEQ_DECODE => escape_decode(input, Escapes::C),
            Self::SQL_HEX_DECODE => sql_hex_decode(input),
            Self::CSS_DECODE => css_decode(input),
            Self::JS_DECODE => escape_decode(input, Escapes::Js),
            Self::NORMALIZE_PATH => normalize_path(input, false),
            Self::NORMALIZE_PATH_WIN => normalize_path(input, true),
            Self::REMOVE_NULLS => {
                if input.contains(&0) {
                    Cow::Owned(input.iter().copied().filter(|b| *b != 0).collect())
                } else {
                    Cow::Borrowed(input)
                }
            }
            Self::REPLACE_NULLS => {
                if input.contains(&0) {
                    Cow::Owned(
                        input
                            .iter()
                            .map(|b| if *b == 0 { b' ' } else { *b })
                            .collect(),
                    )
                } else {
                    Cow::Borrowed(input)
                }
            }
            Self::UTF8_TO_UNICODE => utf8_to_unicode(input),
        }
    }
}

/// A rule's transformations in the order AWS WAF applies them: lowest priority first.
/// Priorities are unique within a rule (checked when the web ACL is loaded).
pub fn apply_all<'a>(chain: &[(u32, Transformation)], input: &'a [u8]) -> Cow<'a, [u8]> {
    let mut ordered: Vec<&(u32, Transformation)> = chain.iter().collect();
    ordered.sort_by_key(|(p, _)| *p);
    let mut value: Cow<'a, [u8]> = Cow::Borrowed(input);
    for (_, t) in ordered {
        value = match value {
            Cow::Borrowed(b) => t.apply(b),
            Cow::Owned(o) => Cow::Owned(t.apply(&o).into_owned()),
        };
    }
    value
}

fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0xa0)
}

fn compress_white_space(input: &[u8]) -> Cow<'_, [u8]> {
    let changes = input
        .windows(2)
        .any(|w| matches!(w, [a, b] if is_ws(*a) && is_ws(*b)))
        || input.iter().any(|b| is_ws(*b) && *b != b' ');
    if !changes {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &b in input {
        if is_ws(b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b);
            in_space = false;
        }
    }
    Cow::Owned(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The value of the first `n` bytes of `input` read as hex digits (`n` at most 8), if
/// they all are.
fn hex_run(input: &[u8], n: usize) -> Option<u32> {
    input
        .get(..n)?
        .iter()
        .try_fold(0u32, |acc, d| Some(acc << 4 | u32::from(hex_value(*d)?)))
}

/// Pushes `c` as UTF-8, or `?`-free replacement: code points that are not characters
/// (surrogates, past U+10FFFF) become U+FFFD.
fn push_char(out: &mut Vec<u8>, code: u32) {
    let c = char::from_u32(code).unwrap_or('\u{fffd}');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Pushes a decoded byte value: below 0x80 as itself, else as the character (as browsers
/// read `&#233;`).
fn push_code(out: &mut Vec<u8>, code: u32) {
    match u8::try_from(code) {
        Ok(b) if b < 0x80 => out.push(b),
        _ => push_char(out, code),
    }
}

fn html_entity_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'&') {
        return Cow::Borrowed(input);
    }
    const NAMED: [(&[u8], u32); 6] = [
        (b"quot", 0x22),
        (b"amp", 0x26),
        (b"lt", 0x3c),
        (b"gt", 0x3e),
        (b"nbsp", 0xa0),
        (b"apos", 0x27),
    ];
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b != b'&' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = input.get(i + 1..).unwrap_or(&[]);
        // Numeric: `&#DDD;`, `&#xHHH;` (the `;` optional, as browsers accept).
        if let Some(num) = rest.strip_prefix(b"#") {
            let (hex, digits) = match num.first() {
                Some(b'x' | b'X') => (true, num.get(1..).unwrap_or(&[])),
                _ => (false, num),
            };
            let len = digits
                .iter()
                .take(8)
                .take_while(|d| {
                    if hex {
                        d.is_ascii_hexdigit()
                    } else {
                        d.is_ascii_digit()
                    }
                })
                .count();
            if len > 0 {
                let text = std::str::from_utf8(digits.get(..len).unwrap_or(&[])).unwrap_or("0");
                let code = u32::from_str_radix(text, if hex { 16 } else { 10 }).unwrap_or(0xfffd);
                push_code(&mut out, code);
                let consumed = 1 + usize::from(hex) + len;
                let semicolon = usize::from(digits.get(len) == Some(&b';'));
                i += 1 + consumed + semicolon;
                continue;
            }
        }
        let named = NAMED.iter().find(|(name, _)| {
            rest.len() > name.len()
                && rest
                    .get(..name.len())
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
                && rest.get(name.len()) == Some(&b';')
        });
        if let Some((name, code)) = named {
            push_code(&mut out, *code);
            i += 2 + name.len();
            continue;
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

fn cmd_line(input: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    for &b in input {
        match b {
            b'\\' | b'"' | b'\'' | b'^' => {}
            b',' | b';' => {
                if out.last() != Some(&b' ') {
                    out.push(b' ');
                }
            }
            b'/' | b'(' => {
                while out.last() == Some(&b' ') {
                    out.pop();
                }
                out.push(b);
            }
            b if is_ws(b) => {
                if out.last() != Some(&b' ') {
                    out.push(b' ');
                }
            }
            b => out.push(b.to_ascii_lowercase()),
        }
    }
    out
}

fn url_decode(input: &[u8], unicode: bool) -> Cow<'_, [u8]> {
    if !input.iter().any(|b| *b == b'%' || *b == b'+') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex2 =
                    || Some(hex_value(*input.get(i + 1)?)? << 4 | hex_value(*input.get(i + 2)?)?);
                let uni = || {
                    matches!(input.get(i + 1), Some(b'u' | b'U'))
                        .then(|| hex_run(input.get(i + 2..)?, 4))
                        .flatten()
                };
                if let (true, Some(code)) = (unicode, uni()) {
                    push_code(&mut out, code);
                    i += 6;
                } else if let Some(v) = hex2() {
                    out.push(v);
                    i += 3;
                } else {
                    out.push(b);
                    i += 1;
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn base64_decode(input: &[u8], forgiving: bool) -> Cow<'_, [u8]> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    if forgiving {
        let kept: Vec<u8> = input
            .iter()
            .copied()
            .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
            .collect();
        // A lone sixth-bit group at the end cannot be decoded: it is dropped.
        let usable = if kept.len() % 4 == 1 {
            kept.len() - 1
        } else {
            kept.len()
        };
        return match engine.decode(kept.get(..usable).unwrap_or(&[])) {
            Ok(v) => Cow::Owned(v),
            Err(_) => Cow::Borrowed(input),
        };
    }
    match engine.decode(input) {
        Ok(v) => Cow::Owned(v),
        Err(_) => Cow::Borrowed(input),
    }
}

fn hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty()
        || !input.len().is_multiple_of(2)
        || !input.iter().all(u8::is_ascii_hexdigit)
    {
        return Cow::Borrowed(input);
    }
    Cow::Owned(
        input
            .chunks(2)
            .filter_map(|p| match p {
                [a, b] => Some(hex_value(*a)? << 4 | hex_value(*b)?),
                _ => None,
            })
            .collect(),
    )
}

fn replace_comments(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.windows(2).any(|w| w == b"/*") {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'/' && input.get(i + 1) == Some(&b'*') {
            let body = input.get(i + 2..).unwrap_or(&[]);
            let end = body.windows(2).position(|w| w == b"*/");
            out.push(b' ');
            i = match end {
                Some(e) => i + 2 + e + 2,
                None => input.len(),
            };
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Escapes {
    C,
    Js,
}

/// `\a \b \f \n \r \t \v \\ \? \' \" \xHH \OOO` (C), plus `\uHHHH` (JavaScript). An
/// escape that does not decode stays as written.
fn escape_decode(input: &[u8], kind: Escapes) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&e) = input.get(i + 1) else {
            out.push(b);
            i += 1;
            continue;
        };
        let simple = match e {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'?' | b'\'' | b'"' | b'/' => Some(e),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            i += 2;
            continue;
        }
        if e == b'x'
            && let (Some(h), Some(l)) = (
                input.get(i + 2).copied().and_then(hex_value),
                input.get(i + 3).copied().and_then(hex_value),
            )
        {
            out.push(h << 4 | l);
            i += 4;
            continue;
        }
        if kind == Escapes::Js
            && (e == b'u' || e == b'U')
            && let Some(code) = input.get(i + 2..).and_then(|r| hex_run(r, 4))
        {
            push_code(&mut out, code);
            i += 6;
            continue;
        }
        if (b'0'..=b'7').contains(&e) {
            let len = input
                .get(i + 1..)
                .unwrap_or(&[])
                .iter()
                .take(3)
                .take_while(|d| (b'0'..=b'7').contains(*d))
                .count();
            let value = input
                .get(i + 1..i + 1 + len)
                .unwrap_or(&[])
                .iter()
                .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
            out.push(u8::try_from(value & 0xff).unwrap_or(0));
            i += 1 + len;
            continue;
        }
        // A numeric escape without its digits stays as written; any other escaped
        // character is itself, as C and JavaScript read it.
        if e == b'x' || (kind == Escapes::Js && (e == b'u' || e == b'U')) {
            out.push(b'\\');
        }
        out.push(e);
        i += 2;
    }
    Cow::Owned(out)
}

fn sql_hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.windows(2).any(|w| w.eq_ignore_ascii_case(b"0x")) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        let prefix = b == b'0' && matches!(input.get(i + 1), Some(b'x' | b'X'));
        let digits = if prefix {
            input
                .get(i + 2..)
                .unwrap_or(&[])
                .iter()
                .take_while(|d| d.is_ascii_hexdigit())
                .count()
        } else {
            0
        };
        if digits >= 2 {
            let pairs = digits / 2;
            for k in 0..pairs {
                let h = input
                    .get(i + 2 + 2 * k)
                    .copied()
                    .and_then(hex_value)
                    .unwrap_or(0);
                let l = input
                    .get(i + 3 + 2 * k)
                    .copied()
                    .and_then(hex_value)
                    .unwrap_or(0);
                out.push(h << 4 | l);
            }
            i += 2 + 2 * pairs;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// CSS 2 escapes: `\` and one to six hex digits (one whitespace after them swallowed), or
/// `\` and any other character (that character). A `\` before a newline is removed.
fn css_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = input.get(i + 1..).unwrap_or(&[]);
        let len = rest
            .iter()
            .take(6)
            .take_while(|d| d.is_ascii_hexdigit())
            .count();
        if let Some(code) = hex_run(rest, len).filter(|_| len > 0) {
            push_code(&mut out, code);
            i += 1 + len;
            if input.get(i).is_some_and(|w| is_ws(*w)) {
                i += 1;
            }
            continue;
        }
        match rest.first() {
            Some(b'\n') => i += 2,
            Some(&c) => {
                out.push(c);
                i += 2;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Removes empty segments (`//`), `.` segments and `..` with the segment before it; a path
/// never climbs above its start.
fn normalize_path(input: &[u8], windows: bool) -> Cow<'_, [u8]> {
    let needs = input
        .windows(2)
        .any(|w| w == b"//" || w == b"/." || w == b"./")
        || (windows && input.contains(&b'\\'))
        || input == b"."
        || input == b"..";
    if !needs {
        return Cow::Borrowed(input);
    }
    let text: Vec<u8> = if windows {
        input
            .iter()
            .map(|b| if *b == b'\\' { b'/' } else { *b })
            .collect()
    } else {
        input.to_vec()
    };
    let absolute = text.first() == Some(&b'/');
    let trailing = text.last() == Some(&b'/') || text.ends_with(b"/.") || text.ends_with(b"/..");
    let mut kept: Vec<&[u8]> = Vec::new();
    for seg in text.split(|b| *b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    let mut out = Vec::with_capacity(text.len());
    if absolute {
        out.push(b'/');
    }
    for (n, seg) in kept.iter().enumerate() {
        if n > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(seg);
    }
    if trailing && !kept.is_empty() {
        out.push(b'/');
    }
    Cow::Owned(out)
}

fn utf8_to_unicode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_ascii() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() * 2);
    for chunk in input.utf8_chunks() {
        for c in chunk.valid().chars() {
            let code = u32::from(c);
            if code < 0x80 {
                out.push(u8::try_from(code).unwrap_or(b'?'));
            } else if code <= 0xffff {
                out.extend_from_slice(format!("%u{code:04x}").as_bytes());
            } else {
                // Beyond the BMP: the UTF-16 surrogate pair, as `%u` can only say 16 bits.
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.extend_from_slice(format!("%u{u:04x}").as_bytes());
                }
            }
        }
        out.extend_from_slice(chunk.invalid());
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::Transformation::{self, *};
    use super::apply_all;

    fn t(t: Transformation, input: &str) -> String {
        String::from_utf8_lossy(&t.apply(input.as_bytes())).into_owned()
    }

    #[test]
    fn names_round_trip() {
        for x in Transformation::ALL {
            assert_eq!(Transformation::from_name(x.name()), Some(x));
        }
        assert_eq!(Transformation::from_name("url_decode"), None);
    }

    #[test]
    fn each_transformation() {
        assert_eq!(t(NONE, "A b"), "A b");
        assert_eq!(t(COMPRESS_WHITE_SPACE, "a \t\r\n b\u{b}c"), "a b c");
        assert_eq!(
            t(
                HTML_ENTITY_DECODE,
                "&lt;script&gt; &#60;&#x3C;&#X3c &quot;&amp;&apos;&nbsp;"
            ),
            "<script> <<< \"&'\u{a0}"
        );
        assert_eq!(
            t(HTML_ENTITY_DECODE, "&unknown; & &#; &#x;"),
            "&unknown; & &#; &#x;"
        );
        assert_eq!(t(HTML_ENTITY_DECODE, "&#233;"), "é");
        assert_eq!(t(LOWERCASE, "SeLeCt"), "select");
        assert_eq!(
            t(
                CMD_LINE,
                "C:\\WinDows\\SYSTEM32 ,  cmd.exe  /C \"dir\"; ^ls ( 1 )"
            ),
            "c:windowssystem32 cmd.exe/c dir ls( 1 )"
        );
        assert_eq!(t(URL_DECODE, "a%20b+c%2Fd%zz%4"), "a b c/d%zz%4");
        assert_eq!(
            t(URL_DECODE_UNI, "%u003cscript%u003E%41%uzzzz"),
            "<script>A%uzzzz"
        );
        assert_eq!(t(BASE64_DECODE, "PHNjcmlwdD4="), "<script>");
        assert_eq!(t(BASE64_DECODE, "not base64!"), "not base64!");
        assert_eq!(t(BASE64_DECODE_EXT, "PHNj.cmlw-dD4"), "<script>");
        assert_eq!(t(HEX_DECODE, "3c7363726970743e"), "<script>");
        assert_eq!(t(HEX_DECODE, "3c7"), "3c7");
        assert_eq!(MD5.apply(b"abc").len(), 16);
        assert_eq!(
            MD5.apply(b"abc")
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            t(REPLACE_COMMENTS, "UNION/**/SELECT/* x */1/* open"),
            "UNION SELECT 1 "
        );
        assert_eq!(
            t(ESCAPE_SEQ_DECODE, "\\x3cscript\\x3e\\n\\101\\q"),
            "<script>\nAq"
        );
        assert_eq!(t(SQL_HEX_DECODE, "SELECT 0x414243, 0x4"), "SELECT ABC, 0x4");
        assert_eq!(t(CSS_DECODE, "\\3c script\\3E \\\"x\\\n"), "<script>\"x");
        assert_eq!(t(CSS_DECODE, "java\\000073cript"), "javascript");
        assert_eq!(
            t(JS_DECODE, "\\u003cscript\\x3e\\u00e9\\u12"),
            "<script>é\\u12"
        );
        assert_eq!(
            t(NORMALIZE_PATH, "/a//b/./c/../../etc/passwd"),
            "/a/etc/passwd"
        );
        assert_eq!(t(NORMALIZE_PATH, "/../../etc/"), "/etc/");
        assert_eq!(t(NORMALIZE_PATH, "/index.html"), "/index.html");
        assert_eq!(
            t(NORMALIZE_PATH_WIN, "C:\\a\\..\\windows\\win.ini"),
            "C:/windows/win.ini"
        );
        assert_eq!(t(REMOVE_NULLS, "a\0b\0"), "ab");
        assert_eq!(t(REPLACE_NULLS, "a\0b"), "a b");
        assert_eq!(t(UTF8_TO_UNICODE, "a<é😀"), "a<%u00e9%ud83d%ude00");
    }

    #[test]
    fn chains_run_lowest_priority_first() {
        // Decode then lower-case, whatever the order they are written in.
        let chain = [(1, LOWERCASE), (0, URL_DECODE)];
        assert_eq!(&*apply_all(&chain, b"%53ELECT"), b"select");
        // Double encoding needs two decodes.
        let twice = [(0, URL_DECODE), (1, URL_DECODE)];
        assert_eq!(&*apply_all(&twice, b"%253Cscript%253E"), b"<script>");
        assert!(matches!(
            apply_all(&[], b"x"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
