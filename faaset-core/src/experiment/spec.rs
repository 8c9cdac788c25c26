//! What an experiment is asked to do ([`ExperimentSpec`]), its checks, and the plan that
//! spreads the payloads over the calls.
//!
//! Closed loop (the default): `threads` workers each make `runs_per_thread` calls one after
//! another, so a slow answer delays the next call. Open loop (`rate=` and `duration=`, or
//! `phases=`): calls start on a schedule ([`super::arrivals`]) whatever the answers do, at
//! most `concurrency` at once; a call that finds them all busy waits, and its wait is recorded
//! (`queueTime`), so queueing shows in the rows instead of slowing the load.
//!
//! Payloads are repeated round robin over all calls (`threads × runs_per_thread`, or `calls`) (so two
//! payloads over 12 calls are used 6 times each) and, with `shuffle_payloads`, shuffled by a
//! seeded SplitMix64 generator: the same seed gives the same assignment on every machine.
//! Call `(thread, run)` gets the slot after all calls of the workers before `thread`.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::random::SplitMix64;

use super::arrivals::{self, Arrival, Phase};

/// The seed used when none is given (FaaS Runner's habit of reproducible shuffles).
pub const DEFAULT_SEED: u64 = 42;
/// Concurrent workers when none are given.
pub const DEFAULT_THREADS: usize = 1;
/// Calls per worker when neither `runs_per_thread` nor `calls` is given.
pub const DEFAULT_RUNS_PER_THREAD: usize = 1;
/// Open loop: calls in flight at most, when not given — Lambda's default account
/// concurrency, and the local engine's limit (`FAASET_LOCAL_CONCURRENCY`).
pub const DEFAULT_CONCURRENCY: usize = 1000;

/// An experiment: `threads` concurrent workers, each calling `function` `runs_per_thread`
/// times in a row, with rows saved under `functions/<fn>/experiments/<experiment_name>/`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentSpec {
    pub function: String,
    /// Default: the function's saved platform.
    pub platform: Option<String>,
    pub threads: usize,
    pub runs_per_thread: usize,
    /// Total calls instead of `runs_per_thread` (FaaS Runner's `runs`): spread over the
    /// workers as evenly as possible, the first `calls % threads` making one more.
    pub calls: Option<usize>,
    /// Spread over all calls; never modified by the experiment.
    pub payloads: Vec<Value>,
    pub experiment_name: String,
    pub shuffle_payloads: bool,
    /// Saved as JSON text in every row's `tags` column.
    pub tags: Map<String, Value>,
    /// Seed of the payload shuffle and of `poisson` arrivals.
    pub seed: u64,
    /// Open loop: calls per second for `duration` seconds (one steady phase).
    pub rate: Option<f64>,
    /// Open loop: seconds at `rate`.
    pub duration: Option<f64>,
    /// Open loop: steady phases, ramps and bursts one after another (instead of `rate`).
    pub phases: Vec<Phase>,
    /// Open loop: how arrivals are spread in time.
    pub arrival: Arrival,
    /// Open loop: the most calls in flight at once.
    pub concurrency: usize,
    /// Every call in a fresh execution environment (a cold start), where the platform can.
    pub cold: bool,
}

impl ExperimentSpec {
    /// One thread, one run, the payload `{}`, no shuffle, no tags, seed 42.
    pub fn new(function: impl Into<String>, experiment_name: impl Into<String>) -> Self {
        ExperimentSpec {
            function: function.into(),
            platform: None,
            threads: DEFAULT_THREADS,
            runs_per_thread: DEFAULT_RUNS_PER_THREAD,
            calls: None,
            payloads: vec![Value::Object(Map::new())],
            experiment_name: experiment_name.into(),
            shuffle_payloads: false,
            tags: Map::new(),
            seed: DEFAULT_SEED,
            rate: None,
            duration: None,
            phases: Vec::new(),
            arrival: Arrival::default(),
            concurrency: DEFAULT_CONCURRENCY,
            cold: false,
        }
    }

    /// Whether calls start on a schedule (`rate=`/`duration=` or `phases=`).
    pub fn is_open_loop(&self) -> bool {
        self.rate.is_some() || self.duration.is_some() || !self.phases.is_empty()
    }

