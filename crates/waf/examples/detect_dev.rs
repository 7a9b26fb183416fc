//! Development harness for the detection engine, on the development split only.
//!
//! ```text
//! cargo run --release -p portcullis-waf --example detect_dev -- [DATA_DIR] [options]
//!   (no option)            every payload placed by this harness in nine places, and the
//!                          legitimate requests: detection per class and place, false
//!                          positives per place, cost per value
//!   --requests FILE        the benchmark's attack requests instead
//!                          (python3 bench/waf/attacks.py --out FILE)
//!   --probe PLACE VALUE    every finding for one value
//!   --class C  --show N  --high  --strict  --no-timing  --rounds N --rounds-only
//!   --slow THREAT          the values that cost that detector most
//! ```
//!
//! `DATA_DIR` holds `attacks/`, `attacks-own/` and `legit.jsonl` (default
//! `tests/data/waf`). Payloads and requests of the held-out split (`fnv1a64 % 3 == 0`) are
//! skipped before anything reads them; attack requests are taken where their `split` is
//! `dev`. A payload counts as detected when any detector of the default set matches (a
//! request is stopped by whichever rule matches); `--strict` counts only the class's own
//! detectors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "development tool"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use portcullis_waf::detect::{Place, Sensitivity, Subject, Threat};

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn held_out(bytes: &[u8]) -> bool {
    fnv1a64(bytes).is_multiple_of(3)
}

fn class_of(file: &str) -> &'static str {
    let stem = file.trim_end_matches(".txt");
    for (p, c) in [
        ("open-redirect", "open-redirect"),
        ("protopollution", "protopollution"),
        ("traversal", "lfi"),
        ("scanner", "scanner"),
        ("nosqli", "nosqli"),
        ("ldapi", "ldapi"),
        ("log4j", "log4j"),
        ("sqli", "sqli"),
        ("cmdi", "cmdi"),
        ("ssti", "ssti"),
        ("ssrf", "ssrf"),
        ("java", "java"),
        ("crlf", "crlf"),
        ("xss", "xss"),
        ("lfi", "lfi"),
        ("php", "php"),
    ] {
        if stem.starts_with(p) {
            return c;
        }
    }
    "unknown"
}

fn threats_of(class: &str) -> &'static [Threat] {
    match class {
        "sqli" => &[Threat::Sqli, Threat::SqliExtended],
        "xss" => &[Threat::Xss],
        "cmdi" => &[
            Threat::UnixCommand,
            Threat::WindowsCommand,
            Threat::PowerShell,
        ],
        "lfi" => &[Threat::Lfi],
        "ldapi" => &[Threat::Ldap],
        "nosqli" => &[Threat::NoSqli],
        "ssti" => &[Threat::Ssti],
        "open-redirect" => &[Threat::OpenRedirect],
        "ssrf" => &[Threat::SsrfMetadata, Threat::Ssrf, Threat::Rfi],
        "log4j" => &[Threat::Log4j],
        "java" => &[Threat::JavaDeserialization],
        "protopollution" => &[Threat::PrototypePollution],
        "scanner" => &[Threat::BadBot],
        "php" => &[Threat::Php],
        "crlf" => &[Threat::Crlf],
        _ => &[],
    }
}

/// The default set the managed rule groups run.
const DEFAULT: &[Threat] = &[
    Threat::Sqli,
    Threat::SqliExtended,
    Threat::Xss,
    Threat::Lfi,
    Threat::Rfi,
    Threat::SsrfMetadata,
    Threat::Ssrf,
    Threat::Log4j,
    Threat::JavaDeserialization,
    Threat::UnixCommand,
    Threat::WindowsCommand,
    Threat::PowerShell,
    Threat::Php,
    Threat::RestrictedExtension,
    Threat::AdminPath,
    Threat::ExploitablePath,
    Threat::LinuxFile,
    Threat::BadBot,
    Threat::Ssti,
    Threat::NoSqli,
    Threat::Ldap,
    Threat::PrototypePollution,
    Threat::Crlf,
    Threat::Xxe,
    Threat::OpenRedirect,
];

