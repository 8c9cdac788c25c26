//! Effect sizes: how large a difference is, beside a test's p that only says whether there is
//! one (with 10,000 calls per side a 0.1% difference is "significant").
//!
//! - [`cohens_d`]: (mean a − mean b) / pooled sample standard deviation, beside Welch's t-test
//!   (Cohen 1988, eq. 2.5.2, pooled with n − 1 weights); [`cohens_dz`]: mean of the paired
//!   differences / their standard deviation, beside the paired t-test (Cohen's d_z).
//!   Magnitudes: |d| < 0.2 negligible, < 0.5 small, < 0.8 medium, else large (Cohen 1988).
//! - [`cliffs_delta`]: P(a > b) − P(a < b) over all pairs, beside Mann–Whitney U
//!   (δ = 2U / (n_a n_b) − 1); in [−1, 1], distribution free. Magnitudes: |δ| < 0.147
//!   negligible, < 0.33 small, < 0.474 medium, else large (Romano et al. 2006).
//!
//! Positive when a is larger. Inputs are finite and non-empty (the tests check them first).

use serde::Serialize;

use super::{mean, sample_variance};

/// An effect size and the word for its magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Effect {
    pub value: f64,
    /// negligible, small, medium or large.
    pub magnitude: &'static str,
}

/// Cohen's d with the pooled standard deviation; NaN when both samples have no spread (or
/// fewer than 3 values in all).
pub fn cohens_d(a: &[f64], b: &[f64]) -> Effect {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (ma, mb) = (mean(a), mean(b));
    let pooled = if a.len() + b.len() > 2 {
        let ss = |v: &[f64], m: f64| {
            if v.len() > 1 {
                sample_variance(v, m) * (v.len() - 1) as f64
            } else {
                0.0
            }
        };
        ((ss(a, ma) + ss(b, mb)) / (na + nb - 2.0)).sqrt()
    } else {
        f64::NAN
    };
    d_effect((ma - mb) / pooled)
}

/// Cohen's d_z of paired samples: mean(a − b) / sd(a − b); NaN when the differences do not
/// vary. `a` and `b` have equal lengths.
pub fn cohens_dz(a: &[f64], b: &[f64]) -> Effect {
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let m = mean(&diffs);
    let sd = if diffs.len() > 1 {
        sample_variance(&diffs, m).sqrt()
    } else {
        f64::NAN
    };
    d_effect(m / sd)
}

/// Cliff's delta: (#(a > b) − #(a < b)) / (n_a n_b), counted in O((n_a + n_b) log n_b).
pub fn cliffs_delta(a: &[f64], b: &[f64]) -> Effect {
    let mut sorted = b.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut balance: i128 = 0;
    for &x in a {
        let below = sorted.partition_point(|&y| y < x) as i128;
        let above = (sorted.len() - sorted.partition_point(|&y| y <= x)) as i128;
        balance += below - above;
    }
    let value = balance as f64 / (a.len() as f64 * b.len() as f64);
    let size = value.abs();
    Effect {
        value,
        magnitude: if size < 0.147 {
            "negligible"
        } else if size < 0.33 {
            "small"
        } else if size < 0.474 {
            "medium"
        } else {
            "large"
        },
    }
}

