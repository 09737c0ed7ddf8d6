//! `switchboard`: the headless shell over the gateway core.

// A command-line tool talks to people through stdout.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use switchboard_gateway::config::{self, LoadError};
use switchboard_gateway::{Gateway, GatewayOptions};

mod ask;
mod login;
mod service;

/// mimalloc rather than the system allocator: proxying a request makes hundreds of small,
/// short-lived allocations, and glibc's malloc spent about a fifth of the instructions on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "One OpenAI-compatible URL in front of every model you use"
)]
struct Cli {
    /// Config file (default: the platform config dir, e.g. ~/.config/switchboard/config.toml).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway in the foreground until SIGINT or SIGTERM.
    Serve {
        /// Listen here instead of the config's `listen` (e.g. 127.0.0.1:0 for any free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Request-log database instead of the config's or the platform default.
        #[arg(long)]
        database: Option<PathBuf>,
    },
    /// Validate the config file; print every error as file:line:col: message.
    Check,
    /// Log in to an upstream that needs an interactive login (GitHub Copilot's device flow).
    Login {
        #[command(subcommand)]
        service: LoginService,
    },
    /// Ask a running Switchboard how it is: config revision, last rejected reload, request log.
    Status {
        /// Base URL of the running gateway (default: from the config's `listen`).
        #[arg(long)]
        url: Option<String>,
    },
    /// Provider keys in the OS keychain: set (prompted, never from argv), list, rm.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Client tokens: create (shown once; only the hash goes into the config), list, remove.
    Tokens {
        #[command(subcommand)]
        action: TokensAction,
    },
    /// Convert another gateway's config into Switchboard's.
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Price data: `prices import FILE` turns LiteLLM's model_prices_and_context_window.json into
    /// a price file for `[spend] prices_file`.
    Prices {
        #[command(subcommand)]
        action: PricesAction,
    },
    /// Show every budget of a running gateway: spent, remaining, when it resets (admin API).
    Budgets {
        #[arg(long)]
        url: Option<String>,
        /// File holding the admin token (default: $SWITCHBOARD_ADMIN_TOKEN).
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
    },
    /// Open the web dashboard of a running gateway in your browser, logged in with a one-time
    /// link (made with the admin secret; the link works once, for two minutes).
    Dashboard {
        #[arg(long)]
        url: Option<String>,
        /// Print the login link instead of opening a browser.
        #[arg(long)]
        print_url: bool,
        /// The database the gateway was started with (`serve --database`); its folder holds
        /// the admin secret.
        #[arg(long)]
        database: Option<PathBuf>,
        /// File holding the admin token (default: $SWITCHBOARD_ADMIN_TOKEN, then the admin
        /// secret).
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
    },
    /// Ask a model a question from the terminal (any OpenAI-compatible server); streams the answer.
    Ask(ask::AskArgs),
    /// Run the gateway as a systemd (Linux) or launchd (macOS) service: install, uninstall, status.
    Service(service::ServiceArgs),
    /// Show every target's routing state (breaker, last error, retry time) of a running gateway.
    Targets {
        #[arg(long)]
        url: Option<String>,
        #[command(subcommand)]
        action: Option<TargetsAction>,
    },
}

