//! Bounded decoding of what attackers encode: percent escapes (`%HH`, `%uHHHH`, nested
//! and double encodings), HTML entities, overlong UTF-8 and full-width look-alikes of the
//! ASCII punctuation that paths and markup are made of, NUL bytes.
//!
//! Every function here takes time linear in its input and never grows it: a round of
//! decoding only shortens a value, and the number of rounds is capped.

use std::borrow::Cow;

use crate::transform::Transformation;

/// The most bytes of one value that are inspected. Longer values are inspected on their
/// first `MAX_INSPECT` bytes (AWS WAF inspects the first 8 KiB of a body the same way).
pub const MAX_INSPECT: usize = 16 * 1024;

/// Rounds of percent and entity decoding (`%25252e` is three rounds).
const MAX_ROUNDS: usize = 4;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_char(out: &mut Vec<u8>, code: u32) {
    if let Some(c) = fold_char(code) {
        out.push(c);
        return;
    }
    let c = char::from_u32(code).unwrap_or('\u{fffd}');
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// The ASCII character a look-alike stands for where parsers (IIS, Java, browsers'
/// URL parsers) have been known to read it as that character.
fn fold_char(code: u32) -> Option<u8> {
    match code {
        0..=0x7f => u8::try_from(code).ok(),
        // Full-width forms of ASCII punctuation and letters.
        0xff01..=0xff5e => u8::try_from(code - 0xff01 + 0x21).ok(),
        // Division slash, set minus, fraction slash, big solidus, small reverse solidus.
        0x2215 | 0x2044 | 0x29f8 | 0xefc8 | 0xf025 => Some(b'/'),
        0x2216 | 0x29f9 | 0xfe68 => Some(b'\\'),
        // Vertical kana repeat marks, read as slashes by some URL parsers.
        0x3031 | 0x3035 => Some(b'/'),
        // Characters whose low byte is CR or LF, which some servers truncate to it.
        0x560a | 0x010a => Some(b'\n'),
        0x560d | 0x010d => Some(b'\r'),
        // One dot leader, ideographic full stop, halfwidth ideographic full stop.
        0x2024 | 0x3002 | 0xff61 => Some(b'.'),
        _ => None,
    }
}

/// Percent-decoding of one round: `%HH`, `%uHHHH`, and `+` when `plus` (form encoding).
fn percent_round(input: &[u8], plus: bool) -> Option<Vec<u8>> {
    if !input.iter().any(|b| *b == b'%' || (plus && *b == b'+')) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut changed = false;
    while let Some(&b) = input.get(i) {
        if b == b'+' && plus {
            out.push(b' ');
            changed = true;
            i += 1;
            continue;
        }
        if b == b'%' {
            let at = |k: usize| input.get(i + k).copied().and_then(hex);
            if matches!(input.get(i + 1), Some(b'u' | b'U'))
                && let (Some(a), Some(b2), Some(c), Some(d)) = (at(2), at(3), at(4), at(5))
            {
                let code =
                    u32::from(a) << 12 | u32::from(b2) << 8 | u32::from(c) << 4 | u32::from(d);
                push_char(&mut out, code);
                changed = true;
                i += 6;
                continue;
            }
            if let (Some(h), Some(l)) = (at(1), at(2)) {
                out.push(h << 4 | l);
                changed = true;
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// Named entities that turn text into markup or code when a browser decodes them.
const ENTITIES: &[(&[u8], u8)] = &[
    (b"lt", b'<'),
    (b"gt", b'>'),
    (b"quot", b'"'),
    (b"apos", b'\''),
    (b"amp", b'&'),
    (b"lpar", b'('),
    (b"rpar", b')'),
    (b"colon", b':'),
    (b"semi", b';'),
    (b"sol", b'/'),
    (b"bsol", b'\\'),
    (b"equals", b'='),
    (b"excl", b'!'),
    (b"grave", b'`'),
    (b"period", b'.'),
    (b"comma", b','),
    (b"lsqb", b'['),
    (b"rsqb", b']'),
    (b"lbrack", b'['),
    (b"rbrack", b']'),
    (b"lcub", b'{'),
    (b"rcub", b'}'),
    (b"lbrace", b'{'),
    (b"rbrace", b'}'),
    (b"dollar", b'$'),
    (b"percnt", b'%'),
    (b"num", b'#'),
    (b"ast", b'*'),
    (b"plus", b'+'),
    (b"verbar", b'|'),
    (b"vert", b'|'),
    (b"quest", b'?'),
    (b"commat", b'@'),
    (b"hat", b'^'),
    (b"lowbar", b'_'),
    (b"tab", b'\t'),
    (b"newline", b'\n'),
    (b"nbsp", b' '),
];

/// HTML entity decoding of one round: numeric (`&#60`, `&#x3c;`, the `;` optional and
/// leading zeros allowed, as browsers read them) and the named entities above.
fn entity_round(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&b'&') {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut changed = false;
    while let Some(&b) = input.get(i) {
        if b != b'&' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = input.get(i + 1..).unwrap_or(&[]);
        if let Some(num) = rest.strip_prefix(b"#") {
            let is_hex = matches!(num.first(), Some(b'x' | b'X'));
            let digits = if is_hex {
                num.get(1..).unwrap_or(&[])
            } else {
                num
            };
            let zeros = digits.iter().take(16).take_while(|d| **d == b'0').count();
            let sig = digits.get(zeros..).unwrap_or(&[]);
            let len = sig
                .iter()
                .take(7)
                .take_while(|d| {
                    if is_hex {
                        d.is_ascii_hexdigit()
                    } else {
                        d.is_ascii_digit()
                    }
                })
                .count();
            if zeros + len > 0 {
                let code = sig.get(..len).unwrap_or(&[]).iter().fold(0u32, |acc, d| {
                    let v = if is_hex {
                        hex(*d).map_or(0, u32::from)
                    } else {
                        u32::from(d - b'0')
                    };
                    acc.saturating_mul(if is_hex { 16 } else { 10 })
                        .saturating_add(v)
                });
                push_char(&mut out, code);
                let after = 1 + 1 + usize::from(is_hex) + zeros + len;
                i += after + usize::from(input.get(i + after) == Some(&b';'));
                changed = true;
                continue;
            }
        }
        // Browsers also read the legacy `&lt`, `&gt`, `&amp`, `&quot` without their `;`.
        let named = ENTITIES.iter().find_map(|(name, c)| {
            let matches = rest
                .get(..name.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(name));
            let after = rest.get(name.len());
            if matches && after == Some(&b';') {
                Some((name.len() + 1, *c))
            } else if matches
                && matches!(*name, b"lt" | b"gt" | b"amp" | b"quot")
                && after.is_none_or(|a| !a.is_ascii_alphanumeric())
            {
                Some((name.len(), *c))
            } else {
                None
            }
        });
        if let Some((len, c)) = named {
            out.push(c);
            i += 1 + len;
            changed = true;
            continue;
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// Overlong and look-alike encodings: `C0 AE` (an overlong `.`), `C0 AF` (`/`), `E0 80 AE`,
/// a stray `C0`/`C1` before an ASCII byte (`%c0%2e`), full-width and other look-alike
/// characters of `. / \` and ASCII, and NUL bytes (removed).
/// Whether [`fold_round`] would change `input` (a scan that allocates nothing: most text
/// with these lead bytes is ordinary UTF-8).
fn would_fold(input: &[u8]) -> bool {
    input.iter().enumerate().any(|(i, &b)| {
        let c = input.get(i + 1).copied();
        let d = input.get(i + 2).copied();
        let cont = |x: Option<u8>| x.is_some_and(|x| (0x80..0xc0).contains(&x));
        match b {
            0 => true,
            0xc0 | 0xc1 => c.is_some(),
            0xc4 => matches!(c, Some(0x8a | 0x8d)),
            0xe0 => c.is_some_and(|c| (0x80..0xa0).contains(&c)) && cont(d),
            0xe2 | 0xe3 | 0xe5 | 0xee | 0xef if cont(c) && cont(d) => {
                let code = u32::from(b & 0x0f) << 12
                    | u32::from(c.unwrap_or(0) & 0x3f) << 6
                    | u32::from(d.unwrap_or(0) & 0x3f);
                fold_char(code).is_some()
            }
            _ => false,
        }
    })
}

fn fold_round(input: &[u8]) -> Option<Vec<u8>> {
    if !would_fold(input) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    let mut changed = false;
    while let Some(&b) = input.get(i) {
        let next = input.get(i + 1).copied();
        let next2 = input.get(i + 2).copied();
        match (b, next, next2) {
            (0, _, _) => {
                changed = true;
                i += 1;
            }
            // Two-byte overlong: 110000xx 10xxxxxx encodes 0..0x7f.
            (0xc0 | 0xc1, Some(c), _) if (0x80..0xc0).contains(&c) => {
                out.push(((b & 0x01) << 6) | (c & 0x3f));
                changed = true;
                i += 2;
            }
            // A lead byte before ASCII (as in `%c0%2e`): the lead byte is dropped.
            (0xc0 | 0xc1, Some(c), _) if c < 0x80 => {
                changed = true;
                i += 1;
            }
            // Three-byte overlong: E0 80..9F xx encodes 0..0x7ff.
            (0xe0, Some(c), Some(d)) if (0x80..0xa0).contains(&c) && (0x80..0xc0).contains(&d) => {
                let code = u32::from(c & 0x3f) << 6 | u32::from(d & 0x3f);
                push_char(&mut out, code);
                changed = true;
                i += 3;
            }
            (0xc4, Some(c @ (0x8a | 0x8d)), _) => {
                out.push(if c == 0x8a { b'\n' } else { b'\r' });
                changed = true;
                i += 2;
            }
            (0xe2 | 0xe3 | 0xe5 | 0xee | 0xef, Some(c), Some(d))
                if (0x80..0xc0).contains(&c) && (0x80..0xc0).contains(&d) =>
            {
                let code =
                    u32::from(b & 0x0f) << 12 | u32::from(c & 0x3f) << 6 | u32::from(d & 0x3f);
                match fold_char(code) {
                    Some(a) => {
                        out.push(a);
                        changed = true;
                    }
                    None => out.extend_from_slice(&[b, c, d]),
                }
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// Bytes that start something [`canonical`] may decode: `%`, `&`, NUL, the lead bytes of
/// overlong and look-alike UTF-8 sequences.
const ENCODED: [bool; 256] = encoded_table(false);
/// The same, with `+` (a space in form encoding).
const ENCODED_FORM: [bool; 256] = encoded_table(true);

#[allow(
    clippy::indexing_slicing,
    reason = "const fn over fixed indexes below 256; `get_mut` is not const-callable here"
)]
const fn encoded_table(plus: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let bytes: [u8; 12] = [
        b'%', b'&', 0, 0xc0, 0xc1, 0xc4, 0xe0, 0xe2, 0xe3, 0xe5, 0xee, 0xef,
    ];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t[b'+' as usize] = plus;
    t
}

/// How a place's raw value is encoded on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wire {
    /// Percent-encoded, `+` for a space (query strings, form bodies).
    Form,
    /// Percent-encoded, `+` is itself (paths, cookies, headers, JSON).
    Percent,
}

/// The canonical form of a value: percent escapes, entities and look-alikes decoded to a
/// fixpoint (at most [`MAX_ROUNDS`] rounds), NULs removed. Borrowed when nothing changed.
pub fn canonical(raw: &[u8], wire: Wire) -> Cow<'_, [u8]> {
    let raw = raw.get(..MAX_INSPECT).unwrap_or(raw);
    let plus = wire == Wire::Form;
    let table = if plus { &ENCODED_FORM } else { &ENCODED };
    let encoded =
        |v: &[u8], t: &[bool; 256]| v.iter().any(|b| t.get(usize::from(*b)) == Some(&true));
    if !encoded(raw, table) {
        return Cow::Borrowed(raw);
    }
    let mut value: Cow<'_, [u8]> = Cow::Borrowed(raw);
    for round in 0..MAX_ROUNDS {
        if round > 0 && !encoded(&value, &ENCODED) {
            break;
        }
        let mut changed = false;
        if let Some(v) = percent_round(&value, wire == Wire::Form && round == 0) {
            value = Cow::Owned(v);
            changed = true;
        }
        if let Some(v) = fold_round(&value) {
            value = Cow::Owned(v);
            changed = true;
        }
        if let Some(v) = entity_round(&value) {
            value = Cow::Owned(v);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    value
}

/// One round of percent-decoding only: how a value looked before its URL encoding.
pub fn percent_once(raw: &[u8]) -> Cow<'_, [u8]> {
    match percent_round(raw, false) {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(raw),
    }
}

/// The values of an XML document: each element's text, CDATA section and attribute value
/// (raw, entities still encoded), at most 64 of them. Comments, processing instructions
/// and markup declarations are skipped.
pub fn xml_values(xml: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    let push = |v: &[u8], out: &mut Vec<Vec<u8>>| {
        let v = v.trim_ascii();
        if !v.is_empty() && out.len() < 64 {
            out.push(v.to_vec());
        }
    };
    while let Some(rest) = xml.get(i..) {
        if rest.is_empty() || out.len() >= 64 {
            break;
        }
        let Some(lt) = rest.iter().position(|b| *b == b'<') else {
            push(rest, &mut out);
            break;
        };
        push(rest.get(..lt).unwrap_or(&[]), &mut out);
        let tag = rest.get(lt..).unwrap_or(&[]);
        let (skip, body): (usize, Option<&[u8]>) = if let Some(c) = tag.strip_prefix(b"<![CDATA[") {
            let end = c.windows(3).position(|w| w == b"]]>").unwrap_or(c.len());
            (9 + end + 3, c.get(..end))
        } else if let Some(c) = tag.strip_prefix(b"<!--") {
            let end = c.windows(3).position(|w| w == b"-->").unwrap_or(c.len());
            (4 + end + 3, None)
        } else {
            let end = tag.iter().position(|b| *b == b'>').unwrap_or(tag.len());
            let inside = tag.get(..end).unwrap_or(&[]);
            if !inside.starts_with(b"<?") && !inside.starts_with(b"<!") {
                // Attribute values: what follows `="` or `='` up to the same quote.
                let mut k = 0;
                while let Some(p) = inside
                    .get(k..)
                    .and_then(|r| r.iter().position(|b| *b == b'='))
                {
                    let at = k + p + 1;
                    let q = inside.get(at).copied();
                    if let Some(q @ (b'"' | b'\'')) = q {
                        let val = inside.get(at + 1..).unwrap_or(&[]);
                        let close = val.iter().position(|b| *b == q).unwrap_or(val.len());
                        push(val.get(..close).unwrap_or(&[]), &mut out);
                        k = at + 1 + close + 1;
                    } else {
                        k = at;
                    }
                }
            }
            (end + 1, None)
        };
        if let Some(b) = body {
            push(b, &mut out);
        }
        i += lt + skip;
    }
    out
}

/// The cheap half of [`base64_text`]: one token of the base64 alphabets, 12 bytes or more.
pub fn base64_shaped(value: &[u8]) -> bool {
    let v = value.trim_ascii();
    v.len() >= 12
        && v.len() <= MAX_INSPECT
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
        && v.iter().any(u8::is_ascii_uppercase)
        && v.iter().any(u8::is_ascii_lowercase)
}

/// A value that is one base64 token (standard or URL alphabet, at least 12 characters),
/// decoded, when what it decodes to is printable ASCII text: an attacker's way to slip a
/// payload past matching. Tokens, hashes and binary blobs decode to bytes and are left.
pub fn base64_text(value: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    if !base64_shaped(value) {
        return None;
    }
    let v = value.trim_ascii();
    if v.len() < 12
        || v.len() > MAX_INSPECT
        || !v
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
    {
        return None;
    }
    // Words and identifiers are not base64 values: a real one mixes cases and digits.
    let (upper, lower, digit) = v.iter().fold((0, 0, 0), |(u, l, d), b| {
        (
            u + usize::from(b.is_ascii_uppercase()),
            l + usize::from(b.is_ascii_lowercase()),
            d + usize::from(b.is_ascii_digit()),
        )
    });
    if upper == 0 || lower == 0 || upper + lower + digit < v.len() * 3 / 4 {
        return None;
    }
    let body: Vec<u8> = v
        .iter()
        .copied()
        .filter(|b| *b != b'=')
        .map(|b| match b {
            b'-' => b'+',
            b'_' => b'/',
            b => b,
        })
        .collect();
    let usable = body.len() - body.len() % 4 * usize::from(body.len() % 4 == 1);
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let out = engine.decode(body.get(..usable)?).ok()?;
    let printable = out
        .iter()
        .filter(|b| (0x20..0x7f).contains(*b) || matches!(b, b'\t' | b'\n' | b'\r'))
        .count();
    (out.len() >= 6 && printable * 20 >= out.len() * 19).then_some(out)
}

/// Backslash escapes decoded as JavaScript and CSS read them (`\u0061`, `\x61`, `\141`,
/// `\61 `), then the canonical form again (escapes may hide percent escapes).
pub fn unescape_js(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&b'\\') {
        return None;
    }
    // JavaScript escapes (`\u0061`, `\x61`) or CSS ones (`\61 `, `\000061`): they read the
    // same digits differently, so one of the two.
    let js_like = input
        .windows(2)
        .any(|w| matches!(w, [b'\\', b'u' | b'x' | b'U']));
    let decoded = if js_like {
        Transformation::JS_DECODE.apply(input)
    } else {
        Transformation::CSS_DECODE.apply(input)
    };
    let again = canonical(&decoded, Wire::Percent);
    (again.as_ref() != input).then(|| again.into_owned())
}

/// SQL-ish normal form: comments (`/* */`, MySQL's `/*! */` keeps its content) become a
/// space, whitespace runs one space, ASCII lower case.
pub fn sql_form(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'/' && input.get(i + 1) == Some(&b'*') {
            // `/*!50000select*/` is executed by MySQL: keep what is inside.
            if input.get(i + 2) == Some(&b'!') {
                let digits = input
                    .get(i + 3..)
                    .unwrap_or(&[])
                    .iter()
                    .take(5)
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                out.push(b' ');
                i += 3 + digits;
                continue;
            }
            let body = input.get(i + 2..).unwrap_or(&[]);
            let end = body.windows(2).position(|w| w == b"*/");
            out.push(b' ');
            i = match end {
                Some(e) => i + 4 + e,
                None => input.len(),
            };
            continue;
        }
        if b == b'*' && input.get(i + 1) == Some(&b'/') {
            out.push(b' ');
            i += 2;
            continue;
        }
        let c = if b.is_ascii_whitespace() || b == 0x0b {
            b' '
        } else {
            b.to_ascii_lowercase()
        };
        if !(c == b' ' && out.last() == Some(&b' ')) {
            out.push(c);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn c(s: &str, wire: Wire) -> String {
        String::from_utf8_lossy(&canonical(s.as_bytes(), wire)).into_owned()
    }

    #[test]
    fn decodes_to_fixpoint() {
        assert_eq!(c("%252e%252e%252f", Wire::Percent), "../");
        assert_eq!(c("%%32%65%%32%65", Wire::Percent), "..");
        assert_eq!(c("a+b%20c", Wire::Form), "a b c");
        assert_eq!(c("a+b", Wire::Percent), "a+b");
        assert_eq!(c("%c0%ae%c0%ae%c0%af", Wire::Percent), "../");
        assert_eq!(c("%c0%2e%c0%2e", Wire::Percent), "..");
        assert_eq!(c("%uff0e%uff0e%u2216", Wire::Percent), "..\\");
        assert_eq!(
            c(
                "&lt;svg&#x20;onload&equals;alert&lpar;1&rpar;&gt;",
                Wire::Percent
            ),
            "<svg onload=alert(1)>"
        );
        assert_eq!(c("&#0000060;", Wire::Percent), "<");
        assert_eq!(c("a\0b", Wire::Percent), "ab");
        assert_eq!(c("Crème brûlée 50%", Wire::Percent), "Crème brûlée 50%");
        assert_eq!(c("日本語", Wire::Percent), "日本語");
    }

    #[test]
    fn xml_values_are_extracted() {
        let v = xml_values(b"<?xml version=\"1.0\"?>\n<o id=\"7\" n='x y'><!-- c --><q>a &lt;b</q><![CDATA[<svg/onload=1>]]><e/></o>");
        let v: Vec<String> = v
            .iter()
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect();
        assert_eq!(v, ["7", "x y", "a &lt;b", "<svg/onload=1>"]);
    }

    #[test]
    fn sql_normal_form() {
        assert_eq!(
            sql_form(b"UNION/**/SELECT/*!50000password*/\t\tFROM"),
            b"union select password from"
        );
    }
}
