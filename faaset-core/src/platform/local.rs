//! The local platform: configuration keys, publishing a build to the workspace's engine
//! (`crate::engine`), and the client that starts it on demand and calls it.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::connections::{Connections, SendError};
use super::{scripts, Answer, Deployment, Driver, Target};

use crate::config::{Config, KeySpec, Kind};
use crate::engine::wire::{self, EngineStatus, FunctionSpec, Report};
use crate::engine::{self, EngineInfo};
use crate::error::{Error, Result};
use crate::function::{sha256_hex, FunctionPaths};
use crate::progress::Sink;
use crate::workspace::Workspace;

/// The built-in platform: Lambda's resource model in the workspace's engine.
pub struct Local;

#[async_trait]
impl Driver for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn config_keys(&self) -> &'static [KeySpec] {
        CONFIG_KEYS
    }

    fn reports(&self) -> &'static [&'static str] {
        REPORTED
    }

    /// Hands the engine the fresh build if there is one (`.build/` is rebuilt by every
    /// deploy and may hold a failed build), else the binary of the last successful deploy.
    async fn publish(&self, f: &Deployment<'_>, _fresh: bool, _sink: &dyn Sink) -> Result<()> {
        let name = self.name();
        let fresh = f.paths.build_dir(name).join("bootstrap");
        let kept = deployed_binary(f.workspace, f.paths);
        let bootstrap = if fresh.is_file() { fresh } else { kept.clone() };
        if !bootstrap.is_file() {
            return Err(Error::Usage(format!(
                "{} has no built bootstrap: run `faaset deploy {} --force`",
                f.paths.name, f.paths.name
            )));
        }
        let log_file = f.paths.logs_dir(name).join("function.log");
        // The engine keeps one stored copy per code hash: hash the binary itself, so a forced
        // rebuild (new toolchain, new runtime crate, `:dep x = "*"`) always reaches it.
        let code_sha256 = std::fs::read(&bootstrap)
            .map(|bytes| sha256_hex(&bytes))
            .map_err(|e| Error::io("read", &bootstrap, e))?;
        let spec = function_spec(
            f.paths.name.as_str(),
            bootstrap,
            code_sha256,
            log_file,
            f.config,
        );
        let client = EngineClient::ensure(f.workspace).await?;
        client.publish(&spec).await?;
        if spec.code_path != kept {
            keep_binary(&spec.code_path, &kept)?;
        }
        Ok(())
    }

    /// Calls go to the engine, or through the function's `run.sh` when its user changed it.
    async fn connect(&self, f: &Deployment<'_>) -> Result<Box<dyn Target>> {
        let engine = EngineClient::ensure(f.workspace).await?;
        if let Some(script) = scripts::RunScript::customised(f.paths, f.platform) {
            // The script finds the engine through engine.json: make sure the running one has
            // the function (a new engine, after an idle exit or a restart, has none).
            if engine.function(f.paths.name.as_str()).await?.is_none() {
                f.platform.republish(f.workspace, f.paths).await?;
            }
            return Ok(Box::new(script));
        }
        Ok(Box::new(EngineTarget {
            workspace: f.workspace.clone(),
            paths: f.paths.clone(),
            platform: f.platform.clone(),
            engine: RwLock::new(engine),
        }))
    }
}

/// What the engine measures of every call ([`Report`]'s fields): the Lambda-shaped eight,
/// every platform field but OpenWhisk's `waitTime` and `activationId`.
const REPORTED: &[&str] = super::REPORT_FIELDS.split_at(8).0;

/// A function in the workspace's engine.
struct EngineTarget {
    workspace: Workspace,
    paths: FunctionPaths,
    platform: super::Platform,
    /// Replaced when the engine restarted (a `local stop` and start during an experiment),
    /// so the rest of the calls go to the new one.
    engine: RwLock<EngineClient>,
}

