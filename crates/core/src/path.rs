//! The canonical request path: the one form of a path that routing, policies, the WAF and
//! the upstream all see.
//!
//! A path is a `/`-separated list of segments, each percent-decoded on its own. Routing
//! matches decoded segments, method ARNs name them, and the `http_proxy` integration
//! re-encodes each one for the upstream. That only means the same thing everywhere if a
//! segment can never turn into structure somewhere else, so [`CanonicalPath::parse`]
//! refuses, before any stage runs:
//!
//! 1. a path that does not start with `/`;
//! 2. a `%` not followed by two hex digits (each reader would guess differently);
//! 3. a segment that is not UTF-8 once decoded;
//! 4. a decoded `/` or `\` inside a segment (`%2F`, `%5C`, or a raw `\`): one segment to
//!    routing and policies, two to an upstream that decodes them (nginx does), so a Deny on a
//!    prefix could be walked around and `..%2F` could climb out of an integration's prefix;
//! 5. a control character (U+0000–U+001F, U+007F) in a decoded segment;
//! 6. a segment that decodes to `.` or `..`, or starts with `.;` or `..;` (servers that strip
//!    `;` parameters resolve those as dot segments).
//!
//! What passes keeps its segment boundaries in every reader, and no reader can resolve a dot
//! segment in it. The checks read the path once and allocate only for segments that hold a
//! `%` escape.

use std::borrow::Cow;
use std::fmt;

/// A request path that passed [`CanonicalPath::parse`]. Only this type reaches the router
/// and the method ARN builder, so an unchecked path cannot be routed or authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanonicalPath<'a> {
    raw: &'a str,
}

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A `%` is not followed by two hex digits.
    BadEscape,
    /// A segment is not UTF-8 once decoded.
    NotUtf8,
    /// A segment holds a decoded `/` or `\`.
    Separator,
    /// A segment holds a control character.
    Control,
    /// A segment is `.` or `..` (possibly encoded, possibly followed by `;` parameters).
    DotSegment,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAbsolute => "path does not start with `/`",
            Self::BadEscape => "path has a `%` not followed by two hex digits",
            Self::NotUtf8 => "path is not valid UTF-8 after decoding",
            Self::Separator => "path segment holds an encoded `/` or a `\\`",
            Self::Control => "path segment holds a control character",
            Self::DotSegment => "path has a `.` or `..` segment",
        })
    }
}

impl std::error::Error for PathError {}

impl<'a> CanonicalPath<'a> {
    /// Checks `raw` (the request target's path, still percent-encoded, without the query).
    pub fn parse(raw: &'a str) -> Result<Self, PathError> {
        let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
        for seg in rest.split('/') {
            if seg.contains('%') {
                check_segment(&decode_bytes(seg)?)?;
            } else {
                check_segment(seg.as_bytes())?;
            }
        }
        Ok(Self { raw })
    }

    /// The path as received (percent-encoded), known to be canonical.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The path without its first `n` segments, still canonical (every segment of it passed
    /// the checks already): `/prod/pets/1` without one segment is `/pets/1`; nothing left is
    /// `/`. `None` when the path has fewer than `n` segments.
    pub fn strip_segments(&self, n: usize) -> Option<CanonicalPath<'a>> {
        let mut rest = self.raw;
        for _ in 0..n {
            let after = rest.get(1..)?;
            if after.is_empty() {
                return None;
            }
            rest = match after.find('/') {
                Some(i) => after.get(i..)?,
                None => "",
            };
        }
        Some(Self {
            raw: if rest.is_empty() { "/" } else { rest },
        })
    }

    /// The path's segments after the leading `/`, each decoded. `/` yields one empty segment.
    pub fn segments(&self) -> impl Iterator<Item = Cow<'a, str>> + 'a {
        let rest = self.raw.get(1..).unwrap_or("");
        rest.split('/').map(decode_segment)
    }
}

impl fmt::Display for CanonicalPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Decodes one segment of a [`CanonicalPath`]: borrowed unless it holds an escape. Meant for
/// segments of a path that passed [`CanonicalPath::parse`]; anything else that does not
/// decode is returned as it is.
pub fn decode_segment(seg: &str) -> Cow<'_, str> {
    if !seg.contains('%') {
        return Cow::Borrowed(seg);
    }
    match decode_bytes(seg).map(String::from_utf8) {
        Ok(Ok(s)) => Cow::Owned(s),
        _ => Cow::Borrowed(seg),
    }
}

