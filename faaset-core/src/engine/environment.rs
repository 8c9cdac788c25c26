//! One execution environment: a process of the function's `bootstrap` with its own Lambda
//! Runtime API endpoint (`AWS_LAMBDA_RUNTIME_API`) on loopback. The environment takes one
//! request at a time: the engine hands it an [`Invocation`] through a channel, which the
//! runtime API's `next` call receives.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch, Notify};

use super::limits::{self, EnvironmentCgroup, Limits};
use super::runtime_api;
use super::wire::FunctionSpec;

/// A request on its way to an environment.
pub struct Invocation {
    pub request_id: String,
    pub payload: bytes::Bytes,
    /// The function's timeout in ms; the runtime API turns it into the deadline
    /// (`lambda-runtime-deadline-ms`) when the environment takes the request.
    pub timeout_ms: u64,
    pub invoked_function_arn: String,
    /// Told when the environment takes the request (its `next` call returns it).
    pub taken: oneshot::Sender<Instant>,
    /// Told the function's answer.
    pub reply: oneshot::Sender<RuntimeReply>,
}

/// What the function answered through the runtime API.
#[derive(Debug)]
pub enum RuntimeReply {
    Response(bytes::Bytes),
    Error(bytes::Bytes),
}

/// A running environment.
pub struct Environment {
    pub id: String,
    pub function: String,
    /// The function's configuration generation this environment was started with; an
    /// environment of an older generation is not reused (reconfigure replaces environments).
    pub generation: u64,
    pub memory: u32,
    pub pid: u32,
    pub created: Instant,
    /// What the runtime API saw of the init phase (its end, an init error).
    pub init: Arc<runtime_api::InitState>,
    pub calls: AtomicU64,
    pub busy: std::sync::atomic::AtomicBool,
    pub last_used: Mutex<Instant>,
    /// The environment's cgroup when limits are enforced.
    cgroup: Option<Arc<EnvironmentCgroup>>,
    invocations: mpsc::Sender<Invocation>,
    exit: watch::Receiver<Option<String>>,
    kill: Arc<Notify>,
    server: tokio::task::JoinHandle<()>,
}

