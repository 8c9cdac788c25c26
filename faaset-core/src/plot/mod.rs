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
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

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

mod box_plot;
mod cdf;
mod histogram;
mod scale;
mod sweep;
mod timeline;

use box_plot::*;
use cdf::*;
use histogram::*;
use scale::*;
use sweep::*;
use timeline::*;

#[cfg(test)]
mod tests;
