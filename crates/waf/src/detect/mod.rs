//! The detection engine behind the built-in managed rule groups: attack detectors for a
//! value that sits in a known place of a request (a query argument, a JSON string, a
//! header, ...), with AWS WAF's SQL injection and XSS match semantics on top.
//!
//! ```text
//! raw value --canonical decoding (bounded)--> prefilter (one Aho-Corasick pass)
//!     --> per threat, only when the prefilter saw something: confirmation (tokenizer,
//!         patterns, structure checks that look at the place) --> Option<Finding>
//! ```
//!
//! A value is decoded once ([`Subject`]) and asked about any number of threats; the
//! one-shot [`detect`] does the same for one threat. Benign values cost one pass of the
//! prefilter over their decoded bytes; the expensive checks (libinjection's tokenizer,
//! regular expressions) run only on values the prefilter finds suspicious.
//!
//! A [`Finding`] names the detector rule that matched and on which decoded form, never
//! the matched text (a value may be a secret).

mod decode;
mod misc;
mod path;
mod prefilter;
mod shell;
mod sql;
#[cfg(test)]
mod tests;
mod xss;

use std::borrow::Cow;
use std::cell::OnceCell;

pub use decode::MAX_INSPECT;
use decode::Wire;

/// A class of attack a detector looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Threat {
    /// SQL injection, libinjection-class (AWS `SQLi_*`).
    Sqli,
    /// SQL injection patterns beyond the tokenizer: UNION/stacked queries, time-based
    /// probes, database-specific functions (AWS `SQLiExtendedPatterns_*`).
    SqliExtended,
    /// Cross-site scripting (AWS `CrossSiteScripting_*`).
    Xss,
    /// Path traversal and local file inclusion: `../`, sensitive files, `php://filter`
    /// and other wrappers (AWS `GenericLFI_*`).
    Lfi,
    /// Remote file inclusion: a URL to a numeric IPv4 host, or one that ends in a bare
    /// `?` or NUL to cut off what the application appends (AWS `GenericRFI_*`).
    Rfi,
    /// Server-side request forgery to cloud metadata services, in any IP notation
    /// (AWS `EC2MetaDataSSRF_*`).
    SsrfMetadata,
    /// Server-side request forgery to the server itself or its network: URL schemes that
    /// only reach internal services (`gopher:`, `dict:`, `file:`, `jar:`, `netdoc:`),
    /// loopback written in odd notations (`0`, `127.1`, `2130706433`, `[::]`, names that
    /// resolve to it), loopback ports of internal services (Docker, etcd, Consul, kubelet,
    /// Redis, ...). `http://localhost:3000/callback` alone is not flagged.
    Ssrf,
    /// Log4Shell-style JNDI lookups, obfuscated or not (AWS `Log4JRCE_*`).
    Log4j,
    /// Java serialized objects and gadget classes (AWS `JavaDeserializationRCE_*`).
    JavaDeserialization,
    /// Unix shell command injection (AWS `UNIXShellCommandsVariables_*`).
    UnixCommand,
    /// Windows `cmd.exe` command injection (AWS `WindowsShellCommands_*`).
    WindowsCommand,
    /// PowerShell command injection (AWS `PowerShellCommands_*`).
    PowerShell,
    /// PHP code injection: superglobals and high-risk functions (AWS
    /// `PHPHighRiskMethodsVariables_*`).
    Php,
    /// A file extension that should not be served (backups, logs, configuration) (AWS
    /// `RestrictedExtensions_*`).
    RestrictedExtension,
    /// An administration path (AWS `AdminProtection_URIPATH`).
    AdminPath,
    /// A path into a web application's private files (`WEB-INF`, `.git`, ...) (AWS
    /// `ExploitablePaths_URIPATH`).
    ExploitablePath,
    /// Linux system files (`/etc/passwd`, `/proc/self/environ`), climbed to or named (AWS
    /// `LFI_*` of the Linux rule group).
    LinuxFile,
    /// A scanner's or attack tool's User-Agent (AWS `UserAgent_BadBots_HEADER`).
    BadBot,
    /// Server-side template injection.
    Ssti,
    /// NoSQL (MongoDB operator) injection.
    NoSqli,
    /// LDAP filter injection.
    Ldap,
    /// JavaScript prototype pollution (`__proto__`, `constructor.prototype`).
    PrototypePollution,
    /// An obfuscated open-redirect target (scheme confusion, backslashes, `@` userinfo
    /// tricks, numeric hosts). A plain URL is never flagged: only an allow-list can tell
    /// a legitimate redirect target from an attacker's.
    OpenRedirect,
    /// CR/LF injection that would add a header or split a response.
    Crlf,
    /// XML external entities (`<!ENTITY ... SYSTEM`).
    Xxe,
}

