//! Client setup for a Switchboard alias: the config file (merged into the user's existing one)
//! and environment each coding client reads (see /work/shared/CLIENTS.md for where each looks).
//! `switchboard connect` prints or writes it; the dashboard's Connect page will serve the same.

use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Client {
    Opencode,
    Claude,
    Codex,
    Continue,
    Zed,
    Aider,
}

impl Client {
    pub const ALL: [Client; 6] = [
        Client::Opencode,
        Client::Claude,
        Client::Codex,
        Client::Continue,
        Client::Zed,
        Client::Aider,
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
        }
    }

    /// The file the client reads, relative to the home directory.
    pub fn file(self) -> &'static str {
        match self {
            Client::Opencode => ".config/opencode/opencode.json",
            Client::Claude => ".claude/settings.json",
            Client::Codex => ".codex/config.toml",
            Client::Continue => ".continue/config.yaml",
            Client::Zed => ".config/zed/settings.json",
            Client::Aider => ".aider.conf.yml",
        }
    }
}

/// What to connect: the gateway (`http://127.0.0.1:4000`, no `/v1`), an alias and a client token
/// (none on loopback without `[tokens]`).
#[derive(Debug, Clone)]
pub struct Setup {
    pub base_url: String,
    pub alias: String,
    pub token: Option<String>,
}

/// Environment variable the generated files read the token from, where the client can.
pub const TOKEN_ENV: &str = "SWITCHBOARD_TOKEN";

#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    pub client: Client,
    /// Relative to the home directory.
    pub path: String,
    /// The whole file: the existing one with Switchboard's entries merged in.
    pub content: String,
    /// Variables to export before running the client (`NAME`, value).
    pub env: Vec<(String, String)>,
    /// How to run it against the alias.
    pub run: String,
}

impl Setup {
    fn root(&self) -> String {
        let url = self.base_url.trim().trim_end_matches('/');
        url.strip_suffix("/v1").unwrap_or(url).to_owned()
    }

    fn v1(&self) -> String {
        format!("{}/v1", self.root())
    }

