//! The local platform's engine: a Lambda-compatible service on 127.0.0.1 for one workspace.
//!
//! - `control`: the Lambda-shaped control/invoke API, guarded by the workspace's token;
//! - `pool`: published functions and their execution environments (warm reuse, cold starts,
//!   idle reaping);
//! - `environment`: one `bootstrap` process and its own Runtime API endpoint;
//! - `limits`: Lambda's resource model on cgroups (memory limit, CPU share by memory);
//! - `governor`: the CPU share on the time scale of one call (quanta and stalls, as Lambda);
//! - `runtime_api`: Lambda's Runtime API (`next`, `response`, `error`, `init/error`);
//! - `wire`: what crosses the HTTP boundary (shared with the client in `platform::local`).
//!
//! The engine does not know about builds, experiments or analysis.

pub mod control;
pub mod environment;
pub mod governor;
pub mod limits;
pub mod pool;
pub mod runtime_api;
pub mod wire;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// How clients find a running engine: `.faaset/local/engine.json` (mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineInfo {
    pub pid: u32,
    pub address: String,
    pub token: String,
}

/// The engine's folder in the workspace's state folder.
pub fn engine_dir(workspace: &Workspace) -> PathBuf {
    workspace.state_dir().join("local")
}

pub fn info_file(workspace: &Workspace) -> PathBuf {
    engine_dir(workspace).join("engine.json")
}

/// Runs the engine on `127.0.0.1:port` (0: any free port) until `POST /faaset/shutdown`,
/// SIGTERM or Ctrl-C; then ends every environment and removes `engine.json`.
pub async fn run(workspace: &Workspace, port: u16) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| Error::Engine(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::Engine(format!("cannot handle SIGTERM: {e}")))?;
    let signals = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    serve(workspace, listener, signals).await
}

/// Serves `workspace`'s engine on `listener` (bound to loopback by the caller) until
/// `shutdown` completes, `POST /faaset/shutdown` arrives or the engine has nothing to do
/// (see [`reason_to_exit`]); then ends every environment and removes `engine.json`. The
/// process's signals are the caller's business ([`run`] stops on SIGTERM and Ctrl-C), so a
/// test can run an engine inside itself.
pub async fn serve(
    workspace: &Workspace,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let dir = engine_dir(workspace);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::Engine(e.to_string()))?;
    let token = crate::auth::new_token()?;
    let limits = limits::Limits::detect();
    // Said once, at start, in the engine's log (and by `faaset local start|status`).
    eprintln!(
        "faaset engine {}: limits {}",
        std::process::id(),
        limits.describe()
    );
    let engine = Arc::new(control::Engine {
        pool: pool::Pool::new(pool::code_store(&dir), limits),
        token: token.clone(),
        workspace: workspace.root().to_path_buf(),
        shutdown: tokio::sync::Notify::new(),
        last_request: std::sync::Mutex::new(std::time::Instant::now()),
    });
    let info = EngineInfo {
        pid: std::process::id(),
        address: address.to_string(),
        token,
    };
    crate::function::write_private_atomic(
        &info_file(workspace),
        &serde_json::to_vec_pretty(&info).unwrap(),
    )?;

    let reaper = {
        let engine = engine.clone();
        let idle_exit = idle_exit();
        tokio::spawn(async move {
            let mut busy_at = std::time::Instant::now();
            for tick in 0u64.. {
                tokio::time::sleep(Duration::from_secs(1)).await;
                engine.pool.reap();
                if tick % 5 == 0 {
                    let engine = engine.clone();
                    let _ = tokio::task::spawn_blocking(move || engine.pool.limits.remove_stale())
                        .await;
                }
                if !engine.pool.is_empty() {
                    busy_at = std::time::Instant::now();
                }
                if let Some(reason) = reason_to_exit(&engine, busy_at, idle_exit) {
                    eprintln!("faaset engine {}: {reason}: stopping", std::process::id());
                    engine.shutdown.notify_one();
                    break;
                }
            }
        })
    };
    let app = control::router(engine.clone());
    let stop = engine.clone();
    // No Nagle delay on small request/answer exchanges.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = stop.shutdown.notified() => {}
                _ = shutdown => {}
            }
        })
        .await;
    reaper.abort();
    engine.pool.shutdown();
    // Only remove the file if it is still ours (a newer engine may have replaced it).
    if let Ok(text) = std::fs::read_to_string(info_file(workspace)) {
        if serde_json::from_str::<EngineInfo>(&text).is_ok_and(|i| i.pid == std::process::id()) {
            let _ = std::fs::remove_file(info_file(workspace));
        }
    }
    // Give the environments' exit watchers a moment to reap the killed processes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    engine.pool.limits.cleanup();
    served.map_err(|e| Error::Engine(format!("server failed: {e}")))
}

/// An engine that runs no environment and has had no request for this long ends itself
/// (`FAASET_LOCAL_IDLE_EXIT`, seconds; 0: never): engines started on demand by a notebook or a
/// test must not outlive their use. The next client starts a new one and publishes again.
pub const IDLE_EXIT: Duration = Duration::from_secs(30 * 60);

fn idle_exit() -> Option<Duration> {
    match std::env::var("FAASET_LOCAL_IDLE_EXIT") {
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(0.0) => None,
            Ok(seconds) if seconds > 0.0 => Duration::try_from_secs_f64(seconds).ok(),
            _ => {
                eprintln!("FAASET_LOCAL_IDLE_EXIT={text:?} is not a number of seconds; using {IDLE_EXIT:?}");
                Some(IDLE_EXIT)
            }
        },
        Err(_) => Some(IDLE_EXIT),
    }
}

/// Why the engine should stop now, if it should: its workspace is gone (nobody can reach it
/// any more: `engine.json` went with the folder), or it has been idle for `idle_exit`.
fn reason_to_exit(
    engine: &control::Engine,
    busy_at: std::time::Instant,
    idle_exit: Option<Duration>,
) -> Option<String> {
    if !engine.workspace.join(crate::workspace::STATE_DIR).is_dir() {
        return Some(format!("workspace {} is gone", engine.workspace.display()));
    }
    let limit = idle_exit?;
    let last = busy_at.max(*lock(&engine.last_request));
    (last.elapsed() >= limit).then(|| format!("idle for {:.0} s", limit.as_secs_f64()))
}

/// Whether process `pid` still runs (a zombie has ended).
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Locks `mutex` even if a thread panicked while holding it: every engine lock guards plain
/// data that is valid between statements, so one failed request must not poison the engine
/// for all later ones.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
