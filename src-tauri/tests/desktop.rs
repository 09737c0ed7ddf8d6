//! End to end: the real `switchboard-app` binary on a virtual X display (`xvfb-run`) with a
//! private D-Bus session (`dbus-run-session`, which the single-instance plugin needs), HOME and
//! the XDG dirs in a temporary directory, and a config listening on a free port.
//!
//! The tray menu itself cannot be clicked from a test (no tray host on Xvfb, and WebDriver only
//! reaches webviews), so the test drives the code paths the menu items call: a second launch
//! hands `dashboard`, `start`, `launch-at-login on|off`, `quit` to the running instance, which
//! runs `actions::{open_dashboard, start, set_autostart, quit}`, the functions the menu
//! dispatches to (`stop` and `copy-base-url` too); the window is closed with WM_DELETE_WINDOW
//! like a close button; SIGTERM runs `actions::quit` too. The window shows the web dashboard
//! (logged in through a one-time link); its title follows the page's, which names today's
//! request count on the overview, so the test reads the dashboard's data off the window name.
//! While the gateway does not serve (a taken port) the window shows the bundled status page.
//! Desktop notifications are read off the session bus with dbus-monitor.
//!
//! Screenshots of the whole screen (the dashboard window) and the app's log are saved to
//! `$SWITCHBOARD_ARTIFACTS` (default: `<target>/tmp/artifacts/`); the paths are printed.
//!
//! Ignored by a plain `cargo test`: it needs `xvfb-run`, `dbus-run-session`, `dbus-monitor`,
//! ImageMagick, `xdotool`, `xclip` and `python3` (`scripts/bootstrap.sh test` installs them).
//! `scripts/test.sh` runs it: `cargo test -p switchboard-app --test desktop -- --ignored`.

#![cfg(target_os = "linux")]
// clippy.toml's allow-unwrap-in-tests then counts the helpers below as test code too.
#![cfg(test)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const APP: &str = env!("CARGO_BIN_EXE_switchboard-app");

/// Both tests start an X server with `xvfb-run -a`, which picks a display number racily.
static ONE_DESKTOP_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The status page's dot (`style.css`): red on an error.
const RED: &str = "#dc2626";
/// The web dashboard's accent (`ui/src/app.css`, light theme): the current page in the nav.
const ACCENT: &str = "#2563eb";
/// The dashboard window, whatever page it shows.
const WINDOW: &str = "^Switchboard( .*)?$";

