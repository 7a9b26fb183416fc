//! `portcullis users ...` and `portcullis groups ...`: the user pool's administration,
//! against the same database as `serve` (safe while it runs: SQLite in WAL mode with a busy
//! timeout, or PostgreSQL).
//!
//! Passwords are read from standard input (`--password-stdin`, first line) or prompted for
//! without echo; never from the command line, where other users could see them.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use portcullis_identity::password::PasswordPolicy;
use portcullis_identity::service::IdentityService;
use portcullis_identity::{Group, Limits, NewUser, QuotaPeriod};

/// `users` subcommands.
#[derive(Subcommand)]
pub enum UsersCommand {
    /// Create a user (the password is read from stdin or prompted for).
    Add {
        /// Username (unique regardless of case).
        username: String,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Custom attribute, repeatable: `--attribute custom:tier=gold`.
        #[arg(long = "attribute", value_name = "NAME=VALUE")]
        attributes: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Show one user, with groups and limits.
    Show {
        /// Username.
        username: String,
    },
    /// Disable a user: logins and refreshes fail, and existing sessions end.
    Disable {
        /// Username.
        username: String,
    },
    /// Enable a disabled user.
    Enable {
        /// Username.
        username: String,
    },
    /// Delete a user with their memberships, limits and refresh tokens.
    Delete {
        /// Username.
        username: String,
    },
    /// Set a user's password; existing sessions end.
    SetPassword {
        /// Username.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Add a user to a group.
    AddToGroup {
        /// Username.
        username: String,
        /// Group name.
        group: String,
    },
    /// Remove a user from a group.
    RemoveFromGroup {
        /// Username.
        username: String,
        /// Group name.
        group: String,
    },
    /// Set the limits carried in a user's tokens.
    SetLimits {
        /// Username.
        username: String,
        /// Steady requests per second.
        #[arg(long)]
        rate: f64,
        /// Burst size.
        #[arg(long)]
        burst: u32,
        /// Requests per period.
        #[arg(long, requires = "period")]
        quota: Option<u64>,
        /// DAY, WEEK or MONTH.
        #[arg(long, requires = "quota")]
        period: Option<String>,
    },
}

/// `groups` subcommands.
#[derive(Subcommand)]
pub enum GroupsCommand {
    /// Create a group.
    Add {
        /// Group name.
        name: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// Lower wins when a user is in several groups.
        #[arg(long, default_value_t = 0)]
        precedence: i64,
        /// Role name the group maps to.
        #[arg(long)]
        role: Option<String>,
    },
    /// List groups.
    List,
    /// Delete a group and its memberships.
    Delete {
        /// Group name.
        name: String,
    },
}

/// `clients` subcommands.
#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Register an app client. Public (no secret) unless `--secret`; the generated secret is
    /// printed once and never again.
    Add {
        /// Client id (letters, digits, `-`, `_`; 1 to 128).
        client_id: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Generate a client secret (a confidential client).
        #[arg(long)]
        secret: bool,
        /// Allowed flow, repeatable: USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH,
        /// client_credentials (needs --secret). Default: the first two.
        #[arg(long = "flow")]
        flows: Vec<String>,
        /// Allowed scope, repeatable (granted in access tokens).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Access-token lifetime (5m to 24h).
        #[arg(long, default_value = "1h")]
        access_ttl: String,
        /// ID-token lifetime (5m to 24h).
        #[arg(long, default_value = "1h")]
        id_ttl: String,
        /// Refresh-token lifetime (60m to 3650d).
        #[arg(long, default_value = "30d")]
        refresh_ttl: String,
    },
    /// List app clients.
    List,
    /// Delete an app client.
    Delete {
        /// Client id.
        client_id: String,
    },
}

/// Runs a `clients` subcommand.
pub async fn clients(config: Option<PathBuf>, cmd: ClientsCommand) -> ExitCode {
    match config {
        Some(c) => finish(clients_inner(&c, cmd).await),
        None => finish(Err("--config FILE is required".into())),
    }
}

fn lifetime(text: &str, what: &str, min: u64, max: u64) -> Result<i64, String> {
    let d = portcullis_config::units::parse_duration(text).map_err(|e| format!("--{what}: {e}"))?;
    if !(min..=max).contains(&d.as_secs()) {
        return Err(format!("--{what} must be between {min} s and {max} s"));
    }
    i64::try_from(d.as_secs()).map_err(|e| e.to_string())
}

async fn clients_inner(config: &Path, cmd: ClientsCommand) -> Result<(), String> {
    let svc = open(config).await?;
    let store = svc.store();
    let err = |e: portcullis_identity::StoreError| e.to_string();
    match cmd {
        ClientsCommand::Add {
            client_id,
            name,
            secret,
            flows,
            scopes,
            access_ttl,
            id_ttl,
            refresh_ttl,
        } => {
            let valid = !client_id.is_empty()
                && client_id.len() <= 128
                && client_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err("a client id is 1 to 128 letters, digits, `-` or `_`".into());
            }
            if client_id == svc.default_client_id() {
                return Err(format!(
                    "`{client_id}` is the default client (identity.default_client_id in the config); choose another id"
                ));
            }
            const FLOWS: [&str; 3] = [
                "USER_PASSWORD_AUTH",
                "REFRESH_TOKEN_AUTH",
                "client_credentials",
            ];
            let mut auth_flows = Vec::new();
            for f in flows {
                let Some(known) = FLOWS.iter().find(|k| k.eq_ignore_ascii_case(&f)) else {
                    return Err(format!(
                        "unknown flow `{f}`; use one of {}",
                        FLOWS.join(", ")
                    ));
                };
                if !auth_flows.contains(&known.to_string()) {
                    auth_flows.push((*known).to_owned());
                }
            }
            if auth_flows.is_empty() {
                auth_flows = vec!["USER_PASSWORD_AUTH".into(), "REFRESH_TOKEN_AUTH".into()];
            }
            if !secret && auth_flows.iter().any(|f| f == "client_credentials") {
                return Err("client_credentials needs a confidential client: add --secret".into());
            }
            if let Some(bad) = scopes.iter().find(|s| {
                s.is_empty()
                    || s.len() > 256
                    || s.contains(|c: char| c.is_whitespace() || c.is_control())
            }) {
                return Err(format!(
                    "`{bad}` is not a scope (1 to 256 characters, no spaces)"
                ));
            }
            let plain = secret.then(portcullis_identity::secrets::new_client_secret);
            let sealed = match &plain {
                Some(p) => Some(
                    svc.seal_client_secret(&client_id, p.expose())
                        .ok_or("the secrets key could not seal the client secret")?,
                ),
                None => None,
            };
            let client = portcullis_identity::AppClient {
                name: if name.is_empty() {
                    client_id.clone()
                } else {
                    name
                },
                secret: plain.as_ref().map(|p| portcullis_identity::ClientSecret {
                    hash: portcullis_identity::secrets::hash_secret(p.expose()),
                    sealed,
                }),
                client_id,
                auth_flows,
                scopes: if scopes.is_empty() {
                    vec!["openid".into()]
                } else {
                    scopes
                },
                access_ttl: lifetime(&access_ttl, "access-ttl", 300, 86_400)?,
                id_ttl: lifetime(&id_ttl, "id-ttl", 300, 86_400)?,
                refresh_ttl: lifetime(&refresh_ttl, "refresh-ttl", 3_600, 3_650 * 86_400)?,
            };
            store.create_client(&client).await.map_err(err)?;
            println!("created client {}", client.client_id);
            if let Some(p) = plain {
                // The only time the secret is shown: it is stored hashed and sealed.
                println!("client secret: {}", p.expose());
            }
        }
        ClientsCommand::List => {
            for c in store.list_clients().await.map_err(err)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\taccess {}s id {}s refresh {}s",
                    c.client_id,
                    c.name,
                    if c.secret.is_some() {
                        "confidential"
                    } else {
                        "public"
                    },
                    c.auth_flows.join(","),
                    c.scopes.join(" "),
                    c.access_ttl,
                    c.id_ttl,
                    c.refresh_ttl
                );
            }
        }
        ClientsCommand::Delete { client_id } => {
            store.delete_client(&client_id).await.map_err(err)?
        }
    }
    Ok(())
}

