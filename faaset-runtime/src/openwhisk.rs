//! Apache OpenWhisk's two ways of running a native `exec`:
//!
//! - **ActionLoop** (the managed kinds' Go proxy): one process for the container's life. Write
//!   `{"ok":true}` on fd 3 first if `__OW_WAIT_FOR_ACK` is set; then per call read one JSON line
//!   on stdin (`{"value": <params>, "action_name", "activation_id", "deadline", …}`), export
//!   each other key as `__OW_<KEY>`, and write one result line on fd 3. EOF on stdin ends it.
//! - **dockerskeleton** (blackbox / `--native`): one process per call, the params as JSON in
//!   `argv[1]` (and on stdin; on stdin only when too long for an argument), the `__OW_*`
//!   variables set; the last stdout line is the result.
//!
//! The result is the function's JSON; a failed call is `{"error": "<message>"}`, which
//! OpenWhisk reports as an application error. Both loops run on the main thread, with no other
//! thread: the one place where changing the environment per call is safe.

use std::fs::File;
use std::io::{BufRead, Read, Write};
use std::os::fd::FromRawFd;

use serde_json::{json, Map, Value};

use crate::context::{self, env_var};
use crate::outcome::{self, BoxedHandler};
use crate::Context;

/// ActionLoop: serves lines until stdin ends (exit 0) or fd 3 is gone (exit 1).
pub(crate) fn action_loop(handler: BoxedHandler) -> ! {
    // SAFETY: mode selection saw fd 3 open and a pipe: the proxy's result channel, inherited
    // for this purpose and used by nothing else in the process, so this File owns it.
    let mut results = unsafe { File::from_raw_fd(3) };
    if env_var("__OW_WAIT_FOR_ACK").is_some() {
        write_line(&mut results, &json!({"ok": true}));
    }
    let memory_mb = context::memory_mb();
    for line in std::io::stdin().lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                eprintln!("faaset-runtime: cannot read the next call from stdin: {error}");
                std::process::exit(1);
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let result = match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(mut call)) => {
                let payload = call.remove("value").unwrap_or(Value::Null);
                export_activation(&call);
                let context = activation_context(|key| text(call.get(key)), memory_mb);
                run_one(&handler, payload, context)
            }
            _ => json!({"error": format!(
                "the action loop expects one JSON object per line, got: {}",
                preview(&line)
            )}),
        };
        write_line(&mut results, &result);
    }
    std::process::exit(0);
}

/// dockerskeleton: one call, the result as the last stdout line, exit 0 (the proxy reads the
/// result, not the exit status).
pub(crate) fn docker_skeleton(handler: BoxedHandler, argument: Option<String>) -> ! {
    let input = match argument {
        Some(argument) => argument,
        None => {
            let mut input = String::new();
            if let Err(error) = std::io::stdin().read_to_string(&mut input) {
                eprintln!("faaset-runtime: cannot read the action's input from stdin: {error}");
                std::process::exit(1);
            }
            input
        }
    };
    let result = match serde_json::from_str::<Value>(&input) {
        Ok(payload) => {
            let context = activation_context(
                |key| env_var(&format!("__OW_{}", key.to_ascii_uppercase())),
                context::memory_mb(),
            );
            run_one(&handler, payload, context)
        }
        Err(error) => json!({"error": format!("the action's input is not JSON ({error})")}),
    };
    let mut stdout = std::io::stdout().lock();
    // A newline first: if the function printed without one, the result still gets a line of
    // its own (an empty log line otherwise, which the proxy keeps as a log).
    let written = writeln!(stdout).and_then(|()| writeln!(stdout, "{result}"));
    if written.and_then(|()| stdout.flush()).is_err() {
        std::process::exit(1);
    }
    std::process::exit(0);
}

fn run_one(handler: &BoxedHandler, payload: Value, context: Context) -> Value {
    match outcome::call(handler, payload, context) {
        Ok(response) => response,
        Err(error) => json!({"error": error.error_message}),
    }
}

/// The call's context from the activation's fields (`get("activation_id")` etc.): activation
/// id → request id, deadline (epoch ms) → deadline, action name → function name.
fn activation_context(get: impl Fn(&str) -> Option<String>, memory_mb: u32) -> Context {
    Context {
        request_id: get("activation_id").unwrap_or_default(),
        deadline_ms: get("deadline")
            .and_then(|d| d.trim().parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d > 0.0)
            .map_or(0, |d| d as u64),
        function_name: get("action_name").unwrap_or_default(),
        function_version: get("action_version").unwrap_or_default(),
        memory_limit_mb: memory_mb,
        ..Context::default()
    }
}

/// Sets `__OW_<KEY>` for each field but `value`, as the proxies' own launchers do, so the
/// function (and SAAF) see the current activation's values.
fn export_activation(call: &Map<String, Value>) {
    for (key, value) in call {
        if let Some(text) = text(Some(value)) {
            // Only the main thread runs in this mode (see the module docs).
            std::env::set_var(format!("__OW_{}", key.to_ascii_uppercase()), text);
        }
    }
}

/// A field as text: strings as they are, numbers and the like as JSON, null as absent.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn write_line(out: &mut File, value: &Value) {
    let mut line = value.to_string();
    line.push('\n');
    if let Err(error) = out.write_all(line.as_bytes()) {
        eprintln!("faaset-runtime: cannot write the result to fd 3: {error}");
        std::process::exit(1);
    }
}

fn preview(line: &str) -> String {
    let mut cut: String = line.chars().take(80).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_from_activation_fields() {
        let call = json!({
            "activation_id": "a1", "action_name": "/guest/f", "deadline": "1700000000000",
            "action_version": "0.0.2", "api_key": "secret"
        });
        let c = activation_context(|k| text(call.get(k)), 256);
        assert_eq!(c.request_id, "a1");
        assert_eq!(c.function_name, "/guest/f");
        assert_eq!(c.function_version, "0.0.2");
        assert_eq!(c.deadline_ms, 1_700_000_000_000);
        assert_eq!(c.memory_limit_mb, 256);
        // A numeric deadline works too; a bad one is "unknown".
        let numeric = json!({"deadline": 1_700_000_000_001u64});
        assert_eq!(
            activation_context(|k| text(numeric.get(k)), 0).deadline_ms,
            1_700_000_000_001
        );
        let bad = json!({"deadline": "soon"});
        assert_eq!(activation_context(|k| text(bad.get(k)), 0).deadline_ms, 0);
    }

    #[test]
    fn preview_cuts_long_lines() {
        assert_eq!(preview("abc"), "abc");
        assert_eq!(preview(&"x".repeat(100)).chars().count(), 81);
    }
}