fn decode_bytes(seg: &str) -> Result<Vec<u8>, PathError> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = |j: usize| {
                bytes
                    .get(j)
                    .and_then(|c| char::from(*c).to_digit(16))
                    .and_then(|d| u8::try_from(d).ok())
            };
            let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) else {
                return Err(PathError::BadEscape);
            };
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

fn check_segment(bytes: &[u8]) -> Result<(), PathError> {
    for &b in bytes {
        if b == b'/' || b == b'\\' {
            return Err(PathError::Separator);
        }
        if b < 0x20 || b == 0x7f {
            return Err(PathError::Control);
        }
    }
    let head = bytes.split(|b| *b == b';').next().unwrap_or(bytes);
    if head == b"." || head == b".." {
        return Err(PathError::DotSegment);
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(PathError::NotUtf8);
    }
    Ok(())
}

#[cfg(test)]
mod strip_tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::CanonicalPath;

    #[test]
    fn stripping_keeps_segment_boundaries() {
        let p = CanonicalPath::parse("/prod/pets/1").unwrap();
        assert_eq!(p.strip_segments(0).unwrap().as_str(), "/prod/pets/1");
        assert_eq!(p.strip_segments(1).unwrap().as_str(), "/pets/1");
        assert_eq!(p.strip_segments(2).unwrap().as_str(), "/1");
        assert_eq!(p.strip_segments(3).unwrap().as_str(), "/");
        assert!(p.strip_segments(4).is_none());
        let root = CanonicalPath::parse("/prod").unwrap();
        assert_eq!(root.strip_segments(1).unwrap().as_str(), "/");
        let slash = CanonicalPath::parse("/prod/").unwrap();
        assert_eq!(slash.strip_segments(1).unwrap().as_str(), "/");
        assert!(
            CanonicalPath::parse("/")
                .unwrap()
                .strip_segments(1)
                .is_none()
        );
        let enc = CanonicalPath::parse("/a%20b/c").unwrap();
        assert_eq!(enc.strip_segments(1).unwrap().as_str(), "/c");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_pass() {
        for p in [
            "/",
            "/pets",
            "/pets/",
            "/pets/42",
            "/files/a/b/c.txt",
            "/a%20b/%C3%A9t%C3%A9",
            "/v1.2/..x/x../...",
            "/a;b/c",
            "//double",
            "/%2e%2e%2e",
            "/%252F",
        ] {
            assert!(CanonicalPath::parse(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn traversal_shapes_are_refused() {
        let cases: &[(&str, PathError)] = &[
            ("pets", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
            ("/pub/..%2Fadmin%2Fsecret", PathError::Separator),
            ("/pub/x%2F..%2F..%2Fetc%2Fpasswd", PathError::Separator),
            ("/pub/%2E%2E%2Fadmin", PathError::Separator),
            ("/pub/%2e%2e/admin", PathError::DotSegment),
            ("/pub/../admin", PathError::DotSegment),
            ("/pub/./admin", PathError::DotSegment),
            ("/pub/%2E", PathError::DotSegment),
            ("/pub/..;/admin", PathError::DotSegment),
            ("/pub/.;x/admin", PathError::DotSegment),
            ("/pub/..%5Cadmin", PathError::Separator),
            ("/pub/..\\admin", PathError::Separator),
            ("/pub/a%2fb", PathError::Separator),
            ("/pub/a%00b", PathError::Control),
            ("/pub/a%0D%0Ab", PathError::Control),
            ("/pub/a%7Fb", PathError::Control),
            ("/pub/%zz", PathError::BadEscape),
            ("/pub/%4", PathError::BadEscape),
            ("/pub/%", PathError::BadEscape),
            ("/pub/%FF", PathError::NotUtf8),
            ("/pub/%C3", PathError::NotUtf8),
        ];
        for (p, want) in cases {
            assert_eq!(CanonicalPath::parse(p), Err(*want), "{p}");
        }
    }

    #[test]
    fn segments_are_decoded_one_by_one() {
        let p = CanonicalPath::parse("/a%20b/c/%C3%A9").unwrap();
        let segs: Vec<_> = p.segments().collect();
        assert_eq!(segs, ["a b", "c", "é"]);
        assert_eq!(p.as_str(), "/a%20b/c/%C3%A9");
    }
}
