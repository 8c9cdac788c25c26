//! Verbs that run calls: `experiment` (FaaS Runner Lite, tutorial §4) and `sweep` (a memory
//! sweep in the spirit of AWS Lambda Power Tuning).
//!
//! Both check every argument before anything is built or written, deploy the function when
//! it changed (as `faaset invoke` does), show a progress bar on stderr (rate and ETA; hidden
//! when stderr is not a terminal, which then gets one line per finished run), and print
//! their summary on stdout.

use std::path::Path;

use faaset::deploy;
use faaset::experiment::sweep::{self, SweepEvent, SweepReport, SweepSpec};
use faaset::experiment::{self, ExperimentSpec, Progress};
use faaset::plot::Format;
use faaset::words::plural;
use faaset::{Error, Result, Workspace};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::cli::{ExperimentArgs, SweepArgs};

use super::Stderr;

/// The experiment the arguments ask for: core defaults, changed where a flag was given.
fn experiment_spec(args: ExperimentArgs) -> Result<ExperimentSpec> {
    Ok(ExperimentSpec {
        function: args.function,
        platform: args.platform,
        threads: args.threads,
        runs_per_thread: args.runs_per_thread,
        calls: args.calls,
        payloads: parse_payloads(args.payloads.as_deref(), args.payload.as_deref())?,
        experiment_name: args.experiment_name,
        shuffle_payloads: args.shuffle_payloads,
        tags: parse_tags(args.tags.as_deref())?,
        seed: args.seed,
        rate: args.rate,
        duration: args.duration,
        phases: match args.phases.as_deref() {
            None => Vec::new(),
            Some(text) => {
                let value = serde_json::from_str::<Value>(&super::json_text(text)?)
                    .map_err(|e| Error::Usage(format!("--phases is not valid JSON ({e})")))?;
                experiment::arrivals::parse_phases(&value)?
            }
        },
        arrival: args.arrival.parse()?,
        concurrency: args.concurrency,
        cold: args.cold,
    })
}

/// The sweep the arguments ask for: core defaults, changed where a flag was given.
fn sweep_spec(args: &SweepArgs) -> Result<SweepSpec> {
    let mut spec = SweepSpec::new(&args.function);
    spec.memory = args.memory.clone();
    spec.experiment.experiment_name = args.experiment_name.clone();
    spec.experiment.platform = args.platform.clone();
    spec.experiment.threads = args.threads;
    spec.experiment.runs_per_thread = args.runs_per_thread;
    spec.experiment.payloads = parse_payloads(args.payloads.as_deref(), args.payload.as_deref())?;
    spec.discard_top_bottom = args.discard_top_bottom;
    Ok(spec)
}

pub async fn experiment(workspace: &Workspace, args: ExperimentArgs) -> Result<()> {
    let spec = experiment_spec(args)?;
    let total = spec.validate()?;
    deploy::deploy_if_changed(workspace, &spec.function, spec.platform.as_deref(), &Stderr).await?;

    let bar = progress_bar(
        total,
        &format!("{}/{}", spec.function, spec.experiment_name),
    );
    let summary = experiment::experiment(workspace, &spec, &|p| show(&bar, p)).await;
    bar.finish_and_clear();
    let summary = summary?;
    if bar.is_hidden() {
        eprintln!(
            "{}/{}: {} of {} calls done, {} errors, {:.2} s",
            summary.function,
            summary.experiment,
            summary.calls,
            total,
            summary.errors,
            summary.elapsed.as_secs_f64()
        );
    }
    print!("{}", faaset::report::experiment(&summary).to_text());
    if let Some(warning) = &summary.changed_during_run {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

pub async fn sweep(workspace: &Workspace, args: SweepArgs) -> Result<()> {
    let spec = sweep_spec(&args)?;
    let format = match &args.output {
        Some(path) => Format::from_path(path)?,
        None => Format::Svg,
    };
    sweep::check(workspace, &spec)?;
    deploy::deploy_if_changed(
        workspace,
        &spec.experiment.function,
        spec.experiment.platform.as_deref(),
        &Stderr,
    )
    .await?;

    let bar = progress_bar(0, "");
    let on_event = |event| on_sweep_event(&bar, event);
    // Ctrl-C stops the calls; the sweep then puts the memory back before it returns.
    let stop = CancellationToken::new();
    let on_ctrl_c = {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.cancel();
            }
        })
    };
    let report = sweep::sweep(workspace, &spec, &on_event, &stop).await;
    on_ctrl_c.abort();
    bar.finish_and_clear();
    let report = report?;
    print_report(&report);

    let Some(chart) = report.chart(format) else {
        return Err(Error::Usage(format!(
            "every call of the sweep failed, so there is nothing to compare; see the error column of {}",
            report.results_csv.display()
        )));
    };
    let output = args.output.unwrap_or_else(|| {
        report
            .results_csv
            .parent()
            .unwrap_or(Path::new("."))
            .join("sweep.svg")
    });
    chart
        .and_then(|image| image.save(&output))
        .map_err(|e| Error::Usage(format!("{e} ({})", output.display())))?;
    println!("chart: {}", output.display());
    Ok(())
}

