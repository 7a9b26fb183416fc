//! The smaller detectors: remote file inclusion, cloud metadata SSRF, Log4Shell, Java
//! deserialization, PHP, scanners' User-Agents, template injection, NoSQL, LDAP,
//! prototype pollution, open redirects, CR/LF injection, XML external entities.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use super::prefilter::Rules;
use super::{Finding, Form, Place, Sensitivity, Subject, Threat};

fn found(threat: Threat, rule: &'static str, reason: &'static str) -> Option<Finding> {
    Some(Finding::new(threat, rule, Form::Decoded, reason))
}

/// An IPv4 address as `inet_aton` reads it: one to four parts, each decimal, octal
/// (leading `0`) or hex (`0x`), the last part filling the remaining bytes.
pub fn parse_ipv4_loose(s: &[u8]) -> Option<u32> {
    let s = s.strip_suffix(b".").unwrap_or(s);
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let mut parts: Vec<u64> = Vec::with_capacity(4);
    for p in s.split(|b| *b == b'.') {
        if parts.len() == 4 {
            return None;
        }
        let (digits, radix) =
            if let Some(h) = p.strip_prefix(b"0x").or_else(|| p.strip_prefix(b"0X")) {
                (h, 16)
            } else if p.len() > 1 && p.first() == Some(&b'0') {
                (p.get(1..).unwrap_or(&[]), 8)
            } else {
                (p, 10)
            };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let text = std::str::from_utf8(digits).ok()?;
        let v = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(text, radix).ok()?
        };
        parts.push(v);
    }
    let (last, init) = parts.split_last()?;
    let mut addr: u64 = 0;
    for (i, p) in init.iter().enumerate() {
        if *p > 255 {
            return None;
        }
        addr |= p << (24 - 8 * i);
    }
    let room = 32 - 8 * init.len();
    if *last >= 1u64 << room {
        return None;
    }
    u32::try_from(addr | last).ok()
}

/// Whether a dotted-decimal `a.b.c.d` (the usual notation) was written.
fn plain_dotted(s: &[u8]) -> bool {
    let parts: Vec<&[u8]> = s.split(|b| *b == b'.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.iter().all(u8::is_ascii_digit)
                && (p.len() == 1 || p.first() != Some(&b'0'))
        })
}

const METADATA_V4: [u32; 4] = [
    0xa9fe_a9fe, // 169.254.169.254 (AWS, GCP, Azure, OpenStack, ...)
    0xa9fe_aa02, // 169.254.170.2 (ECS task metadata)
    0x6464_64c8, // 100.100.100.200 (Alibaba Cloud)
    0xc000_00c0, // 192.0.0.192 (Oracle Cloud, legacy)
];

fn metadata_v6(a: &Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped().or_else(|| a.to_ipv4()) {
        return METADATA_V4.contains(&u32::from(v4));
    }
    // fd00:ec2::254, the EC2 metadata service over IPv6.
    a.segments() == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254]
}

/// Host-like tokens of a value: runs of the characters a host (or an IP in any
/// notation) is written with.
fn host_tokens(lower: &[u8]) -> impl Iterator<Item = &[u8]> {
    lower
        .split(|b| {
            !(b.is_ascii_alphanumeric()
                || matches!(b, b'.' | b':' | b'-' | b'[' | b']' | b'%' | b'_'))
        })
        .filter(|t| !t.is_empty() && t.len() <= 80)
        .take(64)
}

fn is_metadata_host(token: &[u8], url_context: bool) -> bool {
    let edge = |b: &u8| matches!(b, b'[' | b']' | b'.');
    let from = token.iter().position(|b| !edge(b)).unwrap_or(token.len());
    let to = token.iter().rposition(|b| !edge(b)).map_or(from, |p| p + 1);
    let t = token.get(from..to).unwrap_or(&[]);
    let t = t.split(|b| *b == b'%').next().unwrap_or(&[]);
    if matches!(
        t,
        b"metadata.google.internal"
            | b"metadata.goog"
            | b"instance-data"
            | b"instance-data.ec2.internal"
            | b"metadata.azure.internal"
    ) {
        return true;
    }
    if t.contains(&b':')
        && let Ok(s) = std::str::from_utf8(t)
        && let Ok(a) = s.parse::<Ipv6Addr>()
    {
        return metadata_v6(&a);
    }
    // `169.254.169.254.nip.io` and friends: the address is the token's start.
    let numeric_prefix: &[u8] = {
        let n = t
            .iter()
            .take_while(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'x'))
            .count();
        t.get(..n).unwrap_or(&[])
    };
    let candidates: [&[u8]; 2] = [t, numeric_prefix];
    for c in candidates {
        if c.is_empty() {
            continue;
        }
        // One-part numbers (`2852039166`) only where a host is expected.
        if !c.contains(&b'.') && !url_context {
            continue;
        }
        if let Some(v) = parse_ipv4_loose(c)
            && METADATA_V4.contains(&v)
        {
            return true;
        }
    }
    false
}

static SSRF_PATHS: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[(
        "metadata-path",
        r"\blatest/(meta-data|user-data|dynamic/instance-identity|api/token)\b|\bcomputemetadata/v1\b|/metadata/(instance|identity|v1/|scheduledevents)|/opc/v[12]/(instance|identity)|/\d{4}-\d\d-\d\d/(meta-data|user-data)\b|/openstack/latest/meta_data|/metadata/v1\.json",
    )])
});

/// The `EC2MetaDataSSRF_*` detector: a cloud metadata address in any notation (decimal,
/// octal, hex, IPv4-mapped IPv6, `nip.io`-style names), or a metadata path.
pub fn ssrf(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    let lower = s.lower();
    let has = |n: &[u8]| lower.windows(n.len()).any(|w| w == n);
    let path_like = has(b"data") || has(b"metadata") || has(b"/opc/v") || has(b"openstack");
    if path_like && SSRF_PATHS.first(lower).is_some() {
        return found(Threat::SsrfMetadata, "metadata-path", "cloud metadata path");
    }
    let url_context = lower.windows(2).any(|w| w == b"//")
        || lower.contains(&b'@')
        || !lower.iter().any(|b| b.is_ascii_whitespace());
    for t in host_tokens(lower) {
        if is_metadata_host(t, url_context) {
            return found(
                Threat::SsrfMetadata,
                "metadata-address",
                "cloud metadata address",
            );
        }
    }
    None
}

