//! Verbs that read experiment results: `load`, `stats`, `ttest`, `plot`.
//!
//! Each loads the results through [`faaset::results`], which also computes (statistics,
//! tests, charts); this file only renders aligned text tables and one-line summaries to
//! stdout. Metrics are taken from successful calls only, and every output says so.

use std::io::Write;
use std::path::{Path, PathBuf};

use faaset::analysis::Summary;
use faaset::plot::{Format, Options};
use faaset::results::{self, axis_label, shorten, show_key, Comparison, PlotKind, Results};
use faaset::{Error, FunctionName, Result, Workspace};

use crate::cli::{LoadArgs, PlotArgs, StatsArgs, TtestArgs};

/// The columns `load` shows, where present, in this order.
const KEY_COLUMNS: [&str; 8] = [
    "threadID",
    "runID",
    "roundTripTime",
    "runtime",
    "latency",
    "coldStart",
    "memorySize",
    "error",
];
/// Longest cell `load` shows (error messages get cut).
const MAX_CELL: usize = 60;

pub fn load(workspace: &Workspace, args: LoadArgs) -> Result<()> {
    let results = results::load(workspace, &args.function, &args.experiment)?;
    if args.csv {
        let bytes =
            std::fs::read(results.path()).map_err(|e| io_error("read", results.path(), e))?;
        emit(&bytes);
        return Ok(());
    }
    let columns: Vec<&str> = KEY_COLUMNS
        .into_iter()
        .filter(|c| results.has_column(c))
        .collect();
    let rows: Vec<Vec<String>> = (0..results.len())
        .map(|r| {
            columns
                .iter()
                .map(|c| show_cell(results.cell(r, c).unwrap_or_default()))
                .collect()
        })
        .collect();
    let right: Vec<bool> = columns.iter().map(|c| *c != "error").collect();
    let mut out = table(&columns, &rows, &right);
    out += &format!(
        "showing {} of {} columns; `faaset load {} {} --csv` prints them all\n",
        columns.len(),
        results.header().len(),
        results.function(),
        results.experiment()
    );
    out += &format!("{} ({})\n", counts(&results), results.path().display());
    // The typed columns as the library's `results::dataframe` (polars) sees them.
    let frame = results::read_dataframe(results.path())?;
    let types: Vec<String> = columns
        .iter()
        .filter_map(|c| frame.column(c).ok().map(|s| format!("{c} {}", s.dtype())))
        .collect();
    out += &format!("types: {}\n", types.join(", "));
    emit(out.as_bytes());
    Ok(())
}

pub fn stats(workspace: &Workspace, args: StatsArgs) -> Result<()> {
    let results = results::load(workspace, &args.function, &args.experiment)?;
    let groups = results.stats(&args.metric, args.group_by.as_deref())?;
    let mut out = format!(
        "{}: {} of successful calls only ({})\n",
        results.label(),
        axis_label(&args.metric),
        counts(&results)
    );
    let mut header: Vec<&str> = Vec::new();
    if let Some(by) = &args.group_by {
        header.push(by);
    }
    header.extend([
        "count", "errors", "cold", "min", "max", "mean", "median", "sd", "cv", "p90", "p95", "p99",
    ]);
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let mut row = Vec::new();
            if let Some(key) = &g.group {
                row.push(show_key(key).to_string());
            }
            let count = g.summary.as_ref().map_or(0, |s| s.count);
            row.extend([
                count.to_string(),
                g.errors.to_string(),
                g.cold_starts.to_string(),
            ]);
            row.extend(summary_cells(g.summary.as_ref()));
            row
        })
        .collect();
    let right: Vec<bool> = header
        .iter()
        .enumerate()
        .map(|(i, _)| i > 0 || args.group_by.is_none())
        .collect();
    out += &table(&header, &rows, &right);
    emit(out.as_bytes());
    Ok(())
}

