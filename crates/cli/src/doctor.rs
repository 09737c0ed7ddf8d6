//! `switchboard doctor`: the runbook's manual checks, done and explained. Each finding names
//! what was checked, what was found and what to do about it; the exit code is the worst
//! severity (0 ok/info, 1 warning, 2 error).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use switchboard_gateway::config::{self, Config, LoadError, ProviderConfig};
use switchboard_gateway::secret::SecretRef;

use crate::ask::client;

#[derive(clap::Args)]
pub struct DoctorArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
    /// A running gateway to ask about breakers and budgets (default: the config's `listen`).
    #[arg(long, env = "SWITCHBOARD_URL")]
    pub url: Option<String>,
    /// Client token for the running gateway's `/metrics` when `[tokens]` exist.
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Seconds each network step (DNS, connect, HTTP) may take.
    #[arg(long, default_value_t = 5)]
    pub timeout_s: u64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Ok,
    Info,
    Warning,
    Error,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    /// What was checked: `config`, `listen`, `bind`, `keychain`, `secret`, `backend mock dns`, ...
    pub check: String,
    pub severity: Severity,
    pub summary: String,
    /// What to do, when there is something to do.
    pub fix: Option<String>,
    /// Milliseconds the check took, for the network steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

fn finding(check: impl Into<String>, severity: Severity, summary: impl Into<String>) -> Finding {
    Finding {
        check: check.into(),
        severity,
        summary: summary.into(),
        fix: None,
        latency_ms: None,
    }
}

impl Finding {
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

pub fn run(args: DoctorArgs, config_path: &Path) -> ExitCode {
    let findings = crate::blocking(diagnose(&args, config_path));
    let worst = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok);
    if args.json {
        let body = serde_json::json!({ "worst": worst, "findings": findings });
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
    } else {
        for f in &findings {
            let mark = match f.severity {
                Severity::Ok => "ok",
                Severity::Info => "info",
                Severity::Warning => "WARN",
                Severity::Error => "ERROR",
            };
            let took = f
                .latency_ms
                .map(|ms| format!(" ({ms} ms)"))
                .unwrap_or_default();
            println!("[{mark:<5}] {}: {}{took}", f.check, f.summary);
            if let Some(fix) = &f.fix {
                println!("        fix: {fix}");
            }
        }
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        println!(
            "{} error(s), {} warning(s)",
            count(Severity::Error),
            count(Severity::Warning)
        );
    }
    match worst {
        Severity::Ok | Severity::Info => ExitCode::SUCCESS,
        Severity::Warning => ExitCode::from(1),
        Severity::Error => ExitCode::from(2),
    }
}

async fn diagnose(args: &DoctorArgs, config_path: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    let timeout = Duration::from_secs(args.timeout_s.max(1));
    let config = match config::load_file(config_path) {
        Ok(config) => {
            out.push(finding(
                "config",
                Severity::Ok,
                format!(
                    "{} is valid ({} providers, {} aliases)",
                    config_path.display(),
                    config.providers.len(),
                    config.aliases.len()
                ),
            ));
            Some(config)
        }
        Err(LoadError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            out.push(
                finding(
                    "config",
                    Severity::Warning,
                    format!("{} does not exist yet", config_path.display()),
                )
                .fix("`switchboard serve` writes the commented default there on first start; `switchboard discover --add` adds local servers"),
            );
            None
        }
        Err(LoadError::Invalid(errors)) => {
            for d in &errors.diagnostics {
                out.push(
                    finding("config", Severity::Error, format!("{}:{d}", errors.origin)).fix(
                        "edit the file at that line:col (`switchboard check` prints the same); a running gateway keeps its previous config meanwhile",
                    ),
                );
            }
            None
        }
        Err(e) => {
            out.push(finding("config", Severity::Error, e.to_string()));
            None
        }
    };
    let default = Config::embedded_default();
    let listen = config.as_ref().map_or(default.listen, |c| c.listen);
    let url = args
        .url
        .clone()
        .map(|u| crate::ask::api_base(&u))
        .unwrap_or_else(|| format!("http://{listen}/v1"));
    let running = running_gateway(&url).await;
    out.push(listen_check(listen, running.is_some()));
    if let Some(config) = &config {
        out.push(bind_check(config));
    }
    out.extend(secret_checks(config.as_ref()));
    let mut dates = Vec::new();
    if let Some(config) = &config {
        let probes = config
            .providers
            .values()
            .map(|p| backend_checks(p, timeout));
        for (findings, date) in futures::future::join_all(probes).await {
            out.extend(findings);
            dates.extend(date);
        }
    }
    match &running {
        Some(readiness) => {
            out.push(finding(
                "gateway",
                Severity::Info,
                format!(
                    "a Switchboard is running at {url} (config {}, {})",
                    readiness["config"]["path"].as_str().unwrap_or("?"),
                    if readiness["ready"] == true { "ready" } else { "NOT ready" }
                ),
            ));
            out.extend(gateway_checks(&url, args.token.as_deref(), config.as_ref()).await);
        }
        None => out.push(
            finding(
                "gateway",
                Severity::Info,
                format!("no Switchboard answers at {url}; breakers and budgets not checked"),
            )
            .fix("start it with `switchboard serve` (or `switchboard service install`), or point --url at it"),
        ),
    }
    out.push(clock_check(&dates));
    out
}

