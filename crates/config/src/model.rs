//! The validated configuration model: what the gateway compiles into a plan.
//!
//! Every value here has passed validation; locations are kept where a later compile step
//! (loading certificates, building clients) may still need to point at the file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::ResponseType;
pub use portcullis_core::{ApiIdentity, WELL_KNOWN_DISCOVERY, WELL_KNOWN_JWKS};

use crate::yaml::Loc;

/// A whole, valid configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file name as given (used in diagnostics).
    pub file: String,
    /// The account and region every API and function belongs to.
    pub account: Account,
    /// The gateway listener.
    pub listener: ListenerConfig,
    /// The admin listener (health, readiness, metrics), if any.
    pub admin: Option<AdminConfig>,
    /// Access logging.
    pub access_log: AccessLogConfig,
    /// The built-in user pool, if enabled.
    pub identity: Option<IdentityConfig>,
    /// Lambda functions run locally through the Lambda Runtime API.
    pub functions: Vec<FunctionConfig>,
    /// The APIs, in file order (one for a file in the single-API shape).
    pub apis: Vec<ApiConfig>,
    /// Host names and their base path mappings: how a request finds its API and stage.
    pub domains: Vec<DomainConfig>,
    /// Limits of body validation.
    pub validation: ValidationConfig,
    /// Web ACLs and what they guard (`waf:`); `None` when the section is absent.
    pub waf: Option<WafConfig>,
    /// Usage plans (`usage_plans:`): throttles and quotas per API key, in file order.
    pub usage_plans: Vec<UsagePlanConfig>,
    /// Where rate and quota counters live (`limits:`).
    pub limits: LimitsConfig,
    /// Problems that do not stop the config from loading (an authorizer that accepts any
    /// audience, ...): shown by `portcullis check` and logged when the config is applied.
    pub warnings: Vec<crate::Diagnostic>,
}

/// The partition, region and account of the gateway's APIs and functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// ARN partition, `aws` unless configured otherwise.
    pub partition: String,
    /// Region, e.g. `us-east-1`.
    pub region: String,
    /// Twelve-digit account id.
    pub account: String,
}

impl Account {
    /// The identity of API `api_id` at `stage`.
    pub fn identity(&self, api_id: &str, stage: &str) -> ApiIdentity {
        ApiIdentity {
            api_id: api_id.to_owned(),
            stage: stage.to_owned(),
            region: self.region.clone(),
            account: self.account.clone(),
            partition: self.partition.clone(),
        }
    }
}

/// The two kinds of API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    /// A REST API: unknown routes answer `403 Missing Authentication Token`.
    Rest,
    /// An HTTP API: unknown routes answer `404 Not Found`.
    Http,
}

/// One stage of an API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageConfig {
    /// Its name (`$default` for an HTTP API's stage without a path prefix).
    pub name: String,
    /// Its variables (`stageVariables`).
    pub variables: Vec<(String, String)>,
    /// The default throttle of each of its methods (API Gateway's stage-level method
    /// throttling); a method's own `throttle` replaces it.
    pub throttle: Option<ThrottleConfig>,
}

/// A throttle, as API Gateway's `rateLimit` and `burstLimit`: a token bucket of `burst`
/// requests that refills at `rate` requests a second.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// Steady requests per second (0 to 1e9).
    pub rate: f64,
    /// The bucket's size.
    pub burst: u32,
}

impl PartialEq for ThrottleConfig {
    fn eq(&self, other: &Self) -> bool {
        self.rate.to_bits() == other.rate.to_bits() && self.burst == other.burst
    }
}

impl Eq for ThrottleConfig {}

/// A usage plan, as API Gateway's: a throttle and a quota per API key, over the API
/// stages it lists, with per-method throttles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsagePlanConfig {
    /// Its name: API keys are attached to it by name (`portcullis apikeys attach`).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Each key's bucket in the plan (all its stages together).
    pub throttle: Option<ThrottleConfig>,
    /// Each key's requests per period in the plan (all its stages together).
    pub quota: Option<QuotaConfig>,
    /// The API stages it applies to.
    pub stages: Vec<PlanStageConfig>,
    /// What its limits do while the shared store is unreachable (`None`: `limits.on_failure`).
    pub on_store_failure: Option<OnStoreFailure>,
    /// Where the plan is in the file.
    pub loc: Loc,
}

