//! Reads a User.com CSV export directory and turns its rows into the host's records, streaming,
//! tolerant of what real exports look like, and never quietly wrong.
//!
//! An export is a directory with one CSV per object (`users.csv`, `companies.csv`, `deals.csv`,
//! ...; see [`FileKind`] for the names accepted). [`Export::open`] finds the files, decides each
//! one's encoding and delimiter ([`sniff`]), and reads the custom attribute definitions.
//! [`Export::records`] then streams one object's records ([`reader::RecordReader`]): columns
//! matched to standard attributes by name and alias, other columns typed as custom attributes
//! ([`columns`]), each cell parsed by the tolerant rules of [`values`]. The small files
//! (pipelines, stages, activity types, tags, segments, automations, email templates, products) are read whole by
//! [`Export::catalogue`].
//!
//! A cell that does not parse is never dropped or coerced: the record keeps the raw text and the
//! reader hands out an [`Issue`] naming file, line, column, value and what was expected. Only a
//! file that cannot be read at all (missing, unreadable, a broken CSV quote) is an error.

pub mod catalogue;
pub mod columns;
pub mod export_time;
pub mod reader;
pub mod sniff;
pub mod values;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use encoding_rs::Encoding;

use crm_migrate_core::record::ObjectKind;

pub use catalogue::Catalogue;
pub use columns::{AttributeDefinition, Column, FieldType, Origin, Target};
pub use reader::{ReadRecord, RecordReader};
pub use sniff::EncodingSource;

/// The files of an export, by what they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Contacts,
    Companies,
    Deals,
    Pipelines,
    Stages,
    Activities,
    /// The catalogue of activity types (id, name) activities reference by id.
    ActivityTypes,
    Events,
    Conversations,
    Tags,
    Segments,
    AttributeDefinitions,
    Automations,
    EmailTemplates,
    /// The catalogue of products (id, name, price, currency) deals' order lines name by id.
    Products,
}

impl FileKind {
    pub const ALL: [FileKind; 15] = [
        FileKind::Contacts,
        FileKind::Companies,
        FileKind::Deals,
        FileKind::Pipelines,
        FileKind::Stages,
        FileKind::Activities,
        FileKind::ActivityTypes,
        FileKind::Events,
        FileKind::Conversations,
        FileKind::Tags,
        FileKind::Segments,
        FileKind::AttributeDefinitions,
        FileKind::Automations,
        FileKind::EmailTemplates,
        FileKind::Products,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Contacts => "contacts",
            FileKind::Companies => "companies",
            FileKind::Deals => "deals",
            FileKind::Pipelines => "pipelines",
            FileKind::Stages => "stages",
            FileKind::Activities => "activities",
            FileKind::ActivityTypes => "activity types",
            FileKind::Events => "events",
            FileKind::Conversations => "conversations",
            FileKind::Tags => "tags",
            FileKind::Segments => "segments",
            FileKind::AttributeDefinitions => "attribute definitions",
            FileKind::Automations => "automations",
            FileKind::EmailTemplates => "email templates",
            FileKind::Products => "products",
        }
    }

    /// File names (without extension, normalized) that hold this object. A name may also carry
    /// a suffix after `_`, as in `users_2024_05_01` or `deals_export`.
    pub fn file_names(self) -> &'static [&'static str] {
        match self {
            FileKind::Contacts => &["users", "contacts", "people", "persons"],
            FileKind::Companies => &["companies", "company"],
            FileKind::Deals => &["deals"],
            FileKind::Pipelines => &["pipelines"],
            FileKind::Stages => &["stages", "pipeline_stages", "deal_stages"],
            FileKind::Activities => &["activities", "tasks"],
            FileKind::ActivityTypes => &["activity_types", "activity_type", "types"],
            FileKind::Events => &["events"],
            FileKind::Conversations => &["conversations", "chat_messages", "messages", "chats"],
            FileKind::Tags => &["tags"],
            FileKind::Segments => &["segments"],
            FileKind::AttributeDefinitions => &["attributes", "custom_attributes", "attribute_definitions"],
            FileKind::Automations => &["automations"],
            FileKind::EmailTemplates => &["email_templates", "templates"],
            FileKind::Products => &["products", "produkty"],
        }
    }

    /// A file some exports have and others not (never listed as missing): the activity types
    /// catalogue, without which activities' types are known by id only, and the products
    /// catalogue, which only accounts selling products through deals have.
    pub fn optional(self) -> bool {
        matches!(self, FileKind::ActivityTypes | FileKind::Products)
    }

    /// The record kind of a file of records; `None` for the catalogues.
    pub fn object_kind(self) -> Option<ObjectKind> {
        Some(match self {
            FileKind::Contacts => ObjectKind::Contact,
            FileKind::Companies => ObjectKind::Company,
            FileKind::Deals => ObjectKind::Deal,
            FileKind::Activities => ObjectKind::Activity,
            FileKind::Events => ObjectKind::Event,
            FileKind::Conversations => ObjectKind::Conversation,
            _ => return None,
        })
    }

    pub fn for_object(kind: ObjectKind) -> FileKind {
        match kind {
            ObjectKind::Contact => FileKind::Contacts,
            ObjectKind::Company => FileKind::Companies,
            ObjectKind::Deal => FileKind::Deals,
            ObjectKind::Activity => FileKind::Activities,
            ObjectKind::Event => FileKind::Events,
            ObjectKind::Conversation => FileKind::Conversations,
        }
    }

    /// Which kind a file name stands for, and whether the name matched exactly (`users.csv`)
    /// rather than by prefix (`users_2024.csv`).
    fn of_file_name(stem: &str) -> Option<(FileKind, bool)> {
        let stem = columns::normalize_header(stem);
        let mut by_prefix = None;
        for kind in FileKind::ALL {
            for name in kind.file_names() {
                if stem == *name {
                    return Some((kind, true));
                }
                if by_prefix.is_none() && stem.strip_prefix(name).is_some_and(|rest| rest.starts_with('_')) {
                    by_prefix = Some((kind, false));
                }
            }
        }
        by_prefix
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file of the export, with what is known about it before reading.
#[derive(Debug, Clone)]
pub struct ExportFile {
    pub kind: FileKind,
    pub path: Arc<Path>,
    pub encoding: &'static Encoding,
    pub encoding_source: EncodingSource,
    /// Bytes of a UTF-8 byte order mark to skip (other encodings' marks the decoder removes).
    pub bom_length: usize,
    pub delimiter: u8,
    /// What one row of the file may hold, enforced while it is read.
    pub limits: InputLimits,
}

impl ExportFile {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map_or_else(|| self.path.display().to_string(), |name| name.to_string_lossy().into_owned())
    }

    pub fn delimiter_name(&self) -> &'static str {
        match self.delimiter {
            b';' => "semicolon",
            b'\t' => "tab",
            _ => "comma",
        }
    }
}

