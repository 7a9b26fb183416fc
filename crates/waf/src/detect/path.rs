//! Paths: traversal and local file inclusion, restricted file extensions, administration
//! paths.

use std::sync::LazyLock;

use super::prefilter::Rules;
use super::{Finding, Form, Place, Sensitivity, Subject, Threat};

static LFI: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        (
            "php-wrapper",
            r"\b(php|phar|zip|expect|glob|compress\.zlib|compress\.bzip2|ogg|ssh2\.\w+|rar|zlib)://|\bdata://|\bphp://(filter|input|stdin|memory|temp|fd)",
        ),
        (
            "php-filter",
            r"\bconvert\.(iconv|base64-(en|de)code|quoted-printable-(en|de)code)\b|\bstring\.(rot13|toupper|tolower|strip_tags)\b|\bzlib\.(de|in)flate\b|\bresource\s*=\s*[\w./]+",
        ),
        (
            "sensitive-file",
            r"(^|[/\\])(etc[/\\](passwd|shadow|group|gshadow|hosts|issue|motd|crontab|sudoers|fstab|mtab|inittab|resolv\.conf|profile|bashrc|httpd|apache2?|nginx|mysql|php\d?|ssh|ftpchroot|ftpusers|master\.passwd|security|mail|network|rpc|sysconfig|init\.d|xinetd|syslog|logrotate|redhat-release|lsb-release|os-release|hostname|aliases|exports|ld\.so|modules|pam\.d|netconfig|pureftpd|vsftpd|proftpd|samba|squid|tomcat|webmin|cron|dbus|default|environment|environ|machine-id|passwd-|shadow-|mailman|sysctl|smb\.conf|my\.cnf|krb5|ldap|postfix|dovecot|openldap|x11)|proc[/\\](self|\d+|version|cmdline|mounts|net|sched_debug|cpuinfo|meminfo|partitions|stat|config)|(windows|winnt)[/\\](win\.ini|system\.ini|system32|repair|php\.ini|panther|debug|iis\d*\.log|inf)|boot\.ini|win\.ini|system32[/\\]|repair[/\\](sam|system|software|security)|inetpub[/\\]|\.ssh[/\\]|id_(rsa|dsa|ecdsa|ed25519)\b|authorized_keys|known_hosts|\.(bash|zsh|mysql|psql|php|sh|lesshst|viminfo)_?history|\.htpasswd|\.htaccess|web\.config|wp-config\.php|php\.ini|httpd\.conf|httpd-vhosts\.conf|apache2?\.conf|nginx\.conf|my\.cnf|\.env\b|config\.inc\.php|localsettings\.php|configuration\.php|settings\.php|access[_.]?log|error[_.]?log|pure-ftpd\.log|proftpd\.\w+\.log|\.(bashrc|bash_profile|bash_logout|profile|netrc|forward|shosts|rhosts|xauthority|logout|pass|passwd|pgpass|git/config|aws/credentials|docker/config\.json|s3cfg|npmrc|viminfo|mysql_history)\b|grub\.conf|boot/grub)",
        ),
        (
            "system-path",
            r"^\s*(file:/+|/+)(etc|proc|var/\w|usr/(local|pkg|pkgsrc|lib|share|bin|sbin|include|src|apache2?|etc|ports|home|spool|adm|tmp)|root|opt/|bin/|sbin/|dev/|sys/|boot|srv/|apache2?/|xampp|nginx|lib/|tmp/|home/[^/]+/\.)",
        ),
        (
            "config-file",
            r"^\s*(\.\./|/)*_?(config|configuration|database|db|settings|wp-config|local_settings|users\.db|install|setup|pass|data)\.(php|asp|aspx|jsp|inc|js|dat|ini|php\.bak)\s*$",
        ),
        (
            "log-path",
            r"^\s*(\.\./|/)*(\w+/)?logs?/([\w-]+/)?[\w.-]*(access|error|auth|secure|messages|syslog|proftpd|pure-ftpd)[\w.-]*$",
        ),
        ("dot-segments", r"^[/\\]?(\.[/\\]){4,}"),
        (
            "windows-path",
            r"^\s*(file:/+|/)?[a-z]:[/\\]+(windows|winnt|boot\.ini|users|documents and settings|inetpub|program files|programdata|system32|xampp|apache|php|wamp|autoexec|config\.sys|\$recycle)",
        ),
        ("unc-path", r"^\s*\\\\[\w.-]+\\[\w$]"),
    ])
});

