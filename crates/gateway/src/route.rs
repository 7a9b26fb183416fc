//! Route lookup: request path and method to a configured resource and method.
//!
//! Stage: second in the pipeline (after the listener's limits). Pure and synchronous; the
//! table is built once per plan and never changes.
//!
//! Precedence follows API Gateway: at each segment a literal child wins over a `{param}`
//! child, which wins over a `{proxy+}` child. If the preferred branch cannot match the rest
//! of the path, the lookup backtracks to the next one, so the most specific resource that
//! matches the whole path is chosen. Then the method: an exact method wins over `ANY`. A
//! path with no resource and a resource without the method both answer
//! MISSING_AUTHENTICATION_TOKEN (403), as a REST API does.
//!
//! The path is a [`CanonicalPath`]: checked once, before routing, so no segment holds a
//! decoded `/` or is a dot segment. Path parameters are percent-decoded segment by segment; a
//! greedy parameter's value is the decoded remainder of the path with its `/` separators,
//! which are exactly the request's own.

use std::sync::Arc;

use http::Method;
use portcullis_config::Segment;
use portcullis_core::{CanonicalPath, ErrorKind, GatewayError, decode_segment};

/// A compiled route table mapping resources and methods to values of type `T`.
#[derive(Debug)]
pub struct Router<T> {
    root: TrieNode<T>,
    len: usize,
}

#[derive(Debug)]
struct TrieNode<T> {
    /// Sorted by name for binary search.
    literals: Vec<(Box<str>, TrieNode<T>)>,
    param: Option<(Arc<str>, Box<TrieNode<T>>)>,
    greedy: Option<(Arc<str>, Resource<T>)>,
    resource: Option<Resource<T>>,
}

impl<T> Default for TrieNode<T> {
    fn default() -> Self {
        Self {
            literals: Vec::new(),
            param: None,
            greedy: None,
            resource: None,
        }
    }
}

#[derive(Debug)]
struct Resource<T> {
    template: Arc<str>,
    methods: Vec<(Method, T)>,
    any: Option<T>,
}

/// The result of a successful lookup.
#[derive(Debug)]
pub struct RouteMatch<'r, T> {
    /// The matched resource template, e.g. `/pets/{id}`.
    pub resource: &'r Arc<str>,
    /// Decoded path parameters in path order.
    pub params: Vec<(Arc<str>, String)>,
    /// The value configured for the method.
    pub value: &'r T,
}

