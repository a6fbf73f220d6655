//! The token bill: what a run spent, per operation, so that it can be reported and compared with plan.

use std::collections::BTreeMap;

use serde::Serialize;

/// Tokens spent per operation. Requests that Pipedrive answered are `charged`; writes whose answer
/// was lost are `uncertain` (Pipedrive charges a write it applied, and we cannot know which it applied).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TokenBill {
    pub operations: BTreeMap<&'static str, OperationBill>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct OperationBill {
    pub calls: u64,
    pub tokens: u64,
    pub uncertain_calls: u64,
    pub uncertain_tokens: u64,
}

impl TokenBill {
    pub fn charge(&mut self, operation_id: &'static str, tokens: u32) {
        let entry = self.operations.entry(operation_id).or_default();
        entry.calls += 1;
        entry.tokens += u64::from(tokens);
    }

    pub fn charge_uncertain(&mut self, operation_id: &'static str, tokens: u32) {
        let entry = self.operations.entry(operation_id).or_default();
        entry.uncertain_calls += 1;
        entry.uncertain_tokens += u64::from(tokens);
    }

    pub fn tokens(&self) -> u64 {
        self.operations.values().map(|bill| bill.tokens).sum()
    }

    pub fn uncertain_tokens(&self) -> u64 {
        self.operations.values().map(|bill| bill.uncertain_tokens).sum()
    }

    pub fn calls(&self) -> u64 {
        self.operations.values().map(|bill| bill.calls).sum()
    }
}
