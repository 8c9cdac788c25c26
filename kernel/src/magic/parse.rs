//! A cell → what to do: a `%%cloud_function` cell, or `%faaset` line magics at the top of a
//! cell followed by Rust code (DESIGN §1.1). Everything is checked here, before anything
//! runs, so a bad magic changes nothing.

use anyhow::{bail, Context, Result};
use faaset::analysis::Bootstrap;
use faaset::config::Config;
use faaset::experiment::sweep::SweepSpec;
use faaset::experiment::ExperimentSpec;
use faaset::results::{PlotKind, Sample, StatsOptions, DEFAULT_METRIC};
use faaset::{verbs, FunctionName};
use serde_json::Value;

use super::args::{object, tokens, Args};

#[derive(Debug)]
pub enum Cell {
    CloudFunction(CloudFunction),
    Code { magics: Vec<Magic>, rust: String },
}

/// `%%cloud_function <platform> [<config JSON>] [--name <fn>] [--force] [--no-deploy]`.
#[derive(Debug)]
pub struct CloudFunction {
    pub platform: String,
    pub config: Config,
    pub name: Option<String>,
    pub force: bool,
    pub no_deploy: bool,
    /// The cell below the magic line, as the function's source.
    pub source: String,
}

#[derive(Debug)]
pub enum Magic {
    Reconfigure {
        function: String,
        config: Config,
    },
    Deploy {
        function: String,
        force: bool,
    },
    Invoke {
        function: String,
        payload: Value,
    },
    Experiment(ExperimentSpec),
    Load {
        function: String,
        experiment: String,
        bind: Option<Binding>,
    },
    Stats {
        function: String,
        experiment: String,
        metric: String,
        options: StatsOptions,
    },
    Ttest {
        a: (String, String),
        b: (String, String),
        metric: String,
        paired: bool,
        bootstrap: Bootstrap,
    },
    Plot {
        function: String,
        experiment: String,
        kind: PlotKind,
        metric: String,
        group_by: Option<String>,
    },
    Sweep(Box<faaset::experiment::sweep::SweepSpec>),
    List,
    Help(Option<String>),
}

impl Magic {
    /// Whether the magic watches the cell's interrupt itself (it has something to undo before
    /// it ends: a sweep puts the memory back), instead of being dropped when interrupted.
    pub fn stops_itself(&self) -> bool {
        matches!(self, Magic::Sweep(_))
    }
}

/// `as <var> [polars=true]`: a Rust variable bound to the loaded results.
#[derive(Debug, Clone)]
pub struct Binding {
    pub variable: String,
    /// Also a polars DataFrame (compiles polars inside the session: minutes, once).
    pub polars: bool,
}

pub const VERBS: [&str; 11] = [
    "reconfigure",
    "deploy",
    "invoke",
    "experiment",
    "load",
    "stats",
    "ttest",
    "plot",
    "sweep",
    "list",
    "help",
];

pub fn parse(cell: &str) -> Result<Cell> {
    let mut lines = cell.lines();
    let first = cell.trim_start().lines().next().unwrap_or("");
    if let Some(rest) = first.strip_prefix("%%cloud_function") {
        if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
            bail!("unknown cell magic %%cloud_function{rest}: write `%%cloud_function <platform>`");
        }
        let skip = cell.len() - cell.trim_start().len() + first.len();
        let source = cell[skip..].trim_start_matches(['\r', '\n']).to_string();
        return Ok(Cell::CloudFunction(cloud_function(rest, source)?));
    }
    if let Some(rest) = first.strip_prefix("%%") {
        bail!(
            "unknown cell magic %%{}: the cell magic of this kernel is %%cloud_function <platform>",
            rest.split_whitespace().next().unwrap_or("")
        );
    }
    // Leading `%faaset` lines (blank and comment lines may sit between them), then Rust.
    let mut magics = Vec::new();
    let mut rust = String::new();
    let mut in_rust = false;
    for (index, line) in lines.by_ref().enumerate() {
        let trimmed = line.trim();
        if !in_rust {
            if trimmed.is_empty() || trimmed.starts_with("//") {
                rust.push('\n');
                continue;
            }
            if let Some(rest) = magic_line(trimmed)? {
                magics.push(line_magic(rest).with_context(|| format!("line {}", index + 1))?);
                // Keep line numbers of the Rust part equal to the cell's.
                rust.push('\n');
                continue;
            }
            in_rust = true;
        } else if trimmed.starts_with("%faaset") || trimmed.starts_with("%%") {
            bail!(
                "line {}: magics go at the top of a cell, before any Rust code; move `{}` up or into its own cell",
                index + 1,
                trimmed
            );
        }
        rust.push_str(line);
        rust.push('\n');
    }
    if rust.trim().is_empty() {
        rust.clear();
    }
    Ok(Cell::Code { magics, rust })
}