/// Ports of services that listen on loopback and should never be a URL's target.
const INTERNAL_PORTS: &[&[u8]] = &[
    b"2375", b"2376", b"2379", b"2380", b"8500", b"8200", b"10250", b"10255", b"6379", b"11211",
    b"9200", b"5984", b"27017", b"8001", b"6443", b"4001", b"9000", b"15672", b"8086", b"5000",
    b"9090", b"25", b"22",
];

/// The `Ssrf` detector.
pub fn ssrf_internal(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    static SCHEMES: LazyLock<Rules> = LazyLock::new(|| {
        Rules::new(&[
            (
                "internal-scheme",
                r"^\s*(gopher|dict|netdoc|tftp|jar:https?|jar:file|ldaps?|sftp|expect|phar)\s*:",
            ),
            ("file-url", r"^\s*file\s*:\s*//"),
            (
                "rebinding-name",
                r"\b(localtest\.me|lvh\.me|vcap\.me|localhost\.direct|(127|10|0|192\.168)\.[\d.]*\.?(nip|xip|sslip)\.io)\b",
            ),
        ])
    });
    let lower = s.lower();
    let head = lower.trim_ascii_start();
    let schemeish = [
        &b"gopher"[..],
        b"dict",
        b"netdoc",
        b"tftp",
        b"jar:",
        b"ldap",
        b"sftp",
        b"expect",
        b"phar",
        b"file",
    ]
    .iter()
    .any(|p| head.starts_with(p))
        || [
            &b"localtest.me"[..],
            b"lvh.me",
            b"vcap.me",
            b"localhost.direct",
            b"nip.io",
            b"xip.io",
            b"sslip.io",
        ]
        .iter()
        .any(|n| lower.windows(n.len()).any(|w| w == *n));
    if schemeish && let Some(rule) = SCHEMES.first(lower) {
        return found(Threat::Ssrf, rule, "request to an internal service");
    }
    for (host, port) in url_hosts_ports(lower) {
        let h = host
            .strip_prefix(b"[")
            .and_then(|h| h.strip_suffix(b"]"))
            .unwrap_or(host);
        let loopback = if h == b"localhost" || h.ends_with(b".localhost") {
            Some(true)
        } else if h.contains(&b':') {
            std::str::from_utf8(h)
                .ok()
                .and_then(|t| t.parse::<Ipv6Addr>().ok())
                .map(|a| a.is_loopback() || a.is_unspecified())
        } else if h
            .iter()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'x'))
            && !h.is_empty()
        {
            parse_ipv4_loose(h).map(|v| v >> 24 == 127 || v == 0)
        } else {
            None
        };
        let Some(true) = loopback else { continue };
        // Loopback in an odd notation, or a loopback port of an internal service.
        let odd = !(h == b"localhost" || plain_dotted(h) || h == b"::1");
        let service = port.is_some_and(|p| INTERNAL_PORTS.contains(&p));
        // At HIGH any loopback URL, except in headers (Origin and Referer of a local
        // development setup carry them).
        let high = sensitivity == Sensitivity::High
            && !matches!(s.place(), Place::Header | Place::UserAgent);
        if odd || service || high {
            return found(Threat::Ssrf, "loopback-url", "request to the server itself");
        }
    }
    None
}

/// `scheme://host` pairs in a value (host lower-cased, userinfo skipped).
fn url_hosts(lower: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = lower
        .get(i..)
        .and_then(|r| r.windows(3).position(|w| w == b"://"))
    {
        let start = i + p + 3;
        let rest = lower.get(start..).unwrap_or(&[]);
        let end = rest
            .iter()
            .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\' | b' ' | b'"' | b'\''))
            .unwrap_or(rest.len());
        let authority = rest.get(..end).unwrap_or(&[]);
        let host_port = authority.rsplit(|b| *b == b'@').next().unwrap_or(&[]);
        let host = if host_port.first() == Some(&b'[') {
            host_port
        } else {
            host_port.split(|b| *b == b':').next().unwrap_or(&[])
        };
        out.push(host);
        i = start;
        if out.len() > 16 {
            break;
        }
    }
    out
}

/// Hosts and ports of the URLs in a value.
fn url_hosts_ports(lower: &[u8]) -> Vec<(&[u8], Option<&[u8]>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = lower
        .get(i..)
        .and_then(|r| r.windows(3).position(|w| w == b"://"))
    {
        let start = i + p + 3;
        let rest = lower.get(start..).unwrap_or(&[]);
        let end = rest
            .iter()
            .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\' | b' ' | b'"' | b'\''))
            .unwrap_or(rest.len());
        let authority = rest.get(..end).unwrap_or(&[]);
        let host_port = authority.rsplit(|b| *b == b'@').next().unwrap_or(&[]);
        let (host, port) = if host_port.first() == Some(&b'[') {
            match host_port.iter().position(|b| *b == b']') {
                Some(e) => (
                    host_port.get(..=e).unwrap_or(&[]),
                    host_port.get(e + 2..).filter(|p| !p.is_empty()),
                ),
                None => (host_port, None),
            }
        } else {
            let mut it = host_port.splitn(2, |b| *b == b':');
            (it.next().unwrap_or(&[]), it.next())
        };
        out.push((host, port));
        i = start;
        if out.len() > 16 {
            break;
        }
    }
    out
}

fn private_v4(v: u32) -> bool {
    let a = v >> 24;
    let b = (v >> 16) & 0xff;
    a == 127 || a == 10 || a == 0 || (a == 192 && b == 168) || (a == 172 && (16..32).contains(&b))
}

