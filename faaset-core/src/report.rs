//! What the user sees of results — `load`, `stats`, `ttest` and `sweep` summaries — as data:
//! lines and tables, rendered as aligned text by the CLI and as HTML (with the text as the
//! plain fallback) by the notebook kernel, so both show the same numbers the same way.

use crate::analysis::{precision, Interval, Summary};
use crate::error::Result;
use crate::experiment::sweep::{MemoryResult, Strategy, SweepReport};
use crate::results::{
    self, axis_label, shorten, show_key, Comparison, GroupStats, Results, Start, StatsOptions,
};
use crate::words::plural;

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

/// Lines and tables, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Line(String),
    Table(Table),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Per column: right-aligned (numbers).
    pub right: Vec<bool>,
}

impl Report {
    fn line(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Line(text.into()));
    }

    fn table(&mut self, table: Table) {
        self.blocks.push(Block::Table(table));
    }

    /// Aligned text, one line per line.
    pub fn to_text(&self) -> String {
        self.blocks
            .iter()
            .map(|block| match block {
                Block::Line(line) => format!("{line}\n"),
                Block::Table(table) => table.to_text(),
            })
            .collect()
    }

    /// An HTML fragment for a notebook output (text escaped).
    pub fn to_html(&self) -> String {
        let mut html = String::from("<div class=\"faaset-report\">");
        for block in &self.blocks {
            match block {
                Block::Line(line) => html += &format!("<p>{}</p>", escape(line)),
                Block::Table(table) => html += &table.to_html(),
            }
        }
        html + "</div>"
    }
}

impl Table {
    fn new<S: AsRef<str>>(header: &[S], rows: Vec<Vec<String>>, right: Vec<bool>) -> Table {
        Table {
            header: header.iter().map(|h| h.as_ref().to_string()).collect(),
            rows,
            right,
        }
    }

