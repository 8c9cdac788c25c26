//! Calling a deployed function: one call → its JSON response plus the client-side fields
//! `roundTripTime` and `latency` (DESIGN §1.1) and the platform's report (§1.5).
//!
//! An [`Invoker`] is made once per function and reused (pooled HTTP), so experiments pay no
//! set-up per call. A function whose `run.sh` was customised is called through that script.

use std::time::Instant;

use serde_json::{Map, Value};

use crate::deploy;
use crate::error::{Error, Result};
use crate::function::{now_ms, FunctionPaths, FunctionState};
use crate::name::FunctionName;
use crate::platform::{Deployment, Platform, Target};
use crate::workspace::Workspace;

/// A ready-to-call function.
pub struct Invoker {
    paths: FunctionPaths,
    platform: Platform,
    target: Box<dyn Target>,
}

/// One call as the client saw it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The function's response (or Lambda-style error object) with the client-side fields
    /// and the platform report merged in.
    pub response: Map<String, Value>,
    /// Client epoch ms.
    pub start_time: u64,
    pub end_time: u64,
    /// When the call was sent, the instant `round_trip_ms` is measured from (an open-loop
    /// run's `queueTime` ends here).
    pub sent: Instant,
    pub round_trip_ms: f64,
    /// `Some(message)` when the call failed.
    pub error: Option<String>,
}

impl Invoker {
    /// Prepares calls of a deployed function on `platform` (default: its saved platform).
    pub async fn new(workspace: &Workspace, name: &str, platform: Option<&str>) -> Result<Self> {
        let name = FunctionName::new(name)?;
        let paths = FunctionPaths::new(workspace, &name);
        let state = FunctionState::load(&paths)?
            .ok_or_else(|| deploy::unknown_function(workspace, &name))?;
        let platform = Platform::resolve(workspace, platform.unwrap_or(&state.platform))?;
        let deployed = state.deployed_on(platform.name())?;
        let function = Deployment {
            workspace,
            paths: &paths,
            platform: &platform,
            config: &deployed.config,
        };
        let target = platform.driver().connect(&function).await?;
        Ok(Invoker {
            paths,
            platform,
            target,
        })
    }

    pub fn function(&self) -> &FunctionName {
        &self.paths.name
    }

    pub fn platform(&self) -> &str {
        self.platform.name()
    }

    /// Calls the function once. A failed call is a [`Call`] with `error` set; `Err` is kept
    /// for failures of the tooling itself (engine unreachable, script missing).
    pub async fn call(&self, payload: &Value) -> Result<Call> {
        self.call_in(payload, false).await
    }

    /// Calls the function once in a new execution environment (a forced cold start); only
    /// after [`Invoker::check_cold`] said the platform can.
    pub async fn call_cold(&self, payload: &Value) -> Result<Call> {
        self.call_in(payload, true).await
    }

    /// Whether every call can be a cold start here (`cold=true`); the error says why not and
    /// what to do instead.
    pub fn check_cold(&self) -> Result<()> {
        self.target.cold_calls().map_err(|why| {
            Error::Usage(format!(
                "cold=true is not available for {} on {}: {why}; the local platform can, and on any platform `stats` reports cold and warm calls apart (coldStart)",
                self.paths.name,
                self.platform.name()
            ))
        })
    }

    async fn call_in(&self, payload: &Value, cold: bool) -> Result<Call> {
        let body = bytes::Bytes::from(payload.to_string());
        let start_time = now_ms();
        let started = Instant::now();
        let answer = if cold {
            self.target.call_cold(body).await?
        } else {
            self.target.call(body).await?
        };
        let round_trip_ms = started.elapsed().as_secs_f64() * 1000.0;
        let end_time = now_ms();
        let raw = answer.body;
        let mut response = match serde_json::from_slice::<Value>(&raw) {
            Ok(Value::Object(map)) => map,
            Ok(other) => Map::from_iter([("response".to_string(), other)]),
            Err(_) => Map::from_iter([(
                "response".to_string(),
                Value::String(String::from_utf8_lossy(&raw).into_owned()),
            )]),
        };
        let error = answer.function_error.then(|| {
            response
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or("the function failed")
                .to_string()
        });
        add_client_fields(&mut response, round_trip_ms, &answer.report);
        Ok(Call {
            response,
            start_time,
            end_time,
            sent: started,
            round_trip_ms,
            error,
        })
    }
}

