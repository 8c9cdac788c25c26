//! `experiment.json`: what each run of an experiment was — parameters (seed included),
//! platform, the deployed configuration and hashes of the function, start and end.
//!
//! Layout: `{"function", "experiment", "runs": [run, …]}`; a repeated experiment appends a
//! run. A run is written when it starts (`"end": null`, so an interrupted run is visible as
//! such) and again when it ends. Every write is atomic (temporary file + rename), and fields
//! this version does not know are kept.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::function::{write_private_atomic, Deployed};

use super::spec::ExperimentSpec;

/// An open `experiment.json` with the current run in it.
pub struct ExperimentRecord {
    path: PathBuf,
    doc: Map<String, Value>,
    run: usize,
}

impl ExperimentRecord {
    /// Reads `path` (or starts a new document) without writing anything; a file that is not
    /// a JSON object with a `runs` array is an error saying to fix or move it.
    pub fn load(path: &Path, spec: &ExperimentSpec) -> Result<Self> {
        let invalid = |why: String| {
            Error::Usage(format!(
                "{} is not a valid experiment record ({why}); fix it, or move it away to start the experiment afresh",
                path.display()
            ))
        };
        let doc = match std::fs::read_to_string(path) {
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(doc)) if doc.get("runs").is_none_or(Value::is_array) => doc,
                Ok(_) => return Err(invalid("expected an object with a \"runs\" array".into())),
                Err(e) => return Err(invalid(e.to_string())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::from_iter([
                ("function".to_string(), json!(spec.function)),
                ("experiment".to_string(), json!(spec.experiment_name)),
            ]),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        Ok(ExperimentRecord {
            path: path.to_path_buf(),
            doc,
            run: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Index of the current run in `runs`.
    pub fn run_index(&self) -> usize {
        self.run
    }

    /// Appends the run now starting and writes the file.
    pub fn start(
        &mut self,
        spec: &ExperimentSpec,
        platform: &str,
        deployed: &Deployed,
        start: u64,
    ) -> Result<()> {
        let mut run = json!({
            "platform": platform,
            "parameters": {
                "threads": spec.threads,
                "runs_per_thread": spec.runs_per_thread,
                "calls": spec.calls,
                "payloads": spec.payloads,
                "shuffle_payloads": spec.shuffle_payloads,
                "tags": spec.tags,
                "seed": spec.seed,
                "cold": spec.cold,
            },
            "config": redacted(&deployed.config),
            "sourceHash": deployed.hashes.source,
            "hashes": deployed.hashes,
            "deployedAt": deployed.at,
            "faasetVersion": env!("CARGO_PKG_VERSION"),
            "start": start,
            "end": null,
            "calls": 0,
            "errors": 0,
        });
        if spec.is_open_loop() {
            let parameters = run["parameters"].as_object_mut().expect("an object");
            parameters.insert("phases".into(), json!(spec.load_phases()));
            parameters.insert("arrival".into(), json!(spec.arrival.name()));
            parameters.insert("concurrency".into(), json!(spec.concurrency));
        }
        let runs = self
            .doc
            .entry("runs")
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .expect("runs is an array");
        runs.push(run);
        self.run = runs.len() - 1;
        self.save()
    }

    /// Records the end of the current run (an open-loop run's schedule keeping too).
    pub fn finish(
        &mut self,
        end: u64,
        calls: usize,
        errors: usize,
        open_loop: Option<&super::OpenLoopReport>,
    ) -> Result<()> {
        if let Some(run) = self.doc["runs"][self.run].as_object_mut() {
            run.insert("end".into(), end.into());
            run.insert("calls".into(), calls.into());
            run.insert("errors".into(), errors.into());
            if let Some(o) = open_loop {
                // NaN (one call: no rate) becomes null.
                let number =
                    |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
                run.insert(
                    "openLoop".into(),
                    json!({
                        "scheduled": o.scheduled,
                        "askedRate": number(o.asked_rate),
                        "scheduledRate": number(o.scheduled_rate),
                        "sentRate": number(o.sent_rate),
                        "queueTimeMedian": number(o.queue_median_ms),
                        "queueTimeP99": number(o.queue_p99_ms),
                        "queueTimeMax": number(o.queue_max_ms),
                        "waitedForSlot": o.waited_for_slot,
                        "keptRate": o.kept_rate(),
                    }),
                );
            }
        }
        self.save()
    }

    /// Records that the function was published again while the current run made its calls.
    pub fn changed_during_run(&mut self, now: &Deployed) -> Result<()> {
        if let Some(run) = self.doc["runs"][self.run].as_object_mut() {
            run.insert(
                "changedDuringRun".into(),
                json!({
                    "config": redacted(&now.config),
                    "hashes": now.hashes,
                    "deployedAt": now.at,
                }),
            );
        }
        self.save()
    }

    fn save(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.doc).expect("record serializes") + "\n";
        write_private_atomic(&self.path, text.as_bytes())
    }
}

/// The configuration with secrets hidden: an `http` function's header values and a
/// function's `env` values may carry credentials (`Authorization`, API keys), a URL may hold
/// a password, and run records are shared with results. Names stay, so a record still says
/// which were set.
fn redacted(config: &crate::config::Config) -> Value {
    let mut config = config.clone();
    for key in ["headers", "env"] {
        if let Some(Value::Object(map)) = config.get_mut(key) {
            for value in map.values_mut() {
                *value = Value::String("<redacted>".into());
            }
        }
    }
    if let Some(Value::String(url)) = config.get_mut("url") {
        if let Ok(mut parsed) = reqwest::Url::parse(url) {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("<redacted>"));
                *url = parsed.to_string();
            }
        }
    }
    Value::Object(config)
}
