//! One Aho-Corasick pass over a decoded value tells which detectors have anything to
//! look at. The automaton is built once; its cost does not grow with the number of
//! patterns.

use std::sync::LazyLock;

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// The lazy DFA cache of each rule set.
const DFA_CACHE: usize = 8 << 20;

use super::{Place, Threat};

const fn bit(t: Threat) -> u32 {
    1u32 << (t as u32)
}

const SQL: u32 = bit(Threat::Sqli) | bit(Threat::SqliExtended);
const XSS: u32 = bit(Threat::Xss);
const LFI: u32 = bit(Threat::Lfi) | bit(Threat::LinuxFile);
const RFI: u32 = bit(Threat::Rfi);
const SSRF: u32 = bit(Threat::SsrfMetadata) | bit(Threat::Ssrf);
const LOG4J: u32 = bit(Threat::Log4j);
const JAVA: u32 = bit(Threat::JavaDeserialization);
const UNIX: u32 = bit(Threat::UnixCommand);
const WIN: u32 = bit(Threat::WindowsCommand);
const PS: u32 = bit(Threat::PowerShell);
const PHP: u32 = bit(Threat::Php);
const ADMIN: u32 = bit(Threat::AdminPath);
const EXPLOIT: u32 = bit(Threat::ExploitablePath);
const BOT: u32 = bit(Threat::BadBot);
const SSTI: u32 = bit(Threat::Ssti);
const NOSQL: u32 = bit(Threat::NoSqli);
const LDAP: u32 = bit(Threat::Ldap);
const PROTO: u32 = bit(Threat::PrototypePollution);
const REDIR: u32 = bit(Threat::OpenRedirect);
const CRLF: u32 = bit(Threat::Crlf);
const XXE: u32 = bit(Threat::Xxe);

