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
//! Cells: strings as they are, numbers and booleans as JSON text, `null` empty, objects and
//! arrays as JSON text. The `csv` crate does the quoting (payloads and error messages hold
//! commas, quotes and newlines), which a hand-written writer would get wrong at the edges.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
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
/// The column of the experiment's tags (JSON text).
pub const TAGS_COLUMN: &str = "tags";
/// The column collecting fields beyond [`MAX_COLUMNS`] (JSON text).
pub const EXTRA_COLUMN: &str = "extra";
/// Widening stops here; later unknown fields go into [`EXTRA_COLUMN`].
pub const MAX_COLUMNS: usize = 512;

/// True for column names the client owns; a response field of that name is saved as
/// `response.<name>` (SAAF's own `platform`, `startTime`, `endTime` are kept that way).
pub fn is_reserved(column: &str) -> bool {
    CLIENT_COLUMNS.contains(&column) || column == TAGS_COLUMN || column == EXTRA_COLUMN
}

/// An open `results.csv`.
pub struct ResultsCsv {
    path: PathBuf,
    header: Vec<String>,
    index: HashMap<String, usize>,
    /// `None` until the file has a header.
    writer: Option<csv::Writer<File>>,
}

impl ResultsCsv {
    /// Opens `path` for appending; an existing file keeps its header. A last line cut short
    /// (a killed writer) is ended first, so new rows start on a line of their own.
    pub fn open(path: &Path) -> Result<Self> {
        let mut results = ResultsCsv {
            path: path.to_path_buf(),
            header: Vec::new(),
            index: HashMap::new(),
            writer: None,
        };
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len > 0 {
            end_last_line(path)?;
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
        let writer = self.writer.as_mut().expect("writer open");
        writer
            .write_record(&record)
            .map_err(|e| csv_error("write", &self.path, e))?;
        writer
            .flush()
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
        writer
            .write_record(&header)
            .map_err(|e| csv_error("write", &self.path, e))?;
        writer
            .flush()
            .map_err(|e| Error::io("write", &self.path, e))?;
        self.set_header(header);
        self.writer = Some(writer);
        Ok(())
    }

    /// Rewrites the file with `columns` added to the header (temporary file + rename).
    fn widen(&mut self, columns: Vec<String>) -> Result<()> {
        if let Some(mut writer) = self.writer.take() {
            writer
                .flush()
                .map_err(|e| Error::io("write", &self.path, e))?;
        }
        let mut header = self.header.clone();
        header.extend(columns);
        let dir = self.path.parent().expect("results.csv has a folder");
        let tmp = dir.join(format!(".results.csv.tmp{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let mut out = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(std::io::BufWriter::new(file));
        out.write_record(&header)
            .map_err(|e| csv_error("write", &tmp, e))?;
        let mut reader = csv_reader(&self.path)?;
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| csv_error("read", &self.path, e))?;
            if i == 0 {
                continue; // the old header
            }
            let mut cells: Vec<&str> = record.iter().collect();
            cells.resize(cells.len().max(header.len()), "");
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

fn append_writer(path: &Path) -> Result<csv::Writer<File>> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    Ok(csv::WriterBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_writer(file))
}

/// Appends a newline when the file's last byte is not one.
fn end_last_line(path: &Path) -> Result<()> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(|e| Error::io("read", path, e))?;
    if last[0] != b'\n' {
        file.write_all(b"\n")
            .map_err(|e| Error::io("write", path, e))?;
    }
    Ok(())
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
    fn reopening_appends_under_the_old_header_after_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        std::fs::write(&path, "a,b\n1,2\n3,").unwrap();
        let mut csv = ResultsCsv::open(&path).unwrap();
        assert_eq!(csv.header(), ["a", "b"]);
        csv.append(&row(&[("b", json!("x")), ("a", json!(5))]))
            .unwrap();
        let rows = read(&path);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[3], ["5", "x"]);
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
