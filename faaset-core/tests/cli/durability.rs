//! Results survive: ten thousand calls are ten thousand rows, and a runner killed with
//! SIGKILL mid-run leaves a readable results.csv holding every call that finished.

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
    let mut child = ws.spawn_faaset(&[
        "experiment",
        "sleeper",
        "--threads",
        "4",
        "--runs-per-thread",
        "1000",
        "--payloads",
        r#"[{"ms": 5}]"#,
        "--experiment-name",
        "killed",
    ]);
    let csv = ws.file("functions/sleeper/experiments/killed/results.csv");
    // Kill once some rows are on disk (not a timing assertion: it waits for evidence).
    let started = Instant::now();
    while std::fs::read_to_string(&csv)
        .map(|t| t.lines().count())
        .unwrap_or(0)
        < 50
    {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no rows appeared in 300 s"
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

/// Echoes `unit` repeated `n` times (1 byte to 1 MB of multi-byte text, quotes and newlines),
/// and a field `extra_<k>` when asked, so the header widens in the middle of runs.
const BLOB: &str = r#"fn blob(request: Value, _context: Context) -> Value {
    let unit = request["unit"].as_str().unwrap_or("a").to_string();
    let n = request["n"].as_u64().unwrap_or(0) as usize;
    let mut response = json!({"blob": unit.repeat(n), "n": n, "unit": unit});
    if let Some(k) = request["extra"].as_u64() {
        response[format!("extra_{k}")] = json!(k);
    }
    response
}
"#;

/// A small deterministic generator: the kill moments are random but the test repeatable
/// (the seed is printed, so a failure can be replayed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Every record of `results.csv` that is a whole, uncorrupted row: all columns, its blob
/// exactly `unit × n`. Only the last record may be otherwise (cut by the kill); a bad record
/// anywhere before it fails the test.
fn whole_rows(csv: &std::path::Path) -> usize {
    let Ok(bytes) = std::fs::read(csv) else {
        return 0;
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(String::from).collect(),
        Err(_) => return 0,
    };
    let column = |name: &str| header.iter().position(|h| h == name);
    let records: Vec<Result<csv::StringRecord, csv::Error>> = reader.records().collect();
    let verified = |record: &csv::StringRecord| -> bool {
        let get = |name: &str| column(name).and_then(|i| record.get(i));
        record.len() == header.len()
            && get("error") == Some("")
            && match (
                get("blob"),
                get("unit"),
                get("n").and_then(|n| n.parse().ok()),
            ) {
                (Some(blob), Some(unit), Some(n)) => blob == unit.repeat(n),
                _ => false,
            }
    };
    let last = records.len().saturating_sub(1);
    let mut whole = 0;
    for (i, record) in records.iter().enumerate() {
        let ok = record.as_ref().is_ok_and(verified);
        if i == last && !(ok && bytes.ends_with(b"\n")) {
            break; // the record the kill cut
        }
        assert!(
            ok,
            "{}: record {i} of {} is damaged",
            csv.display(),
            records.len()
        );
        whole += 1;
    }
    whole
}

/// The crash test of #11: `kill -9` of a running experiment at 50 random moments (rows from
/// 1 byte to 1 MB, multi-byte text, quotes and newlines, the header widening mid-run), each
/// followed by another run of the same experiment. Each time: experiment.json is valid, the
/// next run keeps every whole row and only those, and no temporary file is left.
#[test]
fn fifty_kills_at_random_moments_lose_no_whole_row_and_leave_no_debris() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("blob", BLOB);
    ws.faaset(&["deploy", "blob"]).ok();
    let units = ["a", "é", "€", "𝄞", "\"\n,é"];
    let sizes = [1, 7, 300, 20_000, 250_000];
    let payloads: Vec<serde_json::Value> = (0..10)
        .map(|i| {
            let mut p = serde_json::json!({"unit": units[i % 5], "n": sizes[(i * 3) % 5]});
            if i % 2 == 1 {
                p["extra"] = serde_json::json!(i);
            }
            p
        })
        .collect();
    let payload_file = ws.path().join("payloads.json");
    std::fs::write(&payload_file, serde_json::to_string(&payloads).unwrap()).unwrap();
    let seed = std::process::id() as u64;
    eprintln!("kill moments from seed {seed}");
    let mut random = Lcg(seed);
    for kill in 0..50 {
        let name = format!("crash{}", kill / 10);
        let dir = ws.file(&format!("functions/blob/experiments/{name}"));
        let csv = dir.join("results.csv");
        let seed_arg = kill.to_string();
        let mut child = ws.spawn_faaset(&[
            "experiment",
            "blob",
            "--threads",
            "3",
            "--runs-per-thread",
            "40",
            "--payloads",
            "@payloads.json",
            "--shuffle-payloads",
            "--seed",
            &seed_arg,
            "--experiment-name",
            &name,
        ]);
        std::thread::sleep(Duration::from_millis(50 + random.below(900)));
        child.kill().unwrap(); // SIGKILL, wherever it is
        child.wait().unwrap();
        if dir.join("experiment.json").exists() {
            let text = std::fs::read_to_string(dir.join("experiment.json")).unwrap();
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("kill {kill}: experiment.json is not JSON: {e}"));
        }
        let whole = whole_rows(&csv);
        ws.faaset(&[
            "experiment",
            "blob",
            "--runs-per-thread",
            "2",
            "--payloads",
            r#"[{"unit": "ü", "n": 3}]"#,
            "--experiment-name",
            &name,
        ])
        .ok();
        // Every record is now whole: what the kill left whole, plus the two new calls.
        let (width, records) = rows(&csv);
        assert_eq!(
            whole_rows(&csv),
            records.len(),
            "kill {kill}: a damaged record"
        );
        assert!(records.iter().all(|r| r.len() == width));
        assert_eq!(
            records.len(),
            whole + 2,
            "kill {kill}: rows lost or kept wrongly"
        );
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [".lock", "experiment.json", "results.csv"],
            "kill {kill}"
        );
    }
    for experiment in 0..5 {
        let name = format!("crash{experiment}");
        let stats = ws
            .faaset(&["stats", "blob", &name, "--metric", "duration"])
            .ok();
        assert!(!stats.stderr().contains("skipped"), "{}", stats.stderr());
    }
}
