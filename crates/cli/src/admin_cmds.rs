//! The admin commands: `status`, `budgets`, `targets`, `dashboard` talk to a running gateway
//! through the one typed client (`switchboard_gateway::admin_client`); `tokens` and `keys`
//! work on the config file and the keychain through the admin service's functions, so the CLI
//! never builds or patches a config entry itself.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use switchboard_gateway::admin_client::{AdminClient, ClientError};
use switchboard_gateway::api;
use switchboard_gateway::config;
use switchboard_gateway::secret::Secret;

use crate::blocking;

#[derive(Subcommand)]
pub enum KeysAction {
    /// Store a key under NAME (reference it as `keychain:NAME`). The value is read from a
    /// no-echo prompt, or from stdin when stdin is not a terminal.
    Set { name: String },
    /// Every key the config references, where it lives and whether it can be read.
    List,
    /// Remove NAME from the keychain.
    Rm { name: String },
}

#[derive(Subcommand)]
pub enum TokensAction {
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
        /// Tokens per minute this token may use.
        #[arg(long)]
        tpm: Option<u64>,
        /// Requests this token may have in flight at once.
        #[arg(long)]
        concurrent: Option<u32>,
    },
    /// List client tokens (names, tenants, aliases; never tokens).
    List,
    /// Remove a client token from the config: it stops working at the next reload.
    Rm { name: String },
}

