//! The function lifecycle: persist → compare hashes → build → publish (DESIGN §1.3, §1.4).
//!
//! Everything the user gave is checked before anything is written. An unchanged function is
//! "up to date" without a build or publish; a configuration change only publishes; a source or
//! platform-file change builds and publishes. `FAASET.json` is updated only after success.

use serde_json::Value;

use crate::bootstrap;
use crate::config::{self, Config};
use crate::error::{Error, Result};
pub(crate) use crate::function::unknown_function;
use crate::function::{
    copy_missing, hash_platform_files, now_ms, sha256_hex, Deployed, FunctionPaths, FunctionState,
    Hashes,
};
use crate::locks::{self, Changer};
use crate::name::FunctionName;
use crate::platform::{scripts, Deployment, Platform};
use crate::progress::Sink;
use crate::source;
use crate::workspace::{resources_dir, shared_target_dir, Workspace};

/// The platform used when neither the user nor the function names one.
pub const DEFAULT_PLATFORM: &str = "local";

/// What to deploy.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    pub name: String,
    /// Platform; default: the function's saved platform, else `local`.
    pub platform: Option<String>,
    /// New source text (a cell, `faaset new --from`); default: the saved `src/function.rs`.
    pub source: Option<String>,
    /// Configuration on top of the saved one.
    pub config: Config,
    /// Build and publish even when nothing changed.
    pub force: bool,
}

/// What a deploy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    UpToDate,
    Published,
    BuiltAndPublished,
}

#[derive(Debug, Clone)]
pub struct DeployOutcome {
    pub function: FunctionName,
    pub platform: String,
    pub action: Action,
    /// The merged configuration now deployed.
    pub config: Config,
}

/// A function with everything resolved and checked, not yet written.
struct Prepared {
    paths: FunctionPaths,
    state: FunctionState,
    platform: Platform,
    source_text: String,
    split: source::SplitSource,
    saved: Config,
    merged: Config,
}

fn prepare(workspace: &Workspace, request: &DeployRequest) -> Result<Prepared> {
    let name = FunctionName::new(&request.name)?;
    let paths = FunctionPaths::new(workspace, &name);
    let existing = FunctionState::load(&paths)?;
    if existing.is_none() && request.source.is_none() {
        return Err(unknown_function(workspace, &name));
    }
    let platform_name = request
        .platform
        .clone()
        .or_else(|| existing.as_ref().map(|s| s.platform.clone()))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PLATFORM.to_string());
    let platform = Platform::resolve(workspace, &platform_name)?;
    let source_text = match &request.source {
        Some(text) => text.clone(),
        None if platform.builds() => read_source(&paths)?,
        // A function reached over HTTP needs no source.
        None => std::fs::read_to_string(paths.source_file()).unwrap_or_default(),
    };
    let split = source::split(&source_text)?;
    if platform.builds() {
        source::find_entry(&split.rust, Some(name.as_str()))?;
    }

    config::check_keys(platform.name(), platform.config_keys(), &request.config)?;
    let state = existing.unwrap_or_else(|| FunctionState {
        name: name.to_string(),
        platform: platform.name().to_string(),
        ..FunctionState::default()
    });
    let saved = config::merge(&[
        state.config.get(platform.name()).unwrap_or(&Config::new()),
        &request.config,
    ]);
    let merged = config::merge(&[&platform.default_config()?, &saved]);
    config::check(platform.name(), platform.config_keys(), &merged)?;
    Ok(Prepared {
        paths,
        state,
        platform,
        source_text,
        split,
        saved,
        merged,
    })
}

/// Creates a function without deploying it (`faaset new`): source, `FAASET.json`, the
/// platform folder. Refuses to overwrite an existing function.
pub async fn create(workspace: &Workspace, request: &DeployRequest) -> Result<FunctionPaths> {
    let name = FunctionName::new(&request.name)?;
    // Two `new` of one name at once: the second waits, then finds the first's function.
    let _lock = locks::function(workspace, &request.name).await?;
    let paths = FunctionPaths::new(workspace, &name);
    if paths.state_file().exists() {
        return Err(Error::Usage(format!(
            "function {name} already exists in {}; edit {} or pick another name",
            paths.dir.display(),
            paths.source_file().display()
        )));
    }
    write_function(workspace, request)
}

