//! How a request finds its API and stage: by host name and base path, as API Gateway's custom
//! domains do, or by `{api-id}.execute-api.{anything}` host names with the stage as the first
//! path segment, as API Gateway's default endpoint does.
//!
//! ```text
//! host is a configured domain?            -> its base path mappings
//! host is {id}.execute-api.* (id known)?  -> /{stage}/... of that API
//! host matches *.suffix (longest first)?  -> its base path mappings
//! a `*` domain?                           -> its base path mappings
//! otherwise                               -> 403 {"message":"Forbidden"}
//! ```
//!
//! Within a domain the longest base path whose segments start the path wins; the base path is
//! stripped. A mapping without a stage takes the next segment as the stage name and strips it
//! too. An unknown stage is `403 Forbidden` for a REST API; an HTTP API falls back to its
//! `$default` stage (nothing stripped), or answers `404 Not Found`.

use portcullis_config::{ApiKind, DEFAULT_STAGE, DomainConfig};
use portcullis_core::{CanonicalPath, ErrorKind, GatewayError, ResponseType};

use crate::plan::{ApiPlan, Stage};

/// Which API and stage a request is for: indexes into [`Plan::apis`](crate::plan::Plan::apis)
/// and that API's stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// The API.
    pub api: usize,
    /// Its stage.
    pub stage: usize,
}

/// A request's API and stage, and its path as the API sees it (base path and stage removed).
#[derive(Debug)]
pub struct Selected<'p, 'h> {
    /// The API.
    pub api: &'p ApiPlan,
    /// The stage.
    pub stage: &'p Stage,
    /// Where they are in the plan.
    pub scope: Scope,
    /// The path the API's routes match.
    pub path: CanonicalPath<'h>,
}

#[derive(Debug)]
enum Host {
    Exact(String),
    /// `*.example.com`, kept as `.example.com`.
    Suffix(String),
    Any,
}

#[derive(Debug)]
struct Mapping {
    base: Vec<String>,
    api: usize,
    /// `None`: the next segment names the stage.
    stage: Option<usize>,
}

#[derive(Debug)]
struct Domain {
    host: Host,
    /// Longest base path first.
    mappings: Vec<Mapping>,
}

/// The compiled `domains:`.
#[derive(Debug, Default)]
pub struct Selector {
    /// Exact hosts, then wildcards (longest suffix first), then `*`.
    domains: Vec<Domain>,
}

impl Selector {
    /// Compiles the domains against the compiled APIs (mappings naming an API or stage that
    /// is not there are dropped: the loader refuses them).
    pub fn compile(domains: &[DomainConfig], apis: &[ApiPlan]) -> Self {
        let mut out: Vec<Domain> = domains
            .iter()
            .map(|d| Domain {
                host: if d.host == "*" {
                    Host::Any
                } else if let Some(suffix) = d.host.strip_prefix('*') {
                    Host::Suffix(suffix.to_owned())
                } else {
                    Host::Exact(d.host.clone())
                },
                mappings: d
                    .mappings
                    .iter()
                    .filter_map(|m| {
                        let api = apis.iter().position(|a| a.id() == m.api)?;
                        let stage = match &m.stage {
                            Some(s) => {
                                Some(apis.get(api)?.stages.iter().position(|st| st.name() == s)?)
                            }
                            None => None,
                        };
                        Some(Mapping {
                            base: m.base_path.clone(),
                            api,
                            stage,
                        })
                    })
                    .collect(),
            })
            .collect();
        let rank = |h: &Host| match h {
            Host::Exact(_) => (0, 0),
            Host::Suffix(s) => (1, usize::MAX - s.len()),
            Host::Any => (2, 0),
        };
        out.sort_by_key(|d| rank(&d.host));
        Self { domains: out }
    }

    /// The API and stage of a request for `host` (the Host header or `:authority`, with or
    /// without a port) and `path`.
    pub fn select<'p, 'h>(
        &self,
        apis: &'p [ApiPlan],
        host: Option<&str>,
        path: CanonicalPath<'h>,
    ) -> Result<Selected<'p, 'h>, GatewayError> {
        // `api.example.com.` (the fully qualified form) is `api.example.com`.
        let host = host.map(host_name).unwrap_or("");
        let host = host.strip_suffix('.').unwrap_or(host);
        let exact = |d: &&Domain| matches!(&d.host, Host::Exact(h) if h.eq_ignore_ascii_case(host));
        if let Some(d) = self.domains.iter().find(exact) {
            return through_domain(d, apis, path);
        }
        if let Some(id) = execute_api_id(host)
            && let Some(index) = apis.iter().position(|a| a.id().eq_ignore_ascii_case(id))
            && let Some(api) = apis.get(index)
        {
            if !api.execute_api_endpoint {
                return Err(stage_missing(
                    api.kind,
                    "the API's execute-api endpoint is disabled",
                ));
            }
            return with_stage(apis, index, None, path);
        }
        let wildcard = |d: &&Domain| match &d.host {
            Host::Suffix(s) => {
                host.len() > s.len()
                    && host
                        .get(host.len() - s.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(s))
            }
            Host::Any => true,
            Host::Exact(_) => false,
        };
        match self.domains.iter().find(wildcard) {
            Some(d) => through_domain(d, apis, path),
            None => Err(forbidden("no domain or API for this host")),
        }
    }
}

