//! The engine's control and invoke API, in the shape of AWS Lambda's
//! (`/2015-03-31/functions/...`), plus `/faaset/{health,status,shutdown}`. Every request must
//! carry the workspace's token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::oneshot;

use super::environment::{Invocation, RuntimeReply};
use super::pool::{AcquireError, Pool};
use super::wire::{self, EngineStatus, FunctionSpec, Report};

/// Lambda ends an init phase longer than this.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Shared by every request handler.
pub struct Engine {
    pub pool: Pool,
    pub token: String,
    pub workspace: std::path::PathBuf,
    /// Notified by `POST /faaset/shutdown` (and by the watchdog in `engine::run`).
    pub shutdown: tokio::sync::Notify,
    /// When the last authorized request arrived: an engine nobody talks to and that runs
    /// nothing ends itself (see `engine::IDLE_EXIT`).
    pub last_request: std::sync::Mutex<std::time::Instant>,
}

/// The API's routes; testable without sockets.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route(
            "/2015-03-31/functions/{name}",
            get(get_function).put(put_function),
        )
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .route("/faaset/health", get(health))
        .route("/faaset/status", get(status))
        .route("/faaset/shutdown", post(shutdown))
        .layer(axum::extract::DefaultBodyLimit::max(wire::MAX_PAYLOAD))
        .layer(middleware::from_fn_with_state(engine.clone(), authorize))
        .with_state(engine)
}

async fn authorize(State(engine): State<Arc<Engine>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(wire::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !crate::auth::bearer_matches(presented, &engine.token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "AccessDeniedException",
            "missing or wrong token (see .faaset/local/engine.json of the workspace)",
        );
    }
    *super::lock(&engine.last_request) = std::time::Instant::now();
    let response = next.run(request).await;
    *super::lock(&engine.last_request) = std::time::Instant::now();
    response
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (status, Json(wire::error_body(error_type, message))).into_response()
}

fn not_found(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        &format!("Function not found: {name}"),
    )
}

async fn health(State(engine): State<Arc<Engine>>) -> Response {
    Json(serde_json::json!({
        "pid": std::process::id(),
        "workspace": engine.workspace,
    }))
    .into_response()
}

async fn status(State(engine): State<Arc<Engine>>) -> Response {
    Json(EngineStatus {
        pid: std::process::id(),
        workspace: engine.workspace.clone(),
        functions: engine.pool.function_names(),
        limits: engine.pool.limits.describe(),
        environments: engine.pool.status(),
    })
    .into_response()
}

async fn shutdown(State(engine): State<Arc<Engine>>) -> Response {
    engine.shutdown.notify_one();
    Json(serde_json::json!({"status": "stopping"})).into_response()
}

async fn get_function(State(engine): State<Arc<Engine>>, Path(name): Path<String>) -> Response {
    match engine.pool.spec(&name) {
        Some(spec) => Json(&*spec).into_response(),
        None => not_found(&name),
    }
}

async fn put_function(
    State(engine): State<Arc<Engine>>,
    Path(name): Path<String>,
    Json(spec): Json<FunctionSpec>,
) -> Response {
    if let Err(message) = validate(&spec, &name, &engine.workspace) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &message,
        );
    }
    match engine.pool.publish(spec.clone()) {
        Ok(()) => Json(spec).into_response(),
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!("cannot store code {}: {e}", spec.code_path.display()),
        ),
    }
}

