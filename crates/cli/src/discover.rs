//! `switchboard discover`: local model servers on their usual ports, their models, and with
//! `--add` the providers and aliases that use them, written into the config.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use switchboard_gateway::config;
use switchboard_gateway::discover;

#[derive(clap::Args)]
pub struct DiscoverArgs {
    /// Write a provider per new server and an alias per model into the config.
    #[arg(long)]
    pub add: bool,
    /// Where to look instead of the usual ports: NAME=PORT,... (e.g. ollama=11434,vllm=8000).
    #[arg(long, env = discover::PORTS_ENV)]
    pub ports: Option<String>,
    /// Milliseconds each server may take to answer.
    #[arg(long, default_value_t = 1500)]
    pub timeout_ms: u64,
    /// Print what was found as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DiscoverArgs, config_path: &Path) -> ExitCode {
    let servers = match &args.ports {
        Some(spec) => discover::parse_ports(spec),
        None => Ok(discover::KNOWN.to_vec()),
    };
    let servers = match servers {
        Ok(servers) => servers,
        Err(e) => {
            eprintln!("error: --ports {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = config::load_file(config_path).ok();
    let candidates = discover::candidates(config.as_ref(), &servers);
    let timeout = Duration::from_millis(args.timeout_ms.max(50));
    let found = crate::blocking(discover::discover(&candidates, config.as_ref(), timeout));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&found).unwrap_or_default()
        );
    } else if found.is_empty() {
        let places: Vec<String> = candidates.iter().map(|c| c.base_url.clone()).collect();
        println!("no model server answered at {}", places.join(", "));
        println!("start one (e.g. `ollama serve`), or add any server by hand under [providers]");
    } else {
        for f in &found {
            let used = f
                .provider
                .as_deref()
                .map(|p| format!(" (provider `{p}` in the config)"))
                .unwrap_or_default();
            println!("{} at {}{used}", f.label, f.base_url);
            for model in &f.models {
                println!("  {model}");
            }
        }
    }
    if !args.add {
        if !found.is_empty() && !args.json {
            println!(
                "`switchboard discover --add` writes providers and aliases for them into {}",
                config_path.display()
            );
        }
        return ExitCode::SUCCESS;
    }
    // A first `discover --add` may come before the first `serve`: start from the default.
    if let Err(e) = config::load_or_init(config_path) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let text = match std::fs::read_to_string(config_path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", config_path.display());
            return ExitCode::FAILURE;
        }
    };
    let additions = discover::additions(&found, &text);
    if additions.is_empty() {
        eprintln!("nothing to add: the config already has every server and model found");
        return ExitCode::SUCCESS;
    }
    match discover::add_to_config(config_path, &additions) {
        Ok(_) => {
            for a in &additions {
                eprintln!("added [{}.\"{}\"]", a.section, a.name);
            }
            eprintln!(
                "wrote {} (a running gateway reloads it by itself)",
                config_path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