impl EngineTarget {
    fn client(&self) -> EngineClient {
        self.engine
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[async_trait]
impl Target for EngineTarget {
    async fn call(&self, body: bytes::Bytes) -> Result<Answer> {
        self.call_in(body, false).await
    }

    fn cold_calls(&self) -> std::result::Result<(), String> {
        Ok(())
    }

    /// The engine starts a new environment for the call and ends it afterwards.
    async fn call_cold(&self, body: bytes::Bytes) -> Result<Answer> {
        self.call_in(body, true).await
    }
}

impl EngineTarget {
    /// One call; `fresh`: in a new environment used only for it.
    async fn call_in(&self, body: bytes::Bytes, fresh: bool) -> Result<Answer> {
        let name = self.paths.name.as_str();
        let response = match self.client().invoke(name, body.clone(), fresh).await {
            Err(Error::EngineUnreachable(_)) => {
                // The engine is gone (the call was not made): find or start the workspace's
                // engine and make the call there.
                let engine = EngineClient::ensure(&self.workspace).await?;
                *self.engine.write().unwrap_or_else(|e| e.into_inner()) = engine.clone();
                engine.invoke(name, body.clone(), fresh).await
            }
            other => other,
        };
        let response = match response? {
            Some(response) => response,
            None => {
                // The engine was restarted and lost the function: publish it again.
                self.platform
                    .republish(&self.workspace, &self.paths)
                    .await?;
                self.client()
                    .invoke(name, body, fresh)
                    .await?
                    .ok_or_else(|| Error::Engine("the function vanished after publishing".into()))?
            }
        };
        let report = match response.report.map(serde_json::to_value) {
            Some(Ok(Value::Object(fields))) => fields,
            _ => serde_json::Map::new(),
        };
        Ok(Answer {
            body: response.body,
            function_error: response.function_error,
            report,
        })
    }
}

/// Where the binary of a function's last successful publish is kept (the tools' state
/// folder), so reconfiguring works while `.build/` holds a failed build.
fn deployed_binary(workspace: &Workspace, paths: &FunctionPaths) -> PathBuf {
    workspace
        .state_dir()
        .join("deployed")
        .join(paths.name.as_str())
        .join(Local.name())
        .join("bootstrap")
}

/// Replaces `kept` with `binary` atomically.
fn keep_binary(binary: &Path, kept: &Path) -> Result<()> {
    crate::function::place_copy(binary, kept).map_err(|e| Error::io("keep a copy at", kept, e))
}

/// Keys of the local platform's configuration (Lambda's ranges).
pub const CONFIG_KEYS: &[KeySpec] = &[
    KeySpec {
        key: "memory",
        kind: Kind::Integer {
            min: wire::MIN_MEMORY_MB as i64,
            max: wire::MAX_MEMORY_MB as i64,
            unit: " MB",
        },
    },
    KeySpec {
        key: "timeout",
        kind: Kind::Number {
            min: 0.001,
            max: wire::MAX_TIMEOUT_S,
            unit: " seconds",
        },
    },
    crate::config::ENV_KEY,
    crate::config::ARCHITECTURE_KEY,
    KeySpec {
        key: "idle_timeout",
        kind: Kind::Number {
            min: 0.001,
            max: wire::MAX_IDLE_S,
            unit: " seconds",
        },
    },
];

/// The engine's answer to one invocation.
pub struct EngineResponse {
    pub body: bytes::Bytes,
    pub function_error: bool,
    pub report: Option<Report>,
}

/// A connection to the workspace's running engine (cheap to clone; pooled HTTP).
#[derive(Clone)]
pub struct EngineClient {
    /// The invoke path: lean keep-alive connections (see `connections`).
    connections: Connections,
    /// `Host` header of those requests.
    host: String,
    /// Control requests (publish, status): a general client.
    base: String,
    authorization: String,
    http: reqwest::Client,
}

impl EngineClient {
    /// Connects to the running engine, starting one when none answers.
    pub async fn ensure(workspace: &Workspace) -> Result<Self> {
        if let Some(client) = Self::running(workspace).await {
            return Ok(client);
        }
        let dir = engine::engine_dir(workspace);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        // One starter at a time per workspace; the others find its engine afterwards.
        let lock_path = dir.join("start.lock");
        let lock =
            std::fs::File::create(&lock_path).map_err(|e| Error::io("create", &lock_path, e))?;
        let lock = tokio::task::spawn_blocking(move || lock.lock().map(|_| lock))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::io("lock", &lock_path, e))?;
        if let Some(client) = Self::running(workspace).await {
            return Ok(client);
        }
        start_engine(workspace)?;
        for _ in 0..600 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            if let Some(client) = Self::running(workspace).await {
                drop(lock);
                return Ok(client);
            }
        }
        Err(Error::Engine(format!(
            "did not start within 15 s; see {}",
            dir.join("engine.log").display()
        )))
    }

