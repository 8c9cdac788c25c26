//! Carrying out magics through the core library, with what they show in the cell.

use anyhow::{anyhow, Result};
use faaset::deploy::{self, DeployRequest};
use faaset::experiment::sweep::{self, SweepEvent, SweepSpec};
use faaset::experiment::{self, ExperimentSpec};
use faaset::plot::{Format, Options};
use faaset::report;
use faaset::results;
use faaset::{FunctionName, Workspace};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::parse::{Binding, CloudFunction, Magic};
use crate::display::{show_failed_log, Bundle, CellOutput, CellSink, ProgressBar};
use crate::stubs::POLARS_DEP;

/// What the kernel does in the Rust session after a magic.
#[derive(Debug, Clone, PartialEq)]
pub enum Followup {
    /// Define (or redefine) the function's stub.
    DefineStub(FunctionName),
    /// Evaluate this code (binding a variable).
    Evaluate(String),
}

/// `%%cloud_function`: persist, deploy if changed (or forced), then define the stub.
pub async fn cloud_function(
    cf: CloudFunction,
    workspace: &Workspace,
    out: &CellOutput,
) -> Result<Followup> {
    let split = faaset::source::split(&cf.source)?;
    let name = match cf.name.clone() {
        Some(name) => name,
        None => faaset::source::find_entry(&split.rust, None)?.ok_or_else(|| {
            anyhow!(
                "the cell has no entry function: write `fn <name>(request: Value, context: Context) -> Value` (or add --name <fn>)"
            )
        })?,
    };
    let function = FunctionName::new(&name)?;
    let request = DeployRequest {
        name: name.clone(),
        platform: Some(cf.platform.clone()),
        source: Some(cf.source.clone()),
        config: cf.config.clone(),
        force: cf.force,
    };
    if cf.no_deploy {
        let paths = deploy::save(workspace, &request).await?;
        out.stream(
            "stdout",
            &format!(
                "{name}: saved to {} (not deployed: --no-deploy)",
                paths.source_file().display()
            ),
        );
    } else {
        // The core streams what it does, "up to date" included.
        let sink = CellSink::new(Some(out.clone()));
        showing_log(out, deploy::deploy(workspace, &request, &sink)).await?;
    }
    Ok(Followup::DefineStub(function))
}

/// Carries out `magic`. `stop` is the cell's interrupt: a sweep watches it itself (to put
/// the memory back before it returns); every other magic is simply dropped by the caller.
pub async fn run(
    magic: Magic,
    workspace: &Workspace,
    out: &CellOutput,
    stop: &CancellationToken,
) -> Result<Vec<Followup>> {
    match magic {
        Magic::Reconfigure { function, config } => {
            let sink = CellSink::new(Some(out.clone()));
            showing_log(
                out,
                deploy::reconfigure(workspace, &function, None, config, &sink),
            )
            .await?;
        }
        Magic::Deploy { function, force } => {
            let request = DeployRequest {
                name: function,
                force,
                ..DeployRequest::default()
            };
            let sink = CellSink::new(Some(out.clone()));
            showing_log(out, deploy::deploy(workspace, &request, &sink)).await?;
        }
        Magic::Invoke { function, payload } => {
            let sink = CellSink::new(Some(out.clone()));
            let response = showing_log(
                out,
                faaset::invoke::invoke(workspace, &function, None, &payload, &sink),
            )
            .await?;
            drop(sink);
            let json = Value::Object(response);
            out.display(
                Bundle::text(serde_json::to_string_pretty(&json)?).with("application/json", json),
            );
        }
        Magic::Experiment(spec) => experiment(workspace, &spec, out).await?,
        Magic::Load {
            function,
            experiment,
            bind,
        } => return load(workspace, &function, &experiment, bind, out),
        Magic::Stats {
            function,
            experiment,
            metric,
            options,
        } => {
            let results = load_results(workspace, &function, &experiment, out)?;
            out.display(Bundle::report(&report::stats(&results, &metric, &options)?));
        }
        Magic::Ttest {
            a,
            b,
            metric,
            paired,
            bootstrap,
        } => {
            let a = load_results(workspace, &a.0, &a.1, out)?;
            let b = load_results(workspace, &b.0, &b.1, out)?;
            let comparison = results::compare_with(&a, &b, &metric, paired, bootstrap)?;
            out.display(Bundle::report(&report::comparison(&comparison, &a, &b)));
        }
        Magic::Plot {
            function,
            experiment,
            kind,
            metric,
            group_by,
        } => {
            let results = load_results(workspace, &function, &experiment, out)?;
            let images = [Format::Svg, Format::Png]
                .into_iter()
                .map(|format| {
                    results.plot(kind, &metric, group_by.as_deref(), Options::new(format))
                })
                .collect::<faaset::Result<Vec<_>>>()?;
            let alt = format!("{} of {metric}: {}", kind.name(), results.label());
            out.display(Bundle::images(&images, &alt));
        }
        Magic::Sweep(spec) => sweep(workspace, &spec, out, stop).await?,
        Magic::List => out.display(Bundle::report(&report::list(workspace))),
        Magic::Help(topic) => {
            let text = super::help::text(topic.as_deref()).map_err(|e| anyhow!(e))?;
            out.display(Bundle::text(text));
        }
    }
    Ok(Vec::new())
}

