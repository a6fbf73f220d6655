//! Whitespace normalization that allocates only when a value actually changes.

/// The normalized text, or `None` when `text` is already normal. Single-line fields collapse
/// every run of whitespace (line breaks too) into one space; multi-line fields keep their line
/// breaks and lose trailing spaces on each line.
pub fn normalize(text: &str, multiline: bool) -> Option<String> {
    if is_normal(text, multiline) {
        return None;
    }
    if multiline {
        let text = text.replace("\r\n", "\n");
        let lines: Vec<String> = text.lines().map(|line| collapse(line)).collect();
        Some(lines.join("\n").trim_matches('\n').to_owned())
    } else {
        Some(collapse(text))
    }
}

fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(char::is_whitespace).filter(|word| !word.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn is_normal(text: &str, multiline: bool) -> bool {
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') {
        return false;
    }
    let mut previous_space = false;
    for ch in text.chars() {
        match ch {
            ' ' => {
                if previous_space {
                    return false;
                }
                previous_space = true;
            }
            '\n' if multiline => {
                if previous_space {
                    return false;
                }
            }
            c if c.is_whitespace() => return false,
            _ => previous_space = false,
        }
    }
    !(multiline && (text.starts_with('\n') || text.ends_with('\n') || text.contains(" \n")))
}
