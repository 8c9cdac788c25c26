//! Runs a platform script (`build.sh`, `publish.sh`, `run.sh`) of a function's platform
//! folder, as Python FaaSET does: the folder is `$1`, output is streamed line by line to the
//! step's log file and to the caller's sink.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Answer, Platform, Target};
use crate::error::{Error, Result};
use crate::function::{sha256_hex, FunctionPaths};
use crate::progress::{Quiet, Sink};

/// A finished script: its exit status and what it printed (stdout and stderr merged), line by
/// line, as far as [`KEPT_OUTPUT`] bytes; the log file has all of it.
pub struct ScriptRun {
    pub success: bool,
    pub status: String,
    pub lines: Vec<String>,
    /// The script printed more than [`KEPT_OUTPUT`]: `lines` holds only the beginning.
    pub truncated: bool,
}

/// How much of a script's output is kept in memory: a build's first compile error and a
/// `run.sh` response (at most Lambda's 6 MB) fit with room to spare, and a script that prints
/// without end cannot exhaust the caller's memory.
pub const KEPT_OUTPUT: usize = 16 * 1024 * 1024;

/// Runs `<platform_dir>/<script> <platform_dir> [args]` with `env` and `input` on its stdin
/// (else an empty stdin), writing its merged output to `log` (created afresh for this step)
/// and its lines to `sink`. Output that is not UTF-8 is kept (and shown with U+FFFD).
pub async fn run(
    platform_dir: &Path,
    script: &str,
    args: &[&str],
    env: &[(&str, String)],
    input: Option<bytes::Bytes>,
    log: &Path,
    sink: &dyn Sink,
) -> Result<ScriptRun> {
    let script_path = platform_dir.join(script);
    if !script_path.is_file() {
        return Err(Error::Usage(format!(
            "{} is missing; restore it from the platform template or delete the folder to get a fresh copy",
            script_path.display()
        )));
    }
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    // Owner-only: run.sh's log holds payloads and answers.
    let mut log_file = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(log)
        .await
        .map_err(|e| Error::io("create", log, e))?;
    // `exec 2>&1` merges stderr into stdout so lines keep their order in the log.
    let mut command = tokio::process::Command::new("bash");
    command
        .arg("-c")
        .arg("exec 2>&1; exec bash \"$0\" \"$@\"")
        .arg(&script_path)
        .arg(platform_dir)
        .args(args)
        .current_dir(platform_dir)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .spawn()
        .map_err(|e| Error::io("run", PathBuf::from(&script_path), e))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // Written beside the reading below (a script may print before it reads, or never
        // read): a script that ignores its stdin just closes the pipe.
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
    }
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut output = Output::default();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = stdout
            .read(&mut chunk)
            .await
            .map_err(|e| Error::io("read output of", &script_path, e))?;
        if n == 0 {
            break;
        }
        let _ = log_file.write_all(&chunk[..n]).await;
        output.push(&chunk[..n], sink);
    }
    output.finish(sink);
    let status = child
        .wait()
        .await
        .map_err(|e| Error::io("wait for", &script_path, e))?;
    let _ = log_file.flush().await;
    Ok(ScriptRun {
        success: status.success(),
        status: status.to_string(),
        lines: output.lines,
        truncated: output.truncated,
    })
}

/// Calls of a function through its own `run.sh`, which its user changed (a customised
/// `run.sh` must be honoured, DESIGN §1.3).
pub struct RunScript {
    dir: PathBuf,
    log: PathBuf,
}

impl RunScript {
    /// The function's `run.sh` on `platform`, when it differs from the platform template's
    /// (today's or an earlier release's).
    pub fn customised(paths: &FunctionPaths, platform: &Platform) -> Option<Self> {
        let dir = paths.platform_dir(platform.name());
        let own = std::fs::read(dir.join("run.sh")).ok()?;
        let template = std::fs::read(platform.template_file("run.sh")?).ok()?;
        let own = sha256_hex(&own);
        let changed =
            own != sha256_hex(&template) && !EARLIER_RUN_TEMPLATES.contains(&own.as_str());
        changed.then(|| RunScript {
            log: paths.logs_dir(platform.name()).join("run.log"),
            dir,
        })
    }
}

/// SHA-256 of the `run.sh` templates earlier releases copied into function folders: such a
/// copy was never edited by its user, so it is not a customisation.
const EARLIER_RUN_TEMPLATES: [&str; 2] = [
    "0bdeff02543efcb9640c646a848adbc674399a98be3d5db3664bfea059b83f43",
    "8183c843d01926b27591afdd7ead6eb1e9793a165c028bba748d773e86e0d1f2",
];