/// `--payloads`: a JSON array (default `[{}]`; an empty array is refused by the spec check),
/// or `--payload`: one JSON object for every call.
fn parse_payloads(text: Option<&str>, one: Option<&str>) -> Result<Vec<Value>> {
    if let Some(one) = one {
        return match serde_json::from_str::<Value>(&super::json_text(one)?) {
            Ok(Value::Object(payload)) => Ok(vec![Value::Object(payload)]),
            _ => Err(Error::Usage(format!(
                "--payload must be a JSON object like '{{\"name\": \"Bob\"}}', not {one:?}"
            ))),
        };
    }
    let Some(text) = text else {
        return Ok(vec![Value::Object(Map::new())]);
    };
    let text = super::json_text(text)?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(payloads)) => Ok(payloads),
        Ok(other) => Err(Error::Usage(format!(
            "--payloads must be a JSON array of payloads like '[{{\"name\": \"Bob\"}}]', not {}",
            faaset::config::kind_name(&other)
        ))),
        Err(e) => Err(Error::Usage(format!(
            "--payloads is not valid JSON ({e}); give an array like '[{{\"name\": \"Bob\"}}]'"
        ))),
    }
}

/// `--tags`: a JSON object (default `{}`).
fn parse_tags(text: Option<&str>) -> Result<Map<String, Value>> {
    let Some(text) = text else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(tags)) => Ok(tags),
        Ok(other) => Err(Error::Usage(format!(
            "--tags must be a JSON object like '{{\"memory\": 512}}', not {}",
            faaset::config::kind_name(&other)
        ))),
        Err(e) => Err(Error::Usage(format!(
            "--tags is not valid JSON ({e}); give an object like '{{\"memory\": 512}}'"
        ))),
    }
}

/// A bar on stderr: hidden (drawing nothing) when stderr is not a terminal.
fn progress_bar(total: usize, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} calls  {per_sec}  ETA {eta}  {msg}",
    )
    .expect("valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(prefix.to_string());
    bar
}

fn show(bar: &ProgressBar, p: Progress) {
    bar.set_length(p.total as u64);
    bar.set_position(p.done as u64);
    if p.errors > 0 {
        bar.set_message(format!("{} error{}", p.errors, plural(p.errors)));
    }
}

fn on_sweep_event(bar: &ProgressBar, event: SweepEvent) {
    match event {
        SweepEvent::Status(line) => bar.suspend(|| eprintln!("{line}")),
        SweepEvent::Started {
            memory,
            index,
            count,
            calls,
        } => {
            bar.reset();
            bar.set_message("");
            bar.set_length(calls as u64);
            bar.set_prefix(format!("{memory} MB ({}/{count})", index + 1));
        }
        SweepEvent::Calls { progress, .. } => show(bar, progress),
        SweepEvent::Finished {
            memory,
            calls,
            errors,
            elapsed,
        } => {
            if bar.is_hidden() {
                eprintln!(
                    "{memory} MB: {calls} calls, {errors} error{}, {:.2} s",
                    plural(errors),
                    elapsed.as_secs_f64()
                );
            }
        }
    }
}

fn print_report(report: &SweepReport) {
    print!("{}", faaset::report::sweep(report).to_text());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn command(line: &[&str]) -> Command {
        Cli::try_parse_from(line).unwrap().command
    }

    #[test]
    fn a_bare_line_asks_for_the_cores_defaults() {
        let Command::Experiment(args) =
            command(&["faaset", "experiment", "f", "--experiment-name", "e"])
        else {
            panic!("not an experiment")
        };
        assert_eq!(
            experiment_spec(args).unwrap(),
            ExperimentSpec::new("f", "e")
        );
        let Command::Sweep(args) = command(&["faaset", "sweep", "f"]) else {
            panic!("not a sweep")
        };
        assert_eq!(sweep_spec(&args).unwrap(), SweepSpec::new("f"));
    }

    #[test]
    fn one_payload_or_a_list() {
        let Command::Experiment(args) = command(&[
            "faaset",
            "experiment",
            "f",
            "--experiment-name",
            "e",
            "--payload",
            r#"{"n": 1}"#,
        ]) else {
            panic!("not an experiment")
        };
        assert_eq!(
            experiment_spec(args).unwrap().payloads,
            vec![serde_json::json!({"n": 1})]
        );
        let e = parse_payloads(None, Some("[1]")).unwrap_err().to_string();
        assert!(e.contains("--payload must be a JSON object"), "{e}");
    }
}
