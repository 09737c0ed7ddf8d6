//! What the tray shows, as a pure function of the app's state: state in, labels, check marks,
//! enabled flags and the icon's look out. No Tauri here, so every state is unit-tested; `tray.rs`
//! only copies a `MenuView` onto the native items, and the status page renders the same view.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Serialize;
use switchboard_gateway::config::Diagnostic;

/// Menu item ids, shared by the tray builder and the menu event dispatcher.
pub mod ids {
    pub const STATUS: &str = "status";
    pub const TOGGLE: &str = "toggle";
    pub const DASHBOARD: &str = "dashboard";
    pub const COPY_BASE_URL: &str = "copy-base-url";
    pub const AUTOSTART: &str = "autostart";
    pub const OPEN_CONFIG: &str = "open-config";
    pub const RELOAD: &str = "reload";
    pub const QUIT: &str = "quit";
}

/// Longest config error message shown in the menu; the rest is in the dashboard and the log.
const MAX_MESSAGE_CHARS: usize = 70;
/// Longest target label (`provider/model`) shown in the status line.
const MAX_TARGET_CHARS: usize = 40;
/// Longest storage failure shown: the database's words (`... database or disk is full`) end it.
const MAX_STORAGE_CHARS: usize = 100;

/// The proxy as the tray sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProxyState {
    Starting,
    Running {
        addr: SocketAddr,
        requests: Requests,
    },
    /// In-flight requests are finishing (bounded by `server.shutdown_grace_s`).
    Stopping,
    Stopped,
    PortInUse {
        addr: SocketAddr,
    },
    CannotListen {
        addr: SocketAddr,
        reason: String,
    },
    /// The config file could not be loaded, so there is no gateway to start.
    ConfigInvalid {
        problem: ConfigProblem,
    },
    /// The gateway could not be built from a valid config.
    Failed {
        reason: String,
    },
}

/// Requests handled, and over which period the number was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Requests {
    pub count: u64,
    pub period: Period,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Today,
    /// Since the gateway started (the request log's `written` counter).
    SinceStart,
}

/// A config error in words: the first diagnostic's line and message, and how many more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    pub line: Option<usize>,
    pub message: String,
    pub more: usize,
}

impl ConfigProblem {
    /// From the gateway's diagnostics; `fallback` (e.g. a read error) when there are none.
    pub fn from_diagnostics(diagnostics: &[Diagnostic], fallback: &str) -> ConfigProblem {
        match diagnostics.split_first() {
            Some((first, rest)) => ConfigProblem {
                line: Some(first.line),
                message: first.message.clone(),
                more: rest.len(),
            },
            None => ConfigProblem {
                line: None,
                message: fallback.lines().next().unwrap_or_default().to_owned(),
                more: 0,
            },
        }
    }

    /// `Config error at line 12: unknown key `lisen` (+2 more)`.
    pub fn describe(&self) -> String {
        let message = shorten(&self.message, MAX_MESSAGE_CHARS);
        let more = match self.more {
            0 => String::new(),
            n => format!(" (+{n} more)"),
        };
        match self.line {
            Some(line) => format!("Config error at line {line}: {message}{more}"),
            None => format!("Config error: {message}{more}"),
        }
    }
}

/// Everything the menu depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuInput {
    pub proxy: ProxyState,
    /// A reload the gateway rejected; the previous config keeps serving.
    pub rejected_reload: Option<ConfigProblem>,
    /// The config's `listen`, when a config is loaded (for Copy Base URL while stopped).
    pub configured_listen: Option<SocketAddr>,
    /// Targets (`provider/model`) whose breaker is open or that are marked misconfigured,
    /// sorted. Only shown while running: a stopped proxy sends no traffic anywhere.
    pub backends_down: Vec<String>,
    /// Why readiness fails while the proxy serves (the request log or the spend ledger cannot
    /// write, e.g. a full disk), in words; `None` when ready.
    pub storage_failing: Option<String>,
    /// Launch at Login; `None` when it cannot be read on this system.
    pub autostart: Option<bool>,
}