/// Checks every field of a publish before the pool sees it. The engine runs `CodePath` and
/// appends to `LogFile` as its own user, so both must be the workspace's own build output
/// and log folder (by canonical path: no `..`, no link out of the workspace).
pub fn validate(
    spec: &FunctionSpec,
    name: &str,
    workspace: &std::path::Path,
) -> Result<(), String> {
    crate::name::FunctionName::new(name).map_err(|e| e.to_string())?;
    if spec.function_name != name {
        return Err("FunctionName differs from the name in the path".into());
    }
    let hash = &spec.code_sha256;
    if hash.is_empty() || hash.len() > 128 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("CodeSha256 must be a hex digest".into());
    }
    use wire::{MAX_IDLE_S, MAX_MEMORY_MB, MAX_TIMEOUT_S, MIN_MEMORY_MB};
    if !(MIN_MEMORY_MB..=MAX_MEMORY_MB).contains(&spec.memory_size) {
        return Err(format!(
            "MemorySize {} MB is outside {MIN_MEMORY_MB}..={MAX_MEMORY_MB} MB",
            spec.memory_size
        ));
    }
    if !(spec.timeout.is_finite() && spec.timeout > 0.0 && spec.timeout <= MAX_TIMEOUT_S) {
        return Err(format!(
            "Timeout {} s must be more than 0 and at most {MAX_TIMEOUT_S} s",
            spec.timeout
        ));
    }
    if !(spec.idle_timeout.is_finite() && (0.0..=MAX_IDLE_S).contains(&spec.idle_timeout)) {
        return Err(format!(
            "IdleTimeout {} s must be between 0 and {MAX_IDLE_S} s",
            spec.idle_timeout
        ));
    }
    let root = workspace
        .canonicalize()
        .map_err(|e| format!("the engine's workspace {}: {e}", workspace.display()))?;
    let inside = |path: &std::path::Path| -> Option<Vec<String>> {
        let path = path.canonicalize().ok()?;
        let relative = path.strip_prefix(&root).ok()?;
        Some(
            relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect(),
        )
    };
    let code = inside(&spec.code_path);
    // functions/<fn>/<platform>/.build/bootstrap, or the kept copy in
    // .faaset/deployed/<fn>/<platform>/bootstrap.
    let code_ok = match code.as_deref() {
        Some([top, f, _, build, file]) if top == "functions" => {
            f == name && build == ".build" && file == "bootstrap"
        }
        Some([top, deployed, f, _, file]) if top == ".faaset" => {
            deployed == "deployed" && f == name && file == "bootstrap"
        }
        _ => false,
    };
    if !code_ok {
        return Err(format!(
            "CodePath {} is not a build of {name} in the workspace {} (functions/{name}/<platform>/.build/bootstrap)",
            spec.code_path.display(),
            root.display()
        ));
    }
    // The log file itself may not exist yet: its folder must.
    let log_dir = spec.log_file.parent().and_then(inside);
    let log_ok = spec.log_file.file_name().is_some()
        && matches!(log_dir.as_deref(), Some([functions, f, _, logs])
            if functions == "functions" && f == name && logs == "logs");
    if !log_ok {
        return Err(format!(
            "LogFile {} is not in the logs folder of {name} in the workspace {}",
            spec.log_file.display(),
            root.display()
        ));
    }
    Ok(())
}

/// How an invocation ended, before it is turned into an HTTP response.
enum Outcome {
    Answer(RuntimeReply),
    Failed {
        error_type: &'static str,
        message: String,
    },
}

async fn invoke(
    State(engine): State<Arc<Engine>>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    payload: Bytes,
) -> Response {
    let fresh = headers
        .get(wire::FRESH_ENVIRONMENT)
        .is_some_and(|v| v.as_bytes() == b"1");
    // The call runs in its own task: when the client goes away (Ctrl-C, a timeout of its
    // own) the function still finishes or times out and its environment is released, as on
    // Lambda, instead of staying busy forever.
    match tokio::spawn(run_invocation(engine, name, payload, fresh)).await {
        Ok(response) => response,
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            &format!("the invocation failed inside the engine: {e}"),
        ),
    }
}

