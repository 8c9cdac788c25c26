//! Evaluated inside the FaaSET kernel's Rust session: a function stub is
//! `fn hello_world(payload: Value) -> Value { faaset_bridge::call("hello_world", payload) }`.
//!
//! The bridge owns no state: each call goes over loopback to the kernel that started the
//! session (address in `FAASET_KERNEL_BRIDGE`, token in the file `FAASET_KERNEL_TOKEN_FILE`, inherited
//! by the session process), which deploys the function if it changed, calls it, and answers
//! with the response. Only `serde_json` is used, so the session compiles it in seconds.

use std::io::{Read, Write};
use std::net::TcpStream;

pub use serde_json::{json, Value};

/// What a line printed by the panic hook starts with; the kernel turns it into an error.
pub const PANIC_MARKER: &str = "\u{1}FAASET_PANIC ";

/// The variables the kernel sets for its session: the bridge's address, and the path of the
/// owner-only file holding the token (never the token itself). The kernel uses these too.
pub const ADDRESS_VAR: &str = "FAASET_KERNEL_BRIDGE";
pub const TOKEN_FILE_VAR: &str = "FAASET_KERNEL_TOKEN_FILE";

/// Calls a deployed function as FaaSET does: deploys first when it changed on disk, then
/// returns the response with `roundTripTime` and `latency` added. A failed call panics with
/// the function's error, which the kernel shows as the cell's error.
pub fn call(function: &str, payload: Value) -> Value {
    let body = payload.to_string();
    match request("POST", &format!("/call/{function}"), &body) {
        Ok(value) => value,
        Err(message) => panic!("{message}"),
    }
}

/// The rows of `functions/<function>/experiments/<experiment>/results.csv`.
pub fn load(function: &str, experiment: &str) -> Results {
    match request("GET", &format!("/results/{function}/{experiment}"), "") {
        Ok(value) => Results::from_json(value),
        Err(message) => panic!("{message}"),
    }
}

/// How a [`Value`] shows when a cell ends with it: as JSON (pretty text, and
/// `application/json` for JupyterLab's viewer), not as Rust's debug form. evcxr calls
/// `evcxr_display` when the final expression has one; the kernel's prelude imports this trait.
pub trait JsonDisplay {
    fn evcxr_display(&self);
}

impl JsonDisplay for Value {
    fn evcxr_display(&self) {
        let pretty = serde_json::to_string_pretty(self).unwrap_or_default();
        println!("EVCXR_BEGIN_CONTENT text/plain\n{pretty}\nEVCXR_END_CONTENT");
        println!("EVCXR_BEGIN_CONTENT application/json\n{self}\nEVCXR_END_CONTENT");
    }
}

/// Makes panics in the session reach the kernel as one marked stdout line (stdout is read
/// in step with the cell, so the kernel knows the cell failed before it answers).
pub fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "panic".to_string()
        };
        let location = info
            .location()
            .filter(|l| !l.file().contains("faaset_bridge") && !l.file().contains("bridge/src"))
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        let text = format!("{message}{location}").replace('\n', "\\n");
        println!("{PANIC_MARKER}{text}");
    }));
}

