//! Phase two of config loading: every check, all errors collected, each with a position.

use crate::config::Limits;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use serde_aux::serde_introspection::serde_introspect;
use toml_edit::{Item, Value};

use super::diagnostics::{closest, Diagnostic, Locator, Seg};
use super::raw::{
    RawAlias, RawBreaker, RawBudget, RawConfig, RawDatabase, RawLimits, RawLongContext, RawPrice,
    RawProvider, RawRetries, RawServer, RawSpend, RawTarget, RawTargetTable, RawTenant,
    RawTimeouts, RawToken, RawWhenSpent,
};
use super::{
    AliasConfig, BreakerSettings, BudgetConfig, ClientToken, Config, LogRetention, LongContext,
    ParamPolicy, Period, Price, ProviderConfig, ProviderKind, Retries, ServerSettings,
    SlowFirstToken, SpendSettings, Strategy, TargetConfig, TenantConfig, Timeouts, WhenSpent,
};
use crate::secret::{expand_home, SecretRef};

pub(super) fn parse(text: &str) -> Result<Config, Vec<Diagnostic>> {
    let locator = Locator::new(text);
    let mut errors = Vec::new();

    // Unknown keys first, all of them, each with a suggestion; serde alone stops at the first.
    let unknown = match locator.document() {
        Some(doc) => check_unknown_keys(&locator, doc.as_item(), &mut errors),
        None => Vec::new(),
    };

    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        // Reported above; check the rest of the file as if those keys were not there, so every
        // other error shows up in the same run.
        Err(e) if !unknown.is_empty() && e.message().contains("unknown field") => {
            match without_keys(text, &unknown) {
                Some(raw) => raw,
                None => return Err(errors),
            }
        }
        Err(e) => {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            errors.push(locator.diagnostic_at(offset, first_line(e.message())));
            return Err(errors);
        }
    };

    let config = build(&raw, &locator, &mut errors);
    if errors.is_empty() {
        Ok(config)
    } else {
        errors.sort_by_key(|d| (d.line, d.col));
        Err(errors)
    }
}

/// A step of a path to an unknown key, owned so it outlives the document walk.
#[derive(Debug, Clone)]
enum PathPart {
    Key(String),
    Index(usize),
}

/// The raw config with the given keys removed, if it then deserializes.
fn without_keys(text: &str, paths: &[Vec<PathPart>]) -> Option<RawConfig> {
    let mut root = toml::Value::Table(toml::from_str::<toml::Table>(text).ok()?);
    for path in paths {
        let Some((PathPart::Key(last), parents)) = path.split_last() else {
            continue;
        };
        let mut node = &mut root;
        for part in parents {
            node = match (part, node) {
                (PathPart::Key(k), toml::Value::Table(t)) => t.get_mut(k)?,
                (PathPart::Index(i), toml::Value::Array(a)) => a.get_mut(*i)?,
                _ => return None,
            };
        }
        if let toml::Value::Table(t) = node {
            t.remove(last);
        }
    }
    RawConfig::deserialize(root).ok()
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_owned()
}

/// Reports every unknown key and returns their paths.
fn check_unknown_keys(
    locator: &Locator,
    root: &Item,
    errors: &mut Vec<Diagnostic>,
) -> Vec<Vec<PathPart>> {
    let mut found: Vec<Vec<PathPart>> = Vec::new();
    let mut check = |item: Option<&Item>, known: &[&str], path: &[Seg], section: &str| {
        let Some(table) = item.and_then(Item::as_table_like) else {
            return;
        };
        for (key, _) in table.iter() {
            if known.contains(&key) {
                continue;
            }
            let mut message = format!("unknown key `{key}` in {section}");
            if let Some(suggestion) = closest(key, known.iter().copied()) {
                message.push_str(&format!("; did you mean `{suggestion}`?"));
            } else {
                message.push_str(&format!("; expected one of: {}", known.join(", ")));
            }
            let mut full: Vec<Seg> = path.to_vec();
            full.push(Seg::Key(key));
            errors.push(locator.at_key(&full, message));
            found.push(
                full.iter()
                    .map(|seg| match seg {
                        Seg::Key(k) => PathPart::Key((*k).to_owned()),
                        Seg::Index(i) => PathPart::Index(*i),
                    })
                    .collect(),
            );
        }
    };

    check(
        Some(root),
        serde_introspect::<RawConfig>(),
        &[],
        "the top level",
    );
    check(
        root.get("server"),
        serde_introspect::<RawServer>(),
        &[Seg::Key("server")],
        "[server]",
    );
    check(
        root.get("database"),
        serde_introspect::<RawDatabase>(),
        &[Seg::Key("database")],
        "[database]",
    );

    check(
        root.get("spend"),
        serde_introspect::<RawSpend>(),
        &[Seg::Key("spend")],
        "[spend]",
    );
    if let Some(budgets) = root.get("budgets").and_then(Item::as_table_like) {
        for (name, budget) in budgets.iter() {
            let section = format!("[budgets.{name}]");
            check(
                Some(budget),
                serde_introspect::<RawBudget>(),
                &[Seg::Key("budgets"), Seg::Key(name)],
                &section,
            );
        }
    }
    if let Some(prices) = root.get("prices").and_then(Item::as_table_like) {
        for (key, price) in prices.iter() {
            let section = format!("[prices.\"{key}\"]");
            check(
                Some(price),
                serde_introspect::<RawPrice>(),
                &[Seg::Key("prices"), Seg::Key(key)],
                &section,
            );
        }
    }

    if let Some(providers) = root.get("providers").and_then(Item::as_table_like) {
        for (name, provider) in providers.iter() {
            let path = [Seg::Key("providers"), Seg::Key(name)];
            let section = format!("[providers.{name}]");
            check(
                Some(provider),
                serde_introspect::<RawProvider>(),
                &path,
                &section,
            );
            let timeouts_path = [path[0], path[1], Seg::Key("timeouts")];
            check(
                provider.get("timeouts"),
                serde_introspect::<RawTimeouts>(),
                &timeouts_path,
                &section,
            );
            let breaker_path = [path[0], path[1], Seg::Key("breaker")];
            check(
                provider.get("breaker"),
                serde_introspect::<RawBreaker>(),
                &breaker_path,
                &section,
            );
        }
    }

    if let Some(tokens) = root.get("tokens").and_then(Item::as_table_like) {
        for (name, token) in tokens.iter() {
            let path = [Seg::Key("tokens"), Seg::Key(name)];
            let section = format!("[tokens.{name}]");
            check(Some(token), serde_introspect::<RawToken>(), &path, &section);
            let limits_path = [path[0], path[1], Seg::Key("limits")];
            check(
                token.get("limits"),
                serde_introspect::<RawLimits>(),
                &limits_path,
                &section,
            );
        }
    }

    if let Some(tenants) = root.get("tenants").and_then(Item::as_table_like) {
        for (name, tenant) in tenants.iter() {
            let path = [Seg::Key("tenants"), Seg::Key(name)];
            let section = format!("[tenants.{name}]");
            check(
                Some(tenant),
                serde_introspect::<RawTenant>(),
                &path,
                &section,
            );
            let limits_path = [path[0], path[1], Seg::Key("limits")];
            check(
                tenant.get("limits"),
                serde_introspect::<RawLimits>(),
                &limits_path,
                &section,
            );
        }
    }

    if let Some(aliases) = root.get("aliases").and_then(Item::as_table_like) {
        for (name, alias) in aliases.iter() {
            let path = [Seg::Key("aliases"), Seg::Key(name)];
            let section = format!("[aliases.\"{name}\"]");
            check(Some(alias), serde_introspect::<RawAlias>(), &path, &section);
            let retries_path = [path[0], path[1], Seg::Key("retries")];
            check(
                alias.get("retries"),
                serde_introspect::<RawRetries>(),
                &retries_path,
                &section,
            );
            let limits_path = [path[0], path[1], Seg::Key("limits")];
            check(
                alias.get("limits"),
                serde_introspect::<RawLimits>(),
                &limits_path,
                &section,
            );
            let long_path = [path[0], path[1], Seg::Key("long_context")];
            check(
                alias.get("long_context"),
                serde_introspect::<RawLongContext>(),
                &long_path,
                &section,
            );
            let Some(Value::Array(targets)) = alias.get("targets").and_then(Item::as_value) else {
                continue;
            };
            for (i, target) in targets.iter().enumerate() {
                let Value::InlineTable(table) = target else {
                    continue;
                };
                let item = Item::Value(Value::InlineTable(table.clone()));
                let target_path = [path[0], path[1], Seg::Key("targets"), Seg::Index(i)];
                let target_section = format!("target {} of {section}", i + 1);
                check(
                    Some(&item),
                    serde_introspect::<RawTargetTable>(),
                    &target_path,
                    &target_section,
                );
                let timeouts_path = [
                    path[0],
                    path[1],
                    Seg::Key("targets"),
                    Seg::Index(i),
                    Seg::Key("timeouts"),
                ];
                check(
                    item.get("timeouts"),
                    serde_introspect::<RawTimeouts>(),
                    &timeouts_path,
                    &target_section,
                );
                let limits_path = [
                    path[0],
                    path[1],
                    Seg::Key("targets"),
                    Seg::Index(i),
                    Seg::Key("limits"),
                ];
                check(
                    item.get("limits"),
                    serde_introspect::<RawLimits>(),
                    &limits_path,
                    &target_section,
                );
            }
        }
    }
    found
}

