//! Memory sweep, in the spirit of AWS Lambda Power Tuning: for each memory setting,
//! reconfigure the function, run the same experiment, and compare speed and cost per call.
//!
//! For each memory value `m` (ascending), [`sweep`]:
//! 1. publishes `{"memory": m}` with [`deploy::reconfigure`] (no rebuild);
//! 2. makes one warm-up call (not recorded) and checks that the platform reports `m`
//!    (`memorySize`, else SAAF's `functionMemory`), waiting up to [`APPLY_TIMEOUT`] for a
//!    platform that applies configuration lazily — the local engine applies it on the very
//!    next call. The warm-up also keeps one cold start out of the measured calls;
//! 3. runs the experiment under the sweep's experiment name with the tag `{"memory": m}`
//!    added to the caller's tags, so all settings append to one `results.csv`;
//! 4. reads back this run's rows and computes, over the successful calls that report `m`,
//!    after dropping the fastest and slowest `discard_top_bottom` fraction (as Power Tuning's
//!    `discardTopBottom`, default 0.2; see [`crate::analysis::trimmed`] for the rounding):
//!    mean and median `duration` (the platform's; `runtime` when the platform reports no
//!    duration), and the mean cost per call = billed GB-seconds × price per GB-second +
//!    price per request ([`Pricing`]).
//!
//! Everything is checked before the first call; the function's original configuration is
//! restored when the sweep ends, fails, or (inside a tokio runtime) is dropped part-way.
//! The best value per [`Strategy`] is chosen from the points that have statistics.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::analysis;
use crate::config::{self, Config};
use crate::deploy::{self, DEFAULT_PLATFORM};
use crate::error::{Error, Result};
use crate::function::{FunctionPaths, FunctionState};
use crate::invoke::Invoker;
use crate::locks::{self, Changer};
use crate::name::FunctionName;
pub use crate::platform::pricing::{Pricing, PRICE_PER_GB_SECOND_KEY, PRICE_PER_REQUEST_KEY};
use crate::platform::Platform;
use crate::plot::SweepPoint;
use crate::progress::Sink;
use crate::workspace::Workspace;

use super::{experiment, ExperimentSpec, ExperimentSummary, Progress};

/// Memory settings (MB) swept when none are given: Power Tuning's usual range on Lambda.
pub const DEFAULT_MEMORY: [u32; 5] = [128, 256, 512, 1024, 2048];
/// Calls per worker at each setting when none are given: enough for a trimmed mean.
pub const DEFAULT_RUNS_PER_THREAD: usize = 10;
/// Experiment the sweep's rows go to when none is named.
pub const DEFAULT_EXPERIMENT_NAME: &str = "memory_sweep";
/// Default fraction of the fastest and of the slowest calls dropped before averaging.
pub const DEFAULT_DISCARD_TOP_BOTTOM: f64 = 0.2;
/// How long a platform may take to apply a new memory setting.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// A memory sweep: the experiment to repeat and the memory settings to repeat it at.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// The experiment run at each setting (function, platform, threads, runs per thread,
    /// payloads, experiment name, shuffle, seed, tags); `{"memory": m}` is added to its tags.
    pub experiment: ExperimentSpec,
    /// Memory settings in MB; each must be a value the platform accepts. Run ascending.
    pub memory: Vec<u32>,
    /// Fraction of the fastest and of the slowest calls dropped before averaging, in [0, 0.5).
    pub discard_top_bottom: f64,
    /// Prices; `None`: [`Pricing::for_config`] of the deployed configuration.
    pub price: Option<Pricing>,
}

impl SweepSpec {
    /// A sweep of `function` with every default: [`DEFAULT_MEMORY`], one worker making
    /// [`DEFAULT_RUNS_PER_THREAD`] calls per setting into [`DEFAULT_EXPERIMENT_NAME`], 20%
    /// trimmed at each end, prices from the deployed config. The CLI and the notebook start
    /// from this and change what the user gave.
    pub fn new(function: impl Into<String>) -> Self {
        let mut experiment = ExperimentSpec::new(function, DEFAULT_EXPERIMENT_NAME);
        experiment.runs_per_thread = DEFAULT_RUNS_PER_THREAD;
        SweepSpec {
            experiment,
            memory: DEFAULT_MEMORY.to_vec(),
            discard_top_bottom: DEFAULT_DISCARD_TOP_BOTTOM,
            price: None,
        }
    }
}