/// Results of an experiment: columns by name, every value as the CSV holds it.
#[derive(Debug, Clone, Default)]
pub struct Results {
    pub function: String,
    pub experiment: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Results {
    fn from_json(value: Value) -> Results {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| s.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        Results {
            function: value["function"].as_str().unwrap_or_default().to_string(),
            experiment: value["experiment"].as_str().unwrap_or_default().to_string(),
            columns: strings(&value["columns"]),
            rows: value["rows"]
                .as_array()
                .map(|rows| rows.iter().map(strings).collect())
                .unwrap_or_default(),
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn index(&self, column: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == column)
            .unwrap_or_else(|| {
                panic!(
                    "no column {column:?} in {}/{}; columns: {}",
                    self.function,
                    self.experiment,
                    self.columns.join(", ")
                )
            })
    }

    /// Every value of `column`, as text.
    pub fn column(&self, column: &str) -> Vec<&str> {
        let i = self.index(column);
        self.rows
            .iter()
            .map(|r| r.get(i).map(String::as_str).unwrap_or(""))
            .collect()
    }

    /// The numeric values of `column` in calls that succeeded (empty `error`).
    pub fn numbers(&self, column: &str) -> Vec<f64> {
        let i = self.index(column);
        let error = self.columns.iter().position(|c| c == "error");
        self.rows
            .iter()
            .filter(|r| error.is_none_or(|e| r.get(e).is_none_or(|s| s.is_empty())))
            .filter_map(|r| r.get(i).and_then(|s| s.parse::<f64>().ok()))
            .collect()
    }

    /// Mean of [`Results::numbers`]; NaN when there are none.
    pub fn mean(&self, column: &str) -> f64 {
        let values = self.numbers(column);
        values.iter().sum::<f64>() / values.len() as f64
    }

    /// Rows for which `keep(row)` is true; a row reads its cells by column name.
    pub fn filter(&self, keep: impl Fn(&Row) -> bool) -> Results {
        let rows = self
            .rows
            .iter()
            .filter(|cells| {
                keep(&Row {
                    columns: &self.columns,
                    cells,
                })
            })
            .cloned()
            .collect();
        Results {
            rows,
            ..self.clone()
        }
    }

    /// Shown when a cell ends with the value: a table of the first rows (evcxr's display hook).
    pub fn evcxr_display(&self) {
        let shown = [
            "threadID",
            "runID",
            "roundTripTime",
            "runtime",
            "latency",
            "error",
        ];
        let columns: Vec<usize> = shown
            .iter()
            .filter_map(|c| self.columns.iter().position(|x| x == c))
            .collect();
        let mut html = format!(
            "<p>{}/{}: {} rows, {} columns</p><table><tr>",
            escape(&self.function),
            escape(&self.experiment),
            self.len(),
            self.columns.len()
        );
        for &c in &columns {
            html += &format!("<th>{}</th>", escape(&self.columns[c]));
        }
        html += "</tr>";
        for row in self.rows.iter().take(10) {
            html += "<tr>";
            for &c in &columns {
                html += &format!("<td>{}</td>", escape(row.get(c).map_or("", |s| s)));
            }
            html += "</tr>";
        }
        html += "</table>";
        println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
        println!(
            "EVCXR_BEGIN_CONTENT text/plain\n{}/{}: {} rows, {} columns\nEVCXR_END_CONTENT",
            self.function,
            self.experiment,
            self.len(),
            self.columns.len()
        );
    }
}

/// One row of [`Results`], read by column name.
pub struct Row<'a> {
    columns: &'a [String],
    cells: &'a [String],
}

impl Row<'_> {
    pub fn get(&self, column: &str) -> Option<&str> {
        let i = self.columns.iter().position(|c| c == column)?;
        self.cells.get(i).map(String::as_str)
    }

    pub fn number(&self, column: &str) -> Option<f64> {
        self.get(column)?.parse().ok()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One HTTP/1.1 exchange with the kernel (connection closed after the response).
fn request(method: &str, path: &str, body: &str) -> Result<Value, String> {
    let address = std::env::var(ADDRESS_VAR)
        .map_err(|_| "faaset_bridge works only inside the faaset Jupyter kernel".to_string())?;
    // Read at each call: only the file's path is in the environment (see the kernel's main).
    let token = std::env::var_os(TOKEN_FILE_VAR)
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    let mut stream = TcpStream::connect(&address)
        .map_err(|e| format!("cannot reach the faaset kernel at {address}: {e}"))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body.as_bytes()))
        .map_err(|e| format!("cannot send to the faaset kernel: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("no answer from the faaset kernel: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("the faaset kernel sent a malformed answer")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("the faaset kernel sent a malformed status line")?;
    let value: Value = serde_json::from_str(body)
        .map_err(|e| format!("the faaset kernel sent invalid JSON ({e})"))?;
    if status == 200 {
        Ok(value)
    } else {
        Err(value["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_columns_and_skip_failed_calls() {
        let r = Results::from_json(json!({
            "function": "f", "experiment": "e",
            "columns": ["runtime", "error"],
            "rows": [["10.5", ""], ["20", "boom"], ["30", ""]],
        }));
        assert_eq!(r.len(), 3);
        assert_eq!(r.numbers("runtime"), vec![10.5, 30.0]);
        assert_eq!(r.mean("runtime"), 20.25);
        assert_eq!(r.column("error"), vec!["", "boom", ""]);
        let slow = r.filter(|row| row.number("runtime").unwrap_or(0.0) > 15.0);
        assert_eq!(slow.len(), 2);
    }

    #[test]
    fn outside_the_kernel_a_call_says_so() {
        std::env::remove_var(ADDRESS_VAR);
        let error = request("GET", "/x", "").unwrap_err();
        assert!(error.contains("only inside the faaset Jupyter kernel"));
    }
}
