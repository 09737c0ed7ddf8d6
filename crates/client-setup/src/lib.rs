//! Every client's setup for a Switchboard alias: the config file (merged into the user's
//! existing one), the environment and the code each client reads (see CLIENTS.md for where
//! each looks). The one generator behind the dashboard's Connect page, its "set it up for me"
//! and `switchboard connect`; the shells install it into the gateway
//! (`switchboard_gateway::admin::clients::install_generator`). Its own crate because
//! Continue's and Aider's files are YAML and the gateway core carries no YAML parser.

use std::sync::Arc;

use serde_json::{json, Value};
use switchboard_gateway::admin::clients::{ClientSetupGenerator, ConnectTarget, SetupError};
use switchboard_gateway::api::{ClientKind, ConnectSetup, EnvVar, SetupFile, Snippet};

/// Environment variable the generated files read the token from, where the client can.
pub const TOKEN_ENV: &str = "SWITCHBOARD_TOKEN";
/// Shown where a token is needed but none was given.
pub const TOKEN_PLACEHOLDER: &str = "<your client token>";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Opencode,
    Claude,
    Codex,
    Continue,
    Zed,
    Aider,
    OpenWebUi,
    Curl,
    OpenAiPython,
    OpenAiJs,
    AnthropicPython,
    AnthropicJs,
}

impl Client {
    pub const ALL: [Client; 12] = [
        Client::Opencode,
        Client::Claude,
        Client::Codex,
        Client::Continue,
        Client::Zed,
        Client::Aider,
        Client::OpenWebUi,
        Client::Curl,
        Client::OpenAiPython,
        Client::OpenAiJs,
        Client::AnthropicPython,
        Client::AnthropicJs,
    ];

    pub fn parse(name: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Client::Opencode => "opencode",
            Client::Claude => "claude",
            Client::Codex => "codex",
            Client::Continue => "continue",
            Client::Zed => "zed",
            Client::Aider => "aider",
            Client::OpenWebUi => "openwebui",
            Client::Curl => "curl",
            Client::OpenAiPython => "openai-python",
            Client::OpenAiJs => "openai-js",
            Client::AnthropicPython => "anthropic-python",
            Client::AnthropicJs => "anthropic-js",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Client::Opencode => "opencode",
            Client::Claude => "Claude Code",
            Client::Codex => "Codex CLI",
            Client::Continue => "Continue",
            Client::Zed => "Zed",
            Client::Aider => "Aider",
            Client::OpenWebUi => "Open WebUI (Docker)",
            Client::Curl => "curl",
            Client::OpenAiPython => "OpenAI SDK (Python)",
            Client::OpenAiJs => "OpenAI SDK (JavaScript)",
            Client::AnthropicPython => "Anthropic SDK (Python)",
            Client::AnthropicJs => "Anthropic SDK (JavaScript)",
        }
    }

    /// The file the client reads, relative to the home directory.
    pub fn file(self) -> Option<&'static str> {
        match self {
            Client::Opencode => Some(".config/opencode/opencode.json"),
            Client::Claude => Some(".claude/settings.json"),
            Client::Codex => Some(".codex/config.toml"),
            Client::Continue => Some(".continue/config.yaml"),
            Client::Zed => Some(".config/zed/settings.json"),
            Client::Aider => Some(".aider.conf.yml"),
            _ => None,
        }
    }

    fn kind(self) -> ClientKind {
        ClientKind {
            name: self.name().to_owned(),
            label: self.label().to_owned(),
            writable: self.file().is_some(),
            file: self.file().map(str::to_owned),
        }
    }
}

/// The generator the shells install.
pub struct Generator;

impl ClientSetupGenerator for Generator {
    fn clients(&self) -> Vec<ClientKind> {
        Client::ALL.into_iter().map(Client::kind).collect()
    }