/// The `GenericRFI_*` detector: a URL whose host is an IPv4 address (as AWS WAF's rule
/// describes it; loopback and private addresses only at HIGH), or a URL to a script or
/// text file cut off with `?` or NUL (`http://x/shell.txt?`).
pub fn rfi(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    let lower = s.lower();
    if !lower.windows(3).any(|w| w == b"://") {
        return None;
    }
    let high = sensitivity == Sensitivity::High;
    for host in url_hosts(lower) {
        if host.contains(&b'.')
            && host
                .iter()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'x'))
            && let Some(v) = parse_ipv4_loose(host)
            && (high || !private_v4(v))
        {
            return found(Threat::Rfi, "ip-url", "URL to an IPv4 address");
        }
    }
    static CUT: LazyLock<Rules> = LazyLock::new(|| {
        Rules::new(&[(
            "cut-off-url",
            r"^\s*(https?|ftps?)://[^\s?#]+\.(txt|php\d?|gif|jpg|png|inc|phtml|sh|pl|py|jsp|asp)\?+\s*$",
        )])
    });
    let raw = s.raw();
    let nul = raw.contains(&0) || raw.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00"));
    let cut = lower.trim_ascii_end().ends_with(b"?") && CUT.first(lower).is_some();
    if cut || (nul && lower.starts_with(b"http")) {
        return found(
            Threat::Rfi,
            "cut-off-url",
            "remote file URL cut off with ? or NUL",
        );
    }
    None
}

/// Resolves Log4j's `${...}` lookups that only rebuild text (`${lower:j}`, `${::-j}`,
/// `${env:X:-j}`, `${date:'j'}`), leaving the others as `${name:...}`. Bounded depth and
/// output.
fn log4j_resolve(input: &[u8], depth: usize, out: &mut Vec<u8>) -> usize {
    // Returns how many bytes of `input` were consumed (up to an unmatched `}` at depth > 0).
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if out.len() > 4096 {
            return input.len();
        }
        if b == b'$' && input.get(i + 1) == Some(&b'{') && depth < 8 {
            let mut inner = Vec::new();
            let used = log4j_resolve(input.get(i + 2..).unwrap_or(&[]), depth + 1, &mut inner);
            i += 2 + used;
            let closed = input.get(i) == Some(&b'}');
            if closed {
                i += 1;
            }
            out.extend_from_slice(&log4j_lookup(&inner));
            continue;
        }
        if b == b'}' && depth > 0 {
            return i;
        }
        out.push(b);
        i += 1;
    }
    i
}

fn log4j_lookup(inner: &[u8]) -> Vec<u8> {
    let lower = inner.to_ascii_lowercase();
    if let Some(p) = lower.windows(2).position(|w| w == b":-") {
        return inner.get(p + 2..).unwrap_or(&[]).to_vec();
    }
    if let Some(rest) = lower
        .strip_prefix(b"lower:")
        .or_else(|| lower.strip_prefix(b"upper:"))
    {
        return rest.to_vec();
    }
    if let Some(rest) = lower.strip_prefix(b"date:") {
        return rest.iter().copied().filter(|b| *b != b'\'').collect();
    }
    let mut v = b"${".to_vec();
    v.extend_from_slice(inner);
    v.push(b'}');
    v
}

/// The `Log4JRCE_*` detector: a JNDI lookup after Log4j's own lookups are resolved
/// (`${${lower:j}ndi:...}`, `${${::-j}${::-n}di:...}`); at HIGH also any lookup that leaks
/// data (`${env:...}`, `${sys:...}`, `${java:...}`).
pub fn log4j(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    let text = s.canon();
    if !text.windows(2).any(|w| w == b"${") {
        return None;
    }
    let mut resolved = Vec::new();
    log4j_resolve(text, 0, &mut resolved);
    let lower = resolved.to_ascii_lowercase();
    let squeezed: Vec<u8> = lower
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if squeezed.windows(7).any(|w| w == b"${jndi:") {
        return found(Threat::Log4j, "jndi-lookup", "Log4j JNDI lookup");
    }
    static LOOKUPS: LazyLock<Rules> = LazyLock::new(|| {
        Rules::new(&[(
            "leaking-lookup",
            r"\$\{(env|sys|java|ctx|main|bundle|k8s|docker|spring|log4j|web|jvmrunargs|sd|marker|event|base64):[^}]*\}",
        )])
    });
    let nested = text.windows(3).any(|w| w == b"${$") || lower != text.to_ascii_lowercase();
    if (sensitivity == Sensitivity::High || nested) && LOOKUPS.first(&squeezed).is_some() {
        return found(Threat::Log4j, "leaking-lookup", "Log4j lookup");
    }
    // Lookups only Log4j has (`${sys:...}`, `${java:...}`), and `${env:...}` of a secret;
    // `${env:HOME}` alone is also other tools' syntax.
    static LOG4J_ONLY: LazyLock<Rules> = LazyLock::new(|| {
        Rules::new(&[(
            "leaking-lookup",
            r"\$\{(sys|java|ctx|main|bundle|k8s|docker|spring|log4j|web|jvmrunargs|sd|marker|event):[^}]*\}|\$\{env:[^}]*(aws|secret|token|passw|key|credential|private)[^}]*\}",
        )])
    });
    if LOG4J_ONLY.first(&squeezed).is_some() {
        return found(Threat::Log4j, "leaking-lookup", "Log4j lookup");
    }
    None
}

