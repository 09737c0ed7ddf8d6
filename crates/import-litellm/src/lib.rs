//! `switchboard import litellm`: translates a LiteLLM proxy `config.yaml` into a Switchboard
//! config, plus a report of everything that did not translate one to one.
//!
//! Rules the importer keeps:
//! - The output always passes Switchboard's own validation (checked before returning).
//! - Nothing is dropped silently: every key that is not translated gets a report note.
//! - Key values never leave the importer: a literal `api_key`, `master_key` or anything else that
//!   may hold a secret is neither written to the output nor quoted in the report. Only references
//!   (`os.environ/VAR` → `env:VAR`), variable names and client keys' SHA-256 digests are.
//! - What Switchboard cannot speak yet (Azure, Bedrock, ...) is kept as a commented-out block
//!   at the end of the output, never as invalid TOML.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_yaml_ng::{Mapping, Value};

mod sources;
use toml_edit::{value, Array, DocumentMut, InlineTable, Item, Table};

/// The translated config and what the user should know about it.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// A complete Switchboard config (TOML) that passes `Config::parse`.
    pub toml: String,
    /// Everything that was not translated one to one, in the order found.
    pub report: Vec<ImportNote>,
}

/// One report line: where in the LiteLLM config, and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportNote {
    /// Location in the LiteLLM config, e.g. `model_list[3].litellm_params.rpm`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ImportNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Optional details for the header comment of the output.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The file imported, as the user named it (shown in the header comment).
    pub source: Option<String>,
    /// The import date for the header comment; today (UTC) when `None`.
    pub date: Option<time::Date>,
    /// Where `os.environ/VAR` master keys are looked up; `None` reads the process environment.
    pub env: Option<std::collections::BTreeMap<String, String>>,
    /// A running LiteLLM's `/model/info` answer, merged with the file's `model_list`.
    pub remote: Option<RemoteModels>,
    /// LiteLLM's master key as given for `--from-url`: a client token when the file sets none.
    pub master_key: Option<MasterKey>,
    /// A LiteLLM virtual-key export (JSON or YAML rows of `LiteLLM_VerificationToken`).
    pub keys: Option<KeysExport>,
}

/// The body of `GET /model/info` from a running LiteLLM, and the URL it came from.
#[derive(Debug, Clone)]
pub struct RemoteModels {
    pub url: String,
    pub body: String,
}

/// LiteLLM's master key: the reference it was read from (`env:VAR`, `file:PATH`, ...) and its
/// value, which only its SHA-256 leaves the importer as.
#[derive(Debug, Clone)]
pub struct MasterKey {
    pub reference: String,
    pub value: switchboard_gateway::secret::Secret<String>,
}

