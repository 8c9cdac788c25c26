//! Reading an experiment's results back (FaaS Runner's `load`, tutorial §4–5): [`load`] reads
//! `functions/<fn>/experiments/<exp>/results.csv` into [`Results`], the header and rows with
//! typed access to columns, and the computations every front end (CLI, notebook) shares:
//! per-group statistics ([`Results::stats`]), two-experiment comparisons ([`compare`]) and
//! charts ([`Results::plot`]). Rendering the numbers as text or HTML is the caller's job.
//!
//! Rules, the same everywhere:
//! - cells are kept as text; [`Results::column_f64`] parses numbers (empty → `None`,
//!   `true`/`false` → 1/0, so `coldStart` is numeric too);
//! - a row is an **error** when its `error` cell is not empty, and a **cold start** when its
//!   `coldStart` cell is `true` (or, where that cell is empty or the column missing, when
//!   `newcontainer` is 1);
//! - metrics ([`Results::metric`], statistics, tests, charts of a metric) use **successful
//!   rows only**: an error row's numbers describe a failure, not the function;
//! - every failure is one line saying what exists and what to do: [`Error::UnknownExperiment`]
//!   and [`Error::UnknownColumn`] carry the names, the rest are [`Error::Usage`].
//!
//! Files: [`compare`] (two experiments' comparison), `labels` (how metrics and keys are
//! shown), `types` (each column's type, as polars infers it) and, with the `dataframe`
//! feature, `dataframe` (the rows as a polars `DataFrame`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::analysis::{self, AnalysisError, Bootstrap, Intervals, Summary};
use crate::error::{Error, Result};
use crate::experiment::check_experiment_name;
use crate::function::FunctionPaths;
use crate::name::FunctionName;
use crate::plot::{self, Image, Invocation, Options, PlotError};
use crate::words::closest;
use crate::workspace::Workspace;

mod compare;
#[cfg(feature = "dataframe")]
mod dataframe;
mod labels;
mod types;

pub use compare::{compare, compare_with, Comparison};
#[cfg(feature = "dataframe")]
pub use dataframe::{dataframe, read_dataframe};
pub use labels::{axis_label, is_milliseconds, shorten, show_key};
pub use types::ColumnType;

/// The file of an experiment's rows, inside its folder.
pub const RESULTS_FILE: &str = "results.csv";

/// The results of one experiment (every run of it: repeated runs append).
#[derive(Debug, Clone)]
pub struct Results {
    function: String,
    experiment: String,
    path: PathBuf,
    header: Vec<String>,
    index: HashMap<String, usize>,
    /// Every row has exactly `header.len()` cells.
    rows: Vec<Vec<String>>,
    /// Record numbers of records that were not whole rows (left out).
    skipped: Vec<usize>,
}

/// The metric `stats`, `ttest` and `plot` use when none is named.
pub const DEFAULT_METRIC: &str = "runtime";

/// One experiment of one function, written `FUNCTION/EXPERIMENT` (the two samples of `ttest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub function: String,
    pub experiment: String,
}

impl std::str::FromStr for Sample {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text.split_once('/') {
            Some((function, experiment))
                if !function.is_empty() && !experiment.is_empty() && !experiment.contains('/') =>
            {
                FunctionName::new(function)?;
                check_experiment_name(experiment)?;
                Ok(Sample {
                    function: function.to_string(),
                    experiment: experiment.to_string(),
                })
            }
            _ => Err(Error::Usage(format!(
                "expected FUNCTION/EXPERIMENT, e.g. calc_service/t_test_demo, got {text:?}"
            ))),
        }
    }
}

/// Loads `functions/<function>/experiments/<experiment>/results.csv` of `workspace`.
///
/// Names are checked first; an unknown function or experiment is a one-line error listing
/// what exists.
pub fn load(workspace: &Workspace, function: &str, experiment: &str) -> Result<Results> {
    let name = FunctionName::new(function)?;
    check_experiment_name(experiment)?;
    let paths = FunctionPaths::new(workspace, &name);
    let path = experiment_dir(workspace, &name, experiment).join(RESULTS_FILE);
    if !path.is_file() {
        let known = experiments(workspace, &name);
        if known.is_empty() && !paths.state_file().is_file() {
            return Err(crate::deploy::unknown_function(workspace, &name));
        }
        let hint = closest(&known, experiment)
            .map(|k| format!("did you mean {k:?}? "))
            .unwrap_or_default();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        return Err(Error::UnknownExperiment {
            function: name.to_string(),
            experiment: experiment.to_string(),
            hint,
            known,
        });
    }
    Results::from_path(&path, name.as_str(), experiment)
}