static JAVA: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        ("serialized-base64", r"(^|[^a-z0-9+])ro0ab([a-z0-9+/]{4}|$)"),
        ("serialized-hex", r"\baced0005[0-9a-f]{4}"),
        (
            "gadget-class",
            r"\b(org\.apache\.commons\.collections\d?\.(functors|keyvalue|map)\.|org\.apache\.xalan|com\.sun\.org\.apache\.xalan\.internal\.xsltc\.trax\.templatesimpl|com\.sun\.rowset\.jdbcrowsetimpl|java\.lang\.(runtime|processbuilder|reflect\.proxy)|javax\.management\.badattributevalueexpexception|java\.rmi\.|javax\.naming\.|java\.beans\.xmldecoder|org\.springframework\.(beans\.factory\.objectfactory|core\.serializabletypewrapper|context\.support\.classpathxmlapplicationcontext)|bsh\.interpreter|groovy\.util\.expando|org\.codehaus\.groovy\.runtime|com\.mchange\.v2\.c3p0|ysoserial|invokertransformer|chainedtransformer|constanttransformer|lazymap|org\.hibernate\.(tuple|engine)\.|com\.sun\.jndi\.|sun\.reflect\.annotation|ch\.qos\.logback\.core\.db\.|com\.zaxxer\.hikari|org\.apache\.tomcat\.dbcp|org\.apache\.xbean|oracle\.jdbc\.|com\.mysql\.(cj\.)?jdbc\.|java\.lang\.autocloseable|javax\.script\.scriptenginemanager|java\.net\.urlclassloader)",
        ),
        (
            "fastjson-type",
            r"[\x22']@type[\x22']\s*:\s*[\x22'](com\.sun|org\.apache|java\.|javax\.|com\.mchange|org\.springframework|ch\.qos\.logback|br\.com|com\.alibaba|org\.hibernate|bsh\.)",
        ),
        (
            "xstream",
            r"<\s*(java\.util\.priorityqueue|dynamic-proxy|sorted-set|java\.beans\.eventhandler|jdk\.nashorn)\b|\bserialization\s*=\s*[\x22']custom",
        ),
        (
            "snakeyaml",
            r"!!\s*(javax?|com\.sun|org\.(apache|springframework))\.",
        ),
        (
            "spring4shell",
            r"\bclass\.(module\.)?classloader\b|\bclass\.classloader\.urls",
        ),
        (
            "xmldecoder",
            r"<\s*java\b[^>]*class\s*=\s*[\x22']java\.beans\.xmldecoder|<\s*object\s+class\s*=\s*[\x22']java\.lang\.(processbuilder|runtime)",
        ),
    ])
});

/// The `JavaDeserializationRCE_*` detector: a Java serialization stream (raw, base64 or
/// hex) or a known gadget class.
pub fn java(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    if s.raw().windows(4).any(|w| w == [0xac, 0xed, 0x00, 0x05]) {
        return Some(Finding::new(
            Threat::JavaDeserialization,
            "serialized-stream",
            Form::Raw,
            "Java serialization stream",
        ));
    }
    JAVA.first(s.lower())
        .and_then(|rule| found(Threat::JavaDeserialization, rule, "Java deserialization"))
}

static PHP: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        ("php-tag", r"<\?(php|=)|<\?\s+\w+|<\?\s*\$"),
        (
            "superglobal",
            r"\$(_(get|post|request|cookie|server|files|env|session)|globals|http_raw_post_data|http_(get|post)_vars)\b",
        ),
        (
            "high-risk-function",
            r"\b(shell_exec|passthru|popen|proc_open|pcntl_exec|base64_decode|phpinfo|file_get_contents|file_put_contents|fputs|readfile|create_function|call_user_func(_array)?|preg_replace|unserialize|gzinflate|gzuncompress|str_rot13|fsockopen|pfsockopen|show_source|highlight_file|move_uploaded_file|escapeshellcmd|escapeshellarg|ini_set|posix_\w+|assert_options|stream_socket_client|curl_exec|simplexml_load_string|php_uname|getenv|symlink|chmod|chown)\s*\(",
        ),
        (
            "code-function",
            r"(^|[^\w.$])@?(system|exec|eval|assert|include|include_once|require|require_once|mail|putenv|fopen|fwrite|array_map|usort|print_r|var_dump|die|print)\s*\(\s*(['\x22`$]|\)|\w+\s*\(|\$_)",
        ),
        (
            "complex-syntax",
            r"\$\{\s*@?(print|system|eval|exec|phpinfo|passthru|\$?_)|\{\$\{\s*@?\w+\s*\(",
        ),
        (
            "include-statement",
            r"(^|[;{}>]\s*)(include|require)(_once)?\s+['\x22$(]|(^|[;{}>]\s*)(echo|print)\s+['\x22$].*;\s*\??>?",
        ),
        (
            "wrapper",
            r"\b(php://(input|filter|stdin|fd)|expect://|data://text/plain)",
        ),
        ("serialized-object", r"\bo:\d+:\x22[\w\\]+\x22:\d+:\{"),
        (
            "ini-override",
            r"\b(allow_url_include|allow_url_fopen|auto_prepend_file|auto_append_file|disable_functions|open_basedir|safe_mode)\s*=",
        ),
        (
            "variable-call",
            r"\$[a-z_]\w*\s*\(\s*['\x22$]|\(\s*['\x22]?(system|exec|passthru|shell_exec|assert|eval)['\x22]?\s*\)\s*\(|['\x22]\s*\.\s*['\x22]\w*['\x22]\s*;\s*\$\w+\s*\(",
        ),
        (
            "backtick-exec",
            r"`\s*(id|whoami|ls|cat|uname|pwd|wget|curl)\b[^`]*`\s*;",
        ),
    ])
});

/// The `PHPHighRiskMethodsVariables_*` detector.
pub fn php(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    let form = super::decode::sql_form(s.canon());
    PHP.first(&form)
        .and_then(|rule| found(Threat::Php, rule, "PHP code injection"))
}