/// Literal triggers (matched ASCII case-insensitively) and the detectors they wake.
const PATTERNS: &[(&str, u32)] = &[
    // Quotes, comments, statement separators: SQL, shells, NoSQL.
    ("'", SQL),
    ("\"", SQL),
    ("`", SQL | UNIX),
    ("/**/", SQL),
    ("/*!", SQL),
    (";", UNIX),
    ("|", UNIX),
    ("&", UNIX),
    ("\n", UNIX | CRLF),
    ("\r", CRLF),
    ("<", XSS),
    ("<!--#", UNIX),
    (">", UNIX),
    ("@@", SQL),
    ("0x", SQL | SSRF),
    // SQL keywords.
    ("union", SQL),
    ("select", SQL),
    ("insert", SQL),
    ("update", SQL),
    ("delete", SQL),
    ("drop", SQL),
    ("create", SQL),
    ("alter", SQL),
    ("truncate", SQL),
    ("exec", SQL),
    ("exec(", PHP),
    ("exec (", PHP),
    ("exec'", PHP),
    ("declare", SQL),
    ("sleep", SQL | UNIX | NOSQL),
    ("benchmark", SQL),
    ("waitfor", SQL),
    ("order by", SQL),
    ("group by", SQL),
    ("having", SQL),
    ("xor", SQL),
    (" or ", SQL),
    (" and ", SQL),
    ("\tor", SQL),
    ("\nor", SQL),
    ("\x0bor", SQL),
    ("\x0cor", SQL),
    ("\ror", SQL),
    (")or", SQL),
    ("\tand", SQL),
    ("\nand", SQL),
    ("\rand", SQL),
    (")and", SQL),
    ("||", SQL | NOSQL),
    ("&&", SQL | NOSQL),
    ("';", NOSQL),
    ("\";", NOSQL),
    ("' ;", NOSQL),
    ("\" ;", NOSQL),
    ("')", NOSQL | PHP),
    ("\")", NOSQL | PHP),
    ("('", PHP),
    ("(\"", PHP),
    ("print(", PHP | XSS),
    ("print (", PHP | XSS),
    ("print '", PHP),
    ("print \"", PHP),
    ("print $", PHP),
    ("print_r", PHP),
    ("var_dump", PHP),
    ("die(", PHP),
    ("putenv", PHP),
    ("array_map", PHP),
    ("usort", PHP),
    ("ini_set", PHP),
    ("getenv", PHP),
    ("readfile", PHP),
    ("fputs", PHP),
    ("curl_exec", PHP),
    ("posix_", PHP),
    ("symlink", PHP),
    ("escapeshell", PHP),
    ("move_uploaded", PHP),
    ("simplexml", PHP),
    ("php_uname", PHP),
    ("stream_socket", PHP),
    ("icacls", WIN),
    ("cacls", WIN),
    ("xcopy", WIN),
    ("rmdir", WIN),
    ("hostname", WIN),
    ("qwinsta", WIN),
    ("quser", WIN),
    ("reg ", WIN),
    ("reg.exe", WIN),
    ("vssadmin", WIN),
    ("bcdedit", WIN),
    ("wevtutil", WIN),
    ("command.com", WIN),
    ("iex", PS),
    ("invoke", PS),
    ("-e ", PS),
    ("[convert]", PS),
    ("[system.", PS),
    ("remove-item", PS),
    ("executionpolicy", PS),
    ("where", SQL),
    ("procedure", SQL),
    ("convert(", SQL),
    ("cast(", SQL),
    ("char(", SQL),
    ("chr(", SQL),
    ("concat", SQL),
    ("version(", SQL),
    ("user(", SQL),
    ("database(", SQL),
    ("current_", SQL),
    ("substr", SQL),
    ("ascii(", SQL),
    ("if(", SQL),
    ("iif(", SQL),
    ("sys.", SQL),
    ("sysobjects", SQL),
    ("master..", SQL),
    ("v$", SQL),
    ("all_", SQL),
    ("dba_", SQL),
    ("mysql.", SQL),
    ("extractvalue", SQL),
    ("updatexml", SQL),
    ("randomblob", SQL),
    ("copy ", SQL),
    ("grant ", SQL),
    ("information_schema", SQL),
    ("xp_", SQL),
    ("utl_", SQL),
    ("dbms_", SQL),
    ("pg_", SQL),
    ("load_file", SQL),
    ("outfile", SQL),
    // Markup and script.
    ("script", XSS),
    ("javascript", XSS | REDIR),
    ("vbscript", XSS),
    ("alert", XSS),
    ("prompt", XSS),
    ("confirm", XSS),
    ("eval", XSS | PHP),
    ("expression", XSS),
    ("document.", XSS),
    ("window.", XSS),
    ("fromcharcode", XSS),
    ("settimeout", XSS),
    ("setinterval", XSS),
    ("execscript", XSS),
    ("function(", XSS),
    ("function (", XSS),
    ("atob", XSS),
    ("unescape", XSS),
    ("decodeuri", XSS),
    ("write(", XSS),
    ("write (", XSS),
    ("writeln", XSS),
    ("location.", XSS),
    ("location=", XSS),
    ("location =", XSS),
    (".location", XSS),
    ("innerhtml", XSS),
    ("top[", XSS),
    ("self[", XSS),
    ("parent[", XSS),
    ("this[", XSS),
    ("frames[", XSS),
    ("globalthis", XSS),
    ("binding", XSS),
    ("behavior", XSS),
    ("@import", XSS),
    ("url(", XSS),
    ("data:", XSS),
    ("livescript", XSS),
    ("srcdoc", XSS),
    ("formaction", XSS),
    ("fscommand", XSS),
    ("&lt", XSS),
    ("&#", XSS),
    ("\\x3c", XSS),
    ("\\u003c", XSS),
    ("seeksegmenttime", XSS),
    ("onabort", XSS),
    ("onactivate", XSS),
    ("onafter", XSS),
    ("onanimation", XSS),
    ("onbefore", XSS),
    ("onbegin", XSS),
    ("onblur", XSS),
    ("onbounce", XSS),
    ("oncellchange", XSS),
    ("onchange", XSS),
    ("onclick", XSS),
    ("oncontext", XSS),
    ("oncontrolselect", XSS),
    ("oncopy", XSS),
    ("oncut", XSS),
    ("ondata", XSS),
    ("ondblclick", XSS),
    ("ondeactivate", XSS),
    ("ondrag", XSS),
    ("ondrop", XSS),
    ("onend", XSS),
    ("onerror", XSS),
    ("onfilterchange", XSS),
    ("onfinish", XSS),
    ("onfocus", XSS),
    ("onhashchange", XSS),
    ("onhelp", XSS),
    ("oninput", XSS),
    ("onkey", XSS),
    ("onlayoutcomplete", XSS),
    ("onload", XSS),
    ("onlosecapture", XSS),
    ("onmedia", XSS),
    ("onmessage", XSS),
    ("onmouse", XSS),
    ("onmove", XSS),
    ("onoffline", XSS),
    ("ononline", XSS),
    ("onoutofsync", XSS),
    ("onpaste", XSS),
    ("onpause", XSS),
    ("onplay", XSS),
    ("onpointer", XSS),
    ("onpopstate", XSS),
    ("onprogress", XSS),
    ("onpropertychange", XSS),
    ("onreadystatechange", XSS),
    ("onredo", XSS),
    ("onrepeat", XSS),
    ("onreset", XSS),
    ("onresize", XSS),
    ("onresume", XSS),
    ("onreverse", XSS),
    ("onrow", XSS),
    ("onscroll", XSS),
    ("onsearch", XSS),
    ("onseek", XSS),
    ("onselect", XSS),
    ("onstart", XSS),
    ("onstop", XSS),
    ("onstorage", XSS),
    ("onsubmit", XSS),
    ("onsync", XSS),
    ("ontimeerror", XSS),
    ("ontoggle", XSS),
    ("ontouch", XSS),
    ("ontrackchange", XSS),
    ("ontransition", XSS),
    ("onundo", XSS),
    ("onunload", XSS),
    ("onurlflip", XSS),
    ("onwheel", XSS),
    // Paths and files.
    ("..", LFI | REDIR),
    ("./", LFI),
    ("/etc", LFI | UNIX),
    ("etc/", LFI | UNIX),
    ("/proc/", LFI),
    ("/var/", LFI),
    ("/usr/", LFI | UNIX),
    ("/root", LFI),
    ("/home/", LFI),
    ("/opt/", LFI),
    ("/bin/", LFI | UNIX),
    ("/dev/", LFI | UNIX),
    ("/tmp", LFI | UNIX),
    ("/srv/", LFI),
    ("/apache", LFI),
    ("/xampp", LFI),
    ("/nginx", LFI),
    ("passwd", LFI | UNIX),
    ("_log", LFI),
    (".log", LFI),
    ("log/", LFI),
    ("logs/", LFI),
    (".ini", LFI),
    (".conf", LFI),
    (".cnf", LFI),
    ("/.", LFI),
    ("config.", LFI),
    (".php", LFI),
    (".asp", LFI),
    (".pass", LFI),
    ("pass.", LFI),
    ("db.", LFI),
    ("/boot", LFI),
    ("grub", LFI),
    ("0x2e", LFI),
    ("program files", LFI),
    ("/var", LFI),
    ("shadow", LFI),
    ("win.ini", LFI),
    ("boot.ini", LFI),
    ("system32", LFI | WIN),
    ("system.ini", LFI),
    (":\\", LFI | WIN),
    (":/", LFI | RFI | SSRF | REDIR),
    ("\\", LFI | WIN | REDIR | UNIX | XSS),
    ("windows", LFI | WIN),
    ("winnt", LFI | WIN),
    (".ht", LFI),
    ("web.config", LFI),
    ("wp-config", LFI),
    ("id_rsa", LFI),
    ("id_dsa", LFI),
    (".ssh", LFI),
    ("_history", LFI),
    ("php://", LFI | PHP),
    ("phar://", LFI | PHP),
    ("zip://", LFI),
    ("expect://", LFI | PHP),
    ("data://", LFI | PHP),
    ("glob://", LFI),
    ("file:", LFI | SSRF),
    ("convert.", LFI),
    ("string.", LFI),
    ("zlib.", LFI),
    ("resource=", LFI),
    // Commands.
    ("$(", UNIX),
    ("${", UNIX | LOG4J | SSTI | PHP),
    ("$ifs", UNIX | WIN),
    ("{ifs}", UNIX | WIN),
    ("() {", UNIX),
    ("whoami", UNIX | WIN),
    ("sysinfo", UNIX),
    ("uname", UNIX),
    ("ifconfig", UNIX),
    ("netstat", UNIX | WIN),
    ("nslookup", UNIX | WIN),
    ("wget", UNIX),
    ("curl", UNIX),
    ("nc -", UNIX),
    ("ncat", UNIX),
    ("netcat", UNIX),
    ("bash", UNIX),
    ("python", UNIX),
    ("perl", UNIX),
    ("ruby", UNIX),
    ("cat ", UNIX),
    (" ls ", UNIX),
    ("\tls ", UNIX),
    (" ping", UNIX | WIN),
    ("ping -", UNIX | WIN),
    ("ping 0", UNIX | WIN),
    ("ping 1", UNIX | WIN),
    ("ping 2", UNIX | WIN),
    ("ping 3", UNIX | WIN),
    ("ping 4", UNIX | WIN),
    ("ping 5", UNIX | WIN),
    ("ping 6", UNIX | WIN),
    ("ping 7", UNIX | WIN),
    ("ping 8", UNIX | WIN),
    ("ping 9", UNIX | WIN),
    (";ping", UNIX | WIN),
    ("|ping", UNIX | WIN),
    ("&ping", UNIX | WIN),
    ("\nping", UNIX | WIN),
    ("`ping", UNIX | WIN),
    ("(ping", UNIX | WIN),
    ("which ", UNIX),
    ("echo", UNIX | WIN),
    ("chmod", UNIX),
    ("telnet", UNIX),
    (" sh ", UNIX),
    ("/sh", UNIX),
    ("cmd", WIN),
    ("%systemroot%", WIN),
    ("%windir%", WIN),
    ("%comspec%", WIN),
    ("%userprofile%", WIN),
    ("%appdata%", WIN),
    ("%temp%", WIN),
    ("%tmp%", WIN),
    ("%programfiles", WIN),
    ("%allusersprofile%", WIN),
    ("%homepath%", WIN),
    ("%homedrive%", WIN),
    ("%computername%", WIN),
    ("%username%", WIN),
    ("%systemdrive%", WIN),
    ("%public%", WIN),
    ("%localappdata%", WIN),
    ("%programdata%", WIN),
    ("ipconfig", WIN),
    ("systeminfo", WIN),
    ("tasklist", WIN),
    ("taskkill", WIN),
    ("certutil", WIN),
    ("bitsadmin", WIN),
    ("wmic", WIN),
    ("rundll32", WIN),
    ("regsvr32", WIN),
    ("mshta", WIN),
    ("cscript", WIN),
    ("wscript", WIN),
    ("schtasks", WIN),
    ("net ", WIN),
    ("netsh", WIN),
    ("findstr", WIN),
    ("ls -", UNIX),
    ("childitem", PS),
    ("-recurse", PS),
    ("type ", WIN),
    ("attrib ", WIN),
    ("\\\\", WIN),
    ("..\\", WIN),
    ("dir ", WIN),
    ("dir\t", WIN),
    (";dir", WIN),
    ("|dir", WIN),
    ("&dir", WIN),
    ("powershell", PS | WIN),
    ("pwsh", PS),
    ("iex", PS),
    ("invoke-", PS),
    ("new-object", PS),
    ("download", PS),
    ("frombase64string", PS),
    ("start-process", PS),
    ("-enc", PS),
    ("-nop", PS),
    ("bypass", PS),
    ("hidden", PS),
    ("$env:", PS),
    ("get-", PS),
    ("set-", PS),
    ("mppreference", PS),
    // PHP.
    ("<?", PHP),
    ("$_", PHP),
    ("$globals", PHP),
    ("system(", PHP),
    ("system (", PHP),
    ("system'", PHP),
    ("system)", PHP),
    ("passthru", PHP),
    ("popen", PHP),
    ("proc_open", PHP),
    ("assert", PHP),
    ("base64_decode", PHP),
    ("phpinfo", PHP),
    ("file_get_contents", PHP),
    ("file_put_contents", PHP),
    ("fopen", PHP),
    ("fwrite", PHP),
    ("include(", PHP),
    ("include (", PHP),
    ("include '", PHP),
    ("include \"", PHP),
    ("include $", PHP),
    ("include_once", PHP),
    ("require(", PHP),
    ("require (", PHP),
    ("require '", PHP),
    ("require \"", PHP),
    ("require $", PHP),
    ("require_once", PHP),
    ("create_function", PHP),
    ("call_user_func", PHP),
    ("preg_replace", PHP),
    ("unserialize", PHP),
    ("gzinflate", PHP),
    ("str_rot13", PHP),
    ("fsockopen", PHP),
    ("pcntl_exec", PHP),
    ("show_source", PHP),
    ("highlight_file", PHP),
    ("mail(", PHP),
    ("{php}", PHP | SSTI),
    (":{s:", PHP),
    (":{i:", PHP),
    (":{}", PHP),
    (":{o:", PHP),
    ("allow_url", PHP),
    ("auto_prepend", PHP),
    ("auto_append", PHP),
    ("disable_functions", PHP),
    ("open_basedir", PHP),
    // Cloud metadata, URLs.
    ("169.254", SSRF),
    ("a9fe", SSRF),
    ("0251", SSRF),
    ("2852039166", SSRF),
    ("169.", SSRF),
    ("metadata.", SSRF),
    ("metadata/", SSRF),
    ("/metadata", SSRF),
    ("meta-data", SSRF),
    ("user-data", SSRF),
    ("instance-data", SSRF),
    ("100.100.100.200", SSRF),
    ("gopher:", SSRF),
    ("dict:", SSRF),
    ("netdoc:", SSRF),
    ("jar:", SSRF),
    ("tftp:", SSRF),
    ("ldap:", SSRF),
    ("localhost", SSRF),
    ("127.", SSRF),
    ("0177", SSRF),
    ("[::", SSRF),
    ("nip.io", SSRF),
    ("xip.io", SSRF),
    ("sslip.io", SSRF),
    ("localtest.me", SSRF),
    ("lvh.me", SSRF),
    ("vcap.me", SSRF),
    ("://0", SSRF),
    ("fd00:ec2", SSRF),
    ("//", RFI | SSRF | REDIR),
    ("@", REDIR),
    ("/\t", REDIR),
    ("\t/", REDIR),
    ("/\n", REDIR),
    ("<>", REDIR),
    ("\u{309d}", REDIR),
    ("\u{30fc}", REDIR),
    ("\u{2215}", REDIR),
    ("\u{ff0f}", REDIR),
    ("http", RFI | REDIR),
    ("ftp", RFI),
    // Log4Shell.
    ("jndi", LOG4J),
    // Java.
    ("ro0ab", JAVA),
    ("aced0005", JAVA),
    ("java.", JAVA),
    ("javax.", JAVA),
    ("com.sun.", JAVA),
    ("org.apache.commons", JAVA),
    ("invokertransformer", JAVA),
    ("ysoserial", JAVA),
    ("templatesimpl", JAVA),
    ("jdbcrowsetimpl", JAVA),
    ("@type", JAVA),
    ("xmldecoder", JAVA),
    ("bsh.", JAVA),
    ("groovy.", JAVA),
    ("processbuilder", JAVA),
    ("ch.qos", JAVA),
    ("classloader", JAVA),
    ("!!", JAVA),
    ("<java.", JAVA),
    ("dynamic-proxy", JAVA),
    ("sorted-set", JAVA),
    ("jdbc:", JAVA),
    ("getruntime", JAVA | SSTI),
    // Templates.
    ("{{", SSTI),
    ("{%", SSTI),
    ("#{", SSTI),
    ("<%", SSTI),
    ("*{", SSTI),
    ("@(", SSTI),
    ("[[", SSTI),
    ("{$", SSTI),
    ("<#", SSTI),
    ("[#", SSTI),
    ("__class__", SSTI | PROTO),
    ("__globals__", SSTI),
    ("__init__", SSTI),
    ("getclass", SSTI),
    ("t(java", SSTI),
    // NoSQL, LDAP, prototype pollution.
    ("$where", NOSQL),
    ("$ne", NOSQL),
    ("$gt", NOSQL),
    ("$lt", NOSQL),
    ("$regex", NOSQL),
    ("$or", NOSQL),
    ("$and", NOSQL),
    ("$nin", NOSQL),
    ("$in", NOSQL),
    ("$exists", NOSQL),
    ("&exists", NOSQL),
    ("$expr", NOSQL),
    ("$function", NOSQL),
    ("$accumulator", NOSQL),
    ("$elemmatch", NOSQL),
    ("$not", NOSQL),
    ("$nor", NOSQL),
    ("$comment", NOSQL),
    ("$match", NOSQL),
    ("$project", NOSQL),
    ("$lookup", NOSQL),
    ("$text", NOSQL),
    ("$search", NOSQL),
    ("$group", NOSQL),
    ("$unwind", NOSQL),
    ("$facet", NOSQL),
    ("$addfields", NOSQL),
    ("$graphlookup", NOSQL),
    ("$merge", NOSQL),
    ("$sample", NOSQL),
    ("$out", NOSQL),
    ("$replaceroot", NOSQL),
    ("&exists", NOSQL),
    ("__define", PROTO),
    ("__lookup", PROTO),
    ("db.", NOSQL),
    ("this.", NOSQL),
    (";return", NOSQL),
    ("; return", NOSQL),
    (";\treturn", NOSQL),
    ("==", NOSQL),
    ("*)", LDAP),
    (")(", LDAP),
    ("(|", LDAP),
    ("(&", LDAP),
    ("(!", LDAP),
    ("*(", LDAP),
    ("=*", LDAP),
    ("__proto__", PROTO),
    ("prototype", PROTO),
    ("constructor", PROTO | XSS),
    // XML.
    ("<!entity", XXE),
    ("<!doctype", XXE),
    ("xinclude", XXE),
    // Private application files.
    ("web-inf", EXPLOIT),
    ("meta-inf", EXPLOIT),
    ("/.git", EXPLOIT),
    ("/.svn", EXPLOIT),
    ("/.hg", EXPLOIT),
    ("/.bzr", EXPLOIT),
    ("_darcs", EXPLOIT),
    (".ds_store", EXPLOIT),
    ("/.idea", EXPLOIT),
    ("/.aws", EXPLOIT),
    ("/.ssh", EXPLOIT),
    ("/.docker", EXPLOIT),
    ("/.kube", EXPLOIT),
    ("eval-stdin", EXPLOIT),
    ("_ignition", EXPLOIT),
    ("/.env", EXPLOIT),
    // Administration paths.
    ("admin", ADMIN),
    ("manager/html", ADMIN),
    ("actuator", ADMIN),
    ("-console", ADMIN),
    ("server-status", ADMIN),
    ("server-info", ADMIN),
    ("cpanel", ADMIN),
    ("wp-login", ADMIN),
    // Scanners and attack tools.
    ("sqlmap", BOT),
    ("nikto", BOT),
    ("nmap", BOT),
    ("masscan", BOT),
    ("zgrab", BOT),
    ("nessus", BOT),
    ("openvas", BOT),
    ("acunetix", BOT),
    ("netsparker", BOT),
    ("w3af", BOT),
    ("dirbuster", BOT),
    ("dirb", BOT),
    ("gobuster", BOT),
    ("feroxbuster", BOT),
    ("ffuf", BOT),
    ("wfuzz", BOT),
    ("wpscan", BOT),
    ("nuclei", BOT),
    ("havij", BOT),
    ("fimap", BOT),
    ("arachni", BOT),
    ("skipfish", BOT),
    ("whatweb", BOT),
    ("zmeu", BOT),
    ("morfeus", BOT),
    ("jaeles", BOT),
    ("xsstrike", BOT),
    ("commix", BOT),
    ("appscan", BOT),
    ("webinspect", BOT),
    ("burp", BOT),
    ("qualys", BOT),
    ("paros", BOT),
    ("zap/", BOT),
    ("owasp", BOT),
    ("hydra", BOT),
    ("medusa", BOT),
    ("brutus", BOT),
    ("httrack", BOT),
    ("harvest", BOT),
    ("libwww-perl", BOT),
    ("webshag", BOT),
    ("grabber", BOT),
    ("sqlninja", BOT),
    ("pangolin", BOT),
    ("bsqlbf", BOT),
    ("interactsh", BOT),
    ("projectdiscovery", BOT),
    ("censys", BOT),
    ("shodan", BOT),
    ("zoomeye", BOT),
    ("l9explore", BOT),
    ("l9tcpid", BOT),
    ("dotdotpwn", BOT),
    ("cgichk", BOT),
    ("vega/", BOT),
    ("sf/", BOT),
    ("fuzz", BOT),
    ("jorgee", BOT),
    ("zollard", BOT),
    ("blackwidow", BOT),
    ("dirsearch", BOT),
];