/// Saves a function without deploying it (`%%cloud_function … --no-deploy`): source,
/// `FAASET.json`, the platform folder; an existing function's source is replaced.
pub async fn save(workspace: &Workspace, request: &DeployRequest) -> Result<FunctionPaths> {
    let _lock = locks::function(workspace, &request.name).await?;
    write_function(workspace, request)
}

/// Checks and writes a function's files (source, `FAASET.json`, platform folder); no build.
fn write_function(workspace: &Workspace, request: &DeployRequest) -> Result<FunctionPaths> {
    let prepared = prepare(workspace, request)?;
    persist(&prepared)?;
    let mut state = prepared.state.clone();
    store_saved_config(&mut state, &prepared);
    state.save(&prepared.paths)?;
    Ok(prepared.paths)
}

/// Deploys a function: builds and publishes what changed.
pub async fn deploy(
    workspace: &Workspace,
    request: &DeployRequest,
    sink: &dyn Sink,
) -> Result<DeployOutcome> {
    let _lock = locks::function(workspace, &request.name).await?;
    let prepared = prepare(workspace, request)?;
    // A deploy that will publish (nothing deployed here yet, or a new configuration or
    // source) is checked with the platform (credentials, limits) before anything is
    // written, so a mistake leaves the workspace as it was. An unchanged function is not:
    // `invoke` deploys first every time, and must not pay a round trip for it.
    let earlier = prepared.state.deployed.get(prepared.platform.name());
    let will_publish = request.force
        || earlier.is_none_or(|d| {
            d.config != prepared.merged
                || d.hashes.source != sha256_hex(prepared.source_text.as_bytes())
        });
    if will_publish {
        prepared
            .platform
            .driver()
            .preflight(&prepared.merged)
            .await?;
    }
    persist(&prepared)?;
    let p = &prepared;
    let platform = p.platform.name();
    let platform_dir = p.paths.platform_dir(platform);
    let hashes = Hashes {
        source: sha256_hex(p.source_text.as_bytes()),
        config: sha256_hex(Value::Object(p.merged.clone()).to_string().as_bytes()),
        platform_files: hash_platform_files(&platform_dir)?,
    };
    let deployed = p.state.deployed.get(platform);
    let built = p.paths.build_dir(platform).join("bootstrap").is_file();
    // A build key (the architecture a binary is built for) changes the code too.
    let code_changed = deployed.is_none_or(|d| {
        d.hashes.source != hashes.source
            || d.hashes.platform_files != hashes.platform_files
            || p.platform
                .build_keys()
                .iter()
                .any(|k| d.config.get(*k) != p.merged.get(*k))
    });
    let needs_build = p.platform.builds() && (request.force || code_changed || !built);
    let needs_publish = needs_build || request.force || deployed.is_none_or(|d| d.hashes != hashes);
    let mut state = p.state.clone();
    store_saved_config(&mut state, p);
    if !needs_publish {
        if state != p.state {
            state.save(&p.paths)?;
        }
        sink.status(&format!(
            "{}: up to date on {platform}, nothing to do",
            p.paths.name
        ));
        return Ok(outcome(p, Action::UpToDate));
    }
    // Refused (before a build that takes minutes) while an experiment or a sweep runs.
    let _changing = locks::change(workspace, &p.paths.name, Changer::User).await?;
    // Credentials, region and role are checked before a build that takes minutes (above,
    // before anything was written, when the publish could be foreseen).
    if !will_publish {
        p.platform.driver().preflight(&p.merged).await?;
    }
    if needs_build {
        build(p, sink).await?;
    }
    sink.status(&format!("{}: publishing to {platform}", p.paths.name));
    publish(
        workspace,
        &p.paths,
        &p.platform,
        &p.merged,
        needs_build,
        sink,
    )
    .await?;
    record_deployed(&mut state, p, hashes)?;
    let action = if needs_build {
        Action::BuiltAndPublished
    } else {
        Action::Published
    };
    sink.status(&format!(
        "{}: {} on {platform}",
        p.paths.name,
        if needs_build {
            "built and published"
        } else {
            "published (configuration only, no rebuild)"
        }
    ));
    Ok(outcome(p, action))
}