/// What to optimise for when picking the best memory setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Lowest mean cost per call.
    Cost,
    /// Lowest mean duration.
    Speed,
    /// Lowest `cost / max cost + duration / max duration` over the measured settings: cost
    /// and duration normalised to [0, 1] by their largest value and weighted equally (Power
    /// Tuning's `balanced` strategy with its default `balancedWeight` of 0.5).
    Balanced,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [Strategy::Cost, Strategy::Speed, Strategy::Balanced];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Cost => "cost",
            Strategy::Speed => "speed",
            Strategy::Balanced => "balanced",
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The statistics of one memory setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointStats {
    /// Calls averaged: successful, reporting the setting, left after trimming.
    pub kept: usize,
    pub mean_duration_ms: f64,
    pub median_duration_ms: f64,
    /// Mean cost of one call, USD.
    pub mean_cost_usd: f64,
}

/// One memory setting of a sweep.
#[derive(Debug, Clone)]
pub struct MemoryResult {
    pub memory: u32,
    pub calls: usize,
    pub errors: usize,
    /// Calls that started a new environment, when the platform says.
    pub cold_starts: Option<usize>,
    /// Successful calls that reported another memory size (left out of the statistics).
    pub mismatched: usize,
    /// `None` when no call succeeded.
    pub stats: Option<PointStats>,
    /// Index of this setting's run in `experiment.json`.
    pub run_index: usize,
    pub elapsed: Duration,
}

/// The outcome of a sweep.
#[derive(Debug, Clone)]
pub struct SweepReport {
    pub function: String,
    pub platform: String,
    pub experiment: String,
    pub results_csv: PathBuf,
    /// The column averaged: `duration`, or `runtime` where the platform reports no duration.
    pub metric: &'static str,
    pub discard_top_bottom: f64,
    pub pricing: Pricing,
    /// One per setting, ascending memory.
    pub results: Vec<MemoryResult>,
    /// The memory setting deployed before the sweep, and again after it.
    pub original_memory: Option<u64>,
}

impl SweepReport {
    /// The best setting for `strategy` among those with statistics (ties: less memory).
    pub fn best(&self, strategy: Strategy) -> Option<&MemoryResult> {
        let measured: Vec<(&MemoryResult, PointStats)> = self
            .results
            .iter()
            .filter_map(|r| r.stats.map(|s| (r, s)))
            .collect();
        let max_cost = measured
            .iter()
            .map(|(_, s)| s.mean_cost_usd)
            .fold(0.0, f64::max);
        let max_duration = measured
            .iter()
            .map(|(_, s)| s.mean_duration_ms)
            .fold(0.0, f64::max);
        let ratio = |x: f64, max: f64| if max > 0.0 { x / max } else { 0.0 };
        let score = |s: &PointStats| match strategy {
            Strategy::Cost => s.mean_cost_usd,
            Strategy::Speed => s.mean_duration_ms,
            Strategy::Balanced => {
                ratio(s.mean_cost_usd, max_cost) + ratio(s.mean_duration_ms, max_duration)
            }
        };
        let mut best: Option<(&MemoryResult, f64)> = None;
        for (result, stats) in measured {
            let value = score(&stats);
            if best.is_none_or(|(_, b)| value < b) {
                best = Some((result, value));
            }
        }
        best.map(|(r, _)| r)
    }

    /// The sweep's chart (duration and cost per memory setting), titled with the function
    /// and platform; `None` when no setting has statistics (every call failed).
    pub fn chart(
        &self,
        format: crate::plot::Format,
    ) -> Option<std::result::Result<crate::plot::Image, crate::plot::PlotError>> {
        if self.results.iter().all(|r| r.stats.is_none()) {
            return None;
        }
        let title = format!("{} memory sweep ({})", self.function, self.platform);
        Some(crate::plot::memory_sweep(
            &self.chart_points(),
            &title,
            format,
        ))
    }

