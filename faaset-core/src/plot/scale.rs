//! What every chart shares: sorted finite values, quantiles, padded ranges, tick labels,
//! category axes, shortened names.

use super::*;
use plotters::chart::MeshStyle;

pub(super) fn finite_sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Linear-interpolation quantile (R type 7, numpy's default) of sorted, non-empty data.
pub(super) fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Refuses values a chart axis cannot span: plotters' tick search never ends when the
/// range (or its padding) overflows `f64` (e.g. -1e308 and 1e308, both finite).
pub(super) fn drawable(values: &[f64]) -> Result<(), PlotError> {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty()
        || ((hi - lo) * 4.0).is_finite() && (lo.abs().max(hi.abs()) * 4.0).is_finite()
    {
        return Ok(());
    }
    Err(PlotError::InvalidInput(format!(
        "the values run from {lo:e} to {hi:e}, a range no chart axis can span; leave out the extreme rows (or plot another column)"
    )))
}

pub(super) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// `[lo, hi]` widened by `fraction` of its span on both sides (or by 1 / 5 % of the
/// value when the span is zero).
pub(super) fn padded(lo: f64, hi: f64, fraction: f64) -> (f64, f64) {
    let span = hi - lo;
    if span > 0.0 {
        (lo - span * fraction, hi + span * fraction)
    } else {
        let pad = if lo != 0.0 { lo.abs() * 0.05 } else { 1.0 };
        (lo - pad, hi + pad)
    }
}

/// Formatter for the ticks of a numeric axis over `range` with at most `max_ticks`
/// labels: as many decimals as the tick step (the 1-2-5 step plotters picks) needs,
/// scientific notation for very large or very small magnitudes.
pub(super) fn tick_formatter(range: &Range<f64>, max_ticks: usize) -> impl Fn(&f64) -> String {
    let span = (range.end - range.start).abs();
    let magnitude = range.start.abs().max(range.end.abs());
    let rough = span / max_ticks.max(1) as f64;
    let step = if rough > 0.0 {
        let power = 10f64.powf(rough.log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * power)
            .find(|s| *s >= rough * (1.0 - 1e-9))
            .unwrap_or(power * 10.0)
    } else {
        1.0
    };
    let scientific = magnitude >= 1e6 || (magnitude > 0.0 && magnitude < 1e-3);
    let decimals = (-step.log10().floor()).clamp(0.0, 9.0) as usize;
    move |v: &f64| {
        if v.abs() < step * 1e-6 {
            "0".to_string()
        } else if scientific {
            format!("{v:.1e}")
        } else {
            format!("{v:.decimals$}")
        }
    }
}

/// Integer ticks only (blank for fractional positions of a float axis).
pub(super) fn integer_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        String::new()
    }
}

/// Tick/legend number: few digits, no float noise.
pub(super) fn fmt_num(v: f64) -> String {
    let a = v.abs();
    let s = if a == 0.0 {
        return "0".into();
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A categorical axis of `n` slots: category `i` is centred at `i as f64`, the axis
/// runs from -0.5 to n - 0.5 and has a tick at every centre.
#[derive(Debug, Clone, Copy)]
pub(super) struct Categories(pub(super) usize);

impl Ranged for Categories {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let Range { start, end } = self.range();
        let fraction = (value - start) / (end - start);
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            (0..self.0).map(|i| i as f64).collect()
        }
    }

    fn range(&self) -> Range<f64> {
        -0.5..(self.0 as f64 - 0.5)
    }
}

/// Label of the category at axis position `x` (integers are category centres).
pub(super) fn category(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

/// `name` cut to `max_chars` with an ellipsis in the middle, so that both a common
/// prefix and a distinguishing suffix (`exp-128MB`, `exp-256MB`) stay visible.
pub(super) fn shorten(name: &str, max_chars: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= max_chars {
        return name.to_string();
    }
    let keep = max_chars.saturating_sub(1);
    let tail = keep / 2;
    let head = keep - tail;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

pub(super) fn superscript(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

/// Every chart's grid and labels: the same fonts, a light grid, no minor lines.
pub(super) fn house_style<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.label_style((FONT, TICK_PX))
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
}

/// A chart on `area` with the title and the margins of every single-panel chart.
pub(super) fn titled<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, title_style())
        .margin(15)
        .margin_right(30);
    builder
}