fn build(raw: &RawConfig, loc: &Locator, errors: &mut Vec<Diagnostic>) -> Config {
    let listen = match raw.listen.as_deref() {
        None => SocketAddr::from(([127, 0, 0, 1], 4000)),
        Some(text) => text.parse().unwrap_or_else(|_| {
            errors.push(loc.at(
                &[Seg::Key("listen")],
                format!("`listen` must be an address like \"127.0.0.1:4000\", not {text:?}"),
            ));
            SocketAddr::from(([127, 0, 0, 1], 4000))
        }),
    };

    let admin_token = raw.server.admin_token.as_deref().and_then(|text| {
        SecretRef::parse(text)
            .map_err(|message| {
                let message = message.replace("api_key", "admin_token");
                errors.push(loc.at(&[Seg::Key("server"), Seg::Key("admin_token")], message))
            })
            .ok()
    });
    let mut allowed_hosts = Vec::new();
    for (i, host) in raw.server.allowed_hosts.iter().enumerate() {
        let name = host.trim().to_ascii_lowercase();
        if name.is_empty() || name.contains(['/', ' ', '@']) {
            errors.push(loc.at(
                &[Seg::Key("server"), Seg::Key("allowed_hosts"), Seg::Index(i)],
                format!("{host:?} is not a host name (write it without scheme or path, e.g. \"hub.lan\")"),
            ));
        } else {
            allowed_hosts.push(name);
        }
    }
    let mut cors_origins = Vec::new();
    for (i, origin) in raw.server.cors_origins.iter().enumerate() {
        let parsed = url::Url::parse(origin).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.has_host()
                && u.path() == "/"
                && !origin.ends_with('/')
        });
        if origin == "*" || parsed.is_none() {
            errors.push(loc.at(
                &[Seg::Key("server"), Seg::Key("cors_origins"), Seg::Index(i)],
                format!("{origin:?} is not an origin; write it like \"http://localhost:3000\" (no wildcard, no path)"),
            ));
        } else {
            cors_origins.push(origin.clone());
        }
    }
    let affinity_header =
        raw.server.affinity_header.as_deref().and_then(
            |name| match axum::http::HeaderName::try_from(name.trim()) {
                Ok(header) => Some(header),
                Err(_) => {
                    errors.push(loc.at(
                        &[Seg::Key("server"), Seg::Key("affinity_header")],
                        format!("{name:?} is not a header name (e.g. \"x-session-id\")"),
                    ));
                    None
                }
            },
        );
    let mut positive = |value: Option<f64>, default: f64, path: &[Seg], name: &str| -> f64 {
        match value {
            Some(v) if v.is_finite() && v > 0.0 => v,
            Some(v) => {
                errors.push(loc.at(path, format!("`{name}` must be a positive number, not {v}")));
                default
            }
            None => default,
        }
    };
    let server = ServerSettings {
        admin_token,
        allowed_hosts,
        cors_origins,
        affinity_header,
        max_body_bytes: (positive(
            raw.server.max_body_mb,
            32.0,
            &[Seg::Key("server"), Seg::Key("max_body_mb")],
            "max_body_mb",
        ) * 1024.0
            * 1024.0) as usize,
        shutdown_grace: Duration::from_secs_f64(positive(
            raw.server.shutdown_grace_s,
            30.0,
            &[Seg::Key("server"), Seg::Key("shutdown_grace_s")],
            "shutdown_grace_s",
        )),
        health_timeout: Duration::from_secs_f64(positive(
            raw.server.health_timeout_s,
            5.0,
            &[Seg::Key("server"), Seg::Key("health_timeout_s")],
            "health_timeout_s",
        )),
    };

    let database_path = raw
        .database
        .path
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(expand_home);
    let capture = crate::capture::CaptureSettings::from_raw(
        raw.database.capture_bodies.as_deref(),
        raw.database.capture_max_kb,
    )
    .unwrap_or_else(|message| {
        errors.push(loc.at(&[Seg::Key("database"), Seg::Key("capture_bodies")], message));
        Default::default()
    });
    let log_retention = build_retention(&raw.database, loc, errors);

    let providers: BTreeMap<String, ProviderConfig> = raw
        .providers
        .iter()
        .map(|(name, p)| (name.clone(), build_provider(name, p, loc, errors)))
        .collect();

    let price_file = load_price_file(&raw.spend, loc, errors);
    let prices = build_prices(raw, &providers, loc, errors);
    let mut aliases = BTreeMap::new();
    let mut lowered: HashMap<String, &str> = HashMap::new();
    for (name, alias) in &raw.aliases {
        let path = [Seg::Key("aliases"), Seg::Key(name)];
        if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
            errors.push(loc.at_key(
                &path,
                format!("alias name {name:?} must not be empty or contain spaces"),
            ));
        }
        if let Some(other) = lowered.insert(name.to_lowercase(), name) {
            errors.push(loc.at_key(
                &path,
                format!("alias `{name}` differs from alias `{other}` only in case; clients could not tell them apart"),
            ));
        }
        aliases.insert(
            name.clone(),
            build_alias(
                name,
                alias,
                &providers,
                (&prices, price_file.as_deref()),
                raw,
                loc,
                errors,
            ),
        );
    }
    check_fallback_cycles(&aliases, loc, errors);

    let mut tokens = BTreeMap::new();
    let mut hashes: HashMap<String, &str> = HashMap::new();
    for (name, raw_token) in &raw.tokens {
        let at = |key: &'static str| [Seg::Key("tokens"), Seg::Key(name), Seg::Key(key)];
        let hash = raw_token
            .hash
            .strip_prefix("sha256:")
            .unwrap_or("")
            .to_ascii_lowercase();
        if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            errors.push(loc.at(
                &at("hash"),
                "`hash` must be \"sha256:<64 hex digits>\"; create tokens with `switchboard tokens create NAME`",
            ));
        } else if let Some(other) = hashes.insert(hash.clone(), name) {
            errors.push(loc.at(
                &at("hash"),
                format!("token `{name}` has the same hash as token `{other}`"),
            ));
        }
        if let Some(list) = &raw_token.aliases {
            for (i, alias) in list.iter().enumerate() {
                if !aliases.contains_key(alias) {
                    let mut message =
                        format!("token `{name}` allows alias `{alias}`, which is not defined");
                    if let Some(s) = closest(alias, aliases.keys().map(String::as_str)) {
                        message.push_str(&format!("; did you mean `{s}`?"));
                    }
                    errors.push(loc.at(
                        &[
                            Seg::Key("tokens"),
                            Seg::Key(name),
                            Seg::Key("aliases"),
                            Seg::Index(i),
                        ],
                        message,
                    ));
                }
            }
        }
        tokens.insert(
            name.clone(),
            ClientToken {
                name: name.clone(),
                hash,
                tenant: raw_token.tenant.clone(),
                aliases: raw_token.aliases.clone(),
                description: raw_token.description.clone(),
                limits: build_limits(raw_token.limits.as_ref(), &at("limits"), loc, errors),
                budget: raw_token.budget.clone(),
            },
        );
    }
    let tenants: BTreeMap<String, TenantConfig> = raw
        .tenants
        .iter()
        .map(|(name, t)| {
            let path = [Seg::Key("tenants"), Seg::Key(name), Seg::Key("limits")];
            let tenant = TenantConfig {
                limits: build_limits(t.limits.as_ref(), &path, loc, errors),
                budget: t.budget.clone(),
            };
            (name.clone(), tenant)
        })
        .collect();
    let budgets = build_budgets(raw, &aliases, loc, errors);
    check_budget_references(raw, &budgets, loc, errors);
    let mut spend = build_spend(&raw.spend, loc, errors);
    spend.price_file = price_file;
    if !listen.ip().is_loopback() && tokens.is_empty() {
        errors.push(loc.at(
            &[Seg::Key("listen")],
            format!(
                "listening on {listen} (not loopback) needs inbound auth: create a client token with \
                 `switchboard tokens create NAME`, or listen on 127.0.0.1"
            ),
        ));
    }

    Config {
        listen,
        server,
        database_path,
        capture,
        log_retention,
        providers,
        aliases,
        tokens,
        tenants,
        budgets,
        spend,
        prices,
    }
}

