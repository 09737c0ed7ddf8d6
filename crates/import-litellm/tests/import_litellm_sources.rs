//! `switchboard import litellm` for what Switchboard gained after the first importer: provider
//! kinds besides `openai`, LiteLLM's OpenAI-compatible vendors, limits, budgets, client tokens
//! from the master key and from virtual keys, and models read from a running LiteLLM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use switchboard_gateway::config::{Config, ParamPolicy, Period, ProviderKind};
use switchboard_gateway::hash_token;
use switchboard_gateway::secret::{Secret, SecretRef};
use switchboard_import_litellm::{
    import_litellm_sources, import_litellm_with, ImportError, ImportOptions, ImportOutcome,
    KeysExport, MasterKey, RemoteModels,
};

fn parse(outcome: &ImportOutcome) -> Config {
    Config::parse(&outcome.toml, "imported.toml")
        .unwrap_or_else(|e| panic!("imported config is invalid:\n{e}\n{}", outcome.toml))
}

fn import(yaml: &str, options: &ImportOptions) -> (ImportOutcome, Config) {
    let outcome = import_litellm_with(yaml, options).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let config = parse(&outcome);
    (outcome, config)
}

/// Options with an empty environment, so the machine's own variables play no part.
fn no_env() -> ImportOptions {
    ImportOptions {
        env: Some(BTreeMap::new()),
        ..ImportOptions::default()
    }
}

