//! `switchboard login copilot`: GitHub's device flow for a `github_copilot` provider. Prints the
//! code and URL, polls until granted (no TTY needed) and stores the GitHub token where the
//! provider's `api_key` reference points (the keychain, or a mode-600 file).

use std::process::ExitCode;
use std::time::Duration;

use switchboard_gateway::config::{self, CopilotSettings, ProviderConfig, ProviderSettings};
use switchboard_gateway::secret::{Secret, SecretRef};

/// The OAuth app open-source Copilot clients use (LiteLLM, copilot-api).
const CLIENT_ID: &str = "Iv1.b507a08c87ecfe98";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub fn copilot(path: &std::path::Path, provider: Option<String>) -> ExitCode {
    let config = match config::load_file(path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let candidates: Vec<(&ProviderConfig, &CopilotSettings)> = config
        .providers
        .values()
        .filter_map(|p| match &p.settings {
            ProviderSettings::GithubCopilot(s) => Some((p, s)),
            _ => None,
        })
        .collect();
    let chosen = match (&provider, candidates.as_slice()) {
        (Some(name), _) => candidates.iter().find(|(p, _)| &p.name == name).copied(),
        (None, [only]) => Some(*only),
        (None, []) => None,
        (None, _) => {
            let names: Vec<&str> = candidates.iter().map(|(p, _)| p.name.as_str()).collect();
            eprintln!(
                "error: several github_copilot providers ({}); pick one with --provider NAME",
                names.join(", ")
            );
            return ExitCode::FAILURE;
        }
    };
    let Some((provider, settings)) = chosen else {
        eprintln!(
            "error: {} has no {}github_copilot provider; add one:\n  [providers.copilot]\n  kind = \"github_copilot\"",
            path.display(),
            provider.map(|n| format!("`{n}` ")).unwrap_or_default()
        );
        return ExitCode::FAILURE;
    };
    let reference = settings.github_token.clone();
    if let SecretRef::Env(var) = &reference {
        eprintln!("error: provider `{}` reads its GitHub token from `env:{var}`; point `api_key` at `keychain:NAME` or `file:PATH` so the login can store it", provider.name);
        return ExitCode::FAILURE;
    }
    let github_url = settings.github_url.clone();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let token = match runtime.block_on(device_flow(&github_url)) {
        Ok(token) => token,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match store(&reference, &token) {
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

#[derive(serde::Deserialize)]
struct DeviceCode {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default = "default_interval")]
    interval: u64,
    expires_in: Option<u64>,
}

fn default_interval() -> u64 {
    5
}

async fn device_flow(github_url: &str) -> Result<Secret<String>, String> {
    let github_url = github_url.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let code: DeviceCode = client
        .post(format!("{github_url}/login/device/code"))
        .header("accept", "application/json")
        .json(&serde_json::json!({"client_id": CLIENT_ID, "scope": "read:user"}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("GitHub's device login did not start: {e}"))?
        .json()
        .await
        .map_err(|e| format!("GitHub's device login answered oddly: {e}"))?;
    println!(
        "Open {} and enter the code {}",
        code.verification_uri, code.user_code
    );
    eprintln!("waiting for GitHub to confirm...");
    let mut interval = Duration::from_secs(code.interval.max(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(code.expires_in.unwrap_or(900));
    loop {
        tokio::time::sleep(interval).await;
        if std::time::Instant::now() > deadline {
            return Err(
                "the device code expired before it was confirmed; run the login again".into(),
            );
        }
        let answer: serde_json::Value = client
            .post(format!("{github_url}/login/oauth/access_token"))
            .header("accept", "application/json")
            .json(&serde_json::json!({
                "client_id": CLIENT_ID,
                "device_code": code.device_code,
                "grant_type": GRANT_TYPE,
            }))
            .send()
            .await
            .map_err(|e| format!("polling GitHub failed: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GitHub answered oddly: {e}"))?;
        if let Some(token) = answer.get("access_token").and_then(|t| t.as_str()) {
            return Ok(Secret::new(token.to_owned()));
        }
        match answer.get("error").and_then(|e| e.as_str()) {
            Some("authorization_pending") => {}
            Some("slow_down") => {
                // RFC 8628: add 5 seconds to the interval for this and every later poll.
                interval += Duration::from_secs(5);
            }
            Some("expired_token") => {
                return Err("the device code expired; run the login again".into())
            }
            Some("access_denied") => return Err("the login was denied on GitHub".into()),
            Some(other) => return Err(format!("GitHub refused the login: {other}")),
            None => return Err("GitHub answered without a token or an error".into()),
        }
    }
}

fn store(reference: &SecretRef, token: &Secret<String>) -> Result<(), String> {
    match reference {
        SecretRef::Keychain(name) => {
            switchboard_gateway::keychain::set(name, token).map_err(|e| e.to_string())
        }
        SecretRef::File(path) => write_private(path, token.expose()).map_err(|e| e.to_string()),
        SecretRef::Env(_) => Err("an environment variable cannot be written".into()),
    }
}

/// Writes `text` to `path`, readable by the owner only (created so, never widened first).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")
    }
}
