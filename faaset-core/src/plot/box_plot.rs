//! The box plot: quartiles, median, whiskers at 1.5 IQR, outliers.

use super::*;

pub(super) struct BoxStats {
    pub(super) q1: f64,
    pub(super) median: f64,
    pub(super) q3: f64,
    pub(super) whisker_lo: f64,
    pub(super) whisker_hi: f64,
    pub(super) outliers: Vec<f64>,
}

pub(super) struct BoxGroup {
    pub(super) name: String,
    pub(super) stats: Option<BoxStats>,
}

impl BoxGroup {
    pub(super) fn new(name: &str, sorted: Vec<f64>) -> Self {
        let stats = (!sorted.is_empty()).then(|| {
            let q1 = quantile(&sorted, 0.25);
            let q3 = quantile(&sorted, 0.75);
            let iqr = q3 - q1;
            let (lo_fence, hi_fence) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
            let inside = || {
                sorted
                    .iter()
                    .copied()
                    .filter(|v| (lo_fence..=hi_fence).contains(v))
            };
            BoxStats {
                q1,
                median: quantile(&sorted, 0.5),
                q3,
                whisker_lo: inside().next().unwrap_or(q1).min(q1),
                whisker_hi: inside().next_back().unwrap_or(q3).max(q3),
                outliers: sorted
                    .iter()
                    .copied()
                    .filter(|v| !(lo_fence..=hi_fence).contains(v))
                    .collect(),
            }
        });
        Self {
            name: name.to_string(),
            stats,
        }
    }
}

pub(super) fn draw_box_plot<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    groups: &[BoxGroup],
    title: &str,
    y_label: &str,
) -> Result<(), PlotError> {
    let n = groups.len();
    let (lo, hi) = groups
        .iter()
        .filter_map(|g| g.stats.as_ref())
        .flat_map(|s| {
            let outliers = s.outliers.iter().copied();
            [s.whisker_lo, s.whisker_hi].into_iter().chain(outliers)
        })
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (y_lo, y_hi) = padded(lo, hi, 0.06);
    let y_fmt = tick_formatter(&(y_lo..y_hi), 10);

    // Shorten names that would not fit under their box (DejaVu Sans averages ~0.6 em).
    let plot_px = root.dim_in_pixel().0.saturating_sub(100) as f64;
    let max_chars = ((plot_px / n as f64) / (TICK_PX as f64 * 0.6) - 1.0)
        .floor()
        .max(4.0) as usize;
    let names: Vec<String> = groups.iter().map(|g| shorten(&g.name, max_chars)).collect();

    let mut chart = titled(root, title)
        .x_label_area_size(40)
        .y_label_area_size(75)
        .build_cartesian_2d(Categories(n), y_lo..y_hi)
        .map_err(render_err)?;
    house_style(
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(y_label)
            .x_label_formatter(&|x| category(&names, *x))
            .y_label_formatter(&y_fmt),
    )
    .draw()
    .map_err(render_err)?;

    let half = 0.3;
    for (i, group) in groups.iter().enumerate() {
        let Some(s) = &group.stats else { continue };
        let x = i as f64;
        let color = PALETTE[i % PALETTE.len()];
        let line = color.stroke_width(2);
        let area = chart.plotting_area();
        let whiskers = [
            PathElement::new(vec![(x, s.q3), (x, s.whisker_hi)], line),
            PathElement::new(vec![(x, s.q1), (x, s.whisker_lo)], line),
            PathElement::new(
                vec![
                    (x - half / 2.0, s.whisker_hi),
                    (x + half / 2.0, s.whisker_hi),
                ],
                line,
            ),
            PathElement::new(
                vec![
                    (x - half / 2.0, s.whisker_lo),
                    (x + half / 2.0, s.whisker_lo),
                ],
                line,
            ),
        ];
        for w in whiskers {
            area.draw(&w).map_err(render_err)?;
        }
        area.draw(&Rectangle::new(
            [(x - half, s.q1), (x + half, s.q3)],
            color.mix(0.3).filled(),
        ))
        .map_err(render_err)?;
        area.draw(&Rectangle::new([(x - half, s.q1), (x + half, s.q3)], line))
            .map_err(render_err)?;
        area.draw(&PathElement::new(
            vec![(x - half, s.median), (x + half, s.median)],
            DARK.stroke_width(3),
        ))
        .map_err(render_err)?;
        for &o in &s.outliers {
            area.draw(&Circle::new((x, o), 3, color.stroke_width(1)))
                .map_err(render_err)?;
        }
    }
    Ok(())
}
