//! The HTTP server mode, for Cloud Run (`0.0.0.0:$PORT`) and Azure custom handlers
//! (`127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT`, the call proxied to `/api/<fn>`).
//!
//! POST a JSON payload to any path → 200 with the function's JSON; any GET → 200 (readiness);
//! a failed call → 500 with Lambda's `{"errorType","errorMessage"}`; a body that is not JSON
//! → 400, over 6 MiB → 413 (same shape). SIGTERM stops accepting, lets the calls in flight
//! finish and exits 0. The function runs on tokio's blocking pool, so calls run concurrently
//! while the one I/O thread keeps accepting.

use std::convert::Infallible;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::context::{self, env_var};
use crate::outcome::{self, BoxedHandler, FunctionError};
use crate::Context;

/// Largest request body accepted: Lambda's synchronous payload limit, so a payload that works
/// on one platform works on all.
pub(crate) const BODY_LIMIT: usize = 6 * 1024 * 1024;

/// Serves until SIGTERM, then exits 0; exits 1 if it cannot listen.
pub(crate) fn run(handler: BoxedHandler, addr: SocketAddr, platform: &str) -> ! {
    // One I/O thread is plenty (calls run on the blocking pool) and starts fastest.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime");
    let code = runtime.block_on(async {
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("faaset-runtime: cannot listen on {addr} ({platform}): {error}");
                return 1;
            }
        };
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(error) => {
                eprintln!("faaset-runtime: cannot handle SIGTERM: {error}");
                return 1;
            }
        };
        eprintln!("faaset-runtime: serving {platform} on http://{addr}");
        let state = Arc::new(State {
            handler,
            env: Environment::from_process(),
        });
        serve(listener, state, async move {
            terminate.recv().await;
        })
        .await;
        0
    });
    // Exit at once: every call has answered, and a thread the function left behind must not
    // keep an instance the platform is stopping.
    std::process::exit(code);
}

/// What the server reads from the environment once, at start.
struct Environment {
    /// Cloud Run's service name (`K_SERVICE`).
    service: Option<String>,
    /// Cloud Run's revision (`K_REVISION`).
    revision: Option<String>,
    /// Azure's app name (`WEBSITE_SITE_NAME`), the function name of last resort.
    site: Option<String>,
    memory_mb: u32,
    timeout_ms: Option<u64>,
}

impl Environment {
    fn from_process() -> Self {
        Environment {
            service: env_var("K_SERVICE"),
            revision: env_var("K_REVISION"),
            site: env_var("WEBSITE_SITE_NAME"),
            memory_mb: context::memory_mb(),
            timeout_ms: context::timeout_ms(),
        }
    }
}

struct State {
    handler: BoxedHandler,
    env: Environment,
}

impl State {
    /// The call's context, made when the request arrives (the deadline counts from then).
    fn context(&self, headers: &HeaderMap, path: &str) -> Context {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let request_id = header("x-azure-functions-invocationid")
            // `TRACE_ID/SPAN_ID;o=1`: trace and span name this request.
            .or_else(|| header("x-cloud-trace-context").map(|v| v.split(';').next().unwrap_or(v)))
            .map(str::to_string)
            .unwrap_or_else(generated_id);
        let function_name = self
            .env
            .service
            .clone()
            .or_else(|| azure_function_name(path))
            .or_else(|| self.env.site.clone())
            .unwrap_or_default();
        Context {
            request_id,
            deadline_ms: self
                .env
                .timeout_ms
                .map_or(0, |timeout| context::now_epoch_ms() + timeout),
            function_name,
            function_version: self.env.revision.clone().unwrap_or_default(),
            memory_limit_mb: self.env.memory_mb,
            ..Context::default()
        }
    }
}

