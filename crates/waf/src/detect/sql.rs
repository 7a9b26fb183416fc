//! SQL injection: libinjection's tokenizer, confirmed by the structure an injection needs,
//! and patterns for what the tokenizer does not see (UNION and stacked queries, time-based
//! probes, database-specific functions and catalogs).

use std::sync::LazyLock;

use libinjectionrs::{SqliFlags, SqliState};

use super::prefilter::Rules;
use super::{Finding, Form, Sensitivity, Subject, Threat, decode};

/// How many start positions in one value libinjection is run from (it only reads the
/// first few tokens of its input, so an injection after free text needs its own start).
const MAX_STARTS: usize = 12;
/// How many bytes from a start libinjection reads.
const WINDOW: usize = 512;

/// libinjection's verdict on `input` and the fingerprint it matched.
fn libinjection_fp(input: &[u8]) -> Option<[u8; 8]> {
    if input.is_empty() {
        return None;
    }
    let input = input.get(..WINDOW).unwrap_or(input);
    let mut state = SqliState::new(input, SqliFlags::FLAG_NONE);
    state.detect().then_some(state.fingerprint)
}

fn fp_str(fp: &[u8; 8]) -> &[u8] {
    let len = fp.iter().position(|b| *b == 0).unwrap_or(8);
    fp.get(..len).unwrap_or(&[])
}

/// Whether a libinjection fingerprint shows the structure of an injection rather than of
/// text that happens to tokenize like one: a keyword, UNION, a function call, a
/// comparison or logic operator working on values, a statement separator or a comment
/// after a string. In a document only a breakout counts: a string or number closed, then
/// an operator, a logic word, UNION, a separator or a comment.
fn confirmed(fp: &[u8], text: &[u8], document: bool) -> bool {
    let has = |c: u8| fp.contains(&c);
    if document {
        let mut it = fp.iter().copied().skip_while(|c| *c == b'(');
        let first = it.next();
        let next = it.find(|c| *c != b')');
        let breakout = matches!(first, Some(b's' | b'1'))
            && matches!(next, Some(b'&' | b'o' | b'U' | b';' | b'c'));
        return breakout
            && (has(b'&') || has(b'U') || has(b'c') || has(b';'))
            && text_has_operator(text);
    }
    // `@name` is a variable to libinjection, and an e-mail address to everyone else.
    let variable = has(b'v') && text.windows(2).any(|w| w == b"@@");
    if has(b'U') || has(b'E') || has(b'T') || has(b'B') || has(b'k') || has(b'f') || variable {
        return true;
    }
    // A logic operator (`or`, `and`, `||`) followed by a value and an operator or value.
    if let Some(i) = fp.iter().position(|c| *c == b'&') {
        let after = fp.get(i + 1..).unwrap_or(&[]);
        if after
            .iter()
            .any(|c| matches!(c, b'1' | b's' | b'o' | b'(' | b'v' | b'f'))
        {
            // Text such as "rock 'n' roll and blues" tokenizes as strings, words and a
            // logic word; an injection compares or comments something out.
            return has(b'o') || has(b'c') || has(b'1') || text_has_operator(text);
        }
        return false;
    }
    // A string followed by a comment or statement separator: `admin' --`, `x';`.
    if has(b'c') || has(b';') {
        return has(b's') && sql_comment_or_separator(text);
    }
    // A string, an operator, a value: `'=''`, `1'='1`.
    has(b'o') && text_has_operator(text)
}

fn text_has_operator(text: &[u8]) -> bool {
    text.iter().any(|b| {
        matches!(
            b,
            b'=' | b'<' | b'>' | b'|' | b'&' | b'^' | b'*' | b'+' | b'-'
        )
    })
}

fn sql_comment_or_separator(text: &[u8]) -> bool {
    text.windows(2).any(|w| w == b"--" || w == b"/*")
        || text.contains(&b'#')
        || text.contains(&b';')
}

