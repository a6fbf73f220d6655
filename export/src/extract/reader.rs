//! Streams one file's rows as typed records. Memory stays flat: one row at a time (plus the
//! first rows, held while an undefined column's type is inferred), and a caller that reuses its
//! [`ReadRecord`] allocates nothing per record once the buffers have grown.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crm_migrate_core::record::{ObjectKind, Record, Value};

use super::columns::{self, AttributeDefinition, Column, FieldType};
use super::sniff::DecodingReader;
use super::values::{self, Moment};
use super::{ExportFile, ExtractError, InputLimits, Issue};

/// Counts line breaks in what the CSV parser reads, so that a record's line is exact, and holds
/// each row to the file's [`InputLimits`] before the parser buffers it.
///
/// The `csv` crate's record positions are off by one after a CRLF line end (the record is said
/// to start at the pending `\n`, on the previous line) and after blank lines. Here the offsets of
/// `\r` and `\n` bytes are remembered from where the last record started up to what the parser
/// has read ahead (bounded by its buffer), and a record's line is counted from them.
pub(crate) struct LineCounter {
    inner: Box<dyn Read + Send>,
    /// Offsets of `\r` (false) and `\n` (true) not yet behind a record start.
    breaks: VecDeque<(u64, bool)>,
    /// Bytes handed to the parser so far.
    offset: u64,
    /// Line breaks before the oldest remembered one.
    lines_before: u64,
    bounds: Bounds,
    /// A limit the bytes read ahead broke: given to the parser once it has taken the bytes
    /// before it (so that every row before the offending one is read as usual).
    broken: Option<BoundBroken>,
}

impl Read for LineCounter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(broken) = self.broken.take() {
            return Err(std::io::Error::other(broken));
        }
        let mut n = self.inner.read(buf)?;
        if n == 0 {
            if let Some(broken) = self.bounds.at_end() {
                return Err(std::io::Error::other(broken));
            }
            return Ok(0);
        }
        if let Some((at, broken)) = self.bounds.scan(&buf[..n]) {
            // Hand over what comes before the offending byte; the error comes next.
            if at == 0 {
                return Err(std::io::Error::other(broken));
            }
            self.broken = Some(broken);
            n = at;
        }
        for at in memchr::memchr2_iter(b'\r', b'\n', &buf[..n]) {
            self.breaks.push_back((self.offset + at as u64, buf[at] == b'\n'));
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// Where [`Bounds`] is within a row, as the CSV parser will read it (quotes open a quoted cell
/// only at a cell's start; `""` inside one is a quote).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellState {
    Start,
    Unquoted,
    Quoted,
    /// A quote inside a quoted cell: its end, or the first of `""`.
    QuoteInQuoted,
}

/// Follows the rows of a file as the CSV parser will read them, with a few counters and nothing
/// buffered, and says where one breaks a limit on bytes. Only quotes and line ends are looked
/// at one by one (found with `memchr`); the delimiters of an unquoted stretch are found with one
/// search from its end, so that following costs a fraction of the parse itself. Cells per row
/// are counted on the parsed row ([`check_columns`]): the parser's cost for a wide row is one
/// offset per cell, bounded by `max_record_bytes`.
#[derive(Debug)]
pub(crate) struct Bounds {
    limits: InputLimits,
    delimiter: u8,
    in_record: bool,
    state: CellState,
    /// The line being read (1-based), the line the current row starts on, and the line of the
    /// quote that opened the current quoted cell.
    line: u64,
    record_line: u64,
    quote_line: u64,
    cell_bytes: u64,
    record_bytes: u64,
    /// Delimiters counted once the row is longer than `max_columns` bytes (before that it
    /// cannot have too many cells): over `max_columns`, the row surely is; below, the parsed
    /// row's count decides, and the parser holds at most twice the limit in offsets.
    delimiters: u64,
}

/// A row over a limit (or a file ending inside a quoted cell), found while reading.
#[derive(Debug, Clone)]
pub(crate) struct BoundBroken {
    pub line: u64,
    /// The setting's name; `None` for a quote that the file ends inside.
    pub limit: Option<&'static str>,
    pub max: u64,
    pub found: String,
}

impl std::fmt::Display for BoundBroken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.found)
    }
}

impl std::error::Error for BoundBroken {}

impl Bounds {
    pub(crate) fn new(limits: InputLimits, delimiter: u8) -> Bounds {
        Bounds {
            limits,
            delimiter,
            in_record: false,
            state: CellState::Start,
            line: 1,
            record_line: 1,
            quote_line: 1,
            cell_bytes: 0,
            record_bytes: 0,
            delimiters: 0,
        }
    }

    /// Follows `buf`; returns the offset of the first byte that breaks a limit, and which.
    pub(crate) fn scan(&mut self, buf: &[u8]) -> Option<(usize, BoundBroken)> {
        let mut i = 0;
        while i < buf.len() {
            if !self.in_record {
                // Line ends and blank lines between rows.
                let byte = buf[i];
                if byte == b'\n' || byte == b'\r' {
                    self.line += u64::from(byte == b'\n');
                    i += 1;
                    continue;
                }
                self.in_record = true;
                self.record_line = self.line;
                self.state = CellState::Start;
                self.cell_bytes = 0;
                self.record_bytes = 0;
                self.delimiters = 0;
            }
            match self.state {
                CellState::Quoted => {
                    let run = memchr::memchr(b'"', &buf[i..]).unwrap_or(buf.len() - i);
                    self.line += memchr::memchr_iter(b'\n', &buf[i..i + run]).count() as u64;
                    if let Some(broken) = self.grow(i, run as u64, run as u64) {
                        return Some(broken);
                    }
                    i += run;
                    if i < buf.len() {
                        // Its end, or the first of `""`.
                        self.state = CellState::QuoteInQuoted;
                        if let Some(broken) = self.grow(i, 1, 1) {
                            return Some(broken);
                        }
                        i += 1;
                    }
                }
                CellState::QuoteInQuoted if buf[i] == b'"' => {
                    self.state = CellState::Quoted;
                    if let Some(broken) = self.grow(i, 1, 1) {
                        return Some(broken);
                    }
                    i += 1;
                }
                CellState::Start if buf[i] == b'"' => {
                    self.state = CellState::Quoted;
                    self.quote_line = self.line;
                    if let Some(broken) = self.grow(i, 1, 1) {
                        return Some(broken);
                    }
                    i += 1;
                }
                _ => {
                    // Unquoted bytes (after a closing quote too, as the parser takes them) up to
                    // the next quote or line end; a delimiter among them ends a cell.
                    let length = memchr::memchr3(b'"', b'\n', b'\r', &buf[i..]).unwrap_or(buf.len() - i);
                    if length > 0 {
                        if let Some(broken) = self.unquoted(i, &buf[i..i + length]) {
                            return Some(broken);
                        }
                        i += length;
                    }
                    match buf.get(i) {
                        // A quote at a cell's start opens it (next turn); elsewhere it is a byte.
                        Some(b'"') if self.state != CellState::Start => {
                            self.state = CellState::Unquoted;
                            if let Some(broken) = self.grow(i, 1, 1) {
                                return Some(broken);
                            }
                            i += 1;
                        }
                        Some(b'\n' | b'\r') => self.in_record = false,
                        _ => {}
                    }
                }
            }
        }
        None
    }

