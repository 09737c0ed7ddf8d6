//! Switchboard's desktop shell: a tray icon and menu over the gateway core. It embeds the
//! gateway in-process (`controller`), shows its state (`menu_model` → `tray`), and offers the
//! same few actions from the menu, a small status page (`commands`) and the command line of a
//! second launch (`remote`). Every piece of logic that is not Tauri wiring lives in a plain
//! module with unit tests; this file only wires plugins, state and events together.

pub mod actions;
pub mod commands;
pub mod controller;
pub mod menu_model;
pub mod notices;
pub mod remembered;
pub mod remote;
mod tray;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Duration;

use switchboard_gateway::config;
use tauri::{AppHandle, Manager, RunEvent};
use tokio::sync::watch;

use controller::{Controller, ControllerOptions, Status, StatusExt};
use menu_model::MenuInput;
use notices::RateLimiter;
use remote::Remote;

/// How often the menu re-reads counters and the controller follows config changes.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// The app's state, managed by Tauri.
pub struct Shell {
    pub controller: tokio::sync::Mutex<Controller>,
    /// Read without taking the controller's lock (a stop can hold it for the grace period).
    pub status: watch::Receiver<Status>,
    pub notices: Mutex<RateLimiter>,
    /// The last menu input seen, to send notifications on changes.
    pub seen: Mutex<Option<MenuInput>>,
    pub quitting: AtomicBool,
    /// Requests logged since local midnight, refreshed every few seconds (the menu's status).
    pub today: Mutex<Option<u64>>,
}

/// Runs the app until Quit. Returns the process exit code.
pub fn run(command: Remote) -> i32 {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // The dashboard's Connect page (in the tray window too) gets its setups from this.
    switchboard_client_setup::install();

    let app = tauri::Builder::default()
        // First: a second launch hands its arguments over here and exits.
        .plugin(tauri_plugin_single_instance::init(
            |app, argv, _cwd| match remote::parse(argv.get(1..).unwrap_or_default()) {
                Ok(remote) => actions::on_remote(app, remote),
                Err(e) => tracing::warn!("second launch: {e}"),
            },
        ))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::proxy_toggle,
            commands::reload_config,
            commands::copy_base_url,
            commands::open_config_file,
            commands::readiness,
            commands::aliases,
            commands::backend_health,
        ])
        .setup(move |app| {
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);
            setup(app.handle(), command)?;
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("cannot start the app: {e}");
            return 1;
        }
    };
    app.run_return(|app, event| match event {
        // The last window closed: stay in the tray. An explicit exit (Quit) carries a code.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        // Exiting by some other path than Quit (e.g. the session ends): still shut down cleanly.
        RunEvent::Exit => {
            if let Some(shell) = app.try_state::<Shell>() {
                tauri::async_runtime::block_on(async {
                    shell.controller.lock().await.shutdown().await;
                });
            }
        }
        _ => {}
    })
}

fn setup(app: &AppHandle, command: Remote) -> Result<(), Box<dyn std::error::Error>> {
    if command == Remote::Quit {
        // Nothing was running to quit.
        app.exit(0);
        return Ok(());
    }
    let explicit = std::env::var_os("SWITCHBOARD_CONFIG").map(PathBuf::from);
    let options = ControllerOptions {
        config_path: config::config_path(explicit.as_deref()),
        database_path: None,
        state_path: app.path().app_data_dir()?.join("app-state.json"),
        watch_config: true,
    };
    let controller = tauri::async_runtime::block_on(async {
        let mut controller = Controller::open(options).await;
        // A failure to bind is shown in the menu (and notified by the first refresh).
        let _ = controller.resume().await;
        controller
    });
    let status = controller.subscribe();
    let events = controller.events();
    app.manage(Shell {
        controller: tokio::sync::Mutex::new(controller),
        status: status.clone(),
        notices: Mutex::new(RateLimiter::default()),
        seen: Mutex::new(None),
        quitting: AtomicBool::new(false),
        today: Mutex::new(None),
    });
    let view = actions::current_view(app);
    app.manage(tray::Tray::build(app, &view)?);
    if let Ok(mut seen) = app.state::<Shell>().seen.lock() {
        // Start from "stopped" so that a failure at launch is notified too.
        let mut initial = status.borrow().menu_input(None);
        initial.proxy = menu_model::ProxyState::Stopped;
        initial.rejected_reload = None;
        *seen = Some(initial);
    }
    actions::refresh(app);
    tauri::async_runtime::spawn(refresh_loop(app.clone(), status));
    tauri::async_runtime::spawn(event_loop(app.clone(), events));
    tauri::async_runtime::spawn(quit_on_signal(app.clone()));
    match command {
        Remote::Dashboard | Remote::Quit => {}
        other => actions::on_remote(app, other),
    }
    Ok(())
}

/// Keeps the menu current: on every status change, and every few seconds for the counters and
/// for config changes the watcher applied (a changed `listen` moves the listener).
async fn refresh_loop(app: AppHandle, mut status: watch::Receiver<Status>) {
    let shell = app.state::<Shell>();
    loop {
        tokio::select! {
            changed = status.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(REFRESH_EVERY) => {
                // Skip a beat while an action holds the controller.
                if let Ok(mut controller) = shell.controller.try_lock() {
                    let _ = controller.tick().await;
                }
            }
        }
        count_today(&shell).await;
        actions::refresh(&app);
    }
}

/// Counts today's requests from the request log's rollups (a cheap query) for the menu.
async fn count_today(shell: &Shell) {
    let admin = shell.status.borrow().admin.clone();
    let Some(admin) = admin else { return };
    let midnight = jiff::Zoned::now()
        .start_of_day()
        .map(|t| t.timestamp().as_millisecond());
    let count = match midnight {
        Ok(from_ms) => admin.requests_since(from_ms).await.ok(),
        Err(_) => None,
    };
    if let Ok(mut today) = shell.today.lock() {
        *today = count;
    }
}

/// Turns the gateway's events into notifications, and updates the menu at once (a breaker
/// that opens or closes changes the icon).
async fn event_loop(
    app: AppHandle,
    mut events: tokio::sync::broadcast::Receiver<switchboard_gateway::GatewayEvent>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(event) => {
                tracing::debug!(?event, "gateway event");
                if let Some(notice) = notices::for_event(&event) {
                    actions::notify(&app, &notice);
                }
                actions::refresh(&app);
            }
            Err(RecvError::Lagged(missed)) => tracing::debug!(missed, "gateway events skipped"),
            Err(RecvError::Closed) => return,
        }
    }
}

/// SIGTERM and SIGINT quit gracefully, exactly like the menu's Quit.
async fn quit_on_signal(app: AppHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot listen for SIGTERM/SIGINT");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
    }
    actions::quit(&app).await;
}
