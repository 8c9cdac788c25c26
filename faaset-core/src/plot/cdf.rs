//! The empirical CDF of one or several series, thinned to a drawable number of steps.

use super::*;

pub(super) fn draw_cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[(String, Vec<f64>)],
    title: &str,
    x_label: &str,
) -> Result<(), PlotError> {
    let lo = series
        .iter()
        .map(|(_, v)| v[0])
        .fold(f64::INFINITY, f64::min);
    let hi = series
        .iter()
        .map(|(_, v)| v[v.len() - 1])
        .fold(f64::NEG_INFINITY, f64::max);
    let (x_lo, x_hi) = padded(lo, hi, 0.03);
    let x_fmt = tick_formatter(&(x_lo..x_hi), 10);

    let mut chart = titled(root, title)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x_lo..x_hi, 0.0..1.02)
        .map_err(render_err)?;
    house_style(
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("fraction ≤ x")
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|v| format!("{v:.1}")),
    )
    .draw()
    .map_err(render_err)?;

    for (i, (name, values)) in series.iter().enumerate() {
        let style = PALETTE[i % PALETTE.len()].stroke_width(2);
        let steps = cdf_steps(values, x_lo, x_hi);
        let label = if name.is_empty() {
            format!("n = {}", values.len())
        } else {
            format!("{name} (n = {})", values.len())
        };
        chart
            .draw_series(LineSeries::new(steps, style))
            .map_err(render_err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    legend_box(&mut chart, SeriesLabelPosition::LowerRight)
}

/// Most points drawn per CDF series; larger series are drawn at evenly spaced ranks
/// (exact at those ranks; far below what a chart can resolve anyway).
pub(super) const MAX_CDF_POINTS: usize = 2000;

/// Outline of the empirical CDF of sorted `values` as a step line from `(x_lo, 0)` to
/// `(x_hi, 1)`.
pub(super) fn cdf_steps(values: &[f64], x_lo: f64, x_hi: f64) -> Vec<(f64, f64)> {
    let len = values.len();
    let n = len as f64;
    let stride = len.div_ceil(MAX_CDF_POINTS).max(1);
    let mut ranks: Vec<usize> = (0..len).step_by(stride).collect();
    if ranks.last() != Some(&(len - 1)) {
        ranks.push(len - 1);
    }
    let mut steps = Vec::with_capacity(ranks.len() * 2 + 2);
    steps.push((x_lo, 0.0));
    let mut below = 0.0;
    for k in ranks {
        let v = values[k];
        let at = (k + 1) as f64 / n;
        steps.push((v, below));
        steps.push((v, at));
        below = at;
    }
    steps.push((x_hi, 1.0));
    steps
}