fn build_budgets(
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
            .and_then(Item::as_table_like)
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
fn check_budget_references(
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

fn build_spend(raw: &RawSpend, loc: &Locator, errors: &mut Vec<Diagnostic>) -> SpendSettings {
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
fn load_price_file(
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
            revision: super::file::revision_of(&text),
        })),
        Err(e) => {
            errors.push(loc.at(&at, format!("price file {}:{e}", path.display())));
            None
        }
    }
}

fn build_prices(
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
                kind = providers[provider].kind;
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

fn build_provider(
    name: &str,
    raw: &RawProvider,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> ProviderConfig {
    let path = [Seg::Key("providers"), Seg::Key(name)];
    let at = |key: &'static str| [path[0], path[1], Seg::Key(key)];
    if name.contains('/') {
        errors.push(loc.at_key(&path, format!("provider name `{name}` must not contain `/` (targets are written `provider/model`)")));
    }
    let kind = ProviderKind::parse(&raw.kind).unwrap_or_else(|| {
        let mut message = format!("unknown provider kind `{}`", raw.kind);
        match closest(&raw.kind, ProviderKind::NAMES) {
            Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
            None => message.push_str(&format!(
                "; expected one of: {}",
                ProviderKind::NAMES.join(", ")
            )),
        }
        errors.push(loc.at(&at("kind"), message));
        ProviderKind::OpenAi
    });

    let base_url = match (kind, raw.base_url.as_deref()) {
        (ProviderKind::Demo, Some(_)) => {
            errors.push(loc.at(
                &at("base_url"),
                "the demo provider answers locally and takes no `base_url`",
            ));
            None
        }
        (ProviderKind::Demo, None) => None,
        (ProviderKind::OpenAi, None) => {
            errors.push(loc.at_key(
                &path,
                format!("provider `{name}` needs `base_url`, e.g. \"http://127.0.0.1:8000/v1\""),
            ));
            None
        }
        (ProviderKind::GithubCopilot, Some(_)) => {
            errors.push(loc.at(
                &at("base_url"),
                "a `github_copilot` provider takes `github_url` (GitHub Enterprise) and `api_url` (the Copilot API, normally named by the token exchange), not `base_url`",
            ));
            None
        }
        (ProviderKind::GithubCopilot, None) => http_url(
            raw.api_url.as_deref(),
            &at("api_url"),
            "api_url",
            loc,
            errors,
        ),
        (_, None) => kind.default_base_url().map(str::to_owned),
        (_, Some(url)) => match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
                Some(url.trim_end_matches('/').to_owned())
            }
            _ => {
                errors.push(loc.at(
                    &at("base_url"),
                    format!("`base_url` must be an http:// or https:// URL, not {url:?}"),
                ));
                None
            }
        },
    };

    let github_url = match kind {
        ProviderKind::GithubCopilot => http_url(
            raw.github_url.as_deref(),
            &at("github_url"),
            "github_url",
            loc,
            errors,
        )
        .or_else(|| Some(super::GITHUB_URL.to_owned())),
        other => {
            for (key, value) in [("github_url", &raw.github_url), ("api_url", &raw.api_url)] {
                if value.is_some() {
                    errors.push(loc.at_key(
                        &[path[0], path[1], Seg::Key(key)],
                        format!(
                            "`{key}` only applies to `github_copilot` providers; a `{}` provider takes `base_url`",
                            other.as_str()
                        ),
                    ));
                }
            }
            None
        }
    };

    let api_key = raw.api_key.as_deref().and_then(|text| {
        if kind == ProviderKind::Demo {
            errors.push(loc.at(&at("api_key"), "the demo provider takes no `api_key`"));
            return None;
        }
        SecretRef::parse(text)
            .map_err(|message| errors.push(loc.at(&at("api_key"), message)))
            .ok()
    });
    // Where `switchboard login copilot` stores the GitHub token unless told otherwise.
    let api_key = match (kind, api_key) {
        (ProviderKind::GithubCopilot, None) if raw.api_key.is_none() => {
            Some(SecretRef::Keychain("github_copilot".to_owned()))
        }
        (_, key) => key,
    };
    if raw.api_key.is_none() {
        let example = match kind {
            ProviderKind::Anthropic => Some("env:ANTHROPIC_API_KEY"),
            ProviderKind::Gemini => Some("env:GEMINI_API_KEY"),
            ProviderKind::OpenAi | ProviderKind::GithubCopilot | ProviderKind::Demo => None,
        };
        if let Some(example) = example {
            errors.push(loc.at_key(
                &path,
                format!(
                    "provider `{name}` (kind `{}`) needs `api_key`, e.g. \"{example}\"",
                    kind.as_str()
                ),
            ));
        }
    }

    let default_max_tokens = match (kind, raw.default_max_tokens) {
        (_, None) => None,
        (ProviderKind::Anthropic, Some(0)) => {
            errors.push(loc.at(
                &at("default_max_tokens"),
                "`default_max_tokens` must be at least 1",
            ));
            None
        }
        (ProviderKind::Anthropic, Some(n)) => Some(n),
        (other, Some(_)) => {
            errors.push(loc.at_key(
                &at("default_max_tokens"),
                format!(
                    "`default_max_tokens` only applies to `anthropic` providers (Anthropic requires `max_tokens`); a `{}` backend uses the request's own",
                    other.as_str()
                ),
            ));
            None
        }
    };

    let unsupported_params = match raw.unsupported_params.as_deref() {
        None => ParamPolicy::Drop,
        Some(text) => {
            if kind == ProviderKind::Demo {
                errors.push(loc.at_key(
                    &at("unsupported_params"),
                    "the demo provider takes no `unsupported_params`",
                ));
            }
            ParamPolicy::parse(text).unwrap_or_else(|| {
                let mut message = format!("unknown `unsupported_params` value `{text}`");
                match closest(text, ParamPolicy::NAMES) {
                    Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
                    None => message.push_str("; expected `drop` or `refuse`"),
                }
                errors.push(loc.at(&at("unsupported_params"), message));
                ParamPolicy::Drop
            })
        }
    };

    let responses = match (kind, raw.responses) {
        (ProviderKind::OpenAi, Some(on)) => on,
        // Copilot serves `/responses` for its newer models; the config says when a target's does.
        (ProviderKind::GithubCopilot, on) => on.unwrap_or(false),
        (ProviderKind::OpenAi, None) => base_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .is_some_and(|u| u.host_str() == Some("api.openai.com")),
        (_, None) => false,
        (other, Some(_)) => {
            errors.push(loc.at_key(
                &at("responses"),
                format!(
                    "`responses` only applies to `openai` and `github_copilot` providers; a `{}` backend gets Responses requests translated",
                    other.as_str()
                ),
            ));
            false
        }
    };

    let mut headers = Vec::new();
    for (header, value) in &raw.headers {
        let header_path = [path[0], path[1], Seg::Key("headers"), Seg::Key(header)];
        let lower = header.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "authorization" | "x-api-key" | "api-key" | "proxy-authorization"
        ) {
            errors.push(loc.at_key(&header_path, format!("header `{header}` carries a secret; put it in `api_key` as a reference instead")));
        } else if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            errors.push(loc.at_key(
                &header_path,
                format!("`{header}` is not a valid HTTP header name"),
            ));
        } else if http::HeaderValue::from_str(value).is_err() {
            errors.push(loc.at(
                &header_path,
                format!("the value of header `{header}` is not a valid HTTP header value"),
            ));
        } else {
            headers.push((header.clone(), value.clone()));
        }
    }

    let timeouts = apply_timeouts(
        Timeouts::default(),
        raw.timeouts.as_ref(),
        &at("timeouts"),
        true,
        loc,
        errors,
    );
    let breaker = build_breaker(raw.breaker.as_ref(), &at("breaker"), loc, errors);
    let health_check = raw.health_check_s.and_then(|v| {
        seconds(
            Some(v),
            &at("health_check_s"),
            "health_check_s",
            loc,
            errors,
        )
        .map(Duration::from_secs_f64)
    });
    ProviderConfig {
        name: name.to_owned(),
        kind,
        base_url,
        api_key,
        headers,
        timeouts,
        breaker,
        health_check,
        default_max_tokens,
        unsupported_params,
        budget: raw.budget.clone(),
        responses,
        github_url,
    }
}

