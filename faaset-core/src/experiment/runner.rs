//! The calls of an experiment: `threads` tokio tasks (not OS threads, so thousands are
//! cheap), each making its calls one after another through one shared [`Invoker`] (pooled
//! HTTP), sending one [`Row`] per call over a channel to the single writer — the experiment's
//! own future — which appends it to `results.csv` and reports [`Progress`].
//!
//! Every call is a row: a failed call has `error` set, and so has a call whose tooling
//! failed (engine unreachable). Should a worker task itself panic, its remaining calls are
//! still recorded, as rows saying they were not made.
//!
//! This file runs closed-loop experiments; [`super::open_loop`] issues calls on a schedule
//! instead, through the same rows and the same writer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::error::Result;
use crate::function::now_ms;
use crate::invoke::{Call, Invoker};

use super::open_loop::{self, OpenLoopReport};
use super::results::{cell, is_reserved, ResultsCsv, TAGS_COLUMN};
use super::spec::{ExperimentSpec, PayloadPlan};

/// How far an experiment is, reported after every row written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Calls finished and written.
    pub done: usize,
    pub total: usize,
    /// Finished calls that failed.
    pub errors: usize,
    /// Since the first call started.
    pub elapsed: Duration,
}

/// What the calls came to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub calls: usize,
    pub errors: usize,
    /// Rows that were cold starts; `None` when no row said either way (a platform and a
    /// function that report neither `coldStart` nor SAAF's `newcontainer`).
    pub cold_starts: Option<usize>,
}

/// What a run came to: the tally, and for an open-loop run how well it kept its schedule.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    pub tally: Tally,
    pub open_loop: Option<OpenLoopReport>,
}

/// The same for every row of a run.
pub struct RowContext {
    pub function: String,
    pub platform: String,
    pub experiment: String,
    /// The tags as JSON text.
    pub tags: String,
}

/// One call, ready to write: (column, value) in column order.
pub struct Row {
    pub thread: usize,
    /// The call's `runID` (open loop: its index in the schedule).
    pub run: usize,
    /// Open loop: when it was sent, against the schedule.
    pub sent: Option<Sent>,
    pub failed: bool,
    /// Whether the call was a cold start, when the row says ([`crate::results::cold_start`]).
    pub cold: Option<bool>,
    pub cells: Vec<(String, Value)>,
}

/// An open-loop call's timing against its schedule.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// Intended start, client epoch ms.
    pub intended_epoch_ms: f64,
    /// Seconds from the run's start to the intended start and to the actual send.
    pub intended_s: f64,
    pub sent_s: f64,
    /// ms the call waited past its intended start.
    pub queue_ms: f64,
}

