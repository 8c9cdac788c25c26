//! An environment's end ends every process it started: on `local stop`, on a timeout, and
//! when the engine itself is killed.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::TempWorkspace;

/// Starts `sleep 600` (its pid is the answer), then spins when asked to.
const SPAWNER: &str = r#"
fn spawner(request: Value, _context: Context) -> Value {
    let child = std::process::Command::new("sleep").arg("600").spawn().unwrap();
    let pid = child.id();
    std::mem::forget(child);
    if request["then"] == "loop" {
        loop {
            std::hint::spin_loop();
        }
    }
    json!({"child": pid, "me": std::process::id()})
}
"#;

/// Whether `pid` is a live process (a zombie waiting for its parent counts as gone).
fn alive(pid: u64) -> bool {
    faaset::engine::process_alive(pid as u32)
}

fn gone_within(pid: u64, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn kill(pid: u64) {
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
}

#[test]
fn local_stop_ends_what_a_function_started() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("spawner", SPAWNER);
    let answer = ws.faaset(&["invoke", "spawner", "{}"]).ok().json();
    let child = answer["child"].as_u64().unwrap();
    assert!(alive(child));
    ws.faaset(&["local", "stop"]).ok();
    let ended = gone_within(child, Duration::from_secs(5));
    if !ended {
        kill(child);
    }
    assert!(ended, "sleep {child} outlived its environment");
}

