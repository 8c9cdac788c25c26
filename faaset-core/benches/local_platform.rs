//! Benchmark of the local platform, end to end on this machine, with baselines measured in the
//! same run: `cargo bench -p faaset-core --bench local_platform` (or `bench/run.sh`).
//!
//! It creates a temporary workspace holding a no-op function (`noop`, answering `{}`) and a
//! copy of `functions/hello_world`, deploys both with the `faaset` CLI (`$FAASET_BIN`, else the
//! release build cargo makes for this bench), and prints a Markdown table of medians and p90s:
//!
//! 1. a warm call of `noop` through the library ([`faaset::invoke::Invoker::call`], the pooled
//!    client), and the same call as a CLI process (`faaset invoke noop`);
//! 2. baselines for 1: the same request POSTed straight to the engine by a bare reqwest client,
//!    by a minimal raw HTTP/1.1 client and by `wrk` (when on PATH); the floor: the same
//!    clients against a trivial loopback echo server; optionally `cargo lambda watch`'s
//!    emulator answering a no-op function (when `$CARGO_LAMBDA` names the `cargo-lambda`
//!    binary);
//! 3. a cold start of `hello_world`: a reconfigure (changed env var) retires its environments,
//!    then one call starts a new one; the engine's `initDuration` and the round trip, at the
//!    default 512 MB and at 3538 MB (a CPU share the engine does not throttle on 2 cores);
//! 4. a one-line change of `hello_world` until it answers with it: `faaset deploy` +
//!    `faaset invoke` as CLI processes, timed from the edit;
//! 5. `faaset deploy hello_world` when nothing changed, as a CLI process (floor: `faaset --help`).
//!
//! Progress goes to stderr, the table to stdout. Sample counts can be lowered for a quick check
//! with `FAASET_BENCH_CALLS`, `FAASET_BENCH_COLD`, `FAASET_BENCH_EDITS`, `FAASET_BENCH_CLI_RUNS`
//! and `FAASET_BENCH_WRK_SECONDS`; `FAASET_BENCH_RUNTIME=current_thread` runs the client side on a
//! current-thread tokio runtime instead of the CLI's multi-threaded one;
//! `FAASET_BENCH_NOOP_MEMORY=MB` deploys `noop` with that memory (CPU share). See `bench/README.md`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use faaset::deploy;
use faaset::invoke::Invoker;
use faaset::progress::Quiet;
use faaset::Workspace;
use serde_json::{json, Value};

/// The request body of every warm call: the no-op function's payload.
const BODY: &str = "{}";
/// Calls before timing starts, per client.
const WARM_UP: usize = 200;
/// Warm-call samples are taken in this many rounds, the clients taking turns, so a change
/// of machine load during the run touches every client alike.
const ROUNDS: usize = 4;

const NOOP_SOURCE: &str = "// noop: answers {} (the warm-call benchmark's function).\n\
fn noop(_request: Value, _context: Context) -> Value {\n    json!({})\n}\n";