    /// Clients that insist on a key get this when the gateway needs none.
    fn key_or_placeholder(&self) -> String {
        self.token
            .clone()
            .unwrap_or_else(|| "switchboard".to_owned())
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

/// The client's file for `setup`, merged into `existing` (its current text, if any).
pub fn generate(
    client: Client,
    setup: &Setup,
    existing: Option<&str>,
) -> Result<Generated, String> {
    let path = client.file();
    let alias = &setup.alias;
    let mut env = Vec::new();
    let (content, run) = match client {
        Client::Opencode => {
            let mut doc = parse_json(existing, path)?;
            if doc.get("$schema").is_none() {
                doc["$schema"] = json!("https://opencode.ai/config.json");
            }
            let provider = object(&mut doc, "provider");
            let entry = provider.entry("switchboard").or_insert_with(|| json!({}));
            entry["npm"] = json!("@ai-sdk/openai-compatible");
            entry["name"] = json!("Switchboard");
            entry["options"]["baseURL"] = json!(setup.v1());
            if setup.token.is_some() {
                entry["options"]["apiKey"] = json!(format!("{{env:{TOKEN_ENV}}}"));
            }
            if !entry["models"].is_object() {
                entry["models"] = json!({});
            }
            entry["models"][alias] = json!({"name": alias});
            doc["model"] = json!(format!("switchboard/{alias}"));
            (
                pretty(&doc),
                format!("opencode run -m switchboard/{alias} \"hello\""),
            )
        }
        Client::Claude => {
            let mut doc = parse_json(existing, path)?;
            let vars = object(&mut doc, "env");
            vars.insert("ANTHROPIC_BASE_URL".into(), json!(setup.root()));
            vars.insert("ANTHROPIC_MODEL".into(), json!(alias));
            vars.insert("ANTHROPIC_SMALL_FAST_MODEL".into(), json!(alias));
            match &setup.token {
                Some(token) => {
                    vars.insert("ANTHROPIC_AUTH_TOKEN".into(), json!(token));
                }
                None => {
                    vars.remove("ANTHROPIC_AUTH_TOKEN");
                }
            }
            (pretty(&doc), "claude -p \"hello\"".to_owned())
        }
        Client::Codex => {
            let mut doc: toml_edit::DocumentMut = existing
                .unwrap_or("")
                .parse()
                .map_err(|e| format!("~/{path} is not valid TOML: {e}"))?;
            doc["model"] = toml_edit::value(alias.as_str());
            doc["model_provider"] = toml_edit::value("switchboard");
            if !doc.contains_table("model_providers") {
                let mut table = toml_edit::Table::new();
                table.set_implicit(true);
                doc["model_providers"] = toml_edit::Item::Table(table);
            }
            let mut provider = toml_edit::Table::new();
            provider["name"] = toml_edit::value("Switchboard");
            provider["base_url"] = toml_edit::value(setup.v1());
            provider["wire_api"] = toml_edit::value("responses");
            if setup.token.is_some() {
                provider["env_key"] = toml_edit::value(TOKEN_ENV);
            }
            doc["model_providers"]["switchboard"] = toml_edit::Item::Table(provider);
            (
                doc.to_string(),
                "codex exec --skip-git-repo-check \"hello\"".to_owned(),
            )
        }
        Client::Continue => {
            let mut doc: serde_yaml_ng::Value = match existing.map(str::trim) {
                None | Some("") => serde_yaml_ng::from_str(
                    "name: Local config\nversion: 1.0.0\nschema: v1\nmodels: []\n",
                )
                .map_err(|e| e.to_string())?,
                Some(text) => serde_yaml_ng::from_str(text)
                    .map_err(|e| format!("~/{path} is not valid YAML: {e}"))?,
            };
            let model: serde_yaml_ng::Value = serde_yaml_ng::to_value(json!({
                "name": format!("{alias} (Switchboard)"),
                "provider": "openai",
                "model": alias,
                "apiBase": setup.v1(),
                "apiKey": setup.key_or_placeholder(),
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
                !(m.get("apiBase").and_then(|v| v.as_str()) == Some(setup.v1().as_str())
                    && m.get("model").and_then(|v| v.as_str()) == Some(alias.as_str()))
            });
            list.push(model);
            (
                serde_yaml_ng::to_string(&doc).map_err(|e| e.to_string())?,
                "open Continue in your editor and pick the model".to_owned(),
            )
        }
        Client::Zed => {
            let mut doc = parse_json(existing, path)?;
            let models = object(&mut doc, "language_models");
            let compatible = models
                .entry("openai_compatible")
                .or_insert_with(|| json!({}));
            let entry = &mut compatible["Switchboard"];
            entry["api_url"] = json!(setup.v1());
            let mut available: Vec<Value> = entry["available_models"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            available.retain(|m| m["name"] != json!(alias));
            available.push(json!({
                "name": alias, "display_name": alias, "max_tokens": 128000,
                "capabilities": {"tools": true, "images": false, "parallel_tool_calls": false, "prompt_cache_key": false},
            }));
            entry["available_models"] = Value::Array(available);
            // Zed reads an openai_compatible provider's key from <NAME>_API_KEY.
            env.push(("SWITCHBOARD_API_KEY".to_owned(), setup.key_or_placeholder()));
            (
                pretty(&doc),
                "pick Switchboard in Zed's model selector".to_owned(),
            )
        }
        Client::Aider => {
            let mut doc: serde_yaml_ng::Value = match existing.map(str::trim) {
                None | Some("") => serde_yaml_ng::Value::Mapping(Default::default()),
                Some(text) => serde_yaml_ng::from_str(text)
                    .map_err(|e| format!("~/{path} is not valid YAML: {e}"))?,
            };
            let Some(map) = doc.as_mapping_mut() else {
                return Err(format!("~/{path} is not a YAML mapping"));
            };
            map.insert("openai-api-base".into(), setup.v1().into());
            map.insert("openai-api-key".into(), setup.key_or_placeholder().into());
            map.insert("model".into(), format!("openai/{alias}").into());
            (
                serde_yaml_ng::to_string(&doc).map_err(|e| e.to_string())?,
                "aider".to_owned(),
            )
        }
    };
    if let (Some(token), Client::Opencode | Client::Codex) = (&setup.token, client) {
        env.push((TOKEN_ENV.to_owned(), token.clone()));
    }
    Ok(Generated {
        client,
        path: path.to_owned(),
        content,
        env,
        run,
    })
}

/// A line diff (`-`/`+`, unchanged lines as context) between the current and the new file.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence table; config files are small.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(token: Option<&str>) -> Setup {
        Setup {
            base_url: "http://127.0.0.1:4000/v1/".into(),
            alias: "local/chat".into(),
            token: token.map(str::to_owned),
        }
    }

    fn gen(client: Client, token: Option<&str>, existing: Option<&str>) -> Generated {
        match generate(client, &setup(token), existing) {
            Ok(g) => g,
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
    fn diff_marks_added_and_removed_lines() {
        assert_eq!(diff("a\nb\nc\n", "a\nx\nc\n"), "  a\n- b\n+ x\n  c\n");
    }
}
