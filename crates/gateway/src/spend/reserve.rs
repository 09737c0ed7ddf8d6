//! Reservations: the estimated cost of requests in flight, per budget, so admission counts
//! money that is about to be spent and not only money already spent. Without them, 50
//! concurrent requests against a nearly spent budget all see it open and all get through.
//!
//! A request reserves its estimate (input estimate plus its `max_tokens` at the target's price)
//! when it is sent; the guard gives it back when it is dropped, right after the real charge
//! lands (or when the request fails and nothing is charged).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::Pricing;

use crate::config::prices;

/// Reserved nano-USD per budget name.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    by_budget: Mutex<HashMap<String, i64>>,
}

impl InFlight {
    pub(crate) fn reserved(&self, budget: &str) -> i64 {
        self.by_budget
            .lock()
            .ok()
            .and_then(|m| m.get(budget).copied())
            .unwrap_or(0)
    }

    pub(crate) fn add(self: &Arc<Self>, budgets: Vec<String>, nano_usd: i64) -> Reservation {
        if let Ok(mut map) = self.by_budget.lock() {
            for budget in &budgets {
                *map.entry(budget.clone()).or_default() += nano_usd;
            }
        }
        Reservation {
            in_flight: Some(self.clone()),
            budgets,
            nano_usd,
        }
    }

    fn release(&self, budgets: &[String], nano_usd: i64) {
        if let Ok(mut map) = self.by_budget.lock() {
            for budget in budgets {
                if let Some(total) = map.get_mut(budget) {
                    *total -= nano_usd;
                    if *total <= 0 {
                        map.remove(budget);
                    }
                }
            }
        }
    }
}

/// One request's reserved estimate; released on drop.
#[derive(Debug, Default)]
pub struct Reservation {
    in_flight: Option<Arc<InFlight>>,
    budgets: Vec<String>,
    nano_usd: i64,
}

impl Reservation {
    /// Nothing reserved (no budget applies, or the price is unknown).
    pub fn none() -> Reservation {
        Reservation::default()
    }

    pub fn nano_usd(&self) -> i64 {
        self.nano_usd
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(in_flight) = self.in_flight.take() {
            in_flight.release(&self.budgets, self.nano_usd);
        }
    }
}

/// What a request may cost at most: its input estimate and output cap at the target's price.
/// `None` for an unpriced model (nothing to reserve against).
pub fn estimate_nano_usd(
    pricing: Pricing,
    input_tokens: u64,
    max_output_tokens: u64,
) -> Option<i64> {
    // The input is priced as fresh (not read from a cache): the most it can cost.
    let usage = crate::wire::Usage {
        fresh_input_tokens: Some(input_tokens),
        output_tokens: Some(max_output_tokens),
        ..crate::wire::Usage::default()
    };
    pricing
        .price()
        .map(|price| prices::cost(price, &usage).nano_usd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_add_up_per_budget_and_go_away_on_drop() {
        let in_flight = Arc::new(InFlight::default());
        let a = in_flight.add(vec!["cloud".into(), "team".into()], 300);
        let b = in_flight.add(vec!["cloud".into()], 200);
        assert_eq!(
            (in_flight.reserved("cloud"), in_flight.reserved("team")),
            (500, 300)
        );
        drop(a);
        assert_eq!(
            (in_flight.reserved("cloud"), in_flight.reserved("team")),
            (200, 0)
        );
        drop(b);
        assert_eq!(in_flight.reserved("cloud"), 0);
        assert!(in_flight
            .by_budget
            .lock()
            .map(|m| m.is_empty())
            .unwrap_or(false));
        drop(Reservation::none());
    }

    #[test]
    fn the_estimate_is_input_and_output_cap_at_the_price() {
        use crate::config::Price;
        let price = Price {
            input: 2.0,
            output: 10.0,
            cache_read: 0.2,
            cache_write: 2.5,
            cache_write_1h: 4.0,
        };
        // 1,000 input tokens at $2/M + 500 output tokens at $10/M = $0.007.
        assert_eq!(
            estimate_nano_usd(Pricing::Configured(price), 1_000, 500),
            Some(7_000_000)
        );
        assert_eq!(estimate_nano_usd(Pricing::Unknown, 1_000, 500), None);
        assert_eq!(estimate_nano_usd(Pricing::Local, 1_000, 500), Some(0));
    }
}