fn d_effect(value: f64) -> Effect {
    let size = value.abs();
    Effect {
        value,
        magnitude: if !size.is_finite() {
            "undefined"
        } else if size < 0.2 {
            "negligible"
        } else if size < 0.5 {
            "small"
        } else if size < 0.8 {
            "medium"
        } else {
            "large"
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, y: f64) -> bool {
        (x - y).abs() < 1e-12
    }

    #[test]
    fn cohens_d_by_hand() {
        // Means 3 and 5, both variances 2.5: pooled sd √2.5, d = −2 / √2.5.
        let d = cohens_d(&[1.0, 2.0, 3.0, 4.0, 5.0], &[3.0, 4.0, 5.0, 6.0, 7.0]);
        assert!(close(d.value, -2.0 / 2.5f64.sqrt()), "{d:?}");
        assert_eq!(d.magnitude, "large");
        // Unequal sizes: a = [2, 4] (ss 2), b = [1, 2, 3, 4, 5] (ss 10): pooled √(12/5);
        // means 3 and 3 → 0.
        let d = cohens_d(&[2.0, 4.0], &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!(close(d.value, 0.0) && d.magnitude == "negligible");
        // a = [1, 3] (mean 2, ss 2), b = [0, 0, 3] (mean 1, ss 6): (2 − 1) / √(8/3).
        let d = cohens_d(&[1.0, 3.0], &[0.0, 0.0, 3.0]);
        assert!(close(d.value, 1.0 / (8.0f64 / 3.0).sqrt()), "{d:?}");
        assert_eq!(d.magnitude, "medium");
        assert!(cohens_d(&[1.0, 1.0], &[1.0, 1.0]).value.is_nan());
    }

    #[test]
    fn cohens_dz_by_hand() {
        // Differences 1, 2, 3: mean 2, sd 1 → d_z = 2.
        let d = cohens_dz(&[2.0, 4.0, 6.0], &[1.0, 2.0, 3.0]);
        assert!(close(d.value, 2.0) && d.magnitude == "large");
        // Differences −1, 0, 1, 2: mean 0.5, sd √(5/3) → 0.387, "small".
        let d = cohens_dz(&[0.0, 1.0, 2.0, 3.0], &[1.0, 1.0, 1.0, 1.0]);
        assert!(close(d.value, 0.5 / (5.0f64 / 3.0).sqrt()) && d.magnitude == "small");
    }

    #[test]
    fn cliffs_delta_by_hand() {
        assert_eq!(cliffs_delta(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).value, -1.0);
        assert_eq!(cliffs_delta(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]).value, 1.0);
        assert_eq!(cliffs_delta(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).value, 0.0);
        // Pairs of [3, 4, 5] with [1, 2, 3]: 8 greater, 1 tie (3 = 3), 0 less → 8/9.
        let d = cliffs_delta(&[3.0, 4.0, 5.0], &[1.0, 2.0, 3.0]);
        assert!(close(d.value, 8.0 / 9.0) && d.magnitude == "large");
        // [1, 2, 3, 4] vs [2, 3]: greater (3>2, 4>2, 4>3) 3, less (1<2, 1<3, 2<3) 3 → 0;
        // [1, 5] vs [2, 3, 4]: greater 3, less 3 → 0; [2, 5] vs [1, 3, 4, 6]: greater
        // (2>1, 5>1, 5>3, 5>4) 4, less (2<3, 2<4, 2<6, 5<6) 4 → 0; [3] vs [1, 2, 4, 5, 6]:
        // 2 − 3 = −1 of 5 → −0.2, "small".
        assert_eq!(cliffs_delta(&[1.0, 2.0, 3.0, 4.0], &[2.0, 3.0]).value, 0.0);
        let d = cliffs_delta(&[3.0], &[1.0, 2.0, 4.0, 5.0, 6.0]);
        assert!(close(d.value, -0.2) && d.magnitude == "small");
    }

    #[test]
    fn cliffs_delta_is_two_u_over_pairs_minus_one() {
        // The same ranks Mann–Whitney counts: δ = 2U/(n_a n_b) − 1, on values with ties.
        let a = [1.5, 2.0, 2.0, 3.5, 7.0, 7.0, 9.0];
        let b = [2.0, 3.0, 3.5, 4.0, 8.0];
        let u = super::super::mann_whitney_u(&a, &b).unwrap().u;
        let expected = 2.0 * u / (a.len() * b.len()) as f64 - 1.0;
        assert!(close(cliffs_delta(&a, &b).value, expected));
    }
}