fn pct(s: &[u8], keep: &[u8]) -> String {
    let mut out = String::new();
    for &b in s {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn placements(p: &[u8], class: &str) -> Vec<(&'static str, Place, Vec<u8>)> {
    if class == "scanner" {
        return vec![("ua", Place::UserAgent, p.to_vec())];
    }
    let plain = pct(p, b"!$'()*,;:@/?=%");
    let full = pct(p, b"");
    let double = pct(full.as_bytes(), b"");
    vec![
        ("query-plain", Place::QueryArg, plain.clone().into_bytes()),
        ("query-url", Place::QueryArg, full.clone().into_bytes()),
        ("query-2url", Place::QueryArg, double.into_bytes()),
        (
            "path-url",
            Place::UriPath,
            format!("/api/v1/items/{full}").into_bytes(),
        ),
        ("form-url", Place::FormValue, full.into_bytes()),
        ("json", Place::JsonString, p.to_vec()),
        ("header", Place::Header, p.to_vec()),
        (
            "cookie",
            Place::Cookie,
            pct(p, b"!#$&'()*+-./:<=>?@[]^_`{|}~").into_bytes(),
        ),
        ("body", Place::BodyRaw, p.to_vec()),
    ]
}

fn detected(raw: &[u8], place: Place, threats: &[Threat], s: Sensitivity) -> bool {
    let subj = Subject::new(raw, place);
    threats.iter().any(|t| subj.detect(*t, s).is_some())
}

fn json_values(v: &serde_json::Value, out: &mut Vec<(Place, Vec<u8>)>) {
    match v {
        serde_json::Value::String(s) => out.push((Place::JsonString, s.clone().into_bytes())),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_values(x, out)),
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                out.push((Place::JsonKey, k.clone().into_bytes()));
                json_values(x, out);
            }
        }
        _ => {}
    }
}

fn legit_values(line: &serde_json::Value) -> Vec<(Place, Vec<u8>)> {
    let mut out = Vec::new();
    out.push((
        Place::UriPath,
        line["path"].as_str().unwrap_or("").as_bytes().to_vec(),
    ));
    let query = line["query"].as_str().unwrap_or("");
    if !query.is_empty() {
        out.push((Place::QueryString, query.as_bytes().to_vec()));
        for kv in query.split('&') {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            out.push((Place::QueryArgName, k.as_bytes().to_vec()));
            out.push((Place::QueryArg, v.as_bytes().to_vec()));
        }
    }
    let mut ctype = String::new();
    for h in line["headers"].as_array().into_iter().flatten() {
        let name = h[0].as_str().unwrap_or("").to_ascii_lowercase();
        let value = h[1].as_str().unwrap_or("");
        match name.as_str() {
            "user-agent" => out.push((Place::UserAgent, value.as_bytes().to_vec())),
            "cookie" => {
                for c in value.split(';') {
                    let (_, v) = c.trim().split_once('=').unwrap_or(("", c));
                    out.push((Place::Cookie, v.as_bytes().to_vec()));
                }
            }
            "content-type" => {
                ctype = value.to_ascii_lowercase();
                out.push((Place::Header, value.as_bytes().to_vec()));
            }
            _ => out.push((Place::Header, value.as_bytes().to_vec())),
        }
    }
    if let Some(body) = line["body"].as_str() {
        if ctype.contains("json") {
            match serde_json::from_str::<serde_json::Value>(body) {
                Ok(v) => json_values(&v, &mut out),
                Err(_) => out.push((Place::BodyRaw, body.as_bytes().to_vec())),
            }
        } else if ctype.contains("x-www-form-urlencoded") {
            for kv in body.split('&') {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                out.push((Place::QueryArgName, k.as_bytes().to_vec()));
                out.push((Place::FormValue, v.as_bytes().to_vec()));
            }
        } else if ctype.contains("multipart") {
            // Each part's content (after its blank line), as the lead's body parser gives it.
            for part in body.split("\r\n--").chain(std::iter::once("")) {
                if let Some((_, content)) = part.split_once("\r\n\r\n") {
                    out.push((Place::BodyRaw, content.as_bytes().to_vec()));
                }
            }
        } else {
            out.push((Place::BodyRaw, body.as_bytes().to_vec()));
        }
    }
    out
}

