//! The `http` platform: a function reached by POSTing JSON to a URL, measured by the same
//! runner — including thousands of concurrent calls as async tasks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use faaset::experiment::{experiment, ExperimentSpec};
use faaset::Workspace;
use serde_json::{json, Value};

use crate::support::TempWorkspace;

/// A real HTTP function on loopback at `/fn/<ms>`: echoes the payload after `ms`; a payload
/// `{"fail": true}` gets a 500.
fn serve(runtime: &tokio::runtime::Runtime) -> String {
    let served = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/fn/{ms}",
            post(
                |State(served): State<Arc<AtomicU64>>,
                 Path(ms): Path<u64>,
                 Json(payload): Json<Value>| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    let n = served.fetch_add(1, Ordering::Relaxed);
                    if payload["fail"] == true {
                        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"oops": n})));
                    }
                    (
                        StatusCode::OK,
                        Json(json!({"echo": payload, "served": n, "runtime": 1.5})),
                    )
                },
            ),
        )
        .with_state(served);
    // A backlog as large as the kernel allows (tokio's default is 1,024): 5,000 clients
    // connect at once, as they would to a real FaaS gateway.
    let listener = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        socket.listen(8192).unwrap()
    });
    let address = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/fn")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn an_http_function_is_deployed_by_recording_its_url_and_called_like_any_other() {
    let rt = runtime();
    let url = serve(&rt);
    let ws = TempWorkspace::with_functions(&[]);
    ws.faaset(&["new", "remote", "--platform", "http"])
        .user_error("config key \"url\" is required for platform http");
    assert!(!ws.file("functions/remote").exists(), "nothing written");
    ws.faaset(&[
        "new",
        "remote",
        "--platform",
        "http",
        "--config",
        r#"{"url":"ftp://x"}"#,
    ])
    .ok();
    assert!(
        !ws.file("functions/remote/src/function.rs").exists(),
        "no source for http"
    );
    ws.faaset(&["deploy", "remote"]).ok();
    ws.faaset(&["invoke", "remote"])
        .user_error("must be an http(s) URL");
    let config = format!(r#"{{"url":"{url}/0","headers":{{"X-Test":"1"}}}}"#);
    let deploy = ws.faaset(&["deploy", "remote", "--config", &config]).ok();
    assert!(!deploy.stderr().contains("building"), "{}", deploy.stderr());
    let r = ws
        .faaset(&["invoke", "remote", r#"{"name":"Steve"}"#])
        .ok()
        .json();
    assert_eq!(r["echo"]["name"], "Steve");
    let latency = r["latency"].as_f64().unwrap();
    assert!((r["roundTripTime"].as_f64().unwrap() - 1.5 - latency).abs() < 1e-9);
    ws.faaset(&["invoke", "remote", r#"{"fail":true}"#])
        .user_error("answered 500 Internal Server Error");
}

#[test]
fn five_thousand_concurrent_calls_are_tasks_not_threads() {
    let rt = runtime();
    let url = serve(&rt);
    let ws = TempWorkspace::with_functions(&[]);
    ws.faaset(&[
        "new",
        "slow_remote",
        "--platform",
        "http",
        "--config",
        &format!(r#"{{"url":"{url}/1000"}}"#),
    ])
    .ok();
    ws.faaset(&["deploy", "slow_remote"]).ok();
    let workspace = Workspace::open(ws.path()).unwrap();
    let mut spec = ExperimentSpec::new("slow_remote", "scale");
    spec.threads = 5000;
    spec.runs_per_thread = 1;
    let started = Instant::now();
    let summary = rt.block_on(experiment(&workspace, &spec, &|_| {})).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(summary.calls, 5000);
    assert_eq!(summary.errors, 0);
    let mut reader = csv::Reader::from_path(&summary.results_csv).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (start, end) = (column("startTime"), column("endTime"));
    let calls: Vec<(f64, f64)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[start].parse().unwrap(), r[end].parse().unwrap())
        })
        .collect();
    assert_eq!(calls.len(), 5000);
    // Concurrency read from the rows themselves (how many calls were in flight at once), not
    // from a wall-clock budget a loaded host could miss.
    assert!(
        peak_overlap(&calls) >= 1000,
        "at most {} calls in flight at once",
        peak_overlap(&calls)
    );
    // 5,000 one-second calls one after another would take 83 minutes.
    assert!(elapsed < Duration::from_secs(600), "took {elapsed:?}");
}

/// The largest number of (start, end) intervals that overlap at one instant.
fn peak_overlap(calls: &[(f64, f64)]) -> usize {
    let mut events: Vec<(f64, i32)> = calls
        .iter()
        .flat_map(|&(start, end)| [(start, 1), (end, -1)])
        .collect();
    // At equal times an end comes first: back-to-back calls do not overlap.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, step) in events {
        now += step;
        peak = peak.max(now);
    }
    peak as usize
}

/// A misbehaving endpoint on loopback: answers every request with a chunked body that never
/// ends (`endless`), or one that declares `declared` bytes in its Content-Length.
fn serve_oversized(runtime: &tokio::runtime::Runtime, declared: Option<usize>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = vec![0; 65536];
                let _ = stream.read(&mut request).await;
                let chunk = vec![b'x'; 64 * 1024];
                let head = match declared {
                    Some(n) => format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n"),
                    None => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_string(),
                };
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    let written = match declared {
                        Some(_) => stream.write_all(&chunk).await,
                        None => {
                            let size = format!("{:x}\r\n", chunk.len());
                            let mut framed = size.into_bytes();
                            framed.extend_from_slice(&chunk);
                            framed.extend_from_slice(b"\r\n");
                            stream.write_all(&framed).await
                        }
                    };
                    if written.is_err() {
                        return; // the client hung up: it stopped reading, as it should
                    }
                }
            });
        }
    });
    format!("http://{address}/")
}

/// An answer larger than 6 MiB is a failed call with a message saying so, read no further
/// than the limit: an endpoint that streams without end cannot exhaust the runner's memory.
#[test]
fn an_oversized_or_endless_answer_is_a_clear_error_not_unbounded_memory() {
    let rt = runtime();
    let ws = TempWorkspace::with_functions(&[]);
    for (name, declared) in [("endless", None), ("declared", Some(30 << 20))] {
        let url = serve_oversized(&rt, declared);
        let config = format!(r#"{{"url":"{url}","timeout":20}}"#);
        ws.faaset(&["new", name, "--platform", "http", "--config", &config])
            .ok();
        let started = Instant::now();
        ws.faaset(&["invoke", name])
            .user_error("is larger than 6 MiB, the most FaaSET-rs keeps of one answer");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{name}: stopped at the limit, not at the timeout"
        );
    }
}