/// Whether SQL follows position `i` (just after a quote): an operator, a separator, a
/// comment, or a logic or query keyword, after optional spaces and parentheses.
fn sql_follows(text: &[u8], i: usize) -> bool {
    let rest = text.get(i..).unwrap_or(&[]);
    let skip = rest
        .iter()
        .take_while(|c| c.is_ascii_whitespace() || **c == b')')
        .count();
    let rest = rest.get(skip..).unwrap_or(&[]);
    match rest.first() {
        None => false,
        Some(
            b'=' | b'<' | b'>' | b'!' | b'|' | b'&' | b'+' | b'-' | b'^' | b'*' | b'/' | b'%'
            | b'#',
        ) => true,
        // A statement after `;` (`'; drop table x`), not `";v="1"`.
        Some(b';') => {
            let next = rest.get(1..).unwrap_or(&[]).trim_ascii_start();
            let word: Vec<u8> = next
                .iter()
                .take(10)
                .take_while(|c| c.is_ascii_alphabetic() || **c == b'_')
                .map(u8::to_ascii_lowercase)
                .collect();
            next.starts_with(b"--") || next.starts_with(b"#") || next.is_empty() || sql_word(&word)
        }
        Some(c) if c.is_ascii_alphabetic() => {
            let word: Vec<u8> = rest
                .iter()
                .take(8)
                .take_while(|c| c.is_ascii_alphabetic() || **c == b'_')
                .map(u8::to_ascii_lowercase)
                .collect();
            matches!(
                word.as_slice(),
                b"or"
                    | b"and"
                    | b"xor"
                    | b"union"
                    | b"select"
                    | b"having"
                    | b"order"
                    | b"group"
                    | b"like"
                    | b"rlike"
                    | b"regexp"
                    | b"between"
                    | b"is"
                    | b"in"
                    | b"waitfor"
                    | b"into"
                    | b"from"
                    | b"where"
                    | b"limit"
                    | b"procedur"
                    | b"exec"
                    | b"execute"
                    | b"div"
                    | b"mod"
                    | b"not"
                    | b"as"
                    | b"sleep"
                    | b"benchmar"
                    | b"drop"
                    | b"insert"
                    | b"update"
                    | b"delete"
                    | b"declare"
            )
        }
        Some(_) => false,
    }
}

/// SQL words an injection may start with.
fn sql_word(word: &[u8]) -> bool {
    matches!(
        word,
        b"or"
            | b"and"
            | b"xor"
            | b"not"
            | b"union"
            | b"select"
            | b"insert"
            | b"update"
            | b"delete"
            | b"drop"
            | b"create"
            | b"alter"
            | b"truncate"
            | b"exec"
            | b"execute"
            | b"declare"
            | b"waitfor"
            | b"sleep"
            | b"benchmark"
            | b"pg_sleep"
            | b"having"
            | b"order"
            | b"group"
            | b"where"
            | b"procedure"
            | b"shutdown"
            | b"copy"
            | b"grant"
            | b"if"
            | b"case"
            | b"like"
            | b"limit"
            | b"as"
            | b"with"
            | b"call"
            | b"load_file"
            | b"into"
    )
}

/// Whether a value has some SQL structure besides a word: an operator, a comment, a
/// separator, a call, or a second query keyword (`drop leaf table`).
fn sql_shape(text: &[u8]) -> bool {
    if text.iter().any(|b| {
        matches!(
            b,
            b'=' | b'<' | b'>' | b'(' | b';' | b'#' | b'\'' | b'"' | b'`' | b'|' | b'*'
        )
    }) || text
        .windows(2)
        .any(|w| w == b"--" || w == b"/*" || w == b"@@" || w == b"&&")
    {
        return true;
    }
    text.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .skip(1)
        .take(64)
        .any(|w| {
            matches!(
                w.to_ascii_lowercase().as_slice(),
                b"select"
                    | b"from"
                    | b"union"
                    | b"table"
                    | b"into"
                    | b"values"
                    | b"null"
                    | b"sleep"
                    | b"benchmark"
                    | b"waitfor"
                    | b"exec"
                    | b"having"
                    | b"version"
                    | b"database"
                    | b"user"
                    | b"or"
                    | b"and"
            )
        })
}

