//! The LiteLLM provider prefixes Switchboard serves (OpenAI-compatible APIs and their
//! default URLs and key variables), those it cannot, and provider naming.

// ---------------------------------------------------------------------------------------------
// Providers LiteLLM reaches over an OpenAI-compatible API, which Switchboard's `openai` kind speaks.

pub(crate) struct Compatible {
    /// LiteLLM's provider prefix, as in `hosted_vllm/MODEL`.
    pub(crate) prefix: &'static str,
    /// Provider name when the base URL is the default (or a loopback host for local servers).
    pub(crate) name: &'static str,
    /// The Switchboard provider kind that speaks this API.
    pub(crate) kind: &'static str,
    /// LiteLLM's base URL when `api_base` is not given.
    pub(crate) default_base: Option<&'static str>,
    /// Where LiteLLM reads `api_base` from when the config does not set it.
    pub(crate) base_env: Option<&'static str>,
    /// LiteLLM's default key variable, used only with the default base URL (any base URL for
    /// `anthropic`/`gemini`, whose providers need a key).
    pub(crate) key_env: Option<&'static str>,
    /// A server on the user's own machines (named after the server, not the host, on loopback).
    pub(crate) local: bool,
    /// Ollama: LiteLLM speaks its native API; the OpenAI one is under `/v1`.
    pub(crate) ollama: bool,
}

/// A hosted OpenAI-compatible vendor: LiteLLM's default URL and key variable.
pub(crate) const fn vendor(
    prefix: &'static str,
    name: &'static str,
    base: &'static str,
    key_env: &'static str,
) -> Compatible {
    Compatible {
        prefix,
        name,
        kind: "openai",
        default_base: Some(base),
        base_env: None,
        key_env: Some(key_env),
        local: false,
        ollama: false,
    }
}

/// A server the user runs (vLLM, LM Studio, ...), OpenAI-compatible.
pub(crate) const fn local(
    prefix: &'static str,
    name: &'static str,
    base: Option<&'static str>,
    base_env: Option<&'static str>,
    ollama: bool,
) -> Compatible {
    Compatible {
        prefix,
        name,
        kind: "openai",
        default_base: base,
        base_env,
        key_env: None,
        local: true,
        ollama,
    }
}

/// An OpenAI-compatible server with no default URL (api_base is required).
pub(crate) const fn custom(
    prefix: &'static str,
    name: &'static str,
    base_env: Option<&'static str>,
) -> Compatible {
    Compatible {
        prefix,
        name,
        kind: "openai",
        default_base: None,
        base_env,
        key_env: None,
        local: false,
        ollama: false,
    }
}

/// Every LiteLLM provider prefix Switchboard serves. Default URLs and key variables are
/// LiteLLM's own (`get_llm_provider_logic.py` and `litellm/llms/<provider>/`).
pub(crate) const COMPATIBLE: &[Compatible] = &[
    vendor("openai", "openai", OPENAI_BASE, "OPENAI_API_KEY"),
    vendor(
        "text-completion-openai",
        "openai",
        OPENAI_BASE,
        "OPENAI_API_KEY",
    ),
    Compatible {
        prefix: "anthropic",
        name: "anthropic",
        kind: "anthropic",
        default_base: Some("https://api.anthropic.com"),
        base_env: None,
        key_env: Some("ANTHROPIC_API_KEY"),
        local: false,
        ollama: false,
    },
    Compatible {
        prefix: "gemini",
        name: "gemini",
        kind: "gemini",
        default_base: Some("https://generativelanguage.googleapis.com/v1beta"),
        base_env: None,
        key_env: Some("GEMINI_API_KEY"),
        local: false,
        ollama: false,
    },
    custom("custom_openai", "openai-compatible", None),
    custom("openai_like", "openai-compatible", None),
    custom("litellm_proxy", "litellm", Some("LITELLM_PROXY_API_BASE")),
    local(
        "hosted_vllm",
        "vllm",
        None,
        Some("HOSTED_VLLM_API_BASE"),
        false,
    ),
    local(
        "ollama",
        "ollama",
        Some("http://localhost:11434"),
        None,
        true,
    ),
    local(
        "ollama_chat",
        "ollama",
        Some("http://localhost:11434"),
        None,
        true,
    ),
    local(
        "lm_studio",
        "lm-studio",
        Some("http://localhost:1234/v1"),
        Some("LM_STUDIO_API_BASE"),
        false,
    ),
    local(
        "llamafile",
        "llamafile",
        Some("http://127.0.0.1:8080/v1"),
        None,
        false,
    ),
    vendor("zai", "zai", "https://api.z.ai/api/paas/v4", "ZAI_API_KEY"),
    vendor(
        "groq",
        "groq",
        "https://api.groq.com/openai/v1",
        "GROQ_API_KEY",
    ),
    vendor(
        "deepseek",
        "deepseek",
        "https://api.deepseek.com/v1",
        "DEEPSEEK_API_KEY",
    ),
    vendor(
        "mistral",
        "mistral",
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
    ),
    vendor(
        "codestral",
        "codestral",
        "https://codestral.mistral.ai/v1",
        "CODESTRAL_API_KEY",
    ),
    vendor(
        "together_ai",
        "together",
        "https://api.together.xyz/v1",
        "TOGETHERAI_API_KEY",
    ),
    vendor(
        "openrouter",
        "openrouter",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
    ),
    vendor(
        "fireworks_ai",
        "fireworks",
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
    ),
    vendor("xai", "xai", "https://api.x.ai/v1", "XAI_API_KEY"),
    vendor(
        "perplexity",
        "perplexity",
        "https://api.perplexity.ai",
        "PERPLEXITYAI_API_KEY",
    ),
    vendor(
        "cerebras",
        "cerebras",
        "https://api.cerebras.ai/v1",
        "CEREBRAS_API_KEY",
    ),
    vendor(
        "nvidia_nim",
        "nvidia-nim",
        "https://integrate.api.nvidia.com/v1",
        "NVIDIA_NIM_API_KEY",
    ),
    vendor(
        "sambanova",
        "sambanova",
        "https://api.sambanova.ai/v1",
        "SAMBANOVA_API_KEY",
    ),
    vendor(
        "deepinfra",
        "deepinfra",
        "https://api.deepinfra.com/v1/openai",
        "DEEPINFRA_API_KEY",
    ),
    vendor(
        "friendliai",
        "friendliai",
        "https://api.friendli.ai/serverless/v1",
        "FRIENDLIAI_API_KEY",
    ),
    vendor(
        "meta_llama",
        "meta-llama",
        "https://api.llama.com/compat/v1",
        "LLAMA_API_KEY",
    ),
    vendor(
        "volcengine",
        "volcengine",
        "https://ark.cn-beijing.volces.com/api/v3",
        "VOLCENGINE_API_KEY",
    ),
    vendor(
        "ai21_chat",
        "ai21",
        "https://api.ai21.com/studio/v1",
        "AI21_API_KEY",
    ),
    vendor(
        "github",
        "github-models",
        "https://models.inference.ai.azure.com",
        "GITHUB_API_KEY",
    ),
    vendor(
        "moonshot",
        "moonshot",
        "https://api.moonshot.ai/v1",
        "MOONSHOT_API_KEY",
    ),
    vendor(
        "dashscope",
        "dashscope",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "DASHSCOPE_API_KEY",
    ),
];

