//! What crosses the engine's HTTP boundary: the function specification a publish sends, the
//! per-invocation report, the header names. Shared by the engine and its client.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Header carrying the per-workspace token: `Authorization: Bearer <token>`.
pub const AUTHORIZATION: &str = "authorization";
/// Lambda's marker of a function error on an Invoke response.
pub const FUNCTION_ERROR: &str = "x-amz-function-error";
/// The invocation's report (JSON of [`Report`]), our counterpart of Lambda's REPORT log line.
pub const REPORT: &str = "x-faaset-report";
/// Lambda's limit of a synchronous invocation's payload and of its response (6 MB).
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// Set (to `1`) on an invoke request that must run in a new execution environment, used for
/// this call only: a forced cold start (`cold=true` experiments). Lambda has no such switch;
/// on the local platform it replaces "wait for the idle environments to be reaped".
pub const FRESH_ENVIRONMENT: &str = "x-faaset-fresh-environment";

/// Lambda's request id header.
pub const REQUEST_ID: &str = "x-amzn-requestid";

/// Lambda's memory range (MB) and longest timeout (s), and the longest time (s) an idle
/// environment may be kept: the engine refuses a publish outside them, and the local
/// platform's configuration checks them first.
pub const MIN_MEMORY_MB: u32 = 128;
pub const MAX_MEMORY_MB: u32 = 10_240;
pub const MAX_TIMEOUT_S: f64 = 900.0;
pub const MAX_IDLE_S: f64 = 86_400.0;

/// A function as published to the engine (Lambda's CreateFunction, local flavour).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionSpec {
    pub function_name: String,
    /// The `bootstrap` executable to run; the engine keeps its own copy.
    pub code_path: PathBuf,
    /// Identifies the code: an unchanged hash keeps the stored copy.
    pub code_sha256: String,
    /// MB.
    pub memory_size: u32,
    /// Seconds.
    pub timeout: f64,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Where the environments' stdout/stderr and REPORT lines go.
    pub log_file: PathBuf,
    /// Seconds an idle environment is kept before it is reaped.
    pub idle_timeout: f64,
}

/// The engine's record of one invocation (Lambda's REPORT line).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// ms from the environment taking the request to its answer.
    pub duration: f64,
    /// `duration` rounded up to the next whole ms.
    pub billed_duration: f64,
    /// MB configured.
    pub memory_size: u32,
    /// Peak resident memory of the environment, MB.
    pub max_memory_used: f64,
    /// ms from starting the environment to its first request (cold starts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_duration: Option<f64>,
    pub cold_start: bool,
    pub environment_id: String,
    /// Whether memory and CPU limits were enforced on the environment.
    pub limits_enforced: bool,
}

/// One execution environment as `faaset local status` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentStatus {
    pub id: String,
    pub function: String,
    pub memory: u32,
    pub pid: u32,
    pub age_seconds: f64,
    pub state: String,
    pub calls: u64,
}

/// The engine's answer to a status request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EngineStatus {
    pub pid: u32,
    pub workspace: PathBuf,
    pub functions: Vec<String>,
    /// Whether memory and CPU limits are enforced, and if not, why.
    pub limits: String,
    pub environments: Vec<EnvironmentStatus>,
}

/// An error body in Lambda's shape.
pub fn error_body(error_type: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "errorType": error_type, "errorMessage": message })
}
