//! Verbs that read experiment results: `load`, `stats`, `ttest`, `plot`.
//!
//! Each loads the results through [`faaset::results`], which also computes (statistics,
//! tests, charts), and shapes them with [`faaset::report`]; this file only writes the
//! report's text to stdout. Metrics are taken from successful calls only, and every output says so.

use std::io::Write;
use std::path::Path;

use faaset::analysis::Bootstrap;
use faaset::plot::{Format, Options};
use faaset::report;
use faaset::results::{self, PlotKind};
use faaset::{Error, FunctionName, Result, Workspace};

use crate::cli::{LoadArgs, PlotArgs, StatsArgs, TtestArgs};

/// Loads an experiment's results and says on stderr which damaged records were left out.
fn load_results(
    workspace: &Workspace,
    function: &str,
    experiment: &str,
) -> Result<results::Results> {
    let results = results::load(workspace, function, experiment)?;
    if let Some(warning) = results.skipped_warning() {
        eprintln!("warning: {warning}");
    }
    Ok(results)
}

pub fn load(workspace: &Workspace, args: LoadArgs) -> Result<()> {
    let results = load_results(workspace, &args.function, &args.experiment)?;
    if args.csv {
        emit(&results.to_csv()?);
        return Ok(());
    }
    let all = format!(
        "`faaset load {} {} --csv`",
        results.function(),
        results.experiment()
    );
    emit(report::load(&results, &all)?.to_text().as_bytes());
    Ok(())
}

pub fn stats(workspace: &Workspace, args: StatsArgs) -> Result<()> {
    let results = load_results(workspace, &args.function, &args.experiment)?;
    let options = stats_options(&args);
    let report = report::stats(&results, &args.metric, &options)?;
    emit(report.to_text().as_bytes());
    Ok(())
}

/// The `stats` request the flags ask for: core defaults, changed where a flag was given.
fn stats_options(args: &StatsArgs) -> results::StatsOptions {
    results::StatsOptions {
        group_by: args.group_by.clone(),
        ci_width: args.ci_width,
        bootstrap: Bootstrap {
            resamples: args.resamples,
            seed: args.seed,
        },
    }
}

pub fn ttest(workspace: &Workspace, args: TtestArgs) -> Result<()> {
    let a: results::Sample = args.a.parse()?;
    let b: results::Sample = args.b.parse()?;
    let a = load_results(workspace, &a.function, &a.experiment)?;
    let b = load_results(workspace, &b.function, &b.experiment)?;
    let bootstrap = Bootstrap {
        resamples: args.resamples,
        seed: args.seed,
    };
    let c = results::compare_with(&a, &b, &args.metric, args.paired, bootstrap)?;
    emit(report::comparison(&c, &a, &b).to_text().as_bytes());
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
    let format = Format::from_path(&output)?;
    let results = load_results(workspace, &args.function, &args.experiment)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn a_bare_stats_line_asks_for_the_cores_defaults() {
        let Command::Stats(args) = Cli::try_parse_from(["faaset", "stats", "f", "e"])
            .unwrap()
            .command
        else {
            panic!("not stats")
        };
        assert_eq!(stats_options(&args), results::StatsOptions::default());
    }
}
