//! Tauri commands for the status page: thin adapters over the admin service and the actions
//! the tray menu uses. Errors cross to JavaScript as `{code, message}`.

use serde::Serialize;
use switchboard_gateway::api::{AliasInfo, HealthReport, Readiness};
use tauri::{AppHandle, Manager};

use crate::actions;
use switchboard_gateway::supervisor::LifecycleError;

use crate::controller::{Phase, ProxyError};
use crate::menu_model::MenuView;
use crate::Shell;

#[derive(Debug, Clone, Serialize)]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}

impl CommandError {
    fn new(code: &'static str, message: impl Into<String>) -> CommandError {
        CommandError {
            code,
            message: message.into(),
        }
    }
}

impl From<ProxyError> for CommandError {
    fn from(error: ProxyError) -> Self {
        let code = match error {
            ProxyError::PortInUse { .. } => "port_in_use",
            ProxyError::CannotListen { .. } => "cannot_listen",
            ProxyError::ConfigInvalid { .. } => "config_invalid",
            ProxyError::GatewayFailed { .. } => "gateway_failed",
        };
        CommandError::new(code, error.to_string())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusPage {
    /// The same view the tray menu shows.
    pub menu: MenuView,
    pub config_path: String,
    /// Every config error as `file:line:col: message`, when the config could not be loaded.
    pub config_errors: Option<String>,
}

type Result<T> = std::result::Result<T, CommandError>;

fn admin(app: &AppHandle) -> Result<switchboard_gateway::AdminService> {
    app.state::<Shell>()
        .status
        .borrow()
        .admin
        .clone()
        .ok_or_else(|| CommandError::new("not_loaded", "the config is not loaded"))
}

#[tauri::command]
pub fn status(app: AppHandle) -> StatusPage {
    let status = app.state::<Shell>().status.borrow().clone();
    let config_errors = match &status.phase {
        Phase::Failed(LifecycleError::ConfigInvalid { message, .. }) => Some(message.clone()),
        _ => status
            .admin
            .as_ref()
            .and_then(|a| a.config_state().last_error)
            .map(|f| f.message),
    };
    StatusPage {
        menu: actions::current_view(&app),
        config_path: status.config_path.display().to_string(),
        config_errors,
    }
}

#[tauri::command]
pub async fn proxy_toggle(app: AppHandle) -> Result<()> {
    Ok(actions::toggle(&app).await?)
}

#[tauri::command]
pub async fn reload_config(app: AppHandle) -> Result<String> {
    Ok(actions::reload(&app).await?.describe())
}

#[tauri::command]
pub fn copy_base_url(app: AppHandle) -> Result<String> {
    actions::copy_base_url(&app).map_err(|e| CommandError::new("clipboard", e))
}

#[tauri::command]
pub fn open_config_file(app: AppHandle) -> Result<()> {
    actions::open_config(&app).map_err(|e| CommandError::new("opener", e))
}

#[tauri::command]
pub fn readiness(app: AppHandle) -> Result<Readiness> {
    Ok(admin(&app)?.readiness())
}

#[tauri::command]
pub fn aliases(app: AppHandle) -> Result<Vec<AliasInfo>> {
    Ok(admin(&app)?.aliases())
}

#[tauri::command]
pub async fn backend_health(app: AppHandle) -> Result<HealthReport> {
    Ok(admin(&app)?.backend_health().await)
}
