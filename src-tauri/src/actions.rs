//! What the tray menu, the Tauri commands, a second launch (`remote`) and the quit signal do.
//! Each action is a few lines over the controller, the admin service or a plugin; the menu and
//! the commands call the same functions, so there is one implementation of each.

use std::sync::atomic::Ordering;
use std::time::Instant;

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_clipboard_manager::ClipboardExt as _;
use tauri_plugin_notification::NotificationExt as _;
use tauri_plugin_opener::OpenerExt as _;

use crate::controller::{ProxyError, ReloadReport, StatusExt};
use crate::menu_model::{
    self, ids, MenuInput, MenuView, Period, ProxyState, Requests, ToggleAction,
};
use crate::notices::{self, Notice};
use crate::remote::Remote;
use crate::Shell;

pub const DASHBOARD_LABEL: &str = "dashboard";

/// Dispatches a tray menu click.
pub fn on_menu(app: &AppHandle, id: &str) {
    let app = app.clone();
    match id {
        ids::TOGGLE => spawn(async move {
            let _ = toggle(&app).await;
        }),
        ids::DASHBOARD => spawn(async move { open_dashboard(&app).await }),
        ids::COPY_BASE_URL => log_err("copy base URL", copy_base_url(&app)),
        ids::AUTOSTART => log_err("launch at login", toggle_autostart(&app)),
        ids::OPEN_CONFIG => log_err("open config", open_config(&app)),
        ids::RELOAD => spawn(async move {
            let _ = reload(&app).await;
        }),
        ids::QUIT => spawn(async move { quit(&app).await }),
        _ => {}
    }
}

/// Runs what a second launch asked for (see `remote`).
pub fn on_remote(app: &AppHandle, remote: Remote) {
    let app = app.clone();
    spawn(async move {
        match remote {
            Remote::Dashboard => open_dashboard(&app).await,
            Remote::Start => {
                let _ = start(&app).await;
            }
            Remote::Stop => stop(&app).await,
            Remote::Reload => {
                let _ = reload(&app).await;
            }
            Remote::CopyBaseUrl => log_err("copy base URL", copy_base_url(&app).map(|_| ())),
            Remote::LaunchAtLogin(on) => log_err("launch at login", set_autostart(&app, on)),
            Remote::Quit => quit(&app).await,
        }
    });
}

pub fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) {
    tauri::async_runtime::spawn(task);
}

fn log_err<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) {
    if let Err(e) = result {
        tracing::warn!("{what}: {e}");
    }
}

/// Start when stopped, stop when running: what the one menu item says.
pub async fn toggle(app: &AppHandle) -> Result<(), ProxyError> {
    match current_view(app).toggle_action {
        ToggleAction::Start => start(app).await.map(|_| ()),
        ToggleAction::Stop => {
            stop(app).await;
            Ok(())
        }
    }
}

pub async fn start(app: &AppHandle) -> Result<String, ProxyError> {
    let shell = app.state::<Shell>();
    let result = shell.controller.lock().await.start().await;
    refresh(app);
    match result {
        Ok(addr) => Ok(menu_model::base_url(addr)),
        Err(error) => {
            notify_error(app, &error, false);
            Err(error)
        }
    }
}

pub async fn stop(app: &AppHandle) {
    let shell = app.state::<Shell>();
    shell.controller.lock().await.stop().await;
    refresh(app);
}

pub async fn reload(app: &AppHandle) -> Result<ReloadReport, ProxyError> {
    let shell = app.state::<Shell>();
    let result = shell.controller.lock().await.reload().await;
    refresh(app);
    match &result {
        Ok(report) => tracing::info!("{}", report.describe()),
        Err(error) => notify_error(app, error, true),
    }
    result
}

/// Shows the dashboard window, creating it if needed: the gateway's web UI at `/ui`, reached
/// through a one-time login link (the window gets its own session; nothing is copied), or the
/// status page bundled with the app while the gateway does not serve (stopped, failed).
pub async fn open_dashboard(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(DASHBOARD_LABEL) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let web_ui = {
        let shell = app.state::<Shell>();
        let controller = shell.controller.lock().await;
        controller.web_ui_url().await
    };
    let url = match web_ui.as_deref().map(str::parse) {
        Some(Ok(url)) => WebviewUrl::External(url),
        _ => WebviewUrl::App("index.html".into()),
    };
    let app2 = app.clone();
    // Windows are created on the main thread.
    let created = app.run_on_main_thread(move || {
        let built = WebviewWindowBuilder::new(&app2, DASHBOARD_LABEL, url)
            .title("Switchboard")
            // The dashboard names the page (and today's count) in its title: so does the window.
            .on_document_title_changed(|window, title| {
                let _ = window.set_title(&title);
            })
            .inner_size(1180.0, 780.0)
            .min_inner_size(420.0, 320.0)
            .build();
        match built {
            Ok(window) => {
                let _ = window.set_focus();
            }
            Err(e) => tracing::error!("cannot open the dashboard: {e}"),
        }
    });
    log_err("open dashboard", created);
}

