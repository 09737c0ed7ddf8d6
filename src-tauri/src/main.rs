//! `switchboard-app`: Switchboard in the system tray. See `switchboard_app::run`.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

use switchboard_app::remote;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(
        args.first().map(String::as_str),
        Some("-h" | "--help" | "help")
    ) {
        eprintln!("{}", remote::USAGE);
        return ExitCode::SUCCESS;
    }
    if matches!(args.first().map(String::as_str), Some("-V" | "--version")) {
        eprintln!("switchboard-app {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let command = match remote::parse(&args) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("error: {e}\n\n{}", remote::USAGE);
            return ExitCode::from(2);
        }
    };
    match switchboard_app::run(command) {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