/// Scanner and attack-tool names, as they appear in their User-Agent strings.
const BOTS: &[&[u8]] = &[
    b"sqlmap",
    b"nikto",
    b"nmap",
    b"masscan",
    b"zgrab",
    b"nessus",
    b"openvas",
    b"acunetix",
    b"netsparker",
    b"w3af",
    b"dirbuster",
    b"dirb",
    b"gobuster",
    b"feroxbuster",
    b"ffuf",
    b"wfuzz",
    b"wpscan",
    b"nuclei",
    b"havij",
    b"fimap",
    b"arachni",
    b"skipfish",
    b"whatweb",
    b"zmeu",
    b"morfeus",
    b"jaeles",
    b"xsstrike",
    b"commix",
    b"appscan",
    b"webinspect",
    b"burpsuite",
    b"burpcollaborator",
    b"qualys",
    b"paros",
    b"hydra",
    b"brutus",
    b"httrack",
    b"libwww-perl",
    b"webshag",
    b"grabber",
    b"sqlninja",
    b"pangolin",
    b"bsqlbf",
    b"interactsh",
    b"projectdiscovery",
    b"l9explore",
    b"l9tcpid",
    b"dotdotpwn",
    b"cgichk",
    b"zap",
    b"owasp zap",
    b"censysinspect",
    b"netsystemsresearch",
    b"sf",
    b"vega",
    b"blackwidow",
    b"nsauditor",
    b"webvulnscan",
    b"jorgee",
    b"muieblackcat",
    b"zollard",
    b"dirsearch",
];

/// The `UserAgent_BadBots_HEADER` detector: a scanner's or attack tool's name as a word of
/// the User-Agent.
pub fn bad_bot(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    if !matches!(s.place(), Place::UserAgent | Place::Header) {
        return None;
    }
    let lower = s.lower();
    let words = lower.split(|b| !(b.is_ascii_alphanumeric() || *b == b'-'));
    for w in words.flat_map(|w| [w, w.split(|b| *b == b'-').next().unwrap_or(&[])]) {
        let w = w.strip_suffix(b"-ng").unwrap_or(w);
        if BOTS.contains(&w) && !w.is_empty() {
            // `sf`, `zap`, `vega` only as a product token (`SF/2.10b`, `ZAP/2.12`).
            if matches!(w, b"sf" | b"zap" | b"vega") {
                let pos = lower
                    .windows(w.len() + 1)
                    .position(|x| x.get(..w.len()) == Some(w) && x.last() == Some(&b'/'));
                if pos.is_none_or(|p| {
                    p != 0 && lower.get(p - 1).is_some_and(|c| c.is_ascii_alphanumeric())
                }) {
                    continue;
                }
            }
            return found(
                Threat::BadBot,
                "scanner-user-agent",
                "scanner or attack tool User-Agent",
            );
        }
    }
    if lower.windows(12).any(|w| w == b"fuzz faster ")
        || lower.windows(9).any(|w| w == b"owasp zap")
    {
        return found(
            Threat::BadBot,
            "scanner-user-agent",
            "scanner or attack tool User-Agent",
        );
    }
    None
}

static SSTI: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        (
            "arithmetic-probe",
            r"(\{\{|\$\{|#\{|\[\[|@\(|\*\{|\{=|<%=?)\s*\{?\s*['\x22]?\d+['\x22]?\s*[*+/%-]\s*['\x22]?\d+['\x22]?\s*\}?\s*(\}\}|\}|\]\]|\)|%>)",
        ),
        (
            "dunder",
            r"(\{\{|\{%|\$\{|#\{)[^}]*(__(class|mro|subclasses|globals|builtins|import|init|getitem|base|bases|dict)__|\\x5f\\x5f|\[\x22_\x22\s*\*\s*2|\|attr\s*\()",
        ),
        (
            "object-walk",
            r"(\{\{|\{%|\$\{|#\{|\*\{|<%=?|\{\$)[^}%]*(\.(getclass|forname|getruntime|getmethod|newinstance|getenginebyname|classloader|mro|subclasses|popen|system|exec)\s*\(?|\bt\s*\(\s*java\.|\bself\.(module|template|context|attr|_templatereference)|\b(cycler|joiner|lipsum|namespace|config|request|self|application|_self|url_for|get_flashed_messages)\b|\|\s*(filter|map|attr|join|e|raw)\b|freemarker|\?new\s*\(|\.items\s*\(|\(\s*\)\s*\.|\w+\s*\(\s*['\x22]|\.to\w+case\s*\()",
        ),
        (
            "template-directive",
            r"<#\s*(assign|include|import)\b|\[#\s*(assign|include)\b|\{\$smarty\b|\{php\}|\{/php\}|#set\s*\(\s*\$|\$class\.inspect|freemarker\.template\.utility|\{%\s*(import|include|load|debug|raw)\b|<%\s*(require|system|`|file\.|io\.|%x|exec)",
        ),
        (
            "erb",
            r"<%=?\s*[^%]*(\bfile\.(open|read)|\bsystem\s*\(|`|\bio\.popen|%x\(|\beval\s*\(|\bexec\s*\()",
        ),
    ])
});

/// Server-side template injection: arithmetic probes (`{{7*7}}`, `${3*3}`) and the object
/// walks and directives of Jinja2, Twig, Freemarker, Velocity, Mako, ERB, Smarty, Spring.
pub fn ssti(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    let lower = s.lower();
    if let Some(rule) = SSTI.first(lower) {
        return found(Threat::Ssti, rule, "server-side template injection");
    }
    if let Some(u) = s.unescaped()
        && let Some(rule) = SSTI.first(&u.to_ascii_lowercase())
    {
        return Some(Finding::new(
            Threat::Ssti,
            rule,
            Form::Unescaped,
            "server-side template injection",
        ));
    }
    None
}

const MONGO_OPS: &[&[u8]] = &[
    b"where",
    b"ne",
    b"eq",
    b"gt",
    b"gte",
    b"lt",
    b"lte",
    b"regex",
    b"or",
    b"and",
    b"nin",
    b"in",
    b"exists",
    b"expr",
    b"function",
    b"accumulator",
    b"elemmatch",
    b"not",
    b"nor",
    b"comment",
    b"size",
    b"type",
    b"all",
    b"mod",
    b"text",
    b"search",
    b"match",
    b"project",
    b"lookup",
    b"group",
    b"unwind",
    b"facet",
    b"addfields",
    b"replaceroot",
    b"graphlookup",
    b"out",
    b"merge",
    b"sample",
    b"jsonschema",
];

