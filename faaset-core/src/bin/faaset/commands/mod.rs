//! Each verb: arguments → core request → core call → what the user sees. Results go to
//! stdout (JSON where it is data), progress and status to stderr.

use std::path::Path;

use faaset::config::{self, Config};
use faaset::deploy::{self, DeployRequest};
use faaset::platform::local::EngineClient;
use faaset::progress::Sink;
use faaset::{Error, Result, Workspace};
use serde_json::Value;

use crate::cli::{Cli, Command, LocalCommand};

mod analysis;
mod experiments;

/// Writes core progress to stderr.
pub(crate) struct Stderr;

impl Sink for Stderr {
    fn status(&self, line: &str) {
        eprintln!("{line}");
    }
    fn output(&self, line: &str) {
        eprintln!("  {line}");
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    let root = cli.workspace.clone().unwrap_or_else(|| ".".into());
    let workspace = Workspace::open(&root)?;
    match cli.command {
        Command::New(args) => {
            let builds = faaset::platform::Platform::resolve(&workspace, &args.platform)?.builds();
            let source = match &args.from {
                Some(path) => read_file(path)?,
                None if builds => template_source(&args.name),
                // Reached at its URL: no source.
                None => String::new(),
            };
            let request = DeployRequest {
                name: args.name,
                platform: Some(args.platform),
                source: Some(source),
                config: optional_object(args.config.as_deref(), "--config")?,
                force: false,
            };
            let paths = deploy::create(&workspace, &request).await?;
            eprintln!(
                "created {}: edit {} then run `faaset deploy {}`",
                paths.name,
                paths.source_file().display(),
                paths.name
            );
        }
        Command::Deploy(args) => {
            let request = DeployRequest {
                name: args.name,
                platform: args.platform,
                source: None,
                config: optional_object(args.config.as_deref(), "--config")?,
                force: args.force,
            };
            deploy::deploy(&workspace, &request, &Stderr).await?;
        }
        Command::Invoke(args) => {
            let payload = match args.payload.as_deref().map(json_text).transpose()? {
                Some(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
                    Error::Usage(format!("the payload is not valid JSON ({e}): {text}"))
                })?,
                None => Value::Object(Default::default()),
            };
            let response = faaset::invoke::invoke(
                &workspace,
                &args.name,
                args.platform.as_deref(),
                &payload,
                &Stderr,
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&response).unwrap());
        }
        Command::Reconfigure(args) => {
            let config = config::parse_object(&args.config, "the configuration")?;
            deploy::reconfigure(
                &workspace,
                &args.name,
                args.platform.as_deref(),
                config,
                &Stderr,
            )
            .await?;
        }
        Command::List => list(&workspace).await?,
        Command::Experiment(args) => experiments::experiment(&workspace, args).await?,
        Command::Sweep(args) => experiments::sweep(&workspace, args).await?,
        Command::Load(args) => analysis::load(&workspace, args)?,
        Command::Stats(args) => analysis::stats(&workspace, args)?,
        Command::Ttest(args) => analysis::ttest(&workspace, args)?,
        Command::Plot(args) => analysis::plot(&workspace, args)?,
        Command::Local { command } => local(&workspace, command).await?,
    }
    Ok(())
}

async fn list(workspace: &Workspace) -> Result<()> {
    print!("{}", faaset::report::list(workspace).to_text());
    Ok(())
}

async fn local(workspace: &Workspace, command: LocalCommand) -> Result<()> {
    match command {
        LocalCommand::Serve { port } => {
            // A second engine would take over engine.json and leave the first unreachable.
            if let Some(client) = EngineClient::running(workspace).await {
                let pid = client.status().await.map(|s| s.pid.to_string());
                return Err(Error::Usage(format!(
                    "an engine already serves this workspace (pid {}); stop it first with `faaset local stop`",
                    pid.unwrap_or_else(|_| "?".into())
                )));
            }
            faaset::engine::run(workspace, port).await
        }
        LocalCommand::Start => {
            let client = EngineClient::ensure(workspace).await?;
            let info =
                std::fs::read_to_string(faaset::engine::info_file(workspace)).unwrap_or_default();
            let info: Value = serde_json::from_str(&info).unwrap_or_default();
            let status = client.status().await?;
            eprintln!(
                "local engine running on {} (pid {}); limits {}",
                info["address"].as_str().unwrap_or("?"),
                info["pid"],
                status.limits
            );
            Ok(())
        }
        LocalCommand::Status => {
            let Some(client) = EngineClient::running(workspace).await else {
                println!(
                    "local engine: not running (it starts on demand, or `faaset local start`)"
                );
                return Ok(());
            };
            let status = client.status().await?;
            println!(
                "local engine: running, pid {}, workspace {}",
                status.pid,
                status.workspace.display()
            );
            println!("limits: {}", status.limits);
            println!(
                "functions: {}",
                if status.functions.is_empty() {
                    "none".to_string()
                } else {
                    status.functions.join(", ")
                }
            );
            println!(
                "{:<28} {:<20} {:>7} {:>9} {:<6} {:>6}",
                "ENVIRONMENT", "FUNCTION", "MEMORY", "AGE", "STATE", "CALLS"
            );
            for env in status.environments {
                println!(
                    "{:<28} {:<20} {:>4} MB {:>8.1}s {:<6} {:>6}",
                    env.id, env.function, env.memory, env.age_seconds, env.state, env.calls
                );
            }
            Ok(())
        }
        LocalCommand::Stop => {
            match EngineClient::running(workspace).await {
                Some(client) => {
                    let status = client.status().await?;
                    let busy = status
                        .environments
                        .iter()
                        .filter(|e| e.state == "busy")
                        .count();
                    client.shutdown().await?;
                    // The engine lets calls in flight finish (up to their timeout) before it
                    // exits: say so, and return only when it is gone, so that no second
                    // engine can start beside it.
                    if busy > 0 {
                        eprintln!("local engine stopping: {busy} call(s) in flight finish first");
                    }
                    while faaset::engine::process_alive(status.pid) {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    eprintln!("local engine stopped");
                }
                None => eprintln!("local engine: not running"),
            }
            Ok(())
        }
    }
}

/// JSON given on the command line as itself, as `@FILE` (read from the file) or as `-`
/// (read from stdin): a command line holds at most about 128 KiB, and anyone on the machine
/// can read it.
pub fn json_text(arg: &str) -> Result<String> {
    if arg == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Error::Usage(format!("cannot read JSON from stdin ({e})")))?;
        return Ok(text);
    }
    match arg.strip_prefix('@') {
        Some(path) => read_file(Path::new(path)),
        None => Ok(arg.to_string()),
    }
}

fn optional_object(text: Option<&str>, what: &str) -> Result<Config> {
    match text {
        Some(text) => config::parse_object(text, what),
        None => Ok(Config::new()),
    }
}

fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read {} ({e})", path.display())))
}

/// The source of a new function made without `--from`.
fn template_source(name: &str) -> String {
    format!(
        r#"// The function {name}: `request` is the call's JSON payload; return a JSON value.
// In scope: json!, Value, Context and saaf's Inspector. Add crates with `:dep name = "1"`.
fn {name}(request: Value, _context: Context) -> Value {{
    let mut inspector = Inspector::new();
    inspector.inspect_container();
    let name = request["name"].as_str().unwrap_or("World");
    inspector.add_attribute("message", format!("Hello {{name}}!"));
    inspector.finish()
}}
"#
    )
}
