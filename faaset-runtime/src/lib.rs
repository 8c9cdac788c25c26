//! Runs a FaaSET function on whichever platform started the process.
//!
//! A FaaSET function is a plain Rust function `fn f(request: Value, context: Context) -> R`
//! (or taking `&Context`), where `R` is a `Value` or a `Result<Value, E: Display>`. The binary
//! generated for a function is `fn main() { faaset_runtime::run(f) }`, and the same binary
//! (`bootstrap`) is deployed everywhere; [`run`] picks the protocol from what the platform
//! gives the process, in this order:
//!
//! | Signal | Mode |
//! |---|---|
//! | `AWS_LAMBDA_RUNTIME_API` set | AWS Lambda Runtime API via `lambda_runtime` (also FaaSET's local platform) |
//! | `FUNCTIONS_CUSTOMHANDLER_PORT` set | HTTP on `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT` (Azure custom handler) |
//! | `argv[1]` is JSON (`{…}` / `[…]`) | OpenWhisk dockerskeleton: one call, result on the last stdout line |
//! | fd 3 is a pipe | OpenWhisk ActionLoop: JSON lines on stdin, result lines on fd 3 |
//! | `PORT` set | HTTP on `0.0.0.0:$PORT` (Cloud Run) |
//! | `__OW_ACTIVATION_ID` / `__OW_ACTION_NAME` set | OpenWhisk dockerskeleton, input on stdin only |
//! | none of these | one line on stderr saying what to set, exit 1 |
//!
//! HTTP mode: POST JSON (any path, so `/` and `/api/<fn>`) → 200 with the function's JSON; any
//! GET → 200 (readiness); a function error or panic → 500 with `{"errorType","errorMessage"}`
//! (Lambda's shape); a body that is not JSON → 400, over 6 MiB → 413; SIGTERM → stop accepting,
//! finish the calls in flight, exit 0. OpenWhisk: a function error → `{"error": "<message>"}`.
//! Where the platform does not expose them, memory comes from `FAASET_MEMORY_MB` and (HTTP) the
//! deadline from `FAASET_TIMEOUT_S`, both set by FaaSET's publisher. The full contract is
//! `docs/function-runtime.md`.
//!
//! Only the tiny [`Handler`] adapter is generic; every mode's loop is compiled once here, not
//! in every function crate, which keeps a rebuild after a one-line change fast.

mod context;
mod http;
mod lambda;
mod mode;
mod openwhisk;
mod outcome;

use std::sync::Arc;

use serde_json::Value;

pub use context::Context;
pub use outcome::IntoOutcome;

use mode::Mode;
use outcome::BoxedHandler;

/// What every function source has in scope without imports (DESIGN §1.1).
pub mod prelude {
    pub use crate::Context;
    pub use saaf::Inspector;
    pub use serde_json::{json, Value};
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

/// Serves `handler` on the platform that started the process (see the crate docs) until the
/// platform ends it. A panic in the function is a failed call with the panic's message; the
/// environment stays usable, as on Lambda. Exits 1, with one line on stderr, when no platform
/// is recognised or the protocol cannot start.
pub fn run<M>(handler: impl Handler<M>) {
    run_boxed(Arc::new(move |request, context| {
        handler.call(request, context)
    }));
}

fn run_boxed(handler: BoxedHandler) {
    let mode = mode::select(
        |key| std::env::var(key).ok(),
        std::env::args().nth(1),
        mode::fd3_is_pipe,
    );
    match mode {
        Ok(Mode::Lambda) => lambda::run(handler),
        Ok(Mode::Http { addr, platform }) => http::run(handler, addr, platform),
        Ok(Mode::ActionLoop) => openwhisk::action_loop(handler),
        Ok(Mode::DockerSkeleton { argument }) => openwhisk::docker_skeleton(handler, argument),
        Err(message) => {
            eprintln!("faaset-runtime: {message}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

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
