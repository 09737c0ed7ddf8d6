//! GitHub's device flow for a `github_copilot` provider, once: `switchboard login copilot`
//! prints the code and waits; the dashboard starts it here (`POST /admin/copilot/login`) and
//! polls (`GET /admin/copilot/login/{id}`). The GitHub token goes where the provider's
//! `api_key` points (the keychain, or a mode-600 file), never into a response or a log.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::{AdminError, AdminService};
use crate::api::{CopilotLogin, CopilotLoginStart};
use crate::config::{Config, CopilotSettings, ProviderConfig, ProviderSettings};
use crate::secret::{Secret, SecretRef};

/// The OAuth app open-source Copilot clients use (LiteLLM, copilot-api).
const CLIENT_ID: &str = "Iv1.b507a08c87ecfe98";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What GitHub answered to "start a device login".
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DeviceCode {
    device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default = "default_interval")]
    interval: u64,
    pub expires_in: Option<u64>,
}

fn default_interval() -> u64 {
    5
}

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

/// The `github_copilot` provider to log in for: `name`, or the only one.
pub fn copilot_provider(
    config: &Config,
    name: Option<&str>,
) -> Result<(ProviderConfig, CopilotSettings), String> {
    let candidates: Vec<(&ProviderConfig, &CopilotSettings)> = config
        .providers
        .values()
        .filter_map(|p| match &p.settings {
            ProviderSettings::GithubCopilot(s) => Some((p, s)),
            _ => None,
        })
        .collect();
    let chosen = match (name, candidates.as_slice()) {
        (Some(name), _) => candidates.iter().find(|(p, _)| p.name == name).copied(),
        (None, [only]) => Some(*only),
        (None, []) => None,
        (None, _) => {
            let names: Vec<&str> = candidates.iter().map(|(p, _)| p.name.as_str()).collect();
            return Err(format!(
                "several github_copilot providers ({}); pick one",
                names.join(", ")
            ));
        }
    };
    let Some((provider, settings)) = chosen else {
        return Err(format!(
            "the config has no {}github_copilot provider; add one:\n  [providers.copilot]\n  kind = \"github_copilot\"",
            name.map(|n| format!("`{n}` ")).unwrap_or_default()
        ));
    };
    if let SecretRef::Env(var) = &settings.github_token {
        return Err(format!("provider `{}` reads its GitHub token from `env:{var}`; point `api_key` at `keychain:NAME` or `file:PATH` so the login can store it", provider.name));
    }
    Ok((provider.clone(), settings.clone()))
}

