//! What a sample's size allows: warnings when it is too small for the claim a number makes,
//! and how many calls an interval of a chosen width needs.
//!
//! - A tail percentile p of n calls is an interpolation between the largest values until
//!   n (1 − p/100) ≥ 1: a p99 of 30 calls is about their maximum, not a 99th percentile. It
//!   needs ⌈100/(100 − p)⌉ calls to have one call beyond it (p99: 100), ten times that for ten.
//! - Percentile-bootstrap intervals cover less than their 95% below about 20 values.
//! - The t-tests' p-values rest on means being about normal: with skewed runtimes and fewer
//!   than ~30 calls a side, Mann–Whitney and Cliff's delta are the safer reading; Mann–Whitney's
//!   normal approximation itself is rough below 8 a side (scipy computes it exactly there).
//! - Interval widths shrink as 1/√n (mean and percentiles alike, for large n), so an
//!   interval of width w from n calls becomes width t with about n (w/t)² calls.

/// Calls needed for `p`'s percentile to have at least one call above it.
pub fn calls_for_percentile(p: f64) -> usize {
    (100.0 / (100.0 - p)).ceil() as usize
}

/// Warnings for statistics (p95, p99, bootstrap intervals) of `n` values.
pub fn summary_warnings(n: usize) -> Vec<String> {
    let mut warnings = Vec::new();
    let tails: Vec<String> = [95.0, 99.0]
        .into_iter()
        .filter(|&p| n < calls_for_percentile(p))
        .map(|p| format!("p{p} needs ≥ {}", calls_for_percentile(p)))
        .collect();
    if !tails.is_empty() {
        warnings.push(format!(
            "{n} call{} too few for the tail: {} calls to have one call beyond it (10× that for a stable value), so here it is about the maximum",
            if n == 1 { " is" } else { "s are" },
            tails.join(", ")
        ));
    }
    if n < 20 {
        warnings.push(format!(
            "with {n} call{} the 95% bootstrap intervals are too narrow (percentile intervals undercover below ~20 values); collect more calls",
            if n == 1 { "" } else { "s" }
        ));
    }
    warnings
}

/// Warnings for a two-sample comparison of `n_a` and `n_b` values.
pub fn test_warnings(n_a: usize, n_b: usize) -> Vec<String> {
    let n = n_a.min(n_b);
    let mut warnings = Vec::new();
    if n < 30 {
        warnings.push(format!(
            "{n} calls on the smaller side: the t-test's p assumes roughly normal means, which skewed runtimes reach only with more calls (~30+ a side); read Mann–Whitney and Cliff's delta too"
        ));
    }
    if n < 8 {
        warnings.push(
            "Mann–Whitney's p is a normal approximation, rough below 8 calls a side".to_string(),
        );
    }
    warnings.extend(summary_warnings(n).into_iter().skip(1)); // the bootstrap one
    warnings
}

/// Calls for an interval of `target` width, from one of `width` measured with `n` calls
/// (at least the `floor` a statistic needs, e.g. [`calls_for_percentile`]); `None` when it
/// cannot be said (a zero-width interval, a target that is not a positive number).
pub fn calls_for_width(n: usize, width: f64, target: f64, floor: usize) -> Option<usize> {
    if !(target.is_finite() && target > 0.0 && width.is_finite() && width > 0.0) {
        return None;
    }
    let needed = (n as f64 * (width / target).powi(2)).ceil();
    (needed < 1e15).then(|| (needed as usize).max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_need_enough_calls() {
        assert_eq!(calls_for_percentile(99.0), 100);
        assert_eq!(calls_for_percentile(95.0), 20);
        let w = summary_warnings(30);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("p99 needs ≥ 100") && !w[0].contains("p95"),
            "{w:?}"
        );
        let w = summary_warnings(10);
        assert!(w[0].contains("p95 needs ≥ 20, p99 needs ≥ 100"), "{w:?}");
        assert!(w[1].contains("bootstrap intervals are too narrow"));
        assert!(summary_warnings(100).is_empty());
        assert!(test_warnings(200, 500).is_empty());
        assert_eq!(test_warnings(5, 500).len(), 3);
        assert_eq!(test_warnings(25, 500).len(), 1);
    }

    #[test]
    fn width_shrinks_as_one_over_root_n() {
        // Half the width: four times the calls.
        assert_eq!(calls_for_width(100, 2.0, 1.0, 1), Some(400));
        // Already narrower than asked: the floor, or as many as needed.
        assert_eq!(calls_for_width(1000, 0.5, 1.0, 100), Some(250));
        assert_eq!(calls_for_width(1000, 0.1, 1.0, 100), Some(100));
        assert_eq!(calls_for_width(10, 0.0, 1.0, 1), None);
        assert_eq!(calls_for_width(10, 1.0, -1.0, 1), None);
    }
}
