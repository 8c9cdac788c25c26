//! Descriptive statistics of one metric: [`summarize`] a slice into a [`Summary`] (count, min,
//! max, mean, median, sample standard deviation, coefficient of variation, p90/p95/p99),
//! [`summarize_groups`] per key (e.g. per memory size), [`percentile`] at any rank, and
//! [`trimmed`] to drop outliers at both ends before summarizing a memory sweep.
//!
//! Percentiles interpolate linearly between the closest ranks, as numpy's default
//! `numpy.percentile(..., method="linear")` does. Inputs must be finite; NaN or infinite values
//! are refused with their position rather than silently poisoning every number. This module
//! does not load results, pick metrics, or format output: that is the caller's job.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{check_finite, mean, sample_variance, AnalysisError};

/// Descriptive statistics of one non-empty set of values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// The 50th percentile (mean of the two middle values for an even count).
    pub median: f64,
    /// Sample standard deviation (divisor n − 1). NaN when `count == 1`, as numpy's
    /// `std(ddof=1)` gives; serde_json writes NaN as `null`.
    pub std_dev: f64,
    /// Coefficient of variation, `std_dev / mean`. NaN when `count == 1`; infinite or NaN when
    /// the mean is zero.
    pub cv: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Summarizes `values`; fails if there are none or one is not finite.
pub fn summarize(values: &[f64]) -> Result<Summary, AnalysisError> {
    if values.is_empty() {
        return Err(AnalysisError::NoValues);
    }
    check_finite(values)?;
    let sorted = sorted_copy(values);
    let mean = mean(&sorted);
    let std_dev = if sorted.len() < 2 {
        f64::NAN
    } else {
        sample_variance(&sorted, mean).sqrt()
    };
    Ok(Summary {
        count: sorted.len(),
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        mean,
        median: percentile_of_sorted(&sorted, 50.0),
        std_dev,
        cv: std_dev / mean,
        p90: percentile_of_sorted(&sorted, 90.0),
        p95: percentile_of_sorted(&sorted, 95.0),
        p99: percentile_of_sorted(&sorted, 99.0),
    })
}

/// Groups `(key, value)` pairs by key and summarizes each group, sorted by key.
///
/// Keys sort numerically when every key parses as a finite number (so memory sizes come out
/// `"128" < "256" < "1024"`; keys of equal value, like `"1"` and `"1.0"`, then sort as text),
/// otherwise as text. A non-finite value is reported with its position in the input sequence.
pub fn summarize_groups(
    values_with_keys: impl IntoIterator<Item = (String, f64)>,
) -> Result<Vec<(String, Summary)>, AnalysisError> {
    let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (index, (key, value)) in values_with_keys.into_iter().enumerate() {
        if !value.is_finite() {
            return Err(AnalysisError::NonFinite { index, value });
        }
        groups.entry(key).or_default().push(value);
    }
    let mut out = groups
        .into_iter()
        .map(|(key, values)| Ok((key, summarize(&values)?)))
        .collect::<Result<Vec<_>, AnalysisError>>()?;

    let numeric: Option<Vec<f64>> = out
        .iter()
        .map(|(key, _)| key.trim().parse::<f64>().ok().filter(|k| k.is_finite()))
        .collect();
    if let Some(numbers) = numeric {
        // BTreeMap already ordered the keys as text, so a stable sort by number keeps text
        // order among keys of equal value.
        let mut keyed: Vec<(f64, (String, Summary))> = numbers.into_iter().zip(out).collect();
        keyed.sort_by(|x, y| x.0.total_cmp(&y.0));
        out = keyed.into_iter().map(|(_, group)| group).collect();
    }
    Ok(out)
}

/// The `p`-th percentile (0 ≤ p ≤ 100) of `values`, interpolating linearly between the two
/// closest ranks like `numpy.percentile(values, p)`.
pub fn percentile(values: &[f64], p: f64) -> Result<f64, AnalysisError> {
    if !(0.0..=100.0).contains(&p) {
        return Err(AnalysisError::InvalidPercentile(p));
    }
    if values.is_empty() {
        return Err(AnalysisError::NoValues);
    }
    check_finite(values)?;
    Ok(percentile_of_sorted(&sorted_copy(values), p))
}

/// Returns `values` sorted ascending with the lowest and the highest `fraction` removed.
///
/// Rounding: `floor(n × fraction)` values are dropped from each end, as
/// `scipy.stats.trimboth` does, except that a product within 1e-9 of a whole number counts as
/// that number (so `0.29 × 100` drops 29, not 28 through floating-point error). With
/// `fraction = 0.2`: 10 values keep the middle 6, 12 values drop 2 per end and keep 8, and
/// fewer than 5 values are kept whole. `fraction` must be in `[0, 0.5)`, so at least one value
/// survives any non-empty input; an empty input gives an empty result.
pub fn trimmed(values: &[f64], fraction: f64) -> Result<Vec<f64>, AnalysisError> {
    if !(0.0..0.5).contains(&fraction) {
        return Err(AnalysisError::InvalidFraction(fraction));
    }
    check_finite(values)?;
    let sorted = sorted_copy(values);
    let exact = sorted.len() as f64 * fraction;
    let cut = (exact + 1e-9).floor() as usize;
    Ok(sorted[cut..sorted.len() - cut].to_vec())
}

