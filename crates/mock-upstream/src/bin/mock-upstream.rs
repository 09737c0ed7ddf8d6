//! `mock-upstream`: the mock OpenAI-compatible server as a standalone process, for benchmarks.
//! Answers `/v1/chat/completions` (JSON or SSE), `/v1/completions`, `/v1/embeddings` and
//! `/v1/models` until SIGINT or SIGTERM. Requests are not recorded.

// The listening address goes to stdout so scripts can read it.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mock_upstream::{MockConfig, MockUpstream};

#[derive(Parser)]
#[command(
    name = "mock-upstream",
    about = "A fast mock OpenAI-compatible upstream (JSON and SSE) for benchmarks"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// Content chunks in a streamed answer (plus role, finish and, when asked, usage chunks).
    #[arg(long, default_value_t = 200)]
    stream_chunks: usize,
    /// Pause between streamed chunks, in milliseconds (fractions allowed; 0 = no pause).
    #[arg(long, default_value_t = 2.0)]
    chunk_interval_ms: f64,
    /// Size of the non-streamed completion's content, in bytes.
    #[arg(long, default_value_t = 400)]
    content_bytes: usize,
    /// Runtime worker threads (0 = one per CPU this process may run on; 1 = single-threaded).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Also start a mock GitHub (device login, Copilot token exchange and API) on a free port;
    /// its URL is printed as `mock-github listening on URL` (the dashboard's browser tests).
    #[arg(long)]
    copilot: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(args.chunk_interval_ms.is_finite() && args.chunk_interval_ms >= 0.0) {
        eprintln!("error: --chunk-interval-ms must be a non-negative number");
        return ExitCode::FAILURE;
    }
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if args.threads > 1 {
            builder.worker_threads(args.threads);
        }
        builder.enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let config = MockConfig {
        stream_chunks: args.stream_chunks,
        chunk_interval: Duration::from_secs_f64(args.chunk_interval_ms / 1000.0),
        content_bytes: args.content_bytes,
        record: false,
    };
    let mock = match MockUpstream::start_on(args.listen, config).await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("mock-upstream listening on {}", mock.base_url());
    let github = if args.copilot {
        match mock_upstream::copilot::MockCopilot::start(3600).await {
            Ok(github) => {
                println!("mock-github listening on {}", github.github_url());
                Some(github)
            }
            Err(e) => {
                eprintln!("error: cannot start the mock GitHub: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    wait_for_signal().await;
    drop(github);
    drop(mock);
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
