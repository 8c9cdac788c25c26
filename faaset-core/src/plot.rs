//! Charts for FaaS experiment results, rendered to SVG or PNG bytes.
//!
//! What it does: turns plain data (slices of numbers, labelled groups, per-call
//! timings, memory-sweep means) into a finished chart image, as pure functions:
//!
//! * [`histogram`] — distribution of one metric (Freedman–Diaconis bins, square-root
//!   rule when the IQR is zero), with mean and median marked;
//! * [`box_plot`] — one box per group (quartiles, median line, whiskers at 1.5 IQR,
//!   outliers as points);
//! * [`cdf`] — empirical CDF of one or several series, to compare experiments;
//! * [`timeline`] — one horizontal bar per invocation from start to end over wall
//!   time, cold starts and errors in their own colours, with the number of calls in
//!   flight drawn underneath so that concurrency is visible;
//! * [`memory_sweep`] — mean duration (left axis) and mean cost per call (right axis)
//!   against the memory setting.
//!
//! Every chart is available as SVG (text; fonts referenced by the generic family name
//! `sans-serif`) and as PNG (8-bit RGB; text rasterised with an embedded copy of DejaVu
//! Sans, so it needs no system fonts). Choose with [`Options`] (or just pass a
//! [`Format`]); the result is an [`Image`] carrying its bytes and MIME type.
//!
//! ```no_run
//! use faaset::plot::{self, Format, Options};
//! let runtimes = [112.0, 98.5, 130.2, 101.7];
//! let svg = plot::histogram(&runtimes, "hello_world", "runtime (ms)", Format::Svg)?;
//! let png = plot::cdf(&[("128 MB", runtimes.to_vec())], "CDF", "runtime (ms)",
//!                     Options::png().size(1200, 700))?;
//! png.save("cdf.png")?;
//! # Ok::<(), plot::PlotError>(())
//! ```
//!
//! What it does not do: no file I/O apart from the small [`save`] helper, no display
//! logic (showing the bytes in a notebook or terminal is the caller's job), no reading
//! of experiment files and no statistics beyond what a chart itself draws. Non-finite
//! values (NaN, ±∞) are ignored; input with nothing finite left is a
//! [`PlotError::Empty`] error ("nothing to plot: …").

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use crate::words::plural;
use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{register_font, FontStyle};
use plotters_backend::{BackendColor, BackendCoord, BackendTextStyle, DrawingErrorKind};

/// Family name under which the embedded font is registered; also the family that SVG
/// output asks the viewer for.
const FONT: &str = "sans-serif";
/// DejaVu Sans 2.37 (Bitstream Vera license, see `assets/DejaVuSans-LICENSE.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

const TITLE_PX: u32 = 22;
const AXIS_DESC_PX: u32 = 16;
const TICK_PX: u32 = 14;
const LEGEND_PX: u32 = 14;

/// Categorical colours (the widely used "tab10" set).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const WARM: RGBColor = PALETTE[0];
const COLD: RGBColor = PALETTE[1];
const FAILED: RGBColor = PALETTE[3];
const DARK: RGBColor = RGBColor(40, 40, 40);
const GRID: RGBColor = RGBColor(225, 225, 225);

// ---------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------

/// Image format of a rendered chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Scalable vector graphics (UTF-8 text).
    Svg,
    /// Portable network graphics (8-bit RGB).
    Png,
}

impl Format {
    /// MIME type, e.g. for a Jupyter `display_data` bundle.
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
        }
    }

    /// The format a file name asks for by its extension (`.svg`, `.png`, any case).
    pub fn from_path(path: &std::path::Path) -> crate::Result<Self> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(crate::Error::Usage(format!(
                "cannot tell the image format of {}: the output file must end in .svg or .png",
                path.display()
            ))),
        }
    }

    /// Usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

/// How to render: format and size in pixels. `Options::default()` is SVG, 800×500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

impl Options {
    pub const DEFAULT_WIDTH: u32 = 800;
    pub const DEFAULT_HEIGHT: u32 = 500;
    /// Smallest accepted size; below it labels cannot fit.
    pub const MIN_SIZE: (u32, u32) = (300, 200);
    /// Largest accepted size (a guard against accidental huge allocations).
    pub const MAX_SIZE: (u32, u32) = (8000, 8000);

    /// SVG at the default size.
    pub const fn svg() -> Self {
        Self::new(Format::Svg)
    }

    /// PNG at the default size.
    pub const fn png() -> Self {
        Self::new(Format::Png)
    }

    /// `format` at the default size.
    pub const fn new(format: Format) -> Self {
        Self {
            format,
            width: Self::DEFAULT_WIDTH,
            height: Self::DEFAULT_HEIGHT,
        }
    }

