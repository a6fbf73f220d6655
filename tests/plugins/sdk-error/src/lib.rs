//! A plugin whose clean hook returns the SDK's `HookError` on a record marked attack=yes: a
//! message with a line break and a terminal escape, longer than a reason may be.

use attack_kit::sdk::HookError;

attack_kit::attack_plugin!(SdkError, "sdk-error", "Fails a batch with a HookError", |record| {
    return Err(HookError::new(format!(
        "the phone field holds a fax number\n\u{1b}[2Jforged line {}",
        "x".repeat(5000)
    )));
});