/// `limits:`: where the counters of every throttle and quota live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// In this process (the default), or shared through Redis.
    pub store: LimitsStore,
    /// Longest wait for one Redis call; past it the call counts as failed.
    pub timeout: Duration,
    /// How long tokens taken from Redis in a batch may be spent locally before they
    /// lapse: the bound on how far a fleet can run over a rate.
    pub lease: Duration,
    /// What limits do while Redis is unreachable, unless a plan says otherwise.
    pub on_failure: OnStoreFailure,
    /// Prefix of every Redis key (fleets sharing one Redis keep their counts apart).
    pub key_prefix: String,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            store: LimitsStore::Local,
            timeout: Duration::from_millis(50),
            lease: Duration::from_millis(100),
            on_failure: OnStoreFailure::Local,
            key_prefix: "portcullis".to_owned(),
        }
    }
}

/// Where counters live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitsStore {
    /// In the gateway process.
    Local,
    /// One Redis server: `redis://[user:password@]host:port[/db]`.
    Redis(String),
    /// A Redis Cluster: its seed nodes (`redis://host:port` each).
    RedisCluster(Vec<String>),
}

/// What a limit does while its shared store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStoreFailure {
    /// Enforce it in this process alone (each node its own count) until Redis is back.
    Local,
    /// Let requests through unmetered.
    Open,
    /// Refuse requests (429, `Retry-After: 1`).
    Closed,
}

impl OnStoreFailure {
    /// The name in the config.
    pub fn name(self) -> &'static str {
        match self {
            OnStoreFailure::Local => "local",
            OnStoreFailure::Open => "open",
            OnStoreFailure::Closed => "closed",
        }
    }
}

/// A usage plan's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaConfig {
    /// Requests per period.
    pub limit: u64,
    /// `DAY`, `WEEK` or `MONTH`, in UTC.
    pub period: portcullis_limits::Period,
    /// Requests taken off the limit in a key's first period in the plan.
    pub offset: u64,
}

/// An API stage in a usage plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStageConfig {
    /// The API's id.
    pub api: String,
    /// The stage.
    pub stage: String,
    /// Per-method throttles, which replace the plan's for that method: (resource path,
    /// method, throttle), from keys written as API Gateway's `/pets/GET`.
    pub methods: Vec<(String, String, ThrottleConfig)>,
}

/// An HTTP API's stage that is served without a `/{stage}` prefix.
pub const DEFAULT_STAGE: &str = "$default";

/// One API: its routes, authorizers, policies, responses, models and validators.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The API's id and its first stage, used to build execute-api ARNs.
    pub api: ApiIdentity,
    /// REST or HTTP.
    pub kind: ApiKind,
    /// Its stages, in file order (never empty).
    pub stages: Vec<StageConfig>,
    /// Whether `{id}.execute-api.{anything}` host names reach it (API Gateway's default
    /// endpoint; `disableExecuteApiEndpoint` turns it off).
    pub execute_api_endpoint: bool,
    /// Where the API's keys start in the config (`apis.ID`, or empty for the single-API
    /// shape).
    pub path: String,
    /// Where the API is in the file.
    pub loc: Loc,
    /// Resources (paths) and their methods, in file order.
    pub resources: Vec<ResourceConfig>,
    /// Customised gateway responses.
    pub gateway_responses: Vec<GatewayResponseConfig>,
    /// Named JWT authorizers.
    pub authorizers: Vec<AuthorizerConfig>,
    /// Named Lambda (TOKEN / REQUEST) authorizers; they share one namespace with
    /// `authorizers`.
    pub lambda_authorizers: Vec<LambdaAuthorizerConfig>,
    /// Which authorizer applies by default, roles and their policies, the resource policy.
    pub authorization: AuthorizationConfig,
    /// The API's models (JSON Schema draft 4), compiled once at load.
    pub models: Arc<portcullis_validate::Models>,
    /// Named request validators (which parts of a request they check), in file order.
    pub request_validators: Vec<(String, portcullis_validate::Validator)>,
    /// The validator of methods that name none (`request_validator:`); already applied to
    /// each [`MethodConfig::validation`].
    pub default_request_validator: Option<String>,
    /// Media types sent to and from Lambda proxy integrations as binary (base64):
    /// `image/png`, `image/*`, `*/*` (REST APIs).
    pub binary_media_types: Vec<String>,
    /// An HTTP API's `$default` route: requests that match no other route.
    pub default_route: Option<MethodConfig>,
    /// An HTTP API's CORS configuration.
    pub cors: Option<CorsConfig>,
    /// Where API keys come from (`api_key_source`, OpenAPI's
    /// `x-amazon-apigateway-api-key-source`); `None`: the `x-api-key` header.
    pub api_key_source: Option<ApiKeySource>,
}

