//! `[budgets]`, `[spend]` and the prices (built-in, `[spend] prices_file`, `[prices]`), and the
//! `budget = "..."` references to them.

use std::collections::BTreeMap;

use super::super::diagnostics::{closest, Diagnostic, Locator, Seg};
use super::super::raw::{RawConfig, RawSpend, RawWhenSpent};
use super::super::{
    AliasConfig, BudgetConfig, Period, Price, ProviderConfig, ProviderKind, SpendSettings,
    WhenSpent,
};
use crate::secret::expand_home;

pub(super) fn build_budgets(
    raw: &RawConfig,
    aliases: &BTreeMap<String, AliasConfig>,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> BTreeMap<String, BudgetConfig> {
    let mut budgets = BTreeMap::new();
    for (name, budget) in &raw.budgets {
        let at = |key: &'static str| [Seg::Key("budgets"), Seg::Key(name), Seg::Key(key)];
        if !(budget.usd.is_finite() && budget.usd > 0.0) {
            errors.push(loc.at(
                &at("usd"),
                format!("`usd` must be a positive amount, not {}", budget.usd),
            ));
        }
        let period = Period::parse(&budget.period).unwrap_or_else(|| {
            let mut message = format!("unknown budget period `{}`", budget.period);
            match closest(&budget.period, Period::NAMES) {
                Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
                None => message.push_str("; expected one of: day, week, month"),
            }
            errors.push(loc.at(&at("period"), message));
            Period::Month
        });
        let when_spent = match &budget.when_spent {
            None => WhenSpent::Refuse,
            Some(RawWhenSpent::Action(action)) if action == "refuse" => WhenSpent::Refuse,
            Some(RawWhenSpent::Action(action)) => {
                errors.push(loc.at(
                    &at("when_spent"),
                    format!("`when_spent` must be \"refuse\" or {{ reroute = \"alias\" }}, not {action:?}"),
                ));
                WhenSpent::Refuse
            }
            Some(RawWhenSpent::Reroute { reroute }) => {
                if !aliases.contains_key(reroute) {
                    let mut message = format!(
                        "budget `{name}` reroutes to alias `{reroute}`, which is not defined"
                    );
                    if let Some(s) = closest(reroute, aliases.keys().map(String::as_str)) {
                        message.push_str(&format!("; did you mean `{s}`?"));
                    }
                    errors.push(loc.at(&at("when_spent"), message));
                }
                WhenSpent::Reroute(reroute.clone())
            }
        };
        // An untagged table accepts any keys; name the stray ones like everywhere else.
        if let Some(table) = loc
            .document()
            .and_then(|d| d.get("budgets"))
            .and_then(|b| b.get(name))
            .and_then(|b| b.get("when_spent"))
            .and_then(toml_edit::Item::as_table_like)
        {
            for (key, _) in table.iter().filter(|(k, _)| *k != "reroute") {
                errors.push(loc.at(
                    &at("when_spent"),
                    format!("unknown key `{key}` in `when_spent`; expected `reroute`"),
                ));
            }
        }
        let alert_at = match budget.alert_at {
            None => 0.8,
            Some(v) if v.is_finite() && v > 0.0 && v <= 1.0 => v,
            Some(v) => {
                errors.push(loc.at(
                    &at("alert_at"),
                    format!(
                        "`alert_at` is a fraction of `usd` between 0 and 1 (e.g. 0.8), not {v}"
                    ),
                ));
                0.8
            }
        };
        budgets.insert(
            name.clone(),
            BudgetConfig {
                name: name.clone(),
                usd: budget.usd,
                period,
                when_spent,
                alert_at,
                description: budget.description.clone(),
            },
        );
    }
    budgets
}

/// Every `budget = "..."` names a defined budget.
pub(super) fn check_budget_references(
    raw: &RawConfig,
    budgets: &BTreeMap<String, BudgetConfig>,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) {
    let referrers = raw
        .providers
        .iter()
        .map(|(n, p)| ("providers", n, &p.budget))
        .chain(raw.aliases.iter().map(|(n, a)| ("aliases", n, &a.budget)))
        .chain(raw.tokens.iter().map(|(n, t)| ("tokens", n, &t.budget)))
        .chain(raw.tenants.iter().map(|(n, t)| ("tenants", n, &t.budget)));
    for (section, name, budget) in referrers {
        let Some(budget) = budget else { continue };
        if budgets.contains_key(budget) {
            continue;
        }
        let mut message =
            format!("budget `{budget}` is not defined; add a [budgets.{budget}] table");
        if let Some(s) = closest(budget, budgets.keys().map(String::as_str)) {
            message = format!("budget `{budget}` is not defined; did you mean `{s}`?");
        }
        errors.push(loc.at(
            &[Seg::Key(section), Seg::Key(name), Seg::Key("budget")],
            message,
        ));
    }
}

pub(super) fn build_spend(
    raw: &RawSpend,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> SpendSettings {
    match raw.timezone.as_deref() {
        None | Some("local") => SpendSettings::default(),
        Some(name) => match jiff::tz::TimeZone::get(name) {
            Ok(timezone) => SpendSettings {
                timezone,
                timezone_name: name.to_owned(),
                price_file: None,
            },
            Err(_) => {
                errors.push(loc.at(
                    &[Seg::Key("spend"), Seg::Key("timezone")],
                    format!("unknown time zone {name:?}; use an IANA name like \"Europe/Berlin\" or \"America/New_York\", \"UTC\", or \"local\""),
                ));
                SpendSettings::default()
            }
        },
    }
}

/// Reads the price file `[spend] prices_file` names (written by `switchboard prices import`).
/// It is read again on every reload, so a new import applies without a restart.
pub(super) fn load_price_file(
    raw: &RawSpend,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> Option<std::sync::Arc<crate::config::prices::PriceFile>> {
    let written = raw.prices_file.as_deref()?;
    let at = [Seg::Key("spend"), Seg::Key("prices_file")];
    if !(written.starts_with("~/") || std::path::Path::new(written).is_absolute()) {
        errors.push(loc.at(
            &at,
            format!("`prices_file` must be an absolute path or start with `~/`, not {written:?}"),
        ));
        return None;
    }
    let path = expand_home(written);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            errors.push(loc.at(
                &at,
                format!("cannot read the price file {}: {e} (write it with `switchboard prices import`)", path.display()),
            ));
            return None;
        }
    };
    match crate::config::prices::Table::parse(&text) {
        Ok(table) => Some(std::sync::Arc::new(crate::config::prices::PriceFile {
            path: path.display().to_string(),
            table,
            revision: super::super::file::revision_of(&text),
        })),
        Err(e) => {
            errors.push(loc.at(&at, format!("price file {}:{e}", path.display())));
            None
        }
    }
}

pub(super) fn build_prices(
    raw: &RawConfig,
    providers: &BTreeMap<String, ProviderConfig>,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Price> {
    let mut prices = BTreeMap::new();
    for (key, price) in &raw.prices {
        let path = [Seg::Key("prices"), Seg::Key(key)];
        let mut kind = ProviderKind::OpenAi;
        match key.split_once('/') {
            Some((provider, model)) if !model.is_empty() && providers.contains_key(provider) => {
                kind = providers[provider].kind();
            }
            Some((provider, model)) if !model.is_empty() => {
                let mut message =
                    format!("prices for `{key}`: provider `{provider}` is not defined");
                if let Some(s) = closest(provider, providers.keys().map(String::as_str)) {
                    message.push_str(&format!("; did you mean `{s}`?"));
                }
                errors.push(loc.at_key(&path, message));
            }
            _ => errors.push(loc.at_key(
                &path,
                format!("prices are keyed by target, like [prices.\"openai/gpt-4o\"], not `{key}`"),
            )),
        }
        let rates = [
            ("input", Some(price.input)),
            ("output", Some(price.output)),
            ("cache_read", price.cache_read),
            ("cache_write", price.cache_write),
            ("cache_write_1h", price.cache_write_1h),
        ];
        for (field, value) in rates {
            let Some(value) = value else { continue };
            if !(value.is_finite() && value >= 0.0) {
                errors.push(loc.at(
                    &[path[0], path[1], Seg::Key(field)],
                    format!(
                        "`{field}` is USD per million tokens, a number of 0 or more, not {value}"
                    ),
                ));
            }
        }
        prices.insert(
            key.clone(),
            crate::config::prices::with_defaults(
                kind,
                price.input,
                price.output,
                price.cache_read,
                price.cache_write,
                price.cache_write_1h,
            ),
        );
    }
    prices
}