    /// The open-loop phases: `phases`, or one steady phase of `rate` for `duration`
    /// (empty for a closed-loop experiment).
    pub fn load_phases(&self) -> Vec<Phase> {
        match (self.rate, self.duration) {
            (Some(rate), Some(duration)) => vec![Phase::steady(rate, duration)],
            _ => self.phases.clone(),
        }
    }

    /// The intended start of every open-loop call, seconds from the start (see [`arrivals`]).
    pub fn schedule(&self) -> Vec<f64> {
        arrivals::schedule(&self.load_phases(), self.arrival, self.seed)
    }

    /// Number of calls, after checking every parameter (not the function: that needs the
    /// workspace). Each error is one line saying what to fix.
    pub fn validate(&self) -> Result<usize> {
        if self.is_open_loop() {
            return self.validate_open_loop();
        }
        if self.arrival != Arrival::default() {
            return Err(usage(format!(
                "arrival={} applies to open-loop experiments: give rate= and duration= too (e.g. rate=200 duration=10 arrival={})",
                self.arrival.name(),
                self.arrival.name()
            )));
        }
        if self.concurrency != DEFAULT_CONCURRENCY {
            return Err(usage(
                "concurrency= applies to open-loop experiments (rate= and duration=); a closed-loop experiment runs threads= workers",
            ));
        }
        if self.threads == 0 {
            return Err(usage("threads must be at least 1 (e.g. threads=1)"));
        }
        if self.threads > MAX_THREADS {
            return Err(usage(format!(
                "threads is too large ({}); at most {MAX_THREADS} concurrent calls per experiment \
                 (AWS Lambda's default concurrency is 1000, the local engine's too)",
                self.threads
            )));
        }
        if self.runs_per_thread == 0 {
            return Err(usage(
                "runs_per_thread must be at least 1 (e.g. runs_per_thread=10)",
            ));
        }
        if let Some(calls) = self.calls {
            if calls < self.threads {
                return Err(usage(format!(
                    "calls ({calls}) must be at least threads ({}): every worker makes at least one call",
                    self.threads
                )));
            }
            if calls > MAX_CALLS {
                return Err(usage(format!(
                    "calls is too large ({calls}); at most {MAX_CALLS} calls per experiment"
                )));
            }
        }
        if self.payloads.is_empty() {
            return Err(usage(
                "the payload list is empty: give at least one payload (e.g. payloads=[{}])",
            ));
        }
        check_experiment_name(&self.experiment_name)?;
        if let Some(calls) = self.calls {
            return Ok(calls);
        }
        self.threads
            .checked_mul(self.runs_per_thread)
            .filter(|&calls| calls <= MAX_CALLS)
            .ok_or_else(|| {
                usage(format!(
                    "threads × runs_per_thread is too large ({} × {}); at most {MAX_CALLS} calls per experiment",
                    self.threads, self.runs_per_thread
                ))
            })
    }
}

impl ExperimentSpec {
    /// The checks of an open-loop spec; the number of calls its schedule has.
    fn validate_open_loop(&self) -> Result<usize> {
        if self.calls.is_some()
            || self.threads != DEFAULT_THREADS
            || self.runs_per_thread != DEFAULT_RUNS_PER_THREAD
        {
            return Err(usage(
                "an open-loop experiment (rate= and duration=) sets its calls by rate × duration: leave out threads=, runs_per_thread= and calls= (concurrency= caps the calls in flight)",
            ));
        }
        let phases = match (self.rate, self.duration, self.phases.is_empty()) {
            (Some(_), Some(_), false) | (Some(_), None, false) | (None, Some(_), false) => {
                return Err(usage(
                    "give either rate= and duration= (one steady phase) or phases=, not both",
                ))
            }
            (Some(_), None, true) => {
                return Err(usage(
                    "rate= needs duration=<seconds> too (e.g. rate=200 duration=10)",
                ))
            }
            (None, Some(_), true) => {
                return Err(usage(
                    "duration= needs rate=<calls per second> too (e.g. rate=200 duration=10)",
                ))
            }
            (Some(rate), Some(duration), true) => {
                let phase = Phase::steady(rate, duration);
                phase.check("rate= and duration=")?;
                vec![phase]
            }
            (None, None, _) => {
                for (i, phase) in self.phases.iter().enumerate() {
                    phase.check(&format!("phase {}", i + 1))?;
                }
                self.phases.clone()
            }
        };
        let expected = arrivals::expected_calls(&phases);
        if expected > MAX_CALLS as f64 {
            return Err(usage(format!(
                "rate × duration is too large ({expected:.0} calls); at most {MAX_CALLS} calls per experiment"
            )));
        }
        if expected < 1.0 {
            return Err(usage(format!(
                "rate × duration is less than one call ({expected}); raise the rate or the duration"
            )));
        }
        if self.concurrency == 0 || self.concurrency > MAX_THREADS {
            return Err(usage(format!(
                "concurrency must be from 1 to {MAX_THREADS} calls in flight (e.g. concurrency=100), got {}",
                self.concurrency
            )));
        }
        if self.payloads.is_empty() {
            return Err(usage(
                "the payload list is empty: give at least one payload (e.g. payloads=[{}])",
            ));
        }
        check_experiment_name(&self.experiment_name)?;
        match self.total_calls() {
            0 => Err(usage(format!(
                "the {} schedule of seed {} has no call (about {expected:.1} expected); raise the rate or the duration, or try another seed",
                self.arrival.name(),
                self.seed
            ))),
            calls => Ok(calls),
        }
    }