/// A deploy step whose failure shows the end of its log in the cell.
async fn showing_log<T>(
    out: &CellOutput,
    step: impl std::future::Future<Output = faaset::Result<T>>,
) -> Result<T> {
    step.await.map_err(|error| {
        show_failed_log(out, &error);
        anyhow::Error::new(error)
    })
}

/// Deploys first when the function changed, as FaaSET does before calls; the build's live
/// line ends before the calls begin.
async fn deploy_if_changed(
    workspace: &Workspace,
    function: &str,
    platform: Option<&str>,
    out: &CellOutput,
) -> Result<()> {
    let sink = CellSink::new(Some(out.clone()));
    showing_log(
        out,
        deploy::deploy_if_changed(workspace, function, platform, &sink),
    )
    .await?;
    Ok(())
}

/// Deploys when the function changed (as FaaSET does before a call), then runs the
/// experiment with a live progress bar; rows are on disk as they arrive.
async fn experiment(workspace: &Workspace, spec: &ExperimentSpec, out: &CellOutput) -> Result<()> {
    let total = spec.validate()?;
    deploy_if_changed(workspace, &spec.function, spec.platform.as_deref(), out).await?;
    let bar = ProgressBar::new(
        out,
        &format!("{}/{}", spec.function, spec.experiment_name),
        total,
    );
    let summary =
        experiment::experiment(workspace, spec, &|p| bar.set(p.done, p.total, p.errors)).await?;
    out.stream("stdout", report::experiment(&summary).to_text().trim_end());
    if let Some(warning) = &summary.changed_during_run {
        out.stream("stderr", &format!("warning: {warning}\n"));
    }
    Ok(())
}

async fn sweep(
    workspace: &Workspace,
    spec: &SweepSpec,
    out: &CellOutput,
    stop: &CancellationToken,
) -> Result<()> {
    sweep::check(workspace, spec)?;
    let experiment = &spec.experiment;
    deploy_if_changed(
        workspace,
        &experiment.function,
        experiment.platform.as_deref(),
        out,
    )
    .await?;
    let bar = std::sync::Mutex::new(ProgressBar::new(out, "sweep", 0));
    let on_event = |event: SweepEvent| {
        let mut bar = bar.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            SweepEvent::Status(line) => out.stream("stdout", &line),
            SweepEvent::Started {
                memory,
                index,
                count,
                calls,
            } => bar.relabel(&format!("{memory} MB ({}/{count})", index + 1), calls),
            SweepEvent::Calls { progress, .. } => {
                bar.set(progress.done, progress.total, progress.errors)
            }
            SweepEvent::Finished { .. } => {}
        }
    };
    // An interrupt stops the calls; the sweep puts the memory back, then returns.
    let report = sweep::sweep(workspace, spec, &on_event, stop).await?;
    out.display(Bundle::report(&report::sweep(&report)));
    let charts = [Format::Svg, Format::Png].map(|format| report.chart(format));
    if let [Some(svg), Some(png)] = charts {
        let title = format!("{} memory sweep ({})", report.function, report.platform);
        out.display(Bundle::images(&[svg?, png?], &title));
    }
    Ok(())
}

/// Loads an experiment's results and says in the cell which damaged records were left out.
fn load_results(
    workspace: &Workspace,
    function: &str,
    experiment: &str,
    out: &CellOutput,
) -> faaset::Result<results::Results> {
    let results = results::load(workspace, function, experiment)?;
    if let Some(warning) = results.skipped_warning() {
        out.stream("stderr", &format!("warning: {warning}\n"));
    }
    Ok(results)
}

fn load(
    workspace: &Workspace,
    function: &str,
    experiment: &str,
    bind: Option<Binding>,
    out: &CellOutput,
) -> Result<Vec<Followup>> {
    let results = load_results(workspace, function, experiment, out)?;
    let all = match &bind {
        Some(b) => format!("the variable `{}`", b.variable),
        None => format!("`%faaset load {function} {experiment} as results`"),
    };
    out.display(Bundle::report(&report::load(&results, &all)?));
    let Some(bind) = bind else {
        return Ok(Vec::new());
    };
    let mut code = format!(
        "let {} = faaset_bridge::load({:?}, {:?});",
        bind.variable, function, experiment
    );
    if bind.polars {
        out.stream(
            "stdout",
            "loading it into a polars DataFrame (install.sh compiled polars for the session)…",
        );
        code = format!(
            "{POLARS_DEP}\n\
             let {var} = {{ use polars::prelude::{{CsvReadOptions, SerReader}}; \
             CsvReadOptions::default().with_has_header(true).with_infer_schema_length(None)\
             .try_into_reader_with_file_path(Some({path:?}.into())).and_then(|r| r.finish())\
             .expect(\"reading the results\") }};",
            var = bind.variable,
            path = results.path().display().to_string(),
        );
    }
    Ok(vec![Followup::Evaluate(code)])
}
