//! `switchboard smoke`: a tiny request through every alias at once ("curl each alias"), a table
//! of what served it and how, and a non-zero exit when any alias fails.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use crate::ask::{api_base, client, failure_summary, list_models};

#[derive(clap::Args)]
pub struct SmokeArgs {
    /// Only this alias (repeat for several); default: every alias the gateway lists.
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Seconds each alias may take before it counts as failed.
    #[arg(long, default_value_t = 30)]
    pub timeout_s: u64,
    /// Base URL (default: $SWITCHBOARD_URL, else the config's `listen`).
    #[arg(long, env = "SWITCHBOARD_URL")]
    pub url: Option<String>,
    /// Client token (default: $SWITCHBOARD_TOKEN; loopback calls need none).
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    Chat,
    Embeddings,
}

#[derive(Debug, Serialize)]
pub struct SmokeResult {
    pub alias: String,
    pub probe: Probe,
    pub ok: bool,
    /// The `provider/model` that answered (the gateway's `x-switchboard-target`).
    pub target: Option<String>,
    pub latency_ms: u64,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// Why it failed: status, error code and message as the gateway put them.
    pub error: Option<String>,
}

/// Embedding models answer `/embeddings` only: an alias is probed that way when its name, or a
/// model of its targets in the local config, says "embed".
fn probe_for(alias: &str, config_models: &[String]) -> Probe {
    let embed = |s: &str| s.to_ascii_lowercase().contains("embed");
    if embed(alias) || config_models.iter().any(|m| embed(m)) {
        Probe::Embeddings
    } else {
        Probe::Chat
    }
}

pub fn run(args: SmokeArgs, config_path: &Path) -> ExitCode {
    let base = api_base(&crate::gateway_url(args.url.clone(), config_path));
    let config = switchboard_gateway::config::load_file(config_path).ok();
    let models_of = |alias: &str| -> Vec<String> {
        config
            .as_ref()
            .and_then(|c| c.aliases.get(alias))
            .map(|a| a.targets.iter().map(|t| t.model.clone()).collect())
            .unwrap_or_default()
    };
    let token = args.token.clone().filter(|t| !t.is_empty());
    crate::blocking(async move {
        let http = client();
        let aliases = if args.aliases.is_empty() {
            match list_models(&http, &base, token.as_deref()).await {
                Ok(aliases) => aliases,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        } else {
            args.aliases.clone()
        };
        if aliases.is_empty() {
            eprintln!(
                "error: {base}/models lists no aliases; add [aliases.\"NAME\"] to the config"
            );
            return ExitCode::FAILURE;
        }
        let timeout = Duration::from_secs(args.timeout_s.max(1));
        let probes = aliases.iter().map(|alias| {
            let probe = probe_for(alias, &models_of(alias));
            smoke_one(&http, &base, token.as_deref(), alias, probe, timeout)
        });
        let results = futures::future::join_all(probes).await;
        let failed = results.iter().filter(|r| !r.ok).count();
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&results).unwrap_or_default()
            );
        } else {
            print!("{}", table(&results));
            println!(
                "{} of {} aliases ok{}",
                results.len() - failed,
                results.len(),
                if failed > 0 {
                    format!(", {failed} FAILED (`switchboard targets` shows each target's state; `switchboard doctor` checks the backends)")
                } else {
                    String::new()
                }
            );
        }
        if failed > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    })
}

async fn smoke_one(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    alias: &str,
    probe: Probe,
    timeout: Duration,
) -> SmokeResult {
    let (path, body) = match probe {
        Probe::Chat => (
            "chat/completions",
            json!({"model": alias, "max_tokens": 8, "stream": false,
                   "messages": [{"role": "user", "content": "Reply with the word ok."}]}),
        ),
        Probe::Embeddings => ("embeddings", json!({"model": alias, "input": "ok"})),
    };
    let started = Instant::now();
    let mut request = http
        .post(format!("{base}/{path}"))
        .json(&body)
        .timeout(timeout)
        .header("x-correlation-id", format!("smoke-{}", uuid_like()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let mut result = SmokeResult {
        alias: alias.to_owned(),
        probe,
        ok: false,
        target: None,
        latency_ms: 0,
        input_tokens: None,
        output_tokens: None,
        error: None,
    };
    let outcome = async {
        let response = request.send().await?;
        let status = response.status();
        let target = response
            .headers()
            .get("x-switchboard-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok::<_, reqwest::Error>((status, target, response.text().await?))
    }
    .await;
    result.latency_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Err(e) if e.is_timeout() => {
            result.error = Some(format!("no answer within {} s", timeout.as_secs()));
        }
        Err(e) => result.error = Some(format!("cannot reach {base}: {e}")),
        Ok((status, target, text)) => {
            result.target = target;
            if !status.is_success() {
                result.error = Some(failure_summary(status, &text));
                return result;
            }
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            result.input_tokens = value["usage"]["prompt_tokens"].as_u64();
            result.output_tokens = value["usage"]["completion_tokens"].as_u64();
            let answered = match probe {
                Probe::Chat => value["choices"][0]["message"].is_object(),
                Probe::Embeddings => value["data"][0]["embedding"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty()),
            };
            if answered {
                result.ok = true;
            } else {
                result.error = Some(format!(
                    "{status} but the answer has no {}",
                    match probe {
                        Probe::Chat => "choices[0].message",
                        Probe::Embeddings => "data[0].embedding",
                    }
                ));
            }
        }
    }
    result
}

/// A short unique suffix so each smoke request can be found in the request log.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{:x}", nanos, std::process::id())
}

pub fn table(results: &[SmokeResult]) -> String {
    let alias_w = results
        .iter()
        .map(|r| r.alias.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let target_w = results
        .iter()
        .map(|r| r.target.as_deref().map_or(1, str::len))
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = format!(
        "{:<alias_w$}  {:<10}  {:<target_w$}  {:>8}  {:>11}  RESULT\n",
        "ALIAS", "PROBE", "TARGET", "LATENCY", "TOKENS"
    );
    for r in results {
        let tokens = match (r.input_tokens, r.output_tokens) {
            (Some(i), Some(o)) => format!("{i}/{o}"),
            (Some(i), None) => format!("{i}/-"),
            _ => "-".to_owned(),
        };
        let probe = match r.probe {
            Probe::Chat => "chat",
            Probe::Embeddings => "embeddings",
        };
        let outcome = match &r.error {
            None => "ok".to_owned(),
            Some(e) => format!("FAILED: {e}"),
        };
        out.push_str(&format!(
            "{:<alias_w$}  {:<10}  {:<target_w$}  {:>6}ms  {:>11}  {outcome}\n",
            r.alias,
            probe,
            r.target.as_deref().unwrap_or("-"),
            r.latency_ms,
            tokens,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_aliases_get_an_embedding_probe() {
        assert_eq!(probe_for("local/embed", &[]), Probe::Embeddings);
        assert_eq!(
            probe_for("vectors", &["text-embedding-3-small".into()]),
            Probe::Embeddings
        );
        assert_eq!(probe_for("fast", &["gpt-4o-mini".into()]), Probe::Chat);
    }
}
