//! Budgets: what each configured cap has spent in its current period, from the spend ledger.
//!
//! Spend is kept in memory per *payer* (provider, aliases, client token, tenant) in 15-minute
//! buckets for the last few weeks, loaded from the ledger at start. A budget's total is the sum
//! over the payers that name it, so budgets added or moved by a reload see past spend, and a
//! time-zone change moves period boundaries without rereading the disk. Each budget's current
//! total is cached and recomputed only when its period rolls over or the config changes.
//!
//! Admission counts spend already made plus the estimates reserved by requests in flight
//! (`reserve`), so concurrent requests cannot all slip through a nearly spent budget; a budget
//! is overshot by at most what the last admitted request costs beyond its estimate's room.

mod cache;
pub mod import;
pub mod reserve;

pub use cache::CacheSavings;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::config::{BudgetConfig, Config, Period, WhenSpent};
use crate::events::{Events, GatewayEvent};
use crate::store::ledger::{CacheSums, HistoryRow, Ledger, LedgerHealth, SpendRow, BUCKET_MS};

/// Longest period (a month) plus slack: spend older than this never counts.
pub const HISTORY_MS: i64 = 35 * 24 * 3600 * 1000;

/// Who a request's spend counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Payer {
    pub provider: String,
    /// The alias that served (a fallback or reroute included).
    pub alias: String,
    /// The alias the client asked for.
    pub requested_alias: String,
    pub client: Option<String>,
    pub tenant: Option<String>,
}

/// Which budget each provider, alias, client token and tenant names.
#[derive(Debug, Clone, Default)]
struct Rules {
    budgets: BTreeMap<String, BudgetConfig>,
    providers: HashMap<String, String>,
    aliases: HashMap<String, String>,
    tokens: HashMap<String, String>,
    tenants: HashMap<String, String>,
    timezone: Option<TimeZone>,
    timezone_name: String,
}

impl Rules {
    fn from_config(config: &Config) -> Rules {
        let named = |pairs: Vec<(&String, &Option<String>)>| -> HashMap<String, String> {
            pairs
                .into_iter()
                .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
                .collect()
        };
        Rules {
            budgets: config.budgets.clone(),
            providers: named(
                config
                    .providers
                    .iter()
                    .map(|(k, p)| (k, &p.budget))
                    .collect(),
            ),
            aliases: named(config.aliases.iter().map(|(k, a)| (k, &a.budget)).collect()),
            tokens: named(config.tokens.iter().map(|(k, t)| (k, &t.budget)).collect()),
            tenants: named(config.tenants.iter().map(|(k, t)| (k, &t.budget)).collect()),
            timezone: Some(config.spend.timezone.clone()),
            timezone_name: config.spend.timezone_name.clone(),
        }
    }

    /// The budgets a payer's spend counts against, each once.
    fn budgets_of(&self, payer: &Payer) -> Vec<&str> {
        let mut names: Vec<&str> = [
            self.providers.get(&payer.provider),
            self.aliases.get(&payer.alias),
            self.aliases.get(&payer.requested_alias),
            payer.client.as_ref().and_then(|c| self.tokens.get(c)),
            payer.tenant.as_ref().and_then(|t| self.tenants.get(t)),
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .filter(|name| self.budgets.contains_key(*name))
        .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    fn timezone(&self) -> TimeZone {
        self.timezone.clone().unwrap_or(TimeZone::UTC)
    }
}

/// A budget's running total for one period.
#[derive(Debug, Clone)]
struct Total {
    start_ms: i64,
    end_ms: i64,
    nano_usd: i64,
    alerted: bool,
    exhausted: bool,
}

#[derive(Default)]
struct State {
    rules: Rules,
    /// Spend per payer per bucket (`ts_ms / BUCKET_MS`).
    history: HashMap<Payer, BTreeMap<i64, i64>>,
    totals: HashMap<String, Total>,
    cache: cache::CacheHistory,
}

/// A budget that is spent, and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Spent {
    pub budget: String,
    pub usd: f64,
    pub spent_usd: f64,
    pub period: Period,
    pub when_spent: WhenSpent,
    pub period_start: String,
    pub resets_at: String,
    pub resets_in_ms: u64,
    pub timezone: String,
}

impl Spent {
    pub fn message(&self) -> String {
        format!(
            "budget `{}` is spent: ${:.2} of ${:.2} this {} (since {} {}); it resets at {}",
            self.budget,
            self.spent_usd,
            self.usd,
            self.period.as_str(),
            self.period_start,
            self.timezone,
            self.resets_at
        )
    }
}

/// One budget as the admin API and the dashboard show it.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetStatus {
    pub name: String,
    pub description: Option<String>,
    pub period: &'static str,
    pub usd: f64,
    pub spent_usd: f64,
    pub remaining_usd: f64,
    pub alert_at: f64,
    /// `ok`, `alert` (past the alert threshold) or `spent`.
    pub state: &'static str,
    /// `refuse`, or `reroute:ALIAS`.
    pub when_spent: String,
    pub period_start: String,
    pub resets_at: String,
    pub timezone: String,
    /// Who counts against it: `provider:x`, `alias:y`, `token:z`, `tenant:w`.
    pub charged_by: Vec<String>,
    /// Prompt-cache share of the period's input and what it would have cost without caching.
    pub cache: CacheSavings,
}