/// Where a request's API key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeySource {
    /// The `x-api-key` header.
    Header,
    /// A Lambda authorizer's `usageIdentifierKey`.
    Authorizer,
}

/// An HTTP API's CORS configuration: the gateway answers preflight requests and adds the
/// CORS headers to every response of an allowed origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// Allowed origins (`https://app.example.com`), or `*`.
    pub allow_origins: Vec<String>,
    /// Allowed methods, or `*`.
    pub allow_methods: Vec<String>,
    /// Allowed request headers (lower-case), or `*`.
    pub allow_headers: Vec<String>,
    /// Response headers the browser may read.
    pub expose_headers: Vec<String>,
    /// `Access-Control-Max-Age`, in seconds.
    pub max_age: Option<u32>,
    /// `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
}

/// A host name and the APIs its paths lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainConfig {
    /// The host, lower-case: `api.example.com`, `*.example.com`, or `*` for any host.
    pub host: String,
    /// Its base path mappings, longest base path first.
    pub mappings: Vec<BasePathMapping>,
    /// Where the domain is in the file.
    pub loc: Loc,
}

/// One base path mapping of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasePathMapping {
    /// The base path's segments (decoded); empty for the root (`/`, AWS's `(none)`).
    pub base_path: Vec<String>,
    /// The API's id.
    pub api: String,
    /// The stage; `None`: the segment after the base path names it, as on
    /// `{id}.execute-api` host names.
    pub stage: Option<String>,
}

/// Limits of request body validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationConfig {
    /// Bytes of a body read to validate it (at most `listener.max_body_size`).
    pub max_body_size: u64,
    /// Deepest nesting of arrays and objects a validated body may have.
    pub max_depth: u32,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            max_body_size: 1024 * 1024,
            max_depth: portcullis_validate::DEFAULT_MAX_DEPTH,
        }
    }
}

/// Where an authorizer takes its keys from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerConfig {
    /// The built-in user pool: keys read in process, revocations honoured.
    Builtin,
    /// Another issuer's public keys, from its JWKS.
    Jwks {
        /// The exact `iss`.
        issuer: String,
        /// The JWKS URL; `None`: found through `{issuer}/.well-known/openid-configuration`.
        jwks_uri: Option<String>,
        /// Keys are fetched again after this long (served stale if the issuer is down).
        ttl: Duration,
        /// Fetches happen at most this often (an unknown `kid` triggers one).
        min_refresh: Duration,
        /// Extra CA to trust for the issuer's TLS certificate.
        ca_file: Option<PathBuf>,
    },
    /// Another issuer's public keys, from a JWKS document in a local file (air-gapped
    /// deployments, tests): read at load, never fetched.
    JwksFile {
        /// The exact `iss`.
        issuer: String,
        /// The file, as resolved against the config's directory.
        file: PathBuf,
        /// Its content, read at load (a changed file takes effect on reload).
        document: String,
    },
    /// A shared HMAC secret (never for an issuer with public keys).
    Hmac {
        /// The exact `iss`.
        issuer: String,
        /// The secret.
        secret: Secret,
    },
}

impl IssuerConfig {
    /// The `iss` the issuer's tokens carry (`builtin` for the built-in pool).
    pub fn issuer_name(&self) -> &str {
        match self {
            Self::Builtin => "builtin",
            Self::Jwks { issuer, .. }
            | Self::JwksFile { issuer, .. }
            | Self::Hmac { issuer, .. } => issuer,
        }
    }
}

/// Why a URL may not be used to fetch keys, or `None` when it may: `https://` with a host,
/// or `http://` to loopback only (keys over plain http could be replaced in transit). User
/// information (`user@`) is refused, so `http://127.0.0.1@example.net/` cannot pass for
/// loopback.
pub fn key_url_problem(url: &str) -> Option<&'static str> {
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return Some("not an http(s) URL"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Some("no host");
    }
    if authority.contains('@') {
        return Some("user information in the URL is not allowed");
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, port))
                if port.is_empty()
                    || port
                        .strip_prefix(':')
                        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                h
            }
            _ => return Some("malformed host"),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            Some(_) => return Some("malformed host"),
            None => authority,
        }
    };
    if https {
        return None;
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then_some("keys over plain http could be replaced in transit")
}

