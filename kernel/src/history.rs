//! The cells the kernel ran, kept per workspace in `.faaset/history.jsonl` (one JSON object
//! per cell: session, line, input), so a console's up-arrow and Jupyter's history search find
//! them, also after the kernel restarts. Numbered as IPython numbers its history: each kernel
//! start is a new session, a cell's line is its execution count.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    session: u64,
    line: u64,
    input: String,
}

pub struct History {
    path: PathBuf,
    session: u64,
}

impl History {
    /// The history of the workspace whose state folder is `state_dir`; this kernel's cells
    /// are a new session.
    pub fn open(state_dir: PathBuf) -> History {
        let path = state_dir.join("history.jsonl");
        let mut history = History { path, session: 0 };
        history.session = history.entries().last().map_or(0, |e| e.session) + 1;
        history
    }

    /// Appends a cell. A history that cannot be written must not fail the cell: the reason
    /// goes to the kernel's log.
    pub fn record(&self, line: u32, input: &str) {
        let entry = Entry {
            session: self.session,
            line: u64::from(line),
            input: input.to_string(),
        };
        let mut text = serde_json::to_string(&entry).unwrap_or_default();
        text.push('\n');
        let written = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(&self.path)
            })
            // One write of the whole line: two kernels on one workspace do not interleave.
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if let Err(error) = written {
            eprintln!(
                "faaset-kernel: cannot add to the history {}: {error}",
                self.path.display()
            );
        }
    }

    /// Every entry in order. A line that does not parse (a write cut short) is skipped.
    fn entries(&self) -> Vec<Entry> {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The content of a `history_reply` for a `history_request`'s content.
    pub fn reply(&self, request: &Value) -> Value {
        let entries = self.entries();
        let selected: Vec<&Entry> = match request["hist_access_type"].as_str() {
            Some("tail") => last(entries.iter().collect(), count(request)),
            Some("range") => self.range(&entries, request),
            Some("search") => search(&entries, request),
            other => {
                return json!({
                    "status": "error",
                    "ename": "HistoryError",
                    "evalue": format!("hist_access_type must be tail, range or search, not {other:?}"),
                    "traceback": [],
                    "history": [],
                })
            }
        };
        let with_output = request["output"].as_bool().unwrap_or(false);
        let history: Vec<Value> = selected
            .into_iter()
            .map(|e| {
                if with_output {
                    // Outputs are not kept (they can be large); the input is what is asked for.
                    json!([e.session, e.line, [e.input, Value::Null]])
                } else {
                    json!([e.session, e.line, e.input])
                }
            })
            .collect();
        json!({"status": "ok", "history": history})
    }

    /// `session` as IPython reads it: positive is absolute, 0 this session, negative counts
    /// back from it; lines `start` up to, not including, `stop` (to the end when absent).
    fn range<'a>(&self, entries: &'a [Entry], request: &Value) -> Vec<&'a Entry> {
        let asked = request["session"].as_i64().unwrap_or(0);
        let session = if asked > 0 {
            asked
        } else {
            self.session as i64 + asked
        };
        let start = request["start"].as_u64().unwrap_or(1);
        let stop = request["stop"].as_u64().filter(|&s| s > 0);
        entries
            .iter()
            .filter(|e| e.session as i64 == session)
            .filter(|e| e.line >= start && stop.is_none_or(|s| e.line < s))
            .collect()
    }
}

/// `pattern` is a glob over the whole input (`*`, `?`), as IPython's; `unique` keeps the
/// latest of equal inputs; `n` the last n matches.
fn search<'a>(entries: &'a [Entry], request: &Value) -> Vec<&'a Entry> {
    let pattern: Vec<char> = request["pattern"].as_str().unwrap_or("*").chars().collect();
    let mut matches: Vec<&Entry> = entries
        .iter()
        .filter(|e| glob(&pattern, &e.input.chars().collect::<Vec<_>>()))
        .collect();
    if request["unique"].as_bool().unwrap_or(false) {
        let mut seen = std::collections::HashSet::new();
        let mut latest_first: Vec<&Entry> = matches
            .into_iter()
            .rev()
            .filter(|e| seen.insert(e.input.as_str()))
            .collect();
        latest_first.reverse();
        matches = latest_first;
    }
    last(matches, count(request))
}