#[test]
fn a_timeout_ends_the_environment_and_its_children() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("spawner", SPAWNER);
    ws.faaset(&["deploy", "spawner", "--config", r#"{"timeout": 1}"#])
        .ok();
    let first = ws.faaset(&["invoke", "spawner", "{}"]).ok().json();
    let (bootstrap, child) = (
        first["me"].as_u64().unwrap(),
        first["child"].as_u64().unwrap(),
    );
    // The looping call times out; its environment (and what it started) must end.
    ws.faaset(&["invoke", "spawner", r#"{"then": "loop"}"#])
        .user_error("Task timed out after 1.00 seconds");
    let ended = gone_within(bootstrap, Duration::from_secs(5))
        && gone_within(child, Duration::from_secs(5));
    for pid in [bootstrap, child] {
        if alive(pid) {
            kill(pid);
        }
    }
    assert!(
        ended,
        "bootstrap {bootstrap} or its child {child} outlived the timeout"
    );
    ws.faaset(&["local", "stop"]).ok();
}

#[test]
fn an_engine_killed_by_sigkill_leaves_no_function_running() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("spawner", SPAWNER);
    ws.faaset(&["deploy", "spawner", "--config", r#"{"timeout": 60}"#])
        .ok();
    let first = ws.faaset(&["invoke", "spawner", "{}"]).ok().json();
    let bootstrap = first["me"].as_u64().unwrap();
    let info = std::fs::read_to_string(ws.file(".faaset/local/engine.json")).unwrap();
    let engine = serde_json::from_str::<serde_json::Value>(&info).unwrap()["pid"]
        .as_u64()
        .unwrap();
    // A call that spins until the engine dies.
    let faaset = env!("CARGO_BIN_EXE_faaset");
    let mut busy = std::process::Command::new(faaset)
        .args(["invoke", "spawner", r#"{"then": "loop"}"#])
        .current_dir(ws.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    kill(engine);
    let ended = gone_within(bootstrap, Duration::from_secs(5));
    if !ended {
        kill(bootstrap);
    }
    let _ = busy.kill();
    let _ = busy.wait();
    assert!(
        ended,
        "bootstrap {bootstrap} kept running after its engine was killed"
    );
    // The next engine removes what the killed one left (its cgroups, the first call's child).
    let child = first["child"].as_u64().unwrap();
    ws.faaset(&["invoke", "spawner", "{}"]).ok();
    let ended = gone_within(child, Duration::from_secs(5));
    if !ended {
        kill(child);
    }
    assert!(
        ended || !Path::new("/sys/fs/cgroup").exists(),
        "sleep {child} survived its engine"
    );
    ws.faaset(&["local", "stop"]).ok();
}

/// Beyond the engine's concurrency limit a call is throttled, as on Lambda, instead of
/// starting one more process per concurrent call.
#[test]
fn calls_beyond_the_concurrency_limit_are_throttled() {
    let ws = TempWorkspace::with_functions(&["sleeper", "hello_world"]);
    let limit = [("FAASET_LOCAL_CONCURRENCY", "2")];
    ws.faaset_with_env(&["deploy", "sleeper"], &limit).ok();
    let run = ws.faaset_with_env(
        &[
            "experiment",
            "sleeper",
            "--threads",
            "6",
            "--runs-per-thread",
            "1",
            "--payloads",
            r#"[{"ms": 1000}]"#,
            "--experiment-name",
            "burst",
        ],
        &limit,
    );
    let rows = std::fs::read_to_string(ws.file("functions/sleeper/experiments/burst/results.csv"))
        .unwrap();
    let throttled = rows.matches("Rate Exceeded").count();
    assert_eq!(rows.lines().count(), 7, "{rows}");
    assert_eq!(throttled, 4, "{}\n{rows}", run.stderr());
    // The limit is on calls running: idle environments of another function make room.
    let answer = ws
        .faaset(&["invoke", "hello_world", r#"{"name":"Z"}"#])
        .ok()
        .json();
    assert_eq!(answer["message"], "Hello Z!");
    ws.faaset(&["local", "stop"]).ok();
}

fn engine_pid(ws: &TempWorkspace) -> u64 {
    let info = std::fs::read_to_string(ws.file(".faaset/local/engine.json")).unwrap();
    serde_json::from_str::<faaset::engine::EngineInfo>(&info)
        .unwrap()
        .pid
        .into()
}

/// An engine started on demand (by a notebook, a test) must not outlive its use: it stops
/// when its workspace is deleted, and when it has run nothing and heard nothing for
/// `FAASET_LOCAL_IDLE_EXIT` seconds; the next call starts a new one.
#[test]
fn an_engine_ends_when_its_workspace_goes_or_it_idles() {
    let idle = [("FAASET_LOCAL_IDLE_EXIT", "2")];

    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("spawner", SPAWNER);
    ws.faaset_with_env(
        &["deploy", "spawner", "--config", r#"{"idle_timeout": 1}"#],
        &idle,
    )
    .ok();
    let first = ws
        .faaset_with_env(&["invoke", "spawner", "{}"], &idle)
        .ok()
        .json();
    let engine = engine_pid(&ws);
    // Busy: the environment lives for its idle timeout (1 s), then the engine idles 2 s more.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(alive(engine), "the engine stopped while it was in use");
    let ended = gone_within(engine, Duration::from_secs(10));
    if !ended {
        kill(engine);
    }
    assert!(ended, "an idle engine kept running");
    let child = first["child"].as_u64().unwrap();
    if !gone_within(child, Duration::from_secs(2)) {
        kill(child);
    }
    // The next call starts an engine again, and publishes the function to it.
    let again = ws
        .faaset_with_env(&["invoke", "spawner", "{}"], &idle)
        .ok()
        .json();
    assert_ne!(engine_pid(&ws), engine);
    let child = again["child"].as_u64().unwrap();

    // A deleted workspace: its engine and everything it ran go.
    let engine = engine_pid(&ws);
    std::fs::remove_dir_all(ws.path()).unwrap();
    let ended = gone_within(engine, Duration::from_secs(5));
    let child_ended = gone_within(child, Duration::from_secs(2));
    for pid in [engine, child] {
        kill(pid);
    }
    assert!(ended, "the engine of a deleted workspace kept running");
    assert!(child_ended, "sleep {child} outlived its deleted workspace");
}