/// The multi-byte patterns, found by their first bytes. Every position of a value is
/// hashed by the (lower-cased) two and four bytes that start there; a hit in a small bit
/// table, which stays in the L1 cache, is confirmed by comparing the patterns that start
/// with those bytes. The answer is exactly what a case-insensitive Aho-Corasick automaton
/// over all occurrences gives (a test compares them), at a fraction of the cost: an
/// automaton of some 4,700 states walks a table too big for the cache, one dependent load
/// per byte.
struct Grams {
    short: Table,
    long: Table,
}

/// Patterns by a key of their first bytes: a bit per bucket (small enough for the L1
/// cache) and, per bucket, the range of its patterns.
struct Table {
    seen: Box<[u64]>,
    starts: Box<[u32]>,
    /// (key, lower-cased pattern, bits), in bucket order.
    patterns: Vec<(u32, Vec<u8>, u32)>,
    shift: u32,
}

impl Table {
    fn new(bits: u32, mut patterns: Vec<(u32, Vec<u8>, u32)>) -> Self {
        let shift = 32 - bits;
        let buckets = 1usize << bits;
        patterns.sort_by_key(|(k, _, _)| Self::bucket_of(*k, shift));
        let mut seen = vec![0u64; buckets / 64].into_boxed_slice();
        let mut starts = vec![0u32; buckets + 1].into_boxed_slice();
        for (k, _, _) in &patterns {
            let b = Self::bucket_of(*k, shift);
            if let Some(w) = seen.get_mut(b / 64) {
                *w |= 1 << (b % 64);
            }
            // Counted into the next slot, summed below.
            if let Some(n) = starts.get_mut(b + 1) {
                *n += 1;
            }
        }
        for i in 1..starts.len() {
            let prev = starts.get(i - 1).copied().unwrap_or(0);
            if let Some(n) = starts.get_mut(i) {
                *n += prev;
            }
        }
        Table {
            seen,
            starts,
            patterns,
            shift,
        }
    }