#[derive(Subcommand)]
enum LoginService {
    /// GitHub's device flow for the config's `github_copilot` provider; stores the GitHub token
    /// where its `api_key` points (default `keychain:github_copilot`).
    Copilot {
        /// The provider to log in, when the config has several `github_copilot` providers.
        #[arg(long)]
        provider: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Store a key under NAME (reference it as `keychain:NAME`). The value is read from a
    /// no-echo prompt, or from stdin when stdin is not a terminal.
    Set { name: String },
    /// Every key the config references, where it lives and whether it can be read.
    List,
    /// Remove NAME from the keychain.
    Rm { name: String },
}

#[derive(Subcommand)]
enum TokensAction {
    /// Make a new client token and add `[tokens.NAME]` (with its hash) to the config.
    Create {
        name: String,
        /// Tenant label for logs, limits and budgets.
        #[arg(long)]
        tenant: Option<String>,
        /// Aliases the token may call (repeat); all when absent.
        #[arg(long = "alias")]
        aliases: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Budget (a `[budgets.NAME]` table) this token's spend counts against.
        #[arg(long)]
        budget: Option<String>,
        /// Requests per minute this token may make.
        #[arg(long)]
        rpm: Option<u32>,
    },
    /// List client tokens (names, tenants, aliases; never tokens).
    List,
    /// Remove a client token from the config: it stops working at the next reload.
    Rm { name: String },
}

#[derive(Subcommand)]
enum ImportSource {
    /// Convert a LiteLLM proxy `config.yaml` (and/or the models of a running LiteLLM) into
    /// Switchboard TOML, with a report of anything that could not be translated.
    Litellm {
        /// The LiteLLM config.yaml (optional with --from-url).
        path: Option<PathBuf>,
        /// A running LiteLLM (e.g. http://litellm:4000): its /model/info models are merged in.
        #[arg(long, value_name = "URL", requires = "master_key")]
        from_url: Option<String>,
        /// Where LiteLLM's master key is, for --from-url: env:VAR, file:PATH or keychain:NAME
        /// (never the key itself). It also becomes a client token, so clients keep it.
        #[arg(long, value_name = "REF")]
        master_key: Option<String>,
        /// A LiteLLM virtual-key export (JSON or YAML list of LiteLLM_VerificationToken rows,
        /// or a /key/list answer): each key becomes a client token.
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
        /// Write the TOML here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Overwrite `--output` if it exists.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum PricesAction {
    /// Read LiteLLM's model_prices_and_context_window.json into a local price file (USD per
    /// million tokens, cache reads and writes, context windows) for `[spend] prices_file`.
    Import {
        /// LiteLLM's model_prices_and_context_window.json.
        path: PathBuf,
        /// Where to write it (default: prices.litellm.toml next to the config file).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Overwrite `--output` if it exists.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum TargetsAction {
    /// Close the breaker and clear `misconfigured` of one target (provider/model), or of all.
    Reset {
        target: Option<String>,
        /// File holding the admin token (default: $SWITCHBOARD_ADMIN_TOKEN).
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let path = config::config_path(cli.config.as_deref());
    match cli.command {
        Command::Check => check(&path),
        Command::Ask(args) => ask::run(args, &path),
        Command::Service(args) => service::run(args, &path),
        Command::Login {
            service: LoginService::Copilot { provider },
        } => login::copilot(&path, provider),
        Command::Status { url } => status(&gateway_url(url, &path)),
        Command::Tokens { action } => tokens(&path, action),
        Command::Keys { action } => keys(&path, action),
        Command::Import {
            source:
                ImportSource::Litellm {
                    path,
                    from_url,
                    master_key,
                    keys,
                    output,
                    force,
                },
        } => import_litellm(
            LitellmSources {
                path,
                from_url,
                master_key,
                keys,
            },
            output.as_deref(),
            force,
        ),
        Command::Prices {
            action:
                PricesAction::Import {
                    path: file,
                    output,
                    force,
                },
        } => {
            let output = output.unwrap_or_else(|| {
                path.parent()
                    .unwrap_or(std::path::Path::new("."))
                    .join("prices.litellm.toml")
            });
            import_prices(&file, &output, force)
        }
        Command::Budgets {
            url,
            admin_token_file,
        } => show_budgets(
            &gateway_url(url, &path),
            &Credential::only_file(admin_token_file.as_deref(), &path),
        ),
        Command::Dashboard {
            url,
            print_url,
            database,
            admin_token_file,
        } => {
            let credential = Credential {
                token_file: admin_token_file,
                config: path.clone(),
                database,
            };
            dashboard(&gateway_url(url, &path), &credential, print_url)
        }
        Command::Targets { url, action } => {
            let url = gateway_url(url, &path);
            match action {
                None => show_targets(&url),
                Some(TargetsAction::Reset {
                    target,
                    admin_token_file,
                }) => reset_targets(
                    &url,
                    target.as_deref(),
                    &Credential::only_file(admin_token_file.as_deref(), &path),
                ),
            }
        }
        Command::Serve { listen, database } => {
            // With one CPU to run on (a small VM, or pinned with `taskset`), a single-threaded
            // runtime does the same work without the work-stealing scheduler's cross-thread
            // bookkeeping. SQLite and the keychain still get their own threads.
            let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
            let runtime = if one_cpu {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Runtime::new()
            };
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(serve(path, listen, database))
        }
    }
}

fn keys(path: &std::path::Path, action: KeysAction) -> ExitCode {
    use switchboard_gateway::keychain;
    use switchboard_gateway::secret::Secret;
    let result = match action {
        KeysAction::Set { name } => {
            use std::io::{IsTerminal, Read};
            let value = if std::io::stdin().is_terminal() {
                rpassword::prompt_password(format!("Value for `{name}` (not shown): "))
                    .map_err(|e| e.to_string())
            } else {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map(|_| text)
                    .map_err(|e| e.to_string())
            };
            match value {
                Ok(value) => keychain::set(&name, &Secret::new(value.trim().to_owned()))
                    .map(|()| eprintln!("stored `{name}` in the keychain; reference it as api_key = \"keychain:{name}\""))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(format!("cannot read the value: {e}")),
            }
        }
        KeysAction::Rm { name } => keychain::delete(&name)
            .map(|()| eprintln!("removed `{name}` from the keychain"))
            .map_err(|e| e.to_string()),
        KeysAction::List => match config::load_file(path) {
            Ok(config) => {
                let keys = switchboard_gateway::admin::list_keys(&config);
                if keys.is_empty() {
                    println!("the config references no keys");
                }
                for key in keys {
                    let state = key
                        .problem
                        .as_deref()
                        .map_or("ok".to_owned(), |p| format!("PROBLEM: {p}"));
                    println!(
                        "{:<28} {:<9} used by {}  [{state}]",
                        key.name,
                        key.location,
                        key.used_by.join(", ")
                    );
                }
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn tokens(path: &std::path::Path, action: TokensAction) -> ExitCode {
    use switchboard_gateway::admin::{apply_config_change, new_client_token, ConfigChange};
    use switchboard_gateway::config::file::revision_of;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let revision = revision_of(&text);
    let result = match action {
        TokensAction::List => {
            return match config::load_file(path) {
                Ok(config) if config.tokens.is_empty() => {
                    println!("no client tokens: model calls on loopback need none");
                    ExitCode::SUCCESS
                }
                Ok(config) => {
                    for token in config.tokens.values() {
                        let aliases = token
                            .aliases
                            .as_ref()
                            .map_or("all aliases".to_owned(), |a| a.join(", "));
                        let tenant = token.tenant.as_deref().unwrap_or("-");
                        let budget = token.budget.as_deref().unwrap_or("-");
                        println!(
                            "{:<24} tenant {:<16} budget {:<16} {aliases}",
                            token.name, tenant, budget
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            };
        }
        TokensAction::Create {
            name,
            tenant,
            aliases,
            description,
            budget,
            rpm,
        } => {
            let aliases = (!aliases.is_empty()).then_some(aliases);
            let mut new = new_client_token(
                tenant.as_deref(),
                aliases.as_deref(),
                description.as_deref(),
            );
            if let Some(budget) = budget {
                new.entry["budget"] = serde_json::json!(budget);
            }
            if let Some(rpm) = rpm {
                new.entry["limits"] = serde_json::json!({ "rpm": rpm });
            }
            apply_config_change(path, "tokens", &name, ConfigChange::Create(new.entry), &revision).map(|_| {
                println!("{}", new.token.expose());
                eprintln!(
                    "created client token `{name}` (only its hash is in {}). Copy it now: it is not shown again.",
                    path.display()
                );
            })
        }
        TokensAction::Rm { name } => {
            apply_config_change(path, "tokens", &name, ConfigChange::Delete, &revision)
                .map(|_| eprintln!("removed client token `{name}`"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

struct LitellmSources {
    path: Option<PathBuf>,
    from_url: Option<String>,
    master_key: Option<String>,
    keys: Option<PathBuf>,
}

fn import_litellm(
    sources: LitellmSources,
    output: Option<&std::path::Path>,
    force: bool,
) -> ExitCode {
    use switchboard_import_litellm::{
        import_litellm_sources, ImportOptions, KeysExport, MasterKey, RemoteModels,
    };
    let fail = |message: String| {
        eprintln!("error: {message}");
        ExitCode::FAILURE
    };
    if sources.path.is_none() && sources.from_url.is_none() {
        return fail(
            "name a LiteLLM config.yaml, or a running LiteLLM with --from-url URL --master-key REF"
                .into(),
        );
    }
    let yaml = match &sources.path {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(yaml) => Some(yaml),
            Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
        },
        None => None,
    };
    let mut options = ImportOptions {
        source: sources.path.as_ref().map(|p| p.display().to_string()),
        ..ImportOptions::default()
    };
    if let Some(url) = &sources.from_url {
        let Some(reference) = sources.master_key.as_deref() else {
            return fail("--from-url needs --master-key REF".into());
        };
        // LiteLLM's own spelling of a variable reference is accepted too.
        let reference = match reference.strip_prefix("os.environ/") {
            Some(var) => format!("env:{var}"),
            None => reference.to_owned(),
        };
        let key = match switchboard_gateway::secret::SecretRef::parse(&reference) {
            Ok(r) => match r.resolve() {
                Ok(key) => key,
                Err(e) => return fail(format!("--master-key {reference}: {e}")),
            },
            Err(e) => {
                return fail(format!(
                    "--master-key: {}",
                    e.replace("api_key", "the master key")
                ))
            }
        };
        let body = match fetch_model_info(url, key.expose()) {
            Ok(body) => body,
            Err(e) => return fail(e),
        };
        if options.source.is_none() {
            options.source = Some(url.clone());
        }
        options.remote = Some(RemoteModels {
            url: url.clone(),
            body,
        });
        options.master_key = Some(MasterKey {
            reference,
            value: key,
        });
    }
    if let Some(path) = &sources.keys {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                options.keys = Some(KeysExport {
                    source: path.display().to_string(),
                    text,
                })
            }
            Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
        }
    }
    let shown = options.source.clone().unwrap_or_default();
    let outcome = match import_litellm_sources(yaml.as_deref(), &options) {
        Ok(outcome) => outcome,
        Err(e) => return fail(format!("{shown}: {e}")),
    };
    match output {
        Some(out) => {
            if out.exists() && !force {
                eprintln!(
                    "error: {} exists; pass --force to overwrite it",
                    out.display()
                );
                return ExitCode::FAILURE;
            }
            if let Err(e) = std::fs::write(out, &outcome.toml) {
                eprintln!("error: cannot write {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
            eprintln!("wrote {}", out.display());
        }
        None => {
            print!("{}", outcome.toml);
            if !outcome.toml.ends_with('\n') {
                println!();
            }
        }
    }
    if outcome.report.is_empty() {
        eprintln!("everything was translated");
    } else {
        eprintln!(
            "{} item(s) were not translated as-is; review them:",
            outcome.report.len()
        );
        for note in &outcome.report {
            eprintln!("  - {note}");
        }
    }
    ExitCode::SUCCESS
}

/// GET URL/model/info with LiteLLM's master key: the models LiteLLM serves, those added through
/// its API (kept in its database) included. The key goes only to that URL, as a bearer token.
fn fetch_model_info(url: &str, key: &str) -> Result<String, String> {
    let base = url.trim_end_matches('/');
    let endpoint = if base.ends_with("/model/info") {
        base.to_owned()
    } else {
        format!("{base}/model/info")
    };
    let result = blocking(async {
        let response = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?
            .get(&endpoint)
            .bearer_auth(key)
            .send()
            .await?;
        let status = response.status();
        Ok::<_, reqwest::Error>((status, response.text().await?))
    });
    match result {
        Ok((status, body)) if status.is_success() => Ok(body),
        Ok((status, _)) if status.as_u16() == 401 || status.as_u16() == 403 => Err(format!(
            "{endpoint} refused the master key ({status}); --master-key must name LiteLLM's master key (or an admin key)"
        )),
        Ok((status, _)) => Err(format!("{endpoint} answered {status}")),
        Err(e) => Err(format!("cannot reach {endpoint}: {e}")),
    }
}

/// `--url` or the address in the config's `listen`.
fn gateway_url(url: Option<String>, config_path: &std::path::Path) -> String {
    url.unwrap_or_else(|| {
        let listen = config::load_file(config_path)
            .map(|c| c.listen)
            .unwrap_or_else(|_| switchboard_gateway::Config::embedded_default().listen);
        format!("http://{listen}")
    })
}

fn show_targets(url: &str) -> ExitCode {
    let base = url.trim_end_matches('/').trim_end_matches("/v1");
    let body = match blocking(async {
        let response = reqwest::Client::new()
            .get(format!("{base}/health"))
            .send()
            .await?;
        response.json::<serde_json::Value>().await
    }) {
        Ok(body) => body,
        Err(e) => {
            eprintln!("Switchboard is not answering at {base}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(targets) = body["targets"].as_array() else {
        eprintln!("unexpected answer from {base}/health: {body}");
        return ExitCode::FAILURE;
    };
    for t in targets {
        let mut line = format!(
            "{:<40} {:<14}",
            t["target"].as_str().unwrap_or("?"),
            t["state"].as_str().unwrap_or("?")
        );
        if let Some(why) = t["opened_for"].as_str() {
            line.push_str(&format!(" for {why}"));
        }
        if let Some(ms) = t["retry_in_ms"].as_u64() {
            line.push_str(&format!(" retry in {:.1}s", ms as f64 / 1000.0));
        }
        if let Some(ms) = t["latency_avg_ms"].as_f64() {
            line.push_str(&format!(" avg {ms:.0} ms"));
        }
        if let Some(e) = t["misconfigured"].as_str().or(t["last_error"].as_str()) {
            line.push_str(&format!("  ({e})"));
        }
        println!("{line}");
    }
    ExitCode::SUCCESS
}

/// Where the admin credential comes from: `--admin-token-file`, `$SWITCHBOARD_ADMIN_TOKEN`, or
/// the per-install admin secret beside the database.
struct Credential {
    token_file: Option<PathBuf>,
    config: PathBuf,
    database: Option<PathBuf>,
}

impl Credential {
    fn only_file(token_file: Option<&std::path::Path>, config: &std::path::Path) -> Credential {
        Credential {
            token_file: token_file.map(std::path::Path::to_owned),
            config: config.to_owned(),
            database: None,
        }
    }
}

fn admin_token(credential: &Credential) -> Result<String, String> {
    if let Some(path) = &credential.token_file {
        return std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .map_err(|e| format!("cannot read {}: {e}", path.display()));
    }
    if let Ok(token) = std::env::var("SWITCHBOARD_ADMIN_TOKEN") {
        return Ok(token);
    }
    let database = credential.database.clone().unwrap_or_else(|| {
        config::load_file(&credential.config)
            .ok()
            .and_then(|c| c.database_path)
            .unwrap_or_else(config::default_database_path)
    });
    let secret = switchboard_gateway::session::read_secret(
        &switchboard_gateway::session::secret_path(&database),
    )
    .map_err(|e| format!("{e}; or pass --admin-token-file / set SWITCHBOARD_ADMIN_TOKEN"))?;
    Ok(secret.expose().clone())
}

/// Calls the admin API of the gateway at `url` (GET without a body, POST with one) and returns
/// the JSON answer, or prints why it failed.
fn admin_call(
    url: &str,
    path: &str,
    credential: &Credential,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, ExitCode> {
    let token = admin_token(credential).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })?;
    let base = url.trim_end_matches('/').trim_end_matches("/v1");
    let result = blocking(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        let request = match &body {
            Some(body) => client.post(format!("{base}{path}")).json(body),
            None => client.get(format!("{base}{path}")),
        };
        let response = request.bearer_auth(token).send().await?;
        let status = response.status();
        Ok::<_, reqwest::Error>((status, response.json::<serde_json::Value>().await?))
    });
    match result {
        Ok((status, body)) if status.is_success() => Ok(body),
        Ok((_, body)) => {
            eprintln!(
                "error: {}",
                body["error"]["message"].as_str().unwrap_or("refused")
            );
            Err(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("Switchboard is not answering at {base}: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn import_prices(path: &std::path::Path, output: &std::path::Path, force: bool) -> ExitCode {
    use switchboard_gateway::spend::import;
    let json = match std::fs::read_to_string(path) {
        Ok(json) => json,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let source = format!(
        "LiteLLM model_prices_and_context_window.json ({})",
        path.display()
    );
    let imported = match import::from_litellm_json(&json, &source, &import::today()) {
        Ok(imported) => imported,
        Err(e) => {
            eprintln!("error: {}:{e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    if output.exists() && !force {
        eprintln!(
            "error: {} exists; pass --force to overwrite it",
            output.display()
        );
        return ExitCode::FAILURE;
    }
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(output, &imported.toml) {
        eprintln!("error: cannot write {}: {e}", output.display());
        return ExitCode::FAILURE;
    }
    let counts: Vec<String> = imported
        .models
        .iter()
        .map(|(family, n)| format!("{family} {n}"))
        .collect();
    println!(
        "wrote {} ({}; {} entries without token prices left out)",
        output.display(),
        counts.join(", "),
        imported.skipped
    );
    let absolute = std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf());
    println!(
        "use it from the config (models it does not know stay priced by the built-in table, or unpriced):

[spend]
prices_file = {:?}",
        absolute.display().to_string()
    );
    ExitCode::SUCCESS
}

fn show_budgets(url: &str, credential: &Credential) -> ExitCode {
    let body = match admin_call(url, "/admin/budgets", credential, None) {
        Ok(body) => body,
        Err(code) => return code,
    };
    let budgets = body["budgets"].as_array().cloned().unwrap_or_default();
    if budgets.is_empty() {
        println!("no budgets configured (add [budgets.NAME] to the config)");
    }
    for b in &budgets {
        println!(
            "{:<20} {:<6} ${:>9.2} of ${:<9.2} per {:<5} resets {}  ({})",
            b["name"].as_str().unwrap_or("?"),
            b["state"].as_str().unwrap_or("?"),
            b["spent_usd"].as_f64().unwrap_or(0.0),
            b["usd"].as_f64().unwrap_or(0.0),
            b["period"].as_str().unwrap_or("?"),
            b["resets_at"].as_str().unwrap_or("?"),
            b["when_spent"].as_str().unwrap_or("?"),
        );
        let cache = &b["cache"];
        let input = cache["input_tokens"].as_u64().unwrap_or(0);
        if input > 0 {
            println!(
                "{:<20} cache: {:.0}% of {input} input tokens read from a prompt cache; ${:.2} without caching",
                "",
                cache["cache_share"].as_f64().unwrap_or(0.0) * 100.0,
                cache["uncached_usd"].as_f64().unwrap_or(0.0),
            );
        }
    }
    let table = &body["price_table"];
    if let Some(file) = body["price_file"].as_object() {
        println!(
            "prices: {} ({} models; {}, as of {}), then the built-in table",
            file.get("path")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("?"),
            file.get("models")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0),
            file.get("source")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("?"),
            file.get("as_of")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("?"),
        );
    }
    println!(
        "built-in prices: {}, as of {}",
        table["source"].as_str().unwrap_or("?"),
        table["as_of"].as_str().unwrap_or("?"),
    );
    for target in body["unpriced_targets"].as_array().into_iter().flatten() {
        let target = target.as_str().unwrap_or("?");
        println!(
            "warning: {target} has no known price; its spend is not counted (set [prices.\"{target}\"])"
        );
    }
    ExitCode::SUCCESS
}

fn reset_targets(url: &str, target: Option<&str>, credential: &Credential) -> ExitCode {
    let body = serde_json::json!({ "target": target });
    match admin_call(url, "/admin/targets/reset", credential, Some(body)) {
        Ok(body) => {
            println!("reset {} target(s)", body["reset"]);
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// Asks the gateway for a one-time login link and opens it (or prints it).
fn dashboard(url: &str, credential: &Credential, print_url: bool) -> ExitCode {
    let body = match admin_call(
        url,
        "/admin/login-links",
        credential,
        Some(serde_json::json!({})),
    ) {
        Ok(body) => body,
        Err(code) => return code,
    };
    let link: switchboard_gateway::api::LoginLink = match serde_json::from_value(body) {
        Ok(link) => link,
        Err(e) => {
            eprintln!("error: unexpected answer to POST /admin/login-links: {e}");
            return ExitCode::FAILURE;
        }
    };
    let base = url.trim_end_matches('/').trim_end_matches("/v1");
    let address = format!("{base}{}", link.path);
    if print_url {
        println!("{address}");
        return ExitCode::SUCCESS;
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(opener).arg(&address).status() {
        Ok(status) if status.success() => {
            eprintln!(
                "opened the dashboard in your browser (the link works once, for {} s)",
                link.expires_in_s
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "no browser could be opened ({opener}); open this link (it works once, for {} s):",
                link.expires_in_s
            );
            println!("{address}");
            ExitCode::SUCCESS
        }
    }
}

/// Runs one future to completion for a short-lived CLI command.
fn blocking<F: std::future::Future>(future: F) -> F::Output {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        // Building a runtime only fails when the OS refuses threads or timers; report it plainly.
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match config::load_file(path) {
        Ok(config) => {
            println!(
                "{}: ok ({} providers, {} aliases)",
                path.display(),
                config.providers.len(),
                config.aliases.len()
            );
            ExitCode::SUCCESS
        }
        Err(LoadError::Invalid(errors)) => {
            eprintln!("{errors}");
            eprintln!(
                "{} error(s) in {}",
                errors.diagnostics.len(),
                path.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(path: PathBuf, listen: Option<SocketAddr>, database: Option<PathBuf>) -> ExitCode {
    let config = match config::load_or_init(&path) {
        Ok((config, created)) => {
            if created {
                tracing::info!(path = %path.display(), "no config file yet; wrote the commented default");
            }
            config
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listen.unwrap_or(config.listen);
    let grace = config.server.shutdown_grace;
    let options = GatewayOptions {
        config_path: Some(path.clone()),
        database_path: database,
    };
    let gateway = match Gateway::start(config, options).await {
        Ok(gateway) => gateway,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match gateway.serve(addr).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e}");
            gateway.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = gateway.watch_config() {
        tracing::warn!(error = %e, "config changes will need SIGHUP or a restart");
    }
    let bound = server.local_addr();
    tracing::info!(config = %path.display(), "Switchboard ready: base URL http://{bound}/v1");
    // The login link is a credential: shown on a terminal, never written to the log.
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        let link = gateway.admin().login_link();
        println!(
            "Dashboard: http://{bound}{}  (works once, for {} s; `switchboard dashboard` makes a new one)",
            link.path, link.expires_in_s
        );
    }
    wait_for_shutdown(&gateway).await;
    tracing::info!("shutting down: finishing in-flight requests");
    server.stop(grace).await;
    gateway.shutdown().await;
    tracing::info!("request log flushed; bye");
    ExitCode::SUCCESS
}

/// Waits for SIGINT or SIGTERM; SIGHUP reloads the config meanwhile.
async fn wait_for_shutdown(gateway: &Gateway) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut int), Ok(mut term), Ok(mut hup)) => loop {
                tokio::select! {
                    _ = int.recv() => return,
                    _ = term.recv() => return,
                    _ = hup.recv() => {
                        tracing::info!("SIGHUP: reloading the config");
                        // A rejected reload is logged with every error and kept for `status`.
                        let _ = gateway.reload().await;
                    }
                }
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = gateway;
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn status(base_url: &str) -> ExitCode {
    let Some(authority) = base_url
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/').trim_end_matches("/v1"))
    else {
        eprintln!("error: --url must start with http:// (e.g. http://127.0.0.1:4000)");
        return ExitCode::FAILURE;
    };
    let body = match http_get(authority, "/health/readiness") {
        Ok(body) => body,
        Err(e) => {
            eprintln!("Switchboard is not answering at http://{authority}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(readiness) = serde_json::from_str::<serde_json::Value>(&body) else {
        eprintln!("unexpected answer from http://{authority}/health/readiness: {body}");
        return ExitCode::FAILURE;
    };
    let text = |v: &serde_json::Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    println!(
        "Switchboard at http://{authority}: {}",
        if readiness["ready"] == true {
            "ready"
        } else {
            "NOT ready"
        }
    );
    println!(
        "  config:   {} (revision {})",
        text(&readiness["config"]["path"]),
        text(&readiness["config_file"]["revision"])
    );
    println!(
        "  aliases:  {}, providers: {}",
        readiness["config"]["aliases"], readiness["config"]["providers"]
    );
    let db = &readiness["database"];
    println!(
        "  log:      {} ({} written, {} dropped){}",
        text(&db["path"]),
        db["written"],
        db["dropped"],
        db["error"]
            .as_str()
            .map(|e| format!("; ERROR: {e}"))
            .unwrap_or_default()
    );
    let mb = |v: &serde_json::Value| v.as_f64().map(|b| b / (1024.0 * 1024.0));
    let bound = |v: &serde_json::Value, unit: &str| {
        v.as_f64()
            .map(|n| format!("{n} {unit}"))
            .unwrap_or_else(|| "no limit".to_owned())
    };
    println!(
        "            {} in use, oldest row {}; kept {} / {} ({} rows pruned since start)",
        mb(&db["size_bytes"])
            .map(|m| format!("{m:.1} MB"))
            .unwrap_or_else(|| "size not measured yet".to_owned()),
        db["oldest_at"].as_str().unwrap_or("none"),
        bound(&db["retain_days"], "days"),
        bound(&db["max_mb"], "MB"),
        db["pruned_rows"]
    );
    let mut healthy = readiness["ready"] == true;
    if let Some(message) = readiness["config_file"]["last_error"]["message"].as_str() {
        healthy = false;
        println!("  last config reload was REJECTED; the previous config keeps serving:");
        for line in message.lines() {
            println!("    {line}");
        }
    }
    if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn http_get(authority: &str, path: &str) -> Result<String, reqwest::Error> {
    blocking(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        client
            .get(format!("http://{authority}{path}"))
            .send()
            .await?
            .text()
            .await
    })
}