    /// The same options with another size in pixels.
    pub const fn size(self, width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            ..self
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::svg()
    }
}

impl From<Format> for Options {
    fn from(format: Format) -> Self {
        Self::new(format)
    }
}

/// A rendered chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    /// The encoded file: SVG text as UTF-8, or a complete PNG file.
    pub bytes: Vec<u8>,
}

impl Image {
    /// MIME type of [`Image::bytes`].
    pub fn mime_type(&self) -> &'static str {
        self.format.mime_type()
    }

    /// The SVG text, or `None` for a PNG.
    pub fn as_svg(&self) -> Option<&str> {
        match self.format {
            Format::Svg => std::str::from_utf8(&self.bytes).ok(),
            Format::Png => None,
        }
    }

    /// Writes the bytes to `path` (see [`save`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        save(&self.bytes, path)
    }
}

/// Why a chart could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum PlotError {
    /// There is nothing to plot; the text says what was missing.
    Empty(String),
    /// The input or options cannot be drawn as asked.
    InvalidInput(String),
    /// The drawing library or the PNG encoder failed.
    Render(String),
    /// [`save`] could not write the file.
    Io(std::io::Error),
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::Empty(what) => write!(f, "nothing to plot: {what}"),
            PlotError::InvalidInput(why) => write!(f, "cannot plot: {why}"),
            PlotError::Render(why) => write!(f, "plot rendering failed: {why}"),
            PlotError::Io(e) => write!(f, "cannot save plot: {e}"),
        }
    }
}

impl std::error::Error for PlotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlotError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for PlotError {
    fn from(e: std::io::Error) -> Self {
        PlotError::Io(e)
    }
}

/// One invocation for [`timeline`]. Times are epoch (or any common origin) milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Invocation {
    pub start_ms: f64,
    pub end_ms: f64,
    /// The call started a new execution environment.
    pub cold: bool,
    /// The call failed (drawn in the error colour whether cold or not).
    pub error: bool,
    /// Client thread that made the call (counted in the legend, ties in start order).
    pub thread: u32,
}

/// One memory setting for [`memory_sweep`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    pub memory_mb: f64,
    pub mean_duration_ms: f64,
    /// Mean cost of one call in US dollars; a non-finite value leaves this point off
    /// the cost line.
    pub mean_cost_usd: f64,
}

// ---------------------------------------------------------------------------------
// Public chart functions
// ---------------------------------------------------------------------------------

/// Histogram of `values` (counts per bin), with the mean and median marked.
///
/// Bins: Freedman–Diaconis width `2·IQR/n^(1/3)`, the square-root rule when the IQR is
/// zero, at most 100 bins.
pub fn histogram(
    values: &[f64],
    title: &str,
    x_label: &str,
    options: impl Into<Options>,
) -> Result<Image, PlotError> {
    let sorted = finite_sorted(values);
    if sorted.is_empty() {
        return Err(PlotError::Empty(
            "the histogram has no finite values".into(),
        ));
    }
    drawable(&sorted)?;
    let spec = Spec::Histogram(HistogramSpec::new(sorted, title, x_label));
    render(options.into(), &spec)
}

/// Box plot, one box per `(group name, values)`: box from Q1 to Q3, median line,
/// whiskers to the furthest values within 1.5 IQR of the box, outliers as circles.
/// Groups keep their order; a group without finite values gets a label but no box.
pub fn box_plot<S: AsRef<str>>(
    groups: &[(S, Vec<f64>)],
    title: &str,
    y_label: &str,
    options: impl Into<Options>,
) -> Result<Image, PlotError> {
    let groups: Vec<BoxGroup> = groups
        .iter()
        .map(|(name, values)| BoxGroup::new(name.as_ref(), finite_sorted(values)))
        .collect();
    if groups.iter().all(|g| g.stats.is_none()) {
        return Err(PlotError::Empty(
            "the box plot has no group with finite values".into(),
        ));
    }
    let all: Vec<f64> = groups
        .iter()
        .filter_map(|g| g.stats.as_ref())
        .flat_map(|stats| {
            let ends = [stats.whisker_lo, stats.whisker_hi, stats.q1, stats.q3];
            ends.into_iter().chain(stats.outliers.iter().copied())
        })
        .collect();
    drawable(&all)?;
    let spec = Spec::BoxPlot {
        groups,
        title,
        y_label,
    };
    render(options.into(), &spec)
}

