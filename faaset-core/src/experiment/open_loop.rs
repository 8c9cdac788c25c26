//! Open-loop experiments: calls issued on a schedule ([`super::arrivals`]) whatever the
//! answers do — the load of many independent users, not of `threads` users each waiting for
//! their previous answer. A closed loop hides queueing (a slow answer delays the next call, so
//! the load drops exactly when the system is slow: "coordinated omission"); here every call
//! records when it was meant to start, and how long it waited for that.
//!
//! One scheduler task sleeps until each intended start and spawns the call as a tokio task,
//! holding one of `concurrency` slots (the slot is the row's `threadID`, so a timeline shows
//! the lanes; `runID` is the call's index in the schedule). When every slot is busy the
//! scheduler waits for one, and the calls behind it start late: their `queueTime` grows,
//! their `responseTime` (from the intended start) with it, while `roundTripTime` (from the
//! send) does not. tokio's timer has 1 ms resolution, so calls due within the same
//! millisecond go out together (`queueTime` up to ~1 ms on an idle machine).
//!
//! Rows go through the closed loop's writer as they arrive (in answer order, not schedule
//! order). The [`OpenLoopReport`] says whether the schedule was kept and, if not, by how much.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::error::Result;
use crate::function::now_ms;
use crate::invoke::Invoker;

use super::arrivals::{self, Arrival, Phase};
use super::results::ResultsCsv;
use super::runner::{call, Outcome, Progress, Row, RowContext, RunOutcome, Sent, Writer};
use super::spec::{ExperimentSpec, PayloadPlan};

/// How well an open-loop run kept its schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenLoopReport {
    pub arrival: Arrival,
    pub phases: Vec<Phase>,
    /// Calls per second asked for: expected calls ÷ duration.
    pub asked_rate: f64,
    /// Seconds of the schedule.
    pub duration_s: f64,
    /// Calls in the schedule (for `poisson` a random number around rate × duration).
    pub scheduled: usize,
    /// Calls per second of the schedule itself, and of the actual sends, each from its
    /// first to its last call; equal when the schedule was kept.
    pub scheduled_rate: f64,
    pub sent_rate: f64,
    /// `queueTime` (ms past the intended start) of the sent calls.
    pub queue_median_ms: f64,
    pub queue_p99_ms: f64,
    pub queue_max_ms: f64,
    /// How far after its intended start the last call was sent (ms).
    pub end_lag_ms: f64,
    pub concurrency: usize,
    /// Calls that found all `concurrency` slots busy and waited for one.
    pub waited_for_slot: usize,
}

/// The slack allowed before a run is said not to have kept its rate: 1% of the rate.
pub const RATE_TOLERANCE: f64 = 0.01;

impl OpenLoopReport {
    /// How much slower than scheduled the calls were sent (0.03 = 3%); never negative.
    pub fn shortfall(&self) -> f64 {
        if self.scheduled_rate > 0.0 && self.sent_rate.is_finite() {
            (1.0 - self.sent_rate / self.scheduled_rate).max(0.0)
        } else {
            0.0
        }
    }

    /// Whether the calls went out at the scheduled rate (within [`RATE_TOLERANCE`]).
    pub fn kept_rate(&self) -> bool {
        self.shortfall() <= RATE_TOLERANCE
    }
}

