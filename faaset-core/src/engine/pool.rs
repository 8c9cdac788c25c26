//! The engine's state: the published functions and their execution environments. Idle
//! environments are reused warm (most recently used first); a request that finds none idle
//! starts a new one (a cold start), so concurrent load grows the pool as on Lambda.
//!
//! A std `Mutex` guards the state: it is never held across an `.await`.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::environment::Environment;
use super::limits::Limits;
use super::wire::{EnvironmentStatus, FunctionSpec};

/// The published functions and their environments.
pub struct Pool {
    functions: Mutex<HashMap<String, FunctionEntry>>,
    /// Where published code is kept (`.faaset/local/code`), so a rebuild in progress never
    /// removes the binary environments are started from.
    code_store: PathBuf,
    next_environment: AtomicU64,
    /// Environments being started (not yet in a `live` list), counted against `concurrency`.
    starting: AtomicUsize,
    /// The most environments at once (Lambda's default account concurrency, 1,000;
    /// `FAASET_LOCAL_CONCURRENCY`): beyond it a call is refused as Lambda throttles, instead
    /// of one process per concurrent call until the host gives out.
    concurrency: usize,
    pub limits: Limits,
}

/// Lambda's default concurrency limit per account and region.
pub const DEFAULT_CONCURRENCY: usize = 1000;

struct FunctionEntry {
    spec: Arc<FunctionSpec>,
    code: PathBuf,
    log: Arc<File>,
    /// Bumped by every publish that changes the function: older environments are not reused.
    generation: u64,
    idle: Vec<Arc<Environment>>,
    live: Vec<Arc<Environment>>,
}

/// What an invocation gets to run on.
pub struct Lease {
    pub environment: Arc<Environment>,
    pub cold: bool,
    pub spec: Arc<FunctionSpec>,
    pub log: Arc<File>,
}

#[derive(Debug)]
pub enum AcquireError {
    NotFound,
    Start(String),
    /// As many environments as the concurrency limit are running.
    Throttled(usize),
}