/// Empirical cumulative distribution of one or several `(series name, values)`, drawn
/// as step lines on one chart; series without finite values are left out.
pub fn cdf<S: AsRef<str>>(
    series: &[(S, Vec<f64>)],
    title: &str,
    x_label: &str,
    options: impl Into<Options>,
) -> Result<Image, PlotError> {
    let series: Vec<(String, Vec<f64>)> = series
        .iter()
        .map(|(name, values)| (name.as_ref().to_string(), finite_sorted(values)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if series.is_empty() {
        return Err(PlotError::Empty(
            "the CDF has no series with finite values".into(),
        ));
    }
    let all: Vec<f64> = series.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    drawable(&all)?;
    let spec = Spec::Cdf {
        series,
        title,
        x_label,
    };
    render(options.into(), &spec)
}

/// Invocation timeline: one horizontal bar per call from its start to its end, calls
/// ordered by start time (first at the bottom), warm calls, cold starts and errors in
/// different colours; below it, the number of calls in flight over the same time axis.
/// Calls with non-finite times are left out; an end before the start is drawn as a
/// zero-length call.
pub fn timeline(
    calls: &[Invocation],
    title: &str,
    options: impl Into<Options>,
) -> Result<Image, PlotError> {
    let mut calls: Vec<Invocation> = calls
        .iter()
        .filter(|c| c.start_ms.is_finite() && c.end_ms.is_finite())
        .map(|c| Invocation {
            end_ms: c.end_ms.max(c.start_ms),
            ..*c
        })
        .collect();
    if calls.is_empty() {
        return Err(PlotError::Empty(
            "the timeline has no invocations with finite start and end times".into(),
        ));
    }
    calls.sort_by(|a, b| {
        a.start_ms
            .total_cmp(&b.start_ms)
            .then(a.thread.cmp(&b.thread))
            .then(a.end_ms.total_cmp(&b.end_ms))
    });
    render(options.into(), &Spec::Timeline { calls, title })
}

/// Memory sweep: mean duration (ms, left axis) and mean cost per call (USD, right
/// axis) for each memory setting (MB), settings evenly spaced in increasing order.
/// Points whose memory or duration is not finite are left out.
pub fn memory_sweep(
    points: &[SweepPoint],
    title: &str,
    options: impl Into<Options>,
) -> Result<Image, PlotError> {
    let mut points: Vec<SweepPoint> = points
        .iter()
        .filter(|p| p.memory_mb.is_finite() && p.mean_duration_ms.is_finite())
        .copied()
        .collect();
    if points.is_empty() {
        return Err(PlotError::Empty(
            "the memory sweep has no points with a finite memory size and duration".into(),
        ));
    }
    points.sort_by(|a, b| a.memory_mb.total_cmp(&b.memory_mb));
    render(options.into(), &Spec::MemorySweep { points, title })
}

/// Writes image bytes to `path`, creating or truncating the file. The only file I/O in
/// this module.
pub fn save(bytes: &[u8], path: impl AsRef<Path>) -> Result<(), PlotError> {
    std::fs::write(path, bytes)?;
    Ok(())
}

// ---------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------

/// Prepared, validated data of one chart.
enum Spec<'a> {
    Histogram(HistogramSpec<'a>),
    BoxPlot {
        groups: Vec<BoxGroup>,
        title: &'a str,
        y_label: &'a str,
    },
    Cdf {
        series: Vec<(String, Vec<f64>)>,
        title: &'a str,
        x_label: &'a str,
    },
    Timeline {
        calls: Vec<Invocation>,
        title: &'a str,
    },
    MemorySweep {
        points: Vec<SweepPoint>,
        title: &'a str,
    },
}

fn render(options: Options, spec: &Spec<'_>) -> Result<Image, PlotError> {
    let Options {
        format,
        width,
        height,
    } = options;
    let (min_w, min_h) = Options::MIN_SIZE;
    let (max_w, max_h) = Options::MAX_SIZE;
    if !(min_w..=max_w).contains(&width) || !(min_h..=max_h).contains(&height) {
        return Err(PlotError::InvalidInput(format!(
            "image size {width}x{height} is outside {min_w}x{min_h} ..= {max_w}x{max_h} pixels"
        )));
    }
    ensure_font()?;
    let bytes = match format {
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                draw(&root, spec)?;
                root.present().map_err(render_err)?;
            }
            svg.into_bytes()
        }
        Format::Png => {
            let mut rgb = vec![0u8; width as usize * height as usize * 3];
            {
                let root = PngCanvas {
                    inner: BitMapBackend::with_buffer(&mut rgb, (width, height)),
                    font: embedded_font()?,
                }
                .into_drawing_area();
                draw(&root, spec)?;
                root.present().map_err(render_err)?;
            }
            encode_png(&rgb, width, height)?
        }
    };
    Ok(Image {
        format,
        width,
        height,
        bytes,
    })
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &Spec<'_>,
) -> Result<(), PlotError> {
    root.fill(&WHITE).map_err(render_err)?;
    match spec {
        Spec::Histogram(h) => draw_histogram(root, h),
        Spec::BoxPlot {
            groups,
            title,
            y_label,
        } => draw_box_plot(root, groups, title, y_label),
        Spec::Cdf {
            series,
            title,
            x_label,
        } => draw_cdf(root, series, title, x_label),
        Spec::Timeline { calls, title } => draw_timeline(root, calls, title),
        Spec::MemorySweep { points, title } => draw_memory_sweep(root, points, title),
    }
}

