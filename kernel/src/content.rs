//! Rich output printed in evcxr's content protocol, shown where it was printed.
//!
//! Rust's notebook crates display things by printing `EVCXR_BEGIN_CONTENT <mime>`, the
//! content, then `EVCXR_END_CONTENT` on stdout (evcxr_runtime, plotters' `evcxr` feature, any
//! type's `evcxr_display`). evcxr's parent side takes every such block out of the stream and
//! merges them into one map that becomes the cell's result: a cell that shows two things shows
//! the last, and a display printed before some text appears after it.
//!
//! So the session's process (this binary, started by evcxr) relays its own stdout: displays
//! printed while the cell runs become one marked line each, which evcxr passes on in order
//! with the rest of the output, and the kernel publishes as `display_data`. What is printed
//! last, right before the cell ends (the final expression's `evcxr_display`, or its value), is
//! left as evcxr expects it, so it stays the cell's `execute_result` (`Out[n]`).

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::{Map, Value};

use crate::display::Bundle;

/// A stdout line carrying one display (a JSON object from MIME type to content).
pub const DISPLAY_MARKER: &str = "\u{1}FAASET_DISPLAY ";

/// What evcxr's runtime prints when the cell's code has returned (evcxr keeps it private).
const EXECUTION_COMPLETE: &str = "EVCXR_EXECUTION_COMPLETE";
const BEGIN: &str = "EVCXR_BEGIN_CONTENT ";
const END: &str = "EVCXR_END_CONTENT";
/// Set by evcxr in the environment of the process that runs the cells (private in evcxr).
const IS_RUNTIME_VAR: &str = "EVCXR_IS_RUNTIME";

/// Blocks printed within this of each other form one display (one object's MIME types);
/// after it, a display is shown without waiting for the next line.
const SAME_DISPLAY: Duration = Duration::from_millis(50);

/// In the session's process: routes fd 1 through the relay. Does nothing in the kernel.
pub fn relay_session_stdout() {
    if std::env::var_os(IS_RUNTIME_VAR).is_none() {
        return;
    }
    if let Err(error) = start_relay() {
        // Output still works, displays are merged as evcxr does.
        eprintln!("faaset-kernel: cannot relay the session's output ({error}); displays are shown at the end of the cell");
    }
}

fn start_relay() -> std::io::Result<()> {
    let (reader, writer) = std::io::pipe()?;
    let evcxr_side = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    // SAFETY: both descriptors are open and owned here; dup2 only makes fd 1 refer to the
    // pipe, which every later write to stdout (ours and the cells' code) then goes through.
    if unsafe { libc::dup2(writer.as_raw_fd(), 1) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    drop(writer);
    let (lines, received) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("stdout-reader".into())
        .spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { return };
                if lines.send(line).is_err() {
                    return;
                }
            }
        })?;
    std::thread::Builder::new()
        .name("stdout-relay".into())
        .spawn(move || relay(received, evcxr_side))?;
    Ok(())
}

