//! Finding local model servers: the usual ports of Ollama, llama.cpp, vLLM, LM Studio and Jan on
//! loopback (and on the hosts the config already names), their model lists, and the config
//! entries that would use them. `switchboard discover` and the first-run default config use it;
//! the dashboard's onboarding calls it through the admin service (`admin::providers`).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{self, edit, Config, ProviderKind};

/// A server kind and the port it listens on out of the box.
#[derive(Debug, Clone, Copy)]
pub struct KnownServer {
    /// Provider and alias prefix: `ollama`.
    pub name: &'static str,
    pub label: &'static str,
    pub port: u16,
}

pub const KNOWN: &[KnownServer] = &[
    KnownServer {
        name: "ollama",
        label: "Ollama",
        port: 11434,
    },
    KnownServer {
        name: "llamacpp",
        label: "llama.cpp",
        port: 8080,
    },
    KnownServer {
        name: "vllm",
        label: "vLLM",
        port: 8000,
    },
    KnownServer {
        name: "lmstudio",
        label: "LM Studio",
        port: 1234,
    },
    KnownServer {
        name: "jan",
        label: "Jan",
        port: 1337,
    },
];

/// Replaces the port list (`ollama=11434,vllm=8000`), for tests and unusual setups.
pub const PORTS_ENV: &str = "SWITCHBOARD_DISCOVER_PORTS";

/// One place to look: an OpenAI-compatible base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub server: String,
    pub label: String,
    pub host: String,
    pub base_url: String,
}

/// A server that answered, with its models.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub server: String,
    pub label: String,
    pub base_url: String,
    pub models: Vec<String>,
    /// The provider of the config that already points here.
    pub provider: Option<String>,
}