/// Start positions for libinjection (each run costs about a microsecond, so only where
/// an injection can begin): the value's start when it begins like one (a quote, a number,
/// a parenthesis, an SQL word), each quote that SQL follows, and `union`/`;` further in.
fn starts(text: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let lead = text
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(text.len());
    let first_word: Vec<u8> = text
        .get(lead..)
        .unwrap_or(&[])
        .iter()
        .take(12)
        .take_while(|c| c.is_ascii_alphabetic() || **c == b'_')
        .map(u8::to_ascii_lowercase)
        .collect();
    // A leading quote is covered below (a start at each quote that SQL follows).
    let begins_like_sql = match text.get(lead) {
        Some(b'(' | b')' | b'-' | b'@' | b';' | b'|' | b'&') => true,
        Some(c) if c.is_ascii_digit() => true,
        Some(_) => {
            sql_word(&first_word)
                && text
                    .get(lead + first_word.len())
                    .is_none_or(|c| !c.is_ascii_alphanumeric())
        }
        None => false,
    };
    if begins_like_sql && sql_shape(text) {
        out.push(0);
    }
    let word_at = |i: usize, w: &[u8]| {
        text.get(i..i + w.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(w))
            && text
                .get(i + w.len())
                .is_none_or(|c| !c.is_ascii_alphanumeric())
            && (i == 0 || text.get(i - 1).is_some_and(|c| !c.is_ascii_alphanumeric()))
    };
    for (i, b) in text.iter().enumerate() {
        if out.len() >= MAX_STARTS {
            break;
        }
        match b {
            b'\'' | b'"' | b'`' if sql_follows(text, i + 1) => out.push(i),
            b'u' | b'U' if i > 0 && word_at(i, b"union") && union_operand(text, i + 5) => {
                out.push(i)
            }
            b';' if i > 0
                && sql_follows(text, i + 1)
                && text.get(i + 1..).is_some_and(|r| {
                    r.trim_ascii_start()
                        .first()
                        .is_some_and(u8::is_ascii_alphabetic)
                }) =>
            {
                out.push(i)
            }
            _ => {}
        }
    }
    out
}

/// Whether what follows a `union` further in can be its second query: SQL's UNION takes
/// a SELECT (MySQL also VALUES or TABLE), possibly in parentheses. Prose that merely has
/// the word (`the union members' desk`) is not run through libinjection again; a value
/// that starts with `union` still is, from its start.
fn union_operand(text: &[u8], from: usize) -> bool {
    let rest = text.get(from..).unwrap_or(&[]);
    rest.contains(&b'(')
        || rest
            .windows(6)
            .any(|w| w.eq_ignore_ascii_case(b"select") || w.eq_ignore_ascii_case(b"values"))
        || rest.windows(5).any(|w| w.eq_ignore_ascii_case(b"table"))
}

/// libinjection over the value from each start; the first confirmed (LOW) or any (HIGH)
/// verdict.
fn scan(text: &[u8], sensitivity: Sensitivity, document: bool) -> Option<[u8; 8]> {
    let mut unconfirmed = None;
    for s in starts(text) {
        let part = text.get(s..).unwrap_or(&[]);
        if let Some(fp) = libinjection_fp(part) {
            if confirmed(fp_str(&fp), part, document) {
                return Some(fp);
            }
            unconfirmed.get_or_insert(fp);
        }
    }
    match sensitivity {
        Sensitivity::High => unconfirmed,
        Sensitivity::Low => None,
    }
}

/// The `SQLi_*` detector: libinjection, confirmed.
pub fn libinjection(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    let document = s.document();
    let stripped = if s.place().is_text() {
        strip_tags(s.canon())
    } else {
        None
    };
    let forms: [(&[u8], Form); 1] = [(stripped.as_deref().unwrap_or(s.canon()), Form::Decoded)];
    for (text, form) in forms {
        if let Some(fp) = scan(text, sensitivity, document) {
            let mut f = Finding::new(
                Threat::Sqli,
                "libinjection",
                form,
                "libinjection SQL injection fingerprint",
            );
            f.fingerprint = fp;
            return Some(f);
        }
        // MySQL executes `/*! ... */`; libinjection reads it as a comment.
        if text.windows(3).any(|w| w == b"/*!") {
            let opened = decode::sql_form(text);
            if let Some(fp) = scan(&opened, sensitivity, document) {
                let mut f = Finding::new(
                    Threat::Sqli,
                    "libinjection",
                    form,
                    "libinjection SQL injection fingerprint (MySQL comment opened)",
                );
                f.fingerprint = fp;
                return Some(f);
            }
        }
    }
    None
}

