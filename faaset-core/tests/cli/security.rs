//! What another local user can reach: an environment's Runtime API port is on the host's
//! loopback, but only a request under the environment's secret path gets anything.

use std::io::{Read, Write};

use faaset::platform::local::EngineClient;
use faaset::Workspace;

use crate::support::{another_user_can_read, TempWorkspace};

/// Sends one HTTP/1.1 request to `address` and returns the status code and the body.
fn request(address: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (code, body.to_string())
}

fn status_of(port: u16, method: &str, path: &str) -> u16 {
    request(&format!("127.0.0.1:{port}"), method, path, "", "{}").0
}

#[test]
fn the_runtime_api_answers_only_under_the_environments_secret() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    let first = ws
        .faaset(&["invoke", "hello_world", r#"{"name":"A"}"#])
        .ok()
        .json();
    let environment = first["environmentId"].as_str().unwrap().to_string();

    let workspace = Workspace::open(ws.path()).unwrap();
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = EngineClient::running(&workspace)
            .await
            .expect("engine running");
        client.status().await.unwrap()
    });
    let pid = status.environments[0].pid;
    // Only the environment's own user (and root) can read its environment.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let api = String::from_utf8_lossy(&environ)
        .split('\0')
        .find_map(|v| {
            v.strip_prefix("AWS_LAMBDA_RUNTIME_API=")
                .map(str::to_string)
        })
        .expect("AWS_LAMBDA_RUNTIME_API");
    let rest = api.strip_prefix("http://127.0.0.1:").expect(&api);
    let (port, secret) = rest.split_once('/').expect("a secret path");
    let port: u16 = port.parse().unwrap();
    assert!(secret.len() >= 32, "secret {secret:?}");

    // What anyone who scans the loopback ports can try: Lambda's paths, a guessed secret.
    for path in [
        "/2018-06-01/runtime/invocation/next".to_string(),
        "/2018-06-01/runtime/invocation/x/response".to_string(),
        format!(
            "/{}/2018-06-01/runtime/invocation/next",
            "0".repeat(secret.len())
        ),
    ] {
        let method = if path.ends_with("next") {
            "GET"
        } else {
            "POST"
        };
        assert_eq!(status_of(port, method, &path), 404, "{method} {path}");
    }
    // With the secret, the API is there (an unknown request id is refused as on Lambda).
    assert_eq!(
        status_of(
            port,
            "POST",
            &format!("/{secret}/2018-06-01/runtime/invocation/x/response")
        ),
        400
    );

    // Another user cannot read the secret out of the environment's process.
    let environ = format!("/proc/{pid}/environ");
    assert_ne!(
        another_user_can_read(&environ),
        Some(true),
        "uid 65534 read the environment's secret"
    );

    // The environment was not disturbed: the next call is its warm call.
    let second = ws
        .faaset(&["invoke", "hello_world", r#"{"name":"B"}"#])
        .ok()
        .json();
    assert_eq!(second["environmentId"], environment.as_str());
    assert_eq!(second["message"], "Hello B!");
    ws.faaset(&["local", "stop"]).ok();
}

#[test]
fn a_copied_workspace_gets_its_own_engine() {
    let original = TempWorkspace::with_functions(&["hello_world"]);
    original
        .faaset(&["invoke", "hello_world", r#"{"name":"A"}"#])
        .ok();
    let original_engine = original.engine_pid();

    // The copy carries the original's engine.json (address and token) along.
    let copy = TempWorkspace::copy_of(&original);
    let source = copy.file("functions/hello_world/src/function.rs");
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(
        &source,
        text.replace("Hello {name}!", "Copy says hello {name}!"),
    )
    .unwrap();
    let from_copy = copy
        .faaset(&["invoke", "hello_world", r#"{"name":"B"}"#])
        .ok()
        .json();
    assert_eq!(from_copy["message"], "Copy says hello B!");
    assert_ne!(
        copy.engine_pid(),
        original_engine,
        "the copy started its own engine"
    );

    // The original still runs its own code on its own engine, and stopping the copy's
    // engine leaves it running.
    copy.faaset(&["local", "stop"]).ok();
    let from_original = original
        .faaset(&["invoke", "hello_world", r#"{"name":"A"}"#])
        .ok()
        .json();
    assert_eq!(from_original["message"], "Hello A!");
    assert_eq!(from_original["coldStart"], false, "{from_original}");
    assert_eq!(original.engine_pid(), original_engine);
    original.faaset(&["local", "stop"]).ok();
}

/// The engine's address and token, as its rightful client reads them.
fn engine_info(ws: &TempWorkspace) -> (String, String) {
    let info = std::fs::read_to_string(ws.file(".faaset/local/engine.json")).unwrap();
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    (
        info["address"].as_str().unwrap().to_string(),
        info["token"].as_str().unwrap().to_string(),
    )
}

#[test]
fn the_engine_runs_only_the_workspaces_own_builds_and_refuses_bad_fields() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["invoke", "hello_world", "{}"]).ok();
    let (address, token) = engine_info(&ws);
    let root = ws.path().canonicalize().unwrap();
    let good = serde_json::json!({
        "FunctionName": "hello_world",
        "CodePath": root.join("functions/hello_world/local/.build/bootstrap"),
        "CodeSha256": "ab",
        "MemorySize": 128,
        "Timeout": 3,
        "LogFile": root.join("functions/hello_world/local/logs/function.log"),
        "IdleTimeout": 60,
    });
    let outside = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/true", outside.path().join("bootstrap")).unwrap();
    let cases = [
        ("CodePath", serde_json::json!("/bin/sh"), "CodePath"),
        (
            "CodePath",
            serde_json::json!(outside.path().join("bootstrap")),
            "CodePath",
        ),
        (
            "CodePath",
            serde_json::json!(root.join("functions/hello_world/local/.build/../../../../bootstrap")),
            "CodePath",
        ),
        (
            "LogFile",
            serde_json::json!("/tmp/faaset-evil.log"),
            "LogFile",
        ),
        ("IdleTimeout", serde_json::json!(-1), "IdleTimeout"),
        ("IdleTimeout", serde_json::json!(1e300), "IdleTimeout"),
        ("Timeout", serde_json::json!(0), "Timeout"),
        ("Timeout", serde_json::json!(1e20), "Timeout"),
        ("MemorySize", serde_json::json!(64), "MemorySize"),
    ];
    for (field, value, said) in cases {
        let mut spec = good.clone();
        spec[field] = value.clone();
        let (code, body) = request(
            &address,
            "PUT",
            "/2015-03-31/functions/hello_world",
            &token,
            &spec.to_string(),
        );
        assert_eq!(code, 400, "{field} = {value}: {body}");
        assert!(body.contains(said), "{field} = {value}: {body}");
    }
    // Nothing of that reached the pool: the engine is healthy and runs the real function.
    let answer = ws
        .faaset(&["invoke", "hello_world", r#"{"name":"C"}"#])
        .ok()
        .json();
    assert_eq!(answer["message"], "Hello C!");
    assert!(!std::path::Path::new("/tmp/faaset-evil.log").exists());
    ws.faaset(&["local", "stop"]).ok();
}

/// Every file under `dir`, as text.
fn all_text(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&all_text(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}

#[test]
fn credentials_stay_out_of_output_results_and_records() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    // Nothing listens on port 9: every call fails, and its error is a row.
    let config = r#"{"url":"http://alice:S3cr3tPassw0rd@127.0.0.1:9/fn","headers":{"x-api-key":"HEADERSECRET"}}"#;
    ws.faaset(&["new", "remote", "--platform", "http", "--config", config])
        .ok();
    let run = ws.faaset(&[
        "experiment",
        "remote",
        "--calls",
        "2",
        "--experiment-name",
        "leak",
    ]);
    // A local function's env values (API keys for the function) stay out of its run record.
    ws.faaset(&[
        "deploy",
        "hello_world",
        "--config",
        r#"{"env":{"API_KEY":"sk-live-DEADBEEF"}}"#,
    ])
    .ok();
    let local = ws.faaset(&[
        "experiment",
        "hello_world",
        "--calls",
        "1",
        "--experiment-name",
        "leak",
    ]);
    let printed = format!(
        "{}{}{}{}",
        run.stdout(),
        run.stderr(),
        local.stdout(),
        local.stderr()
    );
    let files = all_text(&ws.file("functions/remote/experiments"))
        + &all_text(&ws.file("functions/hello_world/experiments"));
    assert!(
        files.contains("API_KEY"),
        "the record still names the variable: {files}"
    );
    assert!(
        files.contains("request to http://alice:***@127.0.0.1:9/fn failed"),
        "{files}"
    );
    for secret in ["S3cr3tPassw0rd", "sk-live-DEADBEEF", "HEADERSECRET"] {
        assert!(!printed.contains(secret), "{secret} printed: {printed}");
        assert!(
            !files.contains(secret),
            "{secret} in results or the run record"
        );
    }
}

#[test]
fn payloads_too_large_for_a_command_line_come_from_a_file_or_stdin() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    let name = "x".repeat(1_000_000);
    let payload = serde_json::json!({ "name": name }).to_string();
    std::fs::write(ws.file("big.json"), &payload).unwrap();
    let from_file = ws
        .faaset(&["invoke", "hello_world", "@big.json"])
        .ok()
        .json();
    assert_eq!(from_file["message"].as_str().unwrap().len(), name.len() + 7);

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_faaset"))
        .args(["invoke", "hello_world", "-"])
        .current_dir(ws.path())
        .env("FAASET_BIN", env!("CARGO_BIN_EXE_faaset"))
        .env_remove("FAASET_WORKSPACE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(payload.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["message"], from_file["message"]);

    std::fs::write(ws.file("payloads.json"), format!("[{payload}]")).unwrap();
    ws.faaset(&[
        "experiment",
        "hello_world",
        "--calls",
        "2",
        "--payloads",
        "@payloads.json",
        "--experiment-name",
        "big",
    ])
    .ok();
    ws.faaset(&["invoke", "hello_world", "@missing.json"])
        .user_error("missing.json");
    ws.faaset(&["local", "stop"]).ok();
}

/// A customised `run.sh` gets the payload on stdin (where the template reads it, off every
/// command line) and as `$2` as in Python FaaSET, which is `-` when the payload is too long
/// for a command line. The template's own curl call carries neither token nor payload.
#[test]
fn a_run_script_reads_the_payload_from_stdin_and_sees_it_as_its_second_argument() {
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["deploy", "hello_world"]).ok();
    let run = ws.file("functions/hello_world/local/run.sh");
    let template = std::fs::read_to_string(&run).unwrap();
    assert!(template.contains("--data-binary @-"), "{template}");
    // Tags the answer with the length of `$2`.
    let script = template.replace(
        "\"http://$address/2015-03-31/functions/$fn/invocations\"",
        "\"http://$address/2015-03-31/functions/$fn/invocations\" | sed \"s/^{/{\\\"argument\\\":${#2},/\"",
    );
    std::fs::write(&run, script).unwrap();

    let small = r#"{"name":"Sam"}"#;
    let answer = ws.faaset(&["invoke", "hello_world", small]).ok().json();
    assert_eq!(answer["message"], "Hello Sam!");
    assert_eq!(answer["argument"], small.len(), "{answer}");

    let name = "é".repeat(300_000);
    std::fs::write(
        ws.file("big.json"),
        serde_json::json!({ "name": name }).to_string(),
    )
    .unwrap();
    let answer = ws
        .faaset(&["invoke", "hello_world", "@big.json"])
        .ok()
        .json();
    assert_eq!(answer["message"], format!("Hello {name}!"));
    assert_eq!(answer["argument"], 1, "$2 is `-`: {}", answer["argument"]);
    ws.faaset(&["local", "stop"]).ok();
}

/// Every file that holds payloads or responses is readable by its owner only, even a log an
/// earlier release created world-readable.
#[test]
fn files_with_payloads_and_answers_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let ws = TempWorkspace::with_functions(&["hello_world"]);
    ws.faaset(&["invoke", "hello_world", r#"{"name":"secret"}"#])
        .ok();
    let log = ws.file("functions/hello_world/local/logs/function.log");
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    // A new configuration is a new environment, which reopens the log.
    ws.faaset(&["reconfigure", "hello_world", r#"{"memory": 256}"#])
        .ok();
    ws.faaset(&[
        "experiment",
        "hello_world",
        "--payloads",
        r#"[{"name":"secret"}]"#,
        "--experiment-name",
        "private",
    ])
    .ok();
    let experiment = ws.file("functions/hello_world/experiments/private");
    for file in [
        log,
        experiment.join("results.csv"),
        experiment.join("experiment.json"),
    ] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
    }
}

/// D2, as a second local user would try it: while a customised `run.sh` calls the engine,
/// no process's command line (readable by every user) holds the engine token, and (as root,
/// through `setpriv`) user `nobody` cannot read curl's environment either.
#[test]
fn a_second_user_finds_no_engine_token_while_a_run_script_calls() {
    let ws = TempWorkspace::with_functions(&["sleeper"]);
    ws.faaset(&["deploy", "sleeper"]).ok();
    let run = ws.file("functions/sleeper/local/run.sh");
    let script = std::fs::read_to_string(&run).unwrap() + "# customised: faaset runs this file\n";
    std::fs::write(&run, script).unwrap();
    ws.faaset(&["invoke", "sleeper", r#"{"ms": 1}"#]).ok();
    let info = std::fs::read_to_string(ws.file(".faaset/local/engine.json")).unwrap();
    let token = serde_json::from_str::<serde_json::Value>(&info).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let curl = std::thread::scope(|scope| {
        let call = scope.spawn(|| ws.faaset(&["invoke", "sleeper", r#"{"ms": 1500}"#]).ok());
        let started = std::time::Instant::now();
        let mut curl = None;
        while curl.is_none() && started.elapsed() < std::time::Duration::from_secs(10) {
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                    continue;
                };
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                assert!(
                    !cmdline.contains(&token),
                    "the token is on a command line: {cmdline}"
                );
                if cmdline.starts_with("curl ") && cmdline.contains("/functions/sleeper/") {
                    curl = entry.file_name().to_str().map(String::from);
                }
            }
        }
        let curl = curl.expect("run.sh's curl was seen");
        let environ = format!("/proc/{curl}/environ");
        assert_ne!(
            another_user_can_read(&environ),
            Some(true),
            "uid 65534 read curl's environment"
        );
        call.join().unwrap();
        curl
    });
    assert!(!curl.is_empty());
}