/// `%faaset …` → `Some(…)`; another `%word` → an error; anything else → `None`.
fn magic_line(line: &str) -> Result<Option<&str>> {
    if let Some(rest) = line.strip_prefix("%faaset") {
        if rest.is_empty() || rest.starts_with(char::is_whitespace) {
            return Ok(Some(rest.trim()));
        }
    }
    if let Some(rest) = line.strip_prefix('%') {
        if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            bail!(
                "unknown magic %{}: this kernel's line magic is `%faaset <verb>` ({})",
                rest.split_whitespace().next().unwrap_or(""),
                VERBS.join(", ")
            );
        }
    }
    Ok(None)
}

fn cloud_function(header: &str, source: String) -> Result<CloudFunction> {
    let tokens = tokens(header)?;
    let mut cf = CloudFunction {
        platform: String::new(),
        config: Config::new(),
        name: None,
        force: false,
        no_deploy: false,
        source,
    };
    let mut iter = tokens.into_iter();
    while let Some(token) = iter.next() {
        match token.as_str() {
            "--force" => cf.force = true,
            "--no-deploy" => cf.no_deploy = true,
            "--name" => {
                let name = iter
                    .next()
                    .context("--name needs a function name: `--name hello_world`")?;
                FunctionName::new(&name)?;
                cf.name = Some(name);
            }
            t if t.starts_with("--") => bail!(
                "%%cloud_function has no option {t}: accepted --name <fn>, --force, --no-deploy"
            ),
            t if t.starts_with('{') => {
                if !cf.config.is_empty() {
                    bail!("%%cloud_function takes one configuration object; merge them into one");
                }
                cf.config = object(t, "the configuration")?;
            }
            t if cf.platform.is_empty() => cf.platform = t.to_string(),
            t => bail!(
                "%%cloud_function: unexpected {t:?}; write `%%cloud_function <platform> [{{\"memory\": 1024}}] [--name <fn>] [--force] [--no-deploy]`"
            ),
        }
    }
    if cf.platform.is_empty() {
        bail!("%%cloud_function needs a platform: `%%cloud_function local` (see `%faaset list`)");
    }
    if cf.source.trim().is_empty() {
        bail!("the %%cloud_function cell is empty: write the function below the magic line");
    }
    Ok(cf)
}