    #[inline]
    fn bucket_of(key: u32, shift: u32) -> usize {
        if shift == 16 {
            // Two-byte keys: a bucket per key, no hashing.
            return (key & 0xffff) as usize;
        }
        (key.wrapping_mul(0x9e37_79b1) >> shift) as usize
    }

    /// The bits of the patterns keyed `key` that start at `value[at..]`, OR-ed into
    /// `hits`.
    #[inline(always)]
    fn probe(&self, key: u32, value: &[u8], at: usize, hits: &mut u32) {
        let b = Self::bucket_of(key, self.shift);
        if self
            .seen
            .get(b / 64)
            .is_some_and(|w| w & (1 << (b % 64)) != 0)
        {
            self.confirm(b, key, value.get(at..).unwrap_or(&[]), hits);
        }
    }

    #[inline(never)]
    fn confirm(&self, b: usize, key: u32, at: &[u8], hits: &mut u32) {
        let from = self.starts.get(b).map_or(0, |n| *n as usize);
        let to = self.starts.get(b + 1).map_or(0, |n| *n as usize);
        for (k, p, bits) in self.patterns.get(from..to).unwrap_or(&[]) {
            if *k == key
                && bits & !*hits != 0
                && at.get(..p.len()).is_some_and(|a| a.eq_ignore_ascii_case(p))
            {
                *hits |= bits;
            }
        }
    }
}

