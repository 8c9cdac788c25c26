//! What an experiment is asked to do ([`ExperimentSpec`]), its checks, and the plan that
//! spreads the payloads over the calls.
//!
//! Payloads are repeated round robin over all calls (`threads × runs_per_thread`, or `calls`) (so two
//! payloads over 12 calls are used 6 times each) and, with `shuffle_payloads`, shuffled by a
//! seeded SplitMix64 generator: the same seed gives the same assignment on every machine.
//! Call `(thread, run)` gets the slot after all calls of the workers before `thread`.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The seed used when none is given (FaaS Runner's habit of reproducible shuffles).
pub const DEFAULT_SEED: u64 = 42;
/// Concurrent workers when none are given.
pub const DEFAULT_THREADS: usize = 1;
/// Calls per worker when neither `runs_per_thread` nor `calls` is given.
pub const DEFAULT_RUNS_PER_THREAD: usize = 1;

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
    /// Seed of the payload shuffle.
    pub seed: u64,
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
        }
    }

    /// Number of calls, after checking every parameter (not the function: that needs the
    /// workspace). Each error is one line saying what to fix.
    pub fn validate(&self) -> Result<usize> {
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
    /// How many calls worker `thread` makes.
    pub fn runs_of(&self, thread: usize) -> usize {
        match self.calls {
            None => self.runs_per_thread,
            Some(calls) => calls / self.threads + usize::from(thread < calls % self.threads),
        }
    }

    /// All calls of the experiment (of a validated spec).
    pub fn total_calls(&self) -> usize {
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
    /// The plan of a validated spec.
    pub fn new(spec: &ExperimentSpec) -> Self {
        let calls = spec.total_calls();
        let count = spec.payloads.len();
        let mut slots: Vec<u32> = (0..calls).map(|i| (i % count) as u32).collect();
        if spec.shuffle_payloads {
            shuffle(&mut slots, spec.seed);
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
    let mut rng = SplitMix64(seed);
    for i in (1..items.len()).rev() {
        // Lemire's multiply-shift: an unbiased-enough index in 0..=i.
        let j = ((rng.next() as u128 * (i as u128 + 1)) >> 64) as usize;
        items.swap(i, j);
    }
}

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
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