/// A configured secret: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Where a request carries its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A header (`Bearer ` is stripped, as API Gateway's JWT authorizer does).
    Header(String),
    /// A cookie.
    Cookie(String),
}

/// The audiences a JWT authorizer accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audiences {
    /// A token's `aud` (string or list) or `client_id` must be one of these (never empty).
    OneOf(Vec<String>),
    /// Any audience: the built-in pool's default (its app clients), or another issuer's
    /// `audience: any`, which loads with a warning.
    Any,
}

/// A JWT authorizer.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizerConfig {
    /// Its name, referenced by methods and `authorization.default_authorizer`.
    pub name: String,
    /// Where it is in the file.
    pub loc: Loc,
    /// The issuer.
    pub issuer: IssuerConfig,
    /// Accepted `aud` / `client_id` values.
    pub audiences: Audiences,
    /// Required `token_use` (`id` or `access`), if any.
    pub token_use: Option<String>,
    /// Allowed JWS algorithms (JOSE names).
    pub algorithms: Vec<String>,
    /// Clock skew allowed for `exp`, `nbf`, `iat`.
    pub leeway: Duration,
    /// Where the token is.
    pub source: TokenSource,
    /// Verified tokens kept in memory.
    pub cache_entries: u32,
    /// Where a caller's limits come from: a claim in `portcullis:limits`' shape, or a claim
    /// that names a usage plan. The built-in pool's authorizers read `portcullis:limits`
    /// unless told otherwise.
    pub limits: Option<LimitsFrom>,
}

/// Where an authorizer finds the caller's own limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitsFrom {
    /// A claim (JWT) or context key (Lambda) holding `{rate, burst, quota, quota_period}`
    /// (a Lambda context carries it as JSON text).
    Limits(String),
    /// A claim or context key naming a usage plan: the plan's throttle and quota then hold
    /// per caller (`sub`, or the Lambda's `principalId`) on the stages it covers.
    Plan(String),
}

/// The kind of a Lambda authorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaKind {
    /// `TOKEN`: one header's value is the token.
    Token,
    /// `REQUEST`: the request's headers, query, path, stage and context.
    Request,
}

/// The event and response format of a Lambda authorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// REST API (`TOKEN` / `REQUEST` events, IAM policy responses).
    Rest,
    /// HTTP API payload format 1.0.
    Http1,
    /// HTTP API payload format 2.0.
    Http2,
}

/// One identity source of a Lambda authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// `method.request.header.NAME` / `$request.header.NAME` (case-insensitive; stored
    /// lower-case).
    Header(String),
    /// `method.request.querystring.NAME` / `$request.querystring.NAME` (case-sensitive).
    Query(String),
    /// `stageVariables.NAME` / `$stageVariables.NAME`.
    StageVariable(String),
    /// `context.NAME` / `$context.NAME`.
    Context(ContextVar),
}

/// How a Lambda authorizer's function is reached.
#[derive(Debug, Clone, PartialEq)]
pub enum LambdaTarget {
    /// A function under `functions:`, run locally.
    Function(String),
    /// `POST` of the event to a URL.
    Url {
        /// The URL (http, or https).
        url: String,
        /// Time allowed for the answer.
        timeout: Duration,
    },
}

/// A Lambda authorizer.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaAuthorizerConfig {
    /// Its name.
    pub name: String,
    /// Where it is in the file.
    pub loc: Loc,
    /// TOKEN or REQUEST.
    pub kind: LambdaKind,
    /// Event and response format.
    pub payload: PayloadFormat,
    /// HTTP API 2.0 simple responses (`{isAuthorized, context}`).
    pub simple_responses: bool,
    /// Where the function is.
    pub target: LambdaTarget,
    /// Identity sources (TOKEN: exactly one header).
    pub identity_sources: Vec<IdentitySource>,
    /// TOKEN only: a regex the whole token must match before the function is invoked.
    pub validation_expression: Option<String>,
    /// How long a result is cached (zero: not cached).
    pub result_ttl: Duration,
    /// Cached results kept in memory.
    pub cache_entries: u32,
    /// Where the caller's limits come from in the authorizer's `context`.
    pub limits: Option<LimitsFrom>,
}