/// Accepts until `shutdown` completes, then waits for the calls in flight (idle keep-alive
/// connections are closed at once).
async fn serve(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let state = state.clone();
                    let service = service_fn(move |request| respond(state.clone(), request));
                    let connection = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    // A connection's error is the client's problem (it went away mid-call).
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
                Err(error) => {
                    // Out of file descriptors and the like: say so, back off, keep serving.
                    eprintln!("faaset-runtime: accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    // Refuse new connections from here on, as Cloud Run expects after SIGTERM.
    drop(listener);
    graceful.shutdown().await;
}

async fn respond(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match *request.method() {
        // Readiness: the Azure host polls `GET /` until any answer; Cloud Run may probe too.
        Method::GET | Method::HEAD => json_response(StatusCode::OK, &json!({"ready": true})),
        Method::POST => invoke(&state, request).await,
        _ => {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "POST the payload as JSON (GET answers readiness)",
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, POST"));
            response
        }
    })
}

async fn invoke(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            &format!("the request body is over {BODY_LIMIT} bytes (6 MiB, Lambda's limit)"),
        )
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > BODY_LIMIT as u64) {
        return too_large();
    }
    let context = state.context(request.headers(), request.uri().path());
    let body = match Limited::new(request.into_body(), BODY_LIMIT)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
        Err(error) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                &format!("cannot read the request body: {error}"),
            )
        }
    };
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(payload) => payload,
        Err(error) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                &format!("the request body is not JSON ({error}): POST the payload as JSON"),
            )
        }
    };
    let handler = state.handler.clone();
    // The function is synchronous user code: off the I/O thread, so other calls proceed.
    match tokio::task::spawn_blocking(move || outcome::call(&handler, payload, context)).await {
        Ok(Ok(response)) => json_response(StatusCode::OK, &response),
        Ok(Err(FunctionError {
            error_type,
            error_message,
        })) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &error_type,
            &error_message,
        ),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime",
            &format!("the function's thread failed: {error}"),
        ),
    }
}

/// `<fn>` of Azure's `/api/<fn>` path.
fn azure_function_name(path: &str) -> Option<String> {
    let name = path.strip_prefix("/api/")?.split('/').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Lambda's error shape, which FaaSET's clients read as a failed call.
fn error_response(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json_response(
        status,
        &json!({"errorType": error_type, "errorMessage": message}),
    )
}

/// A request id when the platform gives none: UUID-shaped, unique within and (with std's
/// randomly keyed hasher) across processes. Not for security.
fn generated_id() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let random = |salt: u64| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(call);
        hasher.write_u64(salt);
        hasher.write_u64(context::now_epoch_ms());
        hasher.finish()
    };
    let (a, b) = (random(1), random(2));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(service: Option<&str>, site: Option<&str>) -> State {
        State {
            handler: Arc::new(|v, _| Ok(v)),
            env: Environment {
                service: service.map(String::from),
                revision: Some("svc-00001-abc".into()),
                site: site.map(String::from),
                memory_mb: 512,
                timeout_ms: Some(60_000),
            },
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    hyper::header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn request_id_prefers_azure_then_cloud_run_headers() {
        let s = state(None, None);
        let both = headers(&[
            ("x-azure-functions-invocationid", "inv-1"),
            ("x-cloud-trace-context", "abc/1;o=1"),
        ]);
        assert_eq!(s.context(&both, "/").request_id, "inv-1");
        let trace = headers(&[("x-cloud-trace-context", "abc/123;o=1")]);
        assert_eq!(s.context(&trace, "/").request_id, "abc/123");
        let a = s.context(&HeaderMap::new(), "/").request_id;
        let b = s.context(&HeaderMap::new(), "/").request_id;
        assert_eq!(a.len(), 36, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn function_name_from_service_then_path_then_site() {
        let none = HeaderMap::new();
        let cloud_run = state(Some("svc"), None);
        assert_eq!(cloud_run.context(&none, "/api/f").function_name, "svc");
        let azure = state(None, Some("myapp"));
        assert_eq!(azure.context(&none, "/api/hello").function_name, "hello");
        assert_eq!(azure.context(&none, "/").function_name, "myapp");
        assert_eq!(azure.context(&none, "/api/").function_name, "myapp");
        assert_eq!(state(None, None).context(&none, "/").function_name, "");
    }

    #[test]
    fn memory_version_and_deadline_come_from_the_environment() {
        let c = state(Some("svc"), None).context(&HeaderMap::new(), "/");
        assert_eq!(c.memory_limit_mb, 512);
        assert_eq!(c.function_version, "svc-00001-abc");
        let left = c.remaining_time().as_millis();
        assert!(left > 55_000 && left <= 60_000, "{left}");
    }
}