fn main() -> Result<()> {
    let calls = knob("FAASET_BENCH_CALLS", 2000);
    let cold_samples = knob("FAASET_BENCH_COLD", 30);
    let edits = knob("FAASET_BENCH_EDITS", 5);
    let cli_runs = knob("FAASET_BENCH_CLI_RUNS", 30);
    let wrk_seconds = knob("FAASET_BENCH_WRK_SECONDS", 3);

    let faaset_bin = match std::env::var_os("FAASET_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => PathBuf::from(env!("CARGO_BIN_EXE_faaset")),
    };
    // The library starts the engine with `$FAASET_BIN`; set before any thread exists.
    std::env::set_var("FAASET_BIN", &faaset_bin);
    let machine = machine_description();

    let temp = tempfile::Builder::new().prefix("faaset-bench-").tempdir()?;
    let root = temp.path().to_path_buf();
    let _engine = EngineGuard {
        bin: faaset_bin.clone(),
        workspace: root.clone(),
    };
    let cli = Cli {
        bin: faaset_bin.clone(),
        workspace: root.clone(),
    };
    write_functions(&root)?;
    let workspace = Workspace::open(&root)?;

    let mut rows = Vec::new();
    let mut notes = Vec::new();

    // The no-op function's memory (its CPU share): the platform's default unless asked.
    let noop_config = match std::env::var("FAASET_BENCH_NOOP_MEMORY") {
        Ok(memory) if !memory.is_empty() => {
            notes.push(format!("noop deployed with memory {memory} MB"));
            format!(r#"{{"memory": {memory}}}"#)
        }
        _ => "{}".to_string(),
    };
    for name in ["noop", "hello_world"] {
        progress(&format!(
            "deploying {name} (the first build compiles the dependencies)"
        ));
        let config = if name == "noop" {
            noop_config.as_str()
        } else {
            "{}"
        };
        let started = Instant::now();
        let status = cli
            .command(&["deploy", name, "--config", config])
            .stdout(Stdio::null())
            .status()?;
        ensure!(status.success(), "faaset deploy {name} failed ({status})");
        notes.push(format!(
            "first deploy of {name}: {:.1} s",
            started.elapsed().as_secs_f64()
        ));
    }

    // The client side's runtime: multi-threaded like the CLI's, unless asked otherwise.
    let current_thread = std::env::var("FAASET_BENCH_RUNTIME").as_deref() == Ok("current_thread");
    let mut builder = if current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder.enable_all().build()?;
    notes.push(format!(
        "client runtime: tokio {} (FAASET_BENCH_RUNTIME)",
        if current_thread {
            "current_thread"
        } else {
            "multi_thread, as the CLI"
        }
    ));

    // 1 + 2: warm calls.
    progress("1-2: warm calls of noop and baselines");
    let echo = EchoServer::start()?;
    let engine = engine_target(&root, "noop")?;
    let echo_target = HttpTarget {
        url: format!("http://{}/echo", echo.address),
        authorization: None,
    };
    let cargo_lambda = match std::env::var_os("CARGO_LAMBDA") {
        Some(bin) if !bin.is_empty() => {
            progress("starting cargo lambda watch (first time: compiles the no-op function)");
            match CargoLambda::start(Path::new(&bin), &root) {
                Ok(cl) => Some(cl),
                Err(e) => {
                    notes.push(format!("cargo lambda watch baseline skipped: {e:#}"));
                    None
                }
            }
        }
        _ => None,
    };
    let warm = runtime.block_on(warm_calls(
        &workspace,
        &engine,
        &echo_target,
        cargo_lambda.as_ref().map(|c| &c.target),
        calls,
    ))?;
    if warm.cold_starts > 0 {
        notes.push(format!(
            "{} of the library's timed warm calls were cold starts",
            warm.cold_starts
        ));
    }
    let outliers = warm.library.iter().filter(|&&v| v > 1.0).count();
    notes.push(format!(
        "library warm calls over 1 ms: {outliers} of {}",
        warm.library.len()
    ));
    let target_call = Some(Target::AtMost(0.3));
    rows.push(Row::new(
        "1. warm call, library (`Invoker::call`)",
        &warm.library,
        target_call,
    ));
    let cli_invoke = time_cli(&cli, &["invoke", "noop"], cli_runs, None)?;
    rows.push(Row::new(
        "1b. warm call, CLI process (`faaset invoke noop`)",
        &cli_invoke,
        None,
    ));
    rows.push(Row::new(
        "2a. same request, bare reqwest → engine",
        &warm.reqwest_engine,
        None,
    ));
    rows.push(Row::new(
        "2b. same request, raw HTTP/1.1 client → engine",
        &warm.raw_engine,
        None,
    ));
    match wrk(&engine, wrk_seconds, &root)? {
        Some(summary) => rows.push(Row::from_summary(
            "2c. same request, wrk -c1 → engine",
            summary,
        )),
        None => notes.push("wrk is not on PATH: its rows are missing".into()),
    }
    if let Some(cl) = &cargo_lambda {
        rows.push(Row::new(
            "2d. cargo lambda watch emulator, bare reqwest → no-op",
            cl_samples(&warm.reqwest_cargo_lambda),
            None,
        ));
        rows.push(Row::new(
            "2e. cargo lambda watch emulator, raw client → no-op",
            cl_samples(&warm.raw_cargo_lambda),
            None,
        ));
        if let Some(summary) = wrk(&cl.target, wrk_seconds, &root)? {
            rows.push(Row::from_summary(
                "2f. cargo lambda watch emulator, wrk -c1 → no-op",
                summary,
            ));
        }
    }
    rows.push(Row::new(
        "2g. floor: loopback echo server, bare reqwest",
        &warm.reqwest_echo,
        None,
    ));
    rows.push(Row::new(
        "2h. floor: loopback echo server, raw client",
        &warm.raw_echo,
        None,
    ));
    if let Some(summary) = wrk(&echo_target, wrk_seconds, &root)? {
        rows.push(Row::from_summary(
            "2i. floor: loopback echo server, wrk -c1",
            summary,
        ));
    }
    drop(cargo_lambda);

    // 3: cold starts; first with 2 CPUs' share (no CPU throttling here), then at the default
    // 512 MB (0.29 of a CPU), which section 4 then keeps.
    progress("3: cold starts of hello_world");
    let unthrottled = runtime.block_on(cold_starts(&workspace, cold_samples, 3538))?;
    let cold = runtime.block_on(cold_starts(&workspace, cold_samples, 512))?;
    rows.push(Row::new(
        "3a. cold start at 512 MB, round trip (reconfigure excluded)",
        &cold.round_trip,
        Some(Target::Below(10.0)),
    ));
    rows.push(Row::new(
        "3b. cold start at 512 MB, engine `initDuration`",
        &cold.init,
        None,
    ));
    rows.push(Row::new(
        "3c. (reconfigure that retires the environment)",
        &cold.reconfigure,
        None,
    ));
    rows.push(Row::new(
        "3d. cold start at 3538 MB (2 CPUs), round trip",
        &unthrottled.round_trip,
        None,
    ));
    rows.push(Row::new(
        "3e. cold start at 3538 MB (2 CPUs), `initDuration`",
        &unthrottled.init,
        None,
    ));

    // 4: one-line change.
    progress("4: one-line changes of hello_world");
    let change = one_line_changes(&cli, &root, edits)?;
    rows.push(Row::new(
        "4. one-line change → new answer (deploy + invoke)",
        &change.total,
        Some(Target::AtMost(3000.0)),
    ));
    rows.push(Row::new(
        "4a. (`faaset deploy`: build + publish)",
        &change.deploy,
        None,
    ));
    rows.push(Row::new(
        "4b. (`faaset invoke`: first call, cold)",
        &change.invoke,
        None,
    ));

    // 5: unchanged deploy.
    progress("5: deploys of an unchanged function");
    let unchanged = time_cli(
        &cli,
        &["deploy", "hello_world"],
        cli_runs,
        Some("up to date"),
    )?;
    rows.push(Row::new(
        "5. unchanged deploy check (`faaset deploy hello_world`)",
        &unchanged,
        Some(Target::AtMost(20.0)),
    ));
    let help = time_cli(&cli, &["--help"], cli_runs, None)?;
    rows.push(Row::new(
        "5a. floor: CLI process start (`faaset --help`)",
        &help,
        None,
    ));

    notes.extend(engine_log_notes(&root));
    drop(runtime);
    print_table(&machine, &faaset_bin, &rows, &notes);
    Ok(())
}

/// A positive integer from the environment, else `default`.
fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

fn progress(line: &str) {
    eprintln!("[bench] {line}");
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn cl_samples(samples: &Option<Vec<f64>>) -> &[f64] {
    samples.as_deref().unwrap_or(&[])
}

// ---------------------------------------------------------------------------------------------
// Workspace and CLI

/// Writes `functions/noop` and a copy of the repository's `functions/hello_world`.
fn write_functions(root: &Path) -> Result<()> {
    let repo_hello =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/hello_world/src/function.rs");
    let hello = std::fs::read_to_string(&repo_hello)
        .with_context(|| format!("reading {}", repo_hello.display()))?;
    for (name, source) in [("noop", NOOP_SOURCE), ("hello_world", hello.as_str())] {
        let dir = root.join("functions").join(name);
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::write(dir.join("src/function.rs"), source)?;
        std::fs::write(
            dir.join("FAASET.json"),
            json!({"name": name, "platform": "local"}).to_string(),
        )?;
    }
    Ok(())
}

/// Runs the `faaset` CLI on the benchmark's workspace.
struct Cli {
    bin: PathBuf,
    workspace: PathBuf,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .arg("--workspace")
            .arg(&self.workspace)
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// Runs to the end; fails with its stderr when it fails. Returns the wall time and stdout.
    fn run(&self, args: &[&str]) -> Result<(f64, String, String)> {
        let started = Instant::now();
        let output = self.command(args).output()?;
        let elapsed = ms(started);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        ensure!(
            output.status.success(),
            "faaset {} failed ({}): {}",
            args.join(" "),
            output.status,
            stderr.trim()
        );
        Ok((elapsed, stdout, stderr))
    }
}

/// Times `runs` runs of a CLI command (after one untimed run); `expect` must be in its stderr.
fn time_cli(cli: &Cli, args: &[&str], runs: usize, expect: Option<&str>) -> Result<Vec<f64>> {
    cli.run(args)?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (elapsed, _, stderr) = cli.run(args)?;
        if let Some(expect) = expect {
            ensure!(
                stderr.contains(expect),
                "faaset {}: expected {expect:?} in {stderr:?}",
                args.join(" ")
            );
        }
        samples.push(elapsed);
    }
    Ok(samples)
}

/// Stops the workspace's engine (and its environments) however the benchmark ends.
struct EngineGuard {
    bin: PathBuf,
    workspace: PathBuf,
}

impl Drop for EngineGuard {
    fn drop(&mut self) {
        let _ = Command::new(&self.bin)
            .arg("--workspace")
            .arg(&self.workspace)
            .args(["local", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Anything the engine wrote to its log (it logs only trouble).
fn engine_log_notes(root: &Path) -> Vec<String> {
    let log = root.join(".faaset/local/engine.log");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return vec!["engine.log: empty (no engine errors)".into()];
    }
    let mut notes = vec![format!("engine.log has {} lines; the last:", lines.len())];
    notes.extend(lines.iter().rev().take(5).rev().map(|l| format!("  {l}")));
    notes
}

// ---------------------------------------------------------------------------------------------
// 1 + 2: warm calls

/// An HTTP endpoint answering POST `BODY`.
#[derive(Clone)]
struct HttpTarget {
    url: String,
    authorization: Option<String>,
}

/// The engine's invoke URL of `function`, with the workspace's token.
fn engine_target(root: &Path, function: &str) -> Result<HttpTarget> {
    let info_file = root.join(".faaset/local/engine.json");
    let info: Value = serde_json::from_str(
        &std::fs::read_to_string(&info_file)
            .with_context(|| format!("reading {}", info_file.display()))?,
    )?;
    let address = info["address"].as_str().context("engine.json: address")?;
    let token = info["token"].as_str().context("engine.json: token")?;
    Ok(HttpTarget {
        url: format!("http://{address}/2015-03-31/functions/{function}/invocations"),
        authorization: Some(format!("Bearer {token}")),
    })
}

#[derive(Default)]
struct WarmSamples {
    library: Vec<f64>,
    reqwest_engine: Vec<f64>,
    raw_engine: Vec<f64>,
    reqwest_echo: Vec<f64>,
    raw_echo: Vec<f64>,
    reqwest_cargo_lambda: Option<Vec<f64>>,
    raw_cargo_lambda: Option<Vec<f64>>,
    cold_starts: usize,
}

/// `calls` timed calls per client, after `WARM_UP` each, in `ROUNDS` turns.
async fn warm_calls(
    workspace: &Workspace,
    engine: &HttpTarget,
    echo: &HttpTarget,
    cargo_lambda: Option<&HttpTarget>,
    calls: usize,
) -> Result<WarmSamples> {
    let invoker = std::sync::Arc::new(Invoker::new(workspace, "noop", None).await?);
    let http = faaset::platform::http_client()
        .no_proxy()
        .tcp_nodelay(true)
        .build()?;
    let mut raw_engine = RawClient::connect(engine)?;
    let mut raw_echo = RawClient::connect(echo)?;
    let mut raw_cl = cargo_lambda.map(RawClient::connect).transpose()?;
    let mut s = WarmSamples {
        reqwest_cargo_lambda: cargo_lambda.map(|_| Vec::new()),
        raw_cargo_lambda: cargo_lambda.map(|_| Vec::new()),
        ..WarmSamples::default()
    };
    let mut scratch = Vec::new();
    let mut ignored = 0;
    library_calls(&invoker, WARM_UP, &mut scratch, &mut ignored).await?;
    reqwest_calls(&http, engine, WARM_UP, &mut scratch).await?;
    // Async clients run their loops in a spawned task, as experiment workers do (a loop
    // polled by `block_on` on the main thread pays a thread wake-up per I/O event).
    let spawned_library = |n: usize| {
        let invoker = invoker.clone();
        async move {
            tokio::spawn(async move {
                let (mut out, mut cold) = (Vec::new(), 0);
                library_calls(&invoker, n, &mut out, &mut cold).await?;
                Ok::<_, anyhow::Error>((out, cold))
            })
            .await?
        }
    };
    let spawned_reqwest = |target: &HttpTarget, n: usize| {
        let (http, target) = (http.clone(), target.clone());
        async move {
            tokio::spawn(async move {
                let mut out = Vec::new();
                reqwest_calls(&http, &target, n, &mut out).await?;
                Ok::<_, anyhow::Error>(out)
            })
            .await?
        }
    };
    raw_engine.calls(WARM_UP, &mut scratch)?;
    reqwest_calls(&http, echo, WARM_UP, &mut scratch).await?;
    raw_echo.calls(WARM_UP, &mut scratch)?;
    if let (Some(target), Some(raw)) = (cargo_lambda, raw_cl.as_mut()) {
        reqwest_calls(&http, target, WARM_UP, &mut scratch).await?;
        raw.calls(WARM_UP, &mut scratch)?;
    }
    let per_round = calls.div_ceil(ROUNDS);
    for round in 0..ROUNDS {
        let n = per_round.min(calls - round * per_round);
        let (library, cold) = spawned_library(n).await?;
        s.library.extend(library);
        s.cold_starts += cold;
        s.reqwest_engine.extend(spawned_reqwest(engine, n).await?);
        // The raw client blocks: fine here, nothing else runs on this runtime meanwhile.
        raw_engine.calls(n, &mut s.raw_engine)?;
        s.reqwest_echo.extend(spawned_reqwest(echo, n).await?);
        raw_echo.calls(n, &mut s.raw_echo)?;
        if let (Some(target), Some(raw)) = (cargo_lambda, raw_cl.as_mut()) {
            let out = s.reqwest_cargo_lambda.as_mut().expect("set with target");
            out.extend(spawned_reqwest(target, n).await?);
            raw.calls(n, s.raw_cargo_lambda.as_mut().expect("set with target"))?;
        }
    }
    Ok(s)
}

async fn library_calls(
    invoker: &Invoker,
    n: usize,
    out: &mut Vec<f64>,
    cold_starts: &mut usize,
) -> Result<()> {
    let payload = json!({});
    for _ in 0..n {
        let started = Instant::now();
        let call = invoker.call(&payload).await?;
        out.push(ms(started));
        if let Some(error) = call.error {
            bail!("noop failed: {error}");
        }
        if call.response.get("coldStart") == Some(&Value::Bool(true)) {
            *cold_starts += 1;
        }
    }
    Ok(())
}

async fn reqwest_calls(
    http: &reqwest::Client,
    target: &HttpTarget,
    n: usize,
    out: &mut Vec<f64>,
) -> Result<()> {
    for _ in 0..n {
        let started = Instant::now();
        let mut request = http.post(&target.url).body(BODY);
        if let Some(authorization) = &target.authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        out.push(ms(started));
        ensure!(
            status.is_success(),
            "{} answered {status}: {}",
            target.url,
            String::from_utf8_lossy(&body)
        );
    }
    Ok(())
}

/// A minimal keep-alive HTTP/1.1 client over one blocking socket: writes the same request
/// bytes every time and reads a `content-length` response.
struct RawClient {
    reader: BufReader<TcpStream>,
    request: Vec<u8>,
    line: String,
    body: Vec<u8>,
}

impl RawClient {
    fn connect(target: &HttpTarget) -> Result<Self> {
        Self::connect_with_timeout(target, Duration::from_secs(30))
    }

    /// `timeout` bounds each read of a response.
    fn connect_with_timeout(target: &HttpTarget, timeout: Duration) -> Result<Self> {
        let rest = target
            .url
            .strip_prefix("http://")
            .context("only http:// URLs")?;
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        let authorization = target
            .authorization
            .as_ref()
            .map(|a| format!("authorization: {a}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: {host}\r\n{authorization}content-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        Ok(RawClient {
            reader: BufReader::new(stream),
            request: request.into_bytes(),
            line: String::new(),
            body: Vec::new(),
        })
    }

    fn calls(&mut self, n: usize, out: &mut Vec<f64>) -> Result<()> {
        for _ in 0..n {
            let started = Instant::now();
            self.call()?;
            out.push(ms(started));
        }
        Ok(())
    }

    fn call(&mut self) -> Result<()> {
        self.reader.get_mut().write_all(&self.request)?;
        self.line.clear();
        self.reader.read_line(&mut self.line)?;
        ensure!(
            self.line.starts_with("HTTP/1.1 200"),
            "unexpected status line {:?}",
            self.line
        );
        let status = self.line.clone();
        let mut length = None;
        loop {
            self.line.clear();
            ensure!(
                self.reader.read_line(&mut self.line)? > 0,
                "connection closed"
            );
            let line = self.line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.trim().parse::<usize>()?);
                }
            }
        }
        let length =
            length.with_context(|| format!("no content-length after {status:?} (chunked?)"))?;
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body)?;
        Ok(())
    }
}

