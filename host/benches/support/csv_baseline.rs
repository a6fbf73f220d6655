//! The baseline the benches compare reading an export with: every CSV file of an export
//! directory through the `csv` crate, byte records, no decoding or typing.

use std::path::{Path, PathBuf};

/// The baseline: every CSV file through the `csv` crate, byte records, no decoding or typing.
pub fn bare_parse(dir: &Path) -> u64 {
    let mut records = 0;
    for path in csv_files(dir) {
        let mut head = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::open(&path).unwrap(), 4096), &mut head)
            .unwrap();
        let delimiter = crm_migrate::extract::sniff::sniff_delimiter(&String::from_utf8_lossy(&head));
        let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_path(&path).unwrap();
        let mut row = csv::ByteRecord::new();
        while reader.read_byte_record(&mut row).unwrap() {
            records += 1;
        }
    }
    records
}

/// The export's CSV files, by name.
pub fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    files
}