fn relay(lines: Receiver<String>, mut evcxr_side: std::fs::File) {
    let mut grouper = Grouper::default();
    let mut write = |out: Vec<String>| {
        for line in out {
            if writeln!(evcxr_side, "{line}").is_err() {
                return;
            }
        }
        let _ = evcxr_side.flush();
    };
    loop {
        let next = if grouper.is_waiting() {
            lines.recv_timeout(SAME_DISPLAY)
        } else {
            lines.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        match next {
            Ok(line) => write(grouper.line(line)),
            Err(RecvTimeoutError::Timeout) => write(grouper.quiet()),
            Err(RecvTimeoutError::Disconnected) => {
                write(grouper.end());
                return;
            }
        }
    }
}

/// The relay's rules, apart from threads and time: content blocks are gathered into
/// displays, which are let out as marked lines, except the one the cell ends with.
#[derive(Default)]
pub struct Grouper {
    /// Complete blocks of the display being gathered, in the order printed.
    display: Vec<(String, String)>,
    /// A block being read: its MIME type and lines so far.
    block: Option<(String, Vec<String>)>,
}

impl Grouper {
    /// True while a display is gathered (a quiet spell then ends it).
    pub fn is_waiting(&self) -> bool {
        self.block.is_none() && !self.display.is_empty()
    }

    /// The lines to pass on now that `line` was printed.
    pub fn line(&mut self, line: String) -> Vec<String> {
        if let Some((mime, mut lines)) = self.block.take() {
            if line == END {
                let mut out = Vec::new();
                if self.display.iter().any(|(m, _)| *m == mime) {
                    // The same type again: a second display, not a second form of this one.
                    out = self.emit_display();
                }
                self.display.push((mime, lines.join("\n")));
                return out;
            }
            lines.push(line);
            self.block = Some((mime, lines));
            return Vec::new();
        }
        if let Some(mime) = line.strip_prefix(BEGIN) {
            self.block = Some((mime.trim().to_string(), Vec::new()));
            return Vec::new();
        }
        let mut out = if line == EXECUTION_COMPLETE {
            // The cell's last output: evcxr makes it the cell's result.
            self.raw_display()
        } else {
            self.emit_display()
        };
        out.push(line);
        out
    }

    /// Nothing was printed for a while: show the display gathered so far.
    pub fn quiet(&mut self) -> Vec<String> {
        if self.block.is_some() {
            return Vec::new();
        }
        self.emit_display()
    }

    /// The process is ending: pass on whatever is left as it was printed.
    pub fn end(&mut self) -> Vec<String> {
        let mut out = self.raw_display();
        if let Some((mime, lines)) = self.block.take() {
            out.push(format!("{BEGIN}{mime}"));
            out.extend(lines);
        }
        out
    }

    fn emit_display(&mut self) -> Vec<String> {
        if self.display.is_empty() {
            return Vec::new();
        }
        let data: Map<String, Value> = self
            .display
            .drain(..)
            .map(|(mime, content)| (mime, Value::String(content)))
            .collect();
        vec![format!("{DISPLAY_MARKER}{}", Value::Object(data))]
    }

    fn raw_display(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for (mime, content) in self.display.drain(..) {
            out.push(format!("{BEGIN}{mime}"));
            out.extend(content.lines().map(str::to_string));
            out.push(END.to_string());
        }
        out
    }
}

/// A display as Jupyter expects it: JSON types as JSON, binary images as one base64 string.
pub fn bundle(content: impl IntoIterator<Item = (String, String)>) -> Bundle {
    let mut bundle = Bundle::default();
    for (mime, text) in content {
        let value = if mime.contains("json") {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        } else if mime.starts_with("image/") && !mime.starts_with("image/svg") {
            Value::String(text.split_whitespace().collect())
        } else {
            Value::String(text)
        };
        bundle = bundle.with(&mime, value);
    }
    bundle
}

/// The display a marked line carries, if it is one.
pub fn parse_display(line: &str) -> Option<Bundle> {
    let json = line.strip_prefix(DISPLAY_MARKER)?;
    let Ok(Value::Object(data)) = serde_json::from_str::<Value>(json) else {
        return None;
    };
    Some(bundle(data.into_iter().map(|(mime, v)| match v {
        Value::String(s) => (mime, s),
        other => (mime, other.to_string()),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(grouper: &mut Grouper, text: &str) -> Vec<String> {
        text.lines()
            .flat_map(|l| grouper.line(l.to_string()))
            .collect()
    }

    fn display_of(line: &str) -> Value {
        serde_json::from_str(line.strip_prefix(DISPLAY_MARKER).expect("a display line")).unwrap()
    }

    #[test]
    fn blocks_printed_together_are_one_display_shown_before_the_next_line() {
        let mut g = Grouper::default();
        let out = feed(
            &mut g,
            "before\nEVCXR_BEGIN_CONTENT text/html\n<b>a</b>\n<i>b</i>\nEVCXR_END_CONTENT\n\
             EVCXR_BEGIN_CONTENT text/plain\na b\nEVCXR_END_CONTENT\nafter",
        );
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0], "before");
        assert_eq!(
            display_of(&out[1]),
            serde_json::json!({"text/html": "<b>a</b>\n<i>b</i>", "text/plain": "a b"})
        );
        assert_eq!(out[2], "after");
    }

    #[test]
    fn the_same_type_again_is_a_second_display() {
        let mut g = Grouper::default();
        let out = feed(
            &mut g,
            "EVCXR_BEGIN_CONTENT text/html\n1\nEVCXR_END_CONTENT\n\
             EVCXR_BEGIN_CONTENT text/html\n2\nEVCXR_END_CONTENT",
        );
        assert_eq!(display_of(&out[0]), serde_json::json!({"text/html": "1"}));
        assert!(g.is_waiting());
        let rest = g.quiet();
        assert_eq!(display_of(&rest[0]), serde_json::json!({"text/html": "2"}));
        assert!(!g.is_waiting());
    }

    #[test]
    fn what_the_cell_ends_with_stays_evcxrs_result() {
        let mut g = Grouper::default();
        let text = "EVCXR_BEGIN_CONTENT text/plain\n{\n  \"a\": 1\n}\nEVCXR_END_CONTENT\n\
                    EVCXR_BEGIN_CONTENT application/json\n{\"a\":1}\nEVCXR_END_CONTENT";
        let mut out = feed(&mut g, text);
        out.extend(g.line(EXECUTION_COMPLETE.to_string()));
        let expected: Vec<String> = text
            .lines()
            .map(str::to_string)
            .chain([EXECUTION_COMPLETE.to_string()])
            .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn a_block_being_printed_is_not_cut_by_a_quiet_spell() {
        let mut g = Grouper::default();
        assert!(feed(&mut g, "EVCXR_BEGIN_CONTENT text/html\n<p>").is_empty());
        assert!(!g.is_waiting());
        assert!(g.quiet().is_empty());
        let out = feed(&mut g, "</p>\nEVCXR_END_CONTENT\nnext");
        assert_eq!(
            display_of(&out[0]),
            serde_json::json!({"text/html": "<p>\n</p>"})
        );
        // An unfinished block at the end is passed on as printed.
        feed(&mut g, "EVCXR_BEGIN_CONTENT text/html\nhalf");
        assert_eq!(g.end(), ["EVCXR_BEGIN_CONTENT text/html", "half"]);
    }

    #[test]
    fn images_become_one_base64_string_and_json_is_parsed() {
        let line = format!(
            "{DISPLAY_MARKER}{}",
            serde_json::json!({"image/png": "iVBO\nRw0K", "application/json": "{\"x\":[1]}", "image/svg+xml": "<svg>\n</svg>"})
        );
        let bundle = parse_display(&line).unwrap();
        let data = bundle.data();
        assert_eq!(data["image/png"], "iVBORw0K");
        assert_eq!(data["application/json"], serde_json::json!({"x": [1]}));
        assert_eq!(data["image/svg+xml"], "<svg>\n</svg>");
        assert!(parse_display("plain text").is_none());
    }
}
