//! What the verbs print on a terminal, formatted here so that the binary only prints it: one
//! module per verb whose output is more than a line. Text from an export or a plugin is escaped
//! on the way (`untrusted::escape`); the JSON outputs are built beside their text.

pub mod apply;
pub mod approve;
pub mod audit;
pub mod extract;
pub mod init;
pub mod plugins;
pub mod purge;
pub mod rollback;
pub mod verify;

use crate::untrusted::escape;

/// `text` with each line escaped: the host's own line breaks stay, anything a line holds that a
/// terminal would act on does not.
pub fn escape_lines(text: &str) -> String {
    text.split('\n').map(|line| escape(line).into_owned()).collect::<Vec<_>>().join("\n")
}