    /// A stretch of unquoted bytes starting at `at`.
    fn unquoted(&mut self, at: usize, span: &[u8]) -> Option<(usize, BoundBroken)> {
        let length = span.len() as u64;
        if self.record_bytes + length > self.limits.max_columns {
            let delimiter = self.delimiter;
            self.delimiters += span.iter().filter(|byte| **byte == delimiter).count() as u64;
            if self.delimiters >= self.limits.max_columns {
                return Some((at, self.broken("max_columns", self.limits.max_columns, "cells in one row".to_owned())));
            }
        }
        if self.cell_bytes + length <= self.limits.max_cell_bytes {
            // No cell in it can be over the limit: only the row's length and the last cell's count.
            if let Some(broken) = self.grow(at, 0, length) {
                return Some(broken);
            }
            match memchr::memrchr(self.delimiter, span) {
                Some(last) => {
                    self.cell_bytes = length - last as u64 - 1;
                    self.state = if self.cell_bytes == 0 { CellState::Start } else { CellState::Unquoted };
                }
                None => {
                    self.cell_bytes += length;
                    self.state = CellState::Unquoted;
                }
            }
            return None;
        }
        // A long stretch (longer than a cell may be): cell by cell.
        let mut start = 0;
        for end in memchr::memchr_iter(self.delimiter, span).chain(std::iter::once(span.len())) {
            let piece = (end - start) as u64;
            if let Some(broken) = self.grow(at + start, piece, piece) {
                return Some(broken);
            }
            if piece > 0 {
                self.state = CellState::Unquoted;
            }
            if end < span.len() {
                if let Some(broken) = self.grow(at + end, 0, 1) {
                    return Some(broken);
                }
                self.cell_bytes = 0;
                self.state = CellState::Start;
                start = end + 1;
            }
        }
        None
    }

    /// Adds `cell` bytes to the current cell and `record` bytes to the row, from offset `at`;
    /// over a limit, the offset of the first byte past it. Inline: it runs for every quote.
    #[inline]
    fn grow(&mut self, at: usize, cell: u64, record: u64) -> Option<(usize, BoundBroken)> {
        let cell_room = self.limits.max_cell_bytes.saturating_sub(self.cell_bytes);
        let record_room = self.limits.max_record_bytes.saturating_sub(self.record_bytes);
        self.cell_bytes += cell;
        self.record_bytes += record;
        if cell <= cell_room && record <= record_room {
            return None;
        }
        Some(self.over(at, (cell > cell_room).then_some(cell_room), (record > record_room).then_some(record_room)))
    }

    /// The limit a [`Bounds::grow`] broke: the one whose room ran out first.
    #[cold]
    fn over(&self, at: usize, cell_over: Option<u64>, record_over: Option<u64>) -> (usize, BoundBroken) {
        match (cell_over, record_over) {
            (Some(cell), record) if record.is_none_or(|record| cell <= record) => (
                at + cell as usize,
                self.broken(
                    "max_cell_bytes",
                    self.limits.max_cell_bytes,
                    format!("bytes in one cell{}", self.unclosed()),
                ),
            ),
            (_, Some(record)) => (
                at + record as usize,
                self.broken(
                    "max_record_bytes",
                    self.limits.max_record_bytes,
                    format!("bytes in one row{}", self.unclosed()),
                ),
            ),
            (Some(_), None) | (None, None) => unreachable!("over a limit, matched above"),
        }
    }

    fn unclosed(&self) -> String {
        if self.state == CellState::Quoted && self.quote_line != self.line {
            format!(", from a quote opened on line {} (never closed?)", self.quote_line)
        } else {
            String::new()
        }
    }

    /// At the end of the file: a quoted cell still open is an error (the parser would end it
    /// quietly, with every row after its quote inside it).
    pub(crate) fn at_end(&self) -> Option<BoundBroken> {
        (self.in_record && self.state == CellState::Quoted).then(|| BoundBroken {
            line: self.record_line,
            limit: None,
            max: 0,
            found: format!(
                "the quote opened on line {} is never closed: the file ends inside it (a truncated export, or a stray quote; every row after it would be part of one cell)",
                self.quote_line
            ),
        })
    }

    fn broken(&self, limit: &'static str, max: u64, found: String) -> BoundBroken {
        BoundBroken { line: self.record_line, limit: Some(limit), max, found }
    }
}

impl LineCounter {
    pub(crate) fn new(inner: Box<dyn Read + Send>, bounds: Bounds) -> LineCounter {
        LineCounter { inner, breaks: VecDeque::new(), offset: 0, lines_before: 0, bounds, broken: None }
    }

    /// The line (1-based) a record starts on, given the byte offset the parser says it starts
    /// at. Call it for records in order.
    fn start_line(&mut self, byte: u64) -> u64 {
        while let Some(&(at, is_newline)) = self.breaks.front() {
            if at >= byte {
                break;
            }
            self.lines_before += u64::from(is_newline);
            self.breaks.pop_front();
        }
        // Line ends and blank lines before the record's first byte.
        let mut cursor = byte;
        while let Some(&(at, is_newline)) = self.breaks.front() {
            if at != cursor {
                break;
            }
            self.lines_before += u64::from(is_newline);
            self.breaks.pop_front();
            cursor += 1;
        }
        self.lines_before + 1
    }
}