pub fn ttest(workspace: &Workspace, args: TtestArgs) -> Result<()> {
    let (fn_a, exp_a) = parse_sample(&args.a)?;
    let (fn_b, exp_b) = parse_sample(&args.b)?;
    let a = results::load(workspace, fn_a, exp_a)?;
    let b = results::load(workspace, fn_b, exp_b)?;
    let c = results::compare(&a, &b, &args.metric, args.paired)?;
    emit(render_comparison(&c, &a, &b).as_bytes());
    Ok(())
}

pub fn plot(workspace: &Workspace, args: PlotArgs) -> Result<()> {
    let kind: PlotKind = args.kind.parse()?;
    let function = FunctionName::new(&args.function)?;
    let output = match &args.output {
        Some(path) => path.clone(),
        None => {
            let file = match kind {
                PlotKind::Timeline => "timeline.svg".to_string(),
                _ => format!("{}-{}.svg", kind.name(), args.metric),
            };
            faaset::experiment::check_experiment_name(&args.experiment)?;
            results::experiment_dir(workspace, &function, &args.experiment).join(file)
        }
    };
    let format = format_of(&output)?;
    let results = results::load(workspace, &args.function, &args.experiment)?;
    let image = results.plot(
        kind,
        &args.metric,
        args.group_by.as_deref(),
        Options::new(format),
    )?;
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(Error::Usage(format!(
                "cannot write {}: the folder {} does not exist",
                output.display(),
                parent.display()
            )));
        }
    }
    std::fs::write(&output, &image.bytes).map_err(|e| io_error("write", &output, e))?;
    emit(format!("{}\n", output.display()).as_bytes());
    Ok(())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth reporting.
fn emit(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// `function/experiment` → its two names.
fn parse_sample(text: &str) -> Result<(&str, &str)> {
    match text.split_once('/') {
        Some((function, experiment))
            if !function.is_empty() && !experiment.is_empty() && !experiment.contains('/') =>
        {
            Ok((function, experiment))
        }
        _ => Err(Error::Usage(format!(
            "expected FUNCTION/EXPERIMENT, e.g. calc_service/t_test_demo, got {text:?}"
        ))),
    }
}

/// The image format named by `path`'s extension.
fn format_of(path: &Path) -> Result<Format> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("svg") => Ok(Format::Svg),
        Some("png") => Ok(Format::Png),
        _ => Err(Error::Usage(format!(
            "cannot tell the image format of {}: the output file must end in .svg or .png",
            PathBuf::from(path).display()
        ))),
    }
}

/// "30 rows, 2 errors, 30 cold starts".
fn counts(results: &Results) -> String {
    format!(
        "{} rows, {} errors, {} cold starts",
        results.len(),
        results.errors(),
        results.cold_starts()
    )
}

fn render_comparison(c: &Comparison, a: &Results, b: &Results) -> String {
    let mut out = String::new();
    let test = if c.paired {
        "paired t-test"
    } else {
        "Welch's t-test"
    };
    let scope = if c.paired {
        format!(
            "{} pairs of successful calls matched by threadID and runID ({} unmatched left out)",
            c.t_test.n_a, c.unmatched
        )
    } else {
        format!(
            "successful calls only (a {} of {} rows, b {} of {} rows)",
            c.t_test.n_a,
            a.len(),
            c.t_test.n_b,
            b.len()
        )
    };
    out += &format!("{}, {scope}\n", axis_label(&c.metric));
    let rows = [("a", &c.a, &c.summary_a), ("b", &c.b, &c.summary_b)]
        .map(|(side, label, s)| {
            vec![
                side.to_string(),
                label.clone(),
                s.count.to_string(),
                num(s.mean),
                num(s.median),
                num(s.std_dev),
            ]
        })
        .to_vec();
    out += &table(
        &["", "experiment", "n", "mean", "median", "sd"],
        &rows,
        &[false, false, true, true, true, true],
    );
    let t = &c.t_test;
    out += &format!(
        "{test}: mean difference a − b = {} (95% CI {} to {}), t = {:.3}, df = {:.1}, p = {}\n",
        num(t.mean_difference),
        num(t.ci95_low),
        num(t.ci95_high),
        t.t,
        t.df,
        p_value(t.p_value)
    );
    out += &format!(
        "Mann–Whitney U = {:.1}, p = {}\n",
        c.mann_whitney.u,
        p_value(c.mann_whitney.p_value)
    );
    out += &if t.p_value < 0.05 {
        let direction = if t.mean_difference > 0.0 {
            "higher"
        } else {
            "lower"
        };
        format!(
            "significant at 0.05: {} has a {direction} mean {} than {} (p = {})\n",
            c.a,
            c.metric,
            c.b,
            p_value(t.p_value)
        )
    } else {
        format!(
            "not significant at 0.05: no evidence that {} differs between {} and {} (p = {})\n",
            c.metric,
            c.a,
            c.b,
            p_value(t.p_value)
        )
    };
    out
}