/// How a local function's worker processes are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionRuntime {
    /// `python3 -m awslambdaric HANDLER` (AWS's runtime interface client for Python).
    Python,
    /// `npx --no-install aws-lambda-ric HANDLER` (AWS's runtime interface client for Node.js).
    Node,
    /// `command` as given: a custom runtime, such as a binary built with `lambda_runtime`.
    Provided,
}

/// A Lambda function run locally: worker processes that speak the Lambda Runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    /// Its name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub name: String,
    /// Where it is in the file.
    pub loc: Loc,
    /// The runtime.
    pub runtime: FunctionRuntime,
    /// `_HANDLER`.
    pub handler: String,
    /// `LAMBDA_TASK_ROOT` and the working directory.
    pub code: std::path::PathBuf,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Time allowed per invocation.
    pub timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB; reported, not enforced).
    pub memory: u32,
    /// Workers started at load and kept running.
    pub min_workers: u32,
    /// Most workers at once: the function's concurrency.
    pub max_workers: u32,
    /// Invocations that may wait for a worker.
    pub queue: u32,
    /// Extra environment variables.
    pub environment: Vec<(String, String)>,
}

/// How a method is authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodAuth {
    /// `authorization.default_authorizer` (none if unset).
    Default,
    /// Public: `authorizer: NONE`.
    None,
    /// A named authorizer.
    Named(String),
}

/// Roles, their policies, and the API's resource policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthorizationConfig {
    /// The authorizer of methods that name none.
    pub default_authorizer: Option<String>,
    /// The claim that names the caller's role.
    pub role_claim: String,
    /// Groups (`cognito:groups`, in the token's order) mapped to roles; the first group with
    /// a role decides, before the role claim.
    pub group_roles: Vec<(String, String)>,
    /// Roles and their IAM policies. Empty: an authenticated caller is allowed (scopes and
    /// the resource policy still apply).
    pub roles: Vec<(String, Vec<portcullis_policy::Policy>)>,
    /// The API's resource policy.
    pub resource_policy: Option<portcullis_policy::Policy>,
    /// Cedar policies, used instead of role IAM policies when given.
    pub cedar: Option<CedarSource>,
    /// Send `x-portcullis-decision` with the decision (debugging only).
    pub decision_header: bool,
}

/// Cedar policy text and where it came from (parsed when the plan is compiled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CedarSource {
    /// The policies.
    pub text: String,
    /// The file they were read from, as written in the config; `None` when inline.
    pub file: Option<String>,
    /// Where `cedar` is in the config; for inline text, the line before its first line.
    pub loc: Loc,
}

/// Where the user pool's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A SQLite file (created on first start).
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

/// The built-in user pool.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityConfig {
    /// Its database.
    pub database: DatabaseLocation,
    /// `iss` of its tokens and the base of its discovery document.
    pub issuer: String,
    /// `RS256`, `ES256` or `EdDSA`, for newly generated keys.
    pub signing_algorithm: String,
    /// The client used when a request names none.
    pub default_client_id: String,
    /// Access-token lifetime.
    pub access_token_ttl: Duration,
    /// ID-token lifetime.
    pub id_token_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_token_ttl: Duration,
    /// Argon2id memory, KiB.
    pub hash_memory_kib: u32,
    /// Argon2id iterations.
    pub hash_iterations: u32,
    /// Argon2id lanes.
    pub hash_parallelism: u32,
    /// Hashes running at once (the rest queue); `None`: half the CPUs, at least one.
    pub max_concurrent_hashes: Option<u32>,
    /// Hashes waiting for a slot, at most (more are answered 429 at once); `None`: 16 per
    /// concurrent hash.
    pub max_queued_hashes: Option<u32>,
    /// Longest wait for a database connection (PostgreSQL: connecting included); past it
    /// the request fails at once with 500.
    pub database_timeout: Duration,
    /// How often revocations and API keys are read again from the database (changes made
    /// by the CLI or other gateway nodes); the key ring every sixth time.
    pub refresh_interval: Duration,
    /// Fewest characters in a new password.
    pub password_min_length: u32,
    /// New passwords need an upper-case letter, a lower-case letter, a digit, a symbol.
    pub password_require: [bool; 4],
    /// Failed logins allowed before backoff starts.
    pub lockout_free_attempts: u32,
    /// First backoff delay.
    pub lockout_base_delay: Duration,
    /// Longest backoff (the lockout).
    pub lockout_max_delay: Duration,
    /// `POST` path of the JSON login endpoint.
    pub login_path: String,
    /// `POST` path of the refresh endpoint.
    pub refresh_path: String,
    /// `POST` path of the logout endpoint.
    pub logout_path: String,
    /// `POST` path of the Cognito-compatible API (`X-Amz-Target`).
    pub cognito_path: String,
    /// `POST` path of the OAuth 2.0 token endpoint.
    pub token_path: String,
    /// `GET` path of the OIDC userInfo endpoint.
    pub userinfo_path: String,
    /// File holding the key that seals client secrets (for Cognito's `SECRET_HASH`); created
    /// with mode 0600 on first start.
    pub secrets_key: PathBuf,
    /// Where `identity` is in the file.
    pub loc: Loc,
}

