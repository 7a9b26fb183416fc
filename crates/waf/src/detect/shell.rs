//! OS command injection: Unix shells, Windows `cmd.exe`, PowerShell.
//!
//! A command is a known program name at a command position (the start of the value, or
//! after `;`, `|`, `&`, a newline, a backtick or `$(`), with the arguments that program
//! takes (a flag, a path, a number, an address) or none before the next separator. An
//! English word that is also a command name (`cat`, `sleep`, `find`) needs arguments of
//! that shape; at the start of a value, without a separator before it, every command does.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use super::prefilter::Rules;
use super::{Finding, Form, Sensitivity, Subject, Threat};

/// Programs that are rarely an English word: at a command position they need no argument.
const STRONG: &[&[u8]] = &[
    b"whoami",
    b"uname",
    b"ifconfig",
    b"ipconfig",
    b"netstat",
    b"nslookup",
    b"wget",
    b"curl",
    b"nc",
    b"ncat",
    b"netcat",
    b"bash",
    b"sh",
    b"zsh",
    b"ksh",
    b"csh",
    b"tcsh",
    b"dash",
    b"busybox",
    b"python",
    b"python2",
    b"python3",
    b"perl",
    b"ruby",
    b"php",
    b"lua",
    b"telnet",
    b"chmod",
    b"chown",
    b"useradd",
    b"usermod",
    b"crontab",
    b"base64",
    b"xxd",
    b"nohup",
    b"sudo",
    b"id",
    b"pwd",
    b"env",
    b"printenv",
    b"mkfifo",
    b"mknod",
    b"tftp",
    b"scp",
    b"gcc",
    b"pkill",
    b"killall",
    b"uptime",
    b"hostname",
    b"traceroute",
    b"lsof",
    b"ps",
    b"systemctl",
    b"iptables",
    b"socat",
    b"nmap",
    b"getent",
    b"sysctl",
    b"dmesg",
    b"lsb_release",
    b"sysinfo",
    b"whereis",
    b"ls",
    b"systeminfo",
    b"tasklist",
    b"powershell",
    b"cmd",
    b"certutil",
    b"bitsadmin",
    b"wmic",
    b"net",
    b"ping",
];

/// Programs that are also words: at a command position they need shell-shaped arguments.
const WORDY: &[&[u8]] = &[
    b"cat",
    b"echo",
    b"sleep",
    b"kill",
    b"head",
    b"tail",
    b"more",
    b"less",
    b"find",
    b"grep",
    b"awk",
    b"sed",
    b"cp",
    b"mv",
    b"rm",
    b"touch",
    b"mkdir",
    b"tar",
    b"unzip",
    b"cd",
    b"dir",
    b"type",
    b"which",
    b"exec",
    b"eval",
    b"source",
    b"wc",
    b"file",
    b"stat",
    b"du",
    b"df",
    b"su",
    b"ssh",
    b"ftp",
    b"who",
    b"w",
    b"last",
    b"history",
    b"set",
    b"export",
    b"exit",
    b"host",
    b"dig",
    b"openssl",
    b"od",
    b"strings",
    b"xargs",
    b"timeout",
    b"time",
    b"read",
    b"nl",
    b"tee",
    b"chgrp",
    b"ln",
    b"passwd",
    b"shutdown",
    b"reboot",
    b"service",
    b"mount",
    b"date",
    b"uniq",
    b"sort",
    b"diff",
];

/// Command separators. In a document, line breaks and backticks (Markdown code spans)
/// are text.
fn is_sep(b: u8, document: bool) -> bool {
    matches!(b, b';' | b'|' | b'&') || (!document && matches!(b, b'\n' | b'`' | b'\r'))
}

