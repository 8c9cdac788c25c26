//! Runs a FaaSET function on the AWS Lambda Runtime API.
//!
//! A FaaSET function is a plain Rust function `fn f(request: Value, context: Context) -> R`
//! (or taking `&Context`), where `R` is a `Value` or a `Result<Value, E: Display>`. The binary
//! generated for a function is `fn main() { faaset_runtime::run(f) }`: this crate turns the
//! function into a handler for the official `lambda_runtime` crate, so the `bootstrap` built
//! for the local platform is exactly the one that runs on AWS Lambda.
//!
//! Only the tiny [`Handler`] adapter is generic; the runtime loop is compiled once here, not in
//! every function crate, which keeps a rebuild after a one-line change fast.

use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

/// What every function source has in scope without imports (DESIGN §1.1).
pub mod prelude {
    pub use crate::Context;
    pub use saaf::Inspector;
    pub use serde_json::{json, Value};
}

/// The invocation context handed to a function: the facts Lambda's runtime API gives about
/// the call and the environment it runs in.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The invocation's request id (`Lambda-Runtime-Aws-Request-Id`).
    pub request_id: String,
    /// Wall-clock deadline of the call in epoch milliseconds (`Lambda-Runtime-Deadline-Ms`).
    pub deadline_ms: u64,
    /// ARN (or local name) the function was invoked under.
    pub invoked_function_arn: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` in MB.
    pub memory_limit_mb: u32,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group_name: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream_name: String,
}

impl Context {
    /// Time left before the platform ends the call (zero when the deadline has passed or is
    /// unknown, as with `Context::default()` outside a platform).
    pub fn remaining_time(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Duration::from_millis(self.deadline_ms.saturating_sub(now))
    }
}

/// A function's return value turned into the call's outcome.
pub trait IntoOutcome {
    /// `Ok(response)` or `Err((error type, message))`.
    fn into_outcome(self) -> Result<Value, (String, String)>;
}

impl IntoOutcome for Value {
    fn into_outcome(self) -> Result<Value, (String, String)> {
        Ok(self)
    }
}

impl<E: Display> IntoOutcome for Result<Value, E> {
    fn into_outcome(self) -> Result<Value, (String, String)> {
        self.map_err(|e| (short_type_name::<E>(), e.to_string()))
    }
}

/// Marker for functions taking `Context` by value.
pub struct ByValue;
/// Marker for functions taking `&Context`.
pub struct ByRef;

/// A function FaaSET can run; implemented for both accepted signatures. The `Marker` type
/// parameter only keeps the two blanket implementations apart.
pub trait Handler<Marker>: Send + Sync + 'static {
    fn call(&self, request: Value, context: Context) -> Result<Value, (String, String)>;
}

impl<F, R> Handler<(ByValue, R)> for F
where
    F: Fn(Value, Context) -> R + Send + Sync + 'static,
    R: IntoOutcome,
{
    fn call(&self, request: Value, context: Context) -> Result<Value, (String, String)> {
        self(request, context).into_outcome()
    }
}

impl<F, R> Handler<(ByRef, R)> for F
where
    F: Fn(Value, &Context) -> R + Send + Sync + 'static,
    R: IntoOutcome,
{
    fn call(&self, request: Value, context: Context) -> Result<Value, (String, String)> {
        self(request, &context).into_outcome()
    }
}

type BoxedHandler = Arc<dyn Fn(Value, Context) -> Result<Value, (String, String)> + Send + Sync>;

/// Serves `handler` on the Lambda Runtime API named by `AWS_LAMBDA_RUNTIME_API` until the
/// platform ends the process. A panic in the function becomes an error response with the
/// panic's message; the environment stays usable, as on Lambda.
pub fn run<M>(handler: impl Handler<M>) {
    run_boxed(Arc::new(move |request, context| {
        handler.call(request, context)
    }));
}

fn run_boxed(handler: BoxedHandler) {
    // One request at a time per environment: a single-threaded runtime is all it takes and
    // starts fastest (cold starts matter here).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime");
    let result = runtime.block_on(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Value>| {
            let handler = handler.clone();
            async move { invoke(&handler, event) }
        },
    )));
    if let Err(error) = result {
        eprintln!("faaset-runtime: the runtime loop ended: {error}");
        std::process::exit(1);
    }
}

fn invoke(handler: &BoxedHandler, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, lambda_context) = event.into_parts();
    let context = Context {
        request_id: lambda_context.request_id.clone(),
        deadline_ms: lambda_context.deadline,
        invoked_function_arn: lambda_context.invoked_function_arn.clone(),
        function_name: lambda_context.env_config.function_name.clone(),
        function_version: lambda_context.env_config.version.clone(),
        memory_limit_mb: lambda_context.env_config.memory as u32,
        log_group_name: lambda_context.env_config.log_group.clone(),
        log_stream_name: lambda_context.env_config.log_stream.clone(),
    };
    match catch_unwind(AssertUnwindSafe(|| handler(payload, context))) {
        Ok(Ok(response)) => Ok(response),
        Ok(Err((error_type, error_message))) => Err(Diagnostic {
            error_type,
            error_message,
        }),
        Err(panic) => Err(Diagnostic {
            error_type: "Panic".to_string(),
            error_message: format!("function panicked: {}", panic_message(&panic)),
        }),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn by_value(request: Value, _context: Context) -> Value {
        json!({ "echo": request })
    }

    fn by_ref(request: Value, context: &Context) -> Result<Value, String> {
        if request.is_null() {
            return Err("request is null".into());
        }
        Ok(json!({ "id": context.request_id }))
    }

    fn outcome<M>(h: impl Handler<M>, request: Value) -> Result<Value, (String, String)> {
        let context = Context {
            request_id: "r1".into(),
            ..Context::default()
        };
        h.call(request, context)
    }

    #[test]
    fn both_signatures_are_handlers() {
        assert_eq!(outcome(by_value, json!(1)).unwrap(), json!({"echo": 1}));
        assert_eq!(outcome(by_ref, json!(1)).unwrap(), json!({"id": "r1"}));
        let err = outcome(by_ref, Value::Null).unwrap_err();
        assert_eq!(err, ("String".to_string(), "request is null".to_string()));
    }

    #[test]
    fn remaining_time_is_zero_without_deadline() {
        assert_eq!(Context::default().remaining_time(), Duration::ZERO);
    }
}