/// `functions/<function>/experiments/<experiment>/`.
pub fn experiment_dir(workspace: &Workspace, function: &FunctionName, experiment: &str) -> PathBuf {
    FunctionPaths::new(workspace, function)
        .experiments_dir()
        .join(experiment)
}

/// The experiments of `function` that have a results file, sorted.
pub fn experiments(workspace: &Workspace, function: &FunctionName) -> Vec<String> {
    let dir = FunctionPaths::new(workspace, function).experiments_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(RESULTS_FILE).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| check_experiment_name(n).is_ok())
        .collect();
    names.sort();
    names
}

impl Results {
    /// Reads a results file; `function` and `experiment` only label messages and charts.
    pub fn from_path(path: &Path, function: &str, experiment: &str) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        // A last record without its terminator was cut by a crash (the writer ends every
        // record): left out, even when its cells happen to count right.
        let whole = whole_records_len(&bytes);
        let mut results =
            Self::from_reader(&bytes[..whole], function, experiment).map_err(|e| match e {
                Error::Usage(message) => Error::Usage(format!("{}: {message}", path.display())),
                other => other,
            })?;
        if whole < bytes.len() && whole > 0 {
            let record = results.rows.len() + results.skipped.len() + 2;
            results.skipped.push(record);
        }
        results.path = path.to_path_buf();
        Ok(results)
    }

    /// Parses CSV text with a header line. A record that is not a whole row (another number
    /// of cells than the header, text that is not UTF-8: a file edited by hand, or cut by a
    /// crash of an older version) is skipped and counted (see [`Results::skipped`]), so one
    /// bad line never hides the rest of an experiment.
    pub fn from_reader(
        reader: impl std::io::Read,
        function: &str,
        experiment: &str,
    ) -> Result<Self> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut records = csv.byte_records();
        let text = |record: &csv::ByteRecord| -> Option<Vec<String>> {
            record
                .iter()
                .map(|cell| String::from_utf8(cell.to_vec()).ok())
                .collect()
        };
        let header: Vec<String> = match records.next() {
            Some(record) => {
                let record =
                    record.map_err(|e| Error::Usage(format!("not a readable CSV file ({e})")))?;
                text(&record).ok_or_else(|| {
                    Error::Usage("not a results file: its header is not UTF-8 text".into())
                })?
            }
            None => Vec::new(),
        };
        let mut rows = Vec::new();
        let mut skipped = Vec::new();
        for (line, record) in records.enumerate() {
            let row = record
                .ok()
                .and_then(|r| text(&r))
                .filter(|row| row.len() == header.len());
            match row {
                Some(row) => rows.push(row),
                None => skipped.push(line + 2),
            }
        }
        let index = header
            .iter()
            .enumerate()
            .rev() // the first of duplicate names wins
            .map(|(i, name)| (name.clone(), i))
            .collect();
        Ok(Results {
            function: function.to_string(),
            experiment: experiment.to_string(),
            path: PathBuf::new(),
            header,
            index,
            rows,
            skipped,
        })
    }

    /// Records that were not whole rows and were left out, by record number (the header is
    /// record 1).
    pub fn skipped(&self) -> &[usize] {
        &self.skipped
    }

    /// A warning for the records left out, if any.
    pub fn skipped_warning(&self) -> Option<String> {
        let first: Vec<String> = self.skipped.iter().take(5).map(usize::to_string).collect();
        (!self.skipped.is_empty()).then(|| {
            format!(
                "{}: {} damaged record(s) skipped (record {}{}); the other {} rows are used",
                self.path.display(),
                self.skipped.len(),
                first.join(", "),
                if self.skipped.len() > 5 { ", …" } else { "" },
                self.rows.len()
            )
        })
    }

    /// The rows as CSV text (the header and every whole row), e.g. for a DataFrame reader.
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let write = |w: &mut csv::Writer<Vec<u8>>, r: &[String]| {
            w.write_record(r)
                .map_err(|e| Error::Internal(format!("encode CSV: {e}")))
        };
        write(&mut writer, &self.header)?;
        for row in &self.rows {
            write(&mut writer, row)?;
        }
        writer
            .into_inner()
            .map_err(|e| Error::Internal(format!("encode CSV: {e}")))
    }

    pub fn function(&self) -> &str {
        &self.function
    }

    pub fn experiment(&self) -> &str {
        &self.experiment
    }

    /// `function/experiment`, as the CLI's `ttest` takes it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.function, self.experiment)
    }

    /// The file read (empty for [`Results::from_reader`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// All rows, each with one cell per header column.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The cell of `row` in `column`; `None` when the column does not exist.
    pub fn cell(&self, row: usize, column: &str) -> Option<&str> {
        let i = *self.index.get(column)?;
        self.rows.get(row).map(|r| r[i].as_str())
    }

    /// The number in a cell (`true`/`false` as 1/0), if it holds one.
    pub fn number(&self, row: usize, column: &str) -> Option<f64> {
        self.cell(row, column).and_then(number)
    }

    /// A column's cells as text.
    pub fn column_str(&self, name: &str) -> Result<Vec<&str>> {
        let i = self.column_index(name, &self.header)?;
        Ok(self.rows.iter().map(|r| r[i].as_str()).collect())
    }

    /// A column's cells as numbers: empty → `None`, `true`/`false` → 1/0. A column holding
    /// text is an error, as is an unknown one (both name the numeric columns).
    pub fn column_f64(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let i = self.column_index(name, &self.numeric_columns())?;
        self.rows
            .iter()
            .enumerate()
            .map(|(row, cells)| {
                let cell = cells[i].as_str();
                if cell.is_empty() {
                    return Ok(None);
                }
                number(cell).map(Some).ok_or_else(|| {
                    Error::Usage(format!(
                        "column {name:?} of {} is not numeric (row {} holds {:?}); numeric columns: {}",
                        self.label(),
                        row + 1,
                        shorten(cell, 40),
                        self.numeric_columns().join(", ")
                    ))
                })
            })
            .collect()
    }

    /// Columns whose cells are all numbers or empty, with at least one number, in header order.
    pub fn numeric_columns(&self) -> Vec<&str> {
        self.header
            .iter()
            .enumerate()
            .filter(|(i, name)| {
                self.index.get(name.as_str()) == Some(i)
                    && self.rows.iter().any(|r| !r[*i].is_empty())
                    && self
                        .rows
                        .iter()
                        .all(|r| r[*i].is_empty() || number(&r[*i]).is_some())
            })
            .map(|(_, name)| name.as_str())
            .collect()
    }

    /// True when call `row` failed (its `error` cell is not empty).
    pub fn is_error(&self, row: usize) -> bool {
        self.cell(row, "error").is_some_and(|c| !c.is_empty())
    }

    /// True when call `row` was a cold start: `coldStart` is true, or, lacking that cell,
    /// `newcontainer` is 1.
    pub fn is_cold(&self, row: usize) -> bool {
        cold_start(self.cell(row, "coldStart"), self.cell(row, "newcontainer")) == Some(true)
    }

    /// Rows whose call failed.
    pub fn errors(&self) -> usize {
        (0..self.len()).filter(|&r| self.is_error(r)).count()
    }

    /// Rows whose call was a cold start.
    pub fn cold_starts(&self) -> usize {
        (0..self.len()).filter(|&r| self.is_cold(r)).count()
    }

    /// Rows whose call succeeded.
    pub fn successes(&self) -> usize {
        self.len() - self.errors()
    }

    /// The values of `metric` in successful rows (rows without a value are skipped).
    pub fn metric(&self, metric: &str) -> Result<Vec<f64>> {
        let values = self.column_f64(metric)?;
        Ok(values
            .into_iter()
            .enumerate()
            .filter(|(row, _)| !self.is_error(*row))
            .filter_map(|(_, v)| v)
            .collect())
    }

    /// The values of `metric` in successful rows, per value of column `by`, groups ordered
    /// numerically when every key is a number (memory sizes), else as text, rows without a
    /// key last. Every key of the
    /// column gets a group, even one whose rows all failed (then it has no values).
    pub fn metric_by(&self, metric: &str, by: &str) -> Result<Vec<(String, Vec<f64>)>> {
        let values = self.column_f64(metric)?;
        let keys = self.column_str(by)?;
        let mut groups: Vec<(String, Vec<f64>)> = Vec::new();
        let mut position: HashMap<&str, usize> = HashMap::new();
        for (row, key) in keys.iter().enumerate() {
            let at = *position.entry(key).or_insert_with(|| {
                groups.push((key.to_string(), Vec::new()));
                groups.len() - 1
            });
            if let (false, Some(value)) = (self.is_error(row), values[row]) {
                groups[at].1.push(value);
            }
        }
        sort_groups(&mut groups);
        Ok(groups)
    }

    /// Statistics of `metric` (successful rows), in one group or per value of `group_by`,
    /// with each group's rows, errors and cold starts. Fails when no group has a value.
    pub fn stats(&self, metric: &str, group_by: Option<&str>) -> Result<Vec<GroupStats>> {
        let rows_of = |key: Option<&str>, keys: &[&str]| -> (usize, usize, usize) {
            let rows: Vec<usize> = (0..self.len())
                .filter(|&r| key.is_none_or(|k| keys[r] == k))
                .collect();
            let errors = rows.iter().filter(|&&r| self.is_error(r)).count();
            let cold = rows.iter().filter(|&&r| self.is_cold(r)).count();
            (rows.len(), errors, cold)
        };
        let groups: Vec<(Option<String>, Vec<f64>)> = match group_by {
            None => vec![(None, self.metric(metric)?)],
            Some(by) => self
                .metric_by(metric, by)?
                .into_iter()
                .map(|(k, v)| (Some(k), v))
                .collect(),
        };
        if groups.iter().all(|(_, values)| values.is_empty()) {
            return Err(self.no_values(metric));
        }
        let keys = match group_by {
            Some(by) => self.column_str(by)?,
            None => Vec::new(),
        };
        groups
            .into_iter()
            .map(|(group, values)| {
                let (rows, errors, cold_starts) = rows_of(group.as_deref(), &keys);
                let summary = if values.is_empty() {
                    None
                } else {
                    Some(analysis::summarize(&values).map_err(|e| self.analysis_error(metric, e))?)
                };
                Ok(GroupStats {
                    group,
                    start: None,
                    rows,
                    errors,
                    cold_starts,
                    summary,
                    intervals: None,
                })
            })
            .collect()
    }

    /// `stats`' numbers: [`Results::stats`] per group, each group whose successful calls are
    /// both cold and warm followed by its cold and its warm calls apart (a cold start's
    /// init time would otherwise hide in the warm calls' tail), every entry with bootstrap
    /// intervals of its mean, median, p95 and p99.
    pub fn statistics(&self, metric: &str, options: &StatsOptions) -> Result<Vec<GroupStats>> {
        options
            .bootstrap
            .check()
            .map_err(|e| Error::Usage(e.to_string()))?;
        if let Some(width) = options.ci_width {
            if !(width.is_finite() && width > 0.0) {
                return Err(Error::Usage(format!(
                    "ci_width must be a positive number in the unit of {metric} (e.g. ci_width=1 for 1 ms), got {width}"
                )));
            }
        }
        let group_by = options.group_by.as_deref();
        let values = self.column_f64(metric)?;
        let keys = match group_by {
            Some(by) => Some(self.column_str(by)?),
            None => None,
        };
        let mut out = Vec::new();
        for group in self.stats(metric, group_by)? {
            let in_group = |row: usize| match (&keys, &group.group) {
                (Some(keys), Some(key)) => keys[row] == key,
                _ => true,
            };
            let part = |cold: bool| -> Result<GroupStats> {
                let rows: Vec<usize> = (0..self.len())
                    .filter(|&r| in_group(r) && self.is_cold(r) == cold)
                    .collect();
                let successful: Vec<f64> = rows
                    .iter()
                    .filter(|&&r| !self.is_error(r))
                    .filter_map(|&r| values[r])
                    .collect();
                let summary = if successful.is_empty() {
                    None
                } else {
                    Some(
                        analysis::summarize(&successful)
                            .map_err(|e| self.analysis_error(metric, e))?,
                    )
                };
                Ok(GroupStats {
                    group: group.group.clone(),
                    start: Some(if cold { Start::Cold } else { Start::Warm }),
                    rows: rows.len(),
                    errors: rows.iter().filter(|&&r| self.is_error(r)).count(),
                    cold_starts: if cold { rows.len() } else { 0 },
                    intervals: self.intervals(metric, &successful, options.bootstrap)?,
                    summary,
                })
            };
            let (cold, warm) = (part(true)?, part(false)?);
            let mixed = cold.summary.is_some() && warm.summary.is_some();
            let successful: Vec<f64> = (0..self.len())
                .filter(|&r| in_group(r) && !self.is_error(r))
                .filter_map(|r| values[r])
                .collect();
            out.push(GroupStats {
                intervals: self.intervals(metric, &successful, options.bootstrap)?,
                ..group
            });
            if mixed {
                out.extend([cold, warm]);
            }
        }
        Ok(out)
    }

    fn intervals(
        &self,
        metric: &str,
        values: &[f64],
        bootstrap: Bootstrap,
    ) -> Result<Option<Intervals>> {
        if values.is_empty() {
            return Ok(None);
        }
        analysis::bootstrap::intervals(values, bootstrap)
            .map(Some)
            .map_err(|e| self.analysis_error(metric, e))
    }

    /// The calls for a timeline chart: client `startTime`/`endTime`, cold start, error and
    /// `threadID` of every row (failed calls included) that has both times.
    pub fn invocations(&self) -> Result<Vec<Invocation>> {
        for column in ["startTime", "endTime"] {
            if !self.has_column(column) {
                return Err(Error::Usage(format!(
                    "{} has no {column} column, which a timeline needs",
                    self.label()
                )));
            }
        }
        let start = self.column_f64("startTime")?;
        let end = self.column_f64("endTime")?;
        let thread = if self.has_column("threadID") {
            self.column_f64("threadID")?
        } else {
            vec![None; self.len()]
        };
        Ok((0..self.len())
            .filter_map(|r| {
                Some(Invocation {
                    start_ms: start[r]?,
                    end_ms: end[r]?,
                    cold: self.is_cold(r),
                    error: self.is_error(r),
                    thread: thread[r].unwrap_or(0.0).max(0.0) as u32,
                })
            })
            .collect())
    }

    /// A chart of this experiment: a histogram, box plot or CDF of `metric` (successful
    /// rows; box and CDF one box or line per value of `group_by`), or the timeline of all calls.
    pub fn plot(
        &self,
        kind: PlotKind,
        metric: &str,
        group_by: Option<&str>,
        options: impl Into<Options>,
    ) -> Result<Image> {
        let options = options.into();
        let title = match kind {
            PlotKind::Timeline => format!("{}: calls over time", self.label()),
            _ => format!("{}: {metric}", self.label()),
        };
        let axis = axis_label(metric);
        let series = || -> Result<Vec<(String, Vec<f64>)>> {
            Ok(match group_by {
                Some(by) => self
                    .metric_by(metric, by)?
                    .into_iter()
                    .map(|(key, values)| (format!("{by} {}", show_key(&key)), values))
                    .collect(),
                None => vec![(self.experiment.clone(), self.metric(metric)?)],
            })
        };
        if group_by.is_some() && matches!(kind, PlotKind::Histogram | PlotKind::Timeline) {
            return Err(Error::Usage(format!(
                "--group-by applies to box and cdf plots, not {}; use --kind box or --kind cdf",
                kind.name()
            )));
        }
        let image = match kind {
            PlotKind::Histogram => {
                let values = self.metric(metric)?;
                if values.is_empty() {
                    return Err(self.no_values(metric));
                }
                plot::histogram(&values, &title, &axis, options)
            }
            PlotKind::Box => {
                let groups = series()?;
                if groups.iter().all(|(_, v)| v.is_empty()) {
                    return Err(self.no_values(metric));
                }
                plot::box_plot(&groups, &title, &axis, options)
            }
            PlotKind::Cdf => {
                let groups = series()?;
                if groups.iter().all(|(_, v)| v.is_empty()) {
                    return Err(self.no_values(metric));
                }
                plot::cdf(&groups, &title, &axis, options)
            }
            PlotKind::Timeline => plot::timeline(&self.invocations()?, &title, options),
        };
        image.map_err(plot_error)
    }

    /// Index of column `name`, or an error naming `choices` (and a close match).
    fn column_index<S: AsRef<str>>(&self, name: &str, choices: &[S]) -> Result<usize> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        if self.header.is_empty() {
            return Err(Error::Usage(format!(
                "{} has no results yet (its {RESULTS_FILE} is empty); run the experiment first",
                self.label()
            )));
        }
        let choices: Vec<&str> = choices.iter().map(AsRef::as_ref).collect();
        let hint = closest(&choices, name)
            .map(|c| format!("did you mean {c:?}? "))
            .unwrap_or_default();
        let kind = if choices.len() < self.header.len() {
            "numeric columns"
        } else {
            "columns"
        };
        let list = if choices.is_empty() {
            "none".to_string()
        } else {
            choices.join(", ")
        };
        Err(Error::UnknownColumn {
            column: name.to_string(),
            results: self.label(),
            hint,
            kind,
            known: list,
        })
    }

    fn no_values(&self, metric: &str) -> Error {
        Error::Usage(format!(
            "no successful call of {} has a {metric} value ({} rows, {} errors); pick another metric or rerun the experiment",
            self.label(),
            self.len(),
            self.errors()
        ))
    }

    fn analysis_error(&self, metric: &str, error: AnalysisError) -> Error {
        Error::Usage(format!("{metric} of {}: {error}", self.label()))
    }
}

