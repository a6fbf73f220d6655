//! A [`Document`] as Markdown, and the one escaper for Markdown: a value stays on its line
//! (a line break would end a table row or a list item), its `|` cannot split a table cell, its
//! `<script>` is text and not HTML, and its control and bidi characters are shown, not obeyed.

use std::fmt::Write as _;

use super::{Block, Document, Span, Table, Text};
use crm_migrate_core::untrusted;

/// How a line break in a value is shown: the value stays on one line, and a reader still sees
/// where its lines were.
const LINE_BREAK: &str = " ⏎ ";

/// `text` from outside made safe anywhere in a Markdown file: line breaks as [`LINE_BREAK`],
/// other control and bidi characters as visible escapes (`\u{1b}`), `<`, `>` and `&` as HTML
/// entities, and `|` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.replace("\r\n", "\n").chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("\\|"),
            c => visible(c, &mut out),
        }
    }
    out
}

/// `text` from outside as inline code: on one line, control characters visible, and neither a
/// backtick (it would end the code) nor a `|` (it would end a table cell) left as it is. HTML
/// needs no entities inside code: a renderer shows it as it is.
pub fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('`');
    for c in text.replace("\r\n", "\n").chars() {
        match c {
            '`' => out.push('\''),
            '|' => out.push_str("\\|"),
            c => visible(c, &mut out),
        }
    }
    out.push('`');
    out
}

/// Pushes `c`, a line break as [`LINE_BREAK`] and any other unsafe character as its escape.
fn visible(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str(LINE_BREAK),
        c if untrusted::is_unsafe(c) => out.push_str(&untrusted::escape(c.encode_utf8(&mut [0; 4]))),
        c => out.push(c),
    }
}

/// `text` as Markdown; `in_cell`: inside a table cell, where our own `|` must be escaped too.
pub fn text(text: &Text, in_cell: bool) -> String {
    let mut out = String::new();
    for span in &text.0 {
        match span {
            Span::Words(words) if in_cell => out.push_str(&words.replace('|', "\\|")),
            Span::Words(words) => out.push_str(words),
            Span::Value(value) => out.push_str(&escape(value)),
            Span::Code(value) => out.push_str(&code(value)),
            Span::Strong(strong) => {
                let _ = write!(out, "**{}**", self::text(strong, in_cell));
            }
            Span::Break => out.push_str("<br>"),
        }
    }
    out
}

/// The document as Markdown: its title, then each block after a blank line.
pub fn render(document: &Document) -> String {
    let mut out = format!("# {}\n", text(&document.title, false));
    for block in &document.blocks {
        out.push('\n');
        match block {
            Block::Heading(level, title) => {
                let _ = writeln!(out, "{} {}", "#".repeat(usize::from(*level)), text(title, false));
            }
            Block::Paragraph(paragraph) => {
                let _ = writeln!(out, "{}", text(paragraph, false));
            }
            Block::Table(table) => write_table(&mut out, table),
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {}", text(&item.text, false));
                    for under in &item.items {
                        let _ = writeln!(out, "  - {}", text(under, false));
                    }
                }
            }
        }
    }
    out
}

fn write_table(out: &mut String, table: &Table) {
    if let (true, Some(when_empty)) = (table.rows.is_empty(), &table.when_empty) {
        let _ = writeln!(out, "{}", text(when_empty, false));
        return;
    }
    let row = |out: &mut String, cells: &mut dyn Iterator<Item = String>| {
        out.push('|');
        for cell in cells {
            if cell.is_empty() {
                out.push_str(" |");
            } else {
                let _ = write!(out, " {cell} |");
            }
        }
        out.push('\n');
    };
    row(out, &mut table.columns.iter().map(|column| text(&column.title, true)));
    out.push('|');
    for column in &table.columns {
        out.push_str(if column.figures { "---:|" } else { "---|" });
    }
    out.push('\n');
    for cells in &table.rows {
        row(out, &mut cells.iter().map(|cell| text(cell, true)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Item, Table, Text, code as code_text, value, words};

    #[test]
    fn hostile_values_stay_in_their_cell_on_their_line_and_are_not_html() {
        assert_eq!(escape("<script>a|b & c</script>\n"), "&lt;script&gt;a\\|b &amp; c&lt;/script&gt; ⏎ ");
        let mut document = Document::new(Text::new().words("Report of ").code("a`b|c\nd"));
        let mut table = Table::new(["name", "count"]).figures([1]);
        table.row([value("Ada | Lovelace\r\n<script>alert(1)</script> & co"), words("1,234")]);
        table.row([value("\u{1b}[2K\u{7}x\u{202e}y\u{9b}"), Text::new()]);
        table.row([code_text("k|e`y\n"), value("")]);
        document.section("Names").paragraph(value("line one\nline two\ttab")).table(table);
        document.list([value("- item <b>"), Text::new().strong("bold").words(": ").value("a|b")]);
        document.nested_list([Item { text: words("one"), items: vec![value("\n- forged item")] }]);
        let rendered = render(&document);
        assert_eq!(
            rendered,
            "# Report of `a'b\\|c ⏎ d`\n\n\
             ## Names\n\n\
             line one ⏎ line two\\ttab\n\n\
             | name | count |\n|---|---:|\n\
             | Ada \\| Lovelace ⏎ &lt;script&gt;alert(1)&lt;/script&gt; &amp; co | 1,234 |\n\
             | \\u{1b}[2K\\u{7}x\\u{202e}y\\u{9b} | |\n\
             | `k\\|e'y ⏎ ` | |\n\n\
             - - item &lt;b&gt;\n\
             - **bold**: a\\|b\n\n\
             - one\n  -  ⏎ - forged item\n"
        );
        for line in rendered.lines().filter(|line| line.starts_with('|')) {
            let unescaped_pipes = line.len() - line.replace('|', "").len() - line.matches("\\|").count();
            assert_eq!(unescaped_pipes, 3, "two cells a row: {line}");
        }
        assert!(!rendered.chars().any(|c| c != '\n' && crm_migrate_core::untrusted::is_unsafe(c)), "{rendered}");
    }

    #[test]
    fn an_empty_table_says_so_when_asked_and_shows_its_header_otherwise() {
        let mut document = Document::new("T");
        document.table(Table::new(["a"]).when_empty("(none)")).table(Table::new(["b", ""]));
        assert_eq!(render(&document), "# T\n\n(none)\n\n| b | |\n|---|---|\n");
    }
}
