//! Statistics over experiment results: summaries ([`stats`]), two-sample tests ([`ttest`]),
//! bootstrap confidence intervals ([`bootstrap`]), effect sizes ([`effect`]) and what a
//! sample's size allows ([`precision`]: warnings, calls needed for an interval's width).
//!
//! Everything here is a pure function over `&[f64]` (or `(key, value)` pairs): no I/O, no
//! printing, no knowledge of CSV files, metrics or experiments. Loading a metric column from
//! results and rendering the numbers belong to the caller. Failures are [`AnalysisError`]s whose
//! messages are one lowercase line that says what to fix.

pub mod bootstrap;
pub mod effect;
pub mod precision;
pub mod stats;
pub mod ttest;

pub use bootstrap::{Bootstrap, Differences, Interval, Intervals};
pub use effect::{cliffs_delta, cohens_d, cohens_dz, Effect};
pub use stats::{percentile, summarize, summarize_groups, trimmed, Summary};
pub use ttest::{mann_whitney_u, paired_t_test, welch_t_test, MannWhitney, TTest};

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// The input had no values at all.
    #[error("there are no values to summarize; run the experiment first or pick a metric that has values")]
    NoValues,

    /// A value was NaN or infinite; `index` is its position in the input.
    #[error("value at position {index} is {value}, not a finite number; drop or fix that row before computing statistics")]
    NonFinite { index: usize, value: f64 },

    /// A value of sample a or b was NaN or infinite; `index` is its position in that sample.
    #[error("value at position {index} of sample {sample} is {value}, not a finite number; drop or fix that row before running the test")]
    NonFiniteInSample {
        /// `"a"` or `"b"`.
        sample: &'static str,
        index: usize,
        value: f64,
    },

    /// A sample is too small for the test that was asked for.
    #[error("sample {sample} has {count} value(s) but {test} needs at least {needed} per sample; collect more runs")]
    TooFewValues {
        /// `"a"` or `"b"`.
        sample: &'static str,
        count: usize,
        needed: usize,
        test: &'static str,
    },

    /// The statistic divides by a spread that is zero, so it is undefined.
    #[error("{statistic} is undefined because {what} have zero variance (all identical); check the metric, or compare the values directly")]
    ZeroVariance {
        /// `"t"` or `"z"`.
        statistic: &'static str,
        /// What has no spread, e.g. `"both samples"`.
        what: &'static str,
    },

    /// A paired test was given samples of different lengths.
    #[error("a paired t-test needs samples of equal length, got a = {a} and b = {b} values; pair each run of a with one run of b, or use the welch t-test")]
    UnequalLengths { a: usize, b: usize },

    /// `trimmed` was given a fraction outside `[0, 0.5)`.
    #[error(
        "trim fraction {0} is out of range; use a value from 0 up to (not including) 0.5, e.g. 0.2"
    )]
    InvalidFraction(f64),

    /// A bootstrap was asked for too few or too many resamples.
    #[error("resamples={0} is out of range; use 100 to 1000000 (default 2000)")]
    InvalidResamples(usize),

    /// `percentile` was given a rank outside `[0, 100]`.
    #[error("percentile {0} is out of range; use a value from 0 to 100")]
    InvalidPercentile(f64),
}

/// Fails with [`AnalysisError::NonFinite`] at the first NaN or infinite value.
fn check_finite(values: &[f64]) -> Result<(), AnalysisError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(AnalysisError::NonFinite {
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Arithmetic mean of a non-empty slice.
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample variance (divisor n − 1) of a slice with at least two values, given its mean.
fn sample_variance(values: &[f64], mean: f64) -> f64 {
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    ss / (values.len() - 1) as f64
}