/// The exact line a record read by `csv` starts on.
pub(crate) fn record_line(csv: &mut csv::Reader<LineCounter>, position: Option<&csv::Position>) -> u64 {
    position.map_or(0, |position| csv.get_mut().start_line(position.byte()))
}

/// A CSV reader over a file of the export, decoding it to UTF-8 as it goes.
pub(crate) fn open_csv(file: &ExportFile) -> Result<csv::Reader<LineCounter>, ExtractError> {
    let file_error =
        |error: std::io::Error| ExtractError::File { path: file.path.to_path_buf(), message: error.to_string() };
    let mut handle = std::fs::File::open(&file.path).map_err(file_error)?;
    let input: Box<dyn Read + Send> = if file.encoding == encoding_rs::UTF_8 {
        handle.seek(SeekFrom::Start(file.bom_length as u64)).map_err(file_error)?;
        Box::new(handle)
    } else {
        Box::new(DecodingReader::new(handle, file.encoding))
    };
    let counter = LineCounter::new(input, Bounds::new(file.limits, file.delimiter));
    Ok(csv::ReaderBuilder::new()
        .delimiter(file.delimiter)
        .flexible(true)
        .has_headers(false)
        .buffer_capacity(64 * 1024)
        .from_reader(counter))
}

pub(crate) fn csv_error(path: &Path, error: csv::Error) -> ExtractError {
    if let csv::ErrorKind::Io(io) = error.kind()
        && let Some(broken) = io.get_ref().and_then(|inner| inner.downcast_ref::<BoundBroken>())
    {
        return match broken.limit {
            Some(limit) => ExtractError::Limit {
                path: path.to_owned(),
                line: broken.line,
                limit,
                max: broken.max,
                found: broken.found.clone(),
            },
            None => ExtractError::Row { path: path.to_owned(), line: broken.line, message: broken.found.clone() },
        };
    }
    match error.position() {
        Some(position) => {
            ExtractError::Row { path: path.to_owned(), line: position.line(), message: error.to_string() }
        }
        None => ExtractError::File { path: path.to_owned(), message: error.to_string() },
    }
}

/// A row of more cells than `max_columns` allows. Counted on the parsed row: the parser holds
/// one offset per cell of a row whose bytes [`Bounds`] has already bounded.
pub(crate) fn check_columns(
    csv: &csv::Reader<LineCounter>,
    path: &Path,
    line: u64,
    cells: usize,
) -> Result<(), ExtractError> {
    let max = csv.get_ref().bounds.limits.max_columns;
    if cells as u64 > max {
        return Err(ExtractError::Limit {
            path: path.to_owned(),
            line,
            limit: "max_columns",
            max,
            found: "cells in one row".to_owned(),
        });
    }
    Ok(())
}

/// Reads the header row as text.
pub(crate) fn read_header(csv: &mut csv::Reader<LineCounter>, path: &Path) -> Result<Vec<String>, ExtractError> {
    let mut header = csv::ByteRecord::new();
    if !csv.read_byte_record(&mut header).map_err(|error| csv_error(path, error))? {
        return Ok(Vec::new());
    }
    check_columns(csv, path, header.position().map_or(1, csv::Position::line), header.len())?;
    Ok(header.iter().map(|field| String::from_utf8_lossy(field).into_owned()).collect())
}

/// Bytes of rows held at most while column types are inferred.
const INFERENCE_BYTES: usize = 64 << 20;

static NEXT_READER: AtomicU64 = AtomicU64::new(1);

/// A record read from a file: the record, the line it starts on, and its issues.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    pub record: Record,
    pub line: u64,
    pub issues: Vec<Issue>,
    /// The reader whose field layout `record.fields` has (0: none yet).
    layout: u64,
}

impl ReadRecord {
    pub fn new(kind: ObjectKind) -> Self {
        ReadRecord { record: Record::new(kind, ""), line: 0, issues: Vec::new(), layout: 0 }
    }
}

/// Streams the records of one file. Iterate it, or call [`RecordReader::read_into`] with one
/// [`ReadRecord`] reused for every row (the fast way: no allocation per record).
pub struct RecordReader {
    path: Arc<Path>,
    kind: ObjectKind,
    rows: Rows,
    columns: Vec<Column>,
    id_column: Option<usize>,
    /// Rows read ahead for type inference (with their lines), given out before the rest.
    held: VecDeque<(csv::ByteRecord, u64)>,
    row: csv::ByteRecord,
    /// The row's text, when a parse-ahead thread checked it ([`Rows::Ahead`]).
    text: String,
    id: u64,
    /// Text that was not valid UTF-8 (in a file read as UTF-8), decoded with replacements.
    scratch: String,
    pool: Pool,
    pub stats: ReadStats,
    /// When the export was taken: an event's time after it is an issue.
    taken_at: Option<i64>,
    /// By position in `columns`: whether a cell's typed value is put in the record (see
    /// [`RecordReader::type_only`]); a column not kept is only checked.
    keep: Vec<bool>,
    /// The file's size when opened ([`RecordReader::rows_estimate`]).
    file_bytes: u64,
}

/// What the reader noticed that is not an issue of one value.
#[derive(Debug, Clone, Default)]
pub struct ReadStats {
    pub rows: u64,
    /// Per column: datetimes without a zone, read as UTC.
    pub zoneless_datetimes: Vec<u64>,
}