/// What [`Results::statistics`] is asked for beyond the metric.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsOptions {
    pub group_by: Option<String>,
    /// The width wanted of the 95% intervals, in the metric's unit: the report says how many
    /// calls each statistic needs for it.
    pub ci_width: Option<f64>,
    pub bootstrap: Bootstrap,
}

/// Which calls of a group an entry of [`Results::statistics`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Cold,
    Warm,
}

impl Start {
    pub fn name(self) -> &'static str {
        match self {
            Start::Cold => "cold",
            Start::Warm => "warm",
        }
    }
}

/// Statistics of one group of rows (all rows when not grouped).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupStats {
    /// The group's value of the group-by column; `None` when not grouped.
    pub group: Option<String>,
    /// Only the group's cold or warm calls; `None`: all of them.
    pub start: Option<Start>,
    /// Rows in the group, failed ones included.
    pub rows: usize,
    pub errors: usize,
    pub cold_starts: usize,
    /// Of the successful rows' values; `None` when the group has none.
    pub summary: Option<Summary>,
    /// 95% bootstrap intervals of the same values ([`Results::statistics`] only).
    pub intervals: Option<Intervals>,
}

/// The charts of [`Results::plot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotKind {
    Histogram,
    Box,
    Cdf,
    Timeline,
}

