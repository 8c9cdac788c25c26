//! The histogram: Freedman–Diaconis bins, mean and median marked.

use super::*;

pub(super) struct HistogramSpec<'a> {
    pub(super) title: &'a str,
    pub(super) x_label: &'a str,
    pub(super) n: usize,
    pub(super) mean: f64,
    pub(super) median: f64,
    /// Left edge of the first bin and the bin width.
    pub(super) start: f64,
    pub(super) width: f64,
    pub(super) counts: Vec<u32>,
}

impl<'a> HistogramSpec<'a> {
    pub(super) fn new(sorted: Vec<f64>, title: &'a str, x_label: &'a str) -> Self {
        let n = sorted.len();
        let (min, max) = (sorted[0], sorted[n - 1]);
        let bins = bin_count(&sorted);
        let (start, width) = if max > min {
            (min, (max - min) / bins as f64)
        } else {
            let w = if min != 0.0 { min.abs() * 0.05 } else { 1.0 };
            (min - w / 2.0, w)
        };
        let mut counts = vec![0u32; bins];
        for &v in &sorted {
            let i = (((v - start) / width).floor() as usize).min(bins - 1);
            counts[i] += 1;
        }
        Self {
            title,
            x_label,
            n,
            mean: mean(&sorted),
            median: quantile(&sorted, 0.5),
            start,
            width,
            counts,
        }
    }
}

/// Freedman–Diaconis bin count; square-root rule if the IQR is zero; 1..=100.
pub(super) fn bin_count(sorted: &[f64]) -> usize {
    let n = sorted.len();
    let range = sorted[n - 1] - sorted[0];
    if range <= 0.0 {
        return 1;
    }
    let iqr = quantile(sorted, 0.75) - quantile(sorted, 0.25);
    let bins = if iqr > 0.0 {
        let width = 2.0 * iqr / (n as f64).cbrt();
        (range / width).ceil()
    } else {
        (n as f64).sqrt().ceil()
    };
    (bins as usize).clamp(1, 100)
}

pub(super) fn draw_histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    h: &HistogramSpec<'_>,
) -> Result<(), PlotError> {
    let bins = h.counts.len();
    let end = h.start + h.width * bins as f64;
    let pad = (end - h.start) * 0.02;
    let max_count = h.counts.iter().copied().max().unwrap_or(1).max(1);
    // Headroom for the legend, which goes to the side with the lower bars.
    let y_top = (f64::from(max_count) * 1.3).ceil() as u32;
    let half = bins / 2;
    let left_max = h.counts[..half].iter().copied().max().unwrap_or(0);
    let right_max = h.counts[bins - half..].iter().copied().max().unwrap_or(0);
    let legend_at = if right_max > left_max {
        SeriesLabelPosition::UpperLeft
    } else {
        SeriesLabelPosition::UpperRight
    };
    let x_range = (h.start - pad)..(end + pad);
    let x_fmt = tick_formatter(&x_range, 10);

    let mut chart = titled(root, h.title)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, 0u32..y_top)
        .map_err(render_err)?;
    house_style(
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(h.x_label)
            .y_desc("count")
            .x_label_formatter(&x_fmt),
    )
    .draw()
    .map_err(render_err)?;

    let fill = WARM.mix(0.75).filled();
    let border = WARM.stroke_width(1);
    chart
        .draw_series(
            h.counts
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .flat_map(|(i, &c)| {
                    let lo = h.start + h.width * i as f64;
                    let hi = lo + h.width;
                    [
                        Rectangle::new([(lo, 0), (hi, c)], fill),
                        Rectangle::new([(lo, 0), (hi, c)], border),
                    ]
                }),
        )
        .map_err(render_err)?;

    chart
        .draw_series(std::iter::empty::<EmptyElement<(f64, u32), DB>>())
        .map_err(render_err)?
        .label(format!("n = {}", h.n))
        .legend(|(x, y)| EmptyElement::at((x, y)));
    for (value, name, color) in [(h.mean, "mean", FAILED), (h.median, "median", DARK)] {
        let style = color.stroke_width(2);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(value, 0), (value, y_top)],
                style,
            )))
            .map_err(render_err)?
            .label(format!("{name} = {}", fmt_num(value)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    legend_box(&mut chart, legend_at)
}
