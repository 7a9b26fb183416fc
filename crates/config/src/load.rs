//! From YAML text to a validated [`Config`], collecting every problem on the way.
//!
//! The walker reads each mapping with a [`Map`] reader that remembers which keys were used;
//! whatever is left over is an unknown key, reported with a "did you mean" hint. Each typed
//! getter reports its own problem and returns `None`, so validation always runs to the end
//! and the user sees every mistake in one go.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis_core::{ApiIdentity, ResponseType};

use crate::diag::{Diagnostic, Diagnostics, did_you_mean, suggest};
use crate::model::*;
use crate::units::{parse_duration, parse_size};
use crate::yaml::{self, Key, Loc, Node, Value};

mod apis;
mod auth;
mod lambda;
mod usage_plans;
mod validation;
mod waf;

/// Looks up an environment variable for `${NAME}` substitution.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads and validates a config file. Relative file paths inside it are resolved against the
/// file's directory.
pub fn load_file(path: &Path) -> Result<Config, Diagnostics> {
    let file = path.display().to_string();
    let source = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            return Err(Diagnostics::whole_file(
                &file,
                format!("cannot read the config file: {e}"),
                Some("check the path and that the file is readable".into()),
            ));
        }
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let env = |name: &str| std::env::var(name).ok();
    load_str(&file, &source, &base, &env)
}

/// Validates config text. `file` names it in diagnostics, `base` resolves relative paths.
pub fn load_str(
    file: &str,
    source: &str,
    base: &Path,
    env: EnvLookup<'_>,
) -> Result<Config, Diagnostics> {
    let mut cx = Cx {
        proxy_timeouts: Vec::new(),
        auth_timeouts: Vec::new(),
        auth_refs: Vec::new(),
        function_refs: Vec::new(),
        api_key_methods: Vec::new(),
        validation_refs: Vec::new(),
        other_sources: Vec::new(),
        file,
        base,
        env,
        diags: Vec::new(),
        warnings: Vec::new(),
    };
    let config = match yaml::parse(source) {
        Ok(root) => read_config(&mut cx, &root),
        Err(e) => {
            cx.error(
                e.loc,
                "",
                format!("invalid YAML: {}", e.message),
                "fix the YAML syntax at this position",
            );
            None
        }
    };
    match config {
        Some(mut c) if cx.diags.is_empty() => {
            c.warnings = cx.warnings;
            Ok(c)
        }
        _ => {
            let mut items = cx.diags;
            if items.is_empty() {
                items.push(Diagnostic {
                    file: file.to_owned(),
                    loc: Loc::default(),
                    path: String::new(),
                    message: "the config is invalid".into(),
                    help: None,
                });
            }
            items.sort_by(|a, b| {
                (a.file != file, &a.file, a.loc.line, a.loc.column).cmp(&(
                    b.file != file,
                    &b.file,
                    b.loc.line,
                    b.loc.column,
                ))
            });
            Err(Diagnostics {
                source: source.to_owned(),
                items,
                other_sources: cx.other_sources,
            })
        }
    }
}

