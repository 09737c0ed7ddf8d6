//! Builds the dashboard (`ui/`) when its output is missing or older than its sources, so a plain
//! `cargo build` on a fresh clone embeds a working UI. Needs Node.js and npm; without them the
//! build stops with what to install. `SWITCHBOARD_SKIP_UI=1` builds without the dashboard
//! (`/ui` then says so).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const SOURCES: [&str; 7] = [
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "scripts",
    "public",
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let ui = manifest.join("../../ui");
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_SKIP_UI");
    if !ui.join("package.json").exists() {
        return;
    }
    for source in SOURCES {
        println!("cargo:rerun-if-changed={}", ui.join(source).display());
    }
    println!("cargo:rerun-if-changed={}", ui.join("dist").display());
    if std::env::var_os("SWITCHBOARD_SKIP_UI").is_some() {
        return;
    }
    let built = newest(&ui.join("dist"));
    let sources = SOURCES.iter().filter_map(|s| newest(&ui.join(s))).max();
    if ui.join("dist/index.html").exists() && built >= sources {
        return;
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    if Command::new(npm).arg("--version").output().is_err() {
        fail("the dashboard (ui/) is built with Node.js 20+ and npm, which were not found: install them (Debian: apt-get install nodejs npm; macOS: brew install node), or set SWITCHBOARD_SKIP_UI=1 to build without the dashboard");
    }
    let lock = ui.join("package-lock.json");
    let modules = ui.join("node_modules");
    if !modules.exists() || newest(&lock) > modules.metadata().and_then(|m| m.modified()).ok() {
        run(Command::new(npm)
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&ui));
    }
    run(Command::new(npm).args(["run", "build"]).current_dir(&ui));
}

fn run(command: &mut Command) {
    // Cargo reads a build script's stdout for directives; npm's chatter goes to stderr.
    command.stdout(std::process::Stdio::from(std::io::stderr()));
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "building the dashboard failed ({command:?}: {status}); see the output above"
        )),
        Err(e) => fail(&format!("cannot run {command:?}: {e}")),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

/// The newest modification time of a file or of anything under a directory.
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| newest(&e.path()))
        .max()
}
