//! `switchboard discover`: local model servers on their usual ports, their models, and with
//! `--add` the providers and aliases that use them, written into the config. The scan and the
//! write are the admin service's (`admin::providers`), the same the dashboard's onboarding uses.

use std::path::Path;
use std::process::ExitCode;

use switchboard_gateway::admin::providers;
use switchboard_gateway::api::DiscoverQuery;
use switchboard_gateway::config::{self, file::revision_of};
use switchboard_gateway::discover;

#[derive(clap::Args)]
pub struct DiscoverArgs {
    /// Write a provider per new server and an alias per model into the config.
    #[arg(long)]
    pub add: bool,
    /// Where to look instead of the usual ports: NAME=PORT,... (e.g. ollama=11434,vllm=8000).
    #[arg(long, env = discover::PORTS_ENV)]
    pub ports: Option<String>,
    /// More hosts to scan besides loopback and the config's own, comma separated.
    #[arg(long)]
    pub hosts: Option<String>,
    /// Milliseconds each server may take to answer.
    #[arg(long, default_value_t = 1500)]
    pub timeout_ms: u64,
    /// Print what was found as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DiscoverArgs, config_path: &Path) -> ExitCode {
    // A first `discover --add` may come before the first `serve`: start from the default.
    if args.add {
        if let Err(e) = config::load_or_init(config_path) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let config = config::load_file(config_path).ok();
    let text = std::fs::read_to_string(config_path).ok();
    let query = DiscoverQuery {
        // The usual ports when absent: an explicit empty `--ports` is refused below.
        ports: Some(args.ports.clone().unwrap_or_else(|| {
            discover::KNOWN
                .iter()
                .map(|k| format!("{}={}", k.name, k.port))
                .collect::<Vec<_>>()
                .join(",")
        })),
        hosts: args.hosts.clone(),
        timeout_ms: Some(args.timeout_ms),
    };
    let report = match crate::blocking(providers::discover_report(
        config.as_ref(),
        text.as_deref(),
        &query,
    )) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: --{e}");
            return ExitCode::FAILURE;
        }
    };
    let found = &report.servers;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(found).unwrap_or_default()
        );
    } else if found.is_empty() {
        println!("no model server answered at {}", report.scanned.join(", "));
        println!("start one (e.g. `ollama serve`), or add any server by hand under [providers]");
    } else {
        for f in found {
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
    let (Some(text), false) = (text, report.proposed.is_empty()) else {
        eprintln!("nothing to add: the config already has every server and model found");
        return ExitCode::SUCCESS;
    };
    match providers::add_entries_in_file(config_path, &report.proposed, &revision_of(&text)) {
        Ok((_, _, added)) => {
            for a in &added {
                let (section, name) = a.split_once('.').unwrap_or((a, ""));
                eprintln!("added [{section}.\"{name}\"]");
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
