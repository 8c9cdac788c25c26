//! `faaset load`, `stats`, `ttest` and `plot`: tutorial Activity 2 end to end (calc_service
//! and page_rank, 30 threads × 1 run each into `t_test_demo`, then statistics, a t-test and
//! charts), exact numbers and layout on a hand-written results file, and one-line errors that
//! write nothing.

use faaset::experiment::{experiment, ExperimentSpec};
use faaset::Workspace;
use serde_json::{json, Value};

use crate::support::{Run, TempWorkspace};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn run_experiment(ws: &TempWorkspace, function: &str, name: &str, threads: usize, payload: Value) {
    let workspace = Workspace::open(ws.path()).unwrap();
    let spec = ExperimentSpec {
        threads,
        runs_per_thread: 1,
        payloads: vec![payload],
        ..ExperimentSpec::new(function, name)
    };
    let summary = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(experiment(&workspace, &spec, &|_| {}))
        .unwrap();
    assert_eq!((summary.calls, summary.errors), (threads, 0));
}

/// The `runtime` column of a results file, read with the csv crate rather than faaset's reader.
fn runtimes_in(path: &std::path::Path) -> Vec<f64> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "runtime")
        .expect("a runtime column");
    reader
        .records()
        .map(|r| r.unwrap()[column].parse().unwrap())
        .collect()
}

/// A `stats` table's header and rows about all calls of each group: when the calls were
/// both cold and warm (30 concurrent first calls usually are all cold, but a loaded host can
/// let one reuse an environment), the `calls` column and the cold and warm rows are left out.
fn all_calls_table(stdout: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header: Vec<String> = stdout
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == "count"))
        .unwrap_or_else(|| panic!("no table in {stdout}"))
        .split_whitespace()
        .map(String::from)
        .collect();
    let mut rows = table_rows(stdout);
    if let Some(calls) = header.iter().position(|h| h == "calls") {
        header.remove(calls);
        rows.retain(|r| r[calls] == "all");
        for row in &mut rows {
            row.remove(calls);
        }
    }
    (header, rows)
}