/// CPU time this thread has used, in nanoseconds (`/proc`, 10 ms resolution): the machine
/// may be shared, and wall-clock time would count other processes' turns.
fn cpu_ns() -> u128 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    let ticks: u128 = fields
        .get(11)
        .and_then(|f| f.parse::<u128>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|f| f.parse::<u128>().ok())
            .unwrap_or(0);
    ticks * 10_000_000
}

fn show(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let s: String = s.chars().take(160).collect();
    s.replace('\n', "\\n").replace('\r', "\\r")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--") && Path::new(a).is_dir())
        .map_or_else(|| PathBuf::from("tests/data/waf"), PathBuf::from);
    let show_n: usize = args
        .iter()
        .position(|a| a == "--show")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(15);
    let only_class = args
        .iter()
        .position(|a| a == "--class")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let strict = args.iter().any(|a| a == "--strict");
    let sens = if args.iter().any(|a| a == "--high") {
        Sensitivity::High
    } else {
        Sensitivity::Low
    };

    // One value: `--probe PLACE VALUE` prints every finding.
    if let Some(i) = args.iter().position(|a| a == "--probe") {
        let place = match args.get(i + 1).map(String::as_str) {
            Some("path") => Place::UriPath,
            Some("query") => Place::QueryArg,
            Some("qs") => Place::QueryString,
            Some("header") => Place::Header,
            Some("ua") => Place::UserAgent,
            Some("cookie") => Place::Cookie,
            Some("form") => Place::FormValue,
            Some("json") => Place::JsonString,
            Some("key") => Place::JsonKey,
            _ => Place::BodyRaw,
        };
        let value = args.get(i + 2).cloned().unwrap_or_default();
        let subj = Subject::new(value.as_bytes(), place);
        for f in subj.scan(&Threat::ALL, sens) {
            println!("{f} [{:?}]", f.form);
        }
        return;
    }

    // Attack requests as `bench/waf/attacks.py --out FILE` writes them (every payload in
    // every location with the benchmark's encodings), development split only.
    if let Some(file) = args
        .iter()
        .position(|a| a == "--requests")
        .and_then(|i| args.get(i + 1))
    {
        let text = std::fs::read_to_string(file).unwrap();
        let mut by_class: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut by_loc: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut by_enc: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut missed: Vec<String> = Vec::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["split"].as_str() != Some("dev") {
                continue;
            }
            let class = v["class"].as_str().unwrap_or("").to_owned();
            if only_class.as_deref().is_some_and(|c| c != class) {
                continue;
            }
            // `--no-redirect`: without the open-redirect detector, as the AWS-named
            // managed rule groups alone would run.
            let skip_redirect = args.iter().any(|a| a == "--no-redirect");
            let hit = legit_values(&v).iter().any(|(place, raw)| {
                let subj = Subject::new(raw, *place);
                DEFAULT
                    .iter()
                    .filter(|t| !(skip_redirect && **t == Threat::OpenRedirect))
                    .any(|t| subj.detect(*t, sens).is_some())
            });
            for (map, key) in [
                (&mut by_class, class.clone()),
                (
                    &mut by_loc,
                    format!("{class}/{}", v["location"].as_str().unwrap_or("")),
                ),
                (&mut by_enc, v["encoding"].as_str().unwrap_or("").to_owned()),
            ] {
                let e = map.entry(key).or_default();
                e.0 += usize::from(hit);
                e.1 += 1;
            }
            if !hit {
                missed.push(format!(
                    "{} [{}] {}",
                    v["id"].as_str().unwrap_or(""),
                    v["encoding"].as_str().unwrap_or(""),
                    show(line.as_bytes())
                ));
            }
        }
        let (mut h, mut t) = (0, 0);
        println!("== attack requests detected (dev split), {sens:?}");
        for (k, (a, b)) in &by_class {
            println!("{k:16} {:6.3}  ({a}/{b})", *a as f64 / *b as f64);
            h += a;
            t += b;
        }
        println!("{:16} {:6.3}  ({h}/{t})", "ALL", h as f64 / t.max(1) as f64);
        println!("== by encoding");
        for (k, (a, b)) in &by_enc {
            println!("{k:16} {:6.3}  ({a}/{b})", *a as f64 / *b as f64);
        }
        println!("== class/location below 0.9");
        for (k, (a, b)) in &by_loc {
            if (*a as f64) < 0.9 * *b as f64 {
                println!("{k:24} {:6.3}  ({a}/{b})", *a as f64 / *b as f64);
            }
        }
        for m in missed.iter().take(show_n) {
            println!("   {m}");
        }
        return;
    }

    // Attacks, development split.
    let mut seen = std::collections::HashSet::new();
    let mut per_class: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut per_class_place: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    let mut misses: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for sub in ["attacks", "attacks-own"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let class = class_of(&name);
            if only_class.as_deref().is_some_and(|c| c != class) {
                continue;
            }
            let data = std::fs::read(&f).unwrap();
            for line in data.split(|b| *b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() || held_out(line) || !seen.insert(line.to_vec()) {
                    continue;
                }
                let mut all = true;
                let mut missed_at = Vec::new();
                for (pname, place, raw) in placements(line, class) {
                    // A request is stopped when any rule of the default set (or, for open
                    // redirects, the open-redirect detector) matches; `--strict` counts only
                    // the class's own detectors.
                    let own = threats_of(class);
                    let hit = if strict {
                        detected(&raw, place, own, sens)
                    } else {
                        detected(&raw, place, DEFAULT, sens) || detected(&raw, place, own, sens)
                    };
                    let e = per_class_place.entry((class, pname)).or_default();
                    e.0 += usize::from(hit);
                    e.1 += 1;
                    let e = per_class.entry(class).or_default();
                    e.0 += usize::from(hit);
                    e.1 += 1;
                    if !hit {
                        all = false;
                        missed_at.push(pname);
                    }
                }
                if !all {
                    misses.entry(class).or_default().push(format!(
                        "[{}] {}",
                        missed_at.join(","),
                        show(line)
                    ));
                }
            }
        }
    }
    println!("== detection per class (placements detected / placements), {sens:?}");
    let (mut hit, mut tot) = (0, 0);
    for (c, (h, t)) in &per_class {
        println!("{c:16} {:6.3}  ({h}/{t})", *h as f64 / *t as f64);
        hit += h;
        tot += t;
    }
    println!(
        "{:16} {:6.3}  ({hit}/{tot})",
        "ALL",
        hit as f64 / tot.max(1) as f64
    );
    println!("== detection per class and place");
    for ((c, p), (h, t)) in &per_class_place {
        if h < t {
            println!("{c:16} {p:12} {:6.3}  ({h}/{t})", *h as f64 / *t as f64);
        }
    }
    for (c, m) in &misses {
        println!("== misses {c} ({} payloads)", m.len());
        for x in m.iter().take(show_n) {
            println!("   {x}");
        }
    }

    // Legitimate requests, development split.
    let legit = std::fs::read_to_string(dir.join("legit.jsonl")).unwrap_or_default();
    let mut values: Vec<(Place, Vec<u8>, String)> = Vec::new();
    let mut requests = 0usize;
    let mut fp_requests = 0usize;
    let mut fp_by_place: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut fp_by_threat: BTreeMap<&str, usize> = BTreeMap::new();
    let mut fp_list = Vec::new();
    for line in legit.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap_or("");
        if held_out(id.as_bytes()) {
            continue;
        }
        requests += 1;
        let kind = v["kind"].as_str().unwrap_or("").to_owned();
        let mut flagged = false;
        for (place, raw) in legit_values(&v) {
            let subj = Subject::new(&raw, place);
            let f = DEFAULT.iter().find_map(|t| subj.detect(*t, sens));
            let e = fp_by_place.entry(format!("{place:?}")).or_default();
            e.1 += 1;
            if let Some(f) = f {
                e.0 += 1;
                flagged = true;
                *fp_by_threat.entry(f.threat.name()).or_default() += 1;
                fp_list.push(format!("{id} {kind} {place:?} [{f}] {}", show(&raw)));
            }
            values.push((place, raw, kind.clone()));
        }
        fp_requests += usize::from(flagged);
    }
    println!(
        "== false positives: {fp_requests}/{requests} requests = {:.4}",
        fp_requests as f64 / requests.max(1) as f64
    );
    for (p, (f, t)) in &fp_by_place {
        println!("{p:14} {f:5}/{t:6} values = {:.4}", *f as f64 / *t as f64);
    }
    println!("by threat: {fp_by_threat:?}");
    for x in fp_list.iter().take(show_n * 4) {
        println!("   {x}");
    }

    // Cost: every value of the legitimate requests through the default set.
    if values.is_empty() || args.iter().any(|a| a == "--no-timing") {
        return;
    }
    let bytes: usize = values.iter().map(|(_, v, _)| v.len()).sum();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let cpu0 = cpu_ns();
    let start = Instant::now();
    let mut n = 0usize;
    for round in 0..rounds {
        let c0 = cpu_ns();
        for (place, raw, _) in &values {
            let subj = Subject::new(raw, *place);
            n += usize::from(DEFAULT.iter().any(|t| subj.detect(*t, sens).is_some()));
        }
        println!(
            "   round {round}: CPU {:.0} ns/value",
            (cpu_ns() - c0) as f64 / values.len() as f64
        );
    }
    let el = start.elapsed();
    let cpu = cpu_ns() - cpu0;
    println!(
        "== CPU time: {:.0} ns/value, {:.1} us/request (wall {:.0} ns/value)",
        cpu as f64 / (rounds * values.len()) as f64,
        cpu as f64 / 1000.0 / (rounds * requests) as f64,
        el.as_nanos() as f64 / (rounds * values.len()) as f64
    );
    let per_value = el.as_nanos() as f64 / (rounds * values.len()) as f64;
    println!(
        "== cost: {} values ({} bytes, avg {} B), {:.0} ns/value, {:.1} ns/byte, {:.1} us/request (flagged {})",
        values.len(),
        bytes,
        bytes / values.len(),
        per_value,
        el.as_nanos() as f64 / (rounds * bytes) as f64,
        el.as_nanos() as f64 / 1000.0 / (rounds * requests) as f64,
        n / rounds
    );
    if args.iter().any(|a| a == "--rounds-only") {
        return;
    }
    let mut by_threat: Vec<(u128, &str)> = Vec::new();
    let subjects: Vec<Subject<'_>> = values.iter().map(|(p, r, _)| Subject::new(r, *p)).collect();
    let t0 = Instant::now();
    for (place, raw, _) in &values {
        std::hint::black_box(Subject::new(raw, *place));
    }
    by_threat.push((t0.elapsed().as_nanos(), "decode+prefilter"));
    for t in DEFAULT {
        let t0 = Instant::now();
        for s in &subjects {
            std::hint::black_box(s.detect(*t, sens));
        }
        by_threat.push((t0.elapsed().as_nanos(), t.name()));
    }
    by_threat.sort();
    if let Some(name) = args
        .iter()
        .position(|a| a == "--slow")
        .and_then(|i| args.get(i + 1))
    {
        let t = *DEFAULT.iter().find(|t| t.name() == name).unwrap();
        let mut slow: Vec<(u128, usize)> = subjects
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let t0 = Instant::now();
                for _ in 0..5 {
                    std::hint::black_box(s.detect(t, sens));
                }
                (t0.elapsed().as_nanos() / 5, i)
            })
            .collect();
        slow.sort();
        let total: u128 = slow.iter().map(|x| x.0).sum();
        println!("== slowest values for {name} (total {} us)", total / 1000);
        for (ns, i) in slow.iter().rev().take(25) {
            println!("   {ns:8} ns {:?} {}", values[*i].0, show(&values[*i].1));
        }
    }
    for (ns, name) in by_threat.iter().rev() {
        println!(
            "   {name:22} {:7.0} ns/value",
            *ns as f64 / values.len() as f64
        );
    }
    let mut by_kind: BTreeMap<String, (u128, usize, usize)> = BTreeMap::new();
    for (place, raw, kind) in &values {
        let t = Instant::now();
        for _ in 0..3 {
            let subj = Subject::new(raw, *place);
            std::hint::black_box(DEFAULT.iter().any(|t| subj.detect(*t, sens).is_some()));
        }
        let e = by_kind.entry(kind.clone()).or_default();
        e.0 += t.elapsed().as_nanos() / 3;
        e.1 += 1;
        e.2 += raw.len();
    }
    for (k, (ns, cnt, b)) in by_kind {
        println!(
            "   {k:10} {:7.0} ns/value  avg {:5} B",
            ns as f64 / cnt as f64,
            b / cnt
        );
    }
}