impl Grams {
    fn new(patterns: &'static [(&'static str, u32)]) -> Self {
        let mut short = Vec::new();
        let mut long = Vec::new();
        for (p, bits) in patterns {
            let lower = p.as_bytes().to_ascii_lowercase();
            match lower.as_slice() {
                [a, b] | [a, b, _] => {
                    short.push((u32::from(u16::from_be_bytes([*a, *b])), lower, *bits));
                }
                [a, b, c, d, ..] => {
                    long.push((u32::from_be_bytes([*a, *b, *c, *d]), lower, *bits));
                }
                _ => {}
            }
        }
        Grams {
            short: Table::new(12, short),
            long: Table::new(14, long),
        }
    }

    /// The bits of every pattern (one byte long or more) found in `value`.
    fn scan(&self, value: &[u8], bytes: &[u32; 256]) -> u32 {
        let mut hits = 0;
        let mut window = 0u32;
        for (i, b) in value.iter().enumerate() {
            hits |= bytes.get(usize::from(*b)).copied().unwrap_or(0);
            window = (window << 8) | u32::from(b.to_ascii_lowercase());
            // The window's first byte is zero until four bytes are in: no pattern's key.
            self.short
                .probe(window & 0xffff, value, i.wrapping_sub(1), &mut hits);
            self.long.probe(window, value, i.wrapping_sub(3), &mut hits);
        }
        hits
    }
}