impl RecordReader {
    pub fn open(
        file: &ExportFile,
        kind: ObjectKind,
        definitions: &[AttributeDefinition],
        inference_rows: usize,
    ) -> Result<Self, ExtractError> {
        let mut csv = open_csv(file)?;
        let file_bytes = std::fs::metadata(&file.path).map_or(0, |metadata| metadata.len());
        let headers = read_header(&mut csv, &file.path)?;
        let (mut columns, to_infer) = columns::plan_columns(kind, &headers, definitions);
        let mut held = VecDeque::new();
        if !to_infer.is_empty() {
            // Rows of up to max_record_bytes each: the sample also stops at INFERENCE_BYTES.
            let mut held_bytes = 0;
            for _ in 0..inference_rows {
                let mut row = csv::ByteRecord::new();
                if !csv.read_byte_record(&mut row).map_err(|error| csv_error(&file.path, error))? {
                    break;
                }
                let line = record_line(&mut csv, row.position());
                check_columns(&csv, &file.path, line, row.len())?;
                held_bytes += row.as_slice().len();
                held.push_back((row, line));
                if held_bytes > INFERENCE_BYTES {
                    break;
                }
            }
            columns::decide_from_values(kind, &mut columns, &to_infer, |index| {
                held.iter()
                    .filter_map(|(row, _)| row.get(index))
                    .filter_map(|bytes| std::str::from_utf8(bytes).ok())
                    .collect()
            });
        }
        let id_column = columns.iter().position(|column| column.ty == FieldType::Id);
        let column_count = columns.len();
        Ok(RecordReader {
            path: file.path.clone(),
            kind,
            rows: Rows::Here(csv),
            columns,
            id_column,
            held,
            row: csv::ByteRecord::new(),
            text: String::new(),
            id: NEXT_READER.fetch_add(1, Ordering::Relaxed),
            scratch: String::new(),
            pool: Pool::default(),
            stats: ReadStats { rows: 0, zoneless_datetimes: vec![0; column_count] },
            taken_at: None,
            keep: vec![true; column_count],
            file_bytes,
        })
    }

