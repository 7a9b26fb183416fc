//! Condition operators: the `String*`, `Numeric*`, `Date*`, `Bool`, `BinaryEquals`,
//! `IpAddress`/`NotIpAddress`, `Arn*` and `Null` families, each (but `Null`) with an
//! `...IfExists` form, and the `ForAllValues:` / `ForAnyValue:` set qualifiers.
//!
//! Semantics (IAM's): operators AND together, so do keys under one operator; the values of
//! one key OR. A key the request does not have fails a positive operator and satisfies a
//! negated one (`StringNotEquals`, `NotIpAddress`, ...); `...IfExists` makes a missing key
//! satisfy any operator; `ForAllValues` holds for a missing key or an empty set and
//! `ForAnyValue` fails for them. Without a set qualifier a multi-valued key satisfies a
//! positive operator when any of its values matches and a negated one when none does.

use std::net::IpAddr;

use crate::context::{Context, Values};
use crate::pattern::Pattern;
use crate::tree::Pos;

/// Operator families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String { ignore_case: bool, like: bool },
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// Comparisons of the numeric and date families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn test(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// `ForAllValues:` / `ForAnyValue:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    All,
    Any,
}

/// A compiled operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    family: Family,
    negated: bool,
    if_exists: bool,
    set: Option<SetOp>,
    name: String,
}

/// Every base operator name, for suggestions.
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

impl Operator {
    /// Parses an operator name such as `ForAnyValue:StringLikeIfExists`.
    pub fn parse(name: &str) -> Result<Self, String> {
        let (set, rest) = if let Some(r) = strip_prefix_ci(name, "ForAllValues:") {
            (Some(SetOp::All), r)
        } else if let Some(r) = strip_prefix_ci(name, "ForAnyValue:") {
            (Some(SetOp::Any), r)
        } else {
            (None, name)
        };
        let (base, if_exists) = match strip_suffix_ci(rest, "IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let canonical = OPERATORS
            .iter()
            .find(|o| o.eq_ignore_ascii_case(base))
            .ok_or_else(|| {
                let hint = crate::suggest(base, OPERATORS)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                format!("unknown condition operator `{name}`{hint}")
            })?;
        let (family, negated) = match *canonical {
            "StringEquals" => (
                Family::String {
                    ignore_case: false,
                    like: false,
                },
                false,
            ),
            "StringNotEquals" => (
                Family::String {
                    ignore_case: false,
                    like: false,
                },
                true,
            ),
            "StringEqualsIgnoreCase" => (
                Family::String {
                    ignore_case: true,
                    like: false,
                },
                false,
            ),
            "StringNotEqualsIgnoreCase" => (
                Family::String {
                    ignore_case: true,
                    like: false,
                },
                true,
            ),
            "StringLike" => (
                Family::String {
                    ignore_case: false,
                    like: true,
                },
                false,
            ),
            "StringNotLike" => (
                Family::String {
                    ignore_case: false,
                    like: true,
                },
                true,
            ),
            "NumericEquals" => (Family::Numeric(Cmp::Eq), false),
            "NumericNotEquals" => (Family::Numeric(Cmp::Eq), true),
            "NumericLessThan" => (Family::Numeric(Cmp::Lt), false),
            "NumericLessThanEquals" => (Family::Numeric(Cmp::Le), false),
            "NumericGreaterThan" => (Family::Numeric(Cmp::Gt), false),
            "NumericGreaterThanEquals" => (Family::Numeric(Cmp::Ge), false),
            "DateEquals" => (Family::Date(Cmp::Eq), false),
            "DateNotEquals" => (Family::Date(Cmp::Eq), true),
            "DateLessThan" => (Family::Date(Cmp::Lt), false),
            "DateLessThanEquals" => (Family::Date(Cmp::Le), false),
            "DateGreaterThan" => (Family::Date(Cmp::Gt), false),
            "DateGreaterThanEquals" => (Family::Date(Cmp::Ge), false),
            "Bool" => (Family::Bool, false),
            "BinaryEquals" => (Family::Binary, false),
            "IpAddress" => (Family::Ip, false),
            "NotIpAddress" => (Family::Ip, true),
            "ArnEquals" | "ArnLike" => (Family::Arn, false),
            "ArnNotEquals" | "ArnNotLike" => (Family::Arn, true),
            _ => (Family::Null, false),
        };
        if family == Family::Null && (if_exists || set.is_some()) {
            return Err(format!(
                "`{name}`: Null takes neither IfExists nor a set qualifier"
            ));
        }
        Ok(Self {
            family,
            negated,
            if_exists,
            set,
            name: name.to_owned(),
        })
    }

    /// The operator as written.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    (tail.eq_ignore_ascii_case(suffix) && cut > 0)
        .then(|| s.get(..cut))
        .flatten()
}

/// A compiled condition value.
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    /// Text, possibly with policy variables (string and ARN families).
    Text(Pattern),
    /// A number.
    Number(f64),
    /// A time, Unix seconds (fractional).
    Time(f64),
    /// `true` / `false` (Bool and Null).
    Flag(bool),
    /// A network.
    Net(Cidr),
}