/// The readiness answer when a Switchboard answers at `url`.
async fn running_gateway(url: &str) -> Option<Value> {
    let base = url.trim_end_matches("/v1");
    let response = client()
        .get(format!("{base}/health/readiness"))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    (body.get("ready").is_some() && body.get("config").is_some()).then_some(body)
}

fn listen_check(listen: SocketAddr, gateway_answers: bool) -> Finding {
    if listen.port() == 0 {
        return finding(
            "listen",
            Severity::Info,
            format!("{listen}: any free port is taken at start"),
        );
    }
    match TcpListener::bind(listen) {
        Ok(listener) => {
            drop(listener);
            finding("listen", Severity::Ok, format!("{listen} is free"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let holder = port_holder(listen.port());
            let who = holder
                .as_ref()
                .map(|(pid, name)| format!("{name} (pid {pid})"))
                .unwrap_or_else(|| "another process (the OS did not say which)".to_owned());
            if gateway_answers {
                finding(
                    "listen",
                    Severity::Info,
                    format!("{listen} is held by a running Switchboard: {who}"),
                )
                .fix("that is this gateway; `switchboard status` asks it how it is. A second `serve` on the same port would fail")
            } else {
                let fix = match &holder {
                    Some((pid, name)) => format!(
                        "stop {name} (`kill {pid}`), or set another `listen` in the config (e.g. \"127.0.0.1:4001\")"
                    ),
                    None => format!(
                        "find it with `ss -ltnp 'sport = :{0}'` or `lsof -iTCP:{0} -sTCP:LISTEN`, or set another `listen`",
                        listen.port()
                    ),
                };
                finding(
                    "listen",
                    Severity::Error,
                    format!("{listen} is in use by {who}; `switchboard serve` cannot start there"),
                )
                .fix(fix)
            }
        }
        Err(e) => finding("listen", Severity::Error, format!("cannot bind {listen}: {e}")).fix(
            "an address this machine does not have, or a port below 1024 without privileges: change `listen`",
        ),
    }
}

/// (pid, process name) of whoever listens on TCP `port`, from /proc (Linux).
#[cfg(target_os = "linux")]
pub fn port_holder(port: u16) -> Option<(u32, String)> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT; state 0A is LISTEN; column 9 the socket inode.
            let (Some(local), Some(state), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) && *state == "0A" {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if inodes.iter().any(|i| target.as_os_str() == i.as_str()) {
                let name = std::fs::read_to_string(entry.path().join("comm"))
                    .map(|n| n.trim().to_owned())
                    .unwrap_or_else(|_| "?".to_owned());
                return Some((pid, name));
            }
        }
    }
    None
}

