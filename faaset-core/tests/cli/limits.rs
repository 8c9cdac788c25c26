//! Lambda's resource model on the local platform: memory limits (out-of-memory ends the
//! environment), measured peak memory, REPORT fields, idle reaping, configuration changes
//! without rebuilds, and honest `limitsEnforced: false` when limits are switched off.

use crate::support::TempWorkspace;

const HOG: &str = r#"// Holds `mb` megabytes (touching every page) and reports it; `env` echoes a variable.
fn hog(request: Value, _context: Context) -> Value {
    let mb = request["mb"].as_u64().unwrap_or(0) as usize;
    let mut block = vec![0u8; mb * 1024 * 1024];
    for i in (0..block.len()).step_by(4096) {
        block[i] = 1;
    }
    let touched: u64 = block.iter().step_by(4096).map(|&b| u64::from(b)).sum();
    json!({ "held": mb, "touched": touched, "greeting": std::env::var("GREETING").ok() })
}
"#;

#[test]
fn exceeding_memory_ends_the_environment_and_the_next_call_works() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("hog", HOG);
    ws.faaset(&[
        "deploy",
        "hog",
        "--config",
        r#"{"memory":128,"timeout":30}"#,
    ])
    .ok();
    let oom = ws
        .faaset(&["invoke", "hog", r#"{"mb":200}"#])
        .user_error("Runtime exited with error: signal: killed");
    assert!(oom.stderr().contains("out of memory"), "{}", oom.stderr());
    let next = ws.faaset(&["invoke", "hog", r#"{"mb":20}"#]).ok().json();
    assert_eq!(next["held"], 20);
    assert_eq!(
        next["coldStart"], true,
        "the killed environment was replaced"
    );
    assert_eq!(next["limitsEnforced"], true);
}

#[test]
fn report_fields_measure_the_environment() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("hog", HOG);
    ws.faaset(&["deploy", "hog", "--config", r#"{"memory":256}"#])
        .ok();
    let r = ws.faaset(&["invoke", "hog", r#"{"mb":100}"#]).ok().json();
    let used = r["maxMemoryUsed"].as_f64().unwrap();
    assert!(
        (100.0..=140.0).contains(&used),
        "maxMemoryUsed {used} for 100 MB held"
    );
    assert_eq!(r["memorySize"], 256);
    let (duration, billed) = (
        r["duration"].as_f64().unwrap(),
        r["billedDuration"].as_f64().unwrap(),
    );
    assert!(
        billed >= duration && billed - duration < 1.0,
        "{duration} → {billed}"
    );
    assert_eq!(billed.fract(), 0.0);
    assert!(r["initDuration"].as_f64().unwrap() > 0.0);
    assert_eq!(r["coldStart"], true);
    let warm = ws.faaset(&["invoke", "hog", r#"{"mb":1}"#]).ok().json();
    assert_eq!(warm["coldStart"], false);
    assert!(
        warm.get("initDuration").is_none(),
        "initDuration only on cold starts"
    );
    assert_eq!(warm["environmentId"], r["environmentId"]);
}

#[test]
fn configuration_changes_apply_without_rebuilds_and_idle_environments_are_reaped() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("hog", HOG);
    ws.faaset(&[
        "deploy",
        "hog",
        "--config",
        r#"{"env":{"GREETING":"hi"},"idle_timeout":1}"#,
    ])
    .ok();
    assert_eq!(ws.faaset(&["invoke", "hog"]).ok().json()["greeting"], "hi");
    let status = ws.faaset(&["local", "status"]).ok().stdout();
    assert!(status.contains("limits: enforced"), "{status}");
    assert!(
        status.contains("hog-1") && status.contains("idle"),
        "{status}"
    );
    let r = ws
        .faaset(&[
            "reconfigure",
            "hog",
            r#"{"env":{"GREETING":"hello"},"memory":384,"timeout":7}"#,
        ])
        .ok();
    assert!(!r.stderr().contains("building"));
    let after = ws.faaset(&["invoke", "hog"]).ok().json();
    assert_eq!(after["greeting"], "hello");
    assert_eq!(after["memorySize"], 384);
    assert_eq!(
        after["coldStart"], true,
        "reconfigure replaces warm environments"
    );
    // Reaped after idle_timeout (1 s) by the reaper's next tick: polled, since a loaded host
    // delays the tick.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status = ws.faaset(&["local", "status"]).ok().stdout();
        if !status.contains("hog-") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "idle environments not reaped 30 s after idle_timeout: {status}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

#[test]
fn without_limits_every_record_says_so() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("hog", HOG);
    let off = [("FAASET_LOCAL_LIMITS", "off")];
    ws.faaset_with_env(&["local", "start"], &off).ok();
    let status = ws.faaset(&["local", "status"]).ok().stdout();
    assert!(
        status.contains("limits: NOT enforced: switched off by FAASET_LOCAL_LIMITS=off"),
        "{status}"
    );
    ws.faaset(&["deploy", "hog", "--config", r#"{"memory":128}"#])
        .ok();
    // Not limited: 200 MB at a 128 MB setting runs, and says limits were not enforced.
    let r = ws.faaset(&["invoke", "hog", r#"{"mb":200}"#]).ok().json();
    assert_eq!(r["limitsEnforced"], false);
    assert!(r["maxMemoryUsed"].as_f64().unwrap() >= 200.0);
    let log = std::fs::read_to_string(ws.file(".faaset/local/engine.log")).unwrap();
    assert_eq!(
        log.matches("limits NOT enforced").count(),
        1,
        "said once: {log}"
    );
}

#[test]
fn an_init_longer_than_ten_seconds_fails_as_on_lambda() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["deploy", "hello_world"]).ok();
    // A per-function wrapper edit (it survives redeploys) that makes init take 12 s.
    let wrapper = ws.file("functions/hello_world/local/wrapper/main.rs");
    let text = std::fs::read_to_string(&wrapper).unwrap().replace(
        "fn main() {",
        "fn main() {\n    std::thread::sleep(std::time::Duration::from_secs(12));",
    );
    std::fs::write(&wrapper, text).unwrap();
    // Built first, so the call's time is the init's. (Had the timeout not fired, init would
    // end after 12 s and the call succeed: the message is the proof, no clock is needed.)
    ws.faaset(&["deploy", "hello_world"]).ok();
    ws.faaset(&["invoke", "hello_world"])
        .user_error("init did not finish within 10 s");
    // The engine goes on serving; restoring the wrapper brings the function back.
    std::fs::remove_file(&wrapper).unwrap();
    let ok = ws
        .faaset(&["invoke", "hello_world", r#"{"name":"again"}"#])
        .ok()
        .json();
    assert_eq!(ok["message"], "Hello again!");
}

const LIAR: &str = r#"// Answers with fields named like the platform's record, and echoes the payload.
fn liar(request: Value, _context: Context) -> Value {
    json!({
        "duration": 99999, "billedDuration": 99999, "memorySize": 4096,
        "maxMemoryUsed": 1, "coldStart": false, "environmentId": "forged",
        "limitsEnforced": false, "roundTripTime": 1, "echo": request,
    })
}
"#;

#[test]
fn a_function_cannot_overwrite_the_platform_record() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("liar", LIAR);
    ws.faaset(&["deploy", "liar", "--config", r#"{"memory":256}"#])
        .ok();
    let r = ws.faaset(&["invoke", "liar", r#"{"n":1}"#]).ok().json();
    assert_eq!(r["memorySize"], 256, "{r}");
    assert!(r["duration"].as_f64().unwrap() < 99999.0, "{r}");
    assert!(r["billedDuration"].as_f64().unwrap() < 99999.0, "{r}");
    assert!(r["maxMemoryUsed"].as_f64().unwrap() > 1.0, "{r}");
    assert_eq!(r["coldStart"], true, "{r}");
    assert_eq!(r["limitsEnforced"], true, "{r}");
    assert_ne!(r["environmentId"], "forged", "{r}");
    assert!(r["roundTripTime"].as_f64().unwrap() > 0.0, "{r}");
    // The function's own values are kept beside them.
    assert_eq!(r["response.duration"], 99999, "{r}");
    assert_eq!(r["response.memorySize"], 4096, "{r}");
    assert_eq!(r["response.environmentId"], "forged", "{r}");
    assert_eq!(r["echo"]["n"], 1);

    // A sweep checks each setting through `memorySize`: it works for such a function.
    ws.faaset(&[
        "sweep",
        "liar",
        "--memory",
        "128,512",
        "--threads",
        "1",
        "--runs-per-thread",
        "2",
        "--experiment-name",
        "sw",
    ])
    .ok();
    let rows = std::fs::read_to_string(ws.file("functions/liar/experiments/sw/results.csv"))
        .expect("sweep rows");
    let mut reader = csv::Reader::from_reader(rows.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (memory, own) = (column("memorySize"), column("response.memorySize"));
    let memories: Vec<String> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(&r[own], "4096");
            r[memory].to_string()
        })
        .collect();
    assert_eq!(memories, ["128", "128", "512", "512"]);
}

const SPIN: &str = include_str!("../functions/spin_timeline.rs");

/// At 128 MB Lambda stalls a CPU-bound function for about 20 ms at a time (1.45 ms of CPU per
/// 20 ms), not for the ~93 ms a plain 100 ms CFS period gives; most of the call is stalled.
#[test]
fn at_128_mb_a_busy_function_stalls_about_20_ms_at_a_time() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("spin_timeline", SPIN);
    ws.faaset(&["deploy", "spin_timeline", "--config", r#"{"memory":128}"#])
        .ok();
    ws.faaset(&["invoke", "spin_timeline", r#"{"cpu_ms":1}"#])
        .ok();
    let r = ws
        .faaset(&["invoke", "spin_timeline", r#"{"cpu_ms":30}"#])
        .ok()
        .json();
    // Gaps under 10 ms can be the host's other work (tests run in parallel): not counted.
    let mut stalls: Vec<f64> = r["stalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_f64().unwrap())
        .filter(|&s| s >= 10.0)
        .collect();
    stalls.sort_by(f64::total_cmp);
    assert!(!stalls.is_empty(), "no stalls: {r}");
    let median = stalls[stalls.len() / 2];
    let throttled = stalls.iter().sum::<f64>() / r["wall"].as_f64().unwrap();
    assert!(
        (12.0..=60.0).contains(&median),
        "median stall {median} ms: {stalls:?}"
    );
    assert!(throttled > 0.6, "throttled {throttled}: {r}");
}
