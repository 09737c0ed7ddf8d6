//! `switchboard connect CLIENT`: that client's setup for an alias, printed, or with `--write`
//! shown as a diff, the old file backed up, then written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::client_setup::{self as connect, Client};

#[derive(clap::Args)]
pub struct ConnectArgs {
    /// opencode, claude, codex, continue, zed or aider.
    pub client: String,
    /// The alias the client should use (default: the config's first alias).
    #[arg(short = 'm', long = "model")]
    pub alias: Option<String>,
    /// Gateway URL (default: $SWITCHBOARD_URL, else the config's `listen`).
    #[arg(long, env = "SWITCHBOARD_URL")]
    pub url: Option<String>,
    /// Client token (default: $SWITCHBOARD_TOKEN; loopback without [tokens] needs none).
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Merge into the client's file: show the diff, back up the old file, write.
    #[arg(long)]
    pub write: bool,
}

pub fn run(args: ConnectArgs, config_path: &Path) -> ExitCode {
    let Some(client) = Client::parse(&args.client) else {
        let names: Vec<&str> = Client::ALL.iter().map(|c| c.name()).collect();
        eprintln!(
            "error: unknown client `{}`; one of: {}",
            args.client,
            names.join(", ")
        );
        return ExitCode::FAILURE;
    };
    let config = switchboard_gateway::config::load_file(config_path).ok();
    let alias = match args.alias.clone().or_else(|| {
        config
            .as_ref()
            .and_then(|c| c.aliases.keys().next().cloned())
    }) {
        Some(alias) => alias,
        None => {
            eprintln!("error: no alias given and none in the config; pass -m ALIAS");
            return ExitCode::FAILURE;
        }
    };
    if let Some(config) = &config {
        if config.find_alias(&alias).is_none() {
            eprintln!(
                "warning: `{alias}` is not an alias of {}",
                config_path.display()
            );
        }
    }
    let setup = connect::Setup {
        base_url: crate::gateway_url(args.url.clone(), config_path),
        alias,
        token: args.token.clone().filter(|t| !t.is_empty()),
    };
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        eprintln!("error: no home directory");
        return ExitCode::FAILURE;
    };
    let path = home.join(client.file());
    let existing = std::fs::read_to_string(&path).ok();
    let generated = match connect::generate(client, &setup, existing.as_deref()) {
        Ok(generated) => generated,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !args.write {
        println!("# {}", path.display());
        print!("{}", generated.content);
    } else if existing.as_deref() == Some(generated.content.as_str()) {
        println!("{} already has this setup", path.display());
    } else {
        println!("--- {}", path.display());
        print!(
            "{}",
            connect::diff(existing.as_deref().unwrap_or(""), &generated.content)
        );
        if let Some(old) = &existing {
            let backup = path.with_file_name(format!(
                "{}.switchboard-backup",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("config")
            ));
            if let Err(e) = std::fs::write(&backup, old) {
                eprintln!(
                    "error: cannot write the backup {}: {e}; nothing changed",
                    backup.display()
                );
                return ExitCode::FAILURE;
            }
            println!("backed up the old file to {}", backup.display());
        }
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = switchboard_gateway::config::file::write_atomic(&path, &generated.content) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        // Some of these files hold the token itself: only the owner may read them.
        #[cfg(unix)]
        if setup.token.is_some() {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        println!("wrote {}", path.display());
    }
    for (name, value) in &generated.env {
        println!("export {name}={value}");
    }
    println!("# then: {}", generated.run);
    ExitCode::SUCCESS
}