    /// Reads event times after `taken_at` as issues ([`super::export_time`]).
    pub fn with_taken_at(mut self, taken_at: Option<i64>) -> Self {
        self.taken_at = taken_at;
        self
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Parses the file's CSV on a thread of its own, a few batches of rows ahead of the records
    /// read (the rows, their lines and their UTF-8 check): on a machine with a core to spare the
    /// parse and the typing overlap. Records, lines, issues and errors are the same, in the same
    /// order; memory grows by the batches in flight (a few hundred KB, see [`BATCH_BYTES`]).
    pub fn parse_ahead(self) -> Result<Self, ExtractError> {
        match self.rows {
            Rows::Here(csv) => {
                let ahead = Ahead::start(csv, self.path.clone())?;
                Ok(RecordReader { rows: Rows::Ahead(ahead), ..self })
            }
            rows @ Rows::Ahead(_) => Ok(RecordReader { rows, ..self }),
        }
    }

    /// Puts only the fields at `fields` (positions in `record.fields`) in the records read from
    /// now on; every other field stays null. Its cells are still checked, each issue and count
    /// as before: a reader whose consumer looks at a few fields (the audit) does not pay for
    /// copying and storing the others. Choice lists are kept regardless (they are parsed into
    /// their slot), and so is every field of a file whose times are checked against the
    /// export's (the check reads the typed value).
    pub fn type_only(&mut self, fields: &[usize]) {
        let mut field = 0;
        for (keep, column) in self.keep.iter_mut().zip(&self.columns) {
            if column.ty == FieldType::Id {
                continue;
            }
            *keep = fields.contains(&field) || column.ty == FieldType::Choices;
            field += 1;
        }
    }

    pub fn path(&self) -> &Arc<Path> {
        &self.path
    }

    /// About how many records the file holds: its size over the bytes each row read so far
    /// took. `None` before the first record. For a caller that keeps something per record and
    /// would rather make room once than grow by doubling; only a guess (rows vary in length).
    pub fn rows_estimate(&self) -> Option<u64> {
        let start = self.row.position()?.byte();
        (start > 0 && self.stats.rows > 0).then(|| self.file_bytes.saturating_mul(self.stats.rows) / start)
    }

    /// Whether the file has an id column (without one, records are named `line-N`).
    pub fn has_id_column(&self) -> bool {
        self.id_column.is_some()
    }

    /// Reads the next record into `out`, reusing its buffers. `Ok(false)` at the end of the file.
    pub fn read_into(&mut self, out: &mut ReadRecord) -> Result<bool, ExtractError> {
        let (line, checked) = loop {
            let (line, checked) = match self.held.pop_front() {
                Some((row, line)) => {
                    self.row = row;
                    (line, None)
                }
                None => match &mut self.rows {
                    Rows::Here(csv) => {
                        if !csv.read_byte_record(&mut self.row).map_err(|error| csv_error(&self.path, error))? {
                            return Ok(false);
                        }
                        let line = record_line(csv, self.row.position());
                        check_columns(csv, &self.path, line, self.row.len())?;
                        (line, None)
                    }
                    Rows::Ahead(ahead) => match ahead.next(&mut self.row, &mut self.text)? {
                        Some((line, utf8)) => (line, Some(utf8)),
                        None => return Ok(false),
                    },
                },
            };
            // A line of only spaces is not a record.
            if !(self.row.len() == 1 && self.row[0].iter().all(u8::is_ascii_whitespace)) {
                break (line, checked);
            }
        };
        self.stats.rows += 1;
        out.line = line;
        out.issues.clear();
        out.record.kind = self.kind;
        let layout_fits = out.layout == self.id && out.record.fields.len() == self.field_count();
        if !layout_fits {
            out.record.fields =
                self.columns.iter().filter(|c| c.ty != FieldType::Id).map(|c| (c.field.clone(), Value::Null)).collect();
            out.layout = self.id;
        }

        let RecordReader { path, columns, row, text, scratch, stats, pool, kind, taken_at, keep, .. } = self;
        // One UTF-8 check for the whole row (here, or by the parse-ahead thread, which hands over
        // the row's text); a cell is then valid unless its ends split a character (possible only
        // where the file is not UTF-8 to begin with).
        let whole = match checked {
            Some(utf8) => utf8.then_some(text.as_str()),
            None => std::str::from_utf8(row.as_slice()).ok(),
        };
        // Only an event's time can be after the export: other files skip the check per cell.
        let taken_at = taken_at.filter(|_| *kind == ObjectKind::Event);
        let mut field = 0;
        for (column, keep) in columns.iter().zip(keep.iter()) {
            let cell = row.range(column.index).and_then(|range| whole.and_then(|whole| whole.get(range)));
            let text = match cell {
                Some(text) => text,
                None => {
                    let bytes = row.get(column.index).unwrap_or_default();
                    match std::str::from_utf8(bytes) {
                        Ok(text) => text,
                        Err(_) => {
                            *scratch = String::from_utf8_lossy(bytes).into_owned();
                            out.issues.push(make_issue(
                                path,
                                line,
                                column,
                                scratch,
                                "UTF-8 text (the file was read as UTF-8: name its encoding with --encoding FILE=LABEL)"
                                    .to_owned(),
                            ));
                            scratch.as_str()
                        }
                    }
                }
            };
            if column.ty == FieldType::Id {
                out.record.source_id.clear();
                out.record.source_id.push_str(values::trim(text));
                continue;
            }
            let slot = &mut out.record.fields[field].1;
            field += 1;
            let typed = *keep || taken_at.is_some();
            let zoneless = &mut stats.zoneless_datetimes[column.index];
            if let Some(expected) = parse_cell(column, text, typed.then_some(&mut *slot), zoneless, pool) {
                out.issues.push(make_issue(path, line, column, text, expected));
            } else if let Some(expected) =
                taken_at.and_then(|taken_at| super::export_time::after_export(*kind, column, slot, taken_at))
            {
                pool.set_text(slot, text);
                out.issues.push(make_issue(path, line, column, text, expected));
            }
        }
        if self.id_column.is_none() || out.record.source_id.is_empty() {
            out.record.source_id.clear();
            out.record.source_id.push_str(&format!("line-{line}"));
            if self.id_column.is_some() {
                out.issues.push(Issue {
                    file: self.path.clone(),
                    line,
                    column: "id".to_owned(),
                    field: "id".to_owned(),
                    value: String::new(),
                    expected: format!("an id (the record is named line-{line})"),
                });
            }
        }
        // Cells beyond the header are kept, under names of their own, and reported.
        let row = &self.row;
        if row.len() != self.columns.len() {
            for (extra, bytes) in row.iter().enumerate().skip(self.columns.len()) {
                let name = format!("column_{}", extra + 1);
                out.record.fields.push((name, Value::Text(String::from_utf8_lossy(bytes).into_owned())));
            }
            out.issues.push(Issue {
                file: self.path.clone(),
                line,
                column: "(row)".to_owned(),
                field: "(row)".to_owned(),
                value: format!("{} cells", row.len()),
                expected: format!("{} cells, as in the header", self.columns.len()),
            });
        }
        Ok(true)
    }

    fn field_count(&self) -> usize {
        self.columns.len() - usize::from(self.id_column.is_some())
    }
}

/// Where a reader's rows come from.
enum Rows {
    /// Parsed here, as each record is read.
    Here(csv::Reader<LineCounter>),
    /// Parsed ahead by a thread of their own ([`RecordReader::parse_ahead`]).
    Ahead(Ahead),
}

/// Rows per batch handed from the parse-ahead thread, and bytes: past either the batch goes.
/// Large enough that the hand-over costs nothing per row, small enough to stay in cache.
const BATCH_ROWS: usize = 1024;
const BATCH_BYTES: usize = 256 << 10;
/// Full batches waiting for the reader: with the one being filled and the one being read, at
/// most ten batches' rows are in memory (2.5 MB of cells, as much again in their text, and their
/// cell offsets: about 15 MB more peak RSS at 100,000 contacts, whatever the size). Deep enough that the reader does not
/// run dry while a busy machine leaves the thread waiting for a core for a few milliseconds.
const BATCHES_AHEAD: usize = 8;
/// A row's buffers are dropped rather than kept for reuse when the row was longer than this:
/// one long row (up to `max_record_bytes`) does not stay in every slot it passed through.
const KEEP_ROW_BYTES: usize = 64 << 10;

/// The reader's end of a parse-ahead thread: full batches come in, read ones go back for reuse.
struct Ahead {
    full: Option<std::sync::mpsc::Receiver<Batch>>,
    empty: std::sync::mpsc::Sender<Batch>,
    batch: Batch,
    next: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Rows parsed ahead, and how the file went on after them.
#[derive(Default)]
struct Batch {
    rows: Vec<AheadRow>,
    len: usize,
    /// The file ended after these rows, or broke (the error, given after the rows).
    end: Option<Result<(), ExtractError>>,
}

#[derive(Default)]
struct AheadRow {
    row: csv::ByteRecord,
    line: u64,
    /// The row's bytes as text, when they are UTF-8 (`utf8`).
    text: String,
    utf8: bool,
}

impl Ahead {
    fn start(csv: csv::Reader<LineCounter>, path: Arc<Path>) -> Result<Ahead, ExtractError> {
        let (full_sender, full) = std::sync::mpsc::sync_channel(BATCHES_AHEAD);
        let (empty, empty_receiver) = std::sync::mpsc::channel();
        let thread_path = path.clone();
        let thread = std::thread::Builder::new()
            .name("csv-parse-ahead".to_owned())
            .spawn(move || parse_ahead(csv, &thread_path, &full_sender, &empty_receiver))
            .map_err(|error| ExtractError::File {
                path: path.to_path_buf(),
                message: format!("cannot start a thread to parse it: {error}"),
            })?;
        Ok(Ahead { full: Some(full), empty, batch: Batch::default(), next: 0, thread: Some(thread) })
    }