/// A trivial HTTP server on loopback answering `POST /echo` with the request body, on its own
/// thread and tokio runtime (as the engine has its own process). Runs until the bench exits.
struct EchoServer {
    address: SocketAddr,
}

impl EchoServer {
    fn start() -> Result<Self> {
        use axum::routing::post;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("echo runtime");
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(listener) => listener,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(listener.local_addr());
                let app = axum::Router::new().route(
                    "/echo",
                    post(|body: axum::body::Bytes| async move {
                        ([("content-type", "application/json")], body)
                    }),
                );
                let _ = axum::serve(listener, app).await;
            });
        });
        let address = rx.recv().context("echo server thread")??;
        Ok(EchoServer { address })
    }
}

/// `wrk -t1 -c1` (one connection: sequential keep-alive calls) for `seconds`; `None` when
/// wrk is not installed.
fn wrk(target: &HttpTarget, seconds: usize, dir: &Path) -> Result<Option<Summary>> {
    let script = dir.join("wrk-post.lua");
    let authorization = target
        .authorization
        .as_ref()
        .map(|a| format!("wrk.headers[\"authorization\"] = \"{a}\"\n"))
        .unwrap_or_default();
    std::fs::write(
        &script,
        format!("wrk.method = \"POST\"\nwrk.body = '{BODY}'\n{authorization}"),
    )?;
    let output = Command::new("wrk")
        .args(["-t1", "-c1", &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(&script)
        .arg(&target.url)
        .stdin(Stdio::null())
        .output();
    let _ = std::fs::remove_file(&script);
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "wrk failed: {text}");
    ensure!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "wrk saw errors against {}: {text}",
        target.url
    );
    let percentile = |p: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(p))
            .and_then(|v| wrk_duration(v.trim()))
    };
    let max = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Latency"))
        .and_then(|v| v.split_whitespace().nth(2))
        .and_then(wrk_duration);
    let n = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    match (percentile("50%"), percentile("90%")) {
        (Some(median), Some(p90)) => Ok(Some(Summary {
            n,
            median,
            p90,
            max,
        })),
        _ => bail!("cannot read wrk's latency distribution: {text}"),
    }
}

