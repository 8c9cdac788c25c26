//! The locks that keep a function's deploys, experiments and sweeps from stepping on each
//! other, across processes (a notebook cell, a background experiment and a CLI call may
//! overlap). All are `flock` locks on files in `.faaset/locks/`: the kernel releases them
//! when the holder's file is dropped or its process dies, so a crash never leaves one behind.
//!
//! - `<fn>.lock`, exclusive: one deploy or reconfigure of a function at a time.
//! - `<fn>.run.lock`: held *shared* by every running experiment of the function, and
//!   *exclusive* by whatever changes what is deployed. A user's change is refused while an
//!   experiment runs (it would silently mix two settings in one run); a sweep's own
//!   reconfigure waits for other experiments to end.
//! - `<fn>.sweep.lock`: held exclusive by a memory sweep from start to restore, shared (for a
//!   moment) by a user's change, so nobody changes a function in the middle of a sweep and a
//!   sweep's restore never undoes somebody else's deploy.
//!
//! Deploys that change nothing (an `invoke` of an unchanged function) take neither the run
//! lock nor the sweep lock, so calling a function during its experiment is never blocked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::function::FunctionPaths;
use crate::name::FunctionName;
use crate::workspace::Workspace;

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct Held(#[allow(dead_code)] File);

fn lock_path(workspace: &Workspace, name: &FunctionName, kind: &str) -> Result<PathBuf> {
    let dir = workspace.state_dir().join("locks");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    Ok(dir.join(format!("{name}{kind}.lock")))
}

/// Opens a lock file without truncating it (another holder may have written its pid there).
fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open", path, e))
}

