//! [`Document`]s as one self-contained HTML page (inline style, nothing fetched), and the one
//! escaper for HTML: markup and quotes as entities, control and bidi characters shown, not
//! obeyed; a line break in a value is a `<br>`.

use std::fmt::Write as _;

use super::{Block, Document, Span, Table, Text};
use crm_migrate_core::untrusted;

const STYLE: &str = "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1c1c1c}\
     h1{border-bottom:2px solid #2b6cb0}h2{margin-top:2em;color:#2b6cb0}h3{margin-top:1.5em}\
     table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}th,td{border:1px solid #cbd5e0;padding:.35em .6em;text-align:left;vertical-align:top}\
     th{background:#edf2f7}tr:nth-child(even) td{background:#f7fafc}nav li{margin:.2em 0}p.none{color:#718096}</style>";

/// `text` for HTML text or an attribute value: `&`, `<`, `>` and `"` as entities, a line break
/// as `<br>`, any other control or bidi character as a visible escape (`\u{1b}`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.replace("\r\n", "\n").chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("<br>"),
            c if untrusted::is_unsafe(c) => out.push_str(&untrusted::escape(c.encode_utf8(&mut [0; 4]))),
            c => out.push(c),
        }
    }
    out
}

/// `text` as HTML: our words and values alike escaped (HTML has no trusted text).
pub fn text(text: &Text) -> String {
    let mut out = String::new();
    for span in &text.0 {
        match span {
            Span::Words(text) | Span::Value(text) => out.push_str(&escape(text)),
            Span::Code(text) => {
                let _ = write!(out, "<code>{}</code>", escape(text));
            }
            Span::Strong(strong) => {
                let _ = write!(out, "<strong>{}</strong>", self::text(strong));
            }
            Span::Break => out.push_str("<br>"),
        }
    }
    out
}

/// The `documents` on one page titled `title`, with a list of contents: each document under a
/// level-2 heading whose id is its name (the anchor the contents link to).
pub fn page(title: &Text, documents: &[(&str, &Document)]) -> String {
    let title = text(title);
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    let _ = writeln!(out, "<title>{title}</title>");
    let _ = writeln!(out, "{STYLE}</head><body>");
    let _ = writeln!(out, "<h1>{title}</h1>\n<nav><ul>");
    for (name, document) in documents {
        let _ = writeln!(out, "<li><a href=\"#{}\">{}</a></li>", escape(name), text(&document.title));
    }
    out.push_str("</ul></nav>\n");
    for (name, document) in documents {
        let _ = writeln!(out, "<h2 id=\"{}\">{}</h2>", escape(name), text(&document.title));
        for block in &document.blocks {
            match block {
                // One level down: the page's title is the only h1.
                Block::Heading(level, heading) => {
                    let level = (level + 1).min(6);
                    let _ = writeln!(out, "<h{level}>{}</h{level}>", text(heading));
                }
                Block::Paragraph(paragraph) => {
                    let _ = writeln!(out, "<p>{}</p>", text(paragraph));
                }
                Block::Table(table) => write_table(&mut out, table),
                Block::List(items) => {
                    out.push_str("<ul>");
                    for item in items {
                        let _ = write!(out, "<li>{}", text(&item.text));
                        if !item.items.is_empty() {
                            out.push_str("<ul>");
                            for under in &item.items {
                                let _ = write!(out, "<li>{}</li>", text(under));
                            }
                            out.push_str("</ul>");
                        }
                        out.push_str("</li>");
                    }
                    out.push_str("</ul>\n");
                }
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn write_table(out: &mut String, table: &Table) {
    if let (true, Some(when_empty)) = (table.rows.is_empty(), &table.when_empty) {
        let _ = writeln!(out, "<p class=\"none\">{}</p>", text(when_empty));
        return;
    }
    out.push_str("<table><thead><tr>");
    for column in &table.columns {
        let _ = write!(out, "<th>{}</th>", text(&column.title));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", text(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Table, code, value, words};

    #[test]
    fn hostile_values_are_text_on_the_page_with_their_control_characters_shown() {
        assert_eq!(escape("a\r\n<b>\u{1b}[2K\r\"&"), "a<br>&lt;b&gt;\\u{1b}[2K\\r&quot;&amp;");
        let mut document = Document::new(Text::new().words("Segments of ").value("<img src=x onerror=alert(1)>"));
        let mut table = Table::new(["Name", "Rules"]).figures([1]);
        table.row([value("VIP | \u{202e}gnp.exe\n</td><script>alert(1)</script>"), code("a\"b`\u{7}")]);
        document.section(value("<h1>")).paragraph(words("x < y")).table(table);
        document.table(Table::new(["Empty"]).when_empty("(none)")).list([value("<li>")]);
        let html = page(&Text::new().words("Handoff: ").value("\"><script>"), &[("segments\"x", &document)]);
        assert!(html.contains("<title>Handoff: &quot;&gt;&lt;script&gt;</title>"), "{html}");
        assert!(html.contains("<a href=\"#segments&quot;x\">Segments of &lt;img src=x onerror=alert(1)&gt;</a>"));
        assert!(html.contains("<h3>&lt;h1&gt;</h3>\n<p>x &lt; y</p>"), "{html}");
        assert!(html.contains(
            "<tr><td>VIP | \\u{202e}gnp.exe<br>&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td><td><code>a&quot;b`\\u{7}</code></td></tr>"
        ));
        assert!(html.contains("<p class=\"none\">(none)</p>\n<ul><li>&lt;li&gt;</li></ul>"), "{html}");
        assert_eq!(html.matches("<script").count(), 0, "{html}");
        assert!(!html.chars().any(|c| c != '\n' && untrusted::is_unsafe(c)), "{html}");
    }
}