/// The public listener.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Address to bind.
    pub address: SocketAddr,
    /// TLS, if the listener terminates it.
    pub tls: Option<TlsConfig>,
    /// Offer HTTP/2 (h2c by prior knowledge, and `h2` by ALPN with TLS).
    pub http2: bool,
    /// Largest request head (request line and headers), in bytes. Over it: 431.
    pub max_header_size: u64,
    /// Largest request body, in bytes. Over it: 413 REQUEST_TOO_LARGE.
    pub max_body_size: u64,
    /// Time a client has to send the complete request head.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight this long is closed, and so is one whose
    /// response body has not moved for this long.
    pub idle_timeout: Duration,
    /// Time from request head to response head, past which the client gets 408.
    pub request_timeout: Duration,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: u32,
}

/// Certificate and key for a TLS listener.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// Where `tls` is in the file.
    pub loc: Loc,
}

/// The admin listener.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Address to bind (default `127.0.0.1:9090`). Any address other than loopback needs
    /// a token.
    pub address: SocketAddr,
    /// The bearer token `/metrics` and `/explain` (and `/readyz`'s details) require, read
    /// from `token_file` or `token_env` at load. `None`: no token (loopback only).
    pub token: Option<Secret>,
    /// Time to receive a request head on the admin listener.
    pub header_read_timeout: Duration,
    /// How often the dependencies behind `/readyz` are checked in the background.
    pub check_interval: Duration,
}

/// Shortest admin token accepted, in bytes.
pub const ADMIN_TOKEN_MIN_LEN: usize = 16;
/// Longest admin token accepted, in bytes.
pub const ADMIN_TOKEN_MAX_LEN: usize = 1024;

/// Where access-log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// A file, appended to.
    File(PathBuf),
}

/// Access logging.
#[derive(Debug, Clone)]
pub struct AccessLogConfig {
    /// Whether one JSON line is written per request.
    pub enabled: bool,
    /// Where.
    pub target: LogTarget,
}

/// One segment of a resource path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A literal segment, matched exactly.
    Literal(String),
    /// `{name}`: one non-empty segment.
    Param(String),
    /// `{name+}`: one or more segments, only as the last segment.
    Greedy(String),
}

/// A resource: a path template and its methods.
#[derive(Debug, Clone)]
pub struct ResourceConfig {
    /// The template as written, e.g. `/pets/{id}`.
    pub path: String,
    /// Its segments.
    pub segments: Vec<Segment>,
    /// Its methods.
    pub methods: Vec<MethodConfig>,
    /// Where the resource is in the file.
    pub loc: Loc,
}

/// One method of a resource.
#[derive(Debug, Clone)]
pub struct MethodConfig {
    /// `GET`, `POST`, ... or `ANY`.
    pub method: String,
    /// Where the method is in the file, as a key path (`resources./pets.GET`,
    /// `apis.shop.resources./pets.GET`, `apis.web.routes.GET /pets`).
    pub at: String,
    /// What serves it.
    pub integration: IntegrationConfig,
    /// How it is authenticated.
    pub auth: MethodAuth,
    /// Scopes of which the token must carry one (any-of); empty: none required.
    pub scopes: Vec<String>,
    /// Request validation (validator, required parameters, models by content type); `None`
    /// when no validator applies or it has nothing to check for this method.
    pub validation: Option<Arc<portcullis_validate::MethodValidation>>,
    /// The method's own throttle, which replaces its stage's.
    pub throttle: Option<ThrottleConfig>,
    /// Whether a request needs an API key (REST APIs): a usage plan of the key's meters it.
    pub api_key_required: bool,
}