/// Why a route table could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConflict(pub String);

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Router<T> {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            root: TrieNode::default(),
            len: 0,
        }
    }

    /// Number of (resource, method) entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `method` (or `ANY`) on the resource `template` with `segments`.
    pub fn insert(
        &mut self,
        template: &str,
        segments: &[Segment],
        method: &str,
        value: T,
    ) -> Result<(), RouteConflict> {
        let mut node = &mut self.root;
        for seg in segments {
            match seg {
                Segment::Literal(lit) => {
                    let idx = match node
                        .literals
                        .binary_search_by(|(k, _)| (**k).cmp(lit.as_str()))
                    {
                        Ok(i) => i,
                        Err(i) => {
                            node.literals
                                .insert(i, (lit.as_str().into(), TrieNode::default()));
                            i
                        }
                    };
                    node = match node.literals.get_mut(idx) {
                        Some((_, n)) => n,
                        None => return Err(RouteConflict("route table corrupted".into())),
                    };
                }
                Segment::Param(name) => {
                    let (existing, child) = node
                        .param
                        .get_or_insert_with(|| (Arc::from(name.as_str()), Box::default()));
                    if **existing != **name {
                        return Err(RouteConflict(format!(
                            "`{template}` names a parameter `{name}` where another resource has `{existing}`"
                        )));
                    }
                    node = child;
                }
                Segment::Greedy(name) => {
                    let (existing, resource) = node.greedy.get_or_insert_with(|| {
                        (
                            Arc::from(name.as_str()),
                            Resource {
                                template: Arc::from(template),
                                methods: Vec::new(),
                                any: None,
                            },
                        )
                    });
                    if **existing != **name {
                        return Err(RouteConflict(format!(
                            "`{template}` names a greedy parameter `{name}` where another resource has `{existing}`"
                        )));
                    }
                    return Self::add_method(&mut self.len, resource, template, method, value);
                }
            }
        }
        let resource = node.resource.get_or_insert_with(|| Resource {
            template: Arc::from(template),
            methods: Vec::new(),
            any: None,
        });
        Self::add_method(&mut self.len, resource, template, method, value)
    }

    fn add_method(
        len: &mut usize,
        resource: &mut Resource<T>,
        template: &str,
        method: &str,
        value: T,
    ) -> Result<(), RouteConflict> {
        if method == "ANY" {
            if resource.any.is_some() {
                return Err(RouteConflict(format!("`{template}` has ANY twice")));
            }
            resource.any = Some(value);
        } else {
            let m = Method::from_bytes(method.as_bytes())
                .map_err(|_| RouteConflict(format!("`{method}` is not a method")))?;
            if resource.methods.iter().any(|(x, _)| *x == m) {
                return Err(RouteConflict(format!("`{template}` has {method} twice")));
            }
            resource.methods.push((m, value));
        }
        *len += 1;
        Ok(())
    }

    /// Finds the resource and method for a request.
    pub fn lookup(
        &self,
        method: &Method,
        path: &CanonicalPath<'_>,
    ) -> Result<RouteMatch<'_, T>, GatewayError> {
        let raw = path.as_str();
        let trimmed = raw.strip_prefix('/').unwrap_or(raw);
        // API Gateway treats `/pets/` as `/pets`; a greedy value keeps the slash.
        let (trimmed, trailing) = match trimmed.strip_suffix('/') {
            Some(t) => (t, true),
            None => (trimmed, false),
        };
        let mut params = Vec::new();
        let resource = if trimmed.is_empty() {
            self.root.resource.as_ref()
        } else {
            find(&self.root, trimmed, trailing, &mut params)
        };
        let Some(resource) = resource else {
            return Err(GatewayError::new(
                ErrorKind::RouteNotFound,
                "no resource matches the path",
            ));
        };
        let value = resource
            .methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, v)| v)
            .or_else(|| resource.any.as_ref().filter(|_| any_covers(method)))
            .ok_or_else(|| {
                GatewayError::new(
                    ErrorKind::MethodNotConfigured,
                    format!("resource {} has no method {method}", resource.template),
                )
            })?;
        Ok(RouteMatch {
            resource: &resource.template,
            params,
            value,
        })
    }
}

/// The methods `ANY` stands for, as on API Gateway. `TRACE`, `CONNECT` and extension methods
/// match only a resource that names them (the loader allows none), so they are refused.
fn any_covers(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET
            | Method::HEAD
            | Method::POST
            | Method::PUT
            | Method::PATCH
            | Method::DELETE
            | Method::OPTIONS
    )
}

fn decode_greedy(rest: &str) -> String {
    let mut out = String::with_capacity(rest.len());
    for (i, seg) in rest.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&decode_segment(seg));
    }
    out
}

/// Depth-first search in precedence order; `rest` is the path after the node, non-empty.
fn find<'r, T>(
    node: &'r TrieNode<T>,
    rest: &str,
    trailing: bool,
    params: &mut Vec<(Arc<str>, String)>,
) -> Option<&'r Resource<T>> {
    let (segment, tail) = match rest.split_once('/') {
        Some((s, t)) => (s, Some(t)),
        None => (rest, None),
    };
    let decoded = decode_segment(segment);
    if let Ok(i) = node
        .literals
        .binary_search_by(|(k, _)| (**k).cmp(&*decoded))
        && let Some((_, child)) = node.literals.get(i)
        && let Some(found) = descend(child, tail, trailing, params)
    {
        return Some(found);
    }
    if let Some((name, child)) = &node.param
        && !segment.is_empty()
    {
        let mark = params.len();
        params.push((name.clone(), decoded.clone().into_owned()));
        if let Some(found) = descend(child, tail, trailing, params) {
            return Some(found);
        }
        params.truncate(mark);
    }
    if let Some((name, resource)) = &node.greedy
        && !segment.is_empty()
    {
        let mut value = decode_greedy(rest);
        if trailing {
            value.push('/');
        }
        params.push((name.clone(), value));
        return Some(resource);
    }
    None
}