/// A virtual-key export file's text and name.
#[derive(Debug, Clone)]
pub struct KeysExport {
    pub source: String,
    pub text: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ImportError {
    #[error("not valid YAML{}: {message}", position(.line, .column))]
    Yaml {
        /// 1-based, when the parser knows it.
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    #[error("the file is empty: nothing to import")]
    Empty,
    #[error("not a LiteLLM config: the top level must be a mapping with a `model_list`, not {0}")]
    NotAMapping(&'static str),
    #[error("no `model_list` found: a LiteLLM proxy config lists its models under `model_list:`")]
    NoModelList,
    #[error("`model_list` must be a list of deployments (`- model_name: ...`), not {0}")]
    ModelListNotAList(&'static str),
    #[error("`model_list` is empty: nothing to import")]
    EmptyModelList,
    #[error("the /model/info answer from {url} is not LiteLLM's (`{{\"data\": [{{\"model_name\": ..., \"litellm_params\": ...}}]}}`): {message}")]
    ModelInfo { url: String, message: String },
    #[error("{file}: not a LiteLLM virtual-key export (a JSON or YAML list of keys with `token`, `key_alias`, `models`, ...): {message}")]
    Keys { file: String, message: String },
    /// A bug in the importer: it produced a config Switchboard rejects.
    #[error("the imported config did not pass Switchboard's validation (this is a bug in the importer; please report it):\n{0}")]
    Invalid(String),
}

fn position(line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    }
}

/// Translates a LiteLLM proxy config (YAML text) into a Switchboard config.
pub fn import_litellm(yaml: &str) -> Result<ImportOutcome, ImportError> {
    import_litellm_with(yaml, &ImportOptions::default())
}

/// [`import_litellm`] with the source name and date for the header comment.
pub fn import_litellm_with(
    yaml: &str,
    options: &ImportOptions,
) -> Result<ImportOutcome, ImportError> {
    import_litellm_sources(Some(yaml), options)
}

/// Imports a LiteLLM config file, a running LiteLLM's models (`options.remote`), or both, with
/// the virtual keys of `options.keys`.
pub fn import_litellm_sources(
    yaml: Option<&str>,
    options: &ImportOptions,
) -> Result<ImportOutcome, ImportError> {
    let root = match yaml.map(parse_yaml).transpose()? {
        Some(Value::Mapping(map)) => map,
        Some(Value::Null) if options.remote.is_none() => return Err(ImportError::Empty),
        None | Some(Value::Null) => Mapping::new(),
        Some(other) => return Err(ImportError::NotAMapping(type_name(&other))),
    };
    let remote = options.remote.is_some();
    let list: &[Value] = match root.get("model_list") {
        None | Some(Value::Null) if remote => &[],
        None | Some(Value::Null) => return Err(ImportError::NoModelList),
        Some(Value::Sequence(list)) if list.is_empty() && !remote => {
            return Err(ImportError::EmptyModelList)
        }
        Some(Value::Sequence(list)) => list,
        Some(other) => return Err(ImportError::ModelListNotAList(type_name(other))),
    };

    let mut importer = Importer {
        env: options.env.clone(),
        ..Importer::default()
    };
    let mut entries: Vec<(String, Value)> = list
        .iter()
        .enumerate()
        .map(|(i, entry)| (format!("model_list[{i}]"), entry.clone()))
        .collect();
    if let Some(remote) = &options.remote {
        importer.remote_models(remote, &mut entries)?;
    }
    for (path, entry) in &entries {
        importer.remote_entry = path.starts_with(sources::REMOTE_PATH);
        importer.entry(path, entry);
    }
    importer.remote_entry = false;
    importer.alias_notes();
    for (key, section) in &root {
        let name = key_text(key);
        match name.as_str() {
            "model_list" => {}
            "router_settings" => importer.router_settings(section),
            "litellm_settings" => importer.litellm_settings(section),
            "general_settings" => importer.general_settings(section),
            "environment_variables" => importer.environment_variables(section),
            "include" => importer.note(
                "include",
                "included files are not followed: import each of them on its own and merge the results",
            ),
            other => importer.note(
                other,
                format!("top-level section `{other}` not imported: Switchboard has no equivalent"),
            ),
        }
    }
    importer.resolve_fallbacks();
    importer.add_group_aliases();
    importer.routing_notes();
    if let Some(master_key) = &options.master_key {
        importer.given_master_key(master_key);
    }
    if let Some(keys) = &options.keys {
        importer.virtual_keys(keys)?;
    }
    importer.assign_budgets();
    importer.name_literal_keys();

    let toml = importer.render(options);
    if let Err(e) = switchboard_gateway::config::Config::parse(&toml, "imported config") {
        return Err(ImportError::Invalid(e.to_string()));
    }
    Ok(ImportOutcome {
        toml,
        report: importer.notes,
    })
}

fn parse_yaml(yaml: &str) -> Result<Value, ImportError> {
    let yaml_error = |e: serde_yaml_ng::Error| {
        let location = e.location();
        let mut message = e.to_string();
        // The parser appends the position to its message; it is reported separately.
        if let Some(at) = message.find(" at line ") {
            message.truncate(at);
        }
        ImportError::Yaml {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        }
    };
    let mut root: Value = serde_yaml_ng::from_str(yaml).map_err(yaml_error)?;
    // LiteLLM (PyYAML) honors `<<: *anchor` merge keys; so do we.
    root.apply_merge().map_err(yaml_error)?;
    Ok(root)
}

// ---------------------------------------------------------------------------------------------
// Providers LiteLLM reaches over an OpenAI-compatible API, which Switchboard's `openai` kind speaks.

struct Compatible {
    /// LiteLLM's provider prefix, as in `hosted_vllm/MODEL`.
    prefix: &'static str,
    /// Provider name when the base URL is the default (or a loopback host for local servers).
    name: &'static str,
    /// The Switchboard provider kind that speaks this API.
    kind: &'static str,
    /// LiteLLM's base URL when `api_base` is not given.
    default_base: Option<&'static str>,
    /// Where LiteLLM reads `api_base` from when the config does not set it.
    base_env: Option<&'static str>,
    /// LiteLLM's default key variable, used only with the default base URL (any base URL for
    /// `anthropic`/`gemini`, whose providers need a key).
    key_env: Option<&'static str>,
    /// A server on the user's own machines (named after the server, not the host, on loopback).
    local: bool,
    /// Ollama: LiteLLM speaks its native API; the OpenAI one is under `/v1`.
    ollama: bool,
}

/// A hosted OpenAI-compatible vendor: LiteLLM's default URL and key variable.
const fn vendor(
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
const fn local(
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
const fn custom(
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
const COMPATIBLE: &[Compatible] = &[
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

const OPENAI_BASE: &str = "https://api.openai.com/v1";

/// LiteLLM providers Switchboard has no provider kind for. A model string starting with one of
/// these is not translated; any other first segment is taken as part of the model id.
const UNSUPPORTED: &[&str] = &[
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
fn unsupported_reason(kind: &str) -> String {
    match kind {
        "vertex_ai" | "vertex_ai_beta" => "Switchboard has no `vertex_ai` provider kind (Google Cloud service-account auth); for Gemini models with an AI Studio key use LiteLLM's `gemini/` prefix, which imports as `kind = \"gemini\"`".to_owned(),
        "vllm" => "LiteLLM's `vllm/` runs the model in-process with the vllm library; Switchboard talks to servers only (serve it with `vllm serve` and use `hosted_vllm/`)".to_owned(),
        other => format!("Switchboard has no `{other}` provider kind"),
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyRef {
    None,
    Env(String),
    /// The n-th distinct literal key seen: only tells providers apart, never written anywhere.
    Literal(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ProviderKey {
    /// `openai` for everything Switchboard can speak, else LiteLLM's provider name.
    kind: String,
    base_url: Option<String>,
    key: KeyRef,
}

struct Provider {
    name: String,
    key: ProviderKey,
    supported: bool,
    /// For a literal key: the variable the output reads it from instead (`NAME_API_KEY`).
    literal_env: Option<String>,
    /// Where the literal key was written, for the report.
    literal_paths: Vec<String>,
    /// LiteLLM's `drop_params` for this provider's deployments, and where it was set.
    drop_params: Option<(bool, String)>,
    /// The `[budgets.NAME]` this provider counts against.
    budget: Option<String>,
    /// LiteLLM's provider name of its first deployment.
    prefix: String,
}

#[derive(Clone)]
struct Target {
    provider: usize,
    model: String,
    total_s: Option<f64>,
    idle_s: Option<f64>,
    order: Option<i64>,
    /// The deployment's share of LiteLLM's traffic: its `weight`, else 1; deployments merged into
    /// this target add theirs.
    weight: f64,
    /// Whether LiteLLM's `weight` was set (on this deployment or one merged into it).
    weight_given: bool,
    /// Whether `rpm` or `tpm` was set: LiteLLM's simple-shuffle picks by them when no weight is.
    rate_given: bool,
    /// `model_info.max_input_tokens`: the context window.
    max_input_tokens: Option<u64>,
    /// Per-token prices from `model_info` or `litellm_params`, written to `[prices]`.
    costs: Costs,
    /// The weight written to the output; `None` for the default (1).
    weight_out: Option<u32>,
    /// LiteLLM's `rpm`, `tpm` and `max_parallel_requests`: the target's limits.
    limits: Limits,
    /// `anthropic` targets: LiteLLM's `max_tokens`, sent when the request has none.
    max_tokens: Option<u64>,
    /// The deployment's `max_budget` (USD) and `budget_duration`, with where they were set.
    budget: Option<BudgetSpec>,
    path: String,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Limits {
    rpm: Option<u32>,
    tpm: Option<u64>,
    concurrent: Option<u32>,
}

impl Limits {
    fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    fn table(&self) -> InlineTable {
        let mut table = InlineTable::new();
        if let Some(rpm) = self.rpm {
            table.insert("rpm", i64::from(rpm).into());
        }
        if let Some(tpm) = self.tpm {
            table.insert("tpm", i64::try_from(tpm).unwrap_or(i64::MAX).into());
        }
        if let Some(concurrent) = self.concurrent {
            table.insert("concurrent", i64::from(concurrent).into());
        }
        table
    }

    /// Two deployments merged into one target: each cap is the sum, or none if either had none.
    fn merged(self, other: Limits) -> Limits {
        Limits {
            rpm: self.rpm.zip(other.rpm).map(|(a, b)| a.saturating_add(b)),
            tpm: self.tpm.zip(other.tpm).map(|(a, b)| a.saturating_add(b)),
            concurrent: self
                .concurrent
                .zip(other.concurrent)
                .map(|(a, b)| a.saturating_add(b)),
        }
    }
}

/// A LiteLLM `max_budget` with its `budget_duration`.
#[derive(Clone)]
struct BudgetSpec {
    usd: f64,
    duration: Option<String>,
    path: String,
}

/// A `[budgets.NAME]` table of the output.
struct BudgetOut {
    name: String,
    usd: f64,
    period: &'static str,
    description: String,
}

/// A `[tokens.NAME]` table of the output: a client key LiteLLM accepted.
struct TokenOut {
    name: String,
    /// Lower-case hex SHA-256 of the key, as Switchboard's guard computes it.
    hash: String,
    description: String,
    tenant: Option<String>,
    aliases: Option<Vec<String>>,
    limits: Limits,
    budget: Option<String>,
}

struct Alias {
    name: String,
    /// `model_list[i]` of its first entry.
    first_path: String,
    deployments: usize,
    targets: Vec<Target>,
    /// Deployments on providers Switchboard cannot speak yet (commented out in the output).
    untranslated: Vec<Target>,
    fallbacks: Vec<String>,
    /// From a context-window fallback: (above_tokens, alias).
    long_context: Option<(u64, String)>,
    /// For a `model_group_alias`: the alias it copies.
    copy_of: Option<String>,
    /// The `[budgets.NAME]` this alias counts against.
    budget: Option<String>,
}

/// A deployment's custom prices, USD per token as LiteLLM writes them.
#[derive(Debug, Clone, Default, PartialEq)]
struct Costs {
    input: Option<f64>,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    cache_write_1h: Option<f64>,
    /// Where each was set, for the report.
    paths: Vec<String>,
}

impl Costs {
    /// Takes `key` (at `path`) if it is a per-token price Switchboard keeps; `false` otherwise.
    fn take(&mut self, key: &str, v: &Value, path: &str) -> bool {
        let slot = match key {
            "input_cost_per_token" => &mut self.input,
            "output_cost_per_token" => &mut self.output,
            "cache_read_input_token_cost" => &mut self.cache_read,
            "cache_creation_input_token_cost" => &mut self.cache_write,
            "cache_creation_input_token_cost_above_1hr" => &mut self.cache_write_1h,
            _ => return false,
        };
        match v.as_f64().filter(|n| n.is_finite() && *n >= 0.0) {
            Some(n) => {
                *slot = Some(n);
                self.paths.push(format!("{path}.{key}"));
                true
            }
            None => false,
        }
    }

    /// `{ input = .., output = .., cache_read = .. }` in USD per million tokens, when both the
    /// input and the output price are known.
    fn per_million(&self) -> Option<InlineTable> {
        let mut table = InlineTable::new();
        for (name, rate) in [
            ("input", self.input),
            ("output", self.output),
            ("cache_read", self.cache_read),
            ("cache_write", self.cache_write),
            ("cache_write_1h", self.cache_write_1h),
        ] {
            if let Some(rate) = rate {
                table.insert(name, ((rate * 1e6 * 1e9).round() / 1e9).into());
            }
        }
        (self.input.is_some() && self.output.is_some()).then_some(table)
    }
}

/// What LiteLLM's routing_strategy becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Routing {
    /// simple-shuffle (LiteLLM's default): Switchboard's default strategy, nothing written.
    Shuffle,
    /// A Switchboard strategy written on every alias with more than one target.
    Strategy(&'static str),
    /// No Switchboard equivalent: the default strategy stays.
    Untranslated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FallbackKind {
    Regular,
    ContextWindow,
}

struct FallbackSpec {
    from: String,
    to: Vec<String>,
    kind: FallbackKind,
    path: String,
}

struct Edge {
    to: String,
    path: String,
}

/// A provider resolved for one deployment, before it is named.
struct Resolved {
    key: ProviderKey,
    supported: bool,
    name_hint: String,
    model: String,
    /// Notes to add only when this provider is first created (not once per deployment).
    provider_notes: Vec<String>,
    /// LiteLLM's provider name (`openai`, `anthropic`, ...), as `provider_budget_config` keys it.
    prefix: String,
}

#[derive(Default)]
struct Importer {
    notes: Vec<ImportNote>,
    literals: Vec<String>,
    providers: Vec<Provider>,
    provider_index: HashMap<ProviderKey, usize>,
    used_provider_names: HashSet<String>,
    aliases: Vec<Alias>,
    alias_index: HashMap<String, usize>,
    /// Lower-cased alias name → the name kept.
    lowercase: HashMap<String, String>,
    /// model_name → why it has no alias (case clash, wildcard, ...).
    skipped: HashMap<String, String>,
    fallback_specs: Vec<FallbackSpec>,
    /// (`default_fallbacks` entries, where they were set).
    default_fallbacks: Vec<(Vec<String>, String)>,
    /// (name, the alias it stands for, path).
    group_aliases: Vec<(String, String, String)>,
    router_timeout: Option<f64>,
    router_stream_timeout: Option<f64>,
    request_timeout: Option<f64>,
    /// router_settings.routing_strategy (`None` when not a string) and where it was set.
    routing_strategy: Option<(Option<String>, String)>,
    /// num_retries from router_settings and from litellm_settings, with where each was set.
    router_num_retries: Option<(u32, String)>,
    settings_num_retries: Option<(u32, String)>,
    /// router_settings.retry_after, in seconds (positive).
    retry_after: Option<f64>,
    /// From router_settings.allowed_fails and cooldown_time.
    breaker_failures: Option<u32>,
    breaker_cooldown: Option<f64>,
    /// litellm_settings.drop_params and where it was set.
    drop_params: Option<(bool, String)>,
    /// litellm_settings.max_budget / budget_duration: the proxy-wide budget.
    proxy_budget: Option<f64>,
    proxy_budget_duration: Option<String>,
    budgets: Vec<BudgetOut>,
    /// router_settings.provider_budget_config: (LiteLLM provider, budget, where).
    provider_budgets: Vec<(String, BudgetSpec)>,
    tokens: Vec<TokenOut>,
    /// `server.admin_token` (a reference) from an env-referenced master_key.
    admin_token: Option<String>,
    /// Variable lookups for `os.environ/` master keys; `None` reads the process environment.
    env: Option<std::collections::BTreeMap<String, String>>,
    /// Whether the deployment being read came from a running LiteLLM's /model/info.
    remote_entry: bool,
}

impl Importer {
    fn note(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.notes.push(ImportNote {
            path: path.into(),
            message: one_line(&message.into()),
        });
    }

    // --- model_list ----------------------------------------------------------------------------

    fn entry(&mut self, path: &str, entry: &Value) {
        let path = path.to_owned();
        let Some(map) = entry.as_mapping() else {
            self.note(
                path,
                format!(
                    "skipped: a deployment must be a mapping with `model_name` and `litellm_params`, not {}",
                    type_name(entry)
                ),
            );
            return;
        };
        let mut max_input_tokens = None;
        let mut costs = Costs::default();
        for (key, v) in map {
            let key = key_text(key);
            match key.as_str() {
                "model_name" | "litellm_params" => {}
                "model_info" => {
                    max_input_tokens = self.model_info(v, &format!("{path}.model_info"), &mut costs)
                }
                _ => {
                    let message = param_message(&key, v);
                    self.note(format!("{path}.{key}"), message);
                }
            }
        }

        let Some(raw_name) = map.get("model_name").and_then(scalar_text) else {
            self.note(path, "skipped: no `model_name`");
            return;
        };
        let name = normalize_alias_name(&raw_name);
        if name.is_empty() {
            self.note(format!("{path}.model_name"), "skipped: empty `model_name`");
            return;
        }
        let params_path = format!("{path}.litellm_params");
        let Some(params) = map.get("litellm_params").and_then(Value::as_mapping) else {
            self.note(
                path,
                format!("skipped: model `{raw_name}` has no `litellm_params` mapping"),
            );
            self.skip(&name, "its deployment has no `litellm_params`");
            return;
        };
        let Some(model) = params.get("model").and_then(scalar_text) else {
            self.note(
                &params_path,
                format!("skipped: model `{raw_name}` has no `litellm_params.model`"),
            );
            self.skip(&name, "its deployment has no `litellm_params.model`");
            return;
        };
        if raw_name.contains('*') || model.contains('*') {
            self.note(
                format!("{path}.model_name"),
                format!("`{raw_name}` → `{model}` not imported: Switchboard has no wildcard routing; add an alias for each model you use"),
            );
            self.skip(&name, "it is a wildcard route");
            return;
        }
        if name != raw_name {
            self.note(
                format!("{path}.model_name"),
                format!("model_name {raw_name:?} contains spaces, which alias names cannot; imported as `{name}`"),
            );
        }
        let lower = name.to_lowercase();
        match self.lowercase.get(&lower) {
            Some(kept) if *kept != name => {
                let kept = kept.clone();
                self.note(
                    format!("{path}.model_name"),
                    format!("skipped: `{name}` differs from `{kept}` only in case, which Switchboard rejects (clients could not tell them apart); kept `{kept}`"),
                );
                self.skip(&name, &format!("it differs from `{kept}` only in case"));
                return;
            }
            Some(_) => {}
            None => {
                self.lowercase.insert(lower, name.clone());
            }
        }

        let alias = self.alias_mut(&name, &path);
        alias.deployments += 1;

        let Some(resolved) = self.resolve(params, &model, &params_path) else {
            return;
        };
        let mut literal_note = None;
        let mut total_s = None;
        let mut idle_s = None;
        let mut order = None;
        let mut weight = None;
        let mut rate_given = false;
        let mut limits = Limits::default();
        let mut max_tokens = None;
        let mut drop_params = None;
        let mut budget_usd = None;
        let mut budget_duration = None;
        let kind = resolved.key.kind.clone();
        for (key, v) in params {
            let key = key_text(key);
            let at = format!("{params_path}.{key}");
            match key.as_str() {
                "model" | "api_base" | "base_url" | "custom_llm_provider" => {}
                "api_key" => {
                    if matches!(resolved.key.key, KeyRef::Literal(_)) {
                        literal_note = Some(at);
                    }
                }
                "timeout" | "request_timeout" => {
                    total_s = self.seconds(v, &at, &key);
                }
                "stream_timeout" => {
                    idle_s = self.seconds(v, &at, &key);
                    if idle_s.is_some() {
                        self.note(
                            at,
                            "stream_timeout imported as the target's `idle_s` (longest gap between two chunks of a streamed response)",
                        );
                    }
                }
                "order" => match v.as_i64() {
                    Some(n) => order = Some(n),
                    None => self.note(at, "`order` is not an integer; ignored"),
                },
                "weight" => weight = self.weight(v, &at),
                "rpm" => {
                    rate_given = true;
                    limits.rpm = self.whole(v, &at, &key).and_then(|n| u32::try_from(n).ok());
                }
                "tpm" => {
                    rate_given = true;
                    limits.tpm = self.whole(v, &at, &key);
                }
                "max_parallel_requests" => {
                    limits.concurrent =
                        self.whole(v, &at, &key).and_then(|n| u32::try_from(n).ok());
                }
                "max_tokens" if kind == "anthropic" => {
                    max_tokens = self.whole(v, &at, &key);
                }
                "drop_params" => match v.as_bool() {
                    Some(b) => drop_params = Some((b, at)),
                    None => self.note(at, "`drop_params` is not true or false; ignored"),
                },
                "max_budget" => budget_usd = self.usd(v, &at),
                "budget_duration" => match scalar_text(v) {
                    Some(d) => budget_duration = Some(d),
                    None => self.note(
                        at,
                        "`budget_duration` is not a duration like \"30d\"; ignored",
                    ),
                },
                k if costs.take(k, v, &params_path) => {}
                _ => {
                    let message = param_message(&key, v);
                    self.note(at, message);
                }
            }
        }

        let provider = self.provider_for(resolved.key.clone(), &resolved, &params_path);
        if let Some(at) = literal_note {
            self.providers[provider].literal_paths.push(at);
        }
        let label = format!("{}/{}", self.providers[provider].name, resolved.model);
        let message = match costs.per_million() {
            _ if !resolved.supported => {
                "not imported: the deployment is not imported (see its note)".to_owned()
            }
            Some(_) => format!("imported into [prices.\"{label}\"] (USD per million tokens)"),
            None => format!("not imported: a price needs both input_cost_per_token and output_cost_per_token; set [prices.\"{label}\"] by hand"),
        };
        for at in costs.paths.clone() {
            self.note(at, message.clone());
        }
        if let Some((drop, at)) = drop_params {
            match &self.providers[provider].drop_params {
                Some((other, first)) if *other != drop => {
                    let (name, first) = (self.providers[provider].name.clone(), first.clone());
                    self.note(at, format!("drop_params = {drop} not imported: provider `{name}` already has drop_params = {other} from {first}, and Switchboard sets `unsupported_params` per provider"));
                }
                Some(_) => {}
                None => self.providers[provider].drop_params = Some((drop, at)),
            }
        }
        let budget = match (budget_usd, budget_duration) {
            (Some(usd), duration) => Some(BudgetSpec {
                usd,
                duration,
                path: format!("{params_path}.max_budget"),
            }),
            (None, Some(_)) => {
                self.note(
                    format!("{params_path}.budget_duration"),
                    "budget_duration without max_budget: nothing to import",
                );
                None
            }
            (None, None) => None,
        };
        let target = Target {
            provider,
            model: resolved.model,
            total_s,
            idle_s,
            order,
            weight: weight.unwrap_or(1.0),
            weight_given: weight.is_some(),
            rate_given,
            max_input_tokens,
            costs,
            weight_out: None,
            limits,
            max_tokens,
            budget,
            path: path.clone(),
        };
        let supported = resolved.supported;
        let alias = self.alias_mut(&name, &path);
        if supported {
            alias.targets.push(target);
        } else {
            alias.untranslated.push(target);
        }
    }

    fn skip(&mut self, name: &str, reason: &str) {
        if !self.alias_index.contains_key(name) {
            self.skipped
                .entry(name.to_owned())
                .or_insert_with(|| reason.to_owned());
        }
    }

    fn alias_mut(&mut self, name: &str, path: &str) -> &mut Alias {
        let index = match self.alias_index.get(name) {
            Some(&index) => index,
            None => {
                self.aliases.push(Alias {
                    name: name.to_owned(),
                    first_path: path.to_owned(),
                    deployments: 0,
                    targets: Vec::new(),
                    untranslated: Vec::new(),
                    fallbacks: Vec::new(),
                    long_context: None,
                    copy_of: None,
                    budget: None,
                });
                self.alias_index
                    .insert(name.to_owned(), self.aliases.len() - 1);
                self.aliases.len() - 1
            }
        };
        &mut self.aliases[index]
    }

    /// Works out the provider and model id of one deployment. `None` (with a note) when it
    /// cannot be translated at all.
    fn resolve(&mut self, params: &Mapping, model: &str, path: &str) -> Option<Resolved> {
        let model_path = format!("{path}.model");
        let custom = params
            .get("custom_llm_provider")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let (mut prefix, mut model_id) = match &custom {
            Some(provider) => (
                Some(provider.clone()),
                model
                    .strip_prefix(provider.as_str())
                    .and_then(|m| m.strip_prefix('/'))
                    .unwrap_or(model)
                    .to_owned(),
            ),
            None => match model.split_once('/') {
                Some((first, rest))
                    if COMPATIBLE.iter().any(|c| c.prefix == first)
                        || UNSUPPORTED.contains(&first)
                        || first == "github_copilot" =>
                {
                    (Some(first.to_owned()), rest.to_owned())
                }
                _ => (None, model.to_owned()),
            },
        };
        if model_id.trim().is_empty() {
            self.note(model_path, format!("skipped: `{model}` names no model"));
            return None;
        }

        let api_base_path = if params.contains_key("api_base") {
            format!("{path}.api_base")
        } else {
            format!("{path}.base_url")
        };
        let api_base = match params.get("api_base").or_else(|| params.get("base_url")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => {
                if let Some(var) = s.strip_prefix("os.environ/") {
                    self.note(
                        api_base_path,
                        format!("deployment `{model}` not imported: its api_base comes from the environment variable `{}`, which an import cannot read; add a provider with that URL as `base_url` by hand", one_line(var)),
                    );
                    return None;
                }
                Some(s.trim().to_owned())
            }
            Some(other) => {
                self.note(
                    api_base_path,
                    format!(
                        "deployment `{model}` not imported: api_base must be a URL, not {}",
                        type_name(other)
                    ),
                );
                return None;
            }
        };

        if prefix.is_none() {
            let lower = model_id.to_lowercase();
            let inferred = if [
                "gpt-",
                "chatgpt-",
                "o1",
                "o3",
                "o4",
                "text-embedding-",
                "ft:gpt",
            ]
            .iter()
            .any(|p| lower.starts_with(p))
            {
                Some("openai")
            } else if lower.starts_with("claude") {
                Some("anthropic")
            } else if lower.starts_with("gemini") {
                Some("vertex_ai")
            } else {
                None
            };
            match (inferred, &api_base) {
                (Some(provider), _) => {
                    self.note(
                        &model_path,
                        format!("`{model}` has no provider prefix; LiteLLM infers `{provider}`, and so does the import"),
                    );
                    prefix = Some(provider.to_owned());
                }
                (None, Some(_)) => {
                    self.note(
                        &model_path,
                        format!("`{model}` has no provider prefix; with its api_base it is imported as an OpenAI-compatible server"),
                    );
                    prefix = Some("openai".to_owned());
                    model_id = model.to_owned();
                }
                (None, None) => {
                    self.note(
                        model_path,
                        format!("deployment `{model}` not imported: no provider prefix (like `openai/`) and no api_base, so its server is unknown"),
                    );
                    return None;
                }
            }
        }
        let prefix = prefix.unwrap_or_default();

        let key = self.api_key(params.get("api_key"), &format!("{path}.api_key"));

        if let Some(compatible) = COMPATIBLE.iter().find(|c| c.prefix == prefix) {
            return self.resolve_compatible(compatible, api_base, key, model_id, path);
        }
        if prefix == "github_copilot" {
            // LiteLLM's Copilot provider logs in with GitHub's device flow and keeps its token
            // in its own files: Switchboard logs in again with `switchboard login copilot`.
            if api_base.is_some() {
                self.note(
                    api_base_path,
                    "api_base not imported: a `github_copilot` provider gets its API base from Copilot's token exchange (set `api_url` to override it)",
                );
            }
            return Some(Resolved {
                key: ProviderKey {
                    kind: "github_copilot".to_owned(),
                    base_url: None,
                    key: KeyRef::None,
                },
                supported: true,
                name_hint: "github_copilot".to_owned(),
                model: model_id,
                provider_notes: vec!["GitHub Copilot needs a login: run `switchboard login copilot` once (it stores the GitHub token as `keychain:github_copilot`, the provider's default)".to_owned()],
                prefix,
            });
        }

        // A provider Switchboard cannot speak yet: kept for the commented-out block.
        let kind = sanitize_name(&prefix);
        self.note(
            model_path,
            format!(
                "not translated: {} (kept commented out at the end of the output)",
                unsupported_reason(&kind)
            ),
        );
        let base_url = api_base.and_then(|b| clean_url(&b).map(|(url, _)| url));
        Some(Resolved {
            key: ProviderKey {
                kind: kind.clone(),
                base_url,
                key,
            },
            supported: false,
            name_hint: kind,
            model: model_id,
            provider_notes: Vec::new(),
            prefix: prefix.clone(),
        })
    }

    fn resolve_compatible(
        &mut self,
        compatible: &Compatible,
        api_base: Option<String>,
        mut key: KeyRef,
        model_id: String,
        path: &str,
    ) -> Option<Resolved> {
        let mut provider_notes = Vec::new();
        let given = api_base.is_some();
        let Some(raw_base) = api_base.or(compatible.default_base.map(str::to_owned)) else {
            let from = compatible
                .base_env
                .map(|var| format!(" (LiteLLM reads it from `{var}`)"))
                .unwrap_or_default();
            self.note(
                format!("{path}.model"),
                format!("deployment `{}/{model_id}` not imported: no api_base{from}; add it and import again", compatible.prefix),
            );
            return None;
        };
        let Some((mut base, stripped)) = clean_url(&raw_base) else {
            self.note(
                format!("{path}.api_base"),
                format!("deployment `{}/{model_id}` not imported: api_base is not an http:// or https:// URL", compatible.prefix),
            );
            return None;
        };
        if stripped {
            self.note(
                format!("{path}.api_base"),
                "credentials, query or fragment in api_base not imported: base_url keeps only scheme, host, port and path",
            );
        }
        let has_path = url::Url::parse(&base)
            .map(|u| !u.path().trim_matches('/').is_empty())
            .unwrap_or(false);
        if compatible.kind == "anthropic" {
            // LiteLLM appends /v1/messages unless api_base ends with it; Switchboard appends
            // /v1/messages to base_url.
            if let Some(stripped) = base.strip_suffix("/v1/messages") {
                base = stripped.to_owned();
            }
        } else if compatible.kind == "gemini" {
            // LiteLLM and Switchboard both append /models/MODEL:ACTION to a Gemini api_base.
        } else if compatible.ollama {
            if !base.ends_with("/v1") {
                let native = base.clone();
                base.push_str("/v1");
                provider_notes.push(format!(
                    "Ollama serves the OpenAI API under /v1, so base_url is {base} (LiteLLM's `{}/` spoke Ollama's native API at {native})",
                    compatible.prefix
                ));
            }
        } else if !has_path && given {
            base.push_str("/v1");
            provider_notes.push(format!(
                "api_base has no path; Switchboard's base_url includes /v1, so it is {base} (check that the server answers there)"
            ));
        }
        if !given && compatible.local {
            provider_notes.push(format!(
                "no api_base: assumed the usual local address for `{}/`, {base}",
                compatible.prefix
            ));
        }
        let at_default = compatible
            .default_base
            .and_then(|d| clean_url(d).map(|(url, _)| url))
            .is_some_and(|d| d == base || format!("{d}/v1") == base);
        let needs_key = matches!(compatible.kind, "anthropic" | "gemini");
        if key == KeyRef::None && (at_default || needs_key) {
            if let Some(var) = compatible.key_env {
                key = KeyRef::Env(var.to_owned());
                provider_notes.push(if self.remote_entry {
                    format!("LiteLLM's /model/info never shows a deployment's key, so api_key = \"env:{var}\", the variable LiteLLM reads by default; point it at the key the deployment really uses if that differs")
                } else {
                    format!("no api_key: LiteLLM reads `{var}` by default, so api_key = \"env:{var}\"")
                });
            }
        }
        if compatible.prefix == "text-completion-openai" {
            self.note(
                format!("{path}.model"),
                "LiteLLM sent this deployment's requests to the legacy /completions endpoint; Switchboard forwards each request to the endpoint the client called",
            );
        }
        let name_hint = provider_name_hint(compatible, &base, at_default);
        Some(Resolved {
            key: ProviderKey {
                kind: compatible.kind.to_owned(),
                base_url: Some(base),
                key,
            },
            supported: true,
            name_hint,
            model: model_id,
            provider_notes,
            prefix: compatible.prefix.to_owned(),
        })
    }

    fn api_key(&mut self, v: Option<&Value>, path: &str) -> KeyRef {
        match v {
            None | Some(Value::Null) => KeyRef::None,
            Some(Value::String(s)) => {
                if let Some(var) = s.strip_prefix("os.environ/") {
                    if !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return KeyRef::Env(var.to_owned());
                    }
                    self.note(
                        path,
                        "api_key not imported: `os.environ/` is not followed by a valid environment variable name",
                    );
                    return KeyRef::None;
                }
                if s.trim().is_empty() {
                    self.note(path, "empty api_key ignored");
                    return KeyRef::None;
                }
                let index = match self.literals.iter().position(|l| l == s) {
                    Some(index) => index,
                    None => {
                        self.literals.push(s.clone());
                        self.literals.len() - 1
                    }
                };
                KeyRef::Literal(index)
            }
            Some(other) => {
                self.note(
                    path,
                    format!(
                        "api_key not imported: expected `os.environ/VAR`, found {}",
                        type_name(other)
                    ),
                );
                KeyRef::None
            }
        }
    }

    fn provider_for(&mut self, key: ProviderKey, resolved: &Resolved, path: &str) -> usize {
        if let Some(&index) = self.provider_index.get(&key) {
            return index;
        }
        let name = self.unique_provider_name(&resolved.name_hint);
        for message in &resolved.provider_notes {
            let message = format!("provider `{name}`: {message}");
            self.note(path, message);
        }
        // /model/info never shows keys: say so where the import could not pick a default one.
        if self.remote_entry && resolved.supported && key.key == KeyRef::None {
            self.note(path, format!("provider `{name}`: LiteLLM's /model/info never shows a deployment's key, so this provider has no api_key; if the server needs one, set api_key = \"env:VAR\" (or \"keychain:NAME\") on it"));
        }
        self.providers.push(Provider {
            name,
            key: key.clone(),
            supported: resolved.supported,
            literal_env: None,
            literal_paths: Vec::new(),
            prefix: resolved.prefix.clone(),
            drop_params: None,
            budget: None,
        });
        self.provider_index.insert(key, self.providers.len() - 1);
        self.providers.len() - 1
    }

    fn unique_provider_name(&mut self, hint: &str) -> String {
        let mut name = hint.to_owned();
        let mut n = 2;
        while self.used_provider_names.contains(&name) {
            name = format!("{hint}-{n}");
            n += 1;
        }
        self.used_provider_names.insert(name.clone());
        name
    }

    fn seconds(&mut self, v: &Value, path: &str, key: &str) -> Option<f64> {
        let seconds = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match seconds {
            Some(s) if s.is_finite() && s > 0.0 && s < 1.0e7 => Some(s),
            _ => {
                self.note(
                    path,
                    format!("`{key}` not imported: it must be a positive number of seconds"),
                );
                None
            }
        }
    }

    /// A whole number from 1 (a rate or token cap). `None` (with a note) otherwise.
    fn whole(&mut self, v: &Value, path: &str, key: &str) -> Option<u64> {
        let n = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n >= 1 && n < u64::from(u32::MAX) * 1000 => Some(n),
            _ => {
                self.note(
                    path,
                    format!(
                        "`{key}`{} not imported: it must be a whole number from 1",
                        shown(v)
                    ),
                );
                None
            }
        }
    }

    /// A positive amount of US dollars. `None` (with a note) otherwise.
    fn usd(&mut self, v: &Value, path: &str) -> Option<f64> {
        let usd = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match usd {
            Some(usd) if usd.is_finite() && usd > 0.0 => Some(usd),
            _ => {
                self.note(
                    path,
                    format!(
                        "max_budget{} not imported: it must be a positive amount of USD",
                        shown(v)
                    ),
                );
                None
            }
        }
    }

    /// LiteLLM's `weight`: a number from 0 up. `None` (with a note) when it is not one.
    fn weight(&mut self, v: &Value, path: &str) -> Option<f64> {
        match v.as_f64() {
            Some(w) if w.is_finite() && w > 0.0 && w <= MAX_WEIGHT => Some(w),
            Some(0.0) => {
                self.note(
                    path,
                    "weight = 0: LiteLLM's simple-shuffle never picked this deployment, but Switchboard's weights start at 1, so it gets the lowest weight; remove the target by hand if it should get no traffic",
                );
                Some(0.0)
            }
            _ => {
                self.note(
                    path,
                    format!(
                        "`weight`{} not imported: it must be a number from 0 to {MAX_WEIGHT}",
                        shown(v)
                    ),
                );
                None
            }
        }
    }

    /// `model_info`: `max_input_tokens` is the target's context window, per-token prices go to
    /// `costs`; the rest is reported.
    fn model_info(&mut self, v: &Value, path: &str, costs: &mut Costs) -> Option<u64> {
        let map = match v {
            Value::Mapping(map) => map,
            Value::Null => return None,
            other => {
                self.note(
                    path,
                    format!(
                        "model_info not imported: expected a mapping, found {}",
                        type_name(other)
                    ),
                );
                return None;
            }
        };
        let mut max_input_tokens = None;
        for (key, v) in map {
            let key = key_text(key);
            let at = format!("{path}.{key}");
            match key.as_str() {
                "max_input_tokens" => match v.as_f64() {
                    Some(n) if n >= 1.0 && n.fract() == 0.0 && n < 1.0e12 => {
                        max_input_tokens = Some(n as u64);
                    }
                    _ => self.note(
                        at,
                        format!("max_input_tokens{} not imported: it must be a whole number of tokens, at least 1", shown(v)),
                    ),
                },
                "max_tokens" | "max_output_tokens" => self.note(
                    at,
                    format!("{key}{} not imported: Switchboard uses only max_input_tokens (the context window) from model_info", shown(v)),
                ),
                k if costs.take(k, v, path) => {}
                k if k.contains("cost") => self.note(
                    at,
                    format!("{key}{} not imported: Switchboard prices input, output, cache reads and cache writes per token (input_cost_per_token, output_cost_per_token, cache_read_input_token_cost, cache_creation_input_token_cost)", shown(v)),
                ),
                _ => self.note(
                    at,
                    format!("`{key}`{} not imported: Switchboard keeps no per-model metadata besides max_input_tokens", shown(v)),
                ),
            }
        }
        max_input_tokens
    }

    /// Per-alias notes once every deployment is in: ordering, duplicates, weights, and aliases
    /// left with no target.
    fn alias_notes(&mut self) {
        let mut notes = Vec::new();
        for alias in &mut self.aliases {
            let path = format!("{}.model_name", alias.first_path);
            if alias.targets.iter().any(|t| t.order.is_some()) {
                alias.targets.sort_by_key(|t| t.order.unwrap_or(i64::MAX));
                if alias.targets.len() > 1 {
                    notes.push((
                        path.clone(),
                        format!("alias `{}`: LiteLLM's `order` not translated: LiteLLM sent requests to the lowest order first and to the others only when those failed, but Switchboard spreads requests over all of an alias's targets (listed here lowest order first). For the same effect, move the higher-order targets into an alias of their own and list it in `fallbacks`", alias.name),
                    ));
                }
            }
            let mut kept: Vec<Target> = Vec::new();
            for target in alias.targets.drain(..) {
                let first = kept
                    .iter_mut()
                    .find(|t| t.provider == target.provider && t.model == target.model);
                match first {
                    Some(first) => {
                        notes.push((
                            target.path.clone(),
                            format!("alias `{}`: the same deployment (`{}`) is listed again; Switchboard lists a target once, so this entry is merged into the first, and its share of the traffic (weight) is added to the first's", alias.name, target.model),
                        ));
                        first.weight += target.weight;
                        first.weight_given |= target.weight_given;
                        first.rate_given |= target.rate_given;
                        first.max_input_tokens = first.max_input_tokens.or(target.max_input_tokens);
                        first.limits = first.limits.merged(target.limits);
                        first.max_tokens = first.max_tokens.or(target.max_tokens);
                        if first.budget.is_none() {
                            first.budget = target.budget.clone();
                        }
                    }
                    None => kept.push(target),
                }
            }
            alias.targets = kept;
            if let [target] = alias.targets.as_slice() {
                if target.weight_given {
                    notes.push((
                        format!("{}.litellm_params.weight", target.path),
                        format!("weight = {} not needed: alias `{}` has a single target here, which gets every request", show_number(target.weight), alias.name),
                    ));
                }
            }
            if let Some(message) = set_weights(&mut alias.targets) {
                notes.push((path.clone(), format!("alias `{}`: {message}", alias.name)));
            }
            set_weights(&mut alias.untranslated);
            if alias.targets.is_empty() {
                notes.push((
                    path,
                    format!(
                        "alias `{}` not imported: none of its deployments could be translated",
                        alias.name
                    ),
                ));
            }
        }
        for (path, message) in notes {
            self.note(path, message);
        }
    }

    // --- settings sections ---------------------------------------------------------------------

    fn router_settings(&mut self, section: &Value) {
        let Some(map) = self.section_map(section, "router_settings") else {
            return;
        };
        for (key, v) in &map {
            let key = key_text(key);
            let path = format!("router_settings.{key}");
            match key.as_str() {
                "fallbacks" => self.fallback_list(v, &path, FallbackKind::Regular),
                "context_window_fallbacks" => {
                    self.fallback_list(v, &path, FallbackKind::ContextWindow)
                }
                "default_fallbacks" => self.default_fallbacks(v, &path),
                "content_policy_fallbacks" => self.note(path, CONTENT_POLICY),
                "timeout" => {
                    self.router_timeout = self.seconds(v, &path, "timeout");
                    if let Some(s) = self.router_timeout {
                        self.note(path, format!("router timeout imported as every provider's default `timeouts.total_s = {}`", show_number(s)));
                    }
                }
                "stream_timeout" => {
                    self.router_stream_timeout = self.seconds(v, &path, "stream_timeout");
                    if let Some(s) = self.router_stream_timeout {
                        self.note(path, format!("router stream_timeout imported as every provider's default `timeouts.idle_s = {}` (longest gap between two chunks of a streamed response)", show_number(s)));
                    }
                }
                "model_group_alias" => self.model_group_alias(v, &path),
                "provider_budget_config" => self.provider_budget_config(v, &path),
                "routing_strategy" => {
                    self.routing_strategy = Some((v.as_str().map(str::to_owned), path));
                }
                "num_retries" => {
                    if let Some(n) = self.count(v, &path, &key) {
                        self.router_num_retries = Some((n, path));
                    }
                }
                "retry_after" => self.retry_after(v, &path),
                "retry_policy" | "model_group_retry_policy" => {
                    self.note(path, format!("`{key}` not translated: Switchboard has no per-error retry counts; `retries.attempts` applies to every transient error (connect, timeout, 5xx, 429)"));
                }
                "allowed_fails" => {
                    if let Some(n) = self.count(v, &path, &key) {
                        let failures = n.saturating_add(1);
                        self.breaker_failures = Some(failures);
                        self.note(path, format!("allowed_fails = {n} imported as every provider's `breaker.failures = {failures}`: LiteLLM cools a deployment down when its failures within a short window (cooldown_time) exceed allowed_fails, that is on failure {failures}; Switchboard's breaker opens after {failures} consecutive failures (a success starts the count again) and also when more than half of the requests in the last 60 s failed (`error_rate`, `window_s`)"));
                    }
                }
                "cooldown_time" => self.cooldown_time(v, &path),
                "allowed_fails_policy" => {
                    self.note(path, "allowed_fails_policy not translated: Switchboard's breaker counts every failure alike (`breaker.failures`)");
                }
                "disable_cooldowns" => {
                    self.note(path, format!("disable_cooldowns{} not translated: Switchboard's breakers cannot be turned off; raise `breaker.failures` to make them rarer", shown(v)));
                }
                "enable_pre_call_checks" => {
                    self.note(path, format!("enable_pre_call_checks{} not needed: Switchboard always skips a target whose `max_input_tokens` (from model_info) is below the request's estimated input", shown(v)));
                }
                k if k.starts_with("redis") || k == "cache_responses" => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard keeps no shared state in Redis and has no response cache"),
                ),
                _ => self.note(
                    path,
                    format!("`{key}`{} not translated: Switchboard has no such router setting yet", shown(v)),
                ),
            }
        }
    }

    fn litellm_settings(&mut self, section: &Value) {
        let Some(map) = self.section_map(section, "litellm_settings") else {
            return;
        };
        for (key, v) in &map {
            let key = key_text(key);
            let path = format!("litellm_settings.{key}");
            match key.as_str() {
                "fallbacks" => self.fallback_list(v, &path, FallbackKind::Regular),
                "context_window_fallbacks" => {
                    self.fallback_list(v, &path, FallbackKind::ContextWindow)
                }
                "default_fallbacks" => self.default_fallbacks(v, &path),
                "content_policy_fallbacks" => self.note(path, CONTENT_POLICY),
                "request_timeout" => {
                    self.request_timeout = self.seconds(v, &path, "request_timeout");
                    if let Some(s) = self.request_timeout {
                        self.note(path, format!("request_timeout imported as every provider's default `timeouts.total_s = {}` unless router_settings.timeout is set", show_number(s)));
                    }
                }
                "num_retries" => {
                    if let Some(n) = self.count(v, &path, &key) {
                        self.settings_num_retries = Some((n, path));
                    }
                }
                "drop_params" => match v.as_bool() {
                    Some(b) => self.drop_params = Some((b, path)),
                    None => self.note(path, "`drop_params` is not true or false; ignored"),
                },
                "modify_params" => self.note(path, format!("modify_params{} not translated: Switchboard translates a request for Anthropic and Gemini by fixed rules and has no switch to rewrite it further", shown(v))),
                "max_budget" => self.proxy_budget = self.usd(v, &path),
                "budget_duration" => match scalar_text(v) {
                    Some(d) => self.proxy_budget_duration = Some(d),
                    None => self.note(path, "`budget_duration` is not a duration like \"30d\"; ignored"),
                },
                "callbacks" | "success_callback" | "failure_callback" | "service_callback"
                | "callback_settings" => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard logs every request to its own request log (SQLite) and has no callbacks"),
                ),
                "cache" | "cache_params" => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard has no response cache yet"),
                ),
                "set_verbose" | "json_logs" => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard's logging is set on its command line"),
                ),
                _ => self.note(
                    path,
                    format!("`{key}`{} not imported: Switchboard has no equivalent yet", shown(v)),
                ),
            }
        }
    }

    fn general_settings(&mut self, section: &Value) {
        let Some(map) = self.section_map(section, "general_settings") else {
            return;
        };
        for (key, v) in &map {
            let key = key_text(key);
            let path = format!("general_settings.{key}");
            match key.as_str() {
                "master_key" => self.master_key(v, &path),
                "store_model_in_db" => self.note(
                    path,
                    "store_model_in_db: the models LiteLLM keeps in its database are not in this file; import them from the running proxy with `switchboard import litellm --from-url URL --master-key REF`",
                ),
                "database_url" => self.note(
                    path,
                    "database_url not imported: Switchboard keeps its request log in its own SQLite file (`[database] path`)",
                ),
                "port" | "host" => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard listens where `listen` says (127.0.0.1:4000 in the output)"),
                ),
                _ => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard has no equivalent yet"),
                ),
            }
        }
    }

    /// LiteLLM's master key becomes a client token with the key's SHA-256, so clients keep it; an
    /// `os.environ/` key also becomes `server.admin_token`, as it opened LiteLLM's admin API.
    fn master_key(&mut self, v: &Value, path: &str) {
        let Some(text) = v.as_str().map(str::trim).filter(|t| !t.is_empty()) else {
            self.note(path, "master_key not imported: it is not a string");
            return;
        };
        const NAME: &str = "litellm-master-key";
        let hint = format!("printf %s \"$KEY\" | sha256sum` gives the hash for a `[tokens.{NAME}]` table with hash = \"sha256:<hash>\"; or make a new key with `switchboard tokens create {NAME}` (clients then need the new key)");
        let value = match text.strip_prefix("os.environ/") {
            Some(var) => {
                if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.note(path, "master_key not imported: `os.environ/` is not followed by a valid environment variable name");
                    return;
                }
                self.admin_token = Some(format!("env:{var}"));
                let value = match &self.env {
                    Some(env) => env.get(var).cloned(),
                    None => std::env::var(var).ok(),
                };
                match value.filter(|v| !v.is_empty()) {
                    Some(value) => {
                        self.note(path, format!("master_key (from `{var}`, read at import time) imported as client token `{NAME}` (its SHA-256; the key is not copied), so clients keep their key (with a client token configured, every model call needs one, as every LiteLLM call needed a key); and as server.admin_token = \"env:{var}\" for the admin API"));
                        value
                    }
                    None => {
                        self.note(path, format!("master_key is read from `{var}`, which is not set here, so no client token could be made from it (server.admin_token = \"env:{var}\" is set): set {var} and import again, or `{hint}", hint = hint.replace("$KEY", &format!("${var}"))));
                        return;
                    }
                }
            }
            None => {
                self.note(path, format!("master_key imported as client token `{NAME}` (its SHA-256; the key is not copied), so clients keep their key (with a client token configured, every model call needs one, as every LiteLLM call needed a key). The admin API takes only a reference: to keep using this key there, store it in a mode-600 file and set server.admin_token = \"file:PATH\""));
                text.to_owned()
            }
        };
        self.tokens.push(TokenOut {
            name: NAME.to_owned(),
            hash: switchboard_gateway::hash_token(&value),
            description: "LiteLLM master_key".to_owned(),
            tenant: None,
            aliases: None,
            limits: Limits::default(),
            budget: None,
        });
    }

    /// A whole number from 0 (a count of retries or failures). `None` (with a note) otherwise.
    fn count(&mut self, v: &Value, path: &str, key: &str) -> Option<u32> {
        match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n < 1_000_000 => Some(n),
            _ => {
                self.note(
                    path,
                    format!(
                        "`{key}`{} not imported: it must be a whole number from 0",
                        shown(v)
                    ),
                );
                None
            }
        }
    }

    fn retry_after(&mut self, v: &Value, path: &str) {
        if v.as_f64() == Some(0.0) {
            self.note(
                path,
                "retry_after = 0 (LiteLLM's default) not translated: Switchboard's retries keep their default backoff (100 ms)",
            );
            return;
        }
        self.retry_after = self.seconds(v, path, "retry_after");
        if let Some(s) = self.retry_after {
            self.note(path, format!("retry_after = {} imported as every alias's `retries.backoff_ms = {}`: LiteLLM waits at least that long before each retry; Switchboard moves to another healthy target at once and pauses (doubling each time) only before trying the same target again", show_number(s), show_number(s * 1000.0)));
        }
    }

    fn cooldown_time(&mut self, v: &Value, path: &str) {
        if v.as_f64() == Some(0.0) {
            self.note(
                path,
                "cooldown_time = 0 means LiteLLM's default (5 s), which is also Switchboard's `breaker.cooldown_s`; nothing to write",
            );
            return;
        }
        self.breaker_cooldown = self.seconds(v, path, "cooldown_time");
        let Some(s) = self.breaker_cooldown else {
            return;
        };
        let default_max = switchboard_gateway::config::BreakerSettings::default()
            .max_cooldown
            .as_secs_f64();
        let max = if s > default_max {
            format!(
                " and `breaker.max_cooldown_s = {}` (it may not be below cooldown_s)",
                show_number(s)
            )
        } else {
            String::new()
        };
        self.note(path, format!("cooldown_time = {} imported as every provider's `breaker.cooldown_s = {}`{max}: LiteLLM keeps a deployment out for the same time each time; Switchboard then lets one probe request through and, if it fails, doubles the cooldown, up to `breaker.max_cooldown_s`", show_number(s), show_number(s)));
    }

    fn environment_variables(&mut self, section: &Value) {
        let Some(map) = self.section_map(section, "environment_variables") else {
            return;
        };
        if map.is_empty() {
            return;
        }
        let names: Vec<String> = map.keys().map(|k| one_line(&key_text(k))).collect();
        self.note(
            "environment_variables",
            format!("not imported ({}): LiteLLM set these variables itself; Switchboard reads `env:` references from its own environment, so export them before starting it. Values are not copied", names.join(", ")),
        );
    }

    fn section_map(&mut self, section: &Value, name: &str) -> Option<Mapping> {
        match section {
            Value::Mapping(map) => Some(map.clone()),
            Value::Null => None,
            other => {
                self.note(
                    name,
                    format!(
                        "`{name}` not imported: expected a mapping, found {}",
                        type_name(other)
                    ),
                );
                None
            }
        }
    }

    // --- fallbacks -----------------------------------------------------------------------------

    /// LiteLLM's format: a list of single-key maps, `[{"gpt-4": ["gpt-3.5", "claude"]}]`.
    fn fallback_list(&mut self, v: &Value, path: &str, kind: FallbackKind) {
        let items: Vec<(String, &Value)> = match v {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(j, item)| (format!("{path}[{j}]"), item))
                .collect(),
            Value::Mapping(_) => vec![(path.to_owned(), v)],
            Value::Null => return,
            other => {
                self.note(
                    path,
                    format!(
                        "not imported: expected a list like [{{\"gpt-4\": [\"gpt-3.5\"]}}], found {}",
                        type_name(other)
                    ),
                );
                return;
            }
        };
        for (item_path, item) in items {
            let Some(map) = item.as_mapping() else {
                self.note(
                    item_path,
                    format!(
                        "not imported: expected a map like {{\"gpt-4\": [\"gpt-3.5\"]}}, found {}",
                        type_name(item)
                    ),
                );
                continue;
            };
            for (from, to) in map {
                let from = key_text(from);
                let Some(to) = self.name_list(to, &item_path) else {
                    continue;
                };
                if from == "*" && kind == FallbackKind::Regular {
                    self.default_fallbacks.push((to, item_path.clone()));
                    continue;
                }
                self.fallback_specs.push(FallbackSpec {
                    from,
                    to,
                    kind,
                    path: item_path.clone(),
                });
            }
        }
    }

    fn default_fallbacks(&mut self, v: &Value, path: &str) {
        if let Some(list) = self.name_list(v, path) {
            self.default_fallbacks.push((list, path.to_owned()));
        }
    }

    fn name_list(&mut self, v: &Value, path: &str) -> Option<Vec<String>> {
        match v {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Sequence(items) => {
                let mut names = Vec::new();
                for item in items {
                    match scalar_text(item) {
                        Some(name) => names.push(name),
                        None => self.note(
                            path,
                            format!(
                                "a fallback that is {} instead of a model name is ignored",
                                type_name(item)
                            ),
                        ),
                    }
                }
                Some(names)
            }
            other => {
                self.note(
                    path,
                    format!(
                        "not imported: expected a list of model names, found {}",
                        type_name(other)
                    ),
                );
                None
            }
        }
    }

    fn model_group_alias(&mut self, v: &Value, path: &str) {
        let Some(map) = v.as_mapping() else {
            self.note(
                path,
                "not imported: expected a mapping of name → model group",
            );
            return;
        };
        for (name, target) in map {
            let name = key_text(name);
            let referent = match target {
                Value::Mapping(m) => {
                    if m.get("hidden").and_then(Value::as_bool) == Some(true) {
                        self.note(
                            path,
                            format!("model_group_alias `{name}`: `hidden` not imported; Switchboard lists every alias"),
                        );
                    }
                    m.get("model").and_then(scalar_text)
                }
                other => scalar_text(other),
            };
            match referent {
                Some(referent) => {
                    self.group_aliases.push((
                        normalize_alias_name(&name),
                        referent,
                        path.to_owned(),
                    ));
                }
                None => self.note(
                    path,
                    format!("model_group_alias `{name}` not imported: it names no model group"),
                ),
            }
        }
    }

    /// The imported alias a LiteLLM model name refers to, or why there is none.
    fn resolve_ref(&self, raw: &str) -> Result<String, String> {
        let name = normalize_alias_name(raw);
        if let Some(&index) = self.alias_index.get(&name) {
            return if self.aliases[index].targets.is_empty() {
                Err(format!(
                    "`{raw}` was not imported (none of its deployments could be translated)"
                ))
            } else {
                Ok(name)
            };
        }
        if let Some((_, referent, _)) = self.group_aliases.iter().find(|(n, _, _)| *n == name) {
            let referent = normalize_alias_name(referent);
            if let Some(&index) = self.alias_index.get(&referent) {
                if !self.aliases[index].targets.is_empty() {
                    return Ok(referent);
                }
            }
        }
        if let Some(reason) = self.skipped.get(&name) {
            return Err(format!("`{raw}` was not imported: {reason}"));
        }
        Err(format!("no model_list entry is named `{raw}`"))
    }

    fn resolve_fallbacks(&mut self) {
        let mut wanted: HashMap<String, Vec<Edge>> = HashMap::new();
        let mut has_own: HashSet<String> = HashSet::new();
        let specs = std::mem::take(&mut self.fallback_specs);

        // Context-window fallbacks per alias, in the order first seen: (alias, fallbacks, where).
        let mut context: Vec<(String, Vec<Edge>, String)> = Vec::new();
        for kind in [FallbackKind::Regular, FallbackKind::ContextWindow] {
            for spec in specs.iter().filter(|s| s.kind == kind) {
                let label = match kind {
                    FallbackKind::Regular => "fallbacks",
                    FallbackKind::ContextWindow => "context_window_fallbacks",
                };
                let from = match self.resolve_ref(&spec.from) {
                    Ok(from) => from,
                    Err(reason) => {
                        self.note(
                            &spec.path,
                            format!("{label} of `{}` not imported: {reason}", spec.from),
                        );
                        continue;
                    }
                };
                if kind == FallbackKind::Regular {
                    has_own.insert(from.clone());
                }
                let at = match kind {
                    FallbackKind::Regular => None,
                    FallbackKind::ContextWindow => {
                        let at = match context.iter().position(|(f, _, _)| *f == from) {
                            Some(at) => at,
                            None => {
                                context.push((from.clone(), Vec::new(), spec.path.clone()));
                                context.len() - 1
                            }
                        };
                        Some(at)
                    }
                };
                for to in &spec.to {
                    match self.resolve_ref(to) {
                        Ok(to) if to == from => self.note(
                            &spec.path,
                            format!("`{from}` lists itself as a fallback; dropped"),
                        ),
                        Ok(to) => {
                            let edge = Edge {
                                to,
                                path: spec.path.clone(),
                            };
                            match at {
                                Some(at) => context[at].1.push(edge),
                                None => wanted.entry(from.clone()).or_default().push(edge),
                            }
                        }
                        Err(reason) => self.note(
                            &spec.path,
                            format!("fallback `{to}` of `{from}` dropped: {reason}"),
                        ),
                    }
                }
            }
            if kind == FallbackKind::Regular {
                self.apply_default_fallbacks(&has_own, &mut wanted);
            }
        }
        for (from, edges, path) in context {
            self.context_window_fallbacks(&from, edges, &path, &mut wanted);
        }

        // Accept edges in alias order; drop any that would close a cycle.
        let order: Vec<String> = self.aliases.iter().map(|a| a.name.clone()).collect();
        for from in order {
            let Some(edges) = wanted.remove(&from) else {
                continue;
            };
            for edge in edges {
                let Some(&index) = self.alias_index.get(&from) else {
                    continue;
                };
                if self.aliases[index].fallbacks.contains(&edge.to) {
                    self.note(
                        &edge.path,
                        format!(
                            "fallback `{}` of `{from}` is listed more than once; kept once",
                            edge.to
                        ),
                    );
                    continue;
                }
                if let Some(path_back) = self.fallback_path(&edge.to, &from) {
                    let cycle = std::iter::once(from.as_str())
                        .chain(path_back.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" → ");
                    self.note(
                        &edge.path,
                        format!(
                            "fallback `{from}` → `{}` dropped: it would close the cycle {cycle}, which Switchboard rejects",
                            edge.to
                        ),
                    );
                    continue;
                }
                self.aliases[index].fallbacks.push(edge.to);
            }
        }
    }

    /// One alias's context-window fallbacks: `long_context` when there is a single one and the
    /// alias's context window is known, else ordinary fallbacks.
    fn context_window_fallbacks(
        &mut self,
        from: &str,
        mut edges: Vec<Edge>,
        path: &str,
        wanted: &mut HashMap<String, Vec<Edge>>,
    ) {
        let mut seen = HashSet::new();
        edges.retain(|e| seen.insert(e.to.clone()));
        let Some(&index) = self.alias_index.get(from) else {
            return;
        };
        let windows: Option<Vec<u64>> = self.aliases[index]
            .targets
            .iter()
            .map(|t| t.max_input_tokens)
            .collect();
        let smallest = windows.and_then(|w| w.into_iter().min());
        let names = edges
            .iter()
            .map(|e| format!("`{}`", e.to))
            .collect::<Vec<_>>()
            .join(", ");
        let ordinary = format!("context_window_fallbacks of `{from}` ({names}) imported as ordinary fallbacks: Switchboard tries them when every target failed with a transient error (connect, timeout, 5xx, 429), not specifically when the prompt is too long");
        match (edges.as_slice(), smallest) {
            ([], _) => self.note(
                path,
                format!("context_window_fallbacks of `{from}`: no fallback left to import"),
            ),
            ([edge], Some(above)) => {
                let to = edge.to.clone();
                let also = if wanted
                    .get(from)
                    .is_some_and(|list| list.iter().any(|e| e.to == to))
                {
                    "it also stays in `fallbacks`, where it was listed too"
                } else {
                    "it is not added to `fallbacks`, as it was only a context-window fallback"
                };
                self.note(
                    path,
                    format!("context_window_fallbacks of `{from}` imported as `long_context = {{ above_tokens = {above}, alias = \"{to}\" }}`: Switchboard sends a request whose input it estimates (roughly, about ±25%) above {above} tokens, the smallest max_input_tokens of `{from}`'s targets, straight to `{to}`, where LiteLLM switched only after a context-window error; {also}"),
                );
                self.aliases[index].long_context = Some((above, to));
            }
            ([_], None) => {
                self.note(
                    path,
                    format!("{ordinary}. To send long inputs to {names} ahead of time instead (`long_context`), give every deployment of `{from}` a model_info.max_input_tokens and import again"),
                );
                wanted.entry(from.to_owned()).or_default().extend(edges);
            }
            (_, _) => {
                self.note(
                    path,
                    format!("{ordinary}. Switchboard's `long_context` names a single alias; set it by hand to route long inputs ahead of time"),
                );
                wanted.entry(from.to_owned()).or_default().extend(edges);
            }
        }
    }

    fn apply_default_fallbacks(
        &mut self,
        has_own: &HashSet<String>,
        wanted: &mut HashMap<String, Vec<Edge>>,
    ) {
        let defaults = std::mem::take(&mut self.default_fallbacks);
        for (names, path) in defaults {
            let mut resolved = Vec::new();
            for raw in &names {
                match self.resolve_ref(raw) {
                    Ok(name) => resolved.push(name),
                    Err(reason) => {
                        self.note(&path, format!("default fallback `{raw}` dropped: {reason}"))
                    }
                }
            }
            if resolved.is_empty() {
                continue;
            }
            let mut applied = 0;
            let names: Vec<String> = self
                .aliases
                .iter()
                .filter(|a| !a.targets.is_empty() && !has_own.contains(&a.name))
                .map(|a| a.name.clone())
                .collect();
            for alias in names {
                let edges = wanted.entry(alias.clone()).or_default();
                let mut added = false;
                for to in resolved.iter().filter(|to| **to != alias) {
                    edges.push(Edge {
                        to: to.clone(),
                        path: path.clone(),
                    });
                    added = true;
                }
                if added {
                    applied += 1;
                }
            }
            let message = if applied == 0 {
                format!(
                    "default fallbacks ({}) not used: every alias has fallbacks of its own",
                    resolved.join(", ")
                )
            } else {
                format!("default fallbacks ({}) added to the {applied} aliases that have no fallbacks of their own", resolved.join(", "))
            };
            self.note(&path, message);
        }
    }

    /// A fallback chain from `start` to `goal` over the accepted fallbacks, if there is one.
    fn fallback_path(&self, start: &str, goal: &str) -> Option<Vec<String>> {
        let mut stack: Vec<(String, Vec<String>)> =
            vec![(start.to_owned(), vec![start.to_owned()])];
        let mut seen: HashSet<String> = HashSet::new();
        while let Some((node, path)) = stack.pop() {
            if node == goal {
                return Some(path);
            }
            if !seen.insert(node.clone()) {
                continue;
            }
            if let Some(&index) = self.alias_index.get(&node) {
                for next in &self.aliases[index].fallbacks {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
        None
    }

    /// `model_group_alias` entries become aliases with the targets and fallbacks of the alias
    /// they stand for.
    fn add_group_aliases(&mut self) {
        let groups = std::mem::take(&mut self.group_aliases);
        for (name, referent, path) in &groups {
            if self.alias_index.contains_key(name) {
                self.note(
                    path,
                    format!("model_group_alias `{name}` not imported: a model_list entry already has that name"),
                );
                continue;
            }
            if let Some(kept) = self.lowercase.get(&name.to_lowercase()) {
                let kept = kept.clone();
                self.note(
                    path,
                    format!("model_group_alias `{name}` not imported: it differs from `{kept}` only in case"),
                );
                continue;
            }
            let source = normalize_alias_name(referent);
            let index = match self.alias_index.get(&source) {
                Some(&index) if !self.aliases[index].targets.is_empty() => index,
                _ => {
                    let reason = self
                        .resolve_ref(referent)
                        .err()
                        .unwrap_or_else(|| format!("`{referent}` is itself an alias"));
                    self.note(
                        path,
                        format!("model_group_alias `{name}` not imported: {reason}"),
                    );
                    continue;
                }
            };
            let copy = Alias {
                name: name.clone(),
                first_path: path.clone(),
                deployments: 0,
                targets: self.aliases[index].targets.clone(),
                untranslated: Vec::new(),
                fallbacks: self.aliases[index].fallbacks.clone(),
                long_context: self.aliases[index].long_context.clone(),
                copy_of: Some(source.clone()),
                budget: None,
            };
            self.note(
                path,
                format!("model_group_alias `{name}` imported as an alias with the same targets, fallbacks and routing as `{source}`"),
            );
            self.lowercase.insert(name.to_lowercase(), name.clone());
            self.aliases.push(copy);
            self.alias_index
                .insert(name.clone(), self.aliases.len() - 1);
        }
    }

    /// A provider with a literal key reads it from `env:NAME_API_KEY`, a variable no other
    /// provider reads, which the report asks the user to export.
    fn name_literal_keys(&mut self) {
        let mut taken: HashSet<String> = self
            .providers
            .iter()
            .filter_map(|p| match &p.key.key {
                KeyRef::Env(var) => Some(var.clone()),
                _ => None,
            })
            .collect();
        let mut notes = Vec::new();
        for provider in &mut self.providers {
            if !matches!(provider.key.key, KeyRef::Literal(_)) {
                continue;
            }
            let stem = provider.name.to_uppercase().replace('-', "_");
            let mut var = format!("{stem}_API_KEY");
            let mut n = 2;
            while taken.contains(&var) {
                var = format!("{stem}_{n}_API_KEY");
                n += 1;
            }
            taken.insert(var.clone());
            for path in &provider.literal_paths {
                notes.push((path.clone(), format!("literal API key not copied (Switchboard stores references, never key values): provider `{}` reads it from api_key = \"env:{var}\"; export {var} with that key before starting Switchboard", provider.name)));
            }
            provider.literal_env = Some(var);
        }
        for (path, message) in notes {
            self.note(path, message);
        }
    }

    // --- budgets -------------------------------------------------------------------------------

    /// A `[budgets.NAME]` from a LiteLLM max_budget/budget_duration; its name, or `None` (with a
    /// note) when the duration has no Switchboard period.
    fn add_budget(
        &mut self,
        hint: &str,
        usd: f64,
        duration: Option<&str>,
        path: &str,
        what: &str,
    ) -> Option<String> {
        let Some(duration) = duration else {
            self.note(path, format!("max_budget = {} of {what} not imported: without budget_duration LiteLLM never resets it (a lifetime cap), and Switchboard's budgets are per day, week or month", show_number(usd)));
            return None;
        };
        let Some((period, exact)) = budget_period(duration) else {
            self.note(path, format!("max_budget = {} of {what} not imported: budget_duration {:?} is not a day, a week or a month, the periods Switchboard's budgets have", show_number(usd), one_line(duration)));
            return None;
        };
        let mut name = sanitize_name(hint);
        let base = name.clone();
        let mut n = 2;
        while self.budgets.iter().any(|b| b.name == name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        let how = if exact {
            ""
        } else {
            " (the nearest Switchboard period)"
        };
        self.note(path, format!("max_budget = {} every {} of {what} imported as budget `{name}` (usd = {}, period = \"{period}\"{how}); Switchboard's periods follow the calendar in [spend] timezone (a day from midnight, a week from Monday, a month from the 1st), where LiteLLM counted from the budget's creation", show_number(usd), one_line(duration), show_number(usd)));
        self.budgets.push(BudgetOut {
            name: name.clone(),
            usd,
            period,
            description: format!("LiteLLM max_budget of {what}"),
        });
        Some(name)
    }

    /// `{openai: {budget_limit: 100, time_period: 1d}, ...}`: a budget per LiteLLM provider.
    fn provider_budget_config(&mut self, v: &Value, path: &str) {
        let Some(map) = v.as_mapping() else {
            self.note(
                path,
                "not imported: expected a mapping of provider → { budget_limit, time_period }",
            );
            return;
        };
        for (provider, spec) in map {
            let provider = key_text(provider);
            let at = format!("{path}.{provider}");
            let usd = match spec.get("budget_limit") {
                Some(v) => self.usd(v, &format!("{at}.budget_limit")),
                None => {
                    self.note(&at, "not imported: no budget_limit");
                    None
                }
            };
            if let Some(usd) = usd {
                let duration = spec.get("time_period").and_then(scalar_text);
                self.provider_budgets.push((
                    provider,
                    BudgetSpec {
                        usd,
                        duration,
                        path: at,
                    },
                ));
            }
        }
    }

    /// Deployment budgets go on the alias when it is the alias's only target, else on the
    /// provider when it serves only this target; the proxy-wide budget goes on every provider.
    fn assign_budgets(&mut self) {
        let mut uses: HashMap<usize, usize> = HashMap::new();
        for alias in self.aliases.iter().filter(|a| a.copy_of.is_none()) {
            for target in &alias.targets {
                *uses.entry(target.provider).or_default() += 1;
            }
        }
        for a in 0..self.aliases.len() {
            if self.aliases[a].copy_of.is_some() {
                continue;
            }
            for t in 0..self.aliases[a].targets.len() {
                let Some(spec) = self.aliases[a].targets[t].budget.clone() else {
                    continue;
                };
                let provider = self.aliases[a].targets[t].provider;
                let alias_name = self.aliases[a].name.clone();
                let model = self.aliases[a].targets[t].model.clone();
                let what = format!("deployment `{alias_name}` → `{model}`");
                let single = self.aliases[a].targets.len() == 1;
                let own_provider =
                    uses.get(&provider) == Some(&1) && self.providers[provider].budget.is_none();
                if !single && !own_provider {
                    self.note(&spec.path, format!("max_budget = {} of {what} not imported: Switchboard's budgets apply to providers, aliases, client tokens and tenants, and this deployment shares both its alias and its provider with others; give it a provider of its own (its own api_base or key) or put a budget on the alias by hand", show_number(spec.usd)));
                    continue;
                }
                let hint = if single {
                    alias_name.clone()
                } else {
                    self.providers[provider].name.clone()
                };
                let Some(name) =
                    self.add_budget(&hint, spec.usd, spec.duration.as_deref(), &spec.path, &what)
                else {
                    continue;
                };
                if single {
                    self.aliases[a].budget = Some(name);
                } else {
                    self.providers[provider].budget = Some(name);
                }
            }
        }
        for (prefix, spec) in std::mem::take(&mut self.provider_budgets) {
            let matching: Vec<usize> = (0..self.providers.len())
                .filter(|&i| {
                    let p = &self.providers[i];
                    p.supported && p.prefix == prefix && uses.contains_key(&i)
                })
                .collect();
            if matching.is_empty() {
                self.note(&spec.path, format!("provider budget of `{}` not imported: no imported deployment uses that provider", one_line(&prefix)));
                continue;
            }
            let what = format!("LiteLLM provider `{}`", one_line(&prefix));
            let Some(name) = self.add_budget(
                &prefix,
                spec.usd,
                spec.duration.as_deref(),
                &spec.path,
                &what,
            ) else {
                continue;
            };
            for i in matching {
                match self.providers[i].budget.clone() {
                    Some(own) => {
                        let provider = self.providers[i].name.clone();
                        self.note(&spec.path, format!("budget `{name}` not set on provider `{provider}`: it already counts against budget `{own}` (from its deployment), and a provider names one budget"));
                    }
                    None => self.providers[i].budget = Some(name.clone()),
                }
            }
        }
        if let Some(usd) = self.proxy_budget {
            let duration = self.proxy_budget_duration.clone();
            let path = "litellm_settings.max_budget";
            let Some(name) = self.add_budget(
                "litellm-proxy",
                usd,
                duration.as_deref(),
                path,
                "the whole proxy",
            ) else {
                return;
            };
            let mut kept = Vec::new();
            for (index, provider) in self.providers.iter_mut().enumerate() {
                if !provider.supported || !uses.contains_key(&index) {
                    continue;
                }
                match &provider.budget {
                    Some(own) => kept.push(format!("`{}` (budget `{own}`)", provider.name)),
                    None => provider.budget = Some(name.clone()),
                }
            }
            if !kept.is_empty() {
                self.note(path, format!("budget `{name}` is set on every provider except {}: a Switchboard provider counts against one budget, and these have their own", kept.join(", ")));
            }
        } else if self.proxy_budget_duration.is_some() {
            self.note(
                "litellm_settings.budget_duration",
                "budget_duration without max_budget: nothing to import",
            );
        }
    }

    // --- routing -------------------------------------------------------------------------------

    fn routing(&self) -> Routing {
        match &self.routing_strategy {
            None => Routing::Shuffle,
            Some((Some(name), _)) => match name.as_str() {
                "simple-shuffle" => Routing::Shuffle,
                "least-busy" => Routing::Strategy("least_inflight"),
                "latency-based-routing" => Routing::Strategy("lowest_latency"),
                _ => Routing::Untranslated,
            },
            Some((None, _)) => Routing::Untranslated,
        }
    }

    /// The retries every alias gets: (attempts, backoff_ms), when either is set.
    fn retries(&self) -> (Option<u32>, Option<f64>) {
        let retries = self
            .router_num_retries
            .as_ref()
            .or(self.settings_num_retries.as_ref());
        (
            retries.map(|(n, _)| n.saturating_add(1)),
            self.retry_after.map(|s| s * 1000.0),
        )
    }

    /// Notes once every alias is in: how each load-balanced alias is balanced, and the router-wide
    /// strategy and retries that apply to every alias.
    fn routing_notes(&mut self) {
        let routing = self.routing();
        let litellm = match &self.routing_strategy {
            Some((Some(name), _)) => one_line(name),
            Some((None, _)) => "an unreadable routing_strategy".to_owned(),
            None => "simple-shuffle, LiteLLM's default".to_owned(),
        };
        let mut notes = Vec::new();
        for alias in self.aliases.iter().filter(|a| a.deployments > 1) {
            let path = format!("{}.model_name", alias.first_path);
            let head = format!(
                "alias `{}`: LiteLLM load-balanced its {} deployments ({litellm})",
                alias.name, alias.deployments
            );
            let message = match (alias.targets.len(), routing) {
                (0, _) => continue,
                (1, _) => format!("{head}; only one target is imported, so there is nothing to balance"),
                (_, Routing::Shuffle) => {
                    let mut message = format!("{head}; Switchboard's default strategy `weighted` spreads requests over the targets by smooth weighted round-robin: the same proportions as LiteLLM's random pick, but interleaved evenly");
                    let weighted = alias.targets.iter().any(|t| t.weight_given);
                    if !weighted && alias.targets.iter().any(|t| t.rate_given) {
                        message.push_str(". LiteLLM's pick followed the deployments' rpm/tpm when they had no weight, which the import does not carry over: set each target's `weight` by hand to keep those proportions");
                    }
                    message
                }
                (_, Routing::Strategy(strategy)) => {
                    format!("{head}; imported as `strategy = \"{strategy}\"`")
                }
                (_, Routing::Untranslated) => format!("{head}; Switchboard has no such strategy, so the alias keeps its default `weighted` strategy (smooth weighted round-robin by `weight`)"),
            };
            notes.push((path, message));
        }

        let balanced = self.aliases.iter().filter(|a| a.targets.len() > 1).count();
        if let Some((name, path)) = &self.routing_strategy {
            let shown = name
                .as_deref()
                .map(|n| format!(" `{}`", one_line(n)))
                .unwrap_or_default();
            let message = match routing {
                Routing::Shuffle => "routing_strategy `simple-shuffle` (LiteLLM's default: a random pick, by weight) matches Switchboard's default strategy `weighted`, so nothing is written; Switchboard spreads requests by smooth weighted round-robin rather than at random (the same proportions, interleaved evenly)".to_owned(),
                Routing::Strategy(strategy) if balanced == 0 => format!("routing_strategy{shown} would be `strategy = \"{strategy}\"`, but no alias has more than one target, so there is nothing to set"),
                Routing::Strategy(strategy) => format!("routing_strategy{shown} imported as `strategy = \"{strategy}\"` on {}", several_targets(balanced)),
                Routing::Untranslated => {
                    let why = match name.as_deref() {
                        Some("usage-based-routing" | "usage-based-routing-v2") => "Switchboard has no usage-based routing (by rpm/tpm)",
                        Some("cost-based-routing") => "Switchboard has no cost-based routing",
                        Some(_) => "Switchboard has no such strategy",
                        None => "expected a strategy name",
                    };
                    format!("routing_strategy{shown} not translated: {why}; Switchboard's default strategy `weighted` (smooth weighted round-robin by `weight`) stays on {}", several_targets(balanced))
                }
            };
            notes.push((path.clone(), message));
        }

        if let Some((n, path)) = &self.router_num_retries {
            notes.push((path.clone(), retries_message(*n)));
            if let Some((m, other)) = &self.settings_num_retries {
                notes.push((other.clone(), format!("num_retries = {m} not used: router_settings.num_retries ({n}) takes precedence, as in LiteLLM")));
            }
        } else if let Some((n, path)) = &self.settings_num_retries {
            notes.push((path.clone(), retries_message(*n)));
        }
        for (path, message) in notes {
            self.note(path, message);
        }
    }

    // --- output --------------------------------------------------------------------------------

    fn render(&self, options: &ImportOptions) -> String {
        let mut doc = DocumentMut::new();
        doc.insert("listen", value("127.0.0.1:4000"));

        let used: HashSet<usize> = self
            .aliases
            .iter()
            .flat_map(|a| a.targets.iter().map(|t| t.provider))
            .collect();
        let default_total = self.router_timeout.or(self.request_timeout);
        let mut breaker = InlineTable::new();
        if let Some(failures) = self.breaker_failures {
            breaker.insert("failures", i64::from(failures).into());
        }
        if let Some(cooldown) = self.breaker_cooldown {
            breaker.insert("cooldown_s", seconds_value(cooldown));
            if cooldown
                > switchboard_gateway::config::BreakerSettings::default()
                    .max_cooldown
                    .as_secs_f64()
            {
                breaker.insert("max_cooldown_s", seconds_value(cooldown));
            }
        }
        let routing = self.routing();
        let mut retries = InlineTable::new();
        let (attempts, backoff_ms) = self.retries();
        if let Some(attempts) = attempts {
            retries.insert("attempts", i64::from(attempts).into());
        }
        if let Some(backoff_ms) = backoff_ms {
            retries.insert("backoff_ms", seconds_value(backoff_ms));
        }

        let mut providers = Table::new();
        providers.set_implicit(true);
        for (index, provider) in self.providers.iter().enumerate() {
            if !provider.supported || !used.contains(&index) {
                continue;
            }
            let mut table = provider_table(provider);
            let mut timeouts = InlineTable::new();
            if let Some(total) = default_total {
                timeouts.insert("total_s", seconds_value(total));
            }
            if let Some(idle) = self.router_stream_timeout {
                timeouts.insert("idle_s", seconds_value(idle));
            }
            if !timeouts.is_empty() {
                table.insert("timeouts", value(timeouts));
            }
            if !breaker.is_empty() {
                table.insert("breaker", value(breaker.clone()));
            }
            let drop = provider
                .drop_params
                .as_ref()
                .or(self.drop_params.as_ref())
                .map(|(drop, _)| *drop);
            if let Some(drop) = drop {
                table.insert(
                    "unsupported_params",
                    value(if drop { "drop" } else { "refuse" }),
                );
            }
            if let Some(budget) = &provider.budget {
                table.insert("budget", value(budget.as_str()));
            }
            table.decor_mut().set_prefix("\n");
            providers.insert(&provider.name, Item::Table(table));
        }
        doc.insert("providers", Item::Table(providers));

        let mut aliases = Table::new();
        aliases.set_implicit(true);
        let mut imported = 0;
        for alias in self.aliases.iter().filter(|a| !a.targets.is_empty()) {
            imported += 1;
            let mut table = Table::new();
            if let Some(source) = &alias.copy_of {
                table.insert(
                    "description",
                    value(format!("LiteLLM model_group_alias for {source}")),
                );
            }
            table.insert("targets", value(self.targets_array(&alias.targets)));
            let balanced = alias.targets.len() > 1;
            if let (true, Routing::Strategy(strategy)) = (balanced, routing) {
                table.insert("strategy", value(strategy));
            }
            if !alias.fallbacks.is_empty() {
                let fallbacks: Array = alias.fallbacks.iter().map(String::as_str).collect();
                table.insert("fallbacks", value(fallbacks));
            }
            if let Some((above, to)) = &alias.long_context {
                let mut long = InlineTable::new();
                long.insert(
                    "above_tokens",
                    i64::try_from(*above).unwrap_or(i64::MAX).into(),
                );
                long.insert("alias", to.as_str().into());
                table.insert("long_context", value(long));
            }
            if !retries.is_empty() {
                table.insert("retries", value(retries.clone()));
            }
            if let Some(budget) = &alias.budget {
                table.insert("budget", value(budget.as_str()));
            }
            let mut prefix = String::from("\n");
            if alias.deployments > 1 {
                let how = match (balanced, routing) {
                    (false, _) => "; one target is imported (see the report)",
                    (true, Routing::Strategy(_)) => {
                        "; Switchboard balances the targets by its strategy"
                    }
                    (true, _) => "; Switchboard balances the targets by weight",
                };
                prefix.push_str(&format!(
                    "# LiteLLM load-balanced {} deployments here{how}.\n",
                    alias.deployments
                ));
            }
            table.decor_mut().set_prefix(prefix);
            aliases.insert(&alias.name, Item::Table(table));
        }
        doc.insert("aliases", Item::Table(aliases));
        if let Some(admin) = &self.admin_token {
            let mut server = Table::new();
            server.insert("admin_token", value(admin.as_str()));
            server.decor_mut().set_prefix("\n");
            doc.insert("server", Item::Table(server));
        }
        if !self.tokens.is_empty() {
            let mut tokens = Table::new();
            tokens.set_implicit(true);
            for token in &self.tokens {
                let mut table = Table::new();
                table.insert("hash", value(format!("sha256:{}", token.hash)));
                table.insert("description", value(one_line(&token.description)));
                if let Some(tenant) = &token.tenant {
                    table.insert("tenant", value(tenant.as_str()));
                }
                if let Some(list) = &token.aliases {
                    let list: Array = list.iter().map(String::as_str).collect();
                    table.insert("aliases", value(list));
                }
                if !token.limits.is_empty() {
                    table.insert("limits", value(token.limits.table()));
                }
                if let Some(budget) = &token.budget {
                    table.insert("budget", value(budget.as_str()));
                }
                table.decor_mut().set_prefix("\n");
                tokens.insert(&token.name, Item::Table(table));
            }
            doc.insert("tokens", Item::Table(tokens));
        }
        if !self.budgets.is_empty() {
            let mut budgets = Table::new();
            budgets.set_implicit(true);
            for budget in &self.budgets {
                let mut table = Table::new();
                table.insert("usd", value(seconds_value(budget.usd)));
                table.insert("period", value(budget.period));
                table.insert("description", value(one_line(&budget.description)));
                table.decor_mut().set_prefix("\n");
                budgets.insert(&budget.name, Item::Table(table));
            }
            doc.insert("budgets", Item::Table(budgets));
        }

        // Custom per-token prices become `[prices]` (USD per million tokens).
        let mut prices = Table::new();
        prices.set_implicit(true);
        for target in self.aliases.iter().flat_map(|a| a.targets.iter()) {
            let label = format!("{}/{}", self.providers[target.provider].name, target.model);
            if let (Some(price), false) = (target.costs.per_million(), prices.contains_key(&label))
            {
                let mut table = Table::new();
                for (k, v) in price.iter() {
                    table.insert(k, value(v.clone()));
                }
                table.decor_mut().set_prefix("\n");
                prices.insert(&label, Item::Table(table));
            }
        }
        if !prices.is_empty() {
            doc.insert("prices", Item::Table(prices));
        }

        let provider_count = used.len();
        let source = options
            .source
            .as_deref()
            .map(|s| format!(" `{}`", one_line(s)))
            .unwrap_or_default();
        let date = options
            .date
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
        let mut out = format!(
            "# Imported from LiteLLM config{source} on {date}; see the report.\n\
             # {imported} aliases over {provider_count} providers; {} report notes on what did not translate\n\
             # one to one (printed by `switchboard import litellm`). Check with `switchboard check`.\n\n",
            self.notes.len()
        );
        out.push_str(&doc.to_string());
        out.push_str(&self.untranslated_block());
        out
    }

    fn targets_array(&self, targets: &[Target]) -> Array {
        let mut array = Array::new();
        for target in targets {
            let label = format!("{}/{}", self.providers[target.provider].name, target.model);
            let mut timeouts = InlineTable::new();
            if let Some(total) = target.total_s {
                timeouts.insert("total_s", seconds_value(total));
            }
            if let Some(idle) = target.idle_s {
                timeouts.insert("idle_s", seconds_value(idle));
            }
            let mut table = InlineTable::new();
            table.insert("model", label.as_str().into());
            if let Some(weight) = target.weight_out {
                table.insert("weight", i64::from(weight).into());
            }
            if let Some(tokens) = target.max_input_tokens {
                table.insert(
                    "max_input_tokens",
                    i64::try_from(tokens).unwrap_or(i64::MAX).into(),
                );
            }
            if !timeouts.is_empty() {
                table.insert("timeouts", timeouts.into());
            }
            if !target.limits.is_empty() {
                table.insert("limits", target.limits.table().into());
            }
            if let Some(max_tokens) = target.max_tokens {
                table.insert(
                    "max_tokens",
                    i64::try_from(max_tokens).unwrap_or(i64::MAX).into(),
                );
            }
            if table.len() == 1 {
                array.push(label);
            } else {
                array.push(table);
            }
        }
        if targets.len() > 1 {
            for item in array.iter_mut() {
                item.decor_mut().set_prefix("\n    ");
            }
            array.set_trailing_comma(true);
            array.set_trailing("\n");
        }
        array
    }

    /// What Switchboard cannot use yet, commented out: unsupported providers and the aliases
    /// (or parts of aliases) that use them.
    fn untranslated_block(&self) -> String {
        let mut blocks: Vec<String> = Vec::new();
        for provider in self.providers.iter().filter(|p| !p.supported) {
            let mut doc = DocumentMut::new();
            let mut providers = Table::new();
            providers.set_implicit(true);
            providers.insert(&provider.name, Item::Table(provider_table(provider)));
            doc.insert("providers", Item::Table(providers));
            blocks.push(format!(
                "# {}:\n{}",
                one_line(&unsupported_reason(&provider.key.kind)),
                comment_out(&doc.to_string())
            ));
        }
        for alias in self.aliases.iter().filter(|a| !a.untranslated.is_empty()) {
            let array = self.targets_array(&alias.untranslated);
            if alias.targets.is_empty() {
                let mut doc = DocumentMut::new();
                let mut aliases = Table::new();
                aliases.set_implicit(true);
                let mut table = Table::new();
                table.insert("targets", value(array));
                aliases.insert(&alias.name, Item::Table(table));
                doc.insert("aliases", Item::Table(aliases));
                blocks.push(comment_out(&doc.to_string()));
            } else {
                let mut doc = DocumentMut::new();
                doc.insert("targets", value(array));
                let key = toml_edit::Key::new(alias.name.as_str())
                    .display_repr()
                    .to_string();
                blocks.push(format!(
                    "# Alias {key} (imported above) also had these targets:\n{}",
                    comment_out(&doc.to_string())
                ));
            }
        }
        if blocks.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "\n# ---------------------------------------------------------------------------------------------\n\
             # NOT TRANSLATED: Switchboard cannot use these yet. They are kept here, commented out, for\n\
             # reference; see the import report.\n",
        );
        for block in blocks {
            out.push_str("#\n");
            out.push_str(&block);
        }
        out
    }
}

/// LiteLLM's `budget_duration` (`30d`, `1mo`, `24h`, ...) as a Switchboard budget period, and
/// whether it is the same length.
fn budget_period(duration: &str) -> Option<(&'static str, bool)> {
    let text: String = duration
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 7 * 86_400,
        "mo" => return (n == 1).then_some(("month", true)),
        _ => return None,
    };
    match seconds {
        86_400 => Some(("day", true)),
        604_800 => Some(("week", true)),
        s if (28 * 86_400..=31 * 86_400).contains(&s) => Some(("month", false)),
        _ => None,
    }
}

fn several_targets(aliases: usize) -> String {
    match aliases {
        1 => "the 1 alias with more than one target".to_owned(),
        n => format!("the {n} aliases with more than one target"),
    }
}

fn retries_message(n: u32) -> String {
    let retries = if n == 1 { "retry" } else { "retries" };
    format!("num_retries = {n} imported as every alias's `retries.attempts = {}` (the first try and {n} {retries}); Switchboard retries on another healthy target of the alias when there is one, then moves on to the fallbacks", n.saturating_add(1))
}

/// The largest LiteLLM `weight` imported; scaled by up to 1000, it still fits Switchboard's.
const MAX_WEIGHT: f64 = 1_000_000.0;

/// Turns LiteLLM's weights (any numbers from 0) into Switchboard's (whole numbers from 1) in the
/// same proportions and sets each target's `weight_out`. Says what the user should know, if
/// anything.
fn set_weights(targets: &mut [Target]) -> Option<String> {
    let given = targets.iter().filter(|t| t.weight_given).count();
    if targets.len() < 2 {
        return None;
    }
    let mut notes = Vec::new();
    if given > 0 && given < targets.len() {
        notes.push("targets without a `weight` get weight 1 (LiteLLM's simple-shuffle gave deployments without one no traffic when the first deployment had one)".to_owned());
    }
    let weights: Vec<f64> = targets.iter().map(|t| t.weight).collect();
    let whole = |w: f64, scale: f64| ((w * scale) - (w * scale).round()).abs() < 1.0e-6;
    let out: Vec<u64> = if weights.iter().all(|&w| w >= 1.0 && whole(w, 1.0)) {
        weights.iter().map(|&w| w as u64).collect()
    } else {
        let exact = [1.0, 10.0, 100.0, 1000.0]
            .into_iter()
            .find(|&scale| weights.iter().all(|&w| whole(w, scale)));
        let scale = exact.unwrap_or(1000.0);
        let scaled: Vec<u64> = weights
            .iter()
            .map(|&w| ((w * scale).round() as u64).max(1))
            .collect();
        let divisor = scaled.iter().copied().fold(0, gcd).max(1);
        let scaled: Vec<u64> = scaled.iter().map(|w| w / divisor).collect();
        let shown = |list: &[f64]| {
            list.iter()
                .map(|&w| show_number(w))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ints: Vec<String> = scaled.iter().map(u64::to_string).collect();
        let how = if weights.contains(&0.0) {
            "a weight of 0 becomes 1, the lowest"
        } else if exact.is_none() {
            "rounded; the proportions are kept to about 0.1%"
        } else {
            "the same proportions"
        };
        notes.push(format!(
            "LiteLLM's weights {} are written as whole numbers: {} ({how})",
            shown(&weights),
            ints.join(", ")
        ));
        scaled
    };
    for (target, weight) in targets.iter_mut().zip(out) {
        let weight = u32::try_from(weight).unwrap_or(u32::MAX);
        target.weight_out = (weight != 1).then_some(weight);
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

const CONTENT_POLICY: &str = "content_policy_fallbacks not imported: Switchboard falls back only on transient errors (connect, timeout, 5xx, 429), never on a content-policy refusal";

fn provider_table(provider: &Provider) -> Table {
    let mut table = Table::new();
    table.insert("kind", value(provider.key.kind.as_str()));
    let kind_default = switchboard_gateway::config::ProviderKind::parse(&provider.key.kind)
        .and_then(switchboard_gateway::config::ProviderKind::default_base_url);
    if let Some(base) = &provider.key.base_url {
        if kind_default != Some(base.as_str()) {
            table.insert("base_url", value(base.as_str()));
        }
    }
    match (&provider.key.key, &provider.literal_env) {
        (KeyRef::Env(var), _) | (KeyRef::Literal(_), Some(var)) => {
            table.insert("api_key", value(format!("env:{var}")));
        }
        _ => {}
    }
    table
}

fn comment_out(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A readable provider name: the service's own name for its default URL or a local server on
/// loopback, else the host (without `api.`/`www.` and the top-level domain) and explicit port.
fn provider_name_hint(compatible: &Compatible, base: &str, at_default: bool) -> String {
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
fn sanitize_name(text: &str) -> String {
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
fn clean_url(text: &str) -> Option<(String, bool)> {
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

/// Alias names cannot contain whitespace; LiteLLM model names may.
fn normalize_alias_name(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join("-")
}

fn param_message(key: &str, v: &Value) -> String {
    let shown = shown(v);
    match key {
        "rpm" | "tpm" | "max_parallel_requests" => format!("{key}{shown} not imported: LiteLLM reads a deployment's {key} only under litellm_params (set it there, or as the target's `limits` by hand)"),
        "max_tokens" => format!("max_tokens{shown} not imported: Switchboard sets a default max_tokens per target only for `anthropic` targets (which require one); other backends get the client's"),
        "max_completion_tokens" | "temperature" | "top_p" | "top_k" | "stop"
        | "seed" | "frequency_penalty" | "presence_penalty" | "n" | "response_format"
        | "reasoning_effort" | "extra_body" | "num_ctx" | "keep_alive" => format!(
            "{key}{shown} not imported: Switchboard sends the client's request parameters and has no per-target defaults for them"
        ),
        "weight" => format!("weight{shown} not imported: LiteLLM reads a deployment's weight only under litellm_params"),
        "extra_headers" | "headers" => format!("{key} not imported: add non-secret headers to the provider's `headers` table by hand"),
        "organization" => "organization not imported: add it by hand as an `OpenAI-Organization` entry in the provider's `headers`".to_owned(),
        "tags" => "tags not imported: Switchboard has no tag-based routing".to_owned(),
        k if k.contains("cost_per") => format!("{key}{shown} not imported: Switchboard prices input, output, cache reads and cache writes per token (input_cost_per_token, output_cost_per_token, cache_read_input_token_cost, cache_creation_input_token_cost)"),
        k if k.starts_with("aws_")
            || k.starts_with("vertex_")
            || k.starts_with("azure_")
            || k == "api_version"
            || k == "region_name" =>
        {
            format!("provider-specific setting `{key}` not imported")
        }
        _ => format!("`{key}` not imported: Switchboard has no equivalent yet"),
    }
}

/// ` = VALUE` for numbers and booleans, which cannot be secrets; nothing for anything else.
fn shown(v: &Value) -> String {
    match v {
        Value::Number(n) => format!(" = {n}"),
        Value::Bool(b) => format!(" = {b}"),
        _ => String::new(),
    }
}

fn show_number(s: f64) -> String {
    match seconds_value(s) {
        toml_edit::Value::Integer(i) => i.value().to_string(),
        other => other.to_string().trim().to_owned(),
    }
}

fn seconds_value(s: f64) -> toml_edit::Value {
    if s.fract() == 0.0 && s.abs() < 1.0e15 {
        toml_edit::Value::from(s as i64)
    } else {
        toml_edit::Value::from(s)
    }
}

fn key_text(key: &Value) -> String {
    scalar_text(key).unwrap_or_else(|| format!("<{} key>", type_name(key)))
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Control characters (newlines included) become spaces, so a note or comment stays one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_readable() {
        let openai = &COMPATIBLE[0];
        let vllm = COMPATIBLE.iter().find(|c| c.prefix == "hosted_vllm");
        assert_eq!(
            provider_name_hint(openai, "http://armitage:8000/v1", false),
            "armitage-8000"
        );
        assert_eq!(
            provider_name_hint(openai, "https://api.together.xyz/v1", false),
            "together"
        );
        assert_eq!(
            provider_name_hint(openai, "http://192.168.1.20:8080/v1", false),
            "192-168-1-20-8080"
        );
        assert_eq!(
            provider_name_hint(openai, "http://localhost:8000/v1", false),
            "localhost-8000"
        );
        if let Some(vllm) = vllm {
            assert_eq!(
                provider_name_hint(vllm, "http://127.0.0.1:8000/v1", false),
                "vllm"
            );
        }
        assert_eq!(sanitize_name("a/b c"), "a-b-c");
        assert_eq!(sanitize_name("///"), "provider");
    }

    #[test]
    fn urls_lose_credentials_and_queries() {
        assert_eq!(
            clean_url("http://user:pw@host:8000/v1/?key=1"),
            Some(("http://host:8000/v1".to_owned(), true))
        );
        assert_eq!(
            clean_url("http://host:8000/v1/"),
            Some(("http://host:8000/v1".to_owned(), false))
        );
        assert_eq!(clean_url("ftp://host"), None);
        assert_eq!(clean_url("not a url"), None);
    }

    #[test]
    fn yaml_errors_carry_a_position() {
        let err = import_litellm("model_list:\n  - model_name: [unclosed\n").err();
        match err {
            Some(ImportError::Yaml {
                line: Some(line), ..
            }) => assert!(line >= 2, "line {line}"),
            other => panic!("expected a YAML error with a line, got {other:?}"),
        }
    }
}
