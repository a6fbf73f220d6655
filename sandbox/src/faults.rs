//! Fault injection: one draw per admitted request from a seeded PRNG, so a seed and a request
//! sequence always give the same faults.

use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How often each fault happens (rates from 0 to 1, summed over the kinds at most 1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    pub seed: u64,
    /// 500, 502 or 503 with Pipedrive's error envelope; nothing applied, nothing debited.
    pub server_error_rate: f64,
    /// The handler runs (the write is applied and debited), then the connection closes without a response.
    pub lost_response_rate: f64,
    /// The connection closes without a response before anything is applied or debited.
    pub dropped_connection_rate: f64,
    /// The response is delayed by `slow_by`, then served normally.
    pub slow_rate: f64,
    pub slow_by: Duration,
    /// 429 with `retry-after: 1`, as Pipedrive answers under load whatever the window holds;
    /// nothing applied, nothing debited.
    pub throttle_rate: f64,
}

/// The JSON form of [`Faults`] on `POST /_sandbox/faults` (durations in milliseconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsWire {
    pub seed: u64,
    pub server_error_rate: f64,
    pub lost_response_rate: f64,
    pub dropped_connection_rate: f64,
    pub slow_rate: f64,
    pub slow_by_ms: u64,
    pub throttle_rate: f64,
}

impl From<FaultsWire> for Faults {
    fn from(wire: FaultsWire) -> Faults {
        Faults {
            seed: wire.seed,
            server_error_rate: wire.server_error_rate,
            lost_response_rate: wire.lost_response_rate,
            dropped_connection_rate: wire.dropped_connection_rate,
            slow_rate: wire.slow_rate,
            slow_by: Duration::from_millis(wire.slow_by_ms),
            throttle_rate: wire.throttle_rate,
        }
    }
}

impl From<&Faults> for FaultsWire {
    fn from(faults: &Faults) -> FaultsWire {
        FaultsWire {
            seed: faults.seed,
            server_error_rate: faults.server_error_rate,
            lost_response_rate: faults.lost_response_rate,
            dropped_connection_rate: faults.dropped_connection_rate,
            slow_rate: faults.slow_rate,
            slow_by_ms: faults.slow_by.as_millis() as u64,
            throttle_rate: faults.throttle_rate,
        }
    }
}

/// What happens to one admitted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    DroppedConnection,
    ServerError(u16),
    LostResponse,
    Slow(Duration),
    Throttled,
}

#[derive(Debug)]
pub struct FaultDice {
    faults: Faults,
    rng: SplitMix64,
}

impl FaultDice {
    pub fn new(faults: Faults) -> FaultDice {
        let rng = SplitMix64::new(faults.seed);
        FaultDice { faults, rng }
    }

    /// One draw decides the fault; a server error takes a second draw for its status.
    pub fn draw(&mut self) -> Fault {
        let roll = self.rng.next_f64();
        let faults = &self.faults;
        let mut threshold = faults.dropped_connection_rate;
        if roll < threshold {
            return Fault::DroppedConnection;
        }
        threshold += faults.server_error_rate;
        if roll < threshold {
            let status = [500, 502, 503][(self.rng.next_u64() % 3) as usize];
            return Fault::ServerError(status);
        }
        threshold += faults.lost_response_rate;
        if roll < threshold {
            return Fault::LostResponse;
        }
        threshold += faults.slow_rate;
        if roll < threshold {
            return Fault::Slow(faults.slow_by);
        }
        threshold += faults.throttle_rate;
        if roll < threshold {
            return Fault::Throttled;
        }
        Fault::None
    }
}