/// Which icon the tray shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrayLook {
    Running,
    Stopped,
    Error,
}

/// What the Start/Stop item does when clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToggleAction {
    Start,
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub text: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub text: String,
    pub checked: bool,
    pub enabled: bool,
}

/// The whole menu, ready to copy onto native items (and to show on the status page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuView {
    pub look: TrayLook,
    pub tooltip: String,
    /// The first, disabled item: what is going on, in words.
    pub status: String,
    pub toggle: Item,
    pub toggle_action: ToggleAction,
    pub dashboard: Item,
    pub copy_base_url: Item,
    /// What Copy Base URL copies.
    pub base_url: Option<String>,
    pub autostart: Check,
    pub open_config: Item,
    pub reload: Item,
    pub quit: Item,
}

pub fn render(input: &MenuInput) -> MenuView {
    let busy = matches!(input.proxy, ProxyState::Starting | ProxyState::Stopping);
    let status = status_line(input);
    let look = match (&input.proxy, &input.rejected_reload) {
        (ProxyState::Running { .. }, None)
            if input.backends_down.is_empty() && input.storage_failing.is_none() =>
        {
            TrayLook::Running
        }
        (ProxyState::Starting | ProxyState::Stopping, _) | (ProxyState::Stopped, None) => {
            TrayLook::Stopped
        }
        _ => TrayLook::Error,
    };
    let (toggle_action, toggle_enabled) = match input.proxy {
        ProxyState::Running { .. } => (ToggleAction::Stop, true),
        ProxyState::Stopping => (ToggleAction::Stop, false),
        ProxyState::Starting => (ToggleAction::Start, false),
        ProxyState::Stopped | ProxyState::PortInUse { .. } | ProxyState::CannotListen { .. } => {
            (ToggleAction::Start, true)
        }
        // Nothing to start until the config is fixed and reloaded.
        ProxyState::ConfigInvalid { .. } | ProxyState::Failed { .. } => {
            (ToggleAction::Start, false)
        }
    };
    let base_url = match input.proxy {
        ProxyState::Running { addr, .. } => Some(base_url(addr)),
        _ => input.configured_listen.map(base_url),
    };
    let autostart = match input.autostart {
        Some(checked) => Check {
            text: "Launch at Login".into(),
            checked,
            enabled: true,
        },
        None => Check {
            text: "Launch at Login (unavailable)".into(),
            checked: false,
            enabled: false,
        },
    };
    MenuView {
        look,
        tooltip: format!("Switchboard: {status}"),
        status,
        toggle: Item {
            text: match toggle_action {
                ToggleAction::Start => "Start proxy".into(),
                ToggleAction::Stop => "Stop proxy".into(),
            },
            enabled: toggle_enabled,
        },
        toggle_action,
        dashboard: item("Open Dashboard", true),
        copy_base_url: item("Copy Base URL", base_url.is_some()),
        base_url,
        autostart,
        open_config: item("Open Config File", true),
        reload: item("Reload Config", !busy),
        quit: item("Quit Switchboard", true),
    }
}

fn item(text: &str, enabled: bool) -> Item {
    Item {
        text: text.into(),
        enabled,
    }
}

fn status_line(input: &MenuInput) -> String {
    match &input.proxy {
        ProxyState::Starting => "Starting…".into(),
        ProxyState::Running { addr, requests } => match &input.rejected_reload {
            None => {
                let mut line = format!("Running on {addr} · {}", requests_text(requests));
                if let Some(failing) = &input.storage_failing {
                    line += &format!(" · {}", shorten(failing, MAX_STORAGE_CHARS));
                }
                if !input.backends_down.is_empty() {
                    line += &format!(" · {}", down_text(&input.backends_down));
                }
                line
            }
            Some(problem) => format!(
                "{} · still serving on {addr} with the previous config",
                problem.describe()
            ),
        },
        ProxyState::Stopping => "Stopping… (letting requests finish)".into(),
        ProxyState::Stopped => match &input.rejected_reload {
            None => "Stopped".into(),
            Some(problem) => format!("Stopped · {}", problem.describe()),
        },
        ProxyState::PortInUse { addr } => {
            format!("Port {} is in use by another program", addr.port())
        }
        ProxyState::CannotListen { addr, reason } => {
            format!(
                "Cannot listen on {addr}: {}",
                shorten(reason, MAX_MESSAGE_CHARS)
            )
        }
        ProxyState::ConfigInvalid { problem } => problem.describe(),
        ProxyState::Failed { reason } => {
            format!("Cannot start: {}", shorten(reason, MAX_MESSAGE_CHARS))
        }
    }
}