pub(crate) fn sorted_copy(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// Linear interpolation at virtual index `(n − 1) × p / 100` of a sorted, non-empty slice.
pub(crate) fn percentile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let position = (sorted.len() - 1) as f64 * (p / 100.0);
    let lower = position.floor() as usize;
    let upper = (lower + 1).min(sorted.len() - 1);
    let weight = position - lower as f64;
    let (lo, hi) = (sorted[lower], sorted[upper]);
    // Interpolate from the nearer end so the result stays within [lo, hi] and equals hi at
    // weight 1 (numpy does the same).
    if weight < 0.5 {
        lo + (hi - lo) * weight
    } else {
        hi - (hi - lo) * (1.0 - weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from numpy 2.4.6 (Python 3.11), computed independently:
    //   np.min(v), np.max(v), np.mean(v), np.median(v), np.std(v, ddof=1),
    //   np.percentile(v, q) for q in (0, 10, 25, 50, 90, 95, 99, 100) and q = 37.5.
    const A: [f64; 10] = [
        112.5, 98.3, 105.1, 120.7, 101.2, 99.8, 110.4, 108.9, 97.6, 115.0,
    ];
    const C: [f64; 11] = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0];
    const D: [f64; 13] = [
        2.0, 7.0, 1.0, 8.0, 2.0, 8.0, 1.0, 8.0, 2.0, 8.0, 4.0, 5.0, 9.0,
    ];
    const P1: [f64; 8] = [210.0, 195.5, 230.25, 205.0, 220.75, 199.0, 240.5, 215.0];

    fn close(got: f64, want: f64, rel: f64) -> bool {
        got == want || (got - want).abs() <= rel * want.abs().max(1e-300)
    }

    #[track_caller]
    fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
        assert!(close(got, want, rel), "{what}: got {got:e}, want {want:e}");
    }

    #[test]
    fn percentiles_match_numpy() {
        const QS: [f64; 9] = [0.0, 10.0, 25.0, 50.0, 90.0, 95.0, 99.0, 100.0, 37.5];
        let table: [(&str, &[f64], [f64; 9]); 6] = [
            (
                "A",
                &A,
                [
                    97.6,
                    98.23,
                    100.15,
                    107.0,
                    115.57,
                    118.13499999999999,
                    120.187,
                    120.7,
                    102.6625,
                ],
            ),
            (
                "C (ties)",
                &C,
                [1.0, 1.0, 2.5, 4.0, 6.0, 7.5, 8.700000000000001, 9.0, 3.0],
            ),
            (
                "D (ties)",
                &D,
                [
                    1.0,
                    1.2000000000000002,
                    2.0,
                    5.0,
                    8.0,
                    8.399999999999999,
                    8.879999999999999,
                    9.0,
                    3.0,
                ],
            ),
            (
                "P1",
                &P1,
                [
                    195.5, 197.95, 203.5, 212.5, 233.325, 236.9125, 239.7825, 240.5, 208.125,
                ],
            ),
            ("one value", &[42.5], [42.5; 9]),
            (
                "two values",
                &[1.0, 4.0],
                [
                    1.0,
                    1.3,
                    1.75,
                    2.5,
                    3.7,
                    3.8499999999999996,
                    3.9699999999999998,
                    4.0,
                    2.125,
                ],
            ),
        ];
        for (name, values, want) in table {
            for (q, w) in QS.iter().zip(want) {
                let got = percentile(values, *q).unwrap();
                assert_close(got, w, 1e-12, &format!("{name} p{q}"));
            }
        }
    }

    #[test]
    fn summary_matches_numpy() {
        // (count, min, max, mean, median, std_dev with ddof=1)
        type Expected = (usize, f64, f64, f64, f64, f64);
        let table: [(&str, &[f64], Expected); 4] = [
            ("A", &A, (10, 97.6, 120.7, 106.95, 107.0, 7.818958441577187)),
            ("C", &C, (11, 1.0, 9.0, 4.0, 4.0, 2.3664319132398464)),
            (
                "P1",
                &P1,
                (8, 195.5, 240.5, 214.5, 212.5, 15.469439919679427),
            ),
            (
                "two",
                &[1.0, 4.0],
                (2, 1.0, 4.0, 2.5, 2.5, 2.1213203435596424),
            ),
        ];
        for (name, values, (count, min, max, mean, median, std_dev)) in table {
            let s = summarize(values).unwrap();
            assert_eq!(s.count, count, "{name} count");
            assert_eq!((s.min, s.max), (min, max), "{name} min/max");
            assert_close(s.mean, mean, 1e-12, &format!("{name} mean"));
            assert_close(s.median, median, 1e-12, &format!("{name} median"));
            assert_close(s.std_dev, std_dev, 1e-12, &format!("{name} std_dev"));
            assert_close(s.cv, std_dev / mean, 1e-12, &format!("{name} cv"));
            for (p, got) in [(90.0, s.p90), (95.0, s.p95), (99.0, s.p99)] {
                assert_eq!(got, percentile(values, p).unwrap(), "{name} p{p}");
            }
        }
    }

    #[test]
    fn single_value_has_undefined_spread() {
        let s = summarize(&[42.5]).unwrap();
        assert_eq!(
            (s.count, s.min, s.max, s.mean, s.median),
            (1, 42.5, 42.5, 42.5, 42.5)
        );
        assert!(s.std_dev.is_nan() && s.cv.is_nan());
        assert_eq!((s.p90, s.p95, s.p99), (42.5, 42.5, 42.5));
    }

    #[test]
    fn errors() {
        let nan_at_2 = AnalysisError::NonFinite {
            index: 2,
            value: f64::INFINITY,
        };
        let table: [(&str, Result<f64, AnalysisError>, AnalysisError); 7] = [
            (
                "summarize empty",
                summarize(&[]).map(|s| s.mean),
                AnalysisError::NoValues,
            ),
            (
                "percentile empty",
                percentile(&[], 50.0),
                AnalysisError::NoValues,
            ),
            (
                "percentile > 100",
                percentile(&[1.0], 100.5),
                AnalysisError::InvalidPercentile(100.5),
            ),
            (
                "percentile < 0",
                percentile(&[1.0], -1.0),
                AnalysisError::InvalidPercentile(-1.0),
            ),
            (
                "summarize inf",
                summarize(&[1.0, 2.0, f64::INFINITY]).map(|s| s.mean),
                nan_at_2.clone(),
            ),
            (
                "trim 0.5",
                trimmed(&[1.0], 0.5).map(|v| v[0]),
                AnalysisError::InvalidFraction(0.5),
            ),
            (
                "trim negative",
                trimmed(&[1.0], -0.1).map(|v| v[0]),
                AnalysisError::InvalidFraction(-0.1),
            ),
        ];
        for (name, got, want) in table {
            assert_eq!(got, Err(want), "{name}");
        }
        assert!(matches!(
            summarize(&[f64::NAN]),
            Err(AnalysisError::NonFinite { index: 0, .. })
        ));
        assert_eq!(
            AnalysisError::NoValues.to_string(),
            "there are no values to summarize; run the experiment first or pick a metric that has values"
        );
        assert_eq!(
            nan_at_2.to_string(),
            "value at position 2 is inf, not a finite number; drop or fix that row before computing statistics"
        );
    }

    #[test]
    fn trimmed_drops_floor_of_fraction_per_end() {
        // scipy.stats.trimboth(A, 0.2) sorted:
        assert_eq!(
            trimmed(&A, 0.2).unwrap(),
            [99.8, 101.2, 105.1, 108.9, 110.4, 112.5]
        );
        // scipy.stats.trimboth(C, 0.1) sorted: floor(1.1) = 1 per end.
        assert_eq!(
            trimmed(&C, 0.1).unwrap(),
            [1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 5.0, 5.0, 6.0]
        );
        let hundred: Vec<f64> = (0..100).map(f64::from).collect();
        let table: [(&[f64], f64, usize); 6] = [
            (&[3.0, 1.0, 2.0, 4.0], 0.2, 4), // floor(0.8) = 0: nothing dropped
            (&[5.0, 3.0, 1.0, 2.0, 4.0], 0.2, 3), // floor(1.0) = 1 per end
            (&hundred, 0.29, 42),            // 0.29 × 100 is 28.999…; counts as 29
            (&hundred, 0.0, 100),
            (&[7.0], 0.49, 1),
            (&[], 0.2, 0),
        ];
        for (values, fraction, kept) in table {
            let got = trimmed(values, fraction).unwrap();
            assert_eq!(got.len(), kept, "{values:?} trimmed by {fraction}");
        }
        assert_eq!(
            trimmed(&[5.0, 3.0, 1.0, 2.0, 4.0], 0.2).unwrap(),
            [2.0, 3.0, 4.0]
        );
    }

    #[test]
    fn groups_sort_numerically_when_all_keys_are_numbers() {
        let rows = [
            ("1024", 3.0),
            ("128", 1.0),
            ("256", 2.0),
            ("128", 5.0),
            ("1024.0", 4.0),
        ];
        let groups = summarize_groups(rows.map(|(k, v)| (k.to_string(), v))).unwrap();
        let keys: Vec<&str> = groups.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["128", "256", "1024", "1024.0"]);
        assert_eq!(groups[0].1.count, 2);
        assert_eq!(groups[0].1.mean, 3.0);

        let rows = [("b", 1.0), ("a10", 2.0), ("128", 3.0), ("a9", 4.0)];
        let groups = summarize_groups(rows.map(|(k, v)| (k.to_string(), v))).unwrap();
        let keys: Vec<&str> = groups.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["128", "a10", "a9", "b"]);

        assert_eq!(summarize_groups(Vec::new()).unwrap(), []);
        let rows = [("a", 1.0), ("b", f64::NAN)];
        assert!(matches!(
            summarize_groups(rows.map(|(k, v)| (k.to_string(), v))),
            Err(AnalysisError::NonFinite { index: 1, .. })
        ));
    }
}