    /// The points of [`crate::plot::memory_sweep`]; settings without statistics are NaN
    /// (left off the chart).
    pub fn chart_points(&self) -> Vec<SweepPoint> {
        self.results
            .iter()
            .map(|r| SweepPoint {
                memory_mb: f64::from(r.memory),
                mean_duration_ms: r.stats.map_or(f64::NAN, |s| s.mean_duration_ms),
                mean_cost_usd: r.stats.map_or(f64::NAN, |s| s.mean_cost_usd),
            })
            .collect()
    }
}

/// What a sweep reports while it runs.
#[derive(Debug, Clone)]
pub enum SweepEvent {
    /// A status line (publishing, warm-up, restoring).
    Status(String),
    /// The experiment at `memory` (setting `index` of `count`) starts `calls` calls.
    Started {
        memory: u32,
        index: usize,
        count: usize,
        calls: usize,
    },
    /// A call of the experiment at `memory` finished.
    Calls { memory: u32, progress: Progress },
    /// The experiment at `memory` ended.
    Finished {
        memory: u32,
        calls: usize,
        errors: usize,
        elapsed: Duration,
    },
}

/// A sweep's inputs, checked: the platform, the sorted settings, what to restore.
struct Plan {
    name: FunctionName,
    platform: Platform,
    memory: Vec<u32>,
}

/// Checks a sweep without calling or writing anything: the function exists, the platform
/// accepts every memory setting, the experiment parameters and the trim fraction are valid.
/// (Whether the function is deployed is checked by [`sweep`], after a caller's deploy.)
pub fn check(workspace: &Workspace, spec: &SweepSpec) -> Result<()> {
    plan(workspace, spec).map(|_| ())
}

fn plan(workspace: &Workspace, spec: &SweepSpec) -> Result<Plan> {
    spec.experiment.validate()?;
    let f = spec.discard_top_bottom;
    if !(0.0..0.5).contains(&f) {
        return Err(Error::Usage(format!(
            "discard_top_bottom must be from 0 up to (not including) 0.5, e.g. 0.2; got {f}"
        )));
    }
    if let Some(price) = &spec.price {
        price.check()?;
    }
    let name = FunctionName::new(&spec.experiment.function)?;
    let paths = FunctionPaths::new(workspace, &name);
    let state =
        FunctionState::load(&paths)?.ok_or_else(|| deploy::unknown_function(workspace, &name))?;
    let platform_name = spec
        .experiment
        .platform
        .as_deref()
        .or(Some(state.platform.as_str()).filter(|p| !p.is_empty()))
        .unwrap_or(DEFAULT_PLATFORM);
    let platform = Platform::resolve(workspace, platform_name)?;
    if spec.memory.is_empty() {
        return Err(Error::Usage(
            "the list of memory settings is empty: give at least one (e.g. memory=128,256,512)"
                .into(),
        ));
    }
    let mut memory = spec.memory.clone();
    memory.sort_unstable();
    if let Some(w) = memory.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::Usage(format!(
            "memory setting {} MB is listed twice; give each setting once",
            w[0]
        )));
    }
    for &m in &memory {
        let config = Config::from_iter([("memory".to_string(), json!(m))]);
        config::check(platform.name(), platform.config_keys(), &config)?;
    }
    Ok(Plan {
        name,
        platform,
        memory,
    })
}