struct Cx<'a> {
    /// Integration timeouts seen, checked against the listener's request timeout at the end.
    proxy_timeouts: Vec<(Loc, String, Duration)>,
    /// Authorizer and function timeouts, checked the same way.
    auth_timeouts: Vec<(Loc, String, Duration)>,
    /// Methods' authorizer choices (location, key path, choice, has scopes), checked against
    /// the authorizers once everything is read.
    auth_refs: Vec<(Loc, String, MethodAuth, bool)>,
    /// Functions named by `aws_proxy` integrations (location, key path, name), checked
    /// against `functions:` with the API's other references.
    function_refs: Vec<(Loc, String, String)>,
    /// Methods that require an API key (location of the flag, the method's key path),
    /// checked against the APIs and usage plans once everything is read.
    api_key_methods: Vec<(Loc, String)>,
    /// Methods' validation choices, resolved against validators and models at the end.
    validation_refs: Vec<validation::MethodValidationRef>,
    /// Texts of other files (policy files) that diagnostics point into.
    other_sources: Vec<(String, String)>,
    file: &'a str,
    base: &'a Path,
    env: EnvLookup<'a>,
    diags: Vec<Diagnostic>,
    /// Problems that do not stop the config from loading.
    warnings: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn error(&mut self, loc: Loc, path: &str, message: impl Into<String>, help: impl Into<String>) {
        self.push(self.file.to_owned(), loc, path, message.into(), help.into());
    }

    /// A problem in another file (a policy file), whose text is kept for the report.
    fn error_in(
        &mut self,
        file: &str,
        text: &str,
        loc: Loc,
        path: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        if !self.other_sources.iter().any(|(f, _)| f == file) {
            self.other_sources.push((file.to_owned(), text.to_owned()));
        }
        self.push(file.to_owned(), loc, path, message.into(), help.into());
    }

    /// A problem that does not stop the config from loading.
    fn warn(&mut self, loc: Loc, path: &str, message: impl Into<String>, help: impl Into<String>) {
        let help: String = help.into();
        self.warnings.push(Diagnostic {
            file: self.file.to_owned(),
            loc,
            path: path.to_owned(),
            message: message.into(),
            help: (!help.is_empty()).then_some(help),
        });
    }

    fn push(&mut self, file: String, loc: Loc, path: &str, message: String, help: String) {
        self.diags.push(Diagnostic {
            file,
            loc,
            path: path.to_owned(),
            message,
            help: (!help.is_empty()).then_some(help),
        });
    }

    fn expected(&mut self, node: &Node, path: &str, what: &str, help: &str) {
        self.error(
            node.loc,
            path,
            format!("expected {what}, found {}", node.value.kind()),
            help,
        );
    }

    /// A string scalar with `${VAR}` substituted. Numbers and booleans are accepted as text.
    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        let raw = match &node.value {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Float(f) => f.to_string(),
            _ => {
                self.expected(node, path, "a string", "write the value as a quoted string");
                return None;
            }
        };
        self.substitute(&raw, node.loc, path)
    }

    fn substitute(&mut self, raw: &str, loc: Loc, path: &str) -> Option<String> {
        if !raw.contains('$') {
            return Some(raw.to_owned());
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        let mut ok = true;
        while let Some(pos) = rest.find('$') {
            let (head, tail) = rest.split_at(pos);
            out.push_str(head);
            if let Some(after) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                let Some(end) = after.find('}') else {
                    self.error(
                        loc,
                        path,
                        "unterminated `${` in value",
                        "close it with `}`, or write `$${` for a literal `${`",
                    );
                    return None;
                };
                let (name, after_name) = after.split_at(end);
                let valid = !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !name.bytes().next().is_some_and(|b| b.is_ascii_digit());
                if !valid {
                    self.error(
                        loc,
                        path,
                        format!("`${{{name}}}` is not a valid environment variable reference"),
                        "variable names are letters, digits and `_`, not starting with a digit",
                    );
                    ok = false;
                } else if let Some(v) = (self.env)(name) {
                    out.push_str(&v);
                } else {
                    self.error(
                        loc,
                        path,
                        format!("environment variable `{name}` is not set"),
                        format!(
                            "set {name} before starting the gateway, or write the value directly"
                        ),
                    );
                    ok = false;
                }
                rest = after_name.get(1..).unwrap_or("");
            } else {
                out.push('$');
                rest = tail.get(1..).unwrap_or("");
            }
        }
        out.push_str(rest);
        ok.then_some(out)
    }

    fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let text = self.string(node, path)?;
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    node.loc,
                    path,
                    e,
                    "write a duration such as `500ms`, `30s`, `1m30s` or `2h`",
                );
                None
            }
        }
    }

    fn size(&mut self, node: &Node, path: &str) -> Option<u64> {
        let text = self.string(node, path)?;
        match parse_size(&text) {
            Ok(n) => Some(n),
            Err(e) => {
                self.error(
                    node.loc,
                    path,
                    e,
                    "write a size such as `16KiB`, `10MiB` or a number of bytes",
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.expected(
                    node,
                    path,
                    "true or false",
                    "write `true` or `false`, unquoted",
                );
                None
            }
        }
    }

    fn integer(&mut self, node: &Node, path: &str, min: i64, max: i64) -> Option<i64> {
        match node.value {
            Value::Int(i) if (min..=max).contains(&i) => Some(i),
            Value::Int(i) => {
                self.error(
                    node.loc,
                    path,
                    format!("{i} is out of range"),
                    format!("use a whole number from {min} to {max}"),
                );
                None
            }
            _ => {
                self.expected(
                    node,
                    path,
                    "a whole number",
                    &format!("use a whole number from {min} to {max}"),
                );
                None
            }
        }
    }

    fn status(&mut self, node: &Node, path: &str) -> Option<u16> {
        self.integer(node, path, 100, 599)
            .and_then(|i| u16::try_from(i).ok())
    }

    fn socket_addr(&mut self, node: &Node, path: &str) -> Option<SocketAddr> {
        let text = self.string(node, path)?;
        match text.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.error(
                    node.loc,
                    path,
                    format!("`{text}` is not an IP address and port"),
                    "write it as `127.0.0.1:8080` or `[::1]:8080`",
                );
                None
            }
        }
    }

    fn file_path(&mut self, node: &Node, path: &str) -> Option<PathBuf> {
        let text = self.string(node, path)?;
        let p = PathBuf::from(&text);
        let full = if p.is_absolute() {
            p
        } else {
            self.base.join(p)
        };
        if !full.is_file() {
            self.error(
                node.loc,
                path,
                format!("file `{}` does not exist", full.display()),
                "relative paths are resolved against the config file's directory",
            );
            return None;
        }
        Some(full)
    }

    fn map<'n>(&mut self, node: &'n Node, path: &str) -> Option<Map<'n>> {
        match &node.value {
            Value::Map(entries) => Some(Map {
                entries,
                used: vec![false; entries.len()],
                path: path.to_owned(),
                loc: node.loc,
            }),
            Value::Null => Some(Map {
                entries: &[],
                used: Vec::new(),
                path: path.to_owned(),
                loc: node.loc,
            }),
            _ => {
                self.expected(
                    node,
                    path,
                    "a mapping",
                    "write `key: value` pairs indented under this key",
                );
                None
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A mapping whose keys are names: each key is checked by `valid` (refused as "`KEY`
/// {verdict}", with `rule` as help), each value read by `each`. `None` if anything was
/// wrong.
fn named<T>(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    (expected, example): (&str, &str),
    (verdict, rule): (&str, &str),
    valid: impl Fn(&str) -> bool,
    mut each: impl FnMut(&mut Cx<'_>, &str, Loc, &Node, &str) -> Option<T>,
) -> Option<Vec<T>> {
    let Value::Map(entries) = &node.value else {
        cx.expected(node, path, expected, example);
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let kpath = join(path, &key.name);
        if !valid(&key.name) {
            cx.error(key.loc, &kpath, format!("`{}` {verdict}", key.name), rule);
            ok = false;
            continue;
        }
        match each(cx, &key.name, key.loc, value, &kpath) {
            Some(t) => out.push(t),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// A mapping being read: keys taken are marked; the rest are unknown.
struct Map<'n> {
    entries: &'n [(Key, Node)],
    used: Vec<bool>,
    path: String,
    loc: Loc,
}

impl<'n> Map<'n> {
    fn take(&mut self, key: &str) -> Option<(&'n Node, String)> {
        let idx = self.entries.iter().position(|(k, _)| k.name == key)?;
        if let Some(u) = self.used.get_mut(idx) {
            *u = true;
        }
        self.entries
            .get(idx)
            .map(|(_, n)| (n, join(&self.path, key)))
    }

    fn required(&mut self, cx: &mut Cx<'_>, key: &str, help: &str) -> Option<(&'n Node, String)> {
        let found = self.take(key);
        if found.is_none() {
            let what = if self.path.is_empty() {
                "the top level".to_owned()
            } else {
                format!("`{}`", self.path)
            };
            cx.error(
                self.loc,
                &self.path,
                format!("missing key `{key}` in {what}"),
                help,
            );
        }
        found
    }

    /// Reports keys that are not in `allowed`, without reading the rest: used when the
    /// mapping cannot be read further (its `type` is missing) but typos should still show.
    fn finish_known(mut self, cx: &mut Cx<'_>, allowed: &[&str]) {
        for k in allowed {
            let _ = self.take(k);
        }
        self.finish(cx, allowed);
    }

    /// Reports every key not taken, suggesting the closest allowed one.
    fn finish(self, cx: &mut Cx<'_>, allowed: &[&str]) {
        for ((key, _), used) in self.entries.iter().zip(self.used) {
            if used {
                continue;
            }
            let help = did_you_mean(&key.name, allowed, "", || {
                format!("allowed keys here: {}", allowed.join(", "))
            });
            cx.error(
                key.loc,
                &join(&self.path, &key.name),
                format!("unknown key `{}`", key.name),
                help,
            );
        }
    }
}

/// Keys every config may have.
const SHARED_KEYS: &[&str] = &[
    "listener",
    "admin",
    "access_log",
    "identity",
    "functions",
    "validation",
    "domains",
    "waf",
    "usage_plans",
    "limits",
];

/// Keys of the single-API shape: the API's own sections at the top level.
const SINGLE_API_KEYS: &[&str] = &[
    "api",
    "resources",
    "gateway_responses",
    "authorizers",
    "authorization",
    "stage_variables",
    "throttle",
    "models",
    "request_validators",
    "request_validator",
    "binary_media_types",
    "api_key_source",
];

/// Keys of the many-APIs shape besides the shared ones.
const MANY_API_KEYS: &[&str] = &["aws", "apis"];

fn read_config(cx: &mut Cx<'_>, root: &Node) -> Option<Config> {
    let mut m = cx.map(root, "")?;
    let listener = m
        .required(
            cx,
            "listener",
            "add `listener:` with at least `address: 127.0.0.1:8080`",
        )
        .and_then(|(n, p)| read_listener(cx, n, &p));
    let admin = m.take("admin").and_then(|(n, p)| read_admin(cx, n, &p));
    let access_log = match m.take("access_log") {
        Some((n, p)) => read_access_log(cx, n, &p),
        None => Some(AccessLogConfig {
            enabled: true,
            target: LogTarget::Stdout,
        }),
    };
    let identity = m
        .take("identity")
        .map(|(n, p)| read_identity(cx, n, &p, listener.as_ref()));
    let functions = match m.take("functions") {
        Some((n, p)) => lambda::read_functions(cx, n, &p),
        None => Some(Vec::new()),
    };
    let validation_limits =
        validation::read_validation(cx, m.take("validation"), listener.as_ref());
    let shared = apis::Shared {
        function_names: validation::names_in(root, "functions"),
        identity: identity.as_ref().and_then(Option::as_ref),
        has_identity: identity.is_some(),
    };
    let shared_has_identity = shared.has_identity;
    let many = m.take("apis").is_some();
    let (account, apis, implicit) = if many {
        apis::read_many(cx, &mut m, &shared)
    } else {
        apis::read_single(cx, root, &mut m, &shared)
    };
    let known = apis::known(root, apis.as_deref(), many);
    let domains = apis::read_domains(cx, m.take("domains"), &known, implicit);
    let waf = match m.take("waf") {
        Some((n, p)) => waf::read_waf(cx, n, &p, account.as_ref(), &known).map(Some),
        None => Some(None),
    };
    let limits = match m.take("limits") {
        Some((n, p)) => usage_plans::read_limits(cx, n, &p),
        None => Some(LimitsConfig::default()),
    };
    let usage_plans = match m.take("usage_plans") {
        Some((n, p)) => usage_plans::read(cx, n, &p, apis.as_deref()),
        None => Some(Vec::new()),
    };
    if let (Some(apis), Some(plans)) = (&apis, &usage_plans) {
        let required = std::mem::take(&mut cx.api_key_methods);
        usage_plans::check_key_methods(cx, &required, apis, plans, shared_has_identity);
    }
    let allowed: Vec<&str> = if many {
        SHARED_KEYS.iter().chain(MANY_API_KEYS).copied().collect()
    } else {
        SHARED_KEYS.iter().chain(SINGLE_API_KEYS).copied().collect()
    };
    m.finish(cx, &allowed);
    if let Some(l) = &listener {
        for (loc, path, timeout) in std::mem::take(&mut cx.proxy_timeouts) {
            if timeout >= l.request_timeout {
                cx.error(
                    loc,
                    &path,
                    format!(
                        "the integration timeout {} is not shorter than listener.request_timeout {}",
                        crate::units::format_duration(timeout),
                        crate::units::format_duration(l.request_timeout)
                    ),
                    "the request timeout would cut the request first and blame the client; shorten the integration timeout or raise request_timeout",
                );
            }
        }
    }
    if let Some(l) = &listener {
        for (loc, path, timeout) in std::mem::take(&mut cx.auth_timeouts) {
            if timeout >= l.request_timeout {
                cx.error(
                    loc,
                    &path,
                    format!(
                        "the authorizer timeout {} is not shorter than listener.request_timeout {}",
                        crate::units::format_duration(timeout),
                        crate::units::format_duration(l.request_timeout)
                    ),
                    "the request timeout would cut the request first and answer 408; shorten this timeout or raise request_timeout",
                );
            }
        }
    }
    if let (Some(l), Some(a)) = (&listener, &admin)
        && l.address == a.address
        && l.address.port() != 0
    {
        // Point at the admin address value itself.
        let admin_map = match &root.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == "admin")
                .map(|(_, v)| v),
            _ => None,
        };
        let loc = match admin_map.map(|n| &n.value) {
            Some(Value::Map(entries)) => entries
                .iter()
                .find(|(k, _)| k.name == "address")
                .map_or(root.loc, |(_, v)| v.loc),
            _ => root.loc,
        };
        cx.error(
            loc,
            "admin.address",
            format!(
                "the admin listener uses the gateway's address {}",
                a.address
            ),
            "give the admin listener its own port, e.g. 127.0.0.1:9090",
        );
    }
    Some(Config {
        file: cx.file.to_owned(),
        account: account?,
        listener: listener?,
        admin,
        access_log: access_log?,
        identity: match identity {
            Some(i) => Some(i?),
            None => None,
        },
        functions: functions?,
        apis: apis?,
        domains: domains?,
        validation: validation_limits?,
        waf: waf?,
        usage_plans: usage_plans?,
        limits: limits?,
        warnings: Vec::new(),
    })
}

/// Every authorizer a method or the default names exists; scopes have an authorizer to
/// check them; the built-in issuer has a user pool.
#[allow(
    clippy::too_many_arguments,
    reason = "one check over the whole document"
)]
fn check_auth_refs(
    cx: &mut Cx<'_>,
    root: &Node,
    prefix: &str,
    names: &[String],
    lambda_names: &[&str],
    authorizers: &[AuthorizerConfig],
    authorization: &AuthorizationConfig,
    authorization_ok: bool,
    has_identity: bool,
) {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let unknown = |name: &str| {
        if names.is_empty() {
            "define it under `authorizers:`".to_owned()
        } else {
            did_you_mean(name, &names, "", || {
                format!("authorizers: {}", names.join(", "))
            })
        }
    };
    if let Some(d) = &authorization.default_authorizer
        && !names.contains(&d.as_str())
    {
        let loc = match &root.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == "authorization")
                .map_or(Loc::default(), |(_, v)| v.loc),
            _ => Loc::default(),
        };
        let help = unknown(d);
        cx.error(
            loc,
            &join(prefix, "authorization.default_authorizer"),
            format!("no authorizer named `{d}`"),
            help,
        );
    }
    for (loc, path, choice, has_scopes) in std::mem::take(&mut cx.auth_refs) {
        let effective = match &choice {
            MethodAuth::Named(n) => Some(n.as_str()),
            MethodAuth::None => None,
            MethodAuth::Default => authorization.default_authorizer.as_deref(),
        };
        if let MethodAuth::Named(n) = &choice
            && !names.contains(&n.as_str())
        {
            let help = unknown(n);
            cx.error(
                loc,
                &join(&path, "authorizer"),
                format!("no authorizer named `{n}`"),
                help,
            );
        }
        if has_scopes && effective.is_some_and(|e| lambda_names.contains(&e)) {
            cx.error(
                loc,
                &join(&path, "scopes"),
                "scopes on a method with a Lambda authorizer",
                "scopes are checked in JWTs; a Lambda authorizer decides with its policy",
            );
        }
        // With a broken `authorization` section the default authorizer is unknown.
        if has_scopes && effective.is_none() && (authorization_ok || choice != MethodAuth::Default)
        {
            cx.error(
                loc,
                &join(&path, "scopes"),
                "scopes on a method without an authorizer",
                "name an authorizer for the method (or a default one); scopes are checked in its tokens",
            );
        }
    }
    if !has_identity {
        for a in authorizers {
            if a.issuer == IssuerConfig::Builtin {
                cx.error(
                    a.loc,
                    &join(prefix, &format!("authorizers.{}.issuer", a.name)),
                    "`issuer: builtin` needs the built-in user pool",
                    "add an `identity:` section",
                );
            }
        }
    }
}