/// Builds and publishes `function` first when its source, configuration or platform files
/// changed (as FaaSET does before calls): what `experiment` and `sweep` do before their
/// first call, from the CLI and the notebook alike.
pub async fn deploy_if_changed(
    workspace: &Workspace,
    function: &str,
    platform: Option<&str>,
    sink: &dyn Sink,
) -> Result<DeployOutcome> {
    let request = DeployRequest {
        name: function.to_string(),
        platform: platform.map(str::to_string),
        ..DeployRequest::default()
    };
    deploy(workspace, &request, sink).await
}

/// Publishes a new configuration without rebuilding (FaaSET's `reconfigure`); refused while
/// an experiment or a sweep of the function runs.
pub async fn reconfigure(
    workspace: &Workspace,
    name: &str,
    platform: Option<&str>,
    config: Config,
    sink: &dyn Sink,
) -> Result<DeployOutcome> {
    reconfigure_as(workspace, name, platform, config, sink, Changer::User).await
}

/// [`reconfigure`] by `changer`: a sweep's own steps wait for other experiments instead.
pub(crate) async fn reconfigure_as(
    workspace: &Workspace,
    name: &str,
    platform: Option<&str>,
    config: Config,
    sink: &dyn Sink,
    changer: Changer,
) -> Result<DeployOutcome> {
    let request = DeployRequest {
        name: name.to_string(),
        platform: platform.map(str::to_string),
        config,
        ..DeployRequest::default()
    };
    let _lock = locks::function(workspace, name).await?;
    let p = prepare(workspace, &request)?;
    let platform = p.platform.name();
    let deployed = p.state.deployed_on(platform)?;
    // A build key (the architecture) cannot change without a new binary.
    if let Some(key) = p
        .platform
        .build_keys()
        .iter()
        .find(|k| deployed.config.get(**k) != p.merged.get(**k))
    {
        let value = p.merged.get(*key).cloned().unwrap_or(Value::Null);
        return Err(Error::Usage(format!(
            "changing \"{key}\" of {} needs a new build: run `faaset deploy {} --platform \
             {platform} --config '{{\"{key}\": {value}}}'`",
            p.paths.name, p.paths.name
        )));
    }
    let mut hashes = deployed.hashes.clone();
    hashes.config = sha256_hex(Value::Object(p.merged.clone()).to_string().as_bytes());
    let _changing = locks::change(workspace, &p.paths.name, changer).await?;
    sink.status(&format!(
        "{}: publishing configuration to {platform}",
        p.paths.name
    ));
    publish(workspace, &p.paths, &p.platform, &p.merged, false, sink).await?;
    let mut state = p.state.clone();
    store_saved_config(&mut state, &p);
    record_deployed(&mut state, &p, hashes)?;
    Ok(outcome(&p, Action::Published))
}

/// Records a successful publish of `p` in `FAASET.json` (only after it succeeded, so the
/// file never claims what the platform does not run).
fn record_deployed(state: &mut FunctionState, p: &Prepared, hashes: Hashes) -> Result<()> {
    state.deployed.insert(
        p.platform.name().to_string(),
        Deployed {
            hashes,
            config: p.merged.clone(),
            at: now_ms(),
        },
    );
    state.save(&p.paths)
}

/// Sets `memory` back to what it was before a sweep, in the saved (`None`: removed) and the
/// deployed configuration, and publishes; every other key stays as it is now. Waits for a
/// deploy in progress and for the function's other experiments.
pub(crate) async fn restore_memory(
    workspace: &Workspace,
    paths: &FunctionPaths,
    platform: &Platform,
    saved: Option<Value>,
    deployed: Option<Value>,
) -> Result<()> {
    let _lock = locks::function(workspace, paths.name.as_str()).await?;
    let _changing = locks::change(workspace, &paths.name, Changer::Sweep).await?;
    let name = platform.name();
    let mut state =
        FunctionState::load(paths)?.ok_or_else(|| unknown_function(workspace, &paths.name))?;
    let set = |config: &mut Config, memory: Option<Value>| match memory {
        Some(m) => config.insert("memory".to_string(), m),
        None => config.remove("memory"),
    };
    let saved_config = state.config.entry(name.to_string()).or_default();
    set(saved_config, saved);
    if saved_config.is_empty() {
        state.config.remove(name);
    }
    state.deployed_on(name)?;
    let now = state.deployed.get_mut(name).expect("checked above");
    set(&mut now.config, deployed);
    now.hashes.config = sha256_hex(Value::Object(now.config.clone()).to_string().as_bytes());
    now.at = now_ms();
    state.save(paths)?;
    republish(workspace, paths, platform).await
}