    /// How many calls worker `thread` makes.
    pub fn runs_of(&self, thread: usize) -> usize {
        match self.calls {
            None => self.runs_per_thread,
            Some(calls) => calls / self.threads + usize::from(thread < calls % self.threads),
        }
    }

    /// All calls of the experiment (of a validated spec). Open loop: the schedule's length
    /// (for `poisson` drawn from the seed, so computing it draws the schedule).
    pub fn total_calls(&self) -> usize {
        if self.is_open_loop() {
            return self.schedule().len();
        }
        self.calls.unwrap_or(self.threads * self.runs_per_thread)
    }
}

/// More calls than this in one experiment is certainly a typo (10 million calls take almost
/// three hours even at Lambda's default 1000 concurrent calls of 1 s); the payload plan holds
/// 4 bytes per call.
pub const MAX_CALLS: usize = 10_000_000;

/// Concurrent workers of one experiment: each is a task with a connection, and on the local
/// platform an environment (a process and a cgroup), so far more than a platform admits
/// (Lambda's default account concurrency and the local engine's limit are 1000) only makes
/// throttling errors, or exhausts the machine's file descriptors.
pub const MAX_THREADS: usize = 10_000;

fn usage(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}

/// Experiment names become folder names: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`.
pub fn check_experiment_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && name.len() <= 128 {
        return Ok(());
    }
    Err(usage(format!(
        "invalid experiment name {name:?}: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit (e.g. hello_experiment)"
    )))
}

/// Which payload each call gets: indices into the spec's payload list.
#[derive(Debug, Clone)]
pub struct PayloadPlan {
    slots: Vec<u32>,
    /// Index of each worker's first call.
    first_call: Vec<usize>,
}

impl PayloadPlan {
    /// The plan of a validated closed-loop spec.
    pub fn new(spec: &ExperimentSpec) -> Self {
        Self::with_calls(spec, spec.total_calls())
    }

    /// The plan of `calls` calls (an open-loop schedule's: one sequence, "worker" 0).
    pub fn with_calls(spec: &ExperimentSpec, calls: usize) -> Self {
        let count = spec.payloads.len();
        let mut slots: Vec<u32> = (0..calls).map(|i| (i % count) as u32).collect();
        if spec.shuffle_payloads {
            shuffle(&mut slots, spec.seed);
        }
        if spec.is_open_loop() {
            return PayloadPlan {
                slots,
                first_call: vec![0],
            };
        }
        PayloadPlan {
            slots,
            first_call: (0..spec.threads)
                .scan(0, |next, thread| {
                    let first = *next;
                    *next += spec.runs_of(thread);
                    Some(first)
                })
                .collect(),
        }
    }

    /// Index of the payload of call `run` of worker `thread`.
    pub fn payload_index(&self, thread: usize, run: usize) -> usize {
        self.slots[self.first_call[thread] + run] as usize
    }
}