/// `..` used as a path step (`../`, `..\`, `...\`, `..;/`, a broken encoding `..2f`, or
/// at the end of the value).
fn traversals(t: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while let Some(rest) = t.get(i..) {
        if rest.is_empty() {
            break;
        }
        if rest.starts_with(b"..")
            && (i == 0
                || matches!(
                    t.get(i - 1),
                    Some(b'/' | b'\\' | b'.' | b'=' | b' ' | b'"' | b'\'' | b':' | b'f' | b'c')
                ))
        {
            let dots = rest.iter().take_while(|b| **b == b'.').count();
            let after = rest.get(dots..).unwrap_or(&[]);
            let step = after.is_empty()
                || matches!(after.first(), Some(b'/' | b'\\' | b';' | b'?' | b'%'))
                || after.starts_with(b"2f")
                || after.starts_with(b"5c");
            if step && dots <= 4 {
                n += 1;
            }
            i += dots;
            continue;
        }
        i += 1;
    }
    n
}

fn lfi_check(
    lower: &[u8],
    place: Place,
    nul: bool,
    sensitivity: Sensitivity,
) -> Option<&'static str> {
    let steps = traversals(lower);
    let high = sensitivity == Sensitivity::High;
    // A path that climbs twice, or once where no legitimate value does (a request path,
    // a value that also ends in NUL).
    let climbing = steps >= 2 || (steps == 1 && (place == Place::UriPath || nul || high));
    if climbing {
        return Some("traversal");
    }
    if let Some(rule) = LFI.first(lower) {
        // One step up and a sensitive file, or a file / wrapper on its own.
        if place == Place::UriPath && rule == "system-path" {
            return None;
        }
        return Some(rule);
    }
    if steps == 1 {
        // `../x` on its own is a relative link, but not next to an absolute start.
        let starts_odd =
            lower.starts_with(b"/..") || lower.starts_with(b"\\..") || lower.starts_with(b"..\\");
        if starts_odd {
            return Some("traversal");
        }
    }
    None
}

/// The `GenericLFI_*` detector.
pub fn lfi(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    let raw = s.raw();
    let nul = raw.contains(&0) || raw.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00"));
    let mk = |rule, form| {
        Some(Finding::new(
            Threat::Lfi,
            rule,
            form,
            "path traversal or local file inclusion",
        ))
    };
    if let Some(rule) = lfi_check(s.lower(), s.place(), nul, sensitivity) {
        return mk(rule, Form::Decoded);
    }
    // `0x2e0x2e0x2f`: hex notation for `../`.
    if s.lower().windows(8).any(|w| w == b"0x2e0x2e") {
        let mut v = s.lower().to_vec();
        for (from, to) in [(&b"0x2e"[..], b'.'), (b"0x2f", b'/'), (b"0x5c", b'\\')] {
            let mut out = Vec::with_capacity(v.len());
            let mut i = 0;
            while let Some(&b) = v.get(i) {
                if v.get(i..i + 4) == Some(from) {
                    out.push(to);
                    i += 4;
                } else {
                    out.push(b);
                    i += 1;
                }
            }
            v = out;
        }
        if let Some(rule) = lfi_check(&v, s.place(), nul, sensitivity) {
            return mk(rule, Form::Decoded);
        }
    }
    if let Some(u) = s.unescaped()
        && let Some(rule) = lfi_check(&u.to_ascii_lowercase(), s.place(), nul, sensitivity)
        && rule != "traversal"
    {
        return mk(rule, Form::Unescaped);
    }
    None
}