/// Parses `NAME=PORT,...`; names not in `KNOWN` are generic OpenAI-compatible servers.
pub fn parse_ports(spec: &str) -> Result<Vec<KnownServer>, String> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (name, port) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}`: expected NAME=PORT, e.g. ollama=11434"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| format!("`{item}`: {port:?} is not a port"))?;
            let known = KNOWN.iter().find(|k| k.name == name);
            Ok(KnownServer {
                name: known.map_or("openai", |k| k.name),
                label: known.map_or("OpenAI-compatible server", |k| k.label),
                port,
            })
        })
        .collect()
}

fn host_of(base_url: &str) -> Option<String> {
    let url = url::Url::parse(base_url).ok()?;
    Some(url.host_str()?.trim_matches(['[', ']']).to_owned())
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where to look: each server's port on loopback, then on every other host the config's OpenAI
/// providers name (a LAN box running vLLM often runs Ollama too).
pub fn candidates(config: Option<&Config>, servers: &[KnownServer]) -> Vec<Candidate> {
    let mut hosts = vec!["127.0.0.1".to_owned()];
    if let Some(config) = config {
        let named: BTreeSet<String> = config
            .providers
            .values()
            .filter(|p| p.kind() == ProviderKind::OpenAi)
            .filter_map(|p| p.base_url().and_then(host_of))
            .filter(|h| !is_loopback_host(h))
            .collect();
        hosts.extend(named);
    }
    let mut out = Vec::new();
    for host in &hosts {
        for server in servers {
            let shown = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            out.push(Candidate {
                server: server.name.to_owned(),
                label: server.label.to_owned(),
                host: host.clone(),
                base_url: format!("http://{shown}:{}/v1", server.port),
            });
        }
    }
    out
}

/// The default places, or those in `SWITCHBOARD_DISCOVER_PORTS`.
pub fn default_servers() -> Result<Vec<KnownServer>, String> {
    match std::env::var(PORTS_ENV) {
        Ok(spec) => parse_ports(&spec).map_err(|e| format!("{PORTS_ENV}: {e}")),
        Err(_) => Ok(KNOWN.to_vec()),
    }
}

fn same_url(a: &str, b: &str) -> bool {
    let norm = |u: &str| {
        u.trim_end_matches('/')
            .replace("://localhost:", "://127.0.0.1:")
    };
    norm(a) == norm(b)
}

/// Asks every candidate for `GET /v1/models` at once, each bounded by `timeout`.
pub async fn discover(
    candidates: &[Candidate],
    config: Option<&Config>,
    timeout: Duration,
) -> Vec<Found> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    let probes = candidates.iter().map(|c| {
        let http = http.clone();
        async move {
            let response = http
                .get(format!("{}/models", c.base_url))
                .send()
                .await
                .ok()?;
            if !response.status().is_success() {
                return None;
            }
            let body: Value = response.json().await.ok()?;
            let models: Vec<String> = body["data"]
                .as_array()?
                .iter()
                .filter_map(|m| m["id"].as_str().map(str::to_owned))
                .collect();
            let provider = config.and_then(|config| {
                config
                    .providers
                    .values()
                    .find(|p| p.base_url().is_some_and(|u| same_url(u, &c.base_url)))
                    .map(|p| p.name.clone())
            });
            Some(Found {
                server: c.server.clone(),
                label: c.label.clone(),
                base_url: c.base_url.clone(),
                models,
                provider,
            })
        }
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// One entry `--add` writes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Addition {
    pub section: &'static str,
    pub name: String,
    /// The server it is for.
    pub base_url: String,
    pub value: Value,
}

/// Short aliases for the first models found, so a client can be pointed at `local/chat`
/// without knowing which server runs what.
pub const SHORT_ALIASES: [&str; 2] = ["local/chat", "local/embed"];

fn is_embedding_model(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    m.contains("embed") || m.starts_with("bge") || m.contains("minilm")
}

/// Providers for servers the config does not use yet, an alias per model not yet served
/// (`ollama/qwen2.5:7b` → `ollama/qwen2.5:7b`), and `local/chat` / `local/embed` for the first
/// chat and embedding models when those names are free. Names already taken get a host or
/// number suffix.
pub fn additions(found: &[Found], text: &str) -> Vec<Addition> {
    let taken = |section: &str| -> BTreeSet<String> {
        edit::list(text, section)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    };
    let mut providers = taken("providers");
    let mut aliases = taken("aliases");
    let mut out = Vec::new();
    let mut short: [Option<(String, String, String)>; 2] = [None, None];
    for server in found {
        let provider = match &server.provider {
            Some(existing) => existing.clone(),
            None => {
                let host = host_of(&server.base_url).unwrap_or_default();
                let mut name = if is_loopback_host(&host) {
                    server.server.clone()
                } else {
                    format!("{}-{}", server.server, host.replace(['.', ':'], "-"))
                };
                let base = name.clone();
                let mut n = 2;
                while providers.contains(&name) {
                    name = format!("{base}{n}");
                    n += 1;
                }
                providers.insert(name.clone());
                out.push(Addition {
                    section: "providers",
                    name: name.clone(),
                    base_url: server.base_url.clone(),
                    value: json!({"kind": "openai", "base_url": server.base_url}),
                });
                name
            }
        };
        for model in &server.models {
            if model.is_empty() || model.chars().any(char::is_whitespace) {
                continue;
            }
            let slot = usize::from(is_embedding_model(model));
            if short[slot].is_none() {
                short[slot] = Some((
                    format!("{provider}/{model}"),
                    server.label.clone(),
                    server.base_url.clone(),
                ));
            }
            let alias = format!("{provider}/{model}");
            if aliases.contains(&alias) {
                continue;
            }
            aliases.insert(alias.clone());
            out.push(Addition {
                section: "aliases",
                name: alias,
                base_url: server.base_url.clone(),
                value: json!({
                    "description": format!("{} at {} (found by switchboard discover)", server.label, server.base_url),
                    "targets": [format!("{provider}/{model}")],
                }),
            });
        }
    }
    for (name, chosen) in SHORT_ALIASES.iter().zip(short) {
        let Some((target, label, base_url)) = chosen else {
            continue;
        };
        if aliases.contains(*name) {
            continue;
        }
        out.push(Addition {
            section: "aliases",
            name: (*name).to_owned(),
            base_url: base_url.clone(),
            value: json!({
                "description": format!("{target} on {label} at {base_url} (found by switchboard discover)"),
                "targets": [target],
            }),
        });
    }
    out
}

/// The comment the first-run default config gets: what is running here and how to add it.
pub fn first_run_note(found: &[Found]) -> String {
    let mut note = String::from(
        "\n# ---------------------------------------------------------------------------------------------\n",
    );
    if found.is_empty() {
        note.push_str("# No local model server (Ollama, llama.cpp, vLLM, LM Studio, Jan) answered on its usual port\n# when this file was written. Start one, then run `switchboard discover --add`.\n");
        return note;
    }
    note.push_str("# Found on this machine when this file was written (`switchboard discover --add` adds them):\n");
    for f in found {
        let mut models: Vec<&str> = f.models.iter().map(String::as_str).take(8).collect();
        if f.models.len() > 8 {
            models.push("...");
        }
        note.push_str(&format!(
            "#   {} at {}: {}\n",
            f.label,
            f.base_url,
            if models.is_empty() {
                "no models yet".to_owned()
            } else {
                models.join(", ")
            }
        ));
    }
    note
}

/// First start: looks for local servers (briefly) and appends what it found to the new default
/// config as a comment. Best effort: the gateway starts either way.
pub async fn note_in_new_config(path: &Path) -> Vec<Found> {
    let Ok(servers) = default_servers() else {
        return Vec::new();
    };
    let found = discover(
        &candidates(None, &servers),
        None,
        Duration::from_millis(800),
    )
    .await;
    if let Ok(mut text) = std::fs::read_to_string(path) {
        text.push_str(&first_run_note(&found));
        let _ = config::file::write_atomic(path, &text);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(server: &str, base_url: &str, models: &[&str]) -> Found {
        Found {
            server: server.into(),
            label: server.into(),
            base_url: base_url.into(),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            provider: None,
        }
    }

    #[test]
    fn ports_parse_and_unknown_names_are_generic() {
        let s = parse_ports("ollama=1,other=2").unwrap_or_default();
        assert_eq!((s[0].name, s[0].port), ("ollama", 1));
        assert_eq!((s[1].name, s[1].port), ("openai", 2));
        assert!(parse_ports("ollama").is_err());
        assert!(parse_ports("ollama=x").is_err());
    }

    #[test]
    fn configured_lan_hosts_are_scanned_too() {
        let config = Config::parse(
            "[providers.box]\nkind = \"openai\"\nbase_url = \"http://10.0.0.5:8000/v1\"\n",
            "t",
        )
        .ok();
        let c = candidates(config.as_ref(), KNOWN);
        assert_eq!(c.len(), 2 * KNOWN.len());
        assert!(c.iter().any(|c| c.base_url == "http://10.0.0.5:11434/v1"));
        assert!(c.iter().any(|c| c.base_url == "http://127.0.0.1:11434/v1"));
    }

    #[test]
    fn additions_skip_what_exists_and_rename_clashes() {
        let text = "[providers.ollama]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\n[aliases.\"vllm/m1\"]\ntargets = [\"ollama/x\"]\n";
        let adds = additions(
            &[
                found("ollama", "http://127.0.0.1:11434/v1", &["qwen2.5:7b"]),
                found("vllm", "http://127.0.0.1:8000/v1", &["m1", "has space"]),
            ],
            text,
        );
        let names: Vec<(&str, &str)> = adds.iter().map(|a| (a.section, a.name.as_str())).collect();
        assert_eq!(
            names,
            [
                ("providers", "ollama2"),
                ("aliases", "ollama2/qwen2.5:7b"),
                ("providers", "vllm"),
                ("aliases", "local/chat"),
            ]
        );
        assert_eq!(adds[3].value["targets"][0], "ollama2/qwen2.5:7b");
        let embed = additions(
            &[found(
                "ollama",
                "http://127.0.0.1:11434/v1",
                &["nomic-embed-text", "llama3"],
            )],
            "[aliases.\"local/chat\"]\ntargets = [\"x/y\"]\n",
        );
        let names: Vec<&str> = embed.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ollama",
                "ollama/nomic-embed-text",
                "ollama/llama3",
                "local/embed"
            ]
        );
        assert_eq!(adds[1].value["targets"][0], "ollama2/qwen2.5:7b");
    }
}
