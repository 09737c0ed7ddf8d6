//! `switchboard service`: run the gateway under systemd (Linux) or launchd (macOS).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub action: ServiceAction,
    /// A per-user service (the default): runs while you are logged in (or with lingering).
    #[arg(long, global = true, conflicts_with = "system")]
    pub user: bool,
    /// A system-wide service (needs root): for headless hubs.
    #[arg(long, global = true)]
    pub system: bool,
    /// Print the file and the commands instead of writing or running anything.
    #[arg(long, global = true)]
    pub dry_run: bool,
}

#[derive(clap::Subcommand)]
pub enum ServiceAction {
    /// Write the unit (or launchd plist), then enable and start it.
    Install,
    /// Stop and disable the service and remove its file.
    Uninstall,
    /// Ask the service manager how the service is.
    Status,
}

/// What the service runs and where its files are.
pub struct Plan {
    pub exe: PathBuf,
    pub config: PathBuf,
    pub database: PathBuf,
    pub system: bool,
}

const UNIT_NAME: &str = "switchboard.service";
const LAUNCHD_LABEL: &str = "dev.switchboard.gateway";

/// Arguments inside a systemd ExecStart=: quoted so spaces in paths survive.
fn systemd_quote(path: &Path) -> String {
    let s = path.display().to_string();
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The systemd unit. ProtectSystem=strict makes the whole tree read-only, so the config dir
/// (the config writer saves there) and the database dir are named writable; `-` tolerates
/// a dir that does not exist yet.
pub fn systemd_unit(plan: &Plan) -> String {
    let config_dir = plan.config.parent().unwrap_or(Path::new("/"));
    let data_dir = plan.database.parent().unwrap_or(Path::new("/"));
    let wanted_by = if plan.system {
        "multi-user.target"
    } else {
        "default.target"
    };
    format!(
        "[Unit]
Description=Switchboard LLM gateway
Documentation=https://github.com/switchboard-gateway/switchboard
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={exe} --config {config} serve --database {database}
Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=30
NoNewPrivileges=yes
ProtectSystem=strict
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
ReadWritePaths=\"-{config_dir}\" \"-{data_dir}\"
Environment=SWITCHBOARD_LOG=info

[Install]
WantedBy={wanted_by}
",
        exe = systemd_quote(&plan.exe),
        config = systemd_quote(&plan.config),
        database = systemd_quote(&plan.database),
        config_dir = config_dir.display(),
        data_dir = data_dir.display(),
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The launchd agent (per user) or daemon (system): KeepAlive restarts it when it exits
/// with an error, like systemd's Restart=on-failure.
pub fn launchd_plist(plan: &Plan) -> String {
    let arg = |p: &Path| {
        format!(
            "    <string>{}</string>\n",
            xml_escape(&p.display().to_string())
        )
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{exe}    <string>--config</string>
{config}    <string>serve</string>
    <string>--database</string>
{database}  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ProcessType</key>
  <string>Background</string>
</dict>
</plist>
"#,
        exe = arg(&plan.exe),
        config = arg(&plan.config),
        database = arg(&plan.database),
    )
}

/// Where the service file goes.
pub fn unit_path(system: bool) -> PathBuf {
    let home = dirs_home();
    if cfg!(target_os = "macos") {
        if system {
            PathBuf::from(format!("/Library/LaunchDaemons/{LAUNCHD_LABEL}.plist"))
        } else {
            home.join(format!("Library/LaunchAgents/{LAUNCHD_LABEL}.plist"))
        }
    } else if system {
        PathBuf::from(format!("/etc/systemd/system/{UNIT_NAME}"))
    } else {
        std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"))
            .join("systemd/user")
            .join(UNIT_NAME)
    }
}

fn dirs_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The service-manager commands for an action.
fn commands(action: &ServiceAction, system: bool, path: &Path) -> Vec<Vec<String>> {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    if cfg!(target_os = "macos") {
        let p = path.display().to_string();
        return match action {
            ServiceAction::Install => vec![own(&["launchctl", "load", "-w", &p])],
            ServiceAction::Uninstall => vec![own(&["launchctl", "unload", "-w", &p])],
            ServiceAction::Status => vec![own(&["launchctl", "list", LAUNCHD_LABEL])],
        };
    }
    let ctl = |args: &[&str]| {
        let mut v = vec!["systemctl".to_owned()];
        if !system {
            v.push("--user".to_owned());
        }
        v.extend(args.iter().map(|s| (*s).to_owned()));
        v
    };
    match action {
        ServiceAction::Install => vec![
            ctl(&["daemon-reload"]),
            ctl(&["enable", "--now", UNIT_NAME]),
        ],
        ServiceAction::Uninstall => vec![
            ctl(&["disable", "--now", UNIT_NAME]),
            ctl(&["daemon-reload"]),
        ],
        ServiceAction::Status => vec![ctl(&["status", "--no-pager", UNIT_NAME])],
    }
}

fn run_command(argv: &[String]) -> Result<(), String> {
    let status = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .map_err(|e| format!("cannot run `{}`: {e}", argv.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", argv.join(" ")))
    }
}

pub fn run(args: ServiceArgs, config_path: &Path) -> ExitCode {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("switchboard"));
    // The service must not depend on the shell's working directory.
    let config = std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_owned());
    let database = switchboard_gateway::config::load_file(&config)
        .ok()
        .and_then(|c| c.database_path)
        .unwrap_or_else(switchboard_gateway::config::default_database_path);
    let plan = Plan {
        exe,
        config,
        database,
        system: args.system,
    };
    let path = unit_path(args.system);
    let file = if cfg!(target_os = "macos") {
        launchd_plist(&plan)
    } else {
        systemd_unit(&plan)
    };
    let commands = commands(&args.action, args.system, &path);
    if args.dry_run {
        if matches!(args.action, ServiceAction::Install) {
            println!("# would write {}:\n{file}", path.display());
        }
        if matches!(args.action, ServiceAction::Uninstall) {
            println!("# would remove {}", path.display());
        }
        for c in &commands {
            println!("# would run: {}", c.join(" "));
        }
        return ExitCode::SUCCESS;
    }
    let result = match args.action {
        ServiceAction::Install => std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/")))
            .and_then(|()| std::fs::write(&path, &file))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
            .and_then(|()| {
                eprintln!("wrote {}", path.display());
                commands.iter().try_for_each(|c| run_command(c))
            }),
        ServiceAction::Uninstall => commands
            .iter()
            .try_for_each(|c| run_command(c))
            .or_else(|e| {
                // Already stopped or never enabled: removing the file is still what was asked.
                eprintln!("warning: {e}");
                Ok(())
            })
            .and_then(|()| match std::fs::remove_file(&path) {
                Ok(()) => {
                    eprintln!("removed {}", path.display());
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
            }),
        ServiceAction::Status => {
            if !path.exists() {
                println!("not installed ({} does not exist)", path.display());
                return ExitCode::FAILURE;
            }
            println!("installed: {}", path.display());
            commands.iter().try_for_each(|c| run_command(c))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(system: bool) -> Plan {
        Plan {
            exe: PathBuf::from("/usr/local/bin/switchboard"),
            config: PathBuf::from("/etc/switch board/config.toml"),
            database: PathBuf::from("/var/lib/switchboard/requests.db"),
            system,
        }
    }

    #[test]
    fn systemd_unit_is_hardened_and_quotes_paths() {
        let unit = systemd_unit(&plan(true));
        for line in [
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
            "Restart=on-failure",
            "WantedBy=multi-user.target",
            "ExecStart=\"/usr/local/bin/switchboard\" --config \"/etc/switch board/config.toml\" serve --database \"/var/lib/switchboard/requests.db\"",
            "ReadWritePaths=\"-/etc/switch board\" \"-/var/lib/switchboard\"",
        ] {
            assert!(unit.lines().any(|l| l == line), "missing {line}:\n{unit}");
        }
        assert!(systemd_unit(&plan(false)).contains("WantedBy=default.target"));
    }

    #[test]
    fn launchd_plist_restarts_on_failure() {
        let plist = launchd_plist(&plan(false));
        assert!(plist.contains("<string>/etc/switch board/config.toml</string>"));
        assert!(plist.contains("<key>SuccessfulExit</key>\n    <false/>"));
    }
}