/// Extensions of files a site should never serve: backups, logs, configuration, keys,
/// databases, scripts for the server's shell.
const RESTRICTED: &[&[u8]] = &[
    b"bak",
    b"backup",
    b"old",
    b"orig",
    b"save",
    b"sav",
    b"swp",
    b"swo",
    b"tmp",
    b"temp",
    b"log",
    b"ini",
    b"conf",
    b"config",
    b"cfg",
    b"sql",
    b"sqlite",
    b"sqlite3",
    b"db",
    b"mdb",
    b"dump",
    b"env",
    b"htaccess",
    b"htpasswd",
    b"git",
    b"svn",
    b"hg",
    b"ds_store",
    b"pem",
    b"key",
    b"p12",
    b"pfx",
    b"jks",
    b"keystore",
    b"inc",
    b"asa",
    b"cdx",
    b"htr",
    b"idq",
    b"ida",
    b"printer",
    b"bat",
    b"cmd",
    b"ps1",
    b"vbs",
    b"exe",
    b"dll",
    b"reg",
    b"pwd",
    b"passwd",
    b"tfstate",
    b"npmrc",
    b"dockerenv",
];

/// Of those, the ones that are also top-level domains or common words: only in a path.
const PATH_ONLY: &[&[u8]] = &[
    b"sav", b"save", b"old", b"key", b"inc", b"log", b"cmd", b"temp",
];

fn restricted_ext(name: &[u8], in_path: bool) -> Option<&'static [u8]> {
    let name = name.trim_ascii_end();
    let dot = name.iter().rposition(|b| *b == b'.')?;
    let ext = name.get(dot + 1..)?.to_ascii_lowercase();
    // `/.env`, `/.git`: a dot file is its extension.
    let found = RESTRICTED.iter().find(|e| **e == ext.as_slice()).copied()?;
    if !in_path && PATH_ONLY.contains(&found) {
        return None;
    }
    Some(found)
}

/// The `RestrictedExtensions_*` detector: the last segment of a path (or a file name in a
/// query argument) ends in a restricted extension.
pub fn restricted_extension(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    let mk = || {
        Some(Finding::new(
            Threat::RestrictedExtension,
            "restricted-extension",
            Form::Decoded,
            "restricted file extension",
        ))
    };
    let text = s.canon();
    if !text.contains(&b'.') {
        return None;
    }
    match s.place() {
        Place::UriPath => {
            let path = text
                .split(|b| *b == b'?' || *b == b'#')
                .next()
                .unwrap_or(&[]);
            let path = path.split(|b| *b == b';').next().unwrap_or(&[]);
            let last = path.rsplit(|b| *b == b'/').next().unwrap_or(&[]);
            restricted_ext(last, true).and_then(|_| mk())
        }
        Place::QueryArg | Place::QueryString => {
            // A file name: no spaces, not a URL, not an e-mail address.
            let values: Vec<&[u8]> = if s.place() == Place::QueryString {
                text.split(|b| *b == b'&')
                    .filter_map(|kv| kv.splitn(2, |b| *b == b'=').nth(1))
                    .collect()
            } else {
                vec![text]
            };
            for v in values {
                let looks_like_file = !v.is_empty()
                    && !v.contains(&b' ')
                    && !v.contains(&b'@')
                    && !v.windows(3).any(|w| w == b"://")
                    && (v.contains(&b'/')
                        || v.contains(&b'\\')
                        || v.first() == Some(&b'.')
                        || v.iter().filter(|b| **b == b'.').count() == 1);
                if looks_like_file {
                    let last = v
                        .rsplit(|b| *b == b'/' || *b == b'\\')
                        .next()
                        .unwrap_or(&[]);
                    if restricted_ext(last, false).is_some() {
                        return mk();
                    }
                }
            }
            None
        }
        _ => None,
    }
}

/// Path segments that are administration consoles.
const ADMIN_SEGMENTS: &[&[u8]] = &[
    b"admin",
    b"administrator",
    b"administration",
    b"wp-admin",
    b"wp-login.php",
    b"phpmyadmin",
    b"pma",
    b"myadmin",
    b"admin.php",
    b"adminer.php",
    b"adminer",
    b"admin.asp",
    b"admin.aspx",
    b"admin.jsp",
    b"admin.html",
    b"admincp",
    b"admin-console",
    b"jmx-console",
    b"web-console",
    b"server-status",
    b"server-info",
    b"actuator",
    b"_admin",
    b"cpanel",
    b"webadmin",
    b"siteadmin",
    b"sysadmin",
    b"admin_area",
    b"adminpanel",
    b"admin-panel",
    b"backoffice",
    b"_profiler",
    b"_wdt",
    b"solr",
    b"manager",
    b"jenkins",
    b"phpinfo.php",
    b"_ignition",
];