fn line_magic(rest: &str) -> Result<Magic> {
    let tokens = tokens(rest)?;
    let Some((verb, tokens)) = tokens.split_first() else {
        bail!(
            "%faaset needs a verb: {} (see `%faaset help`)",
            VERBS.join(", ")
        );
    };
    let args = Args::parse(verb, tokens)?;
    let function = |index: usize| -> Result<String> {
        let name = args.positional(index, "a function name")?;
        FunctionName::new(name)?;
        Ok(name.to_string())
    };
    let experiment = |index: usize| -> Result<String> {
        let name = args.positional(index, "an experiment name")?;
        faaset::experiment::check_experiment_name(name)?;
        Ok(name.to_string())
    };
    let magic = match verb.as_str() {
        "reconfigure" => {
            args.only(&verbs::notebook_keys("reconfigure"))?;
            args.at_most(2)?;
            let config = args.positional(1, "a configuration like {\"memory\": 2048}")?;
            Magic::Reconfigure {
                function: function(0)?,
                config: object(config, "the configuration")?,
            }
        }
        "deploy" => {
            args.only(&verbs::notebook_keys("deploy"))?;
            args.at_most(1)?;
            Magic::Deploy {
                function: function(0)?,
                force: args.flag("force")?.unwrap_or(false),
            }
        }
        "invoke" => {
            args.only(&verbs::notebook_keys("invoke"))?;
            args.at_most(2)?;
            let payload = match args.optional_positional(1) {
                None => Value::Object(Default::default()),
                Some(raw) => serde_json::from_str(raw)
                    .with_context(|| format!("the payload is not valid JSON: {raw}"))?,
            };
            Magic::Invoke {
                function: function(0)?,
                payload,
            }
        }
        "experiment" => {
            args.only(&verbs::notebook_keys("experiment"))?;
            args.at_most(1)?;
            let name = args.text("experiment_name")?.with_context(|| {
                "%faaset experiment needs experiment_name=<name> (results go to functions/<fn>/experiments/<name>/)"
            })?;
            let mut spec = ExperimentSpec::new(function(0)?, name);
            experiment_options(&args, &mut spec)?;
            spec.validate()?;
            Magic::Experiment(spec)
        }
        "load" => {
            args.only(&verbs::notebook_keys("load"))?;
            let bind = match args.optional_positional(2) {
                None => None,
                Some("as") => {
                    let variable = args.positional(3, "a variable name after `as`")?;
                    if !is_identifier(variable) {
                        bail!(
                            "`{variable}` is not a Rust variable name: use letters, digits and _"
                        );
                    }
                    args.at_most(4)?;
                    Some(Binding {
                        variable: variable.to_string(),
                        polars: args.flag("polars")?.unwrap_or(false),
                    })
                }
                Some(other) => {
                    bail!("%faaset load: expected `as <variable>` after the experiment, got {other:?}")
                }
            };
            if bind.is_none() && args.flag("polars")?.is_some() {
                bail!("polars=true needs `as <variable>`: %faaset load <fn> <experiment> as df polars=true");
            }
            Magic::Load {
                function: function(0)?,
                experiment: experiment(1)?,
                bind,
            }
        }
        "stats" => {
            args.only(&verbs::notebook_keys("stats"))?;
            args.at_most(2)?;
            Magic::Stats {
                function: function(0)?,
                experiment: experiment(1)?,
                metric: args
                    .text("metric")?
                    .unwrap_or_else(|| DEFAULT_METRIC.into()),
                options: StatsOptions {
                    group_by: args.text("group_by")?,
                    ci_width: args.number("ci_width")?,
                    bootstrap: bootstrap(&args)?,
                },
            }
        }
        "ttest" => {
            args.only(&verbs::notebook_keys("ttest"))?;
            args.at_most(2)?;
            Magic::Ttest {
                a: sample(args.positional(
                    0,
                    "two samples like calc_service/t_test_demo page_rank/t_test_demo",
                )?)?,
                b: sample(args.positional(1, "a second sample like page_rank/t_test_demo")?)?,
                metric: args
                    .text("metric")?
                    .unwrap_or_else(|| DEFAULT_METRIC.into()),
                paired: args.flag("paired")?.unwrap_or(false),
                bootstrap: bootstrap(&args)?,
            }
        }
        "plot" => {
            args.only(&verbs::notebook_keys("plot"))?;
            args.at_most(2)?;
            let kind = match args.text("kind")? {
                Some(kind) => kind.parse()?,
                None => PlotKind::DEFAULT,
            };
            Magic::Plot {
                function: function(0)?,
                experiment: experiment(1)?,
                kind,
                metric: args
                    .text("metric")?
                    .unwrap_or_else(|| DEFAULT_METRIC.into()),
                group_by: args.text("group_by")?,
            }
        }
        "sweep" => {
            args.only(&verbs::notebook_keys("sweep"))?;
            args.at_most(1)?;
            let mut spec = SweepSpec::new(function(0)?);
            if let Some(memory) = args.numbers("memory")? {
                spec.memory = memory;
            }
            experiment_options(&args, &mut spec.experiment)?;
            if let Some(fraction) = args.number("discard_top_bottom")? {
                spec.discard_top_bottom = fraction;
            }
            Magic::Sweep(Box::new(spec))
        }
        "list" => {
            args.only(&verbs::notebook_keys("list"))?;
            args.at_most(0)?;
            Magic::List
        }
        "help" => {
            args.at_most(1)?;
            Magic::Help(args.optional_positional(0).map(str::to_string))
        }
        other => bail!(
            "unknown %faaset verb {other:?}: one of {} (see `%faaset help`)",
            VERBS.join(", ")
        ),
    };
    Ok(magic)
}