/// Runs all calls of a validated `spec`, writing each row to `csv` as it arrives.
pub async fn run(
    invoker: Arc<Invoker>,
    spec: &ExperimentSpec,
    context: RowContext,
    csv: &mut ResultsCsv,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunOutcome> {
    if spec.is_open_loop() {
        return open_loop::run(invoker, spec, context, csv, progress).await;
    }
    let tally = closed_loop(invoker, spec, context, csv, progress).await?;
    Ok(RunOutcome {
        tally,
        open_loop: None,
    })
}

/// `threads` workers, each making its calls one after another.
async fn closed_loop(
    invoker: Arc<Invoker>,
    spec: &ExperimentSpec,
    context: RowContext,
    csv: &mut ResultsCsv,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Tally> {
    let started = Instant::now();
    let total = spec.total_calls();
    let plan = Arc::new(PayloadPlan::new(spec));
    let payloads = Arc::new(spec.payloads.clone());
    let context = Arc::new(context);
    // Bounded: a worker whose rows the writer has not caught up with (a slow disk) waits
    // before its next call instead of piling rows up in memory.
    let (sender, mut receiver) = mpsc::channel::<Row>(2 * spec.threads);
    // Dropping the set (an error below, or the caller dropping this future) aborts the calls.
    let mut workers = JoinSet::new();
    for thread in 0..spec.threads {
        let worker = Worker {
            thread,
            runs: spec.runs_of(thread),
            cold: spec.cold,
            invoker: invoker.clone(),
            plan: plan.clone(),
            payloads: payloads.clone(),
            context: context.clone(),
            sender: sender.clone(),
        };
        workers.spawn(worker.run());
    }
    drop(sender);

    let mut writer = Writer::new(csv, progress, started, total, spec.threads);
    while let Some(row) = receiver.recv().await {
        writer.write(row)?;
    }
    // Every sender is gone: each worker finished, or panicked part-way.
    let mut panic = None;
    while let Some(joined) = workers.join_next().await {
        if let Err(error) = joined {
            panic = Some(error.to_string());
        }
    }
    if let Some(panic) = panic {
        for thread in 0..spec.threads {
            for run in writer.rows_of[thread]..spec.runs_of(thread) {
                let payload = &payloads[plan.payload_index(thread, run)];
                let error = format!("not called: the experiment's worker failed ({panic})");
                let now = now_ms();
                let outcome = Outcome::Tooling(error, now, now, 0.0);
                writer.write(outcome.into_row(&context, thread, run, payload, None))?;
            }
        }
    }
    Ok(writer.tally)
}

/// The single writer: appends rows, counts them, reports progress.
pub(super) struct Writer<'a> {
    csv: &'a mut ResultsCsv,
    progress: &'a (dyn Fn(Progress) + Sync),
    started: Instant,
    total: usize,
    pub tally: Tally,
    /// Rows written per worker (closed loop).
    pub rows_of: Vec<usize>,
    /// Open loop: whether call k has its row, and the timing of each sent call.
    pub written: Vec<bool>,
    pub sent: Vec<Sent>,
}

impl<'a> Writer<'a> {
    /// A writer for `total` calls of `threads` workers; reports the start (0 done).
    pub fn new(
        csv: &'a mut ResultsCsv,
        progress: &'a (dyn Fn(Progress) + Sync),
        started: Instant,
        total: usize,
        threads: usize,
    ) -> Self {
        progress(Progress {
            done: 0,
            total,
            errors: 0,
            elapsed: Duration::ZERO,
        });
        Writer {
            csv,
            progress,
            started,
            total,
            tally: Tally::default(),
            rows_of: vec![0; threads],
            written: Vec::new(),
            sent: Vec::new(),
        }
    }

    pub fn write(&mut self, row: Row) -> Result<()> {
        self.csv.append(&row.cells)?;
        if let Some(n) = self.rows_of.get_mut(row.thread) {
            *n += 1;
        }
        if let Some(seen) = self.written.get_mut(row.run) {
            *seen = true;
        }
        if let Some(sent) = row.sent {
            self.sent.push(sent);
        }
        self.tally.calls += 1;
        self.tally.errors += row.failed as usize;
        if let Some(cold) = row.cold {
            *self.tally.cold_starts.get_or_insert(0) += cold as usize;
        }
        (self.progress)(Progress {
            done: self.tally.calls,
            total: self.total,
            errors: self.tally.errors,
            elapsed: self.started.elapsed(),
        });
        Ok(())
    }
}

/// One of the experiment's `threads`.
struct Worker {
    thread: usize,
    runs: usize,
    /// Every call in a fresh environment.
    cold: bool,
    invoker: Arc<Invoker>,
    plan: Arc<PayloadPlan>,
    payloads: Arc<Vec<Value>>,
    context: Arc<RowContext>,
    sender: mpsc::Sender<Row>,
}

impl Worker {
    async fn run(self) {
        for run in 0..self.runs {
            let payload = &self.payloads[self.plan.payload_index(self.thread, run)];
            let start_time = now_ms();
            let started = Instant::now();
            let outcome = Outcome::of(
                call(&self.invoker, payload, self.cold).await,
                start_time,
                started,
            );
            let row = outcome.into_row(&self.context, self.thread, run, payload, None);
            if self.sender.send(row).await.is_err() {
                return; // the writer is gone: the experiment was stopped
            }
        }
    }
}

/// One call, in a fresh environment when `cold`.
pub(super) async fn call(invoker: &Invoker, payload: &Value, cold: bool) -> Result<Call> {
    if cold {
        invoker.call_cold(payload).await
    } else {
        invoker.call(payload).await
    }
}

pub(super) enum Outcome {
    Call(Call),
    /// The tooling failed: message, start, end, round trip (ms).
    Tooling(String, u64, u64, f64),
}

impl Outcome {
    /// The outcome of a call that started at `start_time` (epoch ms), `started` (instant).
    pub fn of(result: Result<Call>, start_time: u64, started: Instant) -> Self {
        match result {
            Ok(call) => Outcome::Call(call),
            Err(error) => Outcome::Tooling(
                error.to_string(),
                start_time,
                now_ms(),
                started.elapsed().as_secs_f64() * 1000.0,
            ),
        }
    }

    /// The row of DESIGN §1.5: client columns (an open-loop call's three after `latency`),
    /// `tags`, then every field of the response.
    pub fn into_row(
        self,
        context: &RowContext,
        thread: usize,
        run: usize,
        payload: &Value,
        sent: Option<Sent>,
    ) -> Row {
        let (start, end, round_trip, latency, error, response) = match self {
            Outcome::Call(call) => {
                let mut response = call.response;
                // The invoker's client-side fields become the client columns.
                response.remove("roundTripTime");
                let latency = response.remove("latency").unwrap_or(Value::Null);
                let (start, end) = (call.start_time, call.end_time);
                (
                    start,
                    end,
                    call.round_trip_ms,
                    latency,
                    call.error,
                    response,
                )
            }
            Outcome::Tooling(message, start, end, round_trip) => (
                start,
                end,
                round_trip,
                Value::Null,
                Some(message),
                Map::new(),
            ),
        };
        let failed = error.is_some();
        let mut cells: Vec<(String, Value)> = vec![
            ("function".into(), context.function.clone().into()),
            ("platform".into(), context.platform.clone().into()),
            ("experiment".into(), context.experiment.clone().into()),
            ("threadID".into(), thread.into()),
            ("runID".into(), run.into()),
            ("payload".into(), payload.to_string().into()),
            ("startTime".into(), start.into()),
            ("endTime".into(), end.into()),
            ("roundTripTime".into(), round_trip.into()),
            ("latency".into(), latency),
        ];
        if let Some(sent) = sent {
            let [intended, queue, response_time] = super::results::OPEN_LOOP_COLUMNS;
            cells.extend([
                (intended.into(), micros(sent.intended_epoch_ms)),
                (queue.into(), micros(sent.queue_ms)),
                (response_time.into(), micros(sent.queue_ms + round_trip)),
            ]);
        }
        cells.extend([
            ("error".into(), error.unwrap_or_default().into()),
            (TAGS_COLUMN.into(), context.tags.clone().into()),
        ]);
        // A function field named like a client column is kept under `response.` (SAAF's own
        // `platform` among them), never in place of another field.
        let renamed: Vec<String> = response
            .keys()
            .map(|key| {
                if is_reserved(key) {
                    crate::invoke::unused_key(&response, &format!("response.{key}"))
                } else {
                    key.clone()
                }
            })
            .collect();
        cells.extend(
            renamed
                .into_iter()
                .zip(response.into_iter().map(|(_, v)| v)),
        );
        let text = |column: &str| {
            cells
                .iter()
                .find(|(name, _)| name == column)
                .map(|(_, value)| cell(value))
        };
        let cold = crate::results::cold_start(
            text("coldStart").as_deref(),
            text("newcontainer").as_deref(),
        );
        Row {
            thread,
            run,
            sent,
            failed,
            cold,
            cells,
        }
    }
}

/// A time in ms rounded to the microsecond (the clocks' useful resolution; shorter cells).
fn micros(ms: f64) -> Value {
    ((ms * 1000.0).round() / 1000.0).into()
}