/// `123.45us`, `1.20ms`, `2.00s` → ms.
fn wrk_duration(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(v) = text.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|v| v * scale)
}

/// `cargo lambda watch` serving a no-op function built like ours (release, same lock file).
struct CargoLambda {
    child: Child,
    target: HttpTarget,
}

impl CargoLambda {
    fn start(bin: &Path, root: &Path) -> Result<Self> {
        use std::os::unix::process::CommandExt;
        let dir = root.join("cargo-lambda-noop");
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"cl_noop\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nlambda_runtime = \"1.5\"\nserde_json = \"1\"\n\
             tokio = { version = \"1\", features = [\"rt\", \"macros\"] }\n\n\
             [profile.release]\nincremental = true\ndebug = false\n\n[workspace]\n",
        )?;
        std::fs::write(
            dir.join("src/main.rs"),
            "use lambda_runtime::{service_fn, Error, LambdaEvent};\n\
             use serde_json::{json, Value};\n\n\
             #[tokio::main(flavor = \"current_thread\")]\n\
             async fn main() -> Result<(), Error> {\n    \
             lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {\n        \
             Ok::<Value, Error>(json!({}))\n    }))\n    .await\n}\n",
        )?;
        // The lock file our functions are built with, so the dependencies are shared.
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../platforms/local/Cargo.lock");
        if seed.is_file() {
            std::fs::copy(&seed, dir.join("Cargo.lock"))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(root.join("cargo-lambda.log"))?;
        let mut command = Command::new(bin);
        command
            .args(["lambda", "watch", "--release", "--ignore-changes"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        if let Some(target_dir) = std::env::var_os("FAASET_TARGET_DIR") {
            command.env("CARGO_TARGET_DIR", target_dir);
        }
        let child = command.spawn()?;
        let mut cl = CargoLambda {
            child,
            target: HttpTarget {
                url: format!("http://127.0.0.1:{port}/2015-03-31/functions/cl_noop/invocations"),
                authorization: None,
            },
        };
        // The emulator builds the function on the first call: one call that may wait for it.
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            if let Some(status) = cl.child.try_wait()? {
                bail!(
                    "cargo lambda watch exited ({status}); see {}",
                    root.join("cargo-lambda.log").display()
                );
            }
            ensure!(
                Instant::now() < deadline,
                "cargo lambda watch did not answer within 15 minutes"
            );
            match RawClient::connect_with_timeout(&cl.target, Duration::from_secs(900)) {
                Ok(mut client) => {
                    client.call().context("first call of cargo lambda watch")?;
                    return Ok(cl);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

/// Ends the emulator and the function it runs. SIGKILL: `cargo lambda watch` 1.9 ignores
/// SIGTERM and SIGINT while its function instance waits for work, and the instance runs in a
/// process group of its own.
impl Drop for CargoLambda {
    fn drop(&mut self) {
        let mut pids = descendants(self.child.id());
        pids.push(self.child.id());
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// The processes below `pid` (from `/proc/<pid>/task/*/children`).
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut pending = vec![pid];
    while let Some(parent) = pending.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                found.push(child);
                pending.push(child);
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// 3: cold starts

struct ColdSamples {
    round_trip: Vec<f64>,
    init: Vec<f64>,
    reconfigure: Vec<f64>,
}

/// Each sample: reconfigure with a new env var value (the engine retires the environments),
/// then time one call, which must be a cold start. One untimed sample first. `memory` (MB)
/// sets the environment's CPU share (memory / 1,769 MB of a CPU, as on Lambda).
async fn cold_starts(workspace: &Workspace, samples: usize, memory: u32) -> Result<ColdSamples> {
    let invoker = Invoker::new(workspace, "hello_world", None).await?;
    let payload = json!({"name": "Bench"});
    let mut cold = ColdSamples {
        round_trip: Vec::new(),
        init: Vec::new(),
        reconfigure: Vec::new(),
    };
    for sample in 0..=samples {
        let config = json!({
            "memory": memory,
            "env": {"FAASET_BENCH_SAMPLE": sample.to_string()},
        });
        let config = config.as_object().cloned().unwrap_or_default();
        let started = Instant::now();
        deploy::reconfigure(workspace, "hello_world", None, config, &Quiet).await?;
        let reconfigure = ms(started);
        let started = Instant::now();
        let call = invoker.call(&payload).await?;
        let round_trip = ms(started);
        if let Some(error) = call.error {
            bail!("hello_world failed on a cold start: {error}");
        }
        ensure!(
            call.response.get("coldStart") == Some(&Value::Bool(true)),
            "call after reconfigure #{sample} was not a cold start: {:?}",
            call.response
        );
        let init = call
            .response
            .get("initDuration")
            .and_then(Value::as_f64)
            .context("no initDuration on a cold start")?;
        if sample > 0 {
            cold.round_trip.push(round_trip);
            cold.init.push(init);
            cold.reconfigure.push(reconfigure);
        }
    }
    Ok(cold)
}

// ---------------------------------------------------------------------------------------------
// 4: one-line change

struct ChangeSamples {
    total: Vec<f64>,
    deploy: Vec<f64>,
    invoke: Vec<f64>,
}

/// Edits the message line of hello_world, then times `faaset deploy` + `faaset invoke` (CLI
/// processes) until the answer carries the new message.
fn one_line_changes(cli: &Cli, root: &Path, edits: usize) -> Result<ChangeSamples> {
    let file = root.join("functions/hello_world/src/function.rs");
    let original = std::fs::read_to_string(&file)?;
    ensure!(
        original
            .lines()
            .any(|l| l.contains("add_attribute(\"message\"")),
        "hello_world has no `add_attribute(\"message\", ...)` line to edit"
    );
    let mut samples = ChangeSamples {
        total: Vec::new(),
        deploy: Vec::new(),
        invoke: Vec::new(),
    };
    for edit in 1..=edits {
        let message = format!("Hello Bench! (edit {edit})");
        let edited: String = original
            .lines()
            .map(|line| {
                if line.contains("add_attribute(\"message\"") {
                    format!("    inspector.add_attribute(\"message\", format!(\"Hello {{name}}! (edit {edit})\"));\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        std::fs::write(&file, edited)?;
        let started = Instant::now();
        let (deploy, _, _) = cli.run(&["deploy", "hello_world"])?;
        let (invoke, stdout, _) = cli.run(&["invoke", "hello_world", r#"{"name": "Bench"}"#])?;
        let total = ms(started);
        let answer: Value = serde_json::from_str(&stdout)?;
        ensure!(
            answer["message"] == message,
            "after edit {edit} hello_world answered {answer}"
        );
        samples.total.push(total);
        samples.deploy.push(deploy);
        samples.invoke.push(invoke);
    }
    Ok(samples)
}

// ---------------------------------------------------------------------------------------------
// Statistics and the table

/// Order statistics of a sample, ms.
#[derive(Clone, Copy)]
struct Summary {
    n: usize,
    median: f64,
    p90: f64,
    max: Option<f64>,
}

/// The `q` quantile (0..=1) of sorted values, interpolated linearly (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(Summary {
        n: sorted.len(),
        median: quantile(&sorted, 0.5),
        p90: quantile(&sorted, 0.9),
        max: sorted.last().copied(),
    })
}

#[derive(Clone, Copy)]
enum Target {
    AtMost(f64),
    Below(f64),
}

struct Row {
    label: String,
    summary: Option<Summary>,
    target: Option<Target>,
}

impl Row {
    fn new(label: &str, samples: &[f64], target: Option<Target>) -> Self {
        Row {
            label: label.to_string(),
            summary: summarize(samples),
            target,
        }
    }

    fn from_summary(label: &str, summary: Summary) -> Self {
        Row {
            label: label.to_string(),
            summary: Some(summary),
            target: None,
        }
    }

    fn verdict(&self) -> String {
        let (Some(target), Some(summary)) = (self.target, self.summary) else {
            return String::new();
        };
        let (text, met) = match target {
            Target::AtMost(limit) => (format!("≤ {}", time(limit)), summary.median <= limit),
            Target::Below(limit) => (format!("< {}", time(limit)), summary.median < limit),
        };
        format!("{text}: {}", if met { "met" } else { "**missed**" })
    }
}

/// A duration in ms, shown with a precision that suits its size.
fn time(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

fn print_table(machine: &str, faaset_bin: &Path, rows: &[Row], notes: &[String]) {
    println!("# Local platform benchmark\n");
    println!("{machine}");
    println!("- faaset: `{}`\n", faaset_bin.display());
    println!("| figure | n | median | p90 | max | target (median) |");
    println!("|---|--:|--:|--:|--:|---|");
    for row in rows {
        match row.summary {
            Some(s) => println!(
                "| {} | {} | {} | {} | {} | {} |",
                row.label,
                s.n,
                time(s.median),
                time(s.p90),
                s.max.map(time).unwrap_or_else(|| "-".into()),
                row.verdict()
            ),
            None => println!("| {} | 0 | - | - | - | |", row.label),
        }
    }
    println!(
        "\nReferences measured earlier on this machine: cargo-lambda `watch` warm no-op call \
         0.97 ms median, one-line change visible 3.65 s after the edit; Python FaaSET local \
         platform 92 ms per call.\n"
    );
    for note in notes {
        println!("- {note}");
    }
}

/// Date, cores, CPU model, kernel and load, for the table's header.
fn machine_description() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "- date: {date}\n- machine: nproc {cores}, CPU {model}, Linux {}\n- load average at start: {}",
        kernel.trim(),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}
