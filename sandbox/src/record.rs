//! The `--record` file: one JSON line per API request (time, method, path, query without the
//! token, request body, status, response or "lost"/"dropped", tokens debited).

use serde_json::Value;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug)]
pub struct Recorder {
    writer: Mutex<BufWriter<File>>,
}

impl Recorder {
    pub fn create(path: &Path) -> std::io::Result<Recorder> {
        let file = File::options().create(true).append(true).open(path)?;
        Ok(Recorder { writer: Mutex::new(BufWriter::new(file)) })
    }

    /// Writes and flushes one line, so the file can be read while the sandbox runs.
    pub fn write(&self, line: &Value) {
        let mut writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = serde_json::to_writer(&mut *writer, line);
        let _ = writer.write_all(b"\n");
        let _ = writer.flush();
    }
}