fn read_api(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<ApiIdentity> {
    let mut m = cx.map(node, path)?;
    let id = checked_field(
        cx,
        &mut m,
        "id",
        "an API id is letters and digits, e.g. `a1b2c3d4e5`",
        apis::valid_api_id,
    );
    let stage = checked_field(
        cx,
        &mut m,
        "stage",
        "a stage name is letters, digits, `-` and `_`, e.g. `prod`",
        apis::valid_stage,
    );
    let account = read_account_keys(cx, &mut m);
    m.finish(cx, &["id", "stage", "region", "account", "partition"]);
    Some(account?.identity(&id?, &stage?))
}

/// A required string key of `m` that `check` accepts.
fn checked_field(
    cx: &mut Cx<'_>,
    m: &mut Map<'_>,
    key: &str,
    help: &str,
    check: fn(&str) -> bool,
) -> Option<String> {
    let (n, p) = m.required(cx, key, help)?;
    let v = cx.string(n, &p)?;
    if !check(&v) {
        cx.error(n.loc, &p, format!("`{v}` is not a valid {key}"), help);
        return None;
    }
    Some(v)
}

/// `region`, `account` and `partition` (default `aws`) of `m`: under `api:` in the
/// single-API shape, under `aws:` with many APIs.
fn read_account_keys(cx: &mut Cx<'_>, m: &mut Map<'_>) -> Option<Account> {
    let region = checked_field(cx, m, "region", "a region looks like `us-east-1`", |s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    let account = checked_field(
        cx,
        m,
        "account",
        "an account id is twelve digits, quoted: `\"123456789012\"` (unquoted, YAML reads a number and drops leading zeros)",
        |s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()),
    );
    let partition = match m.take("partition") {
        Some((n, p)) => cx.string(n, &p).and_then(|v| {
            if !v.is_empty() && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                Some(v)
            } else {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{v}` is not a valid partition"),
                    "partitions look like `aws`, `aws-cn` or `aws-us-gov`",
                );
                None
            }
        }),
        None => Some("aws".to_owned()),
    };
    Some(Account {
        partition: partition?,
        region: region?,
        account: account?,
    })
}

const LISTENER_KEYS: &[&str] = &[
    "address",
    "tls",
    "http2",
    "max_header_size",
    "max_body_size",
    "header_read_timeout",
    "idle_timeout",
    "request_timeout",
    "shutdown_grace",
    "max_connections",
];

fn read_listener(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<ListenerConfig> {
    let mut m = cx.map(node, path)?;
    let address = m
        .required(cx, "address", "add `address: 127.0.0.1:8080`")
        .and_then(|(n, p)| cx.socket_addr(n, &p));
    let tls = m.take("tls").map(|(n, p)| read_tls(cx, n, &p));
    let http2 = m.take("http2").map(|(n, p)| cx.boolean(n, &p));
    let size =
        |cx: &mut Cx<'_>, m: &mut Map<'_>, key: &str, default: u64, min: u64| -> Option<u64> {
            let Some((n, p)) = m.take(key) else {
                return Some(default);
            };
            let v = cx.size(n, &p)?;
            if v < min {
                cx.error(
                    n.loc,
                    &p,
                    format!("{key} must be at least {min} bytes"),
                    format!("use {min} bytes or more, e.g. `16KiB`"),
                );
                return None;
            }
            Some(v)
        };
    let max_header_size = size(cx, &mut m, "max_header_size", 16 * 1024, 8 * 1024);
    let max_body_size = size(cx, &mut m, "max_body_size", 10 * 1024 * 1024, 0);
    let dur = |cx: &mut Cx<'_>, m: &mut Map<'_>, key: &str, default: u64| -> Option<Duration> {
        let Some((n, p)) = m.take(key) else {
            return Some(Duration::from_secs(default));
        };
        let d = cx.duration(n, &p)?;
        if d.is_zero() && key != "shutdown_grace" {
            cx.error(n.loc, &p, format!("{key} must be greater than zero"), "");
            return None;
        }
        Some(d)
    };
    let header_read_timeout = dur(cx, &mut m, "header_read_timeout", 10);
    let idle_timeout = dur(cx, &mut m, "idle_timeout", 60);
    let request_timeout = dur(cx, &mut m, "request_timeout", 60);
    let shutdown_grace = dur(cx, &mut m, "shutdown_grace", 30);
    let max_connections = match m.take("max_connections") {
        Some((n, p)) => cx
            .integer(n, &p, 1, 1_000_000)
            .and_then(|i| u32::try_from(i).ok()),
        None => Some(10_000),
    };
    m.finish(cx, LISTENER_KEYS);
    Some(ListenerConfig {
        address: address?,
        tls: match tls {
            Some(t) => Some(t?),
            None => None,
        },
        http2: match http2 {
            Some(b) => b?,
            None => true,
        },
        max_header_size: max_header_size?,
        max_body_size: max_body_size?,
        header_read_timeout: header_read_timeout?,
        idle_timeout: idle_timeout?,
        request_timeout: request_timeout?,
        shutdown_grace: shutdown_grace?,
        max_connections: max_connections?,
    })
}

fn read_tls(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<TlsConfig> {
    let mut m = cx.map(node, path)?;
    let cert = m
        .required(
            cx,
            "cert_file",
            "add `cert_file:` with a PEM certificate chain",
        )
        .and_then(|(n, p)| cx.file_path(n, &p));
    let key = m
        .required(cx, "key_file", "add `key_file:` with a PEM private key")
        .and_then(|(n, p)| cx.file_path(n, &p));
    m.finish(cx, &["cert_file", "key_file"]);
    Some(TlsConfig {
        cert_file: cert?,
        key_file: key?,
        loc: node.loc,
    })
}

const ADMIN_KEYS: &[&str] = &[
    "address",
    "token_file",
    "token_env",
    "header_read_timeout",
    "check_interval",
];

fn read_admin(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<AdminConfig> {
    let mut m = cx.map(node, path)?;
    let address_node = m.take("address");
    let address = match &address_node {
        Some((n, p)) => cx.socket_addr(n, p),
        None => Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
    };
    let file = m.take("token_file");
    let env = m.take("token_env");
    let token = match (file, env) {
        (Some(_), Some((n, p))) => {
            cx.error(
                n.loc,
                &p,
                "give the admin token in one place: token_file or token_env, not both",
                "remove one of the two keys",
            );
            None
        }
        (Some((n, p)), None) => cx.file_path(n, &p).and_then(|f| match std::fs::read(&f) {
            Ok(_) if open_to_others(&f) => {
                cx.error(
                    n.loc,
                    &p,
                    format!(
                        "the admin token file `{}` is open to other users; it grants every admin endpoint",
                        f.display()
                    ),
                    format!(
                        "run `chmod 600 {}` (and replace the token if others may have read it)",
                        f.display()
                    ),
                );
                None
            }
            Ok(bytes) => admin_token(cx, n.loc, &p, &bytes, &format!("file `{}`", f.display())),
            Err(e) => {
                cx.error(
                    n.loc,
                    &p,
                    format!("cannot read the admin token file `{}`: {e}", f.display()),
                    "check the path and that the gateway's user can read it",
                );
                None
            }
        }),
        (None, Some((n, p))) => cx.string(n, &p).and_then(|name| match (cx.env)(&name) {
            Some(v) => admin_token(
                cx,
                n.loc,
                &p,
                v.as_bytes(),
                &format!("environment variable `{name}`"),
            ),
            None => {
                cx.error(
                    n.loc,
                    &p,
                    format!("environment variable `{name}` is not set"),
                    format!("set {name} to the admin token before starting the gateway"),
                );
                None
            }
        }),
        (None, None) => Some(None),
    };
    let dur = |cx: &mut Cx<'_>, m: &mut Map<'_>, key: &str, default: Duration| {
        let Some((n, p)) = m.take(key) else {
            return Some(default);
        };
        let d = cx.duration(n, &p)?;
        if d < Duration::from_millis(50) || d > Duration::from_secs(3600) {
            cx.error(
                n.loc,
                &p,
                format!("{key} {} is out of range", crate::units::format_duration(d)),
                "use 50ms to 1h",
            );
            return None;
        }
        Some(d)
    };
    let header_read_timeout = dur(cx, &mut m, "header_read_timeout", Duration::from_secs(5));
    let check_interval = dur(cx, &mut m, "check_interval", Duration::from_secs(5));
    m.finish(cx, ADMIN_KEYS);
    let (address, token) = (address?, token?);
    if token.is_none() && !address.ip().is_loopback() {
        let loc = address_node.map_or(node.loc, |(n, _)| n.loc);
        cx.error(
            loc,
            "admin.address",
            format!(
                "the admin listener on {address} would be reachable from other hosts without authentication"
            ),
            "set `token_file:` (or `token_env:`) to require a bearer token, or bind it to 127.0.0.1",
        );
        return None;
    }
    Some(AdminConfig {
        address,
        token,
        header_read_timeout: header_read_timeout?,
        check_interval: check_interval?,
    })
}

/// Whether group or other users may read or write `path` (a file holding a secret).
fn open_to_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

/// Checks an admin token's bytes (a trailing newline is dropped): `Some(Some(token))` when
/// usable, `None` (after an error) when not.
fn admin_token(
    cx: &mut Cx<'_>,
    loc: Loc,
    path: &str,
    bytes: &[u8],
    from: &str,
) -> Option<Option<Secret>> {
    let trimmed = bytes
        .strip_suffix(b"\n")
        .map(|b| b.strip_suffix(b"\r").unwrap_or(b))
        .unwrap_or(bytes);
    let printable = trimmed.iter().all(|b| (0x21..=0x7e).contains(b));
    if !printable {
        cx.error(
            loc,
            path,
            format!("the admin token in {from} has spaces, control characters or non-ASCII bytes"),
            "use letters and digits, e.g. the output of `openssl rand -hex 32`",
        );
        return None;
    }
    if !(ADMIN_TOKEN_MIN_LEN..=ADMIN_TOKEN_MAX_LEN).contains(&trimmed.len()) {
        cx.error(
            loc,
            path,
            format!(
                "the admin token in {from} has {} bytes; it needs {ADMIN_TOKEN_MIN_LEN} to {ADMIN_TOKEN_MAX_LEN}",
                trimmed.len()
            ),
            "use a random token, e.g. the output of `openssl rand -hex 32`",
        );
        return None;
    }
    let text = String::from_utf8_lossy(trimmed).into_owned();
    Some(Some(Secret(text)))
}

fn read_access_log(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<AccessLogConfig> {
    let mut m = cx.map(node, path)?;
    let enabled = match m.take("enabled") {
        Some((n, p)) => cx.boolean(n, &p),
        None => Some(true),
    };
    let target = match m.take("target") {
        Some((n, p)) => cx
            .string(n, &p)
            .map(|t| match t.as_str() {
                "stdout" => LogTarget::Stdout,
                "stderr" => LogTarget::Stderr,
                other => {
                    let p = PathBuf::from(other);
                    LogTarget::File(if p.is_absolute() { p } else { cx.base.join(p) })
                }
            })
            .and_then(|t| {
                if let LogTarget::File(f) = &t
                    && let Some(dir) = f.parent()
                    && !dir.as_os_str().is_empty()
                    && !dir.is_dir()
                {
                    cx.error(
                        n.loc,
                        &p,
                        format!("directory `{}` does not exist", dir.display()),
                        "create it, or write the log to `stdout` or `stderr`",
                    );
                    return None;
                }
                Some(t)
            }),
        None => Some(LogTarget::Stdout),
    };
    m.finish(cx, &["enabled", "target"]);
    Some(AccessLogConfig {
        enabled: enabled?,
        target: target?,
    })
}

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

fn read_resources(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Vec<ResourceConfig>> {
    let Value::Map(entries) = &node.value else {
        if node.value == Value::Null {
            return Some(Vec::new());
        }
        cx.expected(
            node,
            path,
            "a mapping of resource paths",
            "write resources as `/pets:` keys with methods under them",
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    let mut shapes: Vec<(Vec<Segment>, String)> = Vec::new();
    for (key, value) in entries {
        let rpath = join(path, &key.name);
        let Some(segments) = parse_resource_path(cx, &key.name, key.loc, &rpath) else {
            ok = false;
            continue;
        };
        // Two templates that differ only in parameter names would match the same requests.
        let shape = shape_of(&segments);
        if let Some((_, other)) = shapes.iter().find(|(s, _)| *s == shape) {
            cx.error(key.loc, &rpath, format!("resource `{}` conflicts with `{other}`", key.name), "two resources at the same level cannot differ only in parameter names; use one name");
            ok = false;
            continue;
        }
        shapes.push((shape, key.name.clone()));
        match read_methods(cx, value, &rpath, &segments) {
            Some(methods) => out.push(ResourceConfig {
                path: key.name.clone(),
                segments,
                methods,
                loc: key.loc,
            }),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// A template's segments with parameter names erased: two templates of one shape match the
/// same requests.
fn shape_of(segments: &[Segment]) -> Vec<Segment> {
    segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => Segment::Literal(l.clone()),
            Segment::Param(_) => Segment::Param(String::new()),
            Segment::Greedy(_) => Segment::Greedy(String::new()),
        })
        .collect()
}

fn parse_resource_path(cx: &mut Cx<'_>, text: &str, loc: Loc, path: &str) -> Option<Vec<Segment>> {
    let help =
        "a resource path starts with `/` and has segments like `pets`, `{id}` or a last `{proxy+}`";
    let Some(rest) = text.strip_prefix('/') else {
        cx.error(
            loc,
            path,
            format!("resource path `{text}` must start with `/`"),
            help,
        );
        return None;
    };
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let raw: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(raw.len());
    let mut names: Vec<&str> = Vec::new();
    for (i, seg) in raw.iter().enumerate() {
        let last = i + 1 == raw.len();
        if seg.is_empty() {
            cx.error(
                loc,
                path,
                format!("resource path `{text}` has an empty segment"),
                "remove the doubled or trailing `/`",
            );
            return None;
        }
        if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
            if !valid {
                cx.error(
                    loc,
                    path,
                    format!("`{seg}` is not a valid path parameter"),
                    "parameter names are letters, digits, `_`, `-` and `.`",
                );
                return None;
            }
            if names.contains(&name) {
                cx.error(
                    loc,
                    path,
                    format!("path parameter `{name}` appears twice"),
                    "give each parameter its own name",
                );
                return None;
            }
            names.push(name);
            if greedy {
                if !last {
                    cx.error(
                        loc,
                        path,
                        format!("greedy parameter `{seg}` must be the last segment"),
                        format!("move `{{{name}+}}` to the end of the path"),
                    );
                    return None;
                }
                segments.push(Segment::Greedy(name.to_owned()));
            } else {
                segments.push(Segment::Param(name.to_owned()));
            }
        } else if seg.contains(['{', '}']) {
            cx.error(
                loc,
                path,
                format!("segment `{seg}` mixes text and a parameter"),
                "a parameter must be a whole segment, like `{id}`",
            );
            return None;
        } else if *seg == "." || *seg == ".." {
            cx.error(
                loc,
                path,
                format!("segment `{seg}` is a dot segment"),
                "requests with `.` or `..` segments are refused; name the resource without them",
            );
            return None;
        } else {
            segments.push(Segment::Literal((*seg).to_owned()));
        }
    }
    Some(segments)
}

fn read_methods(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    segments: &[Segment],
) -> Option<Vec<MethodConfig>> {
    let Value::Map(entries) = &node.value else {
        cx.expected(
            node,
            path,
            "a mapping of methods",
            "write methods such as `GET:` or `ANY:` under the resource",
        );
        return None;
    };
    if entries.is_empty() {
        cx.error(
            node.loc,
            path,
            "a resource needs at least one method",
            "add e.g. `GET:` with an integration",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let mpath = join(path, &key.name);
        if !METHODS.contains(&key.name.as_str()) {
            let help = did_you_mean(&key.name, METHODS, "", || {
                format!("methods are {}", METHODS.join(", "))
            });
            cx.error(
                key.loc,
                &mpath,
                format!("unknown method `{}`", key.name),
                help,
            );
            ok = false;
            continue;
        }
        match read_method(cx, &key.name, key.loc, value, &mpath, segments, METHOD_KEYS) {
            Some(m) => out.push(m),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// One method (or HTTP API route) at `mpath`: its integration, authorization and
/// validation; `allowed` are the keys it may have.
fn read_method(
    cx: &mut Cx<'_>,
    method: &str,
    key_loc: Loc,
    value: &Node,
    mpath: &str,
    segments: &[Segment],
    allowed: &[&str],
) -> Option<MethodConfig> {
    let mut m = cx.map(value, mpath)?;
    let integration = m
        .required(
            cx,
            "integration",
            "add `integration:` with `type: mock`, `type: http_proxy` or `type: aws_proxy`",
        )
        .and_then(|(n, p)| read_integration(cx, n, &p, segments));
    let authorizer = m.take("authorizer");
    let scopes = m.take("scopes");
    let auth = auth::read_method_auth(cx, authorizer, scopes);
    let api_key_required = match m.take("api_key_required") {
        Some((n, p)) => match cx.boolean(n, &p) {
            Some(true) => {
                cx.api_key_methods.push((n.loc, mpath.to_owned()));
                Some(true)
            }
            other => other,
        },
        None => Some(false),
    };
    let throttle = m.take("throttle").map(|(n, p)| read_throttle(cx, n, &p));
    let validator = m.take("request_validator");
    let params = m.take("request_parameters");
    let models = m.take("request_models");
    let validation_ok =
        validation::read_method_validation(cx, mpath, segments, validator, params, models);
    m.finish(cx, allowed);
    if let Some((choice, loc, scopes)) = &auth {
        cx.auth_refs.push((
            loc.unwrap_or(key_loc),
            mpath.to_owned(),
            choice.clone(),
            !scopes.is_empty(),
        ));
    }
    match (integration, auth) {
        (Some(integration), Some((auth, _, scopes)))
            if validation_ok && throttle != Some(None) && api_key_required.is_some() =>
        {
            Some(MethodConfig {
                method: method.to_owned(),
                at: mpath.to_owned(),
                integration,
                auth,
                scopes,
                throttle: throttle.flatten(),
                api_key_required: api_key_required.unwrap_or(false),
                // Filled in once validators and models are read.
                validation: None,
            })
        }
        _ => None,
    }
}

/// `throttle: {rate: 50, burst: 100}`: API Gateway's `rateLimit` (steady requests per
/// second) and `burstLimit` (the bucket's size).
fn read_throttle(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<ThrottleConfig> {
    let mut m = cx.map(node, path)?;
    let rate = m
        .required(
            cx,
            "rate",
            "add `rate:`, the steady requests per second, e.g. `rate: 50`",
        )
        .and_then(|(n, p)| {
            let v = match n.value {
                Value::Int(i) => i64_to_f64(i),
                Value::Float(f) => Some(f),
                _ => None,
            };
            match v {
                Some(v) if v.is_finite() && (0.0..=1e9).contains(&v) => Some(v),
                _ => {
                    cx.error(
                        n.loc,
                        &p,
                        "`rate` is requests per second, from 0 to 1000000000",
                        "write a number such as `50` or `0.5`",
                    );
                    None
                }
            }
        });
    let burst = m
        .required(
            cx,
            "burst",
            "add `burst:`, the bucket's size, e.g. `burst: 100`",
        )
        .and_then(|(n, p)| cx.integer(n, &p, 0, i64::from(u32::MAX)))
        .and_then(|i| u32::try_from(i).ok());
    m.finish(cx, &["rate", "burst"]);
    Some(ThrottleConfig {
        rate: rate?,
        burst: burst?,
    })
}

/// `i` as a float when it is exact (every rate worth writing is).
fn i64_to_f64(i: i64) -> Option<f64> {
    i32::try_from(i).ok().map(f64::from)
}

const METHOD_KEYS: &[&str] = &[
    "throttle",
    "api_key_required",
    "integration",
    "authorizer",
    "scopes",
    "request_validator",
    "request_parameters",
    "request_models",
];

const MOCK_KEYS: &[&str] = &["type", "status", "headers", "body"];
const AWS_PROXY_KEYS: &[&str] = &["type", "function", "timeout", "payload_format_version"];
const PROXY_KEYS: &[&str] = &[
    "type",
    "uri",
    "timeout",
    "protocol",
    "ca_file",
    "request_parameters",
    "parameter_mapping",
];

fn read_integration(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    segments: &[Segment],
) -> Option<IntegrationConfig> {
    let mut m = cx.map(node, path)?;
    let mut all_keys: Vec<&str> = Vec::new();
    for k in MOCK_KEYS.iter().chain(PROXY_KEYS).chain(AWS_PROXY_KEYS) {
        if !all_keys.contains(k) {
            all_keys.push(k);
        }
    }
    let Some((tnode, tpath)) = m.required(
        cx,
        "type",
        "set `type: mock`, `type: http_proxy` or `type: aws_proxy`",
    ) else {
        m.finish_known(cx, &all_keys);
        return None;
    };
    let Some(kind) = cx.string(tnode, &tpath) else {
        m.finish_known(cx, &all_keys);
        return None;
    };
    match kind.as_str() {
        "mock" => {
            let status = match m.take("status") {
                Some((n, p)) => cx.status(n, &p).and_then(|s| {
                    if s < 200 {
                        cx.error(
                            n.loc,
                            &p,
                            format!("a mock cannot answer with the informational status {s}"),
                            "use a final status from 200 to 599",
                        );
                        return None;
                    }
                    Some(s)
                }),
                None => Some(200),
            };
            let headers = match m.take("headers") {
                Some((n, p)) => read_headers(cx, n, &p).and_then(|hs| {
                    let framing = [
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "keep-alive",
                        "upgrade",
                        "te",
                        "trailer",
                    ];
                    let bad: Vec<&str> = hs
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .filter(|k| framing.contains(&k.to_ascii_lowercase().as_str()))
                        .collect();
                    if bad.is_empty() {
                        Some(hs)
                    } else {
                        cx.error(
                            n.loc,
                            &p,
                            format!("`{}` cannot be set on a mock response", bad.join("`, `")),
                            "the gateway sets framing headers itself from the body",
                        );
                        None
                    }
                }),
                None => Some(Vec::new()),
            };
            let body = match m.take("body") {
                Some((n, p)) => cx.string(n, &p),
                None => Some(String::new()),
            };
            m.finish(cx, MOCK_KEYS);
            Some(IntegrationConfig::Mock(MockConfig {
                status: status?,
                headers: headers?,
                body: body?,
            }))
        }
        "http_proxy" => {
            let uri = m
                .required(cx, "uri", "add `uri: http://127.0.0.1:8081/{proxy}`")
                .and_then(|(n, p)| {
                    let text = cx.string(n, &p)?;
                    parse_uri_template(cx, &text, n.loc, &p, segments)
                });
            let timeout = integration_timeout(cx, &mut m, node, path);
            let protocol = match m.take("protocol") {
                Some((n, p)) => cx.string(n, &p).and_then(|v| match v.as_str() {
                    "auto" => Some(UpstreamProtocol::Auto),
                    "http2" => Some(UpstreamProtocol::Http2),
                    other => {
                        cx.error(
                            n.loc,
                            &p,
                            format!("unknown protocol `{other}`"),
                            "use `auto` (HTTP/1.1, or ALPN with https) or `http2`",
                        );
                        None
                    }
                }),
                None => Some(UpstreamProtocol::Auto),
            };
            let ca_file = m.take("ca_file").map(|(n, p)| cx.file_path(n, &p));
            let rest_params = m.take("request_parameters");
            let http_params = m.take("parameter_mapping");
            let http_api_mapping = http_params.is_some();
            let params = match (rest_params, http_params) {
                (Some((n, p)), None) => read_parameter_mappings(cx, n, &p, segments),
                (None, Some((n, p))) => apis::read_http_mapping(cx, n, &p, segments),
                (Some((n, p)), Some(_)) => {
                    cx.error(
                        n.loc,
                        &p,
                        "`request_parameters` and `parameter_mapping` together",
                        "REST APIs use `request_parameters`, HTTP APIs `parameter_mapping`: keep the one of the API's type",
                    );
                    None
                }
                (None, None) => Some(Vec::new()),
            };
            m.finish(cx, PROXY_KEYS);
            Some(IntegrationConfig::HttpProxy(HttpProxyConfig {
                uri: uri?,
                timeout: timeout?,
                protocol: protocol?,
                ca_file: match ca_file {
                    Some(f) => Some(f?),
                    None => None,
                },
                request_parameters: params?,
                http_api_mapping,
                loc: node.loc,
            }))
        }
        "aws_proxy" => {
            let function = m
                .required(
                    cx,
                    "function",
                    "name the function under `functions:` that answers the request",
                )
                .and_then(|(n, p)| {
                    let name = cx.string(n, &p)?;
                    cx.function_refs.push((n.loc, p, name.clone()));
                    Some(name)
                });
            let timeout = integration_timeout(cx, &mut m, node, path);
            let payload = match m.take("payload_format_version") {
                Some((n, p)) => cx.string(n, &p).and_then(|v| match v.as_str() {
                    "1.0" => Some(Some(PayloadFormat::Http1)),
                    "2.0" => Some(Some(PayloadFormat::Http2)),
                    other => {
                        cx.error(
                            n.loc,
                            &p,
                            format!("unknown payload format version `{other}`"),
                            "HTTP APIs use \"1.0\" or \"2.0\" (quoted); REST APIs have one format and need no version",
                        );
                        None
                    }
                }),
                None => Some(None),
            };
            m.finish(cx, AWS_PROXY_KEYS);
            Some(IntegrationConfig::AwsProxy(AwsProxyConfig {
                function: function?,
                timeout: timeout?,
                payload: payload?,
                loc: node.loc,
            }))
        }
        other => {
            let help = did_you_mean(other, &["mock", "http_proxy", "aws_proxy"], "", || {
                "integration types are `mock`, `http_proxy` and `aws_proxy`".to_owned()
            });
            cx.error(
                tnode.loc,
                &tpath,
                format!("unknown integration type `{other}`"),
                help,
            );
            m.finish_known(cx, &all_keys);
            None
        }
    }
}

/// An integration's `timeout` (API Gateway's default 29s), checked against the listener's
/// request timeout at the end.
fn integration_timeout(
    cx: &mut Cx<'_>,
    m: &mut Map<'_>,
    node: &Node,
    path: &str,
) -> Option<Duration> {
    match m.take("timeout") {
        Some((n, p)) => cx.duration(n, &p).and_then(|d| {
            cx.proxy_timeouts.push((n.loc, p.clone(), d));
            if d.is_zero() {
                cx.error(
                    n.loc,
                    &p,
                    "timeout must be greater than zero",
                    "API Gateway's default is 29s",
                );
                None
            } else {
                Some(d)
            }
        }),
        None => {
            // API Gateway's default; checked like an explicit one.
            let d = Duration::from_secs(29);
            cx.proxy_timeouts.push((node.loc, join(path, "timeout"), d));
            Some(d)
        }
    }
}

/// Headers a parameter mapping may not set: they frame the request or name its host, so
/// a mapped value could split one request into two on the upstream connection.
pub(crate) const RESERVED_MAPPING_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "expect",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Reports `name` when it cannot be a mapping target; `true` when it was reported.
fn reserved_mapping_header(cx: &mut Cx<'_>, loc: Loc, path: &str, name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let reserved = RESERVED_MAPPING_HEADERS.contains(&lower.as_str());
    if reserved {
        cx.error(
            loc,
            path,
            format!("`{name}` cannot be mapped: it frames the upstream request"),
            "the gateway sets Host, Content-Length and the connection headers itself",
        );
    }
    reserved
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn valid_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

fn read_headers(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Vec<(String, String)>> {
    read_header_map(cx, node, path, |_, v, _, _| Some(v))
}

/// Reads `Header-Name: value` pairs: names and values are checked here, each value is then
/// turned into `T` by `parse`, and every problem is reported at its own header.
fn read_header_map<T>(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    mut parse: impl FnMut(&mut Cx<'_>, String, Loc, &str) -> Option<T>,
) -> Option<Vec<(String, T)>> {
    let Value::Map(entries) = &node.value else {
        cx.expected(
            node,
            path,
            "a mapping of header names to values",
            "write `Header-Name: value` pairs",
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let hpath = join(path, &key.name);
        if !valid_header_name(&key.name) {
            cx.error(
                key.loc,
                &hpath,
                format!("`{}` is not a valid header name", key.name),
                "header names are letters, digits and `-`",
            );
            ok = false;
            continue;
        }
        let parsed = cx.string(value, &hpath).and_then(|v| {
            if !valid_header_value(&v) {
                cx.error(
                    value.loc,
                    &hpath,
                    "header value has control or non-ASCII characters",
                    "use printable ASCII only",
                );
                return None;
            }
            parse(cx, v, value.loc, &hpath)
        });
        match parsed {
            Some(t) => out.push((key.name.clone(), t)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn parse_uri_template(
    cx: &mut Cx<'_>,
    text: &str,
    loc: Loc,
    path: &str,
    segments: &[Segment],
) -> Option<UriTemplate> {
    let help = "write an absolute URL such as `http://127.0.0.1:8081/pets/{id}`";
    let Some((scheme, rest)) = text.split_once("://") else {
        cx.error(
            loc,
            path,
            format!("`{text}` is not an absolute http(s) URL"),
            help,
        );
        return None;
    };
    if scheme != "http" && scheme != "https" {
        cx.error(
            loc,
            path,
            format!("unsupported scheme `{scheme}`"),
            "use `http` or `https`",
        );
        return None;
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let valid_authority = !authority.is_empty()
        && !authority.contains(['@', '{', '}', ' '])
        && authority.bytes().all(|b| b.is_ascii_graphic());
    if !valid_authority {
        cx.error(
            loc,
            path,
            format!("`{authority}` is not a valid host[:port]"),
            help,
        );
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = if tail.is_empty() { "/" } else { tail };
    let mut ok = true;
    while let Some(open) = rest.find('{') {
        let (lit, after) = rest.split_at(open);
        if !lit.is_empty() {
            parts.push(UriPart::Literal(lit.to_owned()));
        }
        let Some(close) = after.find('}') else {
            cx.error(
                loc,
                path,
                "unterminated `{` in uri",
                "close the parameter with `}`",
            );
            return None;
        };
        let name = after.get(1..close).unwrap_or("");
        let known = segments.iter().any(|s| match s {
            Segment::Param(n) | Segment::Greedy(n) => n == name,
            Segment::Literal(_) => false,
        });
        if !known {
            let names: Vec<&str> = segments
                .iter()
                .filter_map(|s| match s {
                    Segment::Param(n) | Segment::Greedy(n) => Some(n.as_str()),
                    Segment::Literal(_) => None,
                })
                .collect();
            let help = if names.is_empty() {
                "this resource has no path parameters".to_owned()
            } else {
                format!("this resource's parameters are: {}", names.join(", "))
            };
            cx.error(
                loc,
                path,
                format!("uri uses `{{{name}}}`, which is not a parameter of the resource"),
                help,
            );
            ok = false;
        }
        parts.push(UriPart::Param(name.to_owned()));
        rest = after.get(close + 1..).unwrap_or("");
    }
    if rest.contains('}') {
        cx.error(loc, path, "unmatched `}` in uri", "");
        return None;
    }
    if !rest.is_empty() {
        parts.push(UriPart::Literal(rest.to_owned()));
    }
    ok.then(|| UriTemplate {
        scheme: scheme.to_owned(),
        authority: authority.to_owned(),
        parts,
    })
}

fn read_parameter_mappings(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    segments: &[Segment],
) -> Option<Vec<ParameterMapping>> {
    let Value::Map(entries) = &node.value else {
        cx.expected(
            node,
            path,
            "a mapping of integration targets to sources",
            "e.g. `integration.request.header.X-Request-Id: context.requestId`",
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let mpath = join(path, &key.name);
        let target = if let Some(h) = key.name.strip_prefix("integration.request.header.") {
            if reserved_mapping_header(cx, key.loc, &mpath, h) {
                None
            } else if valid_header_name(h) {
                Some(MappingTarget::Header(h.to_owned()))
            } else {
                cx.error(
                    key.loc,
                    &mpath,
                    format!("`{h}` is not a valid header name"),
                    "",
                );
                None
            }
        } else if let Some(q) = key.name.strip_prefix("integration.request.querystring.") {
            if q.is_empty() {
                cx.error(
                    key.loc,
                    &mpath,
                    "empty query parameter name",
                    "name the parameter: `integration.request.querystring.NAME`",
                );
                None
            } else {
                Some(MappingTarget::Query(q.to_owned()))
            }
        } else {
            cx.error(key.loc, &mpath, format!("unknown mapping target `{}`", key.name), "targets are `integration.request.header.NAME` and `integration.request.querystring.NAME`");
            None
        };
        let source = cx
            .string(value, &mpath)
            .and_then(|s| parse_mapping_source(cx, &s, value.loc, &mpath, segments));
        match (target, source) {
            (Some(target), Some(source)) => out.push(ParameterMapping {
                op: MappingOp::Overwrite,
                target,
                source,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

fn parse_mapping_source(
    cx: &mut Cx<'_>,
    text: &str,
    loc: Loc,
    path: &str,
    segments: &[Segment],
) -> Option<MappingSource> {
    if let Some(lit) = text.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(MappingSource::Literal(lit.to_owned()));
    }
    if let Some(rest) = text.strip_prefix("context.authorizer.")
        && !rest.is_empty()
    {
        return Some(MappingSource::Authorizer(rest.to_owned()));
    }
    if let Some(rest) = text.strip_prefix("context.") {
        if let Some((_, v)) = ContextVar::ALL.iter().find(|(n, _)| *n == rest) {
            return Some(MappingSource::Context(*v));
        }
        let names: Vec<&str> = ContextVar::ALL.iter().map(|(n, _)| *n).collect();
        let help = did_you_mean(rest, &names, "context.", || {
            format!("context variables are: {}", names.join(", "))
        });
        cx.error(
            loc,
            path,
            format!("unknown context variable `{text}`"),
            help,
        );
        return None;
    }
    if let Some(name) = text.strip_prefix("method.request.path.") {
        let known = segments
            .iter()
            .any(|s| matches!(s, Segment::Param(n) | Segment::Greedy(n) if n == name));
        if !known {
            cx.error(
                loc,
                path,
                format!("`{name}` is not a path parameter of this resource"),
                path_param_help(segments),
            );
            return None;
        }
        return Some(MappingSource::PathParam(name.to_owned()));
    }
    if let Some(name) = text.strip_prefix("method.request.querystring.")
        && !name.is_empty()
    {
        return Some(MappingSource::QueryParam(name.to_owned()));
    }
    if let Some(name) = text.strip_prefix("method.request.header.")
        && valid_header_name(name)
    {
        return Some(MappingSource::Header(name.to_owned()));
    }
    if let Some(name) = text.strip_prefix("stageVariables.")
        && !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Some(MappingSource::StageVariable(name.to_owned()));
    }
    let help = if text.contains('.') {
        "sources are `'literal'`, `context.X`, `context.authorizer.X`, `method.request.path|querystring|header.NAME`, `stageVariables.NAME`".to_owned()
    } else {
        format!("to send the text itself, quote it: \"'{text}'\"")
    };
    cx.error(loc, path, format!("unknown mapping source `{text}`"), help);
    None
}

fn read_gateway_responses(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
) -> Option<Vec<GatewayResponseConfig>> {
    let Value::Map(entries) = &node.value else {
        if node.value == Value::Null {
            return Some(Vec::new());
        }
        cx.expected(
            node,
            path,
            "a mapping of response types",
            "e.g. `UNAUTHORIZED:` with `status`, `headers`, `body`",
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let rpath = join(path, &key.name);
        let Some(response_type) = ResponseType::from_name(&key.name) else {
            let names: Vec<&str> = ResponseType::ALL.iter().map(|t| t.name()).collect();
            let help = did_you_mean(&key.name, &names, "", || {
                format!("response types are: {}", names.join(", "))
            });
            cx.error(
                key.loc,
                &rpath,
                format!("unknown gateway response type `{}`", key.name),
                help,
            );
            ok = false;
            continue;
        };
        let Some(mut m) = cx.map(value, &rpath) else {
            ok = false;
            continue;
        };
        let status = m.take("status").map(|(n, p)| cx.status(n, &p));
        let headers = match m.take("headers") {
            Some((n, p)) => read_template_headers(cx, n, &p),
            None => Some(Vec::new()),
        };
        let body = m.take("body").map(|(n, p)| {
            cx.string(n, &p)
                .and_then(|t| parse_template(cx, &t, n.loc, &p))
        });
        m.finish(cx, &["status", "headers", "body"]);
        let (status, headers, body) = match (status, headers, body) {
            (Some(None), _, _) | (_, None, _) | (_, _, Some(None)) => {
                ok = false;
                continue;
            }
            (s, Some(h), b) => (s.flatten(), h, b.flatten()),
        };
        out.push(GatewayResponseConfig {
            response_type,
            status,
            headers,
            body,
        });
    }
    ok.then_some(out)
}

/// Parses a gateway-response template: text with `$context.X` variables.
fn parse_template(cx: &mut Cx<'_>, text: &str, loc: Loc, path: &str) -> Option<Vec<TemplatePart>> {
    const SPECIAL: [&str; 4] = [
        "error.message",
        "error.messageString",
        "error.responseType",
        "error.validationErrorString",
    ];
    let mut parts = Vec::new();
    let mut ok = true;
    let mut rest = text;
    while let Some(pos) = rest.find("$context.") {
        let (lit, after) = rest.split_at(pos);
        if !lit.is_empty() {
            parts.push(TemplatePart::Literal(lit.to_owned()));
        }
        let name_start = "$context.".len();
        let name_len = after
            .get(name_start..)
            .unwrap_or("")
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'_')
            .count();
        let mut name = after.get(name_start..name_start + name_len).unwrap_or("");
        // A sentence-ending dot is not part of the variable.
        while let Some(n) = name.strip_suffix('.') {
            name = n;
        }
        let part = match name {
            "error.message" => Some(TemplatePart::ErrorMessage),
            "error.messageString" => Some(TemplatePart::ErrorMessageString),
            "error.responseType" => Some(TemplatePart::ErrorResponseType),
            "error.validationErrorString" => Some(TemplatePart::ErrorValidationString),
            other => ContextVar::ALL
                .iter()
                .find(|(n, _)| *n == other)
                .map(|(_, v)| TemplatePart::Context(*v)),
        };
        match part {
            Some(p) => parts.push(p),
            None => {
                let known = SPECIAL
                    .iter()
                    .copied()
                    .chain(ContextVar::ALL.iter().map(|(n, _)| *n));
                let help = match suggest(name, known) {
                    Some(s) => format!("did you mean `$context.{s}`?"),
                    None => "use $context.error.message, $context.error.messageString, $context.error.responseType, $context.error.validationErrorString, $context.requestId, $context.resourcePath, $context.stage, ...".to_owned(),
                };
                cx.error(
                    loc,
                    path,
                    format!("unknown template variable `$context.{name}`"),
                    help,
                );
                ok = false;
            }
        }
        rest = after.get(name_start + name.len()..).unwrap_or("");
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Literal(rest.to_owned()));
    }
    ok.then_some(parts)
}

/// Gateway-response headers: names checked like any header, values parsed as templates.
fn read_template_headers(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
) -> Option<Vec<(String, Vec<TemplatePart>)>> {
    read_header_map(cx, node, path, |cx, v, loc, p| {
        parse_template(cx, &v, loc, p)
    })
}

fn path_param_help(segments: &[Segment]) -> String {
    let names: Vec<&str> = segments
        .iter()
        .filter_map(|s| match s {
            Segment::Param(n) | Segment::Greedy(n) => Some(n.as_str()),
            Segment::Literal(_) => None,
        })
        .collect();
    if names.is_empty() {
        "this resource has no path parameters".to_owned()
    } else {
        format!("this resource's parameters are: {}", names.join(", "))
    }
}

const IDENTITY_KEYS: &[&str] = &[
    "database",
    "database_timeout",
    "refresh_interval",
    "issuer",
    "signing_algorithm",
    "default_client_id",
    "tokens",
    "password_hashing",
    "endpoints",
    "secrets_key",
    "brute_force",
    "password_policy",
];

/// The duration at `key` of `m`, from `lo` to `hi` (`KEY D is out of range` otherwise, with
/// `help`), or `default` when absent.
fn duration_in(
    cx: &mut Cx<'_>,
    m: &mut Map<'_>,
    key: &str,
    (lo, hi): (Duration, Duration),
    default: Duration,
    help: &str,
) -> Option<Duration> {
    let Some((n, p)) = m.take(key) else {
        return Some(default);
    };
    let d = cx.duration(n, &p)?;
    if (lo..=hi).contains(&d) {
        return Some(d);
    }
    cx.error(
        n.loc,
        &p,
        format!("{key} {} is out of range", crate::units::format_duration(d)),
        help,
    );
    None
}

fn read_identity(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    listener: Option<&ListenerConfig>,
) -> Option<IdentityConfig> {
    let mut m = cx.map(node, path)?;
    let database = match m.take("database") {
        Some((n, p)) => cx.string(n, &p).and_then(|t| {
            if t.starts_with("postgres://") || t.starts_with("postgresql://") {
                Some(DatabaseLocation::Postgres(t))
            } else if t.contains("://") {
                cx.error(
                    n.loc,
                    &p,
                    format!(
                        "unsupported database `{}`",
                        t.split("://").next().unwrap_or("")
                    ),
                    "use a SQLite file path or a postgres:// URL",
                );
                None
            } else {
                let pb = PathBuf::from(&t);
                Some(DatabaseLocation::Sqlite(if pb.is_absolute() {
                    pb
                } else {
                    cx.base.join(pb)
                }))
            }
        }),
        None => Some(DatabaseLocation::Sqlite(cx.base.join("data/identity.db"))),
    };
    let database_timeout = duration_in(
        cx,
        &mut m,
        "database_timeout",
        (Duration::from_millis(100), Duration::from_secs(60)),
        Duration::from_secs(3),
        "use 100ms to 60s; a login waits this long for the database before failing",
    );
    let refresh_interval = duration_in(
        cx,
        &mut m,
        "refresh_interval",
        (Duration::from_secs(1), Duration::from_secs(60)),
        Duration::from_secs(5),
        "use 1s to 60s: how soon a revocation or an API key change made elsewhere is seen here",
    );
    // The key sealing client secrets: next to a SQLite database, under data/ otherwise.
    let secrets_key = match m.take("secrets_key") {
        Some((n, p)) => cx.string(n, &p).and_then(|t| {
            if t.trim().is_empty() || t.ends_with('/') {
                cx.error(
                    n.loc,
                    &p,
                    "secrets_key must name a file",
                    "e.g. `data/client-secrets.key`; it is created with mode 0600 on first start",
                );
                return None;
            }
            let pb = PathBuf::from(t);
            Some(if pb.is_absolute() {
                pb
            } else {
                cx.base.join(pb)
            })
        }),
        None => match &database {
            Some(DatabaseLocation::Sqlite(db)) => Some(db.with_file_name("client-secrets.key")),
            _ => Some(cx.base.join("data/client-secrets.key")),
        },
    };
    let issuer = match m.take("issuer") {
        Some((n, p)) => cx.string(n, &p).and_then(|t| {
            if (t.starts_with("http://") || t.starts_with("https://")) && !t.contains(['?', '#', ' ']) {
                Some(t.trim_end_matches('/').to_owned())
            } else {
                cx.error(n.loc, &p, format!("`{t}` is not an http(s) URL"), "the issuer is the base URL clients reach the gateway at, e.g. `https://auth.example.com`");
                None
            }
        }),
        None => listener.map(|l| format!("{}://{}", if l.tls.is_some() { "https" } else { "http" }, l.address)),
    };
    let signing_algorithm = match m.take("signing_algorithm") {
        Some((n, p)) => cx.string(n, &p).and_then(|t| {
            if ["RS256", "ES256", "EdDSA"].contains(&t.as_str()) {
                Some(t)
            } else {
                cx.error(
                    n.loc,
                    &p,
                    format!("unsupported signing algorithm `{t}`"),
                    "use RS256 (default, cheapest to verify), ES256 or EdDSA",
                );
                None
            }
        }),
        None => Some("RS256".to_owned()),
    };
    let default_client_id = match m.take("default_client_id") {
        Some((n, p)) => cx.string(n, &p).filter(|t| !t.is_empty() && t.len() <= 128),
        None => Some("portcullis".to_owned()),
    };
    // Token lifetimes within Cognito's ranges.
    let mut ttl = (
        Some(Duration::from_secs(3600)),
        Some(Duration::from_secs(3600)),
        Some(Duration::from_secs(30 * 86_400)),
    );
    if let Some((n, p)) = m.take("tokens")
        && let Some(mut t) = cx.map(n, &p)
    {
        let read = |cx: &mut Cx<'_>,
                    t: &mut Map<'_>,
                    key: &str,
                    min: u64,
                    max: u64,
                    slot: &mut Option<Duration>| {
            if let Some((n, p)) = t.take(key) {
                *slot = cx.duration(n, &p).and_then(|d| {
                    if (min..=max).contains(&d.as_secs()) {
                        Some(d)
                    } else {
                        cx.error(
                            n.loc,
                            &p,
                            format!(
                                "{key} lifetime {} is out of range",
                                crate::units::format_duration(d)
                            ),
                            format!(
                                "use {} to {}",
                                crate::units::format_duration(Duration::from_secs(min)),
                                crate::units::format_duration(Duration::from_secs(max))
                            ),
                        );
                        None
                    }
                });
            }
        };
        read(cx, &mut t, "access", 300, 86_400, &mut ttl.0);
        read(cx, &mut t, "id", 300, 86_400, &mut ttl.1);
        read(cx, &mut t, "refresh", 3600, 3650 * 86_400, &mut ttl.2);
        t.finish(cx, &["access", "id", "refresh"]);
    }
    let mut hashing = (
        Some(19 * 1024u32),
        Some(2u32),
        Some(1u32),
        Some(None::<u32>),
        Some(None::<u32>),
    );
    if let Some((n, p)) = m.take("password_hashing")
        && let Some(mut h) = cx.map(n, &p)
    {
        if let Some((n, p)) = h.take("memory") {
            hashing.0 = cx.size(n, &p).and_then(|b| {
                let kib = b / 1024;
                if (8..=1024 * 1024).contains(&kib) {
                    u32::try_from(kib).ok()
                } else {
                    cx.error(
                        n.loc,
                        &p,
                        "memory is out of range",
                        "use 8KiB to 1GiB; OWASP's minimum for Argon2id is 19MiB",
                    );
                    None
                }
            });
        }
        if let Some((n, p)) = h.take("iterations") {
            hashing.1 = cx
                .integer(n, &p, 1, 100)
                .and_then(|i| u32::try_from(i).ok());
        }
        if let Some((n, p)) = h.take("parallelism") {
            hashing.2 = cx.integer(n, &p, 1, 64).and_then(|i| u32::try_from(i).ok());
        }
        if let Some((n, p)) = h.take("max_concurrent") {
            hashing.3 = cx
                .integer(n, &p, 1, 1024)
                .and_then(|i| u32::try_from(i).ok())
                .map(Some);
        }
        if let Some((n, p)) = h.take("max_queued") {
            hashing.4 = cx
                .integer(n, &p, 0, 65_536)
                .and_then(|i| u32::try_from(i).ok())
                .map(Some);
        }
        h.finish(
            cx,
            &[
                "memory",
                "iterations",
                "parallelism",
                "max_concurrent",
                "max_queued",
            ],
        );
    }
    let mut paths = (
        Some("/auth/login".to_owned()),
        Some("/auth/refresh".to_owned()),
        Some("/auth/logout".to_owned()),
        Some("/cognito".to_owned()),
        Some("/oauth2/token".to_owned()),
        Some("/oauth2/userInfo".to_owned()),
    );
    if let Some((n, p)) = m.take("endpoints")
        && let Some(mut e) = cx.map(n, &p)
    {
        let mut set = Vec::new();
        for (key, slot) in [
            ("login", &mut paths.0),
            ("refresh", &mut paths.1),
            ("logout", &mut paths.2),
            ("cognito", &mut paths.3),
            ("token", &mut paths.4),
            ("userinfo", &mut paths.5),
        ] {
            if let Some((n, p)) = e.take(key) {
                *slot = cx.string(n, &p).and_then(|t| {
                    if t.starts_with('/') && !t.contains(['?', '#', '{', '}', ' ']) && t.len() > 1 {
                        Some(t)
                    } else {
                        cx.error(
                            n.loc,
                            &p,
                            format!("`{t}` is not a plain path"),
                            "write a path such as `/auth/login`, without parameters or a query",
                        );
                        None
                    }
                });
                set.push((key, n.loc, p));
            }
        }
        let finals = [
            ("login", &paths.0),
            ("refresh", &paths.1),
            ("logout", &paths.2),
            ("cognito", &paths.3),
            ("token", &paths.4),
            ("userinfo", &paths.5),
        ];
        for (key, loc, p) in set {
            let mine = finals
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v.as_ref());
            if let Some(mine) = mine
                && (mine == WELL_KNOWN_JWKS || mine == WELL_KNOWN_DISCOVERY)
            {
                cx.error(
                    loc,
                    &p,
                    format!("`{mine}` is a well-known path the user pool serves itself"),
                    "choose another path for this endpoint",
                );
                continue;
            }
            if let Some(mine) = mine
                && let Some((other, _)) = finals
                    .iter()
                    .find(|(k, v)| *k != key && v.as_ref() == Some(mine))
            {
                cx.error(
                    loc,
                    &p,
                    format!("`{mine}` is also the {other} endpoint's path"),
                    "give each identity endpoint its own path",
                );
            }
        }
        e.finish(
            cx,
            &["login", "refresh", "logout", "cognito", "token", "userinfo"],
        );
    }
    let mut lockout = (
        Some(5u32),
        Some(Duration::from_secs(1)),
        Some(Duration::from_secs(15 * 60)),
    );
    if let Some((n, p)) = m.take("brute_force")
        && let Some(mut b) = cx.map(n, &p)
    {
        if let Some((n, p)) = b.take("free_attempts") {
            lockout.0 = cx
                .integer(n, &p, 0, 1000)
                .and_then(|i| u32::try_from(i).ok());
        }
        if let Some((n, p)) = b.take("base_delay") {
            lockout.1 = cx.duration(n, &p);
        }
        if let Some((n, p)) = b.take("lockout") {
            lockout.2 = cx.duration(n, &p);
        }
        b.finish(cx, &["free_attempts", "base_delay", "lockout"]);
        if let (Some(base), Some(max)) = (lockout.1, lockout.2)
            && base > max
        {
            cx.error(
                n.loc,
                &p,
                "base_delay is longer than lockout",
                "the delay doubles from base_delay up to lockout",
            );
            lockout.2 = None;
        }
    }
    let mut policy = (Some(8u32), [Some(false); 4]);
    if let Some((n, p)) = m.take("password_policy")
        && let Some(mut pp) = cx.map(n, &p)
    {
        if let Some((n, p)) = pp.take("min_length") {
            policy.0 = cx
                .integer(n, &p, 6, 256)
                .and_then(|i| u32::try_from(i).ok());
        }
        for (i, key) in [
            "require_uppercase",
            "require_lowercase",
            "require_digit",
            "require_symbol",
        ]
        .into_iter()
        .enumerate()
        {
            if let Some((n, p)) = pp.take(key)
                && let Some(slot) = policy.1.get_mut(i)
            {
                *slot = cx.boolean(n, &p);
            }
        }
        pp.finish(
            cx,
            &[
                "min_length",
                "require_uppercase",
                "require_lowercase",
                "require_digit",
                "require_symbol",
            ],
        );
    }
    let [up, low, digit, sym] = policy.1;
    m.finish(cx, IDENTITY_KEYS);
    Some(IdentityConfig {
        password_min_length: policy.0?,
        password_require: [up?, low?, digit?, sym?],
        lockout_free_attempts: lockout.0?,
        lockout_base_delay: lockout.1?,
        lockout_max_delay: lockout.2?,
        database: database?,
        issuer: issuer?,
        signing_algorithm: signing_algorithm?,
        default_client_id: default_client_id?,
        access_token_ttl: ttl.0?,
        id_token_ttl: ttl.1?,
        refresh_token_ttl: ttl.2?,
        hash_memory_kib: hashing.0?,
        hash_iterations: hashing.1?,
        hash_parallelism: hashing.2?,
        max_concurrent_hashes: hashing.3?,
        max_queued_hashes: hashing.4?,
        database_timeout: database_timeout?,
        refresh_interval: refresh_interval?,
        login_path: paths.0?,
        refresh_path: paths.1?,
        logout_path: paths.2?,
        cognito_path: paths.3?,
        token_path: paths.4?,
        userinfo_path: paths.5?,
        secrets_key: secrets_key?,
        loc: node.loc,
    })
}
