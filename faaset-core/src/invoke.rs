//! Calling a deployed function: one call → its JSON response plus the client-side fields
//! `roundTripTime` and `latency` (DESIGN §1.1) and the platform's report (§1.5).
//!
//! An [`Invoker`] is made once per function and reused (pooled HTTP), so experiments pay no
//! set-up per call. A function whose `run.sh` was customised is called through that script.

use std::time::Instant;

use serde_json::{Map, Value};

use crate::deploy;
use crate::error::{Error, Result};
use crate::function::{now_ms, sha256_hex, FunctionPaths, FunctionState};
use crate::name::FunctionName;
use crate::platform::{aws, http::HttpTarget, local::EngineClient, scripts, Backend, Platform};
use crate::progress::Quiet;
use crate::workspace::Workspace;

/// A ready-to-call function.
pub struct Invoker {
    workspace: Workspace,
    paths: FunctionPaths,
    platform: Platform,
    route: Route,
}

enum Route {
    /// The workspace's engine; replaced when it restarted (a `local stop` and start during an
    /// experiment), so the rest of the calls go to the new one.
    Engine(std::sync::RwLock<EngineClient>),
    /// A function reached over HTTP (platform `http`).
    Http(HttpTarget),
    /// AWS Lambda's Invoke API (platform `aws`).
    Lambda(aws::Invoker),
    /// A Lambda function URL (platform `aws_function_url`).
    FunctionUrl(aws::UrlInvoker),
    /// The function's own `run.sh`, which differs from the platform template's.
    Script,
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
        let deployed = || {
            state.deployed.get(platform.name()).ok_or_else(|| {
                Error::Usage(format!(
                    "{name} is not deployed on {}: run `faaset deploy {name} --platform {}` first",
                    platform.name(),
                    platform.name()
                ))
            })
        };
        let route = if platform.backend() == Backend::Http {
            Route::Http(HttpTarget::from_config(&deployed()?.config)?)
        } else if platform.backend()
            == (Backend::Lambda {
                function_url: false,
            })
        {
            Route::Lambda(aws::Invoker::new(&deployed()?.config)?)
        } else if platform.backend() == (Backend::Lambda { function_url: true }) {
            Route::FunctionUrl(aws::UrlInvoker::new(name.as_str(), &deployed()?.config).await?)
        } else if run_script_customised(&paths, &platform) {
            // The script finds the engine through engine.json: make sure one is running and
            // has the function (a new engine, after an idle exit or a restart, has none).
            let engine = EngineClient::ensure(workspace).await?;
            if engine.function(name.as_str()).await?.is_none() {
                deploy::republish(workspace, &paths, &platform).await?;
            }
            Route::Script
        } else {
            Route::Engine(std::sync::RwLock::new(
                EngineClient::ensure(workspace).await?,
            ))
        };
        Ok(Invoker {
            workspace: workspace.clone(),
            paths,
            platform,
            route,
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
        let body = bytes::Bytes::from(payload.to_string());
        let start_time = now_ms();
        let started = Instant::now();
        let (raw, function_error, report) = match &self.route {
            Route::Engine(engine) => {
                let client = engine.read().unwrap_or_else(|e| e.into_inner()).clone();
                let response = match client.invoke(self.paths.name.as_str(), body.clone()).await {
                    Err(Error::EngineUnreachable(_)) => {
                        // The engine is gone (the call was not made): find or start the
                        // workspace's engine and make the call there.
                        let fresh = EngineClient::ensure(&self.workspace).await?;
                        *engine.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
                        fresh.invoke(self.paths.name.as_str(), body.clone()).await
                    }
                    other => other,
                };
                let client = engine.read().unwrap_or_else(|e| e.into_inner()).clone();
                let response = match response? {
                    Some(response) => response,
                    None => {
                        // The engine was restarted and lost the function: publish it again.
                        deploy::republish(&self.workspace, &self.paths, &self.platform).await?;
                        client
                            .invoke(self.paths.name.as_str(), body)
                            .await?
                            .ok_or_else(|| {
                                Error::Engine("the function vanished after publishing".into())
                            })?
                    }
                };
                let report = response.report.and_then(|r| match serde_json::to_value(r) {
                    Ok(Value::Object(fields)) => Some(fields),
                    _ => None,
                });
                (response.body, response.function_error, report)
            }
            Route::Lambda(invoker) => {
                let answer = invoker.call(self.paths.name.as_str(), &body).await;
                (answer.body, answer.function_error, Some(answer.report))
            }
            Route::FunctionUrl(invoker) => {
                let answer = invoker.call(&body).await;
                (answer.body, answer.function_error, Some(answer.report))
            }
            Route::Script => {
                let (raw, failed) = self.call_script(payload).await?;
                (raw, failed, None)
            }
            Route::Http(target) => {
                let answer = target.call(body).await;
                if let Some(failure) = answer.failure {
                    let error =
                        serde_json::json!({ "errorType": "HttpError", "errorMessage": failure });
                    (error.to_string().into(), true, None)
                } else {
                    (answer.body, false, None)
                }
            }
        };
        let round_trip_ms = started.elapsed().as_secs_f64() * 1000.0;
        let end_time = now_ms();
        let mut response = match serde_json::from_slice::<Value>(&raw) {
            Ok(Value::Object(map)) => map,
            Ok(other) => Map::from_iter([("response".to_string(), other)]),
            Err(_) => Map::from_iter([(
                "response".to_string(),
                Value::String(String::from_utf8_lossy(&raw).into_owned()),
            )]),
        };
        let error = function_error.then(|| {
            response
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or("the function failed")
                .to_string()
        });
        add_client_fields(&mut response, round_trip_ms, report.as_ref());
        Ok(Call {
            response,
            start_time,
            end_time,
            round_trip_ms,
            error,
        })
    }

    async fn call_script(&self, payload: &Value) -> Result<(bytes::Bytes, bool)> {
        let dir = self.paths.platform_dir(self.platform.name());
        let log = self.paths.logs_dir(self.platform.name()).join("run.log");
        let payload = payload.to_string();
        // As in Python FaaSET the payload is `$2`; it is also the script's stdin, which is
        // how the template reads it (a command line is readable by every local user and
        // holds at most 128 KiB per argument), and `$2` is `-` for a payload too long for one.
        let argument = if payload.len() <= MAX_PAYLOAD_ARGUMENT {
            payload.as_str()
        } else {
            "-"
        };
        let input = bytes::Bytes::from(payload.clone());
        let run = scripts::run(&dir, "run.sh", &[argument], &[], Some(input), &log, &Quiet).await?;
        if run.truncated {
            let body = serde_json::json!({
                "errorType": "RunScriptFailed",
                "errorMessage": format!(
                    "run.sh printed more than {} MiB; its whole output is in {}",
                    scripts::KEPT_OUTPUT >> 20,
                    log.display()
                ),
            });
            return Ok((body.to_string().into(), true));
        }
        let output = run.lines.join("\n");
        if !run.success {
            let body = serde_json::json!({
                "errorType": "RunScriptFailed",
                "errorMessage": format!("run.sh failed ({}): {}", run.status, output.trim()),
            });
            return Ok((body.to_string().into(), true));
        }
        // A Lambda-style error object (what the engine answers for a failed call) is a failure.
        let failed = serde_json::from_str::<Value>(&output)
            .is_ok_and(|v| v.get("errorType").is_some() && v.get("errorMessage").is_some());
        Ok((output.into(), failed))
    }
}

/// The longest payload given to `run.sh` as `$2` (Linux refuses a single argument over
/// 128 KiB); a longer one is only on its stdin, and `$2` is `-`.
const MAX_PAYLOAD_ARGUMENT: usize = 100 * 1024;

/// Adds `roundTripTime`, `latency` (round trip − the function's own `runtime`) and the
/// platform report's fields. Those are measured by the client and the platform, so they win:
/// a field of the same name in the function's answer is kept as `response.<name>` (the
/// prefix the rows use for every function field that collides with a measured one).
fn add_client_fields(
    response: &mut Map<String, Value>,
    round_trip_ms: f64,
    report: Option<&Map<String, Value>>,
) {
    let runtime = response.get("runtime").and_then(Value::as_f64);
    let latency = runtime.map(|r| round_trip_ms - r).unwrap_or(round_trip_ms);
    let measured = report
        .into_iter()
        .flat_map(|fields| fields.iter().map(|(k, v)| (k.clone(), v.clone())))
        .chain([
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

/// SHA-256 of the `run.sh` templates earlier releases copied into function folders: such a
/// copy was never edited by its user, so it is not a customisation.
const EARLIER_RUN_TEMPLATES: [&str; 2] = [
    "0bdeff02543efcb9640c646a848adbc674399a98be3d5db3664bfea059b83f43",
    "8183c843d01926b27591afdd7ead6eb1e9793a165c028bba748d773e86e0d1f2",
];

/// True when the function's `run.sh` differs from its platform template's (today's or an
/// earlier release's).
fn run_script_customised(paths: &FunctionPaths, platform: &Platform) -> bool {
    let own = std::fs::read(paths.platform_dir(platform.name()).join("run.sh"));
    let template = std::fs::read(platform.template().join("run.sh"));
    match (own, template) {
        (Ok(own), Ok(template)) => {
            let own = sha256_hex(&own);
            own != sha256_hex(&template) && !EARLIER_RUN_TEMPLATES.contains(&own.as_str())
        }
        _ => false,
    }
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
        add_client_fields(&mut response, 10.0, Some(&report));
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
        add_client_fields(&mut response, 5.0, Some(&report));
        assert_eq!(response["duration"], json!(3));
        assert_eq!(response["response.duration"], json!(2));
        assert_eq!(response["response.response.duration"], json!(1));
    }
}