/// `backend `armitage/qwen` is down`, or how many when several are.
fn down_text(down: &[String]) -> String {
    match down {
        [one] => format!("backend {} is down", shorten(one, MAX_TARGET_CHARS)),
        many => format!("{} backends down", many.len()),
    }
}

fn requests_text(requests: &Requests) -> String {
    let noun = if requests.count == 1 {
        "request"
    } else {
        "requests"
    };
    let period = match requests.period {
        Period::Today => "today",
        Period::SinceStart => "since start",
    };
    format!("{} {noun} {period}", requests.count)
}

/// The OpenAI base URL clients use: `http://127.0.0.1:4000/v1`.
pub fn base_url(addr: SocketAddr) -> String {
    format!("{}/v1", origin(addr))
}

/// `http://host:port` for a listen address; a wildcard address is reached over loopback.
pub fn origin(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 4000))
    }

    fn input(proxy: ProxyState) -> MenuInput {
        MenuInput {
            proxy,
            rejected_reload: None,
            configured_listen: Some(addr()),
            autostart: Some(false),
            backends_down: vec![],
            storage_failing: None,
        }
    }

    fn running(count: u64) -> ProxyState {
        ProxyState::Running {
            addr: addr(),
            requests: Requests {
                count,
                period: Period::Today,
            },
        }
    }

    fn problem() -> ConfigProblem {
        ConfigProblem {
            line: Some(12),
            message: "unknown key `lisen`; did you mean `listen`?".into(),
            more: 0,
        }
    }

    #[test]
    fn running_shows_address_and_count_and_offers_stop() {
        let view = render(&input(running(42)));
        assert_eq!(view.status, "Running on 127.0.0.1:4000 · 42 requests today");
        assert_eq!(view.look, TrayLook::Running);
        assert_eq!(view.toggle.text, "Stop proxy");
        assert!(view.toggle.enabled);
        assert_eq!(view.toggle_action, ToggleAction::Stop);
        assert_eq!(view.base_url.as_deref(), Some("http://127.0.0.1:4000/v1"));
        assert!(view.copy_base_url.enabled);
        assert!(view.reload.enabled);
        assert!(view.dashboard.enabled);
        assert_eq!(
            view.tooltip,
            "Switchboard: Running on 127.0.0.1:4000 · 42 requests today"
        );
    }

    #[test]
    fn one_request_is_singular_and_since_start_is_named() {
        assert!(render(&input(running(1)))
            .status
            .ends_with("· 1 request today"));
        let view = render(&input(ProxyState::Running {
            addr: addr(),
            requests: Requests {
                count: 7,
                period: Period::SinceStart,
            },
        }));
        assert!(view.status.ends_with("· 7 requests since start"));
    }

    #[test]
    fn running_with_a_rejected_reload_is_an_error_that_still_serves() {
        let mut state = input(running(3));
        state.rejected_reload = Some(problem());
        let view = render(&state);
        assert_eq!(view.look, TrayLook::Error);
        assert_eq!(
            view.status,
            "Config error at line 12: unknown key `lisen`; did you mean `listen`? \
             · still serving on 127.0.0.1:4000 with the previous config"
        );
        assert_eq!(view.toggle.text, "Stop proxy");
        assert!(view.toggle.enabled);
    }

    #[test]
    fn a_failing_request_log_turns_the_tray_to_a_warning_with_the_reason_and_back() {
        let mut state = input(running(9));
        state.storage_failing = Some(
            "request log failing: write failed: error returned from database: (code: 13) \
             database or disk is full"
                .into(),
        );
        let view = render(&state);
        assert_eq!(view.look, TrayLook::Error);
        assert_eq!(
            view.status,
            "Running on 127.0.0.1:4000 · 9 requests today · request log failing: write failed: \
             error returned from database: (code: 13) database or disk is full"
        );
        assert!(view.tooltip.ends_with("database or disk is full"));
        assert_eq!(view.toggle_action, ToggleAction::Stop, "it still serves");
        assert!(view.toggle.enabled);

        // Space returns: readiness recovers and so does the tray.
        state.storage_failing = None;
        let view = render(&state);
        assert_eq!(view.look, TrayLook::Running);
        assert_eq!(view.status, "Running on 127.0.0.1:4000 · 9 requests today");

        // With a backend down too, both are said.
        state.storage_failing = Some("spend ledger failing: write failed: disk I/O error".into());
        state.backends_down = vec!["cloud/big".into()];
        let view = render(&state);
        assert_eq!(view.look, TrayLook::Error);
        assert!(view.status.ends_with(
            "· spend ledger failing: write failed: disk I/O error · backend cloud/big is down"
        ));
    }

    #[test]
    fn a_backend_down_while_running_is_an_error_that_names_it() {
        let mut state = input(running(5));
        state.backends_down = vec!["armitage/Qwen2.5-7B-Instruct-AWQ".into()];
        let view = render(&state);
        assert_eq!(view.look, TrayLook::Error);
        assert_eq!(
            view.status,
            "Running on 127.0.0.1:4000 · 5 requests today · \
             backend armitage/Qwen2.5-7B-Instruct-AWQ is down"
        );
        assert_eq!(view.toggle_action, ToggleAction::Stop);
        assert!(view.toggle.enabled);

        state.backends_down.push("openai/gpt-4.1-mini".into());
        let view = render(&state);
        assert!(
            view.status.ends_with("· 2 backends down"),
            "{}",
            view.status
        );

        // A rejected reload is the more urgent news.
        state.rejected_reload = Some(problem());
        assert!(render(&state).status.starts_with("Config error at line 12"));

        // Stopped: nothing is routed, so backends do not colour the icon.
        state.proxy = ProxyState::Stopped;
        state.rejected_reload = None;
        let view = render(&state);
        assert_eq!(view.look, TrayLook::Stopped);
        assert_eq!(view.status, "Stopped");
    }

    #[test]
    fn stopped_offers_start_and_still_copies_the_configured_url() {
        let view = render(&input(ProxyState::Stopped));
        assert_eq!(view.status, "Stopped");
        assert_eq!(view.look, TrayLook::Stopped);
        assert_eq!(view.toggle.text, "Start proxy");
        assert!(view.toggle.enabled);
        assert_eq!(view.toggle_action, ToggleAction::Start);
        assert_eq!(view.base_url.as_deref(), Some("http://127.0.0.1:4000/v1"));
        assert!(view.copy_base_url.enabled);
    }

    #[test]
    fn stopped_with_a_rejected_reload_shows_the_error() {
        let mut state = input(ProxyState::Stopped);
        state.rejected_reload = Some(problem());
        let view = render(&state);
        assert_eq!(view.look, TrayLook::Error);
        assert!(view
            .status
            .starts_with("Stopped · Config error at line 12: "));
        assert!(view.toggle.enabled);
    }

    #[test]
    fn starting_and_stopping_disable_the_toggle_and_reload() {
        for (state, label) in [
            (ProxyState::Starting, "Start proxy"),
            (ProxyState::Stopping, "Stop proxy"),
        ] {
            let view = render(&input(state));
            assert_eq!(view.look, TrayLook::Stopped);
            assert_eq!(view.toggle.text, label);
            assert!(!view.toggle.enabled);
            assert!(!view.reload.enabled);
            assert!(view.quit.enabled);
        }
        assert_eq!(render(&input(ProxyState::Starting)).status, "Starting…");
        assert_eq!(
            render(&input(ProxyState::Stopping)).status,
            "Stopping… (letting requests finish)"
        );
    }

    #[test]
    fn port_in_use_says_so_and_allows_retry() {
        let view = render(&input(ProxyState::PortInUse { addr: addr() }));
        assert_eq!(view.status, "Port 4000 is in use by another program");
        assert_eq!(view.look, TrayLook::Error);
        assert_eq!(view.toggle.text, "Start proxy");
        assert!(view.toggle.enabled);
    }

    #[test]
    fn cannot_listen_shows_the_reason() {
        let view = render(&input(ProxyState::CannotListen {
            addr: SocketAddr::from(([10, 1, 2, 3], 4000)),
            reason: "Cannot assign requested address (os error 99)".into(),
        }));
        assert_eq!(
            view.status,
            "Cannot listen on 10.1.2.3:4000: Cannot assign requested address (os error 99)"
        );
        assert_eq!(view.look, TrayLook::Error);
        assert!(view.toggle.enabled);
    }

    #[test]
    fn invalid_config_shows_line_and_disables_start_until_reload() {
        let mut state = input(ProxyState::ConfigInvalid {
            problem: ConfigProblem {
                more: 2,
                ..problem()
            },
        });
        state.configured_listen = None;
        let view = render(&state);
        assert_eq!(
            view.status,
            "Config error at line 12: unknown key `lisen`; did you mean `listen`? (+2 more)"
        );
        assert_eq!(view.look, TrayLook::Error);
        assert!(!view.toggle.enabled);
        assert!(view.reload.enabled);
        assert!(view.open_config.enabled);
        assert!(!view.copy_base_url.enabled);
        assert_eq!(view.base_url, None);
    }

    #[test]
    fn gateway_failure_is_an_error() {
        let view = render(&input(ProxyState::Failed {
            reason: "provider `x`: bad header".into(),
        }));
        assert_eq!(view.status, "Cannot start: provider `x`: bad header");
        assert_eq!(view.look, TrayLook::Error);
        assert!(!view.toggle.enabled);
    }

    #[test]
    fn autostart_reflects_the_real_state_or_is_disabled() {
        let mut state = input(ProxyState::Stopped);
        state.autostart = Some(true);
        let view = render(&state);
        assert!(view.autostart.checked && view.autostart.enabled);
        assert_eq!(view.autostart.text, "Launch at Login");
        state.autostart = None;
        let view = render(&state);
        assert!(!view.autostart.checked && !view.autostart.enabled);
    }

    #[test]
    fn problems_come_from_diagnostics_or_the_fallback() {
        let diagnostics = vec![
            Diagnostic {
                line: 12,
                col: 1,
                message: "unknown key".into(),
            },
            Diagnostic {
                line: 20,
                col: 3,
                message: "other".into(),
            },
        ];
        let p = ConfigProblem::from_diagnostics(&diagnostics, "ignored");
        assert_eq!(
            p.describe(),
            "Config error at line 12: unknown key (+1 more)"
        );
        let p = ConfigProblem::from_diagnostics(&[], "cannot read x: denied\nmore");
        assert_eq!(p.describe(), "Config error: cannot read x: denied");
    }

    #[test]
    fn long_messages_are_shortened() {
        let p = ConfigProblem {
            line: Some(1),
            message: "x".repeat(200),
            more: 0,
        };
        let text = p.describe();
        assert!(text.ends_with('…'));
        assert!(text.chars().count() < 100);
    }

    #[test]
    fn base_url_uses_loopback_for_wildcards() {
        assert_eq!(
            base_url("0.0.0.0:4000".parse().unwrap()),
            "http://127.0.0.1:4000/v1"
        );
        assert_eq!(
            base_url("[::]:4000".parse().unwrap()),
            "http://[::1]:4000/v1"
        );
        assert_eq!(
            base_url("[::1]:4001".parse().unwrap()),
            "http://[::1]:4001/v1"
        );
    }
}