static NOSQL: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        (
            "operator",
            r"\[\s*\$(where|ne|eq|gt|gte|lt|lte|regex|or|and|nin|in|exists|expr|function|accumulator|elemmatch|not|nor|size|type|all|mod)\s*\]",
        ),
        (
            "operator",
            r"[{,]\s*['\x22]?[$&](where|ne|eq|gt|gte|lt|lte|regex|or|and|nin|in|exists|expr|function|accumulator|elemmatch|not|nor|comment|match|project|lookup|text|search|group|unwind|facet|addfields|replaceroot|graphlookup|out|merge|sample)['\x22]?\s*:",
        ),
        (
            "operator",
            r"(^|['\x22,\s])\s*\$(where|or|and|nor|ne|gt|regex|comment|expr|function)\s*:",
        ),
        (
            "js-injection",
            r"['\x22]\s*;\s*(return\b|sleep\s*\(|while\s*\(|db\.|this\.|var\s)|['\x22]\s*\)\s*;\s*(return|sleep)|^\s*\d*\s*;\s*return\s+(true|false|1|0|this|db)\b|;\s*return\s*\(?\s*(true|1)\s*\)?\s*;\s*var\b",
        ),
        (
            "js-injection",
            r"\|\|\s*['\x22]?\w*['\x22]?\s*===?\s*['\x22]?\w*['\x22]?|&&\s*['\x22]{2}\s*===?\s*['\x22]|['\x22]\s*===?\s*['\x22]\w*['\x22]\s*&&",
        ),
        (
            "db-call",
            r"\bdb\.\w+\.(find|findone|insert|update|remove|drop|aggregate|mapreduce|deletemany|updatemany)\w*\s*\(|\bthis\.\w+\.match\s*\(|\bdb\.(getcollectionnames|dropdatabase|eval)\s*\(",
        ),
    ])
});

/// NoSQL injection: MongoDB operators where a value is expected (`user[$ne]=x`,
/// `{"$gt": ""}`, a `$`-operator as a JSON key) and JavaScript smuggled into `$where`.
pub fn nosqli(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    let lower = s.lower();
    if s.place() == Place::JsonKey
        && let Some(op) = lower
            .strip_prefix(b"$")
            .or_else(|| lower.strip_prefix(b"&"))
        && MONGO_OPS.contains(&op)
    {
        return found(Threat::NoSqli, "operator-key", "MongoDB operator as a key");
    }
    NOSQL
        .first(lower)
        .and_then(|rule| found(Threat::NoSqli, rule, "NoSQL injection"))
}

static LDAP: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        (
            "filter-breakout",
            r"\*\s*\)+\s*\(|\)\s*\(\s*[|&!]\s*\(?|\*\s*\(\s*[|&!]\s*\(",
        ),
        (
            "filter-injection",
            r"\(\s*[|&!]\s*\(\s*[\w-]+\s*[~<>]?=|\(\s*(objectclass|uid|cn|mail|sn|ou|dc|userpassword|samaccountname|givenname|memberof|description|name|displayname)\s*=\s*\*?\s*\)",
        ),
        (
            "filter-close",
            r"^[\w.@-]*\*?\s*\)+\s*(\(|\x00|$)|\)\s*\(\s*\w+\s*=\s*\)",
        ),
    ])
});

/// LDAP filter injection: a value that closes the application's filter and opens its own
/// (`*)(uid=*))(|(uid=*`, `admin*)((|userpassword=*)`).
pub fn ldap(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    let lower = s.lower();
    LDAP.first(lower).and_then(|rule| {
        // A closing parenthesis after a word is ordinary text ("(see above)") unless a
        // filter character comes with it.
        if rule == "filter-close" && !lower.iter().any(|b| matches!(b, b'*' | b'=' | b'|' | b'&')) {
            return None;
        }
        found(Threat::Ldap, rule, "LDAP filter injection")
    })
}

static PROTO: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        ("proto", r"__proto__"),
        (
            "constructor-prototype",
            r"constructor\s*(\.|\[\s*['\x22]?|\]\s*\[\s*['\x22]?|['\x22]\s*\]\s*\[\s*['\x22])\s*prototype\b|constructor['\x22]?\s*\]?\s*\[\s*['\x22]?prototype|constructor['\x22]?\s*[:=]\s*\{\s*['\x22]?prototype\b",
        ),
        (
            "prototype-assignment",
            r"\bobject\.prototype\.\w+\s*=[^=]|\bobject\.(assign|defineproperty|setprototypeof)\s*\(\s*object\.prototype\b|__(define|lookup)(getter|setter)__",
        ),
    ])
});

/// Prototype pollution: `__proto__`, `constructor.prototype` in keys, query argument names
/// (`a[__proto__][x]=1`) or values.
pub fn prototype(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    let lower = s.lower();
    if let Some(rule) = PROTO.first(lower) {
        return found(Threat::PrototypePollution, rule, "prototype pollution");
    }
    // A key `prototype` (under a `constructor` key, which one key cannot show); a key
    // `constructor` alone is an ordinary word, flagged at HIGH only.
    if s.place().is_key()
        && (lower == b"prototype" || (sensitivity == Sensitivity::High && lower == b"constructor"))
    {
        return found(
            Threat::PrototypePollution,
            "prototype-key",
            "prototype pollution",
        );
    }
    None
}

static REDIRECT: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        ("slashes", r"^\s*(<>)?(/{3,}|[/\\]*\\[/\\]*)[^/\\\s]"),
        ("path-url", r"^\s*/+\s*(https?|ftp)\s*:"),
        (
            "scheme-confusion",
            r"^\s*(https?|ftp)\s*:\s*(/?\\|/{3,}|[^/\s])",
        ),
        (
            "userinfo-spoof",
            r"^\s*((https?|ftp)\s*:)?[/\\]{2,}[^/\\?#\s]*\.[^/\\?#\s]*@|^\s*((https?|ftp)\s*:)?[/\\]{2,}[^/\\?#\s]*[\\]",
        ),
        ("fragment-spoof", r"^\s*((https?|ftp)\s*:)?//[^/?#\s]+[#?]@"),
        (
            "url-climb",
            r"^\s*((https?|ftp)\s*:)?//[^/\s]+/.*(/\.\.|\.\./)",
        ),
        ("script-scheme", r"^[\s/\\]*(javascript|vbscript|data)\s*:"),
        ("markup-prefix", r"^\s*<>\s*[/\\]{2}"),
        (
            "ampersand-authority",
            r"^\s*((https?|ftp)\s*:)?//[^/?#\s@]*&[^/?#\s]*\.",
        ),
        (
            "bogus-host",
            r"^\s*((https?|ftp)\s*:)?//([^/?#\s]*@)?\d+(\.\d+){3}([/:?#]|$)",
        ),
    ])
});

