//! Experiments against the real engine: rows per call, payload spreading, error rows,
//! appending runs, refusing bad input before writing, and a thousand concurrent-ish calls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use faaset::experiment::{experiment, ExperimentSpec, Progress};
use faaset::Workspace;
use serde_json::{json, Value};

use crate::support::TempWorkspace;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The header and the rows (column → cell) of a results.csv.
fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(r.len(), header.len(), "every row has every column");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

fn spec(
    function: &str,
    name: &str,
    threads: usize,
    runs: usize,
    payloads: Value,
) -> ExperimentSpec {
    ExperimentSpec {
        threads,
        runs_per_thread: runs,
        payloads: payloads.as_array().unwrap().clone(),
        ..ExperimentSpec::new(function, name)
    }
}

fn count<'a>(rows: &'a [BTreeMap<String, String>], column: &str) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row[column].as_str()).or_default() += 1;
    }
    counts
}

#[test]
fn rows_per_call_payloads_spread_and_a_second_run_appends() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["deploy", "hello_world"]).ok();
    let workspace = Workspace::open(ws.path()).unwrap();
    let mut spec = spec(
        "hello_world",
        "hello_experiment",
        3,
        4,
        json!([{"name": "A"}, {"name": "B"}]),
    );
    spec.tags.insert("memory".into(), json!(512));
    let seen = Mutex::new(Vec::<Progress>::new());
    let summary = runtime()
        .block_on(experiment(&workspace, &spec, &|p| {
            seen.lock().unwrap().push(p)
        }))
        .unwrap();
    assert_eq!(
        (summary.calls, summary.errors, summary.run_index),
        (12, 0, 0)
    );
    let csv_path = ws.file("functions/hello_world/experiments/hello_experiment/results.csv");
    assert_eq!(summary.results_csv, csv_path.canonicalize().unwrap());

    let (header, rows) = read_csv(&csv_path);
    let client = [
        "function",
        "platform",
        "experiment",
        "threadID",
        "runID",
        "payload",
        "startTime",
        "endTime",
        "roundTripTime",
        "latency",
        "error",
        "tags",
    ];
    assert_eq!(header[..client.len()], client);
    for field in [
        "message",
        "uuid",
        "runtime",
        "duration",
        "coldStart",
        "environmentId",
        "response.platform",
    ] {
        assert!(
            header.iter().any(|h| h == field),
            "{field} missing from {header:?}"
        );
    }
    assert_eq!(rows.len(), 12);
    assert_eq!(
        count(&rows, "payload"),
        BTreeMap::from([(r#"{"name":"A"}"#, 6), (r#"{"name":"B"}"#, 6)])
    );
    let pairs: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r["threadID"].clone(), r["runID"].clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = (0..3)
        .flat_map(|t| (0..4).map(move |r| (t.to_string(), r.to_string())))
        .collect();
    assert_eq!(pairs, expected);
    for row in &rows {
        assert_eq!(row["error"], "", "{row:?}");
        assert_eq!(row["function"], "hello_world");
        assert_eq!(row["platform"], "local");
        assert_eq!(row["response.platform"], "Local", "SAAF's platform is kept");
        assert_eq!(row["experiment"], "hello_experiment");
        assert_eq!(row["tags"], r#"{"memory":512}"#);
        let name = serde_json::from_str::<Value>(&row["payload"]).unwrap()["name"].clone();
        assert_eq!(row["message"], format!("Hello {}!", name.as_str().unwrap()));
        let num = |c: &str| {
            row[c]
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{c}: {row:?}"))
        };
        assert!((num("roundTripTime") - num("runtime") - num("latency")).abs() < 1e-6);
        assert!(num("endTime") >= num("startTime"));
    }
    let seen = seen.into_inner().unwrap();
    assert_eq!(
        seen.len(),
        13,
        "one report before the calls and one per row"
    );
    assert!(seen.windows(2).all(|w| w[1].done == w[0].done + 1));
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.total, last.errors), (12, 12, 0));

    // The same name again, shuffled: appended under the same header, a second run recorded.
    spec.shuffle_payloads = true;
    let before = spec.clone();
    let again = runtime()
        .block_on(experiment(&workspace, &spec, &|_| {}))
        .unwrap();
    assert_eq!(spec, before, "the caller's spec and payloads are untouched");
    assert_eq!((again.calls, again.run_index), (12, 1));
    let (header2, rows) = read_csv(&csv_path);
    assert_eq!(header2, header);
    assert_eq!(rows.len(), 24);
    assert_eq!(
        count(&rows, "payload"),
        BTreeMap::from([(r#"{"name":"A"}"#, 12), (r#"{"name":"B"}"#, 12)])
    );
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(
            ws.file("functions/hello_world/experiments/hello_experiment/experiment.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let runs = record["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.file("functions/hello_world/FAASET.json")).unwrap(),
    )
    .unwrap();
    for (run, shuffled) in runs.iter().zip([false, true]) {
        assert_eq!(run["platform"], "local");
        assert_eq!(run["parameters"]["threads"], 3);
        assert_eq!(run["parameters"]["runs_per_thread"], 4);
        assert_eq!(run["parameters"]["seed"], 42);
        assert_eq!(run["parameters"]["shuffle_payloads"], shuffled);
        assert_eq!(run["config"], state["deployed"]["local"]["config"]);
        assert_eq!(
            run["sourceHash"],
            state["deployed"]["local"]["hashes"]["source"]
        );
        assert!(run["end"].as_u64().unwrap() >= run["start"].as_u64().unwrap());
        assert_eq!(
            (run["calls"].as_u64(), run["errors"].as_u64()),
            (Some(12), Some(0))
        );
    }
}

#[test]
fn failed_calls_are_error_rows_and_a_restarted_engine_loses_no_call() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function(
        "panicky",
        "fn panicky(request: Value, _context: Context) -> Value {\n    if let Some(ms) = request[\"ms\"].as_u64() { std::thread::sleep(std::time::Duration::from_millis(ms)); }\n    if request[\"panic\"] == true { panic!(\"boom at {}\", 42); }\n    json!({\"ok\": true})\n}\n",
    );
    ws.faaset(&["deploy", "panicky"]).ok();
    let workspace = Workspace::open(ws.path()).unwrap();
    let rt = runtime();

    let failing = spec("panicky", "panics", 2, 3, json!([{"panic": true}, {}]));
    let summary = rt
        .block_on(experiment(&workspace, &failing, &|_| {}))
        .unwrap();
    assert_eq!((summary.calls, summary.errors), (6, 3));
    let (header, rows) = read_csv(&ws.file("functions/panicky/experiments/panics/results.csv"));
    assert!(
        header.iter().any(|h| h == "errorType") && header.iter().any(|h| h == "ok"),
        "{header:?}"
    );
    assert_eq!(rows.len(), 6);
    for row in &rows {
        if row["payload"] == r#"{"panic":true}"# {
            assert!(row["error"].contains("boom at 42"), "{row:?}");
            assert_eq!(row["ok"], "");
        } else {
            assert_eq!(
                (row["error"].as_str(), row["ok"].as_str()),
                ("", "true"),
                "{row:?}"
            );
        }
    }

    // The engine is stopped mid-experiment: the calls in flight finish with their answers,
    // and the rest go to the workspace's next engine (started on demand), none lost.
    let slow = spec("panicky", "engine_gone", 2, 5, json!([{"ms": 300}]));
    let first_engine = std::fs::read_to_string(ws.file(".faaset/local/engine.json")).unwrap();
    let summary = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(450));
            ws.faaset(&["local", "stop"]).ok();
        });
        rt.block_on(experiment(&workspace, &slow, &|_| {})).unwrap()
    });
    let (_, rows) = read_csv(&ws.file("functions/panicky/experiments/engine_gone/results.csv"));
    assert_eq!(rows.len(), 10, "no call is missing");
    let failed: Vec<_> = rows.iter().filter(|r| !r["error"].is_empty()).collect();
    assert_eq!(summary.errors, 0, "{failed:?}");
    let next_engine = std::fs::read_to_string(ws.file(".faaset/local/engine.json")).unwrap();
    assert_ne!(first_engine, next_engine, "a new engine took over");
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    let workspace = Workspace::open(ws.path()).unwrap();
    let before = ws.snapshot();
    let ok = || spec("hello_world", "fine", 1, 1, json!([{}]));
    let cases: Vec<(ExperimentSpec, &str)> = vec![
        (
            ExperimentSpec { threads: 0, ..ok() },
            "threads must be at least 1",
        ),
        (
            ExperimentSpec {
                runs_per_thread: 0,
                ..ok()
            },
            "runs_per_thread must be at least 1",
        ),
        (
            ExperimentSpec {
                payloads: vec![],
                ..ok()
            },
            "the payload list is empty",
        ),
        (
            ExperimentSpec {
                experiment_name: "../up".into(),
                ..ok()
            },
            "invalid experiment name \"../up\"",
        ),
        (
            // D14: 100,000 workers would fork-bomb the machine on the local platform.
            ExperimentSpec {
                threads: 100_000,
                ..ok()
            },
            "threads is too large (100000); at most 10000",
        ),
        (
            ExperimentSpec {
                experiment_name: "".into(),
                ..ok()
            },
            "invalid experiment name \"\"",
        ),
        (
            ExperimentSpec {
                experiment_name: "a b".into(),
                ..ok()
            },
            "invalid experiment name",
        ),
        (
            ExperimentSpec {
                function: "nothing_here".into(),
                ..ok()
            },
            "unknown function \"nothing_here\"",
        ),
        (
            ExperimentSpec {
                function: "Bad".into(),
                ..ok()
            },
            "invalid function name \"Bad\"",
        ),
        (
            ExperimentSpec {
                platform: Some("mars".into()),
                ..ok()
            },
            "unknown platform \"mars\"",
        ),
        (
            ok(),
            "hello_world is not deployed on local: run `faaset deploy hello_world",
        ),
    ];
    let rt = runtime();
    for (spec, expected) in cases {
        let error = rt
            .block_on(experiment(&workspace, &spec, &|_| {}))
            .unwrap_err();
        assert!(error.is_user_error(), "{error}");
        let message = error.to_string();
        assert!(
            message.contains(expected),
            "expected {expected:?} in {message:?}"
        );
        assert!(!message.contains('\n'), "one line: {message:?}");
        assert!(!ws.file("functions/hello_world/experiments").exists());
        assert!(ws.snapshot() == before, "{spec:?} wrote to the workspace");
    }
}

