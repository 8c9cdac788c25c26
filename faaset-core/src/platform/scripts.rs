//! Runs a platform script (`build.sh`, `publish.sh`, `run.sh`) of a function's platform
//! folder, as Python FaaSET does: the folder is `$1`, output is streamed line by line to the
//! step's log file and to the caller's sink.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::error::{Error, Result};
use crate::progress::Sink;

/// A finished script: its exit status and every line it printed (stdout and stderr merged).
pub struct ScriptRun {
    pub success: bool,
    pub status: String,
    pub lines: Vec<String>,
}

/// Runs `<platform_dir>/<script> <platform_dir> [args]` with `env`, writing its merged output
/// to `log` (created afresh for this step) and to `sink`.
pub async fn run(
    platform_dir: &Path,
    script: &str,
    args: &[&str],
    env: &[(&str, String)],
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
    let mut log_file = tokio::fs::File::create(log)
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
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .spawn()
        .map_err(|e| Error::io("run", PathBuf::from(&script_path), e))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reader = BufReader::new(stdout).lines();
    let mut lines = Vec::new();
    while let Some(line) = reader
        .next_line()
        .await
        .map_err(|e| Error::io("read output of", &script_path, e))?
    {
        sink.output(&line);
        let _ = log_file.write_all(line.as_bytes()).await;
        let _ = log_file.write_all(b"\n").await;
        lines.push(line);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| Error::io("wait for", &script_path, e))?;
    let _ = log_file.flush().await;
    Ok(ScriptRun {
        success: status.success(),
        status: status.to_string(),
        lines,
    })
}