impl Threat {
    /// Every threat.
    pub const ALL: [Threat; 25] = [
        Self::Sqli,
        Self::SqliExtended,
        Self::Xss,
        Self::Lfi,
        Self::Rfi,
        Self::SsrfMetadata,
        Self::Ssrf,
        Self::Log4j,
        Self::JavaDeserialization,
        Self::UnixCommand,
        Self::WindowsCommand,
        Self::PowerShell,
        Self::Php,
        Self::RestrictedExtension,
        Self::AdminPath,
        Self::ExploitablePath,
        Self::LinuxFile,
        Self::BadBot,
        Self::Ssti,
        Self::NoSqli,
        Self::Ldap,
        Self::PrototypePollution,
        Self::OpenRedirect,
        Self::Crlf,
        Self::Xxe,
    ];

    /// A short stable name (`"sqli"`, `"xss"`, ...), for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqli => "sqli",
            Self::SqliExtended => "sqli-extended",
            Self::Xss => "xss",
            Self::Lfi => "lfi",
            Self::Rfi => "rfi",
            Self::SsrfMetadata => "ssrf-metadata",
            Self::Ssrf => "ssrf",
            Self::Log4j => "log4j",
            Self::JavaDeserialization => "java-deserialization",
            Self::UnixCommand => "unix-command",
            Self::WindowsCommand => "windows-command",
            Self::PowerShell => "powershell",
            Self::Php => "php",
            Self::RestrictedExtension => "restricted-extension",
            Self::AdminPath => "admin-path",
            Self::ExploitablePath => "exploitable-path",
            Self::LinuxFile => "linux-file",
            Self::BadBot => "bad-bot",
            Self::Ssti => "ssti",
            Self::NoSqli => "nosqli",
            Self::Ldap => "ldap",
            Self::PrototypePollution => "prototype-pollution",
            Self::OpenRedirect => "open-redirect",
            Self::Crlf => "crlf",
            Self::Xxe => "xxe",
        }
    }

    /// The bits of `threats`, as the prefilter sets them.
    pub fn mask(threats: &[Threat]) -> u32 {
        threats.iter().fold(0, |m, t| m | t.bit())
    }

    fn bit(self) -> u32 {
        1u32 << (self as u32)
    }
}

/// Where in the request a value sits. It decides how the raw value is decoded and how
/// suspicious a given shape is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// The URI path, raw (not percent-decoded).
    UriPath,
    /// The whole raw query string (`a=1&b=2`).
    QueryString,
    /// One query argument's value, raw.
    QueryArg,
    /// One query argument's name, raw.
    QueryArgName,
    /// A header's value (other than User-Agent and Cookie).
    Header,
    /// The User-Agent header.
    UserAgent,
    /// A cookie's value (or the whole Cookie header).
    Cookie,
    /// A form field's value (`application/x-www-form-urlencoded`), raw.
    FormValue,
    /// A JSON string value, after JSON unescaping.
    JsonString,
    /// A JSON object key, after JSON unescaping.
    JsonKey,
    /// A body that is none of the above: XML, a multipart part, text.
    BodyRaw,
}

impl Place {
    fn wire(self) -> Wire {
        match self {
            Self::QueryString | Self::QueryArg | Self::QueryArgName | Self::FormValue => Wire::Form,
            _ => Wire::Percent,
        }
    }

    /// Whether the value is a name rather than a value (keys are short identifiers).
    fn is_key(self) -> bool {
        matches!(self, Self::QueryArgName | Self::JsonKey)
    }

    /// Whether free text (sentences, descriptions, comments) is normal here.
    fn is_text(self) -> bool {
        matches!(self, Self::JsonString | Self::FormValue | Self::BodyRaw)
    }
}

