//! Cross-site scripting: libinjection's HTML5 tokenizer, plus patterns for script that
//! needs no tag (event handlers that break out of an attribute, `javascript:` URLs,
//! calls of the functions a probe uses).

use std::sync::LazyLock;

use super::prefilter::Rules;
use super::{Finding, Form, Place, Sensitivity, Subject, Threat};

static RULES: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        ("js-call", r"(^|[^\w.$])(alert|prompt|confirm|eval)\("),
        (
            "script-tag",
            r"<\s*/?\s*(script|iframe|frame|frameset|object|embed|applet|base|xss|vmlframe|import|isindex|bgsound|layer|ilayer|xml|blink|meta\s[^>]*http-equiv|link\s[^>]*rel\s*=\s*['\x22]?import)\b",
        ),
        (
            "svg-math",
            r"<\s*(svg|math)\b[^>]*(\bon[a-z]{3,}\s*=|>\s*<\s*(script|set|animate|a\b|handler))",
        ),
        (
            "tag-event-handler",
            r"<\s*[a-z!?/][^<>]*[\s/\x22'`;]on[a-z]{3,}\s*=",
        ),
        (
            "tag-event-handler",
            r"<\s*[a-z][\w:-]*[\s/].*?[\s/\x22'`]on[a-z]{3,}\s*=",
        ),
        ("legacy-import", r"<\?\s*(import|xml:namespace)\b"),
        (
            "script-url",
            r"(href|src|action|formaction|data|xlink:href|background|dynsrc|lowsrc|poster|srcdoc|from|to|values|by|code|codebase|content|style)\s*=\s*['\x22`]?\s*(javascript|vbscript|livescript|data\s*:\s*text/html|data\s*:\s*image/svg)",
        ),
        (
            "script-scheme",
            r"(^|[\s\x22'`=(,;:<>\[/\\])(javascript|vbscript|livescript|jscript)\s*:\s*([\w.$\[\]'\x22]*\s*[(`=]|/|%|&#|\\|\{|\[|'|\x22|void\b)",
        ),
        (
            "data-html",
            r"\bdata\s*:\s*(text/html|application/x-shockwave|image/svg\+xml)\s*[;,]",
        ),
        (
            "css-expression",
            r"(expression|-moz-binding|behavior)\s*[(:]\s*(url|\w+\s*\(|['\x22]?#|['\x22]?javascript)|url\s*\(\s*['\x22]?\s*javascript:|@import\s",
        ),
        (
            "style-tag",
            r"<\s*style\b[^>]*>.*(expression|javascript|@import|behavior|binding)",
        ),
        (
            "breakout-event-handler",
            r"(^|[\x22'`/\s;])\s*on(load|error|mouseover|mouseenter|mouseout|mousedown|mouseup|mousemove|focus|focusin|blur|click|dblclick|contextmenu|toggle|begin|end|start|finish|animationstart|animationend|transitionend|pageshow|hashchange|input|change|submit|keydown|keyup|keypress|wheel|scroll|resize|pointerover|pointerdown|pointerenter|auxclick|drag|dragstart|drop|copy|paste|cut|beforeprint|afterprint|message|popstate|search|select|play|canplay|loadstart|readystatechange|propertychange|beforescriptexecute|afterscriptexecute|unload|beforeunload|invalid|reset|show|repeat|activate|filterchange|playing|timeupdate|volumechange|loadeddata|durationchange|seeked|seeking|stalled|suspend|waiting|ended|pause|emptied|abort|touchstart|touchend|touchmove|mousewheel|storage|online|offline|formdata)\s*=\s*[^\s&]",
        ),
        (
            "js-call",
            r"(^|[^\w.$])(alert|prompt|confirm|print|console\.log|write|writeln)\s*(\(\s*(\d|['\x22`/]|document|window|this|top|self|parent|string|\)|[a-z_$][\w.$]*\s*\))|`|&lpar)",
        ),
        (
            "js-call",
            r"(^|[^\w.$])(eval|settimeout|setinterval|execscript|function|atob|unescape|decodeuri(component)?)\s*\(\s*(['\x22`]|atob|unescape|string|location|name|document|window|this|top|\w+\s*\()",
        ),
        (
            "js-call",
            r"string\s*\.\s*fromcharcode\s*\(|\.constructor\s*\(|\bconstructor\s*\.\s*constructor|\[\s*['\x22]constructor['\x22]\s*\]",
        ),
        (
            "js-sink",
            r"\bdocument\s*\.\s*(cookie|domain|write|writeln|location|body\.innerhtml|createelement)\b|\bwindow\s*\.\s*(location|open|name|eval)\b|\.innerhtml\s*=|\blocation\s*\.\s*(href|hash|replace|assign)\s*[=(]|\blocation\s*=\s*['\x22]?(javascript|data|//)",
        ),
        (
            "js-reference",
            r"[(\[,=:!&|]\s*(alert|prompt|confirm|eval)\s*[)\],]|\(\s*(alert|prompt|confirm)\s*\)\s*\(|\b(top|self|parent|window|this|frames|globalthis)\s*\[\s*['\x22`]|\b(top|self|parent|window|frames|globalthis)\s*\[[^\]]+\]\s*\(",
        ),
        (
            "js-breakout",
            r"['\x22`]\s*[-+*/%&|^;,]\s*(alert|prompt|confirm|eval|top|self|window|document)\b",
        ),
        (
            "js-breakout",
            r"</\s*script\s*>|<!--\s*<\s*script|-->\s*<\s*(script|svg|img|iframe)",
        ),
        (
            "tag-js-attribute",
            r"<\s*(img|image|video|audio|source|input|body|iframe|object|embed|svg|details|marquee|form|button|isindex|a|div|input|textarea|select|keygen|video|html|table|td|style|link)\b[^>]*\b(src|href|action|formaction|data|background|poster)\s*=\s*['\x22`]?\s*[a-z]*\s*:\s*\w+\s*\(",
        ),
    ])
});

