//! `switchboard login copilot`: GitHub's device flow for a `github_copilot` provider. Prints the
//! code and URL, polls until granted (no TTY needed) and stores the GitHub token where the
//! provider's `api_key` reference points (the keychain, or a mode-600 file). The flow is the
//! admin service's (`admin::copilot_login`), the same the dashboard's "Log in" button runs.

use std::process::ExitCode;

use switchboard_gateway::admin::copilot_login;
use switchboard_gateway::config;

pub fn copilot(path: &std::path::Path, provider: Option<String>) -> ExitCode {
    let config = match config::load_file(path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let (provider, settings) = match copilot_login::copilot_provider(&config, provider.as_deref()) {
        Ok(chosen) => chosen,
        Err(e) => {
            let hint = if e.starts_with("several") {
                " with --provider NAME"
            } else {
                ""
            };
            eprintln!("error: {}: {e}{hint}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let reference = settings.github_token.clone();
    let flow = async {
        let code = copilot_login::start_device_flow(&settings.github_url).await?;
        println!(
            "Open {} and enter the code {}",
            code.verification_uri, code.user_code
        );
        eprintln!("waiting for GitHub to confirm...");
        copilot_login::finish_device_flow(&settings.github_url, &code).await
    };
    let token = match crate::blocking(flow) {
        Ok(token) => token,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match copilot_login::store_token(&reference, &token) {
        Ok(()) => {
            eprintln!(
                "logged in: stored the GitHub token in `{reference}` for provider `{}`",
                provider.name
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot store the GitHub token in `{reference}`: {e}");
            ExitCode::FAILURE
        }
    }
}
