//! `switchboard import litellm`: realistic LiteLLM configs in, a Switchboard config that passes
//! Switchboard's own validation out, and a report that drops nothing silently and leaks no key.

// Tests may panic on setup failures; that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use serde_yaml_ng::Value;
use switchboard_gateway::config::import_litellm::{
    import_litellm, import_litellm_with, ImportError, ImportOptions, ImportOutcome,
};
use switchboard_gateway::config::Config;
use switchboard_gateway::secret::SecretRef;

const FIXTURES: [&str; 5] = [
    "local_backends",
    "cloud",
    "secrets",
    "fallbacks",
    "edge_cases",
];

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/litellm")
        .join(format!("{name}.yaml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Imports a fixture and parses the result with Switchboard's own config loader.
fn import(name: &str) -> (ImportOutcome, Config) {
    let outcome = import_litellm(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let config = Config::parse(&outcome.toml, "imported.toml")
        .unwrap_or_else(|e| panic!("{name}: imported config is invalid:\n{e}\n{}", outcome.toml));
    (outcome, config)
}

fn report(outcome: &ImportOutcome) -> String {
    outcome
        .report
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The note at `path` whose message contains `needle`.
fn assert_note(outcome: &ImportOutcome, path: &str, needle: &str) {
    assert!(
        outcome
            .report
            .iter()
            .any(|n| n.path == path && n.message.contains(needle)),
        "no note at {path} containing {needle:?}; report:\n{}",
        report(outcome)
    );
}

fn targets(config: &Config, alias: &str) -> Vec<String> {
    config.aliases[alias]
        .targets
        .iter()
        .map(|t| t.label())
        .collect()
}

#[test]
fn every_fixture_imports_into_a_valid_config() {
    for name in FIXTURES {
        let (outcome, config) = import(name);
        assert_eq!(config.listen.to_string(), "127.0.0.1:4000", "{name}");
        assert!(
            outcome
                .toml
                .starts_with("# Imported from LiteLLM config on "),
            "{name}: header missing:\n{}",
            outcome.toml
        );
        assert!(outcome.toml.contains("see the report"), "{name}");
        assert!(!config.aliases.is_empty(), "{name}: no alias imported");
    }
}

#[test]
fn local_vllm_ollama_and_llama_cpp_backends_become_openai_providers() {
    let (outcome, config) = import("local_backends");

    let armitage = &config.providers["armitage-8000"];
    assert_eq!(
        armitage.base_url.as_deref(),
        Some("http://armitage:8000/v1")
    );
    assert_eq!(armitage.api_key, None);
    // Ollama's native api_base gets /v1, where Ollama serves the OpenAI API.
    assert_eq!(
        config.providers["ollama"].base_url.as_deref(),
        Some("http://127.0.0.1:11434/v1")
    );
    assert_eq!(
        config.providers["armitage-11434"].base_url.as_deref(),
        Some("http://armitage:11434/v1")
    );
    assert_eq!(
        config.providers["gpu-box-8080"].api_key,
        Some(SecretRef::Env("LLAMA_CPP_KEY".into()))
    );
    assert_eq!(
        config.providers["lm-studio"].base_url.as_deref(),
        Some("http://localhost:1234/v1")
    );

    // Two deployments under one model_name: one alias, both targets, in file order.
    assert_eq!(
        targets(&config, "local/chat"),
        [
            "armitage-8000/Qwen/Qwen2.5-7B-Instruct-AWQ",
            "ollama/qwen2.5:7b"
        ]
    );
    assert!(outcome.toml.contains("[aliases.\"local/chat\"]"));
    // The second model on the same vLLM server shares its provider.
    assert_eq!(
        targets(&config, "local/small"),
        ["armitage-8000/meta-llama/Llama-3.2-3B-Instruct"]
    );
    assert_eq!(
        targets(&config, "local/embed"),
        ["ollama-2/nomic-embed-text"]
    );

    // timeout → total_s, stream_timeout → idle_s on the target; request_timeout → provider default.
    let vllm = &config.aliases["local/chat"].targets[0];
    assert_eq!(vllm.timeouts.total, Duration::from_secs(300));
    assert_eq!(vllm.timeouts.idle, Duration::from_secs(60));
    assert_eq!(armitage.timeouts.total, Duration::from_secs(600));
    assert_eq!(config.aliases["local/chat"].fallbacks, ["llama-cpp"]);

    assert_note(
        &outcome,
        "model_list[1].litellm_params",
        "Ollama serves the OpenAI API under /v1",
    );
    assert_note(&outcome, "model_list[0].litellm_params.rpm", "rpm = 60");
    assert_note(
        &outcome,
        "model_list[1].litellm_params.max_tokens",
        "max_tokens = 2048 not imported",
    );
    assert_note(
        &outcome,
        "model_list[3].litellm_params.temperature",
        "not imported",
    );
    assert_note(&outcome, "model_list[0].model_name", "load-balanced its 2");
    assert_note(&outcome, "litellm_settings.drop_params", "not translated");
    assert_note(&outcome, "model_list[4].model_info", "not imported");
}

#[test]
fn cloud_keys_become_env_references_and_unsupported_providers_stay_commented_out() {
    let (outcome, config) = import("cloud");

    let openai = &config.providers["openai"];
    assert_eq!(
        openai.base_url.as_deref(),
        Some("https://api.openai.com/v1")
    );
    assert_eq!(
        openai.api_key,
        Some(SecretRef::Env("OPENAI_API_KEY".into()))
    );
    assert_eq!(
        config.providers["openai-2"].api_key,
        Some(SecretRef::Env("OPENAI_API_KEY_BACKUP".into()))
    );
    assert_eq!(
        config.providers["groq"].base_url.as_deref(),
        Some("https://api.groq.com/openai/v1")
    );
    // router_settings.timeout → every provider's default total_s; the deployment's own wins.
    assert_eq!(openai.timeouts.total, Duration::from_secs(120));
    assert_eq!(
        config.aliases["gpt-4o"].targets[1].timeouts.total,
        Duration::from_secs(90)
    );
    // An unprefixed OpenAI model name is inferred the way LiteLLM does.
    assert_eq!(targets(&config, "gpt-4o-mini"), ["openai/gpt-4o-mini"]);

    // Anthropic, Gemini, Azure, Bedrock: no alias, no provider, but kept commented out.
    for alias in ["claude-sonnet", "gemini-flash", "bedrock-claude"] {
        assert!(!config.aliases.contains_key(alias), "{alias}");
    }
    assert_eq!(config.providers.len(), 3, "{:?}", config.providers.keys());
    let block_start = outcome
        .toml
        .find("# NOT TRANSLATED")
        .expect("no commented-out block");
    let block = &outcome.toml[block_start..];
    assert!(
        block.lines().all(|l| l.starts_with('#')),
        "uncommented line in:\n{block}"
    );
    for needle in [
        "# [providers.anthropic]",
        "# kind = \"anthropic\"",
        "# api_key = \"env:ANTHROPIC_API_KEY\"",
        "# [aliases.claude-sonnet]",
        "# targets = [\"anthropic/claude-3-5-sonnet-20241022\"]",
        "# [providers.gemini]",
        "# [providers.azure]",
        "# targets = [\"azure/gpt-4o-eu\"]",
    ] {
        assert!(block.contains(needle), "missing {needle:?} in:\n{block}");
    }
    assert_note(
        &outcome,
        "model_list[4].litellm_params.model",
        "not translated: Switchboard has no `anthropic` provider kind yet",
    );
    assert_note(
        &outcome,
        "model_list[5].litellm_params.model",
        "no `gemini` provider kind yet",
    );

    assert_note(&outcome, "model_list[0].litellm_params.tpm", "tpm = 300000");
    assert_note(
        &outcome,
        "router_settings.routing_strategy",
        "usage-based-routing-v2",
    );
    for key in ["num_retries", "allowed_fails", "cooldown_time"] {
        assert_note(
            &outcome,
            &format!("router_settings.{key}"),
            "not translated",
        );
    }
    assert_note(&outcome, "router_settings.timeout", "total_s = 120");
    assert_note(&outcome, "router_settings.redis_password", "not imported");
    assert_note(
        &outcome,
        "litellm_settings.success_callback",
        "not imported",
    );
    assert_note(
        &outcome,
        "general_settings.master_key",
        "LITELLM_MASTER_KEY",
    );
}

#[test]
fn duplicate_model_names_become_one_alias_with_several_targets() {
    let (outcome, config) = import("cloud");
    assert_eq!(
        targets(&config, "gpt-4o"),
        ["openai/gpt-4o", "openai-2/gpt-4o"]
    );
    assert_eq!(outcome.toml.matches("[aliases.gpt-4o]").count(), 1);
    assert_note(&outcome, "model_list[0].model_name", "load-balanced its 3");
    assert!(outcome
        .toml
        .contains("# LiteLLM load-balanced 3 deployments here"));
}

#[test]
fn fallbacks_and_context_window_fallbacks_become_alias_fallbacks() {
    let (outcome, config) = import("cloud");
    // claude-sonnet was not imported, so it is dropped from gpt-4o's fallbacks.
    assert_eq!(config.aliases["gpt-4o"].fallbacks, ["gpt-4o-mini"]);
    // context_window_fallbacks append to the ordinary ones; gpt-4o would close a cycle.
    assert_eq!(config.aliases["gpt-4o-mini"].fallbacks, ["groq-llama"]);
    assert!(config.aliases["groq-llama"].fallbacks.is_empty());

    assert_note(
        &outcome,
        "router_settings.fallbacks[0]",
        "fallback `claude-sonnet` of `gpt-4o` dropped",
    );
    assert_note(
        &outcome,
        "router_settings.fallbacks[2]",
        "fallbacks of `claude-sonnet` not imported",
    );
    assert_note(
        &outcome,
        "router_settings.context_window_fallbacks[0]",
        "imported as ordinary fallbacks",
    );
    assert_note(
        &outcome,
        "router_settings.context_window_fallbacks[0]",
        "fallback `gemini-flash` of `gpt-4o-mini` dropped",
    );
    assert_note(
        &outcome,
        "router_settings.context_window_fallbacks[0]",
        "cycle gpt-4o-mini → gpt-4o → gpt-4o-mini",
    );
}

#[test]
fn fallback_cycles_are_broken_and_group_aliases_copied() {
    let (outcome, config) = import("fallbacks");
    // YAML merge keys (`<<: *anchor`) carry the api_base over, as in LiteLLM.
    assert_eq!(
        targets(&config, "smart"),
        ["armitage-8000/Qwen/Qwen2.5-32B-Instruct-AWQ"]
    );
    assert_eq!(config.aliases["fast"].fallbacks, ["smart", "long-context"]);
    assert_eq!(config.aliases["smart"].fallbacks, ["long-context"]);
    assert!(config.aliases["long-context"].fallbacks.is_empty());
    assert_note(
        &outcome,
        "router_settings.fallbacks[1]",
        "cycle smart → fast → smart",
    );
    assert_note(
        &outcome,
        "router_settings.fallbacks[2]",
        "cycle long-context → fast → long-context",
    );
    assert_note(
        &outcome,
        "router_settings.fallbacks[1]",
        "`smart` lists itself",
    );

    // Names differing only in case: the first is kept.
    assert!(!config.aliases.contains_key("Fast"));
    assert_note(
        &outcome,
        "model_list[3].model_name",
        "differs from `fast` only in case",
    );
    // Wildcards have no Switchboard equivalent.
    assert!(!config.aliases.contains_key("everything"));
    assert_note(&outcome, "model_list[4].model_name", "wildcard");

    // model_group_alias → an alias with the same targets and fallbacks.
    assert_eq!(targets(&config, "default"), targets(&config, "smart"));
    assert_eq!(config.aliases["default"].fallbacks, ["long-context"]);
    assert_eq!(
        targets(&config, "qwen-long"),
        ["ollama/qwen2.5:14b-instruct-128k"]
    );
    assert_note(&outcome, "router_settings.model_group_alias", "`hidden`");
    assert_note(
        &outcome,
        "litellm_settings.default_fallbacks",
        "every alias has fallbacks of its own",
    );
}

#[test]
fn literal_secrets_never_reach_the_output_or_the_report() {
    let yaml = fixture("secrets");
    let (outcome, config) = import("secrets");
    let text = report(&outcome);
    for secret in [
        "sk-proj-LITERALOPENAIKEY0123456789abcdef",
        "LITERALOPENAIKEY",
        "BASICAUTHPASSWORD42",
        "proxyuser",
        "QUERYTOKEN77",
        "LITERALVLLMKEY",
        "LITERALANTHROPICKEY",
        "LITERALREDISPASSWORD",
        "LITERALMASTERKEY",
        "LITERALDBPASSWORD",
        "LITERALSLACKHOOK",
        "LITERALLANGFUSESECRET",
        "LITERALENVSECTIONKEY",
    ] {
        assert!(yaml.contains(secret), "fixture lost {secret}");
        assert!(
            !outcome.toml.contains(secret),
            "{secret} leaked into the config"
        );
        assert!(!text.contains(secret), "{secret} leaked into the report");
    }
    // The literal key's deployment is imported without a key, on its own provider, and reported.
    assert_eq!(config.providers["openai"].api_key, None);
    assert_eq!(
        config.providers["openai-2"].api_key,
        Some(SecretRef::Env("OPENAI_API_KEY".into()))
    );
    assert_eq!(
        targets(&config, "gpt-4.1"),
        ["openai/gpt-4.1", "openai-2/gpt-4.1"]
    );
    assert_note(
        &outcome,
        "model_list[0].litellm_params.api_key",
        "literal API key not imported",
    );
    assert_note(
        &outcome,
        "model_list[0].litellm_params.api_key",
        "api_key = \"env:VAR\"",
    );
    assert_note(
        &outcome,
        "model_list[3].litellm_params.api_key",
        "literal API key not imported",
    );
    // Credentials and query in api_base are stripped, with a note.
    assert_eq!(
        config.providers["vllm-internal-example"]
            .base_url
            .as_deref(),
        Some("https://vllm.internal.example.com/v1")
    );
    assert_note(
        &outcome,
        "model_list[2].litellm_params.api_base",
        "credentials, query or fragment",
    );
    assert_note(
        &outcome,
        "general_settings.master_key",
        "master_key not imported",
    );
    assert_note(&outcome, "general_settings.database_url", "not imported");
    assert_note(&outcome, "environment_variables", "LANGFUSE_SECRET_KEY");
}

#[test]
fn edge_cases_are_translated_or_reported() {
    let (outcome, config) = import("edge_cases");
    // Spaces are not allowed in alias names.
    assert_eq!(targets(&config, "My-Model"), ["10-0-0-5-9000/my-model"]);
    assert_eq!(
        config.providers["10-0-0-5-9000"].base_url.as_deref(),
        Some("http://10.0.0.5:9000/v1")
    );
    assert_note(
        &outcome,
        "model_list[0].model_name",
        "imported as `My-Model`",
    );
    assert_note(
        &outcome,
        "model_list[0].litellm_params",
        "api_base has no path",
    );
    // api_base from the environment, no api_base, unknown server: reported, not guessed.
    for alias in ["from-env-base", "vllm-no-base", "mystery"] {
        assert!(!config.aliases.contains_key(alias), "{alias}");
    }
    assert_note(
        &outcome,
        "model_list[1].litellm_params.api_base",
        "CUSTOM_OPENAI_BASE",
    );
    assert_note(
        &outcome,
        "model_list[2].litellm_params.model",
        "HOSTED_VLLM_API_BASE",
    );
    assert_note(
        &outcome,
        "model_list[3].litellm_params.model",
        "no provider prefix",
    );
    // No prefix but an api_base: OpenAI-compatible, the whole string is the model id.
    assert_eq!(
        targets(&config, "hf-on-tgi"),
        ["tgi-8080/meta-llama/Llama-3-8B-Instruct"]
    );
    // custom_llm_provider, and LiteLLM's `order` sorting the targets.
    assert_eq!(
        targets(&config, "custom"),
        [
            "vllm-2-8000/my-served-model",
            "armitage-8000/my-served-model"
        ]
    );
    // Known OpenAI-compatible clouds get their default URL and key variable.
    let together = &config.providers["together"];
    assert_eq!(
        together.base_url.as_deref(),
        Some("https://api.together.xyz/v1")
    );
    assert_eq!(
        together.api_key,
        Some(SecretRef::Env("TOGETHERAI_API_KEY".into()))
    );
    assert_eq!(
        targets(&config, "davinci"),
        ["openai/gpt-3.5-turbo-instruct"]
    );
    assert_note(
        &outcome,
        "model_list[5].litellm_params.model",
        "/completions",
    );
    assert_note(&outcome, "model_list[9]", "must be a mapping");
    assert_note(&outcome, "model_list[10].tpm", "tpm = 1000");
    assert_note(
        &outcome,
        "model_list[10].litellm_params.weight",
        "weight = 3",
    );
    assert_note(&outcome, "general_settings.port", "not imported");
    assert_note(&outcome, "server_settings", "not imported");
}

/// Every key of every settings section and every deployment parameter either has a clear
/// translation or a note at its path: nothing is dropped silently.
#[test]
fn nothing_is_dropped_silently() {
    const TRANSLATED_PARAMS: [&str; 6] = [
        "model",
        "api_base",
        "timeout",
        "custom_llm_provider",
        "order",
        "model_name",
    ];
    for name in FIXTURES {
        let (outcome, _) = import(name);
        let mut root: Value = serde_yaml_ng::from_str(&fixture(name)).unwrap();
        root.apply_merge().unwrap();
        let has_note = |path: &str| {
            outcome
                .report
                .iter()
                .any(|n| n.path == path || n.path.starts_with(&format!("{path}[")))
        };
        for (key, section) in root.as_mapping().unwrap() {
            let key = key.as_str().unwrap();
            if key == "model_list" {
                continue;
            }
            match section.as_mapping() {
                Some(map)
                    if ["router_settings", "litellm_settings", "general_settings"]
                        .contains(&key) =>
                {
                    for (inner, _) in map {
                        let inner = inner.as_str().unwrap();
                        // Fallbacks that translate cleanly need no note.
                        if inner == "fallbacks" {
                            continue;
                        }
                        let path = format!("{key}.{inner}");
                        assert!(has_note(&path), "{name}: nothing said about {path}");
                    }
                }
                _ => assert!(has_note(key), "{name}: nothing said about {key}"),
            }
        }
        for (i, entry) in root["model_list"].as_sequence().unwrap().iter().enumerate() {
            let Some(entry) = entry.as_mapping() else {
                assert!(has_note(&format!("model_list[{i}]")), "{name}");
                continue;
            };
            for (key, value) in entry {
                let key = key.as_str().unwrap();
                if key == "litellm_params" {
                    for (param, v) in value.as_mapping().unwrap() {
                        let param = param.as_str().unwrap();
                        let literal_key =
                            param == "api_key" && !v.as_str().unwrap().starts_with("os.environ/");
                        if TRANSLATED_PARAMS.contains(&param)
                            || (param == "api_key" && !literal_key)
                        {
                            continue;
                        }
                        let path = format!("model_list[{i}].litellm_params.{param}");
                        assert!(has_note(&path), "{name}: nothing said about {path}");
                    }
                } else if key != "model_name" {
                    let path = format!("model_list[{i}].{key}");
                    assert!(has_note(&path), "{name}: nothing said about {path}");
                }
            }
        }
    }
}

#[test]
fn header_names_the_source_and_date() {
    let date = time::Date::from_calendar_date(2025, time::Month::March, 14).unwrap();
    let outcome = import_litellm_with(
        &fixture("local_backends"),
        &ImportOptions {
            source: Some("/etc/litellm/config.yaml".into()),
            date: Some(date),
        },
    )
    .unwrap();
    assert!(
        outcome.toml.starts_with(
            "# Imported from LiteLLM config `/etc/litellm/config.yaml` on 2025-03-14; see the report."
        ),
        "{}",
        outcome.toml
    );
    assert!(outcome.toml.contains("\nlisten = \"127.0.0.1:4000\"\n"));
}

#[test]
fn a_config_with_only_unsupported_providers_still_imports() {
    let outcome = import_litellm(concat!(
        "model_list:\n",
        "  - model_name: claude\n",
        "    litellm_params:\n",
        "      model: anthropic/claude-3-5-haiku-latest\n",
        "      api_key: os.environ/ANTHROPIC_API_KEY\n",
        "  - model_name: gemini\n",
        "    litellm_params:\n",
        "      model: vertex_ai/gemini-1.5-pro\n",
        "      vertex_project: my-project\n",
        "litellm_settings:\n",
        "  fallbacks: [{\"claude\": [\"gemini\"]}]\n",
    ))
    .unwrap();
    let config = Config::parse(&outcome.toml, "imported.toml").unwrap();
    assert!(config.aliases.is_empty() && config.providers.is_empty());
    assert!(outcome.toml.contains("# [providers.vertex_ai]"));
    assert!(outcome.toml.contains("# [aliases.gemini]"));
    assert_note(
        &outcome,
        "model_list[1].litellm_params.vertex_project",
        "not imported",
    );
    assert_note(
        &outcome,
        "litellm_settings.fallbacks[0]",
        "fallbacks of `claude` not imported",
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let bad_yaml = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x\n";
    match import_litellm(bad_yaml) {
        Err(
            e @ ImportError::Yaml {
                line: Some(_),
                column: Some(_),
                ..
            },
        ) => {
            let message = e.to_string();
            assert!(
                message.starts_with("not valid YAML at line ") && message.contains(", column "),
                "{message}"
            );
        }
        other => panic!("expected a positioned YAML error, got {other:?}"),
    }

    let error = |yaml: &str| import_litellm(yaml).err().map(|e| e.to_string());
    assert!(error("").unwrap().contains("empty"));
    assert!(error("general_settings:\n  master_key: sk-1\n")
        .unwrap()
        .contains("no `model_list`"));
    assert!(error("- model_name: a\n")
        .unwrap()
        .contains("top level must be a mapping"));
    assert!(error("model_list:\n  model_name: a\n")
        .unwrap()
        .contains("must be a list"));
    assert!(error("model_list: []\n").unwrap().contains("is empty"));
    // A duplicate key is an error in YAML; say where.
    let duplicate = "model_list:\n  - model_name: a\n    model_name: b\n";
    assert!(matches!(
        import_litellm(duplicate),
        Err(ImportError::Yaml { .. })
    ));
}