/// Runs a memory sweep (see the module documentation). `progress` gets status lines and
/// per-call progress; the function's configuration is restored afterwards.
///
/// `stop` ends the sweep early (Ctrl-C, an interrupted cell): the calls stop, the rows so
/// far are kept, the memory is put back, and the sweep returns [`Error::Interrupted`]. A
/// caller must cancel `stop` rather than drop the future: a dropped sweep still restores,
/// in a background task, but nothing waits for it.
pub async fn sweep(
    workspace: &Workspace,
    spec: &SweepSpec,
    progress: &(dyn Fn(SweepEvent) + Sync),
    stop: &CancellationToken,
) -> Result<SweepReport> {
    let plan = plan(workspace, spec)?;
    // Held until the configuration is restored (also by a restore in the background): no
    // other sweep, deploy or reconfigure of the function lands in the middle.
    let sweeping = locks::sweep(workspace, &plan.name)?;
    let paths = FunctionPaths::new(workspace, &plan.name);
    let state = FunctionState::load(&paths)?
        .ok_or_else(|| deploy::unknown_function(workspace, &plan.name))?;
    let platform = plan.platform.name();
    let deployed = state.deployed_on(platform)?.clone();
    let pricing = match &spec.price {
        Some(price) => price.clone(),
        None => plan.platform.driver().pricing(&deployed.config),
    };
    let original_memory = deployed.config.get("memory").and_then(Value::as_u64);
    let mut guard = RestoreGuard(Some(Original {
        workspace: workspace.clone(),
        paths,
        platform: plan.platform.clone(),
        saved_memory: state
            .config
            .get(platform)
            .and_then(|c| c.get("memory"))
            .cloned(),
        deployed_memory: deployed.config.get("memory").cloned(),
        _sweeping: sweeping,
    }));

    let outcome = tokio::select! {
        outcome = run(workspace, spec, &plan, progress) => outcome,
        _ = stop.cancelled() => Err(Error::Interrupted(format!(
            "the sweep was interrupted; {}'s memory setting was restored and the rows so far are kept",
            plan.name
        ))),
    };
    let original = guard.0.take().expect("restore pending");
    let restored = original.restore().await;
    drop(original);
    if restored.is_ok() {
        if let Some(m) = original_memory {
            progress(SweepEvent::Status(format!(
                "{}: memory restored to {m} MB",
                plan.name
            )));
        }
    }
    let restore_failed = |e: Error| {
        let message = format!(
            "restoring the configuration of {} failed ({e}); run `faaset deploy {} --force` to publish it again",
            plan.name, plan.name
        );
        if e.is_user_error() {
            Error::Usage(message)
        } else {
            Error::Internal(message)
        }
    };
    let runs = match (outcome, restored) {
        (Ok(runs), Ok(())) => runs,
        (Ok(_), Err(e)) => return Err(restore_failed(e)),
        (Err(e), Ok(())) => return Err(e),
        // The message of an interruption says the memory is back: here it is not.
        (Err(Error::Interrupted(_)), Err(r)) => return Err(restore_failed(r)),
        (Err(e), Err(r)) => {
            progress(SweepEvent::Status(restore_failed(r).to_string()));
            return Err(e);
        }
    };

    let metric = if runs
        .iter()
        .flat_map(|(_, calls)| calls)
        .filter(|c| !c.failed)
        .all(|c| c.duration.is_some())
    {
        "duration"
    } else {
        "runtime"
    };
    let mut results = Vec::with_capacity(runs.len());
    for (&memory, (summary, calls)) in plan.memory.iter().zip(&runs) {
        // Priced as deployed at this memory: a platform's price per GB-second may depend on
        // it (Cloud Run's CPU follows memory, and is billed per vCPU-second).
        let at_memory = match &spec.price {
            Some(_) => pricing.clone(),
            None => {
                let mut config = deployed.config.clone();
                config.insert("memory".into(), memory.into());
                plan.platform.driver().pricing(&config)
            }
        };
        let result = point(
            memory,
            summary,
            calls,
            metric,
            spec.discard_top_bottom,
            &at_memory,
        )?;
        results.push(result);
    }
    let results_csv = runs
        .first()
        .map(|(s, _)| s.results_csv.clone())
        .unwrap_or_default();
    Ok(SweepReport {
        function: plan.name.to_string(),
        platform: platform.to_string(),
        experiment: spec.experiment.experiment_name.clone(),
        results_csv,
        metric,
        discard_top_bottom: spec.discard_top_bottom,
        pricing,
        results,
        original_memory,
    })
}