/// The embedded font, parsed once.
fn embedded_font() -> Result<&'static FontRef<'static>, PlotError> {
    static FONT_REF: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT_REF
        .get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
        .ok_or_else(|| PlotError::Render("the embedded font could not be parsed".into()))
}

/// Registers the embedded font with plotters, which measures text with it (layout of
/// labels, legends and captions) for both formats.
fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(PlotError::Render(
            "the embedded font could not be loaded".into(),
        ))
    }
}

/// The bitmap backend with its own text rasteriser: plotters' `ab_glyph` text drawing
/// (0.3.7) ignores each glyph's left side bearing, which spaces narrow glyphs such as
/// "1" and "." visibly wrong. Everything else is delegated unchanged. Text is laid out
/// with the same metrics plotters measures it with (pixel scale = font size, advance
/// widths plus kerning, box height = size / 1.24), so labels land where plotters
/// reserved room for them.
struct PngCanvas<'a> {
    inner: BitMapBackend<'a>,
    font: &'static FontRef<'static>,
}

impl<'a> DrawingBackend for PngCanvas<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (iw, ih): (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, (iw, ih), src)
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let size = style.size() as f32;
        let scale = PxScale::from(size);
        let font = self.font.as_scaled(scale);

        // Caret positions and the advance width, as plotters measures them.
        let mut glyphs = Vec::with_capacity(text.len());
        let mut caret = 0f32;
        let mut previous = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = previous {
                caret += font.kern(p, id);
            }
            glyphs.push((id, caret));
            caret += font.h_advance(id);
            previous = Some(id);
        }
        let width = caret.round() as i32;
        let height = (size / 1.24).round() as i32;
        // Baseline: capitals centred in the box plotters reserved.
        let cap = self
            .font
            .outline(self.font.glyph_id('H'))
            .map_or(size * 0.6, |o| {
                o.bounds.height().abs() * font.v_scale_factor()
            });
        let baseline = (height as f32 + cap) / 2.0;

        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Center => -width / 2,
            HPos::Right => -width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let mut result = Ok(());
        for (id, x) in glyphs {
            let glyph = id.with_scale_and_position(scale, ab_glyph::point(x, baseline));
            let Some(outline) = self.font.outline_glyph(glyph) else {
                continue; // blank glyph, e.g. a space
            };
            let bounds = outline.px_bounds();
            let (ox, oy) = (bounds.min.x as i32 + dx, bounds.min.y as i32 + dy);
            outline.draw(|gx, gy, coverage| {
                if result.is_err() || coverage <= 0.0 {
                    return;
                }
                let (tx, ty) = transform.transform(ox + gx as i32, oy + gy as i32);
                let pixel = (pos.0 + tx, pos.1 + ty);
                result = self
                    .inner
                    .draw_pixel(pixel, color.mix(f64::from(coverage.min(1.0))));
            });
        }
        result
    }
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(render_err)?;
    writer.write_image_data(rgb).map_err(render_err)?;
    writer.finish().map_err(render_err)?;
    Ok(out)
}

fn render_err(e: impl fmt::Display) -> PlotError {
    PlotError::Render(e.to_string())
}

fn title_style() -> TextStyle<'static> {
    (FONT, TITLE_PX).into_font().color(&DARK)
}

fn legend_box<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), PlotError> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, LEGEND_PX))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .margin(10)
        .draw()
        .map_err(render_err)
}

// ---------------------------------------------------------------------------------
// Histogram
// ---------------------------------------------------------------------------------

struct HistogramSpec<'a> {
    title: &'a str,
    x_label: &'a str,
    n: usize,
    mean: f64,
    median: f64,
    /// Left edge of the first bin and the bin width.
    start: f64,
    width: f64,
    counts: Vec<u32>,
}