/// Publishes what `FAASET.json` says is deployed again (the engine was restarted).
pub async fn republish(
    workspace: &Workspace,
    paths: &FunctionPaths,
    platform: &Platform,
) -> Result<()> {
    platform.republish(workspace, paths).await
}

/// Publishes the merged configuration and, when `fresh_build`, the code just built.
async fn publish(
    workspace: &Workspace,
    paths: &FunctionPaths,
    platform: &Platform,
    config: &Config,
    fresh_build: bool,
    sink: &dyn Sink,
) -> Result<()> {
    let function = Deployment {
        workspace,
        paths,
        platform,
        config,
    };
    platform
        .driver()
        .publish(&function, fresh_build, sink)
        .await
}

async fn build(p: &Prepared, sink: &dyn Sink) -> Result<()> {
    let platform = p.platform.name();
    let platform_dir = p.paths.platform_dir(platform);
    let runtime = resources_dir()
        .map(|d| d.join("faaset-runtime"))
        .filter(|d| d.is_dir())
        .ok_or_else(|| {
            Error::Usage(
                "cannot find the faaset-runtime crate functions are built against; run ./install.sh or set FAASET_HOME"
                    .to_string(),
            )
        })?;
    sink.status(&format!("{}: building for {platform}", p.paths.name));
    let crate_name = bootstrap::generate(&platform_dir, &p.paths.name, &p.split, &runtime)?;
    let target = shared_target_dir();
    std::fs::create_dir_all(&target).map_err(|e| Error::io("create", &target, e))?;
    let log = p.paths.logs_dir(platform).join("build.log");
    let env = [
        ("FAASET_FUNCTION", p.paths.name.to_string()),
        ("FAASET_CRATE", crate_name),
        ("FAASET_PLATFORM", platform.to_string()),
        ("FAASET_TARGET_DIR", target.display().to_string()),
        (
            "FAASET_ARCHITECTURE",
            p.merged
                .get("architecture")
                .and_then(Value::as_str)
                .unwrap_or("x86_64")
                .to_string(),
        ),
    ];
    let run = scripts::run(&platform_dir, "build.sh", &[], &env, None, &log, sink).await?;
    let user_source = relative_to_cwd(&p.paths.source_file());
    if !run.success {
        return Err(
            match bootstrap::first_compile_error(&run.lines, &user_source) {
                Some(message) => Error::Compile {
                    function: p.paths.name.to_string(),
                    message,
                    log,
                },
                None => Error::Script {
                    function: p.paths.name.to_string(),
                    step: "build.sh",
                    status: run.status,
                    log,
                },
            },
        );
    }
    Ok(())
}

/// Writes the source (when new or changed) and copies missing platform files.
fn persist(p: &Prepared) -> Result<()> {
    let source_file = p.paths.source_file();
    let current = std::fs::read_to_string(&source_file).ok();
    let nothing_to_write = current.is_none() && p.source_text.is_empty();
    if current.as_deref() != Some(p.source_text.as_str()) && !nothing_to_write {
        crate::function::write_atomic(&source_file, p.source_text.as_bytes())?;
    }
    let platform_dir = p.paths.platform_dir(p.platform.name());
    for template in p.platform.templates() {
        copy_missing(template, &platform_dir)?;
    }
    Ok(())
}

fn store_saved_config(state: &mut FunctionState, p: &Prepared) {
    if p.saved.is_empty() {
        state.config.remove(p.platform.name());
    } else {
        state
            .config
            .insert(p.platform.name().to_string(), p.saved.clone());
    }
}

fn outcome(p: &Prepared, action: Action) -> DeployOutcome {
    DeployOutcome {
        function: p.paths.name.clone(),
        platform: p.platform.name().to_string(),
        action,
        config: p.merged.clone(),
    }
}

fn read_source(paths: &FunctionPaths) -> Result<String> {
    let file = paths.source_file();
    std::fs::read_to_string(&file).map_err(|e| {
        Error::Usage(format!(
            "cannot read the source of {} at {} ({e}); write the function there",
            paths.name,
            file.display()
        ))
    })
}

/// A path as the user would type it from the current directory, when it is below it.
fn relative_to_cwd(path: &std::path::Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}