    /// The next row into `row` and `text` (swapped in: their buffers go back to the thread):
    /// its line and whether `text` holds it. `None` at the end of the file.
    fn next(&mut self, row: &mut csv::ByteRecord, text: &mut String) -> Result<Option<(u64, bool)>, ExtractError> {
        loop {
            if self.next < self.batch.len {
                let slot = &mut self.batch.rows[self.next];
                self.next += 1;
                std::mem::swap(row, &mut slot.row);
                std::mem::swap(text, &mut slot.text);
                return Ok(Some((slot.line, slot.utf8)));
            }
            if let Some(end) = self.batch.end.take() {
                self.full = None;
                return end.map(|()| None);
            }
            let Some(full) = &self.full else { return Ok(None) };
            let Ok(batch) = full.recv() else {
                // The thread is gone without saying how the file ended: it panicked.
                if let Some(Err(panic)) = self.thread.take().map(std::thread::JoinHandle::join) {
                    std::panic::resume_unwind(panic);
                }
                return Ok(None);
            };
            let read = std::mem::replace(&mut self.batch, batch);
            self.next = 0;
            // The thread may be done: then the batch is simply dropped.
            let _ = self.empty.send(read);
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        // Without a receiver the thread stops at its next batch.
        self.full = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The parse-ahead thread: rows into batches (reused once read) until the file ends, breaks,
/// or the reader is dropped.
fn parse_ahead(
    mut csv: csv::Reader<LineCounter>,
    path: &Path,
    full: &std::sync::mpsc::SyncSender<Batch>,
    empty: &std::sync::mpsc::Receiver<Batch>,
) {
    loop {
        let mut batch = empty.try_recv().unwrap_or_default();
        batch.len = 0;
        let mut bytes = 0;
        while batch.end.is_none() && batch.len < BATCH_ROWS && bytes < BATCH_BYTES {
            if batch.len == batch.rows.len() {
                batch.rows.push(AheadRow::default());
            }
            let slot = &mut batch.rows[batch.len];
            if slot.row.as_slice().len() > KEEP_ROW_BYTES || slot.text.capacity() > KEEP_ROW_BYTES {
                *slot = AheadRow::default();
            }
            match csv.read_byte_record(&mut slot.row) {
                Ok(true) => {}
                Ok(false) => {
                    batch.end = Some(Ok(()));
                    break;
                }
                Err(error) => {
                    batch.end = Some(Err(csv_error(path, error)));
                    break;
                }
            }
            slot.line = record_line(&mut csv, slot.row.position());
            if let Err(error) = check_columns(&csv, path, slot.line, slot.row.len()) {
                batch.end = Some(Err(error));
                break;
            }
            slot.text.clear();
            slot.utf8 = match std::str::from_utf8(slot.row.as_slice()) {
                Ok(text) => {
                    slot.text.push_str(text);
                    true
                }
                Err(_) => false,
            };
            bytes += slot.row.as_slice().len();
            batch.len += 1;
        }
        let ended = batch.end.is_some();
        if full.send(batch).is_err() || ended {
            return;
        }
    }
}

fn make_issue(path: &Arc<Path>, line: u64, column: &Column, value: &str, expected: String) -> Issue {
    let value = if column.ty == FieldType::Secret { "(hidden)".to_owned() } else { value.to_owned() };
    Issue { file: path.clone(), line, column: column.header.clone(), field: column.field.clone(), value, expected }
}

impl Iterator for RecordReader {
    type Item = Result<ReadRecord, ExtractError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut out = ReadRecord::new(self.kind);
        match self.read_into(&mut out) {
            Ok(true) => Some(Ok(out)),
            Ok(false) => None,
            Err(error) => Some(Err(error)),
        }
    }
}

/// Strings freed when a cell turns null, for the next cell that needs one: a column that is
/// sometimes empty does not cost an allocation and a free per record.
#[derive(Default)]
struct Pool(Vec<String>);

impl Pool {
    /// Puts `value` in `slot`, keeping what the slot held for later.
    #[inline]
    fn replace(&mut self, slot: &mut Value, value: Value) {
        if !matches!(slot, Value::Text(_) | Value::Choices(_)) {
            // Nothing to keep (a number, date, boolean or null): overwrite in place.
            *slot = value;
            return;
        }
        match std::mem::replace(slot, value) {
            Value::Text(text) if self.0.len() < 64 => self.0.push(text),
            Value::Choices(mut choices) if self.0.len() < 64 => self.0.extend(choices.drain(..).take(8)),
            _ => {}
        }
    }

    #[inline]
    fn set_text(&mut self, slot: &mut Value, text: &str) {
        match slot {
            Value::Text(existing) => {
                existing.clear();
                existing.push_str(text);
            }
            _ => {
                let mut string = self.0.pop().unwrap_or_default();
                string.clear();
                string.push_str(text);
                self.replace(slot, Value::Text(string));
            }
        }
    }
}

/// Parses one cell into `slot` (`None`: only checks it, see [`RecordReader::type_only`]).
/// Returns what was expected when the cell does not fit its type; the slot then holds the raw
/// text.
fn parse_cell(
    column: &Column,
    raw: &str,
    slot: Option<&mut Value>,
    zoneless: &mut u64,
    pool: &mut Pool,
) -> Option<String> {
    let trimmed = values::trim(raw);
    let mut slot = slot;
    if raw.is_empty() || (trimmed.is_empty() && !matches!(column.ty, FieldType::Text | FieldType::Secret)) {
        if let Some(slot) = slot {
            pool.replace(slot, Value::Null);
        }
        return None;
    }
    let set_text = |pool: &mut Pool, slot: &mut Option<&mut Value>, text: &str| {
        if let Some(slot) = slot {
            pool.set_text(slot, text);
        }
    };
    let parsed = match column.ty {
        FieldType::Text | FieldType::Secret => {
            set_text(pool, &mut slot, raw);
            return None;
        }
        FieldType::Id | FieldType::Reference(_) => {
            set_text(pool, &mut slot, trimmed);
            return None;
        }
        FieldType::Email => {
            set_text(pool, &mut slot, raw);
            return (!values::is_email(trimmed)).then(|| column.expected());
        }
        FieldType::Phone => {
            set_text(pool, &mut slot, raw);
            return (!values::is_phone(trimmed)).then(|| column.expected());
        }
        FieldType::Number => values::parse_number(trimmed).map(Value::Number),
        FieldType::Integer => values::parse_integer(trimmed).map(|n| Value::Number(n as f64)),
        FieldType::Boolean => values::parse_boolean(trimmed).map(Value::Boolean),
        FieldType::Date => match values::parse_moment(trimmed) {
            Some(Moment::Date(date)) => Some(Value::Date(date)),
            // PostgreSQL writes some dates as midnight timestamps.
            Some(Moment::DateTime { value, .. })
                if value.unix_millis.rem_euclid(86_400_000) == 0 && value.offset_minutes == 0 =>
            {
                crm_migrate_core::record::Date::from_days_since_epoch(value.unix_millis.div_euclid(86_400_000))
                    .map(Value::Date)
            }
            _ => None,
        },
        FieldType::DateTime => match values::parse_moment(trimmed) {
            Some(Moment::DateTime { value, zoned }) => {
                *zoneless += u64::from(!zoned);
                Some(Value::DateTime(value))
            }
            Some(Moment::Date(date)) => Some(Value::Date(date)),
            None => None,
        },
        FieldType::Choice => {
            // `{a}` is one choice written as an array.
            let array = if trimmed.starts_with(['{', '[']) { values::parse_choices(trimmed) } else { None };
            let single = match &array {
                Some(list) if list.len() == 1 => Some(list[0].as_str()),
                _ if trimmed.starts_with(['{', '[']) => None,
                _ => Some(trimmed),
            };
            match single.and_then(|choice| option_spelling(&column.options, choice)) {
                Some(choice) => {
                    set_text(pool, &mut slot, choice);
                    return None;
                }
                None => None,
            }
        }
        FieldType::Choices => {
            // Parsed into the slot's list (a reader keeps every choice list's slot).
            let Some(slot) = slot.as_deref_mut() else { unreachable!("choice lists are always typed") };
            if !matches!(slot, Value::Choices(_)) {
                pool.replace(slot, Value::Choices(Vec::new()));
            }
            let Value::Choices(list) = slot else { unreachable!("just made a list") };
            let mut fits = values::parse_choices_into(trimmed, list);
            if fits && !column.options.is_empty() {
                for choice in list.iter_mut() {
                    let respelled = match option_spelling(&column.options, choice) {
                        Some(spelled) if spelled != choice.as_str() => Some(spelled.to_owned()),
                        Some(_) => None,
                        None => {
                            fits = false;
                            break;
                        }
                    };
                    if let Some(respelled) = respelled {
                        *choice = respelled;
                    }
                }
            }
            if fits {
                return None;
            }
            None
        }
        FieldType::DealStatus | FieldType::Gender | FieldType::ContactStatus => {
            let word = match column.ty {
                FieldType::DealStatus => values::parse_deal_status(trimmed),
                FieldType::Gender => values::parse_gender(trimmed),
                _ => values::parse_contact_status(trimmed),
            };
            if let Some(word) = word {
                set_text(pool, &mut slot, word);
                return None;
            }
            None
        }
    };
    match parsed {
        Some(value) => {
            if let Some(slot) = slot {
                pool.replace(slot, value);
            }
            None
        }
        None => {
            set_text(pool, &mut slot, raw);
            Some(column.expected())
        }
    }
}

/// The choice as the options spell it (letter case aside); any choice when there are no options.
fn option_spelling<'a>(options: &'a [String], choice: &'a str) -> Option<&'a str> {
    if options.is_empty() {
        return Some(choice);
    }
    let same = |option: &&String| {
        option.eq_ignore_ascii_case(choice)
            || (!choice.is_ascii()
                && option.chars().flat_map(char::to_lowercase).eq(choice.chars().flat_map(char::to_lowercase)))
    };
    options.iter().find(same).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(ty: FieldType, options: &[&str]) -> Column {
        Column {
            index: 0,
            header: "h".into(),
            field: "f".into(),
            ty,
            options: options.iter().map(|s| s.to_string()).collect(),
            origin: columns::Origin::Standard,
        }
    }

    fn parse(ty: FieldType, options: &[&str], raw: &str) -> (Value, Option<String>) {
        let mut slot = Value::Null;
        let mut zoneless = 0;
        let issue = parse_cell(&column(ty, options), raw, Some(&mut slot), &mut zoneless, &mut Pool::default());
        (slot, issue)
    }

    #[test]
    fn a_bad_value_keeps_its_raw_text_and_says_what_was_expected() {
        let (value, issue) = parse(FieldType::Integer, &[], "dwa");
        assert_eq!(value, Value::Text("dwa".into()));
        assert_eq!(issue.as_deref(), Some("a whole number"));
        let (value, issue) = parse(FieldType::Email, &[], "jan@");
        assert_eq!((value, issue.is_some()), (Value::Text("jan@".into()), true));
        let (value, issue) = parse(FieldType::Choice, &["retail", "it"], "handel");
        assert_eq!(value, Value::Text("handel".into()));
        assert!(issue.unwrap().contains("from: retail, it"));
    }

    #[test]
    fn good_values_are_typed() {
        assert_eq!(parse(FieldType::Boolean, &[], "t").0, Value::Boolean(true));
        assert_eq!(parse(FieldType::Integer, &[], " 12 ").0, Value::Number(12.0));
        assert_eq!(parse(FieldType::DealStatus, &[], "2").0, Value::Text("won".into()));
        assert_eq!(parse(FieldType::Choice, &["Retail"], "{retail}").0, Value::Text("Retail".into()));
        assert_eq!(parse(FieldType::Choices, &[], "{a,\"b c\"}").0, Value::Choices(vec!["a".into(), "b c".into()]));
        assert_eq!(parse(FieldType::Date, &[], "2024-03-01 00:00:00+00").0.to_string(), "2024-03-01");
        assert_eq!(parse(FieldType::Text, &[], "  spaced ").0, Value::Text("  spaced ".into()));
        assert_eq!(parse(FieldType::Boolean, &[], "").0, Value::Null);
        assert_eq!(parse(FieldType::Boolean, &[], "  ").0, Value::Null);
    }

    /// Lines of each record of `data`, as the reader reports them.
    fn lines_of(data: &str) -> Vec<(String, u64)> {
        let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(data.as_bytes().to_vec()));
        let counter = LineCounter::new(input, Bounds::new(InputLimits::default(), b','));
        let mut csv =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(8).from_reader(counter);
        let mut row = csv::ByteRecord::new();
        let mut lines = Vec::new();
        while csv.read_byte_record(&mut row).unwrap() {
            let line = record_line(&mut csv, row.position());
            lines.push((String::from_utf8_lossy(&row[0]).into_owned(), line));
        }
        lines
    }

    #[test]
    fn record_lines_are_exact_with_crlf_blank_lines_and_multi_line_fields() {
        let expected = vec![("h".to_owned(), 1), ("a".to_owned(), 2), ("c\nd".to_owned(), 3), ("f".to_owned(), 6)];
        assert_eq!(lines_of("h,x\na,b\n\"c\nd\",e\n\nf,g\n"), expected);
        let crlf: Vec<_> = expected.iter().map(|(k, l)| (k.replace('\n', "\r\n"), *l)).collect();
        assert_eq!(lines_of("h,x\r\na,b\r\n\"c\r\nd\",e\r\n\r\nf,g\r\n"), crlf);
        // Old Mac line ends (a lone CR) end records too, without counting as lines.
        assert_eq!(lines_of("h\ra\n").len(), 2);
    }

    /// Reads `data` through the bounds with tiny limits: the records, or the error.
    fn bounded(data: &str, limits: InputLimits) -> Result<Vec<Vec<String>>, ExtractError> {
        let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(data.as_bytes().to_vec()));
        let counter = LineCounter::new(input, Bounds::new(limits, b','));
        let mut csv =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(8).from_reader(counter);
        let mut row = csv::ByteRecord::new();
        let mut rows = Vec::new();
        while csv.read_byte_record(&mut row).map_err(|error| csv_error(Path::new("f.csv"), error))? {
            let line = record_line(&mut csv, row.position());
            check_columns(&csv, Path::new("f.csv"), line, row.len())?;
            rows.push(row.iter().map(|cell| String::from_utf8_lossy(cell).into_owned()).collect());
        }
        Ok(rows)
    }