/// The Unix normal form: quotes and escapes that split a word removed (`w'h'o'am'i`,
/// `c\at`), `$IFS`-style spaces made spaces, literal `\n` made a newline, lower case.
fn unix_form(lower: &[u8]) -> Cow<'_, [u8]> {
    if !lower
        .iter()
        .any(|b| matches!(b, b'\'' | b'"' | b'\\' | b'$' | b'\t' | 0x0b | 0x0c))
    {
        return Cow::Borrowed(lower);
    }
    let mut out = Vec::with_capacity(lower.len());
    let mut i = 0;
    while let Some(&b) = lower.get(i) {
        let rest = lower.get(i..).unwrap_or(&[]);
        if let Some(n) = (b == b'$')
            .then(|| {
                [&b"${ifs}"[..], b"$ifs$9", b"${ifs%??}", b"$ifs"]
                    .iter()
                    .find(|p| rest.starts_with(p))
                    .map(|p| p.len())
            })
            .flatten()
        {
            out.push(b' ');
            i += n;
            continue;
        }
        match b {
            b'\'' | b'"' => {}
            b'\\' => match lower.get(i + 1) {
                Some(b'n') => {
                    out.push(b'\n');
                    i += 1;
                }
                Some(c) if c.is_ascii_alphanumeric() || *c == b'/' => {}
                _ => out.push(b),
            },
            b'$' if matches!(lower.get(i + 1), Some(b'@' | b'*' | b'0'..=b'9'))
                && lower.get(i + 1) != Some(&b'(') =>
            {
                i += 1;
            }
            b'\t' | 0x0b | 0x0c => out.push(b' '),
            _ => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

/// `$IFS`, `${IFS}`, `$IFS$9` made spaces (probes write them into any command).
fn ifs_spaces(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.windows(4).any(|w| w == b"$ifs" || w == b"{ifs") {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        let rest = text.get(i..).unwrap_or(&[]);
        if let Some(p) = [&b"${ifs}"[..], b"$ifs$9", b"$ifs"]
            .iter()
            .find(|p| rest.starts_with(p))
        {
            out.push(b' ');
            i += p.len();
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// `text` without the bytes `drop` picks (what a shell ignores), borrowed when there are
/// none.
fn without(text: &[u8], drop: impl Fn(u8) -> bool) -> Cow<'_, [u8]> {
    if text.iter().any(|b| drop(*b)) {
        Cow::Owned(text.iter().copied().filter(|b| !drop(*b)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Whether the argument text after `word` looks like shell arguments: a flag (`-l`), a
/// path, a variable, a redirection, a URL, a drive; a number only for the programs that
/// take one (`sleep 5`, `ping -c`, `kill 9`).
fn shell_args(word: &[u8], args: &[u8]) -> bool {
    let a = args.trim_ascii_start();
    let second = a.get(1).copied();
    match a.first() {
        None => false,
        Some(b'-') => second.is_some_and(|c| c.is_ascii_alphabetic() || c == b'-'),
        Some(b'/' | b'~' | b'>' | b'<' | b'*' | b'{') => true,
        Some(b'$') => second.is_some_and(|c| c.is_ascii_alphabetic() || c == b'{' || c == b'('),
        Some(b'%') => second.is_some_and(|c| c.is_ascii_alphabetic()),
        Some(b'.') => a.starts_with(b"./") || a.starts_with(b"../"),
        Some(c) if c.is_ascii_digit() => {
            matches!(
                word,
                b"sleep" | b"ping" | b"kill" | b"timeout" | b"nc" | b"ncat" | b"telnet" | b"exit"
            ) && a
                .split(|b| b.is_ascii_whitespace())
                .next()
                .is_some_and(|t| t.iter().all(|c| c.is_ascii_digit() || *c == b'.'))
        }
        _ => {
            a.starts_with(b"http:")
                || a.starts_with(b"https:")
                || a.get(1..3) == Some(b":\\")
                || a.get(1..3) == Some(b":/")
        }
    }
}

/// Programs that, alone between separators, are a probe (`;id;`, `|whoami`).
const BARE: &[&[u8]] = &[
    b"id",
    b"whoami",
    b"uname",
    b"ifconfig",
    b"ipconfig",
    b"netstat",
    b"pwd",
    b"ls",
    b"dir",
    b"ps",
    b"env",
    b"printenv",
    b"systeminfo",
    b"tasklist",
    b"hostname",
    b"uptime",
    b"dmesg",
    b"lsb_release",
    b"sysinfo",
];

/// Whether `word` at a command position, followed by `args` (up to the next separator),
/// is a command. `after_sep`: there was a separator before it.
/// [`STRONG`], [`WORDY`] and [`BARE`] as sets: every word of a value at a command
/// position is looked up.
static SETS: LazyLock<[HashSet<&'static [u8]>; 3]> =
    LazyLock::new(|| [STRONG, WORDY, BARE].map(|l| l.iter().copied().collect()));

fn is_command(word: &[u8], path: bool, args: &[u8], after_sep: bool) -> bool {
    let [strong_set, wordy_set, bare_set] = &*SETS;
    let strong = strong_set.contains(word);
    let wordy = wordy_set.contains(word);
    if !strong && !wordy {
        return false;
    }
    let bare = args.trim_ascii().is_empty();
    if path {
        // `/usr/bin/id`, `/bin/cat`: a path to a program is a command.
        return true;
    }
    if word == b"which" {
        let next = args
            .trim_ascii()
            .split(|b| *b == b' ')
            .next()
            .unwrap_or(&[]);
        return strong_set.contains(next) || matches!(next, b"gcc" | b"cc" | b"make");
    }
    if word == b"echo" {
        // `echo` proves nothing unless its output goes somewhere or runs something.
        return args.contains(&b'>') || args.windows(2).any(|w| w == b"$(") || args.contains(&b'`');
    }
    if after_sep {
        return shell_args(word, args) || (bare && bare_set.contains(word));
    }
    shell_args(word, args)
        || (bare
            && matches!(
                word,
                b"whoami"
                    | b"ifconfig"
                    | b"ipconfig"
                    | b"uname"
                    | b"netstat"
                    | b"systeminfo"
                    | b"tasklist"
            ))
}

/// Scans the command positions of a Unix-normalised value.
fn commands(form: &[u8], sensitivity: Sensitivity, document: bool) -> bool {
    let mut i = 0;
    let mut after_sep = false;
    // A line break before an indented line is layout (GraphQL, YAML, code), not a
    // separator a probe would use.
    let mut indented_line = false;
    let len = form.len();
    let mut positions = 0;
    while i <= len && positions < 64 {
        // Skip to the start of a word.
        let mut j = i;
        while let Some(&c) = form.get(j) {
            if matches!(c, b' ' | b'(' | b'{' | b'!')
                || (c == b'$' && form.get(j + 1) == Some(&b'('))
            {
                j += 1;
            } else {
                break;
            }
        }
        let start = j;
        while form
            .get(j)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'_' | b'-'))
        {
            j += 1;
        }
        let token = form.get(start..j).unwrap_or(&[]);
        let end = form
            .get(j..)
            .unwrap_or(&[])
            .iter()
            .position(|c| is_sep(*c, document) || *c == b')')
            .map_or(len, |p| p + j);
        let args = form.get(j..end).unwrap_or(&[]);
        if !token.is_empty() {
            positions += 1;
            let path = token.contains(&b'/');
            let word = token.rsplit(|b| *b == b'/').next().unwrap_or(&[]);
            let word = word.strip_suffix(b".exe").unwrap_or(word);
            let prog_path = path
                && (token.starts_with(b"/bin/")
                    || token.starts_with(b"/usr/")
                    || token.starts_with(b"/sbin/")
                    || token.starts_with(b"usr/bin/")
                    || token.starts_with(b"./"));
            let bare = args.trim_ascii().is_empty();
            if !((document || indented_line) && bare)
                && is_command(
                    word,
                    prog_path,
                    args,
                    after_sep || sensitivity == Sensitivity::High,
                )
            {
                return true;
            }
        }
        // Next command position: after the next separator.
        let Some(next) = form
            .get(j..)
            .unwrap_or(&[])
            .iter()
            .position(|c| is_sep(*c, document))
            .map(|p| p + j)
        else {
            break;
        };
        i = next + 1;
        while form.get(i).is_some_and(|c| is_sep(*c, document)) {
            i += 1;
        }
        indented_line =
            form.get(i - 1) == Some(&b'\n') && matches!(form.get(i), Some(b' ' | b'\t'));
        after_sep = true;
    }
    false
}

static UNIX: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        ("ifs", r"\$\{?ifs\b"),
        (
            "shell-path",
            r"/bin/(ba|z|da|k|c|tc)?sh\b|/dev/(tcp|udp)/|/usr/bin/(env|perl|python\d?|id|whoami|wget|curl)\b",
        ),
        ("shellshock", r"\(\s*\)\s*\{\s*:?\s*;?\s*\}\s*;"),
        (
            "command-substitution",
            r"\$\(\s*`?\s*[a-z/]|`\s*(/[a-z/]+/)?(id|whoami|uname|ls|cat|pwd|wget|curl|sleep|ping|nc|bash|sh|echo|env|ifconfig|netstat|perl|python)\b[^`]*`",
        ),
        (
            "redirect",
            r"(>|>>)\s*/(tmp|dev|var|etc)/|2\s*>\s*&\s*1|\|\s*(ba)?sh\b|\bnc(at)?\s+(-\w+\s+)*-[elc]\s|\s-e\s+/bin/",
        ),
        ("ssi-exec", r"<!--\s*#\s*(exec|include|echo|config)\b"),
        (
            "brace-expansion",
            r"\{\s*(cat|ls|id|wget|curl|nc|bash|sh|echo|ping),",
        ),
    ])
});

/// The `UNIXShellCommandsVariables_*` detector.
pub fn unix(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    let form = unix_form(s.lower());
    if let Some(rule) = UNIX.first(&form)
        && !(s.document() && rule == "command-substitution" && !form.windows(2).any(|w| w == b"$("))
    {
        return Some(Finding::new(
            Threat::UnixCommand,
            rule,
            Form::Decoded,
            "Unix shell command injection",
        ));
    }
    if commands(&form, sensitivity, s.document()) {
        return Some(Finding::new(
            Threat::UnixCommand,
            "command",
            Form::Decoded,
            "Unix shell command injection",
        ));
    }
    None
}

static WINDOWS: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        (
            "cmd",
            r"\bcmd(\.exe)?\s*/[ckr]\b|\bcmd\.exe\b|\bcommand\.com\b",
        ),
        (
            "env-var",
            r"%(systemroot|windir|comspec|userprofile|appdata|temp|tmp|programfiles|allusersprofile|homepath|homedrive|computername|username|systemdrive|public|localappdata|programdata)%",
        ),
        (
            "file-command",
            r"(^|[&|;]\s*)(type|dir|copy|del|more|move|attrib|icacls|cacls|xcopy|tree|rd|rmdir)\s+(/\w\s+)*([a-z]:[\\/]|\\\\|%\w+%|\.\.\\)",
        ),
        (
            "net-command",
            r"\bnet1?(\.exe)?\s+(user|localgroup|view|share|use|group|start|stop|accounts|session|config)\b",
        ),
        (
            "lolbin",
            r"\bcertutil(\.exe)?\s+.*-(urlcache|decode|encode|verifyctl)|\bbitsadmin(\.exe)?\s+/(transfer|create|addfile)|\bwmic(\.exe)?\s+(process|os|useraccount|shadowcopy|/node)|\brundll32(\.exe)?\s+\S+,|\bregsvr32(\.exe)?\s+/|\bmshta(\.exe)?\s+(http|javascript|vbscript)|\b[cw]script(\.exe)?\s+(//|\S+\.(vbs|js|wsf))|\breg(\.exe)?\s+(add|query|delete|save|export)\s+hk|\bschtasks(\.exe)?\s+/|\bvssadmin\s+(delete|list)|\bbcdedit\b|\bwevtutil\s+cl",
        ),
        (
            "info-command",
            r"(^|[&|;]\s*)(ipconfig|systeminfo|tasklist|whoami|netstat|hostname|ver|qwinsta|quser|set)(\.exe)?\s*(/\w+\s*)*(&|\||;|$)",
        ),
        ("ping", r"(^|[&|;]\s*)ping(\.exe)?\s+-[nlw]\s+\d+"),
        (
            "netsh",
            r"\bnetsh(\.exe)?\s+(firewall|advfirewall|interface|wlan|http|winhttp)\b|\bfindstr(\.exe)?\s+/\w+\s+\w+|\bnet1?\s+view\b",
        ),
        (
            "system32",
            r"\\(windows|winnt)\\system32\\\w+\.exe|\bsystem32\\(cmd|calc|powershell|net|certutil)\b",
        ),
    ])
});

