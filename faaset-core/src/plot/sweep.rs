//! The memory sweep chart: mean duration and cost per call against memory.

use super::*;

pub(super) fn draw_memory_sweep<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    points: &[SweepPoint],
    title: &str,
) -> Result<(), PlotError> {
    let n = points.len();
    let labels: Vec<String> = points.iter().map(|p| fmt_num(p.memory_mb)).collect();

    let max_duration = points
        .iter()
        .map(|p| p.mean_duration_ms)
        .fold(0.0, f64::max);
    let (_, dur_hi) = padded(0.0, max_duration.max(0.0), 0.1);
    let min_duration = points
        .iter()
        .map(|p| p.mean_duration_ms)
        .fold(0.0, f64::min);

    let costs: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.mean_cost_usd.is_finite())
        .map(|(i, p)| (i as f64, p.mean_cost_usd))
        .collect();
    let max_cost = costs.iter().map(|c| c.1).fold(0.0, f64::max);
    // Show costs as multiples of a power of ten so that tick labels stay short.
    let exponent = if max_cost > 0.0 && max_cost < 0.01 {
        max_cost.log10().floor() as i32
    } else {
        0
    };
    let cost_scale = 10f64.powi(-exponent);
    let cost_hi = if max_cost > 0.0 {
        max_cost * cost_scale * 1.1
    } else {
        1.0
    };
    let cost_desc = if exponent == 0 {
        "mean cost per call (USD)".to_string()
    } else {
        format!("mean cost per call (USD ×10{})", superscript(exponent))
    };

    let mut chart = titled(root, title)
        .x_label_area_size(50)
        .y_label_area_size(75)
        .right_y_label_area_size(80)
        .build_cartesian_2d(Categories(n), min_duration..dur_hi)
        .map_err(render_err)?
        .set_secondary_coord(Categories(n), 0.0..cost_hi);
    house_style(
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("memory (MB)")
            .y_desc("mean duration (ms)")
            .x_label_formatter(&|x| category(&labels, *x))
            .y_label_formatter(&tick_formatter(&(min_duration..dur_hi), 10)),
    )
    .draw()
    .map_err(render_err)?;
    chart
        .configure_secondary_axes()
        .y_desc(cost_desc)
        .y_label_formatter(&tick_formatter(&(0.0..cost_hi), 10))
        .label_style((FONT, TICK_PX))
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .draw()
        .map_err(render_err)?;

    let duration: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, p)| (i as f64, p.mean_duration_ms))
        .collect();
    let dur_style = WARM.stroke_width(2);
    chart
        .draw_series(LineSeries::new(duration.clone(), dur_style))
        .map_err(render_err)?
        .label("mean duration (ms, left)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], dur_style));
    chart
        .draw_series(duration.iter().map(|&p| Circle::new(p, 4, WARM.filled())))
        .map_err(render_err)?;

    let cost_style = COLD.stroke_width(2);
    let scaled: Vec<(f64, f64)> = costs.iter().map(|&(x, c)| (x, c * cost_scale)).collect();
    chart
        .draw_secondary_series(LineSeries::new(scaled.clone(), cost_style))
        .map_err(render_err)?
        .label("mean cost per call (right)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], cost_style));
    chart
        .draw_secondary_series(
            scaled
                .iter()
                .map(|&p| TriangleMarker::new(p, 6, COLD.filled())),
        )
        .map_err(render_err)?;
    legend_box(&mut chart, SeriesLabelPosition::UpperMiddle)
}