/// Reconfigure, warm up, run and read back each setting in turn.
async fn run(
    workspace: &Workspace,
    spec: &SweepSpec,
    plan: &Plan,
    progress: &(dyn Fn(SweepEvent) + Sync),
) -> Result<Vec<(ExperimentSummary, Vec<CallRecord>)>> {
    let sink = EventSink(progress);
    let platform = plan.platform.name();
    let mut runs = Vec::with_capacity(plan.memory.len());
    let mut invoker = None;
    for (index, &memory) in plan.memory.iter().enumerate() {
        let config = Config::from_iter([("memory".to_string(), json!(memory))]);
        deploy::reconfigure_as(
            workspace,
            plan.name.as_str(),
            Some(platform),
            config,
            &sink,
            Changer::Sweep,
        )
        .await?;
        if invoker.is_none() {
            invoker = Some(Invoker::new(workspace, plan.name.as_str(), Some(platform)).await?);
        }
        let invoker = invoker.as_ref().expect("invoker made");
        progress(SweepEvent::Status(format!(
            "{}: warm-up call at {memory} MB",
            plan.name
        )));
        warm_up(invoker, &spec.experiment.payloads[0], memory, platform).await?;

        let mut experiment_spec = spec.experiment.clone();
        experiment_spec.platform = Some(platform.to_string());
        experiment_spec.tags.insert("memory".into(), json!(memory));
        progress(SweepEvent::Started {
            memory,
            index,
            count: plan.memory.len(),
            calls: experiment_spec.total_calls(),
        });
        let summary = experiment(workspace, &experiment_spec, &|p| {
            progress(SweepEvent::Calls {
                memory,
                progress: p,
            })
        })
        .await?;
        progress(SweepEvent::Finished {
            memory,
            calls: summary.calls,
            errors: summary.errors,
            elapsed: summary.elapsed,
        });
        let calls = read_run(&summary)?;
        runs.push((summary, calls));
    }
    Ok(runs)
}