#[test]
fn two_hundred_threads_make_a_thousand_rows() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function(
        "noop",
        "fn noop(_request: Value, _context: Context) -> Value {\n    json!({})\n}\n",
    );
    ws.faaset(&["deploy", "noop"]).ok();
    let workspace = Workspace::open(ws.path()).unwrap();
    let spec = spec("noop", "burst", 200, 5, json!([{}]));
    let started = std::time::Instant::now();
    let summary = runtime()
        .block_on(experiment(&workspace, &spec, &|_| {}))
        .unwrap();
    eprintln!("200 threads × 5 runs: {:?}", started.elapsed());
    assert_eq!((summary.calls, summary.errors), (1000, 0));
    let (_, rows) = read_csv(&ws.file("functions/noop/experiments/burst/results.csv"));
    assert_eq!(rows.len(), 1000);
    let pairs: BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r["threadID"].as_str(), r["runID"].as_str()))
        .collect();
    assert_eq!(pairs.len(), 1000);
    assert!(rows.iter().all(|r| r["error"].is_empty()));
}

/// D7: a reconfigure or a changing deploy while an experiment runs is refused with a message
/// naming the experiment, so every row of the run has the settings its record says; calling
/// the unchanged function is not blocked, and the change goes through once the run ends.
#[test]
fn a_change_during_a_run_is_refused_and_every_row_has_the_recorded_memory() {
    let ws = TempWorkspace::with_functions(&["sleeper"]);
    ws.faaset(&["deploy", "sleeper", "--config", r#"{"memory": 256}"#])
        .ok();
    let workspace = Workspace::open(ws.path()).unwrap();
    let rt = runtime();
    // 8 calls of 400 ms per thread: ~3 s left after the first row for the three commands
    // below, with room for a loaded host.
    let slow = spec("sleeper", "steady", 2, 8, json!([{"ms": 400}]));
    let csv = ws.file("functions/sleeper/experiments/steady/results.csv");
    let summary = std::thread::scope(|scope| {
        let changes = scope.spawn(|| {
            // Once rows arrive the run holds its lock: no fixed sleep.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while std::fs::read_to_string(&csv).map_or(0, |t| t.lines().count()) < 2 {
                assert!(std::time::Instant::now() < deadline, "no row in 120 s");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let refused = ws
                .faaset(&["reconfigure", "sleeper", r#"{"memory": 1024}"#])
                .user_error("sleeper has a running experiment (steady (pid ");
            let deploy = ws.faaset(&["deploy", "sleeper", "--config", r#"{"memory": 512}"#]);
            let deploy = deploy.user_error("wait for it to end (or stop it)");
            // An invoke of the unchanged function is served meanwhile.
            let invoked = ws
                .faaset(&["invoke", "sleeper", r#"{"ms": 1}"#])
                .ok()
                .json();
            (refused.stderr(), deploy.stderr(), invoked)
        });
        let summary = rt.block_on(experiment(&workspace, &slow, &|_| {})).unwrap();
        (summary, changes.join().unwrap())
    });
    let (summary, (_, _, invoked)) = summary;
    assert_eq!(invoked["memorySize"], 256);
    assert_eq!(summary.changed_during_run, None);
    assert_eq!((summary.calls, summary.errors), (16, 0));
    let (_, rows) = read_csv(&csv);
    assert!(rows.iter().all(|r| r["memorySize"] == "256"), "{rows:?}");
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.file("functions/sleeper/experiments/steady/experiment.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["runs"][0]["config"]["memory"], 256, "{record}");
    assert!(record["runs"][0].get("changedDuringRun").is_none());
    // After the run the change goes through.
    ws.faaset(&["reconfigure", "sleeper", r#"{"memory": 1024}"#])
        .ok();
}

/// A change made around the lock (another tool rewrote FAASET.json's deployment) is still
/// detected, recorded and said.
#[test]
fn a_change_around_the_lock_is_recorded() {
    let ws = TempWorkspace::with_functions(&["sleeper"]);
    ws.faaset(&["deploy", "sleeper"]).ok();
    let workspace = Workspace::open(ws.path()).unwrap();
    let rt = runtime();
    let state_file = ws.file("functions/sleeper/FAASET.json");
    let slow = spec("sleeper", "drift", 2, 5, json!([{"ms": 200}]));
    let summary = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let mut state: Value =
                serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
            state["deployed"]["local"]["config"]["memory"] = json!(1024);
            state["deployed"]["local"]["at"] = json!(u64::MAX / 2);
            std::fs::write(&state_file, state.to_string()).unwrap();
        });
        rt.block_on(experiment(&workspace, &slow, &|_| {})).unwrap()
    });
    let warning = summary.changed_during_run.expect("the change is reported");
    assert!(
        warning.contains("reconfigured on local while experiment drift ran"),
        "{warning}"
    );
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.file("functions/sleeper/experiments/drift/experiment.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        record["runs"][0]["changedDuringRun"]["config"]["memory"],
        1024
    );
}