fn experiment_options(args: &Args, spec: &mut ExperimentSpec) -> Result<()> {
    if let Some(n) = args.count("threads")? {
        spec.threads = n;
    }
    if let Some(n) = args.count("runs_per_thread")? {
        spec.runs_per_thread = n;
    }
    spec.calls = args.count("calls")?;
    if let Some(payloads) = args.json_array("payloads")? {
        spec.payloads = payloads;
    }
    if let Some(payload) = args.json_object("payload")? {
        spec.payloads = vec![Value::Object(payload)];
    }
    if let Some(shuffle) = args.flag("shuffle_payloads")? {
        spec.shuffle_payloads = shuffle;
    }
    if let Some(tags) = args.json_object("tags")? {
        spec.tags = tags;
    }
    if let Some(seed) = args.count("seed")? {
        spec.seed = seed as u64;
    }
    if let Some(name) = args.text("experiment_name")? {
        spec.experiment_name = name;
    }
    spec.rate = args.number("rate")?;
    spec.duration = args.number("duration")?;
    if let Some(arrival) = args.text("arrival")? {
        spec.arrival = arrival.parse()?;
    }
    if let Some(phases) = args.json_array("phases")? {
        spec.phases = faaset::experiment::arrivals::parse_phases(&Value::Array(phases))?;
    }
    if let Some(n) = args.count("concurrency")? {
        spec.concurrency = n;
    }
    if let Some(cold) = args.flag("cold")? {
        spec.cold = cold;
    }
    spec.platform = args.text("platform")?;
    Ok(())
}

/// `resamples=` and `seed=` of `stats` and `ttest`.
fn bootstrap(args: &Args) -> Result<Bootstrap> {
    let mut bootstrap = Bootstrap::default();
    if let Some(n) = args.count("resamples")? {
        bootstrap.resamples = n;
    }
    if let Some(seed) = args.count("seed")? {
        bootstrap.seed = seed as u64;
    }
    Ok(bootstrap)
}

/// `function/experiment`.
fn sample(text: &str) -> Result<(String, String)> {
    let sample: Sample = text.parse()?;
    Ok((sample.function, sample.experiment))
}

