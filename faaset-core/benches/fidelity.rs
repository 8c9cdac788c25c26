//! Fidelity of the local platform's CPU model: on AWS Lambda CPU is allocated in proportion to
//! memory (1,769 MB = one vCPU), so a CPU-bound call at `m` MB should take about 1769/m times
//! as long as at 1,769 MB (for m ≤ 1,769; above, only a multi-threaded call gains, while the
//! host has the CPUs). Three parts, all on the local platform:
//!
//! 1. `calc_service` single-threaded, a short call (twice the tutorial's payload: about 4 ms at
//!    1,769 MB) and a long one (about 1 s), at 128 … 1,769 MB: median runtime relative to
//!    1,769 MB against 1769/m (±15%). A call of one or two quanta (the tutorial's own payload,
//!    2 ms here, is 1.5 quanta at 128 MB) meets one stall or two, about as often: its times
//!    come in two groups, on Lambda too, and their mean, not their median, is 1769/m; from
//!    about three quanta on the median follows as well.
//! 2. A throttling timeline: a function that spins for a fixed CPU time and records the gaps
//!    in its own progress (stalls over 1 ms): throttled fraction of wall time and stall lengths
//!    per size, against Lambda's fractions measured by pwrdrvr's `lambda-throttling` (2025).
//! 3. `calc_service` with two threads at 1,769 and 3,538 MB (two CPUs' worth).
//!
//! Run: `cargo bench -p faaset-core --bench fidelity` (or `bench/fidelity.sh`, which writes
//! `bench/results-fidelity.md`). `FAASET_FIDELITY_CALLS` scales the number of calls.

use std::path::Path;
use std::process::Command;

use faaset::deploy;
use faaset::invoke::Invoker;
use faaset::progress::Quiet;
use faaset::Workspace;
use serde_json::{json, Value};

const MEMORY: &[u32] = &[128, 256, 512, 1024, 1769];
const TOLERANCE: f64 = 0.15;
/// Lambda's throttled fraction of wall time for a spin loop (pwrdrvr/lambda-throttling).
const LAMBDA_THROTTLED: &[(u32, f64)] = &[
    (128, 92.8),
    (256, 86.9),
    (512, 71.1),
    (1024, 42.1),
    (1769, 3.2),
];

/// The throttling probe, shared with the CPU test.
const SPIN_TIMELINE: &str = include_str!("../tests/functions/spin_timeline.rs");

struct Bench {
    runtime: tokio::runtime::Runtime,
    workspace: Workspace,
    scale: f64,
}

impl Bench {
    fn calls(&self, n: usize) -> usize {
        ((n as f64 * self.scale).round() as usize).max(1)
    }

    /// Sets `function`'s memory and returns the answers of `calls` warm calls (a first, cold
    /// call is not counted).
    fn run(&self, function: &str, memory: u32, payload: &Value, calls: usize) -> Vec<Value> {
        // The long call takes about 14 s at 128 MB: more than the default 3 s timeout.
        let config = json!({ "memory": memory, "timeout": 120 })
            .as_object()
            .unwrap()
            .clone();
        self.runtime
            .block_on(deploy::reconfigure(
                &self.workspace,
                function,
                None,
                config,
                &Quiet,
            ))
            .expect("reconfigure");
        let invoker = self
            .runtime
            .block_on(Invoker::new(&self.workspace, function, None))
            .unwrap();
        (0..=calls)
            .map(|_| {
                let call = self.runtime.block_on(invoker.call(payload)).unwrap();
                assert!(call.error.is_none(), "{:?}", call.response);
                assert_eq!(
                    call.response["limitsEnforced"],
                    Value::Bool(true),
                    "this benchmark needs the local platform's limits (run as root)"
                );
                Value::Object(call.response)
            })
            .skip(1)
            .collect()
    }

    fn median_runtime(&self, memory: u32, payload: &Value, calls: usize) -> f64 {
        let runtimes: Vec<f64> = self
            .run("calc_service", memory, payload, calls)
            .iter()
            .map(|r| r["runtime"].as_f64().unwrap())
            .collect();
        median(runtimes)
    }
}

