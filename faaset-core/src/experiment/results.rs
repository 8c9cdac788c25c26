//! `results.csv`: one row per call, appended and flushed as each result arrives, readable at
//! every moment by any CSV reader (pandas, a spreadsheet, `faaset load`).
//!
//! **Header scheme.** Columns are only known from responses, so the header grows:
//! - a new file gets the header of its first row: the client columns
//!   ([`CLIENT_COLUMNS`]), `tags`, then that response's fields;
//! - an existing file (a repeated experiment) keeps its header and is appended to;
//! - a row bringing a field the header lacks *widens* the file: the whole file is rewritten
//!   to a temporary file with the wider header (older rows get empty cells there) and renamed
//!   over `results.csv`. The rename is atomic, so a crash leaves either the old or the new
//!   file, never half of one. Widening is rare (typically once, when the first successful
//!   response follows a first error response, or the reverse);
//! - past [`MAX_COLUMNS`] columns (a function inventing keys per call), further unknown
//!   fields go, as a JSON object, into one `extra` column instead of rewriting again.
//!
//! **Crashes.** Each row is encoded whole and reaches the file in one `write`, so a killed
//! writer leaves at most one row cut short, at the end. Reopening finds the end of the last
//! complete record by parsing (a cut can fall inside a quoted field, which may itself hold
//! newlines, or inside a UTF-8 character) and truncates the file back to it, so the next run
//! appends after whole rows only. A widening writes a temporary file and renames it: the old
//! or the new file, never half of one.
//!
//! Cells: strings as they are, numbers and booleans as JSON text, `null` empty, objects and
//! arrays as JSON text. The `csv` crate does the quoting (payloads and error messages hold
//! commas, quotes and newlines), which a hand-written writer would get wrong at the edges.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The client-side columns every row starts with (DESIGN §1.5), followed by `tags`.
pub const CLIENT_COLUMNS: [&str; 11] = [
    "function",
    "platform",
    "experiment",
    "threadID",
    "runID",
    "payload",
    "startTime",
    "endTime",
    "roundTripTime",
    "latency",
    "error",
];
/// The client columns of an open-loop call, after `latency`: when the schedule meant it to
/// start (client epoch ms, µs resolution), how long it waited for that (ms: a late timer, or
/// every `concurrency` slot busy), and the time from the intended start to the answer (ms,
/// `queueTime` + `roundTripTime`: what a user arriving on schedule would see).
pub const OPEN_LOOP_COLUMNS: [&str; 3] = ["intendedStartTime", "queueTime", "responseTime"];
/// The column of the experiment's tags (JSON text).
pub const TAGS_COLUMN: &str = "tags";
/// The column collecting fields beyond [`MAX_COLUMNS`] (JSON text).
pub const EXTRA_COLUMN: &str = "extra";
/// Widening stops here; later unknown fields go into [`EXTRA_COLUMN`].
pub const MAX_COLUMNS: usize = 512;

/// True for column names the client owns; a response field of that name is saved as
/// `response.<name>` (SAAF's own `platform`, `startTime`, `endTime` are kept that way).
pub fn is_reserved(column: &str) -> bool {
    CLIENT_COLUMNS.contains(&column)
        || OPEN_LOOP_COLUMNS.contains(&column)
        || column == TAGS_COLUMN
        || column == EXTRA_COLUMN
}

/// An open `results.csv`.
pub struct ResultsCsv {
    path: PathBuf,
    header: Vec<String>,
    index: HashMap<String, usize>,
    /// `None` until the file has a header.
    writer: Option<File>,
}

