//! The app's command line. Launching the app again while it runs hands the arguments to the
//! running instance (single-instance plugin), so `switchboard-app stop` stops the proxy of the
//! app already in the tray, and a plain second launch opens its dashboard. Scripts and the
//! end-to-end test use this to reach the same actions as the tray menu.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    /// No argument: show the dashboard of the running app.
    Dashboard,
    Start,
    Stop,
    Reload,
    /// Turns Launch at Login on or off, like the menu's check item.
    LaunchAtLogin(bool),
    Quit,
}

pub const USAGE: &str =
    "usage: switchboard-app [dashboard|start|stop|reload|quit|launch-at-login on|off]

Runs Switchboard in the system tray. If it is already running, the command goes to the running
app: no argument or `dashboard` opens its window, `start`/`stop` switch the proxy, `reload`
re-reads the config file, `launch-at-login on|off` sets the menu's Launch at Login, `quit` stops
the proxy, flushes the request log and exits.
Environment: SWITCHBOARD_CONFIG (config file), SWITCHBOARD_LOG (log filter, e.g. debug).";

/// Parses the arguments after the program name.
pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Remote, String> {
    match args {
        [] => Ok(Remote::Dashboard),
        [word] => match word.as_ref().trim_start_matches("--") {
            "dashboard" | "show" => Ok(Remote::Dashboard),
            "start" => Ok(Remote::Start),
            "stop" => Ok(Remote::Stop),
            "reload" => Ok(Remote::Reload),
            "quit" => Ok(Remote::Quit),
            other => Err(format!("unknown command `{other}`")),
        },
        [word, state] if word.as_ref().trim_start_matches("--") == "launch-at-login" => {
            match state.as_ref() {
                "on" => Ok(Remote::LaunchAtLogin(true)),
                "off" => Ok(Remote::LaunchAtLogin(false)),
                other => Err(format!(
                    "launch-at-login takes `on` or `off`, not `{other}`"
                )),
            }
        }
        _ => Err("expected at most one command".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        let none: [&str; 0] = [];
        assert_eq!(parse(&none), Ok(Remote::Dashboard));
        assert_eq!(parse(&["dashboard"]), Ok(Remote::Dashboard));
        assert_eq!(parse(&["start"]), Ok(Remote::Start));
        assert_eq!(parse(&["--stop"]), Ok(Remote::Stop));
        assert_eq!(parse(&["reload"]), Ok(Remote::Reload));
        assert_eq!(parse(&["quit"]), Ok(Remote::Quit));
        assert!(parse(&["explode"]).is_err());
        assert_eq!(
            parse(&["launch-at-login", "on"]),
            Ok(Remote::LaunchAtLogin(true))
        );
        assert_eq!(
            parse(&["launch-at-login", "off"]),
            Ok(Remote::LaunchAtLogin(false))
        );
        assert!(parse(&["launch-at-login", "maybe"]).is_err());
        assert!(parse(&["launch-at-login"]).is_err());
        assert!(parse(&["start", "stop"]).is_err());
    }
}