#[test]
#[ignore = "needs Xvfb and a D-Bus session; scripts/test.sh runs it"]
fn tray_app_serves_switches_and_quits_cleanly() {
    let Some(_desktop) = gui_tools() else { return };
    let artifacts = artifacts_dir();
    let desk = Desktop::new();
    let addr = free_addr();
    desk.write_config(addr);

    let started = Instant::now();
    let mut app = desk.launch();
    let env = desk.wait_for_session(&mut app);
    desk.wait_answers(&mut app, addr, Duration::from_secs(120));
    eprintln!("app ready in {:.1} s", started.elapsed().as_secs_f64());

    let (code, body) = http(
        addr,
        "POST",
        "/v1/chat/completions",
        r#"{"model":"demo","messages":[{"role":"user","content":"hello"}]}"#,
    )
    .unwrap();
    assert_eq!(code, 200, "{body}");

    // A plain second launch opens the running app's dashboard (and exits at once): the web
    // dashboard, logged in, whose overview counts the request above.
    desk.second_launch(&env, &[]);
    wait_until(
        "the dashboard's overview with today's request",
        Duration::from_secs(60),
        &mut app,
        &desk,
        || Ok(!find_windows(&env, "^Switchboard .+ Overview .+ 1 request today$").is_empty()),
    );
    let shot = artifacts.join("app-dashboard.png");
    wait_until(
        "the dashboard renders",
        Duration::from_secs(30),
        &mut app,
        &desk,
        || screenshot_shows(&env, &shot, ACCENT),
    );
    eprintln!("screenshot: {}", shot.display());

    // Launch at Login: on writes the XDG autostart entry (in the temporary home), off removes it.
    let entry = desk.home().join(".config/autostart/Switchboard.desktop");
    desk.second_launch(&env, &["launch-at-login", "on"]);
    wait_until(
        "the autostart entry",
        Duration::from_secs(10),
        &mut app,
        &desk,
        || Ok(entry.exists()),
    );
    let text = std::fs::read_to_string(&entry).unwrap();
    assert!(text.contains(&format!("Exec={APP}")), "{text}");
    desk.second_launch(&env, &["launch-at-login", "off"]);
    wait_until(
        "the autostart entry is removed",
        Duration::from_secs(10),
        &mut app,
        &desk,
        || Ok(!entry.exists()),
    );

    // Copy Base URL (the menu item's action) fills the clipboard.
    desk.second_launch(&env, &["copy-base-url"]);
    let base_url = format!("http://{addr}/v1");
    wait_until(
        "the clipboard",
        Duration::from_secs(10),
        &mut app,
        &desk,
        || Ok(clipboard(&env) == base_url),
    );

    // A broken save is rejected (the watcher reloads), notified, shown, and the old config
    // keeps serving.
    desk.write_text("listen = \"127.0.0.1:1\"\nlisen = true\n");
    wait_until(
        "the rejected-config notification",
        Duration::from_secs(30),
        &mut app,
        &desk,
        || Ok(desk.notifications().contains("Config change rejected")),
    );
    desk.wait_answers(&mut app, addr, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(1500)); // the dashboard hears it over SSE
    let rejected = artifacts.join("app-config-rejected.png");
    screenshot(&env, &rejected).unwrap();
    eprintln!("screenshot: {}", rejected.display());
    // Fixed (not byte-identical to the serving text: see controller tests).
    desk.write_text(&(config_text(addr) + "# fixed\n"));

    // Closing the window keeps the app (and the proxy) running in the tray.
    close_windows(&env, WINDOW);
    wait_until(
        "the window closes",
        Duration::from_secs(10),
        &mut app,
        &desk,
        || Ok(find_windows(&env, WINDOW).is_empty()),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        app.try_wait().unwrap().is_none(),
        "closing the window quit the app"
    );
    desk.wait_answers(&mut app, addr, Duration::from_secs(5));
    desk.second_launch(&env, &["dashboard"]);
    wait_until(
        "the window reopens",
        Duration::from_secs(20),
        &mut app,
        &desk,
        || Ok(!find_windows(&env, WINDOW).is_empty()),
    );

    // Stop proxy (the menu item's action): the port is free again, and the choice is
    // remembered.
    let reopened = artifacts.join("app-reopened.png");
    wait_until(
        "the dashboard renders again",
        Duration::from_secs(60),
        &mut app,
        &desk,
        || screenshot_shows(&env, &reopened, ACCENT),
    );
    desk.second_launch(&env, &["stop"]);
    wait_until(
        "the port is free",
        Duration::from_secs(20),
        &mut app,
        &desk,
        || Ok(TcpListener::bind(addr).is_ok()),
    );
    assert!(desk.remembered().contains("\"proxy_enabled\": false"));
    // The dashboard in the window follows: its overview says Stopped (no stale "Running"),
    // and names it in the title, which the window takes.
    wait_until(
        "the dashboard says the proxy stopped",
        Duration::from_secs(15),
        &mut app,
        &desk,
        || Ok(!find_windows(&env, "^Switchboard .+ Overview .+ stopped$").is_empty()),
    );
    let stopped = artifacts.join("app-stopped.png");
    screenshot(&env, &stopped).unwrap();
    eprintln!("screenshot: {}", stopped.display());

    // Start proxy: it answers again.
    desk.second_launch(&env, &["start"]);
    desk.wait_answers(&mut app, addr, Duration::from_secs(20));
    assert!(desk.remembered().contains("\"proxy_enabled\": true"));
    // And back: the same session (the app keeps its gateway), the overview's figures again.
    wait_until(
        "the dashboard says the proxy runs again",
        Duration::from_secs(20),
        &mut app,
        &desk,
        || Ok(!find_windows(&env, "^Switchboard .+ Overview .+ 1 request today$").is_empty()),
    );

    // SIGTERM quits gracefully: exit code 0, port free, request log flushed.
    let log = desk.quit_with_sigterm(&mut app);
    std::fs::write(artifacts.join("app.log"), &log).unwrap();
    assert!(TcpListener::bind(addr).is_ok());
    assert_eq!(desk.logged_requests(), 1, "{log}");
    eprintln!("whole run {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
#[ignore = "needs Xvfb and a D-Bus session; scripts/test.sh runs it"]
fn a_taken_port_is_shown_and_notified_and_start_recovers() {
    let Some(_desktop) = gui_tools() else { return };
    let artifacts = artifacts_dir();
    let desk = Desktop::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    desk.write_config(addr);

    let mut app = desk.launch();
    let env = desk.wait_for_session(&mut app);
    let notified = format!("Port {} is in use by another program", addr.port());
    // The desktop notification goes out on the session bus.
    wait_until(
        "the notification",
        Duration::from_secs(60),
        &mut app,
        &desk,
        || Ok(desk.notifications().contains(&notified)),
    );
    desk.second_launch(&env, &[]);
    let shot = artifacts.join("app-port-in-use.png");
    wait_until(
        "the dashboard renders the error",
        Duration::from_secs(60),
        &mut app,
        &desk,
        || screenshot_shows(&env, &shot, RED),
    );
    eprintln!("screenshot: {}", shot.display());

    // Once the other program lets go, Start proxy binds.
    drop(taken);
    desk.second_launch(&env, &["start"]);
    desk.wait_answers(&mut app, addr, Duration::from_secs(20));

    // Quit, as the menu item does: in-flight work finishes, the log is flushed, exit code 0.
    desk.second_launch(&env, &["quit"]);
    let log = desk.wait_graceful_exit(&mut app);
    std::fs::write(artifacts.join("app-port-in-use.log"), &log).unwrap();
    assert!(TcpListener::bind(addr).is_ok());
}

/// Checks the tools are there and holds the desktop lock.
fn gui_tools() -> Option<MutexGuard<'static, ()>> {
    for tool in [
        "xvfb-run",
        "dbus-run-session",
        "dbus-monitor",
        "import",
        "identify",
        "convert",
        "xdotool",
        "xclip",
        "python3",
    ] {
        assert!(
            which(tool),
            "`{tool}` is missing: run scripts/bootstrap.sh test (apt: xvfb xauth dbus \
             imagemagick xdotool xclip python3)"
        );
    }
    Some(
        ONE_DESKTOP_AT_A_TIME
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
    )
}

/// A private home: HOME and the XDG dirs in one temporary directory.
struct Desktop {
    root: tempfile::TempDir,
}

impl Desktop {
    fn new() -> Desktop {
        let root = tempfile::tempdir().unwrap();
        let desk = Desktop { root };
        for dir in [".config", ".local/share", ".cache", "runtime"] {
            std::fs::create_dir_all(desk.home().join(dir)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            desk.home().join("runtime"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        desk
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn write_config(&self, addr: SocketAddr) {
        self.write_text(&config_text(addr));
    }

    fn write_text(&self, text: &str) {
        let path = self.home().join(".config/switchboard/config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// The environment every process of this desktop gets, on top of a cleared one.
    fn base_env(&self) -> Vec<(String, String)> {
        let home = self.home();
        let at = |p: &str| home.join(p).display().to_string();
        let mut env = vec![
            ("HOME".into(), home.display().to_string()),
            ("XDG_CONFIG_HOME".into(), at(".config")),
            ("XDG_DATA_HOME".into(), at(".local/share")),
            ("XDG_CACHE_HOME".into(), at(".cache")),
            ("XDG_RUNTIME_DIR".into(), at("runtime")),
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("SWITCHBOARD_LOG".into(), "info".into()),
            // Software rendering on a virtual display.
            ("WEBKIT_DISABLE_COMPOSITING_MODE".into(), "1".into()),
            ("LIBGL_ALWAYS_SOFTWARE".into(), "1".into()),
            ("NO_AT_BRIDGE".into(), "1".into()),
        ];
        if let Ok(lang) = std::env::var("LANG") {
            env.push(("LANG".into(), lang));
        }
        env
    }

    /// Starts the app in its own X server and D-Bus session. A wrapper records the session's
    /// DISPLAY, XAUTHORITY and bus address (for screenshots and second launches) and the app's
    /// pid, then becomes the app.
    fn launch(&self) -> Child {
        let wrapper = self.root.path().join("wrapper.sh");
        std::fs::write(
            &wrapper,
            "#!/bin/sh\n\
             env | grep -E '^(DISPLAY|XAUTHORITY|DBUS_SESSION_BUS_ADDRESS)=' > \"$SESSION_ENV.tmp\"\n\
             mv \"$SESSION_ENV.tmp\" \"$SESSION_ENV\"\n\
             dbus-monitor --session \"interface='org.freedesktop.Notifications'\" > \"$NOTIFY_LOG\" 2>&1 &\n\
             sleep 0.3\n\
             echo $$ > \"$APP_PID\"\n\
             exec \"$APP\"\n",
        )
        .unwrap();
        let log = std::fs::File::create(self.root.path().join("app.log")).unwrap();
        // The bus inside the X session, so services it starts (portals) find the display.
        Command::new("xvfb-run")
            .args([
                "-a",
                "-s",
                "-screen 0 1280x800x24",
                "dbus-run-session",
                "--",
                "sh",
            ])
            .arg(&wrapper)
            .env_clear()
            .envs(self.base_env())
            .env("SESSION_ENV", self.root.path().join("session.env"))
            .env("APP_PID", self.root.path().join("app.pid"))
            .env("NOTIFY_LOG", self.root.path().join("notifications.log"))
            .env("APP", APP)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn wait_for_session(&self, app: &mut Child) -> Vec<(String, String)> {
        let path = self.root.path().join("session.env");
        wait_until(
            "the X and D-Bus session",
            Duration::from_secs(30),
            app,
            self,
            || Ok(path.exists()),
        );
        let text = std::fs::read_to_string(path).unwrap();
        let session: HashMap<_, _> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut env = self.base_env();
        env.extend(session);
        env
    }

    /// Runs the app again in the same session; it hands `args` to the running app and exits.
    fn second_launch(&self, env: &[(String, String)], args: &[&str]) {
        let output = Command::new(APP)
            .args(args)
            .env_clear()
            .envs(env.iter().cloned())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "second launch {args:?}: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
    }

    fn wait_answers(&self, app: &mut Child, addr: SocketAddr, timeout: Duration) {
        wait_until("the proxy answers", timeout, app, self, || {
            http(addr, "GET", "/health/liveliness", "").map(|(code, _)| code == 200)
        });
    }

    /// Sends SIGTERM and expects a graceful exit (code 0, request log flushed). Returns the log.
    fn quit_with_sigterm(&self, app: &mut Child) -> String {
        let pid = std::fs::read_to_string(self.root.path().join("app.pid")).unwrap();
        let killed = Command::new("kill")
            .args(["-TERM", pid.trim()])
            .status()
            .unwrap();
        assert!(killed.success());
        self.wait_graceful_exit(app)
    }

    /// Waits for the app to exit after a quit; expects code 0 and the request log flushed.
    fn wait_graceful_exit(&self, app: &mut Child) -> String {
        let status = wait_exit(app, Duration::from_secs(40))
            .unwrap_or_else(|| panic!("the app did not quit\n{}", self.log()));
        let log = self.log();
        assert!(status.success(), "exit status {status}\n{log}");
        assert!(log.contains("request log flushed; bye"), "{log}");
        log
    }

    fn remembered(&self) -> String {
        let path = self
            .home()
            .join(".local/share/dev.switchboard.tray/app-state.json");
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Desktop notifications sent on the session bus (recorded by `dbus-monitor`).
    fn notifications(&self) -> String {
        std::fs::read_to_string(self.root.path().join("notifications.log")).unwrap_or_default()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("app.log")).unwrap_or_default()
    }

    fn logged_requests(&self) -> i64 {
        let path = self.home().join(".local/share/switchboard/switchboard.db");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use sqlx::Connection;
            let url = format!("sqlite://{}?mode=ro", path.display());
            let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM requests")
                .fetch_one(&mut db)
                .await
                .unwrap();
            count
        })
    }
}

/// Polls `check` until it returns true; fails with the app's log on timeout or if the app exits.
fn wait_until(
    what: &str,
    timeout: Duration,
    app: &mut Child,
    desk: &Desktop,
    mut check: impl FnMut() -> std::io::Result<bool>,
) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(true) = check() {
            return;
        }
        if let Ok(Some(status)) = app.try_wait() {
            panic!(
                "the app exited ({status}) waiting for {what}\n{}",
                desk.log()
            );
        }
        if Instant::now() > deadline {
            let _ = app.kill();
            panic!("timed out waiting for {what}\n{}", desk.log());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn wait_exit(app: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = app.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = app.kill();
    None
}

/// Saves a screenshot and tells whether it shows a rendered page with `colour` on it (the
/// status dot: proof the page got the app's state over IPC, not just that a window exists).
fn screenshot_shows(env: &[(String, String)], path: &Path, colour: &str) -> std::io::Result<bool> {
    if screenshot(env, path)? < 40 {
        return Ok(false);
    }
    // Pixels within 8% of `colour` become white, all others black; mean × area counts them.
    let output = Command::new("convert")
        .arg(path)
        .args(["-fuzz", "8%", "-fill", "black", "+opaque", colour])
        .args(["-fill", "white", "-opaque", colour])
        .args(["-format", "%[fx:round(mean*w*h)]", "info:"])
        .output()?;
    let pixels: u64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    Ok(pixels >= 20)
}

/// Saves a screenshot of the whole virtual screen; returns how many colours it has (a black
/// screen has one, a rendered window many).
fn screenshot(env: &[(String, String)], path: &Path) -> std::io::Result<u64> {
    let ok = Command::new("import")
        .args(["-window", "root"])
        .arg(path)
        .env_clear()
        .envs(env.iter().cloned())
        .stderr(Stdio::null())
        .status()?
        .success();
    if !ok {
        return Ok(0);
    }
    let colours = Command::new("identify")
        .args(["-format", "%k"])
        .arg(path)
        .output()?;
    Ok(String::from_utf8_lossy(&colours.stdout)
        .trim()
        .parse()
        .unwrap_or(0))
}

/// One HTTP/1.1 request over a fresh connection; returns the status code and body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

/// X windows whose name matches `pattern` (xdotool works without a window manager).
fn find_windows(env: &[(String, String)], pattern: &str) -> Vec<u64> {
    let output = Command::new("xdotool")
        .args(["search", "--name", pattern])
        .env_clear()
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn clipboard(env: &[(String, String)]) -> String {
    Command::new("xclip")
        .args(["-selection", "clipboard", "-o"])
        .env_clear()
        .envs(env.iter().cloned())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Asks windows to close the way a window manager's close button does: a WM_DELETE_WINDOW
/// client message (there is no window manager on Xvfb; Python's ctypes calls libX11).
fn close_windows(env: &[(String, String)], pattern: &str) {
    const SEND_DELETE: &str = r#"
import ctypes, sys
x = ctypes.cdll.LoadLibrary("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
class ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong),
                ("message_type", ctypes.c_ulong), ("format", ctypes.c_int),
                ("l", ctypes.c_long * 5), ("pad", ctypes.c_long * 12)]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                         ctypes.POINTER(ClientMessage)]
x.XFlush.argtypes = [ctypes.c_void_p]
d = x.XOpenDisplay(None)
for w in sys.argv[1:]:
    e = ClientMessage(type=33, window=int(w), format=32)
    e.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
    e.l[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
    x.XSendEvent(d, int(w), 0, 0, ctypes.byref(e))
x.XFlush(d)
"#;
    let windows = find_windows(env, pattern);
    assert!(!windows.is_empty(), "no window named {pattern}");
    let status = Command::new("python3")
        .args(["-c", SEND_DELETE])
        .args(windows.iter().map(u64::to_string))
        .env_clear()
        .envs(env.iter().cloned())
        .status()
        .unwrap();
    assert!(status.success());
}

fn config_text(addr: SocketAddr) -> String {
    format!(
        "listen = \"{addr}\"\n\n[server]\nshutdown_grace_s = 5\n\n\
             [providers.demo]\nkind = \"demo\"\n\n\
             [aliases.demo]\ndescription = \"Built-in demo model\"\n\
             targets = [\"demo/switchboard-demo\"]\n"
    )
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("SWITCHBOARD_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