    /// Connects to the running engine of this workspace, if one answers. An engine that
    /// serves another folder (its `engine.json` came along when the workspace was copied)
    /// is not this workspace's: the copy gets an engine of its own.
    pub async fn running(workspace: &Workspace) -> Option<Self> {
        let text = std::fs::read_to_string(engine::info_file(workspace)).ok()?;
        let info: EngineInfo = serde_json::from_str(&text).ok()?;
        let client = Self::new(&info)?;
        let health = client
            .http
            .get(format!("{}/faaset/health", client.base))
            .header(wire::AUTHORIZATION, &client.authorization)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        if !health.status().is_success() {
            return None;
        }
        let health: Value = serde_json::from_slice(&health.bytes().await.ok()?).ok()?;
        let served = std::path::Path::new(health["workspace"].as_str()?);
        same_folder(served, workspace.root()).then_some(client)
    }

    fn new(info: &EngineInfo) -> Option<Self> {
        let address: std::net::SocketAddr = info.address.parse().ok()?;
        Some(EngineClient {
            connections: Connections::new(address),
            host: info.address.clone(),
            base: format!("http://{}", info.address),
            authorization: format!("Bearer {}", info.token),
            http: super::http_client()
                .no_proxy()
                .tcp_nodelay(true)
                .pool_max_idle_per_host(usize::MAX)
                .build()
                .expect("HTTP client"),
        })
    }

