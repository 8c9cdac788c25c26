//! The kernel's side of the bridge: a loopback HTTP server the session's stubs call
//! (`faaset_bridge::call`, `faaset_bridge::load`). Bound to 127.0.0.1 on a free port; every
//! request must carry the per-kernel token, so other local users cannot drive the kernel.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use faaset::Workspace;
use serde_json::{json, Value};

use crate::display::{show_failed_log, CellSink};
use crate::kernel::Shared;

/// Where the session finds the kernel (names shared with the bridge crate itself).
pub use faaset_bridge::{ADDRESS_VAR, TOKEN_FILE_VAR};

#[derive(Clone)]
struct BridgeState {
    token: Arc<String>,
    workspace: Workspace,
    shared: Arc<Shared>,
}

pub async fn serve(
    listener: std::net::TcpListener,
    token: String,
    workspace: Workspace,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let state = BridgeState {
        token: Arc::new(token),
        workspace,
        shared,
    };
    let app = Router::new()
        .route("/call/{function}", post(call))
        .route("/results/{function}/{experiment}", get(results))
        // A payload may be as large as the platforms take (Lambda: 6 MB), plus its JSON
        // envelope; axum's default of 2 MB refused larger ones with a bare 413.
        .layer(axum::extract::DefaultBodyLimit::max(
            2 * faaset::engine::wire::MAX_PAYLOAD,
        ))
        .with_state(state);
    axum::serve(listener, app).await?;
    Ok(())
}

fn authorised(state: &BridgeState, headers: &HeaderMap) -> bool {
    let given = headers.get("authorization").and_then(|v| v.to_str().ok());
    faaset::auth::bearer_matches(given, &state.token)
}

fn failure(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn error_status(error: &faaset::Error) -> StatusCode {
    if error.is_user_error() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// A stub call: deploy if changed (progress into the calling cell), call, answer.
async fn call(
    State(state): State<BridgeState>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !authorised(&state, &headers) {
        return failure(StatusCode::UNAUTHORIZED, "bad or missing kernel token");
    }
    let payload: Value = match serde_json::from_str(&body) {
        Ok(payload) => payload,
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                format!("the payload is not JSON: {e}"),
            )
        }
    };
    let out = state.shared.current_output();
    let sink = CellSink::new(out.clone());
    let called = faaset::invoke::invoke(&state.workspace, &function, None, &payload, &sink).await;
    drop(sink);
    match called {
        Ok(response) => Json(Value::Object(response)).into_response(),
        Err(error) => {
            if let Some(out) = &out {
                show_failed_log(out, &error);
            }
            failure(error_status(&error), error.to_string())
        }
    }
}

async fn results(
    State(state): State<BridgeState>,
    Path((function, experiment)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&state, &headers) {
        return failure(StatusCode::UNAUTHORIZED, "bad or missing kernel token");
    }
    match faaset::results::load(&state.workspace, &function, &experiment) {
        Ok(results) => Json(json!({
            "function": results.function(),
            "experiment": results.experiment(),
            "columns": results.header(),
            "rows": results.rows(),
        }))
        .into_response(),
        Err(error) => failure(error_status(&error), error.to_string()),
    }
}
