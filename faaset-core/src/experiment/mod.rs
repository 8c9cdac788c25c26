//! Experiments (FaaS Runner Lite, tutorial §4): many concurrent calls of a deployed function,
//! one result row per call in `functions/<fn>/experiments/<name>/results.csv` and a record of
//! each run in `experiment.json` beside it (DESIGN §1.3, §1.5).
//!
//! - [`spec`]: the parameters, their checks, the (seeded) spreading of payloads over calls;
//! - [`runner`]: the concurrent calls (closed loop) and the single writer of rows;
//! - [`arrivals`], [`open_loop`]: the schedule of an open-loop run and the calls issued on it;
//! - [`results`]: `results.csv` and its growing-header scheme;
//! - [`record`]: the run records of `experiment.json`.
//!
//! Everything the caller gave is checked before anything is written; a repeated experiment
//! with the same name appends. The function must be deployed: this module calls what is
//! deployed and never builds (the CLI and the kernel deploy a changed function first).

pub mod arrivals;
pub mod open_loop;
pub mod record;
pub mod results;
pub mod runner;
pub mod spec;
pub mod sweep;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::deploy::{self, DEFAULT_PLATFORM};
use crate::error::{Error, Result};
use crate::function::{now_ms, FunctionPaths, FunctionState};
use crate::invoke::Invoker;
use crate::locks;
use crate::name::FunctionName;
use crate::platform::Platform;
use crate::workspace::Workspace;

pub use arrivals::{Arrival, Phase};
pub use open_loop::OpenLoopReport;
pub use record::ExperimentRecord;
pub use results::ResultsCsv;
pub use runner::Progress;
pub use spec::{check_experiment_name, ExperimentSpec, DEFAULT_SEED};

/// What a finished experiment run did and where its results are.
#[derive(Debug, Clone)]
pub struct ExperimentSummary {
    pub function: String,
    pub platform: String,
    pub experiment: String,
    /// Rows written by this run (= the spec's total calls).
    pub calls: usize,
    /// Rows of this run with `error` set.
    pub errors: usize,
    /// Rows of this run that were cold starts (`None`: no row said either way).
    pub cold_starts: Option<usize>,
    /// Client epoch ms.
    pub start: u64,
    pub end: u64,
    pub elapsed: Duration,
    pub results_csv: PathBuf,
    pub experiment_json: PathBuf,
    /// Index of this run in `experiment.json`'s `runs`.
    pub run_index: usize,
    /// Set when the function was redeployed or reconfigured while this run made its calls
    /// (another process, a sweep, a cell): its rows then mix two settings. Also recorded in
    /// `experiment.json` (`changedDuringRun`).
    pub changed_during_run: Option<String>,
    /// Whether every call was asked to be a cold start (`cold=true`).
    pub cold: bool,
    /// An open-loop run: how well it kept its schedule.
    pub open_loop: Option<OpenLoopReport>,
}

/// Runs an experiment: `threads` concurrent workers × `runs_per_thread` calls each, rows
/// appended to `results.csv` as they arrive, `progress` called after each row.
pub async fn experiment(
    workspace: &Workspace,
    spec: &ExperimentSpec,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ExperimentSummary> {
    spec.validate()?;
    let name = FunctionName::new(&spec.function)?;
    let paths = FunctionPaths::new(workspace, &name);
    if FunctionState::load(&paths)?.is_none() {
        return Err(deploy::unknown_function(workspace, &name));
    }
    // Held until the run ends: what is deployed cannot change under it (a user's deploy or
    // reconfigure is refused, a sweep's waits), so the record below is what every call ran.
    let _running = locks::experiment_running(workspace, &name).await?;
    let state =
        FunctionState::load(&paths)?.ok_or_else(|| deploy::unknown_function(workspace, &name))?;
    let platform_name = spec
        .platform
        .as_deref()
        .or(Some(state.platform.as_str()).filter(|p| !p.is_empty()))
        .unwrap_or(DEFAULT_PLATFORM);
    let platform = Platform::resolve(workspace, platform_name)?;
    let platform = platform.name();
    let deployed = state.deployed_on(platform)?;
    let invoker = Arc::new(Invoker::new(workspace, name.as_str(), Some(platform)).await?);
    if spec.cold {
        invoker.check_cold()?;
    }

    // Checked: from here on, files are written.
    let dir = paths.experiments_dir().join(&spec.experiment_name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let _lock = lock(&dir, spec)?;
    remove_leftovers(&dir);
    let mut record = ExperimentRecord::load(&dir.join("experiment.json"), spec)?;
    let mut csv = ResultsCsv::open(&dir.join("results.csv"))?;
    let start = now_ms();
    let started = Instant::now();
    record.start(spec, platform, deployed, start)?;
    let context = runner::RowContext {
        function: name.to_string(),
        platform: platform.to_string(),
        experiment: spec.experiment_name.clone(),
        tags: Value::Object(spec.tags.clone()).to_string(),
    };
    let outcome = runner::run(invoker, spec, context, &mut csv, progress).await?;
    let tally = outcome.tally;
    let end = now_ms();
    record.finish(end, tally.calls, tally.errors, outcome.open_loop.as_ref())?;
    // The run lock stops this project's deploys; a change made around it (another
    // checkout of the workspace, the cloud's console) is still detected and said.
    let now_deployed = FunctionState::load(&paths)
        .ok()
        .flatten()
        .and_then(|s| s.deployed.get(platform).cloned());
    let changed_during_run = match now_deployed {
        Some(now) if now.at != deployed.at => {
            record.changed_during_run(&now)?;
            Some(format!(
                "{name} was deployed or reconfigured on {platform} while experiment {} ran: its rows mix the settings before and after (see experiment.json, changedDuringRun)",
                spec.experiment_name
            ))
        }
        _ => None,
    };
    Ok(ExperimentSummary {
        function: name.to_string(),
        platform: platform.to_string(),
        experiment: spec.experiment_name.clone(),
        calls: tally.calls,
        errors: tally.errors,
        cold_starts: tally.cold_starts,
        start,
        end,
        elapsed: started.elapsed(),
        results_csv: csv.path().to_path_buf(),
        experiment_json: record.path().to_path_buf(),
        run_index: record.run_index(),
        changed_during_run,
        cold: spec.cold,
        open_loop: outcome.open_loop,
    })
}

/// Removes the temporary files a killed run left (a widening of `results.csv`, a write of
/// `experiment.json`): under the experiment's lock nobody else writes them.
fn remove_leftovers(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".results.csv.tmp") || name.starts_with(".experiment.json.tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// One run of an experiment at a time (in this process or another): an exclusive lock on
/// `.lock` in its folder, released when the run ends or its process dies. The file names the
/// running process, so a refused deploy can say which experiment is in its way.
fn lock(dir: &std::path::Path, spec: &ExperimentSpec) -> Result<std::fs::File> {
    let path = dir.join(".lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("create", &path, e))?;
    match file.try_lock() {
        Ok(()) => {
            locks::mark_running(&mut file)?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Usage(format!(
            "experiment {} of {} is already running; wait for it to end or pick another experiment name",
            spec.experiment_name, spec.function
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_experiment_future_can_be_spawned() {
        fn send<T: Send>(_: T) {}
        let dir = tempfile::tempdir().unwrap();
        let workspace = Workspace::open(dir.path()).unwrap();
        let spec = ExperimentSpec::new("f", "e");
        // Futures are lazy: this only proves `Send` (the kernel spawns experiments).
        send(experiment(&workspace, &spec, &|_| {}));
    }
}