/// Elsewhere `lsof` knows; it is on every macOS.
#[cfg(not(target_os = "linux"))]
pub fn port_holder(port: u16) -> Option<(u32, String)> {
    let out = std::process::Command::new("lsof")
        .args(["-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN", "-Fpc"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let pid = text
        .lines()
        .find_map(|l| l.strip_prefix('p'))?
        .parse()
        .ok()?;
    let name = text.lines().find_map(|l| l.strip_prefix('c'))?.to_owned();
    Some((pid, name))
}

fn bind_check(config: &Config) -> Finding {
    let ip = config.listen.ip();
    let tokens = config.tokens.len();
    if ip.is_loopback() {
        let auth = if tokens == 0 {
            "no client token needed".to_owned()
        } else {
            format!("{tokens} client token(s) required")
        };
        finding(
            "bind",
            Severity::Ok,
            format!("{ip} is loopback: only this machine can reach it ({auth})"),
        )
        .fix("for other machines or containers (Open WebUI in Docker reaches the host as host.docker.internal) listen on 0.0.0.0 or the LAN address, with client tokens (`switchboard tokens create NAME`)")
    } else {
        let reach = if ip.is_unspecified() {
            "every interface: the LAN (and anything the firewall lets in) can reach it".to_owned()
        } else {
            format!("{ip}: whatever routes to that address can reach it")
        };
        finding(
            "bind",
            Severity::Info,
            format!("{reach}; {tokens} client token(s) required for model calls"),
        )
        .fix(format!(
            "a firewall may still block port {}: allow it (e.g. `ufw allow {}/tcp`) or listen on 127.0.0.1 if only this machine needs it",
            config.listen.port(),
            config.listen.port()
        ))
    }
}

fn secret_checks(config: Option<&Config>) -> Vec<Finding> {
    let mut out = Vec::new();
    let uses_keychain = config.is_some_and(|c| {
        c.providers
            .values()
            .filter_map(|p| p.api_key())
            .chain(c.server.admin_token.as_ref())
            .any(|r| matches!(r, SecretRef::Keychain(_)))
    });
    // A name nobody stores: "missing" proves the keychain answered.
    match switchboard_gateway::keychain::exists("switchboard-doctor-probe") {
        Ok(_) => out.push(finding(
            "keychain",
            Severity::Ok,
            "the OS keychain is reachable and unlocked",
        )),
        Err(e) => out.push(
            finding(
                "keychain",
                if uses_keychain {
                    Severity::Error
                } else {
                    Severity::Info
                },
                format!("the OS keychain cannot be used: {e}"),
            )
            .fix("unlock the keychain (a desktop session, or `gnome-keyring-daemon --unlock`); on a headless host use `api_key = \"file:PATH\"` or `env:VAR` instead"),
        ),
    }
    let Some(config) = config else {
        return out;
    };
    for key in switchboard_gateway::admin::list_keys(config) {
        let who = key.used_by.join(", ");
        out.push(match &key.problem {
            None => finding(
                "secret",
                Severity::Ok,
                format!("{} ({who}) can be read", key.reference),
            ),
            Some(problem) => finding(
                "secret",
                Severity::Error,
                format!("{} ({who}) cannot be read: {problem}", key.reference),
            )
            .fix(match key.location.as_str() {
                "keychain" => format!("`switchboard keys set {}`", key.name),
                "env" => format!("export {} in the gateway's environment (the service unit's Environment=, or your shell)", key.name),
                _ => format!("write the key to {} with mode 600", key.name),
            }),
        });
    }
    out
}

/// One backend's DNS, TCP, TLS and models endpoint (with the key), through the admin service's
/// "test connection" (the dashboard's test button runs the same), and the server's Date header.
async fn backend_checks(
    provider: &ProviderConfig,
    timeout: Duration,
) -> (Vec<Finding>, Option<jiff::Timestamp>) {
    let report = switchboard_gateway::admin::connection::test_provider(provider, timeout).await;
    let findings = report
        .steps
        .into_iter()
        .map(|s| {
            let check = match s.step.as_str() {
                "local" | "config" => format!("backend {}", report.provider),
                step => format!("backend {} {step}", report.provider),
            };
            let severity = match s.severity.as_str() {
                "ok" => Severity::Ok,
                "warning" => Severity::Warning,
                _ => Severity::Error,
            };
            Finding {
                check,
                severity,
                summary: s.summary,
                fix: s.fix,
                latency_ms: s.latency_ms.map(|ms| ms.round() as u64),
            }
        })
        .collect();
    let date = report
        .server_date_unix
        .and_then(|secs| jiff::Timestamp::from_second(secs).ok());
    (findings, date)
}

/// Breakers and budgets of the running gateway (`/health` and `/metrics`).
async fn gateway_checks(url: &str, token: Option<&str>, config: Option<&Config>) -> Vec<Finding> {
    let mut out = Vec::new();
    let base = url.trim_end_matches("/v1");
    let http = client();
    if let Ok(response) = http
        .get(format!("{base}/health"))
        .timeout(Duration::from_secs(15))
        .send()
        .await
    {
        let health: Value = response.json().await.unwrap_or(Value::Null);
        let mut all_closed = true;
        for t in health["targets"].as_array().into_iter().flatten() {
            let state = t["state"].as_str().unwrap_or("?");
            if state == "healthy" {
                continue;
            }
            all_closed = false;
            let target = t["target"].as_str().unwrap_or("?");
            let why = t["misconfigured"]
                .as_str()
                .or(t["last_error"].as_str())
                .unwrap_or("no error recorded");
            let severity = if state == "misconfigured" {
                Severity::Error
            } else {
                Severity::Warning
            };
            out.push(
                finding("breaker", severity, format!("{target} is {state}: {why}"))
                    .fix(format!("fix the cause above, then `switchboard targets reset {target}` (it also retries by itself after the cooldown)")),
            );
        }
        if all_closed {
            out.push(finding(
                "breaker",
                Severity::Ok,
                "every target's breaker is closed",
            ));
        }
    }
    let mut request = http
        .get(format!("{base}/metrics"))
        .timeout(Duration::from_secs(5));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let metrics = match request.send().await {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        Ok(r) => {
            out.push(
                finding(
                    "budget",
                    Severity::Info,
                    format!("/metrics answered {}; budgets not checked", r.status()),
                )
                .fix("pass --token (a client token) when [tokens] exist"),
            );
            return out;
        }
        Err(_) => return out,
    };
    let spent = gauge(&metrics, "switchboard_budget_spent_usd");
    let limits = gauge(&metrics, "switchboard_budget_limit_usd");
    for (budget, limit) in &limits {
        let used = spent
            .iter()
            .find(|(b, _)| b == budget)
            .map_or(0.0, |(_, v)| *v);
        let alert = config
            .and_then(|c| c.budgets.get(budget))
            .map_or(0.8, |b| b.alert_at);
        let share = if *limit > 0.0 { used / limit } else { 0.0 };
        let line = format!(
            "{budget}: ${used:.2} of ${limit:.2} ({:.0}%)",
            share * 100.0
        );
        out.push(if share >= 1.0 {
            finding("budget", Severity::Error, format!("{line}: spent")).fix("requests it covers are refused or rerouted until it resets (`switchboard budgets` says when); raise `usd` to allow more")
        } else if share >= alert {
            finding("budget", Severity::Warning, format!("{line}: past its alert threshold ({:.0}%)", alert * 100.0)).fix("raise `usd`, or expect refusals/reroutes when it is spent")
        } else {
            finding("budget", Severity::Ok, line)
        });
    }
    out
}

/// `(budget label, value)` of every sample of a Prometheus gauge.
fn gauge(metrics: &str, name: &str) -> Vec<(String, f64)> {
    metrics
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix('{')?;
            let (labels, value) = rest.split_once('}')?;
            let budget = labels
                .split(',')
                .find_map(|l| l.strip_prefix("budget=\""))?
                .trim_end_matches('"')
                .to_owned();
            Some((budget, value.trim().parse().ok()?))
        })
        .collect()
}