/// An optional http(s) URL setting, without its trailing slash.
fn http_url(
    value: Option<&str>,
    path: &[Seg],
    key: &str,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> Option<String> {
    let url = value?;
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            Some(url.trim_end_matches('/').to_owned())
        }
        _ => {
            errors.push(loc.at(
                path,
                format!("`{key}` must be an http:// or https:// URL, not {url:?}"),
            ));
            None
        }
    }
}

/// A positive, finite number of seconds, or an error at `path`.
fn seconds(
    value: Option<f64>,
    path: &[Seg],
    key: &str,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> Option<f64> {
    match value {
        Some(v) if v.is_finite() && v > 0.0 && v < 1.0e7 => Some(v),
        Some(v) => {
            errors.push(loc.at(
                path,
                format!("`{key}` must be a positive number of seconds, not {v}"),
            ));
            None
        }
        None => None,
    }
}

fn build_limits(
    raw: Option<&RawLimits>,
    path: &[Seg],
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> Limits {
    let Some(raw) = raw else {
        return Limits::default();
    };
    let at = |key: &'static str| {
        let mut full = path.to_vec();
        full.push(Seg::Key(key));
        full
    };
    if raw.rpm == Some(0) {
        errors.push(loc.at(
            &at("rpm"),
            "`rpm` must be at least 1 (remove it for no cap)",
        ));
    }
    if raw.tpm == Some(0) {
        errors.push(loc.at(
            &at("tpm"),
            "`tpm` must be at least 1 (remove it for no cap)",
        ));
    }
    if raw.concurrent == Some(0) {
        errors.push(loc.at(
            &at("concurrent"),
            "`concurrent` must be at least 1 (remove it for no cap)",
        ));
    }
    Limits {
        rpm: raw.rpm.filter(|v| *v > 0),
        tpm: raw.tpm.filter(|v| *v > 0),
        concurrent: raw.concurrent.filter(|v| *v > 0),
    }
}

/// `retain_days` and `max_mb`: non-negative numbers, 0 turning that bound off.
fn build_retention(raw: &RawDatabase, loc: &Locator, errors: &mut Vec<Diagnostic>) -> LogRetention {
    let mut bound = |value: Option<f64>, default: f64, key: &'static str, unit: &str| {
        let value = value.unwrap_or(default);
        if !(value.is_finite() && value >= 0.0) {
            errors.push(loc.at(
                &[Seg::Key("database"), Seg::Key(key)],
                format!("`{key}` must be a number of {unit} (0 for no bound), not {value}"),
            ));
            return None;
        }
        (value > 0.0).then_some(value)
    };
    let days = bound(
        raw.retain_days,
        LogRetention::DEFAULT_DAYS,
        "retain_days",
        "days",
    );
    let mb = bound(raw.max_mb, LogRetention::DEFAULT_MB, "max_mb", "megabytes");
    LogRetention {
        max_age: days.map(|d| Duration::from_secs_f64(d * 86_400.0)),
        max_bytes: mb.map(|mb| (mb * 1024.0 * 1024.0) as u64),
    }
}

