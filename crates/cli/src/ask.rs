//! `switchboard ask`: a terminal client for any OpenAI-compatible server.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct AskArgs {
    /// The prompt. Text piped on stdin is added as context (`cat f.py | switchboard ask "review"`).
    pub prompt: Option<String>,
    /// Alias (model) to ask; default: the first model the server lists.
    #[arg(short = 'm', long = "model")]
    pub model: Option<String>,
    /// System prompt.
    #[arg(short = 's', long = "system")]
    pub system: Option<String>,
    /// List the models (aliases) the server offers and exit.
    #[arg(long)]
    pub list_models: bool,
    /// Print the raw (non-streamed) JSON response.
    #[arg(long)]
    pub json: bool,
    /// Base URL (default: $SWITCHBOARD_URL, else the config's `listen`).
    #[arg(long, env = "SWITCHBOARD_URL")]
    pub url: Option<String>,
    /// Client token (default: $SWITCHBOARD_TOKEN; loopback calls need none).
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// `http://host:port/v1` from any of `host:port`, `http://host:port`, `http://host:port/v1/`.
pub fn api_base(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let url = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    if url.ends_with("/v1") {
        url
    } else {
        format!("{url}/v1")
    }
}

/// The short reason an OpenAI-style error body gives, or the body itself.
pub fn failure_summary(status: reqwest::StatusCode, body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v["error"]["message"].as_str().or(v["error"].as_str()))
        .map(str::to_owned)
        .unwrap_or_else(|| body.chars().take(300).collect());
    let code = parsed
        .as_ref()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
    match code {
        Some(code) => format!("{status} ({code}): {message}"),
        None => format!("{status}: {message}"),
    }
}

pub fn client() -> reqwest::Client {
    // No proxy from the environment: the gateway is usually on loopback.
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

fn authed(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// The ids `GET {base}/models` lists.
pub async fn list_models(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
) -> Result<Vec<String>, String> {
    let url = format!("{base}/models");
    let response = authed(http.get(&url), token)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{url}: {}", failure_summary(status, &body)));
    }
    let value: Value = serde_json::from_str(&body).map_err(|e| format!("{url}: not JSON ({e})"))?;
    Ok(value["data"]
        .as_array()
        .map(|models| {
            models
                .iter()
                .filter_map(|m| m["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

pub fn run(args: AskArgs, config_path: &Path) -> ExitCode {
    let base = api_base(&crate::gateway_url(args.url.clone(), config_path));
    let mut context = String::new();
    if !std::io::stdin().is_terminal() && !args.list_models {
        if let Err(e) = std::io::stdin().read_to_string(&mut context) {
            eprintln!("error: cannot read stdin: {e}");
            return ExitCode::FAILURE;
        }
    }
    crate::blocking(async move {
        match ask(&args, &base, context.trim()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn ask(args: &AskArgs, base: &str, context: &str) -> Result<(), String> {
    let http = client();
    let token = args.token.as_deref().filter(|t| !t.is_empty());
    if args.list_models {
        for id in list_models(&http, base, token).await? {
            println!("{id}");
        }
        return Ok(());
    }
    let prompt = match (args.prompt.as_deref(), context.is_empty()) {
        (Some(p), true) => p.to_owned(),
        (Some(p), false) => format!("{p}\n\n{context}"),
        (None, false) => context.to_owned(),
        (None, true) => return Err("nothing to ask: give a PROMPT or pipe text on stdin".into()),
    };
    let model = match &args.model {
        Some(m) => m.clone(),
        None => list_models(&http, base, token)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| format!("{base}/models lists no models; pass -m ALIAS"))?,
    };
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": prompt}));
    let body = json!({"model": model, "messages": messages, "stream": !args.json});
    let url = format!("{base}/chat/completions");
    let response = authed(http.post(&url), token)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(format!("`{model}`: {}", failure_summary(status, &text)));
    }
    if args.json {
        let text = response.text().await.map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    stream_to_stdout(response, &model).await
}

/// Prints each content delta as it arrives; an error event mid-stream is a failure.
async fn stream_to_stdout(mut response: reqwest::Response, model: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout();
    let mut pending: Vec<u8> = Vec::new();
    let mut wrote_any = false;
    let mut ended_with_newline = true;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("`{model}`: the stream broke: {e}"))?
    {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim_end().strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                continue;
            }
            let Ok(event) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if let Some(error) = event.get("error") {
                let message = error["message"].as_str().unwrap_or("unknown error");
                if wrote_any && !ended_with_newline {
                    println!();
                }
                return Err(format!(
                    "`{model}`: the stream ended with an error: {message}"
                ));
            }
            if let Some(text) = event["choices"][0]["delta"]["content"].as_str() {
                if !text.is_empty() {
                    let _ = stdout.write_all(text.as_bytes());
                    let _ = stdout.flush();
                    wrote_any = true;
                    ended_with_newline = text.ends_with('\n');
                }
            }
        }
    }
    if !ended_with_newline {
        println!();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_accepts_every_spelling() {
        assert_eq!(api_base("127.0.0.1:4000"), "http://127.0.0.1:4000/v1");
        assert_eq!(api_base("http://h:1/"), "http://h:1/v1");
        assert_eq!(api_base("https://h/v1/"), "https://h/v1");
    }

    #[test]
    fn failure_summary_reads_openai_errors() {
        let s = failure_summary(
            reqwest::StatusCode::BAD_GATEWAY,
            r#"{"error":{"message":"all targets failed","code":"upstream_unavailable"}}"#,
        );
        assert_eq!(
            s,
            "502 Bad Gateway (upstream_unavailable): all targets failed"
        );
    }
}
