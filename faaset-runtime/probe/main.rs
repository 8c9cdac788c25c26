//! A function binary for the tests in `tests/modes`: the example functions `hello_world` and
//! `sleeper`, compiled the way a FaaSET build compiles them, behind one entry function that
//! `faaset_runtime::run` serves exactly as in a generated `bootstrap`. The payload's `action`
//! picks what the call does; every success also reports the `Context` it got and the pid.

use faaset_runtime::prelude::*;

mod hello_world {
    use faaset_runtime::prelude::*;
    include!("../../functions/hello_world/src/function.rs");
    pub fn call(request: Value, context: Context) -> Value {
        hello_world(request, context)
    }
}

mod sleeper {
    use faaset_runtime::prelude::*;
    include!("../../functions/sleeper/src/function.rs");
    pub fn call(request: Value, context: Context) -> Value {
        sleeper(request, context)
    }
}

/// `{"action": "sleep", "ms": N}` sleeps; `"fail"` returns an error, `"panic"` panics;
/// `"print"` writes to stdout first (one line, then text without a newline); anything else
/// says hello.
fn probe(request: Value, context: Context) -> Result<Value, String> {
    let action = request.get("action").and_then(Value::as_str).unwrap_or("");
    let mut response = match action {
        "fail" => return Err(format!("asked to fail ({})", request["why"])),
        "panic" => panic!("asked to panic"),
        "sleep" => sleeper::call(request, context.clone()),
        "print" => {
            println!("a log line");
            print!("a log without a newline");
            hello_world::call(request, context.clone())
        }
        _ => hello_world::call(request, context.clone()),
    };
    response["context"] = json!({
        "requestId": context.request_id,
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "memoryLimitMb": context.memory_limit_mb,
        "deadlineMs": context.deadline_ms,
        "pid": std::process::id(),
    });
    Ok(response)
}

fn main() {
    faaset_runtime::run(probe);
}