impl PlotKind {
    pub const NAMES: [&'static str; 4] = ["hist", "box", "cdf", "timeline"];
    /// The chart `plot` draws when none is named.
    pub const DEFAULT: PlotKind = PlotKind::Histogram;

    /// The name the CLI and magics take (`hist`, `box`, `cdf`, `timeline`).
    pub fn name(self) -> &'static str {
        match self {
            PlotKind::Histogram => "hist",
            PlotKind::Box => "box",
            PlotKind::Cdf => "cdf",
            PlotKind::Timeline => "timeline",
        }
    }
}

impl std::str::FromStr for PlotKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hist" | "histogram" => Ok(PlotKind::Histogram),
            "box" | "boxplot" => Ok(PlotKind::Box),
            "cdf" => Ok(PlotKind::Cdf),
            "timeline" => Ok(PlotKind::Timeline),
            _ => Err(Error::Usage(format!(
                "unknown plot kind {s:?} (kinds: {})",
                PlotKind::NAMES.join(", ")
            ))),
        }
    }
}

/// Whether a call started a new environment, from its `coldStart` cell (the platform's
/// word), else SAAF's `newcontainer`; `None` when neither says. The one definition of a cold
/// start, for the files' readers and the runner's count alike.
pub fn cold_start(cold_start: Option<&str>, newcontainer: Option<&str>) -> Option<bool> {
    match cold_start.filter(|c| !c.trim().is_empty()) {
        Some(cold) => Some(cold == "true" || number(cold) == Some(1.0)),
        None => newcontainer
            .filter(|c| !c.trim().is_empty())
            .map(|n| number(n) == Some(1.0)),
    }
}