fn count(request: &Value) -> Option<usize> {
    request["n"].as_u64().map(|n| n as usize)
}

fn last(mut entries: Vec<&Entry>, n: Option<usize>) -> Vec<&Entry> {
    if let Some(n) = n {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    entries
}

/// Whether `text` matches the glob `pattern` as a whole.
fn glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some(('?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(reply: &Value) -> Vec<(u64, u64, String)> {
        reply["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e[0].as_u64().unwrap(),
                    e[1].as_u64().unwrap(),
                    e[2].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn a_restart_is_a_new_session_and_the_old_one_is_still_found() {
        let dir = tempfile::tempdir().unwrap();
        let first = History::open(dir.path().join(".faaset"));
        first.record(1, "let x = 1;");
        first.record(2, "x + 1");
        let second = History::open(dir.path().join(".faaset"));
        second.record(1, "%faaset list");

        let tail = second.reply(&json!({"hist_access_type": "tail", "n": 2}));
        assert_eq!(
            inputs(&tail),
            [(1, 2, "x + 1".into()), (2, 1, "%faaset list".into())]
        );
        let previous =
            second.reply(&json!({"hist_access_type": "range", "session": -1, "start": 2}));
        assert_eq!(inputs(&previous), [(1, 2, "x + 1".into())]);
        let current = second
            .reply(&json!({"hist_access_type": "range", "session": 0, "start": 1, "stop": 0}));
        assert_eq!(inputs(&current), [(2, 1, "%faaset list".into())]);
        let absolute = second
            .reply(&json!({"hist_access_type": "range", "session": 1, "start": 1, "stop": 2}));
        assert_eq!(inputs(&absolute), [(1, 1, "let x = 1;".into())]);
    }

    #[test]
    fn search_is_a_glob_over_the_whole_input_with_unique_and_n() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(dir.path().to_path_buf());
        for (i, code) in ["x + 1", "let y = 2;", "x + 1", "x * 3"].iter().enumerate() {
            h.record(i as u32 + 1, code);
        }
        let all_x = h.reply(&json!({"hist_access_type": "search", "pattern": "x*"}));
        assert_eq!(inputs(&all_x).len(), 3);
        let unique =
            h.reply(&json!({"hist_access_type": "search", "pattern": "x*", "unique": true}));
        assert_eq!(
            inputs(&unique),
            [(1, 3, "x + 1".into()), (1, 4, "x * 3".into())]
        );
        let last_one = h.reply(&json!({"hist_access_type": "search", "pattern": "*=*", "n": 1}));
        assert_eq!(inputs(&last_one), [(1, 2, "let y = 2;".into())]);
        let one_char = h.reply(&json!({"hist_access_type": "search", "pattern": "x ? 3"}));
        assert_eq!(inputs(&one_char), [(1, 4, "x * 3".into())]);
    }

    #[test]
    fn outputs_asked_for_come_as_input_output_pairs_and_a_bad_kind_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(dir.path().to_path_buf());
        h.record(1, "1");
        let reply = h.reply(&json!({"hist_access_type": "tail", "n": 5, "output": true}));
        assert_eq!(reply["history"], json!([[1, 1, ["1", null]]]));
        let bad = h.reply(&json!({"hist_access_type": "everything"}));
        assert_eq!(bad["status"], "error");
    }

    #[test]
    fn a_line_cut_short_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(dir.path().to_path_buf());
        h.record(1, "a");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("history.jsonl"))
            .unwrap();
        file.write_all(b"{\"session\":1,\"li").unwrap();
        let reply = h.reply(&json!({"hist_access_type": "tail", "n": 10}));
        assert_eq!(inputs(&reply), [(1, 1, "a".into())]);
    }
}
