//! `validate`: what each check reports, and where.

use super::*;
use crate::config::{Period, ProviderSettings, SlowFirstToken, WhenSpent};

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
    let e = errors(
        "[providers.p]\nkind = \"demo\"\n[aliases.a]\naffinity = \"yes\"\ntargets = [\"p/a\"]\n",
    );
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
    let on = |name: &str| match config.providers.get(name).map(|p| &p.settings) {
        Some(ProviderSettings::OpenAi(s)) => Some(s.responses),
        _ => None,
    };
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
    assert_eq!(provider.base_url(), Some("https://api.anthropic.com"));
    assert_eq!(
        provider.unsupported_params,
        crate::config::ParamPolicy::Refuse
    );
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
    assert_eq!(config.providers["p"].base_url(), Some("http://h/v1"));
    Ok(())
}