pub struct Budgets {
    state: Mutex<State>,
    events: Events,
    ledger: Ledger,
    in_flight: std::sync::Arc<reserve::InFlight>,
}

impl Budgets {
    /// Budgets over the spend already in the ledger (`history`), applying `config`.
    pub fn new(config: &Config, history: Vec<HistoryRow>, ledger: Ledger, events: Events) -> Self {
        let mut state = State {
            rules: Rules::from_config(config),
            ..State::default()
        };
        for row in history {
            let payer = Payer {
                provider: row.provider,
                alias: row.alias,
                requested_alias: row.requested_alias,
                client: row.client,
                tenant: row.tenant,
            };
            state.cache.add(&payer, row.bucket, row.cache, i64::MIN);
            *state
                .history
                .entry(payer)
                .or_default()
                .entry(row.bucket)
                .or_default() += row.nano_usd;
        }
        Budgets {
            state: Mutex::new(state),
            events,
            ledger,
            in_flight: Default::default(),
        }
    }

    /// Applies a reloaded config: totals are recomputed from memory (no disk), and alerts already
    /// past stay quiet.
    pub fn configure(&self, config: &Config) {
        if let Ok(mut state) = self.state.lock() {
            state.rules = Rules::from_config(config);
            state.totals.clear();
        }
    }

    pub fn ledger_health(&self) -> LedgerHealth {
        self.ledger.health()
    }

    /// The first of `names` that is spent now, counting what requests in flight reserved.
    pub fn spent<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Option<Spent> {
        let mut state = self.state.lock().ok()?;
        self.spent_in(&mut state, names)
    }

    /// Reserves a request's estimated cost against `names`, unless one of them is spent
    /// (in-flight reservations included). Checked and reserved under one lock, so concurrent
    /// requests see each other. A free request reserves nothing and is never refused here.
    pub fn reserve(
        &self,
        names: &[&str],
        nano_usd: i64,
    ) -> Result<reserve::Reservation, Box<Spent>> {
        if nano_usd <= 0 {
            return Ok(reserve::Reservation::none());
        }
        let Ok(mut state) = self.state.lock() else {
            return Ok(reserve::Reservation::none());
        };
        let mut known: Vec<String> = names
            .iter()
            .filter(|n| state.rules.budgets.contains_key(**n))
            .map(|n| (*n).to_owned())
            .collect();
        known.sort_unstable();
        known.dedup();
        if let Some(spent) = self.spent_in(&mut state, known.iter().map(String::as_str)) {
            return Err(Box::new(spent));
        }
        if known.is_empty() {
            return Ok(reserve::Reservation::none());
        }
        Ok(self.in_flight.add(known, nano_usd))
    }

    fn spent_in<'a>(
        &self,
        state: &mut State,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Option<Spent> {
        let now = Timestamp::now();
        for name in names {
            let Some(budget) = state.rules.budgets.get(name).cloned() else {
                continue;
            };
            let total = state.current(&budget, now).0.clone();
            let counted = total.nano_usd + self.in_flight.reserved(name);
            if counted as f64 >= budget.usd * 1e9 {
                let tz = state.rules.timezone();
                return Some(Spent {
                    budget: budget.name.clone(),
                    usd: budget.usd,
                    spent_usd: counted as f64 / 1e9,
                    period: budget.period,
                    when_spent: budget.when_spent.clone(),
                    period_start: local_time(total.start_ms, &tz),
                    resets_at: rfc3339(total.end_ms, &tz),
                    resets_in_ms: (total.end_ms - now.as_millisecond()).max(1) as u64,
                    timezone: state.rules.timezone_name.clone(),
                });
            }
        }
        None
    }

