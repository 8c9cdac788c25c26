//! Cloud Run's container contract: listen on `0.0.0.0:$PORT`, `K_SERVICE`, `K_REVISION`,
//! `K_CONFIGURATION` set, concurrent requests on one instance, SIGTERM before the instance
//! is stopped.

use std::net::{Ipv4Addr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{free_port, listening_ip, post, probe, request, wait_ready, Running};

fn start() -> (Running, SocketAddr) {
    let port = free_port();
    let mut running = Running::spawn(
        probe()
            .env("PORT", port.to_string())
            .env("K_SERVICE", "hello-svc")
            .env("K_REVISION", "hello-svc-00003-xyz")
            .env("K_CONFIGURATION", "hello-svc")
            // What FaaSET's publisher sets: SAAF must not read "google" as Lambda or local.
            .env("FAASET_PLATFORM", "google")
            .env("FAASET_MEMORY_MB", "512")
            .env("FAASET_REGION", "europe-west1")
            .env("FAASET_TIMEOUT_S", "60"),
    );
    // It listens on 0.0.0.0, so loopback reaches it.
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_ready(&mut running, addr);
    assert_eq!(
        listening_ip(port),
        Some(Ipv4Addr::UNSPECIFIED),
        "Cloud Run needs 0.0.0.0"
    );
    (running, addr)
}

#[test]
fn serves_posts_with_saaf_naming_cloud_run_and_one_warm_instance() {
    let (_running, addr) = start();
    let first = post(addr, "/", &[], r#"{"name":"Ada"}"#);
    assert_eq!(first.status, 200, "{first:?}");
    assert!(first
        .headers
        .to_ascii_lowercase()
        .contains("content-type: application/json"));
    let first = first.json();
    assert_eq!(first["message"], "Hello Ada!");
    assert_eq!(first["platform"], "Google Cloud Run");
    assert_eq!(first["functionName"], "hello-svc");
    assert_eq!(first["functionMemory"], 512);
    assert_eq!(first["functionRegion"], "europe-west1");
    assert_eq!(first["newcontainer"], 1, "{first}");
    let context = &first["context"];
    assert_eq!(context["functionName"], "hello-svc");
    assert_eq!(context["functionVersion"], "hello-svc-00003-xyz");
    assert_eq!(context["memoryLimitMb"], 512);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let deadline = context["deadlineMs"].as_u64().unwrap();
    assert!(
        deadline > now + 50_000 && deadline <= now + 60_000,
        "{context}"
    );

    // Cloud Run's trace header names the request; without it the runtime makes an id up.
    let second = post(
        addr,
        "/",
        &[(
            "X-Cloud-Trace-Context",
            "105445aa7843bc8bf206b12000100000/1;o=1",
        )],
        "{}",
    )
    .json();
    assert_eq!(second["newcontainer"], 0, "{second}");
    assert_eq!(second["uuid"], first["uuid"]);
    assert_eq!(second["message"], "Hello World!");
    assert_eq!(
        second["context"]["requestId"],
        "105445aa7843bc8bf206b12000100000/1"
    );
    let made_up = context["requestId"].as_str().unwrap();
    assert_eq!(made_up.len(), 36, "{made_up}");
    let third = post(addr, "/any/path", &[], "null").json();
    assert_ne!(third["context"]["requestId"], made_up);
    assert_eq!(third["context"]["pid"], first["context"]["pid"]);
}

#[test]
fn concurrent_calls_run_at_the_same_time() {
    let (_running, addr) = start();
    let started = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| thread::spawn(move || post(addr, "/", &[], r#"{"action":"sleep","ms":600}"#)))
        .collect();
    let answers: Vec<Value> = calls
        .into_iter()
        .map(|c| {
            let answer = c.join().unwrap();
            assert_eq!(answer.status, 200, "{answer:?}");
            answer.json()
        })
        .collect();
    let wall = started.elapsed();
    // One at a time takes at least 2.4 s (sleeps do not need the CPU, so a loaded host adds
    // little to overlapping ones).
    assert!(
        wall < Duration::from_millis(2350),
        "4 × 600 ms calls took {wall:?}: they did not overlap"
    );
    for answer in &answers {
        assert!(answer["slept"].as_f64().unwrap() >= 600.0, "{answer}");
        assert_eq!(
            answer["uuid"], answers[0]["uuid"],
            "one instance served all"
        );
    }
    let new: u64 = answers
        .iter()
        .map(|a| a["newcontainer"].as_u64().unwrap())
        .sum();
    assert_eq!(new, 1, "exactly the first Inspector of the process is new");
}

#[test]
fn failures_are_500_400_413_in_lambdas_error_shape() {
    let (_running, addr) = start();
    let failed = post(addr, "/", &[], r#"{"action":"fail","why":"test"}"#);
    assert_eq!(failed.status, 500, "{failed:?}");
    assert_eq!(
        failed.json(),
        json!({"errorType": "String", "errorMessage": "asked to fail (\"test\")"})
    );

    let panicked = post(addr, "/", &[], r#"{"action":"panic"}"#);
    assert_eq!(panicked.status, 500, "{panicked:?}");
    assert_eq!(
        panicked.json(),
        json!({"errorType": "Panic", "errorMessage": "function panicked: asked to panic"})
    );

    let bad = post(addr, "/", &[], "{not json");
    assert_eq!(bad.status, 400, "{bad:?}");
    let bad = bad.json();
    assert_eq!(bad["errorType"], "InvalidRequestContentException");
    assert!(
        bad["errorMessage"].as_str().unwrap().contains("not JSON"),
        "{bad}"
    );
    assert_eq!(
        post(addr, "/", &[], "").status,
        400,
        "an empty body is not JSON"
    );

    // Declared too large: refused before a byte of the body is read.
    let large = post(addr, "/", &[("Content-Length", "6291457")], "");
    assert_eq!(large.status, 413, "{large:?}");
    assert_eq!(large.json()["errorType"], "RequestTooLargeException");
    // Exactly 6 MiB is accepted.
    let payload = format!(r#"{{"name":"{}"}}"#, "x".repeat(6 * 1024 * 1024 - 11));
    assert_eq!(payload.len(), 6 * 1024 * 1024);
    let ok = post(addr, "/", &[], &payload);
    assert_eq!(ok.status, 200, "{}", ok.body.len());

    let put = request(addr, "PUT", "/", &[], "{}").unwrap();
    assert_eq!(put.status, 405, "{put:?}");

    // The instance survived all of it.
    assert_eq!(post(addr, "/", &[], "{}").status, 200);
}

#[test]
fn sigterm_finishes_the_call_in_flight_then_exits_0() {
    let (mut running, addr) = start();
    let slow = thread::spawn(move || post(addr, "/", &[], r#"{"action":"sleep","ms":5000}"#));
    // Wait until the call is in the function: the runtime's one I/O thread gains a blocking
    // thread for it. Then stop the instance as Cloud Run does.
    let tasks = format!("/proc/{}/task", running.id());
    let started = Instant::now();
    while std::fs::read_dir(&tasks).unwrap().count() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the call never started"
        );
        thread::sleep(Duration::from_millis(10));
    }
    running.signal(libc::SIGTERM);
    // Refused within a few seconds, long before the 5 s call in flight ends.
    let signalled = Instant::now();
    while std::net::TcpStream::connect(addr).is_ok() {
        assert!(
            signalled.elapsed() < Duration::from_secs(4),
            "still accepting connections 4 s after SIGTERM"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let answer = slow.join().unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.json()["slept"].as_f64().unwrap() >= 5000.0);
    let status = running.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status}");
}
