//! The Lambda Runtime API of one environment (`/2018-06-01/runtime/...`), served on its own
//! loopback port so an environment can only ever receive its own requests. On Lambda the
//! Runtime API is inside the sandbox; here the port is on the host's loopback, visible to
//! every local user, so the API lives under a random secret path
//! (`AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:<port>/<secret>`, which the Rust runtime client
//! takes as its base) that only the environment's own process is told. Any other path is a
//! 404, so nobody else can take an invocation or answer one.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::sync::{mpsc, oneshot};

use super::environment::{Invocation, RuntimeReply};
use super::governor::CallGuard;
use super::limits::EnvironmentCgroup;
use crate::function::now_ms;

/// What the runtime API saw of the environment's init phase.
pub struct InitState {
    /// When the runtime first asked for work: the end of init.
    pub ready: OnceLock<Instant>,
    /// The error the runtime reported through `/runtime/init/error`.
    pub error: OnceLock<String>,
    /// The environment's cgroup, whose CPU quota starts when init ends.
    pub cgroup: Option<Arc<EnvironmentCgroup>>,
}

type InFlight = (String, oneshot::Sender<RuntimeReply>, Option<CallGuard>);

struct RuntimeState {
    invocations: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    /// The request being processed, where its answer goes, and the CPU governor's hold on
    /// it (released with it, also when the environment is torn down).
    in_flight: Mutex<Option<InFlight>>,
    init: Arc<InitState>,
}

/// The value of `AWS_LAMBDA_RUNTIME_API` for an environment served at `address` under
/// `secret`.
pub fn endpoint(address: std::net::SocketAddr, secret: &str) -> String {
    format!("http://{address}/{secret}")
}

/// Serves the runtime API on `listener`, under `/<secret>`, until the task is aborted.
pub async fn serve(
    listener: tokio::net::TcpListener,
    secret: String,
    invocations: mpsc::Receiver<Invocation>,
    init: Arc<InitState>,
) {
    let state = Arc::new(RuntimeState {
        invocations: tokio::sync::Mutex::new(invocations),
        in_flight: Mutex::new(None),
        init,
    });
    let api = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        // Bodies are read by the handlers, which count past Lambda's limit instead of
        // refusing: a refused response would leave the call waiting for its timeout.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state);
    let app = Router::new().nest(&format!("/{secret}"), api);
    // No Nagle delay: every exchange here is one small request and one small answer.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let _ = axum::serve(listener, app).await;
}

async fn next(State(state): State<Arc<RuntimeState>>) -> Response {
    if state.init.ready.set(Instant::now()).is_ok() {
        if let Some(cgroup) = &state.init.cgroup {
            if let Err(e) = cgroup.limit_cpu() {
                eprintln!("faaset engine: cannot apply the CPU quota: {e}");
            }
        }
    }
    let Some(invocation) = state.invocations.lock().await.recv().await else {
        return (StatusCode::GONE, "the environment is shutting down").into_response();
    };
    let deadline = now_ms() + invocation.timeout_ms;
    let _ = invocation.taken.send(Instant::now());
    let governed = state.init.cgroup.as_ref().and_then(|c| c.start_call());
    *super::lock(&state.in_flight) =
        Some((invocation.request_id.clone(), invocation.reply, governed));
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", &invocation.request_id);
    set("lambda-runtime-deadline-ms", &deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        &invocation.invoked_function_arn,
    );
    set(
        "lambda-runtime-trace-id",
        &format!("Root=1-00000000-{}", invocation.request_id.replace('-', "")),
    );
    set("content-type", "application/json");
    (StatusCode::OK, headers, invocation.payload).into_response()
}

async fn response(
    State(state): State<Arc<RuntimeState>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    match read_limited(body, super::wire::MAX_PAYLOAD).await {
        Ok(body) => finish(&state, &id, RuntimeReply::Response(body)),
        Err(size) => {
            // Lambda's answer to an oversized response, instead of a call that never ends.
            let error = super::wire::error_body(
                "Function.ResponseSizeTooLarge",
                &format!(
                    "Response payload size ({size} bytes) exceeded maximum allowed payload size ({} bytes).",
                    super::wire::MAX_PAYLOAD
                ),
            );
            finish(&state, &id, RuntimeReply::Error(error.to_string().into()))
        }
    }
}

async fn error(
    State(state): State<Arc<RuntimeState>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let body = match read_limited(body, super::wire::MAX_PAYLOAD).await {
        Ok(body) => body,
        Err(size) => super::wire::error_body(
            "Function.ResponseSizeTooLarge",
            &format!("The function's error report ({size} bytes) was too large to keep."),
        )
        .to_string()
        .into(),
    };
    finish(&state, &id, RuntimeReply::Error(body))
}

/// Reads a whole body of at most `limit` bytes; a longer one is read to its end (so the
/// runtime gets its answer) but not kept, and `Err` says how long it was.
async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, usize> {
    use http_body_util::BodyExt;
    let mut kept = bytes::BytesMut::new();
    let mut size = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        size += data.len();
        if size <= limit {
            kept.extend_from_slice(&data);
        } else if !kept.is_empty() {
            kept = bytes::BytesMut::new();
        }
    }
    if size > limit {
        Err(size)
    } else {
        Ok(kept.freeze())
    }
}

fn finish(state: &RuntimeState, id: &str, reply: RuntimeReply) -> Response {
    let mut in_flight = super::lock(&state.in_flight);
    match in_flight.take() {
        Some((current, sender, governed)) if current == id => {
            // The call is over: its CPU is no longer governed.
            drop(governed);
            let _ = sender.send(reply);
            (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
        }
        other => {
            *in_flight = other;
            (
                StatusCode::BAD_REQUEST,
                format!(r#"{{"errorMessage":"no invocation {id} in flight","errorType":"InvalidRequestID"}}"#),
            )
                .into_response()
        }
    }
}

async fn init_error(State(state): State<Arc<RuntimeState>>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    let _ = state.init.error.set(text);
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}