/// Adds `roundTripTime`, `latency` (round trip − the function's own `runtime`) and the
/// platform report's fields. Those are measured by the client and the platform, so they win:
/// a field of the same name in the function's answer is kept as `response.<name>` (the
/// prefix the rows use for every function field that collides with a measured one).
fn add_client_fields(
    response: &mut Map<String, Value>,
    round_trip_ms: f64,
    report: &Map<String, Value>,
) {
    let runtime = response.get("runtime").and_then(Value::as_f64);
    let latency = runtime.map(|r| round_trip_ms - r).unwrap_or(round_trip_ms);
    let measured = report.iter().map(|(k, v)| (k.clone(), v.clone())).chain([
        ("roundTripTime".to_string(), round_trip_ms.into()),
        ("latency".to_string(), latency.into()),
    ]);
    for (key, value) in measured {
        if let Some(own) = response.insert(key.clone(), value) {
            let kept = unused_key(response, &format!("response.{key}"));
            response.insert(kept, own);
        }
    }
}

/// `key`, or `key` with more `response.` prefixes until no field of `fields` has it.
pub(crate) fn unused_key(fields: &Map<String, Value>, key: &str) -> String {
    let mut key = key.to_string();
    while fields.contains_key(&key) {
        key = format!("response.{key}");
    }
    key
}

/// One call for the CLI and the kernel: deploys first when the function changed on disk
/// (as FaaSET does on call), then calls it. A failed call is an `Err` carrying the response.
pub async fn invoke(
    workspace: &Workspace,
    name: &str,
    platform: Option<&str>,
    payload: &Value,
    sink: &dyn crate::progress::Sink,
) -> Result<Map<String, Value>> {
    let request = deploy::DeployRequest {
        name: name.to_string(),
        platform: platform.map(str::to_string),
        ..Default::default()
    };
    deploy::deploy(workspace, &request, sink).await?;
    let invoker = Invoker::new(workspace, name, platform).await?;
    let call = invoker.call(payload).await?;
    match call.error {
        None => Ok(call.response),
        Some(message) => Err(Error::FunctionFailed {
            function: name.to_string(),
            error_type: call
                .response
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("Error")
                .to_string(),
            message,
            response: Value::Object(call.response),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_platform_and_the_client_fields_win_over_the_functions_own() {
        let mut response = object(json!({
            "duration": 99999, "memorySize": 4096, "coldStart": false,
            "roundTripTime": 1, "runtime": 2.0, "message": "hi",
        }));
        let report = object(json!({"duration": 3.5, "memorySize": 512, "coldStart": true}));
        add_client_fields(&mut response, 10.0, &report);
        assert_eq!(response["duration"], json!(3.5));
        assert_eq!(response["memorySize"], json!(512));
        assert_eq!(response["coldStart"], json!(true));
        assert_eq!(response["roundTripTime"], json!(10.0));
        assert_eq!(response["latency"], json!(8.0));
        // The function's own values are kept, under a prefix.
        assert_eq!(response["response.duration"], json!(99999));
        assert_eq!(response["response.memorySize"], json!(4096));
        assert_eq!(response["response.coldStart"], json!(false));
        assert_eq!(response["response.roundTripTime"], json!(1));
        assert_eq!(response["message"], json!("hi"));
    }

    #[test]
    fn a_kept_field_never_replaces_another() {
        let mut response = object(json!({"duration": 1, "response.duration": 2}));
        let report = object(json!({"duration": 3}));
        add_client_fields(&mut response, 5.0, &report);
        assert_eq!(response["duration"], json!(3));
        assert_eq!(response["response.duration"], json!(2));
        assert_eq!(response["response.response.duration"], json!(1));
    }
}
