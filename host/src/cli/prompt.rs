//! Questions on the terminal, for the verbs that ask before they delete or approve.

use anyhow::bail;

/// Asks a yes/no question on the terminal; without one, tells to pass --yes.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        bail!("this asks for confirmation on a terminal; from a script, pass --yes");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}
