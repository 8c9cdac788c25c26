//! The engine as a Lambda: warm reuse, cold starts under concurrency, function errors,
//! panics and timeouts, the Runtime API deadline, and the engine surviving all of them.

use std::time::Instant;

use faaset::invoke::Invoker;
use faaset::Workspace;
use serde_json::json;

use crate::support::TempWorkspace;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn concurrent_calls_start_environments_and_a_second_burst_reuses_them() {
    let ws = TempWorkspace::with_functions(&["sleeper"]);
    ws.faaset(&["deploy", "sleeper"]).ok();
    runtime().block_on(async {
        let workspace = Workspace::open(ws.path()).unwrap();
        let invoker = std::sync::Arc::new(Invoker::new(&workspace, "sleeper", None).await.unwrap());
        let burst = || {
            let invoker = invoker.clone();
            async move {
                futures_join_all((0..8).map(|_| {
                    let invoker = invoker.clone();
                    async move { invoker.call(&json!({"ms": 200})).await.unwrap() }
                }))
                .await
            }
        };
        let first = burst().await;
        let mut ids: Vec<String> = first
            .iter()
            .map(|c| {
                assert!(c.error.is_none(), "{:?}", c.response);
                assert_eq!(c.response["newcontainer"], 1);
                assert_eq!(c.response["coldStart"], true);
                c.response["environmentId"].as_str().unwrap().to_string()
            })
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(
            ids.len(),
            8,
            "eight environments for eight concurrent calls"
        );
        // Concurrent, not one after another: every call began before any ended (a fact of
        // the calls' own times, not a wall-clock budget a busy machine may miss).
        let last_start = first.iter().map(|c| c.start_time).max().unwrap();
        let first_end = first.iter().map(|c| c.end_time).min().unwrap();
        assert!(
            last_start < first_end,
            "the calls ran one after another: last start {last_start}, first end {first_end}"
        );

        let second = burst().await;
        for call in &second {
            assert_eq!(call.response["newcontainer"], 0, "{:?}", call.response);
            assert_eq!(call.response["coldStart"], false);
            assert!(ids.contains(&call.response["environmentId"].as_str().unwrap().to_string()));
        }
    });
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[test]
fn panics_errors_and_timeouts_are_error_responses_and_the_engine_keeps_serving() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.add_function(
        "panicky",
        "fn panicky(request: Value, _context: Context) -> Value {\n    if request[\"panic\"] == true { panic!(\"boom at {}\", 42); }\n    json!({\"ok\": true})\n}\n",
    );
    ws.add_function(
        "failing",
        "fn failing(_request: Value, _context: Context) -> Result<Value, String> {\n    Err(\"the input was bad\".to_string())\n}\n",
    );
    ws.add_function(
        "slow",
        "fn slow(request: Value, context: &Context) -> Value {\n    let left = context.remaining_time().as_millis() as u64;\n    std::thread::sleep(std::time::Duration::from_millis(request[\"ms\"].as_u64().unwrap_or(3000)));\n    json!({\"left\": left})\n}\n",
    );
    ws.faaset(&["deploy", "slow", "--config", r#"{"timeout": 1}"#])
        .ok();

    ws.faaset(&["invoke", "panicky", r#"{"panic": true}"#])
        .user_error("function panicky failed: function panicked: boom at 42");
    // The environment survives a panic (lambda_runtime reports it; the process lives on).
    let ok = ws.faaset(&["invoke", "panicky", "{}"]).ok().json();
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["coldStart"], false);

    ws.faaset(&["invoke", "failing"])
        .user_error("function failing failed: the input was bad");

    let started = Instant::now();
    ws.faaset(&["invoke", "slow", r#"{"ms": 60000}"#])
        .user_error("Task timed out after 1.00 seconds");
    assert!(
        started.elapsed().as_secs() < 30,
        "the timeout ended the call, not the function's 60 s"
    );

    // The engine serves other functions after all of that.
    let hello = ws
        .faaset(&["invoke", "hello_world", r#"{"name":"after"}"#])
        .ok()
        .json();
    assert_eq!(hello["message"], "Hello after!");
    // The timed-out environment was replaced: the next call of `slow` is a cold start.
    ws.faaset(&["reconfigure", "slow", r#"{"timeout": 5}"#])
        .ok();
    let slow = ws.faaset(&["invoke", "slow"]).ok().json();
    let left = slow["left"].as_u64().unwrap();
    assert!(
        left > 4000 && left <= 5000,
        "deadline from lambda-runtime-deadline-ms: {left} ms left"
    );
    let log =
        std::fs::read_to_string(ws.file("functions/panicky/local/logs/function.log")).unwrap();
    assert!(
        log.contains("boom at 42"),
        "function stderr goes to its log: {log}"
    );
    assert!(log.contains("REPORT RequestId:"), "{log}");
}

#[test]
fn example_functions_run_on_the_platform() {
    let ws = TempWorkspace::with_functions(&["cpu_test", "calc_service", "page_rank"]);
    let cpu = ws
        .faaset(&["invoke", "cpu_test", r#"{"name":"Steve"}"#])
        .ok()
        .json();
    assert_eq!(cpu["message"], "Hello from the cloud Steve!");
    assert!(cpu["cpuType"].as_str().is_some_and(|s| !s.is_empty()));
    let calc = ws
        .faaset(&[
            "invoke",
            "calc_service",
            r#"{"threads":2,"calcs":1000,"loops":5}"#,
        ])
        .ok()
        .json();
    assert_eq!(calc["threads"], 2);
    let rank = ws
        .faaset(&["invoke", "page_rank", r#"{"size":111,"loops":1}"#])
        .ok()
        .json();
    assert_eq!(rank["size"], 111);
    assert!((rank["rankSum"].as_f64().unwrap() - 1.0).abs() < 1e-9);
}

/// A response far above Lambda's 6 MB (above any body limit of the Runtime API) is Lambda's
/// `Function.ResponseSizeTooLarge` at once, not a call that waits for its timeout.
#[test]
fn a_thirty_megabyte_response_is_too_large_at_once() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function(
        "huge",
        "fn huge(_request: Value, _context: Context) -> Value {\n    json!({\"blob\": \"a\".repeat(30 * 1024 * 1024)})\n}\n",
    );
    ws.faaset(&[
        "deploy",
        "huge",
        "--config",
        r#"{"timeout": 60, "memory": 1024}"#,
    ])
    .ok();
    let started = Instant::now();
    ws.faaset(&["invoke", "huge"])
        .user_error("exceeded maximum allowed payload size (6291456 bytes)");
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
    ws.faaset(&["local", "stop"]).ok();
}
