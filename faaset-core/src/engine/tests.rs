//! The engine inside a test: [`super::serve`] on a loopback listener of the test, its control
//! API over real HTTP, and a real `bootstrap` process — a shell script that speaks Lambda's
//! Runtime API with curl, so no cargo build is needed. One test, because an engine's cgroups
//! are named after its process: two engines in one test process would share them.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{json, Value};

use super::wire::{self, FunctionSpec};
use super::EngineInfo;
use crate::workspace::Workspace;

/// Echoes each event as `{"echo": <event>}`; an event containing "fail" is a function error.
const BOOTSTRAP: &str = r#"#!/usr/bin/env bash
api="$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
headers="$(mktemp)"
while true; do
  event="$(curl -sS -D "$headers" "$api/next")" || exit 1
  id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | cut -d' ' -f2 | tr -d '\r')"
  case "$event" in
    *fail*) curl -sS -o /dev/null -X POST "$api/$id/error" -d '{"errorType":"Asked","errorMessage":"asked to fail"}' ;;
    *) curl -sS -o /dev/null -X POST "$api/$id/response" -d "{\"echo\":$event}" ;;
  esac
done
"#;

fn bootstrap(root: &Path, function: &str) -> std::path::PathBuf {
    let build = root.join("functions").join(function).join("local/.build");
    std::fs::create_dir_all(&build).unwrap();
    std::fs::create_dir_all(root.join("functions").join(function).join("local/logs")).unwrap();
    let path = build.join("bootstrap");
    std::fs::write(&path, BOOTSTRAP).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn spec(root: &Path, function: &str, memory: u32) -> FunctionSpec {
    let dir = root.join("functions").join(function).join("local");
    FunctionSpec {
        function_name: function.into(),
        code_path: dir.join(".build/bootstrap"),
        code_sha256: "ab12".into(),
        memory_size: memory,
        timeout: 3.0,
        environment: Default::default(),
        log_file: dir.join("logs/function.log"),
        idle_timeout: 60.0,
    }
}

#[tokio::test]
async fn an_engine_in_the_test_serves_its_token_holder_and_stops_with_what_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let workspace = Workspace::open(&root).unwrap();
    bootstrap(&root, "echo");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = tokio::spawn({
        let workspace = workspace.clone();
        async move {
            super::serve(&workspace, listener, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let info_file = super::info_file(&workspace);
    let info: EngineInfo = loop {
        if let Ok(text) = std::fs::read_to_string(&info_file) {
            break serde_json::from_str(&text).unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let base = format!("http://{}", info.address);
    let http = crate::platform::http_client().no_proxy().build().unwrap();
    let bearer = format!("Bearer {}", info.token);
    let get = |path: &str, token: &str| {
        http.get(format!("{base}{path}"))
            .header(wire::AUTHORIZATION, token)
            .send()
    };

    // Only the holder of engine.json's token is served.
    for wrong in ["", "Bearer nope", &format!("Bearer {}x", info.token)] {
        let status = get("/faaset/health", wrong).await.unwrap().status();
        assert_eq!(status, 401, "token {wrong:?}");
    }
    let health: Value = get("/faaset/health", &bearer)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["workspace"], json!(root));

    // A publish is checked before the pool sees it: a 400 naming the field.
    let put = |spec: FunctionSpec| {
        http.put(format!(
            "{base}/2015-03-31/functions/{}",
            spec.function_name
        ))
        .header(wire::AUTHORIZATION, &bearer)
        .json(&spec)
        .send()
    };
    let refused = put(spec(&root, "echo", 100)).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("MemorySize 100 MB"));
    let mut outside = spec(&root, "echo", 128);
    outside.code_path = "/bin/sh".into();
    let refused = put(outside).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("CodePath /bin/sh"));
    assert_eq!(put(spec(&root, "echo", 128)).await.unwrap().status(), 200);

    // Calls: cold, then warm in the same environment; a function error; an unknown function.
    let invoke = |function: &str, payload: Value| {
        http.post(format!(
            "{base}/2015-03-31/functions/{function}/invocations"
        ))
        .header(wire::AUTHORIZATION, &bearer)
        .body(payload.to_string())
        .send()
    };
    let mut environments = Vec::new();
    for (call, cold) in [(1, true), (2, false)] {
        let answer = invoke("echo", json!({"call": call})).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert!(answer.headers().get(wire::FUNCTION_ERROR).is_none());
        let report: Value =
            serde_json::from_slice(answer.headers()[wire::REPORT].as_bytes()).unwrap();
        assert_eq!(report["coldStart"], json!(cold), "call {call}: {report}");
        assert_eq!(report["memorySize"], json!(128));
        environments.push(report["environmentId"].clone());
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body, json!({"echo": {"call": call}}));
    }
    assert_eq!(
        environments[0], environments[1],
        "the warm call reuses the environment"
    );
    let failed = invoke("echo", json!("fail")).await.unwrap();
    assert!(failed.headers().get(wire::FUNCTION_ERROR).is_some());
    assert_eq!(failed.json::<Value>().await.unwrap()["errorType"], "Asked");
    assert_eq!(invoke("nothing", json!({})).await.unwrap().status(), 404);

    // The environment's process is a real child; stopping the engine ends it.
    let status: Value = get("/faaset/status", &bearer)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pid = status["environments"][0]["pid"].as_u64().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    stop.send(()).unwrap();
    engine.await.unwrap().unwrap();
    assert!(!info_file.exists(), "engine.json is removed at the end");
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    assert!(gone, "the environment {pid} outlived its engine");
}