#[derive(Subcommand)]
pub enum TargetsAction {
    /// Close the breaker and clear `misconfigured` of one target (provider/model), or of all.
    Reset {
        target: Option<String>,
        /// File holding the admin token (default: $SWITCHBOARD_ADMIN_TOKEN).
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum ConfigAction {
    /// The config file's kept versions (the last 20 admin saves replaced), newest first.
    History,
    /// Write kept version ID back (the text it replaces is kept, so this can be undone too).
    Restore { id: String },
}

/// Where the admin credential comes from: `--admin-token-file`, `$SWITCHBOARD_ADMIN_TOKEN`, or
/// the per-install admin secret beside the database.
pub struct Credential {
    pub token_file: Option<PathBuf>,
    pub config: PathBuf,
    pub database: Option<PathBuf>,
}

impl Credential {
    pub fn only_file(token_file: Option<&Path>, config: &Path) -> Credential {
        Credential {
            token_file: token_file.map(Path::to_owned),
            config: config.to_owned(),
            database: None,
        }
    }

    fn token(&self) -> Result<Secret<String>, String> {
        if let Some(path) = &self.token_file {
            return std::fs::read_to_string(path)
                .map(|t| Secret::new(t.trim().to_owned()))
                .map_err(|e| format!("cannot read {}: {e}", path.display()));
        }
        if let Ok(token) = std::env::var("SWITCHBOARD_ADMIN_TOKEN") {
            return Ok(Secret::new(token));
        }
        let database = self.database.clone().unwrap_or_else(|| {
            config::load_file(&self.config)
                .ok()
                .and_then(|c| c.database_path)
                .unwrap_or_else(config::default_database_path)
        });
        switchboard_gateway::session::read_secret(&switchboard_gateway::session::secret_path(
            &database,
        ))
        .map_err(|e| format!("{e}; or pass --admin-token-file / set SWITCHBOARD_ADMIN_TOKEN"))
    }
}

/// `--url` or the address in the config's `listen`.
pub fn gateway_url(url: Option<String>, config_path: &Path) -> String {
    url.unwrap_or_else(|| {
        let listen = config::load_file(config_path)
            .map(|c| c.listen)
            .unwrap_or_else(|_| switchboard_gateway::Config::embedded_default().listen);
        format!("http://{listen}")
    })
}

/// A client of the gateway at `url`, with the admin credential when `credential` is given.
fn client(url: &str, credential: Option<&Credential>) -> Result<AdminClient, ExitCode> {
    let token = match credential.map(Credential::token).transpose() {
        Ok(token) => token,
        Err(e) => return Err(fail(e)),
    };
    AdminClient::new(url, token).map_err(|e| fail(e.to_string()))
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// A refused call says why in the gateway's words; others say the gateway is not there.
fn call_failed(error: ClientError) -> ExitCode {
    match error {
        ClientError::Refused { .. } => fail(error),
        other => {
            eprintln!("{other}");
            ExitCode::FAILURE
        }
    }
}

pub fn status(url: &str) -> ExitCode {
    let client = match client(url, None) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let readiness = match blocking(client.readiness()) {
        Ok(r) => r,
        Err(e) => return call_failed(e),
    };
    print_status(client.base_url(), &readiness)
}

fn print_status(base: &str, readiness: &api::Readiness) -> ExitCode {
    let or_null = |v: Option<&str>| v.unwrap_or("null").to_owned();
    println!(
        "Switchboard at {base}: {}",
        if readiness.ready {
            "ready"
        } else {
            "NOT ready"
        }
    );
    println!(
        "  config:   {} (revision {})",
        or_null(readiness.config.path.as_deref()),
        or_null(readiness.config_file.revision.as_deref())
    );
    println!(
        "  aliases:  {}, providers: {}",
        readiness.config.aliases, readiness.config.providers
    );
    let db = &readiness.database;
    println!(
        "  log:      {} ({} written, {} dropped){}",
        db.path,
        db.written,
        db.dropped,
        db.error
            .as_deref()
            .map(|e| format!("; ERROR: {e}"))
            .unwrap_or_default()
    );
    let bound = |v: Option<f64>, unit: &str| {
        v.map(|n| format!("{n} {unit}"))
            .unwrap_or_else(|| "no limit".to_owned())
    };
    println!(
        "            {} in use, oldest row {}; kept {} / {} ({} rows pruned since start)",
        db.size_bytes
            .map(|b| format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "size not measured yet".to_owned()),
        db.oldest_at.as_deref().unwrap_or("none"),
        bound(db.retain_days, "days"),
        bound(db.max_mb, "MB"),
        db.pruned_rows
    );
    let mut healthy = readiness.ready;
    if let Some(failure) = &readiness.config_file.last_error {
        healthy = false;
        println!("  last config reload was REJECTED; the previous config keeps serving:");
        for line in failure.message.lines() {
            println!("    {line}");
        }
    }
    if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub fn budgets(url: &str, credential: &Credential) -> ExitCode {
    let client = match client(url, Some(credential)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let report = match blocking(client.budgets()) {
        Ok(r) => r,
        Err(e) => return call_failed(e),
    };
    if report.budgets.is_empty() {
        println!("no budgets configured (add [budgets.NAME] to the config)");
    }
    for b in &report.budgets {
        println!(
            "{:<20} {:<6} ${:>9.2} of ${:<9.2} per {:<5} resets {}  ({})",
            b.name, b.state, b.spent_usd, b.usd, b.period, b.resets_at, b.when_spent,
        );
        let input = b.cache.input_tokens;
        if input > 0 {
            println!(
                "{:<20} cache: {:.0}% of {input} input tokens read from a prompt cache; ${:.2} without caching",
                "",
                b.cache.cache_share * 100.0,
                b.cache.uncached_usd,
            );
        }
    }
    if let Some(file) = &report.price_file {
        println!(
            "prices: {} ({} models; {}, as of {}), then the built-in table",
            file.path, file.models, file.source, file.as_of,
        );
    }
    println!(
        "built-in prices: {}, as of {}",
        report.price_table.source, report.price_table.as_of,
    );
    for target in &report.unpriced_targets {
        println!(
            "warning: {target} has no known price; its spend is not counted (set [prices.\"{target}\"])"
        );
    }
    ExitCode::SUCCESS
}

/// Every target's routing state, from `/health` (no credential needed).
pub fn targets(url: &str) -> ExitCode {
    let client = match client(url, None) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let report = match blocking(client.health()) {
        Ok(r) => r,
        Err(e) => return call_failed(e),
    };
    for t in &report.targets {
        println!("{}", target_line(t));
    }
    ExitCode::SUCCESS
}

fn target_line(t: &api::TargetStatus) -> String {
    let mut line = format!("{:<40} {:<14}", t.target, t.state);
    if let Some(why) = t.opened_for {
        let why = match why {
            api::OpenedFor::Slowness => "slowness",
            api::OpenedFor::Failures => "failures",
        };
        line.push_str(&format!(" for {why}"));
    }
    if let Some(ms) = t.retry_in_ms {
        line.push_str(&format!(" retry in {:.1}s", ms as f64 / 1000.0));
    }
    if let Some(ms) = t.latency_avg_ms {
        line.push_str(&format!(" avg {ms:.0} ms"));
    }
    if let Some(e) = t.misconfigured.as_deref().or(t.last_error.as_deref()) {
        line.push_str(&format!("  ({e})"));
    }
    line
}

pub fn reset_targets(url: &str, target: Option<&str>, credential: &Credential) -> ExitCode {
    let client = match client(url, Some(credential)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let request = api::ResetTargets {
        target: target.map(str::to_owned),
    };
    match blocking(client.reset_targets(&request)) {
        Ok(outcome) => {
            println!("reset {} target(s)", outcome.reset);
            ExitCode::SUCCESS
        }
        Err(e) => call_failed(e),
    }
}

/// Asks the gateway for a one-time login link and opens it (or prints it).
pub fn dashboard(url: &str, credential: &Credential, print_url: bool) -> ExitCode {
    let client = match client(url, Some(credential)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let link = match blocking(client.login_link()) {
        Ok(link) => link,
        Err(e) => return call_failed(e),
    };
    let address = format!("{}{}", client.base_url(), link.path);
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
        }
        _ => {
            eprintln!(
                "no browser could be opened ({opener}); open this link (it works once, for {} s):",
                link.expires_in_s
            );
            println!("{address}");
        }
    }
    ExitCode::SUCCESS
}

pub fn keys(path: &Path, action: KeysAction) -> ExitCode {
    use switchboard_gateway::keychain;
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
        Err(e) => fail(e),
    }
}

pub fn tokens(path: &Path, action: TokensAction) -> ExitCode {
    use switchboard_gateway::admin::{
        apply_config_change, create_client_token_in_file, ConfigChange,
    };
    use switchboard_gateway::config::file::revision_of;
    if let TokensAction::List = action {
        return list_tokens(path);
    }
    let revision = match std::fs::read_to_string(path) {
        Ok(text) => revision_of(&text),
        Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
    };
    let result = match action {
        TokensAction::List => Ok(()),
        TokensAction::Create {
            name,
            tenant,
            aliases,
            description,
            budget,
            rpm,
            tpm,
            concurrent,
        } => {
            let limits = api::TokenLimits {
                rpm,
                tpm,
                concurrent,
            };
            let request = api::CreateToken {
                name,
                tenant,
                aliases: (!aliases.is_empty()).then_some(aliases),
                description,
                budget,
                limits: (!limits.is_empty()).then_some(limits),
            };
            create_client_token_in_file(path, &request, &revision).map(|created| {
                println!("{}", created.token);
                eprintln!(
                    "created client token `{}` (only its hash is in {}). Copy it now: it is not shown again.",
                    created.name,
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
        Err(e) => fail(e),
    }
}

fn list_tokens(path: &Path) -> ExitCode {
    match config::load_file(path) {
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
    }
}

/// `switchboard config history` / `config restore ID` against a running gateway.
pub fn config_versions(url: &str, credential: &Credential, action: &ConfigAction) -> ExitCode {
    let client = match client(url, Some(credential)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let history = match blocking(client.config_history()) {
        Ok(h) => h,
        Err(e) => return call_failed(e),
    };
    match action {
        ConfigAction::History => {
            if history.versions.is_empty() {
                println!("no kept versions yet (each save from the dashboard or the admin API keeps the one it replaces)");
            }
            for v in &history.versions {
                let at = jiff::Timestamp::from_millisecond(v.at_unix_ms as i64)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                println!(
                    "{:<38} {at:<30} {:>7} B  replaced by: {}",
                    v.id, v.size, v.summary
                );
            }
            ExitCode::SUCCESS
        }
        ConfigAction::Restore { id } => {
            match blocking(client.restore_version(id, &history.revision)) {
                Ok(outcome) => {
                    println!(
                        "restored {id}; the file is now at revision {}",
                        outcome.revision
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => call_failed(e),
            }
        }
    }
}