static GRAMS: LazyLock<Grams> = LazyLock::new(|| Grams::new(PATTERNS));

/// The one-byte patterns, as a table.
static BYTES: LazyLock<[u32; 256]> = LazyLock::new(|| {
    let mut t = [0u32; 256];
    for (p, bits) in PATTERNS {
        if let [b] = p.as_bytes() {
            for c in [b.to_ascii_lowercase(), b.to_ascii_uppercase()] {
                if let Some(slot) = t.get_mut(usize::from(c)) {
                    *slot |= bits;
                }
            }
        }
    }
    t
});

/// The detectors that have something to look at in `value`, as a bit set.
pub fn scan(value: &[u8]) -> u32 {
    GRAMS.scan(value, &BYTES)
}

/// What only the raw form of a value shows: encoded separators and NULs.
pub fn scan_raw(raw: &[u8]) -> u32 {
    let mut hits = 0;
    for (i, b) in raw.iter().enumerate() {
        match b {
            0 => hits |= LFI | RFI,
            0xac if raw.get(i + 1) == Some(&0xed) => hits |= JAVA,
            // U+3031 and U+3035, which canonical decoding reads as slashes.
            0xe3 if raw.get(i + 1) == Some(&0x80)
                && matches!(raw.get(i + 2), Some(0xb1 | 0xb5)) =>
            {
                hits |= REDIR;
            }
            b'%' => {
                let hi = raw.get(i + 1).copied();
                let lo = raw.get(i + 2).map(u8::to_ascii_lowercase);
                hits |= match (hi, lo) {
                    (Some(b'0'), Some(b'0')) => LFI | RFI,
                    (Some(b'2'), Some(b'f')) | (Some(b'5'), Some(b'c')) => LFI | REDIR,
                    (Some(b'0'), Some(b'd' | b'a')) => CRLF | UNIX,
                    (Some(b'e' | b'E'), Some(b'3')) => {
                        let rest = raw.get(i + 3..i + 9).unwrap_or(&[]);
                        if rest.eq_ignore_ascii_case(b"%80%b1")
                            || rest.eq_ignore_ascii_case(b"%80%b5")
                        {
                            REDIR
                        } else {
                            0
                        }
                    }
                    _ => 0,
                };
            }
            _ => {}
        }
    }
    hits
}

