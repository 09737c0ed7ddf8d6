//! `stream-probe`: opens N concurrent OpenAI-style streaming chat completions against one URL and
//! records when every SSE event arrives. Prints one JSON object: time to first event, gaps between
//! events, stream durations, errors. Used by `bench/run.py` to measure what a proxy adds to a
//! stream (first byte, buffering, jitter) against the same stream taken directly from the mock.

// The JSON report goes to stdout.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use serde_json::{json, Value};

#[derive(Parser, Clone)]
#[command(
    name = "stream-probe",
    about = "Concurrent SSE streams with per-event arrival times"
)]
struct Args {
    /// Full URL of the chat completions endpoint.
    #[arg(long)]
    url: String,
    /// Model (alias) to ask for.
    #[arg(long, default_value = "bench")]
    model: String,
    /// Streams kept open at the same time.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// Keep starting streams for this long (seconds); each worker finishes its current stream.
    #[arg(long)]
    duration_s: Option<f64>,
    /// Streams per worker when no duration is given.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Give up on one stream after this long (seconds).
    #[arg(long, default_value_t = 60.0)]
    timeout_s: f64,
    /// Start the workers over this many milliseconds instead of all at once.
    #[arg(long, default_value_t = 0.0)]
    ramp_ms: f64,
    /// Bearer token to send.
    #[arg(long, default_value = "sk-bench")]
    api_key: String,
    /// Extra request header, `name: value` (repeatable; a proxy's routing headers).
    #[arg(long = "header")]
    headers: Vec<String>,
}

/// What one stream saw, in microseconds from sending the request.
#[derive(Default)]
struct StreamResult {
    headers_us: u64,
    event_us: Vec<u64>,
    done: bool,
    error: Option<String>,
}

#[derive(Default)]
struct Totals {
    ttfb_us: Vec<u64>,
    headers_us: Vec<u64>,
    gaps_us: Vec<u64>,
    max_gap_us: Vec<u64>,
    duration_us: Vec<u64>,
    events: u64,
    completed: u64,
    errors: u64,
    error_samples: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<Value, String> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.streams.max(1))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())?;
    let body = json!({
        "model": args.model,
        "messages": [{"role": "user", "content": "Write a short story about a switchboard operator."}],
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": 512,
    })
    .to_string();
    let started = Instant::now();
    let deadline = args
        .duration_s
        .map(|s| started + Duration::from_secs_f64(s.max(0.0)));
    let open_now = Arc::new(AtomicUsize::new(0));
    let max_open = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::with_capacity(args.streams);
    for worker in 0..args.streams {
        let client = client.clone();
        let args = args.clone();
        let body = body.clone();
        let open_now = open_now.clone();
        let max_open = max_open.clone();
        let delay = if args.streams > 1 {
            Duration::from_secs_f64(
                args.ramp_ms.max(0.0) / 1000.0 * worker as f64 / args.streams as f64,
            )
        } else {
            Duration::ZERO
        };
        workers.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut results = Vec::new();
            let mut round = 0;
            loop {
                match deadline {
                    Some(deadline) if Instant::now() >= deadline && round > 0 => break,
                    None if round >= args.rounds => break,
                    _ => {}
                }
                round += 1;
                let open = open_now.fetch_add(1, Ordering::SeqCst) + 1;
                max_open.fetch_max(open, Ordering::SeqCst);
                let timeout = Duration::from_secs_f64(args.timeout_s);
                let result =
                    match tokio::time::timeout(timeout, one_stream(&client, &args, &body)).await {
                        Ok(result) => result,
                        Err(_) => StreamResult {
                            error: Some(format!("timed out after {} s", args.timeout_s)),
                            ..StreamResult::default()
                        },
                    };
                open_now.fetch_sub(1, Ordering::SeqCst);
                results.push(result);
            }
            results
        }));
    }
    let mut totals = Totals::default();
    for worker in workers {
        let results = worker.await.map_err(|e| e.to_string())?;
        for result in results {
            add(&mut totals, result);
        }
    }
    let wall = started.elapsed();
    Ok(json!({
        "url": args.url,
        "model": args.model,
        "streams": args.streams,
        "max_open": max_open.load(Ordering::SeqCst),
        "wall_s": wall.as_secs_f64(),
        "completed": totals.completed,
        "errors": totals.errors,
        "error_samples": totals.error_samples,
        "events": totals.events,
        "events_per_s": totals.events as f64 / wall.as_secs_f64().max(1e-9),
        "headers_us": summary(&mut totals.headers_us),
        "ttfb_us": summary(&mut totals.ttfb_us),
        "gap_us": summary(&mut totals.gaps_us),
        "max_gap_per_stream_us": summary(&mut totals.max_gap_us),
        "duration_us": summary(&mut totals.duration_us),
    }))
}

