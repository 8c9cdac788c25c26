//! Cold-start studies: `cold=true` makes every call of an experiment a cold start on the
//! local platform (a fresh environment per call, ended after it), a platform that cannot is
//! refused before anything is written, and `stats` reports cold and warm calls apart.

use std::collections::BTreeSet;

use faaset::experiment::{experiment, ExperimentSpec};
use faaset::Workspace;

use crate::support::TempWorkspace;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn cold_true_makes_every_call_a_cold_start_and_stats_split_cold_and_warm() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["deploy", "hello_world"]).ok();
    let workspace = Workspace::open(ws.path()).unwrap();
    let rt = runtime();
    // A warm run first: its idle environments must not be reused by the cold run.
    let mut warm = ExperimentSpec::new("hello_world", "starts");
    warm.threads = 2;
    warm.runs_per_thread = 15;
    let summary = rt.block_on(experiment(&workspace, &warm, &|_| {})).unwrap();
    assert_eq!(
        summary.cold_starts,
        Some(2),
        "two workers, two environments"
    );

    let mut cold = ExperimentSpec::new("hello_world", "starts");
    cold.threads = 2;
    cold.runs_per_thread = 5;
    cold.cold = true;
    let summary = rt.block_on(experiment(&workspace, &cold, &|_| {})).unwrap();
    assert_eq!(
        (summary.calls, summary.errors, summary.cold_starts),
        (10, 0, Some(10))
    );
    assert!(faaset::report::experiment(&summary)
        .to_text()
        .contains("cold=true"));
    let results = faaset::results::load(&workspace, "hello_world", "starts").unwrap();
    let cold_rows: Vec<usize> = (30..40).collect();
    let environments: BTreeSet<&str> = cold_rows
        .iter()
        .map(|&r| results.cell(r, "environmentId").unwrap())
        .collect();
    assert_eq!(environments.len(), 10, "a fresh environment per call");
    for &r in &cold_rows {
        assert_eq!(results.cell(r, "coldStart"), Some("true"));
        assert_eq!(results.cell(r, "newcontainer"), Some("1"));
        assert!(results.number(r, "initDuration").is_some_and(|d| d > 0.0));
    }
    // Used once, then ended: no environment of the cold run is left.
    let status = ws.faaset(&["local", "status"]).ok().stdout();
    for env in &environments {
        assert!(!status.contains(env), "{env} still runs: {status}");
    }
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary.experiment_json).unwrap()).unwrap();
    assert_eq!(record["runs"][1]["parameters"]["cold"], true);

    // Both kinds in one experiment: stats shows all, cold and warm apart.
    let out = ws
        .faaset(&[
            "stats",
            "hello_world",
            "starts",
            "--metric",
            "roundTripTime",
        ])
        .ok()
        .stdout();
    assert!(out.contains("cold and warm calls apart"), "{out}");
    let line = |start: &str| -> Vec<String> {
        out.lines()
            .find(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some(start)
                    && words.next().is_some_and(|w| w.parse::<u32>().is_ok())
            })
            .unwrap_or_else(|| panic!("no {start} row in {out}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    // calls count errors cold …: 40 successful; cold: the warm run's first call of each
    // worker and the 10 of the cold run.
    assert_eq!(line("all")[1..4], ["40", "0", "12"]);
    assert_eq!(line("cold")[1..4], ["12", "0", "12"]);
    assert_eq!(line("warm")[1..4], ["28", "0", "0"]);
    // A cold start includes starting a process: its mean round trip is the larger one
    // (cold in the low ms on this engine, warm well under a ms).
    let mean = |start: &str| line(start)[6].parse::<f64>().unwrap();
    assert!(mean("cold") > mean("warm"), "{out}");
    // The intervals and the small-sample warning name the cold calls.
    assert!(
        out.contains("95% confidence intervals: percentile bootstrap, 2000 resamples, seed 42"),
        "{out}"
    );
    assert!(
        out.contains("warning (cold): 12 calls are too few for the tail"),
        "{out}"
    );
}

#[test]
fn a_platform_that_cannot_force_cold_starts_is_refused_before_writing() {
    let ws = TempWorkspace::with_functions(&[]);
    ws.faaset(&[
        "new",
        "remote",
        "--platform",
        "http",
        "--config",
        r#"{"url": "http://127.0.0.1:9/"}"#,
    ])
    .ok();
    ws.faaset(&["deploy", "remote"]).ok();
    let before = ws.snapshot();
    ws.refuses_without_writing(
        &[(
            &["experiment", "remote", "--experiment-name", "cold", "--cold"],
            "cold=true is not available for remote on http: it cannot start a fresh execution environment per call",
        )],
        &before,
    );
    assert!(!ws.file("functions/remote/experiments").exists());
}
