//! `switchboard`: the headless shell over the gateway core.

// A command-line tool talks to people through stdout.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use switchboard_gateway::config::{self, LoadError};
use switchboard_gateway::supervisor::{Supervisor, SupervisorOptions};

mod admin_cmds;
mod ask;
mod connect;
mod discover;
mod doctor;
mod login;
mod service;
mod smoke;

use admin_cmds::{gateway_url, Credential, KeysAction, TargetsAction, TokensAction};

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
    /// A tiny request through every alias at once: what served it, latency, tokens, failures.
    Smoke(smoke::SmokeArgs),
    /// Check config, port, bind, keychain, secrets, backends, breakers, budgets and clock; say what to fix.
    Doctor(doctor::DoctorArgs),
    /// Find local model servers (Ollama, llama.cpp, vLLM, LM Studio, Jan) and their models; --add writes aliases.
    Discover(discover::DiscoverArgs),
    /// Print (or --write, with a diff and a backup) a coding client's setup for an alias.
    Connect(connect::ConnectArgs),
    /// The config file's kept versions on a running gateway: `config history`, `config restore ID`.
    Config {
        #[arg(long, global = true)]
        url: Option<String>,
        /// The database the gateway was started with (`serve --database`); its folder holds
        /// the admin secret.
        #[arg(long, global = true)]
        database: Option<PathBuf>,
        /// File holding the admin token (default: $SWITCHBOARD_ADMIN_TOKEN, then the admin
        /// secret).
        #[arg(long, global = true)]
        admin_token_file: Option<PathBuf>,
        #[command(subcommand)]
        action: admin_cmds::ConfigAction,
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    // The dashboard's Connect page and `connect` share this generator (YAML lives outside the core).
    switchboard_client_setup::install();
    let path = config::config_path(cli.config.as_deref());
    match cli.command {
        Command::Check => check(&path),
        Command::Ask(args) => ask::run(args, &path),
        Command::Service(args) => service::run(args, &path),
        Command::Smoke(args) => smoke::run(args, &path),
        Command::Doctor(args) => doctor::run(args, &path),
        Command::Discover(args) => discover::run(args, &path),
        Command::Connect(args) => connect::run(args, &path),
        Command::Login {
            service: LoginService::Copilot { provider },
        } => login::copilot(&path, provider),
        Command::Status { url } => admin_cmds::status(&gateway_url(url, &path)),
        Command::Tokens { action } => admin_cmds::tokens(&path, action),
        Command::Keys { action } => admin_cmds::keys(&path, action),
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
        } => admin_cmds::budgets(
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
            admin_cmds::dashboard(&gateway_url(url, &path), &credential, print_url)
        }
        Command::Config {
            url,
            database,
            admin_token_file,
            action,
        } => {
            let credential = Credential {
                token_file: admin_token_file,
                config: path.clone(),
                database,
            };
            admin_cmds::config_versions(&gateway_url(url, &path), &credential, &action)
        }
        Command::Targets { url, action } => {
            let url = gateway_url(url, &path);
            match action {
                None => admin_cmds::targets(&url),
                Some(TargetsAction::Reset {
                    target,
                    admin_token_file,
                }) => admin_cmds::reset_targets(
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

/// Runs one future to completion for a short-lived CLI command.
pub(crate) fn blocking<F: std::future::Future>(future: F) -> F::Output {
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
    let signals = install_signals();
    let mut supervisor = Supervisor::open(SupervisorOptions {
        config_path: path.clone(),
        database_path: database,
        watch_config: true,
        listen,
    })
    .await;
    // `serve` fails fast on a broken config (a service manager shows why); the tray waits.
    if let Some(error) = supervisor.load_failure() {
        eprintln!("{error}");
        return ExitCode::FAILURE;
    }
    if supervisor.created_config() {
        for f in switchboard_gateway::discover::note_in_new_config(&path).await {
            tracing::info!(
                "found {} at {} ({} models): `switchboard discover --add` adds it",
                f.label,
                f.base_url,
                f.models.len()
            );
        }
    }
    let bound = match supervisor.start().await {
        Ok(bound) => bound,
        Err(e) => {
            eprintln!("error: {e}");
            supervisor.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(config = %path.display(), "Switchboard ready: base URL http://{bound}/v1");
    if let Some(lan) = supervisor.lan_addr() {
        tracing::info!(
            "second listener (server.lan_listen; a client token on every request): http://{lan}/v1"
        );
    }
    // The login link is a credential: shown on a terminal, never written to the log.
    if let Some(admin) = supervisor.admin() {
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            let link = admin.login_link();
            println!(
                "Dashboard: http://{bound}{}  (works once, for {} s; `switchboard dashboard` makes a new one)",
                link.path, link.expires_in_s
            );
        }
    }
    wait_for_shutdown(&mut supervisor, signals).await;
    tracing::info!("shutting down: finishing in-flight requests");
    supervisor.shutdown().await;
    tracing::info!("request log flushed; bye");
    ExitCode::SUCCESS
}

/// How often `serve` lets the supervisor follow the watcher's reloads (a changed `listen`).
const TICK: std::time::Duration = std::time::Duration::from_millis(500);

/// Waits for SIGINT or SIGTERM; SIGHUP reloads the config meanwhile.
/// SIGINT, SIGTERM and SIGHUP, installed before the gateway starts: a signal that arrives right
/// after "ready" is then a clean shutdown, not the default action (the process killed by it).
#[cfg(unix)]
type Signals = Option<[tokio::signal::unix::Signal; 3]>;
#[cfg(not(unix))]
type Signals = ();

fn install_signals() -> Signals {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(int), Ok(term), Ok(hup)) => Some([int, term, hup]),
            _ => None,
        }
    }
}

async fn wait_for_shutdown(supervisor: &mut Supervisor, signals: Signals) {
    let mut tick = tokio::time::interval(TICK);
    #[cfg(unix)]
    {
        match signals {
            Some([mut int, mut term, mut hup]) => loop {
                tokio::select! {
                    _ = int.recv() => return,
                    _ = term.recv() => return,
                    _ = hup.recv() => {
                        tracing::info!("SIGHUP: reloading the config");
                        // A rejected reload is logged with every error and kept for `status`.
                        let _ = supervisor.reload().await;
                    }
                    _ = tick.tick() => {
                        // A failure (the new port is taken) is logged and published.
                        let _ = supervisor.tick().await;
                    }
                }
            },
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let () = signals;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return,
                _ = tick.tick() => {
                    let _ = supervisor.tick().await;
                }
            }
        }
    }
}