fn main() {
    let faaset_bin = std::env::var_os("FAASET_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_faaset").into());
    // The library starts the engine with `$FAASET_BIN`; set before any thread exists.
    std::env::set_var("FAASET_BIN", &faaset_bin);
    let scale: f64 = std::env::var("FAASET_FIDELITY_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);

    let dir = tempfile::tempdir().expect("temp dir");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/calc_service");
    let function = dir.path().join("functions/calc_service");
    std::fs::create_dir_all(function.join("src")).unwrap();
    for file in ["FAASET.json", "src/function.rs"] {
        std::fs::copy(examples.join(file), function.join(file)).unwrap();
    }
    let spin = dir.path().join("functions/spin_timeline");
    std::fs::create_dir_all(spin.join("src")).unwrap();
    std::fs::write(spin.join("src/function.rs"), SPIN_TIMELINE).unwrap();
    std::fs::write(
        spin.join("FAASET.json"),
        r#"{"name": "spin_timeline", "platform": "local"}"#,
    )
    .unwrap();
    for name in ["calc_service", "spin_timeline"] {
        let deployed = Command::new(&faaset_bin)
            .arg("--workspace")
            .arg(dir.path())
            .args(["deploy", name])
            .status()
            .expect("run faaset");
        assert!(deployed.success(), "deploy of {name} failed");
    }
    let bench = Bench {
        runtime: tokio::runtime::Runtime::new().unwrap(),
        workspace: Workspace::open(dir.path()).unwrap(),
        scale,
    };

    // The tutorial's payload (a few ms at 1,769 MB) and one of about 1 s.
    let short = json!({"threads": 1, "calcs": 40000, "loops": 10});
    let long = json!({"threads": 1, "calcs": 70000, "loops": 1200});
    let workloads = [
        ("short", short, bench.calls(21)),
        ("long", long, bench.calls(3)),
    ];
    let mut table = Vec::new();
    for (label, payload, calls) in &workloads {
        let medians: Vec<f64> = MEMORY
            .iter()
            .map(|&m| bench.median_runtime(m, payload, *calls))
            .collect();
        table.push((label, payload, calls, medians));
    }

    let spin_payload = json!({"cpu_ms": 100});
    let timelines: Vec<(u32, f64, Vec<f64>)> = MEMORY
        .iter()
        .map(|&memory| {
            let answers = bench.run("spin_timeline", memory, &spin_payload, bench.calls(3));
            let wall: f64 = answers.iter().map(|a| a["wall"].as_f64().unwrap()).sum();
            let stalls: Vec<f64> = answers
                .iter()
                .flat_map(|a| a["stalls"].as_array().unwrap().clone())
                .map(|s| s.as_f64().unwrap())
                .collect();
            // (+ 0.0: an empty f64 sum is -0.0.)
            let throttled = 100.0 * stalls.iter().sum::<f64>() / wall + 0.0;
            (memory, throttled, stalls)
        })
        .collect();

    let two_threads = json!({"threads": 2, "calcs": 70000, "loops": 300});
    let at_1769 = bench.median_runtime(1769, &two_threads, bench.calls(3));
    let at_3538 = bench.median_runtime(3538, &two_threads, bench.calls(3));

    let _ = Command::new(&faaset_bin)
        .arg("--workspace")
        .arg(dir.path())
        .args(["local", "stop"])
        .status();

    let host = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let base = MEMORY.iter().position(|&m| m == 1769).unwrap();
    println!("# Local platform fidelity: CPU share in proportion to memory\n");
    println!("- machine: {host} CPUs, {}\n", cpu_model());
    println!("## 1. Runtime relative to 1,769 MB (`calc_service`, one thread)\n");
    let mut all_within = true;
    for (label, payload, calls, medians) in &table {
        println!("{label} call, {payload}, median of {calls} warm calls per size:\n");
        println!("| memory MB | median runtime ms | ÷ runtime at 1769 | Lambda: 1769 / m | within ±15% |");
        println!("|--:|--:|--:|--:|:-:|");
        for (&memory, &median) in MEMORY.iter().zip(medians.iter()) {
            let expected = 1769.0 / f64::from(memory);
            let ratio = median / medians[base];
            let within = (ratio / expected - 1.0).abs() <= TOLERANCE;
            all_within &= within;
            println!(
                "| {memory} | {median:.2} | {ratio:.2} | {expected:.2} | {} |",
                if within { "yes" } else { "**no**" }
            );
        }
        println!();
    }
    println!(
        "{}\n",
        if all_within {
            "Every size tracks Lambda's CPU model within ±15%, for short and long calls."
        } else {
            "Some sizes are outside ±15% (see the tables)."
        }
    );

    println!("## 2. Throttling seen from inside the function (spin for 100 ms of CPU)\n");
    println!("| memory MB | throttled % of wall | Lambda % | within ±5 points | stalls | median stall ms | p10–p90 ms |");
    println!("|--:|--:|--:|:-:|--:|--:|--:|");
    for (memory, throttled, stalls) in &timelines {
        let lambda = LAMBDA_THROTTLED
            .iter()
            .find(|(m, _)| m == memory)
            .map(|(_, f)| *f)
            .unwrap();
        let mut sorted = stalls.clone();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        println!(
            "| {memory} | {throttled:.1} | {lambda:.1} | {} | {} | {:.1} | {:.1}–{:.1} |",
            if (throttled - lambda).abs() <= 5.0 {
                "yes"
            } else {
                "**no**"
            },
            stalls.len(),
            at(0.5),
            at(0.1),
            at(0.9)
        );
    }
    println!("\nLambda at 128 MB: stalls in multiples of about 20 ms.\n");

    println!("## 3. Two threads (`calc_service` {two_threads})\n");
    println!("| memory MB | median runtime ms |\n|--:|--:|");
    println!("| 1769 | {at_1769:.1} |\n| 3538 | {at_3538:.1} |\n");
    println!(
        "3,538 MB is {:.2}× as fast as 1,769 MB (Lambda: 2× with two vCPUs; goal ≥ 1.6×).",
        at_1769 / at_3538
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
