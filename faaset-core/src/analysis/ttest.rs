//! Two-sample tests for comparing two experiments on one metric: Welch's t-test
//! ([`welch_t_test`], unequal variances, independent samples), the paired t-test
//! ([`paired_t_test`], run i of a paired with run i of b) and the Mann–Whitney U test
//! ([`mann_whitney_u`], rank based, for skewed runtimes).
//!
//! All tests are two-sided. The t-tests use statrs' Student's t distribution and match
//! `scipy.stats.ttest_ind(a, b, equal_var=False)` and `scipy.stats.ttest_rel(a, b)`, including
//! their 95% confidence intervals. Mann–Whitney uses the normal approximation with tie and
//! continuity corrections, matching `scipy.stats.mannwhitneyu(a, b, method="asymptotic",
//! use_continuity=True)`; it does not compute exact small-sample p-values. Not included: the
//! pooled-variance (Student's) t-test, one-sided alternatives, effect sizes, and any
//! correction for multiple comparisons. Inputs must be finite.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use super::{mean, sample_variance, AnalysisError};

/// Result of a two-sided t-test of sample a against sample b.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TTest {
    pub t: f64,
    /// Degrees of freedom: Welch–Satterthwaite for Welch's test, n − 1 for the paired test.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// mean(a) − mean(b) (for the paired test, the mean of the differences a − b).
    pub mean_difference: f64,
    /// 95% confidence interval of `mean_difference`.
    pub ci95_low: f64,
    pub ci95_high: f64,
    pub n_a: usize,
    pub n_b: usize,
}

/// Result of a two-sided Mann–Whitney U test of sample a against sample b.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MannWhitney {
    /// U statistic of sample a (the value scipy reports as `statistic`): the number of pairs
    /// (x from a, y from b) with x > y, ties counting one half.
    pub u: f64,
    /// Continuity-corrected normal score of `u`: positive when a tends to be larger than b,
    /// zero when `u` is within 0.5 of its mean `n_a × n_b / 2`.
    pub z: f64,
    /// Two-sided p-value from the normal approximation.
    pub p_value: f64,
}

/// Welch's t-test for two independent samples that may differ in size and variance.
///
/// Needs at least 2 finite values per sample and some variance in at least one of them.
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Result<TTest, AnalysisError> {
    const TEST: &str = "a welch t-test";
    check_sample("a", a, 2, TEST)?;
    check_sample("b", b, 2, TEST)?;
    let (n_a, n_b) = (a.len() as f64, b.len() as f64);
    let (mean_a, mean_b) = (mean(a), mean(b));
    let va = sample_variance(a, mean_a) / n_a;
    let vb = sample_variance(b, mean_b) / n_b;
    if va + vb == 0.0 {
        return Err(AnalysisError::ZeroVariance {
            statistic: "t",
            what: "both samples",
        });
    }
    // Welch–Satterthwaite df, written with the share r of the variance so it neither
    // overflows nor underflows for extreme scales.
    let r = va / (va + vb);
    let df = 1.0 / (r * r / (n_a - 1.0) + (1.0 - r) * (1.0 - r) / (n_b - 1.0));
    Ok(t_result(
        mean_a - mean_b,
        (va + vb).sqrt(),
        df,
        a.len(),
        b.len(),
    ))
}

/// Paired t-test: the one-sample t-test of the differences `a[i] − b[i]` against zero.
///
/// Needs equal lengths, at least 2 pairs, and differences that are not all the same.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<TTest, AnalysisError> {
    const TEST: &str = "a paired t-test";
    if a.len() != b.len() {
        return Err(AnalysisError::UnequalLengths {
            a: a.len(),
            b: b.len(),
        });
    }
    check_sample("a", a, 2, TEST)?;
    check_sample("b", b, 2, TEST)?;
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean_d = mean(&diffs);
    let var_d = sample_variance(&diffs, mean_d);
    if var_d == 0.0 {
        return Err(AnalysisError::ZeroVariance {
            statistic: "t",
            what: "the paired differences (a - b)",
        });
    }
    let n = diffs.len();
    let se = (var_d / n as f64).sqrt();
    Ok(t_result(mean_d, se, (n - 1) as f64, n, n))
}