/// The `WindowsShellCommands_*` detector.
pub fn windows(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    let spaced = ifs_spaces(s.lower());
    let form = without(&spaced, |b| matches!(b, b'^' | b'"'));
    WINDOWS.first(&form).map(|rule| {
        Finding::new(
            Threat::WindowsCommand,
            rule,
            Form::Decoded,
            "Windows command injection",
        )
    })
}

static POWERSHELL: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        (
            "powershell",
            r"\b(powershell|pwsh)(\.exe)?\b\s*(-|/|\s\S|$)",
        ),
        ("iex", r"\b(iex|invoke-expression)\b\s*[(\s$]|\|\s*iex\b"),
        (
            "cmdlet",
            r"\binvoke-(webrequest|restmethod|command|item|wmimethod|mimikatz|shellcode|obfuscation|reflectivepeinjection)\b|\bstart-(process|bitstransfer)\b|\b(set|add)-mppreference\b|\bnew-object\s+(-typename\s+)?(system\.)?(net\.webclient|io\.memorystream|net\.sockets)|\bget-(wmiobject|ciminstance|credential|localuser|content\s+\S)|\bremove-item\s+.*-recurse|\bset-executionpolicy\b|\bget-childitem\b.*\s-(recurse|include|force)\b",
        ),
        (
            "download",
            r"\.download(string|file|data)\s*\(|\bnet\.webclient\b",
        ),
        (
            "encoded",
            r"\s-(e|en|enc|enco|encod|encode|encoded|encodedc|encodedcommand)\s+[a-z0-9+/=]{16,}|\[(system\.)?convert\]\s*::\s*frombase64string|\[system\.text\.encoding\]::",
        ),
        (
            "flags",
            r"\s-(nop|noprofile|noni|noninteractive|w(indowstyle)?\s+hidden|ep\s+bypass|exec(utionpolicy)?\s+bypass)\b",
        ),
        (
            "env",
            r"\$env:(comspec|temp|appdata|userprofile|windir|systemroot|computername|username|path)\b",
        ),
    ])
});

