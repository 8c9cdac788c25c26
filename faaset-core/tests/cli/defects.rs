//! Reproductions of the audit's Low defects (`reliability-2026-12.md`, D6 and D15–D22) that
//! no other module covers: each failed on 05803f1.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::TempWorkspace;

/// D6: `local stop` returns only once the engine is gone, even with a call in flight, and
/// that call gets an answer rather than hanging.
#[test]
fn d6_local_stop_returns_when_the_engine_is_gone() {
    let ws = TempWorkspace::with_functions(&["sleeper"]);
    ws.faaset(&["invoke", "sleeper", r#"{"ms": 1}"#]).ok();
    let pid = ws.engine_pid();
    let (stop, call) = std::thread::scope(|scope| {
        let call = scope.spawn(|| ws.faaset(&["invoke", "sleeper", r#"{"ms": 4000}"#]));
        std::thread::sleep(Duration::from_millis(700));
        let stop = ws.faaset(&["local", "stop"]).ok();
        assert!(
            !faaset::engine::process_alive(pid as u32),
            "`local stop` returned while engine {pid} still runs"
        );
        (stop, call.join().unwrap())
    });
    assert!(stop.stdout().contains("stopped") || stop.stderr().contains("stopped"));
    assert!(
        call.code() == 0 || call.stderr().lines().any(|l| l.starts_with("faaset: ")),
        "the in-flight call gets a clear answer: {}",
        call.stderr()
    );
}

/// D15: a function's log does not grow without limit: past 64 MiB it is moved to
/// `function.log.1` when the next environment starts.
#[test]
fn d15_function_log_is_rotated_past_its_limit() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function(
        "noisy",
        "fn noisy(request: Value, _context: Context) -> Value {\n    \
         let line = \"x\".repeat(1 << 20);\n    \
         for _ in 0..request[\"mb\"].as_u64().unwrap_or(0) {\n        println!(\"{line}\");\n    }\n    \
         json!({})\n}\n",
    );
    for _ in 0..9 {
        ws.faaset(&["invoke", "noisy", r#"{"mb": 8}"#]).ok();
    }
    let log = ws.file("functions/noisy/local/logs/function.log");
    assert!(std::fs::metadata(&log).unwrap().len() > 64 << 20);
    // A new configuration is a new environment.
    ws.faaset(&["reconfigure", "noisy", r#"{"memory": 256}"#])
        .ok();
    ws.faaset(&["invoke", "noisy", r#"{"mb": 0}"#]).ok();
    let rotated = ws.file("functions/noisy/local/logs/function.log.1");
    assert!(std::fs::metadata(&rotated).unwrap().len() > 64 << 20);
    assert!(std::fs::metadata(&log).unwrap().len() < 1 << 20);
}

/// D16: environment variable names are checked like their values.
#[test]
fn d16_bad_environment_variable_names_are_refused() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    for name in ["A=B", "HAS SPACE", ""] {
        let config = serde_json::json!({"env": {name: "x"}}).to_string();
        ws.faaset(&["deploy", "hello_world", "--config", &config])
            .user_error("with names free of '=', spaces and NUL");
    }
    assert!(
        !ws.file("functions/hello_world/FAASET.json").exists() || {
            let state =
                std::fs::read_to_string(ws.file("functions/hello_world/FAASET.json")).unwrap();
            !state.contains("A=B")
        }
    );
}

/// D18: a second `faaset local serve` is refused instead of orphaning the running engine.
#[test]
fn d18_a_second_serve_is_refused_and_the_engine_keeps_serving() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["invoke", "hello_world"]).ok();
    let pid = ws.engine_pid();
    let mut second = Command::new(env!("CARGO_BIN_EXE_faaset"))
        .args(["local", "serve"])
        .current_dir(ws.path())
        .env("FAASET_BIN", env!("CARGO_BIN_EXE_faaset"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second `local serve` started serving beside engine {pid}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(second.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("an engine already serves this workspace"),
        "{stderr}"
    );
    assert_eq!(
        ws.engine_pid(),
        pid,
        "engine.json still names the first engine"
    );
    ws.faaset(&["invoke", "hello_world"]).ok();
}

/// D19: an engine's shutdown ends idle environments without making their runtimes panic.
#[test]
fn d19_stopping_the_engine_makes_no_idle_environment_panic() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["invoke", "hello_world"]).ok();
    ws.faaset(&["invoke", "hello_world"]).ok();
    ws.faaset(&["local", "stop"]).ok();
    let log =
        std::fs::read_to_string(ws.file("functions/hello_world/local/logs/function.log")).unwrap();
    assert!(!log.contains("panicked"), "{log}");
}

/// D21: one unreadable `FAASET.json` does not hide the other functions from `faaset list`.
#[test]
fn d21_list_shows_every_function_despite_a_corrupt_one() {
    let ws = TempWorkspace::with_functions(&["calc_service", "hello_world", "sleeper"]);
    std::fs::write(ws.file("functions/calc_service/FAASET.json"), "{ not json").unwrap();
    let list = ws.faaset(&["list"]).ok();
    let out = list.stdout();
    assert!(out.contains("calc_service: cannot be read"), "{out}");
    assert!(
        out.contains("hello_world") && out.contains("sleeper"),
        "{out}"
    );
}

/// D22: `maxMemoryUsed` is at least what the function's process itself reports as its peak
/// (VmHWM); on cgroup v1 the cgroup's peak alone missed file pages charged elsewhere.
#[test]
fn d22_max_memory_used_is_at_least_the_process_peak() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function(
        "peak",
        "fn peak(_request: Value, _context: Context) -> Value {\n    \
         let status = std::fs::read_to_string(\"/proc/self/status\").unwrap_or_default();\n    \
         let kb = status.lines().find_map(|l| l.strip_prefix(\"VmHWM:\"))\n        \
         .and_then(|v| v.trim().trim_end_matches(\"kB\").trim().parse::<u64>().ok()).unwrap_or(0);\n    \
         json!({\"vmhwmKb\": kb})\n}\n",
    );
    let response: Value = ws.faaset(&["invoke", "peak"]).ok().json();
    let peak_mb = response["vmhwmKb"].as_f64().unwrap() / 1024.0;
    let reported = response["maxMemoryUsed"].as_f64().unwrap();
    assert!(peak_mb > 1.0, "{response}");
    assert!(
        reported >= peak_mb,
        "maxMemoryUsed {reported} MB < VmHWM {peak_mb} MB"
    );
}

/// D23: the engine daemon keeps only the environment it needs, not the secrets of the CLI
/// that happened to start it (the kernel's bridge token is not in any environment at all:
/// `tests/kernel`).
#[test]
fn d23_the_engine_does_not_inherit_the_clis_secrets() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    let secrets = [
        ("AWS_SECRET_ACCESS_KEY", "d23-secret-key-value"),
        ("AWS_SESSION_TOKEN", "d23-session-token-value"),
        ("GITHUB_TOKEN", "d23-github-token-value"),
    ];
    ws.faaset_with_env(&["invoke", "hello_world"], &secrets)
        .ok();
    let environ = std::fs::read(format!("/proc/{}/environ", ws.engine_pid())).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    for (name, value) in secrets {
        assert!(!environ.contains(value), "the engine inherited {name}");
    }
    assert!(environ.contains("PATH="), "{environ}");
}