/// Markup tags replaced by a space (`<` and `>` are SQL operators, and rich text is full
/// of them). `None` when there are none.
fn strip_tags(text: &[u8]) -> Option<Vec<u8>> {
    let tag_start = |i: usize| {
        text.get(i + 1)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'/' || *c == b'!')
    };
    if !text
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'<' && tag_start(i))
    {
        return None;
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if b == b'<' && tag_start(i) {
            let rest = text.get(i..).unwrap_or(&[]);
            if let Some(end) = rest.iter().position(|c| *c == b'>') {
                out.push(b' ');
                i += end + 1;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    Some(out)
}

/// Breakout patterns on the SQL normal form (comments removed, whitespace compressed,
/// lower case): an injection leaving the string or number the application put it in.
static BREAKOUT: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        (
            "union-select",
            r"(^|['\x22`\d)])\s*\)*\s*union(\s+(all|distinct))?[\s(]*select\b",
        ),
        (
            "time-probe",
            r"(^|[^\w.])(sleep|pg_sleep|benchmark)\s*\(\s*['(]*\d",
        ),
        ("time-probe", r"\bwaitfor\s+(delay|time)\s+'"),
        (
            "time-probe",
            r"\b(dbms_pipe\.receive_message|dbms_lock\.sleep|randomblob\s*\(\s*\d{6})",
        ),
        (
            "dangerous-function",
            r"\b(xp_cmdshell|xp_regread|xp_dirtree|sp_addlogin|sp_addsrvrolemember|sp_executesql|sp_oacreate|sp_configure|sp_password|utl_http\.request|utl_inaddr\.get_host_\w+|dbms_\w+\.\w+|load_file\s*\(|into\s+(out|dump)file|extractvalue\s*\(|updatexml\s*\(|current_setting\s*\(|name_const\s*\(|procedure\s+analyse\s*\(|make_set\s*\(|elt\s*\(\s*\d)",
        ),
        ("string-concat-call", r"['`]\s*(\|\||\+)\s*[\w.]+\s*\("),
        (
            "quote-comment",
            r"^[\w@.\-]*['\x22`]\s*\)*\s*(--|#|;|/\*|\x00)",
        ),
        (
            "quote-logic",
            r"['\x22`]\s*\)*\s*(or|and|xor|\|\||&&)\s*[\s(]*['\x22`\d(@]",
        ),
        (
            "quote-logic",
            r"['\x22`]\s*\)*\s*(or|and|xor|\|\||&&)\s+(true|false|not|null|sleep|benchmark|pg_sleep|if|case|exists|select|x=|[a-z]\s*=\s*[a-z]\b)",
        ),
        (
            "quote-stacked",
            r"['\x22`]\s*\)*\s*;\s*(drop|truncate|shutdown|insert|delete|update|select|exec|execute|declare|waitfor|create|alter|grant|copy)\b",
        ),
        (
            "convert-cast",
            r"\b(convert|cast)\s*\(\s*(int|varchar|nvarchar|char)\s*,\s*\(|\bcast\s*\(.*\bas\s+(int|varchar|nvarchar|numeric|signed|char)\b",
        ),
        (
            "substring-probe",
            r"\b(substr(ing)?|mid|ascii|ord|length|len|hex|unhex|lower|upper)\s*\(\s*\(?\s*(@@|select\b|version\s*\(|user\s*\(|database\s*\()",
        ),
        (
            "like-probe",
            r"['\x22]\s*\)*\s*(or|and)\s+[\w'\x22]+\s+(like|rlike|regexp|sounds\s+like|between)\s+",
        ),
        ("having-tautology", r"\bhaving\s+\d+\s*=\s*\d+"),
    ])
});

