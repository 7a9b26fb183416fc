//! `portcullis`: the gateway binary.
//!
//! `serve` runs a gateway from a YAML config; `check` validates configs without binding
//! anything, reporting every problem with file, line, column and a hint.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod apikeys;
use tracing_subscriber::EnvFilter;

/// mimalloc: the proxy path allocates and frees many small buffers per request; measured
/// faster than the system allocator on the load benchmark (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = "\
Examples:
  portcullis serve --config examples/quickstart.yaml
  portcullis users add alice --config examples/quickstart.yaml
  echo 'correct horse battery' | portcullis users add bob --password-stdin --config gateway.yaml
  RUST_LOG=debug portcullis serve --config gateway.yaml
  portcullis check examples/*.yaml
  kill -HUP $(pidof portcullis)    # reload the config without dropping requests";

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "A self-hosted API gateway with Amazon API Gateway's security model",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    #[command(
        after_help = "The config is reloaded on SIGHUP and when the file changes; an invalid\nnew config is reported and the running one keeps serving. SIGTERM or SIGINT\ndrains in-flight requests for `listener.shutdown_grace`, then exits.\n\nLog verbosity follows RUST_LOG (default: info), e.g. RUST_LOG=portcullis_gateway=debug."
    )]
    Serve {
        /// The YAML config file.
        #[arg(
            short,
            long,
            value_name = "FILE",
            required_unless_present = "openapi",
            conflicts_with = "openapi"
        )]
        config: Option<PathBuf>,
        /// Serve one OpenAPI 3.0 / Swagger 2.0 document with API Gateway's extensions and no
        /// other config: listener 127.0.0.1:8080, admin 127.0.0.1:9090 (mock and HTTP
        /// integrations; functions and the user pool need a config file).
        #[arg(long, value_name = "FILE")]
        openapi: Option<PathBuf>,
        /// Do not reload when the config file changes (SIGHUP still reloads).
        #[arg(long)]
        no_watch: bool,
    },
    /// Manage users of the built-in user pool.
    Users {
        /// The YAML config file (its `identity` section names the database).
        #[arg(short, long, value_name = "FILE", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: admin::UsersCommand,
    },
    /// Manage groups of the built-in user pool.
    Groups {
        /// The YAML config file (its `identity` section names the database).
        #[arg(short, long, value_name = "FILE", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: admin::GroupsCommand,
    },
    /// Issue tokens without a password, for testing.
    Token {
        /// The YAML config file (its `identity` section names the database).
        #[arg(short, long, value_name = "FILE", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: admin::TokenCommand,
    },
    /// Manage app clients of the built-in user pool.
    Clients {
        /// The YAML config file (its `identity` section names the database).
        #[arg(short, long, value_name = "FILE", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: admin::ClientsCommand,
    },
    /// Manage API keys (kept in the user pool's database) and their usage plans.
    #[command(
        after_help = "Examples:\n  portcullis apikeys create partner-a --plan basic --config gateway.yaml\n  portcullis apikeys disable partner-a --config gateway.yaml\n  portcullis apikeys usage basic --config gateway.yaml\n\nRunning gateways see a change within 5 seconds."
    )]
    Apikeys {
        /// The YAML config file (its `identity` section names the database, its
        /// `usage_plans` the plans).
        #[arg(short, long, value_name = "FILE", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: apikeys::ApiKeysCommand,
    },
    /// Manage the user pool's signing keys.
    Keys {
        /// The YAML config file (its `identity` section names the database).
        #[arg(short, long, value_name = "FILE", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: admin::KeysCommand,
    },
    /// Explain how a config decides a request: route, authentication, every policy
    /// statement considered, and the decision.
    #[command(
        after_help = "Example:\n  portcullis explain --config examples/quickstart.yaml --token \"$TOKEN\" POST /pets\n\nThe user pool's database is opened as by `serve` (read-only use), so tokens are checked\nagainst the same keys and revocations. Exit status: 0 when the request would be allowed,\n1 when it would be refused, 2 on usage errors."
    )]
    Explain {
        /// The YAML config file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The token the request carries: `Authorization: Bearer TOKEN` for a JWT authorizer,
        /// `Authorization: TOKEN` for a Lambda authorizer (whose function is run to decide).
        #[arg(long)]
        token: Option<String>,
        /// The client's address.
        #[arg(long, value_name = "IP")]
        source_ip: Option<std::net::IpAddr>,
        /// A request header, repeatable: `--header 'User-Agent: curl'`.
        #[arg(long = "header", value_name = "K:V")]
        headers: Vec<String>,
        /// The request body (methods with a request validator check it against their model).
        #[arg(long, value_name = "BODY")]
        data: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The method, e.g. GET.
        method: String,
        /// The path, e.g. /pets/7.
        path: String,
    },
    /// Web ACL tools.
    Waf {
        #[command(subcommand)]
        command: WafCommand,
    },
    /// Convert documents into Portcullis config.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Validate config files: parse, validate and compile, binding nothing.
    #[command(after_help = "Exit status: 0 when every file is valid, 1 otherwise.")]
    Check {
        /// The YAML config files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum WafCommand {
    /// Judge one raw HTTP/1.1 request, read from stdin, with the web ACL the config runs
    /// for it: the verdict, every rule that matched (where, and why), the labels.
    #[command(
        after_help = "Example:\n  printf 'GET /health?q=%%27%%20OR%%201%%3D1-- HTTP/1.1\\r\\nHost: localhost\\r\\nUser-Agent: curl\\r\\n\\r\\n' |\n    portcullis waf test --config examples/quickstart.yaml\n\nExit status: 0 when the request would pass, 1 when it would be blocked (or challenged),\n2 on usage errors."
    )]
    Test {
        /// The YAML config file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// The client's address (IP sets, rate-based rules).
        #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
        source_ip: std::net::IpAddr,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Print the config that serves an OpenAPI 3.0 / Swagger 2.0 document with API Gateway's
    /// extensions (`x-amazon-apigateway-*`), the API written out in full.
    #[command(
        after_help = "Example:\n  portcullis import openapi petstore.json > gateway.yaml\n\nEvery extension or option that cannot be served is reported with its line and JSON\npath, and nothing is printed. Exit status: 0 on success, 1 otherwise."
    )]
    Openapi {
        /// The OpenAPI document (JSON or YAML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { files } => check(&files),
        Command::Waf {
            command: WafCommand::Test { config, source_ip },
        } => waf_test(&config, source_ip),
        Command::Import {
            command: ImportCommand::Openapi { file },
        } => match portcullis_config::openapi::config_for(&file, true) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(diags) => {
                eprint!("{}", diags.render());
                ExitCode::FAILURE
            }
        },
        Command::Users { config, command } => with_runtime(|| admin::users(config, command)),
        Command::Groups { config, command } => with_runtime(|| admin::groups(config, command)),
        Command::Keys { config, command } => with_runtime(|| admin::keys(config, command)),
        Command::Apikeys { config, command } => with_runtime(|| apikeys::run(config, command)),
        Command::Clients { config, command } => with_runtime(|| admin::clients(config, command)),
        Command::Token { config, command } => with_runtime(|| admin::token(config, command)),
        Command::Explain {
            config,
            token,
            source_ip,
            headers,
            data,
            json,
            method,
            path,
        } => with_runtime(|| {
            admin::explain(
                config,
                json,
                admin::ExplainArgs {
                    token,
                    source_ip,
                    headers,
                    data,
                    method,
                    path,
                },
            )
        }),
        Command::Serve {
            config,
            openapi,
            no_watch,
        } => {
            init_logging();
            // On one CPU a work-stealing pool only adds hand-offs between threads: use the
            // current-thread scheduler there (also when the process is pinned with taskset).
            let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
            let mut builder = if cpus == 1 {
                tokio::runtime::Builder::new_current_thread()
            } else {
                tokio::runtime::Builder::new_multi_thread()
            };
            let runtime = match builder.enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let source = match (config, openapi) {
                (Some(c), _) => Source::Config(c),
                (None, Some(o)) => Source::OpenApi(o),
                (None, None) => return ExitCode::FAILURE,
            };
            runtime.block_on(serve(source, !no_watch))
        }
    }
}

/// Runs an administrative command on a small runtime (no logging set-up: output is the
/// command's own).
fn with_runtime<F: std::future::Future<Output = ExitCode>>(f: impl FnOnce() -> F) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f()),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    portcullis_gateway::install_crypto_provider();
    let clients = portcullis_gateway::integration::clients::UpstreamClients::default();
    let mut failed = 0usize;
    for file in files {
        let result = portcullis_config::load_file(file).and_then(|config| {
            let warnings = config.warnings.clone();
            portcullis_gateway::Plan::compile(
                config,
                1,
                &clients,
                &portcullis_gateway::carry::Carry::default(),
                portcullis_gateway::PoolHandle::CheckOnly,
            )
            .map(|_| warnings)
        });
        match result {
            Ok(warnings) => {
                if !warnings.is_empty() {
                    let source = std::fs::read_to_string(file).unwrap_or_default();
                    for w in &warnings {
                        eprintln!("{}", w.render_warning(&source));
                    }
                }
                println!("ok: {}", file.display());
            }
            Err(diags) => {
                failed += 1;
                eprint!("{}", diags.render());
                eprintln!("invalid: {}\n", file.display());
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn waf_test(config: &std::path::Path, source_ip: std::net::IpAddr) -> ExitCode {
    use std::io::Read as _;
    portcullis_gateway::install_crypto_provider();
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin()
        .take(16 * 1024 * 1024)
        .read_to_end(&mut raw)
    {
        eprintln!("error: cannot read the request from stdin: {e}");
        return ExitCode::from(2);
    }
    // Requests typed by hand end lines with `\n`; the wire uses `\r\n`.
    if !raw.windows(2).any(|w| w == b"\r\n") {
        let mut fixed = Vec::with_capacity(raw.len() + 64);
        for &b in &raw {
            if b == b'\n' {
                fixed.push(b'\r');
            }
            fixed.push(b);
        }
        raw = fixed;
    }
    let clients = portcullis_gateway::integration::clients::UpstreamClients::default();
    let plan = match portcullis_config::load_file(config).and_then(|c| {
        portcullis_gateway::Plan::compile(
            c,
            1,
            &clients,
            &portcullis_gateway::carry::Carry::default(),
            portcullis_gateway::PoolHandle::CheckOnly,
        )
    }) {
        Ok(p) => p,
        Err(d) => {
            eprint!("{}", d.render());
            return ExitCode::from(2);
        }
    };
    match portcullis_gateway::firewall::test_raw(&plan, &raw, source_ip) {
        Ok((passed, report)) => {
            print!("{report}");
            if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// What `serve` runs.
enum Source {
    /// A config file (reloaded on SIGHUP and when it changes).
    Config(PathBuf),
    /// One OpenAPI document (`--openapi`), in the config `import openapi` would print
    /// (with the document referred to); restart to pick up changes.
    OpenApi(PathBuf),
}

async fn serve(source: Source, watch: bool) -> ExitCode {
    let loaded = match &source {
        Source::Config(path) => portcullis_config::load_file(path),
        Source::OpenApi(file) => {
            portcullis_config::openapi::config_for(file, false).and_then(|text| {
                let env = |name: &str| std::env::var(name).ok();
                portcullis_config::load_str(
                    &format!("(config for {})", file.display()),
                    &text,
                    std::path::Path::new("."),
                    &env,
                )
            })
        }
    };
    let config = match loaded {
        Ok(c) => c,
        Err(diags) => {
            eprint!("{}", diags.render());
            return ExitCode::FAILURE;
        }
    };
    let path = match source {
        Source::Config(path) => Some(path),
        Source::OpenApi(_) => None,
    };
    let watch = watch && path.is_some();
    let signals = match portcullis_gateway::Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let gateway = match portcullis_gateway::Gateway::start(config, path).await {
        Ok(g) => g,
        Err(portcullis_gateway::StartError::Config(diags)) => {
            eprint!("{}", diags.render());
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if watch && let Err(e) = gateway.watch_config() {
        tracing::warn!(error = %e, "config file not watched; SIGHUP still reloads");
    }
    match gateway.run_until_signal(signals).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