/// `token` subcommands.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Issue tokens for a user without their password (for testing; needs the database).
    Issue {
        /// Username.
        username: String,
        /// App client (default: the configured default client).
        #[arg(long)]
        client: Option<String>,
    },
}

/// Runs a `token` subcommand.
pub async fn token(config: Option<PathBuf>, cmd: TokenCommand) -> ExitCode {
    match config {
        Some(c) => finish(token_inner(&c, cmd).await),
        None => finish(Err("--config FILE is required".into())),
    }
}

async fn token_inner(config: &Path, cmd: TokenCommand) -> Result<(), String> {
    let svc = open(config).await?;
    match cmd {
        TokenCommand::Issue { username, client } => {
            let s = svc
                .issue_for(
                    &username,
                    client.as_deref(),
                    portcullis_identity::store::now(),
                )
                .await
                .map_err(|e| e.to_string())?;
            let doc = serde_json::json!({
                "access_token": s.tokens.access_token,
                "id_token": s.tokens.id_token,
                "refresh_token": s.refresh_token,
                "expires_in": s.tokens.expires_in,
                "token_type": "Bearer",
            });
            println!("{doc}");
        }
    }
    Ok(())
}

/// `keys` subcommands.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// List signing keys (the active one is marked).
    List,
    /// Add a new signing key: published at once, it starts signing after five minutes (the
    /// JWKS cache lifetime); older keys stay published until retired.
    Rotate {
        /// RS256, ES256 or EdDSA (default: the configured `identity.signing_algorithm`).
        #[arg(long)]
        algorithm: Option<String>,
    },
    /// Retire a key: it leaves the JWKS, and tokens it signed stop verifying.
    Retire {
        /// Key id (may start with `-`: thumbprints are base64url).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// Runs a `keys` subcommand.
pub async fn keys(config: Option<PathBuf>, cmd: KeysCommand) -> ExitCode {
    match config {
        Some(c) => finish(keys_inner(&c, cmd).await),
        None => finish(Err("--config FILE is required".into())),
    }
}

async fn keys_inner(config: &Path, cmd: KeysCommand) -> Result<(), String> {
    let svc = open(config).await?;
    let now = portcullis_identity::store::now();
    match cmd {
        KeysCommand::List => {
            let keys = svc
                .store()
                .signing_keys()
                .await
                .map_err(|e| e.to_string())?;
            // The key that signs now: the newest one past its activation delay.
            let active = portcullis_identity::keys::KeyRing::from_records_at(&keys, now)
                .ok()
                .map(|ring| ring.signer().kid.clone());
            for k in keys {
                let state = match k.retired_at {
                    Some(t) => format!("retired {t}"),
                    None if Some(&k.kid) == active.as_ref() => "active".to_owned(),
                    None => "published".to_owned(),
                };
                println!("{}\t{}\tcreated {}\t{state}", k.kid, k.alg, k.created_at);
            }
        }
        KeysCommand::Rotate { algorithm } => {
            let alg = match algorithm {
                Some(a) => Some(
                    portcullis_identity::keys::KeyAlg::parse(&a)
                        .ok_or_else(|| format!("`{a}` is not RS256, ES256 or EdDSA"))?,
                ),
                None => None,
            };
            let kid = svc.rotate_key(alg, now).await.map_err(|e| e.to_string())?;
            println!("added {kid}");
        }
        KeysCommand::Retire { kid } => {
            let keys = svc
                .store()
                .signing_keys()
                .await
                .map_err(|e| e.to_string())?;
            if !keys.iter().any(|k| k.kid == kid && k.retired_at.is_none()) {
                return Err(format!("no active key `{kid}`"));
            }
            let live = keys.iter().filter(|k| k.retired_at.is_none()).count();
            if live <= 1 {
                return Err("refusing to retire the last active key: rotate first".into());
            }
            svc.store()
                .retire_key(&kid, now)
                .await
                .map_err(|e| e.to_string())?;
            println!("retired {kid}");
        }
    }
    Ok(())
}

fn password_policy(config: &Path) -> Result<PasswordPolicy, String> {
    let cfg = portcullis_config::load_file(config)
        .map_err(|d| d.render().trim_start_matches("error: ").to_owned())?;
    let id = cfg
        .identity
        .ok_or_else(|| format!("{} has no `identity` section", config.display()))?;
    let [
        require_uppercase,
        require_lowercase,
        require_digit,
        require_symbol,
    ] = id.password_require;
    Ok(PasswordPolicy {
        min_length: usize::try_from(id.password_min_length).unwrap_or(8),
        require_uppercase,
        require_lowercase,
        require_digit,
        require_symbol,
    })
}

/// The request `portcullis explain` describes, as given on the command line.
#[derive(Debug)]
pub struct ExplainArgs {
    /// The token the request carries.
    pub token: Option<String>,
    /// The client's address.
    pub source_ip: Option<std::net::IpAddr>,
    /// `Name: value` headers.
    pub headers: Vec<String>,
    /// The request body.
    pub data: Option<String>,
    /// The method.
    pub method: String,
    /// The path (and query).
    pub path: String,
}

/// `portcullis explain`.
pub async fn explain(config: PathBuf, json: bool, args: ExplainArgs) -> ExitCode {
    let ExplainArgs {
        token,
        source_ip,
        headers,
        data,
        method,
        path,
    } = args;
    let mut parsed = Vec::new();
    for h in &headers {
        match h.split_once(':') {
            Some((k, v)) if !k.trim().is_empty() => {
                parsed.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            _ => {
                eprintln!("error: --header `{h}` is not `Name: value`");
                return ExitCode::from(2);
            }
        }
    }
    let result = async {
        let cfg = portcullis_config::load_file(&config)
            .map_err(|d| d.render().trim_start_matches("error: ").to_owned())?;
        let service = match &cfg.identity {
            Some(id) => Some(std::sync::Arc::new(
                portcullis_gateway::identity_endpoints::open_service(id).await?,
            )),
            None => None,
        };
        let clients = portcullis_gateway::integration::clients::UpstreamClients::default();
        let plan = portcullis_gateway::Plan::compile(
            cfg,
            1,
            &clients,
            &portcullis_gateway::carry::Carry::default(),
            portcullis_gateway::PoolHandle::Serving(service.as_ref()),
        )
        .map_err(|d| d.render())?;
        let report = portcullis_gateway::explain::explain(
            &plan,
            &portcullis_gateway::explain::Question {
                method,
                path,
                token,
                source_ip,
                headers: parsed,
                body: data,
            },
            portcullis_identity::store::now(),
        )
        .await;
        Ok::<_, String>(report)
    }
    .await;
    match result {
        Ok(report) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print!("{}", portcullis_gateway::explain::render(&report));
            }
            if report.get("error").is_some() {
                ExitCode::from(2)
            } else if report
                .get("decision")
                .and_then(|d| d.get("result"))
                .is_some_and(|r| r == "allow")
            {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            let e = e.trim_end();
            if e.starts_with("error:") {
                eprintln!("{e}");
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(2)
        }
    }
}

async fn open(config: &Path) -> Result<IdentityService, String> {
    let cfg = portcullis_config::load_file(config)
        .map_err(|d| d.render().trim_start_matches("error: ").to_owned())?;
    let identity = cfg
        .identity
        .ok_or_else(|| format!("{} has no `identity` section", config.display()))?;
    if let portcullis_config::DatabaseLocation::Sqlite(path) = &identity.database
        && !path.exists()
    {
        // A gateway still running on a deleted file would never see what this writes.
        eprintln!(
            "note: {} does not exist: creating a new, empty user pool. A gateway already running with this config keeps using the file it opened and will not see this one (its /readyz reports the database as deleted or replaced): restart it.",
            path.display()
        );
    }
    portcullis_gateway::identity_endpoints::open_service(&identity).await
}

fn read_password(from_stdin: bool, policy: &PasswordPolicy) -> Result<String, String> {
    let password = if from_stdin || !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password: {e}"))?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the passwords differ".into());
        }
        first
    };
    policy.check(&password)?;
    Ok(password)
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a `users` subcommand.
pub async fn users(config: Option<PathBuf>, cmd: UsersCommand) -> ExitCode {
    match config {
        Some(c) => finish(users_inner(&c, cmd).await),
        None => finish(Err("--config FILE is required".into())),
    }
}

