//! The handler adapter every mode shares: calls the function, turns its error or panic into
//! the error type and message each protocol reports in its own shape.

use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde_json::Value;

use crate::Context;

/// The function, boxed once so each mode's loop is compiled in this crate, not per function.
pub(crate) type BoxedHandler =
    Arc<dyn Fn(Value, Context) -> Result<Value, (String, String)> + Send + Sync>;

/// A failed call: Lambda's `errorType` and `errorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionError {
    pub error_type: String,
    pub error_message: String,
}

/// Runs one call. A panic becomes an error with the panic's message, so the environment stays
/// usable, as on Lambda (the default hook has already printed it to stderr, the platform's log).
pub(crate) fn call(
    handler: &BoxedHandler,
    payload: Value,
    context: Context,
) -> Result<Value, FunctionError> {
    match catch_unwind(AssertUnwindSafe(|| handler(payload, context))) {
        Ok(Ok(response)) => Ok(response),
        Ok(Err((error_type, error_message))) => Err(FunctionError {
            error_type,
            error_message,
        }),
        Err(panic) => Err(FunctionError {
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

fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn boxed(
        f: impl Fn(Value, Context) -> Result<Value, (String, String)> + Send + Sync + 'static,
    ) -> BoxedHandler {
        Arc::new(f)
    }

    #[test]
    fn errors_and_panics_become_function_errors() {
        let ok = boxed(|v, _| Ok(v));
        assert_eq!(call(&ok, json!(1), Context::default()), Ok(json!(1)));

        let failing = boxed(|_, _| Err(("MyError".into(), "no".into())));
        let err = call(&failing, json!(1), Context::default()).unwrap_err();
        assert_eq!(
            (err.error_type.as_str(), err.error_message.as_str()),
            ("MyError", "no")
        );

        let panicking = boxed(|_, _| panic!("boom {}", 7));
        let err = call(&panicking, json!(1), Context::default()).unwrap_err();
        assert_eq!(err.error_type, "Panic");
        assert_eq!(err.error_message, "function panicked: boom 7");
    }
}