/// How to read an export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Encodings given by the user: for one file (by file name) or, with `None`, for all files.
    pub encodings: Vec<(Option<String>, &'static Encoding)>,
    /// Rows looked at to infer the type of a column that no definition types.
    pub inference_rows: usize,
    pub limits: InputLimits,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions { encodings: Vec::new(), inference_rows: 1000, limits: InputLimits::default() }
    }
}

/// Bounds on one row of an export file, checked on the bytes as they are read, before the CSV
/// parser buffers them: a hostile or broken file (a row of 50,000 commas, a 1 GB cell, a quote
/// that is never closed and swallows the rest of the file) ends in an error naming the file,
/// the line and the limit, with memory bounded by the limits, instead of exhausting it.
/// `[source.limits]` in `migration.toml` raises them for an export that really is that wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputLimits {
    /// Cells in one row (the header included). Real exports have hundreds of custom attributes.
    pub max_columns: u64,
    /// Bytes of one cell, as written in the file (quotes included). Long chat messages run to a
    /// few hundred KB.
    pub max_cell_bytes: u64,
    /// Bytes of one row (its line, or lines when a quoted cell holds line breaks).
    pub max_record_bytes: u64,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits { max_columns: 2_000, max_cell_bytes: 16 << 20, max_record_bytes: 32 << 20 }
    }
}

/// A file that was not read, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IgnoredFile {
    pub file: String,
    pub reason: String,
}

/// An export directory, its files found and missing, and its custom attribute definitions.
#[derive(Debug)]
pub struct Export {
    pub dir: PathBuf,
    pub files: Vec<ExportFile>,
    /// Files every export has that this one lacks ([`FileKind::optional`] ones aside).
    pub missing: Vec<FileKind>,
    pub ignored: Vec<IgnoredFile>,
    pub definitions: Vec<AttributeDefinition>,
    /// Problems in the definitions file itself (unknown types, missing names).
    pub definition_issues: Vec<Issue>,
    pub options: ExportOptions,
    /// When the export was taken ([`export_time::taken_at`]), unix milliseconds.
    pub taken_at: Option<i64>,
}