fn odd_host(lower: &[u8]) -> bool {
    // A numeric host not in dotted-decimal (`http://3627734734`, `0xd8.072.54990`).
    url_hosts(lower)
        .into_iter()
        .chain(lower.strip_prefix(b"//").map(|r| {
            r.split(|b| matches!(b, b'/' | b'?' | b'#'))
                .next()
                .unwrap_or(&[])
        }))
        .any(|h| {
            let h = h.rsplit(|b| *b == b'@').next().unwrap_or(&[]);
            // `[::216.58.214.206]`: an IPv4 address written as IPv6.
            if h.first() == Some(&b'[') && h.contains(&b'.') {
                return true;
            }
            let h = h.split(|b| *b == b':').next().unwrap_or(&[]);
            !h.is_empty()
                && h.iter()
                    .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'x'))
                && !plain_dotted(h)
                && parse_ipv4_loose(h).is_some()
                && h.iter().any(u8::is_ascii_digit)
        })
}

/// Open redirect targets that only an attack writes: scheme-relative URLs with extra or
/// back slashes, a URL behind a path slash, a scheme without its slashes, a domain
/// before an `@`, numeric hosts in odd notations, a URL climbing back out of its path. A
/// plain absolute or scheme-relative URL is not flagged (at HIGH a leading `//` is).
pub fn open_redirect(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    if s.place() == Place::UriPath {
        return redirect_in_path(s.lower());
    }
    let original = s.lower();
    // Look-alikes of a slash or dash before a domain (`〱evil.com`, `/ーevil.com`), and a
    // NUL inside a host (`//evil%00.com`).
    let shown = super::decode::percent_once(s.raw().trim_ascii());
    let after_slash = shown.strip_prefix(b"/").unwrap_or(&shown);
    let lookalike = [
        "\u{3031}", "\u{3035}", "\u{309d}", "\u{30fc}", "\u{2215}", "\u{ff0f}",
    ]
    .iter()
    .any(|c| {
        after_slash
            .strip_prefix(c.as_bytes())
            .is_some_and(|r| r.first().is_some_and(u8::is_ascii_alphanumeric) && r.contains(&b'.'))
    });
    let nul_host = (original.starts_with(b"//") || original.starts_with(b"http"))
        && (s.raw().contains(&0) || s.raw().windows(3).any(|w| w.eq_ignore_ascii_case(b"%00")));
    if lookalike || nul_host {
        return found(
            Threat::OpenRedirect,
            "lookalike-target",
            "obfuscated redirect target",
        );
    }
    // A redirect target starts with a slash, a backslash, a scheme or markup.
    let head = original.trim_ascii_start();
    let plausible = matches!(head.first(), Some(b'/' | b'\\' | b'<' | b'\t'))
        || [
            &b"http"[..],
            b"ftp",
            b"javascript",
            b"vbscript",
            b"data:",
            b"//",
        ]
        .iter()
        .any(|p| head.starts_with(p))
        || head.iter().take(12).any(|b| *b == b':');
    if !plausible {
        return None;
    }
    let lower: Vec<u8> = original
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
        .collect();
    if let Some(rule) = REDIRECT.first(&lower) {
        // A valid dotted quad is a plain URL (RFI's business); an impossible one is a trick.
        let valid_quad = rule == "bogus-host"
            && url_hosts(&lower).iter().any(|h| {
                let h = h.rsplit(|b| *b == b'@').next().unwrap_or(&[]);
                plain_dotted(h)
                    && h.split(|b| *b == b'.').all(|p| {
                        std::str::from_utf8(p)
                            .ok()
                            .and_then(|t| t.parse::<u16>().ok())
                            .is_some_and(|n| n < 256)
                    })
            });
        if !valid_quad {
            return found(Threat::OpenRedirect, rule, "obfuscated redirect target");
        }
    }
    // Control characters among a target's leading slashes (`/%09/evil.com`).
    let lead = original
        .iter()
        .take_while(|b| matches!(b, b'/' | b'\\' | b'\t' | b'\n' | b'\r' | b' '))
        .count();
    if lead >= 2
        && original
            .get(..lead)
            .is_some_and(|l| l.iter().any(|b| matches!(b, b'\t' | b'\n' | b'\r')))
    {
        return found(
            Threat::OpenRedirect,
            "control-in-slashes",
            "obfuscated redirect target",
        );
    }
    let (http_context, at) = (
        lower.starts_with(b"http") || lower.starts_with(b"//"),
        lower.contains(&b'@'),
    );
    if (http_context || at) && odd_host(&lower) {
        return found(
            Threat::OpenRedirect,
            "numeric-host",
            "redirect to a numeric host",
        );
    }
    if sensitivity == Sensitivity::High && lower.starts_with(b"//") {
        return found(
            Threat::OpenRedirect,
            "scheme-relative",
            "scheme-relative redirect target",
        );
    }
    None
}