/// Waits for an exclusive or shared lock off the async runtime's threads.
async fn wait(path: PathBuf, shared: bool) -> Result<Held> {
    let file = open(&path)?;
    tokio::task::spawn_blocking(move || {
        let locked = if shared {
            file.lock_shared()
        } else {
            file.lock()
        };
        locked
            .map(|()| Held(file))
            .map_err(|e| Error::io("lock", &path, e))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

/// `Ok(None)` when somebody else holds a conflicting lock.
fn try_lock(path: &Path, shared: bool) -> Result<Option<Held>> {
    let file = open(path)?;
    let locked = if shared {
        file.try_lock_shared()
    } else {
        file.try_lock()
    };
    match locked {
        Ok(()) => Ok(Some(Held(file))),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(Error::io("lock", path, e)),
    }
}

/// One deploy or reconfigure of `name` at a time; waits for the one in progress.
pub async fn function(workspace: &Workspace, name: &str) -> Result<Held> {
    let name = FunctionName::new(name)?;
    wait(lock_path(workspace, &name, "")?, false).await
}

/// Held by an experiment while it makes its calls; waits while a change is being published.
pub async fn experiment_running(workspace: &Workspace, name: &FunctionName) -> Result<Held> {
    wait(lock_path(workspace, name, ".run")?, true).await
}

/// Who is changing what is deployed: the user (refused while anything runs) or the sweep
/// that holds the sweep lock (waits for other experiments to end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changer {
    User,
    Sweep,
}

/// The right to change what is deployed of `name`: refused with a message that says what is
/// running when a user's change would land in the middle of an experiment or a sweep.
pub async fn change(
    workspace: &Workspace,
    name: &FunctionName,
    changer: Changer,
) -> Result<Vec<Held>> {
    let run = lock_path(workspace, name, ".run")?;
    if changer == Changer::Sweep {
        return Ok(vec![wait(run, false).await?]);
    }
    let Some(sweep) = try_lock(&lock_path(workspace, name, ".sweep")?, true)? else {
        return Err(Error::Usage(format!(
            "a memory sweep of {name} is running and restores {name}'s configuration when it ends; \
             wait for it to finish (or stop it), then deploy or reconfigure again"
        )));
    };
    let Some(run) = try_lock(&run, false)? else {
        return Err(Error::Usage(format!(
            "{name} has a running experiment ({}), and changing {name} now would mix two \
             settings in that run's rows; wait for it to end (or stop it), then deploy or \
             reconfigure again",
            running_experiments(workspace, name)
        )));
    };
    Ok(vec![sweep, run])
}

/// The sweep lock, for the whole of a sweep; refused when another sweep (or a user's change
/// at this very moment) holds it.
pub fn sweep(workspace: &Workspace, name: &FunctionName) -> Result<Held> {
    try_lock(&lock_path(workspace, name, ".sweep")?, false)?.ok_or_else(|| {
        Error::Usage(format!(
            "another memory sweep of {name} is running (or {name} is being deployed right now); \
             wait for it to finish, then run this sweep again"
        ))
    })
}

/// Marks the lock of a running experiment with this process's id, so a refused change can
/// say which experiments are running.
pub fn mark_running(lock: &mut File) -> Result<()> {
    lock.set_len(0)
        .and_then(|()| writeln!(lock, "{}", std::process::id()))
        .map_err(|e| Error::Internal(format!("mark experiment lock: {e}")))
}

/// "e1 (pid 12), e2 (pid 13)": the experiments of `name` whose locks name a live process.
fn running_experiments(workspace: &Workspace, name: &FunctionName) -> String {
    let dir = FunctionPaths::new(workspace, name).experiments_dir();
    let mut running: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = std::fs::read_to_string(entry.path().join(".lock"))
                .ok()?
                .trim()
                .parse()
                .ok()?;
            crate::engine::process_alive(pid)
                .then(|| format!("{} (pid {pid})", entry.file_name().to_string_lossy()))
        })
        .collect();
    running.sort();
    if running.is_empty() {
        "its name is not recorded".to_string()
    } else {
        running.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let workspace = Workspace::open(dir.path()).unwrap();
        (dir, workspace)
    }

    #[tokio::test]
    async fn a_user_change_is_refused_while_an_experiment_runs_and_allowed_after() {
        let (_dir, ws) = workspace();
        let f = FunctionName::new("f").unwrap();
        let running = experiment_running(&ws, &f).await.unwrap();
        let refused = change(&ws, &f, Changer::User).await.unwrap_err();
        assert!(refused.is_user_error());
        assert!(
            refused.to_string().contains("f has a running experiment"),
            "{refused}"
        );
        // A second experiment may run beside the first.
        let second = experiment_running(&ws, &f).await.unwrap();
        drop((running, second));
        change(&ws, &f, Changer::User).await.unwrap();
    }

    #[tokio::test]
    async fn a_sweep_refuses_a_second_sweep_and_user_changes_but_makes_its_own() {
        let (_dir, ws) = workspace();
        let f = FunctionName::new("f").unwrap();
        let sweeping = sweep(&ws, &f).unwrap();
        assert!(sweep(&ws, &f)
            .unwrap_err()
            .to_string()
            .contains("another memory sweep"));
        let refused = change(&ws, &f, Changer::User).await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("a memory sweep of f is running"),
            "{refused}"
        );
        let own = change(&ws, &f, Changer::Sweep).await.unwrap();
        drop((own, sweeping));
        // Other functions are not affected.
        let g = FunctionName::new("g").unwrap();
        change(&ws, &g, Changer::User).await.unwrap();
    }

    #[tokio::test]
    async fn a_refusal_names_the_running_experiment() {
        let (_dir, ws) = workspace();
        let f = FunctionName::new("f").unwrap();
        let dir = FunctionPaths::new(&ws, &f).experiments_dir().join("e1");
        std::fs::create_dir_all(&dir).unwrap();
        let mut marker = File::create(dir.join(".lock")).unwrap();
        mark_running(&mut marker).unwrap();
        let _running = experiment_running(&ws, &f).await.unwrap();
        let refused = change(&ws, &f, Changer::User)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains(&format!(
                "running experiment (e1 (pid {}))",
                std::process::id()
            )),
            "{refused}"
        );
    }
}