impl Export {
    /// Finds the export's files and reads the attribute definitions. Nothing is written.
    pub fn open(dir: &Path, options: ExportOptions) -> Result<Export, ExtractError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|error| ExtractError::Directory { path: dir.to_owned(), message: error.to_string() })?;
        let mut names: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|error| ExtractError::Directory { path: dir.to_owned(), message: error.to_string() })?;
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                names.push(entry.path());
            }
        }
        names.sort();
        let mut found: Vec<(FileKind, bool, PathBuf)> = Vec::new();
        let mut ignored = Vec::new();
        for path in names {
            let file_name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
            if !matches!(extension.as_deref(), Some("csv" | "tsv" | "txt")) {
                continue;
            }
            let stem = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            match FileKind::of_file_name(&stem) {
                Some((kind, exact)) => found.push((kind, exact, path)),
                None => ignored.push(IgnoredFile {
                    file: file_name,
                    reason: "not a file User.com exports (unknown name)".to_owned(),
                }),
            }
        }
        // One file per kind: an exact name beats a prefixed one, then the first by name.
        found.sort_by_key(|(kind, exact, path)| (*kind, !*exact, path.clone()));
        let mut files = Vec::new();
        for (kind, _, path) in found {
            if let Some(chosen) = files.iter().find(|file: &&ExportFile| file.kind == kind) {
                ignored.push(IgnoredFile {
                    file: path.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                    reason: format!("{} is read as the {kind} file", chosen.name()),
                });
                continue;
            }
            files.push(sniff_file(kind, &path, &options)?);
        }
        let missing = FileKind::ALL
            .into_iter()
            .filter(|kind| !kind.optional() && !files.iter().any(|file| file.kind == *kind))
            .collect();
        let mut export = Export {
            dir: dir.to_owned(),
            files,
            missing,
            ignored,
            definitions: Vec::new(),
            definition_issues: Vec::new(),
            options,
            taken_at: None,
        };
        export.taken_at = export_time::taken_at(&export.files);
        if let Some(file) = export.file(FileKind::AttributeDefinitions) {
            let (definitions, issues) = catalogue::read_definitions(file)?;
            export.definitions = definitions;
            export.definition_issues = issues;
        }
        Ok(export)
    }

    pub fn file(&self, kind: FileKind) -> Option<&ExportFile> {
        self.files.iter().find(|file| file.kind == kind)
    }

    /// Streams the records of one object; `None` when the export has no such file.
    pub fn records(&self, kind: ObjectKind) -> Result<Option<RecordReader>, ExtractError> {
        match self.file(FileKind::for_object(kind)) {
            Some(file) => RecordReader::open(file, kind, &self.definitions, self.options.inference_rows)
                .map(|reader| Some(reader.with_taken_at(self.taken_at))),
            None => Ok(None),
        }
    }

    /// Pipelines, stages, activity types, tags, segments, automations and email templates (small files, read whole).
    pub fn catalogue(&self) -> Result<Catalogue, ExtractError> {
        catalogue::read_catalogue(self)
    }
}

/// Opens a file and decides its encoding (declared, else detected) and delimiter.
fn sniff_file(kind: FileKind, path: &Path, options: &ExportOptions) -> Result<ExportFile, ExtractError> {
    let file_error = |error: std::io::Error| ExtractError::File { path: path.to_owned(), message: error.to_string() };
    let mut sample = Vec::with_capacity(sniff::SAMPLE_BYTES);
    std::fs::File::open(path)
        .map_err(file_error)?
        .take(sniff::SAMPLE_BYTES as u64)
        .read_to_end(&mut sample)
        .map_err(file_error)?;
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let declared = options
        .encodings
        .iter()
        .find(|(name, _)| name.as_deref().is_some_and(|name| name.eq_ignore_ascii_case(&file_name)))
        .or_else(|| options.encodings.iter().find(|(name, _)| name.is_none()))
        .map(|(_, encoding)| *encoding);
    let (encoding, encoding_source, bom_length) = match (declared, encoding_rs::Encoding::for_bom(&sample)) {
        // A byte order mark is the file's own statement; it beats a declaration.
        (_, Some((encoding, length))) => (encoding, EncodingSource::ByteOrderMark, length),
        (Some(encoding), None) => (encoding, EncodingSource::Declared, 0),
        (None, None) => sniff::detect_encoding(&sample),
    };
    let (text, _) = encoding.decode_without_bom_handling(&sample[bom_length..]);
    let delimiter = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("tsv")) {
        b'\t'
    } else {
        sniff::sniff_delimiter(&text)
    };
    let bom_length = if encoding == encoding_rs::UTF_8 { bom_length } else { 0 };
    Ok(ExportFile { kind, path: path.into(), encoding, encoding_source, bom_length, delimiter, limits: options.limits })
}

/// A value or row that did not read as expected. The record keeps the raw value.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub file: Arc<Path>,
    /// The line the record starts on (1 is the header).
    pub line: u64,
    /// The column's header as written, or `(row)` for a problem with the whole row.
    pub column: String,
    /// The record field the column becomes.
    pub field: String,
    /// The raw value; `(hidden)` for secret columns.
    pub value: String,
    pub expected: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file =
            self.file.file_name().map_or_else(|| self.file.display().to_string(), |n| n.to_string_lossy().into_owned());
        write!(f, "{file}, line {}, column '{}': '{}', expected {}", self.line, self.column, self.value, self.expected)
    }
}

/// An export that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("cannot read the export directory {path}: {message}")]
    Directory { path: PathBuf, message: String },
    #[error("cannot read {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}, line {line}: {message}")]
    Row { path: PathBuf, line: u64, message: String },
    /// A row over one of the [`InputLimits`]; `limit` is the setting's name, `found` what is
    /// counted ("cells in one row") and any hint.
    #[error(
        "{path}, line {line}: more than {max} {found} (the limit {limit}); nothing was read past it. If the export is right, raise it in migration.toml: [source.limits] {limit} = {suggested}",
        suggested = .max.saturating_mul(4)
    )]
    Limit { path: PathBuf, line: u64, limit: &'static str, max: u64, found: String },
}