/// Event handler names that are XSS probes on their own, at HIGH sensitivity.
fn bare_event_handler(lower: &[u8]) -> bool {
    let t = lower.trim_ascii();
    (t.starts_with(b"on")
        && t.len() >= 6
        && t.len() <= 24
        && t.iter().all(u8::is_ascii_alphabetic)
        && super::prefilter::scan(t) & Threat::Xss.bit() != 0)
        || t == b"fscommand"
        || t == b"seeksegmenttime"
}

/// A value that is nothing but an encoded `<`: a probe for whether the application decodes
/// and reflects it. At LOW only in the encodings nobody types (an entity with padding
/// zeros or without its `;`, `\x3c`, `\u003c`, `%u003c`); at HIGH in any encoding.
fn lone_angle_probe(raw: &[u8], canon: &[u8], sensitivity: Sensitivity) -> bool {
    let unwrapped = super::decode::percent_once(raw.trim_ascii());
    let raw = unwrapped.as_ref();
    if canon.trim_ascii() != b"<" && decoded_escape(canon.trim_ascii()) != Some(b'<') {
        return false;
    }
    if raw == b"<" {
        return false;
    }
    if sensitivity == Sensitivity::High {
        return true;
    }
    // The ways a browser or form encodes a typed `<`; anything else is a probe's choice.
    !matches!(
        raw,
        b"%3C" | b"%3c" | b"&lt;" | b"&#60;" | b"&#x3c;" | b"&#x3C;"
    )
}

/// `\x3c`, `\u003c`: the byte a lone JavaScript escape stands for.
fn decoded_escape(raw: &[u8]) -> Option<u8> {
    let v = crate::transform::Transformation::JS_DECODE.apply(raw);
    match v.as_ref() {
        [b] if raw.len() > 1 => Some(*b),
        _ => None,
    }
}

fn lower_owned(v: &[u8]) -> Vec<u8> {
    v.to_ascii_lowercase()
}