fn report(outcome: &ImportOutcome) -> String {
    outcome
        .report
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

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

fn deployment(name: &str, model: &str) -> String {
    format!("  - model_name: {name}\n    litellm_params:\n      model: {model}\n")
}

#[test]
fn every_vendor_prefix_gets_litellm_default_url_and_key_variable() {
    let cases = [
        (
            "zai/glm-4.6",
            "zai",
            "https://api.z.ai/api/paas/v4",
            "ZAI_API_KEY",
        ),
        (
            "deepseek/deepseek-chat",
            "deepseek",
            "https://api.deepseek.com/v1",
            "DEEPSEEK_API_KEY",
        ),
        (
            "groq/llama-3.3-70b",
            "groq",
            "https://api.groq.com/openai/v1",
            "GROQ_API_KEY",
        ),
        (
            "mistral/mistral-large-latest",
            "mistral",
            "https://api.mistral.ai/v1",
            "MISTRAL_API_KEY",
        ),
        (
            "openrouter/qwen/qwen3-coder",
            "openrouter",
            "https://openrouter.ai/api/v1",
            "OPENROUTER_API_KEY",
        ),
        (
            "together_ai/meta-llama/Llama-3-70b",
            "together",
            "https://api.together.xyz/v1",
            "TOGETHERAI_API_KEY",
        ),
        (
            "fireworks_ai/accounts/fireworks/models/kimi-k2",
            "fireworks",
            "https://api.fireworks.ai/inference/v1",
            "FIREWORKS_API_KEY",
        ),
        ("xai/grok-4", "xai", "https://api.x.ai/v1", "XAI_API_KEY"),
        (
            "perplexity/sonar-pro",
            "perplexity",
            "https://api.perplexity.ai",
            "PERPLEXITYAI_API_KEY",
        ),
        (
            "cerebras/llama3.1-8b",
            "cerebras",
            "https://api.cerebras.ai/v1",
            "CEREBRAS_API_KEY",
        ),
        (
            "nvidia_nim/meta/llama3-70b-instruct",
            "nvidia-nim",
            "https://integrate.api.nvidia.com/v1",
            "NVIDIA_NIM_API_KEY",
        ),
        (
            "moonshot/kimi-k2",
            "moonshot",
            "https://api.moonshot.ai/v1",
            "MOONSHOT_API_KEY",
        ),
    ];
    let mut yaml = String::from("model_list:\n");
    for (i, (model, ..)) in cases.iter().enumerate() {
        yaml.push_str(&deployment(&format!("m{i}"), model));
    }
    let (outcome, config) = import(&yaml, &no_env());
    for (i, (model, provider, base, key)) in cases.iter().enumerate() {
        let p = &config.providers[*provider];
        assert_eq!(p.kind(), ProviderKind::OpenAi, "{model}");
        assert_eq!(p.base_url(), Some(*base), "{model}");
        assert_eq!(
            p.api_key().cloned(),
            Some(SecretRef::Env((*key).into())),
            "{model}"
        );
        let id = model.split_once('/').unwrap().1;
        assert_eq!(
            config.aliases[&format!("m{i}")].targets[0].label(),
            format!("{provider}/{id}")
        );
    }
    assert!(!outcome.toml.contains("NOT TRANSLATED"), "{}", outcome.toml);
}

#[test]
fn anthropic_gemini_and_local_servers_keep_their_api_bases() {
    let yaml = "model_list:\n\
        - model_name: claude\n  litellm_params:\n    model: anthropic/claude-sonnet-4-5\n    api_base: http://10.1.1.1:8080/v1/messages\n    max_tokens: 2000\n\
        - model_name: gem\n  litellm_params:\n    model: gemini/gemini-2.5-pro\n    api_base: https://proxy.example.com/gemini/v1beta\n    api_key: os.environ/MY_GEMINI\n\
        - model_name: vllm\n  litellm_params:\n    model: hosted_vllm/qwen3\n    api_base: http://gpu:8000/v1\n\
        - model_name: lms\n  litellm_params:\n    model: lm_studio/qwen3\n\
        - model_name: ol\n  litellm_params:\n    model: ollama_chat/qwen3\n";
    let (outcome, config) = import(yaml, &no_env());
    let claude = &config.providers["10-1-1-1-8080"];
    assert_eq!(claude.kind(), ProviderKind::Anthropic);
    // Switchboard appends /v1/messages itself.
    assert_eq!(claude.base_url(), Some("http://10.1.1.1:8080"));
    // Anthropic providers need a key: LiteLLM's default variable, said in the report.
    assert_eq!(
        claude.api_key().cloned(),
        Some(SecretRef::Env("ANTHROPIC_API_KEY".into()))
    );
    assert_eq!(config.aliases["claude"].targets[0].max_tokens, Some(2000));
    let gem = &config.providers["proxy-example"];
    assert_eq!(gem.kind(), ProviderKind::Gemini);
    assert_eq!(
        gem.base_url(),
        Some("https://proxy.example.com/gemini/v1beta")
    );
    assert_eq!(
        gem.api_key().cloned(),
        Some(SecretRef::Env("MY_GEMINI".into()))
    );
    assert_eq!(
        config.providers["gpu-8000"].base_url(),
        Some("http://gpu:8000/v1")
    );
    assert_eq!(
        config.providers["lm-studio"].base_url(),
        Some("http://localhost:1234/v1")
    );
    assert_eq!(
        config.providers["ollama"].base_url(),
        Some("http://localhost:11434/v1")
    );
    assert_note(
        &outcome,
        "model_list[0].litellm_params",
        "LiteLLM reads `ANTHROPIC_API_KEY` by default",
    );
}

#[test]
fn github_copilot_imports_as_its_own_kind_with_the_login_note() {
    let yaml = format!(
        "model_list:\n{}{}",
        deployment("gpt", "openai/gpt-4o"),
        deployment("copilot", "github_copilot/gpt-4.1")
    );
    let (outcome, config) = import(&yaml, &no_env());
    let provider = &config.providers["github_copilot"];
    assert_eq!(provider.kind(), ProviderKind::GithubCopilot);
    assert_eq!(
        provider.api_key().map(ToString::to_string).as_deref(),
        Some("keychain:github_copilot")
    );
    assert_eq!(
        config.aliases["copilot"].targets[0].label(),
        "github_copilot/gpt-4.1"
    );
    assert!(!outcome.toml.contains("# [providers.github_copilot]"));
    assert!(report(&outcome).contains("switchboard login copilot"));
    // Every "not ... yet" the report prints is about something Switchboard really lacks.
    let text = report(&outcome);
    for stale in [
        "provider kind yet",
        "no client authentication",
        "no per-target rate limits",
        "no per-target concurrency",
    ] {
        assert!(!text.contains(stale), "{stale}: {text}");
    }
}

#[test]
fn rates_concurrency_drop_params_and_budgets_translate() {
    let yaml = "model_list:\n\
        - model_name: fast\n  litellm_params:\n    model: groq/llama-3.3-70b\n    rpm: 30\n    tpm: 60000\n    max_parallel_requests: 4\n    max_budget: 5\n    budget_duration: 1d\n\
        - model_name: strict\n  litellm_params:\n    model: openai/gpt-4o\n    api_key: os.environ/OPENAI_API_KEY\n    drop_params: false\n\
        - model_name: pooled\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: http://a:8000/v1\n    max_budget: 20\n    budget_duration: 7d\n\
        - model_name: pooled\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: http://b:8000/v1\n\
        - model_name: lifetime\n  litellm_params:\n    model: openai/o3\n    api_key: os.environ/OPENAI_API_KEY\n    max_budget: 1\n\
        litellm_settings:\n  drop_params: true\n  max_budget: 100\n  budget_duration: 30d\n";
    let (outcome, config) = import(yaml, &no_env());
    let fast = &config.aliases["fast"].targets[0];
    assert_eq!(
        (fast.limits.rpm, fast.limits.tpm, fast.limits.concurrent),
        (Some(30), Some(60000), Some(4))
    );
    // drop_params per deployment wins over litellm_settings on its provider.
    assert_eq!(
        config.providers["openai"].unsupported_params,
        ParamPolicy::Refuse
    );
    assert_eq!(
        config.providers["groq"].unsupported_params,
        ParamPolicy::Drop
    );
    // A single-target alias gets the deployment's budget.
    let fast_budget = &config.budgets[config.aliases["fast"].budget.as_ref().unwrap()];
    assert_eq!((fast_budget.usd, fast_budget.period), (5.0, Period::Day));
    // In a load-balanced alias, the deployment's own provider carries it.
    let a = &config.providers["a-8000"];
    let pooled = &config.budgets[a.budget.as_ref().unwrap()];
    assert_eq!((pooled.usd, pooled.period), (20.0, Period::Week));
    // The proxy-wide budget is on every other provider; 30d is the nearest period, a month.
    let proxy = &config.budgets["litellm-proxy"];
    assert_eq!((proxy.usd, proxy.period), (100.0, Period::Month));
    for name in ["groq", "openai", "b-8000"] {
        assert_eq!(
            config.providers[name].budget.as_deref(),
            Some("litellm-proxy"),
            "{name}"
        );
    }
    assert_note(
        &outcome,
        "litellm_settings.max_budget",
        "(the nearest Switchboard period)",
    );
    assert_note(
        &outcome,
        "litellm_settings.max_budget",
        "every provider except `a-8000`",
    );
    // No budget_duration: LiteLLM's lifetime cap has no Switchboard equivalent.
    assert!(config.aliases["lifetime"].budget.is_none());
    assert_note(
        &outcome,
        "model_list[4].litellm_params.max_budget",
        "a lifetime cap",
    );
}

#[test]
fn the_master_key_becomes_a_client_token_without_leaving_its_value() {
    let key = "sk-master-from-env-1234567890";
    let yaml = format!(
        "model_list:\n{}general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n",
        deployment("gpt", "openai/gpt-4o")
    );
    let options = ImportOptions {
        env: Some(BTreeMap::from([(
            "LITELLM_MASTER_KEY".to_owned(),
            key.to_owned(),
        )])),
        ..ImportOptions::default()
    };
    let (outcome, config) = import(&yaml, &options);
    assert_eq!(config.tokens["litellm-master-key"].hash, hash_token(key));
    assert_eq!(
        config.server.admin_token,
        Some(SecretRef::Env("LITELLM_MASTER_KEY".into()))
    );
    assert!(!outcome.toml.contains(key) && !report(&outcome).contains(key));

    // Not set at import time: no token, and the report says how to add one.
    let (outcome, config) = import(&yaml, &no_env());
    assert!(config.tokens.is_empty());
    assert_note(
        &outcome,
        "general_settings.master_key",
        "switchboard tokens create litellm-master-key",
    );
}

/// A `/model/info` answer as LiteLLM 1.7x sends it: the config file's model (no api_key, shown
/// again), a model added with `/model/new` (`db_model: true`), and a duplicate of it.
const MODEL_INFO: &str = r#"{
  "data": [
    {"model_name": "gpt-4o",
     "litellm_params": {"model": "openai/gpt-4o", "use_in_pass_through": false, "use_litellm_proxy": false, "merge_reasoning_content_in_choices": false, "rpm": 100},
     "model_info": {"id": "0b5b1c2e", "db_model": false, "key": "gpt-4o", "max_tokens": 16384, "max_input_tokens": 128000, "input_cost_per_token": 2.5e-06, "litellm_provider": "openai", "mode": "chat", "supports_function_calling": true}},
    {"model_name": "glm",
     "litellm_params": {"model": "zai/glm-4.6", "use_in_pass_through": false, "tpm": 50000},
     "model_info": {"id": "6e7c...", "db_model": true, "max_input_tokens": 200000, "mode": "chat"}},
    {"model_name": "glm",
     "litellm_params": {"model": "zai/glm-4.6", "use_in_pass_through": false, "tpm": 50000},
     "model_info": {"id": "9f01...", "db_model": true}},
    {"model_name": "local-qwen",
     "litellm_params": {"model": "hosted_vllm/qwen3", "api_base": "http://gpu:8000/v1", "litellm_credential_name": null},
     "model_info": {"id": "77aa", "db_model": true}}
  ]
}"#;