fn is_identifier(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn magics(cell: &str) -> Vec<Magic> {
        match parse(cell).unwrap() {
            Cell::Code { magics, .. } => magics,
            other => panic!("{other:?}"),
        }
    }

    fn error(cell: &str) -> String {
        format!("{:#}", parse(cell).unwrap_err())
    }

    #[test]
    fn cloud_function_cells() {
        let Cell::CloudFunction(cf) = parse(
            "%%cloud_function local {\"memory\": 1024} --force\nfn hello(r: Value, c: Context) -> Value { r }\n",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(cf.platform, "local");
        assert_eq!(cf.config["memory"], 1024);
        assert!(cf.force && !cf.no_deploy && cf.name.is_none());
        assert!(cf.source.starts_with("fn hello"));
        assert!(error("%%cloud_function\nfn f() {}").contains("needs a platform"));
        assert!(
            error("%%cloud_function local {\"memory\": }\nfn f() {}").contains("not valid JSON")
        );
        assert!(error("%%cloud_function local --name Bad-Name\nfn f() {}").contains("Bad-Name"));
        assert!(error("%%cloud_function local --fast\nfn f() {}").contains("no option --fast"));
        assert!(error("%%time\n1").contains("unknown cell magic %%time"));
    }

    #[test]
    fn line_magics_then_rust_keep_line_numbers() {
        let cell =
            "%faaset invoke hello {\"name\": \"Bob\"}\n// note\n%faaset list\nlet x = 1;\nx + 1";
        let Cell::Code { magics, rust } = parse(cell).unwrap() else {
            panic!()
        };
        assert_eq!(magics.len(), 2);
        assert!(
            matches!(&magics[0], Magic::Invoke { function, payload } if function == "hello" && payload["name"] == "Bob")
        );
        assert_eq!(rust.lines().nth(3), Some("let x = 1;"));
        assert!(error("let x = 1;\n%faaset list").contains("line 2: magics go at the top"));
    }

    #[test]
    fn experiment_and_sweep_options() {
        let m = magics(
            r#"%faaset experiment hello threads=2 runs_per_thread=3 payloads=[{"name": "Bob"}, {"name": "Steve"}] experiment_name=e1 shuffle_payloads=true"#,
        );
        let Magic::Experiment(spec) = &m[0] else {
            panic!()
        };
        assert_eq!(
            (spec.threads, spec.runs_per_thread, spec.payloads.len()),
            (2, 3, 2)
        );
        assert!(spec.shuffle_payloads);
        let m = magics("%faaset sweep cpu memory=128,256 runs_per_thread=2");
        let Magic::Sweep(spec) = &m[0] else { panic!() };
        assert_eq!(spec.memory, vec![128, 256]);
        assert!(error("%faaset experiment hello threads=2").contains("experiment_name="));
        assert!(error("%faaset experiment hello experiment_name=e threads=0").contains("threads"));
    }

    #[test]
    fn open_loop_and_cold_keys_reach_the_core_spec() {
        let m = magics(
            "%faaset experiment f experiment_name=e rate=200 duration=10 arrival=poisson concurrency=50 cold=true",
        );
        let Magic::Experiment(spec) = &m[0] else {
            panic!()
        };
        let expected = ExperimentSpec {
            rate: Some(200.0),
            duration: Some(10.0),
            arrival: faaset::experiment::Arrival::Poisson,
            concurrency: 50,
            cold: true,
            ..ExperimentSpec::new("f", "e")
        };
        assert_eq!(*spec, expected);
        let m = magics(
            r#"%faaset experiment f experiment_name=e phases=[{"rate": 10, "duration": 2}, {"rate": 10, "to_rate": 100, "duration": 1}]"#,
        );
        let Magic::Experiment(spec) = &m[0] else {
            panic!()
        };
        assert_eq!(spec.load_phases().len(), 2);
        // Checked in the core, before anything runs: one line each.
        assert!(error("%faaset experiment f experiment_name=e rate=200").contains("duration="));
        assert!(
            error("%faaset experiment f experiment_name=e rate=-5 duration=1")
                .contains("a rate must be")
        );
        assert!(
            error("%faaset experiment f experiment_name=e rate=5 duration=1 arrival=bursty")
                .contains("unknown arrival")
        );
        assert!(
            error("%faaset experiment f experiment_name=e rate=5 duration=1 threads=4")
                .contains("leave out threads=")
        );
        let m = magics("%faaset stats f e ci_width=0.5 resamples=500 seed=7");
        let Magic::Stats { options, .. } = &m[0] else {
            panic!()
        };
        assert_eq!(options.ci_width, Some(0.5));
        assert_eq!(
            (options.bootstrap.resamples, options.bootstrap.seed),
            (500, 7)
        );
    }

    #[test]
    fn a_bare_magic_asks_for_the_cores_defaults() {
        let m = magics("%faaset sweep cpu");
        let Magic::Sweep(spec) = &m[0] else { panic!() };
        assert_eq!(**spec, SweepSpec::new("cpu"));
        let m = magics("%faaset experiment cpu experiment_name=e");
        let Magic::Experiment(spec) = &m[0] else {
            panic!()
        };
        assert_eq!(*spec, ExperimentSpec::new("cpu", "e"));
        let m = magics("%faaset plot cpu e\n%faaset stats cpu e\n%faaset ttest a/e b/e");
        let Magic::Plot { kind, metric, .. } = &m[0] else {
            panic!()
        };
        assert_eq!(
            (*kind, metric.as_str()),
            (PlotKind::DEFAULT, DEFAULT_METRIC)
        );
        let Magic::Stats { options, .. } = &m[1] else {
            panic!()
        };
        assert_eq!(*options, StatsOptions::default());
        let Magic::Ttest { bootstrap, .. } = &m[2] else {
            panic!()
        };
        assert_eq!(*bootstrap, Bootstrap::default());
    }

    #[test]
    fn options_only_the_cli_has_are_refused_naming_the_accepted_ones() {
        for (verb, params) in faaset::verbs::VERBS {
            for p in params
                .iter()
                .filter(|p| p.surface == faaset::verbs::Surface::Cli)
            {
                let e = error(&format!("%faaset {verb} f e {}=x", p.key));
                assert!(
                    e.contains(&format!("has no option {}=", p.key)),
                    "{verb}: {e}"
                );
            }
        }
    }

    #[test]
    fn bad_magics_say_what_to_fix() {
        assert!(error("%faaset frobnicate x").contains("unknown %faaset verb \"frobnicate\""));
        assert!(error("%faaset").contains("needs a verb"));
        assert!(error("%faaset invoke Hello").contains("Hello"));
        assert!(error("%faaset invoke hello {bad json}").contains("not valid JSON"));
        assert!(error("%faaset reconfigure hello [1]").contains("JSON object"));
        assert!(error("%faaset reconfigure hello").contains("needs a configuration"));
        assert!(error("%timeit 1").contains("unknown magic %timeit"));
        assert!(error("%faaset load f e as 1x").contains("not a Rust variable name"));
        assert!(error("%faaset ttest a b").contains("FUNCTION/EXPERIMENT"));
        assert!(error("%faaset plot f e kind=pie").contains("pie"));
        let m = magics("%faaset load f e as df polars=true");
        assert!(
            matches!(&m[0], Magic::Load { bind: Some(b), .. } if b.variable == "df" && b.polars)
        );
    }
}