fn add(totals: &mut Totals, result: StreamResult) {
    let ok = result.error.is_none() && result.done;
    if !ok {
        totals.errors += 1;
        if totals.error_samples.len() < 5 {
            totals.error_samples.push(
                result
                    .error
                    .unwrap_or_else(|| "stream ended without data: [DONE]".to_owned()),
            );
        }
        return;
    }
    totals.completed += 1;
    totals.events += result.event_us.len() as u64;
    totals.headers_us.push(result.headers_us);
    if let Some(first) = result.event_us.first() {
        totals.ttfb_us.push(*first);
    }
    if let Some(last) = result.event_us.last() {
        totals.duration_us.push(*last);
    }
    let mut max_gap = 0;
    for pair in result.event_us.windows(2) {
        let gap = pair[1].saturating_sub(pair[0]);
        max_gap = max_gap.max(gap);
        totals.gaps_us.push(gap);
    }
    totals.max_gap_us.push(max_gap);
}

async fn one_stream(client: &reqwest::Client, args: &Args, body: &str) -> StreamResult {
    let mut result = StreamResult::default();
    let sent = Instant::now();
    let mut request = client
        .post(&args.url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", args.api_key));
    for header in &args.headers {
        if let Some((name, value)) = header.split_once(':') {
            request = request.header(name.trim(), value.trim());
        }
    }
    let response = request.body(body.to_owned()).send().await;
    let response = match response {
        Ok(response) => response,
        Err(e) => {
            result.error = Some(format!("request failed: {e}"));
            return result;
        }
    };
    result.headers_us = sent.elapsed().as_micros() as u64;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        result.error = Some(format!(
            "status {status}: {}",
            text.chars().take(200).collect::<String>()
        ));
        return result;
    }
    // An SSE event ends at a blank line. Look for "\n\n" across read boundaries and stamp each
    // event with the arrival time of the read that completed it.
    let mut body = response.bytes_stream();
    let mut last_byte_newline = false;
    let mut tail: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                result.error = Some(format!("body failed: {e}"));
                return result;
            }
        };
        let at = sent.elapsed().as_micros() as u64;
        for &byte in chunk.iter() {
            if byte == b'\n' {
                if last_byte_newline {
                    result.event_us.push(at);
                    if tail.starts_with(b"data: [DONE]") {
                        result.done = true;
                    }
                    tail.clear();
                    last_byte_newline = false;
                    continue;
                }
                last_byte_newline = true;
            } else {
                last_byte_newline = false;
            }
            if byte != b'\r' && tail.len() < 16 {
                tail.push(byte);
            }
        }
    }
    result
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(values: &mut [u64]) -> Value {
    values.sort_unstable();
    if values.is_empty() {
        return json!({"n": 0});
    }
    let mean = values.iter().sum::<u64>() as f64 / values.len() as f64;
    json!({
        "n": values.len(),
        "min": values[0],
        "mean": mean,
        "p50": percentile(values, 50.0),
        "p90": percentile(values, 90.0),
        "p99": percentile(values, 99.0),
        "p99_9": percentile(values, 99.9),
        "max": values[values.len() - 1],
    })
}
