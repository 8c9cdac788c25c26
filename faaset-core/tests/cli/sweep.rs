//! `faaset experiment` and `faaset sweep` end to end on the real local engine: rows and the
//! printed summary, bad input refused before anything is written, and a memory sweep whose
//! durations follow the CPU share the engine enforces, with its table, chart, tagged rows
//! and the function's memory restored afterwards.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{Run, TempWorkspace};

/// The rows (column → cell) of a results.csv.
fn rows(path: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

fn json_file(ws: &TempWorkspace, relative: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(ws.file(relative)).unwrap()).unwrap()
}

#[test]
fn experiment_writes_a_row_per_call_and_prints_a_summary() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    // Not deployed yet: the experiment deploys it first, as `faaset invoke` does.
    let run = ws
        .faaset(&[
            "experiment",
            "hello_world",
            "--threads",
            "2",
            "--runs-per-thread",
            "3",
            "--payloads",
            r#"[{"name": "Bob"}, {"name": "Steve"}]"#,
            "--experiment-name",
            "hello_experiment",
            "--shuffle-payloads",
            "--tags",
            r#"{"series": "a"}"#,
        ])
        .ok();
    let (stdout, stderr) = (run.stdout(), run.stderr());
    assert!(stderr.contains("built and published"), "{stderr}");
    assert!(
        stdout.contains("experiment hello_experiment of hello_world on local: 6 calls, 0 errors"),
        "{stdout}"
    );
    assert!(stdout.contains("calls/s"), "{stdout}");
    assert!(
        stdout.contains(" cold start"),
        "cold starts are known: {stdout}"
    );
    // No terminal: no bar, but a final line on stderr.
    assert!(
        stderr.contains("hello_world/hello_experiment: 6 of 6 calls done, 0 errors"),
        "{stderr}"
    );
    let csv = ws.file("functions/hello_world/experiments/hello_experiment/results.csv");
    let printed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .expect("results path printed");
    assert_eq!(
        std::path::Path::new(printed),
        csv.canonicalize().unwrap().as_path()
    );
    let rows = rows(&csv);
    assert_eq!(rows.len(), 6);
    let mut names = BTreeMap::<String, usize>::new();
    for row in &rows {
        assert_eq!(row["error"], "", "{row:?}");
        assert_eq!(row["tags"], r#"{"series":"a"}"#);
        *names.entry(row["message"].clone()).or_default() += 1;
    }
    assert_eq!(
        names,
        BTreeMap::from([("Hello Bob!".into(), 3), ("Hello Steve!".into(), 3)])
    );
}

#[test]
fn bad_input_exits_1_with_one_line_and_writes_nothing() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    let before = ws.snapshot();
    let experiment = |extra: &[&str]| {
        let mut args = vec!["experiment", "hello_world", "--experiment-name", "refused"];
        args.extend_from_slice(extra);
        ws.faaset(&args)
    };
    experiment(&["--threads", "0"]).user_error("threads must be at least 1");
    experiment(&["--runs-per-thread", "0"]).user_error("runs_per_thread must be at least 1");
    experiment(&["--payloads", "[]"]).user_error("the payload list is empty");
    experiment(&["--payloads", "{not json"]).user_error("--payloads is not valid JSON");
    experiment(&["--payloads", r#"{"name": "Bob"}"#]).user_error("--payloads must be a JSON array");
    experiment(&["--tags", "[1]"]).user_error("--tags must be a JSON object");
    ws.faaset(&["experiment", "nosuch", "--experiment-name", "refused"])
        .user_error("unknown function \"nosuch\"");

    let sweep = |extra: &[&str]| {
        let mut args = vec!["sweep", "hello_world"];
        args.extend_from_slice(extra);
        ws.faaset(&args)
    };
    sweep(&["--memory", "64,128"])
        .user_error("bad value 64 for config key \"memory\" of platform local");
    sweep(&["--memory", "128,256,128"]).user_error("memory setting 128 MB is listed twice");
    sweep(&["--discard-top-bottom", "0.5"]).user_error("discard_top_bottom must be from 0");
    sweep(&["--output", "chart.gif"]).user_error("must end in .svg or .png");
    sweep(&["--payloads", "[]"]).user_error("the payload list is empty");
    ws.faaset(&["sweep", "nosuch"])
        .user_error("unknown function \"nosuch\"");

    assert!(!ws.file("functions/hello_world/experiments").exists());
    assert!(!ws.file("functions/hello_world/local/.build").exists());
    assert!(before == ws.snapshot(), "nothing was written");
}

/// One row of the sweep table: (memory, calls, errors, mean ms, median ms, USD per call).
fn table(stdout: &str) -> Vec<(u32, usize, usize, f64, f64, f64)> {
    stdout
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            if cells.len() != 8 || cells[1] != "MB" {
                return None;
            }
            let memory = cells[0].parse().ok()?;
            Some((
                memory,
                cells[2].parse().unwrap(),
                cells[3].parse().unwrap(),
                cells[4].parse().unwrap(),
                cells[5].parse().unwrap(),
                cells[6].parse().unwrap(),
            ))
        })
        .collect()
}