async fn run_invocation(
    engine: Arc<Engine>,
    name: String,
    payload: Bytes,
    fresh: bool,
) -> Response {
    let lease = match engine.pool.acquire(&name, fresh).await {
        Ok(lease) => lease,
        Err(AcquireError::NotFound) => return not_found(&name),
        Err(AcquireError::Throttled(limit)) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                &format!("Rate Exceeded. (the local engine runs at most {limit} environments at once; FAASET_LOCAL_CONCURRENCY in the environment of the command that starts the engine changes it)"),
            )
        }
        Err(AcquireError::Start(message)) => {
            return error(StatusCode::BAD_GATEWAY, "ServiceException", &message)
        }
    };
    let env = lease.environment.clone();
    let request_id = request_id();
    let timeout = Duration::try_from_secs_f64(lease.spec.timeout)
        .unwrap_or(Duration::from_secs_f64(wire::MAX_TIMEOUT_S));
    let (taken_tx, taken_rx) = oneshot::channel();
    let (reply_tx, reply_rx) = oneshot::channel();
    let invocation = Invocation {
        request_id: request_id.clone(),
        payload,
        timeout_ms: timeout.as_millis() as u64,
        invoked_function_arn: format!("arn:aws:lambda:local:000000000000:function:{name}"),
        taken: taken_tx,
        reply: reply_tx,
    };
    let mut taken_at = Instant::now();
    let mut discard = false;
    let outcome = 'call: {
        if let Err(message) = env.send(invocation).await {
            discard = true;
            break 'call Outcome::Failed {
                error_type: "Runtime.ExitError",
                message,
            };
        }
        taken_at = tokio::select! {
            taken = taken_rx => match taken {
                Ok(at) => at,
                Err(_) => Instant::now(),
            },
            reason = env.exited() => {
                discard = true;
                let detail = env.init.error.get().map(|e| format!(": {e}")).unwrap_or_default();
                break 'call Outcome::Failed {
                    error_type: "Runtime.ExitError",
                    message: format!("RequestId: {request_id} Error: Runtime exited with error: {reason}{detail}"),
                };
            }
            _ = tokio::time::sleep(INIT_TIMEOUT) => {
                discard = true;
                break 'call Outcome::Failed {
                    error_type: "Runtime.InitError",
                    message: format!("RequestId: {request_id} Error: init did not finish within {} s", INIT_TIMEOUT.as_secs()),
                };
            }
        };
        tokio::select! {
            reply = reply_rx => match reply {
                Ok(reply) => Outcome::Answer(reply),
                Err(_) => {
                    discard = true;
                    let reason = env.exited().await;
                    Outcome::Failed {
                        error_type: "Runtime.ExitError",
                        message: format!("RequestId: {request_id} Error: Runtime exited with error: {reason}"),
                    }
                }
            },
            reason = env.exited() => {
                discard = true;
                Outcome::Failed {
                    error_type: "Runtime.ExitError",
                    message: format!("RequestId: {request_id} Error: Runtime exited with error: {reason}"),
                }
            }
            _ = tokio::time::sleep(timeout) => {
                discard = true;
                Outcome::Failed {
                    error_type: "Sandbox.Timedout",
                    message: format!("RequestId: {request_id} Error: Task timed out after {:.2} seconds", lease.spec.timeout),
                }
            }
        }
    };
    let duration = taken_at.elapsed().as_secs_f64() * 1000.0;
    let report = Report {
        duration,
        billed_duration: duration.ceil(),
        memory_size: lease.spec.memory_size,
        max_memory_used: env.max_memory_used_mb(),
        init_duration: lease.cold.then(|| {
            let ready = env.init.ready.get().copied().unwrap_or(taken_at);
            ready.duration_since(env.created).as_secs_f64() * 1000.0
        }),
        cold_start: lease.cold,
        environment_id: env.id.clone(),
        limits_enforced: env.limits_enforced(),
    };
    write_report_line(&lease.log, &request_id, &report);
    // A fresh environment served its one call: ended, so the next fresh call cannot find it
    // and a cold-start study leaves no pile of idle processes.
    if discard || fresh {
        engine.pool.discard(&env);
    } else {
        engine.pool.release(env);
    }
    let (function_error, body) = match outcome {
        Outcome::Answer(RuntimeReply::Response(body)) => (false, body),
        Outcome::Answer(RuntimeReply::Error(body)) => (true, body),
        Outcome::Failed {
            error_type,
            message,
        } => (
            true,
            Bytes::from(wire::error_body(error_type, &message).to_string()),
        ),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if function_error {
        headers.insert(wire::FUNCTION_ERROR, HeaderValue::from_static("Unhandled"));
    }
    if let Ok(value) = HeaderValue::from_str(&serde_json::to_string(&report).unwrap_or_default()) {
        headers.insert(wire::REPORT, value);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(wire::REQUEST_ID, value);
    }
    response
}

fn write_report_line(log: &std::fs::File, request_id: &str, report: &Report) {
    use std::io::Write;
    let init = report
        .init_duration
        .map(|d| format!("\tInit Duration: {d:.2} ms"))
        .unwrap_or_default();
    let line = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {:.0} MB{init}\n",
        report.duration, report.billed_duration, report.memory_size, report.max_memory_used
    );
    let _ = (&*log).write_all(line.as_bytes());
}

/// A random UUID-shaped request id (unique, not secret).
fn request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let (a, b) = (random(), random());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}