/// Fisher–Yates with SplitMix64 (no `rand` dependency; reproducible across versions).
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(threads: usize, runs: usize, payloads: usize, shuffle: bool) -> ExperimentSpec {
        ExperimentSpec {
            threads,
            runs_per_thread: runs,
            payloads: (0..payloads).map(|i| json!({ "i": i })).collect(),
            shuffle_payloads: shuffle,
            ..ExperimentSpec::new("f", "e")
        }
    }

    fn assignment(spec: &ExperimentSpec) -> Vec<usize> {
        let plan = PayloadPlan::new(spec);
        (0..spec.threads)
            .flat_map(|t| (0..spec.runs_per_thread).map(move |r| (t, r)))
            .map(|(t, r)| plan.payload_index(t, r))
            .collect()
    }

    #[test]
    fn total_calls_spread_evenly_over_workers() {
        let mut s = spec(32, 1, 3, true);
        s.calls = Some(10_000);
        assert_eq!(s.validate().unwrap(), 10_000);
        let runs: Vec<usize> = (0..32).map(|t| s.runs_of(t)).collect();
        assert_eq!(runs.iter().sum::<usize>(), 10_000);
        assert_eq!(
            (runs[0], runs[15], runs[16], runs[31]),
            (313, 313, 312, 312)
        );
        let plan = PayloadPlan::new(&s);
        let mut counts = [0usize; 3];
        for t in 0..32 {
            for r in 0..s.runs_of(t) {
                counts[plan.payload_index(t, r)] += 1;
            }
        }
        assert_eq!(
            counts,
            [3334, 3333, 3333],
            "every call has exactly one payload slot"
        );
        s.calls = Some(31);
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("calls (31) must be at least threads (32)"));
    }

    #[test]
    fn round_robin_spreads_payloads_evenly() {
        let a = assignment(&spec(3, 4, 2, false));
        assert_eq!(a, vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn shuffle_keeps_counts_is_seeded_and_reproducible() {
        let plain = assignment(&spec(10, 10, 3, false));
        let shuffled = assignment(&spec(10, 10, 3, true));
        assert_ne!(plain, shuffled);
        let count = |a: &[usize], p| a.iter().filter(|&&x| x == p).count();
        for p in 0..3 {
            assert_eq!(count(&plain, p), count(&shuffled, p));
        }
        assert_eq!(shuffled, assignment(&spec(10, 10, 3, true)));
        let other_seed = ExperimentSpec {
            seed: 7,
            ..spec(10, 10, 3, true)
        };
        assert_ne!(shuffled, assignment(&other_seed));
    }

    #[test]
    fn an_open_loop_spec_counts_its_schedule_and_spreads_payloads_over_it() {
        let mut s = spec(1, 1, 3, false);
        s.rate = Some(50.0);
        s.duration = Some(2.0);
        assert!(s.is_open_loop());
        assert_eq!(s.validate().unwrap(), 100);
        assert_eq!(s.load_phases(), vec![Phase::steady(50.0, 2.0)]);
        let plan = PayloadPlan::with_calls(&s, 100);
        let counts = (0..100).fold([0; 3], |mut c, k| {
            c[plan.payload_index(0, k)] += 1;
            c
        });
        assert_eq!(counts, [34, 33, 33]);
        s.arrival = Arrival::Poisson;
        let n = s.validate().unwrap();
        assert_eq!(n, s.schedule().len());
        assert!((60..140).contains(&n), "{n}");
        // The closed-loop keys are refused, not ignored.
        s.calls = Some(10);
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("leave out threads="));
    }

    #[test]
    fn bad_parameters_say_what_to_fix() {
        let err = |s: ExperimentSpec| s.validate().unwrap_err().to_string();
        assert!(err(spec(0, 1, 1, false)).contains("threads must be at least 1"));
        assert!(err(spec(MAX_THREADS + 1, 1, 1, false)).contains("threads is too large (10001)"));
        spec(MAX_THREADS, 1, 1, false).validate().unwrap();
        assert!(err(spec(1000, MAX_CALLS / 1000 + 1, 1, false)).contains("at most 10000000 calls"));
        assert!(err(spec(1, 0, 1, false)).contains("runs_per_thread must be at least 1"));
        assert!(err(spec(1, 1, 0, false)).contains("payload list is empty"));
        assert!(err(spec(usize::MAX, 2, 1, false)).contains("too large"));
        for bad in ["", ".hidden", "../up", "a/b", "a b", "é", &"x".repeat(129)] {
            let s = ExperimentSpec::new("f", bad);
            assert!(err(s).contains("invalid experiment name"), "{bad:?}");
        }
        for good in ["a", "hello_experiment", "mem-512.v2", &"x".repeat(128)] {
            assert_eq!(ExperimentSpec::new("f", good).validate().unwrap(), 1);
        }
    }
}