fn descend<'r, T>(
    child: &'r TrieNode<T>,
    tail: Option<&str>,
    trailing: bool,
    params: &mut Vec<(Arc<str>, String)>,
) -> Option<&'r Resource<T>> {
    match tail {
        None => child.resource.as_ref(),
        Some("") => None,
        Some(t) => find(child, t, trailing, params),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<Segment> {
        path.trim_start_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if let Some(n) = s.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
                    Segment::Greedy(n.into())
                } else if let Some(n) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Segment::Param(n.into())
                } else {
                    Segment::Literal(s.into())
                }
            })
            .collect()
    }

    fn look<'r>(
        r: &'r Router<String>,
        m: &Method,
        path: &str,
    ) -> Result<RouteMatch<'r, String>, GatewayError> {
        let p = CanonicalPath::parse(path)
            .map_err(|e| GatewayError::new(ErrorKind::MalformedRequest, e.to_string()))?;
        r.lookup(m, &p)
    }

    fn table(routes: &[(&str, &str)]) -> Router<String> {
        let mut r = Router::new();
        for (path, method) in routes {
            r.insert(path, &segs(path), method, format!("{method} {path}"))
                .unwrap();
        }
        r
    }

    #[test]
    fn precedence_table() {
        let r = table(&[
            ("/", "GET"),
            ("/pets", "GET"),
            ("/pets", "POST"),
            ("/pets/{id}", "GET"),
            ("/pets/mine", "GET"),
            ("/pets/{id}/toys", "ANY"),
            ("/pets/mine/{x}", "GET"),
            ("/files/{proxy+}", "ANY"),
            ("/files/readme", "GET"),
            ("/{proxy+}", "ANY"),
            ("/a/b/c", "GET"),
            ("/{x}/b/d", "GET"),
        ]);
        let cases: &[(&str, &str, Result<&str, ErrorKind>)] = &[
            ("GET", "/", Ok("GET /")),
            ("GET", "/pets", Ok("GET /pets")),
            ("GET", "/pets/", Ok("GET /pets")),
            ("POST", "/pets", Ok("POST /pets")),
            ("GET", "/pets/mine", Ok("GET /pets/mine")),
            ("GET", "/pets/42", Ok("GET /pets/{id}")),
            ("DELETE", "/pets/42/toys", Ok("ANY /pets/{id}/toys")),
            // literal `mine` has no `toys` child: backtrack to `{id}`
            ("GET", "/pets/mine/toys", Ok("GET /pets/mine/{x}")),
            ("GET", "/files/readme", Ok("GET /files/readme")),
            // the resource is chosen by path first: `/files/readme` has no POST, and the
            // greedy sibling does not take over
            ("POST", "/files/readme", Err(ErrorKind::MethodNotConfigured)),
            ("GET", "/files/a/b/c", Ok("ANY /files/{proxy+}")),
            ("GET", "/elsewhere/x", Ok("ANY /{proxy+}")),
            ("GET", "/a/b/d", Ok("GET /{x}/b/d")),
            ("GET", "/a/b/c", Ok("GET /a/b/c")),
            // known resource, unconfigured method: 403 like a missing route
            ("DELETE", "/pets", Err(ErrorKind::MethodNotConfigured)),
            ("HEAD", "/pets/42", Err(ErrorKind::MethodNotConfigured)),
            // ANY stands for API Gateway's seven methods, not TRACE or CONNECT
            ("TRACE", "/files/a", Err(ErrorKind::MethodNotConfigured)),
            (
                "CONNECT",
                "/pets/42/toys",
                Err(ErrorKind::MethodNotConfigured),
            ),
            (
                "PROPFIND",
                "/elsewhere/x",
                Err(ErrorKind::MethodNotConfigured),
            ),
            ("POST", "/", Err(ErrorKind::MethodNotConfigured)),
        ];
        for (method, path, want) in cases {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let got = look(&r, &m, path)
                .map(|m| m.value.as_str())
                .map_err(|e| e.kind);
            assert_eq!(got, *want, "{method} {path}");
        }
    }

    #[test]
    fn unknown_routes_without_catch_all() {
        let r = table(&[
            ("/pets", "GET"),
            ("/pets/{id}", "GET"),
            ("/files/{p+}", "GET"),
        ]);
        for path in [
            "/nope",
            "/pets/1/2",
            "/files",
            "/files/",
            "//pets",
            "/pets//",
        ] {
            let got = look(&r, &Method::GET, path)
                .map(|m| m.value.clone())
                .map_err(|e| e.kind);
            assert_eq!(got, Err(ErrorKind::RouteNotFound), "{path}");
        }
    }

    #[test]
    fn params_are_decoded() {
        let r = table(&[("/pets/{id}", "GET"), ("/files/{proxy+}", "GET")]);
        let m = look(&r, &Method::GET, "/pets/a%20b%3Fc").unwrap();
        assert_eq!(&**m.resource, "/pets/{id}");
        assert_eq!(m.params, vec![(Arc::from("id"), "a b?c".to_owned())]);
        let m = look(&r, &Method::GET, "/files/dir/%C3%A9t%C3%A9.txt").unwrap();
        assert_eq!(
            m.params,
            vec![(Arc::from("proxy"), "dir/été.txt".to_owned())]
        );
        let bad = look(&r, &Method::GET, "/pets/%FF")
            .map(|_| ())
            .map_err(|e| e.kind);
        assert_eq!(bad, Err(ErrorKind::MalformedRequest));
    }

    #[test]
    fn conflicting_names_are_rejected() {
        let mut r: Router<()> = Router::new();
        r.insert("/a/{x}", &segs("/a/{x}"), "GET", ()).unwrap();
        assert!(r.insert("/a/{y}/b", &segs("/a/{y}/b"), "GET", ()).is_err());
        assert!(r.insert("/a/{x}", &segs("/a/{x}"), "GET", ()).is_err());
        assert!(r.insert("/a/{x}", &segs("/a/{x}"), "ANY", ()).is_ok());
        assert!(r.insert("/a/{x}", &segs("/a/{x}"), "ANY", ()).is_err());
    }

    mod props {
        use super::*;
        use percent_encoding::utf8_percent_encode;
        use proptest::prelude::*;

        use crate::integration::http_proxy::SEGMENT;

        fn literal() -> impl Strategy<Value = String> {
            // `.` and `..` are refused (dot segments), so never configured.
            "[a-z0-9_.-]{1,8}".prop_filter("dot segment", |s| s != "." && s != "..")
        }

        /// Any printable text that is a canonical segment: no `/` or `\\`, no dot segment.
        fn segment_value(max: usize) -> impl Strategy<Value = String> {
            proptest::string::string_regex(&format!("[^/\\\\\\p{{C}}]{{1,{max}}}"))
                .unwrap_or_else(|_| unreachable!())
                .prop_filter("dot segment", |s| {
                    let head = s.split(';').next().unwrap_or("");
                    head != "." && head != ".."
                })
        }

        proptest! {
            #[test]
            fn configured_literal_paths_route_to_themselves(
                paths in proptest::collection::btree_set(proptest::collection::vec(literal(), 1..5), 1..20)
            ) {
                let mut r = Router::new();
                let mut templates = Vec::new();
                for p in &paths {
                    let template = format!("/{}", p.join("/"));
                    r.insert(&template, &segs(&template), "GET", template.clone()).unwrap();
                    templates.push(template);
                }
                for t in &templates {
                    let m = look(&r, &Method::GET, t).unwrap();
                    prop_assert_eq!(m.value, t);
                    prop_assert!(m.params.is_empty());
                }
            }

            #[test]
            fn parameter_decoding_round_trips(
                value in segment_value(24),
                rest in proptest::collection::vec(segment_value(8), 1..4),
            ) {
                let r = table(&[("/pets/{id}", "GET"), ("/files/{proxy+}", "GET")]);
                let encoded = utf8_percent_encode(&value, SEGMENT).to_string();
                let m = look(&r, &Method::GET, &format!("/pets/{encoded}")).unwrap();
                prop_assert_eq!(&m.params[0].1, &value);
                let joined: Vec<String> = rest.iter().map(|s| utf8_percent_encode(s, SEGMENT).to_string()).collect();
                let m = look(&r, &Method::GET, &format!("/files/{}", joined.join("/"))).unwrap();
                prop_assert_eq!(&m.params[0].1, &rest.join("/"));
            }
        }
    }
}