/// Asks GitHub for a device code.
pub async fn start_device_flow(github_url: &str) -> Result<DeviceCode, String> {
    let github_url = github_url.trim_end_matches('/');
    client()?
        .post(format!("{github_url}/login/device/code"))
        .header("accept", "application/json")
        .json(&serde_json::json!({"client_id": CLIENT_ID, "scope": "read:user"}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("GitHub's device login did not start: {e}"))?
        .json()
        .await
        .map_err(|e| format!("GitHub's device login answered oddly: {e}"))
}

/// Polls until the user confirms the code (RFC 8628's interval and `slow_down`), the code
/// expires or GitHub refuses.
pub async fn finish_device_flow(
    github_url: &str,
    code: &DeviceCode,
) -> Result<Secret<String>, String> {
    let github_url = github_url.trim_end_matches('/');
    let client = client()?;
    let mut interval = Duration::from_secs(code.interval.max(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(code.expires_in.unwrap_or(900));
    loop {
        tokio::time::sleep(interval).await;
        if std::time::Instant::now() > deadline {
            return Err(
                "the device code expired before it was confirmed; start the login again".into(),
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
            // RFC 8628: add 5 seconds to the interval for this and every later poll.
            Some("slow_down") => interval += Duration::from_secs(5),
            Some("expired_token") => {
                return Err("the device code expired; start the login again".into())
            }
            Some("access_denied") => return Err("the login was denied on GitHub".into()),
            Some(other) => return Err(format!("GitHub refused the login: {other}")),
            None => return Err("GitHub answered without a token or an error".into()),
        }
    }
}

/// Stores the GitHub token where `reference` points. Blocking (a keychain write).
pub fn store_token(reference: &SecretRef, token: &Secret<String>) -> Result<(), String> {
    match reference {
        SecretRef::Keychain(name) => crate::keychain::set(name, token).map_err(|e| e.to_string()),
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

/// Logins started from the dashboard, by id. Process-wide: a login outlives the request that
/// started it, and ids are random, so gateways in one process never see each other's.
fn logins() -> &'static Mutex<HashMap<String, CopilotLogin>> {
    static LOGINS: OnceLock<Mutex<HashMap<String, CopilotLogin>>> = OnceLock::new();
    LOGINS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn update(id: &str, change: impl FnOnce(&mut CopilotLogin)) {
    if let Ok(mut all) = logins().lock() {
        if let Some(login) = all.get_mut(id) {
            change(login);
        }
    }
}

impl AdminService {
    /// Starts GitHub's device flow for a `github_copilot` provider: the answer has the code to
    /// enter; the polling and storing go on in the background (`copilot_login`).
    pub async fn copilot_login_start(
        &self,
        request: &CopilotLoginStart,
    ) -> Result<CopilotLogin, AdminError> {
        let snapshot = self.gateway.snapshot();
        let (provider, settings) = copilot_provider(&snapshot.config, request.provider.as_deref())
            .map_err(AdminError::BadRequest)?;
        let code = start_device_flow(&settings.github_url)
            .await
            .map_err(AdminError::Io)?;
        let id = crate::tokens::generate()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(24)
            .collect::<String>();
        let login = CopilotLogin {
            id: id.clone(),
            provider: provider.name.clone(),
            user_code: code.user_code.clone(),
            verification_uri: code.verification_uri.clone(),
            expires_in_s: code.expires_in.unwrap_or(900).min(u32::MAX as u64) as u32,
            state: "pending".into(),
            error: None,
            stored_in: None,
        };
        if let Ok(mut all) = logins().lock() {
            // Finished logins are kept for their poller a while; drop the old ones here.
            all.retain(|_, l| l.state == "pending");
            all.insert(id.clone(), login.clone());
        }
        let credentials = self.gateway.inner.credentials.clone();
        let reference = settings.github_token.clone();
        let github_url = settings.github_url.clone();
        let task_id = id;
        let stop = self.gateway.inner.stop_background.clone();
        let work = async move {
            let outcome = match finish_device_flow(&github_url, &code).await {
                Ok(token) => {
                    let reference = reference.clone();
                    tokio::task::spawn_blocking(move || store_token(&reference, &token))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r)
                        .map_err(|e| format!("cannot store the GitHub token: {e}"))
                }
                Err(e) => Err(e),
            };
            if outcome.is_ok() {
                // The provider reads its token in the background: have it read now.
                credentials.refresh_now().await;
            }
            update(&task_id, |login| match outcome {
                Ok(()) => {
                    login.state = "done".into();
                    login.stored_in = Some(reference.to_string());
                }
                Err(e) => {
                    login.state = "failed".into();
                    login.error = Some(e);
                }
            });
        };
        // A stopping gateway ends the wait; the login is simply not finished.
        self.gateway.inner.tracker.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = work => {}
            }
        });
        Ok(login)
    }

    /// A login started by `copilot_login_start`.
    pub fn copilot_login(&self, id: &str) -> Result<CopilotLogin, AdminError> {
        logins()
            .lock()
            .ok()
            .and_then(|all| all.get(id).cloned())
            .ok_or_else(|| {
                AdminError::NotFound(format!("no Copilot login `{id}` (it may have expired)"))
            })
    }
}
