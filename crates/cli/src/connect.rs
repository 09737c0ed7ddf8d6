//! `switchboard connect CLIENT`: that client's setup for an alias, printed, or with `--write`
//! shown as a diff, the old file backed up, then written.

use std::path::Path;
use std::process::ExitCode;

use switchboard_client_setup::Client;
use switchboard_gateway::admin::clients;

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
    let Some(client) = Client::parse(&args.client).filter(|c| c.file().is_some()) else {
        let names: Vec<&str> = Client::ALL
            .iter()
            .filter(|c| c.file().is_some())
            .map(|c| c.name())
            .collect();
        eprintln!(
            "error: unknown client `{}`; one of: {} (the dashboard's Connect page has snippets for more)",
            args.client,
            names.join(", ")
        );
        return ExitCode::FAILURE;
    };
    let config = switchboard_gateway::config::load_file(config_path).ok();
    let base_url = crate::gateway_url(args.url.clone(), config_path);
    let token = args.token.clone().filter(|t| !t.is_empty());
    let found = config.as_ref().map(|config| {
        clients::connect_target(config, &base_url, args.alias.as_deref(), token.as_deref())
    });
    let target = match (found, &args.alias) {
        (Some(Ok(target)), _) => target,
        // The gateway named by --url may have aliases this file lacks: trust the name given.
        (Some(Err(_)) | None, Some(alias)) => {
            eprintln!(
                "warning: `{alias}` is not an alias of {}",
                config_path.display()
            );
            match clients::root_url(&base_url) {
                Ok(base_url) => clients::ConnectTarget {
                    base_url,
                    alias: alias.clone(),
                    tokens_required: token.is_some(),
                    token: token.clone(),
                    ..clients::ConnectTarget::default()
                },
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        (Some(Err(e)), None) => {
            eprintln!("error: {e}; pass -m ALIAS");
            return ExitCode::FAILURE;
        }
        (None, None) => {
            eprintln!("error: no alias given and no config to take one from; pass -m ALIAS");
            return ExitCode::FAILURE;
        }
    };
    let Ok(home) = clients::home_dir() else {
        eprintln!("error: no home directory");
        return ExitCode::FAILURE;
    };
    let generator = switchboard_client_setup::Generator;
    // The same function the dashboard's "set it up for me" calls; without --write a dry run.
    let outcome = match clients::write_setup(&generator, &home, client.name(), &target, !args.write)
    {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !args.write {
        let path = home.join(client.file().unwrap_or_default());
        let existing = std::fs::read_to_string(&path).ok();
        match switchboard_client_setup::generate(client, &target, existing.as_deref()) {
            Ok(setup) => {
                println!("# {}", outcome.path);
                print!("{}", setup.file.map(|f| f.content).unwrap_or_default());
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else if !outcome.changed {
        println!("{} already has this setup", outcome.path);
    } else {
        println!("--- {}", outcome.path);
        print!("{}", outcome.diff);
        if let Some(backup) = &outcome.backup {
            println!("backed up the old file to {backup}");
        }
        println!("wrote {}", outcome.path);
    }
    for var in &outcome.env {
        println!("export {}={}", var.name, var.value);
    }
    println!("# then: {}", outcome.run);
    ExitCode::SUCCESS
}
