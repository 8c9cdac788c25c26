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

/// An engine started on demand (by a notebook, a test) must not outlive its use: it stops
/// when its workspace is deleted, and when it has run nothing and heard nothing for
/// `FAASET_LOCAL_IDLE_EXIT` seconds; the next call starts a new one.
#[test]
fn an_engine_ends_when_its_workspace_goes_or_it_idles() {
    let idle = [("FAASET_LOCAL_IDLE_EXIT", "4")];

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
    let engine = ws.engine_pid();
    // Busy: the environment lives for its idle timeout (1 s), then the engine idles 4 s more.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(alive(engine), "the engine stopped while it was in use");
    let ended = gone_within(engine, Duration::from_secs(20));
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
    assert_ne!(ws.engine_pid(), engine);
    let child = again["child"].as_u64().unwrap();

    // A deleted workspace: its engine and everything it ran go.
    let engine = ws.engine_pid();
    std::fs::remove_dir_all(ws.path()).unwrap();
    let ended = gone_within(engine, Duration::from_secs(10));
    let child_ended = gone_within(child, Duration::from_secs(2));
    for pid in [engine, child] {
        kill(pid);
    }
    assert!(ended, "the engine of a deleted workspace kept running");
    assert!(child_ended, "sleep {child} outlived its deleted workspace");
}

/// Misbehaves as asked: panics, spins, allocates past its memory, leaves a child running,
/// prints 100 MB, or answers 30 MB.
const CHAOS: &str = r#"
fn chaos(request: Value, _context: Context) -> Value {
    match request["do"].as_str().unwrap_or("") {
        "panic" => panic!("chaos asked for a panic"),
        "loop" => loop {
            std::hint::spin_loop();
        },
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 16 << 20]);
            }
        }
        "spawn" => {
            let child = std::process::Command::new("sleep").arg("600").spawn().unwrap();
            let pid = child.id();
            std::mem::forget(child);
            json!({"child": pid})
        }
        "print" => {
            let line = "p".repeat(1 << 20);
            for _ in 0..100 {
                println!("{line}");
            }
            json!({"misbehaved": 100})
        }
        "answer" => json!({"big": "a".repeat(30 << 20)}),
        _ => json!({}),
    }
}
"#;

/// Processes whose executable or working folder is under `dir` (the workspace: bootstraps
/// and what they started run from its stored code).
fn processes_under(dir: &Path) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != std::process::id() && faaset::engine::process_alive(pid))
        .filter(|pid| {
            ["exe", "cwd"].iter().any(|link| {
                std::fs::read_link(format!("/proc/{pid}/{link}")).is_ok_and(|p| p.starts_with(&dir))
            })
        })
        .collect()
}

/// The chaos test of #11: for 30 s, 16 threads call functions that panic, loop past their
/// timeout, allocate past their memory, leave children running, print 100 MB and answer
/// 30 MB, each call followed by a `hello_world` that must be served. Then `local stop` leaves
/// no process and no cgroup of the engine behind.
#[test]
fn sixteen_threads_of_misbehaving_functions_cannot_poison_the_engine() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.add_function("chaos", CHAOS);
    ws.faaset(&[
        "deploy",
        "chaos",
        "--config",
        r#"{"memory": 1024, "timeout": 10}"#,
    ])
    .ok();
    ws.faaset(&["deploy", "hello_world"]).ok();
    let engine = ws.engine_pid();
    let workspace = faaset::Workspace::open(ws.path()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let modes = ["panic", "loop", "alloc", "spawn", "print", "answer"];
    let (calls, children) = runtime.block_on(async {
        let chaos = std::sync::Arc::new(
            faaset::invoke::Invoker::new(&workspace, "chaos", None)
                .await
                .unwrap(),
        );
        let hello = std::sync::Arc::new(
            faaset::invoke::Invoker::new(&workspace, "hello_world", None)
                .await
                .unwrap(),
        );
        let until = Instant::now() + Duration::from_secs(30);
        let mut threads = tokio::task::JoinSet::new();
        for thread in 0..16 {
            let (chaos, hello) = (chaos.clone(), hello.clone());
            let mode = modes[thread % modes.len()];
            threads.spawn(async move {
                let (mut calls, mut children, mut misbehaved) = (0, Vec::new(), 0);
                while Instant::now() < until {
                    // 100 MB of log per call and a process left per call: a few are
                    // enough, and the machine is shared.
                    let limit = match mode {
                        "print" => 2,
                        "spawn" => 50,
                        _ => usize::MAX,
                    };
                    let mode = if misbehaved == limit { "none" } else { mode };
                    misbehaved += usize::from(mode != "none");
                    let call = chaos.call(&serde_json::json!({"do": mode})).await.unwrap();
                    let error = call.error.clone().unwrap_or_default();
                    match mode {
                        "spawn" => children.push(call.response["child"].as_u64().unwrap()),
                        "print" | "none" => assert!(error.is_empty(), "{mode}: {error}"),
                        "loop" => assert!(error.contains("timed out"), "{mode}: {error}"),
                        "answer" => assert!(
                            error.contains("exceeded maximum allowed payload size"),
                            "{error}"
                        ),
                        _ => assert!(!error.is_empty(), "{mode} succeeded: {:?}", call.response),
                    }
                    let answer = hello.call(&serde_json::json!({"name": "C"})).await.unwrap();
                    assert_eq!(answer.error, None, "hello_world after {mode}");
                    assert_eq!(answer.response["message"], "Hello C!");
                    calls += 1;
                }
                (calls, children)
            });
        }
        let (mut calls, mut children) = (0, Vec::new());
        while let Some(joined) = threads.join_next().await {
            let (c, mut pids) = joined.unwrap();
            calls += c;
            children.append(&mut pids);
        }
        (calls, children)
    });
    eprintln!(
        "{calls} misbehaving calls, each followed by hello_world; {} children",
        children.len()
    );
    assert!(calls >= 16 && !children.is_empty());
    assert_eq!(ws.engine_pid(), engine, "the same engine served throughout");
    ws.faaset(&["local", "stop"]).ok();
    let left = processes_under(ws.path());
    for &pid in &left {
        kill(pid.into());
    }
    assert!(left.is_empty(), "processes outlived the engine: {left:?}");
    assert!(
        children.iter().all(|&pid| !alive(pid)),
        "a child outlived the engine"
    );
    let cgroups = std::process::Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "8", "-name"])
        .arg(format!("faaset-engine-{engine}"))
        .output()
        .unwrap();
    let cgroups = String::from_utf8_lossy(&cgroups.stdout);
    assert!(
        cgroups.trim().is_empty(),
        "cgroups outlived the engine: {cgroups}"
    );
}