impl<'a> HistogramSpec<'a> {
    fn new(sorted: Vec<f64>, title: &'a str, x_label: &'a str) -> Self {
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
fn bin_count(sorted: &[f64]) -> usize {
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

fn draw_histogram<DB: DrawingBackend>(
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

    let mut chart = ChartBuilder::on(root)
        .caption(h.title, title_style())
        .margin(15)
        .margin_right(30)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, 0u32..y_top)
        .map_err(render_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(h.x_label)
        .y_desc("count")
        .x_label_formatter(&x_fmt)
        .label_style((FONT, TICK_PX))
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
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

// ---------------------------------------------------------------------------------
// Box plot
// ---------------------------------------------------------------------------------

struct BoxStats {
    q1: f64,
    median: f64,
    q3: f64,
    whisker_lo: f64,
    whisker_hi: f64,
    outliers: Vec<f64>,
}

struct BoxGroup {
    name: String,
    stats: Option<BoxStats>,
}

impl BoxGroup {
    fn new(name: &str, sorted: Vec<f64>) -> Self {
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

fn draw_box_plot<DB: DrawingBackend>(
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

    let mut chart = ChartBuilder::on(root)
        .caption(title, title_style())
        .margin(15)
        .margin_right(30)
        .x_label_area_size(40)
        .y_label_area_size(75)
        .build_cartesian_2d(Categories(n), y_lo..y_hi)
        .map_err(render_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_label)
        .x_label_formatter(&|x| category(&names, *x))
        .y_label_formatter(&y_fmt)
        .label_style((FONT, TICK_PX))
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
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

// ---------------------------------------------------------------------------------
// CDF
// ---------------------------------------------------------------------------------

fn draw_cdf<DB: DrawingBackend>(
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

    let mut chart = ChartBuilder::on(root)
        .caption(title, title_style())
        .margin(15)
        .margin_right(30)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x_lo..x_hi, 0.0..1.02)
        .map_err(render_err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("fraction ≤ x")
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|v| format!("{v:.1}"))
        .label_style((FONT, TICK_PX))
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
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
const MAX_CDF_POINTS: usize = 2000;

/// Outline of the empirical CDF of sorted `values` as a step line from `(x_lo, 0)` to
/// `(x_hi, 1)`.
fn cdf_steps(values: &[f64], x_lo: f64, x_hi: f64) -> Vec<(f64, f64)> {
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

// ---------------------------------------------------------------------------------
// Timeline
// ---------------------------------------------------------------------------------

fn draw_timeline<DB: DrawingBackend>(
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
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_desc("call (by start)")
        .y_labels((n + 1).min(10))
        .y_label_formatter(&integer_label)
        .label_style((FONT, TICK_PX))
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
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
    lower
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(4)
        .x_desc(format!("wall time since first call ({unit})"))
        .y_desc("in flight")
        .x_label_formatter(&tick_formatter(&(0.0..x_hi), 10))
        .y_label_formatter(&integer_label)
        .label_style((FONT, TICK_PX))
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
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

// ---------------------------------------------------------------------------------
// Memory sweep
// ---------------------------------------------------------------------------------

fn draw_memory_sweep<DB: DrawingBackend>(
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

    let mut chart = ChartBuilder::on(root)
        .caption(title, title_style())
        .margin(15)
        .margin_right(30)
        .x_label_area_size(50)
        .y_label_area_size(75)
        .right_y_label_area_size(80)
        .build_cartesian_2d(Categories(n), min_duration..dur_hi)
        .map_err(render_err)?
        .set_secondary_coord(Categories(n), 0.0..cost_hi);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("memory (MB)")
        .y_desc("mean duration (ms)")
        .x_label_formatter(&|x| category(&labels, *x))
        .y_label_formatter(&tick_formatter(&(min_duration..dur_hi), 10))
        .label_style((FONT, TICK_PX))
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
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

// ---------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------

fn finite_sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Linear-interpolation quantile (R type 7, numpy's default) of sorted, non-empty data.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Refuses values a chart axis cannot span: plotters' tick search never ends when the
/// range (or its padding) overflows `f64` (e.g. -1e308 and 1e308, both finite).
fn drawable(values: &[f64]) -> Result<(), PlotError> {
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

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// `[lo, hi]` widened by `fraction` of its span on both sides (or by 1 / 5 % of the
/// value when the span is zero).
fn padded(lo: f64, hi: f64, fraction: f64) -> (f64, f64) {
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
fn tick_formatter(range: &Range<f64>, max_ticks: usize) -> impl Fn(&f64) -> String {
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
fn integer_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        String::new()
    }
}

/// Tick/legend number: few digits, no float noise.
fn fmt_num(v: f64) -> String {
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
struct Categories(usize);

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
fn category(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

/// `name` cut to `max_chars` with an ellipsis in the middle, so that both a common
/// prefix and a distinguishing suffix (`exp-128MB`, `exp-256MB`) stay visible.
fn shorten(name: &str, max_chars: usize) -> String {
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

fn superscript(n: i32) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random numbers in [0, 1) (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Roughly log-normal latencies around `median` ms.
        fn latency(&mut self, median: f64) -> f64 {
            let z: f64 = (0..6).map(|_| self.next()).sum::<f64>() - 3.0;
            median * (0.35 * z).exp()
        }
    }

    fn latencies(seed: u64, n: usize, median: f64) -> Vec<f64> {
        let mut rng = Rng(seed);
        let mut v: Vec<f64> = (0..n).map(|_| rng.latency(median)).collect();
        v.push(median * 6.0); // a tail outlier
        v
    }

    fn sample_calls() -> Vec<Invocation> {
        let mut rng = Rng(7);
        let mut calls = Vec::new();
        for thread in 0..4u32 {
            let mut t = 1_700_000_000_000.0 + thread as f64 * 3.0;
            for run in 0..12 {
                let cold = run == 0;
                let duration = rng.latency(120.0) + if cold { 350.0 } else { 0.0 };
                calls.push(Invocation {
                    start_ms: t,
                    end_ms: t + duration,
                    cold,
                    error: thread == 2 && run == 7,
                    thread,
                });
                t += duration + rng.next() * 15.0;
            }
        }
        calls
    }

    fn sample_sweep() -> Vec<SweepPoint> {
        [128.0, 256.0, 512.0, 1024.0, 2048.0]
            .iter()
            .map(|&mb| {
                let ms = 80.0 + 200_000.0 / mb;
                let usd = 0.000_000_2 + ms / 1000.0 * mb / 1024.0 * 0.000_016_666_7;
                SweepPoint {
                    memory_mb: mb,
                    mean_duration_ms: ms,
                    mean_cost_usd: usd,
                }
            })
            .collect()
    }

    /// Every chart of the module, rendered with `options`, under a file stem.
    fn all_charts(options: Options) -> Vec<(&'static str, Image)> {
        let groups = vec![
            ("128 MB".to_string(), latencies(1, 200, 400.0)),
            ("512 MB".to_string(), latencies(2, 200, 150.0)),
            ("2048 MB".to_string(), latencies(3, 200, 90.0)),
        ];
        vec![
            (
                "histogram",
                histogram(
                    &groups[0].1,
                    "Runtime of hello_world",
                    "runtime (ms)",
                    options,
                )
                .unwrap(),
            ),
            (
                "box",
                box_plot(&groups, "Runtime by memory", "runtime (ms)", options).unwrap(),
            ),
            (
                "cdf",
                cdf(&groups, "Runtime CDF by memory", "runtime (ms)", options).unwrap(),
            ),
            (
                "timeline",
                timeline(&sample_calls(), "Invocations of hello_world", options).unwrap(),
            ),
            (
                "sweep",
                memory_sweep(&sample_sweep(), "Memory sweep of hello_world", options).unwrap(),
            ),
        ]
    }

    /// Writes samples to `$FAASET_PLOT_OUT` when set, for looking at them.
    fn maybe_save(stem: &str, image: &Image) {
        if let Some(dir) = std::env::var_os("FAASET_PLOT_OUT") {
            let path = Path::new(&dir).join(format!("{stem}.{}", image.format.extension()));
            image.save(path).unwrap();
        }
    }

    /// Decodes a PNG fully; returns (width, height, RGB pixels).
    fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR");
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (w, h));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (w, h, buf)
    }

    /// D11: values whose range overflows f64 are refused at once (plotters would search for
    /// ticks forever).
    #[test]
    fn ranges_beyond_f64_are_refused_not_hung() {
        let huge = [1e308, -1e308, 5.0];
        let said = |e: PlotError| {
            let text = e.to_string();
            assert!(text.contains("no chart axis can span"), "{text}");
        };
        said(histogram(&huge, "t", "x", Format::Svg).unwrap_err());
        said(box_plot(&[("a", huge.to_vec())], "t", "y", Format::Svg).unwrap_err());
        said(cdf(&[("a", huge.to_vec())], "t", "x", Format::Svg).unwrap_err());
        // Large but drawable values still draw.
        histogram(&[1e12, -1e12, 5.0], "t", "x", Format::Svg).unwrap();
    }

    #[test]
    fn svg_charts_contain_title_and_axis_text() {
        let expected: [(&str, &[&str]); 5] = [
            (
                "histogram",
                &[
                    "Runtime of hello_world",
                    "runtime (ms)",
                    "count",
                    "median = ",
                    "n = 201",
                ],
            ),
            (
                "box",
                &[
                    "Runtime by memory",
                    "runtime (ms)",
                    "128 MB",
                    "512 MB",
                    "2048 MB",
                ],
            ),
            (
                "cdf",
                &[
                    "Runtime CDF by memory",
                    "runtime (ms)",
                    "fraction ≤ x",
                    "2048 MB (n = 201)",
                ],
            ),
            (
                "timeline",
                &[
                    "Invocations of hello_world",
                    "wall time since first call (ms)",
                    "in flight",
                    "cold start (4)",
                    "error (1)",
                    "48 calls, 4 threads",
                ],
            ),
            (
                "sweep",
                &[
                    "Memory sweep of hello_world",
                    "memory (MB)",
                    "mean duration (ms)",
                    "mean cost per call (USD ×10⁻⁶)",
                    "1024",
                ],
            ),
        ];
        let charts = all_charts(Options::svg());
        for ((stem, image), (name, texts)) in charts.iter().zip(expected) {
            assert_eq!(*stem, name);
            assert_eq!(image.format, Format::Svg);
            assert_eq!(image.mime_type(), "image/svg+xml");
            let svg = image.as_svg().expect("SVG is UTF-8");
            assert!(svg.starts_with("<svg"), "{stem}: {}", &svg[..40]);
            assert!(svg.contains(r#"width="800""#) && svg.contains(r#"height="500""#));
            assert!(svg.contains("sans-serif"), "{stem}: font family");
            for text in texts {
                assert!(svg.contains(text), "{stem}: SVG lacks {text:?}");
            }
            maybe_save(stem, image);
        }
    }

    #[test]
    fn png_charts_decode_with_the_requested_size_and_drawn_text() {
        for options in [Options::png(), Options::png().size(1200, 700)] {
            for (stem, image) in all_charts(options) {
                assert_eq!(image.mime_type(), "image/png");
                assert!(image.as_svg().is_none());
                let (w, h, rgb) = decode_png(&image.bytes);
                assert_eq!((w, h), (options.width, options.height), "{stem}");
                assert_eq!((image.width, image.height), (w, h));
                // The title is drawn in dark grey at the top: the embedded font works.
                let title_band = &rgb[..(w * 40 * 3) as usize];
                let dark = title_band
                    .chunks(3)
                    .filter(|p| p.iter().all(|&c| c < 100))
                    .count();
                assert!(
                    dark > 200,
                    "{stem}: only {dark} dark pixels in the title band"
                );
                // And the chart itself put colour on the canvas.
                let coloured = rgb.chunks(3).filter(|p| p[0].abs_diff(p[2]) > 60).count();
                assert!(coloured > 500, "{stem}: only {coloured} coloured pixels");
                if options.width == Options::DEFAULT_WIDTH {
                    maybe_save(stem, &image);
                }
            }
        }
    }

    #[test]
    fn format_converts_into_options() {
        let image = histogram(&[1.0, 2.0, 2.5, 3.0], "t", "x", Format::Png).unwrap();
        assert_eq!(image.format, Format::Png);
        assert_eq!((image.width, image.height), (800, 500));
        assert_eq!(Format::Png.extension(), "png");
        assert_eq!(Options::default(), Options::svg());
    }

    #[test]
    fn empty_input_says_there_is_nothing_to_plot() {
        let none: Vec<(String, Vec<f64>)> = Vec::new();
        let only_empty = vec![("a", vec![]), ("b", vec![f64::NAN])];
        let errors = [
            histogram(&[], "t", "x", Format::Svg).unwrap_err(),
            histogram(&[f64::NAN, f64::INFINITY], "t", "x", Format::Png).unwrap_err(),
            box_plot(&none, "t", "y", Format::Svg).unwrap_err(),
            box_plot(&only_empty, "t", "y", Format::Svg).unwrap_err(),
            cdf(&none, "t", "x", Format::Png).unwrap_err(),
            cdf(&only_empty, "t", "x", Format::Svg).unwrap_err(),
            timeline(&[], "t", Format::Svg).unwrap_err(),
            memory_sweep(&[], "t", Format::Png).unwrap_err(),
        ];
        for e in errors {
            assert!(matches!(e, PlotError::Empty(_)), "{e:?}");
            assert!(e.to_string().starts_with("nothing to plot: "), "{e}");
        }
    }

    #[test]
    fn bad_size_is_refused() {
        let e = histogram(&[1.0], "t", "x", Options::png().size(10, 10)).unwrap_err();
        assert!(matches!(e, PlotError::InvalidInput(_)), "{e:?}");
        assert!(e.to_string().contains("10x10"), "{e}");
    }

    #[test]
    fn degenerate_data_still_renders() {
        let one = histogram(&[42.0], "single", "x", Format::Svg).unwrap();
        assert!(one.as_svg().unwrap().contains("n = 1"));
        histogram(&[0.0; 5], "zeros", "x", Format::Png).unwrap();
        box_plot(
            &[("only", vec![3.0, 3.0]), ("empty", vec![])],
            "t",
            "y",
            Format::Png,
        )
        .unwrap();
        cdf(&[("", vec![5.0])], "t", "x", Format::Svg).unwrap();
        let same_time = Invocation {
            start_ms: 10.0,
            end_ms: 5.0, // before the start: drawn as zero length
            cold: true,
            error: false,
            thread: 0,
        };
        timeline(&[same_time], "t", Format::Png).unwrap();
        let no_cost = SweepPoint {
            memory_mb: 128.0,
            mean_duration_ms: 10.0,
            mean_cost_usd: f64::NAN,
        };
        memory_sweep(&[no_cost], "t", Format::Svg).unwrap();
    }

    #[test]
    fn special_characters_in_text_are_escaped_in_svg() {
        let image = histogram(&[1.0, 2.0], "a < b & \"c\"", "x", Format::Svg).unwrap();
        let svg = image.as_svg().unwrap();
        assert!(svg.contains("a &lt; b &amp;"), "title not escaped");
        assert!(!svg.contains("a < b"));
    }

    #[test]
    fn cdf_steps_are_exact_for_small_series_and_bounded_for_large_ones() {
        let steps = cdf_steps(&[1.0, 2.0, 2.0, 4.0], 0.0, 5.0);
        assert_eq!(
            steps,
            vec![
                (0.0, 0.0),
                (1.0, 0.0),
                (1.0, 0.25),
                (2.0, 0.25),
                (2.0, 0.5),
                (2.0, 0.5),
                (2.0, 0.75),
                (4.0, 0.75),
                (4.0, 1.0),
                (5.0, 1.0),
            ]
        );
        let big: Vec<f64> = (0..100_000).map(f64::from).collect();
        let steps = cdf_steps(&big, -1.0, 100_000.0);
        assert!(steps.len() <= 2 * MAX_CDF_POINTS + 4, "{}", steps.len());
        assert_eq!(steps[steps.len() - 2], (99_999.0, 1.0));
        let image = cdf(&[("big", big)], "t", "x", Format::Svg).unwrap();
        assert!(
            image.bytes.len() < 300_000,
            "SVG of {} bytes",
            image.bytes.len()
        );
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.25), 1.75);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert_eq!(quantile(&[7.0], 0.75), 7.0);
    }

    #[test]
    fn box_stats_use_1_5_iqr_whiskers() {
        let g = BoxGroup::new(
            "g",
            finite_sorted(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 30.0, -20.0]),
        );
        let s = g.stats.unwrap();
        // sorted: -20 1 2 3 4 5 6 7 8 30; Q1 = 2.25, Q3 = 6.75, IQR = 4.5, fences -4.5 / 13.5
        assert_eq!((s.q1, s.median, s.q3), (2.25, 4.5, 6.75));
        assert_eq!((s.whisker_lo, s.whisker_hi), (1.0, 8.0));
        assert_eq!(s.outliers, vec![-20.0, 30.0]);
    }

    #[test]
    fn bin_count_follows_freedman_diaconis() {
        let uniform: Vec<f64> = (0..1000).map(f64::from).collect();
        // IQR = 499.5, width = 2 * 499.5 / 10 = 99.9, range 999 -> 10 bins
        assert_eq!(bin_count(&uniform), 10);
        // zero IQR falls back to the square-root rule
        let mut spiky = vec![5.0; 99];
        spiky.push(6.0);
        assert_eq!(bin_count(&spiky), 10);
        assert_eq!(bin_count(&[3.0, 3.0]), 1);
        // a far outlier cannot explode the bin count
        let mut tail = uniform.clone();
        tail.push(1e9);
        assert_eq!(bin_count(&tail), 100);
        let h = HistogramSpec::new(uniform, "t", "x");
        assert_eq!(h.counts.iter().sum::<u32>(), 1000);
    }

    #[test]
    fn numbers_are_formatted_compactly() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1024.0), "1024");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(0.125), "0.125");
        assert_eq!(fmt_num(0.000_002_1), "2.10e-6");
        assert_eq!(superscript(-6), "⁻⁶");
        assert_eq!(shorten("abcdefgh", 5), "ab…gh");
        assert_eq!(shorten("exp-128MB", 20), "exp-128MB");
        let ticks = tick_formatter(&(0.0..2400.0), 10);
        assert_eq!(
            (ticks(&500.0), ticks(&0.0)),
            ("500".to_string(), "0".to_string())
        );
        let ticks = tick_formatter(&(0.0..1.02), 10);
        assert_eq!(ticks(&0.2), "0.2");
        let ticks = tick_formatter(&(0.0..0.001), 10);
        assert_eq!(ticks(&0.0002), "0.0002");
        let ticks = tick_formatter(&(0.0..0.0005), 10);
        assert_eq!(ticks(&0.0002), "2.0e-4");
        assert_eq!(integer_label(&2.0), "2");
        assert_eq!(integer_label(&2.5), "");
    }
}