/// Detectors that run whatever the prefilter saw (they are cheap, or look at the value's
/// shape rather than at any literal).
#[inline]
pub fn always(threat: Threat, place: Place) -> bool {
    always_mask(place) & bit(threat) != 0
}

/// The bits of the detectors that run in `place` whatever the prefilter saw.
#[inline]
pub fn always_mask(place: Place) -> u32 {
    match place {
        Place::UriPath | Place::QueryArg | Place::QueryString => bit(Threat::RestrictedExtension),
        _ => 0,
    }
}

/// A named set of regular expressions (byte-oriented, ASCII, matched on lower-cased
/// input), compiled once.
pub struct Rules {
    set: RegexSet,
    each: Vec<Regex>,
    names: Vec<&'static str>,
    #[cfg(test)]
    rejected: Vec<&'static str>,
}

impl Rules {
    /// Compiles `rules` (name, pattern). A pattern that does not compile is left out
    /// (the unit tests check that none is).
    pub fn new(rules: &[(&'static str, &str)]) -> Self {
        let mut names = Vec::new();
        let mut patterns = Vec::new();
        let mut each = Vec::new();
        let mut rejected = Vec::new();
        for (name, p) in rules {
            let p = format!("(?s-u){p}");
            match RegexBuilder::new(&p).dfa_size_limit(DFA_CACHE).build() {
                Ok(r) => {
                    names.push(*name);
                    patterns.push(p);
                    each.push(r);
                }
                Err(_) => rejected.push(*name),
            }
        }
        debug_assert!(
            rejected.is_empty(),
            "rules that do not compile: {rejected:?}"
        );
        // A roomier lazy DFA cache than the default: the sets are large, and a cache that
        // fills is cleared and rebuilt while matching.
        let set = RegexSetBuilder::new(&patterns)
            .dfa_size_limit(DFA_CACHE)
            .build()
            .unwrap_or_else(|_| RegexSet::empty());
        Rules {
            set,
            each,
            names,
            #[cfg(test)]
            rejected,
        }
    }

    /// The name of the first rule that matches `hay`.
    pub fn first(&self, hay: &[u8]) -> Option<&'static str> {
        if !self.set.is_match(hay) {
            return None;
        }
        let m = self.set.matches(hay);
        m.iter().next().and_then(|i| self.names.get(i).copied())
    }

    /// The compiled rule named `name` (for rules that need their captures).
    pub fn get(&self, name: &str) -> Option<&Regex> {
        self.names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| self.each.get(i))
    }

