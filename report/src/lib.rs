//! The one way every verb writes a report for people: a [`Document`] (headings, paragraphs,
//! tables, lists) built from [`Text`] that keeps our own words apart from values read from an
//! export, a plugin or Pipedrive; rendered to Markdown ([`markdown`]) or to one HTML page
//! ([`html`]), each format with its one escaper; and written with [`Files`]: a set of files
//! written beside their names and renamed into place, readable by the user only.
//!
//! ```text
//! Document  -> markdown::render  (audit.md, plan.md, reconciliation.md, verification.md, ...)
//!           -> html::page        (the handoff's one self-contained page)
//! Files     the reports of one run written whole or not at all (private_files' modes)
//! ```

pub mod html;
pub mod markdown;

mod files;

pub use files::{Files, WriteError};

/// `1234567` as "1,234,567", for figures a person reads.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// At most this many characters of a value shown by [`Text::excerpt`].
pub const EXCERPT_CHARS: usize = 120;

/// `text` cut to [`EXCERPT_CHARS`] characters (the last three of them `...`): a report shows a
/// value from the export without copying a whole email template into a table.
fn excerpt(text: &str) -> String {
    if text.chars().count() > EXCERPT_CHARS {
        text.chars().take(EXCERPT_CHARS - 3).collect::<String>() + "..."
    } else {
        text.to_owned()
    }
}

/// A piece of [`Text`]. Only [`Span::Words`] reaches a Markdown file as it is written; every
/// other span goes through the format's escaper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    /// Our own words (never a value read from outside): Markdown takes them as they are.
    Words(String),
    /// A value from an export, a plugin, a person or Pipedrive: escaped for the format.
    Value(String),
    /// A value shown as code (a key, an id, a file name): escaped for the format.
    Code(String),
    /// Bold text.
    Strong(Text),
    /// A line break inside a table cell or a paragraph.
    Break,
}

/// A line of a report: a heading, a paragraph, a list item or a table cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub Vec<Span>);

impl Text {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends our own words (a label, a sentence of the report, a figure).
    pub fn words(mut self, words: impl Into<String>) -> Self {
        self.0.push(Span::Words(words.into()));
        self
    }

    /// Appends a value read from outside, escaped where rendered.
    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.0.push(Span::Value(value.into()));
        self
    }

    /// Appends a value cut after [`EXCERPT_CHARS`] characters.
    pub fn excerpt(mut self, value: &str) -> Self {
        self.0.push(Span::Value(excerpt(value)));
        self
    }

    /// Appends a value as code.
    pub fn code(mut self, value: impl Into<String>) -> Self {
        self.0.push(Span::Code(value.into()));
        self
    }

    /// Appends a value as code, cut after [`EXCERPT_CHARS`] characters.
    pub fn code_excerpt(mut self, value: &str) -> Self {
        self.0.push(Span::Code(excerpt(value)));
        self
    }

    /// Appends our own words in bold.
    pub fn strong(self, words: impl Into<String>) -> Self {
        self.strong_text(Text::new().words(words))
    }

    /// Appends `text` in bold.
    pub fn strong_text(mut self, text: Text) -> Self {
        self.0.push(Span::Strong(text));
        self
    }

    /// Appends a figure with its thousands separated.
    pub fn number(self, n: u64) -> Self {
        self.words(thousands(n))
    }

    /// Appends a line break.
    pub fn line_break(mut self) -> Self {
        self.0.push(Span::Break);
        self
    }

    /// Appends every span of `other`.
    pub fn then(mut self, other: Text) -> Self {
        self.0.extend(other.0);
        self
    }

    /// `items` one after the other with our `separator` between them.
    pub fn join(items: impl IntoIterator<Item = Text>, separator: &str) -> Text {
        Text::interleave(items, Span::Words(separator.to_owned()))
    }

    /// `items` one after the other, a line break between them.
    pub fn lines(items: impl IntoIterator<Item = Text>) -> Text {
        Text::interleave(items, Span::Break)
    }

    fn interleave(items: impl IntoIterator<Item = Text>, between: Span) -> Text {
        let mut joined = Text::new();
        for (index, item) in items.into_iter().enumerate() {
            if index > 0 {
                joined.0.push(between.clone());
            }
            joined.0.extend(item.0);
        }
        joined
    }
}