impl Pool {
    pub fn new(code_store: PathBuf, limits: Limits) -> Self {
        Pool {
            functions: Mutex::new(HashMap::new()),
            code_store,
            next_environment: AtomicU64::new(1),
            starting: AtomicUsize::new(0),
            concurrency: std::env::var("FAASET_LOCAL_CONCURRENCY")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|&n| n > 0)
                .unwrap_or(DEFAULT_CONCURRENCY),
            limits,
        }
    }

    /// Creates or updates a function. Changed code is copied into the code store; any change
    /// retires the current environments (busy ones finish their request first).
    pub fn publish(&self, spec: FunctionSpec) -> std::io::Result<()> {
        let code = self.store_code(&spec)?;
        if let Some(parent) = spec.log_file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let log = Arc::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&spec.log_file)?,
        );
        let mut functions = super::lock(&self.functions);
        match functions.get_mut(&spec.function_name) {
            Some(entry) if *entry.spec == spec => {}
            Some(entry) => {
                entry.spec = Arc::new(spec);
                entry.code = code;
                entry.log = log;
                entry.generation += 1;
                for env in entry.idle.drain(..) {
                    env.kill();
                }
                entry.live.retain(|env| env.busy.load(Ordering::Relaxed));
            }
            None => {
                let name = spec.function_name.clone();
                let entry = FunctionEntry {
                    spec: Arc::new(spec),
                    code,
                    log,
                    generation: 1,
                    idle: Vec::new(),
                    live: Vec::new(),
                };
                functions.insert(name, entry);
            }
        }
        Ok(())
    }

    fn store_code(&self, spec: &FunctionSpec) -> std::io::Result<PathBuf> {
        let dir = self
            .code_store
            .join(&spec.function_name)
            .join(&spec.code_sha256);
        let stored = dir.join("bootstrap");
        if !stored.is_file() {
            crate::function::place_copy(&spec.code_path, &stored)?;
        }
        Ok(stored)
    }

    pub fn spec(&self, name: &str) -> Option<Arc<FunctionSpec>> {
        let functions = super::lock(&self.functions);
        functions.get(name).map(|e| e.spec.clone())
    }

    pub fn function_names(&self) -> Vec<String> {
        let functions = super::lock(&self.functions);
        let mut names: Vec<String> = functions.keys().cloned().collect();
        names.sort();
        names
    }

    /// An idle environment of the function's current generation, or a new one; with
    /// `fresh`, always a new one (a forced cold start: the caller discards it after the call,
    /// and the idle ones stay for other calls).
    pub async fn acquire(&self, name: &str, fresh: bool) -> Result<Lease, AcquireError> {
        let (spec, code, log, generation) = {
            let mut functions = super::lock(&self.functions);
            let entry = functions.get_mut(name).ok_or(AcquireError::NotFound)?;
            while let Some(environment) = (!fresh).then(|| entry.idle.pop()).flatten() {
                if environment.exit_reason().is_none() {
                    environment.busy.store(true, Ordering::Relaxed);
                    return Ok(Lease {
                        environment,
                        cold: false,
                        spec: entry.spec.clone(),
                        log: entry.log.clone(),
                    });
                }
                let id = environment.id.clone();
                entry.live.retain(|e| e.id != id);
            }
            let found = (
                entry.spec.clone(),
                entry.code.clone(),
                entry.log.clone(),
                entry.generation,
            );
            // A cold start, within the concurrency limit (counted under the lock, so two
            // calls cannot both take the last place). As on Lambda the limit is on calls
            // running: an idle environment of another function makes room instead.
            let starting = self.starting.load(Ordering::Relaxed);
            let busy: usize = functions
                .values()
                .map(|e| e.live.len().saturating_sub(e.idle.len()))
                .sum();
            if busy + starting >= self.concurrency {
                return Err(AcquireError::Throttled(self.concurrency));
            }
            let live: usize = functions.values().map(|e| e.live.len()).sum();
            if live + starting >= self.concurrency {
                for other in functions.values_mut() {
                    if let Some(idle) = other.idle.pop() {
                        other.live.retain(|e| e.id != idle.id);
                        idle.kill();
                        break;
                    }
                }
            }
            self.starting.fetch_add(1, Ordering::Relaxed);
            found
        };
        let id = format!(
            "{}-{}",
            name,
            self.next_environment.fetch_add(1, Ordering::Relaxed)
        );
        let started = Environment::start(id, generation, &spec, &code, &self.limits).await;
        let mut functions = super::lock(&self.functions);
        self.starting.fetch_sub(1, Ordering::Relaxed);
        let environment = started
            .map_err(|e| AcquireError::Start(format!("cannot start {}: {e}", code.display())))?;
        environment.busy.store(true, Ordering::Relaxed);
        if let Some(entry) = functions.get_mut(name) {
            entry.live.push(environment.clone());
        }
        Ok(Lease {
            environment,
            cold: true,
            spec,
            log,
        })
    }

    /// Returns an environment after a call: kept warm when it is alive and current, else ended.
    pub fn release(&self, environment: Arc<Environment>) {
        environment.mark_used();
        environment.busy.store(false, Ordering::Relaxed);
        let mut functions = super::lock(&self.functions);
        let current = functions.get_mut(&environment.function).filter(|entry| {
            entry.generation == environment.generation && environment.exit_reason().is_none()
        });
        match current {
            Some(entry) => entry.idle.push(environment),
            None => {
                environment.kill();
                if let Some(entry) = functions.get_mut(&environment.function) {
                    entry.live.retain(|e| e.id != environment.id);
                }
            }
        }
    }

    /// Ends an environment that must not be reused (timeout, crash).
    pub fn discard(&self, environment: &Environment) {
        environment.kill();
        let mut functions = super::lock(&self.functions);
        if let Some(entry) = functions.get_mut(&environment.function) {
            entry.live.retain(|e| e.id != environment.id);
            entry.idle.retain(|e| e.id != environment.id);
        }
    }

    /// Ends environments idle for longer than their function's `idle_timeout`.
    pub fn reap(&self) {
        let now = Instant::now();
        let mut functions = super::lock(&self.functions);
        for entry in functions.values_mut() {
            let limit =
                Duration::try_from_secs_f64(entry.spec.idle_timeout).unwrap_or(Duration::MAX);
            let (stale, fresh): (Vec<_>, Vec<_>) = entry
                .idle
                .drain(..)
                .partition(|env| now.duration_since(*super::lock(&env.last_used)) > limit);
            entry.idle = fresh;
            for env in stale {
                env.kill();
                entry.live.retain(|e| e.id != env.id);
            }
        }
    }

    /// Whether no environment runs or is being started.
    pub fn is_empty(&self) -> bool {
        self.starting.load(Ordering::Relaxed) == 0
            && super::lock(&self.functions)
                .values()
                .all(|entry| entry.live.is_empty())
    }

    pub fn status(&self) -> Vec<EnvironmentStatus> {
        let functions = super::lock(&self.functions);
        let mut list: Vec<EnvironmentStatus> = functions
            .values()
            .flat_map(|entry| entry.live.iter())
            .map(|env| EnvironmentStatus {
                id: env.id.clone(),
                function: env.function.clone(),
                memory: env.memory,
                pid: env.pid,
                age_seconds: env.created.elapsed().as_secs_f64(),
                state: if env.busy.load(Ordering::Relaxed) {
                    "busy".into()
                } else {
                    "idle".into()
                },
                calls: env.calls.load(Ordering::Relaxed),
            })
            .collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }

    /// Ends every environment (engine shutdown).
    pub fn shutdown(&self) {
        let mut functions = super::lock(&self.functions);
        for entry in functions.values_mut() {
            for env in entry.live.drain(..) {
                // Killed first, so an idle runtime waiting in `next` never sees its API go
                // away (lambda_runtime would log a false panic into the user's log).
                env.kill_now();
                env.kill();
            }
            entry.idle.clear();
        }
    }
}

/// Path helper kept here so the store layout is defined in one place.
pub fn code_store(state_dir: &Path) -> PathBuf {
    state_dir.join("code")
}