pub(crate) const OPENAI_BASE: &str = "https://api.openai.com/v1";

/// LiteLLM providers Switchboard has no provider kind for. A model string starting with one of
/// these is not translated; any other first segment is taken as part of the model id.
pub(crate) const UNSUPPORTED: &[&str] = &[
    "anthropic_text",
    "azure",
    "azure_ai",
    "azure_text",
    "bedrock",
    "sagemaker",
    "sagemaker_chat",
    "vertex_ai",
    "vertex_ai_beta",
    "palm",
    "cohere",
    "cohere_chat",
    "huggingface",
    "replicate",
    "watsonx",
    "watsonx_text",
    "databricks",
    "cloudflare",
    "ai21",
    "nlp_cloud",
    "aleph_alpha",
    "petals",
    "predibase",
    "clarifai",
    "voyage",
    "jina_ai",
    "anyscale",
    "text-completion-codestral",
    "triton",
    "vllm",
    "nscale",
    "snowflake",
    "oci",
    "baseten",
];

/// Why a provider in `UNSUPPORTED` is not translated, for the report and the commented block.
pub(crate) fn unsupported_reason(kind: &str) -> String {
    match kind {
        "vertex_ai" | "vertex_ai_beta" => "Switchboard has no `vertex_ai` provider kind (Google Cloud service-account auth); for Gemini models with an AI Studio key use LiteLLM's `gemini/` prefix, which imports as `kind = \"gemini\"`".to_owned(),
        "vllm" => "LiteLLM's `vllm/` runs the model in-process with the vllm library; Switchboard talks to servers only (serve it with `vllm serve` and use `hosted_vllm/`)".to_owned(),
        other => format!("Switchboard has no `{other}` provider kind"),
    }
}

/// A readable provider name: the service's own name for its default URL or a local server on
/// loopback, else the host (without `api.`/`www.` and the top-level domain) and explicit port.
pub(crate) fn provider_name_hint(compatible: &Compatible, base: &str, at_default: bool) -> String {
    if at_default && !compatible.local {
        return compatible.name.to_owned();
    }
    let Ok(url) = url::Url::parse(base) else {
        return compatible.name.to_owned();
    };
    let host = url.host_str().unwrap_or_default().to_lowercase();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1" | "0.0.0.0");
    if compatible.local && (at_default || loopback) {
        return compatible.name.to_owned();
    }
    if base == OPENAI_BASE {
        return "openai".to_owned();
    }
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    let mut readable = if is_ip || loopback {
        host.to_owned()
    } else {
        let mut labels: Vec<&str> = host.split('.').collect();
        if labels.len() > 1 {
            labels.pop();
            if matches!(labels.first(), Some(&"api") | Some(&"www")) && labels.len() > 1 {
                labels.remove(0);
            }
        }
        labels.join("-")
    };
    if let Some(port) = url.port() {
        readable.push_str(&format!("-{port}"));
    }
    sanitize_name(&readable)
}

/// Lower-case letters, digits, `-` and `_`; anything else becomes `-`.
pub(crate) fn sanitize_name(text: &str) -> String {
    let mut out = String::new();
    for c in text.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_owned();
    if out.is_empty() {
        "provider".to_owned()
    } else {
        out
    }
}

/// The URL without credentials, query, fragment and trailing slash; and whether any of those
/// (other than the slash) was removed. `None` unless it is an http(s) URL with a host.
pub(crate) fn clean_url(text: &str) -> Option<(String, bool)> {
    let mut url = url::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return None;
    }
    let stripped = !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    Some((url.as_str().trim_end_matches('/').to_owned(), stripped))
}
