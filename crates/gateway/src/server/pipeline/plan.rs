//! Step 2, `plan`: a pure function from the snapshot and the admitted request to what each
//! target of the alias (and its fallbacks) would do with it: be tried (passthrough or
//! translated, which parameters to drop) or be skipped, and why. Decisions that change while
//! the request runs (breakers, budgets, rate limits, the strategy's order) are the attempt's.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{AliasConfig, Config, ParamPolicy, TargetConfig};
use crate::provider::{Dialect, Endpoint, Provider};
use crate::server::dialect;

/// What the plan needs to know about the request.
pub(super) struct PlanRequest<'a> {
    pub(super) endpoint: Endpoint,
    /// The chat-shaped body (with the client's model name).
    pub(super) body: &'a Map<String, Value>,
    /// Estimated input tokens.
    pub(super) estimate: u64,
    /// The client's dialect, and what its translation to chat lost or could not do.
    pub(super) dialect: Dialect,
    pub(super) dropped: &'a [String],
    pub(super) untranslatable: Option<&'a str>,
    /// The gateway can answer by itself where the dialect is not spoken (`count_tokens`).
    pub(super) answers_locally: bool,
}

/// One alias of the chain and what each of its targets (by index) would do.
pub(super) struct Candidate<'a> {
    pub(super) alias: &'a AliasConfig,
    pub(super) targets: Vec<TargetPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TargetPlan {
    /// The input is larger than the target's context window.
    TooSmall {
        window: u64,
    },
    /// No adapter for the target's provider (a config the validator would not pass).
    NoProvider,
    /// The backend does not speak the dialect and the gateway answers itself.
    AnswerLocally,
    /// The backend does not speak the dialect and the request cannot be translated.
    Untranslatable(String),
    /// The backend cannot take these parameters and its provider refuses instead of dropping.
    Refuse(Vec<String>),
    Try(Ready),
}

/// A target that can be tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ready {
    /// The client's request goes untouched (else: translated to chat and back).
    pub(super) passthrough: bool,
    /// Parameters to remove from the chat body (`unsupported_params = "drop"`).
    pub(super) remove: Vec<String>,
    /// Everything left out, for the dropped-parameters header.
    pub(super) dropped: Vec<String>,
}

/// The plan for every alias of `chain`, in order.
pub(super) fn plan<'a>(
    config: &Config,
    providers: &BTreeMap<String, Arc<dyn Provider>>,
    request: &PlanRequest<'_>,
    chain: impl IntoIterator<Item = &'a AliasConfig>,
) -> Vec<Candidate<'a>> {
    chain
        .into_iter()
        .map(|alias| Candidate {
            alias,
            targets: alias
                .targets
                .iter()
                .map(|target| plan_target(config, providers, request, target))
                .collect(),
        })
        .collect()
}

/// What one target would do with the request, in the order the checks apply.
pub(super) fn plan_target(
    config: &Config,
    providers: &BTreeMap<String, Arc<dyn Provider>>,
    request: &PlanRequest<'_>,
    target: &TargetConfig,
) -> TargetPlan {
    let provider = providers.get(&target.provider);
    // The config's window, else the one the backend reports (Copilot's `/models`).
    let window = target
        .max_input_tokens
        .or_else(|| provider.and_then(|p| p.max_input_tokens(&target.model)));
    if let Some(window) = window.filter(|w| request.estimate > *w) {
        return TargetPlan::TooSmall { window };
    }
    let Some(provider) = provider else {
        return TargetPlan::NoProvider;
    };
    if dialect::passthrough(provider.as_ref(), request.dialect) {
        return TargetPlan::Try(Ready {
            passthrough: true,
            remove: Vec::new(),
            dropped: Vec::new(),
        });
    }
    if request.answers_locally {
        return TargetPlan::AnswerLocally;
    }
    if let Some(reason) = request.untranslatable {
        return TargetPlan::Untranslatable(reason.to_owned());
    }
    if let Err(e) = crate::translate::shape::check_chat_for(
        provider.family(),
        request.endpoint == Endpoint::ChatCompletions,
        false,
        request.body,
    ) {
        return TargetPlan::Untranslatable(format!(
            "the request cannot be translated for backend `{}` ({}): {e}",
            target.label(),
            provider.family()
        ));
    }
    let mut dropped = request.dropped.to_vec();
    let remove = provider.unsupported_params(request.endpoint, request.body);
    if !remove.is_empty() {
        let policy = config
            .providers
            .get(&target.provider)
            .map(|p| p.unsupported_params)
            .unwrap_or_default();
        if policy == ParamPolicy::Refuse {
            return TargetPlan::Refuse(remove);
        }
        dropped.extend(remove.iter().cloned());
    }
    TargetPlan::Try(Ready {
        passthrough: false,
        remove,
        dropped,
    })
}