/// A finite number in a cell (`true`/`false` count as 1/0).
fn number(cell: &str) -> Option<f64> {
    match cell {
        "true" => Some(1.0),
        "false" => Some(0.0),
        _ => cell.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
    }
}

/// The length of the longest prefix of `bytes` that is a sequence of complete CSV records,
/// each ended by its terminator outside quotes; a final record without one was cut.
pub(crate) fn whole_records_len(bytes: &[u8]) -> usize {
    use csv_core::ReadRecordResult;
    let mut reader = csv_core::Reader::new();
    // Field contents are not needed, only where records end: the buffers are reused.
    let mut fields = vec![0u8; 64 * 1024];
    let mut ends = vec![0usize; 1024];
    let (mut at, mut whole) = (0, 0);
    loop {
        let input = &bytes[at..];
        let (result, read, _, _) = reader.read_record(input, &mut fields, &mut ends);
        at += read;
        match result {
            ReadRecordResult::Record if !input.is_empty() => whole = at,
            // At the end of the input: a record with no terminator is a cut one.
            ReadRecordResult::Record | ReadRecordResult::End => return whole,
            ReadRecordResult::InputEmpty
            | ReadRecordResult::OutputFull
            | ReadRecordResult::OutputEndsFull => {}
        }
    }
}