/// Local time against the backends' Date headers: budgets reset and short-lived tokens expire
/// by the clock.
fn clock_check(dates: &[jiff::Timestamp]) -> Finding {
    let Some(remote) = dates.iter().max() else {
        return finding(
            "clock",
            Severity::Info,
            "no backend answered with a Date header; clock skew not checked",
        );
    };
    let skew = jiff::Timestamp::now().as_second() - remote.as_second();
    if skew.abs() > 60 {
        finding("clock", Severity::Warning, format!("this machine's clock is {skew:+} s off the backends' clocks"))
            .fix("enable time sync (`timedatectl set-ntp true`): budget periods, TLS and Copilot tokens depend on it")
    } else {
        finding(
            "clock",
            Severity::Ok,
            format!("within {} s of the backends' clocks", skew.abs().max(1)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        let t = jiff::fmt::rfc2822::parse("Tue, 01 Dec 2026 15:00:00 GMT").map(|z| z.timestamp());
        assert_eq!(t.ok().map(|t| t.as_second()), Some(1_796_137_200));
    }

    #[test]
    fn budget_gauges_are_read_by_label() {
        let text = "switchboard_budget_spent_usd{budget=\"team\",period=\"day\"} 4.5\nswitchboard_budget_limit_usd{budget=\"team\",period=\"day\"} 5\n";
        assert_eq!(
            gauge(text, "switchboard_budget_spent_usd"),
            vec![("team".to_owned(), 4.5)]
        );
        assert_eq!(
            gauge(text, "switchboard_budget_limit_usd"),
            vec![("team".to_owned(), 5.0)]
        );
    }

    #[test]
    fn clock_skew_is_flagged() {
        let past = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(600);
        assert_eq!(clock_check(&[past]).severity, Severity::Warning);
        assert_eq!(
            clock_check(&[jiff::Timestamp::now()]).severity,
            Severity::Ok
        );
    }
}