/// Runs the schedule of a validated open-loop `spec`.
pub(super) async fn run(
    invoker: Arc<Invoker>,
    spec: &ExperimentSpec,
    context: RowContext,
    csv: &mut ResultsCsv,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunOutcome> {
    let schedule = spec.schedule();
    let total = schedule.len();
    let concurrency = spec.concurrency.min(total.max(1));
    let plan = PayloadPlan::with_calls(spec, total);
    let payloads = Arc::new(
        (0..total)
            .map(|k| plan.payload_index(0, k) as u32)
            .collect::<Vec<u32>>(),
    );
    let context = Arc::new(context);
    let (sender, mut receiver) = mpsc::channel::<Row>(2 * concurrency);
    let scheduler = Scheduler {
        schedule: Arc::new(schedule),
        payloads,
        payload_list: Arc::new(spec.payloads.clone()),
        concurrency,
        cold: spec.cold,
        invoker,
        context: context.clone(),
        sender,
    };
    // In a set so that dropping this future (an interrupted cell) aborts the scheduler, whose
    // own set of calls is dropped, and so aborted, with it.
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    tasks.spawn(scheduler.run());

    let mut writer = Writer::new(csv, progress, started, total, 0);
    writer.written = vec![false; total];
    writer.sent.reserve(total);
    while let Some(row) = receiver.recv().await {
        writer.write(row)?;
    }
    let (panic, waited_for_slot) = match tasks.join_next().await {
        Some(Ok(ended)) => (ended.panic, ended.waited_for_slot),
        Some(Err(error)) => (Some(error.to_string()), 0),
        None => (None, 0),
    };
    // A call task that panicked sent no row: its call is still a row, saying so.
    let missing: Vec<usize> = (0..total).filter(|&k| !writer.written[k]).collect();
    for k in missing {
        let why = panic
            .as_deref()
            .unwrap_or("its task ended without a result");
        let now = now_ms();
        let outcome = Outcome::Tooling(
            format!("no result: the call's task failed ({why})"),
            now,
            now,
            0.0,
        );
        let payload = &spec.payloads[plan.payload_index(0, k)];
        writer.write(outcome.into_row(&context, 0, k, payload, None))?;
    }
    let report = report(spec, total, &writer.sent, concurrency, waited_for_slot);
    Ok(RunOutcome {
        tally: writer.tally,
        open_loop: Some(report),
    })
}

/// What the scheduler owns; it ends when every call it started has ended.
struct Scheduler {
    /// Intended starts, seconds from the run's start.
    schedule: Arc<Vec<f64>>,
    /// Index into `payload_list` of each call.
    payloads: Arc<Vec<u32>>,
    payload_list: Arc<Vec<Value>>,
    concurrency: usize,
    cold: bool,
    invoker: Arc<Invoker>,
    context: Arc<RowContext>,
    sender: mpsc::Sender<Row>,
}

struct Ended {
    panic: Option<String>,
    waited_for_slot: usize,
}

impl Scheduler {
    async fn run(self) -> Ended {
        let base = Instant::now();
        let base_epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        // The free slots: a slot id is taken before a call starts and given back (by its
        // guard, also when the call panics) when it ends.
        let (slot_back, mut free) = mpsc::unbounded_channel::<usize>();
        for slot in 0..self.concurrency {
            let _ = slot_back.send(slot);
        }
        let mut calls = JoinSet::new();
        let mut panic = None;
        let mut waited_for_slot = 0;
        for (k, &offset) in self.schedule.iter().enumerate() {
            let intended = base + Duration::from_secs_f64(offset);
            if Instant::now() < intended {
                tokio::time::sleep_until(intended.into()).await;
            }
            let slot = match free.try_recv() {
                Ok(slot) => slot,
                Err(_) => {
                    waited_for_slot += 1;
                    match free.recv().await {
                        Some(slot) => slot,
                        None => break, // cannot happen: `slot_back` is held here
                    }
                }
            };
            while let Some(ended) = calls.try_join_next() {
                if let Err(error) = ended {
                    panic = Some(error.to_string());
                }
            }
            let guard = SlotGuard {
                slot,
                back: slot_back.clone(),
            };
            let payload = self.payload_list[self.payloads[k] as usize].clone();
            let invoker = self.invoker.clone();
            let context = self.context.clone();
            let sender = self.sender.clone();
            let cold = self.cold;
            let intended_epoch_ms = base_epoch_ms + offset * 1000.0;
            calls.spawn(async move {
                let started = Instant::now();
                let start_time = now_ms();
                let result = call(&invoker, &payload, cold).await;
                // The send the round trip is measured from (the invoker's), else ours.
                let sent = result.as_ref().map_or(started, |c| c.sent);
                let outcome = Outcome::of(result, start_time, started);
                // The slot is free as soon as the answer is in, not once the row is written.
                drop(guard);
                let timing = Sent {
                    intended_epoch_ms,
                    intended_s: offset,
                    sent_s: sent.duration_since(base).as_secs_f64(),
                    queue_ms: sent.saturating_duration_since(intended).as_secs_f64() * 1000.0,
                };
                let row = outcome.into_row(&context, slot, k, &payload, Some(timing));
                let _ = sender.send(row).await; // no writer: the experiment was stopped
            });
        }
        drop(self.sender);
        while let Some(ended) = calls.join_next().await {
            if let Err(error) = ended {
                panic = Some(error.to_string());
            }
        }
        Ended {
            panic,
            waited_for_slot,
        }
    }
}

/// Gives its slot back when the call ends, however it ends.
struct SlotGuard {
    slot: usize,
    back: mpsc::UnboundedSender<usize>,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let _ = self.back.send(self.slot);
    }
}

fn report(
    spec: &ExperimentSpec,
    scheduled: usize,
    sent: &[Sent],
    concurrency: usize,
    waited_for_slot: usize,
) -> OpenLoopReport {
    let phases = spec.load_phases();
    let duration_s = arrivals::duration(&phases);
    let rate = |times: &mut dyn Iterator<Item = f64>| {
        let (mut first, mut last, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0usize);
        for t in times {
            first = first.min(t);
            last = last.max(t);
            n += 1;
        }
        if n >= 2 && last > first {
            (n - 1) as f64 / (last - first)
        } else {
            f64::NAN
        }
    };
    let mut queue: Vec<f64> = sent.iter().map(|s| s.queue_ms).collect();
    queue.sort_by(f64::total_cmp);
    let quantile = |p: f64| crate::analysis::stats::percentile_of_sorted(&queue, p);
    let last = sent
        .iter()
        .max_by(|a, b| a.intended_s.total_cmp(&b.intended_s));
    OpenLoopReport {
        arrival: spec.arrival,
        asked_rate: arrivals::expected_calls(&phases) / duration_s,
        duration_s,
        phases,
        scheduled,
        scheduled_rate: rate(&mut sent.iter().map(|s| s.intended_s)),
        sent_rate: rate(&mut sent.iter().map(|s| s.sent_s)),
        queue_median_ms: if queue.is_empty() {
            f64::NAN
        } else {
            quantile(50.0)
        },
        queue_p99_ms: if queue.is_empty() {
            f64::NAN
        } else {
            quantile(99.0)
        },
        queue_max_ms: queue.last().copied().unwrap_or(f64::NAN),
        end_lag_ms: last.map_or(f64::NAN, |s| (s.sent_s - s.intended_s) * 1000.0),
        concurrency,
        waited_for_slot,
    }
}
