//! Results survive: ten thousand calls are ten thousand rows, and a runner killed with
//! SIGKILL mid-run leaves a readable results.csv holding every call that finished.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::TempWorkspace;

const NOOP: &str = "fn noop(_request: Value, _context: Context) -> Value {\n    json!({})\n}\n";

fn rows(path: &std::path::Path) -> (usize, Vec<csv::StringRecord>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let width = reader.headers().unwrap().len();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    (width, records)
}

#[test]
fn ten_thousand_calls_are_ten_thousand_rows() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("noop", NOOP);
    ws.faaset(&["deploy", "noop", "--config", r#"{"memory": 3538}"#])
        .ok();
    // 10,000 calls over 32 workers (FaaS Runner's `runs`): 16 make 313 calls, 16 make 312.
    let run = ws
        .faaset(&[
            "experiment",
            "noop",
            "--threads",
            "32",
            "--calls",
            "10000",
            "--experiment-name",
            "ten_k",
        ])
        .ok();
    assert!(
        run.stdout().contains("10000 calls, 0 errors"),
        "{}",
        run.stdout()
    );
    let (width, records) = rows(&ws.file("functions/noop/experiments/ten_k/results.csv"));
    assert_eq!(records.len(), 10_000);
    assert!(records.iter().all(|r| r.len() == width));
}

#[test]
fn a_killed_runner_leaves_every_finished_call_readable() {
    let ws = TempWorkspace::with_functions(&["sleeper"]);
    ws.faaset(&["deploy", "sleeper"]).ok();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faaset"))
        .args([
            "experiment",
            "sleeper",
            "--threads",
            "4",
            "--runs-per-thread",
            "1000",
        ])
        .args([
            "--payloads",
            r#"[{"ms": 5}]"#,
            "--experiment-name",
            "killed",
        ])
        .current_dir(ws.path())
        .env("FAASET_BIN", env!("CARGO_BIN_EXE_faaset"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let csv = ws.file("functions/sleeper/experiments/killed/results.csv");
    // Kill once some rows are on disk (not a timing assertion: it waits for evidence).
    let started = Instant::now();
    while std::fs::read_to_string(&csv)
        .map(|t| t.lines().count())
        .unwrap_or(0)
        < 50
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no rows appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (width, records) = rows(&csv);
    assert!(
        records.len() >= 49 && records.len() < 4000,
        "{} rows",
        records.len()
    );
    // At most the row being written when the process died is short.
    let short = records.iter().filter(|r| r.len() != width).count();
    assert!(short <= 1, "{short} short rows");
    // The same experiment again appends after the cut.
    ws.faaset(&[
        "experiment",
        "sleeper",
        "--threads",
        "2",
        "--runs-per-thread",
        "3",
        "--experiment-name",
        "killed",
    ])
    .ok();
    let (width_after, after) = rows(&csv);
    assert_eq!(width_after, width);
    assert_eq!(after.len(), records.len() + 6);
    assert!(after[records.len()..].iter().all(|r| r.len() == width));
}