/// The `PowerShellCommands_*` detector.
pub fn powershell(s: &Subject<'_>, _sensitivity: Sensitivity) -> Option<Finding> {
    let form = without(s.lower(), |b| matches!(b, b'`' | b'^'));
    POWERSHELL.first(&form).map(|rule| {
        Finding::new(
            Threat::PowerShell,
            rule,
            Form::Decoded,
            "PowerShell command injection",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_compile() {
        assert!(UNIX.rejected().is_empty(), "{:?}", UNIX.rejected());
        assert!(WINDOWS.rejected().is_empty(), "{:?}", WINDOWS.rejected());
        assert!(
            POWERSHELL.rejected().is_empty(),
            "{:?}",
            POWERSHELL.rejected()
        );
    }

    #[test]
    fn command_positions() {
        let f = |s: &str| commands(&unix_form(s.as_bytes()), Sensitivity::Low, false);
        assert!(f(";id"));
        assert!(f("a|id|"));
        assert!(f("ls -l /tmp"));
        assert!(f("x; cat /etc/passwd"));
        assert!(f("w'h'o'am'i"));
        assert!(!f("Tom & Jerry"));
        assert!(!f("cat videos; dogs"));
        assert!(!f("sort=id"));
        assert!(!f("id"));
        assert!(!f("drop-off at 5; id card needed"));
    }
}