    /// Records a request's spend: in memory at once (so the next request sees it) and in the
    /// ledger through the writer. Fires the alert and spent events when a total crosses them.
    /// The receiver resolves when the row is committed; `None` when there was nothing to charge.
    pub fn charge(&self, row: SpendRow) -> Option<tokio::sync::oneshot::Receiver<()>> {
        if row.nano_usd <= 0 {
            return None;
        }
        let payer = Payer {
            provider: row.provider.clone(),
            alias: row.alias.clone(),
            requested_alias: row.requested_alias.clone(),
            client: row.client.clone(),
            tenant: row.tenant.clone(),
        };
        let now = Timestamp::from_millisecond(row.ts_ms).unwrap_or_else(|_| Timestamp::now());
        let mut events = Vec::new();
        if let Ok(mut state) = self.state.lock() {
            let state = &mut *state;
            let bucket = row.ts_ms.div_euclid(BUCKET_MS);
            let buckets = state.history.entry(payer.clone()).or_default();
            *buckets.entry(bucket).or_default() += row.nano_usd;
            let oldest = (row.ts_ms - HISTORY_MS).div_euclid(BUCKET_MS);
            while buckets.first_key_value().is_some_and(|(b, _)| *b < oldest) {
                buckets.pop_first();
            }
            let sums = CacheSums {
                input_tokens: row.input_tokens as i64,
                cache_read_tokens: row.parts.cache_read_tokens as i64,
                uncached_nano_usd: row.parts.uncached_nano_usd,
            };
            state.cache.add(&payer, bucket, sums, oldest);
            let budgets: Vec<BudgetConfig> = state
                .rules
                .budgets_of(&payer)
                .into_iter()
                .filter_map(|n| state.rules.budgets.get(n).cloned())
                .collect();
            let tz = state.rules.timezone();
            for budget in budgets {
                // A total recomputed from the buckets already holds this row; a cached one
                // (for the period containing the row) does not yet.
                let (total, recomputed) = state.current(&budget, now);
                if !recomputed {
                    total.nano_usd += row.nano_usd;
                }
                let spent = total.nano_usd as f64 / 1e9;
                if !total.alerted && spent >= budget.usd * budget.alert_at {
                    total.alerted = true;
                    events.push(GatewayEvent::BudgetAlert {
                        budget: budget.name.clone(),
                        spent_usd: spent,
                        limit_usd: budget.usd,
                        alert_at: budget.alert_at,
                        period: budget.period.as_str(),
                        resets_at: rfc3339(total.end_ms, &tz),
                    });
                }
                if !total.exhausted && spent >= budget.usd {
                    total.exhausted = true;
                    events.push(GatewayEvent::BudgetSpent {
                        budget: budget.name.clone(),
                        spent_usd: spent,
                        limit_usd: budget.usd,
                        period: budget.period.as_str(),
                        resets_at: rfc3339(total.end_ms, &tz),
                    });
                }
            }
        }
        for event in events {
            self.events.emit(event);
        }
        let committed = self.ledger.append(row);
        // With the database down there is nothing to wait for: the row waits in memory.
        self.ledger.health().ok.then_some(committed)
    }

    /// Every budget with its spend in the current period.
    pub fn status(&self) -> Vec<BudgetStatus> {
        let now = Timestamp::now();
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        let budgets: Vec<BudgetConfig> = state.rules.budgets.values().cloned().collect();
        let tz = state.rules.timezone();
        budgets
            .into_iter()
            .map(|budget| {
                let total = state.current(&budget, now).0.clone();
                let spent_usd = total.nano_usd as f64 / 1e9;
                let rules = &state.rules;
                let cache = CacheSavings::from_sums(
                    state
                        .cache
                        .since(total.start_ms.div_euclid(BUCKET_MS), |payer| {
                            rules.budgets_of(payer).contains(&budget.name.as_str())
                        }),
                );
                let charged_by = [
                    ("provider", &rules.providers),
                    ("alias", &rules.aliases),
                    ("token", &rules.tokens),
                    ("tenant", &rules.tenants),
                ]
                .iter()
                .flat_map(|(kind, map)| {
                    let mut names: Vec<String> = map
                        .iter()
                        .filter(|(_, b)| **b == budget.name)
                        .map(|(n, _)| format!("{kind}:{n}"))
                        .collect();
                    names.sort();
                    names
                })
                .collect();
                BudgetStatus {
                    state: if spent_usd >= budget.usd {
                        "spent"
                    } else if spent_usd >= budget.usd * budget.alert_at {
                        "alert"
                    } else {
                        "ok"
                    },
                    name: budget.name.clone(),
                    description: budget.description.clone(),
                    period: budget.period.as_str(),
                    usd: budget.usd,
                    spent_usd,
                    remaining_usd: (budget.usd - spent_usd).max(0.0),
                    alert_at: budget.alert_at,
                    when_spent: match &budget.when_spent {
                        WhenSpent::Refuse => "refuse".to_owned(),
                        WhenSpent::Reroute(alias) => format!("reroute:{alias}"),
                    },
                    period_start: rfc3339(total.start_ms, &tz),
                    resets_at: rfc3339(total.end_ms, &tz),
                    timezone: rules.timezone_name.clone(),
                    charged_by,
                    cache,
                }
            })
            .collect()
    }
}

