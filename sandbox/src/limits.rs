//! Pipedrive's limits: the per-token rolling 2-second burst windows (search has its own), the
//! company-wide daily token budget that resets at midnight UTC, and the 403 block that follows
//! a run of ignored 429s.

use pipedrive_api::BURST_WINDOW;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// Tokens used today, company-wide.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenLedger {
    /// Days since the epoch (UTC) the `used` count belongs to.
    pub day: i64,
    pub used: u64,
}

#[derive(Debug, Default)]
struct TokenState {
    general: VecDeque<i64>,
    search: VecDeque<i64>,
    consecutive_429s: u32,
    blocked_until_ms: Option<i64>,
}

/// What the burst headers say about the window a request was counted in.
#[derive(Debug, Clone, Copy)]
pub struct WindowReport {
    pub limit: u32,
    pub remaining: u32,
    /// Whole seconds (rounded up) until the oldest admitted request leaves the window; 0 when empty.
    pub reset_secs: u64,
}

#[derive(Debug, Clone, Copy)]
pub enum Admission {
    Admitted(WindowReport),
    /// Over the burst limit: 429 with `retry-after`.
    BurstLimited {
        window: WindowReport,
        retry_after: u64,
        block_started: bool,
    },
    /// The daily budget cannot pay for the request: 429 until midnight UTC.
    BudgetExhausted {
        window: WindowReport,
        retry_after: u64,
        block_started: bool,
    },
}

/// The limits in force, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    pub burst_limit: u32,
    pub search_burst_limit: u32,
    pub daily_budget: u64,
    pub block_after_ignored_429s: u32,
    pub block_ms: i64,
}

/// When a request arrives, on the sandbox clock.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    pub now_ms: i64,
    /// Days since the epoch (UTC).
    pub day: i64,
    pub seconds_to_midnight: u64,
}

#[derive(Debug, Default)]
pub struct Limits {
    tokens: HashMap<String, TokenState>,
    pub ledger: TokenLedger,
}

fn window_ms() -> i64 {
    BURST_WINDOW.as_millis() as i64
}

fn prune(window: &mut VecDeque<i64>, now_ms: i64) {
    while window.front().is_some_and(|admitted| *admitted <= now_ms - window_ms()) {
        window.pop_front();
    }
}

fn report(window: &VecDeque<i64>, limit: u32, now_ms: i64) -> WindowReport {
    let reset_secs =
        window.front().map(|oldest| ((oldest + window_ms() - now_ms).max(0) as u64).div_ceil(1000)).unwrap_or(0);
    WindowReport { limit, remaining: limit.saturating_sub(window.len() as u32), reset_secs }
}

impl Limits {
    pub fn new(ledger: TokenLedger) -> Limits {
        Limits { tokens: HashMap::new(), ledger }
    }

    fn roll_day(&mut self, day: i64) {
        if self.ledger.day != day {
            self.ledger = TokenLedger { day, used: 0 };
        }
    }

    pub fn daily_remaining(&mut self, settings: &LimitSettings, day: i64) -> u64 {
        self.roll_day(day);
        settings.daily_budget.saturating_sub(self.ledger.used)
    }

    /// Whether the token is serving a 403 block now.
    pub fn is_blocked(&mut self, token: &str, now_ms: i64) -> bool {
        let state = self.tokens.entry(token.to_owned()).or_default();
        match state.blocked_until_ms {
            Some(until) if now_ms < until => true,
            Some(_) => {
                state.blocked_until_ms = None;
                false
            }
            None => false,
        }
    }

    /// Counts a 429 against the token; returns whether it starts a block.
    fn count_429(state: &mut TokenState, settings: &LimitSettings, now_ms: i64) -> bool {
        state.consecutive_429s += 1;
        if settings.block_after_ignored_429s > 0 && state.consecutive_429s >= settings.block_after_ignored_429s {
            state.consecutive_429s = 0;
            state.blocked_until_ms = Some(now_ms + settings.block_ms);
            return true;
        }
        false
    }

    /// Burst window, then daily budget. An admitted request is counted in its window and its
    /// cost (None: not a simulated operation, nothing to pay) is debited.
    pub fn admit(
        &mut self,
        token: &str,
        moment: Moment,
        search: bool,
        cost: Option<u64>,
        settings: &LimitSettings,
    ) -> Admission {
        let Moment { now_ms, day, seconds_to_midnight } = moment;
        self.roll_day(day);
        let remaining_budget = settings.daily_budget.saturating_sub(self.ledger.used);
        let state = self.tokens.entry(token.to_owned()).or_default();
        let (window, limit) = if search {
            (&mut state.search, settings.search_burst_limit)
        } else {
            (&mut state.general, settings.burst_limit)
        };
        prune(window, now_ms);
        if window.len() as u32 >= limit {
            let window_report = report(window, limit, now_ms);
            let retry_after = window_report.reset_secs.max(1);
            let block_started = Self::count_429(state, settings, now_ms);
            return Admission::BurstLimited { window: window_report, retry_after, block_started };
        }
        if let Some(cost) = cost
            && remaining_budget < cost
        {
            let window_report = report(window, limit, now_ms);
            let block_started = Self::count_429(state, settings, now_ms);
            return Admission::BudgetExhausted {
                window: window_report,
                retry_after: seconds_to_midnight,
                block_started,
            };
        }
        window.push_back(now_ms);
        let window_report = report(window, limit, now_ms);
        state.consecutive_429s = 0;
        self.ledger.used += cost.unwrap_or(0);
        Admission::Admitted(window_report)
    }

    /// Gives back a debit for a request that was never handled (a dropped connection, a 5xx).
    pub fn refund(&mut self, cost: u64) {
        self.ledger.used = self.ledger.used.saturating_sub(cost);
    }
}