#[test]
fn memory_sweep_follows_the_cpu_share_and_restores_the_memory() {
    let ws = TempWorkspace::with_functions(&["calc_service"]);
    ws.faaset(&["deploy", "calc_service", "--config", r#"{"memory": 1024}"#])
        .ok();
    let run = ws
        .faaset(&[
            "sweep",
            "calc_service",
            "--memory",
            "512,128,256",
            "--threads",
            "1",
            "--runs-per-thread",
            "3",
            // ≈ 30 ms of CPU: about 4 of 128 MB's 100 ms CFS periods (7.2 ms quota each),
            // 2 of 256 MB's, 1 of 512 MB's.
            "--payloads",
            r#"[{"calcs": 200000, "loops": 10}]"#,
            "--output",
            "chart.svg",
        ])
        .ok();
    let (stdout, stderr) = (run.stdout(), run.stderr());
    let table = table(&stdout);
    let memories: Vec<u32> = table.iter().map(|r| r.0).collect();
    assert_eq!(memories, [128, 256, 512], "ascending: {stdout}");
    for &(memory, calls, errors, mean, median, cost) in &table {
        assert_eq!((calls, errors), (3, 0), "{memory} MB: {stdout}");
        assert!(mean > 0.0 && median > 0.0 && cost > 0.0, "{stdout}");
    }
    let median = |i: usize| table[i].4;
    // 128 MB's share (0.072 vCPU) is below what a loaded host leaves a call, so it is slower
    // than both larger settings; 256 against 512 MB is not asserted, since once the host's
    // fair share falls below 0.29 vCPU they run alike.
    assert!(
        median(0) > median(1) && median(0) > 1.5 * median(2),
        "durations fall as memory (CPU share) grows: {stdout}"
    );
    for strategy in ["cost", "speed", "balanced"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("best for {strategy}: ")))
            .unwrap_or_else(|| panic!("no best for {strategy}: {stdout}"));
        assert!(
            ["128 MB", "256 MB", "512 MB"]
                .iter()
                .any(|m| line.contains(m)),
            "{line}"
        );
    }
    // The fastest is one of the larger settings (not a timing race between 256 and 512 MB
    // on a loaded machine: their medians are checked above).
    assert!(
        stdout.contains("best for speed: 512 MB") || stdout.contains("best for speed: 256 MB"),
        "{stdout}"
    );
    assert!(stdout.contains("$0.0000166667 per GB-second"), "{stdout}");
    assert!(stdout.contains("chart: chart.svg"), "{stdout}");
    let chart = std::fs::read_to_string(ws.file("chart.svg")).unwrap();
    assert!(chart.contains("<svg"), "an SVG chart");
    assert!(stderr.contains("memory restored to 1024 MB"), "{stderr}");

    // Rows: tagged with their setting, and run at it.
    let dir = "functions/calc_service/experiments/memory_sweep";
    let rows = rows(&ws.file(&format!("{dir}/results.csv")));
    assert_eq!(rows.len(), 9);
    for row in &rows {
        let tags: Value = serde_json::from_str(&row["tags"]).unwrap();
        assert_eq!(tags["memory"].to_string(), row["memorySize"], "{row:?}");
    }
    let record = json_file(&ws, &format!("{dir}/experiment.json"));
    let memories: Vec<&Value> = record["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| &run["config"]["memory"])
        .collect();
    assert_eq!(memories, [128, 256, 512]);

    // Restored: saved and deployed configuration, and what the engine runs.
    let call = assert_memory_restored(&ws, 1024);
    assert!(
        call.stderr().contains("up to date"),
        "no redeploy: {}",
        call.stderr()
    );
    assert_eq!(call.json()["memorySize"], 1024);

    // A sweep failing part-way (its experiment is locked by another run, after the first
    // reconfigure) still restores the memory.
    let lock = std::fs::File::create(ws.file(&format!("{dir}/.lock"))).unwrap();
    lock.lock().unwrap();
    let failed = ws
        .faaset(&[
            "sweep",
            "calc_service",
            "--memory",
            "128",
            "--runs-per-thread",
            "1",
        ])
        .user_error("experiment memory_sweep of calc_service is already running");
    assert!(
        failed.stderr().contains("memory restored to 1024 MB"),
        "{}",
        failed.stderr()
    );
    drop(lock);
    let call = assert_memory_restored(&ws, 1024);
    assert_eq!(call.json()["memorySize"], 1024);
}

/// calc_service's saved and deployed memory is `memory` again; returns a call made after.
fn assert_memory_restored(ws: &TempWorkspace, memory: u64) -> Run {
    let state = json_file(ws, "functions/calc_service/FAASET.json");
    assert_eq!(state["deployed"]["local"]["config"]["memory"], memory);
    assert_eq!(
        state["config"]["local"],
        serde_json::json!({ "memory": memory })
    );
    ws.faaset(&["invoke", "calc_service", r#"{"calcs": 1, "loops": 1}"#])
        .ok()
}

#[test]
fn ctrl_c_during_a_sweep_restores_the_memory_setting() {
    let ws = TempWorkspace::with_functions(&["calc_service"]);
    ws.faaset(&["deploy", "calc_service", "--config", r#"{"memory":1024}"#])
        .ok();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_faaset"))
        .args([
            "sweep",
            "calc_service",
            "--memory",
            "128,256",
            "--runs-per-thread",
            "30",
        ])
        .args(["--payloads", r#"[{"calcs":50000,"loops":10}]"#])
        .current_dir(ws.path())
        .env("FAASET_BIN", env!("CARGO_BIN_EXE_faaset"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the sweep is measuring at 128 MB (rows on disk), not after a fixed time.
    let csv = ws.file("functions/calc_service/experiments/memory_sweep/results.csv");
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&csv)
        .map(|t| t.lines().count())
        .unwrap_or(0)
        < 3
    {
        assert!(started.elapsed().as_secs() < 60, "the sweep wrote no rows");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the sweep was interrupted"), "{stderr}");
    let state = json_file(&ws, "functions/calc_service/FAASET.json");
    assert_eq!(state["deployed"]["local"]["config"]["memory"], 1024);
    let response = ws
        .faaset(&["invoke", "calc_service", r#"{"calcs":10,"loops":1}"#])
        .ok()
        .json();
    assert_eq!(
        response["memorySize"], 1024,
        "the engine runs 1024 MB again"
    );
}

/// D7: a second sweep, a reconfigure and a changing deploy are refused while a sweep runs, so
/// every row of each step ran at that step's memory and the function ends at its memory.
#[test]
fn a_sweep_refuses_overlapping_sweeps_and_changes_and_restores_the_memory() {
    let ws = TempWorkspace::with_functions(&["sleeper"]);
    ws.faaset(&["deploy", "sleeper"]).ok();
    let dir = ws.file("functions/sleeper/experiments/swA");
    let (sweep_a, refusals) = std::thread::scope(|scope| {
        let refusals = scope.spawn(|| {
            let started = std::time::Instant::now();
            while !dir.join("results.csv").exists() {
                assert!(started.elapsed().as_secs() < 60, "sweep A wrote no rows");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let b = ws.faaset(&[
                "sweep",
                "sleeper",
                "--memory",
                "1024,2048",
                "--runs-per-thread",
                "5",
                "--payloads",
                r#"[{"ms":50}]"#,
                "--experiment-name",
                "swB",
            ]);
            let b = b.user_error("another memory sweep of sleeper is running");
            let r = ws.faaset(&["reconfigure", "sleeper", r#"{"memory": 1024}"#]);
            let r = r.user_error("a memory sweep of sleeper is running");
            (b.stderr(), r.stderr())
        });
        let a = ws
            .faaset(&[
                "sweep",
                "sleeper",
                "--memory",
                "128,256",
                "--runs-per-thread",
                "30",
                "--payloads",
                r#"[{"ms":50}]"#,
                "--experiment-name",
                "swA",
            ])
            .ok();
        (a, refusals.join().unwrap())
    });
    assert!(
        sweep_a.stderr().contains("memory restored to 512 MB"),
        "{}",
        sweep_a.stderr()
    );
    assert!(
        !ws.file("functions/sleeper/experiments/swB").exists(),
        "{refusals:?}"
    );
    let rows = rows(&dir.join("results.csv"));
    assert_eq!(rows.len(), 60);
    for row in &rows {
        let tags: Value = serde_json::from_str(&row["tags"]).unwrap();
        assert_eq!(row["memorySize"], tags["memory"].to_string(), "{row:?}");
    }
    let state = json_file(&ws, "functions/sleeper/FAASET.json");
    assert_eq!(state["deployed"]["local"]["config"]["memory"], 512);
    assert!(
        state["config"]
            .get("local")
            .and_then(|c| c.get("memory"))
            .is_none(),
        "the default memory is not pinned: {state}"
    );
    let response = ws.faaset(&["invoke", "sleeper", r#"{"ms":1}"#]).ok().json();
    assert_eq!(response["memorySize"], 512);
}