/// min, max, mean, median, sd, cv, p90, p95, p99 (dashes without values).
fn summary_cells(summary: Option<&Summary>) -> Vec<String> {
    match summary {
        None => vec!["-".to_string(); 9],
        Some(s) => vec![
            num(s.min),
            num(s.max),
            num(s.mean),
            num(s.median),
            num(s.std_dev),
            if s.cv.is_finite() {
                format!("{:.3}", s.cv)
            } else {
                "-".to_string()
            },
            num(s.p90),
            num(s.p95),
            num(s.p99),
        ],
    }
}

/// A number for a table: two decimals, scientific when huge, `-` when undefined.
fn num(x: f64) -> String {
    if !x.is_finite() {
        "-".to_string()
    } else if x.abs() >= 1e9 {
        format!("{x:.4e}")
    } else {
        format!("{x:.2}")
    }
}

fn p_value(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.2e}")
    } else {
        format!("{p:.4}")
    }
}

/// A cell of `load`'s table: fractions to two decimals, text on one line and cut short.
fn show_cell(cell: &str) -> String {
    match cell.parse::<f64>() {
        Ok(x) if x.is_finite() && cell.contains('.') => format!("{x:.2}"),
        _ => shorten(cell, MAX_CELL),
    }
}

/// Columns padded to their widest cell, two spaces apart; `right` aligns numbers.
fn table<S: AsRef<str>>(header: &[S], rows: &[Vec<String>], right: &[bool]) -> String {
    let width = |text: &str| text.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h.as_ref())).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut text = cells
            .iter()
            .zip(&widths)
            .zip(right)
            .map(|((cell, &w), &right)| {
                let pad = " ".repeat(w - width(cell));
                if right {
                    format!("{pad}{cell}")
                } else {
                    format!("{cell}{pad}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ");
        text.truncate(text.trim_end().len());
        text + "\n"
    };
    let mut out = line(header.iter().map(AsRef::as_ref).collect());
    for row in rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_parse_and_bad_ones_say_the_syntax() {
        assert_eq!(parse_sample("f/e").unwrap(), ("f", "e"));
        for bad in ["f", "/e", "f/", "f/e/x"] {
            let e = parse_sample(bad).unwrap_err().to_string();
            assert!(e.starts_with("expected FUNCTION/EXPERIMENT"), "{e}");
        }
    }

    #[test]
    fn tables_align_and_numbers_format() {
        let t = table(
            &["a", "long"],
            &[vec!["1".into(), "x".into()], vec!["100".into(), "".into()]],
            &[true, false],
        );
        assert_eq!(t, "  a  long\n  1  x\n100\n");
        assert_eq!(num(f64::NAN), "-");
        assert_eq!(num(1.005e3), "1005.00");
        assert_eq!(show_cell("12.3456"), "12.35");
        assert_eq!(show_cell("12"), "12");
        assert_eq!(p_value(0.0001234), "1.23e-4");
        assert!(format_of(Path::new("x.PNG")).is_ok());
        assert!(format_of(Path::new("x.jpg")).is_err());
    }
}