/// What serves a method.
#[derive(Debug, Clone)]
pub enum IntegrationConfig {
    /// A fixed response.
    Mock(MockConfig),
    /// A reverse proxy to an HTTP(S) upstream.
    HttpProxy(HttpProxyConfig),
    /// A Lambda proxy integration (`AWS_PROXY`) to a local function.
    AwsProxy(AwsProxyConfig),
}

/// A Lambda proxy integration.
#[derive(Debug, Clone)]
pub struct AwsProxyConfig {
    /// The function under `functions:`.
    pub function: String,
    /// Time allowed for the function's answer (the integration timeout).
    pub timeout: Duration,
    /// `payload_format_version` (HTTP APIs: `1.0` or `2.0`); `None`: the API type's default
    /// (REST's own format, HTTP API 2.0).
    pub payload: Option<PayloadFormat>,
    /// Where the integration is in the file.
    pub loc: Loc,
}

/// A fixed response.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
}

/// Which HTTP version to speak to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamProtocol {
    /// HTTP/1.1 for `http://`; ALPN (h2 or HTTP/1.1) for `https://`.
    Auto,
    /// HTTP/2 only: h2c by prior knowledge for `http://`, h2 for `https://`.
    Http2,
}

/// A reverse-proxy integration.
#[derive(Debug, Clone)]
pub struct HttpProxyConfig {
    /// The upstream URI template.
    pub uri: UriTemplate,
    /// Time allowed until the upstream's response head arrives.
    pub timeout: Duration,
    /// HTTP version to the upstream.
    pub protocol: UpstreamProtocol,
    /// Extra PEM CA bundle trusted for `https://` upstreams (besides the system roots).
    pub ca_file: Option<PathBuf>,
    /// Values mapped into the integration request (REST `request_parameters`, or HTTP APIs'
    /// `parameter_mapping`).
    pub request_parameters: Vec<ParameterMapping>,
    /// Whether they were written as HTTP APIs' `parameter_mapping` (checked against the
    /// API's type).
    pub http_api_mapping: bool,
    /// Where the integration is in the file.
    pub loc: Loc,
}

/// A parsed upstream URI template such as `https://api.internal:8443/v1/pets/{id}?src=gw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// The path and optional query, as parts.
    pub parts: Vec<UriPart>,
}

/// A piece of a URI template's path and query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriPart {
    /// Copied as is.
    Literal(String),
    /// Replaced by the (re-encoded) value of a path parameter; for a greedy parameter the
    /// value keeps its slashes.
    Param(String),
}

/// Where a mapped value goes in the integration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingTarget {
    /// `integration.request.header.NAME` (HTTP APIs: `header.NAME`)
    Header(String),
    /// `integration.request.querystring.NAME` (HTTP APIs: `querystring.NAME`)
    Query(String),
    /// HTTP APIs' `overwrite:path`: the upstream request's path.
    Path,
}

/// What a mapping does to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingOp {
    /// Replace the target (REST's only operation): a header or query parameter of that name
    /// the client sent is not forwarded.
    Overwrite,
    /// HTTP APIs' `append:`: add a value, keeping the client's.
    Append,
    /// HTTP APIs' `remove:`: drop the client's header or query parameter.
    Remove,
}

/// A request-context variable usable as a mapping source or in templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextVar {
    /// `requestId`
    RequestId,
    /// `resourcePath`: the matched template.
    ResourcePath,
    /// `path`: the request path.
    Path,
    /// `httpMethod`
    HttpMethod,
    /// `stage`
    Stage,
    /// `apiId`
    ApiId,
    /// `accountId`
    AccountId,
    /// `identity.sourceIp`
    SourceIp,
    /// `identity.userAgent`
    UserAgent,
    /// `requestTimeEpoch` (milliseconds)
    RequestTimeEpoch,
    /// `protocol`, e.g. `HTTP/1.1`
    Protocol,
    /// `domainName`: the Host the client used.
    DomainName,
}