    /// The names of the rules that did not compile (none: the tests check).
    #[cfg(test)]
    pub fn rejected(&self) -> &[&'static str] {
        &self.rejected
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    /// What a case-insensitive Aho-Corasick automaton over every occurrence finds.
    fn oracle(value: &[u8]) -> u32 {
        use aho_corasick::{AhoCorasick, MatchKind};
        static AC: LazyLock<(AhoCorasick, Vec<&(&str, u32)>)> = LazyLock::new(|| {
            let multi: Vec<&(&str, u32)> = PATTERNS.iter().filter(|(p, _)| p.len() > 1).collect();
            let ac = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(multi.iter().map(|(p, _)| p.as_bytes()))
                .unwrap();
            (ac, multi)
        });
        let (ac, multi) = &*AC;
        let mut hits = value
            .iter()
            .fold(0u32, |acc, b| acc | BYTES[usize::from(*b)]);
        for m in ac.find_overlapping_iter(value) {
            hits |= multi[m.pattern().as_usize()].1;
        }
        hits
    }

    #[test]
    fn grams_find_what_an_automaton_finds() {
        // Every pattern alone, inside text, at both ends, in mixed case, and overlapping.
        let mut values: Vec<Vec<u8>> = Vec::new();
        for (p, _) in PATTERNS {
            let upper = p.to_ascii_uppercase();
            values.push(p.as_bytes().to_vec());
            values.push(format!("x{p}y").into_bytes());
            values.push(format!("ab {upper}").into_bytes());
            values.push(format!("{p}{p}{upper}").into_bytes());
        }
        let all: Vec<u8> = PATTERNS.iter().flat_map(|(p, _)| p.bytes()).collect();
        values.push(all);
        for v in &values {
            assert_eq!(scan(v), oracle(v), "{:?}", String::from_utf8_lossy(v));
        }
    }

    proptest::proptest! {
        #[test]
        fn grams_match_the_automaton_on_any_input(
            v in proptest::collection::vec(proptest::sample::select(
                b"selctunio rdby'\"<>;|&0x/*!@-_(){}$%.:\\etcpaswdUNIOSELCT\n\r\t".to_vec()), 0..64)
        ) {
            proptest::prop_assert_eq!(scan(&v), oracle(&v));
        }
    }

    #[test]
    fn patterns_scan() {
        assert_eq!(scan(b"hello world") & SQL, 0);
        assert_ne!(scan(b"1 UNION SELECT") & SQL, 0);
        assert_ne!(scan(b"${jndi:ldap://x}") & LOG4J, 0);
    }
}
