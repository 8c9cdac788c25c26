//! Two experiments compared on one metric: Welch's or the paired t-test and Mann–Whitney U,
//! with calls paired by `threadID` and `runID`; beside each test its effect size (Cohen's d
//! or d_z, Cliff's delta), bootstrap intervals of the mean and median differences, and the
//! warnings the sample sizes call for.

use std::collections::HashMap;

use super::Results;
use crate::analysis::{
    self, AnalysisError, Bootstrap, Differences, Effect, MannWhitney, Summary, TTest,
};
use crate::error::{Error, Result};

/// A metric compared between two experiments.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub metric: String,
    /// `function/experiment` of each side.
    pub a: String,
    pub b: String,
    /// Of the values tested (for a paired test: the matched pairs).
    pub summary_a: Summary,
    pub summary_b: Summary,
    pub paired: bool,
    /// Welch's t-test, or the paired t-test.
    pub t_test: TTest,
    pub mann_whitney: MannWhitney,
    /// Successful calls left out because they had no partner (paired test only).
    pub unmatched: usize,
    /// Cohen's d (Welch) or d_z (paired), beside the t-test.
    pub cohens_d: Effect,
    /// Cliff's delta, beside Mann–Whitney U.
    pub cliffs_delta: Effect,
    /// Bootstrap 95% intervals of the mean and median differences a − b.
    pub differences: Differences,
    /// What the sample sizes do not support (empty when nothing).
    pub warnings: Vec<String>,
}

/// [`compare_with`] with the default bootstrap (2,000 resamples, seed 42).
pub fn compare(a: &Results, b: &Results, metric: &str, paired: bool) -> Result<Comparison> {
    compare_with(a, b, metric, paired, Bootstrap::default())
}

/// Compares `metric` of two experiments' successful calls: Welch's t-test (or, `paired`, the
/// paired t-test) and the Mann–Whitney U test.
///
/// Pairs are calls with the same `threadID` and `runID` (the k-th such call of a side with
/// the k-th of the other, for experiments run more than once); calls without a successful
/// partner are left out and counted. Without those columns, rows pair in file order.
pub fn compare_with(
    a: &Results,
    b: &Results,
    metric: &str,
    paired: bool,
    bootstrap: Bootstrap,
) -> Result<Comparison> {
    bootstrap.check().map_err(|e| Error::Usage(e.to_string()))?;
    let (values_a, values_b, unmatched) = if paired {
        paired_values(a, b, metric)?
    } else {
        (a.metric(metric)?, b.metric(metric)?, 0)
    };
    for (side, values) in [(a, &values_a), (b, &values_b)] {
        if values.is_empty() {
            return Err(if paired && !side.metric(metric)?.is_empty() {
                Error::Usage(format!(
                    "no call of {} pairs with a call of {} (same threadID and runID, both successful); run both experiments with the same threads and runs_per_thread, or drop --paired",
                    a.label(),
                    b.label()
                ))
            } else {
                side.no_values(metric)
            });
        }
    }
    let test_error = |e: AnalysisError| {
        Error::Usage(format!(
            "{metric} of {} (a) vs {} (b): {e}",
            a.label(),
            b.label()
        ))
    };
    let t_test = if paired {
        analysis::paired_t_test(&values_a, &values_b)
    } else {
        analysis::welch_t_test(&values_a, &values_b)
    }
    .map_err(test_error)?;
    let mann_whitney = analysis::mann_whitney_u(&values_a, &values_b).map_err(test_error)?;
    let cohens_d = if paired {
        analysis::cohens_dz(&values_a, &values_b)
    } else {
        analysis::cohens_d(&values_a, &values_b)
    };
    let differences = analysis::bootstrap::differences(&values_a, &values_b, paired, bootstrap)
        .map_err(test_error)?;
    Ok(Comparison {
        cohens_d,
        cliffs_delta: analysis::cliffs_delta(&values_a, &values_b),
        differences,
        warnings: analysis::precision::test_warnings(values_a.len(), values_b.len()),
        metric: metric.to_string(),
        a: a.label(),
        b: b.label(),
        summary_a: analysis::summarize(&values_a).map_err(|e| a.analysis_error(metric, e))?,
        summary_b: analysis::summarize(&values_b).map_err(|e| b.analysis_error(metric, e))?,
        paired,
        t_test,
        mann_whitney,
        unmatched,
    })
}

/// Values of matched successful calls of `a` and `b`, and how many calls found no partner.
pub(super) fn paired_values(
    a: &Results,
    b: &Results,
    metric: &str,
) -> Result<(Vec<f64>, Vec<f64>, usize)> {
    // (row key, value) of each side's successful calls with a value, in file order.
    let keyed = |r: &Results| -> Result<Vec<(String, f64)>> {
        let values = r.column_f64(metric)?;
        let ids = r.has_column("threadID") && r.has_column("runID");
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::new();
        for (row, value) in values.into_iter().enumerate() {
            let key = if ids {
                let call = format!(
                    "{}/{}",
                    r.cell(row, "threadID").unwrap_or_default(),
                    r.cell(row, "runID").unwrap_or_default()
                );
                let k = seen.entry(call.clone()).or_default();
                *k += 1;
                format!("{call}#{k}")
            } else {
                row.to_string()
            };
            if let (false, Some(value)) = (r.is_error(row), value) {
                out.push((key, value));
            }
        }
        Ok(out)
    };
    let (side_a, side_b) = (keyed(a)?, keyed(b)?);
    let lookup: HashMap<&str, f64> = side_b.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let (mut values_a, mut values_b) = (Vec::new(), Vec::new());
    for (key, value) in &side_a {
        if let Some(&other) = lookup.get(key.as_str()) {
            values_a.push(*value);
            values_b.push(other);
        }
    }
    let unmatched = side_a.len() + side_b.len() - 2 * values_a.len();
    Ok((values_a, values_b, unmatched))
}