/// Groups ordered numerically when every key is a number, else as text; an empty key last.
fn sort_groups(groups: &mut [(String, Vec<f64>)]) {
    let all_numeric = groups
        .iter()
        .all(|(k, _)| k.is_empty() || number(k).is_some());
    groups.sort_by(|x, y| {
        let (x, y) = (&x.0, &y.0);
        x.is_empty()
            .cmp(&y.is_empty())
            .then_with(|| match (all_numeric, number(x), number(y)) {
                (true, Some(nx), Some(ny)) => nx.total_cmp(&ny).then_with(|| x.cmp(y)),
                _ => x.cmp(y),
            })
    });
}

fn plot_error(error: PlotError) -> Error {
    match error {
        PlotError::Render(why) => Error::Internal(format!("plot rendering failed: {why}")),
        PlotError::Io(e) => Error::Internal(format!("cannot save plot: {e}")),
        other => Error::Usage(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::compare::paired_values;
    use super::*;

    const CSV: &str = "\
threadID,runID,startTime,endTime,runtime,error,coldStart,newcontainer,memorySize,payload
0,0,1000,1100,50.5,,true,1,128,\"{\"\"a\"\":1}\"
0,1,1100,1180,40,,false,0,128,{}
1,0,1000,1120,70,,,1,256,{}
1,1,1120,1150,,\"boom, \"\"x\"\"\",,,256,{}
2,0,1000,1090,60.5,,false,,1024,{}
2,1,1090,,,,,,,";

    fn results() -> Results {
        Results::from_reader(CSV.as_bytes(), "f", "e").unwrap()
    }

    #[test]
    fn cells_counts_and_typed_columns() {
        let r = results();
        assert_eq!(r.len(), 6);
        assert_eq!(r.header().len(), 10);
        assert_eq!(r.rows()[5].len(), 10);
        assert_eq!(r.cell(0, "payload"), Some(r#"{"a":1}"#));
        assert_eq!(r.cell(3, "error"), Some(r#"boom, "x""#));
        assert_eq!(r.errors(), 1);
        // row 0 coldStart, row 2 newcontainer (coldStart empty); row 1 and 4 warm.
        assert_eq!(r.cold_starts(), 2);
        assert_eq!(r.successes(), 5);
        assert_eq!(
            r.column_f64("runtime").unwrap(),
            [Some(50.5), Some(40.0), Some(70.0), None, Some(60.5), None]
        );
        assert_eq!(
            r.column_f64("coldStart").unwrap()[..2],
            [Some(1.0), Some(0.0)]
        );
        assert_eq!(r.metric("runtime").unwrap(), [50.5, 40.0, 70.0, 60.5]);
        assert_eq!(r.column_str("memorySize").unwrap()[4], "1024");
        assert!(!r.numeric_columns().contains(&"payload"));
        assert!(r.numeric_columns().contains(&"runtime"));
    }

    #[test]
    fn damaged_records_are_skipped_and_reported_not_fatal() {
        let mut text = b"runID,runtime,error\n0,1,\n1,2\n2,3,,extra\n3,".to_vec();
        text.extend_from_slice(b"\xff\xfe,\n4,5,\n5,6,");
        let r = Results::from_reader(&text[..], "f", "e").unwrap();
        assert_eq!(r.column_str("runID").unwrap(), ["0", "4", "5"]);
        // Record numbers as a reader counts them, the header being 1.
        assert_eq!(r.skipped(), [3, 4, 5]);
        let warning = r.skipped_warning().unwrap();
        assert!(
            warning.contains("3 damaged record(s) skipped (record 3, 4, 5)"),
            "{warning}"
        );
        assert!(results().skipped_warning().is_none());
        // The DataFrame reader and `--csv` see the same rows.
        let again = Results::from_reader(&r.to_csv().unwrap()[..], "f", "e").unwrap();
        assert_eq!(again.rows(), r.rows());
    }

    #[test]
    fn unknown_and_textual_columns_are_one_line_errors() {
        let r = results();
        let e = r.column_f64("runtme").unwrap_err().to_string();
        assert!(e.contains("unknown column \"runtme\" in f/e"), "{e}");
        assert!(e.contains("did you mean \"runtime\"?"), "{e}");
        assert!(e.contains("numeric columns: threadID, runID"), "{e}");
        assert!(!e.contains("payload"), "{e}");
        let e = r.column_f64("payload").unwrap_err().to_string();
        assert!(
            e.contains("\"payload\" of f/e is not numeric (row 1"),
            "{e}"
        );
        let e = r.column_str("nope").unwrap_err().to_string();
        assert!(
            e.contains("columns: threadID") && e.contains("payload"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn stats_group_numerically_and_count_errors_per_group() {
        let r = results();
        let all = r.stats("runtime", None).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].rows, all[0].errors, all[0].cold_starts), (6, 1, 2));
        assert_eq!(all[0].summary.as_ref().unwrap().count, 4);
        let groups = r.stats("runtime", Some("memorySize")).unwrap();
        let keys: Vec<_> = groups.iter().map(|g| g.group.clone().unwrap()).collect();
        assert_eq!(keys, ["128", "256", "1024", ""]);
        let counts: Vec<_> = groups
            .iter()
            .map(|g| (g.rows, g.errors, g.cold_starts))
            .collect();
        assert_eq!(counts, [(2, 0, 1), (2, 1, 1), (1, 0, 0), (1, 0, 0)]);
        assert_eq!(groups[1].summary.as_ref().unwrap().count, 1);
        assert!(groups[3].summary.is_none(), "the cut row has no runtime");
        let e = r
            .stats("runtime", Some("memorysize"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean \"memorySize\"?"), "{e}");
    }

    #[test]
    fn paired_values_match_thread_and_run() {
        let a = results();
        let b = Results::from_reader(
            "threadID,runID,runtime,error\n2,0,10,\n0,1,11,\n0,0,12,\n1,0,13,x\n".as_bytes(),
            "g",
            "e",
        )
        .unwrap();
        let (va, vb, unmatched) = paired_values(&a, &b, "runtime").unwrap();
        assert_eq!(va, [50.5, 40.0, 60.5]);
        assert_eq!(vb, [12.0, 11.0, 10.0]);
        // a: row 2 (1/0) has no successful partner; b: all matched but the error row.
        assert_eq!(unmatched, 1);
    }

    #[test]
    fn plot_kinds_parse_and_timeline_uses_every_call() {
        assert_eq!("hist".parse::<PlotKind>().unwrap(), PlotKind::Histogram);
        let e = "pie".parse::<PlotKind>().unwrap_err().to_string();
        assert!(e.contains("kinds: hist, box, cdf, timeline"), "{e}");
        let calls = results().invocations().unwrap();
        assert_eq!(calls.len(), 5, "the cut row has no end time");
        assert!(calls[3].error && !calls[3].cold);
        assert!(calls[0].cold && calls[2].cold);
        assert_eq!(calls[4].thread, 2);
    }
}