/// AWS WAF's sensitivity level for SQL injection matching, used by every detector here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sensitivity {
    /// Fewer false positives (AWS WAF's default).
    #[default]
    Low,
    /// More detection, more false positives.
    High,
}

/// Which form of the value a detector matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// The value as it was in the request.
    Raw,
    /// Percent escapes, entities and look-alikes decoded.
    Decoded,
    /// Also JavaScript/CSS backslash escapes decoded.
    Unescaped,
    /// One segment of a path, decoded.
    PathSegment,
    /// A base64 value, decoded.
    Base64,
    /// An XML element's text, CDATA section or attribute value, decoded.
    XmlValue,
}

/// Why a value was flagged: the threat, the detector rule, the decoded form it matched
/// on, and a short reason. Never carries the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The threat detected.
    pub threat: Threat,
    /// Which rule of the detector matched (stable, short: `"libinjection"`,
    /// `"union-select"`, ...).
    pub rule: &'static str,
    /// The form of the value the rule matched on.
    pub form: Form,
    /// A short human reason.
    pub reason: &'static str,
    /// libinjection's fingerprint for the SQL injection detector (token classes such as
    /// `s&1c`, at most 8 bytes), empty otherwise.
    fingerprint: [u8; 8],
}

impl Finding {
    fn new(threat: Threat, rule: &'static str, form: Form, reason: &'static str) -> Self {
        Finding {
            threat,
            rule,
            form,
            reason,
            fingerprint: [0; 8],
        }
    }

    /// libinjection's token-class fingerprint, when the SQL tokenizer matched.
    pub fn fingerprint(&self) -> Option<&str> {
        let len = self.fingerprint.iter().position(|b| *b == 0).unwrap_or(8);
        let s = std::str::from_utf8(self.fingerprint.get(..len)?).ok()?;
        (!s.is_empty()).then_some(s)
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.threat.name(), self.rule, self.reason)?;
        if let Some(fp) = self.fingerprint() {
            write!(f, " {fp}")?;
        }
        Ok(())
    }
}

/// One value of a request, decoded once, to ask about any number of threats.
pub struct Subject<'a> {
    place: Place,
    raw: Cow<'a, [u8]>,
    canon: Cow<'a, [u8]>,
    hits: u32,
    lower: OnceCell<Vec<u8>>,
    unescaped: OnceCell<Option<Vec<u8>>>,
    document: bool,
    /// Values hidden inside this one (an encoded path segment, a base64 value), decoded.
    inner: OnceCell<Vec<(Form, Subject<'static>)>>,
    nested: bool,
    /// Whether there can be values inside this one (see [`Subject::inner`]).
    may_nest: bool,
    /// The LFI verdict at LOW and at HIGH, shared by the Linux-file detector.
    lfi: [OnceCell<Option<Finding>>; 2],
}

impl<'a> Subject<'a> {
    /// Decodes `raw` (as it sits in `place`) and runs the prefilter.
    pub fn new(raw: &'a [u8], place: Place) -> Self {
        let raw = raw.get(..MAX_INSPECT).unwrap_or(raw);
        Self::build(Cow::Borrowed(raw), place, false)
    }

    fn build(raw: Cow<'a, [u8]>, place: Place, nested: bool) -> Self {
        let canon = match &raw {
            Cow::Borrowed(r) => decode::canonical(r, place.wire()),
            Cow::Owned(r) => Cow::Owned(decode::canonical(r, place.wire()).into_owned()),
        };
        let mut hits = prefilter::scan(&canon);
        // Most values have nothing to decode: `canonical` hands the same slice back.
        let unchanged = match (&raw, &canon) {
            (Cow::Borrowed(r), Cow::Borrowed(c)) => std::ptr::eq(*r, *c),
            _ => canon.as_ref() == raw.as_ref(),
        };
        if !unchanged {
            // What only the raw form shows (an encoded slash in a path, `%00`).
            hits |= prefilter::scan_raw(&raw);
        }
        let document = place.is_text() && is_document(&canon);
        let may_nest = !nested
            && ((place == Place::UriPath && raw.contains(&b'%'))
                || (place == Place::BodyRaw && raw.trim_ascii_start().first() == Some(&b'<'))
                || decode::base64_shaped(&canon));
        Subject {
            place,
            raw,
            canon,
            hits,
            lower: OnceCell::new(),
            unescaped: OnceCell::new(),
            document,
            inner: OnceCell::new(),
            may_nest,
            lfi: [OnceCell::new(), OnceCell::new()],
            nested,
        }
    }