/// Two-sided Mann–Whitney U test (normal approximation, tie and continuity corrections).
///
/// Needs at least 1 finite value per sample, and not every value of both samples equal.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Result<MannWhitney, AnalysisError> {
    const TEST: &str = "a mann-whitney u test";
    check_sample("a", a, 1, TEST)?;
    check_sample("b", b, 1, TEST)?;
    let (n_a, n_b) = (a.len() as f64, b.len() as f64);
    let n = n_a + n_b;

    let (rank_sum_a, tie_term) = rank_sum_of_a(a, b);
    let u = rank_sum_a - n_a * (n_a + 1.0) / 2.0;
    let mu = n_a * n_b / 2.0;
    let variance = n_a * n_b / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if variance <= 0.0 {
        return Err(AnalysisError::ZeroVariance {
            statistic: "z",
            what: "the pooled values of both samples",
        });
    }
    let distance = ((u - mu).abs() - 0.5).max(0.0);
    let z = (u - mu).signum() * distance / variance.sqrt();
    let p_value = (2.0 * standard_normal().sf(z.abs())).min(1.0);
    Ok(MannWhitney { u, z, p_value })
}

/// Checks size and finiteness of one sample, naming it in the error.
fn check_sample(
    sample: &'static str,
    values: &[f64],
    needed: usize,
    test: &'static str,
) -> Result<(), AnalysisError> {
    if values.len() < needed {
        return Err(AnalysisError::TooFewValues {
            sample,
            count: values.len(),
            needed,
            test,
        });
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(AnalysisError::NonFiniteInSample {
            sample,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// t statistic, two-sided p-value and 95% interval from a difference, its standard error and
/// the degrees of freedom.
fn t_result(difference: f64, se: f64, df: f64, n_a: usize, n_b: usize) -> TTest {
    let dist = StudentsT::new(0.0, 1.0, df).expect("df is positive and finite here");
    let t = difference / se;
    let p_value = (2.0 * dist.sf(t.abs())).min(1.0);
    let half_width = dist.inverse_cdf(0.975) * se;
    TTest {
        t,
        df,
        p_value,
        mean_difference: difference,
        ci95_low: difference - half_width,
        ci95_high: difference + half_width,
        n_a,
        n_b,
    }
}

/// Sum of the ranks of a's values in the pooled sample (ties get their average rank) and the
/// tie term Σ(t³ − t) over groups of t tied values.
fn rank_sum_of_a(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut pooled: Vec<(f64, bool)> = a.iter().map(|&v| (v, true)).collect();
    pooled.extend(b.iter().map(|&v| (v, false)));
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));

    let (mut rank_sum_a, mut tie_term) = (0.0, 0.0);
    let mut start = 0;
    while start < pooled.len() {
        let end = start
            + pooled[start..]
                .iter()
                .take_while(|(v, _)| *v == pooled[start].0)
                .count();
        // Positions start..end hold ranks start+1 ..= end; their average:
        let rank = (start + 1 + end) as f64 / 2.0;
        let from_a = pooled[start..end].iter().filter(|(_, in_a)| *in_a).count();
        rank_sum_a += rank * from_a as f64;
        let t = (end - start) as f64;
        tie_term += t * t * t - t;
        start = end;
    }
    (rank_sum_a, tie_term)
}

fn standard_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("mean 0 and std dev 1 are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fixed samples. Reference numbers below come from scipy 1.17.1 / numpy 2.4.6
    // (Python 3.11), computed independently of this code.
    const A: [f64; 10] = [
        112.5, 98.3, 105.1, 120.7, 101.2, 99.8, 110.4, 108.9, 97.6, 115.0,
    ];
    const B: [f64; 7] = [130.2, 125.4, 118.9, 140.1, 122.3, 128.8, 135.6];
    // Integer-valued with many ties, within and across samples.
    const C: [f64; 11] = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0];
    const D: [f64; 13] = [
        2.0, 7.0, 1.0, 8.0, 2.0, 8.0, 1.0, 8.0, 2.0, 8.0, 4.0, 5.0, 9.0,
    ];
    // Paired: the same eight inputs before (P1) and after (P2) a change.
    const P1: [f64; 8] = [210.0, 195.5, 230.25, 205.0, 220.75, 199.0, 240.5, 215.0];
    const P2: [f64; 8] = [200.5, 190.0, 221.0, 207.5, 210.25, 192.0, 228.0, 209.5];

    /// (t, df, p_value, mean_difference, ci95_low, ci95_high)
    type Expected = (f64, f64, f64, f64, f64, f64);

    #[track_caller]
    fn assert_close(got: f64, want: f64, rel: f64, what: &str) {
        let ok = got == want || (got - want).abs() <= rel * want.abs();
        assert!(ok, "{what}: got {got:e}, want {want:e} (rel tol {rel:e})");
    }

    #[track_caller]
    fn check_t(name: &str, got: &TTest, want: Expected, n: (usize, usize)) {
        let (t, df, p, diff, lo, hi) = want;
        assert_close(got.t, t, 1e-9, &format!("{name} t"));
        assert_close(got.df, df, 1e-9, &format!("{name} df"));
        assert_close(got.p_value, p, 1e-7, &format!("{name} p"));
        assert_close(got.mean_difference, diff, 1e-9, &format!("{name} diff"));
        assert_close(got.ci95_low, lo, 1e-9, &format!("{name} ci low"));
        assert_close(got.ci95_high, hi, 1e-9, &format!("{name} ci high"));
        assert_eq!((got.n_a, got.n_b), n, "{name} sizes");
    }

    #[test]
    fn welch_matches_scipy() {
        // r = scipy.stats.ttest_ind(a, b, equal_var=False); ci = r.confidence_interval(0.95)
        // (r.statistic, r.df, r.pvalue, np.mean(a) - np.mean(b), ci.low, ci.high)
        let table: [(&str, &[f64], &[f64], Expected); 3] = [
            (
                "A vs B (unequal sizes)",
                &A,
                &B,
                (
                    -5.845783726350842,
                    13.543176995787844,
                    4.856749602875805e-05,
                    -21.807142857142864,
                    -29.833459811780138,
                    -13.780825902505592,
                ),
            ),
            (
                "B vs A (swapped)",
                &B,
                &A,
                (
                    5.845783726350842,
                    13.543176995787844,
                    4.856749602875805e-05,
                    21.807142857142864,
                    13.780825902505592,
                    29.833459811780138,
                ),
            ),
            (
                "C vs D (ties)",
                &C,
                &D,
                (
                    -0.8934696713327016,
                    21.796232626775804,
                    0.3813652419695989,
                    -1.0,
                    -3.322404240230242,
                    1.322404240230242,
                ),
            ),
        ];
        for (name, a, b, want) in table {
            let got = welch_t_test(a, b).unwrap();
            check_t(name, &got, want, (a.len(), b.len()));
        }
    }

    #[test]
    fn paired_matches_scipy() {
        // r = scipy.stats.ttest_rel(a, b); ci = r.confidence_interval(0.95)
        // (r.statistic, r.df, r.pvalue, np.mean(np.asarray(a) - np.asarray(b)), ci.low, ci.high)
        let table: [(&str, &[f64], &[f64], Expected); 2] = [
            (
                "P1 vs P2",
                &P1,
                &P2,
                (
                    4.396535512379123,
                    7.0,
                    0.003170149538191671,
                    7.15625,
                    3.307346186346089,
                    11.00515381365391,
                ),
            ),
            (
                "A[..7] vs B",
                &A[..7],
                &B,
                (
                    -10.623655556039788,
                    6.0,
                    4.097994552980117e-05,
                    -21.900000000000002,
                    -26.94415539993759,
                    -16.855844600062415,
                ),
            ),
        ];
        for (name, a, b, want) in table {
            let got = paired_t_test(a, b).unwrap();
            check_t(name, &got, want, (a.len(), b.len()));
        }
    }

    #[test]
    fn mann_whitney_matches_scipy() {
        // r = scipy.stats.mannwhitneyu(a, b, method="asymptotic", use_continuity=True,
        //                              alternative="two-sided")
        // u = r.statistic, p = r.pvalue; scipy does not return z, so the reference is
        // np.sign(r.statistic - len(a) * len(b) / 2) * scipy.stats.norm.isf(r.pvalue / 2).
        // (u, z, p_value)
        type Expected = (f64, f64, f64);
        let table: [(&str, &[f64], &[f64], Expected); 5] = [
            (
                "A vs B",
                &A,
                &B,
                (1.0, -3.269265244377587, 0.0010782717056769698),
            ),
            (
                "C vs D (ties)",
                &C,
                &D,
                (60.0, -0.6433442497822526, 0.5200007496800839),
            ),
            (
                "D vs C (ties)",
                &D,
                &C,
                (83.0, 0.6433442497822526, 0.5200007496800839),
            ),
            (
                "tiny",
                &[1.0, 2.0],
                &[3.0],
                (0.0, -0.6123724356957945, 0.5402913746074199),
            ),
            (
                "P1 vs P2",
                &P1,
                &P2,
                (40.0, 0.7876575472657555, 0.43089704373626736),
            ),
        ];
        for (name, a, b, (u, z, p)) in table {
            let got = mann_whitney_u(a, b).unwrap();
            assert_eq!(got.u, u, "{name} u");
            // z is derived from scipy's p through isf, so it is only as exact as that p.
            assert_close(got.z, z, 1e-7, &format!("{name} z"));
            assert_close(got.p_value, p, 1e-7, &format!("{name} p"));
        }
    }

    #[test]
    fn mann_whitney_p_is_one_when_u_sits_at_its_mean() {
        // U = n_a n_b / 2 exactly: scipy clips p to 1.0 and so do we.
        let got = mann_whitney_u(&[1.0, 4.0], &[2.0, 3.0]).unwrap();
        assert_eq!((got.u, got.z, got.p_value), (2.0, 0.0, 1.0));
    }

    #[test]
    fn errors() {
        use AnalysisError::*;
        let too_few = |sample, count, needed, test| TooFewValues {
            sample,
            count,
            needed,
            test,
        };
        let table: [(&str, AnalysisError, AnalysisError); 10] = [
            (
                "welch: a has one value",
                welch_t_test(&[1.0], &B).unwrap_err(),
                too_few("a", 1, 2, "a welch t-test"),
            ),
            (
                "welch: b empty",
                welch_t_test(&A, &[]).unwrap_err(),
                too_few("b", 0, 2, "a welch t-test"),
            ),
            (
                "welch: no variance",
                welch_t_test(&[2.0, 2.0], &[2.0, 2.0, 2.0]).unwrap_err(),
                ZeroVariance {
                    statistic: "t",
                    what: "both samples",
                },
            ),
            (
                "welch: NaN in b",
                welch_t_test(&A, &[1.0, f64::NAN]).unwrap_err(),
                NonFiniteInSample {
                    sample: "b",
                    index: 1,
                    value: f64::NAN,
                },
            ),
            (
                "paired: unequal lengths",
                paired_t_test(&A, &B).unwrap_err(),
                UnequalLengths { a: 10, b: 7 },
            ),
            (
                "paired: one pair",
                paired_t_test(&[1.0], &[2.0]).unwrap_err(),
                too_few("a", 1, 2, "a paired t-test"),
            ),
            (
                "paired: constant differences",
                paired_t_test(&[1.0, 2.0, 3.0], &[0.5, 1.5, 2.5]).unwrap_err(),
                ZeroVariance {
                    statistic: "t",
                    what: "the paired differences (a - b)",
                },
            ),
            (
                "mwu: a empty",
                mann_whitney_u(&[], &B).unwrap_err(),
                too_few("a", 0, 1, "a mann-whitney u test"),
            ),
            (
                "mwu: all tied",
                mann_whitney_u(&[4.0, 4.0], &[4.0]).unwrap_err(),
                ZeroVariance {
                    statistic: "z",
                    what: "the pooled values of both samples",
                },
            ),
            (
                "mwu: inf in a",
                mann_whitney_u(&[f64::INFINITY], &B).unwrap_err(),
                NonFiniteInSample {
                    sample: "a",
                    index: 0,
                    value: f64::INFINITY,
                },
            ),
        ];
        for (name, got, want) in table {
            // NaN != NaN, so compare the rendered messages (they carry every field).
            assert_eq!(got.to_string(), want.to_string(), "{name}");
        }

        let messages = [
            (
                paired_t_test(&A, &B).unwrap_err(),
                "a paired t-test needs samples of equal length, got a = 10 and b = 7 values; \
                 pair each run of a with one run of b, or use the welch t-test",
            ),
            (
                welch_t_test(&[1.0], &B).unwrap_err(),
                "sample a has 1 value(s) but a welch t-test needs at least 2 per sample; \
                 collect more runs",
            ),
            (
                welch_t_test(&[2.0, 2.0], &[2.0, 2.0]).unwrap_err(),
                "t is undefined because both samples have zero variance (all identical); \
                 check the metric, or compare the values directly",
            ),
        ];
        for (err, want) in messages {
            assert_eq!(err.to_string(), want);
            assert!(!err.to_string().contains('\n'));
        }
    }
}