impl ContextVar {
    /// Every variable with its name after `context.`.
    pub const ALL: [(&'static str, ContextVar); 12] = [
        ("requestId", Self::RequestId),
        ("resourcePath", Self::ResourcePath),
        ("path", Self::Path),
        ("httpMethod", Self::HttpMethod),
        ("stage", Self::Stage),
        ("apiId", Self::ApiId),
        ("accountId", Self::AccountId),
        ("identity.sourceIp", Self::SourceIp),
        ("identity.userAgent", Self::UserAgent),
        ("requestTimeEpoch", Self::RequestTimeEpoch),
        ("protocol", Self::Protocol),
        ("domainName", Self::DomainName),
    ];
}

/// Where a mapped value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingSource {
    /// `'text'`
    Literal(String),
    /// `context.X`
    Context(ContextVar),
    /// `context.authorizer.principalId` or `context.authorizer.KEY`: filled by authorizers.
    Authorizer(String),
    /// `method.request.path.NAME`
    PathParam(String),
    /// `method.request.querystring.NAME`
    QueryParam(String),
    /// `method.request.header.NAME`
    Header(String),
    /// `stageVariables.NAME`: the value in the request's stage (absent when unset).
    StageVariable(String),
    /// HTTP APIs' `$request.path`: the request path as the API sees it.
    RequestPath,
}

/// One parameter mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterMapping {
    /// What it does.
    pub op: MappingOp,
    /// Where the value goes.
    pub target: MappingTarget,
    /// Where it comes from.
    pub source: MappingSource,
}

/// A piece of a gateway-response template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Copied as is.
    Literal(String),
    /// `$context.error.message`: the message text.
    ErrorMessage,
    /// `$context.error.messageString`: the message as a JSON string literal (or `null`).
    ErrorMessageString,
    /// `$context.error.responseType`
    ErrorResponseType,
    /// `$context.error.validationErrorString`: why request validation failed (empty for
    /// other errors).
    ErrorValidationString,
    /// Any other `$context.X` variable.
    Context(ContextVar),
}

/// A customised gateway response.
#[derive(Debug, Clone)]
pub struct GatewayResponseConfig {
    /// Which type.
    pub response_type: ResponseType,
    /// Status override.
    pub status: Option<u16>,
    /// Extra headers, values are templates.
    pub headers: Vec<(String, Vec<TemplatePart>)>,
    /// Body template (default `{"message":$context.error.messageString}`).
    pub body: Option<Vec<TemplatePart>>,
}

#[cfg(test)]
mod tests {
    use super::key_url_problem;

    #[test]
    fn key_urls() {
        assert_eq!(key_url_problem("https://idp.example.com/keys"), None);
        assert_eq!(key_url_problem("http://127.0.0.1:8080/keys"), None);
        assert_eq!(key_url_problem("http://localhost/keys"), None);
        assert_eq!(key_url_problem("http://[::1]:9/keys"), None);
        assert!(key_url_problem("http://idp.example.com/keys").is_some());
        assert!(key_url_problem("http://127.0.0.1.example.net/keys").is_some());
        assert!(key_url_problem("http://127.0.0.1@example.net/keys").is_some());
        assert!(key_url_problem("https://user@idp.example.com/").is_some());
        assert!(key_url_problem("http://localhost.evil.test/").is_some());
        assert!(key_url_problem("ftp://x/").is_some());
        assert!(key_url_problem("https:///keys").is_some());
    }
}

/// `waf:`: the web ACLs and the objects they use, in AWS WAF's JSON shape, and which web
/// ACL guards which API and stage.
#[derive(Debug, Clone)]
pub struct WafConfig {
    /// The objects, checked: they compile (`portcullis_waf::Firewall::compile`).
    pub sources: portcullis_waf::Sources,
    /// The web ACL of every request no association covers (the user pool's endpoints too).
    pub web_acl: Option<String>,
    /// Web ACLs of APIs and stages.
    pub associations: Vec<WafAssociation>,
    /// The files the objects were read from (JSON objects, the country database, the
    /// reputation list), canonical: a change to one reloads the config.
    pub files: Vec<std::path::PathBuf>,
}

/// A web ACL guarding an API (all its stages) or one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WafAssociation {
    /// The web ACL's name.
    pub web_acl: String,
    /// The API's id.
    pub api: String,
    /// The stage (`None`: every stage of the API).
    pub stage: Option<String>,
}