impl ResultsCsv {
    /// Opens `path` for appending; an existing file keeps its header. A last record cut
    /// short (a killed writer, a full disk) is removed first, so new rows follow whole ones.
    pub fn open(path: &Path) -> Result<Self> {
        let mut results = ResultsCsv {
            path: path.to_path_buf(),
            header: Vec::new(),
            index: HashMap::new(),
            writer: None,
        };
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len > 0 && truncate_to_whole_records(path)? > 0 {
            let mut reader = csv_reader(path)?;
            let header = reader
                .records()
                .next()
                .transpose()
                .map_err(|e| csv_error("read", path, e))?
                .unwrap_or_default();
            results.set_header(header.iter().map(str::to_string).collect());
            results.writer = Some(append_writer(path)?);
        }
        Ok(results)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Appends one row (column name, value) and flushes it to the file.
    pub fn append(&mut self, row: &[(String, Value)]) -> Result<()> {
        if self.writer.is_none() {
            self.create(row.iter().map(|(k, _)| k.clone()).collect())?;
        }
        let mut new: Vec<String> = Vec::new();
        for (key, _) in row {
            if !self.index.contains_key(key) && !new.contains(key) {
                new.push(key.clone());
            }
        }
        let overflow = self.header.len() + new.len() > MAX_COLUMNS;
        if overflow {
            new.clear();
            if !self.index.contains_key(EXTRA_COLUMN) {
                new.push(EXTRA_COLUMN.to_string());
            }
        }
        if !new.is_empty() {
            self.widen(new)?;
        }
        let mut record = vec![String::new(); self.header.len()];
        let mut extra = Map::new();
        for (key, value) in row {
            match self.index.get(key) {
                Some(&i) => record[i] = cell(value),
                None => {
                    extra.insert(key.clone(), value.clone());
                }
            }
        }
        if !extra.is_empty() {
            record[self.index[EXTRA_COLUMN]] = Value::Object(extra).to_string();
        }
        let bytes = encode(&record).map_err(|e| csv_error("write", &self.path, e))?;
        let writer = self.writer.as_mut().expect("writer open");
        writer
            .write_all(&bytes)
            .map_err(|e| Error::io("write", &self.path, e))
    }

    fn set_header(&mut self, header: Vec<String>) {
        self.index = header
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        self.header = header;
    }

    /// Starts a new file with `header`.
    fn create(&mut self, header: Vec<String>) -> Result<()> {
        let mut writer = append_writer(&self.path)?;
        let bytes = encode(&header).map_err(|e| csv_error("write", &self.path, e))?;
        writer
            .write_all(&bytes)
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.set_header(header);
        self.writer = Some(writer);
        Ok(())
    }

    /// Rewrites the file with `columns` added to the header (temporary file + rename).
    fn widen(&mut self, columns: Vec<String>) -> Result<()> {
        self.writer = None;
        let mut header = self.header.clone();
        header.extend(columns);
        let dir = self.path.parent().expect("results.csv has a folder");
        let tmp = dir.join(format!(".results.csv.tmp{}", std::process::id()));
        let file = private_file(&tmp, true)?;
        let mut out = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(std::io::BufWriter::new(file));
        out.write_record(&header)
            .map_err(|e| csv_error("write", &tmp, e))?;
        let mut reader = csv_reader(&self.path)?;
        for (i, record) in reader.byte_records().enumerate() {
            // A record that cannot be read is left out, never a reason to lose the rows
            // after it (readers skip damaged records the same way).
            let Ok(record) = record else { continue };
            if i == 0 {
                continue; // the old header
            }
            let mut cells: Vec<&[u8]> = record.iter().collect();
            cells.resize(cells.len().max(header.len()), b"");
            out.write_record(&cells)
                .map_err(|e| csv_error("write", &tmp, e))?;
        }
        let file = out
            .into_inner()
            .map_err(|e| Error::io("write", &tmp, e.into_error()))?
            .into_inner()
            .map_err(|e| Error::io("write", &tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::io("replace", &self.path, e))?;
        self.set_header(header);
        self.writer = Some(append_writer(&self.path)?);
        Ok(())
    }
}

/// The text of one cell.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_reader(path: &Path) -> Result<csv::Reader<File>> {
    let file = File::open(path).map_err(|e| Error::io("read", path, e))?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(file))
}

fn append_writer(path: &Path) -> Result<File> {
    private_file(path, false)
}

/// Opens (creating with mode 0600: rows hold payloads and responses) for appending, or
/// creates empty (`truncate`).
fn private_file(path: &Path, truncate: bool) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    if truncate {
        options.write(true).truncate(true);
    } else {
        options.append(true);
    }
    options
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("open", path, e))
}

/// One record as CSV bytes, terminator included: what one `write` puts in the file.
fn encode<T: AsRef<[u8]>>(record: &[T]) -> std::result::Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_writer(Vec::with_capacity(256));
    writer.write_record(record)?;
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// Cuts `path` back to its last complete record and returns the length kept.
fn truncate_to_whole_records(path: &Path) -> Result<u64> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    let whole = crate::results::whole_records_len(&bytes);
    if whole < bytes.len() {
        file.set_len(whole as u64)
            .map_err(|e| Error::io("truncate", path, e))?;
    }
    Ok(whole as u64)
}

