//! Phase two of config loading: every check, all errors collected, each with a position.

use crate::config::Limits;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use super::diagnostics::{closest, Diagnostic, Locator, Seg};
use super::raw::{RawConfig, RawDatabase, RawLimits};
use super::{ClientToken, Config, LogRetention, ProviderConfig, ServerSettings, TenantConfig};
use crate::secret::{expand_home, SecretRef};

mod provider;
use provider::build_provider;
mod alias;
mod shared;
mod spend;
pub(super) mod telemetry;
use alias::{build_alias, check_fallback_cycles};
use spend::{build_budgets, build_prices, build_spend, check_budget_references, load_price_file};

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
        // Desktop apps have their own schemes (Obsidian: `app://obsidian.md`).
        let parsed = url::Url::parse(origin).ok().filter(|u| {
            u.has_host()
                && matches!(u.path(), "/" | "")
                && u.query().is_none()
                && !origin.ends_with('/')
        });
        if origin == "*" || parsed.is_none() {
            errors.push(loc.at(
                &[Seg::Key("server"), Seg::Key("cors_origins"), Seg::Index(i)],
                format!("{origin:?} is not an origin; write it like \"http://localhost:3000\" (no wildcard, no path) or \"app://obsidian.md\""),
            ));
        } else {
            cors_origins.push(origin.clone());
        }
    }
    let lan_listen = raw
        .server
        .lan_listen
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .and_then(|text| match text.parse::<SocketAddr>() {
            Ok(addr) if addr == listen => {
                errors.push(loc.at(
                    &[Seg::Key("server"), Seg::Key("lan_listen")],
                    "`lan_listen` must differ from `listen`",
                ));
                None
            }
            Ok(addr) => Some(addr),
            Err(_) => {
                errors.push(loc.at(
                    &[Seg::Key("server"), Seg::Key("lan_listen")],
                    format!("`lan_listen` must be an address like \"0.0.0.0:4001\", not {text:?}"),
                ));
                None
            }
        });
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
        lan_listen,
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
        if name == crate::config::DASHBOARD_CLIENT {
            errors.push(loc.at(
                &[Seg::Key("tokens"), Seg::Key(name)],
                "`dashboard` is the client name of the dashboard's playground; name the token differently",
            ));
        }
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
        telemetry: telemetry::build(&raw.telemetry, loc, errors),
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
#[cfg(test)]
mod tests;