/// Statement patterns: SQL that does something on its own (a UNION anywhere, catalog
/// reads, DDL, stacked queries). Not looked for in documents, which may quote SQL.
static STATEMENT: LazyLock<Rules> = LazyLock::new(|| {
    Rules::new(&[
        (
            "number-stacked",
            r"\d\s*\)*\s*;\s*(drop|truncate|shutdown|insert|delete|update|select|exec|execute|declare|waitfor|create|alter|grant|copy)\b",
        ),
        (
            "if-function",
            r"\b(if|iif|ifnull)\s*\(.*\b(sleep|benchmark|pg_sleep|select|substr(ing)?|ascii|length|version)\b",
        ),
        ("union-select", r"\bunion(\s+(all|distinct))?[\s(]*select\b"),
        (
            "catalog",
            r"@@(version|datadir|hostname|servername|basedir|tmpdir|language|spid)\b|\binformation_schema\b|\bsys\.(all_tables|all_users|user_tables|user_objects|objects|columns|tables|databases|sysobjects|login_user|database_name)\b|\bsys(objects|columns|users|databases)\b|\bpg_(shadow|user|group|database|catalog|tables|namespace|authid)\b|\bmysql\.(user|db)\b|\bv\$(version|instance|database)\b|\ball_tab_columns\b|\bdba_(role_privs|users|tables)\b|\bmaster\.\.|\bsqlite_master\b",
        ),
        (
            "info-function",
            r"\bselect\s+(@@\w+|version\s*\(|user\s*\(|current_user|session_user|system_user|database\s*\(|current_database\s*\(|current_setting|banner\b|\*\s+from\b|null\s*,|\d+\s*,\s*\d+|count\s*\(|distinct\b|concat|char\s*\(|\(\s*select|\w+\s*\(\s*\)\s*(;|$|--|#)|[\w.$]+\s+from\s+[\w.$]+)",
        ),
        (
            "concat-chars",
            r"\b(char|chr|nchar)\s*\(\s*\d+\s*\)\s*(\+|\|\||,)\s*(char|chr|nchar)\s*\(",
        ),
        (
            "subquery",
            r"(\(|\b(and|or|xor|not|=)\s*\(?)\s*select\b.*\bfrom\b",
        ),
        ("subquery", r"\b(and|or|xor|not)\s*\(+\s*select\b"),
        (
            "stacked-query",
            r";\s*(drop\s+(table|database|user|view|procedure|function|schema|index)\b|truncate\s+table\b|(shutdown|commit|rollback)\s*(;|--|#|$)|insert\s+into\s+[\w.`]+|delete\s+from\s+[\w.`]+|update\s+[\w.`]+\s+set\b|select\b.*\bfrom\b|select\s+[\w@*(]|exec(ute)?\s+[\w.]+|declare\s+@|waitfor\s+|copy\s+\w+\s+(from|to)\b|create\s+(table|user|database|function|procedure|login)\b|alter\s+(table|user|database|login)\b|grant\s+\w+|set\s+@|call\s+\w+\s*\()",
        ),
        (
            "ddl",
            r"^\s*(drop\s+(table|database)\s+[\w.`]+\s*(;|--|#|$)|create\s+user\s+\S+\s+identified\s+by\b|create\s+table\s+\w+\s*\(|grant\s+(all|connect|resource|dba|select|insert)\b.*\bto\b|insert\s+into\s+[\w.`]+\s*(\(|values\b|select\b)|copy\s+\w+\s+(from|to)\s|exec(ute)?\s+(master|xp_|sp_)|declare\s+@\w+)",
        ),
        (
            "order-by-probe",
            r"(^|['\x22)\s])(order|group)\s+by\s+\d+\s*(,|--|#|;|/\*|\)|$)",
        ),
        ("as-injectx", r"\bas\s+\w+\s+where\s+\d+\s*=\s*\d+"),
        ("where-tautology", r"^\s*where\s+\d+\s*=\s*\d+"),
    ])
});

