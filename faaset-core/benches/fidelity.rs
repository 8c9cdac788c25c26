//! Fidelity of the local platform's CPU model (issue "Lambda's resource model"): on AWS Lambda
//! CPU is allocated in proportion to memory (1,769 MB = one vCPU), so a CPU-bound call at
//! `m` MB should take about 1769/m times as long as at 1,769 MB (for m ≤ 1,769; above, only
//! while the host has the CPUs). This runs the tutorial's `calc_service` at 128, 256, 512,
//! 1024, 1769 and 3538 MB on the local platform and prints measured vs expected ratios.
//!
//! Run: `cargo bench -p faaset-core --bench fidelity` (or `bench/fidelity.sh`, which writes
//! `bench/results-fidelity.md`). `FAASET_FIDELITY_CALLS` sets calls per memory size (default 7).

use std::path::Path;
use std::process::Command;

use faaset::deploy;
use faaset::invoke::Invoker;
use faaset::progress::Quiet;
use faaset::Workspace;
use serde_json::{json, Value};

const MEMORY: &[u32] = &[128, 256, 512, 1024, 1769, 3538];
const TOLERANCE: f64 = 0.25;

fn main() {
    let faaset_bin = std::env::var_os("FAASET_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_faaset").into());
    // The library starts the engine with `$FAASET_BIN`; set before any thread exists.
    std::env::set_var("FAASET_BIN", &faaset_bin);
    let calls: usize = std::env::var("FAASET_FIDELITY_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);

    let dir = tempfile::tempdir().expect("temp dir");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/calc_service");
    let function = dir.path().join("functions/calc_service");
    std::fs::create_dir_all(function.join("src")).unwrap();
    for file in ["FAASET.json", "src/function.rs"] {
        std::fs::copy(examples.join(file), function.join(file)).unwrap();
    }
    let deployed = Command::new(&faaset_bin)
        .args(["--workspace"])
        .arg(dir.path())
        .args(["deploy", "calc_service"])
        .status()
        .expect("run faaset");
    assert!(deployed.success(), "deploy failed");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let workspace = Workspace::open(dir.path()).unwrap();
    // About 200 ms of one CPU per call: long against the 20 ms CPU period, short in total.
    let payload = json!({"threads": 1, "calcs": 70000, "loops": 100});
    let mut medians = Vec::new();
    let mut enforced = true;
    for &memory in MEMORY {
        let config = json!({ "memory": memory }).as_object().unwrap().clone();
        runtime
            .block_on(deploy::reconfigure(
                &workspace,
                "calc_service",
                None,
                config,
                &Quiet,
            ))
            .expect("reconfigure");
        let invoker = runtime
            .block_on(Invoker::new(&workspace, "calc_service", None))
            .unwrap();
        let mut runtimes = Vec::new();
        // The first call is a cold start: not measured.
        for i in 0..=calls {
            let call = runtime.block_on(invoker.call(&payload)).unwrap();
            assert!(call.error.is_none(), "{:?}", call.response);
            enforced &= call.response["limitsEnforced"] == Value::Bool(true);
            if i > 0 {
                runtimes.push(call.response["runtime"].as_f64().unwrap());
            }
        }
        runtimes.sort_by(f64::total_cmp);
        medians.push(runtimes[runtimes.len() / 2]);
    }
    let _ = Command::new(&faaset_bin)
        .args(["--workspace"])
        .arg(dir.path())
        .args(["local", "stop"])
        .status();

    let host = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let base = medians[MEMORY.iter().position(|&m| m == 1769).unwrap()];
    println!("# Local platform fidelity: CPU share in proportion to memory\n");
    println!(
        "- machine: {} CPUs, {}; limits enforced: {enforced}; {calls} calls per size (median), \
         calc_service {payload}\n",
        host as usize,
        cpu_model()
    );
    println!(
        "| memory MB | median runtime ms | runtime / runtime at 1769 | expected | within ±25% |"
    );
    println!("|--:|--:|--:|--:|:-:|");
    let mut all_within = true;
    for (&memory, &median) in MEMORY.iter().zip(&medians) {
        // Expected: the CPU share relative to 1769 MB's one CPU, capped at the host's CPUs;
        // a single-threaded call cannot use more than one CPU, so the ratio stops at 1.
        let cpus = (f64::from(memory) / 1769.0).min(6.0).min(host);
        let expected = 1.0 / cpus.min(1.0);
        let ratio = median / base;
        let within = (ratio / expected - 1.0).abs() <= TOLERANCE;
        all_within &= within;
        println!(
            "| {memory} | {median:.1} | {ratio:.2} | {expected:.2} | {} |",
            if within { "yes" } else { "**no**" }
        );
    }
    println!(
        "\n{}",
        if all_within {
            "All sizes track Lambda's CPU model within ±25%."
        } else {
            "Some sizes are outside ±25% (see the table)."
        }
    );
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