/// A redirect target smuggled into a request path: an empty segment or a backslash where a
/// scheme-relative URL starts (`/items///evil.com/`, `/x/\\evil.com`), a domain before an
/// `@` behind it, a URL with a scheme as a segment followed by those tricks.
fn redirect_in_path(lower: &[u8]) -> Option<Finding> {
    let path = lower
        .split(|b| *b == b'?' || *b == b'#')
        .next()
        .unwrap_or(&[]);
    let mut starts = Vec::new();
    for (i, w) in path.windows(2).enumerate() {
        if matches!(w, b"//" | b"/\\" | b"\\/" | b"\\\\") && starts.last().is_none_or(|l| i > l + 1)
        {
            starts.push(i);
        }
        if w == b"/h"
            && path
                .get(i + 1..)
                .is_some_and(|r| r.starts_with(b"http:") || r.starts_with(b"https:"))
        {
            starts.push(i + 1);
        }
    }
    for at in starts.into_iter().take(8) {
        let tail: Vec<u8> = path
            .get(at..)
            .unwrap_or(&[])
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
            .collect();
        let triple =
            tail.starts_with(b"///") || tail.starts_with(b"/\\") || tail.starts_with(b"\\");
        let userinfo = REDIRECT
            .get("userinfo-spoof")
            .is_some_and(|r| r.is_match(&tail));
        let tricks = REDIRECT
            .first(&tail)
            .is_some_and(|rule| rule != "bogus-host" && rule != "slashes");
        if triple || userinfo || tricks {
            return found(
                Threat::OpenRedirect,
                "path-redirect",
                "redirect target in a path",
            );
        }
    }
    None
}

/// CR/LF injection: a line break followed by a header line or a second response. In free
/// text (form fields, JSON strings, bodies) line breaks are ordinary, so only a known
/// response header counts there.
pub fn crlf(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    static HEADER: LazyLock<Rules> = LazyLock::new(|| {
        Rules::new(&[
            (
                "header-injection",
                r"[\r\n]\s*(set-cookie|location|content-type|content-length|refresh|x-xss-protection|access-control-allow-\w+|content-security-policy|transfer-encoding|link|x-forwarded-\w+|host)\s*:",
            ),
            ("response-splitting", r"[\r\n]\s*http/\d"),
        ])
    });
    static ANY: LazyLock<Rules> = LazyLock::new(|| {
        Rules::new(&[(
            "header-injection",
            r"\r?\n\s*[a-z][\w-]+\s*:\s*\S|\r?\n\s*\r?\n\s*<",
        )])
    });
    static LEADING: LazyLock<Rules> = LazyLock::new(|| {
        Rules::new(&[(
            "header-injection",
            r"^[ \t]*[\r\n]+[ \t]*([a-z][\w-]+\s*:\s*\S|<)",
        )])
    });
    let lower = s.lower();
    let unescaped = s.unescaped().map(<[u8]>::to_ascii_lowercase);
    for form in [Some(lower), unescaped.as_deref()].into_iter().flatten() {
        if !form.iter().any(|b| matches!(b, b'\r' | b'\n')) {
            continue;
        }
        if let Some(rule) = HEADER.first(form) {
            return found(Threat::Crlf, rule, "CR/LF injection");
        }
        let rules: &Rules = if s.place().is_text() { &LEADING } else { &ANY };
        if let Some(rule) = rules.first(form) {
            return found(Threat::Crlf, rule, "CR/LF injection");
        }
    }
    None
}

/// XML external entities and XInclude.
pub fn xxe(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    static XXE: LazyLock<Rules> = LazyLock::new(|| {
        Rules::new(&[
            (
                "external-entity",
                r"<!entity\s+(%\s*)?[\w.-]+\s+(system|public)\b",
            ),
            (
                "parameter-entity",
                r"<!entity\s+%\s*[\w.-]+\s|%[\w.-]+;\s*\]>",
            ),
            (
                "xinclude",
                r"<\w*:?include\b[^>]*xmlns(:\w+)?\s*=\s*['\x22]http://www\.w3\.org/2001/xinclude|xmlns:xi\s*=.*<xi:include",
            ),
            ("doctype-entity", r"<!doctype\s+\w+\s*\[[^\]]*<!entity"),
        ])
    });
    XXE.first(s.lower())
        .and_then(|rule| found(Threat::Xxe, rule, "XML external entity"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_compile() {
        assert!(
            SSRF_PATHS.rejected().is_empty(),
            "{:?}",
            SSRF_PATHS.rejected()
        );
        assert!(JAVA.rejected().is_empty(), "{:?}", JAVA.rejected());
        assert!(PHP.rejected().is_empty(), "{:?}", PHP.rejected());
        assert!(SSTI.rejected().is_empty(), "{:?}", SSTI.rejected());
        assert!(NOSQL.rejected().is_empty(), "{:?}", NOSQL.rejected());
        assert!(LDAP.rejected().is_empty(), "{:?}", LDAP.rejected());
        assert!(PROTO.rejected().is_empty(), "{:?}", PROTO.rejected());
        assert!(REDIRECT.rejected().is_empty(), "{:?}", REDIRECT.rejected());
    }

    #[test]
    fn loose_ipv4() {
        assert_eq!(parse_ipv4_loose(b"169.254.169.254"), Some(0xa9fe_a9fe));
        assert_eq!(parse_ipv4_loose(b"2852039166"), Some(0xa9fe_a9fe));
        assert_eq!(parse_ipv4_loose(b"0xa9fea9fe"), Some(0xa9fe_a9fe));
        assert_eq!(parse_ipv4_loose(b"0251.0376.0251.0376"), Some(0xa9fe_a9fe));
        assert_eq!(parse_ipv4_loose(b"169.254.43518"), Some(0xa9fe_a9fe));
        assert_eq!(parse_ipv4_loose(b"0xa9.0xfe.0xa9.0xfe"), Some(0xa9fe_a9fe));
        assert_eq!(parse_ipv4_loose(b"1.2.3.4.5"), None);
        assert_eq!(parse_ipv4_loose(b"256.1.1.1"), None);
        assert_eq!(parse_ipv4_loose(b"example"), None);
    }

    #[test]
    fn log4j_lookups_resolve() {
        let mut out = Vec::new();
        log4j_resolve(b"${${lower:j}${::-n}di:ldap://x/a}", 0, &mut out);
        assert_eq!(out, b"${jndi:ldap://x/a}");
    }
}