fn build_breaker(
    raw: Option<&RawBreaker>,
    path: &[Seg],
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> BreakerSettings {
    let defaults = BreakerSettings::default();
    let Some(raw) = raw else { return defaults };
    let at = |key: &'static str| {
        let mut full = path.to_vec();
        full.push(Seg::Key(key));
        full
    };
    let duration =
        |value: Option<f64>, key: &'static str, default: Duration, errors: &mut Vec<Diagnostic>| {
            seconds(value, &at(key), key, loc, errors)
                .map(Duration::from_secs_f64)
                .unwrap_or(default)
        };
    let settings = BreakerSettings {
        failures: raw.failures.unwrap_or(defaults.failures),
        error_rate: raw.error_rate.unwrap_or(defaults.error_rate),
        window: duration(raw.window_s, "window_s", defaults.window, errors),
        min_requests: raw.min_requests.unwrap_or(defaults.min_requests),
        cooldown: duration(raw.cooldown_s, "cooldown_s", defaults.cooldown, errors),
        max_cooldown: duration(
            raw.max_cooldown_s,
            "max_cooldown_s",
            defaults.max_cooldown,
            errors,
        ),
        slow_first_token: raw.slow_first_token_factor.map(|factor| SlowFirstToken {
            factor,
            floor: raw
                .slow_first_token_floor_ms
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .map(|ms| Duration::from_secs_f64(ms / 1000.0))
                .unwrap_or(SlowFirstToken::DEFAULT_FLOOR),
        }),
    };
    if raw.slow_factor.is_some() {
        // Not mapped onto the new rule: it measured total latency, which grows with the answer.
        tracing::warn!(
            "breaker `slow_factor` no longer has an effect (total latency is not a failure signal); \
             remove it, or use `slow_first_token_factor` to judge time to first token"
        );
    }
    if settings.failures == 0 {
        errors.push(loc.at(&at("failures"), "`failures` must be at least 1"));
    }
    if !(settings.error_rate > 0.0 && settings.error_rate <= 1.0) {
        errors.push(loc.at(
            &at("error_rate"),
            "`error_rate` must be a fraction above 0 and at most 1, e.g. 0.5",
        ));
    }
    if let Some(factor) = raw.slow_first_token_factor {
        if !(factor.is_finite() && factor > 1.0) {
            errors.push(loc.at(
                &at("slow_first_token_factor"),
                "`slow_first_token_factor` must be a number above 1, e.g. 10",
            ));
        }
    }
    if let Some(ms) = raw.slow_first_token_floor_ms {
        if !(ms.is_finite() && ms >= 0.0) {
            errors.push(loc.at(
                &at("slow_first_token_floor_ms"),
                "`slow_first_token_floor_ms` must be a number of milliseconds, e.g. 2000",
            ));
        } else if raw.slow_first_token_factor.is_none() {
            errors.push(loc.at(
                &at("slow_first_token_floor_ms"),
                "`slow_first_token_floor_ms` has no effect without `slow_first_token_factor`",
            ));
        }
    }
    if settings.max_cooldown < settings.cooldown {
        errors.push(loc.at(
            &at("max_cooldown_s"),
            "`max_cooldown_s` must not be below `cooldown_s`",
        ));
    }
    settings
}

fn apply_timeouts(
    base: Timeouts,
    raw: Option<&RawTimeouts>,
    path: &[Seg],
    connect_allowed: bool,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> Timeouts {
    let Some(raw) = raw else { return base };
    let mut get = |value: Option<f64>, key: &'static str, current: Duration| -> Duration {
        let mut full = path.to_vec();
        full.push(Seg::Key(key));
        match value {
            Some(v) if v.is_finite() && v > 0.0 && v < 1.0e7 => Duration::from_secs_f64(v),
            Some(v) => {
                errors.push(loc.at(
                    &full,
                    format!("`{key}` must be a positive number of seconds, not {v}"),
                ));
                current
            }
            None => current,
        }
    };
    let out = Timeouts {
        connect: get(raw.connect_s, "connect_s", base.connect),
        first_byte: get(raw.first_byte_s, "first_byte_s", base.first_byte),
        idle: get(raw.idle_s, "idle_s", base.idle),
        total: get(raw.total_s, "total_s", base.total),
    };
    if !connect_allowed && raw.connect_s.is_some() {
        let mut full = path.to_vec();
        full.push(Seg::Key("connect_s"));
        errors.push(loc.at_key(
            &full,
            "`connect_s` is set per provider (one connection pool each), not per target",
        ));
    }
    out
}