impl Environment {
    /// Starts the runtime API endpoint and the `bootstrap` process.
    pub async fn start(
        id: String,
        generation: u64,
        spec: &FunctionSpec,
        code: &Path,
        limits: &Limits,
    ) -> std::io::Result<Arc<Environment>> {
        let (tx, rx) = mpsc::channel(1);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let created = Instant::now();
        let cgroup = limits.create(&id, spec.memory_size)?.map(Arc::new);
        let init = Arc::new(runtime_api::InitState {
            ready: OnceLock::new(),
            error: OnceLock::new(),
            cgroup: cgroup.clone(),
        });
        // The port is visible to every local user; the path's secret, only in the
        // environment's own (owner-readable) environment, keeps them out.
        let secret = crate::auth::new_token().map_err(std::io::Error::other)?;
        let endpoint = runtime_api::endpoint(address, &secret);
        let server = tokio::spawn(runtime_api::serve(listener, secret, rx, init.clone()));

        rotate_log(&spec.log_file);
        let log = private_log(&spec.log_file);
        let (stdout, stderr) = match log {
            Ok(file) => (Stdio::from(file.try_clone()?), Stdio::from(file)),
            Err(_) => (Stdio::null(), Stdio::null()),
        };
        let mut command = tokio::process::Command::new(code);
        command
            .env_clear()
            .current_dir(code.parent().unwrap_or(Path::new("/")))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true);
        for (key, value) in lambda_environment(spec, code, &id, &endpoint) {
            command.env(key, value);
        }
        let procs = cgroup.as_ref().map(|c| c.procs_files()).unwrap_or_default();
        // SAFETY: the closure only calls async-signal-safe functions (open, write, close,
        // setpgid, prctl, getppid).
        unsafe {
            command.pre_exec(move || {
                limits::join_cgroups(&procs)?;
                limits::tie_to_engine()
            });
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                server.abort();
                return Err(e);
            }
        };
        let pid = child.id().unwrap_or(0);
        if let Some(cgroup) = &cgroup {
            cgroup.set_pid(pid);
        }
        let (exit_tx, exit) = watch::channel(None);
        let kill = Arc::new(Notify::new());
        let kill_signal = kill.clone();
        let watched = cgroup.clone();
        let memory = spec.memory_size;
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_signal.notified() => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            // Whatever the function started ends with it, as when Lambda ends a sandbox.
            limits::kill_group(pid);
            if let Some(cgroup) = watched.clone() {
                let _ = tokio::task::spawn_blocking(move || cgroup.kill_all()).await;
            }
            let mut text = match status {
                Ok(status) => describe_exit(status),
                Err(e) => format!("wait failed: {e}"),
            };
            if watched.as_ref().is_some_and(|c| c.oom_killed()) {
                text.push_str(&format!(
                    " (out of memory: the function needed more than its {memory} MB)"
                ));
            }
            drop(watched);
            let _ = exit_tx.send(Some(text));
        });

        Ok(Arc::new(Environment {
            id,
            function: spec.function_name.clone(),
            generation,
            memory: spec.memory_size,
            pid,
            created,
            init,
            calls: AtomicU64::new(0),
            cgroup,
            busy: false.into(),
            last_used: Mutex::new(created),
            invocations: tx,
            exit,
            kill,
            server,
        }))
    }

    /// Hands a request to the environment.
    pub async fn send(&self, invocation: Invocation) -> Result<(), String> {
        self.invocations
            .send(invocation)
            .await
            .map_err(|_| "the environment is gone".to_string())
    }

    /// Why the process ended, once it has.
    pub fn exit_reason(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    /// Resolves when the process has ended, with the reason.
    pub async fn exited(&self) -> String {
        let mut exit = self.exit.clone();
        let reason = match exit.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => "the environment is gone".to_string(),
        };
        reason
    }

    /// Sends `SIGKILL` to the process group at once (the exit watcher reaps it).
    pub fn kill_now(&self) {
        limits::kill_group(self.pid);
    }

    /// Ends the process (timeout, reconfigure, reaping, shutdown).
    pub fn kill(&self) {
        self.kill.notify_one();
    }

    pub fn mark_used(&self) {
        *super::lock(&self.last_used) = Instant::now();
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether memory and CPU limits are enforced on this environment.
    pub fn limits_enforced(&self) -> bool {
        self.cgroup.is_some()
    }

    /// Peak memory of the environment in MB, as Lambda's `Max Memory Used`: the larger of its
    /// cgroup's peak and the process's peak resident memory (`VmHWM`). The cgroup alone
    /// under-reports on cgroup v1: pages of the binary charged to whichever cgroup read them
    /// first are not counted (a cold `hello_world` showed 0.5 MB against a 3.5 MB `VmHWM`).
    pub fn max_memory_used_mb(&self) -> f64 {
        let cgroup = self
            .cgroup
            .as_ref()
            .and_then(|c| c.peak_mb())
            .unwrap_or(0.0);
        cgroup.max(resident_peak_mb(self.pid).unwrap_or(0.0))
    }
}

/// The peak resident memory (`VmHWM`) of process `pid` in MB.
fn resident_peak_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.kill.notify_one();
        self.server.abort();
    }
}

/// The variables Lambda sets in an environment, the user's `env` under them (as on Lambda,
/// reserved names cannot be overridden).
/// A function log past this size is moved to `<log>.1` (replacing the one before) when an
/// environment starts, so a chatty function cannot fill the disk over many calls.
const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;

/// Opens a function's log for appending, readable by its owner only (it holds what the
/// function printed: payloads, responses, secrets it was careless with), whatever its mode was.
fn private_log(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

fn rotate_log(log: &Path) {
    if std::fs::metadata(log).is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
        let mut old = log.as_os_str().to_owned();
        old.push(".1");
        let _ = std::fs::rename(log, old);
    }
}

fn lambda_environment(
    spec: &FunctionSpec,
    code: &Path,
    id: &str,
    runtime_api: &str,
) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = spec
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let task_root = code
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    let fixed = [
        ("PATH", path),
        ("LANG", "C.UTF-8".into()),
        ("TZ", ":UTC".into()),
        ("LAMBDA_TASK_ROOT", task_root.clone()),
        ("LAMBDA_RUNTIME_DIR", task_root),
        ("_HANDLER", "bootstrap".into()),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.into()),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.function_name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_size.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.function_name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", format!("$LATEST/{id}")),
        ("AWS_REGION", "local".into()),
        ("AWS_DEFAULT_REGION", "local".into()),
        ("FAASET_PLATFORM", "local".into()),
        ("FAASET_ENVIRONMENT_ID", id.into()),
    ];
    vars.retain(|(k, _)| !fixed.iter().any(|(f, _)| f == k));
    vars.extend(fixed.into_iter().map(|(k, v)| (k.to_string(), v)));
    vars
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(9)) => "signal: killed".to_string(),
        (None, Some(signal)) => format!("signal: {signal}"),
        _ => "unknown exit".to_string(),
    }
}