    fn generate(
        &self,
        client: &str,
        target: &ConnectTarget,
        existing: Option<&str>,
    ) -> Result<ConnectSetup, SetupError> {
        let Some(client) = Client::parse(client) else {
            let known: Vec<&str> = Client::ALL.iter().map(|c| c.name()).collect();
            return Err(SetupError::UnknownClient {
                given: client.to_owned(),
                known: known.join(", "),
            });
        };
        generate(client, target, existing).map_err(SetupError::Existing)
    }
}

/// Installs the generator into the gateway core, once per process.
pub fn install() {
    switchboard_gateway::admin::clients::install_generator(Arc::new(Generator));
}

struct Urls<'a>(&'a ConnectTarget);

impl Urls<'_> {
    fn root(&self) -> String {
        let url = self.0.base_url.trim().trim_end_matches('/');
        url.strip_suffix("/v1").unwrap_or(url).to_owned()
    }

    fn v1(&self) -> String {
        format!("{}/v1", self.root())
    }

    /// The token; a placeholder where one is needed; `None` where the gateway needs none.
    fn token(&self) -> Option<String> {
        match &self.0.token {
            Some(token) => Some(token.clone()),
            None if self.0.tokens_required => Some(TOKEN_PLACEHOLDER.to_owned()),
            None => None,
        }
    }

    /// Clients that insist on a key get this when the gateway needs none.
    fn key_or_placeholder(&self) -> String {
        self.token().unwrap_or_else(|| "switchboard".to_owned())
    }
}

fn parse_json(existing: Option<&str>, path: &str) -> Result<Value, String> {
    match existing.map(str::trim) {
        None | Some("") => Ok(json!({})),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(format!("~/{path} is not a JSON object")),
            Err(e) => Err(format!(
                "~/{path} is not plain JSON ({e}); comments are not kept: add the entries by hand"
            )),
        },
    }
}

fn object<'v>(value: &'v mut Value, key: &str) -> &'v mut serde_json::Map<String, Value> {
    if !value[key].is_object() {
        value[key] = json!({});
    }
    match value.get_mut(key) {
        Some(Value::Object(map)) => map,
        // Just made an object above.
        _ => unreachable!("`{key}` is an object"),
    }
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: value.into(),
    }
}