    /// Columns padded to their widest cell, two spaces apart.
    pub fn to_text(&self) -> String {
        let width = |text: &str| text.chars().count();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let line = |cells: &[String]| -> String {
            let mut text = cells
                .iter()
                .zip(&widths)
                .zip(&self.right)
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
        let mut out = line(&self.header);
        for row in &self.rows {
            out += &line(row);
        }
        out
    }

    pub fn to_html(&self) -> String {
        let align = |i: usize| {
            if self.right.get(i).copied().unwrap_or(false) {
                " style=\"text-align: right\""
            } else {
                " style=\"text-align: left\""
            }
        };
        let mut html = String::from("<table class=\"faaset-table\"><thead><tr>");
        for (i, h) in self.header.iter().enumerate() {
            html += &format!("<th{}>{}</th>", align(i), escape(h));
        }
        html += "</tr></thead><tbody>";
        for row in &self.rows {
            html += "<tr>";
            for (i, cell) in row.iter().enumerate() {
                html += &format!("<td{}>{}</td>", align(i), escape(cell));
            }
            html += "</tr>";
        }
        html + "</tbody></table>"
    }
}

/// `load`: the key columns of every row, the counts, and the column types (as polars would
/// infer them).
pub fn load(results: &Results, command: &str) -> Result<Report> {
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
    let right = columns.iter().map(|c| *c != "error").collect();
    let mut report = Report::default();
    report.table(Table::new(&columns, rows, right));
    report.line(format!(
        "showing {} of {} columns; {command} shows them all",
        columns.len(),
        results.header().len(),
    ));
    report.line(format!(
        "{} ({})",
        counts(results),
        results.path().display()
    ));
    let types: Vec<String> = columns
        .iter()
        .filter_map(|c| results.column_type(c).map(|t| format!("{c} {t}")))
        .collect();
    report.line(format!("types: {}", types.join(", ")));
    Ok(report)
}

/// `stats`: summary statistics of `metric` over successful calls, optionally per group, cold
/// and warm calls apart where both occur; 95% bootstrap intervals; the calls a chosen
/// interval width needs; warnings where a sample is too small for its numbers.
pub fn stats(results: &Results, metric: &str, options: &StatsOptions) -> Result<Report> {
    let groups = results.statistics(metric, options)?;
    let group_by = options.group_by.as_deref();
    let split = groups.iter().any(|g| g.start.is_some());
    let mut report = Report::default();
    report.line(format!(
        "{}: {} of successful calls only ({})",
        results.label(),
        axis_label(metric),
        counts(results)
    ));
    if split {
        report.line(
            "cold and warm calls apart (cold: coldStart true, or SAAF's newcontainer 1): their times are different distributions",
        );
    }
    // The leading cells of an entry's rows: its group, and which of its calls.
    let lead = |g: &GroupStats| -> Vec<String> {
        let mut row = Vec::new();
        if let Some(key) = &g.group {
            row.push(show_key(key).to_string());
        }
        if split {
            row.push(g.start.map_or("all", Start::name).to_string());
        }
        row
    };
    let mut lead_header: Vec<&str> = Vec::new();
    if let Some(by) = group_by {
        lead_header.push(by);
    }
    if split {
        lead_header.push("calls");
    }
    let left = lead_header.len();
    let right = |columns: usize| (0..columns).map(|i| i >= left).collect::<Vec<bool>>();

    let mut header = lead_header.clone();
    header.extend([
        "count", "errors", "cold", "min", "max", "mean", "median", "sd", "cv", "p90", "p95", "p99",
    ]);
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let mut row = lead(g);
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
    report.table(Table::new(&header, rows, right(header.len())));

    let with_intervals: Vec<&GroupStats> =
        groups.iter().filter(|g| g.intervals.is_some()).collect();
    if with_intervals.is_empty() {
        return Ok(report);
    }
    report.line(format!(
        "95% confidence intervals: percentile bootstrap, {} resamples, seed {} (the same seed gives the same intervals)",
        options.bootstrap.resamples, options.bootstrap.seed
    ));
    let mut header = lead_header.clone();
    header.extend(["n", "mean", "median", "p95", "p99"]);
    let rows = with_intervals
        .iter()
        .map(|g| {
            let i = g.intervals.as_ref().expect("filtered");
            let mut row = lead(g);
            row.push(g.summary.as_ref().map_or(0, |s| s.count).to_string());
            row.extend([i.mean, i.median, i.p95, i.p99].map(interval));
            row
        })
        .collect();
    report.table(Table::new(&header, rows, right(header.len())));

    if let Some(width) = options.ci_width {
        report.line(format!(
            "calls needed for 95% intervals {} {} wide (widths shrink as 1/√calls; p95/p99 need 20/100 calls at least):",
            num(width),
            if crate::results::is_milliseconds(metric) { "ms" } else { "units" }
        ));
        let mut header = lead_header.clone();
        header.extend(["n", "mean", "median", "p95", "p99"]);
        let rows = with_intervals
            .iter()
            .map(|g| {
                let i = g.intervals.as_ref().expect("filtered");
                let n = g.summary.as_ref().map_or(0, |s| s.count);
                let mut row = lead(g);
                row.push(n.to_string());
                let floors = [
                    1,
                    1,
                    precision::calls_for_percentile(95.0),
                    precision::calls_for_percentile(99.0),
                ];
                for (interval, floor) in [i.mean, i.median, i.p95, i.p99].iter().zip(floors) {
                    row.push(
                        precision::calls_for_width(n, interval.width(), width, floor)
                            .map_or("-".to_string(), |c| c.to_string()),
                    );
                }
                row
            })
            .collect();
        report.table(Table::new(&header, rows, right(header.len())));
    }
    for g in &with_intervals {
        let n = g.summary.as_ref().map_or(0, |s| s.count);
        let who = lead(g).join(" ");
        for warning in precision::summary_warnings(n) {
            report.line(if who.is_empty() {
                format!("warning: {warning}")
            } else {
                format!("warning ({who}): {warning}")
            });
        }
    }
    Ok(report)
}

/// "12.31 – 14.02".
fn interval(i: Interval) -> String {
    format!("{} – {}", num(i.low), num(i.high))
}

/// `ttest`: both samples, Welch's (or the paired) t-test, Mann–Whitney U, and the verdict.
pub fn comparison(c: &Comparison, a: &Results, b: &Results) -> Report {
    let mut report = Report::default();
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
    report.line(format!("{}, {scope}", axis_label(&c.metric)));
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
    report.table(Table::new(
        &["", "experiment", "n", "mean", "median", "sd"],
        rows,
        vec![false, false, true, true, true, true],
    ));
    let t = &c.t_test;
    report.line(format!(
        "{test}: mean difference a − b = {} (95% CI {} to {}), t = {:.3}, df = {:.1}, p = {}",
        num(t.mean_difference),
        num(t.ci95_low),
        num(t.ci95_high),
        t.t,
        t.df,
        p_value(t.p_value)
    ));
    report.line(format!(
        "effect size: Cohen's {} = {:.3} ({})",
        if c.paired {
            "d_z (paired)"
        } else {
            "d (pooled sd)"
        },
        c.cohens_d.value,
        c.cohens_d.magnitude
    ));
    report.line(format!(
        "Mann–Whitney U = {:.1}, p = {}; effect size: Cliff's delta = {:.3} ({})",
        c.mann_whitney.u,
        p_value(c.mann_whitney.p_value),
        c.cliffs_delta.value,
        c.cliffs_delta.magnitude
    ));
    let d = &c.differences;
    report.line(format!(
        "bootstrap 95% CI (percentile, {} resamples, seed {}{}): mean difference a − b {}, median difference {}",
        d.bootstrap.resamples,
        d.bootstrap.seed,
        if d.paired { ", pairs resampled" } else { ", each side resampled" },
        interval(d.mean),
        interval(d.median)
    ));
    for warning in &c.warnings {
        report.line(format!("warning: {warning}"));
    }
    report.line(if t.p_value < 0.05 {
        let direction = if t.mean_difference > 0.0 {
            "higher"
        } else {
            "lower"
        };
        format!(
            "significant at 0.05: {} has a {direction} mean {} than {} (p = {})",
            c.a,
            c.metric,
            c.b,
            p_value(t.p_value)
        )
    } else {
        format!(
            "not significant at 0.05: no evidence that {} differs between {} and {} (p = {})",
            c.metric,
            c.a,
            c.b,
            p_value(t.p_value)
        )
    });
    report
}

/// A memory sweep: per setting calls, errors, duration and cost; the best per strategy.
pub fn sweep(report: &SweepReport) -> Report {
    let mut out = Report::default();
    out.line(format!(
        "memory sweep of {} on {} (experiment {}; mean and median {} of successful calls, fastest and slowest {}% dropped)",
        report.function,
        report.platform,
        report.experiment,
        report.metric,
        report.discard_top_bottom * 100.0
    ));
    let mut notes = Vec::new();
    let rows = report
        .results
        .iter()
        .map(|r| {
            if r.mismatched > 0 {
                notes.push(format!(
                    "{} MB: {} successful call(s) reported another memory size and were left out",
                    r.memory, r.mismatched
                ));
            }
            let (mean, median, cost, million) = match r.stats {
                Some(s) => (
                    format!("{:.2}", s.mean_duration_ms),
                    format!("{:.2}", s.median_duration_ms),
                    format!("{:.10}", s.mean_cost_usd),
                    format!("{:.4}", s.mean_cost_usd * 1e6),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into()),
            };
            vec![
                format!("{} MB", r.memory),
                r.calls.to_string(),
                r.errors.to_string(),
                mean,
                median,
                cost,
                million,
            ]
        })
        .collect();
    out.table(Table::new(
        &[
            "MEMORY",
            "CALLS",
            "ERRORS",
            "MEAN ms",
            "MEDIAN ms",
            "USD/CALL",
            "USD/1M CALLS",
        ],
        rows,
        vec![true; 7],
    ));
    for note in notes {
        out.line(note);
    }
    for strategy in Strategy::ALL {
        out.line(match report.best(strategy) {
            Some(best) => format!("best for {strategy}: {}", describe_best(strategy, best)),
            None => format!("best for {strategy}: none (no setting had a successful call)"),
        });
    }
    out.line(format!(
        "prices: ${} per GB-second + ${:.2} per 1M requests ({})",
        report.pricing.per_gb_second,
        report.pricing.per_request * 1e6,
        report.pricing.source
    ));
    if let Some(m) = report.original_memory {
        out.line(format!("memory restored to {m} MB"));
    }
    out.line(format!("results: {}", report.results_csv.display()));
    out
}

fn describe_best(strategy: Strategy, best: &MemoryResult) -> String {
    let Some(s) = best.stats else {
        return format!("{} MB", best.memory);
    };
    let detail = match strategy {
        Strategy::Cost => format!("${:.4} per 1M calls", s.mean_cost_usd * 1e6),
        Strategy::Speed => format!("{:.2} ms mean", s.mean_duration_ms),
        Strategy::Balanced => format!(
            "{:.2} ms mean, ${:.4} per 1M calls; cost and duration normalised and weighted equally",
            s.mean_duration_ms,
            s.mean_cost_usd * 1e6
        ),
    };
    format!("{} MB ({detail})", best.memory)
}

/// `list`: the platforms, then one row per function (name, platform, where deployed with
/// which memory, experiments). A function whose `FAASET.json` cannot be read gets a line
/// saying so; the others are still listed.
pub fn list(workspace: &crate::Workspace) -> Report {
    use crate::function::{FunctionPaths, FunctionState};
    let mut report = Report::default();
    report.line(format!("platforms: {}", workspace.platforms().join(", ")));
    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    for name in workspace.functions() {
        let state = match FunctionState::load(&FunctionPaths::new(workspace, &name)) {
            Ok(state) => state.unwrap_or_default(),
            Err(e) => {
                unreadable.push(format!("{name}: cannot be read ({e})"));
                continue;
            }
        };
        let deployed: Vec<String> = state
            .deployed
            .iter()
            .map(|(platform, d)| match d.config.get("memory") {
                Some(m) => format!("{platform} ({m} MB)"),
                None => platform.clone(),
            })
            .collect();
        rows.push(vec![
            name.to_string(),
            state.platform.clone(),
            if deployed.is_empty() {
                "no".into()
            } else {
                deployed.join(", ")
            },
            results::experiments(workspace, &name).join(", "),
        ]);
    }
    if rows.is_empty() && unreadable.is_empty() {
        report
            .line("functions: none yet (define one with a %%cloud_function cell or `faaset new`)");
    } else if !rows.is_empty() {
        report.table(Table::new(
            &["function", "platform", "deployed", "experiments"],
            rows,
            vec![false; 4],
        ));
    }
    for line in unreadable {
        report.line(line);
    }
    report
}

/// The line that ends an experiment: calls, errors, cold starts, time and rate, then where
/// the rows are.
pub fn experiment(summary: &crate::experiment::ExperimentSummary) -> Report {
    let cold = summary
        .cold_starts
        .map(|n| format!(", {n} cold start{}", plural(n)))
        .unwrap_or_default();
    let seconds = summary.elapsed.as_secs_f64();
    let mut report = Report::default();
    report.line(format!(
        "experiment {} of {} on {}: {} calls, {} error{}{cold}, {seconds:.2} s, {:.1} calls/s",
        summary.experiment,
        summary.function,
        summary.platform,
        summary.calls,
        summary.errors,
        plural(summary.errors),
        summary.calls as f64 / seconds.max(1e-9),
    ));
    if summary.cold {
        report.line("cold=true: every call asked for a fresh execution environment");
    }
    if let Some(open) = &summary.open_loop {
        for line in open_loop(open) {
            report.line(line);
        }
    }
    report.line(format!("results: {}", summary.results_csv.display()));
    report
}

/// An open-loop run's schedule against what was sent: the asked and kept rate, the waits.
fn open_loop(o: &crate::experiment::OpenLoopReport) -> Vec<String> {
    let mut lines = vec![format!(
        "open loop, {} arrivals: asked {} calls/s for {} s, {} calls scheduled ({} calls/s), sent at {} calls/s; queueTime median {} ms, p99 {} ms, max {} ms",
        o.arrival.name(),
        num(o.asked_rate),
        num(o.duration_s),
        o.scheduled,
        num(o.scheduled_rate),
        num(o.sent_rate),
        num(o.queue_median_ms),
        num(o.queue_p99_ms),
        num(o.queue_max_ms),
    )];
    if !o.kept_rate() || o.waited_for_slot > 0 {
        let cause = if o.waited_for_slot > 0 {
            format!(
                "{} call{} found all {} slots busy (concurrency=) and waited: the function answers slower than calls arrive",
                o.waited_for_slot,
                plural(o.waited_for_slot),
                o.concurrency
            )
        } else {
            "no call waited for a slot, so the client (this machine's CPU) could not issue calls faster".to_string()
        };
        lines.push(format!(
            "{}: sent {:.1}% below the scheduled rate, the last call {} ms late; {cause} (queueTime and responseTime in the rows show it per call)",
            if o.kept_rate() { "the rate was kept (within 1%), but calls queued" } else { "could not keep the rate" },
            o.shortfall() * 100.0,
            num(o.end_lag_ms),
        ));
    }
    lines
}

/// "30 rows, 2 errors, 30 cold starts".
pub fn counts(results: &Results) -> String {
    format!(
        "{} rows, {} errors, {} cold starts",
        results.len(),
        results.errors(),
        results.cold_starts()
    )
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
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        "-".to_string()
    } else if x.abs() >= 1e9 {
        format!("{x:.4e}")
    } else {
        format!("{x:.2}")
    }
}

pub fn p_value(p: f64) -> String {
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

/// HTML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&#39;",
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_numbers_format() {
        let t = Table::new(
            &["a", "long"],
            vec![vec!["1".into(), "x".into()], vec!["100".into(), "".into()]],
            vec![true, false],
        );
        assert_eq!(t.to_text(), "  a  long\n  1  x\n100\n");
        assert_eq!(num(f64::NAN), "-");
        assert_eq!(num(1.005e3), "1005.00");
        assert_eq!(show_cell("12.3456"), "12.35");
        assert_eq!(show_cell("12"), "12");
        assert_eq!(p_value(0.0001234), "1.23e-4");
    }

    #[test]
    fn html_escapes_what_functions_return() {
        let mut report = Report::default();
        report.line("a < b & \"c\"");
        report.table(Table::new(
            &["error"],
            vec![vec!["<script>alert(1)</script>".into()]],
            vec![false],
        ));
        let html = report.to_html();
        assert!(html.contains("<p>a &lt; b &amp; &quot;c&quot;</p>"));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("<table class=\"faaset-table\">"));
        assert_eq!(report.to_text().lines().count(), 3);
    }
}