/// Removes string concatenations that split a name (`"al"+"ert"`) and control characters
/// that browsers ignore inside a scheme (`java\tscript:`).
fn squeeze(lower: &[u8]) -> Option<Vec<u8>> {
    let has_concat = lower
        .windows(3)
        .any(|w| matches!(w, [b'\'' | b'"' | b'`', b'+', b'\'' | b'"' | b'`']))
        || lower
            .windows(5)
            .any(|w| matches!(w, [b'\'' | b'"', b' ', b'+', b' ', b'\'' | b'"']));
    let has_ctl = lower
        .iter()
        .any(|b| matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c));
    if !has_concat && !has_ctl {
        return None;
    }
    let mut out = Vec::with_capacity(lower.len());
    let mut i = 0;
    while let Some(&b) = lower.get(i) {
        if matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            i += 1;
            continue;
        }
        if matches!(b, b'\'' | b'"' | b'`') {
            let rest = lower.get(i + 1..).unwrap_or(&[]);
            let ws = rest.iter().take_while(|c| **c == b' ').count();
            if rest.get(ws) == Some(&b'+') {
                let ws2 = rest
                    .get(ws + 1..)
                    .unwrap_or(&[])
                    .iter()
                    .take_while(|c| **c == b' ')
                    .count();
                if matches!(rest.get(ws + 1 + ws2), Some(b'\'' | b'"' | b'`')) {
                    i += 1 + ws + 1 + ws2 + 1;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    Some(out)
}

fn check(text: &[u8], lower: &[u8], sensitivity: Sensitivity) -> Option<&'static str> {
    if let Some(rule) = RULES.first(lower) {
        return Some(rule);
    }
    if let Some(sq) = squeeze(lower)
        && let Some(rule) = RULES.first(&sq)
    {
        return Some(rule);
    }
    if libinjection(text, sensitivity) {
        return Some("libinjection");
    }
    None
}

/// libinjection's verdict, confirmed at LOW: it flags some markup that runs nothing
/// (`<a href=...>` style attributes on harmless tags), so LOW wants a tag, an attribute
/// or a scheme that executes script.
fn libinjection(text: &[u8], sensitivity: Sensitivity) -> bool {
    if !text
        .iter()
        .any(|b| matches!(b, b'<' | b'>' | b'"' | b'\'' | b'`' | b'=' | b':'))
    {
        return false;
    }
    if !libinjectionrs::detect_xss(text).is_injection() {
        return false;
    }
    match sensitivity {
        Sensitivity::High => true,
        Sensitivity::Low => {
            static CONFIRM: LazyLock<Rules> = LazyLock::new(|| {
                Rules::new(&[(
                    "confirm",
                    r"\bon[a-z]{3,}\s*=|(javascript|vbscript|livescript)\s*:|<\s*/?\s*(script|iframe|object|embed|applet|svg|math|base|meta|link|form|frame|frameset|isindex|xss|import|style|xml|x|animate|set|handler|listener|bgsound|layer|brute)\b|\bsrcdoc\s*=|\bformaction\s*=|expression\s*\(|url\s*\(|\bstyle\s*=[^>]*(expression|javascript|behavior|binding|url\s*\()",
                )])
            });
            CONFIRM.first(&text.to_ascii_lowercase()).is_some()
        }
    }
}

/// The `CrossSiteScripting_*` detector.
pub fn detect(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    let mk = |rule, form| {
        Some(Finding::new(
            Threat::Xss,
            rule,
            form,
            "cross-site scripting",
        ))
    };
    // An XML document's values are inspected one by one; as a whole it is markup, and
    // libinjection at HIGH would take any of it for an injection.
    let xml = s.place() == Place::BodyRaw && s.raw().trim_ascii_start().starts_with(b"<");
    let whole = if xml { Sensitivity::Low } else { sensitivity };
    if let Some(rule) = check(s.canon(), s.lower(), whole) {
        return mk(rule, Form::Decoded);
    }
    if let Some(u) = s.unescaped()
        && let Some(rule) = check(u, &lower_owned(u), sensitivity)
    {
        return mk(rule, Form::Unescaped);
    }
    let last_segment = match s.place() {
        Place::UriPath => s.lower().rsplit(|b| *b == b'/').next().unwrap_or(&[]),
        _ => s.lower(),
    };
    if !s.place().is_key() && bare_event_handler(last_segment) {
        return mk("event-handler-name", Form::Decoded);
    }
    if lone_angle_probe(s.raw(), s.canon(), sensitivity) {
        return mk("encoded-angle-probe", Form::Decoded);
    }
    None
}

/// `XssMatchStatement` on an already transformed value.
pub fn match_statement(input: &[u8]) -> bool {
    check(input, &input.to_ascii_lowercase(), Sensitivity::Low).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_compile() {
        assert!(RULES.rejected().is_empty(), "{:?}", RULES.rejected());
    }
}