pub fn copy_base_url(app: &AppHandle) -> Result<String, String> {
    let url = current_view(app)
        .base_url
        .ok_or("no address to copy: the config is not loaded")?;
    app.clipboard()
        .write_text(url.clone())
        .map_err(|e| e.to_string())?;
    Ok(url)
}

/// Flips Launch at Login (the menu's check item) and returns the state in effect afterwards.
pub fn toggle_autostart(app: &AppHandle) -> Result<bool, String> {
    let enabled = app.autolaunch().is_enabled().map_err(|e| e.to_string())?;
    set_autostart(app, !enabled)
}

/// Turns Launch at Login on or off (a LaunchAgent on macOS, an XDG autostart entry on Linux)
/// and returns the state in effect afterwards, read back from the system.
pub fn set_autostart(app: &AppHandle, on: bool) -> Result<bool, String> {
    let autolaunch = app.autolaunch();
    let result = if on {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    tracing::info!(on, "launch at login");
    // The click flipped the native check mark by itself: put back the state in effect.
    if let Some(tray) = app.try_state::<crate::tray::Tray>() {
        log_err(
            "launch at login",
            tray.show_autostart(&current_view(app).autostart),
        );
    }
    refresh(app);
    result.map_err(|e| e.to_string())?;
    autolaunch.is_enabled().map_err(|e| e.to_string())
}

pub fn open_config(app: &AppHandle) -> Result<(), String> {
    let path = app.state::<Shell>().status.borrow().config_path.clone();
    app.opener()
        .open_path(path.display().to_string(), None::<&str>)
        .map_err(|e| e.to_string())
}

/// Graceful quit: stop serving (in-flight requests finish within the grace period), flush the
/// request log, then exit. Reached from the menu, `switchboard-app quit`, SIGTERM and SIGINT.
pub async fn quit(app: &AppHandle) {
    let shell = app.state::<Shell>();
    if shell.quitting.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::info!("quitting: finishing in-flight requests");
    shell.controller.lock().await.shutdown().await;
    tracing::info!("request log flushed; bye");
    app.exit(0);
}

/// The menu for the current state (also what the status page shows).
pub fn current_view(app: &AppHandle) -> MenuView {
    let shell = app.state::<Shell>();
    let status = shell.status.borrow().clone();
    menu_model::render(&with_today(&shell, status.menu_input(autostart_state(app))))
}

/// Today's count (see `count_today` in lib.rs) in place of the since-start one, once known.
fn with_today(shell: &Shell, mut input: MenuInput) -> MenuInput {
    let today = shell.today.lock().map(|t| *t).unwrap_or(None);
    if let (Some(count), ProxyState::Running { requests, .. }) = (today, &mut input.proxy) {
        *requests = Requests {
            count,
            period: Period::Today,
        };
    }
    input
}

fn autostart_state(app: &AppHandle) -> Option<bool> {
    app.try_state::<tauri_plugin_autostart::AutoLaunchManager>()
        .and_then(|m| m.is_enabled().ok())
}

/// Recomputes the menu, copies what changed onto the tray and sends the notifications the
/// change calls for. Called on every status change, every few seconds, and after actions.
pub fn refresh(app: &AppHandle) {
    let shell = app.state::<Shell>();
    let status = shell.status.borrow().clone();
    let input = with_today(&shell, status.menu_input(autostart_state(app)));
    let view = menu_model::render(&input);
    if let Some(tray) = app.try_state::<crate::tray::Tray>() {
        log_err("update tray", tray.apply(&view));
    }
    let previous = {
        let mut seen = shell.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.replace(input.clone())
    };
    if let Some(previous) = previous {
        for notice in notices::changes(&previous, &input) {
            notify(app, &notice);
        }
    }
}

fn notify_error(app: &AppHandle, error: &ProxyError, reloading: bool) {
    let notice = match error {
        ProxyError::PortInUse { addr } => Notice::port_in_use(addr.port()),
        ProxyError::ConfigInvalid { problem, .. } if reloading => Notice::reload_rejected(problem),
        ProxyError::ConfigInvalid { problem, .. } => Notice::config_invalid(problem),
        other => Notice::cannot_start(&other.to_string()),
    };
    notify(app, &notice);
}

/// Shows a desktop notification unless one of its kind went out just now.
pub fn notify(app: &AppHandle, notice: &Notice) {
    let shell = app.state::<Shell>();
    let allowed = shell
        .notices
        .lock()
        .map(|mut limiter| limiter.allow(notice, Instant::now()))
        .unwrap_or(false);
    if !allowed {
        tracing::debug!(title = %notice.title, "notification held back (rate limit)");
        return;
    }
    tracing::info!(title = %notice.title, body = %notice.body, "notification");
    let shown = app
        .notification()
        .builder()
        .title(&notice.title)
        .body(&notice.body)
        .show();
    log_err("notification", shown);
}
