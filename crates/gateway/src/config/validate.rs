//! Phase two of config loading: every check, all errors collected, each with a position.

use crate::config::Limits;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use super::diagnostics::{closest, Diagnostic, Locator, Seg};
use super::raw::{
    RawAlias, RawBreaker, RawConfig, RawDatabase, RawLimits, RawSpend, RawTarget, RawTimeouts,
    RawWhenSpent,
};
use super::{
    AliasConfig, BreakerSettings, BudgetConfig, ClientToken, Config, LogRetention, LongContext,
    Period, Price, ProviderConfig, ProviderKind, ProviderSettings, Retries, ServerSettings,
    SlowFirstToken, SpendSettings, Strategy, TargetConfig, TenantConfig, Timeouts, WhenSpent,
};
use crate::secret::{expand_home, SecretRef};

mod provider;
use provider::build_provider;

pub(super) fn parse(text: &str) -> Result<Config, Vec<Diagnostic>> {
    let locator = Locator::new(text);
    let mut errors = Vec::new();
    // Every unknown key is reported; the rest of the file is still checked without them, so
    // every other error shows up in the same run.
    let Some(raw) = super::unknown_keys::read(text, &locator, &mut errors) else {
        errors.sort_by_key(|d| (d.line, d.col));
        return Err(errors);
    };
    let config = build(&raw, &locator, &mut errors);
    if errors.is_empty() {
        Ok(config)
    } else {
        errors.sort_by_key(|d| (d.line, d.col));
        Err(errors)
    }
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
            if provider.kind() != ProviderKind::Anthropic {
                errors.push(loc.at_key(
                    &max_path,
                    format!(
                        "`max_tokens` on a target only applies to `anthropic` providers; `{provider_name}` is `{}`",
                        provider.kind().as_str()
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
                .or(match &provider.settings {
                    ProviderSettings::Anthropic(s) => s.default_max_tokens,
                    _ => None,
                })
                .filter(|_| provider.kind() == ProviderKind::Anthropic),
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
mod tests;
