//! The experiment runner's throughput, memory and scale (issue "Experiments and analysis"):
//!
//! 1. throughput: `experiment()` against a warm no-op function on the local platform, every
//!    row written to results.csv, at 8 concurrent workers — next to `wrk -c8` (when on PATH)
//!    POSTing the same request to the same engine endpoint in the same run;
//! 2. memory: the runner's peak RSS growth over 2,000 and over 20,000 calls (flat = streaming);
//! 3. scale: `threads=5000` × 1 against a loopback HTTP server answering after one second,
//!    through the `http` platform: elapsed time, rows, the process's peak RSS.
//!
//! Run: `cargo bench -p faaset-core --bench runner` (or `bench/runner.sh`, which writes
//! `bench/results-runner.md`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use faaset::experiment::{experiment, ExperimentSpec};
use faaset::Workspace;

const WORKERS: usize = 8;

fn main() {
    let faaset_bin = std::env::var_os("FAASET_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_faaset").into());
    std::env::set_var("FAASET_BIN", &faaset_bin);
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let noop = root.join("functions/noop");
    std::fs::create_dir_all(noop.join("src")).unwrap();
    std::fs::write(
        noop.join("FAASET.json"),
        r#"{"name": "noop", "platform": "local"}"#,
    )
    .unwrap();
    std::fs::write(
        noop.join("src/function.rs"),
        "fn noop(_request: Value, _context: Context) -> Value {\n    json!({})\n}\n",
    )
    .unwrap();
    let faaset = |args: &[&str]| {
        let status = Command::new(&faaset_bin)
            .arg("--workspace")
            .arg(root)
            .args(args)
            .status()
            .expect("run faaset");
        assert!(status.success(), "faaset {args:?} failed");
    };
    faaset(&["deploy", "noop", "--config", r#"{"memory": 3538}"#]);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let workspace = Workspace::open(root).unwrap();
    let run = |name: &str, threads: usize, runs: usize| {
        let mut spec = ExperimentSpec::new("noop", name);
        spec.threads = threads;
        spec.runs_per_thread = runs;
        let started = Instant::now();
        let summary = runtime
            .block_on(experiment(&workspace, &spec, &|_| {}))
            .expect("experiment");
        assert_eq!(summary.errors, 0);
        (summary.calls, started.elapsed())
    };
    // Warm up the environments (cold starts are not the point here).
    run("warmup", WORKERS, 50);
    let rss_before = peak_rss_mb();
    let (small, small_time) = run("small", WORKERS, 2_000 / WORKERS);
    let rss_small = peak_rss_mb();
    let (calls, elapsed) = run("throughput", WORKERS, 20_000 / WORKERS);
    let rss_large = peak_rss_mb();
    let rate = calls as f64 / elapsed.as_secs_f64();
    let wrk_rate = wrk_rate(root);

    // Scale through the http platform.
    let url = runtime.block_on(serve_slow());
    faaset(&[
        "new",
        "slow",
        "--platform",
        "http",
        "--config",
        &format!(r#"{{"url": "{url}"}}"#),
    ]);
    faaset(&["deploy", "slow"]);
    let mut spec = ExperimentSpec::new("slow", "scale");
    spec.threads = 5000;
    let started = Instant::now();
    let summary = runtime
        .block_on(experiment(&workspace, &spec, &|_| {}))
        .expect("scale experiment");
    let scale_time = started.elapsed();
    let rss_scale = peak_rss_mb();
    faaset(&["local", "stop"]);

    println!("# Experiment runner benchmark\n");
    println!("- machine: {} CPUs; {WORKERS} concurrent workers; no-op function at 3538 MB (no CPU throttling on 2 cores)\n", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    println!("| figure | value | target |");
    println!("|---|--:|---|");
    println!(
        "| runner throughput, {calls} calls, every row written | {rate:.0} calls/s | ≥ 2,500 calls/s: {} |",
        verdict(rate >= 2500.0)
    );
    match wrk_rate {
        Some(w) => println!(
            "| `wrk -t2 -c{WORKERS}` on the same engine endpoint | {w:.0} req/s | runner ≥ 80% of it: {} ({:.0}%) |",
            verdict(rate >= 0.8 * w),
            100.0 * rate / w
        ),
        None => println!("| `wrk` | not on PATH (apt-get install wrk) | |"),
    }
    println!(
        "| runner peak RSS growth: {small} calls ({:.1} s) / {calls} calls | {:.1} MB / {:.1} MB | flat |",
        small_time.as_secs_f64(),
        rss_small - rss_before,
        rss_large - rss_before
    );
    println!(
        "| threads=5000 × 1 against a 1 s HTTP server | {} rows, {} errors, {:.1} s | a few seconds |",
        summary.calls,
        summary.errors,
        scale_time.as_secs_f64()
    );
    println!(
        "| peak RSS of the whole bench process after the 5000-thread run | {rss_scale:.0} MB | < 300 MB |"
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

/// This process's peak resident memory (VmHWM), MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// `wrk` at the same concurrency against the engine's invoke URL for `noop`.
fn wrk_rate(root: &Path) -> Option<f64> {
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join(".faaset/local/engine.json")).ok()?,
    )
    .ok()?;
    let script = root.join("wrk.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = \"{{}}\"\nwrk.headers[\"authorization\"] = \"Bearer {}\"\n",
            info["token"].as_str()?
        ),
    )
    .ok()?;
    let output = Command::new("wrk")
        .args(["-t2", &format!("-c{WORKERS}"), "-d5s", "-s"])
        .arg(&script)
        .arg(format!(
            "http://{}/2015-03-31/functions/noop/invocations",
            info["address"].as_str()?
        ))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A loopback HTTP function answering after one second, with a backlog for 5,000 clients.
async fn serve_slow() -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/slow",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            "{\"ok\": true}"
        }),
    );
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(8192).unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/slow")
}