async fn users_inner(config: &Path, cmd: UsersCommand) -> Result<(), String> {
    // Read the password before opening the database, so a prompt is not kept waiting on it.
    let policy = password_policy(config)?;
    let password = match &cmd {
        UsersCommand::Add { password_stdin, .. }
        | UsersCommand::SetPassword { password_stdin, .. } => {
            Some(read_password(*password_stdin, &policy)?)
        }
        _ => None,
    };
    let svc = open(config).await?;
    let store = svc.store();
    let err = |e: portcullis_identity::StoreError| e.to_string();
    match cmd {
        UsersCommand::Add {
            username,
            email,
            attributes,
            ..
        } => {
            let mut attrs = BTreeMap::new();
            for a in attributes {
                let (k, v) = a
                    .split_once('=')
                    .ok_or_else(|| format!("attribute `{a}` is not NAME=VALUE"))?;
                let valid = k.strip_prefix("custom:").is_some_and(|n| {
                    !n.is_empty()
                        && n.len() <= 20
                        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
                if !valid {
                    return Err(format!(
                        "attribute `{k}` must be named `custom:NAME` (NAME: letters, digits, `_`, up to 20)"
                    ));
                }
                attrs.insert(k.to_owned(), v.to_owned());
            }
            if username.is_empty()
                || username.len() > 128
                || username.chars().any(char::is_whitespace)
            {
                return Err("a username is 1 to 128 characters without spaces".into());
            }
            let hash = svc
                .hasher()
                .hash(password.as_deref().unwrap_or(""))
                .await
                .map_err(|e| e.to_string())?;
            let user = store
                .create_user(&NewUser {
                    username,
                    password_hash: hash,
                    email,
                    attributes: attrs,
                })
                .await
                .map_err(err)?;
            println!("created {} (sub {})", user.username, user.sub);
        }
        UsersCommand::List => {
            for u in store.list_users().await.map_err(err)? {
                let state = if u.enabled { "enabled" } else { "disabled" };
                println!(
                    "{}\t{}\t{}\t{}",
                    u.username,
                    u.sub,
                    state,
                    u.email.unwrap_or_default()
                );
            }
        }
        UsersCommand::Show { username } => {
            let u = store
                .user_by_username(&username)
                .await
                .map_err(err)?
                .ok_or_else(|| format!("user `{username}` not found"))?;
            let groups: Vec<String> = store
                .user_groups(&username)
                .await
                .map_err(err)?
                .into_iter()
                .map(|g| g.name)
                .collect();
            let limits = store.limits(&username).await.map_err(err)?;
            let doc = serde_json::json!({
                "username": u.username,
                "sub": u.sub,
                "enabled": u.enabled,
                "email": u.email,
                "attributes": u.attributes,
                "groups": groups,
                "limits": limits.map(|l| serde_json::json!({
                    "rate": l.rate, "burst": l.burst, "quota": l.quota,
                    "period": l.quota_period.map(QuotaPeriod::as_str),
                })),
                "created_at": u.created_at,
                "updated_at": u.updated_at,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        UsersCommand::Disable { username } => {
            store.set_enabled(&username, false).await.map_err(err)?;
            // As Cognito's AdminDisableUser: the user's sessions end too.
            store
                .global_sign_out(&username, portcullis_identity::store::now())
                .await
                .map_err(err)?;
        }
        UsersCommand::Enable { username } => {
            store.set_enabled(&username, true).await.map_err(err)?
        }
        UsersCommand::Delete { username } => store.delete_user(&username).await.map_err(err)?,
        UsersCommand::SetPassword { username, .. } => {
            let hash = svc
                .hasher()
                .hash(password.as_deref().unwrap_or(""))
                .await
                .map_err(|e| e.to_string())?;
            store
                .set_password_hash(&username, &hash)
                .await
                .map_err(err)?;
            // A new password ends every session opened with the old one.
            store
                .global_sign_out(&username, portcullis_identity::store::now())
                .await
                .map_err(err)?;
        }
        UsersCommand::AddToGroup { username, group } => {
            store.add_to_group(&username, &group).await.map_err(err)?
        }
        UsersCommand::RemoveFromGroup { username, group } => {
            store
                .remove_from_group(&username, &group)
                .await
                .map_err(err)?;
        }
        UsersCommand::SetLimits {
            username,
            rate,
            burst,
            quota,
            period,
        } => {
            if !(rate.is_finite() && rate > 0.0) {
                return Err("--rate must be a positive number".into());
            }
            let quota_period = match period {
                Some(p) => Some(
                    QuotaPeriod::parse(&p)
                        .ok_or_else(|| format!("`{p}` is not DAY, WEEK or MONTH"))?,
                ),
                None => None,
            };
            store
                .set_limits(
                    &username,
                    &Limits {
                        rate,
                        burst,
                        quota,
                        quota_period,
                    },
                )
                .await
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Runs a `groups` subcommand.
pub async fn groups(config: Option<PathBuf>, cmd: GroupsCommand) -> ExitCode {
    match config {
        Some(c) => finish(groups_inner(&c, cmd).await),
        None => finish(Err("--config FILE is required".into())),
    }
}

async fn groups_inner(config: &Path, cmd: GroupsCommand) -> Result<(), String> {
    let svc = open(config).await?;
    let store = svc.store();
    let err = |e: portcullis_identity::StoreError| e.to_string();
    match cmd {
        GroupsCommand::Add {
            name,
            description,
            precedence,
            role,
        } => store
            .create_group(&Group {
                name,
                description,
                precedence,
                role,
            })
            .await
            .map_err(err)?,
        GroupsCommand::List => {
            for g in store.list_groups().await.map_err(err)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    g.name,
                    g.precedence,
                    g.role.unwrap_or_default(),
                    g.description
                );
            }
        }
        GroupsCommand::Delete { name } => store.delete_group(&name).await.map_err(err)?,
    }
    Ok(())
}
