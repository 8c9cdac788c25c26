//! The invocation timeline: one bar per call, and the calls in flight below it.

use super::*;

pub(super) fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    calls: &[Invocation],
    title: &str,
) -> Result<(), PlotError> {
    let t0 = calls[0].start_ms;
    let t_end = calls.iter().map(|c| c.end_ms).fold(t0, f64::max);
    let span_ms = t_end - t0;
    let (scale, unit) = if span_ms >= 10_000.0 {
        (1000.0, "s")
    } else {
        (1.0, "ms")
    };
    let to_x = |t: f64| (t - t0) / scale;
    let x_hi = if span_ms > 0.0 {
        to_x(t_end) * 1.02
    } else {
        1.0
    };
    let min_width = x_hi * 0.002;
    let n = calls.len();

    let (_, height) = root.dim_in_pixel();
    let (top, bottom) = root.split_vertically((height as f64 * 0.72) as u32);
    let y_label_width = 75;
    let right_margin = 30;

    // Upper panel: one bar per call.
    let mut chart = ChartBuilder::on(&top)
        .caption(title, title_style())
        .margin_top(15)
        .margin_left(15)
        .margin_right(right_margin)
        .x_label_area_size(0)
        .y_label_area_size(y_label_width)
        .build_cartesian_2d(0.0..x_hi, 0.0..n as f64)
        .map_err(render_err)?;
    house_style(
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_desc("call (by start)")
            .y_labels((n + 1).min(10))
            .y_label_formatter(&integer_label),
    )
    .draw()
    .map_err(render_err)?;
    let gap = if n > 150 { 0.0 } else { 0.15 };
    let color_of = |c: &Invocation| match (c.error, c.cold) {
        (true, _) => FAILED,
        (false, true) => COLD,
        (false, false) => WARM,
    };
    // Warm calls first, then cold starts, then errors, so that the rarer kinds stay
    // visible where bars overlap.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (calls[i].error, calls[i].cold));
    chart
        .draw_series(order.into_iter().map(|i| {
            let c = &calls[i];
            let (xs, xe) = (
                to_x(c.start_ms),
                to_x(c.end_ms).max(to_x(c.start_ms) + min_width),
            );
            let y = i as f64;
            Rectangle::new([(xs, y + gap), (xe, y + 1.0 - gap)], color_of(c).filled())
        }))
        .map_err(render_err)?;
    let mut threads: Vec<u32> = calls.iter().map(|c| c.thread).collect();
    threads.sort_unstable();
    threads.dedup();
    chart
        .draw_series(std::iter::empty::<EmptyElement<(f64, f64), DB>>())
        .map_err(render_err)?
        .label(format!(
            "{n} call{}, {} thread{}",
            plural(n),
            threads.len(),
            plural(threads.len())
        ))
        .legend(|(x, y)| EmptyElement::at((x, y)));
    let kinds = [
        (
            "warm",
            WARM,
            calls.iter().filter(|c| !c.error && !c.cold).count(),
        ),
        (
            "cold start",
            COLD,
            calls.iter().filter(|c| !c.error && c.cold).count(),
        ),
        ("error", FAILED, calls.iter().filter(|c| c.error).count()),
    ];
    for (name, color, count) in kinds {
        if count == 0 {
            continue;
        }
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
            .map_err(render_err)?
            .label(format!("{name} ({count})"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.filled()));
    }
    legend_box(&mut chart, SeriesLabelPosition::UpperLeft)?;

    // Lower panel: calls in flight over time (ends before starts at equal times).
    let mut events: Vec<(f64, i32)> = calls
        .iter()
        .flat_map(|c| [(to_x(c.start_ms), 1), (to_x(c.end_ms), -1)])
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut level = 0i32;
    let mut max_level = 0i32;
    let mut outline = vec![(0.0, 0.0)];
    for (t, delta) in events {
        outline.push((t, level as f64));
        level += delta;
        max_level = max_level.max(level);
        outline.push((t, level as f64));
    }
    outline.push((x_hi, 0.0));
    let y_top = max_level as f64 * 1.15 + 0.5;

    let mut lower = ChartBuilder::on(&bottom)
        .margin_top(8)
        .margin_left(15)
        .margin_right(right_margin)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(y_label_width)
        .build_cartesian_2d(0.0..x_hi, 0.0..y_top)
        .map_err(render_err)?;
    house_style(
        lower
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(4)
            .x_desc(format!("wall time since first call ({unit})"))
            .y_desc("in flight")
            .x_label_formatter(&tick_formatter(&(0.0..x_hi), 10))
            .y_label_formatter(&integer_label),
    )
    .draw()
    .map_err(render_err)?;
    lower
        .draw_series(std::iter::once(Polygon::new(
            outline.clone(),
            WARM.mix(0.25).filled(),
        )))
        .map_err(render_err)?;
    lower
        .draw_series(LineSeries::new(outline, WARM.stroke_width(1)))
        .map_err(render_err)?;
    Ok(())
}