    /// Creates or updates a function.
    pub async fn publish(&self, spec: &FunctionSpec) -> Result<()> {
        let response = self
            .http
            .put(format!(
                "{}/2015-03-31/functions/{}",
                self.base, spec.function_name
            ))
            .header(wire::AUTHORIZATION, &self.authorization)
            .json(spec)
            .send()
            .await
            .map_err(|e| Error::Engine(format!("publish failed: {e}")))?;
        if !response.status().is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(Error::Engine(format!("publish refused: {text}")));
        }
        Ok(())
    }

    /// The published configuration of a function, if the engine has it.
    pub async fn function(&self, name: &str) -> Result<Option<FunctionSpec>> {
        let response = self
            .http
            .get(format!("{}/2015-03-31/functions/{name}", self.base))
            .header(wire::AUTHORIZATION, &self.authorization)
            .send()
            .await
            .map_err(|e| Error::Engine(e.to_string()))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        response
            .json()
            .await
            .map(Some)
            .map_err(|e| Error::Engine(e.to_string()))
    }

    /// Invokes a function; `Ok(None)` when the engine does not have it. `fresh`: in a new
    /// environment, ended after the call (a forced cold start).
    pub async fn invoke(
        &self,
        name: &str,
        payload: bytes::Bytes,
        fresh: bool,
    ) -> Result<Option<EngineResponse>> {
        let path = format!("/2015-03-31/functions/{name}/invocations");
        let request = || {
            let mut request = hyper::Request::new(http_body_util::Full::new(payload.clone()));
            *request.method_mut() = hyper::Method::POST;
            *request.uri_mut() = hyper::Uri::try_from(path.as_str()).expect("a valid path");
            let headers = request.headers_mut();
            if let Ok(host) = hyper::header::HeaderValue::from_str(&self.host) {
                headers.insert(hyper::header::HOST, host);
            }
            if let Ok(token) = hyper::header::HeaderValue::from_str(&self.authorization) {
                headers.insert(wire::AUTHORIZATION, token);
            }
            if fresh {
                headers.insert(
                    wire::FRESH_ENVIRONMENT,
                    hyper::header::HeaderValue::from_static("1"),
                );
            }
            request
        };
        let answer = self.connections.send(request).await.map_err(|e| match e {
            SendError::Unreachable(e) => Error::EngineUnreachable(format!("invoke failed: {e}")),
            SendError::Failed(e) => Error::Engine(format!("invoke failed: {e}")),
        })?;
        if answer.status == hyper::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if answer.status == hyper::StatusCode::PAYLOAD_TOO_LARGE {
            return Err(Error::Usage(format!(
                "the payload is larger than Lambda's limit of {} bytes; send less data per call",
                wire::MAX_PAYLOAD
            )));
        }
        let function_error = answer.headers.contains_key(wire::FUNCTION_ERROR);
        let report = answer
            .headers
            .get(wire::REPORT)
            .and_then(|v| serde_json::from_slice(v.as_bytes()).ok());
        let body = answer.body;
        if !answer.status.is_success() {
            return Err(Error::Engine(format!(
                "invoke failed ({}): {}",
                answer.status,
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(Some(EngineResponse {
            body,
            function_error,
            report,
        }))
    }

    pub async fn status(&self) -> Result<EngineStatus> {
        self.http
            .get(format!("{}/faaset/status", self.base))
            .header(wire::AUTHORIZATION, &self.authorization)
            .send()
            .await
            .map_err(|e| Error::Engine(e.to_string()))?
            .json()
            .await
            .map_err(|e| Error::Engine(e.to_string()))
    }

    pub async fn shutdown(&self) -> Result<()> {
        self.http
            .post(format!("{}/faaset/shutdown", self.base))
            .header(wire::AUTHORIZATION, &self.authorization)
            .send()
            .await
            .map_err(|e| Error::Engine(e.to_string()))?;
        Ok(())
    }
}

/// The function specification the engine gets for a merged configuration.
pub fn function_spec(
    name: &str,
    bootstrap: PathBuf,
    code_sha256: String,
    log_file: PathBuf,
    config: &Config,
) -> FunctionSpec {
    let number =
        |key: &str, default: f64| config.get(key).and_then(Value::as_f64).unwrap_or(default);
    FunctionSpec {
        function_name: name.to_string(),
        code_path: bootstrap,
        code_sha256,
        memory_size: number("memory", 512.0) as u32,
        timeout: number("timeout", 3.0),
        environment: config
            .get("env")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
        log_file,
        idle_timeout: number("idle_timeout", 600.0),
    }
}

/// Whether two paths name the same folder (after resolving links).
fn same_folder(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The variables of the caller an engine keeps: the system's basics and FaaSET's own.
fn engine_keeps(key: &std::ffi::OsStr) -> bool {
    let key = key.to_string_lossy();
    matches!(
        key.as_ref(),
        "PATH"
            | "HOME"
            | "USER"
            | "LANG"
            | "LC_ALL"
            | "TZ"
            | "TMPDIR"
            | "RUST_BACKTRACE"
            | "RUST_LOG"
            | "LLVM_PROFILE_FILE"
    ) || (key.starts_with("FAASET_") && !key.starts_with("FAASET_KERNEL_"))
}

/// Starts `faaset local serve` for the workspace as a daemon (own process group, output to
/// `.faaset/local/engine.log`).
fn start_engine(workspace: &Workspace) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let dir = engine::engine_dir(workspace);
    let log_path = dir.join("engine.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::io("open", &log_path, e))?;
    let err = log
        .try_clone()
        .map_err(|e| Error::io("open", &log_path, e))?;
    let binary = faaset_binary();
    std::process::Command::new(&binary)
        .args(["local", "serve", "--workspace"])
        .arg(workspace.root())
        // The engine lives long and runs functions: it gets what it needs, not the
        // caller's cloud credentials or the kernel's token.
        .env_clear()
        .envs(std::env::vars_os().filter(|(key, _)| engine_keeps(key)))
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| {
            Error::Engine(format!(
                "cannot start {} ({e}); is faaset installed (./install.sh)?",
                binary.display()
            ))
        })?;
    Ok(())
}

/// The `faaset` executable: `$FAASET_BIN`, this process when it is `faaset`, a `faaset`
/// beside this executable (the kernel is installed next to it), else `faaset` on PATH.
pub fn faaset_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("FAASET_BIN") {
        return PathBuf::from(bin);
    }
    if let Ok(exe) = std::env::current_exe() {
        if exe.file_name().is_some_and(|n| n == "faaset") {
            return exe;
        }
        if let Some(sibling) = exe
            .parent()
            .map(|d| d.join("faaset"))
            .filter(|p| p.is_file())
        {
            return sibling;
        }
    }
    PathBuf::from("faaset")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_report_fills_exactly_the_fields_the_driver_names() {
        let report = Report {
            duration: 1.0,
            billed_duration: 1.0,
            memory_size: 128,
            max_memory_used: 20.0,
            init_duration: Some(5.0),
            cold_start: true,
            environment_id: "e1".into(),
            limits_enforced: true,
        };
        let Value::Object(fields) = serde_json::to_value(report).unwrap() else {
            panic!("a report is an object")
        };
        let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut named = Local.reports().to_vec();
        named.sort_unstable();
        assert_eq!(keys, named);
    }
}