/// The longest payload given to `run.sh` as `$2` (Linux refuses a single argument over
/// 128 KiB); a longer one is only on its stdin, and `$2` is `-`.
const MAX_PAYLOAD_ARGUMENT: usize = 100 * 1024;

#[async_trait]
impl Target for RunScript {
    fn cold_calls(&self) -> std::result::Result<(), String> {
        Err("its calls go through the customised run.sh, which cannot ask for a fresh environment (restore run.sh from the template to use cold=true)".into())
    }

    async fn call(&self, payload: bytes::Bytes) -> Result<Answer> {
        // As in Python FaaSET the payload is `$2`; it is also the script's stdin, which is
        // how the template reads it (a command line is readable by every local user and
        // holds at most 128 KiB per argument), and `$2` is `-` for a payload too long for one.
        let text = String::from_utf8_lossy(&payload).into_owned();
        let argument = if text.len() <= MAX_PAYLOAD_ARGUMENT {
            text.as_str()
        } else {
            "-"
        };
        let run = run(
            &self.dir,
            "run.sh",
            &[argument],
            &[],
            Some(payload.clone()),
            &self.log,
            &Quiet,
        )
        .await?;
        if run.truncated {
            return Ok(Answer::failed(
                "RunScriptFailed",
                format!(
                    "run.sh printed more than {} MiB; its whole output is in {}",
                    KEPT_OUTPUT >> 20,
                    self.log.display()
                ),
            ));
        }
        let output = run.lines.join("\n");
        if !run.success {
            return Ok(Answer::failed(
                "RunScriptFailed",
                format!("run.sh failed ({}): {}", run.status, output.trim()),
            ));
        }
        // A Lambda-style error object (what the engine answers for a failed call) is a failure.
        let function_error = serde_json::from_str::<serde_json::Value>(&output)
            .is_ok_and(|v| v.get("errorType").is_some() && v.get("errorMessage").is_some());
        Ok(Answer {
            body: output.into(),
            function_error,
            report: serde_json::Map::new(),
        })
    }
}

/// Splits output into lines, keeping at most [`KEPT_OUTPUT`] bytes of them.
#[derive(Default)]
struct Output {
    lines: Vec<String>,
    current: Vec<u8>,
    kept: usize,
    truncated: bool,
}

impl Output {
    fn push(&mut self, mut bytes: &[u8], sink: &dyn Sink) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.extend(&bytes[..end]);
            self.end_line(sink);
            bytes = &bytes[end + 1..];
        }
        self.extend(bytes);
    }

    fn extend(&mut self, bytes: &[u8]) {
        let room = KEPT_OUTPUT.saturating_sub(self.kept + self.current.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.current
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn end_line(&mut self, sink: &dyn Sink) {
        let line = String::from_utf8_lossy(&self.current).into_owned();
        self.current.clear();
        sink.output(&line);
        if !self.truncated {
            self.kept += line.len() + 1;
            self.lines.push(line);
        }
    }

    /// The last line, if the output did not end with a newline.
    fn finish(&mut self, sink: &dyn Sink) {
        if !self.current.is_empty() {
            self.end_line(sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Lines(std::sync::Mutex<Vec<String>>);
    impl Sink for Lines {
        fn status(&self, _line: &str) {}
        fn output(&self, line: &str) {
            self.0.lock().unwrap().push(line.to_string());
        }
    }

    fn split(chunks: &[&[u8]]) -> (Output, Vec<String>) {
        let sink = Lines(Default::default());
        let mut output = Output::default();
        for chunk in chunks {
            output.push(chunk, &sink);
        }
        output.finish(&sink);
        (output, sink.0.into_inner().unwrap())
    }

    #[test]
    fn lines_split_across_chunks_and_bad_utf8_are_kept() {
        let (output, shown) = split(&[b"one\ntw", b"o\n\xff\xfe three", b""]);
        assert_eq!(output.lines, ["one", "two", "\u{fffd}\u{fffd} three"]);
        assert_eq!(shown, output.lines);
        assert!(!output.truncated);
    }

    #[test]
    fn output_beyond_the_limit_is_not_kept() {
        let big = vec![b'x'; KEPT_OUTPUT / 2];
        let (output, shown) = split(&[&big, b"\n", &big, b"\n", &big, b"\nlast\n"]);
        assert!(output.truncated);
        assert_eq!(output.lines.len(), 1, "only the first whole line fits");
        assert!(output.lines.iter().map(String::len).sum::<usize>() <= KEPT_OUTPUT);
        assert_eq!(shown.len(), 4, "every line is still shown");
    }
}
