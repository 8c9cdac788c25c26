//! Tests of the charts: SVG and PNG structure, bins, boxes, steps, errors.

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
