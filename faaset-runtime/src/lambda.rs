//! AWS Lambda's Runtime API (and FaaSET's local platform, which serves the same API), through
//! the official `lambda_runtime` crate.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::outcome::{self, BoxedHandler};
use crate::Context;

/// Serves calls until the platform ends the process; exits 1 if the runtime loop fails.
pub(crate) fn run(handler: BoxedHandler) {
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
    outcome::call(handler, payload, context).map_err(|e| Diagnostic {
        error_type: e.error_type,
        error_message: e.error_message,
    })
}