/// One call not recorded; waits until the platform reports `memory` (when it reports any).
async fn warm_up(invoker: &Invoker, payload: &Value, memory: u32, platform: &str) -> Result<()> {
    let deadline = Instant::now() + APPLY_TIMEOUT;
    loop {
        let call = invoker.call(payload).await?;
        let reported = reported_memory(|key| call.response.get(key).map(value_text));
        match reported {
            None => return Ok(()),
            Some(r) if r == f64::from(memory) => return Ok(()),
            Some(r) if Instant::now() >= deadline => {
                return Err(Error::Usage(format!(
                    "memory {memory} MB did not take effect on {platform}: calls still report {r} MB after {} s; try again, or check the platform",
                    APPLY_TIMEOUT.as_secs()
                )))
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The memory size a call reports: the platform's `memorySize`, else SAAF's `functionMemory`.
fn reported_memory(get: impl Fn(&str) -> Option<String>) -> Option<f64> {
    ["memorySize", "functionMemory"]
        .into_iter()
        .find_map(|key| get(key).and_then(|v| v.trim().parse::<f64>().ok()))
}

/// The statistics of one setting from its calls.
fn point(
    memory: u32,
    summary: &ExperimentSummary,
    calls: &[CallRecord],
    metric: &str,
    fraction: f64,
    pricing: &Pricing,
) -> Result<MemoryResult> {
    let mut mismatched = 0;
    let mut measured: Vec<(f64, f64)> = Vec::new(); // (metric, cost)
    for call in calls.iter().filter(|c| !c.failed) {
        if call.memory.is_some_and(|m| m != f64::from(memory)) {
            mismatched += 1;
            continue;
        }
        let value = if metric == "duration" {
            call.duration
        } else {
            call.runtime
        };
        let Some(value) = value.filter(|v| v.is_finite()) else {
            continue;
        };
        let billed = call
            .billed_duration
            .or(call.duration.map(f64::ceil))
            .unwrap_or(value.ceil());
        measured.push((value, pricing.cost(memory, billed)));
    }
    measured.sort_by(|a, b| a.0.total_cmp(&b.0));
    let values: Vec<f64> = measured.iter().map(|(v, _)| *v).collect();
    let kept = analysis::trimmed(&values, fraction).map_err(|e| Error::Usage(e.to_string()))?;
    let cut = (values.len() - kept.len()) / 2;
    let stats = match analysis::summarize(&kept) {
        Ok(summary) => {
            let costs = &measured[cut..measured.len() - cut];
            Some(PointStats {
                kept: kept.len(),
                mean_duration_ms: summary.mean,
                median_duration_ms: summary.median,
                mean_cost_usd: costs.iter().map(|(_, c)| c).sum::<f64>() / costs.len() as f64,
            })
        }
        Err(_) => None,
    };
    Ok(MemoryResult {
        memory,
        calls: summary.calls,
        errors: summary.errors,
        cold_starts: summary.cold_starts,
        mismatched,
        stats,
        run_index: summary.run_index,
        elapsed: summary.elapsed,
    })
}

/// The fields of one result row that summaries need.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallRecord {
    pub failed: bool,
    /// Platform-measured duration, ms.
    pub duration: Option<f64>,
    pub billed_duration: Option<f64>,
    /// In-function `runtime` (SAAF), ms.
    pub runtime: Option<f64>,
    /// Reported memory size, MB (`memorySize`, else `functionMemory`).
    pub memory: Option<f64>,
    /// Whether the call started a new environment (`coldStart`, else SAAF's `newcontainer`).
    pub cold: Option<bool>,
}

/// The rows of one experiment run: those of its `results.csv` whose `startTime` lies within
/// the run (runs of one experiment never overlap: the experiment's lock serialises them, so
/// a run appended after this one ended is not mistaken for it), read by the one reader of
/// results files, so "error", "cold start" and "number" mean what they mean in `load`,
/// `stats` and `plot`.
pub fn read_run(summary: &ExperimentSummary) -> Result<Vec<CallRecord>> {
    let results = crate::results::Results::from_path(&summary.results_csv, "", "")?;
    let window = summary.start as f64..=summary.end as f64;
    Ok((0..results.len())
        .filter(|&row| {
            results
                .number(row, "startTime")
                .is_some_and(|t| window.contains(&t))
        })
        .map(|row| {
            let number = |column: &str| results.number(row, column);
            let known = |column: &str| {
                results
                    .cell(row, column)
                    .is_some_and(|c| !c.trim().is_empty())
            };
            CallRecord {
                failed: results.is_error(row),
                duration: number("duration"),
                billed_duration: number("billedDuration"),
                runtime: number("runtime"),
                memory: reported_memory(|key| results.cell(row, key).map(str::to_string)),
                cold: (known("coldStart") || known("newcontainer")).then(|| results.is_cold(row)),
            }
        })
        .collect())
}

/// Forwards the core's status lines (reconfigure) as [`SweepEvent::Status`].
struct EventSink<'a>(&'a (dyn Fn(SweepEvent) + Sync));

impl Sink for EventSink<'_> {
    fn status(&self, line: &str) {
        (self.0)(SweepEvent::Status(line.to_string()))
    }
    fn output(&self, line: &str) {
        (self.0)(SweepEvent::Status(line.to_string()))
    }
}

/// The memory the function had before the sweep, and the sweep lock until it is back.
struct Original {
    workspace: Workspace,
    paths: FunctionPaths,
    platform: Platform,
    /// `memory` in the user's saved configuration on the platform (`None`: not saved, so
    /// a memory that came from the platform's defaults is not pinned after the sweep).
    saved_memory: Option<Value>,
    /// `memory` in the deployed configuration.
    deployed_memory: Option<Value>,
    _sweeping: locks::Held,
}

impl Original {
    /// Puts back the memory (the one key a sweep changes, so nothing else anybody changed is
    /// undone) and publishes it.
    async fn restore(&self) -> Result<()> {
        deploy::restore_memory(
            &self.workspace,
            &self.paths,
            &self.platform,
            self.saved_memory.clone(),
            self.deployed_memory.clone(),
        )
        .await
    }
}

/// The last resort when a caller drops the sweep future instead of cancelling its `stop`
/// token: the restore runs in a background task of the current runtime (if any).
struct RestoreGuard(Option<Original>);

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        if let (Some(original), Ok(handle)) = (self.0.take(), tokio::runtime::Handle::try_current())
        {
            handle.spawn(async move {
                let _ = original.restore().await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(memory: u32, duration: f64, cost: f64) -> MemoryResult {
        MemoryResult {
            memory,
            calls: 3,
            errors: 0,
            cold_starts: Some(0),
            mismatched: 0,
            stats: Some(PointStats {
                kept: 3,
                mean_duration_ms: duration,
                median_duration_ms: duration,
                mean_cost_usd: cost,
            }),
            run_index: 0,
            elapsed: Duration::ZERO,
        }
    }

    fn report(results: Vec<MemoryResult>) -> SweepReport {
        SweepReport {
            function: "f".into(),
            platform: "local".into(),
            experiment: "e".into(),
            results_csv: PathBuf::new(),
            metric: "duration",
            discard_top_bottom: 0.2,
            pricing: Pricing::lambda_x86(),
            results,
            original_memory: Some(512),
        }
    }

    #[test]
    fn best_per_strategy() {
        // Cost: 256 MB is cheapest; speed: 1024 MB is fastest; balanced: normalised by the
        // largest cost (4) and duration (100): 128 → 0.75 + 1.0, 256 → 0.5 + 0.5,
        // 512 → 0.75 + 0.3, 1024 → 1.0 + 0.2.
        let r = report(vec![
            result(128, 100.0, 3.0),
            result(256, 50.0, 2.0),
            result(512, 30.0, 3.0),
            result(1024, 20.0, 4.0),
        ]);
        let best = |s| r.best(s).map(|r| r.memory);
        assert_eq!(best(Strategy::Cost), Some(256));
        assert_eq!(best(Strategy::Speed), Some(1024));
        assert_eq!(best(Strategy::Balanced), Some(256));
        // Ties go to less memory; settings without statistics are skipped.
        let mut none = result(64, 1.0, 0.0);
        none.stats = None;
        let r = report(vec![none, result(128, 10.0, 1.0), result(256, 10.0, 1.0)]);
        for s in Strategy::ALL {
            assert_eq!(r.best(s).map(|r| r.memory), Some(128), "{s}");
        }
        assert!(r.chart_points()[0].mean_duration_ms.is_nan());
        assert!(report(vec![]).best(Strategy::Cost).is_none());
    }

    #[test]
    fn point_trims_successful_calls_and_costs_the_same_calls() {
        let summary = ExperimentSummary {
            function: "f".into(),
            platform: "local".into(),
            experiment: "e".into(),
            calls: 7,
            errors: 1,
            start: 0,
            end: 0,
            elapsed: Duration::ZERO,
            results_csv: PathBuf::new(),
            experiment_json: PathBuf::new(),
            run_index: 0,
            changed_during_run: None,
            // The runner's count, which the point reports as it is.
            cold_starts: Some(0),
            cold: false,
            open_loop: None,
        };
        let call = |d: f64| CallRecord {
            duration: Some(d),
            billed_duration: Some(d.ceil()),
            runtime: Some(d - 1.0),
            memory: Some(1024.0),
            cold: Some(false),
            ..CallRecord::default()
        };
        let mut calls: Vec<CallRecord> = [1000.0, 10.0, 20.0, 30.0, 40.0]
            .into_iter()
            .map(call)
            .collect();
        calls.push(CallRecord {
            failed: true,
            ..call(5.0)
        });
        calls.push(CallRecord {
            memory: Some(512.0),
            ..call(1.0)
        });
        let p = Pricing {
            per_gb_second: 1.0,
            per_request: 0.0,
            source: String::new(),
        };
        let r = point(1024, &summary, &calls, "duration", 0.2, &p).unwrap();
        assert_eq!((r.mismatched, r.cold_starts), (1, Some(0)));
        let s = r.stats.unwrap();
        // 5 measured → 1 dropped per end: 20, 30, 40 kept.
        assert_eq!(
            (s.kept, s.mean_duration_ms, s.median_duration_ms),
            (3, 30.0, 30.0)
        );
        assert!(
            (s.mean_cost_usd - 0.03).abs() < 1e-12,
            "{}",
            s.mean_cost_usd
        );
        let r = point(1024, &summary, &calls, "runtime", 0.0, &p).unwrap();
        assert_eq!(r.stats.unwrap().kept, 5);
        assert_eq!(r.stats.unwrap().mean_duration_ms, (1100.0 - 5.0) / 5.0);
        let failed = vec![CallRecord {
            failed: true,
            ..call(1.0)
        }];
        assert!(point(1024, &summary, &failed, "duration", 0.2, &p)
            .unwrap()
            .stats
            .is_none());
    }

    #[test]
    fn the_sweep_future_can_be_spawned() {
        fn send<T: Send>(_: T) {}
        let dir = tempfile::tempdir().unwrap();
        let workspace = Workspace::open(dir.path()).unwrap();
        let mut spec = SweepSpec::new("f");
        spec.memory = vec![128];
        let stop = CancellationToken::new();
        send(sweep(&workspace, &spec, &|_| {}, &stop));
    }
}