/// `(or|and|xor|&&|||) lhs op rhs` where the comparison is a tautology or a contradiction
/// (`1=1`, `'a'='a'`, `x=x`, `2>1`, `7506=9091`): what a boolean probe looks like and
/// what text rarely does.
fn boolean_probe(form: &[u8], document: bool) -> bool {
    static PROBE: LazyLock<Rules> = LazyLock::new(|| {
        Rules::new(&[(
            "probe",
            r"(?:^|[\s'\x22`)\d])(?:or|and|xor|\|\||&&)[\s(]*(['\x22`]?)([\w.@$]*)['\x22`]?[\s)]*(=|<>|!=|<=>|<=|>=|<|>|\blike\b|\bis\b)[\s(]*['\x22`]?([\w.@$]*)",
        )])
    });
    let Some(re) = PROBE.get("probe") else {
        return false;
    };
    if !re.is_match(form) {
        return false;
    }
    for c in re.captures_iter(form) {
        // In a document only right after a closed string or number.
        if document
            && c.get(0).is_some_and(|m| {
                let lead = m.as_bytes().first().copied();
                !matches!(lead, Some(b'\'' | b'"' | b'`' | b')' | b'0'..=b'9'))
            })
        {
            continue;
        }
        let quoted = c.get(1).is_some_and(|m| !m.is_empty());
        let lhs = c.get(2).map_or(&b""[..], |m| m.as_bytes());
        let op = c.get(3).map_or(&b""[..], |m| m.as_bytes());
        let rhs = c.get(4).map_or(&b""[..], |m| m.as_bytes());
        let numeric =
            |v: &[u8]| !v.is_empty() && v.iter().all(|b| b.is_ascii_digit() || *b == b'.');
        let both_numeric = numeric(lhs) && numeric(rhs);
        let same = lhs == rhs && (quoted || !lhs.is_empty());
        if both_numeric || same || (op == b"is" && rhs == b"null") {
            return true;
        }
        // `or x=y`, single letters compared: the classic probes.
        if lhs.len() == 1 && rhs.len() == 1 && op == b"=" {
            return true;
        }
    }
    false
}

fn extended_scan(form: &[u8], sensitivity: Sensitivity, document: bool) -> Option<&'static str> {
    if let Some(rule) = BREAKOUT.first(form) {
        return Some(rule);
    }
    if !document && let Some(rule) = STATEMENT.first(form) {
        return Some(rule);
    }
    if boolean_probe(form, document) {
        return Some("boolean-probe");
    }
    if sensitivity == Sensitivity::High {
        static HIGH: LazyLock<Rules> = LazyLock::new(|| {
            Rules::new(&[
                (
                    "keyword-pair",
                    r"\b(select\b.*\bfrom|insert\s+into|delete\s+from|drop\s+table|union\b.*\bselect|exec(ute)?\s+\w+)\b",
                ),
                (
                    "quote-operator",
                    r"['\x22`]\s*\)*\s*(or|and|\|\||&&)\s+['\x22`\d(]",
                ),
                ("sql-comment", r"['\x22`\d]\s*\)*\s*(--|#)\s*$"),
            ])
        });
        return HIGH.first(form);
    }
    None
}

/// The `SQLiExtendedPatterns_*` detector.
pub fn extended(s: &Subject<'_>, sensitivity: Sensitivity) -> Option<Finding> {
    let form = decode::sql_form(s.canon());
    if let Some(rule) = extended_scan(&form, sensitivity, s.document()) {
        return Some(Finding::new(
            Threat::SqliExtended,
            rule,
            Form::Decoded,
            "SQL injection pattern",
        ));
    }
    None
}

/// `SqliMatchStatement` on an already transformed value.
pub fn match_statement(input: &[u8], sensitivity: Sensitivity) -> bool {
    if scan(input, sensitivity, false).is_some() {
        return true;
    }
    let form = decode::sql_form(input);
    extended_scan(&form, sensitivity, false).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_compile() {
        assert!(BREAKOUT.rejected().is_empty(), "{:?}", BREAKOUT.rejected());
        assert!(
            STATEMENT.rejected().is_empty(),
            "{:?}",
            STATEMENT.rejected()
        );
    }
}