fn csv_error(action: &'static str, path: &Path, error: csv::Error) -> Error {
    Error::io(action, path, std::io::Error::other(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn read(path: &Path) -> Vec<Vec<String>> {
        let mut reader = csv_reader(path).unwrap();
        reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn header_widens_atomically_and_old_rows_get_empty_cells() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        let mut csv = ResultsCsv::open(&path).unwrap();
        csv.append(&row(&[("a", json!(1)), ("error", json!("x, \"y\"\nz"))]))
            .unwrap();
        csv.append(&row(&[("a", json!(2)), ("b", json!({"k": [1]}))]))
            .unwrap();
        csv.append(&row(&[("b", json!(true)), ("a", Value::Null)]))
            .unwrap();
        let rows = read(&path);
        assert_eq!(rows[0], ["a", "error", "b"]);
        assert_eq!(rows[1], ["1", "x, \"y\"\nz", ""]);
        assert_eq!(rows[2], ["2", "", r#"{"k":[1]}"#]);
        assert_eq!(rows[3], ["", "", "true"]);
        assert!(!dir.path().read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("tmp")));
    }

    #[test]
    fn reopening_drops_a_cut_last_row_and_appends_under_the_old_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        std::fs::write(&path, "a,b\n1,2\n3,").unwrap();
        let mut csv = ResultsCsv::open(&path).unwrap();
        assert_eq!(csv.header(), ["a", "b"]);
        csv.append(&row(&[("b", json!("x")), ("a", json!(5))]))
            .unwrap();
        let rows = read(&path);
        assert_eq!(rows, [["a", "b"], ["1", "2"], ["5", "x"]]);
    }

    /// A writer killed at any byte of any row: reopening keeps exactly the rows that were
    /// whole (cuts inside quoted fields, inside embedded newlines, inside UTF-8 characters,
    /// just before a terminator), and the next row lands whole after them.
    #[test]
    fn a_file_cut_at_any_byte_keeps_its_whole_rows() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full.csv");
        let rows = [
            row(&[
                ("a", json!(1)),
                ("payload", json!({"name": "José, \"the\" one"})),
            ]),
            row(&[("a", json!(2)), ("payload", json!("line one\nline two\n"))]),
            row(&[("a", json!(3)), ("payload", json!("ünïcödé"))]),
        ];
        let mut csv = ResultsCsv::open(&full).unwrap();
        let mut ends = vec![];
        for r in &rows {
            csv.append(r).unwrap();
            ends.push(std::fs::metadata(&full).unwrap().len() as usize);
        }
        let bytes = std::fs::read(&full).unwrap();
        let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        for cut in 0..=bytes.len() {
            let path = dir.path().join(format!("cut{cut}.csv"));
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let mut csv = ResultsCsv::open(&path).unwrap();
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            let kept = if cut < header_end {
                0
            } else {
                ends.get(whole.wrapping_sub(1))
                    .copied()
                    .unwrap_or(header_end)
            };
            assert_eq!(
                std::fs::metadata(&path).unwrap().len() as usize,
                kept,
                "cut at {cut}"
            );
            csv.append(&row(&[("a", json!(9)), ("payload", json!("after"))]))
                .unwrap();
            let read_back = read(&path);
            let expected_rows = if cut < header_end { 1 } else { whole + 1 };
            assert_eq!(
                read_back.len(),
                1 + expected_rows,
                "cut at {cut}: {read_back:?}"
            );
            assert_eq!(read_back.last().unwrap(), &["9", "after"], "cut at {cut}");
            assert!(
                std::str::from_utf8(&std::fs::read(&path).unwrap()).is_ok(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn too_many_columns_go_into_extra() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        let mut csv = ResultsCsv::open(&path).unwrap();
        let wide: Vec<(String, Value)> = (0..MAX_COLUMNS)
            .map(|i| (format!("c{i}"), json!(i)))
            .collect();
        csv.append(&wide).unwrap();
        csv.append(&row(&[("c0", json!(0)), ("new", json!("v"))]))
            .unwrap();
        let rows = read(&path);
        assert_eq!(rows[0].len(), MAX_COLUMNS + 1);
        assert_eq!(rows[0][MAX_COLUMNS], EXTRA_COLUMN);
        assert_eq!(rows[2][MAX_COLUMNS], r#"{"new":"v"}"#);
    }
}