/// One operator applied to one key with its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    op: Operator,
    /// The key, lower case.
    key: String,
    /// The key as written.
    key_written: String,
    expected: Vec<Expected>,
    /// The values as written, for explanations.
    written: Vec<String>,
    /// Where the key is.
    pub pos: Pos,
}

impl Condition {
    /// Compiles `op` on `key` with `values` (already scalars' text).
    pub fn compile(
        op: &Operator,
        key: &str,
        values: &[String],
        variables: bool,
        pos: Pos,
    ) -> Result<Self, String> {
        crate::context::check_key(key)?;
        if values.is_empty() {
            return Err(format!("`{key}` has no values"));
        }
        let mut expected = Vec::with_capacity(values.len());
        for v in values {
            let bad = |what: &str| format!("`{v}` is not {what} (operator {})", op.name);
            expected.push(match op.family {
                Family::String { like, ignore_case } => {
                    // Only the Like operators give `*` and `?` their meaning; the others
                    // compare the text (after resolving variables) as it is.
                    let p = Pattern::compile(v, variables, ignore_case && like)?;
                    Expected::Text(p)
                }
                Family::Arn => Expected::Text(Pattern::compile(v, variables, false)?),
                Family::Binary => Expected::Text(Pattern::compile(v, false, false)?),
                Family::Numeric(_) => {
                    Expected::Number(parse_number(v).ok_or_else(|| bad("a number"))?)
                }
                Family::Date(_) => Expected::Time(
                    parse_time(v).ok_or_else(|| bad("a date (ISO 8601, or Unix seconds)"))?,
                ),
                Family::Bool | Family::Null => {
                    Expected::Flag(match v.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad("true or false")),
                    })
                }
                Family::Ip => {
                    Expected::Net(Cidr::parse(v).ok_or_else(|| bad("an IP address or CIDR block"))?)
                }
            });
        }
        Ok(Self {
            op: op.clone(),
            key: key.to_ascii_lowercase(),
            key_written: key.to_owned(),
            expected,
            written: values.to_vec(),
            pos,
        })
    }

    /// A one-line description, for explanations: `StringEquals aws:username in ["alice"]`.
    pub fn describe(&self) -> String {
        format!("{} {} {:?}", self.op.name, self.key_written, self.written)
    }

    /// Whether the condition holds for the request.
    pub fn holds(&self, ctx: &dyn Context) -> bool {
        if self.op.family == Family::Null {
            let present = ctx.get(&self.key).is_some_and(|v| match v {
                Values::One(_) => true,
                Values::Many(vs) => !vs.is_empty(),
            });
            return self
                .expected
                .iter()
                .any(|e| matches!(e, Expected::Flag(null) if *null != present));
        }
        let Some(values) = ctx.get(&self.key) else {
            return self.op.if_exists
                || match self.op.set {
                    Some(SetOp::All) => true,
                    Some(SetOp::Any) => false,
                    None => self.op.negated,
                };
        };
        let one = |v: &str| {
            let m = self.expected.iter().any(|e| self.compare(v, e, ctx));
            m != self.op.negated
        };
        match self.op.set {
            Some(SetOp::All) => values.iter().all(one),
            Some(SetOp::Any) => values.iter().any(one),
            None => {
                if self.op.negated {
                    values
                        .iter()
                        .all(|v| !self.expected.iter().any(|e| self.compare(v, e, ctx)))
                } else {
                    values.iter().any(one)
                }
            }
        }
    }

    fn compare(&self, actual: &str, expected: &Expected, ctx: &dyn Context) -> bool {
        match (self.op.family, expected) {
            (
                Family::String {
                    like: true,
                    ignore_case,
                },
                Expected::Text(p),
            ) => {
                if ignore_case {
                    p.matches(&actual.to_lowercase(), ctx)
                } else {
                    p.matches(actual, ctx)
                }
            }
            (
                Family::String {
                    like: false,
                    ignore_case,
                },
                Expected::Text(p),
            ) => p.resolve(ctx).is_some_and(|want| {
                if ignore_case {
                    want.to_lowercase() == actual.to_lowercase()
                } else {
                    want == actual
                }
            }),
            (Family::Arn, Expected::Text(p)) => p.matches(actual, ctx),
            (Family::Binary, Expected::Text(p)) => p.as_str() == actual,
            (Family::Numeric(cmp), Expected::Number(want)) => {
                parse_number(actual).is_some_and(|a| cmp.test(a, *want))
            }
            (Family::Date(cmp), Expected::Time(want)) => {
                parse_time(actual).is_some_and(|a| cmp.test(a, *want))
            }
            (Family::Bool, Expected::Flag(want)) => match actual.to_ascii_lowercase().as_str() {
                "true" => *want,
                "false" => !*want,
                _ => false,
            },
            (Family::Ip, Expected::Net(net)) => actual
                .parse::<IpAddr>()
                .is_ok_and(|ip| net.contains(ip.to_canonical())),
            _ => false,
        }
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A date: Unix seconds (`1700000000`), or ISO 8601 (`2024-05-01`, `2024-05-01T10:00:00Z`,
/// `2024-05-01T10:00:00.5+02:00`). Returns Unix seconds.
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.len() > 40 {
        return None;
    }
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && !s.get(1..).unwrap_or("").contains('-')
    {
        return parse_number(s);
    }
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if s.get(4..5) != Some("-") || s.get(7..8) != Some("-") {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let mut secs = (days * 86_400) as f64;
    let rest = s.get(10..)?;
    if rest.is_empty() {
        return Some(secs);
    }
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix('t'))?;
    let hh: i64 = rest.get(0..2)?.parse().ok()?;
    if rest.get(2..3) != Some(":") {
        return None;
    }
    let mm: i64 = rest.get(3..5)?.parse().ok()?;
    let mut tail = rest.get(5..)?;
    let mut ss = 0.0;
    if let Some(t) = tail.strip_prefix(':') {
        let end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        ss = t.get(..end)?.parse::<f64>().ok()?;
        tail = t.get(end..)?;
    }
    if hh > 23 || mm > 59 || !(0.0..61.0).contains(&ss) {
        return None;
    }
    secs += (hh * 3600 + mm * 60) as f64 + ss;
    let offset = match tail {
        "Z" | "z" => 0,
        _ => {
            let sign = match tail.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let oh: i64 = tail.get(1..3)?.parse().ok()?;
            let om: i64 = match tail.get(3..) {
                Some("") => 0,
                Some(m) => m.trim_start_matches(':').parse().ok()?,
                None => return None,
            };
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(secs - offset as f64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `2001:db8::/32`, or a single address.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Self { addr, prefix })
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::MapContext;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        let op = Operator::parse(op).unwrap();
        let values: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
        Condition::compile(&op, key, &values, true, Pos::default()).unwrap()
    }

    #[test]
    fn operator_names() {
        assert!(Operator::parse("ForAnyValue:StringLikeIfExists").is_ok());
        assert!(Operator::parse("stringequals").is_ok());
        let e = Operator::parse("StringEqual").unwrap_err();
        assert!(e.contains("did you mean `StringEquals`"), "{e}");
        assert!(Operator::parse("NullIfExists").is_err());
        assert!(Operator::parse("IfExists").is_err());
    }

    #[test]
    fn strings_and_missing_keys() {
        let mut ctx = MapContext::default();
        ctx.set("aws:username", "Alice");
        assert!(cond("StringEquals", "aws:username", &["Bob", "Alice"]).holds(&ctx));
        assert!(!cond("StringEquals", "aws:username", &["alice"]).holds(&ctx));
        assert!(cond("StringEqualsIgnoreCase", "aws:username", &["alice"]).holds(&ctx));
        assert!(cond("StringLike", "aws:username", &["A*"]).holds(&ctx));
        assert!(
            !cond("StringEquals", "aws:username", &["A*"]).holds(&ctx),
            "only Like has wildcards"
        );
        assert!(cond("StringNotEquals", "aws:username", &["Bob"]).holds(&ctx));
        assert!(!cond("StringNotEquals", "aws:username", &["Bob", "Alice"]).holds(&ctx));
        // missing key: positive fails, negated holds, IfExists holds
        assert!(!cond("StringEquals", "jwt:tenant", &["x"]).holds(&ctx));
        assert!(cond("StringNotEquals", "jwt:tenant", &["x"]).holds(&ctx));
        assert!(cond("StringEqualsIfExists", "jwt:tenant", &["x"]).holds(&ctx));
        // escapes in plain values
        ctx.set("jwt:pattern", "a*b");
        assert!(cond("StringEquals", "jwt:pattern", &["a${*}b"]).holds(&ctx));
        // variables in values
        ctx.set("jwt:owner", "Alice");
        assert!(cond("StringEquals", "jwt:owner", &["${aws:username}"]).holds(&ctx));
        // unknown keys are refused
        let op = Operator::parse("StringEquals").unwrap();
        assert!(
            Condition::compile(&op, "aws:sourceipp", &["x".into()], true, Pos::default()).is_err()
        );
    }

    #[test]
    fn sets() {
        let mut ctx = MapContext::default();
        ctx.set_many("portcullis:groups", ["admins", "readers"]);
        assert!(cond("ForAnyValue:StringEquals", "portcullis:groups", &["admins"]).holds(&ctx));
        assert!(
            !cond(
                "ForAllValues:StringEquals",
                "portcullis:groups",
                &["admins"]
            )
            .holds(&ctx)
        );
        assert!(
            cond(
                "ForAllValues:StringEquals",
                "portcullis:groups",
                &["admins", "readers", "x"]
            )
            .holds(&ctx)
        );
        assert!(
            cond("ForAllValues:StringEquals", "jwt:none", &["a"]).holds(&ctx),
            "missing: vacuously true"
        );
        assert!(!cond("ForAnyValue:StringEquals", "jwt:none", &["a"]).holds(&ctx));
        ctx.set_many("jwt:empty", Vec::<String>::new());
        assert!(cond("ForAllValues:StringEquals", "jwt:empty", &["a"]).holds(&ctx));
        assert!(!cond("ForAnyValue:StringEquals", "jwt:empty", &["a"]).holds(&ctx));
        assert!(
            cond(
                "ForAnyValue:StringNotEquals",
                "portcullis:groups",
                &["admins"]
            )
            .holds(&ctx)
        );
        assert!(!cond("StringNotEquals", "portcullis:groups", &["admins"]).holds(&ctx));
        assert!(cond("Null", "jwt:none", &["true"]).holds(&ctx));
        assert!(cond("Null", "portcullis:groups", &["false"]).holds(&ctx));
        assert!(
            cond("Null", "jwt:empty", &["true"]).holds(&ctx),
            "an empty set is absent"
        );
    }

    #[test]
    fn numbers_dates_bools_ips() {
        let mut ctx = MapContext::default();
        ctx.set("jwt:level", "7");
        ctx.set("aws:currenttime", "2024-05-01T12:00:00Z");
        ctx.set("aws:epochtime", "1714564800");
        ctx.set("aws:securetransport", "true");
        ctx.set("aws:sourceip", "203.0.113.9");
        assert!(cond("NumericGreaterThan", "jwt:level", &["5"]).holds(&ctx));
        assert!(!cond("NumericLessThan", "jwt:level", &["5"]).holds(&ctx));
        assert!(cond("NumericNotEquals", "jwt:level", &["5", "6"]).holds(&ctx));
        assert!(
            cond(
                "DateGreaterThan",
                "aws:currenttime",
                &["2024-05-01T11:59:59Z"]
            )
            .holds(&ctx)
        );
        assert!(
            cond(
                "DateLessThan",
                "aws:currenttime",
                &["2024-05-01T14:00:00+01:00"]
            )
            .holds(&ctx)
        );
        assert!(cond("DateEquals", "aws:epochtime", &["2024-05-01T12:00:00Z"]).holds(&ctx));
        assert!(cond("DateEquals", "aws:currenttime", &["1714564800"]).holds(&ctx));
        assert!(cond("Bool", "aws:securetransport", &["true"]).holds(&ctx));
        assert!(!cond("Bool", "aws:securetransport", &["false"]).holds(&ctx));
        assert!(cond("IpAddress", "aws:sourceip", &["203.0.113.0/24"]).holds(&ctx));
        assert!(!cond("IpAddress", "aws:sourceip", &["198.51.100.0/24"]).holds(&ctx));
        assert!(
            cond(
                "NotIpAddress",
                "aws:sourceip",
                &["198.51.100.0/24", "10.0.0.0/8"]
            )
            .holds(&ctx)
        );
        ctx.set("aws:sourceip", "::ffff:203.0.113.9");
        assert!(
            cond("IpAddress", "aws:sourceip", &["203.0.113.9"]).holds(&ctx),
            "v4-mapped v6"
        );
        ctx.set("aws:sourceip", "2001:db8::1");
        assert!(cond("IpAddress", "aws:sourceip", &["2001:db8::/32"]).holds(&ctx));
        assert!(!cond("IpAddress", "aws:sourceip", &["0.0.0.0/0"]).holds(&ctx));
        assert!(cond("IpAddress", "aws:sourceip", &["::/0"]).holds(&ctx));
        let op = Operator::parse("IpAddress").unwrap();
        assert!(
            Condition::compile(
                &op,
                "aws:sourceip",
                &["10.0.0.0/33".into()],
                true,
                Pos::default()
            )
            .is_err()
        );
        let op = Operator::parse("NumericEquals").unwrap();
        assert!(
            Condition::compile(&op, "jwt:level", &["seven".into()], true, Pos::default()).is_err()
        );
    }

    #[test]
    fn dates_parse() {
        assert_eq!(parse_time("1970-01-01"), Some(0.0));
        assert_eq!(parse_time("2000-03-01T00:00:00Z"), Some(951_868_800.0));
        assert_eq!(parse_time("2024-05-01T12:00:00.5Z"), Some(1_714_564_800.5));
        assert_eq!(
            parse_time("2024-05-01T13:00:00+01:00"),
            Some(1_714_564_800.0)
        );
        assert_eq!(parse_time("1714564800"), Some(1_714_564_800.0));
        assert_eq!(parse_time("2024-13-01"), None);
        assert_eq!(parse_time("yesterday"), None);
    }
}