/// The `AdminProtection_URIPATH` detector: a path segment names an administration console
/// (any segment, as AWS WAF's rule matches them anywhere in the path; sites with their own
/// `/admin` API exclude the rule, as with AWS).
pub fn admin(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    let mk = || {
        Some(Finding::new(
            Threat::AdminPath,
            "admin-path",
            Form::Decoded,
            "administration path",
        ))
    };
    let path = match s.place() {
        Place::UriPath => s.lower(),
        Place::QueryArg if sensitivity == Sensitivity::High && s.lower().first() == Some(&b'/') => {
            s.lower()
        }
        _ => return None,
    };
    let path = path
        .split(|b| *b == b'?' || *b == b'#' || *b == b';')
        .next()
        .unwrap_or(&[]);
    let segs: Vec<&[u8]> = path
        .split(|b| *b == b'/')
        .filter(|s| !s.is_empty())
        .collect();
    for (i, seg) in segs.iter().enumerate() {
        if ADMIN_SEGMENTS.contains(seg) {
            // `manager` only as Tomcat's `/manager/html`.
            if *seg == b"manager"
                && segs
                    .get(i + 1)
                    .is_none_or(|n| *n != b"html" && *n != b"text")
            {
                continue;
            }
            return mk();
        }
    }
    None
}

/// Path segments of a web application's private files.
const PRIVATE_SEGMENTS: &[&[u8]] = &[
    b"web-inf",
    b"meta-inf",
    b".git",
    b".svn",
    b".hg",
    b".bzr",
    b"_darcs",
    b".ds_store",
    b".idea",
    b".aws",
    b".ssh",
    b".docker",
    b".kube",
    b"eval-stdin.php",
    b"_ignition",
    b".env.local",
    b".env.production",
];

/// The `ExploitablePaths_URIPATH` detector: a path segment into a web application's or
/// its repository's private files (`/WEB-INF/web.xml`, `/.git/config`).
pub fn exploitable(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    if s.place() != Place::UriPath {
        return None;
    }
    let path = s.lower();
    let path = path
        .split(|b| *b == b'?' || *b == b'#' || *b == b';')
        .next()
        .unwrap_or(&[]);
    path.split(|b| *b == b'/' || *b == b'\\')
        .any(|seg| PRIVATE_SEGMENTS.contains(&seg))
        .then(|| {
            Finding::new(
                Threat::ExploitablePath,
                "private-path",
                Form::Decoded,
                "path into private application files",
            )
        })
}

/// The Linux rule group's `LFI_*` detector: a Linux system file, named by an absolute
/// path or climbed to.
pub fn linux_file(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    let found = s.lfi(sensitivity)?;
    if !matches!(
        found.rule,
        "sensitive-file" | "system-path" | "log-path" | "traversal"
    ) {
        return None;
    }
    let text = s.lower();
    let linux = [
        &b"etc/"[..],
        b"proc/",
        b"/var/",
        b"/usr/",
        b"/root",
        b"/home/",
        b".ssh",
        b"_history",
        b"/dev/",
        b"/sys/",
        b"/boot",
        b".bashrc",
        b".profile",
        b".htpasswd",
        b"/bin/",
        b"/opt/",
        b"/tmp/",
        b"logs/",
    ]
    .iter()
    .any(|p| text.windows(p.len()).any(|w| w == *p));
    linux.then(|| {
        Finding::new(
            Threat::LinuxFile,
            found.rule,
            found.form,
            "Linux system file",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_compile() {
        assert!(LFI.rejected().is_empty(), "{:?}", LFI.rejected());
    }

    #[test]
    fn counts_traversals() {
        assert_eq!(traversals(b"../../etc/passwd"), 2);
        assert_eq!(traversals(b"..\\..\\x"), 2);
        assert_eq!(traversals(b"file..txt"), 0);
        assert_eq!(traversals(b"..2f..2fetc"), 2);
        assert_eq!(traversals(b"see ../docs"), 1);
    }
}