/// Our own words as a [`Text`].
pub fn words(words: impl Into<String>) -> Text {
    Text::new().words(words)
}

/// A value read from outside as a [`Text`].
pub fn value(value: impl Into<String>) -> Text {
    Text::new().value(value)
}

/// A value as code, as a [`Text`].
pub fn code(value: impl Into<String>) -> Text {
    Text::new().code(value)
}

/// A figure with its thousands separated, as a [`Text`].
pub fn number(n: u64) -> Text {
    Text::new().number(n)
}

impl From<&'static str> for Text {
    /// A literal is our own words.
    fn from(words: &'static str) -> Self {
        Text::new().words(words)
    }
}

/// A table's column: its title, and whether it holds figures (right-aligned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub title: Text,
    pub figures: bool,
}

/// A table: a header row and rows of cells, each cell one line when rendered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Text>>,
    /// Said instead of the table when it has no rows (none: the header alone is shown).
    pub when_empty: Option<Text>,
}

impl Table {
    /// A table with these column titles, every column left-aligned.
    pub fn new<I, T>(titles: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Text>,
    {
        let columns = titles.into_iter().map(|title| Column { title: title.into(), figures: false }).collect();
        Table { columns, rows: Vec::new(), when_empty: None }
    }

    /// Marks the columns at `indexes` (from 0) as figures, right-aligned.
    pub fn figures(mut self, indexes: impl IntoIterator<Item = usize>) -> Self {
        for index in indexes {
            if let Some(column) = self.columns.get_mut(index) {
                column.figures = true;
            }
        }
        self
    }

    /// What is said instead of the table when it has no rows.
    pub fn when_empty(mut self, text: impl Into<Text>) -> Self {
        self.when_empty = Some(text.into());
        self
    }

    /// Adds a row.
    pub fn row(&mut self, cells: impl IntoIterator<Item = Text>) {
        self.rows.push(cells.into_iter().collect());
    }
}

/// One block of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A heading: 2 for a section, 3 for a part of one (1 is the document's title).
    Heading(u8, Text),
    Paragraph(Text),
    Table(Table),
    List(Vec<Item>),
}

/// An item of a list, and the items under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub text: Text,
    pub items: Vec<Text>,
}

/// A report for people: a title and blocks in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub title: Text,
    pub blocks: Vec<Block>,
}

impl Document {
    pub fn new(title: impl Into<Text>) -> Self {
        Document { title: title.into(), blocks: Vec::new() }
    }

    /// Starts a section (a level-2 heading).
    pub fn section(&mut self, title: impl Into<Text>) -> &mut Self {
        self.blocks.push(Block::Heading(2, title.into()));
        self
    }

    /// Starts a part of a section (a level-3 heading).
    pub fn subsection(&mut self, title: impl Into<Text>) -> &mut Self {
        self.blocks.push(Block::Heading(3, title.into()));
        self
    }

    pub fn paragraph(&mut self, text: impl Into<Text>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    pub fn table(&mut self, table: Table) -> &mut Self {
        self.blocks.push(Block::Table(table));
        self
    }

    /// A bulleted list; nothing when `items` is empty.
    pub fn list(&mut self, items: impl IntoIterator<Item = Text>) -> &mut Self {
        self.nested_list(items.into_iter().map(|text| Item { text, items: Vec::new() }))
    }

    /// A bulleted list whose items may have items under them; nothing when `items` is empty.
    pub fn nested_list(&mut self, items: impl IntoIterator<Item = Item>) -> &mut Self {
        let items: Vec<Item> = items.into_iter().collect();
        if !items.is_empty() {
            self.blocks.push(Block::List(items));
        }
        self
    }

    /// The document as Markdown.
    pub fn markdown(&self) -> String {
        markdown::render(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_have_their_thousands_separated_and_excerpts_are_cut() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(excerpt(&"x".repeat(200)).chars().count(), EXCERPT_CHARS);
        assert!(excerpt(&"x".repeat(200)).ends_with("..."));
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn joined_text_puts_our_separator_between_the_items() {
        let joined = Text::join([value("a"), code("b")], ", ");
        assert_eq!(joined.0, [Span::Value("a".into()), Span::Words(", ".into()), Span::Code("b".into())]);
    }
}
