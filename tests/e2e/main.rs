//! End-to-end tests: the real gateway (in-process on a real socket, or the real `switchboard`
//! binary) in front of the mock upstream over real TCP, with the request log in a real SQLite
//! file, and the official OpenAI Python SDK as a client. Every test binds port 0 and keeps its
//! files (config, database, HOME) in its own temporary directory.
//!
//! Run with `cargo test -p switchboard-cli --test e2e`.

// clippy.toml's allow-unwrap-in-tests then counts the helpers in support.rs as test code too.
#![cfg(test)]

mod support;

mod budgets;
mod cli;
mod codex;
mod coding_agents;
mod config_versions;
mod copilot;
mod correlation;
mod errors;
mod import;
mod logging;
mod operator;
mod ops;
mod otel;
mod proxy;
mod reliability;
mod sdk;
mod streaming;