impl State {
    /// The budget's total for the period containing `now`, recomputed from the buckets when the
    /// period rolled over or the config changed; the flag says whether it was.
    fn current(&mut self, budget: &BudgetConfig, now: Timestamp) -> (&mut Total, bool) {
        let now_ms = now.as_millisecond();
        let (rules, history) = (&self.rules, &self.history);
        match self.totals.entry(budget.name.clone()) {
            Entry::Occupied(cached)
                if (cached.get().start_ms..cached.get().end_ms).contains(&now_ms) =>
            {
                (cached.into_mut(), false)
            }
            entry => {
                let total = recompute(rules, history, budget, now);
                (entry.insert_entry(total).into_mut(), true)
            }
        }
    }
}

/// A budget's total over the current period, from the payers that name it.
fn recompute(
    rules: &Rules,
    history: &HashMap<Payer, BTreeMap<i64, i64>>,
    budget: &BudgetConfig,
    now: Timestamp,
) -> Total {
    let (start_ms, end_ms) = period_bounds(budget.period, &rules.timezone(), now);
    let first_bucket = start_ms.div_euclid(BUCKET_MS);
    let nano_usd: i64 = history
        .iter()
        .filter(|(payer, _)| rules.budgets_of(payer).contains(&budget.name.as_str()))
        .flat_map(|(_, buckets)| buckets.range(first_bucket..))
        .map(|(_, nano)| *nano)
        .sum();
    let spent = nano_usd as f64 / 1e9;
    // Thresholds already behind us at (re)computation stay quiet: a restart or reload does not
    // alert twice.
    Total {
        start_ms,
        end_ms,
        nano_usd,
        alerted: spent >= budget.usd * budget.alert_at,
        exhausted: spent >= budget.usd,
    }
}

/// The period containing `now`, in `tz`, as unix milliseconds `[start, end)`.
pub fn period_bounds(period: Period, tz: &TimeZone, now: Timestamp) -> (i64, i64) {
    let date = now.to_zoned(tz.clone()).date();
    let range = match period {
        Period::Day => date.tomorrow().ok().map(|end| (date, end)),
        Period::Week => {
            let back = i64::from(date.weekday().to_monday_zero_offset());
            date.checked_sub(back.days())
                .ok()
                .and_then(|start| start.checked_add(7.days()).ok().map(|end| (start, end)))
        }
        Period::Month => {
            let start = date.first_of_month();
            start.checked_add(1.month()).ok().map(|end| (start, end))
        }
    };
    let bounds = range.and_then(|(start, end)| {
        let start = start
            .to_zoned(tz.clone())
            .ok()?
            .timestamp()
            .as_millisecond();
        let end = end.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond();
        Some((start, end))
    });
    // Only out-of-range dates fail; a day around `now` is the safe answer then.
    bounds.unwrap_or_else(|| {
        let now_ms = now.as_millisecond();
        (
            now_ms - now_ms.rem_euclid(86_400_000),
            now_ms - now_ms.rem_euclid(86_400_000) + 86_400_000,
        )
    })
}

fn rfc3339(ms: i64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

fn local_time(ms: i64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn bounds(period: Period, tz: &str, now: &str) -> (String, String) {
        let tz = TimeZone::get(tz).unwrap_or_else(|e| panic!("{e}"));
        let (start, end) = period_bounds(period, &tz, ts(now));
        (rfc3339(start, &tz), rfc3339(end, &tz))
    }

    #[test]
    fn periods_follow_the_configured_time_zone() {
        // 23:30 UTC on Sunday 2026-11-29 is already Monday 00:30 in Berlin.
        assert_eq!(
            bounds(Period::Day, "Europe/Berlin", "2026-11-29T23:30:00Z"),
            (
                "2026-11-30T00:00:00+01:00".into(),
                "2026-12-01T00:00:00+01:00".into()
            )
        );
        assert_eq!(
            bounds(Period::Week, "Europe/Berlin", "2026-11-29T23:30:00Z"),
            (
                "2026-11-30T00:00:00+01:00".into(),
                "2026-12-07T00:00:00+01:00".into()
            )
        );
        assert_eq!(
            bounds(Period::Week, "UTC", "2026-11-29T23:30:00Z"),
            (
                "2026-11-23T00:00:00+00:00".into(),
                "2026-11-30T00:00:00+00:00".into()
            )
        );
        assert_eq!(
            bounds(Period::Month, "America/New_York", "2026-12-01T03:00:00Z"),
            (
                "2026-11-01T00:00:00-04:00".into(),
                "2026-12-01T00:00:00-05:00".into()
            )
        );
        // A day with a DST change is 23 hours long.
        let tz = TimeZone::get("Europe/Berlin").unwrap_or_else(|e| panic!("{e}"));
        let (start, end) = period_bounds(Period::Day, &tz, ts("2026-03-29T12:00:00Z"));
        assert_eq!(end - start, 23 * 3600 * 1000);
    }
}