/// The data lines of a table (after its header), split on runs of spaces; the table ends at
/// the first line of prose after it.
fn table_rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .skip_while(|l| {
            !l.split_whitespace()
                .any(|w| w == "count" || w == "threadID")
        })
        .skip(1)
        .take_while(|l| {
            !l.is_empty()
                && !["showing", "95% confidence", "calls needed", "warning"]
                    .iter()
                    .any(|prose| l.starts_with(prose))
        })
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// The columns `load` shows first (DESIGN's client and platform names, spelled here again
/// on purpose: a change to report.rs's list must fail this test).
const LOAD_COLUMNS: [&str; 8] = [
    "threadID",
    "runID",
    "roundTripTime",
    "runtime",
    "latency",
    "coldStart",
    "memorySize",
    "error",
];
#[test]
fn activity_two_stats_ttest_and_plots_of_two_functions() {
    let ws = TempWorkspace::with_functions(&["calc_service", "page_rank"]);
    ws.faaset(&["deploy", "calc_service"]).ok();
    ws.faaset(&["deploy", "page_rank"]).ok();
    run_experiment(
        &ws,
        "calc_service",
        "t_test_demo",
        30,
        json!({"calcs": 20000, "loops": 20}),
    );
    run_experiment(&ws, "page_rank", "t_test_demo", 30, json!({"size": 1000}));
    let dir = "functions/calc_service/experiments/t_test_demo";

    // load: a table of 30 calls, the column count, the counts; --csv is the file itself.
    let out = ws
        .faaset(&["load", "calc_service", "t_test_demo"])
        .ok()
        .stdout();
    let header = out.lines().next().unwrap();
    for column in LOAD_COLUMNS {
        assert!(header.contains(column), "{column} missing: {out}");
    }
    assert_eq!(table_rows(&out).len(), 30, "{out}");
    assert!(out.contains("showing 8 of "), "{out}");
    assert!(out.contains("30 rows, 0 errors, "), "{out}");
    let csv = ws
        .faaset(&["load", "calc_service", "t_test_demo", "--csv"])
        .ok()
        .stdout();
    assert_eq!(
        csv,
        std::fs::read_to_string(ws.file(&format!("{dir}/results.csv"))).unwrap()
    );

    // stats: one row of 30 values per function whose mean is the file's. (Which function is
    // slower is not asserted: 30 concurrent cold calls on 2 cores, each governed, in two runs
    // minutes apart, are ordered by whatever else the host is doing at the time.)
    let mut samples = Vec::new();
    for function in ["calc_service", "page_rank"] {
        let out = ws.faaset(&["stats", function, "t_test_demo"]).ok().stdout();
        assert!(
            out.contains("runtime (ms) of successful calls only"),
            "{out}"
        );
        let (header, rows) = all_calls_table(&out);
        assert_eq!(
            header,
            [
                "count", "errors", "cold", "min", "max", "mean", "median", "sd", "cv", "p90",
                "p95", "p99"
            ]
        );
        assert_eq!(rows.len(), 1, "{out}");
        assert_eq!(rows[0][..2], ["30", "0"], "{out}");
        let runtimes = runtimes_in(&ws.file(&format!(
            "functions/{function}/experiments/t_test_demo/results.csv"
        )));
        assert_eq!(runtimes.len(), 30);
        let mean = runtimes.iter().sum::<f64>() / 30.0;
        let shown: f64 = rows[0][5].parse().unwrap();
        assert!((shown - mean).abs() <= 0.005 + 1e-9, "mean {mean}: {out}");
        samples.push(runtimes);
    }
    let grouped = ws
        .faaset(&[
            "stats",
            "page_rank",
            "t_test_demo",
            "--group-by",
            "memorySize",
            "--metric",
            "roundTripTime",
        ])
        .ok()
        .stdout();
    let (_, rows) = all_calls_table(&grouped);
    assert_eq!(rows.len(), 1, "one memory setting: {grouped}");
    assert_eq!(rows[0][1], "30", "{grouped}");

    // ttest: Welch's test and Mann–Whitney's U of these two files, and a verdict that follows
    // from p and the sign of the difference.
    let out = ws
        .faaset(&["ttest", "calc_service/t_test_demo", "page_rank/t_test_demo"])
        .ok()
        .stdout();
    assert!(
        out.contains("Welch's t-test: mean difference a − b = "),
        "{out}"
    );
    let u: f64 = out
        .split("Mann–Whitney U = ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("no U in {out}"));
    let (a, b) = (&samples[0], &samples[1]);
    let expected_u: f64 = a
        .iter()
        .flat_map(|x| b.iter().map(move |y| (x, y)))
        .map(|(x, y)| match x.partial_cmp(y).unwrap() {
            std::cmp::Ordering::Greater => 1.0,
            std::cmp::Ordering::Equal => 0.5,
            std::cmp::Ordering::Less => 0.0,
        })
        .sum();
    assert!(
        (u - expected_u).abs() <= 0.05 + 1e-9,
        "U {expected_u}: {out}"
    );
    let last = out.lines().last().unwrap();
    let p: f64 = last
        .rsplit("p = ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .parse()
        .unwrap();
    if p < 0.05 {
        let direction = if a.iter().sum::<f64>() > b.iter().sum::<f64>() {
            "higher"
        } else {
            "lower"
        };
        assert!(
            last.starts_with(&format!("significant at 0.05: calc_service/t_test_demo has a {direction} mean runtime than page_rank/t_test_demo")),
            "{out}"
        );
    } else {
        assert!(
            last.starts_with("not significant at 0.05: no evidence that runtime differs"),
            "{out}"
        );
    }
    let paired = ws
        .faaset(&[
            "ttest",
            "calc_service/t_test_demo",
            "page_rank/t_test_demo",
            "--paired",
        ])
        .ok()
        .stdout();
    assert!(
        paired.contains("30 pairs of successful calls matched by threadID and runID (0 unmatched"),
        "{paired}"
    );
    assert!(paired.contains("paired t-test: "), "{paired}");

    // plot: PNG by extension, SVG by default in the experiment folder, every kind.
    let png = ws.file("hist.png");
    let out = ws
        .faaset(&[
            "plot",
            "calc_service",
            "t_test_demo",
            "--kind",
            "hist",
            "--output",
            "hist.png",
        ])
        .ok()
        .stdout();
    assert_eq!(out.trim(), "hist.png");
    assert!(std::fs::read(&png).unwrap().starts_with(PNG_SIGNATURE));
    let svg = |out: Run, file: &str| {
        let path = ws.file(&format!("{dir}/{file}"));
        assert_eq!(std::path::Path::new(out.stdout().trim()), path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("<svg"), "{file} is not an SVG");
        text
    };
    let hist = svg(
        ws.faaset(&["plot", "calc_service", "t_test_demo"]).ok(),
        "hist-runtime.svg",
    );
    assert!(hist.contains("calc_service/t_test_demo: runtime"));
    svg(
        ws.faaset(&[
            "plot",
            "calc_service",
            "t_test_demo",
            "--kind",
            "box",
            "--group-by",
            "memorySize",
        ])
        .ok(),
        "box-runtime.svg",
    );
    svg(
        ws.faaset(&[
            "plot",
            "calc_service",
            "t_test_demo",
            "--kind",
            "cdf",
            "--metric",
            "latency",
        ])
        .ok(),
        "cdf-latency.svg",
    );
    svg(
        ws.faaset(&["plot", "calc_service", "t_test_demo", "--kind", "timeline"])
            .ok(),
        "timeline.svg",
    );
}

/// A workspace with function `f` (not deployed) and experiments written by hand.
fn crafted() -> TempWorkspace {
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function("f", "fn f(_r: Value, _c: Context) -> Value { json!({}) }\n");
    let write = |experiment: &str, csv: &str| {
        let dir = ws.file(&format!("functions/f/experiments/{experiment}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("results.csv"), csv).unwrap();
    };
    write(
        "sweep",
        "threadID,runID,startTime,endTime,roundTripTime,latency,error,payload,runtime,coldStart,newcontainer,memorySize\n\
         0,0,1000,1012,12,2,,{},10,true,1,128\n\
         0,1,1012,1034,22,2,,{},20,false,0,128\n\
         0,2,1034,1066,32,2,,{},30,false,0,128\n\
         0,3,1066,1070,4,,\"boom, \"\"bad\"\"\nsecond line\",{},,,,128\n\
         1,0,1000,1007,7,2,,{},5,true,1,1024\n\
         1,1,1007,1014,7,2,,{},5,false,0,1024\n",
    );
    write("one", "threadID,runID,error,runtime\n0,0,,10\n");
    write("failed", "threadID,runID,error,runtime\n0,0,x,\n0,1,y,\n");
    write("empty", "");
    ws
}

#[test]
fn numbers_groups_and_layout_on_a_known_file() {
    let ws = crafted();
    let out = ws.faaset(&["load", "f", "sweep"]).ok().stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        LOAD_COLUMNS
    );
    assert_eq!(lines.len(), 1 + 6 + 3, "{out}");
    assert!(
        out.contains("types: threadID i64, runID i64, roundTripTime i64, runtime i64"),
        "{out}"
    );
    assert!(
        lines[4].ends_with("128  boom, \"bad\" second line"),
        "one line per call: {out}"
    );
    assert!(out.contains("showing 8 of 12 columns; `faaset load f sweep --csv` shows them all"));
    assert!(out.contains("6 rows, 1 errors, 2 cold starts"), "{out}");

    let out = ws.faaset(&["stats", "f", "sweep"]).ok().stdout();
    let rows = table_rows(&out);
    // 5 successful runtimes 10, 20, 30, 5, 5: mean 14, median 10; cold and warm apart:
    // cold 10, 5 (mean 7.5); warm 20, 30, 5 and the failed call (mean 18.33, median 20).
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!(
        rows[0][..8],
        ["all", "5", "1", "2", "5.00", "30.00", "14.00", "10.00"],
        "{out}"
    );
    assert_eq!(
        rows[1][..8],
        ["cold", "2", "0", "2", "5.00", "10.00", "7.50", "7.50"],
        "{out}"
    );
    assert_eq!(
        rows[2][..8],
        ["warm", "3", "1", "0", "5.00", "30.00", "18.33", "20.00"],
        "{out}"
    );
    assert!(
        out.contains("warning (all): 5 calls are too few for the tail"),
        "{out}"
    );
    let out = ws
        .faaset(&["stats", "f", "sweep", "--group-by", "memorySize"])
        .ok()
        .stdout();
    let rows = table_rows(&out);
    assert_eq!(
        out.lines()
            .nth(2)
            .unwrap()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>(),
        ["memorySize", "calls"]
    );
    assert_eq!(rows.len(), 6, "both groups hold cold and warm calls: {out}");
    assert_eq!(
        rows[0][..9],
        ["128", "all", "3", "1", "1", "10.00", "30.00", "20.00", "20.00"],
        "{out}"
    );
    assert_eq!(
        rows[3][..6],
        ["1024", "all", "2", "0", "1", "5.00"],
        "{out}"
    );
    assert_eq!(rows[3][9], "0.00", "sd of equal values: {out}");
    assert_eq!(rows[4][..4], ["1024", "cold", "1", "0"], "{out}");

    // Every experiment against itself: the same values, p = 1.
    let out = ws.faaset(&["ttest", "f/sweep", "f/sweep"]).ok().stdout();
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("not significant at 0.05"),
        "{out}"
    );
    assert!(
        out.contains("runtime (ms), successful calls only (a 5 of 6 rows, b 5 of 6 rows)"),
        "{out}"
    );
}

#[test]
fn bad_requests_are_one_line_errors_that_write_nothing() {
    let ws = crafted();
    let before = ws.snapshot();
    let cases: &[(&[&str], &str)] = &[
        (&["load", "nope", "x"], "unknown function \"nope\""),
        (&["load", "Bad", "x"], "invalid function name \"Bad\""),
        (&["stats", "f", "../x"], "invalid experiment name \"../x\""),
        (&["load", "f", "nope"], "unknown experiment \"nope\" of f (experiments: empty, failed, one, sweep)"),
        (&["plot", "f", "swep"], "unknown experiment \"swep\" of f (did you mean \"sweep\"? experiments: empty"),
        (&["stats", "f", "sweep", "--metric", "runtme"], "unknown column \"runtme\" in f/sweep (did you mean \"runtime\"? numeric columns: threadID, runID, startTime"),
        (&["stats", "f", "sweep", "--metric", "payload"], "column \"payload\" of f/sweep is not numeric (row 1 holds \"{}\")"),
        (&["stats", "f", "sweep", "--group-by", "memory"], "unknown column \"memory\" in f/sweep"),
        (&["stats", "f", "failed"], "no successful call of f/failed has a runtime value (2 rows, 2 errors)"),
        (&["stats", "f", "empty"], "f/empty has no results yet (its results.csv is empty)"),
        (&["ttest", "f/sweep", "f"], "expected FUNCTION/EXPERIMENT, e.g. calc_service/t_test_demo, got \"f\""),
        (&["ttest", "f/sweep", "f/one"], "sample b has 1 value(s) but a welch t-test needs at least 2"),
        (&["ttest", "f/sweep", "f/nope"], "unknown experiment \"nope\""),
        (&["ttest", "f/sweep", "f/one", "--paired"], "sample a has 1 value(s) but a paired t-test needs at least 2"),
        (&["plot", "f", "sweep", "--kind", "pie"], "unknown plot kind \"pie\" (kinds: hist, box, cdf, timeline)"),
        (&["plot", "f", "sweep", "--output", "x.jpg"], "the output file must end in .svg or .png"),
        (&["plot", "f", "sweep", "--group-by", "memorySize"], "--group-by applies to box and cdf plots, not hist"),
        (&["plot", "f", "sweep", "--metric", "nope"], "unknown column \"nope\""),
        (&["plot", "f", "failed"], "no successful call of f/failed has a runtime value"),
        (&["plot", "f", "sweep", "--output", "no/such/dir/x.svg"], "the folder no/such/dir does not exist"),
        (&["plot", "f", "one", "--kind", "timeline"], "f/one has no startTime column"),
    ];
    ws.refuses_without_writing(cases, &before);
}

/// Needs the `dataframe` feature (test.sh turns it on).
#[cfg(feature = "dataframe")]
#[test]
fn results_load_as_a_typed_polars_dataframe() {
    use polars::prelude::DataType;
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["deploy", "hello_world"]).ok();
    run_experiment(&ws, "hello_world", "typed", 4, json!({"name": "Ann"}));
    let workspace = Workspace::open(ws.path()).unwrap();
    let frame = faaset::results::dataframe(&workspace, "hello_world", "typed").unwrap();
    assert_eq!(frame.height(), 4);
    let dtype = |c: &str| frame.column(c).unwrap().dtype().clone();
    assert_eq!(dtype("threadID"), DataType::Int64);
    assert_eq!(dtype("roundTripTime"), DataType::Float64);
    assert_eq!(dtype("runtime"), DataType::Float64);
    assert_eq!(dtype("coldStart"), DataType::Boolean);
    assert_eq!(dtype("message"), DataType::String);
    let mean = frame
        .column("roundTripTime")
        .unwrap()
        .as_materialized_series()
        .mean()
        .unwrap();
    assert!(mean > 0.0);
    // `load`'s types line infers each column without polars: it must say what polars says.
    let results = faaset::results::load(&workspace, "hello_world", "typed").unwrap();
    for column in frame.get_column_names() {
        let ours = results.column_type(column).unwrap().to_string();
        assert_eq!(
            ours,
            frame.column(column).unwrap().dtype().to_string(),
            "{column}"
        );
    }
    let load = ws.faaset(&["load", "hello_world", "typed"]).ok().stdout();
    assert!(load.contains("types: threadID i64"), "{load}");
    assert!(
        faaset::results::dataframe(&workspace, "hello_world", "nope")
            .unwrap_err()
            .to_string()
            .contains("unknown experiment \"nope\"")
    );
}
