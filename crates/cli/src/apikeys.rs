//! `portcullis apikeys ...`: API keys in the user pool's database, and their usage plans.
//!
//! A key's value is printed once, when it is created or rotated, and never stored: the pool
//! keeps its SHA-256 digest. Plans are the config's `usage_plans`; attaching a key checks
//! that the plan exists and that the key is in no other plan of the same API stage (a key
//! has one plan per stage, as on API Gateway). Running gateways pick changes up within 5 s.
//! `usage` asks the running gateway's admin listener, which holds the counts.

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use portcullis_config::Config;
use portcullis_identity::api_keys::{self, ApiKey};
use portcullis_identity::store::NewApiKey;

/// `apikeys` subcommands.
#[derive(Subcommand)]
pub enum ApiKeysCommand {
    /// Create a key and print its value (once: it is stored only as a digest).
    Create {
        /// A unique name (up to 1024 characters).
        name: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// Attach it to this usage plan; repeatable.
        #[arg(long = "plan", value_name = "PLAN")]
        plans: Vec<String>,
        /// Read the value from the first line of standard input (20 to 128 letters and
        /// digits) instead of generating one: to bring keys over from API Gateway.
        #[arg(long)]
        value_stdin: bool,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List keys (never their values: the first four characters tell them apart).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one key.
    Show {
        /// Its id or name.
        key: String,
    },
    /// Enable a key.
    Enable {
        /// Its id or name.
        key: String,
    },
    /// Disable a key: it is refused 403 like an unknown one.
    Disable {
        /// Its id or name.
        key: String,
    },
    /// Give a key a new value and print it; the old value stops working.
    Rotate {
        /// Its id or name.
        key: String,
        /// Read the new value from standard input instead of generating one.
        #[arg(long)]
        value_stdin: bool,
    },
    /// Delete a key.
    Delete {
        /// Its id or name.
        key: String,
    },
    /// Attach a key to a usage plan.
    Attach {
        /// Its id or name.
        key: String,
        /// The plan's name (under `usage_plans:`).
        plan: String,
    },
    /// Detach a key from a usage plan.
    Detach {
        /// Its id or name.
        key: String,
        /// The plan's name.
        plan: String,
    },
    /// A plan's usage in the current period, per key (API Gateway's GetUsage), from the
    /// running gateway's admin listener.
    Usage {
        /// The plan's name.
        plan: String,
        /// Only this key (id or name).
        #[arg(long)]
        key: Option<String>,
        /// Print the admin API's JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an `apikeys` subcommand.
pub async fn run(config: Option<PathBuf>, cmd: ApiKeysCommand) -> ExitCode {
    let Some(config) = config else {
        eprintln!("error: --config FILE is required");
        return ExitCode::FAILURE;
    };
    match run_inner(&config, cmd).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_value() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the key: {e}"))?;
    let value = line.trim_end_matches(['\n', '\r']).to_owned();
    if !api_keys::valid_value(&value) {
        return Err(format!(
            "a key's value has {} to {} letters and digits",
            api_keys::MIN_LEN,
            api_keys::MAX_LEN
        ));
    }
    Ok(value)
}

/// Checks that `plan` is a usage plan of `cfg` and that `key` is in no other plan that
/// covers one of its API stages.
fn check_attach(cfg: &Config, key: &ApiKey, plan: &str) -> Result<(), String> {
    let Some(p) = cfg.usage_plans.iter().find(|p| p.name == plan) else {
        let names: Vec<&str> = cfg.usage_plans.iter().map(|p| p.name.as_str()).collect();
        return Err(if names.is_empty() {
            format!("no usage plan named `{plan}`: the config has no `usage_plans`")
        } else {
            format!(
                "no usage plan named `{plan}`; the plans: {}",
                names.join(", ")
            )
        });
    };
    for m in &key.plans {
        let Some(other) = cfg.usage_plans.iter().find(|o| o.name == m.plan) else {
            continue;
        };
        if let Some(s) = p.stages.iter().find(|s| {
            other
                .stages
                .iter()
                .any(|o| o.api == s.api && o.stage == s.stage)
        }) {
            return Err(format!(
                "key `{}` is in plan `{}`, which covers stage `{}` of API `{}` too: a key has one plan per API stage",
                key.name, other.name, s.stage, s.api
            ));
        }
    }
    Ok(())
}

fn describe(k: &ApiKey) -> String {
    let plans: Vec<&str> = k.plans.iter().map(|p| p.plan.as_str()).collect();
    format!(
        "{}  {:<24} {:<8} {}…  {}",
        k.id,
        k.name,
        if k.enabled { "enabled" } else { "disabled" },
        k.hint,
        if plans.is_empty() {
            "(no plan)".to_owned()
        } else {
            plans.join(",")
        }
    )
}

async fn run_inner(config: &Path, cmd: ApiKeysCommand) -> Result<(), String> {
    let cfg = portcullis_config::load_file(config)
        .map_err(|d| d.render().trim_start_matches("error: ").to_owned())?;
    if let ApiKeysCommand::Usage { plan, key, json } = cmd {
        return usage(&cfg, config, &plan, key.as_deref(), json).await;
    }
    let identity = cfg
        .identity
        .clone()
        .ok_or_else(|| format!("{} has no `identity` section", config.display()))?;
    // Read a value from standard input before opening the database.
    let given = match &cmd {
        ApiKeysCommand::Create { value_stdin, .. } | ApiKeysCommand::Rotate { value_stdin, .. }
            if *value_stdin =>
        {
            Some(read_value()?)
        }
        _ => None,
    };
    let svc = portcullis_gateway::identity_endpoints::open_service(&identity).await?;
    let store = svc.store();
    let err = |e: portcullis_identity::StoreError| e.to_string();
    let find = async |key: &str| -> Result<ApiKey, String> {
        store
            .api_key(key)
            .await
            .map_err(err)?
            .ok_or_else(|| format!("no API key `{key}`"))
    };
    match cmd {
        ApiKeysCommand::Create {
            name,
            description,
            plans,
            disabled,
            ..
        } => {
            if name.is_empty() || name.chars().count() > api_keys::MAX_NAME_LEN {
                return Err(format!(
                    "a key's name has 1 to {} characters",
                    api_keys::MAX_NAME_LEN
                ));
            }
            for (i, p) in plans.iter().enumerate() {
                if plans.get(..i).is_some_and(|before| before.contains(p)) {
                    return Err(format!("plan `{p}` is given twice"));
                }
            }
            let value = given.unwrap_or_else(api_keys::generate_value);
            // Check the plans before anything is written.
            let mut probe = ApiKey {
                id: String::new(),
                name: name.clone(),
                hint: String::new(),
                enabled: true,
                description: String::new(),
                plans: Vec::new(),
                created_at: 0,
                updated_at: 0,
            };
            for p in &plans {
                check_attach(&cfg, &probe, p)?;
                probe.plans.push(api_keys::PlanMembership {
                    plan: p.clone(),
                    attached_at: 0,
                });
            }
            let plan_names: Vec<&str> = plans.iter().map(String::as_str).collect();
            let key = store
                .create_api_key(&NewApiKey {
                    name: &name,
                    description: &description,
                    value: &value,
                    enabled: !disabled,
                    plans: &plan_names,
                })
                .await
                .map_err(err)?;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "id:    {}", key.id);
            let _ = writeln!(out, "name:  {}", key.name);
            let _ = writeln!(out, "value: {value}");
            let _ = writeln!(
                out,
                "(the value is shown once; clients send it as `x-api-key: {}…`)",
                key.hint
            );
        }
        ApiKeysCommand::List { json } => {
            let keys = store.list_api_keys().await.map_err(err)?;
            if json {
                let list: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "id": k.id, "name": k.name, "enabled": k.enabled, "hint": k.hint,
                            "description": k.description,
                            "plans": k.plans.iter().map(|p| &p.plan).collect::<Vec<_>>(),
                            "createdAt": k.created_at, "updatedAt": k.updated_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for k in &keys {
                    println!("{}", describe(k));
                }
            }
        }
        ApiKeysCommand::Show { key } => {
            let k = find(&key).await?;
            println!("{}", describe(&k));
            if !k.description.is_empty() {
                println!("  {}", k.description);
            }
        }
        ApiKeysCommand::Enable { key } => {
            store.set_api_key_enabled(&key, true).await.map_err(err)?;
        }
        ApiKeysCommand::Disable { key } => {
            store.set_api_key_enabled(&key, false).await.map_err(err)?;
        }
        ApiKeysCommand::Rotate { key, .. } => {
            let value = given.unwrap_or_else(api_keys::generate_value);
            store.rotate_api_key(&key, &value).await.map_err(err)?;
            println!("value: {value}");
            println!("(the old value stops working within 5 s on every gateway)");
        }
        ApiKeysCommand::Delete { key } => store.delete_api_key(&key).await.map_err(err)?,
        ApiKeysCommand::Attach { key, plan } => {
            let k = find(&key).await?;
            check_attach(&cfg, &k, &plan)?;
            store.attach_api_key(&k.id, &plan).await.map_err(err)?;
        }
        ApiKeysCommand::Detach { key, plan } => {
            store.detach_api_key(&key, &plan).await.map_err(err)?;
        }
        ApiKeysCommand::Usage { .. } => {}
    }
    Ok(())
}

/// Asks the running gateway's admin listener for a plan's usage.
async fn usage(
    cfg: &Config,
    config: &Path,
    plan: &str,
    key: Option<&str>,
    as_json: bool,
) -> Result<(), String> {
    if !cfg.usage_plans.iter().any(|p| p.name == plan) {
        let names: Vec<&str> = cfg.usage_plans.iter().map(|p| p.name.as_str()).collect();
        return Err(format!(
            "no usage plan named `{plan}`; the plans: {}",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ));
    }
    let admin = cfg.admin.as_ref().ok_or_else(|| {
        format!(
            "{} has no `admin` listener, which `usage` asks",
            config.display()
        )
    })?;
    // A key given by name is looked up in the pool first.
    let key_id = match key {
        None => None,
        Some(k) => {
            let identity = cfg
                .identity
                .as_ref()
                .ok_or_else(|| format!("{} has no `identity` section", config.display()))?;
            let svc = portcullis_gateway::identity_endpoints::open_service(identity).await?;
            let found = svc
                .store()
                .api_key(k)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no API key `{k}`"))?;
            Some(found.id)
        }
    };
    let mut target = format!("/usage-plans/{plan}/usage");
    if let Some(id) = &key_id {
        target.push_str("?keyId=");
        target.push_str(id);
    }
    let mut addr = admin.address;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let token = admin.token.as_ref().map(|t| t.0.clone());
    let (status, body) = tokio::task::spawn_blocking(move || get(addr, &target, token.as_deref()))
        .await
        .map_err(|e| e.to_string())??;
    let v: serde_json::Value = serde_json::from_str(&body)
        .map_err(|_| format!("the admin listener answered {status}: {}", body.trim()))?;
    if status != 200 {
        return Err(v
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("the admin listener refused")
            .to_owned());
    }
    if as_json {
        println!("{v}");
        return Ok(());
    }
    let s = |k: &str| {
        v.get(k)
            .map_or(String::new(), |x| x.to_string().replace('"', ""))
    };
    println!(
        "plan {}: {} {} to {}{}",
        plan,
        s("period"),
        s("startDate"),
        s("endDate"),
        match v.get("limit").and_then(serde_json::Value::as_u64) {
            Some(l) => format!(", limit {l} per key"),
            None => ", no quota".to_owned(),
        }
    );
    for k in v
        .get("keys")
        .and_then(|k| k.as_array())
        .into_iter()
        .flatten()
    {
        let get = |f: &str| {
            k.get(f)
                .map_or(String::new(), |x| x.to_string().replace('"', ""))
        };
        println!(
            "  {}  {:<24} used {:>8}  remaining {}",
            get("id"),
            get("name"),
            get("used"),
            get("remaining")
        );
    }
    Ok(())
}

/// One `GET` to the admin listener (HTTP/1.1, one request per connection): its status and
/// body, in at most 5 seconds.
fn get(
    addr: std::net::SocketAddr,
    target: &str,
    token: Option<&str>,
) -> Result<(u16, String), String> {
    let timeout = std::time::Duration::from_secs(5);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("the gateway's admin listener at {addr} does not answer: {e}"))?;
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.take(4 * 1024 * 1024)
        .read_to_end(&mut raw)
        .map_err(|e| format!("reading the admin listener's answer: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("the admin listener's answer has no head")?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("the admin listener's answer has no status")?;
    Ok((status, body.to_owned()))
}