#[test]
fn models_from_a_running_litellm_merge_with_the_file_once_each() {
    let yaml = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: os.environ/OPENAI_API_KEY\n      rpm: 100\n";
    let options = ImportOptions {
        remote: Some(RemoteModels {
            url: "http://litellm:4000".into(),
            body: MODEL_INFO.into(),
        }),
        master_key: Some(MasterKey {
            reference: "env:LITELLM_MASTER_KEY".into(),
            value: Secret::new("sk-running-master".into()),
        }),
        ..no_env()
    };
    let outcome = import_litellm_sources(Some(yaml), &options).unwrap();
    let config = parse(&outcome);
    assert_eq!(config.aliases["gpt-4o"].targets.len(), 1);
    assert_eq!(config.aliases["glm"].targets.len(), 1);
    let glm = &config.aliases["glm"].targets[0];
    assert_eq!(glm.label(), "zai/glm-4.6");
    assert_eq!(
        (glm.limits.tpm, glm.max_input_tokens),
        (Some(50000), Some(200000))
    );
    assert_eq!(
        config.providers["zai"].api_key().cloned(),
        Some(SecretRef::Env("ZAI_API_KEY".into()))
    );
    assert_eq!(config.providers["gpu-8000"].api_key().cloned(), None);
    assert_note(
        &outcome,
        "http://litellm:4000 /model/info",
        "2 of the 4 models",
    );
    assert_note(
        &outcome,
        "http://litellm:4000 /model/info",
        "2 are the same deployment as one already read",
    );
    assert_note(
        &outcome,
        "/model/info data[3].litellm_params",
        "never shows a deployment's key",
    );
    // The running proxy's master key: a client token and the admin token reference.
    assert_eq!(
        config.tokens["litellm-master-key"].hash,
        hash_token("sk-running-master")
    );
    assert_eq!(
        config.server.admin_token,
        Some(SecretRef::Env("LITELLM_MASTER_KEY".into()))
    );
    assert!(!outcome.toml.contains("sk-running-master"));
    // Catalogue fields of model_info are not reported one by one.
    assert!(!report(&outcome).contains("supports_function_calling"));

    // Without a file, the running proxy alone.
    let outcome = import_litellm_sources(None, &options).unwrap();
    let config = parse(&outcome);
    assert_eq!(config.aliases.len(), 3);

    let bad = ImportOptions {
        remote: Some(RemoteModels {
            url: "http://x".into(),
            body: "{\"detail\": \"no\"}".into(),
        }),
        ..no_env()
    };
    assert!(matches!(
        import_litellm_sources(None, &bad),
        Err(ImportError::ModelInfo { .. })
    ));
}

