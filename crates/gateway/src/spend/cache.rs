//! How much prompt caching saved, per budget: cache reads as a share of input tokens, and what
//! the same spend would have cost with every input token at the plain input rate. Kept per payer
//! and 15-minute bucket next to the budget totals; computed only when someone asks (admin API).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Payer;
use crate::store::ledger::CacheSums;

/// Cache sums per payer per bucket (`ts_ms / BUCKET_MS`).
#[derive(Debug, Default)]
pub(super) struct CacheHistory(HashMap<Payer, BTreeMap<i64, CacheSums>>);

impl CacheHistory {
    pub(super) fn add(&mut self, payer: &Payer, bucket: i64, sums: CacheSums, oldest: i64) {
        let buckets = self.0.entry(payer.clone()).or_default();
        *buckets.entry(bucket).or_default() += sums;
        while buckets.first_key_value().is_some_and(|(b, _)| *b < oldest) {
            buckets.pop_first();
        }
    }

    /// The sums since `first_bucket` over the payers `counts` accepts.
    pub(super) fn since(&self, first_bucket: i64, counts: impl Fn(&Payer) -> bool) -> CacheSums {
        let mut total = CacheSums::default();
        for (payer, buckets) in &self.0 {
            if counts(payer) {
                for sums in buckets.range(first_bucket..).map(|(_, s)| *s) {
                    total += sums;
                }
            }
        }
        total
    }
}

/// A budget's prompt-cache figures for its current period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CacheSavings {
    /// Input tokens of the period's priced requests, cached or not.
    pub input_tokens: u64,
    /// How many of them were read from a prompt cache.
    pub cache_read_tokens: u64,
    /// `cache_read_tokens / input_tokens` (0 without input).
    pub cache_share: f64,
    /// What the period's spend would have been with every input token at the input rate.
    pub uncached_usd: f64,
}

impl CacheSavings {
    pub(super) fn from_sums(sums: CacheSums) -> Self {
        let input = sums.input_tokens.max(0) as u64;
        let read = sums.cache_read_tokens.max(0) as u64;
        CacheSavings {
            input_tokens: input,
            cache_read_tokens: read,
            cache_share: if input == 0 {
                0.0
            } else {
                read as f64 / input as f64
            },
            uncached_usd: sums.uncached_nano_usd as f64 / 1e9,
        }
    }
}