/// The host without its port (and without the brackets' content split for IPv6).
pub(crate) fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| h.get(1..).unwrap_or(h));
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// `abc123` of `abc123.execute-api.us-east-1.amazonaws.com` (any suffix after
/// `.execute-api.`, so `abc123.execute-api.localhost` works with no DNS set-up).
fn execute_api_id(host: &str) -> Option<&str> {
    let (id, rest) = host.split_once('.')?;
    let after = rest.get(..12)?;
    (after.eq_ignore_ascii_case("execute-api.") && !id.is_empty()).then_some(id)
}

fn through_domain<'p, 'h>(
    domain: &Domain,
    apis: &'p [ApiPlan],
    path: CanonicalPath<'h>,
) -> Result<Selected<'p, 'h>, GatewayError> {
    for m in &domain.mappings {
        let mut segments = path.segments();
        if m.base
            .iter()
            .all(|b| segments.next().is_some_and(|s| s == b.as_str()))
        {
            let rest = path
                .strip_segments(m.base.len())
                .ok_or_else(|| forbidden("no base path mapping for this path"))?;
            return with_stage(apis, m.api, m.stage, rest);
        }
    }
    Err(forbidden("no base path mapping for this path"))
}

/// The API at `index` with stage `stage`, or the stage named by the path's first segment.
fn with_stage<'p, 'h>(
    apis: &'p [ApiPlan],
    index: usize,
    stage: Option<usize>,
    path: CanonicalPath<'h>,
) -> Result<Selected<'p, 'h>, GatewayError> {
    let api = apis
        .get(index)
        .ok_or_else(|| forbidden("the mapping's API is not compiled"))?;
    let found = |stage: usize, path: CanonicalPath<'h>| {
        let s = api.stages.get(stage)?;
        Some(Selected {
            api,
            stage: s,
            scope: Scope { api: index, stage },
            path,
        })
    };
    if let Some(stage) = stage {
        return found(stage, path).ok_or_else(|| forbidden("the mapping's stage is not compiled"));
    }
    let first = path.segments().next().unwrap_or_default();
    if let Some(i) = api
        .stages
        .iter()
        .position(|s| s.name() != DEFAULT_STAGE && s.name() == first)
        && let Some(rest) = path.strip_segments(1)
        && let Some(selected) = found(i, rest)
    {
        return Ok(selected);
    }
    if let Some(i) = api.stages.iter().position(|s| s.name() == DEFAULT_STAGE)
        && let Some(selected) = found(i, path)
    {
        return Ok(selected);
    }
    Err(stage_missing(api.kind, "no such stage"))
}

fn forbidden(detail: &'static str) -> GatewayError {
    GatewayError::new(ErrorKind::Response(ResponseType::ACCESS_DENIED), detail)
        .with_message("Forbidden")
}

/// REST: `403 Forbidden`; HTTP: `404 Not Found`.
fn stage_missing(kind: ApiKind, detail: &'static str) -> GatewayError {
    match kind {
        ApiKind::Rest => forbidden(detail),
        ApiKind::Http => GatewayError::new(
            ErrorKind::Response(ResponseType::RESOURCE_NOT_FOUND),
            detail,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{execute_api_id, host_name};

    #[test]
    fn host_names() {
        assert_eq!(host_name("api.example.com:8443"), "api.example.com");
        assert_eq!(host_name("api.example.com"), "api.example.com");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(execute_api_id("abc.execute-api.localhost"), Some("abc"));
        assert_eq!(
            execute_api_id("abc.EXECUTE-API.us-east-1.amazonaws.com"),
            Some("abc")
        );
        assert_eq!(execute_api_id("abc.execute-apix.localhost"), None);
        assert_eq!(execute_api_id("execute-api.localhost"), None);
        assert_eq!(execute_api_id(".execute-api.localhost"), None);
    }
}