    fn limit_of(result: Result<Vec<Vec<String>>, ExtractError>) -> (u64, &'static str) {
        match result {
            Err(ExtractError::Limit { line, limit, .. }) => (line, limit),
            other => panic!("expected a limit, got {other:?}"),
        }
    }

    #[test]
    fn rows_within_the_limits_read_as_without_them() {
        let limits = InputLimits { max_columns: 3, max_cell_bytes: 6, max_record_bytes: 14 };
        // Quoted cells with delimiters, escaped quotes and line breaks; CRLF; blank lines; a
        // quote inside an unquoted cell (a plain byte there).
        let data = "a,b,c\r\n\r\n\"x,y\",\"q\"\"\",z\n\"1\n2\",e\"f,\n";
        let rows = bounded(data, limits).unwrap();
        assert_eq!(rows, vec![vec!["a", "b", "c"], vec!["x,y", "q\"", "z"], vec!["1\n2", "e\"f", ""]]);
    }

    #[test]
    fn each_limit_names_the_line_its_row_starts_on() {
        let limits = InputLimits { max_columns: 3, max_cell_bytes: 6, max_record_bytes: 14 };
        assert_eq!(limit_of(bounded("a,b\nc,d,e,f\n", limits)), (2, "max_columns"));
        // A row too long to count its cells after parsing: counted while read.
        let wide = InputLimits { max_columns: 10, max_cell_bytes: 100, max_record_bytes: 1000 };
        assert_eq!(limit_of(bounded(&format!("h\n{}\n", ",".repeat(500)), wide)), (2, "max_columns"));
        assert_eq!(
            bounded(&format!("h\n\"{}\",a\n", ",".repeat(50)), wide).unwrap()[1].len(),
            2,
            "delimiters in quotes are not cells"
        );
        assert_eq!(limit_of(bounded("a,b\n\"1\n2\n\",x\nabcdefg\n", limits)), (5, "max_cell_bytes"));
        // A quote never closed: the cell limit, at the row the quote opened in.
        assert_eq!(limit_of(bounded("a,b\nc,\"d\ne\nf\ng\nh\n", limits)), (2, "max_cell_bytes"));
        assert_eq!(limit_of(bounded("h\nabcde,abcde,abcde\n", limits)), (2, "max_record_bytes"));
        // Unquoted cells over the limit, at a row's start, middle and end.
        for row in ["abcdefg,b", "a,abcdefg,c", "a,b,abcdefg"] {
            assert_eq!(limit_of(bounded(&format!("h\n{row}\n"), limits)), (2, "max_cell_bytes"), "{row}");
        }
        let long = InputLimits { max_cell_bytes: 4, max_record_bytes: 100, ..limits };
        assert_eq!(
            limit_of(bounded("h\nab,abcde,c\n", long)),
            (2, "max_cell_bytes"),
            "a cell in a stretch longer than a cell may be"
        );
        assert_eq!(bounded("h\nab,abcd,c\n", long).unwrap()[1], vec!["ab", "abcd", "c"]);
        // The rows before the one over a limit are read first.
        let limits = InputLimits { max_record_bytes: 6, ..InputLimits::default() };
        let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(b"a,b\nc,d\ne,f,g,h\n".to_vec()));
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LineCounter::new(input, Bounds::new(limits, b',')));
        let mut row = csv::ByteRecord::new();
        assert!(csv.read_byte_record(&mut row).unwrap() && csv.read_byte_record(&mut row).unwrap());
        assert_eq!(&row[0], b"c");
        assert!(csv.read_byte_record(&mut row).is_err());
    }

    #[test]
    fn a_file_ending_inside_a_quote_is_an_error_at_its_row() {
        match bounded("a,b\nc,d\ne,\"f\ng,h\n", InputLimits::default()) {
            Err(ExtractError::Row { line: 3, message, .. }) => {
                assert!(message.contains("quote opened on line 3 is never closed"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            bounded("a,\"b\"", InputLimits::default()).unwrap(),
            vec![vec!["a", "b"]],
            "a closed quote at the very end is fine"
        );
    }

    #[test]
    fn zoneless_datetimes_are_counted() {
        let mut slot = Value::Null;
        let mut zoneless = 0;
        let col = column(FieldType::DateTime, &[]);
        assert_eq!(parse_cell(&col, "2024-03-01T10:00:00", Some(&mut slot), &mut zoneless, &mut Pool::default()), None);
        assert_eq!(
            parse_cell(&col, "2024-03-01T10:00:00Z", Some(&mut slot), &mut zoneless, &mut Pool::default()),
            None
        );
        assert_eq!(zoneless, 1);
    }
}
