//! The detectors behind `SqliMatchStatement`, `XssMatchStatement` and the managed rule
//! groups' own statements.

use crate::acl::{Detector, Sensitivity};
use crate::transform::Transformation;

/// Values longer than this are inspected in their first this-many bytes by the tokenizers
/// (their cost is linear, this bounds it per value).
const TOKENIZE_MAX: usize = 64 * 1024;

/// SQL injection in an already transformed value (`SqliMatchStatement`).
pub fn sqli(value: &[u8], sensitivity: Sensitivity) -> bool {
    let value = value.get(..TOKENIZE_MAX).unwrap_or(value);
    if libinjectionrs::detect_sqli(value).is_injection() {
        return true;
    }
    sensitivity == Sensitivity::High
        && (value.contains(&b'/') || value.contains(&b'#') || value.contains(&b'-'))
        && libinjectionrs::detect_sqli(&Transformation::REPLACE_COMMENTS.apply(value))
            .is_injection()
}

/// Cross-site scripting in an already transformed value (`XssMatchStatement`).
pub fn xss(value: &[u8]) -> bool {
    let value = value.get(..TOKENIZE_MAX).unwrap_or(value);
    libinjectionrs::detect_xss(value).is_injection()
}

/// A managed rule's detector on one value: why it matched, or `None`.
pub fn detect(detector: Detector, value: &[u8]) -> Option<&'static str> {
    match detector {
        Detector::Sqli(s) => sqli(value, s).then_some("SQL injection"),
        Detector::Xss => xss(value).then_some("cross-site scripting"),
    }
}
