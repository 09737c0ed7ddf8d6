//! `switchboard import litellm`: realistic LiteLLM configs in, a Switchboard config that passes
//! Switchboard's own validation out, and a report that drops nothing silently and leaks no key.

// Tests may panic on setup failures; that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use serde_yaml_ng::Value;
use switchboard_gateway::config::{
    Config, LongContext, ParamPolicy, Pricing, ProviderKind, Strategy,
};
use switchboard_gateway::secret::SecretRef;
use switchboard_import_litellm::{
    import_litellm, import_litellm_with, ImportError, ImportOptions, ImportOutcome,
};

const FIXTURES: [&str; 6] = [
    "local_backends",
    "cloud",
    "secrets",
    "fallbacks",
    "edge_cases",
    "routing",
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

/// Imports inline YAML and parses the result with Switchboard's own config loader.
fn import_yaml(yaml: &str) -> (ImportOutcome, Config) {
    let outcome = import_litellm(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let config = Config::parse(&outcome.toml, "imported.toml")
        .unwrap_or_else(|e| panic!("imported config is invalid:\n{e}\n{}", outcome.toml));
    (outcome, config)
}

fn weights(config: &Config, alias: &str) -> Vec<u32> {
    config.aliases[alias]
        .targets
        .iter()
        .map(|t| t.weight)
        .collect()
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
    assert_eq!(armitage.base_url(), Some("http://armitage:8000/v1"));
    assert_eq!(armitage.api_key().cloned(), None);
    // Ollama's native api_base gets /v1, where Ollama serves the OpenAI API.
    assert_eq!(
        config.providers["ollama"].base_url(),
        Some("http://127.0.0.1:11434/v1")
    );
    assert_eq!(
        config.providers["armitage-11434"].base_url(),
        Some("http://armitage:11434/v1")
    );
    assert_eq!(
        config.providers["gpu-box-8080"].api_key().cloned(),
        Some(SecretRef::Env("LLAMA_CPP_KEY".into()))
    );
    assert_eq!(
        config.providers["lm-studio"].base_url(),
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
    // Per-deployment rpm becomes the target's limit.
    assert_eq!(config.aliases["local/chat"].targets[0].limits.rpm, Some(60));
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
    // LiteLLM's simple-shuffle picked by rpm when no weight was set; the import says so.
    assert_note(
        &outcome,
        "model_list[0].model_name",
        "set each target's `weight` by hand",
    );
    assert_eq!(
        config.aliases["local/chat"].strategy,
        Strategy::WeightedRoundRobin
    );
    // drop_params: true is Switchboard's `unsupported_params = "drop"`, written on every provider.
    for provider in config.providers.values() {
        assert_eq!(
            provider.unsupported_params,
            ParamPolicy::Drop,
            "{}",
            provider.name
        );
    }
    assert!(outcome.toml.contains("unsupported_params = \"drop\""));
    assert!(
        !report(&outcome).contains("drop_params"),
        "{}",
        report(&outcome)
    );
    assert_note(&outcome, "model_list[4].model_info.mode", "not imported");
}

#[test]
fn cloud_keys_become_env_references_and_unsupported_providers_stay_commented_out() {
    let (outcome, config) = import("cloud");

    let openai = &config.providers["openai"];
    assert_eq!(openai.base_url(), Some("https://api.openai.com/v1"));
    assert_eq!(
        openai.api_key().cloned(),
        Some(SecretRef::Env("OPENAI_API_KEY".into()))
    );
    assert_eq!(
        config.providers["openai-2"].api_key().cloned(),
        Some(SecretRef::Env("OPENAI_API_KEY_BACKUP".into()))
    );
    assert_eq!(
        config.providers["groq"].base_url(),
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

    // Anthropic and Gemini become providers of their own kinds, keys from LiteLLM's variables.
    let anthropic = &config.providers["anthropic"];
    assert_eq!(anthropic.kind(), ProviderKind::Anthropic);
    assert_eq!(anthropic.base_url(), Some("https://api.anthropic.com"));
    assert_eq!(
        anthropic.api_key().cloned(),
        Some(SecretRef::Env("ANTHROPIC_API_KEY".into()))
    );
    assert_eq!(
        targets(&config, "claude-sonnet"),
        ["anthropic/claude-3-5-sonnet-20241022"]
    );
    // LiteLLM's max_tokens on an Anthropic deployment is the target's default max_tokens.
    assert_eq!(
        config.aliases["claude-sonnet"].targets[0].max_tokens,
        Some(8192)
    );
    let gemini = &config.providers["gemini"];
    assert_eq!(gemini.kind(), ProviderKind::Gemini);
    assert_eq!(
        gemini.base_url(),
        Some("https://generativelanguage.googleapis.com/v1beta")
    );
    assert_eq!(
        gemini.api_key().cloned(),
        Some(SecretRef::Env("GEMINI_API_KEY".into()))
    );
    assert_eq!(
        targets(&config, "gemini-flash"),
        ["gemini/gemini-1.5-flash"]
    );

    // Azure and Bedrock: no alias, no provider, but kept commented out.
    assert!(!config.aliases.contains_key("bedrock-claude"));
    assert_eq!(config.providers.len(), 5, "{:?}", config.providers.keys());
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
        "# [providers.azure]",
        "# targets = [\"azure/gpt-4o-eu\"]",
        "# [providers.bedrock]",
        "# [aliases.bedrock-claude]",
    ] {
        assert!(block.contains(needle), "missing {needle:?} in:\n{block}");
    }
    assert!(!block.contains("anthropic/"), "{block}");
    assert_note(
        &outcome,
        "model_list[1].litellm_params.model",
        "not translated: Switchboard has no `azure` provider kind",
    );
    assert!(
        !report(&outcome).contains("provider kind yet"),
        "{}",
        report(&outcome)
    );

    // rpm/tpm become the target's limits.
    let limits = config.aliases["gpt-4o"].targets[0].limits;
    assert_eq!((limits.rpm, limits.tpm), (Some(500), Some(300000)));

    // usage-based routing has no equivalent: the default strategy stays, with a note.
    assert_note(
        &outcome,
        "router_settings.routing_strategy",
        "`usage-based-routing-v2` not translated",
    );
    assert_eq!(
        config.aliases["gpt-4o"].strategy,
        Strategy::WeightedRoundRobin
    );
    assert!(!outcome.toml.contains("strategy ="), "{}", outcome.toml);
    // num_retries (router_settings wins over litellm_settings), allowed_fails, cooldown_time.
    for alias in config.aliases.values() {
        assert_eq!(alias.retries.attempts, 3, "{}", alias.name);
    }
    assert_note(
        &outcome,
        "router_settings.num_retries",
        "`retries.attempts = 3`",
    );
    assert_note(
        &outcome,
        "litellm_settings.num_retries",
        "router_settings.num_retries (2) takes precedence",
    );
    for provider in config.providers.values() {
        assert_eq!(provider.breaker.failures, 4, "{}", provider.name);
        assert_eq!(
            provider.breaker.cooldown,
            Duration::from_secs(30),
            "{}",
            provider.name
        );
    }
    assert_note(
        &outcome,
        "router_settings.allowed_fails",
        "consecutive failures",
    );
    assert_note(
        &outcome,
        "router_settings.cooldown_time",
        "`breaker.cooldown_s = 30`",
    );
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
    assert_eq!(
        config.aliases["gpt-4o"].fallbacks,
        ["claude-sonnet", "gpt-4o-mini"]
    );
    // claude-sonnet → gpt-4o would close a cycle with gpt-4o → claude-sonnet.
    assert!(config.aliases["claude-sonnet"].fallbacks.is_empty());
    // context_window_fallbacks append to the ordinary ones; gpt-4o would close a cycle.
    assert_eq!(
        config.aliases["gpt-4o-mini"].fallbacks,
        ["groq-llama", "gemini-flash"]
    );
    assert!(config.aliases["groq-llama"].fallbacks.is_empty());

    assert_note(
        &outcome,
        "router_settings.fallbacks[2]",
        "fallback `claude-sonnet` → `gpt-4o` dropped",
    );
    assert_note(
        &outcome,
        "router_settings.context_window_fallbacks[0]",
        "imported as ordinary fallbacks",
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
    // A literal key's deployment is on its own provider, which reads the key from a variable of
    // its own (not OPENAI_API_KEY, which the other provider reads); the report says to export it.
    assert_eq!(
        config.providers["openai"].api_key().cloned(),
        Some(SecretRef::Env("OPENAI_2_API_KEY".into()))
    );
    assert_eq!(
        config.providers["openai-2"].api_key().cloned(),
        Some(SecretRef::Env("OPENAI_API_KEY".into()))
    );
    assert_eq!(
        targets(&config, "gpt-4.1"),
        ["openai/gpt-4.1", "openai-2/gpt-4.1"]
    );
    assert_note(
        &outcome,
        "model_list[0].litellm_params.api_key",
        "literal API key not copied",
    );
    assert_note(
        &outcome,
        "model_list[0].litellm_params.api_key",
        "export OPENAI_2_API_KEY",
    );
    assert_note(
        &outcome,
        "model_list[3].litellm_params.api_key",
        "api_key = \"env:ANTHROPIC_API_KEY\"",
    );
    assert_eq!(
        config.providers["anthropic"].api_key().cloned(),
        Some(SecretRef::Env("ANTHROPIC_API_KEY".into()))
    );
    // The literal master key is a client token: its SHA-256 only.
    let master = &config.tokens["litellm-master-key"];
    assert_eq!(
        master.hash,
        switchboard_gateway::hash_token("sk-LITERALMASTERKEY-1234")
    );
    // Credentials and query in api_base are stripped, with a note.
    assert_eq!(
        config.providers["vllm-internal-example"].base_url(),
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
        "imported as client token `litellm-master-key`",
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
        config.providers["10-0-0-5-9000"].base_url(),
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
    // custom_llm_provider, and LiteLLM's `order` sorting the targets (with a note: Switchboard
    // has no priority within an alias).
    assert_eq!(
        targets(&config, "custom"),
        [
            "vllm-2-8000/my-served-model",
            "armitage-8000/my-served-model"
        ]
    );
    assert_note(
        &outcome,
        "model_list[6].model_name",
        "`order` not translated",
    );
    // Known OpenAI-compatible clouds get their default URL and key variable.
    let together = &config.providers["together"];
    assert_eq!(together.base_url(), Some("https://api.together.xyz/v1"));
    assert_eq!(
        together.api_key().cloned(),
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
    // A weight on an alias's only target changes nothing.
    assert_note(
        &outcome,
        "model_list[10].litellm_params.weight",
        "weight = 3 not needed",
    );
    assert_eq!(weights(&config, "extra-keys"), [1]);
    // An input price without an output price is no price: reported, not guessed.
    assert!(
        outcome
            .report
            .iter()
            .any(|n| n.path.ends_with("litellm_params.input_cost_per_token")
                && n.message
                    .contains("needs both input_cost_per_token and output_cost_per_token")),
        "{}",
        report(&outcome)
    );
    assert_note(&outcome, "general_settings.port", "not imported");
    assert_note(&outcome, "server_settings", "not imported");
}

/// Every key of every settings section and every deployment parameter either has a clear
/// translation or a note at its path: nothing is dropped silently.
#[test]
fn nothing_is_dropped_silently() {
    const TRANSLATED_PARAMS: [&str; 11] = [
        "rpm",
        "tpm",
        "max_parallel_requests",
        "drop_params",
        "model",
        "api_base",
        "timeout",
        "custom_llm_provider",
        "order",
        "model_name",
        "weight",
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
                        // Fallbacks and drop_params translate cleanly and need no note.
                        if inner == "fallbacks" || inner == "drop_params" {
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
                        let anthropic = value["model"]
                            .as_str()
                            .is_some_and(|m| m.starts_with("anthropic/"));
                        if TRANSLATED_PARAMS.contains(&param)
                            || (param == "api_key" && !literal_key)
                            || (param == "max_tokens" && anthropic)
                        {
                            continue;
                        }
                        let path = format!("model_list[{i}].litellm_params.{param}");
                        assert!(has_note(&path), "{name}: nothing said about {path}");
                    }
                } else if key == "model_info" {
                    for (info, _) in value.as_mapping().unwrap() {
                        let info = info.as_str().unwrap();
                        if info == "max_input_tokens" {
                            continue;
                        }
                        let path = format!("model_list[{i}].model_info.{info}");
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
            ..ImportOptions::default()
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
        "      model: bedrock/anthropic.claude-sonnet-4\n",
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
    assert!(outcome.toml.contains("# [providers.bedrock]"));
    assert_note(
        &outcome,
        "model_list[0].litellm_params.model",
        "no `bedrock` provider kind",
    );
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

#[test]
fn weights_and_context_windows_become_target_settings() {
    let (outcome, config) = import("routing");
    // Integer weights are kept; weight 1 is the default and not written.
    assert_eq!(weights(&config, "chat"), [3, 1]);
    assert!(outcome.toml.contains(
        "{ model = \"armitage-8000/Qwen/Qwen2.5-7B-Instruct-AWQ\", weight = 3, max_input_tokens = 32768 }"
    ));
    assert!(outcome.toml.contains(
        "{ model = \"wintermute-8000/Qwen/Qwen2.5-7B-Instruct-AWQ\", max_input_tokens = 16384, timeouts = { total_s = 60 } }"
    ));
    // Float weights become whole numbers in the same proportions.
    assert_eq!(weights(&config, "code"), [7, 3]);
    assert_note(
        &outcome,
        "model_list[3].model_name",
        "weights 0.7, 0.3 are written as whole numbers: 7, 3 (the same proportions)",
    );
    // model_info.max_input_tokens → the target's max_input_tokens; the rest is reported.
    let windows: Vec<Option<u64>> = config.aliases["chat"]
        .targets
        .iter()
        .map(|t| t.max_input_tokens)
        .collect();
    assert_eq!(windows, [Some(32768), Some(16384)]);
    assert_eq!(
        config.aliases["code-long"].targets[0].max_input_tokens,
        Some(1_047_576)
    );
    assert_eq!(config.aliases["small"].targets[0].max_input_tokens, None);
    assert_note(&outcome, "model_list[1].model_info.mode", "not imported");
    assert_note(
        &outcome,
        "model_list[5].model_info.max_output_tokens",
        "only max_input_tokens",
    );
    // Per-token prices become [prices] (USD per million tokens), cache reads included.
    assert_note(
        &outcome,
        "model_list[5].model_info.input_cost_per_token",
        "imported into [prices.",
    );
    let Pricing::Configured(price) = config.aliases["code-long"].targets[0].pricing else {
        panic!("{:?}", config.aliases["code-long"].targets[0].pricing);
    };
    assert_eq!(
        (price.input, price.output, price.cache_read),
        (0.4, 1.6, 0.1)
    );
    assert!(!outcome
        .report
        .iter()
        .any(|n| n.path.ends_with("max_input_tokens")));
    assert_note(
        &outcome,
        "router_settings.enable_pre_call_checks",
        "not needed",
    );
}

#[test]
fn simple_shuffle_stays_the_default_weighted_strategy() {
    let (outcome, config) = import("routing");
    for alias in ["chat", "code", "small"] {
        assert_eq!(config.aliases[alias].strategy, Strategy::WeightedRoundRobin);
    }
    assert!(!outcome.toml.contains("strategy ="), "{}", outcome.toml);
    assert_note(
        &outcome,
        "router_settings.routing_strategy",
        "smooth weighted round-robin rather than at random",
    );
    assert_note(
        &outcome,
        "model_list[0].model_name",
        "load-balanced its 2 deployments (simple-shuffle)",
    );
}

#[test]
fn routing_strategies_become_alias_strategies() {
    let yaml = |strategy: &str| {
        format!(
            "model_list:\n\
             - model_name: chat\n  litellm_params: {{model: openai/a, api_base: \"http://one:8000/v1\"}}\n\
             - model_name: chat\n  litellm_params: {{model: openai/a, api_base: \"http://two:8000/v1\"}}\n\
             - model_name: solo\n  litellm_params: {{model: openai/b, api_base: \"http://one:8000/v1\"}}\n\
             router_settings:\n  routing_strategy: {strategy}\n"
        )
    };
    for (litellm, expected, written) in [
        ("least-busy", Strategy::LeastInFlight, true),
        ("latency-based-routing", Strategy::LowestLatency, true),
        ("simple-shuffle", Strategy::WeightedRoundRobin, false),
        ("usage-based-routing", Strategy::WeightedRoundRobin, false),
        (
            "usage-based-routing-v2",
            Strategy::WeightedRoundRobin,
            false,
        ),
        ("cost-based-routing", Strategy::WeightedRoundRobin, false),
        ("no-such-strategy", Strategy::WeightedRoundRobin, false),
    ] {
        let (outcome, config) = import_yaml(&yaml(litellm));
        assert_eq!(config.aliases["chat"].strategy, expected, "{litellm}");
        // Only aliases with more than one target get a strategy.
        assert_eq!(
            outcome.toml.matches("strategy =").count(),
            usize::from(written),
            "{litellm}:\n{}",
            outcome.toml
        );
        assert_note(&outcome, "router_settings.routing_strategy", litellm);
        if !written && litellm != "simple-shuffle" {
            assert_note(
                &outcome,
                "router_settings.routing_strategy",
                "not translated",
            );
        }
    }
    let (outcome, _) = import_yaml(&yaml("least-busy"));
    assert!(outcome.toml.contains("strategy = \"least_inflight\""));
    assert_note(
        &outcome,
        "router_settings.routing_strategy",
        "on the 1 alias with more than one target",
    );
}

#[test]
fn retries_and_cooldowns_become_alias_retries_and_provider_breakers() {
    let (outcome, config) = import("routing");
    for alias in config.aliases.values() {
        assert_eq!(alias.retries.attempts, 2, "{}", alias.name);
        assert_eq!(
            alias.retries.backoff,
            Duration::from_millis(500),
            "{}",
            alias.name
        );
    }
    assert_eq!(
        outcome
            .toml
            .matches("retries = { attempts = 2, backoff_ms = 500 }")
            .count(),
        config.aliases.len()
    );
    for provider in config.providers.values() {
        // LiteLLM cools down when failures *exceed* allowed_fails (2): on the third.
        assert_eq!(provider.breaker.failures, 3, "{}", provider.name);
        assert_eq!(
            provider.breaker.cooldown,
            Duration::from_secs(60),
            "{}",
            provider.name
        );
    }
    assert_note(
        &outcome,
        "router_settings.num_retries",
        "(the first try and 1 retry)",
    );
    assert_note(
        &outcome,
        "router_settings.retry_after",
        "`retries.backoff_ms = 500`",
    );
    assert_note(
        &outcome,
        "router_settings.allowed_fails",
        "`breaker.failures = 3`",
    );
    assert_note(
        &outcome,
        "router_settings.cooldown_time",
        "doubles the cooldown",
    );

    // litellm_settings.num_retries alone; allowed_fails 0; a cooldown above the default maximum.
    let (outcome, config) = import_yaml(concat!(
        "model_list:\n",
        "  - model_name: a\n",
        "    litellm_params: {model: openai/a, api_base: \"http://one:8000/v1\"}\n",
        "router_settings:\n",
        "  allowed_fails: 0\n",
        "  cooldown_time: 600\n",
        "  retry_after: 0\n",
        "litellm_settings:\n",
        "  num_retries: 0\n",
    ));
    assert_eq!(config.aliases["a"].retries.attempts, 1);
    assert_eq!(
        config.aliases["a"].retries.backoff,
        Duration::from_millis(100)
    );
    let breaker = &config.providers["one-8000"].breaker;
    assert_eq!(breaker.failures, 1);
    assert_eq!(breaker.cooldown, Duration::from_secs(600));
    assert_eq!(breaker.max_cooldown, Duration::from_secs(600));
    assert_note(
        &outcome,
        "litellm_settings.num_retries",
        "`retries.attempts = 1`",
    );
    assert_note(
        &outcome,
        "router_settings.cooldown_time",
        "`breaker.max_cooldown_s = 600`",
    );
    assert_note(&outcome, "router_settings.retry_after", "not translated");

    // Values that are not counts or durations are reported, not guessed.
    let (outcome, config) = import_yaml(concat!(
        "model_list:\n",
        "  - model_name: a\n",
        "    litellm_params: {model: openai/a, api_base: \"http://one:8000/v1\"}\n",
        "router_settings:\n",
        "  num_retries: -1\n",
        "  allowed_fails: lots\n",
        "  cooldown_time: -5\n",
    ));
    assert_eq!(config.aliases["a"].retries.attempts, 3);
    assert_eq!(config.providers["one-8000"].breaker.failures, 3);
    assert!(!outcome.toml.contains("retries") && !outcome.toml.contains("breaker"));
    for key in ["num_retries", "allowed_fails", "cooldown_time"] {
        assert_note(&outcome, &format!("router_settings.{key}"), "not imported");
    }
}

#[test]
fn context_window_fallbacks_with_known_windows_become_long_context() {
    let (outcome, config) = import("routing");
    // One context-window fallback and every context window known: long_context at the smallest
    // window, and not an ordinary fallback too.
    assert_eq!(
        config.aliases["chat"].long_context,
        Some(LongContext {
            above_tokens: 16384,
            alias: "chat-long".into()
        })
    );
    assert!(config.aliases["chat"].fallbacks.is_empty());
    assert_note(
        &outcome,
        "router_settings.context_window_fallbacks[0]",
        "`long_context = { above_tokens = 16384, alias = \"chat-long\" }`",
    );
    assert_note(
        &outcome,
        "router_settings.context_window_fallbacks[0]",
        "not added to `fallbacks`",
    );
    // Already an ordinary fallback: it stays one.
    assert_eq!(
        config.aliases["code"].long_context,
        Some(LongContext {
            above_tokens: 32768,
            alias: "code-long".into()
        })
    );
    assert_eq!(config.aliases["code"].fallbacks, ["code-long"]);
    assert_note(
        &outcome,
        "router_settings.context_window_fallbacks[1]",
        "also stays in `fallbacks`",
    );
    // Two context-window fallbacks: ordinary fallbacks, as before.
    assert_eq!(config.aliases["small"].long_context, None);
    assert_eq!(config.aliases["small"].fallbacks, ["chat", "chat-long"]);
    assert_note(
        &outcome,
        "router_settings.context_window_fallbacks[2]",
        "names a single alias",
    );

    // A window missing on one target: ordinary fallback, and the note says what to add.
    let (outcome, config) = import_yaml(concat!(
        "model_list:\n",
        "  - model_name: a\n",
        "    litellm_params: {model: openai/a, api_base: \"http://one:8000/v1\"}\n",
        "    model_info: {max_input_tokens: 8192}\n",
        "  - model_name: a\n",
        "    litellm_params: {model: openai/a, api_base: \"http://two:8000/v1\"}\n",
        "  - model_name: big\n",
        "    litellm_params: {model: openai/big, api_base: \"http://one:8000/v1\"}\n",
        "  - model_name: copy\n",
        "    litellm_params: {model: openai/a, api_base: \"http://three:8000/v1\"}\n",
        "    model_info: {max_input_tokens: 4096}\n",
        "router_settings:\n",
        "  model_group_alias: {copy-of-copy: copy}\n",
        "litellm_settings:\n",
        "  context_window_fallbacks: [{\"a\": [\"big\"]}, {\"copy\": [\"big\"]}]\n",
    ));
    assert_eq!(config.aliases["a"].long_context, None);
    assert_eq!(config.aliases["a"].fallbacks, ["big"]);
    assert_note(
        &outcome,
        "litellm_settings.context_window_fallbacks[0]",
        "give every deployment of `a` a model_info.max_input_tokens",
    );
    // A model_group_alias copies the long-context routing of the alias it stands for.
    let long = Some(LongContext {
        above_tokens: 4096,
        alias: "big".into(),
    });
    assert_eq!(config.aliases["copy"].long_context, long);
    assert_eq!(config.aliases["copy-of-copy"].long_context, long);
}

#[test]
fn odd_weights_are_rounded_merged_or_reported() {
    let (outcome, config) = import_yaml(concat!(
        "model_list:\n",
        // Thirds: rounded.
        "  - model_name: thirds\n",
        "    litellm_params: {model: openai/a, api_base: \"http://one:8000/v1\", weight: 0.3333333}\n",
        "  - model_name: thirds\n",
        "    litellm_params: {model: openai/a, api_base: \"http://two:8000/v1\", weight: 0.6666667}\n",
        // Weight 0 and a deployment without a weight.
        "  - model_name: mixed\n",
        "    litellm_params: {model: openai/b, api_base: \"http://one:8000/v1\", weight: 4}\n",
        "  - model_name: mixed\n",
        "    litellm_params: {model: openai/b, api_base: \"http://two:8000/v1\", weight: 0}\n",
        "  - model_name: mixed\n",
        "    litellm_params: {model: openai/b, api_base: \"http://three:8000/v1\"}\n",
        // The same deployment twice: merged, and its share of the traffic doubles.
        "  - model_name: twice\n",
        "    litellm_params: {model: openai/c, api_base: \"http://one:8000/v1\"}\n",
        "  - model_name: twice\n",
        "    litellm_params: {model: openai/c, api_base: \"http://one:8000/v1\"}\n",
        "  - model_name: twice\n",
        "    litellm_params: {model: openai/c, api_base: \"http://two:8000/v1\"}\n",
        "  - model_name: bad\n",
        "    litellm_params: {model: openai/d, api_base: \"http://one:8000/v1\", weight: heavy}\n",
    ));
    assert_eq!(weights(&config, "thirds"), [333, 667]);
    assert_note(&outcome, "model_list[0].model_name", "rounded");
    assert_eq!(weights(&config, "mixed"), [4, 1, 1]);
    assert_note(
        &outcome,
        "model_list[3].litellm_params.weight",
        "weight = 0: LiteLLM's simple-shuffle never picked",
    );
    assert_note(
        &outcome,
        "model_list[2].model_name",
        "targets without a `weight` get weight 1",
    );
    assert_eq!(targets(&config, "twice"), ["one-8000/c", "two-8000/c"]);
    assert_eq!(weights(&config, "twice"), [2, 1]);
    assert_note(
        &outcome,
        "model_list[6]",
        "its share of the traffic (weight) is added",
    );
    assert_eq!(weights(&config, "bad"), [1]);
    assert_note(
        &outcome,
        "model_list[8].litellm_params.weight",
        "`weight` not imported",
    );
}
