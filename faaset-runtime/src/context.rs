//! The invocation context handed to a function, and the FaaSET variables that fill it where the
//! platform itself says nothing (memory and timeout outside Lambda).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Memory setting in MB, set by FaaSET's publisher on platforms that do not expose it to the
/// process (Cloud Run, Azure Flex Consumption, OpenWhisk).
pub(crate) const MEMORY_ENV: &str = "FAASET_MEMORY_MB";
/// Timeout in seconds, set by FaaSET's publisher where the platform gives no per-call deadline
/// (Cloud Run, Azure): the deadline of a call is its arrival plus this.
pub(crate) const TIMEOUT_ENV: &str = "FAASET_TIMEOUT_S";

/// The invocation context handed to a function: the facts the platform gives about the call and
/// the environment it runs in. A field the platform does not provide is empty (or 0).
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The call's id: Lambda's `Lambda-Runtime-Aws-Request-Id`, Azure's
    /// `X-Azure-Functions-InvocationId`, Cloud Run's `X-Cloud-Trace-Context` (trace/span), an
    /// OpenWhisk activation id, else one made up by the runtime.
    pub request_id: String,
    /// Wall-clock deadline of the call in epoch milliseconds (Lambda's
    /// `Lambda-Runtime-Deadline-Ms`, OpenWhisk's `deadline`, else arrival + `FAASET_TIMEOUT_S`;
    /// 0 when unknown).
    pub deadline_ms: u64,
    /// ARN (or local name) the function was invoked under (Lambda only).
    pub invoked_function_arn: String,
    /// The function's name: `AWS_LAMBDA_FUNCTION_NAME`, `K_SERVICE`, Azure's function (the
    /// `<fn>` of `/api/<fn>`), the OpenWhisk action name.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`, Cloud Run's `K_REVISION`, OpenWhisk's action version.
    pub function_version: String,
    /// Memory setting in MB: `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, else `FAASET_MEMORY_MB`.
    pub memory_limit_mb: u32,
    /// `AWS_LAMBDA_LOG_GROUP_NAME` (Lambda only).
    pub log_group_name: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME` (Lambda only).
    pub log_stream_name: String,
}

impl Context {
    /// Time left before the platform ends the call (zero when the deadline has passed or is
    /// unknown, as with `Context::default()` outside a platform).
    pub fn remaining_time(&self) -> Duration {
        Duration::from_millis(self.deadline_ms.saturating_sub(now_epoch_ms()))
    }
}

pub(crate) fn now_epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A variable's value, with empty values counted as unset (as SAAF counts them).
pub(crate) fn env_var(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// `FAASET_MEMORY_MB` as a number (0 when unset or not a number).
pub(crate) fn memory_mb() -> u32 {
    env_var(MEMORY_ENV)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// `FAASET_TIMEOUT_S` in milliseconds, if set to a number of seconds.
pub(crate) fn timeout_ms() -> Option<u64> {
    let seconds: f64 = env_var(TIMEOUT_ENV)?.trim().parse().ok()?;
    (seconds.is_finite() && seconds > 0.0).then_some((seconds * 1000.0) as u64)
}