#[test]
fn virtual_keys_become_client_tokens_with_their_hash_limits_and_budgets() {
    let raw = "sk-raw-virtual-key-42";
    let hashed = "sk-hashed-in-litellm-db";
    let export = format!(
        r#"[
  {{"token": "{}", "key_name": "sk-...b-db", "key_alias": "ci bot", "models": ["gpt-4o", "gone"],
    "rpm_limit": 10, "tpm_limit": 20000, "max_parallel_requests": 2, "max_budget": 3.5,
    "budget_duration": "1mo", "spend": 1.25, "team_id": "team-7", "user_id": "u1",
    "metadata": {{}}, "blocked": null, "expires": null}},
  {{"key": "{raw}", "key_alias": "laptop", "models": []}},
  {{"token": "{}", "key_alias": "old", "blocked": true}},
  {{"token": "{}", "key_alias": "expired", "expires": "2020-01-01T00:00:00Z"}}
]"#,
        hash_token(hashed),
        hash_token("blocked"),
        hash_token("expired"),
    );
    let yaml = format!("model_list:\n{}", deployment("gpt-4o", "openai/gpt-4o"));
    let options = ImportOptions {
        keys: Some(KeysExport {
            source: "keys.json".into(),
            text: export,
        }),
        ..no_env()
    };
    let (outcome, config) = import(&yaml, &options);
    let ci = &config.tokens["ci-bot"];
    // LiteLLM's stored digest is used as it is: the client's sk- key still matches.
    assert_eq!(ci.hash, hash_token(hashed));
    assert_eq!(ci.aliases.as_deref(), Some(&["gpt-4o".to_owned()][..]));
    assert_eq!(
        (ci.limits.rpm, ci.limits.tpm, ci.limits.concurrent),
        (Some(10), Some(20000), Some(2))
    );
    assert_eq!(ci.tenant.as_deref(), Some("team-7"));
    let budget = &config.budgets[ci.budget.as_ref().unwrap()];
    assert_eq!((budget.usd, budget.period), (3.5, Period::Month));
    // A raw key is hashed at import time; an empty model list means every alias.
    assert_eq!(config.tokens["laptop"].hash, hash_token(raw));
    assert_eq!(config.tokens["laptop"].aliases, None);
    assert!(!config.tokens.contains_key("old") && !config.tokens.contains_key("expired"));
    assert_note(&outcome, "keys.json[0].models", "model `gone` dropped");
    assert_note(&outcome, "keys.json[0].user_id", "no users");
    assert_note(&outcome, "keys.json[2]", "blocked");
    assert_note(&outcome, "keys.json[3]", "expired");
    assert!(!outcome.toml.contains(raw) && !report(&outcome).contains(raw));
}

#[test]
fn provider_budget_config_puts_a_budget_on_those_providers() {
    let yaml = format!(
        "model_list:\n{}{}{}router_settings:\n  provider_budget_config:\n    openai:\n      budget_limit: 50\n      time_period: 1d\n    azure:\n      budget_limit: 9\n      time_period: 1d\n",
        deployment("a", "openai/gpt-4o"),
        deployment("b", "openai/gpt-4o-mini"),
        deployment("c", "anthropic/claude-haiku-4-5"),
    );
    let (outcome, config) = import(&yaml, &no_env());
    let budget = config.providers["openai"].budget.as_deref().unwrap();
    assert_eq!(
        (config.budgets[budget].usd, config.budgets[budget].period),
        (50.0, Period::Day)
    );
    assert_eq!(config.providers["anthropic"].budget, None);
    assert_note(
        &outcome,
        "router_settings.provider_budget_config.azure",
        "no imported deployment uses that provider",
    );
}