fn build_alias(
    name: &str,
    raw: &RawAlias,
    providers: &BTreeMap<String, ProviderConfig>,
    (prices, price_file): (
        &BTreeMap<String, Price>,
        Option<&crate::config::prices::PriceFile>,
    ),
    raw_config: &RawConfig,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> AliasConfig {
    let path = [Seg::Key("aliases"), Seg::Key(name)];
    if raw.targets.is_empty() {
        errors.push(loc.at(
            &[path[0], path[1], Seg::Key("targets")],
            format!("alias `{name}` needs at least one target"),
        ));
    }
    let mut targets: Vec<TargetConfig> = Vec::new();
    for (i, target) in raw.targets.iter().enumerate() {
        let target_path = [path[0], path[1], Seg::Key("targets"), Seg::Index(i)];
        let written = target.model();
        let Some((provider_name, model)) = written
            .split_once('/')
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        else {
            errors.push(loc.at(
                &target_path,
                format!("target {written:?} must be written \"provider/model\""),
            ));
            continue;
        };
        let Some(provider) = providers.get(provider_name) else {
            let mut message = format!(
                "target `{written}` names provider `{provider_name}`, which is not defined"
            );
            if let Some(s) = closest(provider_name, providers.keys().map(String::as_str)) {
                message.push_str(&format!("; did you mean `{s}`?"));
            }
            errors.push(loc.at(&target_path, message));
            continue;
        };
        if targets
            .iter()
            .any(|t| t.provider == provider_name && t.model == model)
        {
            errors.push(loc.at(
                &target_path,
                format!("target `{written}` is listed twice in alias `{name}`"),
            ));
            continue;
        }
        let overrides = match target {
            RawTarget::Full(table) => table.timeouts.as_ref(),
            RawTarget::Short(_) => None,
        };
        let mut timeouts_path = target_path.to_vec();
        timeouts_path.push(Seg::Key("timeouts"));
        let timeouts = apply_timeouts(
            provider.timeouts,
            overrides,
            &timeouts_path,
            false,
            loc,
            errors,
        );
        let (weight, max_input_tokens, max_tokens) = match target {
            RawTarget::Full(table) => (
                table.weight.unwrap_or(1),
                table.max_input_tokens,
                table.max_tokens,
            ),
            RawTarget::Short(_) => (1, None, None),
        };
        let mut limits_path = target_path.to_vec();
        limits_path.push(Seg::Key("limits"));
        let target_limits = match target {
            RawTarget::Full(table) => {
                build_limits(table.limits.as_ref(), &limits_path, loc, errors)
            }
            RawTarget::Short(_) => Limits::default(),
        };
        if let Some(n) = max_tokens {
            let mut max_path = target_path.to_vec();
            max_path.push(Seg::Key("max_tokens"));
            if provider.kind != ProviderKind::Anthropic {
                errors.push(loc.at_key(
                    &max_path,
                    format!(
                        "`max_tokens` on a target only applies to `anthropic` providers; `{provider_name}` is `{}`",
                        provider.kind.as_str()
                    ),
                ));
            } else if n == 0 {
                errors.push(loc.at(&max_path, "`max_tokens` must be at least 1"));
            }
        }
        if weight == 0 {
            let mut weight_path = target_path.to_vec();
            weight_path.push(Seg::Key("weight"));
            errors.push(loc.at(
                &weight_path,
                "`weight` must be at least 1 (remove the target to stop using it)",
            ));
        }
        targets.push(TargetConfig {
            provider: provider_name.to_owned(),
            model: model.to_owned(),
            timeouts,
            weight: weight.max(1),
            // The price data's context window where the target names none.
            max_input_tokens: max_input_tokens
                .or_else(|| crate::config::prices::context_window(price_file, provider, model)),
            breaker: provider.breaker,
            limits: target_limits,
            max_tokens: max_tokens
                .filter(|n| *n > 0)
                .or(provider.default_max_tokens)
                .filter(|_| provider.kind == ProviderKind::Anthropic),
            pricing: crate::config::prices::pricing(prices, price_file, provider, model),
        });
    }

    for (i, fallback) in raw.fallbacks.iter().enumerate() {
        let fallback_path = [path[0], path[1], Seg::Key("fallbacks"), Seg::Index(i)];
        if fallback == name {
            errors.push(loc.at(
                &fallback_path,
                format!("alias `{name}` lists itself as a fallback"),
            ));
        } else if !raw_config.aliases.contains_key(fallback) {
            let mut message = format!("fallback `{fallback}` is not a defined alias");
            if let Some(s) = closest(fallback, raw_config.aliases.keys().map(String::as_str)) {
                message.push_str(&format!("; did you mean `{s}`?"));
            }
            errors.push(loc.at(&fallback_path, message));
        } else if raw.fallbacks[..i].contains(fallback) {
            errors.push(loc.at(
                &fallback_path,
                format!("fallback `{fallback}` is listed twice"),
            ));
        }
    }

    let strategy = match raw.strategy.as_deref() {
        None => Strategy::WeightedRoundRobin,
        Some(text) => Strategy::parse(text).unwrap_or_else(|| {
            let mut message = format!("unknown strategy `{text}`");
            match closest(text, Strategy::NAMES) {
                Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
                None => message.push_str(&format!(
                    "; expected one of: {}",
                    Strategy::NAMES.join(", ")
                )),
            }
            errors.push(loc.at(&[path[0], path[1], Seg::Key("strategy")], message));
            Strategy::WeightedRoundRobin
        }),
    };

    let defaults = Retries::default();
    let retries = match &raw.retries {
        None => defaults,
        Some(r) => {
            let at = |key: &'static str| [path[0], path[1], Seg::Key("retries"), Seg::Key(key)];
            if r.attempts == Some(0) {
                errors.push(loc.at(
                    &at("attempts"),
                    "`attempts` counts the first try too, so it must be at least 1",
                ));
            }
            Retries {
                attempts: r.attempts.unwrap_or(defaults.attempts).max(1),
                backoff: r
                    .backoff_ms
                    .and_then(|ms| {
                        seconds(
                            Some(ms / 1000.0),
                            &at("backoff_ms"),
                            "backoff_ms",
                            loc,
                            errors,
                        )
                    })
                    .map(Duration::from_secs_f64)
                    .unwrap_or(defaults.backoff),
                max_retry_after: seconds(
                    r.max_retry_after_s,
                    &at("max_retry_after_s"),
                    "max_retry_after_s",
                    loc,
                    errors,
                )
                .map(Duration::from_secs_f64)
                .unwrap_or(defaults.max_retry_after),
            }
        }
    };

    let long_context = raw.long_context.as_ref().and_then(|lc| {
        let at = [
            path[0],
            path[1],
            Seg::Key("long_context"),
            Seg::Key("alias"),
        ];
        if lc.alias == name {
            errors.push(loc.at(
                &at,
                format!("alias `{name}` cannot be its own long-context alias"),
            ));
            None
        } else if !raw_config.aliases.contains_key(&lc.alias) {
            let mut message = format!("long-context alias `{}` is not a defined alias", lc.alias);
            if let Some(s) = closest(&lc.alias, raw_config.aliases.keys().map(String::as_str)) {
                message.push_str(&format!("; did you mean `{s}`?"));
            }
            errors.push(loc.at(&at, message));
            None
        } else {
            Some(LongContext {
                above_tokens: lc.above_tokens,
                alias: lc.alias.clone(),
            })
        }
    });

    // On by default where there is a choice to keep: provider prompt caches stay warm.
    let affinity = raw.affinity.unwrap_or(targets.len() > 1);
    AliasConfig {
        name: name.to_owned(),
        description: raw.description.clone(),
        targets,
        fallbacks: raw.fallbacks.clone(),
        strategy,
        retries,
        long_context,
        limits: build_limits(
            raw.limits.as_ref(),
            &[path[0], path[1], Seg::Key("limits")],
            loc,
            errors,
        ),
        budget: raw.budget.clone(),
        affinity,
    }
}

/// Rejects fallback chains that lead back to where they started (a → b → a).
fn check_fallback_cycles(
    aliases: &BTreeMap<String, AliasConfig>,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        aliases: &'a BTreeMap<String, AliasConfig>,
        marks: &mut HashMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
        cycles: &mut Vec<Vec<&'a str>>,
    ) {
        match marks.get(name) {
            Some(Mark::Done) => return,
            Some(Mark::Visiting) => {
                if let Some(start) = stack.iter().position(|n| *n == name) {
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(name);
                    cycles.push(cycle);
                }
                return;
            }
            None => {}
        }
        marks.insert(name, Mark::Visiting);
        stack.push(name);
        if let Some(alias) = aliases.get(name) {
            for next in &alias.fallbacks {
                if next != name {
                    visit(next, aliases, marks, stack, cycles);
                }
            }
        }
        stack.pop();
        marks.insert(name, Mark::Done);
    }

    let mut marks = HashMap::new();
    let mut cycles = Vec::new();
    for name in aliases.keys() {
        visit(name, aliases, &mut marks, &mut Vec::new(), &mut cycles);
    }
    for cycle in cycles {
        let first = cycle[0];
        let next = cycle.get(1).copied().unwrap_or(first);
        let index = aliases
            .get(first)
            .and_then(|a| a.fallbacks.iter().position(|f| f == next))
            .unwrap_or(0);
        errors.push(loc.at(
            &[
                Seg::Key("aliases"),
                Seg::Key(first),
                Seg::Key("fallbacks"),
                Seg::Index(index),
            ],
            format!("fallback cycle: {}", cycle.join(" → ")),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => Vec::new(),
            Err(ds) => ds.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn default_config_is_valid() {
        let config = parse(crate::config::DEFAULT_CONFIG);
        assert!(config.is_ok(), "{:?}", config.err());
    }

    #[test]
    fn affinity_is_on_by_default_where_there_is_a_choice_and_its_header_is_checked() {
        let config = parse(concat!(
            "[server]\naffinity_header = \"X-Team-Session\"\n",
            "[providers.p]\nkind = \"demo\"\n",
            "[aliases.one]\ntargets = [\"p/a\"]\n",
            "[aliases.two]\ntargets = [\"p/a\", \"p/b\"]\n",
            "[aliases.off]\naffinity = false\ntargets = [\"p/a\", \"p/b\"]\n",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        let on = |name: &str| config.aliases.get(name).map(|a| a.affinity);
        assert_eq!(
            (on("one"), on("two"), on("off")),
            (Some(false), Some(true), Some(false))
        );
        assert_eq!(
            config.server.affinity_header.as_ref().map(|h| h.as_str()),
            Some("x-team-session")
        );
        let e = errors("[server]\naffinity_header = \"x session\"\n");
        assert!(
            e.len() == 1 && e[0].starts_with("2:19:") && e[0].contains("not a header name"),
            "{e:?}"
        );
        let e = errors("[providers.p]\nkind = \"demo\"\n[aliases.a]\naffinity = \"yes\"\ntargets = [\"p/a\"]\n");
        assert!(e.len() == 1 && e[0].starts_with("4:12:"), "{e:?}");
    }

    #[test]
    fn every_unknown_key_is_reported_with_a_suggestion() {
        let e = errors(
            "listn = \"127.0.0.1:1\"\n[providers.a]\nkind = \"openai\"\nbse_url = \"http://x\"\n",
        );
        // The misspelt key also leaves the provider without `base_url`, which is said too.
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("1:1: unknown key `listn`") && e[0].contains("`listen`"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("2:12: provider `a` needs `base_url`"),
            "{e:?}"
        );
        assert!(
            e[2].starts_with("4:1: unknown key `bse_url`") && e[2].contains("`base_url`"),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_keys_do_not_hide_other_errors() {
        let e = errors(concat!(
            "[server]
max_body_mbb = 1
",
            "[providers.mock]
kind = \"demo\"
",
            "[aliases.a]
targets = [{ model = \"mokc/m\", wieght = 2 }]
fallbacks = [\"b\"]
",
            "[aliases.b]
targets = [\"mock/m\"]
fallbacks = [\"a\"]
",
        ));
        let joined = e.join("\n");
        assert_eq!(e.len(), 4, "{joined}");
        for needle in [
            "unknown key `max_body_mbb`",
            "unknown key `wieght`",
            "did you mean `mock`",
            "fallback cycle",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
    }

    #[test]
    fn references_are_checked_and_all_errors_collected() {
        let e = errors(concat!(
            "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:8000/v1\"\n",
            "[aliases.a]\ntargets = [\"lcoal/m\"]\nfallbacks = [\"bb\"]\n",
            "[aliases.b]\ntargets = [\"local/m\"]\n",
        ));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("5:12:") && e[0].contains("did you mean `local`"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("6:14:") && e[1].contains("not a defined alias"),
            "{e:?}"
        );
    }

    #[test]
    fn budgets_prices_and_time_zone_are_checked() {
        let e = errors(concat!(
            "[providers.p]\nkind = \"demo\"\nbudget = \"clod\"\n",
            "[aliases.a]\ntargets = [\"p/m\"]\n",
            "[budgets.cloud]\nusd = 0\nperiod = \"mnth\"\nwhen_spent = { reroute = \"b\", to = \"x\" }\nalert_at = 2\n",
            "[spend]\ntimezone = \"Mars/Base\"\n",
            "[prices.\"q/m\"]\ninput = -1\noutput = 1\n",
        ));
        let expect = [
            ("3:10:", "did you mean `cloud`"),
            ("7:7:", "positive amount"),
            ("8:10:", "did you mean `month`"),
            ("9:14:", "alias `b`, which is not defined"),
            ("9:14:", "unknown key `to`"),
            ("10:12:", "between 0 and 1"),
            ("12:12:", "unknown time zone"),
            ("13:", "provider `q` is not defined"),
            ("14:9:", "USD per million tokens"),
        ];
        assert_eq!(e.len(), expect.len(), "{e:#?}");
        for (error, (at, text)) in e.iter().zip(expect) {
            assert!(
                error.starts_with(at) && error.contains(text),
                "{error} / {at} {text}"
            );
        }
        let ok = Config::parse(
            concat!(
                "[providers.p]\nkind = \"demo\"\nbudget = \"cloud\"\n",
                "[aliases.a]\ntargets = [\"p/m\"]\n[aliases.local]\ntargets = [\"p/n\"]\n",
                "[budgets.cloud]\nusd = 150\nperiod = \"month\"\nwhen_spent = { reroute = \"local\" }\n",
                "[spend]\ntimezone = \"Europe/Berlin\"\n",
            ),
            "t",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let budget = &ok.budgets["cloud"];
        assert_eq!(budget.when_spent, WhenSpent::Reroute("local".into()));
        assert_eq!((budget.period, budget.alert_at), (Period::Month, 0.8));
        assert_eq!(ok.spend.timezone_name, "Europe/Berlin");
    }

    #[test]
    fn log_retention_and_the_first_token_rule_are_checked() -> Result<(), String> {
        let e = errors(concat!(
            "[database]\nretain_days = -1\nmax_mb = 100\n",
            "[providers.p]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\n",
            "breaker = { slow_first_token_factor = 0.5 }\n",
            "[providers.q]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\n",
            "breaker = { slow_first_token_floor_ms = 100 }\n",
        ));
        assert_eq!(e.len(), 3, "{e:#?}");
        assert!(
            e[0].starts_with("2:15:") && e[0].contains("number of days"),
            "{e:?}"
        );
        assert!(e[1].contains("must be a number above 1"), "{e:?}");
        assert!(e[2].contains("no effect without"), "{e:?}");
        let config = Config::parse(
            concat!(
                "[database]\nretain_days = 0\nmax_mb = 100\n",
                "[providers.p]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\n",
                // The retired rule still loads (ignored, with a warning).
                "breaker = { slow_factor = 10 }\n",
                "[providers.q]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\n",
                "breaker = { slow_first_token_factor = 8 }\n",
            ),
            "t",
        )
        .map_err(|e| e.to_string())?;
        assert_eq!(config.log_retention.max_age, None);
        assert_eq!(config.log_retention.max_bytes, Some(100 * 1024 * 1024));
        assert_eq!(config.providers["p"].breaker.slow_first_token, None);
        assert_eq!(
            config.providers["q"].breaker.slow_first_token,
            Some(SlowFirstToken {
                factor: 8.0,
                floor: SlowFirstToken::DEFAULT_FLOOR
            })
        );
        let defaults = Config::parse("", "t").map_err(|e| e.to_string())?;
        assert_eq!(defaults.log_retention, LogRetention::default());
        assert_eq!(
            defaults.log_retention.max_age,
            Some(Duration::from_secs(30 * 86_400))
        );
        Ok(())
    }

    #[test]
    fn fallback_cycles_are_rejected() {
        let e = errors(concat!(
            "[providers.p]\nkind = \"demo\"\n",
            "[aliases.a]\ntargets = [\"p/m\"]\nfallbacks = [\"b\"]\n",
            "[aliases.b]\ntargets = [\"p/m\"]\nfallbacks = [\"a\"]\n",
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("fallback cycle: a → b → a"), "{e:?}");
    }

    #[test]
    fn literal_keys_and_bad_values_are_refused() {
        let e = errors(concat!(
            "listen = \"nowhere\"\n",
            "[providers.p]\nkind = \"opneai\"\nbase_url = \"ftp://x\"\napi_key = \"sk-123\"\n",
            "[aliases.x]\ntargets = [{ model = \"p/m\", timeouts = { total_s = -1, connect_s = 2 } }]\n",
            "[aliases.X]\ntargets = [\"p/m\"]\n",
        ));
        let joined = e.join("\n");
        for needle in [
            "`listen` must be an address",
            "did you mean `openai`",
            "http:// or https://",
            "never the key itself",
            "`total_s` must be a positive",
            "`connect_s` is set per provider",
            "only in case",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
        assert!(
            !joined.contains("sk-123"),
            "a secret leaked into an error: {joined}"
        );
    }

    #[test]
    fn provider_kinds_have_their_own_keys() {
        let e = errors(concat!(
            "[providers.a]\nkind = \"antrhopic\"\n",
            "[providers.b]\nkind = \"anthropic\"\n",
            "[providers.c]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\ndefault_max_tokens = 10\nunsupported_params = \"refuze\"\n",
            "[providers.g]\nkind = \"gemini\"\napi_key = \"env:G\"\n",
            "[aliases.x]\ntargets = [{ model = \"g/gemini-2.0-flash\", max_tokens = 5 }]\n",
        ));
        let joined = e.join("\n");
        for needle in [
            "did you mean `anthropic`",
            "provider `b` (kind `anthropic`) needs `api_key`",
            "`default_max_tokens` only applies to `anthropic` providers",
            "did you mean `refuse`",
            "`max_tokens` on a target only applies to `anthropic` providers",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
    }

    #[test]
    fn responses_setting_defaults_on_for_openai_only() -> Result<(), String> {
        let config = parse(concat!(
            "[providers.o]\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\napi_key = \"env:K\"\n",
            "[providers.l]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:8000/v1\"\n",
            "[providers.n]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9000/v1\"\nresponses = true\n",
            "[aliases.x]\ntargets = [\"o/gpt\"]\n",
        ))
        .map_err(|e| format!("{e:?}"))?;
        let on = |name: &str| config.providers.get(name).map(|p| p.responses);
        assert_eq!(
            (on("o"), on("l"), on("n")),
            (Some(true), Some(false), Some(true))
        );
        let e = errors("[providers.a]\nkind = \"anthropic\"\napi_key = \"env:K\"\nresponses = true\n[aliases.x]\ntargets = [\"a/c\"]\n");
        assert!(
            e.join("\n")
                .contains("`responses` only applies to `openai` and `github_copilot` providers"),
            "{e:?}"
        );
        Ok(())
    }

    #[test]
    fn anthropic_defaults_and_max_tokens() -> Result<(), String> {
        let config = parse(concat!(
            "[providers.a]\nkind = \"anthropic\"\napi_key = \"env:K\"\ndefault_max_tokens = 1000\nunsupported_params = \"refuse\"\n",
            "[aliases.x]\ntargets = [\"a/claude\", { model = \"a/claude-big\", max_tokens = 9000 }]\n",
        ))
        .map_err(|e| format!("{e:?}"))?;
        let provider = &config.providers["a"];
        assert_eq!(
            provider.base_url.as_deref(),
            Some("https://api.anthropic.com")
        );
        assert_eq!(provider.unsupported_params, ParamPolicy::Refuse);
        let targets = &config.aliases["x"].targets;
        assert_eq!(targets[0].max_tokens, Some(1000));
        assert_eq!(targets[1].max_tokens, Some(9000));
        Ok(())
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let e = errors("listen = \n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("1:"), "{e:?}");
    }

    #[test]
    fn target_timeouts_override_the_providers() -> Result<(), String> {
        let config = parse(concat!(
            "[providers.p]\nkind = \"openai\"\nbase_url = \"http://h/v1/\"\ntimeouts = { idle_s = 7, total_s = 100 }\n",
            "[aliases.x]\ntargets = [{ model = \"p/org/model\", timeouts = { total_s = 5 } }]\n",
        ))
        .map_err(|e| format!("{e:?}"))?;
        let target = &config.aliases["x"].targets[0];
        assert_eq!(target.model, "org/model");
        assert_eq!(target.timeouts.idle, Duration::from_secs(7));
        assert_eq!(target.timeouts.total, Duration::from_secs(5));
        assert_eq!(
            config.providers["p"].base_url.as_deref(),
            Some("http://h/v1")
        );
        Ok(())
    }
}