/// `text` in single quotes for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// `text` as a Python or JavaScript string literal (JSON's escaping is valid in both).
fn literal(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

fn yaml_doc(
    existing: Option<&str>,
    path: &str,
    empty: &str,
) -> Result<serde_yaml_ng::Value, String> {
    match existing.map(str::trim) {
        None | Some("") => serde_yaml_ng::from_str(empty).map_err(|e| e.to_string()),
        Some(text) => {
            serde_yaml_ng::from_str(text).map_err(|e| format!("~/{path} is not valid YAML: {e}"))
        }
    }
}

/// `client`'s setup for `target`; its file merged into `existing` (the current text, if any).
pub fn generate(
    client: Client,
    target: &ConnectTarget,
    existing: Option<&str>,
) -> Result<ConnectSetup, String> {
    let urls = Urls(target);
    let alias = target.alias.as_str();
    let path = client.file().unwrap_or("");
    let mut envs = Vec::new();
    let mut notes = Vec::new();
    let mut file = None;
    let mut snippet = None;
    let file_of = |format: &str, content: String| {
        Some(SetupFile {
            path: path.to_owned(),
            format: format.to_owned(),
            content,
        })
    };
    let run = match client {
        Client::Opencode => {
            let mut doc = parse_json(existing, path)?;
            if doc.get("$schema").is_none() {
                doc["$schema"] = json!("https://opencode.ai/config.json");
            }
            let provider = object(&mut doc, "provider");
            let entry = provider.entry("switchboard").or_insert_with(|| json!({}));
            entry["npm"] = json!("@ai-sdk/openai-compatible");
            entry["name"] = json!("Switchboard");
            entry["options"]["baseURL"] = json!(urls.v1());
            if let Some(token) = urls.token() {
                entry["options"]["apiKey"] = json!(format!("{{env:{TOKEN_ENV}}}"));
                envs.push(env(TOKEN_ENV, token));
            }
            if !entry["models"].is_object() {
                entry["models"] = json!({});
            }
            let mut model = json!({"name": alias});
            if let Some(context) = target.context_window {
                model["limit"] = json!({
                    "context": context,
                    "output": target.max_output_tokens.unwrap_or(context.min(32_000)),
                });
            }
            entry["models"][alias] = model;
            doc["model"] = json!(format!("switchboard/{alias}"));
            file = file_of("json", pretty(&doc));
            format!("opencode run -m switchboard/{alias} \"hello\"")
        }
        Client::Claude => {
            let mut doc = parse_json(existing, path)?;
            let vars = object(&mut doc, "env");
            vars.insert("ANTHROPIC_BASE_URL".into(), json!(urls.root()));
            vars.insert("ANTHROPIC_MODEL".into(), json!(alias));
            vars.insert("ANTHROPIC_SMALL_FAST_MODEL".into(), json!(alias));
            envs.push(env("ANTHROPIC_BASE_URL", urls.root()));
            envs.push(env("ANTHROPIC_MODEL", alias));
            envs.push(env("ANTHROPIC_SMALL_FAST_MODEL", alias));
            match &target.token {
                Some(token) => {
                    vars.insert("ANTHROPIC_AUTH_TOKEN".into(), json!(token));
                }
                None => {
                    vars.remove("ANTHROPIC_AUTH_TOKEN");
                }
            }
            if let Some(token) = urls.token() {
                envs.push(env("ANTHROPIC_AUTH_TOKEN", token));
            }
            notes.push(
                "Claude Code reads `env` from ~/.claude/settings.json, or the same variables from the shell.".into(),
            );
            file = file_of("json", pretty(&doc));
            "claude -p \"hello\"".to_owned()
        }
        Client::Codex => {
            let mut doc: toml_edit::DocumentMut = existing
                .unwrap_or("")
                .parse()
                .map_err(|e| format!("~/{path} is not valid TOML: {e}"))?;
            doc["model"] = toml_edit::value(alias);
            doc["model_provider"] = toml_edit::value("switchboard");
            // Codex knows context windows only of OpenAI's models: tell it this alias's.
            match target.context_window {
                Some(window) => doc["model_context_window"] = toml_edit::value(window as i64),
                None => {
                    doc.remove("model_context_window");
                }
            }
            if let Some(max) = target.max_output_tokens {
                doc["model_max_output_tokens"] = toml_edit::value(max as i64);
            }
            if !doc.contains_table("model_providers") {
                let mut table = toml_edit::Table::new();
                table.set_implicit(true);
                doc["model_providers"] = toml_edit::Item::Table(table);
            }
            let mut provider = toml_edit::Table::new();
            provider["name"] = toml_edit::value("Switchboard");
            provider["base_url"] = toml_edit::value(urls.v1());
            provider["wire_api"] = toml_edit::value("responses");
            if let Some(token) = urls.token() {
                provider["env_key"] = toml_edit::value(TOKEN_ENV);
                envs.push(env(TOKEN_ENV, token));
            }
            doc["model_providers"]["switchboard"] = toml_edit::Item::Table(provider);
            file = file_of("toml", doc.to_string());
            "codex exec --skip-git-repo-check \"hello\"".to_owned()
        }
        Client::Continue => {
            let mut doc = yaml_doc(
                existing,
                path,
                "name: Local config\nversion: 1.0.0\nschema: v1\nmodels: []\n",
            )?;
            let model: serde_yaml_ng::Value = serde_yaml_ng::to_value(json!({
                "name": format!("{alias} (Switchboard)"),
                "provider": "openai",
                "model": alias,
                "apiBase": urls.v1(),
                "apiKey": urls.key_or_placeholder(),
                "roles": ["chat", "edit", "apply", "autocomplete"],
            }))
            .map_err(|e| e.to_string())?;
            let Some(map) = doc.as_mapping_mut() else {
                return Err(format!("~/{path} is not a YAML mapping"));
            };
            let models = map
                .entry("models".into())
                .or_insert_with(|| serde_yaml_ng::Value::Sequence(Vec::new()));
            let Some(list) = models.as_sequence_mut() else {
                return Err(format!("`models` in ~/{path} is not a list"));
            };
            // One entry per alias: replace ours, keep everyone else's.
            list.retain(|m| {
                !(m.get("apiBase").and_then(|v| v.as_str()) == Some(urls.v1().as_str())
                    && m.get("model").and_then(|v| v.as_str()) == Some(alias))
            });
            list.push(model);
            file = file_of(
                "yaml",
                serde_yaml_ng::to_string(&doc).map_err(|e| e.to_string())?,
            );
            "open Continue in your editor and pick the model".to_owned()
        }
        Client::Zed => {
            let mut doc = parse_json(existing, path)?;
            let models = object(&mut doc, "language_models");
            let compatible = models
                .entry("openai_compatible")
                .or_insert_with(|| json!({}));
            let entry = &mut compatible["Switchboard"];
            entry["api_url"] = json!(urls.v1());
            let mut available: Vec<Value> = entry["available_models"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            available.retain(|m| m["name"] != json!(alias));
            available.push(json!({
                "name": alias, "display_name": alias,
                "max_tokens": target.context_window.unwrap_or(128_000),
                "capabilities": {"tools": true, "images": false, "parallel_tool_calls": false, "prompt_cache_key": false},
            }));
            entry["available_models"] = Value::Array(available);
            // Zed reads an openai_compatible provider's key from <NAME>_API_KEY.
            envs.push(env("SWITCHBOARD_API_KEY", urls.key_or_placeholder()));
            notes.push(
                "Zed's settings.json may hold comments; if it does, add these entries by hand."
                    .into(),
            );
            file = file_of("json", pretty(&doc));
            "pick Switchboard in Zed's model selector".to_owned()
        }
        Client::Aider => {
            let mut doc = yaml_doc(existing, path, "{}")?;
            let Some(map) = doc.as_mapping_mut() else {
                return Err(format!("~/{path} is not a YAML mapping"));
            };
            map.insert("openai-api-base".into(), urls.v1().into());
            map.insert("openai-api-key".into(), urls.key_or_placeholder().into());
            map.insert("model".into(), format!("openai/{alias}").into());
            file = file_of(
                "yaml",
                serde_yaml_ng::to_string(&doc).map_err(|e| e.to_string())?,
            );
            "aider".to_owned()
        }
        Client::OpenWebUi => {
            let base = target
                .docker_base_url
                .clone()
                .unwrap_or_else(|| docker_guess(&urls.root()));
            let text = format!(
                "docker run -d -p 3000:8080 \\\n  --add-host=host.docker.internal:host-gateway \\\n  -e OPENAI_API_BASE_URL={} \\\n  -e OPENAI_API_KEY={} \\\n  -v open-webui:/app/backend/data --name open-webui \\\n  ghcr.io/open-webui/open-webui:main\n",
                shell_quote(&format!("{base}/v1")),
                shell_quote(&urls.key_or_placeholder()),
            );
            snippet = Some(Snippet {
                format: "shell".into(),
                text,
            });
            envs.push(env("OPENAI_API_BASE_URL", format!("{base}/v1")));
            envs.push(env("OPENAI_API_KEY", urls.key_or_placeholder()));
            notes.push(
                "A container reaches the host as host.docker.internal, not 127.0.0.1, and a loopback-only listener cannot be reached from it.".into(),
            );
            if target.docker_base_url.is_none() {
                notes.push(
                    "Turn on the second listener (Access settings → LAN and containers) first; it requires a client token on every call.".into(),
                );
            } else {
                notes.push(
                    "The second listener takes only client tokens: create one for Open WebUI."
                        .into(),
                );
            }
            format!("open http://localhost:3000 and pick {alias}")
        }
        Client::Curl => {
            let body = json!({"model": alias, "messages": [{"role": "user", "content": "Hello"}]});
            let mut text = format!(
                "curl -sS {} \\\n  -H 'content-type: application/json' \\\n",
                shell_quote(&format!("{}/chat/completions", urls.v1()))
            );
            if let Some(token) = urls.token() {
                text.push_str(&format!(
                    "  -H {} \\\n",
                    shell_quote(&format!("authorization: Bearer {token}"))
                ));
            }
            text.push_str(&format!("  -d {}\n", shell_quote(&body.to_string())));
            snippet = Some(Snippet {
                format: "shell".into(),
                text,
            });
            "paste it into a terminal".to_owned()
        }
        Client::OpenAiPython => {
            snippet = Some(Snippet {
                format: "python".into(),
                text: format!(
                    "from openai import OpenAI\n\nclient = OpenAI(base_url={}, api_key={})\nanswer = client.chat.completions.create(\n    model={},\n    messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}],\n)\nprint(answer.choices[0].message.content)\n",
                    literal(&urls.v1()),
                    literal(&urls.key_or_placeholder()),
                    literal(alias)
                ),
            });
            "pip install openai && python hello.py".to_owned()
        }
        Client::OpenAiJs => {
            snippet = Some(Snippet {
                format: "javascript".into(),
                text: format!(
                    "import OpenAI from 'openai';\n\nconst client = new OpenAI({{ baseURL: {}, apiKey: {} }});\nconst answer = await client.chat.completions.create({{\n  model: {},\n  messages: [{{ role: 'user', content: 'Hello' }}],\n}});\nconsole.log(answer.choices[0].message.content);\n",
                    literal(&urls.v1()),
                    literal(&urls.key_or_placeholder()),
                    literal(alias)
                ),
            });
            "npm install openai && node hello.mjs".to_owned()
        }
        Client::AnthropicPython => {
            snippet = Some(Snippet {
                format: "python".into(),
                text: format!(
                    "import anthropic\n\nclient = anthropic.Anthropic(base_url={}, api_key={})\nanswer = client.messages.create(\n    model={},\n    max_tokens=1024,\n    messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}],\n)\nprint(answer.content[0].text)\n",
                    literal(&urls.root()),
                    literal(&urls.key_or_placeholder()),
                    literal(alias)
                ),
            });
            notes.push("Anthropic's SDKs take the root URL, without /v1.".into());
            "pip install anthropic && python hello.py".to_owned()
        }
        Client::AnthropicJs => {
            snippet = Some(Snippet {
                format: "javascript".into(),
                text: format!(
                    "import Anthropic from '@anthropic-ai/sdk';\n\nconst client = new Anthropic({{ baseURL: {}, apiKey: {} }});\nconst answer = await client.messages.create({{\n  model: {},\n  max_tokens: 1024,\n  messages: [{{ role: 'user', content: 'Hello' }}],\n}});\nconsole.log(answer.content[0].text);\n",
                    literal(&urls.root()),
                    literal(&urls.key_or_placeholder()),
                    literal(alias)
                ),
            });
            notes.push("Anthropic's SDKs take the root URL, without /v1.".into());
            "npm install @anthropic-ai/sdk && node hello.mjs".to_owned()
        }
    };
    Ok(ConnectSetup {
        client: client.name().to_owned(),
        label: client.label().to_owned(),
        alias: alias.to_owned(),
        base_url: urls.root(),
        file,
        env: envs,
        snippet,
        run,
        notes,
        writable: client.file().is_some(),
        token_placeholder: target.token.is_none() && target.tokens_required,
    })
}

/// The URL a container would use when the gateway listens on a loopback port: the same port
/// on host.docker.internal (reachable only once something listens beyond loopback).
fn docker_guess(root: &str) -> String {
    let port = url::Url::parse(root)
        .ok()
        .and_then(|u| u.port_or_known_default())
        .unwrap_or(4000);
    format!("http://host.docker.internal:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(token: Option<&str>) -> ConnectTarget {
        ConnectTarget {
            base_url: "http://127.0.0.1:4000/v1/".into(),
            alias: "local/chat".into(),
            token: token.map(str::to_owned),
            tokens_required: token.is_some(),
            ..ConnectTarget::default()
        }
    }

    struct Gen {
        content: String,
        env: Vec<(String, String)>,
    }

    fn gen(client: Client, token: Option<&str>, existing: Option<&str>) -> Gen {
        match generate(client, &setup(token), existing) {
            Ok(g) => Gen {
                content: g.file.map(|f| f.content).unwrap_or_default(),
                env: g.env.into_iter().map(|e| (e.name, e.value)).collect(),
            },
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn opencode_reads_base_url_and_model_from_its_provider_entry() {
        let g = gen(
            Client::Opencode,
            Some("sb-x"),
            Some(r#"{"theme": "dark", "provider": {"other": {"npm": "x"}}}"#),
        );
        let v: Value = serde_json::from_str(&g.content).unwrap_or_default();
        assert_eq!(v["theme"], "dark");
        assert_eq!(v["provider"]["other"]["npm"], "x");
        let p = &v["provider"]["switchboard"];
        assert_eq!(p["npm"], "@ai-sdk/openai-compatible");
        assert_eq!(p["options"]["baseURL"], "http://127.0.0.1:4000/v1");
        assert_eq!(p["options"]["apiKey"], "{env:SWITCHBOARD_TOKEN}");
        assert!(p["models"]["local/chat"].is_object());
        assert_eq!(v["model"], "switchboard/local/chat");
        assert!(
            !g.content.contains("sb-x"),
            "the token stays in the environment"
        );
        assert_eq!(g.env, [("SWITCHBOARD_TOKEN".to_owned(), "sb-x".to_owned())]);
    }

    #[test]
    fn claude_code_gets_the_root_url_without_v1() {
        let g = gen(
            Client::Claude,
            Some("sb-x"),
            Some(r#"{"env": {"KEEP": "1"}, "model": "opus"}"#),
        );
        let v: Value = serde_json::from_str(&g.content).unwrap_or_default();
        assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:4000");
        assert_eq!(v["env"]["ANTHROPIC_AUTH_TOKEN"], "sb-x");
        assert_eq!(v["env"]["ANTHROPIC_MODEL"], "local/chat");
        assert_eq!(v["env"]["KEEP"], "1");
        let g = gen(Client::Claude, None, None);
        let v: Value = serde_json::from_str(&g.content).unwrap_or_default();
        assert!(v["env"].get("ANTHROPIC_AUTH_TOKEN").is_none());
    }

    #[test]
    fn codex_speaks_responses_to_its_own_provider() {
        let existing =
            "# mine\napproval_policy = \"never\"\n\n[model_providers.other]\nname = \"o\"\n";
        let g = gen(Client::Codex, Some("sb-x"), Some(existing));
        assert!(g.content.starts_with("# mine\n"), "{}", g.content);
        let v: toml::Table = toml::from_str(&g.content).unwrap_or_default();
        assert_eq!(v["model"].as_str(), Some("local/chat"));
        assert_eq!(v["model_provider"].as_str(), Some("switchboard"));
        let p = &v["model_providers"]["switchboard"];
        assert_eq!(p["base_url"].as_str(), Some("http://127.0.0.1:4000/v1"));
        assert_eq!(p["wire_api"].as_str(), Some("responses"));
        assert_eq!(p["env_key"].as_str(), Some("SWITCHBOARD_TOKEN"));
        assert_eq!(v["model_providers"]["other"]["name"].as_str(), Some("o"));
        assert_eq!(v["approval_policy"].as_str(), Some("never"));
        let g = gen(Client::Codex, None, None);
        assert!(!g.content.contains("env_key"), "{}", g.content);
    }

    #[test]
    fn continue_gets_one_openai_model_entry_per_alias() {
        let existing = "name: mine\nversion: 1.0.0\nschema: v1\nmodels:\n  - name: other\n    provider: ollama\n    model: llama3\n";
        let once = gen(Client::Continue, None, Some(existing));
        let twice = gen(Client::Continue, None, Some(&once.content));
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&twice.content).unwrap_or_default();
        let models = v["models"].as_sequence().cloned().unwrap_or_default();
        assert_eq!(models.len(), 2, "{}", twice.content);
        assert_eq!(models[0]["model"].as_str(), Some("llama3"));
        assert_eq!(models[1]["provider"].as_str(), Some("openai"));
        assert_eq!(
            models[1]["apiBase"].as_str(),
            Some("http://127.0.0.1:4000/v1")
        );
        assert_eq!(models[1]["model"].as_str(), Some("local/chat"));
    }

    #[test]
    fn zed_lists_the_alias_under_openai_compatible() {
        let g = gen(Client::Zed, Some("sb-x"), Some(r#"{"theme": "One"}"#));
        let v: Value = serde_json::from_str(&g.content).unwrap_or_default();
        let p = &v["language_models"]["openai_compatible"]["Switchboard"];
        assert_eq!(p["api_url"], "http://127.0.0.1:4000/v1");
        assert_eq!(p["available_models"][0]["name"], "local/chat");
        assert_eq!(v["theme"], "One");
        assert_eq!(
            g.env[0],
            ("SWITCHBOARD_API_KEY".to_owned(), "sb-x".to_owned())
        );
        assert!(generate(Client::Zed, &setup(None), Some("{ // comment\n}")).is_err());
    }

    #[test]
    fn aider_uses_the_openai_prefix() {
        let g = gen(Client::Aider, None, Some("dark-mode: true\n"));
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&g.content).unwrap_or_default();
        assert_eq!(
            v["openai-api-base"].as_str(),
            Some("http://127.0.0.1:4000/v1")
        );
        assert_eq!(v["model"].as_str(), Some("openai/local/chat"));
        assert_eq!(v["openai-api-key"].as_str(), Some("switchboard"));
        assert_eq!(v["dark-mode"].as_bool(), Some(true));
    }

    #[test]
    fn snippets_carry_the_token_or_a_placeholder() {
        let curl = generate(Client::Curl, &setup(Some("sb-x")), None).map(|g| g.snippet);
        let text = curl.ok().flatten().map(|s| s.text).unwrap_or_default();
        assert!(
            text.contains("'http://127.0.0.1:4000/v1/chat/completions'"),
            "{text}"
        );
        assert!(text.contains("Bearer sb-x"), "{text}");
        let mut needs = setup(None);
        needs.tokens_required = true;
        let g = generate(Client::OpenAiPython, &needs, None).ok();
        assert!(g.as_ref().is_some_and(|g| g.token_placeholder));
        let text = g
            .and_then(|g| g.snippet)
            .map(|s| s.text)
            .unwrap_or_default();
        assert!(text.contains(TOKEN_PLACEHOLDER), "{text}");
    }

    #[test]
    fn a_known_context_window_reaches_opencode_and_codex() {
        let mut target = setup(None);
        target.context_window = Some(200_000);
        let g = generate(Client::Codex, &target, None)
            .ok()
            .and_then(|g| g.file);
        let v: toml::Table =
            toml::from_str(&g.map(|f| f.content).unwrap_or_default()).unwrap_or_default();
        assert_eq!(v["model_context_window"].as_integer(), Some(200_000));
        let g = generate(Client::Opencode, &target, None)
            .ok()
            .and_then(|g| g.file);
        let v: Value =
            serde_json::from_str(&g.map(|f| f.content).unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            v["provider"]["switchboard"]["models"]["local/chat"]["limit"]["context"],
            200_000
        );
    }
}