    /// The decoded path segments that carried encodings, and a base64 value decoded when
    /// it decodes to text: each inspected as a value of its own.
    fn inner(&self) -> &[(Form, Subject<'static>)] {
        self.inner.get_or_init(|| {
            let mut out = Vec::new();
            if self.nested {
                return out;
            }
            if self.place == Place::UriPath {
                for seg in self
                    .raw
                    .split(|b| *b == b'/')
                    .filter(|s| s.contains(&b'%'))
                    .take(8)
                {
                    out.push((
                        Form::PathSegment,
                        // A value in a path: percent-encoded, `+` is itself.
                        Subject::build(Cow::Owned(seg.to_vec()), Place::Cookie, true),
                    ));
                }
            }
            if self.place == Place::BodyRaw {
                for value in decode::xml_values(&self.raw) {
                    out.push((
                        Form::XmlValue,
                        Subject::build(Cow::Owned(value), Place::JsonString, true),
                    ));
                }
            }
            if let Some(text) = decode::base64_text(&self.canon) {
                let place = if self.place == Place::UriPath {
                    Place::QueryArg
                } else {
                    self.place
                };
                out.push((Form::Base64, Subject::build(Cow::Owned(text), place, true)));
            }
            out
        })
    }

    /// Whether the prefilter saw anything that `threat`'s detector looks at.
    #[inline]
    pub fn suspicious(&self, threat: Threat) -> bool {
        self.hits & threat.bit() != 0 || prefilter::always(threat, self.place)
    }

    /// Looks for `threat` in the value.
    #[inline]
    pub fn detect(&self, threat: Threat, sensitivity: Sensitivity) -> Option<Finding> {
        // Most values have nothing for most detectors: answered without a call.
        if !self.may_nest && !self.suspicious(threat) {
            return None;
        }
        self.detect_nested(threat, sensitivity)
    }

    fn detect_nested(&self, threat: Threat, sensitivity: Sensitivity) -> Option<Finding> {
        if let Some(f) = self.detect_here(threat, sensitivity) {
            return Some(f);
        }
        if !self.may_nest
            || matches!(
                threat,
                Threat::AdminPath
                    | Threat::ExploitablePath
                    | Threat::RestrictedExtension
                    | Threat::BadBot
            )
        {
            return None;
        }
        self.inner().iter().find_map(|(form, sub)| {
            sub.detect_here(threat, sensitivity).map(|mut f| {
                f.form = *form;
                f
            })
        })
    }

    fn detect_here(&self, threat: Threat, sensitivity: Sensitivity) -> Option<Finding> {
        if !self.suspicious(threat) {
            return None;
        }
        let s = sensitivity;
        match threat {
            Threat::Sqli => sql::libinjection(self, s),
            Threat::SqliExtended => sql::extended(self, s),
            Threat::Xss => xss::detect(self, s),
            Threat::Lfi => self.lfi(s),
            Threat::RestrictedExtension => path::restricted_extension(self, s),
            Threat::AdminPath => path::admin(self, s),
            Threat::ExploitablePath => path::exploitable(self, s),
            Threat::LinuxFile => path::linux_file(self, s),
            Threat::UnixCommand => shell::unix(self, s),
            Threat::WindowsCommand => shell::windows(self, s),
            Threat::PowerShell => shell::powershell(self, s),
            Threat::Rfi => misc::rfi(self, s),
            Threat::SsrfMetadata => misc::ssrf(self, s),
            Threat::Ssrf => misc::ssrf_internal(self, s),
            Threat::Log4j => misc::log4j(self, s),
            Threat::JavaDeserialization => misc::java(self, s),
            Threat::Php => misc::php(self, s),
            Threat::BadBot => misc::bad_bot(self, s),
            Threat::Ssti => misc::ssti(self, s),
            Threat::NoSqli => misc::nosqli(self, s),
            Threat::Ldap => misc::ldap(self, s),
            Threat::PrototypePollution => misc::prototype(self, s),
            Threat::OpenRedirect => misc::open_redirect(self, s),
            Threat::Crlf => misc::crlf(self, s),
            Threat::Xxe => misc::xxe(self, s),
        }
    }

    /// Every one of `threats` found in the value, in the order given (what a managed rule
    /// group caches per value: each rule then looks its threat up).
    pub fn scan(&self, threats: &[Threat], sensitivity: Sensitivity) -> Vec<Finding> {
        // Most values wake none of the detectors asked for: answered with one test.
        let mask = Threat::mask(threats);
        if !self.may_nest && (self.hits | prefilter::always_mask(self.place)) & mask == 0 {
            return Vec::new();
        }
        threats
            .iter()
            .filter_map(|t| self.detect(*t, sensitivity))
            .collect()
    }

    /// The first of `threats` found in the value.
    pub fn detect_any(&self, threats: &[Threat], sensitivity: Sensitivity) -> Option<Finding> {
        threats.iter().find_map(|t| self.detect(*t, sensitivity))
    }

    /// The place the value sits in.
    pub fn place(&self) -> Place {
        self.place
    }

    /// The LFI detector's verdict, computed once per sensitivity.
    fn lfi(&self, sensitivity: Sensitivity) -> Option<Finding> {
        let slot = match sensitivity {
            Sensitivity::Low => &self.lfi[0],
            Sensitivity::High => &self.lfi[1],
        };
        slot.get_or_init(|| path::lfi(self, sensitivity)).clone()
    }

    /// Whether the value is a document: several lines, or long prose, in a free-text place.
    /// A document may quote SQL or shell (a forum post with a code block); what makes it an
    /// injection is breaking out of the context the application puts it in, so detectors
    /// ask for breakout shapes there rather than for statements.
    fn document(&self) -> bool {
        self.document
    }

    fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Percent escapes, entities, look-alikes decoded; NULs removed.
    fn canon(&self) -> &[u8] {
        &self.canon
    }

    /// The canonical form in ASCII lower case.
    fn lower(&self) -> &[u8] {
        self.lower.get_or_init(|| self.canon.to_ascii_lowercase())
    }

    /// The canonical form with JavaScript/CSS escapes decoded too, when there were any.
    fn unescaped(&self) -> Option<&[u8]> {
        self.unescaped
            .get_or_init(|| decode::unescape_js(&self.canon))
            .as_deref()
    }
}

fn is_document(text: &[u8]) -> bool {
    let lines = text.iter().filter(|b| **b == b'\n').count();
    let spaces = text.iter().filter(|b| **b == b' ').count();
    (lines >= 2 && text.len() > 60) || (text.len() > 160 && spaces * 12 > text.len())
}

/// Looks for `threat` in `raw`, a value exactly as it sits in `place` of the request (a
/// query argument value not yet percent-decoded, a path not decoded, a JSON string value
/// after JSON unescaping, a form value not decoded). The detector does all decoding.
///
/// To ask about several threats, [`Subject`] decodes the value once.
pub fn detect(
    threat: Threat,
    raw: &[u8],
    place: Place,
    sensitivity: Sensitivity,
) -> Option<Finding> {
    Subject::new(raw, place).detect(threat, sensitivity)
}

/// AWS WAF's `SqliMatchStatement`: whether `input` (already transformed by the rule's text
/// transformations) holds SQL injection. LOW sensitivity confirms libinjection's verdict
/// with the operator/keyword structure an injection needs; HIGH also takes libinjection's
/// unconfirmed verdicts and the extended patterns.
pub fn sqli(input: &[u8], sensitivity: Sensitivity) -> bool {
    sql::match_statement(input.get(..MAX_INSPECT).unwrap_or(input), sensitivity)
}

/// AWS WAF's `XssMatchStatement`: whether `input` (already transformed by the rule's text
/// transformations) holds cross-site scripting.
pub fn xss(input: &[u8]) -> bool {
    xss::match_statement(input.get(..MAX_INSPECT).unwrap_or(input))
}
